//! Signals stage: the reporting odds ratio (ROR) with Woolf's confidence
//! interval, and the EMA-style signal criterion.
//!
//! Reads the four cells of one product × event contingency table of cases;
//! writes `ror`, `lower`, `upper`, and a `null_reason` whenever any of them
//! is undefined.
//!
//! | cell | meaning                                   |
//! |------|-------------------------------------------|
//! | `a`  | cases with the product and the event      |
//! | `b`  | cases with the product, without the event |
//! | `c`  | cases with the event, without the product |
//! | `d`  | cases with neither                        |
//!
//! `N = a + b + c + d`. Cells are `f64` because `ad` and `bc` exceed 2^31 at
//! national scale.
//!
//! # Formulas
//!
//! van Puijenbroek, Bate, Leufkens, Lindquist, Orre & Egberts (2002), "A
//! comparison of measures of disproportionality for signal detection in
//! spontaneous reporting systems for adverse drug reactions",
//! Pharmacoepidemiol Drug Saf 11:3–10; Woolf's logit interval as in Rothman,
//! Lanes & Sacks (2004), "The reporting odds ratio and its advantages over
//! the proportional reporting ratio", Pharmacoepidemiol Drug Saf 13:519–523:
//!
//! ```text
//! ROR    = (a/b) / (c/d) = ad / bc
//! SE(ln) = sqrt(1/a + 1/b + 1/c + 1/d)
//! CI     = exp(ln ROR ± z·SE)
//! signal : a ≥ 3 and lower > 1
//! ```
//!
//! # Edges (with `cc = 0`)
//!
//! No function here returns NaN or ±∞; an undefined value is `None`, and
//! `null_reason` then names the zero cells, e.g. `"b = 0"` or
//! `"b = 0, c = 0 and d = 0"`.
//!
//! - `b = 0` or `c = 0` (this includes `a = N`): the ROR divides by zero:
//!   ROR, lower and upper are `None`.
//! - `a = 0` or `d = 0` (with `b, c > 0`): ROR = 0 is reported, but ln 0 has
//!   no interval: lower and upper are `None`.
//! - Negative, NaN or infinite cells, or a bad `z` or `cc`: everything is
//!   `None` and the reason says which input is wrong.
//!
//! With `cc > 0` and any zero cell, `cc` is added to all four cells first
//! (0.5 is the Haldane–Anscombe correction), so every value is defined.
//!
//! # Invariants
//!
//! `lower <= ror <= upper` whenever all three are `Some`; every `Some` is
//! finite; `ror` is non-decreasing in `a` with `b`, `c`, `d` fixed.

use super::cells::{finite, invalid_input, zero_cells};

/// Normal quantile for a two-sided 95% interval, `qnorm(0.975)`.
pub use super::cells::Z_95;

/// EMA-style defaults: at least 3 cases and a lower bound above 1.
pub const EMA_MIN_A: f64 = 3.0;
pub const EMA_MIN_LOWER: f64 = 1.0;

/// Reporting odds ratio of one table, with its interval. `null_reason` is
/// `Some` exactly when at least one of the other fields is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ror {
    pub ror: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub null_reason: Option<String>,
}

/// ROR of the table `a, b, c, d` with Woolf's interval
/// `exp(ln ROR ± z·sqrt(1/a + 1/b + 1/c + 1/d))` (see the module docs for
/// sources and every edge).
///
/// `z` is the normal quantile for the interval ([`Z_95`] for 95%); `cc` is a
/// continuity correction added to every cell when any cell is zero (0.0 =
/// none, the default; 0.5 = Haldane–Anscombe).
pub fn ror(a: f64, b: f64, c: f64, d: f64, z: f64, cc: f64) -> Ror {
    if let Some(reason) = invalid_input(a, b, c, d, z, cc) {
        return Ror {
            ror: None,
            lower: None,
            upper: None,
            null_reason: Some(reason),
        };
    }

    let (ea, eb, ec, ed) = if cc > 0.0 && [a, b, c, d].contains(&0.0) {
        (a + cc, b + cc, c + cc, d + cc)
    } else {
        (a, b, c, d)
    };

    let (point, lower, upper) = if eb == 0.0 || ec == 0.0 {
        (None, None, None)
    } else if ea == 0.0 || ed == 0.0 {
        // The odds ratio is a true 0; its log-scale interval is not defined.
        (Some(0.0), None, None)
    } else {
        // Sum of logs rather than ad/(bc): ad reaches ~1e19 in national
        // databases and the log form cannot overflow.
        let ln_ror = ea.ln() + ed.ln() - eb.ln() - ec.ln();
        let se = (1.0 / ea + 1.0 / eb + 1.0 / ec + 1.0 / ed).sqrt();
        let half = z * se;
        (
            finite(Some(ln_ror.exp())),
            finite(Some((ln_ror - half).exp())),
            finite(Some((ln_ror + half).exp())),
        )
    };

    let null_reason = if [point, lower, upper].iter().any(Option::is_none) {
        Some(zero_cells(a, b, c, d).unwrap_or_else(|| "numeric overflow".to_string()))
    } else {
        None
    };
    Ror {
        ror: point,
        lower,
        upper,
        null_reason,
    }
}

