use super::*;
use crate::alerts::model::Kind;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---- A bounded HTTP/1.1 server on 127.0.0.1, one request per connection. -----------

#[derive(Clone, Copy)]
enum Reply {
    /// Answer with this status and body, then close.
    Status(u16, &'static str),
    /// Read the request and never answer (the connection stays open for a while).
    Hang,
}

const OK_BODY: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Accepts one connection per reply, in order, then stops; gives up after 10 s in any
/// case. It runs on a runtime of its own, so that tests may call `deliver` from anywhere.
struct Server {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    fn start(replies: &[Reply]) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test server runtime");
        let received = Arc::new(Mutex::new(Vec::new()));
        let replies = replies.to_vec();
        let log = Arc::clone(&received);
        runtime.spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), serve(listener, replies, log)).await;
        });
        Server {
            addr,
            received,
            runtime: Some(runtime),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("server log").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never blocks, so that a test inside a runtime may drop it too.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    replies: Vec<Reply>,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    for reply in replies {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let Some(request) = read_request(&mut stream).await else {
            continue;
        };
        log.lock().expect("server log").push(request);
        match reply {
            Reply::Status(code, body) => {
                let head = format!(
                    "HTTP/1.1 {code} Whatever\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
            Reply::Hang => {
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    drop(stream);
                });
            }
        }
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

// ---- Fixtures. ------------------------------------------------------------------------

fn alert(id: &str, priority: Priority, status: Status) -> Alert {
    let mut numbers = serde_json::Map::new();
    numbers.insert("a".to_string(), serde_json::json!(5));
    numbers.insert("eb05".to_string(), serde_json::json!(2.4));
    Alert {
        product_id: Some("D001".to_string()),
        product_name: Some("注射用头孢曲松钠".to_string()),
        event: Some("过敏性休克".to_string()),
        region: Some("330000".to_string()),
        rule: "ebgm.eb05 >= 2".to_string(),
        threshold: 2.0,
        value: 2.4,
        numbers,
        message_en: format!("alert {id}: new signal for ceftriaxone and anaphylactic shock"),
        message_zh: format!("预警 {id}：注射用头孢曲松钠 与 过敏性休克 出现新信号"),
        ..Alert::example(id, Kind::NewSignal, priority, status)
    }
}

/// P0 new, P2 escalated, P1 ongoing, P3 new, P2 resolved: with P2 as the minimum, the
/// first two qualify.
fn mixed_alerts() -> Vec<Alert> {
    vec![
        alert("A", Priority::P2, Status::Escalated),
        alert("B", Priority::P0, Status::New),
        alert("C", Priority::P1, Status::Ongoing),
        alert("D", Priority::P3, Status::New),
        alert("E", Priority::P2, Status::Resolved),
    ]
}

fn target(url: &str, retries: u32) -> NotifyTarget {
    NotifyTarget {
        url: url.to_string(),
        min_priority: Priority::P2,
        lang: Lang::Zh,
        timeout: Duration::from_secs(2),
        retries,
    }
}

fn deliver_one(target: NotifyTarget, alerts: &[Alert]) -> Delivery {
    let mut d = deliver(&[target], alerts, "zj-adr", "2025-Q3");
    assert_eq!(d.len(), 1);
    d.remove(0)
}

/// A port on 127.0.0.1 with nothing listening.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}/hook")
}

// ---- Delivery. ------------------------------------------------------------------------

#[test]
fn delivers_new_and_escalated_alerts_as_one_json_post() {
    let server = Server::start(&[Reply::Status(200, OK_BODY), Reply::Status(200, OK_BODY)]);
    let alerts = mixed_alerts();
    let url = server.url("/cgi-bin/webhook/send?key=SECRET-KEY");
    let d = deliver_one(target(&url, 2), &alerts);

    assert!(d.ok, "{d:?}");
    assert_eq!(
        (d.alerts, d.attempts, d.status, d.error.as_deref()),
        (2, 1, Some(200), None)
    );
    assert!(!d.url.contains("SECRET-KEY"), "{}", d.url);
    assert!(
        d.url.ends_with("/cgi-bin/webhook/send?key=***"),
        "{}",
        d.url
    );

    let got = server.received();
    assert_eq!(got.len(), 1, "exactly one request");
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/cgi-bin/webhook/send?key=SECRET-KEY");
    assert_eq!(req.header("content-type"), Some("application/json"));

    let body = req.json();
    assert_eq!(body["msgtype"], "text");
    let content = body["text"]["content"].as_str().expect("text.content");
    assert!(
        content.contains("zj-adr") && content.contains("2025-Q3"),
        "{content}"
    );
    assert!(content.contains("P0 1 条，P1 0 条，P2 1 条"), "{content}");
    assert!(
        content.contains(&format!("[P0 新增] {}", alerts[1].message_zh)),
        "{content}"
    );
    assert!(
        content.contains(&format!("[P2 升级] {}", alerts[0].message_zh)),
        "{content}"
    );
    assert!(
        !content.contains("alert A"),
        "English message in a Chinese summary"
    );
    for excluded in ["预警 C", "预警 D", "预警 E"] {
        assert!(!content.contains(excluded), "{excluded} in {content}");
    }
    // The most urgent first.
    assert!(content.find("预警 B") < content.find("预警 A"), "{content}");

    assert_eq!(body["pvwatch"]["pipeline"], "zj-adr");
    assert_eq!(body["pvwatch"]["period"], "2025-Q3");
    let sent: Vec<Alert> = serde_json::from_value(body["pvwatch"]["alerts"].clone())
        .expect("pvwatch.alerts are full Alert objects");
    assert_eq!(sent, vec![alerts[1].clone(), alerts[0].clone()]);
}

#[test]
fn summary_is_in_the_targets_language() {
    let alerts = mixed_alerts();
    let selected = select_alerts(&alerts, Priority::P2);
    let en = summary(&selected, Lang::En, Priority::P2, "zj-adr", "2025-Q3");
    assert_eq!(
        en,
        "pvwatch alerts · pipeline zj-adr · period 2025-Q3\n\
         2 new, reopened or escalated (P2 and above): P0 1, P1 0, P2 1\n\
         [P0 new] alert B: new signal for ceftriaxone and anaphylactic shock\n\
         [P2 escalated] alert A: new signal for ceftriaxone and anaphylactic shock"
    );
    let zh = summary(&selected, Lang::Zh, Priority::P2, "zj-adr", "2025-Q3");
    assert_eq!(
        zh,
        "pvwatch 预警 · 流程 zj-adr · 期间 2025-Q3\n\
         新增、重新开启或升级 2 条（P2 及以上）：P0 1 条，P1 0 条，P2 1 条\n\
         [P0 新增] 预警 B：注射用头孢曲松钠 与 过敏性休克 出现新信号\n\
         [P2 升级] 预警 A：注射用头孢曲松钠 与 过敏性休克 出现新信号"
    );
}

#[test]
fn summary_lines_give_the_due_date_and_say_overdue() {
    let day = |s: &str| s.parse::<chrono::NaiveDate>().expect("a date");
    let alerts = vec![
        Alert {
            due_date: Some(day("2025-09-01")),
            overdue: true,
            ..alert("B", Priority::P0, Status::New)
        },
        Alert {
            due_date: Some(day("2025-10-15")),
            ..alert("A", Priority::P2, Status::Escalated)
        },
    ];
    let selected = select_alerts(&alerts, Priority::P2);
    let en = summary(&selected, Lang::En, Priority::P2, "zj-adr", "2025-Q3");
    assert!(
        en.ends_with(
            "\n[P0 new, due 2025-09-01, overdue] alert B: new signal for ceftriaxone and anaphylactic shock\n\
             [P2 escalated, due 2025-10-15] alert A: new signal for ceftriaxone and anaphylactic shock"
        ),
        "{en}"
    );
    let zh = summary(&selected, Lang::Zh, Priority::P2, "zj-adr", "2025-Q3");
    assert!(
        zh.ends_with(
            "\n[P0 新增，截止 2025-09-01，已逾期] 预警 B：注射用头孢曲松钠 与 过敏性休克 出现新信号\n\
             [P2 升级，截止 2025-10-15] 预警 A：注射用头孢曲松钠 与 过敏性休克 出现新信号"
        ),
        "{zh}"
    );
}

#[test]
fn summary_fits_wecom_limit_and_counts_what_it_leaves_out() {
    let alerts: Vec<Alert> = (0..200)
        .map(|i| {
            let mut a = alert(&format!("X{i:03}"), Priority::P1, Status::New);
            a.message_zh = format!("{}\n第二行", a.message_zh.repeat(3));
            a
        })
        .collect();
    let selected = select_alerts(&alerts, Priority::P3);
    for lang in [Lang::En, Lang::Zh] {
        let s = summary(&selected, lang, Priority::P3, "zj-adr", "2025-Q3");
        assert!(s.len() <= MAX_CONTENT_BYTES, "{} bytes", s.len());
        let lines = s.lines().count();
        let shown = lines - 3; // head, counts, "… more"
        let tail = s.lines().last().expect("a last line");
        assert!(tail.contains(&(200 - shown).to_string()), "{tail}");
        assert!(tail.contains("alerts.jsonl"), "{tail}");
    }
}

#[test]
fn retries_after_500_then_succeeds() {
    let server = Server::start(&[Reply::Status(500, "oops"), Reply::Status(200, OK_BODY)]);
    let d = deliver_one(target(&server.url("/hook"), 3), &mixed_alerts());
    assert!(d.ok, "{d:?}");
    assert_eq!((d.attempts, d.status, d.error), (2, Some(200), None));
    assert!(
        d.elapsed_ms >= 500,
        "waited {} ms before the retry",
        d.elapsed_ms
    );
    assert_eq!(server.received().len(), 2);
}

#[test]
fn retries_after_429() {
    let server = Server::start(&[Reply::Status(429, ""), Reply::Status(200, OK_BODY)]);
    let d = deliver_one(target(&server.url("/hook"), 1), &mixed_alerts());
    assert!(d.ok, "{d:?}");
    assert_eq!(d.attempts, 2);
}

#[test]
fn gives_up_after_retries_on_persistent_500() {
    let server = Server::start(&[Reply::Status(500, "upstream down"); 4]);
    let d = deliver_one(target(&server.url("/hook"), 2), &mixed_alerts());
    assert!(!d.ok);
    assert_eq!((d.attempts, d.status), (3, Some(500)));
    let error = d.error.expect("an error");
    assert_eq!(
        error,
        "server answered HTTP 500 Internal Server Error: upstream down"
    );
    assert!(
        d.elapsed_ms >= 1500,
        "0.5 s + 1 s of backoff, got {} ms",
        d.elapsed_ms
    );
    assert_eq!(server.received().len(), 3);
}

#[test]
fn client_error_is_not_retried() {
    let server = Server::start(&[Reply::Status(400, "bad"), Reply::Status(200, OK_BODY)]);
    let d = deliver_one(target(&server.url("/hook"), 3), &mixed_alerts());
    assert!(!d.ok);
    assert_eq!((d.attempts, d.status), (1, Some(400)));
    assert!(d.error.expect("an error").contains("HTTP 400"));
    assert_eq!(server.received().len(), 1);
}

#[test]
fn robot_errcode_is_a_failure_and_not_retried() {
    let refusal = r#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1] more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}"#;
    let server = Server::start(&[Reply::Status(200, refusal), Reply::Status(200, OK_BODY)]);
    let d = deliver_one(target(&server.url("/hook"), 3), &mixed_alerts());
    assert!(!d.ok);
    assert_eq!((d.attempts, d.status), (1, Some(200)));
    let error = d.error.expect("an error");
    assert!(
        error.starts_with("robot refused the message: errcode 93000, errmsg `invalid webhook url"),
        "{error}"
    );
}

#[test]
fn times_out_when_the_server_never_answers() {
    let server = Server::start(&[Reply::Hang; 3]);
    let mut t = target(&server.url("/hook"), 1);
    t.timeout = Duration::from_millis(200);
    let d = deliver_one(t, &mixed_alerts());
    assert!(!d.ok);
    assert_eq!((d.attempts, d.status), (2, None));
    assert_eq!(d.error.as_deref(), Some("no answer within 200 ms"));
    // 200 ms + 500 ms of backoff + 200 ms, with room for a slow machine.
    assert!((850..3000).contains(&d.elapsed_ms), "{} ms", d.elapsed_ms);
    assert_eq!(server.received().len(), 2);
}

#[test]
fn refused_connection_fails_that_target_only() {
    let server = Server::start(&[Reply::Status(200, OK_BODY)]);
    let refused = closed_port_url();
    let targets = [target(&refused, 1), target(&server.url("/hook"), 1)];
    let d = deliver(&targets, &mixed_alerts(), "zj-adr", "2025-Q3");
    assert_eq!(d.len(), 2);
    assert!(!d[0].ok);
    assert_eq!((d[0].attempts, d[0].status, d[0].alerts), (2, None, 2));
    let error = d[0].error.as_deref().expect("an error");
    assert!(error.starts_with("error sending request: "), "{error}");
    assert!(error.contains("Connection refused"), "{error}");
    assert!(d[1].ok, "{:?}", d[1]);
    assert_eq!(d[0].url, refused);
}

#[test]
fn sends_nothing_without_qualifying_alerts() {
    let server = Server::start(&[Reply::Status(200, OK_BODY)]);
    let alerts = vec![
        alert("C", Priority::P0, Status::Ongoing),
        alert("D", Priority::P3, Status::New),
        alert("E", Priority::P1, Status::Resolved),
    ];
    let d = deliver_one(target(&server.url("/hook"), 3), &alerts);
    assert!(d.ok);
    assert_eq!(
        (d.alerts, d.attempts, d.status, d.error),
        (0, 0, None, None)
    );
    assert!(server.received().is_empty());
    // Nor is the environment read for a target that has nothing to send.
    let d = deliver_one(target("env:PVWATCH_TEST_SURELY_UNSET_4F2A", 0), &alerts);
    assert!(d.ok && d.attempts == 0);
}

#[test]
fn env_url_is_read_at_delivery_time() {
    let server = Server::start(&[Reply::Status(200, OK_BODY)]);
    let secret = server.url("/cgi-bin/webhook/send?key=FROM-ENV");
    let env = |name: &str| (name == "PVWATCH_WECOM_URL").then(|| format!("{secret}\n"));
    let t = target("env:PVWATCH_WECOM_URL", 0);
    let d = deliver_with(&[t], &mixed_alerts(), "zj-adr", "2025-Q3", &env).remove(0);
    assert!(d.ok, "{d:?}");
    assert_eq!(d.url, "env:PVWATCH_WECOM_URL");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/cgi-bin/webhook/send?key=FROM-ENV");

    let empty = |_: &str| Some(" ".to_string());
    let t = target("env:PVWATCH_WECOM_URL", 0);
    let d = deliver_with(&[t], &mixed_alerts(), "zj-adr", "2025-Q3", &empty).remove(0);
    assert!(!d.ok);
    assert_eq!(
        d.error.as_deref(),
        Some("environment variable `PVWATCH_WECOM_URL` (webhook url `env:PVWATCH_WECOM_URL`) is empty")
    );
}

#[test]
fn missing_env_variable_is_a_failed_delivery() {
    // The real process environment, which no test changes.
    let d = deliver_one(
        target("env:PVWATCH_TEST_SURELY_UNSET_4F2A", 3),
        &mixed_alerts(),
    );
    assert!(!d.ok);
    assert_eq!((d.alerts, d.attempts, d.status), (2, 0, None));
    assert_eq!(d.url, "env:PVWATCH_TEST_SURELY_UNSET_4F2A");
    assert_eq!(
        d.error.as_deref(),
        Some("environment variable `PVWATCH_TEST_SURELY_UNSET_4F2A` (webhook url `env:PVWATCH_TEST_SURELY_UNSET_4F2A`) is not set")
    );
}

#[test]
fn invalid_urls_fail_without_a_request() {
    for (url, expected) in [
        ("ftp://example.com/hook", "webhook url `ftp://example.com/hook` is not a valid http or https url: expected scheme `http` or `https`, found `ftp`"),
        ("qyapi.weixin.qq.com/send?key=SECRET", "webhook url `qyapi.weixin.qq.com/send…` is not a valid http or https url: relative URL without a base"),
    ] {
        let d = deliver_one(target(url, 3), &mixed_alerts());
        assert!(!d.ok);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.error.as_deref(), Some(expected));
    }
}

