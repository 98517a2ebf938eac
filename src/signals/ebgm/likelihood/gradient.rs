//! The analytic gradient of the zero-truncated negative log-likelihood, in the fit's
//! coordinates `x = (ln α₁, ln β₁, ln α₂, ln β₂, logit P)`.
//!
//! For one pair `(n, E)` and one component (`α, β`, `ρ = E/β`, `l = ln(1 + ρ)`):
//!
//! ```text
//! ln f(n) = ln Γ(α+n) − ln Γ(α) − ln n! + n·ln(E/(β+E)) − α·l
//! ∂ ln f(n) / ∂ ln α = α·(ψ(α+n) − ψ(α) − l)        ∂ ln f(0) / ∂ ln α = −α·l
//! ∂ ln f(n) / ∂ ln β = (α·ρ − n) / (1 + ρ)           ∂ ln f(0) / ∂ ln β = α·ρ / (1 + ρ)
//! ```
//!
//! **Mixture truncation**, `L = ln f(n) − ln(1 − f(0))` with `f = P·f₁ + (1 − P)·f₂`:
//! with `r_k = π_k f_k(n) / f(n)` (the posterior weight `Qₙ`) and
//! `s_k = π_k f_k(0) / (1 − f(0))`, `∂L/∂θ_k = r_k ∂ln f_k(n)/∂θ_k + s_k ∂ln f_k(0)/∂θ_k`,
//! and `∂L/∂ logit P = (r₁ − P) + P(1 − P)·(m₂ − m₁)/(1 − f(0))`, `m_k = 1 − f_k(0)`.
//!
//! **Per-component truncation**, `L = ln Σ_k π_k f_k(n)/m_k`: with `r_k` the share of
//! component `k` in that sum, `∂L/∂θ_k = r_k (∂ln f_k(n)/∂θ_k + (f_k(0)/m_k)·∂ln f_k(0)/∂θ_k)`
//! and `∂L/∂ logit P = r₁ − P`.
//!
//! The negative log-likelihood is `−Σ w·L`, so its gradient is `−Σ w·∂L`. Where
//! `1 − f(0)` underflows (`E/β` below about 1e-290), the ratios are formed in log space,
//! as the likelihood itself is. The tests check every component against central finite
//! differences.

use super::{chunked_grad_sum, log_add_exp, log_add_exp_shares, Component, Pairs, Truncation};
use super::{digamma, Range};
use crate::signals::ebgm::posterior::Prior;

/// Value and gradient: `[nll, ∂/∂ ln α₁, ∂/∂ ln β₁, ∂/∂ ln α₂, ∂/∂ ln β₂, ∂/∂ logit P]`,
/// the layout the minimiser takes (`bounded.rs`).
pub(in crate::signals::ebgm) use crate::signals::ebgm::bounded::{Grad, GRAD_LEN};

/// One component's constants for the gradient: the likelihood's, and `ψ(α+n) − ψ(α)`
/// per distinct count.
struct GradComponent {
    base: Component,
    dig: Vec<f64>,
}

impl GradComponent {
    /// `ln l` with `l = ln(1 + E/β)`, without underflow for tiny `E/β`.
    #[inline]
    fn ln_l(&self, l: f64, ln_e: f64) -> f64 {
        if l < 1e-200 {
            ln_e - self.base.ln_beta
        } else {
            l.ln()
        }
    }
}

impl Pairs {
    fn grad_component(&self, alpha: f64, beta: f64) -> GradComponent {
        let base = self.component(alpha, beta);
        let dig_a = digamma(alpha);
        let dig = self
            .distinct_n
            .iter()
            .map(|&k| digamma(alpha + k) - dig_a)
            .collect();
        GradComponent { base, dig }
    }

