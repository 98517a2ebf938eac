//! `fatal_report` and `serious_report`: cases on watched products received or followed up in the period.

use super::*;

/// A case first received in the period, or one whose latest version (a follow-up, 跟踪报告)
/// arrived in it: a follow-up that turns a case fatal must alert.
pub(super) fn received_or_followed_up_in(p: &Period) -> Expr {
    let day = |c: &str| col(c).cast(DataType::Int32);
    let within = |c: &str| {
        day(c)
            .gt_eq(lit(epoch_days(p.start())))
            .and(day(c).lt_eq(lit(epoch_days(p.end()))))
    };
    within(col::FIRST_RECEIVED).or(within(col::RECEIVED_DATE))
}

/// One row per (case, watched product it names as suspect or interacting), for the given
/// cases (a frame with `__case`): the product's registry columns beside the case's.
pub(super) fn watched_products_of(inp: &RuleInputs<'_>, cases: LazyFrame) -> LazyFrame {
    let watched = watched_products(inp.products, &inp.signals_cfg.watch);
    suspect_products(inp.case_products, watched.clone())
        .join(
            watched,
            [col(col::PRODUCT_ID)],
            [col(col::PRODUCT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            cases,
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        )
}

pub(super) fn case_alerts(
    inp: &RuleInputs<'_>,
    cfg: &Alerts,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let ctx = || "alerts: fatal and serious cases on watched products".to_string();
    let in_period = inp
        .cases
        .clone()
        .lazy()
        .filter(received_or_followed_up_in(inp.period))
        .select([
            col(col::CASE_KEY),
            col(col::CASE_ID),
            col(col::CLASS),
            col(col::REGION),
            col(col::FIRST_RECEIVED),
            col(col::FATAL).fill_null(lit(false)),
            col(col::IS_SERIOUS).fill_null(lit(false)),
            col(col::IS_NEW).fill_null(lit(false)),
        ]);
    let df = watched_products_of(inp, in_period)
        .filter(
            col(col::FATAL)
                .or(col(col::IS_SERIOUS))
                .or(col(col::IS_NEW)),
        )
        .sort(
            [col::CASE_ID, col::PRODUCT_ID],
            SortMultipleOptions::default(),
        )
        .collect()
        .context(ctx)?;
    let s = Cols(&df, "cases");
    let (case, class, region, pid, pname) = (
        s.str(col::CASE_ID)?,
        s.str(col::CLASS)?,
        s.str(col::REGION)?,
        s.str(col::PRODUCT_ID)?,
        s.str(out::PRODUCT_NAME)?,
    );
    let (fatal, serious, new) = (
        s.bool(col::FATAL)?,
        s.bool(col::IS_SERIOUS)?,
        s.bool(col::IS_NEW)?,
    );
    let (innov, cond, proc_) = (
        s.bool(col::INNOVATIVE)?,
        s.bool(col::CONDITIONAL)?,
        s.bool(col::PROCURED)?,
    );
    let date = s.days(col::FIRST_RECEIVED)?;
    for i in 0..df.height() {
        let (Some(cid), Some(c), Some(pr)) = (case.get(i), class.get(i), pid.get(i)) else {
            continue;
        };
        let (is_fatal, is_serious, is_new) = (
            fatal.get(i) == Some(true),
            serious.get(i) == Some(true),
            new.get(i) == Some(true),
        );
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
        let name = pname.get(i);
        let label = product_label(pr, name);
        let (wen, wzh) = watch_labels(
            c,
            innov.get(i).unwrap_or(false),
            cond.get(i).unwrap_or(false),
            proc_.get(i).unwrap_or(false),
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
