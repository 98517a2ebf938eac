//! Topics as the app shows them: joined to the alerts of the queue, created from an alert
//! or a signal, and moved with the evidence of the latest period stored at each decision
//! (cases `a` and EB05, which the batch's reopen rule compares against).

use std::collections::HashMap;

use serde_json::Value;

use super::error::AppError;
use super::{scope_of, AppState};
use crate::catalog::{RegionScope, Row};
use crate::review_db::{NewTopic, Outcome, State, Topic, TopicFilter, TopicRow, Transition, User};
use crate::schema::{alert, col};

/// The topics a user sees, by the alert they were made from and by signal.
#[derive(Default)]
pub struct TopicIndex {
    by_alert: HashMap<String, TopicRow>,
    /// Newest first.
    by_signal: HashMap<(String, String, String), Vec<TopicRow>>,
}

impl TopicIndex {
    /// Every topic `user` sees.
    pub async fn load(state: &AppState, user: &User) -> Result<TopicIndex, AppError> {
        let (rows, _) = state
            .db()
            .list_topics(&TopicFilter::default(), user)
            .await?;
        let mut index = TopicIndex::default();
        for t in rows {
            if let Some(a) = &t.alert_id {
                index.by_alert.entry(a.clone()).or_insert_with(|| t.clone());
            }
            index
                .by_signal
                .entry((t.class.clone(), t.product_id.clone(), t.event.clone()))
                .or_default()
                .push(t);
        }
        Ok(index)
    }

    /// The topic of an alert: the one made from it, else the newest topic of its signal
    /// whose region is the alert's or the whole scope.
    pub fn for_alert(&self, a: &Row) -> Option<&TopicRow> {
        let s = |k: &str| a.get(k).and_then(Value::as_str);
        if let Some(t) = s(alert::ALERT_ID).and_then(|id| self.by_alert.get(id)) {
            return Some(t);
        }
        let key = (
            s(col::CLASS)?.to_string(),
            s(col::PRODUCT_ID)?.to_string(),
            s(col::EVENT)?.to_string(),
        );
        let region = s(col::REGION);
        self.by_signal
            .get(&key)?
            .iter()
            .find(|t| t.region.is_none() || t.region.as_deref() == region)
    }

    /// Replace each alert's published `topic_id` and `topic_state` (as of its batch) by
    /// the database's current ones.
    pub fn overlay(&self, alerts: &mut [Row]) {
        for a in alerts {
            let (id, st) = match self.for_alert(a) {
                Some(t) => (Value::from(t.id), Value::from(t.state.as_str())),
                None => (Value::Null, Value::Null),
            };
            a.insert(alert::TOPIC_ID.to_string(), id);
            a.insert(alert::TOPIC_STATE.to_string(), st);
        }
    }
}

/// What a new topic is about: an alert of the latest (or a named) period, or a signal.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub alert_id: Option<String>,
    pub period: Option<String>,
    pub class: Option<String>,
    pub product_id: Option<String>,
    pub event: Option<String>,
    pub due_date: Option<String>,
    pub comment: Option<String>,
}

/// A signal's detail as `user` may see it (statistics of every period, the case series of
/// `period` or the latest) and the topics on it: what the signal page and
/// `GET /api/signals/…` both show.
pub async fn signal_with_topics(
    state: &AppState,
    user: &User,
    (class, product_id, event): (String, String, String),
    period: Option<String>,
) -> Result<(crate::catalog::SignalDetail, Vec<TopicRow>), AppError> {
    let scope = scope_of(user);
    let (c, pr, e) = (class.clone(), product_id.clone(), event.clone());
    let detail = state
        .catalog(move |cat| cat.signal(&scope, &c, &pr, &e, period.as_deref()))
        .await?;
    let filter = TopicFilter {
        class: Some(class),
        product_id: Some(product_id),
        event: Some(event),
        ..TopicFilter::default()
    };
    let (rows, _) = state.db().list_topics(&filter, user).await?;
    Ok((detail, rows))
}

