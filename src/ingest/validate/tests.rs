//! Cell checks: text and typed columns, numbers of every type, plausible dates, timestamps.

use super::*;
use crate::period::epoch_days;
use crate::plausible::Plausible;
use crate::schema::{col, REPORTS, REPORT_EVENTS};
use chrono::{FixedOffset, NaiveDate};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("a date")
}

/// Today pinned to 2026-12-07, timestamps read in UTC+8.
fn rules() -> DateRules {
    DateRules {
        plausible: Plausible::until(d(2026, 12, 7)),
        timezone: FixedOffset::east_opt(8 * 3600).expect("an offset"),
    }
}

fn text_frame(cols: &[(&str, &[Option<&str>])]) -> DataFrame {
    let columns = cols
        .iter()
        .map(|(n, v)| Column::new(PlSmallStr::from(*n), v.to_vec()))
        .collect();
    DataFrame::new_infer_height(columns).unwrap()
}

#[test]
fn one_problem_per_bad_cell_with_found_and_expected() {
    let df = text_frame(&[
        (col::REPORT_ID, &[Some("R1"), Some("R2"), None]),
        (
            col::RECEIVED_DATE,
            &[Some("2025-01-02"), Some("2025-13-01"), Some("2025-02-03")],
        ),
        (col::CLASS, &[Some("Drug"), Some("vaccine"), Some("device")]),
        (
            col::REGION,
            &[Some("330100"), Some("33010"), Some("310115")],
        ),
        (col::SENTINEL, &[Some("是"), Some("maybe"), None]),
        (col::AGE_YEARS, &[Some("0.5"), Some("-4"), Some(" 40 ")]),
    ]);
    let (cols, problems) = type_columns(&REPORTS, &df, &rules(), &|| "t".into()).unwrap();
    let got: Vec<(usize, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column, p.found.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, col::REPORT_ID, ""),
            (1, col::RECEIVED_DATE, "2025-13-01"),
            (1, col::CLASS, "vaccine"),
            (1, col::REGION, "33010"),
            (1, col::SENTINEL, "maybe"),
            (1, col::AGE_YEARS, "-4"),
        ]
    );
    assert_eq!(problems[2].expected, "one of `drug`, `device`, `cosmetic`");
    let class = cols.iter().find(|c| c.name() == col::CLASS).unwrap();
    assert_eq!(
        class.str().unwrap().get(0),
        Some("drug"),
        "enum values are normalised"
    );
    let age = cols.iter().find(|c| c.name() == col::AGE_YEARS).unwrap();
    assert_eq!(age.f64().unwrap().get(2), Some(40.0), "values are trimmed");
    let date = cols
        .iter()
        .find(|c| c.name() == col::RECEIVED_DATE)
        .unwrap();
    assert_eq!(date.dtype(), &DataType::Date);
}

#[test]
fn clean_text_columns_are_kept_and_unclean_ones_parsed() {
    let spec = |name| REPORTS.column(name).unwrap();
    let ca = |v: &[Option<&str>]| StringChunked::from_iter_options("x".into(), v.iter().copied());
    assert!(already_clean(
        spec(col::REPORT_ID),
        &ca(&[Some("R1"), Some("R2")])
    ));
    assert!(
        !already_clean(spec(col::REPORT_ID), &ca(&[Some("R1"), None])),
        "required and missing"
    );
    assert!(
        !already_clean(spec(col::REPORT_ID), &ca(&[Some(" R1")])),
        "needs trimming"
    );
    assert!(
        already_clean(spec(col::CASE_ID), &ca(&[Some("C1"), None])),
        "optional may be missing"
    );
    assert!(already_clean(
        spec(col::CLASS),
        &ca(&[Some("drug"), Some("device"), Some("drug")])
    ));
    assert!(
        !already_clean(spec(col::CLASS), &ca(&[Some("Drug")])),
        "not the canonical spelling"
    );
    assert!(!already_clean(spec(col::CLASS), &ca(&[Some("vaccine")])));
    assert!(already_clean(spec(col::REGION), &ca(&[Some("330100")])));
    assert!(!already_clean(spec(col::REGION), &ca(&[Some("33010")])));
    assert!(
        !already_clean(spec(col::AGE_YEARS), &ca(&[Some("4")])),
        "numbers are parsed"
    );
    // Either way, the typed result is the same as the slow path's.
    let df = text_frame(&[(col::CLASS, &[Some("drug"), Some(" Device ")])]);
    let (cols, problems) = type_columns(&REPORTS, &df, &rules(), &|| "t".into()).unwrap();
    assert!(problems.is_empty());
    let class: Vec<Option<&str>> = cols[0].str().unwrap().iter().collect();
    assert_eq!(class, vec![Some("drug"), Some("device")]);
}

