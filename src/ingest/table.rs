//! Reading one input table: a file's header matched to its table spec ([`match_header`]),
//! CSV or Parquet read whole or in batches, every cell typed and checked ([`check_cells`]:
//! a bad required value rejects its row, a bad optional value is nulled; a date outside
//! the plausible range is a bad value, so a received_date of 9999-12-31 rejects its row
//! and never reaches the data cut-off), and, for the
//! tables loaded whole, duplicate keys and unrankable versions rejected ([`load_table`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::validate::{self, DateRules};
use super::{csv, parquet, sheet};
use crate::accounting::{nulled_cells, Action, Reject, TableAccount};
use crate::error::{Error, PolarsContext, Result};
use crate::files::sha256_file;
use crate::progress::{timed, RowCounter};
use crate::schema::{self, col, ColumnSpec, Kind, TableSpec};

/// A table as read from its file, before cell checks: text (CSV) or typed (Parquet)
/// columns of the spec, plus `__line`.
pub struct RawFrame {
    pub df: DataFrame,
    pub read: u64,
    /// Rows refused while reading (wrong field count, bad UTF-8).
    pub rejects: Vec<Reject>,
    pub extra_columns: Vec<String>,
    /// Spreadsheet inputs: where each column is, to name a reject's cell (`Sheet1!C17`).
    pub cells: Option<super::sheet::CellRefs>,
}

/// The spec's columns found in a header, with their positions.
pub type Wanted = Vec<(&'static ColumnSpec, usize)>;

/// Split a header into the spec's columns (with their positions) and the extra columns;
/// a missing required column is an error naming the file and what was found.
pub fn match_header(
    path: &Path,
    spec: &TableSpec,
    names: &[String],
) -> Result<(Wanted, Vec<String>)> {
    let missing: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| c.required && !names.iter().any(|n| n == c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        let quote = |v: &[&str]| {
            v.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found: Vec<&str> = names.iter().map(String::as_str).collect();
        let what = if missing.len() == 1 {
            "column"
        } else {
            "columns"
        };
        return Err(Error::input(
            path,
            format!(
                "missing required {what} {} (found: {})",
                quote(&missing),
                crate::accounting::excerpt(&quote(&found))
            ),
        ));
    }
    let wanted = spec
        .columns
        .iter()
        .filter_map(|c| names.iter().position(|n| n == c.name).map(|i| (c, i)))
        .collect();
    let extra = names
        .iter()
        .filter(|n| spec.column(n).is_none())
        .cloned()
        .collect();
    Ok((wanted, extra))
}

/// A table after its own checks: good rows typed, with every spec column present (for the
/// child tables: the linked rows, in the columns later stages use).
pub(super) struct Loaded {
    pub(super) spec: &'static TableSpec,
    pub(super) path: PathBuf,
    pub(super) df: DataFrame,
    pub(super) read: u64,
    /// Rows used and superseded: every good row is used until linking says otherwise
    /// (reports: superseded versions; child tables: rows of superseded reports).
    pub(super) used: u64,
    pub(super) superseded: u64,
    /// Of `superseded`: rows received after the run's cut-off (and their child rows).
    pub(super) after_cutoff: u64,
    pub(super) rejected: u64,
    pub(super) rejects: Vec<Reject>,
    /// Keys of rejected rows (reports only: report_id), to explain cascaded rejects.
    pub(super) rejected_keys: HashSet<String>,
    pub(super) extra_columns: Vec<String>,
    pub(super) size_bytes: u64,
    pub(super) sha256: String,
    pub(super) format: &'static str,
}

/// A loaded table's row accounting and provenance, for the manifest.
pub(super) fn account(t: &Loaded) -> TableAccount {
    TableAccount {
        table: t.spec.name,
        path: t.path.display().to_string(),
        format: t.format,
        size_bytes: t.size_bytes,
        sha256: t.sha256.clone(),
        read: t.read,
        used: t.used,
        superseded: t.superseded,
        after_cutoff: t.after_cutoff,
        rejected: t.rejected,
        nulled_cells: nulled_cells(&t.rejects),
        extra_columns: t.extra_columns.clone(),
    }
}

/// The polars type a column of this kind is stored as.
fn dtype_of(kind: Kind) -> DataType {
    match kind {
        Kind::Text | Kind::Enum(_) | Kind::Region => DataType::String,
        Kind::Date => DataType::Date,
        Kind::Bool => DataType::Boolean,
        Kind::Int { .. } => DataType::Int64,
        Kind::Float { .. } => DataType::Float64,
    }
}

/// The key columns of a table whose values must be unique.
fn unique_key(spec: &TableSpec) -> &'static [&'static str] {
    match spec.name {
        "reports" => &[col::REPORT_ID],
        "products" => &[col::PRODUCT_ID],
        "populations" => &[col::REGION, col::YEAR],
        "event_terms" => &[col::EVENT],
        _ => &[],
    }
}

/// Whether a file is read as Parquet (by its extension); any other file is CSV.
pub(super) fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

pub use crate::config::ReadOptions;

/// An input file being read: CSV, Parquet or a spreadsheet (by extension), whole or in
/// batches.
pub(super) enum Batches {
    Csv(Box<csv::CsvBatches>),
    Parquet(parquet::ParquetBatches),
    Sheet(Box<sheet::SheetBatches>),
}

impl Batches {
    /// Open a file and check its header against the spec; no rows are read yet (a
    /// spreadsheet's sheet is read whole here).
    pub(super) fn open(
        spec: &'static TableSpec,
        path: &Path,
        options: &ReadOptions,
    ) -> Result<Batches> {
        Ok(if is_parquet(path) {
            Batches::Parquet(parquet::ParquetBatches::open(path, spec)?)
        } else if crate::sheets::is_spreadsheet(path) {
            Batches::Sheet(Box::new(sheet::SheetBatches::open(
                path,
                spec,
                options.sheet.as_deref(),
            )?))
        } else {
            Batches::Csv(Box::new(csv::CsvBatches::open_with(
                path,
                spec,
                options.encoding,
            )?))
        })
    }

    pub(super) fn format(&self) -> &'static str {
        match self {
            Batches::Csv(_) => "csv",
            Batches::Parquet(_) => "parquet",
            Batches::Sheet(_) => "spreadsheet",
        }
    }

    pub(super) fn next_batch(
        &mut self,
        max_rows: usize,
        on_rows: &dyn Fn(u64),
    ) -> Result<RawFrame> {
        match self {
            Batches::Csv(b) => b.next_batch(max_rows, on_rows),
            Batches::Parquet(b) => b.next_batch(max_rows, on_rows),
            Batches::Sheet(b) => b.next_batch(max_rows, on_rows),
        }
    }

    pub(super) fn is_done(&self) -> bool {
        match self {
            Batches::Csv(b) => b.is_done(),
            Batches::Parquet(b) => b.is_done(),
            Batches::Sheet(b) => b.is_done(),
        }
    }

    pub(super) fn extra_columns(&self) -> &[String] {
        match self {
            Batches::Csv(b) => b.extra_columns(),
            Batches::Parquet(b) => b.extra_columns(),
            Batches::Sheet(b) => b.extra_columns(),
        }
    }
}

