//! The read side of the review app (`pvwatch serve`): every published period of one
//! output folder, as typed answers to the queue, signal, case, rates and screening
//! questions. A pure data layer: no HTTP, no database, no writes.
//!
//! **Periods.** A period is a folder `period=<label>/` (or, from before the hive layout,
//! a bare `<label>/`) of the output folder that holds a `manifest.json`; when one period
//! has both, the `period=` folder is read (as [`crate::ingest::previous`] does; both use
//! [`crate::output::parse_period_folder`]). Staging folders (`.period=…​.tmp-…`, `.old-`,
//! `.trash-`) start with a dot and are never periods. With a pipeline name, only periods
//! whose manifest names that pipeline are served.
//!
//! **Reloading.** Each answer first calls [`Catalog::refresh`], which at most every
//! [`Catalog::with_check_interval`] (2 s by default) lists the period folders and stats
//! their manifests (folder inode, manifest size and mtime): a period published by
//! `pvwatch run` appears, a rerun replaces its period, a removed one goes, with no restart.
//! A period is read consistently: every file is opened (the handles pin the inodes) and the
//! folder is checked to be the same folder before and after; a publish swaps folders
//! atomically (`output::publish`), so a read that straddles a swap is retried.
//!
//! **Memory.** Per period the catalog holds the alerts (a polars frame plus a compact
//! index for filtering and sorting), signals, rates and screening tables. `cases.parquet`,
//! the one table that grows with the background, is read only when a case series or case
//! is asked for, and at most [`CASE_TABLES_KEPT`] periods' case tables are kept.
//!
//! **Region scope.** Every answer takes a [`RegionScope`]: `None` (every region) or one
//! GB/T 2260 code, matched with [`crate::config::scope::covers`]. Rows with a region are
//! shown only when the code covers it; rows with no region (a signal or alert over the
//! pipeline's whole scope, the screening list) are shown to everyone, but the cases
//! behind them are filtered to the scope.

mod cursor;
mod detail;
mod load;
mod queue;
mod value;
mod versions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use detail::{
    CaseDetail, CaseSeriesItem, CaseVersion, SignalDetail, SignalPeriod, CASE_SERIES_COLUMNS,
    OTHER_SUSPECT_PRODUCTS,
};
pub use load::PeriodInfo;
pub use queue::{AlertPage, AlertQuery, SortKey, Subjects};
pub use value::Row;
pub use versions::{FROM_CASE_VERSIONS, FROM_LATEST_ONLY};

use load::{Fingerprint, LoadedPeriod};

/// How many periods' `cases.parquet` tables are kept in memory at once.
pub const CASE_TABLES_KEPT: usize = 2;

/// The default time between two checks of the output folder.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// What a user may see: every region, or the regions one GB/T 2260 code covers (a
/// province code its province, a city code its city, a county code itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionScope(Option<String>);

impl RegionScope {
    /// Every region.
    pub fn all() -> RegionScope {
        RegionScope(None)
    }

    /// The regions `code` covers; `code` must be a 6-digit GB/T 2260 code.
    pub fn region(code: &str) -> Result<RegionScope, CatalogError> {
        if !crate::schema::is_region_code(code) {
            return Err(CatalogError::invalid(
                "region",
                format!("expected a 6-digit GB/T 2260 region code, found `{code}`"),
            ));
        }
        Ok(RegionScope(Some(code.to_string())))
    }

    /// The code, when the scope is restricted.
    pub fn code(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether a row of `region` is visible: a row with no region is (it covers the
    /// pipeline's whole scope); a row with one, when the scope covers it.
    pub fn sees(&self, region: Option<&str>) -> bool {
        match (&self.0, region) {
            (None, _) | (Some(_), None) => true,
            (Some(code), Some(r)) => crate::config::scope::covers(std::slice::from_ref(code), r),
        }
    }

    /// Whether a case of `region` is visible: a case always has a region, and a case
    /// whose region is unknown is shown only to users of every region.
    pub fn sees_case(&self, region: Option<&str>) -> bool {
        match (&self.0, region) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), r) => self.sees(r),
        }
    }
}

