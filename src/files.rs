//! File primitives shared by `ingest` and `convert`, which both read input files and
//! account for them: a file's size and SHA-256 ([`sha256_file`], its provenance in a
//! manifest) and the editor's numbering of lines ([`LineEnds`], so that a reject names
//! the line a user sees). Kept apart from both stages so that neither imports the other.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A file's size in bytes and its SHA-256 (lowercase hex), read in 1 MiB blocks: the
/// provenance of each input file in a manifest.
pub(crate) fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Counts physical lines as an editor numbers them: `\r\n`, `\n` and a lone `\r` (old Mac
/// files) each end one line, and blank lines count. Fed every byte of a file in order, by
/// each reader of CSV-like files ([`crate::records`]), so that a reject names the line a
/// user sees. (The `csv` crate's own count skips blank lines, counts a CRLF file one line
/// short, BurntSushi/rust-csv#208, and ignores a lone `\r`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineEnds {
    line: u64,
    after_cr: bool,
}

impl LineEnds {
    /// At the start of a file: line 1.
    pub(crate) fn new() -> LineEnds {
        LineEnds {
            line: 1,
            after_cr: false,
        }
    }

    /// The 1-based line of the next byte.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Count one byte; `true` when it ends a line (the `\n` of a `\r\n` does not: the
    /// `\r` did).
    #[inline]
    pub(crate) fn feed(&mut self, byte: u8) -> bool {
        let ends = match byte {
            b'\r' => true,
            b'\n' => !self.after_cr,
            _ => false,
        };
        self.after_cr = byte == b'\r';
        self.line += u64::from(ends);
        ends
    }

    /// Bytes other than line ends were read (without counting each): a `\n` after them
    /// ends a line.
    pub(crate) fn text(&mut self) {
        self.after_cr = false;
    }

    /// Count a run of bytes.
    pub(crate) fn feed_all(&mut self, bytes: &[u8]) {
        let (mut ends, mut after_cr) = (0u64, self.after_cr);
        for &b in bytes {
            ends += u64::from(b == b'\r') + u64::from(b == b'\n' && !after_cr);
            after_cr = b == b'\r';
        }
        self.line += ends;
        self.after_cr = after_cr;
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as an editor shows them: CRLF, LF and a lone CR each end one line; blank
    /// lines count.
    #[test]
    fn line_ends_count_crlf_lf_and_lone_cr_once_each() {
        let line_of_each = |text: &[u8]| -> Vec<u64> {
            let mut l = LineEnds::new();
            text.iter()
                .map(|b| {
                    let at = l.line();
                    l.feed(*b);
                    at
                })
                .collect()
        };
        // `a` on 1, `b` on 2 (after CRLF), `c` on 4 (after LF and a blank line), `d` on 6
        // (after a lone CR and a blank CR line).
        let text = b"a\r\nb\n\nc\r\rd";
        let lines = line_of_each(text);
        let at = |c: u8| lines[text.iter().position(|b| *b == c).unwrap()];
        assert_eq!([at(b'a'), at(b'b'), at(b'c'), at(b'd')], [1, 2, 4, 6]);
        let mut l = LineEnds::new();
        l.feed_all(b"1\r2\r3\r4\r5");
        assert_eq!(l.line(), 5, "a CR-only file: five lines");
        let mut l = LineEnds::new();
        assert!(l.feed(b'\r'));
        assert!(!l.feed(b'\n'), "the LF of a CRLF ends no second line");
        assert!(l.feed(b'\n'), "but a second LF does");
        assert_eq!(l.line(), 3);
    }

    #[test]
    fn sha256_of_a_file_and_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let (size, sha) = sha256_file(&path).unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
