//! Terms: events as reported → MedDRA PTs, and PTs → the groups that signals count at
//! (`signals.levels`).
//!
//! Reads the MedDRA release folder of `[terms] meddra` ([`meddra`]) and ingest's
//! `event_terms` (`event`, and the optional `pt`, `soc`, `term_version`). Writes nothing;
//! `signals::levels` maps each case's events to their groups with [`TermIndex::groups`],
//! and the manifest and the review page show [`TermsReport`].
//!
//! An event maps to a PT in this order: its `event_terms` row's `pt` (a centre's legacy
//! term → MedDRA list), else the event itself; that term is then looked up in the release
//! as an LLT or PT code, or an LLT or PT name (ignoring case). Without a release, an
//! `event_terms` `pt` is taken as the PT as given. An event that maps to nothing is
//! **unmapped**: it is counted and listed ([`TermsReport`]), and at `pt` level its signal
//! rows use the raw term with `term_mapped = false`; it has no HLT, HLGT, SOC or SMQ.

pub mod meddra;

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use crate::config::TermLevel;
use crate::error::{PolarsContext, Result};
use crate::schema::col;
pub use meddra::{Meddra, SmqScope};

/// How many unmapped terms the manifest lists (all are counted).
pub const UNMAPPED_LISTED: usize = 200;

/// One group of a level that an event belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The `event` of the signal row: the PT code at `pt` level (the raw term when
    /// unmapped), `hlt:<code>`, `hlgt:<code>`, `soc:<code>` or `smq:<code>` above it, so
    /// that a (product, event) key names one row across levels.
    pub key: String,
    pub name: String,
    /// The primary SOC's name.
    pub soc: Option<String>,
    pub mapped: bool,
}

/// What an event maps to.
#[derive(Debug, Clone, PartialEq)]
enum Mapped {
    /// A PT of the release, and the LLT code when the term was an LLT code.
    Pt {
        pt: u64,
        llt: Option<u64>,
    },
    /// A PT given by `event_terms` with no release to check it against.
    Given(String),
    Unmapped,
}

/// The release and the user's mapping, ready to resolve events.
#[derive(Debug, Clone)]
pub struct TermIndex {
    pub meddra: Option<Meddra>,
    pub smq_scope: SmqScope,
    /// `event_terms`: event → pt, for rows that give one.
    mapping: HashMap<String, String>,
    /// Distinct `term_version`s of `event_terms`.
    pub mapping_versions: Vec<String>,
}

impl TermIndex {
    /// Load the release named by `[terms]` (if any) and index `event_terms`' `pt` column.
    /// `need_smq`: the SMQ files must be there (`smq` is one of the levels).
    pub fn load(
        terms: &crate::config::Terms,
        event_terms: Option<&DataFrame>,
        need_smq: bool,
    ) -> Result<TermIndex> {
        let meddra = match &terms.meddra {
            Some(dir) => Some(Meddra::load(dir, need_smq)?),
            None => None,
        };
        Self::new(meddra, terms.smq_scope, event_terms)
    }

    pub fn new(
        meddra: Option<Meddra>,
        smq_scope: SmqScope,
        event_terms: Option<&DataFrame>,
    ) -> Result<TermIndex> {
        let ctx = || "terms: reading event_terms".to_string();
        let mut mapping = HashMap::new();
        let mut versions = Vec::new();
        if let Some(t) = event_terms {
            let strs = |name: &str| -> Result<Option<StringChunked>> {
                match t.column(name) {
                    Err(_) => Ok(None),
                    Ok(c) => Ok(Some(
                        c.cast(&DataType::String)
                            .context(ctx)?
                            .str()
                            .context(ctx)?
                            .clone(),
                    )),
                }
            };
            let events = strs(col::EVENT)?;
            if let (Some(events), Some(pts)) = (events, strs(col::PT)?) {
                for (e, p) in events.iter().zip(pts.iter()) {
                    if let (Some(e), Some(p)) = (e, p) {
                        mapping.insert(e.to_string(), p.to_string());
                    }
                }
            }
            if let Some(v) = strs(col::TERM_VERSION)? {
                let mut v: Vec<String> = v.iter().flatten().map(str::to_string).collect();
                v.sort_unstable();
                v.dedup();
                versions = v;
            }
        }
        Ok(TermIndex {
            meddra,
            smq_scope,
            mapping,
            mapping_versions: versions,
        })
    }

