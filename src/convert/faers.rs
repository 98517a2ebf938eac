//! FDA FAERS quarterly ASCII extracts → canonical tables.
//!
//! Source: the `$`-delimited `DEMOyyQn.txt`, `DRUGyyQn.txt`, `REACyyQn.txt` and
//! `OUTCyyQn.txt` files of one or more quarters, found by name in any case in SRC or in its
//! `ASCII` folder. All DEMO files are read first (quarters in order), then DRUG, REAC and
//! OUTC. Mapping (README, "Real-world inputs"):
//!
//! | FAERS | canonical |
//! |---|---|
//! | DEMO primaryid (legacy: isr) | reports.report_id |
//! | DEMO caseid (legacy: case) | reports.case_id |
//! | DEMO caseversion | reports.version (the latest version of a case is used) |
//! | DEMO fda_dt, else init_fda_dt (YYYYMMDD) | reports.received_date |
//! | DEMO sex (legacy: gndr_cod) M/F/UNK/NS | reports.sex M/F/U/U |
//! | DEMO age × age_cod (DEC, YR, MON, WK, DY, HR) | reports.age_years |
//! | DEMO rept_cod EXP/PER/5DAY/30DAY, DIR | reports.reporter_type `mah`, `individual` |
//! | DEMO event_dt (full dates only) | report_events.onset_date |
//! | DRUG prod_ai, else drugname, normalised | report_products.product_id |
//! | DRUG role_cod PS/SS, C, I | report_products.role suspect, concomitant, interacting |
//! | DRUG lot_num | report_products.batch |
//! | REAC pt | report_events.event |
//! | OUTC outc_cod (any) / DE | reports.is_serious / reports.fatal |
//!
//! `region` (FAERS has no Chinese region) and `class` come from the options. A report
//! with no OUTC row is not serious and not fatal. A DEMO row whose primaryid was seen on an
//! earlier line is rejected as a duplicate; a DRUG, REAC or OUTC row whose primaryid is
//! not a valid DEMO row is rejected; one whose report is an older case version is
//! superseded.
//!
//! A DEMO row is rejected only for its key: primaryid, caseid and the receipt date
//! (`fda_dt`, else `init_fda_dt`). A bad optional value (sex, age, age_cod, rept_cod,
//! event_dt, a DRUG role_cod) is nulled and the row kept, with a `cell nulled` line in
//! `rejects.csv`. An age not plausible for its unit (more than 150 years once converted,
//! such as a year of birth typed as an age, `1974 YR`) is nulled the same way. An
//! unreadable caseversion is nulled when its case has one version, and rejects the row
//! when the case has several (the version decides which one is the latest).

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::dollar::DollarFile;
use super::model::{list_files, Builder, Report};
use super::Options;
use crate::error::{Error, Result};
use crate::period::epoch_days;

/// The files of one quarter (`24q1`, …).
#[derive(Debug, Default)]
struct Quarter {
    tag: String,
    demo: Option<PathBuf>,
    drug: Option<PathBuf>,
    reac: Option<PathBuf>,
    outc: Option<PathBuf>,
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

/// The quarters in `src` (or its `ASCII` folder), in order.
fn find_quarters(src: &Path) -> Result<Vec<Quarter>> {
    if !src.is_dir() {
        return Err(Error::input(
            src,
            "expected a folder holding FAERS DEMO, DRUG, REAC and OUTC files",
        ));
    }
    let mut files = list_files(src, |n| quarter_file(n).is_some())?;
    if files.is_empty() {
        let io = |e| Error::io(src, e);
        for entry in std::fs::read_dir(src).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.path().is_dir() && entry.file_name().eq_ignore_ascii_case("ascii") {
                files = list_files(&entry.path(), |n| quarter_file(n).is_some())?;
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
    }
    Ok(quarters)
}

/// `YYYYMMDD` → days since the epoch.
pub fn parse_yyyymmdd(s: &str) -> Option<i32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let d = NaiveDate::from_ymd_opt(n(0..4)? as i32, n(4..6)?, n(6..8)?)?;
    Some(epoch_days(d))
}

/// Years per unit of FAERS `age_cod`.
fn years_per(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_uppercase().as_str() {
        "DEC" => 10.0,
        "YR" | "YRS" => 1.0,
        "MON" => 1.0 / 12.0,
        "WK" => 7.0 / 365.25,
        "DY" => 1.0 / 365.25,
        "HR" => 1.0 / (24.0 * 365.25),
        _ => return None,
    })
}

