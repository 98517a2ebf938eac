//! Signal detail (statistics over periods and the case series), case detail, rates and
//! the screening list.
//!
//! **Case series.** The cases of a period's `cases.parquet` of the signal's class that
//! name the product as suspect or interacting and have the event, in the user's region,
//! sorted by `first_received` then `case_id`. Each carries the published fields (no
//! personal data: `cases.parquet` holds none, see the README's `cases.parquet`) and
//! `other_suspect_products`. Its completeness is the published `completeness` column: a
//! vigiGrade-style score (Bergvall et al., Drug Saf 2014) over the report-form fields the
//! canonical tables hold, documented with `cases.parquet` in the README; `> 0.8` is well
//! documented. The catalog does not score cases again, so the app and the BI tables agree.
//!
//! **Case versions.** A case's detail lists, for every period that holds the case, the
//! case table's row (the version that period used) and every report version received by
//! the period's end with its key fields, from `case_versions.parquet`
//! ([`super::versions`]); a period published before that file existed gives its latest
//! version alone (`versions_source: "latest_only"`).

use polars::prelude::*;

use super::load::{LoadedPeriod, CASES_PARQUET};
use super::value::{list_cell, row, utf8_cell, Row};
use super::{Catalog, CatalogError, RegionScope, Result};
use crate::schema::col;

/// One period's statistics row of a signal (every `signals.parquet` column).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignalPeriod {
    pub period: String,
    pub stats: Row,
}

/// One case of a case series: the published case fields and `other_suspect_products`.
pub type CaseSeriesItem = Row;

/// A signal (class × product × event) over every period, and its case series.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignalDetail {
    pub class: String,
    pub product_id: String,
    pub event: String,
    pub product_name: Option<String>,
    pub soc: Option<String>,
    /// Every period whose `signals.parquet` has the pair, oldest first.
    pub periods: Vec<SignalPeriod>,
    /// The period whose cases make the series.
    pub case_period: String,
    pub cases: Vec<CaseSeriesItem>,
}

/// The columns of a case series item, in order (then `other_suspect_products`).
pub const CASE_SERIES_COLUMNS: &[&str] = &[
    col::CASE_ID,
    col::REPORT_ID,
    col::VERSION,
    col::VERSIONS_RECEIVED,
    col::FIRST_RECEIVED_DATE,
    col::LATEST_RECEIVED_DATE,
    col::REGION,
    col::REGION_NAME,
    col::AGE_YEARS,
    col::AGE_BAND,
    col::SEX,
    col::REPORTER_TYPE,
    col::IS_NEW,
    col::IS_SERIOUS,
    col::FATAL,
    col::BATCHES,
    col::EVENTS,
    col::IN_PERIOD,
    col::COMPLETENESS,
    col::WELL_DOCUMENTED,
];

/// Key of `other_suspect_products` in a case series item.
pub const OTHER_SUSPECT_PRODUCTS: &str = "other_suspect_products";

/// One case in one period: every `cases.parquet` column, and every report version of the
/// case received by the period's end (oldest first, `case_versions.parquet`'s columns).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseVersion {
    pub period: String,
    pub case: Row,
    pub report_versions: Vec<Row>,
    /// `case_versions`, or `latest_only` for a period without `case_versions.parquet`.
    pub versions_source: &'static str,
}

/// A case's detail: the version each period used, oldest period first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseDetail {
    pub case_id: String,
    pub versions: Vec<CaseVersion>,
    /// Whether some period published the superseded versions (`case_versions.parquet`).
    pub superseded_versions_published: bool,
}

