//! `--reference DIR`: this run's outputs against a saved run's (README, "Performance").
//!
//! - Keys, counts and every non-float column: identical.
//! - Float columns: PRR, ROR, χ², their intervals, `expected` and every other float:
//!   identical, bit for bit or within [`IDENTICAL`] relative (one rounding).
//!   IC, IC025, IC975, EBGM, EB05 and EB95: within [`BAYES`] relative (their quantiles may be
//!   found by other, equally accurate iterations).
//! - Classes whose EBGM prior rule changed: the prior each class used is its `ebgm_prior`
//!   (`fitted`, `pooled` or `fixed`; `fitted` when the column is absent, as in runs saved
//!   before it existed). Where this run's prior differs from the reference's, that class's
//!   EBGM, EB05, EB95 and what they decide (the EBGM flag, the methods flagged, the signal,
//!   the screening list's rows, the alerts of the class) are reported with the size of the
//!   change instead of failing.
//! - `alerts.jsonl`: byte for byte, or line for line outside the classes above.
//!
//! Every difference is collected and printed before the comparison fails, so that one run
//! shows all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Result};
use polars::prelude::*;
use pvwatch::schema::col as c;
use pvwatch::signals::out;

use crate::read_parquet;

/// Relative difference accepted as identical: a last-bit rounding.
pub const IDENTICAL: f64 = 1e-15;
/// Relative difference accepted for the Bayesian statistics.
pub const BAYES: f64 = 1e-9;
/// The column recording which EBGM prior a row used.
pub const EBGM_PRIOR: &str = "ebgm_prior";

const BAYES_COLUMNS: [&str; 6] = [
    out::IC,
    out::IC025,
    out::IC975,
    out::EBGM,
    out::EB05,
    out::EB95,
];
/// What follows from the EBGM prior in `signals.parquet`.
const PRIOR_COLUMNS: [&str; 7] = [
    out::EBGM,
    out::EB05,
    out::EB95,
    out::EBGM_FLAG,
    out::N_METHODS_FLAGGED,
    out::IS_SIGNAL,
    EBGM_PRIOR,
];

fn tolerance(column: &str) -> f64 {
    if BAYES_COLUMNS.contains(&column) {
        BAYES
    } else {
        IDENTICAL
    }
}

/// The prior each class used: its `ebgm_prior` values, or `fitted` without the column.
fn priors(signals: &DataFrame) -> Result<BTreeMap<String, String>> {
    let classes = signals.column(c::CLASS)?.str()?.clone();
    let prior = match signals.column(EBGM_PRIOR) {
        Ok(p) => Some(p.cast(&DataType::String)?.str()?.clone()),
        Err(_) => None,
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, class) in classes.iter().enumerate() {
        let p = prior
            .as_ref()
            .and_then(|p| p.get(i))
            .unwrap_or("fitted")
            .to_string();
        out.entry(class.unwrap_or("").to_string())
            .or_default()
            .insert(p);
    }
    Ok(out
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect::<Vec<_>>().join("+")))
        .collect())
}

/// Differences found, per (column, class) for the excused ones.
#[derive(Default)]
pub struct Report {
    /// Failures: one line each.
    pub failures: Vec<String>,
    /// Excused differences: what, and how large.
    pub excused: Vec<String>,
    /// Largest relative difference of a float column outside the excused classes.
    pub worst: f64,
    pub worst_bayes: f64,
}

/// Compare one table with the reference's. `excused(column, class)` says whether a
/// difference there is reported rather than failed.
fn compare(
    name: &str,
    got: &DataFrame,
    want: &DataFrame,
    keys: &[&str],
    excused: &dyn Fn(&str, &str) -> bool,
    report: &mut Report,
) -> Result<()> {
    let sort = |df: &DataFrame| -> Result<DataFrame> {
        Ok(df.sort(
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            SortMultipleOptions::default(),
        )?)
    };
    let (got, want) = (sort(got)?, sort(want)?);
    if got.height() != want.height() {
        report.failures.push(format!(
            "{name}: {} rows, reference has {}",
            got.height(),
            want.height()
        ));
        return Ok(());
    }
    for k in keys {
        let same = got
            .column(k)?
            .as_materialized_series()
            .equals_missing(want.column(k)?.as_materialized_series());
        if !same {
            report
                .failures
                .push(format!("{name}: not the same {} keys", keys.join(", ")));
            return Ok(());
        }
    }
    let classes: Option<Vec<String>> = match got.column(c::CLASS) {
        Ok(cl) => Some(
            cl.cast(&DataType::String)?
                .str()?
                .iter()
                .map(|s| s.unwrap_or("").to_string())
                .collect(),
        ),
        Err(_) => None,
    };
    let class_of = |row: usize| classes.as_ref().map_or("", |c| c[row].as_str());
    for w in want.columns() {
        let column = w.name().as_str();
        let Ok(g) = got.column(column) else {
            report
                .failures
                .push(format!("{name}.{column}: missing from this run"));
            continue;
        };
        // Per class: (rows that differ, largest relative difference) — failing and excused.
        let mut bad: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        let mut ok: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        let mut note = |row: usize, rel: f64| {
            let class = class_of(row);
            let slot = if excused(column, class) {
                ok.entry(class).or_default()
            } else {
                bad.entry(class).or_default()
            };
            slot.0 += 1;
            slot.1 = slot.1.max(rel);
        };
        if matches!(w.dtype(), DataType::Float64) {
            let tol = tolerance(column);
            let is_bayes = tol == BAYES;
            for (row, (x, y)) in g.f64()?.iter().zip(w.f64()?.iter()).enumerate() {
                let rel = match (x, y) {
                    (Some(x), Some(y)) if x == y || (x.is_nan() && y.is_nan()) => 0.0,
                    (Some(x), Some(y)) => (x - y).abs() / x.abs().max(y.abs()),
                    (None, None) => 0.0,
                    _ => f64::INFINITY,
                };
                if rel > 0.0 && !excused(column, class_of(row)) {
                    if is_bayes {
                        report.worst_bayes = report.worst_bayes.max(rel);
                    } else {
                        report.worst = report.worst.max(rel);
                    }
                }
                if rel > tol || (rel > 0.0 && excused(column, class_of(row))) {
                    note(row, rel);
                }
            }
        } else {
            let same = g
                .as_materialized_series()
                .equal_missing(w.as_materialized_series())?;
            for (row, s) in same.iter().enumerate() {
                if s != Some(true) {
                    note(row, f64::INFINITY);
                }
            }
        }
        let describe = |(class, (n, rel)): (&&str, &(u64, f64))| {
            let size = if rel.is_finite() {
                format!(", largest relative difference {rel:.3e}")
            } else {
                String::new()
            };
            let class = if class.is_empty() {
                String::new()
            } else {
                format!(" (class {class})")
            };
            format!("{name}.{column}{class}: {n} rows differ{size}")
        };
        for entry in &bad {
            let tol = tolerance(column);
            report
                .failures
                .push(format!("{} (allowed: {tol:e})", describe(entry)));
        }
        report.excused.extend(ok.iter().map(describe));
    }
    Ok(())
}

