//! Write a synthetic FDA FAERS quarter (`DEMOyyQn.txt`, `DRUGyyQn.txt`, `REACyyQn.txt`,
//! `OUTCyyQn.txt`, `$`-delimited with a header row), deterministically from a seed, to time
//! `pvwatch convert --from faers` and to ship a small sample. No real case is in it.
//!
//!     cargo run --release --example gen_faers -- --reports 400000 --out target/faers-24q1
//!
//! Per report, on average: 3.75 DRUG rows, 3 REAC rows, 0.75 OUTC rows, so 400,000 reports
//! give about 1.5 million DRUG and 1.2 million REAC rows, like a real quarter. About 3% of
//! reports are follow-up versions of an earlier case (caseversion 2). `--malformed K`
//! plants K DEMO rows with a wrong field count and up to K wrapped DRUG rows (a line break inside
//! the drug name: two lines with too few fields), each a reject with its line.
//!
//! As in real quarters, about 1% of ages are a year of birth typed as an age (`1974 YR`):
//! pvwatch nulls them and keeps the case. A DRUG row names its active ingredient in
//! `prod_ai` (`SUBSTANCE 0042`), or, one row in five, only a generic `drugname` with a dose
//! (`Substance 0042 170 MG`, `substance 0042 170MG TABLET`, …), so that `--strip-dose`
//! gives one product per active ingredient.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[path = "synth/mod.rs"]
mod synth;

use synth::Rng;

const DEMO_H: &str = "primaryid$caseid$caseversion$i_f_code$event_dt$mfr_dt$init_fda_dt$fda_dt$rept_cod$auth_num$mfr_num$mfr_sndr$lit_ref$age$age_cod$age_grp$sex$e_sub$wt$wt_cod$rept_dt$to_mfr$occp_cod$reporter_country$occr_country";
const DRUG_H: &str = "primaryid$caseid$drug_seq$role_cod$drugname$prod_ai$val_vbm$route$dose_vbm$cum_dose_chr$cum_dose_unit$dechal$rechal$lot_num$exp_dt$nda_num$dose_amt$dose_unit$dose_form$dose_freq";
const REAC_H: &str = "primaryid$caseid$pt$drug_rec_act";
const OUTC_H: &str = "primaryid$caseid$outc_cod";

const ROLES: [&str; 4] = ["PS", "SS", "C", "I"];
const OUTCOMES: [&str; 7] = ["OT", "HO", "DE", "LT", "DS", "RI", "CA"];
const SEXES: [&str; 4] = ["F", "M", "UNK", ""];
const AGE_UNITS: [&str; 5] = ["YR", "YR", "YR", "MON", "DEC"];

