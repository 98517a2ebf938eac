//! Real-world inputs → canonical tables: FDA FAERS quarterly ASCII files ([`faers`]),
//! ICH E2B(R3) XML messages ([`e2b`]) and flat one-row-per-line exports with their own
//! column names ([`flat`]).
//!
//! A conversion reads a source into a [`model::Builder`], which keeps every report version
//! with its products and events and accounts for every source row: `read = used +
//! superseded + duplicate + rejected`, per source file (`duplicate` is an E2B ICSR read
//! again unchanged). A bad value in an optional field is nulled and its row kept; the
//! cell is listed in `rejects.csv` (`action = cell nulled`) and counted per file and
//! column (`nulled_cells`), never as a rejected row. The result is the canonical `reports`,
//! `report_products`, `report_events` and a `products` registry (each distinct product,
//! with the configured class and nothing watched), which `pvwatch convert` writes as BI-safe
//! Parquet with `convert-manifest.json` and `rejects.csv` through an atomic staging
//! folder, and which a pipeline naming a `source` feeds to the normal ingest
//! (`ingest::source`: ingest imports convert, never the reverse).
//!
//! Every reader applies the same plausible-date rule ([`Options::plausible`]: 1968-01-01
//! to today, or `--today`): a received date outside it rejects its row, an onset outside
//! it is nulled. A source part whose absence changes what the tables mean is required;
//! only the FAERS OUTC file may be allowed to be missing ([`Options::allow_missing`]),
//! and then the tables say "unknown" (null), and the summary and manifest say why
//! (`allowed_missing`, `missing_files`, `serious_unknown`).

pub mod dollar;
pub mod e2b;
pub mod faers;
pub mod flat;
pub mod model;
pub mod xml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::accounting::{over_tolerance, Action};
// A source's format and a flat export's mapping are part of a pipeline's source config;
// `pvwatch convert` takes the same from its command line.
use crate::config::{mapping::Mapping, Format};
use crate::error::{Error, Result};
use crate::output::{OutputFile, Staging};
use crate::plausible::Plausible;
use crate::progress::thousands;
use model::{Builder, MissingFile, SourceAccount, Tables};

/// The manifest of a conversion, beside its tables.
pub const MANIFEST: &str = crate::output::CONVERT_MANIFEST;
/// Default bound on the size of one E2B XML file.
pub const DEFAULT_MAX_XML_BYTES: u64 = 64 << 20;

/// How to convert: what the command line or the pipeline's `source` says.
#[derive(Debug, Clone)]
pub struct Options {
    /// Region code for every report (FAERS, E2B), or the default (flat).
    pub region: Option<String>,
    /// Class of every report (default `drug`), or the default (flat).
    pub class: &'static str,
    /// Strip dose text from FAERS product names (`LIPITOR 20 MG` → `LIPITOR`).
    pub strip_dose: bool,
    /// Bound on one XML file's size.
    pub max_xml_bytes: u64,
    /// Column and value mapping of a flat export.
    pub mapping: Option<Mapping>,
    /// Stop (exit 3) when a source file's rejected fraction (E2B: the whole batch's) is
    /// above this.
    pub max_rejected_fraction: f64,
    /// "Today" for plausible dates (received and onset dates up to it); `None`: the
    /// run's clock ([`crate::plausible::today`]).
    pub today: Option<chrono::NaiveDate>,
    /// Optional source parts that may be missing (FAERS: `outc`), lower case; any other
    /// missing part is an error naming the file.
    pub allow_missing: Vec<String>,
}

pub use crate::config::source::ALLOW_MISSING_PARTS;

impl Options {
    /// The plausible range of report dates for this conversion.
    pub fn plausible(&self) -> Plausible {
        Plausible::until(self.today.unwrap_or_else(crate::plausible::today))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            region: None,
            class: "drug",
            strip_dose: false,
            max_xml_bytes: DEFAULT_MAX_XML_BYTES,
            mapping: None,
            max_rejected_fraction: crate::config::DEFAULT_MAX_REJECTED_FRACTION,
            today: None,
            allow_missing: Vec::new(),
        }
    }
}

