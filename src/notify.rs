//! Webhook delivery of new, reopened and escalated alerts to enterprise chat robots.
//!
//! Stage: after `alerts`, beside `output`. It reads [`Alert`]s, writes no file, and returns
//! one [`Delivery`] per target for the manifest. WeCom (企业微信) and DingTalk (钉钉) group
//! robots accept the JSON body that [`deliver`] posts:
//!
//! ```json
//! {"msgtype": "text",
//!  "text": {"content": "<plain-text summary in the target's language>"},
//!  "pvwatch": {"pipeline": "…", "period": "…", "alerts": [<full Alert objects>]}}
//! ```
//!
//! The robots ignore the `pvwatch` member; other receivers get every number behind each
//! alert from it.
//!
//! Invariants:
//!
//! - A target receives the alerts whose status is `new`, `reopened` or `escalated` and whose
//!   priority is at or above its `min_priority` (P0 is the highest). With none, nothing is sent.
//! - Targets are independent: they are sent concurrently, and one failing does not stop
//!   another. [`deliver`] never panics and never fails: every failure is in a [`Delivery`],
//!   so a dead chat robot never costs a run its outputs.
//! - Each attempt has the target's timeout. Connection errors, timeouts, HTTP 429 and 5xx are
//!   retried up to `retries` times, after 0.5 s, 1 s, 2 s, … (at most 8 s). Any other status,
//!   and a robot's own refusal (HTTP 200 with a non-zero `errcode`: a bad key, a keyword
//!   that does not match, the 20-messages-a-minute limit), is final.
//! - Robot keys are secrets. A target's url may be `env:NAME`: the url is then read from the
//!   environment variable `NAME` when the alerts are delivered. [`Delivery::url`], the logs
//!   and the error messages never show the resolved url, nor the values of a literal
//!   url's query (`?key=…`, `?access_token=…`), nor its user and password.
//! - The summary fits WeCom's 2048-byte limit on `text.content` ([`MAX_CONTENT_BYTES`]): the
//!   alert lines that do not fit are counted in a last line; `pvwatch.alerts` keeps them all.
//!
//! HTTPS uses rustls (ring) with the operating system's root certificates, as polars's
//! own HTTP client does, so the host needs a CA bundle (`ca-certificates`);
//! `SSL_CERT_FILE` names another one. `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` apply,
//! except to loopback addresses.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde::Serialize;

use crate::alerts::model::{Alert, Priority, Status};
use crate::config::Lang;

/// The most bytes of `text.content` that WeCom accepts (DingTalk accepts more).
pub const MAX_CONTENT_BYTES: usize = 2048;
/// The longest line of the summary for one alert, in bytes.
const MAX_LINE_BYTES: usize = 400;
/// Room kept at the end of the summary for the line that counts the alerts left out.
const TAIL_RESERVE_BYTES: usize = 96;
/// Wait before the first retry; it doubles at each retry up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// A robot answers with a few dozen bytes; more is read no further.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How much of an error response's body goes into the error message.
const MAX_ERROR_BODY_CHARS: usize = 200;
/// The prefix of a url read from an environment variable.
pub const ENV_PREFIX: &str = "env:";

/// Where to send alerts, and which ones.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyTarget {
    /// An `http://` or `https://` url, or `env:NAME` to read it from the environment.
    pub url: String,
    /// Send alerts of this priority and above (P0 is the highest).
    pub min_priority: Priority,
    /// Language of the summary.
    pub lang: Lang,
    /// Timeout of each attempt: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// Attempts after the first, on connection errors, timeouts, HTTP 429 and 5xx.
    pub retries: u32,
}

impl NotifyTarget {
    /// The url to post to: `url` itself, or for `env:NAME` the value of `NAME` now.
    /// Checks that it is an http or https url. The error never contains a secret, so
    /// `pvwatch validate` can print it.
    pub fn resolve_url(&self) -> Result<Url, NotifyError> {
        self.resolve_url_with(&|name| std::env::var(name).ok())
    }

