//! Linking the tables: once each case's latest version is chosen and `cases` built
//! (`versions`), the child tables (report_products, report_events) are streamed in
//! batches, checked and linked to their case as they are read; then every table's
//! accounting and the tolerance check.

use std::collections::HashSet;
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

    // Each report's case key (latest versions, in row order) or SUPERSEDED / AFTER_CUTOFF.
    let status = timed("ingest: indexing report ids", || {
        let mut next: IdxSize = 0;
        let key_of_row: Vec<IdxSize> = latest
            .iter()
            .zip(&later)
            .map(|(latest, later)| {
                if *latest {
                    next += 1;
                    next - 1
                } else if *later {
                    AFTER_CUTOFF
                } else {
                    SUPERSEDED
                }
            })
            .collect();
        ReportStatus::new(ids.clone(), key_of_row)
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

/// Each report's status (its case key when it is the latest version of its case), found by
/// report id.
///
/// Exports list a report's products and events together and in the reports' order, so a
/// child row's report is nearly always the one of the row before it or the next report:
/// a cursor into the reports finds it by one or two comparisons of short strings read in
/// order. Only a row the cursor misses is looked up by hash, in an index of every report id
/// built at the first miss (shared by the child tables' threads); data in that order never
/// build it. (At 10m the index took 2.4 s to build and its lookups, 43 million random
/// reads of a table of 11 million ids, were most of linking's 6 s.)
struct ReportStatus {
    /// Every report's id, in row order (one chunk).
    ids: StringChunked,
    /// Each report's case key, or [`SUPERSEDED`] or [`AFTER_CUTOFF`], in row order.
    key_of_row: Vec<IdxSize>,
    /// The rows of the report ids, by their hash, built at the first miss of a cursor.
    index: std::sync::OnceLock<hashbrown::HashTable<u32>>,
}

impl ReportStatus {
    fn new(ids: StringChunked, key_of_row: Vec<IdxSize>) -> ReportStatus {
        ReportStatus {
            ids: ids.rechunk().into_owned(),
            key_of_row,
            index: std::sync::OnceLock::new(),
        }
    }

    fn ids(&self) -> &polars_arrow::array::Utf8ViewArray {
        self.ids.downcast_as_array()
    }

    fn hash(id: &str) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(id)
    }

    /// The status of the report with id `id`, from the row `cursor` (updated to the row
    /// found); `None` when no valid report has that id.
    fn find(&self, id: &str, cursor: &mut usize) -> Option<IdxSize> {
        let ids = self.ids();
        for row in [*cursor, *cursor + 1] {
            if row < ids.len() && ids.get(row) == Some(id) {
                *cursor = row;
                return Some(self.key_of_row[row]);
            }
        }
        let row = *self
            .index()
            .find(Self::hash(id), |&row| ids.value(row as usize) == id)? as usize;
        *cursor = row;
        Some(self.key_of_row[row])
    }

    fn index(&self) -> &hashbrown::HashTable<u32> {
        self.index.get_or_init(|| {
            timed("ingest: indexing report ids for rows out of order", || {
                let ids = self.ids();
                let mut index = hashbrown::HashTable::with_capacity(ids.len());
                for (row, id) in ids.iter().enumerate() {
                    if let Some(id) = id {
                        // Report ids are unique among valid reports (ingest rejects
                        // duplicate keys).
                        index.insert_unique(Self::hash(id), row as u32, |&r| {
                            Self::hash(ids.value(r as usize))
                        });
                    }
                }
                index
            })
        })
    }
}

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
    status: &'a ReportStatus,
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
        // Where in the reports this table's rows have got to ([`ReportStatus::find`]).
        let mut cursor = 0;
        while !batches.is_done() {
            let raw = batches.next_batch(CHILD_BATCH_ROWS, &on_rows)?;
            let mut checked = check_cells(spec, path, raw, self.dates)?;
            let linked = self.link(spec, path, &mut checked, &mut cursor)?;
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
    fn link(
        &self,
        spec: &TableSpec,
        path: &Path,
        checked: &mut Checked,
        cursor: &mut usize,
    ) -> Result<Linked> {
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
            match id.and_then(|id| self.status.find(id, cursor)) {
                Some(SUPERSEDED) => {
                    superseded += 1;
                    keep.push(false);
                }
                Some(AFTER_CUTOFF) => {
                    superseded += 1;
                    after_cutoff += 1;
                    keep.push(false);
                }
                Some(key) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ids: &[Option<&str>]) -> ReportStatus {
        let ids: StringChunked = ids.iter().copied().collect();
        let keys = (0..ids.len() as IdxSize).map(|k| k * 10).collect();
        ReportStatus::new(ids, keys)
    }

    /// Rows in the reports' order are found by the cursor alone: the index is never built.
    #[test]
    fn rows_in_report_order_need_no_index() {
        let s = status(&[Some("R1"), Some("R2"), Some("R3")]);
        let mut cursor = 0;
        let found: Vec<_> = ["R1", "R1", "R2", "R3", "R3"]
            .iter()
            .map(|id| s.find(id, &mut cursor))
            .collect();
        assert_eq!(found, [Some(0), Some(0), Some(10), Some(20), Some(20)]);
        assert_eq!(cursor, 2);
        assert!(s.index.get().is_none());
    }

    /// Rows out of order, unknown ids and null report ids: the index finds what the cursor
    /// misses, and moves the cursor there.
    #[test]
    fn rows_out_of_order_are_found_by_the_index() {
        let s = status(&[Some("R1"), None, Some("R2"), Some("R3"), Some("R4")]);
        let mut cursor = 0;
        assert_eq!(s.find("R3", &mut cursor), Some(30));
        assert_eq!(cursor, 3);
        assert!(s.index.get().is_some());
        assert_eq!(s.find("R4", &mut cursor), Some(40));
        assert_eq!(s.find("R1", &mut cursor), Some(0));
        assert_eq!(s.find("R9", &mut cursor), None);
        assert_eq!(cursor, 0, "a miss leaves the cursor");
        assert_eq!(s.find("", &mut cursor), None);
        assert_eq!(s.find("R2", &mut cursor), Some(20));
    }

    /// Whatever the order of the lookups, each id gets the status of its own row.
    #[test]
    fn every_order_finds_the_same_status() {
        let ids: Vec<String> = (0..500).map(|i| format!("R{i:04}")).collect();
        let s = status(&ids.iter().map(|i| Some(i.as_str())).collect::<Vec<_>>());
        let mut order: Vec<usize> = (0..500).collect();
        // A fixed shuffle: i ↦ 7i + 3 mod 500 visits every row once.
        order.sort_by_key(|&i| (7 * i + 3) % 500);
        let mut cursor = 0;
        for i in order {
            assert_eq!(s.find(&ids[i], &mut cursor), Some(i as IdxSize * 10));
        }
    }
}
