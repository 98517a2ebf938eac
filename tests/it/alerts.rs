//! The alerts stage end to end, read back from `alerts.jsonl`, `alerts.csv` and
//! `screening.parquet`:
//!
//! - three consecutive quarters of one pipeline in one output folder, on a hand-made
//!   database where each status (`new`, `ongoing`, `escalated`, `resolved`) happens to a
//!   known alert, `first_period` is carried, and a rerun of a past quarter is idempotent;
//! - golden alerts for a hand-made year: one alert of each kind and priority, the full JSON
//!   object and both messages pinned, the CSV twin, and the order;
//! - the demo for 2024 then 2025: every rule fires, the planted cluster and signals are
//!   alerted, statuses are against 2024, and the screening list agrees with the alerts;
//! - the full text of the `[alerts]` configuration errors.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use arrow::datatypes::DataType;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use statrs::distribution::{ContinuousCDF, Gamma};

use crate::util::*;

/// `qnorm(0.975)`, the z of every 95% interval in the README.
const Z: f64 = 1.959_963_984_540_054;

// ---------------------------------------------------------------------------------------
// A hand-made database with the columns the alert rules read.

/// One report version: `case(id, date, class)`, then the builder methods.
#[derive(Clone)]
struct Rep {
    case: String,
    version: u32,
    date: String,
    class: &'static str,
    region: &'static str,
    sentinel: bool,
    new: bool,
    serious: bool,
    fatal: bool,
    /// (product, role, batch)
    products: Vec<(String, &'static str, String)>,
    events: Vec<String>,
}

/// Version 1 of case `id`, first received on `date`, in Hangzhou (330100), every flag false.
fn case(id: &str, date: &str, class: &'static str) -> Rep {
    Rep {
        case: id.to_string(),
        version: 1,
        date: date.to_string(),
        class,
        region: "330100",
        sentinel: false,
        new: false,
        serious: false,
        fatal: false,
        products: Vec::new(),
        events: Vec::new(),
    }
}

impl Rep {
    /// A suspect product without a batch.
    fn product(mut self, p: &str) -> Rep {
        self.products
            .push((p.to_string(), "suspect", String::new()));
        self
    }
    fn batch(mut self, p: &str, batch: &str) -> Rep {
        self.products
            .push((p.to_string(), "suspect", batch.to_string()));
        self
    }
    fn concomitant(mut self, p: &str) -> Rep {
        self.products
            .push((p.to_string(), "concomitant", String::new()));
        self
    }
    fn event(mut self, e: &str) -> Rep {
        self.events.push(e.to_string());
        self
    }
    fn region(self, region: &'static str) -> Rep {
        Rep { region, ..self }
    }
    fn sentinel(self) -> Rep {
        Rep {
            sentinel: true,
            ..self
        }
    }
    fn unlabelled(self) -> Rep {
        Rep { new: true, ..self }
    }
    fn serious(self) -> Rep {
        Rep {
            serious: true,
            ..self
        }
    }
    /// Fatal, and so serious (as in the sample data).
    fn fatal(self) -> Rep {
        Rep {
            fatal: true,
            serious: true,
            ..self
        }
    }
    /// A follow-up: version `v` received on `date`.
    fn follow_up(self, v: u32, date: &str) -> Rep {
        Rep {
            version: v,
            date: date.to_string(),
            ..self
        }
    }
}

/// Report rows, numbered `R0001…` in the order they are added.
#[derive(Default, Clone)]
struct Db {
    reports: Vec<String>,
    products: Vec<String>,
    events: Vec<String>,
}

impl Db {
    fn add(&mut self, r: Rep) -> &mut Db {
        let id = format!("R{:04}", self.reports.len() + 1);
        self.reports.push(format!(
            "{id},{},{},{},{},{},medical_institution,{},{},{},{}",
            r.case, r.version, r.date, r.class, r.region, r.sentinel, r.new, r.serious, r.fatal
        ));
        for (p, role, batch) in &r.products {
            self.products.push(format!("{id},{p},{role},{batch}"));
        }
        for e in &r.events {
            self.events.push(format!("{id},{e}"));
        }
        self
    }

    /// `k` cases `{prefix}001…` made by `f` from their id.
    fn many(&mut self, k: usize, prefix: &str, f: impl Fn(&str) -> Rep) -> &mut Db {
        for i in 1..=k {
            self.add(f(&format!("{prefix}{i:03}")));
        }
        self
    }

    /// Write the three report tables, the registry and the populations into `fx`.
    fn write(&self, fx: &Fixture, registry: &str, populations: &str) {
        fx.write("reports.csv", &csv(REPORTS_HEADER, &self.reports));
        fx.write(
            "report_products.csv",
            &csv("report_id,product_id,role,batch", &self.products),
        );
        fx.write("report_events.csv", &csv("report_id,event", &self.events));
        fx.write("products.csv", registry);
        fx.write("populations.csv", populations);
    }
}

/// The EBGM prior of the signals tests, fixed so that EB05 does not move with a fit.
const FIXED_PRIOR: &str = "\
[signals.ebgm.prior]
alpha1 = 0.2
beta1 = 0.1
alpha2 = 2.0
beta2 = 4.0
p = 0.25
";

// ---------------------------------------------------------------------------------------
// Reading alerts back.

/// The alerts of `alerts.jsonl`, in file order, each line a JSON object.
#[track_caller]
fn read_alerts(path: &Path) -> Vec<Json> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Json = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1));
            assert!(v.is_object(), "line {} is a JSON object", i + 1);
            v
        })
        .collect()
}

fn s<'a>(a: &'a Json, field: &str) -> &'a str {
    a[field].as_str().unwrap_or("")
}

/// The only alert of `kind` whose string fields have these values.
#[track_caller]
fn the<'a>(alerts: &'a [Json], kind: &str, keys: &[(&str, &str)]) -> &'a Json {
    let hits: Vec<&Json> = alerts
        .iter()
        .filter(|a| a["kind"] == kind && keys.iter().all(|(k, v)| a[*k] == *v))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "alerts of kind {kind} with {keys:?}: {hits:#?}\nall: {alerts:#?}"
    );
    hits[0]
}

/// (kind, status, first_period) of an alert, to compare in one line.
fn ksf(a: &Json) -> (&str, &str, &str) {
    (s(a, "kind"), s(a, "status"), s(a, "first_period"))
}

/// The README's id scheme: `family-` and the first 16 hex digits of the SHA-256 of the
/// family and the subject, each part after a NUL byte.
fn alert_id(family: &str, subject: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(family.as_bytes());
    for part in subject {
        h.update([0u8]);
        h.update(part.as_bytes());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{family}-{}", &hex[..16])
}

fn priority_rank(a: &Json) -> usize {
    ["P0", "P1", "P2", "P3"]
        .iter()
        .position(|p| a["priority"] == *p)
        .unwrap_or_else(|| panic!("unknown priority in {a}"))
}

/// new and escalated first, then ongoing, then resolved.
fn status_rank(a: &Json) -> usize {
    match s(a, "status") {
        "new" | "escalated" => 0,
        "ongoing" => 1,
        "resolved" => 2,
        other => panic!("unknown status `{other}` in {a}"),
    }
}

/// Most urgent first: by priority, and within a priority new/escalated, ongoing, resolved.
#[track_caller]
fn assert_most_urgent_first(alerts: &[Json]) {
    let keys: Vec<(usize, usize)> = alerts
        .iter()
        .map(|a| (priority_rank(a), status_rank(a)))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "alerts are not most urgent first: {alerts:#?}"
    );
}

