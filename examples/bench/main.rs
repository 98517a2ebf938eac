//! The benchmark harness: pvwatch end to end on generated data at several sizes, and side
//! by side with vigipy and a DuckDB query on the same data.
//!
//!     cargo run --release --example bench                       # 100k, 1m, 10m, 25m cases
//!     cargo run --release --example bench -- --sizes 100k,1m    # a quicker look
//!     cargo run --release --example bench -- --sizes 1m --vs-vigipy --vs-duckdb
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
//! - with `--reference DIR`, that `signals.parquet`, `rates.parquet`, `screening.parquet` and
//!   `alerts.jsonl` are the reference run's: counts, PRR/ROR/χ² identical, IC and EBGM
//!   within 1e-9 relative, except in classes whose EBGM prior rule changed (`reference.rs`;
//!   `--save-reference DIR` keeps a run as the reference; see the README, "Performance").
//!   A difference is printed when found and fails the harness at the end, after the
//!   peers and the tables.
//!
//! With `--vs-vigipy` and/or `--vs-duckdb`, pvwatch runs with every product watched
//! (`watch = ["all"]`, so that every pair gets every statistic) and each peer runs on the
//! same tables right after it, timed the same way (`peers.rs`); their agreement with
//! pvwatch's counts and statistics is printed, and a second table compares the tools.
//!
//! The tables are also written to `target/bench-data/results.md` (the peers' table after
//! the stages table). No timing is asserted.

#[path = "../synth/mod.rs"]
mod synth;

mod peers;
mod reference;

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
    /// Peers to run side by side; any of them makes pvwatch watch every product.
    peers: Vec<peers::Peer>,
    /// Watch every product even without a peer.
    watch_all: bool,
    venv: PathBuf,
}

fn args() -> Result<Args> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        sizes: vec![100_000, 1_000_000, 10_000_000, 25_000_000],
        data: root.join("target/bench-data"),
        reference: None,
        save_reference: None,
        pvwatch: root.join("target/release/pvwatch"),
        peers: Vec::new(),
        watch_all: false,
        venv: peers::default_venv(),
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
            "--vs-vigipy" => a.peers.push(peers::Peer::Vigipy),
            "--vs-duckdb" => a.peers.push(peers::Peer::DuckDb),
            "--watch-all" => a.watch_all = true,
            "--venv" => a.venv = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--sizes 100k,1m,10m,25m] [--data DIR] [--reference DIR | --save-reference DIR] [--pvwatch BIN]\n             [--vs-vigipy] [--vs-duckdb] [--watch-all] [--venv DIR]\n\n  --vs-vigipy   also run vigipy {} (PRR, ROR, BCPNN, GPS) on the same data\n  --vs-duckdb   also run one DuckDB query (a, b, c, d, expected, PRR, ROR) on the same data\n  --watch-all   watch every product (implied by --vs-*); outputs in <size>/out-all,\n                references under <size>-all\n  --venv DIR    the peers' Python virtual environment (default {}; created when missing)",
                    peers::VIGIPY,
                    peers::default_venv().display()
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (see --help)"),
        }
    }
    a.peers.dedup();
    a.watch_all |= !a.peers.is_empty();
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

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: f64,
    /// Peak resident memory, bytes.
    peak: u64,
    /// User + system CPU seconds (the child and its own children): on a busy machine the
    /// steadier figure.
    cpu: f64,
}

