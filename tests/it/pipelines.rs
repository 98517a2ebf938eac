//! The shipped pipelines (`pipelines/*.toml`) on the shipped sample data.

use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;

use crate::util::*;

/// Every `.toml` file in `pipelines/`, so a new pipeline is covered without a new test.
fn shipped_pipelines() -> Vec<PathBuf> {
    let dir = repo().join("pipelines");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// The `period` and `name` a pipeline file sets.
fn period_and_name(pipeline: &Path) -> (String, String) {
    let text = std::fs::read_to_string(pipeline).expect("read the pipeline");
    let v: toml::Table = text.parse().expect("the pipeline is TOML");
    let period = v["period"]
        .as_str()
        .expect("period is a string")
        .to_string();
    let name = v
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            pipeline
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        });
    (period, name)
}

fn demo() -> String {
    repo().join("pipelines/demo.toml").display().to_string()
}

/// Run the demo pipeline into `<fx>/out`, with `extra` flags.
fn run_demo(fx: &Fixture, extra: &[&str]) -> Run {
    let demo = demo();
    let out = fx.ps("out");
    let mut args = vec!["run", demo.as_str(), "--out", out.as_str()];
    args.extend_from_slice(extra);
    let r = fx.run(&args);
    r.expect_ok();
    r
}

#[test]
fn every_shipped_pipeline_validates_and_runs_on_sample_data() {
    let pipelines = shipped_pipelines();
    assert!(
        pipelines.iter().any(|p| p.ends_with("demo.toml")),
        "{pipelines:?}"
    );
    for pipeline in pipelines {
        let (period, name) = period_and_name(&pipeline);
        let fx = Fixture::empty();
        let file = pipeline.display().to_string();

        let r = fx.run(&["validate", &file]);
        r.expect_ok();
        // The report is in the pipeline's language.
        assert!(
            r.stdout.ends_with(&format!("pvwatch: `{name}`: ok\n"))
                || r.stdout.ends_with(&format!("pvwatch: `{name}`: 通过\n")),
            "{file}:\n{}",
            r.stdout
        );
        assert!(
            r.stdout.starts_with("table ") || r.stdout.starts_with("表 "),
            "{file}:\n{}",
            r.stdout
        );
        assert!(
            entries(fx.path()).is_empty(),
            "{file}: validate wrote files"
        );

        let out = fx.ps("out");
        let r = fx.run(&["run", &file, "--out", &out]);
        r.expect_ok();
        assert!(
            r.stdout.contains(&format!("`{name}`")),
            "{file}:\n{}",
            r.stdout
        );
        assert_eq!(
            entries(&fx.p("out")),
            [format!("period={period}")],
            "{file}"
        );
        let dir = period_dir(&fx.p("out"), &period);
        for f in ["rates.parquet", "rejects.csv", "manifest.json"] {
            assert!(dir.join(f).is_file(), "{file}: no {f}");
        }
        let manifest = read_json(&dir.join("manifest.json"));
        assert_eq!(manifest["period"], period.as_str(), "{file}");
        assert_accounts_balance(&manifest);
        let rates = read_parquet(&dir.join("rates.parquet"));
        assert!(!rates.rows.is_empty(), "{file}: empty rates table");
        assert_eq!(entries(fx.path()), ["out"], "{file}: stray files");
    }
}

