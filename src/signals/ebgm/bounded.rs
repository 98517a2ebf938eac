//! The box-constrained parts of the prior fit's minimiser ([`super::newton`]): the box
//! with its projection and held coordinates (Bertsekas 1982, "Projected Newton methods
//! for optimization problems with simple constraints", SIAM J. Control Optim.
//! 20:221–246), the counted objective, the backtracking Armijo search along the projected
//! path, and the stopping rules. Nothing here knows the model.
//!
//! Stage: `signals`. It imports nothing of the fit, so the likelihood and both minimisers
//! can take their types from here. Invariants: every point evaluated lies in the box; a
//! NaN value counts as `+∞`, a point the objective cannot evaluate.

/// The fit's coordinates: `(ln α₁, ln β₁, ln α₂, ln β₂, logit P)`.
pub(super) const DIM: usize = 5;
pub(super) type Point = [f64; DIM];
/// An objective's value and gradient, `[f, ∂f/∂x₁, …, ∂f/∂x₅]`.
pub(super) type Grad = [f64; GRAD_LEN];
pub(super) const GRAD_LEN: usize = DIM + 1;

#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    /// Converged when the projected gradient's largest component is at most
    /// `gtol·max(1, |f|)`.
    pub(super) gtol: f64,
    /// ... or when two successive steps each gain at most `ftol·max(1, |f|)`.
    pub(super) ftol: f64,
    pub(super) max_iter: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome {
    pub(super) x: Point,
    pub(super) f: f64,
    pub(super) iterations: u64,
    /// Every evaluation of the objective, the first included.
    pub(super) evals: u64,
    pub(super) converged: bool,
}

pub(super) fn dot(a: &Point, b: &Point) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The box `[lo, hi]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) lo: Point,
    pub(super) hi: Point,
}

impl Bounds {
    pub(super) fn clamp(&self, x: Point) -> Point {
        std::array::from_fn(|j| x[j].clamp(self.lo[j], self.hi[j]))
    }

    /// The largest component of `P(x − g) − x`, zero exactly at a stationary point of the
    /// box-constrained problem.
    pub(super) fn projected_gradient(&self, x: &Point, g: &Point) -> f64 {
        (0..DIM)
            .map(|j| ((x[j] - g[j]).clamp(self.lo[j], self.hi[j]) - x[j]).abs())
            .fold(0.0, f64::max)
    }

    /// The free coordinates: all but those on a bound with the gradient pushing outwards.
    pub(super) fn free(&self, x: &Point, g: &Point) -> [bool; DIM] {
        std::array::from_fn(|j| {
            !((x[j] <= self.lo[j] && g[j] > 0.0) || (x[j] >= self.hi[j] && g[j] < 0.0))
        })
    }
}

/// The objective `fg` (value and gradient, `[f, ∂f/∂x₁, …]`), counting its evaluations.
pub(super) struct Counted<F> {
    fg: F,
    pub(super) evals: u64,
}

impl<F: FnMut(&Point) -> Grad> Counted<F> {
    pub(super) fn new(fg: F) -> Counted<F> {
        Counted { fg, evals: 0 }
    }

    /// The value (NaN taken as `+∞`) and the gradient at `x`.
    pub(super) fn eval(&mut self, x: &Point) -> (f64, Point) {
        self.evals += 1;
        let v = (self.fg)(x);
        let f = if v[0].is_nan() { f64::INFINITY } else { v[0] };
        (f, std::array::from_fn(|j| v[j + 1]))
    }

    pub(super) fn outcome(&self, x: Point, f: f64, iterations: u64, converged: bool) -> Outcome {
        Outcome {
            x,
            f,
            iterations,
            evals: self.evals,
            converged: converged && f.is_finite(),
        }
    }
}

/// Backtracking Armijo search (c₁ = 1e-4) along the projected path `clamp(x + t·d)` from
/// `t`, halving up to 60 times: the accepted point, its value and gradient, or `None` if
/// no step gains (or the path no longer moves).
pub(super) fn armijo<F: FnMut(&Point) -> Grad>(
    objective: &mut Counted<F>,
    bounds: &Bounds,
    (x, f, g): (&Point, f64, &Point),
    d: &Point,
    mut t: f64,
) -> Option<(Point, f64, Point)> {
    for _ in 0..60 {
        let xn = bounds.clamp(std::array::from_fn(|j| x[j] + t * d[j]));
        if xn == *x {
            return None;
        }
        let (fnew, gnew) = objective.eval(&xn);
        let step: Point = std::array::from_fn(|j| xn[j] - x[j]);
        if fnew.is_finite() && fnew <= f + 1e-4 * dot(g, &step) {
            return Some((xn, fnew, gnew));
        }
        t *= 0.5;
    }
    None
}

/// The rule "two successive steps each gaining at most `ftol·max(1, |f|)`".
#[derive(Debug, Default)]
pub(super) struct Stall {
    small_steps: u32,
}

impl Stall {
    /// Records a step from `f_old` to `f_new`; true once two in a row gained too little.
    pub(super) fn after(&mut self, f_old: f64, f_new: f64, ftol: f64) -> bool {
        if f_old - f_new <= ftol * f_new.abs().max(1.0) {
            self.small_steps += 1;
        } else {
            self.small_steps = 0;
        }
        self.small_steps >= 2
    }
}
