//! The review database against real backends: every test runs on a fresh SQLite file in a
//! temp folder, and again on a fresh PostgreSQL database when `PVWATCH_TEST_POSTGRES_URL`
//! names a server (`.ci/run` starts a throwaway cluster and sets it).

use super::*;
use crate::review_db::topics::{NewTopic, TopicFilter, Transition};

/// A fresh database per backend: (label, db, the temp folder kept alive for SQLite).
async fn backends() -> Vec<(String, ReviewDb, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = ReviewDb::open_sqlite(&dir.path().join(SQLITE_FILE))
        .await
        .expect("open sqlite");
    let mut out = vec![("sqlite".to_string(), sqlite, Some(dir))];
    if let Ok(url) = std::env::var("PVWATCH_TEST_POSTGRES_URL") {
        out.push(("postgres".to_string(), fresh_postgres(&url).await, None));
    }
    out
}

/// A new, empty PostgreSQL database on the server of `url`.
async fn fresh_postgres(url: &str) -> ReviewDb {
    use sqlx::Connection;
    let name = format!(
        "pvwatch_test_{}",
        auth::random_secret().unwrap()[..12]
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test server");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    ReviewDb::connect(&format!("{base}/{name}{query}"))
        .await
        .expect("open postgres")
}

macro_rules! on_each_backend {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for (label, db, _dir) in backends().await {
                eprintln!("{}: {label}", stringify!($name));
                $body(db).await;
            }
        }
    };
}

async fn reviewer(db: &ReviewDb, name: &str, region: Option<&str>) -> User {
    db.add_user(name, Role::Reviewer, region).await.unwrap()
}

fn signal(product: &str, region: Option<&str>) -> NewTopic {
    NewTopic {
        class: "drug".into(),
        product_id: product.into(),
        event: "Hepatotoxicity".into(),
        region: region.map(str::to_string),
        alert_id: Some(format!("alert-{product}")),
        due_date: Some("2026-03-31".into()),
        evidence_a: Some(6),
        evidence_eb05: Some(2.5),
        comment: None,
    }
}

fn step(to: State, version: i64) -> Transition {
    Transition {
        to,
        outcome: None,
        comment: Some(format!("to {to}")),
        rationale: None,
        version,
        evidence_a: None,
        evidence_eb05: None,
    }
}

async fn users_are_unique_and_checked(db: ReviewDb) {
    let li = db
        .add_user("li", Role::Admin, Some("330100"))
        .await
        .unwrap();
    assert_eq!(li.role, Role::Admin);
    assert_eq!(li.region.as_deref(), Some("330100"));
    assert!(!li.has_password);
    assert!(matches!(
        db.add_user("li", Role::Viewer, None).await,
        Err(DbError::UserExists(n)) if n == "li"
    ));
    assert_eq!(
        db.add_user("wang", Role::Viewer, Some("33010"))
            .await
            .unwrap_err()
            .to_string(),
        "region: expected a 6-digit GB/T 2260 region code, found `33010`"
    );
    assert!(matches!(
        db.add_user("a b", Role::Viewer, None).await,
        Err(DbError::Invalid(_))
    ));
    db.add_user("chen", Role::Viewer, None).await.unwrap();
    let names: Vec<String> = db
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["chen", "li"]);
    db.remove_user("chen").await.unwrap();
    assert!(matches!(
        db.remove_user("chen").await,
        Err(DbError::UnknownUser(_))
    ));
    assert_eq!(db.users().await.unwrap().len(), 1);
}
on_each_backend!(users_unique_and_checked, users_are_unique_and_checked);