    /// The negative log-likelihood and its gradient in the fit's coordinates
    /// (see the module header). The value agrees with [`Pairs::neg_log_lik`] to rounding;
    /// the caller has checked that the prior is valid. A NaN anywhere gives `+∞` and a
    /// zero gradient.
    pub(in crate::signals::ebgm) fn neg_log_lik_grad(
        &self,
        prior: &Prior,
        truncation: Truncation,
    ) -> Grad {
        let c1 = self.grad_component(prior.alpha1, prior.beta1);
        let c2 = self.grad_component(prior.alpha2, prior.beta2);
        let (p, q) = (prior.p, 1.0 - prior.p);
        let (ln_p, ln_q) = (p.ln(), q.ln());
        let chunk = |range: Range<usize>| -> Grad {
            let mut acc = [0.0; GRAD_LEN];
            for i in range {
                let k = self.n_idx[i] as usize;
                let (n, e, ln_e, w) = (self.n[i], self.e[i], self.ln_e[i], self.w[i]);
                let (lf1, lp0_1, l1) = c1.base.ln_pmf_and_ln_p0(k, n, e, ln_e);
                let (lf2, lp0_2, l2) = c2.base.ln_pmf_and_ln_p0(k, n, e, ln_e);
                let (rho1, rho2) = (e * c1.base.inv_beta, e * c2.base.inv_beta);
                let ln_rho = |c: &GradComponent| ln_e - c.base.ln_beta;
                let x1 = (lf1, lp0_1, l1, rho1, ln_rho(&c1));
                let x2 = (lf2, lp0_2, l2, rho2, ln_rho(&c2));
                let (ln_lik, t) = match truncation {
                    Truncation::Mixture => mixture_terms(&c1, &c2, (ln_p, ln_q), x1, x2, ln_e, p),
                    Truncation::PerComponent => {
                        per_component_terms(&c1, &c2, (ln_p, ln_q), x1, x2, ln_e, p)
                    }
                };
                // t = [r₁, r₂, s₁·α₁l₁, s₂·α₂l₂, s₁·α₁ρ₁/(1+ρ₁), s₂·α₂ρ₂/(1+ρ₂),
                // ∂L/∂ logit P], the s-terms carrying the truncation (see the callees).
                let g = [
                    c1.base.alpha * (t[0] * (c1.dig[k] - l1)) - t[2],
                    t[0] * (c1.base.alpha * rho1 - n) / (1.0 + rho1) + t[4],
                    c2.base.alpha * (t[1] * (c2.dig[k] - l2)) - t[3],
                    t[1] * (c2.base.alpha * rho2 - n) / (1.0 + rho2) + t[5],
                    t[6],
                ];
                acc[0] -= w * ln_lik;
                for j in 0..5 {
                    acc[j + 1] -= w * g[j];
                }
            }
            acc
        };
        let total = chunked_grad_sum(self.len(), &chunk);
        if total.iter().any(|v| v.is_nan()) {
            let mut bad = [0.0; GRAD_LEN];
            bad[0] = f64::INFINITY;
            return bad;
        }
        total
    }
}

/// One component's per-pair values: `(ln f(n), ln f(0), l, ρ, ln ρ)`.
type Terms = (f64, f64, f64, f64, f64);

