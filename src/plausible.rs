//! Plausible report dates: the one rule every reader (ingest tables, FAERS, E2B, flat
//! sources) applies, so that one typo (`9999-12-31`, `0000-01-01`) cannot move the data
//! cut-off or the period a case counts in.
//!
//! A date is plausible from [`EARLIEST`] (1968-01-01, the year the WHO Programme for
//! International Drug Monitoring began collecting reports: no spontaneous report in any
//! database of this kind is older) up to and including the run's "today". A received date
//! outside that range rejects its row (it is the key date); an onset date outside it is
//! nulled. "Today" is the run's clock as a date in China Standard Time (UTC+8), or a date
//! the pipeline pins (`ingest.today`; `pvwatch convert --today`) so that tests and reruns
//! of an old period are deterministic.

use chrono::{Duration, NaiveDate, Utc};

/// The earliest plausible report date.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1968, 1, 1) {
    Some(d) => d,
    None => panic!("1968-01-01 is a date"),
};

/// Hours east of UTC of the reporting centres' clock (China Standard Time).
pub const CHINA_UTC_OFFSET_HOURS: i64 = 8;

/// Today's date on the run's clock, in China Standard Time.
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(CHINA_UTC_OFFSET_HOURS)).date_naive()
}

/// The range a plausible date falls in, from [`EARLIEST`] to `today`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plausible {
    pub today: NaiveDate,
}

impl Plausible {
    /// Dates up to `today` (normally [`today()`], or the date a pipeline pins).
    pub fn until(today: NaiveDate) -> Plausible {
        Plausible { today }
    }

    /// Whether `date` is plausible.
    pub fn contains(&self, date: NaiveDate) -> bool {
        date >= EARLIEST && date <= self.today
    }

    /// What a reject or note says was expected, e.g. `a date from 1968-01-01 to 2026-12-07`.
    pub fn expected(&self) -> String {
        format!("a date from {EARLIEST} to {} (today)", self.today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a date")
    }

    #[test]
    fn edges_are_included_and_typos_are_not() {
        let p = Plausible::until(d(2026, 12, 7));
        assert!(p.contains(d(1968, 1, 1)));
        assert!(p.contains(d(2026, 12, 7)));
        assert!(!p.contains(d(1967, 12, 31)));
        assert!(!p.contains(d(2026, 12, 8)));
        assert!(!p.contains(d(9999, 12, 31)));
        assert!(!p.contains(NaiveDate::from_ymd_opt(0, 1, 1).expect("year 0 is a chrono date")));
        assert_eq!(p.expected(), "a date from 1968-01-01 to 2026-12-07 (today)");
    }

    #[test]
    fn today_is_a_plausible_date() {
        assert!(Plausible::until(today()).contains(today()));
    }
}
