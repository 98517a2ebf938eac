//! The two numerical solvers, which know nothing of the model: a safeguarded Halley root
//! finder, which posterior quantiles (EB05/EB95, IC025/IC975) run in `ln x`, and
//! Nelder–Mead over the five coordinates of the prior fit.
//!
//! Stage: `signals`. Invariants: both are deterministic for a given objective (simplex
//! ties keep their order), and both stop at an iteration or evaluation cap, so an
//! objective that is non-monotone, NaN or `+∞` ends the search instead of looping.

// ---------------------------------------------------------------------------------------
// Safeguarded Halley root finder
// ---------------------------------------------------------------------------------------

/// Where [`halley_root`] found the root.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Root {
    /// `f(min) > 0`: the root is below the search interval.
    Below,
    /// `f(max) < 0`: the root is above it.
    Above,
    At(f64),
}

/// Root of an increasing function on `[min, max]` by Halley's method, safeguarded.
///
/// `f(u)` returns `(f, f′, f″)`. Each evaluation narrows a bracket `lo < root < hi`. A
/// Halley step is taken when its correction is moderate (else the Newton step) and it
/// stays strictly inside the bracket; otherwise the next point is the bracket's midpoint,
/// or, while one side is still open, a step of 1, 2, 4, … past the last point towards the
/// root (the old bracketing search), clamped to `[min, max]`. So it never does worse than
/// bisection, and from a start within a few percent it stops after two or three
/// evaluations.
///
/// With `t = tol·max(1, |u|)` (relative for large `|u|`, so that rounding of `u` itself
/// cannot stall it), it stops when a step is at most `t`, or when Halley's cubic
/// convergence (error `eₖ₊₁ ≈ K·eₖ³`, `K` estimated from the last two steps) predicts an
/// error of at most `t` after a step of at most 1e-6. The bracket alone also stops it at
/// width `t`.
pub(super) fn halley_root(
    mut f: impl FnMut(f64) -> (f64, f64, f64),
    u0: f64,
    min: f64,
    max: f64,
    tol: f64,
) -> Root {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut u = if u0.is_nan() {
        0.5 * (min + max)
    } else {
        u0.clamp(min, max)
    };
    let mut expand = 1.0;
    // The last step, when it was a Halley (or Newton) step.
    let mut last_step: Option<f64> = None;
    // 200 evaluations is beyond what bisection of [−745, 710] to 1e-13 needs; the cap
    // only guards against a function that is not monotone.
    for _ in 0..200 {
        let (h, d1, d2) = f(u);
        if h == 0.0 {
            return Root::At(u);
        }
        if h < 0.0 {
            if u >= max {
                return Root::Above;
            }
            lo = u;
        } else {
            // NaN counts as positive: the search then moves down, and it ends.
            if u <= min {
                return Root::Below;
            }
            hi = u;
        }
        let tol = tol * u.abs().max(1.0);
        if hi - lo <= tol {
            return Root::At(0.5 * (lo + hi));
        }
        let newton = h / d1;
        let c = 1.0 - 0.5 * newton * d2 / d1;
        let step = if (0.5..=2.0).contains(&c) {
            newton / c
        } else {
            newton
        };
        let cand = u - step;
        if d1 > 0.0 && step.abs() <= tol {
            // Converged; a step this small may round back onto u or the bracket's end.
            return Root::At(cand.clamp(lo, hi));
        }
        let inside = d1 > 0.0 && cand.is_finite() && cand > lo && cand < hi;
        if inside && !(min..=max).contains(&cand) {
            // Past an end of the interval: look at that end next.
            last_step = None;
            u = cand.clamp(min, max);
            continue;
        }
        if inside {
            let d = step.abs();
            let converged =
                last_step.is_some_and(|prev| d <= 1e-3 && d.powi(4) <= tol * prev.powi(3));
            if converged {
                return Root::At(cand);
            }
            last_step = Some(d);
            u = cand;
            continue;
        }
        last_step = None;
        u = if lo.is_finite() && hi.is_finite() {
            0.5 * (lo + hi)
        } else if lo.is_finite() {
            let next = (u + expand).min(max);
            expand *= 2.0;
            next
        } else {
            let next = (u - expand).max(min);
            expand *= 2.0;
            next
        };
    }
    Root::At(u)
}

// ---------------------------------------------------------------------------------------
// Nelder–Mead
// ---------------------------------------------------------------------------------------

pub(super) use super::bounded::{Point, DIM};

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

/// A Nelder–Mead run's end: the same record as the Newton minimiser's.
pub(super) type NmResult = super::bounded::Outcome;

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
    fn halley_finds_known_roots() {
        let tol = 1e-14;
        let root = |r: Root| match r {
            Root::At(u) => u,
            other => panic!("{other:?}"),
        };
        // x³ − 2 from far away: the open side is searched by doubling steps.
        let cube = |x: f64| (x * x * x - 2.0, 3.0 * x * x, 6.0 * x);
        for start in [-50.0, 0.0, 1.0, 100.0] {
            let r = root(halley_root(cube, start, -1e3, 1e3, tol));
            assert_abs("cube root of 2", r, 2f64.cbrt(), 1e-13);
        }
        let dottie = |x: f64| (x - x.cos(), 1.0 + x.sin(), x.cos());
        let r = root(halley_root(dottie, 3.0, -10.0, 10.0, tol));
        assert_abs("Dottie number", r, 0.739_085_133_215_160_6, 1e-13);
        // A step function (zero slope): bisection still ends inside the tolerance.
        let step = |x: f64| (if x < 0.3 { -1.0 } else { 1.0 }, 0.0, 0.0);
        let r = root(halley_root(step, 0.0, -1.0, 1.0, 1e-12));
        assert_abs("step", r, 0.3, 1e-11);
        // A root outside the interval is reported as such, not clamped.
        let line = |x: f64| (x - 5.0, 1.0, 0.0);
        assert_eq!(halley_root(line, 0.0, -1.0, 1.0, tol), Root::Above);
        let line = |x: f64| (x + 5.0, 1.0, 0.0);
        assert_eq!(halley_root(line, 0.0, -1.0, 1.0, tol), Root::Below);
        // NaN everywhere ends the search instead of looping.
        let nan = |_: f64| (f64::NAN, f64::NAN, f64::NAN);
        assert_eq!(halley_root(nan, 0.0, -1.0, 1.0, tol), Root::Below);
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
