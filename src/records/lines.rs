//! Physical lines (no quoting) over [`Input`]: see the module above.

use std::io::{Read, Seek};

use super::{Input, BUF_BYTES, MAX_RECORD_BYTES};
use crate::files::LineEnds;

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
        Lines::with_bounds(src, MAX_RECORD_BYTES, BUF_BYTES)
    }

    /// With another bound and block size, for tests.
    pub(crate) fn with_bounds(src: R, max: usize, block: usize) -> Lines<R> {
        Lines {
            input: Input::new(src, block),
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
