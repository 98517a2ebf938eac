//! The real `pvwatch serve` killed with SIGKILL and restarted.

use pvwatch::review_db::ReviewDb;
use serde_json::{json, Value};

use super::*;

/// The real binary: a decision over HTTP, SIGKILL, a restart: the decision and its audit
/// rows are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_survives_sigkill_and_restart() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (fx, out) = runs();
    let dir = tempfile::tempdir().unwrap();
    // A pipeline of its own whose output folder is the shared runs, with its own database.
    let toml = std::fs::read_to_string(fx.p("z.toml")).unwrap().replace(
        "output_dir = \"out\"",
        &format!("output_dir = \"{}\"", out.display()),
    );
    let toml = format!(
        "{toml}\n[review]\ndatabase_url = \"sqlite:{}/restart.db?mode=rwc\"\n",
        dir.path().display()
    );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, toml).unwrap();
    let p = pipeline.to_str().unwrap();
    pvwatch(dir.path(), &["user", "add", p, "rev", "--role", "reviewer"]).expect_ok();
    let token = pvwatch(dir.path(), &["user", "token", p, "rev", "--quiet"]).stdout;
    let token = token
        .lines()
        .find(|l| l.starts_with("pvw_"))
        .expect("a token")
        .trim()
        .to_string();

    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pvwatch"))
            .args(["serve", p, "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_string();
        (child, format!("http://{addr}"))
    };
    let client = reqwest::Client::new();
    let (mut child, base) = start();
    let t: Value = client
        .post(format!("{base}/api/topics"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"class": "drug", "product_id": "D011", "event": "Diarrhoea"}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|b| serde_json::from_str(&b).unwrap())
        .unwrap();
    let id = t["id"].as_i64().expect("a topic");
    let r = client
        .post(format!("{base}/api/topics/{id}/transitions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"to": "validation", "version": 1, "comment": "before the crash"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, base) = start();
    let t: Value = client
        .get(format!("{base}/api/topics/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|b| serde_json::from_str(&b).unwrap())
        .unwrap();
    // SIGTERM stops it cleanly: exit 0.
    // SAFETY: a plain kill(2) of our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(t["state"], "validation");
    let h = t["history"].as_array().unwrap();
    assert_eq!(h.len(), 2, "{t}");
    assert_eq!(h[1]["comment"], "before the crash");
    assert_eq!(h[1]["user"], "rev");
    // And read directly from the file.
    let db = ReviewDb::open_sqlite(&dir.path().join("restart.db"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM topic_events WHERE topic_id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 2);
}