async fn passwords_verify_and_end_sessions(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    // No password yet: no login, even with an empty one.
    assert_eq!(db.verify_password("li", "").await.unwrap(), None);
    db.set_password("li", "correct horse battery")
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE name = 'li'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        db.verify_password("li", "correct horse battery")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(li.id)
    );
    assert_eq!(
        db.verify_password("li", "correct horse batter")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.verify_password("nobody", "correct horse battery")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        db.set_password("li", "short").await,
        Err(DbError::Invalid(_))
    ));
    assert!(matches!(
        db.set_password("nobody", "long enough password").await,
        Err(DbError::UnknownUser(_))
    ));

    let s = db
        .create_session(&li, chrono::Duration::hours(8))
        .await
        .unwrap();
    let live = db.session(&s.token).await.unwrap().expect("live session");
    assert_eq!(live.user.name, "li");
    assert!(live.check_csrf(&s.csrf_token));
    assert!(!live.check_csrf("forged"));
    // Only the hash is stored.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = $1")
        .bind(&s.token)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    db.set_password("li", "another long password")
        .await
        .unwrap();
    assert!(
        db.session(&s.token).await.unwrap().is_none(),
        "password change ends sessions"
    );

    let expired = db
        .create_session(&li, chrono::Duration::seconds(-1))
        .await
        .unwrap();
    assert!(db.session_user(&expired.token).await.unwrap().is_none());
    assert_eq!(db.purge_expired().await.unwrap(), 1);
    let s = db
        .create_session(&li, chrono::Duration::hours(1))
        .await
        .unwrap();
    db.delete_session(&s.token).await.unwrap();
    assert!(db.session(&s.token).await.unwrap().is_none());
}
on_each_backend!(passwords_and_sessions, passwords_verify_and_end_sessions);

async fn api_tokens_are_hashed_and_revocable(db: ReviewDb) {
    reviewer(&db, "li", Some("330000")).await;
    let token = db.new_api_token("li").await.unwrap();
    assert!(token.starts_with("pvw_"));
    assert_eq!(
        db.user_for_api_token(&token)
            .await
            .unwrap()
            .map(|u| u.name)
            .as_deref(),
        Some("li")
    );
    assert_eq!(db.user_for_api_token("pvw_guess").await.unwrap(), None);
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, [auth::token_hash(&token)]);
    assert_eq!(db.revoke_api_tokens("li").await.unwrap(), 1);
    assert_eq!(db.user_for_api_token(&token).await.unwrap(), None);
    assert!(matches!(
        db.new_api_token("nobody").await,
        Err(DbError::UnknownUser(_))
    ));
}
on_each_backend!(api_tokens, api_tokens_are_hashed_and_revocable);

async fn logins_are_throttled_after_repeated_failures(db: ReviewDb) {
    for _ in 0..auth::THROTTLE_FAILURES - 1 {
        db.record_login_failure("li").await.unwrap();
    }
    assert!(!db.login_throttled("li").await.unwrap());
    db.record_login_failure("li").await.unwrap();
    assert!(db.login_throttled("li").await.unwrap());
    assert!(!db.login_throttled("wang").await.unwrap());
    db.clear_login_failures("li").await.unwrap();
    assert!(!db.login_throttled("li").await.unwrap());
}
on_each_backend!(
    login_throttling,
    logins_are_throttled_after_repeated_failures
);

async fn a_topic_goes_through_gvp_with_full_history(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    let t = db
        .create_topic(&signal("P1", Some("330100")), &li)
        .await
        .unwrap();
    assert_eq!((t.row.state, t.row.version), (State::New, 1));
    assert_eq!(t.row.opened_by, "li");
    assert_eq!(t.history.len(), 1);
    assert_eq!(t.history[0].action, "create");
    let t = db
        .transition_topic(t.row.id, &step(State::Validation, 1), &li)
        .await
        .unwrap();
    let t = db
        .transition_topic(t.row.id, &step(State::NotValidated, 2), &li)
        .await
        .unwrap();
    let close = Transition {
        outcome: Some(Outcome::Refuted),
        rationale: Some("confounded by indication".into()),
        evidence_a: Some(9),
        evidence_eb05: Some(1.8),
        ..step(State::Closed, 3)
    };
    let t = db.transition_topic(t.row.id, &close, &li).await.unwrap();
    assert_eq!(t.row.state, State::Closed);
    assert_eq!(t.row.outcome, Some(Outcome::Refuted));
    assert_eq!(t.row.version, 4);
    assert_eq!(t.row.decided_by.as_deref(), Some("li"));
    assert_eq!(
        (t.row.evidence_a, t.row.evidence_eb05),
        (Some(9), Some(1.8))
    );
    assert_eq!(t.row.last_comment.as_deref(), Some("to closed"));
    let moves: Vec<(i64, Option<&str>, Option<&str>)> = t
        .history
        .iter()
        .map(|e| (e.version, e.from_state.as_deref(), e.to_state.as_deref()))
        .collect();
    assert_eq!(
        moves,
        [
            (1, None, Some("new")),
            (2, Some("new"), Some("validation")),
            (3, Some("validation"), Some("not_validated")),
            (4, Some("not_validated"), Some("closed")),
        ]
    );
    let last = &t.history[3];
    assert_eq!(last.outcome.as_deref(), Some("refuted"));
    assert_eq!(last.rationale.as_deref(), Some("confounded by indication"));
    assert_eq!(last.user, "li");

    let batch = db.topics_for_batch().await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0], t.row);
    assert_eq!(batch[0].opened_date().len(), 10);
}
on_each_backend!(topic_lifecycle, a_topic_goes_through_gvp_with_full_history);