/// `actual` has exactly `expected`'s fields and values, numbers within 1e-9 (relative).
#[track_caller]
fn assert_json_matches(actual: &Json, expected: &Json, path: &str) {
    match (actual, expected) {
        (Json::Number(x), Json::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let err = if y == 0.0 {
                x.abs()
            } else {
                ((x - y) / y).abs()
            };
            assert!(err <= 1e-9, "{path}: {x} is not within 1e-9 of {y}");
        }
        (Json::Object(x), Json::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            assert_eq!(kx, ky, "{path}: fields");
            for (k, v) in y {
                assert_json_matches(&x[k], v, &format!("{path}.{k}"));
            }
        }
        (Json::Array(x), Json::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: length of {actual} vs {expected}");
            for (i, (a, b)) in x.iter().zip(y).enumerate() {
                assert_json_matches(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// The number after the first `"key":` of a JSON line, parsed from its text by Rust's
/// correctly rounded `f64` parser. (serde_json without its `float_roundtrip` feature, as
/// this crate builds it, may parse a 17-digit number 1 ULP off.)
#[track_caller]
fn raw_f64(line: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let i = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {pat} in {line}"))
        + pat.len();
    let rest = &line[i..];
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|e| panic!("{key}: `{}`: {e}", &rest[..end]))
}

/// The text of `alerts.jsonl` of a period.
fn jsonl_text(fx: &Fixture, period: &str) -> String {
    fs::read_to_string(fx.p(&format!("out/period={period}/alerts.jsonl"))).expect("alerts.jsonl")
}

// ---------------------------------------------------------------------------------------
// Three quarters: new, ongoing, escalated, resolved.

/// The registry of the quarterly database: D1 is the only watched product.
const Q_REGISTRY: &str = "\
product_id,name,class,innovative,conditional,procured,holder
D1,创新药甲注射液,drug,true,false,false,示例创新药业有限公司
D9,阿莫西林胶囊,drug,false,false,false,华东示例制药有限公司
M1,一次性使用输液器,device,false,false,false,北方示例医疗器械有限公司
";

/// One million residents in Zhejiang, so that a count of cases is a rate per million.
const Q_POPULATIONS: &str = "region,year,population,name\n330000,2024,1000000,浙江省\n";

/// The quarterly pipeline: rates for cosmetics only (10 per million a year), signals for
/// D1 by EBGM alone with a fixed prior, data cut-off at the end of Q3.
const Q_PIPELINE: &str = "\
[rates]
classes = [\"cosmetic\"]
as_of = \"2025-09-30\"

[rates.targets.cosmetic]
per_million = 10

[signals]
watch = [\"innovative\"]
methods = [\"ebgm\"]

";

/// The quarterly database, one dataset for every run (all of 2025's reports arrived):
///
/// - **signal D1 × Myocarditis** (drug): Q1 has 3 D1 + Myocarditis cases and 97 D9 + Rash
///   cases, so N = 100, a = 3, b = c = 0, E = 3·3/100 = 0.09. Q2 has no drug case, so the
///   Q2 background is the Q1 background and every number is the same. Q3 adds 12 more
///   D1 + Myocarditis cases and 288 D9 + Rash cases: N = 400, a = 15, E = 15·15/400 =
///   0.5625. With the fixed prior, EB05 rises from 4.26 to 14.19 (3.3×, and from the
///   4–8 tier into the ≥ 8 tier).
/// - **case alerts**: QS1 (Q1, one of the three Q1 D1 cases) is serious; QF1 (Q3, one of
///   the twelve) is fatal.
/// - **cluster**: three device cases of M1 batch B2505 on 2025-05-10, 05-12 and 05-15
///   (5 days apart) in Q2. No window of 7 days touches Q1 or Q3.
/// - **rate**: cosmetic cases in Hangzhou with no product, 2 in Q1, 2 in Q2, 3 in Q3, for
///   one million residents and a target of 10 per million a year:
///   Q1: 2 × 365/90 = 8.111… < 10 (81.1%); Q2: 2 × 365/91 = 8.022… < 10 (80.2%);
///   Q3: 3 × 365/92 = 11.902… ≥ 10 (119.0%), on track.
fn quarterly_db() -> Db {
    let mut db = Db::default();
    let myo = |id: &str, date: &str| case(id, date, "drug").product("D1").event("Myocarditis");
    db.add(myo("QS1", "2025-02-10").serious())
        .add(myo("QA2", "2025-02-11"))
        .add(myo("QA3", "2025-02-12"))
        .many(97, "QB", |id| {
            case(id, "2025-03-01", "drug").product("D9").event("Rash")
        })
        .add(case("QK1", "2025-01-15", "cosmetic"))
        .add(case("QK2", "2025-02-15", "cosmetic"));
    // Q2
    db.add(case("QM1", "2025-05-10", "device").batch("M1", "B2505"))
        .add(case("QM2", "2025-05-12", "device").batch("M1", "B2505"))
        .add(case("QM3", "2025-05-15", "device").batch("M1", "B2505"))
        .add(case("QK3", "2025-04-15", "cosmetic"))
        .add(case("QK4", "2025-05-15", "cosmetic"));
    // Q3
    db.add(myo("QF1", "2025-07-01").fatal())
        .many(11, "QC", |id| myo(id, "2025-07-02"))
        .many(288, "QD", |id| {
            case(id, "2025-08-01", "drug").product("D9").event("Rash")
        })
        .add(case("QK5", "2025-07-15", "cosmetic"))
        .add(case("QK6", "2025-08-15", "cosmetic"))
        .add(case("QK7", "2025-09-15", "cosmetic"));
    db
}

fn quarterly_fixture(db: &Db) -> Fixture {
    let fx = Fixture::empty();
    db.write(&fx, Q_REGISTRY, Q_POPULATIONS);
    fx.pipeline("", &format!("{Q_PIPELINE}{FIXED_PRIOR}"));
    fx
}

/// Run the fixture's pipeline for `period` and read its alerts.
#[track_caller]
fn run_period(fx: &Fixture, period: &str) -> Vec<Json> {
    fx.run_pipeline(&["--period", period]).expect_ok();
    let alerts = read_alerts(&fx.p(&format!("out/period={period}/alerts.jsonl")));
    for a in &alerts {
        assert_eq!(a["period"], period, "{a}");
    }
    assert_most_urgent_first(&alerts);
    alerts
}

fn eb05(a: &Json) -> f64 {
    a["numbers"]["eb05"].as_f64().expect("numbers.eb05")
}

#[test]
fn three_quarters_give_new_ongoing_escalated_resolved_and_a_rerun_is_idempotent() {
    let fx = quarterly_fixture(&quarterly_db());
    let signal_id = alert_id("signal", &["drug", "D1", "Myocarditis"]);
    let rate_id = alert_id("rate", &["province", "330000", "cosmetic"]);
    let cluster_id = alert_id("cluster-batch", &["device", "M1", "B2505"]);
    let serious_id = alert_id("case", &["QS1", "D1"]);
    let fatal_id = alert_id("case", &["QF1", "D1"]);
    let by_id = |alerts: &[Json], id: &str| -> Json {
        let hits: Vec<&Json> = alerts.iter().filter(|a| a["alert_id"] == id).collect();
        assert_eq!(hits.len(), 1, "alerts with id {id}: {alerts:#?}");
        hits[0].clone()
    };
    let ids = |alerts: &[Json]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| s(a, "alert_id").to_string())
            .collect()
    };

    // Q1: everything is new.
    let q1 = run_period(&fx, "2025-Q1");
    assert_eq!(
        ids(&q1),
        [signal_id.as_str(), &serious_id, &rate_id],
        "{q1:#?}"
    );
    let sig1 = by_id(&q1, &signal_id);
    assert_eq!(ksf(&sig1), ("new_signal", "new", "2025-Q1"));
    assert_eq!(sig1["numbers"]["a"], 3.0);
    assert_close(sig1["numbers"]["expected"].as_f64().unwrap(), 0.09, 1e-12);
    assert!(eb05(&sig1) >= 2.0, "a signal by EBGM: {sig1}");
    let ser = by_id(&q1, &serious_id);
    assert_eq!(ksf(&ser), ("serious_report", "new", "2025-Q1"));
    assert_eq!((s(&ser, "priority"), s(&ser, "case_id")), ("P2", "QS1"));
    let rate1 = by_id(&q1, &rate_id);
    assert_eq!(ksf(&rate1), ("rate_below_target", "new", "2025-Q1"));
    // 2 cases per million in 90 days: 2 × 365 / 90 a year, against 10.
    assert_eq!(rate1["numbers"]["reports"], 2.0);
    assert_close(
        rate1["value"].as_f64().unwrap(),
        2.0 * 365.0 / 90.0 / 10.0,
        1e-12,
    );
    let m1 = read_json(&fx.p("out/period=2025-Q1/manifest.json"));
    assert_eq!(m1["alerts"]["previous_period"], Json::Null);

    // Q2: the signal and the rate fire again unchanged (ongoing, first fired in Q1); the
    // cluster is new; the Q1 case alert expires with its period (it is not resolved).
    let q2 = run_period(&fx, "2025-Q2");
    assert_eq!(
        ids(&q2),
        [cluster_id.as_str(), &signal_id, &rate_id],
        "{q2:#?}"
    );
    let sig2 = by_id(&q2, &signal_id);
    assert_eq!(ksf(&sig2), ("new_signal", "ongoing", "2025-Q1"));
    assert_eq!(
        sig2["numbers"], sig1["numbers"],
        "the Q2 background is the Q1 background"
    );
    let rate2 = by_id(&q2, &rate_id);
    assert_eq!(ksf(&rate2), ("rate_below_target", "ongoing", "2025-Q1"));
    assert_close(
        rate2["value"].as_f64().unwrap(),
        2.0 * 365.0 / 91.0 / 10.0,
        1e-12,
    );
    let cl = by_id(&q2, &cluster_id);
    assert_eq!(ksf(&cl), ("cluster", "new", "2025-Q2"));
    assert_eq!(
        (s(&cl, "priority"), s(&cl, "product_id"), s(&cl, "batch")),
        ("P0", "M1", "B2505")
    );
    assert_eq!(cl["numbers"]["case_ids"], json!(["QM1", "QM2", "QM3"]));
    let m2 = read_json(&fx.p("out/period=2025-Q2/manifest.json"));
    assert_eq!(m2["alerts"]["previous_period"], "2025-Q1");

    // Q3: the signal strengthened (escalated, still first fired in Q1); the rate is on
    // track and the cluster's window is over (both resolved, once); QF1 is a new death.
    let q3 = run_period(&fx, "2025-Q3");
    assert_eq!(
        ids(&q3),
        [fatal_id.as_str(), &cluster_id, &signal_id, &rate_id],
        "{q3:#?}"
    );
    let fat = by_id(&q3, &fatal_id);
    assert_eq!(ksf(&fat), ("fatal_report", "new", "2025-Q3"));
    assert_eq!(s(&fat, "priority"), "P0");
    let cl3 = by_id(&q3, &cluster_id);
    assert_eq!(ksf(&cl3), ("cluster", "resolved", "2025-Q2"));
    assert_eq!(
        cl3["numbers"], cl["numbers"],
        "a resolved alert keeps its numbers"
    );
    assert_eq!(
        s(&cl3, "message_en"),
        format!("Resolved (no longer fires): {}", s(&cl, "message_en"))
    );
    assert_eq!(
        s(&cl3, "message_zh"),
        format!("已解除（本期不再触发）：{}", s(&cl, "message_zh"))
    );
    let sig3 = by_id(&q3, &signal_id);
    assert_eq!(ksf(&sig3), ("strengthened_signal", "escalated", "2025-Q1"));
    assert_eq!(sig3["numbers"]["a"], 15.0);
    assert_close(sig3["numbers"]["expected"].as_f64().unwrap(), 0.5625, 1e-12);
    assert_close(
        sig3["numbers"]["eb05_previous"].as_f64().unwrap(),
        eb05(&sig2),
        1e-15,
    );
    assert!(
        eb05(&sig3) >= 1.5 * eb05(&sig2),
        "EB05 {} → {}",
        eb05(&sig2),
        eb05(&sig3)
    );
    assert_close(
        sig3["value"].as_f64().unwrap(),
        eb05(&sig3) / eb05(&sig2),
        1e-12,
    );
    assert_eq!(sig3["threshold"], 1.5);
    // The message says which criteria raised it: recomputed here from the two runs' numbers.
    let tier = |x: f64| [2.0, 4.0, 8.0].iter().filter(|e| x >= **e).count();
    let (e2, e3) = (eb05(&sig2), eb05(&sig3));
    let (i2, i3) = (
        sig2["numbers"]["ic025"].as_f64().unwrap(),
        sig3["numbers"]["ic025"].as_f64().unwrap(),
    );
    let mut want = vec!["eb05_factor"];
    if tier(e3) > tier(e2) {
        want.push("eb05_tier");
    }
    if i3 - i2 >= 1.5f64.log2() {
        want.push("ic025_factor");
    }
    assert_eq!(sig3["numbers"]["strengthened_by"], json!(want));
    let msg = s(&sig3, "message_en");
    assert!(
        msg.starts_with("Signal strengthened (EB05 rose 1.5× or more"),
        "{msg}"
    );
    assert!(s(&sig3, "message_zh").starts_with("信号增强（EB05 升高至 1.5 倍及以上"));
    let rate3 = by_id(&q3, &rate_id);
    assert_eq!(ksf(&rate3), ("rate_below_target", "resolved", "2025-Q1"));
    assert_json_matches(
        &rate3["numbers"],
        &rate2["numbers"],
        "Q2's numbers, not Q3's",
    );
    let rates = read_parquet(&fx.p("out/period=2025-Q3/rates.parquet"));
    let r = rates.row_where(&[("region", "330000"), ("class", "cosmetic")]);
    assert_eq!(rates.get(r, "on_track"), &Value::Bool(true));
    assert_close(
        rates.get(r, "attainment").float(),
        3.0 * 365.0 / 92.0 / 10.0,
        1e-12,
    );

    // A rerun of Q2 now that Q3 exists compares with Q1 again: the same alerts, line by
    // line.
    let first_q2 = jsonl_text(&fx, "2025-Q2");
    run_period(&fx, "2025-Q2");
    let rerun_q2 = jsonl_text(&fx, "2025-Q2");
    assert_eq!(
        rerun_q2.lines().collect::<Vec<_>>(),
        first_q2.lines().collect::<Vec<_>>()
    );
    let m2 = read_json(&fx.p("out/period=2025-Q2/manifest.json"));
    assert_eq!(m2["alerts"]["previous_period"], "2025-Q1");

    // Q4 compares with Q3: a resolved alert is not carried again, and the signal (same
    // background as Q3) is ongoing. Q4 starts after the cut-off, so it has no rate.
    let q4 = run_period(&fx, "2025-Q4");
    assert_eq!(ids(&q4), [signal_id.as_str()], "{q4:#?}");
    assert_eq!(
        ksf(&q4[0]),
        ("new_signal", "ongoing", "2025-Q1"),
        "{:#}",
        q4[0]
    );
}

/// Case alerts belong to the period their case was first received in, and the previous
/// run is always an earlier period, so a (case, product) alert can never be open in the
/// previous run of a later period. When a follow-up makes an alerted case fatal after its
/// period was run, the next run does not alert at all: the death is never raised as P0
/// (and `escalated` by priority cannot happen to any kind).
#[test]
fn fatal_follow_up_of_an_alerted_case_is_raised_in_the_next_run() {
    let mut db = Db::default();
    let f1 = case("F1", "2025-03-20", "drug")
        .product("D1")
        .event("Myocarditis")
        .serious();
    db.add(f1.clone()).many(20, "FB", |id| {
        case(id, "2025-03-01", "drug").product("D9").event("Rash")
    });
    let fx = quarterly_fixture(&db);
    // Q1, run at the end of Q1: F1 is a serious case (P2).
    let q1 = run_period(&fx, "2025-Q1");
    let id = alert_id("case", &["F1", "D1"]);
    let a = the(&q1, "serious_report", &[("case_id", "F1")]);
    assert_eq!((s(a, "alert_id"), s(a, "priority")), (id.as_str(), "P2"));

    // In April its follow-up reports the patient's death; Q2 is run at the end of Q2.
    db.add(f1.follow_up(2, "2025-04-10").fatal());
    db.write(&fx, Q_REGISTRY, Q_POPULATIONS);
    let q2 = run_period(&fx, "2025-Q2");
    let a = the(&q2, "fatal_report", &[("case_id", "F1")]);
    assert_eq!(
        (
            s(a, "alert_id"),
            s(a, "priority"),
            s(a, "status"),
            s(a, "first_period")
        ),
        (id.as_str(), "P0", "escalated", "2025-Q1")
    );
}

// ---------------------------------------------------------------------------------------
// Golden alerts: one of each kind and priority, pinned in full.

const G_REGISTRY: &str = "\
product_id,name,class,innovative,conditional,procured,holder
D1,创新药甲注射液,drug,true,false,false,示例创新药业有限公司
D2,集采药乙片,drug,false,false,true,华东示例制药有限公司
D9,头孢曲松钠注射液,drug,false,false,false,北方示例药业有限公司
M1,创新器械丙支架,device,true,true,false,示例医疗器械有限公司
";

const G_POPULATIONS: &str = "region,year,population,name\n330000,2024,100000,浙江省\n";

/// Drug rates only (Zhejiang's default target, 1000 per million), the whole year covered,
/// the default methods and watch groups, and the fixed prior.
const G_PIPELINE: &str = "\
[rates]
classes = [\"drug\"]
as_of = \"2025-12-31\"

";

/// The golden year, all in Zhejiang (100,000 residents), every case a single version:
///
/// | case | received | class | products | events | flags |
/// |---|---|---|---|---|---|
/// | G01 | 02-01 | drug | D1, D2 concomitant | Myocarditis | fatal, sentinel |
/// | G02 | 02-02 | device (Ningbo) | M1 | Device breakage | fatal |
/// | G03 | 02-03 | drug | D2 | Nausea | serious, sentinel |
/// | G04 | 02-04 | drug | D2 | Headache | new, sentinel |
/// | G05, G06 | 02-05, 02-06 | drug | D1 | Myocarditis | |
/// | G07 | 02-07 | drug | D1 | Rash | |
/// | G08 | 02-08 | drug | D9 | Myocarditis | |
/// | G09, G10, G11 | 03-01, 03-03 (Ningbo), 03-07 | drug | D9 batch B250301 | Rash | |
/// | G12 | 11-20 | device | M1 | Device breakage | serious |
/// | GB001…GB020 | 04-01 | drug | D9 | Rash | GB001…GB007 sentinel |
///
/// - 30 drug cases: 300 per million for the year, 30.0% of 1000.
/// - 10 sentinel drug cases: G01 and G03 serious, G04 new: new-or-serious 3/10 = 30.0%
///   < 40%, serious 2/10 = 20.0% ≥ 18%.
/// - D1 × Myocarditis: a = 3 (G01, G05, G06), b = 1 (G07), c = 1 (G08), d = 25, n = 30.
/// - D9 batch B250301: 3 cases in 7 days (03-01 … 03-07, 6 days apart).
fn golden_db() -> Db {
    let mut db = Db::default();
    db.add(
        case("G01", "2025-02-01", "drug")
            .product("D1")
            .concomitant("D2")
            .event("Myocarditis")
            .fatal()
            .sentinel(),
    )
    .add(
        case("G02", "2025-02-02", "device")
            .region("330200")
            .product("M1")
            .event("Device breakage")
            .fatal(),
    )
    .add(
        case("G03", "2025-02-03", "drug")
            .product("D2")
            .event("Nausea")
            .serious()
            .sentinel(),
    )
    .add(
        case("G04", "2025-02-04", "drug")
            .product("D2")
            .event("Headache")
            .unlabelled()
            .sentinel(),
    )
    .add(
        case("G05", "2025-02-05", "drug")
            .product("D1")
            .event("Myocarditis"),
    )
    .add(
        case("G06", "2025-02-06", "drug")
            .product("D1")
            .event("Myocarditis"),
    )
    .add(
        case("G07", "2025-02-07", "drug")
            .product("D1")
            .event("Rash"),
    )
    .add(
        case("G08", "2025-02-08", "drug")
            .product("D9")
            .event("Myocarditis"),
    )
    .add(
        case("G09", "2025-03-01", "drug")
            .batch("D9", "B250301")
            .event("Rash"),
    )
    .add(
        case("G10", "2025-03-03", "drug")
            .region("330200")
            .batch("D9", "B250301")
            .event("Rash"),
    )
    .add(
        case("G11", "2025-03-07", "drug")
            .batch("D9", "B250301")
            .event("Rash"),
    )
    .add(
        case("G12", "2025-11-20", "device")
            .product("M1")
            .event("Device breakage")
            .serious(),
    )
    .many(20, "GB", |id| {
        let r = case(id, "2025-04-01", "drug").product("D9").event("Rash");
        if id <= "GB007" {
            r.sentinel()
        } else {
            r
        }
    });
    db
}

/// A complete alert object of the golden year: `fields` over the defaults (status new in
/// 2025, and every subject field null).
fn golden(fields: Json) -> Json {
    let mut a = json!({
        "alert_id": null, "kind": null, "priority": null, "status": "new",
        "period": "2025", "first_period": "2025", "class": null,
        "product_id": null, "product_name": null, "event": null, "region": null,
        "region_name": null, "batch": null, "case_id": null,
        "rule": null, "threshold": null, "value": null, "numbers": null,
        "message_en": null, "message_zh": null, "due_date": null, "overdue": null,
        "topic_id": null, "topic_state": null,
    });
    for (k, v) in fields.as_object().expect("an object") {
        assert!(a.get(k).is_some(), "`{k}` is not an alert field");
        a[k] = v.clone();
    }
    // The regions' names as the Ministry of Civil Affairs lists them (GB/T 2260).
    a["region_name"] = match a["region"].as_str() {
        Some("330000") => json!("浙江省"),
        Some("330100") => json!("杭州市"),
        Some("330200") => json!("宁波市"),
        Some(other) => panic!("no name known to this test for {other}"),
        None => Json::Null,
    };
    a
}

/// A case alert's numbers.
fn case_numbers(fatal: bool, serious: bool, new: bool, received: &str) -> Json {
    json!({"fatal": fatal, "serious": serious, "new": new, "received_date": received})
}

/// The README's columns of `alerts.csv`, in order.
const ALERTS_CSV_HEADER: &str =
    "alert_id,kind,priority,status,due_date,overdue,topic_id,topic_state,period,first_period,class,\
product_id,product_name,event,region,region_name,batch,case_id,rule,threshold,value,numbers,message_en,\
message_zh";

#[test]
fn golden_alerts_of_every_kind() {
    let fx = Fixture::empty();
    golden_db().write(&fx, G_REGISTRY, G_POPULATIONS);
    fx.pipeline("", &format!("{G_PIPELINE}{FIXED_PRIOR}"));
    fx.run_pipeline(&[]).expect_ok();
    let alerts = read_alerts(&fx.p("out/period=2025/alerts.jsonl"));

    // Due dates (CONTEXT.md §4.2) count from each case's first receipt, a cluster's third
    // case, or, for signals and rates, the data cut-off: the latest received date, G12's
    // 2025-11-20 (before as_of). Overdue = due before 2025-11-20.
    // D1 × Myocarditis, a = 3, b = 1, c = 1, d = 25, n = 30:
    // E = 4·4/30 = 0.5333; PRR = (3/4)/(1/26) = 19.5; Yates' χ² = 30·(|3·25 − 1·1| − 15)² /
    // (4·26·4·26) = 30·59²/10816 = 9.655; ROR = 75, lower bound 75·exp(−z·√(1/3+1+1+1/25))
    // = 3.662; IC025 = log2 of the 2.5% quantile of Gamma(3.5, rate 0.5 + E) = −0.290.
    // PRR (a ≥ 3, 19.5 ≥ 2, 9.66 ≥ 4) and ROR (3.66 > 1) flag it; IC025 < 0 and EB05 < 2
    // do not: 2 of 4 methods.
    let e = 16.0 / 30.0;
    let chi2 = 30.0 * 59.0 * 59.0 / 10816.0;
    let ror_lower = 75.0 * (-Z * (1.0 / 3.0 + 1.0 + 1.0 + 1.0 / 25.0_f64).sqrt()).exp();
    let ic025 = Gamma::new(3.5, 0.5 + e)
        .expect("a gamma")
        .inverse_cdf(0.025)
        .log2();
    assert_close(ror_lower, 3.662_114_704_877_749, 1e-12);
    assert_close(ic025, -0.290_394_148_562_670_76, 1e-9);
    // EBGM with the fixed prior (the signals tests check its formula).
    let (ebgm, eb05, eb95) = (
        2.785_413_405_667_65,
        0.625_110_063_689_790_3,
        9.629_401_613_421_02,
    );

    let expected = [
        golden(json!({
            "alert_id": alert_id("case", &["G01", "D1"]),
            // P0 drug death: the same day as its first receipt.
            "due_date": "2025-02-01", "overdue": true,
            "kind": "fatal_report", "priority": "P0", "class": "drug",
            "product_id": "D1", "product_name": "创新药甲注射液", "region": "330100",
            "case_id": "G01",
            "rule": "fatal = true", "threshold": 1.0, "value": 1.0,
            "numbers": case_numbers(true, true, false, "2025-02-01"),
            "message_en": "Death on 创新药甲注射液 (D1) [innovative]: case G01, region 杭州市 (330100), \
                first received 2025-02-01; report immediately.",
            "message_zh": "创新药甲注射液 (D1)（创新药）死亡病例：病例 G01，地区 杭州市 (330100)，\
                2025-02-01 首次收到，应立即报告。",
        })),
        golden(json!({
            "alert_id": alert_id("cluster-batch", &["drug", "D9", "B250301"]),
            // P0: the day its third case (G11) made it a cluster.
            "due_date": "2025-03-07", "overdue": true,
            "kind": "cluster", "priority": "P0", "class": "drug",
            "product_id": "D9", "product_name": "头孢曲松钠注射液", "batch": "B250301",
            "rule": "cases >= 3 within 7 days", "threshold": 3.0, "value": 3.0,
            "numbers": {
                "cases": 3, "case_ids": ["G09", "G10", "G11"],
                "window_start": "2025-03-01", "window_end": "2025-03-07",
                "regions": ["330100", "330200"],
            },
            "message_en": "Possible cluster (群体不良事件): 3 cases of 头孢曲松钠注射液 (D9), \
                batch B250301, first received within 7 days (2025-03-01 to 2025-03-07), \
                regions 杭州市 (330100), 宁波市 (330200); report immediately and investigate.",
            "message_zh": "疑似群体不良事件：头孢曲松钠注射液 (D9)（批号 B250301）7 日内首次\
                收到 3 例（2025-03-01 至 2025-03-07），涉及地区 杭州市 (330100)、宁波市 (330200)；应立即报告并\
                组织调查。",
        })),
        golden(json!({
            "alert_id": alert_id("case", &["G02", "M1"]),
            // device death: 02-02 + 7 days.
            "due_date": "2025-02-09", "overdue": true,
            "kind": "fatal_report", "priority": "P1", "class": "device",
            "product_id": "M1", "product_name": "创新器械丙支架", "region": "330200",
            "case_id": "G02",
            "rule": "fatal = true", "threshold": 1.0, "value": 1.0,
            "numbers": case_numbers(true, true, false, "2025-02-02"),
            "message_en": "Device death on 创新器械丙支架 (M1) [innovative, conditionally \
                approved]: case G02, region 宁波市 (330200), first received 2025-02-02; report \
                within 7 days.",
            "message_zh": "创新器械丙支架 (M1)（创新医疗器械、附条件批准）医疗器械死亡事件：\
                病例 G02，地区 宁波市 (330200)，2025-02-02 首次收到，应于7日内报告。",
        })),
        golden(json!({
            "alert_id": alert_id("signal", &["drug", "D1", "Myocarditis"]),
            // a signal: the data cut-off 11-20 + 15 days.
            "due_date": "2025-12-05", "overdue": false,
            "kind": "new_signal", "priority": "P2", "class": "drug",
            "product_id": "D1", "product_name": "创新药甲注射液", "event": "Myocarditis",
            "rule": "n_methods_flagged >= 1", "threshold": 1.0, "value": 2.0,
            "numbers": {
                "a": 3.0, "expected": e, "prr": 19.5, "chi2": chi2, "ror": 75.0,
                "ror_lower": ror_lower, "ic025": ic025, "ebgm": ebgm, "eb05": eb05,
                "eb95": eb95, "n_methods_flagged": 2.0,
            },
            "message_en": "New signal: 创新药甲注射液 (D1) [innovative] × Myocarditis (drug): \
                3 cases (expected 0.53), EB05 0.63, IC025 -0.29, PRR 19.50 (χ² 9.7), ROR \
                lower bound 3.66; 2 of 4 methods flag it.",
            "message_zh": "新的信号：创新药甲注射液 (D1)（创新药）× Myocarditis（药品）：病例 \
                3 例（期望 0.53），EB05 0.63，IC025 -0.29，PRR 19.50（χ² 9.7），ROR 95% 下限 \
                3.66；4 种方法中 2 种提示信号。请开展信号评价。",
        })),
        // The three P2 case alerts follow in the order of their ids.
        golden(json!({
            "alert_id": alert_id("case", &["G12", "M1"]),
            // device serious injury: 11-20 + 20 days.
            "due_date": "2025-12-10", "overdue": false,
            "kind": "serious_report", "priority": "P2", "class": "device",
            "product_id": "M1", "product_name": "创新器械丙支架", "region": "330100",
            "case_id": "G12",
            "rule": "is_serious or is_new = true", "threshold": 1.0, "value": 1.0,
            "numbers": case_numbers(false, true, false, "2025-11-20"),
            "message_en": "Serious injury on 创新器械丙支架 (M1) [innovative, conditionally \
                approved]: case G12, region 杭州市 (330100), first received 2025-11-20; report \
                within 20 days.",
            "message_zh": "创新器械丙支架 (M1)（创新医疗器械、附条件批准）严重伤害事件：病例 \
                G12，地区 杭州市 (330100)，2025-11-20 首次收到，应于20日内报告。",
        })),
        golden(json!({
            "alert_id": alert_id("case", &["G04", "D2"]),
            // new report: 02-04 + 15 days.
            "due_date": "2025-02-19", "overdue": true,
            "kind": "serious_report", "priority": "P2", "class": "drug",
            "product_id": "D2", "product_name": "集采药乙片", "region": "330100",
            "case_id": "G04",
            "rule": "is_serious or is_new = true", "threshold": 1.0, "value": 1.0,
            "numbers": case_numbers(false, false, true, "2025-02-04"),
            "message_en": "New (unlabelled) reaction on 集采药乙片 (D2) [centrally procured]: \
                case G04, region 杭州市 (330100), first received 2025-02-04; report within 15 days.",
            "message_zh": "集采药乙片 (D2)（集采中选）新的不良反应病例：病例 G04，地区 \
                杭州市 (330100)，2025-02-04 首次收到，应于15日内报告。",
        })),
        golden(json!({
            "alert_id": alert_id("case", &["G03", "D2"]),
            // serious report: 02-03 + 15 days.
            "due_date": "2025-02-18", "overdue": true,
            "kind": "serious_report", "priority": "P2", "class": "drug",
            "product_id": "D2", "product_name": "集采药乙片", "region": "330100",
            "case_id": "G03",
            "rule": "is_serious or is_new = true", "threshold": 1.0, "value": 1.0,
            "numbers": case_numbers(false, true, false, "2025-02-03"),
            "message_en": "Serious report on 集采药乙片 (D2) [centrally procured]: case G03, \
                region 杭州市 (330100), first received 2025-02-03; report within 15 days.",
            "message_zh": "集采药乙片 (D2)（集采中选）严重病例：病例 G03，地区 杭州市 (330100)，\
                2025-02-03 首次收到，应于15日内报告。",
        })),
        golden(json!({
            "alert_id": alert_id("rate", &["province", "330000", "drug"]),
            // rates: the cut-off + 30 days.
            "due_date": "2025-12-20", "overdue": false,
            "kind": "rate_below_target", "priority": "P3", "class": "drug",
            "region": "330000",
            "rule": "attainment >= 1 (annualized_per_million / target_per_million)",
            "threshold": 1.0, "value": 0.3,
            "numbers": {
                "level": "province", "reports": 30.0, "annualized_per_million": 300.0,
                "target_per_million": 1000.0, "attainment": 0.3,
            },
            "message_en": "Reporting rate below target: 浙江省 (330000), drug: 300.0 reports \
                per million population (annualised) against a target of 1000: 30.0% \
                attained.",
            "message_zh": "报告率未达标：浙江省 (330000)，药品每百万人口平均报告数（年化）\
                300.0，目标 1000，完成 30.0%。",
        })),
        golden(json!({
            "alert_id": alert_id("sentinel", &["province", "330000", "drug"]),
            // the cut-off + 30 days.
            "due_date": "2025-12-20", "overdue": false,
            "kind": "sentinel_quality_below_target", "priority": "P3", "class": "drug",
            "region": "330000",
            "rule": "sentinel_new_or_serious_share >= new_or_serious_target",
            "threshold": 0.4, "value": 0.3,
            "numbers": {
                "level": "province", "sentinel_reports": 10.0,
                "sentinel_new_or_serious_share": 0.3, "new_or_serious_target": 0.4,
                "sentinel_serious_share": 0.2, "serious_target": 0.18,
            },
            "message_en": "Sentinel-hospital report quality below target: 浙江省 (330000), \
                drug: new-or-serious share 30.0% (target 40.0%), serious share 20.0% \
                (target 18.0%), of 10 sentinel reports.",
            "message_zh": "哨点医院报告质量未达标：浙江省 (330000)，药品新的和严重报告比例 \
                30.0%（目标 40.0%），严重报告比例 20.0%（目标 18.0%），哨点报告 10 份。",
        })),
    ];
    let kinds: Vec<&str> = alerts.iter().map(|a| s(a, "kind")).collect();
    assert_eq!(
        alerts.len(),
        expected.len(),
        "{kinds:?}: no alert for the concomitant D2 on G01, none for the unwatched D9's \
         cases, and no other signal"
    );
    for (i, (a, want)) in alerts.iter().zip(&expected).enumerate() {
        assert_json_matches(a, want, &format!("alerts[{i}] ({})", s(want, "kind")));
    }
    assert_most_urgent_first(&alerts);

    // The alert's numbers are the signals table's, exactly.
    let sig = read_parquet(&fx.p("out/period=2025/signals.parquet"));
    let r = sig.row_where(&[("product_id", "D1"), ("event", "Myocarditis")]);
    let line = jsonl_text(&fx, "2025")
        .lines()
        .nth(3)
        .expect("line 4")
        .to_string();
    for k in ["ebgm", "eb05", "eb95", "ic025", "chi2", "prr", "ror_lower"] {
        assert_eq!(raw_f64(&line, k), sig.get(r, k).float(), "{k}");
    }

    // alerts.csv: a byte-order mark, the documented header, then the same alerts in the
    // same order, `numbers` as a JSON object in one cell and Chinese intact.
    let bytes = fs::read(fx.p("out/period=2025/alerts.csv")).expect("alerts.csv");
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "a UTF-8 byte-order mark for Excel"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    assert_eq!(text.lines().next(), Some(ALERTS_CSV_HEADER));
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let records: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("a record")).collect();
    assert_eq!(records.len(), alerts.len());
    for (i, (rec, a)) in records.iter().zip(&alerts).enumerate() {
        assert_eq!(rec.len(), header.len(), "record {i}");
        for (field, cell) in header.iter().zip(rec.iter()) {
            let want = &a[field.as_str()];
            match field.as_str() {
                "threshold" | "value" => {
                    assert_eq!(
                        cell.parse::<f64>().ok(),
                        want.as_f64(),
                        "record {i} {field}"
                    )
                }
                "numbers" => assert_eq!(
                    &serde_json::from_str::<Json>(cell).expect("numbers is JSON"),
                    want,
                    "record {i} {field}"
                ),
                "overdue" => assert_eq!(
                    cell.parse::<bool>().ok(),
                    want.as_bool(),
                    "record {i} {field}"
                ),
                _ => assert_eq!(cell, want.as_str().unwrap_or(""), "record {i} {field}"),
            }
        }
    }
    let zh = header
        .iter()
        .position(|h| h == "message_zh")
        .expect("message_zh");
    assert!(records[0][zh].contains("死亡病例"), "{:?}", &records[0]);
}

// ---------------------------------------------------------------------------------------
// The demo, 2024 then 2025 in one output folder.

/// One period of the demo, read back.
struct DemoPeriod {
    /// `alerts.jsonl`'s lines, and each parsed.
    lines: Vec<String>,
    alerts: Vec<Json>,
    manifest: Json,
    screening: Table,
    signals: Table,
    review: String,
}

struct DemoRuns {
    y2024: DemoPeriod,
    y2025: DemoPeriod,
}

/// `pipelines/demo.toml` for 2024 and then 2025 (its own period) into one temporary
/// output folder, run once for all the tests that read it.
fn demo() -> &'static DemoRuns {
    static DEMO: std::sync::OnceLock<DemoRuns> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| {
        let fx = Fixture::empty();
        let toml = repo().join("pipelines/demo.toml").display().to_string();
        let out = fx.ps("out");
        let args = ["run", toml.as_str(), "--out", out.as_str()];
        fx.run(&[&args[..], &["--period", "2024"]].concat())
            .expect_ok();
        fx.run(&args).expect_ok();
        let read = |period: &str| {
            let dir = period_dir(&fx.p("out"), period);
            let text = fs::read_to_string(dir.join("alerts.jsonl")).expect("alerts.jsonl");
            DemoPeriod {
                lines: text.lines().map(str::to_string).collect(),
                alerts: read_alerts(&dir.join("alerts.jsonl")),
                manifest: read_json(&dir.join("manifest.json")),
                screening: read_parquet(&dir.join("screening.parquet")),
                signals: read_parquet(&dir.join("signals.parquet")),
                review: fs::read_to_string(dir.join("review.html")).expect("review.html"),
            }
        };
        DemoRuns {
            y2024: read("2024"),
            y2025: read("2025"),
        }
    })
}

const KINDS: [&str; 7] = [
    "new_signal",
    "strengthened_signal",
    "fatal_report",
    "serious_report",
    "cluster",
    "rate_below_target",
    "sentinel_quality_below_target",
];

fn count_by<'a>(alerts: &'a [Json], field: &str) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for a in alerts {
        *m.entry(s(a, field)).or_default() += 1;
    }
    m
}

#[test]
fn demo_2025_raises_every_kind_of_alert() {
    let d = demo();
    let by_kind = count_by(&d.y2025.alerts, "kind");
    for kind in KINDS {
        assert!(
            by_kind.contains_key(kind),
            "no `{kind}` alert in the demo's 2025 run: {by_kind:?}"
        );
    }
    // The manifest counts the same alerts.
    let m = &d.y2025.manifest["alerts"];
    assert_eq!(m["total"], d.y2025.alerts.len());
    let manifest_kinds: BTreeMap<String, usize> = m["by_kind"]
        .as_object()
        .expect("alerts.by_kind")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().expect("a count") as usize))
        .collect();
    let file_kinds: BTreeMap<String, usize> =
        by_kind.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(manifest_kinds, file_kinds);
}

