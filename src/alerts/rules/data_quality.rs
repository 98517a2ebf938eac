//! `data_quality`: a case on a watched product, received or followed up in the period,
//! whose seriousness (`is_serious`) or outcome (`fatal`) is null — left empty, or nulled
//! by ingest because its value was unreadable. A null flag is not a death or a serious
//! case for the other rules, so a person must look at the report (P3, within 30 days).
//!
//! A column that no case of the run fills (the source does not record it, e.g. a file
//! without a `fatal` column) raises nothing: every case would fire and none would say more
//! than the manifest does.

use super::case::{received_or_followed_up_in, watched_products_of};
use super::*;

pub(super) fn data_quality_alerts(inp: &RuleInputs<'_>, out_alerts: &mut Vec<Alert>) -> Result<()> {
    let ctx = || "alerts: cases with a null seriousness or outcome".to_string();
    let recorded = |c: &str| inp.cases.column(c).is_ok_and(|s| s.null_count() < s.len());
    let (serious_recorded, fatal_recorded) = (recorded(col::IS_SERIOUS), recorded(col::FATAL));
    if !serious_recorded && !fatal_recorded {
        return Ok(());
    }
    let missing = |c: &str, recorded: bool| col(c).is_null().and(lit(recorded));
    let cases = inp
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
            missing(col::IS_SERIOUS, serious_recorded).alias(col::IS_SERIOUS),
            missing(col::FATAL, fatal_recorded).alias(col::FATAL),
        ])
        .filter(col(col::IS_SERIOUS).or(col(col::FATAL)));
    let df = watched_products_of(inp, cases)
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
    let (no_serious, no_fatal) = (s.bool(col::IS_SERIOUS)?, s.bool(col::FATAL)?);
    let date = s.days(col::FIRST_RECEIVED)?;
    // One alert per case: its watched products, sorted, in one alert.
    let mut i = 0;
    while i < df.height() {
        let cid = case.get(i).unwrap_or("");
        let mut j = i;
        let mut labels = Vec::new();
        let mut ids = Vec::new();
        while j < df.height() && case.get(j) == Some(cid) {
            if let Some(p) = pid.get(j) {
                labels.push(product_label(p, pname.get(j)));
                ids.push(p.to_string());
            }
            j += 1;
        }
        let c = class.get(i).unwrap_or("");
        // (key in `numbers`, English, Chinese) of each flag the case is missing.
        let missing: Vec<(&str, &str, &str)> = [
            (
                no_serious.get(i),
                ("seriousness", "seriousness (is_serious)", "严重程度"),
            ),
            (no_fatal.get(i), ("outcome", "outcome (fatal)", "是否死亡")),
        ]
        .into_iter()
        .filter_map(|(m, what)| (m == Some(true)).then_some(what))
        .collect();
        let missing_en: Vec<&str> = missing.iter().map(|m| m.1).collect();
        let missing_zh: Vec<&str> = missing.iter().map(|m| m.2).collect();
        let reg = region.get(i).unwrap_or("");
        let place = crate::regions::label(reg);
        let received = date
            .get(i)
            .map(from_epoch_days)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let mut al = base(
            Kind::DataQuality,
            Priority::P3,
            inp.period,
            c,
            alert_id("data_quality", &[cid]),
        );
        al.due_date = date.get(i).map(|d| {
            due_from(
                from_epoch_days(d),
                deadline_days(Kind::DataQuality, Priority::P3, c, false),
            )
        });
        al.product_id = ids.first().cloned();
        al.product_name = pname.get(i).map(str::to_string);
        al.region = Some(reg.to_string());
        al.case_id = Some(cid.to_string());
        al.numbers.insert("products".into(), json!(ids));
        al.numbers.insert(
            "missing".into(),
            json!(missing.iter().map(|m| m.0).collect::<Vec<_>>()),
        );
        al.numbers.insert("received_date".into(), json!(received));
        al.rule = "is_serious or fatal is null".to_string();
        al.threshold = 1.0;
        al.value = 1.0;
        let labels = labels.join(", ");
        al.message_en = format!(
            "Case {cid} on {labels}: {} not recorded or unreadable, so no death or serious-case rule can judge it; check the original report (region {place}, first received {received}); within 30 days.",
            missing_en.join(" and ")
        );
        al.message_zh = format!(
            "病例 {cid}（{labels}）的{}未填写或无法识别，死亡和严重病例规则无法判断，请核查原始报告（地区 {place}，{received} 首次收到），应于30日内处理。",
            missing_zh.join("和")
        );
        out_alerts.push(al);
        i = j;
    }
    Ok(())
}