/// A finished conversion, in memory.
pub struct Conversion {
    pub format: Format,
    pub source: PathBuf,
    pub tables: Tables,
    pub read_ms: u64,
}

impl Conversion {
    pub fn rows(&self) -> Totals {
        totals(&self.tables.sources)
    }

    /// The parts that were missing and allowed to be (`OUTC`), once each.
    pub fn allowed_missing(&self) -> Vec<&'static str> {
        let mut parts: Vec<&'static str> = self.tables.missing.iter().map(|m| m.part).collect();
        parts.dedup();
        parts
    }

    /// Nulled cells of every source file, by column.
    pub fn nulled_cells(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for a in &self.tables.sources {
            for (column, n) in &a.nulled_cells {
                *all.entry(column.clone()).or_default() += n;
            }
        }
        all
    }
}

/// The rows of a conversion: `read = used + superseded + duplicate + rejected`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    /// E2B ICSRs read again unchanged, dropped without a reject.
    pub duplicate: u64,
    pub rejected: u64,
}

fn totals(sources: &[SourceAccount]) -> Totals {
    sources.iter().fold(Totals::default(), |t, a| Totals {
        read: t.read + a.read,
        used: t.used + a.used,
        superseded: t.superseded + a.superseded,
        duplicate: t.duplicate + a.duplicate,
        rejected: t.rejected + a.rejected,
    })
}

/// Read a source into canonical tables. Rejected rows are kept in the result; the
/// tolerance is checked by [`check_tolerance`].
pub fn convert(format: Format, src: &Path, opts: &Options) -> Result<Conversion> {
    let started = Instant::now();
    if let Some(problem) = crate::readable::problem(src, crate::readable::Expect::FileOrFolder) {
        return Err(Error::input(src, problem));
    }
    if let Some(r) = &opts.region {
        if !crate::schema::is_region_code(r) {
            return Err(Error::input(
                src,
                format!(
                    "region: expected a 6-digit GB/T 2260 region code, found `{}`",
                    crate::accounting::excerpt(r)
                ),
            ));
        }
    }
    for part in &opts.allow_missing {
        let message = if format != Format::Faers {
            format!(
                "applies to FAERS sources only (their OUTC file), found `{part}` for a {} source",
                format.as_str()
            )
        } else if !ALLOW_MISSING_PARTS.contains(&part.as_str()) {
            format!("expected `outc` (the FAERS outcome file), found `{part}`")
        } else {
            continue;
        };
        return Err(Error::input("--allow-missing", message));
    }
    let mut b = Builder::new();
    match format {
        Format::Faers => faers::convert(src, opts, &mut b)?,
        Format::E2b => e2b::convert(src, opts, &mut b)?,
        Format::Flat => flat::convert(src, opts, &mut b)?,
    }
    let tables = b.finish(opts.class)?;
    Ok(Conversion {
        format,
        source: src.to_path_buf(),
        tables,
        read_ms: started.elapsed().as_millis() as u64,
    })
}

/// Fail when any source file's rejected fraction is above `max`; `pipeline` selects the
/// error that names the pipeline's setting rather than the command-line flag.
///
/// E2B messages often hold one ICSR per file, so their tolerance applies to the whole
/// batch of ICSRs read (named by the source path), not to each file.
pub fn check_tolerance(conv: &Conversion, max: f64, pipeline: bool) -> Result<()> {
    let t = &conv.tables;
    let over = if conv.format == Format::E2b {
        let source = conv.source.display().to_string();
        let batch = [(source.as_str(), conv.rows().rejected, conv.rows().read)];
        over_tolerance(max, batch, &t.rejects).map(|mut over| {
            // The rejects name their own files, not the batch.
            over.examples = t
                .rejects
                .iter()
                .filter(|r| r.action == Action::RowRejected)
                .take(5)
                .map(ToString::to_string)
                .collect();
            over
        })
    } else {
        let files = t
            .sources
            .iter()
            .map(|a| (a.path.as_str(), a.rejected, a.read));
        over_tolerance(max, files, &t.rejects)
    };
    match over {
        None => Ok(()),
        Some(t) if pipeline => Err(Error::TooManyRejects(t)),
        Some(t) => Err(Error::TooManyConvertRejects(t)),
    }
}

