//! The prior's maximum marginal likelihood fit, in `(ln α₁, ln β₁, ln α₂, ln β₂, logit P)`
//! within [`PARAM_MIN`]…[`PARAM_MAX`] and [`P_MIN`]…[`P_MAX`]: projected Newton steps,
//! the gradient analytic and the Hessian by its differences, from several starts, then
//! from the best optimum on finer data. Data squashing (DuMouchel & Pregibon 2001) makes
//! the search cheap, and the last stage always runs on all pairs.
//! [`fit_prior_with`] lists the stages. The previous multi-start Nelder–Mead is kept as
//! [`fit_prior_nelder_mead`], to compare against.
//!
//! Stage: `signals`; plain slices in, a [`Fit`] out. Invariants: the result depends only
//! on the inputs, never on the thread count. Bad input gives a fit with
//! `neg_log_lik = +∞` and `converged = false`, not a panic.

use super::bounded::{Grad, Options, Outcome, Point, DIM};
use super::likelihood::{check_pairs, Pairs, Truncation};
use super::newton;
use super::posterior::Prior;

mod nelder_mead;
pub use nelder_mead::fit_prior_nelder_mead;
// The docs of the public items here link to the likelihoods they minimise.
#[cfg(doc)]
use super::likelihood::{neg_log_lik, neg_log_lik_per_component};

/// Smallest `α` or `β` that [`fit_prior`] considers. This is openEBGM `hyperEM`'s
/// `param_lower`.
pub const PARAM_MIN: f64 = 1e-5;
/// Largest `α` or `β` that [`fit_prior`] considers. This is openEBGM `autoHyper`'s
/// `param_limit`. Estimates above it are "out of bounds" there.
pub const PARAM_MAX: f64 = 100.0;
/// Smallest mixture fraction `P` that [`fit_prior`] considers.
pub const P_MIN: f64 = 1e-6;
/// Largest mixture fraction `P` that [`fit_prior`] considers.
pub const P_MAX: f64 = 1.0 - 1e-6;

/// openEBGM's estimate on the FDA CAERS data: `theta_hat` printed by its vignette
/// "Empirical Bayes Metrics with openEBGM" (repository `cran/openEBGM`,
/// `inst/doc/x4_posteriorCalculationVignette.html` at commit
/// 05abeb6708d4485bf786e4264ce572069acfc33b; the CRAN vignette of the same name), from
/// `autoHyper` on the squashed CAERS data. A published prior of real spontaneous reports:
/// [`fit_prior`] also starts from it, and the pipeline's default fixed prior is it.
pub const OPENEBGM_CAERS_PRIOR: Prior = Prior {
    alpha1: 3.25379064,
    beta1: 0.39988801,
    alpha2: 2.02613219,
    beta2: 1.90808279,
    p: 0.06534557,
};

/// The starts of [`fit_prior`]: openEBGM's five vignette starts
/// ([`Prior::OPENEBGM_STARTS`]), then [`OPENEBGM_CAERS_PRIOR`]. A gradient method follows
/// the basin it starts in; the published optimum of real data adds a start in the basin
/// where a small signal component sits apart from a broad null one, which the vignette
/// starts can all miss on small classes (test `newton_fit_is_at_least_as_good_as_nelder_mead`).
pub const DEFAULT_STARTS: [Prior; 6] = [
    Prior::OPENEBGM_STARTS[0],
    Prior::OPENEBGM_STARTS[1],
    Prior::OPENEBGM_STARTS[2],
    Prior::OPENEBGM_STARTS[3],
    Prior::OPENEBGM_STARTS[4],
    OPENEBGM_CAERS_PRIOR,
];

/// Result of fitting the prior.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The maximum-likelihood prior. Its component labels are the optimiser's: the
    /// mixture is unchanged if the two components and `p ↔ 1 − p` are swapped.
    pub prior: Prior,
    /// The minimised negative log-likelihood at `prior`, over all pairs: [`neg_log_lik`],
    /// or [`neg_log_lik_per_component`] if that was chosen. `+∞` if the pairs were invalid.
    pub neg_log_lik: f64,
    /// Optimiser iterations, summed over all starts and the polishing runs.
    pub iterations: u64,
    /// Whether the full-data polish met its tolerance: projected gradient ≤ 1e-9·|f|, or
    /// two successive steps gaining ≤ 1e-15·|f|. See [`fit_prior_with`]. (For
    /// [`fit_prior_nelder_mead`], its own settle criterion.) For a fit that ended on a
    /// bound before the polish ([`fit_prior_with`], stage 1b), whether that stage met the
    /// search's tolerance.
    pub converged: bool,
    /// Number of starting points used.
    pub starts: usize,
    /// Likelihood (and gradient) evaluations, over all runs.
    pub evaluations: u64,
    /// How many starts (the best one included) reached a search-stage optimum within 1e-6
    /// relative of the best. Like openEBGM `autoHyper`'s `num_close + 1`: 1 means no other
    /// start confirmed the optimum.
    pub starts_agreeing: usize,
    /// Whether a parameter ended within 0.1% of a bound ([`PARAM_MIN`], [`PARAM_MAX`],
    /// [`P_MIN`], [`P_MAX`]). openEBGM treats such an estimate as out of bounds. Check it
    /// before using the prior: such a prior is the optimum of the squashed data when the
    /// search already ended on the bound (stage 1b of [`fit_prior_with`]), not polished.
    pub at_bound: bool,
}

