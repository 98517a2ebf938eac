//! The side-by-side peers: vigipy 3.5.1 and one DuckDB query, on the same generated tables
//! as pvwatch, each timed from input files to results as a whole child process.
//!
//! Both run in a Python virtual environment outside the repository (by default
//! `~/.cache/pvwatch-bench/venv`), created once with `python3 -m venv` and filled with
//! `pip install vigipy==3.5.1 duckdb pyarrow` from the package registry, then reused.
//! Each peer writes its per-pair results as Parquet; [`agreement`] then checks its counts
//! against pvwatch's `signals.parquet` and prints how closely its statistics agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use pvwatch::schema::col as c;
use pvwatch::signals::{counts, out};

use crate::{gib, read_parquet, run_measured, synth};

/// The vigipy release compared against (issue 21).
pub const VIGIPY: &str = "3.5.1";

/// The period the synth pipeline runs (`period = "2025"`): its last day bounds the cases.
pub const PERIOD_END: &str = "2025-12-31";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Vigipy,
    DuckDb,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Vigipy => "vigipy",
            Peer::DuckDb => "DuckDB",
        }
    }
}

/// One tool's run at one size: a peer, or pvwatch itself (`None`).
#[derive(Debug)]
pub struct PeerRun {
    pub peer: Option<Peer>,
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    pub peak: u64,
    pub pairs: u64,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The virtual environment's directory: `--venv`, else `$PVWATCH_BENCH_VENV`, else
/// `$XDG_CACHE_HOME/pvwatch-bench/venv` or `~/.cache/pvwatch-bench/venv`.
pub fn default_venv() -> PathBuf {
    if let Some(v) = std::env::var_os("PVWATCH_BENCH_VENV") {
        return PathBuf::from(v);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("pvwatch-bench/venv")
}

/// The environment's interpreter, creating the environment and installing the peers
/// first when it is missing or holds another vigipy.
pub fn ensure_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    let check = format!(
        "import duckdb, pyarrow, vigipy; assert vigipy.__version__ == '{VIGIPY}', vigipy.__version__"
    );
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", &check])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && ready(&python) {
        return Ok(python);
    }
    eprintln!(
        "== setting up the peers' virtual environment in {}",
        venv.display()
    );
    if !python.exists() {
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .context("running python3 -m venv (is python3 with venv installed?)")?;
        if !st.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let st = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .arg(format!("vigipy=={VIGIPY}"))
        .args(["duckdb", "pyarrow"])
        .status()
        .context("running pip in the virtual environment")?;
    if !st.success() || !ready(&python) {
        bail!(
            "could not install vigipy {VIGIPY}, duckdb and pyarrow into {}",
            venv.display()
        );
    }
    Ok(python)
}

/// Run one peer on the tables in `data`, its results to `data/peers/`, timed with `wait4`.
pub fn run(peer: Peer, python: &Path, data: &Path) -> Result<(PeerRun, PathBuf)> {
    let dir = data.join("peers");
    std::fs::create_dir_all(&dir)?;
    let result = dir.join(format!("{}.parquet", peer.name().to_lowercase()));
    let _ = std::fs::remove_file(&result);
    let mut cmd = Command::new(python);
    match peer {
        Peer::Vigipy => {
            cmd.arg(root().join("scripts/bench_vigipy.py"))
                .arg(data)
                .arg(&result)
                .args(["--period-end", PERIOD_END]);
        }
        Peer::DuckDb => {
            // The query's file with its placeholders filled in, run by DuckDB's Python
            // package (the process start-up and import are part of the time, as for vigipy).
            cmd.args([
                "-c",
                "import sys, duckdb\n\
                 sql, data, out, end = sys.argv[1:5]\n\
                 q = open(sql).read().replace('${DATA}', data).replace('${OUT}', out)\n\
                 duckdb.connect().execute(q.replace('${PERIOD_END}', end))\n",
            ])
            .arg(root().join("scripts/bench_duckdb.sql"))
            .arg(data)
            .arg(&result)
            .arg(PERIOD_END);
        }
    }
    let m = run_measured(peer.name(), &mut cmd)?;
    let pairs = read_parquet(&result)?.height() as u64;
    Ok((
        PeerRun {
            peer: Some(peer),
            wall: m.wall,
            cpu: m.cpu,
            peak: m.peak,
            pairs,
        },
        result,
    ))
}

/// How two columns differ over the rows where `keep` holds and both are finite: relative
/// differences, or absolute ones for a statistic on a log scale.
#[derive(Debug, Clone, Copy)]
enum Scale {
    Relative,
    Absolute,
}

/// (median, largest) difference and the number of rows compared.
fn differences(
    x: &Float64Chunked,
    y: &Float64Chunked,
    keep: &BooleanChunked,
    scale: Scale,
) -> (f64, f64, u64) {
    let mut d: Vec<f64> = x
        .iter()
        .zip(y.iter())
        .zip(keep.iter())
        .filter_map(|((x, y), k)| match (x, y, k) {
            (Some(x), Some(y), Some(true)) if x.is_finite() && y.is_finite() => Some(if x == y {
                0.0
            } else {
                match scale {
                    Scale::Relative => (x - y).abs() / x.abs().max(y.abs()),
                    Scale::Absolute => (x - y).abs(),
                }
            }),
            _ => None,
        })
        .collect();
    if d.is_empty() {
        return (0.0, 0.0, 0);
    }
    d.sort_by(f64::total_cmp);
    (d[d.len() / 2], d[d.len() - 1], d.len() as u64)
}

/// PRR, ROR and expected must agree with pvwatch's to this relative difference: the same
/// cells, computed in another order (pvwatch sums logs; vigipy and the query divide).
pub const SAME_FORMULA: f64 = 1e-12;

/// Compare a peer's per-pair results with pvwatch's `signals.parquet` (every product
/// watched): the same pairs and the same cells `a, b, c, d, n` exactly (else an error), and
/// the largest relative difference of each statistic both compute, over the pairs with no
/// zero cell (vigipy adds 0.5 to every cell of a table with a zero cell; pvwatch by default
/// leaves PRR and ROR undefined there). Returns the lines to print.
pub fn agreement(peer: Peer, result: &Path, signals: &DataFrame) -> Result<Vec<String>> {
    let theirs = read_parquet(result)?;
    let keys = [c::CLASS, c::PRODUCT_ID, c::EVENT];
    // (column, label, scale, checked to SAME_FORMULA)
    let stats: &[(&str, &str, Scale, bool)] = match peer {
        // vigipy's BCPNN is Bate's closed form with a normal approximation, not Norén's
        // shrinkage IC with gamma quantiles, and its GPS prior is its own Nelder-Mead fit
        // (in a box) with EB05 by bisection to 1e-5 in the CDF: those differences are
        // printed, not checked.
        Peer::Vigipy => &[
            (out::PRR, "PRR", Scale::Relative, true),
            (out::ROR, "ROR", Scale::Relative, true),
            (out::IC025, "IC025 (log2 units)", Scale::Absolute, false),
            (out::EBGM, "EBGM", Scale::Relative, false),
            (out::EB05, "EB05", Scale::Relative, false),
        ],
        Peer::DuckDb => &[
            (counts::EXPECTED, "expected", Scale::Relative, true),
            (out::PRR, "PRR", Scale::Relative, true),
            (out::ROR, "ROR", Scale::Relative, true),
        ],
    };
    let cells = [counts::A, counts::B, counts::C, counts::D, counts::N];
    let mut ours_cols: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let mut theirs_cols = ours_cols.clone();
    for name in cells.iter().chain(stats.iter().map(|s| &s.0)) {
        ours_cols.push(col(*name));
        theirs_cols.push(col(*name).alias(format!("{name}_peer")));
    }
    let key_exprs: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let joined = signals
        .clone()
        .lazy()
        .select(ours_cols)
        .join(
            theirs.clone().lazy().select(theirs_cols).with_columns(
                keys.iter()
                    .map(|k| col(*k).cast(DataType::String))
                    .collect::<Vec<_>>(),
            ),
            key_exprs.clone(),
            key_exprs,
            JoinArgs::new(JoinType::Inner),
        )
        .collect()?;
    let name = peer.name();
    if joined.height() != signals.height() || joined.height() != theirs.height() {
        bail!(
            "{name}: {} pairs, pvwatch {}, {} in common: not the same pairs",
            theirs.height(),
            signals.height(),
            joined.height()
        );
    }
    for cell in cells {
        let ours = joined.column(cell)?.cast(&DataType::Int64)?;
        let peer_col = joined
            .column(&format!("{cell}_peer"))?
            .cast(&DataType::Int64)?;
        let differ = ours
            .as_materialized_series()
            .not_equal_missing(peer_col.as_materialized_series())?
            .sum()
            .unwrap_or(0);
        if differ > 0 {
            bail!("{name}: `{cell}` differs from pvwatch's on {differ} pairs");
        }
    }
    let mut lines = vec![format!(
        "{name}: the same {} pairs, and a, b, c, d, n identical on every pair",
        pvwatch::progress::thousands(joined.height() as u64)
    )];
    let no_zero_cell = (0..4)
        .map(|i| joined.column(cells[i]).and_then(|s| s.i64().cloned()))
        .collect::<PolarsResult<Vec<_>>>()?
        .into_iter()
        .map(|s| s.gt(0))
        .reduce(|x, y| &x & &y)
        .context("no cells")?;
    let mut failed = Vec::new();
    for &(stat, label, scale, checked) in stats {
        let x = joined.column(stat)?.f64()?.clone();
        let y = joined
            .column(&format!("{stat}_peer"))?
            .cast(&DataType::Float64)?;
        let (median, worst, n) = differences(&x, y.f64()?, &no_zero_cell, scale);
        let kind = match scale {
            Scale::Relative => "relative",
            Scale::Absolute => "absolute",
        };
        lines.push(format!(
            "{name}: {label} {kind} difference median {median:.3e}, largest {worst:.3e}, over {} pairs with no zero cell{}",
            pvwatch::progress::thousands(n),
            if checked { " (checked)" } else { " (not checked: another method)" }
        ));
        if checked && worst > SAME_FORMULA {
            failed.push(format!("{label} differs by {worst:e} > {SAME_FORMULA:e}"));
        }
    }
    if !failed.is_empty() {
        for l in &lines {
            eprintln!("   {l}");
        }
        bail!("{name} disagrees with pvwatch: {}", failed.join("; "));
    }
    Ok(lines)
}

/// The tools side by side: per size, each tool's wall time, peak and pairs, and its ratio to
/// pvwatch's (above 1: the tool takes longer or more memory than pvwatch).
pub fn render(sizes: &[(u64, Vec<PeerRun>)]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| cases | tool | wall s | CPU s | peak RSS GiB | pairs | wall / pvwatch's | CPU / pvwatch's | peak / pvwatch's |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (cases, runs) in sizes {
        let Some(ours) = runs.iter().find(|r| r.peer.is_none()) else {
            continue;
        };
        for r in runs {
            let tool = match r.peer {
                None => "pvwatch".to_string(),
                Some(Peer::Vigipy) => format!("vigipy {VIGIPY}"),
                Some(Peer::DuckDb) => "DuckDB query, 2 threads".to_string(),
            };
            let _ = writeln!(
                s,
                "| {} | {tool} | {:.1} | {:.1} | {:.2} | {} | {:.2} | {:.2} | {:.2} |",
                synth::label(*cases),
                r.wall,
                r.cpu,
                gib(r.peak),
                pvwatch::progress::thousands(r.pairs),
                r.wall / ours.wall,
                r.cpu / ours.cpu,
                r.peak as f64 / ours.peak as f64
            );
        }
    }
    s
}

