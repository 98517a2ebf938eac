//! The EBGM prior of each class: fitted over all pairs of the class, or, when that fit is
//! unusable, the prior pooled over every class of the run, or a fixed prior.
//!
//! Stage: `signals`. Reads the counts' `class`, `a` and `expected`; returns one
//! [`PriorReport`] per class (the manifest's `signals.priors`) whose `ebgm_prior` is the
//! value of that class's rows in the `ebgm_prior` column of `signals.parquet`.
//!
//! The rule, per class:
//!
//! - `[signals.ebgm] prior` given: that prior, for every class (`fixed`).
//! - Otherwise the class's own fit (`fitted`), unless it is unusable: fewer pairs than
//!   `signals.ebgm.min_pairs` (default 500), a parameter at a bound of the search box
//!   (`Fit::at_bound`), or no convergence. Then, with `fallback = "pooled"` (the
//!   default), one fit over the pairs of every class of the run (`pooled`); if that fit is
//!   unusable as well, or with `fallback = "fixed"`, `signals.ebgm.fallback_prior`
//!   (`fixed`; default openEBGM's published CAERS estimate, [`ebgm::OPENEBGM_CAERS_PRIOR`]).
//!
//! A prior that is never used silently: the reason is recorded ([`Reason`]) for the
//! manifest, the run summary and the review page, in English and Chinese.
//!
//! Invariants: deterministic (the fit is); every class with pairs gets exactly one report.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{counts, ebgm};
use crate::config::{Lang, PriorConfig, PriorFallback, Signals};
use crate::error::{PolarsContext, Result};
use crate::schema::col;

/// Which prior a class's EBGM uses: the `ebgm_prior` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorKind {
    /// Fitted over the pairs of the class.
    Fitted,
    /// Fitted over the pairs of every class of the run.
    Pooled,
    /// Given: `signals.ebgm.prior`, or the fallback prior.
    Fixed,
}

impl PriorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PriorKind::Fitted => "fitted",
            PriorKind::Pooled => "pooled",
            PriorKind::Fixed => "fixed",
        }
    }
}

/// Why a fit was not used.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The pipeline gives the prior (`signals.ebgm.prior`).
    PipelinePrior,
    TooFewPairs {
        pairs: u64,
        min: u64,
    },
    /// A parameter of the best fit sits on a bound of the search box.
    AtBound {
        parameter: &'static str,
        value: f64,
    },
    NotConverged,
}

impl Reason {
    /// The reason as a phrase, in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Reason::PipelinePrior, Lang::En) => {
                "the pipeline gives the prior (signals.ebgm.prior)".into()
            }
            (Reason::PipelinePrior, Lang::Zh) => "流水线指定了先验（signals.ebgm.prior）".into(),
            (Reason::TooFewPairs { pairs, min }, Lang::En) => {
                format!("too few pairs ({pairs}, fewer than the minimum {min}) to fit a prior")
            }
            (Reason::TooFewPairs { pairs, min }, Lang::Zh) => {
                format!("组合数太少（{pairs} 个，少于最低要求 {min} 个），无法拟合先验")
            }
            (Reason::AtBound { parameter, value }, Lang::En) => {
                format!("the fit ends at a bound of its search range ({parameter} = {value:.3e})")
            }
            (Reason::AtBound { parameter, value }, Lang::Zh) => {
                format!("拟合结果落在搜索范围的边界上（{parameter} = {value:.3e}）")
            }
            (Reason::NotConverged, Lang::En) => "the fit did not converge".into(),
            (Reason::NotConverged, Lang::Zh) => "拟合未收敛".into(),
        }
    }
}

/// The class's own fit, as the manifest records it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FitReport {
    pub alpha1: f64,
    pub beta1: f64,
    pub alpha2: f64,
    pub beta2: f64,
    pub p: f64,
    pub neg_log_lik: f64,
    pub iterations: u64,
    pub converged: bool,
    pub starts: usize,
    /// Starts whose optimum agreed with the best (as openEBGM's `num_close`).
    pub starts_agreeing: usize,
    /// Some parameter ended at a bound of the search box.
    pub at_bound: bool,
}