fn pick(full: &Row, columns: &[&str]) -> Row {
    columns
        .iter()
        .map(|c| {
            (
                (*c).to_string(),
                full.get(*c).cloned().unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

impl Catalog {
    /// A signal's statistics over every period, and its case series from `period` (the
    /// latest when `None`), as `scope` may see them.
    pub fn signal(
        &self,
        scope: &RegionScope,
        class: &str,
        product_id: &str,
        event: &str,
        period: Option<&str>,
    ) -> Result<SignalDetail> {
        self.refresh()?;
        let all = self.snapshot();
        let key = (class.to_string(), product_id.to_string(), event.to_string());
        let mut periods = Vec::new();
        let (mut product_name, mut soc) = (None, None);
        for p in &all {
            let (Some(df), Some(&r)) = (&p.signals, p.signal_rows.get(&key)) else {
                continue;
            };
            product_name = utf8_cell(df, crate::signals::out::PRODUCT_NAME, r).or(product_name);
            soc = utf8_cell(df, col::SOC, r).or(soc);
            periods.push(SignalPeriod {
                period: p.info.label.clone(),
                stats: row(df, r),
            });
        }
        let not_found =
            || CatalogError::NotFound(format!("signal `{class}` × `{product_id}` × `{event}`"));
        if periods.is_empty() {
            return Err(not_found());
        }
        let case_period = self.period(period)?;
        let cases = self.case_series(&case_period, scope, &key)?;
        Ok(SignalDetail {
            class: class.to_string(),
            product_id: product_id.to_string(),
            event: event.to_string(),
            product_name,
            soc,
            periods,
            case_period: case_period.info.label.clone(),
            cases,
        })
    }

    /// A signal's statistics rows (every `signals.parquet` column), one per period that has
    /// it, oldest first; no case series is read. Not found when no period has it.
    pub fn signal_stats(&self, class: &str, product_id: &str, event: &str) -> Result<Vec<Row>> {
        self.refresh()?;
        let key = (class.to_string(), product_id.to_string(), event.to_string());
        let rows: Vec<Row> = self
            .snapshot()
            .iter()
            .filter_map(|p| Some(row(p.signals.as_ref()?, *p.signal_rows.get(&key)?)))
            .collect();
        if rows.is_empty() {
            return Err(CatalogError::NotFound(format!(
                "signal `{class}` × `{product_id}` × `{event}`"
            )));
        }
        Ok(rows)
    }

    fn case_series(
        &self,
        period: &LoadedPeriod,
        scope: &RegionScope,
        (class, product, event): &(String, String, String),
    ) -> Result<Vec<CaseSeriesItem>> {
        let table = self.case_table(period)?;
        let df = &table.df;
        let Some(rows) = table.by_pair.get(&(product.clone(), event.clone())) else {
            return Ok(Vec::new());
        };
        let mut items = Vec::new();
        for &r in rows {
            let r = r as usize;
            if utf8_cell(df, col::CLASS, r).as_deref() != Some(class.as_str())
                || !scope.sees_case(utf8_cell(df, col::REGION, r).as_deref())
            {
                continue;
            }
            let full = row(df, r);
            let mut item = pick(&full, CASE_SERIES_COLUMNS);
            let others: Vec<serde_json::Value> = list_cell(df, col::SUSPECT_PRODUCTS, r)
                .into_iter()
                .filter(|p| p != product)
                .map(serde_json::Value::String)
                .collect();
            item.insert(
                OTHER_SUSPECT_PRODUCTS.to_string(),
                serde_json::Value::Array(others),
            );
            items.push(item);
        }
        let sort_key = |i: &Row| {
            (
                i.get(col::FIRST_RECEIVED_DATE)
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                i.get(col::CASE_ID)
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            )
        };
        items.sort_by_cached_key(sort_key);
        Ok(items)
    }

    /// A case's detail over every period that holds it, when `scope` sees it (else not
    /// found, as for a case that does not exist).
    pub fn case(&self, scope: &RegionScope, case_id: &str) -> Result<CaseDetail> {
        self.refresh()?;
        let mut versions = Vec::new();
        for p in self.snapshot() {
            let Some(case) = self.find_case(&p, case_id)? else {
                continue;
            };
            let region = case.get(col::REGION).and_then(|v| v.as_str());
            if !scope.sees_case(region) {
                return Err(CatalogError::NotFound(format!("case `{case_id}`")));
            }
            let (report_versions, versions_source) =
                super::versions::case_versions(&p, case_id, &case)?;
            versions.push(CaseVersion {
                period: p.info.label.clone(),
                case,
                report_versions,
                versions_source,
            });
        }
        if versions.is_empty() {
            return Err(CatalogError::NotFound(format!("case `{case_id}`")));
        }
        let published = versions
            .iter()
            .any(|v| v.versions_source == super::versions::FROM_CASE_VERSIONS);
        Ok(CaseDetail {
            case_id: case_id.to_string(),
            versions,
            superseded_versions_published: published,
        })
    }

    /// One case of a period: from its case table when kept, else by a filtered scan of
    /// `cases.parquet` (sorted by case id, so row groups are skipped by their statistics).
    fn find_case(&self, period: &LoadedPeriod, case_id: &str) -> Result<Option<Row>> {
        if let Some(table) = self.kept_case_table(period) {
            return Ok(table.find(case_id).map(|r| row(&table.df, r)));
        }
        let path = period.info.folder.join(CASES_PARQUET);
        if !path.exists() {
            return Ok(None);
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
        let df = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            LazyFrame::scan_parquet_files(vec![p].into(), args)?
                .filter(polars::prelude::col(col::CASE_ID).eq(lit(case_id)))
                .collect()
        }))
        .map_err(|_| CatalogError::Damaged {
            path: path.clone(),
            message: "not a readable Parquet file".into(),
        })?
        .map_err(damaged)?;
        Ok((df.height() > 0).then(|| row(&df, 0)))
    }

    /// A period's rates, as `scope` may see them (rows of the regions it covers).
    pub fn rates(&self, scope: &RegionScope, period: Option<&str>) -> Result<Vec<Row>> {
        let p = self.period(period)?;
        Ok(scoped_rows(p.rates.as_ref(), scope))
    }

    /// A period's screening list. Its rows are per product over the pipeline's whole
    /// scope (no region), so every user sees them.
    pub fn screening(&self, scope: &RegionScope, period: Option<&str>) -> Result<Vec<Row>> {
        let p = self.period(period)?;
        Ok(scoped_rows(p.screening.as_ref(), scope))
    }
}

/// Every row of `df` that `scope` sees by its `region` column (a table without one is
/// over the whole scope: every row).
fn scoped_rows(df: Option<&DataFrame>, scope: &RegionScope) -> Vec<Row> {
    let Some(df) = df else { return Vec::new() };
    let has_region = df.column(col::REGION).is_ok();
    (0..df.height())
        .filter(|&i| !has_region || scope.sees(utf8_cell(df, col::REGION, i).as_deref()))
        .map(|i| row(df, i))
        .collect()
}
