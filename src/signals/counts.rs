//! Contingency counts per (class, product, event), counted per case.
//!
//! The background database of a class is every case of that class first received on or
//! before the end of the period (latest version only). For each product and event that
//! occur together in at least one case:
//!
//! | cell | cases that have …                                  |
//! |------|----------------------------------------------------|
//! | `a`  | the product (suspect or interacting) and the event |
//! | `b`  | the product, not the event                         |
//! | `c`  | the event, not the product                         |
//! | `d`  | neither                                            |
//!
//! `n = a + b + c + d` is the number of cases in the class's background, including cases
//! with no suspect product or no event (they count in `c` or `d`). A product or an event
//! listed twice in one case counts once; concomitant products never count.
//!
//! `expected = (a+b)(a+c)/n`, or with strata `Σ_s (a+b)_s (a+c)_s / n_s`, always in
//! 64-bit floats: the product overflows 32-bit integers at national scale (openEBGM 0.8.2
//! fixed exactly this bug).
//!
//! Products and events are coded as integers once; each background case's distinct
//! products and events are laid out as compressed rows by case key; the marginals are
//! counted per case, and `a` product by product, each product's cases adding to a dense
//! counter of (class, event) cells (`pairs.rs`). Nothing of size products × events is
//! materialised, and no text is hashed after coding. The property tests below check every
//! cell against a brute-force recount.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Signals;
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::schema::{col, SEXES};

mod pairs;

/// Column names of the counts frame (also used in `signals.parquet`).
pub const A: &str = "a";
pub const B: &str = "b";
pub const C: &str = "c";
pub const D: &str = "d";
pub const N: &str = "n";
pub const EXPECTED: &str = "expected";
const S_SEX: &str = "__s_sex";
/// The code of `U` (unknown) in [`SEXES`].
const U_SEX: u32 = 2;
const _: () = assert!(matches!(SEXES[U_SEX as usize].as_bytes(), b"U"));
const S_AGE: &str = "__s_age";
const S_YEAR: &str = "__s_year";

/// Distinct (case key, product_id) of the products listed in `among` (a frame with a
/// `product_id` column), all suspect or interacting (see [`crate::schema::COUNTED_ROLES`]): a product
/// listed twice in one case counts once. Keeping only those products first makes the de-duplication
/// work on the watched products' rows, not on every row.
pub fn suspect_products(case_products: &DataFrame, among: LazyFrame) -> LazyFrame {
    case_products
        .clone()
        .lazy()
        .select([col(col::CASE_KEY), col(col::PRODUCT_ID)])
        .join(
            among.select([col(col::PRODUCT_ID)]),
            [col(col::PRODUCT_ID)],
            [col(col::PRODUCT_ID)],
            JoinArgs::new(JoinType::Semi),
        )
        .unique(None, UniqueKeepStrategy::Any)
}

/// The stratum columns configured, as expressions over the cases frame.
fn strata_exprs(cfg: &Signals) -> Vec<Expr> {
    let mut out = Vec::new();
    if cfg.strata_sex {
        // `sex` is the index into SEXES (see `ingest`); unknown sex forms its own stratum
        // together with `U`.
        out.push(col(col::SEX).fill_null(lit(U_SEX)).alias(S_SEX));
    }
    if !cfg.strata_age_bands.is_empty() {
        out.push(age_band(col(col::AGE_YEARS), &cfg.strata_age_bands).alias(S_AGE));
    }
    if cfg.strata_year {
        out.push(col(col::FIRST_RECEIVED).dt().year().alias(S_YEAR));
    }
    out
}

