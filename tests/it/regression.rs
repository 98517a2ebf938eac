//! Regression tests, each named after what would break: case versions and periods, row
//! accounting, the atomic publish, reruns, and the input formats.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::util::*;

/// The rates row of a province and class.
#[track_caller]
fn rates_row(t: &Table, region: &str, class: &str) -> usize {
    t.row_where(&[("level", "province"), ("region", region), ("class", class)])
}

/// Every file of a folder with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    entries(dir)
        .into_iter()
        .map(|f| {
            let bytes = fs::read(dir.join(&f)).expect("read an output file");
            (f, bytes)
        })
        .collect()
}

#[test]
fn superseded_case_versions_not_counted() {
    let fx = Fixture::new();
    // C1 has versions 1 and 2 (the later one first in the file); C2 has one version.
    let mut v2 = report("R2", "C1", 2, "2025-02-10", "drug", "330100");
    v2 = v2.replace(",false,false,false,false", ",false,false,true,false"); // serious
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                v2,
                report("R1", "C1", 1, "2025-01-05", "drug", "330100"),
                report("R3", "C2", 1, "2025-01-07", "drug", "330200"),
            ],
        ),
    );
    fx.write(
        "report_products.csv",
        "report_id,product_id,role\nR1,D001,suspect\nR2,D001,suspect\nR2,D002,concomitant\nR3,D001,suspect\n",
    );
    fx.write(
        "report_events.csv",
        "report_id,event\nR1,Rash\nR2,Rash\nR2,Fever\nR3,Nausea\n",
    );
    fx.run_pipeline(&[]).expect_ok();

    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let row = rates_row(&rates, "330000", "drug");
    assert_eq!(
        rates.get(row, "reports"),
        &Value::Int(2),
        "cases, not versions"
    );
    assert_eq!(
        rates.get(row, "serious"),
        &Value::Int(1),
        "the latest version's flags"
    );

    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let acc = |read, used, superseded| Account {
        read,
        used,
        superseded,
        rejected: 0,
    };
    assert_eq!(account(&manifest, "reports"), acc(3, 2, 1));
    assert_eq!(account(&manifest, "report_products"), acc(4, 3, 1));
    assert_eq!(account(&manifest, "report_events"), acc(4, 3, 1));
    assert_accounts_balance(&manifest);
}

#[test]
fn latest_version_rejected_falls_back_to_the_previous_version() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                report("R1", "C1", 1, "2025-01-05", "drug", "330100"),
                report("R2", "C1", 2, "2025-13-10", "drug", "330100"),
                report("R3", "C2", 1, "2025-01-07", "drug", "330100"),
            ],
        ),
    );
    fx.write(
        "report_products.csv",
        "report_id,product_id\nR1,D001\nR2,D001\nR3,D001\n",
    );
    fx.write("report_events.csv", "report_id,event\nR1,Rash\n");
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    fx.run_pipeline(&[]).expect_ok();
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    assert_eq!(
        rates.get(rates_row(&rates, "330000", "drug"), "reports"),
        &Value::Int(2)
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let acc = |used, rejected| Account {
        read: 3,
        used,
        superseded: 0,
        rejected,
    };
    assert_eq!(account(&manifest, "reports"), acc(2, 1));
    assert_eq!(account(&manifest, "report_products"), acc(2, 1));
}

/// rates.rs: a case counts in the period of its *first* receipt; a follow-up received
/// later does not move it. The flags counted are those of the latest version received by
/// the end of the period: a run for 2024 does not see the serious follow-up of 2025-01-10
/// (as of the period), a run for 2025 does.
#[test]
fn follow_up_does_not_move_a_case_into_a_later_period() {
    let fx = Fixture::new();
    let v2 = report("R2", "C1", 2, "2025-01-10", "drug", "330100")
        .replace(",false,false,false,false", ",false,false,true,false");
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                report("R1", "C1", 1, "2024-12-20", "drug", "330100"),
                v2,
                report("R3", "C2", 1, "2025-01-15", "drug", "330100"),
            ],
        ),
    );
    fx.write("report_products.csv", "report_id,product_id\nR1,D001\n");
    fx.write("report_events.csv", "report_id,event\nR1,Rash\n");
    for (period, reports, serious) in [
        ("2024", 1, 0),
        ("2024-Q4", 1, 0),
        ("2024-12", 1, 0),
        ("2025", 1, 0),
        ("2025-Q1", 1, 0),
        ("2025-01", 1, 0),
    ] {
        fx.run_pipeline(&["--period", period]).expect_ok();
        let rates = read_parquet(&fx.p(&format!("out/period={period}/rates.parquet")));
        let row = rates_row(&rates, "330000", "drug");
        assert_eq!(
            (rates.get(row, "reports"), rates.get(row, "serious")),
            (&Value::Int(reports), &Value::Int(serious)),
            "{period}"
        );
    }
}

