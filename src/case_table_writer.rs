//! The case table and its versions, written on another thread while the signals and
//! alerts are computed.
//!
//! `cases.parquet` and `case_versions.parquet` need the loaded cases in scope and the
//! pipeline, nothing the signals or alerts compute. Written after the alerts they were the
//! largest part of the write stage (2.5 of 3.0 s on the 1m benchmark set), while the
//! machine's second core was mostly idle during the alerts (rules run one after another)
//! and part of the signals. So a run starts them as soon as the cases in scope are known
//! ([`start`]) and records them in the write stage ([`CaseTableJob::finish`]), in the place
//! they had: the files are the same bytes, and the outputs are listed in the same order.
//!
//! Stage: output (files only in the staging folder, recorded by the staging). Invariants:
//! a run that fails elsewhere stops the writer before its next chunk ([`StopOnDrop`]);
//! a stopped writer returns an error, never a table that looks complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};

use crate::config::Signals;
use crate::error::{Error, Result};
use crate::ingest::Dataset;
use crate::output::{self, Staging, StagingFiles, Written};
use crate::period::Period;
use crate::{cases, progress};

/// The case table being written on another thread.
pub struct CaseTableJob<'scope> {
    handle: ScopedJoinHandle<'scope, Result<Written>>,
}

/// Sets its flag when dropped: the writer stops at its next chunk. Held by the run for as
/// long as the job may be running, so that any early return (an error) stops it.
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Start writing the case table of `data` (the cases in scope) into `files`, a chunk of
/// [`cases::CHUNK_CASES`] cases at a time with the next chunk built while one is encoded,
/// until done or `stop` is set.
pub fn start<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    files: StagingFiles,
    data: &'env Dataset,
    signals: &'env Signals,
    period: &'env Period,
    stop: &'env AtomicBool,
) -> CaseTableJob<'scope> {
    let handle = scope.spawn(move || {
        progress::timed("write: case table and case versions", || {
            let chunks = cases::case_and_version_chunks(data, signals, period, cases::CHUNK_CASES)?
                .take_while(|_| !stop.load(Ordering::Relaxed))
                .map(|c| c.map(|(cases, versions)| vec![cases, versions]));
            let written = output::ahead::one_ahead(chunks, |chunks| {
                files.write_parquet_files(
                    &["cases.parquet", cases::versions::CASE_VERSIONS_PARQUET],
                    chunks,
                )
            })?;
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            Ok(written)
        })
    });
    CaseTableJob { handle }
}

impl CaseTableJob<'_> {
    /// Wait for the case table and record its files in `staging`.
    pub fn finish(self, staging: &mut Staging) -> Result<()> {
        let written = self.handle.join().unwrap_or_else(|_| Err(stopped()))?;
        staging.record_written(written)
    }
}

fn stopped() -> Error {
    Error::io(
        "cases.parquet",
        std::io::Error::other("the case table's writer stopped before the end"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::tests::{dataset, fifty_cases};

    #[test]
    fn dropping_the_guard_sets_the_flag() {
        let stop = AtomicBool::new(false);
        {
            let _guard = StopOnDrop(&stop);
            assert!(!stop.load(Ordering::Relaxed));
        }
        assert!(stop.load(Ordering::Relaxed));
    }

    /// Write the fifty-case table through a job with the stop flag set to `stopped`, with
    /// `meanwhile` run on the staging before `finish`; `finish`'s result, the staging, and
    /// its folder (kept alive for the staging).
    fn run_job(
        stopped: bool,
        meanwhile: impl FnOnce(&mut Staging),
    ) -> (Result<()>, Staging, tempfile::TempDir) {
        let data = dataset(&fifty_cases(), None);
        let (signals, period) = (Signals::default(), "2025".parse().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let mut staging = Staging::create(dir.path(), "2025").unwrap();
        let stop = AtomicBool::new(stopped);
        let files = staging.files();
        let out = std::thread::scope(|scope| {
            let job = start(scope, files, &data, &signals, &period, &stop);
            meanwhile(&mut staging);
            job.finish(&mut staging)
        });
        (out, staging, dir)
    }

    /// Written while the staging writes another file, the case table is recorded where
    /// `finish` is called, with every case and version.
    #[test]
    fn the_case_table_is_recorded_where_it_is_finished() {
        let (out, staging, _dir) = run_job(false, |staging| {
            staging
                .write_text("before.txt", "written while the cases are")
                .unwrap();
        });
        out.unwrap();
        let written: Vec<(&str, u64)> = staging
            .written
            .iter()
            .map(|f| (f.file.as_str(), f.rows))
            .collect();
        assert_eq!(
            written,
            [
                ("before.txt", 1),
                ("cases.parquet", 50),
                (cases::versions::CASE_VERSIONS_PARQUET, 50)
            ]
        );
        assert!(staging.written.iter().all(|f| f.size_bytes > 0));
    }

    /// A run that failed elsewhere has set the flag: the writer ends with an error, not
    /// with a table that looks whole.
    #[test]
    fn a_stopped_writer_is_an_error_and_records_nothing() {
        let (out, staging, _dir) = run_job(true, |_| {});
        assert!(out.is_err());
        assert!(staging.written.is_empty());
    }
}
