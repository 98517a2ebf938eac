//! Hive-partitioned outputs: three quarters of the shipped Zhejiang pipeline published to
//! `period=<label>/` folders read as one dataset.
//!
//! - arrow-rs: every Parquet output has one schema across the periods, with no Null-typed
//!   (or view, or unsigned) column, and `alerts.parquet` agrees with `alerts.jsonl`;
//! - DuckDB (`read_parquet(…, hive_partitioning=true)`) and pyarrow
//!   (`pyarrow.dataset.dataset(…, partitioning="hive")`) read each Parquet output over the
//!   three periods with no cast and no error, with the row counts the manifests give. They
//!   run when `python3` can import `duckdb` and `pyarrow` (`.ci/run` installs them in a
//!   venv and sets `PVWATCH_TEST_PYTHON_READERS`, so that CI fails rather than skips);
//!   elsewhere the test says it skipped them;
//! - a previous run in the layout before hive folders (`<out>/2025-Q2/`) is still the
//!   previous run: the statuses of 2025-Q3 are the same as against `period=2025-Q2/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::datatypes::{DataType, Field, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value as Json;

use crate::util::*;

/// Set (by `.ci/run`) to fail, rather than skip, when python3 lacks DuckDB or pyarrow.
const REQUIRE_READERS: &str = "PVWATCH_TEST_PYTHON_READERS";

const QUARTERS: [&str; 3] = ["2025-Q1", "2025-Q2", "2025-Q3"];

/// The Parquet outputs every period has.
const PARQUET_OUTPUTS: [&str; 7] = [
    "alerts.parquet",
    "case_versions.parquet",
    "cases.parquet",
    "rates.parquet",
    "screening.parquet",
    "signal_log.parquet",
    "signals.parquet",
];

fn arrow_schema(path: &Path) -> SchemaRef {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .schema()
        .clone()
}

/// A type no BI reader should meet: null, views, unsigned integers (nested ones too).
fn bad_type(field: &Field) -> Option<String> {
    match field.data_type() {
        DataType::Null
        | DataType::Utf8View
        | DataType::BinaryView
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(format!("`{}`: {}", field.name(), field.data_type())),
        DataType::List(inner) | DataType::LargeList(inner) => bad_type(inner),
        _ => None,
    }
}

fn parquet_files(dir: &Path) -> BTreeSet<String> {
    entries(dir)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect()
}

/// The alerts of `alerts.jsonl`, one JSON object per line.
fn read_alerts(path: &Path) -> Vec<Json> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("an alert per line"))
        .collect()
}

/// Rows of each output file, as the period's manifest lists them.
fn manifest_rows(dir: &Path) -> BTreeMap<String, i64> {
    let m = read_json(&dir.join("manifest.json"));
    m["outputs"]
        .as_array()
        .expect("manifest outputs")
        .iter()
        .map(|o| {
            (
                o["file"].as_str().expect("file").to_string(),
                o["rows"].as_i64().expect("rows"),
            )
        })
        .collect()
}

