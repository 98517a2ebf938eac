//! The text encoding of a CSV-like input, detected or declared, and its streaming
//! transcoding to UTF-8 (encoding_rs), so that [`super::CsvRecords`] always reads UTF-8.
//!
//! Detection, in order: a byte-order mark (UTF-8, UTF-16LE, UTF-16BE) decides; else the
//! declared encoding (`encoding = "gb18030"` on the input) applies; else the file is
//! scanned line by line. A line that is not valid UTF-8 is evidence of GB18030 (what Excel
//! writes on a Chinese Windows machine); a valid line holding a character of three UTF-8
//! bytes or more (every CJK character) is evidence of UTF-8. A file with only the first kind
//! is GB18030, with both it mixes encodings (an error naming one line of each: no guess
//! is safe), else it is UTF-8.
//!
//! A file in another encoding than UTF-8 is transcoded once, in blocks, to an unnamed
//! scratch file (created in the temporary folder and unlinked at once), which the bounded
//! reader then reads: memory stays bounded whatever the file's size, and line breaks map
//! one to one, so lines are numbered as an editor shows the original. A byte sequence that
//! the declared or detected encoding cannot decode becomes one invalid UTF-8 byte, so the
//! reader rejects that row (`expected GB18030 text`) and no other.
//!
//! Invariant: errors quote no value of the file (a line of an export may hold a patient's
//! name); they name the file, the line and the encoding.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::files::LineEnds;

/// A text encoding pvwatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    /// GB18030, a superset of GBK and GB2312.
    #[serde(rename = "gb18030")]
    Gb18030,
}

impl Encoding {
    /// The encoding's name in messages and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Gb18030 => "GB18030",
        }
    }

    /// A declared encoding (`encoding = "…"` on an input); `None` when unknown. `gbk` and
    /// `gb2312` read as GB18030, their superset.
    pub fn parse(label: &str) -> Option<Encoding> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "utf-16le" | "utf-16" => Some(Encoding::Utf16Le),
            "utf-16be" => Some(Encoding::Utf16Be),
            "gb18030" | "gbk" | "gb2312" | "cp936" => Some(Encoding::Gb18030),
            _ => None,
        }
    }

    /// The labels [`Encoding::parse`] accepts, for messages.
    pub const LABELS: &'static str =
        "`utf-8`, `utf-16le`, `utf-16be`, `gb18030` (also `gbk`, `gb2312`)";

    fn codec(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Utf16Le => encoding_rs::UTF_16LE,
            Encoding::Utf16Be => encoding_rs::UTF_16BE,
            Encoding::Gb18030 => encoding_rs::GB18030,
        }
    }
}

/// A file opened as UTF-8: the original (UTF-8) or its transcoded scratch copy.
#[derive(Debug)]
pub struct Utf8File {
    pub file: File,
    /// The file's own encoding.
    pub encoding: Encoding,
    /// Whether the encoding was found by a byte-order mark or a scan, not declared.
    pub detected: bool,
}

/// What the line scan found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Scan {
    /// First line that is not valid UTF-8.
    invalid: Option<u64>,
    /// First valid line with a character of three UTF-8 bytes or more.
    wide_utf8: Option<u64>,
}

/// Bytes of one line looked at by the scan: a longer line is judged by its start.
const SCAN_LINE_BYTES: usize = 64 * 1024;

