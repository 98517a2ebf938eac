//! A pipeline that names a real-world source instead of the canonical tables:
//!
//! ```toml
//! [inputs]
//! source = { format = "faers", path = "../faers/ASCII", region = "310000" }
//! populations = "../sample-data/populations.csv"
//! # products = "…"   optional: by default, the registry the conversion writes
//! ```
//!
//! [`validate_source`] checks the `source` table as part of the pipeline file (every
//! problem with its dotted key). At run time, [`prepare`] converts the source into a
//! scratch folder, applies the pipeline's `ingest.max_rejected_fraction` to each source
//! file, and returns a copy of the pipeline whose `reports`, `report_products`,
//! `report_events` (and `products`, unless given) are the converted Parquet files, for the
//! normal ingest. The conversion's accounting goes into the run manifest (`conversion`)
//! and its rejects, with their source files and lines, into the run's `rejects.csv`.

use std::path::{Path, PathBuf};

use super::{Format, Mapping, Options};
use crate::config::{normalize, Pipeline, SourceConfig};
use crate::error::{ConfigProblem, Result};
use crate::ingest::{Dataset, Reject};
use crate::schema::CLASSES;

pub use super::model::SourceAccount as Account;

/// A validated source.
#[derive(Debug, Clone)]
pub struct Source {
    pub format: Format,
    pub path: PathBuf,
    pub options: Options,
}

/// Check `inputs.source`; paths are relative to the pipeline file's folder (`base`).
pub fn validate_source(raw: SourceConfig, base: &Path) -> (Option<Source>, Vec<ConfigProblem>) {
    let mut problems = Vec::new();
    let mut push = |key: &str, message: String| {
        problems.push(ConfigProblem {
            key: format!("inputs.source.{key}"),
            message,
        })
    };
    let format = Format::parse(&raw.format);
    if format.is_none() {
        push(
            "format",
            format!("expected `faers`, `e2b` or `flat`, found `{}`", raw.format),
        );
    }
    let path = normalize(&base.join(&raw.path));
    if !path.exists() {
        push(
            "path",
            format!("no such file or folder `{}`", path.display()),
        );
    }
    let mut options = Options::default();
    if let Some(r) = &raw.region {
        if !crate::schema::is_region_code(r) {
            push(
                "region",
                format!("expected a 6-digit GB/T 2260 region code, found `{r}`"),
            );
        }
    } else if matches!(format, Some(Format::Faers | Format::E2b)) {
        push(
            "region",
            format!(
                "missing: {} has no Chinese region, so give the region code its reports belong to",
                raw.format
            ),
        );
    }
    options.region = raw.region.clone();
    if let Some(c) = &raw.class {
        match CLASSES.iter().find(|x| *x == c) {
            Some(c) => options.class = c,
            None => push(
                "class",
                format!("expected one of `drug`, `device`, `cosmetic`, found `{c}`"),
            ),
        }
    }
    options.strip_dose = raw.strip_dose.unwrap_or(false);
    if let Some(b) = raw.max_xml_bytes {
        if b == 0 {
            push(
                "max_xml_bytes",
                "expected a number of bytes > 0, found `0`".into(),
            );
        }
        options.max_xml_bytes = b;
    }
    let inline = raw.columns.is_some() || raw.values.is_some() || raw.date_formats.is_some();
    if format == Some(Format::Flat) {
        let region_default = raw.region.is_some();
        match (&raw.mapping, inline) {
            (Some(_), true) => push(
                "mapping",
                "give either a mapping file or inline `columns`/`values`/`date_formats`, not both".into(),
            ),
            (None, false) => push(
                "columns",
                "missing: a flat source needs a column mapping (`mapping = \"file.toml\"` or `columns = { … }`)".into(),
            ),
            (Some(file), false) => {
                let file = normalize(&base.join(file));
                match Mapping::load(&file, region_default) {
                    Ok(m) => options.mapping = Some(m),
                    Err(e) => push("mapping", e.to_string().replace('\n', "; ")),
                }
            }
            (None, true) => {
                let raw_mapping = super::mapping::MappingConfig {
                    columns: raw.columns,
                    values: raw.values,
                    date_formats: raw.date_formats,
                };
                match Mapping::from_config(raw_mapping, region_default, "inputs.source.") {
                    Ok(m) => options.mapping = Some(m),
                    Err(p) => problems.extend(p),
                }
            }
        }
    } else if raw.mapping.is_some() || inline {
        push(
            "mapping",
            "a column mapping applies to `flat` sources only".into(),
        );
    }
    let source = format.map(|format| Source {
        format,
        path,
        options,
    });
    (source, problems)
}

/// The conversion behind a run, as written to its manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConversionReport {
    pub format: Format,
    pub source: String,
    pub rows: super::Totals,
    pub sources: Vec<Account>,
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
    let conv = super::convert(source.format, &source.path, &source.options)?;
    super::check_tolerance(&conv, pipeline.max_rejected_fraction, true)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("pvwatch-convert-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let scratch = Scratch(dir);
    let tables = scratch.0.join("tables");
    super::write(&conv, &source.options, &tables)?;

    let mut p = pipeline.clone();
    p.inputs.reports = tables.join(super::REPORTS_FILE);
    p.inputs.report_products = tables.join(super::REPORT_PRODUCTS_FILE);
    p.inputs.report_events = tables.join(super::REPORT_EVENTS_FILE);
    if p.inputs.products.as_os_str().is_empty() {
        p.inputs.products = tables.join(super::PRODUCTS_FILE);
    }
    let report = ConversionReport {
        format: conv.format,
        source: conv.source.display().to_string(),
        rows: conv.rows(),
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

/// Load a pipeline's inputs, converting its source first when it names one: the hook
/// that `run` and `validate` call instead of [`crate::ingest::load_inputs`]. The
/// conversion's rejects come first in the dataset's rejects.
pub fn load_inputs(
    pipeline: &Pipeline,
    cutoff: chrono::NaiveDate,
    stage: &crate::progress::Stage,
) -> Result<(Dataset, Option<ConversionReport>)> {
    let Some(prepared) = prepare(pipeline)? else {
        return Ok((crate::ingest::load_inputs(pipeline, cutoff, stage)?, None));
    };
    let mut data = crate::ingest::load_inputs(&prepared.pipeline, cutoff, stage)?;
    let mut rejects = prepared.rejects;
    rejects.append(&mut data.rejects);
    data.rejects = rejects;
    Ok((data, Some(prepared.report)))
}
