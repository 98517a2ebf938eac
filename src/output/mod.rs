//! Stage 4, output: Parquet, CSV and JSON writers, and the atomic publish of a period.
//!
//! A period's outputs go to `<out>/period=<label>/` (hive style: BI tools read every
//! period as one dataset, [`period_folder`]); folders of the layout before it,
//! `<out>/<label>/`, are still recognised as earlier runs ([`parse_period_folder`]).
//!
//! All output I/O lives here. A run creates a staging folder beside the target
//! (`<out>/.period=<label>.tmp-<pid>-<nanos>`) before it reads any input, which checks that the
//! output folder is usable; it writes every file there and swaps the folder into place
//! only at the end ([`publish`]). A failed or stopped run (SIGTERM, SIGINT) removes its
//! staging folder and leaves the previous outputs of that period untouched; what a killed
//! run leaves is restored or removed by the next one ([`recover`]). A folder that is not a
//! previous output is never replaced.
//!
//! Parquet is written for BI readers (DESIGN.md, Outputs): polars' lazy sink with the
//! oldest Arrow compatibility level, so strings are `LargeUtf8`, never `Utf8View`; Snappy
//! compression; and a check that no column is unsigned, categorical, nested or null-typed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use crate::accounting::Reject;
use crate::alerts::Alert;
use crate::error::{Error, PolarsContext, Result};
use crate::period::Period;
use crate::schema::{alert, col, REJECTS_HEADER};
use crate::signals::out;

pub mod ahead;
mod alerts_files;
mod alerts_table;
mod arrow_schema;
pub mod publish;
mod recover;
mod stamp;

pub use alerts_table::{alerts_table, ALERTS_PARQUET};
pub use publish::{check_replaceable, stop_for_signal};

pub const ALERTS_JSONL: &str = "alerts.jsonl";
pub const ALERTS_CSV: &str = "alerts.csv";
/// Alerts per batch of `alerts.parquet`: a few tens of MB of text at a time.
pub const ALERT_CHUNK: usize = 50_000;
pub const MANIFEST: &str = "manifest.json";
/// A conversion's manifest (`pvwatch convert`), named here so that recovery knows a
/// conversion's folder without importing `convert`.
pub const CONVERT_MANIFEST: &str = "convert-manifest.json";

/// Columns of `alerts.csv`, in order (the fields of [`Alert`]).
pub const ALERTS_CSV_HEADER: &[&str] = &[
    alert::ALERT_ID,
    alert::KIND,
    alert::PRIORITY,
    alert::STATUS,
    alert::DUE_DATE,
    alert::OVERDUE,
    alert::TOPIC_ID,
    alert::TOPIC_STATE,
    col::PERIOD,
    alert::FIRST_PERIOD,
    col::CLASS,
    col::PRODUCT_ID,
    out::PRODUCT_NAME,
    col::EVENT,
    col::REGION,
    col::REGION_NAME,
    col::BATCH,
    col::CASE_ID,
    alert::RULE,
    alert::THRESHOLD,
    alert::VALUE,
    alert::NUMBERS,
    alert::MESSAGE_EN,
    alert::MESSAGE_ZH,
];

/// Replace `dir/file` with `text` atomically (write beside it, then rename): used to add
/// the webhook deliveries to a published manifest.
pub fn replace_file(dir: &Path, file: &str, text: &str) -> Result<()> {
    let tmp = dir.join(format!(".{file}.tmp-{}", unique_suffix()));
    fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    let target = dir.join(file);
    fs::rename(&tmp, &target).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(&target, e)
    })
}

/// Name of the environment variable that injects a failure (tests of the atomic publish):
/// `publish` fails the publish before it starts; `no-exchange` publishes with two renames
/// as on a filesystem without `RENAME_EXCHANGE`; `kill-after-exchange` and (with two
/// renames) `kill-after-aside` kill the process (SIGKILL) half-way through a publish.
pub const FAULT_ENV: &str = "PVWATCH_FAULT";

/// A file written by the run, as listed in the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputFile {
    pub file: String,
    pub rows: u64,
    pub size_bytes: u64,
}

