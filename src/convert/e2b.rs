//! ICH E2B(R3) ICSR XML messages → canonical tables.
//!
//! Source: one `.xml` file, or a folder of them; each holds one or more ICSRs
//! (`PORR_IN049016UV` elements, usually inside an `MCCI_IN200100UV01` batch). Files are
//! read through [`super::xml`], which refuses DTDs, undefined entities, oversize files and
//! deep nesting. Elements are matched by local name, so namespace prefixes do not matter,
//! and siblings may come in any order. Mapping (README, "Real-world inputs"):
//!
//! | E2B(R3) | canonical |
//! |---|---|
//! | C.1.1 `investigationEvent/id[@root=…3.1]/@extension` | reports.report_id = `C.1.1#version` |
//! | C.1.8.1 `investigationEvent/id[@root=…3.2]/@extension` (else C.1.1) | reports.case_id |
//! | rank of the ICSR within its case by C.1.5, then C.1.2 | reports.version (1 = earliest) |
//! | C.1.5 `availabilityTime` (if absent: C.1.4 `effectiveTime/low`, else C.1.2, with a note) | reports.received_date |
//! | D.5 `administrativeGenderCode` 1/2, 0/9/nullFlavor | reports.sex M/F, U |
//! | D.2.2 observation code 3, `value/@value` × `@unit` (a, mo, wk, d, h, {decade}) | reports.age_years |
//! | E.i observation code 29: `value/@code` (MedDRA), else `originalText` | report_events.event |
//! | E.i.4 `effectiveTime` low | report_events.onset_date |
//! | E.i.3.2a–f codes 34, 21, 33, 35, 12, 26 = true (none stated on a reaction: null) | reports.is_serious; 34 (death): reports.fatal |
//! | G.k `substanceAdministration` … `kindOfProduct/name`, normalised | report_products.product_id |
//! | G.k.1 `causalityAssessment` code 20 value 1/2/3 (4: not administered, left out) | report_products.role |
//! | G.k.4.r.7 `lotNumberText` | report_products.batch |
//!
//! E2B has no version number: the ICSRs of one case (C.1.8.1) are ranked by the date of
//! most recent information (C.1.5), then the date of creation (C.1.2), then the order read
//! (files by name, ICSRs in file order), and the rank is the canonical `version`.
//!
//! The accounting unit is the ICSR, and the rejected-row tolerance applies to the whole
//! batch of ICSRs read (a folder of one-ICSR files is one batch). An ICSR without a safety
//! report id or a readable, plausible received date is rejected with the line where it
//! starts. A file that is not well-formed XML (truncated, two roots, an illegal
//! character, an undeclared prefix: [`super::xml`]) is rejected as a whole: each ICSR
//! start tag in it is a rejected row (the file is one when it has none), none of its
//! ICSRs is used, and its manifest entry says where and why (`malformed`).
//!
//! The received date is C.1.5 (date of most recent information), a key: a C.1.5 that is
//! given but not a date YYYYMMDD, or not plausible ([`crate::plausible`]), rejects the
//! ICSR; an absent C.1.5 (required by E2B(R3)) falls back to C.1.4, else C.1.2, with a
//! `cell nulled` line on C.1.5 naming the date used. A reaction's start date (E.i.4)
//! that is not plausible is nulled with a note.
//!
//! Seriousness is read per reaction: an ICSR is serious (and fatal) when a reaction has
//! the criterion (death) true, not serious (not fatal) when every reaction states its
//! seriousness criteria (at least one of E.i.3.2a–f, `true` or a nullFlavor) and none is
//! true, and unknown (null) otherwise: absent criteria are not "no". An ICSR read
//! again unchanged (the same `controlActProcess`, which holds C.1.1, C.1.2 and the whole
//! case; message headers may differ) is a *duplicate*: counted, dropped, not rejected.
//! The same C.1.1 and C.1.2 with other content is kept as a later version, in the order
//! read, as FDA's own example set expects (its scenarios 5-1 to 5-3), and logged as a
//! warning naming both files. A bad optional element (sex, age, a reaction's start date,
//! a drug's characterisation) is nulled with a `cell nulled` line, and the ICSR kept.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::faers::drug::normalize_product;
use super::model::{list_files, Builder, Report};
use super::xml::{read_units, Malformed, Node};
use super::Options;
use crate::error::{Error, Result};
use crate::period::from_epoch_days;
use crate::plausible::Plausible;

