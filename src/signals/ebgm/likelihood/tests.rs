use super::*;
use crate::signals::ebgm::test_support::{assert_rel, VIGNETTE_THETA};
use statrs::distribution::{Discrete, NegativeBinomial};

/// Independent direct computation of the per-component truncated likelihood with
/// statrs' `NegativeBinomial` pmf (size α, success probability β/(β+E), the same
/// parameterisation as R's `dnbinom(size, prob)`), written from openEBGM's
/// `negLLsquash` formula (`cran/openEBGM`, `R/f_likelihoodEqs.R`).
fn direct_nll(prior: &Prior, n: &[f64], e: &[f64], w: &[f64], whole_mixture: bool) -> f64 {
    let mut total = 0.0;
    for i in 0..n.len() {
        let nb1 =
            NegativeBinomial::new(prior.alpha1, prior.beta1 / (prior.beta1 + e[i])).expect("valid");
        let nb2 =
            NegativeBinomial::new(prior.alpha2, prior.beta2 / (prior.beta2 + e[i])).expect("valid");
        let k = n[i] as u64;
        let lik = if whole_mixture {
            let f = prior.p * nb1.pmf(k) + (1.0 - prior.p) * nb2.pmf(k);
            let f0 = prior.p * nb1.pmf(0) + (1.0 - prior.p) * nb2.pmf(0);
            f / (1.0 - f0)
        } else {
            prior.p * nb1.pmf(k) / (1.0 - nb1.pmf(0))
                + (1.0 - prior.p) * nb2.pmf(k) / (1.0 - nb2.pmf(0))
        };
        total -= w[i] * lik.ln();
    }
    total
}

