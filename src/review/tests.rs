use polars::prelude::*;

use super::*;
use crate::alerts::model::Kind;
use crate::schema::col;
use crate::signals::{counts, out};

const IDS: [&str; 7] = [
    "summary",
    "attainment",
    "alerts",
    "signals",
    "screening",
    "changes",
    "quality",
];
const EVIL: &str = "<script>alert(1)</script>";
const QUOTES: &str = r#""&'"#;

fn alert(id: &str, priority: Priority, status: Status, kind: Kind) -> Alert {
    Alert {
        period: "2025".into(),
        first_period: "2025".into(),
        product_id: Some("D004".into()),
        product_name: Some("盐酸二甲双胍片".into()),
        event: Some("Lactic acidosis".into()),
        region: Some("330000".into()),
        rule: "ebgm.eb05 >= 2".into(),
        threshold: 2.0,
        value: 3.41,
        ..Alert::example(id, kind, priority, status)
    }
}

/// Four provinces × two classes, four of them with a target, plus city rows that the
/// chart must leave out.
fn rates() -> DataFrame {
    df!(
        col::PERIOD => ["2025"; 10],
        col::LEVEL => ["province", "province", "province", "province", "province", "province", "province", "province", "city", "city"],
        col::REGION => ["310000", "330000", "370000", "140000", "310000", "330000", "370000", "140000", "330100", "330200"],
        col::REGION_NAME => [Some("上海市"), Some("浙江省"), Some("山东省"), None, Some("上海市"), Some("浙江省"), Some("山东省"), None, Some("杭州市"), Some("宁波市")],
        col::CLASS => ["drug", "drug", "drug", "drug", "device", "device", "device", "device", "drug", "drug"],
        col::REPORTS => [1471i64, 2743, 1070, 716, 200, 300, 150, 90, 900, 700],
        col::ANNUALIZED_PER_MILLION => [Some(59.3), Some(41.1), Some(10.6), None, Some(8.1), Some(4.5), Some(1.5), None, Some(71.3), Some(72.0)],
        col::TARGET_PER_MILLION => [Some(1500.0), Some(1000.0), None, None, Some(400.0), Some(400.0), Some(400.0), Some(400.0), Some(1000.0), Some(1000.0)],
        col::ATTAINMENT => [Some(0.0395), Some(0.0411), None, None, Some(0.02), Some(0.011), Some(0.004), None, Some(0.07), Some(0.07)],
        col::ON_TRACK => [Some(false), Some(false), None, None, Some(false), Some(false), Some(false), None, Some(false), Some(false)],
        col::WELL_DOCUMENTED => [1000i64, 2000, 500, 300, 100, 150, 75, 45, 600, 500],
        col::NULL_REASON => [None, None, Some("no target for `drug` in region `370000`"), Some("no population for region `140000`"), None, None, None, Some("no population for region `140000`"), None, None],
    )
    .expect("a valid frame")
}

fn signals(n: usize) -> DataFrame {
    let eb05: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.5).collect();
    let ebgm: Vec<f64> = eb05.iter().map(|x| x * 1.4).collect();
    let eb95: Vec<f64> = eb05.iter().map(|x| x * 2.0).collect();
    let names: Vec<String> = (0..n)
        .map(|i| {
            if i == n - 1 {
                EVIL.to_string()
            } else {
                format!("产品{i}")
            }
        })
        .collect();
    let events: Vec<String> = (0..n)
        .map(|i| {
            if i == n - 1 {
                QUOTES.to_string()
            } else {
                format!("Event {i}")
            }
        })
        .collect();
    df!(
        col::PERIOD => vec!["2025"; n],
        col::CLASS => vec!["drug"; n],
        col::PRODUCT_ID => (0..n).map(|i| format!("D{i:03}")).collect::<Vec<_>>(),
        out::PRODUCT_NAME => names,
        col::EVENT => events,
        counts::A => (0..n).map(|i| 3 + i as i64).collect::<Vec<_>>(),
        counts::EXPECTED => vec![0.8; n],
        out::PRR => vec![Some(4.2); n],
        out::PRR_LOWER => vec![Some(2.1); n],
        out::PRR_UPPER => vec![Some(8.4); n],
        out::ROR => vec![None::<f64>; n],
        out::ROR_NULL_REASON => vec![Some("b = 0, c = 0 and d = 0"); n],
        out::IC025 => vec![0.4; n],
        out::IC975 => vec![2.2; n],
        out::EBGM => ebgm,
        out::EB05 => eb05,
        out::EB95 => eb95,
        out::N_METHODS_FLAGGED => vec![3i64; n],
        out::IS_SIGNAL => (0..n).map(|i| i % 5 != 1).collect::<Vec<_>>(),
    )
    .expect("a valid frame")
}

