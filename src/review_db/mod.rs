//! The review database: users, credentials, sessions and signal topics with their
//! append-only history (issue 20). No HTTP here; `pvwatch serve` and `pvwatch run` use it.
//!
//! One code path serves both backends through sqlx's `Any` driver:
//!
//! - **SQLite** by default, the file `<output_dir>/pvwatch.db`, created and migrated on
//!   first use; every connection runs in WAL mode with foreign keys on and a busy timeout.
//! - **PostgreSQL** when `[review] database_url` names one (or `env:NAME` reads it).
//!
//! Queries are plain SQL checked at run time (the test suite runs on both backends), with
//! `$N` placeholders, which both drivers accept. Ids are allocated from the `counters`
//! table in the same transaction and timestamps are UTC RFC 3339 text made in Rust, so
//! the one migration set needs no dialect's identity columns or clock functions. Every
//! write transaction starts with a write, so SQLite takes its write lock first and waits
//! on the busy timeout rather than failing to upgrade a read.
//!
//! Files by concern: `migrate.rs` (the embedded versioned migrations), `state.rs` (the
//! pure GVP IX state machine), `users.rs` (users and roles), `auth.rs` (argon2id, API
//! tokens, sessions with CSRF tokens, login throttling), `topics.rs` (topics, history,
//! optimistic versions), `cli.rs` (`pvwatch user …`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::review::redact_url;
use crate::config::DatabaseUrl;
use crate::Pipeline;

pub mod auth;
pub mod batch;
pub mod cli;
mod migrate;
/// The topic state machine, which lives in [`crate::topic_state`] (pure) so that the
/// batch can use it without the database.
pub use crate::topic_state as state;
pub mod topics;
pub mod users;

pub use auth::{NewSession, Session};
pub use state::{Outcome, State, TransitionError};
pub use topics::{NewTopic, Topic, TopicEvent, TopicFilter, TopicRow, Transition};
pub use users::{Role, User};

/// The file name of the default SQLite database, in the pipeline's output folder.
pub const SQLITE_FILE: &str = "pvwatch.db";

/// How long a connection waits for another's write lock (SQLite) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the review database. [`DbError::exit_code`] maps them to the CLI's codes.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be named: a missing `env:` variable, an unsupported URL.
    #[error("review database: {0}")]
    Config(String),
    /// Connecting or migrating failed. `target` never shows a password.
    #[error("review database {target}: {message}")]
    Open { target: String, message: String },
    /// A query failed: the database's own message.
    #[error("review database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("user `{0}` already exists")]
    UserExists(String),
    /// A value that the caller can correct (name, role, region, password, comment…).
    #[error("{0}")]
    Invalid(String),
    /// The acting user's role does not allow the change.
    #[error("user `{user}` ({role}) may not {action}")]
    Forbidden {
        user: String,
        role: Role,
        action: &'static str,
    },
    /// No such topic, or one outside the user's region (the same answer, on purpose).
    #[error("topic {0} not found")]
    TopicNotFound(i64),
    /// Another save came first: nothing was written, the caller reloads and retries.
    #[error("topic {id} was changed by someone else: it is now at version {current}, your change was made on version {yours}; nothing was saved, reload the topic and apply your change again")]
    Conflict { id: i64, current: i64, yours: i64 },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Hashing failed inside argon2 (never for well-formed input).
    #[error("password hashing: {0}")]
    Hash(String),
}

impl DbError {
    /// The process exit code for the CLI: 2 for what the user can correct, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        use crate::error::{EXIT_FAILURE, EXIT_USAGE};
        match self {
            DbError::Config(_)
            | DbError::UnknownUser(_)
            | DbError::UserExists(_)
            | DbError::Invalid(_)
            | DbError::Forbidden { .. }
            | DbError::TopicNotFound(_)
            | DbError::Conflict { .. }
            | DbError::Transition(_) => EXIT_USAGE,
            DbError::Open { .. } | DbError::Sqlx(_) | DbError::Hash(_) => EXIT_FAILURE,
        }
    }
}