#[test]
fn failed_run_keeps_previous_outputs() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let out = fx.p("out/period=2025");
    let before = snapshot(&out);
    for f in ["manifest.json", "rates.parquet", "rejects.csv"] {
        assert!(before.contains_key(f), "no {f}");
    }

    // New data, so that a published rerun would differ; then a failure right before publish.
    let mut rows = good_reports(3);
    rows.push(report(
        "R0004",
        "C0004",
        1,
        "2025-03-01",
        "device",
        "330100",
    ));
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let r = fx.run_env(&["run", &fx.toml()], &[("PVWATCH_FAULT", "publish")]);
    r.expect_code(1);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        ["error: injected failure at `publish` (PVWATCH_FAULT)"]
    );
    assert_eq!(r.stdout, "");
    assert_eq!(snapshot(&out), before, "the previous outputs changed");
    assert_eq!(
        entries(&fx.p("out")),
        ["period=2025"],
        "a staging folder was left behind"
    );
}

#[test]
fn rerun_rejected_above_tolerance_keeps_previous_outputs() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let out = fx.p("out/period=2025");
    let before = snapshot(&out);

    let mut rows = good_reports(2);
    rows.push(report("R0003", "C0003", 1, "2025-02-30", "drug", "330100"));
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let r = fx.run_pipeline(&[]);
    r.expect_code(3);
    assert_eq!(snapshot(&out), before, "the previous outputs changed");
    assert_eq!(entries(&fx.p("out")), ["period=2025"]);
}

#[test]
fn rerun_of_a_period_gives_the_same_tables() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let first = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let rejects = read_rejects(&fx.p("out/period=2025/rejects.csv"));
    let mut m1 = read_json(&fx.p("out/period=2025/manifest.json"));

    fx.run_pipeline(&[]).expect_ok();
    let second = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    assert_eq!(first.schema, second.schema);
    assert_eq!(first.rows.len(), second.rows.len());
    for (i, (a, b)) in first.rows.iter().zip(&second.rows).enumerate() {
        assert_eq!(a, b, "row {i}");
    }
    assert_eq!(read_rejects(&fx.p("out/period=2025/rejects.csv")), rejects);
    let mut m2 = read_json(&fx.p("out/period=2025/manifest.json"));
    for m in [&mut m1, &mut m2] {
        let o = m.as_object_mut().expect("an object");
        o.remove("started_at");
        o.remove("timings_ms");
        o.remove("peak_memory_bytes");
    }
    assert_eq!(m1, m2, "the manifest differs beyond its times");
    assert_eq!(entries(&fx.p("out")), ["period=2025"]);
}

/// Paths in a pipeline file are relative to the file, whatever the working directory
/// (cron, a shell or an orchestrator run it from anywhere).
#[test]
fn pipeline_paths_are_relative_to_the_pipeline_file() {
    let fx = Fixture::new();
    let elsewhere = Fixture::empty();
    let toml = fx.toml();
    pvwatch(elsewhere.path(), &["run", &toml]).expect_ok();
    assert!(fx.p("out/period=2025/manifest.json").is_file());
    assert!(
        entries(elsewhere.path()).is_empty(),
        "wrote into the working dir"
    );

    // A relative pipeline path: inputs and outputs are found next to it.
    let parent = fx.path().parent().expect("a parent folder");
    let name = fx.path().file_name().expect("a name").to_string_lossy();
    let rel = format!("{name}/p.toml");
    let r = pvwatch(parent, &["run", &rel, "--period", "2025-Q1"]);
    r.expect_ok();
    let manifest = read_json(&fx.p("out/period=2025-Q1/manifest.json"));
    assert_eq!(manifest["inputs"][0]["path"], format!("{name}/reports.csv"));
    assert_eq!(manifest["pipeline"]["file"], rel);
}

