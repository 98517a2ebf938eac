//! `alerts.parquet`: the alert list as a table, with one schema in every period, so that
//! BI tools read all the periods of a pipeline as one dataset (hive partitioning on
//! `period=`).
//!
//! One row per alert, in the order of the list. The alert's scalar fields become columns
//! of their own; of its `numbers` object, the numbers that several kinds share become
//! flat typed columns ([`FLAT_NUMBERS`], null where a kind has no such number), and the
//! rest stays as JSON text in `numbers_json` (`{}` when nothing is left). A number moves
//! to its column only when it has the column's type (a count that is a whole number, a
//! date as `YYYY-MM-DD`); anything else stays in `numbers_json`, so nothing is lost.
//!
//! Invariants: the columns and their types do not depend on the alerts (never a
//! Null-typed column, even with no alert or with a column null in every row); strings are
//! written as `LargeUtf8`, like every other output ([`super::Staging::write_parquet`]).

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::alerts::Alert;
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::schema::{alert, col};
use crate::signals::{counts, out};

/// The file name.
pub const ALERTS_PARQUET: &str = "alerts.parquet";

/// Column of the JSON text of the numbers that have no flat column.
pub const NUMBERS_JSON: &str = "numbers_json";
/// Column of the annualised rate behind a `rate_below_target` alert.
pub const RATE: &str = "rate";
/// Column of the target behind a `rate_below_target` alert.
pub const TARGET: &str = "target";
/// Columns of the first and last receipt dates of a cluster.
pub const WINDOW_START: &str = "window_start";
pub const WINDOW_END: &str = "window_end";

/// What type a flat column of numbers has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlatType {
    /// Int64: a count of cases.
    Count,
    /// Float64: a statistic, a rate or a target.
    Measure,
    /// Date: a day, given in `numbers` as `YYYY-MM-DD`.
    Date,
}

/// The flat columns of numbers, in order: (column, keys in `numbers` it is taken from,
/// the first one present winning, type).
///
/// `cases` is the count of cases behind the alert: a cluster's `cases`, a rate alert's
/// `reports` (distinct cases, as every count in pvwatch) and a sentinel alert's
/// `sentinel_reports`. A signal's `a` (cases with the product and the event) has its own
/// column, as in `signals.parquet`.
pub const FLAT_NUMBERS: &[(&str, &[&str], FlatType)] = &[
    (
        col::CASES,
        &[col::CASES, col::REPORTS, col::SENTINEL_REPORTS],
        FlatType::Count,
    ),
    (counts::A, &[counts::A], FlatType::Count),
    (counts::EXPECTED, &[counts::EXPECTED], FlatType::Measure),
    (out::PRR, &[out::PRR], FlatType::Measure),
    (out::ROR, &[out::ROR], FlatType::Measure),
    (out::IC025, &[out::IC025], FlatType::Measure),
    (out::EB05, &[out::EB05], FlatType::Measure),
    (RATE, &[col::ANNUALIZED_PER_MILLION], FlatType::Measure),
    (TARGET, &[col::TARGET_PER_MILLION], FlatType::Measure),
    (WINDOW_START, &[WINDOW_START], FlatType::Date),
    (WINDOW_END, &[WINDOW_END], FlatType::Date),
    (col::RECEIVED_DATE, &[col::RECEIVED_DATE], FlatType::Date),
];

/// One flat value taken out of `numbers`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flat {
    Count(Option<i64>),
    Measure(Option<f64>),
    Date(Option<i32>),
}

/// The value of the first of `keys` present in `numbers` if it has type `ty` (or is
/// null), and that key, which then leaves `numbers_json`; a value of another type stays
/// there (the key is `None`).
fn take<'a>(
    numbers: &'a Map<String, Value>,
    keys: &[&str],
    ty: FlatType,
) -> (Flat, Option<&'a str>) {
    let empty = match ty {
        FlatType::Count => Flat::Count(None),
        FlatType::Measure => Flat::Measure(None),
        FlatType::Date => Flat::Date(None),
    };
    let Some((key, v)) = keys.iter().find_map(|k| numbers.get_key_value(*k)) else {
        return (empty, None);
    };
    let flat = match (v, ty) {
        (Value::Null, _) => Some(empty),
        (Value::Number(n), FlatType::Count) => n
            .as_i64()
            .or_else(|| n.as_f64().and_then(whole_number))
            .map(|i| Flat::Count(Some(i))),
        (Value::Number(n), FlatType::Measure) => n.as_f64().map(|f| Flat::Measure(Some(f))),
        // A missing receipt date is written as an empty string by the case rules.
        (Value::String(s), FlatType::Date) if s.is_empty() => Some(empty),
        (Value::String(s), FlatType::Date) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| Flat::Date(Some(epoch_days(d)))),
        _ => None,
    };
    match flat {
        Some(f) => (f, Some(key.as_str())),
        None => (empty, None),
    }
}

