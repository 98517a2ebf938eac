//! The zero-truncated marginal likelihood of the prior over the listed pairs, in both
//! truncations ([`Truncation`]), and the checks a pair must pass to enter it. The fit
//! (`fit.rs`) evaluates it many times through [`Pairs`], which precomputes everything
//! that does not depend on the prior.
//!
//! Stage: `signals`; plain slices in, numbers out. Invariants: an invalid prior or pair
//! gives `+∞`, never NaN or a panic, and [`check_pairs`] says which pair is at fault. The
//! sum runs in fixed chunks added in a fixed order, so the result is bit-identical
//! whatever the thread count; that is what makes the fit deterministic.

use super::posterior::Prior;
use statrs::function::gamma::{digamma, ln_gamma};
use std::fmt;
use std::ops::Range;

mod gradient;
pub(super) use gradient::{Grad, GRAD_LEN};

/// Why a set of pairs cannot enter the likelihood.
#[derive(Debug, Clone, PartialEq)]
pub enum PairError {
    /// `n`, `e` and `w` have different lengths.
    LengthMismatch { n: usize, e: usize, w: usize },
    /// A count is below 1 or not finite. Zero counts have probability 0 under the
    /// zero-truncated model.
    Count { index: usize, found: f64 },
    /// An expected count is `≤ 0` or not finite.
    Expected { index: usize, found: f64 },
    /// A weight is negative or not finite.
    Weight { index: usize, found: f64 },
}

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairError::LengthMismatch { n, e, w } => write!(
                f,
                "counts, expected counts and weights must have the same length, found `{n}`, `{e}` and `{w}`"
            ),
            PairError::Count { index, found } => write!(
                f,
                "pair {}: count `n` must be a finite number >= 1, found `{found}`",
                index + 1
            ),
            PairError::Expected { index, found } => write!(
                f,
                "pair {}: expected count `E` must be a finite number > 0, found `{found}`",
                index + 1
            ),
            PairError::Weight { index, found } => write!(
                f,
                "pair {}: weight must be a finite number >= 0, found `{found}`",
                index + 1
            ),
        }
    }
}

impl std::error::Error for PairError {}

/// Checks that the pairs can enter the zero-truncated likelihood: equal lengths, each
/// `n ≥ 1`, each `E > 0`, each `w ≥ 0`, all finite. It reports the first problem found.
pub fn check_pairs(n: &[f64], e: &[f64], w: &[f64]) -> Result<(), PairError> {
    if n.len() != e.len() || n.len() != w.len() {
        return Err(PairError::LengthMismatch {
            n: n.len(),
            e: e.len(),
            w: w.len(),
        });
    }
    for (index, ((&ni, &ei), &wi)) in n.iter().zip(e).zip(w).enumerate() {
        if !(ni.is_finite() && ni >= 1.0) {
            return Err(PairError::Count { index, found: ni });
        }
        if !(ei.is_finite() && ei > 0.0) {
            return Err(PairError::Expected { index, found: ei });
        }
        if !(wi.is_finite() && wi >= 0.0) {
            return Err(PairError::Weight { index, found: wi });
        }
    }
    Ok(())
}

/// How the likelihood accounts for the pairs that are never listed because `n = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// `f(n) / (1 − f(0))`, with `f = P·f₁ + (1 − P)·f₂` the mixture: the exact
    /// likelihood of the listed pairs under DuMouchel's model, where every cell of the
    /// table, zeros included, draws `λ` from the prior. It is the model under which `Qₙ`
    /// (untruncated `f`, as openEBGM computes it) is the exact posterior weight. This is
    /// the default.
    Mixture,
    /// `P·f₁(n)/(1 − f₁(0)) + (1 − P)·f₂(n)/(1 − f₂(0))`: each component truncated on its
    /// own. This is what openEBGM's `negLL`/`negLLsquash` (`N_star = 1`, the likelihood
    /// behind `autoHyper(zeroes = FALSE)`) and PhViD's `.likTronc2NB` compute. Use it to
    /// reproduce their estimates. Under DuMouchel's model it is not the likelihood of the
    /// data: simulated data show it distorting the prior (see the test
    /// `per_component_truncation_distorts_the_prior`).
    PerComponent,
}

