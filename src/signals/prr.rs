//! Signals stage: the proportional reporting ratio (PRR) with its confidence
//! interval and Yates-corrected chi-square, and the MHRA signal criterion.
//!
//! Reads the four cells of one product × event contingency table of cases;
//! writes `prr`, `lower`, `upper`, `chi2`, and a `null_reason` whenever any
//! of them is undefined.
//!
//! | cell | meaning                                   |
//! |------|-------------------------------------------|
//! | `a`  | cases with the product and the event      |
//! | `b`  | cases with the product, without the event |
//! | `c`  | cases with the event, without the product |
//! | `d`  | cases with neither                        |
//!
//! `N = a + b + c + d`. Cells are `f64` because the products below exceed
//! 2^31 at national scale.
//!
//! # Formulas
//!
//! Evans, Waller & Davis (2001), "Use of proportional reporting ratios (PRRs)
//! for signal generation from spontaneous adverse drug reaction reports",
//! Pharmacoepidemiol Drug Saf 10:483–486:
//!
//! ```text
//! PRR      = [a/(a+b)] / [c/(c+d)]
//! SE(ln)   = sqrt(1/a − 1/(a+b) + 1/c − 1/(c+d))
//! CI       = exp(ln PRR ± z·SE)
//! chi2     = N · max(0, |ad − bc| − N/2)² / [(a+b)(c+d)(a+c)(b+d)]
//! MHRA     : a ≥ 3, PRR ≥ 2, chi2 ≥ 4
//! ```
//!
//! The standard error is the usual delta-method one for a ratio of two
//! independent binomial proportions (the same as R package `faers`'
//! `phv_prr()` and `pvda`'s `prr()`, whose printed outputs the tests match).
//!
//! ## Which Yates chi-square
//!
//! The MHRA criteria (Evans et al. 2001) ask for "chi-squared with Yates'
//! correction"; the descriptions we could consult do not say how to treat
//! `|ad − bc| < N/2`, and PhViD's `PRR()` reports no chi-square at all (its
//! manual ranks by a p-value or the lower bound of log PRR). The textbook
//! shortcut `N(|ad − bc| − N/2)² / [(a+b)(c+d)(a+c)(b+d)]` over-corrects
//! there (that is, when |a − E| < 1/2): the negative corrected deviation is
//! squared into a positive statistic, so a table at exact independence
//! (`ad = bc`) would get a chi-square above 0. We clamp the corrected
//! deviation at 0, exactly as R's `stats::chisq.test(correct = TRUE)` does
//! ("the correction will not be bigger than the differences themselves";
//! `YATES <- min(0.5, abs(x - E))`), and so match R packages built on it,
//! such as `faers`. Outside that band the two forms are identical.
//!
//! # Edges (with `cc = 0`)
//!
//! No function here returns NaN or ±∞; an undefined value is `None`, and
//! `null_reason` then names the zero cells, e.g. `"c = 0"` or
//! `"b = 0, c = 0 and d = 0"`.
//!
//! - `c = 0` (this includes `a = N`): the PRR divides by zero: PRR, lower and
//!   upper are `None`.
//! - `a = 0` (with `c > 0`): PRR = 0 is reported, but ln 0 has no interval:
//!   lower and upper are `None`.
//! - `b = 0` or `d = 0` alone: everything defined (`1/a − 1/(a+b)` and
//!   `1/c − 1/(c+d)` stay finite). With `b = d = 0` the interval collapses to
//!   PRR = 1.
//! - chi2 needs all four margins `a+b`, `c+d`, `a+c`, `b+d` to be positive;
//!   otherwise it is `None` (e.g. `a = N`, or `b = d = 0`).
//! - Negative, NaN or infinite cells, or a bad `z` or `cc`: everything is
//!   `None` and the reason says which input is wrong.
//!
//! With `cc > 0` and any zero cell, `cc` is added to all four cells before
//! the PRR and its interval are computed (0.5 is the Haldane–Anscombe
//! correction), so they are always defined. The chi-square always uses the
//! raw counts: Yates' correction is already the continuity correction for the
//! test, and it is defined with zero cells as long as no margin is zero.
//!
//! # Invariants
//!
//! `lower <= prr <= upper` whenever all three are `Some`; every `Some` is
//! finite; `prr` is non-decreasing in `a` with `b`, `c`, `d` fixed.

use super::cells::{finite, invalid_input, zero_cells};

