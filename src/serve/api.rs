//! The JSON API: the pages' data for other tools, with the same access rules. Every
//! route takes [`ApiStaff`] (401 when anonymous); writes need the reviewer role (403) and,
//! with a cookie session, the `X-CSRF-Token` header (403); an id outside the user's
//! region is 404. Errors are `{"error": CODE, "message": TEXT}`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::ApiStaff;
use super::error::{ApiError, ApiResult, AppError};
use super::topics::{self, CreateTopic, TopicIndex, TransitionRequest};
use super::AppState;
use crate::catalog::{AlertQuery, SortKey, Subjects};
use crate::review_db::{State as TopicState, TopicFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/periods", get(periods))
        .route("/alerts", get(alerts))
        .route("/topics", get(list_topics).post(create_topic))
        .route("/topics/{id}", get(topic))
        .route("/topics/{id}/transitions", post(transition))
        .route("/topics/{id}/assignment", post(assign))
        .route("/topics/{id}/due_date", post(due_date))
        .route("/signals/{class}/{product_id}/{event}", get(signal))
        .route("/cases/{case_id}", get(case))
        .route("/rates", get(rates))
        .route("/screening", get(screening))
        .fallback(|| async { ApiError(AppError::NotFound("no such API route".into())) })
}

/// The queue's parameters as sent (pages and API share them). Lists are comma-separated.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AlertParams {
    pub period: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub region: Option<String>,
    pub class: Option<String>,
    pub product: Option<String>,
    pub soc: Option<String>,
    pub assignee: Option<String>,
    pub overdue: Option<String>,
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
    /// Pages only: the language switch (ignored here).
    pub lang: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn list(v: &Option<String>) -> Vec<String> {
    nonempty(v)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl AlertParams {
    /// The catalog query (without the assignee, which the database answers).
    pub fn query(&self) -> Result<AlertQuery, AppError> {
        let overdue = match nonempty(&self.overdue).as_deref() {
            None => None,
            Some("true") | Some("1") | Some("yes") => Some(true),
            Some("false") | Some("0") | Some("no") => Some(false),
            Some(o) => {
                return Err(AppError::invalid(format!(
                    "overdue: expected `true` or `false`, found `{o}`"
                )))
            }
        };
        let limit = match nonempty(&self.limit) {
            None => None,
            Some(l) => Some(l.parse::<usize>().map_err(|_| {
                AppError::invalid(format!("limit: expected a whole number, found `{l}`"))
            })?),
        };
        let sort = match nonempty(&self.sort) {
            None => (SortKey::default(), false),
            Some(s) => SortKey::parse(&s)?,
        };
        Ok(AlertQuery {
            period: nonempty(&self.period),
            priority: list(&self.priority),
            status: list(&self.status),
            kind: list(&self.kind),
            region: nonempty(&self.region),
            class: nonempty(&self.class),
            product: nonempty(&self.product),
            soc: nonempty(&self.soc),
            overdue,
            sort,
            limit,
            cursor: nonempty(&self.cursor),
            subjects: None,
        })
    }
}

/// One page of alerts with their current topics, as `staff` may see them.
pub async fn alert_page(
    state: &AppState,
    staff: &super::auth::Staff,
    params: &AlertParams,
) -> Result<(crate::catalog::AlertPage, TopicIndex), AppError> {
    let mut q = params.query()?;
    let index = TopicIndex::load(state, &staff.user).await?;
    if let Some(name) = nonempty(&params.assignee) {
        let (rows, _) = state
            .db()
            .list_topics(
                &TopicFilter {
                    assignee: Some(name),
                    ..TopicFilter::default()
                },
                &staff.user,
            )
            .await?;
        let mut s = Subjects::default();
        for t in rows {
            if let Some(a) = t.alert_id {
                s.alert_ids.insert(a);
            }
            s.signals.insert((t.class, t.product_id, t.event));
        }
        q.subjects = Some(s);
    }
    let scope = staff.scope();
    let mut page = state.catalog(move |c| c.alerts(&scope, &q)).await?;
    index.overlay(&mut page.alerts);
    Ok((page, index))
}

async fn me(ApiStaff(staff): ApiStaff) -> Json<Value> {
    Json(json!({ "user": staff.user }))
}

async fn periods(State(state): State<AppState>, ApiStaff(_): ApiStaff) -> ApiResult<Json<Value>> {
    let periods = state.catalog(|c| c.periods()).await?;
    let list: Vec<Value> = periods
        .iter()
        .map(|p| {
            json!({"period": p.label, "start": p.start, "end": p.end,
                   "data_cutoff": p.data_cutoff, "started_at": p.started_at})
        })
        .collect();
    Ok(Json(json!({ "periods": list })))
}

async fn alerts(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Query(params): Query<AlertParams>,
) -> ApiResult<Json<Value>> {
    let (page, _) = alert_page(&state, &staff, &params).await?;
    Ok(Json(json!({
        "period": page.period,
        "alerts": page.alerts,
        "total": page.total,
        "next": page.next,
    })))
}

#[derive(Debug, Default, serde::Deserialize)]
struct TopicListParams {
    state: Option<String>,
    open: Option<String>,
    assignee: Option<String>,
    overdue: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

async fn list_topics(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Query(p): Query<TopicListParams>,
) -> ApiResult<Json<Value>> {
    let int = |field: &str, v: &Option<String>| -> Result<Option<i64>, AppError> {
        nonempty(v)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    AppError::invalid(format!("{field}: expected a whole number, found `{s}`"))
                })
            })
            .transpose()
    };
    let f = TopicFilter {
        state: nonempty(&p.state)
            .map(|s| s.parse::<TopicState>())
            .transpose()
            .map_err(|e| AppError::invalid(format!("state: {e}")))?,
        open: match nonempty(&p.open).as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(o) => {
                return Err(AppError::invalid(format!(
                    "open: expected `true` or `false`, found `{o}`"
                ))
                .into())
            }
        },
        assignee: nonempty(&p.assignee),
        overdue_on: match nonempty(&p.overdue).as_deref() {
            None | Some("false") => None,
            Some("true") => Some(chrono::Utc::now().date_naive().to_string()),
            Some(o) => {
                return Err(AppError::invalid(format!(
                    "overdue: expected `true` or `false`, found `{o}`"
                ))
                .into())
            }
        },
        limit: Some(int("limit", &p.limit)?.unwrap_or(100).clamp(1, 1000)),
        offset: int("offset", &p.offset)?,
        ..TopicFilter::default()
    };
    let (rows, total) = state.db().list_topics(&f, &staff.user).await?;
    Ok(Json(json!({ "topics": rows, "total": total })))
}

