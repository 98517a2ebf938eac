//! Stage 2, rates: reporting rates per million population against the regulators' targets.
//!
//! Reads `cases` (one row per case, latest version) and `populations`; writes one row per
//! level × region × class (`rates.parquet`). Definitions (README, "rates.parquet"):
//!
//! - `reports`: distinct cases whose *first* receipt (`__first_received`, the earliest
//!   received_date among a case's versions) falls in the period. A follow-up received
//!   later does not move a case into a later period, and a rerun of a past period counts
//!   the same cases however many follow-ups have arrived since.
//! - `population`: the region's population for the period's year, else the latest earlier
//!   year (`population_year` records which). None: null rate and a `null_reason`.
//! - `per_million = reports / population × 1e6`.
//! - `covered_days`: days of the period up to the data cut-off (`rates.as_of`, default the
//!   latest received_date in the data); `annualized_per_million = per_million ×
//!   days_in_year / covered_days`. A full quarter of 2025 is scaled by 365/90, 365/91 or
//!   365/92, a full month by 365/28…365/31; an unfinished period by the days it covers.
//! - `attainment = annualized_per_million / target_per_million`; `on_track = attainment ≥ 1`.
//! - Shares are of `reports`: new-or-serious (`is_new` or `is_serious`), serious; and the
//!   same among sentinel-hospital reports, each compared with its target. A missing flag
//!   counts as false (not new, not serious, not sentinel).
//! - `well_documented`: cases with a completeness score above 0.8 (vigiGrade's threshold;
//!   `cases::completeness`, a column the run adds to `cases`), and its share of `reports`.
//!
//! Invariants: `reports ≥ new_or_serious ≥ serious ≥ 0`; no NaN or infinity: a measure
//! with a zero denominator is null and `null_reason` says why.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::cases::WELL_DOCUMENTED_ABOVE;
use crate::config::{Level, Rates};
use crate::error::{PolarsContext, Result};
use crate::period::{epoch_days, Period};
use crate::schema::{col, CLASSES, REPORTER_TYPES};

/// Counts of one (region, class) cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    reports: i64,
    new_or_serious: i64,
    serious: i64,
    fatal: i64,
    sentinel: i64,
    sentinel_new_or_serious: i64,
    sentinel_serious: i64,
    /// By `REPORTER_TYPES`, then unknown.
    reporters: [i64; 6],
    /// Cases whose completeness score is above 0.8 (vigiGrade's well documented).
    well_documented: i64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.reports += o.reports;
        self.new_or_serious += o.new_or_serious;
        self.serious += o.serious;
        self.fatal += o.fatal;
        self.sentinel += o.sentinel;
        self.sentinel_new_or_serious += o.sentinel_new_or_serious;
        self.sentinel_serious += o.sentinel_serious;
        for (a, b) in self.reporters.iter_mut().zip(o.reporters) {
            *a += b;
        }
        self.well_documented += o.well_documented;
    }
}

/// Name of the reporter-type count column for index `i` (`reporter_unknown` last).
pub fn reporter_column(i: usize) -> String {
    match REPORTER_TYPES.get(i) {
        Some(t) => format!("reporter_{t}"),
        None => "reporter_unknown".to_string(),
    }
}

/// Name of the reporter-type share column for index `i`.
pub fn reporter_share_column(i: usize) -> String {
    format!("{}_share", reporter_column(i))
}

