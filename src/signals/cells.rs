//! Checks shared by the 2×2-table statistics (PRR, ROR): valid inputs, the names of the
//! zero cells for a null reason, and finite results only.

/// Normal quantile for a two-sided 95% interval, `qnorm(0.975)`.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Why the inputs cannot be used at all, if they cannot.
pub(crate) fn invalid_input(a: f64, b: f64, c: f64, d: f64, z: f64, cc: f64) -> Option<String> {
    if ![a, b, c, d].iter().all(|x| x.is_finite() && *x >= 0.0) {
        Some("cells must be finite and >= 0".to_string())
    } else if !(z.is_finite() && z >= 0.0) {
        Some("z must be finite and >= 0".to_string())
    } else if !(cc.is_finite() && cc >= 0.0) {
        Some("cc must be finite and >= 0".to_string())
    } else {
        None
    }
}

/// Names the zero cells of the raw table: `"c = 0"`, `"b = 0 and c = 0"`,
/// `"b = 0, c = 0 and d = 0"`. `None` when no cell is zero.
pub(crate) fn zero_cells(a: f64, b: f64, c: f64, d: f64) -> Option<String> {
    let zero: Vec<String> = [("a", a), ("b", b), ("c", c), ("d", d)]
        .iter()
        .filter(|(_, v)| *v == 0.0)
        .map(|(name, _)| format!("{name} = 0"))
        .collect();
    match zero.as_slice() {
        [] => None,
        [only] => Some(only.clone()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

/// Keeps a value only if it is finite.
pub(crate) fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// Assertions shared by the PRR and ROR tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// Asserts `|actual - expected| <= tol`, naming the quantity on failure.
    pub(crate) fn close(what: &str, actual: Option<f64>, expected: f64, tol: f64) {
        let actual = actual.unwrap_or_else(|| panic!("{what}: expected {expected}, got None"));
        assert!(
            (actual - expected).abs() <= tol,
            "{what}: expected {expected} ± {tol}, got {actual}"
        );
    }

    /// Relative version of [`close`].
    pub(crate) fn close_rel(what: &str, actual: Option<f64>, expected: f64, rel: f64) {
        close(what, actual, expected, rel * expected.abs());
    }
}