fn screening() -> DataFrame {
    df!(
        col::PERIOD => ["2025", "2025", "2025"],
        col::CLASS => ["drug", "device", "drug"],
        col::PRODUCT_ID => ["D004", "M002", "D020"],
        out::PRODUCT_NAME => ["盐酸二甲双胍片", EVIL, "注射用紫杉醇"],
        col::INNOVATIVE => [false, true, true],
        col::CONDITIONAL => [false, false, true],
        col::PROCURED => [true, false, false],
        col::HOLDER => [Some("华东示例制药有限公司"), Some(QUOTES), None],
        col::CASES => [120i64, 40, 12],
        col::SERIOUS_CASES => [10i64, 4, 3],
        col::FATAL_CASES => [0i64, 1, 0],
        col::CUMULATIVE_CASES => [230i64, 75, 12],
        col::SIGNALS => [2i64, 1, 0],
        col::SIGNAL_EVENTS => [Some("Lactic acidosis, Diarrhoea"), Some("Device malfunction"), None],
        col::OPEN_ALERTS => [2i64, 3, 0],
        col::P0_ALERTS => [0i64, 1, 0],
        col::PREVIOUS_PERIOD => [Some("2024"), Some("2024"), None],
        col::PREVIOUS_CASES => [Some(115i64), Some(42), None],
        col::CASES_CHANGE => [Some(5i64), Some(-2), None],
        col::PREVIOUS_SIGNALS => [Some(1i64), Some(1), None],
        col::SIGNALS_CHANGE => [Some(1i64), Some(0), None],
        col::TREND => [Some("up"), Some("down"), Some("new")],
    )
    .expect("a valid frame")
}

fn inputs() -> Vec<TableAccount> {
    vec![TableAccount {
        table: "reports",
        path: "sample-data/reports.csv".into(),
        format: "csv",
        size_bytes: 642_563,
        sha256: String::new(),
        read: 7050,
        used: 6000,
        superseded: 1044,
        after_cutoff: 0,
        rejected: 6,
        nulled_cells: [("age_years".to_string(), 2u64)].into_iter().collect(),
        extra_columns: vec![],
    }]
}

fn alerts() -> Vec<Alert> {
    use Kind::*;
    use Priority::*;
    use Status::*;
    let mut evil = alert("a9", P1, Ongoing, NewSignal);
    evil.product_name = Some(EVIL.into());
    evil.event = Some(QUOTES.into());
    evil.message_en = format!("{EVIL} {QUOTES}");
    evil.message_zh = format!("{EVIL} {QUOTES}");
    evil.numbers.insert("eb05".into(), serde_json::json!(2.345));
    evil.numbers.insert("cases".into(), serde_json::json!(1234));
    vec![
        alert("a1", P2, Ongoing, NewSignal),
        alert("a2", P0, Ongoing, FatalReport),
        alert("a3", P2, New, SeriousReport),
        alert("a4", P0, Escalated, Cluster),
        alert("a5", P1, New, StrengthenedSignal),
        alert("a8", P3, Ongoing, RateBelowTarget),
        alert("a6", P0, New, FatalReport),
        alert("a7", P2, Escalated, NewSignal),
        alert("a0", P1, Resolved, NewSignal),
        evil,
    ]
}

