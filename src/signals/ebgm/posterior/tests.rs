use super::*;
use crate::signals::ebgm::test_support::{assert_abs, assert_rel, VIGNETTE_ROWS, VIGNETTE_THETA};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------
// Published reference values
// ---------------------------------------------------------------------------------

/// Test 1. EBGM, EB05 and EB95 against openEBGM's printed outputs (source: `VIGNETTE_THETA`
/// in `test_support.rs`).
///
/// Tolerances follow the printed precision. `ebgm()` rounds to 2 decimals, so EBGM
/// must be within 0.005 (+1e-9). `quantBisect()` bisects to a half-width of 0.005 and
/// then rounds to 2 decimals, so EB05 and EB95 must be within 0.01 (+1e-9). Our own
/// quantiles are far more precise; see `quantile_meets_relative_tolerance`.
#[test]
fn openebgm_vignette_ebgm_eb05_eb95() {
    for &(n, e, want_ebgm, want_05, want_95) in &VIGNETTE_ROWS {
        let label = format!("N={n} E={e}");
        assert_abs(
            &format!("EBGM {label}"),
            ebgm(&VIGNETTE_THETA, n, e),
            want_ebgm,
            0.005 + 1e-9,
        );
        assert_abs(
            &format!("EB05 {label}"),
            quantile(&VIGNETTE_THETA, n, e, 0.05),
            want_05,
            0.01 + 1e-9,
        );
        assert_abs(
            &format!("EB95 {label}"),
            quantile(&VIGNETTE_THETA, n, e, 0.95),
            want_95,
            0.01 + 1e-9,
        );
    }
}

/// Test 2. Qn against openEBGM's printed `head(qn)`, same vignette and commit as
/// above: `0.2819736 0.3409652 0.3482316 0.2819736 0.2226354 0.2556668` for the six
/// `head(processed)` rows. R prints 7 significant digits, so the tolerance is 5e-8
/// rounding plus 5e-8 for `theta_hat` printed to 8–9 digits: 1e-7 absolute.
#[test]
fn openebgm_vignette_qn() {
    let rows = [
        (0.0360548272, 0.2819736),
        (0.0038736591, 0.3409652),
        (0.0002979738, 0.3482316),
        (0.0360548272, 0.2819736),
        (0.0765792610, 0.2226354),
        (0.0527413588, 0.2556668),
    ];
    for (e, want) in rows {
        let post = posterior(&VIGNETTE_THETA, 1.0, e);
        assert_abs(&format!("Qn at E={e}"), post.q, want, 1e-7);
    }
}

// ---------------------------------------------------------------------------------
// Numerical building blocks
// ---------------------------------------------------------------------------------

#[test]
fn incomplete_gamma_small_x_and_closed_forms() {
    // P(1, x) = 1 − e^{−x}.
    for x in [1e-20, 1e-15, 1e-10, 0.5, 3.0, 40.0] {
        assert_rel("P(1,x)", reg_lower_gamma(1.0, x), -(-x).exp_m1(), 1e-12);
        assert_rel("Q(1,x)", reg_upper_gamma(1.0, x), (-x).exp(), 1e-12);
    }
    // statrs returns 0 below x = 1e-15. The true value for a small shape is
    // x^a/Γ(a+1): P(0.05, 1e-20) ≈ 0.1006.
    let want = (0.05 * 1e-20f64.ln() - ln_gamma(1.05)).exp();
    assert_rel("P(0.05,1e-20)", reg_lower_gamma(0.05, 1e-20), want, 1e-12);
    assert!(want > 0.1);
}

// ---------------------------------------------------------------------------------
// Posterior edges (self-consistency; no published values)
// ---------------------------------------------------------------------------------

/// Quantiles satisfy F(x_q) = q, which for our bracketing + Brent in ln x to 1e-10
/// means |x − x_q| ≤ 1e-8·x_q. Checked by evaluating F at x·(1 ± 1e-8), which must
/// straddle q.
#[test]
fn quantile_meets_relative_tolerance() {
    let cases = [
        (1.0, 0.036),
        (0.0, 0.5),
        (16.0, 0.406),
        (5000.0, 4000.0),
        (3.0, 1e-8),
        (100_000.0, 1e5),
    ];
    for (n, e) in cases {
        let post = posterior(&VIGNETTE_THETA, n, e);
        for q in [0.01, 0.05, 0.5, 0.95, 0.99] {
            let x = post.quantile(q);
            assert!(x.is_finite() && x > 0.0);
            assert!(
                post.cdf(x * (1.0 - 1e-8)) <= q && post.cdf(x * (1.0 + 1e-8)) >= q,
                "n={n} E={e} q={q} x={x}"
            );
        }
    }
}

