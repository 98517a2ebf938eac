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

/// The problems of a pipeline whose input files do not exist, without the missing-file ones.
fn problems_beyond_inputs(extra: &str) -> Vec<String> {
    let text = format!("period = \"2025\"\noutput_dir = \"out\"\n{INPUTS}\n{extra}");
    problems(&text)
        .into_iter()
        .filter(|p| !p.starts_with("inputs."))
        .collect()
}

#[test]
fn no_method_at_all_is_one_problem_saying_so() {
    let p = problems_beyond_inputs("[signals]\nmethods = []\n");
    assert_eq!(
        p,
        ["signals.methods: expected at least one method (of `prr`, `ror`, `bcpnn`, `ebgm`), found none"]
    );
}

#[test]
fn a_fixed_prior_outside_the_fit_bounds_is_refused() {
    // The prior fitted by openEBGM-style searches lies in [1e-5, 100] for α and β and in
    // (0, 1) for P; `1e308` / `1e-308` is a typo, not a prior.
    let p = problems_beyond_inputs(
        "[signals.ebgm.prior]\nalpha1 = 1e308\nbeta1 = 1e-308\nalpha2 = 2.0\nbeta2 = 4.0\np = 0.3333\n",
    );
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("signals.ebgm.prior.alpha1: expected a number from 1e-5 to 100"),
        "{}",
        p[0]
    );
    assert!(p[0].ends_with("found `1e308`"), "{}", p[0]);
    assert!(p[1].starts_with("signals.ebgm.prior.beta1: "), "{}", p[1]);
    assert!(p[1].ends_with("found `1e-308`"), "{}", p[1]);
    // DuMouchel's (1999) published starting prior and the bounds themselves are accepted.
    for ok in [
        "alpha1 = 0.2\nbeta1 = 0.1\nalpha2 = 2.0\nbeta2 = 4.0\np = 0.3333\n",
        "alpha1 = 1e-5\nbeta1 = 100.0\nalpha2 = 100.0\nbeta2 = 1e-5\np = 0.999999\n",
    ] {
        let p = problems_beyond_inputs(&format!("[signals.ebgm.prior]\n{ok}"));
        assert!(p.is_empty(), "{ok}: {p:?}");
    }
    let p = problems_beyond_inputs(
        "[signals.ebgm.prior]\nalpha1 = 0.2\nbeta1 = 0.1\nalpha2 = 2.0\nbeta2 = 4.0\np = 1.0\n",
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("signals.ebgm.prior.p: expected a number from 1e-6 to 0.999999"),
        "{}",
        p[0]
    );
}

#[test]
fn as_of_is_a_string_or_a_native_toml_date() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["r.csv", "rp.csv", "re.csv", "p.csv", "pop.csv"] {
        std::fs::write(dir.path().join(f), "x\n").expect("write");
    }
    let base = dir.path().join("p.toml");
    let parse = |rates: &str| {
        let text = format!("period = \"2025\"\noutput_dir = \"out\"\n{INPUTS}\n[rates]\n{rates}");
        let raw = parse_toml(&base, &text)?;
        Pipeline::from_config(&base, String::new(), raw)
    };
    let want = NaiveDate::from_ymd_opt(2025, 6, 30);
    for text in ["as_of = \"2025-06-30\"\n", "as_of = 2025-06-30\n"] {
        let p = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.rates.as_of, want, "{text}");
    }
    // A date-time is not a date; a number is not either: both name the key.
    for (text, found) in [
        (
            "as_of = 2025-06-30T08:00:00\n",
            "found `2025-06-30T08:00:00`",
        ),
        ("as_of = 20250630\n", "found the integer `20250630`"),
    ] {
        let e = parse(text).expect_err(text).to_string();
        assert!(
            e.contains("rates.as_of") && e.contains(found),
            "{text}: {e}"
        );
    }
}

#[cfg(unix)]
#[test]
fn an_input_that_is_a_folder_or_a_fifo_is_named_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["rp.csv", "re.csv", "p.csv"] {
        std::fs::write(dir.path().join(f), "x\n").expect("write");
    }
    std::fs::create_dir(dir.path().join("r.csv")).expect("a folder named like a file");
    let c = std::ffi::CString::new(dir.path().join("pop.csv").to_str().expect("utf-8"))
        .expect("no NUL");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let base = dir.path().join("p.toml");
    let text = format!("period = \"2025\"\noutput_dir = \"out\"\n{INPUTS}");
    let raw = parse_toml(&base, &text).expect("TOML");
    let Err(Error::Config(e)) = Pipeline::from_config(&base, String::new(), raw) else {
        panic!("expected config problems");
    };
    let p: Vec<String> = e
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("inputs.reports: `")
            && p[0].ends_with("r.csv` is a folder, expected a file"),
        "{}",
        p[0]
    );
    assert!(
        p[1].starts_with("inputs.populations: `")
            && p[1].ends_with("pop.csv` is not a regular file (a FIFO), expected a file"),
        "{}",
        p[1]
    );
}

#[test]
fn the_review_page_limit_is_a_whole_number_of_at_least_one() {
    let p = problems_beyond_inputs("[alerts]\npage_limit = 0\n");
    assert_eq!(
        p,
        ["alerts.page_limit: expected a whole number >= 1, found `0`"]
    );
    assert!(problems_beyond_inputs("[alerts]\npage_limit = 50\n").is_empty());
}