/// Normalise a product name: trimmed, inner spaces collapsed, upper-cased; with
/// `strip_dose`, a trailing dose expression cut ([`strip_dose`]).
pub fn normalize_product(name: &str, strip_dose: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_uppercase));
    }
    if strip_dose {
        let keep = self::strip_dose(&out).len();
        out.truncate(keep);
    }
    out
}

/// Units of a dose (upper case, as names are upper-cased first; `ΜG` is `µg` upper-cased).
const DOSE_UNITS: &[&str] = &[
    "MG", "MCG", "UG", "µG", "ΜG", "NG", "G", "GM", "GRAM", "GRAMS", "KG", "ML", "L", "IU", "U",
    "UNIT", "UNITS", "MIU", "MEQ", "MMOL", "%",
];
/// Units that only follow a `/` in a dose (`25 MCG/HR`).
const PER_UNITS: &[&str] = &["HR", "H", "24HR", "DAY", "D", "DOSE", "ACTUATION", "SPRAY"];
/// Unit dose forms, cut at the end of a name (`500MG TABLET`, `1 TAB`).
const DOSE_FORMS: &[&str] = &[
    "TABLET", "TABLETS", "TAB", "TABS", "CAPSULE", "CAPSULES", "CAP", "CAPS", "CAPLET", "CAPLETS",
    "SOFTGEL", "SOFTGELS", "PILL", "PILLS",
];

/// A number as doses write it: `20`, `0.5`, `.5`, `1,000`, `5/10`, `1-2`.
fn is_number(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b".,/-".contains(&b))
}

/// A unit, or a unit per (a number of) units: `MG`, `MG/ML`, `MG/5ML`, `MCG/HR`.
fn is_unit(t: &str) -> bool {
    let (top, per) = match t.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    DOSE_UNITS.contains(&top)
        && per.is_none_or(|p| {
            let unit = p.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            DOSE_UNITS.contains(&unit) || PER_UNITS.contains(&unit)
        })
}

/// A number with its unit in one word: `500MG`, `0.5%`, `40MG/0.8ML`.
fn is_number_with_unit(t: &str) -> bool {
    let at = t
        .find(|c: char| !(c.is_ascii_digit() || ".,".contains(c)))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(at);
    !number.is_empty() && is_number(number) && is_unit(unit)
}

/// `name` without its trailing dose expression: numbers with units (`20 MG`, `500MG`,
/// `10 MG/ML`, `0.5%`) and unit dose forms (`TABLET`, `1 TAB`), from the end, as long as
/// they come; the first word always stays. A number without a unit is part of a name
/// (`SUBSTANCE 0042`, `INSULIN 70/30`), and so is a word that merely holds digits
/// (`VITAMIN B12`, `5-FLUOROURACIL`). Returns a prefix of `name`.
pub fn strip_dose(name: &str) -> &str {
    // (start, end) of each word.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in name.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, name.len()));
    }
    let word = |k: usize| {
        let (s, e) = words[k];
        name[s..e]
            .trim_matches(|c| "()[],;".contains(c))
            .trim_end_matches('.')
    };
    let mut k = words.len();
    let mut after_form = false;
    while k > 1 {
        let w = word(k - 1);
        if DOSE_FORMS.contains(&w) {
            k -= 1;
            after_form = true;
        } else if is_number_with_unit(w) || (after_form && is_number(w)) {
            k -= 1;
            after_form = false;
        } else if k > 2 && is_unit(w) && is_number(word(k - 2)) {
            k -= 2;
            after_form = false;
        } else if w.is_empty() {
            k -= 1; // a lone `(`, `-` or `,` inside the dose text
        } else {
            break;
        }
    }
    if k == words.len() {
        return name;
    }
    name[..words[k - 1].1].trim_end_matches(|c: char| ",-/(".contains(c) || c.is_whitespace())
}

/// What the DEMO pass leaves for the other files.
struct Demo {
    /// Onset (`event_dt`) of each report, by report index.
    onset: Vec<Option<i32>>,
    /// primaryids of DEMO rows that were rejected.
    rejected: HashSet<String>,
}

