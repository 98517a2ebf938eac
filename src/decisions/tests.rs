use super::log::{product_names, signal_log_table};
use super::*;
use crate::alerts::Priority;
use polars::prelude::DataType;

fn day(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// A signal alert of drug D008 × Myocarditis with `a` cases and EB05 `eb05`.
fn signal(kind: Kind, status: Status, a: f64, eb05: Option<f64>) -> Alert {
    let mut numbers = serde_json::Map::new();
    numbers.insert(counts::A.into(), json!(a));
    numbers.insert(out::EB05.into(), json!(eb05));
    Alert {
        alert_id: crate::alerts::alert_id("signal", &["drug", "D008", "Myocarditis"]),
        kind,
        priority: Priority::P2,
        status,
        period: "2025-Q3".into(),
        first_period: "2025-Q3".into(),
        class: "drug".into(),
        product_id: Some("D008".into()),
        product_name: Some("替雷利珠单抗注射液".into()),
        event: Some("Myocarditis".into()),
        region: None,
        region_name: None,
        batch: None,
        case_id: None,
        rule: "n_methods_flagged >= 2".into(),
        threshold: 2.0,
        value: 4.0,
        numbers,
        message_en: "New signal: 替雷利珠单抗注射液 (D008) × Myocarditis (drug): 4 cases.".into(),
        message_zh: "新的信号：替雷利珠单抗注射液 (D008) × Myocarditis（药品）：病例 4 例。".into(),
        due_date: None,
        overdue: false,
        topic_id: None,
        topic_state: None,
    }
}

fn new_signal(a: f64, eb05: Option<f64>) -> Alert {
    signal(Kind::NewSignal, Status::New, a, eb05)
}

/// Topic `id` on drug D008 × Myocarditis, closed with `outcome` on 2025-05-10 by `wang`
/// with 4 cases and EB05 2.0.
fn closed(id: i64, outcome: Outcome) -> TopicRecord {
    TopicRecord {
        id,
        alert_id: None,
        class: "drug".into(),
        product_id: "D008".into(),
        event: "Myocarditis".into(),
        region: None,
        state: TopicState::Closed,
        outcome: Some(outcome),
        opened: day("2025-04-01"),
        decided_at: Some(day("2025-05-10")),
        decided_by: Some("wang".into()),
        evidence_a: 4,
        evidence_eb05: Some(2.0),
        assignee: Some("li".into()),
        last_comment: Some("labelled since 2024".into()),
    }
}

fn apply(alerts: Vec<Alert>, topics: &[TopicRecord]) -> Applied {
    apply_decisions(alerts, topics, None, &ReopenRule::default())
}

#[test]
fn refuted_suppresses_until_cases_double_exactly_at_the_factor() {
    let t = [closed(7, Outcome::Refuted)];
    // 7 cases < 2 × 4, EB05 2.9 < 1.5 × 2.0: suppressed, and listed.
    let r = apply(vec![new_signal(7.0, Some(2.9))], &t);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    assert_eq!(r.suppressed.len(), 1);
    let s = &r.suppressed[0];
    assert_eq!(
        (s.topic_id, s.outcome, s.a, s.evidence_a),
        (7, Outcome::Refuted, Some(7.0), 4)
    );
    // Exactly 2 × 4 = 8 cases: reopened.
    let r = apply(vec![new_signal(8.0, Some(2.0))], &t);
    assert!(r.suppressed.is_empty());
    let a = &r.alerts[0];
    assert_eq!(a.status, Status::Reopened);
    assert_eq!(
        (a.topic_id, a.topic_state.as_deref()),
        (Some(7), Some("closed"))
    );
    assert!(
        a.message_en.starts_with(
            "Reopened: 替雷利珠单抗注射液 (D008) × Myocarditis was closed as refuted on 2025-05-10 by wang (topic #7); since then cases rose from 4 to 8 (≥ 2×). New signal:"
        ),
        "{}",
        a.message_en
    );
    assert!(
        a.message_zh.starts_with(
            "重新开启：替雷利珠单抗注射液 (D008) × Myocarditis 已于 2025-05-10 由 wang 以“排除（非信号）”结案（话题 #7）；此后病例由 4 例增至 8 例（≥ 2 倍）。"
        ),
        "{}",
        a.message_zh
    );
    assert_eq!(a.numbers["reopened_by"], json!(["cases"]));
    assert_eq!(a.numbers["decided_by"], json!("wang"));
}

#[test]
fn eb05_rise_exactly_at_the_rule_reopens_and_just_below_does_not() {
    let t = [closed(7, Outcome::Labelled)];
    // 1.5 × 2.0 = 3.0.
    let r = apply(vec![new_signal(5.0, Some(3.0))], &t);
    assert_eq!(r.alerts[0].status, Status::Reopened);
    assert_eq!(r.alerts[0].numbers["reopened_by"], json!(["eb05"]));
    assert!(r.alerts[0]
        .message_en
        .contains("EB05 rose from 2.00 to 3.00 (≥ +50%)"));
    let r = apply(vec![new_signal(5.0, Some(2.999))], &t);
    assert!(r.alerts.is_empty());
    assert_eq!(r.suppressed.len(), 1);
    // A threshold made by a multiplication that is not exact in binary: 1.1 × 3 is
    // 3.3000000000000003, and 3.3 is still "at least".
    let rule = ReopenRule {
        cases_factor: 2.0,
        eb05_rise: 0.1,
    };
    assert_eq!(
        rule.growth(4, Some(3.0), Some(1.0), Some(3.3)),
        [Growth::Eb05]
    );
    assert!(rule.growth(4, Some(3.0), Some(1.0), Some(3.29)).is_empty());
}

#[test]
fn cases_just_below_the_factor_stay_suppressed() {
    let rule = ReopenRule {
        cases_factor: 1.5,
        eb05_rise: 0.5,
    };
    // 1.5 × 4 = 6: 5 is below, 6 is at.
    assert!(rule.growth(4, None, Some(5.0), None).is_empty());
    assert_eq!(rule.growth(4, None, Some(6.0), None), [Growth::Cases]);
    // Both criteria, in order.
    assert_eq!(
        rule.growth(4, Some(2.0), Some(6.0), Some(3.0)),
        [Growth::Cases, Growth::Eb05]
    );
}

#[test]
fn a_null_eb05_at_the_decision_or_now_leaves_cases_alone_to_decide() {
    let rule = ReopenRule::default();
    // EB05 null at the decision: a huge EB05 now does not reopen; cases do.
    assert!(rule.growth(4, None, Some(7.0), Some(50.0)).is_empty());
    assert_eq!(rule.growth(4, None, Some(8.0), Some(50.0)), [Growth::Cases]);
    // EB05 null (or NaN) now.
    assert!(rule.growth(4, Some(2.0), Some(7.0), None).is_empty());
    assert!(rule
        .growth(4, Some(2.0), Some(7.0), Some(f64::NAN))
        .is_empty());
    // EB05 of 0 at the decision: no rise is a fraction of it.
    assert!(rule.growth(4, Some(0.0), Some(7.0), Some(1.0)).is_empty());
    // No case at the decision: any case now is growth past the rule.
    assert_eq!(rule.growth(0, None, Some(1.0), None), [Growth::Cases]);

    // Through the alerts: a decision without EB05, an alert whose EB05 is null.
    let mut t = closed(3, Outcome::Refuted);
    t.evidence_eb05 = None;
    let r = apply(vec![new_signal(7.0, None)], &[t.clone()]);
    assert_eq!(r.suppressed.len(), 1);
    assert_eq!(r.suppressed[0].eb05, None);
    let r = apply(vec![new_signal(8.0, None)], &[t]);
    assert_eq!(r.alerts[0].status, Status::Reopened);
    assert!(r.alerts[0].message_en.contains("cases rose from 4 to 8"));
}

#[test]
fn other_outcomes_do_not_suppress() {
    for outcome in [Outcome::Known, Outcome::Monitor, Outcome::ActionRecommended] {
        let r = apply(vec![new_signal(4.0, Some(2.0))], &[closed(9, outcome)]);
        assert!(r.suppressed.is_empty(), "{outcome:?}");
        let a = &r.alerts[0];
        assert_eq!(a.status, Status::New, "{outcome:?}");
        assert_eq!(
            (a.topic_id, a.topic_state.as_deref()),
            (Some(9), Some("closed"))
        );
        assert!(a.message_en.starts_with("New signal:"));
    }
    assert!(Outcome::Refuted.silences_signal() && Outcome::Labelled.silences_signal());
}

#[test]
fn an_open_topic_keeps_the_alert_ongoing_with_its_state() {
    for state in [
        TopicState::New,
        TopicState::Validation,
        TopicState::Validated,
        TopicState::NotValidated,
        TopicState::Assessment,
    ] {
        let t = TopicRecord {
            state,
            outcome: None,
            ..closed(5, Outcome::Refuted)
        };
        let r = apply(vec![new_signal(3.0, Some(2.1))], &[t]);
        let a = &r.alerts[0];
        assert_eq!(a.status, Status::Ongoing, "{state:?}");
        assert_eq!(a.topic_state.as_deref(), Some(state.as_str()));
        assert_eq!(
            a.message_en,
            format!(
                "Signal under review (topic #5, {}): 替雷利珠单抗注射液 (D008) × Myocarditis (drug): 4 cases.",
                state.as_str()
            )
        );
        assert!(a.message_zh.starts_with(&format!(
            "评估中的信号（话题 #5，{}）：替雷利珠单抗",
            state.label_zh()
        )));
    }
    // A strengthened signal under review stays escalated.
    let t = TopicRecord {
        state: TopicState::Assessment,
        outcome: None,
        ..closed(5, Outcome::Refuted)
    };
    let r = apply(
        vec![signal(
            Kind::StrengthenedSignal,
            Status::Escalated,
            9.0,
            Some(5.0),
        )],
        &[t],
    );
    assert_eq!(r.alerts[0].status, Status::Escalated);
    assert_eq!(r.alerts[0].topic_state.as_deref(), Some("assessment"));
}

#[test]
fn the_latest_topic_on_a_pair_wins() {
    // An old refuted topic, then a newer one still in validation: not suppressed.
    let old = closed(1, Outcome::Refuted);
    let newer = TopicRecord {
        id: 2,
        opened: day("2025-06-01"),
        state: TopicState::Validation,
        outcome: None,
        ..closed(2, Outcome::Refuted)
    };
    for topics in [
        vec![old.clone(), newer.clone()],
        vec![newer.clone(), old.clone()],
    ] {
        let r = apply(vec![new_signal(4.0, Some(2.0))], &topics);
        assert_eq!(r.alerts[0].topic_id, Some(2));
        assert_eq!(r.alerts[0].status, Status::Ongoing);
    }
    // Opened the same day: the higher id is the later.
    let same_day = TopicRecord {
        opened: old.opened,
        ..newer
    };
    let r = apply(vec![new_signal(4.0, Some(2.0))], &[same_day, old]);
    assert_eq!(r.alerts[0].topic_id, Some(2));
}

#[test]
fn a_topic_reopened_then_closed_again_measures_from_the_new_decision() {
    // Refuted at 4 cases; reopened at 8; a new topic closes it as refuted again at 8.
    let first = closed(1, Outcome::Refuted);
    let again = TopicRecord {
        id: 2,
        opened: day("2025-08-01"),
        decided_at: Some(day("2025-08-20")),
        evidence_a: 8,
        evidence_eb05: Some(3.0),
        ..closed(2, Outcome::Refuted)
    };
    // 12 cases: 3× the first decision but 1.5× the second: suppressed.
    let r = apply(
        vec![new_signal(12.0, Some(4.0))],
        &[first.clone(), again.clone()],
    );
    assert!(r.alerts.is_empty());
    assert_eq!(r.suppressed[0].topic_id, 2);
    // 16 cases: past the second decision's rule.
    let r = apply(vec![new_signal(16.0, Some(4.0))], &[first, again]);
    assert_eq!(r.alerts[0].status, Status::Reopened);
    assert!(r.alerts[0]
        .message_en
        .contains("on 2025-08-20 by wang (topic #2)"));
}

#[test]
fn reopened_once_then_ongoing_against_the_previous_run() {
    let t = [closed(7, Outcome::Refuted)];
    let mut prev = new_signal(8.0, Some(2.0));
    prev.status = Status::Reopened;
    // compare_with_previous made it ongoing: it stays so, still naming the decision.
    let now = signal(Kind::NewSignal, Status::Ongoing, 9.0, Some(2.0));
    let r = apply_decisions(vec![now], &t, Some(&[prev]), &ReopenRule::default());
    assert_eq!(r.alerts[0].status, Status::Ongoing);
    assert!(r.alerts[0].message_en.starts_with("Reopened: "));
    // An alert open before the decision (ongoing) and past the rule is reopened.
    let now = signal(Kind::NewSignal, Status::Ongoing, 9.0, Some(2.0));
    let r = apply(vec![now], &t);
    assert_eq!(r.alerts[0].status, Status::Reopened);
}

#[test]
fn only_signal_alerts_of_the_pair_are_touched() {
    let t = [closed(7, Outcome::Refuted)];
    // Another event of the same product: no topic.
    let mut other = new_signal(4.0, Some(2.0));
    other.event = Some("Rash".into());
    other.alert_id = "signal-other".into();
    // A fatal report on the pair: not suppressed, no topic (not made from it).
    let mut fatal = new_signal(4.0, Some(2.0));
    fatal.kind = Kind::FatalReport;
    fatal.alert_id = "case-1".into();
    // A resolved signal alert of the pair: kept, with its topic.
    let resolved = signal(Kind::NewSignal, Status::Resolved, 4.0, Some(2.0));
    let r = apply(vec![other, fatal, resolved], &t);
    assert!(r.suppressed.is_empty());
    let ids: Vec<(&str, Option<i64>, Status)> = r
        .alerts
        .iter()
        .map(|a| (a.alert_id.as_str(), a.topic_id, a.status))
        .collect();
    assert_eq!(
        ids,
        [
            ("signal-other", None, Status::New),
            ("case-1", None, Status::New),
            (r.alerts[2].alert_id.as_str(), Some(7), Status::Resolved),
        ]
    );
    // A topic made from the fatal report's alert carries it, whatever its pair.
    let mut fatal = new_signal(4.0, Some(2.0));
    fatal.kind = Kind::FatalReport;
    fatal.alert_id = "case-1".into();
    let from_alert = TopicRecord {
        alert_id: Some("case-1".into()),
        event: "Rash".into(),
        ..closed(11, Outcome::Refuted)
    };
    let r = apply(vec![fatal], &[from_alert]);
    assert_eq!(
        (r.alerts[0].topic_id, r.alerts[0].status),
        (Some(11), Status::New)
    );
}

#[test]
fn no_topics_leaves_the_alerts_as_they_were() {
    let alerts = vec![new_signal(4.0, Some(2.0))];
    let r = apply(alerts.clone(), &[]);
    assert_eq!(r.alerts, alerts);
    assert!(r.suppressed.is_empty());
}

#[test]
fn states_and_outcomes_round_trip_their_names() {
    for s in TopicState::ALL {
        assert_eq!(TopicState::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for o in Outcome::ALL {
        assert_eq!(Outcome::parse(o.as_str()), Some(o));
        assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
    }
    assert_eq!(TopicState::parse("open"), None);
}

#[test]
fn signal_log_has_one_typed_schema_with_or_without_topics() {
    let products = polars::prelude::DataFrame::new(
        2,
        vec![
            polars::prelude::Column::new("product_id".into(), ["D008", "D009"]),
            polars::prelude::Column::new("name".into(), ["替雷利珠单抗注射液", "信迪利单抗注射液"]),
        ],
    )
    .unwrap();
    let names = product_names(&products);
    let empty = signal_log_table(&[], &names, "2025-Q3").unwrap();
    let open = TopicRecord {
        id: 3,
        region: Some("330100".into()),
        state: TopicState::Validation,
        outcome: None,
        decided_at: None,
        decided_by: None,
        evidence_eb05: None,
        product_id: "X404".into(),
        ..closed(3, Outcome::Refuted)
    };
    let log = signal_log_table(&[open, closed(1, Outcome::Labelled)], &names, "2025-Q3").unwrap();
    let schema = |df: &polars::prelude::DataFrame| -> Vec<(String, DataType)> {
        df.schema()
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    };
    assert_eq!(schema(&empty), schema(&log));
    crate::output::check_bi_types(&empty).unwrap();
    let s = schema(&log);
    let names_types: Vec<(&str, &DataType)> = s.iter().map(|(n, t)| (n.as_str(), t)).collect();
    use DataType::{Date, Float64, Int32, Int64};
    let text = DataType::String;
    assert_eq!(
        names_types,
        [
            ("period", &text),
            ("topic_id", &Int64),
            ("alert_id", &text),
            ("class", &text),
            ("product_id", &text),
            ("product_name", &text),
            ("event", &text),
            ("region", &text),
            ("region_name", &text),
            ("state", &text),
            ("outcome", &text),
            ("opened_date", &Date),
            ("decided_date", &Date),
            ("decided_by", &text),
            ("assignee", &text),
            ("last_comment", &text),
            ("evidence_a", &Int64),
            ("evidence_eb05", &Float64),
        ]
    );
    // Rows by topic id: 1 (closed, labelled, known product), then 3 (open, unknown product).
    let strs = |c: &str| -> Vec<Option<std::string::String>> {
        let ca = log.column(c).unwrap().str().unwrap().clone();
        ca.iter().map(|v| v.map(str::to_string)).collect()
    };
    assert_eq!(
        log.column("topic_id").unwrap().i64().unwrap().to_vec(),
        [Some(1), Some(3)]
    );
    assert_eq!(
        strs("product_name"),
        [Some("替雷利珠单抗注射液".to_string()), None]
    );
    assert_eq!(strs("outcome"), [Some("labelled".to_string()), None]);
    assert_eq!(
        strs("state"),
        [Some("closed".to_string()), Some("validation".to_string())]
    );
    assert_eq!(strs("region_name"), [None, Some("杭州市".to_string())]);
    let decided = log.column("decided_date").unwrap().cast(&Int32).unwrap();
    // 2025-05-10 is day 20218 after 1970-01-01.
    assert_eq!(decided.i32().unwrap().to_vec(), [Some(20218), None]);
    assert_eq!(
        log.column("evidence_eb05").unwrap().f64().unwrap().to_vec(),
        [Some(2.0), None]
    );
}