#[test]
fn demo_alerts_are_unique_ordered_and_have_both_messages() {
    let d = demo();
    for (year, p) in [("2024", &d.y2024), ("2025", &d.y2025)] {
        let ids: BTreeSet<&str> = p.alerts.iter().map(|a| s(a, "alert_id")).collect();
        assert_eq!(ids.len(), p.alerts.len(), "{year}: alert_ids are unique");
        assert_most_urgent_first(&p.alerts);
        for a in &p.alerts {
            assert_eq!(a["period"], year, "{a}");
            assert!(KINDS.contains(&s(a, "kind")), "{a}");
            assert!(!s(a, "message_en").trim().is_empty(), "{a}");
            assert!(!s(a, "message_zh").trim().is_empty(), "{a}");
            assert!(
                s(a, "message_zh")
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "message_zh is Chinese: {a}"
            );
            assert!(a["numbers"].is_object(), "{a}");
            assert!(a["threshold"].is_number() && a["value"].is_number(), "{a}");
            // Every rule the rules write reads in Chinese on a Chinese page.
            let rule = s(a, "rule");
            let zh = pvwatch::alerts::rule_text::rule_zh(rule);
            assert!(zh != rule && !zh.contains('_'), "{rule} -> {zh}");
            let id = s(a, "alert_id");
            let family = match s(a, "kind") {
                "new_signal" | "strengthened_signal" => "signal-",
                "fatal_report" | "serious_report" => "case-",
                "cluster" => "cluster-",
                "rate_below_target" => "rate-",
                _ => "sentinel-",
            };
            assert!(id.starts_with(family), "{id} for {}", s(a, "kind"));
        }
    }
}

