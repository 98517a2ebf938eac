//! Rows of the published tables as JSON objects, and typed column extraction.

use polars::prelude::*;
use serde_json::{Map, Value};

/// One row of a published table: every column by its name, as JSON (dates as
/// `YYYY-MM-DD`, lists as arrays, NaN and nulls as null).
pub type Row = Map<String, Value>;

/// Row `i` of `df` as a JSON object with every column.
pub fn row(df: &DataFrame, i: usize) -> Row {
    let mut out = Map::with_capacity(df.width());
    for c in df.columns() {
        let v = c.get(i).map(|v| any_json(&v)).unwrap_or(Value::Null);
        out.insert(c.name().to_string(), v);
    }
    out
}

fn date_text(days: i32) -> Value {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    epoch
        .checked_add_signed(chrono::Duration::days(i64::from(days)))
        .map(|d| Value::String(d.to_string()))
        .unwrap_or(Value::Null)
}

fn any_json(v: &AnyValue) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String((*s).to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Float32(x) => serde_json::Number::from_f64(f64::from(*x))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AnyValue::Date(d) => date_text(*d),
        AnyValue::List(s) => Value::Array(
            (0..s.len())
                .map(|i| s.get(i).map(|v| any_json(&v)).unwrap_or(Value::Null))
                .collect(),
        ),
        other => Value::String(other.to_string()),
    }
}

/// A string column as owned values (null stays `None`); an error names the column.
pub fn str_column(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, String> {
    let c = df
        .column(name)
        .map_err(|_| format!("column `{name}` is missing"))?;
    let s = c
        .str()
        .map_err(|_| format!("column `{name}`: expected a string, found {}", c.dtype()))?;
    Ok(s.iter().map(|v| v.map(str::to_string)).collect())
}

/// An optional string column: all null when the table does not have it.
pub fn str_column_or_null(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, String> {
    if df.column(name).is_err() {
        return Ok(vec![None; df.height()]);
    }
    str_column(df, name)
}

/// A boolean column; all null when the table does not have it.
pub fn bool_column(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>, String> {
    let Ok(c) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let b = c
        .bool()
        .map_err(|_| format!("column `{name}`: expected a boolean, found {}", c.dtype()))?;
    Ok(b.iter().collect())
}

/// A date column as days since 1970-01-01; all null when the table does not have it.
pub fn date_column(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>, String> {
    let Ok(c) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    if c.dtype() != &DataType::Date {
        return Err(format!(
            "column `{name}`: expected a date, found {}",
            c.dtype()
        ));
    }
    let days = c
        .cast(&DataType::Int32)
        .map_err(|e| format!("column `{name}`: {e}"))?;
    let days = days.i32().map_err(|e| format!("column `{name}`: {e}"))?;
    Ok(days.iter().collect())
}

/// One cell of a string column, if the column is there and holds a string.
pub fn utf8_cell(df: &DataFrame, name: &str, i: usize) -> Option<String> {
    match df.column(name).ok()?.get(i).ok()? {
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        _ => None,
    }
}

/// One cell of a list-of-strings column (empty when null or absent).
pub fn list_cell(df: &DataFrame, name: &str, i: usize) -> Vec<String> {
    let Some(AnyValue::List(s)) = df.column(name).ok().and_then(|c| c.get(i).ok()) else {
        return Vec::new();
    };
    match s.str() {
        Ok(s) => s.iter().flatten().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}