#[test]
fn typed_parquet_columns_are_range_checked() {
    let df = DataFrame::new_infer_height(vec![
        Column::new(col::REPORT_ID.into(), ["R1", "R2"]),
        Column::new(col::VERSION.into(), [1i32, 0]),
        Column::new(col::AGE_YEARS.into(), [f64::INFINITY, f64::NAN]),
    ])
    .unwrap();
    let (cols, problems) = type_columns(&REPORTS, &df, &rules(), &|| "t".into()).unwrap();
    let got: Vec<(usize, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column, p.found.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1, col::VERSION, "0"), (0, col::AGE_YEARS, "inf")]
    );
    assert_eq!(problems[0].expected, "an integer >= 1");
    // NaN is a missing value (pandas' null), as an empty cell is: null, no problem.
    let age = cols.iter().find(|c| c.name() == col::AGE_YEARS).unwrap();
    assert_eq!(age.f64().unwrap().get(1), None);
}

/// The text rules, applied to Parquet's numeric types: a uint64 above i64::MAX is out
/// of range (not wrapped, not nulled silently), a whole float is an integer, a
/// fractional one is found as it reads, NaN is missing.
#[test]
fn versions_of_any_numeric_type_follow_the_text_rules() {
    let versions = |c: Column| {
        let df = DataFrame::new_infer_height(vec![
            Column::new(col::REPORT_ID.into(), ["R1", "R2", "R3"]),
            c,
        ])
        .unwrap();
        let (cols, problems) = type_columns(&REPORTS, &df, &rules(), &|| "t".into()).unwrap();
        let v = cols.iter().find(|c| c.name() == col::VERSION).unwrap();
        let values: Vec<Option<i64>> = v.i64().unwrap().iter().collect();
        let found: Vec<(usize, String, String)> = problems
            .into_iter()
            .filter(|p| p.column == col::VERSION)
            .map(|p| (p.row, p.found, p.expected))
            .collect();
        (values, found)
    };
    let big = (1u64 << 63) + 1;
    let (v, found) = versions(Column::new(col::VERSION.into(), [big, 2, 1]));
    assert_eq!(v, vec![None, Some(2), Some(1)]);
    assert_eq!(
        found,
        vec![(0, big.to_string(), "an integer >= 1".to_string())]
    );
    let (v, found) = versions(Column::new(col::VERSION.into(), [2u64, 3, 1]));
    assert_eq!((v, found.len()), (vec![Some(2), Some(3), Some(1)], 0));

    let (v, found) = versions(Column::new(
        col::VERSION.into(),
        [Some(f64::NAN), Some(2.0), Some(1.5)],
    ));
    assert_eq!(v, vec![None, Some(2), None]);
    assert_eq!(
        found,
        vec![(2, "1.5".to_string(), "an integer >= 1".to_string())]
    );
    let (_, found) = versions(Column::new(col::VERSION.into(), [-1.0f64, 1e19, 0.0]));
    let rows: Vec<(usize, &str)> = found.iter().map(|(r, f, _)| (*r, f.as_str())).collect();
    assert_eq!(rows, vec![(0, "-1"), (1, "10000000000000000000"), (2, "0")]);

    // Text: whole numbers with a decimal point read as integers, as floats do.
    let (v, found) = versions(Column::new(col::VERSION.into(), ["2.0", "1.5", "3"]));
    assert_eq!(v, vec![Some(2), None, Some(3)]);
    assert_eq!(
        found,
        vec![(1, "1.5".to_string(), "an integer >= 1".to_string())]
    );
    assert_eq!(parse_int("2.00"), Some(2));
    assert_eq!(parse_int("2."), None);
    assert_eq!(parse_int("1e3"), None);
}

