//! The `alerts` and `changes` sections: alert cards grouped by priority, and the alerts
//! that are new, reopened, escalated or resolved since the previous batch.

use super::frame::ScreenRow;
use super::html::{escape, int, num, pct, short, Tr, DASH};
use super::{none, open_section, sections, Ctx, PRIORITIES};
use crate::alerts::model::{Alert, Priority, Status};

pub(super) fn status_label(status: Status, tr: Tr) -> &'static str {
    if tr.is_zh() {
        status.label_zh()
    } else {
        status.as_str()
    }
}

pub(super) fn priority_badge(p: Priority) -> String {
    let id = p.as_str();
    format!("<span class=\"badge {}\">{id}</span>", id.to_lowercase())
}

pub(super) fn status_badge(status: Status, tr: Tr) -> String {
    format!(
        "<span class=\"badge status {}\">{}</span>",
        status.as_str(),
        status_label(status, tr)
    )
}

/// The deadline a priority stands for, in words.
pub(super) fn due(p: Priority, tr: Tr) -> String {
    match p.due_days() {
        0 => tr.t("report immediately", "立即报告").to_string(),
        d if tr.is_zh() => format!("{d} 日内"),
        d => format!("within {d} days"),
    }
}

/// Alerts in review order: P0 first; within a priority the overdue first, then by due date
/// (DESIGN.md: "overdue first"), then new, escalated, ongoing, resolved; then by kind and
/// subject, and the id for a stable order.
fn review_order(alerts: &[Alert]) -> Vec<&Alert> {
    let mut v: Vec<&Alert> = alerts.iter().collect();
    v.sort_by(|x, y| {
        (
            x.priority,
            !x.overdue,
            x.due_date.is_none(),
            x.due_date,
            x.status,
            x.kind,
            &x.class,
            &x.product_name,
            &x.event,
        )
            .cmp(&(
                y.priority,
                !y.overdue,
                y.due_date.is_none(),
                y.due_date,
                y.status,
                y.kind,
                &y.class,
                &y.product_name,
                &y.event,
            ))
            .then_with(|| (&x.region, &x.alert_id).cmp(&(&y.region, &y.alert_id)))
    });
    v
}

/// The due date, and an overdue badge when it has passed (as of the data cut-off).
pub(super) fn due_date(a: &Alert, tr: Tr) -> String {
    let Some(d) = a.due_date else {
        return String::new();
    };
    let mut s = format!(
        "<span class=\"due\"><span class=\"muted\">{}</span> {d}</span>",
        tr.t("due", "截止")
    );
    if a.overdue {
        w!(
            s,
            "<span class=\"badge p0 overdue\">{}</span>",
            tr.t("overdue", "已逾期")
        );
    }
    s
}

/// `Alert::numbers` by name, except that a window reads from its start to its end: a
/// cluster's `window_start`, `window_end`, `window_days` in that order.
fn numbers_in_reading_order(a: &Alert) -> Vec<(&String, &serde_json::Value)> {
    fn rank(k: &str) -> (&str, u8) {
        match k {
            "window_start" => ("window", 0),
            "window_end" => ("window", 1),
            "window_days" => ("window", 2),
            other => (other, 0),
        }
    }
    let mut v: Vec<_> = a.numbers.iter().collect();
    v.sort_by(|x, y| rank(x.0).cmp(&rank(y.0)));
    v
}

