//! Raw serde types of a pipeline file, as written (`deny_unknown_fields` on every one).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Names the pipeline in the manifest and (later) in alert ids; default: file stem.
    pub name: Option<String>,
    pub period: String,
    pub output_dir: String,
    /// `en` or `zh`: language of the run summary and messages; `--lang` overrides it.
    pub lang: Option<String>,
    /// Memory the run may use, GiB (default: what the machine has available).
    pub max_memory_gib: Option<f64>,
    pub inputs: InputsConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub rates: RatesConfig,
    /// The jurisdiction (`[scope]`); absent: every region.
    pub scope: Option<ScopeConfig>,
    #[serde(default)]
    pub signals: SignalsConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Webhook targets (`[[notify]]`).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// The review database and the reopen rule (`[review]`).
    pub review: Option<super::review::ReviewConfig>,
    /// The MedDRA release (`[terms]`).
    pub terms: Option<super::terms::TermsConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    /// The three case tables; required unless `source` names a real-world source.
    pub reports: Option<String>,
    pub report_products: Option<String>,
    pub report_events: Option<String>,
    /// Required unless `source` is given (then the conversion's registry is the default).
    pub products: Option<String>,
    pub populations: String,
    pub event_terms: Option<String>,
    /// A real-world source (FAERS, E2B, flat) converted at run time (`ingest::source`).
    pub source: Option<SourceConfig>,
    /// How to read each table's file: `[inputs.options.<table>]` with `sheet` (a
    /// workbook's sheet) and `encoding` (a CSV file's), see `config::source`.
    pub options: Option<BTreeMap<String, InputOptionsConfig>>,
}

/// `[inputs.options.<table>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptionsConfig {
    pub sheet: Option<String>,
    pub encoding: Option<String>,
}

/// `[inputs.source]`: see `config::source` and the README, "Real-world inputs".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `faers`, `e2b` or `flat`.
    pub format: String,
    /// A FAERS folder, an E2B file or folder, a flat CSV file.
    pub path: String,
    /// Region code of every report (FAERS, E2B: required), or the default (flat).
    pub region: Option<String>,
    /// Class of every report, or the default (flat); default `drug`.
    pub class: Option<String>,
    /// Strip dose text from product names.
    pub strip_dose: Option<bool>,
    /// Bound on one XML file's size (E2B), in bytes.
    pub max_xml_bytes: Option<u64>,
    /// Source parts that may be missing (FAERS: `outc`).
    pub allow_missing: Option<Vec<String>>,
    /// A mapping file (flat), or the inline keys below.
    pub mapping: Option<String>,
    pub columns: Option<BTreeMap<String, String>>,
    pub values: Option<BTreeMap<String, BTreeMap<String, toml::Value>>>,
    pub date_formats: Option<Vec<String>>,
    /// Flat: headers holding personal data (never read), the sheet, the CSV encoding.
    pub personal: Option<Vec<String>>,
    pub sheet: Option<String>,
    pub encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub max_rejected_fraction: Option<f64>,
    /// Pins the run's "today" (the last plausible date): `"YYYY-MM-DD"` or a TOML date.
    pub today: Option<DateText>,
    /// The zone timestamps are read in (`"+08:00"` default, `"UTC"`, any `±HH:MM`).
    pub timezone: Option<String>,
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
    pub as_of: Option<DateText>,
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
    /// Which cases the statistics count: `all` (default) or `scope`.
    pub background: Option<String>,
    /// MedDRA levels of the signal rows: `event`, `pt`, `hlt`, `hlgt`, `soc`, `smq`.
    pub levels: Option<Vec<String>>,
}

/// `[scope]`: the regions a run answers for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// GB/T 2260 codes at any level: a province or city code covers everything under it.
    pub regions: Option<Vec<String>>,
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
    /// A fixed prior instead of the fitted one, for every class.
    pub prior: Option<PriorConfig>,
    /// Fewest pairs (a ≥ 1) a class needs for its own fit; default 500.
    pub min_pairs: Option<i64>,
    /// `pooled` (default) or `fixed`: what a class uses when its own fit is unusable.
    pub fallback: Option<String>,
    /// The fixed prior of the fallback; default openEBGM's published CAERS estimate.
    pub fallback_prior: Option<PriorConfig>,
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
    pub data_quality: Option<ToggleConfig>,
    /// At most this many open alerts of each priority on the review page.
    pub page_limit: Option<i64>,
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

/// A date written as a string (`"2025-06-30"`) or as a native TOML date (`2025-06-30`),
/// kept as its text so that validation reports either the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateText(pub String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(DateText(s)),
            toml::Value::Datetime(dt) => Ok(DateText(dt.to_string())),
            other => Err(D::Error::custom(format!(
                "expected a date YYYY-MM-DD, found the {} `{other}`",
                other.type_str()
            ))),
        }
    }
}
