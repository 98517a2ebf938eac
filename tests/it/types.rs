//! Input types and plausible dates (issue 18, items 5 and 6): Parquet columns as other
//! tools write them (decimals, timestamps of every unit, naive or with a time zone,
//! date64, integers of every width, floats with NaN), written here with arrow-rs, and
//! dates outside 1968-01-01..today, with `ingest.today` and `ingest.timezone`.

use std::fs;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, Date64Array, Decimal128Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::util::*;

/// Write a Parquet file of these columns with arrow-rs.
fn write_parquet(fx: &Fixture, rel: &str, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).expect("a record batch");
    let file = fs::File::create(fx.p(rel)).expect("create the Parquet file");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("a Parquet writer");
    w.write(&batch).expect("write the batch");
    w.close().expect("close the Parquet file");
}

fn strings(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// A fixture whose reports are `reports.parquet` with these columns beside report_id,
/// class and region (drug cases in Hangzhou), and whose child tables name every report.
fn parquet_reports(ids: &[&str], columns: Vec<(&str, ArrayRef)>, ingest: &str) -> Fixture {
    let fx = Fixture::new();
    let n = ids.len();
    let mut all = vec![
        ("report_id", strings(ids)),
        ("class", strings(&vec!["drug"; n])),
        ("region", strings(&vec!["330100"; n])),
    ];
    all.extend(columns);
    write_parquet(&fx, "reports.parquet", all);
    fx.children(ids);
    let toml = format!(
        "{PIPELINE_TOP}\n{}\n[ingest]\nmax_rejected_fraction = 1.0\ntoday = \"2026-12-07\"\n{ingest}\n",
        PIPELINE_INPUTS.replace("\"reports.csv\"", "\"reports.parquet\"")
    );
    fx.write("p.toml", &toml);
    fx
}

/// `cases.parquet`'s (report_id, latest_received) for 2025, sorted by report_id.
fn received(fx: &Fixture) -> Vec<(String, String)> {
    let t = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    let mut v: Vec<(String, String)> = (0..t.rows.len())
        .map(|r| {
            let day = match t.get(r, "latest_received") {
                Value::Date(d) => *d,
                other => panic!("expected a date, found {other:?}"),
            };
            let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                + chrono::Duration::days(day.into());
            (t.get(r, "report_id").str().to_string(), date.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The rejects of a run, without the header, with the fixture's folder as `{d}`.
fn rejects(fx: &Fixture) -> Vec<String> {
    read_rejects(&fx.p("out/period=2025/rejects.csv"))
        .into_iter()
        .skip(1)
        .map(|l| l.replace(&fx.d(), "{d}"))
        .collect()
}

/// 2025-01-01T20:00:00Z, in each unit: 2025-01-02 in UTC+8, 2025-01-01 in UTC.
const INSTANT_S: i64 = 1_735_761_600;
/// 2025-03-04T23:30:00 as a naive timestamp (wall-clock time): its date is 2025-03-04.
const WALL_S: i64 = 1_741_131_000;

#[test]
fn timestamps_of_every_unit_and_date64_are_read_as_dates() {
    let ids = ["R1", "R2"];
    let cases: Vec<(&str, ArrayRef)> = vec![
        (
            "timestamp[ns]",
            Arc::new(TimestampNanosecondArray::from(vec![
                INSTANT_S * 1_000_000_000,
                WALL_S * 1_000_000_000,
            ])),
        ),
        (
            "timestamp[us]",
            Arc::new(TimestampMicrosecondArray::from(vec![
                INSTANT_S * 1_000_000,
                WALL_S * 1_000_000,
            ])),
        ),
        (
            "timestamp[ms]",
            Arc::new(TimestampMillisecondArray::from(vec![
                INSTANT_S * 1_000,
                WALL_S * 1_000,
            ])),
        ),
    ];
    for (what, column) in cases {
        let fx = parquet_reports(&ids, vec![("received_date", column)], "");
        fx.run_pipeline(&[]).expect_ok();
        // Naive: the date the timestamp shows, whatever the zone.
        assert_eq!(
            received(&fx),
            vec![
                ("R1".to_string(), "2025-01-01".to_string()),
                ("R2".to_string(), "2025-03-04".to_string())
            ],
            "{what}"
        );
        assert_eq!(rejects(&fx), Vec::<String>::new(), "{what}");
    }

    // date64: milliseconds of a day's midnight.
    let day_ms = |d: &str| i64::from(days(d)) * 86_400_000;
    let fx = parquet_reports(
        &ids,
        vec![(
            "received_date",
            Arc::new(Date64Array::from(vec![
                day_ms("2025-01-02"),
                day_ms("2025-12-31"),
            ])),
        )],
        "",
    );
    fx.run_pipeline(&[]).expect_ok();
    assert_eq!(
        received(&fx),
        vec![
            ("R1".to_string(), "2025-01-02".to_string()),
            ("R2".to_string(), "2025-12-31".to_string())
        ]
    );
}

/// A timestamp with a time zone is an instant: its date in UTC+8 by default, in the
/// pipeline's `ingest.timezone` otherwise, whatever zone the file names.
#[test]
fn timezone_aware_timestamps_are_dates_in_the_pipeline_zone() {
    let ids = ["R1", "R2"];
    // 2025-01-01T20:00Z and 2025-06-30T15:59:59Z.
    let values = vec![INSTANT_S * 1_000_000_000, 1_751_299_199 * 1_000_000_000];
    for (zone_in_file, ingest, want) in [
        ("UTC", "", ["2025-01-02", "2025-06-30"]),
        ("Asia/Shanghai", "", ["2025-01-02", "2025-06-30"]),
        ("+08:00", "timezone = \"UTC\"", ["2025-01-01", "2025-06-30"]),
        ("UTC", "timezone = \"+00:00\"", ["2025-01-01", "2025-06-30"]),
        ("UTC", "timezone = \"+09:00\"", ["2025-01-02", "2025-07-01"]),
        ("UTC", "timezone = \"-05:00\"", ["2025-01-01", "2025-06-30"]),
    ] {
        let column = TimestampNanosecondArray::from(values.clone()).with_timezone(zone_in_file);
        let fx = parquet_reports(&ids, vec![("received_date", Arc::new(column))], ingest);
        fx.run_pipeline(&[]).expect_ok();
        assert_eq!(
            received(&fx),
            vec![
                ("R1".to_string(), want[0].to_string()),
                ("R2".to_string(), want[1].to_string())
            ],
            "zone in file {zone_in_file}, pipeline {ingest:?}"
        );
    }
}

/// Integers of every width and sign are versions; a uint64 above the largest int64 is out
/// of range (rejected: its case has another version), not wrapped below 2.
#[test]
fn integer_versions_of_every_width_rank_the_versions() {
    let ids = ["R1", "R2", "R3"];
    let date = |d: &str, n: usize| -> ArrayRef {
        Arc::new(arrow::array::Date32Array::from(vec![days(d); n]))
    };
    let widths: Vec<(&str, ArrayRef)> = vec![
        ("int8", Arc::new(Int8Array::from(vec![1, 2, 3]))),
        ("int16", Arc::new(Int16Array::from(vec![1, 2, 3]))),
        ("int32", Arc::new(Int32Array::from(vec![1, 2, 3]))),
        ("int64", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ("uint8", Arc::new(UInt8Array::from(vec![1, 2, 3]))),
        ("uint16", Arc::new(UInt16Array::from(vec![1, 2, 3]))),
        ("uint32", Arc::new(UInt32Array::from(vec![1, 2, 3]))),
        ("uint64", Arc::new(UInt64Array::from(vec![1, 2, 3]))),
    ];
    for (what, versions) in widths {
        // One case, three versions received the same day: version 3 (R3) is the latest.
        let fx = parquet_reports(
            &ids,
            vec![
                ("case_id", strings(&["C1"; 3])),
                ("version", versions),
                ("received_date", date("2025-02-01", 3)),
            ],
            "",
        );
        fx.run_pipeline(&[]).expect_ok();
        let t = read_parquet(&fx.p("out/period=2025/cases.parquet"));
        assert_eq!(t.rows.len(), 1, "{what}");
        assert_eq!(t.get(0, "report_id").str(), "R3", "{what}");
        assert_eq!(t.get(0, "version").int(), 3, "{what}");
    }

    let big = (1u64 << 63) + 1;
    let fx = parquet_reports(
        &ids[..2],
        vec![
            ("case_id", strings(&["C1"; 2])),
            ("version", Arc::new(UInt64Array::from(vec![big, 2]))),
            ("received_date", date("2025-02-01", 2)),
        ],
        "",
    );
    fx.run_pipeline(&[]).expect_ok();
    let t = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    assert_eq!(t.get(0, "report_id").str(), "R2");
    // R1 is rejected, and its product and event rows with it.
    let cascade = |table: &str| {
        format!("{table},{{d}}/{table}.csv,2,report_id,R1,a report_id of a valid row in {{d}}/reports.parquet (that report was rejected),row rejected")
    };
    assert_eq!(
        rejects(&fx),
        vec![
            format!(
                "reports,{{d}}/reports.parquet,1,version,{big},\"an integer >= 1 (the case has several versions, and the version decides the latest)\",row rejected"
            ),
            cascade("report_products"),
            cascade("report_events"),
        ]
    );
    let m = read_json(&fx.p("out/period=2025/manifest.json"));
    let a = account(&m, "reports");
    assert_eq!((a.read, a.used, a.rejected), (2, 1, 1));
}

/// Float versions (pandas' integers with a missing value): whole values are versions, NaN
/// is a missing version (version 1, as an empty CSV cell), 1.5 is rejected as the text
/// `1.5` is.
#[test]
fn float_versions_with_whole_values_are_read() {
    let ids = ["R1", "R2", "R3", "R4"];
    let fx = parquet_reports(
        &ids,
        vec![
            ("case_id", strings(&["C1", "C1", "C2", "C3"])),
            (
                "version",
                Arc::new(Float64Array::from(vec![f64::NAN, 2.0, 1.5, 1.0])),
            ),
            (
                "received_date",
                Arc::new(arrow::array::Date32Array::from(vec![
                    days("2025-02-03"),
                    days("2025-02-01"),
                    days("2025-02-01"),
                    days("2025-02-01"),
                ])),
            ),
        ],
        "",
    );
    fx.run_pipeline(&[]).expect_ok();
    let t = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    let mut got: Vec<(String, Value)> = (0..t.rows.len())
        .map(|r| {
            (
                t.get(r, "report_id").str().to_string(),
                t.get(r, "version").clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    // C1: version 2 (R2) beats the missing version (R1) received later; C2's only
    // version is unreadable, so nulled (the case table shows the default, 1) and the case
    // kept; C3 is version 1.
    assert_eq!(
        got,
        vec![
            ("R2".to_string(), Value::Int(2)),
            ("R3".to_string(), Value::Int(1)),
            ("R4".to_string(), Value::Int(1)),
        ]
    );
    assert_eq!(
        rejects(&fx),
        vec!["reports,{d}/reports.parquet,3,version,1.5,an integer >= 1,cell nulled".to_string()]
    );

    // The same values as CSV text give the same result.
    let csv_fx = Fixture::new();
    csv_fx.write(
        "reports.csv",
        &csv(
            "report_id,case_id,version,received_date,class,region",
            &[
                "R1,C1,,2025-02-03,drug,330100".to_string(),
                "R2,C1,2.0,2025-02-01,drug,330100".to_string(),
                "R3,C2,1.5,2025-02-01,drug,330100".to_string(),
                "R4,C3,1,2025-02-01,drug,330100".to_string(),
            ],
        ),
    );
    csv_fx.children(&ids);
    csv_fx.pipeline("", "[ingest]\nmax_rejected_fraction = 1.0\n");
    csv_fx.run_pipeline(&[]).expect_ok();
    let t = read_parquet(&csv_fx.p("out/period=2025/cases.parquet"));
    let mut ids_csv: Vec<&str> = (0..t.rows.len())
        .map(|r| t.get(r, "report_id").str())
        .collect();
    ids_csv.sort();
    assert_eq!(ids_csv, vec!["R2", "R3", "R4"]);
    assert_eq!(
        rejects(&csv_fx),
        vec!["reports,{d}/reports.csv,4,version,1.5,an integer >= 1,cell nulled".to_string()]
    );
}

/// A decimal population (a database export's NUMBER(12)) is a number; a decimal age is a
/// number of years.
#[test]
fn decimal_columns_are_read_as_numbers() {
    let fx = Fixture::new();
    let population = Decimal128Array::from(vec![2_000_000i128, 1_500_000])
        .with_precision_and_scale(12, 0)
        .expect("a decimal(12, 0)");
    write_parquet(
        &fx,
        "populations.parquet",
        vec![
            ("region", strings(&["330000", "330000"])),
            ("year", Arc::new(Int16Array::from(vec![2024, 2023]))),
            ("population", Arc::new(population)),
        ],
    );
    let ages = Decimal128Array::from(vec![405i128, 1200])
        .with_precision_and_scale(4, 1)
        .expect("a decimal(4, 1)");
    write_parquet(
        &fx,
        "reports.parquet",
        vec![
            ("report_id", strings(&["R1", "R2"])),
            (
                "received_date",
                Arc::new(arrow::array::Date32Array::from(vec![
                    days("2025-01-02"),
                    days("2025-01-03"),
                ])),
            ),
            ("class", strings(&["drug", "drug"])),
            ("region", strings(&["330100", "330100"])),
            ("age_years", Arc::new(ages)),
        ],
    );
    fx.children(&["R1", "R2"]);
    fx.write(
        "p.toml",
        &format!(
            "{PIPELINE_TOP}\n{}\n[ingest]\nmax_rejected_fraction = 1.0\n",
            PIPELINE_INPUTS
                .replace("\"reports.csv\"", "\"reports.parquet\"")
                .replace("\"populations.csv\"", "\"populations.parquet\"")
        ),
    );
    fx.run_pipeline(&[]).expect_ok();
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let r = rates.row_where(&[("region", "330000"), ("class", "drug")]);
    assert_eq!(rates.get(r, "population").int(), 2_000_000);
    assert_eq!(rates.get(r, "population_year").int(), 2024);
    assert_eq!(rates.get(r, "reports").int(), 2);
    let cases = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    let mut ages: Vec<(String, f64)> = (0..cases.rows.len())
        .map(|r| {
            (
                cases.get(r, "report_id").str().to_string(),
                cases.get(r, "age_years").float(),
            )
        })
        .collect();
    ages.sort_by(|a, b| a.0.cmp(&b.0));
    // 120.0 is within 0..=150; 40.5 keeps its fraction.
    assert_eq!(
        ages,
        vec![("R1".to_string(), 40.5), ("R2".to_string(), 120.0)]
    );
    assert_eq!(rejects(&fx), Vec::<String>::new());
}

/// A column type pvwatch does not read is refused before any row is read (exit 2), naming
/// the file, the column and its type; an extra column of such a type is only listed.
#[test]
fn unreadable_column_types_are_refused_naming_file_and_column() {
    let fx = parquet_reports(
        &["R1"],
        vec![(
            "received_date",
            Arc::new(BinaryArray::from(vec![b"2025-01-02".as_slice()])),
        )],
        "",
    );
    let run = fx.run_pipeline(&[]);
    run.expect_code(2);
    assert_eq!(
        run.stderr.replace(&fx.d(), "{d}"),
        "error: {d}/reports.parquet: column `received_date` (binary): expected booleans, numbers, text, dates or timestamps (write it as one of those)\n"
    );
    assert!(!fx.p("out/period=2025").exists(), "nothing written");

    let fx = parquet_reports(
        &["R1"],
        vec![
            (
                "received_date",
                Arc::new(arrow::array::Date32Array::from(vec![days("2025-01-02")])),
            ),
            (
                "scan",
                Arc::new(BinaryArray::from(vec![b"\x89PNG".as_slice()])),
            ),
        ],
        "",
    );
    fx.run_pipeline(&[]).expect_ok();
    let m = read_json(&fx.p("out/period=2025/manifest.json"));
    let reports = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "reports")
        .unwrap();
    assert_eq!(reports["extra_columns"], serde_json::json!(["scan"]));
}

// ---------------------------------------------------------------------------------------
// Plausible dates.

/// The demo's sample data in a fixture, today pinned, plus these reports rows.
fn sample_with(extra_reports: &str) -> Fixture {
    let fx = Fixture::with_sample_data();
    let mut reports = fs::read_to_string(fx.p("reports.csv")).unwrap();
    reports.push_str(extra_reports);
    fx.write("reports.csv", &reports);
    let pipeline = fs::read_to_string(repo().join("pipelines/demo.toml")).expect("demo.toml");
    let pipeline = pipeline
        .replace("../sample-data/", "")
        .replace("output_dir = \"../out/demo\"", "output_dir = \"out\"")
        .replace("[ingest]\n", "[ingest]\ntoday = 2026-12-07\n");
    assert!(
        pipeline.contains("today = 2026-12-07"),
        "demo.toml has [ingest]"
    );
    fx.write("p.toml", &pipeline);
    fx
}

/// Zhejiang's drug attainment, the data cut-off and the rates table of a run.
fn zhejiang(fx: &Fixture) -> (f64, String, Table) {
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let r = rates.row_where(&[("region", "330000"), ("class", "drug")]);
    let attainment = rates.get(r, "attainment").float();
    let m = read_json(&fx.p("out/period=2025/manifest.json"));
    let cutoff = m["data_cutoff"]
        .as_str()
        .expect("a data cut-off")
        .to_string();
    (attainment, cutoff, rates)
}

/// One received_date typo (9999-12-31, 0000-01-01) rejects its row, naming the line, the
/// value and the plausible range; the data cut-off and Zhejiang's attainment are what they
/// are without that row.
#[test]
fn implausible_received_date_is_rejected_and_leaves_the_cut_off() {
    let base = sample_with("");
    base.run_pipeline(&[]).expect_ok();
    let (attainment, cutoff, rates) = zhejiang(&base);
    // The sample data's planted rejects, which every run below has too.
    let planted = rejects(&base);
    let line = fs::read_to_string(base.p("reports.csv"))
        .unwrap()
        .lines()
        .count()
        + 1;

    for typo in ["9999-12-31", "0000-01-01"] {
        let fx = sample_with(&format!(
            "R9999-000001,C999999,1,{typo},drug,330100,medical_institution,false,false,false,false,F,40\n"
        ));
        fx.run_pipeline(&[]).expect_ok();
        let (a, c, r) = zhejiang(&fx);
        assert_eq!((a, c.as_str()), (attainment, cutoff.as_str()), "{typo}");
        assert_eq!(r.rows, rates.rows, "{typo}: the same rates table");
        let new: Vec<String> = rejects(&fx)
            .into_iter()
            .filter(|r| !planted.contains(r))
            .collect();
        assert_eq!(
            new,
            vec![format!(
                "reports,{{d}}/reports.csv,{line},received_date,{typo},a date from 1968-01-01 to 2026-12-07 (today),row rejected"
            )],
            "{typo}"
        );
        let m = read_json(&fx.p("out/period=2025/manifest.json"));
        let a = account(&m, "reports");
        let before = account(
            &read_json(&base.p("out/period=2025/manifest.json")),
            "reports",
        );
        assert_eq!(
            (a.read, a.used, a.superseded, a.rejected),
            (
                before.read + 1,
                before.used,
                before.superseded,
                before.rejected + 1
            ),
            "{typo}"
        );
        assert_eq!(a.read, a.used + a.superseded + a.rejected);
    }
}

/// Today is the pipeline's `ingest.today`: a report received the day after is rejected, one
/// received that day is used; an onset date after today (or before 1968) is nulled and its
/// event kept. Versions received after the period's end are data for later periods, not
/// rejects.
#[test]
fn dates_after_today_reject_received_and_null_onset() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                report("R0001", "C0001", 1, "2025-01-05", "drug", "330100"),
                report("R0002", "C0002", 1, "2026-03-01", "drug", "330100"),
                report("R0003", "C0003", 1, "2026-03-02", "drug", "330100"),
            ],
        ),
    );
    fx.write(
        "report_events.csv",
        "report_id,event,onset_date\nR0001,Rash,2026-03-02\nR0001,Nausea,1967-12-31\nR0002,Rash,2026-03-01\n",
    );
    fx.write(
        "report_products.csv",
        "report_id,product_id,role\nR0001,D001,suspect\nR0002,D001,suspect\n",
    );
    fx.pipeline(
        "",
        "[ingest]\nmax_rejected_fraction = 1.0\ntoday = \"2026-03-01\"\n",
    );
    fx.run_pipeline(&[]).expect_ok();
    let expected = "a date from 1968-01-01 to 2026-03-01 (today)";
    assert_eq!(
        rejects(&fx),
        vec![
            format!("reports,{{d}}/reports.csv,4,received_date,2026-03-02,{expected},row rejected"),
            format!("report_events,{{d}}/report_events.csv,2,onset_date,2026-03-02,{expected},cell nulled"),
            format!("report_events,{{d}}/report_events.csv,3,onset_date,1967-12-31,{expected},cell nulled"),
        ]
    );
    let m = read_json(&fx.p("out/period=2025/manifest.json"));
    let reports = account(&m, "reports");
    // R0002 (2026-03-01, today) is valid data for 2026: superseded for the 2025 run.
    assert_eq!(
        (
            reports.read,
            reports.used,
            reports.superseded,
            reports.rejected
        ),
        (3, 1, 1, 1)
    );
    let events = account(&m, "report_events");
    assert_eq!((events.read, events.rejected), (3, 0));
    let cases = read_parquet(&fx.p("out/period=2025/cases.parquet"));
    assert_eq!(cases.rows.len(), 1);
    let mut events = cases.get(0, "events").list();
    events.sort();
    assert_eq!(
        events,
        vec!["Nausea", "Rash"],
        "nulled onsets keep their events"
    );
}

/// `ingest.today` takes a quoted or a native TOML date; `ingest.timezone` takes `UTC` or
/// an offset; anything else is a configuration error naming the key (exit 2).
#[test]
fn ingest_today_and_timezone_keys() {
    let fx = Fixture::new();
    for ok in [
        "today = \"2026-03-01\"",
        "today = 2026-03-01",
        "timezone = \"UTC\"",
        "timezone = \"+00:00\"",
        "timezone = \"-03:30\"",
        "timezone = \"+14:00\"",
    ] {
        fx.pipeline("", &format!("[ingest]\n{ok}\n"));
        fx.run(&["validate", &fx.toml()]).expect_ok();
    }
    fx.pipeline(
        "",
        "[ingest]\ntoday = 2026-03-01T10:00:00\ntimezone = \"Asia/Shanghai\"\n",
    );
    let run = fx.run(&["validate", &fx.toml()]);
    run.expect_code(2);
    assert_eq!(
        run.stderr.replace(&fx.d(), "{d}"),
        "error: {d}/p.toml: ingest.today: expected a date YYYY-MM-DD, found `2026-03-01T10:00:00`\n\
         error: {d}/p.toml: ingest.timezone: expected `UTC` or an offset from UTC such as `+08:00` (zone names are not read), found `Asia/Shanghai`\n"
    );
    for (bad, found) in [
        ("today = \"2026-02-30\"", "2026-02-30"),
        ("today = 20260301", "20260301"),
        ("timezone = \"+15:00\"", "+15:00"),
        ("timezone = \"+8\"", "+8"),
    ] {
        fx.pipeline("", &format!("[ingest]\n{bad}\n"));
        let run = fx.run(&["validate", &fx.toml()]);
        run.expect_code(2);
        assert!(
            run.stderr.contains(&format!("`{found}`")) && run.stderr.contains("expected "),
            "{bad}: {}",
            run.stderr
        );
    }
}
