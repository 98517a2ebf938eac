//! The alert record, as written to `alerts.jsonl` and `alerts.csv`, posted to webhooks
//! and shown on the review page.

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
    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    /// The deadline in days that the priority stands for (0 = immediately).
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
    Escalated,
    Ongoing,
    Resolved,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Escalated => "escalated",
            Status::Ongoing => "ongoing",
            Status::Resolved => "resolved",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            Status::New => "新增",
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
}
