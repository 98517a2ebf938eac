//! Stage 1, ingest: load and check the input tables, keep the latest version of each case,
//! and account for every row read.
//!
//! All input I/O lives here. A pipeline that names a real-world source (`[inputs.source]`)
//! has it converted into the canonical tables first ([`source`]). Each table is a CSV or Parquet file (by extension), checked
//! as it loads (`validate`). Reports, products, populations and event_terms load whole and
//! concurrently on tokio's blocking pool; report_products and report_events are streamed
//! in batches once the reports are ranked, and linked as they are read. Then:
//!
//! - duplicate keys are rejected (a report_id, product_id, (region, year) or event seen on
//!   an earlier line), naming the line where the key was first seen;
//! - report_products and report_events rows whose report_id is not a valid report are
//!   rejected;
//! - of each case (case_id, default report_id), only the latest version is used: highest
//!   `version` (default 1), then latest received_date, then highest report_id. Older
//!   versions, and their products and events, are *superseded*.
//!
//! Invariant, for every table: `read = used + superseded + rejected`. A rejected row is one
//! row in the count and one line per bad cell in `rejects.csv`.
//!
//! Outputs ([`Dataset`]): `cases` (one row per case: the latest version's columns, its
//! case_id (default report_id) and report_id, plus `__first_received`, the earliest
//! received_date among its versions, `__versions`, how many versions were received, and
//! `__case`, its row number), `case_products` and `case_events` (rows of latest versions,
//! keyed by `__case`), `products`, `populations`, `event_terms`. Optional columns missing
//! from a file are present as nulls, and so are bad optional values (nulled, row kept).
//!
//! Memory (DESIGN.md, Performance and scale): the child tables are streamed in batches and
//! linked as they are read, and only what later stages use is kept. `cases`'
//! `reporter_type` and `sex` are `UInt32` indexes into [`schema::REPORTER_TYPES`] and
//! [`schema::SEXES`]. `case_products` holds `product_id`, `batch` and `__case` of the rows
//! whose role counts (suspect or interacting, the default); `case_events` holds `event`,
//! `onset_date` and `__case`. Every row read is still accounted for.

pub mod csv;
pub mod parquet;
pub mod previous;
pub mod source;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Pipeline;
use crate::error::{Error, PolarsContext, Result, TooManyRejects};
use crate::memory::{self, Budget};
use crate::period::{epoch_days, from_epoch_days};
use crate::progress::{timed, RowCounter, Stage};
use crate::schema::{self, col, ColumnSpec, Kind, TableSpec, COUNTED_ROLES};

pub use source::{load_inputs, ConversionReport};

/// What became of a row with a bad value: a row whose key or a required value is unusable
/// is rejected; a bad value in an optional column is nulled and the row kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    #[serde(rename = "row rejected")]
    RowRejected,
    #[serde(rename = "cell nulled")]
    CellNulled,
}

impl Action {
    /// The `action` column of `rejects.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RowRejected => "row rejected",
            Action::CellNulled => "cell nulled",
        }
    }
}

/// One bad cell (or a bad row, with an empty `column`) of an input table, and what became
/// of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reject {
    pub table: &'static str,
    pub file: String,
    /// CSV: the line the record starts on (header = 1). Parquet: the 1-based row.
    pub line: i64,
    pub column: String,
    pub found: String,
    pub expected: String,
    pub action: Action,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}", self.file, self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column `{}`", self.column)?;
        }
        write!(f, ": expected {}, found `{}`", self.expected, self.found)?;
        if self.action == Action::CellNulled {
            write!(f, " (cell nulled, row kept)")?;
        }
        Ok(())
    }
}

/// A table as read from its file, before cell checks: text (CSV) or typed (Parquet)
/// columns of the spec, plus `__line`.
pub struct RawFrame {
    pub df: DataFrame,
    pub read: u64,
    /// Rows refused while reading (wrong field count, bad UTF-8).
    pub rejects: Vec<Reject>,
    pub extra_columns: Vec<String>,
}

