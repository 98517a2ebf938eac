//! The jurisdiction (`[scope] regions`, `signals.background`) on the Zhejiang pipeline
//! (`pipelines/zhejiang-quarterly.toml`, 2025-Q3, scope `330000`), checked against an
//! independent recount of `sample-data/`'s CSV files:
//!
//! - no alert is raised on a case outside `33xxxx`; the case table and the screening list
//!   hold only Zhejiang's cases;
//! - signals are the same with the default background (`all`) as without a scope, and
//!   with `background = "scope"` their cells are a recount of Zhejiang's cases alone;
//! - the `[scope]` configuration errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

use crate::signals::{date, read_csv};
use crate::util::*;

const PERIOD_END: &str = "2025-09-30";

/// The Zhejiang pipeline's text with its paths made absolute, edited by `edit`.
fn zhejiang_toml(edit: impl Fn(String) -> String) -> String {
    let text = fs::read_to_string(repo().join("pipelines/zhejiang-quarterly.toml"))
        .expect("the shipped Zhejiang pipeline");
    let sample = repo().join("sample-data");
    edit(text.replace("../sample-data", &sample.display().to_string()))
}

/// Run a pipeline text in a fresh folder; returns the folder and the period's output
/// folder (whatever its name's layout, the only folder under `out`).
fn run(text: &str) -> (Fixture, PathBuf) {
    let fx = Fixture::empty();
    fx.write("z.toml", text);
    let toml = fx.ps("z.toml");
    let out = fx.ps("out");
    fx.run(&["run", &toml, "--out", &out]).expect_ok();
    let dirs: Vec<PathBuf> = fs::read_dir(fx.p("out"))
        .expect("the output folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one period folder: {dirs:?}");
    let dir = dirs[0].clone();
    (fx, dir)
}

/// Remove the `[scope]` table (and its comment) from a pipeline text.
fn without_scope(text: String) -> String {
    let start = text.find("[scope]").expect("the pipeline sets a scope");
    let end = start
        + text[start..]
            .find("\n\n")
            .expect("a blank line after [scope]");
    let out = format!("{}{}", &text[..start], &text[end..]);
    assert!(
        !out.contains("[scope]") && !out.contains("330000\"]\n"),
        "{out}"
    );
    out
}

fn with_scope_background(text: String) -> String {
    let out = text.replace("[signals]\n", "[signals]\nbackground = \"scope\"\n");
    assert!(out.contains("background = \"scope\""), "{out}");
    out
}

/// One case of the recount: its class, region, and the counted products
/// and events of its latest version.
struct Case {
    class: String,
    region: String,
    products: BTreeSet<String>,
    events: BTreeSet<String>,
}

/// A version's rank: `version`, then `received_date`, then `report_id`.
type Rank = (i64, chrono::NaiveDate, String);

