//! A deterministic, seeded generator of pvwatch's canonical tables, as Parquet, at any size
//! from ten thousand to tens of millions of cases. Shared by `examples/generate.rs` (the
//! command) and `examples/bench/` (the benchmark harness).
//!
//! What the data look like:
//!
//! - **Cases** of three classes (drug 80%, device 15%, cosmetic 5%), first received between
//!   2004 and 2025 with more reports in later years, in real prefecture-level regions
//!   (`sample-data/populations.csv`) drawn in proportion to their population.
//! - **Products and events** with Zipf-like frequencies. Each class has its own event
//!   profile (its own ranking of a shared vocabulary), and every product has three
//!   favourite events it is reported with more often than its class at large, so that the
//!   background holds mild associations, as real databases do.
//! - **About four case × product × event rows per case**: 1 + Geometric(0.45) products (the
//!   first one suspect; the others suspect, concomitant or interacting) and 1 +
//!   Geometric(0.45) events, distinct within the case.
//! - **Follow-ups**: 10% of cases also have an earlier version (version 1, received 30–120
//!   days before, with only the first product and the first event), superseded by
//!   version 2.
//! - **Watched products**: about 4% innovative, 1% conditional, 6% procured.
//! - **Planted signals**: for each planted (product, event), cases whose first suspect
//!   product is the planted one get the planted event with probability 5%; every other
//!   case gets it with probability 1 in 10,000. The generator counts the exact 2×2 cells
//!   `a, b, c, d` of each planted pair on the latest versions as it writes them, and writes
//!   them to `planted.csv` with the PRR and ROR they imply.
//!
//! The same seed and size give byte-identical tables.

#![allow(dead_code)] // each including example uses a different part

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

/// SplitMix64: small, fast and the same on every platform and crate version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index drawn with the weights behind the cumulative sums `cdf`.
    pub fn pick(&mut self, cdf: &[f64]) -> usize {
        let u = self.unit() * cdf[cdf.len() - 1];
        cdf.partition_point(|c| *c <= u).min(cdf.len() - 1)
    }

    /// A Zipf-like index in `0..n` without a table: small indices are far more frequent.
    pub fn skewed(&mut self, n: u64) -> u64 {
        ((n as f64).powf(self.unit()) - 1.0) as u64 % n
    }

    /// 1 + Geometric(p): 1, 2, 3, … with P(k) = p(1-p)^(k-1).
    pub fn one_plus_geometric(&mut self, p: f64, max: usize) -> usize {
        let mut k = 1;
        while k < max && !self.chance(p) {
            k += 1;
        }
        k
    }
}

/// A size: `250000`, `100k`, `1m`, `2.5m`.
pub fn parse_size(s: &str) -> Result<u64> {
    let lower = s.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = lower.strip_suffix('k') {
        (n, 1e3)
    } else if let Some(n) = lower.strip_suffix('m') {
        (n, 1e6)
    } else {
        (lower.as_str(), 1.0)
    };
    match num.replace('_', "").parse::<f64>() {
        Ok(v) if v >= 0.0 => Ok((v * mult).round() as u64),
        _ => anyhow::bail!("not a size: `{s}` (try 100k, 1m, 25m)"),
    }
}

/// The short form of a size: `100k`, `1m`, `25m`.
pub fn label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}m", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// Cumulative Zipf weights 1/(i+1)^s for i in 0..n.
pub fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|i| {
            acc += 1.0 / ((i + 1) as f64).powf(s);
            acc
        })
        .collect()
}

fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// A pipeline over the generated tables (in the same folder): all four methods, the EBGM
/// prior fitted per class, rates for provinces and cities.
pub const PIPELINE: &str = r#"# Written by examples/synth: all four methods, the EBGM prior fitted per class.
name = "bench"
period = "2025"
output_dir = "out"
lang = "en"

[inputs]
reports = "reports.parquet"
report_products = "report_products.parquet"
report_events = "report_events.parquet"
products = "products.parquet"
populations = "populations.parquet"
event_terms = "event_terms.parquet"

[rates]
levels = ["province", "city"]

[rates.targets.drug]
per_million = 1000
regions = { "310000" = 1500 }

[rates.targets.device]
per_million = 400

[rates.targets.cosmetic]
per_million = 100

[signals]
watch = ["innovative", "conditional", "procured"]
methods = ["prr", "ror", "bcpnn", "ebgm"]
min_methods = 2
"#;

/// Generator settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub cases: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// Cases generated and written per Parquet row group.
    pub chunk: u64,
}