#[test]
fn manifest_records_the_hashes_of_the_pipeline_and_inputs() {
    use sha2::{Digest, Sha256};
    let hex = |bytes: &[u8]| -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let toml = fs::read(fx.p("p.toml")).expect("read p.toml");
    assert_eq!(manifest["pipeline"]["sha256"], hex(&toml));
    assert_eq!(manifest["pipeline"]["name"], "p");
    assert_eq!(manifest["pipeline"]["file"], fx.toml());
    for t in manifest["inputs"].as_array().expect("inputs") {
        let path = t["path"].as_str().expect("a path");
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(t["sha256"], hex(&bytes), "{path}");
        assert_eq!(t["size_bytes"], bytes.len() as u64, "{path}");
    }
    assert_eq!(manifest["period_start"], "2025-01-01");
    assert_eq!(manifest["period_end"], "2025-12-31");
    assert_eq!(manifest["data_cutoff"], "2025-01-04");
}

#[test]
fn extra_columns_are_ignored_and_listed_in_the_manifest() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "report_id,hospital,case_id,version,received_date,class,region,note\n\
         R0001,浙大一院,C0001,1,2025-01-05,drug,330100,first\n\
         R0002,,C0002,1,2025-01-06,drug,330100,\n",
    );
    fx.write(
        "report_events.csv",
        "report_id,event,meddra_code\nR0001,Rash,10037844\n",
    );
    fx.run_pipeline(&[]).expect_ok();
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let extra = |table: &str| {
        manifest["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .find(|t| t["table"] == table)
            .expect("the table")["extra_columns"]
            .clone()
    };
    assert_eq!(extra("reports"), serde_json::json!(["hospital", "note"]));
    assert_eq!(extra("report_events"), serde_json::json!(["meddra_code"]));
    assert_eq!(extra("products"), serde_json::json!([]));
    assert_eq!(account(&manifest, "reports").used, 2);
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    assert_eq!(
        rates.get(rates_row(&rates, "330000", "drug"), "reports"),
        &Value::Int(2)
    );
    assert!(rates.schema.index_of("hospital").is_err() && rates.schema.index_of("note").is_err());

    let toml = fx.toml();
    let v = fx.run(&["validate", &toml]);
    v.expect_ok();
    assert!(
        v.stdout
            .contains("                ignored extra columns: hospital, note\n"),
        "{}",
        v.stdout
    );
}

#[test]
fn region_without_population_has_null_rate_with_reason_never_nan() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                report("R1", "C1", 1, "2025-01-05", "drug", "330100"),
                report("R2", "C2", 1, "2025-01-06", "drug", "350100"),
                report("R3", "C3", 1, "2025-01-07", "device", "350200"),
                report("R4", "C4", 1, "2025-01-08", "drug", "310101"),
            ],
        ),
    );
    fx.children(&["R1", "R2"]);
    // Shanghai has a population only for a later year: no rate for 2025 either.
    fx.write(
        "populations.csv",
        "region,year,population,name\n330000,2024,2000000,浙江省\n310000,2026,25000000,上海市\n",
    );
    fx.run_pipeline(&[]).expect_ok();
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));

    let fujian = rates_row(&rates, "350000", "drug");
    assert_eq!(rates.get(fujian, "reports"), &Value::Int(1));
    for c in [
        "population",
        "population_year",
        "per_million",
        "annualized_per_million",
        "attainment",
        "on_track",
    ] {
        assert!(
            rates.get(fujian, c).is_null(),
            "{c}: {:?}",
            rates.get(fujian, c)
        );
    }
    let reason = rates.get(fujian, "null_reason").str();
    assert!(
        reason.contains("no population for region `350000`"),
        "{reason}"
    );
    let device = rates_row(&rates, "350000", "device");
    assert!(rates.get(device, "per_million").is_null());
    assert!(rates
        .get(device, "null_reason")
        .str()
        .contains("no population for region `350000`"));

    let shanghai = rates_row(&rates, "310000", "drug");
    assert!(rates.get(shanghai, "per_million").is_null());
    let reason = rates.get(shanghai, "null_reason").str();
    assert!(
        reason.contains("no population for region `310000` in 2025 or earlier (earliest: 2026)"),
        "{reason}"
    );

    let zhejiang = rates_row(&rates, "330000", "drug");
    assert!(!rates.get(zhejiang, "per_million").is_null());

    // Never NaN or infinity, in any measure of any row.
    for (i, row) in rates.rows.iter().enumerate() {
        for (v, f) in row.iter().zip(rates.schema.fields()) {
            if let Value::Float(x) = v {
                assert!(x.is_finite(), "row {i}, `{}` = {x}", f.name());
            }
        }
    }
}

