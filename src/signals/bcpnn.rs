//! Signals stage: the information component (IC) with shrinkage, the BCPNN
//! measure used by WHO-UMC, with its exact 95% credibility interval.
//!
//! Reads one observed count `a` (cases with the product and the event) and its
//! expected count `E`: `(a+b)(a+c)/N` for the crude table, or a stratified sum
//! supplied by the caller. Writes `ic`, `ic025` and `ic975`.
//!
//! | cell | meaning                                   |
//! |------|-------------------------------------------|
//! | `a`  | cases with the product and the event      |
//! | `b`  | cases with the product, without the event |
//! | `c`  | cases with the event, without the product |
//! | `d`  | cases with neither                        |
//!
//! # Formula
//!
//! ```text
//! IC    = log2((a + 0.5) / (E + 0.5))
//! IC025 = log2(Q(0.025; shape = a + 0.5, rate = E + 0.5))
//! IC975 = log2(Q(0.975; shape = a + 0.5, rate = E + 0.5))
//! ```
//!
//! where `Q(p; shape, rate)` is the quantile function of the gamma
//! distribution. The +0.5 shrinkage is Norén, Bate, Orre & Edwards (2006),
//! "Extending the methods used to screen the WHO drug safety database towards
//! analysis of complex associations and improved accuracy for rare events",
//! Stat Med 25:3740–3757. The credibility interval is the exact one from the
//! Poisson–gamma conjugacy in Norén, Hopstadius & Bate (2013), "Shrinkage
//! observed-to-expected ratios for robust and transparent large-scale pattern
//! discovery", Stat Methods Med Res 22(1):57–69: with a Gamma(0.5, 0.5) prior
//! on the observed-to-expected ratio and `a ~ Poisson(ratio × E)`, the
//! posterior is Gamma(a + 0.5, E + 0.5). Its mean is the shrunk ratio whose
//! log2 is the IC, and its 2.5% and 97.5% quantiles give IC025 and IC975. We
//! use the exact quantiles, not the closed-form approximation
//! `IC − 3.3(a+0.5)^-1/2 − 2(a+0.5)^-3/2` given in the same paper: it is an
//! expansion in `(a+0.5)^-1/2`, least accurate at small `a` (the paper
//! advises the exact limits when `a + 0.5 < 1`), and small `a` is where the
//! WHO-UMC criterion IC025 > 0 is decided. This is the same definition as R's
//! `log2(qgamma(p, a + 0.5, E + 0.5))` used by the `vigicaen` and `pvda`
//! packages.
//!
//! # Why not `statrs`' `Gamma::inverse_cdf`
//!
//! statrs 0.18 returns NaN for the lower quantile at shape 0.5 (every pair with
//! `a = 0`) and for large rates or shapes (rate 1e6, shape 1e6): it runs 8
//! bisection steps and then at most 4 Newton steps with no bracket, which can
//! leave the domain. So [`gamma_quantile`] finds the root itself on the regularized
//! incomplete gamma functions (statrs' `gamma_lr`/`gamma_ur` algorithms, accurate to
//! ~1e-16 where we checked), to about 1e-14 in `ln x`. It is the one-component case of
//! the EBGM posterior, so it uses the same safeguarded Halley solver as EB05/EB95
//! ([`ebgm::Posterior::quantile`]), from the Wilson–Hilferty start. The interval of a
//! whole count below 1024 is computed once and cached: it depends on `a` alone. The
//! pre-issue-21 solver (bracketing + safeguarded Newton) is kept in
//! `bcpnn/reference.rs` as the tests' reference.
//!
//! # Edges
//!
//! Every valid input gives finite values; no NaN and no infinity.
//!
//! - `a = 0`: shape 0.5, still a proper gamma; IC025 is strongly negative.
//! - `E = 0` or `E ≪ 1` (e.g. 1e-9): rate ≈ 0.5, finite.
//! - huge `a` and `E` (1e9): the quantile search works in log space and the
//!   result is finite.
//! - `E` (or `a`) negative, NaN or infinite: `None`. These are caller bugs
//!   (counts and expected counts are never negative), not data edges.
//!
//! # Invariants
//!
//! `ic025 <= ic <= ic975` for every `Some` result (the posterior mean of a
//! gamma with shape >= 0.5 lies between its 2.5% and 97.5% quantiles).

use std::sync::OnceLock;

use super::ebgm;

/// The shrinkage added to both observed and expected counts (Norén et al. 2006).
pub const SHRINKAGE: f64 = 0.5;

/// WHO-UMC criterion: a pair is a signal when IC025 is above this.
pub const WHO_UMC_MIN_IC025: f64 = 0.0;

/// Lower and upper tail probabilities of the 95% credibility interval.
const P_LOWER: f64 = 0.025;
const P_UPPER: f64 = 0.975;

