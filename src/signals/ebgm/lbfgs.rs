//! A limited-memory BFGS minimiser with box bounds, for the prior fit's five coordinates.
//! It knows nothing of the model.
//!
//! The method is projected L-BFGS (Nocedal & Wright 2006, *Numerical Optimization*,
//! 2nd ed., algorithm 7.4 for the two-loop recursion; the projection and the active set
//! as in Bertsekas 1982, "Projected Newton methods for optimization problems with simple
//! constraints", SIAM J. Control Optim. 20:221–246): a coordinate that sits on a bound
//! with its gradient pushing outwards is held there, the quasi-Newton direction is taken
//! in the others, and a backtracking line search (Armijo, c₁ = 1e-4) runs along the
//! projected path `clamp(x + t·d)`. In five dimensions this is as good as L-BFGS-B's
//! generalised Cauchy point and much simpler.
//!
//! Stage: `signals`. Invariants: deterministic for a given objective; the iterate never
//! leaves the box; it stops at an iteration or evaluation cap, so an objective that is
//! NaN or `+∞` ends the search instead of looping.

use super::bounded::{armijo, dot, Bounds, Counted, Options, Outcome, Point, Stall, DIM};
use super::likelihood::Grad;

/// Pairs of steps and gradient changes kept.
const MEMORY: usize = 8;

/// Minimises `fg` (value and gradient, `[f, ∂f/∂x₁, …]`) over the box `[lo, hi]` from
/// `x0` (clamped into the box). `+∞` or NaN marks a point the objective cannot evaluate;
/// the line search steps back from it.
pub(super) fn minimize(
    fg: impl FnMut(&Point) -> Grad,
    x0: Point,
    lo: Point,
    hi: Point,
    opts: Options,
) -> Outcome {
    let bounds = Bounds { lo, hi };
    let mut objective = Counted::new(fg);
    let mut x = bounds.clamp(x0);
    let (mut f, mut g) = objective.eval(&x);
    if !f.is_finite() {
        return objective.outcome(x, f, 0, false);
    }
    // (s, y, 1/(yᵀs)), oldest first.
    let mut memory: Vec<(Point, Point, f64)> = Vec::with_capacity(MEMORY);
    let mut stall = Stall::default();
    let mut iterations = 0;
    while iterations < opts.max_iter {
        if bounds.projected_gradient(&x, &g) <= opts.gtol * f.abs().max(1.0) {
            return objective.outcome(x, f, iterations, true);
        }
        iterations += 1;
        let free = bounds.free(&x, &g);
        let mask =
            |v: Point| -> Point { std::array::from_fn(|j| if free[j] { v[j] } else { 0.0 }) };
        let gf = mask(g);
        let mut d = mask(two_loop(&memory, &gf));
        if dot(&d, &gf).partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
            // Not a descent direction in the free coordinates: forget the curvature.
            memory.clear();
            d = gf.map(|v| -v);
        }
        // The first step of a fresh memory moves at most 1 in any coordinate.
        let t = if memory.is_empty() {
            1.0 / d.iter().fold(1.0f64, |m, v| m.max(v.abs()))
        } else {
            1.0
        };
        let Some((xn, fnew, gnew)) = armijo(&mut objective, &bounds, (&x, f, &g), &d, t) else {
            if memory.is_empty() {
                // Even a steepest-descent step gains nothing: x is optimal to rounding.
                let ok = bounds.projected_gradient(&x, &g) <= 1e3 * opts.gtol * f.abs().max(1.0);
                return objective.outcome(x, f, iterations, ok);
            }
            memory.clear();
            continue;
        };
        let s: Point = std::array::from_fn(|j| xn[j] - x[j]);
        let y: Point = std::array::from_fn(|j| gnew[j] - g[j]);
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if memory.len() == MEMORY {
                memory.remove(0);
            }
            memory.push((s, y, 1.0 / sy));
        }
        let stalled = stall.after(f, fnew, opts.ftol);
        (x, f, g) = (xn, fnew, gnew);
        if stalled {
            return objective.outcome(x, f, iterations, true);
        }
    }
    objective.outcome(x, f, iterations, false)
}