/// One class: its code, its products and its event profile.
struct Class {
    name: &'static str,
    prefix: char,
    share: f64,
    products: usize,
    /// The class's events: indexes into the shared vocabulary, most frequent first.
    events: Vec<usize>,
    product_cdf: Vec<f64>,
    event_cdf: Vec<f64>,
}

/// A planted (product, event) pair and its exact cells, counted while writing.
#[derive(Debug, Clone, Default)]
pub struct Planted {
    pub class: &'static str,
    pub product: String,
    pub event: String,
    pub a: u64,
    pub n_product: u64,
    pub n_event: u64,
}

/// Row counts written, per table.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub cases: u64,
    pub reports: u64,
    pub report_products: u64,
    pub report_events: u64,
    pub products: u64,
    pub cpe_rows: u64,
}

/// Real terms used for the planted events, so that the output reads naturally.
const PLANTED: [(&str, usize, &str); 5] = [
    ("drug", 11, "Myocarditis"),
    ("drug", 23, "Immune-mediated hepatitis"),
    ("drug", 47, "Stevens-Johnson syndrome"),
    ("device", 7, "Thrombosis"),
    ("cosmetic", 5, "Dermatitis allergic"),
];
const P_PLANTED: f64 = 0.05;
const P_PLANTED_BACKGROUND: f64 = 1e-4;
const VOCABULARY: usize = 6_000;
const FIRST_YEAR: i32 = 2004;
const LAST_YEAR: i32 = 2025;
const SOCS: [&str; 8] = [
    "Cardiac disorders",
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Hepatobiliary disorders",
    "Immune system disorders",
    "Nervous system disorders",
    "Skin and subcutaneous tissue disorders",
    "Vascular disorders",
];

fn product_id(class: &Class, i: usize) -> String {
    format!("{}{:05}", class.prefix, i + 1)
}

/// Synthetic MedDRA-like 8-digit codes for the vocabulary, then the planted terms.
fn event_name(i: usize) -> String {
    if i < VOCABULARY {
        format!("{}", 10_000_001 + i * 7)
    } else {
        PLANTED[i - VOCABULARY].2.to_string()
    }
}

fn classes(rng: &mut Rng, cases: u64) -> Vec<Class> {
    // Catalogue sizes grow slowly with the database, as they do in practice.
    let scale = ((cases as f64) / 1e6).clamp(0.05, 25.0).sqrt();
    let spec = [
        ("drug", 'D', 0.80, 6_000.0, 3_000),
        ("device", 'M', 0.15, 2_500.0, 900),
        ("cosmetic", 'H', 0.05, 800.0, 300),
    ];
    spec.iter()
        .map(|&(name, prefix, share, products, n_events)| {
            let products = ((products * scale) as usize).max(60);
            // The class's own ranking of a random subset of the vocabulary.
            let mut events: Vec<usize> = (0..VOCABULARY).collect();
            for i in (1..events.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                events.swap(i, j);
            }
            events.truncate(n_events);
            Class {
                name,
                prefix,
                share,
                products,
                product_cdf: zipf_cdf(products, 1.1),
                event_cdf: zipf_cdf(events.len(), 1.0),
                events,
            }
        })
        .collect()
}

/// Regions (prefecture-level cities) with their latest population, and the populations
/// table, from `sample-data/populations.csv`.
fn regions() -> Result<(Vec<String>, Vec<f64>, DataFrame)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/populations.csv");
    let mut rdr = csv::Reader::from_path(&path).with_context(|| path.display().to_string())?;
    let (mut region, mut year, mut population, mut name) = (vec![], vec![], vec![], vec![]);
    let mut latest: HashMap<String, (i64, f64)> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| path.display().to_string())?;
        let (r, y, p) = (&rec[0], rec[1].parse::<i64>()?, rec[2].parse::<i64>()?);
        region.push(r.to_string());
        year.push(y);
        population.push(p);
        name.push(rec[3].to_string());
        let e = latest.entry(r.to_string()).or_insert((y, p as f64));
        if y > e.0 {
            *e = (y, p as f64);
        }
    }
    let mut cities: Vec<(String, f64)> = latest
        .into_iter()
        .filter(|(r, _)| !r.ends_with("0000"))
        .map(|(r, (_, p))| (r, p))
        .collect();
    cities.sort_by(|a, b| a.0.cmp(&b.0));
    let df = DataFrame::new_infer_height(vec![
        Column::new("region".into(), region),
        Column::new("year".into(), year),
        Column::new("population".into(), population),
        Column::new("name".into(), name),
    ])?;
    let (codes, pops) = cities.into_iter().unzip();
    Ok((codes, pops, df))
}