/// Names of the canonical tables a conversion writes.
pub const REPORTS_FILE: &str = "reports.parquet";
pub const REPORT_PRODUCTS_FILE: &str = "report_products.parquet";
pub const REPORT_EVENTS_FILE: &str = "report_events.parquet";
pub const PRODUCTS_FILE: &str = "products.parquet";
pub const REJECTS_FILE: &str = "rejects.csv";

/// What a written conversion did: the summary and the manifest's body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConvertSummary {
    pub pvwatch_version: &'static str,
    pub format: Format,
    pub source: String,
    pub region: Option<String>,
    pub class: &'static str,
    pub strip_dose: bool,
    pub started_at: String,
    /// The last plausible report date (dates from 1968-01-01 to it are plausible).
    pub today: String,
    pub rows: Totals,
    /// Nulled cells of every source file, by column (each file's are in `sources`).
    pub nulled_cells: BTreeMap<String, u64>,
    /// The parts that were missing and allowed to be (`OUTC`), and their files.
    pub allowed_missing: Vec<&'static str>,
    pub missing_files: Vec<MissingFile>,
    /// Report versions whose seriousness is unknown (`is_serious` null).
    pub serious_unknown: u64,
    pub sources: Vec<SourceAccount>,
    pub outputs: Vec<OutputFile>,
    pub timings_ms: ConvertTimings,
    #[serde(skip)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ConvertTimings {
    pub read_ms: u64,
    pub write_ms: u64,
    pub total_ms: u64,
}

/// Write the canonical tables, `rejects.csv` and the manifest into `out`, atomically:
/// everything goes to a staging folder beside `out`, renamed into place at the end.
/// An existing `out` is replaced only when it holds a previous conversion.
pub fn write(conv: &Conversion, opts: &Options, out: &Path) -> Result<ConvertSummary> {
    write_into(prepare(out)?, conv, opts, out)
}

/// The staging folder for `out`, made before any work: an unusable or foreign `out` fails
/// at once, and what an interrupted conversion left beside it is recovered.
fn prepare(out: &Path) -> Result<Staging> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::input(out, "expected a folder name for the output"))?;
    if out.is_file() {
        return Err(Error::input(
            out,
            "expected a folder for the output, found a file",
        ));
    }
    if out.is_dir() && !out.join(MANIFEST).is_file() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::input(
                out,
                format!("the folder exists and holds no {MANIFEST}: a conversion replaces its output folder, so give a new or empty folder"),
            ));
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Staging::create_for(&parent, &name, MANIFEST)
}

fn write_into(
    mut staging: Staging,
    conv: &Conversion,
    opts: &Options,
    out: &Path,
) -> Result<ConvertSummary> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let t = &conv.tables;
    staging.write_parquet(REPORTS_FILE, &t.reports)?;
    staging.write_parquet(REPORT_PRODUCTS_FILE, &t.report_products)?;
    staging.write_parquet(REPORT_EVENTS_FILE, &t.report_events)?;
    staging.write_parquet(PRODUCTS_FILE, &t.products)?;
    staging.write_rejects(REJECTS_FILE, &t.rejects)?;
    let write_ms = started.elapsed().as_millis() as u64;
    let mut summary = ConvertSummary {
        pvwatch_version: env!("CARGO_PKG_VERSION"),
        format: conv.format,
        source: conv.source.display().to_string(),
        region: opts.region.clone(),
        class: opts.class,
        strip_dose: opts.strip_dose,
        started_at,
        today: opts.plausible().today.to_string(),
        rows: conv.rows(),
        nulled_cells: conv.nulled_cells(),
        allowed_missing: conv.allowed_missing(),
        missing_files: t.missing.clone(),
        serious_unknown: t.serious_unknown,
        sources: t.sources.clone(),
        outputs: staging.written.clone(),
        timings_ms: ConvertTimings {
            read_ms: conv.read_ms,
            write_ms,
            total_ms: conv.read_ms + write_ms,
        },
        output: out.to_path_buf(),
    };
    staging.write_json(MANIFEST, &summary)?;
    summary.output = staging.publish()?;
    Ok(summary)
}

