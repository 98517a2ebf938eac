//! Signal rows at the levels of the MedDRA hierarchy (`signals.levels`).
//!
//! Reads ingest's `case_events` (`__case`, `event`) and a [`TermIndex`]; gives, for one
//! level, each case's **distinct groups** at that level as a `case_events`-shaped frame
//! (the group's key in `event`), which [`super::counts::count_pairs`] counts exactly as it
//! counts raw events: a case with two LLTs under one PT, or two PTs under one HLT, counts
//! once for that PT or HLT, in `a`, `c` and the marginals alike. `n` stays every case of
//! the class's background, with or without an event in the level's groups (an SMQ is a
//! subset of the terms, and an unmapped event has no HLT).
//!
//! [`label`] then adds the columns that say what a row's `event` is: `level`,
//! `event_name` (the group's name), `term_mapped`, and fills `soc` with the primary SOC of
//! the release when it has one (else the `event_terms` SOC stays).

use std::collections::HashMap;

use polars::prelude::*;

use crate::config::TermLevel;
use crate::error::{PolarsContext, Result};
use crate::schema::col;
use crate::terms::{Group, TermIndex};

const GROUP: &str = "__group";

/// The name, primary SOC and mapping flag of each group key met at a level.
pub type GroupInfo = HashMap<String, (String, Option<String>, bool)>;

/// `case_events` at `level`: one row per case and distinct group (`__case`, `event`), and
/// what each group is.
pub fn case_events_at(
    level: TermLevel,
    case_events: &DataFrame,
    index: &TermIndex,
) -> Result<(DataFrame, GroupInfo)> {
    let ctx = || format!("signals: mapping events to the `{}` level", level.name());
    let distinct = case_events
        .column(col::EVENT)
        .context(ctx)?
        .as_materialized_series()
        .unique()
        .context(ctx)?;
    let distinct = distinct.str().context(ctx)?;
    let (mut from, mut to) = (Vec::new(), Vec::new());
    let mut info = GroupInfo::new();
    for e in distinct.iter().flatten() {
        for Group {
            key,
            name,
            soc,
            mapped,
        } in index.groups(level, e)
        {
            from.push(e.to_string());
            to.push(key.clone());
            info.entry(key).or_insert((name, soc, mapped));
        }
    }
    if level == TermLevel::Event {
        // No roll-up: the frame as it is (its groups are the events themselves).
        return Ok((case_events.clone(), info));
    }
    let map = DataFrame::new(
        from.len(),
        vec![
            Column::new(col::EVENT.into(), from),
            Column::new(GROUP.into(), to),
        ],
    )
    .context(ctx)?;
    let df = case_events
        .clone()
        .lazy()
        .select([col(col::CASE_KEY), col(col::EVENT)])
        .join(
            map.lazy(),
            [col(col::EVENT)],
            [col(col::EVENT)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(col::CASE_KEY), col(GROUP).alias(col::EVENT)])
        .unique_stable(None, UniqueKeepStrategy::First)
        .collect()
        .context(ctx)?;
    Ok((df, info))
}

/// Add `level`, `event_name` and `term_mapped` after `event`, and the release's primary
/// SOC in `soc` where it has one.
pub fn label(table: DataFrame, level: TermLevel, info: &GroupInfo) -> Result<DataFrame> {
    let ctx = || format!("signals: labelling the `{}` rows", level.name());
    let h = table.height();
    let events = table
        .column(col::EVENT)
        .context(ctx)?
        .str()
        .context(ctx)?
        .clone();
    let soc_in = table
        .column(col::SOC)
        .and_then(|c| c.cast(&DataType::String))
        .context(ctx)?;
    let soc_in = soc_in.str().context(ctx)?;
    let (mut names, mut socs, mut mapped) = (
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
    );
    for (e, s) in events.iter().zip(soc_in.iter()) {
        let g = e.and_then(|e| info.get(e));
        names.push(g.map(|g| g.0.clone()).or_else(|| e.map(str::to_string)));
        socs.push(
            g.and_then(|g| g.1.clone())
                .or_else(|| s.map(str::to_string)),
        );
        mapped.push(g.map(|g| g.2));
    }
    let mut columns: Vec<Column> = Vec::with_capacity(table.width() + 3);
    for c in table.columns() {
        if c.name().as_str() == col::SOC {
            columns.push(Column::new(col::SOC.into(), socs.clone()));
            continue;
        }
        if c.name().as_str() == col::EVENT {
            columns.push(Column::new(col::LEVEL.into(), vec![level.name(); h]));
            columns.push(c.clone());
            columns.push(Column::new(col::EVENT_NAME.into(), names.clone()));
            columns.push(Column::new(col::TERM_MAPPED.into(), mapped.clone()));
            continue;
        }
        columns.push(c.clone());
    }
    DataFrame::new(h, columns).context(ctx)
}