fn render(lang: Lang, alerts: &[Alert], n_signals: usize) -> String {
    render_limited(lang, alerts, n_signals, 200)
}

fn render_limited(lang: Lang, alerts: &[Alert], n_signals: usize, page_limit: usize) -> String {
    let (r, s, sc, inp) = (rates(), signals(n_signals), screening(), inputs());
    let data = ReviewData {
        pipeline: "demo",
        period: "2025",
        previous_period: Some("2024"),
        generated_at: "2026-01-05T08:00:00Z",
        alerts,
        rates: &r,
        signals: &s,
        screening: &sc,
        inputs: &inp,
        rejects: 11,
        conversion: None,
        page_limit,
        priors: &[],
        terms: None,
    };
    render_review(&data, lang)
}

/// The text of `<section id="{id}">`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("section {id} is missing"));
    let end = html[start..].find("</section>").expect("section is closed");
    &html[start..start + end]
}

#[test]
fn every_section_is_present_in_both_languages() {
    for lang in [Lang::En, Lang::Zh] {
        let html = render(lang, &alerts(), 8);
        for id in IDS {
            assert_eq!(html.matches(&format!("<section id=\"{id}\">")).count(), 1);
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
    }
    let zh = render(Lang::Zh, &alerts(), 8);
    assert!(zh.contains("<html lang=\"zh-CN\">"));
    assert!(zh.contains("药品不良反应监测 · 信号与预警复核"));
    assert!(zh.contains("上市后风险排查清单"));
    assert!(zh.contains("预警 a6 的说明"), "Chinese message");
    assert!(!zh.contains("message of a6"));
    assert!(zh.contains(Status::New.label_zh()));
    assert!(zh.contains(Kind::FatalReport.label_zh()));
    let en = render(Lang::En, &alerts(), 8);
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("Pharmacovigilance review: signals and alerts"));
    assert!(en.contains("message of a6"));
    assert!(!en.contains("预警 a6 的说明"));
    assert!(en.contains(Kind::FatalReport.label_en()));
}

#[test]
fn alerts_run_from_p0_and_new_or_escalated_first() {
    let html = render(Lang::En, &alerts(), 8);
    let part = section(&html, "alerts");
    let ids: Vec<&str> = part
        .split("<span class=\"id\">")
        .skip(1)
        .map(|s| &s[..s.find('<').expect("closed span")])
        .collect();
    assert_eq!(ids, ["a6", "a4", "a2", "a5", "a9", "a3", "a7", "a1", "a8"]);
    assert!(
        !part.contains(">a0<"),
        "resolved alerts are listed under changes"
    );
    let changes = section(&html, "changes");
    assert!(changes.contains("message of a0"));
    assert!(changes.contains("message of a6"));
    assert!(!changes.contains("message of a2"), "ongoing is no change");
}

/// The ids of the alert cards and rows of a section, in page order.
fn alert_ids(part: &str) -> Vec<&str> {
    part.split("<span class=\"id\">")
        .skip(1)
        .map(|s| &s[..s.find('<').expect("closed span")])
        .collect()
}

