//! Writes the synthetic national report-form export (《药品不良反应/事件报告表》, one row per
//! drug × reaction, the form's Chinese headers) that `mappings/adr-report-form.toml` reads:
//! `adr-report-form.xlsx` and the same rows as a GB18030 CSV, `adr-report-form.csv`, as a
//! hospital system or Excel on a Chinese Windows machine writes them.
//!
//!     cargo run --example make_report_form [OUT_DIR]     # default: sample-data
//!
//! Everything is made up: the patients' names, phone numbers, record and identity numbers,
//! reporters, approval numbers and manufacturers are synthetic (the identity numbers do not
//! even have valid check digits). The output is deterministic, so the committed files can
//! be checked against it (tests/it/report_form.rs).
//!
//! 60 cases: 12 with a follow-up (跟踪) report, 4 deaths (one reported on its follow-up),
//! dates in all three styles (an Excel date, `2025/3/5`, `2025年3月5日`; one style per
//! report), and three bad values: a report date that is not a date (2025-02-30: the row is
//! rejected, within the 1% tolerance), a sex of `未知` and an onset of `不详` (both nulled).

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

/// The form's columns, in the order of the export.
const HEADERS: &[&str] = &[
    "报告编码",
    "报告类型",
    "首次/跟踪",
    "报告日期",
    "报告单位类别",
    "行政区划代码",
    "患者姓名",
    "性别",
    "出生日期",
    "年龄",
    "联系方式",
    "病历号/门诊号",
    "身份证号",
    "药品类别",
    "批准文号",
    "商品名称",
    "通用名称",
    "生产厂家",
    "生产批号",
    "用药开始时间",
    "不良反应/事件名称",
    "不良反应/事件发生时间",
    "不良反应/事件的结果",
    "报告人",
    "报告人电话",
    "报告人电子邮箱",
];

/// (approval number, trade name, generic name, manufacturer).
const DRUGS: &[(&str, &str, &str, &str)] = &[
    (
        "国药准字H20990001",
        "示例曲松",
        "注射用头孢曲松钠",
        "浙江示例制药有限公司",
    ),
    (
        "国药准字H20990002",
        "示例沙星",
        "左氧氟沙星注射液",
        "江南样本药业股份有限公司",
    ),
    (
        "国药准字H20990003",
        "示例平",
        "阿莫西林胶囊",
        "华东虚构制药厂",
    ),
    (
        "国药准字J20990004",
        "示例单抗",
        "示例单抗注射液",
        "创新示例生物科技有限公司",
    ),
    (
        "国药准字H20990005",
        "示例洛芬",
        "布洛芬缓释胶囊",
        "华东虚构制药厂",
    ),
];

const EVENTS: &[&str] = &[
    "皮疹",
    "瘙痒",
    "过敏性休克",
    "恶心",
    "头晕",
    "肝功能异常",
    "呼吸困难",
];
const REGIONS: &[&str] = &["330100", "330200", "330300", "310101", "330100"];
const REPORTERS: &[&str] = &["医疗机构", "持有人", "经营企业", "个人", "医疗机构", "其他"];
const SURNAMES: &[&str] = &["赵", "钱", "孙", "李", "周", "吴", "郑", "王"];
const GIVEN: &[&str] = &[
    "一鸣", "思远", "晓红", "建国", "丽华", "子涵", "雨桐", "浩然",
];

/// How a report's dates are written: an Excel date, or text in one of two styles.
#[derive(Clone, Copy)]
enum Style {
    Excel,
    Slash,
    Chinese,
}

/// One row of the export, as text, with the report's date style.
struct Row {
    cells: Vec<String>,
    style: Style,
}

fn date_text(y: i32, m: u32, d: u32, style: Style) -> String {
    match style {
        Style::Excel => format!("{y:04}-{m:02}-{d:02}"),
        Style::Slash => format!("{y}/{m}/{d}"),
        Style::Chinese => format!("{y}年{m}月{d}日"),
    }
}

