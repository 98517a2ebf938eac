//! The sections of the review page that come from the batch's tables: the strongest
//! signals (signals) and the risk screening list (screening), and the product part of
//! "changes". Attainment against target is in `attainment`.

use std::cmp::Ordering;

use super::frame::{ScreenRow, SignalRow};
use super::html::{change, escape, int, num, opt_int, opt_num, Tr, DASH};
use super::svg::{self, Interval};
use super::{none, open_section};

/// How many signals the page shows.
pub const TOP_SIGNALS: usize = 20;

/// `2.41 (1.95–3.02)`; the interval is left out when it is null.
fn with_ci(point: Option<f64>, lower: Option<f64>, upper: Option<f64>) -> String {
    match (point, lower, upper) {
        (None, _, _) => DASH.to_string(),
        (Some(p), Some(l), Some(u)) => {
            format!(
                "{} <span class=\"muted\">({}–{})</span>",
                num(p),
                num(l),
                num(u)
            )
        }
        (Some(p), _, _) => num(p),
    }
}

/// A PRR or ROR with its interval, and when the ratio or its interval is undefined, why
/// (`signals.parquet`'s `prr_null_reason` / `ror_null_reason`: the zero cells).
pub(super) fn ratio_cell(
    point: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    reason: Option<&str>,
    tr: Tr,
) -> String {
    let mut s = with_ci(point, lower, upper);
    let complete = point.is_some() && lower.is_some() && upper.is_some();
    if let Some(reason) = reason.filter(|r| !complete && !r.is_empty()) {
        let what = match point {
            None => tr.t("undefined", "无法计算"),
            Some(_) => tr.t("no interval", "无置信区间"),
        };
        let reason = if tr.is_zh() {
            reason
                .replace(" and ", " 且 ")
                .replace("numeric overflow", "数值溢出")
        } else {
            reason.to_string()
        };
        let sep = tr.t(": ", "：");
        w!(
            s,
            "<br><span class=\"muted why\">{what}{sep}{}</span>",
            escape(&reason)
        );
    }
    s
}

