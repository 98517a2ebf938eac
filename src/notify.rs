//! Webhook delivery of new and escalated alerts to enterprise chat robots.
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
//! - A target receives the alerts whose status is `new` or `escalated` and whose priority
//!   is at or above its `min_priority` (P0 is the highest). With none, nothing is sent.
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

/// The alerts a target receives: new or escalated, at or above `min`; the most urgent
/// first, otherwise in the given order.
pub fn select_alerts(alerts: &[Alert], min: Priority) -> Vec<&Alert> {
    let mut selected: Vec<&Alert> = alerts
        .iter()
        .filter(|a| matches!(a.status, Status::New | Status::Escalated) && a.priority <= min)
        .collect();
    selected.sort_by_key(|a| a.priority);
    selected
}

const PRIORITIES: [Priority; 4] = [Priority::P0, Priority::P1, Priority::P2, Priority::P3];

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
                "{} new or escalated ({} and above): {}",
                selected.len(),
                min.as_str(),
                counts.join(", ")
            ),
        ),
        Lang::Zh => (
            format!("pvwatch 预警 · 流程 {pipeline} · 期间 {period}"),
            format!(
                "新增或升级 {} 条（{} 及以上）：{}",
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
    format!("[{} {status}] {}", alert.priority.as_str(), message.trim())
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
    let worker = std::thread::Builder::new()
        .name("pvwatch-notify".to_string())
        .spawn(move || {
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
mod tests {
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
                    tokio::time::timeout(Duration::from_secs(10), serve(listener, replies, log))
                        .await;
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
            alert_id: id.to_string(),
            kind: Kind::NewSignal,
            priority,
            status,
            period: "2025-Q3".to_string(),
            first_period: "2025-Q3".to_string(),
            class: "drug".to_string(),
            product_id: Some("D001".to_string()),
            product_name: Some("注射用头孢曲松钠".to_string()),
            event: Some("过敏性休克".to_string()),
            region: Some("330000".to_string()),
            batch: None,
            case_id: None,
            rule: "ebgm.eb05 >= 2".to_string(),
            threshold: 2.0,
            value: 2.4,
            numbers,
            message_en: format!("alert {id}: new signal for ceftriaxone and anaphylactic shock"),
            message_zh: format!("预警 {id}：注射用头孢曲松钠 与 过敏性休克 出现新信号"),
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
             2 new or escalated (P2 and above): P0 1, P1 0, P2 1\n\
             [P0 new] alert B: new signal for ceftriaxone and anaphylactic shock\n\
             [P2 escalated] alert A: new signal for ceftriaxone and anaphylactic shock"
        );
        let zh = summary(&selected, Lang::Zh, Priority::P2, "zj-adr", "2025-Q3");
        assert_eq!(
            zh,
            "pvwatch 预警 · 流程 zj-adr · 期间 2025-Q3\n\
             新增或升级 2 条（P2 及以上）：P0 1 条，P1 0 条，P2 1 条\n\
             [P0 新增] 预警 B：注射用头孢曲松钠 与 过敏性休克 出现新信号\n\
             [P2 升级] 预警 A：注射用头孢曲松钠 与 过敏性休克 出现新信号"
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
            error.starts_with(
                "robot refused the message: errcode 93000, errmsg `invalid webhook url"
            ),
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
}