/// The age band (`Int32`) of `age` for increasing `edges`: band i holds ages in
/// [edge[i-1], edge[i]), band 0 is below the first edge and band `edges.len()` from the last
/// edge up; an unknown age is band -1. The one banding of ages: the age strata here, and
/// `cases.parquet`'s `age_band` labels ([`crate::cases`]).
pub fn age_band(age: Expr, edges: &[f64]) -> Expr {
    let mut band = lit(edges.len() as i32);
    for (i, edge) in edges.iter().enumerate().rev() {
        band = when(age.clone().lt(lit(*edge)))
            .then(lit(i as i32))
            .otherwise(band);
    }
    when(age.is_null()).then(lit(-1i32)).otherwise(band)
}

/// Count `a, b, c, d, n, expected` for every (class, product_id, event) with `a ≥ 1`.
///
/// Inputs are ingest's `cases` (with `__case`), `case_products` and `case_events` (keyed by
/// `__case`). Output columns: `class, product_id, event, a, b, c, d, n` (Int64) and
/// `expected` (Float64), sorted by class, product and event.
pub fn count_pairs(
    cases: &DataFrame,
    case_products: &DataFrame,
    case_events: &DataFrame,
    period_end: NaiveDate,
    cfg: &Signals,
) -> Result<DataFrame> {
    let ctx = || "signals: counting cases per product and event".to_string();
    // Per case (by row): class index and stratum, or None outside the background.
    let strata = strata_exprs(cfg);
    let mut select = vec![
        col(col::CASE_KEY),
        col(col::CLASS),
        col(col::FIRST_RECEIVED)
            .cast(DataType::Int32)
            .alias(col::FIRST_RECEIVED),
    ];
    select.extend(strata.iter().cloned());
    let bg = cases.clone().lazy().select(select).collect().context(ctx)?;
    let keys = bg
        .column(col::CASE_KEY)
        .context(ctx)?
        .cast(&IDX_DTYPE)
        .context(ctx)?;
    let keys = keys.idx().context(ctx)?;
    let class_col = bg.column(col::CLASS).context(ctx)?.str().context(ctx)?;
    let first = bg
        .column(col::FIRST_RECEIVED)
        .context(ctx)?
        .i32()
        .context(ctx)?;
    let end = epoch_days(period_end);
    let stratum = stratum_ids(&bg, cfg).context(ctx)?;

    let max_key = keys.max().map_or(0, |k| k as usize + 1);
    // Case key → (class, stratum) of a background case.
    let mut case_of: Vec<Option<(u32, u32)>> = vec![None; max_key];
    let mut classes: Vec<&str> = Vec::new();
    let mut n_strata = 1u32;
    let rows = keys.iter().zip(class_col.iter()).zip(first.iter());
    for (((k, c), d), &s) in rows.zip(&stratum) {
        let (Some(k), Some(c), Some(d)) = (k, c, d) else {
            continue;
        };
        if d > end {
            continue;
        }
        let ci = match classes.iter().position(|x| *x == c) {
            Some(i) => i,
            None => {
                classes.push(c);
                classes.len() - 1
            }
        } as u32;
        n_strata = n_strata.max(s + 1);
        case_of[k as usize] = Some((ci, s));
    }
    let n_classes = classes.len().max(1) as u64;

    // Products (suspect or interacting) and events per background case, as integer codes,
    // the two tables on two cores.
    let (products, events) = std::thread::scope(|s| {
        let products = s.spawn(|| per_case(case_products, col::PRODUCT_ID, &case_of));
        let events = per_case(case_events, col::EVENT, &case_of);
        (products.join().expect("coding products"), events)
    });
    let (product_names, by_case_p) = products.context(ctx)?;
    let (event_names, by_case_e) = events.context(ctx)?;

    // Marginals, per class (and stratum): n, n_product, n_event.
    let n_pc = product_names.len() as u64 * n_classes;
    let n_ec = event_names.len() as u64 * n_classes;
    let cells = |n: u64| vec![0u32; (n * n_strata as u64) as usize];
    let (mut n_class, mut n_product, mut n_event) = (cells(n_classes), cells(n_pc), cells(n_ec));
    for (key, cs) in case_of.iter().enumerate() {
        let Some((c, s)) = *cs else { continue };
        let (c, s) = (c as u64, s as u64);
        let at = |code: u64| ((code * n_classes + c) * n_strata as u64 + s) as usize;
        n_class[(c * n_strata as u64 + s) as usize] += 1;
        for &p in by_case_p.of(key) {
            n_product[at(p as u64)] += 1;
        }
        for &e in by_case_e.of(key) {
            n_event[at(e as u64)] += 1;
        }
    }

    // One row per pair. `expected` is n_product·n_event/n summed over strata, in f64.
    let sum_strata = |v: &[u32], code: u64, c: u64| -> i64 {
        let at = ((code * n_classes + c) * n_strata as u64) as usize;
        v[at..at + n_strata as usize]
            .iter()
            .map(|&x| x as i64)
            .sum()
    };
    // a per (class, product, event): the one step whose work grows as products × events
    // per case (`pairs.rs`), its rows in (class, product_id, event) order as text sorts:
    // by each code's rank among its names, so that no text is compared.
    let (class_rank, product_rank, event_rank) =
        (ranks(&classes), ranks(&product_names), ranks(&event_names));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let order = pairs::count_a(
        &pairs::Codes {
            case_of: &case_of,
            products: &by_case_p,
            events: &by_case_e,
            class_rank: &class_rank,
            product_rank: &product_rank,
            event_rank: &event_rank,
        },
        threads,
    );
    let h = order.len();
    let (mut o_class, mut o_product, mut o_event) = (
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
    );
    let (mut o_a, mut o_b, mut o_c, mut o_d, mut o_n, mut o_e) = (
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
        Vec::with_capacity(h),
    );
    for pair in &order {
        let (c, p, e) = (pair.c as u64, pair.p as u64, pair.e as u64);
        let a = pair.a as i64;
        let np = sum_strata(&n_product, p, c);
        let ne = sum_strata(&n_event, e, c);
        let n: i64 = n_class[(c * n_strata as u64) as usize..((c + 1) * n_strata as u64) as usize]
            .iter()
            .map(|&x| x as i64)
            .sum();
        let expected = if n_strata == 1 {
            np as f64 * ne as f64 / n as f64
        } else {
            let (pi, ei, ni) = (
                ((p * n_classes + c) * n_strata as u64) as usize,
                ((e * n_classes + c) * n_strata as u64) as usize,
                (c * n_strata as u64) as usize,
            );
            (0..n_strata as usize)
                .filter(|&s| n_product[pi + s] > 0 && n_event[ei + s] > 0)
                .map(|s| n_product[pi + s] as f64 * n_event[ei + s] as f64 / n_class[ni + s] as f64)
                .sum()
        };
        o_class.push(classes[c as usize]);
        o_product.push(product_names[p as usize]);
        o_event.push(event_names[e as usize]);
        o_a.push(a);
        o_b.push(np - a);
        o_c.push(ne - a);
        o_d.push(n - np - ne + a);
        o_n.push(n);
        o_e.push(expected);
    }
    let out = DataFrame::new_infer_height(vec![
        Column::new(col::CLASS.into(), o_class),
        Column::new(col::PRODUCT_ID.into(), o_product),
        Column::new(col::EVENT.into(), o_event),
        Column::new(A.into(), o_a),
        Column::new(B.into(), o_b),
        Column::new(C.into(), o_c),
        Column::new(D.into(), o_d),
        Column::new(N.into(), o_n),
        Column::new(EXPECTED.into(), o_e),
    ])
    .context(ctx)?;
    Ok(out)
}

