//! The post-market risk screening list (上市后风险排查清单): one row per watched product.
//!
//! Reads `cases`, `case_products`, `products` (ingest), the signals table, this run's
//! alerts and, when there is one, the previous run's screening list; writes
//! `screening.parquet`:
//!
//! - `cases`, `serious_cases`, `fatal_cases`: cases first received in the period naming
//!   the product as suspect or interacting (latest versions);
//! - `cumulative_cases`: the same, first received up to the end of the period;
//! - `signals`, `signal_events`: the product's signal rows and their events;
//! - `open_alerts`, `p0_alerts`: this run's alerts on the product that are not resolved;
//! - `previous_*`, `*_change`, `trend`: against the previous run's list (null without one).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::alerts::index::{watched_pairs, CaseRows, Watched};
use crate::alerts::{Alert, Priority, Status};
use crate::config::Signals;
use crate::error::{PolarsContext, Result};
use crate::period::{epoch_days, Period};
use crate::progress::timed;
use crate::schema::col;
use crate::signals::{out, PRODUCT_CLASS};

/// The watched products (registry columns), sorted by product id, each with its
/// `cases`, `serious_cases`, `fatal_cases` and `cumulative_cases`: distinct cases naming it
/// as suspect or interacting, first received in the period (by the end of it for
/// `cumulative_cases`), a null flag counting as false.
fn product_counts(
    data: &crate::ingest::Dataset,
    cfg: &Signals,
    period: &Period,
) -> Result<DataFrame> {
    let ctx = || "screening: counting cases per watched product".to_string();
    let (start, end) = (epoch_days(period.start()), epoch_days(period.end()));
    let cases = &data.cases;
    let day = cases
        .column(col::FIRST_RECEIVED)
        .and_then(|c| c.cast(&DataType::Int32))
        .context(ctx)?;
    let day: Vec<Option<i32>> = day.i32().context(ctx)?.iter().collect();
    let flag = |n: &str| -> Result<Vec<bool>> {
        let c = cases
            .column(n)
            .and_then(|c| c.cast(&DataType::Boolean))
            .context(ctx)?;
        Ok(c.bool()
            .context(ctx)?
            .iter()
            .map(|b| b == Some(true))
            .collect())
    };
    let (serious, fatal) = (flag(col::IS_SERIOUS)?, flag(col::FATAL)?);
    let watched = Watched::of(&data.products, &cfg.watch)?;
    let pairs = watched_pairs(&CaseRows::of(cases)?, &data.case_products, &watched, |r| {
        day[r].is_some_and(|d| d <= end)
    })?;
    // Per watched product row: in the period, serious (or fatal), fatal, cumulative.
    let mut n = vec![[0i64; 4]; watched.frame.height()];
    for &(r, w) in &pairs {
        let (r, c) = (r as usize, &mut n[w as usize]);
        let inside = day[r].is_some_and(|d| d >= start);
        c[0] += i64::from(inside);
        c[1] += i64::from(inside && (serious[r] || fatal[r]));
        c[2] += i64::from(inside && fatal[r]);
        c[3] += 1;
    }
    let column =
        |name: &str, k: usize| Column::new(name.into(), n.iter().map(|c| c[k]).collect::<Vec<_>>());
    let mut base = watched.frame;
    for (name, k) in [
        (col::CASES, 0),
        (col::SERIOUS_CASES, 1),
        (col::FATAL_CASES, 2),
        (col::CUMULATIVE_CASES, 3),
    ] {
        base.with_column(column(name, k)).context(ctx)?;
    }
    base.sort([col::PRODUCT_ID], SortMultipleOptions::default())
        .context(ctx)
}

