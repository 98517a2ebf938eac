use super::*;

fn from_str(text: &str) -> Result<Pipeline> {
    let raw = parse_toml(Path::new("p.toml"), text)?;
    Pipeline::from_config(Path::new("p.toml"), String::new(), raw)
}

fn problems(text: &str) -> Vec<String> {
    match from_str(text) {
        Err(Error::Config(e)) => e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect(),
        other => panic!("expected config errors, got {other:?}"),
    }
}

const INPUTS: &str = r#"
[inputs]
reports = "r.csv"
report_products = "rp.csv"
report_events = "re.csv"
products = "p.csv"
populations = "pop.csv"
"#;

#[test]
fn unknown_key_names_its_path_and_line() {
    let text =
        format!("period = \"2025\"\noutput_dir = \"out\"\n{INPUTS}\n[rates]\nlevel = [\"city\"]\n");
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("rates.level: unknown field `level`"),
        "{}",
        p[0]
    );
    assert!(p[0].ends_with("(line 12)"), "{}", p[0]);
}

#[test]
fn collects_every_semantic_problem() {
    let text = format!(
        "period = \"2025-Q5\"\noutput_dir = \"out\"\nlang = \"fr\"\n{INPUTS}\n[ingest]\nmax_rejected_fraction = 1.5\n\
         [rates]\nlevels = [\"county\"]\n[rates.targets.drug]\nper_million = -3\nregions = {{ \"3300\" = 1000 }}\n"
    );
    let p = problems(&text);
    let keys: Vec<&str> = p.iter().map(|s| s.split(": ").next().unwrap()).collect();
    // Missing input files are problems too; every one is listed.
    for k in [
        "period",
        "lang",
        "inputs.reports",
        "inputs.populations",
        "ingest.max_rejected_fraction",
        "rates.levels[0]",
        "rates.targets.drug.per_million",
        "rates.targets.drug.regions.3300",
    ] {
        assert!(keys.contains(&k), "missing {k} in {p:?}");
    }
}

#[test]
fn targets_fall_back_from_region_to_city_to_province_to_default() {
    let t = ClassTarget {
        per_million: Some(900.0),
        regions: [
            ("330000".to_string(), 1000.0),
            ("330100".to_string(), 1200.0),
        ]
        .into_iter()
        .collect(),
    };
    assert_eq!(t.for_region("330106"), Some(1200.0));
    assert_eq!(t.for_region("330200"), Some(1000.0));
    assert_eq!(t.for_region("330000"), Some(1000.0));
    assert_eq!(t.for_region("370000"), Some(900.0));
    let drug = &default_targets()["drug"];
    assert_eq!(drug.for_region("310000"), Some(1500.0));
    assert_eq!(drug.for_region("310115"), Some(1500.0));
    assert_eq!(drug.for_region("330000"), Some(1000.0));
    assert_eq!(
        drug.for_region("370000"),
        None,
        "no shipped drug target for Shandong"
    );
    assert_eq!(
        default_targets()["device"].for_region("140000"),
        Some(400.0)
    );
    assert_eq!(
        default_targets()["cosmetic"].for_region("140000"),
        Some(100.0)
    );
}

#[test]
fn region_filter_covers_children() {
    let r = Rates {
        levels: vec![Level::Province],
        regions: Some(vec!["330000".into(), "140100".into()]),
        classes: vec![],
        as_of: None,
        targets: BTreeMap::new(),
        new_or_serious_share: 0.4,
        serious_share: 0.18,
    };
    assert!(r.includes("330000") && r.includes("330100") && r.includes("330106"));
    assert!(r.includes("140100") && r.includes("140105"));
    assert!(!r.includes("140000") && !r.includes("310000") && !r.includes("140200"));
    let taizhou = Rates {
        regions: Some(vec!["331000".into()]),
        ..r
    };
    assert!(
        taizhou.includes("331002") && !taizhou.includes("331100"),
        "台州 must not cover 丽水"
    );
}

#[test]
fn paths_are_normalised_lexically() {
    let n = |s: &str| normalize(Path::new(s)).display().to_string();
    assert_eq!(n("pipelines/../sample-data/r.csv"), "sample-data/r.csv");
    assert_eq!(n("./a/./b"), "a/b");
    assert_eq!(n("../x/../../y"), "../../y");
    assert_eq!(n("/../a"), "/a");
    assert_eq!(n("a/.."), ".");
}

#[test]
fn strict_dates() {
    assert!(parse_date("2025-01-31").is_some());
    for s in ["2025-1-31", "2025-02-30", "2025/01/31", "20250131", ""] {
        assert!(parse_date(s).is_none(), "{s}");
    }
}

#[test]
fn booleans_in_every_accepted_form() {
    for (s, b) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("Yes", true),
        ("是", true),
        ("false", false),
        ("0", false),
        ("no", false),
        ("否", false),
    ] {
        assert_eq!(parse_bool(s), Some(b), "{s}");
    }
    for s in ["maybe", "t", "2", "是的", ""] {
        assert_eq!(parse_bool(s), None, "{s}");
    }
}