    fn resolve_url_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Url, NotifyError> {
        let (raw, shown) = match self.url.strip_prefix(ENV_PREFIX) {
            Some(name) => {
                let value = env(name).ok_or_else(|| NotifyError::EnvMissing {
                    name: name.to_string(),
                })?;
                // A secret pasted from a file often keeps its newline.
                let value = value.trim().to_string();
                if value.is_empty() {
                    return Err(NotifyError::EnvEmpty {
                        name: name.to_string(),
                    });
                }
                (value, self.url.clone())
            }
            None => (self.url.trim().to_string(), redact_url(&self.url)),
        };
        let invalid = |reason: String| NotifyError::InvalidUrl {
            url: shown.clone(),
            reason,
        };
        let url = Url::parse(&raw).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "expected scheme `http` or `https`, found `{}`",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".to_string()));
        }
        Ok(url)
    }

    /// The url as it may be shown in logs and the manifest: `env:NAME` as written, a literal
    /// url without its user, password and query values.
    pub fn display_url(&self) -> String {
        if self.url.starts_with(ENV_PREFIX) {
            self.url.clone()
        } else {
            redact_url(&self.url)
        }
    }
}

/// What happened to one target, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    /// The target's url, as [`NotifyTarget::display_url`] shows it (no secrets).
    pub url: String,
    /// Alerts selected for the target (0: nothing was sent).
    pub alerts: usize,
    /// Requests sent (0 when nothing was selected, or the url could not be used).
    pub attempts: u32,
    pub ok: bool,
    /// HTTP status of the last answer, if there was one.
    pub status: Option<u16>,
    /// Why the delivery failed, after its last attempt.
    pub error: Option<String>,
    /// Time from the first attempt to the last answer or failure, waits included.
    pub elapsed_ms: u64,
}

/// Why a delivery, or one attempt of it, failed. The messages hold no secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotifyError {
    #[error("environment variable `{name}` (webhook url `env:{name}`) is not set")]
    EnvMissing { name: String },
    #[error("environment variable `{name}` (webhook url `env:{name}`) is empty")]
    EnvEmpty { name: String },
    #[error("webhook url `{url}` is not a valid http or https url: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error("server answered HTTP {status}{}", status_detail(.reason, .body))]
    Status {
        status: u16,
        reason: String,
        body: String,
    },
    #[error("robot refused the message: errcode {errcode}, errmsg `{errmsg}`")]
    Robot { errcode: i64, errmsg: String },
    #[error("internal error in webhook delivery: {0}")]
    Internal(String),
}

impl NotifyError {
    /// Whether another attempt may succeed: the network or the server, not the request.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Timeout(_) | NotifyError::Transport(_) => true,
            NotifyError::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            _ => false,
        }
    }
}

fn status_detail(reason: &str, body: &str) -> String {
    let mut s = String::new();
    if !reason.is_empty() {
        s.push(' ');
        s.push_str(reason);
    }
    if !body.is_empty() {
        s.push_str(": ");
        s.push_str(body);
    }
    s
}

/// Post the new and escalated alerts at or above each target's priority to that target.
///
/// Returns one [`Delivery`] per target, in the targets' order. Blocks until every target
/// succeeded or gave up; safe to call from inside a tokio runtime.
pub fn deliver(
    targets: &[NotifyTarget],
    alerts: &[Alert],
    pipeline: &str,
    period: &str,
) -> Vec<Delivery> {
    deliver_with(targets, alerts, pipeline, period, &|name| {
        std::env::var(name).ok()
    })
}

/// [`deliver`] with the environment given, so that tests need not change the process's.
fn deliver_with(
    targets: &[NotifyTarget],
    alerts: &[Alert],
    pipeline: &str,
    period: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Delivery> {
    let mut done: Vec<Option<Delivery>> = vec![None; targets.len()];
    let mut jobs = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        match prepare(target, alerts, pipeline, period, env) {
            Ok(Some(job)) => jobs.push((i, job)),
            Ok(None) => {
                done[i] = Some(Delivery {
                    url: target.display_url(),
                    alerts: 0,
                    attempts: 0,
                    ok: true,
                    status: None,
                    error: None,
                    elapsed_ms: 0,
                })
            }
            Err((selected, error)) => {
                done[i] = Some(failed(target.display_url(), selected, 0, None, &error, 0))
            }
        }
    }
    if !jobs.is_empty() {
        let (index, jobs): (Vec<usize>, Vec<Job>) = jobs.into_iter().unzip();
        for (i, delivery) in index.into_iter().zip(send_all(jobs)) {
            done[i] = Some(delivery);
        }
    }
    done.into_iter()
        .zip(targets)
        .map(|(d, t)| {
            d.unwrap_or_else(|| {
                let error = NotifyError::Internal("no result for this target".to_string());
                failed(t.display_url(), 0, 0, None, &error, 0)
            })
        })
        .collect()
}

