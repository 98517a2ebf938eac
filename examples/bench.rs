//! The benchmark harness: pvwatch end to end on generated data at several sizes.
//!
//!     cargo run --release --example bench                       # 100k, 1m, 10m, 25m cases
//!     cargo run --release --example bench -- --sizes 100k,1m    # a quicker look
//!
//! For each size it generates the canonical tables as Parquet (`examples/synth`, seed 2025;
//! kept under `target/bench-data/<size>/` and reused while the generator is unchanged),
//! builds the release `pvwatch` binary, runs `pvwatch run` on a pipeline with all four
//! signal methods and the EBGM prior fitted, and prints per size: wall time per stage,
//! rows per second, peak resident memory (the child's own, from `wait4`), and the
//! scaling ratio of time against rows between consecutive sizes. It then checks that:
//!
//! - the planted signals have exactly the cells the generator counted (`planted.csv`),
//!   and the PRR and ROR those cells imply (to 1e-12 relative);
//! - with `--reference DIR`, every statistic of `signals.parquet`, `rates.parquet` and
//!   `screening.parquet` equals the reference run's to 1e-12 relative, every count and key
//!   exactly, and `alerts.jsonl` byte for byte (`--save-reference DIR` keeps a run as the
//!   reference; see the README, "Performance").
//!
//! The table is also written to `target/bench-data/results.md`. No timing is asserted.

#[path = "synth/mod.rs"]
mod synth;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use polars::prelude::*;
use pvwatch::progress::thousands;
use pvwatch::schema::col as c;
use pvwatch::signals::{counts, out};

const SEED: u64 = 2025;
/// Bump when the generator's output changes, so cached data are regenerated.
const GENERATOR_VERSION: u32 = 1;

struct Args {
    sizes: Vec<u64>,
    data: PathBuf,
    reference: Option<PathBuf>,
    save_reference: Option<PathBuf>,
    pvwatch: PathBuf,
}

fn args() -> Result<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        sizes: vec![100_000, 1_000_000, 10_000_000, 25_000_000],
        data: root.join("target/bench-data"),
        reference: None,
        save_reference: None,
        pvwatch: root.join("target/release/pvwatch"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => {
                a.sizes = value()?
                    .split(',')
                    .map(synth::parse_size)
                    .collect::<Result<_>>()?
            }
            "--data" => a.data = PathBuf::from(value()?),
            "--reference" => a.reference = Some(PathBuf::from(value()?)),
            "--save-reference" => a.save_reference = Some(PathBuf::from(value()?)),
            "--pvwatch" => a.pvwatch = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--sizes 100k,1m,10m,25m] [--data DIR] [--reference DIR | --save-reference DIR] [--pvwatch BIN]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (see --help)"),
        }
    }
    Ok(a)
}

/// Generate the data for `cases` unless an identical generation is already there.
/// Returns the seconds spent generating (0 when reused) and the case × product × event
/// rows of the latest versions, as the generator counted them.
fn ensure_data(dir: &Path, cases: u64) -> Result<(f64, u64)> {
    let stamp = dir.join("generated.txt");
    let key = format!("generator {GENERATOR_VERSION}, seed {SEED}, cases {cases}");
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        let mut lines = text.lines();
        if lines.next() == Some(key.as_str()) {
            if let Some(n) = lines.next().and_then(|l| l.strip_prefix("cpe_rows ")) {
                return Ok((0.0, n.parse()?));
            }
        }
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    let (written, _) = synth::generate(&synth::Options {
        cases,
        seed: SEED,
        out: dir.to_path_buf(),
        chunk: 500_000,
    })?;
    std::fs::write(&stamp, format!("{key}\ncpe_rows {}\n", written.cpe_rows))?;
    Ok((started.elapsed().as_secs_f64(), written.cpe_rows))
}

/// The review page's bound at every size: it lists at most `alerts.page_limit` alerts per
/// priority, so its size does not follow the data's.
const PAGE_LIMIT_BYTES: u64 = 5_000_000;

/// Wall time and peak resident memory (bytes) of one child process.
fn run_measured(cmd: &mut Command) -> Result<(f64, u64)> {
    let started = Instant::now();
    let child = cmd.spawn().context("starting pvwatch")?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data, and `pid` is our own child, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    if r != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("pvwatch failed (wait status {status}); see its output above");
    }
    Ok((wall, usage.ru_maxrss as u64 * 1024))
}

