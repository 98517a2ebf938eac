//! Stage 3, signals: disproportionality statistics for the watched products.
//!
//! Reads ingest's `cases`, `case_products`, `case_events`, `products` and `event_terms`;
//! writes one row per watched product × event with `a ≥ 1` (`signals.parquet`).
//!
//! 1. [`counts`] counts `a, b, c, d, n` and `expected` per case over each class's whole
//!    background (every case of the class first received by the end of the period).
//! 2. The EBGM prior is fitted per class over *all* pairs of the class (or taken from the
//!    pipeline), so that watched products are judged against the whole database.
//! 3. Each watched row gets every statistic: [`prr`] (with χ²), [`ror`], [`bcpnn`] (IC),
//!    [`ebgm`]; one flag per method; `n_methods_flagged` counts the flags of the methods
//!    the pipeline chose, and `is_signal` is `n_methods_flagged ≥ min_methods`.
//! 4. With `signals.levels`, steps 1–3 run once per MedDRA level over each case's distinct
//!    groups at that level ([`levels`]), and the levels' rows follow one another.
//!
//! PRR and ROR use the crude cells `a, b, c, d`; IC and EBGM use `expected`, which is
//! stratified when strata are configured. A statistic that is undefined at an edge (a zero
//! cell) is null, with its reason in `prr_null_reason` / `ror_null_reason`; no output
//! value is ever NaN or infinite.

pub mod bcpnn;
mod cells;
pub mod counts;
pub mod ebgm;
pub mod levels;
pub mod priors;
pub mod prr;
pub mod ror;

pub use priors::{PriorKind, PriorReport};

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Signals;
use crate::error::{PolarsContext, Result};
use crate::progress::timed;
use crate::schema::col;

/// Output column names of `signals.parquet` beyond the shared ones in `schema::col`.
pub mod out {
    pub const PRODUCT_NAME: &str = "product_name";
    pub const PRR: &str = "prr";
    pub const PRR_LOWER: &str = "prr_lower";
    pub const PRR_UPPER: &str = "prr_upper";
    pub const CHI2: &str = "chi2";
    pub const PRR_NULL_REASON: &str = "prr_null_reason";
    pub const ROR: &str = "ror";
    pub const ROR_LOWER: &str = "ror_lower";
    pub const ROR_UPPER: &str = "ror_upper";
    pub const ROR_NULL_REASON: &str = "ror_null_reason";
    pub const IC: &str = "ic";
    pub const IC025: &str = "ic025";
    pub const IC975: &str = "ic975";
    pub const EBGM: &str = "ebgm";
    pub const EB05: &str = "eb05";
    pub const EB95: &str = "eb95";
    /// Which prior the row's EBGM uses: `fitted`, `pooled` or `fixed`.
    pub const EBGM_PRIOR: &str = "ebgm_prior";
    pub const PRR_FLAG: &str = "prr_flag";
    pub const ROR_FLAG: &str = "ror_flag";
    pub const BCPNN_FLAG: &str = "bcpnn_flag";
    pub const EBGM_FLAG: &str = "ebgm_flag";
    pub const N_METHODS_FLAGGED: &str = "n_methods_flagged";
    pub const IS_SIGNAL: &str = "is_signal";
}

/// The signals table and the priors used.
pub struct SignalsResult {
    pub table: DataFrame,
    pub priors: Vec<PriorReport>,
    /// All pairs counted (every product, not only watched ones).
    pub pairs_counted: u64,
}

/// Column of [`watched_products`]: the class the registry gives a product.
pub const PRODUCT_CLASS: &str = "product_class";