#[test]
fn zero_count_is_defined_and_below_prior_geometric_mean() {
    for prior in [VIGNETTE_THETA, Prior::DUMOUCHEL_1999_START] {
        let prior_gm_ln = mix(
            prior.p,
            digamma(prior.alpha1) - prior.beta1.ln(),
            digamma(prior.alpha2) - prior.beta2.ln(),
        );
        for e in [1e-8, 0.01, 1.0, 100.0] {
            let g = ebgm(&prior, 0.0, e);
            assert!(g.is_finite() && g > 0.0);
            // Observing nothing can only lower the geometric mean, since the
            // likelihood e^{−λE} falls with λ (Chebyshev's association inequality).
            assert!(g.ln() <= prior_gm_ln + 1e-12, "E={e}: {g}");
            let (q05, q95) = (
                quantile(&prior, 0.0, e, 0.05),
                quantile(&prior, 0.0, e, 0.95),
            );
            assert!(q05 > 0.0 && q05 < q95 && q95.is_finite());
        }
    }
}

#[test]
fn tiny_expected_count_approaches_zero_limit() {
    let a = ebgm(&VIGNETTE_THETA, 1.0, 1e-8);
    let b = ebgm(&VIGNETTE_THETA, 1.0, 1e-12);
    assert!(a.is_finite() && a > 0.0);
    assert_rel("E→0 limit", a, b, 1e-6);
    // The plain API's E ≤ 0 result is that same limit. try_* reports it as None.
    assert_rel("E=0 clamp", ebgm(&VIGNETTE_THETA, 1.0, 0.0), b, 1e-6);
    assert_rel("E<0 clamp", ebgm(&VIGNETTE_THETA, 1.0, -3.0), b, 1e-6);
    assert_eq!(try_ebgm(&VIGNETTE_THETA, 1.0, 0.0), None);
    assert_eq!(try_ebgm(&VIGNETTE_THETA, 1.0, f64::NAN), None);
    assert_eq!(try_quantile(&VIGNETTE_THETA, 1.0, -1.0, 0.05), None);
    assert_eq!(try_quantile(&VIGNETTE_THETA, 1.0, 1.0, 1.0), None);
    assert_eq!(try_posterior(&VIGNETTE_THETA, -1.0, 1.0), None);
    assert_eq!(
        try_posterior(
            &Prior {
                p: 1.5,
                ..VIGNETTE_THETA
            },
            1.0,
            1.0
        ),
        None
    );
    // Garbage in still gives a number out, never NaN or a panic.
    for (n, e) in [
        (f64::NAN, f64::NAN),
        (f64::INFINITY, f64::INFINITY),
        (-5.0, f64::NEG_INFINITY),
    ] {
        let g = ebgm(&VIGNETTE_THETA, n, e);
        let q = quantile(&VIGNETTE_THETA, n, e, 0.05);
        assert!(g.is_finite() && q.is_finite(), "n={n} e={e}: {g} {q}");
    }
    let junk = Prior {
        alpha1: f64::NAN,
        beta1: -1.0,
        alpha2: 0.0,
        beta2: f64::INFINITY,
        p: 7.0,
    };
    assert!(ebgm(&junk, 1.0, 1.0).is_finite() && quantile(&junk, 1.0, 1.0, 0.5).is_finite());
    assert_eq!(quantile(&VIGNETTE_THETA, 1.0, 1.0, 0.0), 0.0);
    assert_eq!(quantile(&VIGNETTE_THETA, 1.0, 1.0, f64::NAN), 0.0);
    assert_eq!(quantile(&VIGNETTE_THETA, 1.0, 1.0, 1.0), f64::MAX);
}

