//! Finding the published periods of an output folder and reading one consistently.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::queue::AlertIndex;
use super::value::str_column;
use super::{CatalogError, Result};
use crate::output::{parse_period_folder, FolderLayout, ALERTS_PARQUET, MANIFEST};
use crate::period::Period;
use crate::schema::col;

pub const SIGNALS_PARQUET: &str = "signals.parquet";
pub const RATES_PARQUET: &str = "rates.parquet";
pub const SCREENING_PARQUET: &str = "screening.parquet";
pub const CASES_PARQUET: &str = "cases.parquet";

/// What tells one published folder from another: the folder's device and inode (a
/// publish swaps in a new folder), the manifest's size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    manifest_len: u64,
    manifest_mtime_ns: i128,
}

impl Fingerprint {
    /// A short text that changes when the folder is republished (for cursors).
    pub fn token(&self) -> String {
        super::cursor::digest(&format!("{self:?}"))
    }
}

fn fingerprint(dir: &Path) -> std::io::Result<Fingerprint> {
    let d = fs::metadata(dir)?;
    let m = fs::metadata(dir.join(MANIFEST))?;
    Ok(Fingerprint {
        dev: d.dev(),
        ino: d.ino(),
        manifest_len: m.len(),
        manifest_mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// A published period folder as listed.
pub struct Found {
    pub period: Period,
    pub dir: PathBuf,
    pub fingerprint: Fingerprint,
}

impl Found {
    pub fn key(&self) -> (i32, i32) {
        (
            self.period.start().num_days_from_ce(),
            self.period.end().num_days_from_ce(),
        )
    }
}

use chrono::Datelike;

/// A published period as the catalog shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeriodInfo {
    /// `2025-Q3`, `2025-07`, `2025`.
    pub label: String,
    pub start: String,
    pub end: String,
    /// The folder read (`…/period=2025-Q3` or an old bare `…/2025-Q3`).
    pub folder: PathBuf,
    /// The manifest's `pipeline.name`.
    pub pipeline: Option<String>,
    /// The manifest's `data_cutoff`.
    pub data_cutoff: Option<String>,
    /// When the run started (`started_at`): tells two runs of one period apart.
    pub started_at: Option<String>,
    pub alerts: usize,
}

/// List the published periods of `out_dir` (of `pipeline`, when given), one folder per
/// period: the `period=` folder over a bare one. A missing output folder has none.
pub fn list_periods(out_dir: &Path, pipeline: Option<&str>) -> Result<Vec<Found>> {
    let entries = match fs::read_dir(out_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CatalogError::Io {
                path: out_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut best: HashMap<String, (FolderLayout, Found)> = HashMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((period, layout)) = parse_period_folder(&name) else {
            continue; // staging folders (they start with a dot) and anything else
        };
        let dir = entry.path();
        // A folder mid-swap or without a manifest is not (yet) published.
        let Ok(fingerprint) = fingerprint(&dir) else {
            continue;
        };
        if let Some(want) = pipeline {
            let manifest = dir.join(MANIFEST);
            if read_manifest(&manifest)?["pipeline"]["name"].as_str() != Some(want) {
                continue;
            }
        }
        let label = period.to_string();
        if best.get(&label).is_some_and(|(l, _)| *l >= layout) {
            continue;
        }
        best.insert(
            label,
            (
                layout,
                Found {
                    period,
                    dir,
                    fingerprint,
                },
            ),
        );
    }
    Ok(best.into_values().map(|(_, f)| f).collect())
}

fn damaged(path: &Path, message: impl Into<String>) -> CatalogError {
    CatalogError::Damaged {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_manifest(path: &Path) -> Result<serde_json::Value> {
    let text = fs::read_to_string(path).map_err(|e| damaged(path, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| damaged(path, format!("not JSON: {e}")))
}

/// Read a Parquet file from an open handle; a damaged file is an error, never a panic.
fn read_parquet(path: &Path, f: File) -> Result<DataFrame> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ParquetReader::new(f).finish()
    }))
    .map_err(|_| damaged(path, "not a readable Parquet file"))?
    .map_err(|e| damaged(path, format!("not a readable Parquet file: {e}")))
}

/// Open `files` of `dir` so that they all come from one published folder: the folder's
/// fingerprint is the same before and after (a publish in between is retried). A file
/// that is not there is `None`.
fn open_consistent(dir: &Path, files: &[&str]) -> Result<(Fingerprint, Vec<Option<File>>)> {
    for _ in 0..5 {
        let before = fingerprint(dir).map_err(|e| damaged(&dir.join(MANIFEST), e.to_string()))?;
        let handles: Vec<Option<File>> =
            files.iter().map(|f| File::open(dir.join(f)).ok()).collect();
        let after = fingerprint(dir).map_err(|e| damaged(&dir.join(MANIFEST), e.to_string()))?;
        if before == after {
            return Ok((before, handles));
        }
    }
    Err(damaged(
        dir,
        "the folder kept changing while it was read (a run publishing it?); try again",
    ))
}

/// One period, loaded: everything but the cases.
pub struct LoadedPeriod {
    pub info: PeriodInfo,
    pub fingerprint: Fingerprint,
    pub alerts: AlertIndex,
    pub signals: Option<DataFrame>,
    /// (class, product_id, event) → row of `signals`.
    pub signal_rows: HashMap<(String, String, String), usize>,
    pub rates: Option<DataFrame>,
    pub screening: Option<DataFrame>,
}

pub fn load_period(found: &Found) -> Result<LoadedPeriod> {
    let dir = &found.dir;
    let names = [
        MANIFEST,
        ALERTS_PARQUET,
        SIGNALS_PARQUET,
        RATES_PARQUET,
        SCREENING_PARQUET,
    ];
    let (fingerprint, mut handles) = open_consistent(dir, &names)?;
    let mut take = |i: usize| -> Result<Option<DataFrame>> {
        match handles[i].take() {
            None => Ok(None),
            Some(f) => read_parquet(&dir.join(names[i]), f).map(Some),
        }
    };
    let alerts = take(1)?;
    let signals = take(2)?;
    let rates = take(3)?;
    let screening = take(4)?;
    let manifest_path = dir.join(MANIFEST);
    let manifest: serde_json::Value = match handles[0].take() {
        Some(f) => serde_json::from_reader(std::io::BufReader::new(f))
            .map_err(|e| damaged(&manifest_path, format!("not JSON: {e}")))?,
        None => return Err(damaged(&manifest_path, "missing")),
    };
    let signal_rows = match &signals {
        Some(df) => signal_index(df).map_err(|e| damaged(&dir.join(SIGNALS_PARQUET), e))?,
        None => HashMap::new(),
    };
    let alerts = AlertIndex::build(alerts, signals.as_ref(), &signal_rows)
        .map_err(|e| damaged(&dir.join(ALERTS_PARQUET), e))?;
    let text = |k: &str| manifest[k].as_str().map(str::to_string);
    let info = PeriodInfo {
        label: found.period.to_string(),
        start: found.period.start().to_string(),
        end: found.period.end().to_string(),
        folder: dir.clone(),
        pipeline: manifest["pipeline"]["name"].as_str().map(str::to_string),
        data_cutoff: text("data_cutoff"),
        started_at: text("started_at"),
        alerts: alerts.len(),
    };
    Ok(LoadedPeriod {
        info,
        fingerprint,
        alerts,
        signals,
        signal_rows,
        rates,
        screening,
    })
}

fn signal_index(
    df: &DataFrame,
) -> std::result::Result<HashMap<(String, String, String), usize>, String> {
    let class = str_column(df, col::CLASS)?;
    let product = str_column(df, col::PRODUCT_ID)?;
    let event = str_column(df, col::EVENT)?;
    let mut rows = HashMap::with_capacity(df.height());
    for i in 0..df.height() {
        if let (Some(c), Some(p), Some(e)) = (&class[i], &product[i], &event[i]) {
            rows.insert((c.clone(), p.clone(), e.clone()), i);
        }
    }
    Ok(rows)
}

/// A period's `cases.parquet`, with its lookups.
pub struct CaseTable {
    pub df: DataFrame,
    /// The `case_id` column, when it is sorted (as published): a case by binary search.
    sorted_ids: bool,
    /// (product_id, event) → rows of the cases naming the product as suspect or
    /// interacting and having the event, for the products of the period's signals only.
    pub by_pair: HashMap<(String, String), Vec<IdxSize>>,
}

impl CaseTable {
    /// The row of a case, if the table holds it.
    pub fn find(&self, case_id: &str) -> Option<usize> {
        let ids = self.df.column(col::CASE_ID).ok()?.str().ok()?;
        if self.sorted_ids {
            let (mut lo, mut hi) = (0, ids.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                match ids.get(mid) {
                    Some(v) if v < case_id => lo = mid + 1,
                    _ => hi = mid,
                }
            }
            (ids.get(lo) == Some(case_id)).then_some(lo)
        } else {
            ids.iter().position(|v| v == Some(case_id))
        }
    }
}

pub fn load_cases(period: &LoadedPeriod) -> Result<CaseTable> {
    let dir = &period.info.folder;
    let path = dir.join(CASES_PARQUET);
    let (fp, mut handles) = open_consistent(dir, &[CASES_PARQUET])?;
    if fp != period.fingerprint {
        // Replaced since it was loaded: the next refresh reloads it; read nothing mixed.
        return Err(damaged(
            dir,
            "the period was republished while it was read; try again",
        ));
    }
    let Some(f) = handles[0].take() else {
        return Ok(CaseTable {
            df: DataFrame::empty(),
            sorted_ids: true,
            by_pair: HashMap::new(),
        });
    };
    let df = read_parquet(&path, f)?;
    let ids = df
        .column(col::CASE_ID)
        .and_then(|c| c.str().cloned())
        .map_err(|_| {
            damaged(
                &path,
                format!("column `{}`: expected strings", col::CASE_ID),
            )
        })?;
    let mut sorted_ids = true;
    let mut last: Option<&str> = None;
    for id in ids.iter() {
        if id.is_none() || (last.is_some() && id < last) {
            sorted_ids = false;
            break;
        }
        last = id;
    }
    let watched: std::collections::HashSet<&str> = period
        .signal_rows
        .keys()
        .map(|(_, p, _)| p.as_str())
        .collect();
    let by_pair = pair_index(&df, &watched).map_err(|e| damaged(&path, e))?;
    Ok(CaseTable {
        df,
        sorted_ids,
        by_pair,
    })
}

/// (row, value) for every value of a list-of-strings column.
fn exploded(df: &DataFrame, name: &str) -> std::result::Result<DataFrame, String> {
    let what = |e: PolarsError| format!("column `{name}`: {e}");
    df.select([name])
        .map_err(what)?
        .with_row_index("__row".into(), None)
        .map_err(what)?
        .explode(
            [name],
            ExplodeOptions {
                empty_as_null: false,
                keep_nulls: false,
            },
        )
        .map_err(what)
}

fn pair_index(
    df: &DataFrame,
    watched: &std::collections::HashSet<&str>,
) -> std::result::Result<HashMap<(String, String), Vec<IdxSize>>, String> {
    let mut products: HashMap<IdxSize, Vec<String>> = HashMap::new();
    let p = exploded(df, col::SUSPECT_PRODUCTS)?;
    let rows = p
        .column("__row")
        .and_then(|c| c.idx().cloned())
        .map_err(|e| e.to_string())?;
    let names = p
        .column(col::SUSPECT_PRODUCTS)
        .and_then(|c| c.str().cloned())
        .map_err(|e| format!("column `{}`: {e}", col::SUSPECT_PRODUCTS))?;
    for (row, product) in rows.iter().zip(names.iter()) {
        if let (Some(row), Some(product)) = (row, product) {
            if watched.contains(product) {
                products.entry(row).or_default().push(product.to_string());
            }
        }
    }
    let mut by_pair: HashMap<(String, String), Vec<IdxSize>> = HashMap::new();
    let e = exploded(df, col::EVENTS)?;
    let rows = e
        .column("__row")
        .and_then(|c| c.idx().cloned())
        .map_err(|e| e.to_string())?;
    let events = e
        .column(col::EVENTS)
        .and_then(|c| c.str().cloned())
        .map_err(|e| format!("column `{}`: {e}", col::EVENTS))?;
    for (row, event) in rows.iter().zip(events.iter()) {
        let (Some(row), Some(event)) = (row, event) else {
            continue;
        };
        let Some(ps) = products.get(&row) else {
            continue;
        };
        for product in ps {
            by_pair
                .entry((product.clone(), event.to_string()))
                .or_default()
                .push(row);
        }
    }
    Ok(by_pair)
}