    fn resolve(&self, event: &str) -> Mapped {
        let given = self.mapping.get(event);
        let term = given.map(String::as_str).unwrap_or(event);
        match &self.meddra {
            Some(m) => match m.pt_of(term) {
                Some(pt) => {
                    let llt = term
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|c| m.llt.contains_key(c));
                    Mapped::Pt { pt, llt }
                }
                None => Mapped::Unmapped,
            },
            None => match given {
                Some(g) => Mapped::Given(g.clone()),
                None => Mapped::Unmapped,
            },
        }
    }

    /// Whether an event maps to a PT.
    pub fn is_mapped(&self, event: &str) -> bool {
        self.resolve(event) != Mapped::Unmapped
    }

    /// The groups of `level` that `event` belongs to: one at `event` and `pt` level, at
    /// most one at HLT, HLGT and SOC level (the PT's primary path), any number of SMQs,
    /// and none above PT for an unmapped event.
    pub fn groups(&self, level: TermLevel, event: &str) -> Vec<Group> {
        let mapped = self.resolve(event);
        let m = self.meddra.as_ref();
        let soc_name = |soc: u64| m.and_then(|m| m.soc.get(&soc).cloned());
        let pt_info = |pt: u64| {
            m.and_then(|m| m.pt.get(&pt))
                .map(|(name, soc)| (name.clone(), soc_name(*soc)))
        };
        let raw = |mapped: bool| Group {
            key: event.to_string(),
            name: event.to_string(),
            soc: None,
            mapped,
        };
        match (level, &mapped) {
            (TermLevel::Event, Mapped::Pt { pt, .. }) => {
                let (name, soc) = pt_info(*pt).unwrap_or_default();
                vec![Group {
                    name,
                    soc,
                    ..raw(true)
                }]
            }
            (TermLevel::Event, Mapped::Given(g)) => vec![Group {
                name: g.clone(),
                ..raw(true)
            }],
            (TermLevel::Event | TermLevel::Pt, Mapped::Unmapped) => vec![raw(false)],
            (TermLevel::Pt, Mapped::Pt { pt, .. }) => {
                let (name, soc) = pt_info(*pt).unwrap_or_default();
                vec![Group {
                    key: pt.to_string(),
                    name,
                    soc,
                    mapped: true,
                }]
            }
            (TermLevel::Pt, Mapped::Given(g)) => vec![Group {
                key: g.clone(),
                name: g.clone(),
                soc: None,
                mapped: true,
            }],
            (TermLevel::Hlt | TermLevel::Hlgt | TermLevel::Soc, Mapped::Pt { pt, .. }) => {
                let Some(m) = m else { return Vec::new() };
                let Some(path) = m.primary.get(pt) else {
                    return Vec::new();
                };
                let (code, name) = match level {
                    TermLevel::Hlt => (path.hlt, m.hlt.get(&path.hlt)),
                    TermLevel::Hlgt => (path.hlgt, m.hlgt.get(&path.hlgt)),
                    _ => (path.soc, m.soc.get(&path.soc)),
                };
                vec![Group {
                    key: format!("{}:{code}", level.name()),
                    name: name.cloned().unwrap_or_default(),
                    soc: soc_name(path.soc),
                    mapped: true,
                }]
            }
            (TermLevel::Smq, Mapped::Pt { pt, llt }) => {
                let Some(m) = m else { return Vec::new() };
                let Some(smqs) = &m.smqs else {
                    return Vec::new();
                };
                m.smqs_of(*pt, *llt, self.smq_scope)
                    .into_iter()
                    .map(|c| Group {
                        key: format!("smq:{c}"),
                        name: smqs[&c].name.clone(),
                        soc: None,
                        mapped: true,
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

/// An unmapped term and the cases that report it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnmappedTerm {
    pub event: String,
    pub cases: u64,
}

/// The terms of a run, for the manifest (`terms`) and the review page's data quality.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TermsReport {
    /// The MedDRA version (`meddra_release.asc`, or the folder's name).
    pub meddra_version: Option<String>,
    pub meddra_version_source: Option<&'static str>,
    pub meddra_folder: Option<String>,
    /// The previous run's `meddra_version`, and whether this run's differs from it.
    pub previous_meddra_version: Option<String>,
    pub meddra_version_changed: bool,
    /// The `term_version`s of `event_terms`.
    pub event_terms_versions: Vec<String>,
    pub smq_scope: SmqScope,
    pub levels: Vec<&'static str>,
    /// Distinct events of the cases, and how many map to a PT.
    pub distinct_events: u64,
    pub mapped_events: u64,
    pub unmapped_events: u64,
    /// Cases with at least one unmapped event.
    pub cases_with_unmapped: u64,
    /// The unmapped terms, most cases first (at most [`UNMAPPED_LISTED`]).
    pub unmapped: Vec<UnmappedTerm>,
}

impl TermsReport {
    /// Count the mapped and unmapped events of `case_events` (`__case`, `event`).
    pub fn of(
        index: &TermIndex,
        case_events: &DataFrame,
        levels: &[TermLevel],
    ) -> Result<TermsReport> {
        let ctx = || "terms: counting unmapped events".to_string();
        let per_event = case_events
            .clone()
            .lazy()
            .select([col(col::CASE_KEY), col(col::EVENT)])
            .unique(None, UniqueKeepStrategy::Any)
            .group_by([col(col::EVENT)])
            .agg([len().alias("__cases")])
            .collect()
            .context(ctx)?;
        let events = per_event
            .column(col::EVENT)
            .context(ctx)?
            .str()
            .context(ctx)?;
        let cases = per_event
            .column("__cases")
            .and_then(|c| c.cast(&DataType::UInt64))
            .context(ctx)?;
        let cases = cases.u64().context(ctx)?;
        let mut unmapped = Vec::new();
        let mut mapped = 0u64;
        let mut unmapped_set = Vec::new();
        for (e, n) in events.iter().zip(cases.iter()) {
            let (Some(e), Some(n)) = (e, n) else { continue };
            if index.is_mapped(e) {
                mapped += 1;
            } else {
                unmapped.push(UnmappedTerm {
                    event: e.to_string(),
                    cases: n,
                });
                unmapped_set.push(e.to_string());
            }
        }
        unmapped.sort_by(|x, y| y.cases.cmp(&x.cases).then_with(|| x.event.cmp(&y.event)));
        let n_unmapped = unmapped.len() as u64;
        unmapped.truncate(UNMAPPED_LISTED);
        let cases_with_unmapped = if unmapped_set.is_empty() {
            0
        } else {
            let set = Series::new("__u".into(), unmapped_set);
            case_events
                .clone()
                .lazy()
                .filter(col(col::EVENT).is_in(lit(set).implode(false), false))
                .select([col(col::CASE_KEY).n_unique().alias("__n")])
                .collect()
                .context(ctx)?
                .column("__n")
                .and_then(|c| c.cast(&DataType::UInt64))
                .context(ctx)?
                .u64()
                .context(ctx)?
                .get(0)
                .unwrap_or(0)
        };
        let m = index.meddra.as_ref();
        Ok(TermsReport {
            meddra_version: m.map(|m| m.version.clone()),
            meddra_version_source: m.map(|m| m.version_source),
            meddra_folder: m.map(|m| m.folder.display().to_string()),
            previous_meddra_version: None,
            meddra_version_changed: false,
            event_terms_versions: index.mapping_versions.clone(),
            smq_scope: index.smq_scope,
            levels: levels.iter().map(|l| l.name()).collect(),
            distinct_events: mapped + n_unmapped,
            mapped_events: mapped,
            unmapped_events: n_unmapped,
            cases_with_unmapped,
            unmapped,
        })
    }

    /// Compare with the previous run's manifest in `previous_dir` (its `terms.meddra_version`),
    /// and warn when the MedDRA version changed: counts at a level may move because the
    /// hierarchy did, not the reports.
    pub fn compare_with_previous(&mut self, previous_dir: &Path) {
        let prev = std::fs::read_to_string(previous_dir.join("manifest.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| {
                v.get("terms")?
                    .get("meddra_version")?
                    .as_str()
                    .map(str::to_string)
            });
        self.meddra_version_changed = match (&prev, &self.meddra_version) {
            (Some(p), Some(v)) => p != v,
            _ => false,
        };
        if self.meddra_version_changed {
            tracing::warn!(
                previous = prev.as_deref().unwrap_or(""),
                current = self.meddra_version.as_deref().unwrap_or(""),
                "the MedDRA version differs from the previous run's: counts at the PT, HLT, HLGT, SOC and SMQ levels may change with the hierarchy, not only with the reports"
            );
        }
        self.previous_meddra_version = prev;
    }
}

/// The MedDRA release of a pipeline (`[terms] meddra`), read and checked; `None` without
/// one. Read before any input, so a broken release fails the run at once (exit 2).
pub fn load_release(pipeline: &crate::config::Pipeline) -> Result<Option<Meddra>> {
    let Some(dir) = pipeline.terms.as_ref().and_then(|t| t.meddra.as_ref()) else {
        return Ok(None);
    };
    let need_smq = pipeline
        .signals
        .levels
        .as_ref()
        .is_some_and(|l| l.contains(&TermLevel::Smq));
    let m = Meddra::load(dir, need_smq)?;
    tracing::info!(
        version = %m.version,
        source = m.version_source,
        llts = m.llt.len(),
        pts = m.pt.len(),
        smqs = m.smqs.as_ref().map(|s| s.len()).unwrap_or(0),
        "MedDRA release read"
    );
    Ok(Some(m))
}

/// The index a run maps events with, and its report, when the pipeline has `[terms]` or
/// `signals.levels`: `(None, None)` otherwise (the signals of today).
pub fn index_for_run(
    pipeline: &crate::config::Pipeline,
    release: Option<Meddra>,
    data: &crate::ingest::Dataset,
) -> Result<(Option<TermIndex>, Option<TermsReport>)> {
    if pipeline.terms.is_none() && pipeline.signals.levels.is_none() {
        return Ok((None, None));
    }
    let scope = pipeline
        .terms
        .as_ref()
        .map(|t| t.smq_scope)
        .unwrap_or(SmqScope::Narrow);
    let index = TermIndex::new(release, scope, data.event_terms.as_ref())?;
    let report = match &pipeline.terms {
        Some(_) => Some(TermsReport::of(
            &index,
            &data.case_events,
            pipeline.signals.levels.as_deref().unwrap_or(&[]),
        )?),
        None => None,
    };
    Ok((Some(index), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(scope: SmqScope, mapping: Option<DataFrame>) -> TermIndex {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/meddra-synthetic");
        TermIndex::new(
            Some(Meddra::load(&dir, true).unwrap()),
            scope,
            mapping.as_ref(),
        )
        .unwrap()
    }

    fn keys(i: &TermIndex, level: TermLevel, e: &str) -> Vec<String> {
        i.groups(level, e).into_iter().map(|g| g.key).collect()
    }

    fn mapping() -> DataFrame {
        df!(
            col::EVENT => ["皮痒", "头痛（旧）"],
            col::PT => [Some("Synthetic pruritus"), None],
            col::TERM_VERSION => ["centre-2024", "centre-2024"],
        )
        .unwrap()
    }

    #[test]
    fn events_roll_up_to_their_groups() {
        let i = index(SmqScope::Narrow, Some(mapping()));
        let (pt, hlt, soc, smq) = (
            TermLevel::Pt,
            TermLevel::Hlt,
            TermLevel::Soc,
            TermLevel::Smq,
        );
        assert_eq!(keys(&i, pt, "90002001"), ["90001001"]);
        assert_eq!(keys(&i, hlt, "Synthetic head pain"), ["hlt:90000201"]);
        assert_eq!(keys(&i, TermLevel::Hlgt, "90001002"), ["hlgt:90000101"]);
        assert_eq!(keys(&i, soc, "90001004"), ["soc:90000002"]);
        assert_eq!(keys(&i, smq, "90001004"), ["smq:20000002", "smq:20000003"]);
        assert_eq!(keys(&i, smq, "90001002"), Vec::<String>::new());
        // The centre's legacy term maps through its `pt`.
        assert_eq!(keys(&i, pt, "皮痒"), ["90001004"]);
        let g = &i.groups(hlt, "皮痒")[0];
        assert_eq!(
            (g.name.as_str(), g.soc.as_deref()),
            ("Synthetic rashes", Some("Synthetic skin disorders"))
        );
        assert_eq!(i.mapping_versions, ["centre-2024"]);
        // Unmapped: the raw term at event and PT level, flagged; nothing above.
        for l in [TermLevel::Event, pt] {
            let g = i.groups(l, "头痛（旧）");
            assert_eq!(g.len(), 1);
            assert_eq!(
                (g[0].key.as_str(), g[0].mapped, g[0].soc.as_ref()),
                ("头痛（旧）", false, None)
            );
        }
        for l in [hlt, TermLevel::Hlgt, soc, smq] {
            assert!(i.groups(l, "头痛（旧）").is_empty());
        }
        // Event level keeps the raw key and names its PT.
        let g = &i.groups(TermLevel::Event, "90002002")[0];
        assert_eq!(
            (g.key.as_str(), g.name.as_str(), g.mapped),
            ("90002002", "Synthetic headache", true)
        );
    }

    #[test]
    fn broad_scope_adds_broad_terms() {
        let i = index(SmqScope::Broad, None);
        assert_eq!(
            keys(&i, TermLevel::Smq, "Synthetic migraine"),
            ["smq:20000001"]
        );
    }

    #[test]
    fn without_a_release_the_given_pt_is_taken_as_it_is() {
        let i = TermIndex::new(None, SmqScope::Narrow, Some(&mapping())).unwrap();
        assert_eq!(keys(&i, TermLevel::Pt, "皮痒"), ["Synthetic pruritus"]);
        assert!(i.groups(TermLevel::Pt, "皮痒")[0].mapped);
        assert!(!i.groups(TermLevel::Pt, "90001001")[0].mapped);
        assert!(i.groups(TermLevel::Hlt, "皮痒").is_empty());
    }

    #[test]
    fn report_counts_and_lists_unmapped_terms() {
        let i = index(SmqScope::Narrow, Some(mapping()));
        let ce = df!(
            col::CASE_KEY => [0u32, 0, 1, 2, 2, 3],
            col::EVENT => ["90002001", "头痛（旧）", "头痛（旧）", "zzz", "zzz", "皮痒"],
        )
        .unwrap();
        let r = TermsReport::of(&i, &ce, &[TermLevel::Pt]).unwrap();
        assert_eq!(
            (r.distinct_events, r.mapped_events, r.unmapped_events),
            (4, 2, 2)
        );
        // Cases 0, 1 and 2; case 2 lists `zzz` twice and counts once.
        assert_eq!(r.cases_with_unmapped, 3);
        assert_eq!(
            r.unmapped,
            [
                UnmappedTerm {
                    event: "头痛（旧）".into(),
                    cases: 2
                },
                UnmappedTerm {
                    event: "zzz".into(),
                    cases: 1
                }
            ]
        );
        assert_eq!(r.meddra_version.as_deref(), Some("99.0"));
    }

    #[test]
    fn version_change_against_the_previous_manifest() {
        let i = index(SmqScope::Narrow, None);
        let ce = df!(col::CASE_KEY => [0u32], col::EVENT => ["90001001"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"terms":{"meddra_version":"98.1"}}"#,
        )
        .unwrap();
        let mut r = TermsReport::of(&i, &ce, &[]).unwrap();
        r.compare_with_previous(dir.path());
        assert_eq!(
            (
                r.previous_meddra_version.as_deref(),
                r.meddra_version_changed
            ),
            (Some("98.1"), true)
        );
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"terms":{"meddra_version":"99.0"}}"#,
        )
        .unwrap();
        r.compare_with_previous(dir.path());
        assert!(!r.meddra_version_changed);
        // A previous run without terms: nothing to compare.
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        r.compare_with_previous(dir.path());
        assert_eq!(
            (
                r.previous_meddra_version.as_deref(),
                r.meddra_version_changed
            ),
            (None, false)
        );
    }
}