/// Large counts. With n = 5000 and E = 4000, both posterior components are gammas of
/// shape ≈ 5000 with nearly the same mean (≈ 1.2505 and ≈ 1.2499). The mixture's
/// quantiles must lie between the components' own quantiles, since F is a convex
/// combination of the component CDFs. Those are computed with the Wilson–Hilferty
/// cube-root formula, whose error at shape 5000 is below 1e-7 relative. It is used here
/// only as an independent check, with a 1e-6 relative margin. EBGM must also lie
/// between the component geometric means, which are close to (a − ½)/b.
#[test]
fn large_counts() {
    let (n, e) = (5000.0, 4000.0);
    let post = posterior(&VIGNETTE_THETA, n, e);
    let g = ebgm(&VIGNETTE_THETA, n, e);
    let (q05, q95) = (
        quantile(&VIGNETTE_THETA, n, e, 0.05),
        quantile(&VIGNETTE_THETA, n, e, 0.95),
    );
    assert!(q05 < g && g < q95);
    assert!(post.q > 0.0 && post.q < 0.05, "{post:?}");
    let wh = |a: f64, b: f64, z: f64| {
        a / b * (1.0 - 1.0 / (9.0 * a) + z * (1.0 / (9.0 * a)).sqrt()).powi(3)
    };
    let z95 = 1.644_853_626_951_472_2;
    let between = |what: &str, x: f64, c1: f64, c2: f64| {
        let (lo, hi) = (c1.min(c2), c1.max(c2));
        assert!(
            x >= lo * (1.0 - 1e-6) && x <= hi * (1.0 + 1e-6),
            "{what}: {x} not in [{lo}, {hi}]"
        );
    };
    between(
        "EB05",
        q05,
        wh(post.shape1, post.rate1, -z95),
        wh(post.shape2, post.rate2, -z95),
    );
    between(
        "EB95",
        q95,
        wh(post.shape1, post.rate1, z95),
        wh(post.shape2, post.rate2, z95),
    );
    between(
        "EBGM",
        g,
        (post.shape1 - 0.5) / post.rate1,
        (post.shape2 - 0.5) / post.rate2,
    );
    // n and E of a hundred thousand stay finite, and EBGM ≈ n/E.
    let g = ebgm(&VIGNETTE_THETA, 1e5, 1e5);
    assert_rel("n=E=1e5", g, 1.0, 1e-3);
}

#[test]
fn quantiles_increase_with_q() {
    for (n, e) in [(0.0, 1.0), (1.0, 0.0003), (6.0, 0.0787), (40.0, 55.0)] {
        let post = posterior(&VIGNETTE_THETA, n, e);
        let qs: Vec<f64> = (1..100).map(|i| post.quantile(i as f64 / 100.0)).collect();
        assert!(qs.windows(2).all(|w| w[0] < w[1]), "n={n} E={e}: {qs:?}");
        let (q05, g, q95) = (
            post.quantile(0.05),
            post.geometric_mean(),
            post.quantile(0.95),
        );
        assert!(q05 < g && g < q95, "n={n} E={e}");
    }
}

/// EB05 ≤ EBGM ≤ EB95 is not a theorem for every two-gamma mixture. This
/// deliberately pathological prior has a tight component near 0.005 and a far one
/// near 200. With a 0.96 posterior weight on the first, E[ln λ] is pulled above the
/// 95th percentile. The property tests therefore draw priors from a realistic range.
#[test]
fn geometric_mean_can_leave_the_90pct_interval_for_pathological_mixtures() {
    let post = Posterior {
        q: 0.96,
        shape1: 400.0,
        rate1: 80_000.0,
        shape2: 400.0,
        rate2: 2.0,
    };
    assert!(post.geometric_mean() > post.quantile(0.95));
}

// ---------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------

/// Priors in the range fitted to real spontaneous-report databases. DuMouchel's FDA
/// fit and openEBGM's CAERS fit both lie well inside it.
fn realistic_prior() -> impl Strategy<Value = Prior> {
    (
        0.05f64..5.0,
        0.02f64..3.0,
        0.5f64..20.0,
        0.5f64..20.0,
        0.005f64..0.6,
    )
        .prop_map(|(alpha1, beta1, alpha2, beta2, p)| Prior {
            alpha1,
            beta1,
            alpha2,
            beta2,
            p,
        })
}