/// Dates outside 1968-01-01..today are problems naming what was expected; a required
/// date's problem rejects the row (the caller's rule), an optional one is nulled.
#[test]
fn implausible_dates_are_problems() {
    let df = text_frame(&[
        (
            col::REPORT_ID,
            &[Some("R1"), Some("R2"), Some("R3"), Some("R4")],
        ),
        (
            col::RECEIVED_DATE,
            &[
                Some("9999-12-31"),
                Some("0000-01-01"),
                Some("2026-12-07"),
                Some("1968-01-01"),
            ],
        ),
    ]);
    let (cols, problems) = type_columns(&REPORTS, &df, &rules(), &|| "t".into()).unwrap();
    let got: Vec<(usize, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.found.as_str(), p.expected.as_str()))
        .collect();
    let expected = "a date from 1968-01-01 to 2026-12-07 (today)";
    assert_eq!(
        got,
        vec![(0, "9999-12-31", expected), (1, "0000-01-01", expected)]
    );
    let date = cols
        .iter()
        .find(|c| c.name() == col::RECEIVED_DATE)
        .unwrap();
    let days: Vec<Option<i32>> = date
        .as_materialized_series()
        .to_physical_repr()
        .i32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        days,
        vec![
            None,
            None,
            Some(epoch_days(d(2026, 12, 7))),
            Some(epoch_days(d(1968, 1, 1)))
        ]
    );

    // Typed dates too, and an optional date (onset) is a problem the caller nulls.
    let onset = Column::new(
        col::ONSET_DATE.into(),
        [epoch_days(d(2026, 12, 8)), epoch_days(d(1967, 12, 31))],
    )
    .cast(&DataType::Date)
    .unwrap();
    let df = DataFrame::new_infer_height(vec![
        Column::new(col::REPORT_ID.into(), ["R1", "R2"]),
        Column::new(col::EVENT.into(), ["E", "E"]),
        onset,
    ])
    .unwrap();
    let (_, problems) = type_columns(&REPORT_EVENTS, &df, &rules(), &|| "t".into()).unwrap();
    let got: Vec<(usize, &str, &str)> = problems
        .iter()
        .map(|p| (p.row, p.column, p.found.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, col::ONSET_DATE, "2026-12-08"),
            (1, col::ONSET_DATE, "1967-12-31")
        ]
    );
}

/// A naive timestamp is read as the date it shows; one with a time zone is an instant,
/// read as its date in the pipeline's zone (UTC+8 here, UTC in the second run).
#[test]
fn timestamps_are_read_as_dates_in_the_pipeline_zone() {
    // 2025-01-01T20:00:00Z: 2025-01-02 in UTC+8, 2025-01-01 in UTC.
    let instant_ms = 1_735_761_600_000i64;
    let dates = |unit: TimeUnit, tz: Option<&str>, rules: &DateRules| {
        let per_ms = match unit {
            TimeUnit::Nanoseconds => 1_000_000,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1,
        };
        // (A cast would drop the zone without polars' `timezones` feature.)
        let ts = Int64Chunked::from_slice(col::RECEIVED_DATE.into(), &[instant_ms * per_ms])
            .into_datetime(
                unit,
                tz.map(|z| TimeZone::opt_try_new(Some(z)).unwrap().unwrap()),
            )
            .into_column();
        let df = DataFrame::new_infer_height(vec![Column::new(col::REPORT_ID.into(), ["R1"]), ts])
            .unwrap();
        let (cols, problems) = type_columns(&REPORTS, &df, rules, &|| "t".into()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let c = cols
            .iter()
            .find(|c| c.name() == col::RECEIVED_DATE)
            .unwrap();
        assert_eq!(c.dtype(), &DataType::Date);
        let day = c
            .as_materialized_series()
            .to_physical_repr()
            .i32()
            .unwrap()
            .get(0);
        day.map(|x| crate::period::from_epoch_days(x).to_string())
    };
    let utc = DateRules {
        timezone: FixedOffset::east_opt(0).unwrap(),
        ..rules()
    };
    for unit in [
        TimeUnit::Nanoseconds,
        TimeUnit::Microseconds,
        TimeUnit::Milliseconds,
    ] {
        assert_eq!(dates(unit, None, &rules()).as_deref(), Some("2025-01-01"));
        assert_eq!(
            dates(unit, Some("UTC"), &rules()).as_deref(),
            Some("2025-01-02")
        );
        assert_eq!(
            dates(unit, Some("Asia/Shanghai"), &utc).as_deref(),
            Some("2025-01-01")
        );
    }
}
