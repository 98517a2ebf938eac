//! Cell checks: turn a source's columns into typed columns, one problem per bad cell.
//!
//! Every column of a table spec has a [`Kind`]. A column already of the right polars type
//! (from Parquet) is taken as it is, with its range checked; any other column is read from
//! its text form. A value that does not parse becomes a [`Problem`] naming the row, the
//! column, the value found and what was expected; the caller rejects the row. Missing
//! optional values are null; a missing required value is a problem.

use polars::prelude::*;

// Booleans are parsed as a pipeline's flat mapping parses them.
use crate::config::{parse_bool, parse_date};
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::schema::{ColumnSpec, Kind, TableSpec};

/// One bad cell: `row` is the 0-based row of the frame being checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub row: usize,
    pub column: &'static str,
    pub found: String,
    pub expected: String,
}

/// Type every column of `spec` present in `df`; the result has the same height and row
/// order as `df`, with null in each bad cell, and the problems found.
pub fn type_columns(
    spec: &TableSpec,
    df: &DataFrame,
    context: &dyn Fn() -> String,
) -> Result<(Vec<Column>, Vec<Problem>)> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for c in spec.columns {
        let Ok(column) = df.column(c.name) else {
            continue;
        };
        let series = column.as_materialized_series();
        out.push(type_column(c, series, &mut problems, context)?.into_column());
    }
    Ok((out, problems))
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
    match (spec.kind, dtype) {
        (Kind::Date, DataType::Date) | (Kind::Bool, DataType::Boolean) => {
            if spec.required {
                for (row, v) in s.is_null().iter().enumerate() {
                    if v == Some(true) {
                        problem(row, String::new());
                    }
                }
            }
            return Ok(s.clone().with_name(name));
        }
        (Kind::Int { min, max }, dt) if dt.is_integer() => {
            let s = s.cast(&DataType::Int64).context(context)?;
            let ca = s.i64().context(context)?;
            let checked: Int64Chunked = ca
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    Some(x) if x >= min && x <= max => Some(x),
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
        (Kind::Float { min, max }, dt) if dt.is_primitive_numeric() => {
            let s = s.cast(&DataType::Float64).context(context)?;
            let ca = s.f64().context(context)?;
            let checked: Float64Chunked = ca
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
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
        Kind::Int { min, max } => parse_into!(Int64Chunked, |v: &str| v
            .parse::<i64>()
            .ok()
            .filter(|x| *x >= min && *x <= max)),
        Kind::Float { min, max } => parse_into!(Float64Chunked, |v: &str| v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= min && *x <= max)),
        Kind::Date => {
            let days = parse_into!(Int32Chunked, |v: &str| parse_date(v).map(epoch_days));
            days.cast(&DataType::Date).context(context)?
        }
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
mod tests {
    use super::*;
    use crate::schema::{col, REPORTS};

    fn text_frame(cols: &[(&str, &[Option<&str>])]) -> DataFrame {
        let columns = cols
            .iter()
            .map(|(n, v)| Column::new(PlSmallStr::from(*n), v.to_vec()))
            .collect();
        DataFrame::new_infer_height(columns).unwrap()
    }

    #[test]
    fn one_problem_per_bad_cell_with_found_and_expected() {
        let df = text_frame(&[
            (col::REPORT_ID, &[Some("R1"), Some("R2"), None]),
            (
                col::RECEIVED_DATE,
                &[Some("2025-01-02"), Some("2025-13-01"), Some("2025-02-03")],
            ),
            (col::CLASS, &[Some("Drug"), Some("vaccine"), Some("device")]),
            (
                col::REGION,
                &[Some("330100"), Some("33010"), Some("310115")],
            ),
            (col::SENTINEL, &[Some("是"), Some("maybe"), None]),
            (col::AGE_YEARS, &[Some("0.5"), Some("-4"), Some(" 40 ")]),
        ]);
        let (cols, problems) = type_columns(&REPORTS, &df, &|| "t".into()).unwrap();
        let got: Vec<(usize, &str, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column, p.found.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, col::REPORT_ID, ""),
                (1, col::RECEIVED_DATE, "2025-13-01"),
                (1, col::CLASS, "vaccine"),
                (1, col::REGION, "33010"),
                (1, col::SENTINEL, "maybe"),
                (1, col::AGE_YEARS, "-4"),
            ]
        );
        assert_eq!(problems[2].expected, "one of `drug`, `device`, `cosmetic`");
        let class = cols.iter().find(|c| c.name() == col::CLASS).unwrap();
        assert_eq!(
            class.str().unwrap().get(0),
            Some("drug"),
            "enum values are normalised"
        );
        let age = cols.iter().find(|c| c.name() == col::AGE_YEARS).unwrap();
        assert_eq!(age.f64().unwrap().get(2), Some(40.0), "values are trimmed");
        let date = cols
            .iter()
            .find(|c| c.name() == col::RECEIVED_DATE)
            .unwrap();
        assert_eq!(date.dtype(), &DataType::Date);
    }

    #[test]
    fn clean_text_columns_are_kept_and_unclean_ones_parsed() {
        let spec = |name| REPORTS.column(name).unwrap();
        let ca =
            |v: &[Option<&str>]| StringChunked::from_iter_options("x".into(), v.iter().copied());
        assert!(already_clean(
            spec(col::REPORT_ID),
            &ca(&[Some("R1"), Some("R2")])
        ));
        assert!(
            !already_clean(spec(col::REPORT_ID), &ca(&[Some("R1"), None])),
            "required and missing"
        );
        assert!(
            !already_clean(spec(col::REPORT_ID), &ca(&[Some(" R1")])),
            "needs trimming"
        );
        assert!(
            already_clean(spec(col::CASE_ID), &ca(&[Some("C1"), None])),
            "optional may be missing"
        );
        assert!(already_clean(
            spec(col::CLASS),
            &ca(&[Some("drug"), Some("device"), Some("drug")])
        ));
        assert!(
            !already_clean(spec(col::CLASS), &ca(&[Some("Drug")])),
            "not the canonical spelling"
        );
        assert!(!already_clean(spec(col::CLASS), &ca(&[Some("vaccine")])));
        assert!(already_clean(spec(col::REGION), &ca(&[Some("330100")])));
        assert!(!already_clean(spec(col::REGION), &ca(&[Some("33010")])));
        assert!(
            !already_clean(spec(col::AGE_YEARS), &ca(&[Some("4")])),
            "numbers are parsed"
        );
        // Either way, the typed result is the same as the slow path's.
        let df = text_frame(&[(col::CLASS, &[Some("drug"), Some(" Device ")])]);
        let (cols, problems) = type_columns(&REPORTS, &df, &|| "t".into()).unwrap();
        assert!(problems.is_empty());
        let class: Vec<Option<&str>> = cols[0].str().unwrap().iter().collect();
        assert_eq!(class, vec![Some("drug"), Some("device")]);
    }

    #[test]
    fn typed_parquet_columns_are_range_checked() {
        let df = DataFrame::new_infer_height(vec![
            Column::new(col::REPORT_ID.into(), ["R1", "R2"]),
            Column::new(col::VERSION.into(), [1i32, 0]),
            Column::new(col::AGE_YEARS.into(), [f64::NAN, 3.0]),
        ])
        .unwrap();
        let (_, problems) = type_columns(&REPORTS, &df, &|| "t".into()).unwrap();
        let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.row, p.column)).collect();
        assert_eq!(got, vec![(1, col::VERSION), (0, col::AGE_YEARS)]);
        assert_eq!(problems[0].expected, "an integer >= 1");
    }
}
