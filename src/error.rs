//! Typed errors of the library, and the exit code each one maps to.
//!
//! Every variant names the file (and, where it applies, the line, column or key) so that
//! `main` can print a message a user can act on. The exit codes are part of the contract
//! (DESIGN.md, Command line): 1 run failure, 2 usage or configuration, 3 too many rejects.

use std::fmt;
use std::path::PathBuf;

use polars::prelude::PolarsError;

/// Exit code for a run failure (I/O or internal).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for a usage or configuration error (the pipeline file or an input's shape).
pub const EXIT_USAGE: i32 = 2;
/// Exit code when rejected input rows exceed `ingest.max_rejected_fraction`.
pub const EXIT_REJECTS: i32 = 3;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file could not be parsed or failed validation. Holds every problem.
    #[error("{0}")]
    Config(ConfigErrors),

    /// An input file does not meet the table contract as a whole (missing file, missing
    /// required column, unreadable header): no row can be accounted for.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },

    /// Some table has more rejected rows than the pipeline tolerates.
    #[error("{0}")]
    TooManyRejects(TooManyRejects),

    /// Some source file of `pvwatch convert` has more rejected rows than it tolerates.
    #[error("{}", .0.describe("--max-rejected-fraction"))]
    TooManyConvertRejects(TooManyRejects),

    /// Reading or writing a file failed. The cause is the error's source, so that `main`
    /// prints it once, after the path.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A polars operation failed; `context` says which file or stage.
    #[error("{context}")]
    Polars {
        context: String,
        #[source]
        source: PolarsError,
    },

    /// A stage would need more memory than the budget allows (see `memory`): stopped
    /// before it started, so nothing was written.
    #[error(
        "{stage}: {what} needs about {needed_gib:.1} GiB of memory, more than the {limit_gib:.1} GiB allowed ({limit_source}); nothing was written"
    )]
    Memory {
        stage: &'static str,
        what: String,
        needed_gib: f64,
        limit_gib: f64,
        limit_source: &'static str,
    },

    /// The review database (users, topics): see `review_db::DbError` for its exit codes.
    #[error(transparent)]
    Review(ReviewError),

    /// A failure injected for tests of the atomic publish (see `output::publish`).
    #[error("injected failure at `{0}` (PVWATCH_FAULT)")]
    Injected(String),
}

impl Error {
    /// The process exit code that a scheduler sees for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Input { .. } => EXIT_USAGE,
            Error::TooManyRejects(_) | Error::TooManyConvertRejects(_) => EXIT_REJECTS,
            Error::Review(e) => e.exit_code,
            Error::Io { .. } | Error::Polars { .. } | Error::Memory { .. } | Error::Injected(_) => {
                EXIT_FAILURE
            }
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A review database error with the exit code it stands for. Held as a trait object so
/// that this module does not depend on `review_db` (which depends on `config`, which
/// depends on this): `review_db` converts its `DbError` into it.
#[derive(Debug)]
pub struct ReviewError {
    pub exit_code: i32,
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for ReviewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ReviewError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Attach a file or stage to a polars error, so that no bare `PolarsError` reaches a user.
pub trait PolarsContext<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> PolarsContext<T> for std::result::Result<T, PolarsError> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Polars {
            context: context(),
            source,
        })
    }
}

/// One problem in a pipeline file: where (`key`, a dotted TOML path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

/// Every problem found in one pipeline file, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigErrors {
    /// One line per problem: `file: key: message`. `main` prefixes each with `error: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.key.is_empty() {
                write!(f, "{}: {}", self.file.display(), p.message)?;
            } else {
                write!(f, "{}: {}: {}", self.file.display(), p.key, p.message)?;
            }
        }
        Ok(())
    }
}

/// The tables whose rejected fraction is above the tolerance, with the first rejects.
#[derive(Debug, Clone)]
pub struct TooManyRejects {
    pub max_fraction: f64,
    /// (path, rejected rows, rows read)
    pub tables: Vec<(PathBuf, u64, u64)>,
    /// The first few rejects, already formatted as `file: line N, column `c`: ...`.
    pub examples: Vec<String>,
}

impl fmt::Display for TooManyRejects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("ingest.max_rejected_fraction"))
    }
}

impl TooManyRejects {
    /// The message, naming the setting that holds the tolerance.
    pub fn describe(&self, setting: &str) -> String {
        use std::fmt::Write;
        let mut f = String::new();
        for (i, (path, rejected, read)) in self.tables.iter().enumerate() {
            if i > 0 {
                f.push('\n');
            }
            let pct = if *read == 0 {
                0.0
            } else {
                100.0 * *rejected as f64 / *read as f64
            };
            let _ = write!(
                f,
                "{}: {rejected} of {read} rows rejected ({pct:.2}%), above {setting} = {}; nothing was written",
                path.display(),
                self.max_fraction
            );
        }
        for e in &self.examples {
            let _ = write!(f, "\n  {e}");
        }
        f
    }
}
