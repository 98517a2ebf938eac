//! Bounded reading of CSV-like files, shared by `ingest` (the canonical CSV tables) and
//! `convert` (flat exports, FAERS `$` files): every physical line is accounted for, and one
//! bad line costs a bounded amount of memory.
//!
//! Why not the `csv` crate's `Reader`: its `ByteRecord` grows without bound on a long line
//! (a 100 MB line of commas peaked at 1.8 GB), and a quote left open swallows every row
//! after it into one field. [`CsvRecords`] drives `csv_core` (the `csv` crate's own
//! parser) over its own buffer, so that it can:
//!
//! - stop a record at [`MAX_RECORD_BYTES`]: a single line that long is one refused row
//!   naming its line, skipped to its end;
//! - see a quote left open where it opens: a record that spans several physical lines and
//!   then has the wrong number of fields, runs past the bound, or reaches the end of the
//!   file inside quotes, is refused as its FIRST physical line, and reading resumes at the
//!   next line, so the rows after a stray `"` are read as rows. A quoted field with an
//!   embedded line break and the right number of fields stays one row;
//! - number lines as an editor does ([`LineEnds`]: `\r\n`, `\n` and a lone `\r`).
//!
//! [`Lines`] does the same for files without quoting (FAERS): physical lines, each at
//! most [`MAX_RECORD_BYTES`] long.
//!
//! Invariant: every physical line belongs to exactly one record (the header, a row, or a
//! row of several lines with the header's field count), one refused row, or is blank; so
//! a file without quoted line breaks has `rows read + header + blank lines = physical
//! lines`. Two stray quotes on different lines whose record happens to have the header's
//! field count read as one quoted field with line breaks: no reader can tell them apart.

use std::io::{ErrorKind, Read, Seek, SeekFrom};

use crate::accounting::excerpt_bytes;
use crate::files::LineEnds;

/// A record (or a line) longer than this is refused: it is a quote left open or not a
/// table at all, and it bounds the memory one row may take.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The input buffer, read from the file in blocks this large.
const BUF_BYTES: usize = 1 << 20;

/// Raw bytes of a refused record's first line kept to quote it (an excerpt needs fewer).
const HEAD_BYTES: usize = 1024;

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

/// A byte source read in blocks, with the file offset of each byte.
struct Input<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl<R: Read + Seek> Input<R> {
    fn new(src: R) -> Input<R> {
        Input {
            src,
            buf: vec![0; BUF_BYTES],
            pos: 0,
            filled: 0,
            base: 0,
            eof: false,
        }
    }

    /// Make sure some bytes are buffered, unless the file has ended; `false` at the end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos < self.filled {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.base += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        loop {
            match self.src.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.filled = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// Continue reading at a file offset (after a refused record: usually still buffered).
    fn rewind(&mut self, offset: u64) -> std::io::Result<()> {
        let end = self.base + self.filled as u64;
        if offset >= self.base && offset <= end {
            self.pos = (offset - self.base) as usize;
            return Ok(());
        }
        self.src.seek(SeekFrom::Start(offset))?;
        self.base = offset;
        self.pos = 0;
        self.filled = 0;
        self.eof = false;
        Ok(())
    }

    /// The first physical line starting at `offset`, up to `max` bytes, and whether it goes
    /// on past them; the reading position is kept.
    fn line_at(&mut self, offset: u64, max: usize) -> std::io::Result<(Vec<u8>, bool)> {
        let resume = self.base + self.filled as u64;
        self.src.seek(SeekFrom::Start(offset))?;
        let mut head = Vec::with_capacity(max);
        (&mut self.src).take(max as u64).read_to_end(&mut head)?;
        self.src.seek(SeekFrom::Start(resume))?;
        match head.iter().position(|b| *b == b'\n' || *b == b'\r') {
            Some(i) => {
                head.truncate(i);
                Ok((head, false))
            }
            None => {
                let cut = head.len() == max;
                Ok((head, cut))
            }
        }
    }

    /// Skip to just past the end of the current physical line.
    fn skip_line(&mut self, lines: &mut LineEnds) -> std::io::Result<()> {
        while self.fill()? {
            let rest = self.rest();
            if let Some(i) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                lines.feed(rest[i]);
                self.pos += i + 1;
                return Ok(());
            }
            self.pos = self.filled;
        }
        Ok(())
    }

    /// Skip line ends (blank lines), counting them; `false` at the end of the file.
    fn skip_blank_lines(&mut self, lines: &mut LineEnds) -> std::io::Result<bool> {
        while self.fill()? {
            let b = self.buf[self.pos];
            if b != b'\n' && b != b'\r' {
                return Ok(true);
            }
            lines.feed(b);
            self.pos += 1;
        }
        Ok(false)
    }
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
        CsvRecords::with_max(src, MAX_RECORD_BYTES)
    }

    /// With another bound, for tests.
    pub(crate) fn with_max(src: R, max: usize) -> CsvRecords<R> {
        CsvRecords {
            input: Input::new(src),
            core: csv_core::Reader::new(),
            lines: LineEnds::new(),
            max,
            out: vec![0; 4096.min(max)],
            ends: vec![0; 64],
            fields: 0,
        }
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

/// One physical line read by [`Lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// 1-based.
    pub number: u64,
    /// Ended by a line break (not cut short by the end of the file).
    pub complete: bool,
    /// Longer than the bound: the buffer holds only its first bytes.
    pub too_long: bool,
}

