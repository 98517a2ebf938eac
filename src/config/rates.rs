//! Validated `[rates]`: the region levels and classes rated, and the targets each rate is
//! compared with (the regulators' defaults, overridden per class and region).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{check_positive, parse_date, Problems, RatesConfig};
use crate::schema::{self, CLASSES};

/// Zhejiang's sentinel-hospital targets: at least 40% new-or-serious, 18% serious.
pub const DEFAULT_NEW_OR_SERIOUS_SHARE: f64 = 0.40;
pub const DEFAULT_SERIOUS_SHARE: f64 = 0.18;

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
    /// Whether a region at some level is inside the configured `regions` filter (the
    /// scope's predicate: `330000` covers `33xxxx`, `330100` covers `3301xx`, a district
    /// covers itself).
    pub fn includes(&self, code: &str) -> bool {
        self.regions
            .as_deref()
            .is_none_or(|list| super::scope::covers(list, code))
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

pub(super) fn validate_rates(raw: RatesConfig, p: &mut Problems) -> Rates {
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

    let as_of = raw
        .as_of
        .and_then(|super::raw::DateText(s)| match parse_date(&s) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
