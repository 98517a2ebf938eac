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
/// (`superseded`, ingest's [`crate::ingest::SUPERSEDED_COLUMNS`]; may have no column at
/// all), where `superseded_rows[j]` is the row in `cases` of superseded row `j`'s case.
///
/// Rows are ordered by case (the chunk's order is `case_id` order), then `version`,
/// `received_date` and `report_id`, nulls first and ties in input order, latest versions
/// before superseded ones: the order of a stable sort on those columns, found on integer
/// keys. The list columns reuse the case table's text: a case's latest row points at its
/// list, a superseded row is null, and as each case has one latest row and cases keep
/// their order, the values need no copy (on the 1m benchmark, the sort and the gather of
/// the lists took 0.15–0.35 s per chunk of 2^18 cases).
pub fn versions_chunk(
    cases: &DataFrame,
    superseded: DataFrame,
    superseded_rows: &[u32],
    period: &str,
) -> Result<DataFrame> {
    let ctx = || "cases: building the case versions table".to_string();
    let typed = |e: Expr, name: &str| e.cast(dtype(name)).alias(name);
    let is_list = |name: &str| matches!(dtype(name), DataType::List(_));
    let flat: Vec<&str> = COLUMNS.iter().copied().filter(|n| !is_list(n)).collect();
    let latest = cases
        .clone()
        .lazy()
        .select(
            flat.iter()
                .map(|&name| match name {
                    col::PERIOD => typed(lit(period), name),
                    col::RECEIVED_DATE => typed(col(col::LATEST_RECEIVED_DATE), name),
                    col::SUPERSEDED => typed(lit(false), name),
                    n => typed(col(n), n),
                })
                .collect::<Vec<_>>(),
        )
        .collect()
        .context(ctx)?;
    let n_latest = latest.height();
    let mut rows: Vec<u32> = (0..n_latest as u32).collect();
    let mut both = latest;
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
                flat.iter()
                    .map(|&name| match name {
                        col::PERIOD => typed(lit(period), name),
                        col::SUPERSEDED => typed(lit(true), name),
                        // A report without a version is version 1 (ingest ranks it so).
                        col::VERSION => typed(col(name).fill_null(lit(1i64)), name),
                        n if has(n) || n == col::REGION_NAME => typed(col(n), n),
                        n => typed(lit(NULL), n),
                    })
                    .collect::<Vec<_>>(),
            )
            .collect()
            .context(ctx)?;
        debug_assert_eq!(older.height(), superseded_rows.len());
        rows.extend_from_slice(superseded_rows);
        both.vstack_mut_owned(older).context(ctx)?;
    }
    let order = version_order(&both, &rows).context(ctx)?;
    let mut table = both
        .take(&IdxCa::from_vec(PlSmallStr::EMPTY, order.clone()))
        .context(ctx)?;
    // Output row r holds case `order[r]`'s list when it is that case's latest version.
    let latest_of: Vec<Option<usize>> = order
        .iter()
        .map(|&i| ((i as usize) < n_latest).then_some(i as usize))
        .collect();
    for name in COLUMNS.iter().copied().filter(|n| is_list(n)) {
        let lists = cases.column(name).and_then(|c| c.list()).context(ctx)?;
        let column = spread_lists(lists, &latest_of).context(ctx)?;
        table.with_column(column).context(ctx)?;
    }
    table.select(COLUMNS.iter().copied()).context(ctx)
}

/// The order of [`versions_chunk`]'s rows: row indexes of `frame` sorted by (`rows`,
/// `version`, `received_date`, `report_id`), nulls first, stable.
fn version_order(frame: &DataFrame, rows: &[u32]) -> PolarsResult<Vec<IdxSize>> {
    let version = frame.column(col::VERSION)?.i64()?.rechunk();
    let received = frame
        .column(col::RECEIVED_DATE)?
        .date()?
        .physical()
        .rechunk();
    let report = frame.column(col::REPORT_ID)?.str()?.rechunk();
    let version: Vec<Option<i64>> = version.iter().collect();
    let received: Vec<Option<i32>> = received.iter().collect();
    let report: Vec<Option<&str>> = report.iter().collect();
    let mut order: Vec<IdxSize> = (0..frame.height() as IdxSize).collect();
    order.sort_by(|&x, &y| {
        let (x, y) = (x as usize, y as usize);
        (rows[x], version[x], received[x])
            .cmp(&(rows[y], version[y], received[y]))
            .then_with(|| report[x].cmp(&report[y]))
    });
    Ok(order)
}