#[test]
fn within_a_priority_overdue_alerts_come_first_then_by_due_date() {
    use Kind::*;
    use Priority::*;
    use Status::*;
    let due = |id: &str, p: Priority, st: Status, d: &str, overdue: bool| Alert {
        due_date: Some(d.parse().expect("a date")),
        overdue,
        ..alert(id, p, st, SeriousReport)
    };
    let alerts = vec![
        due("p2-new-later", P2, New, "2025-10-20", false),
        due("p2-new-sooner", P2, New, "2025-10-05", false),
        // Ongoing sorts after new by status, but overdue wins.
        due("p2-overdue-ongoing", P2, Ongoing, "2025-09-01", true),
        due("p2-overdue-older", P2, New, "2025-08-01", true),
        // P0 stays above every P2, overdue or not.
        due("p0-not-overdue", P0, New, "2025-09-30", false),
        due("p0-overdue", P0, New, "2025-09-29", true),
    ];
    for lang in [Lang::En, Lang::Zh] {
        let html = render(lang, &alerts, 8);
        let part = section(&html, "alerts");
        assert_eq!(
            alert_ids(part),
            [
                "p0-overdue",
                "p0-not-overdue",
                "p2-overdue-older",
                "p2-overdue-ongoing",
                "p2-new-sooner",
                "p2-new-later",
            ],
            "{lang:?}"
        );
        let (word, due_word, count) = match lang {
            Lang::En => (
                "overdue\">overdue</span>",
                "due</span> 2025-08-01",
                "(4, 2 overdue)",
            ),
            Lang::Zh => (
                "overdue\">已逾期</span>",
                "截止</span> 2025-08-01",
                "(4，已逾期 2)",
            ),
        };
        assert_eq!(
            part.matches(word).count(),
            3,
            "{lang:?}: one badge per overdue alert"
        );
        assert!(part.contains(due_word), "{lang:?}");
        assert!(
            part.contains(count),
            "{lang:?}: the P2 group counts its overdue"
        );
    }
}

#[test]
fn untrusted_text_is_escaped() {
    for lang in [Lang::En, Lang::Zh] {
        let html = render(lang, &alerts(), 8);
        assert!(!html.contains("<script"), "{lang:?}");
        assert!(!html.contains(QUOTES));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&amp;&#39;"));
        // In the signals table, the forest plot, the screening list and the alert.
        for id in ["signals", "screening", "alerts"] {
            assert!(section(&html, id).contains("&lt;script&gt;"), "{id}");
        }
    }
}

#[test]
fn page_is_self_contained() {
    for lang in [Lang::En, Lang::Zh] {
        let html = render(lang, &alerts(), 25);
        for needle in [
            "http://", "https://", "<script", "<link", "@import", "url(", "src=",
        ] {
            assert!(!html.contains(needle), "{needle} in the page");
        }
        assert!(html.contains("<style>"));
    }
}

#[test]
fn attainment_has_one_bar_per_targeted_row() {
    let html = render(Lang::En, &[], 0);
    let part = section(&html, "attainment");
    // Province rows with a target: 310000 and 330000 drug, four device rows.
    assert_eq!(part.matches("<svg").count(), 1);
    assert_eq!(part.matches("<rect class=\"bar ").count(), 6);
    assert_eq!(part.matches("<rect class=\"bar nodata\"").count(), 1);
    assert_eq!(part.matches("class=\"target\"").count(), 1);
    let chart = &part[part.find("<svg").unwrap()..part.find("</svg>").unwrap()];
    assert!(!chart.contains("杭州市"), "cities are finer than provinces");
    assert!(part.contains("4.0%"), "values are labelled");
    // Without a target: Shandong and Shanxi drugs.
    let without = &part[part.find("Without a target").expect("listed")..];
    assert!(without.contains("山东省 (370000)"));
    assert!(without.contains("140000"));
    assert!(without.contains("no population figure"));
    // Reasons are shown in the page's language, not as the table's English text.
    let zh = render(Lang::Zh, &[], 0);
    let part = section(&zh, "attainment");
    assert!(part.contains("无人口数据") && part.contains("未设定目标"));
    assert!(!part.contains("no population") && !part.contains("no target"));
}

#[test]
fn signals_show_the_twenty_strongest() {
    let html = render(Lang::En, &[], 30);
    let part = section(&html, "signals");
    assert_eq!(part.matches("class=\"point\"").count(), TOP);
    let first = part.find("D029").expect("strongest shown");
    let second = part.find("D028").expect("second shown");
    assert!(first < second, "ordered by EB05, descending");
    assert!(!part.contains("D026"), "not a signal (i % 5 == 1)");
    assert!(part.contains("0.400 – 2.20"), "IC025–IC975 column");
    assert!(part.contains("The 20 strongest of 24 signals"));
}
const TOP: usize = sections::TOP_SIGNALS;

