//! Reader of a MedDRA ASCII release folder (MSSO's `$`-delimited `.asc` files).
//!
//! Field layouts, as MSSO's distribution file format document gives them (one record per
//! line, fields separated by `$`, a trailing `$`; only the fields used here are named):
//!
//! | file | fields read (1-based) |
//! |---|---|
//! | `llt.asc` | 1 `llt_code`, 2 `llt_name`, 3 `pt_code`, 10 `llt_currency` (`Y`/`N`) |
//! | `pt.asc` | 1 `pt_code`, 2 `pt_name`, 4 `pt_soc_code` (primary SOC) |
//! | `hlt.asc`, `hlgt.asc`, `soc.asc` | 1 code, 2 name |
//! | `mdhier.asc` | 1 `pt_code`, 2 `hlt_code`, 3 `hlgt_code`, 4 `soc_code`, 12 `primary_soc_fg` (`Y`/`N`) |
//! | `smq_list.asc` (optional) | 1 `smq_code`, 2 `smq_name`, 8 `status` (`A`/`I`) |
//! | `smq_content.asc` (optional) | 1 `smq_code`, 2 `term_code`, 3 `term_level` (0 child SMQ, 4 PT, 5 LLT), 4 `term_scope` (1 broad, 2 narrow, 0 child SMQ), 7 `term_status` (`A`/`I`) |
//! | `meddra_release.asc` (optional) | 1 `version`, 2 `language` |
//!
//! File names are matched ignoring case (`SMQ_Content.asc` is found). The release's version
//! is `meddra_release.asc`'s first field; without that file, the folder's name (e.g.
//! `MedDRA_27_1_English/MedAscii` gives `MedDRA_27_1_English`, the parent of a folder
//! named `MedAscii`). Text is UTF-8 (English and Chinese releases); a line that is not is
//! an error naming the file and line, as is a line too short or a code that is not digits.
//!
//! The hierarchy used for grouping is each PT's **primary** path (the `mdhier.asc` row
//! flagged `Y`): a PT belongs to one HLT, HLGT and SOC, so a case counts once per group.
//! An SMQ's terms are its own PTs and LLTs plus those of its sub-SMQs (hierarchical SMQs),
//! active terms only (`A`); narrow scope takes the narrow terms, broad scope narrow and
//! broad (a broad search includes the narrow terms, as the SMQ introductory guide says).
//! Algorithmic SMQs are taken as their narrow or broad term lists; their algorithm is
//! not applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files a release folder must hold.
pub const REQUIRED: &[&str] = &[
    "llt.asc",
    "pt.asc",
    "hlt.asc",
    "hlgt.asc",
    "soc.asc",
    "mdhier.asc",
];
/// The SMQ files, needed only for the `smq` level.
pub const SMQ_FILES: &[&str] = &["smq_list.asc", "smq_content.asc"];

pub use crate::config::SmqScope;

/// A PT's primary path up the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path4 {
    pub hlt: u64,
    pub hlgt: u64,
    pub soc: u64,
}

/// One SMQ: its name and the PT and LLT codes of each scope (sub-SMQs resolved).
#[derive(Debug, Clone, Default)]
pub struct Smq {
    pub name: String,
    pub narrow: HashSet<u64>,
    pub broad: HashSet<u64>,
}

/// A MedDRA release, read into memory (a full release is about 80,000 LLTs).
#[derive(Debug, Clone, Default)]
pub struct Meddra {
    pub folder: PathBuf,
    pub version: String,
    /// `meddra_release.asc` or `folder name`.
    pub version_source: &'static str,
    /// LLT code → (name, PT code, current).
    pub llt: HashMap<u64, (String, u64, bool)>,
    /// PT code → (name, primary SOC code).
    pub pt: HashMap<u64, (String, u64)>,
    pub hlt: HashMap<u64, String>,
    pub hlgt: HashMap<u64, String>,
    pub soc: HashMap<u64, String>,
    /// PT code → its primary path.
    pub primary: HashMap<u64, Path4>,
    /// Lowercased LLT and PT names → PT code (PT names first).
    pub by_name: HashMap<String, u64>,
    /// SMQ code → SMQ, active SMQs only; `None` when the release has no SMQ files.
    pub smqs: Option<BTreeMap<u64, Smq>>,
}

