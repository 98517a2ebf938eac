//! Benchmark of the signals stage: contingency counting, the EBGM prior fit and all four
//! methods, on a synthetic database sized to give about a million product × event pairs.
//!
//!     cargo run --release --example bench_signals -- [CASES]   # default 1,500,000
//!
//! The data are generated in memory (deterministic, Zipf-like product and event
//! frequencies) so that only the stage itself is timed. Every product is watched, so the
//! statistics are computed for every pair: the worst case. Prints wall time per step,
//! rows per second, pairs, and peak resident memory.

use std::time::Instant;

use polars::prelude::*;
use pvwatch::config::Signals;
use pvwatch::ingest::Dataset;
use pvwatch::schema::col;
use pvwatch::signals;

#[path = "synth/mod.rs"]
mod synth;

use synth::{zipf_cdf, Rng};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("pvwatch=debug")
        .with_writer(std::io::stderr)
        .init();
    let cases: usize = std::env::args()
        .nth(1)
        .map(|s| s.replace('_', "").parse())
        .transpose()?
        .unwrap_or(1_500_000);
    let (n_products, n_events) = (20_000, 6_000);
    let mut rng = Rng::new(20251123);
    let pc = zipf_cdf(n_products, 1.05);
    let ec = zipf_cdf(n_events, 1.0);

    let t = Instant::now();
    let mut case_id = Vec::with_capacity(cases);
    let mut first = Vec::with_capacity(cases);
    let mut sex = Vec::with_capacity(cases);
    // Ingest's shapes: every table keyed by the integer case key (`__case`, the case's
    // row), sex as its index into `schema::SEXES`, and only counted (suspect or
    // interacting) products kept: ingest accounts for concomitant ones and drops them.
    let (mut p_case, mut p_id) = (Vec::new(), Vec::new());
    let (mut e_case, mut e_id) = (Vec::new(), Vec::new());
    for i in 0..cases {
        let key = i as IdxSize;
        first.push(19_000 + (rng.next() % 2_000) as i32);
        sex.push((rng.next() % 3) as u32);
        for _ in 0..1 + rng.next() % 2 {
            let product = format!("P{}", rng.pick(&pc));
            if !rng.next().is_multiple_of(10) {
                p_case.push(key);
                p_id.push(product);
            }
        }
        for _ in 0..1 + rng.next() % 3 {
            e_case.push(key);
            e_id.push(format!("E{}", rng.pick(&ec)));
        }
        case_id.push(format!("C{i}"));
    }
    let n = cases;
    let data = Dataset {
        superseded_versions: DataFrame::empty(),
        cases: DataFrame::new_infer_height(vec![
            Column::new(col::CASE_KEY.into(), (0..n as IdxSize).collect::<Vec<_>>()),
            Column::new(col::CASE_ID.into(), case_id),
            Column::new(col::CLASS.into(), vec!["drug"; n]),
            Column::new(col::FIRST_RECEIVED.into(), first).cast(&DataType::Date)?,
            Column::new(col::SEX.into(), sex),
            Column::new(col::AGE_YEARS.into(), vec![None::<f64>; n]),
        ])?,
        case_products: DataFrame::new_infer_height(vec![
            Column::new(col::CASE_KEY.into(), p_case),
            Column::new(col::PRODUCT_ID.into(), p_id),
        ])?,
        case_events: DataFrame::new_infer_height(vec![
            Column::new(col::CASE_KEY.into(), e_case),
            Column::new(col::EVENT.into(), e_id),
        ])?,
        products: DataFrame::new_infer_height(vec![
            Column::new(
                col::PRODUCT_ID.into(),
                (0..n_products).map(|i| format!("P{i}")).collect::<Vec<_>>(),
            ),
            Column::new(
                col::NAME.into(),
                (0..n_products)
                    .map(|i| format!("产品{i}"))
                    .collect::<Vec<_>>(),
            ),
            Column::new(col::INNOVATIVE.into(), vec![true; n_products]),
            Column::new(col::CONDITIONAL.into(), vec![false; n_products]),
            Column::new(col::PROCURED.into(), vec![false; n_products]),
            Column::new(col::CLASS.into(), vec!["drug"; n_products]),
            Column::new(col::HOLDER.into(), vec![None::<&str>; n_products]),
        ])?,
        populations: DataFrame::empty(),
        event_terms: None,
        rejects: Vec::new(),
        tables: Vec::new(),
        data_cutoff: None,
    };
    // Case-product-event rows, approximately: mean products × mean events × cases.
    let rows = data.case_products.height() as f64 * data.case_events.height() as f64 / n as f64;
    println!(
        "generated {} cases, {} product rows, {} event rows in {:.1} s",
        n,
        data.case_products.height(),
        data.case_events.height(),
        t.elapsed().as_secs_f64()
    );

    let cfg = Signals {
        watch: vec!["all".to_string()],
        ..Signals::default()
    };
    let period: pvwatch::Period = "2025".parse()?;

    let t = Instant::now();
    let _counts = signals::counts::count_pairs(
        &data.cases,
        &data.case_products,
        &data.case_events,
        period.end(),
        &cfg,
    )?;
    let counting = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let result = signals::compute_signals(&data, &cfg, &period)?;
    let total = t.elapsed().as_secs_f64();
    let prior = &result.priors[0];
    println!(
        "pairs counted: {}, watched rows with statistics: {}, distinct (a, E): {}",
        result.pairs_counted,
        result.table.height(),
        prior.distinct_pairs
    );
    println!("counting alone:                         {counting:>7.2} s");
    println!(
        "counting + prior fit + all four methods: {total:>7.2} s  ({:.0} pairs/s, ~{:.0} case-product-event rows/s)",
        result.pairs_counted as f64 / total,
        rows / total
    );
    println!(
        "prior: α1={:.4} β1={:.4} α2={:.4} β2={:.4} P={:.4}  −logL={:.3}  iterations={:?} ebgm_prior={}",
        prior.alpha1, prior.beta1, prior.alpha2, prior.beta2, prior.p, prior.neg_log_lik,
        prior.class_fit.as_ref().map(|f| f.iterations), prior.ebgm_prior.as_str()
    );
    println!("peak resident memory: {:.0} MiB", peak_rss_mib());
    Ok(())
}
