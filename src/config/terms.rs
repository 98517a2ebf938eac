//! Validated `[terms]` and `signals.levels`: the MedDRA release and the levels signals are
//! computed at.
//!
//! ```toml
//! [terms]
//! meddra = "meddra/MedAscii"   # a MedDRA ASCII release folder (llt.asc, pt.asc, …)
//! smq_scope = "narrow"         # or "broad" (narrow and broad terms)
//!
//! [signals]
//! levels = ["pt", "hlt", "smq"]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Problems;
/// SMQ search scope (`[terms] smq_scope`): narrow terms only, or narrow and broad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmqScope {
    Narrow,
    Broad,
}

/// `[terms]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermsConfig {
    /// A MedDRA ASCII release folder, relative to the pipeline file.
    pub meddra: Option<String>,
    /// `narrow` (default) or `broad`.
    pub smq_scope: Option<String>,
}

/// Validated `[terms]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub meddra: Option<PathBuf>,
    pub smq_scope: SmqScope,
}

/// A level of the MedDRA hierarchy that signals are computed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TermLevel {
    /// The event as reported (no roll-up): today's rows.
    Event,
    Pt,
    Hlt,
    Hlgt,
    Soc,
    Smq,
}

impl TermLevel {
    pub const ALL: [TermLevel; 6] = [
        TermLevel::Event,
        TermLevel::Pt,
        TermLevel::Hlt,
        TermLevel::Hlgt,
        TermLevel::Soc,
        TermLevel::Smq,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TermLevel::Event => "event",
            TermLevel::Pt => "pt",
            TermLevel::Hlt => "hlt",
            TermLevel::Hlgt => "hlgt",
            TermLevel::Soc => "soc",
            TermLevel::Smq => "smq",
        }
    }

    /// Levels above PT need the hierarchy of a MedDRA release.
    pub fn needs_meddra(self) -> bool {
        !matches!(self, TermLevel::Event | TermLevel::Pt)
    }
}

/// Validate `[terms]` and `signals.levels` together: levels other than `event` need
/// `[terms]`, and levels above PT need `terms.meddra`. Without `levels`, a pipeline with
/// `[terms]` computes signals at PT level, and one without at event level (no `level`
/// column: today's table).
pub(super) fn validate_terms(
    raw: Option<TermsConfig>,
    levels: Option<Vec<String>>,
    base: &Path,
    p: &mut Problems,
) -> (Option<Terms>, Option<Vec<TermLevel>>) {
    let terms = raw.map(|t| {
        let meddra = t.meddra.map(|m| {
            let path = base.join(&m);
            if !path.is_dir() {
                let why = if path.exists() {
                    "is not a folder"
                } else {
                    "no such folder"
                };
                p.push(
                    "terms.meddra",
                    format!("expected a MedDRA ASCII release folder, found `{m}` ({why})"),
                );
            }
            path
        });
        let smq_scope = match t.smq_scope.as_deref() {
            None | Some("narrow") => SmqScope::Narrow,
            Some("broad") => SmqScope::Broad,
            Some(x) => {
                p.push(
                    "terms.smq_scope",
                    format!("expected one of `narrow`, `broad`, found `{x}`"),
                );
                SmqScope::Narrow
            }
        };
        Terms { meddra, smq_scope }
    });
    let levels = match levels {
        None => terms.as_ref().map(|_| vec![TermLevel::Pt]),
        Some(v) => {
            let mut out = Vec::new();
            for (i, x) in v.iter().enumerate() {
                let key = format!("signals.levels[{i}]");
                match TermLevel::ALL.iter().find(|l| l.name() == x) {
                    None => {
                        let list: Vec<String> = TermLevel::ALL
                            .iter()
                            .map(|l| format!("`{}`", l.name()))
                            .collect();
                        p.push(
                            key,
                            format!("expected one of {}, found `{x}`", list.join(", ")),
                        );
                    }
                    Some(l) if out.contains(l) => p.push(key, format!("`{x}` is listed twice")),
                    Some(&l) => {
                        let has_meddra = terms.as_ref().is_some_and(|t| t.meddra.is_some());
                        if l == TermLevel::Pt && terms.is_none() {
                            p.push(key, "`pt` needs a `[terms]` section (terms.meddra, or an `event_terms` table with a `pt` column)");
                        } else if l.needs_meddra() && !has_meddra {
                            p.push(
                                key,
                                format!("`{x}` needs the MedDRA hierarchy: set `terms.meddra` to a MedDRA ASCII release folder"),
                            );
                        }
                        out.push(l);
                    }
                }
            }
            if v.is_empty() {
                p.push(
                    "signals.levels",
                    "expected at least one level (of `event`, `pt`, `hlt`, `hlgt`, `soc`, `smq`), found none",
                );
            }
            Some(out)
        }
    };
    (terms, levels)
}