/// EMA-style criterion: `a ≥ min_a` and `lower > min_lower` (3 and 1 by
/// default: [`EMA_MIN_A`], [`EMA_MIN_LOWER`]). An undefined lower bound
/// never flags.
pub fn ror_flag(a: f64, r: &Ror, min_a: f64, min_lower: f64) -> bool {
    match r.lower {
        Some(lower) => a >= min_a && lower > min_lower,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::signals::cells::test_support::{close, close_rel};

    // Source: R package `faers` (Yunuuuu/faers), README.md at commit
    // 175bdf366ff817813ab201ae87a814f06061ffff, section "Pharmacovigilance
    // analysis", printed table `insulin_signals` (columns a, b, c, d, ror,
    // ror_ci_low, ror_ci_high), computed by `phv_ror()` with qnorm(0.975).
    // https://github.com/Yunuuuu/faers/blob/175bdf366ff817813ab201ae87a814f06061ffff/README.md
    // Tolerance: 1e-6 relative (R printed 7–9 significant digits).
    #[test]
    fn matches_faers_readme_ror_and_woolf_ci() {
        // (a, b, c, d, ror, low, high)
        let rows = [
            (1.0, 2.0, 7.0, 190.0, 13.5714286, 1.09612571, 168.031524),
            (1.0, 2.0, 9.0, 188.0, 10.4444444, 0.86432480, 126.209985),
            (1.0, 2.0, 33.0, 164.0, 2.4848485, 0.21888790, 28.208376),
            (1.0, 2.0, 79.0, 118.0, 0.7468354, 0.06658895, 8.376212),
            (2.0, 1.0, 30.0, 167.0, 11.1333333, 0.97846354, 126.679335),
            (1.0, 2.0, 30.0, 167.0, 2.7833333, 0.24461589, 31.669834),
            (2.0, 1.0, 10.0, 187.0, 37.4000000, 3.12161662, 448.088336),
        ];
        for (a, b, c, d, o, lo, hi) in rows {
            let r = ror(a, b, c, d, Z_95, 0.0);
            let tag = format!("({a}, {b}, {c}, {d})");
            close_rel(&format!("ror {tag}"), r.ror, o, 1e-6);
            close_rel(&format!("lower {tag}"), r.lower, lo, 1e-6);
            close_rel(&format!("upper {tag}"), r.upper, hi, 1e-6);
            assert_eq!(r.null_reason, None);
        }
    }

    // Source: R package `pvda` (OskarGauffin/pvda), reference/ror.html at
    // commit 10f4ab76e95eeecd10da6aedd26554f6b1c78a96, "Examples" printed by
    // tibble: ror(5, 10, 20, 10000) and the vectorised call with
    // a = (5, 10), b = (10, 20), c = (15, 30), d = (10000, 10000).
    // https://github.com/OskarGauffin/pvda/blob/10f4ab76e95eeecd10da6aedd26554f6b1c78a96/reference/ror.html
    // Tolerance: half a unit of the last printed digit.
    #[test]
    fn matches_pvda_reference_examples() {
        let rows = [
            (
                (5.0, 10.0, 20.0, 10000.0),
                (78.4, 0.05),
                (250.0, 0.5),
                (797.0, 0.5),
            ),
            (
                (5.0, 10.0, 15.0, 10000.0),
                (102.0, 0.5),
                (333.0, 0.5),
                (1092.0, 0.5),
            ),
            (
                (10.0, 20.0, 30.0, 10000.0),
                (72.0, 0.05),
                (167.0, 0.5),
                (386.0, 0.5),
            ),
        ];
        for ((a, b, c, d), lo, o, hi) in rows {
            let r = ror(a, b, c, d, Z_95, 0.0);
            close("lower", r.lower, lo.0, lo.1);
            close("ror", r.ror, o.0, o.1);
            close("upper", r.upper, hi.0, hi.1);
        }
    }

    // Source: R package `vigicaen` (pharmacologie-caen/vigicaen),
    // reference/compute_dispro.md at commit
    // 2c45af03b549adb2538e2243a0998109f2d45ce2: colitis × nivolumab,
    // a = 44, b = 60, c = 181, "or 1.88", "or_ci (1.23-2.88)". d is cut off
    // in the printout; d = 465 follows from N = 750 rows of `demo_`
    // (reference/demo_.md) and matches the printed n_exp = 104·225/750 = 31.2
    // (and only d = 465 also reproduces the printed OR and IC).
    // https://github.com/pharmacologie-caen/vigicaen/blob/2c45af03b549adb2538e2243a0998109f2d45ce2/reference/compute_dispro.md
    // Tolerance: 0.005 (printed to 2 decimals).
    #[test]
    fn matches_vigicaen_compute_dispro_example() {
        let r = ror(44.0, 60.0, 181.0, 465.0, Z_95, 0.0);
        close("ror", r.ror, 1.88, 0.005);
        close("lower", r.lower, 1.23, 0.005);
        close("upper", r.upper, 2.88, 0.005);
        assert!(ror_flag(44.0, &r, EMA_MIN_A, EMA_MIN_LOWER));
    }

    // Source: `vigicaen` tests/testthat/test-compute_dispro.R, "works with
    // large numbers": a = 2e6, b = 8e6, c = 1.6e7, d = 4e6 gives or "0.06"
    // and or_ci "(0.06-0.06)".
    // https://github.com/pharmacologie-caen/vigicaen/blob/18b76cf0f250f89ec7087dcd05fc5c2913ba3682/tests/testthat/test-compute_dispro.R
    // Tolerance: 0.005 (2 decimals); plus the exact ad/bc = 0.0625 by hand
    // arithmetic at 1e-12 relative.
    #[test]
    fn matches_vigicaen_large_numbers_test() {
        let r = ror(2e6, 8e6, 1.6e7, 4e6, Z_95, 0.0);
        close("ror", r.ror, 0.06, 0.005);
        close("lower", r.lower, 0.06, 0.005);
        close("upper", r.upper, 0.06, 0.005);
        close_rel("ror exact", r.ror, 0.0625, 1e-12);
    }

    #[test]
    fn b_or_c_zero_has_no_ror() {
        let r = ror(3.0, 0.0, 5.0, 100.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (None, None, None));
        assert_eq!(r.null_reason.as_deref(), Some("b = 0"));
        let r = ror(3.0, 5.0, 0.0, 100.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (None, None, None));
        assert_eq!(r.null_reason.as_deref(), Some("c = 0"));
        let r = ror(3.0, 0.0, 0.0, 100.0, Z_95, 0.0);
        assert_eq!(r.null_reason.as_deref(), Some("b = 0 and c = 0"));
    }

    #[test]
    fn a_equals_n_is_all_null() {
        let r = ror(9.0, 0.0, 0.0, 0.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (None, None, None));
        assert_eq!(r.null_reason.as_deref(), Some("b = 0, c = 0 and d = 0"));
        assert!(!ror_flag(9.0, &r, EMA_MIN_A, EMA_MIN_LOWER));
    }

    #[test]
    fn a_or_d_zero_gives_ror_zero_without_interval() {
        let r = ror(0.0, 3.0, 14.0, 183.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (Some(0.0), None, None));
        assert_eq!(r.null_reason.as_deref(), Some("a = 0"));
        let r = ror(4.0, 3.0, 14.0, 0.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (Some(0.0), None, None));
        assert_eq!(r.null_reason.as_deref(), Some("d = 0"));
    }

    #[test]
    fn empty_table_is_all_null() {
        let r = ror(0.0, 0.0, 0.0, 0.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (None, None, None));
        assert_eq!(
            r.null_reason.as_deref(),
            Some("a = 0, b = 0, c = 0 and d = 0")
        );
    }

    // Self-consistency only (hand arithmetic, no published value): with
    // cc = 0.5, a = N = 3 becomes (3.5, 0.5, 0.5, 0.5): ROR = 7 and
    // SE = sqrt(1/3.5 + 3·2). Tolerance: 1e-12 relative.
    #[test]
    fn haldane_correction_defines_zero_cell_tables() {
        let r = ror(3.0, 0.0, 0.0, 0.0, Z_95, 0.5);
        let se = (1.0_f64 / 3.5 + 6.0).sqrt();
        close_rel("ror", r.ror, 7.0, 1e-12);
        close_rel("lower", r.lower, 7.0 * (-Z_95 * se).exp(), 1e-12);
        close_rel("upper", r.upper, 7.0 * (Z_95 * se).exp(), 1e-12);
        assert_eq!(r.null_reason, None);
        // No zero cell: cc is not applied.
        assert_eq!(
            ror(1.0, 2.0, 7.0, 190.0, Z_95, 0.5),
            ror(1.0, 2.0, 7.0, 190.0, Z_95, 0.0)
        );
    }

    // Self-consistency only: the national-scale table from the brief; ad is
    // 2.5e15 and must not overflow anything. Tolerance: 1e-12 relative.
    #[test]
    fn huge_counts_do_not_overflow() {
        let (a, b, c, d) = (1e6_f64, 1e8_f64, 1e7_f64, 2.5e9_f64);
        let r = ror(a, b, c, d, Z_95, 0.0);
        let o = a * d / (b * c);
        let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
        close_rel("ror", r.ror, o, 1e-12);
        close_rel("lower", r.lower, o * (-Z_95 * se).exp(), 1e-12);
        close_rel("upper", r.upper, o * (Z_95 * se).exp(), 1e-12);
        assert!(ror_flag(a, &r, EMA_MIN_A, EMA_MIN_LOWER));
    }

    #[test]
    fn invalid_inputs_are_null_with_reason() {
        let r = ror(1.0, -2.0, 3.0, 4.0, Z_95, 0.0);
        assert_eq!((r.ror, r.lower, r.upper), (None, None, None));
        assert_eq!(
            r.null_reason.as_deref(),
            Some("cells must be finite and >= 0")
        );
        let r = ror(1.0, 2.0, 3.0, f64::NAN, Z_95, 0.0);
        assert_eq!(
            r.null_reason.as_deref(),
            Some("cells must be finite and >= 0")
        );
        let r = ror(1.0, 2.0, 3.0, 4.0, f64::INFINITY, 0.0);
        assert_eq!(r.null_reason.as_deref(), Some("z must be finite and >= 0"));
        let r = ror(1.0, 2.0, 3.0, 4.0, Z_95, f64::NAN);
        assert_eq!(r.null_reason.as_deref(), Some("cc must be finite and >= 0"));
    }

    // Criterion: a ≥ 3 and lower bound strictly above 1. faers README row
    // (2, 1, 10, 187) has lower 3.12 but only 2 cases.
    #[test]
    fn ror_flag_needs_cases_and_lower_above_one() {
        let r = ror(2.0, 1.0, 10.0, 187.0, Z_95, 0.0);
        assert!(!ror_flag(2.0, &r, EMA_MIN_A, EMA_MIN_LOWER));
        assert!(ror_flag(2.0, &r, 2.0, EMA_MIN_LOWER));
        let at_one = Ror {
            ror: Some(2.0),
            lower: Some(1.0),
            upper: Some(4.0),
            null_reason: None,
        };
        assert!(
            !ror_flag(5.0, &at_one, EMA_MIN_A, EMA_MIN_LOWER),
            "strict >"
        );
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
            let r = ror(a, b, c, d, Z_95, cc);
            for v in [r.ror, r.lower, r.upper].into_iter().flatten() {
                prop_assert!(v.is_finite() && v >= 0.0);
            }
            if let (Some(lo), Some(o), Some(hi)) = (r.lower, r.ror, r.upper) {
                prop_assert!(lo <= o && o <= hi, "{lo} <= {o} <= {hi}");
            }
            let any_null = [r.ror, r.lower, r.upper].iter().any(Option::is_none);
            prop_assert_eq!(any_null, r.null_reason.is_some());
            if cc > 0.0 {
                prop_assert!(!any_null);
            }
        }

        // PRR and ROR move together: both rise with a when b, c, d are fixed.
        #[test]
        fn ror_rises_with_a_like_prr(
            a in 1u32..1_000_000, step in 1u32..1_000_000,
            b in 1u32..1_000_000, c in 1u32..1_000_000, d in 1u32..1_000_000,
        ) {
            let (b, c, d) = (f64::from(b), f64::from(c), f64::from(d));
            let (a0, a1) = (f64::from(a), f64::from(a + step));
            let r0 = ror(a0, b, c, d, Z_95, 0.0).ror;
            let r1 = ror(a1, b, c, d, Z_95, 0.0).ror;
            let p0 = super::super::prr::prr(a0, b, c, d, Z_95, 0.0).prr;
            let p1 = super::super::prr::prr(a1, b, c, d, Z_95, 0.0).prr;
            prop_assert!(matches!((r0, r1), (Some(x), Some(y)) if y > x), "ror {r0:?} -> {r1:?}");
            prop_assert!(matches!((p0, p1), (Some(x), Some(y)) if y > x), "prr {p0:?} -> {p1:?}");
        }
    }
}