/// Row accounting and provenance of one input file, as written to the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableAccount {
    pub table: &'static str,
    pub path: String,
    pub format: &'static str,
    pub size_bytes: u64,
    pub sha256: String,
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    /// Of `superseded`: rows of report versions received after the run's cut-off, which do
    /// not exist for the run (and the product and event rows of those versions).
    pub after_cutoff: u64,
    pub rejected: u64,
    /// Bad optional values nulled in rows that were kept, by column.
    pub nulled_cells: std::collections::BTreeMap<String, u64>,
    pub extra_columns: Vec<String>,
}

/// Everything later stages need, checked and de-duplicated.
pub struct Dataset {
    pub cases: DataFrame,
    pub case_products: DataFrame,
    pub case_events: DataFrame,
    pub products: DataFrame,
    pub populations: DataFrame,
    pub event_terms: Option<DataFrame>,
    pub rejects: Vec<Reject>,
    pub tables: Vec<TableAccount>,
    /// Latest received_date among valid reports: the data cut-off.
    pub data_cutoff: Option<NaiveDate>,
}

impl Dataset {
    pub fn rows_read(&self) -> u64 {
        self.tables.iter().map(|t| t.read).sum()
    }
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
                quote(&found)
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
struct Loaded {
    spec: &'static TableSpec,
    path: PathBuf,
    df: DataFrame,
    read: u64,
    /// Rows used and superseded: every good row is used until linking says otherwise
    /// (reports: superseded versions; child tables: rows of superseded reports).
    used: u64,
    superseded: u64,
    /// Of `superseded`: rows received after the run's cut-off (and their child rows).
    after_cutoff: u64,
    rejected: u64,
    rejects: Vec<Reject>,
    /// Keys of rejected rows (reports only: report_id), to explain cascaded rejects.
    rejected_keys: HashSet<String>,
    extra_columns: Vec<String>,
    size_bytes: u64,
    sha256: String,
    format: &'static str,
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

/// Whether a table is a child of `reports`, streamed in batches and linked as it is read.
fn is_child(spec: &TableSpec) -> bool {
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

pub(crate) fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, crate::config::hex(&hasher.finalize())))
}

/// Whether a file is read as Parquet (by its extension); any other file is CSV.
fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// An input file being read: CSV or Parquet (by extension), whole or in batches.
enum Batches {
    Csv(Box<csv::CsvBatches>),
    Parquet(parquet::ParquetBatches),
}

impl Batches {
    /// Open a file and check its header against the spec; no rows are read yet.
    fn open(spec: &'static TableSpec, path: &Path) -> Result<Batches> {
        Ok(if is_parquet(path) {
            Batches::Parquet(parquet::ParquetBatches::open(path, spec)?)
        } else {
            Batches::Csv(Box::new(csv::CsvBatches::open(path, spec)?))
        })
    }

    fn format(&self) -> &'static str {
        match self {
            Batches::Csv(_) => "csv",
            Batches::Parquet(_) => "parquet",
        }
    }

    fn next_batch(&mut self, max_rows: usize, on_rows: &dyn Fn(u64)) -> Result<RawFrame> {
        match self {
            Batches::Csv(b) => b.next_batch(max_rows, on_rows),
            Batches::Parquet(b) => b.next_batch(max_rows, on_rows),
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Batches::Csv(b) => b.is_done(),
            Batches::Parquet(b) => b.is_done(),
        }
    }

    fn extra_columns(&self) -> &[String] {
        match self {
            Batches::Csv(b) => b.extra_columns(),
            Batches::Parquet(b) => b.extra_columns(),
        }
    }
}

/// Reports the running row total of one file to the stage's shared counter.
fn row_reporter(counter: &RowCounter) -> impl Fn(u64) + '_ {
    let last = std::sync::atomic::AtomicU64::new(0);
    move |n: u64| {
        let prev = last.swap(n, std::sync::atomic::Ordering::Relaxed);
        counter.add(n.saturating_sub(prev));
    }
}

