//! The column and value mapping of a flat export: which source header holds each
//! canonical column, how source values translate to canonical ones, and which date
//! formats the export uses.
//!
//! Written in a mapping file (`--mapping FILE`) or inline in a pipeline's
//! `[inputs.source]`, with the same keys:
//!
//! ```toml
//! date_formats = ["YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD"]   # the default
//! [columns]                       # canonical column = source header
//! report_id = "报告编码"
//! product_name = "怀疑药品"        # or product_id
//! event = "不良反应名称"
//! received_date = "报告日期"
//! [values.is_serious]             # source value = canonical value
//! "严重" = true
//! "一般" = false
//! ```
//!
//! Every problem is collected, with its dotted key, before the mapping is refused.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::error::{ConfigErrors, ConfigProblem, Error, Result};
use crate::schema::{self, ColumnSpec, Kind};

/// The raw mapping, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    pub columns: Option<BTreeMap<String, String>>,
    pub values: Option<BTreeMap<String, BTreeMap<String, toml::Value>>>,
    pub date_formats: Option<Vec<String>>,
    /// Source headers that hold personal data: never read, listed in the manifest as
    /// dropped.
    pub personal: Option<Vec<String>>,
    /// The sheet of a workbook export (default: the first).
    pub sheet: Option<String>,
    /// The encoding of a CSV export (default: detected).
    pub encoding: Option<String>,
}

/// A canonical column that a flat export may fill.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub spec: &'static ColumnSpec,
    /// Whether the column belongs to the report (one value per report) or to its row.
    pub report_level: bool,
}

/// A validated mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// (canonical column, source header), in the canonical tables' order.
    pub columns: Vec<(Target, String)>,
    /// Canonical column → (source value → canonical value, as text).
    pub values: HashMap<&'static str, HashMap<String, String>>,
    pub date_formats: Vec<DateFormat>,
    /// Source headers holding personal data, never read (see [`MappingConfig`]).
    pub personal: Vec<String>,
    pub sheet: Option<String>,
    pub encoding: Option<crate::records::encoding::Encoding>,
}

/// A product registry column a flat export may fill: the approval number (批准文号).
static APPROVAL_NUMBER: ColumnSpec = ColumnSpec {
    name: schema::col::APPROVAL_NUMBER,
    kind: Kind::Text,
    required: false,
};

/// The name a flat mapping may use for `product_id`: names are ids in a flat export.
pub const PRODUCT_NAME: &str = "product_name";
/// Default date formats.
pub const DEFAULT_DATE_FORMATS: &[&str] = &["YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD"];

/// Every canonical column a flat export may map, by key.
fn target(key: &str) -> Option<Target> {
    let key = if key == PRODUCT_NAME {
        schema::col::PRODUCT_ID
    } else {
        key
    };
    if let Some(spec) = schema::REPORTS.column(key) {
        return Some(Target {
            spec,
            report_level: true,
        });
    }
    // The registry's own columns, kept for each product (first row naming it wins).
    if key == schema::col::HOLDER {
        return schema::PRODUCTS.column(key).map(|spec| Target {
            spec,
            report_level: false,
        });
    }
    if key == schema::col::APPROVAL_NUMBER {
        return Some(Target {
            spec: &APPROVAL_NUMBER,
            report_level: false,
        });
    }
    [&schema::REPORT_PRODUCTS, &schema::REPORT_EVENTS]
        .into_iter()
        .find_map(|t| t.column(key))
        .filter(|s| s.name != schema::col::REPORT_ID)
        .map(|spec| Target {
            spec,
            report_level: false,
        })
}