#[test]
fn demo_planted_clusters_are_p0_cluster_alerts() {
    let d = demo();
    let c = the(
        &d.y2025.alerts,
        "cluster",
        &[("product_id", "D002"), ("batch", "B250611")],
    );
    assert_eq!(
        c["alert_id"],
        alert_id("cluster-batch", &["drug", "D002", "B250611"])
    );
    assert_eq!(
        (s(c, "priority"), s(c, "status"), s(c, "first_period")),
        ("P0", "new", "2025")
    );
    assert_eq!(
        (s(c, "class"), s(c, "product_name")),
        ("drug", "头孢曲松钠注射液")
    );
    assert_json_matches(
        &c["numbers"],
        &json!({
            "cases": 5,
            "case_ids": ["C006007", "C006008", "C006009", "C006010", "C006011"],
            "window_start": "2025-06-12",
            "window_end": "2025-06-17",
            "regions": ["330100", "330600"],
        }),
        "numbers",
    );
    assert_eq!(
        (c["threshold"].as_f64(), c["value"].as_f64()),
        (Some(3.0), Some(5.0))
    );
    // The only cluster that fires in 2025; 2024's infusion-set cluster is resolved.
    let open: Vec<&Json> = d
        .y2025
        .alerts
        .iter()
        .filter(|a| a["kind"] == "cluster" && a["status"] != "resolved")
        .collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    let m = the(&d.y2024.alerts, "cluster", &[("batch", "B240903")]);
    assert_eq!(
        (s(m, "product_id"), s(m, "class"), s(m, "priority")),
        ("M004", "device", "P0")
    );
    assert_eq!(
        m["numbers"]["case_ids"],
        json!(["C006012", "C006013", "C006014"])
    );
    let r = the(&d.y2025.alerts, "cluster", &[("batch", "B240903")]);
    assert_eq!((s(r, "status"), s(r, "first_period")), ("resolved", "2024"));
}

