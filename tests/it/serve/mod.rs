//! The review app (`pvwatch serve`) over HTTP, in process (`tower::ServiceExt::oneshot`)
//! on real runs of the Zhejiang pipeline whose product D011 is named with a `<script>`,
//! against SQLite and, when `PVWATCH_TEST_POSTGRES_URL` is set, a fresh PostgreSQL
//! database: access control by persona (anonymous, viewer, city user, reviewer, token),
//! CSRF, SQL metacharacters in filters, escaping on every page, stale versions and refused
//! transitions, and the evidence stored at a decision. Then the real binary killed with
//! SIGKILL and restarted: the decision and its audit rows survive.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use pvwatch::catalog::Catalog;
use pvwatch::review_db::{ReviewDb, Role};
use pvwatch::serve::{app, AppState};
use serde_json::Value;
use tower::ServiceExt;

use crate::util::*;

pub(super) const SCRIPT: &str = "<script>alert(1)</script>";
pub(super) const PASSWORD: &str = "a long enough password";

/// Two quarters of the Zhejiang pipeline on the sample data, with D011's name holding a
/// script tag.
pub(super) fn runs() -> &'static (Fixture, PathBuf) {
    static RUNS: OnceLock<(Fixture, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let fx = Fixture::with_sample_data();
        let products = std::fs::read_to_string(fx.p("products.csv")).unwrap();
        let products = products.replace(
            "D011,甲磺酸伏美替尼片,",
            &format!("D011,甲磺酸伏美替尼片{SCRIPT},"),
        );
        assert!(products.contains(SCRIPT));
        fx.write("products.csv", &products);
        let toml = std::fs::read_to_string(repo().join("pipelines/zhejiang-quarterly.toml"))
            .unwrap()
            .replace("\"../sample-data/", &format!("\"{}/", fx.d()))
            .replace("\"../out/zhejiang-quarterly\"", "\"out\"");
        fx.write("z.toml", &toml);
        let out = fx.p("out");
        for q in ["2025-Q2", "2025-Q3"] {
            fx.run(&["run", &fx.ps("z.toml"), "--period", q, "--quiet"])
                .expect_ok();
        }
        (fx, out)
    })
}

pub(super) fn q3(table: &str) -> Table {
    read_parquet(&period_dir(&runs().1, "2025-Q3").join(table))
}

/// A fresh database on each backend: SQLite in a temp folder, and PostgreSQL when set.
pub(super) async fn backends() -> Vec<(&'static str, ReviewDb, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = ReviewDb::open_sqlite(&dir.path().join("pvwatch.db"))
        .await
        .unwrap();
    let mut out = vec![("sqlite", sqlite, dir)];
    if let Ok(url) = std::env::var("PVWATCH_TEST_POSTGRES_URL") {
        out.push((
            "postgres",
            fresh_postgres(&url).await,
            tempfile::tempdir().unwrap(),
        ));
    }
    out
}

async fn fresh_postgres(url: &str) -> ReviewDb {
    use sqlx::Connection;
    let name = format!(
        "pvwatch_serve_{}",
        pvwatch::review_db::auth::random_secret().unwrap()[..12]
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    ReviewDb::connect(&format!("{base}/{name}{query}"))
        .await
        .unwrap()
}

/// The app over the runs and one database, with its personas.
pub(super) struct App {
    router: axum::Router,
    pub db: ReviewDb,
    /// API tokens.
    pub rev: String,
    pub viewer: String,
    pub wenzhou: String,
}

pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl App {
    pub async fn new(db: ReviewDb) -> App {
        let catalog = Catalog::open(&runs().1, Some("zhejiang-quarterly"))
            .unwrap()
            .with_check_interval(Duration::ZERO);
        for (name, role, region) in [
            ("rev", Role::Reviewer, None),
            ("viewer", Role::Viewer, None),
            ("wenzhou", Role::Reviewer, Some("330300")),
            ("admin", Role::Admin, None),
        ] {
            db.add_user(name, role, region).await.unwrap();
            db.set_password(name, PASSWORD).await.unwrap();
        }
        let state = AppState::new(
            db.clone(),
            catalog,
            pvwatch::Lang::Zh,
            "zhejiang-quarterly",
            false,
        );
        App {
            router: app(state),
            rev: db.new_api_token("rev").await.unwrap(),
            viewer: db.new_api_token("viewer").await.unwrap(),
            wenzhou: db.new_api_token("wenzhou").await.unwrap(),
            db,
        }
    }

    /// An app over another state (its one persona's token in every field).
    pub fn from_state(state: AppState, token: &str) -> App {
        App {
            router: app(state.clone()),
            db: state.db().clone(),
            rev: token.to_string(),
            viewer: token.to_string(),
            wenzhou: token.to_string(),
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 26)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, uri: &str, auth: Auth<'_>) -> Answer {
        self.send(auth.apply(Request::get(uri)).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_json(&self, uri: &str, auth: Auth<'_>, body: Value) -> Answer {
        self.send(
            auth.apply(Request::post(uri))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn post_form(&self, uri: &str, auth: Auth<'_>, form: &str) -> Answer {
        self.send(
            auth.apply(Request::post(uri))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Log in with the form: the session cookie and the CSRF token of its pages.
    pub async fn login(&self, name: &str) -> (String, String) {
        let r = self
            .post_form(
                "/login",
                Auth::None,
                &format!("name={name}&password={}", PASSWORD.replace(' ', "+")),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(
            !set.contains("Secure"),
            "no Secure without --secure-cookies: {set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.get("/", Auth::Cookie(&cookie, None)).await;
        assert_eq!(page.status, StatusCode::OK);
        let at = page
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a CSRF field")
            + 19;
        let csrf = page.body[at..].split('"').next().unwrap().to_string();
        assert_eq!(csrf.len(), 43, "{csrf}");
        (cookie, csrf)
    }

    /// The D011 × Diarrhoea new-signal alert of 2025-Q3, as the API lists it.
    pub async fn d011_alert(&self) -> Value {
        let r = self
            .get(
                "/api/alerts?product=D011&kind=new_signal,strengthened_signal&limit=1000",
                Auth::Bearer(&self.rev),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["event"] == "Diarrhoea")
            .expect("the D011 × Diarrhoea alert")
            .clone()
    }
}

#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// A cookie, and a CSRF header.
    Cookie(&'a str, Option<&'a str>),
}

impl Auth<'_> {
    fn apply(self, b: axum::http::request::Builder) -> axum::http::request::Builder {
        let b = b.header(header::HOST, "localhost");
        match self {
            Auth::None => b,
            Auth::Bearer(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::Cookie(c, None) => b.header(header::COOKIE, c),
            Auth::Cookie(c, Some(csrf)) => b.header(header::COOKIE, c).header("x-csrf-token", csrf),
        }
    }
}

macro_rules! on_each_backend {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for (label, db, _dir) in backends().await {
                eprintln!("{}: {label}", stringify!($name));
                $body(App::new(db).await).await;
            }
        }
    };
}

mod access;
mod browser;
mod pages;
mod restart;
mod topics;