/// Reports the running row total of one file to the stage's shared counter.
pub(super) fn row_reporter(counter: &RowCounter) -> impl Fn(u64) + '_ {
    let last = std::sync::atomic::AtomicU64::new(0);
    move |n: u64| {
        let prev = last.swap(n, std::sync::atomic::Ordering::Relaxed);
        counter.add(n.saturating_sub(prev));
    }
}

/// Rows of a file (or batch) after the cell checks: every spec column typed (null where a
/// cell was bad or the column is missing), which rows are good, and each row's line.
pub(super) struct Checked {
    pub(super) df: DataFrame,
    pub(super) good: Vec<bool>,
    pub(super) lines: Vec<i64>,
    /// Rows refused while reading, and one reject per bad cell.
    pub(super) rejects: Vec<Reject>,
    /// Rows read, good or not.
    pub(super) read: u64,
    /// Spreadsheet inputs: where each column is, to name a reject's cell.
    pub(super) cells: Option<sheet::CellRefs>,
}

impl Checked {
    pub(super) fn rejected(&self) -> u64 {
        self.read - self.good.iter().filter(|g| **g).count() as u64
    }
}

/// Whether a bad value in this column makes its row unusable: the table's key and required
/// values. Every other column is optional and its bad values are nulled.
fn is_required(spec: &TableSpec, column: &str) -> bool {
    spec.column(column).is_some_and(|c| c.required)
}