/// Each name's rank in byte order (the order polars sorts text in), by position.
fn ranks(names: &[&str]) -> Vec<u32> {
    let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
    by_name.sort_unstable_by_key(|&i| names[i as usize]);
    let mut rank = vec![0u32; names.len()];
    for (r, &i) in by_name.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    rank
}

/// Codes of a text column's values in first-seen order, and per case key the distinct
/// codes of its rows (background cases only), as compressed rows.
fn per_case<'a>(
    df: &'a DataFrame,
    name: &str,
    case_of: &[Option<(u32, u32)>],
) -> PolarsResult<(Vec<&'a str>, PerCase)> {
    let keys = df.column(col::CASE_KEY)?.idx()?;
    let values = df.column(name)?.str()?;
    let mut names: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, u32, foldhash::fast::FixedState> = HashMap::default();
    let mut rows: Vec<(u32, u32)> = Vec::with_capacity(df.height());
    for (k, v) in keys.iter().zip(values.iter()) {
        let (Some(k), Some(v)) = (k, v) else {
            continue;
        };
        if case_of.get(k as usize).copied().flatten().is_none() {
            continue;
        }
        let code = *index.entry(v).or_insert_with(|| {
            names.push(v);
            (names.len() - 1) as u32
        });
        rows.push((k, code));
    }
    Ok((names, PerCase::new(case_of.len(), rows)))
}