/// Test 3. No openEBGM document prints a likelihood value for data we can obtain as
/// text. The vignette's `minimum` of 4162.456 needs the binary `caers.rda`. So both
/// likelihoods are checked against an independent direct computation from their
/// formulas with statrs' NegativeBinomial pmf (`direct_nll`).
///
/// The first data set is openEBGM's own likelihood test data (`cran/openEBGM`,
/// `tests/testthat/testC_Likelihoods.R`: `datni` with `ni = c(0,0,0,1,1,2,2,2,3,3)`,
/// `ei = 1:10`, `weight = 0.1`, and `theta_hat = c(0.125874, 0.13587, 1.24578, 3.01587,
/// 0.05)`). Its zero counts are dropped, as `N_star = 1` requires, and
/// `neg_log_lik_per_component` there is openEBGM's `negLLsquash`. A second set adds
/// large n, large E and weights. Tolerance: 1e-12 relative, since both sides are
/// double-precision evaluations of the same closed form.
#[test]
fn neg_log_lik_matches_direct_formula() {
    let theta = Prior {
        alpha1: 0.125874,
        beta1: 0.13587,
        alpha2: 1.24578,
        beta2: 3.01587,
        p: 0.05,
    };
    let n = [1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0];
    let e = [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    let w = [0.1; 7];
    assert_rel(
        "openEBGM negLLsquash data",
        neg_log_lik_per_component(&theta, &n, &e, &w),
        direct_nll(&theta, &n, &e, &w, false),
        1e-12,
    );
    assert_rel(
        "openEBGM data, mixture",
        neg_log_lik(&theta, &n, &e, &w),
        direct_nll(&theta, &n, &e, &w, true),
        1e-12,
    );

    let n2 = [1.0, 1.0, 3.0, 40.0, 250.0, 1.0, 7.0];
    let e2 = [0.05, 0.3, 2.5, 11.0, 180.0, 1e3, 0.02];
    let w2 = [5.0, 1.0, 2.0, 1.0, 1.0, 3.0, 0.5];
    for prior in [VIGNETTE_THETA, Prior::DUMOUCHEL_1999_START, theta] {
        assert_rel(
            "mixture",
            neg_log_lik(&prior, &n2, &e2, &w2),
            direct_nll(&prior, &n2, &e2, &w2, true),
            1e-12,
        );
        assert_rel(
            "per component",
            neg_log_lik_per_component(&prior, &n2, &e2, &w2),
            direct_nll(&prior, &n2, &e2, &w2, false),
            1e-12,
        );
    }
    // At E = 1e-6 the direct formula's `1 − pmf(0)` cancels to about 1e-16/(αE/β)
    // relative, so the reference is only good to about 1e-9 there. Our ln_1p form
    // doesn't lose those digits (see `neg_log_lik_tiny_e_limit`).
    let (n3, e3, w3) = ([1.0, 2.0], [1e-6, 1e-6], [1.0, 1.0]);
    assert_rel(
        "tiny E",
        neg_log_lik(&VIGNETTE_THETA, &n3, &e3, &w3),
        direct_nll(&VIGNETTE_THETA, &n3, &e3, &w3, true),
        1e-8,
    );
    // The two truncations are different likelihoods.
    let a = neg_log_lik(&VIGNETTE_THETA, &n2, &e2, &w2);
    let b = neg_log_lik_per_component(&VIGNETTE_THETA, &n2, &e2, &w2);
    assert!((a - b).abs() > 1e-3, "{a} vs {b}");
}

/// A weight must act exactly like repeating the pair (self-consistency).
#[test]
fn weights_equal_repetition() {
    let n = [1.0, 2.0, 5.0];
    let e = [0.1, 0.7, 1.3];
    let w = [3.0, 1.0, 2.0];
    let n_rep = [1.0, 1.0, 1.0, 2.0, 5.0, 5.0];
    let e_rep = [0.1, 0.1, 0.1, 0.7, 1.3, 1.3];
    let w_rep = [1.0; 6];
    let a = neg_log_lik(&VIGNETTE_THETA, &n, &e, &w);
    let b = neg_log_lik(&VIGNETTE_THETA, &n_rep, &e_rep, &w_rep);
    assert_rel("weighted vs repeated", a, b, 1e-13);
    // Zero-weight pairs contribute nothing.
    let c = neg_log_lik(
        &VIGNETTE_THETA,
        &[1.0, 2.0, 5.0, 9.0],
        &[0.1, 0.7, 1.3, 0.5],
        &[3.0, 1.0, 2.0, 0.0],
    );
    assert_rel("zero weight", c, a, 1e-13);
}

/// Tiny E must not lose precision: f(1)/(1 − f(0)) → 1 as E → 0, for both
/// truncations. A naive `1 − f(0)` would be pure rounding error at E = 1e-300.
#[test]
fn neg_log_lik_tiny_e_limit() {
    for e in [1e-8, 1e-20, 1e-300, 5e-324] {
        let v = neg_log_lik(&VIGNETTE_THETA, &[1.0], &[e], &[1.0]);
        assert!(v.is_finite() && v.abs() < 1e-6, "E={e}: {v}");
        let m = neg_log_lik_per_component(&VIGNETTE_THETA, &[1.0], &[e], &[1.0]);
        assert!(m.is_finite() && m.abs() < 1e-6, "E={e}: {m}");
    }
}

#[test]
fn neg_log_lik_invalid_inputs_are_infinite_and_explained() {
    let p = VIGNETTE_THETA;
    assert_eq!(neg_log_lik(&p, &[1.0], &[1.0, 2.0], &[1.0]), f64::INFINITY);
    assert_eq!(neg_log_lik(&p, &[0.0], &[1.0], &[1.0]), f64::INFINITY);
    assert_eq!(neg_log_lik(&p, &[1.0], &[0.0], &[1.0]), f64::INFINITY);
    assert_eq!(neg_log_lik(&p, &[1.0], &[1.0], &[-1.0]), f64::INFINITY);
    assert_eq!(neg_log_lik(&p, &[f64::NAN], &[1.0], &[1.0]), f64::INFINITY);
    let bad = Prior { alpha1: -1.0, ..p };
    assert_eq!(neg_log_lik(&bad, &[1.0], &[1.0], &[1.0]), f64::INFINITY);
    assert_eq!(neg_log_lik(&p, &[], &[], &[]), 0.0);

    let err = check_pairs(&[1.0, 2.0], &[0.5, -4.0], &[1.0, 1.0]).unwrap_err();
    assert_eq!(
        err,
        PairError::Expected {
            index: 1,
            found: -4.0
        }
    );
    assert_eq!(
        err.to_string(),
        "pair 2: expected count `E` must be a finite number > 0, found `-4`"
    );
    assert_eq!(
        check_pairs(&[1.0], &[1.0, 2.0], &[1.0])
            .unwrap_err()
            .to_string(),
        "counts, expected counts and weights must have the same length, found `1`, `2` and `1`"
    );
    assert_eq!(
        check_pairs(&[0.0], &[1.0], &[1.0]).unwrap_err().to_string(),
        "pair 1: count `n` must be a finite number >= 1, found `0`"
    );
}

// ---------------------------------------------------------------------------------
// Numerical building blocks
// ---------------------------------------------------------------------------------

/// The chunked sum must give bit-identical results whatever the thread count, and
/// must match an in-order sequential sum of the same chunks.
#[test]
fn chunked_sum_is_deterministic() {
    let len = 5 * PARALLEL_MIN + 123;
    let term = |i: usize| ((i as f64) * 0.37).sin() * 1e3 + 1.0 / (1.0 + i as f64);
    let f = |r: Range<usize>| r.map(term).sum::<f64>();
    let par = chunked_sum(len, &f);
    let seq: f64 = (0..len.div_ceil(CHUNK))
        .map(|c| f(c * CHUNK..((c + 1) * CHUNK).min(len)))
        .sum();
    assert_eq!(par.to_bits(), seq.to_bits());
}
