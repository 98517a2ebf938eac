use super::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// A workbook with a first sheet `说明` (notes) and a sheet `报告` whose table starts at B3,
/// with an Excel date, a serial number and text dates in its date column.
fn book(path: &Path) {
    let mut wb = Workbook::new();
    let notes = wb.add_worksheet().set_name("说明").unwrap();
    notes.write_string(0, 0, "notes").unwrap();
    let s = wb.add_worksheet().set_name("报告").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in ["report_id", "received_date", "age_years"]
        .iter()
        .enumerate()
    {
        s.write_string(2, 1 + c as u16, *h).unwrap();
    }
    s.write_string(3, 1, "R1").unwrap();
    s.write_datetime_with_format(3, 2, ExcelDateTime::from_ymd(2025, 3, 5).unwrap(), &date)
        .unwrap();
    s.write_number(3, 3, 40.0).unwrap();
    s.write_string(4, 1, "R2").unwrap();
    s.write_number(4, 2, 45722.0).unwrap();
    // Row 6 is empty and left out.
    s.write_string(6, 1, "R3").unwrap();
    s.write_string(6, 2, "2025年3月7日").unwrap();
    s.write_number(6, 3, 0.5).unwrap();
    s.write_string(7, 1, "R4").unwrap();
    s.write_string(7, 2, "2025/3/8").unwrap();
    s.write_string(8, 1, "R5").unwrap();
    s.write_string(8, 2, "unknown").unwrap();
    wb.save(path).unwrap();
}

#[test]
fn a_named_sheet_reads_with_excel_rows_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.xlsx");
    book(&path);
    let t = read_sheet(&path, Some("报告"), &|n| n == "received_date").unwrap();
    assert_eq!(t.sheet, "报告");
    assert_eq!((t.header_row, t.first_column), (3, 1));
    assert_eq!(t.names, ["report_id", "received_date", "age_years"]);
    let rows: Vec<(u32, Vec<Option<&str>>)> = t
        .rows
        .iter()
        .map(|r| (r.row, r.cells.iter().map(Option::as_deref).collect()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (4, vec![Some("R1"), Some("2025-03-05"), Some("40")]),
            (5, vec![Some("R2"), Some("2025-03-06"), None]),
            (7, vec![Some("R3"), Some("2025-03-07"), Some("0.5")]),
            (8, vec![Some("R4"), Some("2025-03-08"), None]),
            (9, vec![Some("R5"), Some("unknown"), None]),
        ]
    );
    assert_eq!(t.cell_ref(1, 9), "报告!C9");

    // Without a name, the first sheet.
    let first = read_sheet(&path, None, &|_| false).unwrap();
    assert_eq!(first.sheet, "说明");
    assert_eq!(first.names, ["notes"]);
}

#[test]
fn missing_sheet_and_corrupt_books_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("book.xlsx");
    book(&path);
    let err = read_sheet(&path, Some("Sheet1"), &|_| false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: no sheet named `Sheet1` (found: `说明`, `报告`)",
            path.display()
        )
    );

    // Cut short: not a zip archive any more.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.xlsx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_sheet(&cut, None, &|_| false).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: not a readable Excel workbook (corrupt, or not the format its extension says)",
            cut.display()
        )),
        "{err}"
    );
    // An encrypted workbook (an OLE compound file, MS-OFFCRYPTO) is refused the same way,
    // end to end: tests/it/report_form.rs.
}
