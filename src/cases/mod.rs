//! The case table (`cases.parquet`): one row per case in the run's background, with its
//! completeness score.
//!
//! Reads ingest's `cases` (every row is a case of the background as of the period: the
//! latest version received by its end), `case_products` (suspect and interacting
//! products), `case_events` and `event_terms`. Writes one row per case, sorted by
//! `case_id`, in the columns of [`COLUMNS`] (documented in the README, "cases.parquet"):
//! the latest version's fields as text (sex and reporter type decoded from ingest's
//! indexes), the region's province and city, the age band of the signals' strata, the
//! case's distinct suspect products, events and batches as sorted lists of strings,
//! `in_period` (first received within the period), and [`completeness`] with
//! `well_documented` (completeness > 0.8).
//!
//! Invariants: one row per row of ingest's `cases`; no case is filtered here (the period
//! only sets `in_period`); lists are never null (empty when the case has none); types are
//! the BI-safe ones of `output::check_bi_types` (no unsigned, counts Int64).
//!
//! Lists are built from integer codes of the text ([`lists`]): one pass over the case ×
//! product and case × event rows per chunk, a sort of small integers, and the text
//! gathered only for the values a list holds. The run builds and writes the table in
//! chunks of [`CHUNK_CASES`] cases in `case_id` order ([`case_table_chunks`],
//! `output::Staging::write_parquet_files`), so it never holds the whole table.

pub mod completeness;
mod lists;
#[cfg(test)]
pub(crate) mod tests;
pub mod versions;

use polars::prelude::*;

pub use completeness::{completeness, completeness_of, WELL_DOCUMENTED_ABOVE};

use crate::config::Signals;
use crate::error::{PolarsContext, Result};
use crate::ingest::Dataset;
use crate::period::{epoch_days, Period};
use crate::schema::{col, REPORTER_TYPES, SEXES};
use crate::signals::counts::age_band;

/// The age bands' edges when the pipeline sets no `[signals.strata] age_bands`: `<18`,
/// `18-44`, `45-64`, `>=65`.
pub const DEFAULT_AGE_BANDS: &[f64] = &[18.0, 45.0, 65.0];

/// The `age_band` of a case with no age.
pub const UNKNOWN_AGE_BAND: &str = "unknown";

/// The columns of `cases.parquet`, in order.
pub const COLUMNS: &[&str] = &[
    col::PERIOD,
    col::CASE_ID,
    col::REPORT_ID,
    col::VERSION,
    col::VERSIONS_RECEIVED,
    col::FIRST_RECEIVED_DATE,
    col::LATEST_RECEIVED_DATE,
    col::CLASS,
    col::REGION,
    col::REGION_NAME,
    col::PROVINCE,
    col::CITY,
    col::SEX,
    col::AGE_YEARS,
    col::AGE_BAND,
    col::REPORTER_TYPE,
    col::SENTINEL,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
    col::SUSPECT_PRODUCTS,
    col::EVENTS,
    col::BATCHES,
    col::IN_PERIOD,
    col::COMPLETENESS,
    col::WELL_DOCUMENTED,
];

/// The age bands' edges a run uses: the signals' strata when set, else
/// [`DEFAULT_AGE_BANDS`].
pub fn age_band_edges(signals: &Signals) -> &[f64] {
    if signals.strata_age_bands.is_empty() {
        DEFAULT_AGE_BANDS
    } else {
        &signals.strata_age_bands
    }
}

/// The label of each band of [`age_band`] for these edges, band 0 first: `<e₀`, then
/// `eᵢ₋₁-(eᵢ−1)` for whole-year edges (`18-44`) or `eᵢ₋₁-<eᵢ` otherwise (`0.5-<2`), then
/// `>=eₙ₋₁`.
pub fn age_band_labels(edges: &[f64]) -> Vec<String> {
    let mut labels = Vec::with_capacity(edges.len() + 1);
    if let Some(first) = edges.first() {
        labels.push(format!("<{first}"));
    }
    for w in edges.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        if lo.fract() == 0.0 && hi.fract() == 0.0 {
            labels.push(format!("{lo}-{}", hi - 1.0));
        } else {
            labels.push(format!("{lo}-<{hi}"));
        }
    }
    if let Some(last) = edges.last() {
        labels.push(format!(">={last}"));
    }
    labels
}