/// The watched products of the registry, by the pipeline's `watch` groups: `product_id`,
/// `product_name`, `innovative`, `conditional`, `procured` (missing flags are false),
/// `product_class` and `holder`.
pub fn watched_products(products: &DataFrame, watch: &[String]) -> LazyFrame {
    let flag = |c: &str| col(c).fill_null(lit(false));
    let watched = if watch.iter().any(|w| w == "all") {
        lit(true)
    } else {
        watch
            .iter()
            .map(|w| flag(w))
            .reduce(|x, y| x.or(y))
            .unwrap_or(lit(false))
    };
    products.clone().lazy().filter(watched).select([
        col(col::PRODUCT_ID),
        col(col::NAME).alias(out::PRODUCT_NAME),
        flag(col::INNOVATIVE).alias(col::INNOVATIVE),
        flag(col::CONDITIONAL).alias(col::CONDITIONAL),
        flag(col::PROCURED).alias(col::PROCURED),
        col(col::CLASS).alias(PRODUCT_CLASS),
        col(col::HOLDER),
    ])
}

/// The watched rows of `counts`, joined with the product registry and event terms.
fn watched_rows(
    counts: &DataFrame,
    products: &DataFrame,
    event_terms: Option<&DataFrame>,
    cfg: &Signals,
) -> Result<DataFrame> {
    let ctx = || "signals: selecting watched products".to_string();
    let registry = watched_products(products, &cfg.watch).select([
        col(col::PRODUCT_ID),
        col(out::PRODUCT_NAME),
        col(col::INNOVATIVE),
        col(col::CONDITIONAL),
        col(col::PROCURED),
    ]);
    // `counts` is in (class, product_id, event) order; the joins keep it, so the rows need
    // no sort of their text (a registry or term listed twice is refused at ingest).
    let keep_order = |how: JoinType| JoinArgs {
        maintain_order: MaintainOrderJoin::Left,
        ..JoinArgs::new(how)
    };
    let mut lf = counts.clone().lazy().join(
        registry,
        [col(col::PRODUCT_ID)],
        [col(col::PRODUCT_ID)],
        keep_order(JoinType::Inner),
    );
    lf = match event_terms {
        Some(t) => lf.join(
            t.clone().lazy().select([col(col::EVENT), col(col::SOC)]),
            [col(col::EVENT)],
            [col(col::EVENT)],
            keep_order(JoinType::Left),
        ),
        None => lf.with_column(lit(NULL).cast(DataType::String).alias(col::SOC)),
    };
    lf.collect().context(ctx)
}

/// The rows of `signals` whose `on` columns match a row of `pairs`, in their order.
pub(crate) fn rows_with_pairs(
    signals: &DataFrame,
    pairs: LazyFrame,
    on: &[&str],
) -> PolarsResult<DataFrame> {
    let on: Vec<Expr> = on.iter().map(|c| col(*c)).collect();
    signals
        .clone()
        .lazy()
        .with_row_index("__row", None)
        .join(pairs, on.clone(), on, JoinArgs::new(JoinType::Semi))
        .sort(["__row"], SortMultipleOptions::default())
        .collect()
        .and_then(|df| df.drop("__row"))
}

/// Compute the signals table for the period.
pub fn compute_signals(
    data: &crate::ingest::Dataset,
    cfg: &Signals,
    period: &crate::Period,
) -> Result<SignalsResult> {
    compute_signals_with(data, cfg, period, None)
}

/// Compute the signals table, at each of `cfg.levels` when set (see [`levels`]): the
/// levels' rows one after the other, each level counted and fitted on its own groups.
/// `terms` maps events to the levels' groups; without it every event is unmapped.
pub fn compute_signals_with(
    data: &crate::ingest::Dataset,
    cfg: &Signals,
    period: &crate::Period,
    terms: Option<&crate::terms::TermIndex>,
) -> Result<SignalsResult> {
    let Some(list) = &cfg.levels else {
        return signals_of(data, &data.case_events, cfg, period);
    };
    let empty;
    let terms = match terms {
        Some(t) => t,
        None => {
            empty = crate::terms::TermIndex::new(
                None,
                crate::terms::SmqScope::Narrow,
                data.event_terms.as_ref(),
            )?;
            &empty
        }
    };
    let mut out: Option<SignalsResult> = None;
    for &level in list {
        let (events, info) = levels::case_events_at(level, &data.case_events, terms)?;
        let r = signals_of(data, &events, cfg, period)?;
        let table = levels::label(r.table, level, &info)?;
        out = Some(match out {
            None => SignalsResult { table, ..r },
            Some(mut o) => {
                o.table
                    .vstack_mut(&table)
                    .context(|| "signals: joining the levels' rows".to_string())?;
                o.pairs_counted += r.pairs_counted;
                o
            }
        });
    }
    Ok(out.expect("config validation keeps at least one level"))
}

