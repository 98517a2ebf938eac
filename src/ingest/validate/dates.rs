//! Date cells: `Date`, timestamps and text, each checked against the plausible range.

use chrono::{Duration, FixedOffset, NaiveDate};
use polars::prelude::*;

use super::Problem;
use crate::config::parse_date;
use crate::error::{PolarsContext, Result};
use crate::period::epoch_days;
use crate::plausible::{Plausible, EARLIEST};
use crate::schema::ColumnSpec;

/// What the date checks take from the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRules {
    /// The range every date must fall in: up to `ingest.today`, or the run's today.
    pub plausible: Plausible,
    /// The zone a time-zone-aware timestamp's date is taken in (`ingest.timezone`).
    pub timezone: FixedOffset,
}

/// Days since 1970-01-01 as a date, when chrono can hold it.
fn date_of(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(Duration::try_days(days)?)
}

/// A date column: `Date`, a timestamp (see the `validate` module doc), or text `YYYY-MM-DD`; every
/// date outside [`DateRules::plausible`] is a problem (the cell is nulled, or the row
/// rejected when the column is required).
pub(super) fn type_date(
    spec: &ColumnSpec,
    s: &Series,
    dates: &DateRules,
    problems: &mut Vec<Problem>,
    context: &dyn Fn() -> String,
) -> Result<Series> {
    let name = PlSmallStr::from_static(spec.name);
    // The plausible range in days, so that a good cell costs two comparisons.
    let range = i64::from(epoch_days(EARLIEST))..=i64::from(epoch_days(dates.plausible.today));
    let mut settle = |row: usize, days: Option<i64>, text: Option<&str>| -> Option<i32> {
        let (found, expected) = match (days, text) {
            (Some(d), _) if range.contains(&d) => return Some(d as i32),
            (Some(d), _) => {
                let found = match (text, date_of(d)) {
                    (Some(v), _) => v.to_string(),
                    (None, Some(date)) => date.to_string(),
                    (None, None) => d.to_string(),
                };
                (found, dates.plausible.expected())
            }
            (None, Some(v)) => (v.to_string(), spec.kind.expected()),
            (None, None) if spec.required => (String::new(), spec.kind.expected()),
            (None, None) => return None,
        };
        problems.push(Problem {
            row,
            column: spec.name,
            found,
            expected,
        });
        None
    };
    let days: Int32Chunked = match s.dtype() {
        DataType::Date => {
            let phys = s.to_physical_repr();
            let ca = phys.i32().context(context)?;
            ca.iter()
                .enumerate()
                .map(|(row, v)| settle(row, v.map(i64::from), None))
                .collect()
        }
        DataType::Datetime(unit, tz) => {
            let per_second: i64 = match unit {
                TimeUnit::Nanoseconds => 1_000_000_000,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Milliseconds => 1_000,
            };
            let per_day = per_second * 86_400;
            // An instant (a zone given) is shifted to the pipeline's zone; a naive
            // timestamp is already local time.
            let shift = match tz {
                Some(_) => i64::from(dates.timezone.local_minus_utc()) * per_second,
                None => 0,
            };
            let phys = s.to_physical_repr();
            let ca = phys.i64().context(context)?;
            ca.iter()
                .enumerate()
                .map(|(row, v)| {
                    let days = v.map(|v| v.saturating_add(shift).div_euclid(per_day));
                    settle(row, days, None)
                })
                .collect()
        }
        dtype => {
            let text = if dtype == &DataType::String {
                s.clone()
            } else {
                s.cast(&DataType::String).context(context)?
            };
            let ca = text.str().context(context)?;
            ca.iter()
                .enumerate()
                .map(
                    |(row, v)| match v.map(str::trim).filter(|v| !v.is_empty()) {
                        None => settle(row, None, None),
                        Some(v) => settle(
                            row,
                            parse_date(v).map(|d| i64::from(epoch_days(d))),
                            Some(v),
                        ),
                    },
                )
                .collect()
        }
    };
    days.with_name(name)
        .into_series()
        .cast(&DataType::Date)
        .context(context)
}
