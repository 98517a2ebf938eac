//! A reader of FAERS `$`-delimited ASCII files: a header row, then one row per line.
//!
//! FAERS has no quoting, so a line is split on every `$`. Lines may end in CRLF, and in
//! some quarters every line (or only the header) ends with a `$` too: a trailing empty
//! field is dropped from the header, and a row may carry one trailing empty field more
//! than the header. A row with any other number of fields is rejected with its line (a
//! wrapped row, say); so is a last line cut short before its end (a truncated file). Blank
//! lines are skipped. Fields are trimmed; text that is not UTF-8 is read as Latin-1, as
//! older quarters hold a few such bytes.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::model::Builder;
use crate::error::{Error, Result};

/// A longer line is refused: no FAERS row is anywhere near it, and it bounds memory.
const MAX_LINE_BYTES: usize = 1 << 20;

pub struct DollarFile {
    path: PathBuf,
    pub file: u32,
    reader: BufReader<File>,
    buf: Vec<u8>,
    /// The 1-based line of the current row (header = 1).
    pub line: u64,
    names: Vec<String>,
    ranges: Vec<(usize, usize)>,
    /// First fields of the rows rejected for their field count (FAERS keys come first),
    /// to explain the rejects they cause in other files.
    pub short_row_keys: Vec<String>,
}

impl DollarFile {
    /// Open a file, register it with the builder and read its header.
    pub fn open(b: &mut Builder, path: &Path, kind: &'static str) -> Result<DollarFile> {
        let file = b.add_file(path, kind)?;
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut d = DollarFile {
            path: path.to_path_buf(),
            file,
            reader: BufReader::with_capacity(1 << 20, f),
            buf: Vec::with_capacity(4096),
            line: 0,
            names: Vec::new(),
            ranges: Vec::new(),
            short_row_keys: Vec::new(),
        };
        if !d.read_line()? {
            return Err(Error::input(path, "empty file: expected a header row"));
        }
        d.split();
        let mut names: Vec<String> = (0..d.ranges.len())
            .map(|i| d.text(i).to_ascii_lowercase())
            .collect();
        if let Some(first) = names.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_string();
        }
        if names.len() > 1 && names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
        }
        d.names = names;
        Ok(d)
    }

    /// The position of the first of `aliases` in the header (names are lower-cased).
    pub fn column(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|a| self.names.iter().position(|n| n == a))
    }

    /// Like [`column`](Self::column), but a missing column is an error naming the file.
    pub fn require(&self, aliases: &[&str]) -> Result<usize> {
        self.column(aliases).ok_or_else(|| {
            let found: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
            let legacy = if self.column(&["isr"]).is_some() && aliases[0] != "isr" {
                " (a legacy LAERS file with ISR and CASE?)"
            } else {
                ""
            };
            Error::input(
                &self.path,
                format!(
                    "missing required column `{}`{legacy} (found: {})",
                    aliases[0],
                    found.join(", ")
                ),
            )
        })
    }

    /// Read one raw line into `buf` without its line break; `false` at the end.
    fn read_line(&mut self) -> Result<bool> {
        self.buf.clear();
        let n = std::io::Read::take(&mut self.reader, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(Error::input(
                &self.path,
                format!(
                    "line {}: a line of more than {} MiB; this is not a FAERS file",
                    self.line,
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        Ok(true)
    }

    fn split(&mut self) {
        let mut end = self.buf.len();
        if self.buf[..end].ends_with(b"\n") {
            end -= 1;
        }
        if self.buf[..end].ends_with(b"\r") {
            end -= 1;
        }
        self.ranges.clear();
        let mut start = 0;
        for (i, byte) in self.buf[..end].iter().enumerate() {
            if *byte == b'$' {
                self.ranges.push((start, i));
                start = i + 1;
            }
        }
        self.ranges.push((start, end));
    }

    /// Advance to the next row with the right number of fields, rejecting the others.
    /// `false` at the end of the file.
    pub fn next_row(&mut self, b: &mut Builder) -> Result<bool> {
        loop {
            if !self.read_line()? {
                return Ok(false);
            }
            let complete = self.buf.ends_with(b"\n");
            self.split();
            let k = self.ranges.len();
            if k == 1 && self.field(0).is_empty() {
                continue; // a blank line
            }
            b.read(self.file, 1);
            let n = self.names.len();
            if k == n || (k == n + 1 && self.field(n).is_empty()) {
                return Ok(true);
            }
            let expected = format!("{n} fields, as in the header");
            let found = if !complete && k < n {
                format!("{k} fields on a truncated last line (the file ends inside the row)")
            } else {
                format!("{k} fields")
            };
            b.reject(self.file, self.line, "", found, expected);
            self.short_row_keys.push(self.text(0).into_owned());
        }
    }

    /// A field of the current row, trimmed.
    pub fn field(&self, i: usize) -> &[u8] {
        let (s, e) = self.ranges[i];
        self.buf[s..e].trim_ascii()
    }

    /// A field as text (Latin-1 when it is not UTF-8); empty when the column is absent.
    pub fn text(&self, i: usize) -> Cow<'_, str> {
        let bytes = self.field(i);
        match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(bytes.iter().map(|b| *b as char).collect()),
        }
    }

    /// The text of an optional column.
    pub fn get(&self, column: Option<usize>) -> Cow<'_, str> {
        column.map_or(Cow::Borrowed(""), |i| self.text(i))
    }
}