/// Column buffers for one chunk of cases.
#[derive(Default)]
struct Chunk {
    report_id: Vec<String>,
    case_id: Vec<String>,
    version: Vec<i64>,
    received: Vec<i32>,
    class: Vec<&'static str>,
    region: Vec<String>,
    reporter: Vec<&'static str>,
    sentinel: Vec<bool>,
    is_new: Vec<bool>,
    serious: Vec<bool>,
    fatal: Vec<bool>,
    sex: Vec<&'static str>,
    age: Vec<Option<f64>>,
    rp_report: Vec<String>,
    rp_product: Vec<String>,
    rp_role: Vec<&'static str>,
    rp_batch: Vec<Option<String>>,
    re_report: Vec<String>,
    re_event: Vec<String>,
    re_onset: Vec<Option<i32>>,
}

fn date_column(name: &str, days: Vec<Option<i32>>) -> Result<Column> {
    Ok(Column::new(name.into(), days).cast(&DataType::Date)?)
}

impl Chunk {
    fn frames(self) -> Result<[DataFrame; 3]> {
        let received: Vec<Option<i32>> = self.received.into_iter().map(Some).collect();
        let reports = DataFrame::new_infer_height(vec![
            Column::new("report_id".into(), self.report_id),
            Column::new("case_id".into(), self.case_id),
            Column::new("version".into(), self.version),
            date_column("received_date", received)?,
            Column::new("class".into(), self.class),
            Column::new("region".into(), self.region),
            Column::new("reporter_type".into(), self.reporter),
            Column::new("sentinel".into(), self.sentinel),
            Column::new("is_new".into(), self.is_new),
            Column::new("is_serious".into(), self.serious),
            Column::new("fatal".into(), self.fatal),
            Column::new("sex".into(), self.sex),
            Column::new("age_years".into(), self.age),
        ])?;
        let products = DataFrame::new_infer_height(vec![
            Column::new("report_id".into(), self.rp_report),
            Column::new("product_id".into(), self.rp_product),
            Column::new("role".into(), self.rp_role),
            Column::new("batch".into(), self.rp_batch),
        ])?;
        let events = DataFrame::new_infer_height(vec![
            Column::new("report_id".into(), self.re_report),
            Column::new("event".into(), self.re_event),
            date_column("onset_date", self.re_onset)?,
        ])?;
        Ok([reports, products, events])
    }
}

