//! `signal_log.parquet`: the signal tracking log for BI, one row per topic, written by
//! every run into its period folder.
//!
//! Reads the topics ([`TopicRecord`]) and the product registry (`product_id`, `name`) for
//! the product names. Columns, in order, with their types:
//!
//! | column | type | |
//! |---|---|---|
//! | `period` | String | the run's period |
//! | `topic_id` | Int64 | |
//! | `alert_id` | String | the alert the topic was made from, nullable |
//! | `class`, `product_id` | String | |
//! | `product_name` | String | from the registry, nullable for an unknown product |
//! | `event` | String | |
//! | `region`, `region_name` | String | nullable: a topic over the whole scope |
//! | `state` | String | `new`, `validation`, `validated`, `not_validated`, `assessment`, `closed` |
//! | `outcome` | String | when closed: `refuted`, `labelled`, `known`, `monitor`, `action_recommended` |
//! | `opened_date`, `decided_date` | Date | the latest transition's day, nullable |
//! | `decided_by`, `assignee`, `last_comment` | String | nullable |
//! | `evidence_a` | Int64 | cases `a` at the latest transition |
//! | `evidence_eb05` | Float64 | EB05 then, nullable |
//!
//! Invariants: the same columns and types for any list of topics, the empty one included
//! (never a Null-typed column); rows in topic id order.

use std::collections::HashMap;

use polars::prelude::*;

use super::TopicRecord;
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::schema::{alert, col, topic};
use crate::signals::out;

/// The file name.
pub const SIGNAL_LOG_PARQUET: &str = "signal_log.parquet";

/// Product names by id, from the registry (`product_id`, `name`); an empty map when the
/// frame lacks either column.
pub fn product_names(products: &DataFrame) -> HashMap<String, String> {
    let (Ok(ids), Ok(names)) = (
        products
            .column(col::PRODUCT_ID)
            .and_then(|c| c.str().cloned()),
        products.column(col::NAME).and_then(|c| c.str().cloned()),
    ) else {
        return HashMap::new();
    };
    ids.iter()
        .zip(names.iter())
        .filter_map(|(i, n)| Some((i?.to_string(), n?.to_string())))
        .collect()
}

/// The tracking log as a table (see the module header).
pub fn signal_log_table(
    topics: &[TopicRecord],
    names: &HashMap<String, String>,
    period: &str,
) -> Result<DataFrame> {
    let mut rows: Vec<&TopicRecord> = topics.iter().collect();
    rows.sort_by_key(|t| t.id);
    let n = rows.len();
    let text =
        |f: &dyn Fn(&TopicRecord) -> String| -> Vec<String> { rows.iter().map(|t| f(t)).collect() };
    let opt = |f: &dyn Fn(&TopicRecord) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|t| f(t)).collect()
    };
    let date = |name: &str, f: &dyn Fn(&TopicRecord) -> Option<chrono::NaiveDate>| {
        Column::new(
            name.into(),
            rows.iter()
                .map(|t| f(t).map(epoch_days))
                .collect::<Vec<Option<i32>>>(),
        )
        .cast(&DataType::Date)
        .context(|| format!("{}: column `{name}`", super::log::SIGNAL_LOG_PARQUET))
    };
    let columns = vec![
        Column::new(col::PERIOD.into(), vec![period.to_string(); n]),
        Column::new(
            alert::TOPIC_ID.into(),
            rows.iter().map(|t| t.id).collect::<Vec<i64>>(),
        ),
        Column::new(alert::ALERT_ID.into(), opt(&|t| t.alert_id.clone())),
        Column::new(col::CLASS.into(), text(&|t| t.class.clone())),
        Column::new(col::PRODUCT_ID.into(), text(&|t| t.product_id.clone())),
        Column::new(
            out::PRODUCT_NAME.into(),
            opt(&|t| names.get(&t.product_id).cloned()),
        ),
        Column::new(col::EVENT.into(), text(&|t| t.event.clone())),
        Column::new(col::REGION.into(), opt(&|t| t.region.clone())),
        Column::new(
            col::REGION_NAME.into(),
            opt(&|t| {
                t.region
                    .as_deref()
                    .and_then(crate::regions::name)
                    .map(str::to_string)
            }),
        ),
        Column::new(topic::STATE.into(), text(&|t| t.state.as_str().to_string())),
        Column::new(
            topic::OUTCOME.into(),
            opt(&|t| t.outcome.map(|o| o.as_str().to_string())),
        ),
        date(topic::OPENED_DATE, &|t| Some(t.opened))?,
        date(topic::DECIDED_DATE, &|t| t.decided_at)?,
        Column::new(topic::DECIDED_BY.into(), opt(&|t| t.decided_by.clone())),
        Column::new(topic::ASSIGNEE.into(), opt(&|t| t.assignee.clone())),
        Column::new(topic::LAST_COMMENT.into(), opt(&|t| t.last_comment.clone())),
        Column::new(
            topic::EVIDENCE_A.into(),
            rows.iter().map(|t| t.evidence_a).collect::<Vec<i64>>(),
        ),
        Column::new(
            topic::EVIDENCE_EB05.into(),
            rows.iter()
                .map(|t| t.evidence_eb05.filter(|x| !x.is_nan()))
                .collect::<Vec<Option<f64>>>(),
        ),
    ];
    DataFrame::new(n, columns).context(|| format!("{SIGNAL_LOG_PARQUET}: building the table"))
}
