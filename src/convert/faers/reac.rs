//! FAERS REAC rows → `report_events`.
//!
//! Convert stage, FAERS. Reads REAC `primaryid` (`isr`) and `pt`; writes one event per
//! row, with the onset (`event_dt`) of its report's DEMO row.
//!
//! Invariant: a row with no `pt`, or whose primaryid is not a valid DEMO row, is rejected.

use std::path::Path;

use super::{report_of, Demo, PRIMARYID};
use crate::convert::dollar::DollarFile;
use crate::convert::model::Builder;
use crate::error::Result;

pub(super) fn read_reac(path: &Path, b: &mut Builder, demo: &Demo) -> Result<()> {
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
