//! Signal topics (EU GVP Module IX): a product × event of a class, optionally made from an
//! alert, tracked through [`State`]s with an append-only history (`topic_events`).
//!
//! Every change is one transaction: `UPDATE topics … WHERE id = $ AND version = $` first
//! (so SQLite takes its write lock first, and PostgreSQL's row lock makes a concurrent save
//! see the new version), then the audit row for the new version. When the UPDATE finds no
//! row at the caller's version the change is refused with [`DbError::Conflict`] naming the
//! current version, and nothing is written: the second of two reviewers loses nothing and
//! overwrites nothing. Audit rows are only ever inserted (triggers refuse UPDATE/DELETE).
//!
//! Region access: a user with a region sees a topic whose region falls in it, and every
//! topic with no region; any other topic is [`DbError::TopicNotFound`], as if absent.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::state::{Outcome, State};
use super::{now_text, DbError, DbResult, ReviewDb, User};

/// Longest comment, rationale or reason kept (characters).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// A topic's current row (what the batch reads), without its history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicRow {
    pub id: i64,
    pub class: String,
    pub product_id: String,
    pub event: String,
    /// GB/T 2260 code; `None`: the pipeline's whole scope.
    pub region: Option<String>,
    pub alert_id: Option<String>,
    #[serde(serialize_with = "ser_display")]
    pub state: State,
    #[serde(serialize_with = "ser_opt_display")]
    pub outcome: Option<Outcome>,
    /// Bumped by every change; a save names the version it was made on.
    pub version: i64,
    /// The assigned reviewer's name.
    pub assignee: Option<String>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    /// UTC RFC 3339.
    pub opened_at: String,
    pub opened_by: String,
    /// The last state transition: when and by whom.
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    /// Cases a and EB05 recorded at the last transition (or at opening), for the reopen rule.
    pub evidence_a: Option<i64>,
    pub evidence_eb05: Option<f64>,
    pub last_comment: Option<String>,
    pub updated_at: String,
}

impl TopicRow {
    /// Open and past its due date on `today` (`YYYY-MM-DD`).
    pub fn overdue(&self, today: &str) -> bool {
        self.state.is_open() && self.due_date.as_deref().is_some_and(|d| d < today)
    }

    /// The opening date, `YYYY-MM-DD`.
    pub fn opened_date(&self) -> &str {
        self.opened_at.get(..10).unwrap_or(&self.opened_at)
    }
}

/// A topic with its full history, oldest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Topic {
    #[serde(flatten)]
    pub row: TopicRow,
    pub history: Vec<TopicEvent>,
}

/// One audit row: the change that made a topic's `version`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicEvent {
    pub version: i64,
    pub at: String,
    pub user: String,
    /// `create`, `transition`, `assign`, `due_date` or `comment`.
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    pub rationale: Option<String>,
    pub assignee: Option<String>,
    pub due_date: Option<String>,
    pub evidence_a: Option<i64>,
    pub evidence_eb05: Option<f64>,
}

/// What a new topic is about.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewTopic {
    pub class: String,
    pub product_id: String,
    pub event: String,
    pub region: Option<String>,
    pub alert_id: Option<String>,
    /// From the alert's priority deadline, `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub evidence_a: Option<i64>,
    pub evidence_eb05: Option<f64>,
    pub comment: Option<String>,
}

/// A requested state change, made on `version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub to: State,
    pub outcome: Option<Outcome>,
    pub comment: Option<String>,
    pub rationale: Option<String>,
    pub version: i64,
    /// The evidence at this moment (cases a, EB05), stored for the reopen rule.
    pub evidence_a: Option<i64>,
    pub evidence_eb05: Option<f64>,
}

/// Filters of [`ReviewDb::list_topics`]; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicFilter {
    pub state: Option<State>,
    /// Only open (true) or only closed (false) topics.
    pub open: Option<bool>,
    pub class: Option<String>,
    pub product_id: Option<String>,
    pub event: Option<String>,
    pub alert_id: Option<String>,
    /// Topics whose region falls in this code (rows with no region are not "in" a region).
    pub region: Option<String>,
    /// The assignee's name.
    pub assignee: Option<String>,
    /// Open topics due before this date (`YYYY-MM-DD`, usually today).
    pub overdue_on: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