/// Decode an index column (`UInt32` into `values`) to its text; null stays null.
fn decode(name: &str, values: &[&str]) -> Expr {
    let mut e = lit(NULL).cast(DataType::String);
    for (i, v) in values.iter().enumerate().rev() {
        e = when(col(name).eq(lit(i as u32))).then(lit(*v)).otherwise(e);
    }
    e.alias(name)
}

/// Cases per chunk of [`case_table_chunks`]. A chunk costs about 165 bytes per case at its
/// peak, lists and text with their copies for the writer
/// ([`crate::memory::CASE_TABLE_BYTES_PER_CHUNK_CASE`]); halving the chunk from 2^20
/// cases lowered the 10m run's peak by 0.08 GiB and its write stage by 2.5 s. The run
/// builds the next chunk while the last is written (`output::ahead`), so
/// [`CHUNKS_IN_MEMORY`] chunks are held at once: chunks of 2^18 cases hold what one chunk
/// of 2^19 did.
pub const CHUNK_CASES: usize = 1 << 18;

/// Chunks of the case table in memory at once while the run writes it.
pub const CHUNKS_IN_MEMORY: usize = 2;

/// Build `cases.parquet`'s frame: one row per case of `data.cases`, sorted by `case_id`
/// (the chunks of [`case_table_chunks`] stacked; the run writes them one at a time).
pub fn case_table(data: &Dataset, signals: &Signals, period: &Period) -> Result<DataFrame> {
    let mut table: Option<DataFrame> = None;
    for chunk in case_table_chunks(data, signals, period, CHUNK_CASES)? {
        let chunk = chunk?;
        match table.as_mut() {
            None => table = Some(chunk),
            Some(t) => {
                t.vstack_mut_owned(chunk)
                    .context(|| "cases: stacking the case table's chunks".to_string())?;
            }
        }
    }
    Ok(table.expect("case_table_chunks yields at least one chunk"))
}

/// `cases.parquet`'s rows in chunks of `chunk_cases` cases, in `case_id` order: stacked,
/// the chunks are one row per case of `data.cases`, sorted by `case_id`. There is at
/// least one chunk (empty when there is no case), so the schema is always known.
///
/// Only the case ids are sorted up front; each chunk gathers its cases' rows, and its
/// product and event rows, and builds the text columns and lists for those cases only,
/// so the table's cost is bounded by the chunk, not the number of cases.
///
/// `data.cases` may already hold a `completeness` column (the rates stage adds it); it is
/// used as it is. Otherwise it is computed with [`completeness`].
pub fn case_table_chunks<'a>(
    data: &'a Dataset,
    signals: &'a Signals,
    period: &'a Period,
    chunk_cases: usize,
) -> Result<impl Iterator<Item = Result<DataFrame>> + 'a> {
    Ok(chunks(data, signals, period, chunk_cases, false)?.map(|c| c.map(|(cases, _)| cases)))
}

/// The chunks of [`case_table_chunks`], each with the rows of `case_versions.parquet` for
/// the same cases ([`versions::versions_chunk`]): every version received by the cut-off
/// of those cases, so both files are written in one pass over the cases.
pub fn case_and_version_chunks<'a>(
    data: &'a Dataset,
    signals: &'a Signals,
    period: &'a Period,
    chunk_cases: usize,
) -> Result<impl Iterator<Item = Result<(DataFrame, DataFrame)>> + 'a> {
    Ok(chunks(data, signals, period, chunk_cases, true)?.map(|c| {
        c.map(|(cases, versions)| (cases, versions.expect("versions are built when asked for")))
    }))
}