impl FitReport {
    fn of(fit: &ebgm::Fit) -> FitReport {
        FitReport {
            alpha1: fit.prior.alpha1,
            beta1: fit.prior.beta1,
            alpha2: fit.prior.alpha2,
            beta2: fit.prior.beta2,
            p: fit.prior.p,
            neg_log_lik: fit.neg_log_lik,
            iterations: fit.iterations,
            converged: fit.converged,
            starts: fit.starts,
            starts_agreeing: fit.starts_agreeing,
            at_bound: fit.at_bound,
        }
    }
}

/// How the EBGM prior of one class was obtained, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PriorReport {
    pub class: String,
    /// Pairs with `a ≥ 1` in the class, and how many distinct (a, expected) values.
    pub pairs: u64,
    pub distinct_pairs: u64,
    /// `fitted`, `pooled` or `fixed`: the `ebgm_prior` of the class's rows.
    pub ebgm_prior: PriorKind,
    /// Why the class does not use its own fit, in English (null when it does).
    pub reason: Option<String>,
    /// The same in Chinese.
    pub reason_zh: Option<String>,
    #[serde(skip)]
    pub why: Option<Reason>,
    /// Why the pooled fit was not used either, when the class fell back to the fixed prior.
    pub pooled_reason: Option<String>,
    #[serde(skip)]
    pub pooled_why: Option<Reason>,
    /// The prior EBGM uses for the class.
    pub alpha1: f64,
    pub beta1: f64,
    pub alpha2: f64,
    pub beta2: f64,
    pub p: f64,
    /// −log-likelihood of that prior over the class's pairs, in the chosen truncation.
    pub neg_log_lik: f64,
    /// The class's own fit, when one was made (null with a pipeline prior).
    pub class_fit: Option<FitReport>,
    /// The pooled fit, when the class fell back to it or tried to.
    pub pooled_fit: Option<FitReport>,
    /// Pairs of every class that the pooled fit used.
    pub pooled_pairs: Option<u64>,
    /// `mixture` or `per_component`.
    pub truncation: &'static str,
}

impl PriorReport {
    pub fn prior(&self) -> ebgm::Prior {
        ebgm::Prior {
            alpha1: self.alpha1,
            beta1: self.beta1,
            alpha2: self.alpha2,
            beta2: self.beta2,
            p: self.p,
        }
    }

    /// One sentence for a reviewer: which prior the class's EBGM uses and why.
    pub fn sentence(&self, lang: Lang) -> String {
        let class = &self.class;
        let why = |r: &Option<Reason>| r.as_ref().map(|r| r.text(lang)).unwrap_or_default();
        match (self.ebgm_prior, lang) {
            (PriorKind::Fitted, Lang::En) => format!(
                "{class}: EBGM uses the prior fitted to the class's own {} pairs",
                self.pairs
            ),
            (PriorKind::Fitted, Lang::Zh) => {
                format!("{class}：EBGM 使用按本类别 {} 个组合拟合的先验", self.pairs)
            }
            (PriorKind::Pooled, Lang::En) => format!(
                "{class}: {}; EBGM uses the prior pooled over all classes",
                why(&self.why)
            ),
            (PriorKind::Pooled, Lang::Zh) => {
                format!("{class}：{}；EBGM 使用合并所有类别拟合的先验", why(&self.why))
            }
            (PriorKind::Fixed, Lang::En) => match &self.pooled_why {
                Some(p) => format!(
                    "{class}: {}, and the prior pooled over all classes is unusable too ({}); EBGM uses the fixed prior",
                    why(&self.why),
                    p.text(lang)
                ),
                None => format!("{class}: {}; EBGM uses the fixed prior", why(&self.why)),
            },
            (PriorKind::Fixed, Lang::Zh) => match &self.pooled_why {
                Some(p) => format!(
                    "{class}：{}，合并所有类别拟合的先验也不可用（{}）；EBGM 使用固定先验",
                    why(&self.why),
                    p.text(lang)
                ),
                None => format!("{class}：{}；EBGM 使用固定先验", why(&self.why)),
            },
        }
    }
}

