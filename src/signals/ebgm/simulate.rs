//! Simulation from DuMouchel's model, for the tests of the fit and of the prior rule: a
//! seeded generator, so every test's data are the same on every platform.

use super::posterior::Prior;
use std::collections::BTreeMap;

/// SplitMix64 (Steele, Lea & Flood 2014). Tiny, and deterministic across platforms.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform on (0, 1), never exactly 0 or 1.
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub(crate) fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Gamma(shape, rate) by Marsaglia & Tsang (2000), with the U^{1/a} boost for
    /// shape < 1.
    pub(crate) fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
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
            let u = self.uniform();
            if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }
    /// Poisson by multiplying uniforms. It is exact, and large means are split into
    /// pieces so e^{−μ} never underflows.
    pub(crate) fn poisson(&mut self, mean: f64) -> u64 {
        if mean > 200.0 {
            let half = mean / 2.0;
            return self.poisson(half) + self.poisson(half);
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut prod = self.uniform();
        while prod > limit {
            k += 1;
            prod *= self.uniform();
        }
        k
    }
}

/// Simulates `pairs` observed pairs (N ≥ 1) from `prior`, with E log-uniform on
/// [0.005, 5]. With `grid`, E takes only 200 values, so repeated (n, E) pairs merge
/// into weights, as the pipeline will pass them.
pub(crate) fn simulate(
    prior: &Prior,
    pairs: usize,
    seed: u64,
    grid: bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Rng(seed);
    let (lo, hi) = (0.005f64.ln(), 5.0f64.ln());
    let mut merged: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut kept = 0;
    while kept < pairs {
        let u = rng.uniform();
        let ln_e = if grid {
            lo + (hi - lo) * ((u * 200.0).floor() / 199.0)
        } else {
            lo + (hi - lo) * u
        };
        let e = ln_e.exp();
        let lambda = if rng.uniform() < prior.p {
            rng.gamma(prior.alpha1, prior.beta1)
        } else {
            rng.gamma(prior.alpha2, prior.beta2)
        };
        let n = rng.poisson(lambda * e);
        if n == 0 {
            continue;
        }
        kept += 1;
        *merged.entry((n, e.to_bits())).or_insert(0.0) += 1.0;
    }
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for ((n, e_bits), w) in merged {
        out.0.push(n as f64);
        out.1.push(f64::from_bits(e_bits));
        out.2.push(w);
    }
    out
}