#[test]
fn demo_planted_signals_have_signal_alerts_and_the_non_signal_has_none() {
    let d = demo();
    for (product, event, a) in [
        ("D008", "Myocarditis", 16.0),
        ("D008", "Immune-mediated hepatitis", 14.0),
        ("M001", "Thrombosis", 15.0),
    ] {
        let hits: Vec<&Json> = d
            .y2025
            .alerts
            .iter()
            .filter(|x| x["product_id"] == product && x["event"] == event)
            .collect();
        assert_eq!(hits.len(), 1, "{product} × {event}: {hits:#?}");
        let x = hits[0];
        assert!(
            ["new_signal", "strengthened_signal"].contains(&s(x, "kind")),
            "{x}"
        );
        assert_ne!(x["status"], "resolved", "{x}");
        assert_eq!(x["priority"], "P2");
        assert_eq!(x["numbers"]["a"].as_f64(), Some(a), "{product} × {event}");
        let class = if product.starts_with('M') {
            "device"
        } else {
            "drug"
        };
        assert_eq!(x["alert_id"], alert_id("signal", &[class, product, event]));
    }
    assert!(
        !d.y2025
            .alerts
            .iter()
            .any(|x| x["product_id"] == "D005" && x["event"] == "Headache"),
        "the planted non-signal D005 × Headache has no alert"
    );
}

