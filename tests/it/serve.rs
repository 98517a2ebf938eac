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
use pvwatch::review_db::{NewTopic, ReviewDb, Role};
use pvwatch::serve::{app, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::util::*;

const SCRIPT: &str = "<script>alert(1)</script>";
const PASSWORD: &str = "a long enough password";

/// Two quarters of the Zhejiang pipeline on the sample data, with D011's name holding a
/// script tag.
fn runs() -> &'static (Fixture, PathBuf) {
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

fn q3(table: &str) -> Table {
    read_parquet(&period_dir(&runs().1, "2025-Q3").join(table))
}

/// A fresh database on each backend: SQLite in a temp folder, and PostgreSQL when set.
async fn backends() -> Vec<(&'static str, ReviewDb, tempfile::TempDir)> {
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
struct App {
    router: axum::Router,
    db: ReviewDb,
    /// API tokens.
    rev: String,
    viewer: String,
    wenzhou: String,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl App {
    async fn new(db: ReviewDb) -> App {
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

    async fn send(&self, req: Request<Body>) -> Answer {
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

    async fn get(&self, uri: &str, auth: Auth<'_>) -> Answer {
        self.send(auth.apply(Request::get(uri)).body(Body::empty()).unwrap())
            .await
    }

    async fn post_json(&self, uri: &str, auth: Auth<'_>, body: Value) -> Answer {
        self.send(
            auth.apply(Request::post(uri))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn post_form(&self, uri: &str, auth: Auth<'_>, form: &str) -> Answer {
        self.send(
            auth.apply(Request::post(uri))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
    }

    /// Log in with the form: the session cookie and the CSRF token of its pages.
    async fn login(&self, name: &str) -> (String, String) {
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
    async fn d011_alert(&self) -> Value {
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
enum Auth<'a> {
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

async fn anonymous_is_sent_to_login_or_401(app: App) {
    for page in [
        "/",
        "/signals/drug/D011/Diarrhoea",
        "/cases/C000001",
        "/topics/1",
        "/rates",
        "/screening",
        "/topics",
    ] {
        let r = app.get(page, Auth::None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(r.headers[header::LOCATION], "/login", "{page}");
    }
    for api in [
        "/api/alerts",
        "/api/topics/1",
        "/api/cases/C000001",
        "/api/rates",
        "/api/screening",
        "/api/signals/drug/D011/Diarrhoea",
    ] {
        let r = app.get(api, Auth::None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{api}");
        assert_eq!(r.json()["error"], "unauthorized");
    }
    let r = app
        .post_json("/api/topics", Auth::None, json!({"alert_id": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .get("/api/alerts", Auth::Bearer("pvw_not-a-token"))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a wrong token is refused"
    );
    let r = app
        .get("/", Auth::Cookie("pvwatch_session=forged", None))
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "a forged session is anonymous"
    );
    // The login page itself is public, and a wrong password is refused with the form.
    assert_eq!(app.get("/login", Auth::None).await.status, StatusCode::OK);
    let r = app
        .post_form(
            "/login",
            Auth::None,
            "name=rev&password=wrong+password+here",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get(header::SET_COOKIE).is_none());
}
on_each_backend!(
    anonymous_requests_get_login_or_401,
    anonymous_is_sent_to_login_or_401
);

async fn logins_are_throttled(app: App) {
    for _ in 0..5 {
        let r = app
            .post_form(
                "/login",
                Auth::None,
                "name=viewer&password=wrong+password+here",
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now.
    let r = app
        .post_form(
            "/login",
            Auth::None,
            &format!("name=viewer&password={}", PASSWORD.replace(' ', "+")),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // Another user is not affected.
    app.login("rev").await;
}
on_each_backend!(repeated_failed_logins_are_throttled, logins_are_throttled);

async fn viewers_cannot_write(app: App) {
    let alert = app.d011_alert().await;
    let r = app
        .post_json(
            "/api/topics",
            Auth::Bearer(&app.viewer),
            json!({"alert_id": alert["alert_id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The page form too, with a valid CSRF token.
    let (cookie, csrf) = app.login("viewer").await;
    let r = app
        .post_form(
            "/topics",
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}&class=drug&product_id=D011&event=Diarrhoea"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let (rows, _) = app
        .db
        .list_topics(&Default::default(), &app.db.user("admin").await.unwrap())
        .await
        .unwrap();
    assert!(rows.is_empty(), "nothing was written");
    // A viewer's signal page has no decision form.
    let page = app
        .get("/signals/drug/D011/Diarrhoea", Auth::Cookie(&cookie, None))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("action=\"/topics\""),
        "no form for a viewer"
    );
}
on_each_backend!(a_viewer_post_is_403, viewers_cannot_write);

async fn csrf_is_required_for_cookie_sessions(app: App) {
    let (cookie, csrf) = app.login("rev").await;
    let body = json!({"class": "drug", "product_id": "D011", "event": "Diarrhoea"});
    let r = app
        .post_json("/api/topics", Auth::Cookie(&cookie, None), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token: {}", r.body);
    let r = app
        .post_json(
            "/api/topics",
            Auth::Cookie(&cookie, Some("wrong-token")),
            body.clone(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a wrong CSRF token: {}",
        r.body
    );
    let r = app
        .post_form(
            "/topics",
            Auth::Cookie(&cookie, None),
            "class=drug&product_id=D011&event=Diarrhoea",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a form without the token");
    let r = app
        .post_form(
            "/topics",
            Auth::Cookie(&cookie, None),
            &format!(
                "csrf={}x&class=drug&product_id=D011&event=Diarrhoea",
                &csrf[..42]
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a form with a wrong token");
    // A foreign Origin is refused even with the right token.
    let r = app
        .send(
            Request::post("/api/topics")
                .header(header::HOST, "localhost")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Logout needs the token too.
    let r = app
        .post_form("/logout", Auth::Cookie(&cookie, None), "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With the right token it works: the header for JSON, the field for forms.
    let r = app
        .post_json("/api/topics", Auth::Cookie(&cookie, Some(&csrf)), body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let r = app
        .post_form(
            &format!("/topics/{id}/transition"),
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}&to=validation&version=1&comment=checking&back=/topics/{id}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/topics/{id}").as_str()
    );
    let r = app
        .post_form(
            "/logout",
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.get("/", Auth::Cookie(&cookie, None)).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the session ended at logout"
    );
}
on_each_backend!(
    posts_without_or_with_a_wrong_csrf_token_are_403,
    csrf_is_required_for_cookie_sessions
);

async fn tokens_need_no_csrf_and_topics_follow_the_state_machine(app: App) {
    let alert = app.d011_alert().await;
    let r = app
        .post_json(
            "/api/topics",
            Auth::Bearer(&app.rev),
            json!({"alert_id": alert["alert_id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let t = r.json();
    assert_eq!(t["state"], "new");
    assert_eq!(t["version"], 1);
    assert_eq!(t["alert_id"], alert["alert_id"]);
    assert_eq!(
        t["due_date"], alert["due_date"],
        "the due date comes from the alert"
    );
    assert_eq!(t["history"].as_array().unwrap().len(), 1);
    let id = t["id"].as_i64().unwrap();
    // A second topic of the same signal is a conflict naming the first.
    let r = app
        .post_json(
            "/api/topics",
            Auth::Bearer(&app.rev),
            json!({"class": "drug", "product_id": "D011", "event": "Diarrhoea"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains(&format!("topic {id}")));

    let go = |to: &str, version: i64| json!({"to": to, "version": version, "comment": format!("to {to}"), "rationale": "per SOP"});
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            go("validation", 1),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same version again: stale.
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            go("validated", 1),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"], "conflict");
    // A transition the state machine refuses.
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            go("closed", 2),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            go("no_such_state", 2),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            json!({"to": "validated"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a missing version: {}",
        r.body
    );
    assert!(
        r.json()["message"].as_str().unwrap().contains("version"),
        "{}",
        r.body
    );
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.rev),
            go("validated", 2),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = r.json();
    assert_eq!(t["state"], "validated");
    assert_eq!(t["version"], 3);
    let history = t["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "refused changes leave no row");
    assert_eq!(history[2]["from_state"], "validation");
    assert_eq!(history[2]["comment"], "to validated");
    assert_eq!(history[2]["rationale"], "per SOP");
    assert_eq!(history[2]["user"], "rev");
    // The evidence stored is the latest period's a and EB05, read from signals.parquet.
    let signals = q3("signals.parquet");
    let row = signals.row_where(&[
        ("class", "drug"),
        ("product_id", "D011"),
        ("event", "Diarrhoea"),
    ]);
    assert_eq!(
        t["evidence_a"].as_i64().unwrap(),
        signals.get(row, "a").int()
    );
    assert_close(
        t["evidence_eb05"].as_f64().unwrap(),
        signals.get(row, "eb05").float(),
        1e-12,
    );
    // The queue shows the alert's current topic.
    let again = app.d011_alert().await;
    assert_eq!(again["topic_id"], id);
    assert_eq!(again["topic_state"], "validated");
    // GET returns the same topic with its history.
    let r = app
        .get(&format!("/api/topics/{id}"), Auth::Bearer(&app.viewer))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["history"].as_array().unwrap().len(), 3);
    // Assignment, then the assignee filter of the queue finds the alert.
    let r = app
        .post_json(
            &format!("/api/topics/{id}/assignment"),
            Auth::Bearer(&app.rev),
            json!({"assignee": "rev", "version": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .get(
            "/api/alerts?assignee=rev&limit=1000",
            Auth::Bearer(&app.rev),
        )
        .await;
    let page = r.json();
    let ids: Vec<&str> = page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&alert["alert_id"].as_str().unwrap()),
        "{ids:?}"
    );
    assert!(page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["product_id"] == "D011" && a["event"] == "Diarrhoea"));
    let r = app
        .get("/api/alerts?assignee=nobody", Auth::Bearer(&app.rev))
        .await;
    assert_eq!(r.json()["total"], 0);
}
on_each_backend!(
    a_bearer_token_works_without_csrf_stale_is_409_refused_is_422,
    tokens_need_no_csrf_and_topics_follow_the_state_machine
);

async fn city_users_get_404_outside_their_city(app: App) {
    // Cases of Wenzhou (3303…) and of another city, from cases.parquet.
    let cases = q3("cases.parquet");
    let find = |inside: bool| {
        (0..cases.rows.len())
            .map(|r| {
                (
                    cases.get(r, "case_id").str().to_string(),
                    cases.get(r, "region").str().to_string(),
                )
            })
            .find(|(_, region)| region.starts_with("3303") == inside)
            .unwrap()
    };
    let (own, _) = find(true);
    let (other, other_region) = find(false);
    let r = app
        .get(&format!("/api/cases/{own}"), Auth::Bearer(&app.wenzhou))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "their own city's case: {}",
        r.body
    );
    let r = app
        .get(&format!("/api/cases/{other}"), Auth::Bearer(&app.wenzhou))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{other} of {other_region}");
    let missing = app
        .get("/api/cases/NO-SUCH-CASE", Auth::Bearer(&app.wenzhou))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["error"],
        missing.json()["error"],
        "absent and out of region look alike"
    );
    let (cookie, _) = app.login("wenzhou").await;
    assert_eq!(
        app.get(&format!("/cases/{other}"), Auth::Cookie(&cookie, None))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/cases/{own}"), Auth::Cookie(&cookie, None))
            .await
            .status,
        StatusCode::OK
    );
    // The province user sees it.
    assert_eq!(
        app.get(&format!("/api/cases/{other}"), Auth::Bearer(&app.rev))
            .await
            .status,
        StatusCode::OK
    );

    // A topic of Hangzhou (330100): 404 for the Wenzhou user on every route.
    let admin = app.db.user("admin").await.unwrap();
    let t = app
        .db
        .create_topic(
            &NewTopic {
                class: "drug".into(),
                product_id: "D011".into(),
                event: "Diarrhoea".into(),
                region: Some("330100".into()),
                ..NewTopic::default()
            },
            &admin,
        )
        .await
        .unwrap();
    let id = t.row.id;
    let r = app
        .get(&format!("/api/topics/{id}"), Auth::Bearer(&app.wenzhou))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .post_json(
            &format!("/api/topics/{id}/transitions"),
            Auth::Bearer(&app.wenzhou),
            json!({"to": "validation", "version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        app.get(&format!("/topics/{id}"), Auth::Cookie(&cookie, None))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/api/topics", Auth::Bearer(&app.wenzhou)).await;
    assert_eq!(r.json()["total"], 0, "not listed either");
    assert_eq!(
        app.get(&format!("/api/topics/{id}"), Auth::Bearer(&app.rev))
            .await
            .status,
        StatusCode::OK
    );
    // The queue: only Wenzhou's alerts and those with no region.
    let r = app
        .get("/api/alerts?limit=1000", Auth::Bearer(&app.wenzhou))
        .await;
    let page = r.json();
    assert!(page["total"].as_u64().unwrap() > 0);
    for a in page["alerts"].as_array().unwrap() {
        let region = a["region"].as_str();
        assert!(region.is_none_or(|r| r.starts_with("3303")), "{a}");
    }
    // The signal's case series holds only Wenzhou's cases.
    let r = app
        .get(
            "/api/signals/drug/D011/Diarrhoea",
            Auth::Bearer(&app.wenzhou),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for c in r.json()["signal"]["cases"].as_array().unwrap() {
        assert!(c["region"].as_str().unwrap().starts_with("3303"), "{c}");
    }
}
on_each_backend!(
    a_city_user_gets_404_for_another_citys_case_or_topic,
    city_users_get_404_outside_their_city
);

async fn sql_metacharacters_are_harmless(app: App) {
    let evil = [
        "' OR '1'='1",
        "x'; DROP TABLE users; --",
        "\" OR 1=1 --",
        "%' UNION SELECT name, password_hash FROM users --",
    ];
    for e in evil {
        let enc = e.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        for field in ["product", "region", "soc", "assignee", "kind", "status"] {
            let r = app
                .get(
                    &format!("/api/alerts?{field}={enc}"),
                    Auth::Bearer(&app.rev),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{field}={e}: {}", r.body);
            assert_eq!(r.json()["total"], 0, "{field}={e}");
        }
        let r = app
            .get(
                &format!("/api/topics?assignee={enc}"),
                Auth::Bearer(&app.rev),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["total"], 0);
        let r = app
            .get(&format!("/api/topics?state={enc}"), Auth::Bearer(&app.rev))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app
            .get(&format!("/api/cases/{enc}"), Auth::Bearer(&app.rev))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = app
            .get(&format!("/?product={enc}"), Auth::Cookie("x=y", None))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    // The users are all still there and the unfiltered queue is whole.
    assert_eq!(app.db.users().await.unwrap().len(), 4);
    let r = app.get("/api/alerts?limit=1", Auth::Bearer(&app.rev)).await;
    assert_eq!(
        r.json()["total"].as_u64().unwrap() as usize,
        q3("alerts.parquet").rows.len()
    );
    // A bad filter value is a 422 naming the field.
    let r = app
        .get("/api/alerts?overdue=maybe", Auth::Bearer(&app.rev))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("overdue:"));
    let r = app
        .get("/api/alerts?sort=1;DROP", Auth::Bearer(&app.rev))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
on_each_backend!(
    filter_values_with_sql_metacharacters_are_harmless,
    sql_metacharacters_are_harmless
);

async fn script_in_a_product_name_is_escaped(app: App) {
    let alert = app.d011_alert().await;
    assert!(
        alert["product_name"].as_str().unwrap().contains(SCRIPT),
        "the data holds the tag"
    );
    let r = app
        .post_json(
            "/api/topics",
            Auth::Bearer(&app.rev),
            json!({"alert_id": alert["alert_id"], "comment": SCRIPT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_i64().unwrap();
    let (cookie, _) = app.login("rev").await;
    let case_id = app
        .get("/api/signals/drug/D011/Diarrhoea", Auth::Bearer(&app.rev))
        .await
        .json()["signal"]["cases"][0]["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
    for (page, shows_name) in [
        ("/?product=D011".to_string(), true),
        ("/?product=D011&lang=en".to_string(), true),
        ("/signals/drug/D011/Diarrhoea".to_string(), true),
        ("/screening".to_string(), true),
        (format!("/topics/{id}"), true),
        ("/topics".to_string(), true),
        (format!("/cases/{case_id}"), false),
        ("/rates".to_string(), false),
    ] {
        let r = app.get(&page, Auth::Cookie(&cookie, None)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.body);
        assert!(!r.body.contains("<script"), "{page} holds a raw script tag");
        if shows_name {
            assert!(r.body.contains(escaped), "{page} shows the escaped text");
        }
        assert!(r.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
}
on_each_backend!(
    a_script_tag_in_a_product_name_is_escaped_on_every_page,
    script_in_a_product_name_is_escaped
);

async fn pages_render_in_both_languages(app: App) {
    let (cookie, csrf) = app.login("rev").await;
    let zh = app.get("/", Auth::Cookie(&cookie, None)).await;
    assert!(
        zh.body.contains("预警队列"),
        "the pipeline's language by default"
    );
    let en = app.get("/?lang=en", Auth::Cookie(&cookie, None)).await;
    assert!(en.body.contains("Alert queue"));
    let set = en.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("pvwatch_lang=en"), "{set}");
    let both = format!("{cookie}; pvwatch_lang=en");
    assert!(app
        .get("/rates", Auth::Cookie(&both, None))
        .await
        .body
        .contains("Reporting rates"));
    // The queue pages with a cursor: the second page differs from the first.
    let first = app.get("/?limit=5", Auth::Cookie(&cookie, None)).await;
    let at = first.body.find("cursor=").expect("a next-page link");
    let start = first.body[..at].rfind("href=\"").unwrap() + 6;
    let next = first.body[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert!(next.contains("cursor="), "{next}");
    let second = app.get(&next, Auth::Cookie(&cookie, None)).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    // Open a topic from the signal page's form, record `validated`, see it in the history.
    let r = app
        .post_form(
            "/topics",
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}&class=drug&product_id=D011&event=Diarrhoea"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let topic_url = r.headers[header::LOCATION].to_str().unwrap().to_string();
    for (to, v) in [("validation", 1), ("validated", 2)] {
        let r = app
            .post_form(
                &format!("{topic_url}/transition"),
                Auth::Cookie(&cookie, None),
                &format!("csrf={csrf}&to={to}&version={v}&comment=seen+in+{to}&rationale=&outcome=&back=/signals/drug/D011/Diarrhoea"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.headers[header::LOCATION], "/signals/drug/D011/Diarrhoea");
    }
    let page = app
        .get("/signals/drug/D011/Diarrhoea", Auth::Cookie(&cookie, None))
        .await;
    assert!(
        page.body.contains("seen in validated"),
        "the history shows the comment"
    );
    assert!(page.body.contains("validation → validated"));
    assert!(page.body.contains("<svg"), "the chart");
    // A stale form is a 409 page in both languages.
    let r = app
        .post_form(
            &format!("{topic_url}/transition"),
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}&to=assessment&version=1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("nothing was saved") && r.body.contains("冲突"),
        "{}",
        r.body
    );
    // An open redirect is not followed.
    let r = app
        .post_form(
            &format!("{topic_url}/due"),
            Auth::Cookie(&cookie, None),
            &format!("csrf={csrf}&due_date=2030-01-01&reason=agreed&version=3&back=//evil.example"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], topic_url.as_str());
}
on_each_backend!(
    pages_switch_language_page_the_queue_and_record_decisions,
    pages_render_in_both_languages
);

/// The real binary: a decision over HTTP, SIGKILL, a restart: the decision and its audit
/// rows are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_survives_sigkill_and_restart() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (fx, out) = runs();
    let dir = tempfile::tempdir().unwrap();
    // A pipeline of its own whose output folder is the shared runs, with its own database.
    let toml = std::fs::read_to_string(fx.p("z.toml")).unwrap().replace(
        "output_dir = \"out\"",
        &format!("output_dir = \"{}\"", out.display()),
    );
    let toml = format!(
        "{toml}\n[review]\ndatabase_url = \"sqlite:{}/restart.db?mode=rwc\"\n",
        dir.path().display()
    );
    let pipeline = dir.path().join("p.toml");
    std::fs::write(&pipeline, toml).unwrap();
    let p = pipeline.to_str().unwrap();
    pvwatch(dir.path(), &["user", "add", p, "rev", "--role", "reviewer"]).expect_ok();
    let token = pvwatch(dir.path(), &["user", "token", p, "rev", "--quiet"]).stdout;
    let token = token
        .lines()
        .find(|l| l.starts_with("pvw_"))
        .expect("a token")
        .trim()
        .to_string();

    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pvwatch"))
            .args(["serve", p, "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_string();
        (child, format!("http://{addr}"))
    };
    let client = reqwest::Client::new();
    let (mut child, base) = start();
    let t: Value = client
        .post(format!("{base}/api/topics"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"class": "drug", "product_id": "D011", "event": "Diarrhoea"}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|b| serde_json::from_str(&b).unwrap())
        .unwrap();
    let id = t["id"].as_i64().expect("a topic");
    let r = client
        .post(format!("{base}/api/topics/{id}/transitions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"to": "validation", "version": 1, "comment": "before the crash"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, base) = start();
    let t: Value = client
        .get(format!("{base}/api/topics/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|b| serde_json::from_str(&b).unwrap())
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(t["state"], "validation");
    let h = t["history"].as_array().unwrap();
    assert_eq!(h.len(), 2, "{t}");
    assert_eq!(h[1]["comment"], "before the crash");
    assert_eq!(h[1]["user"], "rev");
    // And read directly from the file.
    let db = ReviewDb::open_sqlite(&dir.path().join("restart.db"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM topic_events WHERE topic_id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 2);
}
