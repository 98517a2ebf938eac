//! `cases.parquet` end to end: the demo's case table read back with arrow-rs, its schema,
//! and every row against an independent recount of `sample-data/`'s CSV files as of
//! 2025-12-31 (the latest version of each case received by then, bad optional cells
//! nulled, the row kept), including each case's lists and completeness score.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use arrow::datatypes::DataType;

use crate::signals::{date, read_csv, truthy};
use crate::util::*;

/// The columns of `cases.parquet`, in order, as the README documents them.
const COLUMNS: &[(&str, Kind)] = &[
    ("period", Kind::Text),
    ("case_id", Kind::Text),
    ("report_id", Kind::Text),
    ("version", Kind::Count),
    ("versions_received", Kind::Count),
    ("first_received", Kind::Date),
    ("latest_received", Kind::Date),
    ("class", Kind::Text),
    ("region", Kind::Text),
    ("region_name", Kind::Text),
    ("province", Kind::Text),
    ("city", Kind::Text),
    ("sex", Kind::Text),
    ("age_years", Kind::Measure),
    ("age_band", Kind::Text),
    ("reporter_type", Kind::Text),
    ("sentinel", Kind::Flag),
    ("is_new", Kind::Flag),
    ("is_serious", Kind::Flag),
    ("fatal", Kind::Flag),
    ("suspect_products", Kind::TextList),
    ("events", Kind::TextList),
    ("batches", Kind::TextList),
    ("in_period", Kind::Flag),
    ("completeness", Kind::Measure),
    ("well_documented", Kind::Flag),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Utf8 or LargeUtf8, never Utf8View.
    Text,
    Count,
    Measure,
    Flag,
    Date,
    /// A list (or large list) of Utf8 / LargeUtf8.
    TextList,
}

fn plain_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8)
}

#[track_caller]
fn assert_cases_schema(t: &Table) {
    let names: Vec<&str> = t
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let want: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    assert_eq!(names, want, "columns of cases.parquet");
    for (f, (name, kind)) in t.schema.fields().iter().zip(COLUMNS) {
        let ty = f.data_type();
        let ok = match kind {
            Kind::Text => plain_text(ty),
            Kind::Count => *ty == DataType::Int64,
            Kind::Measure => *ty == DataType::Float64,
            Kind::Flag => *ty == DataType::Boolean,
            Kind::Date => *ty == DataType::Date32,
            Kind::TextList => match ty {
                DataType::List(item) | DataType::LargeList(item) => plain_text(item.data_type()),
                _ => false,
            },
        };
        assert!(ok, "`{name}` is {ty}, expected {kind:?}");
    }
}

/// A case as recounted from the CSVs.
#[derive(Debug, Default)]
struct Want {
    report_id: String,
    version: i64,
    versions: i64,
    first: i32,
    latest: i32,
    class: String,
    region: String,
    sex: Option<String>,
    age: Option<f64>,
    reporter_type: Option<String>,
    flags: [Option<bool>; 4],
    products: BTreeSet<String>,
    batches: BTreeSet<String>,
    events: BTreeSet<String>,
    has_onset: bool,
    uncoded: bool,
}

impl Want {
    /// The README's completeness: C = Π(1 − p) over the missing dimensions.
    fn completeness(&self) -> f64 {
        let [_, is_new, is_serious, fatal] = self.flags;
        let mut c = 1.0;
        let mut miss = |missing: bool, p: f64| {
            if missing {
                c *= 1.0 - p;
            }
        };
        miss(!self.has_onset, 0.5);
        miss(fatal.is_none(), 0.3);
        miss(self.sex.as_deref().is_none_or(|s| s == "U"), 0.3);
        miss(self.age.is_none(), 0.3);
        miss(self.reporter_type.is_none(), 0.1);
        miss(is_serious.is_none() || is_new.is_none(), 0.1);
        miss(!self.products.is_empty() && self.batches.is_empty(), 0.1);
        miss(self.uncoded, 0.1);
        c
    }

    fn age_band(&self) -> &'static str {
        match self.age {
            None => "unknown",
            Some(a) if a < 18.0 => "<18",
            Some(a) if a < 45.0 => "18-44",
            Some(a) if a < 65.0 => "45-64",
            Some(_) => ">=65",
        }
    }
}

const REPORTER_TYPES: &[&str] = &[
    "medical_institution",
    "mah",
    "distributor",
    "individual",
    "other",
];