/// Convert `src` and write it to `out`: the `pvwatch convert` command.
pub fn run_convert(
    format: Format,
    src: &Path,
    out: &Path,
    opts: &Options,
) -> Result<ConvertSummary> {
    let staging = prepare(out)?;
    let conv = convert(format, src, opts)?;
    check_tolerance(&conv, opts.max_rejected_fraction, false)?;
    write_into(staging, &conv, opts, out)
}

/// The paragraph printed after `pvwatch convert`: the accounting, per file, and the outputs.
pub fn summary_paragraph(s: &ConvertSummary) -> String {
    let n = thousands;
    let r = &s.rows;
    let rejects = s.output.join(REJECTS_FILE);
    let duplicate = if r.duplicate == 0 {
        String::new()
    } else {
        format!(
            " {} duplicate (ICSRs read again unchanged, dropped),",
            n(r.duplicate)
        )
    };
    let mut text = format!(
        "pvwatch: converted {} source `{}` in {:.1} s. Read {} rows from {} file{}: {} used, {} superseded (older case versions),{duplicate} {} rejected ({}).",
        s.format.as_str(),
        s.source,
        s.timings_ms.total_ms as f64 / 1000.0,
        n(r.read),
        s.sources.len(),
        if s.sources.len() == 1 { "" } else { "s" },
        n(r.used),
        n(r.superseded),
        n(r.rejected),
        if r.rejected == 0 {
            "none".to_string()
        } else {
            format!("see {}", rejects.display())
        },
    );
    let nulled: u64 = s.nulled_cells.values().sum();
    if nulled > 0 {
        let by_column: Vec<String> = s
            .nulled_cells
            .iter()
            .map(|(c, k)| format!("{} {c}", n(*k)))
            .collect();
        text.push_str(&format!(
            " {} bad optional value{} nulled, rows kept ({}; see {}).",
            n(nulled),
            if nulled == 1 { "" } else { "s" },
            by_column.join(", "),
            rejects.display()
        ));
    }
    for m in &s.missing_files {
        text.push_str(&format!(
            " {} is missing (allowed by --allow-missing {}): {} unknown (null) for its reports.",
            m.path,
            m.part.to_ascii_lowercase(),
            m.unknown.join(" and ")
        ));
    }
    if s.serious_unknown > 0 {
        let versions: u64 = s
            .outputs
            .iter()
            .filter(|o| o.file == REPORTS_FILE)
            .map(|o| o.rows)
            .sum();
        text.push_str(&format!(
            " Seriousness and death unknown (is_serious null) for {} of {} report versions.",
            n(s.serious_unknown),
            n(versions)
        ));
    }
    for a in &s.sources {
        text.push_str(&format!(
            "\n  {} ({}): read {}, used {}, superseded {}, rejected {}",
            a.path,
            a.kind,
            n(a.read),
            n(a.used),
            n(a.superseded),
            n(a.rejected)
        ));
        if a.duplicate > 0 {
            text.push_str(&format!(", duplicate {}", n(a.duplicate)));
        }
        let nulled: u64 = a.nulled_cells.values().sum();
        if nulled > 0 {
            text.push_str(&format!(", cells nulled {}", n(nulled)));
        }
        if let Some(m) = &a.malformed {
            text.push_str(&format!(
                "; not well-formed XML ({m}), so the whole file was rejected"
            ));
        }
    }
    let outputs: Vec<String> = s
        .outputs
        .iter()
        .map(|o| format!("{} ({} rows)", o.file, n(o.rows)))
        .collect();
    text.push_str(&format!(
        "\nOutputs in {}: {}, {MANIFEST}",
        s.output.display(),
        outputs.join(", ")
    ));
    text
}