/// Aggregate the period's cases by (region, class) with polars: the one pass over all cases.
fn count_by_region(
    cases: &DataFrame,
    period: &Period,
) -> Result<HashMap<(String, String), Counts>> {
    let flag = |c: &str| col(c).fill_null(lit(false));
    let new_or_serious = flag(col::IS_NEW).or(flag(col::IS_SERIOUS));
    let sentinel = flag(col::SENTINEL);
    let as_i64 = |e: Expr| e.cast(DataType::Int64);
    let mut aggs = vec![
        len().cast(DataType::Int64).alias(col::REPORTS),
        as_i64(new_or_serious.clone())
            .sum()
            .alias(col::NEW_OR_SERIOUS),
        as_i64(flag(col::IS_SERIOUS)).sum().alias(col::SERIOUS),
        as_i64(flag(col::FATAL)).sum().alias(col::FATAL_REPORTS),
        as_i64(sentinel.clone()).sum().alias(col::SENTINEL_REPORTS),
        as_i64(sentinel.clone().and(new_or_serious))
            .sum()
            .alias(col::SENTINEL_NEW_OR_SERIOUS),
        as_i64(sentinel.and(flag(col::IS_SERIOUS)))
            .sum()
            .alias(col::SENTINEL_SERIOUS),
    ];
    // `reporter_type` is the index into REPORTER_TYPES (see `ingest`).
    for i in 0..REPORTER_TYPES.len() {
        aggs.push(
            as_i64(
                col(col::REPORTER_TYPE)
                    .eq(lit(i as u32))
                    .fill_null(lit(false)),
            )
            .sum()
            .alias(reporter_column(i)),
        );
    }
    aggs.push(
        as_i64(col(col::REPORTER_TYPE).is_null())
            .sum()
            .alias(reporter_column(REPORTER_TYPES.len())),
    );
    // `completeness` is added to `cases` by the run (`cases::completeness`) before rates.
    let well_documented = if cases.column(col::COMPLETENESS).is_ok() {
        col(col::COMPLETENESS)
            .gt(lit(WELL_DOCUMENTED_ABOVE))
            .fill_null(lit(false))
    } else {
        lit(false)
    };
    aggs.push(as_i64(well_documented).sum().alias(col::WELL_DOCUMENTED));

    let day = |c: &str| col(c).cast(DataType::Int32);
    let grouped = cases
        .clone()
        .lazy()
        .filter(
            day(col::FIRST_RECEIVED)
                .gt_eq(lit(epoch_days(period.start())))
                .and(day(col::FIRST_RECEIVED).lt_eq(lit(epoch_days(period.end())))),
        )
        .group_by([col(col::REGION), col(col::CLASS)])
        .agg(aggs)
        .collect()
        .context(|| "rates: counting cases by region and class".to_string())?;

    let ctx = || "rates: reading counts".to_string();
    let text = |name: &str| -> Result<StringChunked> {
        grouped
            .column(name)
            .and_then(|c| c.str().cloned())
            .context(ctx)
    };
    let int = |name: &str| -> Result<Int64Chunked> {
        grouped
            .column(name)
            .and_then(|c| c.i64().cloned())
            .context(ctx)
    };
    let regions = text(col::REGION)?;
    let classes = text(col::CLASS)?;
    let mut cols = vec![
        int(col::REPORTS)?,
        int(col::NEW_OR_SERIOUS)?,
        int(col::SERIOUS)?,
        int(col::FATAL_REPORTS)?,
        int(col::SENTINEL_REPORTS)?,
        int(col::SENTINEL_NEW_OR_SERIOUS)?,
        int(col::SENTINEL_SERIOUS)?,
    ];
    for i in 0..=REPORTER_TYPES.len() {
        cols.push(int(&reporter_column(i))?);
    }
    cols.push(int(col::WELL_DOCUMENTED)?);
    let mut out = HashMap::new();
    for row in 0..grouped.height() {
        let (Some(region), Some(class)) = (regions.get(row), classes.get(row)) else {
            continue;
        };
        let v = |i: usize| cols[i].get(row).unwrap_or(0);
        let mut reporters = [0; 6];
        for (j, r) in reporters.iter_mut().enumerate() {
            *r = v(7 + j);
        }
        out.insert(
            (region.to_string(), class.to_string()),
            Counts {
                reports: v(0),
                new_or_serious: v(1),
                serious: v(2),
                fatal: v(3),
                sentinel: v(4),
                sentinel_new_or_serious: v(5),
                sentinel_serious: v(6),
                reporters,
                well_documented: v(13),
            },
        );
    }
    Ok(out)
}

/// Population rows: region → year → (population, name).
type Populations = HashMap<String, BTreeMap<i64, (i64, Option<String>)>>;

fn read_populations(df: &DataFrame) -> Result<Populations> {
    let ctx = || "rates: reading populations".to_string();
    let region = df
        .column(col::REGION)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let year = df
        .column(col::YEAR)
        .and_then(|c| c.i64().cloned())
        .context(ctx)?;
    let pop = df
        .column(col::POPULATION)
        .and_then(|c| c.i64().cloned())
        .context(ctx)?;
    let name = df
        .column(col::NAME)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let mut out: Populations = HashMap::new();
    for row in 0..df.height() {
        if let (Some(r), Some(y), Some(p)) = (region.get(row), year.get(row), pop.get(row)) {
            out.entry(r.to_string())
                .or_default()
                .insert(y, (p, name.get(row).map(str::to_string)));
        }
    }
    Ok(out)
}