impl From<DbError> for crate::error::Error {
    fn from(e: DbError) -> Self {
        crate::error::Error::Review(crate::error::ReviewError {
            exit_code: e.exit_code(),
            error: Box::new(e),
        })
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The open, migrated review database. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct ReviewDb {
    pool: AnyPool,
    backend: Backend,
    /// Where it is, for messages: a path or a URL with its password redacted.
    target: String,
}

impl std::fmt::Debug for ReviewDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewDb")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish()
    }
}

/// The URL the pipeline names: `Ok(None)` for the default SQLite file.
pub fn resolve_url(url: &DatabaseUrl) -> DbResult<Option<String>> {
    match url {
        DatabaseUrl::Default => Ok(None),
        DatabaseUrl::Url(u) => Ok(Some(u.clone())),
        DatabaseUrl::Env(name) => match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => {
                let v = v.trim().to_string();
                if crate::config::review::is_supported_url(&v) {
                    Ok(Some(v))
                } else {
                    Err(DbError::Config(format!(
                        "review.database_url = `env:{name}`: expected a `sqlite:`, `postgres://` or `postgresql://` URL in {name}, found `{}`",
                        redact_url(&v)
                    )))
                }
            }
            _ => Err(DbError::Config(format!(
                "review.database_url = `env:{name}`: the environment variable {name} is not set"
            ))),
        },
    }
}

impl ReviewDb {
    /// Open the pipeline's review database, creating and migrating it on first use.
    pub async fn open(pipeline: &Pipeline) -> DbResult<ReviewDb> {
        match resolve_url(&pipeline.review.database_url)? {
            Some(url) => ReviewDb::connect(&url).await,
            None => ReviewDb::open_sqlite(&pipeline.output_dir.join(SQLITE_FILE)).await,
        }
    }

    /// Open (creating if needed) an SQLite file, with its folder.
    pub async fn open_sqlite(path: &Path) -> DbResult<ReviewDb> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Open {
                target: path.display().to_string(),
                message: format!("cannot create the folder {}: {e}", dir.display()),
            })?;
        }
        let url = sqlx::ConnectOptions::to_url_lossy(
            &sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        );
        ReviewDb::connect_target(url.as_str(), path.display().to_string()).await
    }

    /// Connect to a `sqlite:`, `postgres://` or `postgresql://` URL and migrate.
    pub async fn connect(url: &str) -> DbResult<ReviewDb> {
        let target = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            redact_url(url)
        };
        ReviewDb::connect_target(url, target).await
    }

    async fn connect_target(url: &str, target: String) -> DbResult<ReviewDb> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::Config(format!(
                "expected a `sqlite:`, `postgres://` or `postgresql://` URL, found `{}`",
                redact_url(url)
            )));
        };
        let open_err = |message: String| DbError::Open {
            target: target.clone(),
            message,
        };
        // The driver's own message can quote the URL; show ours, with the password hidden.
        let options = AnyConnectOptions::from_str(url)
            .map_err(|_| open_err("not a valid database URL".to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
                                BUSY_TIMEOUT.as_millis()
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| open_err(format!("cannot connect: {}", scrub(&e.to_string(), url))))?;
        migrate::run(&pool, backend)
            .await
            .map_err(|e| open_err(format!("migration failed: {e}")))?;
        Ok(ReviewDb {
            pool,
            backend,
            target,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the database is, for messages (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The pool, for tests and the HTTP layer's health check.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close every connection (a clean stop; SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Remove a URL's password from a driver message that may quote it.
fn scrub(message: &str, url: &str) -> String {
    let redacted = redact_url(url);
    if redacted == url {
        return message.to_string();
    }
    message.replace(url, &redacted)
}

/// Now, as stored: UTC RFC 3339 with milliseconds (`2026-01-31T08:00:00.000Z`), which
/// sorts as text in both databases.
pub(crate) fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A default database path, for messages and tests.
pub fn default_sqlite_path(pipeline: &Pipeline) -> PathBuf {
    pipeline.output_dir.join(SQLITE_FILE)
}

#[cfg(test)]
mod tests;
