//! Benchmark of the per-pair statistics that need a quantile: EBGM with EB05/EB95, and IC
//! with IC025/IC975, old solver against new, in the same process, back to back.
//!
//!     cargo run --release --example bench_quantiles -- [PAIRS]   # default 600,000
//!
//! "Old" is the code before issue 21, compiled from the frozen copies the unit tests use
//! (`src/signals/ebgm/posterior/reference.rs`, `src/signals/bcpnn/reference.rs`): the
//! posterior computed three times per pair, bracketing and Brent for EB05/EB95,
//! bracketing and Newton for IC025/IC975. "New" is the library: one posterior per pair,
//! the safeguarded Halley solver, and IC intervals cached per count. Pairs are generated
//! in memory with a Zipf-like count `a` (P(a = k) ∝ k^−2.2, up to 10,000) and a
//! log-normal observed-to-expected ratio, so most pairs have a = 1 and small E, as in
//! spontaneous-report databases. Each variant runs on one thread and on two (halves of
//! the pairs); wall and CPU time are printed (CPU time is steadier on a shared machine),
//! with the largest difference between old and new.

use std::time::Instant;

use pvwatch::signals::{bcpnn, ebgm};

#[allow(dead_code)]
#[path = "../src/signals/ebgm/posterior/reference.rs"]
mod eb_reference;
#[allow(dead_code)]
#[path = "../src/signals/bcpnn/reference.rs"]
mod ic_reference;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `(a, E)` pairs: `a` Zipf-like on 1..=10,000, `E = a / ratio` with a log-normal ratio
/// (median 1.5, a long right tail), floored at 1e-6.
fn pairs(n: usize) -> Vec<(f64, f64)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let cdf: Vec<f64> = {
        let w: Vec<f64> = (1..=10_000).map(|k| f64::from(k).powf(-2.2)).collect();
        let total: f64 = w.iter().sum();
        w.iter()
            .scan(0.0, |acc, x| {
                *acc += x / total;
                Some(*acc)
            })
            .collect()
    };
    (0..n)
        .map(|_| {
            let u = rng.unit();
            let a = (cdf.partition_point(|&c| c < u) + 1) as f64;
            let ratio = (0.4 + 1.3 * rng.normal()).exp();
            (a, (a / ratio).max(1e-6))
        })
        .collect()
}

type Row = [f64; 6];

fn old_row(prior: &ebgm::Prior, a: f64, e: f64) -> Row {
    // As the signals stage did: try_ebgm, then try_quantile twice, each building the
    // posterior again.
    let gm = ebgm::try_ebgm(prior, a, e).unwrap_or(f64::NAN);
    let q = |p: f64| {
        ebgm::try_posterior(prior, a, e).map_or(f64::NAN, |post| {
            eb_reference::Mixture {
                q: post.q,
                shape1: post.shape1,
                rate1: post.rate1,
                shape2: post.shape2,
                rate2: post.rate2,
            }
            .quantile(p)
        })
    };
    let (eb05, eb95) = (q(0.05), q(0.95));
    let (shape, rate) = (a + 0.5, e + 0.5);
    let ic_q = |p: f64| {
        ic_reference::standard_gamma_quantile(p, shape).map_or(f64::NAN, |x| x.log2()) - rate.log2()
    };
    [
        gm,
        eb05,
        eb95,
        shape.log2() - rate.log2(),
        ic_q(0.025),
        ic_q(0.975),
    ]
}

fn new_row(prior: &ebgm::Prior, a: f64, e: f64) -> Row {
    let (gm, eb05, eb95) =
        ebgm::try_posterior(prior, a, e).map_or((f64::NAN, f64::NAN, f64::NAN), |post| {
            (
                post.geometric_mean(),
                post.quantile(0.05),
                post.quantile(0.95),
            )
        });
    let i = bcpnn::ic(a, e);
    [
        gm,
        eb05,
        eb95,
        i.map_or(f64::NAN, |x| x.ic),
        i.map_or(f64::NAN, |x| x.ic025),
        i.map_or(f64::NAN, |x| x.ic975),
    ]
}

