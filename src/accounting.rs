//! Row accounting, shared by `ingest` and `convert`: what became of each bad row or cell
//! ([`Reject`], [`Action`], written to `rejects.csv`), each input file's row counts
//! ([`TableAccount`], in the manifest), and the rejected-row tolerance. Plain types, so
//! that both stages use them without importing each other (`convert`'s rejects name their
//! source files).

use std::path::PathBuf;

use crate::error::{Error, Result, TooManyRejects};

/// What became of a row with a bad value: a row whose key or a required value is unusable
/// is rejected; a bad value in an optional column is nulled and the row kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    #[serde(rename = "row rejected")]
    RowRejected,
    #[serde(rename = "cell nulled")]
    CellNulled,
}

impl Action {
    /// The `action` column of `rejects.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RowRejected => "row rejected",
            Action::CellNulled => "cell nulled",
        }
    }
}

/// One bad cell (or a bad row, with an empty `column`) of an input table, and what became
/// of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reject {
    pub table: &'static str,
    pub file: String,
    /// CSV: the line the record starts on (header = 1). Parquet: the 1-based row.
    /// Spreadsheet: Excel's row number.
    pub line: i64,
    pub column: String,
    pub found: String,
    pub expected: String,
    pub action: Action,
    /// Spreadsheet inputs: the cell as Excel names it (`Sheet1!C17`), or the row's first
    /// cell (`Sheet1!A17`) for a reject of the whole row; empty for other files.
    pub cell: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cell.is_empty() {
            write!(f, "{}: line {}", self.file, self.line)?;
        } else {
            write!(f, "{}: {}", self.file, self.cell)?;
        }
        if !self.column.is_empty() {
            write!(f, ", column `{}`", self.column)?;
        }
        write!(f, ": expected {}, found `{}`", self.expected, self.found)?;
        if self.action == Action::CellNulled {
            write!(f, " (cell nulled, row kept)")?;
        }
        Ok(())
    }
}

/// How many characters of a value an error or a reject quotes: a 50 MB header or a
/// 1 MiB field is not echoed whole.
pub const EXCERPT_CHARS: usize = 200;

/// A value as errors and rejects quote it: at most [`EXCERPT_CHARS`] characters (then
/// `…`), with control characters (and the invisible ones that reorder or hide text)
/// escaped, so that a value cannot break a terminal, a log line or a CSV viewer:
/// `\t`, `\r`, `\n`, and `\u{0}`, `\u{1b}`… for the others.
pub fn excerpt(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(EXCERPT_CHARS * 4));
    for (n, c) in value.chars().enumerate() {
        if n == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() || is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// [`excerpt`] of raw bytes (not UTF-8 shown as `\u{fffd}`), reading no more of them than
/// an excerpt needs.
pub fn excerpt_bytes(value: &[u8]) -> String {
    // Four bytes per character at most, plus one character to know that there is more.
    let head = &value[..value.len().min(EXCERPT_CHARS * 4 + 4)];
    let mut text = excerpt(&String::from_utf8_lossy(head));
    if head.len() < value.len() && !text.ends_with('…') {
        text.push('…');
    }
    text
}

/// Characters that show nothing yet change how the text around them reads (zero-width,
/// bidirectional overrides, a byte-order mark inside a value).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Row accounting and provenance of one input file, as written to the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableAccount {
    pub table: &'static str,
    pub path: String,
    pub format: &'static str,
    pub size_bytes: u64,
    pub sha256: String,
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    /// Of `superseded`: rows of report versions received after the run's cut-off, which do
    /// not exist for the run (and the product and event rows of those versions).
    pub after_cutoff: u64,
    pub rejected: u64,
    /// Bad optional values nulled in rows that were kept, by column.
    pub nulled_cells: std::collections::BTreeMap<String, u64>,
    pub extra_columns: Vec<String>,
}