const TOPIC_COLUMNS: &str = "t.id, t.class, t.product_id, t.event, t.region, t.alert_id, t.state, \
    t.outcome, t.version, u.name AS assignee, t.due_date, t.opened_at, t.opened_by, t.decided_at, \
    t.decided_by, t.evidence_a, t.evidence_eb05, t.last_comment, t.updated_at";
const TOPIC_FROM: &str = "topics t LEFT JOIN users u ON u.id = t.assignee_id";

fn topic_from_row(r: &AnyRow) -> DbResult<TopicRow> {
    let state: String = r.try_get("state")?;
    let outcome: Option<String> = r.try_get("outcome")?;
    let bad = |what: &str, e: super::state::UnknownName| {
        DbError::Invalid(format!("stored topic {what}: {e}"))
    };
    Ok(TopicRow {
        id: r.try_get("id")?,
        class: r.try_get("class")?,
        product_id: r.try_get("product_id")?,
        event: r.try_get("event")?,
        region: r.try_get("region")?,
        alert_id: r.try_get("alert_id")?,
        state: state.parse().map_err(|e| bad("state", e))?,
        outcome: outcome
            .map(|o| o.parse())
            .transpose()
            .map_err(|e| bad("outcome", e))?,
        version: r.try_get("version")?,
        assignee: r.try_get("assignee")?,
        due_date: r.try_get("due_date")?,
        opened_at: r.try_get("opened_at")?,
        opened_by: r.try_get("opened_by")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by")?,
        evidence_a: r.try_get("evidence_a")?,
        evidence_eb05: r.try_get("evidence_eb05")?,
        last_comment: r.try_get("last_comment")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn event_from_row(r: &AnyRow) -> DbResult<TopicEvent> {
    Ok(TopicEvent {
        version: r.try_get("version")?,
        at: r.try_get("at")?,
        user: r.try_get("user_name")?,
        action: r.try_get("action")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        outcome: r.try_get("outcome")?,
        comment: r.try_get("comment")?,
        rationale: r.try_get("rationale")?,
        assignee: r.try_get("assignee")?,
        due_date: r.try_get("due_date")?,
        evidence_a: r.try_get("evidence_a")?,
        evidence_eb05: r.try_get("evidence_eb05")?,
    })
}

/// A trimmed optional text: empty is `None`; too long is an error naming the field.
fn text(field: &str, v: Option<&str>) -> DbResult<Option<String>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let n = v.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(DbError::Invalid(format!(
            "{field}: expected at most {MAX_TEXT_CHARS} characters, found {n}"
        )));
    }
    Ok(Some(v.to_string()))
}

fn required(field: &str, v: &str) -> DbResult<String> {
    text(field, Some(v))?
        .ok_or_else(|| DbError::Invalid(format!("{field}: expected a value, found ``")))
}

fn check_date(field: &str, d: &str) -> DbResult<()> {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| DbError::Invalid(format!("{field}: expected a date YYYY-MM-DD, found `{d}`")))
}

fn check_eb05(v: Option<f64>) -> DbResult<()> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => Err(DbError::Invalid(format!(
            "evidence_eb05: expected a number >= 0, found `{x}`"
        ))),
        _ => Ok(()),
    }
}

fn check_a(v: Option<i64>) -> DbResult<()> {
    match v {
        Some(a) if a < 0 => Err(DbError::Invalid(format!(
            "evidence_a: expected a count >= 0, found `{a}`"
        ))),
        _ => Ok(()),
    }
}

/// The audit row of one change (every field but the topic, version, time and user).
#[derive(Default)]
struct Audit<'a> {
    action: &'static str,
    from_state: Option<&'a str>,
    to_state: Option<&'a str>,
    outcome: Option<&'a str>,
    comment: Option<&'a str>,
    rationale: Option<&'a str>,
    assignee: Option<&'a str>,
    due_date: Option<&'a str>,
    evidence_a: Option<i64>,
    evidence_eb05: Option<f64>,
}

