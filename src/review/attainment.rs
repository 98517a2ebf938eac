//! The `attainment` section: annualised reporting rates against their targets, at the
//! rates table's coarsest level as a chart, and region by region at each finer level the
//! pipeline rates (a province's cities, with `rates.levels = ["province", "city"]`).

use super::frame::RateRow;
use super::html::{escape, int, num, opt_int, opt_num, pct, Tr, DASH};
use super::svg::{self, Bar};
use super::{none, open_section};
use crate::schema::CLASSES;
fn class_rank(class: &str) -> usize {
    CLASSES
        .iter()
        .position(|c| *c == class)
        .unwrap_or(CLASSES.len())
}

fn level_rank(level: Option<&str>) -> usize {
    match level {
        Some("province") => 0,
        Some("city") => 1,
        _ => 2,
    }
}

/// Rows of the coarsest region level present (provinces before cities).
fn coarsest(rates: &[RateRow]) -> Vec<&RateRow> {
    let best = rates
        .iter()
        .map(|r| level_rank(r.level.as_deref()))
        .min()
        .unwrap_or(2);
    let mut rows: Vec<&RateRow> = rates
        .iter()
        .filter(|r| level_rank(r.level.as_deref()) == best)
        .collect();
    rows.sort_by(|a, b| {
        (class_rank(&a.class), &a.class, &a.region).cmp(&(
            class_rank(&b.class),
            &b.class,
            &b.region,
        ))
    });
    rows
}

/// Why a rate or its attainment is missing, in the page's language, from the row's
/// `null_reason` (whose reasons are joined with `; `). Reasons about sentinel shares do not
/// concern rates and are left out; an unknown reason is shown as it is.
fn rate_note(r: &RateRow, tr: Tr) -> String {
    let mut notes: Vec<String> = Vec::new();
    for reason in r.null_reason.as_deref().unwrap_or("").split("; ") {
        let note = if reason.is_empty() || reason.starts_with("no sentinel") {
            continue;
        } else if reason.starts_with("no population") {
            tr.t("no population figure", "无人口数据")
        } else if reason.starts_with("no target") {
            tr.t("no target", "未设定目标")
        } else if reason.starts_with("no reports") {
            tr.t("no reports", "无报告")
        } else if reason.starts_with("the period starts after") {
            tr.t(
                "the period starts after the data cut-off",
                "统计期晚于数据截止日",
            )
        } else {
            reason
        };
        if !notes.iter().any(|n| n == note) {
            notes.push(note.to_string());
        }
    }
    if notes.is_empty() {
        let fallback = match (r.target, r.annualized) {
            (None, _) => tr.t("no target", "未设定目标"),
            (_, None) => tr.t("no rate", "无报告率"),
            _ => DASH,
        };
        notes.push(fallback.to_string());
    }
    notes.join(tr.t("; ", "；"))
}

pub(super) fn attainment(rates: &[RateRow], tr: Tr) -> String {
    let mut s = open_section("attainment", tr);
    let rows = coarsest(rates);
    if rows.is_empty() {
        s.push_str(&none(tr.t(
            "No reporting rates in this batch.",
            "本批次没有报告率数据。",
        )));
        s.push_str("</section>\n");
        return s;
    }
    let (targeted, untargeted): (Vec<&RateRow>, Vec<&RateRow>) =
        rows.into_iter().partition(|r| r.target.is_some());
    let level = targeted
        .first()
        .or(untargeted.first())
        .and_then(|r| r.level.as_deref())
        .map(|l| tr.level(l))
        .unwrap_or_default();
    let on_track = targeted.iter().filter(|r| r.on_track == Some(true)).count();
    let intro = if tr.is_zh() {
        format!(
            "{level}地区的年化每百万人口报告数与目标之比；柱条到达虚线即达标。{} 个有目标的地区×类别中 {} 个达标。",
            int(targeted.len() as i64),
            int(on_track as i64)
        )
    } else {
        format!(
            "Annualised reports per million population against the target, by {level} and class; a bar that reaches the dashed line meets its target. {} of {} targeted rows are on track.",
            int(on_track as i64),
            int(targeted.len() as i64)
        )
    };
    w!(s, "<p class=\"note\">{}</p>\n", escape(&intro));
    if targeted.is_empty() {
        s.push_str(&none(tr.t(
            "No region and class in this batch has a target.",
            "本批次没有设定目标的地区和类别。",
        )));
    } else {
        w!(
            s,
            "<div class=\"legend\"><i class=\"met\"></i>{}<i class=\"below\"></i>{}<i class=\"nodata\"></i>{}</div>\n",
            tr.t("on track", "达标"),
            tr.t("below target", "未达标"),
            tr.t("no rate", "无报告率")
        );
        let bars: Vec<Bar> = targeted
            .iter()
            .map(|r| Bar {
                label: format!("{} · {}", r.region_label(), tr.class(&r.class)),
                attainment: r.attainment,
                on_track: r.on_track,
                detail: match (r.attainment, r.annualized, r.target) {
                    (Some(_), Some(rate), Some(target)) => format!(
                        "{} / {} {}",
                        num(rate),
                        num(target),
                        tr.t("per million", "每百万人口")
                    ),
                    _ => rate_note(r, tr),
                },
                group: r.class.clone(),
            })
            .collect();
        s.push_str(&svg::attainment_chart(&bars, tr));
    }
    if !untargeted.is_empty() {
        w!(
            s,
            "<h3>{}</h3>\n<table class=\"compact\"><thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
            tr.t("Without a target", "未设定目标"),
            tr.t("Region", "地区"),
            tr.t("Class", "类别"),
            tr.t("Reports", "报告数"),
            tr.t("Annualised per million", "年化每百万人口报告数"),
            tr.t("Note", "说明")
        );
        for r in untargeted {
            w!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"muted\">{}</td></tr>",
                escape(&r.region_label()),
                tr.class_html(&r.class),
                opt_int(r.reports),
                opt_num(r.annualized),
                escape(&rate_note(r, tr))
            );
        }
        s.push_str("</tbody></table>\n");
    }
    s.push_str(&finer_levels(rates, tr));
    s.push_str("</section>\n");
    s
}