/// The sample's cases first received by `end` (latest valid version as of `end`), counted
/// from the CSV files without pvwatch's code.
fn sample_cases(end: &str) -> BTreeMap<String, Case> {
    let end = date(end).expect("a test date");
    let dir = repo().join("sample-data");
    let mut seen = BTreeSet::new();
    let mut latest: HashMap<String, (Rank, String, String)> = HashMap::new();
    for r in read_csv(&dir.join("reports.csv")) {
        let v = |c: &str| r.get(c).map(String::as_str).unwrap_or("");
        let class = v("class").to_lowercase();
        let region = v("region").to_string();
        let Some(received) = date(v("received_date")) else {
            continue;
        };
        let valid = !v("report_id").is_empty()
            && ["drug", "device", "cosmetic"].contains(&class.as_str())
            && region.len() == 6
            && region.bytes().all(|b| b.is_ascii_digit());
        if !valid || !seen.insert(v("report_id").to_string()) || received > end {
            continue;
        }
        let case = match v("case_id") {
            "" => v("report_id").to_string(),
            c => c.to_string(),
        };
        let rank = (
            v("version").parse().unwrap_or(1),
            received,
            v("report_id").to_string(),
        );
        let e = latest
            .entry(case)
            .or_insert((rank.clone(), class.clone(), region.clone()));
        if rank > e.0 {
            *e = (rank, class, region);
        }
    }
    let mut cases = BTreeMap::new();
    let mut case_of_report = HashMap::new();
    for (case, ((_, _, report_id), class, region)) in latest {
        case_of_report.insert(report_id, case.clone());
        let c = Case {
            class,
            region,
            products: BTreeSet::new(),
            events: BTreeSet::new(),
        };
        cases.insert(case, c);
    }
    for r in read_csv(&dir.join("report_products.csv")) {
        let concomitant = r
            .get("role")
            .is_some_and(|s| s.to_lowercase() == "concomitant");
        if let (false, Some(case)) = (concomitant, case_of_report.get(&r["report_id"])) {
            if !r["product_id"].is_empty() {
                let c = cases.get_mut(case).expect("a case");
                c.products.insert(r["product_id"].clone());
            }
        }
    }
    for r in read_csv(&dir.join("report_events.csv")) {
        if let Some(case) = case_of_report.get(&r["report_id"]) {
            if !r["event"].is_empty() {
                let c = cases.get_mut(case).expect("a case");
                c.events.insert(r["event"].clone());
            }
        }
    }
    cases
}

fn zhejiang(c: &Case) -> bool {
    c.region.starts_with("33")
}

fn strs(t: &Table, column: &str) -> Vec<String> {
    t.column(column)
        .iter()
        .map(|v| v.str().to_string())
        .collect()
}

#[test]
fn zhejiang_alerts_cases_and_screening_stay_in_33xxxx() {
    let (_fx, dir) = run(&zhejiang_toml(|t| t));
    let cases = sample_cases(PERIOD_END);
    let region_of: HashMap<&str, &str> = cases
        .iter()
        .map(|(id, c)| (id.as_str(), c.region.as_str()))
        .collect();

    // Every alert: its region, its case's region and a cluster's regions are Zhejiang's.
    let text = fs::read_to_string(dir.join("alerts.jsonl")).expect("alerts.jsonl");
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for a in &alerts {
        *by_kind
            .entry(a["kind"].as_str().expect("a kind").to_string())
            .or_default() += 1;
        if let Some(r) = a["region"].as_str() {
            assert!(r.starts_with("33"), "alert outside scope: {a}");
        }
        if let Some(case) = a["case_id"].as_str() {
            let r = region_of
                .get(case)
                .expect("the alert's case is a sample case");
            assert!(r.starts_with("33"), "case {case} is in {r}: {a}");
        }
        if let Some(list) = a["numbers"]["regions"].as_array() {
            for r in list {
                assert!(r.as_str().is_some_and(|r| r.starts_with("33")), "{a}");
            }
        }
    }
    // Each kind that names a region or a case fired, so the checks above are not vacuous.
    for kind in ["serious_report", "rate_below_target", "new_signal"] {
        assert!(by_kind.get(kind).copied().unwrap_or(0) > 0, "{by_kind:?}");
    }

    // The case table: exactly Zhejiang's cases first received by the period's end.
    let t = read_parquet(&dir.join("cases.parquet"));
    let got: BTreeSet<String> = strs(&t, "case_id").into_iter().collect();
    let want: BTreeSet<String> = cases
        .iter()
        .filter(|(_, c)| zhejiang(c))
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(got.len(), t.rows.len(), "one row per case");
    assert_eq!(got, want);
    assert!(strs(&t, "region").iter().all(|r| r.starts_with("33")));

    // The screening list: each product's cumulative cases are Zhejiang's cases naming it.
    let s = read_parquet(&dir.join("screening.parquet"));
    assert!(!s.rows.is_empty());
    for row in 0..s.rows.len() {
        let product = s.get(row, "product_id").str();
        let want = cases
            .values()
            .filter(|c| zhejiang(c) && c.products.contains(product))
            .count() as i64;
        assert_eq!(s.get(row, "cumulative_cases").int(), want, "{product}");
    }

    // The manifest says the scope.
    let m = read_json(&dir.join("manifest.json"));
    assert_eq!(
        m["scope"],
        serde_json::json!({"regions": ["330000"], "signals_background": "all"})
    );
}

