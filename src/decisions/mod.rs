//! Stage 4b, decisions: what monitoring staff decided about a signal (the tracking log of
//! the review app) applied to a run's alerts, after their status against the previous run
//! ([`crate::alerts::compare_with_previous`]) and before their due dates.
//!
//! Reads the run's alerts and the topics of the tracking log ([`TopicRecord`], one per
//! topic, as the review database holds it at the start of the run); writes the alerts
//! again, with `topic_id` and `topic_state` on each, and the list of alerts a decision
//! suppressed ([`SuppressedAlert`], counted in the manifest). [`log`] builds
//! `signal_log.parquet` from the same topics.
//!
//! Which topic an alert belongs to: a signal alert (`new_signal`, `strengthened_signal`)
//! belongs to the latest topic on its class × product × event, whatever alert the topic was
//! made from; any other alert belongs to the latest topic made from it (`alert_id`).
//! "Latest" is the topic opened last, and of topics opened the same day the higher id.
//! The topic's region does not take part: a signal is computed over the pipeline's whole
//! scope, and the region of a topic only limits who sees it.
//!
//! The rule, for a signal alert that is not `resolved`, by the state of its topic:
//!
//! - **closed as `refuted` or `labelled`**: the alert is suppressed unless the evidence has
//!   grown past the reopen rule ([`ReopenRule`]) since the decision: cases
//!   `a >= cases_factor × evidence_a`, or `EB05 >= (1 + eb05_rise) × evidence_eb05`. When
//!   it has, the alert stays, with status `reopened` (unless it was already `reopened` in
//!   the previous run: then it keeps its status against that run), and its messages name
//!   the decision, its date, its reviewer and the growth.
//! - **closed with another outcome** (`known`, `monitor`, `action_recommended`): the alert
//!   is raised as usual. `known` does not suppress, although the issue writes
//!   `labelled`/`known` side by side: the contract (DESIGN.md) names only "refuted or
//!   labelled"; a risk known from the literature or from other products is not yet in this
//!   product's label, which is exactly what GVP IX keeps monitoring; and suppression is
//!   the exception that can lose a signal, so only the outcomes the contract names take it.
//!   `monitor` and `action_recommended` ask for more attention, not less.
//! - **open** (any state but `closed`): a `new` alert becomes `ongoing` (someone is on it),
//!   and its message says so with the topic's state; `escalated` stays `escalated`, since
//!   a signal that strengthened during review is what the reviewer needs to see.
//!
//! Invariants: no alert is dropped except a suppressed one, and each suppressed alert is
//! listed; the order of the remaining alerts is kept; the function is pure.

pub mod log;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::alerts::messages::{num, product_label};
use crate::alerts::{Alert, Kind, Status};
use crate::signals::{counts, out};

/// A topic's state and a closed topic's outcome: the review database's own vocabulary
/// ([`crate::topic_state`]).
pub use crate::topic_state::{Outcome, State as TopicState};

/// One topic of the tracking log, as the review database holds it when the run starts:
/// its subject, its state and its latest decision with the evidence at that moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub id: i64,
    /// The alert the topic was made from, if any.
    pub alert_id: Option<String>,
    pub class: String,
    pub product_id: String,
    pub event: String,
    /// GB/T 2260 code; null for a topic over the pipeline's whole scope.
    pub region: Option<String>,
    pub state: TopicState,
    /// Set when closed.
    pub outcome: Option<Outcome>,
    pub opened: NaiveDate,
    /// The day of the latest transition (the decision) and who made it.
    pub decided_at: Option<NaiveDate>,
    pub decided_by: Option<String>,
    /// Cases `a` of the pair at the latest transition.
    pub evidence_a: i64,
    /// EB05 of the pair at the latest transition; null when it was not computed.
    pub evidence_eb05: Option<f64>,
    pub assignee: Option<String>,
    pub last_comment: Option<String>,
}

/// When a signal closed as refuted or labelled is raised again (`[review] reopen`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReopenRule {
    /// Cases `a` at least this many times those at the decision (default 2: doubled).
    pub cases_factor: f64,
    /// EB05 up by at least this fraction of its value at the decision (default 0.5: +50%).
    pub eb05_rise: f64,
}

impl Default for ReopenRule {
    fn default() -> Self {
        ReopenRule {
            cases_factor: 2.0,
            eb05_rise: 0.5,
        }
    }
}

/// A criterion of the reopen rule that the evidence met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Growth {
    Cases,
    Eb05,
}

impl Growth {
    pub fn as_str(&self) -> &'static str {
        match self {
            Growth::Cases => "cases",
            Growth::Eb05 => "eb05",
        }
    }
}

/// Relative slack on "at least": a threshold made by a multiplication (1.1 × 3 =
/// 3.3000000000000003) must not miss a value that equals it in decimal.
const SLACK: f64 = 1e-9;

