//! Alert messages in English and Chinese, in the regulators' own vocabulary (新的/严重,
//! 信号, 集采, 创新药, 附条件批准, 群体不良事件).

/// Chinese name of a class's monitoring system.
pub fn class_zh(class: &str) -> &'static str {
    match class {
        "drug" => "药品",
        "device" => "医疗器械",
        "cosmetic" => "化妆品",
        _ => "产品",
    }
}

/// The watch groups a product belongs to, in each language, bracketed to follow its name
/// (` [innovative, centrally procured]` / `（创新药、集采中选）`); empty for a product in no
/// group, so that no message shows empty brackets.
pub fn watch_labels(
    class: &str,
    innovative: bool,
    conditional: bool,
    procured: bool,
) -> (String, String) {
    let mut en = Vec::new();
    let mut zh = Vec::new();
    if innovative {
        en.push("innovative");
        zh.push(match class {
            "device" => "创新医疗器械",
            "drug" => "创新药",
            _ => "创新产品",
        });
    }
    if conditional {
        en.push("conditionally approved");
        zh.push("附条件批准");
    }
    if procured {
        en.push("centrally procured");
        zh.push("集采中选");
    }
    if en.is_empty() {
        return (String::new(), String::new());
    }
    (
        format!(" [{}]", en.join(", ")),
        format!("（{}）", zh.join("、")),
    )
}

/// `name (id)`, or the id alone.
pub fn product_label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("{n} ({id})"),
        _ => id.to_string(),
    }
}

/// A number with up to `digits` decimals, trailing zeros kept short.
pub fn num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "–".to_string();
    }
    format!("{x:.digits$}")
}

/// A share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_labels_are_bracketed_or_absent() {
        assert_eq!(
            watch_labels("drug", false, false, false),
            (String::new(), String::new())
        );
        assert_eq!(
            watch_labels("drug", true, false, true),
            (
                " [innovative, centrally procured]".to_string(),
                "（创新药、集采中选）".to_string()
            )
        );
        assert_eq!(
            watch_labels("device", true, false, false).1,
            "（创新医疗器械）"
        );
    }

    #[test]
    fn labels() {
        assert_eq!(
            watch_labels("device", true, true, false).1,
            "（创新医疗器械、附条件批准）"
        );
        assert_eq!(
            product_label("D008", Some("替雷利珠单抗注射液")),
            "替雷利珠单抗注射液 (D008)"
        );
        assert_eq!(product_label("X1", None), "X1");
        assert_eq!(pct(0.4), "40.0%");
        assert_eq!(num(f64::NAN, 2), "–");
    }
}