/// log-uniform E over 1e-6 … 1e5.
fn expected_count() -> impl Strategy<Value = f64> {
    (-6.0f64..5.0).prop_map(|x| 10f64.powf(x))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn interval_contains_ebgm_and_all_finite(prior in realistic_prior(), n in 1u32..3000, e in expected_count()) {
        let n = f64::from(n);
        let (q05, g, q95) = (quantile(&prior, n, e, 0.05), ebgm(&prior, n, e), quantile(&prior, n, e, 0.95));
        prop_assert!(q05.is_finite() && g.is_finite() && q95.is_finite());
        prop_assert!(q05 > 0.0 && g > 0.0 && q95 > 0.0);
        prop_assert!(q05 <= g && g <= q95, "{q05} {g} {q95}");
    }

    #[test]
    fn eb05_nondecreasing_in_n(prior in realistic_prior(), n in 0u32..2000, e in expected_count()) {
        let n = f64::from(n);
        let a = quantile(&prior, n, e, 0.05);
        let b = quantile(&prior, n + 1.0, e, 0.05);
        // Each quantile is exact to 1e-8 relative, so allow that much slack.
        prop_assert!(b >= a * (1.0 - 2e-8), "n={n}: {a} then {b}");
    }

    #[test]
    fn ebgm_decreasing_in_e(prior in realistic_prior(), n in 0u32..2000, e in expected_count(), factor in 1.001f64..100.0) {
        let n = f64::from(n);
        let a = ebgm(&prior, n, e);
        let b = ebgm(&prior, n, e * factor);
        prop_assert!(b <= a * (1.0 + 1e-12), "E={e}→{}: {a} then {b}", e * factor);
        prop_assert!(a.is_finite() && a > 0.0 && b.is_finite() && b > 0.0);
    }

    #[test]
    fn zero_count_finite(prior in realistic_prior(), e in expected_count()) {
        let g = ebgm(&prior, 0.0, e);
        prop_assert!(g.is_finite() && g > 0.0);
        let (q05, q95) = (quantile(&prior, 0.0, e, 0.05), quantile(&prior, 0.0, e, 0.95));
        prop_assert!(q05.is_finite() && q95.is_finite() && q05 < q95);
    }
}

// ---------------------------------------------------------------------------------
// The fast quantile against the pre-issue-21 solver (`reference.rs`)
// ---------------------------------------------------------------------------------

/// The quantile of the old solver (bracketing + Brent to 1e-10 in `ln x`) for `post`.
fn reference_quantile(post: &Posterior, q: f64) -> f64 {
    reference::Mixture {
        q: post.q,
        shape1: post.shape1,
        rate1: post.rate1,
        shape2: post.shape2,
        rate2: post.rate2,
    }
    .quantile(q)
}

/// Relative difference of the new and the old quantile, 0 when they agree exactly
/// (including both 0 or both `f64::MAX`). Below `f64::MIN_POSITIVE` (subnormal, where
/// `exp` itself keeps fewer digits; only `n = 0` with a shape near 1e-5 gets there) the
/// difference is taken relative to `f64::MIN_POSITIVE`.
fn rel_diff(new: f64, old: f64) -> f64 {
    if new == old {
        return 0.0;
    }
    (new - old).abs() / old.abs().max(new.abs()).max(f64::MIN_POSITIVE)
}

/// Priors of the issue-21 grid: openEBGM's vignette fit, DuMouchel's start, and every
/// corner of the fit's search box (α, β ∈ {1e-5, 100}, P ∈ {1e-6, 1 − 1e-6}).
fn grid_priors() -> Vec<Prior> {
    let mut priors = vec![VIGNETTE_THETA, Prior::DUMOUCHEL_1999_START];
    let ends = [1e-5, 100.0];
    for alpha1 in ends {
        for beta1 in ends {
            for alpha2 in ends {
                for beta2 in ends {
                    for p in [1e-6, 1.0 - 1e-6] {
                        priors.push(Prior {
                            alpha1,
                            beta1,
                            alpha2,
                            beta2,
                            p,
                        });
                    }
                }
            }
        }
    }
    priors
}