/// Count, fit and compute the statistics over `case_events` (raw events, or one level's
/// groups).
fn signals_of(
    data: &crate::ingest::Dataset,
    case_events: &DataFrame,
    cfg: &Signals,
    period: &crate::Period,
) -> Result<SignalsResult> {
    let end: NaiveDate = period.end();
    let counts = timed("signals: counting", || {
        counts::count_pairs(&data.cases, &data.case_products, case_events, end, cfg)
    })?;
    tracing::debug!(pairs = counts.height(), "signals: counted");
    let priors = timed("signals: fitting the EBGM prior", || {
        priors::priors(&counts, cfg)
    })?;
    let rows = timed("signals: joining the registry and terms", || {
        watched_rows(&counts, &data.products, data.event_terms.as_ref(), cfg)
    })?;
    let pairs_counted = counts.height() as u64;
    drop(counts);
    let table = timed("signals: statistics", || {
        add_statistics(rows, &priors, cfg, &period.to_string())
    })?;
    Ok(SignalsResult {
        table,
        priors: priors.into_values().collect(),
        pairs_counted,
    })
}

/// Append every statistic, flag and the signal decision to the watched rows.
fn add_statistics(
    rows: DataFrame,
    priors: &BTreeMap<String, PriorReport>,
    cfg: &Signals,
    period: &str,
) -> Result<DataFrame> {
    let ctx = || "signals: computing statistics".to_string();
    let h = rows.height();
    // Counts and expected are never null (inner joins over pairs with a ≥ 1); a null would
    // be a bug, and it yields NaN here, which no statistic turns into a number or a flag.
    let float = |name: &str| -> Result<Vec<f64>> {
        let c = rows
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .context(ctx)?;
        Ok(c.f64()
            .context(ctx)?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    let (a, b, c, d, e) = (
        float(counts::A)?,
        float(counts::B)?,
        float(counts::C)?,
        float(counts::D)?,
        float(counts::EXPECTED)?,
    );
    let class = rows
        .column(col::CLASS)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;

    let posteriors = timed("signals: EBGM of each distinct (class, a, E)", || {
        ebgm_by_key(&class, &a, &e, priors)
    });

    let uses = |m: &str| cfg.methods.iter().any(|x| x == m);
    let row = |i: usize| -> RowStats {
        let p = prr::prr(a[i], b[i], c[i], d[i], prr::Z_95, cfg.continuity_correction);
        let r = ror::ror(a[i], b[i], c[i], d[i], ror::Z_95, cfg.continuity_correction);
        let ic = bcpnn::ic(a[i], e[i]);
        let [gm, eb05, eb95] = posteriors.of_row(i);
        let flags = [
            prr::mhra_flag(a[i], &p, cfg.prr_min_a, cfg.prr_min_prr, cfg.prr_min_chi2),
            ror::ror_flag(a[i], &r, cfg.ror_min_a, cfg.ror_min_lower),
            ic.as_ref()
                .is_some_and(|x| bcpnn::ic_flag(x, cfg.bcpnn_min_ic025)),
            eb05.is_some_and(|x| x >= cfg.ebgm_min_eb05),
        ];
        let n_flagged = crate::config::METHODS
            .iter()
            .zip(flags)
            .filter(|(m, f)| *f && uses(m))
            .count() as i64;
        RowStats {
            p,
            r,
            ic,
            ebgm: [gm, eb05, eb95],
            flags,
            n_flagged,
        }
    };
    // Each core fills the columns of its rows, as polars columns; the parts are joined in
    // row order. (Appending the parts' vectors into one took 0.58 s of the 1m
    // benchmark's 780k pairs, most of it faulting in fresh memory on one core.)
    let parts = timed("signals: statistics of each pair", || {
        parallel_ranges(h, |range| {
            let mut s = Stats::with_capacity(range.len());
            for i in range {
                s.push(row(i), cfg.min_methods);
            }
            s.into_columns()
        })
    });
    let mut parts = parts.into_iter();
    let mut stats = parts
        .next()
        .unwrap_or_else(|| Stats::default().into_columns());
    for part in parts {
        for (column, more) in stats.iter_mut().zip(&part) {
            column.append(more).context(ctx)?;
        }
    }

    let mut columns: Vec<Column> =
        vec![StringChunked::full(col::PERIOD.into(), period, h).into_column()];
    for name in [
        col::CLASS,
        col::PRODUCT_ID,
        out::PRODUCT_NAME,
        col::INNOVATIVE,
        col::CONDITIONAL,
        col::PROCURED,
        col::EVENT,
        col::SOC,
        counts::A,
        counts::B,
        counts::C,
        counts::D,
        counts::N,
        counts::EXPECTED,
    ] {
        columns.push(rows.column(name).context(ctx)?.clone());
    }
    let flags = stats.split_off(Stats::BEFORE_PRIOR);
    columns.extend(stats);
    columns.push(ebgm_prior_column(&class, priors));
    columns.extend(flags);
    let mut df = DataFrame::new(h, columns).context(ctx)?;
    // Null-typed columns (e.g. `soc` with no event_terms) become plain strings.
    for name in [
        col::SOC,
        out::PRR_NULL_REASON,
        out::ROR_NULL_REASON,
        out::PRODUCT_NAME,
    ] {
        if df
            .column(name)
            .map(|c| c.dtype() == &DataType::Null)
            .unwrap_or(false)
        {
            let cast = df
                .column(name)
                .and_then(|c| c.cast(&DataType::String))
                .context(ctx)?;
            df.with_column(cast).context(ctx)?;
        }
    }
    Ok(df)
}

/// EBGM, EB05 and EB95 of every row, computed once per distinct (class, a, E): they depend
/// on nothing else, and the 1m benchmark's 779,899 pairs have 346,458 distinct keys. Each
/// key's values come from the same function on the same inputs as a row's would, so they
/// are bit-identical to computing every row.
struct PosteriorsByKey {
    /// Index into `values` of each row.
    key_of_row: Vec<u32>,
    /// EBGM, EB05, EB95 of each distinct key.
    values: Vec<[Option<f64>; 3]>,
}

impl PosteriorsByKey {
    fn of_row(&self, i: usize) -> [Option<f64>; 3] {
        self.values[self.key_of_row[i] as usize]
    }
}

fn ebgm_by_key(
    class: &StringChunked,
    a: &[f64],
    e: &[f64],
    priors: &BTreeMap<String, PriorReport>,
) -> PosteriorsByKey {
    let class_priors: Vec<ebgm::Prior> = priors
        .values()
        .map(|p| ebgm::Prior {
            alpha1: p.alpha1,
            beta1: p.beta1,
            alpha2: p.alpha2,
            beta2: p.beta2,
            p: p.p,
        })
        .collect();
    let index: std::collections::HashMap<&str, u32> = priors
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    // u32::MAX: a class without a prior (EBGM null).
    let prior_of: Vec<u32> = class
        .iter()
        .map(|k| k.and_then(|k| index.get(k).copied()).unwrap_or(u32::MAX))
        .collect();
    let key = |i: usize| (prior_of[i], a[i].to_bits(), e[i].to_bits());
    let mut order: Vec<u32> = (0..a.len() as u32).collect();
    order.sort_unstable_by_key(|&i| key(i as usize));
    let mut first_row: Vec<usize> = Vec::new();
    let mut key_of_row = vec![0u32; a.len()];
    for &i in &order {
        let i = i as usize;
        if first_row.last().is_none_or(|&r| key(r) != key(i)) {
            first_row.push(i);
        }
        key_of_row[i] = (first_row.len() - 1) as u32;
    }
    drop(order);
    tracing::debug!(
        pairs = a.len(),
        keys = first_row.len(),
        "EBGM: distinct (class, a, E)"
    );
    let values = parallel_map(first_row.len(), |k| {
        let i = first_row[k];
        let prior = class_priors.get(prior_of[i] as usize);
        // One posterior per key for EBGM, EB05 and EB95.
        match prior.and_then(|pr| ebgm::try_posterior(pr, a[i], e[i])) {
            Some(post) => [
                Some(post.geometric_mean()),
                Some(post.quantile(0.05)),
                Some(post.quantile(0.95)),
            ],
            None => [None, None, None],
        }
    });
    PosteriorsByKey { key_of_row, values }
}

/// `ebgm_prior` of each row: the kind of its class's prior (null only for a class with
/// no prior, where EBGM is null too).
fn ebgm_prior_column(class: &StringChunked, priors: &BTreeMap<String, PriorReport>) -> Column {
    let v: Vec<Option<&str>> = class
        .iter()
        .map(|k| k.and_then(|k| priors.get(k)).map(|p| p.ebgm_prior.as_str()))
        .collect();
    Column::new(out::EBGM_PRIOR.into(), v)
}

/// Every statistic of one row, computed on a worker thread.
struct RowStats {
    p: prr::Prr,
    r: ror::Ror,
    ic: Option<bcpnn::Ic>,
    /// EBGM, EB05, EB95.
    ebgm: [Option<f64>; 3],
    flags: [bool; 4],
    n_flagged: i64,
}

/// `f(0..n)` on all cores, in contiguous chunks joined in order, so the result does not
/// depend on the number of threads. The statistics are pure functions of a row.
fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut parts = parallel_ranges(n, |range| range.map(&f).collect::<Vec<T>>());
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    parts.into_iter().flatten().collect()
}

/// `f` over contiguous ranges covering `0..n`, one per core, the results in range order.
fn parallel_ranges<T: Send>(n: usize, f: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, n / 4096 + 1);
    if threads == 1 {
        return vec![f(0..n)];
    }
    let chunk = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(n)..((t + 1) * chunk).min(n);
                scope.spawn(move || f(range))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("statistics never panic"))
            .collect()
    })
}

