//! Every physical row accounted for, in every CSV-like reader (issue 18, item 1): a quote
//! left open is one reject on the line where it opens and the rows after it are read; an
//! over-long line of any shape is one reject naming its line; values in errors and rejects
//! are quoted as short excerpts with control characters escaped; CR-only files number
//! their lines right. The canonical CSV tables (`run`), flat exports and FAERS `$` files
//! (`convert`).

use crate::util::*;

/// Run the default pipeline, expect exit 0, and return the manifest and the rejects.csv
/// lines after its header.
fn run_ok(fx: &Fixture) -> (serde_json::Value, Vec<String>) {
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_accounts_balance(&manifest);
    let rejects = read_rejects(&fx.p("out/period=2025/rejects.csv"));
    assert_eq!(rejects[0], REJECTS_CSV_HEADER);
    (manifest, rejects[1..].to_vec())
}

/// The issue's case: one stray opening quote on line 11000 of an 11,382-row
/// report_events.csv used to swallow the 383 rows from there to the end into one field.
#[test]
fn stray_quote_in_report_events_rejects_its_line_and_every_later_row_is_used() {
    let fx = Fixture::new();
    fx.write("reports.csv", &csv(REPORTS_HEADER, &good_reports(200)));
    let rows: Vec<String> = (0..11_382)
        .map(|i| {
            let (id, event) = (i % 200 + 1, i % 40);
            // Row i is on line i + 2; line 11000 opens a quote it never closes.
            if i + 2 == 11_000 {
                format!("R{id:04},\"E{event}")
            } else {
                format!("R{id:04},E{event}")
            }
        })
        .collect();
    let text = csv("report_id,event", &rows);
    fx.write("report_events.csv", &text);

    let (manifest, rejects) = run_ok(&fx);
    let d = fx.d();
    assert_eq!(
        rejects,
        [format!(
            "report_events,{d}/report_events.csv,11000,,\"R0199,\"\"E38\",a quote closed on the line \
             where it opens (a quote left open here runs to the end of the file; reading resumed \
             at line 11001),row rejected"
        )]
    );
    let events = account(&manifest, "report_events");
    assert_eq!(
        events,
        Account {
            read: 11_382,
            used: 11_381,
            superseded: 0,
            rejected: 1
        }
    );
    // Every physical line is a row, but the header.
    assert_eq!(text.lines().count() as u64, events.read + 1);
    // The 10,998 rows before line 11000 and the 383 after it (lines 11001 to 11383, which
    // used to vanish) are all used.
    let before_quote = 11_000 - 2;
    assert_eq!(events.used - before_quote, 383);
    assert_eq!(text.lines().skip(11_000).count(), 383);
}

/// A quoted field with a line break and the right field count is one row, and the lines
/// after it keep their numbers.
#[test]
fn quoted_line_break_with_the_right_field_count_stays_one_row() {
    let fx = Fixture::new();
    fx.write(
        "report_events.csv",
        "report_id,event\nR0001,\"Rash\nsevere\"\nR0002,Nausea\nR0009,Headache\n",
    );
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    let (manifest, rejects) = run_ok(&fx);
    assert_eq!(
        account(&manifest, "report_events"),
        Account {
            read: 3,
            used: 2,
            superseded: 0,
            rejected: 1
        }
    );
    assert_eq!(
        rejects,
        [format!(
            "report_events,{}/report_events.csv,5,report_id,R0009,a report_id present in {}/reports.csv,row rejected",
            fx.d(),
            fx.d()
        )]
    );
}

/// Old Mac files end lines with a lone CR: a bad row on line 5 is reported on line 5.
#[test]
fn cr_only_file_names_the_line_of_a_bad_row() {
    let fx = Fixture::new();
    let mut rows = good_reports(199);
    rows.insert(
        3,
        report("R0200", "C0200", 1, "2025-02-30", "drug", "330100"),
    );
    fx.write(
        "reports.csv",
        &csv(REPORTS_HEADER, &rows).replace('\n', "\r"),
    );
    let (manifest, rejects) = run_ok(&fx);
    assert_eq!(
        rejects,
        [format!(
            "reports,{}/reports.csv,5,received_date,2025-02-30,a date YYYY-MM-DD,row rejected",
            fx.d()
        )]
    );
    assert_eq!(account(&manifest, "reports").read, 200);
}

