//! The two numerical solvers, which know nothing of the model: Brent's root finder, which
//! posterior quantiles run in `ln x`, and Nelder–Mead over the five coordinates of the
//! prior fit.
//!
//! Stage: `signals`. Invariants: both are deterministic for a given objective (simplex
//! ties keep their order), and both stop at an iteration or evaluation cap, so an
//! objective that is non-monotone, NaN or `+∞` ends the search instead of looping.

// ---------------------------------------------------------------------------------------
// Brent's root finder
// ---------------------------------------------------------------------------------------

/// Brent's root finder (Brent 1973, `zeroin`) on a bracket `[a, b]` with
/// `f(a)·f(b) < 0`. It stops at absolute tolerance `tol` in the argument.
pub(super) fn brent_root(
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

// ---------------------------------------------------------------------------------------
// Nelder–Mead
// ---------------------------------------------------------------------------------------

pub(super) const DIM: usize = 5;
pub(super) type Point = [f64; DIM];

#[derive(Debug, Clone, Copy)]
pub(super) struct NmOptions {
    /// Initial simplex edge in every coordinate.
    pub(super) step: f64,
    /// Stop when `f_worst − f_best ≤ ftol_abs + ftol_rel·|f_best|` ...
    pub(super) ftol_rel: f64,
    pub(super) ftol_abs: f64,
    /// ... and every vertex is within `xtol` of the best in every coordinate.
    pub(super) xtol: f64,
    pub(super) max_evals: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct NmResult {
    pub(super) x: Point,
    pub(super) f: f64,
    pub(super) iterations: u64,
    pub(super) evals: u64,
    pub(super) converged: bool,
}

/// Nelder–Mead with the dimension-adapted coefficients of Gao & Han (2012), "Implementing
/// the Nelder-Mead simplex algorithm with adaptive parameters" (Comput. Optim. Appl.
/// 51:259–277). The unadapted coefficients stall in 5 dimensions.
///
/// `f` may return `+∞` to mark infeasible points (an extreme barrier); NaN is taken as
/// `+∞`. An initial vertex that would be infeasible is stepped the other way instead.
pub(super) fn nelder_mead(
    mut f: impl FnMut(&Point) -> f64,
    x0: Point,
    opts: NmOptions,
) -> NmResult {
    let dim = DIM as f64;
    let (alpha, gamma, rho, sigma) = (1.0, 1.0 + 2.0 / dim, 0.75 - 0.5 / dim, 1.0 - 1.0 / dim);
    let mut evals = 0u64;
    let mut eval = |x: &Point, evals: &mut u64| {
        *evals += 1;
        let v = f(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };

    let mut simplex: Vec<(Point, f64)> = Vec::with_capacity(DIM + 1);
    let f0 = eval(&x0, &mut evals);
    simplex.push((x0, f0));
    for i in 0..DIM {
        let mut x = x0;
        x[i] += opts.step;
        let mut fx = eval(&x, &mut evals);
        if fx == f64::INFINITY {
            x[i] = x0[i] - opts.step;
            fx = eval(&x, &mut evals);
        }
        simplex.push((x, fx));
    }

    let mut iterations = 0u64;
    loop {
        // Stable sort: ties keep their order, so runs are reproducible.
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, f_best) = simplex[0];
        let f_worst = simplex[DIM].1;
        let f_spread_ok = f_worst - f_best <= opts.ftol_abs + opts.ftol_rel * f_best.abs();
        let x_spread_ok = simplex[1..]
            .iter()
            .all(|(x, _)| x.iter().zip(&best).all(|(a, b)| (a - b).abs() <= opts.xtol));
        if f_best.is_finite() && f_spread_ok && x_spread_ok {
            return NmResult {
                x: best,
                f: f_best,
                iterations,
                evals,
                converged: true,
            };
        }
        if evals >= opts.max_evals {
            return NmResult {
                x: best,
                f: f_best,
                iterations,
                evals,
                converged: false,
            };
        }
        iterations += 1;

        let mut centroid = [0.0; DIM];
        for (x, _) in &simplex[..DIM] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / dim;
            }
        }
        let worst = simplex[DIM].0;
        let along = |t: f64| -> Point {
            let mut p = [0.0; DIM];
            for j in 0..DIM {
                p[j] = centroid[j] + t * (centroid[j] - worst[j]);
            }
            p
        };

        let xr = along(alpha);
        let fr = eval(&xr, &mut evals);
        if fr < f_best {
            let xe = along(alpha * gamma);
            let fe = eval(&xe, &mut evals);
            simplex[DIM] = if fe < fr { (xe, fe) } else { (xr, fr) };
            continue;
        }
        if fr < simplex[DIM - 1].1 {
            simplex[DIM] = (xr, fr);
            continue;
        }
        let (xc, fc, accept) = if fr < f_worst {
            let xc = along(alpha * rho);
            let fc = eval(&xc, &mut evals);
            (xc, fc, fc <= fr)
        } else {
            let xc = along(-rho);
            let fc = eval(&xc, &mut evals);
            (xc, fc, fc < f_worst)
        };
        if accept {
            simplex[DIM] = (xc, fc);
            continue;
        }
        // Shrink towards the best vertex.
        for vertex in simplex.iter_mut().skip(1) {
            let mut x = vertex.0;
            for j in 0..DIM {
                x[j] = best[j] + sigma * (x[j] - best[j]);
            }
            *vertex = (x, eval(&x, &mut evals));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::ebgm::test_support::assert_abs;

    #[test]
    fn brent_finds_known_roots() {
        let r = brent_root(|x| x * x - 2.0, 0.0, 2.0, -2.0, 2.0, 1e-14);
        assert_abs("sqrt 2", r, std::f64::consts::SQRT_2, 1e-13);
        let r = brent_root(|x| x.cos() - x, 0.0, 1.0, 1.0, 1.0f64.cos() - 1.0, 1e-14);
        assert_abs("Dottie number", r, 0.739_085_133_215_160_6, 1e-13);
        // A step function still ends inside the tolerance.
        let r = brent_root(
            |x| if x < 0.3 { -1.0 } else { 1.0 },
            0.0,
            1.0,
            -1.0,
            1.0,
            1e-12,
        );
        assert_abs("step", r, 0.3, 1e-11);
    }

    fn quadratic_bowl(x: &Point) -> f64 {
        let centre = [1.0, -2.0, 0.5, 3.0, -1.0];
        let scale = [1.0, 10.0, 100.0, 0.1, 5.0];
        (0..DIM)
            .map(|j| scale[j] * (x[j] - centre[j]).powi(2))
            .sum::<f64>()
            + 7.0
    }

    fn rosenbrock(x: &Point) -> f64 {
        (0..DIM - 1)
            .map(|j| 100.0 * (x[j + 1] - x[j] * x[j]).powi(2) + (1.0 - x[j]).powi(2))
            .sum()
    }

    #[test]
    fn nelder_mead_minimises_test_functions() {
        let opts = NmOptions {
            step: 0.5,
            ftol_rel: 1e-14,
            ftol_abs: 1e-14,
            xtol: 1e-8,
            max_evals: 50_000,
        };
        let r = nelder_mead(quadratic_bowl, [0.0; DIM], opts);
        assert!(r.converged);
        assert_abs("bowl minimum", r.f, 7.0, 1e-10);
        for (got, want) in r.x.iter().zip([1.0, -2.0, 0.5, 3.0, -1.0]) {
            assert_abs("bowl argmin", *got, want, 1e-4);
        }
        let r = nelder_mead(rosenbrock, [-1.0, 1.0, -1.0, 1.0, -1.0], opts);
        assert!(r.converged, "{r:?}");
        assert!(r.f < 1e-10, "{r:?}");
        for got in r.x {
            assert_abs("rosenbrock argmin", got, 1.0, 1e-4);
        }
    }

    #[test]
    fn nelder_mead_respects_barrier_and_budget() {
        // Minimum of the bowl lies outside x₀ ≤ 0; the barrier keeps the search feasible
        // and the result lands on the boundary.
        let f = |x: &Point| {
            if x[0] > 0.0 {
                f64::INFINITY
            } else {
                quadratic_bowl(x)
            }
        };
        let opts = NmOptions {
            step: 0.5,
            ftol_rel: 1e-14,
            ftol_abs: 1e-14,
            xtol: 1e-9,
            max_evals: 50_000,
        };
        let r = nelder_mead(f, [-1.0; DIM], opts);
        assert!(r.x[0] <= 0.0 && r.x[0] > -1e-4, "{r:?}");
        // NaN counts as +∞, and the budget is honoured.
        let r = nelder_mead(
            |_| f64::NAN,
            [0.0; DIM],
            NmOptions {
                max_evals: 50,
                ..opts
            },
        );
        assert!(!r.converged && r.evals <= 50 + DIM as u64 + 2);
    }
}
