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
use crate::alerts::index::Watched;

pub(super) fn data_quality_alerts(inp: &RuleInputs<'_>, out_alerts: &mut Vec<Alert>) -> Result<()> {
    let recorded = |c: &str| inp.cases.column(c).is_ok_and(|s| s.null_count() < s.len());
    let (serious_recorded, fatal_recorded) = (recorded(col::IS_SERIOUS), recorded(col::FATAL));
    if !serious_recorded && !fatal_recorded {
        return Ok(());
    }
    let s = Cols(inp.cases, "cases");
    // A flag is missing when it is null in a column that some case of the run fills.
    let missing = |c: &str, recorded: bool| -> Result<Vec<bool>> {
        if !recorded {
            return Ok(vec![false; inp.cases.height()]);
        }
        Ok(s.bool(c)?.iter().map(|b| b.is_none()).collect())
    };
    let (no_serious, no_fatal) = (
        missing(col::IS_SERIOUS, serious_recorded)?,
        missing(col::FATAL, fatal_recorded)?,
    );
    let mut keep = received_or_followed_up_in(inp.cases, inp.period)?;
    for (i, k) in keep.iter_mut().enumerate() {
        *k = *k && (no_serious[i] || no_fatal[i]);
    }
    if !keep.contains(&true) {
        return Ok(());
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
    // One alert per case: its watched products, sorted, in one alert.
    let mut i = 0;
    while i < pairs.len() {
        let row = pairs[i].0;
        let mut j = i;
        let mut labels = Vec::new();
        let mut ids = Vec::new();
        while j < pairs.len() && pairs[j].0 == row {
            let w = pairs[j].1 as usize;
            if let Some(p) = pid.get(w) {
                labels.push(product_label(p, pname.get(w)));
                ids.push(p.to_string());
            }
            j += 1;
        }
        let (r, w0) = (row as usize, pairs[i].1 as usize);
        let cid = case.get(r).unwrap_or("");
        let c = class.get(r).unwrap_or("");
        // (key in `numbers`, English, Chinese) of each flag the case is missing.
        let missing: Vec<(&str, &str, &str)> = [
            (
                no_serious[r],
                ("seriousness", "seriousness (is_serious)", "严重程度"),
            ),
            (no_fatal[r], ("outcome", "outcome (fatal)", "是否死亡")),
        ]
        .into_iter()
        .filter_map(|(m, what)| m.then_some(what))
        .collect();
        let missing_en: Vec<&str> = missing.iter().map(|m| m.1).collect();
        let missing_zh: Vec<&str> = missing.iter().map(|m| m.2).collect();
        let reg = region.get(r).unwrap_or("");
        let place = crate::regions::label(reg);
        let received = date
            .get(r)
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
        al.due_date = date.get(r).map(|d| {
            due_from(
                from_epoch_days(d),
                deadline_days(Kind::DataQuality, Priority::P3, c, false),
            )
        });
        al.product_id = ids.first().cloned();
        al.product_name = pname.get(w0).map(str::to_string);
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
