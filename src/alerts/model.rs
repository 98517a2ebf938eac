//! The alert record, as written to `alerts.jsonl` and `alerts.csv`, posted to webhooks
//! and shown on the review page.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What fired. The names are part of the output contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    NewSignal,
    StrengthenedSignal,
    FatalReport,
    SeriousReport,
    Cluster,
    RateBelowTarget,
    SentinelQualityBelowTarget,
    DataQuality,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 8] = [
        Kind::NewSignal,
        Kind::StrengthenedSignal,
        Kind::FatalReport,
        Kind::SeriousReport,
        Kind::Cluster,
        Kind::RateBelowTarget,
        Kind::SentinelQualityBelowTarget,
        Kind::DataQuality,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::NewSignal => "new_signal",
            Kind::StrengthenedSignal => "strengthened_signal",
            Kind::FatalReport => "fatal_report",
            Kind::SeriousReport => "serious_report",
            Kind::Cluster => "cluster",
            Kind::RateBelowTarget => "rate_below_target",
            Kind::SentinelQualityBelowTarget => "sentinel_quality_below_target",
            Kind::DataQuality => "data_quality",
        }
    }

    /// Chinese label, in the regulators' vocabulary.
    pub fn label_zh(&self) -> &'static str {
        match self {
            Kind::NewSignal => "新信号",
            Kind::StrengthenedSignal => "信号增强",
            Kind::FatalReport => "死亡病例",
            Kind::SeriousReport => "严重/新的病例",
            Kind::Cluster => "疑似群体不良事件",
            Kind::RateBelowTarget => "报告率未达标",
            Kind::SentinelQualityBelowTarget => "哨点医院报告质量未达标",
            Kind::DataQuality => "病例数据待核查",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Kind::NewSignal => "new signal",
            Kind::StrengthenedSignal => "strengthened signal",
            Kind::FatalReport => "fatal report",
            Kind::SeriousReport => "serious or new report",
            Kind::Cluster => "possible cluster",
            Kind::RateBelowTarget => "reporting rate below target",
            Kind::SentinelQualityBelowTarget => "sentinel report quality below target",
            Kind::DataQuality => "case data to check",
        }
    }
}

/// Urgency, after the regulations' reporting deadlines (P0 most urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// Immediately (立即): a death, a cluster (群体不良事件).
    P0,
    /// Within 7 days: a device death (SAMR Order No. 1).
    P1,
    /// Within 15 days (20 for a device serious injury): serious or new reports, signals.
    P2,
    /// Within 30 days: everything else.
    P3,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [Priority::P0, Priority::P1, Priority::P2, Priority::P3];

    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    /// The deadline in days that the priority stands for (0 = immediately). An alert's own
    /// deadline can differ within a priority: see [`deadline_days`].
    pub fn due_days(&self) -> i64 {
        match self {
            Priority::P0 => 0,
            Priority::P1 => 7,
            Priority::P2 => 15,
            Priority::P3 => 30,
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "P0" => Some(Priority::P0),
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            _ => None,
        }
    }
}

/// Status compared with the previous run of the same pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    /// A signal closed as refuted or labelled whose evidence grew past the reopen rule
    /// since the decision (see `decisions`).
    Reopened,
    Escalated,
    Ongoing,
    Resolved,
}

impl Status {
    /// Every status, in the order alerts are listed.
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Reopened,
        Status::Escalated,
        Status::Ongoing,
        Status::Resolved,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Reopened => "reopened",
            Status::Escalated => "escalated",
            Status::Ongoing => "ongoing",
            Status::Resolved => "resolved",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            Status::New => "新增",
            Status::Reopened => "重新开启",
            Status::Escalated => "升级",
            Status::Ongoing => "持续",
            Status::Resolved => "已解除",
        }
    }
}

/// One alert. Optional subject fields are null when they do not apply to the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable: the same subject gives the same id in every run (see `alerts::alert_id`).
    pub alert_id: String,
    pub kind: Kind,
    pub priority: Priority,
    pub status: Status,
    /// The period of this run.
    pub period: String,
    /// The period in which this alert (this `alert_id`) first fired.
    pub first_period: String,
    pub class: String,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    pub event: Option<String>,
    pub region: Option<String>,
    /// The region's GB/T 2260 name (`杭州市`), null when it has none (see `regions`).
    #[serde(default)]
    pub region_name: Option<String>,
    pub batch: Option<String>,
    pub case_id: Option<String>,
    /// The rule that fired, e.g. `ebgm.eb05 >= 2` or `cases >= 3 within 7 days`.
    pub rule: String,
    /// The threshold of that rule, as a number.
    pub threshold: f64,
    /// The value compared with the threshold.
    pub value: f64,
    /// The numbers behind the alert (counts, statistics, rates), by name.
    pub numbers: serde_json::Map<String, serde_json::Value>,
    pub message_en: String,
    pub message_zh: String,
    /// The day the alert is due: its deadline ([`deadline_days`]) counted from the day the
    /// clock starts (see `alerts::due`). Null only for a resolved alert carried from a run
    /// written before alerts had due dates.
    #[serde(default, with = "date_text")]
    pub due_date: Option<NaiveDate>,
    /// `due_date` is before the run's data cut-off (never for a resolved alert).
    #[serde(default)]
    pub overdue: bool,
    /// The signal topic (review app) the alert belongs to, if any: the latest topic of its
    /// product × event, or the topic made from it (see `decisions`). Null in runs before
    /// topics existed.
    #[serde(default)]
    pub topic_id: Option<i64>,
    /// That topic's state (`new`, `validation`, …, `closed`), null without a topic.
    #[serde(default)]
    pub topic_state: Option<String>,
}

