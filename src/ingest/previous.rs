//! The previous run of a pipeline: the alerts and screening list it published.
//!
//! The previous run is the published output, in the same output folder and of the same
//! pipeline (by `name` in its manifest), of the latest period that starts before this
//! run's period. A rerun of a period is therefore compared with the same earlier period
//! as its first run, never with its own earlier outputs: reruns are idempotent.

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::alerts::Alert;
use crate::error::{Error, PolarsContext, Result};
use crate::period::Period;

pub struct PreviousRun {
    pub period: String,
    pub dir: PathBuf,
    pub alerts: Vec<Alert>,
    pub screening: Option<DataFrame>,
}

/// Find and read the previous run, if there is one.
pub fn load_previous(
    out_dir: &Path,
    pipeline: &str,
    period: &Period,
) -> Result<Option<PreviousRun>> {
    let Ok(entries) = fs::read_dir(out_dir) else {
        return Ok(None); // no output folder yet: a first run
    };
    let mut best: Option<(Period, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(p) = name.parse::<Period>() else {
            continue; // staging folders and anything else
        };
        if p.start() >= period.start() || !entry.path().is_dir() {
            continue;
        }
        let manifest = entry.path().join("manifest.json");
        let Ok(text) = fs::read_to_string(&manifest) else {
            continue; // not a published run
        };
        let same_pipeline = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["pipeline"]["name"].as_str().map(|n| n == pipeline))
            .unwrap_or(false);
        if !same_pipeline {
            continue;
        }
        let later = best
            .as_ref()
            .is_none_or(|(b, _)| (p.start(), p.end()) > (b.start(), b.end()));
        if later {
            best = Some((p, entry.path()));
        }
    }
    let Some((p, dir)) = best else {
        return Ok(None);
    };
    let alerts_path = dir.join("alerts.jsonl");
    let mut alerts = Vec::new();
    if alerts_path.is_file() {
        let f = fs::File::open(&alerts_path).map_err(|e| Error::io(&alerts_path, e))?;
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| Error::io(&alerts_path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let a: Alert = serde_json::from_str(&line).map_err(|e| {
                Error::input(
                    &alerts_path,
                    format!("line {}: not an alert of the previous run: {e}", i + 1),
                )
            })?;
            alerts.push(a);
        }
    }
    let screening_path = dir.join("screening.parquet");
    let screening = if screening_path.is_file() {
        let f = fs::File::open(&screening_path).map_err(|e| Error::io(&screening_path, e))?;
        Some(ParquetReader::new(f).finish().context(|| {
            format!(
                "{}: reading the previous screening list",
                screening_path.display()
            )
        })?)
    } else {
        None
    };
    Ok(Some(PreviousRun {
        period: p.to_string(),
        dir,
        alerts,
        screening,
    }))
}
