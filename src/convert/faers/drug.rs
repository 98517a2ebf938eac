//! FAERS DRUG rows → `report_products`, and the normalised product name.
//!
//! Convert stage, FAERS. Reads DRUG `primaryid` (`isr`), `role_cod`, `drugname`, `prod_ai`
//! and `lot_num` (`lot_nbr`); writes one product row (`product_id`, `role`, `batch`) for
//! the report of each row. [`normalize_product`] and [`strip_dose`] are shared with E2B.
//!
//! Invariants: a row whose primaryid is not a valid DEMO row, or with no name, is
//! rejected; an unknown `role_cod` is nulled (a null role counts as suspect);
//! [`strip_dose`] returns a prefix of its input and keeps its first word.

use std::path::Path;

use super::{report_of, Demo, PRIMARYID};
use crate::convert::dollar::DollarFile;
use crate::convert::model::Builder;
use crate::convert::Options;
use crate::error::Result;

pub(super) fn read_drug(path: &Path, opts: &Options, b: &mut Builder, demo: &Demo) -> Result<()> {
    let mut f = DollarFile::open(b, path, "drug")?;
    let c_id = f.require(PRIMARYID)?;
    let c_role = f.require(&["role_cod"])?;
    let c_name = f.require(&["drugname"])?;
    let c_ai = f.column(&["prod_ai"]);
    let c_lot = f.column(&["lot_num", "lot_nbr"]);
    while f.next_row(b)? {
        let Some(r) = report_of(&f, c_id, b, demo) else {
            continue;
        };
        let role_text = f.text(c_role);
        // An unknown role is nulled: a null role counts as suspect (the canonical
        // default), and the cell is listed so that a person can look at it.
        let role = match role_text.to_ascii_uppercase().as_str() {
            "PS" | "SS" => Some("suspect"),
            "C" => Some("concomitant"),
            "I" => Some("interacting"),
            _ => None,
        };
        let bad_role = role.is_none().then(|| role_text.into_owned());
        let ai = f.get(c_ai);
        let name = if ai.is_empty() { f.text(c_name) } else { ai };
        let product = normalize_product(&name, opts.strip_dose);
        if product.is_empty() {
            b.reject(
                f.file,
                f.line,
                "drugname",
                "",
                "a drug name (prod_ai or drugname)",
            );
            continue;
        }
        let lot = f.get(c_lot);
        let batch = (!lot.is_empty()).then_some(lot.as_ref());
        b.add_product(r, &product, role, batch);
        b.accept_row(f.file, r, f.line);
        if let Some(found) = bad_role {
            let expected = "one of `PS`, `SS`, `C`, `I` (a null role counts as suspect)";
            b.null_cell(f.file, f.line, "role_cod", found, expected);
        }
    }
    Ok(())
}

/// Normalise a product name: trimmed, inner spaces collapsed, upper-cased; with
/// `strip_dose`, a trailing dose expression cut ([`strip_dose`]).
pub fn normalize_product(name: &str, strip_dose: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_uppercase));
    }
    if strip_dose {
        let keep = self::strip_dose(&out).len();
        out.truncate(keep);
    }
    out
}

/// Units of a dose (upper case, as names are upper-cased first; `ΜG` is `µg` upper-cased).
const DOSE_UNITS: &[&str] = &[
    "MG", "MCG", "UG", "µG", "ΜG", "NG", "G", "GM", "GRAM", "GRAMS", "KG", "ML", "L", "IU", "U",
    "UNIT", "UNITS", "MIU", "MEQ", "MMOL", "%",
];
/// Units that only follow a `/` in a dose (`25 MCG/HR`).
const PER_UNITS: &[&str] = &["HR", "H", "24HR", "DAY", "D", "DOSE", "ACTUATION", "SPRAY"];
/// Unit dose forms, cut at the end of a name (`500MG TABLET`, `1 TAB`).
const DOSE_FORMS: &[&str] = &[
    "TABLET", "TABLETS", "TAB", "TABS", "CAPSULE", "CAPSULES", "CAP", "CAPS", "CAPLET", "CAPLETS",
    "SOFTGEL", "SOFTGELS", "PILL", "PILLS",
];

/// A number as doses write it: `20`, `0.5`, `.5`, `1,000`, `5/10`, `1-2`.
fn is_number(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b".,/-".contains(&b))
}

/// A unit, or a unit per (a number of) units: `MG`, `MG/ML`, `MG/5ML`, `MCG/HR`.
fn is_unit(t: &str) -> bool {
    let (top, per) = match t.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    DOSE_UNITS.contains(&top)
        && per.is_none_or(|p| {
            let unit = p.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            DOSE_UNITS.contains(&unit) || PER_UNITS.contains(&unit)
        })
}

/// A number with its unit in one word: `500MG`, `0.5%`, `40MG/0.8ML`.
fn is_number_with_unit(t: &str) -> bool {
    let at = t
        .find(|c: char| !(c.is_ascii_digit() || ".,".contains(c)))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(at);
    !number.is_empty() && is_number(number) && is_unit(unit)
}

