//! The signals stage end to end, read back from `signals.parquet` with arrow-rs:
//!
//! - the demo: its planted signals and planted non-signal, every cell against an
//!   independent recount of `sample-data/`'s CSV files, every statistic against its
//!   README formula, the schema and the manifest's `signals` section;
//! - hand-made databases whose every number is worked out in a comment: a textbook 2×2
//!   table, what does not count (concomitant products, repeats, superseded versions),
//!   zero cells and the continuity correction, the period end, a fixed EBGM prior,
//!   strata, and how `methods` and `min_methods` decide `is_signal`;
//! - the full text of the `[signals]` configuration errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use arrow::datatypes::DataType;
use statrs::distribution::{ContinuousCDF, Gamma};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::util::*;

/// `qnorm(0.975)`, the z of every 95% interval in the README.
const Z: f64 = 1.959_963_984_540_054;

// ---------------------------------------------------------------------------------------
// The contract of `signals.parquet`, checked on any table.

/// What a column holds, and so which Arrow types a BI reader accepts for it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Plain UTF-8 strings: Utf8 or LargeUtf8, never Utf8View.
    Text,
    /// Int64.
    Count,
    /// Float64.
    Measure,
    /// Boolean.
    Flag,
}

/// The columns of `signals.parquet`, in order, as the README documents them.
const SIGNALS_COLUMNS: &[(&str, Kind)] = &[
    ("period", Kind::Text),
    ("class", Kind::Text),
    ("product_id", Kind::Text),
    ("product_name", Kind::Text),
    ("innovative", Kind::Flag),
    ("conditional", Kind::Flag),
    ("procured", Kind::Flag),
    ("event", Kind::Text),
    ("soc", Kind::Text),
    ("a", Kind::Count),
    ("b", Kind::Count),
    ("c", Kind::Count),
    ("d", Kind::Count),
    ("n", Kind::Count),
    ("expected", Kind::Measure),
    ("prr", Kind::Measure),
    ("prr_lower", Kind::Measure),
    ("prr_upper", Kind::Measure),
    ("chi2", Kind::Measure),
    ("prr_null_reason", Kind::Text),
    ("ror", Kind::Measure),
    ("ror_lower", Kind::Measure),
    ("ror_upper", Kind::Measure),
    ("ror_null_reason", Kind::Text),
    ("ic", Kind::Measure),
    ("ic025", Kind::Measure),
    ("ic975", Kind::Measure),
    ("ebgm", Kind::Measure),
    ("eb05", Kind::Measure),
    ("eb95", Kind::Measure),
    ("ebgm_prior", Kind::Text),
    ("prr_flag", Kind::Flag),
    ("ror_flag", Kind::Flag),
    ("bcpnn_flag", Kind::Flag),
    ("ebgm_flag", Kind::Flag),
    ("n_methods_flagged", Kind::Count),
    ("is_signal", Kind::Flag),
];

/// Every column is present, in order, with the Arrow type its kind allows.
#[track_caller]
fn assert_signals_schema(t: &Table) {
    let names: Vec<&str> = t
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let want: Vec<&str> = SIGNALS_COLUMNS.iter().map(|(c, _)| *c).collect();
    assert_eq!(names, want, "signals.parquet columns");
    for (field, (name, kind)) in t.schema.fields().iter().zip(SIGNALS_COLUMNS) {
        let ty = field.data_type();
        let ok = match kind {
            Kind::Text => matches!(ty, DataType::Utf8 | DataType::LargeUtf8),
            Kind::Count => ty == &DataType::Int64,
            Kind::Measure => ty == &DataType::Float64,
            Kind::Flag => ty == &DataType::Boolean,
        };
        assert!(ok, "column `{name}` is {ty}, expected {kind:?}");
    }
}

/// The `[signals]` settings a table was computed with (README defaults where unset).
#[derive(Debug, Clone)]
struct Criteria {
    methods: Vec<String>,
    min_methods: i64,
    prr_min_a: f64,
    prr_min_prr: f64,
    prr_min_chi2: f64,
    ror_min_a: f64,
    ror_min_lower: f64,
    min_ic025: f64,
    min_eb05: f64,
    continuity_correction: f64,
}

impl Default for Criteria {
    fn default() -> Criteria {
        Criteria {
            methods: ["prr", "ror", "bcpnn", "ebgm"].map(String::from).to_vec(),
            min_methods: 1,
            prr_min_a: 3.0,
            prr_min_prr: 2.0,
            prr_min_chi2: 4.0,
            ror_min_a: 3.0,
            ror_min_lower: 1.0,
            min_ic025: 0.0,
            min_eb05: 2.0,
            continuity_correction: 0.0,
        }
    }
}

impl Criteria {
    /// The settings of a pipeline file's `[signals]` table.
    fn of_pipeline(path: &Path) -> Criteria {
        let text = std::fs::read_to_string(path).expect("read the pipeline");
        let v: toml::Table = text.parse().expect("the pipeline is TOML");
        let mut c = Criteria::default();
        let Some(s) = v.get("signals").and_then(|s| s.as_table()) else {
            return c;
        };
        let num = |t: &toml::Table, key: &str, default: f64| -> f64 {
            match t.get(key) {
                Some(toml::Value::Float(x)) => *x,
                Some(toml::Value::Integer(i)) => *i as f64,
                None => default,
                Some(other) => panic!("{key} is not a number: {other:?}"),
            }
        };
        let sub = |key: &str| -> toml::Table {
            s.get(key)
                .and_then(|t| t.as_table())
                .cloned()
                .unwrap_or_default()
        };
        if let Some(m) = s.get("methods").and_then(|m| m.as_array()) {
            c.methods = m
                .iter()
                .map(|x| x.as_str().expect("a method name").to_string())
                .collect();
        }
        c.min_methods = num(s, "min_methods", 1.0) as i64;
        c.continuity_correction = num(s, "continuity_correction", 0.0);
        let (prr, ror, bcpnn, ebgm) = (sub("prr"), sub("ror"), sub("bcpnn"), sub("ebgm"));
        c.prr_min_a = num(&prr, "min_a", 3.0);
        c.prr_min_prr = num(&prr, "min_prr", 2.0);
        c.prr_min_chi2 = num(&prr, "min_chi2", 4.0);
        c.ror_min_a = num(&ror, "min_a", 3.0);
        c.ror_min_lower = num(&ror, "min_lower", 1.0);
        c.min_ic025 = num(&bcpnn, "min_ic025", 0.0);
        c.min_eb05 = num(&ebgm, "min_eb05", 2.0);
        c
    }

    fn uses(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

/// A measure that may be null.
#[track_caller]
fn opt(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        Value::Float(x) => Some(*x),
        other => panic!("expected a float or null, found {other:?}"),
    }
}

/// `lower ≤ point ≤ upper` when all three are defined.
#[track_caller]
fn assert_ordered(
    what: &str,
    row: usize,
    lower: Option<f64>,
    point: Option<f64>,
    upper: Option<f64>,
) {
    if let (Some(l), Some(p), Some(u)) = (lower, point, upper) {
        assert!(l <= p && p <= u, "row {row}: {what}: {l} <= {p} <= {u}");
    }
}

/// The README's row-by-row contract: cells add up, one row per (class, product, event)
/// in sorted order, `n` is the same for a class, intervals hold their point, every float
/// is finite, a null has a reason, each flag is its method's criterion, and
/// `n_methods_flagged` and `is_signal` follow `methods` and `min_methods`.
#[track_caller]
fn assert_rows_consistent(t: &Table, crit: &Criteria) {
    let mut keys = Vec::new();
    let mut n_of_class: BTreeMap<String, i64> = BTreeMap::new();
    for r in 0..t.rows.len() {
        let int = |c: &str| t.get(r, c).int();
        let f = |c: &str| opt(t.get(r, c));
        let flag = |c: &str| t.get(r, c).bool();
        let (a, b, c, d, n) = (int("a"), int("b"), int("c"), int("d"), int("n"));
        let class = t.get(r, "class").str().to_string();
        keys.push((
            class.clone(),
            t.get(r, "product_id").str().to_string(),
            t.get(r, "event").str().to_string(),
        ));
        assert!(
            a >= 1 && b >= 0 && c >= 0 && d >= 0,
            "row {r}: cells {a} {b} {c} {d}"
        );
        assert_eq!(a + b + c + d, n, "row {r}: a + b + c + d = n");
        let first_n = *n_of_class.entry(class.clone()).or_insert(n);
        assert_eq!(
            n, first_n,
            "row {r}: n is the same for every row of `{class}`"
        );

        for (i, v) in t.rows[r].iter().enumerate() {
            if let Value::Float(x) = v {
                assert!(
                    x.is_finite(),
                    "row {r}: `{}` is {x}",
                    t.schema.field(i).name()
                );
            }
        }
        let e = f("expected").expect("expected is never null");
        assert!(e > 0.0, "row {r}: expected {e} > 0 because a >= 1");

        assert_ordered("prr", r, f("prr_lower"), f("prr"), f("prr_upper"));
        assert_ordered("ror", r, f("ror_lower"), f("ror"), f("ror_upper"));
        let (ic, ic025, ic975) = (f("ic"), f("ic025"), f("ic975"));
        let (ebgm, eb05, eb95) = (f("ebgm"), f("eb05"), f("eb95"));
        for (name, v) in [
            ("ic", ic),
            ("ic025", ic025),
            ("ic975", ic975),
            ("ebgm", ebgm),
            ("eb05", eb05),
            ("eb95", eb95),
        ] {
            assert!(v.is_some(), "row {r}: `{name}` is always defined (E > 0)");
        }
        assert_ordered("ic", r, ic025, ic, ic975);
        assert_ordered("ebgm", r, eb05, ebgm, eb95);

        let prr_any_null = ["prr", "prr_lower", "prr_upper", "chi2"]
            .iter()
            .any(|c| f(c).is_none());
        assert_eq!(
            !t.get(r, "prr_null_reason").is_null(),
            prr_any_null,
            "row {r}: prr_null_reason is set exactly when a PRR value is null"
        );
        let ror_any_null = ["ror", "ror_lower", "ror_upper"]
            .iter()
            .any(|c| f(c).is_none());
        assert_eq!(
            !t.get(r, "ror_null_reason").is_null(),
            ror_any_null,
            "row {r}: ror_null_reason is set exactly when a ROR value is null"
        );

        // Each method's criterion, as the README states it; a null never flags.
        let af = a as f64;
        let want_prr = match (f("prr"), f("chi2")) {
            (Some(p), Some(x2)) => {
                af >= crit.prr_min_a && p >= crit.prr_min_prr && x2 >= crit.prr_min_chi2
            }
            _ => false,
        };
        let want_ror =
            af >= crit.ror_min_a && f("ror_lower").is_some_and(|l| l > crit.ror_min_lower);
        let want_bcpnn = ic025.is_some_and(|x| x > crit.min_ic025);
        let want_ebgm = eb05.is_some_and(|x| x >= crit.min_eb05);
        let flags = [
            ("prr", "prr_flag", want_prr),
            ("ror", "ror_flag", want_ror),
            ("bcpnn", "bcpnn_flag", want_bcpnn),
            ("ebgm", "ebgm_flag", want_ebgm),
        ];
        let mut counted = 0;
        for (method, column, want) in flags {
            assert_eq!(flag(column), want, "row {r}: `{column}`");
            if want && crit.uses(method) {
                counted += 1;
            }
        }
        assert_eq!(
            int("n_methods_flagged"),
            counted,
            "row {r}: n_methods_flagged"
        );
        assert_eq!(
            flag("is_signal"),
            counted >= crit.min_methods,
            "row {r}: is_signal = n_methods_flagged >= {}",
            crit.min_methods
        );
    }
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        keys, sorted,
        "one row per (class, product_id, event), sorted"
    );
}

