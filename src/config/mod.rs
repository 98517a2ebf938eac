//! Pipeline files: raw serde TOML types (`*Config`) and the validated [`Pipeline`].
//!
//! Parsing happens in two steps, as in vector: serde reads the file into the raw types
//! (`deny_unknown_fields` everywhere, so a misspelt key is an error naming its dotted
//! path), then [`Pipeline::from_config`] checks every value and collects *all* problems
//! before it fails. Paths in the file are relative to the file's own folder, so a pipeline
//! runs the same from cron, a shell or an orchestrator whatever the working directory.
//!
//! Files by concern: `raw.rs` (the serde types), `source.rs` and [`mapping`]
//! (`[inputs.source]`), `rates.rs` (`[rates]`), `scope.rs` (`[scope]`, `signals.background`), `monitoring.rs` (`[signals]`, `[alerts]`,
//! `[[notify]]`); this file validates the rest and assembles the [`Pipeline`].

use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use sha2::{Digest, Sha256};

use crate::error::{ConfigErrors, ConfigProblem, Error, Result};
use crate::period::Period;
use crate::readable;
use crate::schema;

/// Default `ingest.max_rejected_fraction`.
pub const DEFAULT_MAX_REJECTED_FRACTION: f64 = 0.01;

pub mod mapping;
mod raw;
pub mod source;
pub use raw::*;
pub use source::{Format, ReadOptions, Source};

// ---------------------------------------------------------------------------------------
// Validated types.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

/// Resolved input paths.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub reports: PathBuf,
    pub report_products: PathBuf,
    pub report_events: PathBuf,
    pub products: PathBuf,
    pub populations: PathBuf,
    pub event_terms: Option<PathBuf>,
    /// A real-world source converted at run time; then the case tables (and products,
    /// unless given) are empty paths until `ingest::source::prepare` fills them.
    pub source: Option<Source>,
    /// How to read each table's file (`[inputs.options.<table>]`); a table not listed is
    /// read with the defaults.
    pub options: std::collections::BTreeMap<&'static str, ReadOptions>,
}

impl Inputs {
    /// How to read a table's file.
    pub fn read_options(&self, table: &str) -> ReadOptions {
        self.options.get(table).cloned().unwrap_or_default()
    }
}

mod monitoring;
pub use monitoring::*;
mod rates;
pub use rates::*;
pub mod scope;
pub use scope::{Background, Scope};
pub mod review;
pub use review::{DatabaseUrl, Reopen, Review};
pub mod terms;
pub use terms::{SmqScope, TermLevel, Terms};

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file as given.
    pub file: PathBuf,
    /// sha256 of the file's bytes, hex.
    pub sha256: String,
    pub name: String,
    pub period: Period,
    pub output_dir: PathBuf,
    pub lang: Lang,
    pub inputs: Inputs,
    pub max_rejected_fraction: f64,
    /// `ingest.today`: the last plausible date, pinned; `None`: [`crate::plausible::today`].
    pub today: Option<NaiveDate>,
    /// `ingest.timezone`: the zone timestamps are read in (default UTC+8).
    pub timezone: FixedOffset,
    /// `max_memory_gib`: the memory budget (see `memory`); `None`: what is available.
    pub max_memory_gib: Option<f64>,
    pub rates: Rates,
    /// `[scope]` and `signals.background`: the jurisdiction (see [`crate::scope`]).
    pub scope: Scope,
    pub signals: Signals,
    pub alerts: Alerts,
    pub notify: Vec<Notify>,
    /// `[review]`: the review database and the reopen rule.
    pub review: Review,
    /// `[terms]`: the MedDRA release, if any.
    pub terms: Option<Terms>,
}

/// Collects problems with their dotted keys.
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            key: key.into(),
            message: message.into(),
        });
    }
}