/// A list column whose row `r` is `lists[i]` where `latest_of[r] = Some(i)` and null
/// elsewhere. The `Some` indexes must increase, so the values are shared, not copied.
fn spread_lists(lists: &ListChunked, latest_of: &[Option<usize>]) -> PolarsResult<Column> {
    use polars_arrow::array::{Array, ListArray};
    use polars_arrow::bitmap::Bitmap;
    use polars_arrow::offset::{Offsets, OffsetsBuffer};
    let lists = lists.rechunk();
    let source = lists
        .downcast_iter()
        .next()
        .ok_or_else(|| polars_err!(ComputeError: "a list column without a chunk"))?;
    let from = source.offsets();
    let mut offsets = Vec::with_capacity(latest_of.len() + 1);
    let mut last = *from.first();
    offsets.push(last);
    let mut valid = Vec::with_capacity(latest_of.len());
    let mut previous: Option<usize> = None;
    for &i in latest_of {
        match i {
            Some(i) => {
                polars_ensure!(
                    previous.is_none_or(|p| p < i) && source.is_valid(i),
                    ComputeError: "case lists out of order"
                );
                previous = Some(i);
                last = from[i + 1];
                valid.push(true);
            }
            None => valid.push(false),
        }
        offsets.push(last);
    }
    // Starting at the source's first offset and ending at most at its last, so
    // the values are the source's, sliced nowhere.
    let offsets: OffsetsBuffer<i64> = Offsets::try_from(offsets)?.into();
    let array = ListArray::<i64>::try_new(
        source.dtype().clone(),
        offsets,
        source.values().clone(),
        Some(Bitmap::from_iter(valid)),
    )?;
    let chunked = ListChunked::with_chunk(lists.name().clone(), array);
    Ok(chunked.into_column())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Row = (u32, Option<i64>, Option<i32>, Option<String>);

    fn frame(rows: &[Row]) -> DataFrame {
        let version: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
        let received: Vec<Option<i32>> = rows.iter().map(|r| r.2).collect();
        let report: Vec<Option<&str>> = rows.iter().map(|r| r.3.as_deref()).collect();
        let case: Vec<u32> = rows.iter().map(|r| r.0).collect();
        df!(
            "case_row" => case,
            col::VERSION => version,
            col::RECEIVED_DATE => received,
            col::REPORT_ID => report,
        )
        .unwrap()
        .lazy()
        .with_column(col(col::RECEIVED_DATE).cast(DataType::Date))
        .collect()
        .unwrap()
    }

    proptest! {
        /// The integer-key order is polars' stable multi-column sort, nulls first.
        #[test]
        fn version_order_is_polars_stable_sort(
            rows in proptest::collection::vec(
                (
                    0u32..4,
                    proptest::option::of(0i64..3),
                    proptest::option::of(0i32..3),
                    proptest::option::of("[ab]{0,2}"),
                ),
                0..40,
            )
        ) {
            let df = frame(&rows);
            let case_rows: Vec<u32> = rows.iter().map(|r| r.0).collect();
            let ours = version_order(&df, &case_rows).unwrap();
            let n = df.height() as IdxSize;
            let mut with_index = df.clone();
            with_index
                .with_column(IdxCa::from_vec("i".into(), (0..n).collect()).into_column())
                .unwrap();
            let sorted = with_index
                .sort(
                    ["case_row", col::VERSION, col::RECEIVED_DATE, col::REPORT_ID],
                    SortMultipleOptions::default().with_maintain_order(true),
                )
                .unwrap();
            let theirs: Vec<IdxSize> = sorted
                .column("i")
                .unwrap()
                .idx()
                .unwrap()
                .into_no_null_iter()
                .collect();
            prop_assert_eq!(ours, theirs);
        }
    }

    /// Latest rows get their case's list, values shared; other rows are null.
    #[test]
    fn spread_lists_puts_each_list_on_its_latest_row() {
        let mut builder = ListStringChunkedBuilder::new("events".into(), 3, 4);
        builder.append_values_iter(["a", "b"].into_iter());
        builder.append_values_iter(std::iter::empty::<&str>());
        builder.append_values_iter(["c"].into_iter());
        let lists = builder.finish();
        let latest_of = [None, Some(0), None, None, Some(1), Some(2), None];
        let spread = spread_lists(&lists, &latest_of).unwrap();
        let spread = spread.list().unwrap();
        let got: Vec<Option<Vec<String>>> = spread
            .amortized_iter()
            .map(|l| {
                l.map(|s| {
                    s.as_ref()
                        .str()
                        .unwrap()
                        .iter()
                        .map(|v| v.unwrap_or_default().to_string())
                        .collect()
                })
            })
            .collect();
        let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            got,
            vec![
                None,
                list(&["a", "b"]),
                None,
                None,
                list(&[]),
                list(&["c"]),
                None
            ]
        );
        // Out of order is refused, not silently wrong.
        assert!(spread_lists(&lists, &[Some(1), Some(0)]).is_err());
    }
}
