//! Today's IC025/IC975 gamma quantile, kept as the reference the fast one is checked
//! against (issue 21): bracketing by doubling steps around a Wilson–Hilferty start, then
//! safeguarded Newton in `ln x` to 1e-14. This is a frozen copy of
//! `standard_gamma_quantile` and its helpers as they were at commit 0fdc319; do not
//! "fix" it.
//!
//! Test-only in the library. It depends only on `std` and `statrs` so that
//! `examples/bench_quantiles.rs` can compile this same file (`#[path]`) and time old and
//! new in one process.

use statrs::function::erf::erf_inv;
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, ln_gamma};

/// Quantile of Gamma(shape, rate 1), by safeguarded Newton iteration on
/// `t = ln x`.
///
/// Log space keeps the search scale-free: the root is found with the same
/// relative accuracy whether it is 1e-4 (shape 0.5, lower tail) or 1e9.
/// For `p > 0.5` the upper regularized function `Q = 1 - P` is matched
/// against `1 - p`, so that the upper tail keeps its precision.
pub fn standard_gamma_quantile(p: f64, shape: f64) -> Option<f64> {
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