/// What the README's formulas give for one table's PRR, χ² and ROR.
#[derive(Debug, Clone, PartialEq)]
struct Crude {
    prr: Option<f64>,
    prr_lower: Option<f64>,
    prr_upper: Option<f64>,
    chi2: Option<f64>,
    ror: Option<f64>,
    ror_lower: Option<f64>,
    ror_upper: Option<f64>,
}

/// PRR and its interval, Yates' χ² and ROR and its interval of the cells `a, b, c, d`,
/// from the README's formulas and edge rules: `cc` is added to every cell of a table with
/// a zero cell (for PRR and ROR only); PRR is null when c = 0; ROR is null when b = 0 or
/// c = 0 and has no interval when d = 0; χ² uses the raw cells and is null when a margin
/// is zero.
fn crude(a: i64, b: i64, c: i64, d: i64, cc: f64) -> Crude {
    let (a, b, c, d) = (a as f64, b as f64, c as f64, d as f64);
    let n = a + b + c + d;
    let chi2 = if [a + b, c + d, a + c, b + d].contains(&0.0) {
        None
    } else {
        let x = ((a * d - b * c).abs() - n / 2.0).max(0.0);
        Some(n * x * x / ((a + b) * (c + d) * (a + c) * (b + d)))
    };
    let (a, b, c, d) = if cc > 0.0 && [a, b, c, d].contains(&0.0) {
        (a + cc, b + cc, c + cc, d + cc)
    } else {
        (a, b, c, d)
    };
    let (prr, prr_lower, prr_upper) = if c == 0.0 {
        (None, None, None)
    } else {
        let p = (a / (a + b)) / (c / (c + d));
        let se = (1.0 / a - 1.0 / (a + b) + 1.0 / c - 1.0 / (c + d)).sqrt();
        (Some(p), Some(p * (-Z * se).exp()), Some(p * (Z * se).exp()))
    };
    let (ror, ror_lower, ror_upper) = if b == 0.0 || c == 0.0 {
        (None, None, None)
    } else if d == 0.0 {
        (Some(0.0), None, None)
    } else {
        let o = a * d / (b * c);
        let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
        (Some(o), Some(o * (-Z * se).exp()), Some(o * (Z * se).exp()))
    };
    Crude {
        prr,
        prr_lower,
        prr_upper,
        chi2,
        ror,
        ror_lower,
        ror_upper,
    }
}

/// `actual` and `expected` are both null, or both defined and within `rel`.
#[track_caller]
fn assert_opt_close(what: &str, actual: Option<f64>, expected: Option<f64>, rel: f64) {
    match (actual, expected) {
        (None, None) => {}
        (Some(x), Some(y)) => {
            let err = if y == 0.0 {
                x.abs()
            } else {
                ((x - y) / y).abs()
            };
            assert!(err <= rel, "{what}: {x} is not within {rel} of {y}");
        }
        _ => panic!("{what}: found {actual:?}, expected {expected:?}"),
    }
}

/// A two-gamma mixture prior (DuMouchel 1999), rates not scales.
#[derive(Debug, Clone, Copy)]
struct Prior {
    alpha1: f64,
    beta1: f64,
    alpha2: f64,
    beta2: f64,
    p: f64,
}

/// ln f(n; α, β, E), the negative-binomial marginal of one gamma component:
/// `Γ(α+n)/(Γ(α) n!) · (β/(β+E))^α · (E/(β+E))^n`.
fn ln_nb(n: f64, alpha: f64, beta: f64, e: f64) -> f64 {
    ln_gamma(alpha + n) - ln_gamma(alpha) - ln_gamma(n + 1.0)
        + alpha * (beta / (beta + e)).ln()
        + n * (e / (beta + e)).ln()
}

impl Prior {
    /// A prior as the manifest lists it.
    #[track_caller]
    fn of_manifest(v: &serde_json::Value) -> Prior {
        let x = |k: &str| {
            v[k].as_f64()
                .unwrap_or_else(|| panic!("prior.{k} is a number"))
        };
        Prior {
            alpha1: x("alpha1"),
            beta1: x("beta1"),
            alpha2: x("alpha2"),
            beta2: x("beta2"),
            p: x("p"),
        }
    }

    /// Posterior weight of the first component: `Q = P f₁(n) / (P f₁(n) + (1−P) f₂(n))`.
    fn q(&self, n: f64, e: f64) -> f64 {
        let l1 = self.p.ln() + ln_nb(n, self.alpha1, self.beta1, e);
        let l2 = (1.0 - self.p).ln() + ln_nb(n, self.alpha2, self.beta2, e);
        1.0 / (1.0 + (l2 - l1).exp())
    }

    /// `EBGM = exp(Q(ψ(α₁+n) − ln(β₁+E)) + (1−Q)(ψ(α₂+n) − ln(β₂+E)))`.
    fn ebgm(&self, n: f64, e: f64) -> f64 {
        let q = self.q(n, e);
        (q * (digamma(self.alpha1 + n) - (self.beta1 + e).ln())
            + (1.0 - q) * (digamma(self.alpha2 + n) - (self.beta2 + e).ln()))
        .exp()
    }

    /// The posterior CDF of λ at `x`: `Q·G(α₁+n, β₁+E)(x) + (1−Q)·G(α₂+n, β₂+E)(x)`.
    fn posterior_cdf(&self, n: f64, e: f64, x: f64) -> f64 {
        let q = self.q(n, e);
        let g1 = Gamma::new(self.alpha1 + n, self.beta1 + e).expect("a gamma");
        let g2 = Gamma::new(self.alpha2 + n, self.beta2 + e).expect("a gamma");
        q * g1.cdf(x) + (1.0 - q) * g2.cdf(x)
    }

    /// f(n) of the mixture (`n` may be 0).
    fn f(&self, n: f64, e: f64) -> f64 {
        self.p * ln_nb(n, self.alpha1, self.beta1, e).exp()
            + (1.0 - self.p) * ln_nb(n, self.alpha2, self.beta2, e).exp()
    }

    /// The zero-truncated −log-likelihood of pairs `(a, E)` under `truncation = "mixture"`:
    /// `−Σ ln(f(a) / (1 − f(0)))`.
    fn nll_mixture(&self, pairs: &[(f64, f64)]) -> f64 {
        -pairs
            .iter()
            .map(|&(n, e)| self.f(n, e).ln() - (1.0 - self.f(0.0, e)).ln())
            .sum::<f64>()
    }

    /// The same under `truncation = "per_component"` (openEBGM, PhViD):
    /// `−Σ ln(P f₁(a)/(1 − f₁(0)) + (1−P) f₂(a)/(1 − f₂(0)))`.
    fn nll_per_component(&self, pairs: &[(f64, f64)]) -> f64 {
        let f1 = |n: f64, e: f64| ln_nb(n, self.alpha1, self.beta1, e).exp();
        let f2 = |n: f64, e: f64| ln_nb(n, self.alpha2, self.beta2, e).exp();
        -pairs
            .iter()
            .map(|&(n, e)| {
                (self.p * f1(n, e) / (1.0 - f1(0.0, e))
                    + (1.0 - self.p) * f2(n, e) / (1.0 - f2(0.0, e)))
                .ln()
            })
            .sum::<f64>()
    }
}

/// The prior of `class` in a manifest.
#[track_caller]
fn manifest_prior<'a>(manifest: &'a serde_json::Value, class: &str) -> &'a serde_json::Value {
    manifest["signals"]["priors"]
        .as_array()
        .expect("manifest.signals.priors is a list")
        .iter()
        .find(|p| p["class"] == class)
        .unwrap_or_else(|| panic!("no prior for `{class}` in the manifest"))
}