/// Type and check the cells of rows as read.
pub(super) fn check_cells(
    spec: &'static TableSpec,
    path: &Path,
    raw: RawFrame,
    dates: &DateRules,
) -> Result<Checked> {
    let file = path.display().to_string();
    let context = || format!("{}: checking {}", path.display(), spec.name);
    let (mut columns, problems) = validate::type_columns(spec, &raw.df, dates, &context)?;
    let lines: Vec<i64> = raw
        .df
        .column(col::LINE)
        .and_then(|c| c.i64().map(|ca| ca.into_no_null_iter().collect()))
        .context(context)?;
    let height = raw.df.height();
    let refs = raw.cells;
    drop(raw.df);
    for c in spec.columns {
        if !columns.iter().any(|x| x.name() == c.name) {
            columns.push(Column::full_null(c.name.into(), height, &dtype_of(c.kind)));
        }
    }
    let df = DataFrame::new(height, columns).context(context)?;

    // A bad required value rejects its row; a bad optional value is nulled (`type_columns`
    // left it null) and the row kept. A rejected row's other bad cells are rejects too.
    let mut good = vec![true; height];
    for p in &problems {
        if is_required(spec, p.column) {
            good[p.row] = false;
        }
    }
    let mut rejects = raw.rejects;
    for p in problems {
        rejects.push(Reject {
            cell: String::new(),
            action: if good[p.row] {
                Action::CellNulled
            } else {
                Action::RowRejected
            },
            table: spec.name,
            file: file.clone(),
            line: lines[p.row],
            column: p.column.to_string(),
            found: crate::accounting::excerpt(&p.found),
            expected: p.expected,
        });
    }
    if let Some(refs) = &refs {
        for r in rejects.iter_mut().filter(|r| r.cell.is_empty()) {
            r.cell = refs.cell(&r.column, r.line);
        }
    }
    Ok(Checked {
        df,
        good,
        lines,
        rejects,
        read: raw.read,
        cells: refs,
    })
}

/// Read a whole table (all but the child tables) and check its cells and keys.
pub(super) fn load_table(
    spec: &'static TableSpec,
    path: &Path,
    options: &ReadOptions,
    counter: &RowCounter,
    dates: &DateRules,
) -> Result<Loaded> {
    let on_rows = row_reporter(counter);
    let step = |what: &str| format!("ingest: {} {what}", spec.name);
    let mut batches = Batches::open(spec, path, options)?;
    let format = batches.format();
    let raw = timed(&step("read"), || batches.next_batch(usize::MAX, &on_rows))?;
    let extra_columns = raw.extra_columns.clone();
    let (size_bytes, sha256) = timed(&step("sha256"), || sha256_file(path))?;
    let file = path.display().to_string();
    let context = || format!("{}: checking {}", path.display(), spec.name);
    // A step on one column names it, so that a polars error names the file and column.
    let on = |column: &str| format!("{}, column `{column}`", context());

    let Checked {
        df,
        mut good,
        lines,
        mut rejects,
        read,
        cells,
    } = timed(&step("cell checks"), || check_cells(spec, path, raw, dates))?;
    let height = df.height();

    // Duplicate keys among otherwise good rows: the first line wins.
    let key = unique_key(spec);
    // One key column with as many distinct values as rows cannot hold a duplicate: that
    // check is one hash pass, against a map of every key otherwise.
    let all_distinct = match key {
        [k] => {
            let c = df.column(k).context(|| on(k))?;
            c.n_unique().context(|| on(k))? == height
        }
        _ => false,
    };
    if !key.is_empty() && !all_distinct {
        let key_cols: Vec<Vec<Option<String>>> = key
            .iter()
            .map(|k| {
                let c = df.column(k).context(|| on(k))?;
                let s = c.cast(&DataType::String).context(|| on(k))?;
                Ok(s.str()
                    .context(|| on(k))?
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect())
            })
            .collect::<Result<_>>()?;
        let mut seen: HashMap<Vec<&str>, i64> = HashMap::new();
        for row in 0..height {
            if !good[row] {
                continue;
            }
            let k: Vec<&str> = key_cols
                .iter()
                .map(|c| c[row].as_deref().unwrap_or(""))
                .collect();
            if let Some(first) = seen.get(&k) {
                good[row] = false;
                rejects.push(Reject {
                    cell: String::new(),
                    action: Action::RowRejected,
                    table: spec.name,
                    file: file.clone(),
                    line: lines[row],
                    column: key.join("+"),
                    found: crate::accounting::excerpt(&k.join("+")),
                    expected: format!(
                        "a unique {} (first seen on {} {first})",
                        key.join(" and "),
                        if cells.is_some() { "row" } else { "line" }
                    ),
                });
                if let Some(refs) = &cells {
                    let last = rejects.len() - 1;
                    rejects[last].cell = refs.cell(key[0], lines[row]);
                }
            } else {
                seen.insert(k, lines[row]);
            }
        }
    }

    if spec.name == schema::REPORTS.name {
        reject_unranked_versions(&df, &mut good, &lines, &mut rejects)
            .context(|| on(col::VERSION))?;
    }

    let mut rejected_keys = HashSet::new();
    if spec.name == schema::REPORTS.name {
        let ids = df
            .column(col::REPORT_ID)
            .context(|| on(col::REPORT_ID))?
            .str()
            .context(|| on(col::REPORT_ID))?
            .clone();
        for (row, ok) in good.iter().enumerate() {
            if !ok {
                if let Some(id) = ids.get(row) {
                    rejected_keys.insert(id.to_string());
                }
            }
        }
    }

    settle_actions(&mut rejects, &good, &lines);
    let rejected = read - good.iter().filter(|g| **g).count() as u64;
    let df = if good.iter().all(|g| *g) {
        df
    } else {
        let mask = BooleanChunked::from_slice("good".into(), &good);
        df.filter(&mask).context(context)?
    };
    rejects.sort_by_key(|r| r.line);
    Ok(Loaded {
        spec,
        path: path.to_path_buf(),
        df,
        read,
        used: read - rejected,
        superseded: 0,
        after_cutoff: 0,
        rejected,
        rejects,
        rejected_keys,
        extra_columns,
        size_bytes,
        sha256,
        format,
    })
}

