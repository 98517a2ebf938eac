//! `cluster` (群体不良事件): one product and batch (or city) in several cases within a window.

use super::*;

/// One case of a product in a cluster search: its first receipt (days) and region.
pub(super) struct Hit {
    pub(super) day: i32,
    pub(super) case: String,
    pub(super) region: String,
}

/// The window of `w` days with the most cases that includes a case in `[start, end]`:
/// (first index, last index) into `hits` (sorted by day).
pub(super) fn best_window(hits: &[Hit], w: i64, start: i32, end: i32) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut j = 0;
    for i in 0..hits.len() {
        if j < i {
            j = i;
        }
        while j + 1 < hits.len() && ((hits[j + 1].day - hits[i].day) as i64) < w {
            j += 1;
        }
        let touches = hits[i..=j].iter().any(|h| h.day >= start && h.day <= end);
        if touches && best.is_none_or(|(bi, bj)| j - i > bj - bi) {
            best = Some((i, j));
        }
    }
    best
}

pub(super) fn cluster_alerts(
    inp: &RuleInputs<'_>,
    c: &crate::config::Cluster,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let ctx = || "alerts: cluster search".to_string();
    let p = inp.period;
    let background = inp
        .cases
        .clone()
        .lazy()
        // Only a window of `window_days` that touches the period can alert, so cases first
        // received before `start - window_days` cannot be in one (see `best_window`).
        .filter(
            col(col::FIRST_RECEIVED)
                .cast(DataType::Int32)
                .lt_eq(lit(epoch_days(p.end())))
                .and(
                    col(col::FIRST_RECEIVED)
                        .cast(DataType::Int32)
                        .gt_eq(lit(epoch_days(p.start()) as i64 - c.window_days)),
                ),
        )
        .select([
            col(col::CASE_KEY),
            col(col::CASE_ID),
            col(col::CLASS),
            col(col::REGION),
            col(col::FIRST_RECEIVED),
        ]);
    let df = inp
        .case_products
        .clone()
        .lazy()
        .select([col(col::CASE_KEY), col(col::PRODUCT_ID), col(col::BATCH)])
        // The join keeps only the cases in the window, a small share of the background;
        // de-duplicating after it works on those rows alone.
        .join(
            background,
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        )
        .unique(None, UniqueKeepStrategy::Any)
        .sort(
            [
                col::CLASS,
                col::PRODUCT_ID,
                col::BATCH,
                col::FIRST_RECEIVED,
                col::CASE_ID,
            ],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()
        .context(ctx)?;
    let s = Cols(&df, "case products");
    let (case, class, region, pid, batch) = (
        s.str(col::CASE_ID)?,
        s.str(col::CLASS)?,
        s.str(col::REGION)?,
        s.str(col::PRODUCT_ID)?,
        s.str(col::BATCH)?,
    );
    let day = s.days(col::FIRST_RECEIVED)?;
    // Group: (class, product, Some(batch)) or, for cases with no batch, (class, product, city).
    let mut groups: BTreeMap<(String, String, bool, String), Vec<Hit>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(cid), Some(cl), Some(pr), Some(d)) =
            (case.get(i), class.get(i), pid.get(i), day.get(i))
        else {
            continue;
        };
        let reg = region.get(i).unwrap_or("");
        let key = match batch.get(i) {
            Some(b) => (cl.to_string(), pr.to_string(), true, b.to_string()),
            None if c.by_region && reg.len() == 6 => (
                cl.to_string(),
                pr.to_string(),
                false,
                crate::schema::city_of(reg),
            ),
            None => continue,
        };
        groups.entry(key).or_default().push(Hit {
            day: d,
            case: cid.to_string(),
            region: reg.to_string(),
        });
    }
    let names = product_names(inp.products)?;
    let (start, end) = (epoch_days(p.start()), epoch_days(p.end()));
    for ((cl, pr, by_batch, key), mut hits) in groups {
        hits.sort_by(|x, y| (x.day, &x.case).cmp(&(y.day, &y.case)));
        let min = if by_batch {
            c.min_cases
        } else {
            c.region_min_cases
        };
        let Some((i, j)) = best_window(&hits, c.window_days, start, end) else {
            continue;
        };
        let n = (j - i + 1) as i64;
        if n < min {
            continue;
        }
        let window = &hits[i..=j];
        let first: NaiveDate = from_epoch_days(window[0].day);
        let last: NaiveDate = from_epoch_days(window[window.len() - 1].day);
        let mut regions: Vec<&str> = window.iter().map(|h| h.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();
        let cases: Vec<&str> = window.iter().map(|h| h.case.as_str()).collect();
        let name = names.get(&pr).cloned();
        let label = product_label(&pr, name.as_deref());
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
            &cl,
            alert_id(family, &[&cl, &pr, &key]),
        );
        al.product_id = Some(pr.clone());
        al.product_name = name;
        if by_batch {
            al.batch = Some(key.clone());
        } else {
            al.region = Some(key.clone());
        }
        al.due_date = Some(due_from(
            formed,
            deadline_days(Kind::Cluster, al.priority, &cl, false),
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