/// Every statistic of every row equals its README formula, computed here from the row's
/// cells, its `expected` and its class's prior from the manifest: PRR, χ², ROR (and
/// intervals) within 1e-10 relative, IC within 1e-12 with IC025/IC975 the exact gamma
/// quantiles (CDF within 1e-9), EBGM from DuMouchel's formula within 1e-9 relative, and
/// EB05/EB95 the posterior's 5% and 95% quantiles (CDF within 1e-8).
#[track_caller]
fn assert_statistics_follow_formulas(t: &Table, manifest: &serde_json::Value, cc: f64) {
    for r in 0..t.rows.len() {
        let int = |c: &str| t.get(r, c).int();
        let f = |c: &str| opt(t.get(r, c));
        let (a, b, c, d) = (int("a"), int("b"), int("c"), int("d"));
        let tag = format!(
            "row {r} ({} × {}: {a}, {b}, {c}, {d})",
            t.get(r, "product_id").str(),
            t.get(r, "event").str()
        );
        let want = crude(a, b, c, d, cc);
        for (name, got, want) in [
            ("prr", f("prr"), want.prr),
            ("prr_lower", f("prr_lower"), want.prr_lower),
            ("prr_upper", f("prr_upper"), want.prr_upper),
            ("chi2", f("chi2"), want.chi2),
            ("ror", f("ror"), want.ror),
            ("ror_lower", f("ror_lower"), want.ror_lower),
            ("ror_upper", f("ror_upper"), want.ror_upper),
        ] {
            assert_opt_close(&format!("{tag}: {name}"), got, want, 1e-10);
        }

        let (af, e) = (a as f64, t.get(r, "expected").float());
        let ic = t.get(r, "ic").float();
        assert_close(ic, ((af + 0.5) / (e + 0.5)).log2(), 1e-12);
        let g = Gamma::new(af + 0.5, e + 0.5).expect("a gamma");
        for (name, q) in [("ic025", 0.025), ("ic975", 0.975)] {
            let x = 2f64.powf(t.get(r, name).float());
            let p = g.cdf(x);
            assert!(
                (p - q).abs() < 1e-9,
                "{tag}: {name}: CDF at 2^{name} is {p}, not {q}"
            );
        }

        let class = t.get(r, "class").str();
        let prior = Prior::of_manifest(manifest_prior(manifest, class));
        let ebgm = t.get(r, "ebgm").float();
        let want_ebgm = prior.ebgm(af, e);
        assert!(
            ((ebgm - want_ebgm) / want_ebgm).abs() <= 1e-9,
            "{tag}: ebgm {ebgm}, DuMouchel's formula gives {want_ebgm}"
        );
        for (name, q) in [("eb05", 0.05), ("eb95", 0.95)] {
            let x = t.get(r, name).float();
            let p = prior.posterior_cdf(af, e, x);
            assert!(
                (p - q).abs() < 1e-8,
                "{tag}: {name} = {x}: posterior CDF {p}, not {q}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The demo on the sample data.

/// The demo's signals table and manifest for one period.
struct Demo {
    table: Table,
    manifest: serde_json::Value,
}

/// Run `pipelines/demo.toml` with `--out` a temporary folder (and `--period`), and read
/// its outputs back.
fn run_demo(period: Option<&str>) -> Demo {
    let fx = Fixture::empty();
    let demo = demo_toml().display().to_string();
    let out = fx.ps("out");
    let mut args = vec!["run", demo.as_str(), "--out", out.as_str()];
    if let Some(p) = period {
        args.extend(["--period", p]);
    }
    fx.run(&args).expect_ok();
    let dir = period_dir(&fx.p("out"), period.unwrap_or("2025"));
    assert!(
        dir.join("signals.parquet").is_file(),
        "signals.parquet is written"
    );
    Demo {
        table: read_parquet(&dir.join("signals.parquet")),
        manifest: read_json(&dir.join("manifest.json")),
    }
}

fn demo_toml() -> std::path::PathBuf {
    repo().join("pipelines/demo.toml")
}

/// The demo for its own period (2025), run once for all the tests that read it.
fn demo_2025() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| run_demo(None))
}

/// Key of a signals row.
type Key = (String, String, String);

/// The sample data counted again from its CSV files, without pvwatch's code: the latest
/// valid version of each case (highest `version`, then later `received_date`, then higher
/// `report_id`), its first receipt (earliest `received_date` of its versions), suspect
/// and interacting products (an empty role is a suspect), each product and event once per
/// case.
struct Recount {
    /// Cases in the background of each class.
    n: BTreeMap<String, i64>,
    /// `[a, b, c, d]` of every (class, product, event) with a ≥ 1, every product.
    cells: BTreeMap<Key, [i64; 4]>,
}

/// The rows of a CSV file as maps of column name to trimmed value. A row with the wrong
/// number of fields is a reject, so it is left out.
pub(crate) fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = rdr
        .headers()
        .expect("a header")
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    rdr.records()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|r| r.len() == header.len())
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.iter().map(|v| v.trim().to_string()))
                .collect()
        })
        .collect()
}