/// Statuses in 2025 are relative to 2024: `new` exactly when the id was not open in 2024
/// (with `first_period` 2025), `ongoing` or `escalated` when it was (keeping 2024's
/// `first_period`), and every 2024 alert that is not a case alert and does not fire again
/// comes back once as `resolved`.
#[test]
fn demo_2025_statuses_are_against_2024() {
    let d = demo();
    assert_eq!(d.y2024.manifest["alerts"]["previous_period"], Json::Null);
    assert_eq!(d.y2025.manifest["alerts"]["previous_period"], "2024");
    for a in &d.y2024.alerts {
        assert_eq!(ksf(a).1, "new", "{a}");
        assert_eq!(a["first_period"], "2024", "{a}");
    }
    let open_2024: BTreeMap<&str, &Json> = d
        .y2024
        .alerts
        .iter()
        .filter(|a| a["status"] != "resolved")
        .map(|a| (s(a, "alert_id"), a))
        .collect();
    let mut seen = BTreeSet::new();
    for a in &d.y2025.alerts {
        let id = s(a, "alert_id");
        seen.insert(id);
        let prev = open_2024.get(id);
        match (s(a, "status"), prev) {
            ("new", None) => assert_eq!(a["first_period"], "2025", "{a}"),
            ("ongoing", Some(p)) => {
                assert_eq!(a["first_period"], p["first_period"], "{a}");
                assert_eq!(a["priority"], p["priority"], "{a}");
                assert_ne!(a["kind"], "strengthened_signal", "{a}");
            }
            ("escalated", Some(p)) => {
                assert_eq!(a["first_period"], p["first_period"], "{a}");
                assert!(
                    a["kind"] == "strengthened_signal" || priority_rank(a) < priority_rank(p),
                    "{a}"
                );
            }
            ("resolved", Some(p)) => {
                assert_eq!(a["first_period"], p["first_period"], "{a}");
                assert_eq!(a["kind"], p["kind"], "{a}");
            }
            (status, prev) => panic!("status {status} with previous {prev:?}: {a}"),
        }
        if a["kind"] == "strengthened_signal" {
            assert_eq!(a["status"], "escalated", "{a}");
        }
    }
    // A 2024 alert that does not fire in 2025 is resolved, except case alerts, which
    // expire with their period.
    for (id, p) in &open_2024 {
        let case_alert = ["fatal_report", "serious_report"].contains(&s(p, "kind"));
        let resolved = d
            .y2025
            .alerts
            .iter()
            .any(|a| a["alert_id"] == *id && a["status"] == "resolved");
        if case_alert {
            // It fires again only for a follow-up received in 2025, under the same id.
            if let Some(a) = d.y2025.alerts.iter().find(|a| a["alert_id"] == *id) {
                assert_ne!(a["status"], "resolved", "case alerts never resolve: {a}");
                assert_eq!(a["first_period"], p["first_period"], "{a}");
            }
        } else {
            assert!(seen.contains(id), "2024's {p} is missing from 2025");
            if resolved {
                assert!(
                    !d.y2025
                        .alerts
                        .iter()
                        .any(|a| a["alert_id"] == *id && a["status"] != "resolved"),
                    "{id}"
                );
            }
        }
    }
    let statuses = count_by(&d.y2025.alerts, "status");
    for status in ["new", "ongoing", "escalated", "resolved"] {
        assert!(
            statuses.contains_key(status),
            "no `{status}` alert: {statuses:?}"
        );
    }
}

/// The carried numbers of a strengthened signal (`eb05_previous`, `ic025_previous`) and of
/// a resolved alert are the previous run's numbers, bit for bit.
#[test]
fn demo_carried_numbers_are_the_previous_runs_exactly() {
    let d = demo();
    let line_2024 = |id: &str| -> &str {
        d.y2024
            .lines
            .iter()
            .find(|l| l.contains(&format!("\"alert_id\":\"{id}\"")))
            .unwrap_or_else(|| panic!("{id} not in 2024"))
    };
    let mut drift = Vec::new();
    for (line, a) in d.y2025.lines.iter().zip(&d.y2025.alerts) {
        let id = s(a, "alert_id");
        let pairs: Vec<(&str, &str)> = match s(a, "status") {
            _ if a["kind"] == "strengthened_signal" => {
                vec![("eb05_previous", "eb05"), ("ic025_previous", "ic025")]
            }
            "resolved" => a["numbers"]
                .as_object()
                .expect("numbers")
                .iter()
                .filter(|(_, v)| v.is_f64())
                .map(|(k, _)| (k.as_str(), k.as_str()))
                .collect(),
            _ => continue,
        };
        let prev = line_2024(id);
        let numbers = |l: &str| l[l.find("\"numbers\":").expect("numbers")..].to_string();
        for (now_key, prev_key) in pairs {
            let (x, y) = (
                raw_f64(&numbers(line), now_key),
                raw_f64(&numbers(prev), prev_key),
            );
            if x != y {
                drift.push(format!("{id} {now_key} {x} vs 2024 {prev_key} {y}"));
            }
        }
    }
    assert!(drift.is_empty(), "{drift:#?}");
}

