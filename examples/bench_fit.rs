//! Benchmark of the EBGM prior fit alone: the previous multi-start Nelder–Mead against the
//! projected L-BFGS with analytic gradients, in the same process, on the same pairs.
//!
//!     cargo run --release --example bench_fit -- [PAIRS]            # default 600,000
//!     cargo run --release --example bench_fit -- --from signals.parquet
//!
//! Without `--from`, the pairs are simulated from DuMouchel's model (openEBGM's CAERS
//! prior, `E` log-uniform on [1e-4, 20], only pairs with `n ≥ 1` kept), and merged into
//! distinct (n, E) values with weights, as the pipeline passes them. With `--from`, the
//! `a` and `expected` columns of a `signals.parquet` (a run with `watch = ["all"]` has every
//! pair) are used instead. Prints each fit's time, −log-likelihood, iterations and
//! evaluations, and the ratio of the times.

use std::collections::BTreeMap;
use std::time::Instant;

use polars::prelude::*;
use pvwatch::signals::ebgm::{
    fit_prior_nelder_mead, fit_prior_with, Fit, Prior, Truncation, DEFAULT_STARTS,
    OPENEBGM_CAERS_PRIOR,
};

/// SplitMix64 (Steele, Lea & Flood 2014).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Marsaglia & Tsang (2000).
    fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let boost = self.uniform().powf(1.0 / shape);
            return self.gamma(shape + 1.0, rate) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let z = self.normal();
            let v = (1.0 + c * z).powi(3);
            if v <= 0.0 {
                continue;
            }
            if self.uniform().ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }
    fn poisson(&mut self, mean: f64) -> u64 {
        if mean > 200.0 {
            return self.poisson(mean / 2.0) + self.poisson(mean / 2.0);
        }
        let limit = (-mean).exp();
        let (mut k, mut prod) = (0, self.uniform());
        while prod > limit {
            k += 1;
            prod *= self.uniform();
        }
        k
    }
}

type Pairs = (Vec<f64>, Vec<f64>, Vec<f64>);

fn merge(pairs: impl Iterator<Item = (f64, f64)>) -> Pairs {
    let mut merged: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    for (n, e) in pairs {
        *merged.entry((n as u64, e.to_bits())).or_insert(0.0) += 1.0;
    }
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for ((n, e), w) in merged {
        out.0.push(n as f64);
        out.1.push(f64::from_bits(e));
        out.2.push(w);
    }
    out
}

fn simulate(pairs: usize) -> Pairs {
    let prior = OPENEBGM_CAERS_PRIOR;
    let mut rng = Rng(20261207);
    let (lo, hi) = (1e-4f64.ln(), 20f64.ln());
    let mut kept = Vec::with_capacity(pairs);
    while kept.len() < pairs {
        let e = (lo + (hi - lo) * rng.uniform()).exp();
        let lambda = if rng.uniform() < prior.p {
            rng.gamma(prior.alpha1, prior.beta1)
        } else {
            rng.gamma(prior.alpha2, prior.beta2)
        };
        let n = rng.poisson(lambda * e);
        if n > 0 {
            kept.push((n as f64, e));
        }
    }
    merge(kept.into_iter())
}

fn read_pairs(path: &str) -> Result<Pairs, Box<dyn std::error::Error>> {
    let df = ParquetReader::new(std::fs::File::open(path)?).finish()?;
    let a = df.column("a")?.cast(&DataType::Float64)?;
    let a = a.f64()?.clone();
    let e = df.column("expected")?.f64()?.clone();
    Ok(merge(
        a.iter()
            .zip(e.iter())
            .filter_map(|(a, e)| Some((a?, e?)))
            .filter(|(a, e)| *a >= 1.0 && *e > 0.0),
    ))
}

fn report(name: &str, secs: f64, fit: &Fit) {
    let p: &Prior = &fit.prior;
    println!(
        "{name:<22} {secs:>8.3} s  -lnL {:.6}  iterations {:>6}  evaluations {:>6}  converged {}  at bound {}  \
         prior ({:.4}, {:.4}, {:.4}, {:.4}, {:.5})",
        fit.neg_log_lik,
        fit.iterations,
        fit.evaluations,
        fit.converged,
        fit.at_bound,
        p.alpha1,
        p.beta1,
        p.alpha2,
        p.beta2,
        p.p
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let t = Instant::now();
    let (n, e, w) = match args.first().map(String::as_str) {
        Some("--from") => read_pairs(args.get(1).ok_or("--from needs a file")?)?,
        other => {
            let pairs = other
                .map(|s| s.replace('_', "").parse())
                .transpose()?
                .unwrap_or(600_000);
            simulate(pairs)
        }
    };
    println!(
        "pairs: {} ({} distinct (n, E)), prepared in {:.2} s; threads: {:?}",
        w.iter().sum::<f64>(),
        n.len(),
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map(|t| t.get())
    );
    let t = Instant::now();
    let old = fit_prior_nelder_mead(&n, &e, &w, &Prior::OPENEBGM_STARTS, Truncation::Mixture);
    let old_s = t.elapsed().as_secs_f64();
    report("Nelder-Mead (before)", old_s, &old);
    let t = Instant::now();
    let new = fit_prior_with(&n, &e, &w, &DEFAULT_STARTS, Truncation::Mixture);
    let new_s = t.elapsed().as_secs_f64();
    report("L-BFGS (now)", new_s, &new);
    println!(
        "speed-up: {:.1}x; -lnL now minus before: {:.3e} (relative {:.3e})",
        old_s / new_s,
        new.neg_log_lik - old.neg_log_lik,
        (new.neg_log_lik - old.neg_log_lik) / old.neg_log_lik.abs()
    );
    Ok(())
}
