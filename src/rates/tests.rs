use super::*;
use crate::config::{default_targets, Rates};
use crate::period::epoch_days;

fn d(s: &str) -> i32 {
    epoch_days(crate::config::parse_date(s).unwrap())
}

/// (region, class, first received, is_new, is_serious, fatal, sentinel, reporter_type)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    bool,
    Option<&'static str>,
);

fn cases(rows: &[Case]) -> DataFrame {
    let dates: Vec<i32> = rows.iter().map(|r| d(r.2)).collect();
    DataFrame::new_infer_height(vec![
        Column::new(
            col::REGION.into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            col::CLASS.into(),
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ),
        Column::new(col::FIRST_RECEIVED.into(), dates)
            .cast(&DataType::Date)
            .unwrap(),
        Column::new(
            col::IS_NEW.into(),
            rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        ),
        Column::new(
            col::IS_SERIOUS.into(),
            rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        ),
        Column::new(
            col::FATAL.into(),
            rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        ),
        Column::new(
            col::SENTINEL.into(),
            rows.iter().map(|r| r.6).collect::<Vec<_>>(),
        ),
        // As ingest stores it: the index into REPORTER_TYPES.
        Column::new(
            col::REPORTER_TYPE.into(),
            rows.iter()
                .map(|r| {
                    r.7.map(|t| {
                        crate::schema::REPORTER_TYPES
                            .iter()
                            .position(|x| *x == t)
                            .expect("a listed reporter type") as u32
                    })
                })
                .collect::<Vec<_>>(),
        ),
    ])
    .unwrap()
}

fn populations() -> DataFrame {
    let rows: &[(&str, i64, i64)] = &[
        ("330000", 2023, 66_270_000),
        ("330000", 2024, 66_700_000),
        ("330100", 2020, 11_936_010),
        ("310000", 2024, 24_802_600),
        ("140000", 2026, 34_000_000),
    ];
    DataFrame::new_infer_height(vec![
        Column::new(
            col::REGION.into(),
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            col::YEAR.into(),
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ),
        Column::new(
            col::POPULATION.into(),
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ),
        Column::new(
            col::NAME.into(),
            rows.iter().map(|_| None::<&str>).collect::<Vec<_>>(),
        )
        .cast(&DataType::String)
        .unwrap(),
    ])
    .unwrap()
}

fn config(levels: Vec<Level>) -> Rates {
    Rates {
        levels,
        regions: None,
        classes: CLASSES.iter().map(|c| c.to_string()).collect(),
        as_of: None,
        targets: default_targets(),
        new_or_serious_share: 0.40,
        serious_share: 0.18,
    }
}

const MI: Option<&str> = Some("medical_institution");

fn sample() -> DataFrame {
    cases(&[
        // Hangzhou (330106 -> city 330100, province 330000), drugs, 2025-Q1.
        ("330106", "drug", "2025-01-05", true, false, false, true, MI),
        ("330106", "drug", "2025-02-10", false, true, false, true, MI),
        (
            "330106",
            "drug",
            "2025-03-31",
            false,
            false,
            false,
            true,
            MI,
        ),
        (
            "330106",
            "drug",
            "2025-03-01",
            true,
            true,
            true,
            false,
            Some("mah"),
        ),
        // Ningbo: no population row at all.
        (
            "330200",
            "drug",
            "2025-01-20",
            false,
            false,
            false,
            false,
            None,
        ),
        (
            "330100",
            "device",
            "2025-02-02",
            false,
            false,
            false,
            false,
            MI,
        ),
        (
            "310115",
            "cosmetic",
            "2025-03-03",
            false,
            false,
            false,
            false,
            Some("individual"),
        ),
        // Outside 2025-Q1: not counted.
        ("330106", "drug", "2024-12-31", true, true, false, true, MI),
        ("330106", "drug", "2025-04-01", true, true, false, true, MI),
        // Shanxi: population only for a later year.
        (
            "140100",
            "drug",
            "2025-01-02",
            false,
            false,
            false,
            false,
            MI,
        ),
    ])
}

