//! The review page as a person gets it (rendered by headless Chromium), and webhook
//! delivery from a real run to a server the test starts on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::util::*;

/// Debian's Chromium, installed by `.ci/run`. The test fails (it does not skip) when it
/// is missing, so that CI cannot pass without looking at the page.
fn chromium() -> &'static str {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c;
        }
    }
    panic!("headless Chromium is needed for this test: `apt-get install chromium` (.ci/run does)");
}

/// The DOM after Chromium has loaded and laid out the page (offline: no network at all).
fn rendered_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().expect("a profile folder");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

fn demo_two_periods(lang: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("a temporary folder");
    let demo = repo().join("pipelines/demo.toml");
    for period in ["2024", "2025"] {
        pvwatch(
            &repo(),
            &[
                "run",
                demo.to_str().expect("UTF-8 path"),
                "--period",
                period,
                "--lang",
                lang,
                "--out",
                out.path().to_str().expect("UTF-8 path"),
            ],
        )
        .expect_ok();
    }
    out
}

#[test]
fn review_page_renders_offline_with_every_section_in_chinese_and_english() {
    // Every kind of alert the demo raises is on the page, by its label in the page's
    // language (`Kind::label_zh` / `Kind::label_en`).
    for (lang, title, alert_kinds) in [
        (
            "zh",
            "信号与预警复核",
            [
                "疑似群体不良事件",
                "死亡病例",
                "严重/新的病例",
                "新信号",
                "信号增强",
                "报告率未达标",
                "哨点医院报告质量未达标",
            ],
        ),
        (
            "en",
            "Pharmacovigilance review",
            [
                "possible cluster",
                "fatal report",
                "serious or new report",
                "new signal",
                "strengthened signal",
                "reporting rate below target",
                "sentinel report quality below target",
            ],
        ),
    ] {
        let out = demo_two_periods(lang);
        let page = out.path().join("period=2025/review.html");
        let html = std::fs::read_to_string(&page).expect("review.html is written");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "self-contained"
        );
        assert!(
            !html.contains("<script"),
            "no script needed to read the page"
        );
        let dom = rendered_dom(&page);
        for id in [
            "summary",
            "alerts",
            "attainment",
            "signals",
            "screening",
            "changes",
            "quality",
        ] {
            assert!(
                dom.contains(&format!("<section id=\"{id}\"")),
                "{lang}: section {id}"
            );
        }
        assert!(dom.contains(title), "{lang}: title");
        for kind in alert_kinds {
            assert!(
                dom.to_lowercase().contains(&kind.to_lowercase()),
                "{lang}: {kind}"
            );
        }
        // The planted cluster and signal reach the page, with their numbers.
        assert!(dom.contains("B250611"), "{lang}: the planted batch cluster");
        // Every class of the demo has fewer pairs than `min_pairs` (500), and so do all
        // of them pooled: the page says each class's EBGM rests on the fixed prior.
        let (heading, fixed) = if lang == "zh" {
            ("各类别 EBGM 先验", "EBGM 使用固定先验")
        } else {
            ("EBGM prior by class", "EBGM uses the fixed prior")
        };
        assert!(html.contains(heading), "{lang}: the priors note");
        assert_eq!(html.matches(fixed).count(), 3, "{lang}: one line per class");
        assert!(
            dom.contains("替雷利珠单抗注射液") && dom.contains("Myocarditis"),
            "{lang}"
        );
        // Charts are inline SVG.
        assert!(
            dom.matches("<svg").count() >= 2,
            "{lang}: attainment chart and forest plot"
        );
    }
}

/// A bounded HTTP server on 127.0.0.1: answers `statuses` in turn, one per connection,
/// and sends each request body back through the channel.
fn server(statuses: Vec<u16>) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!(
        "http://{}/robot/send?key=secret",
        listener.local_addr().expect("addr")
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for status in statuses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok();
            tx.send(String::from_utf8_lossy(&body).into_owned()).ok();
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 27\r\nconnection: close\r\n\r\n{{\"errcode\":0,\"errmsg\":\"ok\"}}");
            stream.write_all(reply.as_bytes()).ok();
        }
    });
    (url, rx)
}

fn webhook_fixture(url: &str) -> Fixture {
    let fx = Fixture::new();
    // R0001 is fatal on a watched (innovative) product: a P0 alert to deliver.
    fx.write(
        "reports.csv",
        "report_id,case_id,version,received_date,class,region,fatal,is_serious\n\
         R0001,C1,1,2025-02-01,drug,330100,true,true\n\
         R0002,C2,1,2025-02-02,drug,330100,false,false\n",
    );
    fx.write(
        "products.csv",
        "product_id,name,class,innovative\nD001,替雷利珠单抗注射液,drug,true\n",
    );
    fx.pipeline(
        "",
        &format!("[[notify]]\nurl = \"{url}\"\nmin_priority = \"P0\"\nlang = \"zh\"\ntimeout_seconds = 2\nretries = 1\n"),
    );
    fx
}

#[test]
fn new_alerts_are_posted_to_the_webhook_and_recorded_in_the_manifest() {
    let (url, bodies) = server(vec![200]);
    let fx = webhook_fixture(&url);
    fx.run_pipeline(&[]).expect_ok();
    let body: serde_json::Value = serde_json::from_str(
        &bodies
            .recv_timeout(Duration::from_secs(10))
            .expect("a POST"),
    )
    .expect("a JSON body");
    assert_eq!(body["msgtype"], "text");
    let content = body["text"]["content"].as_str().expect("a text summary");
    assert!(content.contains("死亡病例"), "{content}");
    let alerts = body["pvwatch"]["alerts"]
        .as_array()
        .expect("structured alerts");
    assert_eq!(alerts.len(), 1, "only P0 and above: {alerts:?}");
    assert_eq!(alerts[0]["kind"], "fatal_report");
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let d = &manifest["notify"][0];
    assert_eq!(
        (
            d["ok"].as_bool(),
            d["alerts"].as_u64(),
            d["attempts"].as_u64()
        ),
        (Some(true), Some(1), Some(1))
    );
    assert!(
        !d["url"].as_str().unwrap_or("").contains("secret"),
        "the robot key is not recorded: {d}"
    );
}

#[test]
fn a_failed_delivery_keeps_the_outputs_and_exits_0() {
    let (url, _bodies) = server(vec![500, 500]);
    let fx = webhook_fixture(&url);
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    for f in [
        "rates.parquet",
        "signals.parquet",
        "alerts.jsonl",
        "review.html",
        "manifest.json",
    ] {
        assert!(
            fx.p("out/period=2025").join(f).is_file(),
            "{f} is published"
        );
    }
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let d = &manifest["notify"][0];
    assert_eq!(
        (d["ok"].as_bool(), d["attempts"].as_u64()),
        (Some(false), Some(2)),
        "{d}"
    );
    assert!(d["error"].as_str().unwrap_or("").contains("500"), "{d}");
    assert!(
        r.stderr.contains("WARN"),
        "the failure is logged: {}",
        r.stderr
    );
}
