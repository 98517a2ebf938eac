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

// ---------------------------------------------------------------------------------
// The analytic gradient
// ---------------------------------------------------------------------------------

/// The fit's coordinates of a prior: `(ln α₁, ln β₁, ln α₂, ln β₂, logit P)`.
fn coords(p: &Prior) -> [f64; 5] {
    [
        p.alpha1.ln(),
        p.beta1.ln(),
        p.alpha2.ln(),
        p.beta2.ln(),
        (p.p / (1.0 - p.p)).ln(),
    ]
}

fn prior_at(x: &[f64; 5]) -> Prior {
    Prior {
        alpha1: x[0].exp(),
        beta1: x[1].exp(),
        alpha2: x[2].exp(),
        beta2: x[3].exp(),
        p: 1.0 / (1.0 + (-x[4]).exp()),
    }
}

/// Central finite differences of the likelihood itself (not of the gradient pass), by
/// Ridders' extrapolation (Ridders 1982, Adv. Eng. Software 4:75; Press et al.,
/// Numerical Recipes 3rd ed. §5.7 `dfridr`): central differences at steps shrinking by
/// 1.4 from 1e-3, extrapolated in a Neville tableau, keeping the estimate with the smallest
/// error. A plain central difference is too coarse where the likelihood bends sharply
/// (α = 40, E = 8000: the component's weight changes like exp(−330·Δx)).
fn finite_difference(pairs: &Pairs, prior: &Prior, t: Truncation) -> [f64; 5] {
    let x = coords(prior);
    let f = |x: &[f64; 5]| pairs.neg_log_lik(&prior_at(x), t);
    std::array::from_fn(|j| {
        let d = |h: f64| {
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            (f(&up) - f(&down)) / (2.0 * h)
        };
        const NTAB: usize = 12;
        let (con, con2) = (1.4, 1.96);
        let mut a = [[0.0f64; NTAB]; NTAB];
        let mut h = 1e-3;
        a[0][0] = d(h);
        let (mut best, mut err) = (a[0][0], f64::INFINITY);
        for i in 1..NTAB {
            h /= con;
            a[0][i] = d(h);
            let mut fac = con2;
            for k in 1..=i {
                a[k][i] = (a[k - 1][i] * fac - a[k - 1][i - 1]) / (fac - 1.0);
                fac *= con2;
                let errt = (a[k][i] - a[k - 1][i])
                    .abs()
                    .max((a[k][i] - a[k - 1][i - 1]).abs());
                if errt <= err {
                    err = errt;
                    best = a[k][i];
                }
            }
            if (a[i][i] - a[i - 1][i - 1]).abs() >= 2.0 * err {
                break;
            }
        }
        best
    })
}

/// `|got − want| ≤ tol·max(|want|, scale)`: relative, with an absolute floor at `tol·scale`
/// for components that happen to be near 0 (at an optimum every component is).
fn assert_grad_close(what: &str, got: &[f64], want: &[f64], tol: f64, scale: f64) {
    for j in 0..want.len() {
        let err = (got[j] - want[j]).abs();
        assert!(
            err <= tol * want[j].abs().max(scale),
            "{what}: component {j}: analytic {}, finite difference {} (diff {err:e})",
            got[j],
            want[j]
        );
    }
}

/// The analytic gradient equals central finite differences of the likelihood to 1e-6
/// relative, for both truncations, on data from small to large n and E, with weights,
/// at priors spread over the parameter box; and its value is the likelihood.
#[test]
fn gradient_matches_finite_differences() {
    let n = [1.0, 1.0, 2.0, 3.0, 7.0, 40.0, 250.0, 1.0, 1.0, 5.0];
    let e = [0.05, 0.3, 2.5, 0.7, 11.0, 11.0, 180.0, 1e3, 1e-4, 0.02];
    let w = [5.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 3.0, 2.0, 0.5];
    let pairs = Pairs::new(&n, &e, &w);
    let priors = [
        VIGNETTE_THETA,
        Prior::DUMOUCHEL_1999_START,
        Prior {
            alpha1: 0.01,
            beta1: 50.0,
            alpha2: 80.0,
            beta2: 0.02,
            p: 0.999,
        },
        Prior {
            alpha1: 1.5,
            beta1: 1e-4,
            alpha2: 0.3,
            beta2: 3.0,
            p: 1e-4,
        },
    ];
    for t in [Truncation::Mixture, Truncation::PerComponent] {
        for prior in priors {
            let g = pairs.neg_log_lik_grad(&prior, t);
            assert_rel("value", g[0], pairs.neg_log_lik(&prior, t), 1e-12);
            let fd = finite_difference(&pairs, &prior, t);
            assert_grad_close(&format!("{t:?} {prior:?}"), &g[1..], &fd, 1e-6, 1e-3);
        }
    }
}

