//! Access control: anonymous, throttled logins, viewers, CSRF, city users, SQL metacharacters.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

use super::*;
use pvwatch::review_db::NewTopic;

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
