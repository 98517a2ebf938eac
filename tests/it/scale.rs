//! The generated national-scale data set (`examples/synth`), at test size: the row
//! accounting matches what the generator wrote, the planted signals have exactly the cells
//! the generator counted and the PRR and ROR those cells imply, and a run that would not
//! fit in its memory budget stops before writing anything.
//!
//! The benchmark harness (`scripts/bench`) runs the same generator at 100 thousand to 25
//! million cases; timings are never asserted here.

use std::collections::HashMap;

use crate::util::{pvwatch, read_parquet, Value};

#[path = "../../examples/synth/mod.rs"]
pub(crate) mod synth;

fn generate(cases: u64) -> (tempfile::TempDir, synth::Written) {
    let dir = tempfile::tempdir().unwrap();
    let (written, _) = synth::generate(&synth::Options {
        cases,
        seed: 7,
        out: dir.path().to_path_buf(),
        chunk: 4_000,
    })
    .unwrap();
    std::fs::write(dir.path().join("bench.toml"), synth::PIPELINE).unwrap();
    (dir, written)
}

fn manifest(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("out/period=2025/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn generated_data_are_accounted_for_and_planted_cells_are_exact() {
    let (dir, w) = generate(12_000);
    pvwatch(dir.path(), &["run", "bench.toml", "-q"]).expect_ok();
    let m = manifest(dir.path());
    let table = |name: &str| {
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    let reports = table("reports");
    assert_eq!(reports["read"], w.reports);
    assert_eq!(reports["used"], w.cases, "one latest version per case");
    assert_eq!(reports["superseded"], w.reports - w.cases);
    assert_eq!(reports["rejected"], 0);
    for (name, n) in [
        ("report_products", w.report_products),
        ("report_events", w.report_events),
    ] {
        let t = table(name);
        assert_eq!(t["read"], n, "{name}");
        assert_eq!(t["rejected"], 0, "{name}");
        // A superseded version holds exactly one product and one event.
        assert_eq!(t["superseded"], w.reports - w.cases, "{name}");
    }
    assert!(m["peak_memory_bytes"].as_u64().unwrap() > 0);

    let signals = read_parquet(&dir.path().join("out/period=2025/signals.parquet"));
    let mut rdr = csv::Reader::from_path(dir.path().join("planted.csv")).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let mut checked = 0;
    for rec in rdr.records() {
        let rec: HashMap<&str, String> = header
            .iter()
            .map(String::as_str)
            .zip(rec.unwrap().iter().map(String::from))
            .collect();
        let key = [
            ("product_id", rec["product_id"].as_str()),
            ("event", rec["event"].as_str()),
        ];
        if rec["a"] == "0" {
            // No case has the pair: the table holds pairs with a ≥ 1 only.
            let any = (0..signals.rows.len()).any(|r| {
                key.iter()
                    .all(|(c, v)| signals.get(r, c) == &Value::Str(v.to_string()))
            });
            assert!(!any, "{key:?} has a = 0 but a row");
            checked += 1;
            continue;
        }
        let row = signals.row_where(&key);
        for cell in ["a", "b", "c", "d", "n"] {
            assert_eq!(
                signals.get(row, cell).int(),
                rec[cell].parse::<i64>().unwrap(),
                "{} × {}: {cell}",
                rec["product_id"],
                rec["event"]
            );
        }
        for stat in ["prr", "ror"] {
            let want: f64 = rec[stat].parse().unwrap();
            match signals.get(row, stat) {
                Value::Float(got) => {
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs(),
                        "{stat}: {got} vs {want}"
                    )
                }
                // c = 0: no background case has the event, PRR and ROR are undefined.
                Value::Null => assert!(!want.is_finite(), "{stat} null but {want}"),
                other => panic!("{stat}: {other:?}"),
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
    // The strongest planted pair is a signal by at least two methods at this size.
    let row = signals.row_where(&[("product_id", "D00012"), ("event", "Myocarditis")]);
    assert!(signals.get(row, "is_signal").bool());
}

#[test]
fn a_run_over_its_memory_budget_stops_before_writing() {
    let (dir, _) = generate(2_000);
    let toml = format!("max_memory_gib = 0.001\n{}", synth::PIPELINE);
    std::fs::write(dir.path().join("small.toml"), toml).unwrap();
    let run = pvwatch(dir.path(), &["run", "small.toml"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("error: ingest: loading ")
            && run.stderr.contains(" rows of reports")
            && run.stderr.contains("GiB of memory, more than the 0.0 GiB allowed (max_memory_gib in the pipeline file); nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("out").exists(), "nothing written");
}
