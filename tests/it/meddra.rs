//! `[terms]` and `signals.levels` on the synthetic MedDRA release in
//! `tests/data/meddra-synthetic/` (invented codes, MSSO's file layout): signal rows at
//! event, PT, HLT, SOC and SMQ level with hand-computed cells, unmapped terms counted and
//! listed, the version in the manifest, and a release folder missing a file.
//!
//! Eight drug cases; P1 is watched (innovative), P2 is not. Events as reported:
//!
//! | case | product | events (what they are) |
//! |---|---|---|
//! | R1 | P1 | `90002001` (LLT head pain), `Synthetic cephalalgia` (LLT name): both PT headache |
//! | R2 | P1 | `90001002` (PT migraine) |
//! | R3 | P1 | `Synthetic rash` (PT name), `90001004` (PT pruritus): both in HLT rashes |
//! | R4 | P2 | `90001001` (PT headache) |
//! | R5 | P2 | `90001004` (PT pruritus) |
//! | R6 | P2 | `皮痒`, a legacy term that `event_terms` maps to `Synthetic pruritus` |
//! | R7 | P1 | `不明术语`, mapped by nothing |
//! | R8 | P2 | `90002003` (LLT skin eruption → PT rash) |

use std::fs;

use crate::util::*;

const RELEASE: &str = "tests/data/meddra-synthetic";

fn fixture(terms: &str, signals: &str) -> Fixture {
    let fx = Fixture::empty();
    let ids: Vec<String> = (1..=8)
        .map(|i| {
            report(
                &format!("R{i}"),
                &format!("C{i}"),
                1,
                "2025-03-01",
                "drug",
                "330100",
            )
        })
        .collect();
    fx.write("reports.csv", &csv(REPORTS_HEADER, &ids));
    fx.write(
        "report_products.csv",
        "report_id,product_id\nR1,P1\nR2,P1\nR3,P1\nR4,P2\nR5,P2\nR6,P2\nR7,P1\nR8,P2\n",
    );
    fx.write(
        "report_events.csv",
        "report_id,event\nR1,90002001\nR1,Synthetic cephalalgia\nR2,90001002\nR3,Synthetic rash\nR3,90001004\nR4,90001001\nR5,90001004\nR6,皮痒\nR7,不明术语\nR8,90002003\n",
    );
    fx.write(
        "products.csv",
        "product_id,name,class,innovative\nP1,创新药甲,drug,true\nP2,对照药乙,drug,false\n",
    );
    fx.write(
        "populations.csv",
        "region,year,population\n330000,2024,2000000\n",
    );
    fx.write(
        "event_terms.csv",
        "event,pt,term_version\n皮痒,Synthetic pruritus,centre-2024\n",
    );
    let release = repo().join(RELEASE);
    let terms = terms.replace("RELEASE", &release.display().to_string());
    fx.write(
        "p.toml",
        &format!(
            "{PIPELINE_TOP}\n{PIPELINE_INPUTS}event_terms = \"event_terms.csv\"\n\n{terms}\n[signals]\n{signals}\n"
        ),
    );
    fx
}

fn signals(fx: &Fixture) -> Table {
    read_parquet(&period_dir(&fx.p("out"), "2025").join("signals.parquet"))
}

/// (a, b, c, d) of P1's row for `event` at `level`.
#[track_caller]
fn cells(t: &Table, level: &str, event: &str) -> (i64, i64, i64, i64) {
    let r = t.row_where(&[("level", level), ("product_id", "P1"), ("event", event)]);
    let g = |c: &str| t.get(r, c).int();
    let n = g("n");
    assert_eq!(n, 8, "n is every case of the class, at every level");
    let cells = (g("a"), g("b"), g("c"), g("d"));
    assert_eq!(cells.0 + cells.1 + cells.2 + cells.3, n);
    // Unstratified: expected = (a+b)(a+c)/n.
    let want = ((cells.0 + cells.1) * (cells.0 + cells.2)) as f64 / n as f64;
    assert_close(t.get(r, "expected").float(), want, 1e-12);
    cells
}

