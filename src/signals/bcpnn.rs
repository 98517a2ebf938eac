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
//! leave the domain. So [`gamma_quantile`] finds the root itself on statrs'
//! regularized incomplete gamma functions (`gamma_lr`/`gamma_ur`, accurate to
//! ~1e-16 where we checked), to about 1e-13 relative in the quantile. statrs'
//! `erf` family is only good to ~1e-11, so it is used for the starting point
//! and nothing else.
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

use statrs::function::erf::erf_inv;
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, ln_gamma};

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
    let lower = standard_gamma_quantile(P_LOWER, shape)?;
    let upper = standard_gamma_quantile(P_UPPER, shape)?;
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

/// Quantile of Gamma(shape, rate 1), by safeguarded Newton iteration on
/// `t = ln x`.
///
/// Log space keeps the search scale-free: the root is found with the same
/// relative accuracy whether it is 1e-4 (shape 0.5, lower tail) or 1e9.
/// For `p > 0.5` the upper regularized function `Q = 1 - P` is matched
/// against `1 - p`, so that the upper tail keeps its precision.
fn standard_gamma_quantile(p: f64, shape: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0 && shape.is_finite() && shape > 0.0) {
        return None;
    }
    let upper_tail = p > 0.5;
    let target = if upper_tail { 1.0 - p } else { p };
    let ln_gamma_shape = ln_gamma(shape);

    // F(t) is increasing in t and zero at the root.
    let f = |t: f64| -> Option<f64> {
        let x = t.exp();
        if upper_tail {
            Some(target - regularized_upper(shape, x)?)
        } else {
            Some(regularized_lower(shape, x)? - target)
        }
    };
    // dF/dt = x · density(x), the same for both tails.
    let df = |t: f64| -> f64 { (shape * t - t.exp() - ln_gamma_shape).exp() };

    let mut t = initial_guess(p, shape).ln();
    if !t.is_finite() {
        t = shape.ln();
    }

    // Bracket the root: F(lo) < 0 < F(hi).
    let (mut lo, mut hi) = (t - 1.0, t + 1.0);
    let mut step = 1.0;
    let mut f_lo = f(lo)?;
    let mut expansions = 0;
    while f_lo > 0.0 {
        step *= 2.0;
        lo -= step;
        f_lo = f(lo)?;
        expansions += 1;
        if expansions > 64 {
            return None;
        }
    }
    step = 1.0;
    let mut f_hi = f(hi)?;
    expansions = 0;
    while f_hi < 0.0 {
        step *= 2.0;
        hi += step;
        f_hi = f(hi)?;
        expansions += 1;
        if expansions > 64 {
            return None;
        }
    }
    if f_lo == 0.0 {
        return Some(lo.exp());
    }
    if f_hi == 0.0 {
        return Some(hi.exp());
    }
    if !(lo < t && t < hi) {
        t = 0.5 * (lo + hi);
    }

    const REL_TOL: f64 = 1e-14;
    for _ in 0..300 {
        let ft = f(t)?;
        if ft == 0.0 {
            return Some(t.exp());
        }
        if ft < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let slope = df(t);
        let newton = t - ft / slope;
        // Newton converges fast near the root; bisection guarantees progress
        // where the density underflows or Newton would leave the bracket.
        let next = if newton.is_finite() && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        let scale = REL_TOL * next.abs().max(1.0);
        if (next - t).abs() <= scale || (hi - lo) <= scale {
            return Some(next.exp());
        }
        t = next;
    }
    // The bracket has shrunk by at least 2^-300 or Newton has stalled at the
    // noise floor of P; either way the midpoint is as good as f64 allows.
    Some((0.5 * (lo + hi)).exp())
}

/// Starting point: Wilson–Hilferty (1931) for shape >= 1, the small-x series
/// `P(a, x) ≈ x^a / Γ(a + 1)` below that.
fn initial_guess(p: f64, shape: f64) -> f64 {
    if shape >= 1.0 {
        let z = std::f64::consts::SQRT_2 * erf_inv(2.0 * p - 1.0);
        let c = 1.0 / (9.0 * shape);
        let w = 1.0 - c + z * c.sqrt();
        if w > 0.0 {
            return shape * w * w * w;
        }
    }
    ((p.ln() + ln_gamma(shape + 1.0)) / shape).exp()
}

/// Regularized lower incomplete gamma `P(a, x)`, extended to `x = 0` and
/// `x = ∞` (statrs rejects both).
fn regularized_lower(a: f64, x: f64) -> Option<f64> {
    if x <= 0.0 {
        Some(0.0)
    } else if x.is_infinite() {
        Some(1.0)
    } else {
        checked_gamma_lr(a, x).ok()
    }
}

/// Regularized upper incomplete gamma `Q(a, x)`, extended as above.
fn regularized_upper(a: f64, x: f64) -> Option<f64> {
    if x <= 0.0 {
        Some(1.0)
    } else if x.is_infinite() {
        Some(0.0)
    } else {
        checked_gamma_ur(a, x).ok()
    }
}

#[cfg(test)]
mod tests;
