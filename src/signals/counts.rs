//! Contingency counts per (class, product, event), counted per case with polars.
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
//! Everything is group-bys and joins over whole tables: there is no loop over pairs.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::config::Signals;
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::schema::col;

/// Column names of the counts frame (also used in `signals.parquet`).
pub const A: &str = "a";
pub const B: &str = "b";
pub const C: &str = "c";
pub const D: &str = "d";
pub const N: &str = "n";
pub const EXPECTED: &str = "expected";
const N_PRODUCT: &str = "__n_product";
const N_EVENT: &str = "__n_event";
const P_CODE: &str = "__p";
const E_CODE: &str = "__e";
const S_SEX: &str = "__s_sex";
const S_AGE: &str = "__s_age";
const S_YEAR: &str = "__s_year";
const E_S: &str = "__e_s";

/// Whether a `report_products` row counts: its product is suspect or interacting.
/// Concomitant products never count, in any statistic or alert.
pub fn suspect_role() -> Expr {
    let roles = Series::new("roles".into(), ["suspect", "interacting"]);
    col(col::ROLE).is_in(lit(roles).implode(false), false)
}

/// Distinct (case key, product_id) with the product as suspect or interacting: a product
/// listed twice in one case counts once.
pub fn suspect_products(case_products: &DataFrame) -> LazyFrame {
    case_products
        .clone()
        .lazy()
        .filter(suspect_role())
        .select([col(col::CASE_KEY), col(col::PRODUCT_ID)])
        .unique(None, UniqueKeepStrategy::Any)
}

/// The stratum columns configured, as expressions over the cases frame.
fn strata_exprs(cfg: &Signals) -> Vec<Expr> {
    let mut out = Vec::new();
    if cfg.strata_sex {
        // Unknown sex forms its own stratum together with `U`.
        out.push(col(col::SEX).fill_null(lit("U")).alias(S_SEX));
    }
    if !cfg.strata_age_bands.is_empty() {
        // Band i holds ages in [edge[i-1], edge[i]); unknown age is band -1.
        let age = col(col::AGE_YEARS);
        let mut band = lit(cfg.strata_age_bands.len() as i32);
        for (i, edge) in cfg.strata_age_bands.iter().enumerate().rev() {
            band = when(age.clone().lt(lit(*edge)))
                .then(lit(i as i32))
                .otherwise(band);
        }
        out.push(
            when(age.is_null())
                .then(lit(-1i32))
                .otherwise(band)
                .alias(S_AGE),
        );
    }
    if cfg.strata_year {
        out.push(col(col::FIRST_RECEIVED).dt().year().alias(S_YEAR));
    }
    out
}