#[derive(Default)]
struct Stats {
    prr: Vec<Option<f64>>,
    prr_lower: Vec<Option<f64>>,
    prr_upper: Vec<Option<f64>>,
    chi2: Vec<Option<f64>>,
    prr_null_reason: Vec<Option<String>>,
    ror: Vec<Option<f64>>,
    ror_lower: Vec<Option<f64>>,
    ror_upper: Vec<Option<f64>>,
    ror_null_reason: Vec<Option<String>>,
    ic: Vec<Option<f64>>,
    ic025: Vec<Option<f64>>,
    ic975: Vec<Option<f64>>,
    ebgm: Vec<Option<f64>>,
    eb05: Vec<Option<f64>>,
    eb95: Vec<Option<f64>>,
    flags: [Vec<bool>; 4],
    n_flagged: Vec<i64>,
    is_signal: Vec<bool>,
}

impl Stats {
    fn push(&mut self, rs: RowStats, min_methods: i64) {
        self.prr.push(rs.p.prr);
        self.prr_lower.push(rs.p.lower);
        self.prr_upper.push(rs.p.upper);
        self.chi2.push(rs.p.chi2);
        self.prr_null_reason.push(rs.p.null_reason);
        self.ror.push(rs.r.ror);
        self.ror_lower.push(rs.r.lower);
        self.ror_upper.push(rs.r.upper);
        self.ror_null_reason.push(rs.r.null_reason);
        self.ic.push(rs.ic.as_ref().map(|x| x.ic));
        self.ic025.push(rs.ic.as_ref().map(|x| x.ic025));
        self.ic975.push(rs.ic.as_ref().map(|x| x.ic975));
        self.ebgm.push(rs.ebgm[0]);
        self.eb05.push(rs.ebgm[1]);
        self.eb95.push(rs.ebgm[2]);
        for (v, f) in self.flags.iter_mut().zip(rs.flags) {
            v.push(f);
        }
        self.n_flagged.push(rs.n_flagged);
        self.is_signal.push(rs.n_flagged >= min_methods);
    }