pub(crate) fn date(s: &str) -> Option<chrono::NaiveDate> {
    (s.len() == 10)
        .then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

pub(crate) fn truthy(s: &str) -> Option<bool> {
    match s.to_lowercase().as_str() {
        "true" | "1" | "yes" | "是" => Some(true),
        "false" | "0" | "no" | "否" => Some(false),
        _ => None,
    }
}

/// The README's checks of a `reports` row's key and required values: a row fails only on
/// those. A bad optional value (the sample's `age_years = -4`, `sentinel = maybe`) is
/// nulled and the row kept.
fn report_is_valid(r: &HashMap<String, String>) -> bool {
    let v = |c: &str| r.get(c).map(String::as_str).unwrap_or("");
    !v("report_id").is_empty()
        && date(v("received_date")).is_some()
        && ["drug", "device", "cosmetic"].contains(&v("class").to_lowercase().as_str())
        && v("region").len() == 6
        && v("region").bytes().all(|b| b.is_ascii_digit())
}

/// Recount `dir`'s CSVs with the background ending on `end` (`YYYY-MM-DD`).
fn recount(dir: &Path, end: &str) -> Recount {
    let end = date(end).expect("a test date");
    // Valid report rows, the first of a duplicated report_id winning.
    let mut seen = BTreeSet::new();
    let mut reports = Vec::new();
    for r in read_csv(&dir.join("reports.csv")) {
        if report_is_valid(&r) && seen.insert(r["report_id"].clone()) {
            reports.push(r);
        }
    }
    // As of `end`: versions received later do not exist for the run.
    reports.retain(|r| date(&r["received_date"]).expect("checked") <= end);
    // Latest version and first receipt of each case.
    type Rank = (i64, chrono::NaiveDate, String);
    let mut latest: HashMap<String, (Rank, String)> = HashMap::new();
    let mut first: HashMap<String, chrono::NaiveDate> = HashMap::new();
    for r in &reports {
        let case = match r.get("case_id").map(String::as_str) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => r["report_id"].clone(),
        };
        let received = date(&r["received_date"]).expect("checked");
        let version = r.get("version").and_then(|v| v.parse().ok()).unwrap_or(1);
        let rank = (version, received, r["report_id"].clone());
        let class = r["class"].to_lowercase();
        let e = latest
            .entry(case.clone())
            .or_insert((rank.clone(), class.clone()));
        if rank > e.0 {
            *e = (rank, class);
        }
        let f = first.entry(case).or_insert(received);
        *f = (*f).min(received);
    }
    // The background: latest versions of cases first received by `end`.
    let mut cases: BTreeMap<String, (String, BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    let mut case_of_report: HashMap<String, String> = HashMap::new();
    for (case, ((_, _, report_id), class)) in &latest {
        if first[case] <= end {
            cases.insert(
                case.clone(),
                (class.clone(), BTreeSet::new(), BTreeSet::new()),
            );
            case_of_report.insert(report_id.clone(), case.clone());
        }
    }
    for r in read_csv(&dir.join("report_products.csv")) {
        let role = r.get("role").map(|s| s.to_lowercase()).unwrap_or_default();
        // Only a concomitant role does not count: an unreadable role is nulled, and a
        // missing role is `suspect`.
        let counts = role != "concomitant";
        if let (true, Some(case)) = (counts, case_of_report.get(&r["report_id"])) {
            if !r["product_id"].is_empty() {
                cases
                    .get_mut(case)
                    .expect("a case")
                    .1
                    .insert(r["product_id"].clone());
            }
        }
    }
    for r in read_csv(&dir.join("report_events.csv")) {
        if let Some(case) = case_of_report.get(&r["report_id"]) {
            if !r["event"].is_empty() {
                cases
                    .get_mut(case)
                    .expect("a case")
                    .2
                    .insert(r["event"].clone());
            }
        }
    }
    let mut n: BTreeMap<String, i64> = BTreeMap::new();
    let mut n_product: HashMap<(String, String), i64> = HashMap::new();
    let mut n_event: HashMap<(String, String), i64> = HashMap::new();
    let mut a: BTreeMap<Key, i64> = BTreeMap::new();
    for (class, products, events) in cases.values() {
        *n.entry(class.clone()).or_default() += 1;
        for p in products {
            *n_product.entry((class.clone(), p.clone())).or_default() += 1;
        }
        for e in events {
            *n_event.entry((class.clone(), e.clone())).or_default() += 1;
            for p in products {
                *a.entry((class.clone(), p.clone(), e.clone())).or_default() += 1;
            }
        }
    }
    let cells = a
        .into_iter()
        .map(|((class, p, e), a)| {
            let np = n_product[&(class.clone(), p.clone())];
            let ne = n_event[&(class.clone(), e.clone())];
            let b = np - a;
            let c = ne - a;
            let d = n[&class] - np - ne + a;
            ((class, p, e), [a, b, c, d])
        })
        .collect();
    Recount { n, cells }
}

/// `products.csv` of the sample: id -> (name, innovative, conditional, procured).
fn registry() -> HashMap<String, (String, bool, bool, bool)> {
    read_csv(&repo().join("sample-data/products.csv"))
        .into_iter()
        .map(|r| {
            let flag = |c: &str| truthy(&r[c]).unwrap_or(false);
            let v = (
                r["name"].clone(),
                flag("innovative"),
                flag("conditional"),
                flag("procured"),
            );
            (r["product_id"].clone(), v)
        })
        .collect()
}

/// The demo's table holds exactly the recount's pairs of watched products (innovative,
/// conditional or procured in `products.csv`), with the recount's cells and background,
/// the registry's names and flags, and `event_terms.csv`'s SOC.
#[track_caller]
fn assert_table_is_the_recount(t: &Table, rc: &Recount, period: &str) {
    let registry = registry();
    let soc: HashMap<String, String> = read_csv(&repo().join("sample-data/event_terms.csv"))
        .into_iter()
        .map(|r| (r["event"].clone(), r["soc"].clone()))
        .collect();
    let watched = |p: &str| registry.get(p).is_some_and(|x| x.1 || x.2 || x.3);
    let want: BTreeSet<&Key> = rc.cells.keys().filter(|k| watched(&k.1)).collect();
    let mut got = BTreeSet::new();
    for r in 0..t.rows.len() {
        let s = |c: &str| t.get(r, c).str().to_string();
        let key = (s("class"), s("product_id"), s("event"));
        assert_eq!(s("period"), period);
        let cells = ["a", "b", "c", "d"].map(|c| t.get(r, c).int());
        assert_eq!(Some(&cells), rc.cells.get(&key), "cells of {key:?}");
        assert_eq!(t.get(r, "n").int(), rc.n[&key.0], "n of {key:?}");
        let (name, innovative, conditional, procured) = &registry[&key.1];
        assert_eq!(&s("product_name"), name);
        assert_eq!(t.get(r, "innovative").bool(), *innovative, "{key:?}");
        assert_eq!(t.get(r, "conditional").bool(), *conditional, "{key:?}");
        assert_eq!(t.get(r, "procured").bool(), *procured, "{key:?}");
        match soc.get(&key.2) {
            Some(s) => assert_eq!(t.get(r, "soc"), &Value::Str(s.clone()), "{key:?}"),
            None => assert!(t.get(r, "soc").is_null(), "{key:?}"),
        }
        got.insert(key);
    }
    assert_eq!(got.iter().collect::<BTreeSet<_>>(), want, "watched pairs");
}

#[test]
fn demo_flags_the_planted_signals_and_not_the_planted_non_signal() {
    let t = &demo_2025().table;
    // sample-data/README.md, "Planted signals": a (cases 2024 + 2025) and c (the other
    // cases of the class with the event).
    let planted = [
        ("drug", "D008", "替雷利珠单抗注射液", "Myocarditis", 16, 1),
        (
            "drug",
            "D008",
            "替雷利珠单抗注射液",
            "Immune-mediated hepatitis",
            14,
            2,
        ),
        (
            "device",
            "M001",
            "冠状动脉药物洗脱支架",
            "Thrombosis",
            15,
            19,
        ),
    ];
    for (class, product, name, event, a, c) in planted {
        let r = t.row_where(&[("class", class), ("product_id", product), ("event", event)]);
        let tag = format!("{product} × {event}");
        assert_eq!(t.get(r, "product_name").str(), name, "{tag}");
        assert_eq!((t.get(r, "a").int(), t.get(r, "c").int()), (a, c), "{tag}");
        // Strong enough that PRR, ROR and IC all flag it whatever the EBGM prior fit.
        for flag in ["prr_flag", "ror_flag", "bcpnn_flag", "is_signal"] {
            assert!(t.get(r, flag).bool(), "{tag}: {flag}");
        }
        assert!(t.get(r, "n_methods_flagged").int() >= 3, "{tag}");
    }
    // "M001 × Thrombosis … PRR ≈ 5.7".
    let r = t.row_where(&[("product_id", "M001"), ("event", "Thrombosis")]);
    assert!(
        (t.get(r, "prr").float() - 5.7).abs() < 0.05,
        "{:?}",
        t.rows[r]
    );

    // The planted non-signal: 26 of D005's 289 cases, at the background rate (PRR ≈ 1.0).
    let r = t.row_where(&[
        ("class", "drug"),
        ("product_id", "D005"),
        ("event", "Headache"),
    ]);
    assert_eq!(t.get(r, "product_name").str(), "阿托伐他汀钙片");
    assert_eq!(t.get(r, "a").int(), 26);
    assert_eq!(t.get(r, "a").int() + t.get(r, "b").int(), 289);
    assert!(
        (t.get(r, "prr").float() - 1.0).abs() < 0.05,
        "{:?}",
        t.rows[r]
    );
    assert_eq!(t.get(r, "n_methods_flagged").int(), 0);
    for flag in [
        "prr_flag",
        "ror_flag",
        "bcpnn_flag",
        "ebgm_flag",
        "is_signal",
    ] {
        assert!(!t.get(r, flag).bool(), "D005 × Headache: {flag}");
    }
}

#[test]
fn demo_cells_equal_an_independent_recount_of_the_sample_csvs() {
    let rc = recount(&repo().join("sample-data"), "2025-12-31");
    // The recount agrees with sample-data/README.md: every good case is received by
    // 2025-12-31, drug 1,936 + 2,238, device 563 + 653, cosmetic 274 + 344, plus the two
    // drug cases whose only bad value is optional (reports.csv lines 1043 and 3141).
    let want: BTreeMap<String, i64> = [("cosmetic", 618), ("device", 1216), ("drug", 4176)]
        .map(|(c, n)| (c.to_string(), n))
        .into();
    assert_eq!(rc.n, want);
    assert_table_is_the_recount(&demo_2025().table, &rc, "2025");
}

#[test]
fn demo_2024_background_is_the_cases_first_received_by_the_end_of_2024() {
    let d = run_demo(Some("2024"));
    let rc = recount(&repo().join("sample-data"), "2024-12-31");
    // Fewer cases than 2025's background, but more than the README's latest-version 2024
    // counts (1,936 drug, 563 device, 274 cosmetic): a case first received in 2024 with a
    // follow-up in 2025 belongs to 2024's background.
    for (class, latest_in_2024, all) in [
        ("drug", 1936, 4176),
        ("device", 563, 1216),
        ("cosmetic", 274, 618),
    ] {
        let n = rc.n[class];
        assert!(latest_in_2024 <= n && n < all, "{class}: {n}");
    }
    assert_eq!(
        rc.n.values().sum::<i64>() - (1936 + 563 + 274),
        53 + 2,
        "the 53 cases that begin in 2024 and have their latest version in 2025, and the two \
         2024 drug cases kept with a nulled optional value (reports.csv lines 1043, 3141)"
    );
    assert_table_is_the_recount(&d.table, &rc, "2024");
    assert_rows_consistent(&d.table, &Criteria::of_pipeline(&demo_toml()));
}

#[test]
fn demo_rows_keep_the_contract_and_every_statistic_follows_its_formula() {
    let d = demo_2025();
    assert!(!d.table.rows.is_empty());
    let crit = Criteria::of_pipeline(&demo_toml());
    assert_eq!(crit.min_methods, 2, "demo.toml asks for two methods");
    assert_rows_consistent(&d.table, &crit);
    assert_statistics_follow_formulas(&d.table, &d.manifest, crit.continuity_correction);
}

#[test]
fn demo_signals_schema_is_bi_friendly() {
    assert_signals_schema(&demo_2025().table);
}

#[test]
fn demo_manifest_records_each_class_prior_and_the_table_counts() {
    let d = demo_2025();
    let rc = recount(&repo().join("sample-data"), "2025-12-31");
    let s = &d.manifest["signals"];
    let count = |k: &str| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("signals.{k} is a count"))
    };
    assert_eq!(
        count("pairs_counted"),
        rc.cells.len() as u64,
        "every product's pairs"
    );
    assert_eq!(count("watched_pairs"), d.table.rows.len() as u64);
    let flagged = d
        .table
        .column("is_signal")
        .iter()
        .filter(|v| v.bool())
        .count();
    assert_eq!(count("signals"), flagged as u64);

    let priors = s["priors"].as_array().expect("signals.priors is a list");
    let classes: Vec<&str> = priors
        .iter()
        .map(|p| p["class"].as_str().expect("class"))
        .collect();
    assert_eq!(
        classes,
        ["cosmetic", "device", "drug"],
        "one prior per class"
    );
    for p in priors {
        let class = p["class"].as_str().expect("class");
        let prior = Prior::of_manifest(p);
        for (k, v) in [
            ("alpha1", prior.alpha1),
            ("beta1", prior.beta1),
            ("alpha2", prior.alpha2),
            ("beta2", prior.beta2),
        ] {
            assert!(v.is_finite() && v > 0.0, "{class}: {k} = {v}");
        }
        assert!(prior.p > 0.0 && prior.p < 1.0, "{class}: p = {}", prior.p);
        // The demo's classes are small: each takes its own fit, the pooled fit or the fixed
        // prior by the rule of `signals::priors`, and says which.
        let kind = p["ebgm_prior"].as_str().expect("ebgm_prior");
        assert!(
            ["fitted", "pooled", "fixed"].contains(&kind),
            "{class}: {kind}"
        );
        assert_eq!(p["reason"].is_null(), kind == "fitted", "{class}: {p}");
        assert_eq!(p["truncation"], "mixture", "{class}");
        // Over all pairs of the class, not only the watched ones.
        let pairs: Vec<(f64, f64)> = rc
            .cells
            .iter()
            .filter(|(k, _)| k.0 == class)
            .map(|(_, [a, b, c, d])| {
                let n = (a + b + c + d) as f64;
                (*a as f64, (a + b) as f64 * (a + c) as f64 / n)
            })
            .collect();
        assert_eq!(p["pairs"].as_u64(), Some(pairs.len() as u64), "{class}");
        // The −log-likelihood is that of the prior it sits beside.
        let nll = p["neg_log_lik"].as_f64().expect("neg_log_lik is a number");
        assert!(nll.is_finite(), "{class}: {nll}");
        assert_close(nll, prior.nll_mixture(&pairs), 1e-9);
    }
}

// ---------------------------------------------------------------------------------------
// Hand-made databases.

/// A hand-made database written as a pipeline's input tables. Reports are numbered
/// `R001…`; each one is a new case `C001…` (same number) unless a case is named.
#[derive(Default)]
struct Db {
    reports: Vec<String>,
    products: Vec<String>,
    events: Vec<String>,
}

/// One report version to add: `rep(products, events)`, then the builder methods.
#[derive(Clone)]
struct Rep {
    class: &'static str,
    date: &'static str,
    sex: &'static str,
    age: &'static str,
    /// A follow-up: (case_id, version).
    case: Option<(&'static str, u32)>,
    /// `"P"` is a suspect; `"P:concomitant"` names the role, `"P:"` leaves it empty.
    products: Vec<&'static str>,
    events: Vec<&'static str>,
}

/// A drug report received on 2025-03-01 with no sex or age.
fn rep(products: &[&'static str], events: &[&'static str]) -> Rep {
    Rep {
        class: "drug",
        date: "2025-03-01",
        sex: "",
        age: "",
        case: None,
        products: products.to_vec(),
        events: events.to_vec(),
    }
}

impl Rep {
    fn class(self, class: &'static str) -> Rep {
        Rep { class, ..self }
    }
    fn date(self, date: &'static str) -> Rep {
        Rep { date, ..self }
    }
    fn sex(self, sex: &'static str) -> Rep {
        Rep { sex, ..self }
    }
    fn age(self, age: &'static str) -> Rep {
        Rep { age, ..self }
    }
    fn version(self, case: &'static str, version: u32) -> Rep {
        Rep {
            case: Some((case, version)),
            ..self
        }
    }
}

/// Products of the hand-made registry: three drugs and a cosmetic, none of them watched by
/// default (so the pipelines say `watch = ["all"]`).
const REGISTRY: &str =
    "product_id,name,class\nP,药品P,drug\nQ,药品Q,drug\nR,药品R,drug\nK,化妆品K,cosmetic\n";

impl Db {
    /// Add `k` copies of `r`.
    fn add(&mut self, k: usize, r: Rep) -> &mut Db {
        for _ in 0..k {
            let i = self.reports.len() + 1;
            let id = format!("R{i:03}");
            let (case, version) = match r.case {
                Some((c, v)) => (c.to_string(), v),
                None => (format!("C{i:03}"), 1),
            };
            self.reports.push(format!(
                "{id},{case},{version},{},{},330100,{},{}",
                r.date, r.class, r.sex, r.age
            ));
            for p in &r.products {
                let (p, role) = p.split_once(':').unwrap_or((p, "suspect"));
                self.products.push(format!("{id},{p},{role}"));
            }
            for e in &r.events {
                self.events.push(format!("{id},{e}"));
            }
        }
        self
    }