/// Lines of more than 1 MiB, of every shape (commas, plain text, one quoted field), are
/// each one reject naming its line; the rows between and after them are used.
#[test]
fn over_long_lines_of_any_shape_are_one_reject_each() {
    let fx = Fixture::new();
    let long = 2 << 20;
    let commas = ",".repeat(long);
    let plain = format!("R0001,{}", "x".repeat(long));
    let quoted = format!("R0002,\"{}\"", "y".repeat(long));
    let rows = [
        s("R0001,Rash"),
        commas,
        s("R0002,Rash"),
        plain,
        s("R0003,Rash"),
        quoted,
        s("R0003,Nausea"),
    ];
    fx.write("report_events.csv", &csv("report_id,event", &rows));
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    let (manifest, rejects) = run_ok(&fx);
    assert_eq!(
        account(&manifest, "report_events"),
        Account {
            read: 7,
            used: 4,
            superseded: 0,
            rejected: 3
        }
    );
    let d = fx.d();
    let expected = |line: u64| {
        format!(
            "a line of at most 1 MiB (this one is longer; reading resumed at line {})",
            line + 1
        )
    };
    assert_eq!(
        rejects,
        [
            format!(
                "report_events,{d}/report_events.csv,3,,\"{}…\",{},row rejected",
                ",".repeat(200),
                expected(3)
            ),
            format!(
                "report_events,{d}/report_events.csv,5,,\"R0001,{}…\",{},row rejected",
                "x".repeat(194),
                expected(5)
            ),
            format!(
                "report_events,{d}/report_events.csv,7,,\"R0002,\"\"{}…\",{},row rejected",
                "y".repeat(193),
                expected(7)
            ),
        ]
    );
}

/// A 50 MB header is refused naming its line, quoting only its start.
#[test]
fn huge_header_is_refused_without_being_echoed() {
    let fx = Fixture::new();
    let header = format!("report_id,event,{}", "z".repeat(50 << 20));
    fx.write("report_events.csv", &format!("{header}\nR0001,Rash\n"));
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/report_events.csv: header: line 1: a line of more than 1 MiB (found `report_id,event,{}…`)\n",
            fx.d(),
            "z".repeat(200 - 16)
        )
    );
    assert!(!fx.p("out").exists());
}

/// Control characters in a value are escaped in rejects.csv and in errors.
#[test]
fn control_characters_in_values_are_escaped() {
    let fx = Fixture::new();
    let mut rows = good_reports(199);
    rows.insert(
        9,
        report(
            "R0200",
            "C0200",
            1,
            "2025-01-0\u{1b}[31m\u{0}",
            "drug",
            "330100",
        ),
    );
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let (_, rejects) = run_ok(&fx);
    assert_eq!(
        rejects,
        [format!(
            "reports,{}/reports.csv,11,received_date,2025-01-0\\u{{1b}}[31m\\u{{0}},a date YYYY-MM-DD,row rejected",
            fx.d()
        )]
    );

    fx.write(
        "report_events.csv",
        "report_id,event,a\tb\u{7},a\tb\u{7}\nR0001,Rash,1,2\n",
    );
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}/report_events.csv: line 1: duplicate column `a\\tb\\u{{7}}` in the header\n",
            fx.d()
        )
    );
}

fn s(v: &str) -> String {
    v.to_string()
}

/// `pvwatch convert --from <format> <src> --out <fx>/out extra…`, expected to succeed;
/// returns the convert manifest and the rejects.csv lines after its header.
fn convert_ok(
    fx: &Fixture,
    format: &str,
    src: &str,
    extra: &[&str],
) -> (serde_json::Value, Vec<String>) {
    let out = fx.ps("out");
    let mut args = vec!["convert", "--from", format, src, "--out", out.as_str()];
    args.extend_from_slice(extra);
    fx.run(&args).expect_ok();
    let manifest = read_json(&fx.p("out/convert-manifest.json"));
    let rejects = read_rejects(&fx.p("out/rejects.csv"));
    assert_eq!(rejects[0], REJECTS_CSV_HEADER);
    (manifest, rejects[1..].to_vec())
}

