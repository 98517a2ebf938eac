//! FAERS OUTC rows → `reports.is_serious` and `reports.fatal`.
//!
//! Convert stage, FAERS. Reads OUTC `primaryid` (`isr`) and `outc_cod`; any known code
//! makes its report serious, and `DE` makes it fatal. The DEMO pass sets both to false
//! when the quarter has an OUTC file, so a report with no OUTC row is neither.
//!
//! Invariant: a row with an unknown code, or whose primaryid is not a valid DEMO row, is
//! rejected.

use std::path::Path;

use super::{report_of, Demo, PRIMARYID};
use crate::convert::dollar::DollarFile;
use crate::convert::model::Builder;
use crate::error::Result;

pub(super) fn read_outc(path: &Path, b: &mut Builder, demo: &Demo) -> Result<()> {
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