fn keys() -> String {
    let mut all: Vec<&str> = schema::REPORTS.columns.iter().map(|c| c.name).collect();
    all.extend([
        schema::col::PRODUCT_ID,
        PRODUCT_NAME,
        schema::col::ROLE,
        schema::col::BATCH,
        schema::col::EVENT,
        schema::col::ONSET_DATE,
        schema::col::HOLDER,
        schema::col::APPROVAL_NUMBER,
    ]);
    all.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One part of a date format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DatePart {
    Year,
    Month,
    Day,
    Literal(char),
}

/// A date format such as `YYYY/MM/DD`.
#[derive(Debug, Clone, PartialEq)]
pub struct DateFormat {
    pub text: String,
    parts: Vec<DatePart>,
}

impl DateFormat {
    pub fn parse(text: &str) -> Option<DateFormat> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (part, len) = if rest.starts_with("YYYY") {
                (DatePart::Year, 4)
            } else if rest.starts_with("MM") {
                (DatePart::Month, 2)
            } else if rest.starts_with("DD") {
                (DatePart::Day, 2)
            } else {
                let c = rest.chars().next()?;
                if c.is_ascii_alphanumeric() {
                    return None;
                }
                (DatePart::Literal(c), c.len_utf8())
            };
            parts.push(part);
            rest = &rest[len..];
        }
        let count = |p: DatePart| parts.iter().filter(|x| **x == p).count();
        (count(DatePart::Year) == 1 && count(DatePart::Month) == 1 && count(DatePart::Day) == 1)
            .then(|| DateFormat {
                text: text.to_string(),
                parts,
            })
    }

    /// Parse a date; a time after a space or `T` is ignored. Months and days may have one
    /// digit in a format with separators (`2024/3/9`), never in a compact one (`YYYYMMDD`).
    pub fn date(&self, value: &str) -> Option<chrono::NaiveDate> {
        let value = value.split([' ', 'T']).next().unwrap_or("");
        let (mut y, mut m, mut d) = (None, None, None);
        let mut rest = value;
        let compact = !self.parts.iter().any(|p| matches!(p, DatePart::Literal(_)));
        for (i, part) in self.parts.iter().enumerate() {
            let next_is_digits = matches!(
                self.parts.get(i + 1),
                Some(DatePart::Year | DatePart::Month | DatePart::Day)
            );
            let used = match part {
                DatePart::Literal(c) => {
                    if !rest.starts_with(*c) {
                        return None;
                    }
                    c.len_utf8()
                }
                _ => {
                    let (max, exact) = if *part == DatePart::Year {
                        (4, true)
                    } else {
                        (2, compact || next_is_digits)
                    };
                    let n = rest
                        .bytes()
                        .take(max)
                        .take_while(u8::is_ascii_digit)
                        .count();
                    if n == 0 || (exact && n != max) {
                        return None;
                    }
                    let v: u32 = rest[..n].parse().ok()?;
                    match part {
                        DatePart::Year => y = Some(v as i32),
                        DatePart::Month => m = Some(v),
                        _ => d = Some(v),
                    }
                    n
                }
            };
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            return None;
        }
        chrono::NaiveDate::from_ymd_opt(y?, m?, d?)
    }
}

/// The canonical text of a mapped value, checked against the column's kind.
fn value_text(kind: Kind, v: &toml::Value) -> std::result::Result<String, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        other => return Err(format!("expected {}, found `{other}`", kind.expected())),
    };
    let ok = match kind {
        Kind::Bool => super::parse_bool(&text).is_some(),
        Kind::Enum(allowed) => allowed.iter().any(|a| a.eq_ignore_ascii_case(&text)),
        Kind::Region => schema::is_region_code(&text),
        Kind::Int { .. } => text.parse::<i64>().is_ok(),
        Kind::Float { .. } => text.parse::<f64>().is_ok(),
        Kind::Text | Kind::Date => !text.trim().is_empty(),
    };
    if ok {
        Ok(text)
    } else {
        Err(format!("expected {}, found `{text}`", kind.expected()))
    }
}