/// A label for a key of `Alert::numbers`: statistics keep their abbreviations.
fn number_label(key: &str, tr: Tr) -> String {
    let known: Option<(&str, &str)> = match key {
        "prr" | "ror" | "ic" | "ebgm" | "eb05" | "eb95" | "ic025" | "ic975" => None,
        "a" => Some(("a (cases)", "a（病例数）")),
        "expected" => Some(("expected", "期望数")),
        "chi2" => Some(("χ²", "χ²")),
        "ror_lower" => Some(("ROR lower", "ROR 下限")),
        "n_methods_flagged" => Some(("methods flagged", "提示方法数")),
        "eb05_previous" | "previous_eb05" => Some(("previous EB05", "上期 EB05")),
        "ic025_previous" => Some(("previous IC025", "上期 IC025")),
        "fatal" => Some(("fatal", "死亡")),
        "serious" => Some(("serious", "严重")),
        "new" => Some(("new (not in label)", "新的")),
        "received_date" => Some(("first received", "首次收到")),
        "cases" => Some(("cases", "病例数")),
        "case_ids" => Some(("cases", "病例")),
        "regions" => Some(("regions", "地区")),
        "window_start" => Some(("window from", "时间窗起")),
        "window_end" => Some(("window to", "时间窗止")),
        "window_days" => Some(("window (days)", "时间窗（天）")),
        "serious_cases" => Some(("serious cases", "严重病例数")),
        "fatal_cases" => Some(("fatal cases", "死亡病例数")),
        "level" => Some(("level", "层级")),
        "reports" => Some(("reports", "报告数")),
        "population" => Some(("population", "常住人口")),
        "per_million" => Some(("per million", "每百万人口报告数")),
        "annualized_per_million" => Some(("annualised per million", "年化每百万人口报告数")),
        "target_per_million" => Some(("target per million", "目标（每百万人口）")),
        "attainment" => Some(("attainment", "达标率")),
        "sentinel_reports" => Some(("sentinel reports", "哨点医院报告数")),
        "sentinel_new_or_serious_share" => Some((
            "sentinel new-or-serious share",
            "哨点医院新的和严重报告比例",
        )),
        "sentinel_serious_share" => Some(("sentinel serious share", "哨点医院严重报告比例")),
        "new_or_serious_share" => Some(("new-or-serious share", "新的和严重报告比例")),
        "serious_share" => Some(("serious share", "严重报告比例")),
        "new_or_serious_target" => Some(("new-or-serious target", "新的和严重报告比例目标")),
        "serious_target" => Some(("serious target", "严重报告比例目标")),
        "share" => Some(("share", "比例")),
        "target" => Some(("target", "目标")),
        "previous_value" => Some(("previous value", "上期数值")),
        _ => None,
    };
    match known {
        Some((en, zh)) => tr.t(en, zh).to_string(),
        None if key.len() <= 6 && key.chars().all(|c| c.is_ascii_alphanumeric()) => {
            escape(&key.to_uppercase())
        }
        None => escape(&key.replace('_', " ")),
    }
}

/// A value of `Alert::numbers`: shares as percentages, lists joined, flags as yes/no.
fn number_value(key: &str, v: &serde_json::Value, tr: Tr) -> String {
    use serde_json::Value;
    let ratio = key == "attainment"
        || key == "share"
        || key.ends_with("_share")
        || (key.ends_with("_target") && key != "target_per_million");
    match v {
        // Counts arrive as JSON floats (`5.0`): a whole number shows without decimals.
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) if !ratio => int(i),
            (_, Some(f)) if ratio => pct(f),
            (_, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => int(f as i64),
            (_, Some(f)) => num(f),
            _ => escape(&n.to_string()),
        },
        Value::String(s) if key == "level" => escape(&tr.level(s)),
        Value::String(s) => escape(s),
        Value::Bool(b) => tr.yes_no(Some(*b)).to_string(),
        Value::Null => DASH.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(s) => escape(s),
                    other => number_value(key, other, tr),
                })
                .collect();
            parts.join(", ")
        }
        other => escape(&other.to_string()),
    }
}

/// A priority with more alerts than this is shown as a table, one row per alert, so that
/// a batch with hundreds of serious reports stays readable.
const CARD_LIMIT: usize = 25;

impl Ctx<'_, '_> {
    /// Class, product, event, region, batch and case of an alert, as labelled spans.
    fn subject(&self, a: &Alert) -> String {
        let tr = self.tr;
        let mut parts = vec![format!(
            "<span class=\"part\">{}</span>",
            tr.class_html(&a.class)
        )];
        let item = |label: &str, value: String| {
            format!("<span class=\"part\"><span class=\"muted\">{label}</span> {value}</span>")
        };
        match (&a.product_name, &a.product_id) {
            (Some(name), Some(id)) => parts.push(item(
                tr.t("product", "产品"),
                format!("<b>{}</b> ({})", escape(name), escape(id)),
            )),
            (Some(name), None) => parts.push(item(
                tr.t("product", "产品"),
                format!("<b>{}</b>", escape(name)),
            )),
            (None, Some(id)) => parts.push(item(
                tr.t("product", "产品"),
                format!("<b>{}</b>", escape(id)),
            )),
            (None, None) => {}
        }
        if let Some(e) = &a.event {
            parts.push(item(tr.t("event", "不良反应/事件"), escape(e)));
        }
        if let Some(r) = &a.region {
            parts.push(item(tr.t("region", "地区"), self.region(r)));
        }
        if let Some(b) = &a.batch {
            parts.push(item(tr.t("batch", "生产批号"), escape(b)));
        }
        if let Some(c) = &a.case_id {
            parts.push(item(tr.t("case", "病例"), escape(c)));
        }
        format!("<span class=\"subject\">{}</span>", parts.concat())
    }

