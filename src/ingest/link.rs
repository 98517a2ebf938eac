//! Linking the tables: once each case's latest version is chosen and `cases` built
//! (`versions`), the child tables (report_products, report_events) are streamed in
//! batches, checked and linked to their case as they are read; then every table's
//! accounting and the tolerance check.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use super::table::{account, check_cells, row_reporter, settle_actions, Batches, Checked, Loaded};
use super::validate::DateRules;
use super::versions::{select_cases, Cases};
use super::Dataset;
use crate::accounting::{check_tolerance, Action, Reject, TableAccount};
use crate::error::{PolarsContext, Result};
use crate::files::sha256_file;
use crate::progress::{timed, RowCounter};
use crate::schema::{self, col, TableSpec, COUNTED_ROLES};

/// Whether a table is a child of `reports`, streamed in batches and linked as it is read.
pub(super) fn is_child(spec: &TableSpec) -> bool {
    spec.name == schema::REPORT_PRODUCTS.name || spec.name == schema::REPORT_EVENTS.name
}

/// The columns of a child table that later stages use, besides `__case`. The others are
/// checked and then let go: report_id (replaced by the case key) and role (only rows whose
/// role counts are kept; see [`schema::COUNTED_ROLES`]).
fn kept_child_columns(spec: &TableSpec) -> &'static [&'static str] {
    if spec.name == schema::REPORT_PRODUCTS.name {
        &[col::PRODUCT_ID, col::BATCH]
    } else {
        &[col::EVENT, col::ONSET_DATE]
    }
}

/// Rows per batch of a streamed child table: big enough that per-batch costs vanish, small
/// enough that a batch's text (about 100 bytes a row) is a few hundred MB on each core.
const CHILD_BATCH_ROWS: usize = 1 << 20;

