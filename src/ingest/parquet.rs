//! Parquet source, read with polars.
//!
//! Only the table's own columns are read (extra columns are listed, not loaded). A row's
//! "line" in a reject is its 1-based row number in the file. Columns keep their Parquet
//! types; `validate` accepts a column already of the right type as it is and parses any
//! other column from its text form, so a Parquet file written by another tool with
//! dates as strings still loads.
//!
//! Types read (what pandas, pyarrow, Spark and databases write): booleans, integers of any
//! width and sign, floats, decimals, text (plain or dictionary-encoded), dates (date32,
//! date64) and timestamps (s, ms, us, ns; naive or with a time zone), each checked by
//! `validate` as the column's kind requires. A column of any other type (a list, a
//! struct, binary, a time of day, a duration…) is refused before a row is read, naming the
//! file, the column and its type (exit 2). A polars error while reading names the file
//! and, by reading the columns one at a time, the column it came from.
//!
//! A file is read whole ([`read_parquet`]) or in batches of whole row groups
//! ([`ParquetBatches`]), so that the large child tables never need to be in memory at once:
//! a batch is the next row groups up to the batch size, read as a slice of the file with
//! the footer parsed once. A file written as a single row group is one batch.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::io::parquet::metadata::FileMetadataRef;
use polars::prelude::*;

use super::RawFrame;
use crate::error::{Error, PolarsContext, Result};
use crate::schema::{col, TableSpec};

/// Read a whole file.
pub fn read_parquet(path: &Path, spec: &TableSpec, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
    ParquetBatches::open(path, spec)?.next_batch(usize::MAX, on_rows)
}

/// A Parquet file read a few row groups at a time.
pub struct ParquetBatches {
    path: PathBuf,
    columns: Vec<String>,
    extra: Vec<String>,
    metadata: FileMetadataRef,
    /// Row counts of the row groups not yet read.
    groups: std::collections::VecDeque<usize>,
    /// Rows read so far: the 0-based offset of the next batch.
    offset: usize,
    started: bool,
}

impl ParquetBatches {
    /// Open a file and check its columns against the spec (a missing required column is an
    /// error naming the file), without reading any rows.
    pub fn open(path: &Path, spec: &TableSpec) -> Result<ParquetBatches> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = ParquetReader::new(file);
        let schema = reader
            .schema()
            .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?;
        let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let (wanted, extra) = super::match_header(path, spec, &names)?;
        let unread: Vec<String> = wanted
            .iter()
            .filter_map(|(c, _)| {
                let dtype = &schema.get(c.name)?.dtype;
                (!is_readable(dtype)).then(|| format!("`{}` ({})", c.name, arrow_type_name(dtype)))
            })
            .collect();
        if !unread.is_empty() {
            return Err(Error::input(
                path,
                format!(
                    "{} {}: expected booleans, numbers, text, dates or timestamps (write {} as one of those)",
                    if unread.len() == 1 { "column" } else { "columns" },
                    unread.join(", "),
                    if unread.len() == 1 { "it" } else { "them" },
                ),
            ));
        }
        let metadata = reader
            .get_metadata()
            .map_err(|e| Error::input(path, format!("not a readable Parquet file: {e}")))?
            .clone();
        Ok(ParquetBatches {
            path: path.to_path_buf(),
            columns: wanted.iter().map(|(c, _)| c.name.to_string()).collect(),
            extra,
            groups: metadata.row_groups.iter().map(|g| g.num_rows()).collect(),
            metadata,
            offset: 0,
            started: false,
        })
    }

    /// Columns in the file that the spec does not name.
    pub fn extra_columns(&self) -> &[String] {
        &self.extra
    }

    /// Whether every row has been read.
    pub fn is_done(&self) -> bool {
        self.started && self.groups.is_empty()
    }

    /// The next row groups, at least one and up to `max_rows` rows in all (more when one
    /// row group alone is larger). The first call always returns a frame, empty for an
    /// empty file; `on_rows` gets the running total of rows read.
    pub fn next_batch(&mut self, max_rows: usize, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
        let mut len = 0usize;
        while let Some(&n) = self.groups.front() {
            if len > 0 && len.saturating_add(n) > max_rows {
                break;
            }
            len += n;
            self.groups.pop_front();
        }
        let mut df = match self.read_columns(self.columns.clone(), len) {
            Ok(df) => df,
            // Which column: read them one at a time (the error path only).
            Err(e) => {
                let column = self
                    .columns
                    .iter()
                    .find(|c| self.read_columns(vec![c.to_string()], len).is_err());
                let what = match column {
                    Some(c) => format!("{}: reading Parquet column `{c}`", self.path.display()),
                    None => format!("{}: reading Parquet", self.path.display()),
                };
                return Err(e).context(|| what);
            }
        };
        let n = df.height();
        let first = self.offset as i64 + 1;
        let lines = Column::new(
            PlSmallStr::from_static(col::LINE),
            (first..first + n as i64).collect::<Vec<_>>(),
        );
        df.with_column(lines)
            .context(|| format!("{}: numbering rows", self.path.display()))?;
        self.offset += n;
        self.started = true;
        on_rows(self.offset as u64);
        Ok(RawFrame {
            df,
            read: n as u64,
            rejects: Vec::new(),
            extra_columns: self.extra.clone(),
            cells: None,
        })
    }

    /// `len` rows of `columns` from the current offset.
    fn read_columns(&self, columns: Vec<String>, len: usize) -> PolarsResult<DataFrame> {
        let file = File::open(&self.path).map_err(|e| PolarsError::IO {
            error: Arc::new(e),
            msg: None,
        })?;
        let mut reader = ParquetReader::new(file);
        reader.set_metadata(self.metadata.clone());
        reader
            .with_columns(Some(columns))
            .with_slice(Some((self.offset, len)))
            .finish()
    }
}