/// `−H·g` by the L-BFGS two-loop recursion, with `H₀ = (sᵀy / yᵀy)·I` from the newest pair.
fn two_loop(memory: &[(Point, Point, f64)], g: &Point) -> Point {
    let mut q = *g;
    let mut alphas = [0.0; MEMORY];
    for (i, (s, y, rho)) in memory.iter().enumerate().rev() {
        let a = rho * dot(s, &q);
        alphas[i] = a;
        for j in 0..DIM {
            q[j] -= a * y[j];
        }
    }
    let gamma = memory
        .last()
        .map_or(1.0, |(_, y, rho)| 1.0 / (rho * dot(y, y)));
    let mut r = q.map(|v| gamma * v);
    for (i, (s, y, rho)) in memory.iter().enumerate() {
        let b = rho * dot(y, &r);
        for j in 0..DIM {
            r[j] += s[j] * (alphas[i] - b);
        }
    }
    r.map(|v| -v)
}

#[cfg(test)]
mod tests {
    use super::super::likelihood::GRAD_LEN;
    use super::*;

    fn opts(gtol: f64, max_iter: u64) -> Options {
        Options {
            gtol,
            ftol: 0.0,
            max_iter,
        }
    }

    /// A convex quadratic with its minimum outside the box in two coordinates: the
    /// minimiser must land on those bounds and on the interior minimum in the others.
    #[test]
    fn quadratic_with_active_bounds() {
        let centre = [1.0, -2.0, 3.0, 0.5, 7.0];
        let scale = [1.0, 10.0, 0.1, 3.0, 2.0];
        let fg = |x: &Point| -> Grad {
            let mut out = [0.0; GRAD_LEN];
            for j in 0..DIM {
                out[0] += scale[j] * (x[j] - centre[j]).powi(2);
                out[j + 1] = 2.0 * scale[j] * (x[j] - centre[j]);
            }
            out
        };
        let lo = [-5.0, -1.0, -5.0, -5.0, -5.0];
        let hi = [5.0, 5.0, 5.0, 5.0, 5.0];
        let r = minimize(fg, [0.0; DIM], lo, hi, opts(1e-10, 200));
        assert!(r.converged, "{r:?}");
        let want = [1.0, -1.0, 3.0, 0.5, 5.0];
        for (j, (got, want)) in r.x.iter().zip(want).enumerate() {
            assert!((got - want).abs() < 1e-8, "{j}: {r:?}");
        }
    }

    /// Rosenbrock's (1960) curved valley in five dimensions, minimum at all ones: the
    /// classic hard case for a quasi-Newton method.
    #[test]
    fn rosenbrock() {
        let fg = |x: &Point| -> Grad {
            let mut out = [0.0; GRAD_LEN];
            for j in 0..DIM - 1 {
                let a = x[j + 1] - x[j] * x[j];
                let b = 1.0 - x[j];
                out[0] += 100.0 * a * a + b * b;
                out[j + 1] += -400.0 * x[j] * a - 2.0 * b;
                out[j + 2] += 200.0 * a;
            }
            out
        };
        let start = [-1.2, 1.0, -1.2, 1.0, -1.2];
        let r = minimize(fg, start, [-10.0; DIM], [10.0; DIM], opts(1e-10, 1000));
        assert!(r.converged, "{r:?}");
        for v in r.x {
            assert!((v - 1.0).abs() < 1e-6, "{r:?}");
        }
    }

    #[test]
    fn infinite_start_stops() {
        let r = minimize(
            |_| [f64::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0; DIM],
            [-1.0; DIM],
            [1.0; DIM],
            opts(1e-8, 10),
        );
        assert!(!r.converged && r.evals == 1);
    }
}
