//! Validated `[scope]` and `signals.background`: the run's jurisdiction, and which cases
//! the signal statistics count. The predicate itself lives in [`crate::scope`].

use super::{Problems, Rates, ScopeConfig};
use crate::schema;
use crate::scope::{covers, Background, Scope};

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
