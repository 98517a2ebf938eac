//! The review app in a real browser: Debian's Chromium driven over WebDriver
//! (`chromedriver`, `fantoccini`) against the real `pvwatch serve` binary, as monitoring
//! staff use it: log in, filter the queue by region, open a signal and its case series,
//! record a decision with a comment, see it in the history; then the next period's batch
//! runs and the queue shows the alert's topic state.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use pvwatch::review_db::{ReviewDb, Role};

use super::PASSWORD;
use crate::util::*;

/// A child process killed when dropped (the server, the driver).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> &'static str {
    for c in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if std::path::Path::new(c).exists() {
            return c;
        }
    }
    panic!(
        "ChromeDriver is needed for this test: `apt-get install chromium chromium-driver` (.ci/run does)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `pvwatch serve` on a free port; its address from the first line it prints.
fn serve(pipeline: &str) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pvwatch"))
        .args(["serve", pipeline, "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pvwatch serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_string();
    (Killed(child), format!("http://{addr}"))
}

/// ChromeDriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Killed, Client) {
    let port = free_port();
    let driver = Killed(
        Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000",
            ],
        }),
    );
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                panic!("no WebDriver session within 30 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The first element `at` finds within 20 s (the page after a click may still be loading).
async fn wait_for(c: &Client, at: Locator<'_>) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(at)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string());
            let page = c.source().await.unwrap_or_default();
            let body = page.find("<main").map_or(page.as_str(), |i| &page[i..]);
            let body: String = body.chars().take(3000).collect();
            panic!("waiting for {at:?}: {e}; on {url:?}:\n{body}")
        }
    }
}

