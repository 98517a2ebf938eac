//! What `pvwatch run` reads of the review database (issue 20, item 4): every topic of the
//! tracking log, as [`crate::decisions::TopicRecord`]s for [`crate::decisions`], and the
//! `[review] reopen` rule as a [`ReopenRule`].
//!
//! A run never creates the database: with the default SQLite file (or a `sqlite:` URL)
//! that does not exist there is no topic, and the manifest says the file was not found.
//! A database that is named but cannot be opened (PostgreSQL down, a damaged file, an
//! `env:` variable not set) is an error: decisions are never silently ignored. The
//! manifest's `review_database` names the backend, where it is (never a password) and how
//! many topics were read.
//!
//! Mapping choices, where the database is looser than the batch:
//!
//! - dates: the database stores UTC timestamps; the batch takes the day in the pipeline's
//!   `ingest.timezone` (UTC+8 by default), the day a reviewer in China saw on the clock;
//! - `evidence_a` null (a topic opened and moved without the evidence being recorded):
//!   taken as 0 cases, so that a closed `refuted`/`labelled` topic suppresses nothing —
//!   a decision whose evidence is unknown cannot be checked against the reopen rule, and
//!   a raised alert is the safe side. Such topics are counted in the manifest
//!   (`topics_without_evidence`) and logged.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

use super::{resolve_url, Backend, DbError, DbResult, ReviewDb, TopicRow, SQLITE_FILE};
use crate::config::review::redact_url;
use crate::decisions::{Outcome, ReopenRule, TopicRecord, TopicState};
use crate::Pipeline;

/// Where the run's topics came from, for the manifest (`review_database`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicsSource {
    /// `sqlite`, `postgres`, or `none` when decisions were not read (`--no-decisions`).
    pub backend: &'static str,
    /// The SQLite file, or the PostgreSQL URL with its password redacted.
    pub database: Option<String>,
    /// Whether the database exists (an SQLite file not there yet: no topic, nothing created).
    pub found: bool,
    /// Topics read (every topic of the tracking log, whatever its region or state).
    pub topics_read: u64,
    /// Topics with no evidence recorded, taken as 0 cases (they suppress no alert).
    pub topics_without_evidence: u64,
    /// `--no-decisions`: the database was not read, so no decision applies to this run.
    pub skipped: bool,
}

impl TopicsSource {
    /// `--no-decisions`.
    pub fn skipped() -> TopicsSource {
        TopicsSource {
            backend: "none",
            database: None,
            found: false,
            topics_read: 0,
            topics_without_evidence: 0,
            skipped: true,
        }
    }
}

/// The topics and the reopen rule for one run, with where they came from.
#[derive(Debug, Clone)]
pub struct BatchDecisions {
    pub topics: Vec<TopicRecord>,
    pub reopen: ReopenRule,
    pub source: TopicsSource,
}

/// The pipeline's `[review] reopen` as the batch applies it.
pub fn reopen_rule(pipeline: &Pipeline) -> ReopenRule {
    ReopenRule {
        cases_factor: pipeline.review.reopen.cases_factor,
        eb05_rise: pipeline.review.reopen.eb05_rise,
    }
}

/// Where an SQLite database named by the pipeline lives: `None` for a server database or
/// an in-memory one.
fn sqlite_file(output_dir: &Path, url: Option<&str>) -> DbResult<Option<PathBuf>> {
    match url {
        None => Ok(Some(output_dir.join(SQLITE_FILE))),
        // An in-memory database holds no topic of an earlier session: nothing to read.
        Some(u) if u.contains(":memory:") || u.contains("mode=memory") => Ok(None),
        Some(u) if u.starts_with("sqlite:") => {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(u).map_err(|_| {
                DbError::Config(format!(
                    "review.database_url: not a valid SQLite URL: `{u}`"
                ))
            })?;
            Ok(Some(opts.get_filename().to_path_buf()))
        }
        Some(_) => Ok(None),
    }
}

