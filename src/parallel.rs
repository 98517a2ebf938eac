//! Work split over the machine's cores in contiguous ranges, the results joined in range
//! order, so that nothing a caller sees depends on the number of threads.
//!
//! Used where a stage computes each row on its own: the signals' statistics and the case
//! rules' alerts. Invariants: the output order is the input order; a panic in `f` is passed
//! on to the caller.

use std::ops::Range;

/// Below this many items per thread, starting a thread costs more than it saves.
const MIN_PER_THREAD: usize = 4096;

/// `f` over contiguous ranges covering `0..n`, one per core, the results in range order.
pub fn ranges<T: Send>(n: usize, f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, n / MIN_PER_THREAD + 1);
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
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// `f(0..n)` on all cores, in contiguous chunks joined in order.
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut parts = ranges(n, |range| range.map(&f).collect::<Vec<T>>());
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    parts.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the split, the results come back in input order, every item once.
    #[test]
    fn results_are_in_input_order() {
        for n in [0, 1, 4095, 4096, 10_000, 50_001] {
            assert_eq!(map(n, |i| i), (0..n).collect::<Vec<_>>(), "{n}");
            let parts = ranges(n, |r| r);
            assert_eq!(parts.first().map(|r| r.start), Some(0), "{n}");
            assert_eq!(parts.last().map(|r| r.end), Some(n), "{n}");
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start), "{n}");
        }
    }

    #[test]
    #[should_panic(expected = "item 9000")]
    fn a_panic_reaches_the_caller() {
        map(20_000, |i| assert!(i != 9000, "item {i}"));
    }
}
