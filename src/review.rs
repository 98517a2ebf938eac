//! The review page (`review.html`): what monitoring staff open after each batch.
//!
//! [`render_review`] is a pure function from the batch's results to one self-contained
//! HTML page, in English or Chinese: inline CSS, charts as inline SVG, no scripts, no
//! fonts or anything else fetched from a network, so the page opens offline and prints.
//! `output` writes it; this module does no I/O.
//!
//! Reads: the alerts, `rates.parquet` (attainment against target), `signals.parquet`
//! (the strongest signals), `screening.parquet` (上市后风险排查清单) and the input tables'
//! row accounting. Any frame may be empty or lack columns: a missing column reads as nulls
//! and an empty part of the page says so.
//!
//! The page's sections, each a `<section id="…">`: `summary`, `alerts`, `attainment`,
//! `signals`, `screening`, `changes`, `quality`.
//!
//! Invariants: every text that comes from data is escaped ([`escape`]); the page contains
//! no URL (not even an SVG `xmlns`); alerts are ordered P0 → P3, and within a priority new,
//! then escalated, then ongoing.

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($dst, $($arg)*);
    }};
}

mod alerts;
mod attainment;
mod frame;
mod html;
mod quality;
mod sections;
mod style;
mod svg;
mod terms_quality;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use polars::prelude::DataFrame;

use crate::accounting::TableAccount;
use crate::alerts::model::{Alert, Priority, Status};
use crate::config::Lang;

use alerts::{due, priority_badge, status_label};
pub use html::escape;
use html::{int, pct, Tr, DASH};

/// Everything the review page shows, for one batch.
pub struct ReviewData<'a> {
    pub pipeline: &'a str,
    pub period: &'a str,
    pub previous_period: Option<&'a str>,
    /// When the run started, RFC 3339.
    pub generated_at: &'a str,
    pub alerts: &'a [Alert],
    /// `rates.parquet` columns (`schema::col`).
    pub rates: &'a DataFrame,
    /// `signals.parquet` columns (`signals::out` and `schema::col`).
    pub signals: &'a DataFrame,
    /// `screening.parquet` columns (`schema::col`).
    pub screening: &'a DataFrame,
    pub inputs: &'a [TableAccount],
    /// Lines in `rejects.csv`, header not counted.
    pub rejects: usize,
    /// The conversion of a real-world source, if any (what it left unknown).
    pub conversion: Option<&'a crate::ingest::ConversionReport>,
    /// At most this many open alerts of each priority, and alerts of each status in
    /// "changes", are listed; the rest are counted, with where to find them
    /// (`alerts.page_limit`).
    pub page_limit: usize,
    /// The EBGM prior of each class and why it was chosen (`signals.priors`).
    pub priors: &'a [crate::signals::PriorReport],
    /// Terms (`[terms]`): the MedDRA version and the unmapped events, if any.
    pub terms: Option<&'a crate::terms::TermsReport>,
}

const PRIORITIES: [Priority; 4] = Priority::ALL;
const STATUSES: [Status; 5] = Status::ALL;

/// Render the review page of one batch in `lang`.
pub fn render_review(data: &ReviewData<'_>, lang: Lang) -> String {
    let tr = Tr(lang);
    let rates = frame::rate_rows(data.rates, data.period);
    let signals = frame::signal_rows(data.signals, data.period);
    let screening = frame::screen_rows(data.screening, data.period);
    let regions: BTreeMap<String, String> = rates
        .iter()
        .filter_map(|r| Some((r.region.clone(), r.region_name.clone()?)))
        .collect();
    let ctx = Ctx { tr, data, regions };

    let title = tr.t(
        "Pharmacovigilance review: signals and alerts",
        "药品不良反应监测 · 信号与预警复核",
    );
    let mut s = String::with_capacity(64 * 1024);
    w!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · {} · {}</title>\n<style>{}</style>\n</head>\n<body>\n",
        tr.t("en", "zh-CN"),
        escape(title),
        escape(data.pipeline),
        escape(data.period),
        style::CSS
    );
    w!(
        s,
        "<header class=\"masthead\"><h1>{}</h1><div class=\"sub\">{} <b>{}</b> · {} <b>{}</b> · {} {}</div></header>\n",
        escape(title),
        tr.t("Pipeline", "流水线"),
        escape(data.pipeline),
        tr.t("Period", "统计期"),
        escape(data.period),
        tr.t("generated", "生成于"),
        escape(data.generated_at)
    );
    s.push_str("<nav class=\"toc\">");
    for (id, en, zh) in SECTIONS {
        w!(s, "<a href=\"#{id}\">{}</a>", tr.t(en, zh));
    }
    s.push_str("</nav>\n<main>\n");
    s.push_str(&ctx.summary(&signals, &screening));
    s.push_str(&ctx.alerts());
    s.push_str(&attainment::attainment(&rates, tr));
    let priors: Vec<String> = data.priors.iter().map(|p| p.sentence(lang)).collect();
    s.push_str(&sections::signals(&signals, &priors, tr));
    s.push_str(&sections::screening(&screening, data.page_limit, tr));
    s.push_str(&ctx.changes(&screening));
    s.push_str(&ctx.quality());
    w!(
        s,
        "</main>\n<footer>pvwatch {} · {}</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        tr.t(
            "This page is self-contained and works offline.",
            "本页面为独立文件，可离线查看与打印。"
        )
    );
    s
}