/// A staging folder for one set of outputs (a period's, a conversion's): created by
/// [`Staging::create`], written by the methods below, put in place by
/// [`Staging::publish`] (see [`publish`]), removed when dropped unpublished.
pub struct Staging {
    out_dir: PathBuf,
    name: String,
    /// The manifest that marks a folder this kind of staging may replace.
    manifest: &'static str,
    target: PathBuf,
    tmp: PathBuf,
    created_parent: Option<PathBuf>,
    published: bool,
    pub written: Vec<OutputFile>,
}

/// The prefix of a period's folder name: hive partitioning on the column `period`.
pub const PERIOD_FOLDER_PREFIX: &str = "period=";

/// The name of a period's folder in the output folder: `period=<label>`.
pub fn period_folder(period: &Period) -> String {
    format!("{PERIOD_FOLDER_PREFIX}{period}")
}

/// How a period's folder is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FolderLayout {
    /// `<label>`, as written before the hive layout.
    Bare,
    /// `period=<label>` ([`period_folder`]).
    Hive,
}

/// The period a folder of the output folder holds, by its name (`period=2025-Q3` or, in
/// the old layout, `2025-Q3`), and which layout the name follows; `None` for any other
/// name (staging folders, a user's files).
pub fn parse_period_folder(name: &str) -> Option<(Period, FolderLayout)> {
    match name.strip_prefix(PERIOD_FOLDER_PREFIX) {
        Some(label) => label.parse().ok().map(|p| (p, FolderLayout::Hive)),
        None => name.parse().ok().map(|p| (p, FolderLayout::Bare)),
    }
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// A [`Staging`]'s folder, detached from it so that another thread can write files there
/// (the case table, while the signals and alerts are computed). What it writes is only
/// part of the outputs once the staging records it ([`Staging::record_written`]).
#[derive(Debug, Clone)]
pub struct StagingFiles {
    tmp: PathBuf,
    target: PathBuf,
}

/// Files written through [`StagingFiles`], with their rows, for [`Staging::record_written`].
#[derive(Debug)]
#[must_use = "files written into the staging folder are outputs only once recorded"]
pub struct Written(Vec<(String, u64)>);

impl StagingFiles {
    /// [`Staging::write_parquet`], from any thread.
    pub fn write_parquet(&self, file: &str, df: &DataFrame) -> Result<Written> {
        let rows = write_parquet_in(&self.tmp, &self.target, file, df)?;
        Ok(Written(vec![(file.to_string(), rows)]))
    }

    /// [`Staging::write_parquet_files`], from any thread.
    pub fn write_parquet_files(
        &self,
        files: &[&str],
        batches: impl IntoIterator<Item = Result<Vec<DataFrame>>>,
    ) -> Result<Written> {
        let rows = write_parquet_files_in(&self.tmp, &self.target, files, batches)?;
        Ok(Written(
            files.iter().map(|f| f.to_string()).zip(rows).collect(),
        ))
    }
}

impl Staging {
    fn record(&mut self, file: &str, rows: u64) -> Result<()> {
        let path = self.tmp.join(file);
        let size_bytes = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        self.written.push(OutputFile {
            file: file.to_string(),
            rows,
            size_bytes,
        });
        Ok(())
    }

    /// Write a table as Parquet that every BI reader takes without a cast.
    pub fn write_parquet(&mut self, file: &str, df: &DataFrame) -> Result<()> {
        let rows = write_parquet_in(&self.tmp, &self.target, file, df)?;
        self.record(file, rows)
    }

    /// Write a table that comes in batches (built one at a time, so that the whole table
    /// is never in memory) as one Parquet file, like [`Staging::write_parquet`]: the rows
    /// of the batches in order. There must be at least one batch.
    pub fn write_parquet_batches(
        &mut self,
        file: &str,
        batches: impl IntoIterator<Item = Result<DataFrame>>,
    ) -> Result<()> {
        self.write_parquet_files(&[file], batches.into_iter().map(|b| b.map(|b| vec![b])))
    }

    /// Write several tables that come in batches together (each batch holds one frame per
    /// file, in the order of `files`), each as one Parquet file with a row group per batch.
    /// Every batch of a file must have the schema of its first. There must be at least one
    /// batch.
    ///
    /// Each batch is encoded and appended as it comes, so only one batch is ever in
    /// memory. The files record the BI-safe Arrow schema ([`arrow_schema`]) like every
    /// other output: polars' batched writer would record string views
    /// (`CompatLevel::newest`) of its own, but the data pages are the same UTF-8
    /// `BYTE_ARRAY`s either way, and the recorded schema is the one handed to it.
    pub fn write_parquet_files(
        &mut self,
        files: &[&str],
        batches: impl IntoIterator<Item = Result<Vec<DataFrame>>>,
    ) -> Result<()> {
        let written = self.files().write_parquet_files(files, batches)?;
        self.record_written(written)
    }

    /// The staging folder, for writing files on another thread while this staging goes on
    /// writing others here ([`StagingFiles`]).
    pub fn files(&self) -> StagingFiles {
        StagingFiles {
            tmp: self.tmp.clone(),
            target: self.target.clone(),
        }
    }

    /// Record files written through [`StagingFiles`], in their order, as if written here.
    pub fn record_written(&mut self, written: Written) -> Result<()> {
        for (file, rows) in written.0 {
            self.record(&file, rows)?;
        }
        Ok(())
    }

    /// Write `rejects.csv`: UTF-8 with a byte-order mark (so Excel shows Chinese), a header
    /// even when there is no reject.
    pub fn write_rejects(&mut self, file: &str, rejects: &[Reject]) -> Result<()> {
        let path = self.tmp.join(file);
        let io = |e: std::io::Error| Error::io(&path, e);
        let mut f = std::io::BufWriter::new(fs::File::create(&path).map_err(io)?);
        f.write_all("\u{feff}".as_bytes()).map_err(io)?;
        let mut w = csv::Writer::from_writer(f);
        let csv_err = |e: csv::Error| Error::io(&path, std::io::Error::other(e));
        w.write_record(REJECTS_HEADER).map_err(csv_err)?;
        for r in rejects {
            w.write_record([
                r.table,
                &r.file,
                &r.line.to_string(),
                &r.column,
                &r.found,
                &r.expected,
                r.action.as_str(),
                &r.cell,
            ])
            .map_err(csv_err)?;
        }
        w.flush().map_err(io)?;
        drop(w);
        self.record(file, rejects.len() as u64)
    }

    /// Write `alerts.jsonl` (one JSON object per line), `alerts.csv` (UTF-8 with a
    /// byte-order mark so that Excel shows Chinese; `numbers` as a JSON object in one cell)
    /// and `alerts.parquet` (flat typed columns, [`alerts_table`]).
    ///
    /// The text files are written alert by alert ([`alerts_files`]), the table a chunk of
    /// [`ALERT_CHUNK`] alerts at a time, as [`Staging::write_parquet_batches`] does: no copy
    /// of the whole list's text is ever built.
    pub fn write_alerts(&mut self, alerts: &[Alert]) -> Result<()> {
        self.write_alerts_in_chunks(alerts, ALERT_CHUNK, |_| Ok(()))
    }

    /// [`Staging::write_alerts`], then `meanwhile` (which may record files of its own, as
    /// the case table written on another thread does). The two text files are written on
    /// two more threads while `alerts.parquet` is written here (each is a few seconds of one
    /// core at 10m), then `meanwhile` runs. Every file is recorded, the alerts files after
    /// `meanwhile`'s, and an error of any side is returned: the table's first, then
    /// `meanwhile`'s, then the JSON lines', then the CSV's.
    pub fn write_alerts_alongside<T>(
        &mut self,
        alerts: &[Alert],
        meanwhile: impl FnOnce(&mut Staging) -> Result<T>,
    ) -> Result<T> {
        self.write_alerts_in_chunks(alerts, ALERT_CHUNK, meanwhile)
    }

    fn write_alerts_in_chunks<T>(
        &mut self,
        alerts: &[Alert],
        chunk: usize,
        meanwhile: impl FnOnce(&mut Staging) -> Result<T>,
    ) -> Result<T> {
        use crate::progress::timed;
        let (jsonl, csv) = (self.tmp.join(ALERTS_JSONL), self.tmp.join(ALERTS_CSV));
        let (tmp, target) = (self.tmp.clone(), self.target.clone());
        let (table_rows, out, text_out) = std::thread::scope(|scope| {
            let jsonl_side = scope.spawn(|| {
                timed("write: alerts.jsonl", || {
                    alerts_files::write_jsonl(&jsonl, alerts)
                })
            });
            let csv_side = scope.spawn(|| {
                timed("write: alerts.csv", || {
                    alerts_files::write_csv(&csv, alerts)
                })
            });
            let table_rows = timed("write: alerts.parquet", || {
                write_alerts_table(&tmp, &target, alerts, chunk)
            });
            // Not after a failed table: the error is returned as soon as the text files
            // are done.
            let out = match &table_rows {
                Ok(_) => Some(meanwhile(self)),
                Err(_) => None,
            };
            let joined = |side: std::thread::ScopedJoinHandle<'_, Result<()>>, path: &Path| {
                side.join().unwrap_or_else(|_| {
                    Err(Error::io(
                        path,
                        std::io::Error::other("the alerts' writer stopped"),
                    ))
                })
            };
            let text_out = joined(jsonl_side, &jsonl).and(joined(csv_side, &csv));
            (table_rows, out, text_out)
        });
        let table_rows = table_rows?;
        let out = out.expect("run when the table was written")?;
        text_out?;
        let n = alerts.len() as u64;
        self.record(ALERTS_JSONL, n)?;
        self.record(ALERTS_CSV, n)?;
        self.record(ALERTS_PARQUET, table_rows)?;
        Ok(out)
    }

    /// Write a text file (the review page).
    pub fn write_text(&mut self, file: &str, text: &str) -> Result<()> {
        let path = self.tmp.join(file);
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        self.record(file, 1)
    }

    /// Write a JSON document (pretty, with a final newline).
    pub fn write_json<T: serde::Serialize>(&mut self, file: &str, value: &T) -> Result<()> {
        let path = self.tmp.join(file);
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        text.push('\n');
        fs::write(&path, text).map_err(|e| Error::io(&path, e))
    }
}