/// The information component and its 95% credibility interval, all in log2
/// units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ic {
    pub ic: f64,
    pub ic025: f64,
    pub ic975: f64,
}

/// Shrunk information component of an observed count `a` against an expected
/// count `e`.
///
/// `IC = log2((a + 0.5)/(e + 0.5))`; `IC025`/`IC975` are log2 of the 2.5% and
/// 97.5% quantiles of Gamma(shape `a + 0.5`, rate `e + 0.5`), computed exactly
/// (see the module docs for the formula and sources).
///
/// Returns `None` only when `e` is not finite or is negative, or when `a` is
/// not finite or is negative (neither can come from real counts). Every
/// other input, including `a = 0`, `e = 0`, tiny `e` (1e-9) and counts in the
/// billions, gives finite values.
pub fn ic(a: f64, e: f64) -> Option<Ic> {
    if !(e.is_finite() && e >= 0.0 && a.is_finite() && a >= 0.0) {
        return None;
    }
    let shape = a + SHRINKAGE;
    let rate = e + SHRINKAGE;
    // Work with the standard (rate 1) gamma and subtract log2(rate): the
    // quantile of Gamma(shape, rate) is the standard quantile divided by
    // the rate, and logs avoid overflow when the counts are huge.
    let log2_rate = rate.log2();
    let (lower, upper) = standard_interval(a, shape)?;
    let out = Ic {
        ic: shape.log2() - log2_rate,
        ic025: lower.log2() - log2_rate,
        ic975: upper.log2() - log2_rate,
    };
    // Cannot fail for finite non-negative inputs; guarded so that a NaN can
    // never leave this module.
    (out.ic.is_finite() && out.ic025.is_finite() && out.ic975.is_finite()).then_some(out)
}

/// WHO-UMC criterion: `IC025 > min_ic025` (0 by default, [`WHO_UMC_MIN_IC025`]).
pub fn ic_flag(i: &Ic, min_ic025: f64) -> bool {
    i.ic025 > min_ic025
}

/// Quantile of the gamma distribution with the given `shape` and `rate`:
/// the `x` with `P(shape, rate·x) = p`, where `P` is the regularized lower
/// incomplete gamma function.
///
/// Accurate to about 1e-13 relative for `shape >= 0.5`. Returns `None` when
/// `p` is not in (0, 1), `shape` or `rate` is not finite and positive, or the
/// quantile under- or overflows f64.
pub fn gamma_quantile(p: f64, shape: f64, rate: f64) -> Option<f64> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let q = standard_gamma_quantile(p, shape)? / rate;
    (q.is_finite() && q > 0.0).then_some(q)
}

/// Counts below this have the standard quantiles of their posterior cached. Most pairs
/// of a database have a small count (about half have `a = 1`), and the quantiles of
/// Gamma(a + 0.5, 1) depend on `a` alone, so the table turns nearly every row's two
/// root searches into a lookup. The cached values are the computed ones, bit for bit.
const CACHED_COUNTS: usize = 1024;

static INTERVALS: [OnceLock<Option<(f64, f64)>>; CACHED_COUNTS] =
    [const { OnceLock::new() }; CACHED_COUNTS];

/// The 2.5% and 97.5% quantiles of Gamma(`shape` = `a` + 0.5, rate 1), from the table
/// for small whole counts.
fn standard_interval(a: f64, shape: f64) -> Option<(f64, f64)> {
    let compute = || {
        Some((
            standard_gamma_quantile(P_LOWER, shape)?,
            standard_gamma_quantile(P_UPPER, shape)?,
        ))
    };
    if a.fract() == 0.0 && a < CACHED_COUNTS as f64 {
        // a is a whole number in [0, CACHED_COUNTS) here, so the index is exact.
        *INTERVALS[a as usize].get_or_init(compute)
    } else {
        compute()
    }
}

/// Quantile of Gamma(shape, rate 1): the one-component case of the EBGM posterior, so it
/// runs the same solver as EB05/EB95 (safeguarded Halley steps in `ln x` from the
/// Wilson–Hilferty start, about 1e-14 in `ln x`; see [`ebgm::Posterior::quantile`]). For
/// `p > 0.5` it matches the upper regularized function `Q = 1 − P` against `1 − p`, so the
/// upper tail keeps its precision.
fn standard_gamma_quantile(p: f64, shape: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0 && shape.is_finite() && shape > 0.0) {
        return None;
    }
    let gamma = ebgm::Posterior {
        q: 1.0,
        shape1: shape,
        rate1: 1.0,
        shape2: shape,
        rate2: 1.0,
    };
    let x = gamma.quantile(p);
    // 0 and f64::MAX mean the quantile under- or overflows.
    (x > 0.0 && x < f64::MAX).then_some(x)
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
