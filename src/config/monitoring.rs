//! Validated `[signals]`, `[alerts]` and `[[notify]]`: what is monitored, and who is told.

use super::{AlertsConfig, NotifyConfig, PriorConfig, SignalsConfig, ToggleConfig};
use super::{Lang, Problems};
use crate::signals::ebgm::{OPENEBGM_CAERS_PRIOR, PARAM_MAX, PARAM_MIN, P_MAX, P_MIN};

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
    /// A class with fewer pairs (a ≥ 1) than this does not use its own fit.
    pub ebgm_min_pairs: u64,
    /// What a class uses when its own fit is unusable.
    pub ebgm_fallback: PriorFallback,
    /// The fixed prior of the fallback (`signals.ebgm.fallback_prior`; openEBGM's
    /// published CAERS estimate by default).
    pub ebgm_fallback_prior: PriorConfig,
    pub strata_sex: bool,
    pub strata_age_bands: Vec<f64>,
    pub strata_year: bool,
    /// `signals.levels` (see `config::terms`); `None`: event level, no `level` column.
    pub levels: Option<Vec<super::TermLevel>>,
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

/// The default of `signals.ebgm.min_pairs`. Below about 500 pairs a per-class fit of the
/// five-parameter mixture is unstable: on bootstrap resamples of a 51-pair class its EB05
/// for a borderline pair spreads several times wider than under the pooled prior (test
/// `signals::priors::tests::bootstrap_51_pairs_pooled_prior_is_stabler`), and openEBGM's
/// own examples fit thousands of pairs.
pub const DEFAULT_MIN_PAIRS: i64 = 500;

/// What a class uses when its own EBGM prior fit is unusable (too few pairs, at a bound of
/// the search box, or not converged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorFallback {
    /// One fit over the pairs of every class of the run; if that one is unusable too, the
    /// fixed fallback prior.
    Pooled,
    /// The fixed fallback prior (`signals.ebgm.fallback_prior`).
    Fixed,
}

/// Every parameter of a prior given in the pipeline inside the fit's search box.
fn check_prior(p: &mut Problems, key: &str, pr: &PriorConfig) {
    // The fit's own search box: a fixed prior outside it is no prior the data could
    // have given (e.g. `alpha1 = 1e308, beta1 = 1e-308` makes every EB05 exceed its
    // EBGM), so it is refused rather than used.
    for (k, v) in [
        ("alpha1", pr.alpha1),
        ("beta1", pr.beta1),
        ("alpha2", pr.alpha2),
        ("beta2", pr.beta2),
    ] {
        if !(PARAM_MIN..=PARAM_MAX).contains(&v) {
            p.push(
                format!("{key}.{k}"),
                format!(
                    "expected a number from {PARAM_MIN:e} to {PARAM_MAX} (the bounds the prior is fitted within), found `{}`",
                    number(v)
                ),
            );
        }
    }
    if !(P_MIN..=P_MAX).contains(&pr.p) {
        p.push(
            format!("{key}.p"),
            format!(
                "expected a number from {P_MIN:e} to {P_MAX} (the bounds the prior is fitted within), found `{}`",
                number(pr.p)
            ),
        );
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
    /// A case on a watched product whose seriousness or outcome is null.
    pub data_quality: bool,
    /// At most this many open alerts of each priority (and of each status in "changes")
    /// on the review page; the rest are counted there and are in `alerts.parquet`.
    pub page_limit: usize,
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

pub(super) fn validate_signals(raw: SignalsConfig, p: &mut Problems) -> Signals {
    let list = |p: &mut Problems,
                key: &str,
                what: &str,
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
            let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            p.push(
                key,
                format!(
                    "expected at least one {what} (of {}), found none",
                    list.join(", ")
                ),
            );
        }
        v
    };
    let watch = list(
        p,
        "signals.watch",
        "group",
        raw.watch,
        WATCH_GROUPS,
        &["innovative", "conditional", "procured"],
    );
    let methods = list(
        p,
        "signals.methods",
        "method",
        raw.methods,
        METHODS,
        METHODS,
    );
    let min_methods = raw.min_methods.unwrap_or(1);
    // With no method at all, `signals.methods` already says so; one problem, not two.
    if !methods.is_empty() && (min_methods < 1 || min_methods as usize > methods.len()) {
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
    for (key, pr) in [
        ("signals.ebgm.prior", &ebgm.prior),
        ("signals.ebgm.fallback_prior", &ebgm.fallback_prior),
    ] {
        if let Some(pr) = pr {
            check_prior(p, key, pr);
        }
    }
    let min_pairs = ebgm.min_pairs.unwrap_or(DEFAULT_MIN_PAIRS);
    if min_pairs < 1 {
        p.push(
            "signals.ebgm.min_pairs",
            format!("expected a whole number >= 1, found `{min_pairs}`"),
        );
    }
    let fallback = match ebgm.fallback.as_deref() {
        None | Some("pooled") => PriorFallback::Pooled,
        Some("fixed") => PriorFallback::Fixed,
        Some(other) => {
            p.push(
                "signals.ebgm.fallback",
                format!("expected `pooled` or `fixed`, found `{other}`"),
            );
            PriorFallback::Pooled
        }
    };
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
        ebgm_min_pairs: min_pairs.max(1) as u64,
        ebgm_fallback: fallback,
        ebgm_fallback_prior: ebgm.fallback_prior.unwrap_or(PriorConfig {
            alpha1: OPENEBGM_CAERS_PRIOR.alpha1,
            beta1: OPENEBGM_CAERS_PRIOR.beta1,
            alpha2: OPENEBGM_CAERS_PRIOR.alpha2,
            beta2: OPENEBGM_CAERS_PRIOR.beta2,
            p: OPENEBGM_CAERS_PRIOR.p,
        }),
        strata_sex: strata.sex.unwrap_or(false),
        strata_age_bands: bands,
        strata_year: strata.year.unwrap_or(false),
        levels: None,
    }
}

pub(super) fn validate_alerts(raw: AlertsConfig, p: &mut Problems) -> Alerts {
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
    let page_limit = whole(p, "alerts.page_limit", raw.page_limit, 200, 1) as usize;
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
        data_quality: on(&raw.data_quality),
        page_limit,
    }
}

pub(super) fn validate_notify(
    raw: Vec<NotifyConfig>,
    default_lang: Lang,
    p: &mut Problems,
) -> Vec<Notify> {
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

/// A number as a user wrote it: plain unless very large or small (`1e308`, not 309 digits).
fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e6).contains(&v.abs()) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}