/// `[a, b, c, d]` of every (class, product, event) row of a signals table.
fn cells(t: &Table) -> BTreeMap<(String, String, String), [i64; 4]> {
    (0..t.rows.len())
        .map(|r| {
            let key = (
                t.get(r, "class").str().to_string(),
                t.get(r, "product_id").str().to_string(),
                t.get(r, "event").str().to_string(),
            );
            let v = ["a", "b", "c", "d"].map(|c| t.get(r, c).int());
            (key, v)
        })
        .collect()
}

#[test]
fn signals_use_the_whole_background_unless_told_scope() {
    let (_a, scoped) = run(&zhejiang_toml(|t| t));
    let (_b, unscoped) = run(&zhejiang_toml(without_scope));
    let (_c, own) = run(&zhejiang_toml(with_scope_background));

    // Default `all`: the same table as without a scope, row for row.
    let with = read_parquet(&scoped.join("signals.parquet"));
    let without = read_parquet(&unscoped.join("signals.parquet"));
    assert!(!with.rows.is_empty());
    assert_eq!(with.rows, without.rows);

    // `scope`: the cells are a recount of Zhejiang's cases alone.
    let cases = sample_cases(PERIOD_END);
    let zj: Vec<&Case> = cases.values().filter(|c| zhejiang(c)).collect();
    let own_t = read_parquet(&own.join("signals.parquet"));
    let own_cells = cells(&own_t);
    assert!(!own_cells.is_empty());
    for ((class, p, e), got) in &own_cells {
        let bg: Vec<&&Case> = zj.iter().filter(|c| &c.class == class).collect();
        let has_p = |c: &&&Case| c.products.contains(p);
        let has_e = |c: &&&Case| c.events.contains(e);
        let a = bg.iter().filter(|c| has_p(c) && has_e(c)).count() as i64;
        let np = bg.iter().filter(|c| has_p(c)).count() as i64;
        let ne = bg.iter().filter(|c| has_e(c)).count() as i64;
        let want = [a, np - a, ne - a, bg.len() as i64 - np - ne + a];
        assert_eq!(got, &want, "{class} {p} {e}");
    }
    // And so they differ from the whole background's.
    let all_cells = cells(&with);
    let changed = own_cells
        .iter()
        .filter(|(k, v)| all_cells.get(*k) != Some(*v))
        .count();
    assert_eq!(changed, own_cells.len(), "N differs, so every row does");
    let m = read_json(&own.join("manifest.json"));
    assert_eq!(m["scope"]["signals_background"], "scope");
}

#[test]
fn rates_default_to_the_scope() {
    let (_fx, dir) = run(&zhejiang_toml(|t| t));
    let t = read_parquet(&dir.join("rates.parquet"));
    let regions: BTreeSet<String> = strs(&t, "region").into_iter().collect();
    // Zhejiang and its 11 cities (populations.csv has them all), nothing else.
    assert!(regions.contains("330000") && regions.contains("330100"));
    assert!(regions.iter().all(|r| r.starts_with("33")), "{regions:?}");
    assert_eq!(regions.len(), 12, "{regions:?}");
}

