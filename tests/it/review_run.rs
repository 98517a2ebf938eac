//! `pvwatch run` reads the review database (issue 20, item 4) through the real binary: a
//! reviewer added with `pvwatch user add`, a topic on the demo's planted signal closed as
//! refuted with the evidence of the run's `signals.parquet` (through the `ReviewDb` API, as
//! the review app does), then: rerun → no alert, counted as suppressed, the topic in
//! `signal_log.parquet`; cases doubled → `reopened`, naming the decision, its date and
//! reviewer. On SQLite (the default file, which a run never creates) and, when
//! `PVWATCH_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database named by
//! `[review] database_url = "env:…"`. Also: a database that cannot be reached is an error
//! and publishes nothing; `--no-decisions` says so in the manifest.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use pvwatch::review_db::{NewTopic, Outcome, ReviewDb, State, Transition};
use serde_json::Value as Json;

use crate::decisions::doubled_sample;
use crate::util::{pvwatch_env, read_json, read_parquet, repo, Fixture, Value};

const PRODUCT: &str = "D008";
const EVENT: &str = "Myocarditis";
/// The variable that the PostgreSQL pipeline names (`env:…`), set for the child only.
const DB_VAR: &str = "PVWATCH_IT_REVIEW_DB";

/// The demo pipeline over the tables in `dir`, writing to `out` beside it, as `file`;
/// `review` is appended (a `[review]` table, or nothing).
fn write_pipeline(fx: &Fixture, file: &str, dir: &str, review: &str) {
    let text = fs::read_to_string(repo().join("pipelines/demo.toml"))
        .expect("demo.toml")
        .replace("\"../sample-data/", &format!("\"{dir}/"))
        .replace("\"../out/demo\"", "\"out\"");
    fx.write(file, &format!("{text}\n{review}"));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn alerts(dir: &Path) -> Vec<Json> {
    fs::read_to_string(dir.join("alerts.jsonl"))
        .expect("alerts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON alert"))
        .collect()
}

fn signal_alert(alerts: &[Json]) -> Option<&Json> {
    alerts.iter().find(|a| {
        a["product_id"] == PRODUCT
            && a["event"] == EVENT
            && matches!(
                a["kind"].as_str(),
                Some("new_signal" | "strengthened_signal")
            )
    })
}

/// The database the binary uses, as the test opens it.
enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    async fn open(&self) -> ReviewDb {
        match self {
            Target::Sqlite(path) => ReviewDb::open_sqlite(path).await,
            Target::Postgres(url) => ReviewDb::connect(url).await,
        }
        .expect("the review database opens")
    }

    fn backend(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres(_) => "postgres",
        }
    }
}