#[test]
fn screening_list_has_trend_arrows() {
    let html = render(Lang::Zh, &alerts(), 3);
    let part = section(&html, "screening");
    assert_eq!(
        part.matches("<tr>").count(),
        4,
        "a header and three products"
    );
    assert!(part.contains("▲ +5"));
    assert!(part.contains("▼ \u{2212}2"));
    assert!(part.contains("▲ 上升"));
    assert!(part.contains("集采中选"));
    // Riskiest first: the product with a P0 alert.
    assert!(part.find("M002").expect("listed") < part.find("D004").expect("listed"));
    let changes = section(&html, "changes");
    assert!(changes.contains("115 → 120"));
    assert!(!changes.contains("D020"), "no previous batch to compare");
}

#[test]
fn quality_accounts_for_every_row() {
    let html = render(Lang::En, &[], 0);
    let part = section(&html, "quality");
    assert!(part.contains("7,050"));
    assert!(part.contains("✓"));
    assert!(part.contains("rejects.csv"));
    assert!(part.contains("11 lines (one per bad cell)"));
    assert!(part.contains("Nulled cells"));
    // Province rows only, so that a city's cases are not counted twice: drug 1471 + 2743 +
    // 1070 + 716 = 6000 cases, 1000 + 2000 + 500 + 300 = 3800 well documented (63.3%);
    // device 740 cases, 370 well documented (50.0%).
    assert!(part.contains("Well-documented cases"));
    assert!(part.contains("<td>Drugs</td><td class=\"n\">6,000</td><td class=\"n\">3,800</td><td class=\"n\">63.3%</td>"), "{part}");
    assert!(part.contains(
        "<td>Medical devices</td><td class=\"n\">740</td><td class=\"n\">370</td><td class=\"n\">50.0%</td>"
    ));
    assert!(part.contains("<td>reports</td><td><code>age_years</code></td><td class=\"n\">2</td>"));
}

#[test]
fn empty_inputs_render() {
    let empty = DataFrame::empty();
    for lang in [Lang::En, Lang::Zh] {
        let data = ReviewData {
            pipeline: "demo",
            period: "2025",
            previous_period: None,
            generated_at: "2026-01-05T08:00:00Z",
            alerts: &[],
            rates: &empty,
            signals: &empty,
            screening: &empty,
            inputs: &[],
            rejects: 0,
            conversion: None,
            page_limit: 200,
            priors: &[],
            terms: None,
        };
        let html = render_review(&data, lang);
        for id in IDS.iter().filter(|id| **id != "summary") {
            assert!(section(&html, id).contains("class=\"none\""), "{id}");
        }
        assert!(section(&html, "summary").contains("<div class=\"count\">0</div>"));
        assert!(!html.contains("NaN"));
    }
}

#[test]
fn frames_with_missing_columns_and_other_types_render() {
    // Counts as Int32 and a frame of another period: cast, and filtered out.
    let rates = df!(
        col::PERIOD => ["2024", "2025"],
        col::REGION => ["330000", "330000"],
        col::CLASS => ["drug", "drug"],
        col::TARGET_PER_MILLION => [1000i32, 1000],
        col::ATTAINMENT => [f64::NAN, 1.25],
        col::ON_TRACK => [true, true],
    )
    .expect("a valid frame");
    let signals =
        df!(out::IS_SIGNAL => [true], out::EB05 => [f64::INFINITY]).expect("a valid frame");
    let screening = df!(col::PRODUCT_ID => ["X1"]).expect("a valid frame");
    let data = ReviewData {
        pipeline: "p",
        period: "2025",
        previous_period: None,
        generated_at: "",
        alerts: &[],
        rates: &rates,
        signals: &signals,
        screening: &screening,
        inputs: &[],
        rejects: 0,
        conversion: None,
        page_limit: 200,
        priors: &[],
        terms: None,
    };
    let html = render_review(&data, Lang::En);
    let part = section(&html, "attainment");
    assert_eq!(part.matches("<rect class=\"bar met\"").count(), 1);
    assert!(part.contains("125.0%"));
    assert!(section(&html, "screening").contains("X1"));
    assert!(!html.contains("NaN") && !html.contains(">inf"));
}