/// Issue 21: EB05/EB95 (and the 2.5%/97.5% quantiles) from the fast solver are within
/// 1e-9 relative of the old solver's on a dense grid: n = 0…20 and log-spaced to 10,000;
/// E from 1e-6 to 1e4, four points a decade; 34 priors including the search-box corners.
/// The old solver is itself exact to 1e-10 in `ln x`, so the bar is 10× its own error.
#[test]
fn fast_quantile_matches_reference_on_grid() {
    let mut ns: Vec<f64> = (0..=20).map(f64::from).collect();
    ns.extend((0..=24).map(|i| (30.0 * 10f64.powf(f64::from(i) / 9.0)).round()));
    ns.push(10_000.0);
    let es: Vec<f64> = (-24..=16).map(|i| 10f64.powf(f64::from(i) / 4.0)).collect();
    let mut worst = (0.0, String::new());
    let mut checked = 0u64;
    for prior in grid_priors() {
        for &n in &ns {
            for &e in &es {
                let post = posterior(&prior, n, e);
                for q in [0.05, 0.95, 0.025, 0.975] {
                    let (new, old) = (post.quantile(q), reference_quantile(&post, q));
                    assert!(
                        !new.is_nan() && new >= 0.0,
                        "{prior:?} n={n} E={e} q={q}: {new}"
                    );
                    let d = rel_diff(new, old);
                    if d > worst.0 {
                        worst = (d, format!("{prior:?} n={n} E={e} q={q}: {new} vs {old}"));
                    }
                    checked += 1;
                }
            }
        }
    }
    eprintln!(
        "{checked} quantiles; worst relative difference {:e} at {}",
        worst.0, worst.1
    );
    assert!(worst.0 <= 1e-9, "worst {:e} at {}", worst.0, worst.1);
}

/// Edges: tiny and huge E, n = 0, degenerate weights. Same results as before, never NaN.
#[test]
fn fast_quantile_matches_reference_at_edges() {
    let priors = grid_priors();
    for prior in priors.iter().take(6) {
        for n in [0.0, 1.0, 1e6] {
            for e in [f64::MIN_POSITIVE, 1e-300, 1e-12, 1e8, 1e300] {
                let post = posterior(prior, n, e);
                for q in [1e-12, 0.05, 0.5, 0.95, 1.0 - 1e-12] {
                    let (new, old) = (post.quantile(q), reference_quantile(&post, q));
                    assert!(
                        rel_diff(new, old) <= 1e-9,
                        "{prior:?} n={n} E={e} q={q}: {new} vs {old}"
                    );
                }
            }
        }
    }
    for qn in [0.0, 1.0, 1e-300, 0.5] {
        let post = Posterior {
            q: qn,
            shape1: 3.0,
            rate1: 0.4,
            shape2: 1e-5,
            rate2: 100.0,
        };
        for q in [0.025, 0.05, 0.95, 0.975] {
            let (new, old) = (post.quantile(q), reference_quantile(&post, q));
            assert!(rel_diff(new, old) <= 1e-9, "Qn={qn} q={q}: {new} vs {old}");
        }
    }
}

/// Priors anywhere in the fit's search box (log-uniform α, β in [1e-5, 100], P in
/// [1e-6, 1 − 1e-6]), any n ≤ 10,000 and E in [1e-6, 1e4].
fn boxed_prior() -> impl Strategy<Value = Prior> {
    let ab = || (-5.0f64..2.0).prop_map(|x| 10f64.powf(x));
    (ab(), ab(), ab(), ab(), 1e-6f64..(1.0 - 1e-6)).prop_map(|(alpha1, beta1, alpha2, beta2, p)| {
        Prior {
            alpha1,
            beta1,
            alpha2,
            beta2,
            p,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_quantile_matches_reference(
        prior in boxed_prior(),
        n in 0u32..=10_000,
        e in (-6.0f64..4.0).prop_map(|x| 10f64.powf(x)),
        q in prop::sample::select(vec![0.05, 0.95, 0.025, 0.975]),
    ) {
        let post = posterior(&prior, f64::from(n), e);
        let (new, old) = (post.quantile(q), reference_quantile(&post, q));
        prop_assert!(rel_diff(new, old) <= 1e-9, "{post:?} q={q}: {new} vs {old}");
    }
}