/// Pairs laid out for fast repeated likelihood evaluation. The count-only terms
/// (`ln n!` and the distinct counts) are computed once. Each evaluation then computes
/// `ln Γ(α+n) − ln Γ(α)` once per distinct count, not once per pair.
#[derive(Debug, Clone)]
pub(super) struct Pairs {
    n: Vec<f64>,
    e: Vec<f64>,
    ln_e: Vec<f64>,
    w: Vec<f64>,
    /// Index of each pair's count in `distinct_n`.
    n_idx: Vec<u32>,
    distinct_n: Vec<f64>,
    ln_fact: Vec<f64>,
}

impl Pairs {
    /// Builds the layout. The caller has checked the pairs (see [`check_pairs`]).
    /// Zero-weight pairs are dropped, since they add nothing.
    pub(super) fn new(n: &[f64], e: &[f64], w: &[f64]) -> Pairs {
        let keep: Vec<usize> = (0..n.len()).filter(|&i| w[i] > 0.0).collect();
        let mut distinct_n: Vec<f64> = keep.iter().map(|&i| n[i]).collect();
        // The pipeline hands over pairs in count order: then one pass numbers the counts.
        let in_order = distinct_n.is_sorted_by(|a, b| a.total_cmp(b).is_le());
        if !in_order {
            distinct_n.sort_by(f64::total_cmp);
        }
        distinct_n.dedup();
        let n_idx = if in_order {
            let mut k = 0u32;
            keep.iter()
                .enumerate()
                .map(|(j, &i)| {
                    if j > 0 && n[i] != n[keep[j - 1]] {
                        k += 1;
                    }
                    k
                })
                .collect()
        } else {
            keep.iter()
                .map(|&i| {
                    // The search cannot miss: distinct_n was built from these very values.
                    let pos = distinct_n
                        .binary_search_by(|probe| probe.total_cmp(&n[i]))
                        .unwrap_or_else(|insert_at| insert_at);
                    u32::try_from(pos).unwrap_or(u32::MAX)
                })
                .collect()
        };
        let ln_fact = distinct_n.iter().map(|&k| ln_gamma(k + 1.0)).collect();
        Pairs {
            n: keep.iter().map(|&i| n[i]).collect(),
            e: keep.iter().map(|&i| e[i]).collect(),
            ln_e: keep.iter().map(|&i| e[i].ln()).collect(),
            w: keep.iter().map(|&i| w[i]).collect(),
            n_idx,
            distinct_n,
            ln_fact,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.n.len()
    }

    /// Data squashing in the manner of DuMouchel & Pregibon (2001) and openEBGM's
    /// `squashData`, used only to find the optimum's neighbourhood cheaply. Within each
    /// count, pairs are sorted by `E`, and runs whose largest `E` is at most `1 + width`
    /// times their smallest are merged. The merged point has the weight-averaged `E` and
    /// the summed weight. Bounding the relative spread of `E` inside a bin bounds the error
    /// squashing adds to each pair's log-likelihood. Dense groups (the many pairs with
    /// n = 1, 2, …) shrink a lot, while sparse groups of large counts stay nearly as they
    /// are.
    pub(super) fn squashed(&self, width: f64) -> Pairs {
        // The pairs by (count, E, position); already so when the pipeline hands them over.
        let key = |i: usize| (self.n_idx[i], self.e[i]);
        let mut order: Vec<usize> = (0..self.len()).collect();
        let in_order = order.is_sorted_by(|&a, &b| {
            let ((ka, ea), (kb, eb)) = (key(a), key(b));
            ka.cmp(&kb).then(ea.total_cmp(&eb)).is_le()
        });
        if !in_order {
            order.sort_by(|&a, &b| {
                let ((ka, ea), (kb, eb)) = (key(a), key(b));
                ka.cmp(&kb).then(ea.total_cmp(&eb)).then(a.cmp(&b))
            });
        }
        let mut out = Pairs {
            n: Vec::new(),
            e: Vec::new(),
            ln_e: Vec::new(),
            w: Vec::new(),
            n_idx: Vec::new(),
            distinct_n: self.distinct_n.clone(),
            ln_fact: self.ln_fact.clone(),
        };
        let mut flush = |k: usize, run: &[usize]| {
            let w_sum: f64 = run.iter().map(|&i| self.w[i]).sum();
            let e_mean = run.iter().map(|&i| self.w[i] * self.e[i]).sum::<f64>() / w_sum;
            out.n.push(self.distinct_n[k]);
            out.e.push(e_mean);
            out.ln_e.push(e_mean.ln());
            out.w.push(w_sum);
            out.n_idx.push(u32::try_from(k).unwrap_or(u32::MAX));
        };
        for group in order.chunk_by(|&a, &b| self.n_idx[a] == self.n_idx[b]) {
            let k = self.n_idx[group[0]] as usize;
            let mut first = 0;
            for j in 1..=group.len() {
                let close =
                    j < group.len() && self.e[group[j]] <= self.e[group[first]] * (1.0 + width);
                if !close {
                    flush(k, &group[first..j]);
                    first = j;
                }
            }
        }
        out
    }

    /// One component's per-evaluation constants.
    fn component(&self, alpha: f64, beta: f64) -> Component {
        let lg_a = ln_gamma(alpha);
        // ln Γ(α+n) − ln Γ(α) − ln n!, once per distinct count.
        let c = self
            .distinct_n
            .iter()
            .zip(&self.ln_fact)
            .map(|(&k, &lf)| ln_gamma(alpha + k) - lg_a - lf)
            .collect();
        Component {
            alpha,
            beta,
            ln_alpha: alpha.ln(),
            ln_beta: beta.ln(),
            inv_beta: 1.0 / beta,
            c,
        }
    }

    /// Negative log-likelihood. The caller has checked that the prior is valid.
    pub(super) fn neg_log_lik(&self, prior: &Prior, truncation: Truncation) -> f64 {
        let c1 = self.component(prior.alpha1, prior.beta1);
        let c2 = self.component(prior.alpha2, prior.beta2);
        let ln_p = prior.p.ln();
        let ln_q = (1.0 - prior.p).ln();

        let chunk_sum = |range: Range<usize>| -> f64 {
            let mut acc = 0.0;
            for i in range {
                let k = self.n_idx[i] as usize;
                let (n, e, ln_e) = (self.n[i], self.e[i], self.ln_e[i]);
                let ln_lik = match truncation {
                    Truncation::PerComponent => {
                        let (lf1, l1m1) = c1.ln_pmf_and_ln_1m_p0(k, n, e, ln_e);
                        let (lf2, l1m2) = c2.ln_pmf_and_ln_1m_p0(k, n, e, ln_e);
                        log_add_exp(ln_p + lf1 - l1m1, ln_q + lf2 - l1m2)
                    }
                    Truncation::Mixture => {
                        let (lf1, ln_p0_1, _) = c1.ln_pmf_and_ln_p0(k, n, e, ln_e);
                        let (lf2, ln_p0_2, _) = c2.ln_pmf_and_ln_p0(k, n, e, ln_e);
                        // 1 − f(0) = P(1 − f₁(0)) + (1 − P)(1 − f₂(0)). It is a sum of
                        // non-negative terms, each accurate, so nothing cancels even when
                        // f(0) is within 1e-16 of 1 (tiny E).
                        let denom = prior.p * Component::one_minus_p0(ln_p0_1)
                            + (1.0 - prior.p) * Component::one_minus_p0(ln_p0_2);
                        let (a, b) = (ln_p + lf1, ln_q + lf2);
                        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
                        if denom > 1e-290 && hi > f64::NEG_INFINITY {
                            // One ln for numerator and denominator together.
                            hi + ((1.0 + (lo - hi).exp()) / denom).ln()
                        } else {
                            // E/β so small that 1 − f(0) underflows: the log-space form.
                            let (_, l1m1) = c1.ln_pmf_and_ln_1m_p0(k, n, e, ln_e);
                            let (_, l1m2) = c2.ln_pmf_and_ln_1m_p0(k, n, e, ln_e);
                            log_add_exp(a, b) - log_add_exp(ln_p + l1m1, ln_q + l1m2)
                        }
                    }
                };
                acc -= self.w[i] * ln_lik;
            }
            acc
        };
        let total = chunked_sum(self.len(), &chunk_sum);
        if total.is_nan() {
            f64::INFINITY
        } else {
            total
        }
    }
}

/// One negative binomial component, with its per-evaluation constants.
struct Component {
    alpha: f64,
    beta: f64,
    ln_alpha: f64,
    ln_beta: f64,
    inv_beta: f64,
    /// `ln Γ(α+n) − ln Γ(α) − ln n!` per distinct count.
    c: Vec<f64>,
}

impl Component {
    /// Returns `(ln f(n), ln f(0), l)` with `l = ln((β+E)/β)`.
    #[inline]
    fn ln_pmf_and_ln_p0(&self, k: usize, n: f64, e: f64, ln_e: f64) -> (f64, f64, f64) {
        let r = e * self.inv_beta;
        // ln(β+E) − ln β has an absolute error of about 2e-16, which is harmless unless
        // E/β is small and 1 − f(0) ≈ α·l. There, ln_1p keeps every digit. Elsewhere the
        // plain ln is about three times cheaper, and this is the inner loop of the fit.
        let l = if r < 1e-3 {
            r.ln_1p()
        } else {
            (e + self.beta).ln() - self.ln_beta
        };
        let ln_p0 = -self.alpha * l; // ln f(0) = α·ln(β/(β+E))
        (self.c[k] + n * (ln_e - self.ln_beta - l) + ln_p0, ln_p0, l)
    }