/// Refuse to write a frame with a type BI readers may not take ([`check_bi_types`]).
fn check_parquet_types(target: &Path, df: &DataFrame) -> Result<()> {
    check_bi_types(df).map_err(|m| Error::Polars {
        context: format!("{}: refusing to write", target.display()),
        source: PolarsError::ComputeError(m.into()),
    })
}

/// Sink `lf` to `path` as Parquet for BI readers: LargeUtf8 strings (the oldest Arrow
/// compatibility level, no view types) and Snappy compression. Errors name `target`, the
/// file as it will be published.
fn sink_parquet(mut lf: LazyFrame, path: &Path, target: &Path, engine: Engine) -> Result<()> {
    let schema = lf
        .collect_schema()
        .context(|| format!("{}: writing Parquet", target.display()))?;
    let options = ParquetWriteOptions {
        compression: ParquetCompression::Snappy,
        compat_level: None, // oldest: LargeUtf8 strings, no view types
        // The Arrow schema recorded in the file: `period` as `Utf8` (arrow_schema.rs).
        key_value_metadata: arrow_schema::arrow_schema_metadata(&schema),
        ..Default::default()
    };
    let dest = PlRefPath::try_from_path(path).context(|| format!("{}: path", path.display()))?;
    lf.sink(
        SinkDestination::File {
            target: SinkTarget::Path(dest),
        },
        FileWriteFormat::Parquet(Arc::new(options)),
        UnifiedSinkArgs::default(),
    )
    .and_then(|lf| lf.collect_with_engine(engine))
    .context(|| format!("{}: writing Parquet", target.display()))?;
    Ok(())
}