fn at_least(now: f64, threshold: f64) -> bool {
    now >= threshold - SLACK * threshold.abs()
}

impl ReopenRule {
    /// The criteria that the evidence now (`a`, `eb05`) meets against the evidence at the
    /// decision; empty when it has not grown past the rule. A null or non-finite EB05, now
    /// or at the decision, leaves the EB05 criterion out (cases alone decide); so does an
    /// EB05 of 0 or less at the decision, which no rise is a fraction of. Cases at the
    /// decision of 0 make any cases now a growth past the rule.
    pub fn growth(
        &self,
        then_a: i64,
        then_eb05: Option<f64>,
        now_a: Option<f64>,
        now_eb05: Option<f64>,
    ) -> Vec<Growth> {
        let mut met = Vec::new();
        if let Some(a) = now_a.filter(|a| a.is_finite()) {
            if at_least(a, self.cases_factor * then_a as f64) {
                met.push(Growth::Cases);
            }
        }
        if let (Some(then), Some(now)) = (
            then_eb05.filter(|x| x.is_finite() && *x > 0.0),
            now_eb05.filter(|x| x.is_finite()),
        ) {
            if at_least(now, (1.0 + self.eb05_rise) * then) {
                met.push(Growth::Eb05);
            }
        }
        met
    }
}

/// An alert that a decision suppressed, as listed in the manifest
/// (`alerts.suppressed_by_decision`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuppressedAlert {
    pub alert_id: String,
    pub kind: Kind,
    pub class: String,
    pub product_id: Option<String>,
    pub event: Option<String>,
    pub topic_id: i64,
    pub outcome: Outcome,
    pub decided_at: Option<NaiveDate>,
    pub decided_by: Option<String>,
    /// The evidence now and at the decision.
    pub a: Option<f64>,
    pub eb05: Option<f64>,
    pub evidence_a: i64,
    pub evidence_eb05: Option<f64>,
}

/// The alerts after the decisions, and those the decisions suppressed.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub alerts: Vec<Alert>,
    pub suppressed: Vec<SuppressedAlert>,
}

fn is_signal(kind: Kind) -> bool {
    matches!(kind, Kind::NewSignal | Kind::StrengthenedSignal)
}

/// A number of the alert's `numbers`, if it is a finite number.
fn number(alert: &Alert, key: &str) -> Option<f64> {
    alert
        .numbers
        .get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite())
}

/// Apply the tracking log's `topics` to a run's `alerts` (see the module header).
/// `previous` is the previous run's alerts, to tell an alert already reopened there.
pub fn apply_decisions(
    alerts: Vec<Alert>,
    topics: &[TopicRecord],
    previous: Option<&[Alert]>,
    rule: &ReopenRule,
) -> Applied {
    if topics.is_empty() {
        return Applied {
            alerts,
            suppressed: Vec::new(),
        };
    }
    let later = |t: &TopicRecord| (t.opened, t.id);
    let mut by_pair: BTreeMap<(&str, &str, &str), &TopicRecord> = BTreeMap::new();
    let mut by_alert: BTreeMap<&str, &TopicRecord> = BTreeMap::new();
    for t in topics {
        let pair = (t.class.as_str(), t.product_id.as_str(), t.event.as_str());
        let slot = by_pair.entry(pair).or_insert(t);
        if later(t) > later(slot) {
            *slot = t;
        }
        if let Some(id) = t.alert_id.as_deref() {
            let slot = by_alert.entry(id).or_insert(t);
            if later(t) > later(slot) {
                *slot = t;
            }
        }
    }
    let reopened_before: BTreeSet<&str> = previous
        .unwrap_or(&[])
        .iter()
        .filter(|a| a.status == Status::Reopened)
        .map(|a| a.alert_id.as_str())
        .collect();

    let mut applied = Applied::default();
    for mut a in alerts {
        let topic = if is_signal(a.kind) {
            match (&a.product_id, &a.event) {
                (Some(p), Some(e)) => by_pair.get(&(a.class.as_str(), p.as_str(), e.as_str())),
                _ => None,
            }
        } else {
            by_alert.get(a.alert_id.as_str())
        }
        .copied();
        let Some(t) = topic else {
            applied.alerts.push(a);
            continue;
        };
        a.topic_id = Some(t.id);
        a.topic_state = Some(t.state.as_str().to_string());
        if a.status == Status::Resolved || !is_signal(a.kind) {
            applied.alerts.push(a);
            continue;
        }
        match (t.state, t.outcome) {
            (TopicState::Closed, Some(outcome)) if outcome.silences_signal() => {
                let (now_a, now_eb05) = (number(&a, counts::A), number(&a, out::EB05));
                let met = rule.growth(t.evidence_a, t.evidence_eb05, now_a, now_eb05);
                if met.is_empty() {
                    applied.suppressed.push(SuppressedAlert {
                        alert_id: a.alert_id.clone(),
                        kind: a.kind,
                        class: a.class.clone(),
                        product_id: a.product_id.clone(),
                        event: a.event.clone(),
                        topic_id: t.id,
                        outcome,
                        decided_at: t.decided_at,
                        decided_by: t.decided_by.clone(),
                        a: now_a,
                        eb05: now_eb05,
                        evidence_a: t.evidence_a,
                        evidence_eb05: t.evidence_eb05,
                    });
                    continue;
                }
                if !reopened_before.contains(a.alert_id.as_str()) {
                    a.status = Status::Reopened;
                }
                reopen(&mut a, t, outcome, &met, rule, now_a, now_eb05);
                applied.alerts.push(a);
            }
            (TopicState::Closed, _) => applied.alerts.push(a),
            (state, _) => {
                if a.status == Status::New {
                    a.status = Status::Ongoing;
                    under_review(&mut a, t.id, state);
                }
                applied.alerts.push(a);
            }
        }
    }
    applied
}