/// `%E6%B8%A9` → `温`: a path segment as the server reads it.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("a hex escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// Submit with the button `css` and wait until the browser is on a page whose path and
/// query contain `want` (a form posts, the server redirects, the next page loads).
async fn submit(c: &Client, css: &str, want: &str) {
    let before = c.current_url().await.unwrap().to_string();
    click(c, css).await;
    let started = Instant::now();
    loop {
        let url = c.current_url().await.unwrap();
        let here = format!("{}?{}", url.path(), url.query().unwrap_or(""));
        let ready = c
            .execute("return document.readyState", vec![])
            .await
            .unwrap();
        if url.as_str() != before && here.contains(want) && ready == "complete" {
            return;
        }
        if started.elapsed() > Duration::from_secs(20) {
            panic!("after {css}: still on {url}, waiting for `{want}`");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_records_a_decision_in_chromium_and_the_next_batch_shows_it() {
    // Q2 of the Zhejiang pipeline; Q3 is run later, after the decision.
    let fx = Fixture::with_sample_data();
    let toml = std::fs::read_to_string(repo().join("pipelines/zhejiang-quarterly.toml"))
        .unwrap()
        .replace("\"../sample-data/", &format!("\"{}/", fx.d()))
        .replace("\"../out/zhejiang-quarterly\"", "\"out\"")
        .replace("lang = \"zh\"", "lang = \"en\"");
    fx.write("z.toml", &toml);
    let p = fx.ps("z.toml");
    fx.run(&["run", &p, "--period", "2025-Q2", "--quiet"])
        .expect_ok();
    // A provincial reviewer, in the database `pvwatch serve` and the next run use.
    let db = ReviewDb::open_sqlite(&fx.p("out/pvwatch.db"))
        .await
        .unwrap();
    db.add_user("li", Role::Reviewer, Some("330000"))
        .await
        .unwrap();
    db.set_password("li", PASSWORD).await.unwrap();
    db.close().await;
    let (_server, base) = serve(&p);
    let (_driver, c) = browser().await;

    // Log in.
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    fill(&c, "input[name=name]", "li").await;
    fill(&c, "input[name=password]", PASSWORD).await;
    submit(&c, "form[action='/login'] button[type=submit]", "/?").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");

    // Filter the queue by region, by name: every row is in Wenzhou.
    fill(&c, "form.filters input[name=region]", "温州").await;
    submit(
        &c,
        "form.filters button[type=submit]",
        "region=%E6%B8%A9%E5%B7%9E",
    )
    .await;
    let rows = c
        .find_all(Locator::Css("main table tr td:nth-child(5)"))
        .await
        .unwrap();
    assert!(!rows.is_empty(), "Wenzhou has alerts in 2025-Q2");
    for r in &rows {
        assert_eq!(r.text().await.unwrap(), "温州市");
    }

    // Open a signal.
    fill(&c, "form.filters input[name=region]", "").await;
    fill(&c, "form.filters input[name=kind]", "new_signal").await;
    submit(&c, "form.filters button[type=submit]", "kind=new_signal").await;
    let link = c
        .find(Locator::Css("main table a[href^='/signals/']"))
        .await
        .expect("a signal alert links to its signal");
    let href = link.attr("href").await.unwrap().expect("a link");
    link.click().await.unwrap();
    wait_for(&c, Locator::Css("a[href^='/cases/']")).await;
    assert_eq!(c.current_url().await.unwrap().path(), href);
    // Its case series: a table of cases, each linking to the case page, with region names.
    let cases = c
        .find_all(Locator::Css("a[href^='/cases/']"))
        .await
        .unwrap();
    let title = text(&c, "h1").await;
    assert!(!cases.is_empty(), "the signal {title} has a case series");
    // Each case of the series names its region (`温州市`), not a bare code.
    let regions = c
        .find_all(Locator::XPath(
            "//tr[td/a[starts-with(@href, '/cases/')]]/td[3]",
        ))
        .await
        .unwrap();
    assert_eq!(regions.len(), cases.len());
    for r in regions {
        let name = r.text().await.unwrap();
        assert!(
            name.ends_with('市') || name.ends_with('区') || name.ends_with('县'),
            "{name}"
        );
    }

    // Open a topic, move it to validation, then record `validated` with a comment.
    fill(
        &c,
        "form[action='/topics'] textarea[name=comment]",
        "opened in the browser",
    )
    .await;
    click(&c, "form[action='/topics'] button[type=submit]").await;
    let transition = "form[action$='/transition']";
    let option = |to: &str| format!("{transition} select[name=to] option[value={to}]");
    wait_for(&c, Locator::Css(&option("validation")))
        .await
        .click()
        .await
        .unwrap();
    click(&c, &format!("{transition} button[type=submit]")).await;
    wait_for(&c, Locator::Css(&option("validated")))
        .await
        .click()
        .await
        .unwrap();
    let comment = "confirmed: well-documented cases with a plausible time to onset";
    fill(&c, &format!("{transition} textarea[name=comment]"), comment).await;
    click(&c, &format!("{transition} button[type=submit]")).await;
    let recorded = format!("//td[contains(., '{comment}')]");
    wait_for(&c, Locator::XPath(&recorded)).await;
    let page = c.source().await.unwrap();
    assert!(
        page.contains("validation → validated"),
        "the history shows the transition"
    );
    assert!(page.contains(">li<"), "the history names the reviewer");
    if let Ok(dir) = std::env::var("PVWATCH_TEST_SCREENSHOTS") {
        std::fs::write(
            format!("{dir}/browser-signal.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }

    // The next period's batch reads the decision: its alert carries the topic's state, and
    // the queue shows it.
    fx.run(&["run", &p, "--period", "2025-Q3", "--quiet"])
        .expect_ok();
    let parts: Vec<String> = href
        .trim_start_matches("/signals/")
        .split('/')
        .map(percent_decode)
        .collect();
    let q3: Vec<serde_json::Value> =
        std::fs::read_to_string(period_dir(&fx.p("out"), "2025-Q3").join("alerts.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let alert = q3
        .iter()
        .find(|a| {
            a["kind"] == "new_signal"
                && a["class"] == parts[0].as_str()
                && a["product_id"] == parts[1].as_str()
                && a["event"] == parts[2].as_str()
        })
        .unwrap_or_else(|| panic!("2025-Q3 has the signal alert of {href}"));
    assert_eq!(alert["topic_state"], "validated", "{alert}");
    let id = alert["topic_id"].as_i64().expect("a topic id");
    // The server looks at the output folder at most every 2 s: the new period appears on a
    // reload within that, as it does for a user.
    let queue = format!(
        "{base}/?period=2025-Q3&kind=new_signal&product={}",
        parts[1]
    );
    let shown = std::time::Instant::now();
    loop {
        c.goto(&queue).await.unwrap();
        let page = c.source().await.unwrap();
        if !page.contains("period `2025-Q3`") || shown.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let topic_cell = format!("//tr[.//a[@href='{href}']]/td[9]");
    let cell = wait_for(&c, Locator::XPath(&topic_cell)).await;
    assert_eq!(cell.text().await.unwrap(), format!("#{id} validated"));
    if let Ok(dir) = std::env::var("PVWATCH_TEST_SCREENSHOTS") {
        std::fs::write(
            format!("{dir}/browser-queue.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    c.close().await.unwrap();
}