/// Rows of a file (or batch) after the cell checks: every spec column typed (null where a
/// cell was bad or the column is missing), which rows are good, and each row's line.
struct Checked {
    df: DataFrame,
    good: Vec<bool>,
    lines: Vec<i64>,
    /// Rows refused while reading, and one reject per bad cell.
    rejects: Vec<Reject>,
    /// Rows read, good or not.
    read: u64,
}

impl Checked {
    fn rejected(&self) -> u64 {
        self.read - self.good.iter().filter(|g| **g).count() as u64
    }
}

/// Whether a bad value in this column makes its row unusable: the table's key and required
/// values. Every other column is optional and its bad values are nulled.
fn is_required(spec: &TableSpec, column: &str) -> bool {
    spec.column(column).is_some_and(|c| c.required)
}

/// Type and check the cells of rows as read.
fn check_cells(spec: &'static TableSpec, path: &Path, raw: RawFrame) -> Result<Checked> {
    let file = path.display().to_string();
    let context = || format!("{}: checking {}", path.display(), spec.name);
    let (mut columns, problems) = validate::type_columns(spec, &raw.df, &context)?;
    let lines: Vec<i64> = raw
        .df
        .column(col::LINE)
        .and_then(|c| c.i64().map(|ca| ca.into_no_null_iter().collect()))
        .context(context)?;
    let height = raw.df.height();
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
            action: if good[p.row] {
                Action::CellNulled
            } else {
                Action::RowRejected
            },
            table: spec.name,
            file: file.clone(),
            line: lines[p.row],
            column: p.column.to_string(),
            found: p.found,
            expected: p.expected,
        });
    }
    Ok(Checked {
        df,
        good,
        lines,
        rejects,
        read: raw.read,
    })
}