/// A body as JSON, with the field and problem named on a bad one (422).
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            AppError::invalid(format!("body: {inner}"))
        } else {
            AppError::invalid(format!("{path}: {inner}"))
        }
    })
}

async fn create_topic(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    staff.check_csrf_header(&headers)?;
    staff.require_reviewer()?;
    let req: CreateTopic = parse_body(&body)?;
    let topic = topics::create(&state, req, &staff.user).await?;
    Ok((StatusCode::CREATED, Json(json!(topic))))
}

fn topic_id(id: &str) -> Result<i64, AppError> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("topic `{id}` not found")))
}

async fn topic(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = state.db().topic(topic_id(&id)?, &staff.user).await?;
    Ok(Json(json!(t)))
}

async fn transition(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    staff.check_csrf_header(&headers)?;
    staff.require_reviewer()?;
    let id = topic_id(&id)?;
    let req: TransitionRequest = parse_body(&body)?;
    let t = topics::transition(&state, id, req, &staff.user).await?;
    Ok(Json(json!(t)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    assignee: Option<String>,
    version: i64,
}

async fn assign(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    staff.check_csrf_header(&headers)?;
    staff.require_reviewer()?;
    let id = topic_id(&id)?;
    let req: AssignRequest = parse_body(&body)?;
    let assignee = nonempty(&req.assignee);
    let t = state
        .db()
        .assign_topic(id, req.version, assignee.as_deref(), &staff.user)
        .await?;
    Ok(Json(json!(t)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DueDateRequest {
    due_date: Option<String>,
    reason: String,
    version: i64,
}

async fn due_date(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    staff.check_csrf_header(&headers)?;
    staff.require_reviewer()?;
    let id = topic_id(&id)?;
    let req: DueDateRequest = parse_body(&body)?;
    let due = nonempty(&req.due_date);
    let t = state
        .db()
        .change_due_date(id, req.version, due.as_deref(), &req.reason, &staff.user)
        .await?;
    Ok(Json(json!(t)))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PeriodParam {
    pub period: Option<String>,
    pub lang: Option<String>,
}

async fn signal(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(subject): Path<(String, String, String)>,
    Query(p): Query<PeriodParam>,
) -> ApiResult<Json<Value>> {
    let (detail, rows) =
        topics::signal_with_topics(&state, &staff.user, subject, nonempty(&p.period)).await?;
    Ok(Json(json!({ "signal": detail, "topics": rows })))
}

async fn case(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Path(case_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scope = staff.scope();
    let detail = state.catalog(move |c| c.case(&scope, &case_id)).await?;
    Ok(Json(json!(detail)))
}

async fn rates(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Query(p): Query<PeriodParam>,
) -> ApiResult<Json<Value>> {
    let scope = staff.scope();
    let period = nonempty(&p.period);
    let rows = state
        .catalog(move |c| c.rates(&scope, period.as_deref()))
        .await?;
    Ok(Json(json!({ "rates": rows })))
}

async fn screening(
    State(state): State<AppState>,
    ApiStaff(staff): ApiStaff,
    Query(p): Query<PeriodParam>,
) -> ApiResult<Json<Value>> {
    let scope = staff.scope();
    let period = nonempty(&p.period);
    let rows = state
        .catalog(move |c| c.screening(&scope, period.as_deref()))
        .await?;
    Ok(Json(json!({ "screening": rows })))
}