/// Cases `a` and EB05 of a signal in the latest period that has it (the evidence a
/// decision is made on); `(None, None)` when no period has the signal.
pub async fn evidence(
    state: &AppState,
    class: &str,
    product: &str,
    event: &str,
) -> Result<(Option<i64>, Option<f64>), AppError> {
    let (c, p, e) = (class.to_string(), product.to_string(), event.to_string());
    let latest = state
        .catalog(move |cat| match cat.signal_stats(&c, &p, &e) {
            Ok(periods) => Ok(periods.last().cloned()),
            Err(crate::catalog::CatalogError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
    Ok(match latest {
        Some(row) => (
            row.get(crate::signals::counts::A).and_then(Value::as_i64),
            row.get(crate::signals::out::EB05).and_then(Value::as_f64),
        ),
        None => (None, None),
    })
}

fn text_field(row: &Row, k: &str) -> Option<String> {
    row.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Open a topic for `user`: from an alert (its signal, region and due date) or from a
/// signal. A second open topic of the same signal and region is refused (409), naming
/// the first.
pub async fn create(state: &AppState, req: CreateTopic, user: &User) -> Result<Topic, AppError> {
    if !user.role.can_review() {
        return Err(AppError::forbidden(format!(
            "user `{}` is a {}: viewers cannot change anything",
            user.name, user.role
        )));
    }
    let scope: RegionScope = scope_of(user);
    let mut new = NewTopic {
        due_date: req.due_date.clone().filter(|d| !d.trim().is_empty()),
        comment: req.comment.clone(),
        ..NewTopic::default()
    };
    match (&req.alert_id, &req.class, &req.product_id, &req.event) {
        (Some(id), None, None, None) => {
            let (id2, period) = (id.clone(), req.period.clone());
            let a = state
                .catalog(move |c| c.alert(&scope, period.as_deref(), &id2))
                .await?;
            let (Some(class), Some(product), Some(event)) = (
                text_field(&a, col::CLASS),
                text_field(&a, col::PRODUCT_ID),
                text_field(&a, col::EVENT),
            ) else {
                return Err(AppError::invalid(format!(
                    "alert_id: alert `{id}` is not about a product × event (kind `{}`); a topic tracks a signal",
                    text_field(&a, alert::KIND).unwrap_or_default()
                )));
            };
            new.class = class;
            new.product_id = product;
            new.event = event;
            new.region = text_field(&a, col::REGION);
            new.alert_id = Some(id.clone());
            if new.due_date.is_none() {
                new.due_date = text_field(&a, alert::DUE_DATE);
            }
        }
        (None, Some(class), Some(product), Some(event)) => {
            new.class = class.clone();
            new.product_id = product.clone();
            new.event = event.clone();
            let (c, p, e) = (class.clone(), product.clone(), event.clone());
            // A signal no period has is not a topic: the same 404 as an unknown alert.
            state
                .catalog(move |cat| cat.signal_stats(&c, &p, &e))
                .await?;
        }
        _ => {
            return Err(AppError::invalid(
                "expected either `alert_id` or all of `class`, `product_id` and `event`",
            ))
        }
    }
    let (open, _) = state
        .db()
        .list_topics(
            &TopicFilter {
                open: Some(true),
                class: Some(new.class.clone()),
                product_id: Some(new.product_id.clone()),
                event: Some(new.event.clone()),
                ..TopicFilter::default()
            },
            user,
        )
        .await?;
    if let Some(t) = open.iter().find(|t| t.region == new.region) {
        return Err(AppError::Conflict(format!(
            "topic {} already tracks this signal (state `{}`); open it instead of a second one",
            t.id, t.state
        )));
    }
    let (a, eb05) = evidence(state, &new.class, &new.product_id, &new.event).await?;
    new.evidence_a = a;
    new.evidence_eb05 = eb05;
    Ok(state.db().create_topic(&new, user).await?)
}

/// A requested transition as sent (JSON or form).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: String,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub rationale: Option<String>,
    pub version: i64,
}

/// Move a topic, storing the evidence of the latest period.
pub async fn transition(
    state: &AppState,
    id: i64,
    req: TransitionRequest,
    user: &User,
) -> Result<Topic, AppError> {
    let to: State = req
        .to
        .trim()
        .parse()
        .map_err(|e| AppError::invalid(format!("to: {e}")))?;
    let outcome: Option<Outcome> = match req.outcome.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) => Some(
            o.parse()
                .map_err(|e| AppError::invalid(format!("outcome: {e}")))?,
        ),
    };
    // Region and existence first: an out-of-region id is a 404 before anything else.
    let current = state.db().topic(id, user).await?;
    let (a, eb05) = evidence(
        state,
        &current.row.class,
        &current.row.product_id,
        &current.row.event,
    )
    .await?;
    let t = Transition {
        to,
        outcome,
        comment: req.comment,
        rationale: req.rationale,
        version: req.version,
        evidence_a: a,
        evidence_eb05: eb05,
    };
    Ok(state.db().transition_topic(id, &t, user).await?)
}
