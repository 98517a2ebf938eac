//! Pages: escaping on every page, languages, the queue's cursor, decisions by form.

use axum::http::{header, StatusCode};
use serde_json::json;

use super::*;

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

/// Before the first run the queue is an empty page, and the API says there is no period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_folder_without_periods_serves_an_empty_queue() {
    use pvwatch::catalog::Catalog;
    use pvwatch::review_db::{ReviewDb, Role};
    let dir = tempfile::tempdir().unwrap();
    let db = ReviewDb::open_sqlite(&dir.path().join("pvwatch.db"))
        .await
        .unwrap();
    db.add_user("v", Role::Viewer, None).await.unwrap();
    let token = db.new_api_token("v").await.unwrap();
    let catalog = Catalog::open(dir.path(), Some("zhejiang-quarterly")).unwrap();
    let state =
        pvwatch::serve::AppState::new(db, catalog, pvwatch::Lang::En, "zhejiang-quarterly", false);
    let app = App::from_state(state, &token);
    let r = app.get("/?lang=en", Auth::Bearer(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("<strong>0</strong> matching alerts"),
        "{}",
        r.body
    );
    let r = app.get("/api/alerts", Auth::Bearer(&token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["message"], "not found: no published period");
}

/// A case with several report versions: its page lists every version received by the
/// cut-off, the superseded ones marked, counted independently from case_versions.parquet.
async fn a_case_page_lists_every_report_version(app: App) {
    let versions = q3("case_versions.parquet");
    let mut superseded: std::collections::BTreeMap<String, usize> = Default::default();
    for row in 0..versions.rows.len() {
        if versions.get(row, "superseded") == &crate::util::Value::Bool(true) {
            *superseded
                .entry(versions.get(row, "case_id").str().to_string())
                .or_default() += 1;
        }
    }
    let (case_id, n) = superseded
        .iter()
        .max_by_key(|(_, n)| **n)
        .expect("the sample data have follow-up reports");
    let (cookie, _) = app.login("rev").await;
    let r = app
        .get(
            &format!("/cases/{case_id}?period=2025-Q3&lang=en"),
            Auth::Cookie(&cookie, None),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let q3 = &r.body[r.body.find("Period 2025-Q3</h3>").expect("the Q3 versions")..];
    let table = &q3[..q3.find("</table>").expect("a table")];
    assert_eq!(table.matches("<td>Superseded</td>").count(), *n, "{table}");
    assert!(r.body.contains("Report versions"));
}
on_each_backend!(
    a_case_page_lists_every_report_version_on_each_backend,
    a_case_page_lists_every_report_version
);