#[test]
fn a_long_priority_is_a_table_in_review_order() {
    let mut many: Vec<Alert> = (0..40)
        .map(|i| {
            let status = [Status::Ongoing, Status::New, Status::Escalated][i % 3];
            let mut a = alert(
                &format!("s{i:02}"),
                Priority::P2,
                status,
                Kind::SeriousReport,
            );
            a.case_id = Some(format!("C{i:06}"));
            a.numbers
                .insert("case_ids".into(), serde_json::json!(["C1", "C2"]));
            a.numbers
                .insert("sentinel_serious_share".into(), serde_json::json!(0.125));
            a.numbers.insert("a".into(), serde_json::json!(5.0));
            a.numbers.insert("eb05".into(), serde_json::json!(2.0625));
            a
        })
        .collect();
    many[0].product_name = Some(EVIL.into());
    many.push(alert(
        "z0",
        Priority::P0,
        Status::Ongoing,
        Kind::FatalReport,
    ));
    let html = render(Lang::En, &many, 0);
    let part = section(&html, "alerts");
    assert_eq!(
        part.matches("<article").count(),
        1,
        "the P0 alert is a card"
    );
    assert_eq!(part.matches("<tr class=\"alert-row").count(), 40);
    let statuses: Vec<&str> = part
        .split("<tr class=\"alert-row ")
        .skip(1)
        .map(|s| &s[..s.find('"').expect("closed class")])
        .collect();
    let first_ongoing = statuses.iter().position(|s| *s == "ongoing").expect("some");
    assert!(statuses[..first_ongoing].iter().all(|s| *s != "ongoing"));
    assert!(statuses[first_ongoing..].iter().all(|s| *s == "ongoing"));
    assert_eq!(first_ongoing, 26, "13 new and 13 escalated first");
    assert!(part.contains("C1, C2") && part.contains("12.5%"));
    assert!(part.contains("</span>5</li>") && part.contains("</span>2.06</li>"));
    assert!(!part.contains("<script"));
}

#[test]
fn cities_have_their_own_attainment_table() {
    let html = render(Lang::En, &[], 0);
    let part = section(&html, "attainment");
    let cities = &part[part.find("id=\"attainment-city\"").expect("a city table")..];
    // Two city rows of the fixture, both drugs with a target of 1,000 and 7% attainment.
    assert!(cities.contains("By city: 2 regions; 0 of 2 targeted rows on track"));
    assert_eq!(cities.matches("<tr><td>").count(), 2);
    assert!(cities.contains("杭州市 (330100)") && cities.contains("宁波市 (330200)"));
    assert!(cities.contains("<span class=\"att below\">7.0%</span>"));
    assert!(cities.contains("71.30 / 1,000"));
    // The province level is the chart, not a second table.
    assert!(!cities.contains("浙江省 (330000)"));
    let zh = render(Lang::Zh, &[], 0);
    let part = section(&zh, "attainment");
    assert!(part.contains("按地市级：2 个地区"));
}

#[test]
fn without_city_rows_there_is_no_city_table() {
    let rates = rates();
    let provinces = rates
        .clone()
        .lazy()
        .filter(col(col::LEVEL).eq(lit("province")))
        .collect()
        .unwrap();
    let rows = frame::rate_rows(&provinces, "2025");
    let html = attainment::attainment(&rows, Tr(Lang::En));
    assert!(!html.contains("attainment-city"));
    assert!(html.contains("<svg"));
}