fn desc(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The signals, strongest first: by EB05, then EBGM, descending.
pub fn strongest(signals: &[SignalRow]) -> Vec<&SignalRow> {
    let mut v: Vec<&SignalRow> = signals.iter().filter(|r| r.is_signal).collect();
    v.sort_by(|a, b| {
        desc(a.eb05, b.eb05)
            .then_with(|| desc(a.ebgm, b.ebgm))
            .then_with(|| (&a.product_id, &a.event).cmp(&(&b.product_id, &b.event)))
    });
    v
}

///
/// `priors` are one sentence per class on the EBGM prior it used and why
/// (`PriorReport::sentence`), shown under the table so that a reviewer reading EB05 knows
/// whether it rests on the class's own fit, a pooled one or the fixed prior.
pub fn signals(signals: &[SignalRow], priors: &[String], tr: Tr) -> String {
    let mut s = open_section("signals", tr);
    let all = strongest(signals);
    if all.is_empty() {
        s.push_str(&none(tr.t(
            "No signals among the watched products in this batch.",
            "本批次重点监测产品中没有检出信号。",
        )));
        s.push_str(&prior_notes(priors, tr));
        s.push_str("</section>\n");
        return s;
    }
    let top = &all[..all.len().min(TOP_SIGNALS)];
    let intro = if tr.is_zh() {
        format!(
            "共 {} 个信号，按 EB05 从高到低列出前 {} 个。统计量均以该类别的全部病例为背景计算。",
            int(all.len() as i64),
            int(top.len() as i64)
        )
    } else {
        format!(
            "The {} strongest of {} signals, by EB05. Every statistic uses the whole background of the product's class.",
            int(top.len() as i64),
            int(all.len() as i64)
        )
    };
    w!(s, "<p class=\"note\">{}</p>\n", escape(&intro));
    let rows: Vec<Interval> = top
        .iter()
        .enumerate()
        .map(|(i, r)| Interval {
            label: format!("{}. {} · {}", i + 1, r.product_label(), r.event),
            lower: r.eb05,
            point: r.ebgm,
            upper: r.eb95,
        })
        .collect();
    s.push_str(&svg::forest_plot(&rows, tr));
    w!(
        s,
        "<div class=\"scroll\"><table class=\"compact\"><thead><tr><th class=\"n\">#</th><th>{}</th><th>{}</th><th class=\"n\">a</th><th class=\"n\">{}</th><th class=\"n\">PRR (95% CI)</th><th class=\"n\">ROR (95% CI)</th><th class=\"n\">IC025–IC975</th><th class=\"n\">EBGM (EB05–EB95)</th><th class=\"n\">{}</th></tr></thead><tbody>",
        tr.t("Product", "产品"),
        tr.t("Event (MedDRA PT)", "不良反应/事件（MedDRA PT）"),
        tr.t("Expected", "期望数"),
        tr.t("Methods", "方法数")
    );
    for (i, r) in top.iter().enumerate() {
        let ic = match (r.ic025, r.ic975) {
            (Some(l), Some(u)) => format!("{} – {}", num(l), num(u)),
            _ => DASH.to_string(),
        };
        w!(
            s,
            "<tr><td class=\"n\">{}</td><td><b>{}</b> <span class=\"muted\">{} · {}</span></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            escape(&r.product_label()),
            escape(&r.product_id),
            tr.class_html(&r.class),
            escape(&r.event),
            opt_int(r.a),
            opt_num(r.expected),
            ratio_cell(r.prr, r.prr_lower, r.prr_upper, r.prr_null_reason.as_deref(), tr),
            ratio_cell(r.ror, r.ror_lower, r.ror_upper, r.ror_null_reason.as_deref(), tr),
            ic,
            with_ci(r.ebgm, r.eb05, r.eb95),
            opt_int(r.n_methods)
        );
    }
    s.push_str("</tbody></table></div>\n");
    s.push_str(&prior_notes(priors, tr));
    s.push_str("</section>\n");
    s
}

/// Which EBGM prior each class used, one line each.
fn prior_notes(priors: &[String], tr: Tr) -> String {
    if priors.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "<div class=\"note priors\"><b>{}</b><ul>",
        tr.t("EBGM prior by class", "各类别 EBGM 先验")
    );
    for p in priors {
        w!(s, "<li>{}</li>", escape(p));
    }
    s.push_str("</ul></div>\n");
    s
}

/// Chips for the reasons a product is watched.
fn watch_chips(r: &ScreenRow, tr: Tr) -> String {
    let mut s = String::new();
    let innovative = match r.class.as_str() {
        "drug" => tr.t("innovative", "创新药"),
        "device" => tr.t("innovative", "创新医疗器械"),
        _ => tr.t("innovative", "创新"),
    };
    for (flag, label) in [
        (r.innovative, innovative),
        (r.conditional, tr.t("conditional", "附条件批准")),
        (r.procured, tr.t("procured (VBP)", "集采中选")),
    ] {
        if flag == Some(true) {
            w!(s, "<span class=\"chip\">{label}</span>");
        }
    }
    s
}

/// The trend column: an arrow and a word for the usual values, the text itself otherwise.
fn trend(t: Option<&str>, tr: Tr) -> String {
    let Some(raw) = t else {
        return DASH.to_string();
    };
    let (text, class) = match raw.trim().to_lowercase().as_str() {
        "up" | "rising" | "increasing" | "increase" | "worsening" | "上升" => {
            (format!("▲ {}", tr.t("up", "上升")), "up")
        }
        "down" | "falling" | "decreasing" | "decrease" | "improving" | "下降" => {
            (format!("▼ {}", tr.t("down", "下降")), "down")
        }
        "flat" | "stable" | "same" | "unchanged" | "steady" | "持平" => {
            (format!("→ {}", tr.t("flat", "持平")), "flat")
        }
        "new" | "新增" => (format!("● {}", tr.t("new", "新进入")), "up"),
        _ => (escape(raw), "flat"),
    };
    format!("<span class=\"trend {class}\">{text}</span>")
}

fn change_cell(n: Option<i64>) -> String {
    let (text, class) = change(n);
    format!("<td class=\"n\"><span class=\"{class}\">{text}</span></td>")
}