#[test]
fn demo_rejects_exactly_the_planted_bad_rows() {
    let fx = Fixture::empty();
    run_demo(&fx, &[]);
    let text = std::fs::read_to_string(fx.p("out/period=2025/rejects.csv")).expect("rejects.csv");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rdr.headers().expect("a header").iter().collect::<Vec<_>>(),
        ["table", "file", "line", "column", "found", "expected", "action", "cell"]
    );
    type Row = (String, String, u64, String, String, String);
    let got: Vec<Row> = rdr
        .records()
        .map(|r| {
            let r = r.expect("a rejects.csv record");
            (
                r[0].to_string(),
                r[1].to_string(),
                r[2].parse().expect("a line number"),
                r[3].to_string(),
                r[4].to_string(),
                r[6].to_string(),
            )
        })
        .collect();
    // sample-data/README.md, "Deliberately bad rows": a bad key or required value rejects
    // its row; a bad optional value (age, sentinel, role) is nulled and the row kept.
    const ROW: &str = "row rejected";
    const CELL: &str = "cell nulled";
    let planted: [(&str, &str, u64, &str, &str, &str); 11] = [
        ("reports", "reports.csv", 777, "class", "vaccine", ROW),
        ("reports", "reports.csv", 1043, "age_years", "-4", CELL),
        ("reports", "reports.csv", 2025, "region", "33010", ROW),
        ("reports", "reports.csv", 3141, "sentinel", "maybe", CELL),
        (
            "reports",
            "reports.csv",
            4096,
            "report_id",
            "R2025-000782",
            ROW,
        ),
        (
            "reports",
            "reports.csv",
            5555,
            "received_date",
            "2025-13-01",
            ROW,
        ),
        (
            "report_products",
            "report_products.csv",
            1234,
            "report_id",
            "R2025-999998",
            ROW,
        ),
        (
            "report_products",
            "report_products.csv",
            5678,
            "role",
            "primary",
            CELL,
        ),
        (
            "report_products",
            "report_products.csv",
            9876,
            "report_id",
            "R2025-999999",
            ROW,
        ),
        (
            "report_events",
            "report_events.csv",
            2468,
            "report_id",
            "R2025-999997",
            ROW,
        ),
        ("report_events", "report_events.csv", 8642, "event", "", ROW),
    ];
    let expected: Vec<Row> = planted
        .iter()
        .map(|(t, f, l, c, v, a)| {
            (
                t.to_string(),
                repo().join("sample-data").join(f).display().to_string(),
                *l,
                c.to_string(),
                v.to_string(),
                a.to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn demo_manifest_accounts_for_every_row() {
    let fx = Fixture::empty();
    run_demo(&fx, &[]);
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_accounts_balance(&manifest);
    let tables: Vec<&str> = manifest["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|t| t["table"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        tables,
        [
            "reports",
            "report_products",
            "report_events",
            "products",
            "populations",
            "event_terms"
        ]
    );
    // Row counts and rejects from sample-data/README.md: of its 6 bad report rows, the two
    // with a bad optional value (lines 1043 and 3141, each its own single-version case) are
    // kept with that value nulled, so 6,008 + 2 cases are used; likewise the product row
    // with a bad role (line 5678) is kept.
    let a = |t| account(&manifest, t);
    assert_eq!((a("reports").read, a("reports").rejected), (7058, 4));
    assert_eq!(a("reports").used, 6010);
    assert_eq!(a("reports").superseded, 7058 - 6010 - 4);
    assert_eq!(
        (a("report_products").read, a("report_products").rejected),
        (10247, 2)
    );
    assert_eq!(
        (a("report_events").read, a("report_events").rejected),
        (11382, 2)
    );
    for (t, n) in [("products", 40), ("populations", 44), ("event_terms", 43)] {
        assert_eq!(
            a(t),
            Account {
                read: n,
                used: n,
                superseded: 0,
                rejected: 0
            },
            "{t}"
        );
    }
    for t in manifest["inputs"].as_array().expect("inputs") {
        assert_eq!(t["format"], "csv");
        assert_eq!(t["sha256"].as_str().map(str::len), Some(64), "{t}");
        assert_eq!(t["extra_columns"], serde_json::json!([]), "{t}");
    }
    assert_eq!(manifest["pvwatch_version"], env!("CARGO_PKG_VERSION"));
}

/// Types every BI reader takes (DESIGN.md, Outputs), read back with arrow-rs.
#[test]
fn demo_rates_schema_is_bi_friendly() {
    let fx = Fixture::empty();
    run_demo(&fx, &[]);
    let rates = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let schema = &rates.schema;
    let ty = |c: &str| schema.field_with_name(c).expect(c).data_type().clone();

    let text = [
        "period",
        "level",
        "region",
        "region_name",
        "province",
        "class",
        "null_reason",
    ];
    let counts = [
        "reports",
        "population",
        "population_year",
        "covered_days",
        "new_or_serious",
        "serious",
        "fatal",
        "sentinel_reports",
        "sentinel_new_or_serious",
        "sentinel_serious",
        "reporter_medical_institution",
        "reporter_mah",
        "reporter_distributor",
        "reporter_individual",
        "reporter_other",
        "reporter_unknown",
        "well_documented",
    ];
    let measures = [
        "per_million",
        "annualized_per_million",
        "target_per_million",
        "attainment",
        "new_or_serious_share",
        "serious_share",
        "sentinel_new_or_serious_share",
        "sentinel_serious_share",
        "new_or_serious_target",
        "serious_target",
        "reporter_medical_institution_share",
        "reporter_mah_share",
        "reporter_distributor_share",
        "reporter_individual_share",
        "reporter_other_share",
        "reporter_unknown_share",
        "well_documented_share",
    ];
    let flags = [
        "on_track",
        "period_complete",
        "new_or_serious_met",
        "serious_met",
        "sentinel_new_or_serious_met",
        "sentinel_serious_met",
    ];
    let dates = ["period_start", "period_end"];

    for c in text {
        assert!(
            matches!(ty(c), DataType::Utf8 | DataType::LargeUtf8),
            "`{c}` is {}, not a plain UTF-8 string",
            ty(c)
        );
    }
    for c in counts {
        assert_eq!(ty(c), DataType::Int64, "`{c}`");
    }
    for c in measures {
        assert_eq!(ty(c), DataType::Float64, "`{c}`");
    }
    for c in flags {
        assert_eq!(ty(c), DataType::Boolean, "`{c}`");
    }
    for c in dates {
        assert_eq!(ty(c), DataType::Date32, "`{c}`");
    }
    let listed = text.len() + counts.len() + measures.len() + flags.len() + dates.len();
    assert_eq!(
        schema.fields().len(),
        listed,
        "a column this test does not know: {:?}",
        schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
    );
    for f in schema.fields() {
        let t = f.data_type();
        assert!(!t.is_unsigned_integer(), "`{}` is unsigned ({t})", f.name());
        assert!(
            !matches!(
                t,
                DataType::Utf8View
                    | DataType::BinaryView
                    | DataType::Dictionary(..)
                    | DataType::Null
            ),
            "`{}` is {t}",
            f.name()
        );
        assert!(
            f.name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "`{}` is not snake_case",
            f.name()
        );
    }
    // Four provinces × three classes.
    assert_eq!(rates.rows.len(), 12);
}

#[test]
fn periods_under_one_out_dir_read_as_one_dataset() {
    let fx = Fixture::empty();
    run_demo(&fx, &["--period", "2024"]);
    run_demo(&fx, &["--period", "2025"]);
    // The glob `<out>/*/rates.parquet`: every folder of the output dir.
    let out = fx.p("out");
    let parts: Vec<(String, Table)> = entries(&out)
        .into_iter()
        .map(|d| {
            let t = read_parquet(&out.join(&d).join("rates.parquet"));
            (d, t)
        })
        .collect();
    assert_eq!(
        parts.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        ["period=2024", "period=2025"],
        "only the period folders, no staging leftovers"
    );
    let (a, b) = (&parts[0].1, &parts[1].1);
    assert_eq!(
        a.schema.fields(),
        b.schema.fields(),
        "one schema for all periods"
    );
    let periods = |t: &Table| {
        let mut v: Vec<String> = t
            .column("period")
            .iter()
            .map(|p| p.str().to_string())
            .collect();
        v.dedup();
        v
    };
    assert_eq!(periods(a), ["2024"]);
    assert_eq!(periods(b), ["2025"]);
}