/// 50,000 open P2 alerts and three P0: each priority lists at most `page_limit`, the
/// first in review order (here: the overdue ones), and says how many more there are and
/// where; the page's size does not grow with the number of alerts.
#[test]
fn page_limit_caps_every_list_and_counts_the_rest() {
    let many = |n: usize| -> Vec<Alert> {
        let mut v: Vec<Alert> = (0..n)
            .map(|i| {
                let mut a = alert(
                    &format!("s{i:06}"),
                    Priority::P2,
                    Status::New,
                    Kind::SeriousReport,
                );
                a.case_id = Some(format!("R{i:06}"));
                a.due_date = chrono::NaiveDate::from_ymd_opt(2025, 12, 1);
                // Exactly 200 overdue, spread among the rest (every 250th of 50,000).
                a.overdue = i % (n / 200) == 0;
                a.numbers.insert("cases".into(), serde_json::json!(1));
                a
            })
            .collect();
        for i in 0..3 {
            v.push(alert(
                &format!("f{i}"),
                Priority::P0,
                Status::New,
                Kind::FatalReport,
            ));
        }
        v
    };
    let big = many(50_000);
    let html = render_limited(Lang::En, &big, 20, 200);
    let part = section(&html, "alerts");
    let p2 = &part[part.find("id=\"alerts-p2\"").unwrap()..];
    assert_eq!(p2.matches("<tr class=\"alert-row").count(), 200);
    assert!(
        p2.contains("(50,000, 200 overdue)"),
        "the heading counts every P2 alert"
    );
    assert!(p2.contains("49,800 more P2 alerts are not listed here"));
    assert!(p2.contains("All 50,000 are in alerts.parquet and alerts.csv"));
    assert!(p2.contains("and in the review app (pvwatch serve)"));
    // The 200 shown are the overdue ones, which come first in review order.
    assert_eq!(p2.matches("class=\"badge p0 overdue\"").count(), 200);
    let p0 = &part[part.find("id=\"alerts-p0\"").unwrap()..part.find("id=\"alerts-p2\"").unwrap()];
    assert_eq!(p0.matches("<article class=\"alert p0").count(), 3);
    assert!(!p0.contains("more P0"), "nothing cut, nothing said");
    let changes = section(&html, "changes");
    assert_eq!(changes.matches("<li title=").count(), 200);
    assert!(changes.contains("49,803 more new alerts are not listed here"));

    let zh = render_limited(Lang::Zh, &big, 20, 200);
    assert!(zh.contains("另有 49,800 条P2预警未在此列出"));

    // Bounded: ten times the alerts, (almost) the same page.
    let small = render_limited(Lang::En, &many(5_000), 20, 200);
    assert!(html.len() < 5 * 1024 * 1024, "page of {} bytes", html.len());
    let growth = html.len().abs_diff(small.len());
    assert!(growth < 1024, "{growth} bytes more for 45,000 more alerts");

    // A lower limit lists fewer.
    let ten = render_limited(Lang::En, &big, 20, 10);
    let part = section(&ten, "alerts");
    assert_eq!(part.matches("<article class=\"alert p2").count(), 10);
    assert!(part.contains("49,990 more P2 alerts"));
}

#[test]
fn a_null_ratio_says_why() {
    let html = render(Lang::En, &[], 3);
    let part = section(&html, "signals");
    // ROR is null in every row of the fixture, with its reason; PRR is complete.
    assert_eq!(
        part.matches("<span class=\"muted why\">undefined: b = 0, c = 0 and d = 0</span>")
            .count(),
        part.matches("<tr><td class=\"n\">").count()
    );
    assert_eq!(
        part.matches("<tr><td class=\"n\">").count(),
        2,
        "two signals of three"
    );
    assert!(!part.contains("no interval"), "PRR is complete");
    let zh = render(Lang::Zh, &[], 3);
    assert!(section(&zh, "signals").contains("无法计算：b = 0, c = 0 且 d = 0"));
    // a = 0: PRR 0 with no interval.
    let cell = sections::ratio_cell(Some(0.0), None, None, Some("a = 0"), Tr(Lang::En));
    assert_eq!(
        cell,
        "0<br><span class=\"muted why\">no interval: a = 0</span>"
    );
    let cell = sections::ratio_cell(Some(0.0), None, None, Some("a = 0"), Tr(Lang::Zh));
    assert!(cell.ends_with("无置信区间：a = 0</span>"));
    // Complete: the reason (χ² alone undefined) is not shown in the ratio's cell.
    let cell = sections::ratio_cell(
        Some(2.0),
        Some(1.0),
        Some(4.0),
        Some("b = 0 and d = 0"),
        Tr(Lang::En),
    );
    assert!(!cell.contains("why"));
}

