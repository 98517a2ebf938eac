//! Today's EB05/EB95 algorithm, kept as the reference the fast quantile is checked
//! against (issue 21): bracketing from `E[ln λ]` by doubling steps, then Brent's method in
//! `ln x` to 1e-10 on the mixture CDF (the upper half on the survival function). This is
//! a frozen copy of `Posterior::quantile`, `reg_lower_gamma`, `reg_upper_gamma` and
//! `brent_root` as they were at commit 0fdc319; do not "fix" it.
//!
//! Test-only in the library. It depends only on `std` and `statrs` so that
//! `examples/bench_quantiles.rs` can compile this same file (`#[path]`) and time old and
//! new in one process.

use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur, digamma, ln_gamma};

/// The posterior mixture `q·Gamma(shape1, rate1) + (1 − q)·Gamma(shape2, rate2)`.
#[derive(Debug, Clone, Copy)]
pub struct Mixture {
    pub q: f64,
    pub shape1: f64,
    pub rate1: f64,
    pub shape2: f64,
    pub rate2: f64,
}

impl Mixture {
    fn mean_ln(&self) -> f64 {
        let m1 = digamma(self.shape1) - self.rate1.ln();
        let m2 = digamma(self.shape2) - self.rate2.ln();
        mix(self.q, m1, m2)
    }

    fn cdf(&self, x: f64) -> f64 {
        mix(
            self.q,
            reg_lower_gamma(self.shape1, self.rate1 * x),
            reg_lower_gamma(self.shape2, self.rate2 * x),
        )
    }

    fn sf(&self, x: f64) -> f64 {
        mix(
            self.q,
            reg_upper_gamma(self.shape1, self.rate1 * x),
            reg_upper_gamma(self.shape2, self.rate2 * x),
        )
    }

    /// Posterior `q`-quantile, to 1e-10 in `ln x` (the pre-issue-21 algorithm).
    pub fn quantile(&self, q: f64) -> f64 {
        if q.is_nan() || q <= 0.0 {
            return 0.0;
        }
        if q >= 1.0 {
            return f64::MAX;
        }
        // h is increasing in u = ln x. For the upper half of the distribution it uses the
        // survival function, so 1 − q doesn't lose digits to cancellation.
        let h = |u: f64| {
            let x = u.exp();
            if q <= 0.5 {
                self.cdf(x) - q
            } else {
                (1.0 - q) - self.sf(x)
            }
        };
        const U_MIN: f64 = -745.0;
        const U_MAX: f64 = 709.78;
        let m = self.mean_ln();
        let u0 = if m.is_nan() {
            0.0
        } else {
            m.clamp(U_MIN + 1.0, U_MAX - 1.0)
        };

        let mut step = 1.0;
        let mut lo = u0 - step;
        let mut h_lo = h(lo);
        while h_lo > 0.0 {
            if lo <= U_MIN {
                return 0.0;
            }
            step *= 2.0;
            lo = (u0 - step).max(U_MIN);
            h_lo = h(lo);
        }
        step = 1.0;
        let mut hi = u0 + step;
        let mut h_hi = h(hi);
        while h_hi < 0.0 {
            if hi >= U_MAX {
                return f64::MAX;
            }
            step *= 2.0;
            hi = (u0 + step).min(U_MAX);
            h_hi = h(hi);
        }
        if h_lo == 0.0 {
            return lo.exp();
        }
        if h_hi == 0.0 {
            return hi.exp();
        }
        brent_root(h, lo, hi, h_lo, h_hi, 1e-10).exp()
    }
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

/// Brent's root finder (Brent 1973, `zeroin`) on a bracket `[a, b]` with
/// `f(a)·f(b) < 0`. It stops at absolute tolerance `tol` in the argument.
fn brent_root(
    f: impl Fn(f64) -> f64,
    mut a: f64,
    mut b: f64,
    mut fa: f64,
    mut fb: f64,
    tol: f64,
) -> f64 {
    let mut c = a;
    let mut fc = fa;
    let mut d = b - a;
    let mut e = d;
    // 200 iterations is far beyond what a bracket inside [−745, 710] needs at 1e-10.
    // The cap only guards against a non-monotone f.
    for _ in 0..200 {
        if (fb > 0.0) == (fc > 0.0) {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * tol;
        let xm = 0.5 * (c - b);
        if xm.abs() <= tol1 || fb == 0.0 {
            return b;
        }
        if e.abs() >= tol1 && fa.abs() > fb.abs() {
            // Inverse quadratic interpolation, or the secant step when only two points
            // are distinct.
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * xm * s;
                q = 1.0 - s;
            } else {
                let q0 = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * xm * q0 * (q0 - r) - (b - a) * (r - 1.0));
                q = (q0 - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            let min1 = 3.0 * xm * q - (tol1 * q).abs();
            let min2 = (e * q).abs();
            if 2.0 * p < min1.min(min2) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
        fb = f(b);
    }
    b
}