pub(super) fn to_prior(p: &PriorConfig) -> ebgm::Prior {
    ebgm::Prior {
        alpha1: p.alpha1,
        beta1: p.beta1,
        alpha2: p.alpha2,
        beta2: p.beta2,
        p: p.p,
    }
}

/// Distinct (a, expected) values of a class and their multiplicities.
pub(super) type DistinctPairs = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Why a fit over `pairs` pairs may not be used, or `None` if it may.
pub fn unusable(fit: &ebgm::Fit, pairs: u64, min_pairs: u64) -> Option<Reason> {
    if pairs < min_pairs {
        return Some(Reason::TooFewPairs {
            pairs,
            min: min_pairs,
        });
    }
    if fit.at_bound {
        let p = fit.prior;
        let near = |v: f64, lo: f64, hi: f64| {
            let (l, h) = (lo.ln(), hi.ln());
            (v.ln() - l).abs() < 1e-3 || (h - v.ln()).abs() < 1e-3
        };
        let logit = |v: f64| (v / (1.0 - v)).ln();
        let (lo, hi) = (ebgm::PARAM_MIN, ebgm::PARAM_MAX);
        let parameter = [
            ("α1", p.alpha1),
            ("β1", p.beta1),
            ("α2", p.alpha2),
            ("β2", p.beta2),
        ]
        .into_iter()
        .find(|(_, v)| near(*v, lo, hi))
        .or_else(|| {
            let (pl, ph) = (logit(ebgm::P_MIN), logit(ebgm::P_MAX));
            ((logit(p.p) - pl).abs() < 1e-3 || (ph - logit(p.p)).abs() < 1e-3).then_some(("P", p.p))
        })
        .unwrap_or(("a parameter", f64::NAN));
        return Some(Reason::AtBound {
            parameter: parameter.0,
            value: parameter.1,
        });
    }
    if !fit.converged || !fit.neg_log_lik.is_finite() {
        return Some(Reason::NotConverged);
    }
    None
}

fn nll(prior: &ebgm::Prior, d: &DistinctPairs, t: ebgm::Truncation) -> f64 {
    match t {
        ebgm::Truncation::Mixture => ebgm::neg_log_lik(prior, &d.0, &d.1, &d.2),
        ebgm::Truncation::PerComponent => ebgm::neg_log_lik_per_component(prior, &d.0, &d.1, &d.2),
    }
}

/// The distinct (a, E) of all classes together, with summed multiplicities, in the order
/// of (a, E): the classes' sorted runs merged.
fn pool(by_class: &BTreeMap<String, DistinctPairs>) -> DistinctPairs {
    let mut all: Vec<(u128, f64)> = by_class
        .values()
        .flat_map(|(n, e, w)| (0..n.len()).map(move |i| (pair_key(n[i], e[i]), w[i])))
        .collect();
    // A stable sort merges the classes' runs, each already in order, in linear time.
    all.sort_by_key(|x| x.0);
    let mut out = DistinctPairs::default();
    for run in all.chunk_by(|x, y| x.0 == y.0) {
        let (n, e) = unpack_key(run[0].0);
        out.0.push(n);
        out.1.push(e);
        out.2.push(run.iter().map(|r| r.1).sum());
    }
    out
}

