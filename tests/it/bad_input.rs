//! Bad input: the full text of each error (as cargo's `bad_config.rs` pins them) and of
//! each reject line, with the exit code. `{d}` in an expected text is the test's folder.

use crate::util::*;

/// 200 report rows: 199 good ones and `bad` at `line` (header = line 1). One bad row in
/// 200 is 0.5%, under the default tolerance of 1%.
fn one_bad_row_in_200(line: usize, bad: String) -> Fixture {
    let fx = Fixture::new();
    let mut rows = good_reports(199);
    rows.insert(line - 2, bad);
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    fx
}

/// Run, expect success with one reject, and return the rejects.csv lines after the header.
fn run_with_rejects(fx: &Fixture) -> Vec<String> {
    fx.run_pipeline(&[]).expect_ok();
    let lines = read_rejects(&fx.p("out/period=2025/rejects.csv"));
    assert_eq!(lines[0], REJECTS_CSV_HEADER);
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_accounts_balance(&manifest);
    lines[1..].to_vec()
}

#[test]
fn missing_input_file_names_pipeline_and_key() {
    let fx = Fixture::new();
    fx.write(
        "p.toml",
        &format!(
            "{PIPELINE_TOP}\n{}",
            PIPELINE_INPUTS.replace("\"reports.csv\"", "\"nope.csv\"")
        ),
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    let d = fx.d();
    assert_eq!(
        r.stderr,
        format!("error: {d}/p.toml: inputs.reports: no such file `{d}/nope.csv`\n")
    );
    assert_eq!(r.stdout, "");
    assert!(!fx.p("out").exists());
}

#[test]
fn missing_pipeline_file_is_a_usage_error() {
    let fx = Fixture::empty();
    let missing = fx.ps("missing.toml");
    let r = fx.run(&["run", &missing]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {missing}: cannot read the pipeline file: no such file `{missing}`\n")
    );
}

#[test]
fn missing_required_column_lists_what_was_found() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        "report_id,case_id,version,class,region\nR0001,C0001,1,drug,330100\n",
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/reports.csv: missing required column `received_date` (found: `report_id`, \
             `case_id`, `version`, `class`, `region`)\n",
            fx.d()
        )
    );
    assert!(!fx.p("out").exists());

    // validate reports the same error.
    let toml = fx.toml();
    let v = fx.run(&["validate", &toml]);
    v.expect_code(2);
    assert_eq!(v.stderr, r.stderr);
}

#[test]
fn empty_input_file_is_a_usage_error() {
    let fx = Fixture::new();
    fx.write("report_events.csv", "");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/report_events.csv: empty file: expected a header row\n",
            fx.d()
        )
    );
}

