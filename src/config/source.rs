//! `[inputs.source]`: a pipeline that names a real-world source instead of the canonical
//! tables:
//!
//! ```toml
//! [inputs]
//! source = { format = "faers", path = "../faers/ASCII", region = "310000" }
//! populations = "../sample-data/populations.csv"
//! # products = "…"   optional: by default, the registry the conversion writes
//! ```
//!
//! [`validate_source`] checks the `source` table as part of the pipeline file (every
//! problem with its dotted key), a flat export's mapping included ([`super::mapping`]).
//! Converting the source at run time is ingest's ([`crate::ingest::load_inputs`]).

use std::path::{Path, PathBuf};

use super::mapping::{Mapping, MappingConfig};
use super::{normalize, SourceConfig};
use crate::error::ConfigProblem;
use crate::readable;

/// The FAERS parts that `--allow-missing` accepts.
pub const ALLOW_MISSING_PARTS: &[&str] = &["outc"];
use crate::schema::{self, CLASSES};

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// FDA FAERS quarterly ASCII files (`$`-delimited DEMO, DRUG, REAC, OUTC).
    Faers,
    /// ICH E2B(R3) ICSR XML messages.
    E2b,
    /// A flat CSV export, one row per case × product × event, with a column mapping.
    Flat,
}

impl Format {
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Faers => "faers",
            Format::E2b => "e2b",
            Format::Flat => "flat",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "faers" => Some(Format::Faers),
            "e2b" => Some(Format::E2b),
            "flat" => Some(Format::Flat),
            _ => None,
        }
    }
}

/// A validated source. Converting it is `convert`'s (with its `Options` built from these
/// fields), at run time in [`crate::ingest::load_inputs`].
#[derive(Debug, Clone)]
pub struct Source {
    pub format: Format,
    pub path: PathBuf,
    /// Region code of every report (FAERS, E2B), or the default (flat).
    pub region: Option<String>,
    /// Class of every report (default `drug`), or the default (flat).
    pub class: &'static str,
    /// Strip dose text from FAERS product names (`LIPITOR 20 MG` → `LIPITOR`).
    pub strip_dose: bool,
    /// Bound on one XML file's size; `None`: the conversion's default.
    pub max_xml_bytes: Option<u64>,
    /// Column and value mapping of a flat export.
    pub mapping: Option<Mapping>,
    /// Source parts that may be missing (FAERS: `outc`), lower case.
    pub allow_missing: Vec<String>,
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
    if let Some(problem) = readable::problem(&path, readable::Expect::FileOrFolder) {
        push("path", problem);
    }
    if let Some(r) = &raw.region {
        if !schema::is_region_code(r) {
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
    let region = raw.region.clone();
    let mut class = "drug";
    if let Some(c) = &raw.class {
        match CLASSES.iter().find(|x| *x == c) {
            Some(c) => class = c,
            None => push(
                "class",
                format!("expected one of `drug`, `device`, `cosmetic`, found `{c}`"),
            ),
        }
    }
    let strip_dose = raw.strip_dose.unwrap_or(false);
    if raw.max_xml_bytes == Some(0) {
        push(
            "max_xml_bytes",
            "expected a number of bytes > 0, found `0`".into(),
        );
    }
    let allow_missing = raw.allow_missing.clone().unwrap_or_default();
    for part in &allow_missing {
        if format != Some(Format::Faers) {
            push(
                "allow_missing",
                format!("applies to `faers` sources only (their OUTC file), found `{part}`"),
            );
        } else if !ALLOW_MISSING_PARTS.contains(&part.as_str()) {
            push(
                "allow_missing",
                format!("expected `outc` (the FAERS outcome file), found `{part}`"),
            );
        }
    }
    let mut mapping = None;
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
                    Ok(m) => mapping = Some(m),
                    Err(e) => push("mapping", e.to_string().replace('\n', "; ")),
                }
            }
            (None, true) => {
                let raw_mapping = MappingConfig {
                    columns: raw.columns,
                    values: raw.values,
                    date_formats: raw.date_formats,
                };
                match Mapping::from_config(raw_mapping, region_default, "inputs.source.") {
                    Ok(m) => mapping = Some(m),
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
        region,
        class,
        strip_dose,
        max_xml_bytes: raw.max_xml_bytes,
        mapping,
        allow_missing,
    });
    (source, problems)
}