/// Nulled cells by column.
pub(crate) fn nulled_cells(rejects: &[Reject]) -> std::collections::BTreeMap<String, u64> {
    let mut by_column = std::collections::BTreeMap::new();
    for r in rejects.iter().filter(|r| r.action == Action::CellNulled) {
        *by_column.entry(r.column.clone()).or_default() += 1;
    }
    by_column
}

/// Stop the run (exit 3) when any table's rejected fraction is above the tolerance.
pub(crate) fn check_tolerance(
    accounts: &[TableAccount],
    rejects: &[Reject],
    max: f64,
) -> Result<()> {
    let files = accounts
        .iter()
        .map(|a| (a.path.as_str(), a.rejected, a.read));
    match over_tolerance(max, files, rejects) {
        Some(t) => Err(Error::TooManyRejects(t)),
        None => Ok(()),
    }
}

/// The files, given as (path, rejected, read), whose rejected fraction is above `max`,
/// with up to five of each one's rejects as examples; `None` when no file is over. Shared
/// by ingest and by `convert`, whose rejects name their source files.
pub(crate) fn over_tolerance<'a>(
    max: f64,
    files: impl IntoIterator<Item = (&'a str, u64, u64)>,
    rejects: &[Reject],
) -> Option<TooManyRejects> {
    const EXAMPLES: usize = 5;
    let over: Vec<(&str, u64, u64)> = files
        .into_iter()
        .filter(|&(_, rejected, read)| read > 0 && (rejected as f64 / read as f64) > max)
        .collect();
    if over.is_empty() {
        return None;
    }
    let examples = over
        .iter()
        .flat_map(|&(path, _, _)| {
            rejects
                .iter()
                .filter(move |r| r.file == path && r.action == Action::RowRejected)
                .take(EXAMPLES)
        })
        .map(Reject::to_string)
        .collect();
    Some(TooManyRejects {
        max_fraction: max,
        tables: over
            .iter()
            .map(|&(path, rejected, read)| (PathBuf::from(path), rejected, read))
            .collect(),
        examples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_short_and_escapes_control_characters() {
        assert_eq!(excerpt("R1"), "R1");
        assert_eq!(
            excerpt("a\u{0}b\tc\rd\ne\u{1b}[31m"),
            "a\\u{0}b\\tc\\rd\\ne\\u{1b}[31m"
        );
        assert_eq!(excerpt("x\u{202e}y"), "x\\u{202e}y");
        let long = "名".repeat(EXCERPT_CHARS + 1);
        let e = excerpt(&long);
        assert_eq!(
            e.chars().count(),
            EXCERPT_CHARS + 1,
            "200 characters and `…`"
        );
        assert!(e.ends_with("名…"));
        assert_eq!(
            excerpt(&"名".repeat(EXCERPT_CHARS)),
            "名".repeat(EXCERPT_CHARS)
        );
        // Bytes: a 50 MB header is cut before it is decoded.
        let header = ",".repeat(50 << 20);
        assert_eq!(
            excerpt_bytes(header.as_bytes()),
            format!("{}…", ",".repeat(EXCERPT_CHARS))
        );
        assert_eq!(excerpt_bytes(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(
            excerpt_bytes(&[b'x'; 900]),
            format!("{}…", "x".repeat(EXCERPT_CHARS))
        );
    }

    #[test]
    fn tolerance_names_each_table_over_it() {
        let acc = |table, read, rejected| TableAccount {
            table,
            path: format!("{table}.csv"),
            format: "csv",
            size_bytes: 0,
            sha256: String::new(),
            read,
            used: read - rejected,
            superseded: 0,
            after_cutoff: 0,
            rejected,
            nulled_cells: Default::default(),
            extra_columns: vec![],
        };
        let accounts = [acc("reports", 100, 1), acc("products", 10, 1)];
        assert!(
            check_tolerance(&accounts, &[], 0.1).is_ok(),
            "10% is not above 10%"
        );
        let err = check_tolerance(&accounts, &[], 0.05).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_REJECTS);
        assert_eq!(
            err.to_string(),
            "products.csv: 1 of 10 rows rejected (10.00%), above ingest.max_rejected_fraction = 0.05; nothing was written"
        );
    }
}
