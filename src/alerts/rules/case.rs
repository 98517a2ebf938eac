//! `fatal_report` and `serious_report`: cases on watched products received or followed up in the period.

use super::*;
use crate::alerts::index::{watched_pairs, CaseRows, Watched};

/// Which cases were first received in the period, or had their latest version (a
/// follow-up, 跟踪报告) arrive in it: a follow-up that turns a case fatal must alert. One
/// flag per row of `cases`.
pub(super) fn received_or_followed_up_in(cases: &DataFrame, p: &Period) -> Result<Vec<bool>> {
    let s = Cols(cases, "cases");
    let (first, latest) = (s.days(col::FIRST_RECEIVED)?, s.days(col::RECEIVED_DATE)?);
    let (start, end) = (epoch_days(p.start()), epoch_days(p.end()));
    let within = |d: Option<i32>| d.is_some_and(|d| d >= start && d <= end);
    Ok(first
        .iter()
        .zip(latest.iter())
        .map(|(f, l)| within(f) || within(l))
        .collect())
}

/// The distinct (case row, watched product row) pairs of the cases `keep` marks, ordered
/// by case id then product id: one per case and watched product it names as suspect or
/// interacting.
pub(super) fn watched_products_of(
    inp: &RuleInputs<'_>,
    watched: &Watched,
    keep: &[bool],
) -> Result<Vec<(u32, u32)>> {
    let rows = CaseRows::of(inp.cases)?;
    let mut pairs = watched_pairs(&rows, inp.case_products, watched, |r| keep[r])?;
    let case = Cols(inp.cases, "cases").str(col::CASE_ID)?;
    let case = case.rechunk().into_owned();
    pairs.sort_by(|x, y| {
        (case.get(x.0 as usize), watched.id.get(x.1 as usize))
            .cmp(&(case.get(y.0 as usize), watched.id.get(y.1 as usize)))
    });
    Ok(pairs)
}

pub(super) fn case_alerts(
    inp: &RuleInputs<'_>,
    cfg: &Alerts,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let s = Cols(inp.cases, "cases");
    let flag =
        |n: &str| -> Result<Vec<bool>> { Ok(s.bool(n)?.iter().map(|b| b == Some(true)).collect()) };
    let (fatal, serious, new) = (
        flag(col::FATAL)?,
        flag(col::IS_SERIOUS)?,
        flag(col::IS_NEW)?,
    );
    let mut keep = received_or_followed_up_in(inp.cases, inp.period)?;
    for (i, k) in keep.iter_mut().enumerate() {
        *k = *k && (fatal[i] || serious[i] || new[i]);
    }
    let watched = Watched::of(inp.products, &inp.signals_cfg.watch)?;
    let pairs = watched_products_of(inp, &watched, &keep)?;
    let (case, class, region) = (
        s.str(col::CASE_ID)?.rechunk().into_owned(),
        s.str(col::CLASS)?.rechunk().into_owned(),
        s.str(col::REGION)?.rechunk().into_owned(),
    );
    let date = s.days(col::FIRST_RECEIVED)?.rechunk().into_owned();
    let (pid, pname) = (&watched.id, &watched.name);
    let (innov, cond, proc_) = (&watched.innovative, &watched.conditional, &watched.procured);
    for &(row, w) in &pairs {
        let (i, w) = (row as usize, w as usize);
        let (Some(cid), Some(c), Some(pr)) = (case.get(i), class.get(i), pid.get(w)) else {
            continue;
        };
        let (is_fatal, is_serious, is_new) = (fatal[i], serious[i], new[i]);
        let device = c == "device";
        let (kind, priority, due_en, due_zh) = if is_fatal && cfg.fatal_report {
            if device {
                (
                    Kind::FatalReport,
                    Priority::P1,
                    "report within 7 days",
                    "应于7日内报告",
                )
            } else {
                (
                    Kind::FatalReport,
                    Priority::P0,
                    "report immediately",
                    "应立即报告",
                )
            }
        } else if (is_serious || is_fatal || (is_new && cfg.serious_include_new))
            && cfg.serious_report
        {
            if device && (is_serious || is_fatal) {
                (
                    Kind::SeriousReport,
                    Priority::P2,
                    "report within 20 days",
                    "应于20日内报告",
                )
            } else {
                (
                    Kind::SeriousReport,
                    Priority::P2,
                    "report within 15 days",
                    "应于15日内报告",
                )
            }
        } else {
            continue;
        };
        let name = pname.get(w);
        let label = product_label(pr, name);
        let (wen, wzh) = watch_labels(
            c,
            innov.get(w).unwrap_or(false),
            cond.get(w).unwrap_or(false),
            proc_.get(w).unwrap_or(false),
        );
        let reg = region.get(i).unwrap_or("");
        let place = crate::regions::label(reg);
        let received = date
            .get(i)
            .map(from_epoch_days)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let mut al = base(kind, priority, inp.period, c, alert_id("case", &[cid, pr]));
        // The clock starts at the case's first receipt (day 0, CONTEXT.md §4.2).
        al.due_date = date.get(i).map(|d| {
            due_from(
                from_epoch_days(d),
                deadline_days(kind, priority, c, is_serious || is_fatal),
            )
        });
        al.product_id = Some(pr.to_string());
        al.product_name = name.map(str::to_string);
        al.region = Some(reg.to_string());
        al.case_id = Some(cid.to_string());
        al.numbers.insert("fatal".into(), json!(is_fatal));
        al.numbers.insert("serious".into(), json!(is_serious));
        al.numbers.insert("new".into(), json!(is_new));
        al.numbers.insert("received_date".into(), json!(received));
        al.threshold = 1.0;
        al.value = 1.0;
        let (what_en, what_zh) = match kind {
            Kind::FatalReport if device => ("Device death", "医疗器械死亡事件"),
            Kind::FatalReport => ("Death", "死亡病例"),
            _ if is_serious || is_fatal => {
                if device {
                    ("Serious injury", "严重伤害事件")
                } else {
                    ("Serious report", "严重病例")
                }
            }
            _ => ("New (unlabelled) reaction", "新的不良反应病例"),
        };
        al.rule = match kind {
            Kind::FatalReport => "fatal = true".to_string(),
            _ if cfg.serious_include_new => "is_serious or is_new = true".to_string(),
            _ => "is_serious = true".to_string(),
        };
        al.message_en = format!(
            "{what_en} on {label}{wen}: case {cid}, region {place}, first received {received}; {due_en}."
        );
        al.message_zh = format!(
            "{label}{wzh}{what_zh}：病例 {cid}，地区 {place}，{received} 首次收到，{due_zh}。"
        );
        out_alerts.push(al);
    }
    Ok(())
}