pub fn convert(src: &Path, opts: &Options, b: &mut Builder) -> Result<()> {
    let region = opts.region.clone().ok_or_else(|| {
        Error::input(
            src,
            "FAERS has no Chinese region: give the region code to use (--region, or `region` in the pipeline's source)",
        )
    })?;
    let quarters = find_quarters(src)?;
    let mut demo = Demo {
        onset: Vec::new(),
        rejected: HashSet::default(),
    };
    for q in &quarters {
        let path = q.demo.as_deref().expect("checked in find_quarters");
        read_demo(path, &region, opts, q.outc.is_some(), b, &mut demo)?;
    }
    // An unreadable caseversion is nulled only when its case has one version; else the
    // DEMO row is rejected, and so are the DRUG, REAC and OUTC rows that name it.
    demo.rejected.extend(b.settle_versions());
    for q in &quarters {
        read_drug(q.drug.as_deref().expect("checked"), opts, b, &demo)?;
    }
    for q in &quarters {
        read_reac(q.reac.as_deref().expect("checked"), b, &demo)?;
    }
    for q in &quarters {
        if let Some(p) = &q.outc {
            read_outc(p, b, &demo)?;
        }
    }
    Ok(())
}

const PRIMARYID: &[&str] = &["primaryid", "isr"];