/// Relative spread of `E` allowed inside one squashed point for the multi-start search.
const COARSE_WIDTH: f64 = 0.05;
/// The same for the medium level, where the optimum is settled before the full-data
/// polish. At 0.2% spread the squashed optimum lies very close to the full one.
const MEDIUM_WIDTH: f64 = 0.002;

fn bounds() -> (Point, Point) {
    let (lo, hi) = (PARAM_MIN.ln(), PARAM_MAX.ln());
    let logit = |p: f64| (p / (1.0 - p)).ln();
    (
        [lo, lo, lo, lo, logit(P_MIN)],
        [hi, hi, hi, hi, logit(P_MAX)],
    )
}

/// Maps a start into the transformed coordinates, clamping it into the bounds first. The
/// caller has dropped starts with NaN fields.
fn to_point(prior: &Prior) -> Point {
    let ab = |v: f64| v.clamp(PARAM_MIN, PARAM_MAX).ln();
    let p = prior.p.clamp(P_MIN, P_MAX);
    [
        ab(prior.alpha1),
        ab(prior.beta1),
        ab(prior.alpha2),
        ab(prior.beta2),
        (p / (1.0 - p)).ln(),
    ]
}

fn to_prior(x: &Point) -> Prior {
    Prior {
        alpha1: x[0].exp(),
        beta1: x[1].exp(),
        alpha2: x[2].exp(),
        beta2: x[3].exp(),
        p: 1.0 / (1.0 + (-x[4]).exp()),
    }
}

fn near_bound(x: &Point) -> bool {
    let (lo, hi) = bounds();
    (0..DIM).all(|j| x[j].is_finite())
        && (0..DIM).any(|j| (x[j] - lo[j]).abs() < 1e-3 || (hi[j] - x[j]).abs() < 1e-3)
}

/// Maximum marginal likelihood fit from several starting points within bounds; deterministic.
///
/// It maximises [`neg_log_lik`] ([`Truncation::Mixture`]) from [`DEFAULT_STARTS`]:
/// openEBGM's five vignette starting points and its published CAERS estimate. See
/// [`fit_prior_with`] for the algorithm and for openEBGM's likelihood.
pub fn fit_prior(n: &[f64], e: &[f64], w: &[f64]) -> Fit {
    fit_prior_from(n, e, w, &DEFAULT_STARTS)
}

/// [`fit_prior_with`] from the given starting points, maximising [`neg_log_lik`]
/// ([`Truncation::Mixture`]).
pub fn fit_prior_from(n: &[f64], e: &[f64], w: &[f64], starts: &[Prior]) -> Fit {
    fit_prior_with(n, e, w, starts, Truncation::Mixture)
}

