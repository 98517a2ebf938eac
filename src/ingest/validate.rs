//! Cell checks: turn a source's columns into typed columns, one problem per bad cell.
//!
//! Every column of a table spec has a [`Kind`]. A column already of the right polars type
//! (from Parquet) is taken as it is, with its range checked; any other column is read from
//! its text form. A value that does not parse becomes a [`Problem`] naming the row, the
//! column, the value found and what was expected; the caller rejects the row. Missing
//! optional values are null; a missing required value is a problem.
//!
//! Typed columns (Parquet) follow the text rules: integers of any width are range-checked
//! as numbers (a `uint64` above the largest `int64` is out of range, not wrapped); a float
//! or decimal is an integer when its value is whole (`2.0`), as the text `2.0` is; NaN is a
//! missing value, as an empty cell is. Dates are plausible ([`Plausible`]: from 1968-01-01
//! to the run's today) or they are problems; a timestamp is read as its date in the
//! pipeline's zone ([`DateRules::timezone`], UTC+8 by default) when it carries a time zone
//! (it is an instant), and as the date it shows when it is naive (local wall-clock time).

use polars::prelude::*;

// Booleans are parsed as a pipeline's flat mapping parses them.
use crate::config::parse_bool;
use crate::error::{PolarsContext, Result};
use crate::schema::{ColumnSpec, Kind, TableSpec};

mod dates;
pub use dates::DateRules;

/// One bad cell: `row` is the 0-based row of the frame being checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub row: usize,
    pub column: &'static str,
    pub found: String,
    pub expected: String,
}

/// Type every column of `spec` present in `df`; the result has the same height and row
/// order as `df`, with null in each bad cell, and the problems found. A polars error names
/// the column (and, through `context`, the file).
pub fn type_columns(
    spec: &TableSpec,
    df: &DataFrame,
    dates: &DateRules,
    context: &dyn Fn() -> String,
) -> Result<(Vec<Column>, Vec<Problem>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for c in spec.columns {
        let Ok(column) = df.column(c.name) else {
            continue;
        };
        let series = column.as_materialized_series();
        let context = || format!("{}, column `{}`", context(), c.name);
        let typed = if matches!(c.kind, Kind::Date) {
            dates::type_date(c, series, dates, &mut problems, &context)?
        } else {
            type_column(c, series, &mut problems, &context)?
        };
        out.push(typed.into_column());
    }
    Ok((out, problems))
}

/// An integer written as text: `42`, or a whole number with a decimal point (`42.0`, as
/// pandas writes an integer column with a missing value).
fn parse_int(v: &str) -> Option<i64> {
    v.parse::<i64>().ok().or_else(|| {
        let (int, frac) = v.split_once('.')?;
        if frac.is_empty() || !frac.bytes().all(|b| b == b'0') {
            return None;
        }
        int.parse::<i64>().ok()
    })
}

/// Integers checked row by row: `Some(Ok(x))` is kept, `Some(Err(found))` is a problem
/// and null, `None` is null (and a problem when the column is required).
fn checked_ints(
    values: impl Iterator<Item = Option<std::result::Result<i64, String>>>,
    required: bool,
    problem: &mut impl FnMut(usize, String),
) -> Int64Chunked {
    values
        .enumerate()
        .map(|(row, v)| match v {
            Some(Ok(x)) => Some(x),
            Some(Err(found)) => {
                problem(row, found);
                None
            }
            None => {
                if required {
                    problem(row, String::new());
                }
                None
            }
        })
        .collect()
}