    /// How many of [`Stats::into_columns`] come before `ebgm_prior` in the table.
    const BEFORE_PRIOR: usize = 15;

    /// The table's columns, in its order: the statistics ([`Stats::BEFORE_PRIOR`] of
    /// them), then the flags, `n_methods_flagged` and `is_signal`. A non-finite value is
    /// a bug upstream; it becomes null rather than reach a BI reader.
    fn into_columns(self) -> Vec<Column> {
        let fcol = |name: &str, v: Vec<Option<f64>>| {
            let v: Vec<Option<f64>> = v.into_iter().map(|x| x.filter(|f| f.is_finite())).collect();
            Column::new(name.into(), v)
        };
        let [f0, f1, f2, f3] = self.flags;
        vec![
            fcol(out::PRR, self.prr),
            fcol(out::PRR_LOWER, self.prr_lower),
            fcol(out::PRR_UPPER, self.prr_upper),
            fcol(out::CHI2, self.chi2),
            Column::new(out::PRR_NULL_REASON.into(), self.prr_null_reason),
            fcol(out::ROR, self.ror),
            fcol(out::ROR_LOWER, self.ror_lower),
            fcol(out::ROR_UPPER, self.ror_upper),
            Column::new(out::ROR_NULL_REASON.into(), self.ror_null_reason),
            fcol(out::IC, self.ic),
            fcol(out::IC025, self.ic025),
            fcol(out::IC975, self.ic975),
            fcol(out::EBGM, self.ebgm),
            fcol(out::EB05, self.eb05),
            fcol(out::EB95, self.eb95),
            Column::new(out::PRR_FLAG.into(), f0),
            Column::new(out::ROR_FLAG.into(), f1),
            Column::new(out::BCPNN_FLAG.into(), f2),
            Column::new(out::EBGM_FLAG.into(), f3),
            Column::new(out::N_METHODS_FLAGGED.into(), self.n_flagged),
            Column::new(out::IS_SIGNAL.into(), self.is_signal),
        ]
    }

    fn with_capacity(h: usize) -> Stats {
        let f = || Vec::with_capacity(h);
        Stats {
            prr: f(),
            prr_lower: f(),
            prr_upper: f(),
            chi2: f(),
            prr_null_reason: Vec::with_capacity(h),
            ror: f(),
            ror_lower: f(),
            ror_upper: f(),
            ror_null_reason: Vec::with_capacity(h),
            ic: f(),
            ic025: f(),
            ic975: f(),
            ebgm: f(),
            eb05: f(),
            eb95: f(),
            flags: [
                Vec::with_capacity(h),
                Vec::with_capacity(h),
                Vec::with_capacity(h),
                Vec::with_capacity(h),
            ],
            n_flagged: Vec::with_capacity(h),
            is_signal: Vec::with_capacity(h),
        }
    }
}
