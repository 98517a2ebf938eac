//! The HTML pages: server-rendered with minijinja templates embedded from `templates/`
//! (autoescape on for `.html`; no value is marked safe), in English or Chinese (the
//! pipeline's `lang`, switched by `?lang=en|zh`, remembered in a cookie). No script and
//! no network fetch: inline CSS and inline SVG only; every action is a plain form POST.
//!
//! Files: `mod.rs` (templates, language, rendering, login), `queue.rs` (the alert queue),
//! `signal.rs` (signal detail, topics and their forms), `tables.rs` (case, rates,
//! screening).

mod i18n;
mod login;
mod queue;
mod signal;
mod tables;

use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use serde::Serialize;

use super::auth::{self, Staff};
use super::error::{AppError, PageError};
use super::AppState;
use crate::Lang;

/// The language cookie's name.
pub const LANG_COOKIE: &str = "pvwatch_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/", get(queue::queue))
        .route("/signals/{class}/{product_id}/{event}", get(signal::signal))
        .route("/topics", get(signal::topic_list).post(signal::create))
        .route("/topics/{id}", get(signal::topic))
        .route("/topics/{id}/transition", post(signal::transition))
        .route("/topics/{id}/assign", post(signal::assign))
        .route("/topics/{id}/due", post(signal::due))
        .route("/cases/{case_id}", get(tables::case))
        .route("/rates", get(tables::rates))
        .route("/screening", get(tables::screening))
        .fallback(|| async { PageError(AppError::NotFound("no such page".into())) })
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, text) in [
            ("base.html", include_str!("../../../templates/base.html")),
            ("login.html", include_str!("../../../templates/login.html")),
            ("error.html", include_str!("../../../templates/error.html")),
            ("queue.html", include_str!("../../../templates/queue.html")),
            (
                "signal.html",
                include_str!("../../../templates/signal.html"),
            ),
            ("topic.html", include_str!("../../../templates/topic.html")),
            (
                "topics.html",
                include_str!("../../../templates/topics.html"),
            ),
            ("case.html", include_str!("../../../templates/case.html")),
            ("rates.html", include_str!("../../../templates/rates.html")),
            (
                "screening.html",
                include_str!("../../../templates/screening.html"),
            ),
            (
                "macros.html",
                include_str!("../../../templates/macros.html"),
            ),
        ] {
            env.add_template(name, text)
                .expect("the embedded templates parse (checked by the tests)");
        }
        env.add_filter("num", num);
        env.add_filter("seg", |s: String| seg(&s));
        env
    })
}

/// A number for a table: integers as they are, others with 3 significant decimals.
fn num(v: minijinja::Value) -> String {
    if v.is_none() || v.is_undefined() {
        return "—".to_string();
    }
    if let Ok(i) = i64::try_from(v.clone()) {
        return i.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) if f.is_finite() => {
            if f.abs() >= 100.0 {
                format!("{f:.1}")
            } else {
                format!("{f:.3}")
            }
        }
        _ => v.to_string(),
    }
}

/// Render a template with `ctx`; a render error is the 500 page, never a panic.
pub fn render<S: Serialize>(name: &str, ctx: S) -> Result<Html<String>, AppError> {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| AppError::Internal(format!("template {name}: {e:#}")))
}

/// What every page's layout needs.
#[derive(Serialize)]
pub struct Layout<'a> {
    pub lang: &'static str,
    pub tr: &'static std::collections::BTreeMap<&'static str, &'static str>,
    pub user: Option<&'a crate::review_db::User>,
    pub csrf: &'a str,
    pub can_review: bool,
    /// The current path and query without `lang`, for the language switch.
    pub here: String,
}

impl<'a> Layout<'a> {
    pub fn new(staff: Option<&'a Staff>, lang: Lang, uri: &Uri) -> Layout<'a> {
        Layout {
            lang: lang.code(),
            tr: i18n::table(lang),
            user: staff.map(|s| &s.user),
            csrf: staff.map_or("", |s| s.csrf()),
            can_review: staff.is_some_and(|s| s.user.role.can_review()),
            here: without_lang(uri),
        }
    }
}

/// `uri`'s path and query with any `lang` parameter removed, ending so that `lang=…`
/// can be appended (`/x?` or `/x?a=1&`).
fn without_lang(uri: &Uri) -> String {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .collect();
    if kept.is_empty() {
        format!("{}?", uri.path())
    } else {
        format!("{}?{}&", uri.path(), kept.join("&"))
    }
}

fn parse_lang(s: &str) -> Option<Lang> {
    match s {
        "en" => Some(Lang::En),
        "zh" => Some(Lang::Zh),
        _ => None,
    }
}

/// The language of a request: `?lang=`, else the cookie, else the pipeline's.
pub fn request_lang(headers: &HeaderMap, uri: &Uri, default: Lang) -> Lang {
    query_lang(uri)
        .or_else(|| auth::cookie(headers, LANG_COOKIE).and_then(|v| parse_lang(&v)))
        .unwrap_or(default)
}

fn query_lang(uri: &Uri) -> Option<Lang> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="))
        .and_then(parse_lang)
}

