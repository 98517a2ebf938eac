//! The memory budget: a run stops with a clear message, naming the stage and the size,
//! before a stage needs more memory than the machine (or the pipeline's `max_memory_gib`)
//! allows, rather than being killed half-way by the kernel's out-of-memory killer.
//!
//! A stage's need is estimated from its row counts, with bytes per row measured by the
//! benchmark harness (`examples/bench/`: peak resident memory over rows at 1, 10 and 25
//! million cases) and rounded up. The limit is `max_memory_gib` when the pipeline sets it,
//! otherwise the memory available when the run starts: `MemAvailable` in /proc/meminfo,
//! or the cgroup's `memory.max` less its current use when that is lower (containers).
//! Where neither can be read, the budget is unlimited.

use crate::error::{Error, Result};

const GIB: f64 = (1u64 << 30) as f64;

/// Peak bytes of a whole run: a fixed part plus bytes per input row of each case table.
///
/// Calibrated on the generated data (`scripts/bench`, default watch list), 2026-12-07,
/// with the case table written while the signals and alerts are computed and mimalloc
/// decommitting freed memory (`MIMALLOC_PURGE_DECOMMITS=1`, what a run near its budget
/// uses): the peak of a whole run was 4.87 GiB for 11.0 + 22.0 + 21.6 million rows and
/// 10.69 GiB for 27.5 + 55.0 + 54.0 million rows of reports, report_products and
/// report_events; these figures give 5.03 and 11.40 GiB, and 1.18 GiB for the 1m set
/// (measured 0.95 GiB). The constants before (135, 41 and 31 bytes, fitted when the case
/// table was written last) gave 3.60 and 7.85 GiB, a third under. A run that purges by
/// reset instead (estimated at a quarter of its budget or less, `main.rs`) counts freed
/// pages in its resident size until the kernel takes them: the 10m run then read 5.81
/// GiB. With every product watched the signals table and the alerts are larger: the 10m
/// set peaked at 8.24 GiB (reset), which neither check foresees (the signals check after
/// loading puts it at 5.73 GiB with a pipeline limit): the watched share of the pairs is
/// not in either estimate yet.
pub const INGEST_BASE_BYTES: u64 = 768 << 20;
pub const INGEST_BYTES_PER_ROW: [(&str, u64); 3] = [
    ("reports", 205),
    ("report_products", 62),
    ("report_events", 47),
];
/// Bytes per input row for tables not listed above.
pub const INGEST_BYTES_PER_OTHER_ROW: u64 = 200;
/// Bytes per CSV byte: the reports are read whole as text, then typed; the child tables
/// are streamed. The 1m set as CSV (252 MB) peaked at 0.57 GiB, 2.4 bytes per byte.
pub const INGEST_BYTES_PER_CSV_BYTE: u64 = 3;
/// Peak bytes per case × product × event row while counting pairs, over what the loaded
/// tables hold ([`dataset_bytes`]): the 25m run peaked at 7.63 GiB, 2.2 GiB over the
/// tables' 5.4 GiB, for 88 million rows.
pub const SIGNALS_BYTES_PER_PAIR_ROW: u64 = 28;

/// Bytes of writing the case table, over what the loaded tables hold ([`dataset_bytes`]),
/// per case of the run and per case of a chunk (`cases::case_table_chunks`,
/// `cases::CHUNK_CASES` cases at a time): a chunk's rows, its product and event rows, its
/// lists and text and their LargeUtf8 copies for the writer; per case, the cases' order
/// and chunks, and what `dataset_bytes` leaves out of the cases ingest now keeps
/// (report_id, version, versions, completeness) with what the signals and alerts outputs
/// still hold then.
///
/// Fitted to `scripts/bench` runs of 2026-12-07 on this project's machine: the peak was
/// 4.37 GiB at 10m with chunks of 2^20 cases and 4.29 GiB with chunks of 2^19 (about 165
/// bytes per case of a chunk), 0.91 GiB at 1m, and 10.03 GiB at 25m with chunks of 2^19;
/// rounded up. At 25m, RSS read every half second puts that peak in `ingest: completeness
/// scores` (10.05 GiB), before this check; counting pairs reached 9.03 GiB and writing
/// 8.22 GiB. The per-case figure (181 bytes over the loaded tables) is fitted to the
/// run's peak, so that the signals check still stops a run that would exceed it; the
/// write alone needs less. (Built whole, the table had raised the 10m peak to 9.37 GiB.)
pub const CASE_TABLE_BYTES_PER_CASE: u64 = 190;
pub const CASE_TABLE_BYTES_PER_CHUNK_CASE: u64 = 200;