/// One target's request, ready to send.
struct Job {
    shown_url: String,
    url: Url,
    body: Vec<u8>,
    alerts: usize,
    timeout: Duration,
    retries: u32,
}

/// The job for a target, or `None` when no alert qualifies; an error comes with the number
/// of alerts that were selected.
fn prepare(
    target: &NotifyTarget,
    alerts: &[Alert],
    pipeline: &str,
    period: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Job>, (usize, NotifyError)> {
    let selected = select_alerts(alerts, target.min_priority);
    if selected.is_empty() {
        return Ok(None);
    }
    let url = target
        .resolve_url_with(env)
        .map_err(|e| (selected.len(), e))?;
    let payload = Payload {
        msgtype: "text",
        text: Text {
            content: summary(
                &selected,
                target.lang,
                target.min_priority,
                pipeline,
                period,
            ),
        },
        pvwatch: Extra {
            pipeline,
            period,
            alerts: &selected,
        },
    };
    let body = serde_json::to_vec(&payload)
        .map_err(|e| (selected.len(), NotifyError::Internal(e.to_string())))?;
    Ok(Some(Job {
        shown_url: target.display_url(),
        url,
        body,
        alerts: selected.len(),
        timeout: target.timeout,
        retries: target.retries,
    }))
}

#[derive(Serialize)]
struct Payload<'a> {
    msgtype: &'static str,
    text: Text,
    pvwatch: Extra<'a>,
}

#[derive(Serialize)]
struct Text {
    content: String,
}

#[derive(Serialize)]
struct Extra<'a> {
    pipeline: &'a str,
    period: &'a str,
    alerts: &'a [&'a Alert],
}

/// The alerts a target receives: new, reopened or escalated, at or above `min`; the most urgent
/// first, otherwise in the given order.
pub fn select_alerts(alerts: &[Alert], min: Priority) -> Vec<&Alert> {
    let mut selected: Vec<&Alert> = alerts
        .iter()
        .filter(|a| {
            matches!(a.status, Status::New | Status::Reopened | Status::Escalated)
                && a.priority <= min
        })
        .collect();
    selected.sort_by_key(|a| a.priority);
    selected
}

const PRIORITIES: [Priority; 4] = Priority::ALL;

/// The plain-text message: pipeline and period, counts by priority, then one line per
/// alert, within [`MAX_CONTENT_BYTES`]. `selected` comes from [`select_alerts`].
pub fn summary(
    selected: &[&Alert],
    lang: Lang,
    min: Priority,
    pipeline: &str,
    period: &str,
) -> String {
    let counts: Vec<String> = PRIORITIES
        .iter()
        .filter(|p| **p <= min)
        .map(|p| {
            let n = selected.iter().filter(|a| a.priority == *p).count();
            match lang {
                Lang::En => format!("{} {n}", p.as_str()),
                Lang::Zh => format!("{} {n} 条", p.as_str()),
            }
        })
        .collect();
    let (head, scope) = match lang {
        Lang::En => (
            format!("pvwatch alerts · pipeline {pipeline} · period {period}"),
            format!(
                "{} new, reopened or escalated ({} and above): {}",
                selected.len(),
                min.as_str(),
                counts.join(", ")
            ),
        ),
        Lang::Zh => (
            format!("pvwatch 预警 · 流程 {pipeline} · 期间 {period}"),
            format!(
                "新增、重新开启或升级 {} 条（{} 及以上）：{}",
                selected.len(),
                min.as_str(),
                counts.join("，")
            ),
        ),
    };
    let mut content = truncate_bytes(&head, MAX_LINE_BYTES);
    content.push('\n');
    content.push_str(&truncate_bytes(&scope, MAX_LINE_BYTES));
    for (i, alert) in selected.iter().enumerate() {
        let line = truncate_bytes(&alert_line(alert, lang), MAX_LINE_BYTES);
        let last = i + 1 == selected.len();
        let reserve = if last { 0 } else { TAIL_RESERVE_BYTES };
        if content.len() + 1 + line.len() + reserve > MAX_CONTENT_BYTES {
            let left = selected.len() - i;
            content.push('\n');
            content.push_str(&match lang {
                Lang::En => format!("… and {left} more in alerts.jsonl"),
                Lang::Zh => format!("……另有 {left} 条，详见 alerts.jsonl"),
            });
            break;
        }
        content.push('\n');
        content.push_str(&line);
    }
    truncate_bytes(&content, MAX_CONTENT_BYTES)
}