/// Section ids, with their English and Chinese headings.
const SECTIONS: [(&str, &str, &str); 7] = [
    ("summary", "Summary", "概览"),
    ("alerts", "Alerts", "预警"),
    (
        "attainment",
        "Reporting rates against targets",
        "报告数达标情况",
    ),
    ("signals", "Strongest signals", "最强信号"),
    (
        "screening",
        "Post-market risk screening list",
        "上市后风险排查清单",
    ),
    (
        "changes",
        "Changes since the last batch",
        "与上一批次相比的变化",
    ),
    ("quality", "Data quality", "数据质量"),
];

/// Open a section with its id and heading.
fn open_section(id: &str, tr: Tr) -> String {
    let (en, zh) = SECTIONS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map(|(_, en, zh)| (*en, *zh))
        .unwrap_or((id, id));
    format!("<section id=\"{id}\">\n<h2>{}</h2>\n", tr.t(en, zh))
}

fn none(text: &str) -> String {
    format!("<p class=\"none\">{}</p>\n", escape(text))
}

/// The page's inputs with the language and a region-name lookup.
struct Ctx<'d, 'a> {
    tr: Tr,
    data: &'d ReviewData<'a>,
    regions: BTreeMap<String, String>,
}

impl Ctx<'_, '_> {
    /// `浙江省 (330000)`, escaped; the code alone when the rates name no such region.
    fn region(&self, code: &str) -> String {
        match self.regions.get(code) {
            Some(name) => format!("{} ({})", escape(name), escape(code)),
            None => escape(code),
        }
    }

    fn summary(&self, signals: &[frame::SignalRow], screening: &[frame::ScreenRow]) -> String {
        let (tr, d) = (self.tr, self.data);
        let mut s = open_section("summary", tr);
        s.push_str("<dl class=\"facts\">");
        let prev = match d.previous_period {
            Some(p) => escape(p),
            None => tr.t("none (first batch)", "无（首个批次）").to_string(),
        };
        let n_signals = signals.iter().filter(|r| r.is_signal).count();
        let facts = [
            (tr.t("Pipeline", "流水线"), escape(d.pipeline)),
            (tr.t("Period", "统计期"), escape(d.period)),
            (tr.t("Previous batch", "上一批次"), prev),
            (tr.t("Generated at", "生成时间"), escape(d.generated_at)),
            (
                tr.t("Signals (watched products)", "信号（重点监测产品）"),
                int(n_signals as i64),
            ),
            (
                tr.t("Products on the screening list", "排查清单产品数"),
                int(screening.len() as i64),
            ),
            (
                tr.t("Rejected input lines", "拒收输入行"),
                int(d.rejects as i64),
            ),
        ];
        for (k, v) in facts {
            w!(s, "<dt>{k}</dt><dd>{v}</dd>");
        }
        s.push_str("</dl>\n<div class=\"cards\">");
        for p in PRIORITIES {
            let of_p = |st: Status| {
                d.alerts
                    .iter()
                    .filter(|a| a.priority == p && a.status == st)
                    .count()
            };
            let open = of_p(Status::New)
                + of_p(Status::Reopened)
                + of_p(Status::Escalated)
                + of_p(Status::Ongoing);
            let fresh = of_p(Status::New) + of_p(Status::Reopened) + of_p(Status::Escalated);
            w!(
                s,
                "<div class=\"card {}\"><div class=\"count\">{}</div><div class=\"what\">{} {} · {}</div><div class=\"what\">{}</div></div>",
                p.as_str().to_lowercase(),
                int(open as i64),
                p.as_str(),
                tr.t("open alerts", "未关闭预警"),
                due(p, tr),
                if tr.is_zh() {
                    format!("其中新增、重新开启或升级 {}", int(fresh as i64))
                } else {
                    format!("{} new, reopened or escalated", int(fresh as i64))
                }
            );
        }
        s.push_str("</div>\n");
        // Priority × status matrix, resolved included.
        w!(
            s,
            "<table class=\"matrix\"><thead><tr><th>{}</th>",
            tr.t("Priority", "优先级")
        );
        for st in STATUSES {
            w!(s, "<th class=\"n\">{}</th>", status_label(st, tr));
        }
        w!(
            s,
            "<th class=\"n\">{}</th></tr></thead><tbody>",
            tr.t("total", "合计")
        );
        for p in PRIORITIES {
            w!(s, "<tr><td>{}</td>", priority_badge(p));
            for st in STATUSES {
                let n = d
                    .alerts
                    .iter()
                    .filter(|a| a.priority == p && a.status == st)
                    .count();
                w!(s, "<td class=\"n\">{}</td>", int(n as i64));
            }
            let n = d.alerts.iter().filter(|a| a.priority == p).count();
            w!(s, "<td class=\"n\">{}</td></tr>", int(n as i64));
        }
        w!(s, "<tr class=\"total\"><td>{}</td>", tr.t("total", "合计"));
        for st in STATUSES {
            let n = d.alerts.iter().filter(|a| a.status == st).count();
            w!(s, "<td class=\"n\">{}</td>", int(n as i64));
        }
        w!(
            s,
            "<td class=\"n\">{}</td></tr></tbody></table>\n</section>\n",
            int(d.alerts.len() as i64)
        );
        s
    }