/// Compare this run (`run_dir`) with the reference in `from`; print what differs and fail
/// on any difference not excused.
pub fn check(run_dir: &Path, from: &Path, signals: &DataFrame) -> Result<()> {
    let want_signals = read_parquet(&from.join("signals.parquet"))?;
    let (ours, theirs) = (priors(signals)?, priors(&want_signals)?);
    let changed: BTreeSet<String> = ours
        .iter()
        .filter(|(class, p)| theirs.get(*class).is_some_and(|t| t != *p))
        .map(|(class, _)| class.clone())
        .collect();
    for class in &changed {
        eprintln!(
            "   class {class}: EBGM prior {} (reference: {}): its EBGM differences are reported, not checked",
            ours[class], theirs[class]
        );
    }
    let mut report = Report::default();
    compare(
        "signals",
        signals,
        &want_signals,
        &[c::CLASS, c::PRODUCT_ID, c::EVENT],
        &|column, class| changed.contains(class) && PRIOR_COLUMNS.contains(&column),
        &mut report,
    )?;
    compare(
        "rates",
        &read_parquet(&run_dir.join("rates.parquet"))?,
        &read_parquet(&from.join("rates.parquet"))?,
        &[c::LEVEL, c::REGION, c::CLASS],
        &|_, _| false,
        &mut report,
    )?;
    if from.join("screening.parquet").exists() {
        compare(
            "screening",
            &read_parquet(&run_dir.join("screening.parquet"))?,
            &read_parquet(&from.join("screening.parquet"))?,
            &[c::PRODUCT_ID],
            &|_, class| changed.contains(class),
            &mut report,
        )?;
    }
    if let Ok(want) = std::fs::read_to_string(from.join("alerts.jsonl")) {
        let got = std::fs::read_to_string(run_dir.join("alerts.jsonl"))?;
        if got != want {
            alerts(&got, &want, &changed, &mut report)?;
        }
    }
    for e in &report.excused {
        eprintln!("   excused (prior changed): {e}");
    }
    if !report.failures.is_empty() {
        for f in &report.failures {
            eprintln!("   DIFFERS: {f}");
        }
        bail!(
            "{} difference(s) from the reference (see above)",
            report.failures.len()
        );
    }
    eprintln!(
        "   same as the reference: counts, PRR/ROR/χ² and other floats within {IDENTICAL:e} (largest {:.3e}), IC/EBGM within {BAYES:e} (largest {:.3e}){}",
        report.worst,
        report.worst_bayes,
        if report.excused.is_empty() {
            ""
        } else {
            "; the excused differences above aside"
        }
    );
    Ok(())
}

/// Alerts differ: outside the classes whose prior changed they must still be the same
/// lines in the same order.
fn alerts(got: &str, want: &str, changed: &BTreeSet<String>, report: &mut Report) -> Result<()> {
    if changed.is_empty() {
        report
            .failures
            .push("alerts.jsonl differs from the reference".into());
        return Ok(());
    }
    let split = |text: &str| -> Result<(Vec<String>, usize)> {
        let mut kept = Vec::new();
        let mut dropped = 0;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            match v["class"].as_str() {
                Some(class) if changed.contains(class) => dropped += 1,
                _ => kept.push(line.to_string()),
            }
        }
        Ok((kept, dropped))
    };
    let ((g, gd), (w, wd)) = (split(got)?, split(want)?);
    if g != w {
        report.failures.push(format!(
            "alerts.jsonl differs from the reference outside the classes whose prior changed ({} and {} lines)",
            g.len(),
            w.len()
        ));
    } else {
        report.excused.push(format!(
            "alerts.jsonl: {gd} alerts of the classes whose prior changed ({wd} in the reference); the other {} lines identical",
            g.len()
        ));
    }
    Ok(())
}
