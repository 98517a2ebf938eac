//! `/signals/{class}/{product_id}/{event}` (statistics over periods with a small chart,
//! the case series, the topic with its history and forms) and the topic routes: the
//! list, one topic, and the form POSTs (open, transition, assign, due date), each
//! redirecting back (303) to a local page.

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{Html, Redirect};
use axum::Form;
use serde::Serialize;
use serde_json::Value;

use super::PageStaff;
use super::{local_path, render, seg, Layout};
use crate::catalog::SignalDetail;
use crate::review_db::{Outcome, State as TopicState, Topic, TopicFilter};
use crate::serve::error::{AppError, PageResult};
use crate::serve::topics::{self, CreateTopic, TransitionRequest};
use crate::serve::AppState;

/// One small line chart: a statistic over periods.
#[derive(Serialize)]
struct Chart {
    name: &'static str,
    color: &'static str,
    width: u32,
    height: u32,
    points: String,
    dots: Vec<Dot>,
    min: f64,
    max: f64,
    /// The y of a reference line (IC025 = 0, EB05 = 2), when within the range.
    zero_y: Option<f64>,
}

#[derive(Serialize)]
struct Dot {
    x: f64,
    y: f64,
    label: String,
    value: f64,
}

const W: u32 = 260;
const H: u32 = 120;

/// The chart of `key` over the signal's periods (periods without a value are skipped).
fn chart(
    s: &SignalDetail,
    key: &str,
    name: &'static str,
    color: &'static str,
    reference: Option<f64>,
) -> Chart {
    let values: Vec<(String, f64)> = s
        .periods
        .iter()
        .filter_map(|p| Some((p.period.clone(), p.stats.get(key)?.as_f64()?)))
        .collect();
    let mut lo = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(r) = reference {
        lo = lo.min(r);
        hi = hi.max(r);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let (left, right, top, bottom) = (34.0, f64::from(W) - 30.0, 10.0, f64::from(H) - 20.0);
    let n = s.periods.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| bottom - (bottom - top) * (v - lo) / (hi - lo);
    let mut dots = Vec::new();
    for (i, p) in s.periods.iter().enumerate() {
        if let Some((_, v)) = values.iter().find(|(l, _)| *l == p.period) {
            dots.push(Dot {
                x: (x_of(i) * 10.0).round() / 10.0,
                y: (y_of(*v) * 10.0).round() / 10.0,
                label: p.period.clone(),
                value: *v,
            });
        }
    }
    let points = dots
        .iter()
        .map(|d| format!("{},{}", d.x, d.y))
        .collect::<Vec<_>>()
        .join(" ");
    Chart {
        name,
        color,
        width: W,
        height: H,
        points,
        dots,
        min: lo,
        max: hi,
        zero_y: reference.map(|r| (y_of(r) * 10.0).round() / 10.0),
    }
}

fn next_states(t: &Topic) -> Vec<&'static str> {
    t.row.state.next().iter().map(|s| s.as_str()).collect()
}

fn outcomes() -> Vec<&'static str> {
    Outcome::ALL.iter().map(|o| o.as_str()).collect()
}

pub async fn signal(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Path(subject): Path<(String, String, String)>,
    Query(p): Query<crate::serve::api::PeriodParam>,
) -> PageResult<Html<String>> {
    let period = p.period.filter(|s| !s.trim().is_empty());
    let (s, rows) =
        crate::serve::topics::signal_with_topics(&state, &staff.user, subject, period).await?;
    // The open topic if there is one, else the newest.
    let pick = rows
        .iter()
        .find(|t| t.state.is_open())
        .or(rows.first())
        .map(|t| t.id);
    let topic = match pick {
        Some(id) => Some(state.db().topic(id, &staff.user).await?),
        None => None,
    };
    let today = chrono::Utc::now().date_naive().to_string();
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        s: &'a SignalDetail,
        charts: Vec<Chart>,
        topic: Option<&'a Topic>,
        overdue: bool,
        next_states: Vec<&'static str>,
        outcomes: Vec<&'static str>,
        back: String,
    }
    let charts = vec![
        chart(&s, crate::signals::counts::A, "a", "#1f3a5f", None),
        chart(&s, crate::signals::out::EB05, "EB05", "#ef6c00", Some(2.0)),
        chart(
            &s,
            crate::signals::out::IC025,
            "IC025",
            "#2e7d32",
            Some(0.0),
        ),
    ];
    let ctx = Ctx {
        layout: Layout::new(Some(&staff), lang, &uri),
        s: &s,
        charts,
        topic: topic.as_ref(),
        overdue: topic.as_ref().is_some_and(|t| t.row.overdue(&today)),
        next_states: topic.as_ref().map(next_states).unwrap_or_default(),
        outcomes: outcomes(),
        back: uri.path().to_string(),
    };
    Ok(render("signal.html", ctx)?)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct TopicListParams {
    state: Option<String>,
    assignee: Option<String>,
    overdue: Option<String>,
}