/// Divide, or null when the denominator is zero.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// Compute the rates table for the pipeline's period.
pub fn compute_rates(
    cases: &DataFrame,
    populations: &DataFrame,
    cfg: &Rates,
    period: &Period,
    data_cutoff: Option<NaiveDate>,
) -> Result<DataFrame> {
    let by_region = count_by_region(cases, period)?;
    let pops = read_populations(populations)?;
    let as_of = cfg.as_of.or(data_cutoff).unwrap_or_else(|| period.end());
    let covered_days = period.covered_days(as_of);

    let mut b = Builder::default();
    for level in &cfg.levels {
        // Every region of this level that has cases or a population, inside the filter.
        let mut cells: BTreeMap<(String, usize), Counts> = BTreeMap::new();
        let mut regions: BTreeSet<String> = pops
            .keys()
            .filter(|r| level.is_level_code(r))
            .cloned()
            .collect();
        for ((region, class), counts) in &by_region {
            // A case coded to a province itself belongs to no city: it is counted at the
            // province level only.
            if *level == Level::City && Level::Province.is_level_code(region) {
                continue;
            }
            let code = level.region_of(region);
            let class_idx = CLASSES
                .iter()
                .position(|c| c == class)
                .expect("validated enum");
            *cells.entry((code.clone(), class_idx)).or_default() += *counts;
            regions.insert(code);
        }
        regions.retain(|r| cfg.includes(r));
        for region in &regions {
            for (class_idx, class) in CLASSES.iter().enumerate() {
                if !cfg.classes.iter().any(|c| c == class) {
                    continue;
                }
                let counts = cells
                    .get(&(region.clone(), class_idx))
                    .copied()
                    .unwrap_or_default();
                b.push(Row {
                    level: *level,
                    region,
                    class,
                    counts,
                    pops: pops.get(region),
                    period,
                    covered_days,
                    target: cfg.targets.get(*class).and_then(|t| t.for_region(region)),
                    nos_target: cfg.new_or_serious_share,
                    serious_target: cfg.serious_share,
                });
            }
        }
    }
    b.finish(period)
}

struct Row<'a> {
    level: Level,
    region: &'a str,
    class: &'a str,
    counts: Counts,
    pops: Option<&'a BTreeMap<i64, (i64, Option<String>)>>,
    period: &'a Period,
    covered_days: i64,
    target: Option<f64>,
    nos_target: f64,
    serious_target: f64,
}

/// Column vectors of the output table.
#[derive(Default)]
struct Builder {
    level: Vec<&'static str>,
    region: Vec<String>,
    region_name: Vec<Option<String>>,
    province: Vec<String>,
    class: Vec<String>,
    reports: Vec<i64>,
    population: Vec<Option<i64>>,
    population_year: Vec<Option<i64>>,
    covered_days: Vec<i64>,
    period_complete: Vec<bool>,
    per_million: Vec<Option<f64>>,
    annualized: Vec<Option<f64>>,
    target: Vec<Option<f64>>,
    attainment: Vec<Option<f64>>,
    on_track: Vec<Option<bool>>,
    new_or_serious: Vec<i64>,
    serious: Vec<i64>,
    fatal: Vec<i64>,
    nos_share: Vec<Option<f64>>,
    serious_share: Vec<Option<f64>>,
    sentinel: Vec<i64>,
    sentinel_nos: Vec<i64>,
    sentinel_serious: Vec<i64>,
    sentinel_nos_share: Vec<Option<f64>>,
    sentinel_serious_share: Vec<Option<f64>>,
    nos_target: Vec<f64>,
    serious_target: Vec<f64>,
    nos_met: Vec<Option<bool>>,
    serious_met: Vec<Option<bool>>,
    sentinel_nos_met: Vec<Option<bool>>,
    sentinel_serious_met: Vec<Option<bool>>,
    reporters: [Vec<i64>; 6],
    reporter_shares: [Vec<Option<f64>>; 6],
    well_documented: Vec<i64>,
    well_documented_share: Vec<Option<f64>>,
    null_reason: Vec<Option<String>>,
}