async fn a_refused_transition_changes_nothing(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    let t = db.create_topic(&signal("P1", None), &li).await.unwrap();
    let skip = Transition {
        outcome: Some(Outcome::Known),
        ..step(State::Closed, 1)
    };
    let e = db.transition_topic(t.row.id, &skip, &li).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "a topic in state `new` cannot move to `closed` (allowed: `validation`)"
    );
    let after = db.topic(t.row.id, &li).await.unwrap();
    assert_eq!(after, t, "version, state and history as before");
}
on_each_backend!(refused_transition, a_refused_transition_changes_nothing);

async fn the_second_save_on_a_version_gets_a_conflict(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    let wang = reviewer(&db, "wang", None).await;
    let t = db.create_topic(&signal("P1", None), &li).await.unwrap();
    db.transition_topic(t.row.id, &step(State::Validation, 1), &li)
        .await
        .unwrap();
    let e = db
        .comment_topic(t.row.id, 1, "I looked at v1", &wang)
        .await
        .unwrap_err();
    assert!(matches!(e, DbError::Conflict { id, current: 2, yours: 1 } if id == t.row.id));
    assert_eq!(
        e.to_string(),
        format!("topic {} was changed by someone else: it is now at version 2, your change was made on version 1; nothing was saved, reload the topic and apply your change again", t.row.id)
    );
    let now = db.topic(t.row.id, &wang).await.unwrap();
    assert_eq!(now.row.state, State::Validation);
    assert_eq!(now.history.len(), 2);
    // Retried on the current version it is saved.
    let now = db
        .comment_topic(t.row.id, 2, "I looked at v2", &wang)
        .await
        .unwrap();
    assert_eq!(now.row.last_comment.as_deref(), Some("I looked at v2"));

    // Truly concurrent saves on one version: exactly one wins.
    let id = t.row.id;
    let (to_a, to_b) = (step(State::Validated, 3), step(State::NotValidated, 3));
    let (a, b) = tokio::join!(
        db.transition_topic(id, &to_a, &li),
        db.transition_topic(id, &to_b, &wang),
    );
    let wins = [a.is_ok(), b.is_ok()];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{a:?} {b:?}");
    let loser = match (a, b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("exactly one save wins: {other:?}"),
    };
    assert!(
        matches!(
            loser,
            DbError::Conflict {
                current: 4,
                yours: 3,
                ..
            }
        ),
        "{loser}"
    );
    let end = db.topic(id, &li).await.unwrap();
    assert_eq!(end.history.len(), 4);
    assert_eq!(end.row.version, 4);
}
on_each_backend!(
    optimistic_versions,
    the_second_save_on_a_version_gets_a_conflict
);

async fn audit_rows_cannot_be_updated_or_deleted(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    let t = db.create_topic(&signal("P1", None), &li).await.unwrap();
    let up = sqlx::query("UPDATE topic_events SET user_name = 'mallory' WHERE topic_id = $1")
        .bind(t.row.id)
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(up.to_string().contains("append-only"), "{up}");
    let del = sqlx::query("DELETE FROM topic_events")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(del.to_string().contains("append-only"), "{del}");
    let after = db.topic(t.row.id, &li).await.unwrap();
    assert_eq!(after.history, t.history);
    if db.backend() == Backend::Postgres {
        revoked_role_cannot_rewrite_history(&db).await;
    }
}

