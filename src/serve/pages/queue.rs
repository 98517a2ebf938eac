//! `/`: the alert queue of a period, with filters, sorting and cursor pages, each alert
//! with its current topic.

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Html;
use serde::Serialize;
use serde_json::Value;

use super::PageStaff;
use super::{render, seg, Layout};
use crate::catalog::SortKey;
use crate::schema::col;
use crate::serve::api::{alert_page, AlertParams};
use crate::serve::error::PageResult;
use crate::serve::AppState;

/// A query string of `params` with `cursor` set (or removed).
fn query_with_cursor(params: &AlertParams, cursor: Option<&str>) -> String {
    let mut p = params.clone();
    p.cursor = cursor.map(str::to_string);
    p.lang = None;
    let v = serde_json::to_value(&p).expect("parameters serialize");
    let mut parts = Vec::new();
    if let Value::Object(m) = v {
        for (k, v) in m {
            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                parts.push(format!("{k}={}", seg(s)));
            }
        }
    }
    format!("/?{}", parts.join("&"))
}

pub async fn queue(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Query(params): Query<AlertParams>,
) -> PageResult<Html<String>> {
    let periods: Vec<String> = state
        .catalog(|c| c.periods())
        .await?
        .into_iter()
        .rev()
        .map(|p| p.label)
        .collect();
    // Before the first `pvwatch run` there is nothing to queue: an empty page, not a 404.
    let mut page = if periods.is_empty() {
        crate::catalog::AlertPage {
            alerts: Vec::new(),
            total: 0,
            next: None,
            period: "—".to_string(),
        }
    } else {
        alert_page(&state, &staff, &params).await?.0
    };
    for a in &mut page.alerts {
        let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
        let (class, product, event, case) = (
            s(col::CLASS),
            s(col::PRODUCT_ID),
            s(col::EVENT),
            s(col::CASE_ID),
        );
        if let (Some(c), Some(p), Some(e)) = (class, product, event) {
            a.insert(
                "link_signal".into(),
                Value::from(format!("/signals/{}/{}/{}", seg(&c), seg(&p), seg(&e))),
            );
        }
        if let Some(c) = case {
            a.insert(
                "link_case".into(),
                Value::from(format!("/cases/{}", seg(&c))),
            );
        }
    }
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        period: &'a str,
        periods: Vec<String>,
        alerts: &'a [crate::catalog::Row],
        total: usize,
        f: &'a AlertParams,
        sorts: Vec<String>,
        next_url: Option<String>,
        first_url: String,
        has_cursor: bool,
    }
    let mut f = params.clone();
    if f.period.as_deref().is_none_or(str::is_empty) {
        f.period = Some(page.period.clone());
    }
    let sorts = SortKey::NAMES
        .iter()
        .flat_map(|n| [n.to_string(), format!("-{n}")])
        .collect();
    let ctx = Ctx {
        layout: Layout::new(Some(&staff), lang, &uri),
        period: &page.period,
        periods,
        alerts: &page.alerts,
        total: page.total,
        f: &f,
        sorts,
        next_url: page.next.as_deref().map(|c| query_with_cursor(&f, Some(c))),
        first_url: query_with_cursor(&f, None),
        has_cursor: params.cursor.is_some(),
    };
    Ok(render("queue.html", ctx)?)
}