/// Find `name` in `dir`, ignoring case.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.is_file() {
        return Some(exact);
    }
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name();
        (n.to_string_lossy().eq_ignore_ascii_case(name) && e.path().is_file()).then(|| e.path())
    })
}

/// The records of one `.asc` file: (1-based line, fields).
fn records(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Error::input(
            path,
            format!(
                "line {line}: expected UTF-8 text (a MedDRA ASCII file), found bytes that are not"
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let l = l.strip_suffix('\r').unwrap_or(l);
            let l = l.strip_suffix('$').unwrap_or(l);
            (i + 1, l.split('$').map(|f| f.trim().to_string()).collect())
        })
        .collect())
}

/// Field `n` (1-based) of a record, or an error naming the file, line and field.
fn field<'a>(path: &Path, line: usize, f: &'a [String], n: usize, name: &str) -> Result<&'a str> {
    f.get(n - 1).map(String::as_str).ok_or_else(|| {
        Error::input(
            path,
            format!(
                "line {line}: expected at least {n} `$`-separated fields (field {n} is `{name}`), found {}",
                f.len()
            ),
        )
    })
}

fn code(path: &Path, line: usize, f: &[String], n: usize, name: &str) -> Result<u64> {
    let v = field(path, line, f, n, name)?;
    v.parse::<u64>().map_err(|_| {
        Error::input(
            path,
            format!(
                "line {line}, field {n} `{name}`: expected a MedDRA code (digits), found `{}`",
                crate::accounting::excerpt(v)
            ),
        )
    })
}