/// The per-pair terms of the mixture truncation: `(L, [r₁, r₂, s₁α₁l₁, s₂α₂l₂,
/// s₁α₁ρ₁/(1+ρ₁), s₂α₂ρ₂/(1+ρ₂), ∂L/∂ logit P])`, with `s_k = π_k f_k(0)/(1 − f(0))`.
#[inline]
fn mixture_terms(
    c1: &GradComponent,
    c2: &GradComponent,
    (ln_p, ln_q): (f64, f64),
    (lf1, lp0_1, l1, rho1, ln_rho1): Terms,
    (lf2, lp0_2, l2, rho2, ln_rho2): Terms,
    ln_e: f64,
    p: f64,
) -> (f64, [f64; 7]) {
    let q = 1.0 - p;
    let (ln_f, r1, r2) = log_add_exp_shares(ln_p + lf1, ln_q + lf2);
    let (p0_1, m1) = Component::p0_and_one_minus(lp0_1);
    let (p0_2, m2) = Component::p0_and_one_minus(lp0_2);
    let denom = p * m1 + q * m2;
    if denom > 1e-290 {
        let (s1, s2) = (p * p0_1 / denom, q * p0_2 / denom);
        let (a1, a2) = (c1.base.alpha, c2.base.alpha);
        (
            ln_f - denom.ln(),
            [
                r1,
                r2,
                s1 * a1 * l1,
                s2 * a2 * l2,
                s1 * a1 * rho1 / (1.0 + rho1),
                s2 * a2 * rho2 / (1.0 + rho2),
                (r1 - p) + p * q * (m2 - m1) / denom,
            ],
        )
    } else {
        // E/β so small that 1 − f(0) underflows: every ratio in log space. Here
        // m_k = α_k·l_k to full precision, and s_k·α_k·l_k = π_k f_k(0) m_k/(1 − f(0)).
        let lm1 = c1.base.ln_alpha + c1.ln_l(l1, ln_e);
        let lm2 = c2.base.ln_alpha + c2.ln_l(l2, ln_e);
        let ln_den = log_add_exp(ln_p + lm1, ln_q + lm2);
        let sl1 = (ln_p + lp0_1 + lm1 - ln_den).exp();
        let sl2 = (ln_q + lp0_2 + lm2 - ln_den).exp();
        let sa1 = (ln_p + lp0_1 + c1.base.ln_alpha + ln_rho1 - l1 - ln_den).exp();
        let sa2 = (ln_q + lp0_2 + c2.base.ln_alpha + ln_rho2 - l2 - ln_den).exp();
        let dp = (r1 - p) + p * q * ((lm2 - ln_den).exp() - (lm1 - ln_den).exp());
        (ln_f - ln_den, [r1, r2, sl1, sl2, sa1, sa2, dp])
    }
}

/// The per-pair terms of the per-component truncation, in the same layout as
/// [`mixture_terms`], with `s_k = r_k f_k(0)/m_k`.
#[inline]
fn per_component_terms(
    c1: &GradComponent,
    c2: &GradComponent,
    (ln_p, ln_q): (f64, f64),
    (lf1, lp0_1, l1, _, ln_rho1): Terms,
    (lf2, lp0_2, l2, _, ln_rho2): Terms,
    ln_e: f64,
    p: f64,
) -> (f64, [f64; 7]) {
    let ln_1m = |c: &GradComponent, lp0: f64, l: f64| {
        if -lp0 < 1e-100 {
            c.base.ln_alpha + c.ln_l(l, ln_e)
        } else {
            super::log1m_exp(lp0)
        }
    };
    let (lm1, lm2) = (ln_1m(c1, lp0_1, l1), ln_1m(c2, lp0_2, l2));
    let (ln_lik, r1, r2) = log_add_exp_shares(ln_p + lf1 - lm1, ln_q + lf2 - lm2);
    // r_k·(f_k(0)/m_k)·α_k·l_k and r_k·(f_k(0)/m_k)·α_k·ρ_k/(1+ρ_k), in log space so that neither the
    // ratio (huge for tiny E) nor l_k (tiny) is formed on its own.
    let (la1, la2) = (c1.base.ln_alpha, c2.base.ln_alpha);
    let s_al1 = r1 * (lp0_1 - lm1 + la1 + c1.ln_l(l1, ln_e)).exp();
    let s_al2 = r2 * (lp0_2 - lm2 + la2 + c2.ln_l(l2, ln_e)).exp();
    let s_a1 = r1 * (lp0_1 - lm1 + la1 + ln_rho1 - l1).exp();
    let s_a2 = r2 * (lp0_2 - lm2 + la2 + ln_rho2 - l2).exp();
    (ln_lik, [r1, r2, s_al1, s_al2, s_a1, s_a2, r1 - p])
}
