//! Topics over the API: tokens without CSRF, the state machine, conflicts, evidence.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

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