/// The levels finer than the coarsest (cities under provinces), each as a table of its
/// regions by class: attainment, with the rate against the target or why it is missing.
fn finer_levels(rates: &[RateRow], tr: Tr) -> String {
    let coarsest = rates
        .iter()
        .map(|r| level_rank(r.level.as_deref()))
        .min()
        .unwrap_or(2);
    let mut s = String::new();
    for rank in (coarsest + 1)..2 {
        let rows: Vec<&RateRow> = rates
            .iter()
            .filter(|r| level_rank(r.level.as_deref()) == rank)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut classes: Vec<&str> = rows.iter().map(|r| r.class.as_str()).collect();
        classes.sort_by_key(|c| (class_rank(c), *c));
        classes.dedup();
        let mut regions: Vec<&RateRow> = rows.clone();
        regions.sort_by(|a, b| a.region.cmp(&b.region));
        regions.dedup_by(|a, b| a.region == b.region);
        let level = rows[0].level.as_deref().unwrap_or("");
        let on_track = rows.iter().filter(|r| r.on_track == Some(true)).count();
        let targeted = rows.iter().filter(|r| r.target.is_some()).count();
        let heading = if tr.is_zh() {
            format!(
                "按{}：{} 个地区，{} 个有目标的地区×类别中 {} 个达标",
                tr.level(level),
                int(regions.len() as i64),
                int(targeted as i64),
                int(on_track as i64)
            )
        } else {
            format!(
                "By {}: {} regions; {} of {} targeted rows on track",
                tr.level(level),
                int(regions.len() as i64),
                int(on_track as i64),
                int(targeted as i64)
            )
        };
        w!(
            s,
            "<h3 id=\"attainment-{}\">{}</h3>\n<table class=\"compact attainment-level\"><thead><tr><th>{}</th>",
            escape(level),
            escape(&heading),
            tr.t("Region", "地区")
        );
        for c in &classes {
            w!(s, "<th class=\"n\">{}</th>", tr.class_html(c));
        }
        s.push_str("</tr></thead><tbody>");
        for region in &regions {
            w!(s, "<tr><td>{}</td>", escape(&region.region_label()));
            for c in &classes {
                let cell = rows
                    .iter()
                    .find(|r| r.region == region.region && r.class == *c)
                    .map(|r| attainment_cell(r, tr))
                    .unwrap_or_else(|| DASH.to_string());
                w!(s, "<td class=\"n\">{cell}</td>");
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>\n");
    }
    s
}

/// `12.8%` (coloured by whether it is on track) over `15.4 / 1,200`; the reason when the
/// attainment is missing.
fn attainment_cell(r: &RateRow, tr: Tr) -> String {
    match (r.attainment, r.annualized, r.target) {
        (Some(a), Some(rate), Some(target)) => {
            let class = if r.on_track == Some(true) {
                "met"
            } else {
                "below"
            };
            format!(
                "<span class=\"att {class}\">{}</span><br><span class=\"muted\">{} / {}</span>",
                pct(a),
                num(rate),
                num(target)
            )
        }
        _ => format!("<span class=\"muted\">{}</span>", escape(&rate_note(r, tr))),
    }
}