/// Name the decision and the growth in a reopened alert's messages and numbers.
fn reopen(
    a: &mut Alert,
    t: &TopicRecord,
    outcome: Outcome,
    met: &[Growth],
    rule: &ReopenRule,
    now_a: Option<f64>,
    now_eb05: Option<f64>,
) {
    let label = product_label(&t.product_id, a.product_name.as_deref());
    let date = t
        .decided_at
        .map(|d| d.to_string())
        .unwrap_or_else(|| "–".to_string());
    let who = t.decided_by.as_deref().unwrap_or("–");
    let eb05 = |x: Option<f64>| num(x.unwrap_or(f64::NAN), 2);
    let mut why_en = Vec::new();
    let mut why_zh = Vec::new();
    for g in met {
        match g {
            Growth::Cases => {
                why_en.push(format!(
                    "cases rose from {} to {} (≥ {}×)",
                    t.evidence_a,
                    num(now_a.unwrap_or(f64::NAN), 0),
                    rule.cases_factor
                ));
                why_zh.push(format!(
                    "病例由 {} 例增至 {} 例（≥ {} 倍）",
                    t.evidence_a,
                    num(now_a.unwrap_or(f64::NAN), 0),
                    rule.cases_factor
                ));
            }
            Growth::Eb05 => {
                let pct = rule.eb05_rise * 100.0;
                why_en.push(format!(
                    "EB05 rose from {} to {} (≥ +{pct}%)",
                    eb05(t.evidence_eb05),
                    eb05(now_eb05)
                ));
                why_zh.push(format!(
                    "EB05 由 {} 升至 {}（≥ +{pct}%）",
                    eb05(t.evidence_eb05),
                    eb05(now_eb05)
                ));
            }
        }
    }
    let event = a.event.clone().unwrap_or_default();
    a.message_en = format!(
        "Reopened: {label} × {event} was closed as {} on {date} by {who} (topic #{}); since then {}. {}",
        outcome.as_str(),
        t.id,
        why_en.join(" and "),
        a.message_en
    );
    a.message_zh = format!(
        "重新开启：{label} × {event} 已于 {date} 由 {who} 以“{}”结案（话题 #{}）；此后{}。{}",
        outcome.label_zh(),
        t.id,
        why_zh.join("，"),
        a.message_zh
    );
    let keys: Vec<&str> = met.iter().map(Growth::as_str).collect();
    a.numbers.insert("reopened_by".into(), json!(keys));
    a.numbers.insert("decision_a".into(), json!(t.evidence_a));
    a.numbers
        .insert("decision_eb05".into(), json!(t.evidence_eb05));
    a.numbers
        .insert("decision_outcome".into(), json!(outcome.as_str()));
    a.numbers.insert(
        "decided_at".into(),
        json!(t.decided_at.map(|d| d.to_string())),
    );
    a.numbers
        .insert("decided_by".into(), json!(t.decided_by.clone()));
}

/// Say in a signal's messages that a topic is open on it.
fn under_review(a: &mut Alert, topic: i64, state: TopicState) {
    let rest_en = a
        .message_en
        .strip_prefix("New signal: ")
        .unwrap_or(&a.message_en);
    let rest_zh = a
        .message_zh
        .strip_prefix("新的信号：")
        .unwrap_or(&a.message_zh);
    a.message_en = format!(
        "Signal under review (topic #{topic}, {}): {rest_en}",
        state.as_str()
    );
    a.message_zh = format!(
        "评估中的信号（话题 #{topic}，{}）：{rest_zh}",
        state.label_zh()
    );
}

#[cfg(test)]
mod tests;
