//! Running a pipeline that names a real-world source instead of the canonical tables
//! (`[inputs.source]`, checked with the pipeline file by [`crate::config::source`]).
//!
//! At run time, [`prepare`] converts the source into a scratch folder, applies the
//! pipeline's `ingest.max_rejected_fraction` to each source file, and returns a copy of
//! the pipeline whose `reports`, `report_products`, `report_events` (and `products`,
//! unless given) are the converted Parquet files, for the normal ingest. The conversion's
//! accounting goes into the run manifest (`conversion`) and its rejects, with their source
//! files and lines, into the run's `rejects.csv`.

use std::path::PathBuf;

use super::Dataset;
use crate::accounting::Reject;
use crate::config::{Format, Pipeline, Source};
use crate::convert::{self, model::MissingFile, model::SourceAccount, Options};
use crate::error::Result;

/// The conversion behind a run, as written to its manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConversionReport {
    pub format: Format,
    pub source: String,
    pub rows: convert::Totals,
    /// Source parts that were missing and allowed to be (`OUTC`), and their files.
    pub allowed_missing: Vec<&'static str>,
    pub missing_files: Vec<MissingFile>,
    /// Report versions whose seriousness is unknown (`is_serious` null).
    pub serious_unknown: u64,
    pub sources: Vec<SourceAccount>,
    pub read_ms: u64,
}

/// A removable scratch folder for the converted tables of one run.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pipeline whose source has been converted, with what the conversion did.
pub struct Prepared {
    pub pipeline: Pipeline,
    pub report: ConversionReport,
    pub rejects: Vec<Reject>,
    _scratch: Scratch,
}

/// Convert the pipeline's source, if it names one; `None` for canonical inputs.
pub fn prepare(pipeline: &Pipeline) -> Result<Option<Prepared>> {
    let Some(source) = &pipeline.inputs.source else {
        return Ok(None);
    };
    let mut options = options(source);
    // The pipeline's pinned "today" bounds the source's dates as it bounds the tables'.
    options.today = pipeline.today;
    let conv = convert::convert(source.format, &source.path, &options)?;
    convert::check_tolerance(&conv, pipeline.max_rejected_fraction, true)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("pvwatch-convert-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let scratch = Scratch(dir);
    let tables = scratch.0.join("tables");
    convert::write(&conv, &options, &tables)?;

    let mut p = pipeline.clone();
    p.inputs.reports = tables.join(convert::REPORTS_FILE);
    p.inputs.report_products = tables.join(convert::REPORT_PRODUCTS_FILE);
    p.inputs.report_events = tables.join(convert::REPORT_EVENTS_FILE);
    if p.inputs.products.as_os_str().is_empty() {
        p.inputs.products = tables.join(convert::PRODUCTS_FILE);
    }
    let report = ConversionReport {
        format: conv.format,
        source: conv.source.display().to_string(),
        rows: conv.rows(),
        allowed_missing: conv.allowed_missing(),
        missing_files: conv.tables.missing.clone(),
        serious_unknown: conv.tables.serious_unknown,
        sources: conv.tables.sources.clone(),
        read_ms: conv.read_ms,
    };
    Ok(Some(Prepared {
        pipeline: p,
        report,
        rejects: conv.tables.rejects,
        _scratch: scratch,
    }))
}

/// How to convert a pipeline's source. Its tolerance is the pipeline's
/// `ingest.max_rejected_fraction`, which [`prepare`] applies itself.
fn options(source: &Source) -> Options {
    let mut options = Options {
        region: source.region.clone(),
        class: source.class,
        strip_dose: source.strip_dose,
        mapping: source.mapping.clone(),
        allow_missing: source.allow_missing.clone(),
        ..Options::default()
    };
    if let Some(b) = source.max_xml_bytes {
        options.max_xml_bytes = b;
    }
    options
}

/// Load a pipeline's inputs, converting its source first when it names one: what `run`
/// and `validate` call. The conversion's rejects come first in the dataset's rejects.
pub fn load_inputs(
    pipeline: &Pipeline,
    cutoff: chrono::NaiveDate,
    stage: &crate::progress::Stage,
) -> Result<(Dataset, Option<ConversionReport>)> {
    let Some(prepared) = prepare(pipeline)? else {
        return Ok((super::load_tables(pipeline, cutoff, stage)?, None));
    };
    let mut data = super::load_tables(&prepared.pipeline, cutoff, stage)?;
    let mut rejects = prepared.rejects;
    rejects.append(&mut data.rejects);
    data.rejects = rejects;
    Ok((data, Some(prepared.report)))
}