    /// `(f(0), 1 − f(0))` from `ln f(0)` with one exponential: expm1 where plain exp
    /// would cancel in `1 − f(0)` (there `f(0) > 0.9`, so `1 − (1 − f(0))` loses nothing).
    #[inline]
    fn p0_and_one_minus(ln_p0: f64) -> (f64, f64) {
        if ln_p0 > -0.1 {
            let m = -ln_p0.exp_m1();
            (1.0 - m, m)
        } else {
            let p0 = ln_p0.exp();
            (p0, 1.0 - p0)
        }
    }

    /// `1 − f(0)` from `ln f(0)`, using expm1 only where plain exp would cancel.
    #[inline]
    fn one_minus_p0(ln_p0: f64) -> f64 {
        if ln_p0 > -0.1 {
            -ln_p0.exp_m1()
        } else {
            1.0 - ln_p0.exp()
        }
    }

    /// Returns `(ln f(n), ln(1 − f(0)))`.
    #[inline]
    fn ln_pmf_and_ln_1m_p0(&self, k: usize, n: f64, e: f64, ln_e: f64) -> (f64, f64) {
        let r = e * self.inv_beta;
        let (ln_pmf, ln_p0, l) = self.ln_pmf_and_ln_p0(k, n, e, ln_e);
        let ln_1m_p0 = if -ln_p0 < 1e-100 {
            // 1 − e^{−αl} = αl to within 1e-100 relative. Using ln α + ln l here avoids
            // ln(0) when αl underflows.
            let ln_l = if r < 1e-200 {
                ln_e - self.ln_beta
            } else {
                l.ln()
            };
            self.ln_alpha + ln_l
        } else {
            log1m_exp(ln_p0)
        };
        (ln_pmf, ln_1m_p0)
    }
}

/// `ln(1 − eˣ)` for `x < 0`, accurate across the range (Mächler 2012).
#[inline]
fn log1m_exp(x: f64) -> f64 {
    if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// `ln(eᵃ + eᵇ)`, without overflow.
#[inline]
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `(ln(eᵃ + eᵇ), eᵃ/(eᵃ + eᵇ), eᵇ/(eᵃ + eᵇ))`: [`log_add_exp`] and both shares from its
/// one exponential (`d = e^{lo−hi}`, shares `1/(1+d)` and `d/(1+d)`), where forming each
/// share as `e^{a − ln(eᵃ + eᵇ)}` took two more. Both `−∞` give NaN shares, as
/// `e^{−∞ − (−∞)}` did.
#[inline]
fn log_add_exp_shares(a: f64, b: f64) -> (f64, f64, f64) {
    let a_is_hi = a >= b;
    let (hi, lo) = if a_is_hi { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return (f64::NEG_INFINITY, f64::NAN, f64::NAN);
    }
    let d = (lo - hi).exp();
    let big = 1.0 / (1.0 + d);
    let small = d * big;
    let ln = hi + d.ln_1p();
    if a_is_hi {
        (ln, big, small)
    } else {
        (ln, small, big)
    }
}

/// Pairs per chunk of the likelihood sum. Chunk boundaries depend only on the data length,
/// so the partial sums, and the order they are added in, do not depend on the threads.
const CHUNK: usize = 8192;
/// Below this many pairs, thread start-up costs more than it saves. (Two chunks: an
/// evaluation of 16k pairs takes about a millisecond, starting a thread some 30 µs.)
const PARALLEL_MIN: usize = 2 * CHUNK;

fn chunked_sum(len: usize, chunk_sum: &(dyn Fn(Range<usize>) -> f64 + Sync)) -> f64 {
    chunked(len, chunk_sum).iter().sum()
}

/// The sums of the likelihood and its gradient over fixed chunks, added in chunk order,
/// so the result is bit-identical whatever the thread count.
fn chunked_grad_sum(len: usize, chunk_sum: &(dyn Fn(Range<usize>) -> Grad + Sync)) -> Grad {
    let mut total = [0.0; GRAD_LEN];
    for part in chunked(len, chunk_sum) {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

/// `chunk_sum` over the chunks of `0..len`, on all cores, in chunk order.
fn chunked<T: Send>(len: usize, chunk_sum: &(dyn Fn(Range<usize>) -> T + Sync)) -> Vec<T> {
    let n_chunks = len.div_ceil(CHUNK);
    let range = move |c: usize| c * CHUNK..((c + 1) * CHUNK).min(len);
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n_chunks);
    if len < PARALLEL_MIN || threads <= 1 {
        return (0..n_chunks).map(|c| chunk_sum(range(c))).collect();
    }
    let per_thread = n_chunks.div_ceil(threads);
    // The work for thread t. It is a factory so that a thread which fails to start, or
    // panics, can be redone on this thread.
    let work = move |t: usize| {
        move || -> Vec<T> {
            let first = t * per_thread;
            let last = ((t + 1) * per_thread).min(n_chunks);
            (first..last).map(|c| chunk_sum(range(c))).collect()
        }
    };
    let parts: Vec<Vec<T>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|t| std::thread::Builder::new().spawn_scoped(scope, work(t)))
            .collect();
        let mut parts = vec![work(0)()];
        for (i, handle) in handles.into_iter().enumerate() {
            let t = i + 1;
            let part = match handle {
                Ok(h) => h.join().unwrap_or_else(|_| work(t)()),
                Err(_) => work(t)(),
            };
            parts.push(part);
        }
        parts
    });
    parts.into_iter().flatten().collect()
}