/// Riskiest first: P0 alerts, open alerts, signals, cases; then the product id.
fn screening_order(rows: &[ScreenRow]) -> Vec<&ScreenRow> {
    let mut v: Vec<&ScreenRow> = rows.iter().collect();
    let key = |r: &ScreenRow| {
        (
            r.p0_alerts.unwrap_or(0),
            r.open_alerts.unwrap_or(0),
            r.signals.unwrap_or(0),
            r.cases.unwrap_or(0),
        )
    };
    v.sort_by(|a, b| {
        key(b)
            .cmp(&key(a))
            .then_with(|| a.product_id.cmp(&b.product_id))
    });
    v
}

fn product_cell(r: &ScreenRow, tr: Tr) -> String {
    format!(
        "<td class=\"product\"><b>{}</b> <span class=\"muted\">{}</span><br>{}</td>",
        escape(&r.product_label()),
        escape(&r.product_id),
        watch_chips(r, tr)
    )
}

/// The note under a product list cut at `alerts.page_limit`: how many are not shown, and
/// where every row is.
fn more_products(total: usize, shown: usize, tr: Tr) -> String {
    let rest = total - shown;
    format!(
        "<p class=\"note more\">{}</p>\n",
        if tr.is_zh() {
            format!(
                "另有 {} 个产品未在此列出（本页按排查顺序列出前 {} 个，上限由 alerts.page_limit 设定）。全部 {} 个见本页所在文件夹中的 screening.parquet。",
                int(rest as i64),
                int(shown as i64),
                int(total as i64)
            )
        } else {
            format!(
                "{} more products are not listed here (this page lists the first {} in screening order; alerts.page_limit sets the limit). All {} are in screening.parquet in this page's folder.",
                int(rest as i64),
                int(shown as i64),
                int(total as i64)
            )
        }
    )
}

/// The post-market risk screening list: at most `limit` products, riskiest first.
pub fn screening(rows: &[ScreenRow], limit: usize, tr: Tr) -> String {
    let mut s = open_section("screening", tr);
    if rows.is_empty() {
        s.push_str(&none(tr.t(
            "No watched products in this batch.",
            "本批次没有重点监测产品。",
        )));
        s.push_str("</section>\n");
        return s;
    }
    w!(
        s,
        "<p class=\"note\">{}</p>\n",
        tr.t(
            "One row per watched product (innovative, conditionally approved, centrally procured), riskiest first: P0 alerts, open alerts, signals, cases. Changes are against the previous batch.",
            "每个重点监测产品（创新、附条件批准、集采中选）一行，按 P0 预警、未关闭预警、信号数、病例数从高到低排列；变化为与上一批次相比。"
        )
    );
    let heads = [
        (tr.t("Product", "产品"), false),
        (tr.t("Class", "类别"), false),
        (tr.t("Holder", "持有人"), false),
        (tr.t("Cases", "本期病例"), true),
        (tr.t("Serious", "严重"), true),
        (tr.t("Fatal", "死亡"), true),
        (tr.t("Cumulative", "累计病例"), true),
        (tr.t("Signals", "信号"), true),
        (tr.t("Signal events", "信号事件"), false),
        (tr.t("Open alerts", "未关闭预警"), true),
        (tr.t("P0 alerts", "P0 预警"), true),
        (tr.t("Previous", "上一期"), false),
        (tr.t("Prev. cases", "上期病例"), true),
        (tr.t("Δ cases", "病例变化"), true),
        (tr.t("Prev. signals", "上期信号"), true),
        (tr.t("Δ signals", "信号变化"), true),
        (tr.t("Trend", "趋势"), false),
    ];
    s.push_str("<div class=\"scroll\"><table class=\"compact screening\"><thead><tr>");
    for (h, numeric) in heads {
        w!(
            s,
            "<th{}>{h}</th>",
            if numeric { " class=\"n\"" } else { "" }
        );
    }
    s.push_str("</tr></thead><tbody>");
    let ordered = screening_order(rows);
    let shown = ordered.len().min(limit);
    for r in &ordered[..shown] {
        s.push_str("<tr>");
        s.push_str(&product_cell(r, tr));
        w!(
            s,
            "<td class=\"cls\">{}</td><td class=\"holder\">{}</td>",
            tr.class_html(&r.class),
            escape(r.holder.as_deref().unwrap_or(DASH))
        );
        for n in [
            r.cases,
            r.serious_cases,
            r.fatal_cases,
            r.cumulative_cases,
            r.signals,
        ] {
            w!(s, "<td class=\"n\">{}</td>", opt_int(n));
        }
        w!(
            s,
            "<td class=\"events\">{}</td>",
            escape(
                r.signal_events
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .unwrap_or(DASH)
            )
        );
        let p0 = match r.p0_alerts {
            Some(n) if n > 0 => format!("<span class=\"badge p0\">{}</span>", int(n)),
            n => opt_int(n),
        };
        w!(
            s,
            "<td class=\"n\">{}</td><td class=\"n\">{p0}</td><td>{}</td><td class=\"n\">{}</td>",
            opt_int(r.open_alerts),
            escape(r.previous_period.as_deref().unwrap_or(DASH)),
            opt_int(r.previous_cases)
        );
        s.push_str(&change_cell(r.cases_change));
        w!(s, "<td class=\"n\">{}</td>", opt_int(r.previous_signals));
        s.push_str(&change_cell(r.signals_change));
        w!(s, "<td>{}</td></tr>", trend(r.trend.as_deref(), tr));
    }
    s.push_str("</tbody></table></div>\n");
    if shown < ordered.len() {
        s.push_str(&more_products(ordered.len(), shown, tr));
    }
    s.push_str("</section>\n");
    s
}

