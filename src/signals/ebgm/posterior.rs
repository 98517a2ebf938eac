//! The posterior of λ for one pair, and the statistics read off it: EBGM, the posterior
//! geometric mean, and its quantiles EB05 and EB95 (DuMouchel 1999 eqs. 6–11; the
//! formulas are in the `ebgm` module header).
//!
//! Stage: `signals`; plain numbers in and out, no frames. Invariants: no function here
//! panics on data or returns NaN. The plain functions clamp inputs outside the domain
//! (see [`posterior`]), and the `try_*` variants return `None` for them instead, so the
//! caller can report a null with a reason. Quantiles are roots of the mixture CDF, to
//! about 1e-14 in `ln x`, never a normal approximation (safeguarded Halley steps; the
//! pre-issue-21 bracketing + Brent solver is kept in `posterior/reference.rs` as the
//! tests' reference).

mod gamma;

use super::optimize::{halley_root, Root};
use statrs::function::erf::erf_inv;
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, digamma, ln_gamma};

/// Plain-API inputs are clamped into this range of `E` (see [`posterior`]).
const E_FLOOR: f64 = f64::MIN_POSITIVE;
const E_CEIL: f64 = 1e300;
/// Counts above this are clamped. The incomplete gamma series needs about `√n` terms, and
/// no real count comes near this value.
const N_CEIL: f64 = 1e12;

/// Two-gamma mixture prior: λ ~ p·Gamma(alpha1, rate beta1) + (1−p)·Gamma(alpha2, rate beta2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    pub alpha1: f64,
    pub beta1: f64,
    pub alpha2: f64,
    pub beta2: f64,
    pub p: f64,
}

impl Prior {
    /// DuMouchel's (1999) "lightly justified" initial guess. openEBGM's examples start
    /// from it too.
    pub const DUMOUCHEL_1999_START: Prior = Prior {
        alpha1: 0.2,
        beta1: 0.1,
        alpha2: 2.0,
        beta2: 4.0,
        p: 1.0 / 3.0,
    };

    /// The five starting points of openEBGM's vignettes ("Empirical Bayes Metrics with
    /// openEBGM" and "openEBGM Objects"; `theta_init` in `cran/openEBGM`
    /// `inst/doc/x4_posteriorCalculationVignette.Rmd`). The first one is DuMouchel's.
    pub const OPENEBGM_STARTS: [Prior; 5] = [
        Prior::DUMOUCHEL_1999_START,
        Prior {
            alpha1: 0.1,
            beta1: 0.1,
            alpha2: 10.0,
            beta2: 10.0,
            p: 0.2,
        },
        Prior {
            alpha1: 0.3,
            beta1: 0.5,
            alpha2: 6.0,
            beta2: 6.0,
            p: 0.5,
        },
        Prior {
            alpha1: 0.5,
            beta1: 0.3,
            alpha2: 12.0,
            beta2: 12.0,
            p: 0.8,
        },
        Prior {
            alpha1: 0.2,
            beta1: 0.2,
            alpha2: 5.0,
            beta2: 5.0,
            p: 0.4,
        },
    ];

    /// Whether every shape and rate is finite and `> 0`, and `p ∈ [0, 1]`. This is the
    /// domain of the posterior functions.
    pub fn is_valid(&self) -> bool {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        pos(self.alpha1)
            && pos(self.beta1)
            && pos(self.alpha2)
            && pos(self.beta2)
            && (0.0..=1.0).contains(&self.p)
    }

    /// Clamps the prior into the posterior functions' domain. NaN goes to the lower edge.
    fn sanitized(&self) -> Prior {
        let pos = |x: f64| {
            if x.is_nan() {
                E_FLOOR
            } else {
                x.clamp(E_FLOOR, E_CEIL)
            }
        };
        Prior {
            alpha1: pos(self.alpha1),
            beta1: pos(self.beta1),
            alpha2: pos(self.alpha2),
            beta2: pos(self.beta2),
            p: if self.p.is_nan() {
                0.0
            } else {
                self.p.clamp(0.0, 1.0)
            },
        }
    }
}

/// Posterior of λ for one pair: with probability `q`, Gamma(`shape1`, rate `rate1`),
/// otherwise Gamma(`shape2`, rate `rate2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    /// `Qₙ`, the posterior probability that λ came from the first component
    /// (openEBGM `Qn`).
    pub q: f64,
    /// `α₁ + n`.
    pub shape1: f64,
    /// `β₁ + E`.
    pub rate1: f64,
    /// `α₂ + n`.
    pub shape2: f64,
    /// `β₂ + E`.
    pub rate2: f64,
}

