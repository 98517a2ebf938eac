//! Pipeline files: raw serde TOML types (`*Config`) and the validated [`Pipeline`].
//!
//! Parsing happens in two steps, as in vector: serde reads the file into the raw types
//! (`deny_unknown_fields` everywhere, so a misspelt key is an error naming its dotted
//! path), then [`Pipeline::from_config`] checks every value and collects *all* problems
//! before it fails. Paths in the file are relative to the file's own folder, so a pipeline
//! runs the same from cron, a shell or an orchestrator whatever the working directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{ConfigErrors, ConfigProblem, Error, Result};
use crate::period::Period;
use crate::schema::{self, CLASSES};

/// Default `ingest.max_rejected_fraction`.
pub const DEFAULT_MAX_REJECTED_FRACTION: f64 = 0.01;
/// Zhejiang's sentinel-hospital targets: at least 40% new-or-serious, 18% serious.
pub const DEFAULT_NEW_OR_SERIOUS_SHARE: f64 = 0.40;
pub const DEFAULT_SERIOUS_SHARE: f64 = 0.18;

// ---------------------------------------------------------------------------------------
// Raw types, as written in the file.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Names the pipeline in the manifest and (later) in alert ids; default: file stem.
    pub name: Option<String>,
    pub period: String,
    pub output_dir: String,
    /// `en` or `zh`: language of the run summary and messages; `--lang` overrides it.
    pub lang: Option<String>,
    pub inputs: InputsConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub rates: RatesConfig,
    #[serde(default)]
    pub signals: SignalsConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Webhook targets (`[[notify]]`).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    pub reports: String,
    pub report_products: String,
    pub report_events: String,
    pub products: String,
    pub populations: String,
    pub event_terms: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub max_rejected_fraction: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatesConfig {
    /// `province`, `city` (default: `["province"]`).
    pub levels: Option<Vec<String>>,
    /// Restrict the table to these regions and everything under them (province or city codes).
    pub regions: Option<Vec<String>>,
    /// Classes to report (default: all three).
    pub classes: Option<Vec<String>>,
    /// Data cut-off for annualising an unfinished period (default: latest received_date).
    pub as_of: Option<String>,
    pub targets: Option<TargetsConfig>,
    pub sentinel_targets: Option<ShareTargetsConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    pub drug: Option<ClassTargetConfig>,
    pub device: Option<ClassTargetConfig>,
    pub cosmetic: Option<ClassTargetConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassTargetConfig {
    /// Target for every region without an override.
    pub per_million: Option<f64>,
    /// Per-region overrides, keyed by region code; a province's value covers its cities.
    pub regions: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareTargetsConfig {
    pub new_or_serious: Option<f64>,
    pub serious: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalsConfig {
    /// Which products get signal rows: `innovative`, `conditional`, `procured`, or `all`.
    pub watch: Option<Vec<String>>,
    /// Methods whose flags count towards `is_signal`: `prr`, `ror`, `bcpnn`, `ebgm`.
    pub methods: Option<Vec<String>>,
    /// A pair is a signal when at least this many of `methods` flag it.
    pub min_methods: Option<i64>,
    /// Added to every cell of a table with a zero cell, for PRR and ROR (0 = none).
    pub continuity_correction: Option<f64>,
    pub prr: Option<PrrConfig>,
    pub ror: Option<RorConfig>,
    pub bcpnn: Option<BcpnnConfig>,
    pub ebgm: Option<EbgmConfig>,
    pub strata: Option<StrataConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrrConfig {
    pub min_a: Option<f64>,
    pub min_prr: Option<f64>,
    pub min_chi2: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RorConfig {
    pub min_a: Option<f64>,
    pub min_lower: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BcpnnConfig {
    pub min_ic025: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbgmConfig {
    pub min_eb05: Option<f64>,
    /// `mixture` (default) or `per_component` (openEBGM's and PhViD's likelihood).
    pub truncation: Option<String>,
    /// A fixed prior instead of the fitted one.
    pub prior: Option<PriorConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    pub alpha1: f64,
    pub beta1: f64,
    pub alpha2: f64,
    pub beta2: f64,
    pub p: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrataConfig {
    pub sex: Option<bool>,
    /// Lower edges of age bands after the first, in years, increasing: `[18, 45, 65]` gives
    /// `<18`, `18–44`, `45–64`, `≥65`. Unknown age is a band of its own.
    pub age_bands: Option<Vec<f64>>,
    /// Stratify by the year a case was first received.
    pub year: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub new_signal: Option<ToggleConfig>,
    pub strengthened_signal: Option<StrengthenedConfig>,
    pub fatal_report: Option<ToggleConfig>,
    pub serious_report: Option<SeriousConfig>,
    pub cluster: Option<ClusterConfig>,
    pub rate_below_target: Option<ToggleConfig>,
    pub sentinel_quality_below_target: Option<ToggleConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToggleConfig {
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrengthenedConfig {
    pub enabled: Option<bool>,
    /// The lower bound (EB05, or 2^IC025) must have risen by at least this factor.
    pub factor: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriousConfig {
    pub enabled: Option<bool>,
    /// Also alert on new (新的, not in the label) reports that are not serious.
    pub include_new: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub enabled: Option<bool>,
    pub min_cases: Option<i64>,
    pub window_days: Option<i64>,
    /// Also look for clusters by product and city among cases with no batch.
    pub by_region: Option<bool>,
    pub region_min_cases: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// `https://…`, `http://…`, or `env:NAME` to read the URL from an environment variable.
    pub url: String,
    pub min_priority: Option<String>,
    pub lang: Option<String>,
    pub timeout_seconds: Option<f64>,
    pub retries: Option<u32>,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Province,
    City,
}

impl Level {
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
        }
    }

    /// The code of the region at this level that contains `region`.
    pub fn region_of(&self, region: &str) -> String {
        match self {
            Level::Province => schema::province_of(region),
            Level::City => schema::city_of(region),
        }
    }

    /// Whether `code` is itself a region of this level (`330000` a province, `330100` a city).
    pub fn is_level_code(&self, code: &str) -> bool {
        match self {
            Level::Province => code.ends_with("0000"),
            Level::City => code.ends_with("00") && !code.ends_with("0000"),
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
}

/// Targets of one class: a default and per-region overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassTarget {
    pub per_million: Option<f64>,
    pub regions: BTreeMap<String, f64>,
}

impl ClassTarget {
    /// The target for `region`: its own override, else its city's, else its province's,
    /// else the class default.
    pub fn for_region(&self, region: &str) -> Option<f64> {
        self.regions
            .get(region)
            .or_else(|| self.regions.get(&schema::city_of(region)))
            .or_else(|| self.regions.get(&schema::province_of(region)))
            .copied()
            .or(self.per_million)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    pub levels: Vec<Level>,
    pub regions: Option<Vec<String>>,
    pub classes: Vec<String>,
    pub as_of: Option<NaiveDate>,
    /// Keyed by class.
    pub targets: BTreeMap<String, ClassTarget>,
    pub new_or_serious_share: f64,
    pub serious_share: f64,
}

impl Rates {
    /// Whether a region at some level is inside the configured `regions` filter.
    pub fn includes(&self, code: &str) -> bool {
        match &self.regions {
            None => true,
            // `330000` covers `33xxxx`; `330100` covers `3301xx`; a district covers itself.
            Some(list) => list.iter().any(|r| {
                if Level::Province.is_level_code(r) {
                    code.starts_with(&r[..2])
                } else if Level::City.is_level_code(r) {
                    code.starts_with(&r[..4])
                } else {
                    code == r
                }
            }),
        }
    }
}

/// The regulators' own targets, used for any class the pipeline file does not set:
/// drug 1500/M for Shanghai and 1000/M for Zhejiang (no national drug target),
/// device 400/M (Zhejiang, 2025), cosmetics 100/M.
pub fn default_targets() -> BTreeMap<String, ClassTarget> {
    let mut t = BTreeMap::new();
    t.insert(
        "drug".to_string(),
        ClassTarget {
            per_million: None,
            regions: [
                ("310000".to_string(), 1500.0),
                ("330000".to_string(), 1000.0),
            ]
            .into_iter()
            .collect(),
        },
    );
    t.insert(
        "device".to_string(),
        ClassTarget {
            per_million: Some(400.0),
            regions: BTreeMap::new(),
        },
    );
    t.insert(
        "cosmetic".to_string(),
        ClassTarget {
            per_million: Some(100.0),
            regions: BTreeMap::new(),
        },
    );
    t
}

/// Disproportionality methods, in output order.
pub const METHODS: &[&str] = &["prr", "ror", "bcpnn", "ebgm"];
/// Watch groups of products.
pub const WATCH_GROUPS: &[&str] = &["innovative", "conditional", "procured", "all"];

/// Validated `[signals]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    pub watch: Vec<String>,
    pub methods: Vec<String>,
    pub min_methods: i64,
    pub continuity_correction: f64,
    pub prr_min_a: f64,
    pub prr_min_prr: f64,
    pub prr_min_chi2: f64,
    pub ror_min_a: f64,
    pub ror_min_lower: f64,
    pub bcpnn_min_ic025: f64,
    pub ebgm_min_eb05: f64,
    /// Truncate the zero-truncated likelihood per component, as openEBGM does.
    pub ebgm_per_component: bool,
    pub prior: Option<PriorConfig>,
    pub strata_sex: bool,
    pub strata_age_bands: Vec<f64>,
    pub strata_year: bool,
}

impl Default for Signals {
    /// The shipped defaults: watch innovative, conditional and procured products; all four
    /// methods, a signal when one flags; MHRA, ROR, IC025 and EB05 thresholds; no strata.
    fn default() -> Self {
        validate_signals(SignalsConfig::default(), &mut Problems(Vec::new()))
    }
}

impl Signals {
    pub fn stratified(&self) -> bool {
        self.strata_sex || !self.strata_age_bands.is_empty() || self.strata_year
    }
}

impl PartialEq for PriorConfig {
    fn eq(&self, o: &Self) -> bool {
        (self.alpha1, self.beta1, self.alpha2, self.beta2, self.p)
            == (o.alpha1, o.beta1, o.alpha2, o.beta2, o.p)
    }
}

/// Validated `[alerts]`: a rule is on unless `enabled = false`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub new_signal: bool,
    /// `Some(factor)` when the rule is on.
    pub strengthened_factor: Option<f64>,
    pub fatal_report: bool,
    pub serious_report: bool,
    pub serious_include_new: bool,
    pub cluster: Option<Cluster>,
    pub rate_below_target: bool,
    pub sentinel_quality_below_target: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    pub min_cases: i64,
    pub window_days: i64,
    pub by_region: bool,
    pub region_min_cases: i64,
}

/// A validated `[[notify]]` target.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    pub url: String,
    pub min_priority: crate::alerts::model::Priority,
    pub lang: Lang,
    pub timeout: std::time::Duration,
    pub retries: u32,
}

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
    pub rates: Rates,
    pub signals: Signals,
    pub alerts: Alerts,
    pub notify: Vec<Notify>,
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
        let bytes =
            std::fs::read(file).map_err(|e| one(format!("cannot read the pipeline file: {e}")))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|e| one(format!("the pipeline file is not UTF-8: {e}")))?;
        let raw = parse_toml(file, &text)?;
        let sha256 = hex(&Sha256::digest(&bytes));
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
            if ext != "csv" && ext != "parquet" {
                p.push(
                    format!("inputs.{key}"),
                    format!("expected a .csv or .parquet file, found `{value}`"),
                );
            } else if !path.is_file() {
                p.push(
                    format!("inputs.{key}"),
                    format!("no such file `{}`", path.display()),
                );
            }
            path
        };
        let inputs = Inputs {
            reports: input("reports", &raw.inputs.reports),
            report_products: input("report_products", &raw.inputs.report_products),
            report_events: input("report_events", &raw.inputs.report_events),
            products: input("products", &raw.inputs.products),
            populations: input("populations", &raw.inputs.populations),
            event_terms: raw
                .inputs
                .event_terms
                .as_deref()
                .map(|v| input("event_terms", v)),
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

        let rates = validate_rates(raw.rates, &mut p);
        let signals = validate_signals(raw.signals, &mut p);
        let alerts = validate_alerts(raw.alerts, &mut p);
        let notify = validate_notify(raw.notify, lang, &mut p);

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
            rates,
            signals,
            alerts,
            notify,
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

fn validate_rates(raw: RatesConfig, p: &mut Problems) -> Rates {
    let mut levels = Vec::new();
    for (i, l) in raw
        .levels
        .unwrap_or_else(|| vec!["province".to_string()])
        .iter()
        .enumerate()
    {
        let level = match l.as_str() {
            "province" => Level::Province,
            "city" => Level::City,
            other => {
                p.push(
                    format!("rates.levels[{i}]"),
                    format!("expected `province` or `city`, found `{other}`"),
                );
                continue;
            }
        };
        if !levels.contains(&level) {
            levels.push(level);
        }
    }
    if levels.is_empty() && p.0.iter().all(|x| !x.key.starts_with("rates.levels")) {
        p.push(
            "rates.levels",
            "expected at least one of `province`, `city`, found none",
        );
    }
    levels.sort();

    let regions = raw.regions.inspect(|list| {
        for (i, r) in list.iter().enumerate() {
            if !schema::is_region_code(r) {
                p.push(
                    format!("rates.regions[{i}]"),
                    format!("expected a 6-digit GB/T 2260 region code, found `{r}`"),
                );
            }
        }
    });

    let classes = match raw.classes {
        None => CLASSES.iter().map(|c| c.to_string()).collect(),
        Some(list) => {
            for (i, c) in list.iter().enumerate() {
                if !CLASSES.contains(&c.as_str()) {
                    p.push(
                        format!("rates.classes[{i}]"),
                        format!("expected one of `drug`, `device`, `cosmetic`, found `{c}`"),
                    );
                }
            }
            list
        }
    };

    let as_of = raw.as_of.and_then(|s| match parse_date(&s) {
        Some(d) => Some(d),
        None => {
            p.push(
                "rates.as_of",
                format!("expected a date YYYY-MM-DD, found `{s}`"),
            );
            None
        }
    });

    let mut targets = default_targets();
    if let Some(t) = raw.targets {
        for (class, ct) in [
            ("drug", t.drug),
            ("device", t.device),
            ("cosmetic", t.cosmetic),
        ] {
            let Some(ct) = ct else { continue };
            let key = format!("rates.targets.{class}");
            let mut target = ClassTarget::default();
            if let Some(v) = ct.per_million {
                check_positive(p, &format!("{key}.per_million"), v);
                target.per_million = Some(v);
            }
            for (region, v) in ct.regions.unwrap_or_default() {
                let k = format!("{key}.regions.{region}");
                if !schema::is_region_code(&region) {
                    p.push(
                        k.clone(),
                        format!(
                            "expected a 6-digit GB/T 2260 region code as the key, found `{region}`"
                        ),
                    );
                }
                check_positive(p, &k, v);
                target.regions.insert(region, v);
            }
            targets.insert(class.to_string(), target);
        }
    }

    let shares = raw.sentinel_targets.unwrap_or_default();
    let mut share = |key: &str, v: Option<f64>, default: f64| match v {
        None => default,
        Some(f) if (0.0..=1.0).contains(&f) => f,
        Some(f) => {
            p.push(
                format!("rates.sentinel_targets.{key}"),
                format!("expected a share from 0 to 1, found `{f}`"),
            );
            default
        }
    };
    let new_or_serious_share = share(
        "new_or_serious",
        shares.new_or_serious,
        DEFAULT_NEW_OR_SERIOUS_SHARE,
    );
    let serious_share = share("serious", shares.serious, DEFAULT_SERIOUS_SHARE);

    Rates {
        levels,
        regions,
        classes,
        as_of,
        targets,
        new_or_serious_share,
        serious_share,
    }
}

fn validate_signals(raw: SignalsConfig, p: &mut Problems) -> Signals {
    let list = |p: &mut Problems,
                key: &str,
                v: Option<Vec<String>>,
                allowed: &[&str],
                default: &[&str]| {
        let v = v.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
        for (i, x) in v.iter().enumerate() {
            if !allowed.contains(&x.as_str()) {
                let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                p.push(
                    format!("{key}[{i}]"),
                    format!("expected one of {}, found `{x}`", list.join(", ")),
                );
            } else if v[..i].contains(x) {
                p.push(format!("{key}[{i}]"), format!("`{x}` is listed twice"));
            }
        }
        if v.is_empty() {
            p.push(key, "expected at least one value, found none");
        }
        v
    };
    let watch = list(
        p,
        "signals.watch",
        raw.watch,
        WATCH_GROUPS,
        &["innovative", "conditional", "procured"],
    );
    let methods = list(p, "signals.methods", raw.methods, METHODS, METHODS);
    let min_methods = raw.min_methods.unwrap_or(1);
    if min_methods < 1 || min_methods as usize > methods.len().max(1) {
        p.push(
            "signals.min_methods",
            format!("expected a whole number from 1 to {} (the number of methods), found `{min_methods}`", methods.len()),
        );
    }
    let cc = raw.continuity_correction.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&cc) {
        p.push(
            "signals.continuity_correction",
            format!("expected a number from 0 to 1, found `{cc}`"),
        );
    }
    let nonneg = |p: &mut Problems, key: &str, v: Option<f64>, default: f64| match v {
        None => default,
        Some(x) if x.is_finite() && x >= 0.0 => x,
        Some(x) => {
            p.push(key, format!("expected a number >= 0, found `{x}`"));
            default
        }
    };
    let prr = raw.prr.unwrap_or_default();
    let ror = raw.ror.unwrap_or_default();
    let bcpnn = raw.bcpnn.unwrap_or_default();
    let ebgm = raw.ebgm.unwrap_or_default();
    let min_ic025 = bcpnn.min_ic025.unwrap_or(0.0);
    if !min_ic025.is_finite() {
        p.push(
            "signals.bcpnn.min_ic025",
            format!("expected a finite number, found `{min_ic025}`"),
        );
    }
    if let Some(pr) = &ebgm.prior {
        for (k, v) in [
            ("alpha1", pr.alpha1),
            ("beta1", pr.beta1),
            ("alpha2", pr.alpha2),
            ("beta2", pr.beta2),
        ] {
            check_positive(p, &format!("signals.ebgm.prior.{k}"), v);
        }
        if !(pr.p > 0.0 && pr.p < 1.0) {
            p.push(
                "signals.ebgm.prior.p",
                format!("expected a number in (0, 1), found `{}`", pr.p),
            );
        }
    }
    let per_component = match ebgm.truncation.as_deref() {
        None | Some("mixture") => false,
        Some("per_component") => true,
        Some(other) => {
            p.push(
                "signals.ebgm.truncation",
                format!("expected `mixture` or `per_component`, found `{other}`"),
            );
            false
        }
    };
    let strata = raw.strata.unwrap_or_default();
    let bands = strata.age_bands.unwrap_or_default();
    let increasing = bands.windows(2).all(|w| w[0] < w[1]);
    if !increasing || bands.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
        p.push(
            "signals.strata.age_bands",
            format!(
                "expected increasing ages > 0, found `[{}]`",
                bands
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    Signals {
        watch,
        methods,
        min_methods,
        continuity_correction: cc,
        prr_min_a: nonneg(p, "signals.prr.min_a", prr.min_a, 3.0),
        prr_min_prr: nonneg(p, "signals.prr.min_prr", prr.min_prr, 2.0),
        prr_min_chi2: nonneg(p, "signals.prr.min_chi2", prr.min_chi2, 4.0),
        ror_min_a: nonneg(p, "signals.ror.min_a", ror.min_a, 3.0),
        ror_min_lower: nonneg(p, "signals.ror.min_lower", ror.min_lower, 1.0),
        bcpnn_min_ic025: min_ic025,
        ebgm_min_eb05: nonneg(p, "signals.ebgm.min_eb05", ebgm.min_eb05, 2.0),
        ebgm_per_component: per_component,
        prior: ebgm.prior,
        strata_sex: strata.sex.unwrap_or(false),
        strata_age_bands: bands,
        strata_year: strata.year.unwrap_or(false),
    }
}

fn validate_alerts(raw: AlertsConfig, p: &mut Problems) -> Alerts {
    let on = |t: &Option<ToggleConfig>| t.as_ref().and_then(|t| t.enabled).unwrap_or(true);
    let strengthened = raw.strengthened_signal.unwrap_or_default();
    let factor = strengthened.factor.unwrap_or(1.5);
    if !(factor.is_finite() && factor > 1.0) {
        p.push(
            "alerts.strengthened_signal.factor",
            format!("expected a number > 1, found `{factor}`"),
        );
    }
    let serious = raw.serious_report.unwrap_or_default();
    let cluster = raw.cluster.unwrap_or_default();
    let whole = |p: &mut Problems, key: &str, v: Option<i64>, default: i64, min: i64| match v {
        None => default,
        Some(x) if x >= min => x,
        Some(x) => {
            p.push(
                key,
                format!("expected a whole number >= {min}, found `{x}`"),
            );
            default
        }
    };
    let min_cases = whole(p, "alerts.cluster.min_cases", cluster.min_cases, 3, 2);
    let window_days = whole(p, "alerts.cluster.window_days", cluster.window_days, 7, 1);
    let region_min_cases = whole(
        p,
        "alerts.cluster.region_min_cases",
        cluster.region_min_cases,
        5,
        2,
    );
    Alerts {
        new_signal: on(&raw.new_signal),
        strengthened_factor: strengthened.enabled.unwrap_or(true).then_some(factor),
        fatal_report: on(&raw.fatal_report),
        serious_report: serious.enabled.unwrap_or(true),
        serious_include_new: serious.include_new.unwrap_or(true),
        cluster: cluster.enabled.unwrap_or(true).then_some(Cluster {
            min_cases,
            window_days,
            by_region: cluster.by_region.unwrap_or(false),
            region_min_cases,
        }),
        rate_below_target: on(&raw.rate_below_target),
        sentinel_quality_below_target: on(&raw.sentinel_quality_below_target),
    }
}

fn validate_notify(raw: Vec<NotifyConfig>, default_lang: Lang, p: &mut Problems) -> Vec<Notify> {
    use crate::alerts::model::Priority;
    raw.into_iter()
        .enumerate()
        .map(|(i, n)| {
            let key = |k: &str| format!("notify[{i}].{k}");
            let url_ok = n.url.starts_with("https://")
                || n.url.starts_with("http://")
                || n.url.strip_prefix("env:").is_some_and(|v| !v.is_empty());
            if !url_ok {
                p.push(
                    key("url"),
                    format!(
                        "expected an http(s):// URL or `env:NAME`, found `{}`",
                        n.url
                    ),
                );
            }
            let min_priority = match n.min_priority.as_deref() {
                None => Priority::P2,
                Some(s) => Priority::parse(s).unwrap_or_else(|| {
                    p.push(
                        key("min_priority"),
                        format!("expected one of `P0`, `P1`, `P2`, `P3`, found `{s}`"),
                    );
                    Priority::P2
                }),
            };
            let lang = match n.lang.as_deref() {
                None => default_lang,
                Some("en") => Lang::En,
                Some("zh") => Lang::Zh,
                Some(other) => {
                    p.push(
                        key("lang"),
                        format!("expected `en` or `zh`, found `{other}`"),
                    );
                    default_lang
                }
            };
            let timeout = n.timeout_seconds.unwrap_or(10.0);
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
                p.push(
                    key("timeout_seconds"),
                    format!("expected a number of seconds in (0, 600], found `{timeout}`"),
                );
            }
            let retries = n.retries.unwrap_or(3);
            if retries > 10 {
                p.push(
                    key("retries"),
                    format!("expected at most 10, found `{retries}`"),
                );
            }
            Notify {
                url: n.url,
                min_priority,
                lang,
                timeout: std::time::Duration::from_secs_f64(timeout.clamp(0.001, 600.0)),
                retries: retries.min(10),
            }
        })
        .collect()
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

/// Parse a strict `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
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

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_str(text: &str) -> Result<Pipeline> {
        let raw = parse_toml(Path::new("p.toml"), text)?;
        Pipeline::from_config(Path::new("p.toml"), String::new(), raw)
    }

    fn problems(text: &str) -> Vec<String> {
        match from_str(text) {
            Err(Error::Config(e)) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect(),
            other => panic!("expected config errors, got {other:?}"),
        }
    }

    const INPUTS: &str = r#"
[inputs]
reports = "r.csv"
report_products = "rp.csv"
report_events = "re.csv"
products = "p.csv"
populations = "pop.csv"
"#;

    #[test]
    fn unknown_key_names_its_path_and_line() {
        let text = format!(
            "period = \"2025\"\noutput_dir = \"out\"\n{INPUTS}\n[rates]\nlevel = [\"city\"]\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("rates.level: unknown field `level`"),
            "{}",
            p[0]
        );
        assert!(p[0].ends_with("(line 12)"), "{}", p[0]);
    }

    #[test]
    fn collects_every_semantic_problem() {
        let text = format!(
            "period = \"2025-Q5\"\noutput_dir = \"out\"\nlang = \"fr\"\n{INPUTS}\n[ingest]\nmax_rejected_fraction = 1.5\n\
             [rates]\nlevels = [\"county\"]\n[rates.targets.drug]\nper_million = -3\nregions = {{ \"3300\" = 1000 }}\n"
        );
        let p = problems(&text);
        let keys: Vec<&str> = p.iter().map(|s| s.split(": ").next().unwrap()).collect();
        // Missing input files are problems too; every one is listed.
        for k in [
            "period",
            "lang",
            "inputs.reports",
            "inputs.populations",
            "ingest.max_rejected_fraction",
            "rates.levels[0]",
            "rates.targets.drug.per_million",
            "rates.targets.drug.regions.3300",
        ] {
            assert!(keys.contains(&k), "missing {k} in {p:?}");
        }
    }

    #[test]
    fn targets_fall_back_from_region_to_city_to_province_to_default() {
        let t = ClassTarget {
            per_million: Some(900.0),
            regions: [
                ("330000".to_string(), 1000.0),
                ("330100".to_string(), 1200.0),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(t.for_region("330106"), Some(1200.0));
        assert_eq!(t.for_region("330200"), Some(1000.0));
        assert_eq!(t.for_region("330000"), Some(1000.0));
        assert_eq!(t.for_region("370000"), Some(900.0));
        let drug = &default_targets()["drug"];
        assert_eq!(drug.for_region("310000"), Some(1500.0));
        assert_eq!(drug.for_region("310115"), Some(1500.0));
        assert_eq!(drug.for_region("330000"), Some(1000.0));
        assert_eq!(
            drug.for_region("370000"),
            None,
            "no shipped drug target for Shandong"
        );
        assert_eq!(
            default_targets()["device"].for_region("140000"),
            Some(400.0)
        );
        assert_eq!(
            default_targets()["cosmetic"].for_region("140000"),
            Some(100.0)
        );
    }

    #[test]
    fn region_filter_covers_children() {
        let r = Rates {
            levels: vec![Level::Province],
            regions: Some(vec!["330000".into(), "140100".into()]),
            classes: vec![],
            as_of: None,
            targets: BTreeMap::new(),
            new_or_serious_share: 0.4,
            serious_share: 0.18,
        };
        assert!(r.includes("330000") && r.includes("330100") && r.includes("330106"));
        assert!(r.includes("140100") && r.includes("140105"));
        assert!(!r.includes("140000") && !r.includes("310000") && !r.includes("140200"));
        let taizhou = Rates {
            regions: Some(vec!["331000".into()]),
            ..r
        };
        assert!(
            taizhou.includes("331002") && !taizhou.includes("331100"),
            "台州 must not cover 丽水"
        );
    }

    #[test]
    fn paths_are_normalised_lexically() {
        let n = |s: &str| normalize(Path::new(s)).display().to_string();
        assert_eq!(n("pipelines/../sample-data/r.csv"), "sample-data/r.csv");
        assert_eq!(n("./a/./b"), "a/b");
        assert_eq!(n("../x/../../y"), "../../y");
        assert_eq!(n("/../a"), "/a");
        assert_eq!(n("a/.."), ".");
    }

    #[test]
    fn strict_dates() {
        assert!(parse_date("2025-01-31").is_some());
        for s in ["2025-1-31", "2025-02-30", "2025/01/31", "20250131", ""] {
            assert!(parse_date(s).is_none(), "{s}");
        }
    }
}