/// Peak bytes of writing the case table of `cases` cases in chunks of `chunk_cases`, over
/// what the loaded tables hold.
pub fn case_table_bytes(cases: usize, chunk_cases: usize) -> u64 {
    cases as u64 * CASE_TABLE_BYTES_PER_CASE
        + cases.min(chunk_cases) as u64 * CASE_TABLE_BYTES_PER_CHUNK_CASE
}

/// Bytes a loaded row holds in `cases` (case_id, class and region as 16-byte string views,
/// dates, codes, flags, age, key), `case_products` (product_id and batch views, case key)
/// and `case_events` (event view, case key), rounded up.
pub const DATASET_BYTES_PER_ROW: [u64; 3] = [80, 40, 24];

/// What the loaded case tables hold, with the fixed part of a run: the base the signals
/// check adds its need to when the pipeline sets the limit. (The process's resident size
/// would count freed memory the allocator has not yet returned.)
pub fn dataset_bytes(cases: usize, case_products: usize, case_events: usize) -> u64 {
    let [c, p, e] = DATASET_BYTES_PER_ROW;
    INGEST_BASE_BYTES + cases as u64 * c + case_products as u64 * p + case_events as u64 * e
}

/// Told once per run, before loading, what the run is estimated to need at its peak and
/// what the budget allows ([`on_headroom`]).
static HEADROOM_HOOK: std::sync::OnceLock<fn(needed: u64, limit: u64)> = std::sync::OnceLock::new();

/// Have `hook` told, before each run loads its inputs, the estimated peak and the budget's
/// limit (`u64::MAX` when unknown). The binary uses it to choose how the allocator
/// returns freed memory; the library never depends on the allocator. Set once; later
/// calls are ignored.
pub fn on_headroom(hook: fn(needed: u64, limit: u64)) {
    let _ = HEADROOM_HOOK.set(hook);
}

pub(crate) fn report_headroom(needed: u64, budget: &Budget) {
    if let Some(hook) = HEADROOM_HOOK.get() {
        hook(needed, budget.limit);
    }
}

/// Where the limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    Pipeline,
    Available,
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub limit: u64,
    pub source: LimitSource,
}

impl Budget {
    /// `max_memory_gib` from the pipeline, or what the machine has available now.
    pub fn new(max_memory_gib: Option<f64>) -> Budget {
        match max_memory_gib {
            Some(g) => Budget {
                limit: (g * GIB) as u64,
                source: LimitSource::Pipeline,
            },
            None => match available_bytes() {
                Some(b) => Budget {
                    limit: b,
                    source: LimitSource::Available,
                },
                None => Budget {
                    limit: u64::MAX,
                    source: LimitSource::Unknown,
                },
            },
        }
    }

    /// Stop with [`Error::Memory`] when `needed` bytes exceed the limit.
    pub fn check(
        &self,
        stage: &'static str,
        what: impl FnOnce() -> String,
        needed: u64,
    ) -> Result<()> {
        if needed <= self.limit {
            return Ok(());
        }
        Err(Error::Memory {
            stage,
            what: what(),
            needed_gib: needed as f64 / GIB,
            limit_gib: self.limit as f64 / GIB,
            limit_source: match self.source {
                LimitSource::Pipeline => "max_memory_gib in the pipeline file",
                LimitSource::Available => "memory available on this machine",
                LimitSource::Unknown => "unknown",
            },
        })
    }
}

/// Bytes available to this process now, if the platform tells.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)?;
    let cgroup = || -> Option<u64> {
        let read = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok();
        let max = read("memory.max")?.trim().parse::<u64>().ok()?;
        let current = read("memory.current")?.trim().parse::<u64>().ok()?;
        Some(max.saturating_sub(current))
    };
    Some(match cgroup() {
        Some(c) => available.min(c),
        None => available,
    })
}

/// Peak resident memory of this process so far, in bytes (Linux), for the manifest.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_need_above_the_limit_names_the_stage_and_the_size() {
        let budget = Budget::new(Some(2.0));
        assert!(budget.check("signals", || "x".into(), 1 << 30).is_ok());
        let err = budget
            .check(
                "signals",
                || "counting 100,000,000 case × product × event rows".into(),
                3 << 30,
            )
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_FAILURE);
        assert_eq!(
            err.to_string(),
            "signals: counting 100,000,000 case × product × event rows needs about 3.0 GiB of memory, \
             more than the 2.0 GiB allowed (max_memory_gib in the pipeline file); nothing was written"
        );
    }

    #[test]
    fn the_machine_reports_some_available_memory() {
        if cfg!(target_os = "linux") {
            let b = available_bytes().expect("MemAvailable on Linux");
            assert!(b > 0);
            assert!(peak_rss_bytes().expect("VmHWM on Linux") > 0);
        }
    }
}
