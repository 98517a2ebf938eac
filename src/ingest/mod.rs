//! Stage 1, ingest: load and check the input tables, keep the latest version of each case,
//! and account for every row read.
//!
//! All input I/O lives here. Each table is a CSV or Parquet file (by extension), loaded
//! concurrently on tokio's blocking pool and checked as it loads (`validate`). Then:
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
//! Outputs ([`Dataset`]): `cases` (one row per case: the latest version, plus
//! `__first_received`, the earliest received_date among its versions), `case_products`
//! and `case_events` (rows of latest versions, with `case_id`), `products`, `populations`,
//! `event_terms`. Optional columns missing from a file are present as nulls.

pub mod csv;
pub mod parquet;
pub mod previous;
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
use crate::period::from_epoch_days;
use crate::progress::{timed, RowCounter, Stage};
use crate::schema::{self, col, ColumnSpec, Kind, TableSpec};

/// One bad cell (or a bad row, with an empty `column`) of an input table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reject {
    pub table: &'static str,
    pub file: String,
    /// CSV: the line the record starts on (header = 1). Parquet: the 1-based row.
    pub line: i64,
    pub column: String,
    pub found: String,
    pub expected: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: line {}", self.file, self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column `{}`", self.column)?;
        }
        write!(f, ": expected {}, found `{}`", self.expected, self.found)
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
    pub rejected: u64,
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

/// A table after its own checks: good rows typed, with every spec column present.
struct Loaded {
    spec: &'static TableSpec,
    path: PathBuf,
    df: DataFrame,
    read: u64,
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

/// Read one table and check its cells and keys.
fn load_table(spec: &'static TableSpec, path: &Path, counter: &RowCounter) -> Result<Loaded> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let on_rows = {
        let last = std::sync::atomic::AtomicU64::new(0);
        move |n: u64| {
            let prev = last.swap(n, std::sync::atomic::Ordering::Relaxed);
            counter.add(n.saturating_sub(prev));
        }
    };
    let step = |what: &str| format!("ingest: {} {what}", spec.name);
    let (raw, format) = if ext == "parquet" {
        let raw = timed(&step("read"), || {
            parquet::read_parquet(path, spec, &on_rows)
        })?;
        (raw, "parquet")
    } else {
        (
            timed(&step("read"), || csv::read_csv(path, spec, &on_rows))?,
            "csv",
        )
    };
    let (size_bytes, sha256) = timed(&step("sha256"), || sha256_file(path))?;
    let file = path.display().to_string();
    let context = || format!("{}: checking {}", path.display(), spec.name);

    let (mut columns, problems) = timed(&step("cell checks"), || {
        validate::type_columns(spec, &raw.df, &context)
    })?;
    let lines: Vec<i64> = raw
        .df
        .column(col::LINE)
        .and_then(|c| c.i64().map(|ca| ca.into_no_null_iter().collect()))
        .context(context)?;
    let height = raw.df.height();
    for c in spec.columns {
        if !columns.iter().any(|x| x.name() == c.name) {
            columns.push(Column::full_null(c.name.into(), height, &dtype_of(c.kind)));
        }
    }
    columns.push(Column::new(col::LINE.into(), lines.clone()));
    let df = DataFrame::new(height, columns).context(context)?;

    let mut good = vec![true; height];
    let mut rejects = raw.rejects;
    for p in &problems {
        good[p.row] = false;
        rejects.push(Reject {
            table: spec.name,
            file: file.clone(),
            line: lines[p.row],
            column: p.column.to_string(),
            found: p.found.clone(),
            expected: p.expected.clone(),
        });
    }

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

    let rejected = raw.read - good.iter().filter(|g| **g).count() as u64;
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
        read: raw.read,
        rejected,
        rejects,
        rejected_keys,
        extra_columns: raw.extra_columns,
        size_bytes,
        sha256,
        format,
    })
}

