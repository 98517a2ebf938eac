//! `rate_below_target` and `sentinel_quality_below_target`, from the rates table.

use super::*;

pub(super) fn rate_alerts(
    inp: &RuleInputs<'_>,
    cfg: &Alerts,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let s = Cols(inp.rates, "rates");
    let (level, region, rname, class) = (
        s.str(col::LEVEL)?,
        s.str(col::REGION)?,
        s.str(col::REGION_NAME)?,
        s.str(col::CLASS)?,
    );
    let on_track = s.bool(col::ON_TRACK)?;
    let (ann, target, att) = (
        s.f64(col::ANNUALIZED_PER_MILLION)?,
        s.f64(col::TARGET_PER_MILLION)?,
        s.f64(col::ATTAINMENT)?,
    );
    let (s_nos, s_ser) = (
        s.f64(col::SENTINEL_NEW_OR_SERIOUS_SHARE)?,
        s.f64(col::SENTINEL_SERIOUS_SHARE)?,
    );
    let (nos_t, ser_t) = (
        s.f64(col::NEW_OR_SERIOUS_TARGET)?,
        s.f64(col::SERIOUS_TARGET)?,
    );
    let (nos_met, ser_met) = (
        s.bool(col::SENTINEL_NEW_OR_SERIOUS_MET)?,
        s.bool(col::SENTINEL_SERIOUS_MET)?,
    );
    let sentinel = s.f64(col::SENTINEL_REPORTS)?;
    let reports = s.f64(col::REPORTS)?;
    for i in 0..inp.rates.height() {
        let (Some(l), Some(r), Some(c)) = (level.get(i), region.get(i), class.get(i)) else {
            continue;
        };
        let place = match rname.get(i) {
            Some(n) => format!("{n} ({r})"),
            None => r.to_string(),
        };
        let g = |ca: &Float64Chunked| ca.get(i).unwrap_or(f64::NAN);
        if cfg.rate_below_target && on_track.get(i) == Some(false) {
            let mut al = base(
                Kind::RateBelowTarget,
                Priority::P3,
                inp.period,
                c,
                alert_id("rate", &[l, r, c]),
            );
            al.region = Some(r.to_string());
            al.rule = "attainment >= 1 (annualized_per_million / target_per_million)".to_string();
            al.threshold = 1.0;
            al.value = g(&att);
            for (k, v) in [
                ("reports", g(&reports)),
                ("annualized_per_million", g(&ann)),
                ("target_per_million", g(&target)),
                ("attainment", g(&att)),
            ] {
                al.numbers.insert(k.into(), json!(v));
            }
            al.numbers.insert("level".into(), json!(l));
            al.message_en = format!(
                "Reporting rate below target: {place}, {c}: {} reports per million population (annualised) against a target of {}: {} attained.",
                num(g(&ann), 1),
                num(g(&target), 0),
                pct(g(&att))
            );
            al.message_zh = format!(
                "报告率未达标：{place}，{}每百万人口平均报告数（年化）{}，目标 {}，完成 {}。",
                class_zh(c),
                num(g(&ann), 1),
                num(g(&target), 0),
                pct(g(&att))
            );
            out_alerts.push(al);
        }
        let below = nos_met.get(i) == Some(false) || ser_met.get(i) == Some(false);
        if cfg.sentinel_quality_below_target && below {
            let mut al = base(
                Kind::SentinelQualityBelowTarget,
                Priority::P3,
                inp.period,
                c,
                alert_id("sentinel", &[l, r, c]),
            );
            al.region = Some(r.to_string());
            let nos_low = nos_met.get(i) == Some(false);
            al.rule = if nos_low {
                "sentinel_new_or_serious_share >= new_or_serious_target".to_string()
            } else {
                "sentinel_serious_share >= serious_target".to_string()
            };
            al.threshold = if nos_low { g(&nos_t) } else { g(&ser_t) };
            al.value = if nos_low { g(&s_nos) } else { g(&s_ser) };
            for (k, v) in [
                ("sentinel_reports", g(&sentinel)),
                ("sentinel_new_or_serious_share", g(&s_nos)),
                ("new_or_serious_target", g(&nos_t)),
                ("sentinel_serious_share", g(&s_ser)),
                ("serious_target", g(&ser_t)),
            ] {
                al.numbers.insert(k.into(), json!(v));
            }
            al.numbers.insert("level".into(), json!(l));
            al.message_en = format!(
                "Sentinel-hospital report quality below target: {place}, {c}: new-or-serious share {} (target {}), serious share {} (target {}), of {} sentinel reports.",
                pct(g(&s_nos)),
                pct(g(&nos_t)),
                pct(g(&s_ser)),
                pct(g(&ser_t)),
                num(g(&sentinel), 0)
            );
            al.message_zh = format!(
                "哨点医院报告质量未达标：{place}，{}新的和严重报告比例 {}（目标 {}），严重报告比例 {}（目标 {}），哨点报告 {} 份。",
                class_zh(c),
                pct(g(&s_nos)),
                pct(g(&nos_t)),
                pct(g(&s_ser)),
                pct(g(&ser_t)),
                num(g(&sentinel), 0)
            );
            out_alerts.push(al);
        }
    }
    Ok(())
}