/// Read the pipeline's tracking log for a run (see the module header).
pub async fn read_decisions(pipeline: &Pipeline) -> DbResult<BatchDecisions> {
    let reopen = reopen_rule(pipeline);
    let url = resolve_url(&pipeline.review.database_url)?;
    let file = sqlite_file(&pipeline.output_dir, url.as_deref())?;
    let (db, backend, database) = match (&file, &url) {
        (Some(path), _) => {
            let shown = path.display().to_string();
            if !path.exists() {
                tracing::debug!(database = %shown, "no review database yet: no topic applies");
                return Ok(BatchDecisions {
                    topics: Vec::new(),
                    reopen,
                    source: TopicsSource {
                        backend: "sqlite",
                        database: Some(shown),
                        found: false,
                        topics_read: 0,
                        topics_without_evidence: 0,
                        skipped: false,
                    },
                });
            }
            // `mode=rw`: never create the file, even if it vanished since the check.
            let url = sqlx::ConnectOptions::to_url_lossy(
                &sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(false),
            );
            let db = ReviewDb::connect(url.as_str())
                .await
                .map_err(|e| retarget(e, &shown))?;
            (db, "sqlite", shown)
        }
        (None, Some(u)) => {
            let db = ReviewDb::connect(u).await?;
            let backend = match db.backend() {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            };
            (db, backend, redact_url(u))
        }
        (None, None) => unreachable!("no URL means the default SQLite file"),
    };
    let rows = db.topics_for_batch().await;
    db.close().await;
    let rows = rows?;
    let mut without_evidence = 0;
    let topics = rows
        .iter()
        .map(|r| {
            if r.evidence_a.is_none() {
                without_evidence += 1;
                tracing::warn!(
                    topic = r.id,
                    "topic has no evidence recorded: taken as 0 cases, it suppresses no alert"
                );
            }
            topic_record(r, pipeline.timezone)
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(BatchDecisions {
        source: TopicsSource {
            backend,
            database: Some(database),
            found: true,
            topics_read: topics.len() as u64,
            topics_without_evidence: without_evidence,
            skipped: false,
        },
        topics,
        reopen,
    })
}

/// The same, on a runtime of its own: for the (synchronous) command line.
pub fn read_decisions_blocking(pipeline: &Pipeline) -> crate::Result<BatchDecisions> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::io("tokio runtime", e))?;
    Ok(runtime.block_on(read_decisions(pipeline))?)
}

/// An open error of the SQLite file named by its path rather than its connection URL.
fn retarget(e: DbError, path: &str) -> DbError {
    match e {
        DbError::Open { message, .. } => DbError::Open {
            target: path.to_string(),
            message,
        },
        e => e,
    }
}

/// A stored UTC timestamp as the day in `zone`.
fn day(field: &str, id: i64, at: &str, zone: FixedOffset) -> DbResult<NaiveDate> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&zone).date_naive())
        .map_err(|_| {
            DbError::Invalid(format!(
                "stored topic {id}: {field}: expected an RFC 3339 timestamp, found `{at}`"
            ))
        })
}