fn type_column(
    spec: &ColumnSpec,
    s: &Series,
    problems: &mut Vec<Problem>,
    context: &dyn Fn() -> String,
) -> Result<Series> {
    let name = PlSmallStr::from_static(spec.name);
    let dtype = s.dtype();
    let mut problem = |row: usize, found: String| {
        problems.push(Problem {
            row,
            column: spec.name,
            found,
            expected: spec.kind.expected(),
        })
    };

    // Typed fast paths (Parquet).
    let fits_i64 = |s: &Series| match s.dtype() {
        DataType::UInt64 => s
            .max::<u64>()
            .ok()
            .flatten()
            .is_none_or(|m| m <= i64::MAX as u64),
        _ => true,
    };
    match (spec.kind, dtype) {
        (Kind::Bool, DataType::Boolean) => {
            if spec.required {
                for (row, v) in s.is_null().iter().enumerate() {
                    if v == Some(true) {
                        problem(row, String::new());
                    }
                }
            }
            return Ok(s.clone().with_name(name));
        }
        (Kind::Int { min, max }, dt) if dt.is_integer() && fits_i64(s) => {
            let s = s.cast(&DataType::Int64).context(context)?;
            let ca = s.i64().context(context)?;
            let values = ca.iter().map(|v| {
                v.map(|x| {
                    if x >= min && x <= max {
                        Ok(x)
                    } else {
                        Err(x.to_string())
                    }
                })
            });
            let checked = checked_ints(values, spec.required, &mut problem);
            return Ok(checked.with_name(name).into_series());
        }
        // Whole floats are integers; NaN is missing. `x as i64` is exact for a whole x
        // in [-2^63, 2^63).
        (Kind::Int { min, max }, dt) if dt.is_float() => {
            let s = s.cast(&DataType::Float64).context(context)?;
            let ca = s.f64().context(context)?;
            let bound = 2f64.powi(63);
            let values = ca.iter().map(|v| {
                v.filter(|x| !x.is_nan()).map(|x| {
                    let whole = x.fract() == 0.0 && (-bound..bound).contains(&x);
                    if whole && (min..=max).contains(&(x as i64)) {
                        Ok(x as i64)
                    } else {
                        Err(x.to_string())
                    }
                })
            });
            let checked = checked_ints(values, spec.required, &mut problem);
            return Ok(checked.with_name(name).into_series());
        }
        (Kind::Float { min, max }, dt) if dt.is_primitive_numeric() || dt.is_decimal() => {
            let s = s.cast(&DataType::Float64).context(context)?;
            let ca = s.f64().context(context)?;
            let checked: Float64Chunked = ca
                .iter()
                .enumerate()
                .map(|(row, v)| match v.filter(|x| !x.is_nan()) {
                    Some(x) if x.is_finite() && x >= min && x <= max => Some(x),
                    Some(x) => {
                        problem(row, x.to_string());
                        None
                    }
                    None => {
                        if spec.required {
                            problem(row, String::new());
                        }
                        None
                    }
                })
                .collect();
            return Ok(checked.with_name(name).into_series());
        }
        _ => {}
    }

    // Text columns already clean (Parquet, or CSV written by a careful tool): every value
    // trimmed, non-empty and, for enums and regions, already in canonical form. Checking
    // that costs one pass without allocation, and the column is then kept as it is.
    if dtype == &DataType::String && already_clean(spec, s.str().context(context)?) {
        return Ok(s.clone().with_name(name));
    }

    // Text path: everything else is read from its string form.
    let text = if dtype == &DataType::String {
        s.clone()
    } else {
        s.cast(&DataType::String).context(context)?
    };
    let ca = text.str().context(context)?;
    let values = ca
        .iter()
        .map(|v| v.map(str::trim).filter(|v| !v.is_empty()));

    macro_rules! parse_into {
        ($ty:ty, $parse:expr) => {{
            let parse = $parse;
            let out: $ty = values
                .enumerate()
                .map(|(row, v)| match v {
                    None => {
                        if spec.required {
                            problem(row, String::new());
                        }
                        None
                    }
                    Some(v) => match parse(v) {
                        Some(x) => Some(x),
                        None => {
                            problem(row, v.to_string());
                            None
                        }
                    },
                })
                .collect();
            out.with_name(name).into_series()
        }};
    }

    let typed = match spec.kind {
        Kind::Text => parse_into!(StringChunked, |v: &str| Some(v.to_string())),
        Kind::Region => parse_into!(StringChunked, |v: &str| crate::schema::is_region_code(v)
            .then(|| v.to_string())),
        Kind::Enum(allowed) => parse_into!(StringChunked, |v: &str| allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v))
            .map(|a| a.to_string())),
        Kind::Bool => parse_into!(BooleanChunked, parse_bool),
        Kind::Int { min, max } => {
            parse_into!(Int64Chunked, |v: &str| parse_int(v)
                .filter(|x| *x >= min && *x <= max))
        }
        Kind::Float { min, max } => parse_into!(Float64Chunked, |v: &str| v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= min && *x <= max)),
        Kind::Date => unreachable!("dates are typed by type_date"),
    };
    Ok(typed)
}

/// Whether a text column needs no change: no missing required value, no value that
/// trimming would change or empty, and (enums, regions) every distinct value valid and
/// spelled as the canonical form. Then the slow path would return the column unchanged and
/// report no problem, so it can be skipped.
fn already_clean(spec: &ColumnSpec, ca: &StringChunked) -> bool {
    if spec.required && ca.null_count() > 0 {
        return false;
    }
    let trimmed = |v: &str| {
        !v.is_empty() && !v.starts_with(char::is_whitespace) && !v.ends_with(char::is_whitespace)
    };
    // Enums and regions have few distinct values: check each once.
    let distinct_all = |valid: &dyn Fn(&str) -> bool| {
        ca.unique()
            .is_ok_and(|d| d.iter().flatten().all(|v| trimmed(v) && valid(v)))
    };
    match spec.kind {
        Kind::Text => ca.iter().flatten().all(trimmed),
        Kind::Region => distinct_all(&crate::schema::is_region_code),
        Kind::Enum(allowed) => distinct_all(&|v| allowed.contains(&v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
