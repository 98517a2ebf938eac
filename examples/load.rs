//! The review app under load: many concurrent browser sessions against a real
//! `pvwatch serve` on 127.0.0.1, over the 1m benchmark run (README, "Performance").
//!
//!     scripts/load                                   # 50 sessions for 30 s on the 1m run
//!     scripts/load --sessions 20 --seconds 10 --size 100k
//!
//! It runs `pvwatch run` on the benchmark set of that size when its outputs are missing
//! (generate the set first with `scripts/bench --sizes 1m`), adds a viewer `load` to the
//! run's review database, starts `pvwatch serve` on a free local port, and logs in one
//! session per simulated user (form login, session cookie, as a browser does). Each
//! session then browses as monitoring staff do, one request after another with no pause:
//! the queue (its first page, a page of one priority, a page sorted by due date), and the
//! detail page of a signal alert (statistics by period and the case series). It prints the
//! number of requests, the errors (any status but 200, or a failed connection) and the
//! p50, p90, p99 and largest latency, for the queue, the signal pages and all together.
//! No goal is asserted: it is a measurement, not a test.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use tokio::sync::Mutex;

struct Args {
    sessions: usize,
    seconds: u64,
    size: String,
    data: PathBuf,
    pvwatch: PathBuf,
}

fn args() -> Result<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        sessions: 50,
        seconds: 30,
        size: "1m".into(),
        data: root.join("target/bench-data"),
        pvwatch: root.join("target/release/pvwatch"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sessions" => a.sessions = value()?.parse().context("--sessions")?,
            "--seconds" => a.seconds = value()?.parse().context("--seconds")?,
            "--size" => a.size = value()?.clone(),
            "--data" => a.data = PathBuf::from(value()?),
            "--pvwatch" => a.pvwatch = PathBuf::from(value()?),
            other => bail!(
                "unknown option `{other}` (expected --sessions N, --seconds S, --size 1m, --data DIR, --pvwatch BIN)"
            ),
        }
    }
    if a.sessions == 0 || a.seconds == 0 {
        bail!("--sessions and --seconds must be at least 1");
    }
    Ok(a)
}

/// `pvwatch serve`, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pvwatch(a: &Args, dir: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new(&a.pvwatch)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", a.pvwatch.display()))?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(text.as_bytes())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "pvwatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Latencies in milliseconds and errors of one kind of request.
#[derive(Default)]
struct Tally {
    ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, ms: f64, error: Option<String>) {
        self.ms.push(ms);
        if let Some(e) = error {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }

    fn line(&mut self, what: &str, seconds: f64) -> String {
        self.ms.sort_by(f64::total_cmp);
        let q = |p: f64| -> f64 {
            if self.ms.is_empty() {
                return f64::NAN;
            }
            let i = ((p * self.ms.len() as f64).ceil() as usize).clamp(1, self.ms.len()) - 1;
            self.ms[i]
        };
        format!(
            "| {what} | {} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            self.ms.len(),
            self.ms.len() as f64 / seconds,
            self.errors,
            q(0.50),
            q(0.90),
            q(0.99),
            self.ms.last().copied().unwrap_or(f64::NAN)
        )
    }
}

async fn timed(client: &reqwest::Client, url: &str, cookie: &str) -> (f64, Option<String>) {
    let started = Instant::now();
    let res = client
        .get(url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await;
    let outcome = match res {
        Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
            Ok(_) => None,
            Err(e) => Some(format!("{url}: reading the body: {e}")),
        },
        Ok(r) => Some(format!("{url}: status {}", r.status())),
        Err(e) => Some(format!("{url}: {e}")),
    };
    (started.elapsed().as_secs_f64() * 1e3, outcome)
}

/// Log in with the form, as a browser does; the session cookie.
async fn login(client: &reqwest::Client, base: &str, password: &str) -> Result<String> {
    let res = client
        .post(format!("{base}/login"))
        .form(&[("name", "load"), ("password", password)])
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("login answered {}", res.status());
    }
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pvwatch_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?;
    Ok(cookie.to_string())
}

