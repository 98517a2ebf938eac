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
//! | C.1.5 `availabilityTime` (else C.1.4 `effectiveTime/low`, else C.1.2) | reports.received_date |
//! | D.5 `administrativeGenderCode` 1/2/other | reports.sex M/F/U |
//! | D.2.2 observation code 3, `value/@value` × `@unit` (a, mo, wk, d, h, {decade}) | reports.age_years |
//! | E.i observation code 29: `value/@code` (MedDRA), else `originalText` | report_events.event |
//! | E.i.4 `effectiveTime` low | report_events.onset_date |
//! | E.i.3.2a–f codes 34, 21, 33, 35, 12, 26 = true | reports.is_serious; 34 (death): reports.fatal |
//! | G.k `substanceAdministration` … `kindOfProduct/name`, normalised | report_products.product_id |
//! | G.k.1 `causalityAssessment` code 20 value 1/2/3 (4: not administered, left out) | report_products.role |
//! | G.k.4.r.7 `lotNumberText` | report_products.batch |
//!
//! E2B has no version number: the ICSRs of one case (C.1.8.1) are ranked by the date of
//! most recent information (C.1.5), then the date of creation (C.1.2), then the order read,
//! and the rank is the canonical `version`; the same safety report id, C.1.5 and C.1.2
//! twice is a duplicate, rejected. The accounting unit is the ICSR: an ICSR without a
//! safety report id or a readable date is rejected with the line where it starts.

use std::collections::HashMap;
use std::path::Path;

use super::faers::normalize_product;
use super::model::{list_files, Builder, Report};
use super::xml::{read_units, Node};
use super::Options;
use crate::error::{Error, Result};

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
    sex: Option<&'static str>,
    age_years: Option<f64>,
    serious: bool,
    fatal: bool,
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
    let mut icsrs = Vec::new();
    for path in &files {
        let file = b.add_file(path, "icsr")?;
        let mut problems = Vec::new();
        let n = read_units(path, opts.max_xml_bytes, ICSR, |node| {
            match read_icsr(&node, file, opts) {
                Ok(i) => icsrs.push(i),
                Err((column, found, expected)) => {
                    problems.push((node.line, column, found, expected))
                }
            }
        })?;
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

/// Rank the ICSRs of each case and add them to the builder.
fn add_versions(mut icsrs: Vec<Icsr>, region: &str, opts: &Options, b: &mut Builder) {
    // Stable sort: equal keys keep the order read.
    icsrs.sort_by(|x, y| {
        (&x.case_id, x.received, &x.created).cmp(&(&y.case_id, y.received, &y.created))
    });
    let mut version: HashMap<String, i64> = HashMap::new();
    let mut seen: HashMap<(String, i32, String), (u32, u64)> = HashMap::new();
    for i in icsrs {
        let key = (i.report_id.clone(), i.received, i.created.clone());
        if let Some(&(file, line)) = seen.get(&key) {
            let expected = format!(
                "one ICSR per safety report id and version (the same C.1.1, C.1.5 and C.1.2 were read on line {line} of {})",
                b.path(file)
            );
            b.reject(i.file, i.line, "C.1.1", i.report_id, expected);
            continue;
        }
        seen.insert(key, (i.file, i.line));
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
            is_serious: Some(i.serious),
            fatal: Some(i.fatal),
            sex: i.sex,
            age_years: i.age_years,
        });
        b.accept_row(i.file, r);
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
    super::faers::parse_yyyymmdd(v.get(..8)?)
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

fn read_icsr(icsr: &Node, file: u32, opts: &Options) -> std::result::Result<Icsr, Problem> {
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

    let created = icsr
        .at(&["controlActProcess", "effectiveTime"])
        .and_then(|n| n.attr("value"))
        .unwrap_or("")
        .to_string();
    let c15 = event
        .child("availabilityTime")
        .and_then(|n| n.attr("value"));
    let c14 = event
        .at(&["effectiveTime", "low"])
        .and_then(|n| n.attr("value"));
    let received = [c15, c14, Some(created.as_str())]
        .into_iter()
        .flatten()
        .find_map(ts_date)
        .ok_or_else(|| {
            (
                "C.1.5",
                c15.unwrap_or("").to_string(),
                "a date YYYYMMDD of most recent information (C.1.5, else C.1.4 or C.1.2)"
                    .to_string(),
            )
        })?;

    let role = event.find("primaryRole");
    let sex = role
        .and_then(|r| r.find("administrativeGenderCode"))
        .map(|g| match g.attr("code") {
            Some("1") => "M",
            Some("2") => "F",
            _ => "U",
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
            let years = years_per(unit).ok_or_else(|| {
                (
                    "D.2.2b",
                    found.clone(),
                    "an age unit: a, mo, wk, d, h, min or {decade}".to_string(),
                )
            })?;
            match v.trim().parse::<f64>() {
                Ok(a) if a.is_finite() && (0.0..=150.0).contains(&(a * years)) => {
                    age_years = Some(a * years)
                }
                _ => return Err(("D.2.2a", found, "an age from 0 to 150 years".to_string())),
            }
        }
    }

    let (mut serious, mut fatal) = (false, false);
    let mut events = Vec::new();
    for o in patient_obs.iter().filter(|o| o.code() == Some("29")) {
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
            match c.code() {
                Some("34") if yes => {
                    serious = true;
                    fatal = true;
                }
                Some("21" | "33" | "35" | "12" | "26") if yes => serious = true,
                _ => {}
            }
        }
        let onset = o.child("effectiveTime").and_then(|t| {
            t.child("low")
                .or_else(|| t.child("comp").and_then(|c| c.child("low")))
                .and_then(|l| l.attr("value"))
                .and_then(ts_date)
        });
        if let Some(term) = term {
            events.push((term.to_string(), onset));
        }
    }

    // G.k drugs (organizer code 4) and their characterisation (G.k.1).
    let mut roles: HashMap<&str, Option<&'static str>> = HashMap::new();
    if let Some(assessment) = event.find("adverseEventAssessment") {
        for ca in assessment
            .children("component")
            .filter_map(|c| c.child("causalityAssessment"))
            .filter(|c| c.code() == Some("20"))
        {
            let role = match ca.child("value").and_then(|v| v.attr("code")) {
                Some("1") => Some("suspect"),
                Some("2") => Some("concomitant"),
                Some("3") => Some("interacting"),
                _ => None, // 4: drug not administered
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
            Some(Some(r)) => Some(*r),
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
        sex,
        age_years,
        serious,
        fatal,
        events,
        products,
    })
}
