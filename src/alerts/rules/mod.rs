//! The alert rules: each reads frames and returns alerts (status `new` until compared with
//! the previous run). See the module table in `alerts` for what fires and its priority.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde_json::{json, Map, Value};

use super::alert_id;
use super::due::due_from;
use super::messages::{class_zh, num, pct, product_label, watch_labels};
use super::model::{deadline_days, Alert, Kind, Priority, Status};
use crate::config::{Alerts, Signals};
use crate::error::{PolarsContext, Result};
use crate::period::{epoch_days, from_epoch_days, Period};
use crate::schema::col;
use crate::signals::out;

/// The frames the rules read.
pub struct RuleInputs<'a> {
    pub period: &'a Period,
    pub cases: &'a DataFrame,
    pub case_products: &'a DataFrame,
    pub products: &'a DataFrame,
    pub rates: &'a DataFrame,
    pub signals: &'a DataFrame,
    pub signals_cfg: &'a Signals,
    /// The previous run's alerts, for `strengthened_signal`.
    pub previous: Option<&'a [Alert]>,
}

/// Evaluate every enabled rule.
pub fn evaluate_rules(inp: &RuleInputs<'_>, cfg: &Alerts) -> Result<Vec<Alert>> {
    use crate::progress::timed;
    let mut out = Vec::new();
    timed("alerts: signal rules", || signal_alerts(inp, cfg, &mut out))?;
    if cfg.fatal_report || cfg.serious_report {
        timed("alerts: case rules", || case_alerts(inp, cfg, &mut out))?;
    }
    if let Some(c) = &cfg.cluster {
        timed("alerts: cluster rule", || cluster_alerts(inp, c, &mut out))?;
    }
    if cfg.rate_below_target || cfg.sentinel_quality_below_target {
        timed("alerts: rate rules", || rate_alerts(inp, cfg, &mut out))?;
    }
    if cfg.data_quality {
        timed("alerts: data quality rule", || {
            data_quality_alerts(inp, &mut out)
        })?;
    }
    for a in &mut out {
        a.region_name = a
            .region
            .as_deref()
            .and_then(crate::regions::name)
            .map(str::to_string);
    }
    Ok(out)
}

fn base(kind: Kind, priority: Priority, period: &Period, class: &str, id: String) -> Alert {
    Alert {
        alert_id: id,
        kind,
        priority,
        status: Status::New,
        period: period.to_string(),
        first_period: period.to_string(),
        class: class.to_string(),
        product_id: None,
        product_name: None,
        event: None,
        region: None,
        region_name: None,
        batch: None,
        case_id: None,
        rule: String::new(),
        threshold: 0.0,
        value: 0.0,
        numbers: Map::new(),
        message_en: String::new(),
        message_zh: String::new(),
        due_date: None,
        overdue: false,
        topic_id: None,
        topic_state: None,
    }
}

/// Column accessors for a frame that came out of this crate (types are known).
struct Cols<'a>(&'a DataFrame, &'static str);

impl Cols<'_> {
    fn ctx(&self) -> String {
        format!("alerts: reading {}", self.1)
    }
    fn str(&self, name: &str) -> Result<StringChunked> {
        self.0
            .column(name)
            .and_then(|c| c.str().cloned())
            .context(|| self.ctx())
    }
    fn f64(&self, name: &str) -> Result<Float64Chunked> {
        self.0
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .and_then(|c| c.f64().cloned())
            .context(|| self.ctx())
    }
    /// A flag column (a column of nulls, as a frame built without it has, reads as one).
    fn bool(&self, name: &str) -> Result<BooleanChunked> {
        self.0
            .column(name)
            .and_then(|c| c.cast(&DataType::Boolean))
            .and_then(|c| c.bool().cloned())
            .context(|| self.ctx())
    }
    fn days(&self, name: &str) -> Result<Int32Chunked> {
        self.0
            .column(name)
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .context(|| self.ctx())
    }
}

fn product_names(products: &DataFrame) -> Result<BTreeMap<String, String>> {
    let s = Cols(products, "products");
    let (id, name) = (s.str(col::PRODUCT_ID)?, s.str(col::NAME)?);
    Ok((0..products.height())
        .filter_map(|i| Some((id.get(i)?.to_string(), name.get(i)?.to_string())))
        .collect())
}

mod case;
mod cluster;
mod data_quality;
mod rate;
mod signal;

use case::case_alerts;
use cluster::cluster_alerts;
use data_quality::data_quality_alerts;
use rate::rate_alerts;
use signal::signal_alerts;

#[cfg(test)]
mod tests;
