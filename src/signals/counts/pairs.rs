//! `a` of every (class, product, event) that occurs together in at least one background
//! case, in the order of the counts table: class, product and event by their names' ranks.
//!
//! The cases of each product are laid out once (compressed rows by product code); then,
//! product by product in rank order, each of its cases adds 1 to a dense counter per
//! (class, event) of its events. The counter (classes × events) stays in cache, no pair is
//! hashed, and the touched cells, sorted by (class, event) rank, are the product's pairs.
//! Ranges of products go to each core in turn; their rows are joined class by class in
//! product order, so the result never depends on the thread count. The property tests of
//! `counts` check every cell against a brute-force recount.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::PerCase;

/// One pair's codes (indices into the class, product and event names) and its `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pair {
    pub c: u32,
    pub p: u32,
    pub e: u32,
    pub a: u32,
}

/// The codes and their ranks: what [`count_a`] needs besides the cases.
pub(super) struct Codes<'a> {
    /// Per case key, the (class, stratum) of a background case, or `None`.
    pub case_of: &'a [Option<(u32, u32)>],
    /// Per case key, its distinct product codes and its distinct event codes.
    pub products: &'a PerCase,
    pub events: &'a PerCase,
    /// Each class's, product's and event's rank among its names (byte order).
    pub class_rank: &'a [u32],
    pub product_rank: &'a [u32],
    pub event_rank: &'a [u32],
}

/// Products per unit of work handed to a core: small enough that the cores finish
/// together, large enough that taking the next range costs nothing.
const PRODUCTS_PER_RANGE: usize = 64;

/// `a` of every pair with `a ≥ 1`, ordered by class, product and event rank.
pub(super) fn count_a(codes: &Codes, threads: usize) -> Vec<Pair> {
    let (n_classes, n_products, n_events) = (
        codes.class_rank.len(),
        codes.product_rank.len(),
        codes.event_rank.len(),
    );
    if n_classes == 0 || n_products == 0 || n_events == 0 {
        return Vec::new();
    }
    let by_product = cases_by_product(codes, n_products);
    // Product codes in rank order.
    let mut in_rank = vec![0u32; n_products];
    for (p, &r) in codes.product_rank.iter().enumerate() {
        in_rank[r as usize] = p as u32;
    }
    let ranges: Vec<&[u32]> = in_rank.chunks(PRODUCTS_PER_RANGE).collect();
    let results: Vec<OnceLock<Vec<Vec<Pair>>>> = ranges.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut counter = vec![0u32; n_classes * n_events];
        let mut touched: Vec<usize> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(range) = ranges.get(i) else { break };
            let rows = count_range(
                codes,
                &by_product,
                range,
                &mut counter,
                &mut touched,
                n_events,
            );
            let _ = results[i].set(rows);
        }
    };
    let threads = threads.clamp(1, ranges.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        work();
        for h in handles {
            h.join().expect("pair counting thread");
        }
    });
    let parts: Vec<Vec<Vec<Pair>>> = results
        .into_iter()
        .map(|r| r.into_inner().expect("every range counted"))
        .collect();
    // Classes in rank order; within a class, the ranges in product order.
    let mut classes: Vec<usize> = (0..n_classes).collect();
    classes.sort_unstable_by_key(|&c| codes.class_rank[c]);
    let total = parts.iter().flatten().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for c in classes {
        for part in &parts {
            out.extend_from_slice(&part[c]);
        }
    }
    out
}

/// The background cases of each product, as compressed rows by product code (case keys
/// ascending).
struct ByProduct {
    offsets: Vec<usize>,
    cases: Vec<u32>,
}

impl ByProduct {
    fn of(&self, p: u32) -> &[u32] {
        &self.cases[self.offsets[p as usize]..self.offsets[p as usize + 1]]
    }
}

fn cases_by_product(codes: &Codes, n_products: usize) -> ByProduct {
    let background = || {
        codes
            .case_of
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(k, _)| k)
    };
    let mut offsets = vec![0usize; n_products + 1];
    for k in background() {
        for &p in codes.products.of(k) {
            offsets[p as usize + 1] += 1;
        }
    }
    for p in 0..n_products {
        offsets[p + 1] += offsets[p];
    }
    let mut fill = offsets.clone();
    let mut cases = vec![0u32; offsets[n_products]];
    for k in background() {
        for &p in codes.products.of(k) {
            cases[fill[p as usize]] = k as u32;
            fill[p as usize] += 1;
        }
    }
    ByProduct { offsets, cases }
}

