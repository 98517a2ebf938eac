//! A rates table computed by hand (rates.rs module doc for the definitions).

use crate::util::*;

const REL: f64 = 1e-12;

/// Zhejiang, 2025-Q1. Population 2,000,000 for 2024 (2020 is older, 2026 is later than the
/// period's year, so 2024 is the one used). Cases (one version each):
///
/// | case | received   | class    | region | reporter            | sentinel | new | serious | fatal |
/// |------|------------|----------|--------|---------------------|----------|-----|---------|-------|
/// | C1   | 2025-01-10 | drug     | 330100 | medical_institution | yes      | no  | yes     | yes   |
/// | C2   | 2025-02-03 | drug     | 330100 | medical_institution | yes      | no  | no      | no    |
/// | C3   | 2025-02-20 | drug     | 330200 | mah                 | no       | yes | no      | no    |
/// | C4   | 2025-03-05 | drug     | 330300 | individual          | no       | no  | no      | no    |
/// | C5   | 2025-03-31 | drug     | 330100 | (unknown)           | (empty)  | no  | no      | no    |
/// | C6   | 2024-12-31 | drug     | 330100 | (before the period)                                 |
/// | C7   | 2025-04-01 | drug     | 330100 | (after the period)                                  |
/// | C8   | 2025-02-14 | device   | 330100 | mah                 | no       | no  | no      | no    |
fn zhejiang_q1() -> Fixture {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                "R1,C1,1,2025-01-10,drug,330100,medical_institution,true,false,true,true".into(),
                "R2,C2,1,2025-02-03,drug,330100,medical_institution,true,false,false,false".into(),
                "R3,C3,1,2025-02-20,drug,330200,mah,false,true,false,false".into(),
                "R4,C4,1,2025-03-05,drug,330300,individual,false,false,false,false".into(),
                "R5,C5,1,2025-03-31,drug,330100,,,false,false,false".into(),
                "R6,C6,1,2024-12-31,drug,330100,medical_institution,true,true,true,false".into(),
                "R7,C7,1,2025-04-01,drug,330100,medical_institution,true,true,true,false".into(),
                "R8,C8,1,2025-02-14,device,330100,mah,false,false,false,false".into(),
            ],
        ),
    );
    fx.children(&["R1", "R2", "R3"]);
    fx.write(
        "populations.csv",
        "region,year,population,name\n\
         330000,2020,1000000,浙江省\n\
         330000,2024,2000000,浙江省\n\
         330000,2026,9999999,\n",
    );
    fx
}