    fn message<'x>(&self, a: &'x Alert) -> &'x str {
        if self.tr.is_zh() {
            &a.message_zh
        } else {
            &a.message_en
        }
    }

    fn kind(&self, a: &Alert) -> &'static str {
        if self.tr.is_zh() {
            a.kind.label_zh()
        } else {
            a.kind.label_en()
        }
    }

    /// The rule, threshold and value, and the numbers behind the alert.
    fn basis(&self, a: &Alert) -> String {
        let tr = self.tr;
        // In Chinese the rule in words, with the expression (as in alerts.csv) on hover.
        let rule = if tr.is_zh() {
            format!(
                "<span title=\"{}\">{}</span>",
                escape(&a.rule),
                escape(&crate::alerts::rule_text::rule_zh(&a.rule))
            )
        } else {
            format!("<code>{}</code>", escape(&a.rule))
        };
        let mut s = format!(
            "<div class=\"basis\"><span class=\"rule\">{} {rule} · {} <b>{}</b> · {} <b>{}</b>",
            tr.t("Rule", "规则"),
            tr.t("threshold", "阈值"),
            short(a.threshold),
            tr.t("value", "实际值"),
            short(a.value)
        );
        if a.first_period != a.period {
            w!(
                s,
                " · {} {}",
                tr.t("first fired in", "首次触发于"),
                escape(&a.first_period)
            );
        }
        s.push_str("</span>");
        if !a.numbers.is_empty() {
            s.push_str("<ul class=\"numbers\">");
            for (k, v) in numbers_in_reading_order(a) {
                w!(
                    s,
                    "<li><span>{}</span>{}</li>",
                    number_label(k, tr),
                    number_value(k, v, tr)
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
        s
    }

    fn alert_card(&self, a: &Alert) -> String {
        format!(
            "<article class=\"alert {p} {st}\">\n<div class=\"head\">{}{}{}<span class=\"kind\">{}</span><span class=\"id\">{}</span></div>\n<div>{}</div>\n<p class=\"message\">{}</p>\n{}\n</article>\n",
            priority_badge(a.priority),
            status_badge(a.status, self.tr),
            due_date(a, self.tr),
            self.kind(a),
            escape(&a.alert_id),
            self.subject(a),
            escape(self.message(a)),
            self.basis(a),
            p = a.priority.as_str().to_lowercase(),
            st = a.status.as_str(),
        )
    }

    /// One alert as a table row: the same content as a card, denser.
    fn alert_row(&self, a: &Alert) -> String {
        format!(
            "<tr class=\"alert-row {st}\"><td>{}<br>{}</td><td><b>{}</b><br><span class=\"id\">{}</span></td><td>{}<div class=\"message\">{}</div>{}</td></tr>\n",
            status_badge(a.status, self.tr),
            due_date(a, self.tr),
            self.kind(a),
            escape(&a.alert_id),
            self.subject(a),
            escape(self.message(a)),
            self.basis(a),
            st = a.status.as_str(),
        )
    }

    pub(super) fn alerts(&self) -> String {
        let tr = self.tr;
        let mut s = open_section("alerts", tr);
        let ordered = review_order(self.data.alerts);
        let open: Vec<&Alert> = ordered
            .iter()
            .copied()
            .filter(|a| a.status != Status::Resolved)
            .collect();
        if open.is_empty() {
            s.push_str(&none(
                tr.t("No open alerts in this batch.", "本批次没有未关闭的预警。"),
            ));
        }
        for p in PRIORITIES {
            let of_p: Vec<&Alert> = open.iter().copied().filter(|a| a.priority == p).collect();
            if of_p.is_empty() {
                continue;
            }
            let overdue = of_p.iter().filter(|a| a.overdue).count();
            let overdue = match overdue {
                0 => String::new(),
                n if tr.is_zh() => format!("，已逾期 {}", int(n as i64)),
                n => format!(", {} overdue", int(n as i64)),
            };
            w!(
                s,
                "<div class=\"group\" id=\"alerts-{}\"><h3>{} {} <span class=\"muted\">({}{overdue})</span></h3>\n",
                p.as_str().to_lowercase(),
                priority_badge(p),
                due(p, tr),
                int(of_p.len() as i64)
            );
            let total = of_p.len();
            let of_p = &of_p[..total.min(self.data.page_limit)];
            if of_p.len() <= CARD_LIMIT {
                for a in of_p {
                    s.push_str(&self.alert_card(a));
                }
            } else {
                w!(
                    s,
                    "<table class=\"alert-table {}\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>\n",
                    p.as_str().to_lowercase(),
                    tr.t("Status and due date", "状态与截止日期"),
                    tr.t("Kind", "类型"),
                    tr.t("Subject, message and rule", "对象、说明与规则")
                );
                for a in of_p {
                    s.push_str(&self.alert_row(a));
                }
                s.push_str("</tbody></table>\n");
            }
            s.push_str(&self.more(p.as_str(), total, of_p.len()));
            s.push_str("</div>\n");
        }
        let resolved = ordered.len() - open.len();
        if resolved > 0 {
            let note = if tr.is_zh() {
                format!(
                    "另有 {} 条预警本批次已解除，见“与上一批次相比的变化”。",
                    int(resolved as i64)
                )
            } else {
                format!(
                    "{} alerts were resolved in this batch; see “Changes since the last batch”.",
                    int(resolved as i64)
                )
            };
            w!(s, "<p class=\"note\">{}</p>\n", escape(&note));
        }
        s.push_str("</section>\n");
        s
    }

    /// The note under a list cut at `alerts.page_limit`: how many are not shown and where
    /// they are. Empty when nothing was cut.
    fn more(&self, what: &str, total: usize, shown: usize) -> String {
        if shown >= total {
            return String::new();
        }
        let (rest, total, shown) = (
            int((total - shown) as i64),
            int(total as i64),
            int(shown as i64),
        );
        let text = if self.tr.is_zh() {
            format!(
                "另有 {rest} 条{what}预警未在此列出（本页按复核顺序列出前 {shown} 条，上限由 alerts.page_limit 设定）。全部 {total} 条见本页所在文件夹中的 alerts.parquet 与 alerts.csv，或在审评应用中查看（pvwatch serve）。"
            )
        } else {
            format!(
                "{rest} more {what} alerts are not listed here (this page lists the first {shown} in review order; alerts.page_limit sets the limit). All {total} are in alerts.parquet and alerts.csv in this page's folder, and in the review app (pvwatch serve)."
            )
        };
        format!("<p class=\"note more\">{}</p>\n", escape(&text))
    }

    /// One line of the changes lists; the message is in the alerts section (and the
    /// line's tooltip).
    fn change_item(&self, a: &Alert) -> String {
        format!(
            "<li title=\"{}\">{} <b>{}</b> — {}</li>",
            escape(self.message(a)),
            priority_badge(a.priority),
            self.kind(a),
            self.subject(a)
        )
    }

    /// New, reopened, escalated and resolved alerts counted by kind.
    fn change_counts(&self, ordered: &[&Alert]) -> String {
        let tr = self.tr;
        let statuses = [
            Status::New,
            Status::Reopened,
            Status::Escalated,
            Status::Resolved,
        ];
        let mut kinds: Vec<_> = ordered
            .iter()
            .filter(|a| statuses.contains(&a.status))
            .map(|a| a.kind)
            .collect();
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            return String::new();
        }
        let mut s = format!(
            "<table class=\"compact matrix\"><thead><tr><th>{}</th>",
            tr.t("Kind", "类型")
        );
        for st in statuses {
            w!(s, "<th class=\"n\">{}</th>", status_label(st, tr));
        }
        s.push_str("</tr></thead><tbody>");
        for k in kinds {
            let label = if tr.is_zh() {
                k.label_zh()
            } else {
                k.label_en()
            };
            w!(s, "<tr><td>{label}</td>");
            for st in statuses {
                let n = ordered
                    .iter()
                    .filter(|a| a.kind == k && a.status == st)
                    .count();
                w!(s, "<td class=\"n\">{}</td>", int(n as i64));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>\n");
        s
    }

    pub(super) fn changes(&self, screening: &[ScreenRow]) -> String {
        let tr = self.tr;
        let mut s = open_section("changes", tr);
        match self.data.previous_period {
            Some(p) => w!(
                s,
                "<p class=\"note\">{} <b>{}</b></p>\n",
                tr.t("Compared with the batch of", "对比批次："),
                escape(p)
            ),
            None => w!(
                s,
                "<p class=\"note\">{}</p>\n",
                tr.t(
                    "There is no previous batch of this pipeline: every alert is new.",
                    "此流水线没有上一批次，所有预警均为新增。"
                )
            ),
        }
        let ordered = review_order(self.data.alerts);
        s.push_str(&self.change_counts(&ordered));
        let groups = [
            (Status::New, "New alerts", "新增预警"),
            (Status::Reopened, "Reopened alerts", "重新开启的预警"),
            (Status::Escalated, "Escalated alerts", "升级预警"),
            (Status::Resolved, "Resolved alerts", "已解除预警"),
        ];
        for (status, en, zh) in groups {
            let of: Vec<&Alert> = ordered
                .iter()
                .copied()
                .filter(|a| a.status == status)
                .collect();
            w!(
                s,
                "<h3>{} {} <span class=\"muted\">({})</span></h3>\n",
                status_badge(status, tr),
                tr.t(en, zh),
                int(of.len() as i64)
            );
            if of.is_empty() {
                s.push_str(&none(tr.t("None.", "无。")));
            } else {
                let shown = &of[..of.len().min(self.data.page_limit)];
                s.push_str("<ul class=\"changes\">");
                for a in shown {
                    s.push_str(&self.change_item(a));
                }
                s.push_str("</ul>\n");
                s.push_str(&self.more(status_label(status, tr), of.len(), shown.len()));
            }
        }
        s.push_str(&sections::product_changes(
            screening,
            self.data.page_limit,
            tr,
        ));
        s.push_str("</section>\n");
        s
    }
}