/// Count `a, b, c, d, n, expected` for every (class, product_id, event) with `a ≥ 1`.
///
/// Inputs are ingest's `cases`, `case_products` and `case_events`. Output columns:
/// `class, product_id, event, a, b, c, d, n` (Int64) and `expected` (Float64), sorted by
/// class, product and event.
pub fn count_pairs(
    cases: &DataFrame,
    case_products: &DataFrame,
    case_events: &DataFrame,
    period_end: NaiveDate,
    cfg: &Signals,
) -> Result<DataFrame> {
    let ctx = || "signals: counting cases per product and event".to_string();
    let strata = strata_exprs(cfg);
    let strata_names: Vec<&str> = strata
        .iter()
        .filter_map(|e| match e {
            Expr::Alias(_, name) => Some(name.as_str()),
            _ => None,
        })
        .collect();

    let mut bg_cols = vec![col(col::CASE_KEY), col(col::CLASS)];
    bg_cols.extend(strata.iter().cloned());
    let background = cases
        .clone()
        .lazy()
        .filter(
            col(col::FIRST_RECEIVED)
                .cast(DataType::Int32)
                .lt_eq(lit(epoch_days(period_end))),
        )
        .select(bg_cols);

    let products = suspect_products(case_products).join(
        background.clone(),
        [col(col::CASE_KEY)],
        [col(col::CASE_KEY)],
        JoinArgs::new(JoinType::Inner),
    );
    let events = case_events
        .clone()
        .lazy()
        .select([col(col::CASE_KEY), col(col::EVENT)])
        .unique(None, UniqueKeepStrategy::Any)
        .join(
            background.clone(),
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        );

    let key = [col(col::CLASS), col(col::PRODUCT_ID), col(col::EVENT)];
    // The products (with their class) and the events (with theirs) get integer codes, so
    // that the case × product × event join and its group-by, the one step whose rows grow
    // as products × events per case, work on integers rather than text.
    // The dictionaries are collected once: a lazy one could number its rows differently
    // each time the plan evaluates it, since joins do not keep row order.
    let dictionary = |lf: LazyFrame, what: Expr, code: &str| -> Result<LazyFrame> {
        let df = lf
            .select([col(col::CLASS), what])
            .unique(None, UniqueKeepStrategy::Any)
            .collect()
            .and_then(|df| df.with_row_index(code.into(), None))
            .context(ctx)?;
        Ok(df.lazy())
    };
    let product_codes = dictionary(products.clone(), col(col::PRODUCT_ID), P_CODE)?;
    let event_codes = dictionary(events.clone(), col(col::EVENT), E_CODE)?;
    let coded_products = products
        .clone()
        .join(
            product_codes.clone(),
            [col(col::CLASS), col(col::PRODUCT_ID)],
            [col(col::CLASS), col(col::PRODUCT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(col::CASE_KEY), col(P_CODE)]);
    let coded_events = events
        .clone()
        .join(
            event_codes.clone(),
            [col(col::CLASS), col(col::EVENT)],
            [col(col::CLASS), col(col::EVENT)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(col::CASE_KEY), col(E_CODE)]);
    let pairs = coded_products
        .clone()
        .join(
            coded_events.clone(),
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col(P_CODE), col(E_CODE)])
        .agg([len().cast(DataType::Int64).alias(A)]);
    let n_product = coded_products
        .group_by([col(P_CODE)])
        .agg([len().cast(DataType::Int64).alias(N_PRODUCT)]);
    let n_event = coded_events
        .group_by([col(E_CODE)])
        .agg([len().cast(DataType::Int64).alias(N_EVENT)]);
    let n_class = background
        .clone()
        .group_by([col(col::CLASS)])
        .agg([len().cast(DataType::Int64).alias(N)]);

    let f = |c: &str| col(c).cast(DataType::Float64);
    let mut table = pairs
        .join(
            n_product,
            [col(P_CODE)],
            [col(P_CODE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            n_event,
            [col(E_CODE)],
            [col(E_CODE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            product_codes,
            [col(P_CODE)],
            [col(P_CODE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            event_codes.select([col(E_CODE), col(col::EVENT)]),
            [col(E_CODE)],
            [col(E_CODE)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            n_class,
            [col(col::CLASS)],
            [col(col::CLASS)],
            JoinArgs::new(JoinType::Inner),
        )
        .with_columns([
            (col(N_PRODUCT) - col(A)).alias(B),
            (col(N_EVENT) - col(A)).alias(C),
            (col(N) - col(N_PRODUCT) - col(N_EVENT) + col(A)).alias(D),
            (f(N_PRODUCT) * f(N_EVENT) / f(N)).alias(EXPECTED),
        ]);

    if !strata_names.is_empty() {
        let by = |first: &[&str]| -> Vec<Expr> {
            first
                .iter()
                .chain(strata_names.iter())
                .map(|c| col(*c))
                .collect()
        };
        let np_s = products
            .group_by(by(&[col::CLASS, col::PRODUCT_ID]))
            .agg([len().cast(DataType::Float64).alias(N_PRODUCT)]);
        let ne_s = events
            .group_by(by(&[col::CLASS, col::EVENT]))
            .agg([len().cast(DataType::Float64).alias(N_EVENT)]);
        let n_s = background
            .group_by(by(&[col::CLASS]))
            .agg([len().cast(DataType::Float64).alias(N)]);
        let stratified = table
            .clone()
            .select(key.clone())
            .join(
                np_s,
                [col(col::CLASS), col(col::PRODUCT_ID)],
                [col(col::CLASS), col(col::PRODUCT_ID)],
                JoinArgs::new(JoinType::Inner),
            )
            .join(
                ne_s,
                by(&[col::CLASS, col::EVENT]),
                by(&[col::CLASS, col::EVENT]),
                JoinArgs::new(JoinType::Inner),
            )
            .join(
                n_s,
                by(&[col::CLASS]),
                by(&[col::CLASS]),
                JoinArgs::new(JoinType::Inner),
            )
            .with_column((col(N_PRODUCT) * col(N_EVENT) / col(N)).alias(E_S))
            .group_by(key.clone())
            .agg([col(E_S).sum().alias(EXPECTED)]);
        table = table.drop(cols([EXPECTED])).join(
            stratified,
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        );
    }

    table
        .select([
            col(col::CLASS),
            col(col::PRODUCT_ID),
            col(col::EVENT),
            col(A),
            col(B),
            col(C),
            col(D),
            col(N),
            col(EXPECTED),
        ])
        .sort(
            [col::CLASS, col::PRODUCT_ID, col::EVENT],
            SortMultipleOptions::default(),
        )
        .collect()
        .context(ctx)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::period::from_epoch_days;

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
            Column::new(
                col::SEX.into(),
                db.cases.iter().map(|c| c.2).collect::<Vec<_>>(),
            ),
            Column::new(
                col::AGE_YEARS.into(),
                db.cases.iter().map(|c| c.3).collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        let products = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_KEY.into(),
                db.products.iter().map(|p| key(p.0)).collect::<Vec<_>>(),
            ),
            Column::new(
                col::PRODUCT_ID.into(),
                db.products
                    .iter()
                    .map(|p| format!("P{}", p.1))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::ROLE.into(),
                db.products.iter().map(|p| p.2).collect::<Vec<_>>(),
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