impl Posterior {
    /// `E[ln λ | n]`, in closed form with digamma.
    pub fn mean_ln(&self) -> f64 {
        let m1 = digamma(self.shape1) - self.rate1.ln();
        let m2 = digamma(self.shape2) - self.rate2.ln();
        mix(self.q, m1, m2)
    }

    /// `E[λ | n]`.
    pub fn mean(&self) -> f64 {
        mix(self.q, self.shape1 / self.rate1, self.shape2 / self.rate2)
    }

    /// EBGM = `exp(E[ln λ | n])`. Saturates at `f64::MAX`. The result underflows to 0
    /// only when a posterior shape is far below 1 (`n = 0` with `α ≲ 0.01`).
    pub fn geometric_mean(&self) -> f64 {
        self.mean_ln().exp().min(f64::MAX)
    }

    /// Posterior CDF `P(λ ≤ x | n)`.
    pub fn cdf(&self, x: f64) -> f64 {
        mix(
            self.q,
            reg_lower_gamma(self.shape1, self.rate1 * x),
            reg_lower_gamma(self.shape2, self.rate2 * x),
        )
    }

    /// Posterior survival `P(λ > x | n)`. It is computed directly rather than as
    /// `1 − cdf`, so the upper tail keeps its precision.
    pub fn sf(&self, x: f64) -> f64 {
        mix(
            self.q,
            reg_upper_gamma(self.shape1, self.rate1 * x),
            reg_upper_gamma(self.shape2, self.rate2 * x),
        )
    }

    /// Posterior `q`-quantile, to about 1e-14 in `ln x` (relative in `x`).
    ///
    /// The result is 0 for `q ≤ 0` or NaN, and `f64::MAX` (saturated +∞) for `q ≥ 1`.
    /// It is also 0 when the quantile is below the smallest positive `f64`.
    ///
    /// Safeguarded Halley steps in `u = ln x` on `ln F(x) = ln q` (the upper half on
    /// `ln S(x) = ln(1 − q)` with the survival function, so `1 − q` keeps its digits),
    /// started from the Wilson–Hilferty
    /// quantile of the single gamma with the mixture's mean and variance. The slope and
    /// curvature in `u` come free with the incomplete gamma values (see `gamma.rs`), and
    /// `ln Γ` of the two shapes is computed once here rather than in every evaluation.
    /// Where a step would leave the bracket it falls back to bisection or to the doubling
    /// search of the earlier Brent-based solver, whose root this is (tests: within 1e-9
    /// relative of it on a dense grid and in a property test).
    pub fn quantile(&self, q: f64) -> f64 {
        if q.is_nan() || q <= 0.0 {
            return 0.0;
        }
        if q >= 1.0 {
            return f64::MAX;
        }
        let upper_half = q > 0.5;
        let lg1 = if self.q > 0.0 {
            ln_gamma(self.shape1)
        } else {
            0.0
        };
        let lg2 = if self.q < 1.0 {
            ln_gamma(self.shape2)
        } else {
            0.0
        };
        let tail = |shape: f64, lg: f64, x: f64| {
            if upper_half {
                gamma::upper(shape, lg, x)
            } else {
                gamma::lower(shape, lg, x)
            }
        };
        // With F the mixture tail, F′ = Σ wₖ·xₖγₖ(xₖ) and F″ = Σ wₖ·xₖγₖ(xₖ)·(aₖ − xₖ) in u
        // (γₖ the component densities); h below is increasing in u. A component with no weight is not evaluated: `mix` drops it anyway.
        let (use1, use2) = (self.q > 0.0, self.q < 1.0);
        let h = |u: f64| {
            let x = u.exp();
            let (x1, x2) = (self.rate1 * x, self.rate2 * x);
            let unused = (0.0, f64::NEG_INFINITY);
            let (f1, l1) = if use1 {
                tail(self.shape1, lg1, x1)
            } else {
                unused
            };
            let (f2, l2) = if use2 {
                tail(self.shape2, lg2, x2)
            } else {
                unused
            };
            let m = mix(self.q, f1, f2);
            let (s1, s2) = (l1.exp(), l2.exp());
            let slope = mix(self.q, s1, s2);
            // A zero slope term has no curvature; this keeps 0·∞ out at x = ∞.
            let curve = |s: f64, a: f64, x: f64| if s > 0.0 { s * (a - x) } else { 0.0 };
            let curvature = mix(
                self.q,
                curve(s1, self.shape1, x1),
                curve(s2, self.shape2, x2),
            );
            // Solved on the log of the tail, which is nearly linear in u where a gamma's
            // tail is a power (F ≈ c·xᵃ) and concave elsewhere, so Newton–Halley steps do
            // not overshoot from far away. Same root, same sign on either side.
            let (g, g1) = (m.ln(), slope / m);
            if upper_half {
                ((1.0 - q).ln() - g, g1, curvature / m + g1 * g1)
            } else {
                (g - q.ln(), g1, curvature / m - g1 * g1)
            }
        };
        const U_MIN: f64 = -745.0;
        const U_MAX: f64 = 709.78;
        let u0 = self.start(q);
        match halley_root(h, u0, U_MIN, U_MAX, 1e-14) {
            Root::Below => 0.0,
            Root::Above => f64::MAX,
            Root::At(u) => u.exp().min(f64::MAX),
        }
    }

