//! FAERS DEMO rows → one report version each, with its onset for REAC.
//!
//! Convert stage, FAERS. Reads DEMO `primaryid` (`isr`), `caseid` (`case`),
//! `caseversion`, `fda_dt`, `init_fda_dt`, `sex` (`gndr_cod`), `age`, `age_cod`,
//! `rept_cod` and `event_dt`; writes `reports` rows through the [`Builder`] and each
//! report's onset into `Demo`. Dates are days since the epoch ([`parse_yyyymmdd`],
//! shared with E2B); ages are in years.
//!
//! Invariants: a row is rejected only for its key (an empty or repeated primaryid, an
//! empty caseid, no readable receipt date, or one outside the plausible range of
//! [`crate::plausible`]: the reject names `fda_dt` or `init_fda_dt`, whichever was read;
//! an `event_dt` outside that range is nulled), and its primaryid is then remembered in
//! `Demo::rejected`; a bad optional value is nulled with a `cell nulled` line; an age
//! is at most `MAX_AGE_YEARS`; an unreadable caseversion is settled by
//! [`Builder::settle_versions`].

use polars::prelude::PlHashMap as HashMap;
use std::path::Path;

use chrono::NaiveDate;

use super::{Demo, PRIMARYID};
use crate::convert::dollar::DollarFile;
use crate::convert::model::{Builder, Report};
use crate::convert::Options;
use crate::error::Result;
use crate::period::{epoch_days, from_epoch_days};

pub(super) fn read_demo(
    path: &Path,
    region: &str,
    opts: &Options,
    has_outc: bool,
    b: &mut Builder,
    demo: &mut Demo,
) -> Result<()> {
    let mut f = DollarFile::open(b, path, "demo")?;
    let c_id = f.require(PRIMARYID)?;
    let c_case = f.require(&["caseid", "case"])?;
    let c_version = f.column(&["caseversion"]);
    let c_fda = f.require(&["fda_dt"])?;
    let c_init = f.column(&["init_fda_dt"]);
    let c_sex = f.column(&["sex", "gndr_cod"]);
    let c_age = f.column(&["age"]);
    let c_age_cod = f.column(&["age_cod"]);
    let c_rept = f.column(&["rept_cod"]);
    let c_event = f.column(&["event_dt"]);
    let mut first_line: HashMap<String, (u32, u64)> = HashMap::default();
    // Without the quarter's OUTC file (allowed missing), seriousness is unknown, not false.
    let outcome = has_outc.then_some(false);
    let plausible = opts.plausible();

    while f.next_row(b)? {
        let (file, line) = (f.file, f.line);
        let id = f.text(c_id).into_owned();
        if id.is_empty() {
            b.reject(file, line, PRIMARYID[0], "", "a non-empty primaryid");
            continue;
        }
        if let Some(&(ff, fl)) = first_line.get(&id) {
            let expected = format!(
                "a unique primaryid (first seen on line {fl} of {})",
                b.path(ff)
            );
            b.reject(file, line, PRIMARYID[0], id, expected);
            continue;
        }
        // The key: caseid and the receipt date. Anything else is optional.
        let case_id = f.text(c_case);
        if case_id.is_empty() {
            b.reject(file, line, "caseid", "", "a non-empty caseid");
            demo.rejected.insert(id);
            continue;
        }
        let fda = f.text(c_fda);
        let (column, date) = if fda.is_empty() {
            ("init_fda_dt", f.get(c_init))
        } else {
            ("fda_dt", fda)
        };
        let Some(received) = parse_yyyymmdd(&date) else {
            let expected = "a date YYYYMMDD (fda_dt, else init_fda_dt)";
            b.reject(file, line, "fda_dt", date.into_owned(), expected);
            demo.rejected.insert(id);
            continue;
        };
        if !plausible.contains(from_epoch_days(received)) {
            let expected = format!("{} (the receipt date)", plausible.expected());
            b.reject(file, line, column, date.into_owned(), expected);
            demo.rejected.insert(id);
            continue;
        }
        // Bad optional values are nulled once the row is known to be kept.
        let mut nulled: Vec<(&'static str, String, String)> = Vec::new();
        let version_text = f.get(c_version);
        let version = match version_text.parse::<i64>() {
            _ if version_text.is_empty() => None,
            Ok(v) if v >= 1 => Some(v),
            _ => None,
        };
        let bad_version =
            (version.is_none() && !version_text.is_empty()).then(|| version_text.into_owned());
        let sex_text = f.get(c_sex);
        let sex = match sex_text.to_ascii_uppercase().as_str() {
            "" => None,
            "M" => Some("M"),
            "F" => Some("F"),
            "UNK" | "NS" | "U" => Some("U"),
            _ => {
                let expected = "one of `M`, `F`, `UNK`, `NS`";
                nulled.push(("sex", sex_text.into_owned(), expected.into()));
                None
            }
        };
        let age_years = match age_in_years(&f.get(c_age), &f.get(c_age_cod)) {
            Ok(a) => a,
            Err(cell) => {
                nulled.push(cell);
                None
            }
        };
        let rept_text = f.get(c_rept);
        let reporter_type = match rept_text.to_ascii_uppercase().as_str() {
            "" => None,
            "EXP" | "PER" | "5DAY" | "30DAY" => Some("mah"),
            "DIR" => Some("individual"),
            _ => {
                let expected = "one of `EXP`, `PER`, `5DAY`, `30DAY`, `DIR`";
                nulled.push(("rept_cod", rept_text.into_owned(), expected.into()));
                None
            }
        };
        let event_text = f.get(c_event);
        let mut onset = parse_yyyymmdd(&event_text);
        if onset.is_none() && !is_partial_date(&event_text) {
            let expected = "a date YYYYMMDD (or a partial date YYYY or YYYYMM, read as unknown)";
            nulled.push(("event_dt", event_text.into_owned(), expected.into()));
        } else if onset.is_some_and(|d| !plausible.contains(from_epoch_days(d))) {
            onset = None;
            nulled.push(("event_dt", event_text.into_owned(), plausible.expected()));
        }
        let report = Report {
            report_id: id.clone(),
            case_id: case_id.into_owned(),
            version,
            received,
            class: opts.class,
            region: region.to_string(),
            reporter_type,
            sentinel: None,
            is_new: None,
            is_serious: outcome,
            fatal: outcome,
            sex,
            age_years,
        };
        let r = b.add_report(report);
        demo.onset.push(onset);
        b.accept_row(file, r, line);
        for (column, found, expected) in nulled {
            b.null_cell(file, line, column, found, expected);
        }
        if let Some(found) = bad_version {
            b.null_version(r, file, line, "caseversion", found, "an integer >= 1");
        }
        first_line.insert(id, (file, line));
    }
    if c_id == 0 {
        demo.rejected.extend(std::mem::take(&mut f.short_row_keys));
    }
    Ok(())
}

/// `YYYYMMDD` → days since the epoch.
pub fn parse_yyyymmdd(s: &str) -> Option<i32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let d = NaiveDate::from_ymd_opt(n(0..4)? as i32, n(4..6)?, n(6..8)?)?;
    Some(epoch_days(d))
}