/// Middleware: a `?lang=en|zh` is remembered in a cookie for the next pages.
pub async fn remember_lang(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = query_lang(req.uri());
    let mut res = next.run(req).await;
    if let Some(l) = lang {
        let c = format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            l.code()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The error page (the status in English and Chinese), without a user.
pub fn render_error(e: &AppError) -> String {
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        status: u16,
        message: String,
        zh: &'static str,
    }
    let ctx = Ctx {
        layout: Layout::new(None, Lang::En, &Uri::from_static("/")),
        status: e.status().as_u16(),
        message: e.public_message(),
        zh: e.zh(),
    };
    render("error.html", ctx)
        .map(|h| h.0)
        .unwrap_or_else(|_| "<!doctype html><title>error</title><p>error / 错误</p>".to_string())
}

/// The login form, with a message and `status` after a failed attempt.
pub fn login_page(lang: Lang, status: StatusCode, message: Option<&str>, name: &str) -> Response {
    #[derive(Serialize)]
    struct Ctx<'a> {
        #[serde(flatten)]
        layout: Layout<'a>,
        message: Option<&'a str>,
        name: &'a str,
    }
    let ctx = Ctx {
        layout: Layout::new(None, lang, &Uri::from_static("/login")),
        message,
        name,
    };
    match render("login.html", ctx) {
        Ok(html) => (status, html).into_response(),
        Err(e) => PageError(e).into_response(),
    }
}

async fn login_form(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = request_lang(&headers, &uri, state.lang());
    login_page(lang, StatusCode::OK, None, "")
}

/// A form's `back`: a local path to return to, else `fallback` (never another site).
pub fn local_path(back: Option<&str>, fallback: String) -> String {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b.to_string(),
        _ => fallback,
    }
}

/// Percent-encode one path segment (for links to signals, cases, topics).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A signed-in user of a page (a redirect to `/login` otherwise), and the page's language.
pub struct PageStaff(pub Staff, pub Lang);

impl FromRequestParts<AppState> for PageStaff {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = request_lang(&parts.headers, &parts.uri, state.lang());
        match auth::authenticate(parts, state).await? {
            Some(s) => Ok(PageStaff(s, lang)),
            None => Err(PageError(AppError::Unauthorized)),
        }
    }
}

/// A page's error: the login page for an anonymous request, else the error page.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.log();
        if matches!(self.0, AppError::Unauthorized) {
            return Redirect::to("/login").into_response();
        }
        let html = render_error(&self.0);
        (self.0.status(), axum::response::Html(html)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_errors_render() {
        let html = render_error(&AppError::NotFound("case `X` not found".into()));
        assert!(html.contains("404"), "{html}");
        assert!(html.contains("未找到"), "{html}");
        for name in ["queue.html", "signal.html", "topic.html", "case.html"] {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
        // Every filter a template names exists (minijinja checks them only at render).
        let t = env()
            .template_from_str("{{ 'a/b'|seg }} {{ 1.5|num }}")
            .unwrap();
        assert_eq!(t.render(()).unwrap(), "a%2Fb 1.500");
    }

    #[test]
    fn lang_switch_and_local_paths() {
        let uri: Uri = "/x?a=1&lang=zh&b=2".parse().unwrap();
        assert_eq!(without_lang(&uri), "/x?a=1&b=2&");
        assert_eq!(query_lang(&uri), Some(Lang::Zh));
        assert_eq!(local_path(Some("//evil.example"), "/".into()), "/");
        assert_eq!(local_path(Some("https://evil.example"), "/".into()), "/");
        assert_eq!(local_path(Some("/topics/3"), "/".into()), "/topics/3");
        assert_eq!(seg("a b/<c>"), "a%20b%2F%3Cc%3E");
    }

    #[test]
    fn numbers_for_tables() {
        assert_eq!(num(minijinja::Value::from(12)), "12");
        assert_eq!(num(minijinja::Value::from(2.34567)), "2.346");
        assert_eq!(num(minijinja::Value::from(1234.56)), "1234.6");
        assert_eq!(num(minijinja::Value::from(())), "—");
    }
}