/// Load every input of the pipeline concurrently, then link and de-duplicate them.
pub fn load_inputs(pipeline: &Pipeline, stage: &Stage) -> Result<Dataset> {
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
    let loaded: Vec<Result<Loaded>> = runtime.block_on(async {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|(spec, path)| {
                let counter = counter.clone();
                tokio::task::spawn_blocking(move || load_table(spec, &path, &counter))
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
    // Report the first error in table order, so that the message is deterministic.
    let mut tables = Vec::with_capacity(loaded.len());
    for l in loaded {
        tables.push(l?);
    }
    timed("ingest: versions and links", || {
        link(tables, pipeline.max_rejected_fraction)
    })
}

/// Stop before loading when the inputs would not fit in the memory budget. Parquet files
/// give their row counts in their footers; a CSV file's need is estimated from its size.
/// A file that cannot be opened is left to the loader, which names it.
fn check_memory(specs: &[(&'static TableSpec, PathBuf)], budget: &Budget) -> Result<()> {
    let mut needed = 0u64;
    let mut sizes = Vec::new();
    for (spec, path) in specs {
        let is_parquet = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        let bytes = if is_parquet {
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
fn link(mut tables: Vec<Loaded>, max_rejected_fraction: f64) -> Result<Dataset> {
    let take = |tables: &mut Vec<Loaded>, name: &str| -> Option<Loaded> {
        let i = tables.iter().position(|t| t.spec.name == name)?;
        Some(tables.remove(i))
    };
    let mut reports = take(&mut tables, "reports").expect("reports is required");
    let mut products_of = take(&mut tables, "report_products").expect("required");
    let mut events_of = take(&mut tables, "report_events").expect("required");
    let products = take(&mut tables, "products").expect("required");
    let populations = take(&mut tables, "populations").expect("required");
    let event_terms = take(&mut tables, "event_terms");
    let ctx = |what: &'static str| move || format!("ingest: {what}");

    // Latest version of each case: highest version (default 1), then latest received_date,
    // then highest report_id. One pass over the reports with a map from case to its best
    // row so far: no sort, and the reports frame is copied once, into `cases`.
    let rdf = &reports.df;
    let ids = rdf
        .column(col::REPORT_ID)
        .and_then(|c| c.str().cloned())
        .context(ctx("ranking case versions"))?;
    let (latest_mask, first_received, n_latest) = {
        let case_ids = rdf
            .column(col::CASE_ID)
            .and_then(|c| c.str().cloned())
            .context(ctx("ranking case versions"))?;
        let versions = rdf
            .column(col::VERSION)
            .and_then(|c| c.i64().cloned())
            .context(ctx("ranking case versions"))?;
        let received = rdf
            .column(col::RECEIVED_DATE)
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .context(ctx("ranking case versions"))?;
        // Per case: its best row so far, with its rank, and its earliest receipt.
        struct Best<'a> {
            row: usize,
            rank: (i64, i32, &'a str),
            first: i32,
        }
        let mut cases: HashMap<&str, Best, foldhash::fast::FixedState> =
            HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let rows = ids
            .iter()
            .zip(case_ids.iter())
            .zip(versions.iter())
            .zip(received.iter());
        for (row, (((id, case), version), date)) in rows.enumerate() {
            let id = id.unwrap_or("");
            let date = date.unwrap_or(i32::MIN);
            let rank = (version.unwrap_or(1), date, id);
            cases
                .entry(case.unwrap_or(id))
                .and_modify(|b| {
                    if rank > b.rank {
                        b.row = row;
                        b.rank = rank;
                    }
                    b.first = b.first.min(date);
                })
                .or_insert(Best {
                    row,
                    rank,
                    first: date,
                });
        }
        let mut latest = vec![false; ids.len()];
        let mut first = vec![0i32; ids.len()];
        for b in cases.values() {
            latest[b.row] = true;
            first[b.row] = b.first;
        }
        let n_latest = cases.len();
        let first: Vec<i32> = first
            .into_iter()
            .zip(&latest)
            .filter_map(|(f, l)| l.then_some(f))
            .collect();
        (latest, first, n_latest as u64)
    };
    let latest_mask = BooleanChunked::from_slice("latest".into(), &latest_mask);
    let mut cases = rdf
        .filter(&latest_mask)
        .context(ctx("selecting latest versions"))?;
    let first_received = Column::new(col::FIRST_RECEIVED.into(), first_received)
        .cast(&DataType::Date)
        .context(ctx("selecting latest versions"))?;
    let case_keys: Vec<IdxSize> = (0..n_latest as IdxSize).collect();
    cases
        .with_column(first_received)
        .and_then(|df| df.with_column(Column::new(col::CASE_KEY.into(), case_keys)))
        .context(ctx("selecting latest versions"))?;
    let cases = cases
        .lazy()
        .with_columns([
            coalesce(&[col(col::CASE_ID), col(col::REPORT_ID)]).alias(col::CASE_ID),
            col(col::VERSION).fill_null(lit(1i64)),
        ])
        .collect()
        .context(ctx("selecting latest versions"))?;
    let data_cutoff = cases
        .column(col::RECEIVED_DATE)
        .ok()
        .and_then(|c| c.as_materialized_series().max::<i32>().ok().flatten())
        .map(from_epoch_days);

    let mut accounts = Vec::new();
    let reports_superseded = reports.df.height() as u64 - n_latest;
    let file_of_reports = reports.path.display().to_string();
    accounts.push(account(&reports, n_latest, reports_superseded));

    // Report id → its case key (latest versions, in row order) or SUPERSEDED.
    let status = {
        let mut status: ReportStatus =
            HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let mut next: IdxSize = 0;
        for (id, latest) in ids.iter().zip(latest_mask.iter()) {
            let key = if latest == Some(true) {
                next += 1;
                next - 1
            } else {
                SUPERSEDED
            };
            if let Some(id) = id {
                status.insert(id, key);
            }
        }
        status
    };
    let link_of = Linker {
        status: &status,
        rejected_keys: &reports.rejected_keys,
        file_of_reports: &file_of_reports,
    };
    // The two child tables link at once, one per core.
    let (linked_products, linked_events) = std::thread::scope(|scope| {
        let p = scope.spawn(|| {
            timed("ingest: linking report_products", || {
                link_of.link(&mut products_of)
            })
        });
        let e = timed("ingest: linking report_events", || {
            link_of.link(&mut events_of)
        });
        (p.join().expect("linking thread"), e)
    });
    let (case_products, acc) = linked_products?;
    accounts.push(acc);
    let (case_events, acc) = linked_events?;
    accounts.push(acc);
    drop(status);
    let case_products = case_products
        .lazy()
        .with_column(col(col::ROLE).fill_null(lit("suspect")))
        .collect()
        .context(ctx("default roles"))?;

    for t in [&products, &populations] {
        let used = t.df.height() as u64;
        accounts.push(account(t, used, 0));
    }
    if let Some(t) = &event_terms {
        accounts.push(account(t, t.df.height() as u64, 0));
    }

    let mut rejects = Vec::new();
    for t in [&reports, &products_of, &events_of, &products, &populations] {
        rejects.extend(t.rejects.iter().cloned());
    }
    if let Some(t) = &event_terms {
        rejects.extend(t.rejects.iter().cloned());
    }

    check_tolerance(&accounts, &rejects, max_rejected_fraction)?;
    // The per-table reject lists are no longer needed; free them.
    reports.rejects.clear();

    let strip = |df: DataFrame| -> Result<DataFrame> {
        df.drop(col::LINE).context(ctx("dropping line numbers"))
    };
    Ok(Dataset {
        cases: strip(cases)?,
        case_products: strip(case_products)?,
        case_events: strip(case_events)?,
        products: strip(products.df)?,
        populations: strip(populations.df)?,
        event_terms: event_terms.map(|t| strip(t.df)).transpose()?,
        rejects,
        tables: accounts,
        data_cutoff,
    })
}

/// A report id's case key when it is the latest version of its case.
type ReportStatus<'a> = HashMap<&'a str, IdxSize, foldhash::fast::FixedState>;
/// The status of a report that an later version of its case superseded.
const SUPERSEDED: IdxSize = IdxSize::MAX;

/// Links a child table (report_products, report_events) to the reports.
struct Linker<'a> {
    status: &'a ReportStatus<'a>,
    rejected_keys: &'a HashSet<String>,
    file_of_reports: &'a str,
}

impl Linker<'_> {
    /// Keep the rows of latest versions, keyed by their case (`__case`; report ids are not
    /// needed further); count the superseded ones; reject rows whose report_id is not a
    /// valid report. Row order is kept.
    fn link(&self, t: &mut Loaded) -> Result<(DataFrame, TableAccount)> {
        let ctx = || format!("{}: linking to reports", t.path.display());
        let ids =
            t.df.column(col::REPORT_ID)
                .and_then(|c| c.str().cloned())
                .context(ctx)?;
        let mut used = Vec::with_capacity(ids.len());
        let mut keys: Vec<IdxSize> = Vec::with_capacity(ids.len());
        let mut orphan_rows = Vec::new();
        for (row, id) in ids.iter().enumerate() {
            match id.and_then(|id| self.status.get(id)) {
                Some(&SUPERSEDED) => used.push(false),
                Some(&key) => {
                    used.push(true);
                    keys.push(key);
                }
                None => {
                    used.push(false);
                    orphan_rows.push(row);
                }
            }
        }
        if !orphan_rows.is_empty() {
            let lines =
                t.df.column(col::LINE)
                    .and_then(|c| c.i64().cloned())
                    .context(ctx)?;
            let file = t.path.display().to_string();
            for &row in &orphan_rows {
                let id = ids.get(row).unwrap_or("");
                let expected = if self.rejected_keys.contains(id) {
                    format!(
                        "a report_id of a valid row in {} (that report was rejected)",
                        self.file_of_reports
                    )
                } else {
                    format!("a report_id present in {}", self.file_of_reports)
                };
                t.rejects.push(Reject {
                    table: t.spec.name,
                    file: file.clone(),
                    line: lines.get(row).unwrap_or(0),
                    column: col::REPORT_ID.to_string(),
                    found: id.to_string(),
                    expected,
                });
            }
            t.rejects.sort_by_key(|r| r.line);
        }
        let orphans = orphan_rows.len() as u64;
        t.rejected += orphans;
        let n_used = keys.len() as u64;
        let superseded = ids.len() as u64 - orphans - n_used;
        let mask = BooleanChunked::from_slice("used".into(), &used);
        let mut df =
            t.df.drop(col::REPORT_ID)
                .and_then(|df| df.filter(&mask))
                .context(ctx)?;
        df.with_column(Column::new(col::CASE_KEY.into(), keys))
            .context(ctx)?;
        Ok((df, account(t, n_used, superseded)))
    }
}

fn account(t: &Loaded, used: u64, superseded: u64) -> TableAccount {
    TableAccount {
        table: t.spec.name,
        path: t.path.display().to_string(),
        format: t.format,
        size_bytes: t.size_bytes,
        sha256: t.sha256.clone(),
        read: t.read,
        used,
        superseded,
        rejected: t.rejected,
        extra_columns: t.extra_columns.clone(),
    }
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
                .filter(move |r| r.file == path)
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
            rejected,
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
