//! Spreadsheet inputs (`.xlsx`, `.xlsm`, `.xls`), read with calamine into rows of text, as
//! a CSV file's rows are, for ingest (every canonical table) and for flat exports.
//!
//! - The sheet is the one named (`sheet = "报告"` on the input) or the workbook's first.
//!   A sheet that does not exist is an error naming the file and the sheets it holds.
//! - The first non-empty row of the sheet is the header; rows are numbered as Excel shows
//!   them (its row numbers, 1-based), and a cell is named as Excel names it: `Sheet1!C17`
//!   ([`cell_ref`]), quoted when the sheet's name needs it (`'My sheet'!C17`).
//! - Cell values become text ([`cell`]): numbers without a trailing `.0` when whole,
//!   booleans `true`/`false`, an Excel date `YYYY-MM-DD` (the time of day dropped), an
//!   error cell its code (`#N/A`), which no column accepts. In a date column, a plain
//!   number is an Excel serial date (or `YYYYMMDD` written as a number, as Chinese exports
//!   do), and text in the styles `2025-03-05`, `2025/3/5` and `2025年3月5日` is read as that
//!   date; anything else stays as found, for the column's check to refuse.
//! - An encrypted (password-protected) or corrupt workbook is an error naming the file.
//!
//! Memory: calamine reads a whole sheet, so a sheet costs about its cells' text; a
//! worksheet holds at most 1,048,576 rows, which bounds it.

mod cell;

use std::path::Path;

use calamine::{open_workbook_auto, Data, Range, Reader};

pub use cell::{cell, cell_ref, column_letters, excel_serial_date, text_date};

use crate::error::{Error, Result};

/// Whether a file is read as a spreadsheet (by its extension).
pub fn is_spreadsheet(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["xlsx", "xlsm", "xls"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// One row of a sheet, below its header.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    /// Excel's row number (1-based).
    pub row: u32,
    /// One value per header column, as text; `None` for an empty cell.
    pub cells: Vec<Option<String>>,
}

/// A sheet read as a table of text.
#[derive(Debug, Clone)]
pub struct SheetTable {
    /// The sheet's name, as Excel shows it on its tab.
    pub sheet: String,
    /// Excel's row number of the header.
    pub header_row: u32,
    /// Excel's column index (0-based) of the first header column.
    pub first_column: u32,
    /// The header names, trimmed.
    pub names: Vec<String>,
    /// Rows below the header; fully empty rows are left out.
    pub rows: Vec<SheetRow>,
}

impl SheetTable {
    /// The cell reference of header column `i` on Excel row `row`: `Sheet1!C17`.
    pub fn cell_ref(&self, i: usize, row: u32) -> String {
        cell_ref(&self.sheet, self.first_column + i as u32, row)
    }
}

/// Read a sheet (the named one, or the first) of a workbook. `is_date(name)` says which
/// header names hold dates, whose cells are read as dates (see the module above).
pub fn read_sheet(
    path: &Path,
    sheet: Option<&str>,
    is_date: &dyn Fn(&str) -> bool,
) -> Result<SheetTable> {
    let (name, range) = open_range(path, sheet)?;
    let Some((start_row, start_col)) = range.start() else {
        return Err(Error::input(
            path,
            format!("sheet `{name}` is empty: expected a header row"),
        ));
    };
    let mut rows = range.rows();
    let header = rows.next().unwrap_or(&[]);
    let mut names = Vec::with_capacity(header.len());
    for (i, c) in header.iter().enumerate() {
        let n = cell(c, false).unwrap_or_default();
        if !n.is_empty() && names.contains(&n) {
            return Err(Error::input(
                path,
                format!(
                    "{}: duplicate column `{}` in the header",
                    cell_ref(&name, start_col + i as u32, start_row + 1),
                    crate::accounting::excerpt(&n)
                ),
            ));
        }
        names.push(n);
    }
    // Columns past the last named header hold no table values.
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    let dates: Vec<bool> = names.iter().map(|n| is_date(n)).collect();
    let mut out = Vec::new();
    for (k, r) in rows.enumerate() {
        let row = start_row + 2 + k as u32;
        let cells: Vec<Option<String>> = (0..names.len())
            .map(|i| r.get(i).and_then(|c| cell(c, dates[i])))
            .collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        out.push(SheetRow { row, cells });
    }
    Ok(SheetTable {
        sheet: name,
        header_row: start_row + 1,
        first_column: start_col,
        names,
        rows: out,
    })
}

/// Open a workbook and read one sheet's cells.
fn open_range(path: &Path, sheet: Option<&str>) -> Result<(String, Range<Data>)> {
    if let Some(p) = crate::readable::problem(path, crate::readable::Expect::File) {
        return Err(Error::input(path, p));
    }
    let mut book = open_workbook_auto(path).map_err(|e| Error::input(path, book_error(&e)))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                let found: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                Error::input(
                    path,
                    format!(
                        "no sheet named `{s}` (found: {})",
                        crate::accounting::excerpt(&found.join(", "))
                    ),
                )
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| Error::input(path, "the workbook has no sheet"))?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| Error::input(path, format!("sheet `{name}`: {}", book_error(&e))))?;
    Ok((name, range))
}

/// A workbook that cannot be read, in words a user can act on.
fn book_error(e: &calamine::Error) -> String {
    use calamine::{Error as E, XlsError, XlsxError};
    match e {
        E::Xlsx(XlsxError::Password) | E::Xls(XlsError::Password) => {
            "the workbook is encrypted (password-protected): save an unprotected copy to read it"
                .to_string()
        }
        E::Io(io) => format!("cannot read the workbook: {io}"),
        other => format!("not a readable Excel workbook (corrupt, or not the format its extension says): {other}"),
    }
}

#[cfg(test)]
mod tests;