/// `name` without its trailing dose expression: numbers with units (`20 MG`, `500MG`,
/// `10 MG/ML`, `0.5%`) and unit dose forms (`TABLET`, `1 TAB`), from the end, as long as
/// they come; the first word always stays. A number without a unit is part of a name
/// (`SUBSTANCE 0042`, `INSULIN 70/30`), and so is a word that merely holds digits
/// (`VITAMIN B12`, `5-FLUOROURACIL`). Returns a prefix of `name`.
pub fn strip_dose(name: &str) -> &str {
    // (start, end) of each word.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in name.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, name.len()));
    }
    let word = |k: usize| {
        let (s, e) = words[k];
        name[s..e]
            .trim_matches(|c| "()[],;".contains(c))
            .trim_end_matches('.')
    };
    let mut k = words.len();
    let mut after_form = false;
    while k > 1 {
        let w = word(k - 1);
        if DOSE_FORMS.contains(&w) {
            k -= 1;
            after_form = true;
        } else if is_number_with_unit(w) || (after_form && is_number(w)) {
            k -= 1;
            after_form = false;
        } else if k > 2 && is_unit(w) && is_number(word(k - 2)) {
            k -= 2;
            after_form = false;
        } else if w.is_empty() {
            k -= 1; // a lone `(`, `-` or `,` inside the dose text
        } else {
            break;
        }
    }
    if k == words.len() {
        return name;
    }
    name[..words[k - 1].1].trim_end_matches(|c: char| ",-/(".contains(c) || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_names() {
        assert_eq!(
            normalize_product("  lipitor  20 mg ", false),
            "LIPITOR 20 MG"
        );
        assert_eq!(normalize_product("  lipitor  20 mg ", true), "LIPITOR");
        assert_eq!(normalize_product("Aspirin 81MG", true), "ASPIRIN");
        assert_eq!(normalize_product("5-fluorouracil", true), "5-FLUOROURACIL");
        assert_eq!(normalize_product("vitamin b12", true), "VITAMIN B12");
        assert_eq!(
            normalize_product("insulin glargine (100 u/ml)", true),
            "INSULIN GLARGINE"
        );
        assert_eq!(
            normalize_product("Hydrocortisone 1 µg", true),
            "HYDROCORTISONE"
        );
    }

    /// strip_dose cuts a trailing dose expression and nothing else.
    #[test]
    fn strip_dose_cuts_doses_not_names() {
        let cases = [
            // Doses and forms are cut.
            ("LIPITOR 20 MG", "LIPITOR"),
            ("METFORMIN HCL 500MG TABLET", "METFORMIN HCL"),
            ("ASPIRIN 81MG", "ASPIRIN"),
            ("ASPIRIN 81 MG.", "ASPIRIN"),
            ("ZOLOFT 50 MG 1 TAB", "ZOLOFT"),
            ("TYLENOL 500 MG TABLETS", "TYLENOL"),
            ("AMOXICILLIN 500MG CAPSULE", "AMOXICILLIN"),
            ("OMEPRAZOLE 20 MG CAPSULES", "OMEPRAZOLE"),
            ("AMOXICILLIN 250 MG/5ML", "AMOXICILLIN"),
            ("AMOXICILLIN 250MG/5ML", "AMOXICILLIN"),
            ("ONDANSETRON 2 MG/ML", "ONDANSETRON"),
            ("HUMIRA 40MG/0.8ML", "HUMIRA"),
            ("FENTANYL 25 MCG/HR", "FENTANYL"),
            ("VITAMIN D3 1000 IU", "VITAMIN D3"),
            ("HEPARIN 5,000 UNITS", "HEPARIN"),
            ("INSULIN GLARGINE (100 U/ML)", "INSULIN GLARGINE"),
            ("INSULIN 70/30 100 IU", "INSULIN 70/30"),
            ("HYDROCORTISONE 0.5%", "HYDROCORTISONE"),
            ("LEVOTHYROXINE 0.05 MG", "LEVOTHYROXINE"),
            ("LEVOTHYROXINE .05MG", "LEVOTHYROXINE"),
            ("AMLODIPINE/BENAZEPRIL 5/10 MG", "AMLODIPINE/BENAZEPRIL"),
            ("ASPIRIN - 81 MG", "ASPIRIN"),
            ("ASPIRIN, 81 MG", "ASPIRIN"),
            ("ASPIRIN TABLET", "ASPIRIN"),
            ("VITAMIN B12 1000 MCG", "VITAMIN B12"),
            ("VITAMIN B12 1000 ΜG", "VITAMIN B12"),
            ("VITAMIN B12 1000 UG", "VITAMIN B12"),
            ("SODIUM CHLORIDE 0.9 % 1 L", "SODIUM CHLORIDE"),
            ("BRAND 0002 170 MG", "BRAND 0002"),
            ("SUBSTANCE 0002 170MG TABLET", "SUBSTANCE 0002"),
            // Names stay whole.
            ("SUBSTANCE 0042", "SUBSTANCE 0042"),
            ("VITAMIN B12", "VITAMIN B12"),
            ("5-FLUOROURACIL", "5-FLUOROURACIL"),
            ("INSULIN 70/30", "INSULIN 70/30"),
            ("FACTOR VIII", "FACTOR VIII"),
            ("COVID-19 VACCINE", "COVID-19 VACCINE"),
            ("ALPHA 1 ANTITRYPSIN", "ALPHA 1 ANTITRYPSIN"),
            ("BOTOX", "BOTOX"),
            ("20 MG", "20 MG"),
            ("MG", "MG"),
            ("VITAMIN G", "VITAMIN G"),
            ("NICOTINE PATCH", "NICOTINE PATCH"),
            ("", ""),
        ];
        for (name, stripped) in cases {
            assert_eq!(strip_dose(name), stripped, "{name}");
        }
    }
}
