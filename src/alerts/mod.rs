//! Stage 4, alerts: rules → alerts, and their status compared with the previous run.
//!
//! Reads the period's `cases`, `case_products` and `products` (ingest), `rates` and the
//! signals table; writes the alerts that `output` puts in `alerts.jsonl` and `alerts.csv`.
//!
//! Rules (each can be switched off in `[alerts]`; each alert records its rule, threshold and
//! value):
//!
//! | kind | fires when | priority |
//! |---|---|---|
//! | `new_signal` | a watched product × event is a signal | P2 |
//! | `strengthened_signal` | … and was one in the previous run, and its lower bound (EB05, or 2^IC025) rose by `factor` or into a higher EB05 tier (2, 4, 8) | P2 |
//! | `fatal_report` | a case first received in the period names a watched product as suspect and is fatal | P0 (device: P1) |
//! | `serious_report` | … is serious, or new (新的) when `include_new` | P2 |
//! | `cluster` | ≥ `min_cases` cases of one product and batch first received within `window_days`, at least one in the period (any product) | P0 |
//! | `rate_below_target` | a region × class row with a target is not on track | P3 |
//! | `sentinel_quality_below_target` | a region × class's sentinel new-or-serious or serious share is below target | P3 |
//!
//! Priorities follow the regulations' deadlines: a death or a cluster is reported
//! immediately (Order No. 81), a device death within 7 days (SAMR Order No. 1), a serious or
//! new report within 15 days (20 for a device serious injury), others within 30 days.
//!
//! Due dates: each alert is due its priority's deadline after the case's first receipt, a
//! cluster's forming or a signal's first run (CONTEXT.md §4.2; see `due`), and `overdue`
//! when that is before the data cut-off.
//!
//! Status: the previous run is the published run of the same pipeline (by `name`, in the
//! same output folder) for the latest period that starts before this one. A rerun of a
//! period is compared with that same earlier period, never with its own earlier outputs,
//! so reruns are idempotent. An alert whose `alert_id` was not open before is `new`; one
//! that was open is `escalated` when its priority is more urgent or its signal
//! strengthened, else `ongoing`; an alert open before and not firing now is `resolved`.

pub mod due;
pub mod index;
pub mod messages;
pub mod model;
pub mod rule_text;
pub mod rules;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use due::settle_due_dates;
pub use model::{Alert, Kind, Priority, Status};
pub use rules::{evaluate_rules, RuleInputs};

/// A stable id: the same subject gives the same id in every run. `family` groups kinds that
/// follow one subject (a signal's `new_signal` and `strengthened_signal` share an id).
pub fn alert_id(family: &str, subject: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(family.as_bytes());
    for s in subject {
        h.update([0u8]);
        h.update(s.as_bytes());
    }
    let digest = crate::files::hex(&h.finalize());
    format!("{family}-{}", &digest[..16])
}

/// Set each alert's status and `first_period` against the previous run's alerts, and add
/// the previous run's open alerts that no longer fire, as `resolved`.
pub fn compare_with_previous(
    current: Vec<Alert>,
    previous: Option<&[Alert]>,
    period: &str,
) -> Vec<Alert> {
    let open: BTreeMap<&str, &Alert> = previous
        .unwrap_or(&[])
        .iter()
        .filter(|a| a.status != Status::Resolved)
        .map(|a| (a.alert_id.as_str(), a))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(current.len());
    for mut a in current {
        if !open.is_empty() {
            seen.insert(a.alert_id.clone());
        }
        match open.get(a.alert_id.as_str()) {
            None => {
                a.status = Status::New;
                a.first_period = period.to_string();
            }
            Some(prev) => {
                a.first_period = prev.first_period.clone();
                a.status = if a.priority < prev.priority || a.kind == Kind::StrengthenedSignal {
                    Status::Escalated
                } else {
                    Status::Ongoing
                };
                if a.status == Status::Ongoing && a.kind == Kind::NewSignal {
                    // Still a signal, not a new one: say so.
                    if let Some(rest) = a.message_en.strip_prefix("New signal: ") {
                        a.message_en = format!("Signal (ongoing since {}): {rest}", a.first_period);
                    }
                    if let Some(rest) = a.message_zh.strip_prefix("新的信号：") {
                        a.message_zh = format!("持续信号（自 {} 起）：{rest}", a.first_period);
                    }
                }
            }
        }
        out.push(a);
    }
    for (id, prev) in open {
        // A case alert belongs to the period its case was first received in: it expires
        // with that period rather than being carried into later runs as resolved.
        let per_case = matches!(
            prev.kind,
            Kind::FatalReport | Kind::SeriousReport | Kind::DataQuality
        );
        if !seen.contains(id) && !per_case {
            let mut a = prev.clone();
            a.status = Status::Resolved;
            a.period = period.to_string();
            a.message_en = format!("Resolved (no longer fires): {}", prev.message_en);
            a.message_zh = format!("已解除（本期不再触发）：{}", prev.message_zh);
            out.push(a);
        }
    }
    sort_alerts(&mut out);
    out
}