/// One reports row with typed values, for writing as CSV and as Parquet.
struct Rep {
    id: &'static str,
    case: &'static str,
    version: i64,
    date: &'static str,
    class: &'static str,
    region: &'static str,
    reporter: Option<&'static str>,
    sentinel: Option<bool>,
    is_new: Option<bool>,
    serious: Option<bool>,
    fatal: Option<bool>,
}

#[rustfmt::skip]
fn parquet_case_reports() -> Vec<Rep> {
    let r = |id, case, version, date, class, region, reporter, sentinel, is_new, serious, fatal| Rep {
        id, case, version, date, class, region, reporter, sentinel, is_new, serious, fatal,
    };
    vec![
        r("R1", "C1", 1, "2025-01-05", "drug", "330100", Some("medical_institution"), Some(true), Some(false), Some(true), Some(false)),
        r("R2", "C1", 2, "2025-02-10", "drug", "330100", Some("medical_institution"), Some(true), Some(true), Some(true), Some(true)),
        r("R3", "C2", 1, "2025-03-01", "device", "330200", Some("mah"), None, None, Some(false), Some(false)),
        r("R4", "C3", 1, "2025-05-20", "cosmetic", "310101", Some("individual"), Some(false), Some(false), Some(false), Some(false)),
        r("R5", "C4", 1, "2024-12-30", "drug", "330100", None, Some(true), Some(false), Some(false), Some(false)),
        r("R6", "C4", 2, "2025-01-04", "drug", "330100", Some("medical_institution"), Some(true), Some(false), Some(true), None),
        r("R7", "C5", 1, "2025-07-01", "drug", "370100", Some("other"), Some(false), Some(true), Some(false), Some(false)),
        r("R8", "C6", 1, "2025-08-08", "drug", "33010", Some("other"), Some(false), Some(true), Some(false), Some(false)),
    ]
}

fn write_reports_csv(path: &Path, reps: &[Rep]) {
    let b = |v: Option<bool>| v.map(|x| x.to_string()).unwrap_or_default();
    let rows: Vec<String> = reps
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{},{},{},{},{},{},{},{}",
                r.id,
                r.case,
                r.version,
                r.date,
                r.class,
                r.region,
                r.reporter.unwrap_or(""),
                b(r.sentinel),
                b(r.is_new),
                b(r.serious),
                b(r.fatal)
            )
        })
        .collect();
    fs::write(path, csv(REPORTS_HEADER, &rows)).expect("write reports.csv");
}