#[test]
fn bad_date_under_tolerance_is_a_reject_with_its_line() {
    let fx = one_bad_row_in_200(
        101,
        report("R0200", "C0200", 1, "2025-02-30", "drug", "330100"),
    );
    assert_eq!(
        run_with_rejects(&fx),
        [format!(
            "reports,{}/reports.csv,101,received_date,2025-02-30,a date YYYY-MM-DD,row rejected",
            fx.d()
        )]
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(
        account(&manifest, "reports"),
        Account {
            read: 200,
            used: 199,
            superseded: 0,
            rejected: 1
        }
    );
}

#[test]
fn bad_region_under_tolerance_is_a_reject_with_its_line() {
    let fx = one_bad_row_in_200(
        57,
        report("R0200", "C0200", 1, "2025-01-10", "drug", "990100"),
    );
    assert_eq!(
        run_with_rejects(&fx),
        [format!(
            "reports,{}/reports.csv,57,region,990100,a 6-digit GB/T 2260 region code,row rejected",
            fx.d()
        )]
    );
}

#[test]
fn bad_optional_boolean_is_nulled_and_its_row_kept() {
    let fx = one_bad_row_in_200(
        150,
        "R0200,C0200,1,2025-01-10,drug,330100,medical_institution,false,false,perhaps,false"
            .to_string(),
    );
    assert_eq!(
        run_with_rejects(&fx),
        [format!(
            "reports,{}/reports.csv,150,is_serious,perhaps,\"a boolean (true/false, 1/0, yes/no, 是/否)\",cell nulled",
            fx.d()
        )]
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(
        account(&manifest, "reports"),
        Account {
            read: 200,
            used: 200,
            superseded: 0,
            rejected: 0
        },
        "a bad optional value costs no row"
    );
    let reports = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "reports")
        .unwrap();
    assert_eq!(
        reports["nulled_cells"],
        serde_json::json!({"is_serious": 1})
    );
}

#[test]
fn bad_version_of_a_case_with_several_versions_rejects_the_row() {
    // A case with one version keeps its row with the version nulled (= 1); a case with two
    // cannot be ranked when one version is unreadable, so that row is rejected.
    let fx = Fixture::new();
    let mut rows = good_reports(197);
    rows.push(report("R0300", "C0300", 1, "2025-01-10", "drug", "330100"));
    rows.push(
        report("R0301", "C0300", 1, "2025-02-10", "drug", "330100").replacen(",1,", ",two,", 1),
    );
    rows.push(
        report("R0302", "C0302", 1, "2025-02-10", "drug", "330100").replacen(",1,", ",x,", 1),
    );
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let d = fx.d();
    assert_eq!(
        run_with_rejects(&fx),
        [
            format!(
                "reports,{d}/reports.csv,200,version,two,\"an integer >= 1 (the case has several versions, and the version decides the latest)\",row rejected"
            ),
            format!("reports,{d}/reports.csv,201,version,x,an integer >= 1,cell nulled"),
        ]
    );
}

#[test]
fn bad_rows_above_tolerance_exit_3_and_write_nothing() {
    let fx = Fixture::new();
    let mut rows = good_reports(17);
    rows.insert(
        3,
        report("R0901", "C0901", 1, "2025-01-10", "drug", "990100"),
    );
    rows.insert(
        7,
        report("R0902", "C0902", 1, "2025-02-30", "drug", "330100"),
    );
    rows.insert(
        12,
        "R0903,C0903,1,2025-01-10,drug,330100,medical_institution,false,false,perhaps,false"
            .to_string(),
    );
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let r = fx.run_pipeline(&[]);
    r.expect_code(3);
    let d = fx.d();
    assert_eq!(
        r.stderr,
        format!(
            "\
error: {d}/reports.csv: 2 of 20 rows rejected (10.00%), above ingest.max_rejected_fraction = 0.01; nothing was written
  {d}/reports.csv: line 5, column `region`: expected a 6-digit GB/T 2260 region code, found `990100`
  {d}/reports.csv: line 9, column `received_date`: expected a date YYYY-MM-DD, found `2025-02-30`
"
        )
    );
    assert_eq!(r.stdout, "");
    assert!(
        !fx.p("out").exists(),
        "nothing is written above the tolerance"
    );

    // validate stops the same way.
    let toml = fx.toml();
    let v = fx.run(&["validate", &toml]);
    v.expect_code(3);
    assert_eq!(v.stderr, r.stderr);
}

#[test]
fn unknown_top_level_key_names_key_and_line() {
    let fx = Fixture::new();
    fx.pipeline("perod = \"2025\"", "");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/p.toml: perod: unknown field `perod`, expected one of `name`, `period`, \
             `output_dir`, `lang`, `max_memory_gib`, `inputs`, `ingest`, `rates`, `scope`, `signals`, `alerts`, `notify`, `review`, `terms` (line 3)\n",
            fx.d()
        )
    );
}

#[test]
fn unknown_nested_key_names_dotted_path_and_line() {
    let fx = Fixture::new();
    fx.pipeline(
        "",
        "[rates]\nlevels = [\"province\"]\n\n[rates.targets.drug]\nper_milion = 1000\n",
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/p.toml: rates.targets.drug.per_milion: unknown field `per_milion`, \
             expected `per_million` or `regions` (line 15)\n",
            fx.d()
        )
    );
}

#[test]
fn out_of_range_target_is_a_config_error() {
    let fx = Fixture::new();
    fx.pipeline("", "[rates.targets.drug]\nper_million = -5\n");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/p.toml: rates.targets.drug.per_million: expected a number > 0, found `-5`\n",
            fx.d()
        )
    );
    assert!(!fx.p("out").exists());
}