/// Negative log marginal likelihood of the prior over observed pairs (n ≥ 1),
/// zero-truncated: each pair contributes
///
/// ```text
/// −w · ln( f(n; θ, E) / (1 − f(0; θ, E)) ),    f = P·f₁ + (1 − P)·f₂,
/// ```
///
/// where `f` is the two-component negative-binomial mixture (see the module header). This
/// is [`Truncation::Mixture`], the exact likelihood of the listed pairs under DuMouchel's
/// model. openEBGM's `negLLsquash`/`negLL` with `N_star = 1` (behind
/// `autoHyper(zeroes = FALSE)`) truncates each component separately instead. That is a
/// different function: [`neg_log_lik_per_component`].
///
/// `n`, `e`, `w`: counts, expected counts, multiplicities (weights) of distinct (n, E) pairs.
/// Pairs with `w = 0` contribute nothing. The constant `−Σ w·ln n!` is included.
///
/// Returns `+∞`, meaning "the model cannot produce these data", when the prior is invalid
/// ([`Prior::is_valid`]) or the pairs fail [`check_pairs`]: slices of unequal length,
/// `n < 1`, `E ≤ 0`, `w < 0`, or a non-finite value. Call [`check_pairs`] to find out which
/// pair is at fault.
pub fn neg_log_lik(prior: &Prior, n: &[f64], e: &[f64], w: &[f64]) -> f64 {
    neg_log_lik_with(prior, n, e, w, Truncation::Mixture)
}

/// openEBGM's zero-truncated likelihood ([`Truncation::PerComponent`]). It equals
/// `negLLsquash(theta, ni = n, ei = e, wi = w, N_star = 1)` from `cran/openEBGM`
/// `R/f_likelihoodEqs.R`, and `negLL(theta, N, E, N_star = 1)` when all weights are 1.
/// Each pair contributes
///
/// ```text
/// −w · ln[ P·f₁(n)/(1 − f₁(0)) + (1 − P)·f₂(n)/(1 − f₂(0)) ].
/// ```
///
/// Invalid input gives `+∞`, as in [`neg_log_lik`].
pub fn neg_log_lik_per_component(prior: &Prior, n: &[f64], e: &[f64], w: &[f64]) -> f64 {
    neg_log_lik_with(prior, n, e, w, Truncation::PerComponent)
}

fn neg_log_lik_with(prior: &Prior, n: &[f64], e: &[f64], w: &[f64], t: Truncation) -> f64 {
    if !prior.is_valid() || check_pairs(n, e, w).is_err() {
        return f64::INFINITY;
    }
    Pairs::new(n, e, w).neg_log_lik(prior, t)
}

#[cfg(test)]
mod tests;
