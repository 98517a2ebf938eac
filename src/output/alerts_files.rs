//! `alerts.jsonl` and `alerts.csv`, written alert by alert straight from the list: each
//! field is borrowed from its alert (no copy of the list's text is built), and the
//! `numbers` JSON of a CSV row goes through one buffer that every row reuses.
//!
//! `alerts.jsonl`: one JSON object per line (the [`Alert`] serialised as it is), `\n`
//! after each. `alerts.csv`: UTF-8 with a byte-order mark (so that Excel shows Chinese),
//! the header [`super::ALERTS_CSV_HEADER`], `numbers` as a JSON object in one cell.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::alerts::Alert;
use crate::error::{Error, Result};

/// Write `alerts` to `path` as JSON lines.
pub(super) fn write_jsonl(path: &Path, alerts: &[Alert]) -> Result<()> {
    let io = |e: std::io::Error| Error::io(path, e);
    let mut f = BufWriter::new(fs::File::create(path).map_err(io)?);
    for a in alerts {
        serde_json::to_writer(&mut f, a).map_err(|e| io(std::io::Error::other(e)))?;
        f.write_all(b"\n").map_err(io)?;
    }
    f.flush().map_err(io)
}

/// Write `alerts` to `path` as CSV.
pub(super) fn write_csv(path: &Path, alerts: &[Alert]) -> Result<()> {
    let io = |e: std::io::Error| Error::io(path, e);
    let mut f = BufWriter::new(fs::File::create(path).map_err(io)?);
    f.write_all("\u{feff}".as_bytes()).map_err(io)?;
    let mut w = csv::Writer::from_writer(f);
    let csv_err = |e: csv::Error| Error::io(path, std::io::Error::other(e));
    w.write_record(super::ALERTS_CSV_HEADER).map_err(csv_err)?;
    let mut numbers = Vec::new();
    for a in alerts {
        numbers.clear();
        serde_json::to_writer(&mut numbers, &a.numbers)
            .map_err(|e| io(std::io::Error::other(e)))?;
        let due = a.due_date.map(|d| d.to_string()).unwrap_or_default();
        let topic = a.topic_id.map(|t| t.to_string()).unwrap_or_default();
        let (threshold, value) = (a.threshold.to_string(), a.value.to_string());
        w.write_record([
            a.alert_id.as_bytes(),
            a.kind.as_str().as_bytes(),
            a.priority.as_str().as_bytes(),
            a.status.as_str().as_bytes(),
            due.as_bytes(),
            if a.overdue { &b"true"[..] } else { b"false" },
            topic.as_bytes(),
            opt(&a.topic_state),
            a.period.as_bytes(),
            a.first_period.as_bytes(),
            a.class.as_bytes(),
            opt(&a.product_id),
            opt(&a.product_name),
            opt(&a.event),
            opt(&a.region),
            opt(&a.region_name),
            opt(&a.batch),
            opt(&a.case_id),
            a.rule.as_bytes(),
            threshold.as_bytes(),
            value.as_bytes(),
            &numbers,
            a.message_en.as_bytes(),
            a.message_zh.as_bytes(),
        ])
        .map_err(csv_err)?;
    }
    w.flush().map_err(io)
}

/// An optional text field: empty when absent.
fn opt(v: &Option<String>) -> &[u8] {
    v.as_deref().unwrap_or_default().as_bytes()
}