#[test]
fn signal_rows_at_pt_hlt_soc_and_smq_level_count_each_case_once_per_group() {
    let fx = fixture(
        "[terms]\nmeddra = \"RELEASE\"\n",
        "levels = [\"event\", \"pt\", \"hlt\", \"soc\", \"smq\"]",
    );
    fx.run_pipeline(&[]).expect_ok();
    let t = signals(&fx);

    // Event level: today's rows, one per raw term; R1's two LLTs are two events.
    assert_eq!(cells(&t, "event", "90002001"), (1, 3, 0, 4));
    assert_eq!(cells(&t, "event", "Synthetic cephalalgia"), (1, 3, 0, 4));

    // PT level: R1's two LLTs are one PT, counted once; R4 reports that PT.
    assert_eq!(cells(&t, "pt", "90001001"), (1, 3, 1, 3));
    assert_eq!(cells(&t, "pt", "90001002"), (1, 3, 0, 4));
    // Rash: R3 (a PT name) and R8 (an LLT code).
    assert_eq!(cells(&t, "pt", "90001003"), (1, 3, 1, 3));
    // Pruritus: R3 and, outside P1, R5 and R6 (through event_terms).
    assert_eq!(cells(&t, "pt", "90001004"), (1, 3, 2, 2));
    // The unmapped term keeps its raw text, flagged.
    assert_eq!(cells(&t, "pt", "不明术语"), (1, 3, 0, 4));
    let r = t.row_where(&[("level", "pt"), ("event", "不明术语")]);
    assert_eq!(t.get(r, "term_mapped"), &Value::Bool(false));
    assert!(t.get(r, "soc").is_null());
    let r = t.row_where(&[("level", "pt"), ("event", "90001001")]);
    assert_eq!(t.get(r, "event_name").str(), "Synthetic headache");
    assert_eq!(t.get(r, "soc").str(), "Synthetic nervous disorders");
    assert_eq!(t.get(r, "term_mapped"), &Value::Bool(true));

    // HLT level (primary paths): R3's rash and pruritus are one HLT, counted once.
    assert_eq!(cells(&t, "hlt", "hlt:90000201"), (1, 3, 1, 3));
    assert_eq!(cells(&t, "hlt", "hlt:90000202"), (1, 3, 0, 4));
    assert_eq!(cells(&t, "hlt", "hlt:90000203"), (1, 3, 3, 1));
    let r = t.row_where(&[("level", "hlt"), ("event", "hlt:90000203")]);
    assert_eq!(t.get(r, "event_name").str(), "Synthetic rashes");
    assert_eq!(t.get(r, "soc").str(), "Synthetic skin disorders");

    // SOC level: R1 and R2 under nervous disorders.
    assert_eq!(cells(&t, "soc", "soc:90000001"), (2, 2, 1, 3));
    assert_eq!(cells(&t, "soc", "soc:90000002"), (1, 3, 3, 1));

    // SMQ level, narrow scope: migraine is only a broad term of the headache SMQ; the
    // skin SMQ holds its sub-SMQ's pruritus; the retired SMQ has no row.
    assert_eq!(cells(&t, "smq", "smq:20000001"), (1, 3, 1, 3));
    assert_eq!(cells(&t, "smq", "smq:20000002"), (1, 3, 3, 1));
    assert_eq!(cells(&t, "smq", "smq:20000003"), (1, 3, 2, 2));
    let r = t.row_where(&[("level", "smq"), ("event", "smq:20000002")]);
    assert_eq!(t.get(r, "event_name").str(), "Synthetic skin SMQ");
    let levels: Vec<String> = t
        .column("level")
        .iter()
        .map(|v| v.str().to_string())
        .collect();
    assert_eq!(levels.iter().filter(|l| *l == "smq").count(), 3);
    // An unmapped term has no group above PT.
    assert_eq!(levels.iter().filter(|l| *l == "hlt").count(), 3);

    // The manifest: version, and the unmapped term counted and listed.
    let m = read_json(&period_dir(&fx.p("out"), "2025").join("manifest.json"));
    let terms = &m["terms"];
    assert_eq!(terms["meddra_version"], "99.0");
    assert_eq!(terms["meddra_version_source"], "meddra_release.asc");
    assert_eq!(
        terms["event_terms_versions"],
        serde_json::json!(["centre-2024"])
    );
    assert_eq!(terms["smq_scope"], "narrow");
    assert_eq!(terms["unmapped_events"], 1);
    assert_eq!(terms["cases_with_unmapped"], 1);
    // Nine distinct raw terms: `90001004` is reported by R3 and R5.
    assert_eq!(terms["distinct_events"], 9);
    assert_eq!(
        terms["unmapped"],
        serde_json::json!([{"event": "不明术语", "cases": 1}])
    );
    let html = fs::read_to_string(period_dir(&fx.p("out"), "2025").join("review.html")).unwrap();
    assert!(html.contains("1 of 9 event terms map to no MedDRA preferred term (PT), in 1 cases"));
    assert!(html.contains("<td>不明术语</td>"));
}

