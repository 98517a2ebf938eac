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

use super::likelihood::{Grad, GRAD_LEN};

pub(super) const DIM: usize = GRAD_LEN - 1;
pub(super) type Point = [f64; DIM];

#[derive(Debug, Clone, Copy)]
pub(super) struct LbfgsOptions {
    /// Converged when the projected gradient's largest component is at most
    /// `gtol·max(1, |f|)`.
    pub(super) gtol: f64,
    /// ... or when two successive steps each gain at most `ftol·max(1, |f|)`.
    pub(super) ftol: f64,
    pub(super) max_iter: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct LbfgsResult {
    pub(super) x: Point,
    pub(super) f: f64,
    pub(super) iterations: u64,
    pub(super) evals: u64,
    pub(super) converged: bool,
}

/// Pairs of steps and gradient changes kept.
const MEMORY: usize = 8;

fn dot(a: &Point, b: &Point) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `fg` (value and gradient, `[f, ∂f/∂x₁, …]`) over the box `[lo, hi]` from
/// `x0` (clamped into the box). `+∞` or NaN marks a point the objective cannot evaluate;
/// the line search steps back from it.
pub(super) fn minimize(
    mut fg: impl FnMut(&Point) -> Grad,
    x0: Point,
    lo: Point,
    hi: Point,
    opts: LbfgsOptions,
) -> LbfgsResult {
    let clamp = |x: Point| -> Point { std::array::from_fn(|j| x[j].clamp(lo[j], hi[j])) };
    let mut evals = 0u64;
    let mut eval = |x: &Point| -> (f64, Point) {
        evals += 1;
        let v = fg(x);
        let f = if v[0].is_nan() { f64::INFINITY } else { v[0] };
        (f, std::array::from_fn(|j| v[j + 1]))
    };
    let mut x = clamp(x0);
    let (mut f, mut g) = eval(&x);
    let result = |x: Point, f: f64, iterations: u64, converged: bool, evals: u64| LbfgsResult {
        x,
        f,
        iterations,
        evals,
        converged: converged && f.is_finite(),
    };
    if !f.is_finite() {
        return result(x, f, 0, false, evals);
    }
    // (s, y, 1/(yᵀs)), oldest first.
    let mut memory: Vec<(Point, Point, f64)> = Vec::with_capacity(MEMORY);
    let mut small_steps = 0;
    let mut iterations = 0;
    let projected_gradient = |x: &Point, g: &Point| -> f64 {
        (0..DIM)
            .map(|j| ((x[j] - g[j]).clamp(lo[j], hi[j]) - x[j]).abs())
            .fold(0.0, f64::max)
    };
    while iterations < opts.max_iter {
        if projected_gradient(&x, &g) <= opts.gtol * f.abs().max(1.0) {
            return result(x, f, iterations, true, evals);
        }
        iterations += 1;
        // Held coordinates: on a bound, with the gradient pushing outwards.
        let free: [bool; DIM] = std::array::from_fn(|j| {
            !((x[j] <= lo[j] && g[j] > 0.0) || (x[j] >= hi[j] && g[j] < 0.0))
        });
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
        let mut t = if memory.is_empty() {
            1.0 / d.iter().fold(1.0f64, |m, v| m.max(v.abs()))
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..60 {
            let xn = clamp(std::array::from_fn(|j| x[j] + t * d[j]));
            if xn == x {
                break;
            }
            let (fnew, gnew) = eval(&xn);
            let step: Point = std::array::from_fn(|j| xn[j] - x[j]);
            if fnew.is_finite() && fnew <= f + 1e-4 * dot(&g, &step) {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew, gnew)) = accepted else {
            if memory.is_empty() {
                // Even a steepest-descent step gains nothing: x is optimal to rounding.
                let ok = projected_gradient(&x, &g) <= 1e3 * opts.gtol * f.abs().max(1.0);
                return result(x, f, iterations, ok, evals);
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
        let gain = f - fnew;
        (x, f, g) = (xn, fnew, gnew);
        if gain <= opts.ftol * f.abs().max(1.0) {
            small_steps += 1;
            if small_steps >= 2 {
                return result(x, f, iterations, true, evals);
            }
        } else {
            small_steps = 0;
        }
    }
    result(x, f, iterations, false, evals)
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
    use super::*;

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
        let opts = LbfgsOptions {
            gtol: 1e-10,
            ftol: 0.0,
            max_iter: 200,
        };
        let r = minimize(fg, [0.0; DIM], lo, hi, opts);
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
        let opts = LbfgsOptions {
            gtol: 1e-10,
            ftol: 0.0,
            max_iter: 1000,
        };
        let r = minimize(
            fg,
            [-1.2, 1.0, -1.2, 1.0, -1.2],
            [-10.0; DIM],
            [10.0; DIM],
            opts,
        );
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
            LbfgsOptions {
                gtol: 1e-8,
                ftol: 1e-12,
                max_iter: 10,
            },
        );
        assert!(!r.converged && r.evals == 1);
    }
}