/// vigipy's fitted GPS prior of each class beside pvwatch's (from the run's manifest), to
/// read the EBGM differences by.
pub fn priors(result: &Path, manifest: &serde_json::Value) -> Vec<String> {
    let path = PathBuf::from(format!("{}.priors.json", result.display()));
    let Ok(theirs) = crate::read_json(&path) else {
        return vec![format!("vigipy: no priors in {}", path.display())];
    };
    let empty = Vec::new();
    let ours = manifest["signals"]["priors"].as_array().unwrap_or(&empty);
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = Vec::new();
    for p in ours {
        let class = p["class"].as_str().unwrap_or("");
        let mine: Vec<f64> = ["alpha1", "beta1", "alpha2", "beta2", "p"]
            .iter()
            .map(|k| p[*k].as_f64().unwrap_or(f64::NAN))
            .collect();
        let other: Vec<f64> = theirs[class]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
            .unwrap_or_default();
        lines.push(format!(
            "EBGM prior of {class} (α1, β1, α2, β2, weight of the first): pvwatch [{}]{}, vigipy [{}]",
            fmt(&mine),
            if p["at_bound"].as_bool() == Some(true) {
                " (at a bound)"
            } else {
                ""
            },
            fmt(&other)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_skip_masked_and_undefined_rows() {
        let x = Float64Chunked::from_slice("x".into(), &[1.0, 2.0, 4.0, f64::INFINITY, 10.0]);
        let y = Float64Chunked::from_slice("y".into(), &[1.0, 2.2, 5.0, 1.0, 0.0]);
        let keep = BooleanChunked::from_slice("k".into(), &[true, true, true, true, false]);
        // Relative: 0, 0.2/2.2, 1/5; the infinite row and the masked one are left out.
        let (median, worst, n) = differences(&x, &y, &keep, Scale::Relative);
        assert_eq!(n, 3);
        assert!((median - 0.2 / 2.2).abs() < 1e-15);
        assert!((worst - 0.2).abs() < 1e-15);
        let (median, worst, n) = differences(&x, &y, &keep, Scale::Absolute);
        assert_eq!(n, 3);
        assert!((median - 0.2).abs() < 1e-15 && (worst - 1.0).abs() < 1e-15);
        let none = BooleanChunked::from_slice("k".into(), &[false; 5]);
        assert_eq!(differences(&x, &y, &none, Scale::Relative), (0.0, 0.0, 0));
    }
}
