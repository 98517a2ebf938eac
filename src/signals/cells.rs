//! Checks shared by the 2×2-table statistics (PRR, ROR): valid inputs, the names of the
//! zero cells for a null reason, and finite results only.

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