/// Every bad cell of a rejected row is part of the row's reject, nulled or not.
pub(super) fn settle_actions(rejects: &mut [Reject], good: &[bool], lines: &[i64]) {
    if good.iter().all(|g| *g) {
        return;
    }
    let bad: HashSet<i64> = lines
        .iter()
        .zip(good)
        .filter(|(_, g)| !**g)
        .map(|(l, _)| *l)
        .collect();
    for r in rejects.iter_mut() {
        if r.action == Action::CellNulled && bad.contains(&r.line) {
            r.action = Action::RowRejected;
        }
    }
}

/// A bad `version` is nulled only when its case has no other version: with several, the
/// version decides which one is the latest, so a report whose version is unreadable cannot
/// be ranked and is rejected (its cell reject becomes a row reject).
fn reject_unranked_versions(
    df: &DataFrame,
    good: &mut [bool],
    lines: &[i64],
    rejects: &mut [Reject],
) -> PolarsResult<()> {
    let nulled: Vec<usize> = rejects
        .iter()
        .enumerate()
        .filter(|(_, r)| r.action == Action::CellNulled && r.column == col::VERSION)
        .map(|(i, _)| i)
        .collect();
    if nulled.is_empty() {
        return Ok(());
    }
    let ids = df.column(col::REPORT_ID)?.str()?;
    let case_ids = df.column(col::CASE_ID)?.str()?;
    let case_of = |row: usize| case_ids.get(row).or(ids.get(row)).unwrap_or("");
    let mut versions: HashMap<&str, u32> = HashMap::new();
    for row in (0..df.height()).filter(|&r| good[r]) {
        *versions.entry(case_of(row)).or_default() += 1;
    }
    let row_of: HashMap<i64, usize> = lines.iter().enumerate().map(|(r, l)| (*l, r)).collect();
    for i in nulled {
        // Every nulled cell came from a row of this frame, so its line is in `lines`.
        let Some(&row) = row_of.get(&rejects[i].line) else {
            continue;
        };
        if versions.get(case_of(row)).is_some_and(|n| *n > 1) {
            good[row] = false;
            let r = &mut rejects[i];
            r.action = Action::RowRejected;
            r.expected = format!(
                "{} (the case has several versions, and the version decides the latest)",
                r.expected
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn header_lists_missing_and_extra_columns() {
        let err = match_header(
            Path::new("r.csv"),
            &schema::REPORTS,
            &names(&["id", "date", "class"]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "r.csv: missing required columns `report_id`, `received_date`, `region` (found: `id`, `date`, `class`)"
        );
        let (wanted, extra) = match_header(
            Path::new("p.csv"),
            &schema::REPORT_PRODUCTS,
            &names(&["note", "product_id", "report_id"]),
        )
        .unwrap();
        assert_eq!(
            wanted.iter().map(|(c, i)| (c.name, *i)).collect::<Vec<_>>(),
            vec![("report_id", 2), ("product_id", 1)]
        );
        assert_eq!(extra, vec!["note"]);
    }
}