#[test]
fn broad_smq_scope_adds_broad_terms() {
    let fx = fixture(
        "[terms]\nmeddra = \"RELEASE\"\nsmq_scope = \"broad\"\n",
        "levels = [\"smq\"]",
    );
    fx.run_pipeline(&[]).expect_ok();
    // R2's migraine joins the headache SMQ.
    assert_eq!(cells(&signals(&fx), "smq", "smq:20000001"), (2, 2, 1, 3));
}

#[test]
fn terms_without_levels_give_pt_rows_and_no_terms_give_todays_table() {
    let fx = fixture("[terms]\nmeddra = \"RELEASE\"\n", "");
    fx.run_pipeline(&[]).expect_ok();
    let t = signals(&fx);
    assert!(t.column("level").iter().all(|l| l.str() == "pt"));
    assert_eq!(cells(&t, "pt", "90001001"), (1, 3, 1, 3));

    // Without [terms] and levels: no `level`, `event_name` or `term_mapped` column, and
    // the same rows and values as `levels = ["event"]` gives.
    let plain = fixture("", "");
    plain.run_pipeline(&[]).expect_ok();
    let p = signals(&plain);
    for c in ["level", "event_name", "term_mapped"] {
        assert!(p.schema.index_of(c).is_err(), "{c}");
    }
    let ev = fixture("", "levels = [\"event\"]");
    ev.run_pipeline(&[]).expect_ok();
    let e = signals(&ev);
    assert_eq!(p.rows.len(), e.rows.len());
    for f in p.schema.fields() {
        assert_eq!(p.column(f.name()), e.column(f.name()), "{}", f.name());
    }
    assert!(e.column("level").iter().all(|l| l.str() == "event"));
}

