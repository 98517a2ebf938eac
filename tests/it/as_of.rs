//! As of the period (DESIGN.md, "As of the period"): a run for period P uses, for each case,
//! the latest version received on or before P's end. Follow-ups received later do not exist
//! for that run, so rerunning a past period after they arrive gives the same tables, as a
//! dated snapshot of a safety database (Oracle Empirica's) does.

use std::fs;

use crate::util::*;

/// The demo's sample data in a fixture, with a pipeline like `pipelines/demo.toml`.
fn sample_fixture() -> Fixture {
    let fx = Fixture::with_sample_data();
    let pipeline = fs::read_to_string(repo().join("pipelines/demo.toml")).expect("demo.toml");
    let pipeline = pipeline
        .replace("../sample-data/", "")
        .replace("output_dir = \"../out/demo\"", "output_dir = \"out\"");
    fx.write("p.toml", &pipeline);
    fx
}

/// Follow-ups received in 2025 of two 2024 cases (sample-data: single-version cases first
/// received 2024-01-01): C000002 becomes a serious **device** case of M001 (was a drug case
/// of D016 and D001); C000004 becomes serious and **fatal**, naming D004 beside D005.
fn append_follow_ups(fx: &Fixture) {
    let append = |file: &str, rows: &str| {
        let mut text = fs::read_to_string(fx.p(file)).expect("an input");
        text.push_str(rows);
        fx.write(file, &text);
    };
    append(
        "reports.csv",
        "R2025-900001,C000002,2,2025-03-01,device,371300,medical_institution,false,false,true,false,F,36\n\
         R2025-900002,C000004,2,2025-03-02,drug,330500,medical_institution,false,false,true,true,F,12\n",
    );
    append(
        "report_products.csv",
        "R2025-900001,M001,suspect,\nR2025-900002,D005,suspect,B230866\nR2025-900002,D004,suspect,\n",
    );
    append(
        "report_events.csv",
        "R2025-900001,Nausea,2025-02-20\nR2025-900002,Nausea,2024-01-01\n",
    );
}

/// Every output table of a run, as read back (Parquet through arrow-rs, text as text).
fn outputs(fx: &Fixture, period: &str) -> Vec<(String, String)> {
    let dir = period_dir(&fx.p("out"), period);
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("the period's outputs")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|f| f != "manifest.json" && f != "review.html")
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let path = dir.join(&f);
            let content = if f.ends_with(".parquet") {
                let t = read_parquet(&path);
                format!("{:?}\n{:?}", t.schema, t.rows)
            } else {
                fs::read_to_string(&path).expect("a text output")
            };
            (f, content)
        })
        .collect()
}

fn alerts_of_case<'a>(alerts: &'a str, case: &str) -> Vec<&'a str> {
    alerts
        .lines()
        .filter(|l| l.contains(&format!("\"case_id\":\"{case}\"")))
        .collect()
}

#[test]
fn rerunning_a_past_period_after_later_follow_ups_gives_the_same_tables() {
    let fx = sample_fixture();
    fx.run_pipeline(&["--period", "2024", "-q"]).expect_ok();
    let before = outputs(&fx, "2024");
    let after_cutoff = |fx: &Fixture| -> Vec<u64> {
        let manifest = read_json(&fx.p("out/period=2024/manifest.json"));
        assert_accounts_balance(&manifest);
        ["reports", "report_products", "report_events"]
            .iter()
            .map(|t| {
                manifest["inputs"]
                    .as_array()
                    .expect("inputs")
                    .iter()
                    .find(|i| i["table"] == *t)
                    .and_then(|i| i["after_cutoff"].as_u64())
                    .expect("after_cutoff")
            })
            .collect()
    };
    let later_before = after_cutoff(&fx);
    // The data run on past 2024, so 2024 is covered to its last day (a leap year), although
    // no version received after it is used.
    let manifest = read_json(&fx.p("out/period=2024/manifest.json"));
    assert_eq!(manifest["data_cutoff"], "2024-12-31");
    let rates = read_parquet(&fx.p("out/period=2024/rates.parquet"));
    for row in 0..rates.rows.len() {
        assert_eq!(rates.get(row, "covered_days").int(), 366);
        assert!(rates.get(row, "period_complete").bool());
    }
    fx.run_pipeline(&["--period", "2025", "-q"]).expect_ok();
    let alerts_2025_before =
        fs::read_to_string(fx.p("out/period=2025/alerts.jsonl")).expect("alerts");

    append_follow_ups(&fx);
    fx.run_pipeline(&["--period", "2024", "-q"]).expect_ok();
    let after = outputs(&fx, "2024");
    assert!(
        before.iter().any(|(f, _)| f == "signals.parquet")
            && before.iter().any(|(f, _)| f == "rates.parquet")
    );
    assert_eq!(
        before.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        after.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    for ((file, b), (_, a)) in before.iter().zip(&after) {
        assert!(b == a, "{file} changed when 2025 follow-ups arrived");
    }
    // The 2025 versions were read and accounted for, as after the cut-off: 2 reports, 3
    // product rows, 2 event rows more.
    let later_after = after_cutoff(&fx);
    assert_eq!(
        later_after,
        vec![
            later_before[0] + 2,
            later_before[1] + 3,
            later_before[2] + 2
        ]
    );

    // The 2025 run uses the follow-ups: C000004's death on D005 and D004 (both watched)
    // and C000002's serious device report on M001 alert as followed up in 2025.
    fx.run_pipeline(&["--period", "2025", "-q"]).expect_ok();
    let alerts = fs::read_to_string(fx.p("out/period=2025/alerts.jsonl")).expect("alerts");
    assert!(alerts_of_case(&alerts_2025_before, "C000004").is_empty());
    assert!(alerts_of_case(&alerts_2025_before, "C000002").is_empty());
    let c4 = alerts_of_case(&alerts, "C000004");
    assert_eq!(c4.len(), 2, "{c4:?}");
    assert!(c4.iter().all(|a| a.contains("\"kind\":\"fatal_report\"")));
    assert!(c4.iter().any(|a| a.contains("\"product_id\":\"D004\"")));
    let c2 = alerts_of_case(&alerts, "C000002");
    assert_eq!(c2.len(), 1, "{c2:?}");
    assert!(
        c2[0].contains("\"kind\":\"serious_report\"")
            && c2[0].contains("\"class\":\"device\"")
            && c2[0].contains("\"product_id\":\"M001\""),
        "{}",
        c2[0]
    );
}
