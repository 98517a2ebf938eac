//! Where a FAERS source keeps its files: the quarters in SRC or its `ASCII` folder.
//!
//! Convert stage, FAERS. Reads folder listings only (file names, in any case, such as
//! `DEMO24Q1.txt`), no file contents; returns the quarters sorted by `yyQn`, with the
//! folder they are in. Invariant: every quarter found has a DEMO, a DRUG and a REAC file;
//! OUTC is required too unless the caller allows it to be missing (then
//! [`Quarter::outc`] is `None`).

use std::path::{Path, PathBuf};

use crate::convert::model::list_files;
use crate::error::{Error, Result};

/// The files of one quarter (`24q1`, …).
#[derive(Debug, Default)]
pub(super) struct Quarter {
    pub(super) tag: String,
    pub(super) demo: Option<PathBuf>,
    pub(super) drug: Option<PathBuf>,
    pub(super) reac: Option<PathBuf>,
    pub(super) outc: Option<PathBuf>,
}

/// `demo24q1.txt` → (`demo`, `24q1`).
fn quarter_file(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".txt")?;
    if stem.len() != 8 || !stem.is_ascii() {
        return None;
    }
    let (kind, tag) = stem.split_at(4);
    let b = tag.as_bytes();
    let ok = b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b'q'
        && (b'1'..=b'4').contains(&b[3]);
    (ok && ["demo", "drug", "reac", "outc"].contains(&kind)).then_some((kind, tag))
}

/// The quarters in `src` (or its `ASCII` folder), in order, and the folder they are in.
/// A quarter without its OUTC file is an error unless `allow_outc`.
pub(super) fn find_quarters(src: &Path, allow_outc: bool) -> Result<(Vec<Quarter>, PathBuf)> {
    if !src.is_dir() {
        return Err(Error::input(
            src,
            "expected a folder holding FAERS DEMO, DRUG, REAC and OUTC files",
        ));
    }
    let mut files = list_files(src, |n| quarter_file(n).is_some())?;
    let mut dir = src.to_path_buf();
    if files.is_empty() {
        let io = |e| Error::io(src, e);
        for entry in std::fs::read_dir(src).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.path().is_dir() && entry.file_name().eq_ignore_ascii_case("ascii") {
                files = list_files(&entry.path(), |n| quarter_file(n).is_some())?;
                dir = entry.path();
            }
        }
    }
    if files.is_empty() {
        return Err(Error::input(
            src,
            "no FAERS quarterly files (DEMOyyQn.txt, DRUGyyQn.txt, REACyyQn.txt, OUTCyyQn.txt) here or in its ASCII folder",
        ));
    }
    let mut quarters: Vec<Quarter> = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let Some((kind, tag)) = quarter_file(&name) else {
            continue;
        };
        // Sort quarters by year then quarter (`yy` within one century).
        let q = match quarters.iter_mut().position(|q| q.tag == tag) {
            Some(i) => &mut quarters[i],
            None => {
                quarters.push(Quarter {
                    tag: tag.to_string(),
                    ..Default::default()
                });
                quarters.last_mut().expect("just pushed")
            }
        };
        let slot = match kind {
            "demo" => &mut q.demo,
            "drug" => &mut q.drug,
            "reac" => &mut q.reac,
            _ => &mut q.outc,
        };
        *slot = Some(path);
    }
    quarters.sort_by(|a, b| a.tag.cmp(&b.tag));
    for q in &quarters {
        for (kind, p) in [("DEMO", &q.demo), ("DRUG", &q.drug), ("REAC", &q.reac)] {
            if p.is_none() {
                let tag = q.tag.to_ascii_uppercase();
                return Err(Error::input(
                    src,
                    format!("quarter {tag}: missing {kind}{tag}.txt"),
                ));
            }
        }
        if q.outc.is_none() && !allow_outc {
            let tag = q.tag.to_ascii_uppercase();
            return Err(Error::input(
                src,
                format!(
                    "quarter {tag}: missing OUTC{tag}.txt (looked in {}): without the outcome file seriousness and death are unknown; give --allow-missing outc (`allow_missing = [\"outc\"]` in a pipeline's source) to convert anyway, with is_serious and fatal left null",
                    dir.display()
                ),
            ));
        }
    }
    Ok((quarters, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_file_names() {
        assert_eq!(quarter_file("demo24q1.txt"), Some(("demo", "24q1")));
        assert_eq!(quarter_file("outc12q4.txt"), Some(("outc", "12q4")));
        assert_eq!(quarter_file("demo24q5.txt"), None);
        assert_eq!(quarter_file("ther24q1.txt"), None);
        assert_eq!(quarter_file("demo24q1.pdf"), None);
    }
}
