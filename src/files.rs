//! File primitives shared by `ingest` and `convert`, which both read input files and
//! account for them: a file's size and SHA-256 ([`sha256_file`], its provenance in a
//! manifest) and the editor's line of a CSV record ([`LineCounter`], so that a reject names
//! the line a user sees). Kept apart from both stages so that neither imports the other.

use std::fs::File;
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
    Ok((size, crate::config::hex(&hasher.finalize())))
}

/// Finds the editor's line of a byte offset, by counting `\n` in a second pass over the file
/// as offsets increase. The `csv` crate's own line count skips blank lines and counts a
/// CRLF file one line short (BurntSushi/rust-csv#208); byte offsets are exact.
pub(crate) struct LineCounter {
    reader: std::io::BufReader<File>,
    pos: u64,
    line: u64,
}

impl LineCounter {
    pub(crate) fn open(path: &Path) -> Result<LineCounter> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(LineCounter {
            reader: std::io::BufReader::with_capacity(1 << 16, file),
            pos: 0,
            line: 1,
        })
    }

    /// The 1-based line on which the record starting at `byte` begins. Offsets must not
    /// decrease between calls.
    pub(crate) fn line_at(&mut self, byte: u64) -> std::io::Result<u64> {
        use std::io::BufRead;
        while self.pos < byte {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let take = buf.len().min((byte - self.pos) as usize);
            self.line += buf[..take].iter().filter(|b| **b == b'\n').count() as u64;
            self.reader.consume(take);
            self.pos += take as u64;
        }
        // A record's offset may point at blank lines before it: a record never starts with
        // a line break, so skip them.
        loop {
            let buf = self.reader.fill_buf()?;
            match buf.first() {
                Some(b'\n') => self.line += 1,
                Some(b'\r') => {}
                _ => break,
            }
            self.reader.consume(1);
            self.pos += 1;
        }
        Ok(self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as an editor shows them: CRLF counts once, blank lines count, and an offset
    /// that points at blank lines before a record gives the record's own line.
    #[test]
    fn line_counter_gives_the_editors_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let text = b"a,b\r\n1,2\r\n\r\n\r\n3,\"x\ny\"\r\n4,5\r\n";
        std::fs::write(&path, text).unwrap();
        let offset = |s: &[u8]| text.windows(s.len()).position(|w| w == s).unwrap() as u64;
        let mut lines = LineCounter::open(&path).unwrap();
        assert_eq!(lines.line_at(0).unwrap(), 1);
        assert_eq!(lines.line_at(offset(b"1,2")).unwrap(), 2);
        // Just past the first record's line break: blank lines 3 and 4 precede `3,"x`.
        assert_eq!(lines.line_at(offset(b"1,2") + 5).unwrap(), 5);
        assert_eq!(lines.line_at(offset(b"4,5")).unwrap(), 7);
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
