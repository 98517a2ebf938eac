//! Stage 1, ingest: load and check the input tables, keep the latest version of each case,
//! and account for every row read.
//!
//! All input I/O lives here. A pipeline that names a real-world source (`[inputs.source]`)
//! has it converted into the canonical tables first ([`source`]). Each table is a CSV or
//! Parquet file (by extension), checked as it loads (`validate`). Reports, products, populations and event_terms load whole and
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
//! keyed by `__case`), `superseded_versions` (the report columns of each older version
//! received by the cut-off, keyed by its case's `__case`; not their products or events),
//! `products`, `populations`, `event_terms`. Optional columns missing
//! from a file are present as nulls, and so are bad optional values (nulled, row kept).
//!
//! Memory (DESIGN.md, Performance and scale): the child tables are streamed in batches and
//! linked as they are read, and only what later stages use is kept. `cases`'
//! `reporter_type` and `sex` are `UInt32` indexes into [`schema::REPORTER_TYPES`] and
//! [`schema::SEXES`]. `case_products` holds `product_id`, `batch` and `__case` of the rows
//! whose role counts (suspect or interacting, the default); `case_events` holds `event`,
//! `onset_date` and `__case`. Every row read is still accounted for.
//!
//! Files, in pipeline order: [`source`] (a real-world source converted), `table` (one
//! table read, its header matched, its cells and keys checked; [`csv`], [`parquet`],
//! [`validate`]), `versions` (each case's latest version, and `cases`), `link` (the child
//! tables streamed and linked to their cases); [`previous`] reads the previous run's alerts.
//! Rejects, each file's accounting and the tolerance are [`crate::accounting`]'s, shared
//! with `convert`.

pub mod csv;
mod link;
pub mod parquet;
pub mod previous;
mod sheet;
pub mod source;
mod table;
pub mod validate;
mod versions;

use std::path::PathBuf;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::memory::{self, Budget};
use crate::plausible::Plausible;
use crate::progress::{timed, Stage};
use crate::schema::{self, TableSpec};

use crate::accounting::TableAccount;
// `Dataset::rejects` holds these; `lib.rs` names them `ingest::Reject`.
pub use crate::accounting::Reject;
pub use source::{load_inputs, ConversionReport};
pub use table::{match_header, RawFrame, Wanted};
pub use versions::SUPERSEDED_COLUMNS;

use link::{is_child, link};
use table::{is_parquet, load_table, Batches, Loaded};

/// Everything later stages need, checked and de-duplicated.
pub struct Dataset {
    pub cases: DataFrame,
    /// The older versions of the cases, received by the cut-off: one row per version
    /// ([`SUPERSEDED_COLUMNS`], keyed by `__case` like `case_products`), for
    /// `case_versions.parquet`. Empty (no column) where a caller builds a dataset itself.
    pub superseded_versions: DataFrame,
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
    let dates = validate::DateRules {
        plausible: Plausible::until(pipeline.today.unwrap_or_else(crate::plausible::today)),
        timezone: pipeline.timezone,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .map_err(|e| Error::io(&pipeline.file, e))?;
    let opened: Vec<Result<Opened>> = runtime.block_on(async {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|(spec, path)| {
                let counter = counter.clone();
                let options = pipeline.inputs.read_options(spec.name);
                tokio::task::spawn_blocking(move || {
                    if is_child(spec) {
                        let batches = Batches::open(spec, &path, &options)?;
                        Ok(Opened::Child(spec, path, batches))
                    } else {
                        load_table(spec, &path, &options, &counter, &dates).map(Opened::Whole)
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
            &dates,
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
    memory::report_headroom(needed, budget);
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