impl Builder {
    fn push(&mut self, r: Row<'_>) {
        let c = r.counts;
        let mut reasons: Vec<String> = Vec::new();
        let year = r.period.year() as i64;
        // Latest population at or before the period's year.
        let pop = r.pops.and_then(|m| m.range(..=year).next_back());
        // The populations table's own name, else the GB/T 2260 name.
        let name = r
            .pops
            .and_then(|m| m.values().rev().find_map(|(_, n)| n.clone()))
            .or_else(|| crate::regions::name(r.region).map(str::to_string));
        match (r.pops, pop) {
            (None, _) => reasons.push(format!("no population for region `{}`", r.region)),
            (Some(m), None) => reasons.push(format!(
                "no population for region `{}` in {year} or earlier (earliest: {})",
                r.region,
                m.keys().next().copied().unwrap_or_default()
            )),
            _ => {}
        }
        let per_million = pop.map(|(_, (p, _))| c.reports as f64 / *p as f64 * 1e6);
        let annualized = match per_million {
            Some(pm) if r.covered_days > 0 => {
                Some(pm * r.period.days_in_year() as f64 / r.covered_days as f64)
            }
            Some(_) => {
                reasons.push("the period starts after the data cut-off".to_string());
                None
            }
            None => None,
        };
        if r.target.is_none() {
            reasons.push(format!(
                "no target for `{}` in region `{}`",
                r.class, r.region
            ));
        }
        let attainment = match (annualized, r.target) {
            (Some(a), Some(t)) => Some(a / t),
            _ => None,
        };
        let share = |n: i64, d: i64| ratio(n as f64, d as f64);
        if c.reports == 0 {
            reasons.push("no reports: shares are undefined".to_string());
        } else if c.sentinel == 0 {
            reasons.push("no sentinel-hospital reports: sentinel shares are undefined".to_string());
        }
        let nos_share = share(c.new_or_serious, c.reports);
        let serious_share = share(c.serious, c.reports);
        let s_nos_share = share(c.sentinel_new_or_serious, c.sentinel);
        let s_serious_share = share(c.sentinel_serious, c.sentinel);

        self.level.push(r.level.as_str());
        self.region.push(r.region.to_string());
        self.region_name.push(name);
        self.province.push(crate::schema::province_of(r.region));
        self.class.push(r.class.to_string());
        self.reports.push(c.reports);
        self.population.push(pop.map(|(_, (p, _))| *p));
        self.population_year.push(pop.map(|(y, _)| *y));
        self.covered_days.push(r.covered_days);
        self.period_complete.push(r.covered_days == r.period.days());
        self.per_million.push(per_million);
        self.annualized.push(annualized);
        self.target.push(r.target);
        self.attainment.push(attainment);
        self.on_track.push(attainment.map(|a| a >= 1.0));
        self.new_or_serious.push(c.new_or_serious);
        self.serious.push(c.serious);
        self.fatal.push(c.fatal);
        self.nos_share.push(nos_share);
        self.serious_share.push(serious_share);
        self.sentinel.push(c.sentinel);
        self.sentinel_nos.push(c.sentinel_new_or_serious);
        self.sentinel_serious.push(c.sentinel_serious);
        self.sentinel_nos_share.push(s_nos_share);
        self.sentinel_serious_share.push(s_serious_share);
        self.nos_target.push(r.nos_target);
        self.serious_target.push(r.serious_target);
        self.nos_met.push(nos_share.map(|s| s >= r.nos_target));
        self.serious_met
            .push(serious_share.map(|s| s >= r.serious_target));
        self.sentinel_nos_met
            .push(s_nos_share.map(|s| s >= r.nos_target));
        self.sentinel_serious_met
            .push(s_serious_share.map(|s| s >= r.serious_target));
        for i in 0..6 {
            self.reporters[i].push(c.reporters[i]);
            self.reporter_shares[i].push(share(c.reporters[i], c.reports));
        }
        self.well_documented.push(c.well_documented);
        self.well_documented_share
            .push(share(c.well_documented, c.reports));
        self.null_reason
            .push((!reasons.is_empty()).then(|| reasons.join("; ")));
    }