async fn append_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    topic: i64,
    version: i64,
    at: &str,
    user: &str,
    a: Audit<'_>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO topic_events (topic_id, version, at, user_name, action, from_state, \
         to_state, outcome, comment, rationale, assignee, due_date, evidence_a, evidence_eb05) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(topic)
    .bind(version)
    .bind(at)
    .bind(user)
    .bind(a.action)
    .bind(a.from_state)
    .bind(a.to_state)
    .bind(a.outcome)
    .bind(a.comment)
    .bind(a.rationale)
    .bind(a.assignee)
    .bind(a.due_date)
    .bind(a.evidence_a)
    .bind(a.evidence_eb05)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// SQL and binds narrowing topics to a user's region (rows with no region stay visible).
fn scope_clause(user: &User, first: usize) -> (String, Vec<String>) {
    match &user.region {
        None => (String::new(), vec![]),
        Some(code) => {
            let (expr, value) = region_prefix(code);
            (
                format!(" AND (t.region IS NULL OR {expr} = ${first})"),
                vec![value],
            )
        }
    }
}

/// How a code covers others ([`crate::config::scope::covers`]) as SQL over `t.region`.
fn region_prefix(code: &str) -> (&'static str, String) {
    if code.len() == 6 && code.ends_with("0000") {
        ("substr(t.region, 1, 2)", code[..2].to_string())
    } else if code.len() == 6 && code.ends_with("00") {
        ("substr(t.region, 1, 4)", code[..4].to_string())
    } else {
        ("t.region", code.to_string())
    }
}

impl ReviewDb {
    /// Open a topic in state `new` (version 1) with its `create` audit row.
    pub async fn create_topic(&self, new: &NewTopic, by: &User) -> DbResult<Topic> {
        by.require_reviewer("open topics")?;
        let class = required("class", &new.class)?;
        if !crate::schema::CLASSES.contains(&class.as_str()) {
            return Err(DbError::Invalid(format!(
                "class: expected `drug`, `device` or `cosmetic`, found `{class}`"
            )));
        }
        let product_id = required("product_id", &new.product_id)?;
        let event = required("event", &new.event)?;
        if let Some(r) = &new.region {
            super::users::check_region(r)?;
            if !by.sees(Some(r)) {
                return Err(DbError::Forbidden {
                    user: by.name.clone(),
                    role: by.role,
                    action: "open topics outside their region",
                });
            }
        }
        if let Some(d) = &new.due_date {
            check_date("due_date", d)?;
        }
        check_a(new.evidence_a)?;
        check_eb05(new.evidence_eb05)?;
        let comment = text("comment", new.comment.as_deref())?;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE counters SET next_id = next_id + 1 WHERE name = 'topics' RETURNING next_id",
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO topics (id, class, product_id, event, region, alert_id, state, version, \
             due_date, opened_at, opened_by, evidence_a, evidence_eb05, last_comment, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(id)
        .bind(&class)
        .bind(&product_id)
        .bind(&event)
        .bind(new.region.as_deref())
        .bind(new.alert_id.as_deref())
        .bind(State::New.as_str())
        .bind(new.due_date.as_deref())
        .bind(&now)
        .bind(&by.name)
        .bind(new.evidence_a)
        .bind(new.evidence_eb05)
        .bind(comment.as_deref())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            id,
            1,
            &now,
            &by.name,
            Audit {
                action: "create",
                to_state: Some(State::New.as_str()),
                comment: comment.as_deref(),
                due_date: new.due_date.as_deref(),
                evidence_a: new.evidence_a,
                evidence_eb05: new.evidence_eb05,
                ..Audit::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.topic(id, by).await
    }

    /// A topic with its history, as `user` may see it.
    pub async fn topic(&self, id: i64, user: &User) -> DbResult<Topic> {
        let row = self.topic_row(id).await?;
        if !user.sees(row.region.as_deref()) {
            return Err(DbError::TopicNotFound(id));
        }
        let events = sqlx::query("SELECT * FROM topic_events WHERE topic_id = $1 ORDER BY version")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let history = events.iter().map(event_from_row).collect::<DbResult<_>>()?;
        Ok(Topic { row, history })
    }

    async fn topic_row(&self, id: i64) -> DbResult<TopicRow> {
        let row = sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} WHERE t.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => topic_from_row(&r),
            None => Err(DbError::TopicNotFound(id)),
        }
    }