/// The README's REVOKE: an app role with SELECT and INSERT only on `topic_events` is
/// refused by privileges, before any trigger runs.
async fn revoked_role_cannot_rewrite_history(db: &ReviewDb) {
    let role = format!(
        "pvwatch_app_{}",
        &auth::token_hash(&auth::random_secret().unwrap())[..10]
    );
    let mut tx = db.pool().begin().await.unwrap();
    for sql in [
        format!("CREATE ROLE {role}"),
        format!("GRANT SELECT, INSERT ON topic_events TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON topic_events FROM {role}"),
        format!("SET LOCAL ROLE {role}"),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM topic_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let e = sqlx::query("UPDATE topic_events SET user_name = 'mallory'")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("permission denied"), "{e}");
    tx.rollback().await.unwrap();
}
on_each_backend!(audit_append_only, audit_rows_cannot_be_updated_or_deleted);

async fn users_see_only_their_region(db: ReviewDb) {
    let admin = db.add_user("admin", Role::Admin, None).await.unwrap();
    let hz = reviewer(&db, "hz", Some("330100")).await; // Hangzhou
    let zj = reviewer(&db, "zj", Some("330000")).await; // Zhejiang
    let in_hz = db
        .create_topic(&signal("P1", Some("330106")), &admin)
        .await
        .unwrap();
    let in_nb = db
        .create_topic(&signal("P2", Some("330200")), &admin)
        .await
        .unwrap();
    let whole = db.create_topic(&signal("P3", None), &admin).await.unwrap();
    let in_sh = db
        .create_topic(&signal("P4", Some("310000")), &admin)
        .await
        .unwrap();

    let ids = |rows: Vec<TopicRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = TopicFilter::default();
    let (rows, total) = db.list_topics(&all, &hz).await.unwrap();
    assert_eq!(ids(rows), [whole.row.id, in_hz.row.id]);
    assert_eq!(total, 2);
    let (rows, _) = db.list_topics(&all, &zj).await.unwrap();
    assert_eq!(ids(rows), [whole.row.id, in_nb.row.id, in_hz.row.id]);
    let (_, total) = db.list_topics(&all, &admin).await.unwrap();
    assert_eq!(total, 4);

    assert!(matches!(
        db.topic(in_nb.row.id, &hz).await,
        Err(DbError::TopicNotFound(_))
    ));
    assert!(db.topic(in_nb.row.id, &zj).await.is_ok());
    assert!(matches!(
        db.topic(in_sh.row.id, &zj).await,
        Err(DbError::TopicNotFound(_))
    ));
    // Out of region is not found for changes too, and nothing is written.
    assert!(matches!(
        db.transition_topic(in_nb.row.id, &step(State::Validation, 1), &hz)
            .await,
        Err(DbError::TopicNotFound(_))
    ));
    assert_eq!(db.topic(in_nb.row.id, &admin).await.unwrap(), in_nb);
    assert!(matches!(
        db.create_topic(&signal("P5", Some("330200")), &hz).await,
        Err(DbError::Forbidden { .. })
    ));
    // A region filter narrows further, and rows with no region are not "in" it.
    let f = TopicFilter {
        region: Some("330100".into()),
        ..TopicFilter::default()
    };
    assert_eq!(
        ids(db.list_topics(&f, &admin).await.unwrap().0),
        [in_hz.row.id]
    );
}
on_each_backend!(region_access, users_see_only_their_region);

async fn viewers_change_nothing(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    let v = db.add_user("v", Role::Viewer, None).await.unwrap();
    assert!(matches!(
        db.create_topic(&signal("P1", None), &v).await,
        Err(DbError::Forbidden { .. })
    ));
    let t = db.create_topic(&signal("P1", None), &li).await.unwrap();
    let e = db
        .transition_topic(t.row.id, &step(State::Validation, 1), &v)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "user `v` (viewer) may not change topics");
    assert!(db.topic(t.row.id, &v).await.is_ok(), "a viewer reads");
    assert!(matches!(
        db.assign_topic(t.row.id, 1, Some("v"), &li).await,
        Err(DbError::Invalid(_))
    ));
}
on_each_backend!(viewer_read_only, viewers_change_nothing);