impl Meddra {
    /// Read a release folder. A missing required file is an error naming it (exit 2);
    /// `need_smq` makes the SMQ files required too.
    pub fn load(folder: &Path, need_smq: bool) -> Result<Meddra> {
        if !folder.is_dir() {
            return Err(Error::input(
                folder,
                "MedDRA release folder: expected a folder holding the MedDRA ASCII files (llt.asc, pt.asc, …), found none",
            ));
        }
        let mut missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|n| find(folder, n).is_none())
            .collect();
        if need_smq {
            missing.extend(
                SMQ_FILES
                    .iter()
                    .copied()
                    .filter(|n| find(folder, n).is_none()),
            );
        }
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            return Err(Error::input(
                folder,
                format!(
                    "MedDRA release folder is missing {} (a MedDRA ASCII release holds {}{})",
                    list.join(", "),
                    REQUIRED.join(", "),
                    if need_smq {
                        ", and smq_list.asc, smq_content.asc for `signals.levels` = `smq`"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let path = |n: &str| find(folder, n).expect("checked above");
        let mut m = Meddra {
            folder: folder.to_path_buf(),
            ..Meddra::default()
        };
        let (version, source) = match find(folder, "meddra_release.asc") {
            Some(p) => {
                let recs = records(&p)?;
                let v = match recs.first() {
                    Some((line, f)) => field(&p, *line, f, 1, "version")?.to_string(),
                    None => String::new(),
                };
                if v.is_empty() {
                    return Err(Error::input(
                        &p,
                        "line 1, field 1 `version`: expected the MedDRA version, found nothing",
                    ));
                }
                (v, "meddra_release.asc")
            }
            None => (folder_version(folder), "folder name"),
        };
        m.version = version;
        m.version_source = source;

        let p = path("soc.asc");
        for (line, f) in records(&p)? {
            m.soc.insert(
                code(&p, line, &f, 1, "soc_code")?,
                field(&p, line, &f, 2, "soc_name")?.to_string(),
            );
        }
        let p = path("hlgt.asc");
        for (line, f) in records(&p)? {
            m.hlgt.insert(
                code(&p, line, &f, 1, "hlgt_code")?,
                field(&p, line, &f, 2, "hlgt_name")?.to_string(),
            );
        }
        let p = path("hlt.asc");
        for (line, f) in records(&p)? {
            m.hlt.insert(
                code(&p, line, &f, 1, "hlt_code")?,
                field(&p, line, &f, 2, "hlt_name")?.to_string(),
            );
        }
        let p = path("pt.asc");
        for (line, f) in records(&p)? {
            let c = code(&p, line, &f, 1, "pt_code")?;
            let name = field(&p, line, &f, 2, "pt_name")?.to_string();
            let soc = code(&p, line, &f, 4, "pt_soc_code")?;
            m.by_name.insert(name.to_lowercase(), c);
            m.pt.insert(c, (name, soc));
        }
        let p = path("llt.asc");
        for (line, f) in records(&p)? {
            let c = code(&p, line, &f, 1, "llt_code")?;
            let name = field(&p, line, &f, 2, "llt_name")?.to_string();
            let pt = code(&p, line, &f, 3, "pt_code")?;
            if !m.pt.contains_key(&pt) {
                return Err(Error::input(
                    &p,
                    format!(
                        "line {line}, field 3 `pt_code`: expected a PT of pt.asc, found `{pt}`"
                    ),
                ));
            }
            // Older files may stop before llt_currency: current unless it says `N`.
            let current = f.get(9).map(|s| s != "N").unwrap_or(true);
            // A PT's own name wins over an LLT spelled the same.
            m.by_name.entry(name.to_lowercase()).or_insert(pt);
            m.llt.insert(c, (name, pt, current));
        }
        let p = path("mdhier.asc");
        for (line, f) in records(&p)? {
            let primary = field(&p, line, &f, 12, "primary_soc_fg")?;
            if primary != "Y" {
                continue;
            }
            let pt = code(&p, line, &f, 1, "pt_code")?;
            let path4 = Path4 {
                hlt: code(&p, line, &f, 2, "hlt_code")?,
                hlgt: code(&p, line, &f, 3, "hlgt_code")?,
                soc: code(&p, line, &f, 4, "soc_code")?,
            };
            for (what, c, ok) in [
                ("pt_code", pt, m.pt.contains_key(&pt)),
                ("hlt_code", path4.hlt, m.hlt.contains_key(&path4.hlt)),
                ("hlgt_code", path4.hlgt, m.hlgt.contains_key(&path4.hlgt)),
                ("soc_code", path4.soc, m.soc.contains_key(&path4.soc)),
            ] {
                if !ok {
                    return Err(Error::input(
                        &p,
                        format!("line {line}: `{what}` `{c}` is not in its term file"),
                    ));
                }
            }
            m.primary.insert(pt, path4);
        }
        if let (Some(list), Some(content)) =
            (find(folder, SMQ_FILES[0]), find(folder, SMQ_FILES[1]))
        {
            m.smqs = Some(read_smqs(&list, &content)?);
        }
        Ok(m)
    }

    /// The PT of a term given as an LLT or PT code, or an LLT or PT name (ignoring case).
    pub fn pt_of(&self, term: &str) -> Option<u64> {
        let t = term.trim();
        if let Ok(c) = t.parse::<u64>() {
            if self.pt.contains_key(&c) {
                return Some(c);
            }
            return self.llt.get(&c).map(|l| l.1);
        }
        self.by_name.get(&t.to_lowercase()).copied()
    }

    /// The SMQs (code, name) whose `scope` holds the PT or the LLT code of a term.
    pub fn smqs_of(&self, pt: u64, llt: Option<u64>, scope: SmqScope) -> Vec<u64> {
        let Some(smqs) = &self.smqs else {
            return Vec::new();
        };
        smqs.iter()
            .filter(|(_, s)| {
                let has = |c: u64| {
                    s.narrow.contains(&c) || (scope == SmqScope::Broad && s.broad.contains(&c))
                };
                has(pt) || llt.is_some_and(has)
            })
            .map(|(c, _)| *c)
            .collect()
    }
}

/// The version a folder's name gives: the folder itself, or its parent when it is named
/// `MedAscii` / `ascii-NNN`-like, as MSSO's zip lays it out.
fn folder_version(folder: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let own = name(folder);
    if own.eq_ignore_ascii_case("medascii") {
        if let Some(parent) = folder.parent() {
            let n = name(parent);
            if !n.is_empty() {
                return n;
            }
        }
    }
    own
}

/// Read the SMQ list and content, resolving sub-SMQs (term_level 0) into their parents.
fn read_smqs(list: &Path, content: &Path) -> Result<BTreeMap<u64, Smq>> {
    let mut smqs: BTreeMap<u64, Smq> = BTreeMap::new();
    let mut active: HashSet<u64> = HashSet::new();
    for (line, f) in records(list)? {
        let c = code(list, line, &f, 1, "smq_code")?;
        let name = field(list, line, &f, 2, "smq_name")?.to_string();
        // `status` is field 8; a short line (older layout) counts as active.
        if f.get(7).map(|s| s != "I").unwrap_or(true) {
            active.insert(c);
        }
        smqs.insert(
            c,
            Smq {
                name,
                ..Smq::default()
            },
        );
    }
    let mut children: HashMap<u64, Vec<u64>> = HashMap::new();
    for (line, f) in records(content)? {
        let smq = code(content, line, &f, 1, "smq_code")?;
        let term = code(content, line, &f, 2, "term_code")?;
        let level = code(content, line, &f, 3, "term_level")?;
        let scope = code(content, line, &f, 4, "term_scope")?;
        let status = field(content, line, &f, 7, "term_status")?;
        let Some(s) = smqs.get_mut(&smq) else {
            return Err(Error::input(
                content,
                format!("line {line}, field 1 `smq_code`: expected an SMQ of smq_list.asc, found `{smq}`"),
            ));
        };
        if status == "I" {
            continue;
        }
        match (level, scope) {
            (0, _) => children.entry(smq).or_default().push(term),
            (4 | 5, 2) => {
                s.narrow.insert(term);
            }
            (4 | 5, 1) => {
                s.broad.insert(term);
            }
            (4 | 5, _) => {}
            (l, _) => {
                return Err(Error::input(
                    content,
                    format!("line {line}, field 3 `term_level`: expected 0 (SMQ), 4 (PT) or 5 (LLT), found `{l}`"),
                ))
            }
        }
    }
    // A parent holds its sub-SMQs' terms, to any depth (SMQs nest at most five deep; the
    // visited set also stops a cycle in a damaged file).
    let codes: Vec<u64> = smqs.keys().copied().collect();
    for c in codes {
        let mut seen = HashSet::from([c]);
        let mut stack: Vec<u64> = children.get(&c).cloned().unwrap_or_default();
        let (mut narrow, mut broad) = (HashSet::new(), HashSet::new());
        while let Some(k) = stack.pop() {
            if !seen.insert(k) {
                continue;
            }
            if let Some(s) = smqs.get(&k) {
                narrow.extend(s.narrow.iter().copied());
                broad.extend(s.broad.iter().copied());
            }
            stack.extend(children.get(&k).cloned().unwrap_or_default());
        }
        let s = smqs.get_mut(&c).expect("a key of smqs");
        s.narrow.extend(narrow);
        s.broad.extend(broad);
    }
    smqs.retain(|c, _| active.contains(c));
    Ok(smqs)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn synthetic() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/meddra-synthetic")
    }

    #[test]
    fn reads_the_synthetic_release() {
        let m = Meddra::load(&synthetic(), true).unwrap();
        assert_eq!(
            (m.version.as_str(), m.version_source),
            ("99.0", "meddra_release.asc")
        );
        assert_eq!(
            (
                m.llt.len(),
                m.pt.len(),
                m.hlt.len(),
                m.hlgt.len(),
                m.soc.len()
            ),
            (8, 4, 3, 2, 2)
        );
        // LLT and PT codes and names, any case, roll up to the PT.
        assert_eq!(m.pt_of("90002001"), Some(90001001));
        assert_eq!(m.pt_of("90001001"), Some(90001001));
        assert_eq!(m.pt_of(" synthetic CEPHALALGIA "), Some(90001001));
        assert_eq!(m.pt_of("Synthetic pruritus"), Some(90001004));
        assert_eq!(m.pt_of("Synthetic itching"), Some(90001004));
        assert_eq!(m.pt_of("90009999"), None);
        assert_eq!(m.pt_of("headache"), None);
        assert!(!m.llt[&90002004].2, "llt_currency N");
        // The primary path only: pruritus is also linked under 90000201, not primary.
        assert_eq!(
            m.primary[&90001004],
            Path4 {
                hlt: 90000203,
                hlgt: 90000102,
                soc: 90000002
            }
        );
        assert_eq!(m.primary.len(), 4);
    }

    #[test]
    fn smqs_by_scope_with_sub_smqs_and_inactive_terms() {
        let m = Meddra::load(&synthetic(), true).unwrap();
        let smqs = m.smqs.as_ref().unwrap();
        // The retired SMQ (status I) is gone.
        assert_eq!(
            smqs.keys().copied().collect::<Vec<_>>(),
            [20000001, 20000002, 20000003]
        );
        let n = SmqScope::Narrow;
        let b = SmqScope::Broad;
        assert_eq!(m.smqs_of(90001001, None, n), [20000001]);
        // Migraine is a broad term of the headache SMQ only.
        assert_eq!(m.smqs_of(90001002, None, n), Vec::<u64>::new());
        assert_eq!(m.smqs_of(90001002, None, b), [20000001]);
        // Rash's headache-SMQ row is inactive (term_status I).
        assert_eq!(m.smqs_of(90001003, None, b), [20000002]);
        // Pruritus is in the sub-SMQ, and so in its parent.
        assert_eq!(m.smqs_of(90001004, None, n), [20000002, 20000003]);
    }

    fn copy_without(skip: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(synthetic()).unwrap().flatten() {
            if !e.file_name().to_string_lossy().eq_ignore_ascii_case(skip) {
                std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
            }
        }
        dir
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = copy_without("mdhier.asc");
        let e = Meddra::load(dir.path(), false).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: MedDRA release folder is missing `mdhier.asc` (a MedDRA ASCII release holds llt.asc, pt.asc, hlt.asc, hlgt.asc, soc.asc, mdhier.asc)",
                dir.path().display()
            )
        );
        // SMQ files are needed only for the smq level.
        let dir = copy_without("smq_content.asc");
        assert!(Meddra::load(dir.path(), false).unwrap().smqs.is_none());
        let e = Meddra::load(dir.path(), true).unwrap_err().to_string();
        assert!(e.contains("is missing `smq_content.asc`"), "{e}");
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let dir = copy_without("");
        std::fs::write(
            dir.path().join("pt.asc"),
            "90001001$Synthetic headache$$90000001$\n9000100x$Bad$$90000001$\n",
        )
        .unwrap();
        let e = Meddra::load(dir.path(), false).unwrap_err().to_string();
        assert!(
            e.ends_with("pt.asc: line 2, field 1 `pt_code`: expected a MedDRA code (digits), found `9000100x`"),
            "{e}"
        );
        std::fs::write(dir.path().join("pt.asc"), "90001001$Synthetic headache\n").unwrap();
        let e = Meddra::load(dir.path(), false).unwrap_err().to_string();
        assert!(e.ends_with("pt.asc: line 1: expected at least 4 `$`-separated fields (field 4 is `pt_soc_code`), found 2"), "{e}");
        std::fs::write(
            dir.path().join("pt.asc"),
            b"90001001$Synth\xffetic$$90000001$\n",
        )
        .unwrap();
        let e = Meddra::load(dir.path(), false).unwrap_err().to_string();
        assert!(e.ends_with("pt.asc: line 1: expected UTF-8 text (a MedDRA ASCII file), found bytes that are not"), "{e}");
    }

    #[test]
    fn version_from_the_folder_name_without_a_release_file() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("MedDRA_99_0_English").join("MedAscii");
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(synthetic()).unwrap().flatten() {
            if e.file_name() != "meddra_release.asc" {
                std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
            }
        }
        let m = Meddra::load(&dir, false).unwrap();
        assert_eq!(
            (m.version.as_str(), m.version_source),
            ("MedDRA_99_0_English", "folder name")
        );
    }
}