fn alert_line(alert: &Alert, lang: Lang) -> String {
    let (status, message) = match lang {
        Lang::En => (alert.status.as_str(), &alert.message_en),
        Lang::Zh => (alert.status.label_zh(), &alert.message_zh),
    };
    // One line per alert, whatever the message holds.
    let message: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // The due date, when the alert has one (every alert of a run with due dates).
    let due = match (alert.due_date, alert.overdue, lang) {
        (None, _, _) => String::new(),
        (Some(d), false, Lang::En) => format!(", due {d}"),
        (Some(d), true, Lang::En) => format!(", due {d}, overdue"),
        (Some(d), false, Lang::Zh) => format!("，截止 {d}"),
        (Some(d), true, Lang::Zh) => format!("，截止 {d}，已逾期"),
    };
    format!(
        "[{} {status}{due}] {}",
        alert.priority.as_str(),
        message.trim()
    )
}

/// `s` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let ellipsis = "…";
    let mut end = max.saturating_sub(ellipsis.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &s[..end])
}

/// A literal url without its user, password, query values and fragment.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(mut url) => {
            // Both fail only for urls that cannot have a user (`mailto:`), which have none.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_fragment(None);
            if url.query().is_some() {
                let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
                url.query_pairs_mut()
                    .clear()
                    .extend_pairs(keys.iter().map(|k| (k.as_str(), "***")));
            }
            url.to_string()
        }
        // Not a url: show no more than what precedes a query or a user.
        Err(_) => {
            let cut = raw.find(['?', '#', '@']).unwrap_or(raw.len());
            let shown = &raw[..cut];
            if cut < raw.len() {
                format!("{shown}…")
            } else {
                shown.to_string()
            }
        }
    }
}

fn failed(
    url: String,
    alerts: usize,
    attempts: u32,
    status: Option<u16>,
    error: &NotifyError,
    elapsed_ms: u64,
) -> Delivery {
    Delivery {
        url,
        alerts,
        attempts,
        ok: false,
        status,
        error: Some(error.to_string()),
        elapsed_ms,
    }
}

/// Send every job concurrently on a runtime of our own, on a thread of our own: `deliver` is
/// blocking, and a runtime cannot block inside another one.
fn send_all(jobs: Vec<Job>) -> Vec<Delivery> {
    let fallback: Vec<(String, usize)> = jobs
        .iter()
        .map(|j| (j.shown_url.clone(), j.alerts))
        .collect();
    let fail_all = |error: NotifyError| -> Vec<Delivery> {
        fallback
            .iter()
            .map(|(url, alerts)| failed(url.clone(), *alerts, 0, None, &error, 0))
            .collect()
    };
    // The run's span (pipeline, period) goes with the work, so the delivery log lines
    // carry it too.
    let span = tracing::Span::current();
    let worker = std::thread::Builder::new()
        .name("pvwatch-notify".to_string())
        .spawn(move || {
            let _entered = span.enter();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| NotifyError::Internal(format!("could not start a runtime: {e}")))?;
            Ok::<_, NotifyError>(runtime.block_on(send_jobs(jobs)))
        });
    match worker.map(|handle| handle.join()) {
        Ok(Ok(Ok(deliveries))) => deliveries,
        Ok(Ok(Err(error))) => fail_all(error),
        Ok(Err(_panic)) => fail_all(NotifyError::Internal(
            "the delivery thread panicked".to_string(),
        )),
        Err(e) => fail_all(NotifyError::Internal(format!(
            "could not start a thread: {e}"
        ))),
    }
}

