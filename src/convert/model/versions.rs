//! Report versions: unreadable versions settled, their reports dropped, and the latest
//! version of each case.
//!
//! Convert stage, part of the model. Reads each report's `case_id`, `version`,
//! `received_date` and `report_id`. Invariants: an unreadable version is nulled when its
//! case has no other version, else its report is rejected with every row accepted for it
//! and left out of every table; of each case's remaining versions exactly one is the
//! latest, by the rule in the module header of the model (the same as ingest's).

// polars' own fast hash maps: no new dependency, and the hot loops hash millions of keys.
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

use super::{Builder, Report};
use crate::accounting::Action;

/// An unreadable version of a report, with the cell it came from.
pub(super) struct PendingVersion {
    report: u32,
    file: u32,
    line: u64,
    column: String,
    found: String,
    expected: String,
}
impl Builder {
    /// The version of `report` is unreadable and was left null. Whether that holds is
    /// settled once every report is known ([`settle_versions`](Self::settle_versions)).
    pub fn null_version(
        &mut self,
        report: u32,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.pending_versions.push(PendingVersion {
            report,
            file,
            line,
            column: column.to_string(),
            found: found.into(),
            expected: expected.into(),
        });
    }

    /// Settle the unreadable versions: nulled (a cell note) when the case has no other
    /// version, else the report is rejected with every row accepted for it so far, and
    /// its id no longer names a report. Returns the ids of the reports rejected.
    pub fn settle_versions(&mut self) -> Vec<String> {
        if self.pending_versions.is_empty() {
            return Vec::new();
        }
        let several: Vec<bool> = {
            let mut versions: HashMap<&str, u32> = HashMap::default();
            for (i, r) in self.reports.iter().enumerate() {
                if !self.dead[i] {
                    *versions.entry(r.case_id.as_str()).or_default() += 1;
                }
            }
            self.pending_versions
                .iter()
                .map(|p| versions[self.reports[p.report as usize].case_id.as_str()] > 1)
                .collect()
        };
        let pending = std::mem::take(&mut self.pending_versions);
        let mut dead_now: HashMap<u32, usize> = HashMap::default();
        for (i, p) in pending.iter().enumerate() {
            if several[i] {
                dead_now.entry(p.report).or_insert(i);
            } else {
                let (found, expected) = (p.found.clone(), p.expected.clone());
                self.null_cell(p.file, p.line, &p.column, found, expected);
            }
        }
        if dead_now.is_empty() {
            return Vec::new();
        }
        // The rows of the rejected reports become rejected rows; a row whose version cell
        // is the reason says so, any other row names its report.
        let own: HashMap<(u32, u64), usize> = pending
            .iter()
            .enumerate()
            .filter(|(i, _)| several[*i])
            .map(|(i, p)| ((p.file, p.line), i))
            .collect();
        let mut removed = Vec::new();
        self.rows.retain(|&(file, report, line)| {
            let keep = !dead_now.contains_key(&report);
            if !keep {
                removed.push((file, report, line));
            }
            keep
        });
        // A nulled cell of a rejected row is part of the row's reject.
        {
            let bad_lines: HashSet<(&str, i64)> = removed
                .iter()
                .map(|&(f, _, l)| (self.files[f as usize].path.as_str(), l as i64))
                .collect();
            for r in self.rejects.iter_mut() {
                if r.action == Action::CellNulled && bad_lines.contains(&(r.file.as_str(), r.line))
                {
                    r.action = Action::RowRejected;
                }
            }
        }
        for (file, report, line) in removed {
            let id = self.reports[report as usize].report_id.clone();
            match own.get(&(file, line)) {
                Some(&i) => {
                    let p = &pending[i];
                    let expected = format!(
                        "{} (the case has several versions, and the version decides the latest)",
                        p.expected
                    );
                    self.reject(file, line, &p.column, p.found.clone(), expected);
                }
                None => {
                    let p = &pending[dead_now[&report]];
                    let expected = format!(
                        "a row of a report that was not rejected (report `{id}`: its {} is unreadable and its case has several versions)",
                        p.column
                    );
                    self.reject(file, line, "", id.clone(), expected);
                }
            }
        }
        let mut ids = Vec::new();
        for &report in dead_now.keys() {
            self.dead[report as usize] = true;
            let id = self.reports[report as usize].report_id.clone();
            self.index.remove(id.as_str());
            ids.push(id);
        }
        ids.sort();
        ids
    }
    /// Leave the rejected reports, and their products and events, out of the tables.
    pub(super) fn drop_dead(&mut self) {
        let mut new_index = vec![u32::MAX; self.reports.len()];
        let mut kept = Vec::with_capacity(self.reports.len());
        for (i, r) in std::mem::take(&mut self.reports).into_iter().enumerate() {
            if !self.dead[i] {
                new_index[i] = kept.len() as u32;
                kept.push(r);
            }
        }
        self.reports = kept;
        self.dead = vec![false; self.reports.len()];
        self.products
            .retain(|p| new_index[p.report as usize] != u32::MAX);
        for p in self.products.iter_mut() {
            p.report = new_index[p.report as usize];
        }
        self.events
            .retain(|e| new_index[e.report as usize] != u32::MAX);
        for e in self.events.iter_mut() {
            e.report = new_index[e.report as usize];
        }
        for row in self.rows.iter_mut() {
            row.1 = new_index[row.1 as usize];
        }
        self.index = self
            .reports
            .iter()
            .enumerate()
            .map(|(i, r)| (r.report_id.as_str().into(), i as u32))
            .collect();
    }

    /// The latest version of each case: see the module header for the rule.
    pub(super) fn latest(&self) -> Vec<bool> {
        let key = |r: &Report| (r.version.unwrap_or(1), r.received);
        let mut best: HashMap<&str, u32> = HashMap::default();
        for (i, r) in self.reports.iter().enumerate() {
            if self.dead[i] {
                continue;
            }
            let slot = best.entry(r.case_id.as_str()).or_insert(i as u32);
            let b = &self.reports[*slot as usize];
            if (key(r), r.report_id.as_str()) > (key(b), b.report_id.as_str()) {
                *slot = i as u32;
            }
        }
        let mut latest = vec![false; self.reports.len()];
        for i in best.into_values() {
            latest[i as usize] = true;
        }
        latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, case: &str, version: Option<i64>, received: i32) -> Report {
        Report {
            report_id: id.into(),
            case_id: case.into(),
            version,
            received,
            class: "drug",
            region: "310000".into(),
            reporter_type: None,
            sentinel: None,
            is_new: None,
            is_serious: None,
            fatal: None,
            sex: None,
            age_years: None,
        }
    }

    #[test]
    fn latest_version_follows_the_ingest_rule() {
        let mut b = Builder::new();
        // Case A: version 2 wins over a later-received version 1.
        b.add_report(report("A1", "A", Some(2), 10));
        b.add_report(report("A2", "A", Some(1), 20));
        // Case B: same version, later received wins; then higher report_id.
        b.add_report(report("B1", "B", None, 10));
        b.add_report(report("B2", "B", Some(1), 11));
        b.add_report(report("C1", "C", Some(1), 5));
        b.add_report(report("C2", "C", Some(1), 5));
        assert_eq!(b.latest(), vec![true, false, false, true, false, true]);
    }
}