/// The same table as Parquet, written by arrow-rs with typed columns: Date32 dates,
/// Boolean flags, Int64 versions.
fn write_reports_parquet(path: &Path, reps: &[Rep]) {
    let text = |f: fn(&Rep) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from(reps.iter().map(f).collect::<Vec<_>>()))
    };
    let flag = |f: fn(&Rep) -> Option<bool>| -> ArrayRef {
        Arc::new(BooleanArray::from(reps.iter().map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("report_id", text(|r| r.id)),
        ("case_id", text(|r| r.case)),
        (
            "version",
            Arc::new(Int64Array::from(
                reps.iter().map(|r| r.version).collect::<Vec<_>>(),
            )),
        ),
        (
            "received_date",
            Arc::new(Date32Array::from(
                reps.iter().map(|r| days(r.date)).collect::<Vec<_>>(),
            )),
        ),
        ("class", text(|r| r.class)),
        ("region", text(|r| r.region)),
        (
            "reporter_type",
            Arc::new(StringArray::from(
                reps.iter().map(|r| r.reporter).collect::<Vec<_>>(),
            )),
        ),
        ("sentinel", flag(|r| r.sentinel)),
        ("is_new", flag(|r| r.is_new)),
        ("is_serious", flag(|r| r.serious)),
        ("fatal", flag(|r| r.fatal)),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    assert_eq!(schema.field(3).data_type(), &DataType::Date32);
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("a record batch");
    let file = fs::File::create(path).expect("create reports.parquet");
    let mut w = ArrowWriter::try_new(file, schema, None).expect("a Parquet writer");
    w.write(&batch).expect("write the batch");
    w.close().expect("close the Parquet file");
}

#[test]
fn parquet_reports_input_gives_the_same_rates_as_csv() {
    let fx = Fixture::new();
    let reps = parquet_case_reports();
    write_reports_csv(&fx.p("reports.csv"), &reps);
    write_reports_parquet(&fx.p("reports.parquet"), &reps);
    fx.children(&["R1", "R2", "R5", "R6", "R7"]);
    fx.write(
        "populations.csv",
        "region,year,population,name\n330000,2024,2000000,浙江省\n310000,2024,24800000,上海市\n",
    );
    // One bad region in 8 rows: allow it.
    let tables = "[ingest]\nmax_rejected_fraction = 0.2\n";
    fx.pipeline("", tables);
    let csv_out = fx.ps("csv-out");
    fx.run_pipeline(&["--out", &csv_out]).expect_ok();

    fx.write(
        "p.toml",
        &format!(
            "{PIPELINE_TOP}\n{}\n{tables}",
            PIPELINE_INPUTS.replace("\"reports.csv\"", "\"reports.parquet\"")
        ),
    );
    let pq_out = fx.ps("pq-out");
    fx.run_pipeline(&["--out", &pq_out]).expect_ok();

    let a = read_parquet(&fx.p("csv-out/period=2025/rates.parquet"));
    let b = read_parquet(&fx.p("pq-out/period=2025/rates.parquet"));
    assert_eq!(a.schema, b.schema);
    assert_eq!(a.rows.len(), b.rows.len());
    for (i, (x, y)) in a.rows.iter().zip(&b.rows).enumerate() {
        assert_eq!(x, y, "row {i}");
    }
    // A check that the tables are not trivially equal: C1, C4 (first received in 2024)
    // and C5 in Zhejiang and Shandong.
    let zj = rates_row(&b, "330000", "drug");
    assert_eq!(b.get(zj, "reports"), &Value::Int(1));
    assert_eq!(b.get(zj, "sentinel_reports"), &Value::Int(1));
    assert_eq!(b.get(zj, "fatal"), &Value::Int(1));

    let ma = read_json(&fx.p("csv-out/period=2025/manifest.json"));
    let mb = read_json(&fx.p("pq-out/period=2025/manifest.json"));
    assert_eq!(mb["inputs"][0]["format"], "parquet");
    assert_eq!(account(&ma, "reports"), account(&mb, "reports"));
    assert_eq!(
        account(&mb, "reports"),
        Account {
            read: 8,
            used: 5,
            superseded: 2,
            rejected: 1
        }
    );
    // A Parquet reject names its 1-based row.
    let d = fx.d();
    assert_eq!(
        read_rejects(&fx.p("pq-out/period=2025/rejects.csv"))[1..],
        [format!(
            "reports,{d}/reports.parquet,8,region,33010,a 6-digit GB/T 2260 region code,row rejected"
        )]
    );
}

/// Editors' line numbers: a quoted field spanning lines counts each of its lines.
#[test]
fn reject_line_counts_the_lines_of_a_quoted_field() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "report_id,case_id,version,received_date,class,region,note\n\
         R1,C1,1,2025-01-05,drug,330100,\"two\nlines\"\n\
         R2,C2,1,2025-01-32,drug,330100,x\n\
         R3,C3,1,2025-01-06,drug,330100,\"a\nb\nc\"\n\
         R4,C4,1,2025-13-01,drug,330100,\n",
    );
    fx.children(&["R1", "R3"]);
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    fx.run_pipeline(&[]).expect_ok();
    let d = fx.d();
    assert_eq!(
        read_rejects(&fx.p("out/period=2025/rejects.csv"))[1..],
        [
            format!(
                "reports,{d}/reports.csv,4,received_date,2025-01-32,a date YYYY-MM-DD,row rejected"
            ),
            format!(
                "reports,{d}/reports.csv,8,received_date,2025-13-01,a date YYYY-MM-DD,row rejected"
            ),
        ]
    );
}