    /// A fixture with these tables and a pipeline whose `[signals]` table is
    /// `watch = ["all"]` followed by `signals` (more keys, then sub-tables).
    fn fixture(&self, signals: &str) -> Fixture {
        let fx = Fixture::empty();
        fx.write(
            "reports.csv",
            &csv(
                "report_id,case_id,version,received_date,class,region,sex,age_years",
                &self.reports,
            ),
        );
        fx.write(
            "report_products.csv",
            &csv("report_id,product_id,role", &self.products),
        );
        fx.write("report_events.csv", &csv("report_id,event", &self.events));
        fx.write("products.csv", REGISTRY);
        fx.write(
            "populations.csv",
            "region,year,population\n330000,2024,66700000\n",
        );
        set_signals(&fx, signals);
        fx
    }
}

/// Rewrite the fixture's pipeline with `[signals] watch = ["all"]` and `signals`.
fn set_signals(fx: &Fixture, signals: &str) {
    fx.pipeline("", &format!("[signals]\nwatch = [\"all\"]\n{signals}"));
}

/// Run the fixture's pipeline (with `extra` flags) and read `out/<period>/`'s signals
/// table and manifest.
#[track_caller]
fn run_signals(fx: &Fixture, period: &str, extra: &[&str]) -> (Table, serde_json::Value) {
    fx.run_pipeline(extra).expect_ok();
    let dir = period_dir(&fx.p("out"), period);
    (
        read_parquet(&dir.join("signals.parquet")),
        read_json(&dir.join("manifest.json")),
    )
}

/// The row of product × event (each hand-made product is in one class).
#[track_caller]
fn row(t: &Table, product: &str, event: &str) -> usize {
    t.row_where(&[("product_id", product), ("event", event)])
}

/// `[a, b, c, d, n]` of a row.
fn cells(t: &Table, r: usize) -> [i64; 5] {
    ["a", "b", "c", "d", "n"].map(|c| t.get(r, c).int())
}

/// The (product, event) pairs of a table, in order.
fn pairs(t: &Table) -> Vec<(String, String)> {
    (0..t.rows.len())
        .map(|r| {
            (
                t.get(r, "product_id").str().to_string(),
                t.get(r, "event").str().to_string(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(p, e)| (p.to_string(), e.to_string()))
        .collect()
}

/// The 2×2 database: P with E in 4 cases, P without E (with F) in 6, E without P (with Q)
/// in 10, neither (Q with F) in 80.
fn two_by_two() -> Db {
    let mut db = Db::default();
    db.add(4, rep(&["P"], &["E"]))
        .add(6, rep(&["P"], &["F"]))
        .add(10, rep(&["Q"], &["E"]))
        .add(80, rep(&["Q"], &["F"]));
    db
}

#[test]
fn two_by_two_table_gives_the_textbook_numbers() {
    let fx = two_by_two().fixture("");
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    assert_signals_schema(&t);
    assert_eq!(
        pairs(&t),
        owned(&[("P", "E"), ("P", "F"), ("Q", "E"), ("Q", "F")])
    );
    // The mirrored tables of the other pairs.
    assert_eq!(cells(&t, row(&t, "P", "F")), [6, 4, 80, 10, 100]);
    assert_eq!(cells(&t, row(&t, "Q", "E")), [10, 80, 4, 6, 100]);
    assert_eq!(cells(&t, row(&t, "Q", "F")), [80, 10, 6, 4, 100]);

    let r = row(&t, "P", "E");
    let f = |c: &str| t.get(r, c).float();
    // a = 4, b = 6, c = 10, d = 80, n = 100.
    assert_eq!(cells(&t, r), [4, 6, 10, 80, 100]);
    // E = (a+b)(a+c)/n = 10·14/100 = 1.4.
    assert_close(f("expected"), 1.4, 1e-12);
    // PRR = [a/(a+b)] / [c/(c+d)] = (4/10)/(10/90) = 0.4·9 = 3.6;
    // SE(ln PRR) = √(1/4 − 1/10 + 1/10 − 1/90) = √(0.25 − 0.0111…) = √0.2388…
    assert_close(f("prr"), 3.6, 1e-12);
    let se: f64 = (1.0 / 4.0 - 1.0 / 10.0 + 1.0 / 10.0 - 1.0 / 90.0_f64).sqrt();
    assert_close(f("prr_lower"), (3.6f64.ln() - Z * se).exp(), 1e-12);
    assert_close(f("prr_upper"), (3.6f64.ln() + Z * se).exp(), 1e-12);
    // Yates: ad − bc = 320 − 60 = 260; |260| − n/2 = 210; χ² = 100·210² /
    // ((a+b)(c+d)(a+c)(b+d)) = 100·44,100 / (10·90·14·86) = 4,410,000 / 1,083,600
    // = 11,025 / 2,709 = 4.0697…
    assert_close(f("chi2"), 11_025.0 / 2_709.0, 1e-12);
    // ROR = ad/(bc) = 320/60 = 16/3; SE(ln ROR) = √(1/4 + 1/6 + 1/10 + 1/80) = √0.52916…
    assert_close(f("ror"), 16.0 / 3.0, 1e-12);
    let se: f64 = (1.0 / 4.0 + 1.0 / 6.0 + 1.0 / 10.0 + 1.0 / 80.0_f64).sqrt();
    assert_close(f("ror_lower"), ((16.0f64 / 3.0).ln() - Z * se).exp(), 1e-12);
    assert_close(f("ror_upper"), ((16.0f64 / 3.0).ln() + Z * se).exp(), 1e-12);
    assert!(t.get(r, "prr_null_reason").is_null());
    assert!(t.get(r, "ror_null_reason").is_null());
    // IC = log2((a + 0.5)/(E + 0.5)) = log2(4.5/1.9); IC025 and IC975 are log2 of the
    // 2.5% and 97.5% quantiles of Gamma(4.5, rate 1.9).
    assert!(
        (f("ic") - (4.5f64 / 1.9).log2()).abs() < 1e-12,
        "{}",
        f("ic")
    );
    let g = Gamma::new(4.5, 1.9).expect("a gamma");
    assert!((g.cdf(2f64.powf(f("ic025"))) - 0.025).abs() < 1e-9);
    assert!((g.cdf(2f64.powf(f("ic975"))) - 0.975).abs() < 1e-9);
    // MHRA: a = 4 ≥ 3, PRR 3.6 ≥ 2, χ² 4.07 ≥ 4. ROR: lower = exp(ln 5.33 − 1.96·0.727)
    // = exp(0.248) = 1.28 > 1. IC025 = log2(0.71…) < 0, so WHO-UMC does not flag.
    assert!(t.get(r, "prr_flag").bool());
    assert!(t.get(r, "ror_flag").bool());
    assert!(f("ic025") < 0.0 && !t.get(r, "bcpnn_flag").bool());

    assert_rows_consistent(&t, &Criteria::default());
    assert_statistics_follow_formulas(&t, &manifest, 0.0);
    let s = &manifest["signals"];
    assert_eq!(s["pairs_counted"], 4);
    assert_eq!(s["watched_pairs"], 4);
}

#[test]
fn concomitant_repeated_and_superseded_products_and_events_do_not_count() {
    let mut db = Db::default();
    // C001 v1 names P and E; its version 2 (R002) names Q and F instead.
    db.add(1, rep(&["P"], &["E"]).date("2025-02-01"))
        .add(1, rep(&["Q"], &["F"]).date("2025-02-20").version("C001", 2))
        // C003: P twice and E twice.
        .add(1, rep(&["P", "P"], &["E", "E"]))
        // C004: P and R concomitant, Q suspect, E. R is never anything but concomitant.
        .add(1, rep(&["P:concomitant", "R:concomitant", "Q"], &["E"]))
        // C005: P interacting (in another case), F.
        .add(1, rep(&["P:Interacting"], &["F"]))
        // C006: no product, G.
        .add(1, rep(&[], &["G"]))
        // C007: P with an empty role (a suspect), G.
        .add(1, rep(&["P:"], &["G"]))
        // C008: P both concomitant and suspect, H.
        .add(1, rep(&["P:concomitant", "P"], &["H"]));
    let fx = db.fixture("");
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    // Cases (latest versions): C001 {Q}{F}, C003 {P}{E}, C004 {Q}{E}, C005 {P}{F},
    // C006 {}{G}, C007 {P}{G}, C008 {P}{H}: n = 7; P in 4 cases, Q in 2; E, F, G in 2
    // each, H in 1.
    assert_eq!(
        pairs(&t),
        owned(&[
            ("P", "E"),
            ("P", "F"),
            ("P", "G"),
            ("P", "H"),
            ("Q", "E"),
            ("Q", "F")
        ]),
        "no pair from the superseded version alone, none for R"
    );
    // P × E: a = 1 (C003 once, not 4 rows; not C001 v1; not C004's concomitant P),
    // b = 3 (C005, C007, C008), c = 1 (C004), d = 2 (C001, C006); E = 4·2/7.
    let r = row(&t, "P", "E");
    assert_eq!(cells(&t, r), [1, 3, 1, 2, 7]);
    assert_close(t.get(r, "expected").float(), 8.0 / 7.0, 1e-12);
    // P × F: a = 1 (C005, interacting), b = 3, c = 1 (C001 v2), d = 2.
    assert_eq!(cells(&t, row(&t, "P", "F")), [1, 3, 1, 2, 7]);
    // P × G: a = 1 (C007, empty role), b = 3, c = 1 (C006), d = 2.
    assert_eq!(cells(&t, row(&t, "P", "G")), [1, 3, 1, 2, 7]);
    // P × H: a = 1 (C008: suspect as well as concomitant), b = 3, c = 0, d = 3.
    assert_eq!(cells(&t, row(&t, "P", "H")), [1, 3, 0, 3, 7]);
    // Q × E: a = 1 (C004), b = 1 (C001), c = 1 (C003), d = 4; E = 2·2/7.
    let r = row(&t, "Q", "E");
    assert_eq!(cells(&t, r), [1, 1, 1, 4, 7]);
    assert_close(t.get(r, "expected").float(), 4.0 / 7.0, 1e-12);
    // Q × F: a = 1 (C001 v2), b = 1 (C004), c = 1 (C005), d = 4.
    assert_eq!(cells(&t, row(&t, "Q", "F")), [1, 1, 1, 4, 7]);
    assert_eq!(manifest["signals"]["pairs_counted"], 6);
    assert_rows_consistent(&t, &Criteria::default());
}

/// P with X in 3 cases (X never without P), P with E in 2, Q with E in 5; and one
/// cosmetic case K with Y, alone in its class (a = n).
fn zero_cells() -> Db {
    let mut db = Db::default();
    db.add(3, rep(&["P"], &["X"]))
        .add(2, rep(&["P"], &["E"]))
        .add(5, rep(&["Q"], &["E"]))
        .add(1, rep(&["K"], &["Y"]).class("cosmetic"));
    db
}

#[test]
fn zero_cell_makes_prr_and_ror_null_with_the_reason() {
    let fx = zero_cells().fixture("");
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    assert_signals_schema(&t);
    // P × X: a = 3, b = 2, c = 0, d = 5, n = 10; E = 5·3/10 = 1.5.
    let r = row(&t, "P", "X");
    assert_eq!(cells(&t, r), [3, 2, 0, 5, 10]);
    assert_close(t.get(r, "expected").float(), 1.5, 1e-12);
    for c in [
        "prr",
        "prr_lower",
        "prr_upper",
        "ror",
        "ror_lower",
        "ror_upper",
    ] {
        assert!(t.get(r, c).is_null(), "P × X: {c} is null when c = 0");
    }
    assert_eq!(t.get(r, "prr_null_reason"), &Value::Str("c = 0".into()));
    assert_eq!(t.get(r, "ror_null_reason"), &Value::Str("c = 0".into()));
    // χ² has no zero margin: 10·(|15 − 0| − 5)² / (5·5·3·7) = 1000/525.
    assert_close(t.get(r, "chi2").float(), 1000.0 / 525.0, 1e-12);
    // IC = log2(3.5/2.0); EBGM is defined.
    assert_close(t.get(r, "ic").float(), (3.5f64 / 2.0).log2(), 1e-12);
    assert!(t.get(r, "ebgm").float() > 0.0);
    assert!(!t.get(r, "prr_flag").bool() && !t.get(r, "ror_flag").bool());

    // P × E: a = 2, b = 3, c = 5, d = 0. ROR = ad/(bc) = 0, with no interval;
    // PRR = (2/5)/(5/5) = 0.4 is defined; χ² = 10·(|0 − 15| − 5)²/(5·5·7·3) = 1000/525.
    let r = row(&t, "P", "E");
    assert_eq!(cells(&t, r), [2, 3, 5, 0, 10]);
    assert_eq!(t.get(r, "ror"), &Value::Float(0.0));
    assert!(t.get(r, "ror_lower").is_null() && t.get(r, "ror_upper").is_null());
    assert_eq!(t.get(r, "ror_null_reason"), &Value::Str("d = 0".into()));
    assert_close(t.get(r, "prr").float(), 0.4, 1e-12);
    assert!(t.get(r, "prr_null_reason").is_null());
    assert_close(t.get(r, "chi2").float(), 1000.0 / 525.0, 1e-12);
    // Q × E: a = 5, b = 0, c = 2, d = 3. ROR is null (b = 0); PRR = (5/5)/(2/5) = 2.5.
    let r = row(&t, "Q", "E");
    assert_eq!(cells(&t, r), [5, 0, 2, 3, 10]);
    assert!(t.get(r, "ror").is_null());
    assert_eq!(t.get(r, "ror_null_reason"), &Value::Str("b = 0".into()));
    assert_close(t.get(r, "prr").float(), 2.5, 1e-12);

    // K × Y, a = n = 1: b = c = d = 0. Every margin but one is zero, so χ² is null too;
    // E = 1·1/1 = 1, IC = log2(1.5/1.5) = 0.
    let r = row(&t, "K", "Y");
    assert_eq!(cells(&t, r), [1, 0, 0, 0, 1]);
    for c in [
        "prr",
        "prr_lower",
        "prr_upper",
        "chi2",
        "ror",
        "ror_lower",
        "ror_upper",
    ] {
        assert!(t.get(r, c).is_null(), "K × Y: {c}");
    }
    let reason = Value::Str("b = 0, c = 0 and d = 0".into());
    assert_eq!(t.get(r, "prr_null_reason"), &reason);
    assert_eq!(t.get(r, "ror_null_reason"), &reason);
    assert_close(t.get(r, "expected").float(), 1.0, 1e-12);
    assert!(t.get(r, "ic").float().abs() < 1e-12);
    assert!(t.get(r, "ebgm").float() > 0.0);

    assert_rows_consistent(&t, &Criteria::default());
    assert_statistics_follow_formulas(&t, &manifest, 0.0);
}

#[test]
fn continuity_correction_defines_prr_and_ror_at_a_zero_cell() {
    let fx = zero_cells().fixture("continuity_correction = 0.5\n");
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    // P × X with 0.5 added to every cell: 3.5, 2.5, 0.5, 5.5. The cells stay raw.
    let r = row(&t, "P", "X");
    assert_eq!(cells(&t, r), [3, 2, 0, 5, 10]);
    // PRR = (3.5/6)/(0.5/6) = 7; SE = √(1/3.5 − 1/6 + 1/0.5 − 1/6).
    assert_close(t.get(r, "prr").float(), 7.0, 1e-12);
    let se: f64 = (1.0 / 3.5 - 1.0 / 6.0 + 1.0 / 0.5 - 1.0 / 6.0_f64).sqrt();
    assert_close(
        t.get(r, "prr_lower").float(),
        (7f64.ln() - Z * se).exp(),
        1e-12,
    );
    assert_close(
        t.get(r, "prr_upper").float(),
        (7f64.ln() + Z * se).exp(),
        1e-12,
    );
    // ROR = 3.5·5.5/(2.5·0.5) = 19.25/1.25 = 15.4.
    assert_close(t.get(r, "ror").float(), 15.4, 1e-12);
    // χ² keeps the raw cells: 1000/525.
    assert_close(t.get(r, "chi2").float(), 1000.0 / 525.0, 1e-12);
    assert!(t.get(r, "prr_null_reason").is_null());
    assert!(t.get(r, "ror_null_reason").is_null());

    // K × Y: 1.5, 0.5, 0.5, 0.5: PRR = (1.5/2)/(0.5/1) = 1.5, ROR = 1.5·0.5/(0.5·0.5) = 3;
    // χ² is still null (raw margins c + d = 0), so prr_null_reason stays.
    let r = row(&t, "K", "Y");
    assert_close(t.get(r, "prr").float(), 1.5, 1e-12);
    assert_close(t.get(r, "ror").float(), 3.0, 1e-12);
    assert!(t.get(r, "chi2").is_null());
    assert_eq!(
        t.get(r, "prr_null_reason"),
        &Value::Str("b = 0, c = 0 and d = 0".into())
    );
    assert!(t.get(r, "ror_null_reason").is_null());

    let crit = Criteria {
        continuity_correction: 0.5,
        ..Criteria::default()
    };
    assert_rows_consistent(&t, &crit);
    assert_statistics_follow_formulas(&t, &manifest, 0.5);
}

#[test]
fn period_end_bounds_the_background() {
    let mut db = Db::default();
    db.add(1, rep(&["Q"], &["F"]).date("2024-01-10")) // C001
        .add(1, rep(&["P"], &["E"]).date("2024-05-01")) // C002
        .add(1, rep(&["Q"], &["E"]).date("2024-06-01")) // C003
        .add(1, rep(&["P"], &["F"]).date("2024-12-20")) // C004 v1
        .add(1, rep(&["P"], &["F"]).date("2025-01-10").version("C004", 2))
        .add(1, rep(&["P"], &["E"]).date("2025-03-01")) // C006
        .add(1, rep(&["P"], &["E"]).date("2026-01-05")); // C007
    let fx = db.fixture("");

    // 2024: C001…C004 (C004 first received 2024-12-20, its follow-up in 2025 does not
    // move it): n = 4; P × E: a = 1 (C002), b = 1 (C004), c = 1 (C003), d = 1 (C001).
    let (t, _) = run_signals(&fx, "2024", &["--period", "2024"]);
    let r = row(&t, "P", "E");
    assert_eq!(cells(&t, r), [1, 1, 1, 1, 4]);
    assert_eq!(t.get(r, "period"), &Value::Str("2024".into()));
    // E = 2·2/4 = 1.
    assert_close(t.get(r, "expected").float(), 1.0, 1e-12);

    // 2025: C006 joins, C007 (2026-01-05) does not: n = 5, a = 2.
    let (t, _) = run_signals(&fx, "2025", &["--period", "2025"]);
    let r = row(&t, "P", "E");
    assert_eq!(cells(&t, r), [2, 1, 1, 1, 5]);
    // E = 3·3/5 = 1.8.
    assert_close(t.get(r, "expected").float(), 1.8, 1e-12);

    // A quarter's end bounds it too: 2024-Q2 ends 2024-06-30, before C004: n = 3.
    let (t, _) = run_signals(&fx, "2024-Q2", &["--period", "2024-Q2"]);
    assert_eq!(cells(&t, row(&t, "P", "E")), [1, 0, 1, 1, 3]);
}

/// DuMouchel's (1999) starting prior with P = 0.25, as a pipeline would fix it.
const FIXED_PRIOR: &str = "\
[signals.ebgm.prior]
alpha1 = 0.2
beta1 = 0.1
alpha2 = 2.0
beta2 = 4.0
p = 0.25
";

#[test]
fn fixed_prior_is_used_as_given() {
    let prior = Prior {
        alpha1: 0.2,
        beta1: 0.1,
        alpha2: 2.0,
        beta2: 4.0,
        p: 0.25,
    };
    // The 2×2 database's four pairs (a, E): P × E (4, 10·14/100 = 1.4),
    // P × F (6, 10·86/100 = 8.6), Q × E (10, 90·14/100 = 12.6), Q × F (80, 90·86/100 = 77.4).
    let all_pairs = [(4.0, 1.4), (6.0, 8.6), (10.0, 12.6), (80.0, 77.4)];
    let fx = two_by_two().fixture(FIXED_PRIOR);
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    let p = manifest_prior(&manifest, "drug");
    assert_eq!(p["ebgm_prior"], "fixed");
    assert_eq!(
        p["reason"],
        "the pipeline gives the prior (signals.ebgm.prior)"
    );
    for (k, v) in [
        ("alpha1", 0.2),
        ("beta1", 0.1),
        ("alpha2", 2.0),
        ("beta2", 4.0),
        ("p", 0.25),
    ] {
        assert_eq!(p[k].as_f64(), Some(v), "prior.{k} as given");
    }
    assert_eq!(p["pairs"], 4);
    // The manifest's −log-likelihood is the zero-truncated mixture likelihood of the prior.
    assert_close(
        p["neg_log_lik"].as_f64().expect("a number"),
        prior.nll_mixture(&all_pairs),
        1e-9,
    );

    // Each row's EBGM is DuMouchel's formula with that prior:
    // Q = P·f₁(a) / (P·f₁(a) + (1−P)·f₂(a)), f the negative-binomial marginals, and
    // EBGM = exp(Q(ψ(α₁+a) − ln(β₁+E)) + (1−Q)(ψ(α₂+a) − ln(β₂+E))).
    let mut ebgm = Vec::new();
    for (r, (a, e)) in all_pairs.iter().enumerate() {
        assert_eq!(t.get(r, "a").int() as f64, *a);
        assert_close(t.get(r, "expected").float(), *e, 1e-12);
        let got = t.get(r, "ebgm").float();
        assert_close(got, prior.ebgm(*a, *e), 1e-9);
        for (name, q) in [("eb05", 0.05), ("eb95", 0.95)] {
            let x = t.get(r, name).float();
            let cdf = prior.posterior_cdf(*a, *e, x);
            assert!((cdf - q).abs() < 1e-8, "row {r}: {name} {x}: CDF {cdf}");
        }
        ebgm.push(got);
    }

    // The openEBGM likelihood changes the −log-likelihood reported, not the prior used.
    set_signals(
        &fx,
        &format!("[signals.ebgm]\ntruncation = \"per_component\"\n\n{FIXED_PRIOR}"),
    );
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    let p = manifest_prior(&manifest, "drug");
    assert_eq!(p["ebgm_prior"], "fixed");
    assert_eq!(
        p["reason"],
        "the pipeline gives the prior (signals.ebgm.prior)"
    );
    assert_eq!(p["truncation"], "per_component");
    assert_close(
        p["neg_log_lik"].as_f64().expect("a number"),
        prior.nll_per_component(&all_pairs),
        1e-9,
    );
    assert_eq!(
        t.column("ebgm"),
        ebgm.into_iter().map(Value::Float).collect::<Vec<_>>()
    );
}

#[test]
fn sex_strata_change_expected_and_ic_but_not_prr() {
    let mut db = Db::default();
    // M: P+E ×3, P+F ×1, Q+F ×4: n = 8, P in 4, E in 3.
    db.add(3, rep(&["P"], &["E"]).sex("M"))
        .add(1, rep(&["P"], &["F"]).sex("M"))
        .add(4, rep(&["Q"], &["F"]).sex("M"))
        // F: P+E ×1, P+F ×1, Q+E ×6, Q+F ×2: n = 10, P in 2, E in 7.
        .add(1, rep(&["P"], &["E"]).sex("F"))
        .add(1, rep(&["P"], &["F"]).sex("f")) // sex is matched ignoring case
        .add(6, rep(&["Q"], &["E"]).sex("F"))
        .add(2, rep(&["Q"], &["F"]).sex("F"))
        // Unknown sex and `U` are one stratum: Q+F (no sex), P+E (U): n = 2, P 1, E 1.
        .add(1, rep(&["Q"], &["F"]))
        .add(1, rep(&["P"], &["E"]).sex("U"));
    let fx = db.fixture("");

    // Crude: a = 3+1+1 = 5, b = 1+1 = 2, c = 6, d = 4+2+1 = 7, n = 20;
    // E = (a+b)(a+c)/n = 7·11/20 = 3.85.
    let (crude_t, _) = run_signals(&fx, "2025", &[]);
    let rc = row(&crude_t, "P", "E");
    assert_eq!(cells(&crude_t, rc), [5, 2, 6, 7, 20]);
    assert_close(crude_t.get(rc, "expected").float(), 3.85, 1e-12);

    // Stratified: Σ (a+b)_s (a+c)_s / n_s = 4·3/8 + 2·7/10 + 1·1/2 = 1.5 + 1.4 + 0.5 = 3.4.
    // (With no sex and `U` apart it would be 1.5 + 1.4 + 0·0/1 + 1·1/1 = 3.9.)
    set_signals(&fx, "\n[signals.strata]\nsex = true\n");
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    let r = row(&t, "P", "E");
    assert_eq!(cells(&t, r), [5, 2, 6, 7, 20], "the cells stay crude");
    assert_close(t.get(r, "expected").float(), 3.4, 1e-12);
    // IC uses the stratified E: log2((5 + 0.5)/(3.4 + 0.5)) = log2(5.5/3.9).
    assert_close(t.get(r, "ic").float(), (5.5f64 / 3.9).log2(), 1e-12);
    assert_close(crude_t.get(rc, "ic").float(), (5.5f64 / 4.35).log2(), 1e-12);
    // PRR stays crude: (5/7)/(6/13) = 65/42, the same as without strata; so does ROR.
    assert_close(t.get(r, "prr").float(), 65.0 / 42.0, 1e-12);
    for c in [
        "prr",
        "prr_lower",
        "prr_upper",
        "chi2",
        "ror",
        "ror_lower",
        "ror_upper",
    ] {
        assert_eq!(t.get(r, c), crude_t.get(rc, c), "{c} does not use strata");
    }
    assert_rows_consistent(&t, &Criteria::default());
    assert_statistics_follow_formulas(&t, &manifest, 0.0);
}

#[test]
fn age_bands_put_an_age_at_an_edge_in_the_upper_band_and_unknown_apart() {
    let mut db = Db::default();
    // < 18: (17.9, P+E), (10, Q+F): n = 2, P 1, E 1 → 1·1/2 = 0.5.
    db.add(1, rep(&["P"], &["E"]).age("17.9"))
        .add(1, rep(&["Q"], &["F"]).age("10"))
        // ≥ 18: (18, P+F) ×2, (40, Q+E) ×2: n = 4, P 2, E 2 → 2·2/4 = 1.
        .add(2, rep(&["P"], &["F"]).age("18"))
        .add(2, rep(&["Q"], &["E"]).age("40"))
        // Unknown age: P+E, Q+E ×2: n = 3, P 1, E 3 → 1·3/3 = 1.
        .add(1, rep(&["P"], &["E"]))
        .add(2, rep(&["Q"], &["E"]));
    let fx = db.fixture("\n[signals.strata]\nage_bands = [18]\n");
    let (t, _) = run_signals(&fx, "2025", &[]);
    let r = row(&t, "P", "E");
    // a = 2, b = 2, c = 4, d = 1, n = 9 (crude E would be 4·6/9 = 2.67).
    assert_eq!(cells(&t, r), [2, 2, 4, 1, 9]);
    // Stratified E = 0.5 + 1 + 1 = 2.5. (Age 18 in the lower band would give
    // 3·1/4 + 0 + 1 = 1.75; unknown age in the lower band 2·4/5 + 1 = 2.6.)
    assert_close(t.get(r, "expected").float(), 2.5, 1e-12);
    assert_close(t.get(r, "ic").float(), (2.5f64 / 3.0).log2(), 1e-12);
}

#[test]
fn year_strata_use_the_year_of_first_receipt() {
    let mut db = Db::default();
    // 2024: P+E, Q+F, and C003 first received 2024-12-20 (P+F) with a follow-up in 2025:
    // n = 3, P in 2, E in 1 → 2·1/3.
    db.add(1, rep(&["P"], &["E"]).date("2024-03-01"))
        .add(1, rep(&["Q"], &["F"]).date("2024-04-01"))
        .add(1, rep(&["P"], &["F"]).date("2024-12-20"))
        .add(1, rep(&["P"], &["F"]).date("2025-01-10").version("C003", 2))
        // 2025: P+E, Q+E ×2, Q+F: n = 4, P in 1, E in 3 → 1·3/4.
        .add(1, rep(&["P"], &["E"]).date("2025-02-01"))
        .add(2, rep(&["Q"], &["E"]).date("2025-02-01"))
        .add(1, rep(&["Q"], &["F"]).date("2025-02-01"));
    let fx = db.fixture("\n[signals.strata]\nyear = true\n");
    let (t, _) = run_signals(&fx, "2025", &[]);
    let r = row(&t, "P", "E");
    // a = 2, b = 1, c = 2, d = 2, n = 7 (crude E = 3·4/7 = 1.71).
    assert_eq!(cells(&t, r), [2, 1, 2, 2, 7]);
    // E = 2/3 + 3/4 = 17/12. (C003 in 2025, by its latest version, would give
    // 1·1/2 + 2·3/5 = 1.7.)
    assert_close(t.get(r, "expected").float(), 17.0 / 12.0, 1e-12);
}

#[test]
fn watch_selects_products_by_their_registry_flags_on_the_whole_background() {
    let mut db = Db::default();
    db.add(2, rep(&["P"], &["E"]))
        .add(1, rep(&["Q"], &["E"]))
        .add(2, rep(&["R"], &["F"]))
        .add(1, rep(&["S"], &["F"]))
        // U is not in the registry: counted, never watched.
        .add(1, rep(&["U"], &["E"]));
    let fx = db.fixture("");
    // P innovative, Q conditional, R procured, S none; an empty flag is false.
    fx.write(
        "products.csv",
        "product_id,name,class,innovative,conditional,procured\n\
         P,药品P,drug,true,,\n\
         Q,药品Q,drug,,是,false\n\
         R,药品R,drug,no,0,yes\n\
         S,药品S,drug,false,false,false\n",
    );
    let runs: [(Option<&str>, &[&str]); 4] = [
        (None, &["P", "Q", "R"]),
        (Some("[\"innovative\"]"), &["P"]),
        (Some("[\"conditional\", \"procured\"]"), &["Q", "R"]),
        (Some("[\"all\"]"), &["P", "Q", "R", "S"]),
    ];
    let mut p_rows = Vec::new();
    for (watch, products) in runs {
        match watch {
            Some(w) => fx.pipeline("", &format!("[signals]\nwatch = {w}\n")),
            None => fx.pipeline("", ""),
        }
        let (t, manifest) = run_signals(&fx, "2025", &[]);
        let got: BTreeSet<String> = t
            .column("product_id")
            .iter()
            .map(|v| v.str().to_string())
            .collect();
        let want: BTreeSet<String> = products.iter().map(|p| p.to_string()).collect();
        assert_eq!(got, want, "watch = {watch:?}");
        assert_eq!(
            manifest["signals"]["pairs_counted"], 5,
            "every product is counted"
        );
        assert_eq!(manifest["signals"]["watched_pairs"], t.rows.len());
        if products.contains(&"P") {
            let r = row(&t, "P", "E");
            // P × E over the whole background: a = 2, b = 0, c = 2 (Q, U), d = 3, n = 7.
            assert_eq!(cells(&t, r), [2, 0, 2, 3, 7], "watch = {watch:?}");
            assert_eq!(t.get(r, "innovative"), &Value::Bool(true));
            assert_eq!(t.get(r, "conditional"), &Value::Bool(false));
            assert_eq!(t.get(r, "procured"), &Value::Bool(false));
            p_rows.push(t.rows[r].clone());
        }
    }
    // The same statistics whichever products are watched.
    assert_eq!(p_rows.len(), 3);
    assert!(p_rows.windows(2).all(|w| w[0] == w[1]), "{p_rows:?}");
}

#[test]
fn no_watched_pair_still_writes_the_full_schema() {
    // Fixture::new: one case with D001 (not watched by default) and Rash.
    let fx = Fixture::new();
    let (t, manifest) = run_signals(&fx, "2025", &[]);
    assert!(t.rows.is_empty());
    assert_signals_schema(&t);
    let s = &manifest["signals"];
    assert_eq!(s["pairs_counted"], 1);
    assert_eq!(s["watched_pairs"], 0);
    assert_eq!(s["signals"], 0);
}

#[test]
fn methods_and_min_methods_decide_is_signal() {
    // P × E of the 2×2 table flags PRR and ROR (see the textbook test); EB05 ≥ 0 always
    // flags EBGM, and IC025 > 100 never flags BCPNN. So prr, ror, ebgm flag; bcpnn doesn't.
    let fixed = "[signals.bcpnn]\nmin_ic025 = 100\n\n[signals.ebgm]\nmin_eb05 = 0\n\n\
                 [signals.ebgm.prior]\nalpha1 = 0.2\nbeta1 = 0.1\nalpha2 = 2.0\nbeta2 = 4.0\np = 0.25\n";
    let fx = two_by_two().fixture("");
    let cases: [(&[&str], i64, i64, bool); 7] = [
        (&["prr", "bcpnn"], 1, 1, true),
        (&["prr", "bcpnn"], 2, 1, false),
        (&["bcpnn"], 1, 0, false),
        (&["ror", "ebgm"], 2, 2, true),
        (&["prr", "ror", "bcpnn", "ebgm"], 3, 3, true),
        (&["prr", "ror", "bcpnn", "ebgm"], 4, 3, false),
        (&["ebgm"], 1, 1, true),
    ];
    for (methods, min_methods, n_flagged, is_signal) in cases {
        let list: Vec<String> = methods.iter().map(|m| format!("\"{m}\"")).collect();
        set_signals(
            &fx,
            &format!(
                "methods = [{}]\nmin_methods = {min_methods}\n\n{fixed}",
                list.join(", ")
            ),
        );
        let (t, manifest) = run_signals(&fx, "2025", &[]);
        let r = row(&t, "P", "E");
        let tag = format!("methods {methods:?}, min_methods {min_methods}");
        // Every method's flag is reported whichever methods count.
        for (flag, want) in [
            ("prr_flag", true),
            ("ror_flag", true),
            ("bcpnn_flag", false),
            ("ebgm_flag", true),
        ] {
            assert_eq!(t.get(r, flag).bool(), want, "{tag}: {flag}");
        }
        assert_eq!(t.get(r, "n_methods_flagged").int(), n_flagged, "{tag}");
        assert_eq!(t.get(r, "is_signal").bool(), is_signal, "{tag}");
        let crit = Criteria {
            methods: methods.iter().map(|m| m.to_string()).collect(),
            min_methods,
            min_ic025: 100.0,
            min_eb05: 0.0,
            ..Criteria::default()
        };
        assert_rows_consistent(&t, &crit);
        let flagged = t.column("is_signal").iter().filter(|v| v.bool()).count();
        assert_eq!(manifest["signals"]["signals"], flagged, "{tag}");
    }
}

// ---------------------------------------------------------------------------------------
// Configuration errors: the full text, exit code 2, nothing written.

/// Run a pipeline whose `[signals]` table is `signals` (after `watch = ["all"]` unless
/// it sets `watch` itself), expect exit 2 with nothing written, and return stderr with
/// the folder replaced by `{d}`.
fn config_error(signals: &str) -> String {
    let fx = Fixture::new();
    if signals.contains("watch") {
        fx.pipeline("", &format!("[signals]\n{signals}"));
    } else {
        set_signals(&fx, signals);
    }
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(r.stdout, "");
    assert!(
        !fx.p("out").exists(),
        "a configuration error writes nothing"
    );
    let v = fx.run(&["validate", &fx.toml()]);
    v.expect_code(2);
    assert_eq!(v.stderr, r.stderr, "validate reports the same errors");
    r.stderr.replace(&fx.d(), "{d}")
}

#[test]
fn unknown_signal_method_is_a_config_error() {
    assert_eq!(
        config_error("methods = [\"gps\", \"prr\"]\n"),
        "error: {d}/p.toml: signals.methods[0]: expected one of `prr`, `ror`, `bcpnn`, \
         `ebgm`, found `gps`\n"
    );
}

#[test]
fn min_methods_zero_is_a_config_error() {
    assert_eq!(
        config_error("min_methods = 0\n"),
        "error: {d}/p.toml: signals.min_methods: expected a whole number from 1 to 4 \
         (the number of methods), found `0`\n"
    );
}

#[test]
fn min_methods_above_the_number_of_methods_is_a_config_error() {
    assert_eq!(
        config_error("methods = [\"prr\", \"ror\"]\nmin_methods = 3\n"),
        "error: {d}/p.toml: signals.min_methods: expected a whole number from 1 to 2 \
         (the number of methods), found `3`\n"
    );
}

/// `methods = ["prr", "prr"]` passes validation (2 entries, so `min_methods = 2` is
/// allowed), but `n_methods_flagged` counts each method once, so no pair can ever be a
/// signal and the pipeline runs silently with a signal rule that cannot fire.
#[test]
fn duplicate_signal_method_is_a_config_error() {
    let fx = Fixture::new();
    set_signals(&fx, "methods = [\"prr\", \"prr\"]\nmin_methods = 2\n");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert!(
        r.stderr
            .starts_with(&format!("error: {}/p.toml: signals.methods[1]: ", fx.d())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("`prr`"), "{}", r.stderr);
}

#[test]
fn bad_watch_group_is_a_config_error() {
    assert_eq!(
        config_error("watch = [\"innovative\", \"new\"]\n"),
        "error: {d}/p.toml: signals.watch[1]: expected one of `innovative`, \
         `conditional`, `procured`, `all`, found `new`\n"
    );
}

#[test]
fn prior_mixing_fraction_outside_0_1_is_a_config_error() {
    assert_eq!(
        config_error(&FIXED_PRIOR.replace("p = 0.25", "p = 1.5")),
        "error: {d}/p.toml: signals.ebgm.prior.p: expected a number from 1e-6 to 0.999999 \
         (the bounds the prior is fitted within), found `1.5`\n"
    );
}

#[test]
fn unknown_ebgm_truncation_is_a_config_error() {
    assert_eq!(
        config_error("[signals.ebgm]\ntruncation = \"foo\"\n"),
        "error: {d}/p.toml: signals.ebgm.truncation: expected `mixture` or \
         `per_component`, found `foo`\n"
    );
}

#[test]
fn decreasing_age_bands_are_a_config_error() {
    assert_eq!(
        config_error("[signals.strata]\nage_bands = [65, 18]\n"),
        "error: {d}/p.toml: signals.strata.age_bands: expected increasing ages > 0, \
         found `[65, 18]`\n"
    );
}

#[test]
fn every_signals_config_error_is_reported_together() {
    let signals = "\
watch = [\"new\"]
methods = [\"gps\"]
min_methods = 0
continuity_correction = 2

[signals.ebgm]
truncation = \"foo\"

[signals.ebgm.prior]
alpha1 = 0
beta1 = 0.1
alpha2 = 2.0
beta2 = 4.0
p = 1.5

[signals.strata]
age_bands = [65, 18]
";
    assert_eq!(
        config_error(signals),
        "\
error: {d}/p.toml: signals.watch[0]: expected one of `innovative`, `conditional`, `procured`, `all`, found `new`
error: {d}/p.toml: signals.methods[0]: expected one of `prr`, `ror`, `bcpnn`, `ebgm`, found `gps`
error: {d}/p.toml: signals.min_methods: expected a whole number from 1 to 1 (the number of methods), found `0`
error: {d}/p.toml: signals.continuity_correction: expected a number from 0 to 1, found `2`
error: {d}/p.toml: signals.ebgm.prior.alpha1: expected a number from 1e-5 to 100 (the bounds the prior is fitted within), found `0`
error: {d}/p.toml: signals.ebgm.prior.p: expected a number from 1e-6 to 0.999999 (the bounds the prior is fitted within), found `1.5`
error: {d}/p.toml: signals.ebgm.truncation: expected `mixture` or `per_component`, found `foo`
error: {d}/p.toml: signals.strata.age_bands: expected increasing ages > 0, found `[65, 18]`
"
    );
}