#[test]
fn a_release_missing_a_file_stops_the_run_naming_it_and_writes_nothing() {
    let fx = fixture(
        "[terms]\nmeddra = \"meddra\"\n",
        "levels = [\"pt\", \"smq\"]",
    );
    for f in fs::read_dir(repo().join(RELEASE)).unwrap().flatten() {
        if f.file_name() != "hlt.asc" && f.file_name() != "smq_content.asc" {
            fx.write(
                &format!("meddra/{}", f.file_name().to_string_lossy()),
                &fs::read_to_string(f.path()).unwrap(),
            );
        }
    }
    let run = fx.run_pipeline(&[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "error: {}: MedDRA release folder is missing `hlt.asc`, `smq_content.asc` (a MedDRA ASCII release holds llt.asc, pt.asc, hlt.asc, hlgt.asc, soc.asc, mdhier.asc, and smq_list.asc, smq_content.asc for `signals.levels` = `smq`)",
            fx.ps("meddra")
        )),
        "{}",
        run.stderr
    );
    assert!(!period_dir(&fx.p("out"), "2025").exists());
    // Nothing else either: the staging folder is gone.
    let left = fs::read_dir(fx.p("out"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert_eq!(left, 0);
    // `validate` says the same.
    let toml = fx.toml();
    let v = fx.run(&["validate", &toml]);
    v.expect_code(2);
    assert!(v.stderr.contains("is missing `hlt.asc`"), "{}", v.stderr);
}

#[test]
fn levels_and_terms_configuration_errors_are_reported_together() {
    let fx = fixture(
        "[terms]\nsmq_scope = \"wide\"\n",
        "levels = [\"pt\", \"hlt\", \"pt\", \"llt\"]",
    );
    let run = fx.run_pipeline(&[]);
    run.expect_code(2);
    for want in [
        "terms.smq_scope: expected one of `narrow`, `broad`, found `wide`",
        "signals.levels[1]: `hlt` needs the MedDRA hierarchy: set `terms.meddra` to a MedDRA ASCII release folder",
        "signals.levels[2]: `pt` is listed twice",
        "signals.levels[3]: expected one of `event`, `pt`, `hlt`, `hlgt`, `soc`, `smq`, found `llt`",
    ] {
        assert!(run.stderr.contains(want), "{want}\n{}", run.stderr);
    }
}

#[test]
fn a_new_meddra_version_is_recorded_and_said_against_the_previous_run() {
    let fx = fixture("[terms]\nmeddra = \"meddra\"\n", "");
    for f in fs::read_dir(repo().join(RELEASE)).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        fx.write(
            &format!("meddra/{name}"),
            &fs::read_to_string(f.path()).unwrap(),
        );
    }
    let toml = fx.toml();
    fx.run(&["run", &toml, "--period", "2025-Q1"]).expect_ok();
    fx.write("meddra/meddra_release.asc", "99.1$English$$$$\n");
    let run = fx.run(&["run", &toml, "--period", "2025-Q2"]);
    run.expect_ok();
    assert!(
        run.stderr
            .contains("the MedDRA version differs from the previous run's"),
        "{}",
        run.stderr
    );
    let m = read_json(&period_dir(&fx.p("out"), "2025-Q2").join("manifest.json"));
    assert_eq!(m["terms"]["meddra_version"], "99.1");
    assert_eq!(m["terms"]["previous_meddra_version"], "99.0");
    assert_eq!(m["terms"]["meddra_version_changed"], true);
    let html = fs::read_to_string(period_dir(&fx.p("out"), "2025-Q2").join("review.html")).unwrap();
    assert!(html.contains("MedDRA version changed</strong>: 99.1 in this run, 99.0"));
}

#[test]
fn a_jurisdiction_is_alerted_to_a_group_when_its_own_cases_report_a_term_of_it() {
    // R1, P1's only headache case, is in Shanghai, outside the scope; every row flags
    // (IC025 > -100), so each row with a case in scope raises a new_signal alert.
    let fx = fixture(
        "[terms]\nmeddra = \"RELEASE\"\n\n[scope]\nregions = [\"330000\"]\n",
        "levels = [\"pt\", \"hlt\"]\nmethods = [\"bcpnn\"]\n\n[signals.bcpnn]\nmin_ic025 = -100",
    );
    let reports = fs::read_to_string(fx.p("reports.csv")).unwrap().replace(
        "R1,C1,1,2025-03-01,drug,330100",
        "R1,C1,1,2025-03-01,drug,310100",
    );
    fx.write("reports.csv", &reports);
    fx.write(
        "populations.csv",
        "region,year,population\n330000,2024,2000000\n310000,2024,2000000\n",
    );
    fx.run_pipeline(&[]).expect_ok();
    let text = fs::read_to_string(period_dir(&fx.p("out"), "2025").join("alerts.jsonl")).unwrap();
    let mut events: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["kind"] == "new_signal" && a["product_id"] == "P1")
        .map(|a| a["event"].as_str().unwrap().to_string())
        .collect();
    events.sort();
    // Rash (R3 reported it by name) and pruritus alert at PT level; headache does not,
    // and neither does its HLT: its only P1 case is out of scope.
    assert_eq!(
        events,
        [
            "90001002",
            "90001003",
            "90001004",
            "hlt:90000202",
            "hlt:90000203",
            "不明术语"
        ]
    );
}
