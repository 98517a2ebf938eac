//! Text helpers of the review page: HTML escaping, the page's two languages, and number
//! formatting. Everything that reaches the page from data goes through [`escape`].

use crate::config::Lang;

/// Escape text for HTML element content and for quoted attribute values.
///
/// Product names, events, holders and alert messages are untrusted input: `&`, `<`, `>`,
/// `"` and `'` become entities, and control characters (other than tab and newline),
/// which HTML forbids, become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(ch),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The page's language: picks the English or the Chinese form of a label.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self.0 {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    pub fn is_zh(self) -> bool {
        self.0 == Lang::Zh
    }

    /// A product class, in the regulators' words (plain text).
    pub fn class(self, class: &str) -> String {
        match class {
            "drug" => self.t("Drugs", "药品").to_string(),
            "device" => self.t("Medical devices", "医疗器械").to_string(),
            "cosmetic" => self.t("Cosmetics", "化妆品").to_string(),
            other => other.to_string(),
        }
    }

    /// [`Tr::class`], escaped for HTML.
    pub fn class_html(self, class: &str) -> String {
        escape(&self.class(class))
    }

    /// A region level of the rates table (plain text).
    pub fn level(self, level: &str) -> String {
        match level {
            "province" => self.t("province", "省级").to_string(),
            "city" => self.t("city", "地市级").to_string(),
            other => other.to_string(),
        }
    }

    /// "yes"/"no" for a flag; a dash for a missing one.
    pub fn yes_no(self, b: Option<bool>) -> &'static str {
        match b {
            Some(true) => self.t("yes", "是"),
            Some(false) => self.t("no", "否"),
            None => DASH,
        }
    }
}

/// Shown for a missing or undefined number.
pub const DASH: &str = "—";

/// Minus sign for negative numbers (U+2212, the typographic minus).
const MINUS: char = '\u{2212}';

/// Group the digits of a non-negative integer in threes: `1234567` -> `1,234,567`.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An integer with thousands separators.
pub fn int(n: i64) -> String {
    let grouped = group(&n.unsigned_abs().to_string());
    if n < 0 {
        format!("{MINUS}{grouped}")
    } else {
        grouped
    }
}

/// An optional integer; a dash when missing.
pub fn opt_int(n: Option<i64>) -> String {
    n.map(int).unwrap_or_else(|| DASH.to_string())
}

/// A measure with a precision fitted to its size: whole numbers with separators from
/// 1,000, one decimal from 100, two from 1, and three significant digits below 1.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return DASH.to_string();
    }
    let a = x.abs();
    let body = if a == 0.0 {
        "0".to_string()
    } else if a >= 1000.0 {
        group(&format!("{a:.0}"))
    } else if a >= 100.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else {
        // Three significant digits: 0.123, 0.0123, 0.00123 ...
        let decimals = (2.0 - a.log10().floor()).clamp(3.0, 10.0) as usize;
        format!("{a:.decimals$}")
    };
    if x < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("{MINUS}{body}")
    } else {
        body
    }
}

/// An optional measure; a dash when missing.
pub fn opt_num(x: Option<f64>) -> String {
    x.map(num).unwrap_or_else(|| DASH.to_string())
}

/// Like [`num`], without trailing zeros (`2` rather than `2.00`): for thresholds.
pub fn short(x: f64) -> String {
    let s = num(x);
    if s.contains('.') && !s.contains(',') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A share as a percentage with one decimal, two below 1% so that a small share does not
/// read as zero: `0.873` -> `87.3%`, `0.0003` -> `0.03%`.
pub fn pct(x: f64) -> String {
    if !x.is_finite() {
        return DASH.to_string();
    }
    let p = x * 100.0;
    let a = p.abs();
    let body = if a >= 1000.0 {
        num(a)
    } else if a > 0.0 && a < 1.0 {
        format!("{a:.2}")
    } else {
        format!("{a:.1}")
    };
    if p < 0.0 {
        format!("{MINUS}{body}%")
    } else {
        format!("{body}%")
    }
}

/// A signed change with an arrow: `▲ +5`, `▼ −3`, `0`; a dash when missing.
pub fn change(n: Option<i64>) -> (String, &'static str) {
    match n {
        Some(v) if v > 0 => (format!("▲ +{}", int(v)), "up"),
        Some(v) if v < 0 => (format!("▼ {}", int(v)), "down"),
        Some(_) => ("0".to_string(), "flat"),
        None => (DASH.to_string(), "none"),
    }
}

/// Shorten a label to about `max` columns (a CJK character counts as two), with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    let mut width = 0;
    let mut out = String::new();
    for ch in s.chars() {
        let w = if is_wide(ch) { 2 } else { 1 };
        if width + w > max {
            out.push('…');
            return out;
        }
        width += w;
        out.push(ch);
    }
    out
}

/// Display width of a label in columns (a CJK character counts as two).
pub fn width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(ch: char) -> bool {
    matches!(ch as u32,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape(r#""&'"#), "&quot;&amp;&#39;");
        assert_eq!(escape("阿莫西林 & <b>"), "阿莫西林 &amp; &lt;b&gt;");
        assert_eq!(escape("a\u{0}b\nc"), "a\u{FFFD}b\nc");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(int(-4_500), "\u{2212}4,500");
        assert_eq!(num(24_515.4), "24,515");
        assert_eq!(num(870.46), "870.5");
        assert_eq!(num(12.3456), "12.35");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(-0.52), "\u{2212}0.520");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), DASH);
        assert_eq!(short(2.0), "2");
        assert_eq!(short(0.4), "0.4");
        assert_eq!(short(1500.0), "1,500");
        assert_eq!(pct(0.8734), "87.3%");
        assert_eq!(pct(1.0), "100.0%");
        assert_eq!(pct(3.0 / 10_238.0), "0.03%");
        assert_eq!(pct(0.0), "0.0%");
        assert_eq!(pct(-0.25), "\u{2212}25.0%");
        assert_eq!(opt_int(None), DASH);
        assert_eq!(change(Some(5)).0, "▲ +5");
        assert_eq!(change(Some(-3)).0, "▼ \u{2212}3");
        assert_eq!(change(Some(0)).0, "0");
    }

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("abcdef", 4), "abcd…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("阿莫西林胶囊", 6), "阿莫西…");
        assert_eq!(width("阿莫a"), 5);
    }
}
