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

/// The rows of a levelled signals table (with `level`) whose class × product × group
/// occurs in at least one case of `scoped` at the row's level: what
/// [`crate::scope::signals_with_cases_in_scope`] does for raw events, so that a PT, HLT or
/// SMQ row alerts a jurisdiction when one of its own cases reports a term of that group.
pub fn with_cases_in_scope(
    signals: &DataFrame,
    scoped: &crate::ingest::Dataset,
    index: &TermIndex,
    levels: &[TermLevel],
) -> Result<DataFrame> {
    let ctx = || "scope: signals with a case in scope, by level".to_string();
    let watched = signals.clone().lazy().select([col(col::PRODUCT_ID)]);
    let products = super::counts::suspect_products(&scoped.case_products, watched);
    let classes = scoped
        .cases
        .clone()
        .lazy()
        .select([col(col::CASE_KEY), col(col::CLASS)]);
    let mut pairs = Vec::new();
    for &level in levels {
        let (events, _) = case_events_at(level, &scoped.case_events, index)?;
        pairs.push(
            products
                .clone()
                .join(
                    events.lazy().select([col(col::CASE_KEY), col(col::EVENT)]),
                    [col(col::CASE_KEY)],
                    [col(col::CASE_KEY)],
                    JoinArgs::new(JoinType::Inner),
                )
                .join(
                    classes.clone(),
                    [col(col::CASE_KEY)],
                    [col(col::CASE_KEY)],
                    JoinArgs::new(JoinType::Inner),
                )
                .select([
                    lit(level.name()).alias(col::LEVEL),
                    col(col::CLASS),
                    col(col::PRODUCT_ID),
                    col(col::EVENT),
                ])
                .unique(None, UniqueKeepStrategy::Any),
        );
    }
    let pairs = concat(pairs, UnionArgs::default()).context(ctx)?;
    super::rows_with_pairs(
        signals,
        pairs,
        &[col::LEVEL, col::CLASS, col::PRODUCT_ID, col::EVENT],
    )
    .context(ctx)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::config::Signals;
    use crate::signals::counts;
    use crate::terms::{Meddra, SmqScope};

    /// Terms as reports carry them: LLT and PT codes and names of the synthetic release,
    /// and one that maps to nothing.
    const TERMS: [&str; 8] = [
        "90001001",
        "90002001",
        "Synthetic cephalalgia",
        "90001002",
        "Synthetic rash",
        "90002003",
        "90001004",
        "未映射",
    ];

    fn index() -> TermIndex {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/meddra-synthetic");
        TermIndex::new(
            Some(Meddra::load(&dir, true).unwrap()),
            SmqScope::Narrow,
            None,
        )
        .unwrap()
    }

    type Db = (usize, Vec<(usize, usize)>, Vec<(usize, usize)>);

    fn db() -> impl Strategy<Value = Db> {
        (1usize..25).prop_flat_map(|n| {
            (
                Just(n),
                proptest::collection::vec((0..n, 0usize..3), 0..40),
                proptest::collection::vec((0..n, 0..TERMS.len()), 0..60),
            )
        })
    }

    fn frames(db: &Db) -> (DataFrame, DataFrame, DataFrame) {
        let (n, products, events) = db;
        let cases = DataFrame::new_infer_height(vec![
            Column::new(col::CASE_KEY.into(), (0..*n as IdxSize).collect::<Vec<_>>()),
            Column::new(col::CLASS.into(), vec!["drug"; *n]),
            Column::new(col::FIRST_RECEIVED.into(), vec![20000i32; *n])
                .cast(&DataType::Date)
                .unwrap(),
        ])
        .unwrap();
        let products = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_KEY.into(),
                products.iter().map(|p| p.0 as IdxSize).collect::<Vec<_>>(),
            ),
            Column::new(
                col::PRODUCT_ID.into(),
                products
                    .iter()
                    .map(|p| format!("P{}", p.1))
                    .collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        let events = DataFrame::new_infer_height(vec![
            Column::new(
                col::CASE_KEY.into(),
                events.iter().map(|e| e.0 as IdxSize).collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENT.into(),
                events.iter().map(|e| TERMS[e.1]).collect::<Vec<_>>(),
            ),
        ])
        .unwrap();
        (cases, products, events)
    }

    /// Brute force: each case's set of products and set of groups, then the four cells.
    fn recount(db: &Db, idx: &TermIndex, level: TermLevel) -> BTreeMap<(String, String), [i64; 5]> {
        let (n, products, events) = db;
        let prods = |i: usize| -> BTreeSet<String> {
            products
                .iter()
                .filter(|p| p.0 == i)
                .map(|p| format!("P{}", p.1))
                .collect()
        };
        let groups = |i: usize| -> BTreeSet<String> {
            events
                .iter()
                .filter(|e| e.0 == i)
                .flat_map(|e| idx.groups(level, TERMS[e.1]))
                .map(|g| g.key)
                .collect()
        };
        let mut out = BTreeMap::new();
        let all_p: BTreeSet<String> = (0..*n).flat_map(prods).collect();
        let all_g: BTreeSet<String> = (0..*n).flat_map(groups).collect();
        for p in &all_p {
            for g in &all_g {
                let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
                for i in 0..*n {
                    match (prods(i).contains(p), groups(i).contains(g)) {
                        (true, true) => a += 1,
                        (true, false) => b += 1,
                        (false, true) => c += 1,
                        (false, false) => d += 1,
                    }
                }
                if a > 0 {
                    out.insert((p.clone(), g.clone()), [a, b, c, d, *n as i64]);
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// At every level, each cell equals a recount over each case's distinct groups,
        /// and `a + b + c + d = n` = every case of the background.
        #[test]
        fn level_cells_are_a_recount_over_each_cases_groups(db in db()) {
            let idx = index();
            let (cases, products, events) = frames(&db);
            let end = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
            for level in TermLevel::ALL {
                let (ev, _) = case_events_at(level, &events, &idx).unwrap();
                let t = counts::count_pairs(&cases, &products, &ev, end, &Signals::default()).unwrap();
                let s = |c: &str| t.column(c).unwrap().str().unwrap().clone();
                let i = |c: &str| t.column(c).unwrap().i64().unwrap().clone();
                let (p, e) = (s(col::PRODUCT_ID), s(col::EVENT));
                let cells = [i(counts::A), i(counts::B), i(counts::C), i(counts::D), i(counts::N)];
                let mut got = BTreeMap::new();
                for r in 0..t.height() {
                    let v = cells.each_ref().map(|c| c.get(r).unwrap());
                    prop_assert_eq!(v[0] + v[1] + v[2] + v[3], v[4]);
                    got.insert((p.get(r).unwrap().to_string(), e.get(r).unwrap().to_string()), v);
                }
                prop_assert_eq!(got, recount(&db, &idx, level), "level {}", level.name());
            }
        }
    }
}
