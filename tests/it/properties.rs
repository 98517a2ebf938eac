//! Property: on random report sets (cases with 1–3 versions, some bad required and optional
//! cells, products and events per version, orphan rows, versions received after the
//! period), every table balances (`read = used + superseded + rejected`) with the counts a
//! reader works out by hand: a bad optional value costs no row, and a version received
//! after the period is superseded for the run. The rates table counts each valid case
//! once, in the period of its first valid receipt, and `cases.parquet` holds every case
//! with a valid version received by the period's end (issue 17: no case lost).

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::util::*;

const REGIONS: &[&str] = &["330100", "330200", "310101", "370100", "140100", "350100"];
const CLASSES: &[&str] = &["drug", "device", "cosmetic"];

/// What is wrong with a report row, if anything.
#[derive(Debug, Clone, Copy)]
enum Bad {
    // A key or required value: the row is rejected.
    Date,
    Class,
    Region,
    NoReportId,
    TooFewFields,
    // An optional value: nulled, and the row kept.
    Bool,
    Age,
    BirthYearAge,
    Sex,
    Reporter,
    Fatal,
}

impl Bad {
    fn rejects_row(self) -> bool {
        matches!(
            self,
            Bad::Date | Bad::Class | Bad::Region | Bad::NoReportId | Bad::TooFewFields
        )
    }
}

/// The period of the run, 2025, ends this many days after 2024-01-01: later versions do
/// not exist for the run.
const PERIOD_END: i64 = 730;

#[derive(Debug, Clone)]
struct Version {
    bad: Option<Bad>,
    /// Days after the previous version (ignored for the first).
    gap: i64,
    /// One product row per entry; `true` gives it a bad `role`.
    products: Vec<bool>,
    events: usize,
    serious: bool,
}