#[test]
fn display_url_hides_secrets() {
    let shown = |url: &str| target(url, 0).display_url();
    assert_eq!(
        shown("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
    );
    assert_eq!(
        shown("https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=xyz"),
        "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=***&sign=***"
    );
    assert_eq!(
        shown("https://user:pw@example.com/h#frag"),
        "https://example.com/h"
    );
    assert_eq!(shown("env:WECOM_URL"), "env:WECOM_URL");
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let ms: Vec<u128> = [1, 2, 3, 4, 5, 6, 40, u32::MAX]
        .map(|n| backoff(n).as_millis())
        .to_vec();
    assert_eq!(ms, vec![500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
}

/// `deliver` blocks; called from async code it must neither panic nor stall.
#[tokio::test]
async fn works_from_inside_a_runtime() {
    let server = Server::start(&[Reply::Status(200, OK_BODY)]);
    let d = deliver_one(target(&server.url("/hook"), 0), &mixed_alerts());
    assert!(d.ok, "{d:?}");
}

#[test]
fn reopened_alerts_are_sent_with_their_topic() {
    let mut reopened = alert("R", Priority::P2, Status::Reopened);
    reopened.topic_id = Some(7);
    reopened.topic_state = Some("closed".into());
    let alerts = vec![
        reopened,
        alert("O", Priority::P2, Status::Ongoing),
        alert("X", Priority::P2, Status::Resolved),
    ];
    let selected = select_alerts(&alerts, Priority::P2);
    let ids: Vec<&str> = selected.iter().map(|a| a.alert_id.as_str()).collect();
    assert_eq!(ids, ["R"]);
    let zh = summary(&selected, Lang::Zh, Priority::P2, "zj-adr", "2025-Q3");
    assert!(zh.contains("[P2 重新开启]"), "{zh}");
    // The payload carries the full alert, the topic included.
    let body = serde_json::to_value(selected[0]).expect("json");
    assert_eq!(
        (body["topic_id"].clone(), body["topic_state"].clone()),
        (serde_json::json!(7), serde_json::json!("closed"))
    );
}
