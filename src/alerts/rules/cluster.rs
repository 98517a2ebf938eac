//! `cluster` (群体不良事件): one product and batch (or city) in several cases within a window.

use super::*;
use crate::alerts::index::CaseRows;

/// One case of a product in a cluster search, borrowed from the frames: the group it
/// falls in (class, product, by batch or not, the batch or the city's first four digits),
/// its first receipt (days), its case id and region. Sorting these sorts by group, then
/// by day and case id within a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Hit<'a> {
    pub(super) class: &'a str,
    pub(super) product: &'a str,
    pub(super) by_batch: bool,
    pub(super) key: &'a str,
    pub(super) day: i32,
    pub(super) case: &'a str,
    pub(super) region: &'a str,
}

impl Hit<'_> {
    fn same_group(&self, other: &Hit<'_>) -> bool {
        (self.class, self.product, self.by_batch, self.key)
            == (other.class, other.product, other.by_batch, other.key)
    }
}

/// The window of `w` days with the most cases that includes a case in `[start, end]`:
/// (first index, last index) into `days` (sorted). Of windows with as many cases, the
/// earliest. Linear: the window's far end only moves forward, and whether a window
/// `[i, j]` holds a case in the period is one comparison, at the first index at or after
/// both `i` and the period's start.
pub(super) fn best_window(days: &[i32], w: i64, start: i32, end: i32) -> Option<(usize, usize)> {
    let first_in = days.partition_point(|&d| d < start);
    let mut best: Option<(usize, usize)> = None;
    let mut j = 0;
    for i in 0..days.len() {
        if j < i {
            j = i;
        }
        while j + 1 < days.len() && (days[j + 1] as i64 - days[i] as i64) < w {
            j += 1;
        }
        let k = i.max(first_in);
        let touches = k <= j && days[k] <= end;
        if touches && best.is_none_or(|(bi, bj)| j - i > bj - bi) {
            best = Some((i, j));
        }
    }
    best
}

/// The cases of every cluster search group: one hit per case and group, sorted. A case
/// counts for a product and batch when it names the product with that batch, and (with
/// `by_region`) for a product and its city when it names the product with no batch.
/// Only cases first received in `[from, to]` (days) can be in a window that touches the
/// period; the others are skipped before any text is read.
pub(super) fn cluster_hits<'a>(
    cases: &'a DataFrame,
    case_products: &'a DataFrame,
    by_region: bool,
    (from, to): (i64, i64),
) -> Result<Vec<Hit<'a>>> {
    let ctx = || "alerts: cluster search".to_string();
    let text = |n: &str| case_products.column(n).and_then(|c| c.str()).context(ctx);
    let batch = text(col::BATCH)?;
    let mut hits = Vec::new();
    // No case names a batch: only the by-city search can find anything.
    if batch.null_count() == batch.len() && !by_region {
        return Ok(hits);
    }
    let cases = CaseColumns::of(cases)?;
    let rows = CaseRows::of(cases.frame)?;
    let keys = case_products
        .column(col::CASE_KEY)
        .and_then(|c| c.idx().cloned())
        .context(ctx)?;
    let pid = text(col::PRODUCT_ID)?;
    for ((key, p), b) in keys.iter().zip(pid.iter()).zip(batch.iter()) {
        let (Some(key), Some(p)) = (key, p) else {
            continue;
        };
        if b.is_none() && !by_region {
            continue;
        }
        let Some(r) = rows.row(key) else {
            continue;
        };
        let Some(day) = cases.day.get(r) else {
            continue;
        };
        if (day as i64) < from || (day as i64) > to {
            continue;
        }
        let (Some(case), Some(class)) = (cases.case.get(r), cases.class.get(r)) else {
            continue;
        };
        let region = cases.region.get(r).unwrap_or("");
        let (by_batch, group) = match b {
            Some(b) => (true, b),
            // The city is the first four digits of the region (`city_of` adds `00`).
            None => match region.get(..4) {
                Some(city) if region.len() == 6 => (false, city),
                _ => continue,
            },
        };
        hits.push(Hit {
            class,
            product: p,
            by_batch,
            key: group,
            day,
            case,
            region,
        });
    }
    // A case that names a product and batch twice is one case of it.
    hits.sort_unstable();
    hits.dedup();
    Ok(hits)
}

/// The columns of `cases` the cluster search reads.
struct CaseColumns<'a> {
    frame: &'a DataFrame,
    case: &'a StringChunked,
    class: &'a StringChunked,
    region: &'a StringChunked,
    day: Int32Chunked,
}

