//! Generate a synthetic pvwatch database as Parquet (see `examples/synth/mod.rs` for what
//! it holds).
//!
//!     cargo run --release --example generate -- CASES OUT_DIR [--seed N]
//!
//! CASES takes a suffix: `100k`, `1m`, `25m`. The same seed and size give identical files.

#[path = "synth/mod.rs"]
mod synth;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seed = 2025u64;
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().context("--seed needs a value")?.parse()?,
            _ => pos.push(a.clone()),
        }
    }
    let [cases, out] = pos.as_slice() else {
        bail!("usage: generate CASES OUT_DIR [--seed N]   (CASES: 100k, 1m, 25m, …)");
    };
    let cases = synth::parse_size(cases)?;
    if !(1_000..=50_000_000).contains(&cases) {
        bail!("CASES must be between 1k and 50m, got {cases}");
    }
    let started = Instant::now();
    let (w, planted) = synth::generate(&synth::Options {
        cases,
        seed,
        out: PathBuf::from(out),
        chunk: 500_000,
    })?;
    println!(
        "{} cases: {} reports, {} report_products, {} report_events, {} products; {} case × product × event rows; {:.1} s",
        w.cases,
        w.reports,
        w.report_products,
        w.report_events,
        w.products,
        w.cpe_rows,
        started.elapsed().as_secs_f64()
    );
    for p in planted {
        println!("planted {} × {}: a = {}", p.product, p.event, p.a);
    }
    Ok(())
}