    /// Starting point for [`Posterior::quantile`] in `ln x`: the Wilson–Hilferty quantile
    /// of the gamma with the mixture's mean and variance, or `E[ln λ]` where that is not
    /// finite.
    fn start(&self, q: f64) -> f64 {
        let (m1, m2) = (self.shape1 / self.rate1, self.shape2 / self.rate2);
        let mean = mix(self.q, m1, m2);
        // Each component's variance plus its squared distance from the mean: no
        // cancellation when the posterior is tight.
        let var = mix(
            self.q,
            m1 / self.rate1 + (m1 - mean) * (m1 - mean),
            m2 / self.rate2 + (m2 - mean) * (m2 - mean),
        );
        let u = if var > 0.0 && mean > 0.0 {
            let (shape, rate) = (mean * mean / var, mean / var);
            standard_gamma_start(q, shape).ln() - rate.ln()
        } else {
            f64::NAN
        };
        if u.is_finite() {
            u
        } else {
            let m = self.mean_ln();
            if m.is_finite() {
                m
            } else {
                0.0
            }
        }
    }
}

/// Approximate `q`-quantile of Gamma(`shape`, rate 1): Wilson–Hilferty (1931) for
/// `shape ≥ 1`, else the small-`x` series `P(a, x) ≈ xᵃ/Γ(a + 1)`. Only a start.
fn standard_gamma_start(q: f64, shape: f64) -> f64 {
    if shape >= 1.0 {
        let z = std::f64::consts::SQRT_2 * erf_inv(2.0 * q - 1.0);
        let c = 1.0 / (9.0 * shape);
        let w = 1.0 - c + z * c.sqrt();
        if w > 0.0 {
            return shape * w * w * w;
        }
    }
    ((q.ln() + ln_gamma(shape + 1.0)) / shape).exp()
}

/// `q·a + (1 − q)·b`. A zero weight drops its term, so an infinite term with no weight
/// can't turn the result into NaN.
fn mix(q: f64, a: f64, b: f64) -> f64 {
    match (q > 0.0, q < 1.0) {
        (true, true) => q * a + (1.0 - q) * b,
        (true, false) => a,
        (false, _) => b,
    }
}

/// Regularized lower incomplete gamma `P(a, x)` for `a > 0`.
///
/// statrs returns 0 for any `x < 1e-15`. That is wrong for small shapes: `P(0.05, 1e-20)`
/// is about 0.1. So tiny `x` uses the leading terms of the series here.
fn reg_lower_gamma(a: f64, x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x == f64::INFINITY {
        return 1.0;
    }
    if x < 1e-14 {
        // P(a, x) = x^a e^{-x} / Γ(a+1) · (1 + x/(a+1) + …). The dropped terms are below
        // 1e-28 relative.
        return (a * x.ln() - x - ln_gamma(a + 1.0)).exp() * (1.0 + x / (a + 1.0));
    }
    // a > 0 and 0 < x < ∞ here, so the checked call cannot fail. The fallback keeps the
    // function total anyway.
    checked_gamma_lr(a, x).unwrap_or(0.0)
}

/// Regularized upper incomplete gamma `Q(a, x) = 1 − P(a, x)`, computed directly where
/// statrs can.
fn reg_upper_gamma(a: f64, x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x < 1e-14 {
        return 1.0 - reg_lower_gamma(a, x);
    }
    checked_gamma_ur(a, x).unwrap_or(1.0)
}

/// Checks the domain of the posterior functions: a valid prior, finite `n ≥ 0`, and
/// finite `e > 0`.
fn posterior_domain_ok(prior: &Prior, n: f64, e: f64) -> bool {
    prior.is_valid() && n.is_finite() && n >= 0.0 && e.is_finite() && e > 0.0
}