fn read_demo(
    path: &Path,
    region: &str,
    opts: &Options,
    has_outc: bool,
    b: &mut Builder,
    demo: &mut Demo,
) -> Result<()> {
    let mut f = DollarFile::open(b, path, "demo")?;
    let c_id = f.require(PRIMARYID)?;
    let c_case = f.require(&["caseid", "case"])?;
    let c_version = f.column(&["caseversion"]);
    let c_fda = f.require(&["fda_dt"])?;
    let c_init = f.column(&["init_fda_dt"]);
    let c_sex = f.column(&["sex", "gndr_cod"]);
    let c_age = f.column(&["age"]);
    let c_age_cod = f.column(&["age_cod"]);
    let c_rept = f.column(&["rept_cod"]);
    let c_event = f.column(&["event_dt"]);
    let mut first_line: HashMap<String, (u32, u64)> = HashMap::default();
    let outcome = has_outc.then_some(false);

    while f.next_row(b)? {
        let (file, line) = (f.file, f.line);
        let id = f.text(c_id).into_owned();
        if id.is_empty() {
            b.reject(file, line, PRIMARYID[0], "", "a non-empty primaryid");
            continue;
        }
        if let Some(&(ff, fl)) = first_line.get(&id) {
            let expected = format!(
                "a unique primaryid (first seen on line {fl} of {})",
                b.path(ff)
            );
            b.reject(file, line, PRIMARYID[0], id, expected);
            continue;
        }
        // The key: caseid and the receipt date. Anything else is optional.
        let case_id = f.text(c_case);
        if case_id.is_empty() {
            b.reject(file, line, "caseid", "", "a non-empty caseid");
            demo.rejected.insert(id);
            continue;
        }
        let fda = f.text(c_fda);
        let received = if fda.is_empty() {
            parse_yyyymmdd(&f.get(c_init))
        } else {
            parse_yyyymmdd(&fda)
        };
        let Some(received) = received else {
            let expected = "a date YYYYMMDD (fda_dt, else init_fda_dt)";
            b.reject(file, line, "fda_dt", fda.into_owned(), expected);
            demo.rejected.insert(id);
            continue;
        };
        // Bad optional values are nulled once the row is known to be kept.
        let mut nulled: Vec<(&'static str, String, String)> = Vec::new();
        let version_text = f.get(c_version);
        let version = match version_text.parse::<i64>() {
            _ if version_text.is_empty() => None,
            Ok(v) if v >= 1 => Some(v),
            _ => None,
        };
        let bad_version =
            (version.is_none() && !version_text.is_empty()).then(|| version_text.into_owned());
        let sex_text = f.get(c_sex);
        let sex = match sex_text.to_ascii_uppercase().as_str() {
            "" => None,
            "M" => Some("M"),
            "F" => Some("F"),
            "UNK" | "NS" | "U" => Some("U"),
            _ => {
                let expected = "one of `M`, `F`, `UNK`, `NS`";
                nulled.push(("sex", sex_text.into_owned(), expected.into()));
                None
            }
        };
        let age_years = match age_in_years(&f.get(c_age), &f.get(c_age_cod)) {
            Ok(a) => a,
            Err(cell) => {
                nulled.push(cell);
                None
            }
        };
        let rept_text = f.get(c_rept);
        let reporter_type = match rept_text.to_ascii_uppercase().as_str() {
            "" => None,
            "EXP" | "PER" | "5DAY" | "30DAY" => Some("mah"),
            "DIR" => Some("individual"),
            _ => {
                let expected = "one of `EXP`, `PER`, `5DAY`, `30DAY`, `DIR`";
                nulled.push(("rept_cod", rept_text.into_owned(), expected.into()));
                None
            }
        };
        let event_text = f.get(c_event);
        let onset = parse_yyyymmdd(&event_text);
        if onset.is_none() && !is_partial_date(&event_text) {
            let expected = "a date YYYYMMDD (or a partial date YYYY or YYYYMM, read as unknown)";
            nulled.push(("event_dt", event_text.into_owned(), expected.into()));
        }
        let report = Report {
            report_id: id.clone(),
            case_id: case_id.into_owned(),
            version,
            received,
            class: opts.class,
            region: region.to_string(),
            reporter_type,
            sentinel: None,
            is_new: None,
            is_serious: outcome,
            fatal: outcome,
            sex,
            age_years,
        };
        let r = b.add_report(report);
        demo.onset.push(onset);
        b.accept_row(file, r, line);
        for (column, found, expected) in nulled {
            b.null_cell(file, line, column, found, expected);
        }
        if let Some(found) = bad_version {
            b.null_version(r, file, line, "caseversion", found, "an integer >= 1");
        }
        first_line.insert(id, (file, line));
    }
    if c_id == 0 {
        demo.rejected.extend(std::mem::take(&mut f.short_row_keys));
    }
    Ok(())
}

/// Whether a FAERS date is empty or partial (`YYYY`, `YYYYMM`): unknown, not bad.
fn is_partial_date(s: &str) -> bool {
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    s.is_empty() || (digits && (s.len() == 4 || s.len() == 6))
}

/// The upper bound of a plausible age.
const MAX_AGE_YEARS: f64 = 150.0;

/// FAERS `age` × `age_cod` in years: `Ok(None)` when there is no age, `Err` with the cell
/// to null (column, found, expected) when the age cannot be read or is not plausible for
/// its unit (a year of birth typed as an age: `1974 YR`).
fn age_in_years(
    age: &str,
    unit: &str,
) -> std::result::Result<Option<f64>, (&'static str, String, String)> {
    if age.is_empty() {
        return Ok(None);
    }
    let units = "one of `DEC`, `YR`, `MON`, `WK`, `DY`, `HR`";
    if unit.is_empty() {
        let expected = format!("an age unit ({units}) for the age `{age}`");
        return Err(("age_cod", String::new(), expected));
    }
    let Some(k) = years_per(unit) else {
        return Err(("age_cod", unit.to_string(), units.to_string()));
    };
    let found = format!("{age} {unit}");
    let Some(a) = age.parse::<f64>().ok().filter(|a| a.is_finite()) else {
        return Err(("age", found, "a number".to_string()));
    };
    let years = a * k;
    if years < 0.0 {
        return Err(("age", found, "an age >= 0".to_string()));
    }
    if years > MAX_AGE_YEARS {
        let hint = if k == 1.0 && (1850.0..=2100.0).contains(&a) {
            " (a year of birth typed as an age?)"
        } else {
            ""
        };
        let expected = format!("an age of at most {MAX_AGE_YEARS} years{hint}");
        return Err(("age", found, expected));
    }
    Ok(Some(years))
}

/// The report of a DRUG, REAC or OUTC row, or a reject naming why there is none.
fn report_of(f: &DollarFile, c_id: usize, b: &mut Builder, demo: &Demo) -> Option<u32> {
    let id = f.text(c_id);
    let found = b.report_index(&id);
    if found.is_none() {
        let expected = if demo.rejected.contains(id.as_ref()) {
            "a primaryid of a valid DEMO row (that row was rejected)"
        } else {
            "a primaryid present in the DEMO files"
        };
        b.reject(f.file, f.line, PRIMARYID[0], id.into_owned(), expected);
    }
    found
}

fn read_drug(path: &Path, opts: &Options, b: &mut Builder, demo: &Demo) -> Result<()> {
    let mut f = DollarFile::open(b, path, "drug")?;
    let c_id = f.require(PRIMARYID)?;
    let c_role = f.require(&["role_cod"])?;
    let c_name = f.require(&["drugname"])?;
    let c_ai = f.column(&["prod_ai"]);
    let c_lot = f.column(&["lot_num", "lot_nbr"]);
    while f.next_row(b)? {
        let Some(r) = report_of(&f, c_id, b, demo) else {
            continue;
        };
        let role_text = f.text(c_role);
        // An unknown role is nulled: a null role counts as suspect (the canonical
        // default), and the cell is listed so that a person can look at it.
        let role = match role_text.to_ascii_uppercase().as_str() {
            "PS" | "SS" => Some("suspect"),
            "C" => Some("concomitant"),
            "I" => Some("interacting"),
            _ => None,
        };
        let bad_role = role.is_none().then(|| role_text.into_owned());
        let ai = f.get(c_ai);
        let name = if ai.is_empty() { f.text(c_name) } else { ai };
        let product = normalize_product(&name, opts.strip_dose);
        if product.is_empty() {
            b.reject(
                f.file,
                f.line,
                "drugname",
                "",
                "a drug name (prod_ai or drugname)",
            );
            continue;
        }
        let lot = f.get(c_lot);
        let batch = (!lot.is_empty()).then_some(lot.as_ref());
        b.add_product(r, &product, role, batch);
        b.accept_row(f.file, r, f.line);
        if let Some(found) = bad_role {
            let expected = "one of `PS`, `SS`, `C`, `I` (a null role counts as suspect)";
            b.null_cell(f.file, f.line, "role_cod", found, expected);
        }
    }
    Ok(())
}

fn read_reac(path: &Path, b: &mut Builder, demo: &Demo) -> Result<()> {
    let mut f = DollarFile::open(b, path, "reac")?;
    let c_id = f.require(PRIMARYID)?;
    let c_pt = f.require(&["pt"])?;
    while f.next_row(b)? {
        let Some(r) = report_of(&f, c_id, b, demo) else {
            continue;
        };
        let pt = f.text(c_pt);
        if pt.is_empty() {
            b.reject(f.file, f.line, "pt", "", "a MedDRA preferred term");
            continue;
        }
        b.add_event(r, &pt, demo.onset[r as usize]);
        b.accept_row(f.file, r, f.line);
    }
    Ok(())
}

fn read_outc(path: &Path, b: &mut Builder, demo: &Demo) -> Result<()> {
    let mut f = DollarFile::open(b, path, "outc")?;
    let c_id = f.require(PRIMARYID)?;
    let c_code = f.require(&["outc_cod"])?;
    while f.next_row(b)? {
        let Some(r) = report_of(&f, c_id, b, demo) else {
            continue;
        };
        let code = f.text(c_code).to_ascii_uppercase();
        if !["DE", "LT", "HO", "DS", "CA", "RI", "OT"].contains(&code.as_str()) {
            let expected = "one of `DE`, `LT`, `HO`, `DS`, `CA`, `RI`, `OT`";
            b.reject(f.file, f.line, "outc_cod", code, expected);
            continue;
        }
        let report = b.report_mut(r);
        report.is_serious = Some(true);
        if code == "DE" {
            report.fatal = Some(true);
        } else if report.fatal.is_none() {
            report.fatal = Some(false);
        }
        b.accept_row(f.file, r, f.line);
    }
    Ok(())
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

    #[test]
    fn ages_in_years() {
        assert_eq!(years_per("DEC"), Some(10.0));
        assert_eq!(years_per("yr"), Some(1.0));
        assert!((years_per("MON").unwrap() * 6.0 - 0.5).abs() < 1e-12);
        assert_eq!(years_per("MIN"), None);
    }

    #[test]
    fn product_names() {
        assert_eq!(
            normalize_product("  lipitor  20 mg ", false),
            "LIPITOR 20 MG"
        );
        assert_eq!(normalize_product("  lipitor  20 mg ", true), "LIPITOR");
        assert_eq!(normalize_product("Aspirin 81MG", true), "ASPIRIN");
        assert_eq!(normalize_product("5-fluorouracil", true), "5-FLUOROURACIL");
        assert_eq!(normalize_product("vitamin b12", true), "VITAMIN B12");
        assert_eq!(
            normalize_product("insulin glargine (100 u/ml)", true),
            "INSULIN GLARGINE"
        );
        assert_eq!(
            normalize_product("Hydrocortisone 1 µg", true),
            "HYDROCORTISONE"
        );
    }

    /// strip_dose cuts a trailing dose expression and nothing else.
    #[test]
    fn strip_dose_cuts_doses_not_names() {
        let cases = [
            // Doses and forms are cut.
            ("LIPITOR 20 MG", "LIPITOR"),
            ("METFORMIN HCL 500MG TABLET", "METFORMIN HCL"),
            ("ASPIRIN 81MG", "ASPIRIN"),
            ("ASPIRIN 81 MG.", "ASPIRIN"),
            ("ZOLOFT 50 MG 1 TAB", "ZOLOFT"),
            ("TYLENOL 500 MG TABLETS", "TYLENOL"),
            ("AMOXICILLIN 500MG CAPSULE", "AMOXICILLIN"),
            ("OMEPRAZOLE 20 MG CAPSULES", "OMEPRAZOLE"),
            ("AMOXICILLIN 250 MG/5ML", "AMOXICILLIN"),
            ("AMOXICILLIN 250MG/5ML", "AMOXICILLIN"),
            ("ONDANSETRON 2 MG/ML", "ONDANSETRON"),
            ("HUMIRA 40MG/0.8ML", "HUMIRA"),
            ("FENTANYL 25 MCG/HR", "FENTANYL"),
            ("VITAMIN D3 1000 IU", "VITAMIN D3"),
            ("HEPARIN 5,000 UNITS", "HEPARIN"),
            ("INSULIN GLARGINE (100 U/ML)", "INSULIN GLARGINE"),
            ("INSULIN 70/30 100 IU", "INSULIN 70/30"),
            ("HYDROCORTISONE 0.5%", "HYDROCORTISONE"),
            ("LEVOTHYROXINE 0.05 MG", "LEVOTHYROXINE"),
            ("LEVOTHYROXINE .05MG", "LEVOTHYROXINE"),
            ("AMLODIPINE/BENAZEPRIL 5/10 MG", "AMLODIPINE/BENAZEPRIL"),
            ("ASPIRIN - 81 MG", "ASPIRIN"),
            ("ASPIRIN, 81 MG", "ASPIRIN"),
            ("ASPIRIN TABLET", "ASPIRIN"),
            ("VITAMIN B12 1000 MCG", "VITAMIN B12"),
            ("VITAMIN B12 1000 ΜG", "VITAMIN B12"),
            ("VITAMIN B12 1000 UG", "VITAMIN B12"),
            ("SODIUM CHLORIDE 0.9 % 1 L", "SODIUM CHLORIDE"),
            ("BRAND 0002 170 MG", "BRAND 0002"),
            ("SUBSTANCE 0002 170MG TABLET", "SUBSTANCE 0002"),
            // Names stay whole.
            ("SUBSTANCE 0042", "SUBSTANCE 0042"),
            ("VITAMIN B12", "VITAMIN B12"),
            ("5-FLUOROURACIL", "5-FLUOROURACIL"),
            ("INSULIN 70/30", "INSULIN 70/30"),
            ("FACTOR VIII", "FACTOR VIII"),
            ("COVID-19 VACCINE", "COVID-19 VACCINE"),
            ("ALPHA 1 ANTITRYPSIN", "ALPHA 1 ANTITRYPSIN"),
            ("BOTOX", "BOTOX"),
            ("20 MG", "20 MG"),
            ("MG", "MG"),
            ("VITAMIN G", "VITAMIN G"),
            ("NICOTINE PATCH", "NICOTINE PATCH"),
            ("", ""),
        ];
        for (name, stripped) in cases {
            assert_eq!(strip_dose(name), stripped, "{name}");
        }
    }

    #[test]
    fn implausible_ages_are_nulled_with_a_note() {
        assert_eq!(age_in_years("45", "YR"), Ok(Some(45.0)));
        assert_eq!(age_in_years("3", "DEC"), Ok(Some(30.0)));
        assert_eq!(age_in_years("", "YR"), Ok(None));
        assert_eq!(age_in_years("150", "YR"), Ok(Some(150.0)));
        let birth_year = age_in_years("1974", "YR").unwrap_err();
        assert_eq!(
            birth_year,
            (
                "age",
                "1974 YR".to_string(),
                "an age of at most 150 years (a year of birth typed as an age?)".to_string()
            )
        );
        assert_eq!(
            age_in_years("16", "DEC").unwrap_err().2,
            "an age of at most 150 years"
        );
        assert_eq!(age_in_years("-4", "YR").unwrap_err().2, "an age >= 0");
        assert_eq!(age_in_years("old", "YR").unwrap_err().0, "age");
        assert_eq!(age_in_years("4", "MIN").unwrap_err().0, "age_cod");
        assert_eq!(age_in_years("4", "").unwrap_err().0, "age_cod");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_yyyymmdd("19700102"), Some(1));
        assert_eq!(parse_yyyymmdd("20240230"), None);
        assert_eq!(parse_yyyymmdd("202402"), None);
    }
}
