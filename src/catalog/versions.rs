//! Case detail: every report version of a case as a period published it
//! (`case_versions.parquet`, one row per version received by the period's end), or, for a
//! period published before that file existed, the latest version alone from the case's
//! `cases.parquet` row, in the same keys (`versions_source` says which).
//!
//! The file is sorted by `case_id`, so a filtered scan skips row groups by their
//! statistics and reads about one row group per period; nothing is kept in memory.

use polars::prelude::*;

use super::load::LoadedPeriod;
use super::value::{row, Row};
use super::{CatalogError, Result};
use crate::cases::versions::{CASE_VERSIONS_PARQUET, COLUMNS};
use crate::schema::col;

/// Where a period's versions of a case come from.
pub const FROM_CASE_VERSIONS: &str = "case_versions";
/// A period without `case_versions.parquet`: the latest version only.
pub const FROM_LATEST_ONLY: &str = "latest_only";

/// Every version of `case_id` in `period`, oldest first, with where they came from;
/// `latest` is the case's `cases.parquet` row, the fallback.
pub(super) fn case_versions(
    period: &LoadedPeriod,
    case_id: &str,
    latest: &Row,
) -> Result<(Vec<Row>, &'static str)> {
    let path = period.info.folder.join(CASE_VERSIONS_PARQUET);
    if !path.exists() {
        return Ok((vec![latest_as_version(latest)], FROM_LATEST_ONLY));
    }
    let damaged = |e: PolarsError| CatalogError::Damaged {
        path: path.clone(),
        message: format!("not a readable Parquet file: {e}"),
    };
    let p = PlRefPath::try_from_path(&path).map_err(damaged)?;
    let args = ScanArgsParquet {
        glob: false,
        ..Default::default()
    };
    // A damaged file can panic inside the Parquet decoder: an error naming it instead.
    let df = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        LazyFrame::scan_parquet_files(vec![p].into(), args)?
            .filter(col(col::CASE_ID).eq(lit(case_id)))
            .collect()
    }))
    .map_err(|_| CatalogError::Damaged {
        path: path.clone(),
        message: "not a readable Parquet file".into(),
    })?
    .map_err(damaged)?;
    if df.height() == 0 {
        // The case table holds the case but the versions file does not: a damaged pair.
        return Err(CatalogError::Damaged {
            path,
            message: format!("no version of case `{case_id}`, which cases.parquet holds"),
        });
    }
    Ok((
        (0..df.height()).map(|i| row(&df, i)).collect(),
        FROM_CASE_VERSIONS,
    ))
}

/// A `cases.parquet` row in the keys of a `case_versions.parquet` row.
fn latest_as_version(latest: &Row) -> Row {
    COLUMNS
        .iter()
        .map(|&c| {
            let v = match c {
                col::RECEIVED_DATE => latest.get(col::LATEST_RECEIVED_DATE).cloned(),
                col::SUPERSEDED => Some(serde_json::Value::Bool(false)),
                _ => latest.get(c).cloned(),
            };
            (c.to_string(), v.unwrap_or(serde_json::Value::Null))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_latest_row_becomes_one_version_in_the_versions_keys() {
        let latest: Row = json!({
            "period": "2025", "case_id": "C1", "report_id": "R2", "version": 2,
            "versions_received": 2, "first_received": "2025-01-02",
            "latest_received": "2025-03-04", "class": "drug", "region": "330100",
            "region_name": "杭州市", "fatal": true, "events": ["Rash"],
            "completeness": 0.9
        })
        .as_object()
        .unwrap()
        .clone();
        let v = latest_as_version(&latest);
        assert_eq!(v.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut k = COLUMNS.to_vec();
            k.sort();
            k
        });
        assert_eq!(v["received_date"], "2025-03-04");
        assert_eq!(v["superseded"], false);
        assert_eq!(v["report_id"], "R2");
        assert_eq!(v["events"], json!(["Rash"]));
        assert!(v["sex"].is_null(), "a column the case row lacks is null");
        assert!(!v.contains_key("completeness"));
    }
}