/// CPU seconds this process has used (user + system, from `/proc/self/stat`; 10 ms
/// ticks). On a shared machine the wall time depends on the load and the CPU time much
/// less, so both are printed.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// `f` over all pairs on `threads` threads (contiguous chunks), the wall time and the
/// CPU time.
fn run(
    pairs: &[(f64, f64)],
    threads: usize,
    f: impl Fn(f64, f64) -> Row + Sync,
) -> (Vec<Row>, f64, f64) {
    let cpu = cpu_seconds();
    let t = Instant::now();
    let chunk = pairs.len().div_ceil(threads);
    let f = &f;
    let out: Vec<Row> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|&(a, e)| f(a, e)).collect::<Vec<Row>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("no panic"))
            .collect()
    });
    (out, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.replace('_', "").parse())
        .transpose()?
        .unwrap_or(600_000);
    let pairs = pairs(n);
    let ones = pairs.iter().filter(|p| p.0 == 1.0).count();
    println!(
        "{n} pairs ({:.0}% with a = 1, max a {})",
        100.0 * ones as f64 / n as f64,
        pairs.iter().map(|p| p.0).fold(0.0, f64::max)
    );
    let priors = [
        (
            "openEBGM vignette prior",
            ebgm::Prior {
                alpha1: 3.25379064,
                beta1: 0.39988801,
                alpha2: 2.02613219,
                beta2: 1.90808279,
                p: 0.06534557,
            },
        ),
        ("DuMouchel 1999 start", ebgm::Prior::DUMOUCHEL_1999_START),
        (
            "a prior at the search-box bound",
            ebgm::Prior {
                alpha1: 1e-5,
                beta1: 0.05,
                alpha2: 3.0,
                beta2: 2.5,
                p: 0.1,
            },
        ),
    ];
    let cols = ["EBGM", "EB05", "EB95", "IC", "IC025", "IC975"];
    for (name, prior) in priors {
        println!("\n{name}: {prior:?}");
        for threads in [1, 2] {
            let (old, t_old, c_old) = run(&pairs, threads, |a, e| old_row(&prior, a, e));
            let (new, t_new, c_new) = run(&pairs, threads, |a, e| new_row(&prior, a, e));
            let mut worst = [0.0f64; 6];
            let mut worst_abs = [0.0f64; 6];
            for (o, w) in old.iter().zip(&new) {
                for k in 0..6 {
                    let d = if o[k] == w[k] {
                        0.0
                    } else {
                        (o[k] - w[k]).abs() / o[k].abs().max(f64::MIN_POSITIVE)
                    };
                    worst[k] = worst[k].max(if d.is_nan() { f64::INFINITY } else { d });
                    let d = if o[k] == w[k] {
                        0.0
                    } else {
                        (o[k] - w[k]).abs()
                    };
                    worst_abs[k] = worst_abs[k].max(if d.is_nan() { f64::INFINITY } else { d });
                }
            }
            println!(
                "  {threads} thread(s): old {t_old:.3} s ({c_old:.2} s CPU), new {t_new:.3} s \
                 ({c_new:.2} s CPU): {:.1}× faster by wall time, {:.1}× by CPU time",
                t_old / t_new,
                c_old / c_new
            );
            println!(
                "    largest absolute difference of IC, IC025, IC975 (log2 units): {:.1e}, \
                 {:.1e}, {:.1e}",
                worst_abs[3], worst_abs[4], worst_abs[5]
            );
            let diffs: Vec<String> = cols
                .iter()
                .zip(worst)
                .map(|(c, w)| format!("{c} {w:.1e}"))
                .collect();
            println!(
                "    largest relative difference new vs old: {}",
                diffs.join(", ")
            );
        }
    }
    Ok(())
}