/// Tiny E, where 1 − f(0) underflows: the log-space branch. The gradient stays finite,
/// and where the likelihood is still resolvable (E = 1e-12) it matches finite
/// differences; at E = 1e-300 it is the limit `−∂/∂x ln(f(1)/(1 − f(0)))`, whose
/// components are bounded (each below the weight in size).
#[test]
fn gradient_at_tiny_expected_counts() {
    for t in [Truncation::Mixture, Truncation::PerComponent] {
        let pairs = Pairs::new(&[1.0, 2.0, 1.0], &[1e-12, 1e-12, 0.5], &[1.0, 1.0, 1.0]);
        let g = pairs.neg_log_lik_grad(&VIGNETTE_THETA, t);
        let fd = finite_difference(&pairs, &VIGNETTE_THETA, t);
        assert_grad_close(&format!("{t:?} E=1e-12"), &g[1..], &fd, 1e-6, 1e-3);
        for e in [1e-300, 5e-324] {
            let pairs = Pairs::new(&[1.0], &[e], &[1.0]);
            let g = pairs.neg_log_lik_grad(&VIGNETTE_THETA, t);
            assert!(g.iter().all(|v| v.is_finite()), "{t:?} E={e}: {g:?}");
            assert!(
                g[1..].iter().all(|v| v.abs() <= 1.0 + 1e-9),
                "{t:?} E={e}: {g:?}"
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// For random priors anywhere in the fit's box and random pairs, the analytic
    /// gradient matches finite differences to 1e-6 relative (absolute floor 1e-6 of the
    /// pairs' total weight), in both truncations.
    #[test]
    fn gradient_matches_finite_differences_everywhere(
        x in proptest::array::uniform5(-4.0f64..4.0),
        data in proptest::collection::vec((1u32..60, -6.0f64..4.0, 0.1f64..5.0), 1..25),
    ) {
        let prior = prior_at(&x);
        let n: Vec<f64> = data.iter().map(|d| d.0 as f64).collect();
        let e: Vec<f64> = data.iter().map(|d| 10f64.powf(d.1)).collect();
        let w: Vec<f64> = data.iter().map(|d| d.2).collect();
        let total: f64 = w.iter().sum();
        let pairs = Pairs::new(&n, &e, &w);
        for t in [Truncation::Mixture, Truncation::PerComponent] {
            let g = pairs.neg_log_lik_grad(&prior, t);
            proptest::prop_assert!(g.iter().all(|v| v.is_finite()), "{:?}", g);
            let fd = finite_difference(&pairs, &prior, t);
            for j in 0..5 {
                let err = (g[j + 1] - fd[j]).abs();
                proptest::prop_assert!(
                    err <= 1e-6 * fd[j].abs().max(1e-3 * total),
                    "{:?} {:?}: component {}: analytic {} vs {}", t, prior, j, g[j + 1], fd[j]
                );
            }
        }
    }
}

/// Pairs handed over in (n, E) order, as the pipeline does, take the one-pass layout and
/// squash; in any other order, the sorting ones. Both give the same squashed points, and
/// the same likelihood on the full layout up to the order of summation.
#[test]
fn layout_and_squash_do_not_depend_on_the_order_given() {
    let (n, e, w) = crate::signals::ebgm::simulate::simulate(&VIGNETTE_THETA, 5_000, 17, false);
    let mut rows: Vec<(f64, f64, f64)> = (0..n.len()).map(|i| (n[i], e[i], w[i])).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let col = |rows: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> {
        rows.iter().map(f).collect()
    };
    let sorted = Pairs::new(
        &col(&rows, |r| r.0),
        &col(&rows, |r| r.1),
        &col(&rows, |r| r.2),
    );
    // Reversed, then every other row swapped with its neighbour.
    rows.reverse();
    for pair in rows.chunks_mut(2) {
        pair.reverse();
    }
    let shuffled = Pairs::new(
        &col(&rows, |r| r.0),
        &col(&rows, |r| r.1),
        &col(&rows, |r| r.2),
    );
    assert_eq!(sorted.distinct_n, shuffled.distinct_n);
    assert_ne!(sorted.n, shuffled.n, "the second layout is out of order");
    for width in [0.05, 0.002] {
        let (a, b) = (sorted.squashed(width), shuffled.squashed(width));
        assert!(a.len() < sorted.len(), "{width}: something is squashed");
        assert_eq!(
            (&a.n, &a.e, &a.w, &a.n_idx),
            (&b.n, &b.e, &b.w, &b.n_idx),
            "{width}"
        );
    }
    for t in [Truncation::Mixture, Truncation::PerComponent] {
        let (x, y) = (
            sorted.neg_log_lik(&VIGNETTE_THETA, t),
            shuffled.neg_log_lik(&VIGNETTE_THETA, t),
        );
        assert!((x - y).abs() <= 1e-12 * x.abs(), "{t:?}: {x} vs {y}");
    }
}
