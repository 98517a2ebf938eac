//! Flat exports → canonical tables: a CSV file (UTF-8, an Excel byte-order mark allowed)
//! with one row per case × product × event and its own column names, read through a
//! [`Mapping`] of canonical columns to source headers and of source values to canonical
//! values (`严重` → `true`, `男` → `M`, `怀疑` → `suspect`).
//!
//! Rows are grouped by `report_id` into one report, its products and its events
//! (exact duplicates within a report are written once). Report-level values (the
//! `reports` columns) must agree on every row of a report: a row that disagrees with the
//! first row of its report is rejected, naming that line. A bad cell (after value mapping)
//! in a column the row needs (`report_id`, `received_date`, the product, `event`, `class`,
//! `region`) rejects the row, naming the source header; a bad cell in an optional column
//! is nulled and the row kept, with a `cell nulled` line. An unreadable `version` is
//! nulled when the case has one version, else the report is rejected with all its rows.
//! Every mapped header must be in the file; a missing one is an error naming the file,
//! the header and the headers found.
//!
//! `region` and `class` default to the options' region and class when not mapped.
//!
//! Dates are plausible from 1968-01-01 to today ([`crate::plausible`]): a received date
//! outside that rejects the row (it is the key), any other date outside it (the onset)
//! is nulled with a note.

use std::fs::File;
use std::path::Path;

use super::model::{Builder, Report};
use super::Options;
use crate::accounting::excerpt;
use crate::config::mapping::{Mapping, Target};
use crate::config::parse_bool;
use crate::error::{Error, Result};
use crate::period::{epoch_days, from_epoch_days};
use crate::plausible::Plausible;
use crate::records::encoding::{open_utf8, Encoding};
use crate::records::{CsvRecords, Next, Refused};
use crate::schema::{col, Kind};
use crate::sheets::SheetTable;

/// A typed canonical value.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Enum(&'static str),
    Bool(bool),
    Int(i64),
    Float(f64),
    Date(i32),
}

fn parse_cell(kind: Kind, v: &str, mapping: &Mapping) -> Option<Cell> {
    Some(match kind {
        Kind::Text => Cell::Text(v.to_string()),
        Kind::Region => Cell::Text(crate::schema::is_region_code(v).then(|| v.to_string())?),
        Kind::Enum(allowed) => Cell::Enum(allowed.iter().find(|a| a.eq_ignore_ascii_case(v))?),
        Kind::Bool => Cell::Bool(parse_bool(v)?),
        Kind::Int { min, max } => Cell::Int(v.parse().ok().filter(|x| (min..=max).contains(x))?),
        Kind::Float { min, max } => Cell::Float(
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= min && *x <= max)?,
        ),
        // `YYYY-MM-DD` always reads: a workbook's date cells arrive in it.
        Kind::Date => Cell::Date(epoch_days(
            mapping
                .date_formats
                .iter()
                .find_map(|f| f.date(v))
                .or_else(|| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())?,
        )),
    })
}

/// The typed cells of one row, in the mapping's column order.
struct Row {
    cells: Vec<Option<Cell>>,
}

impl Row {
    fn get(&self, m: &Mapping, name: &str) -> Option<&Cell> {
        let i = m.columns.iter().position(|(t, _)| t.spec.name == name)?;
        self.cells[i].as_ref()
    }