fn row(df: &DataFrame, level: &str, region: &str, class: &str) -> usize {
    let l = df.column(col::LEVEL).unwrap().str().unwrap().clone();
    let r = df.column(col::REGION).unwrap().str().unwrap().clone();
    let c = df.column(col::CLASS).unwrap().str().unwrap().clone();
    (0..df.height())
        .find(|&i| l.get(i) == Some(level) && r.get(i) == Some(region) && c.get(i) == Some(class))
        .unwrap_or_else(|| panic!("no row {level} {region} {class}"))
}

fn f(df: &DataFrame, name: &str, i: usize) -> Option<f64> {
    df.column(name).unwrap().f64().unwrap().get(i)
}

fn n(df: &DataFrame, name: &str, i: usize) -> Option<i64> {
    df.column(name).unwrap().i64().unwrap().get(i)
}

fn close(got: Option<f64>, want: f64) {
    let got = got.expect("a value");
    assert!(
        ((got - want) / want).abs() < 1e-12,
        "got {got}, want {want} (relative tolerance 1e-12)"
    );
}

/// Hand-computed: Zhejiang, drug, 2025-Q1 (90 days, 2025 has 365), data complete.
#[test]
fn hand_computed_province_rates() {
    let q1: Period = "2025-Q1".parse().unwrap();
    let cut = crate::config::parse_date("2025-12-31");
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::Province, Level::City]),
        &q1,
        cut,
    )
    .unwrap();
    let i = row(&df, "province", "330000", "drug");
    // 5 cases in Q1 (4 Hangzhou + 1 Ningbo); population 2025 missing -> 2024: 66,700,000.
    assert_eq!(n(&df, col::REPORTS, i), Some(5));
    assert_eq!(n(&df, col::POPULATION_YEAR, i), Some(2024));
    assert_eq!(n(&df, col::COVERED_DAYS, i), Some(90));
    // per_million = 5 / 66.7 = 0.0749625187406297
    close(f(&df, col::PER_MILLION, i), 0.07496251874062969);
    // annualised = 0.0749625… × 365 / 90 = 0.3040146593369982
    close(f(&df, col::ANNUALIZED_PER_MILLION, i), 0.30401465933699817);
    // target 1000 (Zhejiang's drug target) -> attainment 0.000304014659…
    close(f(&df, col::TARGET_PER_MILLION, i), 1000.0);
    close(f(&df, col::ATTAINMENT, i), 0.00030401465933699816);
    // new or serious: rows 1, 2, 4 = 3 of 5; serious: rows 2, 4 = 2 of 5; fatal: 1.
    assert_eq!(n(&df, col::NEW_OR_SERIOUS, i), Some(3));
    close(f(&df, col::NEW_OR_SERIOUS_SHARE, i), 0.6);
    close(f(&df, col::SERIOUS_SHARE, i), 0.4);
    assert_eq!(n(&df, col::FATAL_REPORTS, i), Some(1));
    // sentinel: rows 1-3; new-or-serious 2 of 3 (>= 40%), serious 1 of 3 (>= 18%).
    assert_eq!(n(&df, col::SENTINEL_REPORTS, i), Some(3));
    close(f(&df, col::SENTINEL_NEW_OR_SERIOUS_SHARE, i), 2.0 / 3.0);
    close(f(&df, col::SENTINEL_SERIOUS_SHARE, i), 1.0 / 3.0);
    let met = |c: &str| df.column(c).unwrap().bool().unwrap().get(i);
    assert_eq!(met(col::SENTINEL_NEW_OR_SERIOUS_MET), Some(true));
    assert_eq!(met(col::SENTINEL_SERIOUS_MET), Some(true));
    assert_eq!(met(col::ON_TRACK), Some(false));
    // reporters: 3 medical institutions, 1 MAH, 1 unknown.
    assert_eq!(n(&df, &reporter_column(0), i), Some(3));
    assert_eq!(n(&df, &reporter_column(1), i), Some(1));
    assert_eq!(n(&df, &reporter_column(5), i), Some(1));
    close(f(&df, &reporter_share_column(0), i), 0.6);
    assert_eq!(
        df.column(col::NULL_REASON).unwrap().str().unwrap().get(i),
        None
    );
}

