//! CSV records (with quoting) over [`Input`]: see the module above.

use std::io::{Read, Seek};

use super::{Input, BUF_BYTES, HEAD_BYTES, MAX_RECORD_BYTES};
use crate::accounting::excerpt_bytes;
use crate::files::LineEnds;

/// What the next record of a file is.
#[derive(Debug)]
pub(crate) enum Next {
    /// A record starting on `line`; its fields are [`CsvRecords::field`].
    Record { line: u64 },
    /// A row refused while reading (one row read, one reject).
    Refused(Refused),
}

/// Why a row was refused while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// One physical line longer than the bound; reading resumed after it.
    TooLong,
    /// A quote opened on the line and never closed: the file ends inside it.
    QuoteToEnd,
    /// A quote opened on the line ran over `lines` physical lines into a record of
    /// `fields` fields.
    QuoteFieldCount { lines: u64, fields: usize },
    /// A quote opened on the line ran past the bound.
    QuoteTooLong,
}

/// A row refused while reading, with the start of its first line to quote.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The physical line (header = 1) of the refused row: where its quote opens.
    pub line: u64,
    pub problem: Problem,
    head: Vec<u8>,
    head_cut: bool,
}

impl Refused {
    /// The start of the refused line, as a reject's `found` (an excerpt).
    pub fn found(&self) -> String {
        let mut text = excerpt_bytes(&self.head);
        if self.head_cut && !text.ends_with('…') {
            text.push('…');
        }
        text
    }

    /// What was expected instead, as a reject's `expected`; `fields` is the header's count.
    pub fn expected(&self, fields: Option<usize>) -> String {
        let mib = MAX_RECORD_BYTES >> 20;
        let next = self.line + 1;
        let quote = "a quote closed on the line where it opens";
        match self.problem {
            Problem::TooLong => {
                format!("a line of at most {mib} MiB (this one is longer; reading resumed at line {next})")
            }
            Problem::QuoteToEnd => format!(
                "{quote} (a quote left open here runs to the end of the file; reading resumed at line {next})"
            ),
            Problem::QuoteFieldCount { lines, fields: found } => {
                let want = fields.map_or(String::new(), |n| format!(", not {n}"));
                format!(
                    "{quote} (a quote left open here runs over {lines} lines into a record of {found} fields{want}; reading resumed at line {next})"
                )
            }
            Problem::QuoteTooLong => format!(
                "{quote} (a quote left open here runs past {mib} MiB; reading resumed at line {next})"
            ),
        }
    }

    /// A one-line description for an error that stops the file (a refused header).
    pub fn message(&self) -> String {
        let what = match self.problem {
            Problem::TooLong => format!("a line of more than {} MiB", MAX_RECORD_BYTES >> 20),
            Problem::QuoteToEnd => "a quote left open runs to the end of the file".to_string(),
            Problem::QuoteFieldCount { lines, .. } => {
                format!("a quote left open runs over {lines} lines")
            }
            Problem::QuoteTooLong => {
                format!("a quote left open runs past {} MiB", MAX_RECORD_BYTES >> 20)
            }
        };
        format!("line {}: {what} (found `{}`)", self.line, self.found())
    }
}

/// Where to resume after a refused record: just past the first line end inside it.
#[derive(Debug, Clone, Copy)]
struct LineEnd {
    offset: u64,
    lines: LineEnds,
}

/// The records of a CSV file (comma-separated, `"` quotes, any line ends), each at most
/// [`MAX_RECORD_BYTES`], with the line each starts on. Fields are trimmed of ASCII
/// whitespace; a UTF-8 byte-order mark at the start of the file is skipped.
pub(crate) struct CsvRecords<R> {
    input: Input<R>,
    core: csv_core::Reader,
    lines: LineEnds,
    max: usize,
    out: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
}

impl<R: Read + Seek> CsvRecords<R> {
    pub(crate) fn new(src: R) -> CsvRecords<R> {
        CsvRecords::with_bounds(src, MAX_RECORD_BYTES, BUF_BYTES)
    }

    /// With another bound and block size, for tests.
    pub(crate) fn with_bounds(src: R, max: usize, block: usize) -> CsvRecords<R> {
        CsvRecords {
            input: Input::new(src, block),
            core: csv_core::Reader::new(),
            lines: LineEnds::new(),
            max,
            out: vec![0; 4096.min(max)],
            ends: vec![0; 64],
            fields: 0,
        }
    }

