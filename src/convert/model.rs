//! The canonical tables that a conversion builds, and its row accounting.
//!
//! Every reader (FAERS, E2B, flat) feeds one [`Builder`]: it registers its source files,
//! adds reports (one per report version), their products and events, and says which
//! report each accepted source row belongs to, or rejects the row with its line and
//! reason. [`Builder::finish`] then picks the latest version of each case with the same
//! rule as ingest (highest `version`, default 1, then latest `received_date`, then highest
//! `report_id`), so that a source row is *used* when its report is the latest version and
//! *superseded* otherwise. Older versions stay in the canonical tables, so that ingest
//! computes the first receipt of a case from its earliest version, as it does for
//! canonical inputs; ingest then reaches the same used/superseded split.
//!
//! A bad value in an optional field is nulled and its row kept ([`Builder::null_cell`]):
//! one line in `rejects.csv` with `action = cell nulled`, counted by column in the
//! file's `nulled_cells`, never as a rejected row. An unreadable version is nulled only
//! when its case has no other version ([`Builder::null_version`]); with several, the
//! version decides which one is the latest, so the report is rejected with all its rows.
//!
//! Invariant, per source file: `read = used + superseded + duplicate + rejected`
//! (`duplicate`: an E2B ICSR retransmitted unchanged, dropped without a reject).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
// polars' own fast hash maps: no new dependency, and the hot loops hash millions of keys.
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

use crate::accounting::{Action, Reject};
use crate::error::{PolarsContext, Result};
use crate::files::sha256_file;
use crate::schema::col;