/// Signal pages to visit: `/signals/{class}/{product}/{event}` of the run's signal alerts.
async fn signal_paths(client: &reqwest::Client, base: &str, cookie: &str) -> Result<Vec<String>> {
    let text = client
        .get(format!("{base}/api/alerts?kind=new_signal&limit=200"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let mut paths = Vec::new();
    for a in v["alerts"].as_array().context("alerts")? {
        let part = |k: &str| {
            a[k].as_str()
                .map(|s| {
                    s.bytes()
                        .map(|b| {
                            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                                (b as char).to_string()
                            } else {
                                format!("%{b:02X}")
                            }
                        })
                        .collect::<String>()
                })
                .unwrap_or_default()
        };
        paths.push(format!(
            "/signals/{}/{}/{}",
            part("class"),
            part("product_id"),
            part("event")
        ));
    }
    if paths.is_empty() {
        bail!("the run has no new_signal alert to visit");
    }
    Ok(paths)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let a = args()?;
    let dir = a.data.join(&a.size);
    let pipeline = "bench.toml";
    if !dir.join(pipeline).exists() {
        bail!(
            "no benchmark set in {} (make it with `scripts/bench --sizes {}`)",
            dir.display(),
            a.size
        );
    }
    if !dir.join("out/period=2025/alerts.parquet").exists() {
        eprintln!("== pvwatch run on the {} set", a.size);
        pvwatch(&a, &dir, &["run", pipeline, "--quiet"], None)?;
    }
    let password = "load-test-password-1";
    if !pvwatch(&a, &dir, &["user", "list", pipeline], None)?
        .lines()
        .any(|l| l.split_whitespace().next() == Some("load"))
    {
        pvwatch(
            &a,
            &dir,
            &["user", "add", pipeline, "load", "--role", "viewer"],
            None,
        )?;
    }
    pvwatch(
        &a,
        &dir,
        &["user", "passwd", pipeline, "load"],
        Some(&format!("{password}\n")),
    )?;

    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}");
    let _server = Server(
        Command::new(&a.pvwatch)
            .args(["serve", pipeline, "--addr", &addr])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting pvwatch serve")?,
    );
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(a.sessions)
        .build()?;
    let up = Instant::now();
    while client.get(format!("{base}/login")).send().await.is_err() {
        if up.elapsed() > Duration::from_secs(60) {
            bail!("pvwatch serve did not answer on {addr} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("== serving on {addr}; logging in {} sessions", a.sessions);
    let mut cookies = Vec::new();
    for _ in 0..a.sessions {
        cookies.push(login(&client, &base, password).await?);
    }
    let signals = Arc::new(signal_paths(&client, &base, &cookies[0]).await?);
    // Warm: the first case-series request of a period reads its case table.
    let (warm, _) = timed(&client, &format!("{base}{}", signals[0]), &cookies[0]).await;
    eprintln!("== first signal page (reads the case table): {warm:.0} ms");

    let queue = Arc::new(Mutex::new(Tally::default()));
    let signal = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let queue_pages = [
        "/",
        "/?priority=P2",
        "/?sort=due_date",
        "/?status=new&priority=P0",
    ];
    let mut tasks = Vec::new();
    for (i, cookie) in cookies.into_iter().enumerate() {
        let (client, base) = (client.clone(), base.clone());
        let (queue, signal, signals) = (queue.clone(), signal.clone(), signals.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = i;
            while Instant::now() < deadline {
                let path = queue_pages[n % queue_pages.len()];
                let (ms, e) = timed(&client, &format!("{base}{path}"), &cookie).await;
                queue.lock().await.add(ms, e);
                let path = &signals[(n * 7919) % signals.len()];
                let (ms, e) = timed(&client, &format!("{base}{path}"), &cookie).await;
                signal.lock().await.add(ms, e);
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = a.seconds as f64;
    let mut q = Arc::try_unwrap(queue)
        .ok()
        .context("queue tally")?
        .into_inner();
    let mut s = Arc::try_unwrap(signal)
        .ok()
        .context("signal tally")?
        .into_inner();
    let mut all = Tally::default();
    for t in [&q, &s] {
        all.ms.extend(&t.ms);
        all.errors += t.errors;
    }
    println!(
        "{} sessions for {} s against pvwatch serve ({} set, {} signal pages)\n",
        a.sessions,
        a.seconds,
        a.size,
        signals.len()
    );
    println!("| pages | requests | per second | errors | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!("{}", q.line("queue", secs));
    println!("{}", s.line("signal detail", secs));
    println!("{}", all.line("all", secs));
    for e in [q.first_error.take(), s.first_error.take()]
        .into_iter()
        .flatten()
    {
        println!("\nfirst error: {e}");
    }
    Ok(())
}
