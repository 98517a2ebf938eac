//! Decisions feed the batch (issue 20, item 4), through `pvwatch::run` with topics given
//! in `RunOptions` (the seam the review database plugs into): a demo signal closed as
//! refuted raises no alert and is counted as suppressed; with its cases doubled it is
//! raised again as `reopened`, naming the decision; an open topic keeps its signal
//! `ongoing`; `signal_log.parquet` and the new alert columns read back with arrow-rs.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use pvwatch::decisions::{Outcome, ReopenRule, TopicRecord, TopicState};
use pvwatch::{Pipeline, RunOptions};
use serde_json::Value as Json;

use crate::util::{days, read_json, read_parquet, repo, Fixture, Value};

/// The demo's planted signal (sample-data/README.md): 16 cases up to 2025.
const PRODUCT: &str = "D008";
const EVENT: &str = "Myocarditis";
const OTHER_EVENT: &str = "Immune-mediated hepatitis";

/// The demo pipeline over the sample tables in `dir` (copied there by the fixture),
/// writing to `dir/out`.
fn demo_pipeline(fx: &Fixture, dir: &str) -> Pipeline {
    let text = fs::read_to_string(repo().join("pipelines/demo.toml"))
        .expect("demo.toml")
        .replace("\"../sample-data/", &format!("\"{dir}/"))
        .replace("\"../out/demo\"", "\"out\"");
    fx.write("demo.toml", &text);
    Pipeline::load(&fx.p("demo.toml")).expect("the demo pipeline loads")
}

fn run(pipeline: &Pipeline, topics: Vec<TopicRecord>) -> pvwatch::RunSummary {
    let opts = RunOptions {
        decisions: topics,
        reopen: ReopenRule::default(),
        ..RunOptions::default()
    };
    pvwatch::run(pipeline, &opts).expect("the run succeeds")
}

fn alerts(dir: &Path) -> Vec<Json> {
    fs::read_to_string(dir.join("alerts.jsonl"))
        .expect("alerts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON alert"))
        .collect()
}

/// The signal alert (`new_signal` or `strengthened_signal`) of D008 × `event`, if any.
fn signal_alert<'a>(alerts: &'a [Json], event: &str) -> Option<&'a Json> {
    alerts.iter().find(|a| {
        a["product_id"] == PRODUCT
            && a["event"] == event
            && matches!(
                a["kind"].as_str(),
                Some("new_signal" | "strengthened_signal")
            )
    })
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn topic(id: i64, event: &str, state: TopicState, outcome: Option<Outcome>) -> TopicRecord {
    TopicRecord {
        id,
        alert_id: None,
        class: "drug".into(),
        product_id: PRODUCT.into(),
        event: event.into(),
        region: None,
        state,
        outcome,
        opened: day("2025-11-03"),
        decided_at: Some(day("2025-12-20")),
        decided_by: Some("wang".into()),
        evidence_a: 16,
        evidence_eb05: None,
        assignee: Some("li".into()),
        last_comment: Some("病例均有合并用药，关联性不足".into()),
    }
}

/// Copy the sample tables into `to`, adding a copy of every case (all its versions, its
/// products and events) that has D008 and Myocarditis: the pair's cases `a` double.
pub fn doubled_sample(fx: &Fixture, to: &str) {
    let read = |f: &str| fs::read_to_string(fx.p(f)).expect("sample table");
    let (reports, products, events) = (
        read("reports.csv"),
        read("report_products.csv"),
        read("report_events.csv"),
    );
    let rows = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let with = |table: &str, value: &str| -> BTreeSet<String> {
        rows(table)
            .into_iter()
            .filter(|r| r[1] == value)
            .map(|r| r[0].clone())
            .collect()
    };
    let pair: BTreeSet<String> = with(&products, PRODUCT)
        .intersection(&with(&events, EVENT))
        .cloned()
        .collect();
    // Every version of those cases.
    let cases: BTreeSet<String> = rows(&reports)
        .into_iter()
        .filter(|r| pair.contains(&r[0]))
        .map(|r| r[1].clone())
        .collect();
    let copied: BTreeSet<String> = rows(&reports)
        .into_iter()
        .filter(|r| cases.contains(&r[1]))
        .map(|r| r[0].clone())
        .collect();
    assert!(
        copied.len() >= 16,
        "the planted signal's reports: {copied:?}"
    );
    let extend = |text: &str, case_column: Option<usize>| -> String {
        let mut out = text.trim_end().to_string();
        for mut r in rows(text) {
            if copied.contains(&r[0]) {
                r[0] = format!("{}X", r[0]);
                if let Some(c) = case_column {
                    r[c] = format!("{}X", r[c]);
                }
                out.push('\n');
                out.push_str(&r.join(","));
            }
        }
        out + "\n"
    };
    fx.write(&format!("{to}/reports.csv"), &extend(&reports, Some(1)));
    fx.write(
        &format!("{to}/report_products.csv"),
        &extend(&products, None),
    );
    fx.write(&format!("{to}/report_events.csv"), &extend(&events, None));
    for f in ["products.csv", "populations.csv", "event_terms.csv"] {
        fx.write(&format!("{to}/{f}"), &read(f));
    }
}