/// Why the catalog cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such period, alert, signal or case, or it is outside the user's region (the
    /// two are not told apart, so that an id does not leak what is out of scope).
    #[error("not found: {0}")]
    NotFound(String),
    /// A filter, sort or cursor value that cannot be used: which field and why.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A published file that does not read back: the file and what is wrong.
    #[error("{}: {message}", path.display())]
    Damaged { path: PathBuf, message: String },
    /// The output folder cannot be listed.
    #[error("{}: cannot list the output folder: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CatalogError {
    fn invalid(field: &'static str, message: impl Into<String>) -> CatalogError {
        CatalogError::Invalid {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The published periods of one output folder, reloaded as they change.
pub struct Catalog {
    out_dir: PathBuf,
    pipeline: Option<String>,
    check_interval: Duration,
    state: RwLock<State>,
    /// Case tables read on demand: (folder, fingerprint) → table, most recent last.
    cases: Mutex<Vec<(PathBuf, Fingerprint, Arc<load::CaseTable>)>>,
}

#[derive(Default)]
struct State {
    checked: Option<Instant>,
    /// By period start, then end: oldest first.
    periods: BTreeMap<(i32, i32), Arc<LoadedPeriod>>,
}

impl Catalog {
    /// A catalog of `out_dir` (a pipeline's output folder), serving the periods whose
    /// manifest names `pipeline` (every period when `None`). Reads every period now: a
    /// damaged one is an error naming its file.
    pub fn open(out_dir: impl Into<PathBuf>, pipeline: Option<&str>) -> Result<Catalog> {
        let catalog = Catalog {
            out_dir: out_dir.into(),
            pipeline: pipeline.map(str::to_string),
            check_interval: DEFAULT_CHECK_INTERVAL,
            state: RwLock::new(State::default()),
            cases: Mutex::new(Vec::new()),
        };
        catalog.refresh_now()?;
        Ok(catalog)
    }

    /// Check the output folder at most once per `interval` (zero: on every call).
    pub fn with_check_interval(mut self, interval: Duration) -> Catalog {
        self.check_interval = interval;
        self
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Pick up new, replaced and removed periods, unless the folder was checked less than
    /// the check interval ago.
    pub fn refresh(&self) -> Result<()> {
        let due = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            state
                .checked
                .is_none_or(|t| t.elapsed() >= self.check_interval)
        };
        if due {
            self.refresh_now()?;
        }
        Ok(())
    }

    /// Check the output folder now and reload what changed.
    pub fn refresh_now(&self) -> Result<()> {
        let found = load::list_periods(&self.out_dir, self.pipeline.as_deref())?;
        let current: BTreeMap<(i32, i32), Arc<LoadedPeriod>> = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            state.periods.clone()
        };
        let mut next = BTreeMap::new();
        for f in found {
            let key = f.key();
            let same = current
                .get(&key)
                .filter(|p| p.info.folder == f.dir && p.fingerprint == f.fingerprint);
            let period = match same {
                Some(p) => p.clone(),
                None => Arc::new(load::load_period(&f)?),
            };
            next.insert(key, period);
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.periods = next;
        state.checked = Some(Instant::now());
        Ok(())
    }

    /// The published periods, oldest first.
    pub fn periods(&self) -> Result<Vec<PeriodInfo>> {
        self.refresh()?;
        Ok(self.snapshot().iter().map(|p| p.info.clone()).collect())
    }

    /// The periods as loaded now, oldest first (a consistent snapshot for one answer).
    fn snapshot(&self) -> Vec<Arc<LoadedPeriod>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.periods.values().cloned().collect()
    }

    /// The period labelled `label`, or the latest when `None`.
    fn period(&self, label: Option<&str>) -> Result<Arc<LoadedPeriod>> {
        self.refresh()?;
        let all = self.snapshot();
        match label {
            None => all
                .last()
                .cloned()
                .ok_or_else(|| CatalogError::NotFound("no published period".into())),
            Some(l) => all
                .iter()
                .find(|p| p.info.label == l)
                .cloned()
                .ok_or_else(|| CatalogError::NotFound(format!("period `{l}`"))),
        }
    }

    /// A period's case table, when it is kept (never reads it).
    fn kept_case_table(&self, period: &LoadedPeriod) -> Option<Arc<load::CaseTable>> {
        let kept = self.cases.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .find(|(d, f, _)| *d == period.info.folder && *f == period.fingerprint)
            .map(|(_, _, t)| t.clone())
    }

    /// The case table of a period: read on first use, kept for the most recent
    /// [`CASE_TABLES_KEPT`] periods. A period replaced since it was loaded is reloaded.
    fn case_table(&self, period: &LoadedPeriod) -> Result<Arc<load::CaseTable>> {
        {
            let mut kept = self.cases.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = kept
                .iter()
                .position(|(d, f, _)| *d == period.info.folder && *f == period.fingerprint)
            {
                let hit = kept.remove(i);
                let table = hit.2.clone();
                kept.push(hit);
                return Ok(table);
            }
        }
        let table = Arc::new(load::load_cases(period)?);
        let mut kept = self.cases.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|(d, _, _)| *d != period.info.folder);
        kept.push((
            period.info.folder.clone(),
            period.fingerprint.clone(),
            table.clone(),
        ));
        while kept.len() > CASE_TABLES_KEPT {
            kept.remove(0);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_sees_its_regions_and_rows_without_one() {
        let city = RegionScope::region("330300").unwrap();
        assert!(city.sees(Some("330302")), "a county of the city");
        assert!(city.sees(Some("330300")));
        assert!(!city.sees(Some("330100")), "another city");
        assert!(!city.sees(Some("330000")), "the province's own row");
        assert!(city.sees(None), "a row over the whole scope");
        assert!(
            !city.sees_case(None),
            "a case with no region: only for every region"
        );
        let province = RegionScope::region("330000").unwrap();
        assert!(province.sees(Some("330100")) && !province.sees(Some("310000")));
        let all = RegionScope::all();
        assert!(all.sees(Some("110000")) && all.sees_case(None));
        let e = RegionScope::region("3303").unwrap_err().to_string();
        assert_eq!(
            e,
            "region: expected a 6-digit GB/T 2260 region code, found `3303`"
        );
    }

    #[test]
    fn region_names_match_chinese_names_only() {
        let codes = crate::regions::codes_named("温州");
        assert!(codes.contains(&"330300".to_string()), "{codes:?}");
        assert!(codes.iter().all(|c| c.starts_with("3303")), "{codes:?}");
        assert!(
            crate::regions::codes_named("Wenzhou").is_empty(),
            "no pinyin in the list"
        );
    }
}