/// Types every BI reader takes: no unsigned integers, categoricals, null columns, or nested
/// columns other than lists of strings (`cases.parquet`; DuckDB and pyarrow read them).
pub fn check_bi_types(df: &DataFrame) -> std::result::Result<(), String> {
    for c in df.columns() {
        let ok = match c.dtype() {
            DataType::List(inner) => matches!(**inner, DataType::String),
            other => matches!(
                other,
                DataType::Boolean
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::Float64
                    | DataType::String
                    | DataType::Date
            ),
        };
        if !ok {
            return Err(format!(
                "column `{}` has type {}, which BI readers may not take",
                c.name(),
                c.dtype()
            ));
        }
    }
    Ok(())
}

/// [`Staging::write_parquet`] into the staging folder `tmp` (errors name the file under
/// `target`); the rows written.
fn write_parquet_in(tmp: &Path, target: &Path, file: &str, df: &DataFrame) -> Result<u64> {
    let target = target.join(file);
    check_parquet_types(&target, df)?;
    sink_parquet(df.clone().lazy(), &tmp.join(file), &target, Engine::Auto)?;
    Ok(df.height() as u64)
}

/// `alerts.parquet` into the staging folder `tmp`, a chunk of `chunk` alerts at a time;
/// the rows written.
fn write_alerts_table(tmp: &Path, target: &Path, alerts: &[Alert], chunk: usize) -> Result<u64> {
    if alerts.is_empty() {
        // The one batch of an empty list: the typed header.
        return write_parquet_in(tmp, target, ALERTS_PARQUET, &alerts_table(alerts)?);
    }
    let batches = alerts
        .chunks(chunk.max(1))
        .map(|c| alerts_table(c).map(|b| vec![b]));
    let rows = write_parquet_files_in(tmp, target, &[ALERTS_PARQUET], batches)?;
    Ok(rows[0])
}