fn chunks<'a>(
    data: &'a Dataset,
    signals: &'a Signals,
    period: &'a Period,
    chunk_cases: usize,
    with_versions: bool,
) -> Result<impl Iterator<Item = Result<(DataFrame, Option<DataFrame>)>> + 'a> {
    let ctx = || "cases: building the case table".to_string();
    let chunk_cases = chunk_cases.max(1);
    let cases = if data.cases.column(col::COMPLETENESS).is_ok() {
        std::borrow::Cow::Borrowed(&data.cases)
    } else {
        let mut cases = data.cases.clone();
        cases.with_column(completeness(data)?).context(ctx)?;
        std::borrow::Cow::Owned(cases)
    };
    let order = crate::progress::timed("cases: ordering by case_id", || {
        case_order(cases.column(col::CASE_ID)?)
    })
    .context(ctx)?;
    let keys = cases
        .column(col::CASE_KEY)
        .context(ctx)?
        .idx()
        .context(ctx)?;
    let keys = keys.rechunk();
    let keys = keys.cont_slice().context(ctx)?;
    // Which chunk each case key falls in (keys are dense: the row numbers of `cases`).
    let slots = keys.iter().max().map_or(0, |&m| m as usize + 1);
    let mut chunk_of = vec![u32::MAX; slots];
    // Each case's row within its chunk.
    let mut row_of = vec![u32::MAX; slots];
    for (pos, row) in order.into_no_null_iter().enumerate() {
        chunk_of[keys[row as usize] as usize] = (pos / chunk_cases) as u32;
        row_of[keys[row as usize] as usize] = (pos % chunk_cases) as u32;
    }
    let n_chunks = cases.height().div_ceil(chunk_cases).max(1);
    let (products, batches, events) =
        crate::progress::timed("cases: coding the lists' text", || -> Result<_> {
            let coded = |frame, name| lists::Coded::new(frame, name, &chunk_of, n_chunks);
            Ok((
                coded(&data.case_products, col::PRODUCT_ID)?,
                coded(&data.case_products, col::BATCH)?,
                coded(&data.case_events, col::EVENT)?,
            ))
        })?;
    let chunks = (0..n_chunks).map(move |i| {
        let clock = std::time::Instant::now();
        let lo = (i * chunk_cases).min(order.len());
        let hi = ((i + 1) * chunk_cases).min(order.len());
        let rows = order.slice(lo as i64, hi - lo);
        // Only the columns the lists read are copied out of the child tables.
        let in_chunk = |frame: &DataFrame, names: &[&str]| -> Result<DataFrame> {
            let mask = chunk_mask(frame, &chunk_of, i as u32).context(ctx)?;
            frame
                .select(names.iter().copied())
                .and_then(|f| f.filter(&mask))
                .context(ctx)
        };
        let mut chunk = cases.take(&rows).context(ctx)?;
        let len = chunk.height();
        for list in [
            products.lists(col::SUSPECT_PRODUCTS, len, i, &row_of),
            batches.lists(col::BATCHES, len, i, &row_of),
            events.lists(col::EVENTS, len, i, &row_of),
        ] {
            chunk.with_column(list).context(ctx)?;
        }
        let table = chunk_table(chunk, signals, period)?;
        tracing::debug!(
            chunk = i,
            cases = table.height(),
            elapsed_ms = clock.elapsed().as_millis() as u64,
            "cases: chunk built"
        );
        if !with_versions {
            return Ok((table, None));
        }
        // A dataset built without ingest (tests, benchmarks) may have no older versions.
        let (older, older_rows) = if data.superseded_versions.column(col::CASE_KEY).is_ok() {
            let mut names = crate::ingest::SUPERSEDED_COLUMNS.to_vec();
            names.push(col::CASE_KEY);
            let mut older = in_chunk(&data.superseded_versions, &names)?;
            let keys = older.drop_in_place(col::CASE_KEY).context(ctx)?;
            let rows = keys
                .idx()
                .context(ctx)?
                .into_no_null_iter()
                .map(|k| row_of[k as usize])
                .collect::<Vec<u32>>();
            (older, rows)
        } else {
            (DataFrame::empty(), Vec::new())
        };
        let versions = versions::versions_chunk(&table, older, &older_rows, &period.to_string())?;
        tracing::debug!(
            chunk = i,
            versions = versions.height(),
            elapsed_ms = clock.elapsed().as_millis() as u64,
            "cases: chunk and its versions built"
        );
        Ok((table, Some(versions)))
    });
    Ok(chunks)
}

/// The rows of `case_ids` in `case_id` order. Inputs often come sorted already (exports
/// by case or report number): one pass over neighbouring ids finds that, and then the rows
/// are taken as they are instead of sorting millions of strings.
fn case_order(case_ids: &Column) -> PolarsResult<IdxCa> {
    let ids = case_ids.str()?;
    let sorted = ids.null_count() == 0 && {
        let mut prev: Option<&str> = None;
        ids.iter().flatten().all(|v| {
            let in_order = prev.is_none_or(|p| p <= v);
            prev = Some(v);
            in_order
        })
    };
    Ok(if sorted {
        IdxCa::from_vec(PlSmallStr::EMPTY, (0..ids.len() as IdxSize).collect())
    } else {
        case_ids.arg_sort(SortOptions::default())
    })
}