/// Wall time, CPU time and peak resident memory of one child process (`what` names it in
/// errors).
fn run_measured(what: &str, cmd: &mut Command) -> Result<Measured> {
    let started = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
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
        bail!("{what} failed (wait status {status}); see its output above");
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Measured {
        wall,
        peak: usage.ru_maxrss as u64 * 1024,
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
    })
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

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// The synth pipeline with every product watched, its outputs in `out-all`.
fn pipeline_all() -> Result<String> {
    let watch = r#"watch = ["innovative", "conditional", "procured"]"#;
    let out = r#"output_dir = "out""#;
    if !synth::PIPELINE.contains(watch) || !synth::PIPELINE.contains(out) {
        bail!("examples/synth's PIPELINE changed: update pipeline_all() in examples/bench");
    }
    Ok(synth::PIPELINE
        .replace(watch, r#"watch = ["all"]"#)
        .replace(out, r#"output_dir = "out-all""#))
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
    let python = if args.peers.is_empty() {
        None
    } else {
        Some(peers::ensure_venv(&args.venv)?)
    };
    let (pipeline, pipeline_file, out_dir, suffix) = if args.watch_all {
        (pipeline_all()?, "bench-all.toml", "out-all", "-all")
    } else {
        (synth::PIPELINE.to_string(), "bench.toml", "out", "")
    };
    let mut results: Vec<Result1> = Vec::new();
    let mut reference_failures: Vec<String> = Vec::new();
    let mut side: Vec<(u64, Vec<peers::PeerRun>)> = Vec::new();
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
        std::fs::write(dir.join(pipeline_file), &pipeline)?;
        let out = dir.join(out_dir);
        let _ = std::fs::remove_dir_all(&out);
        let measured = run_measured(
            "pvwatch",
            Command::new(pvwatch)
                .args(["run", pipeline_file, "--quiet"])
                .current_dir(&dir),
        )?;
        let Measured { wall, peak, cpu } = measured;
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
        // Every list on it, the screening list included, is cut at `alerts.page_limit`,
        // so the bound holds with every product watched too.
        if page > PAGE_LIMIT_BYTES {
            bail!(
                "review.html is {:.1} MB at {}: over the {} MB bound",
                page as f64 / 1e6,
                synth::label(cases),
                PAGE_LIMIT_BYTES / 1_000_000
            );
        }
        eprintln!(
            "   pvwatch {wall:.1} s (CPU {cpu:.1} s), peak {:.2} GiB, {} pairs; review.html {:.2} MB; planted: {planted}",
            gib(peak),
            thousands(signals.height() as u64),
            page as f64 / 1e6
        );
        // References of runs watching every product are kept apart from the others'.
        let tag = format!("{}{suffix}", synth::label(cases));
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
                // Reported now, failed at the end: the peers and the tables still run.
                if let Err(e) = reference::check(&run_dir, &from, &signals) {
                    eprintln!("   {tag}: {e}");
                    reference_failures.push(format!("{tag}: {e}"));
                }
            } else {
                eprintln!("   no reference for {tag} in {}", refdir.display());
            }
        }
        let mut runs = vec![peers::PeerRun {
            peer: None,
            wall,
            cpu,
            peak,
            pairs: signals.height() as u64,
        }];
        if let Some(python) = &python {
            for &peer in &args.peers {
                let (run, result) = peers::run(peer, python, &dir)?;
                eprintln!(
                    "   {} {:.1} s (CPU {:.1} s), peak {:.2} GiB, {} pairs",
                    peer.name(),
                    run.wall,
                    run.cpu,
                    gib(run.peak),
                    thousands(run.pairs)
                );
                let mut lines = peers::agreement(peer, &result, &signals)?;
                if peer == peers::Peer::Vigipy {
                    lines.extend(peers::priors(&result, &manifest));
                }
                for line in lines {
                    eprintln!("   {line}");
                }
                runs.push(run);
            }
        }
        side.push((cases, runs));
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
    let mut table = render(&results, args.watch_all);
    if !args.peers.is_empty() {
        table.push('\n');
        table.push_str(&peers::render(&side));
    }
    println!("{table}");
    std::fs::create_dir_all(&args.data)?;
    std::fs::write(args.data.join("results.md"), &table)?;
    if !reference_failures.is_empty() {
        bail!(
            "the results differ from the reference: {}",
            reference_failures.join("; ")
        );
    }
    Ok(())
}

fn render(results: &[Result1], watch_all: bool) -> String {
    let mut s = String::new();
    let machine = machine();
    let _ = writeln!(
        s,
        "Machine: {machine}; {} UTC; pvwatch {}; {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        env!("CARGO_PKG_VERSION"),
        if watch_all {
            "every product watched (`watch = [\"all\"]`)"
        } else {
            "innovative, conditional and procured products watched"
        }
    );
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
