//! A reader of FAERS `$`-delimited ASCII files: a header row, then one row per line.
//!
//! FAERS has no quoting, so a line is split on every `$`. Lines may end in CRLF, LF or a
//! lone CR (each one line, numbered as an editor does), and in some quarters every line (or only the header) ends with a `$` too: a trailing empty
//! field is dropped from the header, and a row may carry one trailing empty field more
//! than the header. A row with any other number of fields is rejected with its line (a
//! wrapped row, say); so is a last line cut short before its end (a truncated file). Blank
//! lines are skipped. A line longer than [`MAX_RECORD_BYTES`] is one rejected row naming
//! its line (only its first bytes are held), and reading goes on at the next line. Fields
//! are trimmed; text that is not UTF-8 is read as Latin-1, as older quarters hold a few
//! such bytes.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::model::Builder;
use crate::accounting::{excerpt, excerpt_bytes};
use crate::error::{Error, Result};
use crate::records::{Line, Lines, MAX_RECORD_BYTES};

pub struct DollarFile {
    path: PathBuf,
    pub file: u32,
    lines: Lines<File>,
    buf: Vec<u8>,
    /// The current line as read: complete (not cut short by the end of the file) and
    /// not longer than the bound.
    current: Line,
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
            lines: Lines::new(f),
            buf: Vec::with_capacity(4096),
            current: Line {
                number: 0,
                complete: true,
                too_long: false,
            },
            line: 0,
            names: Vec::new(),
            ranges: Vec::new(),
            short_row_keys: Vec::new(),
        };
        if !d.read_line()? {
            return Err(Error::input(path, "empty file: expected a header row"));
        }
        if d.current.too_long {
            return Err(Error::input(
                path,
                format!(
                    "line {}: a header line of more than {} MiB; this is not a FAERS file (found `{}`)",
                    d.line,
                    MAX_RECORD_BYTES >> 20,
                    excerpt_bytes(&d.buf)
                ),
            ));
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
                    excerpt(&found.join(", "))
                ),
            )
        })
    }

    /// Read one line into `buf` without its line break (at most the bound); `false` at
    /// the end.
    fn read_line(&mut self) -> Result<bool> {
        match self
            .lines
            .next_line(&mut self.buf)
            .map_err(|e| Error::io(&self.path, e))?
        {
            Some(line) => {
                self.current = line;
                self.line = line.number;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn split(&mut self) {
        let end = self.buf.len();
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
            let complete = self.current.complete;
            if self.current.too_long {
                b.read(self.file, 1);
                let expected = format!(
                    "a line of at most {} MiB (this one is longer; reading resumed at line {})",
                    MAX_RECORD_BYTES >> 20,
                    self.line + 1
                );
                let found = format!("{}…", excerpt_bytes(&self.buf).trim_end_matches('…'));
                b.reject(self.file, self.line, "", found, expected);
                // Only the key is wanted: not a million ranges for a line of `$`.
                let key_end = self.buf.iter().position(|c| *c == b'$');
                self.ranges.clear();
                self.ranges.push((0, key_end.unwrap_or(self.buf.len())));
                self.short_row_keys.push(self.text(0).into_owned());
                continue;
            }
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