impl Mapping {
    /// Validate a raw mapping; `region_default` says whether a default region is given
    /// (then `region` need not be mapped). Problems carry dotted keys under `prefix`.
    pub fn from_config(
        raw: MappingConfig,
        region_default: bool,
        prefix: &str,
    ) -> std::result::Result<Mapping, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut push = |key: String, message: String| {
            problems.push(ConfigProblem {
                key: format!("{prefix}{key}"),
                message,
            })
        };
        let mut columns: Vec<(Target, String)> = Vec::new();
        for (key, header) in raw.columns.clone().unwrap_or_default() {
            match target(&key) {
                None => push(
                    format!("columns.{key}"),
                    format!("not a canonical column; expected one of {}", keys()),
                ),
                Some(_) if header.trim().is_empty() => push(
                    format!("columns.{key}"),
                    "expected a source header, found ``".to_string(),
                ),
                Some(t) if columns.iter().any(|(c, _)| c.spec.name == t.spec.name) => push(
                    format!("columns.{key}"),
                    format!(
                        "`{}` is mapped twice (product_name is product_id)",
                        t.spec.name
                    ),
                ),
                Some(t) => columns.push((t, header.trim().to_string())),
            }
        }
        // Without a report id, a version's id is `case_id#version` (the national form has
        // one case code for the initial report and its follow-ups).
        let composed_id = !columns
            .iter()
            .any(|(c, _)| c.spec.name == schema::col::REPORT_ID)
            && columns
                .iter()
                .any(|(c, _)| c.spec.name == schema::col::CASE_ID);
        let mut required = vec![
            schema::col::RECEIVED_DATE,
            schema::col::PRODUCT_ID,
            schema::col::EVENT,
        ];
        if !region_default {
            required.push(schema::col::REGION);
        }
        if !composed_id {
            required.insert(0, schema::col::REPORT_ID);
        }
        for r in required {
            if !columns.iter().any(|(c, _)| c.spec.name == r) {
                let hint = match r {
                    schema::col::PRODUCT_ID => " (or `product_name`)",
                    schema::col::REGION => " (or give a default region)",
                    schema::col::REPORT_ID => {
                        " (or `case_id`, with `version`: the id is then `case_id#version`)"
                    }
                    _ => "",
                };
                push(
                    "columns".to_string(),
                    format!("missing the required canonical column `{r}`{hint}"),
                );
            }
        }
        // Keep the canonical order, so that messages and rows are stable.
        let order = |t: &Target| {
            let all = [
                &schema::REPORTS,
                &schema::REPORT_PRODUCTS,
                &schema::REPORT_EVENTS,
            ];
            all.iter()
                .flat_map(|s| s.columns.iter())
                .position(|c| c.name == t.spec.name)
        };
        columns.sort_by_key(|(t, _)| order(t));

        let mut values = HashMap::new();
        for (key, table) in raw.values.unwrap_or_default() {
            let Some(t) = target(&key) else {
                push(
                    format!("values.{key}"),
                    format!("not a canonical column; expected one of {}", keys()),
                );
                continue;
            };
            let mut map = HashMap::new();
            for (from, to) in table {
                match value_text(t.spec.kind, &to) {
                    Ok(text) => {
                        map.insert(from.trim().to_string(), text);
                    }
                    Err(m) => push(format!("values.{key}.{from}"), m),
                }
            }
            values.insert(t.spec.name, map);
        }

