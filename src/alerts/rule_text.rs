//! An alert's rule in Chinese, for the review page and summaries in Chinese.
//!
//! `Alert::rule` stays the English expression it is in every output (`n_methods_flagged >=
//! 2`): a stable text to filter on. [`rule_zh`] reads each rule the rules write (see
//! `alerts::rules`) and says it in the regulators' words; a rule it does not know is
//! returned unchanged.

/// The Chinese form of an alert rule, e.g. `提示信号的方法数 ≥ 2` for
/// `n_methods_flagged >= 2`.
pub fn rule_zh(rule: &str) -> String {
    let fixed = match rule {
        "fatal = true" => Some("死亡病例（结局为死亡）"),
        "is_serious or is_new = true" => Some("严重或新的不良反应病例"),
        "is_serious = true" => Some("严重病例"),
        "is_serious or fatal is null" => Some("严重程度或结局缺失"),
        "attainment >= 1 (annualized_per_million / target_per_million)" => {
            Some("达标率 ≥ 1（年化每百万人口报告数 ÷ 目标）")
        }
        "sentinel_new_or_serious_share >= new_or_serious_target" => {
            Some("哨点医院新的和严重报告比例 ≥ 目标")
        }
        "sentinel_serious_share >= serious_target" => Some("哨点医院严重报告比例 ≥ 目标"),
        _ => None,
    };
    if let Some(t) = fixed {
        return t.to_string();
    }
    if let Some(n) = rule.strip_prefix("n_methods_flagged >= ") {
        return format!("提示信号的方法数 ≥ {n}");
    }
    if let Some((min, days)) = rule
        .strip_prefix("cases >= ")
        .and_then(|r| r.strip_suffix(" days"))
        .and_then(|r| r.split_once(" within "))
    {
        return format!("{days} 日内病例数 ≥ {min}");
    }
    if let Some(factor) = rule
        .strip_prefix("eb05 or 2^ic025 rose ≥ ")
        .and_then(|r| r.strip_suffix("× or eb05 into a higher tier (2, 4, 8)"))
    {
        return format!(
            "EB05 或 2^IC025 升至上期的 {factor} 倍及以上，或 EB05 升入更高档（2、4、8）"
        );
    }
    rule.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_the_rules_write_has_a_chinese_form() {
        for (en, zh) in [
            ("n_methods_flagged >= 2", "提示信号的方法数 ≥ 2"),
            ("cases >= 3 within 7 days", "7 日内病例数 ≥ 3"),
            (
                "eb05 or 2^ic025 rose ≥ 1.5× or eb05 into a higher tier (2, 4, 8)",
                "EB05 或 2^IC025 升至上期的 1.5 倍及以上，或 EB05 升入更高档（2、4、8）",
            ),
            ("fatal = true", "死亡病例（结局为死亡）"),
            ("is_serious = true", "严重病例"),
        ] {
            assert_eq!(rule_zh(en), zh);
        }
        for en in [
            "is_serious or is_new = true",
            "is_serious or fatal is null",
            "attainment >= 1 (annualized_per_million / target_per_million)",
            "sentinel_new_or_serious_share >= new_or_serious_target",
            "sentinel_serious_share >= serious_target",
        ] {
            let zh = rule_zh(en);
            assert_ne!(zh, en);
            assert!(!zh.contains('_'), "{zh}");
        }
    }

    #[test]
    fn an_unknown_rule_is_left_as_it_is() {
        assert_eq!(rule_zh("x > 1"), "x > 1");
        assert_eq!(rule_zh("cases >= 3 within"), "cases >= 3 within");
        assert_eq!(rule_zh(""), "");
    }
}