/// Products whose cases or signals changed since the previous batch: at most `limit`,
/// largest changes first.
pub fn product_changes(rows: &[ScreenRow], limit: usize, tr: Tr) -> String {
    let mut s = format!(
        "<h3>{}</h3>\n",
        tr.t(
            "Products whose cases or signals changed",
            "病例数或信号数有变化的产品"
        )
    );
    let mut changed: Vec<&ScreenRow> = rows
        .iter()
        .filter(|r| r.cases_change.unwrap_or(0) != 0 || r.signals_change.unwrap_or(0) != 0)
        .collect();
    changed.sort_by(|a, b| {
        let key = |r: &ScreenRow| {
            (
                r.signals_change.unwrap_or(0).abs(),
                r.cases_change.unwrap_or(0).abs(),
            )
        };
        key(b)
            .cmp(&key(a))
            .then_with(|| a.product_id.cmp(&b.product_id))
    });
    if changed.is_empty() {
        s.push_str(&none(tr.t(
            "No watched product's cases or signals changed since the previous batch.",
            "与上一批次相比，重点监测产品的病例数和信号数均无变化。",
        )));
        return s;
    }
    w!(
        s,
        "<table class=\"compact\"><thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
        tr.t("Product", "产品"),
        tr.t("Class", "类别"),
        tr.t("Cases: previous → now", "病例：上期 → 本期"),
        tr.t("Δ", "变化"),
        tr.t("Signals: previous → now", "信号：上期 → 本期"),
        tr.t("Δ", "变化"),
        tr.t("Trend", "趋势")
    );
    let total = changed.len();
    changed.truncate(limit);
    for r in &changed {
        s.push_str("<tr>");
        s.push_str(&product_cell(r, tr));
        w!(
            s,
            "<td>{}</td><td class=\"n\">{} → {}</td>",
            tr.class_html(&r.class),
            opt_int(r.previous_cases),
            opt_int(r.cases)
        );
        s.push_str(&change_cell(r.cases_change));
        w!(
            s,
            "<td class=\"n\">{} → {}</td>",
            opt_int(r.previous_signals),
            opt_int(r.signals)
        );
        s.push_str(&change_cell(r.signals_change));
        w!(s, "<td>{}</td></tr>", trend(r.trend.as_deref(), tr));
    }
    s.push_str("</tbody></table>\n");
    if changed.len() < total {
        s.push_str(&more_products(total, changed.len(), tr));
    }
    s
}