#[test]
fn a_refuted_signal_is_suppressed_until_its_cases_double_then_reopened() {
    let fx = Fixture::with_sample_data();
    let demo = demo_pipeline(&fx, ".");

    // A first run without topics: the planted signal alerts, every topic column null, and
    // the tracking log is an empty table with its full schema.
    let s = run(&demo, vec![]);
    let before = alerts(&s.output);
    let signal = signal_alert(&before, EVENT).expect("the planted signal alerts");
    let alert_id = signal["alert_id"].as_str().expect("an id").to_string();
    assert_eq!(signal["numbers"]["a"], 16.0);
    assert!(before.iter().all(|a| a["topic_id"].is_null()));
    let log = read_parquet(&s.output.join("signal_log.parquet"));
    assert!(log.rows.is_empty());
    let columns: Vec<String> = log
        .schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name(), f.data_type()))
        .collect();
    assert_eq!(
        columns,
        [
            "period:Utf8",
            "topic_id:Int64",
            "alert_id:LargeUtf8",
            "class:LargeUtf8",
            "product_id:LargeUtf8",
            "product_name:LargeUtf8",
            "event:LargeUtf8",
            "region:LargeUtf8",
            "region_name:LargeUtf8",
            "state:LargeUtf8",
            "outcome:LargeUtf8",
            "opened_date:Date32",
            "decided_date:Date32",
            "decided_by:LargeUtf8",
            "assignee:LargeUtf8",
            "last_comment:LargeUtf8",
            "evidence_a:Int64",
            "evidence_eb05:Float64",
        ]
    );

    // Closed as refuted at 16 cases; the other planted D008 signal has an open topic.
    let topics = vec![
        topic(1, EVENT, TopicState::Closed, Some(Outcome::Refuted)),
        TopicRecord {
            region: Some("330100".into()),
            ..topic(2, OTHER_EVENT, TopicState::Validation, None)
        },
    ];
    let s = run(&demo, topics.clone());
    let after = alerts(&s.output);
    assert!(
        after.iter().all(|a| a["alert_id"] != alert_id.as_str()),
        "a refuted signal raises no alert"
    );
    assert_eq!(after.len() + 1, before.len(), "only that alert is gone");
    let other = signal_alert(&after, OTHER_EVENT).expect("the open topic's signal");
    assert_eq!(
        (&other["status"], &other["topic_id"], &other["topic_state"]),
        (
            &Json::from("ongoing"),
            &Json::from(2),
            &Json::from("validation")
        )
    );
    assert!(other["message_en"]
        .as_str()
        .unwrap()
        .starts_with("Signal under review (topic #2, validation): "));
    // The manifest counts it, and says which topic.
    let manifest = read_json(&s.output.join("manifest.json"));
    let m = &manifest["alerts"];
    assert_eq!(m["suppressed_by_decision"], 1);
    let suppressed = &m["suppressed_alerts"][0];
    assert_eq!(suppressed["alert_id"], alert_id.as_str());
    assert_eq!(suppressed["topic_id"], 1);
    assert_eq!(suppressed["outcome"], "refuted");
    assert_eq!(suppressed["a"], 16.0);
    assert_eq!(suppressed["decided_at"], "2025-12-20");
    assert_eq!(s.alerts.suppressed_by_decision, 1);
    let said = pvwatch::summary::run_paragraph(&s, pvwatch::Lang::En);
    assert!(
        said.contains(", 0 reopened, 1 not raised by a reviewer's decision (manifest.json: alerts.suppressed_alerts)."),
        "{said}"
    );
    // The tracking log: one row per topic, typed.
    let log = read_parquet(&s.output.join("signal_log.parquet"));
    assert_eq!(log.rows.len(), 2);
    assert_eq!(log.get(0, "topic_id"), &Value::Int(1));
    assert_eq!(log.get(0, "period").str(), "2025");
    assert_eq!(log.get(0, "product_name").str(), "替雷利珠单抗注射液");
    assert_eq!(log.get(0, "state").str(), "closed");
    assert_eq!(log.get(0, "outcome").str(), "refuted");
    assert_eq!(log.get(0, "decided_date"), &Value::Date(days("2025-12-20")));
    assert_eq!(log.get(0, "evidence_a"), &Value::Int(16));
    assert!(log.get(0, "evidence_eb05").is_null());
    assert_eq!(log.get(1, "state").str(), "validation");
    assert!(log.get(1, "outcome").is_null());
    assert_eq!(log.get(1, "region_name").str(), "杭州市");
    // alerts.parquet carries the topic columns.
    let table = read_parquet(&s.output.join("alerts.parquet"));
    let row = table.row_where(&[("alert_id", other["alert_id"].as_str().unwrap())]);
    assert_eq!(table.get(row, "topic_id"), &Value::Int(2));
    assert_eq!(table.get(row, "topic_state").str(), "validation");

    // Twice the cases (a second input with a copy of each of the pair's cases): reopened.
    doubled_sample(&fx, "doubled");
    let doubled = demo_pipeline(&fx, "doubled");
    let s = run(&doubled, topics);
    let now = alerts(&s.output);
    let back = now
        .iter()
        .find(|a| a["alert_id"] == alert_id.as_str())
        .expect("the signal is raised again");
    assert_eq!(back["status"], "reopened");
    assert_eq!(back["numbers"]["a"], 32.0);
    assert_eq!(
        (&back["topic_id"], &back["topic_state"]),
        (&Json::from(1), &Json::from("closed"))
    );
    let en = back["message_en"].as_str().unwrap();
    assert!(
        en.starts_with(
            "Reopened: 替雷利珠单抗注射液 (D008) × Myocarditis was closed as refuted on 2025-12-20 by wang (topic #1); since then cases rose from 16 to 32 (≥ 2×)."
        ),
        "{en}"
    );
    let zh = back["message_zh"].as_str().unwrap();
    assert!(
        zh.contains("已于 2025-12-20 由 wang 以“排除（非信号）”结案（话题 #1）"),
        "{zh}"
    );
    let manifest = read_json(&s.output.join("manifest.json"));
    assert_eq!(manifest["alerts"]["suppressed_by_decision"], 0);
    assert_eq!(manifest["alerts"]["by_status"]["reopened"], 1);
    let said = pvwatch::summary::run_paragraph(&s, pvwatch::Lang::Zh);
    assert!(
        said.contains("，重新开启 1 条，因复核结论不再提示 0 条"),
        "{said}"
    );
    let table = read_parquet(&s.output.join("alerts.parquet"));
    let row = table.row_where(&[("alert_id", alert_id.as_str())]);
    assert_eq!(table.get(row, "status").str(), "reopened");
    assert_eq!(table.get(row, "topic_id"), &Value::Int(1));
    assert_eq!(table.get(row, "a"), &Value::Int(32));
    let csv = fs::read_to_string(s.output.join("alerts.csv")).expect("alerts.csv");
    assert!(csv.lines().any(
        |l| l.starts_with(&format!("{alert_id},new_signal,P2,reopened,"))
            || l.starts_with(&format!("{alert_id},strengthened_signal,P2,reopened,"))
    ));
    let review = fs::read_to_string(s.output.join("review.html")).expect("review.html");
    assert!(review.contains("<span class=\"badge status reopened\">reopened</span>"));
}
