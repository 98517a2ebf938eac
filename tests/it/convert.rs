//! `pvwatch convert` and pipelines with `[inputs.source]`, on the small synthetic files in
//! `tests/data/convert/{faers,e2b,flat}/` (hand-written for these tests, no real case).

use std::path::Path;

use arrow::datatypes::DataType;

use crate::util::*;

fn data(rel: &str) -> String {
    repo()
        .join("tests/data/convert")
        .join(rel)
        .display()
        .to_string()
}

/// `pvwatch convert --from <format> <src> --out <fx>/out extra…`.
fn convert(fx: &Fixture, format: &str, src: &str, extra: &[&str]) -> Run {
    let out = fx.ps("out");
    let mut args = vec!["convert", "--from", format, src, "--out", out.as_str()];
    args.extend_from_slice(extra);
    fx.run(&args)
}

/// The canonical tables of a conversion, read back with arrow-rs.
struct Converted {
    reports: Table,
    products: Table,
    events: Table,
    registry: Table,
    manifest: serde_json::Value,
    rejects: Vec<String>,
}

fn read_converted(fx: &Fixture) -> Converted {
    let out = fx.p("out");
    assert_eq!(
        entries(&out),
        [
            "convert-manifest.json",
            "products.parquet",
            "rejects.csv",
            "report_events.parquet",
            "report_products.parquet",
            "reports.parquet",
        ]
    );
    Converted {
        reports: read_parquet(&out.join("reports.parquet")),
        products: read_parquet(&out.join("report_products.parquet")),
        events: read_parquet(&out.join("report_events.parquet")),
        registry: read_parquet(&out.join("products.parquet")),
        manifest: read_json(&out.join("convert-manifest.json")),
        rejects: read_rejects(&out.join("rejects.csv")),
    }
}