/// Which rows of `frame` belong to cases of chunk `i` (by their case key).
fn chunk_mask(frame: &DataFrame, chunk_of: &[u32], i: u32) -> PolarsResult<BooleanChunked> {
    let keys = frame.column(col::CASE_KEY)?.idx()?;
    let mut mask = Vec::with_capacity(keys.len());
    for arr in keys.downcast_iter() {
        // Keys are never null (linking drops unlinked rows); a null slot reads as some
        // key and is dropped by the filter anyway.
        mask.extend(
            arr.values()
                .iter()
                .map(|&k| chunk_of.get(k as usize) == Some(&i)),
        );
    }
    Ok(BooleanChunked::from_slice(PlSmallStr::EMPTY, &mask))
}

/// The case table's rows for `cases` (already in `case_id` order) from their product and
/// event rows.
fn chunk_table(cases: DataFrame, signals: &Signals, period: &Period) -> Result<DataFrame> {
    let ctx = || "cases: building the case table".to_string();
    let left = || JoinArgs {
        maintain_order: MaintainOrderJoin::Left,
        ..JoinArgs::new(JoinType::Left)
    };

    let edges = age_band_edges(signals);
    let band = age_band(col(col::AGE_YEARS), edges);
    let mut age_label = lit(UNKNOWN_AGE_BAND);
    for (i, label) in age_band_labels(edges).iter().enumerate().rev() {
        age_label = when(band.clone().eq(lit(i as i32)))
            .then(lit(label.as_str()))
            .otherwise(age_label);
    }
    let day = |c: &str| col(c).cast(DataType::Int32);
    let in_period = day(col::FIRST_RECEIVED)
        .gt_eq(lit(epoch_days(period.start())))
        .and(day(col::FIRST_RECEIVED).lt_eq(lit(epoch_days(period.end()))));
    // Region codes are checked 6-digit GB/T 2260 codes (see `schema::province_of`).
    let prefix = |n: i64, zeros: &str| col(col::REGION).str().head(lit(n)) + lit(zeros);

    // The cases come in `case_id` order, kept through the join, so the finished chunk
    // needs no sort.
    cases
        .lazy()
        .join(
            crate::regions::names_frame().lazy(),
            [col(col::REGION)],
            [col(col::REGION)],
            left(),
        )
        .select([
            lit(period.to_string()).alias(col::PERIOD),
            col(col::CASE_ID),
            col(col::REPORT_ID),
            // A report without a version is version 1 (ingest ranks it so).
            col(col::VERSION)
                .fill_null(lit(1i64))
                .cast(DataType::Int64)
                .alias(col::VERSION),
            col(col::VERSIONS)
                .cast(DataType::Int64)
                .alias(col::VERSIONS_RECEIVED),
            col(col::FIRST_RECEIVED).alias(col::FIRST_RECEIVED_DATE),
            col(col::RECEIVED_DATE).alias(col::LATEST_RECEIVED_DATE),
            col(col::CLASS),
            col(col::REGION),
            col(col::REGION_NAME),
            prefix(2, "0000").alias(col::PROVINCE),
            prefix(4, "00").alias(col::CITY),
            decode(col::SEX, SEXES),
            col(col::AGE_YEARS),
            age_label.alias(col::AGE_BAND),
            decode(col::REPORTER_TYPE, REPORTER_TYPES),
            col(col::SENTINEL),
            col(col::IS_NEW),
            col(col::IS_SERIOUS),
            col(col::FATAL),
            col(col::SUSPECT_PRODUCTS),
            col(col::EVENTS),
            col(col::BATCHES),
            in_period.alias(col::IN_PERIOD),
            col(col::COMPLETENESS).cast(DataType::Float64),
            col(col::COMPLETENESS)
                .gt(lit(WELL_DOCUMENTED_ABOVE))
                .alias(col::WELL_DOCUMENTED),
        ])
        .collect()
        .context(ctx)
}
