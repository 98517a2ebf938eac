//! `new_signal` and `strengthened_signal`: watched product × event pairs that are signals.

use super::*;
use crate::signals::counts;

/// EB05 tiers: below 2, 2–4, 4–8, 8 and above.
pub(super) fn eb05_tier(x: f64) -> u8 {
    match x {
        x if x >= 8.0 => 3,
        x if x >= 4.0 => 2,
        x if x >= 2.0 => 1,
        _ => 0,
    }
}

pub(super) fn signal_alerts(
    inp: &RuleInputs<'_>,
    cfg: &Alerts,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    if !cfg.new_signal && cfg.strengthened_factor.is_none() {
        return Ok(());
    }
    let s = Cols(inp.signals, "signals");
    let (class, pid, pname, event) = (
        s.str(col::CLASS)?,
        s.str(col::PRODUCT_ID)?,
        s.str(out::PRODUCT_NAME)?,
        s.str(col::EVENT)?,
    );
    let (innov, cond, proc_) = (
        s.bool(col::INNOVATIVE)?,
        s.bool(col::CONDITIONAL)?,
        s.bool(col::PROCURED)?,
    );
    let is_signal = s.bool(out::IS_SIGNAL)?;
    let f = |n: &str| s.f64(n);
    let (a, e, prr, chi2, ror, ror_lower) = (
        f(counts::A)?,
        f(counts::EXPECTED)?,
        f(out::PRR)?,
        f(out::CHI2)?,
        f(out::ROR)?,
        f(out::ROR_LOWER)?,
    );
    let (ic025, ebgm, eb05, eb95, k) = (
        f(out::IC025)?,
        f(out::EBGM)?,
        f(out::EB05)?,
        f(out::EB95)?,
        f(out::N_METHODS_FLAGGED)?,
    );
    let previous: BTreeMap<&str, &Alert> = inp
        .previous
        .unwrap_or(&[])
        .iter()
        .filter(|x| x.status != Status::Resolved)
        .map(|x| (x.alert_id.as_str(), x))
        .collect();
    let m = inp.signals_cfg.methods.len();
    let min_methods = inp.signals_cfg.min_methods as f64;

    for i in 0..inp.signals.height() {
        if is_signal.get(i) != Some(true) {
            continue;
        }
        let (Some(c), Some(p), Some(ev)) = (class.get(i), pid.get(i), event.get(i)) else {
            continue;
        };
        let id = alert_id("signal", &[c, p, ev]);
        let g = |ca: &Float64Chunked| ca.get(i).unwrap_or(f64::NAN);
        let (eb05_now, ic025_now) = (g(&eb05), g(&ic025));
        let prev = previous.get(id.as_str()).copied();
        let prev_num = |name: &str| {
            prev.and_then(|p| p.numbers.get(name))
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        let (eb05_prev, ic025_prev) = (prev_num(out::EB05), prev_num(out::IC025));
        // Which criteria raised it, in words a reviewer reads (en, zh) and as a key.
        let mut criteria: Vec<(&str, String, String)> = Vec::new();
        if let (Some(factor), Some(_)) = (cfg.strengthened_factor, prev) {
            if eb05_prev > 0.0 && eb05_now >= factor * eb05_prev {
                criteria.push((
                    "eb05_factor",
                    format!("EB05 rose {factor}× or more"),
                    format!("EB05 升高至 {factor} 倍及以上"),
                ));
            }
            if eb05_prev.is_finite() && eb05_tier(eb05_now) > eb05_tier(eb05_prev) {
                let edge = [2, 4, 8][usize::from(eb05_tier(eb05_now).max(1)) - 1];
                criteria.push((
                    "eb05_tier",
                    format!("EB05 crossed {edge}"),
                    format!("EB05 越过 {edge}"),
                ));
            }
            if ic025_prev.is_finite() && ic025_now - ic025_prev >= factor.log2() {
                criteria.push((
                    "ic025_factor",
                    format!("2^IC025 rose {factor}× or more"),
                    format!("2^IC025 升高至 {factor} 倍及以上"),
                ));
            }
        }
        let strengthened = !criteria.is_empty();
        if !strengthened && !cfg.new_signal {
            continue;
        }
        let kind = if strengthened {
            Kind::StrengthenedSignal
        } else {
            Kind::NewSignal
        };
        let name = pname.get(i);
        let label = product_label(p, name);
        let (wen, wzh) = watch_labels(
            c,
            innov.get(i).unwrap_or(false),
            cond.get(i).unwrap_or(false),
            proc_.get(i).unwrap_or(false),
        );
        let mut al = base(kind, Priority::P2, inp.period, c, id);
        al.product_id = Some(p.to_string());
        al.product_name = name.map(str::to_string);
        al.event = Some(ev.to_string());
        let nums = [
            // The numbers are named as the columns of signals.parquet.
            (counts::A, g(&a)),
            (counts::EXPECTED, g(&e)),
            (out::PRR, g(&prr)),
            (out::CHI2, g(&chi2)),
            (out::ROR, g(&ror)),
            (out::ROR_LOWER, g(&ror_lower)),
            (out::IC025, ic025_now),
            (out::EBGM, g(&ebgm)),
            (out::EB05, eb05_now),
            (out::EB95, g(&eb95)),
            (out::N_METHODS_FLAGGED, g(&k)),
        ];
        for (key, v) in nums {
            al.numbers.insert(key.to_string(), json!(v));
        }
        let stats_en = format!(
            "{} cases (expected {}), EB05 {}, IC025 {}, PRR {} (χ² {}), ROR lower bound {}; {} of {m} methods flag it",
            num(g(&a), 0),
            num(g(&e), 2),
            num(eb05_now, 2),
            num(ic025_now, 2),
            num(g(&prr), 2),
            num(g(&chi2), 1),
            num(g(&ror_lower), 2),
            num(g(&k), 0)
        );
        let stats_zh = format!(
            "病例 {} 例（期望 {}），EB05 {}，IC025 {}，PRR {}（χ² {}），ROR 95% 下限 {}；{m} 种方法中 {} 种提示信号",
            num(g(&a), 0),
            num(g(&e), 2),
            num(eb05_now, 2),
            num(ic025_now, 2),
            num(g(&prr), 2),
            num(g(&chi2), 1),
            num(g(&ror_lower), 2),
            num(g(&k), 0)
        );
        if strengthened {
            let factor = cfg.strengthened_factor.unwrap_or(1.5);
            al.numbers.insert("eb05_previous".into(), json!(eb05_prev));
            al.numbers
                .insert("ic025_previous".into(), json!(ic025_prev));
            al.rule =
                format!("eb05 or 2^ic025 rose ≥ {factor}× or eb05 into a higher tier (2, 4, 8)");
            al.threshold = factor;
            al.value = if eb05_prev > 0.0 {
                eb05_now / eb05_prev
            } else {
                f64::NAN
            };
            let keys: Vec<&str> = criteria.iter().map(|c| c.0).collect();
            al.numbers.insert("strengthened_by".into(), json!(keys));
            let why_en: Vec<&str> = criteria.iter().map(|c| c.1.as_str()).collect();
            let why_zh: Vec<&str> = criteria.iter().map(|c| c.2.as_str()).collect();
            al.message_en = format!(
                "Signal strengthened ({}): {label}{wen} × {ev} ({c}): EB05 rose from {} to {}; {stats_en}.",
                why_en.join("; "),
                num(eb05_prev, 2),
                num(eb05_now, 2)
            );
            al.message_zh = format!(
                "信号增强（{}）：{label}{wzh}× {ev}（{}）：EB05 由 {} 升至 {}；{stats_zh}。请及时开展风险会商。",
                why_zh.join("；"),
                class_zh(c),
                num(eb05_prev, 2),
                num(eb05_now, 2)
            );
        } else {
            al.rule = format!("n_methods_flagged >= {}", inp.signals_cfg.min_methods);
            al.threshold = min_methods;
            al.value = g(&k);
            al.message_en = format!("New signal: {label}{wen} × {ev} ({c}): {stats_en}.");
            al.message_zh = format!(
                "新的信号：{label}{wzh}× {ev}（{}）：{stats_zh}。请开展信号评价。",
                class_zh(c)
            );
        }
        if !al.value.is_finite() {
            al.value = 0.0;
        }
        out_alerts.push(al);
    }
    Ok(())
}