/// The physical lines of a file without quoting (FAERS `$` files): `\r\n`, `\n` and a lone
/// `\r` each end a line; each line is held up to [`MAX_RECORD_BYTES`], the rest of a longer
/// one skipped.
pub(crate) struct Lines<R> {
    input: Input<R>,
    lines: LineEnds,
    max: usize,
}

impl<R: Read + Seek> Lines<R> {
    pub(crate) fn new(src: R) -> Lines<R> {
        Lines::with_max(src, MAX_RECORD_BYTES)
    }

    /// With another bound, for tests.
    pub(crate) fn with_max(src: R, max: usize) -> Lines<R> {
        Lines {
            input: Input::new(src),
            lines: LineEnds::new(),
            max,
        }
    }

    /// The next line into `buf` (without its line break; at most the bound); `None` at the
    /// end of the file. A blank line is returned, empty.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<Line>> {
        buf.clear();
        // The LF of a CRLF whose CR ended the previous line.
        if self.input.fill()? && self.input.rest()[0] == b'\n' && {
            let mut probe = self.lines;
            !probe.feed(b'\n')
        } {
            self.lines.feed(b'\n');
            self.input.pos += 1;
        }
        if !self.input.fill()? {
            return Ok(None);
        }
        let number = self.lines.line();
        let mut too_long = false;
        while self.input.fill()? {
            let rest = self.input.rest();
            let end = rest.iter().position(|b| *b == b'\n' || *b == b'\r');
            let take = end.unwrap_or(rest.len());
            let room = self.max.saturating_sub(buf.len());
            if take > room {
                too_long = true;
            }
            buf.extend_from_slice(&rest[..take.min(room)]);
            if take > 0 {
                self.lines.text();
            }
            if let Some(i) = end {
                self.lines.feed(rest[i]);
                self.input.pos += i + 1;
                return Ok(Some(Line {
                    number,
                    complete: true,
                    too_long,
                }));
            }
            self.input.pos = self.input.filled;
        }
        Ok(Some(Line {
            number,
            complete: false,
            too_long,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A record's line and fields, or a refused row's line and problem.
    type Item = Result<(u64, Vec<String>), (u64, Problem)>;

    /// Every item of a CSV text: `Ok((line, fields))` for a record, `Err((line, problem))`
    /// for a refused row.
    fn items(text: &[u8], fields: Option<usize>, max: usize) -> Vec<Item> {
        let mut r = CsvRecords::with_max(Cursor::new(text.to_vec()), max);
        let mut all = Vec::new();
        while let Some(n) = r.next(fields).unwrap() {
            all.push(match n {
                Next::Record { line } => Ok((
                    line,
                    (0..r.len())
                        .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                        .collect(),
                )),
                Next::Refused(x) => Err((x.line, x.problem)),
            });
        }
        all
    }

    fn rec(line: u64, fields: &[&str]) -> Item {
        Ok((line, fields.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn records_with_their_lines_in_any_line_ending() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = ["a,b", "1, 2 ", "", "3,\"x", "y\"", "4,5"].join(eol);
            let got = items(text.as_bytes(), Some(2), 1 << 20);
            let inner = format!("x{eol}y");
            assert_eq!(
                got,
                vec![
                    rec(1, &["a", "b"]),
                    rec(2, &["1", "2"]),
                    rec(4, &["3", &inner]),
                    rec(6, &["4", "5"])
                ],
                "line ending {eol:?}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let got = items(b"\xef\xbb\xbf\"a\",b\n1,2\n", Some(2), 1 << 20);
        assert_eq!(got, vec![rec(1, &["a", "b"]), rec(2, &["1", "2"])]);
    }

    /// A stray quote swallows nothing: its line is refused, the next lines are rows.
    #[test]
    fn a_quote_left_open_is_refused_on_its_line_and_reading_resumes() {
        let text = b"a,b\n1,2\n3,\"x\n4,5\n6,7\n";
        let got = items(text, Some(2), 1 << 20);
        assert_eq!(
            got,
            vec![
                rec(1, &["a", "b"]),
                rec(2, &["1", "2"]),
                Err((3, Problem::QuoteToEnd)),
                rec(4, &["4", "5"]),
                rec(5, &["6", "7"]),
            ]
        );
        // Closed again further on, into a record with the wrong field count: the line
        // with the closing quote is read as a row of its own (its quote is text there).
        let text = b"a,b\n1,\"x\n4,5\n6,7\",8\n9,10";
        let got = items(text, Some(2), 1 << 20);
        assert_eq!(
            got,
            vec![
                rec(1, &["a", "b"]),
                Err((
                    2,
                    Problem::QuoteFieldCount {
                        lines: 3,
                        fields: 3
                    }
                )),
                rec(3, &["4", "5"]),
                rec(4, &["6", "7\"", "8"]),
                rec(5, &["9", "10"]),
            ]
        );
        // With the right field count, it is a quoted field with line breaks: one row.
        let got = items(b"a,b\n1,\"x\n4,5\n6,\"7\n8,9", Some(2), 1 << 20);
        assert_eq!(
            got[1..],
            [rec(2, &["1", "x\n4,5\n6,7"]), rec(5, &["8", "9"])]
        );
        // At the end of a file without a final line break, and in a CRLF file.
        let got = items(b"a,b\r\n1,2\r\n3,\"x", Some(2), 1 << 20);
        assert_eq!(got[2], Err((3, Problem::QuoteToEnd)));
        assert_eq!(got.len(), 3);
        let got = items(b"a,b\r\n3,\"x\r\n4,5\r\n", Some(2), 1 << 20);
        assert_eq!(
            got[1..],
            [Err((2, Problem::QuoteToEnd)), rec(3, &["4", "5"])]
        );
    }

    /// The bound holds for every shape of line; a long line is one refused row.
    #[test]
    fn a_record_past_the_bound_is_one_refused_row() {
        let max = 64;
        let commas = ",".repeat(1000);
        let plain = "x".repeat(1000);
        let quoted = format!("\"{}\"", "y".repeat(1000));
        for long in [&commas, &plain, &quoted] {
            let text = format!("a,b\n1,2\n{long}\n3,4\n");
            let got = items(text.as_bytes(), Some(2), max);
            assert_eq!(
                got,
                vec![
                    rec(1, &["a", "b"]),
                    rec(2, &["1", "2"]),
                    Err((3, Problem::TooLong)),
                    rec(4, &["3", "4"])
                ],
                "{}",
                &long[..3]
            );
            let mut r = CsvRecords::with_max(Cursor::new(text.into_bytes()), max);
            r.next(None).unwrap();
            r.next(Some(2)).unwrap();
            let Some(Next::Refused(x)) = r.next(Some(2)).unwrap() else {
                panic!("refused")
            };
            assert!(x.found().ends_with('…'), "{}", x.found());
            assert!(x.found().chars().count() <= 201);
            assert!(
                r.out.len() <= max && r.ends.len() <= max + 1,
                "memory stays bounded"
            );
        }
        // Just under the bound is a row (the line break not counted).
        let ok = "x".repeat(60);
        let got = items(format!("a\n{ok}\n").as_bytes(), Some(1), max);
        assert_eq!(got[1], rec(2, &[&ok]));
        // A quote open past the bound over several lines: its first line is refused.
        let many = format!("a,b\n1,\"x\n{}3,4\n", "y\n".repeat(100));
        let got = items(many.as_bytes(), Some(2), max);
        assert_eq!(got[1], Err((2, Problem::QuoteTooLong)));
        assert_eq!(got[2], rec(3, &["y"]));
        assert_eq!(got.last().unwrap(), &rec(103, &["3", "4"]));
        assert_eq!(got.len(), 103, "one item per line");
    }

    #[test]
    fn lines_in_any_line_ending_bounded() {
        let text = b"h$1\r\na$b\rc\n\n".to_vec();
        let mut extra = text.clone();
        extra.extend_from_slice(&[b'z'; 100]);
        extra.extend_from_slice(b"\ntail");
        let mut lines = Lines::with_max(Cursor::new(extra), 10);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(l) = lines.next_line(&mut buf).unwrap() {
            got.push((l, String::from_utf8_lossy(&buf).into_owned()));
        }
        let line = |number, complete, too_long| Line {
            number,
            complete,
            too_long,
        };
        assert_eq!(
            got,
            vec![
                (line(1, true, false), "h$1".to_string()),
                (line(2, true, false), "a$b".to_string()),
                (line(3, true, false), "c".to_string()),
                (line(4, true, false), String::new()),
                (line(5, true, true), "z".repeat(10)),
                (line(6, false, false), "tail".to_string()),
            ]
        );
    }
}
