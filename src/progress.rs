//! Progress of a run's stages: spinners with row counts on a terminal, and one structured
//! log line per stage (tracing) everywhere, so cron and CI logs show the same story.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Creates one [`Stage`] per pipeline stage.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// `bars`: draw spinners on stderr (a terminal, not `--quiet`).
    pub fn new(bars: bool) -> Self {
        Progress {
            multi: bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// No bars: for tests and library callers.
    pub fn hidden() -> Self {
        Progress { multi: None }
    }

    pub fn stage(&self, name: &'static str) -> Stage {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:<8} {msg} [{elapsed}]")
                    .expect("static template"),
            );
            bar.set_prefix(name);
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Stage {
            name,
            bar,
            rows: Arc::new(AtomicU64::new(0)),
            start: Instant::now(),
        }
    }
}

/// A running stage: count rows into it from any thread, then [`Stage::finish`] it.
pub struct Stage {
    name: &'static str,
    bar: Option<ProgressBar>,
    rows: Arc<AtomicU64>,
    start: Instant,
}

impl Stage {
    /// A counter that loader threads add to; the spinner shows the total.
    pub fn counter(&self) -> RowCounter {
        RowCounter {
            rows: self.rows.clone(),
            bar: self.bar.clone(),
        }
    }

    /// Ends the stage, logs `stage`, `count`, `unit`, `elapsed_ms` and `detail`, and
    /// returns its time. `unit` says what was counted (`rows`, `files`).
    pub fn finish(self, count: u64, unit: &str, detail: &str) -> Duration {
        let elapsed = self.start.elapsed();
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template("✔ {prefix:<8} {msg} [{elapsed}]")
                    .expect("static template"),
            );
            let sep = if detail.is_empty() { "" } else { " · " };
            bar.finish_with_message(format!("{} {unit}{sep}{detail}", thousands(count)));
        }
        tracing::info!(
            stage = self.name,
            count,
            unit,
            elapsed_ms = elapsed.as_millis() as u64,
            detail,
            "stage finished"
        );
        elapsed
    }
}

/// Adds rows to a stage's counter.
#[derive(Clone)]
pub struct RowCounter {
    rows: Arc<AtomicU64>,
    bar: Option<ProgressBar>,
}

impl RowCounter {
    pub fn add(&self, n: u64) {
        let total = self.rows.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} rows", thousands(total)));
        }
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Run `f` and log its wall time at debug level: the steps inside a stage, for profiling
/// (`-v` shows them; the benchmark harness's profile in the README comes from them).
pub fn timed<T>(step: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    tracing::debug!(
        step,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "step finished"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