/// Open a CSV-like file for reading as UTF-8, detecting its encoding or using the declared
/// one (see the module above).
pub fn open_utf8(path: &Path, declared: Option<Encoding>) -> Result<Utf8File> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bom = [0u8; 3];
    let n = read_up_to(&mut file, &mut bom).map_err(|e| Error::io(path, e))?;
    let by_bom = match &bom[..n] {
        [0xEF, 0xBB, 0xBF] => Some(Encoding::Utf8),
        [0xFF, 0xFE, ..] => Some(Encoding::Utf16Le),
        [0xFE, 0xFF, ..] => Some(Encoding::Utf16Be),
        _ => None,
    };
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let (encoding, detected) = match (by_bom, declared) {
        (Some(e), _) => (e, true),
        (None, Some(Encoding::Utf8)) => {
            let scan = scan(&mut file).map_err(|e| Error::io(path, e))?;
            if let (Some(line), None) = (scan.invalid, scan.wide_utf8) {
                return Err(Error::input(
                    path,
                    format!(
                        "declared `utf-8`, but line {line} is not UTF-8 text, and no line is (a GB18030 export? declare `encoding = \"gb18030\"` or leave the encoding out to detect it)"
                    ),
                ));
            }
            (Encoding::Utf8, false)
        }
        (None, Some(e)) => (e, false),
        (None, None) => {
            let scan = scan(&mut file).map_err(|e| Error::io(path, e))?;
            match (scan.invalid, scan.wide_utf8) {
                (Some(bad), Some(good)) => {
                    return Err(Error::input(
                        path,
                        format!(
                            "mixed encodings: line {good} is UTF-8 text, line {bad} is not (GB18030?); save the file in one encoding, or declare it (`encoding = \"utf-8\"` rejects the lines that are not, `encoding = \"gb18030\"` reads every line as GB18030)"
                        ),
                    ))
                }
                (Some(_), None) => (Encoding::Gb18030, true),
                _ => (Encoding::Utf8, true),
            }
        }
    };
    if encoding == Encoding::Utf8 {
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        return Ok(Utf8File {
            file,
            encoding,
            detected,
        });
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let file = transcode(&mut file, encoding).map_err(|e| Error::io(path, e))?;
    Ok(Utf8File {
        file,
        encoding,
        detected,
    })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether a whole stream is valid UTF-8: the fast pass that settles nearly every file
/// (validation runs at memory speed; only a file that fails it is scanned line by line).
fn all_utf8<R: Read>(src: &mut R) -> std::io::Result<bool> {
    let mut block = vec![0u8; 1 << 16];
    let mut carry = 0usize;
    loop {
        let n = match src.read(&mut block[carry..]) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end = carry + n;
        match std::str::from_utf8(&block[..end]) {
            Ok(_) => carry = 0,
            // A character cut by the block's end: keep its bytes for the next block.
            Err(e) if e.error_len().is_none() && n > 0 => {
                let valid = e.valid_up_to();
                block.copy_within(valid..end, 0);
                carry = end - valid;
            }
            Err(_) => return Ok(false),
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Classify each line as not UTF-8, or UTF-8 with a wide character (see the module above).
fn scan<R: Read + Seek>(src: &mut R) -> std::io::Result<Scan> {
    if all_utf8(src)? {
        return Ok(Scan::default());
    }
    src.seek(SeekFrom::Start(0))?;
    let mut out = Scan::default();
    let mut lines = LineEnds::new();
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut number = 1u64;
    let mut block = vec![0u8; 1 << 16];
    let judge = |line: &[u8], number: u64, out: &mut Scan| match std::str::from_utf8(line) {
        Ok(s) => {
            if out.wide_utf8.is_none() && s.chars().any(|c| c as u32 >= 0x800) {
                out.wide_utf8 = Some(number);
            }
        }
        // A sequence cut by the scan's bound is not evidence either way.
        Err(e) if e.error_len().is_none() => {}
        Err(_) => {
            if out.invalid.is_none() {
                out.invalid = Some(number);
            }
        }
    };
    loop {
        let n = match src.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &block[..n] {
            if b == b'\n' || b == b'\r' {
                if !line.is_empty() {
                    judge(&line, number, &mut out);
                    line.clear();
                }
                lines.feed(b);
                number = lines.line();
            } else {
                lines.text();
                if line.len() < SCAN_LINE_BYTES {
                    line.push(b);
                }
            }
        }
        if out.invalid.is_some() && out.wide_utf8.is_some() {
            return Ok(out);
        }
    }
    if !line.is_empty() {
        judge(&line, number, &mut out);
    }
    Ok(out)
}

/// Transcode a whole file to UTF-8 into an unnamed scratch file, in blocks; a sequence
/// that does not decode becomes the invalid byte 0xFF (see the module above).
fn transcode(src: &mut File, encoding: Encoding) -> std::io::Result<File> {
    let (path, out) = scratch_file()?;
    // Unlinked at once: the open handles keep the data until they close, and nothing is
    // left behind by a run that stops.
    let reader = File::open(&path);
    let _ = std::fs::remove_file(&path);
    let reader = reader?;
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let mut decoder = encoding.codec().new_decoder_with_bom_removal();
    let mut input = vec![0u8; 1 << 16];
    let mut output = vec![0u8; 1 << 17];
    loop {
        let n = match src.read(&mut input) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let last = n == 0;
        let mut at = 0;
        loop {
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(&input[at..n], &mut output, last);
            w.write_all(&output[..written])?;
            at += read;
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(_, _) => w.write_all(&[0xFF])?,
            }
        }
        if last {
            break;
        }
    }
    w.flush()?;
    drop(w);
    Ok(reader)
}

fn scratch_file() -> std::io::Result<(std::path::PathBuf, File)> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let k = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("pvwatch-utf8-{}-{nanos}-{k}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn utf8_of(f: Utf8File) -> String {
        let mut s = String::new();
        let mut file = f.file;
        file.read_to_string(&mut s).unwrap();
        s
    }

    const TEXT: &str = "报告编码,性别\r\nR1,男\r\n\r\nR2,女\n";

    #[test]
    fn gb18030_is_detected_and_transcoded_line_for_line() {
        let dir = tempfile::tempdir().unwrap();
        let (gb, _, bad) = encoding_rs::GB18030.encode(TEXT);
        assert!(!bad);
        assert!(
            std::str::from_utf8(&gb).is_err(),
            "GB18030 bytes are not UTF-8"
        );
        let p = write(dir.path(), "gb.csv", &gb);
        let f = open_utf8(&p, None).unwrap();
        assert_eq!((f.encoding, f.detected), (Encoding::Gb18030, true));
        assert_eq!(
            utf8_of(f),
            TEXT,
            "line ends kept, so lines keep their numbers"
        );
        // Declared: the same.
        let f = open_utf8(&p, Encoding::parse("GBK")).unwrap();
        assert_eq!((f.encoding, f.detected), (Encoding::Gb18030, false));
        assert_eq!(utf8_of(f), TEXT);
    }

    #[test]
    fn byte_order_marks_decide() {
        let dir = tempfile::tempdir().unwrap();
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in TEXT.encode_utf16() {
            le.extend(u.to_le_bytes());
            be.extend(u.to_be_bytes());
        }
        for (name, bytes, enc) in [
            ("le.csv", le, Encoding::Utf16Le),
            ("be.csv", be, Encoding::Utf16Be),
        ] {
            let p = write(dir.path(), name, &bytes);
            // A BOM wins over a declaration.
            let f = open_utf8(&p, Some(Encoding::Gb18030)).unwrap();
            assert_eq!(f.encoding, enc, "{name}");
            assert_eq!(utf8_of(f), TEXT, "{name}: BOM removed");
        }
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend(TEXT.as_bytes());
        let p = write(dir.path(), "u8.csv", &with_bom);
        let f = open_utf8(&p, None).unwrap();
        assert_eq!(f.encoding, Encoding::Utf8);
        assert_eq!(
            utf8_of(f).as_bytes(),
            &with_bom[..],
            "UTF-8 is read as it is"
        );
    }

    #[test]
    fn mixed_encodings_name_one_line_of_each() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = "报告编码,性别\nR1,男\n".as_bytes().to_vec();
        // (`女` alone would not do: its GB18030 bytes C5 AE happen to be UTF-8 for `Ů`.)
        bytes.extend(encoding_rs::GB18030.encode("R2,男\n").0.iter());
        let p = write(dir.path(), "mixed.csv", &bytes);
        let err = open_utf8(&p, None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: mixed encodings: line 1 is UTF-8 text, line 3 is not (GB18030?)",
                p.display()
            )),
            "{err}"
        );
        assert!(!err.contains('女'), "no value is quoted: {err}");
        // A GB18030 file declared UTF-8.
        let gb = encoding_rs::GB18030.encode(TEXT).0;
        let p = write(dir.path(), "gb.csv", &gb);
        let err = open_utf8(&p, Some(Encoding::Utf8)).unwrap_err().to_string();
        assert!(
            err.contains("declared `utf-8`, but line 1 is not UTF-8 text"),
            "{err}"
        );
    }

    #[test]
    fn undecodable_bytes_become_one_invalid_byte_each() {
        let dir = tempfile::tempdir().unwrap();
        let mut gb = encoding_rs::GB18030.encode("a,b\nR1,男\n").0.to_vec();
        gb.extend([b'R', b'2', b',', 0x81, b'\n']); // a lead byte with no trail
        let p = write(dir.path(), "gb.csv", &gb);
        let mut f = open_utf8(&p, Some(Encoding::Gb18030)).unwrap().file;
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"a,b\nR1,\xe7\x94\xb7\nR2,\xff\n");
        assert_eq!(Encoding::parse("latin-1"), None);
    }

    proptest::proptest! {
        /// Any text in GB18030 or UTF-16 reads back as the same UTF-8, line for line, so
        /// lines keep their numbers; detection finds GB18030 whenever a line is not UTF-8.
        #[test]
        fn transcoding_keeps_text_and_lines(
            lines in proptest::collection::vec("[a-z0-9,，男女报告日期严重新的 ]{0,12}", 1..20),
            crlf in proptest::bool::ANY,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let text: String = lines.iter().map(|l| format!("{l}{end}")).collect();
            let dir = tempfile::tempdir().unwrap();
            let gb = encoding_rs::GB18030.encode(&text).0.into_owned();
            let p = write(dir.path(), "gb.csv", &gb);
            let declared = utf8_of(open_utf8(&p, Some(Encoding::Gb18030)).unwrap());
            proptest::prop_assert_eq!(&declared, &text);
            let detected = open_utf8(&p, None).unwrap();
            if std::str::from_utf8(&gb).is_err() {
                proptest::prop_assert_eq!(detected.encoding, Encoding::Gb18030);
            }
            let mut le = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                le.extend(u.to_le_bytes());
            }
            let p = write(dir.path(), "le.csv", &le);
            let back = utf8_of(open_utf8(&p, None).unwrap());
            proptest::prop_assert_eq!(back.lines().count(), text.lines().count());
            proptest::prop_assert_eq!(back, text);
        }
    }
}
