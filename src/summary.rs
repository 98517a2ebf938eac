//! The paragraph printed at the end of a run, and the report of `pvwatch validate`, in
//! English or Chinese.

use crate::config::Lang;
use crate::progress::thousands;
use crate::{RunSummary, ValidateSummary};

fn secs(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

/// One paragraph: what ran, the row accounting, the headline rates, where outputs are.
/// Reopened alerts and those a decision kept quiet, when there are any (so that a run
/// without topics reads as before).
fn decisions_note(s: &RunSummary, lang: Lang) -> String {
    let (reopened, suppressed) = (s.alerts.by_status[1], s.alerts.suppressed_by_decision);
    if reopened + suppressed == 0 {
        return String::new();
    }
    match lang {
        Lang::En => format!(
            ", {} reopened, {} not raised by a reviewer's decision (manifest.json: alerts.suppressed_alerts)",
            thousands(reopened),
            thousands(suppressed)
        ),
        Lang::Zh => format!(
            "，重新开启 {} 条，因复核结论不再提示 {} 条（见 manifest.json 的 alerts.suppressed_alerts）",
            thousands(reopened),
            thousands(suppressed)
        ),
    }
}

pub fn run_paragraph(s: &RunSummary, lang: Lang) -> String {
    let n = thousands;
    let rejects = s.output.join("rejects.csv");
    let nulled: u64 = s.inputs.iter().flat_map(|t| t.nulled_cells.values()).sum();
    let paragraph = match lang {
        Lang::En => format!(
            "pvwatch: pipeline `{}` for {} finished in {} s. Read {} rows from {} tables: {} used, \
             {} superseded (older case versions, or received after the period), {} rejected ({}){}. \
             {} first received in \
             the period; rates: {} region × class rows, {} of {} with a target on track; signals: {} \
             watched product × event pairs, {} flagged; alerts: {} open (P0 {}, P1 {}, P2 {}, P3 {}), {} new, \
             {} escalated, {} resolved{}. Outputs: {}",
            s.pipeline,
            s.period,
            secs(s.timings.total_ms),
            n(s.rows.read),
            s.inputs.len(),
            n(s.rows.used),
            n(s.rows.superseded),
            n(s.rows.rejected),
            if s.rows.rejected + nulled == 0 {
                "none".to_string()
            } else {
                format!("see {}", rejects.display())
            },
            match nulled {
                0 => String::new(),
                1 => ", and 1 unreadable optional value nulled in a kept row".to_string(),
                k => format!(", and {} unreadable optional values nulled in kept rows", n(k)),
            },
            match s.rates.cases_in_period {
                1 => "1 case was".to_string(),
                k => format!("{} cases were", n(k)),
            },
            n(s.rates.rows),
            s.rates.on_track,
            s.rates.with_target,
            n(s.signals.watched_pairs),
            n(s.signals.signals),
            n(s.alerts.open_by_priority.iter().sum()),
            n(s.alerts.open_by_priority[0]),
            n(s.alerts.open_by_priority[1]),
            n(s.alerts.open_by_priority[2]),
            n(s.alerts.open_by_priority[3]),
            n(s.alerts.by_status[0]),
            n(s.alerts.by_status[2]),
            n(s.alerts.by_status[4]),
            decisions_note(s, lang)
                + if s.alerts.previous_skipped {
                    " (previous run not read, --no-previous: statuses as in a first batch)"
                } else {
                    ""
                },
            s.output.display(),
        ),
        Lang::Zh => format!(
            "pvwatch：流水线 `{}`（{}）运行完成，用时 {} 秒。读取 {} 个表共 {} 行：使用 {} 行，\
             被跟踪报告替代或晚于本期收到 {} 行，拒收 {} 行（{}）{}。本期首次收到病例 {} 例；报告率共 {} 行（地区 × 类别），\
             有目标的 {} 行中 {} 行达标；信号检测：重点监测产品 × 不良事件组合 {} 个，其中提示信号 {} 个；预警：未关闭 {} 条（P0 {}，P1 {}，P2 {}，P3 {}），\
             新增 {} 条，升级 {} 条，解除 {} 条{}。输出目录：{}",
            s.pipeline,
            s.period,
            secs(s.timings.total_ms),
            s.inputs.len(),
            n(s.rows.read),
            n(s.rows.used),
            n(s.rows.superseded),
            n(s.rows.rejected),
            if s.rows.rejected + nulled == 0 {
                "无".to_string()
            } else {
                format!("见 {}", rejects.display())
            },
            match nulled {
                0 => String::new(),
                k => format!("，另有 {} 个无法识别的可选字段值已置空、所在行保留", n(k)),
            },
            n(s.rates.cases_in_period),
            n(s.rates.rows),
            s.rates.with_target,
            s.rates.on_track,
            n(s.signals.watched_pairs),
            n(s.signals.signals),
            n(s.alerts.open_by_priority.iter().sum()),
            n(s.alerts.open_by_priority[0]),
            n(s.alerts.open_by_priority[1]),
            n(s.alerts.open_by_priority[2]),
            n(s.alerts.open_by_priority[3]),
            n(s.alerts.by_status[0]),
            n(s.alerts.by_status[2]),
            n(s.alerts.by_status[4]),
            decisions_note(s, lang)
                + if s.alerts.previous_skipped {
                    "（未读取上一期输出，--no-previous：按首批计算状态）"
                } else {
                    ""
                },
            s.output.display(),
        ),
    };
    paragraph + &unknown_seriousness(s, lang) + &prior_notes(s, lang)
}

/// One line per class whose EBGM does not use the prior fitted to its own pairs, saying
/// which prior it uses and why; empty when every class uses its own fit.
fn prior_notes(s: &RunSummary, lang: Lang) -> String {
    s.signals
        .priors
        .iter()
        .filter(|p| p.ebgm_prior != crate::signals::PriorKind::Fitted)
        .map(|p| format!("\n{}", p.sentence(lang)))
        .collect()
}

/// A sentence when the converted source left seriousness unknown (a FAERS OUTC file
/// missing and allowed to be, E2B reactions without criteria); empty otherwise.
fn unknown_seriousness(s: &RunSummary, lang: Lang) -> String {
    let Some(c) = s.conversion.as_ref().filter(|c| c.serious_unknown > 0) else {
        return String::new();
    };
    let n = thousands(c.serious_unknown);
    let files: Vec<String> = c
        .missing_files
        .iter()
        .map(|m| match lang {
            Lang::En => format!("FAERS {} file missing ({})", m.part, m.path),
            Lang::Zh => format!("缺少 FAERS {} 文件（{}）", m.part, m.path),
        })
        .collect();
    match (lang, files.is_empty()) {
        (Lang::En, false) => format!(
            "\nSeriousness and death unknown (null) for {n} report versions: {}, allowed by the source's allow_missing; rates and alerts count them as neither serious nor fatal.",
            files.join("; ")
        ),
        (Lang::En, true) => format!(
            "\nSeriousness unknown (null) for {n} report versions of the source (no seriousness criterion stated); rates and alerts count them as not serious."
        ),
        (Lang::Zh, false) => format!(
            "\n{n} 个报告版本的严重程度和死亡情况未知（为空）：{}，经 allow_missing 允许；报告率和预警按非严重、非死亡计。",
            files.join("；")
        ),
        (Lang::Zh, true) => format!(
            "\n源数据中 {n} 个报告版本未说明严重性标准，严重程度未知（为空）；报告率和预警按非严重计。"
        ),
    }
}

/// Pad to `width` terminal columns; CJK characters take two.
fn pad(s: &str, width: usize, right: bool) -> String {
    let w: usize = s
        .chars()
        .map(|c| if c as u32 >= 0x2E80 { 2 } else { 1 })
        .sum();
    let fill = " ".repeat(width.saturating_sub(w));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// The validate report: one line per input with its accounting, then the first rejects.
pub fn validate_report(s: &ValidateSummary, lang: Lang) -> String {
    const SHOWN: usize = 20;
    let mut out = String::new();
    let (ok, labels) = match lang {
        Lang::En => (
            "ok",
            ["table", "read", "used", "superseded", "rejected", "file"],
        ),
        Lang::Zh => ("通过", ["表", "读取", "使用", "被替代", "拒收", "文件"]),
    };
    out.push_str(&format!(
        "{} {} {} {} {}  {}\n",
        pad(labels[0], 15, false),
        pad(labels[1], 11, true),
        pad(labels[2], 11, true),
        pad(labels[3], 12, true),
        pad(labels[4], 11, true),
        labels[5]
    ));
    for t in &s.inputs {
        out.push_str(&format!(
            "{:<15} {:>11} {:>11} {:>12} {:>11}  {}\n",
            t.table,
            thousands(t.read),
            thousands(t.used),
            thousands(t.superseded),
            thousands(t.rejected),
            t.path
        ));
        if !t.extra_columns.is_empty() {
            let label = match lang {
                Lang::En => "ignored extra columns",
                Lang::Zh => "忽略的多余列",
            };
            out.push_str(&format!(
                "                {label}: {}\n",
                t.extra_columns.join(", ")
            ));
        }
    }
    if !s.unknown_regions.is_empty() {
        let shown: Vec<String> = s
            .unknown_regions
            .iter()
            .map(|(code, n)| format!("{code} ({})", thousands(*n)))
            .collect();
        let label = match lang {
            Lang::En => "region codes with no GB/T 2260 name (shown as codes; cases): ",
            Lang::Zh => "GB/T 2260 中无名称的地区代码（按代码显示；病例数）：",
        };
        out.push_str(&format!("{label}{}\n", shown.join(", ")));
    }
    let label = match lang {
        Lang::En => "reject: ",
        Lang::Zh => "拒收：",
    };
    for r in s.rejects.iter().take(SHOWN) {
        let line = crate::reject_text::reject_line(r, lang);
        out.push_str(&format!("{label}{line}\n"));
    }
    if s.rejects.len() > SHOWN {
        let more = thousands((s.rejects.len() - SHOWN) as u64);
        out.push_str(&match lang {
            Lang::En => format!("… and {more} more rejects (all are in the run's rejects.csv)\n"),
            Lang::Zh => format!("…… 另有 {more} 条拒收（运行后全部列于 rejects.csv）\n"),
        });
    }
    out.push_str(&format!("pvwatch: `{}`: {ok}", s.pipeline));
    out
}