/// Years per unit of FAERS `age_cod`.
fn years_per(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_uppercase().as_str() {
        "DEC" => 10.0,
        "YR" | "YRS" => 1.0,
        "MON" => 1.0 / 12.0,
        "WK" => 7.0 / 365.25,
        "DY" => 1.0 / 365.25,
        "HR" => 1.0 / (24.0 * 365.25),
        _ => return None,
    })
}

/// Whether a FAERS date is empty or partial (`YYYY`, `YYYYMM`): unknown, not bad.
fn is_partial_date(s: &str) -> bool {
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    s.is_empty() || (digits && (s.len() == 4 || s.len() == 6))
}

/// The upper bound of a plausible age.
const MAX_AGE_YEARS: f64 = 150.0;

/// FAERS `age` × `age_cod` in years: `Ok(None)` when there is no age, `Err` with the cell
/// to null (column, found, expected) when the age cannot be read or is not plausible for
/// its unit (a year of birth typed as an age: `1974 YR`).
fn age_in_years(
    age: &str,
    unit: &str,
) -> std::result::Result<Option<f64>, (&'static str, String, String)> {
    if age.is_empty() {
        return Ok(None);
    }
    let units = "one of `DEC`, `YR`, `MON`, `WK`, `DY`, `HR`";
    if unit.is_empty() {
        let expected = format!("an age unit ({units}) for the age `{age}`");
        return Err(("age_cod", String::new(), expected));
    }
    let Some(k) = years_per(unit) else {
        return Err(("age_cod", unit.to_string(), units.to_string()));
    };
    let found = format!("{age} {unit}");
    let Some(a) = age.parse::<f64>().ok().filter(|a| a.is_finite()) else {
        return Err(("age", found, "a number".to_string()));
    };
    let years = a * k;
    if years < 0.0 {
        return Err(("age", found, "an age >= 0".to_string()));
    }
    if years > MAX_AGE_YEARS {
        let hint = if k == 1.0 && (1850.0..=2100.0).contains(&a) {
            " (a year of birth typed as an age?)"
        } else {
            ""
        };
        let expected = format!("an age of at most {MAX_AGE_YEARS} years{hint}");
        return Err(("age", found, expected));
    }
    Ok(Some(years))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_years() {
        assert_eq!(years_per("DEC"), Some(10.0));
        assert_eq!(years_per("yr"), Some(1.0));
        assert!((years_per("MON").unwrap() * 6.0 - 0.5).abs() < 1e-12);
        assert_eq!(years_per("MIN"), None);
    }

    #[test]
    fn implausible_ages_are_nulled_with_a_note() {
        assert_eq!(age_in_years("45", "YR"), Ok(Some(45.0)));
        assert_eq!(age_in_years("3", "DEC"), Ok(Some(30.0)));
        assert_eq!(age_in_years("", "YR"), Ok(None));
        assert_eq!(age_in_years("150", "YR"), Ok(Some(150.0)));
        let birth_year = age_in_years("1974", "YR").unwrap_err();
        assert_eq!(
            birth_year,
            (
                "age",
                "1974 YR".to_string(),
                "an age of at most 150 years (a year of birth typed as an age?)".to_string()
            )
        );
        assert_eq!(
            age_in_years("16", "DEC").unwrap_err().2,
            "an age of at most 150 years"
        );
        assert_eq!(age_in_years("-4", "YR").unwrap_err().2, "an age >= 0");
        assert_eq!(age_in_years("old", "YR").unwrap_err().0, "age");
        assert_eq!(age_in_years("4", "MIN").unwrap_err().0, "age_cod");
        assert_eq!(age_in_years("4", "").unwrap_err().0, "age_cod");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_yyyymmdd("19700102"), Some(1));
        assert_eq!(parse_yyyymmdd("20240230"), None);
        assert_eq!(parse_yyyymmdd("202402"), None);
    }
}