pub async fn topic_list(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Query(p): Query<TopicListParams>,
) -> PageResult<Html<String>> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let f = TopicFilter {
        state: nonempty(&p.state)
            .map(|s| s.parse::<TopicState>())
            .transpose()
            .map_err(|e| AppError::invalid(format!("state: {e}")))?,
        assignee: nonempty(&p.assignee),
        overdue_on: (p.overdue.as_deref() == Some("true"))
            .then(|| chrono::Utc::now().date_naive().to_string()),
        limit: Some(500),
        ..TopicFilter::default()
    };
    let (topics, total) = state.db().list_topics(&f, &staff.user).await?;
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        topics: Vec<crate::review_db::TopicRow>,
        total: i64,
        states: Vec<&'static str>,
        f: Value,
    }
    let ctx = Ctx {
        layout: Layout::new(Some(&staff), lang, &uri),
        topics,
        total,
        states: TopicState::ALL.iter().map(|s| s.as_str()).collect(),
        f: serde_json::json!({"state": p.state, "assignee": p.assignee, "overdue": p.overdue}),
    };
    Ok(render("topics.html", ctx)?)
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("topic `{id}` not found")))
}

pub async fn topic(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Path(id): Path<String>,
) -> PageResult<Html<String>> {
    let t = state.db().topic(parse_id(&id)?, &staff.user).await?;
    let today = chrono::Utc::now().date_naive().to_string();
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        topic: &'a Topic,
        overdue: bool,
        next_states: Vec<&'static str>,
        outcomes: Vec<&'static str>,
        back: String,
        signal_url: String,
    }
    let ctx = Ctx {
        layout: Layout::new(Some(&staff), lang, &uri),
        topic: &t,
        overdue: t.row.overdue(&today),
        next_states: next_states(&t),
        outcomes: outcomes(),
        back: uri.path().to_string(),
        signal_url: format!(
            "/signals/{}/{}/{}",
            seg(&t.row.class),
            seg(&t.row.product_id),
            seg(&t.row.event)
        ),
    };
    Ok(render("topic.html", ctx)?)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    alert_id: Option<String>,
    class: Option<String>,
    product_id: Option<String>,
    event: Option<String>,
    comment: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    PageStaff(staff, _): PageStaff,
    Form(f): Form<CreateForm>,
) -> PageResult<Redirect> {
    staff.check_csrf(f.csrf.as_deref())?;
    staff.require_reviewer()?;
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let req = CreateTopic {
        alert_id: nonempty(f.alert_id),
        class: nonempty(f.class),
        product_id: nonempty(f.product_id),
        event: nonempty(f.event),
        comment: nonempty(f.comment),
        ..CreateTopic::default()
    };
    let t = topics::create(&state, req, &staff.user).await?;
    Ok(Redirect::to(&format!("/topics/{}", t.row.id)))
}

fn version(v: &str) -> Result<i64, AppError> {
    v.trim()
        .parse()
        .map_err(|_| AppError::invalid(format!("version: expected a whole number, found `{v}`")))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct TransitionForm {
    csrf: Option<String>,
    #[serde(default)]
    to: String,
    outcome: Option<String>,
    comment: Option<String>,
    rationale: Option<String>,
    #[serde(default)]
    version: String,
    back: Option<String>,
}

pub async fn transition(
    State(state): State<AppState>,
    PageStaff(staff, _): PageStaff,
    Path(id): Path<String>,
    Form(f): Form<TransitionForm>,
) -> PageResult<Redirect> {
    staff.check_csrf(f.csrf.as_deref())?;
    staff.require_reviewer()?;
    let id = parse_id(&id)?;
    let req = TransitionRequest {
        to: f.to,
        outcome: f.outcome,
        comment: f.comment,
        rationale: f.rationale,
        version: version(&f.version)?,
    };
    topics::transition(&state, id, req, &staff.user).await?;
    Ok(Redirect::to(&local_path(
        f.back.as_deref(),
        format!("/topics/{id}"),
    )))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct AssignForm {
    csrf: Option<String>,
    assignee: Option<String>,
    #[serde(default)]
    version: String,
    back: Option<String>,
}

pub async fn assign(
    State(state): State<AppState>,
    PageStaff(staff, _): PageStaff,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> PageResult<Redirect> {
    staff.check_csrf(f.csrf.as_deref())?;
    staff.require_reviewer()?;
    let id = parse_id(&id)?;
    let assignee = f.assignee.filter(|s| !s.trim().is_empty());
    state
        .db()
        .assign_topic(
            id,
            version(&f.version)?,
            assignee.as_deref().map(str::trim),
            &staff.user,
        )
        .await?;
    Ok(Redirect::to(&local_path(
        f.back.as_deref(),
        format!("/topics/{id}"),
    )))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct DueForm {
    csrf: Option<String>,
    due_date: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    version: String,
    back: Option<String>,
}

pub async fn due(
    State(state): State<AppState>,
    PageStaff(staff, _): PageStaff,
    Path(id): Path<String>,
    Form(f): Form<DueForm>,
) -> PageResult<Redirect> {
    staff.check_csrf(f.csrf.as_deref())?;
    staff.require_reviewer()?;
    let id = parse_id(&id)?;
    let due = f.due_date.filter(|s| !s.trim().is_empty());
    state
        .db()
        .change_due_date(
            id,
            version(&f.version)?,
            due.as_deref(),
            &f.reason,
            &staff.user,
        )
        .await?;
    Ok(Redirect::to(&local_path(
        f.back.as_deref(),
        format!("/topics/{id}"),
    )))
}