/// The sample's cases as of `end`, recounted from the CSVs: a report row is used when its
/// required values are good (report_id, received_date on or before `end`, class, 6-digit
/// region) and its report_id was not seen before; a bad optional value is null. The latest
/// version of a case is the highest version (missing = 1), then the later received_date,
/// then the higher report_id. Child rows of latest versions only; a product counts unless
/// its role is `concomitant` (a missing or bad role is a suspect).
fn recount_cases(dir: &Path, end: &str) -> BTreeMap<String, Want> {
    let end = days(end);
    let day = |s: &str| date(s).map(|d| days(&d.to_string()));
    let mut seen = BTreeSet::new();
    let mut cases: BTreeMap<String, Want> = BTreeMap::new();
    let mut rank: BTreeMap<String, (i64, i32, String)> = BTreeMap::new();
    for r in read_csv(&dir.join("reports.csv")) {
        let v = |c: &str| r.get(c).map(String::as_str).unwrap_or("");
        let class = v("class").to_lowercase();
        let received = day(v("received_date"));
        let good = !v("report_id").is_empty()
            && received.is_some_and(|d| d <= end)
            && ["drug", "device", "cosmetic"].contains(&class.as_str())
            && v("region").len() == 6
            && v("region").bytes().all(|b| b.is_ascii_digit());
        if !good || !seen.insert(v("report_id").to_string()) {
            continue;
        }
        let received = received.expect("checked");
        let case = if v("case_id").is_empty() {
            v("report_id")
        } else {
            v("case_id")
        };
        let version = v("version").parse::<i64>().ok().filter(|x| *x >= 1);
        let key = (version.unwrap_or(1), received, v("report_id").to_string());
        let w = cases.entry(case.to_string()).or_default();
        w.versions += 1;
        w.first = if w.versions == 1 {
            received
        } else {
            w.first.min(received)
        };
        let r_case = rank.entry(case.to_string()).or_insert(key.clone());
        if key < *r_case {
            continue;
        }
        *r_case = key;
        let sex = v("sex").to_uppercase();
        let reporter = v("reporter_type").to_lowercase();
        *w = Want {
            report_id: v("report_id").to_string(),
            version: version.unwrap_or(1),
            latest: received,
            class,
            region: v("region").to_string(),
            sex: ["M", "F", "U"].contains(&sex.as_str()).then_some(sex),
            age: v("age_years")
                .parse::<f64>()
                .ok()
                .filter(|a| (0.0..=150.0).contains(a)),
            reporter_type: REPORTER_TYPES
                .contains(&reporter.as_str())
                .then_some(reporter),
            flags: ["sentinel", "is_new", "is_serious", "fatal"].map(|c| truthy(v(c))),
            versions: w.versions,
            first: w.first,
            ..Want::default()
        };
    }
    let case_of: BTreeMap<String, String> = cases
        .iter()
        .map(|(case, w)| (w.report_id.clone(), case.clone()))
        .collect();
    for r in read_csv(&dir.join("report_products.csv")) {
        let role = r.get("role").map(|s| s.to_lowercase()).unwrap_or_default();
        match case_of.get(&r["report_id"]) {
            Some(case) if !r["product_id"].is_empty() && role != "concomitant" => {
                let w = cases.get_mut(case).expect("a case");
                w.products.insert(r["product_id"].clone());
                if let Some(b) = r.get("batch").filter(|b| !b.is_empty()) {
                    w.batches.insert(b.clone());
                }
            }
            _ => {}
        }
    }
    let terms: BTreeSet<String> = read_csv(&dir.join("event_terms.csv"))
        .into_iter()
        .map(|r| r["event"].clone())
        .collect();
    for r in read_csv(&dir.join("report_events.csv")) {
        match case_of.get(&r["report_id"]) {
            Some(case) if !r["event"].is_empty() => {
                let w = cases.get_mut(case).expect("a case");
                w.events.insert(r["event"].clone());
                w.has_onset |= r.get("onset_date").and_then(|d| date(d)).is_some();
                w.uncoded |= !terms.contains(&r["event"]);
            }
            _ => {}
        }
    }
    cases
}

/// The demo's `cases.parquet` for 2025.
fn demo_cases() -> Table {
    let fx = Fixture::empty();
    let demo = repo().join("pipelines/demo.toml").display().to_string();
    let out = fx.ps("out");
    fx.run(&["run", demo.as_str(), "--out", out.as_str()])
        .expect_ok();
    read_parquet(&fx.p("out/period=2025/cases.parquet"))
}

fn opt_str(v: &Value) -> Option<&str> {
    match v {
        Value::Null => None,
        v => Some(v.str()),
    }
}

fn opt_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        v => Some(v.bool()),
    }
}