/// Normal quantile for a two-sided 95% interval, `qnorm(0.975)`.
pub use super::cells::Z_95;

/// MHRA defaults (Evans et al. 2001): at least 3 cases, PRR ≥ 2, chi2 ≥ 4.
pub const MHRA_MIN_A: f64 = 3.0;
pub const MHRA_MIN_PRR: f64 = 2.0;
pub const MHRA_MIN_CHI2: f64 = 4.0;

/// Proportional reporting ratio of one table, with its interval and
/// Yates-corrected chi-square. `null_reason` is `Some` exactly when at least
/// one of the other fields is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prr {
    pub prr: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub chi2: Option<f64>,
    pub null_reason: Option<String>,
}

/// PRR of the table `a, b, c, d` with the interval `exp(ln PRR ± z·SE)` and
/// the Yates-corrected chi-square (see the module docs for formulas, sources
/// and every edge).
///
/// `z` is the normal quantile for the interval ([`Z_95`] for 95%); `cc` is a
/// continuity correction added to every cell when any cell is zero (0.0 =
/// none, the default; 0.5 = Haldane–Anscombe). The chi-square is always
/// computed on the raw counts.
pub fn prr(a: f64, b: f64, c: f64, d: f64, z: f64, cc: f64) -> Prr {
    if let Some(reason) = invalid_input(a, b, c, d, z, cc) {
        return Prr {
            prr: None,
            lower: None,
            upper: None,
            chi2: None,
            null_reason: Some(reason),
        };
    }

    let chi2 = finite(yates_chi2(a, b, c, d));

    let (ea, eb, ec, ed) = if cc > 0.0 && [a, b, c, d].contains(&0.0) {
        (a + cc, b + cc, c + cc, d + cc)
    } else {
        (a, b, c, d)
    };

    let (point, lower, upper) = if ec == 0.0 {
        (None, None, None)
    } else if ea == 0.0 {
        // A true zero proportion: the ratio is 0, its log-scale interval is not.
        (Some(0.0), None, None)
    } else {
        // Logs of each factor rather than a(c+d)/(c(a+b)): keeps huge counts
        // from overflowing and keeps the interval's centre exact.
        let ln_prr = ea.ln() - (ea + eb).ln() - ec.ln() + (ec + ed).ln();
        // 1/a − 1/(a+b) written as b/(a(a+b)) so that it can never go
        // negative through cancellation.
        let var = eb / (ea * (ea + eb)) + ed / (ec * (ec + ed));
        let half = z * var.sqrt();
        (
            finite(Some(ln_prr.exp())),
            finite(Some((ln_prr - half).exp())),
            finite(Some((ln_prr + half).exp())),
        )
    };

    let null_reason = if [point, lower, upper, chi2].iter().any(Option::is_none) {
        Some(zero_cells(a, b, c, d).unwrap_or_else(|| "numeric overflow".to_string()))
    } else {
        None
    };
    Prr {
        prr: point,
        lower,
        upper,
        chi2,
        null_reason,
    }
}

/// Yates-corrected chi-square (1 df) of the raw table, with the correction
/// clamped so that it never exceeds the deviation (as R's `chisq.test`):
/// `N · max(0, |ad − bc| − N/2)² / [(a+b)(c+d)(a+c)(b+d)]`.
///
/// `None` when any margin is zero (the statistic is 0/0 there) or an input is
/// negative or not finite.
pub fn yates_chi2(a: f64, b: f64, c: f64, d: f64) -> Option<f64> {
    if ![a, b, c, d].iter().all(|x| x.is_finite() && *x >= 0.0) {
        return None;
    }
    let n = a + b + c + d;
    let margins = [a + b, c + d, a + c, b + d];
    if margins.iter().any(|m| *m <= 0.0) {
        return None;
    }
    let excess = ((a * d - b * c).abs() - n / 2.0).max(0.0);
    // Divide as we go so the numerator N·excess² (up to ~1e40 nationally)
    // never meets the full product of margins in one number.
    let chi2 = (excess / margins[0]) * (excess / margins[1]) * (n / margins[2]) / margins[3];
    finite(Some(chi2))
}

