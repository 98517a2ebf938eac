//! EBGM: DuMouchel's gamma-Poisson shrinker (GPS), with its prior fit.
//!
//! Stage: `signals`. This module is pure statistics. It reads and writes no frames; the
//! signals stage passes it plain slices of counts and expected counts and gets numbers
//! back. It depends only on `std`, `statrs`, and `nalgebra` (statrs's own linear algebra)
//! for the Newton steps' 5×5 eigenproblems.
//!
//! # Model (DuMouchel 1999, The American Statistician 53:177–190)
//!
//! For a product–event pair with observed count `n` and expected count `E`,
//! `N | λ ~ Poisson(λ·E)`, and the ratio `λ` has the two-gamma mixture prior
//!
//! ```text
//! π(λ; θ) = P·g(λ; α₁, β₁) + (1 − P)·g(λ; α₂, β₂),   g = gamma density, shape α, rate β.
//! ```
//!
//! **Marginal.** Each component makes `N` negative binomial (size `α`, prob `β/(β+E)`):
//!
//! ```text
//! f(n; α, β, E) = Γ(α+n) / (Γ(α)·n!) · (β/(β+E))^α · (E/(β+E))^n
//! ```
//!
//! and the marginal of `N` is `P·f₁(n) + (1 − P)·f₂(n)`.
//!
//! **Fit.** Only pairs seen at least once are listed, so the likelihood is zero-truncated.
//! Under the model, every cell of the table, zeros included, draws `λ` from the prior.
//! The exact likelihood of the listed pairs is then the mixture divided by its own
//! probability of a nonzero count. [`neg_log_lik`] computes it:
//!
//! ```text
//! −ln L(θ) = −Σᵢ wᵢ · ln( f(nᵢ) / (1 − f(0)) ),   f = P·f₁ + (1 − P)·f₂.
//! ```
//!
//! openEBGM (`negLLsquash`, `N_star = 1`) and PhViD (`.likTronc2NB`) truncate each component
//! separately instead: `P·f₁(n)/(1 − f₁(0)) + (1 − P)·f₂(n)/(1 − f₂(0))`. That is
//! [`neg_log_lik_per_component`], and [`fit_prior_with`] can fit it with
//! [`Truncation::PerComponent`] to reproduce their estimates. The two are not the same
//! model. On data simulated from DuMouchel's model, the mixture truncation recovers the
//! prior. The per-component one distorts it: in the tests' simulation, EBGM at `n = 1`,
//! `E = 0.05` comes out about 24% low. [`fit_prior`] maximises [`neg_log_lik`] over
//! `α, β ∈ [PARAM_MIN, PARAM_MAX]` and `P ∈ [P_MIN, P_MAX]`, in
//! `(ln α₁, ln β₁, ln α₂, ln β₂, logit P)`, by projected Newton steps from several
//! starting points. Data squashing makes the search cheap, and
//! the estimate is then polished on all pairs.
//!
//! **Posterior** (DuMouchel 1999 eqs. 6–8). The posterior of `λ` given `N = n` is
//!
//! ```text
//! λ | n ~ Qₙ·Gamma(α₁+n, β₁+E) + (1 − Qₙ)·Gamma(α₂+n, β₂+E),
//! Qₙ = P·f₁(n) / (P·f₁(n) + (1 − P)·f₂(n))      (untruncated f, as openEBGM `Qn`).
//! ```
//!
//! **EBGM** (eqs. 9–11) is the posterior geometric mean:
//!
//! ```text
//! EBGM = exp(E[ln λ | n]),  E[ln λ | n] = Qₙ·(ψ(α₁+n) − ln(β₁+E)) + (1 − Qₙ)·(ψ(α₂+n) − ln(β₂+E)).
//! ```
//!
//! **Quantiles.** `EBq` solves
//! `F(x) = Qₙ·P(α₁+n, (β₁+E)·x) + (1 − Qₙ)·P(α₂+n, (β₂+E)·x) = q`, where `P` is the
//! regularized lower incomplete gamma function. The root is found by safeguarded Halley
//! steps in `ln x` from a Wilson–Hilferty start, to about 1e-14 in `ln x`. It never uses a
//! normal approximation. `EB05` is `q = 0.05` and `EB95` is `q = 0.95`.
//!
//! # Sources
//!
//! - DuMouchel W (1999), doi:10.1080/00031305.1999.10474456.
//! - DuMouchel W, Pregibon D (2001), "Empirical Bayes screening for multi-item
//!   associations", KDD '01, 67–76 (zero truncation and data squashing).
//! - openEBGM (Canida & Ihrie 2017, The R Journal 9(2), p. 499, RJ-2017-063), repository
//!   `cran/openEBGM`:
//!   `R/f_posteriorCalcs.R` (`Qn`, `ebgm`, `quantBisect`), `R/f_likelihoodEqs.R`
//!   (`negLLsquash`), `R/f_hyperEstimation.R` (`autoHyper`, `param_limit = 100`).
//! - PhViD `GPS` (Ahmed & Poncet), from which openEBGM's likelihood is derived.
//!
//! # Invariants
//!
//! - Everything is computed in log space, with `ln Γ` and `ψ` from statrs. `ln(1 + E/β)`
//!   and `1 − f(0)` use `ln_1p`/`expm1` wherever the plain forms would cancel. So `n` in
//!   the thousands, `E` from 1e-300 to 1e5, and priors at the bounds give finite,
//!   accurate results.
//! - Counts and expected counts are `f64`. The product `(a+b)(a+c)` overflows 32-bit
//!   integers at national scale (openEBGM 0.8.2 fixed exactly this).
//! - No function here panics on data, and none returns NaN. Inputs outside the domain
//!   (`E ≤ 0`, `n < 0`, a prior with a parameter ≤ 0) have a documented result, and the
//!   `try_*` variants return `None` for them instead.
//! - [`fit_prior`] is deterministic. The likelihood is summed in fixed chunks whose partial
//!   sums are added in a fixed order, so the thread count does not change the result.
//!
//! # Layout
//!
//! - `posterior.rs`: the prior, the posterior of one pair, EBGM and its quantiles.
//! - `likelihood.rs`: the zero-truncated likelihood, and the checks its pairs must pass.
//! - `newton.rs`: the fit's minimiser, on `bounded.rs` (the box, the line search, the
//!   stopping rules); `optimize.rs`: Nelder–Mead (the
//!   fit before them, kept to compare against) and the safeguarded Halley root finder for
//!   the quantiles.
//! - `fit.rs`: the prior fit and the bounds it searches within.
//!
//! The submodules are private and every public item is re-exported here, so callers keep
//! one path, `signals::ebgm::X`, whichever file the item lives in.

mod bounded;
mod fit;
mod likelihood;
mod newton;
mod optimize;
mod posterior;
#[cfg(test)]
pub(crate) mod simulate;
#[cfg(test)]
mod test_support;

pub use fit::{
    fit_prior, fit_prior_from, fit_prior_nelder_mead, fit_prior_with, Fit, DEFAULT_STARTS,
    OPENEBGM_CAERS_PRIOR, PARAM_MAX, PARAM_MIN, P_MAX, P_MIN,
};
pub use likelihood::{check_pairs, neg_log_lik, neg_log_lik_per_component, PairError, Truncation};
pub use posterior::{
    ebgm, posterior, quantile, try_ebgm, try_posterior, try_quantile, Posterior, Prior,
};
