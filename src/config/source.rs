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

/// How to read one input file: its declared encoding (CSV) and its sheet (workbooks),
/// from `[inputs.options.<table>]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// `None`: detected (byte-order mark, else UTF-8 validity, else GB18030).
    pub encoding: Option<crate::records::encoding::Encoding>,
    /// `None`: the workbook's first sheet.
    pub sheet: Option<String>,
}

/// The file extensions an input table may have.
pub const TABLE_EXTENSIONS: &[&str] = &["csv", "parquet", "xlsx", "xlsm", "xls"];

/// Check `[inputs.options]`: each key a table the pipeline reads, each encoding known.
pub fn validate_read_options(
    raw: Option<std::collections::BTreeMap<String, super::raw::InputOptionsConfig>>,
    tables: &[&'static str],
) -> (
    std::collections::BTreeMap<&'static str, ReadOptions>,
    Vec<ConfigProblem>,
) {
    let mut out = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for (key, o) in raw.unwrap_or_default() {
        let Some(table) = tables.iter().find(|t| **t == key) else {
            problems.push(ConfigProblem {
                key: format!("inputs.options.{key}"),
                message: format!(
                    "not an input table of this pipeline; expected one of {}",
                    tables
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            continue;
        };
        let encoding = o.encoding.as_deref().and_then(|e| {
            let parsed = crate::records::encoding::Encoding::parse(e);
            if parsed.is_none() {
                problems.push(ConfigProblem {
                    key: format!("inputs.options.{key}.encoding"),
                    message: format!(
                        "expected one of {}, found `{e}`",
                        crate::records::encoding::Encoding::LABELS
                    ),
                });
            }
            parsed
        });
        out.insert(
            *table,
            ReadOptions {
                encoding,
                sheet: o.sheet,
            },
        );
    }
    (out, problems)
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
    let inline = raw.columns.is_some()
        || raw.values.is_some()
        || raw.date_formats.is_some()
        || raw.personal.is_some()
        || raw.sheet.is_some()
        || raw.encoding.is_some();
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
                    personal: raw.personal,
                    sheet: raw.sheet,
                    encoding: raw.encoding,
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
