//! The national report form (issue 22): the synthetic export in `sample-data/` (made by
//! `examples/make_report_form.rs`) as `.xlsx` and as a GB18030 CSV, through
//! `mappings/adr-report-form.toml`, `pvwatch convert` and a pipeline; personal data never
//! copied; spreadsheet and encoding inputs of the canonical tables; and their bad inputs.

use std::fs;
use std::path::Path;

use crate::util::*;

fn sample(name: &str) -> String {
    repo().join("sample-data").join(name).display().to_string()
}

fn mapping() -> String {
    repo()
        .join("mappings/adr-report-form.toml")
        .display()
        .to_string()
}

/// `pvwatch convert --from flat <src> --mapping <mapping> --out <fx>/<out>`, pinned today.
fn convert(fx: &Fixture, src: &str, mapping: &str, out: &str, extra: &[&str]) -> Run {
    let out = fx.ps(out);
    let mut args = vec![
        "convert",
        "--from",
        "flat",
        src,
        "--mapping",
        mapping,
        "--out",
        &out,
        "--today",
        "2026-06-30",
    ];
    args.extend_from_slice(extra);
    fx.run(&args)
}

/// Every row of a table as text, sorted, so that two conversions compare as tables.
fn rows_of(path: &Path) -> Vec<String> {
    let t = read_parquet(path);
    let mut rows: Vec<String> = t
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    rows.sort();
    rows
}

const TABLES: [&str; 4] = [
    "reports.parquet",
    "report_products.parquet",
    "report_events.parquet",
    "products.parquet",
];

#[test]
fn report_form_xlsx_and_gb18030_csv_convert_to_the_same_tables() {
    let fx = Fixture::empty();
    convert(&fx, &sample("adr-report-form.xlsx"), &mapping(), "x", &[]).expect_ok();
    convert(&fx, &sample("adr-report-form.csv"), &mapping(), "c", &[]).expect_ok();
    for t in TABLES {
        let (x, c) = (rows_of(&fx.p("x").join(t)), rows_of(&fx.p("c").join(t)));
        assert!(!x.is_empty(), "{t} has rows");
        assert_eq!(
            x, c,
            "{t}: the workbook and the GB18030 CSV give the same table"
        );
    }

    // The accounting: 108 rows; 72 reports (60 cases, 12 with a follow-up); the one
    // rejected row is the 2025-02-30 report date (case 11), which names its cell in the
    // workbook and its line in the CSV.
    let mx = read_json(&fx.p("x/convert-manifest.json"));
    let mc = read_json(&fx.p("c/convert-manifest.json"));
    for m in [&mx, &mc] {
        let rows = &m["rows"];
        assert_eq!(rows["read"], 108, "{m}");
        assert_eq!(rows["rejected"], 1, "{m}");
        assert_eq!(
            rows["read"].as_u64().unwrap(),
            rows["used"].as_u64().unwrap()
                + rows["superseded"].as_u64().unwrap()
                + rows["rejected"].as_u64().unwrap()
        );
    }
    assert_eq!(mx["sources"][0]["sheet"], "报告表");
    assert_eq!(mc["sources"][0]["encoding"], "gb18030");
    let reports = read_parquet(&fx.p("x/reports.parquet"));
    assert_eq!(reports.rows.len(), 71, "72 versions less the rejected one");
    let versions: Vec<i64> = reports.column("version").iter().map(|v| v.int()).collect();
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 12);

    // A follow-up: its own id, the case's code, version 2, and the death it reports.
    let r = reports.row_where(&[("report_id", "330102202500124#2")]);
    assert_eq!(reports.get(r, "case_id").str(), "330102202500124");
    assert_eq!(reports.get(r, "version").int(), 2);
    assert!(reports.get(r, "fatal").bool());
    let first = reports.row_where(&[("report_id", "330102202500124#1")]);
    assert!(
        !reports.get(first, "fatal").bool(),
        "未好转 on the first report"
    );
    // 新的、严重 gives both flags; 其他 is `other`; 男 is M.
    let r = reports.row_where(&[("report_id", "330105202500106#1")]);
    assert!(reports.get(r, "is_new").bool());
    assert!(reports.get(r, "is_serious").bool());
    assert_eq!(reports.get(r, "reporter_type").str(), "other");
    assert_eq!(reports.get(r, "sex").str(), "M");
    assert_eq!(reports.get(r, "region").str(), "330100");
    // Dates in the three styles: case 1 (2025/2/4, slash text), 2 (Chinese text), 0 (Excel).
    let date = |id: &str| {
        reports
            .get(reports.row_where(&[("report_id", id)]), "received_date")
            .clone()
    };
    assert!(matches!(date("330101202500102#1"), Value::Date(d) if d == days(2025, 2, 4)));
    assert!(matches!(date("330102202500103#1"), Value::Date(d) if d == days(2025, 3, 7)));
    assert!(matches!(date("330100202500101#1"), Value::Date(d) if d == days(2025, 1, 1)));

    // The registry keeps 批准文号 and 生产厂家.
    let reg = read_parquet(&fx.p("x/products.parquet"));
    let p = reg.row_where(&[("product_id", "注射用头孢曲松钠")]);
    assert_eq!(reg.get(p, "approval_number").str(), "国药准字H20990001");
    assert_eq!(reg.get(p, "holder").str(), "浙江示例制药有限公司");

    let rx = read_rejects(&fx.p("x/rejects.csv"));
    let rc = read_rejects(&fx.p("c/rejects.csv"));
    let rejected = |r: &[String]| -> Vec<String> {
        r.iter()
            .filter(|l| l.contains("row rejected"))
            .cloned()
            .collect()
    };
    let (x, c) = (rejected(&rx), rejected(&rc));
    assert_eq!(x.len(), 1, "{rx:?}");
    assert!(
        x[0].contains(",报告日期,2025-02-30,") && x[0].ends_with(",row rejected,报告表!D21"),
        "{}",
        x[0]
    );
    assert!(
        c[0].contains(",21,报告日期,2025-02-30,") && c[0].ends_with(",row rejected"),
        "{}",
        c[0]
    );
}

