//! `pvwatch serve`: the review app (issue 20). Server-rendered pages and a JSON API over
//! the published periods ([`crate::catalog`]) and the review database
//! ([`crate::review_db`]): the alert queue, signal detail with its case series, case
//! detail, rates, the screening list, and signal topics (EU GVP Module IX) whose
//! decisions the next batch reads.
//!
//! Files by concern: `error.rs` (the one error type; JSON under `/api`, HTML elsewhere),
//! `auth.rs` (sessions, API tokens, CSRF, the `Staff` extractors, login and logout),
//! `topics.rs` (topics joined to alerts, the evidence stored at a decision), `api.rs`
//! (the JSON routes), `pages/` (the HTML routes and their minijinja templates, embedded
//! from `templates/`).
//!
//! Access is checked on the server for every route: a handler that needs a user takes the
//! [`auth::ApiStaff`] or [`pages::PageStaff`] extractor, so it cannot run anonymously; data
//! is read through the user's region ([`crate::catalog::RegionScope`], [`User::sees`]), so
//! an out-of-region id is a 404 exactly like a missing one; writes need the reviewer role
//! and, with a cookie session, the session's CSRF token.
//!
//! TLS is not served here: run behind a reverse proxy that terminates it, and pass
//! `--secure-cookies` so the session cookie carries `Secure`.

pub mod api;
pub mod auth;
pub mod error;
pub mod pages;
pub mod topics;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::catalog::Catalog;
use crate::review_db::{ReviewDb, User};
use crate::{Error, Lang, Pipeline, Result};

pub use error::{ApiError, AppError, PageError};

/// The default address: the loopback interface only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// How `pvwatch serve` listens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Mark the session cookie `Secure` (behind a proxy that terminates TLS).
    pub secure_cookies: bool,
}

/// What every handler shares: one cheap clone of an `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: ReviewDb,
    catalog: Arc<Catalog>,
    lang: Lang,
    secure_cookies: bool,
    pipeline: String,
}

impl AppState {
    /// State over an open database and catalog; `lang` is the pipeline's default language.
    pub fn new(
        db: ReviewDb,
        catalog: Catalog,
        lang: Lang,
        pipeline: &str,
        secure_cookies: bool,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                db,
                catalog: Arc::new(catalog),
                lang,
                secure_cookies,
                pipeline: pipeline.to_string(),
            }),
        }
    }

    pub fn db(&self) -> &ReviewDb {
        &self.inner.db
    }

    pub fn lang(&self) -> Lang {
        self.inner.lang
    }

    pub fn pipeline(&self) -> &str {
        &self.inner.pipeline
    }

    pub fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// Ask the catalog off the async threads (it reads Parquet files).
    pub async fn catalog<T, F>(&self, f: F) -> std::result::Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Catalog) -> std::result::Result<T, crate::catalog::CatalogError>
            + Send
            + 'static,
    {
        let catalog = self.inner.catalog.clone();
        tokio::task::spawn_blocking(move || f(&catalog))
            .await
            .map_err(|e| AppError::Internal(format!("catalog task failed: {e}")))?
            .map_err(AppError::from)
    }
}

/// The whole app: pages, API and the shared middleware.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(pages::router())
        .nest("/api", api::router())
        .layer(axum::middleware::from_fn(pages::remember_lang))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers on every answer: no framing, no sniffing, no referrer, no caching of
/// personal pages, and a content policy that allows nothing from the network (the pages
/// need no script, and inline style only).
async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{self, HeaderValue};
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with its own form posts, which the Origin check (auth.rs) must refuse; other sites
    // still get no referrer (found by the Chromium test, tests/it/serve/browser.rs).
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Open the pipeline's review database (creating and migrating SQLite on first use) and
/// the catalog of its output folder.
pub async fn open_state(pipeline: &Pipeline, secure_cookies: bool) -> Result<AppState> {
    let db = ReviewDb::open(pipeline).await?;
    let out = pipeline.output_dir.clone();
    let name = pipeline.name.clone();
    let catalog = tokio::task::spawn_blocking(move || {
        if !out.exists() {
            std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        }
        Catalog::open(&out, Some(&name)).map_err(|e| catalog_error(&out, e))
    })
    .await
    .map_err(|e| Error::input("pvwatch serve", format!("catalog task failed: {e}")))??;
    Ok(AppState::new(
        db,
        catalog,
        pipeline.lang,
        &pipeline.name,
        secure_cookies,
    ))
}

fn catalog_error(out: &std::path::Path, e: crate::catalog::CatalogError) -> Error {
    use crate::catalog::CatalogError as C;
    match e {
        C::Io { path, source } => Error::io(path, source),
        C::Damaged { path, message } => Error::input(path, message),
        other => Error::input(out, other.to_string()),
    }
}

/// Serve until `shutdown` resolves, then finish the requests under way and close the
/// database (SQLite checkpoints its WAL). `ready` is told the bound address (useful with
/// port 0).
pub async fn serve(
    pipeline: &Pipeline,
    opts: &ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let state = open_state(pipeline, opts.secure_cookies).await?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| Error::io(format!("--addr {}", opts.addr), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(format!("--addr {}", opts.addr), e))?;
    ready(bound);
    tracing::info!(addr = %bound, database = state.db().target(), "serving");
    let db = state.db().clone();
    let purge = tokio::spawn(purge_sessions(db.clone()));
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    db.close().await;
    served.map_err(|e| Error::io(format!("--addr {bound}"), e))
}

/// Remove expired sessions and old login failures every hour.
async fn purge_sessions(db: ReviewDb) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = db.purge_expired().await {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
    }
}

/// The region scope of a user, for the catalog.
pub fn scope_of(user: &User) -> crate::catalog::RegionScope {
    match &user.region {
        None => crate::catalog::RegionScope::all(),
        // A stored region was checked when the user was added.
        Some(code) => crate::catalog::RegionScope::region(code)
            .unwrap_or_else(|_| crate::catalog::RegionScope::region("000000").expect("six digits")),
    }
}