/// `(a, E)` packed so that the integers' order is `(a.total_cmp, E.total_cmp)`: each half
/// is the value's bits with the sign bit flipped, and a negative value's other bits
/// inverted, as `f64::total_cmp` does. Sorting 600k such keys is several times faster than
/// sorting tuples with a string in front.
fn pair_key(a: f64, e: f64) -> u128 {
    (ordered_bits(a) as u128) << 64 | ordered_bits(e) as u128
}

/// The inverse of [`pair_key`].
fn unpack_key(key: u128) -> (f64, f64) {
    (
        from_ordered_bits((key >> 64) as u64),
        from_ordered_bits(key as u64),
    )
}

const SIGN: u64 = 1 << 63;

fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits & SIGN != 0 {
        !bits
    } else {
        bits | SIGN
    }
}

fn from_ordered_bits(key: u64) -> f64 {
    f64::from_bits(if key & SIGN != 0 { key & !SIGN } else { !key })
}

/// The distinct (a, expected) values of each class, with their multiplicities, each
/// class in the order of (a, E).
fn distinct_pairs(counts: &DataFrame) -> Result<BTreeMap<String, DistinctPairs>> {
    let ctx = || "signals: fitting the EBGM prior".to_string();
    // Each class's (a, E) as packed integer keys, sorted and run-length counted, which
    // needs a fraction of the memory of a hash group-by over millions of nearly distinct
    // expected counts. The classes are few, so a short list finds each row's.
    let class = counts
        .column(col::CLASS)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let a = counts
        .column(counts::A)
        .and_then(|c| c.i64().cloned())
        .context(ctx)?;
    let e = counts
        .column(counts::EXPECTED)
        .and_then(|c| c.f64().cloned())
        .context(ctx)?;
    let mut keys: Vec<(&str, Vec<u128>)> = Vec::new();
    for ((k, n), e) in class.iter().zip(a.iter()).zip(e.iter()) {
        let (Some(k), Some(n), Some(e)) = (k, n, e) else {
            continue;
        };
        let slot = match keys.iter().position(|(name, _)| *name == k) {
            Some(i) => i,
            None => {
                keys.push((k, Vec::new()));
                keys.len() - 1
            }
        };
        keys[slot].1.push(pair_key(n as f64, e));
    }
    let mut by_class = BTreeMap::new();
    for (k, mut v) in keys {
        v.sort_unstable();
        let mut d = DistinctPairs::default();
        for run in v.chunk_by(|x, y| x == y) {
            let (n, e) = unpack_key(run[0]);
            d.0.push(n);
            d.1.push(e);
            d.2.push(run.len() as f64);
        }
        by_class.insert(k.to_string(), d);
    }
    Ok(by_class)
}

/// Fit (or take) the EBGM prior of each class, over distinct (a, expected) with weights,
/// by the rule in the module header.
pub(super) fn priors(counts: &DataFrame, cfg: &Signals) -> Result<BTreeMap<String, PriorReport>> {
    let clock = std::time::Instant::now();
    let by_class = distinct_pairs(counts)?;
    tracing::debug!(
        elapsed_ms = clock.elapsed().as_millis() as u64,
        "EBGM fit: distinct (a, E) of each class"
    );
    Ok(choose_priors(&by_class, cfg))
}

