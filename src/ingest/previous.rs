//! The previous run of a pipeline: the alerts and screening list it published.
//!
//! The previous run is the published output, in the same output folder and of the same
//! pipeline (by `name` in its manifest), of the latest period that starts before this
//! run's period. A rerun of a period is therefore compared with the same earlier period
//! as its first run, never with its own earlier outputs: reruns are idempotent.
//!
//! Period folders are `period=<label>` (hive style); a folder of the layout before it,
//! `<label>`, is found too, so that the first run after an upgrade compares with the last
//! run before it. When one period has both, the `period=` folder is the one read.
//!
//! A previous run that is there but damaged (a manifest, `alerts.jsonl` or
//! `screening.parquet` that does not read back) is one error naming the file and the two
//! ways on: rerun that period, or run this one with `--no-previous`. It is never skipped
//! silently, since the statuses (new, ongoing, resolved) would then be wrong.

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::alerts::Alert;
use crate::error::{Error, Result};
use crate::output::{parse_period_folder, FolderLayout};
use crate::period::Period;
use crate::schema::col;

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
    let mut best: Option<(Period, FolderLayout, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((p, layout)) = parse_period_folder(&name) else {
            continue; // staging folders and anything else
        };
        if p.start() >= period.start() || !entry.path().is_dir() {
            continue;
        }
        let manifest = entry.path().join("manifest.json");
        if !manifest.exists() {
            continue; // not a published run
        }
        let value = fs::read_to_string(&manifest)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())
            })
            .map_err(|e| damaged(&manifest, &p, &e))?;
        if value["pipeline"]["name"].as_str() != Some(pipeline) {
            continue;
        }
        // The latest period; of two folders of one period, the new layout's.
        let later = best.as_ref().is_none_or(|(b, b_layout, _)| {
            (p.start(), p.end(), layout) > (b.start(), b.end(), *b_layout)
        });
        if later {
            best = Some((p, layout, entry.path()));
        }
    }
    let Some((p, _, dir)) = best else {
        return Ok(None);
    };
    let alerts_path = dir.join("alerts.jsonl");
    let mut alerts = Vec::new();
    if alerts_path.exists() {
        let f = fs::File::open(&alerts_path).map_err(|e| damaged(&alerts_path, &p, &e))?;
        for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line =
                line.map_err(|e| damaged(&alerts_path, &p, &format!("line {}: {e}", i + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            let a: Alert = serde_json::from_str(&line).map_err(|e| {
                damaged(
                    &alerts_path,
                    &p,
                    &format!("line {}: not an alert: {e}", i + 1),
                )
            })?;
            alerts.push(a);
        }
    }
    let screening_path = dir.join("screening.parquet");
    let screening = if screening_path.exists() {
        Some(read_screening(&screening_path).map_err(|e| damaged(&screening_path, &p, &e))?)
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

/// Read a previous screening list and check the columns the comparison uses.
fn read_screening(path: &Path) -> std::result::Result<DataFrame, String> {
    let f = fs::File::open(path).map_err(|e| e.to_string())?;
    // A damaged file must be an error, never a panic inside the reader.
    let df = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ParquetReader::new(f).finish()
    }))
    .map_err(|_| "not a readable Parquet file".to_string())?
    .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    for (name, want) in [
        (col::PRODUCT_ID, DataType::String),
        (col::CASES, DataType::Int64),
        (col::SIGNALS, DataType::Int64),
    ] {
        match df.schema().get(name) {
            None => return Err(format!("column `{name}` is missing")),
            Some(t) if *t != want => {
                return Err(format!("column `{name}`: expected {want}, found {t}"))
            }
            Some(_) => {}
        }
    }
    Ok(df)
}

/// The error for a damaged previous run: the file, what is wrong, and the two ways on.
fn damaged(path: &Path, period: &Period, what: &dyn std::fmt::Display) -> Error {
    Error::input(
        path,
        format!(
            "the previous run (period {period}) is damaged: {what}. Statuses against it cannot \
             be computed. Either rerun that period (`pvwatch run PIPELINE --period {period}`), \
             or run this period with `--no-previous` (statuses as in a first batch) / \
             上一期输出已损坏：请重新运行 {period} 期，或本次使用 --no-previous"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published run of pipeline `name` in `out/folder`: a manifest, no alerts.
    fn published(out: &Path, folder: &str, name: &str) {
        let dir = out.join(folder);
        fs::create_dir_all(&dir).unwrap();
        let manifest = serde_json::json!({"pipeline": {"name": name}});
        fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    }

    fn found(out: &Path, period: &str) -> Option<(String, String)> {
        let period: Period = period.parse().unwrap();
        load_previous(out, "zj", &period).unwrap().map(|p| {
            let folder = p.dir.file_name().unwrap().to_string_lossy().into_owned();
            (p.period, folder)
        })
    }

    #[test]
    fn finds_the_previous_run_in_either_layout_and_prefers_the_new() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        published(out, "2025-Q1", "zj");
        assert_eq!(
            found(out, "2025-Q2"),
            Some(("2025-Q1".into(), "2025-Q1".into())),
            "the old layout is found"
        );
        published(out, "period=2025-Q1", "zj");
        assert_eq!(
            found(out, "2025-Q2"),
            Some(("2025-Q1".into(), "period=2025-Q1".into())),
            "of one period in both layouts, the new one"
        );
        published(out, "2025-Q2", "zj");
        assert_eq!(
            found(out, "2025-Q3"),
            Some(("2025-Q2".into(), "2025-Q2".into())),
            "a later period in the old layout wins over an earlier one in the new"
        );
        published(out, "period=2025-Q3", "other");
        fs::create_dir_all(out.join(".period=2025-Q3.tmp-1-2")).unwrap();
        assert_eq!(
            found(out, "2025-Q4"),
            Some(("2025-Q2".into(), "2025-Q2".into())),
            "another pipeline's run and staging folders are not previous runs"
        );
        assert_eq!(
            found(out, "2025-Q1"),
            None,
            "nothing before the first period"
        );
    }
}