/// (read, used, superseded, rejected) of the converted source file named `file`, checking
/// that it balances.
fn source_account(manifest: &serde_json::Value, file: &str) -> [u64; 4] {
    let s = manifest["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["path"].as_str().is_some_and(|p| p.ends_with(file)))
        .unwrap_or_else(|| panic!("no source {file}"));
    let n = |k: &str| s[k].as_u64().expect("a count");
    assert_eq!(
        n("read"),
        n("used") + n("superseded") + n("duplicate") + n("rejected"),
        "{s}"
    );
    ["read", "used", "superseded", "rejected"].map(n)
}

/// A flat export (CRLF, as Excel saves it) with a stray quote and an over-long line: each
/// one reject naming its line, every other row converted.
#[test]
fn flat_export_stray_quote_and_long_line_are_one_reject_each() {
    let fx = Fixture::empty();
    let long = "x".repeat(2 << 20);
    let lines = [
        s("报告编码,报告日期,怀疑药品,不良反应名称"),
        s("R1,2024-03-01,阿莫西林,皮疹"),
        format!("R2,2024-03-02,布洛芬,{long}"),
        s("R3,2024-03-03,布洛芬,恶心"),
        s("R4,2024-03-04,\"奥美拉唑,头痛"),
        s("R5,2024-03-05,布洛芬,恶心"),
        s("R6,2024-03-06,布洛芬,头痛"),
    ];
    fx.write("export.csv", &(lines.join("\r\n") + "\r\n"));
    fx.write(
        "m.toml",
        "[columns]\nreport_id = \"报告编码\"\nreceived_date = \"报告日期\"\nproduct_name = \"怀疑药品\"\nevent = \"不良反应名称\"\n",
    );
    let src = fx.ps("export.csv");
    let mapping = fx.ps("m.toml");
    let (manifest, rejects) = convert_ok(
        &fx,
        "flat",
        &src,
        &[
            "--mapping",
            &mapping,
            "--region",
            "330100",
            "--max-rejected-fraction",
            "0.5",
        ],
    );
    assert_eq!(source_account(&manifest, "export.csv"), [6, 4, 0, 2]);
    assert_eq!(
        rejects,
        [
            format!(
                "flat,{src},3,,\"R2,2024-03-02,布洛芬,{}…\",a line of at most 1 MiB (this one is longer; \
                 reading resumed at line 4),row rejected",
                "x".repeat(200 - 18)
            ),
            format!(
                "flat,{src},5,,\"R4,2024-03-04,\"\"奥美拉唑,头痛\",a quote closed on the line where it opens \
                 (a quote left open here runs to the end of the file; reading resumed at line 6),row rejected"
            ),
        ]
    );
}

/// A FAERS DEMO file with lone-CR line ends and a line of more than 1 MiB: the line is one
/// reject naming it, the file goes on, and its DRUG and REAC rows are explained.
#[test]
fn faers_over_long_line_is_one_reject_naming_it() {
    let fx = Fixture::empty();
    let mut demo = vec![s(
        "primaryid$caseid$caseversion$fda_dt$age$age_cod$sex$event_dt",
    )];
    let mut drug = vec![s("primaryid$role_cod$drugname")];
    let mut reac = vec![s("primaryid$pt")];
    for i in 0..10 {
        let id = 8000 + i;
        let event_dt = if i == 4 {
            "9".repeat(2 << 20)
        } else {
            s("20240110")
        };
        demo.push(format!("{id}${}$1$20240115$40$YR$F${event_dt}", 800 + i));
        drug.push(format!("{id}$PS$Aspirin"));
        reac.push(format!("{id}$Nausea"));
    }
    fx.write("q/DEMO24Q1.txt", &(demo.join("\r") + "\r"));
    fx.write("q/DRUG24Q1.txt", &(drug.join("\n") + "\n"));
    fx.write("q/REAC24Q1.txt", &(reac.join("\n") + "\n"));
    fx.write("q/OUTC24Q1.txt", "primaryid$caseid$outc_cod\n8000$800$OT\n");
    let q = fx.ps("q");
    let (manifest, rejects) = convert_ok(
        &fx,
        "faers",
        &q,
        &["--region", "310000", "--max-rejected-fraction", "0.5"],
    );
    assert_eq!(source_account(&manifest, "DEMO24Q1.txt"), [10, 9, 0, 1]);
    assert_eq!(source_account(&manifest, "DRUG24Q1.txt"), [10, 9, 0, 1]);
    assert_eq!(source_account(&manifest, "REAC24Q1.txt"), [10, 9, 0, 1]);
    assert_eq!(
        rejects[0],
        format!(
            "demo,{q}/DEMO24Q1.txt,6,,8004$804$1$20240115$40$YR$F${}…,a line of at most 1 MiB \
             (this one is longer; reading resumed at line 7),row rejected",
            "9".repeat(200 - 28)
        )
    );
    assert!(
        rejects[1].starts_with(&format!("drug,{q}/DRUG24Q1.txt,6,primaryid,8004,")),
        "{rejects:?}"
    );
}
