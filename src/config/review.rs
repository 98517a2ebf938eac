//! `[review]`: where the review database lives and the rule that reopens a closed signal.
//!
//! ```toml
//! [review]
//! database_url = "env:PVWATCH_DATABASE_URL"   # or "postgres://…", "sqlite:/path/x.db"
//! reopen.cases_factor = 2.0                   # cases a at least doubled since the decision
//! reopen.eb05_rise = 0.5                      # or EB05 up by at least 50%
//! ```
//!
//! With no `database_url` the database is the SQLite file `<output_dir>/pvwatch.db`.
//! The URL may hold a password, so the validated type never prints it (`Debug` redacts).

use serde::Deserialize;

use super::Problems;

pub const DEFAULT_REOPEN_CASES_FACTOR: f64 = 2.0;
pub const DEFAULT_REOPEN_EB05_RISE: f64 = 0.5;

/// Raw `[review]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    pub database_url: Option<String>,
    #[serde(default)]
    pub reopen: ReopenConfig,
}

/// Raw `[review.reopen]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReopenConfig {
    pub cases_factor: Option<f64>,
    pub eb05_rise: Option<f64>,
}

/// Where the review database is, as the pipeline names it.
#[derive(Clone, PartialEq)]
pub enum DatabaseUrl {
    /// `<output_dir>/pvwatch.db`.
    Default,
    /// A URL written in the file (`sqlite:…`, `postgres://…`, `postgresql://…`).
    Url(String),
    /// `env:NAME`: read from the environment when the database is opened.
    Env(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Default => f.write_str("Default"),
            DatabaseUrl::Url(u) => write!(f, "Url({})", redact_url(u)),
            DatabaseUrl::Env(n) => write!(f, "Env({n})"),
        }
    }
}

/// `scheme://user:secret@host/db` -> `scheme://user:[redacted]@host/db`; anything else as is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The `[review] reopen` rule: a closed `refuted`/`labelled` signal is raised again when
/// its cases a reach `cases_factor` × the a recorded at the decision, or its EB05 reaches
/// (1 + `eb05_rise`) × the EB05 recorded then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reopen {
    pub cases_factor: f64,
    pub eb05_rise: f64,
}

/// Validated `[review]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub database_url: DatabaseUrl,
    pub reopen: Reopen,
}

impl Default for Review {
    fn default() -> Self {
        Review {
            database_url: DatabaseUrl::Default,
            reopen: Reopen {
                cases_factor: DEFAULT_REOPEN_CASES_FACTOR,
                eb05_rise: DEFAULT_REOPEN_EB05_RISE,
            },
        }
    }
}

pub(super) fn validate_review(raw: Option<ReviewConfig>, p: &mut Problems) -> Review {
    let Some(raw) = raw else {
        return Review::default();
    };
    let database_url = match raw.database_url {
        None => DatabaseUrl::Default,
        Some(u) => {
            let u = u.trim().to_string();
            if let Some(name) = u.strip_prefix("env:") {
                let ok =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    p.push(
                        "review.database_url",
                        format!("expected `env:NAME` with a variable name of letters, digits and `_`, found `{u}`"),
                    );
                }
                DatabaseUrl::Env(name.to_string())
            } else if is_supported_url(&u) {
                DatabaseUrl::Url(u)
            } else {
                p.push(
                    "review.database_url",
                    format!(
                        "expected a `sqlite:`, `postgres://` or `postgresql://` URL or `env:NAME`, found `{}`",
                        redact_url(&u)
                    ),
                );
                DatabaseUrl::Default
            }
        }
    };
    let cases_factor = raw
        .reopen
        .cases_factor
        .unwrap_or(DEFAULT_REOPEN_CASES_FACTOR);
    if !(cases_factor.is_finite() && cases_factor > 1.0) {
        p.push(
            "review.reopen.cases_factor",
            format!("expected a number > 1, found `{cases_factor}`"),
        );
    }
    let eb05_rise = raw.reopen.eb05_rise.unwrap_or(DEFAULT_REOPEN_EB05_RISE);
    if !(eb05_rise.is_finite() && eb05_rise > 0.0) {
        p.push(
            "review.reopen.eb05_rise",
            format!("expected a number > 0 (0.5 means +50%), found `{eb05_rise}`"),
        );
    }
    Review {
        database_url,
        reopen: Reopen {
            cases_factor,
            eb05_rise,
        },
    }
}

/// The URL schemes the review database accepts.
pub fn is_supported_url(u: &str) -> bool {
    u.starts_with("sqlite:") || u.starts_with("postgres://") || u.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: Option<ReviewConfig>) -> (Review, Vec<String>) {
        let mut p = Problems(Vec::new());
        let r = validate_review(raw, &mut p);
        (
            r,
            p.0.into_iter()
                .map(|c| format!("{}: {}", c.key, c.message))
                .collect(),
        )
    }

    #[test]
    fn absent_table_gives_the_defaults() {
        let (r, problems) = check(None);
        assert!(problems.is_empty());
        assert_eq!(r.database_url, DatabaseUrl::Default);
        assert_eq!(r.reopen.cases_factor, 2.0);
        assert_eq!(r.reopen.eb05_rise, 0.5);
    }

    #[test]
    fn env_and_urls_are_read() {
        let raw: ReviewConfig =
            toml::from_str("database_url = \"env:PV_DB\"\nreopen.cases_factor = 3\n").unwrap();
        let (r, problems) = check(Some(raw));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(r.database_url, DatabaseUrl::Env("PV_DB".into()));
        assert_eq!(r.reopen.cases_factor, 3.0);
        let raw: ReviewConfig =
            toml::from_str("database_url = \"postgres://pv:s3cret@db/pv\"").unwrap();
        let (r, _) = check(Some(raw));
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://pv:[redacted]@db/pv"), "{shown}");
    }

    #[test]
    fn bad_values_are_all_reported() {
        let raw: ReviewConfig = toml::from_str(
            "database_url = \"mysql://u:pw@h/db\"\nreopen.cases_factor = 1.0\nreopen.eb05_rise = -1\n",
        )
        .unwrap();
        let (_, problems) = check(Some(raw));
        assert_eq!(
            problems,
            vec![
                "review.database_url: expected a `sqlite:`, `postgres://` or `postgresql://` URL or `env:NAME`, found `mysql://u:[redacted]@h/db`".to_string(),
                "review.reopen.cases_factor: expected a number > 1, found `1`".to_string(),
                "review.reopen.eb05_rise: expected a number > 0 (0.5 means +50%), found `-1`".to_string(),
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = toml::from_str::<ReviewConfig>("reopen.case_factor = 2").unwrap_err();
        assert!(e.to_string().contains("unknown field `case_factor`"), "{e}");
    }
}
