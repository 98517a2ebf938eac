//! Validated `[scope]` and `signals.background`: the run's jurisdiction, and which cases
//! the signal statistics count. The types and the region predicate live here; [`crate::scope`] filters a run's data by them.

use super::{Problems, Rates, ScopeConfig};
use crate::schema;

/// Check `[scope] regions` and `signals.background`, and default `rates.regions` to the
/// scope (rates cover the scope's regions; explicit `rates.regions` must lie inside it).
pub(super) fn validate_scope(
    raw: Option<ScopeConfig>,
    background: Option<String>,
    rates: &mut Rates,
    p: &mut Problems,
) -> Scope {
    let regions = raw.and_then(|s| s.regions);
    if let Some(list) = &regions {
        if list.is_empty() {
            p.push(
                "scope.regions",
                "expected at least one GB/T 2260 region code (leave out `[scope]` for every region), found none",
            );
        }
        for (i, r) in list.iter().enumerate() {
            if !schema::is_region_code(r) {
                p.push(
                    format!("scope.regions[{i}]"),
                    format!("expected a 6-digit GB/T 2260 region code, found `{r}`"),
                );
            } else if list[..i].contains(r) {
                p.push(
                    format!("scope.regions[{i}]"),
                    format!("`{r}` is listed twice"),
                );
            }
        }
    }
    let background = match background.as_deref() {
        None | Some("all") => Background::All,
        Some("scope") if regions.is_some() => Background::Scope,
        Some("scope") => {
            p.push(
                "signals.background",
                "`scope` needs `[scope] regions`; without them the background is every case",
            );
            Background::All
        }
        Some(other) => {
            p.push(
                "signals.background",
                format!("expected `all` or `scope`, found `{other}`"),
            );
            Background::All
        }
    };
    match (&regions, &rates.regions) {
        (Some(scope), None) => rates.regions = Some(scope.clone()),
        (Some(scope), Some(own)) => {
            for (i, r) in own.iter().enumerate() {
                if schema::is_region_code(r) && !covers(scope, r) {
                    p.push(
                        format!("rates.regions[{i}]"),
                        format!(
                            "expected a region inside scope.regions (`{}`), found `{r}`",
                            scope.join("`, `")
                        ),
                    );
                }
            }
        }
        (None, _) => {}
    }
    Scope {
        regions,
        background,
    }
}

/// `signals.background`: which cases the signal statistics count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    /// Every case of the class given (the default): a small jurisdiction's statistics are
    /// not starved of background.
    #[default]
    All,
    /// Only the cases in scope.
    Scope,
}

impl Background {
    pub fn as_str(&self) -> &'static str {
        match self {
            Background::All => "all",
            Background::Scope => "scope",
        }
    }
}

/// The validated `[scope]` table and `signals.background`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Scope {
    /// `None`: every region.
    pub regions: Option<Vec<String>>,
    #[serde(rename = "signals_background")]
    pub background: Background,
}

impl Scope {
    /// Whether a case coded to `region` (or a region of any level) is in scope.
    pub fn includes(&self, region: &str) -> bool {
        self.regions.as_deref().is_none_or(|l| covers(l, region))
    }
}

/// Whether any code of `list` covers `code`: a province code covers its two-digit prefix,
/// a city code its four-digit prefix, any other code only itself.
pub fn covers(list: &[String], code: &str) -> bool {
    list.iter().any(|r| {
        if r.len() != 6 || code.len() != 6 {
            return r == code;
        }
        if r.ends_with("0000") {
            code[..2] == r[..2]
        } else if r.ends_with("00") {
            code[..4] == r[..4]
        } else {
            code == r
        }
    })
}