/// The rule of the module header, on the distinct pairs of each class.
pub fn choose_priors(
    by_class: &BTreeMap<String, DistinctPairs>,
    cfg: &Signals,
) -> BTreeMap<String, PriorReport> {
    let truncation = if cfg.ebgm_per_component {
        ebgm::Truncation::PerComponent
    } else {
        ebgm::Truncation::Mixture
    };
    let fit = |d: &DistinctPairs| {
        ebgm::fit_prior_with(&d.0, &d.1, &d.2, &ebgm::DEFAULT_STARTS, truncation)
    };
    let total = |d: &DistinctPairs| d.2.iter().sum::<f64>() as u64;
    // The pooled fit, made at most once and only if a class needs it.
    let mut pooled: Option<(ebgm::Fit, u64)> = None;
    let mut out = BTreeMap::new();
    for (k, d) in by_class {
        let pairs = total(d);
        let mut report = PriorReport {
            class: k.clone(),
            pairs,
            distinct_pairs: d.0.len() as u64,
            ebgm_prior: PriorKind::Fitted,
            reason: None,
            reason_zh: None,
            why: None,
            pooled_reason: None,
            pooled_why: None,
            alpha1: f64::NAN,
            beta1: f64::NAN,
            alpha2: f64::NAN,
            beta2: f64::NAN,
            p: f64::NAN,
            neg_log_lik: f64::NAN,
            class_fit: None,
            pooled_fit: None,
            pooled_pairs: None,
            truncation: match truncation {
                ebgm::Truncation::Mixture => "mixture",
                ebgm::Truncation::PerComponent => "per_component",
            },
        };
        let (prior, kind) = if let Some(p) = &cfg.prior {
            report.why = Some(Reason::PipelinePrior);
            (to_prior(p), PriorKind::Fixed)
        } else {
            // Too few pairs: no fit at all, it could not be used.
            let own = (pairs >= cfg.ebgm_min_pairs).then(|| fit(d));
            report.class_fit = own.as_ref().map(FitReport::of);
            let why = match &own {
                Some(f) => unusable(f, pairs, cfg.ebgm_min_pairs),
                None => Some(Reason::TooFewPairs {
                    pairs,
                    min: cfg.ebgm_min_pairs,
                }),
            };
            match (why, own) {
                (None, Some(f)) => (f.prior, PriorKind::Fitted),
                (why, _) => {
                    report.why = why;
                    match cfg.ebgm_fallback {
                        PriorFallback::Fixed => {
                            (to_prior(&cfg.ebgm_fallback_prior), PriorKind::Fixed)
                        }
                        PriorFallback::Pooled => {
                            let (pf, pooled_pairs) = pooled
                                .get_or_insert_with(|| {
                                    let all = pool(by_class);
                                    (fit(&all), total(&all))
                                })
                                .clone();
                            report.pooled_fit = Some(FitReport::of(&pf));
                            report.pooled_pairs = Some(pooled_pairs);
                            match unusable(&pf, pooled_pairs, cfg.ebgm_min_pairs) {
                                None => (pf.prior, PriorKind::Pooled),
                                Some(r) => {
                                    report.pooled_why = Some(r);
                                    (to_prior(&cfg.ebgm_fallback_prior), PriorKind::Fixed)
                                }
                            }
                        }
                    }
                }
            }
        };
        report.ebgm_prior = kind;
        report.alpha1 = prior.alpha1;
        report.beta1 = prior.beta1;
        report.alpha2 = prior.alpha2;
        report.beta2 = prior.beta2;
        report.p = prior.p;
        report.neg_log_lik = match (&report.class_fit, kind) {
            // The fit's own value: the same likelihood of the same pairs.
            (Some(f), PriorKind::Fitted) => f.neg_log_lik,
            _ => nll(&prior, d, truncation),
        };
        report.reason = report.why.as_ref().map(|r| r.text(Lang::En));
        report.reason_zh = report.why.as_ref().map(|r| r.text(Lang::Zh));
        report.pooled_reason = report.pooled_why.as_ref().map(|r| r.text(Lang::En));
        if kind != PriorKind::Fitted && cfg.prior.is_none() {
            tracing::warn!(class = %k, prior = kind.as_str(), "{}", report.sentence(Lang::En));
        }
        tracing::debug!(
            class = %k,
            pairs,
            ebgm_prior = kind.as_str(),
            alpha1 = prior.alpha1,
            beta1 = prior.beta1,
            alpha2 = prior.alpha2,
            beta2 = prior.beta2,
            p = prior.p,
            "EBGM prior"
        );
        out.insert(k.clone(), report);
    }
    out
}

#[cfg(test)]
mod tests;