/// MHRA criterion: `a ≥ min_a`, `PRR ≥ min_prr` and `chi2 ≥ min_chi2`
/// (3, 2 and 4 by default: [`MHRA_MIN_A`], [`MHRA_MIN_PRR`],
/// [`MHRA_MIN_CHI2`]). An undefined PRR or chi-square never flags.
pub fn mhra_flag(a: f64, p: &Prr, min_a: f64, min_prr: f64, min_chi2: f64) -> bool {
    match (p.prr, p.chi2) {
        (Some(prr), Some(chi2)) => a >= min_a && prr >= min_prr && chi2 >= min_chi2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::signals::cells::test_support::{close, close_rel};

    // Source: R package `faers` (Yunuuuu/faers), README.md at commit
    // 175bdf366ff817813ab201ae87a814f06061ffff, section "Pharmacovigilance
    // analysis", printed table `insulin_signals` (columns a, b, c, d, prr,
    // prr_ci_low, prr_ci_high, chisq). prr comes from `phv_prr()` (same
    // formula and qnorm(0.975)), chisq from `stats::chisq.test(correct = TRUE)`.
    // https://github.com/Yunuuuu/faers/blob/175bdf366ff817813ab201ae87a814f06061ffff/README.md
    // Tolerance: 1e-6 relative (R printed 7–8 significant digits).
    #[test]
    fn matches_faers_readme_prr_ci_and_yates_chi2() {
        // (a, b, c, d, prr, low, high, chisq)
        let rows = [
            (
                1.0, 2.0, 7.0, 190.0, 9.3809524, 1.6173190, 54.412435, 1.272561,
            ),
            (
                1.0, 2.0, 9.0, 188.0, 7.2962963, 1.3027676, 40.863727, 0.8727402,
            ),
            (
                2.0, 1.0, 30.0, 167.0, 4.3777778, 1.8426662, 10.400656, 2.619652,
            ),
            (
                1.0,
                2.0,
                30.0,
                167.0,
                2.1888889,
                0.4272128,
                11.215100,
                3.165120e-03,
            ),
            (
                2.0, 1.0, 10.0, 187.0, 13.1333333, 4.8197010, 35.787374, 10.45469,
            ),
        ];
        for (a, b, c, d, p, lo, hi, chi) in rows {
            let r = prr(a, b, c, d, Z_95, 0.0);
            let tag = format!("({a}, {b}, {c}, {d})");
            close_rel(&format!("prr {tag}"), r.prr, p, 1e-6);
            close_rel(&format!("lower {tag}"), r.lower, lo, 1e-6);
            close_rel(&format!("upper {tag}"), r.upper, hi, 1e-6);
            close_rel(&format!("chi2 {tag}"), r.chi2, chi, 1e-6);
            assert_eq!(r.null_reason, None);
        }
    }

    // Same source as above. In these two rows |ad - bc| < N/2, so R clamps
    // Yates' correction and prints floating-point residue (6.459270e-31 and
    // 1.762340e-31) for what is exactly 0. The unclamped textbook shortcut
    // would give a positive statistic instead.
    // Tolerance: 1e-12 absolute (the true value is 0).
    #[test]
    fn yates_correction_is_clamped_like_r_chisq_test() {
        for (a, b, c, d, p, lo, hi) in [
            (1.0, 2.0, 33.0, 164.0, 1.9898990, 0.3897628, 10.159250),
            (1.0, 2.0, 79.0, 118.0, 0.8312236, 0.1662546, 4.155871),
        ] {
            let r = prr(a, b, c, d, Z_95, 0.0);
            close("clamped chi2", r.chi2, 0.0, 1e-12);
            close_rel("prr", r.prr, p, 1e-6);
            close_rel("lower", r.lower, lo, 1e-6);
            close_rel("upper", r.upper, hi, 1e-6);
        }
        // The unclamped form for the first row, to show the clamp matters.
        let (a, b, c, d) = (1.0_f64, 2.0_f64, 33.0_f64, 164.0_f64);
        let n = a + b + c + d;
        let unclamped =
            n * ((a * d - b * c).abs() - n / 2.0).powi(2) / ((a + b) * (c + d) * (a + c) * (b + d));
        assert!(unclamped > 0.0);
    }

    // Source: textbook Yates-corrected 2×2 chi-square, StatsToDo "Compare Two
    // Binomially Distributed Proportions" (statstodo.com), as captured in
    // https://huggingface.co/datasets/nvidia/Nemotron-CC-Math-v1: 16 male
    // interns, 10 chose surgery; 21 female interns, 5 chose surgery;
    // "The Chi Square value is 4.15". (Uncorrected Pearson would be 5.64.)
    // Tolerance: 0.005 (printed to 2 decimals).
    #[test]
    fn matches_statstodo_textbook_yates_example() {
        close("chi2", yates_chi2(10.0, 6.0, 5.0, 16.0), 4.15, 0.005);
    }

    // Source: R package `pvda` (OskarGauffin/pvda), reference/prr.html at
    // commit 10f4ab76e95eeecd10da6aedd26554f6b1c78a96, "Examples":
    // prr(obs, n_drug, n_event_prr, n_tot_prr) printed by tibble.
    // Mapping: a = obs, b = n_drug - obs, c = n_event_prr, d = n_tot_prr - c.
    // https://github.com/OskarGauffin/pvda/blob/10f4ab76e95eeecd10da6aedd26554f6b1c78a96/reference/prr.html
    // Tolerance: half a unit of the last printed digit (3 significant digits).
    #[test]
    fn matches_pvda_reference_examples() {
        // (obs, n_drug, n_event_prr, n_tot_prr, lower, prr, upper, tol of each)
        let rows = [
            (
                5.0,
                10.0,
                20.0,
                10000.0,
                (117.0, 0.5),
                (250.0, 0.5),
                (534.0, 0.5),
            ),
            (
                5.0,
                10.0,
                15.0,
                10000.0,
                (150.0, 0.5),
                (333.0, 0.5),
                (742.0, 0.5),
            ),
            (
                10.0,
                20.0,
                30.0,
                10000.0,
                (94.7, 0.05),
                (167.0, 0.5),
                (293.0, 0.5),
            ),
        ];
        for (obs, n_drug, n_event, n_tot, lo, p, hi) in rows {
            let r = prr(obs, n_drug - obs, n_event, n_tot - n_event, Z_95, 0.0);
            close("lower", r.lower, lo.0, lo.1);
            close("prr", r.prr, p.0, p.1);
            close("upper", r.upper, hi.0, hi.1);
        }
    }

    #[test]
    fn c_zero_has_no_prr() {
        let r = prr(3.0, 10.0, 0.0, 100.0, Z_95, 0.0);
        assert_eq!((r.prr, r.lower, r.upper), (None, None, None));
        assert!(r.chi2.is_some(), "margins are all positive");
        assert_eq!(r.null_reason.as_deref(), Some("c = 0"));
    }

    #[test]
    fn a_equals_n_is_all_null() {
        let r = prr(7.0, 0.0, 0.0, 0.0, Z_95, 0.0);
        assert_eq!((r.prr, r.lower, r.upper, r.chi2), (None, None, None, None));
        assert_eq!(r.null_reason.as_deref(), Some("b = 0, c = 0 and d = 0"));
        assert!(!mhra_flag(7.0, &r, MHRA_MIN_A, MHRA_MIN_PRR, MHRA_MIN_CHI2));
    }

    // The faers README row (0, 3, 14, 183) prints prr 0, chisq 4.096414e-31
    // (a clamped 0) and an interval of 0 to NaN; we keep the 0 and the 0 but
    // report the undefined log-scale interval as None instead of 0 and NaN.
    #[test]
    fn a_zero_gives_prr_zero_without_interval() {
        let r = prr(0.0, 3.0, 14.0, 183.0, Z_95, 0.0);
        assert_eq!(r.prr, Some(0.0));
        assert_eq!((r.lower, r.upper), (None, None));
        assert_eq!(r.chi2, Some(0.0), "|ad - bc| = 42 < N/2 = 100: clamped");
        assert_eq!(r.null_reason.as_deref(), Some("a = 0"));
    }

    #[test]
    fn b_zero_and_d_zero_alone_are_defined() {
        // b = 0: PRR = 1 / (c/(c+d)); variance 1/c - 1/(c+d).
        let r = prr(4.0, 0.0, 10.0, 90.0, Z_95, 0.0);
        close("prr b=0", r.prr, 10.0, 1e-12);
        assert!(r.lower.is_some() && r.upper.is_some() && r.chi2.is_some());
        assert_eq!(r.null_reason, None);
        // d = 0: PRR = a/(a+b); variance 1/a - 1/(a+b).
        let r = prr(4.0, 6.0, 10.0, 0.0, Z_95, 0.0);
        close("prr d=0", r.prr, 0.4, 1e-12);
        assert!(r.lower.is_some() && r.upper.is_some() && r.chi2.is_some());
        assert_eq!(r.null_reason, None);
    }

    #[test]
    fn b_and_d_zero_collapse_the_interval_and_drop_chi2() {
        let r = prr(3.0, 0.0, 5.0, 0.0, Z_95, 0.0);
        assert_eq!((r.prr, r.lower, r.upper), (Some(1.0), Some(1.0), Some(1.0)));
        assert_eq!(r.chi2, None, "b + d = 0: no event-free cases");
        assert_eq!(r.null_reason.as_deref(), Some("b = 0 and d = 0"));
    }

    #[test]
    fn empty_table_is_all_null() {
        let r = prr(0.0, 0.0, 0.0, 0.0, Z_95, 0.0);
        assert_eq!((r.prr, r.lower, r.upper, r.chi2), (None, None, None, None));
        assert_eq!(
            r.null_reason.as_deref(),
            Some("a = 0, b = 0, c = 0 and d = 0")
        );
    }

    // Self-consistency only (hand arithmetic, no published value): with
    // cc = 0.5 the table (5, 10, 0, 100) becomes (5.5, 10.5, 0.5, 100.5).
    // Tolerance: 1e-12 relative.
    #[test]
    fn haldane_correction_defines_zero_cell_tables() {
        let r = prr(5.0, 10.0, 0.0, 100.0, Z_95, 0.5);
        close_rel("prr", r.prr, (5.5 / 16.0) / (0.5 / 101.0), 1e-12);
        let se = (1.0_f64 / 5.5 - 1.0 / 16.0 + 1.0 / 0.5 - 1.0 / 101.0).sqrt();
        close_rel(
            "lower",
            r.lower,
            (5.5 / 16.0) / (0.5 / 101.0) * (-Z_95 * se).exp(),
            1e-12,
        );
        close_rel(
            "upper",
            r.upper,
            (5.5 / 16.0) / (0.5 / 101.0) * (Z_95 * se).exp(),
            1e-12,
        );
        // chi2 stays on the raw counts (all margins positive).
        assert_eq!(r.chi2, yates_chi2(5.0, 10.0, 0.0, 100.0));
        assert_eq!(r.null_reason, None, "defined, so nothing to explain");

        // a = N: PRR defined after correction, chi2 still has zero margins.
        let r = prr(3.0, 0.0, 0.0, 0.0, Z_95, 0.5);
        close_rel("prr a=N", r.prr, (3.5 / 4.0) / (0.5 / 1.0), 1e-12);
        assert!(r.lower.is_some() && r.upper.is_some());
        assert_eq!(r.chi2, None);
        assert_eq!(r.null_reason.as_deref(), Some("b = 0, c = 0 and d = 0"));

        // No zero cell: cc is not applied.
        assert_eq!(
            prr(1.0, 2.0, 7.0, 190.0, Z_95, 0.5),
            prr(1.0, 2.0, 7.0, 190.0, Z_95, 0.0)
        );
    }

    // Self-consistency only: the national-scale table from the brief. The
    // 32-bit product (a+b)(a+c) would overflow; every value must be finite
    // and equal the textbook formula evaluated directly in f64.
    // Tolerance: 1e-12 relative.
    #[test]
    fn huge_counts_do_not_overflow() {
        let (a, b, c, d) = (1e6_f64, 1e8_f64, 1e7_f64, 2.5e9_f64);
        assert!((a + b) * (a + c) > f64::from(i32::MAX));
        let r = prr(a, b, c, d, Z_95, 0.0);
        let p = (a / (a + b)) / (c / (c + d));
        let se = (1.0 / a - 1.0 / (a + b) + 1.0 / c - 1.0 / (c + d)).sqrt();
        let n = a + b + c + d;
        let chi =
            n * ((a * d - b * c).abs() - n / 2.0).powi(2) / ((a + b) * (c + d) * (a + c) * (b + d));
        close_rel("prr", r.prr, p, 1e-12);
        close_rel("lower", r.lower, p * (-Z_95 * se).exp(), 1e-12);
        close_rel("upper", r.upper, p * (Z_95 * se).exp(), 1e-12);
        close_rel("chi2", r.chi2, chi, 1e-12);
        assert!(mhra_flag(a, &r, MHRA_MIN_A, MHRA_MIN_PRR, MHRA_MIN_CHI2));
    }

    #[test]
    fn overflowing_cells_are_null_not_infinite() {
        let r = prr(1e308, 1e308, 1.0, 1e308, Z_95, 0.0);
        for v in [r.prr, r.lower, r.upper, r.chi2].into_iter().flatten() {
            assert!(v.is_finite());
        }
        assert_eq!(r.null_reason.as_deref(), Some("numeric overflow"));
    }

    #[test]
    fn invalid_inputs_are_null_with_reason() {
        for (a, b, c, d) in [
            (-1.0, 2.0, 3.0, 4.0),
            (1.0, f64::NAN, 3.0, 4.0),
            (1.0, 2.0, f64::INFINITY, 4.0),
        ] {
            let r = prr(a, b, c, d, Z_95, 0.0);
            assert_eq!((r.prr, r.lower, r.upper, r.chi2), (None, None, None, None));
            assert_eq!(
                r.null_reason.as_deref(),
                Some("cells must be finite and >= 0")
            );
        }
        let r = prr(1.0, 2.0, 3.0, 4.0, f64::NAN, 0.0);
        assert_eq!(r.null_reason.as_deref(), Some("z must be finite and >= 0"));
        let r = prr(1.0, 2.0, 3.0, 4.0, Z_95, -0.5);
        assert_eq!(r.null_reason.as_deref(), Some("cc must be finite and >= 0"));
        assert_eq!(yates_chi2(1.0, -2.0, 3.0, 4.0), None);
    }

    // Criterion from Evans et al. (2001) / MHRA: a ≥ 3, PRR ≥ 2, chi2 ≥ 4.
    // The faers README row (2, 1, 10, 187) has PRR 13.1 and chi2 10.45 but
    // only 2 cases.
    #[test]
    fn mhra_flag_needs_all_three() {
        let r = prr(2.0, 1.0, 10.0, 187.0, Z_95, 0.0);
        assert!(!mhra_flag(2.0, &r, MHRA_MIN_A, MHRA_MIN_PRR, MHRA_MIN_CHI2));
        assert!(mhra_flag(2.0, &r, 2.0, MHRA_MIN_PRR, MHRA_MIN_CHI2));
        // PRR ≥ 2 and a ≥ 3 but chi2 below 4.
        let r = prr(3.0, 40.0, 30.0, 1000.0, Z_95, 0.0);
        assert!(r.prr.is_some_and(|p| p >= 2.0));
        assert!(r.chi2.is_some_and(|c| c < 4.0));
        assert!(!mhra_flag(3.0, &r, MHRA_MIN_A, MHRA_MIN_PRR, MHRA_MIN_CHI2));
        // Thresholds are inclusive.
        let p = Prr {
            prr: Some(2.0),
            lower: Some(1.0),
            upper: Some(4.0),
            chi2: Some(4.0),
            null_reason: None,
        };
        assert!(mhra_flag(3.0, &p, MHRA_MIN_A, MHRA_MIN_PRR, MHRA_MIN_CHI2));
    }

    fn cell() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            (1u32..20).prop_map(f64::from),
            (0u64..10_000_000_000).prop_map(|x| x as f64),
        ]
    }

    proptest! {
        #[test]
        fn results_are_finite_ordered_and_explained(
            a in cell(), b in cell(), c in cell(), d in cell(),
            cc in prop_oneof![Just(0.0), Just(0.5)],
        ) {
            let r = prr(a, b, c, d, Z_95, cc);
            for v in [r.prr, r.lower, r.upper, r.chi2].into_iter().flatten() {
                prop_assert!(v.is_finite() && v >= 0.0);
            }
            if let (Some(lo), Some(p), Some(hi)) = (r.lower, r.prr, r.upper) {
                prop_assert!(lo <= p && p <= hi, "{lo} <= {p} <= {hi}");
            }
            let any_null = [r.prr, r.lower, r.upper, r.chi2].iter().any(Option::is_none);
            prop_assert_eq!(any_null, r.null_reason.is_some());
            if cc > 0.0 {
                prop_assert!(r.prr.is_some() && r.lower.is_some() && r.upper.is_some());
            }
        }

        #[test]
        fn prr_rises_with_a(
            a in 1u32..1_000_000, step in 1u32..1_000_000,
            b in 1u32..1_000_000, c in 1u32..1_000_000, d in 0u32..1_000_000,
        ) {
            let (b, c, d) = (f64::from(b), f64::from(c), f64::from(d));
            let lo = prr(f64::from(a), b, c, d, Z_95, 0.0).prr;
            let hi = prr(f64::from(a + step), b, c, d, Z_95, 0.0).prr;
            prop_assert!(matches!((lo, hi), (Some(x), Some(y)) if y > x), "{lo:?} -> {hi:?}");
        }
    }
}