impl Pipeline {
    /// Read, parse and validate a pipeline file.
    pub fn load(file: &Path) -> Result<Pipeline> {
        let one = |message: String| {
            Error::Config(ConfigErrors {
                file: file.to_path_buf(),
                problems: vec![ConfigProblem {
                    key: String::new(),
                    message,
                }],
            })
        };
        if let Some(problem) = readable::problem(file, readable::Expect::File) {
            return Err(one(format!("cannot read the pipeline file: {problem}")));
        }
        let bytes =
            std::fs::read(file).map_err(|e| one(format!("cannot read the pipeline file: {e}")))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|e| one(format!("the pipeline file is not UTF-8: {e}")))?;
        let raw = parse_toml(file, &text)?;
        let sha256 = crate::files::hex(&Sha256::digest(&bytes));
        Pipeline::from_config(file, sha256, raw)
    }

    /// Validate raw config, collecting every problem.
    pub fn from_config(file: &Path, sha256: String, raw: PipelineConfig) -> Result<Pipeline> {
        let mut p = Problems(Vec::new());
        let base = file.parent().unwrap_or(Path::new("")).to_path_buf();

        let name = match raw.name {
            Some(n) if n.trim().is_empty() => {
                p.push("name", "expected a non-empty name, found ``");
                String::new()
            }
            Some(n) => n,
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pipeline".to_string()),
        };

        let period = raw.period.parse::<Period>().unwrap_or_else(|e| {
            p.push("period", e.to_string());
            Period::Year(1970)
        });

        if raw.output_dir.trim().is_empty() {
            p.push("output_dir", "expected a folder, found ``");
        }
        let output_dir = normalize(&base.join(&raw.output_dir));

        let lang = match raw.lang.as_deref() {
            None | Some("en") => Lang::En,
            Some("zh") => Lang::Zh,
            Some(other) => {
                p.push("lang", format!("expected `en` or `zh`, found `{other}`"));
                Lang::En
            }
        };

        let mut input = |key: &str, value: &str| -> PathBuf {
            let path = normalize(&base.join(value));
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if !source::TABLE_EXTENSIONS.contains(&ext.as_str()) {
                p.push(
                    format!("inputs.{key}"),
                    format!("expected a .csv, .parquet or .xlsx (.xls) file, found `{value}`"),
                );
            } else if let Some(problem) = readable::problem(&path, readable::Expect::File) {
                p.push(format!("inputs.{key}"), problem);
            }
            path
        };
        let has_source = raw.inputs.source.is_some();
        let mut shape = Vec::new();
        let mut case_table = |key: &'static str, value: Option<&str>| match (value, has_source) {
            (Some(v), false) => input(key, v),
            (Some(v), true) if key == "products" => input(key, v),
            (None, true) => PathBuf::new(),
            (Some(_), true) => {
                shape.push((
                    key,
                    "not allowed with inputs.source, which gives the case tables",
                ));
                PathBuf::new()
            }
            (None, false) => {
                let m = "missing: expected a .csv or .parquet file (or name a real-world `source`)";
                shape.push((key, m));
                PathBuf::new()
            }
        };
        let reports = case_table("reports", raw.inputs.reports.as_deref());
        let report_products = case_table("report_products", raw.inputs.report_products.as_deref());
        let report_events = case_table("report_events", raw.inputs.report_events.as_deref());
        let products = case_table("products", raw.inputs.products.as_deref());
        let populations = input("populations", &raw.inputs.populations);
        let event_terms = raw
            .inputs
            .event_terms
            .as_deref()
            .map(|v| input("event_terms", v));
        for (key, message) in shape {
            p.push(format!("inputs.{key}"), message);
        }
        let mut tables = vec![schema::POPULATIONS.name];
        if raw.inputs.source.is_none() {
            tables.extend([
                schema::REPORTS.name,
                schema::REPORT_PRODUCTS.name,
                schema::REPORT_EVENTS.name,
            ]);
        }
        if raw.inputs.products.is_some() || raw.inputs.source.is_none() {
            tables.push(schema::PRODUCTS.name);
        }
        if raw.inputs.event_terms.is_some() {
            tables.push(schema::EVENT_TERMS.name);
        }
        let (options, problems) = source::validate_read_options(raw.inputs.options, &tables);
        for problem in problems {
            p.push(problem.key, problem.message);
        }
        let source = raw.inputs.source.and_then(|s| {
            let (source, problems) = source::validate_source(s, &base);
            p.0.extend(problems);
            source
        });
        let inputs = Inputs {
            reports,
            report_products,
            report_events,
            products,
            populations,
            event_terms,
            source,
            options,
        };

        let max_rejected_fraction = match raw.ingest.max_rejected_fraction {
            None => DEFAULT_MAX_REJECTED_FRACTION,
            Some(f) if (0.0..=1.0).contains(&f) => f,
            Some(f) => {
                p.push(
                    "ingest.max_rejected_fraction",
                    format!("expected a fraction from 0 to 1, found `{f}`"),
                );
                DEFAULT_MAX_REJECTED_FRACTION
            }
        };

        let today = raw
            .ingest
            .today
            .and_then(|raw::DateText(v)| match parse_date(&v) {
                Some(d) => Some(d),
                None => {
                    let found = v;
                    p.push(
                        "ingest.today",
                        format!("expected a date YYYY-MM-DD, found `{found}`"),
                    );
                    None
                }
            });
        let timezone = match raw.ingest.timezone.as_deref() {
            None => default_timezone(),
            Some(s) => parse_timezone(s).unwrap_or_else(|| {
                p.push(
                    "ingest.timezone",
                    format!(
                        "expected `UTC` or an offset from UTC such as `+08:00` (zone names are not read), found `{s}`"
                    ),
                );
                default_timezone()
            }),
        };

        let max_memory_gib = match raw.max_memory_gib {
            Some(g) if !(g.is_finite() && g > 0.0) => {
                p.push(
                    "max_memory_gib",
                    format!("expected a positive number of GiB, found `{g}`"),
                );
                None
            }
            g => g,
        };

        let mut rates = validate_rates(raw.rates, &mut p);
        let background = raw.signals.background.clone();
        let scope = scope::validate_scope(raw.scope, background, &mut rates, &mut p);
        let levels = raw.signals.levels.clone();
        let mut signals = validate_signals(raw.signals, &mut p);
        let (terms, levels) = terms::validate_terms(raw.terms, levels, &base, &mut p);
        signals.levels = levels;
        let alerts = validate_alerts(raw.alerts, &mut p);
        let notify = validate_notify(raw.notify, lang, &mut p);
        let review = review::validate_review(raw.review, &mut p);

        if !p.0.is_empty() {
            return Err(Error::Config(ConfigErrors {
                file: file.to_path_buf(),
                problems: p.0,
            }));
        }
        Ok(Pipeline {
            file: file.to_path_buf(),
            sha256,
            name,
            period,
            output_dir,
            lang,
            inputs,
            max_rejected_fraction,
            today,
            timezone,
            max_memory_gib,
            rates,
            scope,
            signals,
            alerts,
            notify,
            review,
            terms,
        })
    }

    /// Every input as (table name, path), in a fixed order.
    pub fn input_paths(&self) -> Vec<(&'static str, &Path)> {
        let i = &self.inputs;
        let mut v: Vec<(&'static str, &Path)> = vec![
            (schema::REPORTS.name, &i.reports),
            (schema::REPORT_PRODUCTS.name, &i.report_products),
            (schema::REPORT_EVENTS.name, &i.report_events),
            (schema::PRODUCTS.name, &i.products),
            (schema::POPULATIONS.name, &i.populations),
        ];
        if let Some(p) = &i.event_terms {
            v.push((schema::EVENT_TERMS.name, p));
        }
        v
    }
}

