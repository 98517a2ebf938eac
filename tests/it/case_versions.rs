//! `case_versions.parquet` end to end: the demo's versions table read back with arrow-rs,
//! its schema, and every row against an independent recount of `sample-data/reports.csv`
//! as of 2025-12-31 (each valid report row received by then is one version of its case);
//! the latest version of each case is `cases.parquet`'s row, with its lists; older
//! versions have null lists (ingest does not keep their products and events).

use std::collections::{BTreeMap, BTreeSet};

use arrow::datatypes::DataType;

use crate::signals::{date, read_csv, truthy};
use crate::util::*;

/// The columns of `case_versions.parquet`, in order, with their Arrow types as a BI tool
/// reads them (text is Utf8 or LargeUtf8, never a view type).
const COLUMNS: &[(&str, &str)] = &[
    ("period", "text"),
    ("case_id", "text"),
    ("report_id", "text"),
    ("version", "Int64"),
    ("received_date", "Date32"),
    ("superseded", "Boolean"),
    ("class", "text"),
    ("region", "text"),
    ("region_name", "text"),
    ("sex", "text"),
    ("age_years", "Float64"),
    ("reporter_type", "text"),
    ("sentinel", "Boolean"),
    ("is_new", "Boolean"),
    ("is_serious", "Boolean"),
    ("fatal", "Boolean"),
    ("suspect_products", "list"),
    ("events", "list"),
    ("batches", "list"),
];

/// The schema of a versions table, checked column by column.
pub fn assert_versions_schema(t: &Table) {
    let found: Vec<(String, String)> = t
        .schema
        .fields()
        .iter()
        .map(|f| {
            let kind = match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => "text".to_string(),
                DataType::List(item) | DataType::LargeList(item)
                    if matches!(item.data_type(), DataType::Utf8 | DataType::LargeUtf8) =>
                {
                    "list".to_string()
                }
                other => other.to_string(),
            };
            (f.name().clone(), kind)
        })
        .collect();
    let want: Vec<(String, String)> = COLUMNS
        .iter()
        .map(|(n, k)| (n.to_string(), k.to_string()))
        .collect();
    assert_eq!(found, want);
}

/// One version as recounted from the CSV.
#[derive(Debug, Clone, PartialEq)]
struct Version {
    report_id: String,
    version: i64,
    received: i32,
    class: String,
    region: String,
    sex: Option<String>,
    age: Option<f64>,
    fatal: Option<bool>,
}

/// Every version of every case received by `end`: valid rows (report_id, received_date,
/// class, 6-digit region good; the first of a duplicated report_id), by case (case_id,
/// default report_id), oldest rank first.
fn recount_versions(end: &str) -> BTreeMap<String, Vec<Version>> {
    let end = days(end);
    let mut seen = BTreeSet::new();
    let mut cases: BTreeMap<String, Vec<Version>> = BTreeMap::new();
    for r in read_csv(&repo().join("sample-data/reports.csv")) {
        let v = |c: &str| r.get(c).map(String::as_str).unwrap_or("");
        let class = v("class").to_lowercase();
        let received = date(v("received_date")).map(|d| days(&d.to_string()));
        let good = !v("report_id").is_empty()
            && received.is_some()
            && ["drug", "device", "cosmetic"].contains(&class.as_str())
            && v("region").len() == 6
            && v("region").bytes().all(|b| b.is_ascii_digit());
        if !good || !seen.insert(v("report_id").to_string()) {
            continue;
        }
        let received = received.expect("checked");
        if received > end {
            continue;
        }
        let case = if v("case_id").is_empty() {
            v("report_id")
        } else {
            v("case_id")
        };
        let sex = v("sex").to_uppercase();
        cases.entry(case.to_string()).or_default().push(Version {
            report_id: v("report_id").to_string(),
            version: v("version")
                .parse::<i64>()
                .ok()
                .filter(|x| *x >= 1)
                .unwrap_or(1),
            received,
            class,
            region: v("region").to_string(),
            sex: ["M", "F", "U"].contains(&sex.as_str()).then_some(sex),
            age: v("age_years")
                .parse::<f64>()
                .ok()
                .filter(|a| (0.0..=150.0).contains(a)),
            fatal: truthy(v("fatal")),
        });
    }
    for versions in cases.values_mut() {
        versions.sort_by(|a, b| {
            (a.version, a.received, &a.report_id).cmp(&(b.version, b.received, &b.report_id))
        });
    }
    cases
}

fn opt(v: &Value) -> Option<&str> {
    (!v.is_null()).then(|| v.str())
}