    fn quality(&self) -> String {
        let (tr, d) = (self.tr, self.data);
        let mut s = open_section("quality", tr);
        s.push_str(&quality::unknown_seriousness(d.conversion, tr));
        if d.inputs.is_empty() {
            s.push_str(&none(
                tr.t("No input tables were recorded.", "没有输入表的记录。"),
            ));
        } else {
            w!(
                s,
                "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th>{}</th></tr></thead><tbody>",
                tr.t("Table", "输入表"),
                tr.t("File", "文件"),
                tr.t("Read", "读取行数"),
                tr.t("Used", "使用"),
                tr.t("Superseded", "被后续版本取代或晚于本期"),
                tr.t("Rejected", "拒收"),
                tr.t("Rejected share", "拒收比例"),
                tr.t("Accounted for", "行数核对")
            );
            let mut tot = [0u64; 4];
            for t in d.inputs {
                tot[0] += t.read;
                tot[1] += t.used;
                tot[2] += t.superseded;
                tot[3] += t.rejected;
                s.push_str(&account_row(
                    &format!(
                        "<td>{}</td><td><code>{}</code></td>",
                        escape(t.table),
                        escape(&t.path)
                    ),
                    [t.read, t.used, t.superseded, t.rejected],
                    tr,
                    "",
                ));
            }
            s.push_str(&account_row(
                &format!("<td colspan=\"2\">{}</td>", tr.t("total", "合计")),
                tot,
                tr,
                " class=\"total\"",
            ));
            s.push_str("</tbody></table></div>\n");
            let extra: Vec<String> = d
                .inputs
                .iter()
                .filter(|t| !t.extra_columns.is_empty())
                .map(|t| {
                    let cols: Vec<String> = t
                        .extra_columns
                        .iter()
                        .map(|c| format!("<code>{}</code>", escape(c)))
                        .collect();
                    format!("{}: {}", escape(t.table), cols.join(", "))
                })
                .collect();
            if !extra.is_empty() {
                w!(
                    s,
                    "<p class=\"note\">{} {}</p>\n",
                    tr.t("Extra columns, ignored:", "多余的列（已忽略）："),
                    extra.join("; ")
                );
            }
        }
        s.push_str(&quality::nulled_cells(d.inputs, tr));
        s.push_str(&terms_quality::terms_lines(d.terms, tr));
        s.push_str(&quality::well_documented(
            &frame::rate_rows(d.rates, d.period),
            tr,
        ));
        let rejects = if d.rejects == 0 {
            tr.t(
                "No input line was rejected; rejects.csv holds only its header.",
                "没有拒收的输入行；rejects.csv 只有表头。",
            )
            .to_string()
        } else if tr.is_zh() {
            format!(
                "共 {} 条问题单元格记录（每个问题单元格一行），详见本批次输出目录中的 <code>rejects.csv</code>：文件、行号、列、实际值、期望值，以及处理方式（整行拒收或单元格置空）。",
                int(d.rejects as i64)
            )
        } else {
            format!(
                "{} lines (one per bad cell) are in <code>rejects.csv</code> in this batch's output folder, with the file, line, column, the value found, what was expected, and the action: row rejected or cell nulled.",
                int(d.rejects as i64)
            )
        };
        w!(s, "<p>{rejects}</p>\n</section>\n");
        s
    }
}

/// A row of the row-accounting table: read, used, superseded, rejected, and the check.
fn account_row(head: &str, n: [u64; 4], tr: Tr, attr: &str) -> String {
    let [read, used, superseded, rejected] = n;
    let share = if read > 0 {
        pct(rejected as f64 / read as f64)
    } else {
        DASH.to_string()
    };
    let check = if read == used + superseded + rejected {
        format!("<span class=\"ok\">✓ {}</span>", tr.t("balanced", "一致"))
    } else {
        format!(
            "<span class=\"bad\">✗ {}</span>",
            tr.t(
                "read ≠ used + superseded + rejected",
                "读取 ≠ 使用 + 取代 + 拒收"
            )
        )
    };
    let num = |v: u64| int(i64::try_from(v).unwrap_or(i64::MAX));
    format!(
        "<tr{attr}>{head}<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{share}</td><td>{check}</td></tr>",
        num(read),
        num(used),
        num(superseded),
        num(rejected)
    )
}
