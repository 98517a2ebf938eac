//! Period labels: `2025` (a year), `2025-Q3` (a quarter), `2025-07` (a month).
//!
//! A period is a closed range of calendar days. Its label names the output folder and
//! fills the `period` column of every output table.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Year(i32),
    Quarter(i32, u32),
    Month(i32, u32),
}

impl Period {
    /// The first day of the period.
    pub fn start(&self) -> NaiveDate {
        let (y, m) = match *self {
            Period::Year(y) => (y, 1),
            Period::Quarter(y, q) => (y, 3 * (q - 1) + 1),
            Period::Month(y, m) => (y, m),
        };
        NaiveDate::from_ymd_opt(y, m, 1).expect("validated at parse")
    }

    /// The last day of the period (inclusive).
    pub fn end(&self) -> NaiveDate {
        let (y, m) = match *self {
            Period::Year(y) => (y, 12),
            Period::Quarter(y, q) => (y, 3 * q),
            Period::Month(y, m) => (y, m),
        };
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        NaiveDate::from_ymd_opt(ny, nm, 1)
            .and_then(|d| d.pred_opt())
            .expect("validated at parse")
    }

    /// The calendar year the period falls in (for the population denominator).
    pub fn year(&self) -> i32 {
        match *self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => y,
        }
    }

    /// Number of days in the period.
    pub fn days(&self) -> i64 {
        (self.end() - self.start()).num_days() + 1
    }

    /// Number of days in the period's calendar year (365 or 366).
    pub fn days_in_year(&self) -> i64 {
        Period::Year(self.year()).days()
    }

    /// Days of the period on or before `as_of` (0 when the period starts after it).
    pub fn covered_days(&self, as_of: NaiveDate) -> i64 {
        if as_of < self.start() {
            0
        } else if as_of >= self.end() {
            self.days()
        } else {
            (as_of - self.start()).num_days() + 1
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Year(y) => write!(f, "{y:04}"),
            Period::Quarter(y, q) => write!(f, "{y:04}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y:04}-{m:02}"),
        }
    }
}

/// Why a period label was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected a period like `2025`, `2025-Q3` or `2025-07`, found `{}`",
            self.0
        )
    }
}

impl std::error::Error for PeriodError {}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PeriodError(s.to_string());
        let year = |y: &str| -> Result<i32, PeriodError> {
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) {
                let v: i32 = y.parse().map_err(|_| err())?;
                if (1900..=2200).contains(&v) {
                    return Ok(v);
                }
            }
            Err(err())
        };
        match s.split_once('-') {
            None => Ok(Period::Year(year(s)?)),
            Some((y, rest)) => {
                let y = year(y)?;
                if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
                    match q {
                        "1" | "2" | "3" | "4" => {
                            Ok(Period::Quarter(y, q.parse().map_err(|_| err())?))
                        }
                        _ => Err(err()),
                    }
                } else if rest.len() == 2 && rest.bytes().all(|b| b.is_ascii_digit()) {
                    let m: u32 = rest.parse().map_err(|_| err())?;
                    if (1..=12).contains(&m) {
                        Ok(Period::Month(y, m))
                    } else {
                        Err(err())
                    }
                } else {
                    Err(err())
                }
            }
        }
    }
}

/// Days since the Unix epoch, the physical value of a polars `Date`.
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32
}

/// The inverse of [`epoch_days`].
pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid") + chrono::Duration::days(days as i64)
}

/// `true` for a leap year (used by tests of the annualisation).
pub fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some_and(|d| d.month() == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_and_prints_each_form() {
        for s in ["2025", "2025-Q3", "2025-07", "2024-12"] {
            assert_eq!(s.parse::<Period>().unwrap().to_string(), s);
        }
        assert_eq!("2025-q1".parse::<Period>().unwrap().to_string(), "2025-Q1");
    }

    #[test]
    fn refuses_bad_labels() {
        for s in [
            "", "25", "2025-Q5", "2025-13", "2025-7", "2025/07", "20250", "2025-", "abcd",
        ] {
            assert!(s.parse::<Period>().is_err(), "{s} should be refused");
        }
        assert_eq!(
            "2025-13".parse::<Period>().unwrap_err().to_string(),
            "expected a period like `2025`, `2025-Q3` or `2025-07`, found `2025-13`"
        );
    }

    #[test]
    fn bounds_and_days() {
        let q3: Period = "2025-Q3".parse().unwrap();
        assert_eq!(
            (q3.start(), q3.end(), q3.days()),
            (d(2025, 7, 1), d(2025, 9, 30), 92)
        );
        let feb: Period = "2024-02".parse().unwrap();
        assert_eq!((feb.end(), feb.days()), (d(2024, 2, 29), 29));
        let y: Period = "2024".parse().unwrap();
        assert_eq!((y.days(), y.days_in_year()), (366, 366));
        let dec: Period = "2025-12".parse().unwrap();
        assert_eq!(dec.end(), d(2025, 12, 31));
        assert!(is_leap(2024) && !is_leap(2025));
    }

    #[test]
    fn covered_days_clamps_to_the_period() {
        let q1: Period = "2025-Q1".parse().unwrap();
        assert_eq!(q1.covered_days(d(2024, 12, 31)), 0);
        assert_eq!(q1.covered_days(d(2025, 1, 1)), 1);
        assert_eq!(q1.covered_days(d(2025, 2, 14)), 45);
        assert_eq!(q1.covered_days(d(2025, 3, 31)), 90);
        assert_eq!(q1.covered_days(d(2026, 1, 1)), 90);
    }

    #[test]
    fn epoch_days_round_trip() {
        assert_eq!(epoch_days(d(1970, 1, 2)), 1);
        assert_eq!(from_epoch_days(epoch_days(d(2025, 7, 1))), d(2025, 7, 1));
    }
}
