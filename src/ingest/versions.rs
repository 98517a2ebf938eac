//! The latest version of each case, as of the run's cut-off, and the `cases` frame built
//! from the latest versions.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::table::Loaded;
use crate::error::{PolarsContext, Result};
use crate::period::{epoch_days, from_epoch_days};
use crate::progress::timed;
use crate::schema::{self, col};

/// The latest versions, as the `cases` frame, with what linking the child tables needs.
pub(super) struct Cases {
    pub(super) cases: DataFrame,
    /// The older versions received by the cut-off ([`SUPERSEDED_COLUMNS`], keyed by their
    /// case's `__case`), for `case_versions.parquet`.
    pub(super) superseded: DataFrame,
    /// Every report's id, in row order.
    pub(super) ids: StringChunked,
    /// Which reports are the latest version of their case.
    pub(super) latest: Vec<bool>,
    /// Which reports were received after the run's cut-off.
    pub(super) later: Vec<bool>,
    /// How far the data reach, up to the run's cut-off: the latest received_date of any
    /// valid report, or the cut-off when a later one exists. A past period whose data run
    /// on past its end is covered to its last day. Only accepted rows count: a received
    /// date outside the plausible range (`9999-12-31`) rejected its row before this.
    pub(super) data_cutoff: Option<NaiveDate>,
}

/// Rank the versions of each case as of `cutoff` and build `cases` from the latest ones,
/// then settle the reports' accounting: the latest versions are used, the others
/// superseded (`after_cutoff` among them when received after the cut-off).
pub(super) fn select_cases(reports: &mut Loaded, cutoff: NaiveDate) -> Result<Cases> {
    let ctx = |what: &'static str| move || format!("ingest: {what}");

    let mut rdf = std::mem::take(&mut reports.df);
    let data_cutoff = rdf
        .column(col::RECEIVED_DATE)
        .ok()
        .and_then(|c| c.as_materialized_series().max::<i32>().ok().flatten())
        .map(|d| from_epoch_days(d).min(cutoff));
    let latest = timed("ingest: ranking case versions", || {
        latest_versions(&rdf, epoch_days(cutoff))
    })?;
    let n_latest = latest.first_received.len() as u64;
    let latest_mask = BooleanChunked::from_slice("latest".into(), &latest.mask);
    let superseded = timed("ingest: keeping superseded versions", || {
        superseded_versions(&rdf, &latest)
    })?;

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

    reports.superseded = reports.used - n_latest;
    reports.used = n_latest;
    reports.after_cutoff = latest.after_cutoff;
    Ok(Cases {
        cases,
        superseded,
        ids,
        latest: latest.mask,
        later: latest.later,
        data_cutoff,
    })
}

/// The report columns kept for each superseded version (the child tables' rows of a
/// superseded version are not kept: products, events and batches are the latest
/// version's only). Text as read (`sex`, `reporter_type` not coded: few rows).
pub const SUPERSEDED_COLUMNS: &[&str] = &[
    col::CASE_ID,
    col::REPORT_ID,
    col::VERSION,
    col::RECEIVED_DATE,
    col::CLASS,
    col::REGION,
    col::SEX,
    col::AGE_YEARS,
    col::REPORTER_TYPE,
    col::SENTINEL,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
];

/// The versions that a later one of their case superseded, received on or before the
/// cut-off, with their case's key (`__case`: the row number of its latest version among
/// the latest versions, as in `cases`). Columns missing from `rdf` are null.
fn superseded_versions(rdf: &DataFrame, latest: &Latest) -> Result<DataFrame> {
    let ctx = || "ingest: keeping superseded versions".to_string();
    let older: Vec<bool> = latest
        .mask
        .iter()
        .zip(&latest.later)
        .map(|(l, later)| !l && !later)
        .collect();
    // Each latest row's case key, then each superseded row's through its case's slot.
    let mut key_of_row = vec![IdxSize::MAX; latest.mask.len()];
    let mut next: IdxSize = 0;
    for (row, l) in latest.mask.iter().enumerate() {
        if *l {
            key_of_row[row] = next;
            next += 1;
        }
    }
    let keys: Vec<IdxSize> = latest
        .slot
        .iter()
        .zip(&older)
        .filter(|(_, m)| **m)
        .map(|(slot, _)| key_of_row[latest.best_rows[*slot as usize] as usize])
        .collect();
    let present = |name: &str| rdf.column(name).is_ok();
    let exprs: Vec<Expr> = SUPERSEDED_COLUMNS
        .iter()
        .map(|&name| match name {
            col::CASE_ID => coalesce(&[col(col::CASE_ID), col(col::REPORT_ID)]).alias(col::CASE_ID),
            n if present(n) => col(n),
            n => lit(NULL).alias(n),
        })
        .collect();
    let mask = BooleanChunked::from_slice(PlSmallStr::EMPTY, &older);
    let mut frame = rdf
        .filter(&mask)
        .and_then(|f| f.lazy().select(exprs).collect())
        .context(ctx)?;
    frame
        .with_column(Column::new(col::CASE_KEY.into(), keys))
        .context(ctx)?;
    Ok(frame)
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
    /// Each report's case slot (`u32::MAX` when received after the cut-off), and each
    /// slot's latest row: how a superseded version finds its case.
    slot: Vec<u32>,
    best_rows: Vec<u32>,
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
    let mut slot = vec![u32::MAX; ids.len()];
    for (row, (id, case)) in ids.iter().zip(case_ids.iter()).enumerate() {
        let date = received_arr.get(row).unwrap_or(i32::MIN);
        if date > cutoff {
            later[row] = true;
            continue;
        }
        match slot_of.entry(case.or(id).unwrap_or("")) {
            std::collections::hash_map::Entry::Occupied(e) => {
                slot[row] = *e.get();
                let b = &mut best[*e.get() as usize];
                if rank(row) > rank(b.0 as usize) {
                    b.0 = row as u32;
                }
                b.1 = b.1.min(date);
                b.2 += 1;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                slot[row] = best.len() as u32;
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
        slot,
        best_rows: best.iter().map(|b| b.0).collect(),
    })
}
