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