#[test]
fn demo_case_versions_are_every_version_received_by_the_period_end() {
    let fx = Fixture::empty();
    let demo = repo().join("pipelines/demo.toml").display().to_string();
    let out = fx.ps("out");
    fx.run(&["run", demo.as_str(), "--out", out.as_str()])
        .expect_ok();
    let dir = fx.p("out/period=2025");
    let t = read_parquet(&dir.join("case_versions.parquet"));
    assert_versions_schema(&t);
    let cases = read_parquet(&dir.join("cases.parquet"));

    let want = recount_versions("2025-12-31");
    let older: usize = want.values().map(|v| v.len() - 1).sum();
    assert!(older > 100, "the sample has follow-ups: {older}");
    // Every case of the case table, and only those (the demo's scope holds them all).
    assert_eq!(cases.rows.len(), want.len());
    assert_eq!(t.rows.len(), want.values().map(Vec::len).sum::<usize>());

    // The file's rows by case, in file order (sorted by case, then version).
    let mut got: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut last_key = None;
    for i in 0..t.rows.len() {
        let key = (
            t.get(i, "case_id").str().to_string(),
            t.get(i, "version").int(),
        );
        assert!(
            last_key.as_ref() <= Some(&key),
            "sorted by case_id, version at row {i}"
        );
        last_key = Some(key.clone());
        got.entry(key.0).or_default().push(i);
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let latest_row: BTreeMap<&str, usize> = (0..cases.rows.len())
        .map(|i| (cases.get(i, "case_id").str(), i))
        .collect();
    for (case, rows) in &got {
        let versions = &want[case];
        assert_eq!(rows.len(), versions.len(), "versions of {case}");
        for (&i, w) in rows.iter().zip(versions) {
            let last = std::ptr::eq(w, versions.last().unwrap());
            assert_eq!(t.get(i, "period").str(), "2025");
            assert_eq!(t.get(i, "report_id").str(), w.report_id, "{case}");
            assert_eq!(t.get(i, "version").int(), w.version);
            assert_eq!(t.get(i, "received_date"), &Value::Date(w.received));
            assert_eq!(
                t.get(i, "superseded").bool(),
                !last,
                "{case} {}",
                w.report_id
            );
            assert_eq!(t.get(i, "class").str(), w.class);
            assert_eq!(t.get(i, "region").str(), w.region);
            assert_eq!(opt(t.get(i, "sex")), w.sex.as_deref());
            assert_eq!(
                t.get(i, "age_years"),
                &w.age.map_or(Value::Null, Value::Float)
            );
            assert_eq!(t.get(i, "fatal"), &w.fatal.map_or(Value::Null, Value::Bool));
            let c = latest_row[case.as_str()];
            if last {
                // The latest version is the case table's row, lists and all.
                assert_eq!(cases.get(c, "report_id").str(), w.report_id);
                for col in ["region_name", "suspect_products", "events", "batches"] {
                    assert_eq!(t.get(i, col), cases.get(c, col), "{case} {col}");
                }
            } else {
                for col in ["suspect_products", "events", "batches"] {
                    assert!(t.get(i, col).is_null(), "{case} {col}: not kept, so null");
                }
                // The region's name is looked up for every version.
                if cases.get(c, "region").str() == w.region {
                    assert_eq!(t.get(i, "region_name"), cases.get(c, "region_name"));
                }
            }
        }
    }

    let manifest = read_json(&dir.join("manifest.json"));
    let listed = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["file"] == "case_versions.parquet")
        .expect("the manifest lists case_versions.parquet");
    assert_eq!(listed["rows"], t.rows.len());
}

/// The review app's case detail (`pvwatch::catalog`) lists every version of a case from
/// `case_versions.parquet`, and falls back to the latest version for a period published
/// without that file.
#[test]
fn case_detail_lists_every_version_and_falls_back_to_the_latest() {
    use pvwatch::catalog::{Catalog, RegionScope, FROM_CASE_VERSIONS, FROM_LATEST_ONLY};

    let fx = Fixture::empty();
    let demo = repo().join("pipelines/demo.toml").display().to_string();
    let out = fx.ps("out");
    fx.run(&["run", demo.as_str(), "--out", out.as_str()])
        .expect_ok();
    let want = recount_versions("2025-12-31");
    // A case with the most versions received by the period's end.
    let (case, versions) = want
        .iter()
        .max_by_key(|(id, v)| (v.len(), std::cmp::Reverse(id.to_string())))
        .unwrap();
    assert!(versions.len() >= 2, "{case}: {versions:?}");

    let catalog = Catalog::open(fx.p("out"), None)
        .expect("the catalog opens")
        .with_check_interval(std::time::Duration::ZERO);
    let detail = catalog.case(&RegionScope::all(), case).expect("the case");
    assert!(detail.superseded_versions_published);
    let p = detail.versions.last().unwrap();
    assert_eq!(p.versions_source, FROM_CASE_VERSIONS);
    let ids: Vec<&str> = p
        .report_versions
        .iter()
        .map(|v| v["report_id"].as_str().unwrap())
        .collect();
    let want_ids: Vec<&str> = versions.iter().map(|v| v.report_id.as_str()).collect();
    assert_eq!(ids, want_ids);
    let flags: Vec<bool> = p
        .report_versions
        .iter()
        .map(|v| v["superseded"].as_bool().unwrap())
        .collect();
    let mut want_flags = vec![true; versions.len()];
    *want_flags.last_mut().unwrap() = false;
    assert_eq!(flags, want_flags);
    assert_eq!(p.case["report_id"], *want_ids.last().unwrap());

    // A period published before case_versions.parquet existed: the latest version only.
    std::fs::remove_file(fx.p("out/period=2025/case_versions.parquet")).unwrap();
    let catalog = Catalog::open(fx.p("out"), None)
        .expect("the catalog opens")
        .with_check_interval(std::time::Duration::ZERO);
    let detail = catalog.case(&RegionScope::all(), case).expect("the case");
    assert!(!detail.superseded_versions_published);
    let p = detail.versions.last().unwrap();
    assert_eq!(p.versions_source, FROM_LATEST_ONLY);
    assert_eq!(p.report_versions.len(), 1);
    let only = &p.report_versions[0];
    assert_eq!(only["report_id"], *want_ids.last().unwrap());
    assert_eq!(only["superseded"], false);
    assert_eq!(
        only["received_date"], p.case["latest_received"],
        "the latest version's receipt"
    );
}
