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
//! with no OUTC row is not serious and not fatal. A quarter without its OUTC file is an
//! error naming the file, unless the options allow `outc` to be missing: then the
//! quarter's reports have `is_serious` and `fatal` null (unknown), never false, and the
//! missing file is listed ([`Builder::allow_missing`]). THER, INDI, RPSR and DEDUP files
//! are not read, so their absence changes nothing.
//!
//! Dates are plausible from 1968-01-01 to today ([`crate::plausible`]): a receipt date
//! outside that rejects the DEMO row (it is the key), an `event_dt` outside it is nulled
//! with a note. A DEMO row whose primaryid was seen on an
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
//!
//! One file per FAERS file kind: `quarters` finds the files of each quarter, then `demo`,
//! `drug`, `reac` and `outc` read their rows into the [`Builder`].

pub mod demo;
pub mod drug;
mod outc;
mod quarters;
mod reac;

use polars::prelude::PlHashSet as HashSet;
use std::path::Path;

use super::dollar::DollarFile;
use super::model::{Builder, MissingFile};
use super::Options;
use crate::error::{Error, Result};
use demo::read_demo;
use drug::read_drug;
use outc::read_outc;
use quarters::find_quarters;
use reac::read_reac;

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
    let allow_outc = opts.allow_missing.iter().any(|p| p == "outc");
    let (quarters, dir) = find_quarters(src, allow_outc)?;
    for q in quarters.iter().filter(|q| q.outc.is_none()) {
        let name = format!("OUTC{}.txt", q.tag.to_ascii_uppercase());
        b.allow_missing(MissingFile {
            part: "OUTC",
            path: dir.join(name).display().to_string(),
            unknown: &["is_serious", "fatal"],
        });
    }
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
