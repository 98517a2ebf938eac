//! CSV source: a file with a header row, read with [`crate::records`] into text columns.
//!
//! Why not polars' CSV reader: a rejected row must name its line as an editor shows it
//! (a quoted field may span lines, blank lines count, and `\r\n`, `\n` or a lone `\r` ends
//! a line), and a row with the wrong number of fields must become one reject, not an
//! error for the whole file (polars' reader fails on extra fields and silently pads short
//! rows). Every physical line is accounted for: a quote left open is one rejected row on
//! the line where it opens, and reading resumes on the next line; a record longer than
//! [`MAX_RECORD_BYTES`] is one rejected row, skipped to the end of its line.
//!
//! Output: one `String` column per column of the table spec found in the header, plus the
//! internal `__line` column. Values are trimmed; an empty field is null. A UTF-8 byte-order
//! mark (as Excel writes) is dropped from the first header name. A file in UTF-16 (with its
//! byte-order mark) or GB18030/GBK, detected or declared, is read through its UTF-8
//! transcoding ([`crate::records::encoding`]), with the same line numbers.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::RawFrame;
use crate::accounting::{excerpt, excerpt_bytes, Action, Reject};
use crate::error::{Error, Result};
use crate::records::encoding::{open_utf8, Encoding};
pub use crate::records::MAX_RECORD_BYTES;
use crate::records::{CsvRecords, Next};
use crate::schema::{col, TableSpec};

/// How often (in rows) the progress callback is called.
const PROGRESS_EVERY: u64 = 65_536;

/// Read a whole file.
pub fn read_csv(path: &Path, spec: &'static TableSpec, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
    CsvBatches::open(path, spec)?.next_batch(usize::MAX, on_rows)
}

/// A CSV file read a number of records at a time, so that the large child tables never
/// need to be in memory as text at once. Line numbers and counts run on across batches.
pub struct CsvBatches {
    path: PathBuf,
    spec: &'static TableSpec,
    file_name: String,
    records: CsvRecords<File>,
    names: Vec<String>,
    wanted: super::Wanted,
    extra: Vec<String>,
    /// Rows read so far (records, good or not; blank lines are not rows).
    read: u64,
    /// The file's own encoding (rows that do not decode are rejected, naming it).
    encoding: Encoding,
    started: bool,
    done: bool,
}

impl CsvBatches {
    /// Open a file and read its header, checking it against the spec (a missing required
    /// column, a duplicate name or a header that is not UTF-8 is an error naming the file).
    pub fn open(path: &Path, spec: &'static TableSpec) -> Result<CsvBatches> {
        CsvBatches::open_with(path, spec, None)
    }

