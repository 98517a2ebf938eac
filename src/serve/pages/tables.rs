//! `/cases/{case_id}`, `/rates` and `/screening`: the published tables, in the user's
//! region.

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Html;
use serde::Serialize;

use super::PageStaff;
use super::{render, Layout};
use crate::catalog::Row;
use crate::schema::col;
use crate::serve::api::PeriodParam;
use crate::serve::error::PageResult;
use crate::serve::AppState;

/// The columns of the report-versions table (`case_versions.parquet`; no personal data).
const VERSION_FIELDS: &[&str] = &[
    col::VERSION,
    col::REPORT_ID,
    col::RECEIVED_DATE,
    col::SUPERSEDED,
    col::REGION_NAME,
    col::SEX,
    col::AGE_YEARS,
    col::REPORTER_TYPE,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
    col::SUSPECT_PRODUCTS,
    col::EVENTS,
    col::BATCHES,
];

/// The case fields shown, in order (every one a `cases.parquet` column).
const CASE_FIELDS: &[&str] = &[
    col::REPORT_ID,
    col::VERSION,
    col::VERSIONS_RECEIVED,
    col::FIRST_RECEIVED_DATE,
    col::LATEST_RECEIVED_DATE,
    col::CLASS,
    col::REGION,
    col::REGION_NAME,
    col::SEX,
    col::AGE_YEARS,
    col::AGE_BAND,
    col::REPORTER_TYPE,
    col::SENTINEL,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
    col::SUSPECT_PRODUCTS,
    col::EVENTS,
    col::BATCHES,
    col::IN_PERIOD,
    col::COMPLETENESS,
    col::WELL_DOCUMENTED,
];

pub async fn case(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Path(case_id): Path<String>,
) -> PageResult<Html<String>> {
    let scope = staff.scope();
    let detail = state.catalog(move |c| c.case(&scope, &case_id)).await?;
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        c: &'a crate::catalog::CaseDetail,
        fields: &'static [&'static str],
        version_fields: &'static [&'static str],
    }
    Ok(render(
        "case.html",
        Ctx {
            layout: Layout::new(Some(&staff), lang, &uri),
            c: &detail,
            fields: CASE_FIELDS,
            version_fields: VERSION_FIELDS,
        },
    )?)
}

#[derive(Serialize)]
struct TableCtx<'a> {
    #[serde(flatten)]
    layout: Layout<'a>,
    period: String,
    periods: Vec<String>,
    rows: Vec<Row>,
}

async fn table_page(
    state: &AppState,
    staff: &crate::serve::auth::Staff,
    lang: crate::Lang,
    uri: &Uri,
    p: PeriodParam,
    template: &str,
    rates: bool,
) -> PageResult<Html<String>> {
    let scope = staff.scope();
    let wanted = p.period.filter(|s| !s.trim().is_empty());
    let (rows, periods) = state
        .catalog(move |c| {
            let rows = if rates {
                c.rates(&scope, wanted.as_deref())?
            } else {
                c.screening(&scope, wanted.as_deref())?
            };
            Ok((rows, c.periods()?))
        })
        .await?;
    let period = rows
        .first()
        .and_then(|r| r.get("period"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| periods.last().map(|p| p.label.clone()))
        .unwrap_or_default();
    let ctx = TableCtx {
        layout: Layout::new(Some(staff), lang, uri),
        period,
        periods: periods.into_iter().rev().map(|p| p.label).collect(),
        rows,
    };
    Ok(render(template, ctx)?)
}

pub async fn rates(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Query(p): Query<PeriodParam>,
) -> PageResult<Html<String>> {
    table_page(&state, &staff, lang, &uri, p, "rates.html", true).await
}

pub async fn screening(
    State(state): State<AppState>,
    PageStaff(staff, lang): PageStaff,
    uri: Uri,
    Query(p): Query<PeriodParam>,
) -> PageResult<Html<String>> {
    table_page(&state, &staff, lang, &uri, p, "screening.html", false).await
}