#[test]
fn demo_cases_are_the_recounted_cases_with_their_lists_and_scores() {
    let t = demo_cases();
    assert_cases_schema(&t);
    let want = recount_cases(&repo().join("sample-data"), "2025-12-31");
    // 6,008 good cases plus the two whose only bad cell is optional (age `-4`, sentinel
    // `maybe`): nulled, and the case kept.
    assert_eq!(want.len(), 6010);
    let ids: Vec<String> = t
        .column("case_id")
        .iter()
        .map(|v| v.str().to_string())
        .collect();
    assert_eq!(
        ids,
        want.keys().cloned().collect::<Vec<_>>(),
        "one row per case, sorted by case_id"
    );
    let start = days("2025-01-01");
    let mut well_documented = 0;
    // Names read straight from the shipped GB/T 2260 list, not through pvwatch.
    let names: BTreeMap<String, String> = fs::read_to_string(repo().join("data/gbt2260.csv"))
        .expect("the region list")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    for (r, (case, w)) in want.iter().enumerate() {
        let g = |c: &str| t.get(r, c);
        let list = |c: &str| g(c).list().into_iter().map(str::to_string).collect();
        assert_eq!(g("period").str(), "2025");
        assert_eq!(g("report_id").str(), w.report_id, "{case}");
        assert_eq!(g("version").int(), w.version, "{case}");
        assert_eq!(g("versions_received").int(), w.versions, "{case}");
        assert_eq!(g("first_received"), &Value::Date(w.first), "{case}");
        assert_eq!(g("latest_received"), &Value::Date(w.latest), "{case}");
        assert_eq!(g("class").str(), w.class, "{case}");
        assert_eq!(g("region").str(), w.region, "{case}");
        assert_eq!(
            opt_str(g("region_name")),
            names.get(&w.region).map(String::as_str),
            "{case}"
        );
        assert_eq!(g("province").str(), format!("{}0000", &w.region[..2]));
        assert_eq!(g("city").str(), format!("{}00", &w.region[..4]));
        assert_eq!(opt_str(g("sex")), w.sex.as_deref(), "{case}");
        assert_eq!(
            match g("age_years") {
                Value::Null => None,
                v => Some(v.float()),
            },
            w.age,
            "{case}"
        );
        assert_eq!(g("age_band").str(), w.age_band(), "{case}");
        assert_eq!(
            opt_str(g("reporter_type")),
            w.reporter_type.as_deref(),
            "{case}"
        );
        let flags = ["sentinel", "is_new", "is_serious", "fatal"].map(|c| opt_bool(g(c)));
        assert_eq!(flags, w.flags, "{case}");
        let products: BTreeSet<String> = list("suspect_products");
        assert_eq!(products, w.products, "{case}");
        assert_eq!(list("events"), w.events, "{case}");
        assert_eq!(list("batches"), w.batches, "{case}");
        // Lists are sorted and distinct as written, not only as sets.
        for c in ["suspect_products", "events", "batches"] {
            let v = g(c).list();
            assert!(v.windows(2).all(|p| p[0] < p[1]), "{case}: {c} {v:?}");
        }
        assert_eq!(g("in_period").bool(), w.first >= start, "{case}");
        let c = g("completeness").float();
        assert_close(c, w.completeness(), 1e-12);
        assert_eq!(g("well_documented").bool(), c > 0.8, "{case}");
        well_documented += i64::from(c > 0.8);
    }
    assert!(
        (1000..6010).contains(&well_documented),
        "some but not all cases are well documented: {well_documented}"
    );

    // A few cases pinned by hand from the CSVs (sample-data/README.md).
    let row = |case: &str| t.row_where(&[("case_id", case)]);
    // The 2025 cluster case with no onset date: only time to onset is missing.
    let r = row("C006010");
    assert_eq!(t.get(r, "suspect_products").list(), ["D002"]);
    assert_eq!(t.get(r, "batches").list(), ["B250611"]);
    assert_eq!(t.get(r, "events").list(), ["Chills", "Pyrexia", "Rash"]);
    assert_eq!(t.get(r, "completeness").float(), 0.5);
    assert!(!t.get(r, "well_documented").bool());
    assert_eq!(t.get(r, "city").str(), "330600");
    // Three versions, the last fatal; first received in 2024, so not in 2025's period.
    let r = row("C000862");
    assert_eq!(t.get(r, "version").int(), 3);
    assert_eq!(t.get(r, "versions_received").int(), 3);
    assert!(t.get(r, "fatal").bool());
    assert!(!t.get(r, "in_period").bool());
}

/// `rates.parquet`'s `well_documented` (cases first received in the period with a
/// completeness above 0.8) and its share, per province and class, against the recount.
#[test]
fn demo_rates_count_the_well_documented_cases_of_the_period() {
    let fx = Fixture::empty();
    let demo = repo().join("pipelines/demo.toml").display().to_string();
    let out = fx.ps("out");
    fx.run(&["run", demo.as_str(), "--out", out.as_str()])
        .expect_ok();
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let start = days("2025-01-01");
    let mut want: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for w in recount_cases(&repo().join("sample-data"), "2025-12-31").values() {
        if w.first >= start {
            let e = want
                .entry((format!("{}0000", &w.region[..2]), w.class.clone()))
                .or_default();
            e.0 += 1;
            e.1 += i64::from(w.completeness() > 0.8);
        }
    }
    let mut seen = 0;
    for r in 0..rates.rows.len() {
        let key = (
            rates.get(r, "region").str().to_string(),
            rates.get(r, "class").str().to_string(),
        );
        let (reports, well) = want.get(&key).copied().unwrap_or((0, 0));
        assert_eq!(rates.get(r, "reports").int(), reports, "{key:?}");
        assert_eq!(rates.get(r, "well_documented").int(), well, "{key:?}");
        match rates.get(r, "well_documented_share") {
            Value::Null => assert_eq!(reports, 0, "{key:?}"),
            v => assert_close(v.float(), well as f64 / reports as f64, 1e-12),
        }
        seen += usize::from(reports > 0);
    }
    assert_eq!(
        seen,
        want.len(),
        "every province × class with cases has a row"
    );
}
