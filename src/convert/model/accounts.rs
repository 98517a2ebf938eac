//! Row accounting of a conversion: its source files and the fate of each row read.
//!
//! Convert stage, part of the model. A reader registers each file (its size and sha256
//! go to the manifest's [`SourceAccount`]), counts the rows it reads, and says of each
//! row that it was accepted for a report, rejected (a `row rejected` line in
//! `rejects.csv`) or dropped as a duplicate; a bad optional value of a kept row is a
//! `cell nulled` line. Invariant, per file: `read = used + superseded + duplicate +
//! rejected`, where [`Builder::finish`] splits the accepted rows into used and superseded.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Builder, SourceAccount};
use crate::accounting::{Action, Reject};
use crate::error::Result;
use crate::files::sha256_file;

impl Builder {
    /// Register a source file (its size and sha256 are taken now); returns its number.
    pub fn add_file(&mut self, path: &Path, kind: &'static str) -> Result<u32> {
        let (size_bytes, sha256) = sha256_file(path)?;
        self.files.push(SourceAccount {
            path: path.display().to_string(),
            kind,
            size_bytes,
            sha256,
            read: 0,
            used: 0,
            superseded: 0,
            duplicate: 0,
            rejected: 0,
            nulled_cells: BTreeMap::new(),
            malformed: None,
            encoding: None,
            sheet: None,
            personal_columns_dropped: Vec::new(),
        });
        Ok(self.files.len() as u32 - 1)
    }

    pub fn path(&self, file: u32) -> &str {
        &self.files[file as usize].path
    }

    /// Count rows read from a file.
    pub fn read(&mut self, file: u32, n: u64) {
        self.files[file as usize].read += n;
    }

    /// Reject a row that was read: one row in the count, one line in `rejects.csv`.
    pub fn reject(
        &mut self,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.files[file as usize].rejected += 1;
        self.record(Action::RowRejected, file, line, column, found, expected);
    }

    /// Null a bad optional value of a row that is kept: one line in `rejects.csv`
    /// (`cell nulled`), no rejected row.
    pub fn null_cell(
        &mut self,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.record(Action::CellNulled, file, line, column, found, expected);
    }

    fn record(
        &mut self,
        action: Action,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        let cell = self.cell_of(file, line, column);
        let f = &self.files[file as usize];
        self.rejects.push(Reject {
            cell,
            action,
            table: f.kind,
            file: f.path.clone(),
            line: line as i64,
            column: column.to_string(),
            found: crate::accounting::excerpt(&found.into()),
            expected: expected.into(),
        });
    }

    /// The file is not well-formed (`where_and_why`: line, column, fault): the manifest says
    /// so beside its accounting.
    pub fn malformed(&mut self, file: u32, where_and_why: String) {
        self.files[file as usize].malformed = Some(where_and_why);
    }

    /// A row read again unchanged (an E2B retransmission): counted, dropped, no reject.
    pub fn duplicate(&mut self, file: u32) {
        self.files[file as usize].duplicate += 1;
    }

    /// The source row on `line` of `file` was accepted as part of `report`.
    pub fn accept_row(&mut self, file: u32, report: u32, line: u64) {
        self.rows.push((file, report, line));
    }
}