    /// [`CsvBatches::open`] with a declared encoding (`None`: detected).
    pub fn open_with(
        path: &Path,
        spec: &'static TableSpec,
        declared: Option<Encoding>,
    ) -> Result<CsvBatches> {
        let text = open_utf8(path, declared)?;
        let encoding = text.encoding;
        if encoding != Encoding::Utf8 {
            tracing::debug!(
                file = %path.display(),
                encoding = encoding.name(),
                detected = text.detected,
                "input transcoded to UTF-8"
            );
        }
        let file: File = text.file;
        let mut records = CsvRecords::new(file);
        let line = match records.next(None).map_err(|e| Error::io(path, e))? {
            Some(Next::Record { line }) => line,
            Some(Next::Refused(r)) => {
                return Err(Error::input(path, format!("header: {}", r.message())))
            }
            None => return Err(Error::input(path, "empty file: expected a header row")),
        };
        if records.is_blank() {
            return Err(Error::input(path, "empty file: expected a header row"));
        }
        let mut names = Vec::with_capacity(records.len());
        for i in 0..records.len() {
            let raw = records.field(i);
            let raw = if i == 0 {
                raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw)
            } else {
                raw
            };
            let name = std::str::from_utf8(raw)
                .map_err(|_| {
                    Error::input(
                        path,
                        format!(
                            "line {line}: header field {} is not {} text (found `{}`)",
                            i + 1,
                            encoding.name(),
                            excerpt_bytes(raw)
                        ),
                    )
                })?
                .to_string();
            if names.contains(&name) {
                return Err(Error::input(
                    path,
                    format!(
                        "line {line}: duplicate column `{}` in the header",
                        excerpt(&name)
                    ),
                ));
            }
            names.push(name);
        }
        let (wanted, extra) = super::match_header(path, spec, &names)?;
        Ok(CsvBatches {
            path: path.to_path_buf(),
            spec,
            file_name: path.display().to_string(),
            records,
            names,
            wanted,
            extra,
            read: 0,
            encoding,
            started: false,
            done: false,
        })
    }

    /// Columns in the file that the spec does not name.
    pub fn extra_columns(&self) -> &[String] {
        &self.extra
    }

    /// Whether every row has been read.
    pub fn is_done(&self) -> bool {
        self.started && self.done
    }

    /// The next `max_rows` rows (fewer at the end of the file): the good ones as text
    /// columns, the refused ones as rejects. The first call always returns a frame, empty
    /// for a file with only a header; `on_rows` gets the running total of rows read.
    pub fn next_batch(&mut self, max_rows: usize, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
        self.started = true;
        let path = self.path.as_path();
        let spec = self.spec;
        let capacity = max_rows.min(1 << 16);
        let mut builders: Vec<StringChunkedBuilder> = self
            .wanted
            .iter()
            .map(|(c, _)| StringChunkedBuilder::new(PlSmallStr::from_static(c.name), capacity))
            .collect();
        let mut lines: Vec<i64> = Vec::with_capacity(capacity);
        let mut rejects = Vec::new();
        let mut rows = 0usize;
        let records = &mut self.records;
        let fields = self.names.len();
        while rows < max_rows {
            let next = records.next(Some(fields)).map_err(|e| Error::io(path, e))?;
            let line = match next {
                None => {
                    self.done = true;
                    break;
                }
                // A fully blank line is not a row: editors and spreadsheets leave them at the end.
                Some(Next::Record { .. }) if records.is_blank() => continue,
                Some(Next::Record { line }) => line as i64,
                Some(Next::Refused(r)) => {
                    rows += 1;
                    self.read += 1;
                    rejects.push(Reject {
                        cell: String::new(),
                        action: Action::RowRejected,
                        table: spec.name,
                        file: self.file_name.clone(),
                        line: r.line as i64,
                        column: String::new(),
                        found: r.found(),
                        expected: r.expected(Some(fields)),
                    });
                    continue;
                }
            };
            rows += 1;
            self.read += 1;
            if self.read.is_multiple_of(PROGRESS_EVERY) {
                on_rows(self.read);
            }
            if records.len() != fields {
                rejects.push(Reject {
                    cell: String::new(),
                    action: Action::RowRejected,
                    table: spec.name,
                    file: self.file_name.clone(),
                    line,
                    column: String::new(),
                    found: format!("{} fields", records.len()),
                    expected: format!("{fields} fields, as in the header"),
                });
                continue;
            }
            // Check UTF-8 of the wanted fields first, so a bad row adds nothing to any column.
            let mut bad = None;
            for (c, idx) in &self.wanted {
                if std::str::from_utf8(records.field(*idx)).is_err() {
                    bad = Some((c.name, excerpt_bytes(records.field(*idx))));
                    break;
                }
            }
            if let Some((column, found)) = bad {
                rejects.push(Reject {
                    cell: String::new(),
                    action: Action::RowRejected,
                    table: spec.name,
                    file: self.file_name.clone(),
                    line,
                    column: column.to_string(),
                    found,
                    expected: format!("{} text", self.encoding.name()),
                });
                continue;
            }
            for (b, (_, idx)) in builders.iter_mut().zip(&self.wanted) {
                let v = std::str::from_utf8(records.field(*idx)).expect("checked above");
                b.append_option(if v.is_empty() { None } else { Some(v) });
            }
            lines.push(line);
        }
        on_rows(self.read);

        let mut columns: Vec<Column> = builders
            .into_iter()
            .map(|b| b.finish().into_series().into_column())
            .collect();
        columns.push(Column::new(PlSmallStr::from_static(col::LINE), lines));
        let df = DataFrame::new_infer_height(columns).map_err(|e| Error::Polars {
            context: format!("{}: building the table", path.display()),
            source: e,
        })?;
        Ok(RawFrame {
            df,
            read: rows as u64,
            rejects,
            extra_columns: self.extra.clone(),
            cells: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::REPORT_PRODUCTS;

    /// Batches of any size give the same rows, lines, rejects and count as one whole read.
    #[test]
    fn batches_add_up_to_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report_products.csv");
        let text = "report_id,product_id,role,batch\n\
                    R1,P1,suspect,B1\n\
                    R1,P2\n\
                    \n\
                    R2,\"P\n3\",concomitant,\n\
                    R3,P4,interacting,B4\n\
                    R4,P5,suspect,B5,extra\n\
                    R5,P6,,\n";
        std::fs::write(&path, text).unwrap();
        let whole = read_csv(&path, &REPORT_PRODUCTS, &|_| {}).unwrap();
        assert_eq!(whole.read, 6, "six records; the blank line is not a row");
        assert_eq!(
            whole.df.height(),
            4,
            "two rows refused for their field count"
        );
        let lines = |df: &DataFrame| -> Vec<i64> {
            df.column(col::LINE)
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        assert_eq!(lines(&whole.df), vec![2, 5, 7, 9]);
        let reject_lines: Vec<i64> = whole.rejects.iter().map(|r| r.line).collect();
        assert_eq!(reject_lines, vec![3, 8]);

        for size in [1, 2, 4, 100] {
            let mut b = CsvBatches::open(&path, &REPORT_PRODUCTS).unwrap();
            let (mut read, mut all_lines, mut rejects, mut products) =
                (0, Vec::new(), Vec::new(), Vec::new());
            let mut batches = 0;
            while !b.is_done() {
                let raw = b.next_batch(size, &|_| {}).unwrap();
                assert!(
                    raw.read as usize <= size,
                    "a batch holds at most {size} rows"
                );
                read += raw.read;
                all_lines.extend(lines(&raw.df));
                rejects.extend(raw.rejects.iter().map(|r| r.line));
                products.extend(
                    raw.df
                        .column(col::PRODUCT_ID)
                        .unwrap()
                        .str()
                        .unwrap()
                        .iter()
                        .map(|v| v.map(str::to_string)),
                );
                batches += 1;
            }
            assert_eq!(read, whole.read, "batch size {size}");
            assert_eq!(all_lines, lines(&whole.df), "batch size {size}");
            assert_eq!(rejects, reject_lines, "batch size {size}");
            let expected: Vec<Option<String>> = ["P1", "P\n3", "P4", "P6"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect();
            assert_eq!(products, expected, "batch size {size}");
            assert!(batches >= 6usize.div_ceil(size), "batch size {size}");
        }
    }
}