/// Build the screening list.
pub fn compute_screening(
    data: &crate::ingest::Dataset,
    signals: &DataFrame,
    alerts: &[Alert],
    previous: Option<(&str, Option<&DataFrame>)>,
    cfg: &Signals,
    period: &Period,
) -> Result<DataFrame> {
    let ctx = || "screening: building the risk screening list".to_string();
    let base = timed("alerts: screening list: case counts", || {
        product_counts(data, cfg, period)
    })?;

    // Signals and alerts per product: small, so plain maps.
    let mut sig: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if signals.height() > 0 {
        let pid = signals
            .column(col::PRODUCT_ID)
            .and_then(|c| c.str().cloned())
            .context(ctx)?;
        let ev = signals
            .column(col::EVENT)
            .and_then(|c| c.str().cloned())
            .context(ctx)?;
        let is = signals
            .column(out::IS_SIGNAL)
            .and_then(|c| c.bool().cloned())
            .context(ctx)?;
        for i in 0..signals.height() {
            if let (Some(true), Some(p), Some(e)) = (is.get(i), pid.get(i), ev.get(i)) {
                sig.entry(p.to_string()).or_default().push(e.to_string());
            }
        }
    }
    let mut open: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.status != Status::Resolved) {
        if let Some(p) = a.product_id.as_deref() {
            let e = open.entry(p).or_default();
            e.0 += 1;
            if a.priority == Priority::P0 {
                e.1 += 1;
            }
        }
    }
    let previous_period = previous.map(|(p, _)| p.to_string());
    let previous = previous.map(|(_, df)| df);
    let prev: BTreeMap<String, (i64, i64)> = match previous.flatten() {
        Some(df) if df.height() > 0 => {
            let p = df
                .column(col::PRODUCT_ID)
                .and_then(|c| c.str().cloned())
                .context(ctx)?;
            let c = df
                .column(col::CASES)
                .and_then(|c| c.i64().cloned())
                .context(ctx)?;
            let s = df
                .column(col::SIGNALS)
                .and_then(|c| c.i64().cloned())
                .context(ctx)?;
            (0..df.height())
                .filter_map(|i| Some((p.get(i)?.to_string(), (c.get(i)?, s.get(i)?))))
                .collect()
        }
        _ => BTreeMap::new(),
    };

    let pid = base
        .column(col::PRODUCT_ID)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let cases = base
        .column(col::CASES)
        .and_then(|c| c.i64().cloned())
        .context(ctx)?;
    let h = base.height();
    let (mut n_sig, mut events, mut n_open, mut n_p0) = (vec![], vec![], vec![], vec![]);
    let (mut p_cases, mut d_cases, mut p_sig, mut d_sig, mut trend, mut p_period) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..h {
        let p = pid.get(i).unwrap_or("");
        let ev = sig.get(p);
        let k = ev.map_or(0, |v| v.len() as i64);
        n_sig.push(k);
        events.push(ev.map(|v| v.join("; ")));
        let (o, p0) = open.get(p).copied().unwrap_or((0, 0));
        n_open.push(o);
        n_p0.push(p0);
        let now = cases.get(i).unwrap_or(0);
        match (previous.is_some(), prev.get(p)) {
            (true, Some(&(pc, ps))) => {
                p_cases.push(Some(pc));
                d_cases.push(Some(now - pc));
                p_sig.push(Some(ps));
                d_sig.push(Some(k - ps));
                // Cases decide the trend; signals break a tie.
                let dir = match (now - pc).signum() {
                    0 => (k - ps).signum(),
                    d => d,
                };
                trend.push(Some(
                    match dir {
                        1 => "up",
                        -1 => "down",
                        _ => "flat",
                    }
                    .to_string(),
                ));
            }
            (true, None) => {
                p_cases.push(None);
                d_cases.push(None);
                p_sig.push(None);
                d_sig.push(None);
                trend.push(Some("new".to_string()));
            }
            (false, _) => {
                p_cases.push(None);
                d_cases.push(None);
                p_sig.push(None);
                d_sig.push(None);
                trend.push(None);
            }
        }
        p_period.push(previous_period.clone());
    }
    let mut df = base;
    let label = period.to_string();
    let mut add = |c: Column| df.with_column(c).map(|_| ()).context(ctx);
    add(Column::new(col::PERIOD.into(), vec![label; h]))?;
    add(Column::new(col::SIGNALS.into(), n_sig))?;
    add(Column::new(col::SIGNAL_EVENTS.into(), events))?;
    add(Column::new(col::OPEN_ALERTS.into(), n_open))?;
    add(Column::new(col::P0_ALERTS.into(), n_p0))?;
    add(Column::new(col::PREVIOUS_PERIOD.into(), p_period))?;
    add(Column::new(col::PREVIOUS_CASES.into(), p_cases))?;
    add(Column::new(col::CASES_CHANGE.into(), d_cases))?;
    add(Column::new(col::PREVIOUS_SIGNALS.into(), p_sig))?;
    add(Column::new(col::SIGNALS_CHANGE.into(), d_sig))?;
    add(Column::new(col::TREND.into(), trend))?;
    let df = df
        .lazy()
        .select([
            col(col::PERIOD),
            col(PRODUCT_CLASS).alias(col::CLASS),
            col(col::PRODUCT_ID),
            col(out::PRODUCT_NAME),
            col(col::INNOVATIVE),
            col(col::CONDITIONAL),
            col(col::PROCURED),
            col(col::HOLDER),
            col(col::CASES),
            col(col::SERIOUS_CASES),
            col(col::FATAL_CASES),
            col(col::CUMULATIVE_CASES),
            col(col::SIGNALS),
            col(col::SIGNAL_EVENTS),
            col(col::OPEN_ALERTS),
            col(col::P0_ALERTS),
            col(col::PREVIOUS_PERIOD),
            col(col::PREVIOUS_CASES),
            col(col::CASES_CHANGE),
            col(col::PREVIOUS_SIGNALS),
            col(col::SIGNALS_CHANGE),
            col(col::TREND),
        ])
        .collect()
        .context(ctx)?;
    // All-null columns (no previous run) must still be typed for BI readers.
    let mut df = df;
    for (name, dtype) in [
        (col::SIGNAL_EVENTS, DataType::String),
        (col::PREVIOUS_PERIOD, DataType::String),
        (col::PREVIOUS_CASES, DataType::Int64),
        (col::CASES_CHANGE, DataType::Int64),
        (col::PREVIOUS_SIGNALS, DataType::Int64),
        (col::SIGNALS_CHANGE, DataType::Int64),
        (col::TREND, DataType::String),
        (col::HOLDER, DataType::String),
    ] {
        let c = df.column(name).and_then(|c| c.cast(&dtype)).context(ctx)?;
        df.with_column(c).context(ctx)?;
    }
    Ok(df)
}