    /// The first step of every change: bump the version if it is still `version`, then
    /// read the row under the write lock. Absent or out of the user's region: not found;
    /// at another version: the conflict, naming the current version. The row returned
    /// has the new version and every other field as before the change.
    async fn bump(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
        version: i64,
        now: &str,
        by: &User,
    ) -> DbResult<TopicRow> {
        // Write first (see the module doc), then read.
        let done = sqlx::query(
            "UPDATE topics SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
        )
        .bind(now)
        .bind(id)
        .bind(version)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} WHERE t.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        let row = match row {
            Some(r) => topic_from_row(&r)?,
            None => return Err(DbError::TopicNotFound(id)),
        };
        if !by.sees(row.region.as_deref()) {
            return Err(DbError::TopicNotFound(id));
        }
        if done.rows_affected() == 0 {
            return Err(DbError::Conflict {
                id,
                current: row.version,
                yours: version,
            });
        }
        Ok(row)
    }

    /// Move a topic to another state, made on `t.version`. Records the evidence given and
    /// the decision's time and user; the audit row carries the comment and rationale.
    pub async fn transition_topic(&self, id: i64, t: &Transition, by: &User) -> DbResult<Topic> {
        by.require_reviewer("change topics")?;
        let comment = text("comment", t.comment.as_deref())?;
        let rationale = text("rationale", t.rationale.as_deref())?;
        check_a(t.evidence_a)?;
        check_eb05(t.evidence_eb05)?;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let row = self.bump(&mut tx, id, t.version, &now, by).await?;
        // Checked against the row as locked; a refusal drops `tx`, undoing the bump.
        let to = row.state.transition(t.to, t.outcome)?;
        let evidence_a = t.evidence_a.or(row.evidence_a);
        let evidence_eb05 = t.evidence_eb05.or(row.evidence_eb05);
        sqlx::query(
            "UPDATE topics SET state = $1, outcome = $2, decided_at = $3, decided_by = $4,              evidence_a = $5, evidence_eb05 = $6, last_comment = COALESCE($7, last_comment)              WHERE id = $8",
        )
        .bind(to.as_str())
        .bind(t.outcome.map(|o| o.as_str()))
        .bind(&now)
        .bind(&by.name)
        .bind(evidence_a)
        .bind(evidence_eb05)
        .bind(comment.as_deref())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            id,
            row.version,
            &now,
            &by.name,
            Audit {
                action: "transition",
                from_state: Some(row.state.as_str()),
                to_state: Some(to.as_str()),
                outcome: t.outcome.map(|o| o.as_str()),
                comment: comment.as_deref(),
                rationale: rationale.as_deref(),
                evidence_a,
                evidence_eb05,
                ..Audit::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.topic(id, by).await
    }

    /// Assign a topic to a reviewer (or unassign with `None`), made on `version`.
    pub async fn assign_topic(
        &self,
        id: i64,
        version: i64,
        assignee: Option<&str>,
        by: &User,
    ) -> DbResult<Topic> {
        by.require_reviewer("assign topics")?;
        let target = match assignee {
            Some(name) => {
                let u = self.user(name).await?;
                if !u.role.can_review() {
                    return Err(DbError::Invalid(format!(
                        "assignee: user `{name}` is a {}, who cannot work on topics",
                        u.role
                    )));
                }
                Some(u)
            }
            None => None,
        };
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let row = self.bump(&mut tx, id, version, &now, by).await?;
        if let Some(u) = &target {
            if !u.sees(row.region.as_deref()) {
                return Err(DbError::Invalid(format!(
                    "assignee: user `{}` cannot see this topic's region",
                    u.name
                )));
            }
        }
        sqlx::query("UPDATE topics SET assignee_id = $1 WHERE id = $2")
            .bind(target.as_ref().map(|u| u.id))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            id,
            row.version,
            &now,
            &by.name,
            Audit {
                action: "assign",
                assignee,
                ..Audit::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.topic(id, by).await
    }

    /// Change a topic's due date (or clear it), with the reason, made on `version`.
    pub async fn change_due_date(
        &self,
        id: i64,
        version: i64,
        due_date: Option<&str>,
        reason: &str,
        by: &User,
    ) -> DbResult<Topic> {
        by.require_reviewer("change due dates")?;
        if let Some(d) = due_date {
            check_date("due_date", d)?;
        }
        let reason = required("reason", reason)?;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let row = self.bump(&mut tx, id, version, &now, by).await?;
        sqlx::query("UPDATE topics SET due_date = $1 WHERE id = $2")
            .bind(due_date)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            id,
            row.version,
            &now,
            &by.name,
            Audit {
                action: "due_date",
                due_date,
                rationale: Some(&reason),
                ..Audit::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.topic(id, by).await
    }

    /// Add a comment to a topic, made on `version`.
    pub async fn comment_topic(
        &self,
        id: i64,
        version: i64,
        comment: &str,
        by: &User,
    ) -> DbResult<Topic> {
        by.require_reviewer("comment on topics")?;
        let comment = required("comment", comment)?;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let row = self.bump(&mut tx, id, version, &now, by).await?;
        sqlx::query("UPDATE topics SET last_comment = $1 WHERE id = $2")
            .bind(&comment)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            id,
            row.version,
            &now,
            &by.name,
            Audit {
                action: "comment",
                comment: Some(&comment),
                ..Audit::default()
            },
        )
        .await?;
        tx.commit().await?;
        self.topic(id, by).await
    }

    /// Topics `user` may see, narrowed by `f`, newest first; with the total before paging.
    pub async fn list_topics(
        &self,
        f: &TopicFilter,
        user: &User,
    ) -> DbResult<(Vec<TopicRow>, i64)> {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, v: String| {
            binds.push(v);
            sql.push_str(&clause.replace("$?", &format!("${}", binds.len())));
        };
        if let Some(s) = f.state {
            push(&mut sql, " AND t.state = $?", s.as_str().to_string());
        }
        match f.open {
            Some(true) => sql.push_str(" AND t.state <> 'closed'"),
            Some(false) => sql.push_str(" AND t.state = 'closed'"),
            None => {}
        }
        if let Some(v) = &f.class {
            push(&mut sql, " AND t.class = $?", v.clone());
        }
        if let Some(v) = &f.product_id {
            push(&mut sql, " AND t.product_id = $?", v.clone());
        }
        if let Some(v) = &f.event {
            push(&mut sql, " AND t.event = $?", v.clone());
        }
        if let Some(v) = &f.alert_id {
            push(&mut sql, " AND t.alert_id = $?", v.clone());
        }
        if let Some(code) = &f.region {
            let (expr, value) = region_prefix(code);
            push(&mut sql, &format!(" AND {expr} = $?"), value);
        }
        if let Some(v) = &f.assignee {
            push(&mut sql, " AND u.name = $?", v.clone());
        }
        if let Some(d) = &f.overdue_on {
            check_date("overdue_on", d)?;
            push(
                &mut sql,
                " AND t.state <> 'closed' AND t.due_date IS NOT NULL AND t.due_date < $?",
                d.clone(),
            );
        }
        let (scope, scope_binds) = scope_clause(user, binds.len() + 1);
        sql.push_str(&scope);
        binds.extend(scope_binds);

        let count_sql = format!("SELECT COUNT(*) FROM {TOPIC_FROM}{sql}");
        let mut q = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let total = q.fetch_one(&self.pool).await?;

        let limit = f.limit.unwrap_or(i64::MAX).clamp(0, i64::MAX);
        let offset = f.offset.unwrap_or(0).max(0);
        let list_sql = format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM}{sql} ORDER BY t.id DESC LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let mut q = sqlx::query(&list_sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let rows = rows.iter().map(topic_from_row).collect::<DbResult<_>>()?;
        Ok((rows, total))
    }

    /// Every topic, by id, for the batch (`pvwatch run`): the reopen rule and
    /// `signal_log.parquet` read these. No region filter: the batch sees the whole scope.
    pub async fn topics_for_batch(&self) -> DbResult<Vec<TopicRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOPIC_COLUMNS} FROM {TOPIC_FROM} ORDER BY t.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(topic_from_row).collect()
    }
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_display<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}