#[derive(Debug, Clone)]
struct Case {
    class: usize,
    region: usize,
    /// Days after 2024-01-01 of the first version.
    start: i64,
    versions: Vec<Version>,
    /// Leave `case_id` empty (it defaults to report_id) when the case has one version.
    no_case_id: bool,
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        Just(Bad::Date),
        Just(Bad::Class),
        Just(Bad::Region),
        Just(Bad::Bool),
        Just(Bad::NoReportId),
        Just(Bad::TooFewFields),
        Just(Bad::Age),
        Just(Bad::BirthYearAge),
        Just(Bad::Sex),
        Just(Bad::Reporter),
        Just(Bad::Fatal),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    (
        prop::option::weighted(0.2, bad()),
        1i64..60,
        prop::collection::vec(prop::bool::weighted(0.1), 0..3),
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(bad, gap, products, events, serious)| Version {
            bad,
            gap,
            products,
            events,
            serious,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..CLASSES.len(),
        0..REGIONS.len(),
        0i64..730,
        prop::collection::vec(version(), 1..=3),
        any::<bool>(),
    )
        .prop_map(|(class, region, start, versions, no_case_id)| Case {
            class,
            region,
            start,
            versions,
            no_case_id,
        })
}

/// Cases, the order of the report rows in the file, and a number of orphan child rows.
fn dataset() -> impl Strategy<Value = (Vec<Case>, Vec<usize>, usize)> {
    prop::collection::vec(case(), 1..12).prop_flat_map(|cases| {
        let n: usize = cases.iter().map(|c| c.versions.len()).sum();
        (
            Just(cases),
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            0usize..3,
        )
    })
}

fn date(days_after_2024: i64) -> String {
    let d = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date")
        + chrono::Duration::days(days_after_2024);
    d.format("%Y-%m-%d").to_string()
}

/// A report version with its place in the dataset.
struct Row {
    case: usize,
    version: usize,
    report_id: String,
    date_days: i64,
}

fn check(cases: &[Case], order: &[usize], orphans: usize) -> Result<(), TestCaseError> {
    let fx = Fixture::new();
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 1.0\n");

    // Rows of every version, in case order; written in `order`.
    let mut rows = Vec::new();
    for (ci, c) in cases.iter().enumerate() {
        let mut day = c.start;
        for (vi, v) in c.versions.iter().enumerate() {
            if vi > 0 {
                day += v.gap;
            }
            rows.push(Row {
                case: ci,
                version: vi,
                report_id: format!("R{ci:03}-{}", vi + 1),
                date_days: day,
            });
        }
    }
    let line = |r: &Row| -> String {
        let c = &cases[r.case];
        let v = &c.versions[r.version];
        let id = match v.bad {
            Some(Bad::NoReportId) => String::new(),
            _ => r.report_id.clone(),
        };
        let case_id = if c.no_case_id && c.versions.len() == 1 {
            String::new()
        } else {
            format!("C{:03}", r.case)
        };
        let received = match v.bad {
            Some(Bad::Date) => "2025-02-30".to_string(),
            _ => date(r.date_days),
        };
        let class = match v.bad {
            Some(Bad::Class) => "vaccine",
            _ => CLASSES[c.class],
        };
        let region = match v.bad {
            Some(Bad::Region) => "33010",
            _ => REGIONS[c.region],
        };
        let pick = |bad: Bad, bad_value: &'static str, good: &'static str| match v.bad {
            Some(b) if std::mem::discriminant(&b) == std::mem::discriminant(&bad) => bad_value,
            _ => good,
        };
        let sentinel = pick(Bad::Bool, "maybe", "false");
        let reporter = pick(Bad::Reporter, "hospital", "medical_institution");
        let fatal = pick(Bad::Fatal, "perhaps", "false");
        let sex = pick(Bad::Sex, "X", "F");
        let age = match v.bad {
            Some(Bad::Age) => "-4",
            Some(Bad::BirthYearAge) => "1974",
            _ => "40",
        };
        let full = format!(
            "{id},{case_id},{},{received},{class},{region},{reporter},{sentinel},false,{},{fatal},{sex},{age}",
            r.version + 1,
            v.serious
        );
        match v.bad {
            Some(Bad::TooFewFields) => full.splitn(6, ',').take(5).collect::<Vec<_>>().join(","),
            _ => full,
        }
    };
    let report_lines: Vec<String> = order.iter().map(|&i| line(&rows[i])).collect();
    fx.write(
        "reports.csv",
        &csv(&format!("{REPORTS_HEADER},sex,age_years"), &report_lines),
    );

    // Expected accounting, worked out from the cases.
    let valid = |r: &Row| {
        cases[r.case].versions[r.version]
            .bad
            .is_none_or(|b| !b.rejects_row())
    };
    // The versions that exist for the run: valid, and received by the period's end.
    let in_run = |r: &Row| valid(r) && r.date_days <= PERIOD_END;
    let mut latest: BTreeMap<usize, usize> = BTreeMap::new();
    let mut first: BTreeMap<usize, i64> = BTreeMap::new();
    for r in rows.iter().filter(|r| in_run(r)) {
        let l = latest.entry(r.case).or_insert(r.version);
        *l = (*l).max(r.version);
        let f = first.entry(r.case).or_insert(r.date_days);
        *f = (*f).min(r.date_days);
    }
    let n_valid = rows.iter().filter(|r| valid(r)).count() as u64;
    let reports = Account {
        read: rows.len() as u64,
        used: latest.len() as u64,
        superseded: n_valid - latest.len() as u64,
        rejected: rows.len() as u64 - n_valid,
    };

    let mut products = vec!["report_id,product_id,role".to_string()];
    let mut events = vec!["report_id,event,onset_date".to_string()];
    let zero = Account {
        read: 0,
        used: 0,
        superseded: 0,
        rejected: 0,
    };
    let (mut acc_p, mut acc_e) = (zero, zero);
    let status = |r: &Row, a: &mut Account| {
        a.read += 1;
        if !valid(r) {
            a.rejected += 1;
        } else if in_run(r) && latest[&r.case] == r.version {
            a.used += 1;
        } else {
            a.superseded += 1;
        }
    };
    for r in &rows {
        let v = &cases[r.case].versions[r.version];
        for (k, bad_role) in v.products.iter().enumerate() {
            let role = if *bad_role { "primary" } else { "suspect" };
            products.push(format!("{},D{k:03},{role}", r.report_id));
            // A bad role is an optional value: nulled, and the row kept.
            status(r, &mut acc_p);
        }
        for k in 0..v.events {
            // Every third event has an unreadable onset date: nulled, the row kept.
            let onset = match (k + r.version) % 3 {
                0 => "2025-13-01",
                1 => "",
                _ => "2024-06-01",
            };
            events.push(format!("{},Event {k},{onset}", r.report_id));
            status(r, &mut acc_e);
        }
    }
    for k in 0..orphans {
        products.push(format!("R999-{k},D001,suspect"));
        events.push(format!("R999-{k},Rash,"));
        for a in [&mut acc_p, &mut acc_e] {
            a.read += 1;
            a.rejected += 1;
        }
    }
    fx.write("report_products.csv", &(products.join("\n") + "\n"));
    fx.write("report_events.csv", &(events.join("\n") + "\n"));
    fx.write(
        "populations.csv",
        "region,year,population\n330000,2024,66700000\n310000,2024,24800000\n",
    );

    let r = fx.run_pipeline(&["-q"]);
    prop_assert_eq!(r.code, 0, "stderr: {}", r.stderr);

    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    for t in manifest["inputs"].as_array().expect("inputs") {
        let a = account(&manifest, t["table"].as_str().expect("a name"));
        prop_assert_eq!(a.read, a.used + a.superseded + a.rejected, "{}", t);
    }
    prop_assert_eq!(account(&manifest, "reports"), reports);
    prop_assert_eq!(account(&manifest, "report_products"), acc_p);
    prop_assert_eq!(account(&manifest, "report_events"), acc_e);

    // Cases first received in 2025, by province and class.
    let (start, end) = (days("2025-01-01") as i64, days("2025-12-31") as i64);
    let epoch_2024 = days("2024-01-01") as i64;
    let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (&ci, &f) in &first {
        let d = epoch_2024 + f;
        if d >= start && d <= end {
            let province = format!("{}0000", &REGIONS[cases[ci].region][..2]);
            *expected
                .entry((province, CLASSES[cases[ci].class].to_string()))
                .or_default() += 1;
        }
    }
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut total = 0;
    for row in 0..rates.rows.len() {
        if rates.get(row, "level").str() != "province" {
            continue;
        }
        let n = rates.get(row, "reports").int();
        total += n;
        if n > 0 {
            got.insert(
                (
                    rates.get(row, "region").str().to_string(),
                    rates.get(row, "class").str().to_string(),
                ),
                n,
            );
        }
    }
    prop_assert_eq!(total, expected.values().sum::<i64>());
    prop_assert_eq!(got, expected);

    // No case lost: every case with a valid version received by the period's end is in
    // cases.parquet, once, with that version's report, whatever its bad optional cells.
    let case_table = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    let got: BTreeMap<String, String> = (0..case_table.rows.len())
        .map(|r| {
            (
                case_table.get(r, "case_id").str().to_string(),
                case_table.get(r, "report_id").str().to_string(),
            )
        })
        .collect();
    prop_assert_eq!(got.len(), case_table.rows.len(), "one row per case");
    let expected: BTreeMap<String, String> = latest
        .iter()
        .map(|(&ci, &vi)| {
            let c = &cases[ci];
            let report_id = format!("R{ci:03}-{}", vi + 1);
            let case_id = if c.no_case_id && c.versions.len() == 1 {
                report_id.clone()
            } else {
                format!("C{ci:03}")
            };
            (case_id, report_id)
        })
        .collect();
    prop_assert_eq!(got, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_row_is_accounted_for_and_each_case_counted_once((cases, order, orphans) in dataset()) {
        check(&cases, &order, orphans)?;
    }
}