/// The columns of `screening.parquet`, in order, with what each holds.
const SCREENING_COLUMNS: &[(&str, DataType)] = &[
    ("period", DataType::LargeUtf8),
    ("class", DataType::LargeUtf8),
    ("product_id", DataType::LargeUtf8),
    ("product_name", DataType::LargeUtf8),
    ("innovative", DataType::Boolean),
    ("conditional", DataType::Boolean),
    ("procured", DataType::Boolean),
    ("holder", DataType::LargeUtf8),
    ("cases", DataType::Int64),
    ("serious_cases", DataType::Int64),
    ("fatal_cases", DataType::Int64),
    ("cumulative_cases", DataType::Int64),
    ("signals", DataType::Int64),
    ("signal_events", DataType::LargeUtf8),
    ("open_alerts", DataType::Int64),
    ("p0_alerts", DataType::Int64),
    ("previous_period", DataType::LargeUtf8),
    ("previous_cases", DataType::Int64),
    ("cases_change", DataType::Int64),
    ("previous_signals", DataType::Int64),
    ("signals_change", DataType::Int64),
    ("trend", DataType::LargeUtf8),
];

/// Every column in order; text is plain UTF-8 (Utf8 or LargeUtf8, never Utf8View).
#[track_caller]
fn assert_screening_schema(t: &Table) {
    let names: Vec<&str> = t
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let want: Vec<&str> = SCREENING_COLUMNS.iter().map(|(c, _)| *c).collect();
    assert_eq!(names, want, "screening.parquet columns");
    for (field, (name, ty)) in t.schema.fields().iter().zip(SCREENING_COLUMNS) {
        let ok = match ty {
            DataType::LargeUtf8 => {
                matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8)
            }
            other => field.data_type() == other,
        };
        assert!(
            ok,
            "column `{name}` is {}, expected {ty}",
            field.data_type()
        );
    }
}