        let mut date_formats = Vec::new();
        let given = raw
            .date_formats
            .unwrap_or_else(|| DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect());
        if given.is_empty() {
            push(
                "date_formats".into(),
                "expected at least one format, found none".into(),
            );
        }
        for (i, f) in given.iter().enumerate() {
            match DateFormat::parse(f) {
                Some(d) => date_formats.push(d),
                None => push(
                    format!("date_formats[{i}]"),
                    format!("expected a format of YYYY, MM, DD and separators, such as `YYYY/MM/DD`, found `{f}`"),
                ),
            }
        }
        let personal: Vec<String> = raw
            .personal
            .unwrap_or_default()
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        for (i, h) in personal.iter().enumerate() {
            if let Some((t, _)) = columns.iter().find(|(_, x)| x == h) {
                push(
                    format!("personal[{i}]"),
                    format!(
                        "`{h}` holds personal data, so it cannot also be mapped (to `{}`)",
                        t.spec.name
                    ),
                );
            }
        }
        let encoding = match raw.encoding.as_deref() {
            None => None,
            Some(e) => {
                let parsed = crate::records::encoding::Encoding::parse(e);
                if parsed.is_none() {
                    push(
                        "encoding".into(),
                        format!(
                            "expected one of {}, found `{e}`",
                            crate::records::encoding::Encoding::LABELS
                        ),
                    );
                }
                parsed
            }
        };
        if problems.is_empty() {
            Ok(Mapping {
                columns,
                values,
                date_formats,
                personal,
                sheet: raw.sheet,
                encoding,
            })
        } else {
            Err(problems)
        }
    }

    /// Read and validate a mapping file.
    pub fn load(path: &Path, region_default: bool) -> Result<Mapping> {
        let problem = |key: String, message: String| {
            Error::Config(ConfigErrors {
                file: path.to_path_buf(),
                problems: vec![ConfigProblem { key, message }],
            })
        };
        if let Some(p) = crate::readable::problem(path, crate::readable::Expect::File) {
            return Err(problem(
                String::new(),
                format!("cannot read the mapping file: {p}"),
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| problem(String::new(), format!("cannot read the mapping file: {e}")))?;
        let de = toml::Deserializer::parse(&text)
            .map_err(|e| problem(String::new(), e.message().trim_end().to_string()))?;
        let raw: MappingConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            problem(
                if key == "." { String::new() } else { key },
                e.inner().message().trim_end().to_string(),
            )
        })?;
        Mapping::from_config(raw, region_default, "").map_err(|problems| {
            Error::Config(ConfigErrors {
                file: path.to_path_buf(),
                problems,
            })
        })
    }

    /// The formats, for messages: `YYYY-MM-DD, YYYY/MM/DD`.
    pub fn date_formats_text(&self) -> String {
        self.date_formats
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn date_formats() {
        let f = DateFormat::parse("YYYY/MM/DD").unwrap();
        assert_eq!(f.date("2024/1/5"), d(2024, 1, 5));
        assert_eq!(f.date("2024/01/05 10:30"), d(2024, 1, 5));
        assert_eq!(f.date("2024-01-05"), None);
        let f = DateFormat::parse("YYYYMMDD").unwrap();
        assert_eq!(f.date("20240105"), d(2024, 1, 5));
        assert_eq!(f.date("2024015"), None);
        let f = DateFormat::parse("YYYY年MM月DD日").unwrap();
        assert_eq!(f.date("2024年3月9日"), d(2024, 3, 9));
        assert!(DateFormat::parse("YYYY-MM").is_none());
        assert!(DateFormat::parse("YYYY-MM-DDx").is_none());
    }

    #[test]
    fn every_problem_is_reported() {
        let raw: MappingConfig = toml::from_str(
            r#"
            date_formats = ["YYYY-MM"]
            [columns]
            report_id = "编码"
            colour = "颜色"
            [values.is_serious]
            "严重" = "maybe"
            "#,
        )
        .unwrap();
        let problems = Mapping::from_config(raw, false, "inputs.source.").unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "inputs.source.columns.colour",
                "inputs.source.columns",
                "inputs.source.columns",
                "inputs.source.columns",
                "inputs.source.columns",
                "inputs.source.values.is_serious.严重",
                "inputs.source.date_formats[0]",
            ]
        );
        assert_eq!(
            problems[5].message,
            "expected a boolean (true/false, 1/0, yes/no, 是/否), found `maybe`"
        );
    }
}
