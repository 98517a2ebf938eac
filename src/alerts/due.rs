//! Due dates and `overdue`, after the reporting deadlines (CONTEXT.md §4.2; the table is
//! [`deadline_days`](super::model::deadline_days)).
//!
//! When the clock starts (day 0, "first awareness" in the regulations' words):
//!
//! - a case alert (`fatal_report`, `serious_report`, `data_quality`): the case's first
//!   receipt (`first_received`), set by its rule;
//! - a `cluster`: the first receipt of the case that made it one (the `min_cases`-th case
//!   of its window), set by its rule. Its earliest case was no cluster yet;
//! - a signal (`new_signal`, `strengthened_signal`) or a rate or sentinel-quality metric:
//!   the data cut-off of the run that first fired it. A signal is a property of the whole
//!   background, not of one case: it is known only once a batch has computed it, and the
//!   earliest of its cases may be years old.
//!
//! An alert that is not about one case keeps the earliest due date it has had: a signal
//! still open in the next quarter keeps the due date of the quarter that raised it (so it
//! turns overdue), and so does a cluster whose window moved. A rerun of a period compares
//! with the same earlier period (see `alerts`), so due dates are as idempotent as statuses.
//!
//! `overdue` = `due_date` < the run's data cut-off (the latest received date of the data,
//! bounded by the run's as-of date). A resolved alert asks for nothing and is never
//! overdue; it keeps the due date it had.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use super::model::{deadline_days, Alert, Kind, Status};

/// `start` + `days` (0 = the same day). Negative or out-of-range days give `start`.
pub fn due_from(start: NaiveDate, days: i64) -> NaiveDate {
    u64::try_from(days)
        .ok()
        .and_then(|d| start.checked_add_days(Days::new(d)))
        .unwrap_or(start)
}

/// Whether the alert is about one case (its rule set the due date from the case).
fn per_case(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::FatalReport | Kind::SeriousReport | Kind::DataQuality
    )
}

/// Give every alert its `due_date` and `overdue` as of `cutoff`, after the statuses were
/// set against the previous run's alerts (`previous`).
pub fn settle_due_dates(alerts: &mut [Alert], previous: Option<&[Alert]>, cutoff: NaiveDate) {
    let before: BTreeMap<&str, NaiveDate> = previous
        .unwrap_or(&[])
        .iter()
        .filter(|a| a.status != Status::Resolved)
        .filter_map(|a| Some((a.alert_id.as_str(), a.due_date?)))
        .collect();
    for a in alerts.iter_mut() {
        if a.status == Status::Resolved {
            a.overdue = false;
            continue;
        }
        let own = a.due_date.unwrap_or_else(|| {
            due_from(cutoff, deadline_days(a.kind, a.priority, &a.class, false))
        });
        let due = match before.get(a.alert_id.as_str()) {
            Some(&earlier) if !per_case(a.kind) => own.min(earlier),
            _ => own,
        };
        a.due_date = Some(due);
        a.overdue = due < cutoff;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::model::Priority;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn alert(id: &str, kind: Kind, priority: Priority, due: Option<&str>) -> Alert {
        Alert {
            value: 1.0,
            message_en: "m".into(),
            message_zh: "m".into(),
            due_date: due.map(day),
            ..Alert::example(id, kind, priority, Status::New)
        }
    }

    #[test]
    fn due_from_counts_calendar_days() {
        assert_eq!(due_from(day("2025-07-20"), 0), day("2025-07-20"));
        assert_eq!(due_from(day("2025-07-20"), 15), day("2025-08-04"));
        assert_eq!(due_from(day("2024-02-20"), 30), day("2024-03-21")); // leap year
        assert_eq!(due_from(day("2025-07-20"), -3), day("2025-07-20"));
    }

    #[test]
    fn overdue_is_strictly_before_the_cutoff() {
        let cutoff = day("2025-09-30");
        let mut v = vec![
            alert("late", Kind::FatalReport, Priority::P0, Some("2025-09-29")),
            alert("today", Kind::FatalReport, Priority::P0, Some("2025-09-30")),
            alert(
                "later",
                Kind::SeriousReport,
                Priority::P2,
                Some("2025-10-10"),
            ),
        ];
        settle_due_dates(&mut v, None, cutoff);
        let got: Vec<bool> = v.iter().map(|a| a.overdue).collect();
        assert_eq!(got, [true, false, false]);
    }

    #[test]
    fn signals_and_rates_start_at_the_cutoff_of_their_first_run() {
        let cutoff = day("2025-09-28");
        let mut v = vec![
            alert("sig", Kind::NewSignal, Priority::P2, None),
            alert("rate", Kind::RateBelowTarget, Priority::P3, None),
        ];
        settle_due_dates(&mut v, None, cutoff);
        assert_eq!(v[0].due_date, Some(day("2025-10-13")));
        assert_eq!(v[1].due_date, Some(day("2025-10-28")));
        assert!(!v[0].overdue && !v[1].overdue);
    }

    #[test]
    fn an_open_signal_keeps_its_first_due_date_and_turns_overdue() {
        let prev = vec![
            alert("sig", Kind::NewSignal, Priority::P2, Some("2025-07-15")),
            // A case alert's due date comes from its case, never from the previous run.
            alert(
                "case",
                Kind::SeriousReport,
                Priority::P2,
                Some("2025-06-01"),
            ),
            Alert {
                status: Status::Resolved,
                ..alert("gone", Kind::NewSignal, Priority::P2, Some("2025-01-01"))
            },
        ];
        let mut now = vec![
            Alert {
                status: Status::Ongoing,
                ..alert("sig", Kind::StrengthenedSignal, Priority::P2, None)
            },
            Alert {
                status: Status::Escalated,
                ..alert("case", Kind::FatalReport, Priority::P0, Some("2025-07-02"))
            },
            // Resolved before: a new alert with the same id starts afresh.
            alert("gone", Kind::NewSignal, Priority::P2, None),
            Alert {
                status: Status::Resolved,
                ..alert("old", Kind::Cluster, Priority::P0, Some("2025-05-05"))
            },
        ];
        settle_due_dates(&mut now, Some(&prev), day("2025-09-30"));
        let got: Vec<(Option<NaiveDate>, bool)> =
            now.iter().map(|a| (a.due_date, a.overdue)).collect();
        assert_eq!(
            got,
            [
                (Some(day("2025-07-15")), true),
                (Some(day("2025-07-02")), true),
                (Some(day("2025-10-15")), false),
                (Some(day("2025-05-05")), false),
            ]
        );
    }
}