#[test]
fn hand_computed_quarter_rates() {
    let fx = zhejiang_q1();
    fx.pipeline(
        "",
        "[rates]\nas_of = \"2025-12-31\"\n\n[rates.targets.drug]\nper_million = 1000\n",
    );
    fx.run_pipeline(&["--period", "2025-Q1"]).expect_ok();
    let t = read_parquet(&fx.p("out/period=2025-Q1/rates.parquet"));
    assert_eq!(t.rows.len(), 3, "one province × three classes");

    let int = |r: usize, c: &str| t.get(r, c).int();
    let float = |r: usize, c: &str| t.get(r, c).float();
    let flag = |r: usize, c: &str| t.get(r, c).bool();
    let null = |r: usize, c: &str| {
        assert!(t.get(r, c).is_null(), "`{c}` = {:?}", t.get(r, c));
    };

    // --- drug: C1…C5 (C6 is before the period, C7 after it).
    let r = t.row_where(&[("region", "330000"), ("class", "drug")]);
    assert_eq!(t.get(r, "period").str(), "2025-Q1");
    assert_eq!(t.get(r, "period_start"), &Value::Date(days("2025-01-01")));
    assert_eq!(t.get(r, "period_end"), &Value::Date(days("2025-03-31")));
    assert_eq!(t.get(r, "level").str(), "province");
    assert_eq!(t.get(r, "province").str(), "330000");
    assert_eq!(t.get(r, "region_name").str(), "浙江省");
    assert_eq!(int(r, "reports"), 5);
    assert_eq!(int(r, "population"), 2_000_000);
    assert_eq!(int(r, "population_year"), 2024);
    // as_of 2025-12-31 is after the quarter: all of Jan 31 + Feb 28 + Mar 31 = 90 days.
    assert_eq!(int(r, "covered_days"), 90);
    assert!(flag(r, "period_complete"));
    // per_million = 5 / 2,000,000 × 1e6 = 2.5
    assert_close(float(r, "per_million"), 2.5, REL);
    // annualized = 2.5 × 365 / 90 = 10.138888…
    let annualized = 2.5 * 365.0 / 90.0;
    assert_close(float(r, "annualized_per_million"), annualized, REL);
    assert_close(
        float(r, "annualized_per_million"),
        10.138_888_888_888_89,
        REL,
    );
    assert_close(float(r, "target_per_million"), 1000.0, REL);
    // attainment = 10.138888… / 1000 = 0.010138888…
    assert_close(float(r, "attainment"), annualized / 1000.0, REL);
    assert!(!flag(r, "on_track"));
    // new or serious: C1 (serious), C3 (new) = 2 of 5 = 0.4; serious: C1 = 1 of 5 = 0.2.
    assert_eq!(int(r, "new_or_serious"), 2);
    assert_eq!(int(r, "serious"), 1);
    assert_eq!(int(r, "fatal"), 1);
    assert_close(float(r, "new_or_serious_share"), 0.4, REL);
    assert_close(float(r, "serious_share"), 0.2, REL);
    // Sentinel: C1 and C2 (C5's empty flag counts as not sentinel); of them C1 is
    // serious, hence also new-or-serious: 1 of 2 = 0.5 each.
    assert_eq!(int(r, "sentinel_reports"), 2);
    assert_eq!(int(r, "sentinel_new_or_serious"), 1);
    assert_eq!(int(r, "sentinel_serious"), 1);
    assert_close(float(r, "sentinel_new_or_serious_share"), 0.5, REL);
    assert_close(float(r, "sentinel_serious_share"), 0.5, REL);
    // Default share targets 40% and 18%: 0.4 ≥ 0.4, 0.2 ≥ 0.18, 0.5 ≥ both.
    assert_close(float(r, "new_or_serious_target"), 0.40, REL);
    assert_close(float(r, "serious_target"), 0.18, REL);
    assert!(flag(r, "new_or_serious_met"));
    assert!(flag(r, "serious_met"));
    assert!(flag(r, "sentinel_new_or_serious_met"));
    assert!(flag(r, "sentinel_serious_met"));
    // Reporter types: 2 medical institutions, 1 MAH, 1 individual, 1 unknown (of 5).
    for (kind, n) in [
        ("medical_institution", 2),
        ("mah", 1),
        ("distributor", 0),
        ("individual", 1),
        ("other", 0),
        ("unknown", 1),
    ] {
        assert_eq!(int(r, &format!("reporter_{kind}")), n, "{kind}");
        assert_close(
            float(r, &format!("reporter_{kind}_share")),
            n as f64 / 5.0,
            REL,
        );
    }
    null(r, "null_reason");

    // --- device: C8 only; default target 400/M.
    let r = t.row_where(&[("region", "330000"), ("class", "device")]);
    assert_eq!(int(r, "reports"), 1);
    // per_million = 1 / 2e6 × 1e6 = 0.5; annualized = 0.5 × 365 / 90 = 2.027777…
    assert_close(float(r, "per_million"), 0.5, REL);
    assert_close(float(r, "annualized_per_million"), 0.5 * 365.0 / 90.0, REL);
    assert_close(float(r, "target_per_million"), 400.0, REL);
    assert_close(float(r, "attainment"), 0.5 * 365.0 / 90.0 / 400.0, REL);
    assert!(!flag(r, "on_track"));
    assert_close(float(r, "new_or_serious_share"), 0.0, REL);
    assert!(!flag(r, "new_or_serious_met"));
    assert_eq!(int(r, "sentinel_reports"), 0);
    null(r, "sentinel_new_or_serious_share");
    null(r, "sentinel_serious_share");
    null(r, "sentinel_new_or_serious_met");
    assert_eq!(
        t.get(r, "null_reason").str(),
        "no sentinel-hospital reports: sentinel shares are undefined"
    );

    // --- cosmetic: no cases; a zero rate against the default 100/M, undefined shares.
    let r = t.row_where(&[("region", "330000"), ("class", "cosmetic")]);
    assert_eq!(int(r, "reports"), 0);
    assert_close(float(r, "per_million"), 0.0, REL);
    assert_close(float(r, "attainment"), 0.0, REL);
    assert!(!flag(r, "on_track"));
    null(r, "new_or_serious_share");
    null(r, "reporter_mah_share");
    assert_eq!(
        t.get(r, "null_reason").str(),
        "no reports: shares are undefined"
    );
}

