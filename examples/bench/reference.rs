//! `--reference DIR`: this run's outputs against a saved run's (README, "Performance").
//!
//! - Keys, counts and every non-float column: identical.
//! - Float columns: PRR, ROR, χ², their intervals, `expected` and every other float:
//!   identical, bit for bit or within [`IDENTICAL`] relative (one rounding).
//!   IC, IC025, IC975, EBGM, EB05 and EB95: within [`BAYES`] relative (their quantiles may be
//!   found by other, equally accurate iterations). IC is a log2 ratio that crosses zero, so
//!   its difference is taken relative to `max(|x|, |y|, 1)`: near IC = 0 a last-digit change
//!   of the ratio is a large relative change of its logarithm.
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

/// Columns on a log scale, compared relative to `max(|x|, |y|, 1)`.
const LOG_COLUMNS: [&str; 3] = [out::IC, out::IC025, out::IC975];

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
            let floor = if LOG_COLUMNS.contains(&column) {
                1.0
            } else {
                0.0
            };
            for (row, (x, y)) in g.f64()?.iter().zip(w.f64()?.iter()).enumerate() {
                let rel = match (x, y) {
                    (Some(x), Some(y)) if x == y || (x.is_nan() && y.is_nan()) => 0.0,
                    // A NaN or an infinity against another value differs entirely.
                    (Some(x), Some(y)) => {
                        let rel = (x - y).abs() / x.abs().max(y.abs()).max(floor);
                        if rel.is_nan() {
                            f64::INFINITY
                        } else {
                            rel
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small signals table: two classes, three pairs.
    fn signals(prr: [f64; 3], eb05: [f64; 3], a: [i64; 3], prior: Option<[&str; 3]>) -> DataFrame {
        let mut df = df!(
            c::CLASS => ["device", "drug", "drug"],
            c::PRODUCT_ID => ["M1", "D1", "D2"],
            c::EVENT => ["Rash", "Rash", "Rash"],
            "a" => a,
            out::PRR => prr,
            out::EB05 => eb05,
        )
        .unwrap();
        if let Some(p) = prior {
            df.with_column(Column::new(EBGM_PRIOR.into(), p)).unwrap();
        }
        df
    }

    fn keys() -> [&'static str; 3] {
        [c::CLASS, c::PRODUCT_ID, c::EVENT]
    }

    fn run(got: &DataFrame, want: &DataFrame, changed: &[&str]) -> Report {
        let mut report = Report::default();
        let excused =
            |column: &str, class: &str| changed.contains(&class) && PRIOR_COLUMNS.contains(&column);
        compare("signals", got, want, &keys(), &excused, &mut report).unwrap();
        report
    }

    const PRR: [f64; 3] = [2.5, 1.0 / 3.0, 7.0];
    const EB05: [f64; 3] = [1.2, 0.8, 3.1];
    const A: [i64; 3] = [3, 10, 4];

    #[test]
    fn identical_runs_pass_in_any_row_order() {
        let want = signals(PRR, EB05, A, None);
        let got = want.reverse();
        let r = run(&got, &want, &[]);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert_eq!((r.worst, r.worst_bayes), (0.0, 0.0));
    }

    #[test]
    fn ratios_must_be_identical_to_one_rounding() {
        let want = signals(PRR, EB05, A, None);
        // One unit in the last place of 1/3 passes.
        let next = f64::from_bits(PRR[1].to_bits() + 1);
        let r = run(&signals([PRR[0], next, PRR[2]], EB05, A, None), &want, &[]);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert!(r.worst > 0.0 && r.worst <= IDENTICAL);
        // 1e-13 relative does not.
        let off = PRR[2] * (1.0 + 1e-13);
        let r = run(&signals([PRR[0], PRR[1], off], EB05, A, None), &want, &[]);
        assert_eq!(r.failures.len(), 1);
        assert!(r.failures[0].starts_with("signals.prr (class drug): 1 rows differ"));
    }

    #[test]
    fn bayesian_statistics_within_1e9() {
        let want = signals(PRR, EB05, A, None);
        let near = [EB05[0], EB05[1] * (1.0 + 1e-10), EB05[2]];
        let r = run(&signals(PRR, near, A, None), &want, &[]);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert!(r.worst_bayes > 5e-11 && r.worst_bayes < 2e-10);
        let far = [EB05[0], EB05[1] * (1.0 + 1e-8), EB05[2]];
        let r = run(&signals(PRR, far, A, None), &want, &[]);
        assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
        assert!(r.failures[0].contains("signals.eb05 (class drug)"));
    }

    #[test]
    fn counts_exact_and_nulls_matched() {
        let want = signals(PRR, EB05, A, None);
        let r = run(&signals(PRR, EB05, [3, 11, 4], None), &want, &[]);
        assert_eq!(
            r.failures,
            vec!["signals.a (class drug): 1 rows differ (allowed: 1e-15)"]
        );
        let mut got = signals(PRR, EB05, A, None);
        got.with_column(Column::new(
            out::PRR.into(),
            [Some(PRR[0]), None, Some(PRR[2])],
        ))
        .unwrap();
        let r = run(&got, &want, &[]);
        assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
        // An infinity or a NaN against a number is a difference, not a NaN that passes.
        for odd in [f64::INFINITY, f64::NAN] {
            let r = run(&signals([PRR[0], odd, PRR[2]], EB05, A, None), &want, &[]);
            assert_eq!(r.failures.len(), 1, "{odd}: {:?}", r.failures);
        }
        let inf = signals([PRR[0], f64::INFINITY, PRR[2]], EB05, A, None);
        assert!(run(&inf, &inf, &[]).failures.is_empty());
    }

    #[test]
    fn a_class_whose_prior_changed_is_reported_not_failed() {
        let want = signals(PRR, EB05, A, None);
        let got = signals(
            PRR,
            [EB05[0] * 1.01, EB05[1], EB05[2]],
            A,
            Some(["pooled", "fitted", "fitted"]),
        );
        let changed: BTreeSet<String> = priors(&got)
            .unwrap()
            .into_iter()
            .filter(|(class, p)| priors(&want).unwrap()[class] != *p)
            .map(|(class, _)| class)
            .collect();
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), vec!["device"]);
        let r = run(&got, &want, &["device"]);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert_eq!(r.excused.len(), 1);
        assert!(r.excused[0].starts_with("signals.eb05 (class device): 1 rows differ"));
        // The same change in a class whose prior did not change fails.
        let r = run(&got, &want, &[]);
        assert_eq!(r.failures.len(), 1);
        // And a PRR change in the excused class still fails.
        let got = signals([PRR[0] * 1.01, PRR[1], PRR[2]], EB05, A, None);
        assert_eq!(run(&got, &want, &["device"]).failures.len(), 1);
    }

    #[test]
    fn alerts_outside_changed_classes_must_be_the_same_lines() {
        let want = "{\"class\":\"device\",\"v\":1}\n{\"class\":\"drug\",\"v\":2}\n";
        let changed: BTreeSet<String> = ["device".to_string()].into();
        let mut r = Report::default();
        let got = "{\"class\":\"drug\",\"v\":2}\n";
        alerts(got, want, &changed, &mut r).unwrap();
        assert!(r.failures.is_empty());
        assert!(r.excused[0].starts_with("alerts.jsonl: 0 alerts"));
        let mut r = Report::default();
        alerts("{\"class\":\"drug\",\"v\":3}\n", want, &changed, &mut r).unwrap();
        assert_eq!(r.failures.len(), 1);
        let mut r = Report::default();
        alerts(got, want, &BTreeSet::new(), &mut r).unwrap();
        assert_eq!(r.failures.len(), 1);
    }
}
