//! The pages' words in English and Chinese: one table, `tr.KEY` in the templates.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::Lang;

const WORDS: &[(&str, &str, &str)] = &[
    ("app", "pvwatch review", "pvwatch 信号审评"),
    ("queue", "Alert queue", "预警队列"),
    ("topics", "Topics", "信号议题"),
    ("rates", "Reporting rates", "报告率"),
    ("screening", "Risk screening list", "上市后风险排查清单"),
    ("login", "Log in", "登录"),
    ("logout", "Log out", "退出"),
    ("name", "Name", "用户名"),
    ("password", "Password", "密码"),
    ("period", "Period", "期间"),
    ("priority", "Priority", "优先级"),
    ("status", "Status", "状态"),
    ("kind", "Kind", "类型"),
    ("region", "Region", "地区"),
    ("class", "Class", "类别"),
    ("product", "Product", "产品"),
    ("event", "Event", "事件"),
    ("soc", "SOC", "系统器官分类"),
    ("assignee", "Assignee", "负责人"),
    ("overdue", "Overdue", "已逾期"),
    ("due_date", "Due", "截止日期"),
    ("sort", "Sort", "排序"),
    ("filter", "Filter", "筛选"),
    ("any", "any", "全部"),
    ("yes", "yes", "是"),
    ("no", "no", "否"),
    ("next_page", "Next page", "下一页"),
    ("first_page", "First page", "第一页"),
    ("total", "matching alerts", "条匹配的预警"),
    ("topic", "Topic", "议题"),
    ("state", "State", "状态"),
    ("outcome", "Outcome", "结论"),
    ("message", "Message", "说明"),
    ("no_alerts", "No alerts match.", "没有匹配的预警。"),
    ("statistics", "Statistics by period", "各期统计量"),
    ("chart", "a, EB05 and IC025 by period", "各期 a、EB05 与 IC025"),
    ("case_series", "Case series", "病例系列"),
    ("cases_of", "cases of period", "病例，期间"),
    ("case", "Case", "病例"),
    ("received", "Received (first / latest)", "收到日期（首次/最近）"),
    ("age", "Age", "年龄"),
    ("sex", "Sex", "性别"),
    ("serious", "Serious", "严重"),
    ("fatal", "Fatal", "死亡"),
    ("batch", "Batch", "批号"),
    ("other_suspects", "Other suspect products", "其他怀疑产品"),
    ("events", "Events", "事件"),
    ("completeness", "Completeness", "完整性"),
    ("history", "History", "历史记录"),
    ("decision", "Record a decision", "记录决定"),
    ("move_to", "Move to", "转为"),
    ("comment", "Comment", "意见"),
    ("rationale", "Rationale", "理由"),
    ("save", "Save", "保存"),
    ("open_topic", "Open a topic for this signal", "为该信号建立议题"),
    ("no_topic", "No topic tracks this signal yet.", "该信号尚无议题。"),
    ("assign", "Assign", "指派"),
    ("change_due", "Change the due date", "修改截止日期"),
    ("reason", "Reason", "原因"),
    ("when", "When", "时间"),
    ("who", "Who", "人员"),
    ("action", "Action", "操作"),
    ("version", "Version", "版本"),
    ("evidence", "Evidence (a, EB05)", "证据（a，EB05）"),
    ("read_only", "You can read only: viewers cannot record decisions.", "只读：查看者不能记录决定。"),
    ("versions", "Versions", "版本"),
    ("versions_note", "Each period's column is the version of the case that period used. Below, every report version received by each period's cut-off (case_versions.parquet); a period written before that file has only the version it used.", "每一列是该期间所用的病例版本。下表列出截至各期间数据截止日收到的全部报告版本（case_versions.parquet）；在该文件之前写出的期间只有其所用版本。"),
    ("report_versions", "Report versions", "报告版本"),
    ("superseded", "Superseded", "已被取代"),
    ("latest_only", "Only the version this period used is published.", "该期间只发布了其所用版本。"),
    ("attainment", "Attainment", "达标率"),
    ("per_million", "Per million (annualized)", "每百万人口（年化）"),
    ("target", "Target", "目标"),
    ("on_track", "On track", "达标"),
    ("reports", "Reports", "报告数"),
    ("population", "Population", "人口"),
    ("level", "Level", "层级"),
    ("cases", "Cases", "病例数"),
    ("signals", "Signals", "信号数"),
    ("open_alerts", "Open alerts", "未结预警"),
    ("trend", "Trend", "趋势"),
    ("holder", "Holder", "持有人"),
    ("opened", "Opened", "建立"),
    ("decided", "Decided", "决定"),
    ("signal", "Signal", "信号"),
    ("none", "none", "无"),
    ("user", "User", "用户"),
    ("role", "Role", "角色"),
    ("all_regions", "all regions", "全部地区"),
    ("well_documented", "well documented", "记录完整"),
    ("series_note", "The statistics count every case of the background (the whole data given); the series lists the cases of the published case table that you may see.", "统计量按全部背景数据计数；病例系列只列出已发布病例表中您有权查看的病例。"),
    ("no_cases", "No cases in your region.", "您的辖区内没有病例。"),
    ("field", "Field", "字段"),
];

/// The words of `lang`, by key.
pub fn table(lang: Lang) -> &'static BTreeMap<&'static str, &'static str> {
    static EN: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    static ZH: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| WORDS.iter().map(|(k, en, _)| (*k, *en)).collect()),
        Lang::Zh => ZH.get_or_init(|| WORDS.iter().map(|(k, _, zh)| (*k, *zh)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_once_in_both_languages() {
        let keys: std::collections::BTreeSet<_> = WORDS.iter().map(|w| w.0).collect();
        assert_eq!(keys.len(), WORDS.len(), "a key is listed twice");
        assert_eq!(table(Lang::En)["queue"], "Alert queue");
        assert_eq!(table(Lang::Zh)["queue"], "预警队列");
    }
}