#[test]
fn city_level_falls_back_to_earlier_population_or_reports_a_reason() {
    let q1: Period = "2025-Q1".parse().unwrap();
    let cut = crate::config::parse_date("2025-12-31");
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::City]),
        &q1,
        cut,
    )
    .unwrap();
    // Hangzhou: 4 cases over the 2020 census 11,936,010: 4 / 11.93601 = 0.33512036…/M,
    // × 365/90 = 1.35909924859…, target 1000 inherited from the province.
    let i = row(&df, "city", "330100", "drug");
    assert_eq!(n(&df, col::POPULATION_YEAR, i), Some(2020));
    close(f(&df, col::PER_MILLION, i), 0.3351203626672565);
    close(f(&df, col::ATTAINMENT, i), 0.0013590992485949846);
    // Ningbo has a case but no population: null rate, a reason, no NaN.
    let i = row(&df, "city", "330200", "drug");
    assert_eq!(n(&df, col::REPORTS, i), Some(1));
    assert_eq!(f(&df, col::PER_MILLION, i), None);
    assert_eq!(f(&df, col::ATTAINMENT, i), None);
    let reason = df
        .column(col::NULL_REASON)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .unwrap()
        .to_string();
    assert!(
        reason.contains("no population for region `330200`"),
        "{reason}"
    );
    // Taiyuan's province has only a 2026 population.
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::Province]),
        &q1,
        cut,
    )
    .unwrap();
    let i = row(&df, "province", "140000", "drug");
    let reason = df
        .column(col::NULL_REASON)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .unwrap()
        .to_string();
    assert!(
        reason.contains("no population for region `140000` in 2025 or earlier (earliest: 2026)"),
        "{reason}"
    );
    assert!(
        reason.contains("no target for `drug` in region `140000`"),
        "{reason}"
    );
}

#[test]
fn zero_reports_give_zero_rate_and_null_shares() {
    let q1: Period = "2025-Q1".parse().unwrap();
    let cut = crate::config::parse_date("2025-12-31");
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::Province]),
        &q1,
        cut,
    )
    .unwrap();
    let i = row(&df, "province", "310000", "drug");
    assert_eq!(n(&df, col::REPORTS, i), Some(0));
    close(f(&df, col::TARGET_PER_MILLION, i), 1500.0);
    assert_eq!(f(&df, col::PER_MILLION, i), Some(0.0));
    assert_eq!(f(&df, col::ATTAINMENT, i), Some(0.0));
    assert_eq!(f(&df, col::NEW_OR_SERIOUS_SHARE, i), None);
    // Shanghai cosmetics: 1 / 24.8026 per million, × 365/90, over the 100/M target.
    let i = row(&df, "province", "310000", "cosmetic");
    close(f(&df, col::ATTAINMENT, i), 0.0016351332342397793);
    for c in df.columns() {
        if let Ok(v) = c.f64() {
            assert!(
                v.iter().flatten().all(f64::is_finite),
                "{} has NaN or inf",
                c.name()
            );
        }
    }
}

#[test]
fn an_unfinished_period_is_annualised_by_the_days_it_covers() {
    // Cut-off 2025-02-14: 45 days of Q1 covered; 0.0749625… × 365 / 45 = 0.60802931867…
    let q1: Period = "2025-Q1".parse().unwrap();
    let cut = crate::config::parse_date("2025-02-14");
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::Province]),
        &q1,
        cut,
    )
    .unwrap();
    let i = row(&df, "province", "330000", "drug");
    assert_eq!(n(&df, col::COVERED_DAYS, i), Some(45));
    assert_eq!(
        df.column(col::PERIOD_COMPLETE)
            .unwrap()
            .bool()
            .unwrap()
            .get(i),
        Some(false)
    );
    close(f(&df, col::ANNUALIZED_PER_MILLION, i), 0.6080293186739963);
    // A period entirely after the cut-off has no annualised rate, and says why.
    let q2: Period = "2025-Q2".parse().unwrap();
    let df = compute_rates(
        &sample(),
        &populations(),
        &config(vec![Level::Province]),
        &q2,
        cut,
    )
    .unwrap();
    let i = row(&df, "province", "330000", "drug");
    assert_eq!(f(&df, col::ANNUALIZED_PER_MILLION, i), None);
    let reason = df
        .column(col::NULL_REASON)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .unwrap()
        .to_string();
    assert!(
        reason.contains("the period starts after the data cut-off"),
        "{reason}"
    );
}