#[test]
fn three_zhejiang_quarters_read_as_one_hive_dataset() {
    let fx = Fixture::empty();
    let out = fx.p("out");
    for q in QUARTERS {
        run_quarter(&fx, &out, q);
    }
    assert_eq!(
        entries(&out),
        QUARTERS.map(|q| format!("period={q}")),
        "one hive folder per period, nothing else"
    );

    // (a) arrow-rs: one schema per file name across the periods, every column typed.
    let dirs: Vec<PathBuf> = QUARTERS.iter().map(|q| period_dir(&out, q)).collect();
    let names = parquet_files(&dirs[0]);
    assert_eq!(
        names,
        PARQUET_OUTPUTS.map(String::from).into_iter().collect(),
        "the Parquet outputs"
    );
    for (q, dir) in QUARTERS.iter().zip(&dirs) {
        assert_eq!(parquet_files(dir), names, "{q}: the same Parquet outputs");
    }
    for name in &names {
        let first = arrow_schema(&dirs[0].join(name));
        for (q, dir) in QUARTERS.iter().zip(&dirs) {
            let schema = arrow_schema(&dir.join(name));
            assert_eq!(schema.fields(), first.fields(), "{q}/{name}: its schema");
            let bad: Vec<String> = schema.fields().iter().filter_map(|f| bad_type(f)).collect();
            assert!(bad.is_empty(), "{q}/{name}: {bad:?}");
            // The partition column has the type hive readers infer for it (Utf8).
            let period = schema.field_with_name("period").expect("a period column");
            assert_eq!(period.data_type(), &DataType::Utf8, "{q}/{name}");
        }
    }

    // alerts.parquet: one row per alert of alerts.jsonl, in order, the shared numbers
    // typed and equal to the JSON's.
    let alerts_schema = arrow_schema(&dirs[0].join("alerts.parquet"));
    let ty = |c: &str| {
        alerts_schema
            .field_with_name(c)
            .unwrap_or_else(|_| panic!("alerts.parquet has no `{c}`"))
            .data_type()
            .clone()
    };
    for c in ["cases", "a", "topic_id"] {
        assert_eq!(ty(c), DataType::Int64, "{c}");
    }
    for c in [
        "expected",
        "prr",
        "ror",
        "ic025",
        "eb05",
        "rate",
        "target",
        "threshold",
        "value",
    ] {
        assert_eq!(ty(c), DataType::Float64, "{c}");
    }
    for c in ["window_start", "window_end", "received_date"] {
        assert_eq!(ty(c), DataType::Date32, "{c}");
    }
    for c in [
        "alert_id",
        "kind",
        "priority",
        "status",
        "topic_state",
        "numbers_json",
    ] {
        assert!(matches!(ty(c), DataType::Utf8 | DataType::LargeUtf8), "{c}");
    }
    let mut kinds = BTreeSet::new();
    for (q, dir) in QUARTERS.iter().zip(&dirs) {
        let jsonl = read_alerts(&dir.join("alerts.jsonl"));
        let table = read_parquet(&dir.join("alerts.parquet"));
        assert!(!jsonl.is_empty(), "{q}: alerts");
        assert_eq!(table.rows.len(), jsonl.len(), "{q}: one row per alert");
        for (i, a) in jsonl.iter().enumerate() {
            let cell = |c: &str| table.get(i, c).clone();
            assert_eq!(cell("alert_id").str(), a["alert_id"], "{q} row {i}");
            assert_eq!(cell("kind").str(), a["kind"], "{q} row {i}");
            assert_eq!(cell("period").str(), *q, "{q} row {i}");
            kinds.insert(a["kind"].as_str().expect("kind").to_string());
            let numbers = a["numbers"].as_object().expect("numbers");
            for key in ["prr", "ror", "ic025", "eb05", "expected"] {
                match numbers.get(key).and_then(Json::as_f64) {
                    Some(x) => assert_close(cell(key).float(), x, 1e-12),
                    None => assert!(cell(key).is_null(), "{q} row {i}: {key}"),
                }
            }
            match numbers.get("a").and_then(Json::as_f64) {
                Some(x) => assert_eq!(cell("a").int() as f64, x, "{q} row {i}"),
                None => assert!(cell("a").is_null(), "{q} row {i}: a"),
            }
            for key in ["window_start", "window_end"] {
                match numbers.get(key).and_then(Json::as_str) {
                    Some(d) => assert_eq!(cell(key), Value::Date(days(d)), "{q} row {i}"),
                    None => assert!(cell(key).is_null(), "{q} row {i}: {key}"),
                }
            }
            // What has no flat column is in numbers_json, and nothing is lost.
            let rest: serde_json::Map<String, Json> =
                serde_json::from_str(cell("numbers_json").str()).expect("numbers_json");
            let flat = [
                "cases",
                "reports",
                "sentinel_reports",
                "a",
                "expected",
                "prr",
                "ror",
                "ic025",
                "eb05",
                "annualized_per_million",
                "target_per_million",
                "window_start",
                "window_end",
                "received_date",
            ];
            for (k, v) in numbers {
                if !flat.contains(&k.as_str()) {
                    assert_eq!(rest.get(k), Some(v), "{q} row {i}: {k} kept");
                }
            }
        }
    }
    for kind in ["cluster", "new_signal", "fatal_report", "rate_below_target"] {
        assert!(
            kinds.contains(kind),
            "the three quarters raise {kind}: {kinds:?}"
        );
    }

    // (b) DuckDB and pyarrow over the three periods.
    let expected: BTreeMap<String, BTreeMap<String, i64>> = PARQUET_OUTPUTS
        .iter()
        .map(|name| {
            let by_period = QUARTERS
                .iter()
                .zip(&dirs)
                .map(|(q, dir)| (q.to_string(), manifest_rows(dir)[*name]))
                // A count by period has no group for an empty file (signal_log.parquet
                // without topics): the readers still read it, with its schema.
                .filter(|(_, rows)| *rows > 0)
                .collect();
            (name.to_string(), by_period)
        })
        .collect();
    match python_readers(&out) {
        None if std::env::var_os(REQUIRE_READERS).is_some() => {
            panic!("{REQUIRE_READERS} is set, but python3 cannot import duckdb and pyarrow")
        }
        None => eprintln!(
            "notice: hive::three_zhejiang_quarters_read_as_one_hive_dataset: python3 cannot \
             import duckdb and pyarrow here, so the DuckDB and pyarrow reads were skipped \
             (.ci/run installs them)"
        ),
        Some(read) => {
            assert_eq!(read["duckdb"], serde_json::to_value(&expected).unwrap());
            assert_eq!(read["pyarrow"], serde_json::to_value(&expected).unwrap());
        }
    }

    // (c) A previous run in the old layout: the Q3 statuses are the same against it.
    let q3_alerts = fs::read_to_string(dirs[2].join("alerts.jsonl")).expect("alerts");
    let q3_manifest = read_json(&dirs[2].join("manifest.json"));
    assert_eq!(q3_manifest["alerts"]["previous_period"], "2025-Q2");
    fs::rename(&dirs[1], out.join("2025-Q2")).expect("rename to the old layout");
    fs::remove_dir_all(&dirs[2]).expect("remove Q3");
    run_quarter(&fx, &out, "2025-Q3");
    let manifest = read_json(&dirs[2].join("manifest.json"));
    assert_eq!(manifest["alerts"]["previous_period"], "2025-Q2");
    let alerts = read_alerts(&dirs[2].join("alerts.jsonl"));
    let ongoing = alerts.iter().filter(|a| a["status"] == "ongoing").count();
    assert!(ongoing > 0, "some alerts carry on from 2025-Q2");
    assert_eq!(
        fs::read_to_string(dirs[2].join("alerts.jsonl")).expect("alerts"),
        q3_alerts,
        "the same statuses as against period=2025-Q2/"
    );
    assert_eq!(
        entries(&out),
        ["2025-Q2", "period=2025-Q1", "period=2025-Q3"],
        "the old folder is read, never moved or replaced"
    );
}