#[derive(Debug)]
struct Result1 {
    cases: u64,
    cpe_rows: u64,
    rows_read: u64,
    wall: f64,
    stages: Vec<(String, f64)>,
    peak: u64,
    /// Bytes of `review.html`.
    page: u64,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The planted pairs' cells and PRR/ROR must be what the generator counted.
fn check_planted(data: &Path, signals: &DataFrame) -> Result<String> {
    let mut rdr = csv::Reader::from_path(data.join("planted.csv"))?;
    let mut notes = Vec::new();
    for rec in rdr.records() {
        let rec = rec?;
        let (product, event) = (&rec[1], &rec[2]);
        let row = signals
            .clone()
            .lazy()
            .filter(
                col(c::PRODUCT_ID)
                    .eq(lit(product))
                    .and(col(c::EVENT).eq(lit(event))),
            )
            .collect()?;
        if row.height() != 1 {
            bail!(
                "planted pair {product} × {event}: {} rows in signals.parquet",
                row.height()
            );
        }
        for (i, name) in [
            (3, counts::A),
            (4, counts::B),
            (5, counts::C),
            (6, counts::D),
        ] {
            let want: i64 = rec[i].parse()?;
            let got = row.column(name)?.i64()?.get(0);
            if got != Some(want) {
                bail!(
                    "planted pair {product} × {event}: {name} = {got:?}, generator counted {want}"
                );
            }
        }
        for (i, name) in [(8, out::PRR), (9, out::ROR)] {
            let want: f64 = rec[i].parse()?;
            let got = row.column(name)?.f64()?.get(0);
            match got {
                Some(g) if (g - want).abs() <= 1e-12 * want.abs() => {}
                None if !want.is_finite() => {}
                _ => bail!("planted pair {product} × {event}: {name} = {got:?}, expected {want}"),
            }
        }
        let flagged = row.column(out::IS_SIGNAL)?.bool()?.get(0) == Some(true);
        notes.push(format!(
            "{product}×{event} a={} {}",
            &rec[3],
            if flagged { "signal" } else { "not flagged" }
        ));
    }
    Ok(notes.join("; "))
}

/// Largest relative difference between two runs' float columns; counts and keys must be
/// equal exactly.
fn compare(name: &str, got: &DataFrame, want: &DataFrame, keys: &[&str]) -> Result<f64> {
    let sort = |df: &DataFrame| -> Result<DataFrame> {
        Ok(df.sort(
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            SortMultipleOptions::default(),
        )?)
    };
    let (got, want) = (sort(got)?, sort(want)?);
    if got.height() != want.height() {
        bail!(
            "{name}: {} rows, reference has {}",
            got.height(),
            want.height()
        );
    }
    let mut worst = 0.0f64;
    for c in want.columns() {
        let g = got.column(c.name())?;
        match c.dtype() {
            DataType::Float64 => {
                for (x, y) in g.f64()?.iter().zip(c.f64()?.iter()) {
                    match (x, y) {
                        (Some(x), Some(y)) => {
                            let rel = if x == y {
                                0.0
                            } else {
                                (x - y).abs() / x.abs().max(y.abs())
                            };
                            worst = worst.max(rel);
                        }
                        (None, None) => {}
                        _ => bail!("{name}.{}: null in one run only", c.name()),
                    }
                }
            }
            _ => {
                if !g
                    .as_materialized_series()
                    .equals_missing(c.as_materialized_series())
                {
                    bail!("{name}.{}: values differ from the reference", c.name());
                }
            }
        }
    }
    if worst > 1e-12 {
        bail!("{name}: a statistic differs from the reference by {worst:e} (relative) > 1e-12");
    }
    Ok(worst)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn main() -> Result<()> {
    let args = args()?;
    let pvwatch = &args.pvwatch;
    if !pvwatch.exists() {
        bail!(
            "{} not found: build it first (scripts/bench does)",
            pvwatch.display()
        );
    }
    let mut results: Vec<Result1> = Vec::new();
    for &cases in &args.sizes {
        let dir = args.data.join(synth::label(cases));
        eprintln!(
            "== {} cases: data in {}",
            synth::label(cases),
            dir.display()
        );
        let (gen_s, cpe_rows) = ensure_data(&dir, cases)?;
        if gen_s > 0.0 {
            eprintln!("   generated in {gen_s:.1} s");
        }
        std::fs::write(dir.join("bench.toml"), synth::PIPELINE)?;
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let (wall, peak) = run_measured(
            Command::new(pvwatch)
                .args(["run", "bench.toml", "--quiet"])
                .current_dir(&dir),
        )?;
        let run_dir = out.join("period=2025");
        let manifest = read_json(&run_dir.join("manifest.json"))?;
        let t = &manifest["timings_ms"];
        let stages = ["ingest", "rates", "signals", "alerts", "write"]
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    t[format!("{s}_ms")].as_f64().unwrap_or(0.0) / 1e3,
                )
            })
            .collect();
        let rows_read = manifest["rows"]["read"].as_u64().unwrap_or(0);
        let signals = read_parquet(&run_dir.join("signals.parquet"))?;
        let planted = check_planted(&dir, &signals)?;
        // The review page is a summary whatever the size (README, "The review page").
        let page = std::fs::metadata(run_dir.join("review.html"))?.len();
        if page > PAGE_LIMIT_BYTES {
            bail!(
                "review.html is {:.1} MB at {}: over the {} MB bound",
                page as f64 / 1e6,
                synth::label(cases),
                PAGE_LIMIT_BYTES / 1_000_000
            );
        }
        eprintln!(
            "   {wall:.1} s, peak {:.2} GiB; review.html {:.2} MB; planted: {planted}",
            gib(peak),
            page as f64 / 1e6
        );
        let tag = synth::label(cases);
        if let Some(refdir) = &args.save_reference {
            let to = refdir.join(&tag);
            std::fs::create_dir_all(&to)?;
            for f in [
                "signals.parquet",
                "rates.parquet",
                "screening.parquet",
                "alerts.jsonl",
            ] {
                std::fs::copy(run_dir.join(f), to.join(f))?;
            }
            eprintln!("   saved as the reference in {}", to.display());
        }
        if let Some(refdir) = &args.reference {
            let from = refdir.join(&tag);
            if from.exists() {
                let s = compare(
                    "signals",
                    &signals,
                    &read_parquet(&from.join("signals.parquet"))?,
                    &[c::CLASS, c::PRODUCT_ID, c::EVENT],
                )?;
                let r = compare(
                    "rates",
                    &read_parquet(&run_dir.join("rates.parquet"))?,
                    &read_parquet(&from.join("rates.parquet"))?,
                    &[c::LEVEL, c::REGION, c::CLASS],
                )?;
                let mut worst = s.max(r);
                if from.join("screening.parquet").exists() {
                    worst = worst.max(compare(
                        "screening",
                        &read_parquet(&run_dir.join("screening.parquet"))?,
                        &read_parquet(&from.join("screening.parquet"))?,
                        &[c::PRODUCT_ID],
                    )?);
                }
                if let Ok(want) = std::fs::read_to_string(from.join("alerts.jsonl")) {
                    if std::fs::read_to_string(run_dir.join("alerts.jsonl"))? != want {
                        bail!("alerts.jsonl differs from the reference");
                    }
                }
                eprintln!("   same as the reference: largest relative difference {worst:e}");
            } else {
                eprintln!("   no reference for {tag} in {}", refdir.display());
            }
        }
        results.push(Result1 {
            cases,
            cpe_rows,
            rows_read,
            wall,
            stages,
            peak,
            page,
        });
    }
    let table = render(&results);
    println!("{table}");
    std::fs::create_dir_all(&args.data)?;
    std::fs::write(args.data.join("results.md"), &table)?;
    Ok(())
}