async fn send_jobs(jobs: Vec<Job>) -> Vec<Delivery> {
    // Proxies from the environment are for the way out; a loopback receiver is reached
    // directly (and so are the tests' servers, whatever proxy CI sets).
    let mut proxied: Option<Result<reqwest::Client, NotifyError>> = None;
    let mut direct: Option<Result<reqwest::Client, NotifyError>> = None;
    let mut tasks = Vec::with_capacity(jobs.len());
    for job in jobs {
        let slot = if is_loopback(&job.url) {
            &mut direct
        } else {
            &mut proxied
        };
        let client = slot.get_or_insert_with(|| build_client(is_loopback(&job.url)));
        let (shown_url, alerts) = (job.shown_url.clone(), job.alerts);
        let task = match client {
            Ok(client) => Ok(tokio::spawn(send(client.clone(), job))),
            Err(error) => Err(failed(shown_url.clone(), alerts, 0, None, error, 0)),
        };
        tasks.push((shown_url, alerts, task));
    }
    let mut deliveries = Vec::with_capacity(tasks.len());
    for (shown_url, alerts, task) in tasks {
        deliveries.push(match task {
            Ok(handle) => match handle.await {
                Ok(delivery) => delivery,
                Err(e) => {
                    let error = NotifyError::Internal(format!("the delivery task failed: {e}"));
                    failed(shown_url, alerts, 0, None, &error, 0)
                }
            },
            Err(delivery) => delivery,
        });
    }
    deliveries
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn build_client(direct: bool) -> Result<reqwest::Client, NotifyError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("pvwatch/", env!("CARGO_PKG_VERSION")))
        // A robot does not redirect; following one would re-send the alerts elsewhere.
        .redirect(reqwest::redirect::Policy::none());
    if direct {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| NotifyError::Client(error_chain(&e.without_url())))
}

/// Send one job with its retries.
async fn send(client: reqwest::Client, job: Job) -> Delivery {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (status, result) = attempt(&client, &job).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => {
                tracing::debug!(url = %job.shown_url, alerts = job.alerts, attempts, "webhook delivered");
                return Delivery {
                    url: job.shown_url,
                    alerts: job.alerts,
                    attempts,
                    ok: true,
                    status,
                    error: None,
                    elapsed_ms,
                };
            }
            Err(error) if error.is_retryable() && attempts <= job.retries => {
                let wait = backoff(attempts);
                tracing::debug!(
                    url = %job.shown_url, attempts, %error,
                    wait_ms = wait.as_millis() as u64, "webhook attempt failed; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                tracing::warn!(url = %job.shown_url, alerts = job.alerts, attempts, %error, "webhook delivery failed");
                return failed(
                    job.shown_url,
                    job.alerts,
                    attempts,
                    status,
                    &error,
                    elapsed_ms,
                );
            }
        }
    }
}

/// The wait before retry number `retry` (1-based): 0.5 s, 1 s, 2 s, … up to 8 s.
fn backoff(retry: u32) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_CAP)
}

/// One POST: the answer's status, if any, and whether it counts as delivered.
async fn attempt(client: &reqwest::Client, job: &Job) -> (Option<u16>, Result<(), NotifyError>) {
    let sent = client
        .post(job.url.clone())
        .timeout(job.timeout)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(job.body.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return (None, Err(transport_error(e, job.timeout))),
    };
    let status = response.status();
    let code = status.as_u16();
    let body = read_capped(&mut response).await;
    if status.is_success() {
        // The message reached the robot; an unreadable answer is no reason to post it twice.
        let result = match body.ok().as_deref().and_then(robot_refusal) {
            Some(error) => Err(error),
            None => Ok(()),
        };
        return (Some(code), result);
    }
    let body = body.map(|b| error_body(&b)).unwrap_or_default();
    let error = NotifyError::Status {
        status: code,
        reason: status.canonical_reason().unwrap_or("").to_string(),
        body,
    };
    (Some(code), Err(error))
}

fn transport_error(e: reqwest::Error, timeout: Duration) -> NotifyError {
    if e.is_timeout() {
        NotifyError::Timeout(timeout)
    } else if e.is_builder() {
        NotifyError::Internal(error_chain(&e.without_url()))
    } else {
        // The url may hold the robot key: keep it out of the message.
        NotifyError::Transport(error_chain(&e.without_url()))
    }
}

/// Up to [`MAX_RESPONSE_BYTES`] of the answer's body.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(body)
}

/// WeCom and DingTalk answer HTTP 200 with `{"errcode": N, "errmsg": "…"}`; N ≠ 0 means
/// the message was not posted.
fn robot_refusal(body: &[u8]) -> Option<NotifyError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errcode = value.get("errcode")?.as_i64()?;
    if errcode == 0 {
        return None;
    }
    let errmsg = value
        .get("errmsg")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    Some(NotifyError::Robot {
        errcode,
        errmsg: error_body(errmsg.as_bytes()),
    })
}

/// The start of an error body, on one line.
fn error_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_ERROR_BODY_CHARS + 1)
        .collect();
    if out.chars().count() > MAX_ERROR_BODY_CHARS {
        out = out.chars().take(MAX_ERROR_BODY_CHARS).collect();
        out.push('…');
    }
    out
}

/// An error and its sources, `: `-separated, without repeats.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests;