/// The row counts DuckDB and pyarrow read for each Parquet output, by period, or `None`
/// when `python3` cannot import both.
fn python_readers(out: &Path) -> Option<Json> {
    let probe = Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let names = serde_json::to_string(&PARQUET_OUTPUTS).unwrap();
    let script = format!(
        r#"
import glob, json, os, sys
import duckdb
import pyarrow.dataset as ds
out = sys.argv[1]
result = {{"duckdb": {{}}, "pyarrow": {{}}}}
for name in {names}:
    glob_path = os.path.join(out, "*", name).replace("'", "''")
    rows = duckdb.sql(
        f"select period, count(*) from read_parquet('{{glob_path}}', hive_partitioning=true) group by period"
    ).fetchall()
    result["duckdb"][name] = {{p: n for p, n in rows}}
    files = sorted(glob.glob(os.path.join(out, "*", name)))
    table = ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=out).to_table()
    counts = {{}}
    for p in table.column("period").to_pylist():
        counts[p] = counts.get(p, 0) + 1
    result["pyarrow"][name] = counts
print(json.dumps(result))
"#
    );
    let run = Command::new("python3")
        .args(["-c", &script, &out.display().to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "DuckDB or pyarrow failed to read the outputs:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(serde_json::from_slice(&run.stdout).expect("the script's JSON"))
}
