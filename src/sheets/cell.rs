//! One spreadsheet cell as text, Excel dates, and cell references (see the module above).

use calamine::{Data, ExcelDateTime, ExcelDateTimeType};
use chrono::NaiveDate;

/// Excel's column letters for a 0-based column index: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn column_letters(mut index: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// A cell as Excel names it: `Sheet1!C17`, or `'My sheet'!C17` when the sheet's name is
/// not a plain word (Excel quotes such names, doubling a `'` inside).
pub fn cell_ref(sheet: &str, column: u32, row: u32) -> String {
    let plain = !sheet.is_empty()
        && sheet
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && !sheet.starts_with(|c: char| c.is_ascii_digit());
    let name = if plain {
        sheet.to_string()
    } else {
        format!("'{}'", sheet.replace('\'', "''"))
    };
    format!("{name}!{}{row}", column_letters(column))
}

/// The date of an Excel serial number in the 1900 date system (1 = 1900-01-01; Excel's
/// phantom 1900-02-29 is serial 60), the time of day dropped; `None` outside Excel's
/// range (1 to 2958465 = 9999-12-31).
pub fn excel_serial_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let (y, m, d, ..) =
        ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, false).to_ymd_hms_milli();
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
}

/// A text date in one of the styles Chinese exports use: `2025-03-05`, `2025/3/5`,
/// `2025年3月5日` (months and days of one or two digits; a time after a space ignored).
pub fn text_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    let date = value.split([' ', 'T']).next().unwrap_or("");
    let (y, rest) = date.split_at_checked(4)?;
    let y: i32 = y
        .parse()
        .ok()
        .filter(|_| y.bytes().all(|b| b.is_ascii_digit()))?;
    let (sep, end) = match rest.chars().next()? {
        '-' => ('-', ""),
        '/' => ('/', ""),
        '年' => ('月', "日"),
        _ => return None,
    };
    let rest = &rest[rest.chars().next()?.len_utf8()..];
    let rest = rest
        .strip_suffix(end)
        .unwrap_or(if end.is_empty() { rest } else { "" });
    let (m, d) = rest.split_once(sep)?;
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    NaiveDate::from_ymd_opt(y, num(m)?, num(d)?)
}

/// A number as text: whole numbers without a fraction (`3`, not `3.0`).
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// A number in a date column: `YYYYMMDD` written as a number, else an Excel serial date.
fn number_date(f: f64) -> Option<NaiveDate> {
    if f.fract() == 0.0 && (10_000_101.0..=99_991_231.0).contains(&f) {
        let n = f as u32;
        return NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100);
    }
    excel_serial_date(f)
}

/// A cell's value as text (see the module above); `None` for an empty cell or blank text.
/// `date` says that the cell is in a date column.
pub fn cell(c: &Data, date: bool) -> Option<String> {
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let text = match c {
        Data::Empty => return None,
        Data::String(s) => {
            let s = s.trim();
            match text_date(s) {
                Some(d) if date => iso(d),
                _ => s.to_string(),
            }
        }
        Data::Int(i) => match number_date(*i as f64) {
            Some(d) if date => iso(d),
            _ => i.to_string(),
        },
        Data::Float(f) => match number_date(*f) {
            Some(d) if date => iso(d),
            _ => number(*f),
        },
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => match excel_serial_date(dt.as_f64()) {
            Some(d) => iso(d),
            None => number(dt.as_f64()),
        },
        Data::DateTime(dt) => number(dt.as_f64()),
        Data::DateTimeIso(s) => match s.get(..10).and_then(text_date) {
            Some(d) => iso(d),
            None => s.clone(),
        },
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn column_letters_and_cell_refs_read_as_in_excel() {
        let letters: Vec<String> = [0, 2, 25, 26, 27, 51, 52, 701, 702, 16383]
            .iter()
            .map(|i| column_letters(*i))
            .collect();
        // Excel's last column (16384th) is XFD.
        assert_eq!(
            letters,
            ["A", "C", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]
        );
        assert_eq!(cell_ref("Sheet1", 2, 17), "Sheet1!C17");
        assert_eq!(cell_ref("报告", 0, 2), "报告!A2");
        assert_eq!(cell_ref("My sheet", 1, 3), "'My sheet'!B3");
        assert_eq!(cell_ref("Bob's", 0, 1), "'Bob''s'!A1");
    }

    /// Serial numbers checked against Excel's own (DATEVALUE): 1 = 1900-01-01,
    /// 59 = 1900-02-28, 61 = 1900-03-01 (after the phantom 29 February), 45721 = 2025-03-05,
    /// 2958465 = 9999-12-31; a time fraction keeps the day.
    #[test]
    fn excel_serials_are_the_dates_excel_shows() {
        assert_eq!(excel_serial_date(1.0), d(1900, 1, 1));
        assert_eq!(excel_serial_date(59.0), d(1900, 2, 28));
        assert_eq!(excel_serial_date(61.0), d(1900, 3, 1));
        assert_eq!(excel_serial_date(45721.0), d(2025, 3, 5));
        assert_eq!(excel_serial_date(45721.99), d(2025, 3, 5));
        assert_eq!(excel_serial_date(2_958_465.0), d(9999, 12, 31));
        assert_eq!(excel_serial_date(0.0), None);
        assert_eq!(excel_serial_date(2_958_466.0), None);
        assert_eq!(excel_serial_date(f64::NAN), None);
    }

    #[test]
    fn text_dates_in_the_three_styles() {
        for s in [
            "2025-03-05",
            "2025-3-5",
            "2025/3/5",
            "2025/03/05 14:20",
            "2025年3月5日",
            "2025年03月05日",
        ] {
            assert_eq!(text_date(s), d(2025, 3, 5), "{s}");
        }
        for s in [
            "2025.3.5",
            "25/3/5",
            "2025/13/1",
            "2025年3月5",
            "2025-3/5",
            "20250305",
            "",
            "二〇二五年",
            "2025/3/123",
        ] {
            assert_eq!(text_date(s), None, "{s}");
        }
    }

    #[test]
    fn cells_become_text() {
        let date = ExcelDateTime::new(45721.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(
            cell(&Data::DateTime(date), false).as_deref(),
            Some("2025-03-05")
        );
        assert_eq!(
            cell(&Data::Float(45721.0), true).as_deref(),
            Some("2025-03-05")
        );
        assert_eq!(cell(&Data::Float(45721.0), false).as_deref(), Some("45721"));
        assert_eq!(
            cell(&Data::Int(20250305), true).as_deref(),
            Some("2025-03-05")
        );
        assert_eq!(cell(&Data::Float(2.5), false).as_deref(), Some("2.5"));
        assert_eq!(
            cell(&Data::Float(330100.0), false).as_deref(),
            Some("330100")
        );
        assert_eq!(
            cell(&Data::String(" 2025年3月5日 ".into()), true).as_deref(),
            Some("2025-03-05")
        );
        assert_eq!(
            cell(&Data::String("2025/3/5".into()), false).as_deref(),
            Some("2025/3/5"),
            "text outside a date column is kept"
        );
        assert_eq!(
            cell(&Data::String("不详".into()), true).as_deref(),
            Some("不详"),
            "left for the column's check to refuse"
        );
        assert_eq!(cell(&Data::String("  ".into()), false), None);
        assert_eq!(cell(&Data::Empty, true), None);
        assert_eq!(
            cell(&Data::Error(calamine::CellErrorType::NA), false).as_deref(),
            Some("#N/A")
        );
        assert_eq!(cell(&Data::Bool(true), false).as_deref(), Some("true"));
    }
}