/// Without `rates.as_of`, the cut-off is the latest received_date (C7, 2025-04-01): 2025-Q2
/// is covered for 1 day, and its one case is annualized by 365 / 1.
#[test]
fn unfinished_period_is_annualized_by_the_days_it_covers() {
    let fx = zhejiang_q1();
    fx.pipeline("", "[rates.targets.drug]\nper_million = 1000\n");
    fx.run_pipeline(&["--period", "2025-Q2"]).expect_ok();
    let t = read_parquet(&fx.p("out/period=2025-Q2/rates.parquet"));
    let r = t.row_where(&[("region", "330000"), ("class", "drug")]);
    assert_eq!(t.get(r, "reports").int(), 1);
    assert_eq!(t.get(r, "covered_days").int(), 1);
    assert!(!t.get(r, "period_complete").bool());
    // per_million = 0.5; annualized = 0.5 × 365 / 1 = 182.5; attainment = 0.1825.
    assert_close(t.get(r, "per_million").float(), 0.5, REL);
    assert_close(t.get(r, "annualized_per_million").float(), 182.5, REL);
    assert_close(t.get(r, "attainment").float(), 0.1825, REL);
    let manifest = read_json(&fx.p("out/period=2025-Q2/manifest.json"));
    assert_eq!(manifest["data_cutoff"], "2025-04-01");
}

/// At the city level, a report coded with a province's own code (330000: the provincial
/// centre) belongs to no city. It must not become a `city` row for `330000` whose rate
/// divides by the whole province's population.
#[test]
fn report_coded_to_a_province_is_not_a_city_row() {
    let fx = Fixture::new();
    fx.write(
        "reports.csv",
        &csv(
            REPORTS_HEADER,
            &[
                report("R1", "C1", 1, "2025-01-05", "drug", "330100"),
                report("R2", "C2", 1, "2025-01-05", "drug", "330000"),
                report("R3", "C3", 1, "2025-01-05", "drug", "330106"),
            ],
        ),
    );
    fx.children(&["R1"]);
    fx.write(
        "populations.csv",
        "region,year,population\n330000,2024,2000000\n330100,2024,500000\n",
    );
    fx.pipeline(
        "",
        "[rates]\nlevels = [\"province\", \"city\"]\nclasses = [\"drug\"]\n",
    );
    fx.run_pipeline(&[]).expect_ok();
    let t = read_parquet(&fx.p("out/period=2025/rates.parquet"));
    let province = t.row_where(&[("level", "province"), ("region", "330000")]);
    assert_eq!(t.get(province, "reports").int(), 3);
    let hangzhou = t.row_where(&[("level", "city"), ("region", "330100")]);
    assert_eq!(t.get(hangzhou, "reports").int(), 2);
    assert_close(t.get(hangzhou, "per_million").float(), 4.0, REL);
    for r in 0..t.rows.len() {
        if t.get(r, "level").str() != "city" {
            continue;
        }
        let region = t.get(r, "region").str();
        let is_city = region.ends_with("00") && !region.ends_with("0000");
        assert!(
            is_city || t.get(r, "per_million").is_null(),
            "city-level row for `{region}` rated as a city: per_million {:?}, population {:?}",
            t.get(r, "per_million"),
            t.get(r, "population")
        );
    }
}