async fn assignment_due_dates_and_filters(db: ReviewDb) {
    let li = reviewer(&db, "li", None).await;
    reviewer(&db, "wang", Some("330100")).await;
    let t = db
        .create_topic(&signal("P1", Some("330100")), &li)
        .await
        .unwrap();
    let other = db.create_topic(&signal("P2", None), &li).await.unwrap();
    let t = db
        .assign_topic(t.row.id, 1, Some("wang"), &li)
        .await
        .unwrap();
    assert_eq!(t.row.assignee.as_deref(), Some("wang"));
    assert!(matches!(
        db.change_due_date(t.row.id, 2, Some("2026-02-01"), "  ", &li).await,
        Err(DbError::Invalid(m)) if m == "reason: expected a value, found ``"
    ));
    assert!(matches!(
        db.change_due_date(t.row.id, 2, Some("2026-02-30"), "x", &li)
            .await,
        Err(DbError::Invalid(_))
    ));
    let t = db
        .change_due_date(
            t.row.id,
            2,
            Some("2026-02-01"),
            "waiting for the MAH's data",
            &li,
        )
        .await
        .unwrap();
    assert_eq!(t.row.due_date.as_deref(), Some("2026-02-01"));
    let last = t.history.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.rationale.as_deref()),
        ("due_date", Some("waiting for the MAH's data"))
    );
    assert!(t.row.overdue("2026-02-02"));
    assert!(!t.row.overdue("2026-02-01"));
    assert!(!other.row.overdue("2026-01-01"));

    let f = TopicFilter {
        overdue_on: Some("2026-03-01".into()),
        ..TopicFilter::default()
    };
    let (rows, _) = db.list_topics(&f, &li).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [t.row.id]);
    let f = TopicFilter {
        assignee: Some("wang".into()),
        ..TopicFilter::default()
    };
    assert_eq!(db.list_topics(&f, &li).await.unwrap().1, 1);
    // SQL metacharacters in a filter are values, not SQL.
    let f = TopicFilter {
        product_id: Some("P1' OR '1'='1".into()),
        ..TopicFilter::default()
    };
    assert_eq!(db.list_topics(&f, &li).await.unwrap().1, 0);
    let f = TopicFilter {
        limit: Some(1),
        offset: Some(1),
        ..TopicFilter::default()
    };
    let (rows, total) = db.list_topics(&f, &li).await.unwrap();
    assert_eq!((rows.len(), total, rows[0].id), (1, 2, t.row.id));
}
on_each_backend!(assignment_and_due_dates, assignment_due_dates_and_filters);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_survives_reopening_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join(SQLITE_FILE);
    let id = {
        let db = ReviewDb::open_sqlite(&path).await.unwrap();
        let li = reviewer(&db, "li", None).await;
        let t = db.create_topic(&signal("P1", None), &li).await.unwrap();
        db.transition_topic(t.row.id, &step(State::Validation, 1), &li)
            .await
            .unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // No close: the pool is dropped as a killed process would leave it.
        t.row.id
    };
    let db = ReviewDb::open_sqlite(&path).await.unwrap();
    let li = db.user("li").await.unwrap();
    let t = db.topic(id, &li).await.unwrap();
    assert_eq!(t.row.state, State::Validation);
    assert_eq!(t.history.len(), 2);
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test]
async fn a_missing_env_database_url_is_a_usage_error() {
    let e = resolve_url(&DatabaseUrl::Env("PVWATCH_TEST_SURELY_UNSET_VAR".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "review database: review.database_url = `env:PVWATCH_TEST_SURELY_UNSET_VAR`: the environment variable PVWATCH_TEST_SURELY_UNSET_VAR is not set"
    );
    assert_eq!(e.exit_code(), 2);
}

#[tokio::test]
async fn a_bad_password_in_a_url_is_never_shown() {
    // Nothing listens on port 9; the message names the server without the password.
    let e = ReviewDb::connect("postgres://pv:s3cret@127.0.0.1:9/pv")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.starts_with("review database postgres://pv:[redacted]@127.0.0.1:9/pv: cannot connect"),
        "{text}"
    );
}
