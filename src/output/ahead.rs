//! Build the next batch of a table while the current one is written.
//!
//! The case table is built and written a chunk at a time; building uses mostly one core
//! and so does encoding Parquet, so on a two-core machine the two can overlap: a second
//! thread builds chunk `i + 1` while chunk `i` is encoded. At most one built chunk waits
//! (a rendezvous channel), so memory holds two chunks at the most, not the table.
//!
//! Stage: output. Invariants: the consumer sees exactly the producer's items, in order;
//! when the consumer stops early (an error), the producer stops at its next item.

use std::sync::mpsc;

/// Run `consume` over `items`, with `items` advanced on a second thread one item ahead of
/// `consume`.
pub fn one_ahead<I, R>(items: I, consume: impl FnOnce(&mut dyn Iterator<Item = I::Item>) -> R) -> R
where
    I: Iterator + Send,
    I::Item: Send,
{
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<I::Item>(0);
        scope.spawn(move || {
            for item in items {
                // The consumer hung up (it stopped early): nothing more is needed.
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        let mut received = rx.into_iter();
        consume(&mut received)
        // `received` (the receiver) drops here, before the scope joins the producer, so a
        // producer blocked in `send` returns.
    })
}

#[cfg(test)]
mod tests {
    use super::one_ahead;

    #[test]
    fn items_arrive_in_order_and_all_of_them() {
        let got: Vec<u32> = one_ahead(0..10_000u32, |it| it.collect());
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_producer() {
        let pulled = std::sync::atomic::AtomicUsize::new(0);
        let items = (0..1_000_000u32).inspect(|_| {
            pulled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let first: Vec<u32> = one_ahead(items, |it| it.take(3).collect());
        assert_eq!(first, [0, 1, 2]);
        // The producer may have built one or two more while the consumer finished.
        assert!(pulled.load(std::sync::atomic::Ordering::Relaxed) <= 6);
    }
}
