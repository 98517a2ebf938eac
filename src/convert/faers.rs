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
//! | DEMO rept_cod EXP/PER/5DAY, DIR | reports.reporter_type `mah`, `individual` |
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
/// `strip_dose`, the dose text from the first word after the first that starts with a
/// digit (`LIPITOR 20 MG` → `LIPITOR`, `ASPIRIN 81MG` → `ASPIRIN`).
pub fn normalize_product(name: &str, strip_dose: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split_whitespace().enumerate() {
        let starts_with_digit = word
            .trim_start_matches(['(', '.'])
            .starts_with(|c: char| c.is_ascii_digit());
        if strip_dose && i > 0 && starts_with_digit {
            break;
        }
        if i > 0 {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_uppercase));
    }
    if strip_dose {
        let keep = out.trim_end_matches([',', '-', '/', ' ']).len();
        out.truncate(keep);
    }
    out
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
        let mut bad = |b: &mut Builder, column: &str, found: &str, expected: &str| {
            b.reject(file, line, column, found, expected);
            demo.rejected.insert(id.clone());
        };
        let case_id = f.text(c_case);
        if case_id.is_empty() {
            bad(b, "caseid", "", "a non-empty caseid");
            continue;
        }
        let version_text = f.get(c_version);
        let version = match version_text.parse::<i64>() {
            _ if version_text.is_empty() => None,
            Ok(v) if v >= 1 => Some(v),
            _ => {
                bad(b, "caseversion", &version_text, "an integer >= 1");
                continue;
            }
        };
        let fda = f.text(c_fda);
        let received = if fda.is_empty() {
            parse_yyyymmdd(&f.get(c_init))
        } else {
            parse_yyyymmdd(&fda)
        };
        let Some(received) = received else {
            bad(
                b,
                "fda_dt",
                &fda,
                "a date YYYYMMDD (fda_dt, else init_fda_dt)",
            );
            continue;
        };
        let sex_text = f.get(c_sex);
        let sex = match sex_text.to_ascii_uppercase().as_str() {
            "" => None,
            "M" => Some("M"),
            "F" => Some("F"),
            "UNK" | "NS" | "U" => Some("U"),
            _ => {
                bad(b, "sex", &sex_text, "one of `M`, `F`, `UNK`, `NS`");
                continue;
            }
        };
        let (age_text, unit) = (f.get(c_age), f.get(c_age_cod));
        let age_years = if age_text.is_empty() || unit.is_empty() {
            None // an age without its unit cannot be read as years
        } else {
            match (age_text.parse::<f64>(), years_per(&unit)) {
                (Ok(a), Some(k)) if a.is_finite() && (0.0..=150.0).contains(&(a * k)) => {
                    Some(a * k)
                }
                (_, None) => {
                    bad(
                        b,
                        "age_cod",
                        &unit,
                        "one of `DEC`, `YR`, `MON`, `WK`, `DY`, `HR`",
                    );
                    continue;
                }
                _ => {
                    let found = format!("{age_text} {unit}");
                    bad(b, "age", &found, "an age from 0 to 150 years");
                    continue;
                }
            }
        };
        let reporter_type = match f.get(c_rept).to_ascii_uppercase().as_str() {
            "EXP" | "PER" | "5DAY" => Some("mah"),
            "DIR" => Some("individual"),
            _ => None,
        };
        let onset = parse_yyyymmdd(&f.get(c_event));
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
        b.accept_row(file, r);
        first_line.insert(id, (file, line));
    }
    if c_id == 0 {
        demo.rejected.extend(std::mem::take(&mut f.short_row_keys));
    }
    Ok(())
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
        let role = match role_text.to_ascii_uppercase().as_str() {
            "PS" | "SS" => "suspect",
            "C" => "concomitant",
            "I" => "interacting",
            _ => {
                let found = role_text.into_owned();
                b.reject(
                    f.file,
                    f.line,
                    "role_cod",
                    found,
                    "one of `PS`, `SS`, `C`, `I`",
                );
                continue;
            }
        };
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
        b.add_product(r, &product, Some(role), batch);
        b.accept_row(f.file, r);
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
        b.accept_row(f.file, r);
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
        b.accept_row(f.file, r);
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
    }

    #[test]
    fn dates() {
        assert_eq!(parse_yyyymmdd("19700102"), Some(1));
        assert_eq!(parse_yyyymmdd("20240230"), None);
        assert_eq!(parse_yyyymmdd("202402"), None);
    }
}