fn writer(path: &Path, schema: &Schema) -> Result<polars::io::parquet::write::BatchedWriter<File>> {
    let file = File::create(path).with_context(|| path.display().to_string())?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .batched(schema)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn write_whole(path: &Path, df: &mut DataFrame) -> Result<()> {
    let file = File::create(path).with_context(|| path.display().to_string())?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .finish(df)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// Days since 1970-01-01 of a date.
fn epoch_days(y: i32, m: u32, d: u32) -> i32 {
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// Write `reports`, `report_products`, `report_events`, `products`, `populations` and
/// `event_terms` as Parquet into `opts.out`, and `planted.csv`.
pub fn generate(opts: &Options) -> Result<(Written, Vec<Planted>)> {
    std::fs::create_dir_all(&opts.out).with_context(|| opts.out.display().to_string())?;
    let mut rng = Rng::new(opts.seed);
    let classes = classes(&mut rng, opts.cases);
    let class_cdf = cumulative(classes.iter().map(|c| c.share));
    let (region_codes, region_pops, mut populations) = regions()?;
    let region_cdf = cumulative(region_pops.iter().copied());

    // Each product's three favourite events (indexes into its class's profile).
    let favourites: Vec<Vec<[usize; 3]>> = classes
        .iter()
        .map(|c| {
            (0..c.products)
                .map(|_| std::array::from_fn(|_| rng.pick(&c.event_cdf)))
                .collect()
        })
        .collect();

    // Products registry, with watched flags; planted products are innovative.
    let mut planted: Vec<Planted> = PLANTED
        .iter()
        .map(|&(class, rank, event)| {
            let c = classes.iter().find(|c| c.name == class).expect("class");
            Planted {
                class: c.name,
                product: product_id(c, rank),
                event: event.to_string(),
                ..Planted::default()
            }
        })
        .collect();
    let mut registry = {
        let (mut id, mut name, mut class, mut innov, mut cond, mut proc_, mut approved, mut holder) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for c in &classes {
            for i in 0..c.products {
                let pid = product_id(c, i);
                let is_planted = planted.iter().any(|p| p.product == pid);
                name.push(format!("示例{}{}", kind_label(c.name), i + 1));
                class.push(c.name);
                innov.push(is_planted || rng.chance(0.04));
                cond.push(rng.chance(0.01));
                proc_.push(rng.chance(0.06));
                approved.push(Some(epoch_days(1995, 1, 1) + rng.below(30 * 365) as i32));
                holder.push(format!("示例企业{:03}", rng.below(400) + 1));
                id.push(pid);
            }
        }
        DataFrame::new_infer_height(vec![
            Column::new("product_id".into(), id),
            Column::new("name".into(), name),
            Column::new("class".into(), class),
            Column::new("innovative".into(), innov),
            Column::new("conditional".into(), cond),
            Column::new("procured".into(), proc_),
            date_column("approval_date", approved)?,
            Column::new("holder".into(), holder),
        ])?
    };
    let mut terms = {
        let n = VOCABULARY + PLANTED.len();
        let events: Vec<String> = (0..n).map(event_name).collect();
        let socs: Vec<&str> = (0..n).map(|i| SOCS[i % SOCS.len()]).collect();
        DataFrame::new_infer_height(vec![
            Column::new("event".into(), events),
            Column::new("soc".into(), socs),
        ])?
    };

    // Receipt dates: years weighted towards recent ones, days uniform within a year.
    let year_cdf = cumulative((FIRST_YEAR..=LAST_YEAR).map(|y| ((y - 2000) as f64).powf(1.5)));

    let out = |name: &str| opts.out.join(format!("{name}.parquet"));
    let mut written = Written {
        cases: opts.cases,
        products: registry.height() as u64,
        ..Written::default()
    };
    let mut writers: Option<[polars::io::parquet::write::BatchedWriter<File>; 3]> = None;
    let mut case_no = 0u64;
    let mut n_class = vec![0u64; classes.len()];
    let mut products_of_case: Vec<(usize, &'static str)> = Vec::with_capacity(8);
    let mut events_of_case: Vec<usize> = Vec::with_capacity(8);
    while case_no < opts.cases {
        let n = opts.chunk.min(opts.cases - case_no);
        let mut ch = Chunk::default();
        for _ in 0..n {
            case_no += 1;
            let ci = rng.pick(&class_cdf);
            let class = &classes[ci];
            n_class[ci] += 1;
            let year = FIRST_YEAR + rng.pick(&year_cdf) as i32;
            let received = epoch_days(year, 1, 1) + rng.below(365) as i32;
            let region = &region_codes[rng.pick(&region_cdf)];

            products_of_case.clear();
            let np = rng.one_plus_geometric(0.45, 6);
            while products_of_case.len() < np {
                let p = rng.pick(&class.product_cdf);
                if products_of_case.iter().any(|(q, _)| *q == p) {
                    if rng.chance(0.5) {
                        break; // a catalogue too small to fill the case: stop early
                    }
                    continue;
                }
                let role = if products_of_case.is_empty() {
                    "suspect"
                } else {
                    match rng.below(20) {
                        0..=9 => "suspect",
                        10..=16 => "concomitant",
                        _ => "interacting",
                    }
                };
                products_of_case.push((p, role));
            }
            events_of_case.clear();
            let ne = rng.one_plus_geometric(0.45, 6);
            let first = products_of_case[0].0;
            while events_of_case.len() < ne {
                let e = if rng.chance(0.3) {
                    class.events[favourites[ci][first][rng.below(3) as usize]]
                } else {
                    class.events[rng.pick(&class.event_cdf)]
                };
                if events_of_case.contains(&e) {
                    if rng.chance(0.5) {
                        break;
                    }
                    continue;
                }
                events_of_case.push(e);
            }
            for (k, pl) in PLANTED.iter().enumerate() {
                if pl.0 != class.name {
                    continue;
                }
                let hit = if product_id(class, first) == planted[k].product {
                    rng.chance(P_PLANTED)
                } else {
                    rng.chance(P_PLANTED_BACKGROUND)
                };
                if hit {
                    events_of_case.push(VOCABULARY + k);
                }
            }

            // Exact cells of the planted pairs, on this (latest) version.
            for (k, p) in planted.iter_mut().enumerate() {
                if p.class != class.name {
                    continue;
                }
                let exposed = products_of_case
                    .iter()
                    .any(|(q, role)| *role != "concomitant" && product_id(class, *q) == p.product);
                let has_event = events_of_case.contains(&(VOCABULARY + k));
                p.n_product += exposed as u64;
                p.n_event += has_event as u64;
                p.a += (exposed && has_event) as u64;
            }

            let case_id = format!("C{case_no:010}");
            let serious = rng.chance(0.25);
            let fatal = serious && rng.chance(0.04);
            let sex = match rng.below(100) {
                0..=47 => "M",
                48..=97 => "F",
                _ => "U",
            };
            let age = (!rng.chance(0.05)).then(|| (rng.below(950) as f64) / 10.0);
            let sentinel = rng.chance(0.3);
            let is_new = rng.chance(0.3);
            let reporter = match rng.below(10) {
                0..=6 => "medical_institution",
                7 | 8 => "mah",
                _ => "individual",
            };
            let follow_up = rng.chance(0.10);
            let versions: &[i64] = if follow_up { &[1, 2] } else { &[1] };
            for &version in versions {
                let latest = version == *versions.last().expect("a version");
                let report_id = format!("R{case_no:010}-{version}");
                let date = if latest {
                    received
                } else {
                    received - 30 - rng.below(91) as i32
                };
                ch.report_id.push(report_id.clone());
                ch.case_id.push(case_id.clone());
                ch.version.push(version);
                ch.received.push(date);
                ch.class.push(class.name);
                ch.region.push(region.clone());
                ch.reporter.push(reporter);
                ch.sentinel.push(sentinel);
                ch.is_new.push(is_new);
                ch.serious.push(serious && latest);
                ch.fatal.push(fatal && latest);
                ch.sex.push(sex);
                ch.age.push(age);
                let (np, ne) = if latest {
                    (products_of_case.len(), events_of_case.len())
                } else {
                    (1, 1)
                };
                for &(p, role) in &products_of_case[..np] {
                    ch.rp_report.push(report_id.clone());
                    ch.rp_product.push(product_id(class, p));
                    ch.rp_role.push(role);
                    ch.rp_batch.push(
                        (class.name == "device" || rng.chance(0.1))
                            .then(|| format!("B{}{:04}", year % 100, rng.below(10_000))),
                    );
                }
                for &e in &events_of_case[..ne] {
                    ch.re_report.push(report_id.clone());
                    ch.re_event.push(event_name(e));
                    ch.re_onset.push(Some(date - rng.below(60) as i32));
                }
                if latest {
                    written.cpe_rows += (np * ne) as u64;
                }
            }
        }
        let mut frames = ch.frames()?;
        written.reports += frames[0].height() as u64;
        written.report_products += frames[1].height() as u64;
        written.report_events += frames[2].height() as u64;
        let ws = match &mut writers {
            Some(ws) => ws,
            None => writers.insert([
                writer(&out("reports"), frames[0].schema())?,
                writer(&out("report_products"), frames[1].schema())?,
                writer(&out("report_events"), frames[2].schema())?,
            ]),
        };
        for (w, df) in ws.iter_mut().zip(frames.iter_mut()) {
            df.rechunk_mut();
            w.write_batch(df)?;
        }
    }
    if let Some(ws) = writers {
        for w in ws {
            w.finish()?;
        }
    }
    write_whole(&out("products"), &mut registry)?;
    write_whole(&out("populations"), &mut populations)?;
    write_whole(&out("event_terms"), &mut terms)?;
    let n_class: HashMap<&str, u64> = classes.iter().map(|c| c.name).zip(n_class).collect();
    write_planted(&opts.out.join("planted.csv"), &planted, &n_class)?;
    Ok((written, planted))
}

fn kind_label(class: &str) -> &'static str {
    match class {
        "drug" => "药品",
        "device" => "器械",
        _ => "化妆品",
    }
}

/// `planted.csv`: class, product_id, event, a, b, c, d, n, prr, ror.
fn write_planted(path: &Path, planted: &[Planted], n_class: &HashMap<&str, u64>) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    w.write_record([
        "class",
        "product_id",
        "event",
        "a",
        "b",
        "c",
        "d",
        "n",
        "prr",
        "ror",
    ])?;
    for p in planted {
        let n = n_class.get(p.class).copied().unwrap_or(0);
        let (a, b, c) = (p.a, p.n_product - p.a, p.n_event - p.a);
        let d = n - a - b - c;
        let (af, bf, cf, df) = (a as f64, b as f64, c as f64, d as f64);
        let prr = (af / (af + bf)) / (cf / (cf + df));
        let ror = (af * df) / (bf * cf);
        w.write_record([
            p.class.to_string(),
            p.product.clone(),
            p.event.clone(),
            a.to_string(),
            b.to_string(),
            c.to_string(),
            d.to_string(),
            n.to_string(),
            format!("{prr:.17e}"),
            format!("{ror:.17e}"),
        ])?;
    }
    w.flush()?;
    Ok(())
}
