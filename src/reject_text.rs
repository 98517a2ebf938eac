//! A reject as one line of text in English or Chinese: what `validate` prints.
//!
//! `rejects.csv` keeps the English `expected` text (it is a stable, greppable column); this
//! module renders a [`Reject`] for a person reading a terminal. The Chinese form
//! translates each "expected" text the canonical inputs produce (`schema::Kind::expected`,
//! unique keys, field counts, UTF-8, plausible dates, links between tables, the record
//! reader's quote and length limits); a text it does not know (a converter's own) stays in
//! English rather than being guessed.

use crate::accounting::{Action, Reject};
use crate::config::Lang;

/// `reports.csv: line 777, column `class`: expected …, found `vaccine``, or in Chinese
/// `reports.csv：第 777 行，列 `class`：应为…，实际为 `vaccine``.
pub fn reject_line(r: &Reject, lang: Lang) -> String {
    match lang {
        Lang::En => r.to_string(),
        Lang::Zh => {
            let mut s = if r.cell.is_empty() {
                format!("{}：第 {} 行", r.file, r.line)
            } else {
                format!("{}：{}", r.file, r.cell)
            };
            if !r.column.is_empty() {
                s.push_str(&format!("，列 `{}`", r.column));
            }
            let expected = expected_zh(&r.expected);
            // A space between Chinese and Latin text or digits, none between Chinese.
            let gap = if expected.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '`') {
                " "
            } else {
                ""
            };
            s.push_str(&format!("：应为{gap}{expected}，实际为 `{}`", r.found));
            if r.action == Action::CellNulled {
                s.push_str("（单元格置空，保留该行）");
            }
            s
        }
    }
}

/// The Chinese form of a reject's `expected` text; the English text when it is not one
/// of the inputs' own.
pub fn expected_zh(e: &str) -> String {
    const VERSIONS: &str = " (the case has several versions, and the version decides the latest)";
    if let Some(base) = e.strip_suffix(VERSIONS) {
        return format!(
            "{}（该病例有多个版本，须据版本判断最新版本）",
            expected_zh(base)
        );
    }
    let fixed = match e {
        "a non-empty value" => Some("非空值"),
        "a date YYYY-MM-DD" => Some("日期（YYYY-MM-DD）"),
        "a boolean (true/false, 1/0, yes/no, 是/否)" => {
            Some("布尔值（true/false、1/0、yes/no、是/否）")
        }
        "a 6-digit GB/T 2260 region code" => Some("6 位 GB/T 2260 行政区划代码"),
        "UTF-8 text" => Some("UTF-8 文本"),
        _ => None,
    };
    if let Some(t) = fixed {
        return t.to_string();
    }
    if let Some(min) = e.strip_prefix("an integer >= ") {
        return format!("不小于 {min} 的整数");
    }
    if let Some((lo, hi)) = range(e, "an integer from ") {
        return format!("{lo} 至 {hi} 之间的整数");
    }
    if let Some((lo, hi)) = range(e, "a number from ") {
        return format!("{lo} 至 {hi} 之间的数");
    }
    if let Some(rest) = e.strip_prefix("a date from ") {
        if let Some((lo, hi)) = rest
            .strip_suffix(" (today)")
            .and_then(|r| r.split_once(" to "))
        {
            return format!("{lo} 至 {hi}（今天）之间的日期");
        }
    }
    if let Some(list) = e.strip_prefix("one of ") {
        if list.starts_with('`') {
            return format!("以下之一：{}", list.replace("`, `", "`、`"));
        }
    }
    if let Some(rest) = e.strip_prefix("a unique ") {
        if let Some((key, line)) = rest
            .strip_suffix(')')
            .and_then(|r| r.split_once(" (first seen on line "))
        {
            return format!(
                "唯一的 {}（首次出现在第 {line} 行）",
                key.replace(" and ", " 与 ")
            );
        }
    }
    if let Some(n) = e.strip_suffix(" fields, as in the header") {
        return format!("与表头相同的 {n} 个字段");
    }
    if let Some(file) = e
        .strip_prefix("a report_id of a valid row in ")
        .and_then(|r| r.strip_suffix(" (that report was rejected)"))
    {
        return format!("{file} 中有效行的 report_id（该报告已被拒收）");
    }
    if let Some(file) = e.strip_prefix("a report_id present in ") {
        return format!("{file} 中存在的 report_id");
    }
    record_limit_zh(e).unwrap_or_else(|| e.to_string())
}

/// `a number from 0 to 150` → `("0", "150")`.
fn range<'a>(e: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    e.strip_prefix(prefix)?.split_once(" to ")
}