fn check_positive(p: &mut Problems, key: &str, v: f64) {
    if !(v.is_finite() && v > 0.0) {
        p.push(key, format!("expected a number > 0, found `{v}`"));
    }
}

/// Resolve `.` and `..` lexically (`pipelines/../sample-data/x.csv` -> `sample-data/x.csv`),
/// so that messages and the manifest show the path a user would type.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Parse `true/false`, `1/0`, `yes/no` (any case), `是/否`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "是" => return Some(true),
        "否" => return Some(false),
        _ => {}
    }
    if s.eq_ignore_ascii_case("true") || s == "1" || s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") || s == "0" || s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Parse a strict `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Default `ingest.timezone`: China Standard Time, the reporting centres' clock.
fn default_timezone() -> FixedOffset {
    FixedOffset::east_opt((crate::plausible::CHINA_UTC_OFFSET_HOURS * 3600) as i32)
        .expect("UTC+8 is a valid offset")
}

/// `UTC`, `Z` or an offset `±HH:MM` from -12:00 to +14:00 (the offsets in use).
pub fn parse_timezone(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let seconds = sign * (h * 3600 + m * 60);
    (m < 60 && (-12 * 3600..=14 * 3600).contains(&seconds))
        .then(|| FixedOffset::east_opt(seconds))
        .flatten()
}

/// Parse TOML into the raw types; a serde error names its dotted key and line.
fn parse_toml(file: &Path, text: &str) -> Result<PipelineConfig> {
    let fail = |key: String, err: &toml::de::Error| {
        let line = err
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = match line {
            Some(l) => format!("{} (line {l})", err.message().trim_end()),
            None => err.message().trim_end().to_string(),
        };
        Error::Config(ConfigErrors {
            file: file.to_path_buf(),
            problems: vec![ConfigProblem { key, message }],
        })
    };
    let de = toml::Deserializer::parse(text).map_err(|e| fail(String::new(), &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { path };
        fail(key, e.inner())
    })
}

#[cfg(test)]
mod tests;