/// Days since 1970-01-01.
fn days(y: i32, m: u32, d: u32) -> i32 {
    (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days() as i32
}

/// The sample's personal data: its patients' names, phone numbers, record and identity
/// numbers, reporters and their phones and e-mails, read from the CSV itself.
fn personal_values() -> Vec<String> {
    let bytes = fs::read(repo().join("sample-data/adr-report-form.csv")).unwrap();
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let personal = [
        "患者姓名",
        "联系方式",
        "病历号/门诊号",
        "身份证号",
        "报告人",
        "报告人电话",
        "报告人电子邮箱",
    ];
    let idx: Vec<usize> = personal
        .iter()
        .map(|p| header.iter().position(|h| h == p).unwrap())
        .collect();
    let mut out: Vec<String> = lines
        .flat_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            idx.iter().map(|i| f[*i].to_string()).collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every file under `dir`, as text (Parquet tables read back cell by cell).
fn texts_under(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            texts_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "parquet") {
            let t = read_parquet(&p);
            let text = t
                .rows
                .iter()
                .flat_map(|r| r.iter().map(|v| format!("{v:?}")))
                .collect::<Vec<_>>()
                .join("\n");
            out.push((p.display().to_string(), text));
        } else {
            let bytes = fs::read(&p).unwrap();
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

#[test]
fn personal_data_never_reaches_an_output_or_a_log() {
    let values = personal_values();
    assert!(
        values.len() > 100,
        "names, phones, numbers: {}",
        values.len()
    );
    assert!(values.iter().any(|v| v.starts_with("139")), "phone numbers");
    let fx = Fixture::empty();
    let mut logs = Vec::new();
    for (src, out) in [("adr-report-form.xlsx", "x"), ("adr-report-form.csv", "c")] {
        let run = convert(&fx, &sample(src), &mapping(), out, &["-vv"]);
        run.expect_ok();
        logs.push(run.stderr.clone() + &run.stdout);
        let m = read_json(&fx.p(out).join("convert-manifest.json"));
        let dropped: Vec<&str> = m["sources"][0]["personal_columns_dropped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            dropped,
            [
                "患者姓名",
                "联系方式",
                "病历号/门诊号",
                "身份证号",
                "出生日期",
                "报告人",
                "报告人电话",
                "报告人电子邮箱"
            ],
            "the manifest lists them as dropped"
        );
    }
    // A pipeline on the workbook, its run logged at trace level.
    fx.write(
        "populations.csv",
        "region,year,population,name\n330000,2025,66700000,浙江省\n330100,2025,12624000,杭州市\n330200,2025,9697000,宁波市\n330300,2025,9670000,温州市\n310000,2025,24802600,上海市\n",
    );
    fx.write(
        "p.toml",
        &format!(
            "period = \"2025\"\noutput_dir = \"out\"\n\n[inputs]\npopulations = \"populations.csv\"\nsource = {{ format = \"flat\", path = \"{}\", mapping = \"{}\" }}\n\n[ingest]\ntoday = \"2026-06-30\"\n\n[signals]\nwatch = [\"all\"]\n",
            sample("adr-report-form.xlsx"),
            mapping()
        ),
    );
    let run = fx.run(&["run", &fx.ps("p.toml"), "-vv"]);
    run.expect_ok();
    logs.push(run.stderr.clone() + &run.stdout);
    let manifest = read_json(&period_dir(&fx.p("out"), "2025").join("manifest.json"));
    assert_eq!(
        manifest["conversion"]["sources"][0]["personal_columns_dropped"][0],
        "患者姓名"
    );
    let signals = read_parquet(&period_dir(&fx.p("out"), "2025").join("signals.parquet"));
    assert!(
        !signals.rows.is_empty(),
        "the pipeline computes signals on the export"
    );

    let mut files = Vec::new();
    texts_under(fx.path(), &mut files);
    files.retain(|(p, _)| !p.ends_with("p.toml") && !p.ends_with("populations.csv"));
    assert!(files.len() > 10, "{} files", files.len());
    for v in &values {
        for (p, text) in &files {
            assert!(
                !text.contains(v.as_str()),
                "{p} holds the personal value `{v}`"
            );
        }
        for log in &logs {
            assert!(
                !log.contains(v.as_str()),
                "a log holds the personal value `{v}`"
            );
        }
    }
}

#[test]
fn bad_report_form_inputs_are_clear_errors_and_write_nothing() {
    let fx = Fixture::empty();
    let xlsx = sample("adr-report-form.xlsx");
    let expect_error = |run: &Run, text: &str| {
        run.expect_code(2);
        assert!(run.stderr.contains(text), "{}", run.stderr);
    };

    // A sheet that does not exist.
    let text = fs::read_to_string(mapping()).unwrap();
    fx.write(
        "sheet.toml",
        &text.replace("# sheet = \"报告表\"", "sheet = \"Sheet1\""),
    );
    let run = convert(&fx, &xlsx, &fx.ps("sheet.toml"), "o1", &[]);
    expect_error(
        &run,
        &format!("error: {xlsx}: no sheet named `Sheet1` (found: `报告表`)"),
    );
    // A mapping naming a header the export does not have.
    fx.write("absent.toml", &text.replace("\"生产批号\"", "\"批号\""));
    let run = convert(&fx, &xlsx, &fx.ps("absent.toml"), "o2", &[]);
    expect_error(
        &run,
        &format!("error: {xlsx}: sheet `报告表`: missing column `批号`, mapped to `batch` (found: `报告编码`"),
    );
    // The GB18030 CSV declared UTF-8.
    fx.write(
        "utf8.toml",
        &text.replace("# encoding = \"gb18030\"", "encoding = \"utf-8\""),
    );
    let csv = sample("adr-report-form.csv");
    let run = convert(&fx, &csv, &fx.ps("utf8.toml"), "o3", &[]);
    expect_error(
        &run,
        &format!("error: {csv}: declared `utf-8`, but line 1 is not UTF-8 text"),
    );
    // Mixed encodings: a UTF-8 header over the GB18030 rows.
    let gb = fs::read(&csv).unwrap();
    let body = &gb[gb.iter().position(|b| *b == b'\n').unwrap() + 1..];
    let header = "报告编码,报告类型\r\n".as_bytes();
    fx.write("mixed.csv", "");
    fs::write(fx.p("mixed.csv"), [header, body].concat()).unwrap();
    let run = convert(&fx, &fx.ps("mixed.csv"), &mapping(), "o4", &[]);
    expect_error(
        &run,
        &format!(
            "error: {}: mixed encodings: line 1 is UTF-8 text, line 2 is not (GB18030?)",
            fx.ps("mixed.csv")
        ),
    );
    // A corrupt workbook (cut short) and an encrypted one.
    let bytes = fs::read(&xlsx).unwrap();
    fs::write(fx.p("cut.xlsx"), &bytes[..bytes.len() / 3]).unwrap();
    let run = convert(&fx, &fx.ps("cut.xlsx"), &mapping(), "o5", &[]);
    expect_error(
        &run,
        &format!(
            "error: {}: not a readable Excel workbook (corrupt, or not the format its extension says)",
            fx.ps("cut.xlsx")
        ),
    );
    fs::write(fx.p("enc.xlsx"), encrypted_container()).unwrap();
    let run = convert(&fx, &fx.ps("enc.xlsx"), &mapping(), "o6", &[]);
    expect_error(
        &run,
        &format!(
            "error: {}: the workbook is encrypted (password-protected): save an unprotected copy to read it",
            fx.ps("enc.xlsx")
        ),
    );
    for o in ["o1", "o2", "o3", "o4", "o5", "o6"] {
        let out = fx.p(o);
        assert!(
            !out.exists() || fs::read_dir(&out).unwrap().next().is_none(),
            "{o}: nothing written"
        );
    }
}

/// The smallest compound file (MS-CFB version 3) with an `EncryptedPackage` stream: the
/// shape of a password-protected `.xlsx` (MS-OFFCRYPTO). Same as the unit test's.
fn encrypted_container() -> Vec<u8> {
    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    let mut h = vec![0u8; 512];
    h[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    h[24..26].copy_from_slice(&0x3Eu16.to_le_bytes());
    h[26..28].copy_from_slice(&3u16.to_le_bytes());
    h[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
    h[30..32].copy_from_slice(&9u16.to_le_bytes());
    h[32..34].copy_from_slice(&6u16.to_le_bytes());
    h[44..48].copy_from_slice(&1u32.to_le_bytes());
    h[48..52].copy_from_slice(&1u32.to_le_bytes());
    h[56..60].copy_from_slice(&4096u32.to_le_bytes());
    h[60..64].copy_from_slice(&END.to_le_bytes());
    h[68..72].copy_from_slice(&END.to_le_bytes());
    for i in 1..109 {
        h[76 + i * 4..80 + i * 4].copy_from_slice(&FREE.to_le_bytes());
    }
    let mut fat = vec![0u8; 512];
    for (i, v) in [0xFFFF_FFFDu32, END].iter().enumerate() {
        fat[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    for i in 2..128 {
        fat[i * 4..i * 4 + 4].copy_from_slice(&FREE.to_le_bytes());
    }
    let mut dir = vec![0u8; 512];
    for (k, (name, kind)) in [("Root Entry", 5u8), ("EncryptedPackage", 2u8)]
        .iter()
        .enumerate()
    {
        let e = &mut dir[k * 128..(k + 1) * 128];
        let units: Vec<u16> = name.encode_utf16().collect();
        for (i, u) in units.iter().enumerate() {
            e[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
        }
        e[64..66].copy_from_slice(&((units.len() as u16 + 1) * 2).to_le_bytes());
        e[66] = *kind;
        e[116..120].copy_from_slice(&END.to_le_bytes());
    }
    [h, fat, dir].concat()
}

/// A canonical table as a workbook: its rejects name the cell as Excel does.
#[test]
fn canonical_reports_in_a_workbook_name_their_bad_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let fx = Fixture::new();
    let mut wb = Workbook::new();
    let s = wb.add_worksheet().set_name("Sheet1").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["report_id", "received_date", "class", "region", "age_years"]
        .iter()
        .enumerate()
    {
        s.write_string(0, c as u16, *h).unwrap();
    }
    for i in 0..200u32 {
        let r = i + 1;
        s.write_string(r, 0, format!("R{:04}", i + 1)).unwrap();
        if i == 15 {
            s.write_string(r, 1, "2025-13-01").unwrap();
        } else if i % 3 == 0 {
            s.write_string(r, 1, "2025年3月5日").unwrap();
        } else {
            s.write_datetime_with_format(r, 1, ExcelDateTime::from_ymd(2025, 3, 5).unwrap(), &date)
                .unwrap();
        }
        s.write_string(r, 2, "drug").unwrap();
        s.write_string(r, 3, "330100").unwrap();
        if i == 40 {
            s.write_string(r, 4, "老年").unwrap();
        } else {
            s.write_number(r, 4, 30.0).unwrap();
        }
    }
    wb.save(fx.p("reports.xlsx")).unwrap();
    let toml = fs::read_to_string(fx.p("p.toml")).unwrap();
    let reports = toml
        .lines()
        .find(|l| l.starts_with("reports"))
        .expect("the fixture names its reports")
        .to_string();
    fx.write(
        "p.toml",
        &toml.replace(&reports, "reports = \"reports.xlsx\""),
    );
    let run = fx.run(&["validate", &fx.ps("p.toml")]);
    assert!(
        run.stdout.contains(&format!(
            "{}: Sheet1!B17, column `received_date`: expected a date YYYY-MM-DD, found `2025-13-01`",
            fx.ps("reports.xlsx")
        )),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("Sheet1!E42, column `age_years`"),
        "{}",
        run.stdout
    );
}

/// Canonical CSV tables in UTF-16 (detected by its byte-order mark) and GB18030 (declared
/// in `[inputs.options]`): rows read with their lines, a byte sequence that does not decode
/// rejects its row only; an options key that is not an input is a configuration error.
#[test]
fn canonical_tables_in_utf16_and_gb18030_keep_their_lines() {
    let fx = Fixture::new();
    let products = "product_id,name,class\r\nD001,阿莫西林胶囊,drug\r\nD002,头孢\u{FFFD},drug\r\nD003,布洛芬,drug\r\n";
    let mut gb = encoding_rs::GB18030.encode(products).0.into_owned();
    // U+FFFD has a GB18030 code; put an undecodable lead byte in its place instead.
    let fffd = encoding_rs::GB18030.encode("\u{FFFD}").0.into_owned();
    let at = gb
        .windows(fffd.len())
        .position(|w| w == fffd.as_slice())
        .unwrap();
    gb.splice(at..at + fffd.len(), [0x81]);
    fs::write(fx.p("products.csv"), gb).unwrap();
    let events = "report_id,event,onset_date\nR0001,皮疹,2025-01-02\nR0002,头晕,2025-13-01\n";
    let mut le = vec![0xFF, 0xFE];
    for u in events.encode_utf16() {
        le.extend(u.to_le_bytes());
    }
    fs::write(fx.p("report_events.csv"), le).unwrap();
    fx.pipeline(
        "",
        "[inputs.options.products]\nencoding = \"gb18030\"\n\n[ingest]\nmax_rejected_fraction = 0.5\n",
    );
    let run = fx.run(&["validate", &fx.toml()]);
    run.expect_ok();
    let out = &run.stdout;
    assert!(
        out.contains(&format!(
            "{}: line 3, column `name`: expected GB18030 text",
            fx.ps("products.csv")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}: line 3, column `onset_date`: expected a date",
            fx.ps("report_events.csv")
        )),
        "{out}"
    );

    fx.pipeline("", "[inputs.options.sources]\nencoding = \"latin-1\"\n");
    let run = fx.run(&["validate", &fx.toml()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("inputs.options.sources: not an input table of this pipeline; expected one of `populations`, `reports`, `report_products`, `report_events`, `products`"),
        "{}",
        run.stderr
    );
    fx.pipeline("", "[inputs.options.reports]\nencoding = \"latin-1\"\n");
    let run = fx.run(&["validate", &fx.toml()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("inputs.options.reports.encoding: expected one of `utf-8`, `utf-16le`, `utf-16be`, `gb18030` (also `gbk`, `gb2312`), found `latin-1`"),
        "{}",
        run.stderr
    );
}
