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

pub(crate) mod encoding;
mod lines;
mod quoted;
#[cfg(test)]
mod tests;

use std::io::{ErrorKind, Read, Seek, SeekFrom};

use crate::files::LineEnds;
pub(crate) use lines::{Line, Lines};
pub(crate) use quoted::{CsvRecords, Next, Refused};

/// A record (or a line) longer than this is refused: it is a quote left open or not a
/// table at all, and it bounds the memory one row may take.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The input buffer, read from the file in blocks this large.
const BUF_BYTES: usize = 1 << 20;

/// Raw bytes of a refused record's first line kept to quote it (an excerpt needs fewer).
const HEAD_BYTES: usize = 1024;

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
    fn new(src: R, block: usize) -> Input<R> {
        Input {
            src,
            buf: vec![0; block.max(1)],
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
