//! Integer indexes over the ingest frames, for the rules and the screening list that look
//! at cases and the products they name.
//!
//! Reads `cases` (`__case`) and `case_products` (`__case`, `product_id`) and the watched
//! products of the registry. Instead of joining `case_products` (one row per case ×
//! product, millions of rows) with `cases` and the registry on text keys and then
//! de-duplicating every row, a pass over `case_products` looks each row's case up by its
//! integer key (a slot per key) and keeps only the rows of the cases asked for; only the
//! rows kept touch the product text (one hash look-up). The results are exactly the rows
//! of those joins: distinct (case, watched product) pairs.
//!
//! Invariants: `__case` is non-null and unique in `cases` (ingest's row number of the
//! case, kept by scoping); `product_id` is unique in the registry.

use std::collections::HashMap;

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::schema::col;
use crate::signals::{out, watched_products, PRODUCT_CLASS};

/// The row of `cases` of each case key: a slot per key (keys are dense row numbers).
pub struct CaseRows {
    slots: Vec<u32>,
}

const ABSENT: u32 = u32::MAX;

impl CaseRows {
    pub fn of(cases: &DataFrame) -> Result<Self> {
        let ctx = || "alerts: indexing the cases by key".to_string();
        let keys = cases
            .column(col::CASE_KEY)
            .and_then(|c| c.idx().cloned())
            .context(ctx)?;
        let top = keys.max().map_or(0, |m| m as usize + 1);
        let mut slots = vec![ABSENT; top];
        for (row, key) in keys.iter().enumerate() {
            if let Some(k) = key {
                slots[k as usize] = row as u32;
            }
        }
        Ok(CaseRows { slots })
    }

    /// The row of the case with key `key`, if it is in the frame.
    pub fn row(&self, key: IdxSize) -> Option<usize> {
        match self.slots.get(key as usize) {
            Some(&r) if r != ABSENT => Some(r as usize),
            _ => None,
        }
    }
}

/// The watched products of the registry ([`watched_products`]), collected, with a look-up
/// from product id to row.
pub struct Watched {
    pub frame: DataFrame,
    pub id: StringChunked,
    pub name: StringChunked,
    pub innovative: BooleanChunked,
    pub conditional: BooleanChunked,
    pub procured: BooleanChunked,
    /// Product id → row of `frame`.
    rows: HashMap<String, u32>,
}

impl Watched {
    pub fn of(products: &DataFrame, watch: &[String]) -> Result<Self> {
        let ctx = || "alerts: selecting the watched products".to_string();
        let frame = watched_products(products, watch)
            .select([
                col(col::PRODUCT_ID),
                col(out::PRODUCT_NAME),
                col(col::INNOVATIVE),
                col(col::CONDITIONAL),
                col(col::PROCURED),
                col(PRODUCT_CLASS),
                col(col::HOLDER),
            ])
            .collect()
            .context(ctx)?;
        let s = |n: &str| frame.column(n).and_then(|c| c.str().cloned()).context(ctx);
        let b = |n: &str| frame.column(n).and_then(|c| c.bool().cloned()).context(ctx);
        let id = s(col::PRODUCT_ID)?;
        let rows = id
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((p?.to_string(), i as u32)))
            .collect();
        Ok(Watched {
            name: s(out::PRODUCT_NAME)?,
            innovative: b(col::INNOVATIVE)?,
            conditional: b(col::CONDITIONAL)?,
            procured: b(col::PROCURED)?,
            id,
            frame,
            rows,
        })
    }

    /// The row of a watched product, `None` for a product not watched.
    pub fn row(&self, product_id: &str) -> Option<u32> {
        self.rows.get(product_id).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The distinct (case row, watched product row) pairs of the cases for which `keep(row)`
/// holds, sorted by case row then product row: the rows that joining `case_products` with
/// the watched products and those cases gives, de-duplicated.
pub fn watched_pairs(
    case_rows: &CaseRows,
    case_products: &DataFrame,
    watched: &Watched,
    keep: impl Fn(usize) -> bool,
) -> Result<Vec<(u32, u32)>> {
    let ctx = || "alerts: cases on watched products".to_string();
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let keys = case_products
        .column(col::CASE_KEY)
        .and_then(|c| c.idx().cloned())
        .context(ctx)?;
    let pid = case_products
        .column(col::PRODUCT_ID)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let mut pairs = Vec::new();
    for (key, p) in keys.iter().zip(pid.iter()) {
        let (Some(key), Some(p)) = (key, p) else {
            continue;
        };
        let Some(row) = case_rows.row(key) else {
            continue;
        };
        if !keep(row) {
            continue;
        }
        if let Some(w) = watched.row(p) {
            pairs.push((row as u32, w));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> (DataFrame, DataFrame, DataFrame) {
        // Case keys 0..4 with key 2 scoped away; rows are not in key order.
        let cases = df!(
            col::CASE_KEY => [3 as IdxSize, 0, 1],
            col::CASE_ID => ["C3", "C0", "C1"],
        )
        .unwrap();
        let case_products = df!(
            col::CASE_KEY => [0 as IdxSize, 0, 0, 1, 2, 3, 3],
            col::PRODUCT_ID => ["P1", "P1", "P2", "X", "P1", "P2", "P1"],
        )
        .unwrap();
        let products = df!(
            col::PRODUCT_ID => ["P1", "P2", "X"],
            col::NAME => ["one", "two", "unwatched"],
            col::CLASS => ["drug", "drug", "drug"],
            col::INNOVATIVE => [Some(true), Some(true), None],
            col::CONDITIONAL => [false, false, false],
            col::PROCURED => [false, false, false],
            col::HOLDER => [Some("h"), None, None],
        )
        .unwrap();
        (cases, case_products, products)
    }

    #[test]
    fn pairs_are_the_distinct_watched_products_of_the_cases_kept() {
        let (cases, case_products, products) = frames();
        let rows = CaseRows::of(&cases).unwrap();
        assert_eq!(
            (rows.row(0), rows.row(2), rows.row(3), rows.row(99)),
            (Some(1), None, Some(0), None)
        );
        let watched = Watched::of(&products, &["innovative".to_string()]).unwrap();
        let (p1, p2) = (watched.row("P1").unwrap(), watched.row("P2").unwrap());
        assert_eq!(watched.row("X"), None);
        let all = watched_pairs(&rows, &case_products, &watched, |_| true).unwrap();
        // Case C0 (row 1) names P1 twice: once here. Key 2 is not a case of the frame.
        let mut want = vec![(0, p2), (0, p1), (1, p1), (1, p2)];
        want.sort_unstable();
        assert_eq!(all, want);
        let only_c3 = watched_pairs(&rows, &case_products, &watched, |r| r == 0).unwrap();
        assert_eq!(only_c3.len(), 2);
        let none = Watched::of(&products, &["procured".to_string()]).unwrap();
        assert!(watched_pairs(&rows, &case_products, &none, |_| true)
            .unwrap()
            .is_empty());
    }
}