#[test]
fn scope_configuration_errors_name_their_keys() {
    let fx = Fixture::new();
    fx.pipeline(
        "",
        "[scope]\nregions = [\"3300\", \"330000\", \"330000\"]\n[rates]\nregions = [\"310000\"]\n[signals]\nbackground = \"region\"\n",
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    for want in [
        "scope.regions[0]: expected a 6-digit GB/T 2260 region code, found `3300`",
        "scope.regions[2]: `330000` is listed twice",
        "rates.regions[0]: expected a region inside scope.regions (`3300`, `330000`, `330000`), found `310000`",
        "signals.background: expected `all` or `scope`, found `region`",
    ] {
        assert!(r.stderr.contains(want), "missing {want:?} in:\n{}", r.stderr);
    }

    fx.pipeline("", "[scope]\nregions = []\n");
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("scope.regions: expected at least one"),
        "{}",
        r.stderr
    );

    fx.pipeline("", "[signals]\nbackground = \"scope\"\n");
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert!(
        r.stderr
            .contains("signals.background: `scope` needs `[scope] regions`"),
        "{}",
        r.stderr
    );
}

/// With the whole background, a signal alerts the jurisdiction only when one of its own
/// cases has the pair: D001 × Rash (5 Shanghai cases, none in Zhejiang) is a signal in
/// `signals.parquet` but raises no alert; D003 × Cough (4 Shanghai cases and 1 in
/// Hangzhou) does. Without a scope, both alert.
#[test]
fn a_signal_without_a_case_in_scope_raises_no_alert() {
    let fx = Fixture::new();
    let mut reports = Vec::new();
    let (mut rp, mut re) = (Vec::new(), Vec::new());
    let mut add = |n: usize, region: &str, product: &str, event: &str| {
        for _ in 0..n {
            let i = reports.len() + 1;
            let id = format!("R{i:04}");
            reports.push(report(
                &id,
                &format!("C{i:04}"),
                1,
                "2025-03-01",
                "drug",
                region,
            ));
            rp.push(format!("{id},{product},suspect"));
            re.push(format!("{id},{event}"));
        }
    };
    add(5, "310104", "D001", "Rash");
    add(4, "310104", "D003", "Cough");
    add(1, "330106", "D003", "Cough");
    add(20, "310104", "D002", "Headache");
    add(3, "330106", "D002", "Headache");
    fx.write("reports.csv", &csv(REPORTS_HEADER, &reports));
    fx.write(
        "report_products.csv",
        &csv("report_id,product_id,role", &rp),
    );
    fx.write("report_events.csv", &csv("report_id,event", &re));
    fx.write(
        "products.csv",
        "product_id,name,class\nD001,甲,drug\nD002,乙,drug\nD003,丙,drug\n",
    );
    let signals = "[signals]\nwatch = [\"all\"]\nmethods = [\"bcpnn\"]\nmin_methods = 1\n";
    let alerted = |fx: &Fixture| -> BTreeSet<(String, String)> {
        fx.run_pipeline(&[]).expect_ok();
        let dirs: Vec<PathBuf> = fs::read_dir(fx.p("out"))
            .expect("out")
            .map(|e| e.expect("an entry").path())
            .collect();
        let text = fs::read_to_string(dirs[0].join("alerts.jsonl")).expect("alerts.jsonl");
        let t = read_parquet(&dirs[0].join("signals.parquet"));
        let flagged: BTreeSet<(String, String)> = (0..t.rows.len())
            .filter(|&r| t.get(r, "is_signal").bool())
            .map(|r| {
                let g = |c: &str| t.get(r, c).str().to_string();
                (g("product_id"), g("event"))
            })
            .collect();
        let want: BTreeSet<(String, String)> = [("D001", "Rash"), ("D003", "Cough")]
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .into();
        assert_eq!(flagged, want, "the statistics use the whole background");
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
            .filter(|a| a["kind"] == "new_signal")
            .map(|a| {
                let g = |c: &str| a[c].as_str().expect("text").to_string();
                (g("product_id"), g("event"))
            })
            .collect()
    };
    fx.pipeline("", signals);
    assert_eq!(alerted(&fx).len(), 2);
    fx.pipeline("", &format!("[scope]\nregions = [\"330000\"]\n{signals}"));
    let only: BTreeSet<(String, String)> = [("D003".to_string(), "Cough".to_string())].into();
    assert_eq!(alerted(&fx), only);
}