/// The reporting deadline in days (0 = the same day) of an alert, after the regulations
/// (docs: CONTEXT.md §4.2, "Reporting and escalation deadlines"):
///
/// | alert | deadline | basis |
/// |---|---|---|
/// | death (drug, cosmetic), cluster (群体不良事件) | immediately: the same day | Order No. 81 Art. 21, 27 |
/// | device death | 7 days | SAMR Order No. 1 (2019) |
/// | device serious injury | 20 days | SAMR Order No. 1 (2019) |
/// | serious or new report, signal | 15 days | Order No. 81 Art. 21; GVP 2021 |
/// | everything else (rates, sentinel quality, data quality) | 30 days | Order No. 81 Art. 21 |
///
/// That is the priority's deadline (P0 0, P1 7, P2 15, P3 30 days) except a device
/// serious injury (`serious_injury`: a serious device report), which is P2 but due in 20.
pub fn deadline_days(kind: Kind, priority: Priority, class: &str, serious_injury: bool) -> i64 {
    if kind == Kind::SeriousReport && class == "device" && serious_injury {
        20
    } else {
        priority.due_days()
    }
}

/// `Option<NaiveDate>` as `YYYY-MM-DD` text (or null) in JSON.
mod date_text {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&d.format("%Y-%m-%d")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(t) => NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("due_date `{t}`: {e}"))),
        }
    }
}

/// A complete alert for tests: the given subject, a drug in period 2025-Q3, no product,
/// event or region, empty numbers; tests set what they look at with `..Alert::example(…)`.
#[cfg(test)]
impl Alert {
    pub(crate) fn example(id: &str, kind: Kind, priority: Priority, status: Status) -> Alert {
        Alert {
            alert_id: id.to_string(),
            kind,
            priority,
            status,
            period: "2025-Q3".into(),
            first_period: "2025-Q3".into(),
            class: "drug".into(),
            product_id: None,
            product_name: None,
            event: None,
            region: None,
            region_name: None,
            batch: None,
            case_id: None,
            rule: "r".into(),
            threshold: 1.0,
            value: 2.0,
            numbers: serde_json::Map::new(),
            message_en: format!("message of {id}"),
            message_zh: format!("预警 {id} 的说明"),
            due_date: None,
            overdue: false,
            topic_id: None,
            topic_state: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_context_4_2() {
        use Kind::*;
        use Priority::*;
        // (kind, priority, class, serious injury) -> days, one row per line of §4.2's table.
        let cases = [
            (FatalReport, P0, "drug", true, 0),
            (FatalReport, P0, "cosmetic", true, 0),
            (Cluster, P0, "device", false, 0),
            (FatalReport, P1, "device", true, 7),
            (SeriousReport, P2, "device", true, 20),
            // A device report that is only new (not serious) is no serious injury.
            (SeriousReport, P2, "device", false, 15),
            (SeriousReport, P2, "drug", true, 15),
            (NewSignal, P2, "device", false, 15),
            (StrengthenedSignal, P2, "drug", false, 15),
            (RateBelowTarget, P3, "drug", false, 30),
            (SentinelQualityBelowTarget, P3, "drug", false, 30),
            (DataQuality, P3, "device", false, 30),
        ];
        for (kind, p, class, injury, days) in cases {
            assert_eq!(
                deadline_days(kind, p, class, injury),
                days,
                "{kind:?} {p:?} {class} {injury}"
            );
        }
    }

    #[test]
    fn due_date_reads_and_writes_as_text_and_may_be_missing() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(default, with = "date_text")]
            due_date: Option<NaiveDate>,
        }
        let d = NaiveDate::from_ymd_opt(2025, 7, 1);
        assert_eq!(
            serde_json::to_string(&T { due_date: d }).unwrap(),
            r#"{"due_date":"2025-07-01"}"#
        );
        assert_eq!(
            serde_json::from_str::<T>(r#"{"due_date":"2025-07-01"}"#).unwrap(),
            T { due_date: d }
        );
        // alerts.jsonl of a run before due dates existed.
        assert_eq!(
            serde_json::from_str::<T>("{}").unwrap(),
            T { due_date: None }
        );
        let e = serde_json::from_str::<T>(r#"{"due_date":"2025-13-01"}"#).unwrap_err();
        assert!(e.to_string().contains("due_date `2025-13-01`"), "{e}");
    }

    #[test]
    fn an_alert_of_a_run_before_topics_reads_with_null_topic_fields() {
        let old = r#"{"alert_id":"signal-1","kind":"new_signal","priority":"P2","status":"new",
            "period":"2025-Q1","first_period":"2025-Q1","class":"drug","product_id":"D1",
            "product_name":null,"event":"Rash","region":null,"batch":null,"case_id":null,
            "rule":"r","threshold":2.0,"value":3.0,"numbers":{},"message_en":"m",
            "message_zh":"m","due_date":"2025-04-15","overdue":false}"#;
        let a: Alert = serde_json::from_str(old).unwrap();
        assert_eq!((a.topic_id, a.topic_state), (None, None));
        let again: Alert = serde_json::from_str(
            &serde_json::to_string(&Alert {
                topic_id: Some(7),
                topic_state: Some("closed".into()),
                status: Status::Reopened,
                ..a
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (again.topic_id, again.topic_state.as_deref(), again.status),
            (Some(7), Some("closed"), Status::Reopened)
        );
    }
}