/// Distinct strings, numbered in order of first appearance.
#[derive(Default)]
pub struct Interner {
    map: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(i) = self.map.get(s) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.map.insert(s.into(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// One report version, with its canonical values.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub report_id: String,
    pub case_id: String,
    pub version: Option<i64>,
    /// Days since the Unix epoch.
    pub received: i32,
    pub class: &'static str,
    pub region: String,
    pub reporter_type: Option<&'static str>,
    pub sentinel: Option<bool>,
    pub is_new: Option<bool>,
    pub is_serious: Option<bool>,
    pub fatal: Option<bool>,
    pub sex: Option<&'static str>,
    pub age_years: Option<f64>,
}

/// A product named in a report (indices into the builder's reports and product names).
struct ProductRow {
    report: u32,
    product: u32,
    role: Option<&'static str>,
    batch: Option<Box<str>>,
}

/// An event of a report.
struct EventRow {
    report: u32,
    event: u32,
    onset: Option<i32>,
}

/// Row accounting and provenance of one source file, as written to the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceAccount {
    pub path: String,
    /// What the file holds: `demo`, `drug`, `reac`, `outc` (FAERS), `icsr` (E2B), `flat`.
    pub kind: &'static str,
    pub size_bytes: u64,
    pub sha256: String,
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    /// ICSRs read again unchanged (E2B): dropped, not rejected.
    pub duplicate: u64,
    pub rejected: u64,
    /// Bad optional values nulled in rows that were kept, by column.
    pub nulled_cells: BTreeMap<String, u64>,
}

/// The canonical tables of a conversion, with its accounting and rejects.
pub struct Tables {
    pub reports: DataFrame,
    pub report_products: DataFrame,
    pub report_events: DataFrame,
    pub products: DataFrame,
    pub sources: Vec<SourceAccount>,
    pub rejects: Vec<Reject>,
}

/// Collects reports, products, events and the fate of every source row.
pub struct Builder {
    files: Vec<SourceAccount>,
    reports: Vec<Report>,
    index: HashMap<Box<str>, u32>,
    products: Vec<ProductRow>,
    events: Vec<EventRow>,
    product_names: Interner,
    event_names: Interner,
    /// (file, report, line) of every accepted source row.
    rows: Vec<(u32, u32, u64)>,
    rejects: Vec<Reject>,
    /// Reports rejected after they were added (an unreadable version in a case with
    /// several versions): left out of every table.
    dead: Vec<bool>,
    /// Unreadable versions, settled once every report is known.
    pending_versions: Vec<PendingVersion>,
}

/// An unreadable version of a report, with the cell it came from.
struct PendingVersion {
    report: u32,
    file: u32,
    line: u64,
    column: String,
    found: String,
    expected: String,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            files: Vec::new(),
            reports: Vec::new(),
            index: HashMap::default(),
            products: Vec::new(),
            events: Vec::new(),
            product_names: Interner::default(),
            event_names: Interner::default(),
            rows: Vec::new(),
            rejects: Vec::new(),
            dead: Vec::new(),
            pending_versions: Vec::new(),
        }
    }

    /// Register a source file (its size and sha256 are taken now); returns its number.
    pub fn add_file(&mut self, path: &Path, kind: &'static str) -> Result<u32> {
        let (size_bytes, sha256) = sha256_file(path)?;
        self.files.push(SourceAccount {
            path: path.display().to_string(),
            kind,
            size_bytes,
            sha256,
            read: 0,
            used: 0,
            superseded: 0,
            duplicate: 0,
            rejected: 0,
            nulled_cells: BTreeMap::new(),
        });
        Ok(self.files.len() as u32 - 1)
    }

    pub fn path(&self, file: u32) -> &str {
        &self.files[file as usize].path
    }

    /// Count rows read from a file.
    pub fn read(&mut self, file: u32, n: u64) {
        self.files[file as usize].read += n;
    }

    /// Reject a row that was read: one row in the count, one line in `rejects.csv`.
    pub fn reject(
        &mut self,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.files[file as usize].rejected += 1;
        self.record(Action::RowRejected, file, line, column, found, expected);
    }

    /// Null a bad optional value of a row that is kept: one line in `rejects.csv`
    /// (`cell nulled`), no rejected row.
    pub fn null_cell(
        &mut self,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.record(Action::CellNulled, file, line, column, found, expected);
    }

    fn record(
        &mut self,
        action: Action,
        file: u32,
        line: u64,
        column: &str,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) {
        let f = &self.files[file as usize];
        self.rejects.push(Reject {
            action,
            table: f.kind,
            file: f.path.clone(),
            line: line as i64,
            column: column.to_string(),
            found: found.into(),
            expected: expected.into(),
        });
    }

    /// A row read again unchanged (an E2B retransmission): counted, dropped, no reject.
    pub fn duplicate(&mut self, file: u32) {
        self.files[file as usize].duplicate += 1;
    }

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

    /// The report with this id, if one was added.
    pub fn report_index(&self, report_id: &str) -> Option<u32> {
        self.index.get(report_id).copied()
    }

    pub fn report(&self, i: u32) -> &Report {
        &self.reports[i as usize]
    }

    pub fn report_mut(&mut self, i: u32) -> &mut Report {
        &mut self.reports[i as usize]
    }

    /// Add a report; the caller has checked that its id is new.
    pub fn add_report(&mut self, report: Report) -> u32 {
        let i = self.reports.len() as u32;
        self.index.insert(report.report_id.as_str().into(), i);
        self.reports.push(report);
        self.dead.push(false);
        i
    }

    /// The source row on `line` of `file` was accepted as part of `report`.
    pub fn accept_row(&mut self, file: u32, report: u32, line: u64) {
        self.rows.push((file, report, line));
    }

    pub fn add_product(
        &mut self,
        report: u32,
        product_id: &str,
        role: Option<&'static str>,
        batch: Option<&str>,
    ) {
        let product = self.product_names.intern(product_id);
        self.products.push(ProductRow {
            report,
            product,
            role,
            batch: batch.map(Into::into),
        });
    }

    pub fn add_event(&mut self, report: u32, event: &str, onset: Option<i32>) {
        let event = self.event_names.intern(event);
        self.events.push(EventRow {
            report,
            event,
            onset,
        });
    }

    /// Leave the rejected reports, and their products and events, out of the tables.
    fn drop_dead(&mut self) {
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
    fn latest(&self) -> Vec<bool> {
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

    /// Settle the accounting and build the canonical tables.
    pub fn finish(mut self, class: &'static str) -> Result<Tables> {
        self.settle_versions();
        if self.dead.iter().any(|d| *d) {
            self.drop_dead();
        }
        let latest = self.latest();
        for &(file, report, _) in &self.rows {
            let f = &mut self.files[file as usize];
            if latest[report as usize] {
                f.used += 1;
            } else {
                f.superseded += 1;
            }
        }
        // Rejects in the order the files were read, then by line.
        {
            let order: HashMap<&str, usize> = self
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.as_str(), i))
                .collect();
            self.rejects
                .sort_by_key(|r| (order.get(r.file.as_str()).copied(), r.line));
        }
        {
            let file_of: HashMap<String, usize> = self
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.clone(), i))
                .collect();
            for r in self
                .rejects
                .iter()
                .filter(|r| r.action == Action::CellNulled)
            {
                if let Some(&i) = file_of.get(&r.file) {
                    *self.files[i]
                        .nulled_cells
                        .entry(r.column.clone())
                        .or_default() += 1;
                }
            }
        }
        let ctx = |t: &'static str| move || format!("convert: building {t}");

        let r = &self.reports;
        let strs = |f: fn(&Report) -> Option<&str>| r.iter().map(f).collect::<Vec<_>>();
        let bools = |f: fn(&Report) -> Option<bool>| r.iter().map(f).collect::<Vec<_>>();
        let received: Int32Chunked = r.iter().map(|x| Some(x.received)).collect();
        let reports = DataFrame::new_infer_height(vec![
            Column::new(col::REPORT_ID.into(), strs(|x| Some(&x.report_id))),
            Column::new(col::CASE_ID.into(), strs(|x| Some(&x.case_id))),
            Column::new(
                col::VERSION.into(),
                r.iter().map(|x| x.version).collect::<Vec<_>>(),
            ),
            received
                .into_series()
                .cast(&DataType::Date)
                .context(ctx("reports"))?
                .with_name(col::RECEIVED_DATE.into())
                .into_column(),
            Column::new(col::CLASS.into(), strs(|x| Some(x.class))),
            Column::new(col::REGION.into(), strs(|x| Some(&x.region))),
            Column::new(col::REPORTER_TYPE.into(), strs(|x| x.reporter_type)),
            Column::new(col::SENTINEL.into(), bools(|x| x.sentinel)),
            Column::new(col::IS_NEW.into(), bools(|x| x.is_new)),
            Column::new(col::IS_SERIOUS.into(), bools(|x| x.is_serious)),
            Column::new(col::FATAL.into(), bools(|x| x.fatal)),
            Column::new(col::SEX.into(), strs(|x| x.sex)),
            Column::new(
                col::AGE_YEARS.into(),
                r.iter().map(|x| x.age_years).collect::<Vec<_>>(),
            ),
        ])
        .context(ctx("reports"))?;

        // Exact duplicates within a report (a product or event listed twice) add nothing.
        let mut seen = HashSet::default();
        self.products
            .retain(|p| seen.insert((p.report, p.product, p.role, p.batch.clone())));
        let mut seen = HashSet::default();
        self.events
            .retain(|e| seen.insert((e.report, e.event, e.onset)));

        let id_of = |i: u32| r[i as usize].report_id.as_str();
        let pn = &self.product_names;
        let report_products = DataFrame::new_infer_height(vec![
            Column::new(
                col::REPORT_ID.into(),
                self.products
                    .iter()
                    .map(|p| id_of(p.report))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::PRODUCT_ID.into(),
                self.products
                    .iter()
                    .map(|p| pn.get(p.product))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::ROLE.into(),
                self.products.iter().map(|p| p.role).collect::<Vec<_>>(),
            ),
            Column::new(
                col::BATCH.into(),
                self.products
                    .iter()
                    .map(|p| p.batch.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ])
        .context(ctx("report_products"))?;

        let en = &self.event_names;
        let onset: Int32Chunked = self.events.iter().map(|e| e.onset).collect();
        let report_events = DataFrame::new_infer_height(vec![
            Column::new(
                col::REPORT_ID.into(),
                self.events
                    .iter()
                    .map(|e| id_of(e.report))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENT.into(),
                self.events
                    .iter()
                    .map(|e| en.get(e.event))
                    .collect::<Vec<_>>(),
            ),
            onset
                .into_series()
                .cast(&DataType::Date)
                .context(ctx("report_events"))?
                .with_name(col::ONSET_DATE.into())
                .into_column(),
        ])
        .context(ctx("report_events"))?;

        // The registry: each distinct product, with the class of the first report naming it.
        let mut class_of = vec![class; pn.len()];
        let mut set = vec![false; pn.len()];
        for p in &self.products {
            if !set[p.product as usize] {
                set[p.product as usize] = true;
                class_of[p.product as usize] = r[p.report as usize].class;
            }
        }
        let names: Vec<&str> = (0..pn.len() as u32).map(|i| pn.get(i)).collect();
        let n = names.len();
        let none_bool = || vec![None::<bool>; n];
        let products = DataFrame::new_infer_height(vec![
            Column::new(col::PRODUCT_ID.into(), names.clone()),
            Column::new(col::NAME.into(), names),
            Column::new(col::CLASS.into(), class_of),
            Column::new(col::INNOVATIVE.into(), none_bool()),
            Column::new(col::CONDITIONAL.into(), none_bool()),
            Column::new(col::PROCURED.into(), none_bool()),
        ])
        .context(ctx("products"))?;

        Ok(Tables {
            reports,
            report_products,
            report_events,
            products,
            sources: self.files,
            rejects: self.rejects,
        })
    }
}

/// Files under `dir` (not recursive) whose lower-cased name satisfies `keep`, sorted by
/// name so that a conversion reads them in a stable order.
pub fn list_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let io = |e| crate::error::Error::io(dir, e);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if entry.path().is_file() && keep(&name) {
            out.push(entry.path());
        }
    }
    out.sort_by_key(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
    });
    Ok(out)
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
