//! The review page's data-quality parts beside the row accounting: what a converted source
//! left unknown (a missing FAERS OUTC file, E2B reactions without seriousness criteria),
//! nulled cells by table and column (from the manifest's accounts), and well-documented
//! cases by class (from `rates.parquet`'s `well_documented`, at the table's coarsest level).

use std::collections::BTreeMap;

use super::frame::RateRow;
use super::html::{escape, int, pct, Tr, DASH};
use crate::accounting::TableAccount;
use crate::ingest::ConversionReport;

/// What the conversion of a real-world source left unknown: seriousness and death when
/// a FAERS OUTC file was missing (and allowed to be), or when E2B reactions stated no
/// seriousness criterion. Empty when nothing is unknown.
pub(super) fn unknown_seriousness(conversion: Option<&ConversionReport>, tr: Tr) -> String {
    let Some(c) = conversion else {
        return String::new();
    };
    let n = int(c.serious_unknown as i64);
    let mut out = String::new();
    for m in &c.missing_files {
        let path = format!("<code>{}</code>", escape(&m.path));
        out.push_str(&if tr.is_zh() {
            format!(
                "<p class=\"note\"><strong>严重程度和死亡情况未知：缺少 FAERS {} 文件</strong>（{path}，经 <code>allow_missing</code> 允许）。共 {n} 个报告版本的 <code>is_serious</code> 与 <code>fatal</code> 为空；报告率、预警和排查清单按非严重、非死亡计。</p>\n",
                escape(m.part)
            )
        } else {
            format!(
                "<p class=\"note\"><strong>Seriousness and death unknown: FAERS {} file missing</strong> ({path}, allowed by <code>allow_missing</code>). {n} report versions have <code>is_serious</code> and <code>fatal</code> null; rates, alerts and the screening list count them as neither serious nor fatal.</p>\n",
                escape(m.part)
            )
        });
    }
    if c.missing_files.is_empty() && c.serious_unknown > 0 {
        out.push_str(&if tr.is_zh() {
            format!("<p class=\"note\"><strong>严重程度未知</strong>：源数据中 {n} 个报告版本未说明严重性标准，<code>is_serious</code> 为空；报告率、预警和排查清单按非严重计。</p>\n")
        } else {
            format!("<p class=\"note\"><strong>Seriousness unknown</strong> for {n} report versions of the source, which state no seriousness criterion (<code>is_serious</code> null); rates, alerts and the screening list count them as not serious.</p>\n")
        });
    }
    out
}