    /// The field bytes and field ends held for one record (each bounded).
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        (self.out.len(), self.ends.len())
    }

    /// The number of fields of the current record.
    pub(crate) fn len(&self) -> usize {
        self.fields
    }

    /// A field of the current record, trimmed.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out[start..self.ends[i]].trim_ascii()
    }

    /// Whether the current record is a blank line (one empty field), which is not a row.
    pub(crate) fn is_blank(&self) -> bool {
        self.fields == 1 && self.field(0).is_empty()
    }

    /// The next record; `None` at the end of the file. `fields` is the header's count
    /// (`None` for the header itself): a record that spans several lines with another
    /// count is a quote left open.
    pub(crate) fn next(&mut self, fields: Option<usize>) -> std::io::Result<Option<Next>> {
        if !self.input.skip_blank_lines(&mut self.lines)? {
            return Ok(None);
        }
        let line = self.lines.line();
        let start = self.input.offset();
        let mut first_end: Option<LineEnd> = None;
        let mut consumed = 0usize;
        let mut nout = 0usize;
        self.fields = 0;
        let mut probed = false;
        // Past a line break of its own, the record is no longer on its first line.
        self.lines.text();
        loop {
            self.input.fill()?;
            let input = self.input.rest();
            // At the end of the file, was the record inside quotes? A line break decides:
            // inside quotes it is copied as field text; outside, it ends the record as the
            // end of the file would. (`csv_core::Reader::clone` does not keep its state.)
            let probing = input.is_empty() && !probed;
            let input: &[u8] = if probing { b"\n" } else { input };
            probed |= probing;
            if !input.is_empty() && nout == self.out.len() {
                if self.out.len() >= self.max {
                    return self.refuse_too_long(start, line, first_end);
                }
                let n = (self.out.len() * 2).min(self.max);
                self.out.resize(n, 0);
            }
            if self.fields == self.ends.len() {
                if self.ends.len() > self.max {
                    return self.refuse_too_long(start, line, first_end);
                }
                let n = (self.ends.len() * 2).min(self.max + 1);
                self.ends.resize(n, 0);
            }
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[nout..], &mut self.ends[self.fields..]);
            if probing {
                if res != csv_core::ReadRecordResult::Record && o > 0 {
                    return self.refuse(start, line, Problem::QuoteToEnd, first_end);
                }
                self.fields += e;
                if res == csv_core::ReadRecordResult::Record {
                    let spans = self.lines.line() - line + 1;
                    return self.end_record(start, line, spans, fields, first_end);
                }
                continue;
            }
            // Count the lines consumed, noting where the record's first line ends.
            let chunk = &input[..nin];
            let mut rest: &[u8] = &[];
            if first_end.is_none() {
                if let Some(i) = chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
                    self.lines.feed(chunk[i]);
                    first_end = Some(LineEnd {
                        offset: self.input.offset() + i as u64 + 1,
                        lines: self.lines,
                    });
                    rest = &chunk[i + 1..];
                }
            } else {
                rest = chunk;
            }
            self.lines.feed_all(rest);
            let ended_by_line_end = chunk.last().is_some_and(|b| *b == b'\n' || *b == b'\r');
            self.input.pos += nin;
            consumed += nin;
            nout += o;
            self.fields += e;
            match res {
                csv_core::ReadRecordResult::Record => {
                    let spans = self.lines.line() - line + 1 - u64::from(ended_by_line_end);
                    if consumed > self.max {
                        let first = first_end.filter(|_| spans > 1);
                        return self.refuse_too_long(start, line, first);
                    }
                    return self.end_record(start, line, spans, fields, first_end);
                }
                csv_core::ReadRecordResult::End => return Ok(None),
                _ if consumed > self.max => {
                    return self.refuse_too_long(start, line, first_end);
                }
                _ => {}
            }
        }
    }

    /// A record that ended after `spans` physical lines: a row, unless it spans several
    /// with another field count than the header's (a quote left open).
    fn end_record(
        &mut self,
        start: u64,
        line: u64,
        spans: u64,
        fields: Option<usize>,
        first_end: Option<LineEnd>,
    ) -> std::io::Result<Option<Next>> {
        if spans > 1 && fields.is_some_and(|n| n != self.fields) {
            let problem = Problem::QuoteFieldCount {
                lines: spans,
                fields: self.fields,
            };
            return self.refuse(start, line, problem, first_end);
        }
        Ok(Some(Next::Record { line }))
    }

    /// A record past the bound: a quote left open when it spans lines (resume at its second
    /// line), else one long line (skip to its end, unless the record already ended).
    fn refuse_too_long(
        &mut self,
        start: u64,
        line: u64,
        first_end: Option<LineEnd>,
    ) -> std::io::Result<Option<Next>> {
        if first_end.is_some() {
            return self.refuse(start, line, Problem::QuoteTooLong, first_end);
        }
        if self.lines.line() == line {
            self.input.skip_line(&mut self.lines)?;
        }
        self.refuse(start, line, Problem::TooLong, None)
    }

    /// Refuse the record that starts at `start` on `line`, and resume reading after its
    /// first line (`first_end`; `None` when reading is already past that line).
    fn refuse(
        &mut self,
        start: u64,
        line: u64,
        problem: Problem,
        first_end: Option<LineEnd>,
    ) -> std::io::Result<Option<Next>> {
        let (head, head_cut) = self.input.line_at(start, HEAD_BYTES)?;
        if let Some(end) = first_end {
            self.input.rewind(end.offset)?;
            self.lines = end.lines;
        }
        self.core.reset();
        self.fields = 0;
        Ok(Some(Next::Refused(Refused {
            line,
            problem,
            head,
            head_cut,
        })))
    }
}