/// Maximum marginal likelihood fit of the prior from the given starting points.
///
/// It minimises the chosen zero-truncated likelihood ([`neg_log_lik`] for
/// [`Truncation::Mixture`], [`neg_log_lik_per_component`] to reproduce openEBGM) over
/// `α, β ∈ [PARAM_MIN, PARAM_MAX]` and `p ∈ [P_MIN, P_MAX]`, in
/// `(ln α₁, ln β₁, ln α₂, ln β₂, logit p)`, by projected Newton steps with the
/// likelihood's analytic gradient and the Hessian from forward differences of it
/// (`newton.rs`). From the search's optimum they converge in a few iterations, where the
/// L-BFGS used before took a hundred or more (see `newton.rs`). Starts
/// outside the bounds are clamped into them; starts with a NaN field are skipped. The
/// stages are:
///
/// 1. **Search.** Every start runs to a loose optimum (projected gradient ≤ 1e-6·|f|), on
///    both cores, one start per thread at a time. If squashing removes at least three
///    quarters of the points, this runs on data squashed to a 5% spread of `E` per point
///    (DuMouchel & Pregibon 2001; see `Pairs::squashed`); otherwise on all pairs. The best
///    optimum wins, ties going to the earlier start, so the thread count never matters.
///    1b. **On a bound.** If the best optimum sits on a bound, the next stage (the finer
///    squash when there is one, else all pairs) runs from it to the search's tolerance;
///    if that optimum is on a bound too, the fit ends there, `at_bound`, unpolished: a
///    prior on a bound is never used, so polishing it would only cost time.
/// 2. **Settle.** For big inputs, from there to a tight optimum (projected gradient
///    ≤ 1e-9·|f|) of a finer squash (0.2% spread of `E`).
/// 3. **Polish.** To the tight optimum of the full-data likelihood. An estimate that can
///    be used (not on a bound) is therefore always the optimum of the unsquashed
///    likelihood; squashing only makes the way there cheaper.
///
/// The result depends only on the inputs, not on the thread count: the likelihood is
/// summed in fixed chunks, added in order, and each start runs on its own. Invalid pairs
/// (see [`check_pairs`]), or no usable start, give a fit with `neg_log_lik = +∞`,
/// `converged = false`, and the first start (or DuMouchel's) as `prior`. Empty data, or
/// data whose weights are all 0, give `neg_log_lik = 0` and `converged = false`.
pub fn fit_prior_with(
    n: &[f64],
    e: &[f64],
    w: &[f64],
    starts: &[Prior],
    truncation: Truncation,
) -> Fit {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    fit_with_options(n, e, w, starts, truncation, threads, true)
}

/// [`fit_prior_with`] with the number of threads for the starts, and whether squashing
/// may be used, chosen by the caller (the tests show neither changes the result beyond
/// what they state).
fn fit_with_options(
    n: &[f64],
    e: &[f64],
    w: &[f64],
    starts: &[Prior],
    truncation: Truncation,
    threads: usize,
    allow_squash: bool,
) -> Fit {
    let clock = std::time::Instant::now();
    let (usable, full) = match prepare(n, e, w, starts) {
        Ok(ready) => ready,
        Err(fit) => return fit,
    };
    let failed = |neg_log_lik: f64| failed_fit(&usable, neg_log_lik);
    // A squash level is only worth it when it removes most of the points.
    let squash = |width: f64| {
        allow_squash
            .then(|| full.squashed(width))
            .filter(|s| 4 * s.len() < full.len())
    };
    let coarse = squash(COARSE_WIDTH);
    let medium = coarse.as_ref().and_then(|_| squash(MEDIUM_WIDTH));
    let stage1 = coarse.as_ref().unwrap_or(&full);
    tracing::debug!(
        points = full.len(),
        coarse = coarse.as_ref().map(Pairs::len),
        medium = medium.as_ref().map(Pairs::len),
        elapsed_ms = clock.elapsed().as_millis() as u64,
        "EBGM fit: pairs laid out and squashed"
    );

    let search = Options {
        gtol: 1e-6,
        ftol: 1e-12,
        max_iter: 1_000,
    };
    let tight = Options {
        gtol: 1e-9,
        ftol: 1e-15,
        max_iter: 1_000,
    };
    let clock = std::time::Instant::now();
    let results = run_starts(stage1, truncation, &usable, search, threads);
    tracing::debug!(
        points = stage1.len(),
        evaluations = results.iter().map(|r| r.evals).sum::<u64>(),
        elapsed_ms = clock.elapsed().as_millis() as u64,
        "EBGM fit: search from every start"
    );
    let mut iterations: u64 = results.iter().map(|r| r.iterations).sum();
    let mut evaluations: u64 = results.iter().map(|r| r.evals).sum();
    // min_by keeps the first of equal elements, so ties go to the earlier start.
    let Some(best1) = results.iter().copied().min_by(|a, b| a.f.total_cmp(&b.f)) else {
        return failed(f64::INFINITY);
    };
    let starts_agreeing = results
        .iter()
        .filter(|r| r.f.is_finite() && r.f - best1.f <= 1e-6 * best1.f.abs().max(1.0))
        .count();
    let (lo, hi) = bounds();
    // One Newton run of a stage after the search, counted and logged with `-v`.
    let mut stage = |name: &str, pairs: &Pairs, x: Point, opts: Options| {
        let clock = std::time::Instant::now();
        let r = newton::minimize(objective(pairs, truncation), x, lo, hi, opts);
        tracing::debug!(
            stage = name,
            points = pairs.len(),
            evaluations = r.evals,
            elapsed_ms = clock.elapsed().as_millis() as u64,
            iterations = r.iterations,
            at_bound = near_bound(&r.x),
            "EBGM fit"
        );
        iterations += r.iterations;
        evaluations += r.evals;
        r
    };
    // An optimum on a bound cannot be used (see `Fit::at_bound`): when the search ends on
    // one, the next stage runs to the search's tolerance only, and if it stays on the
    // bound the fit ends there, on its squashed data if it had any. Polishing an
    // estimate that will be refused only costs time (1.6 s of the 1m benchmark's drug,
    // device and pooled fits).
    let mut x = best1.x;
    let mut last = None;
    if near_bound(&x) {
        let r = stage(
            "checking an optimum on a bound",
            medium.as_ref().unwrap_or(&full),
            x,
            search,
        );
        x = r.x;
        if near_bound(&x) {
            last = Some(r);
        }
    }
    let r = match last {
        Some(r) => r,
        None => {
            if let Some(medium) = &medium {
                x = stage("settle", medium, x, tight).x;
            }
            stage("polish on every pair", &full, x, tight)
        }
    };
    let prior = to_prior(&r.x);
    // The reported value is the likelihood itself, not the gradient pass's sum of it.
    let nll = full.neg_log_lik(&prior, truncation);
    Fit {
        prior,
        neg_log_lik: nll,
        iterations,
        converged: r.converged && nll.is_finite(),
        starts: usable.len(),
        evaluations,
        starts_agreeing,
        at_bound: near_bound(&r.x),
    }
}