/// The synthetic cases, expanded to one row per drug × reaction.
fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for case in 0..60u32 {
        let code = format!("3301{:02}2025{:05}", case % 7, 101 + case);
        let style = [Style::Excel, Style::Slash, Style::Chinese][(case % 3) as usize];
        let name = format!(
            "{}{}",
            SURNAMES[(case % 8) as usize],
            GIVEN[((case / 8 + case) % 8) as usize]
        );
        let phone = format!("139{:08}", 57_000_000 + case * 7_919);
        let record = format!("MZ2025{:05}", 4_000 + case * 13);
        let id_card = format!(
            "33010{}19{:02}0{}0{}{:03}X",
            case % 10,
            30 + case,
            1 + case % 9,
            1 + case % 9,
            case
        );
        let sex = if case == 17 {
            "未知"
        } else if case % 2 == 0 {
            "女"
        } else {
            "男"
        };
        let age = 18 + (case * 7) % 70;
        let (birth_y, birth_m, birth_d) = (2025 - age as i32, 1 + case % 12, 1 + case % 28);
        let month = 1 + case % 11;
        let day = 1 + (case * 3) % 27;
        let deaths = [5, 23, 31, 47];
        let serious = deaths.contains(&case) || case % 5 == 0;
        let new = case % 4 == 1;
        let kind = match (new, serious) {
            (true, true) => "新的、严重",
            (true, false) => "新的",
            (false, true) => "严重",
            (false, false) => "一般",
        };
        let region = REGIONS[(case % 5) as usize];
        let reporter = REPORTERS[(case % 6) as usize];
        // Suspect drug: the innovative one (index 3) is in 12 cases, with 过敏性休克 in 5.
        let suspect = if case % 10 < 3 {
            3
        } else {
            (case % 3) as usize
        };
        let mut drugs = vec![(suspect, "怀疑药品")];
        if case % 4 == 2 {
            drugs.push((4, "并用药品"));
        }
        let mut events = vec![
            EVENTS[if suspect == 3 && case % 2 == 0 {
                2
            } else {
                (case % 7) as usize
            }],
        ];
        if case % 6 == 0 {
            events.push(EVENTS[(case as usize + 3) % 7]);
        }
        let versions: &[u32] = if case % 5 == 3 { &[1, 2] } else { &[1] };
        for &version in versions {
            let follow = version == 2;
            let (rm, rd) = if follow {
                (month + 1, day)
            } else {
                (month, day)
            };
            let outcome = if deaths.contains(&case) && (follow || case != 23) {
                "死亡"
            } else if deaths.contains(&case) {
                "未好转"
            } else if follow {
                "好转"
            } else {
                ["痊愈", "好转", "未好转", "不详", "有后遗症"][(case % 5) as usize]
            };
            let mut received = date_text(2025, rm, rd, style);
            if case == 11 {
                received = "2025-02-30".to_string();
            }
            for &(d, role) in &drugs {
                let (approval, trade, generic, maker) = DRUGS[d];
                for ev in &events {
                    let cells = vec![
                        code.clone(),
                        kind.to_string(),
                        if follow { "跟踪" } else { "首次" }.to_string(),
                        received.clone(),
                        reporter.to_string(),
                        region.to_string(),
                        name.clone(),
                        sex.to_string(),
                        date_text(birth_y, birth_m, birth_d, style),
                        age.to_string(),
                        phone.clone(),
                        record.clone(),
                        id_card.clone(),
                        role.to_string(),
                        approval.to_string(),
                        trade.to_string(),
                        generic.to_string(),
                        maker.to_string(),
                        format!("B2501{:02}", (case + d as u32) % 9),
                        date_text(2025, month, day.max(2) - 1, style),
                        ev.to_string(),
                        if case == 29 {
                            "不详".to_string()
                        } else {
                            date_text(2025, month, day, style)
                        },
                        outcome.to_string(),
                        format!("{}医生", SURNAMES[((case + 3) % 8) as usize]),
                        format!("0571-8{:07}", 6_000_000 + case * 101),
                        format!("reporter{case:02}@hospital.example"),
                    ];
                    out.push(Row { cells, style });
                }
            }
        }
    }
    out
}

/// The date columns, written as Excel dates in reports of the Excel style.
fn is_date_column(i: usize) -> bool {
    matches!(
        HEADERS[i],
        "报告日期" | "出生日期" | "用药开始时间" | "不良反应/事件发生时间"
    )
}

fn write_xlsx(path: &Path, rows: &[Row]) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time, so that the file is the same on every run.
    let created = ExcelDateTime::from_ymd(2025, 12, 31)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let sheet = wb.add_worksheet().set_name("报告表")?;
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.cells.iter().enumerate() {
            let c = c as u16;
            if v.is_empty() {
                continue;
            }
            let excel_date = matches!(row.style, Style::Excel) && is_date_column(c as usize);
            match ExcelDateTime::parse_from_str(v) {
                Ok(d) if excel_date => {
                    sheet.write_datetime_with_format(r, c, d, &date)?;
                }
                _ if HEADERS[c as usize] == "年龄" => {
                    sheet.write_number(r, c, v.parse::<f64>().unwrap_or_default())?;
                }
                _ => {
                    sheet.write_string(r, c, v)?;
                }
            }
        }
    }
    wb.save(path)
}

fn write_csv(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let mut text = String::new();
    text.push_str(&HEADERS.join(","));
    text.push_str("\r\n");
    for row in rows {
        text.push_str(&row.cells.join(","));
        text.push_str("\r\n");
    }
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable, "every character has a GB18030 code");
    std::fs::write(path, bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("sample-data"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    let rows = rows();
    write_xlsx(&dir.join("adr-report-form.xlsx"), &rows)?;
    write_csv(&dir.join("adr-report-form.csv"), &rows)?;
    println!(
        "wrote {} rows to {}/adr-report-form.xlsx and .csv (GB18030)",
        rows.len(),
        dir.display()
    );
    Ok(())
}