impl Converted {
    /// The manifest's entry of the source file whose path ends with `file`.
    fn source(&self, file: &str) -> &serde_json::Value {
        self.manifest["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["path"].as_str().is_some_and(|p| p.ends_with(file)))
            .unwrap_or_else(|| panic!("no source {file}"))
    }

    /// (read, used, superseded, rejected) of the source file whose path ends with `file`.
    fn account(&self, file: &str) -> [u64; 4] {
        let s = self.source(file);
        ["read", "used", "superseded", "rejected"].map(|k| s[k].as_u64().expect("a count"))
    }

    /// The nulled cells of a source file, by column.
    fn nulled(&self, file: &str) -> Vec<(String, u64)> {
        let s = self.source(file);
        s["nulled_cells"]
            .as_object()
            .expect("nulled_cells")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().expect("a count")))
            .collect()
    }

    fn assert_balanced(&self) {
        for s in self.manifest["sources"].as_array().expect("sources") {
            let n = |k: &str| s[k].as_u64().expect("a count");
            assert_eq!(
                n("read"),
                n("used") + n("superseded") + n("duplicate") + n("rejected"),
                "{s}"
            );
        }
        let r = &self.manifest["rows"];
        let n = |k: &str| r[k].as_u64().expect("a count");
        assert_eq!(
            n("read"),
            n("used") + n("superseded") + n("duplicate") + n("rejected")
        );
    }

    /// (product_id, role, batch) rows of a report, sorted.
    fn products_of(&self, report: &str) -> Vec<(String, String, Option<String>)> {
        let t = &self.products;
        let mut v: Vec<_> = (0..t.rows.len())
            .filter(|&r| t.get(r, "report_id").str() == report)
            .map(|r| {
                let batch = t.get(r, "batch");
                (
                    t.get(r, "product_id").str().to_string(),
                    t.get(r, "role").str().to_string(),
                    (!batch.is_null()).then(|| batch.str().to_string()),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// (event, onset_date) rows of a report, sorted.
    fn events_of(&self, report: &str) -> Vec<(String, Option<i32>)> {
        let t = &self.events;
        let mut v: Vec<_> = (0..t.rows.len())
            .filter(|&r| t.get(r, "report_id").str() == report)
            .map(|r| {
                let onset = match t.get(r, "onset_date") {
                    Value::Date(d) => Some(*d),
                    _ => None,
                };
                (t.get(r, "event").str().to_string(), onset)
            })
            .collect();
        v.sort();
        v
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn faers_quarter_converts_with_canonical_values() {
    let fx = Fixture::empty();
    let r = convert(&fx, "faers", &data("faers/valid"), &["--region", "310000"]);
    r.expect_ok();
    assert!(
        r.stdout.contains("Read 18 rows from 4 files: 15 used, 3 superseded (older case versions), 0 rejected (none)."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("DEMO24Q1.txt (demo): read 4, used 3, superseded 1, rejected 0"),
        "{}",
        r.stdout
    );
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("DEMO24Q1.txt"), [4, 3, 1, 0]);
    assert_eq!(c.account("DRUG24Q1.txt"), [6, 5, 1, 0]);
    assert_eq!(c.account("REAC24Q1.txt"), [5, 4, 1, 0]);
    assert_eq!(c.account("OUTC24Q1.txt"), [3, 3, 0, 0]);
    assert_eq!(c.rejects, [REJECTS_CSV_HEADER]);
    assert_eq!(c.manifest["format"], "faers");
    assert_eq!(c.manifest["region"], "310000");

    // BI-safe: large strings, no view types.
    let rep = &c.reports;
    assert_eq!(
        rep.schema.field(rep.index("report_id")).data_type(),
        &DataType::LargeUtf8
    );
    // Both versions of case 100 are kept; version 2 (received later) is the latest.
    let v1 = rep.row_where(&[("report_id", "1001")]);
    let v2 = rep.row_where(&[("report_id", "1002")]);
    assert_eq!(rep.get(v1, "case_id").str(), "100");
    assert_eq!(rep.get(v1, "version").int(), 1);
    assert_eq!(rep.get(v2, "version").int(), 2);
    assert_eq!(
        rep.get(v1, "received_date"),
        &Value::Date(days("2024-01-05"))
    );
    assert_eq!(
        rep.get(v2, "received_date"),
        &Value::Date(days("2024-02-10"))
    );
    assert_eq!(rep.get(v2, "age_years").float(), 30.0, "3 DEC = 30 years");
    assert_eq!(rep.get(v2, "sex").str(), "F");
    assert!(rep.get(v2, "is_serious").bool(), "HO is serious");
    assert!(!rep.get(v2, "fatal").bool());
    assert_eq!(rep.get(v2, "region").str(), "310000");
    assert_eq!(rep.get(v2, "class").str(), "drug");
    assert_eq!(rep.get(v2, "reporter_type").str(), "mah", "EXP");
    let b = rep.row_where(&[("report_id", "2001")]);
    assert!(rep.get(b, "fatal").bool(), "DE is fatal");
    assert!(rep.get(b, "is_serious").bool());
    assert_eq!(rep.get(b, "age_years").float(), 45.0);
    assert_eq!(rep.get(b, "sex").str(), "M");
    assert_eq!(rep.get(b, "reporter_type").str(), "individual", "DIR");
    let c3 = rep.row_where(&[("report_id", "3001")]);
    assert_eq!(rep.get(c3, "age_years").float(), 0.5, "6 MON");
    assert_eq!(rep.get(c3, "sex").str(), "U", "UNK");
    assert!(
        !rep.get(c3, "is_serious").bool(),
        "no OUTC row: not serious"
    );
    assert!(rep.get(c3, "is_new").is_null(), "FAERS has no 新的 flag");

    // prod_ai wins over drugname; names are upper-cased; PS/SS suspect, C, I.
    assert_eq!(
        c.products_of("1002"),
        [
            (s("ASPIRIN"), s("suspect"), Some(s("LOT-7"))),
            (s("LISINOPRIL"), s("concomitant"), None),
        ]
    );
    assert_eq!(
        c.products_of("2001"),
        [
            (s("ACETAMINOPHEN"), s("suspect"), None),
            (s("WARFARIN"), s("interacting"), None),
        ]
    );
    assert_eq!(
        c.products_of("1001"),
        [(s("ASPIRIN 81 MG"), s("suspect"), None)],
        "dose text is kept unless --strip-dose"
    );
    // Events take the report's event_dt as onset.
    assert_eq!(
        c.events_of("1002"),
        [
            (s("Nausea"), Some(days("2023-12-28"))),
            (s("Vomiting"), Some(days("2023-12-28"))),
        ]
    );
    // The registry lists each distinct product once, class drug, nothing watched.
    let reg = &c.registry;
    assert_eq!(reg.rows.len(), 6);
    let a = reg.row_where(&[("product_id", "ASPIRIN")]);
    assert_eq!(reg.get(a, "name").str(), "ASPIRIN");
    assert_eq!(reg.get(a, "class").str(), "drug");
    assert!(reg.get(a, "innovative").is_null());
}

#[test]
fn faers_strip_dose_and_rerun_replaces_the_previous_conversion() {
    let fx = Fixture::empty();
    let src = data("faers/valid");
    convert(&fx, "faers", &src, &["--region", "310000"]).expect_ok();
    convert(&fx, "faers", &src, &["--region", "310000", "--strip-dose"]).expect_ok();
    let c = read_converted(&fx);
    assert_eq!(c.products_of("1001"), [(s("ASPIRIN"), s("suspect"), None)]);
    assert_eq!(c.products_of("3001")[0].0, "AMOXICILLIN");
    assert_eq!(entries(fx.path()), ["out"], "no staging folder left behind");
}

#[test]
fn faers_malformed_rows_are_rejected_with_their_lines() {
    let fx = Fixture::empty();
    let src = data("faers/malformed");
    // Above the default 1% tolerance: exit 3 and nothing written.
    let r = convert(&fx, "faers", &src, &["--region", "310000"]);
    r.expect_code(3);
    assert!(
        r.stderr.starts_with(&format!(
            "error: {src}/demo24q1.txt: 2 of 4 rows rejected (50.00%), above --max-rejected-fraction = 0.01; nothing was written\n"
        )),
        "{}",
        r.stderr
    );
    assert!(entries(fx.path()).is_empty(), "nothing written");

    let r = convert(
        &fx,
        "faers",
        &src,
        &["--region", "310000", "--max-rejected-fraction", "1"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("demo24q1.txt"), [4, 2, 0, 2]);
    // An unknown role_cod is nulled (the product counts as suspect), not a reject.
    assert_eq!(c.account("drug24q1.txt"), [4, 3, 0, 1]);
    assert_eq!(c.nulled("drug24q1.txt"), [(s("role_cod"), 1)]);
    assert_eq!(c.account("reac24q1.txt"), [4, 2, 0, 2]);
    assert_eq!(c.account("outc24q1.txt"), [1, 1, 0, 0]);
    assert_eq!(
        c.rejects,
        [
            s(REJECTS_CSV_HEADER),
            format!("demo,{src}/demo24q1.txt,4,primaryid,5001,a unique primaryid (first seen on line 2 of {src}/demo24q1.txt),row rejected"),
            format!("demo,{src}/demo24q1.txt,5,,9 fields,\"25 fields, as in the header\",row rejected"),
            format!("drug,{src}/drug24q1.txt,4,primaryid,5003,a primaryid of a valid DEMO row (that row was rejected),row rejected"),
            format!("drug,{src}/drug24q1.txt,5,role_cod,X,\"one of `PS`, `SS`, `C`, `I` (a null role counts as suspect)\",cell nulled"),
            format!("reac,{src}/reac24q1.txt,3,pt,,a MedDRA preferred term,row rejected"),
            format!("reac,{src}/reac24q1.txt,5,,2 fields on a truncated last line (the file ends inside the row),\"4 fields, as in the header\",row rejected"),
        ]
    );
    // An age without any value is unknown, not a reject.
    let b = c.reports.row_where(&[("report_id", "5002")]);
    assert!(c.reports.get(b, "age_years").is_null());
    // The row with the nulled role_cod keeps its product, with a null role.
    let p = &c.products;
    let roles: Vec<bool> = (0..p.rows.len())
        .filter(|&r| p.get(r, "report_id").str() == "5002")
        .map(|r| p.get(r, "role").is_null())
        .collect();
    assert_eq!(roles, [false, true]);
}

#[test]
fn faers_usage_errors_exit_2() {
    let fx = Fixture::empty();
    let src = data("faers/valid");
    let r = convert(&fx, "faers", &src, &[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {src}: FAERS has no Chinese region: give the region code to use (--region, or `region` in the pipeline's source)\n")
    );
    let r = convert(&fx, "faers", &src, &["--region", "990000"]);
    r.expect_code(2);
    assert!(r
        .stderr
        .contains("region: expected a 6-digit GB/T 2260 region code, found `990000`"));
    let r = convert(&fx, "faers", &fx.ps("nope"), &["--region", "310000"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {0}: no such file or folder `{0}`\n", fx.ps("nope"))
    );
    let r = convert(&fx, "vigibase", &src, &["--region", "310000"]);
    r.expect_code(2);
    assert!(
        r.stderr
            .contains("invalid value 'vigibase' for '--from <FROM>'"),
        "{}",
        r.stderr
    );

    // Legacy (LAERS) files name ISR and CASE; a file with neither key is a clear error.
    fx.write("q/DEMO24Q1.txt", "isr$case$fda_dt\n1$2$20240101\n");
    fx.write("q/DRUG24Q1.txt", "isr$drug_seq\n");
    fx.write("q/REAC24Q1.txt", "isr$pt\n");
    fx.write("q/OUTC24Q1.txt", "isr$outc_cod\n");
    fx.write("q/ASCII/ignored.txt", "");
    fx.write("p/DEMO24Q1.txt", "id$case_no\n");
    fx.write("p/DRUG24Q1.txt", "");
    fx.write("p/REAC24Q1.txt", "");
    fx.write("p/OUTC24Q1.txt", "");
    let r = convert(&fx, "faers", &fx.ps("q"), &["--region", "310000"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}: missing required column `role_cod` (a legacy LAERS file with ISR and CASE?) (found: `isr`, `drug_seq`)\n",
            fx.ps("q/DRUG24Q1.txt")
        )
    );
    let r = convert(&fx, "faers", &fx.ps("p"), &["--region", "310000"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}: missing required column `primaryid` (found: `id`, `case_no`)\n",
            fx.ps("p/DEMO24Q1.txt")
        )
    );
    // An output folder that is not a previous conversion is never replaced.
    fx.write("mine/notes.txt", "keep me");
    let r = fx.run(&[
        "convert",
        "--from",
        "faers",
        &src,
        "--out",
        &fx.ps("mine"),
        "--region",
        "310000",
    ]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("holds no convert-manifest.json"),
        "{}",
        r.stderr
    );
    assert_eq!(entries(&fx.p("mine")), ["notes.txt"]);
}

#[test]
fn e2b_messages_convert_with_versions_roles_and_seriousness() {
    let fx = Fixture::empty();
    let r = convert(&fx, "e2b", &data("e2b/valid"), &["--region", "330100"]);
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("batch.xml"), [2, 1, 1, 0]);
    assert_eq!(c.account("prefixed.xml"), [1, 1, 0, 0]);
    let rep = &c.reports;
    // Two ICSRs of one case: ranked by C.1.5, the later is version 2.
    let v1 = rep.row_where(&[("report_id", "CN-TEST-0001#1")]);
    let v2 = rep.row_where(&[("report_id", "CN-TEST-0001#2")]);
    assert_eq!(rep.get(v2, "case_id").str(), "CN-TEST-0001");
    assert_eq!(rep.get(v2, "version").int(), 2);
    assert_eq!(
        rep.get(v1, "received_date"),
        &Value::Date(days("2024-01-10"))
    );
    assert_eq!(
        rep.get(v2, "received_date"),
        &Value::Date(days("2024-02-20"))
    );
    assert!(rep.get(v1, "is_serious").bool(), "hospitalisation");
    assert!(!rep.get(v1, "fatal").bool());
    assert!(rep.get(v2, "fatal").bool(), "results in death");
    assert_eq!(rep.get(v2, "sex").str(), "F");
    assert_eq!(rep.get(v2, "age_years").float(), 45.0);
    assert_eq!(rep.get(v2, "region").str(), "330100");
    // Characterisation 1/2/3; 4 (not administered) and drug history are left out.
    assert_eq!(
        c.products_of("CN-TEST-0001#2"),
        [
            (s("AMOXICILLIN 500 MG"), s("suspect"), Some(s("B2024-01"))),
            (s("OMEPRAZOLE"), s("concomitant"), None),
            (s("WARFARIN"), s("interacting"), None),
        ]
    );
    // MedDRA code, or the reported term; onset from the reaction's start date.
    assert_eq!(
        c.events_of("CN-TEST-0001#2"),
        [
            (s("10028813"), Some(days("2024-01-02"))),
            (s("肝功能异常"), Some(days("2024-01-05"))),
        ]
    );
    // No case id (C.1.8.1): the safety report id; age in decades.
    let b = rep.row_where(&[("report_id", "CN-TEST-0002#1")]);
    assert_eq!(rep.get(b, "case_id").str(), "CN-TEST-0002");
    assert_eq!(rep.get(b, "age_years").float(), 30.0);
    assert_eq!(rep.get(b, "sex").str(), "M");
    // Its reaction states no seriousness criterion (E.i.3.2): unknown, not "not serious".
    assert!(rep.get(b, "is_serious").is_null());
    assert!(rep.get(b, "fatal").is_null());
    // Namespace prefixes do not matter; sex 9 is unknown; 6 months.
    let p = rep.row_where(&[("report_id", "CN-TEST-0003#1")]);
    assert_eq!(rep.get(p, "sex").str(), "U");
    assert_eq!(rep.get(p, "age_years").float(), 0.5);
    assert!(rep.get(p, "is_serious").bool(), "life threatening");
    assert_eq!(c.products_of("CN-TEST-0003#1")[0].0, "PARACETAMOL");
}

#[test]
fn e2b_message_without_a_report_id_is_rejected_with_its_line() {
    let fx = Fixture::empty();
    let src = data("e2b/missing_id.xml");
    let r = convert(
        &fx,
        "e2b",
        &src,
        &["--region", "330100", "--max-rejected-fraction", "1"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("missing_id.xml"), [2, 1, 0, 1]);
    assert_eq!(
        c.rejects,
        [
            s(REJECTS_CSV_HEADER),
            format!("icsr,{src},89,C.1.1,,a safety report id (investigationEvent/id with root 2.16.840.1.113883.3.989.2.1.3.1),row rejected"),
        ]
    );
}

#[test]
fn hostile_xml_is_refused_with_a_clear_error() {
    let fx = Fixture::empty();
    let cases = [
        ("e2b/hostile/xxe.xml", "line 2: a DOCTYPE declaration; DTDs are refused (no external entities, no entity expansion), so the file was not read further"),
        ("e2b/hostile/billion_laughs.xml", "line 2: a DOCTYPE declaration; DTDs are refused (no external entities, no entity expansion), so the file was not read further"),
        ("e2b/hostile/undefined_entity.xml", "line 2: undefined entity `&xxe;` (no DTD is read: only the five predefined entities and character references are allowed)"),
    ];
    for (file, message) in cases {
        let src = data(file);
        let r = convert(&fx, "e2b", &src, &["--region", "330100"]);
        r.expect_code(2);
        assert_eq!(r.stderr, format!("error: {src}: {message}\n"));
        assert!(!r.stderr.contains("root:"), "nothing of /etc/passwd");
        assert!(entries(fx.path()).is_empty(), "{file}: nothing written");
    }
    // An oversize file is refused before it is read.
    let src = data("e2b/valid/batch.xml");
    let r = convert(
        &fx,
        "e2b",
        &src,
        &["--region", "330100", "--max-xml-bytes", "1000"],
    );
    r.expect_code(2);
    let size = std::fs::metadata(&src).expect("fixture").len();
    assert_eq!(
        r.stderr,
        format!("error: {src}: the file is {size} bytes, above the bound of 1000 bytes for one XML file (max_xml_bytes); it was not read\n")
    );
    // Deep nesting.
    let deep = format!("{}{}", "<a>".repeat(300), "</a>".repeat(300));
    fx.write("deep.xml", &deep);
    let r = convert(&fx, "e2b", &fx.ps("deep.xml"), &["--region", "330100"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("elements nested more than 256 deep"),
        "{}",
        r.stderr
    );
}

#[test]
fn flat_export_with_chinese_headers_converts_through_its_mapping() {
    let fx = Fixture::empty();
    let src = data("flat/export.csv");
    let mapping = data("flat/mapping.toml");
    let r = convert(
        &fx,
        "flat",
        &src,
        &["--mapping", &mapping, "--max-rejected-fraction", "0.5"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("export.csv"), [11, 8, 1, 2]);
    let rep = &c.reports;
    let a = rep.row_where(&[("report_id", "R001")]);
    assert_eq!(rep.get(a, "case_id").str(), "C001");
    assert!(rep.get(a, "is_new").bool(), "新的");
    assert!(rep.get(a, "is_serious").bool(), "严重");
    assert_eq!(rep.get(a, "sex").str(), "F", "女");
    assert_eq!(rep.get(a, "age_years").float(), 34.0);
    assert_eq!(rep.get(a, "region").str(), "330106");
    assert_eq!(
        rep.get(a, "received_date"),
        &Value::Date(days("2024-03-01"))
    );
    // One row per case × product × event becomes one report, its products, its events.
    assert_eq!(
        c.products_of("R001"),
        [
            (s("奥美拉唑"), s("concomitant"), None),
            (s("阿莫西林胶囊"), s("suspect"), Some(s("B240101"))),
        ]
    );
    assert_eq!(
        c.events_of("R001"),
        [
            (s("瘙痒"), Some(days("2024-02-27"))),
            (s("皮疹"), Some(days("2024-02-27"))),
        ]
    );
    // R003 (version 2 of case C002) supersedes R002; dates in three formats.
    let r2 = rep.row_where(&[("report_id", "R002")]);
    let r3 = rep.row_where(&[("report_id", "R003")]);
    assert_eq!(
        rep.get(r2, "received_date"),
        &Value::Date(days("2024-03-05"))
    );
    assert_eq!(
        rep.get(r3, "received_date"),
        &Value::Date(days("2024-03-20"))
    );
    assert_eq!(rep.get(r3, "version").int(), 2);
    assert_eq!(
        c.events_of("R003")[0].1,
        Some(days("2024-03-04")),
        "YYYY年MM月DD日"
    );
    assert_eq!(
        c.rejects,
        [
            s(REJECTS_CSV_HEADER),
            format!("flat,{src},11,性别,F,the same value as line 10 (`M`): every row of report `R004` must agree on its report columns,row rejected"),
            format!("flat,{src},12,报告日期,2024-13-40,\"a date (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, YYYY年MM月DD日) for `received_date`\",row rejected"),
        ]
    );
}

#[test]
fn flat_export_missing_a_mapped_column_is_a_usage_error() {
    let fx = Fixture::empty();
    let src = data("flat/export_missing_column.csv");
    let r = convert(
        &fx,
        "flat",
        &src,
        &["--mapping", &data("flat/mapping.toml")],
    );
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {src}: missing column `不良反应名称`, mapped to `event` (found: `报告编码`, `病例编码`, `版本`, `报告日期`, `报告类型`, `严重程度`, `性别`, `年龄`, `怀疑药品`, `药品类型`, `批号`, `发生日期`, `地区`)\n")
    );
    assert!(entries(fx.path()).is_empty());

    // A mapping without a required canonical column: every problem, exit 2.
    fx.write(
        "m.toml",
        "[columns]\nreport_id = \"报告编码\"\nevent = \"不良反应名称\"\nseverity = \"严重程度\"\n",
    );
    let r = convert(
        &fx,
        "flat",
        &data("flat/export.csv"),
        &["--mapping", &fx.ps("m.toml")],
    );
    r.expect_code(2);
    let m = fx.ps("m.toml");
    assert!(
        r.stderr.starts_with(&format!(
            "error: {m}: columns.severity: not a canonical column; expected one of `report_id`"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&format!(
        "error: {m}: columns: missing the required canonical column `received_date`\n"
    )));
    assert!(r.stderr.contains(&format!("error: {m}: columns: missing the required canonical column `product_id` (or `product_name`)\n")));
    assert!(r.stderr.contains(&format!("error: {m}: columns: missing the required canonical column `region` (or give a default region)\n")));
    // A GBK export (`报告` in GBK) is detected and decoded, so its headers read as text.
    std::fs::write(fx.p("gbk.csv"), b"\xb1\xa8\xb8\xe6,x\n1,2\n").expect("write");
    let r = convert(
        &fx,
        "flat",
        &fx.ps("gbk.csv"),
        &["--mapping", &data("flat/mapping.toml")],
    );
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}: missing column `报告编码`, mapped to `report_id` (found: `报告`, `x`)\n",
            fx.ps("gbk.csv")
        )
    );
    let r = convert(&fx, "flat", &data("flat/export.csv"), &[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        "error: --mapping: a flat export needs a column mapping file (--mapping FILE)\n"
    );
}

/// A pipeline whose `[inputs.source]` is a flat export with an inline mapping.
fn flat_source_pipeline(fx: &Fixture, source: &str) {
    fx.write(
        "populations.csv",
        "region,year,population,name\n330000,2024,66700000,浙江省\n310000,2024,24802600,上海市\n",
    );
    fx.write(
        "p.toml",
        &format!(
            "period = \"2024-Q1\"\noutput_dir = \"out\"\n\n[inputs]\npopulations = \"populations.csv\"\n{source}\n"
        ),
    );
}

#[test]
fn pipeline_with_a_flat_source_converts_then_runs() {
    let fx = Fixture::empty();
    let export = data("flat/export.csv");
    flat_source_pipeline(
        &fx,
        &format!(
            r#"
[inputs.source]
format = "flat"
path = "{export}"
date_formats = ["YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD", "YYYY年MM月DD日"]

[inputs.source.columns]
report_id = "报告编码"
case_id = "病例编码"
version = "版本"
received_date = "报告日期"
is_serious = "严重程度"
sex = "性别"
product_name = "怀疑药品"
event = "不良反应名称"
region = "地区"

[inputs.source.values.is_serious]
"严重" = true
"一般" = false

[inputs.source.values.sex]
"男" = "M"
"女" = "F"

[ingest]
max_rejected_fraction = 0.5
"#
        ),
    );
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    let dir = fx.p("out/period=2024-Q1");
    let manifest = read_json(&dir.join("manifest.json"));
    assert_accounts_balance(&manifest);
    let conv = &manifest["conversion"];
    assert_eq!(conv["format"], "flat");
    assert_eq!(conv["rows"]["read"], 11);
    assert_eq!(conv["rows"]["rejected"], 2);
    // Ingest reaches the conversion's split: 4 reports, one of them superseded.
    assert_eq!(
        account(&manifest, "reports"),
        Account {
            read: 4,
            used: 3,
            superseded: 1,
            rejected: 0
        }
    );
    // The run's rejects.csv names the export's own lines.
    let rejects = read_rejects(&dir.join("rejects.csv"));
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert!(
        rejects[1].starts_with(&format!("flat,{export},11,性别,F,")),
        "{rejects:?}"
    );
    let rates = read_parquet(&dir.join("rates.parquet"));
    assert!(!rates.rows.is_empty());
    assert_eq!(entries(fx.path()), ["out", "p.toml", "populations.csv"]);
}

#[test]
fn pipeline_source_problems_are_reported_together() {
    let fx = Fixture::empty();
    flat_source_pipeline(
        &fx,
        "reports = \"reports.csv\"\n\n[inputs.source]\nformat = \"vigibase\"\npath = \"nowhere\"\nregion = \"99\"\ncolour = \"red\"\n",
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert!(
        r.stderr.starts_with(&format!(
            "error: {}: inputs.source.colour: unknown field `colour`, expected one of `format`, `path`,",
            fx.toml()
        )),
        "{}",
        r.stderr
    );
    flat_source_pipeline(
        &fx,
        "reports = \"reports.csv\"\n\n[inputs.source]\nformat = \"vigibase\"\npath = \"nowhere\"\nregion = \"99\"\n",
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    let t = fx.toml();
    let d = fx.d();
    assert_eq!(
        r.stderr,
        format!(
            "error: {t}: inputs.reports: not allowed with inputs.source, which gives the case tables\n\
             error: {t}: inputs.source.format: expected `faers`, `e2b` or `flat`, found `vigibase`\n\
             error: {t}: inputs.source.path: no such file or folder `{d}/nowhere`\n\
             error: {t}: inputs.source.region: expected a 6-digit GB/T 2260 region code, found `99`\n"
        )
    );
    flat_source_pipeline(&fx, "");
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert!(
        r.stderr.starts_with(&format!("error: {t}: inputs.reports: missing: expected a .csv or .parquet file (or name a real-world `source`)\n")),
        "{}",
        r.stderr
    );
    flat_source_pipeline(
        &fx,
        &format!(
            "source = {{ format = \"faers\", path = \"{}\" }}",
            data("faers/valid")
        ),
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {t}: inputs.source.region: missing: faers has no Chinese region, so give the region code its reports belong to\n")
    );
}

#[test]
fn pipeline_source_over_the_tolerance_stops_with_exit_3() {
    let fx = Fixture::empty();
    flat_source_pipeline(
        &fx,
        &format!(
            "source = {{ format = \"faers\", path = \"{}\", region = \"310000\" }}",
            data("faers/malformed")
        ),
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(3);
    assert!(
        r.stderr.contains("rows rejected (50.00%), above ingest.max_rejected_fraction = 0.01; nothing was written"),
        "{}",
        r.stderr
    );
    assert_eq!(entries(fx.path()), ["p.toml", "populations.csv"]);
}

#[test]
fn faers_quarters_in_one_folder_are_read_together() {
    let fx = Fixture::empty();
    let valid = repo().join("tests/data/convert/faers/valid/ASCII");
    for name in [
        "DEMO24Q1.txt",
        "DRUG24Q1.txt",
        "REAC24Q1.txt",
        "OUTC24Q1.txt",
    ] {
        let text = std::fs::read_to_string(valid.join(name)).expect("fixture");
        fx.write(&format!("q/{name}"), &text);
    }
    // 24Q2, in lower case: version 3 of case 100, and a DRUG row for a 24Q1 report.
    fx.write(
        "q/demo24q2.txt",
        "primaryid$caseid$caseversion$fda_dt$age$age_cod$sex\n1003$100$3$20240405$31$YR$F\n",
    );
    fx.write(
        "q/drug24q2.txt",
        "primaryid$role_cod$drugname\n1003$PS$Aspirin\n2001$C$Omeprazole\n",
    );
    fx.write("q/reac24q2.txt", "primaryid$pt\n1003$Nausea\n");
    // 24Q2 has no OUTC file: an error naming it, unless it is allowed to be missing.
    let r = convert(&fx, "faers", &fx.ps("q"), &["--region", "310000"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("quarter 24Q2: missing OUTC24Q2.txt"),
        "{}",
        r.stderr
    );
    let r = convert(
        &fx,
        "faers",
        &fx.ps("q"),
        &["--region", "310000", "--allow-missing", "outc"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    // Case 100 now has three versions: 1001 and 1002 (24Q1) are superseded by 1003.
    assert_eq!(c.account("DEMO24Q1.txt"), [4, 2, 2, 0]);
    assert_eq!(c.account("demo24q2.txt"), [1, 1, 0, 0]);
    assert_eq!(c.account("DRUG24Q1.txt"), [6, 3, 3, 0]);
    assert_eq!(c.account("drug24q2.txt"), [2, 2, 0, 0]);
    let rep = &c.reports;
    let v3 = rep.row_where(&[("report_id", "1003")]);
    assert_eq!(rep.get(v3, "version").int(), 3);
    assert_eq!(
        rep.get(v3, "received_date"),
        &Value::Date(days("2024-04-05"))
    );
    assert!(
        rep.get(v3, "is_serious").is_null(),
        "a quarter without its OUTC file has unknown seriousness"
    );
    assert_eq!(
        c.products_of("2001")[1],
        (s("OMEPRAZOLE"), s("concomitant"), None)
    );
}

/// A FAERS quarter written by the test: `demo` rows after the DEMO header
/// `primaryid$caseid$caseversion$fda_dt$age$age_cod$sex$event_dt`, one suspect DRUG row
/// and one REAC row per DEMO row, and an OUTC file with no rows (no case serious).
fn write_quarter(fx: &Fixture, dir: &str, demo: &[String]) {
    let mut d = vec![s(
        "primaryid$caseid$caseversion$fda_dt$age$age_cod$sex$event_dt",
    )];
    let mut drug = vec![s("primaryid$role_cod$drugname")];
    let mut reac = vec![s("primaryid$pt")];
    for row in demo {
        let id = row.split('$').next().expect("a primaryid");
        d.push(row.clone());
        drug.push(format!("{id}$PS$Aspirin"));
        reac.push(format!("{id}$Nausea"));
    }
    let outc = vec![s("primaryid$outc_cod")];
    for (name, lines) in [
        ("DEMO24Q1.txt", &d),
        ("DRUG24Q1.txt", &drug),
        ("REAC24Q1.txt", &reac),
        ("OUTC24Q1.txt", &outc),
    ] {
        fx.write(&format!("{dir}/{name}"), &(lines.join("\n") + "\n"));
    }
}

#[test]
fn faers_birth_years_typed_as_ages_are_nulled_and_every_case_kept() {
    let fx = Fixture::empty();
    // 100 cases; 81 of them have a year of birth, 1930 to 2010, typed as an age in years.
    let demo: Vec<String> = (0..100)
        .map(|i| {
            let age = if i < 81 { 1930 + i } else { 20 + i % 60 };
            format!("{}${}$1$20240115${age}$YR$F$20240110", 7000 + i, 700 + i)
        })
        .collect();
    write_quarter(&fx, "q", &demo);
    let r = convert(&fx, "faers", &fx.ps("q"), &["--region", "310000"]);
    r.expect_ok();
    assert!(
        r.stdout
            .contains("0 rejected (none). 81 bad optional values nulled, rows kept (81 age; see "),
        "{}",
        r.stdout
    );
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(
        c.account("DEMO24Q1.txt"),
        [100, 100, 0, 0],
        "every case kept"
    );
    assert_eq!(c.account("DRUG24Q1.txt"), [100, 100, 0, 0]);
    assert_eq!(c.account("REAC24Q1.txt"), [100, 100, 0, 0]);
    assert_eq!(c.nulled("DEMO24Q1.txt"), [(s("age"), 81)]);
    assert_eq!(c.manifest["nulled_cells"]["age"], 81);
    assert_eq!(c.manifest["rows"]["rejected"], 0);
    assert_eq!(c.rejects.len(), 1 + 81);
    let q = fx.ps("q");
    assert_eq!(
        c.rejects[1],
        format!("demo,{q}/DEMO24Q1.txt,2,age,1930 YR,an age of at most 150 years (a year of birth typed as an age?),cell nulled")
    );
    let rep = &c.reports;
    assert_eq!(rep.rows.len(), 100);
    let born = rep.row_where(&[("report_id", "7044")]);
    assert!(rep.get(born, "age_years").is_null(), "1974 YR is no age");
    assert_eq!(
        rep.get(born, "sex").str(),
        "F",
        "the rest of the row is kept"
    );
    let adult = rep.row_where(&[("report_id", "7090")]);
    assert_eq!(rep.get(adult, "age_years").float(), 50.0);
}

#[test]
fn faers_bad_optional_values_are_nulled_and_an_unreadable_version_rejects_only_when_it_ranks() {
    let fx = Fixture::empty();
    write_quarter(
        &fx,
        "q",
        &[
            // Bad sex, age unit and onset date: nulled, the case kept.
            s("8001$800$1$20240105$40$Y$X$2024-01-02"),
            // Partial onset dates are unknown, not bad; an age without a unit is nulled.
            s("8002$801$1$20240106$40$$M$202401"),
            // An unreadable caseversion of a case with one version: nulled (version 1).
            s("8003$802$v2$20240107$$$F$"),
            // ... of a case with two versions: it cannot be ranked, so it is rejected,
            // and its DRUG and REAC rows with it.
            s("8004$803$two$20240108$$$F$"),
            s("8005$803$1$20240101$$$F$"),
        ],
    );
    let r = convert(
        &fx,
        "faers",
        &fx.ps("q"),
        &["--region", "310000", "--max-rejected-fraction", "0.5"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("DEMO24Q1.txt"), [5, 4, 0, 1]);
    assert_eq!(c.account("DRUG24Q1.txt"), [5, 4, 0, 1]);
    assert_eq!(
        c.nulled("DEMO24Q1.txt"),
        [
            (s("age_cod"), 2),
            (s("caseversion"), 1),
            (s("event_dt"), 1),
            (s("sex"), 1)
        ]
    );
    let q = fx.ps("q");
    assert_eq!(
        c.rejects,
        [
            s(REJECTS_CSV_HEADER),
            format!("demo,{q}/DEMO24Q1.txt,2,sex,X,\"one of `M`, `F`, `UNK`, `NS`\",cell nulled"),
            format!("demo,{q}/DEMO24Q1.txt,2,age_cod,Y,\"one of `DEC`, `YR`, `MON`, `WK`, `DY`, `HR`\",cell nulled"),
            format!("demo,{q}/DEMO24Q1.txt,2,event_dt,2024-01-02,\"a date YYYYMMDD (or a partial date YYYY or YYYYMM, read as unknown)\",cell nulled"),
            format!("demo,{q}/DEMO24Q1.txt,3,age_cod,,\"an age unit (one of `DEC`, `YR`, `MON`, `WK`, `DY`, `HR`) for the age `40`\",cell nulled"),
            format!("demo,{q}/DEMO24Q1.txt,4,caseversion,v2,an integer >= 1,cell nulled"),
            format!("demo,{q}/DEMO24Q1.txt,5,caseversion,two,\"an integer >= 1 (the case has several versions, and the version decides the latest)\",row rejected"),
            format!("drug,{q}/DRUG24Q1.txt,5,primaryid,8004,a primaryid of a valid DEMO row (that row was rejected),row rejected"),
            format!("reac,{q}/REAC24Q1.txt,5,primaryid,8004,a primaryid of a valid DEMO row (that row was rejected),row rejected"),
        ]
    );
    let rep = &c.reports;
    let a = rep.row_where(&[("report_id", "8001")]);
    assert!(rep.get(a, "sex").is_null());
    assert!(rep.get(a, "age_years").is_null());
    assert!(c.events_of("8001")[0].1.is_none());
    let v = rep.row_where(&[("report_id", "8003")]);
    assert!(
        rep.get(v, "version").is_null(),
        "a null version counts as 1"
    );
    assert_eq!(rep.rows.len(), 4, "8004 is left out");
}

#[test]
fn flat_bad_optional_cells_are_nulled_and_the_row_kept() {
    let fx = Fixture::empty();
    fx.write(
        "export.csv",
        "报告编码,病例编码,版本,报告日期,性别,年龄,怀疑药品,不良反应名称,发生日期\n\
         R1,C1,1,2024-03-01,女,abc,阿莫西林,皮疹,2024-02-30\n\
         R2,C2,x,2024-03-02,男,-4,奥美拉唑,头痛,\n\
         R3,C3,x,2024-03-03,未知,30,布洛芬,恶心,\n\
         R4,C3,2,2024-03-04,女,30,布洛芬,恶心,\n\
         R5,C5,1,2024-13-01,女,30,布洛芬,恶心,\n",
    );
    fx.write(
        "m.toml",
        "[columns]\nreport_id = \"报告编码\"\ncase_id = \"病例编码\"\nversion = \"版本\"\nreceived_date = \"报告日期\"\nsex = \"性别\"\nage_years = \"年龄\"\nproduct_name = \"怀疑药品\"\nevent = \"不良反应名称\"\nonset_date = \"发生日期\"\n\n[values.sex]\n\"男\" = \"M\"\n\"女\" = \"F\"\n",
    );
    let src = fx.ps("export.csv");
    let r = convert(
        &fx,
        "flat",
        &src,
        &[
            "--mapping",
            &fx.ps("m.toml"),
            "--region",
            "330100",
            "--max-rejected-fraction",
            "0.5",
        ],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    // R5's date is its key: rejected. R3's version cannot rank case C3: rejected.
    assert_eq!(c.account("export.csv"), [5, 3, 0, 2]);
    assert_eq!(
        c.nulled("export.csv"),
        [(s("发生日期"), 1), (s("年龄"), 2), (s("版本"), 1)]
    );
    let actions: Vec<String> = c
        .rejects
        .iter()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {} {}", f[2], f[3], f[f.len() - 1])
        })
        .collect();
    assert_eq!(
        actions,
        [
            "2 年龄 cell nulled",
            "2 发生日期 cell nulled",
            "3 年龄 cell nulled",
            "3 版本 cell nulled",
            "4 性别 row rejected",
            "4 版本 row rejected",
            "6 报告日期 row rejected",
        ],
        "{:?}",
        c.rejects
    );
    let rep = &c.reports;
    let r1 = rep.row_where(&[("report_id", "R1")]);
    assert!(rep.get(r1, "age_years").is_null());
    assert_eq!(rep.get(r1, "sex").str(), "F");
    let r2 = rep.row_where(&[("report_id", "R2")]);
    assert!(rep.get(r2, "version").is_null());
    assert_eq!(rep.rows.len(), 3);
}

/// The ten-file set in `tests/data/convert/e2b/fda-like/`: synthetic ICSRs with the
/// structure of FDA's published E2B(R3) examples (FAERS2022Scenario1 to 8, 5-1 to 5-3):
/// six ICSRs of one case under three safety report ids, one aggregate report naming
/// linked cases, and three files (5-1, 5-2, 5-3) sharing one case id, C.1.1, C.1.2 and
/// C.1.5 with other products.
#[test]
fn e2b_example_set_like_fdas_converts_with_exit_0() {
    let fx = Fixture::empty();
    let src = data("e2b/fda-like");
    let r = convert(&fx, "e2b", &src, &["--region", "310000"]);
    r.expect_ok();
    assert!(
        r.stdout.contains("Read 10 rows from 10 files: 3 used, 7 superseded (older case versions), 0 rejected (none)."),
        "{}",
        r.stdout
    );
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.rejects, [REJECTS_CSV_HEADER]);
    let rep = &c.reports;
    assert_eq!(rep.rows.len(), 10);
    let cases: std::collections::BTreeSet<&str> =
        (0..10).map(|r| rep.get(r, "case_id").str()).collect();
    assert_eq!(
        cases.into_iter().collect::<Vec<_>>(),
        ["XX-SYNTH-1000A", "XX-SYNTH-2000B", "XX-SYNTH-3000C"],
        "linked report ids deeper in the tree are not the case id"
    );
    // 5-1, 5-2, 5-3: same keys and dates, so the order read ranks them; 5-3 is the latest.
    for (v, file) in [(1, "5-1"), (2, "5-2"), (3, "5-3")] {
        let row = rep.row_where(&[("report_id", &format!("XX-SYNTH-3000C#{v}"))]);
        assert_eq!(rep.get(row, "version").int(), v, "{file}");
    }
    assert_eq!(c.account("synthetic-scenario5-3.xml"), [1, 1, 0, 0]);
    assert_eq!(
        c.products_of("XX-SYNTH-3000C#3"),
        [
            (s("SYNTHETIC DRUG ALPHA"), s("concomitant"), None),
            (s("SYNTHETIC DRUG X"), s("suspect"), None),
        ]
    );
    // Case A: six ICSRs (three safety report ids); the latest C.1.5 wins.
    assert_eq!(c.account("synthetic-scenario3.xml"), [1, 1, 0, 0]);
    // Partial onset dates (`2024`, `202401`) are unknown, not bad: nothing nulled.
    assert!(c.manifest["nulled_cells"]
        .as_object()
        .expect("a map")
        .is_empty());
    // Drug history is not a product; drug 4 (not administered) is left out.
    let (mega, _) = (0..10)
        .map(|r| (r, rep.get(r, "report_id").str()))
        .find(|(r, _)| rep.get(*r, "age_years") == &Value::Float(40.0))
        .expect("scenario 6 (age 4 decades)");
    let products: Vec<String> = c
        .products_of(rep.get(mega, "report_id").str())
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        products,
        [
            "SYNTHETIC DRUG ALPHA 10 MG",
            "SYNTHETIC DRUG BETA",
            "SYNTHETIC DRUG DELTA 5 MG/ML",
            "SYNTHETIC DRUG GAMMA"
        ]
    );
    assert!(rep.get(mega, "sex").str() == "U", "nullFlavor UNK");
    assert!(rep.get(mega, "fatal").bool());

    // FDA's own files, when a folder of them is given (they are not in the repository).
    if let Ok(dir) = std::env::var("PVWATCH_FDA_E2B_EXAMPLES") {
        let fx = Fixture::empty();
        let r = convert(&fx, "e2b", &dir, &["--region", "310000"]);
        r.expect_ok();
        let c = read_converted(&fx);
        c.assert_balanced();
        assert_eq!(c.manifest["rows"]["read"], 10, "{}", r.stdout);
        assert_eq!(c.manifest["rows"]["used"], 3, "{}", r.stdout);
        assert_eq!(c.manifest["rows"]["rejected"], 0, "{}", r.stdout);
    }
}

#[test]
fn e2b_tolerance_applies_to_the_batch_and_retransmissions_are_duplicates() {
    let fx = Fixture::empty();
    let read = |name: &str| {
        std::fs::read_to_string(repo().join("tests/data/convert/e2b/fda-like").join(name))
            .expect("fixture")
    };
    // Four good one-ICSR files, one bad, and a retransmission of the first in another
    // batch (new batch number and message id: the ICSR itself is unchanged).
    fx.write("in/a.xml", &read("synthetic-scenario1.xml"));
    fx.write("in/b.xml", &read("synthetic-scenario4.xml"));
    fx.write("in/c.xml", &read("synthetic-scenario5-1.xml"));
    fx.write("in/d.xml", &read("synthetic-scenario8.xml"));
    fx.write(
        "in/e.xml",
        &read("synthetic-scenario1.xml")
            .replace("SYNTH-BATCH-1\"", "SYNTH-BATCH-RESENT\"")
            .replace(
                "00000000-synthetic-message-0001",
                "00000000-synthetic-message-0099",
            ),
    );
    fx.write(
        "in/f.xml",
        &read("synthetic-scenario4.xml").replace(
            "extension=\"XX-SYNTH-2000B\" root=\"2.16.840.1.113883.3.989.2.1.3.1\"",
            "extension=\"\" root=\"2.16.840.1.113883.3.989.2.1.3.1\"",
        ),
    );
    let src = fx.ps("in");
    // 1 of 6 ICSRs rejected: above 1% of the batch, exit 3, the batch named.
    let r = convert(&fx, "e2b", &src, &["--region", "310000"]);
    r.expect_code(3);
    assert!(
        r.stderr.starts_with(&format!(
            "error: {src}: 1 of 6 rows rejected (16.67%), above --max-rejected-fraction = 0.01; nothing was written\n"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("{src}/f.xml: line 11, column `C.1.1`")),
        "{}",
        r.stderr
    );
    // Within 20% of the batch, it converts (each file alone would be 100% rejected).
    let r = convert(
        &fx,
        "e2b",
        &src,
        &["--region", "310000", "--max-rejected-fraction", "0.2"],
    );
    r.expect_ok();
    assert!(
        r.stdout.contains("Read 6 rows from 6 files: 3 used, 1 superseded (older case versions), 1 duplicate (ICSRs read again unchanged, dropped), 1 rejected"),
        "{}",
        r.stdout
    );
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.source("e.xml")["duplicate"], 1);
    assert_eq!(c.account("e.xml"), [1, 0, 0, 0]);
    assert_eq!(c.account("f.xml"), [1, 0, 0, 1]);
    assert_eq!(c.manifest["rows"]["duplicate"], 1);
    assert_eq!(
        c.rejects.len(),
        2,
        "no reject for the duplicate: {:?}",
        c.rejects
    );
    assert_eq!(c.reports.rows.len(), 4);
}

#[test]
fn e2b_bad_optional_elements_are_nulled_and_the_icsr_kept() {
    let fx = Fixture::empty();
    let text = std::fs::read_to_string(
        repo().join("tests/data/convert/e2b/fda-like/synthetic-scenario1.xml"),
    )
    .expect("fixture");
    let bad = text
        .replace("value=\"48\" unit=\"a\"", "value=\"1974\" unit=\"a\"")
        .replace(
            "administrativeGenderCode code=\"2\"",
            "administrativeGenderCode code=\"7\"",
        )
        .replace("<low value=\"20240105\"/>", "<low value=\"2024-01-05\"/>")
        .replace(
            "code=\"2\" codeSystem=\"2.16.840.1.113883.3.989.2.1.1.13\"",
            "code=\"9\" codeSystem=\"2.16.840.1.113883.3.989.2.1.1.13\"",
        );
    fx.write("one.xml", &bad);
    let src = fx.ps("one.xml");
    let r = convert(&fx, "e2b", &src, &["--region", "310000"]);
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("one.xml"), [1, 1, 0, 0]);
    assert_eq!(
        c.nulled("one.xml"),
        [
            (s("D.2.2a"), 1),
            (s("D.5"), 1),
            (s("E.i.4"), 1),
            (s("G.k.1"), 1)
        ]
    );
    assert!(
        c.rejects[1..].iter().all(|l| l.ends_with(",cell nulled")),
        "{:?}",
        c.rejects
    );
    let rep = &c.reports;
    assert!(rep.get(0, "age_years").is_null());
    assert!(rep.get(0, "sex").is_null());
    // The drug with an unknown characterisation is kept, with a null role (suspect).
    let p = &c.products;
    let gamma = p.row_where(&[("product_id", "SYNTHETIC DRUG GAMMA")]);
    assert!(p.get(gamma, "role").is_null());
}

/// The distinct active ingredients of a FAERS DRUG file, read without pvwatch: `prod_ai`
/// when given, else the generic name that the sample's `drugname` starts with
/// (`Substance 0042 170 MG` names SUBSTANCE 0042).
fn active_ingredients(drug: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(drug).expect("DRUG file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('$').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (ai, name) = (at("prod_ai"), at("drugname"));
    lines
        .map(|l| l.split('$').collect::<Vec<_>>())
        .map(|f| {
            if !f[ai].trim().is_empty() {
                f[ai].trim().to_uppercase()
            } else {
                let words: Vec<&str> = f[name].split_whitespace().take(2).collect();
                words.join(" ").to_uppercase()
            }
        })
        .collect()
}

#[test]
fn faers_example_pipeline_yields_one_product_per_active_ingredient_and_signals() {
    let ingredients = active_ingredients(&repo().join("sample-data/faers/ASCII/DRUG24Q1.txt"));
    assert!(ingredients.len() > 100, "{}", ingredients.len());
    let fx = Fixture::empty();
    let pipeline = repo()
        .join("pipelines/faers-example.toml")
        .display()
        .to_string();
    let out = fx.ps("out");
    let r = fx.run(&["run", &pipeline, "--out", &out]);
    r.expect_ok();
    let dir = fx.p("out/period=2024-Q1");
    let manifest = read_json(&dir.join("manifest.json"));
    // The converted registry: one product per active ingredient, every case kept.
    assert_eq!(
        account(&manifest, "products").read,
        ingredients.len() as u64
    );
    let conv = &manifest["conversion"];
    assert_eq!(conv["rows"]["rejected"], 0);
    let demo = conv["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["kind"] == "demo")
        .expect("the DEMO file");
    assert_eq!(
        demo["read"],
        demo["used"].as_u64().expect("a count") + demo["superseded"].as_u64().expect("a count")
    );
    assert_eq!(
        demo["nulled_cells"]["age"], 3,
        "the sample's years of birth typed as ages"
    );
    let signals = read_parquet(&dir.join("signals.parquet"));
    assert!(!signals.rows.is_empty(), "no signals");
    let products: std::collections::BTreeSet<&str> = (0..signals.rows.len())
        .map(|r| signals.get(r, "product_id").str())
        .collect();
    assert!(
        products.iter().all(|p| ingredients.contains(*p)),
        "{products:?}"
    );
}

/// The valid FAERS quarter of the fixtures, copied to `<fx>/<dir>` without its OUTC file.
fn faers_without_outc(fx: &Fixture, dir: &str) {
    let valid = repo().join("tests/data/convert/faers/valid/ASCII");
    for name in ["DEMO24Q1.txt", "DRUG24Q1.txt", "REAC24Q1.txt"] {
        let text = std::fs::read_to_string(valid.join(name)).expect("fixture");
        fx.write(&format!("{dir}/{name}"), &text);
    }
}

#[test]
fn faers_without_its_outc_file_exits_2_unless_allowed_then_seriousness_is_unknown() {
    let fx = Fixture::empty();
    // With its OUTC file, the quarter has serious and fatal cases.
    let r = convert(&fx, "faers", &data("faers/valid"), &["--region", "310000"]);
    r.expect_ok();
    let with = read_converted(&fx);
    let serious = with.reports.column("is_serious");
    assert!(
        serious.iter().any(|v| !v.is_null() && v.bool()),
        "a serious case"
    );
    assert!(serious.iter().all(|v| !v.is_null()), "known with OUTC");
    assert_eq!(with.manifest["allowed_missing"], serde_json::json!([]));
    assert_eq!(with.manifest["serious_unknown"], 0);
    std::fs::remove_dir_all(fx.p("out")).expect("remove");

    // Without it: exit 2 naming the file and the folder looked in, and nothing written.
    faers_without_outc(&fx, "q");
    let q = fx.ps("q");
    let r = convert(&fx, "faers", &q, &["--region", "310000"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!("error: {q}: quarter 24Q1: missing OUTC24Q1.txt (looked in {q}): without the outcome file seriousness and death are unknown; give --allow-missing outc (`allow_missing = [\"outc\"]` in a pipeline's source) to convert anyway, with is_serious and fatal left null\n")
    );
    assert_eq!(entries(fx.path()), ["q"]);

    // Allowed: every report's seriousness and death are null (unknown), not false, and
    // the summary and the manifest say so.
    let r = convert(
        &fx,
        "faers",
        &q,
        &["--region", "310000", "--allow-missing", "outc"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    let n = c.reports.rows.len();
    assert_eq!(n, with.reports.rows.len(), "every case kept");
    for column in ["is_serious", "fatal"] {
        assert!(
            c.reports.column(column).iter().all(Value::is_null),
            "{column} unknown"
        );
    }
    assert_eq!(c.manifest["allowed_missing"], serde_json::json!(["OUTC"]));
    assert_eq!(
        c.manifest["missing_files"],
        serde_json::json!([{
            "part": "OUTC",
            "path": format!("{q}/OUTC24Q1.txt"),
            "unknown": ["is_serious", "fatal"],
        }])
    );
    assert_eq!(c.manifest["serious_unknown"], n as u64);
    assert!(
        r.stdout.contains(&format!(
            " {q}/OUTC24Q1.txt is missing (allowed by --allow-missing outc): is_serious and fatal unknown (null) for its reports. Seriousness and death unknown (is_serious null) for {n} of {n} report versions."
        )),
        "{}",
        r.stdout
    );

    // The flag names a FAERS part only.
    let r = convert(
        &fx,
        "e2b",
        &data("e2b/valid"),
        &["--region", "330100", "--allow-missing", "outc"],
    );
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        "error: --allow-missing: applies to FAERS sources only (their OUTC file), found `outc` for a e2b source\n"
    );
    let r = convert(
        &fx,
        "faers",
        &q,
        &["--region", "310000", "--allow-missing", "demo"],
    );
    r.expect_code(2);
    assert!(
        r.stderr
            .contains("invalid value 'demo' for '--allow-missing"),
        "{}",
        r.stderr
    );
}

/// `batch.xml` (two ICSRs, starting on lines 6 and 163, in a root opened on line 3 and
/// closed on line 279), changed by `edit`, written to `<fx>/<name>`.
fn batch_variant(fx: &Fixture, name: &str, edit: impl Fn(&str) -> String) -> String {
    let text = std::fs::read_to_string(data("e2b/valid/batch.xml")).expect("fixture");
    fx.write(name, &edit(&text));
    fx.ps(name)
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).map(|l| format!("{l}\n")).collect()
}

#[test]
fn e2b_file_that_is_not_well_formed_is_rejected_whole_with_its_line() {
    let fx = Fixture::empty();
    let expected_reject =
        "a well-formed XML file (the whole file is rejected: none of its ICSRs is used)";
    // (file, its text, line, column and fault, the lines of its ICSRs).
    let nul_column = {
        let text = std::fs::read_to_string(data("e2b/valid/batch.xml")).expect("fixture");
        let line4 = text.lines().nth(3).expect("line 4");
        line4.find("BATCH").expect("the batch id") + "BATCH".len() + 1
    };
    let cases: Vec<(String, String, Vec<u64>)> = vec![
        (
            batch_variant(&fx, "truncated.xml", |t| first_lines(t, 162)),
            "line 163, column 1: the file ends inside the element `MCCI_IN200100UV01` opened on line 3 (a truncated file?)".into(),
            vec![6],
        ),
        (
            batch_variant(&fx, "no_root_close.xml", |t| first_lines(t, 278)),
            "line 279, column 1: the file ends inside the element `MCCI_IN200100UV01` opened on line 3 (a truncated file?)".into(),
            vec![6, 163],
        ),
        (
            batch_variant(&fx, "two_roots.xml", |t| {
                let root: String = t.lines().skip(2).map(|l| format!("{l}\n")).collect();
                format!("{t}{root}")
            }),
            "line 280, column 1: a second root element `MCCI_IN200100UV01` (a well-formed file has exactly one)".into(),
            vec![6, 163, 283, 440],
        ),
        (
            batch_variant(&fx, "nul.xml", |t| t.replacen("BATCH-TEST", "BATCH\u{0}-TEST", 1)),
            format!("line 4, column {nul_column}: the character U+0000, which XML does not allow (only tab, line feed and carriage return below U+0020)"),
            vec![6, 163],
        ),
        (
            batch_variant(&fx, "prefix.xml", |t| {
                t.replacen("<creationTime value=\"20240301120000\"/>", "<x:creationTime value=\"20240301120000\"/>", 1)
            }),
            "line 5, column 3: the namespace prefix `x` of the element `x:creationTime` is not declared (no `xmlns:x` on it or an enclosing element)".into(),
            vec![6, 163],
        ),
    ];
    for (src, fault, icsr_lines) in &cases {
        let k = icsr_lines.len() as u64;
        // Every ICSR of the file rejected: above the default tolerance, exit 3.
        let r = convert(&fx, "e2b", src, &["--region", "330100"]);
        r.expect_code(3);
        assert!(
            r.stderr.starts_with(&format!(
                "error: {src}: {k} of {k} rows rejected (100.00%), above --max-rejected-fraction"
            )),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains(fault.as_str()), "{src}: {}", r.stderr);
        assert!(!fx.p("out").exists(), "nothing written");

        // Tolerated: written, and the manifest and rejects say what happened.
        let r = convert(
            &fx,
            "e2b",
            src,
            &["--region", "330100", "--max-rejected-fraction", "1"],
        );
        r.expect_ok();
        assert!(
            r.stdout.contains(&format!(
                "; not well-formed XML ({fault}), so the whole file was rejected"
            )),
            "{}",
            r.stdout
        );
        let c = read_converted(&fx);
        c.assert_balanced();
        let file = Path::new(src)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name");
        assert_eq!(c.account(file), [k, 0, 0, k], "{file}");
        assert_eq!(c.source(file)["malformed"], fault.as_str());
        assert_eq!(c.reports.rows.len(), 0, "{file}: no ICSR used in part");
        let rejects: Vec<String> = icsr_lines
            .iter()
            .map(|line| {
                format!("icsr,{src},{line},,\"not well-formed XML at {fault}\",{expected_reject},row rejected")
            })
            .collect();
        assert_eq!(c.rejects[1..], rejects[..], "{file}");
        std::fs::remove_dir_all(fx.p("out")).expect("remove");
    }

    // In a folder, the well-formed files are used and the malformed one is not.
    fx.write(
        "batch/a.xml",
        &std::fs::read_to_string(data("e2b/valid/single.xml")).expect("fixture"),
    );
    fx.write(
        "batch/b.xml",
        &std::fs::read_to_string(&cases[0].0).expect("truncated"),
    );
    let r = convert(
        &fx,
        "e2b",
        &fx.ps("batch"),
        &["--region", "330100", "--max-rejected-fraction", "0.5"],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("a.xml"), [1, 1, 0, 0]);
    assert_eq!(c.account("b.xml"), [1, 0, 0, 1]);
    assert!(c.source("a.xml").get("malformed").is_none());
    assert_eq!(
        c.reports.column("report_id"),
        [Value::Str(s("CN-TEST-0002#1"))]
    );
}

/// What a reject or note says of a date outside 1968-01-01 … 2024-06-30 (`--today`).
const PLAUSIBLE_TO_2024_06_30: &str = "a date from 1968-01-01 to 2024-06-30 (today)";

#[test]
fn faers_receipt_dates_out_of_range_reject_the_row_and_onsets_are_nulled() {
    let fx = Fixture::empty();
    let demo = [
        "primaryid$caseid$caseversion$fda_dt$init_fda_dt$event_dt",
        "9001$900$1$20240115$$20240110",
        // Typos in the key: after today, year 0, before 1968; init_fda_dt after today.
        "9002$901$1$99991231$$",
        "9003$902$1$00000101$$",
        "9004$903$1$19671231$$",
        "9005$904$1$$20240701$",
        // The edges are plausible; onsets out of range are nulled, the case kept.
        "9006$905$1$20240630$$19000101",
        "9007$906$1$19680101$$20240701",
    ];
    let ids: Vec<&str> = demo[1..]
        .iter()
        .map(|r| r.split('$').next().expect("an id"))
        .collect();
    let drug: Vec<String> = ids.iter().map(|id| format!("{id}$PS$Aspirin")).collect();
    let reac: Vec<String> = ids.iter().map(|id| format!("{id}$Nausea")).collect();
    fx.write("q/DEMO24Q1.txt", &(demo.join("\n") + "\n"));
    fx.write("q/DRUG24Q1.txt", &csv("primaryid$role_cod$drugname", &drug));
    fx.write("q/REAC24Q1.txt", &csv("primaryid$pt", &reac));
    fx.write("q/OUTC24Q1.txt", "primaryid$outc_cod\n");
    let q = fx.ps("q");
    let args = [
        "--region",
        "310000",
        "--max-rejected-fraction",
        "1",
        "--today",
        "2024-06-30",
    ];
    let r = convert(&fx, "faers", &q, &args);
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.manifest["today"], "2024-06-30");
    assert_eq!(c.account("DEMO24Q1.txt"), [7, 3, 0, 4]);
    assert_eq!(c.account("DRUG24Q1.txt"), [7, 3, 0, 4]);
    assert_eq!(c.account("REAC24Q1.txt"), [7, 3, 0, 4]);
    assert_eq!(c.nulled("DEMO24Q1.txt"), [(s("event_dt"), 2)]);
    let p = PLAUSIBLE_TO_2024_06_30;
    let rejected_demo = "a primaryid of a valid DEMO row (that row was rejected)";
    let mut expected = vec![
        s(REJECTS_CSV_HEADER),
        format!("demo,{q}/DEMO24Q1.txt,3,fda_dt,99991231,{p} (the receipt date),row rejected"),
        format!("demo,{q}/DEMO24Q1.txt,4,fda_dt,00000101,{p} (the receipt date),row rejected"),
        format!("demo,{q}/DEMO24Q1.txt,5,fda_dt,19671231,{p} (the receipt date),row rejected"),
        format!("demo,{q}/DEMO24Q1.txt,6,init_fda_dt,20240701,{p} (the receipt date),row rejected"),
        format!("demo,{q}/DEMO24Q1.txt,7,event_dt,19000101,{p},cell nulled"),
        format!("demo,{q}/DEMO24Q1.txt,8,event_dt,20240701,{p},cell nulled"),
    ];
    for (file, table) in [("DRUG24Q1.txt", "drug"), ("REAC24Q1.txt", "reac")] {
        for (line, id) in [(3, "9002"), (4, "9003"), (5, "9004"), (6, "9005")] {
            expected.push(format!(
                "{table},{q}/{file},{line},primaryid,{id},{rejected_demo},row rejected"
            ));
        }
    }
    assert_eq!(c.rejects, expected);
    let rep = &c.reports;
    assert_eq!(rep.rows.len(), 3);
    let edge = rep.row_where(&[("report_id", "9006")]);
    assert_eq!(
        rep.get(edge, "received_date"),
        &Value::Date(days("2024-06-30"))
    );
    assert_eq!(c.events_of("9006"), [(s("Nausea"), None)]);
    assert_eq!(c.events_of("9007"), [(s("Nausea"), None)]);
    assert_eq!(
        c.events_of("9001"),
        [(s("Nausea"), Some(days("2024-01-10")))]
    );

    // Today by the clock: 2024-07-01 is no longer after today.
    std::fs::remove_dir_all(fx.p("out")).expect("remove");
    let r = convert(&fx, "faers", &q, &args[..4]);
    r.expect_ok();
    let c = read_converted(&fx);
    assert_eq!(c.account("DEMO24Q1.txt"), [7, 4, 0, 3]);
    assert_eq!(c.nulled("DEMO24Q1.txt"), [(s("event_dt"), 1)]);
}

#[test]
fn e2b_received_date_c15_is_a_key_and_falls_back_only_when_absent_with_a_note() {
    let fx = Fixture::empty();
    let single = std::fs::read_to_string(data("e2b/valid/single.xml")).expect("fixture");
    let variant = |name: &str, id: &str, from: &str, to: &str| {
        assert!(single.contains(from), "{from}");
        let text = single.replace("CN-TEST-0002", id).replacen(from, to, 1);
        fx.write(&format!("m/{name}"), &text);
    };
    let c15 = "<availabilityTime value=\"20240305\"/>";
    variant(
        "a.xml",
        "CN-A",
        c15,
        "<availabilityTime value=\"99991231\"/>",
    );
    variant(
        "b.xml",
        "CN-B",
        c15,
        "<availabilityTime value=\"2024-03-05\"/>",
    );
    variant("c.xml", "CN-C", c15, "");
    variant(
        "d.xml",
        "CN-D",
        "<low value=\"20240301\"/>",
        "<low value=\"19000101\"/>",
    );
    let m = fx.ps("m");
    let r = convert(
        &fx,
        "e2b",
        &m,
        &[
            "--region",
            "330100",
            "--max-rejected-fraction",
            "1",
            "--today",
            "2024-06-30",
        ],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    assert_eq!(c.account("a.xml"), [1, 0, 0, 1]);
    assert_eq!(c.account("b.xml"), [1, 0, 0, 1]);
    assert_eq!(c.account("c.xml"), [1, 1, 0, 0]);
    assert_eq!(c.account("d.xml"), [1, 1, 0, 0]);
    let p = PLAUSIBLE_TO_2024_06_30;
    assert_eq!(
        c.rejects,
        [
            s(REJECTS_CSV_HEADER),
            format!("icsr,{m}/a.xml,6,C.1.5,99991231,\"{p} (C.1.5, the received date)\",row rejected"),
            format!("icsr,{m}/b.xml,6,C.1.5,2024-03-05,\"a date YYYYMMDD[hhmmss] (C.1.5, the received date)\",row rejected"),
            format!("icsr,{m}/c.xml,13,C.1.5,,\"a date of most recent information (C.1.5, required by E2B(R3)); C.1.4 `20240305` is the received date instead\",cell nulled"),
            format!("icsr,{m}/d.xml,52,E.i.4,19000101,{p},cell nulled"),
        ]
    );
    let rep = &c.reports;
    let fallback = rep.row_where(&[("report_id", "CN-C#1")]);
    assert_eq!(
        rep.get(fallback, "received_date"),
        &Value::Date(days("2024-03-05"))
    );
    assert_eq!(c.events_of("CN-D#1")[0].1, None, "onset nulled");
}

#[test]
fn flat_received_dates_out_of_range_reject_the_row_and_onsets_are_nulled() {
    let fx = Fixture::empty();
    let export = std::fs::read_to_string(data("flat/export.csv")).expect("fixture");
    fx.write(
        "export.csv",
        &format!(
            "{export}R900,C900,1,9999-12-31,新的,严重,女,34,阿莫西林胶囊,怀疑,,皮疹,2024/02/27,330106\r\n\
             R901,C901,1,2024-03-01,新的,严重,女,34,阿莫西林胶囊,怀疑,,皮疹,1900/01/01,330106\r\n"
        ),
    );
    let src = fx.ps("export.csv");
    let r = convert(
        &fx,
        "flat",
        &src,
        &[
            "--mapping",
            &data("flat/mapping.toml"),
            "--max-rejected-fraction",
            "0.5",
            "--today",
            "2024-06-30",
        ],
    );
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    // The fixture's 11 rows (8 used, 1 superseded, 2 rejected), and the two new ones.
    assert_eq!(c.account("export.csv"), [13, 9, 1, 3]);
    let p = PLAUSIBLE_TO_2024_06_30;
    assert_eq!(
        c.rejects[3..],
        [
            format!("flat,{src},13,报告日期,9999-12-31,{p} for `received_date`,row rejected"),
            format!("flat,{src},14,发生日期,1900/01/01,{p} for `onset_date`,cell nulled"),
        ]
    );
    assert_eq!(c.events_of("R901"), [(s("皮疹"), None)]);
    assert!(
        !c.reports
            .column("report_id")
            .contains(&Value::Str(s("R900"))),
        "R900 rejected"
    );
}

#[test]
fn pipeline_on_faers_without_outc_says_seriousness_is_unknown_in_summary_manifest_and_review() {
    let fx = Fixture::empty();
    faers_without_outc(&fx, "q");
    let q = fx.ps("q");
    let source = |extra: &str| {
        format!("source = {{ format = \"faers\", path = \"{q}\", region = \"310000\"{extra} }}")
    };
    // Not allowed: exit 2 naming the file, and nothing written.
    flat_source_pipeline(&fx, &source(""));
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert!(
        r.stderr.contains(&format!(
            "quarter 24Q1: missing OUTC24Q1.txt (looked in {q})"
        )),
        "{}",
        r.stderr
    );
    assert!(!fx.p("out").exists());
    // Only a FAERS source has an optional part.
    flat_source_pipeline(
        &fx,
        &format!(
            "source = {{ format = \"e2b\", path = \"{}\", region = \"310000\", allow_missing = [\"outc\"] }}",
            data("e2b/valid")
        ),
    );
    let r = fx.run(&["validate", &fx.toml()]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}: inputs.source.allow_missing: applies to `faers` sources only (their OUTC file), found `outc`\n",
            fx.toml()
        )
    );

    // Allowed: the run says so in its summary, its manifest and its review page.
    flat_source_pipeline(&fx, &source(", allow_missing = [\"outc\"]"));
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    let dir = fx.p("out/period=2024-Q1");
    let manifest = read_json(&dir.join("manifest.json"));
    let conv = &manifest["conversion"];
    assert_eq!(conv["allowed_missing"], serde_json::json!(["OUTC"]));
    assert_eq!(
        conv["missing_files"][0]["path"],
        format!("{q}/OUTC24Q1.txt")
    );
    // The four DEMO rows are four report versions, each of unknown seriousness.
    assert_eq!(conv["serious_unknown"], 4);
    assert!(
        r.stdout.contains(&format!(
            "\nSeriousness and death unknown (null) for 4 report versions: FAERS OUTC file missing ({q}/OUTC24Q1.txt), allowed by the source's allow_missing; rates and alerts count them as neither serious nor fatal."
        )),
        "{}",
        r.stdout
    );
    let review = std::fs::read_to_string(dir.join("review.html")).expect("review.html");
    let quality = &review[review.find("<section id=\"quality\">").expect("quality")..];
    assert!(
        quality.contains("<strong>Seriousness and death unknown: FAERS OUTC file missing</strong>"),
        "{quality}"
    );
    assert!(quality
        .contains("4 report versions have <code>is_serious</code> and <code>fatal</code> null"));
}

#[test]
fn e2b_seriousness_is_false_only_when_every_reaction_states_its_criteria() {
    let fx = Fixture::empty();
    let single = std::fs::read_to_string(data("e2b/valid/single.xml")).expect("fixture");
    let reaction = "<value xsi:type=\"CE\" code=\"10037087\" codeSystem=\"2.16.840.1.113883.6.163\" codeSystemVersion=\"26.0\"/>";
    assert_eq!(single.matches(reaction).count(), 1);
    let criterion = |code: &str, value: &str| {
        format!("<outboundRelationship2 typeCode=\"PERT\"><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"{code}\" codeSystem=\"2.16.840.1.113883.3.989.2.1.1.19\"/><value xsi:type=\"BL\" {value}/></observation></outboundRelationship2>")
    };
    let no = |code: &str| criterion(code, "nullFlavor=\"NI\"");
    // A second reaction, after the first, with the criteria given in `extra`.
    let second = |extra: &str| {
        format!("</observation></subjectOf2><subjectOf2 typeCode=\"SBJ\"><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"29\" codeSystem=\"2.16.840.1.113883.3.989.2.1.1.19\"/><value xsi:type=\"CE\" code=\"10019211\" codeSystem=\"2.16.840.1.113883.6.163\"/>{extra}")
    };
    let all_no: String = ["34", "21", "33", "35", "12", "26"].map(no).concat();
    let variants = [
        // Every criterion stated "no" on the one reaction: not serious, not fatal.
        ("a.xml", "CN-NO", format!("{reaction}{all_no}")),
        // One reaction states "no", the other states nothing: unknown.
        (
            "b.xml",
            "CN-HALF",
            format!("{reaction}{all_no}{}", second("")),
        ),
        // Death on the second reaction, the first silent: serious and fatal.
        (
            "c.xml",
            "CN-DEATH",
            format!("{reaction}{}", second(&criterion("34", "value=\"true\""))),
        ),
        // Hospitalisation on one, nothing on the other: serious, death unknown.
        (
            "d.xml",
            "CN-HOSP",
            format!("{reaction}{}", second(&criterion("33", "value=\"true\""))),
        ),
    ];
    for (file, id, text) in &variants {
        let xml = single
            .replace("CN-TEST-0002", id)
            .replacen(reaction, text, 1);
        fx.write(&format!("m/{file}"), &xml);
    }
    let r = convert(&fx, "e2b", &fx.ps("m"), &["--region", "330100"]);
    r.expect_ok();
    let c = read_converted(&fx);
    c.assert_balanced();
    let rep = &c.reports;
    let flags = |id: &str| {
        let row = rep.row_where(&[("report_id", id)]);
        let flag = |column: &str| {
            let v = rep.get(row, column);
            (!v.is_null()).then(|| v.bool())
        };
        (flag("is_serious"), flag("fatal"))
    };
    assert_eq!(flags("CN-NO#1"), (Some(false), Some(false)));
    assert_eq!(flags("CN-HALF#1"), (None, None));
    assert_eq!(flags("CN-DEATH#1"), (Some(true), Some(true)));
    assert_eq!(flags("CN-HOSP#1"), (Some(true), None));
    assert_eq!(c.manifest["serious_unknown"], 1);
    assert!(
        r.stdout.contains(
            "Seriousness and death unknown (is_serious null) for 1 of 4 report versions."
        ),
        "{}",
        r.stdout
    );
}