/// A blank line is not a row, but it is a line: the rows after it keep their editor's
/// line numbers (`src/ingest/csv.rs` promises "blank lines count").
#[test]
fn reject_line_counts_blank_lines() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "report_id,case_id,version,received_date,class,region\n\
         R1,C1,1,2025-01-05,drug,330100\n\
         \n\
         \n\
         R2,C2,1,2025-01-32,drug,330100\n\
         R3,C3,1,2025-01-06,drug,330100\n",
    );
    fx.children(&["R1", "R3"]);
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    fx.run_pipeline(&[]).expect_ok();
    let d = fx.d();
    assert_eq!(
        read_rejects(&fx.p("out/period=2025/rejects.csv"))[1..],
        [format!(
            "reports,{d}/reports.csv,5,received_date,2025-01-32,a date YYYY-MM-DD,row rejected"
        )]
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(
        account(&manifest, "reports"),
        Account {
            read: 3,
            used: 2,
            superseded: 0,
            rejected: 1
        },
        "a blank line is not a row"
    );
}

/// Excel and Windows tools write CRLF line ends: a reject must name the same line as in
/// an LF file, not the line before it.
#[test]
fn reject_line_in_a_crlf_file_is_the_editors_line() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "report_id,case_id,version,received_date,class,region\r\n\
         R1,C1,1,2025-01-32,drug,330100\r\n\
         R2,C2,1,2025-01-05,drug,330100\r\n\
         R3,C3,1,2025-13-01,drug,330100\r\n",
    );
    fx.children(&["R2"]);
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.7\n");
    fx.run_pipeline(&[]).expect_ok();
    let d = fx.d();
    assert_eq!(
        read_rejects(&fx.p("out/period=2025/rejects.csv"))[1..],
        [
            format!(
                "reports,{d}/reports.csv,2,received_date,2025-01-32,a date YYYY-MM-DD,row rejected"
            ),
            format!(
                "reports,{d}/reports.csv,4,received_date,2025-13-01,a date YYYY-MM-DD,row rejected"
            ),
        ]
    );
}

/// A period with no cases and no populations still writes a rates table, with the schema
/// of every other period (BI tools read all periods as one dataset).
#[test]
fn empty_period_keeps_the_rates_schema() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    fx.write("reports.csv", &csv(REPORTS_HEADER, &[]));
    fx.write("report_products.csv", "report_id,product_id\n");
    fx.write("report_events.csv", "report_id,event\n");
    fx.write("populations.csv", "region,year,population\n");
    let out2 = fx.ps("out2");
    fx.run_pipeline(&["--out", &out2]).expect_ok();
    let full = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let empty = read_parquet(&fx.p("out2/period=2025/rates.parquet"));
    assert!(!full.rows.is_empty());
    assert!(empty.rows.is_empty());
    assert_eq!(empty.schema.fields(), full.schema.fields());
    let manifest = read_json(&fx.p("out2/period=2025/manifest.json"));
    assert_accounts_balance(&manifest);
    assert_eq!(account(&manifest, "reports").read, 0);
}

/// Excel writes a byte-order mark and CRLF line ends; Chinese booleans are accepted.
#[test]
fn excel_csv_with_bom_crlf_and_chinese_booleans_is_read() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "\u{feff}report_id,received_date,class,region,sentinel,is_serious\r\n\
         R1,2025-01-05,drug,330100,是,否\r\n\
         R2,2025-01-06,drug,330100,否,是\r\n\
         R3,2025-01-07,drug,330100,YES,0\r\n",
    );
    fx.children(&["R1"]);
    fx.run_pipeline(&[]).expect_ok();
    let lines = read_rejects(&fx.p("out/period=2025/rejects.csv"));
    assert_eq!(lines, [REJECTS_CSV_HEADER], "no rejects");
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let row = rates_row(&rates, "330000", "drug");
    assert_eq!(rates.get(row, "reports"), &Value::Int(3));
    assert_eq!(rates.get(row, "sentinel_reports"), &Value::Int(2));
    assert_eq!(rates.get(row, "serious"), &Value::Int(1));
}