/// The products of `sample-data/products.csv` that the demo watches (innovative,
/// conditional or procured), with their class.
fn demo_watched_products() -> BTreeMap<String, String> {
    let mut rdr = csv::Reader::from_path(repo().join("sample-data/products.csv"))
        .expect("sample-data/products.csv");
    let headers = rdr.headers().expect("a header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (id, class) = (col("product_id"), col("class"));
    let flags = [col("innovative"), col("conditional"), col("procured")];
    rdr.records()
        .map(|r| r.expect("a record"))
        .filter(|r| {
            flags
                .iter()
                .any(|&i| matches!(r[i].to_lowercase().as_str(), "true" | "1" | "yes" | "是"))
        })
        .map(|r| (r[id].to_string(), r[class].to_string()))
        .collect()
}

#[test]
fn demo_screening_has_one_row_per_watched_product_and_agrees_with_the_alerts() {
    let d = demo();
    let watched = demo_watched_products();
    assert_eq!(watched.len(), 17, "the sample registry's watched products");
    for (year, p) in [("2024", &d.y2024), ("2025", &d.y2025)] {
        let t = &p.screening;
        assert_screening_schema(t);
        let rows: BTreeMap<String, String> = (0..t.rows.len())
            .map(|r| {
                (
                    t.get(r, "product_id").str().to_string(),
                    t.get(r, "class").str().to_string(),
                )
            })
            .collect();
        assert_eq!(rows.len(), t.rows.len(), "{year}: one row per product");
        assert_eq!(
            rows, watched,
            "{year}: the watched products and their class"
        );

        // open_alerts and p0_alerts count this run's alerts that are not resolved.
        let mut open: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for a in p.alerts.iter().filter(|a| a["status"] != "resolved") {
            if let Some(pid) = a["product_id"].as_str() {
                let e = open.entry(pid).or_default();
                e.0 += 1;
                e.1 += i64::from(a["priority"] == "P0");
            }
        }
        // signals counts the product's rows of signals.parquet with is_signal.
        let mut signals: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let sig = &p.signals;
        for r in 0..sig.rows.len() {
            if sig.get(r, "is_signal").bool() {
                signals
                    .entry(sig.get(r, "product_id").str().to_string())
                    .or_default()
                    .push(sig.get(r, "event").str().to_string());
            }
        }
        for r in 0..t.rows.len() {
            let pid = t.get(r, "product_id").str();
            let int = |c: &str| t.get(r, c).int();
            assert_eq!(t.get(r, "period").str(), year);
            let (o, p0) = open.get(pid).copied().unwrap_or((0, 0));
            assert_eq!(
                (int("open_alerts"), int("p0_alerts")),
                (o, p0),
                "{year} {pid}"
            );
            let events = signals.get(pid).cloned().unwrap_or_default();
            assert_eq!(int("signals"), events.len() as i64, "{year} {pid}");
            if events.is_empty() {
                assert!(t.get(r, "signal_events").is_null(), "{year} {pid}");
            } else {
                assert_eq!(t.get(r, "signal_events").str(), events.join("; "));
            }
            assert!(
                int("serious_cases") <= int("cases") && int("fatal_cases") <= int("serious_cases")
            );
            assert!(int("cases") <= int("cumulative_cases"), "{year} {pid}");
        }
    }

    // 2024 has no previous run; 2025's is 2024, product by product.
    let (t24, t25) = (&d.y2024.screening, &d.y2025.screening);
    for r in 0..t24.rows.len() {
        for c in [
            "previous_period",
            "previous_cases",
            "cases_change",
            "previous_signals",
            "signals_change",
            "trend",
        ] {
            assert!(
                t24.get(r, c).is_null(),
                "2024 row {r}: {c} without a previous run"
            );
        }
    }
    for r in 0..t25.rows.len() {
        let pid = t25.get(r, "product_id").str();
        let r24 = t24.row_where(&[("product_id", pid)]);
        let int = |c: &str| t25.get(r, c).int();
        assert_eq!(t25.get(r, "previous_period").str(), "2024");
        assert_eq!(int("previous_cases"), t24.get(r24, "cases").int(), "{pid}");
        assert_eq!(
            int("cases_change"),
            int("cases") - int("previous_cases"),
            "{pid}"
        );
        assert_eq!(
            int("previous_signals"),
            t24.get(r24, "signals").int(),
            "{pid}"
        );
        assert_eq!(
            int("signals_change"),
            int("signals") - int("previous_signals"),
            "{pid}"
        );
        assert!(
            ["up", "down", "flat"].contains(&t25.get(r, "trend").str()),
            "{pid}: {:?}",
            t25.get(r, "trend")
        );
        // Cumulative cases grow by the year's cases.
        assert_eq!(
            int("cumulative_cases"),
            t24.get(r24, "cumulative_cases").int() + int("cases"),
            "{pid}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Configuration errors: the full text, exit code 2, nothing written.

/// Run `Fixture::new()`'s pipeline with `alerts` appended, expect exit 2 with nothing
/// written and the same errors from `validate`, and return stderr with the folder as `{d}`.
fn alerts_config_error(alerts: &str) -> String {
    let fx = Fixture::new();
    fx.pipeline("", alerts);
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(r.stdout, "");
    assert!(
        !fx.p("out").exists(),
        "a configuration error writes nothing"
    );
    let v = fx.run(&["validate", &fx.toml()]);
    v.expect_code(2);
    assert_eq!(v.stderr, r.stderr, "validate reports the same errors");
    r.stderr.replace(&fx.d(), "{d}")
}

#[test]
fn strengthened_factor_of_one_is_a_config_error() {
    assert_eq!(
        alerts_config_error("[alerts.strengthened_signal]\nfactor = 1.0\n"),
        "error: {d}/p.toml: alerts.strengthened_signal.factor: expected a number > 1, \
         found `1`\n"
    );
}

#[test]
fn cluster_of_one_case_is_a_config_error() {
    assert_eq!(
        alerts_config_error("[alerts.cluster]\nmin_cases = 1\n"),
        "error: {d}/p.toml: alerts.cluster.min_cases: expected a whole number >= 2, \
         found `1`\n"
    );
}

#[test]
fn unknown_cluster_key_is_a_config_error_with_its_line() {
    assert_eq!(
        alerts_config_error("[alerts.cluster]\nwindow = 3\n"),
        "error: {d}/p.toml: alerts.cluster.window: unknown field `window`, expected one of \
         `enabled`, `min_cases`, `window_days`, `by_region`, `region_min_cases` (line 12)\n"
    );
}

#[test]
fn every_alerts_config_error_is_reported_together() {
    assert_eq!(
        alerts_config_error(
            "[alerts.strengthened_signal]\nfactor = 0.5\n\n[alerts.cluster]\nmin_cases = 1\n\
             window_days = 0\nregion_min_cases = 1\n"
        ),
        "\
error: {d}/p.toml: alerts.strengthened_signal.factor: expected a number > 1, found `0.5`
error: {d}/p.toml: alerts.cluster.min_cases: expected a whole number >= 2, found `1`
error: {d}/p.toml: alerts.cluster.window_days: expected a whole number >= 1, found `0`
error: {d}/p.toml: alerts.cluster.region_min_cases: expected a whole number >= 2, found `1`
"
    );
}

/// A watched product's case whose seriousness or outcome is unreadable is kept, with the
/// value nulled, and raises one P3 `data_quality` alert naming what is missing; the null
/// is neither serious nor fatal for the case rules. A case on an unwatched product raises
/// nothing.
#[test]
fn null_seriousness_or_outcome_on_a_watched_case_is_a_p3_data_quality_alert() {
    let mut db = quarterly_db();
    db.add(
        case("QN1", "2025-02-20", "drug")
            .product("D1")
            .event("Myocarditis"),
    )
    .add(
        case("QN2", "2025-02-21", "drug")
            .product("D9")
            .event("Rash"),
    );
    // QN1 (watched D1): is_serious unreadable, fatal empty; QN2 (D9, not watched): both.
    let n = db.reports.len();
    for (row, serious, fatal) in [(n - 2, "perhaps", ""), (n - 1, "perhaps", "")] {
        let mut cells: Vec<String> = db.reports[row].split(',').map(str::to_string).collect();
        cells[9] = serious.to_string();
        cells[10] = fatal.to_string();
        db.reports[row] = cells.join(",");
    }
    let fx = quarterly_fixture(&db);
    let q1 = run_period(&fx, "2025-Q1");
    let dq: Vec<&Json> = q1.iter().filter(|a| a["kind"] == "data_quality").collect();
    assert_eq!(dq.len(), 1, "{dq:?}");
    let a = dq[0];
    assert_eq!(
        (
            s(a, "alert_id"),
            s(a, "priority"),
            s(a, "case_id"),
            s(a, "product_id"),
            s(a, "status")
        ),
        (
            alert_id("data_quality", &["QN1"]).as_str(),
            "P3",
            "QN1",
            "D1",
            "new"
        )
    );
    assert_eq!(
        a["numbers"]["missing"],
        serde_json::json!(["seriousness", "outcome"])
    );
    assert!(s(a, "message_zh").contains("严重程度和是否死亡"), "{a}");
    // Neither case is serious or fatal for the case rules.
    assert!(!q1
        .iter()
        .any(|a| a["case_id"] == "QN1" && a["kind"] != "data_quality"));
    let rejects = read_rejects(&fx.p("out/period=2025-Q1/rejects.csv"));
    assert_eq!(
        rejects[1..]
            .iter()
            .filter(|l| l.ends_with(",cell nulled") && l.contains(",is_serious,perhaps,"))
            .count(),
        2
    );
}

// ---------------------------------------------------------------------------------------
// Due dates on the demo, against an independent reading of sample-data/reports.csv.

fn day(text: &str) -> chrono::NaiveDate {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` is not a date: {e}"))
}

fn plus(d: chrono::NaiveDate, days: u64) -> chrono::NaiveDate {
    d + chrono::Days::new(days)
}

/// Each case's first receipt as of `cutoff`, read straight from the sample reports: the
/// earliest received_date among its rows that a run keeps (a real date on or before the
/// cut-off, a known class, a 6-digit region, the first row of its report_id); and the
/// latest such date (the data cut-off).
fn sample_first_receipts(
    cutoff: chrono::NaiveDate,
) -> (BTreeMap<String, chrono::NaiveDate>, chrono::NaiveDate) {
    let mut rdr = csv::Reader::from_path(repo().join("sample-data/reports.csv")).expect("reports");
    let header = rdr.headers().expect("a header").clone();
    let at = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (rid, cid, rec, class, region) = (
        at("report_id"),
        at("case_id"),
        at("received_date"),
        at("class"),
        at("region"),
    );
    let mut seen = BTreeSet::new();
    let mut first: BTreeMap<String, chrono::NaiveDate> = BTreeMap::new();
    let mut latest = None;
    for r in rdr.records() {
        let r = r.expect("a record");
        let Ok(date) = r[rec].parse::<chrono::NaiveDate>() else {
            continue;
        };
        let kept = ["drug", "device", "cosmetic"].contains(&&r[class])
            && r[region].len() == 6
            && r[region].bytes().all(|b| b.is_ascii_digit())
            && seen.insert(r[rid].to_string());
        if !kept || date > cutoff {
            continue;
        }
        let case = if r[cid].is_empty() { &r[rid] } else { &r[cid] };
        let e = first.entry(case.to_string()).or_insert(date);
        *e = (*e).min(date);
        latest = latest.max(Some(date));
    }
    (first, latest.expect("some reports"))
}

#[test]
fn demo_due_dates_count_from_each_first_receipt_and_the_deadlines() {
    let d = demo();
    let (first, latest) = sample_first_receipts(day("2025-12-31"));
    let cutoff = day(s(&d.y2025.manifest, "data_cutoff"));
    assert_eq!(
        cutoff, latest,
        "the data cut-off is the latest received date"
    );
    // Signals and rate alerts still open from 2024 keep the due date they got then.
    let due_2024: BTreeMap<&str, chrono::NaiveDate> = d
        .y2024
        .alerts
        .iter()
        .filter(|a| s(a, "status") != "resolved")
        .map(|a| (s(a, "alert_id"), day(s(a, "due_date"))))
        .collect();
    let mut checked: BTreeMap<(&str, &str, bool), usize> = BTreeMap::new();
    for a in &d.y2025.alerts {
        let (kind, class) = (s(a, "kind"), s(a, "class"));
        let due = day(s(a, "due_date"));
        let overdue = a["overdue"].as_bool().expect("overdue is a bool");
        if s(a, "status") == "resolved" {
            assert!(!overdue, "a resolved alert is not overdue: {a}");
            continue;
        }
        let n = &a["numbers"];
        let want = match kind {
            "fatal_report" | "serious_report" | "data_quality" => {
                let received = first[s(a, "case_id")];
                // The alert's own record of the receipt agrees with the input.
                assert_eq!(
                    day(n["received_date"].as_str().expect("received")),
                    received
                );
                let injury = n["serious"] == true || n["fatal"] == true;
                let days = match (kind, class) {
                    ("fatal_report", "device") => 7,
                    ("fatal_report", _) => 0,
                    ("serious_report", "device") if injury => 20,
                    ("serious_report", _) => 15,
                    _ => 30,
                };
                plus(received, days)
            }
            "cluster" => {
                let mut days: Vec<chrono::NaiveDate> = n["case_ids"]
                    .as_array()
                    .expect("case ids")
                    .iter()
                    .map(|c| first[c.as_str().expect("a case id")])
                    .collect();
                days.sort();
                let min = a["threshold"].as_f64().expect("threshold") as usize;
                days[min - 1]
            }
            _ => {
                let days = if kind.ends_with("_signal") { 15 } else { 30 };
                let own = plus(cutoff, days);
                due_2024
                    .get(s(a, "alert_id"))
                    .map_or(own, |&before| own.min(before))
            }
        };
        assert_eq!(due, want, "{a}");
        assert_eq!(overdue, due < cutoff, "{a}");
        *checked
            .entry((kind, s(a, "priority"), overdue))
            .or_default() += 1;
    }
    // The demo has each case: a P0 death due the day it arrived (overdue), serious reports
    // overdue and not yet, and signals carried from 2024 (overdue) beside new ones.
    for key in [
        ("fatal_report", "P0", true),
        ("serious_report", "P2", true),
        ("serious_report", "P2", false),
        ("new_signal", "P2", false),
    ] {
        assert!(checked.contains_key(&key), "{key:?} missing: {checked:?}");
    }
    assert!(
        d.y2025.alerts.iter().any(|a| s(a, "kind") == "new_signal"
            && s(a, "status") == "ongoing"
            && a["overdue"] == true),
        "an ongoing 2024 signal is overdue in 2025: {checked:?}"
    );
}

#[test]
fn demo_review_page_lists_overdue_first_then_by_due_date() {
    let d = demo();
    let by_id: BTreeMap<&str, &Json> = d
        .y2025
        .alerts
        .iter()
        .map(|a| (s(a, "alert_id"), a))
        .collect();
    let start = d
        .y2025
        .review
        .find("<section id=\"alerts\">")
        .expect("alerts");
    let end = start + d.y2025.review[start..].find("</section>").expect("closed");
    let keys: Vec<(&str, bool, &str)> = d.y2025.review[start..end]
        .split("<span class=\"id\">")
        .skip(1)
        .map(|t| {
            let a = by_id[&t[..t.find('<').expect("closed span")]];
            (s(a, "priority"), a["overdue"] != true, s(a, "due_date"))
        })
        .collect();
    assert!(keys.len() > 100, "{}", keys.len());
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "by priority, overdue first, then due date: {keys:?}"
    );
    assert!(d.y2025.review[start..end].contains("overdue\">overdue</span>"));
    // Each priority lists at most `alerts.page_limit` (200) of its open alerts, and a cut
    // keeps the overdue ones, which come first.
    for p in ["P0", "P1", "P2", "P3"] {
        let open: Vec<&Json> = d
            .y2025
            .alerts
            .iter()
            .filter(|a| s(a, "priority") == p && s(a, "status") != "resolved")
            .collect();
        let overdue = open.iter().filter(|a| a["overdue"] == true).count();
        let shown = keys.iter().filter(|k| k.0 == p).count();
        let shown_overdue = keys.iter().filter(|k| k.0 == p && !k.1).count();
        assert_eq!(shown, open.len().min(200), "{p}");
        assert_eq!(shown_overdue, overdue.min(200), "{p}");
        if open.len() > 200 {
            let note = format!("{} more {p} alerts are not listed here", open.len() - 200);
            assert!(d.y2025.review[start..end].contains(&note), "{note}");
        }
    }
}

/// The manifest's alert counts are objects keyed by priority and status (never bare
/// arrays), equal to a recount of `alerts.jsonl`.
#[test]
fn manifest_alert_counts_are_keyed_and_recount_the_alerts() {
    let d = demo();
    let m = &d.y2025.manifest["alerts"];
    let mut open: BTreeMap<String, u64> = ["P0", "P1", "P2", "P3"]
        .iter()
        .map(|p| (p.to_string(), 0))
        .collect();
    let mut status: BTreeMap<String, u64> = ["new", "reopened", "escalated", "ongoing", "resolved"]
        .iter()
        .map(|p| (p.to_string(), 0))
        .collect();
    for a in &d.y2025.alerts {
        if a["status"] != "resolved" {
            *open.get_mut(s(a, "priority")).expect("a priority") += 1;
        }
        *status.get_mut(s(a, "status")).expect("a status") += 1;
    }
    assert_eq!(m["open_by_priority"], json!(open));
    assert_eq!(m["by_status"], json!(status));
    assert_eq!(m["total"], json!(d.y2025.alerts.len()));
    assert!(
        status["resolved"] > 0 && open["P0"] > 0,
        "the demo has both: {status:?} {open:?}"
    );
}