/// One database row as the batch's [`TopicRecord`].
pub fn topic_record(r: &TopicRow, zone: FixedOffset) -> DbResult<TopicRecord> {
    let state = TopicState::parse(r.state.as_str()).ok_or_else(|| {
        DbError::Invalid(format!(
            "stored topic {}: unknown state `{}`",
            r.id, r.state
        ))
    })?;
    let outcome = r
        .outcome
        .map(|o| {
            Outcome::parse(o.as_str()).ok_or_else(|| {
                DbError::Invalid(format!("stored topic {}: unknown outcome `{o}`", r.id))
            })
        })
        .transpose()?;
    Ok(TopicRecord {
        id: r.id,
        alert_id: r.alert_id.clone(),
        class: r.class.clone(),
        product_id: r.product_id.clone(),
        event: r.event.clone(),
        region: r.region.clone(),
        state,
        outcome,
        opened: day("opened_at", r.id, &r.opened_at, zone)?,
        decided_at: r
            .decided_at
            .as_deref()
            .map(|d| day("decided_at", r.id, d, zone))
            .transpose()?,
        decided_by: r.decided_by.clone(),
        evidence_a: r.evidence_a.unwrap_or(0),
        evidence_eb05: r.evidence_eb05,
        assignee: r.assignee.clone(),
        last_comment: r.last_comment.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review_db::State;

    fn row() -> TopicRow {
        TopicRow {
            id: 7,
            class: "drug".into(),
            product_id: "D008".into(),
            event: "Myocarditis".into(),
            region: Some("330100".into()),
            alert_id: Some("abc".into()),
            state: State::Closed,
            outcome: Some(crate::review_db::Outcome::Labelled),
            version: 4,
            assignee: Some("li".into()),
            due_date: None,
            opened_at: "2025-11-02T17:30:00.000Z".into(),
            opened_by: "wang".into(),
            decided_at: Some("2025-12-20T01:00:00.000Z".into()),
            decided_by: Some("wang".into()),
            evidence_a: Some(16),
            evidence_eb05: Some(2.5),
            last_comment: Some("见说明书".into()),
            updated_at: "2025-12-20T01:00:00.000Z".into(),
        }
    }

    fn utc8() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    #[test]
    fn a_row_maps_field_by_field_with_days_in_the_pipeline_zone() {
        let t = topic_record(&row(), utc8()).unwrap();
        assert_eq!(t.state, TopicState::Closed);
        assert_eq!(t.outcome, Some(Outcome::Labelled));
        // 17:30 UTC on 2 November is 01:30 on 3 November in Beijing.
        assert_eq!(t.opened, NaiveDate::from_ymd_opt(2025, 11, 3).unwrap());
        assert_eq!(t.decided_at, NaiveDate::from_ymd_opt(2025, 12, 20));
        assert_eq!((t.evidence_a, t.evidence_eb05), (16, Some(2.5)));
        assert_eq!(t.region.as_deref(), Some("330100"));
        assert_eq!(t.alert_id.as_deref(), Some("abc"));
        let utc = topic_record(&row(), FixedOffset::east_opt(0).unwrap()).unwrap();
        assert_eq!(utc.opened, NaiveDate::from_ymd_opt(2025, 11, 2).unwrap());
    }

    #[test]
    fn every_state_and_outcome_has_its_batch_twin() {
        for s in State::ALL {
            assert_eq!(
                TopicState::parse(s.as_str()).map(|t| t.as_str()),
                Some(s.as_str())
            );
        }
        for o in crate::review_db::Outcome::ALL {
            assert_eq!(
                Outcome::parse(o.as_str()).map(|t| t.as_str()),
                Some(o.as_str())
            );
        }
    }

    #[test]
    fn no_evidence_is_zero_cases_so_the_rule_raises_the_alert() {
        let t = topic_record(
            &TopicRow {
                evidence_a: None,
                evidence_eb05: None,
                ..row()
            },
            utc8(),
        )
        .unwrap();
        assert_eq!(t.evidence_a, 0);
        assert!(!ReopenRule::default()
            .growth(t.evidence_a, t.evidence_eb05, Some(1.0), None)
            .is_empty());
    }

    #[test]
    fn a_bad_timestamp_names_the_topic_and_field() {
        let e = topic_record(
            &TopicRow {
                opened_at: "yesterday".into(),
                ..row()
            },
            utc8(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "stored topic 7: opened_at: expected an RFC 3339 timestamp, found `yesterday`"
        );
    }

    #[test]
    fn sqlite_urls_name_their_file_and_memory_names_none() {
        let p = Path::new("/tmp/pv-out");
        assert_eq!(
            sqlite_file(p, None).unwrap(),
            Some(PathBuf::from("/tmp/pv-out/pvwatch.db"))
        );
        assert_eq!(
            sqlite_file(p, Some("sqlite:///var/pv/x.db")).unwrap(),
            Some(PathBuf::from("/var/pv/x.db"))
        );
        assert_eq!(sqlite_file(p, Some("sqlite::memory:")).unwrap(), None);
        assert_eq!(sqlite_file(p, Some("postgres://u:p@h/db")).unwrap(), None);
    }
}
