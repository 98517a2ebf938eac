//! The review page's data-quality parts beside the row accounting: nulled cells by table and
//! column (from the manifest's accounts), and well-documented cases by class (from
//! `rates.parquet`'s `well_documented`, at the table's coarsest level).

use std::collections::BTreeMap;

use super::frame::RateRow;
use super::html::{escape, int, pct, Tr, DASH};
use crate::accounting::TableAccount;

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