/// The whole loop on `target`, with `review` in the pipeline and `env` given to every child.
fn refuted_then_reopened(fx: &Fixture, review: &str, env: &[(&str, &str)], target: &Target) {
    let backend = target.backend();
    write_pipeline(fx, "demo.toml", ".", review);
    let out = fx.p("out/period=2025");
    let pv = |args: &[&str]| pvwatch_env(fx.path(), args, env);

    // First run: nothing decided yet.
    pv(&["run", "demo.toml"]).expect_ok();
    let manifest = read_json(&out.join("manifest.json"));
    let source = &manifest["review_database"];
    assert_eq!(source["backend"], backend);
    assert_eq!(source["topics_read"], 0);
    assert_eq!(source["skipped"], false);
    if backend == "sqlite" {
        // A run does not create the database.
        assert_eq!(source["found"], false);
        assert!(!fx.p("out/pvwatch.db").exists(), "a run created pvwatch.db");
        assert!(source["database"]
            .as_str()
            .unwrap()
            .ends_with("out/pvwatch.db"));
    }
    let before = alerts(&out);
    let alert = signal_alert(&before)
        .expect("the planted signal alerts")
        .clone();
    let alert_id = alert["alert_id"].as_str().unwrap().to_string();

    // The evidence of this run, read from signals.parquet.
    let signals = read_parquet(&out.join("signals.parquet"));
    let row = signals.row_where(&[("product_id", PRODUCT), ("event", EVENT)]);
    let a = signals.get(row, "a").int();
    let eb05 = match signals.get(row, "eb05") {
        Value::Float(x) => Some(*x),
        _ => None,
    };
    assert_eq!(a, 16, "the demo's planted signal (sample-data/README.md)");

    pv(&["user", "add", "demo.toml", "wang", "--role", "reviewer"]).expect_ok();
    let rt = runtime();
    let decided_at = rt.block_on(async {
        let db = target.open().await;
        let wang = db.user("wang").await.expect("the reviewer exists");
        let topic = db
            .create_topic(
                &NewTopic {
                    class: "drug".into(),
                    product_id: PRODUCT.into(),
                    event: EVENT.into(),
                    alert_id: Some(alert_id.clone()),
                    evidence_a: Some(a),
                    evidence_eb05: eb05,
                    ..NewTopic::default()
                },
                &wang,
            )
            .await
            .expect("a topic");
        let mut t = topic.row;
        for (to, outcome) in [
            (State::Validation, None),
            (State::NotValidated, None),
            (State::Closed, Some(Outcome::Refuted)),
        ] {
            t = db
                .transition_topic(
                    t.id,
                    &Transition {
                        to,
                        outcome,
                        comment: Some("合并用药可解释".into()),
                        rationale: Some("confounded by co-medication".into()),
                        version: t.version,
                        evidence_a: Some(a),
                        evidence_eb05: eb05,
                    },
                    &wang,
                )
                .await
                .expect("the transition is allowed")
                .row;
        }
        assert_eq!(t.state, State::Closed);
        db.close().await;
        t.decided_at.expect("a decision time")
    });
    // The decision's day as a reviewer in UTC+8 (the demo's ingest.timezone) saw it.
    let day = DateTime::parse_from_rfc3339(&decided_at)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        .to_string();

    // Rerun: the refuted signal raises no alert, is counted, and is in the tracking log.
    pv(&["run", "demo.toml"]).expect_ok();
    let after = alerts(&out);
    assert!(after.iter().all(|x| x["alert_id"] != alert_id.as_str()));
    assert_eq!(after.len() + 1, before.len(), "only that alert is gone");
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["review_database"]["found"], true);
    assert_eq!(manifest["review_database"]["topics_read"], 1);
    assert_eq!(manifest["review_database"]["topics_without_evidence"], 0);
    assert_eq!(manifest["alerts"]["suppressed_by_decision"], 1);
    assert_eq!(
        manifest["alerts"]["suppressed_alerts"][0]["alert_id"],
        alert_id.as_str()
    );
    let log = read_parquet(&out.join("signal_log.parquet"));
    assert_eq!(log.rows.len(), 1);
    assert_eq!(log.get(0, "product_id").str(), PRODUCT);
    assert_eq!(log.get(0, "event").str(), EVENT);
    assert_eq!(log.get(0, "state").str(), "closed");
    assert_eq!(log.get(0, "outcome").str(), "refuted");
    assert_eq!(log.get(0, "decided_by").str(), "wang");
    assert_eq!(log.get(0, "evidence_a"), &Value::Int(16));
    assert_eq!(log.get(0, "alert_id").str(), alert_id);

    // Cases doubled (a copy of each of the pair's cases): raised again as reopened.
    doubled_sample(fx, "doubled");
    write_pipeline(fx, "doubled.toml", "doubled", review);
    pv(&["run", "doubled.toml"]).expect_ok();
    let now = alerts(&out);
    let back = now
        .iter()
        .find(|x| x["alert_id"] == alert_id.as_str())
        .expect("the signal is raised again");
    assert_eq!(back["status"], "reopened");
    assert_eq!(back["numbers"]["a"], 32.0);
    assert_eq!(back["topic_state"], "closed");
    let en = back["message_en"].as_str().unwrap();
    assert!(
        en.contains(&format!(
            "was closed as refuted on {day} by wang (topic #{}); since then cases rose from 16 to 32",
            back["topic_id"]
        )),
        "{en}"
    );
    let manifest = read_json(&out.join("manifest.json"));
    assert_eq!(manifest["alerts"]["suppressed_by_decision"], 0);
    assert_eq!(manifest["alerts"]["by_status"]["reopened"], 1);
    let shown = manifest["review_database"]["database"].as_str().unwrap();
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn sqlite_refuted_signal_is_not_raised_until_its_cases_double() {
    let fx = Fixture::with_sample_data();
    let target = Target::Sqlite(fx.p("out/pvwatch.db"));
    refuted_then_reopened(&fx, "", &[], &target);
}

#[test]
fn postgres_refuted_signal_is_not_raised_until_its_cases_double() {
    let Ok(server) = std::env::var("PVWATCH_TEST_POSTGRES_URL") else {
        eprintln!("PVWATCH_TEST_POSTGRES_URL not set: the PostgreSQL run is skipped");
        return;
    };
    let url = runtime().block_on(fresh_postgres(&server));
    let fx = Fixture::with_sample_data();
    refuted_then_reopened(
        &fx,
        &format!("[review]\ndatabase_url = \"env:{DB_VAR}\"\n"),
        &[(DB_VAR, url.as_str())],
        &Target::Postgres(url.clone()),
    );
    assert!(
        !fx.p("out/pvwatch.db").exists(),
        "no SQLite file beside a PostgreSQL pipeline"
    );
}

/// A new, empty database on the server of `url`; its URL.
async fn fresh_postgres(url: &str) -> String {
    use sqlx::Connection;
    let name = format!(
        "pvwatch_it_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test server");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create the test database");
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}

#[test]
fn an_unreachable_database_fails_the_run_and_publishes_nothing() {
    let fx = Fixture::with_sample_data();
    // Port 1 on the loopback: refused at once. The password must not be printed.
    write_pipeline(
        &fx,
        "demo.toml",
        ".",
        "[review]\ndatabase_url = \"postgres://pv:s3cret@127.0.0.1:1/pv\"\n",
    );
    let run = pvwatch_env(fx.path(), &["run", "demo.toml"], &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "error: review database postgres://pv:[redacted]@127.0.0.1:1/pv: cannot connect"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret"));
    assert!(!fx.p("out/period=2025").exists(), "nothing published");

    // The variable the pipeline names is not set: a configuration error.
    write_pipeline(
        &fx,
        "env.toml",
        ".",
        &format!("[review]\ndatabase_url = \"env:{DB_VAR}\"\n"),
    );
    let run = pvwatch_env(fx.path(), &["run", "env.toml"], &[]);
    run.expect_code(2);
    assert_eq!(
        run.stderr.trim_end(),
        format!("error: review database: review.database_url = `env:{DB_VAR}`: the environment variable {DB_VAR} is not set")
    );

    // --no-decisions runs without it, and the manifest says the database was not read.
    let run = pvwatch_env(fx.path(), &["run", "demo.toml", "--no-decisions"], &[]);
    run.expect_ok();
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(manifest["review_database"]["skipped"], true);
    assert_eq!(manifest["review_database"]["backend"], "none");
    assert!(signal_alert(&alerts(&fx.p("out/period=2025"))).is_some());
}