/// The numbers of an alert less those taken into flat columns, serialised as the JSON
/// object they form (the same text as that object's `to_string`).
struct Rest<'a> {
    numbers: &'a Map<String, Value>,
    taken: &'a [&'a str],
}

impl serde::Serialize for Rest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(
            self.numbers
                .iter()
                .filter(|(k, _)| !self.taken.contains(&k.as_str())),
        )
    }
}

/// `x` as an i64 when it is a whole number that a float holds exactly.
fn whole_number(x: f64) -> Option<i64> {
    (x.is_finite() && x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0).then_some(x as i64)
}

/// A float for a Float64 column: NaN (a value that could not be computed) is null.
fn finite(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// The alerts as a table (see the module header): the same columns and types for every
/// alert list, the empty one included.
pub fn alerts_table(alerts: &[Alert]) -> Result<DataFrame> {
    let n = alerts.len();
    // Text columns are built from borrowed fields: one copy, into the column.
    let text = |name: &str, f: &dyn Fn(&Alert) -> &str| -> Column {
        StringChunked::from_iter_values(name.into(), alerts.iter().map(f))
            .into_series()
            .into()
    };
    let opt = |name: &str, f: &dyn Fn(&Alert) -> Option<&str>| -> Column {
        StringChunked::from_iter_options(name.into(), alerts.iter().map(f))
            .into_series()
            .into()
    };

    let mut flats: Vec<Vec<Flat>> = vec![Vec::with_capacity(n); FLAT_NUMBERS.len()];
    let mut numbers_json = Vec::with_capacity(n);
    let mut taken = Vec::with_capacity(FLAT_NUMBERS.len());
    for a in alerts {
        taken.clear();
        for (i, (_, keys, ty)) in FLAT_NUMBERS.iter().enumerate() {
            let (flat, key) = take(&a.numbers, keys, *ty);
            flats[i].push(flat);
            taken.extend(key);
        }
        let rest = Rest {
            numbers: &a.numbers,
            taken: &taken,
        };
        numbers_json.push(serde_json::to_string(&rest).map_err(|e| {
            crate::error::Error::Polars {
                context: format!("{ALERTS_PARQUET}: column `{NUMBERS_JSON}`"),
                source: PolarsError::ComputeError(e.to_string().into()),
            }
        })?);
    }

    let mut columns: Vec<Column> = vec![
        text(alert::ALERT_ID, &|a| &a.alert_id),
        text(alert::KIND, &|a| a.kind.as_str()),
        text(alert::PRIORITY, &|a| a.priority.as_str()),
        text(alert::STATUS, &|a| a.status.as_str()),
        Column::new(
            alert::DUE_DATE.into(),
            alerts
                .iter()
                .map(|a| a.due_date.map(crate::period::epoch_days))
                .collect::<Vec<_>>(),
        )
        .cast(&DataType::Date)
        .context(|| format!("{ALERTS_PARQUET}: column `{}`", alert::DUE_DATE))?,
        Column::new(
            alert::OVERDUE.into(),
            alerts.iter().map(|a| a.overdue).collect::<Vec<_>>(),
        ),
        Column::new(
            alert::TOPIC_ID.into(),
            alerts.iter().map(|a| a.topic_id).collect::<Vec<_>>(),
        ),
        opt(alert::TOPIC_STATE, &|a| a.topic_state.as_deref()),
        text(col::PERIOD, &|a| &a.period),
        text(alert::FIRST_PERIOD, &|a| &a.first_period),
        text(col::CLASS, &|a| &a.class),
        opt(col::PRODUCT_ID, &|a| a.product_id.as_deref()),
        opt(out::PRODUCT_NAME, &|a| a.product_name.as_deref()),
        opt(col::EVENT, &|a| a.event.as_deref()),
        opt(col::REGION, &|a| a.region.as_deref()),
        opt(col::REGION_NAME, &|a| a.region_name.as_deref()),
        opt(col::BATCH, &|a| a.batch.as_deref()),
        opt(col::CASE_ID, &|a| a.case_id.as_deref()),
        text(alert::RULE, &|a| &a.rule),
        Column::new(
            alert::THRESHOLD.into(),
            alerts
                .iter()
                .map(|a| finite(a.threshold))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            alert::VALUE.into(),
            alerts.iter().map(|a| finite(a.value)).collect::<Vec<_>>(),
        ),
    ];
    for ((name, _, ty), values) in FLAT_NUMBERS.iter().zip(&flats) {
        let name: PlSmallStr = (*name).into();
        let column = match ty {
            FlatType::Count => Column::new(
                name,
                values
                    .iter()
                    .map(|f| match f {
                        Flat::Count(v) => *v,
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            FlatType::Measure => Column::new(
                name,
                values
                    .iter()
                    .map(|f| match f {
                        Flat::Measure(v) => v.and_then(finite),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            FlatType::Date => Column::new(
                name.clone(),
                values
                    .iter()
                    .map(|f| match f {
                        Flat::Date(v) => *v,
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)
            .context(|| format!("{ALERTS_PARQUET}: column `{name}`"))?,
        };
        columns.push(column);
    }
    columns.push(Column::new(NUMBERS_JSON.into(), numbers_json));
    columns.push(text(alert::MESSAGE_EN, &|a| &a.message_en));
    columns.push(text(alert::MESSAGE_ZH, &|a| &a.message_zh));
    DataFrame::new(n, columns).context(|| format!("{ALERTS_PARQUET}: building the table"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Kind, Priority, Status};
    use serde_json::json;

    fn alert(kind: Kind, numbers: Value) -> Alert {
        Alert {
            first_period: "2025-Q1".into(),
            product_id: Some("P1".into()),
            region: Some("330100".into()),
            region_name: Some("杭州市".into()),
            due_date: chrono::NaiveDate::from_ymd_opt(2025, 9, 1),
            overdue: true,
            rule: "a >= 3".into(),
            threshold: 3.0,
            value: f64::NAN,
            numbers: numbers.as_object().expect("an object").clone(),
            message_en: "en".into(),
            message_zh: "中文".into(),
            ..Alert::example(
                &format!("id-{}", kind.as_str()),
                kind,
                Priority::P2,
                Status::New,
            )
        }
    }

    fn schema_of(df: &DataFrame) -> Vec<(String, DataType)> {
        df.schema()
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    }

    #[test]
    fn same_typed_schema_for_any_alert_list() {
        let empty = alerts_table(&[]).unwrap();
        let one = alerts_table(&[alert(Kind::FatalReport, json!({"fatal": true}))]).unwrap();
        assert_eq!(empty.height(), 0);
        assert_eq!(schema_of(&empty), schema_of(&one));
        super::super::check_bi_types(&empty).unwrap();
        let types: Vec<(String, DataType)> = schema_of(&one)
            .into_iter()
            .filter(|(n, _)| {
                [
                    "topic_id",
                    "topic_state",
                    "cases",
                    "a",
                    "prr",
                    "window_start",
                    "numbers_json",
                ]
                .contains(&n.as_str())
            })
            .collect();
        assert_eq!(
            types,
            [
                ("topic_id".to_string(), DataType::Int64),
                ("topic_state".to_string(), DataType::String),
                ("cases".to_string(), DataType::Int64),
                ("a".to_string(), DataType::Int64),
                ("prr".to_string(), DataType::Float64),
                ("window_start".to_string(), DataType::Date),
                ("numbers_json".to_string(), DataType::String),
            ]
        );
        // A fatal report has none of the flat numbers: all null, none lost.
        assert_eq!(one.column("prr").unwrap().null_count(), 1);
        assert_eq!(one.column("value").unwrap().null_count(), 1, "NaN is null");
        let rest = one
            .column(NUMBERS_JSON)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string();
        assert_eq!(rest, r#"{"fatal":true}"#);
    }

    #[test]
    fn shared_numbers_move_to_flat_columns() {
        let cluster = alert(
            Kind::Cluster,
            json!({"cases": 4.0, "window_start": "2025-07-02", "window_end": "2025-07-08",
                   "case_ids": ["c1", "c2"], "regions": ["330100"]}),
        );
        let signal = alert(
            Kind::NewSignal,
            json!({"a": 5.0, "expected": 0.25, "prr": 12.5, "ror": null, "ic025": 1.5,
                   "eb05": 2.25, "n_methods_flagged": 3.0}),
        );
        let rate = alert(
            Kind::RateBelowTarget,
            json!({"reports": 120.0, "annualized_per_million": 812.5,
                   "target_per_million": 1000.0, "attainment": 0.8125, "level": "province"}),
        );
        let df = alerts_table(&[cluster, signal, rate]).unwrap();
        let i64s = |c: &str| {
            let ca = df.column(c).unwrap().i64().unwrap().clone();
            (0..ca.len()).map(|i| ca.get(i)).collect::<Vec<_>>()
        };
        let f64s = |c: &str| {
            let ca = df.column(c).unwrap().f64().unwrap().clone();
            (0..ca.len()).map(|i| ca.get(i)).collect::<Vec<_>>()
        };
        let days = |c: &str| {
            let as_days = df.column(c).unwrap().cast(&DataType::Int32).unwrap();
            let ca = as_days.i32().unwrap().clone();
            (0..ca.len()).map(|i| ca.get(i)).collect::<Vec<_>>()
        };
        let json = |i: usize| {
            df.column(NUMBERS_JSON)
                .unwrap()
                .str()
                .unwrap()
                .get(i)
                .unwrap()
                .to_string()
        };
        assert_eq!(i64s("cases"), [Some(4), None, Some(120)]);
        assert_eq!(i64s("a"), [None, Some(5), None]);
        assert_eq!(f64s("expected"), [None, Some(0.25), None]);
        assert_eq!(f64s("prr"), [None, Some(12.5), None]);
        assert_eq!(f64s("ror"), [None, None, None]);
        assert_eq!(f64s("eb05"), [None, Some(2.25), None]);
        assert_eq!(f64s("rate"), [None, None, Some(812.5)]);
        assert_eq!(f64s("target"), [None, None, Some(1000.0)]);
        // 2025-07-02 is day 20271 after 1970-01-01.
        assert_eq!(days("window_start"), [Some(20271), None, None]);
        assert_eq!(days("window_end"), [Some(20277), None, None]);
        assert_eq!(json(0), r#"{"case_ids":["c1","c2"],"regions":["330100"]}"#);
        assert_eq!(json(1), r#"{"n_methods_flagged":3.0}"#);
        assert_eq!(json(2), r#"{"attainment":0.8125,"level":"province"}"#);
    }

    #[test]
    fn a_value_of_another_type_stays_in_numbers_json() {
        let odd = alert(
            Kind::Cluster,
            json!({"cases": 2.5, "window_start": "soon", "received_date": ""}),
        );
        let df = alerts_table(&[odd]).unwrap();
        assert_eq!(df.column("cases").unwrap().null_count(), 1);
        assert_eq!(df.column("window_start").unwrap().null_count(), 1);
        let rest = df
            .column(NUMBERS_JSON)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string();
        assert_eq!(rest, r#"{"cases":2.5,"window_start":"soon"}"#);
    }

    #[test]
    fn numbers_json_is_the_object_less_the_flat_numbers() {
        // The text is that of the object with the taken keys removed, as serde_json
        // writes it; a value of the wrong type is not taken.
        let numbers = json!({"a": 3, "cases": "three", "eb05": 2.5, "z": [1, 2], "expected": null})
            .as_object()
            .unwrap()
            .clone();
        let mut taken = Vec::new();
        for (_, keys, ty) in FLAT_NUMBERS {
            taken.extend(take(&numbers, keys, *ty).1);
        }
        let text = serde_json::to_string(&Rest {
            numbers: &numbers,
            taken: &taken,
        })
        .unwrap();
        let mut rest = numbers.clone();
        for k in &taken {
            rest.remove(*k);
        }
        assert_eq!(text, Value::Object(rest).to_string());
        assert_eq!(text, r#"{"cases":"three","z":[1,2]}"#);
    }
}