#[test]
fn review_keys_are_checked_and_unknown_ones_named() {
    let fx = Fixture::new();
    fx.pipeline(
        "",
        "[review]\ndatabase_url = \"mysql://pv:s3cret@db/pv\"\nreopen.cases_factor = 0.5\n",
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {d}/p.toml: review.database_url: expected a `sqlite:`, `postgres://` or `postgresql://` URL or `env:NAME`, found `mysql://pv:[redacted]@db/pv`\n\
             error: {d}/p.toml: review.reopen.cases_factor: expected a number > 1, found `0.5`\n",
            d = fx.d()
        )
    );
    fx.pipeline("", "[review.reopen]\ncases = 3\n");
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert!(
        r.stderr.starts_with(&format!(
            "error: {}/p.toml: review.reopen.cases: unknown field `cases`, expected `cases_factor` or `eb05_rise`",
            fx.d()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn every_config_error_is_reported_together() {
    let fx = Fixture::new();
    fx.write(
        "p.toml",
        r#"period = "2025-Q5"
output_dir = "out"
lang = "fr"

[inputs]
reports = "nope.csv"
report_products = "report_products.txt"
report_events = "report_events.csv"
products = "products.csv"
populations = "populations.csv"

[ingest]
max_rejected_fraction = 1.5

[rates]
levels = ["county"]
regions = ["3301"]
classes = ["vaccine"]
as_of = "2025-02-30"

[rates.targets.drug]
per_million = -5
regions = { "3300" = 1000 }

[rates.sentinel_targets]
serious = 18
"#,
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    let d = fx.d();
    assert_eq!(
        r.stderr,
        format!(
            "\
error: {d}/p.toml: period: expected a period like `2025`, `2025-Q3` or `2025-07`, found `2025-Q5`
error: {d}/p.toml: lang: expected `en` or `zh`, found `fr`
error: {d}/p.toml: inputs.reports: no such file `{d}/nope.csv`
error: {d}/p.toml: inputs.report_products: expected a .csv, .parquet or .xlsx (.xls) file, found `report_products.txt`
error: {d}/p.toml: ingest.max_rejected_fraction: expected a fraction from 0 to 1, found `1.5`
error: {d}/p.toml: rates.levels[0]: expected `province` or `city`, found `county`
error: {d}/p.toml: rates.regions[0]: expected a 6-digit GB/T 2260 region code, found `3301`
error: {d}/p.toml: rates.classes[0]: expected one of `drug`, `device`, `cosmetic`, found `vaccine`
error: {d}/p.toml: rates.as_of: expected a date YYYY-MM-DD, found `2025-02-30`
error: {d}/p.toml: rates.targets.drug.per_million: expected a number > 0, found `-5`
error: {d}/p.toml: rates.targets.drug.regions.3300: expected a 6-digit GB/T 2260 region code as the key, found `3300`
error: {d}/p.toml: rates.sentinel_targets.serious: expected a share from 0 to 1, found `18`
"
        )
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn malformed_toml_is_a_config_error_with_its_line() {
    let fx = Fixture::new();
    fx.pipeline("lang = \"en", "");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/p.toml: invalid basic string, expected `\"` (line 3)\n",
            fx.d()
        )
    );
}

#[test]
fn wrong_type_in_toml_names_key_and_line() {
    let fx = Fixture::new();
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = \"1%\"\n");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/p.toml: ingest.max_rejected_fraction: invalid type: string \"1%\", \
             expected f64 (line 12)\n",
            fx.d()
        )
    );
}

#[test]
fn row_with_wrong_field_count_is_a_reject_without_column() {
    let fx = Fixture::new();
    let mut rows = good_reports(198);
    rows.insert(2, "R0901,C0901,1".to_string());
    rows.insert(
        118,
        format!(
            "{},extra",
            report("R0902", "C0902", 1, "2025-01-10", "drug", "330100")
        ),
    );
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let d = fx.d();
    assert_eq!(
        run_with_rejects(&fx),
        [
            format!("reports,{d}/reports.csv,4,,3 fields,\"11 fields, as in the header\",row rejected"),
            format!("reports,{d}/reports.csv,120,,12 fields,\"11 fields, as in the header\",row rejected"),
        ]
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(account(&manifest, "reports").rejected, 2);
}

#[test]
fn product_row_of_unknown_report_is_a_reject() {
    let fx = Fixture::new();
    fx.write(
        "report_products.csv",
        "report_id,product_id,role\nR0001,D001,suspect\nR9999,D001,suspect\n",
    );
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    let d = fx.d();
    assert_eq!(
        run_with_rejects(&fx),
        [format!(
            "report_products,{d}/report_products.csv,3,report_id,R9999,a report_id present in {d}/reports.csv,row rejected"
        )]
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(
        account(&manifest, "report_products"),
        Account {
            read: 2,
            used: 1,
            superseded: 0,
            rejected: 1
        }
    );
}

#[test]
fn event_row_of_rejected_report_says_the_report_was_rejected() {
    let fx = Fixture::new();
    let mut rows = good_reports(2);
    rows.push(report("R0003", "C0003", 1, "2025-13-01", "drug", "330100"));
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    fx.write(
        "report_events.csv",
        "report_id,event\nR0001,Rash\nR0003,Rash\n",
    );
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    let d = fx.d();
    assert_eq!(
        run_with_rejects(&fx),
        [
            format!(
                "reports,{d}/reports.csv,4,received_date,2025-13-01,a date YYYY-MM-DD,row rejected"
            ),
            format!(
                "report_events,{d}/report_events.csv,3,report_id,R0003,a report_id of a valid row \
                 in {d}/reports.csv (that report was rejected),row rejected"
            ),
        ]
    );
}

#[test]
fn duplicate_report_id_names_the_first_line() {
    let fx = one_bad_row_in_200(
        180,
        report("R0007", "C0999", 1, "2025-01-10", "drug", "330100"),
    );
    assert_eq!(
        run_with_rejects(&fx),
        [format!(
            "reports,{}/reports.csv,180,report_id,R0007,a unique report_id (first seen on line 8),row rejected",
            fx.d()
        )]
    );
}

#[test]
fn unreadable_parquet_input_is_a_usage_error() {
    let fx = Fixture::new();
    fx.write("populations.parquet", "region,year,population\n");
    fx.write(
        "p.toml",
        &format!(
            "{PIPELINE_TOP}\n{}",
            PIPELINE_INPUTS.replace("\"populations.csv\"", "\"populations.parquet\"")
        ),
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    let prefix = format!(
        "error: {}/populations.parquet: not a readable Parquet file: ",
        fx.d()
    );
    assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}