/// Supersession and cross-table checks; then the tolerance check.
pub(super) fn link(
    mut tables: Vec<Loaded>,
    children: Vec<(&'static TableSpec, PathBuf, Batches)>,
    cutoff: NaiveDate,
    counter: &RowCounter,
    max_rejected_fraction: f64,
    dates: &DateRules,
) -> Result<Dataset> {
    let take = |tables: &mut Vec<Loaded>, name: &str| -> Option<Loaded> {
        let i = tables.iter().position(|t| t.spec.name == name)?;
        Some(tables.remove(i))
    };
    let mut reports = take(&mut tables, schema::REPORTS.name).expect("required");
    let products = take(&mut tables, schema::PRODUCTS.name).expect("required");
    let populations = take(&mut tables, schema::POPULATIONS.name).expect("required");
    let event_terms = take(&mut tables, schema::EVENT_TERMS.name);

    let Cases {
        cases,
        superseded,
        ids,
        latest,
        later,
        data_cutoff,
    } = select_cases(&mut reports, cutoff)?;

    let file_of_reports = reports.path.display().to_string();

    // Report id → its case key (latest versions, in row order) or SUPERSEDED.
    let status = timed("ingest: indexing report ids", || {
        let mut status: ReportStatus =
            HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let mut next: IdxSize = 0;
        for ((id, latest), later) in ids.iter().zip(&latest).zip(&later) {
            let key = if *latest {
                next += 1;
                next - 1
            } else if *later {
                AFTER_CUTOFF
            } else {
                SUPERSEDED
            };
            if let Some(id) = id {
                status.insert(id, key);
            }
        }
        status
    });
    let linker = Linker {
        status: &status,
        rejected_keys: &reports.rejected_keys,
        file_of_reports: &file_of_reports,
        dates,
    };
    // The two child tables stream at once, one per core.
    let linked: Vec<Result<Loaded>> = std::thread::scope(|scope| {
        let handles: Vec<_> = children
            .into_iter()
            .map(|(spec, path, batches)| {
                let linker = &linker;
                scope.spawn(move || {
                    timed(&format!("ingest: {} read and linked", spec.name), || {
                        linker.load_child(spec, &path, batches, counter)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("linking thread"))
            .collect()
    });
    drop(status);
    drop(ids);
    // The first error in table order, as for the whole tables.
    let mut linked = linked.into_iter().collect::<Result<Vec<Loaded>>>()?;
    let products_of = take(&mut linked, schema::REPORT_PRODUCTS.name).expect("required");
    let events_of = take(&mut linked, schema::REPORT_EVENTS.name).expect("required");

    let all = || {
        [&reports, &products_of, &events_of, &products, &populations]
            .into_iter()
            .chain(&event_terms)
    };
    let accounts: Vec<TableAccount> = all().map(account).collect();
    let rejects: Vec<Reject> = all().flat_map(|t| t.rejects.iter().cloned()).collect();

    check_tolerance(&accounts, &rejects, max_rejected_fraction)?;

    Ok(Dataset {
        cases,
        superseded_versions: superseded,
        case_products: products_of.df,
        case_events: events_of.df,
        products: products.df,
        populations: populations.df,
        event_terms: event_terms.map(|t| t.df),
        rejects,
        tables: accounts,
        data_cutoff,
    })
}

/// A report id's case key when it is the latest version of its case.
type ReportStatus<'a> = HashMap<&'a str, IdxSize, foldhash::fast::FixedState>;
/// The status of a report that a later version of its case superseded.
const SUPERSEDED: IdxSize = IdxSize::MAX;
/// The status of a report received after the run's cut-off: superseded, for the run.
const AFTER_CUTOFF: IdxSize = IdxSize::MAX - 1;

/// One batch of a child table, linked: the kept rows and the row accounting.
struct Linked {
    df: DataFrame,
    used: u64,
    superseded: u64,
    /// Of `superseded`: rows of reports received after the run's cut-off.
    after_cutoff: u64,
}

/// Links a child table (report_products, report_events) to the reports.
struct Linker<'a> {
    status: &'a ReportStatus<'a>,
    rejected_keys: &'a HashSet<String>,
    file_of_reports: &'a str,
    dates: &'a DateRules,
}

impl Linker<'_> {
    /// Stream a child table: read, check and link each batch, keeping the rows of latest
    /// versions in the columns later stages use (see [`kept_child_columns`]).
    fn load_child(
        &self,
        spec: &'static TableSpec,
        path: &Path,
        mut batches: Batches,
        counter: &RowCounter,
    ) -> Result<Loaded> {
        let on_rows = row_reporter(counter);
        let (size_bytes, sha256) = sha256_file(path)?;
        let format = batches.format();
        let extra_columns = batches.extra_columns().to_vec();
        let (mut read, mut rejected, mut used, mut superseded, mut after_cutoff) = (0, 0, 0, 0, 0);
        let mut rejects = Vec::new();
        let mut parts: Vec<DataFrame> = Vec::new();
        while !batches.is_done() {
            let raw = batches.next_batch(CHILD_BATCH_ROWS, &on_rows)?;
            let mut checked = check_cells(spec, path, raw, self.dates)?;
            let linked = self.link(spec, path, &mut checked)?;
            settle_actions(&mut checked.rejects, &checked.good, &checked.lines);
            read += checked.read;
            rejected += checked.rejected();
            used += linked.used;
            superseded += linked.superseded;
            after_cutoff += linked.after_cutoff;
            rejects.append(&mut checked.rejects);
            parts.push(linked.df);
        }
        rejects.sort_by_key(|r| r.line);
        let ctx = || format!("{}: linking to reports", path.display());
        let mut parts = parts.into_iter();
        let mut df = parts.next().expect("a file gives at least one batch");
        for part in parts {
            df.vstack_mut_owned(part).context(ctx)?;
        }
        Ok(Loaded {
            spec,
            path: path.to_path_buf(),
            df,
            read,
            used,
            superseded,
            after_cutoff,
            rejected,
            rejects,
            rejected_keys: HashSet::new(),
            extra_columns,
            size_bytes,
            sha256,
            format,
        })
    }

    /// Link one checked batch of a child table. Rows of latest versions are used; of those,
    /// the ones later stages need (in report_products, a role that counts) are kept, with
    /// their case key (`__case`) in place of the report id. Superseded rows are counted.
    /// A row whose report_id is not a valid report is rejected (marked not good). Returns
    /// the kept rows, in file order, with the used and superseded counts.
    fn link(&self, spec: &TableSpec, path: &Path, checked: &mut Checked) -> Result<Linked> {
        let ctx = || format!("{}: linking to reports", path.display());
        let df = &checked.df;
        let ids = df
            .column(col::REPORT_ID)
            .and_then(|c| c.str())
            .context(ctx)?;
        let roles = if spec.name == schema::REPORT_PRODUCTS.name {
            Some(df.column(col::ROLE).and_then(|c| c.str()).context(ctx)?)
        } else {
            None
        };
        let mut role_of = roles.map(|r| r.iter());
        let file = path.display().to_string();
        let mut keep = Vec::with_capacity(ids.len());
        let mut keys: Vec<IdxSize> = Vec::with_capacity(ids.len());
        let (mut used, mut superseded, mut after_cutoff) = (0u64, 0u64, 0u64);
        for (row, id) in ids.iter().enumerate() {
            let role = role_of.as_mut().and_then(|r| r.next().flatten());
            if !checked.good[row] {
                keep.push(false);
                continue;
            }
            match id.and_then(|id| self.status.get(id)) {
                Some(&SUPERSEDED) => {
                    superseded += 1;
                    keep.push(false);
                }
                Some(&AFTER_CUTOFF) => {
                    superseded += 1;
                    after_cutoff += 1;
                    keep.push(false);
                }
                Some(&key) => {
                    used += 1;
                    // A missing role is `suspect`, which counts.
                    let counts = role.is_none_or(|r| COUNTED_ROLES.contains(&r));
                    keep.push(counts);
                    if counts {
                        keys.push(key);
                    }
                }
                None => {
                    keep.push(false);
                    checked.good[row] = false;
                    let id = id.unwrap_or("");
                    let expected = if self.rejected_keys.contains(id) {
                        format!(
                            "a report_id of a valid row in {} (that report was rejected)",
                            self.file_of_reports
                        )
                    } else {
                        format!("a report_id present in {}", self.file_of_reports)
                    };
                    checked.rejects.push(Reject {
                        cell: String::new(),
                        action: Action::RowRejected,
                        table: spec.name,
                        file: file.clone(),
                        line: checked.lines[row],
                        column: col::REPORT_ID.to_string(),
                        found: crate::accounting::excerpt(id),
                        expected,
                    });
                }
            }
        }
        let mask = BooleanChunked::from_slice("kept".into(), &keep);
        let mut out = df
            .select(kept_child_columns(spec).iter().copied())
            .and_then(|df| df.filter(&mask))
            .context(ctx)?;
        out.with_column(Column::new(col::CASE_KEY.into(), keys))
            .context(ctx)?;
        Ok(Linked {
            df: out,
            used,
            superseded,
            after_cutoff,
        })
    }
}
