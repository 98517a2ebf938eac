//! The previous fit: multi-start Nelder–Mead in the same coordinates and bounds, with the
//! same squashing stages. [`fit_prior_with`](super::fit_prior_with) replaced it; it is
//! kept so that tests and `examples/bench_fit.rs` can show the new fit is at least as good
//! and how much faster it is.

use super::super::likelihood::{Pairs, Truncation};
use super::super::optimize::{nelder_mead, NmOptions, NmResult, Point, DIM};
use super::super::posterior::Prior;
use super::{bounds, failed_fit, near_bound, prepare, to_point, to_prior, Fit};
use super::{COARSE_WIDTH, MEDIUM_WIDTH};

/// Runs Nelder–Mead from `x`, then restarts it from its own result until a restart gains
/// no more than the tolerance (at most 5 restarts). Restarting is the usual remedy for
/// Nelder–Mead's false convergence. It returns the best run, and whether the last restart
/// met its tolerance without improving on its start beyond it.
fn settle(
    pairs: &Pairs,
    truncation: Truncation,
    x: Point,
    opts: NmOptions,
    tally: &mut impl FnMut(&NmResult),
) -> (NmResult, bool) {
    let mut best = nelder_mead(objective(pairs, truncation), x, opts);
    tally(&best);
    for _ in 0..5 {
        let r = nelder_mead(objective(pairs, truncation), best.x, opts);
        tally(&r);
        let gain = best.f - r.f;
        if r.f < best.f {
            best = r;
        }
        if gain <= opts.ftol_abs + opts.ftol_rel * best.f.abs() {
            return (best, r.converged);
        }
    }
    (best, false)
}

fn in_bounds(x: &Point) -> bool {
    let (lo, hi) = bounds();
    (0..DIM).all(|j| x[j] >= lo[j] && x[j] <= hi[j])
}

/// Objective in the transformed coordinates, with `+∞` outside the bounds.
fn objective(pairs: &Pairs, truncation: Truncation) -> impl Fn(&Point) -> f64 + '_ {
    move |x: &Point| {
        if !in_bounds(x) {
            return f64::INFINITY;
        }
        pairs.neg_log_lik(&to_prior(x), truncation)
    }
}

/// The previous maximum marginal likelihood fit, by Nelder–Mead (see the module header).
///
/// It minimises the chosen zero-truncated likelihood ([`neg_log_lik`] for
/// [`Truncation::Mixture`], [`neg_log_lik_per_component`] to reproduce openEBGM) over
/// `α, β ∈ [PARAM_MIN, PARAM_MAX]` and `p ∈ [P_MIN, P_MAX]`, with Nelder–Mead in
/// `(ln α₁, ln β₁, ln α₂, ln β₂, logit p)`. Starts outside the bounds are clamped into
/// them; starts with a NaN field are skipped. The stages are:
///
/// 1. **Search.** Each start runs to convergence (simplex edge 0.5, f-spread ≤ 1e-10
///    relative, simplex ≤ 1e-4). If squashing removes at least three quarters of the
///    points, this runs on data squashed to a 5% spread of `E` per point (DuMouchel &
///    Pregibon 2001; see `Pairs::squashed`). Otherwise it runs on all pairs.
/// 2. **Settle.** From the best search optimum (ties go to the earlier start), Nelder–Mead
///    runs again and then restarts from its own result until a restart gains nothing
///    (f-spread ≤ 1e-12 relative + 1e-9, simplex ≤ 1e-5). Restarting is the usual remedy
///    for Nelder–Mead's false convergence. For big inputs this runs on a finer squash (0.2%
///    spread of `E`), whose optimum lies within about 1e-6 of the full-data one. Otherwise
///    it runs on all pairs.
/// 3. **Polish.** After a squashed settle, one more run on all pairs starts from a small
///    simplex (0.001). The estimate is therefore always the optimum of the full-data
///    likelihood. Squashing only makes the way there cheaper.
///
/// The result depends only on the inputs, not on the thread count: the likelihood is
/// summed in fixed chunks, added in order. Invalid pairs (see [`check_pairs`]), or no
/// usable start, give a fit with `neg_log_lik = +∞`, `converged = false`, and the first
/// start (or DuMouchel's) as `prior`. Empty data, or data whose weights are all 0, give
/// `neg_log_lik = 0` and `converged = false`.
pub fn fit_prior_nelder_mead(
    n: &[f64],
    e: &[f64],
    w: &[f64],
    starts: &[Prior],
    truncation: Truncation,
) -> Fit {
    let (usable, full) = match prepare(n, e, w, starts) {
        Ok(ready) => ready,
        Err(fit) => return fit,
    };
    let failed = |neg_log_lik: f64| failed_fit(&usable, neg_log_lik);
    // Coarse squash for the multi-start search. For big inputs, a medium squash settles
    // the optimum cheaply before the short full-data polish.
    // A squash level is only worth it when it removes most of the points.
    let squash = |width: f64| Some(full.squashed(width)).filter(|s| 4 * s.len() < full.len());
    let coarse = squash(COARSE_WIDTH);
    let medium = coarse.as_ref().and_then(|_| squash(MEDIUM_WIDTH));
    let stage1 = coarse.as_ref().unwrap_or(&full);

    let explore = NmOptions {
        step: 0.5,
        ftol_rel: 1e-10,
        ftol_abs: 1e-10,
        xtol: 1e-4,
        max_evals: 5_000,
    };
    let settle_opts = NmOptions {
        step: 0.05,
        ftol_rel: 1e-12,
        ftol_abs: 1e-9,
        xtol: 1e-5,
        max_evals: 5_000,
    };

    let mut iterations = 0;
    let mut evaluations = 0;
    let mut results = Vec::with_capacity(usable.len());
    for start in &usable {
        let r = nelder_mead(objective(stage1, truncation), to_point(start), explore);
        iterations += r.iterations;
        evaluations += r.evals;
        results.push(r);
    }
    // min_by keeps the first of equal elements, so ties go to the earlier start.
    let Some(best1) = results.iter().copied().min_by(|a, b| a.f.total_cmp(&b.f)) else {
        return failed(f64::INFINITY);
    };
    let starts_agreeing = results
        .iter()
        .filter(|r| r.f.is_finite() && r.f - best1.f <= 1e-6 * best1.f.abs().max(1.0))
        .count();

    let mut tally = |r: &NmResult| {
        iterations += r.iterations;
        evaluations += r.evals;
    };
    let (best, converged) = match &medium {
        // Big input: settle (with restarts) on the medium squash, then polish once on all
        // pairs from there with a small simplex. The medium squash moves the optimum by
        // about 1e-6, far less than that simplex, so the polish is a short local check.
        Some(medium) => {
            let (settled, settled_ok) =
                settle(medium, truncation, best1.x, settle_opts, &mut tally);
            let polish_opts = NmOptions {
                step: 0.001,
                ..settle_opts
            };
            let r = nelder_mead(objective(&full, truncation), settled.x, polish_opts);
            tally(&r);
            (r, settled_ok && r.converged)
        }
        None => settle(&full, truncation, best1.x, settle_opts, &mut tally),
    };

    Fit {
        prior: to_prior(&best.x),
        neg_log_lik: best.f,
        iterations,
        converged: converged && best.f.is_finite(),
        starts: usable.len(),
        evaluations,
        starts_agreeing,
        at_bound: near_bound(&best.x),
    }
}