    fn finish(self, period: &Period) -> Result<DataFrame> {
        let n = self.region.len();
        let label = period.to_string();
        let date = |d: NaiveDate| -> Result<Column> {
            Column::new(PlSmallStr::EMPTY, vec![epoch_days(d); n])
                .cast(&DataType::Date)
                .context(|| "rates: dates".to_string())
        };
        let c = |name: &str, col: Column| col.with_name(PlSmallStr::from(name));
        let mut columns = vec![
            c(col::PERIOD, Column::new(PlSmallStr::EMPTY, vec![label; n])),
            c(col::PERIOD_START, date(period.start())?),
            c(col::PERIOD_END, date(period.end())?),
            c(col::LEVEL, Column::new(PlSmallStr::EMPTY, self.level)),
            c(col::REGION, Column::new(PlSmallStr::EMPTY, self.region)),
            c(
                col::REGION_NAME,
                Column::new(PlSmallStr::EMPTY, self.region_name),
            ),
            c(col::PROVINCE, Column::new(PlSmallStr::EMPTY, self.province)),
            c(col::CLASS, Column::new(PlSmallStr::EMPTY, self.class)),
            c(col::REPORTS, Column::new(PlSmallStr::EMPTY, self.reports)),
            c(
                col::POPULATION,
                Column::new(PlSmallStr::EMPTY, self.population),
            ),
            c(
                col::POPULATION_YEAR,
                Column::new(PlSmallStr::EMPTY, self.population_year),
            ),
            c(
                col::COVERED_DAYS,
                Column::new(PlSmallStr::EMPTY, self.covered_days),
            ),
            c(
                col::PERIOD_COMPLETE,
                Column::new(PlSmallStr::EMPTY, self.period_complete),
            ),
            c(
                col::PER_MILLION,
                Column::new(PlSmallStr::EMPTY, self.per_million),
            ),
            c(
                col::ANNUALIZED_PER_MILLION,
                Column::new(PlSmallStr::EMPTY, self.annualized),
            ),
            c(
                col::TARGET_PER_MILLION,
                Column::new(PlSmallStr::EMPTY, self.target),
            ),
            c(
                col::ATTAINMENT,
                Column::new(PlSmallStr::EMPTY, self.attainment),
            ),
            c(col::ON_TRACK, Column::new(PlSmallStr::EMPTY, self.on_track)),
            c(
                col::NEW_OR_SERIOUS,
                Column::new(PlSmallStr::EMPTY, self.new_or_serious),
            ),
            c(col::SERIOUS, Column::new(PlSmallStr::EMPTY, self.serious)),
            c(
                col::FATAL_REPORTS,
                Column::new(PlSmallStr::EMPTY, self.fatal),
            ),
            c(
                col::NEW_OR_SERIOUS_SHARE,
                Column::new(PlSmallStr::EMPTY, self.nos_share),
            ),
            c(
                col::SERIOUS_SHARE,
                Column::new(PlSmallStr::EMPTY, self.serious_share),
            ),
            c(
                col::SENTINEL_REPORTS,
                Column::new(PlSmallStr::EMPTY, self.sentinel),
            ),
            c(
                col::SENTINEL_NEW_OR_SERIOUS,
                Column::new(PlSmallStr::EMPTY, self.sentinel_nos),
            ),
            c(
                col::SENTINEL_SERIOUS,
                Column::new(PlSmallStr::EMPTY, self.sentinel_serious),
            ),
            c(
                col::SENTINEL_NEW_OR_SERIOUS_SHARE,
                Column::new(PlSmallStr::EMPTY, self.sentinel_nos_share),
            ),
            c(
                col::SENTINEL_SERIOUS_SHARE,
                Column::new(PlSmallStr::EMPTY, self.sentinel_serious_share),
            ),
            c(
                col::NEW_OR_SERIOUS_TARGET,
                Column::new(PlSmallStr::EMPTY, self.nos_target),
            ),
            c(
                col::SERIOUS_TARGET,
                Column::new(PlSmallStr::EMPTY, self.serious_target),
            ),
            c(
                col::NEW_OR_SERIOUS_MET,
                Column::new(PlSmallStr::EMPTY, self.nos_met),
            ),
            c(
                col::SERIOUS_MET,
                Column::new(PlSmallStr::EMPTY, self.serious_met),
            ),
            c(
                col::SENTINEL_NEW_OR_SERIOUS_MET,
                Column::new(PlSmallStr::EMPTY, self.sentinel_nos_met),
            ),
            c(
                col::SENTINEL_SERIOUS_MET,
                Column::new(PlSmallStr::EMPTY, self.sentinel_serious_met),
            ),
        ];
        let [r0, r1, r2, r3, r4, r5] = self.reporters;
        for (i, v) in [r0, r1, r2, r3, r4, r5].into_iter().enumerate() {
            columns.push(Column::new(reporter_column(i).into(), v));
        }
        let [s0, s1, s2, s3, s4, s5] = self.reporter_shares;
        for (i, v) in [s0, s1, s2, s3, s4, s5].into_iter().enumerate() {
            columns.push(Column::new(reporter_share_column(i).into(), v));
        }
        columns.push(c(
            col::WELL_DOCUMENTED,
            Column::new(PlSmallStr::EMPTY, self.well_documented),
        ));
        columns.push(c(
            col::WELL_DOCUMENTED_SHARE,
            Column::new(PlSmallStr::EMPTY, self.well_documented_share),
        ));
        columns.push(c(
            col::NULL_REASON,
            Column::new(PlSmallStr::EMPTY, self.null_reason),
        ));
        DataFrame::new(n, columns).context(|| "rates: building the table".to_string())
    }
}

#[cfg(test)]
mod tests;