/// The usable starts and the pairs laid out for the likelihood, or the fit that says
/// there is nothing to fit: invalid pairs or no usable start (`neg_log_lik = +∞`), no
/// pair with a weight (`0`). Both optimisers begin here.
fn prepare(n: &[f64], e: &[f64], w: &[f64], starts: &[Prior]) -> Result<(Vec<Prior>, Pairs), Fit> {
    let usable = usable_starts(starts);
    if check_pairs(n, e, w).is_err() || usable.is_empty() {
        return Err(failed_fit(&usable, f64::INFINITY));
    }
    let full = Pairs::new(n, e, w);
    if full.len() == 0 {
        return Err(failed_fit(&usable, 0.0));
    }
    Ok((usable, full))
}

/// A fit that did not run: the first usable start (or DuMouchel's) as the prior.
fn failed_fit(usable: &[Prior], neg_log_lik: f64) -> Fit {
    Fit {
        prior: usable
            .first()
            .copied()
            .unwrap_or(Prior::DUMOUCHEL_1999_START),
        neg_log_lik,
        iterations: 0,
        converged: false,
        starts: usable.len(),
        evaluations: 0,
        starts_agreeing: 0,
        at_bound: false,
    }
}

/// The starts without a NaN field, in order.
fn usable_starts(starts: &[Prior]) -> Vec<Prior> {
    starts
        .iter()
        .filter(|s| {
            [s.alpha1, s.beta1, s.alpha2, s.beta2, s.p]
                .iter()
                .all(|v| !v.is_nan())
        })
        .copied()
        .collect()
}

/// The likelihood and its gradient in the transformed coordinates.
fn objective(pairs: &Pairs, truncation: Truncation) -> impl Fn(&Point) -> Grad + '_ {
    move |x: &Point| pairs.neg_log_lik_grad(&to_prior(x), truncation)
}

/// Runs the search stage from every start, on all cores: each thread takes the next
/// start not yet taken (starts differ several-fold in cost, so a fixed split left one
/// core idle). Each start's run is independent and deterministic, and the results come
/// back in start order, so neither the thread count nor the timing can change them.
fn run_starts(
    pairs: &Pairs,
    truncation: Truncation,
    starts: &[Prior],
    opts: Options,
    threads: usize,
) -> Vec<Outcome> {
    let (lo, hi) = bounds();
    let run = |i: usize| {
        newton::minimize(
            objective(pairs, truncation),
            to_point(&starts[i]),
            lo,
            hi,
            opts,
        )
    };
    let threads = threads.min(starts.len());
    if threads <= 1 {
        return (0..starts.len()).map(run).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::OnceLock<Outcome>> = (0..starts.len())
        .map(|_| std::sync::OnceLock::new())
        .collect();
    let work = || loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(slot) = results.get(i) else { break };
        let _ = slot.set(run(i));
    };
    std::thread::scope(|scope| {
        // A thread that fails to start leaves its share to the others; one that panics
        // leaves its start unset, which is redone below (joined here, so the panic is
        // not passed on).
        let handles: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        work();
        for handle in handles {
            let _ = handle.join();
        }
    });
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.into_inner().unwrap_or_else(|| run(i)))
        .collect()
}
#[cfg(test)]
mod tests;