/// Whether `validate` can type a column stored as `dtype`; anything else is refused up
/// front, since polars would panic or fail on it without naming the column.
fn is_readable(dtype: &ArrowDataType) -> bool {
    use ArrowDataType as A;
    match dtype {
        A::Null
        | A::Boolean
        | A::Int8
        | A::Int16
        | A::Int32
        | A::Int64
        | A::UInt8
        | A::UInt16
        | A::UInt32
        | A::UInt64
        | A::Float32
        | A::Float64
        | A::Decimal(..)
        | A::Decimal32(..)
        | A::Decimal64(..)
        | A::Decimal256(..)
        | A::Utf8
        | A::LargeUtf8
        | A::Utf8View
        | A::Date32
        | A::Date64
        | A::Timestamp(..) => true,
        A::Dictionary(_, values, _) => {
            matches!(values.as_ref(), A::Utf8 | A::LargeUtf8 | A::Utf8View)
        }
        _ => false,
    }
}

/// A column type as a user reads it in pyarrow (`decimal128(12, 0)`, `timestamp[ns]`).
fn arrow_type_name(dtype: &ArrowDataType) -> String {
    use ArrowDataType as A;
    match dtype {
        A::Binary | A::LargeBinary | A::BinaryView => "binary".into(),
        A::FixedSizeBinary(n) => format!("fixed_size_binary[{n}]"),
        A::Time32(_) | A::Time64(_) => "a time of day".into(),
        A::Duration(_) => "a duration".into(),
        A::Interval(_) => "an interval".into(),
        A::List(_) | A::LargeList(_) | A::FixedSizeList(..) => "a list".into(),
        A::Struct(_) => "a struct".into(),
        A::Map(..) => "a map".into(),
        A::Union(_) => "a union".into(),
        A::Float16 => "float16".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::REPORT_EVENTS;

    /// Batches are whole row groups, numbered on from the previous batch, and add up to
    /// the whole file.
    #[test]
    fn batches_are_whole_row_groups_and_add_up_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report_events.parquet");
        let n = 10usize;
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(
                col::REPORT_ID.into(),
                (0..n).map(|i| format!("R{i}")).collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENT.into(),
                (0..n).map(|i| format!("E{i}")).collect::<Vec<_>>(),
            ),
            Column::new("note".into(), vec!["x"; n]),
        ])
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .with_row_group_size(Some(3))
            .finish(&mut df)
            .unwrap();

        let whole = read_parquet(&path, &REPORT_EVENTS, &|_| {}).unwrap();
        assert_eq!(whole.read, 10);
        assert_eq!(whole.extra_columns, vec!["note".to_string()]);

        let mut b = ParquetBatches::open(&path, &REPORT_EVENTS).unwrap();
        let mut sizes = Vec::new();
        let mut lines = Vec::new();
        let mut events = Vec::new();
        while !b.is_done() {
            let raw = b.next_batch(5, &|_| {}).unwrap();
            sizes.push(raw.read);
            lines.extend(
                raw.df
                    .column(col::LINE)
                    .unwrap()
                    .i64()
                    .unwrap()
                    .into_no_null_iter(),
            );
            events.extend(
                raw.df
                    .column(col::EVENT)
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap().to_string()),
            );
        }
        // Row groups of 3, 3, 3 and 1 rows, at most 5 rows a batch unless one group is more.
        assert_eq!(sizes, vec![3, 3, 4]);
        assert_eq!(lines, (1..=10).collect::<Vec<i64>>());
        assert_eq!(events, (0..n).map(|i| format!("E{i}")).collect::<Vec<_>>());

        // A batch smaller than a row group still reads the whole group.
        let mut b = ParquetBatches::open(&path, &REPORT_EVENTS).unwrap();
        assert_eq!(b.next_batch(1, &|_| {}).unwrap().read, 3);
    }

    #[test]
    fn an_empty_file_is_one_empty_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report_events.parquet");
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(col::REPORT_ID.into(), Vec::<String>::new()),
            Column::new(col::EVENT.into(), Vec::<String>::new()),
        ])
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let mut b = ParquetBatches::open(&path, &REPORT_EVENTS).unwrap();
        assert!(!b.is_done());
        let raw = b.next_batch(100, &|_| {}).unwrap();
        assert_eq!((raw.read, raw.df.height()), (0, 0));
        assert!(b.is_done());
    }
}