    fn text(&self, m: &Mapping, name: &str) -> Option<String> {
        match self.get(m, name)? {
            Cell::Text(s) => Some(s.clone()),
            Cell::Enum(s) => Some(s.to_string()),
            Cell::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    fn enumerated(&self, m: &Mapping, name: &str) -> Option<&'static str> {
        match self.get(m, name)? {
            Cell::Enum(s) => Some(s),
            _ => None,
        }
    }

    fn boolean(&self, m: &Mapping, name: &str) -> Option<bool> {
        match self.get(m, name)? {
            Cell::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

pub fn convert(src: &Path, opts: &Options, b: &mut Builder) -> Result<()> {
    let mapping = opts.mapping.as_ref().ok_or_else(|| {
        Error::input(
            src,
            "a flat export needs a column mapping (--mapping FILE, or `mapping`/`columns` in the pipeline's source)",
        )
    })?;
    if let Some(problem) = crate::readable::problem(src, crate::readable::Expect::File) {
        return Err(Error::input(src, format!("expected a CSV file: {problem}")));
    }
    let file = b.add_file(src, "flat")?;
    let mut rows = if crate::sheets::is_spreadsheet(src) {
        let dates: Vec<&str> = mapping
            .columns
            .iter()
            .filter(|(t, _)| t.spec.kind == Kind::Date)
            .map(|(_, h)| h.as_str())
            .collect();
        let table =
            crate::sheets::read_sheet(src, mapping.sheet.as_deref(), &|h| dates.contains(&h))?;
        b.set_sheet_table(file, &table);
        SourceRows::Sheet { table, next: 0 }
    } else {
        let text = open_utf8(src, mapping.encoding)?;
        b.set_encoding(file, text.encoding);
        // Bounded records, every physical line accounted for (see `records`).
        let mut records = CsvRecords::new(text.file);
        let header_line = match records.next(None).map_err(|e| Error::io(src, e))? {
            Some(Next::Record { line }) => line,
            Some(Next::Refused(r)) => {
                return Err(Error::input(src, format!("header: {}", r.message())))
            }
            None => return Err(Error::input(src, "empty file: expected a header row")),
        };
        let mut names = Vec::with_capacity(records.len());
        for i in 0..records.len() {
            let h = std::str::from_utf8(records.field(i)).map_err(|_| {
                Error::input(
                    src,
                    format!(
                        "line {header_line}: header field {} is not {} text",
                        i + 1,
                        text.encoding.name()
                    ),
                )
            })?;
            names.push(
                if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                }
                .trim()
                .to_string(),
            );
        }
        SourceRows::Csv {
            records: Box::new(records),
            names,
            encoding: text.encoding,
        }
    };
    let names = rows.names().to_vec();
    let mut positions = Vec::with_capacity(mapping.columns.len());
    for (t, h) in &mapping.columns {
        let Some(i) = names.iter().position(|n| n == h) else {
            let found: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            return Err(Error::input(
                src,
                format!(
                    "{}missing column `{h}`, mapped to `{}` (found: {})",
                    rows.place(),
                    t.spec.name,
                    excerpt(&found.join(", "))
                ),
            ));
        };
        positions.push(i);
    }
    let dropped: Vec<String> = mapping
        .personal
        .iter()
        .filter(|h| names.contains(h))
        .cloned()
        .collect();
    b.set_personal_dropped(file, dropped);
    // A row refused while reading is quoted in its reject, unless the export holds
    // personal data: then its raw text (which may hold a name) is withheld.
    let withhold = !mapping.personal.is_empty();

    let plausible = opts.plausible();
    // First line of each report, by report index, to explain conflicts.
    let mut first_line: Vec<u64> = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = match rows.next(&mut record).map_err(|e| Error::io(src, e))? {
            None => break,
            Some(Ok(line)) => line,
            Some(Err(r)) => {
                b.read(file, 1);
                let found = if withhold {
                    "(withheld: the export holds personal data)".to_string()
                } else {
                    r.found()
                };
                b.reject(file, r.line, "", found, r.expected(Some(names.len())));
                continue;
            }
        };
        b.read(file, 1);
        if record.len() != names.len() {
            let found = format!("{} fields", record.len());
            b.reject(
                file,
                line,
                "",
                found,
                format!("{} fields, as in the header", names.len()),
            );
            continue;
        }
        let encoding = rows.encoding();
        let (row, nulled) = match read_row(&record, &positions, mapping, opts, &plausible, encoding)
        {
            Ok(row) => row,
            Err((header, found, expected)) => {
                b.reject(file, line, &header, found, expected);
                continue;
            }
        };
        let report = match report_of(&row, mapping, opts) {
            Ok(r) => r,
            Err((header, expected)) => {
                b.reject(file, line, &header, "", expected);
                continue;
            }
        };
        let r = match b.report_index(&report.report_id) {
            Some(r) => {
                if let Some((column, found, was)) = conflict(b.report(r), &report, mapping) {
                    let expected = format!(
                        "the same value as line {} (`{was}`): every row of report `{}` must agree on its report columns",
                        first_line[r as usize], report.report_id
                    );
                    b.reject(file, line, &column, found, expected);
                    continue;
                }
                r
            }
            None => {
                first_line.push(line);
                b.add_report(report)
            }
        };
        let product = row.text(mapping, col::PRODUCT_ID).unwrap_or_default();
        let role = row.enumerated(mapping, col::ROLE);
        let batch = row.text(mapping, col::BATCH);
        b.add_product(r, &product, role, batch.as_deref());
        b.set_product_details(
            &product,
            row.text(mapping, col::HOLDER).as_deref(),
            row.text(mapping, col::APPROVAL_NUMBER).as_deref(),
        );
        let event = row.text(mapping, col::EVENT).unwrap_or_default();
        let onset = match row.get(mapping, col::ONSET_DATE) {
            Some(Cell::Date(d)) => Some(*d),
            _ => None,
        };
        b.add_event(r, &event, onset);
        b.accept_row(file, r, line);
        for (name, header, found, expected) in nulled {
            if name == col::VERSION {
                b.null_version(r, file, line, &header, found, expected);
            } else {
                b.null_cell(file, line, &header, found, expected);
            }
        }
    }
    Ok(())
}

type CellProblem = (String, String, String);
/// A bad optional cell, nulled: (canonical column, source header, found, expected).
type Nulled = (&'static str, String, String, String);

/// Map and type the cells of one record. The first bad cell in a column the row needs
/// rejects the row; bad cells in optional columns are nulled and returned.
fn read_row(
    record: &csv::ByteRecord,
    positions: &[usize],
    mapping: &Mapping,
    opts: &Options,
    plausible: &Plausible,
    encoding: Encoding,
) -> std::result::Result<(Row, Vec<Nulled>), CellProblem> {
    let region_default = opts.region.is_some();
    let mut nulled = Vec::new();
    let mut cells = Vec::with_capacity(positions.len());
    for ((t, header), &i) in mapping.columns.iter().zip(positions) {
        let raw = std::str::from_utf8(&record[i]).map_err(|_| {
            let found = String::from_utf8_lossy(&record[i]).into_owned();
            (header.clone(), found, format!("{} text", encoding.name()))
        })?;
        let mapped = mapping
            .values
            .get(t.spec.name)
            .and_then(|m| m.get(raw))
            .map_or(raw, String::as_str)
            .trim();
        if mapped.is_empty() {
            if is_key(t, region_default) {
                return Err((header.clone(), String::new(), expected(t, mapping)));
            }
            cells.push(None);
            continue;
        }
        match parse_cell(t.spec.kind, mapped, mapping) {
            // A date out of the plausible range: a typo (`9999-12-31`), never a value.
            Some(Cell::Date(d)) if !plausible.contains(from_epoch_days(d)) => {
                let expected = format!("{} for `{}`", plausible.expected(), t.spec.name);
                if is_needed(t) {
                    return Err((header.clone(), raw.to_string(), expected));
                }
                nulled.push((t.spec.name, header.clone(), raw.to_string(), expected));
                cells.push(None);
            }
            Some(c) => cells.push(Some(c)),
            None if is_needed(t) => {
                return Err((header.clone(), raw.to_string(), expected(t, mapping)))
            }
            None => {
                nulled.push((
                    t.spec.name,
                    header.clone(),
                    raw.to_string(),
                    expected(t, mapping),
                ));
                cells.push(None);
            }
        }
    }
    Ok((Row { cells }, nulled))
}

/// The columns whose bad value rejects the row: the keys, and `class` and `region`,
/// which place the report (a default applies to an empty cell, never to a bad one).
fn is_needed(t: &Target) -> bool {
    is_key(t, false) || t.spec.name == col::CLASS
}

/// The columns every row needs a value in (`class` and `region` have defaults).
fn is_key(t: &Target, region_default: bool) -> bool {
    [
        col::REPORT_ID,
        col::RECEIVED_DATE,
        col::PRODUCT_ID,
        col::EVENT,
    ]
    .contains(&t.spec.name)
        || (t.spec.name == col::REGION && !region_default)
}

fn expected(t: &Target, mapping: &Mapping) -> String {
    let what = match t.spec.kind {
        Kind::Date => format!("a date ({})", mapping.date_formats_text()),
        k => k.expected(),
    };
    let mapped = if mapping.values.contains_key(t.spec.name) {
        ", after [values]"
    } else {
        ""
    };
    format!("{what} for `{}`{mapped}", t.spec.name)
}

/// The report a row describes. Fails on a report-level value with no source and no default.
fn report_of(
    row: &Row,
    m: &Mapping,
    opts: &Options,
) -> std::result::Result<Report, (String, String)> {
    let report_id = match row.text(m, col::REPORT_ID) {
        Some(id) => id,
        // No report id mapped: the case id and version (see `Mapping`).
        None => match row.text(m, col::CASE_ID) {
            Some(case) => {
                let version = match row.get(m, col::VERSION) {
                    Some(Cell::Int(v)) => *v,
                    _ => 1,
                };
                format!("{case}#{version}")
            }
            None => return Err((String::new(), "a report_id".to_string())),
        },
    };
    let Some(Cell::Date(date)) = row.get(m, col::RECEIVED_DATE).cloned() else {
        return Err((String::new(), "a received_date".to_string()));
    };
    let region = row
        .text(m, col::REGION)
        .or_else(|| opts.region.clone())
        .ok_or_else(|| {
            (
                String::new(),
                "a region (map `region` or give a default)".to_string(),
            )
        })?;
    Ok(Report {
        case_id: row
            .text(m, col::CASE_ID)
            .unwrap_or_else(|| report_id.clone()),
        version: match row.get(m, col::VERSION) {
            Some(Cell::Int(v)) => Some(*v),
            _ => None,
        },
        received: date,
        class: row.enumerated(m, col::CLASS).unwrap_or(opts.class),
        region,
        reporter_type: row.enumerated(m, col::REPORTER_TYPE),
        sentinel: row.boolean(m, col::SENTINEL),
        is_new: row.boolean(m, col::IS_NEW),
        is_serious: row.boolean(m, col::IS_SERIOUS),
        fatal: row.boolean(m, col::FATAL),
        sex: row.enumerated(m, col::SEX),
        age_years: match row.get(m, col::AGE_YEARS) {
            Some(Cell::Float(a)) => Some(*a),
            _ => None,
        },
        report_id,
    })
}

/// The report-level values of a report as text, by canonical column.
fn report_cells(r: &Report) -> [(&'static str, String); 12] {
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    let flag = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
    [
        (col::CASE_ID, r.case_id.clone()),
        (
            col::VERSION,
            r.version.map(|v| v.to_string()).unwrap_or_default(),
        ),
        (col::RECEIVED_DATE, from_epoch_days(r.received).to_string()),
        (col::CLASS, r.class.to_string()),
        (col::REGION, r.region.clone()),
        (col::REPORTER_TYPE, text(r.reporter_type)),
        (col::SENTINEL, flag(r.sentinel)),
        (col::IS_NEW, flag(r.is_new)),
        (col::IS_SERIOUS, flag(r.is_serious)),
        (col::FATAL, flag(r.fatal)),
        (col::SEX, text(r.sex)),
        (
            col::AGE_YEARS,
            r.age_years.map(|a| a.to_string()).unwrap_or_default(),
        ),
    ]
}

/// The first report-level column on which `new` disagrees with `first`: (source header,
/// value found, value on the first row).
fn conflict(first: &Report, new: &Report, m: &Mapping) -> Option<(String, String, String)> {
    let (name, was, found) = report_cells(first)
        .into_iter()
        .zip(report_cells(new))
        .find(|((_, a), (_, b))| a != b)
        .map(|((name, a), (_, b))| (name, a, b))?;
    let header = m
        .columns
        .iter()
        .find(|(t, _)| t.spec.name == name)
        .map_or(name.to_string(), |(_, h)| h.clone());
    Some((header, found, was))
}

/// The rows of a flat export: CSV records (any encoding, read as UTF-8) or a sheet's rows.
enum SourceRows {
    Csv {
        records: Box<CsvRecords<File>>,
        names: Vec<String>,
        encoding: Encoding,
    },
    Sheet {
        table: SheetTable,
        next: usize,
    },
}

impl SourceRows {
    fn names(&self) -> &[String] {
        match self {
            SourceRows::Csv { names, .. } => names,
            SourceRows::Sheet { table, .. } => &table.names,
        }
    }

    fn encoding(&self) -> Encoding {
        match self {
            SourceRows::Csv { encoding, .. } => *encoding,
            SourceRows::Sheet { .. } => Encoding::Utf8,
        }
    }

    /// Where the header is, for a message: `sheet `报告`: ` or nothing.
    fn place(&self) -> String {
        match self {
            SourceRows::Csv { .. } => String::new(),
            SourceRows::Sheet { table, .. } => format!("sheet `{}`: ", table.sheet),
        }
    }

    /// The next row into `record`, with its line (Excel's row number for a sheet), or a
    /// row refused while reading; `None` at the end. Blank rows are skipped.
    fn next(
        &mut self,
        record: &mut csv::ByteRecord,
    ) -> std::io::Result<Option<std::result::Result<u64, Refused>>> {
        record.clear();
        match self {
            SourceRows::Csv { records, names, .. } => loop {
                match records.next(Some(names.len()))? {
                    None => return Ok(None),
                    Some(Next::Record { .. }) if records.is_blank() => continue,
                    Some(Next::Record { line }) => {
                        for i in 0..records.len() {
                            record.push_field(records.field(i));
                        }
                        return Ok(Some(Ok(line)));
                    }
                    Some(Next::Refused(r)) => return Ok(Some(Err(r))),
                }
            },
            SourceRows::Sheet { table, next } => {
                let Some(row) = table.rows.get(*next) else {
                    return Ok(None);
                };
                *next += 1;
                for c in &row.cells {
                    record.push_field(c.as_deref().unwrap_or("").as_bytes());
                }
                Ok(Some(Ok(u64::from(row.row))))
            }
        }
    }
}