impl<'a> CaseColumns<'a> {
    fn of(frame: &'a DataFrame) -> Result<Self> {
        let ctx = || "alerts: reading cases".to_string();
        let text = |n: &str| frame.column(n).and_then(|c| c.str()).context(ctx);
        Ok(CaseColumns {
            frame,
            case: text(col::CASE_ID)?,
            class: text(col::CLASS)?,
            region: text(col::REGION)?,
            day: Cols(frame, "cases").days(col::FIRST_RECEIVED)?,
        })
    }
}

pub(super) fn cluster_alerts(
    inp: &RuleInputs<'_>,
    c: &crate::config::Cluster,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let p = inp.period;
    let (start, end) = (epoch_days(p.start()), epoch_days(p.end()));
    // Only a window of `window_days` that touches the period can alert, so cases first
    // received before `start - window_days` cannot be in one (see `best_window`).
    let hits = cluster_hits(
        inp.cases,
        inp.case_products,
        c.by_region,
        (start as i64 - c.window_days, end as i64),
    )?;
    if hits.is_empty() {
        return Ok(());
    }
    let names = product_names(inp.products)?;
    let mut days = Vec::new();
    for group in hits.chunk_by(|x, y| x.same_group(y)) {
        let (cl, pr, by_batch) = (group[0].class, group[0].product, group[0].by_batch);
        let min = if by_batch {
            c.min_cases
        } else {
            c.region_min_cases
        };
        if (group.len() as i64) < min {
            continue;
        }
        days.clear();
        days.extend(group.iter().map(|h| h.day));
        let Some((i, j)) = best_window(&days, c.window_days, start, end) else {
            continue;
        };
        let n = (j - i + 1) as i64;
        if n < min {
            continue;
        }
        let window = &group[i..=j];
        let key = if by_batch {
            group[0].key.to_string()
        } else {
            crate::schema::city_of(group[0].region)
        };
        let first: NaiveDate = from_epoch_days(window[0].day);
        let last: NaiveDate = from_epoch_days(window[window.len() - 1].day);
        let mut regions: Vec<&str> = window.iter().map(|h| h.region).collect();
        regions.sort_unstable();
        regions.dedup();
        let cases: Vec<&str> = window.iter().map(|h| h.case).collect();
        let name = names.get(pr).cloned();
        let label = product_label(pr, name.as_deref());
        let family = if by_batch {
            "cluster-batch"
        } else {
            "cluster-region"
        };
        // A cluster exists from the day its `min`-th case was first received: the clock
        // of "immediately" starts there, not at its first case (which was no cluster yet).
        let formed = from_epoch_days(window[(min.max(1) as usize - 1).min(window.len() - 1)].day);
        let mut al = base(
            Kind::Cluster,
            Priority::P0,
            inp.period,
            cl,
            alert_id(family, &[cl, pr, &key]),
        );
        al.product_id = Some(pr.to_string());
        al.product_name = name;
        if by_batch {
            al.batch = Some(key.clone());
        } else {
            al.region = Some(key.clone());
        }
        al.due_date = Some(due_from(
            formed,
            deadline_days(Kind::Cluster, al.priority, cl, false),
        ));
        al.rule = format!("cases >= {min} within {} days", c.window_days);
        al.threshold = min as f64;
        al.value = n as f64;
        al.numbers.insert("cases".into(), json!(n));
        al.numbers
            .insert("window_start".into(), json!(first.to_string()));
        al.numbers
            .insert("window_end".into(), json!(last.to_string()));
        al.numbers.insert("case_ids".into(), json!(cases));
        al.numbers.insert("regions".into(), json!(regions));
        let w = c.window_days;
        let (what_en, what_zh) = if by_batch {
            (format!("batch {key}"), format!("批号 {key}"))
        } else {
            let city = crate::regions::label(&key);
            (
                format!("no batch, city {city}"),
                format!("无批号，地市 {city}"),
            )
        };
        let places: Vec<String> = regions.iter().map(|r| crate::regions::label(r)).collect();
        al.message_en = format!(
            "Possible cluster (群体不良事件): {n} cases of {label}, {what_en}, first received within {w} days ({first} to {last}), regions {}; report immediately and investigate.",
            places.join(", ")
        );
        al.message_zh = format!(
            "疑似群体不良事件：{label}（{what_zh}）{w} 日内首次收到 {n} 例（{first} 至 {last}），涉及地区 {}；应立即报告并组织调查。",
            places.join("、")
        );
        out_alerts.push(al);
    }
    Ok(())
}
