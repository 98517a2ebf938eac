//! Tests of the rules' search algorithms against brute force, and of the rules on small
//! frames.

use std::collections::BTreeMap;

use polars::prelude::*;
use proptest::prelude::*;

use super::cluster::{best_window, cluster_hits};
use super::signal::eb05_tier;
use crate::schema::col;

#[test]
fn best_window_counts_cases_within_w_days_touching_the_period() {
    // Days 0, 3, 6 are within 7 days (0..=6); day 7 is not with day 0.
    let h = [0, 3, 6, 7, 30];
    assert_eq!(best_window(&h, 7, 0, 100), Some((0, 2)));
    // The window must include a case in the period [20, 40]: only day 30 does.
    assert_eq!(best_window(&h, 7, 20, 40), Some((4, 4)));
    // A window of 8 days holds 0, 3, 6, 7.
    assert_eq!(best_window(&h, 8, 0, 100), Some((0, 3)));
    assert_eq!(best_window(&h, 7, 50, 60), None);
    // The period ends before the busiest window: the best one that touches it wins.
    assert_eq!(best_window(&[0, 10, 11, 12], 7, 0, 5), Some((0, 0)));
    assert_eq!(best_window(&[], 7, 0, 5), None);
}

#[test]
fn tiers() {
    assert_eq!(
        (
            eb05_tier(1.9),
            eb05_tier(2.0),
            eb05_tier(4.1),
            eb05_tier(9.0)
        ),
        (0, 1, 2, 3)
    );
}

/// The search as first written: for each start, every case of the window is checked for
/// one in the period (quadratic in the window's size).
fn best_window_brute(days: &[i32], w: i64, start: i32, end: i32) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for i in 0..days.len() {
        let mut j = i;
        while j + 1 < days.len() && ((days[j + 1] - days[i]) as i64) < w {
            j += 1;
        }
        let touches = days[i..=j].iter().any(|&d| d >= start && d <= end);
        if touches && best.is_none_or(|(bi, bj)| j - i > bj - bi) {
            best = Some((i, j));
        }
    }
    best
}

/// (class, product, by batch, batch or city digits) of a brute-force cluster group.
type Group = (String, String, bool, String);

proptest! {
    #[test]
    fn best_window_equals_brute_force(
        mut days in proptest::collection::vec(-20i32..60, 0..40),
        w in 1i64..15,
        start in -10i32..50,
        len in 0i32..30,
    ) {
        days.sort_unstable();
        let end = start + len;
        prop_assert_eq!(
            best_window(&days, w, start, end),
            best_window_brute(&days, w, start, end)
        );
    }

    /// The cluster search's groups are those of a brute-force grouping over every
    /// (case, product, batch) row: by product and batch, and with `by_region` by product
    /// and city for rows without a batch; a case once per group; only cases first
    /// received in the range.
    #[test]
    fn cluster_hits_equal_brute_force_grouping(
        rows in proptest::collection::vec(
            (0u32..12, 0usize..3, proptest::option::of(0usize..3)), 0..40),
        by_region in any::<bool>(),
        from in 0i64..10,
        span in 0i64..20,
    ) {
        let n_cases = 12u32;
        // Case k: class by k % 2, region in one of three cities, first received on day k.
        let regions = ["330102", "330106", "310101"];
        let case_ids: Vec<String> = (0..n_cases).map(|k| format!("C{k:02}")).collect();
        let cases = df!(
            // Keys in reverse row order: the search must go by key, not by row.
            col::CASE_KEY => (0..n_cases).rev().map(|k| k as IdxSize).collect::<Vec<_>>(),
            col::CASE_ID => (0..n_cases).rev().map(|k| case_ids[k as usize].clone()).collect::<Vec<_>>(),
            col::CLASS => (0..n_cases).rev().map(|k| ["drug", "device"][k as usize % 2]).collect::<Vec<_>>(),
            col::REGION => (0..n_cases).rev().map(|k| regions[k as usize % 3]).collect::<Vec<_>>(),
            col::FIRST_RECEIVED => (0..n_cases).rev().map(|k| k as i32).collect::<Vec<_>>(),
        ).unwrap();
        let cases = cases.lazy().with_column(col(col::FIRST_RECEIVED).cast(DataType::Date)).collect().unwrap();
        let products = ["P0", "P1", "P2"];
        let batches = ["B0", "B1", "B2"];
        let case_products = df!(
            col::CASE_KEY => rows.iter().map(|r| r.0 as IdxSize).collect::<Vec<_>>(),
            col::PRODUCT_ID => rows.iter().map(|r| products[r.1]).collect::<Vec<_>>(),
            col::BATCH => rows.iter().map(|r| r.2.map(|b| batches[b])).collect::<Vec<_>>(),
        ).unwrap();
        let to = from + span;
        let hits = cluster_hits(&cases, &case_products, by_region, (from, to)).unwrap();
        let got: Vec<(String, String, bool, String, i32, String)> = hits
            .iter()
            .map(|h| (h.class.to_string(), h.product.to_string(), h.by_batch,
                      h.key.to_string(), h.day, h.case.to_string()))
            .collect();
        let mut want: BTreeMap<Group, Vec<(i32, String)>> = BTreeMap::new();
        for &(k, p, b) in &rows {
            let day = k as i64;
            if day < from || day > to {
                continue;
            }
            let class = ["drug", "device"][k as usize % 2].to_string();
            let key = match b {
                Some(b) => (class, products[p].to_string(), true, batches[b].to_string()),
                None if by_region => (class, products[p].to_string(), false,
                                      regions[k as usize % 3][..4].to_string()),
                None => continue,
            };
            let hit = (k as i32, case_ids[k as usize].clone());
            let group = want.entry(key).or_default();
            if !group.contains(&hit) {
                group.push(hit);
            }
        }
        let mut flat = Vec::new();
        for ((class, product, by_batch, key), mut group) in want {
            group.sort();
            for (day, case) in group {
                flat.push((class.clone(), product.clone(), by_batch, key.clone(), day, case));
            }
        }
        prop_assert_eq!(got, flat);
    }
}

#[test]
fn no_batch_and_no_city_search_skips_the_cases() {
    // Every batch is null and the by-city search is off: nothing to group, and the cases
    // frame is not even read (it lacks the columns here).
    let cases = df!(col::CASE_KEY => [0 as IdxSize]).unwrap();
    let case_products = df!(
        col::CASE_KEY => [0 as IdxSize, 0],
        col::PRODUCT_ID => ["P0", "P1"],
        col::BATCH => [None::<&str>, None],
    )
    .unwrap();
    let hits = cluster_hits(&cases, &case_products, false, (0, 100)).unwrap();
    assert!(hits.is_empty());
    // With the by-city search on, the same rows are read (and the missing columns named).
    let err = cluster_hits(&cases, &case_products, true, (0, 100))
        .expect_err("the cases frame lacks case_id");
    assert!(err.to_string().contains("alerts: reading cases"), "{err}");
}
