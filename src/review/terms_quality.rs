//! The review page's data-quality lines on terms (`[terms]`): the MedDRA version (and a
//! change from the previous run's), and the events that map to no MedDRA PT, with their
//! cases. Such events are never dropped: signals at PT level use the raw term, flagged
//! `term_mapped = false`.

use super::html::{escape, int, Tr};
use crate::terms::TermsReport;

/// At most this many unmapped terms are listed on the page (the manifest lists more).
const LISTED: usize = 20;

/// Empty without `[terms]`.
pub(super) fn terms_lines(report: Option<&TermsReport>, tr: Tr) -> String {
    let Some(r) = report else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(v) = &r.meddra_version {
        let v = escape(v);
        out.push_str(&match (&r.previous_meddra_version, r.meddra_version_changed) {
            (Some(p), true) => {
                let p = escape(p);
                if tr.is_zh() {
                    format!("<p class=\"note\"><strong>MedDRA 版本已变更</strong>：本批次为 {v}，上一批次为 {p}。PT、HLT、SOC 和 SMQ 层级的计数可能因术语集变化而变化，而非报告本身。</p>\n")
                } else {
                    format!("<p class=\"note\"><strong>MedDRA version changed</strong>: {v} in this run, {p} in the previous one. Counts at the PT, HLT, SOC and SMQ levels may move with the terminology, not only with the reports.</p>\n")
                }
            }
            _ => {
                if tr.is_zh() {
                    format!("<p class=\"note\">MedDRA 版本：{v}。</p>\n")
                } else {
                    format!("<p class=\"note\">MedDRA version: {v}.</p>\n")
                }
            }
        });
    }
    let (n, d, cases) = (
        int(r.unmapped_events as i64),
        int(r.distinct_events as i64),
        int(r.cases_with_unmapped as i64),
    );
    if r.unmapped_events == 0 {
        out.push_str(&if tr.is_zh() {
            format!(
                "<p class=\"note\">全部 {d} 个不良事件术语均已映射到 MedDRA 首选术语（PT）。</p>\n"
            )
        } else {
            format!(
                "<p class=\"note\">All {d} event terms map to a MedDRA preferred term (PT).</p>\n"
            )
        });
        return out;
    }
    out.push_str(&if tr.is_zh() {
        format!("<p class=\"note\"><strong>未映射术语</strong>：{d} 个不良事件术语中有 {n} 个未能映射到 MedDRA 首选术语（PT），涉及 {cases} 个病例。这些病例未被舍弃：PT 层级信号使用原始术语（<code>term_mapped</code> 为 false），其不计入 HLT、SOC 和 SMQ 层级。</p>\n")
    } else {
        format!("<p class=\"note\"><strong>Unmapped terms</strong>: {n} of {d} event terms map to no MedDRA preferred term (PT), in {cases} cases. They are not dropped: signals at PT level use the raw term (<code>term_mapped</code> false); they count in no HLT, SOC or SMQ.</p>\n")
    });
    let rows: Vec<String> = r
        .unmapped
        .iter()
        .take(LISTED)
        .map(|u| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                escape(&u.event),
                int(u.cases as i64)
            )
        })
        .collect();
    out.push_str(&format!(
        "<div class=\"scroll\"><table><thead><tr><th>{}</th><th class=\"n\">{}</th></tr></thead><tbody>{}</tbody></table></div>\n",
        tr.t("Unmapped term", "未映射术语"),
        tr.t("Cases", "病例数"),
        rows.join("")
    ));
    if r.unmapped_events as usize > LISTED {
        out.push_str(&if tr.is_zh() {
            format!("<p class=\"note\">仅列出病例最多的 {LISTED} 个；完整列表见 <code>manifest.json</code> 的 <code>terms.unmapped</code>。</p>\n")
        } else {
            format!("<p class=\"note\">The {LISTED} with the most cases are listed; <code>manifest.json</code> (<code>terms.unmapped</code>) lists more.</p>\n")
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terms::{SmqScope, UnmappedTerm};

    fn report(unmapped: Vec<(&str, u64)>, prev: Option<&str>) -> TermsReport {
        TermsReport {
            meddra_version: Some("27.1".into()),
            meddra_version_source: Some("meddra_release.asc"),
            meddra_folder: None,
            previous_meddra_version: prev.map(str::to_string),
            meddra_version_changed: prev.is_some_and(|p| p != "27.1"),
            event_terms_versions: vec![],
            smq_scope: SmqScope::Narrow,
            levels: vec!["pt"],
            distinct_events: 10,
            mapped_events: 10 - unmapped.len() as u64,
            unmapped_events: unmapped.len() as u64,
            cases_with_unmapped: unmapped.iter().map(|u| u.1).sum(),
            unmapped: unmapped
                .into_iter()
                .map(|(e, c)| UnmappedTerm {
                    event: e.into(),
                    cases: c,
                })
                .collect(),
        }
    }

    #[test]
    fn lists_unmapped_terms_escaped_and_says_the_version_changed() {
        let en = Tr(crate::config::Lang::En);
        let r = report(vec![("皮疹<b>", 3), ("头晕", 1)], Some("26.0"));
        let s = terms_lines(Some(&r), en);
        assert!(s.contains("MedDRA version changed</strong>: 27.1 in this run, 26.0"));
        assert!(s.contains("2 of 10 event terms map to no MedDRA preferred term (PT), in 4 cases"));
        assert!(s.contains("<td>皮疹&lt;b&gt;</td><td class=\"n\">3</td>"));
        let zh = terms_lines(Some(&r), Tr(crate::config::Lang::Zh));
        assert!(zh.contains("10 个不良事件术语中有 2 个未能映射"));
    }

    #[test]
    fn all_mapped_and_no_terms() {
        let en = Tr(crate::config::Lang::En);
        let s = terms_lines(Some(&report(vec![], Some("27.1"))), en);
        assert!(s.contains("MedDRA version: 27.1."));
        assert!(s.contains("All 10 event terms map"));
        assert_eq!(terms_lines(None, en), "");
    }
}