/// The ICSR element.
const ICSR: &str = "PORR_IN049016UV";
const OID_REPORT_ID: &str = "2.16.840.1.113883.3.989.2.1.3.1";
const OID_CASE_ID: &str = "2.16.840.1.113883.3.989.2.1.3.2";

/// One ICSR as read, before versions are ranked.
struct Icsr {
    file: u32,
    line: u64,
    report_id: String,
    case_id: String,
    received: i32,
    /// C.1.2 as written (a timestamp), to order versions of the same C.1.5 date.
    created: String,
    /// SHA-256 of the ICSR's content (its `controlActProcess`), to find retransmissions.
    content: [u8; 32],
    /// Bad optional elements, nulled: (element, line, found, expected).
    nulled: Vec<(&'static str, u64, String, String)>,
    sex: Option<&'static str>,
    age_years: Option<f64>,
    serious: Option<bool>,
    fatal: Option<bool>,
    events: Vec<(String, Option<i32>)>,
    products: Vec<(String, Option<&'static str>, Option<String>)>,
}

pub fn convert(src: &Path, opts: &Options, b: &mut Builder) -> Result<()> {
    let region = opts.region.clone().ok_or_else(|| {
        Error::input(
            src,
            "E2B messages carry no Chinese region: give the region code to use (--region, or `region` in the pipeline's source)",
        )
    })?;
    let files = if src.is_dir() {
        let files = list_files(src, |n| n.ends_with(".xml"))?;
        if files.is_empty() {
            return Err(Error::input(src, "no .xml files in this folder"));
        }
        files
    } else {
        vec![src.to_path_buf()]
    };
    let plausible = opts.plausible();
    let mut icsrs = Vec::new();
    for path in &files {
        let file = b.add_file(path, "icsr")?;
        let mut problems = Vec::new();
        let mut read = Vec::new();
        let outcome = read_units(path, opts.max_xml_bytes, ICSR, |node| {
            match read_icsr(&node, file, opts, &plausible) {
                Ok(i) => read.push(i),
                Err((column, found, expected)) => {
                    problems.push((node.line, column, found, expected))
                }
            }
        })?;
        let n = match outcome {
            Ok(n) => n,
            Err(m) => {
                reject_file(b, file, m);
                continue;
            }
        };
        icsrs.append(&mut read);
        if n == 0 {
            return Err(Error::input(
                path,
                format!("no ICSR (`{ICSR}` element) in this file"),
            ));
        }
        b.read(file, n);
        for (line, column, found, expected) in problems {
            b.reject(file, line, column, found, expected);
        }
    }
    add_versions(icsrs, &region, opts, b);
    Ok(())
}

/// A file that is not well-formed: every ICSR in it (or the file, when none is found) is a
/// rejected row, and none is used.
fn reject_file(b: &mut Builder, file: u32, m: Malformed) {
    let lines = if m.unit_lines.is_empty() {
        vec![m.line]
    } else {
        m.unit_lines.clone()
    };
    b.read(file, lines.len() as u64);
    let found = format!("not well-formed XML at {m}");
    let expected = "a well-formed XML file (the whole file is rejected: none of its ICSRs is used)";
    for line in lines {
        b.reject(file, line, "", found.clone(), expected);
    }
    b.malformed(file, m.to_string());
}

/// Drop retransmissions, rank the ICSRs of each case and add them to the builder.
fn add_versions(icsrs: Vec<Icsr>, region: &str, opts: &Options, b: &mut Builder) {
    // Retransmissions first, in the order read: the first copy is kept.
    let mut seen: HashMap<[u8; 32], ()> = HashMap::new();
    let mut keys: HashMap<(String, String), (u32, u64)> = HashMap::new();
    let mut icsrs: Vec<Icsr> = icsrs
        .into_iter()
        .filter(|i| {
            if seen.insert(i.content, ()).is_some() {
                b.duplicate(i.file);
                return false;
            }
            let key = (i.report_id.clone(), i.created.clone());
            if let Some(&(file, line)) = keys.get(&key) {
                tracing::warn!(
                    "{}: line {}: ICSR `{}` has the C.1.1 and C.1.2 of the ICSR on line {line} of {} with other content; it is read as a later version",
                    b.path(i.file),
                    i.line,
                    i.report_id,
                    b.path(file),
                );
            } else {
                keys.insert(key, (i.file, i.line));
            }
            true
        })
        .collect();
    // Stable sort: equal keys keep the order read.
    icsrs.sort_by(|x, y| {
        (&x.case_id, x.received, &x.created).cmp(&(&y.case_id, y.received, &y.created))
    });
    let mut version: HashMap<String, i64> = HashMap::new();
    for i in icsrs {
        let v = version.entry(i.case_id.clone()).or_insert(0);
        *v += 1;
        let r = b.add_report(Report {
            report_id: format!("{}#{v}", i.report_id),
            case_id: i.case_id,
            version: Some(*v),
            received: i.received,
            class: opts.class,
            region: region.to_string(),
            reporter_type: None,
            sentinel: None,
            is_new: None,
            is_serious: i.serious,
            fatal: i.fatal,
            sex: i.sex,
            age_years: i.age_years,
        });
        b.accept_row(i.file, r, i.line);
        for (column, line, found, expected) in i.nulled {
            b.null_cell(i.file, line, column, found, expected);
        }
        for (event, onset) in &i.events {
            b.add_event(r, event, *onset);
        }
        for (product, role, batch) in &i.products {
            b.add_product(r, product, *role, batch.as_deref());
        }
    }
}

/// HL7 TS `YYYYMMDD[hhmmss][±zzzz]` → days since the epoch (the date part).
fn ts_date(v: &str) -> Option<i32> {
    super::faers::demo::parse_yyyymmdd(v.get(..8)?)
}

/// An HL7 TS of year or month precision (`2024`, `202401`): a partial date, unknown as
/// a day, not a bad value.
fn is_partial_ts(v: &str) -> bool {
    (v.len() == 4 || v.len() == 6) && v.bytes().all(|b| b.is_ascii_digit())
}

/// The content of an element, for comparing two ICSRs: names, attributes and trimmed
/// text, depth first (comments and whitespace between elements do not count).
fn content_hash(node: &Node) -> [u8; 32] {
    fn feed(h: &mut Sha256, n: &Node) {
        h.update(n.name.as_bytes());
        h.update([0]);
        for (k, v) in &n.attrs {
            h.update(k.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        h.update(n.text.trim().as_bytes());
        h.update([2]);
        for c in &n.children {
            feed(h, c);
        }
        h.update([3]);
    }
    let mut h = Sha256::new();
    feed(&mut h, node);
    h.finalize().into()
}

type Problem = (&'static str, String, String);

/// Years per UCUM age unit of E2B(R3) (D.2.2b).
fn years_per(unit: &str) -> Option<f64> {
    Some(match unit {
        "{decade}" => 10.0,
        "a" => 1.0,
        "mo" => 1.0 / 12.0,
        "wk" => 7.0 / 365.25,
        "d" => 1.0 / 365.25,
        "h" => 1.0 / (24.0 * 365.25),
        "min" => 1.0 / (60.0 * 24.0 * 365.25),
        _ => return None,
    })
}

fn read_icsr(
    icsr: &Node,
    file: u32,
    opts: &Options,
    plausible: &Plausible,
) -> std::result::Result<Icsr, Problem> {
    let missing_id = || {
        (
            "C.1.1",
            String::new(),
            format!("a safety report id (investigationEvent/id with root {OID_REPORT_ID})"),
        )
    };
    let event = icsr.find("investigationEvent").ok_or_else(missing_id)?;
    let id_with = |root: &str| {
        event
            .children("id")
            .find(|i| i.attr("root") == Some(root))
            .and_then(|i| i.attr("extension"))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let report_id = id_with(OID_REPORT_ID).ok_or_else(missing_id)?.to_string();
    let case_id = id_with(OID_CASE_ID).unwrap_or(&report_id).to_string();

    let content = content_hash(icsr.child("controlActProcess").unwrap_or(icsr));
    let mut nulled = Vec::new();
    let created = icsr
        .at(&["controlActProcess", "effectiveTime"])
        .and_then(|n| n.attr("value"))
        .unwrap_or("")
        .to_string();
    let c15 = event
        .child("availabilityTime")
        .and_then(|n| n.attr("value"))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let c14 = event
        .at(&["effectiveTime", "low"])
        .and_then(|n| n.attr("value"))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let c12 = Some(created.trim()).filter(|v| !v.is_empty());
    // C.1.5 is the key; only an absent one falls back, and says so.
    let (column, value) = match (c15, c14, c12) {
        (Some(v), _, _) => ("C.1.5", v),
        (None, Some(v), _) => ("C.1.4", v),
        (None, None, Some(v)) => ("C.1.2", v),
        (None, None, None) => {
            return Err((
                "C.1.5",
                String::new(),
                "a date YYYYMMDD of most recent information (C.1.5; no C.1.4 or C.1.2 either)"
                    .to_string(),
            ))
        }
    };
    let Some(received) = ts_date(value) else {
        return Err((
            column,
            value.to_string(),
            format!("a date YYYYMMDD[hhmmss] ({column}, the received date)"),
        ));
    };
    if !plausible.contains(from_epoch_days(received)) {
        return Err((
            column,
            value.to_string(),
            format!("{} ({column}, the received date)", plausible.expected()),
        ));
    }
    if column != "C.1.5" {
        let line = event.line;
        let expected = format!(
            "a date of most recent information (C.1.5, required by E2B(R3)); {column} `{value}` is the received date instead"
        );
        nulled.push(("C.1.5", line, String::new(), expected));
    }

    let role = event.find("primaryRole");
    let gender = role.and_then(|r| r.find("administrativeGenderCode"));
    // ISO 5218: 1 male, 2 female, 0 not known, 9 not applicable; or a nullFlavor.
    let sex = gender.and_then(|g| match g.attr("code") {
        Some("1") => Some("M"),
        Some("2") => Some("F"),
        Some("0" | "9") | None => Some("U"),
        Some(other) => {
            let expected = "an ISO 5218 sex `1`, `2`, `0` or `9`, or a nullFlavor".to_string();
            nulled.push(("D.5", g.line, other.to_string(), expected));
            None
        }
    });
    // Observations directly under the patient (not those nested in drug history).
    let patient_obs: Vec<&Node> = role
        .map(|r| {
            r.children("subjectOf2")
                .filter_map(|s| s.child("observation"))
                .collect()
        })
        .unwrap_or_default();

    let mut age_years = None;
    if let Some(value) = patient_obs
        .iter()
        .find(|o| o.code() == Some("3"))
        .and_then(|o| o.child("value"))
    {
        if let (Some(v), unit) = (value.attr("value"), value.attr("unit").unwrap_or("a")) {
            let found = format!("{v} {unit}");
            match (years_per(unit), v.trim().parse::<f64>()) {
                (None, _) => nulled.push((
                    "D.2.2b",
                    value.line,
                    found,
                    "an age unit: a, mo, wk, d, h, min or {decade}".to_string(),
                )),
                (Some(k), Ok(a)) if a.is_finite() && (0.0..=150.0).contains(&(a * k)) => {
                    age_years = Some(a * k)
                }
                _ => nulled.push((
                    "D.2.2a",
                    value.line,
                    found,
                    "an age from 0 to 150 years".to_string(),
                )),
            }
        }
    }

    let (mut serious, mut fatal) = (false, false);
    // Whether every reaction states its seriousness (at least one criterion given).
    let mut stated = true;
    let mut reactions = 0usize;
    let mut events = Vec::new();
    for o in patient_obs.iter().filter(|o| o.code() == Some("29")) {
        reactions += 1;
        let mut states = false;
        let value = o.child("value");
        let term = value
            .and_then(|v| v.attr("code"))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .or_else(|| {
                value
                    .and_then(|v| v.child("originalText"))
                    .and_then(Node::text)
            })
            .or_else(|| {
                o.children("outboundRelationship2")
                    .filter_map(|r| r.child("observation"))
                    .find(|x| x.code() == Some("30"))
                    .and_then(|x| x.child("value"))
                    .and_then(Node::text)
            });
        for c in o
            .children("outboundRelationship2")
            .filter_map(|r| r.child("observation"))
        {
            let yes = c.child("value").and_then(|v| v.attr("value")) == Some("true");
            states |= matches!(c.code(), Some("34" | "21" | "33" | "35" | "12" | "26"));
            match c.code() {
                Some("34") if yes => {
                    serious = true;
                    fatal = true;
                }
                Some("21" | "33" | "35" | "12" | "26") if yes => serious = true,
                _ => {}
            }
        }
        let start = o.child("effectiveTime").and_then(|t| {
            t.child("low")
                .or_else(|| t.child("comp").and_then(|c| c.child("low")))
        });
        stated &= states;
        let onset = start.and_then(|l| {
            let v = l.attr("value")?;
            let day = ts_date(v);
            if day.is_none() && !is_partial_ts(v) {
                let expected =
                    "a date YYYYMMDD (or a partial date YYYY or YYYYMM, read as unknown)";
                nulled.push(("E.i.4", l.line, v.to_string(), expected.to_string()));
            }
            match day {
                Some(d) if !plausible.contains(from_epoch_days(d)) => {
                    nulled.push(("E.i.4", l.line, v.to_string(), plausible.expected()));
                    None
                }
                day => day,
            }
        });
        if let Some(term) = term {
            events.push((term.to_string(), onset));
        }
    }

    // G.k drugs (organizer code 4) and their characterisation (G.k.1): `None` is a drug
    // not administered (4), left out; an unknown characterisation is a null role.
    let mut roles: HashMap<&str, Option<Option<&'static str>>> = HashMap::new();
    if let Some(assessment) = event.find("adverseEventAssessment") {
        for ca in assessment
            .children("component")
            .filter_map(|c| c.child("causalityAssessment"))
            .filter(|c| c.code() == Some("20"))
        {
            let value = ca.child("value");
            let code = value.and_then(|v| v.attr("code"));
            let role = match code {
                Some("1") => Some(Some("suspect")),
                Some("2") => Some(Some("concomitant")),
                Some("3") => Some(Some("interacting")),
                Some("4") => None,
                _ => {
                    let expected = "a characterisation `1` (suspect), `2` (concomitant), `3` (interacting) or `4` (not administered); a null role counts as suspect";
                    let line = value.map_or(ca.line, |v| v.line);
                    nulled.push((
                        "G.k.1",
                        line,
                        code.unwrap_or("").to_string(),
                        expected.to_string(),
                    ));
                    Some(None)
                }
            };
            let drug = ca
                .at(&["subject2", "productUseReference", "id"])
                .and_then(|i| i.attr("root"));
            if let Some(d) = drug {
                roles.insert(d, role);
            }
        }
    }
    let mut products = Vec::new();
    let drugs = role
        .into_iter()
        .flat_map(|r| r.children("subjectOf2"))
        .filter_map(|s| s.child("organizer"))
        .filter(|o| o.code() == Some("4"))
        .flat_map(|o| o.children("component"))
        .filter_map(|c| c.child("substanceAdministration"));
    for drug in drugs {
        let id = drug.child("id").and_then(|i| i.attr("root"));
        let role = match id.and_then(|i| roles.get(i)) {
            Some(None) => continue, // drug not administered
            Some(Some(r)) => *r,
            None => None,
        };
        let kind = drug.at(&["consumable", "instanceOfKind", "kindOfProduct"]);
        let name = kind
            .and_then(|k| k.child("name"))
            .and_then(Node::text)
            .or_else(|| {
                kind.and_then(|k| k.child("code"))
                    .and_then(|c| c.attr("code"))
            });
        let Some(name) = name else { continue };
        let product = normalize_product(name, opts.strip_dose);
        let batch = drug
            .at(&[
                "consumable",
                "instanceOfKind",
                "productInstanceInstance",
                "lotNumberText",
            ])
            .and_then(Node::text)
            .map(str::to_string);
        products.push((product, role, batch));
    }

    Ok(Icsr {
        file,
        line: icsr.line,
        report_id,
        case_id,
        received,
        created,
        content,
        nulled,
        sex,
        age_years,
        // Absent criteria are not "no": unknown unless every reaction states them.
        serious: (serious || (stated && reactions > 0)).then_some(serious),
        fatal: (fatal || (stated && reactions > 0)).then_some(fatal),
        events,
        products,
    })
}