/// The pairs of the products in `range` (in rank order), per class code. `counter` (one
/// cell per class × event) and `touched` are empty on entry and on return.
fn count_range(
    codes: &Codes,
    by_product: &ByProduct,
    range: &[u32],
    counter: &mut [u32],
    touched: &mut Vec<usize>,
    n_events: usize,
) -> Vec<Vec<Pair>> {
    let mut out: Vec<Vec<Pair>> = vec![Vec::new(); codes.class_rank.len()];
    for &p in range {
        for &k in by_product.of(p) {
            let Some((c, _)) = codes.case_of[k as usize] else {
                continue;
            };
            let base = c as usize * n_events;
            for &e in codes.events.of(k as usize) {
                let cell = base + e as usize;
                if counter[cell] == 0 {
                    touched.push(cell);
                }
                counter[cell] += 1;
            }
        }
        touched.sort_unstable_by_key(|&cell| {
            let (c, e) = (cell / n_events, cell % n_events);
            (codes.class_rank[c], codes.event_rank[e])
        });
        for cell in touched.drain(..) {
            let (c, e) = (cell / n_events, cell % n_events);
            out[c].push(Pair {
                c: c as u32,
                p,
                e: e as u32,
                a: counter[cell],
            });
            counter[cell] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Cases as (class or None outside the background, products, events).
    type Cases = Vec<(Option<u32>, Vec<u32>, Vec<u32>)>;

    fn cases() -> impl Strategy<Value = (Cases, [Vec<u32>; 3])> {
        // 200 products: several ranges of PRODUCTS_PER_RANGE, so that the cores share them.
        let (n_classes, n_products, n_events) = (3u32, 200u32, 12u32);
        let case = (
            proptest::option::of(0..n_classes),
            proptest::collection::vec(0..n_products, 0..6),
            proptest::collection::vec(0..n_events, 0..5),
        );
        let rank = |n: u32| Just((0..n).collect::<Vec<u32>>()).prop_shuffle();
        (
            proptest::collection::vec(case, 0..300),
            rank(n_classes),
            rank(n_products),
            rank(n_events),
        )
            .prop_map(|(cases, c, p, e)| (cases, [c, p, e]))
    }

    fn per_case(
        cases: &Cases,
        pick: impl Fn(&(Option<u32>, Vec<u32>, Vec<u32>)) -> &Vec<u32>,
    ) -> PerCase {
        let rows = cases
            .iter()
            .enumerate()
            .flat_map(|(k, case)| pick(case).iter().map(move |&x| (k as u32, x)))
            .collect();
        PerCase::new(cases.len(), rows)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every pair's `a` is a recount's, each pair once, in (class, product, event)
        /// rank order, and one core or three give the same rows.
        #[test]
        fn counts_are_a_recount_in_rank_order((cases, [class_rank, product_rank, event_rank]) in cases()) {
            let case_of: Vec<Option<(u32, u32)>> = cases.iter().map(|c| c.0.map(|c| (c, 0))).collect();
            let (products, events) = (per_case(&cases, |c| &c.1), per_case(&cases, |c| &c.2));
            let codes = Codes {
                case_of: &case_of,
                products: &products,
                events: &events,
                class_rank: &class_rank,
                product_rank: &product_rank,
                event_rank: &event_rank,
            };
            let got = count_a(&codes, 1);
            prop_assert_eq!(&count_a(&codes, 3), &got);

            let mut recount: BTreeMap<(u32, u32, u32), u32> = BTreeMap::new();
            for (class, ps, es) in &cases {
                let Some(c) = class else { continue };
                let mut ps = ps.clone();
                ps.sort_unstable();
                ps.dedup();
                let mut es = es.clone();
                es.sort_unstable();
                es.dedup();
                for &p in &ps {
                    for &e in &es {
                        *recount.entry((*c, p, e)).or_default() += 1;
                    }
                }
            }
            let got_map: BTreeMap<(u32, u32, u32), u32> =
                got.iter().map(|x| ((x.c, x.p, x.e), x.a)).collect();
            prop_assert_eq!(got_map.len(), got.len(), "a pair listed twice");
            prop_assert_eq!(got_map, recount);
            let key = |x: &Pair| {
                (class_rank[x.c as usize], product_rank[x.p as usize], event_rank[x.e as usize])
            };
            prop_assert!(got.windows(2).all(|w| key(&w[0]) < key(&w[1])));
        }
    }
}