/// The record reader's texts (`records::quoted`): a line too long, a quote left open.
fn record_limit_zh(e: &str) -> Option<String> {
    let (head, detail) = e.strip_suffix(')')?.split_once(" (")?;
    let (detail, next) = detail.split_once("; reading resumed at line ")?;
    let resumed = format!("从第 {next} 行继续读取");
    if let Some(mib) = head
        .strip_prefix("a line of at most ")
        .and_then(|h| h.strip_suffix(" MiB"))
    {
        return Some(format!("不超过 {mib} MiB 的一行（此行更长；{resumed}）"));
    }
    if head != "a quote closed on the line where it opens" {
        return None;
    }
    let why = if detail == "a quote left open here runs to the end of the file" {
        "此处未闭合的引号一直延续到文件末尾".to_string()
    } else if let Some(mib) = detail
        .strip_prefix("a quote left open here runs past ")
        .and_then(|d| d.strip_suffix(" MiB"))
    {
        format!("此处未闭合的引号超过 {mib} MiB")
    } else {
        let rest = detail.strip_prefix("a quote left open here runs over ")?;
        let (lines, rest) = rest.split_once(" lines into a record of ")?;
        let (found, want) = match rest.split_once(" fields, not ") {
            Some((found, want)) => (found, format!("，而非 {want} 个")),
            None => (rest.strip_suffix(" fields")?, String::new()),
        };
        format!("此处未闭合的引号跨越 {lines} 行，形成 {found} 个字段的记录{want}")
    };
    Some(format!("引号在其开始的同一行内闭合（{why}；{resumed}）"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Kind;

    fn reject(expected: &str, action: Action) -> Reject {
        Reject {
            cell: String::new(),
            table: "reports",
            file: "sample-data/reports.csv".into(),
            line: 1043,
            column: "age_years".into(),
            found: "-4".into(),
            expected: expected.into(),
            action,
        }
    }

    /// Whether a Chinese text still holds an English word of the template (code tokens in
    /// backquotes, file names, `YYYY-MM-DD`, `MiB`, `GB/T` and column names aside).
    fn has_english(zh: &str) -> bool {
        let mut outside = String::new();
        let mut in_code = false;
        for c in zh.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                outside.push(c);
            }
        }
        outside
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() > 2)
            .any(|w| {
                ![
                    "YYYY",
                    "MiB",
                    "UTF",
                    "report_id",
                    "sample",
                    "data",
                    "reports",
                    "csv",
                    "true",
                    "false",
                    "yes",
                    "today",
                    "version",
                ]
                .contains(&w)
                    && !w.starts_with("report")
            })
    }

    #[test]
    fn every_schema_expectation_has_a_chinese_form() {
        let kinds = [
            Kind::Text,
            Kind::Date,
            Kind::Bool,
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            Kind::Int { min: 1, max: 12 },
            Kind::Float {
                min: 0.0,
                max: 150.0,
            },
            Kind::Enum(&["drug", "device", "cosmetic"]),
            Kind::Region,
        ];
        for k in kinds {
            let en = k.expected();
            let zh = expected_zh(&en);
            assert_ne!(zh, en, "{en}");
            assert!(!has_english(&zh), "{en} -> {zh}");
        }
        assert_eq!(
            expected_zh(&Kind::Enum(&["drug", "device", "cosmetic"]).expected()),
            "以下之一：`drug`、`device`、`cosmetic`"
        );
        assert_eq!(
            expected_zh(
                &Kind::Float {
                    min: 0.0,
                    max: 150.0
                }
                .expected()
            ),
            "0 至 150 之间的数"
        );
    }

    #[test]
    fn the_readers_own_expectations_have_a_chinese_form() {
        let plausible = crate::plausible::Plausible::until(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        );
        let texts = [
            "a unique report_id (first seen on line 4056)".to_string(),
            "a unique report_id and version (first seen on line 12)".to_string(),
            "7 fields, as in the header".to_string(),
            "UTF-8 text".to_string(),
            plausible.expected(),
            "a report_id present in sample-data/reports.csv".to_string(),
            "a report_id of a valid row in sample-data/reports.csv (that report was rejected)"
                .to_string(),
            "a date YYYY-MM-DD (the case has several versions, and the version decides the latest)"
                .to_string(),
            "a line of at most 1 MiB (this one is longer; reading resumed at line 102)".to_string(),
            "a quote closed on the line where it opens (a quote left open here runs to the end of the file; reading resumed at line 9)".to_string(),
            "a quote closed on the line where it opens (a quote left open here runs over 3 lines into a record of 9 fields, not 7; reading resumed at line 11001)".to_string(),
            "a quote closed on the line where it opens (a quote left open here runs past 1 MiB; reading resumed at line 5)".to_string(),
        ];
        for en in &texts {
            let zh = expected_zh(en);
            assert_ne!(&zh, en);
            assert!(!has_english(&zh), "{en} -> {zh}");
        }
        assert_eq!(
            expected_zh(&texts[0]),
            "唯一的 report_id（首次出现在第 4056 行）"
        );
        assert_eq!(
            expected_zh(&texts[10]),
            "引号在其开始的同一行内闭合（此处未闭合的引号跨越 3 行，形成 9 个字段的记录，而非 7 个；从第 11001 行继续读取）"
        );
        assert_eq!(
            expected_zh(&plausible.expected()),
            "1968-01-01 至 2026-12-07（今天）之间的日期"
        );
    }

    #[test]
    fn an_unknown_text_stays_as_it_is() {
        let e = "an ISO 5218 sex `1`, `2`, `0` or `9`, or a nullFlavor";
        assert_eq!(expected_zh(e), e);
        assert_eq!(expected_zh(""), "");
        assert_eq!(expected_zh("a quote closed (x)"), "a quote closed (x)");
    }

    #[test]
    fn a_reject_line_in_both_languages() {
        let r = reject("a number from 0 to 150", Action::CellNulled);
        assert_eq!(
            reject_line(&r, Lang::En),
            "sample-data/reports.csv: line 1043, column `age_years`: expected a number from 0 to 150, found `-4` (cell nulled, row kept)"
        );
        assert_eq!(
            reject_line(&r, Lang::Zh),
            "sample-data/reports.csv：第 1043 行，列 `age_years`：应为 0 至 150 之间的数，实际为 `-4`（单元格置空，保留该行）"
        );
        let mut row = reject("7 fields, as in the header", Action::RowRejected);
        row.column.clear();
        assert_eq!(
            reject_line(&row, Lang::Zh),
            "sample-data/reports.csv：第 1043 行：应为与表头相同的 7 个字段，实际为 `-4`"
        );
    }
}