/// Most urgent first: priority, then new, escalated, ongoing, resolved; then kind and id.
///
/// The order is found on the keys alone and then applied with one swap per misplaced
/// alert: a stable sort of the alerts themselves moved each (several hundred bytes)
/// about log₂ n times, 0.2 s for the 1m benchmark's 101k alerts.
pub fn sort_alerts(alerts: &mut [Alert]) {
    // The keys side by side, with the id's first 16 bytes as a number (zero-padded), so
    // that most comparisons never reach the alerts' own memory.
    let prefix = |id: &str| {
        let mut b = [0u8; 16];
        let n = id.len().min(16);
        b[..n].copy_from_slice(&id.as_bytes()[..n]);
        u128::from_be_bytes(b)
    };
    let mut keys: Vec<_> = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.priority, a.status, a.kind, prefix(&a.alert_id), i))
        .collect();
    // The index breaks every tie, so the order is that of a stable sort.
    keys.sort_unstable_by(|x, y| {
        (x.0, x.1, x.2, x.3)
            .cmp(&(y.0, y.1, y.2, y.3))
            .then_with(|| alerts[x.4].alert_id.cmp(&alerts[y.4].alert_id))
            .then(x.4.cmp(&y.4))
    });
    let order: Vec<usize> = keys.into_iter().map(|k| k.4).collect();
    // Position k takes the alert at order[k], one cycle of the permutation at a time.
    let mut placed = vec![false; alerts.len()];
    for start in 0..alerts.len() {
        let mut k = start;
        while !placed[k] {
            placed[k] = true;
            let from = order[k];
            if from == start {
                break;
            }
            alerts.swap(k, from);
            k = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, kind: Kind, priority: Priority) -> Alert {
        Alert {
            period: "2025-Q1".into(),
            first_period: "2025-Q1".into(),
            ..Alert::example(id, kind, priority, Status::New)
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = alert_id("signal", &["drug", "D008", "Myocarditis"]);
        assert_eq!(a, alert_id("signal", &["drug", "D008", "Myocarditis"]));
        assert_ne!(a, alert_id("signal", &["drug", "D008", "Myocarditi"]));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(alert_id("x", &["ab", "c"]), alert_id("x", &["a", "bc"]));
        assert!(a.starts_with("signal-") && a.len() == "signal-".len() + 16);
    }

    #[test]
    fn status_against_the_previous_run() {
        let prev = vec![
            Alert {
                first_period: "2024-Q4".into(),
                ..alert("kept", Kind::NewSignal, Priority::P2)
            },
            alert("worse", Kind::SeriousReport, Priority::P2),
            alert("strong", Kind::NewSignal, Priority::P2),
            alert("gone", Kind::RateBelowTarget, Priority::P3),
            Alert {
                status: Status::Resolved,
                ..alert("long-gone", Kind::RateBelowTarget, Priority::P3)
            },
        ];
        let now = vec![
            alert("kept", Kind::NewSignal, Priority::P2),
            alert("worse", Kind::FatalReport, Priority::P0),
            alert("strong", Kind::StrengthenedSignal, Priority::P2),
            alert("fresh", Kind::Cluster, Priority::P0),
        ];
        let out = compare_with_previous(now, Some(&prev), "2025-Q2");
        let status: BTreeMap<&str, (Status, &str)> = out
            .iter()
            .map(|a| (a.alert_id.as_str(), (a.status, a.first_period.as_str())))
            .collect();
        assert_eq!(status["kept"], (Status::Ongoing, "2024-Q4"));
        assert_eq!(status["worse"], (Status::Escalated, "2025-Q1"));
        assert_eq!(status["strong"], (Status::Escalated, "2025-Q1"));
        assert_eq!(status["fresh"], (Status::New, "2025-Q2"));
        assert_eq!(status["gone"].0, Status::Resolved);
        assert!(
            !status.contains_key("long-gone"),
            "a resolved alert is not carried again"
        );
        // Most urgent first.
        assert_eq!(out[0].priority, Priority::P0);
        assert_eq!(out[0].status, Status::New);
    }

    #[test]
    fn case_alerts_expire_with_their_period_instead_of_resolving() {
        let prev = vec![alert("case", Kind::FatalReport, Priority::P0)];
        let out = compare_with_previous(vec![], Some(&prev), "2025-Q2");
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn without_a_previous_run_everything_is_new() {
        let out =
            compare_with_previous(vec![alert("a", Kind::Cluster, Priority::P0)], None, "2025");
        assert_eq!(
            (out[0].status, out[0].first_period.as_str()),
            (Status::New, "2025")
        );
    }

    proptest::proptest! {
        /// The permutation gives the order of a stable sort of the alerts themselves, equal
        /// keys and equal ids included.
        #[test]
        fn sort_alerts_is_the_stable_sort(
            rows in proptest::collection::vec((0usize..6, 0usize..8, 0usize..4, 0usize..5), 0..60)
        ) {
            let alerts: Vec<Alert> = rows
                .iter()
                .enumerate()
                .map(|(i, &(id, kind, priority, status))| Alert {
                    // Marks the input position, to see that ties keep it.
                    value: i as f64,
                    // Ids longer than the 16 bytes compared as a number, and shorter.
                    ..Alert::example(
                        &format!("{}{id}", if id % 2 == 0 { "a" } else { "signal-0123456789abcdef-" }),
                        Kind::ALL[kind],
                        Priority::ALL[priority],
                        Status::ALL[status],
                    )
                })
                .collect();
            let mut ours = alerts.clone();
            sort_alerts(&mut ours);
            let mut stable = alerts;
            stable.sort_by(|x, y| {
                (x.priority, x.status, x.kind, &x.alert_id)
                    .cmp(&(y.priority, y.status, y.kind, &y.alert_id))
            });
            let seen = |v: &[Alert]| v.iter().map(|a| a.value).collect::<Vec<_>>();
            proptest::prop_assert_eq!(seen(&ours), seen(&stable));
        }
    }
}
