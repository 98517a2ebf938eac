//! Spreadsheet source (`.xlsx`, `.xlsm`, `.xls`): one sheet of a workbook, read with
//! [`crate::sheets`] into the same text columns as a CSV file's, plus `__line` (Excel's row
//! number). The sheet is the one the input names, or the first; the first non-empty row is
//! the header. A cell in a date column may be an Excel date, a serial number or text in
//! the styles `2025-03-05`, `2025/3/5`, `2025年3月5日`; each becomes `YYYY-MM-DD` before the
//! checks. Rejects name the cell as Excel does (`Sheet1!C17`, [`CellRefs`]).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::RawFrame;
use crate::error::{Error, Result};
use crate::schema::{col, Kind, TableSpec};
use crate::sheets::{self, SheetTable};

/// Where a spreadsheet table's columns are, to name a reject's cell.
#[derive(Debug, Clone)]
pub struct CellRefs {
    sheet: String,
    /// Canonical column → Excel's column index (0-based).
    columns: HashMap<String, u32>,
    /// The table's first column, for a reject of a whole row.
    first_column: u32,
}

impl CellRefs {
    /// `Sheet1!C17` for a column on a row; the row's first cell when the column is not
    /// one of the table's (a whole-row reject, or a key of several columns: its first).
    pub fn cell(&self, column: &str, row: i64) -> String {
        let first = column.split('+').next().unwrap_or("");
        let c = self
            .columns
            .get(first)
            .copied()
            .unwrap_or(self.first_column);
        sheets::cell_ref(&self.sheet, c, u32::try_from(row).unwrap_or(0))
    }
}

/// A sheet read whole, handed out in batches of rows.
pub struct SheetBatches {
    path: std::path::PathBuf,
    table: SheetTable,
    wanted: super::Wanted,
    extra: Vec<String>,
    refs: CellRefs,
    next: usize,
    started: bool,
}

impl SheetBatches {
    /// Read the sheet (`sheet`, or the first) and check its header against the spec.
    pub fn open(
        path: &Path,
        spec: &'static TableSpec,
        sheet: Option<&str>,
    ) -> Result<SheetBatches> {
        let is_date = |name: &str| spec.column(name).is_some_and(|c| c.kind == Kind::Date);
        let table = sheets::read_sheet(path, sheet, &is_date)?;
        if table.names.iter().any(String::is_empty) {
            let i = table.names.iter().position(String::is_empty).unwrap_or(0);
            return Err(Error::input(
                path,
                format!(
                    "{}: empty header cell: every column of the table needs a name",
                    table.cell_ref(i, table.header_row)
                ),
            ));
        }
        let (wanted, extra) = super::match_header(path, spec, &table.names)?;
        let refs = CellRefs {
            sheet: table.sheet.clone(),
            columns: wanted
                .iter()
                .map(|(c, i)| (c.name.to_string(), table.first_column + *i as u32))
                .collect(),
            first_column: table.first_column,
        };
        Ok(SheetBatches {
            path: path.to_path_buf(),
            table,
            wanted,
            extra,
            refs,
            next: 0,
            started: false,
        })
    }

    pub fn extra_columns(&self) -> &[String] {
        &self.extra
    }

    pub fn is_done(&self) -> bool {
        self.started && self.next >= self.table.rows.len()
    }

    /// The next `max_rows` rows as text columns (a sheet has no row refused while reading).
    pub fn next_batch(&mut self, max_rows: usize, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
        self.started = true;
        let end = self
            .table
            .rows
            .len()
            .min(self.next.saturating_add(max_rows));
        let rows = &self.table.rows[self.next..end];
        let mut columns: Vec<Column> = self
            .wanted
            .iter()
            .map(|(c, i)| {
                let values: Vec<Option<&str>> =
                    rows.iter().map(|r| r.cells[*i].as_deref()).collect();
                Column::new(PlSmallStr::from_static(c.name), values)
            })
            .collect();
        let lines: Vec<i64> = rows.iter().map(|r| i64::from(r.row)).collect();
        columns.push(Column::new(PlSmallStr::from_static(col::LINE), lines));
        let df = DataFrame::new(rows.len(), columns).map_err(|e| Error::Polars {
            context: format!("{}: building the table", self.path.display()),
            source: e,
        })?;
        self.next = end;
        on_rows(end as u64);
        Ok(RawFrame {
            df,
            read: rows.len() as u64,
            rejects: Vec::new(),
            extra_columns: self.extra.clone(),
            cells: Some(self.refs.clone()),
        })
    }
}
