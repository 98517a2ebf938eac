//! The case versions table (`case_versions.parquet`): one row per report version received
//! on or before the run's cut-off, for the cases of the case table (the cases in scope),
//! so that the review app's case page can show every version's key fields
//! (`cases.parquet` holds only each case's latest version).
//!
//! Reads a chunk of the case table (the latest versions, built by
//! [`super::case_table_chunks`]) and ingest's `superseded_versions` rows of the same cases.
//! Writes the columns of [`COLUMNS`], sorted by `case_id`, then `version`, then
//! `received_date`, then `report_id`.
//!
//! What ingest keeps of a superseded version is its report row only: its products, events
//! and batches are not linked (they are accounted as superseded and dropped while the
//! child tables stream), so `suspect_products`, `events` and `batches` are the latest
//! version's lists on its row and **null** on a superseded row — null, not empty: "not
//! kept", not "none". No personal data is read by ingest, so none can appear here.
//!
//! Invariants: one row per version received by the cut-off of each case in the table;
//! exactly one row per case with `superseded = false` (its latest version, the same
//! `report_id` as in `cases.parquet`); the types of `output::check_bi_types`.

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::ingest::SUPERSEDED_COLUMNS;
use crate::schema::col;

/// The file name.
pub const CASE_VERSIONS_PARQUET: &str = "case_versions.parquet";

/// The columns of `case_versions.parquet`, in order.
pub const COLUMNS: &[&str] = &[
    col::PERIOD,
    col::CASE_ID,
    col::REPORT_ID,
    col::VERSION,
    col::RECEIVED_DATE,
    col::SUPERSEDED,
    col::CLASS,
    col::REGION,
    col::REGION_NAME,
    col::SEX,
    col::AGE_YEARS,
    col::REPORTER_TYPE,
    col::SENTINEL,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
    col::SUSPECT_PRODUCTS,
    col::EVENTS,
    col::BATCHES,
];

/// Each column's type in the file.
fn dtype(name: &str) -> DataType {
    match name {
        col::VERSION => DataType::Int64,
        col::RECEIVED_DATE => DataType::Date,
        col::AGE_YEARS => DataType::Float64,
        col::SUPERSEDED | col::SENTINEL | col::IS_NEW | col::IS_SERIOUS | col::FATAL => {
            DataType::Boolean
        }
        col::SUSPECT_PRODUCTS | col::EVENTS | col::BATCHES => {
            DataType::List(Box::new(DataType::String))
        }
        _ => DataType::String,
    }
}

/// The versions table's rows for one chunk of the case table (`cases`, in `case_id`
/// order, with `cases.parquet`'s columns) and the superseded versions of its cases
/// (`superseded`, ingest's [`SUPERSEDED_COLUMNS`]; may have no column at all).
pub fn versions_chunk(cases: &DataFrame, superseded: DataFrame, period: &str) -> Result<DataFrame> {
    let ctx = || "cases: building the case versions table".to_string();
    let typed = |e: Expr, name: &str| e.cast(dtype(name)).alias(name);
    let latest = cases.clone().lazy().select(
        COLUMNS
            .iter()
            .map(|&name| match name {
                col::PERIOD => typed(lit(period), name),
                col::RECEIVED_DATE => typed(col(col::LATEST_RECEIVED_DATE), name),
                col::SUPERSEDED => typed(lit(false), name),
                n => typed(col(n), n),
            })
            .collect::<Vec<_>>(),
    );
    let mut frames = vec![latest];
    if superseded.height() > 0 {
        let has = |n: &str| superseded.column(n).is_ok();
        let older = superseded
            .clone()
            .lazy()
            .join(
                crate::regions::names_frame().lazy(),
                [col(col::REGION)],
                [col(col::REGION)],
                JoinArgs {
                    maintain_order: MaintainOrderJoin::Left,
                    ..JoinArgs::new(JoinType::Left)
                },
            )
            .select(
                COLUMNS
                    .iter()
                    .map(|&name| match name {
                        col::PERIOD => typed(lit(period), name),
                        col::SUPERSEDED => typed(lit(true), name),
                        // A report without a version is version 1 (ingest ranks it so).
                        col::VERSION => typed(col(name).fill_null(lit(1i64)), name),
                        col::SUSPECT_PRODUCTS | col::EVENTS | col::BATCHES => {
                            typed(lit(NULL), name)
                        }
                        n if has(n) || n == col::REGION_NAME => typed(col(n), n),
                        n => typed(lit(NULL), n),
                    })
                    .collect::<Vec<_>>(),
            );
        frames.push(older);
    }
    debug_assert!(SUPERSEDED_COLUMNS.contains(&col::CASE_ID));
    concat(frames, UnionArgs::default())
        .and_then(|lf| {
            lf.sort(
                [
                    col::CASE_ID,
                    col::VERSION,
                    col::RECEIVED_DATE,
                    col::REPORT_ID,
                ],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .collect()
        })
        .context(ctx)
}
