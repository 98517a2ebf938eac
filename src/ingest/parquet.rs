//! Parquet source, read with polars.
//!
//! Only the table's own columns are read (extra columns are listed, not loaded). A row's
//! "line" in a reject is its 1-based row number in the file. Columns keep their Parquet
//! types; `validate` accepts a column already of the right type as it is and parses any
//! other column from its text form, so a Parquet file written by another tool with
//! dates as strings still loads.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::RawFrame;
use crate::error::{Error, PolarsContext, Result};
use crate::schema::{col, TableSpec};

pub fn read_parquet(path: &Path, spec: &TableSpec, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    let schema = reader
        .schema()
        .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let (wanted, extra) = super::match_header(path, spec, &names)?;
    let columns: Vec<String> = wanted.iter().map(|(c, _)| c.name.to_string()).collect();
    let df = reader
        .with_columns(Some(columns))
        .finish()
        .context(|| format!("{}: reading Parquet", path.display()))?;
    let n = df.height();
    let lines = Column::new(
        PlSmallStr::from_static(col::LINE),
        (1..=n as i64).collect::<Vec<_>>(),
    );
    let mut df = df;
    df.with_column(lines)
        .context(|| format!("{}: numbering rows", path.display()))?;
    on_rows(n as u64);
    Ok(RawFrame {
        df,
        read: n as u64,
        rejects: Vec::new(),
        extra_columns: extra,
    })
}