/// Posterior of λ for one pair. Returns `None` outside the domain: an invalid prior (see
/// [`Prior::is_valid`]), `n` negative or not finite, or `e ≤ 0` or not finite.
pub fn try_posterior(prior: &Prior, n: f64, e: f64) -> Option<Posterior> {
    posterior_domain_ok(prior, n, e).then(|| posterior_unchecked(prior, n.min(N_CEIL), e))
}

/// Posterior of λ for one pair: mixture weight Q and the two gamma components.
///
/// The caller should pass `n ≥ 0`, `e > 0` and a valid prior; [`try_posterior`] checks
/// this. Outside that domain this function neither panics nor returns NaN. It clamps:
///
/// - `e` into `[f64::MIN_POSITIVE, 1e300]`, with NaN going to the floor. `e ≤ 0` therefore
///   gives the `E → 0⁺` limit, which is finite: the prior updated by `n` with no exposure.
/// - `n` into `[0, 1e12]`, with NaN going to 0.
/// - the prior's shapes and rates into `[f64::MIN_POSITIVE, 1e300]`, and `p` into
///   `[0, 1]`.
///
/// For `E ≤ 0` the signals stage should report a null with a reason rather than this limit.
pub fn posterior(prior: &Prior, n: f64, e: f64) -> Posterior {
    let e = if e.is_nan() {
        E_FLOOR
    } else {
        e.clamp(E_FLOOR, E_CEIL)
    };
    let n = if n.is_nan() {
        0.0
    } else {
        n.clamp(0.0, N_CEIL)
    };
    posterior_unchecked(&prior.sanitized(), n, e)
}

fn posterior_unchecked(prior: &Prior, n: f64, e: f64) -> Posterior {
    // ln f_k(n) without −ln n! and n·ln E. Both are common to the two components and
    // cancel in Qₙ, and dropping n·ln E keeps tiny E from costing precision.
    let ln_f = |alpha: f64, beta: f64| {
        let l = (e / beta).ln_1p(); // ln((β+E)/β)
        ln_gamma(alpha + n) - ln_gamma(alpha) - alpha * l - n * (beta.ln() + l)
    };
    let g1 = ln_f(prior.alpha1, prior.beta1);
    let g2 = ln_f(prior.alpha2, prior.beta2);
    // Qₙ = logistic(ln P + g₁ − ln(1−P) − g₂). With P = 0 or 1 one log is −∞ and the
    // logistic saturates exactly.
    let z = (prior.p.ln() + g1) - ((1.0 - prior.p).ln() + g2);
    let q = if z.is_nan() {
        prior.p
    } else if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let t = z.exp();
        t / (1.0 + t)
    };
    Posterior {
        q,
        shape1: prior.alpha1 + n,
        rate1: prior.beta1 + e,
        shape2: prior.alpha2 + n,
        rate2: prior.beta2 + e,
    }
}

/// EBGM, or `None` outside the domain of [`try_posterior`].
pub fn try_ebgm(prior: &Prior, n: f64, e: f64) -> Option<f64> {
    try_posterior(prior, n, e).map(|post| post.geometric_mean())
}

/// EBGM = exp(E[ln λ | n, E]) (DuMouchel's definition; digamma terms).
///
/// Inputs outside the domain are clamped as in [`posterior`]; [`try_ebgm`] returns `None`
/// for them instead. The result is finite and `≥ 0`.
pub fn ebgm(prior: &Prior, n: f64, e: f64) -> f64 {
    posterior(prior, n, e).geometric_mean()
}

/// Posterior quantile, or `None` outside the domain of [`try_posterior`] or for
/// `q ∉ (0, 1)`.
pub fn try_quantile(prior: &Prior, n: f64, e: f64, q: f64) -> Option<f64> {
    if !(q > 0.0 && q < 1.0) {
        return None;
    }
    try_posterior(prior, n, e).map(|post| post.quantile(q))
}

/// Posterior quantile of λ (e.g. 0.05 → EB05, 0.95 → EB95). The root is found on the
/// mixture CDF by safeguarded Halley steps in `ln λ`, to about 1e-14 in `ln λ` (see
/// [`Posterior::quantile`]). It never uses a normal approximation.
///
/// Inputs are clamped as in [`posterior`]. `q ≤ 0` (or NaN) gives 0, and `q ≥ 1` gives
/// `f64::MAX`. [`try_quantile`] returns `None` for all of these instead.
pub fn quantile(prior: &Prior, n: f64, e: f64, q: f64) -> f64 {
    posterior(prior, n, e).quantile(q)
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