fn render(results: &[Result1]) -> String {
    let mut s = String::new();
    let machine = machine();
    let _ = writeln!(s, "Machine: {machine}\n");
    let _ = writeln!(
        s,
        "| cases | case×product×event rows | rows read | ingest s | rates s | signals s | alerts s | write s | wall s | CPE rows/s | peak RSS GiB | review.html MB | time ratio / rows ratio |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (i, r) in results.iter().enumerate() {
        let ratio = if i == 0 {
            "—".to_string()
        } else {
            let p = &results[i - 1];
            format!(
                "{:.2} / {:.2}",
                r.wall / p.wall,
                r.cpe_rows as f64 / p.cpe_rows as f64
            )
        };
        let st: Vec<String> = r.stages.iter().map(|(_, v)| format!("{v:.1}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {} |",
            synth::label(r.cases),
            thousands(r.cpe_rows),
            thousands(r.rows_read),
            st.join(" | "),
            r.wall,
            r.cpe_rows as f64 / r.wall,
            gib(r.peak),
            r.page as f64 / 1e6,
            ratio
        );
    }
    s
}

/// CPU model, cores and memory, for the results table.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| kib / (1024.0 * 1024.0))
        .unwrap_or(0.0);
    format!(
        "{cpu}, {cores} cores, {mem:.0} GiB RAM, {}",
        std::env::consts::OS
    )
}