fn main() -> std::io::Result<()> {
    let mut reports: u64 = 400_000;
    let mut out = PathBuf::from("target/faers-24q1");
    let mut quarter = "24Q1".to_string();
    let mut malformed: u64 = 5;
    let mut seed: u64 = 20_240_101;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--reports" => reports = value().parse().expect("a number of reports"),
            "--out" => out = PathBuf::from(value()),
            "--quarter" => quarter = value().to_ascii_uppercase(),
            "--malformed" => malformed = value().parse().expect("a count"),
            "--seed" => seed = value().parse().expect("a seed"),
            other => panic!(
                "unknown argument `{other}` (--reports, --out, --quarter, --malformed, --seed)"
            ),
        }
    }
    std::fs::create_dir_all(&out)?;
    let open = |kind: &str| -> std::io::Result<BufWriter<File>> {
        let f = File::create(out.join(format!("{kind}{quarter}.txt")))?;
        Ok(BufWriter::with_capacity(1 << 20, f))
    };
    let (mut demo, mut drug, mut reac, mut outc) =
        (open("DEMO")?, open("DRUG")?, open("REAC")?, open("OUTC")?);
    writeln!(demo, "{DEMO_H}")?;
    writeln!(drug, "{DRUG_H}")?;
    writeln!(reac, "{REAC_H}")?;
    writeln!(outc, "{OUTC_H}")?;

    let mut rng = Rng::new(seed);
    let year: u32 = 2000 + quarter[..2].parse::<u32>().expect("a quarter like 24Q1");
    let first_month = 1 + 3 * (quarter[3..].parse::<u32>().expect("a quarter like 24Q1") - 1);
    // Planted malformed rows, spread evenly.
    let every = (reports / (malformed + 1)).max(1);
    let (mut counts, mut planted, mut wrapped) = ([0u64; 4], 0u64, 0u64);
    for i in 0..reports {
        let primaryid = 100_000_000 + i * 10 + 1;
        // About 3% are follow-ups (version 2) of the case of report i - 7.
        let (caseid, version) = if i >= 7 && i % 33 == 0 {
            (20_000_000 + i - 7, 2)
        } else {
            (20_000_000 + i, 1)
        };
        let month = first_month + (i * 3 / reports.max(1)) as u32;
        let day = 1 + rng.below(28) as u32;
        let fda_dt = format!("{year}{month:02}{day:02}");
        let init = if version == 1 {
            fda_dt.clone()
        } else {
            format!("{year}{:02}01", first_month)
        };
        let mut age_unit = AGE_UNITS[rng.below(5) as usize];
        let mut age = match age_unit {
            "MON" => rng.below(24),
            "DEC" => rng.below(10),
            _ => rng.below(95),
        };
        if i % 97 == 50 {
            // A year of birth typed as an age (no random draw, so the rest stays the same).
            (age, age_unit) = (1930 + i % 81, "YR");
        }
        let sex = SEXES[rng.below(4) as usize];
        let rept = if rng.below(4) == 0 { "DIR" } else { "EXP" };
        if planted < malformed && i % every == every - 1 {
            // A row cut short: a wrong number of fields.
            writeln!(demo, "{primaryid}${caseid}${version}$I$$$")?;
            planted += 1;
        } else {
            let i_f = if version == 1 { "I" } else { "F" };
            #[rustfmt::skip]
            let fields = [
                &primaryid.to_string(), &caseid.to_string(), &version.to_string(), i_f, "",
                &fda_dt, &init, &fda_dt, rept, "", &format!("MFR-{i}"), "ACME", "",
                &age.to_string(), age_unit, "", sex, "Y", "", "", &fda_dt, "", "MD", "US", "US",
            ];
            debug_assert_eq!(fields.len(), DEMO_H.split('$').count());
            writeln!(demo, "{}", fields.join("$"))?;
        }
        counts[0] += 1;

        let n_drugs = 1 + rng.below(6) + u64::from(rng.below(4) == 0);
        for seq in 1..=n_drugs {
            let product = rng.skewed(4_000);
            let role = if seq == 1 {
                "PS"
            } else {
                ROLES[1 + rng.below(3) as usize]
            };
            let ai = if rng.below(5) == 0 {
                String::new()
            } else {
                format!("SUBSTANCE {product:04}")
            };
            let lot = if rng.below(3) == 0 {
                format!("L{}", rng.below(100_000))
            } else {
                String::new()
            };
            let strength = 5 * (1 + rng.below(40));
            let name = if ai.is_empty() {
                // A generic name with its dose, in the spellings reporters use.
                match product % 4 {
                    0 => format!("Substance {product:04} {strength} MG"),
                    1 => format!("substance {product:04} {strength}MG TABLET"),
                    2 => format!("Substance {product:04} {strength} mg/ml"),
                    _ => format!("SUBSTANCE {product:04} {strength} MG 1 TAB"),
                }
            } else {
                format!("Brand {product:04} {strength} MG")
            };
            if wrapped < malformed && seq == 2 && i % every == every / 2 {
                // A wrapped row: a line break inside the drug name.
                let (a, b) = name.split_at(5);
                writeln!(drug, "{primaryid}${caseid}${seq}${role}${a}")?;
                writeln!(drug, "{b}${ai}$1$ORAL$$$$$${lot}$$$$$$")?;
                wrapped += 1;
                counts[1] += 2;
                continue;
            }
            writeln!(
                drug,
                "{primaryid}${caseid}${seq}${role}${name}${ai}$1$ORAL$$$$$${lot}$$$$$$"
            )?;
            counts[1] += 1;
        }
        for _ in 0..1 + rng.below(5) {
            let pt = rng.skewed(6_000);
            writeln!(reac, "{primaryid}${caseid}$Reaction term {pt:04}$")?;
            counts[2] += 1;
        }
        let r = rng.below(20);
        let n_outc = if r < 9 {
            0
        } else if r < 16 {
            1
        } else {
            2
        };
        for k in 0..n_outc {
            let code = OUTCOMES[(rng.below(7) as usize + k) % 7];
            writeln!(outc, "{primaryid}${caseid}${code}")?;
            counts[3] += 1;
        }
    }
    for w in [&mut demo, &mut drug, &mut reac, &mut outc] {
        w.flush()?;
    }
    eprintln!(
        "gen_faers: {} in {}: DEMO {} rows, DRUG {} lines, REAC {} rows, OUTC {} rows, {planted} malformed DEMO rows, {wrapped} wrapped DRUG rows",
        quarter,
        out.display(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    Ok(())
}