/// Bad optional values nulled in rows that were kept, by table and column: the rows count
/// as used, and each cell has a `cell nulled` line in `rejects.csv`.
pub(super) fn nulled_cells(inputs: &[TableAccount], tr: Tr) -> String {
    let rows: Vec<String> = inputs
        .iter()
        .flat_map(|t| {
            t.nulled_cells.iter().map(move |(column, n)| {
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                    escape(t.table),
                    escape(column),
                    int(*n as i64)
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return format!(
            "<p>{}</p>\n",
            tr.t(
                "No optional value had to be nulled.",
                "没有需要置空的可选字段值。"
            )
        );
    }
    titled_table(
        tr.t("Nulled cells", "置空的单元格"),
        tr.t(
            "An unreadable value in an optional column is set to null and its row kept (its case still counts); a null flag counts as false, a null age as unknown.",
            "可选列中无法识别的值被置为空，该行保留（病例照常计数）；空的标志按“否”计，空的年龄按“未知”计。"
        ),
        &[
            (tr.t("Table", "输入表"), false),
            (tr.t("Column", "列"), false),
            (tr.t("Cells nulled", "置空单元格数"), true),
        ],
        &rows.join(""),
    )
}

/// Cases first received in the period, and how many are well documented (completeness
/// above 0.8, vigiGrade's threshold), by class, summed over the rates table's coarsest
/// level so that each case counts once.
pub(super) fn well_documented(rates: &[RateRow], tr: Tr) -> String {
    let Some(top) = rates.first().and_then(|r| r.level.clone()) else {
        return String::new();
    };
    let mut by_class: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in rates
        .iter()
        .filter(|r| r.level.as_deref() == Some(top.as_str()))
    {
        let e = by_class.entry(r.class.as_str()).or_default();
        e.0 += r.reports.unwrap_or(0);
        e.1 += r.well_documented.unwrap_or(0);
    }
    let rows: String = by_class
        .iter()
        .map(|(class, (reports, well))| {
            let share = if *reports > 0 {
                pct(*well as f64 / *reports as f64)
            } else {
                DASH.to_string()
            };
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                tr.class_html(class),
                int(*reports),
                int(*well),
                share
            )
        })
        .collect();
    titled_table(
        tr.t("Well-documented cases", "记录完整的病例"),
        tr.t(
            "Completeness after vigiGrade (Bergvall et al. 2014): each missing field costs a share of the score (time to onset 50%; outcome, sex, age 30% each; reporter type, report type, batch, coded event 10% each); above 0.8 is well documented. Cases first received in the period; per case in cases.parquet.",
            "参照 vigiGrade（Bergvall 等，2014）的完整性评分：每缺一项扣减一定比例（发生时间 50%；结果、性别、年龄各 30%；报告单位类别、报告类型、批号、规范术语各 10%），得分高于 0.8 为记录完整。统计本期首次收到的病例；逐例评分见 cases.parquet。"
        ),
        &[
            (tr.t("Class", "类别"), false),
            (tr.t("Cases", "病例数"), true),
            (tr.t("Well documented", "记录完整"), true),
            (tr.t("Share", "比例"), true),
        ],
        &rows,
    )
}

/// A sub-heading, a note and a table with these headings (`true`: a numeric column,
/// right-aligned) over rows already rendered as `<tr>…</tr>`.
fn titled_table(title: &str, note: &str, head: &[(&str, bool)], rows: &str) -> String {
    let head: String = head
        .iter()
        .map(|(h, numeric)| {
            let class = if *numeric { " class=\"n\"" } else { "" };
            format!("<th{class}>{h}</th>")
        })
        .collect();
    format!(
        "<h3>{title}</h3>\n<p class=\"note\">{note}</p>\n<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Format, Lang};
    use crate::convert::model::MissingFile;

    fn conversion(missing: bool, serious_unknown: u64) -> ConversionReport {
        ConversionReport {
            format: Format::Faers,
            source: "q".into(),
            rows: Default::default(),
            allowed_missing: if missing { vec!["OUTC"] } else { vec![] },
            missing_files: if missing {
                vec![MissingFile {
                    part: "OUTC",
                    path: "q/OUTC24Q1.txt".into(),
                    unknown: &["is_serious", "fatal"],
                }]
            } else {
                vec![]
            },
            serious_unknown,
            sources: vec![],
            read_ms: 0,
        }
    }

    #[test]
    fn unknown_seriousness_is_said_in_both_languages_and_only_when_there_is_some() {
        let (en, zh) = (Tr(Lang::En), Tr(Lang::Zh));
        assert_eq!(unknown_seriousness(None, en), "");
        assert_eq!(unknown_seriousness(Some(&conversion(false, 0)), en), "");
        let c = conversion(true, 1200);
        let text = unknown_seriousness(Some(&c), en);
        assert!(text.contains("Seriousness and death unknown: FAERS OUTC file missing</strong> (<code>q/OUTC24Q1.txt</code>"), "{text}");
        assert!(
            text.contains(&format!("{} report versions", int(1200))),
            "{text}"
        );
        let text = unknown_seriousness(Some(&c), zh);
        assert!(
            text.contains("严重程度和死亡情况未知：缺少 FAERS OUTC 文件"),
            "{text}"
        );
        // E2B reactions without criteria: unknown seriousness, no file missing.
        let text = unknown_seriousness(Some(&conversion(false, 3)), en);
        assert!(
            text.contains("<strong>Seriousness unknown</strong> for 3 report versions"),
            "{text}"
        );
        assert!(!text.contains("missing"), "{text}");
    }
}