/// Read a whole table (all but the child tables) and check its cells and keys.
fn load_table(spec: &'static TableSpec, path: &Path, counter: &RowCounter) -> Result<Loaded> {
    let on_rows = row_reporter(counter);
    let step = |what: &str| format!("ingest: {} {what}", spec.name);
    let mut batches = Batches::open(spec, path)?;
    let format = batches.format();
    let raw = timed(&step("read"), || batches.next_batch(usize::MAX, &on_rows))?;
    let extra_columns = raw.extra_columns.clone();
    let (size_bytes, sha256) = timed(&step("sha256"), || sha256_file(path))?;
    let file = path.display().to_string();
    let context = || format!("{}: checking {}", path.display(), spec.name);

    let Checked {
        df,
        mut good,
        lines,
        mut rejects,
        read,
    } = timed(&step("cell checks"), || check_cells(spec, path, raw))?;
    let height = df.height();

    // Duplicate keys among otherwise good rows: the first line wins.
    let key = unique_key(spec);
    // One key column with as many distinct values as rows cannot hold a duplicate: that
    // check is one hash pass, against a map of every key otherwise.
    let all_distinct = match key {
        [k] => df.column(k).context(context)?.n_unique().context(context)? == height,
        _ => false,
    };
    if !key.is_empty() && !all_distinct {
        let key_cols: Vec<Vec<Option<String>>> = key
            .iter()
            .map(|k| {
                let c = df.column(k).context(context)?;
                let s = c.cast(&DataType::String).context(context)?;
                Ok(s.str()
                    .context(context)?
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
                    action: Action::RowRejected,
                    table: spec.name,
                    file: file.clone(),
                    line: lines[row],
                    column: key.join("+"),
                    found: k.join("+"),
                    expected: format!(
                        "a unique {} (first seen on line {first})",
                        key.join(" and ")
                    ),
                });
            } else {
                seen.insert(k, lines[row]);
            }
        }
    }

    if spec.name == schema::REPORTS.name {
        reject_unranked_versions(&df, &mut good, &lines, &mut rejects).context(context)?;
    }

    let mut rejected_keys = HashSet::new();
    if spec.name == schema::REPORTS.name {
        let ids = df
            .column(col::REPORT_ID)
            .context(context)?
            .str()
            .context(context)?
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
fn settle_actions(rejects: &mut [Reject], good: &[bool], lines: &[i64]) {
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
        let row = row_of[&rejects[i].line];
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

/// What the first pass over the inputs gives: whole tables, and the child tables opened
/// (header checked) to be streamed once the reports are linked.
enum Opened {
    Whole(Loaded),
    Child(&'static TableSpec, PathBuf, Batches),
}

/// Load every input table of the pipeline, then link and de-duplicate them (the canonical
/// tables; [`load_inputs`] converts a real-world source into them first).
///
/// Reports, products, populations and event_terms load concurrently, and the child tables'
/// headers are checked meanwhile. Then the latest version of each case is chosen, and the
/// two child tables are streamed in batches, one per core, each batch checked and linked to
/// its case as it is read, so that their report ids and unused columns are never all in
/// memory at once.
///
/// `cutoff` is the run's "as of" date: the end of its period, or `rates.as_of` when that
/// is earlier. A report version received after it does not exist for the run: it is not
/// ranked, counts no case, and is accounted for as superseded (with its products and
/// events), and as `after_cutoff` in the manifest.
fn load_tables(pipeline: &Pipeline, cutoff: NaiveDate, stage: &Stage) -> Result<Dataset> {
    let counter = stage.counter();
    let specs: Vec<(&'static TableSpec, PathBuf)> = pipeline
        .input_paths()
        .into_iter()
        .map(|(name, path)| (spec_by_name(name), path.to_path_buf()))
        .collect();
    check_memory(&specs, &Budget::new(pipeline.max_memory_gib))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .map_err(|e| Error::io(&pipeline.file, e))?;
    let opened: Vec<Result<Opened>> = runtime.block_on(async {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|(spec, path)| {
                let counter = counter.clone();
                tokio::task::spawn_blocking(move || {
                    if is_child(spec) {
                        let batches = Batches::open(spec, &path)?;
                        Ok(Opened::Child(spec, path, batches))
                    } else {
                        load_table(spec, &path, &counter).map(Opened::Whole)
                    }
                })
            })
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(match h.await {
                Ok(r) => r,
                Err(e) => Err(Error::io(&pipeline.file, std::io::Error::other(e))),
            });
        }
        out
    });
    drop(runtime);
    // Report the first error in table order, so that the message is deterministic.
    let mut tables = Vec::with_capacity(opened.len());
    let mut children = Vec::new();
    for o in opened {
        match o? {
            Opened::Whole(t) => tables.push(t),
            Opened::Child(spec, path, batches) => children.push((spec, path, batches)),
        }
    }
    timed("ingest: versions and links", || {
        link(
            tables,
            children,
            cutoff,
            &counter,
            pipeline.max_rejected_fraction,
        )
    })
}

/// Stop before loading when the inputs would not fit in the memory budget. Parquet files
/// give their row counts in their footers; a CSV file's need is estimated from its size.
/// A file that cannot be opened is left to the loader, which names it.
fn check_memory(specs: &[(&'static TableSpec, PathBuf)], budget: &Budget) -> Result<()> {
    let mut needed = memory::INGEST_BASE_BYTES;
    let mut sizes = Vec::new();
    for (spec, path) in specs {
        let bytes = if is_parquet(path) {
            let Ok(rows) = std::fs::File::open(path)
                .map_err(|_| ())
                .and_then(|f| ParquetReader::new(f).num_rows().map_err(|_| ()))
            else {
                continue;
            };
            let per_row = memory::INGEST_BYTES_PER_ROW
                .iter()
                .find(|(t, _)| *t == spec.name)
                .map_or(memory::INGEST_BYTES_PER_OTHER_ROW, |(_, b)| *b);
            sizes.push(format!(
                "{} rows of {}",
                crate::progress::thousands(rows as u64),
                spec.name
            ));
            rows as u64 * per_row
        } else {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            sizes.push(format!(
                "{} MB of {} (CSV)",
                meta.len() / 1_000_000,
                spec.name
            ));
            meta.len() * memory::INGEST_BYTES_PER_CSV_BYTE
        };
        needed += bytes;
    }
    budget.check("ingest", || format!("loading {}", sizes.join(", ")), needed)
}

fn spec_by_name(name: &str) -> &'static TableSpec {
    match name {
        "reports" => &schema::REPORTS,
        "report_products" => &schema::REPORT_PRODUCTS,
        "report_events" => &schema::REPORT_EVENTS,
        "products" => &schema::PRODUCTS,
        "populations" => &schema::POPULATIONS,
        "event_terms" => &schema::EVENT_TERMS,
        other => unreachable!("no table spec named {other}"),
    }
}

/// Supersession and cross-table checks; then the tolerance check.
fn link(
    mut tables: Vec<Loaded>,
    children: Vec<(&'static TableSpec, PathBuf, Batches)>,
    cutoff: NaiveDate,
    counter: &RowCounter,
    max_rejected_fraction: f64,
) -> Result<Dataset> {
    let take = |tables: &mut Vec<Loaded>, name: &str| -> Option<Loaded> {
        let i = tables.iter().position(|t| t.spec.name == name)?;
        Some(tables.remove(i))
    };
    let mut reports = take(&mut tables, schema::REPORTS.name).expect("required");
    let products = take(&mut tables, schema::PRODUCTS.name).expect("required");
    let populations = take(&mut tables, schema::POPULATIONS.name).expect("required");
    let event_terms = take(&mut tables, schema::EVENT_TERMS.name);
    let ctx = |what: &'static str| move || format!("ingest: {what}");

    let mut rdf = std::mem::take(&mut reports.df);
    let latest = timed("ingest: ranking case versions", || {
        latest_versions(&rdf, epoch_days(cutoff))
    })?;
    let n_latest = latest.first_received.len() as u64;
    let latest_mask = BooleanChunked::from_slice("latest".into(), &latest.mask);

    // `cases`: the latest versions, column by column, each reports column let go as soon
    // as it is copied; report ids stay (as `ids`) to link the child tables.
    let take_col = |rdf: &mut DataFrame, name: &str| -> Result<Column> {
        rdf.drop_in_place(name)
            .context(ctx("selecting latest versions"))
    };
    let ids_col = take_col(&mut rdf, col::REPORT_ID)?;
    let ids = ids_col
        .str()
        .context(ctx("selecting latest versions"))?
        .clone();
    let case_ids = take_col(&mut rdf, col::CASE_ID)?;
    let case_ids = DataFrame::new(
        n_latest as usize,
        vec![
            case_ids
                .filter(&latest_mask)
                .context(ctx("selecting latest versions"))?,
            ids_col
                .filter(&latest_mask)
                .context(ctx("selecting latest versions"))?,
        ],
    )
    .and_then(|df| {
        df.lazy()
            .select([
                coalesce(&[col(col::CASE_ID), col(col::REPORT_ID)]).alias(col::CASE_ID),
                col(col::REPORT_ID),
            ])
            .collect()
    })
    .context(ctx("selecting latest versions"))?;
    drop(ids_col);
    let mut columns = case_ids.into_columns();
    let names: Vec<PlSmallStr> = rdf.get_column_names_owned();
    for name in names {
        let c = take_col(&mut rdf, &name)?
            .filter(&latest_mask)
            .context(ctx("selecting latest versions"))?;
        let c = match name.as_str() {
            col::REPORTER_TYPE => enum_codes(&c, schema::REPORTER_TYPES),
            col::SEX => enum_codes(&c, schema::SEXES),
            _ => Ok(c),
        };
        columns.push(c.context(ctx("selecting latest versions"))?);
    }
    drop(rdf);
    columns.push(
        Column::new(col::FIRST_RECEIVED.into(), latest.first_received)
            .cast(&DataType::Date)
            .context(ctx("selecting latest versions"))?,
    );
    columns.push(
        Column::new(col::VERSIONS.into(), latest.versions)
            .cast(&DataType::Int64)
            .context(ctx("selecting latest versions"))?,
    );
    columns.push(Column::new(
        col::CASE_KEY.into(),
        (0..n_latest as IdxSize).collect::<Vec<_>>(),
    ));
    let cases =
        DataFrame::new(n_latest as usize, columns).context(ctx("selecting latest versions"))?;
    let data_cutoff = cases
        .column(col::RECEIVED_DATE)
        .ok()
        .and_then(|c| c.as_materialized_series().max::<i32>().ok().flatten())
        .map(from_epoch_days);

    reports.superseded = reports.used - n_latest;
    reports.used = n_latest;
    reports.after_cutoff = latest.after_cutoff;
    let file_of_reports = reports.path.display().to_string();

    // Report id → its case key (latest versions, in row order) or SUPERSEDED.
    let status = timed("ingest: indexing report ids", || {
        let mut status: ReportStatus =
            HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let mut next: IdxSize = 0;
        for ((id, latest), later) in ids.iter().zip(&latest.mask).zip(&latest.later) {
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

/// An enum column of checked values (each stored as listed in `values`) as the values'
/// indexes, `UInt32` (the smallest integer type of this build's polars features); null
/// stays null. Four bytes a row instead of a 16-byte string view and its text.
fn enum_codes(c: &Column, values: &[&str]) -> PolarsResult<Column> {
    let codes: UInt32Chunked = c
        .str()?
        .iter()
        .map(|v| v.and_then(|v| values.iter().position(|x| *x == v).map(|i| i as u32)))
        .collect();
    Ok(codes.with_name(c.name().clone()).into_column())
}

/// The latest version of each case: a mask over the reports, and for each latest row (in
/// row order) the earliest received_date among its case's versions (days since epoch).
struct Latest {
    mask: Vec<bool>,
    /// Rows received after the cut-off: not ranked, not a version of any case for the run.
    later: Vec<bool>,
    after_cutoff: u64,
    first_received: Vec<i32>,
    /// For each latest row (in row order): how many versions of its case were received.
    versions: Vec<u32>,
}

/// Latest version of each case as of `cutoff` (days since epoch): highest version (default
/// 1), then latest received_date, then highest report_id, among the versions received on or
/// before the cut-off. One pass over the reports with a map from case to its slot in a
/// list of (best row so far, earliest receipt): no sort, and the map holds a string slice
/// and a slot number per case, not the ranks.
fn latest_versions(rdf: &DataFrame, cutoff: i32) -> Result<Latest> {
    let ctx = || "ingest: ranking case versions".to_string();
    let ids = rdf
        .column(col::REPORT_ID)
        .and_then(|c| c.str().cloned())
        .context(ctx)?
        .rechunk()
        .into_owned();
    let case_ids = rdf
        .column(col::CASE_ID)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let versions = rdf
        .column(col::VERSION)
        .and_then(|c| c.i64().cloned())
        .context(ctx)?
        .rechunk()
        .into_owned();
    let received = rdf
        .column(col::RECEIVED_DATE)
        .and_then(|c| c.cast(&DataType::Int32))
        .and_then(|c| c.i32().cloned())
        .context(ctx)?
        .rechunk()
        .into_owned();
    let ids_arr = ids.downcast_as_array();
    let versions_arr = versions.downcast_as_array();
    let received_arr = received.downcast_as_array();
    let rank = |row: usize| {
        (
            versions_arr.get(row).unwrap_or(1),
            received_arr.get(row).unwrap_or(i32::MIN),
            ids_arr.get(row).unwrap_or(""),
        )
    };
    let mut slot_of: HashMap<&str, u32, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(ids.len(), Default::default());
    // Per case: (its best row so far, its earliest receipt, its versions).
    let mut best: Vec<(u32, i32, u32)> = Vec::new();
    let mut later = vec![false; ids.len()];
    for (row, (id, case)) in ids.iter().zip(case_ids.iter()).enumerate() {
        let date = received_arr.get(row).unwrap_or(i32::MIN);
        if date > cutoff {
            later[row] = true;
            continue;
        }
        match slot_of.entry(case.or(id).unwrap_or("")) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let b = &mut best[*e.get() as usize];
                if rank(row) > rank(b.0 as usize) {
                    b.0 = row as u32;
                }
                b.1 = b.1.min(date);
                b.2 += 1;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(best.len() as u32);
                best.push((row as u32, date, 1));
            }
        }
    }
    drop(slot_of);
    let mut mask = vec![false; ids.len()];
    let mut first = vec![(0i32, 0u32); ids.len()];
    for &(row, date, versions) in &best {
        mask[row as usize] = true;
        first[row as usize] = (date, versions);
    }
    let (first_received, versions) = first
        .into_iter()
        .zip(&mask)
        .filter_map(|(f, l)| l.then_some(f))
        .unzip();
    let after_cutoff = later.iter().filter(|l| **l).count() as u64;
    Ok(Latest {
        mask,
        later,
        after_cutoff,
        first_received,
        versions,
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
            let mut checked = check_cells(spec, path, raw)?;
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
                        action: Action::RowRejected,
                        table: spec.name,
                        file: file.clone(),
                        line: checked.lines[row],
                        column: col::REPORT_ID.to_string(),
                        found: id.to_string(),
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

fn account(t: &Loaded) -> TableAccount {
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

/// Nulled cells by column.
pub(crate) fn nulled_cells(rejects: &[Reject]) -> std::collections::BTreeMap<String, u64> {
    let mut by_column = std::collections::BTreeMap::new();
    for r in rejects.iter().filter(|r| r.action == Action::CellNulled) {
        *by_column.entry(r.column.clone()).or_default() += 1;
    }
    by_column
}

/// Stop the run (exit 3) when any table's rejected fraction is above the tolerance.
fn check_tolerance(accounts: &[TableAccount], rejects: &[Reject], max: f64) -> Result<()> {
    let files = accounts
        .iter()
        .map(|a| (a.path.as_str(), a.rejected, a.read));
    match over_tolerance(max, files, rejects) {
        Some(t) => Err(Error::TooManyRejects(t)),
        None => Ok(()),
    }
}

/// The files, given as (path, rejected, read), whose rejected fraction is above `max`,
/// with up to five of each one's rejects as examples; `None` when no file is over. Shared
/// by ingest and by `convert`, whose rejects name their source files.
pub(crate) fn over_tolerance<'a>(
    max: f64,
    files: impl IntoIterator<Item = (&'a str, u64, u64)>,
    rejects: &[Reject],
) -> Option<TooManyRejects> {
    const EXAMPLES: usize = 5;
    let over: Vec<(&str, u64, u64)> = files
        .into_iter()
        .filter(|&(_, rejected, read)| read > 0 && (rejected as f64 / read as f64) > max)
        .collect();
    if over.is_empty() {
        return None;
    }
    let examples = over
        .iter()
        .flat_map(|&(path, _, _)| {
            rejects
                .iter()
                .filter(move |r| r.file == path && r.action == Action::RowRejected)
                .take(EXAMPLES)
        })
        .map(Reject::to_string)
        .collect();
    Some(TooManyRejects {
        max_fraction: max,
        tables: over
            .iter()
            .map(|&(path, rejected, read)| (PathBuf::from(path), rejected, read))
            .collect(),
        examples,
    })
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

    #[test]
    fn tolerance_names_each_table_over_it() {
        let acc = |table, read, rejected| TableAccount {
            table,
            path: format!("{table}.csv"),
            format: "csv",
            size_bytes: 0,
            sha256: String::new(),
            read,
            used: read - rejected,
            superseded: 0,
            after_cutoff: 0,
            rejected,
            nulled_cells: Default::default(),
            extra_columns: vec![],
        };
        let accounts = [acc("reports", 100, 1), acc("products", 10, 1)];
        assert!(
            check_tolerance(&accounts, &[], 0.1).is_ok(),
            "10% is not above 10%"
        );
        let err = check_tolerance(&accounts, &[], 0.05).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_REJECTS);
        assert_eq!(
            err.to_string(),
            "products.csv: 1 of 10 rows rejected (10.00%), above ingest.max_rejected_fraction = 0.05; nothing was written"
        );
    }
}
