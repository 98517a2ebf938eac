//! The regularized incomplete gamma functions, with the log of their derivative, for the
//! quantile solver.
//!
//! The values are statrs 0.18's `checked_gamma_lr`/`checked_gamma_ur` step for step (same
//! series, same continued fraction, same 1e-15 stop, same branches), so a quantile solves
//! the same equation as before issue 21. Two things differ, and only in cost: `ln Γ(a)` is
//! passed in, computed once per posterior instead of once per call, and the exponent
//! `a·ln x − x − ln Γ(a)` that both functions compute anyway is returned. It is
//! `ln(x·γ(a, x))` with `γ` the gamma density, which is `dP/d(ln x)`: the slope Newton
//! and Halley steps in `ln x` need, for free.

use statrs::function::gamma::ln_gamma;

/// `a·ln x − x − ln Γ(a)` below this makes statrs return 0 or 1 outright.
const LN_MIN: f64 = -709.782_712_893_384;
/// statrs' relative stop for the series and the continued fraction.
const EPS: f64 = 0.000_000_000_000_001;
const BIG: f64 = 4_503_599_627_370_496.0;
const BIG_INV: f64 = 2.220_446_049_250_313e-16;
/// statrs' `prec::DEFAULT_F64_ACC`: a shape this close to 0 gives `P = 1`.
const A_ZERO: f64 = 0.000_000_000_000_001_110_223_024_625_156_5;

/// `(P(a, x), ln(x·γ(a, x)))` for `a > 0` with `lg = ln Γ(a)`. The second value is
/// `−∞` where the density vanishes (`x = 0` or `∞`).
///
/// `P` is the posterior module's `reg_lower_gamma`: statrs returns 0 for any
/// `x < 1e-15`, which is wrong for small shapes, so tiny `x` uses the leading terms of the
/// series.
pub(super) fn lower(a: f64, lg: f64, x: f64) -> (f64, f64) {
    if x.is_nan() || x <= 0.0 {
        return (0.0, f64::NEG_INFINITY);
    }
    if x == f64::INFINITY {
        return (1.0, f64::NEG_INFINITY);
    }
    let ax = a * x.ln() - x - lg;
    if x < 1e-14 {
        // P(a, x) = x^a e^{-x} / Γ(a+1) · (1 + x/(a+1) + …); the dropped terms are below
        // 1e-28 relative. `ln Γ(a+1)` as before, not `lg + ln a`, to keep every bit.
        let p = (a * x.ln() - x - ln_gamma(a + 1.0)).exp() * (1.0 + x / (a + 1.0));
        return (p, ax);
    }
    (statrs_lower(a, ax, x), ax)
}

/// `(Q(a, x), ln(x·γ(a, x)))`, with `Q = 1 − P` computed directly where statrs does
/// (the posterior module's `reg_upper_gamma`).
pub(super) fn upper(a: f64, lg: f64, x: f64) -> (f64, f64) {
    if x.is_nan() || x <= 0.0 {
        return (1.0, f64::NEG_INFINITY);
    }
    if x == f64::INFINITY {
        return (0.0, f64::NEG_INFINITY);
    }
    if x < 1e-14 {
        let (p, ax) = lower(a, lg, x);
        return (1.0 - p, ax);
    }
    let ax = a * x.ln() - x - lg;
    if x < 1.0 || x <= a {
        return (1.0 - statrs_lower(a, ax, x), ax);
    }
    if ax < LN_MIN {
        return (if a < x { 0.0 } else { 1.0 }, ax);
    }
    (continued_fraction(a, x) * ax.exp(), ax)
}

/// statrs' `checked_gamma_lr` for `a > 0`, `0 < x < ∞`, given its exponent `ax`.
fn statrs_lower(a: f64, ax: f64, x: f64) -> f64 {
    if a.abs() < A_ZERO {
        return 1.0;
    }
    if x.abs() < A_ZERO {
        return 0.0;
    }
    if ax < LN_MIN {
        return if a < x { 1.0 } else { 0.0 };
    }
    if x <= 1.0 || x <= a {
        let mut r2 = a;
        let mut c2 = 1.0;
        let mut ans2 = 1.0;
        loop {
            r2 += 1.0;
            c2 *= x / r2;
            ans2 += c2;
            if c2 / ans2 <= EPS {
                break;
            }
        }
        return ax.exp() * ans2 / a;
    }
    1.0 - ax.exp() * continued_fraction(a, x)
}

/// The continued fraction of `Q(a, x)·Γ(a)·eˣ·x⁻ᵃ` (statrs' loop, shared by both tails).
fn continued_fraction(a: f64, x: f64) -> f64 {
    let mut y = 1.0 - a;
    let mut z = x + y + 1.0;
    let mut c = 0.0;
    let mut pkm2 = 1.0;
    let mut qkm2 = x;
    let mut pkm1 = x + 1.0;
    let mut qkm1 = z * x;
    let mut ans = pkm1 / qkm1;
    loop {
        y += 1.0;
        z += 2.0;
        c += 1.0;
        let yc = y * c;
        let pk = pkm1 * z - pkm2 * yc;
        let qk = qkm1 * z - qkm2 * yc;
        pkm2 = pkm1;
        pkm1 = pk;
        qkm2 = qkm1;
        qkm1 = qk;
        if pk.abs() > BIG {
            pkm2 *= BIG_INV;
            pkm1 *= BIG_INV;
            qkm2 *= BIG_INV;
            qkm1 *= BIG_INV;
        }
        if qk != 0.0 {
            let r = pk / qk;
            let t = ((ans - r) / r).abs();
            ans = r;
            if t <= EPS {
                break;
            }
        }
    }
    ans
}