#[test]
fn a_cluster_window_reads_from_start_to_end() {
    let mut a = alert("c1", Priority::P0, Status::New, Kind::Cluster);
    for (k, v) in [
        ("window_days", serde_json::json!(7)),
        ("window_end", serde_json::json!("2025-03-09")),
        ("window_start", serde_json::json!("2025-03-03")),
        ("cases", serde_json::json!(3)),
    ] {
        a.numbers.insert(k.into(), v);
    }
    let html = render(Lang::En, &[a], 0);
    let part = section(&html, "alerts");
    let at = |s: &str| part.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("window from") < at("window to"));
    assert!(at("2025-03-03") < at("2025-03-09"));
    assert!(at("window to") < at("window (days)"));
    assert!(
        at("cases") < at("window from"),
        "the rest keep their order by name"
    );
}

#[test]
fn reopened_alerts_are_labelled_counted_open_and_listed_as_a_change() {
    let mut reopened = alert("r1", Priority::P2, Status::Reopened, Kind::NewSignal);
    reopened.topic_id = Some(7);
    reopened.topic_state = Some("closed".into());
    let list = vec![
        reopened,
        alert("o1", Priority::P2, Status::Ongoing, Kind::NewSignal),
    ];
    let en = render(Lang::En, &list, 8);
    let zh = render(Lang::Zh, &list, 8);
    // The status badge, in each language.
    assert!(en.contains("<span class=\"badge status reopened\">reopened</span>"));
    assert!(zh.contains("<span class=\"badge status reopened\">重新开启</span>"));
    // Open alerts: the reopened one counts, with the ongoing one.
    assert!(section(&en, "summary")
        .contains("<div class=\"count\">2</div><div class=\"what\">P2 open alerts"));
    assert!(section(&en, "summary").contains("1 new, reopened or escalated"));
    // The changes list has its group.
    let changes = section(&en, "changes");
    assert!(
        changes.contains("Reopened alerts <span class=\"muted\">(1)</span>"),
        "{changes}"
    );
    assert!(section(&zh, "changes").contains("重新开启的预警"));
}

/// With every product watched the screening list has a row per product: it is cut at
/// `alerts.page_limit` like the alert lists, riskiest first, with the rest counted.
#[test]
fn screening_list_and_product_changes_are_cut_at_the_page_limit() {
    let html = render_limited(Lang::En, &alerts(), 3, 1);
    let part = section(&html, "screening");
    assert_eq!(part.matches("<tr>").count(), 2, "a header and one product");
    // M002 has the one P0 alert, so it is the riskiest.
    assert!(part.contains("M002"), "{part}");
    assert!(!part.contains("D004") && !part.contains("D020"));
    assert!(
        part.contains("2 more products are not listed here"),
        "{part}"
    );
    assert!(part.contains("All 3 are in screening.parquet"));
    // Two products changed since the previous batch; the largest change (D004: one more
    // signal) is listed, and the other counted.
    let changes = section(&html, "changes");
    let products = &changes[changes
        .find("Products whose cases or signals changed")
        .expect("the product changes table")..];
    assert!(products.contains("D004"), "{products}");
    assert!(!products.contains("M002"));
    assert!(products.contains("1 more products are not listed here"));

    let zh = render_limited(Lang::Zh, &alerts(), 3, 1);
    assert!(section(&zh, "screening").contains("另有 2 个产品未在此列出"));
    // At the default limit nothing is cut.
    let all = render_limited(Lang::En, &alerts(), 3, 200);
    assert!(!section(&all, "screening").contains("more products"));
}