/// For each case key, its distinct codes (compressed sparse rows).
struct PerCase {
    offsets: Vec<u32>,
    codes: Vec<u32>,
}

impl PerCase {
    fn new(n_cases: usize, rows: Vec<(u32, u32)>) -> PerCase {
        let mut offsets = vec![0u32; n_cases + 1];
        for &(k, _) in &rows {
            offsets[k as usize + 1] += 1;
        }
        for i in 0..n_cases {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut codes = vec![0u32; rows.len()];
        for (k, c) in rows {
            codes[fill[k as usize] as usize] = c;
            fill[k as usize] += 1;
        }
        // Distinct within each case: sort each (short) run, then compact.
        let mut out_offsets = vec![0u32; n_cases + 1];
        let mut w = 0usize;
        for i in 0..n_cases {
            let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
            codes[s..e].sort_unstable();
            let mut last = None;
            for r in s..e {
                if last != Some(codes[r]) {
                    last = Some(codes[r]);
                    codes[w] = codes[r];
                    w += 1;
                }
            }
            out_offsets[i + 1] = w as u32;
        }
        codes.truncate(w);
        PerCase {
            offsets: out_offsets,
            codes,
        }
    }

    fn of(&self, key: usize) -> &[u32] {
        &self.codes[self.offsets[key] as usize..self.offsets[key + 1] as usize]
    }
}

/// Each case's stratum as a dense index (0 when no strata are configured).
fn stratum_ids(bg: &DataFrame, cfg: &Signals) -> PolarsResult<Vec<u32>> {
    let h = bg.height();
    let mut id = vec![0u32; h];
    let mut radix = 1u32;
    if cfg.strata_sex {
        let sex = bg.column(S_SEX)?.u32()?;
        for (i, v) in sex.iter().enumerate() {
            id[i] += radix * v.unwrap_or(U_SEX);
        }
        radix *= SEXES.len() as u32;
    }
    if !cfg.strata_age_bands.is_empty() {
        let band = bg.column(S_AGE)?.i32()?;
        for (i, v) in band.iter().enumerate() {
            id[i] += radix * (v.unwrap_or(-1) + 1) as u32;
        }
        radix *= cfg.strata_age_bands.len() as u32 + 2;
    }
    if cfg.strata_year {
        let year = bg.column(S_YEAR)?.i32()?;
        let min = year.min().unwrap_or(0);
        for (i, v) in year.iter().enumerate() {
            id[i] += radix * v.map_or(0, |y| (y - min) as u32);
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::period::from_epoch_days;
    use crate::schema::COUNTED_ROLES;

    /// A small random database: (class, first received day, sex, age) per case, then
    /// (case, product, role) and (case, event) rows, duplicates allowed.
    #[derive(Debug, Clone)]
    struct Db {
        cases: Vec<(usize, i32, Option<&'static str>, Option<f64>)>,
        products: Vec<(usize, usize, &'static str)>,
        events: Vec<(usize, usize)>,
    }

    const CLASSES: [&str; 2] = ["drug", "device"];
    const ROLES: [&str; 3] = ["suspect", "concomitant", "interacting"];
    const SEXES: [Option<&str>; 3] = [Some("M"), Some("F"), None];

    fn db() -> impl Strategy<Value = Db> {
        (1usize..40).prop_flat_map(|n| {
            let cases = proptest::collection::vec(
                (
                    0usize..2,
                    0i32..30,
                    proptest::sample::select(SEXES.to_vec()),
                    proptest::option::of(0.0f64..90.0),
                ),
                n,
            );
            let products = proptest::collection::vec(
                (0..n, 0usize..5, proptest::sample::select(ROLES.to_vec())),
                0..80,
            );
            let events = proptest::collection::vec((0..n, 0usize..6), 0..80);
            (cases, products, events).prop_map(|(cases, products, events)| Db {
                cases,
                products,
                events,
            })
        })
    }

    fn frames(db: &Db) -> (DataFrame, DataFrame, DataFrame) {
        let id = |i: usize| format!("C{i}");
        let key = |i: usize| i as IdxSize;
        let cases = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_ID.into(),
                (0..db.cases.len()).map(id).collect::<Vec<_>>(),
            ),
            Column::new(
                col::CASE_KEY.into(),
                (0..db.cases.len()).map(key).collect::<Vec<_>>(),
            ),
            Column::new(
                col::CLASS.into(),
                db.cases.iter().map(|c| CLASSES[c.0]).collect::<Vec<_>>(),
            ),
            Column::new(
                col::FIRST_RECEIVED.into(),
                db.cases.iter().map(|c| 20000 + c.1).collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)
            .unwrap(),
            // As ingest stores it: the index into SEXES.
            Column::new(
                col::SEX.into(),
                db.cases
                    .iter()
                    .map(|c| {
                        c.2.map(|s| {
                            crate::schema::SEXES.iter().position(|x| *x == s).unwrap() as u32
                        })
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::AGE_YEARS.into(),
                db.cases.iter().map(|c| c.3).collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        // As ingest builds `case_products`: only the rows whose role counts.
        let counted: Vec<_> = db
            .products
            .iter()
            .filter(|p| COUNTED_ROLES.contains(&p.2))
            .collect();
        let products = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_KEY.into(),
                counted.iter().map(|p| key(p.0)).collect::<Vec<_>>(),
            ),
            Column::new(
                col::PRODUCT_ID.into(),
                counted
                    .iter()
                    .map(|p| format!("P{}", p.1))
                    .collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        let events = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_KEY.into(),
                db.events.iter().map(|e| key(e.0)).collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENT.into(),
                db.events
                    .iter()
                    .map(|e| format!("E{}", e.1))
                    .collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        (cases, products, events)
    }

    type Key = (String, String, String);

    /// Brute force: loop over cases, sets per case, then count.
    fn brute_force(
        db: &Db,
        end_day: i32,
        cfg: &Signals,
    ) -> BTreeMap<Key, (i64, i64, i64, i64, i64, f64)> {
        let in_bg: Vec<usize> = (0..db.cases.len())
            .filter(|&i| db.cases[i].1 <= end_day)
            .collect();
        let prods = |i: usize| -> BTreeSet<usize> {
            db.products
                .iter()
                .filter(|p| p.0 == i && p.2 != "concomitant")
                .map(|p| p.1)
                .collect()
        };
        let evs = |i: usize| -> BTreeSet<usize> {
            db.events.iter().filter(|e| e.0 == i).map(|e| e.1).collect()
        };
        let stratum = |i: usize| -> (String, i32, i32) {
            let c = &db.cases[i];
            let sex = if cfg.strata_sex {
                c.2.unwrap_or("U").to_string()
            } else {
                String::new()
            };
            let age = if cfg.strata_age_bands.is_empty() {
                0
            } else {
                match c.3 {
                    None => -1,
                    Some(a) => cfg.strata_age_bands.iter().filter(|e| a >= **e).count() as i32,
                }
            };
            let year = if cfg.strata_year {
                from_epoch_days(20000 + c.1)
                    .format("%Y")
                    .to_string()
                    .parse()
                    .unwrap()
            } else {
                0
            };
            (sex, age, year)
        };
        let mut out = BTreeMap::new();
        for (ci, class) in CLASSES.iter().enumerate() {
            let bg: Vec<usize> = in_bg
                .iter()
                .copied()
                .filter(|&i| db.cases[i].0 == ci)
                .collect();
            let n = bg.len() as i64;
            for p in 0..5 {
                for e in 0..6 {
                    let a = bg
                        .iter()
                        .filter(|&&i| prods(i).contains(&p) && evs(i).contains(&e))
                        .count() as i64;
                    if a == 0 {
                        continue;
                    }
                    let np = bg.iter().filter(|&&i| prods(i).contains(&p)).count() as i64;
                    let ne = bg.iter().filter(|&&i| evs(i).contains(&e)).count() as i64;
                    let strata: BTreeSet<_> = bg.iter().map(|&i| stratum(i)).collect();
                    let expected: f64 = strata
                        .iter()
                        .map(|s| {
                            let in_s: Vec<usize> =
                                bg.iter().copied().filter(|&i| &stratum(i) == s).collect();
                            let nps =
                                in_s.iter().filter(|&&i| prods(i).contains(&p)).count() as f64;
                            let nes = in_s.iter().filter(|&&i| evs(i).contains(&e)).count() as f64;
                            nps * nes / in_s.len() as f64
                        })
                        .sum();
                    out.insert(
                        (class.to_string(), format!("P{p}"), format!("E{e}")),
                        (a, np - a, ne - a, n - np - ne + a, n, expected),
                    );
                }
            }
        }
        out
    }

    fn polars_counts(
        db: &Db,
        end_day: i32,
        cfg: &Signals,
    ) -> BTreeMap<Key, (i64, i64, i64, i64, i64, f64)> {
        let (cases, products, events) = frames(db);
        let df = count_pairs(
            &cases,
            &products,
            &events,
            from_epoch_days(20000 + end_day),
            cfg,
        )
        .unwrap();
        let s = |c: &str| df.column(c).unwrap().str().unwrap().clone();
        let i = |c: &str| df.column(c).unwrap().i64().unwrap().clone();
        let (class, product, event) = (s(col::CLASS), s(col::PRODUCT_ID), s(col::EVENT));
        let (a, b, c, d, n) = (i(A), i(B), i(C), i(D), i(N));
        let e = df.column(EXPECTED).unwrap().f64().unwrap().clone();
        (0..df.height())
            .map(|r| {
                (
                    (
                        class.get(r).unwrap().to_string(),
                        product.get(r).unwrap().to_string(),
                        event.get(r).unwrap().to_string(),
                    ),
                    (
                        a.get(r).unwrap(),
                        b.get(r).unwrap(),
                        c.get(r).unwrap(),
                        d.get(r).unwrap(),
                        n.get(r).unwrap(),
                        e.get(r).unwrap(),
                    ),
                )
            })
            .collect()
    }

    fn config(sex: bool, bands: Vec<f64>, year: bool) -> Signals {
        Signals {
            strata_sex: sex,
            strata_age_bands: bands,
            strata_year: year,
            ..Signals::default()
        }
    }

    fn assert_same(
        got: &BTreeMap<Key, (i64, i64, i64, i64, i64, f64)>,
        want: &BTreeMap<Key, (i64, i64, i64, i64, i64, f64)>,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (k, g) in got {
            let w = &want[k];
            prop_assert_eq!(
                (g.0, g.1, g.2, g.3, g.4),
                (w.0, w.1, w.2, w.3, w.4),
                "{:?}",
                k
            );
            prop_assert_eq!(g.0 + g.1 + g.2 + g.3, g.4, "a + b + c + d = n for {:?}", k);
            prop_assert!(
                (g.5 - w.5).abs() <= 1e-12 * w.5.abs(),
                "{:?}: expected {} vs {}",
                k,
                g.5,
                w.5
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn polars_counts_equal_a_brute_force_recount(db in db(), end in 0i32..30) {
            let cfg = config(false, vec![], false);
            assert_same(&polars_counts(&db, end, &cfg), &brute_force(&db, end, &cfg))?;
        }

        #[test]
        fn stratified_expected_equals_a_brute_force_sum(db in db(), end in 0i32..30) {
            let cfg = config(true, vec![18.0, 65.0], true);
            assert_same(&polars_counts(&db, end, &cfg), &brute_force(&db, end, &cfg))?;
        }
    }

    /// Ranks follow byte order, as polars sorts text: `A10` before `A9`, `B` after both.
    #[test]
    fn ranks_are_byte_order() {
        assert_eq!(ranks(&["B", "A9", "A10", "A", "a"]), vec![3, 2, 1, 0, 4]);
        assert_eq!(ranks(&[]), Vec::<u32>::new());
    }

    /// The rows are in (class, product_id, event) order, as the signals table expects.
    #[test]
    fn rows_are_in_class_product_event_order() {
        let db = Db {
            cases: (0..6).map(|i| (i % 2, 0, None, None)).collect(),
            products: (0..6)
                .flat_map(|k| [(k, k % 5, "suspect"), (k, (k + 2) % 5, "suspect")])
                .collect(),
            events: (0..6)
                .flat_map(|k| [(k, k % 6), (k, (k * 5) % 6)])
                .collect(),
        };
        let (cases, products, events) = frames(&db);
        let df = count_pairs(
            &cases,
            &products,
            &events,
            from_epoch_days(20030),
            &config(false, vec![], false),
        )
        .unwrap();
        let s = |c: &str| df.column(c).unwrap().str().unwrap().clone();
        let (class, product, event) = (s(col::CLASS), s(col::PRODUCT_ID), s(col::EVENT));
        let rows: Vec<(&str, &str, &str)> = (0..df.height())
            .map(|r| {
                (
                    class.get(r).unwrap(),
                    product.get(r).unwrap(),
                    event.get(r).unwrap(),
                )
            })
            .collect();
        assert!(rows.len() > 10, "{rows:?}");
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
    }

    #[test]
    fn concomitant_products_and_repeats_do_not_count() {
        // Case 0: P0 suspect twice, P1 concomitant, event E0 twice. Case 1: P0, E1.
        let db = Db {
            cases: vec![(0, 0, None, None), (0, 0, None, None), (0, 0, None, None)],
            products: vec![
                (0, 0, "suspect"),
                (0, 0, "suspect"),
                (0, 1, "concomitant"),
                (1, 0, "interacting"),
            ],
            events: vec![(0, 0), (0, 0), (1, 1), (2, 0)],
        };
        let got = polars_counts(&db, 0, &config(false, vec![], false));
        let k = |p: &str, e: &str| ("drug".to_string(), p.to_string(), e.to_string());
        // P0 & E0: a = 1 (case 0), b = 1 (case 1), c = 1 (case 2), d = 0; E = 2·2/3.
        let v = got[&k("P0", "E0")];
        assert_eq!((v.0, v.1, v.2, v.3, v.4), (1, 1, 1, 0, 3));
        assert!((v.5 - 4.0 / 3.0).abs() < 1e-15);
        assert!(
            !got.contains_key(&k("P1", "E0")),
            "concomitant products never count"
        );
    }
}
