//! Assertion helpers and published reference values shared by the tests of the `ebgm`
//! submodules.

use super::posterior::Prior;

/// `|got − want| ≤ tol`, with a message naming the quantity.
pub(super) fn assert_abs(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol} (diff {})",
        got - want
    );
}

pub(super) fn assert_rel(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs(),
        "{what}: got {got}, want {want} ± {tol} relative (rel diff {})",
        (got - want) / want
    );
}

// ---------------------------------------------------------------------------------
// Published reference values
// ---------------------------------------------------------------------------------

/// `theta_hat` printed by openEBGM's vignette "Empirical Bayes Metrics with openEBGM"
/// (repo cran/openEBGM, inst/doc/x4_posteriorCalculationVignette.html at commit
/// 05abeb6708d4485bf786e4264ce572069acfc33b; CRAN vignette of the same name). It is
/// autoHyper on the squashed CAERS data.
pub(super) const VIGNETTE_THETA: Prior = Prior {
    alpha1: 3.25379064,
    beta1: 0.39988801,
    alpha2: 2.02613219,
    beta2: 1.90808279,
    p: 0.06534557,
};

/// (N, E, ebgm, QUANT_05, QUANT_95) as printed in that vignette: the rows of
/// `head(processed)` and `head(suspicious, 5)`.
pub(super) const VIGNETTE_ROWS: [(f64, f64, f64, f64, f64); 10] = [
    (1.0, 0.0360548272, 2.23, 0.49, 13.85),
    (1.0, 0.0038736591, 2.58, 0.52, 15.78),
    (1.0, 0.0002979738, 2.63, 0.52, 16.02),
    (1.0, 0.0765792610, 1.92, 0.47, 11.77),
    (1.0, 0.0527413588, 2.09, 0.48, 12.95),
    (16.0, 0.40643623, 23.26, 15.68, 33.48),
    (19.0, 0.89690107, 16.78, 11.65, 23.55),
    (6.0, 0.07866508, 18.28, 10.16, 30.83),
    (8.0, 0.30482718, 15.25, 9.00, 24.52),
    (11.0, 0.56317044, 14.28, 8.98, 21.78),
];
