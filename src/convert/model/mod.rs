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
//!
//! The types live here; the [`Builder`]'s work is split by concern: `accounts` (files,
//! accepted and rejected rows, nulled cells), `versions` (unreadable versions, the latest
//! version of each case) and `tables` ([`Builder::finish`]).

mod accounts;
pub mod interner;
mod tables;
mod versions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
// polars' own fast hash maps: no new dependency, and the hot loops hash millions of keys.
use polars::prelude::PlHashMap as HashMap;

use crate::accounting::Reject;
use crate::error::Result;
use interner::Interner;
use versions::PendingVersion;

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
    /// Why the file is not well-formed XML (E2B), with its line and column: the whole
    /// file was rejected, each ICSR in it a rejected row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<String>,
    /// A CSV export's encoding (flat), as read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<crate::records::encoding::Encoding>,
    /// A workbook export's sheet (flat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// Columns of the file that hold personal data (the mapping's `personal`): never read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub personal_columns_dropped: Vec<String>,
}

/// A source file that was missing and allowed to be (`--allow-missing`), and what its
/// absence leaves unknown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingFile {
    /// The part, as `--allow-missing` names it in upper case (`OUTC`).
    pub part: &'static str,
    /// The file that was looked for, in the folder it was looked for in.
    pub path: String,
    /// The canonical columns left null (unknown) for the reports it would have covered.
    pub unknown: &'static [&'static str],
}

/// The canonical tables of a conversion, with its accounting and rejects.
pub struct Tables {
    pub reports: DataFrame,
    pub report_products: DataFrame,
    pub report_events: DataFrame,
    pub products: DataFrame,
    pub sources: Vec<SourceAccount>,
    pub rejects: Vec<Reject>,
    /// Source files that were missing and allowed to be.
    pub missing: Vec<MissingFile>,
    /// Report versions whose seriousness (`is_serious`) is unknown (null).
    pub serious_unknown: u64,
}

/// A product's registry details from a flat export: (holder, approval number).
type ProductDetails = (Option<Box<str>>, Option<Box<str>>);

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
    /// Source files that were missing and allowed to be.
    missing: Vec<MissingFile>,
    /// Per product: (holder, approval number), from the first row naming them (flat).
    product_details: HashMap<u32, ProductDetails>,
    /// Per workbook file: its sheet, header names and first column, to name cells.
    sheet_cells: HashMap<u32, (String, Vec<String>, u32)>,
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
            missing: Vec::new(),
            product_details: HashMap::default(),
            sheet_cells: HashMap::default(),
        }
    }

    /// Keep a product's holder and approval number for the registry: the first values
    /// given for it win.
    pub fn set_product_details(
        &mut self,
        product_id: &str,
        holder: Option<&str>,
        approval_number: Option<&str>,
    ) {
        if holder.is_none() && approval_number.is_none() {
            return;
        }
        let product = self.product_names.intern(product_id);
        let entry = self.product_details.entry(product).or_default();
        if entry.0.is_none() {
            entry.0 = holder.map(Into::into);
        }
        if entry.1.is_none() {
            entry.1 = approval_number.map(Into::into);
        }
    }

    /// The registry details of a product (holder, approval number).
    pub(super) fn product_details(&self, product: u32) -> (Option<&str>, Option<&str>) {
        self.product_details
            .get(&product)
            .map_or((None, None), |(h, a)| (h.as_deref(), a.as_deref()))
    }

    /// A workbook file's sheet and header, so that its rejects name their cells.
    pub fn set_sheet_table(&mut self, file: u32, table: &crate::sheets::SheetTable) {
        self.files[file as usize].sheet = Some(table.sheet.clone());
        self.sheet_cells.insert(
            file,
            (table.sheet.clone(), table.names.clone(), table.first_column),
        );
    }

    /// A CSV file's encoding, for the manifest.
    pub fn set_encoding(&mut self, file: u32, encoding: crate::records::encoding::Encoding) {
        self.files[file as usize].encoding = Some(encoding);
    }

    /// The personal-data columns found in a file, never read: the manifest lists them.
    pub fn set_personal_dropped(&mut self, file: u32, columns: Vec<String>) {
        self.files[file as usize].personal_columns_dropped = columns;
    }

    /// The cell a reject names in a workbook file (`报告!C17`); empty for other files.
    pub(super) fn cell_of(&self, file: u32, line: u64, column: &str) -> String {
        let Some((sheet, names, first)) = self.sheet_cells.get(&file) else {
            return String::new();
        };
        let i = names.iter().position(|n| n == column).unwrap_or(0) as u32;
        crate::sheets::cell_ref(sheet, first + i, u32::try_from(line).unwrap_or(0))
    }

    /// A source file was missing and allowed to be: the manifest and summary say so.
    pub fn allow_missing(&mut self, missing: MissingFile) {
        self.missing.push(missing);
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