/// [`Staging::write_parquet_files`] into the staging folder `tmp` (errors name the file
/// under `target`, where it will be published); the rows written to each file, for the
/// caller to record. Free of the staging, so that a second thread can write a file while
/// the staging writes others.
fn write_parquet_files_in(
    tmp: &Path,
    target: &Path,
    files: &[&str],
    batches: impl IntoIterator<Item = Result<Vec<DataFrame>>>,
) -> Result<Vec<u64>> {
    let mut writers: Vec<
        Option<(
            Schema,
            polars::io::parquet::write::BatchedWriter<std::io::BufWriter<fs::File>>,
        )>,
    > = (0..files.len()).map(|_| None).collect();
    let mut rows = vec![0u64; files.len()];
    for batch in batches {
        let batch = batch?;
        assert_eq!(batch.len(), files.len(), "one batch per file");
        for (i, (file, mut frame)) in files.iter().zip(batch).enumerate() {
            let target = target.join(file);
            check_parquet_types(&target, &frame)?;
            let ctx = || format!("{}: writing Parquet", target.display());
            if writers[i].is_none() {
                let path = tmp.join(file);
                let f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
                let schema = frame.schema().as_ref().clone();
                let writer = ParquetWriter::new(std::io::BufWriter::new(f))
                    .with_compression(ParquetCompression::Snappy)
                    .with_key_value_metadata(arrow_schema::arrow_schema_metadata(&schema))
                    .batched(&schema)
                    .context(ctx)?;
                writers[i] = Some((schema, writer));
            }
            let (schema, writer) = writers[i].as_mut().expect("opened above");
            if frame.schema().as_ref() != schema {
                return Err(Error::Polars {
                    context: ctx(),
                    source: PolarsError::SchemaMismatch(
                        format!(
                            "a batch has schema {:?}, the first had {:?}",
                            frame.schema(),
                            schema
                        )
                        .into(),
                    ),
                });
            }
            rows[i] += frame.height() as u64;
            frame.rechunk_mut_par();
            writer.write_batch(&frame).context(ctx)?;
        }
    }
    for (i, file) in files.iter().enumerate() {
        let target = target.join(file);
        let ctx = || format!("{}: writing Parquet", target.display());
        let Some((_, writer)) = writers[i].take() else {
            return Err(Error::Polars {
                context: ctx(),
                source: PolarsError::NoData("no batch to write".into()),
            });
        };
        // Writing the footer flushes the buffer, so a failed write is an error here.
        writer.finish().context(ctx)?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
