//! The review app's read side (`pvwatch::catalog`) over real runs of the Zhejiang
//! pipeline, checked against the Parquet outputs read independently with arrow-rs: every
//! period served, a new one picked up without rebuilding the catalog, the queue's filters
//! and cursor pages, region restriction, signal and case detail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use pvwatch::catalog::{AlertQuery, Catalog, CatalogError, RegionScope, SortKey};

use crate::util::*;

/// Three quarters of the Zhejiang pipeline, run once for the tests that only read.
fn three_quarters() -> &'static (Fixture, PathBuf) {
    static RUNS: OnceLock<(Fixture, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let fx = Fixture::empty();
        let out = fx.p("out");
        for q in ["2025-Q1", "2025-Q2", "2025-Q3"] {
            run_quarter(&fx, &out, q);
        }
        (fx, out)
    })
}

fn catalog() -> Catalog {
    Catalog::open(&three_quarters().1, Some("zhejiang-quarterly"))
        .expect("the catalog opens")
        .with_check_interval(Duration::ZERO)
}

fn alerts_table(q: &str) -> Table {
    read_parquet(&period_dir(&three_quarters().1, q).join("alerts.parquet"))
}

fn ids(page: &[pvwatch::catalog::Row]) -> Vec<String> {
    page.iter()
        .map(|a| a["alert_id"].as_str().expect("an alert id").to_string())
        .collect()
}

/// Every alert a query matches, over all its pages.
fn all_pages(c: &Catalog, scope: &RegionScope, mut q: AlertQuery) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page = c.alerts(scope, &q).expect("a page");
        out.extend(ids(&page.alerts));
        match page.next {
            Some(n) => q.cursor = Some(n),
            None => return out,
        }
    }
}

#[test]
fn catalog_serves_every_period_and_picks_up_a_new_one_without_a_restart() {
    let fx = Fixture::empty();
    let out = fx.p("out");
    let c = Catalog::open(&out, None)
        .expect("a missing output folder is an empty catalog")
        .with_check_interval(Duration::ZERO);
    assert!(c.periods().unwrap().is_empty());
    run_quarter(&fx, &out, "2025-Q1");
    std::fs::create_dir_all(out.join(".period=2025-Q2.tmp-1-2")).unwrap();
    let labels = |c: &Catalog| -> Vec<String> {
        c.periods().unwrap().into_iter().map(|p| p.label).collect()
    };
    assert_eq!(labels(&c), ["2025-Q1"], "staging folders are not periods");
    run_quarter(&fx, &out, "2025-Q2");
    assert_eq!(labels(&c), ["2025-Q1", "2025-Q2"], "the new period appears");
    let q2 = c
        .alerts(&RegionScope::all(), &AlertQuery::default())
        .unwrap();
    assert_eq!(q2.period, "2025-Q2", "the latest period by default");
    let published = read_parquet(&period_dir(&out, "2025-Q2").join("alerts.parquet"));
    assert_eq!(q2.total, published.rows.len());
    // A rerun replaces its period: the catalog serves the new publish, and a cursor of
    // the old one is refused rather than misread.
    let page = c
        .alerts(
            &RegionScope::all(),
            &AlertQuery {
                limit: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let started = c.periods().unwrap()[1].started_at.clone();
    // `started_at` has whole seconds: a rerun within the same second would look the same.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run_quarter(&fx, &out, "2025-Q2");
    assert_ne!(
        c.periods().unwrap()[1].started_at,
        started,
        "the rerun is read"
    );
    let stale = c.alerts(
        &RegionScope::all(),
        &AlertQuery {
            limit: Some(1),
            cursor: page.next,
            ..Default::default()
        },
    );
    assert!(
        matches!(
            stale,
            Err(CatalogError::Invalid {
                field: "cursor",
                ..
            })
        ),
        "{stale:?}"
    );
    // An old-layout folder of another period is served too.
    std::fs::rename(period_dir(&out, "2025-Q1"), out.join("2025-Q1")).unwrap();
    assert_eq!(labels(&c), ["2025-Q1", "2025-Q2"]);
    assert!(c.periods().unwrap()[0].folder.ends_with("2025-Q1"));
}

#[test]
fn queue_counts_and_filters_agree_with_alerts_parquet() {
    let c = catalog();
    let all = RegionScope::all();
    for q in ["2025-Q1", "2025-Q2", "2025-Q3"] {
        let t = alerts_table(q);
        let page = c
            .alerts(
                &all,
                &AlertQuery {
                    period: Some(q.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(page.total, t.rows.len(), "{q}: every alert");
        for p in ["P0", "P1", "P2", "P3"] {
            let want = t.column("priority").iter().filter(|v| v.str() == p).count();
            let got = c
                .alerts(
                    &all,
                    &AlertQuery {
                        period: Some(q.into()),
                        priority: vec![p.into()],
                        ..Default::default()
                    },
                )
                .unwrap()
                .total;
            assert_eq!(got, want, "{q} {p}");
        }
    }
    // Every field of alerts.parquet is in each alert, with the file's values.
    let t = alerts_table("2025-Q3");
    let page = c.alerts(&all, &AlertQuery::default()).unwrap();
    let first = &page.alerts[0];
    for f in t.schema.fields() {
        assert!(first.contains_key(f.name()), "field `{}`", f.name());
    }
    let r = t.row_where(&[("alert_id", first["alert_id"].as_str().unwrap())]);
    assert_eq!(first["kind"].as_str(), Some(t.get(r, "kind").str()));
    // The default order: priority, then overdue first, then due date.
    let key = |a: &pvwatch::catalog::Row| {
        (
            a["priority"].as_str().unwrap().to_string(),
            !a["overdue"].as_bool().unwrap(),
            a["due_date"].as_str().map(str::to_string),
        )
    };
    let keys: Vec<_> = page.alerts.iter().map(key).collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");

    // Region by code and by name give the same alerts: Wenzhou (330300).
    let by = |region: &str| {
        let q = AlertQuery {
            region: Some(region.into()),
            limit: Some(1000),
            ..Default::default()
        };
        all_pages(&c, &all, q).into_iter().collect::<BTreeSet<_>>()
    };
    let regions = t.column("region");
    let want: BTreeSet<String> = t
        .column("alert_id")
        .iter()
        .zip(&regions)
        .filter(|(_, r)| !r.is_null() && r.str().starts_with("3303"))
        .map(|(id, _)| id.str().to_string())
        .collect();
    assert!(!want.is_empty(), "the data has alerts in Wenzhou");
    assert_eq!(by("330300"), want);
    assert_eq!(by("温州"), want);
    assert!(by("no such place").is_empty());

    // Class, kind, overdue and product filters.
    let count = |f: &dyn Fn(usize) -> bool| (0..t.rows.len()).filter(|&i| f(i)).count();
    let total = |q: AlertQuery| c.alerts(&all, &q).unwrap().total;
    let kind = t.get(0, "kind").str().to_string();
    assert_eq!(
        total(AlertQuery {
            kind: vec![kind.clone()],
            ..Default::default()
        }),
        count(&|i| t.get(i, "kind").str() == kind)
    );
    assert_eq!(
        total(AlertQuery {
            overdue: Some(true),
            ..Default::default()
        }),
        count(&|i| t.get(i, "overdue").bool())
    );
    let product = (0..t.rows.len())
        .find(|&i| !t.get(i, "product_id").is_null())
        .expect("an alert on a product");
    let pid = t.get(product, "product_id").str().to_string();
    assert_eq!(
        total(AlertQuery {
            product: Some(pid.clone()),
            ..Default::default()
        }),
        count(&|i| !t.get(i, "product_id").is_null() && t.get(i, "product_id").str() == pid)
    );
    assert_eq!(
        total(AlertQuery {
            class: Some("drug".into()),
            ..Default::default()
        }),
        count(&|i| t.get(i, "class").str() == "drug")
    );
    // Bad values are errors naming the field.
    let e = c
        .alerts(
            &all,
            &AlertQuery {
                priority: vec!["P9".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "priority: expected one of `P0`, `P1`, `P2`, `P3`, found `P9`"
    );
    assert!(SortKey::parse("colour").is_err());
}

#[test]
fn a_city_user_sees_only_their_city() {
    let c = catalog();
    let city = RegionScope::region("330300").unwrap();
    let alerts = c
        .alerts(
            &city,
            &AlertQuery {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(alerts.total > 0);
    for a in &alerts.alerts {
        if let Some(r) = a["region"].as_str() {
            assert!(r.starts_with("3303"), "alert in {r}");
        }
    }
    let rates = c.rates(&city, None).unwrap();
    assert!(rates
        .iter()
        .all(|r| r["region"].as_str().unwrap().starts_with("3303")));
    // The signal with the most cases: its case series holds only Wenzhou's cases, and all of them.
    let dir = period_dir(&three_quarters().1, "2025-Q3");
    let signals = read_parquet(&dir.join("signals.parquet"));
    let top = (0..signals.rows.len())
        .max_by_key(|&i| signals.get(i, "a").int())
        .unwrap();
    let (class, product, event) = (
        signals.get(top, "class").str(),
        signals.get(top, "product_id").str(),
        signals.get(top, "event").str(),
    );
    let cases = read_parquet(&dir.join("cases.parquet"));
    let behind = |prefix: &str| -> BTreeSet<String> {
        (0..cases.rows.len())
            .filter(|&i| {
                cases.get(i, "class").str() == class
                    && cases.get(i, "suspect_products").list().contains(&product)
                    && cases.get(i, "events").list().contains(&event)
                    && cases.get(i, "region").str().starts_with(prefix)
            })
            .map(|i| cases.get(i, "case_id").str().to_string())
            .collect()
    };
    let series = |scope: &RegionScope| -> BTreeSet<String> {
        c.signal(scope, class, product, event, None)
            .unwrap()
            .cases
            .iter()
            .map(|r| r["case_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(series(&RegionScope::all()), behind("33"));
    assert_eq!(series(&city), behind("3303"));
    assert!(
        behind("33").len() > behind("3303").len(),
        "other cities have cases"
    );
    // A case of another city is not found for the city user, and found for the province.
    let other = behind("33")
        .into_iter()
        .find(|id| !behind("3303").contains(id))
        .unwrap();
    assert!(matches!(
        c.case(&city, &other),
        Err(CatalogError::NotFound(_))
    ));
    let province = RegionScope::region("330000").unwrap();
    let detail = c.case(&province, &other).unwrap();
    assert_eq!(detail.versions.last().unwrap().period, "2025-Q3");
}

#[test]
fn signal_detail_has_every_period_oldest_first() {
    let c = catalog();
    let out = &three_quarters().1;
    let q3 = read_parquet(&period_dir(out, "2025-Q3").join("signals.parquet"));
    let i = (0..q3.rows.len())
        .max_by_key(|&i| q3.get(i, "a").int())
        .unwrap();
    let key = ["class", "product_id", "event"].map(|k| q3.get(i, k).str().to_string());
    let d = c
        .signal(
            &RegionScope::all(),
            &key[0],
            &key[1],
            &key[2],
            Some("2025-Q3"),
        )
        .unwrap();
    let mut want = Vec::new();
    for q in ["2025-Q1", "2025-Q2", "2025-Q3"] {
        let t = read_parquet(&period_dir(out, q).join("signals.parquet"));
        let keys = [
            ("class", key[0].as_str()),
            ("product_id", key[1].as_str()),
            ("event", key[2].as_str()),
        ];
        let found = (0..t.rows.len()).find(|&r| keys.iter().all(|(k, v)| t.get(r, k).str() == *v));
        if let Some(r) = found {
            want.push((q.to_string(), t.get(r, "a").int()));
        }
    }
    let got: Vec<(String, i64)> = d
        .periods
        .iter()
        .map(|p| (p.period.clone(), p.stats["a"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, want);
    assert!(d
        .cases
        .iter()
        .all(|c| c.contains_key("completeness") && c.contains_key("other_suspect_products")));
    assert!(matches!(
        c.signal(&RegionScope::all(), "drug", "no-such", "Rash", None),
        Err(CatalogError::NotFound(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Cursor pages cover every alert the query matches exactly once, in any order asked.
    #[test]
    fn cursor_pages_cover_every_alert_exactly_once(
        limit in 1usize..80,
        sort in 0usize..SortKey::NAMES.len(),
        desc in any::<bool>(),
        scoped in any::<bool>(),
    ) {
        let c = catalog();
        let scope = if scoped { RegionScope::region("330100").unwrap() } else { RegionScope::all() };
        let sort = SortKey::parse(SortKey::NAMES[sort]).unwrap().0;
        let q = AlertQuery { limit: Some(limit), sort: (sort, desc), ..Default::default() };
        let pages = all_pages(&c, &scope, q.clone());
        let total = c.alerts(&scope, &q).unwrap().total;
        let unique: BTreeSet<_> = pages.iter().cloned().collect();
        prop_assert_eq!(pages.len(), total);
        prop_assert_eq!(unique.len(), total);
        let t = alerts_table("2025-Q3");
        let want = t.column("region").iter().filter(|r| {
            !scoped || r.is_null() || r.str().starts_with("3301")
        }).count();
        prop_assert_eq!(total, want);
    }
}

/// Resident memory of this process (Linux), in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Open a catalog of `out` and time its answers; prints the figures (a measurement for
/// the README, not a timed test).
fn measure(out: &Path) {
    let t = std::time::Instant::now();
    let before = rss_mib();
    let c = Catalog::open(out, None).unwrap();
    let opened = t.elapsed();
    let all = RegionScope::all();
    let t = std::time::Instant::now();
    let first = c.alerts(&all, &AlertQuery::default()).unwrap();
    let page = t.elapsed();
    let t = std::time::Instant::now();
    let filtered = c
        .alerts(
            &all,
            &AlertQuery {
                region: Some("温州".into()),
                sort: (SortKey::DueDate, true),
                ..Default::default()
            },
        )
        .unwrap();
    let sorted = t.elapsed();
    let t = std::time::Instant::now();
    let second = c
        .alerts(
            &all,
            &AlertQuery {
                cursor: first.next.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let next = t.elapsed();
    let after_alerts = rss_mib();
    let signal = c.periods().unwrap().last().and_then(|p| {
        let t = read_parquet(&p.folder.join("signals.parquet"));
        let i = (0..t.rows.len()).max_by_key(|&i| t.get(i, "a").int())?;
        Some(["class", "product_id", "event"].map(|k| t.get(i, k).str().to_string()))
    });
    let mut series = (std::time::Duration::ZERO, std::time::Duration::ZERO, 0);
    if let Some([class, product, event]) = signal {
        let t = std::time::Instant::now();
        let d = c.signal(&all, &class, &product, &event, None).unwrap();
        series.0 = t.elapsed();
        let t = std::time::Instant::now();
        let d2 = c.signal(&all, &class, &product, &event, None).unwrap();
        series.1 = t.elapsed();
        assert_eq!(d.cases.len(), d2.cases.len());
        series.2 = d.cases.len();
    }
    eprintln!(
        "catalog of {}: open {opened:?}; {} alerts: first page {page:?}, region+sort page {sorted:?} ({} matched), next page {next:?} ({} alerts); signal with {} cases: first (reads cases.parquet) {:?}, again {:?}; RSS before {before:.0} MiB, with alerts {after_alerts:.0} MiB, with cases {:.0} MiB",
        out.display(),
        first.total,
        filtered.total,
        second.alerts.len(),
        series.2,
        series.0,
        series.1,
        rss_mib()
    );
}

/// 10^5 alerts (the Zhejiang Q3 alerts copied with new ids) and the demo: how fast the
/// queue answers and how much memory the catalog holds. `PVWATCH_CATALOG_DIR` also
/// measures another output folder (say, the 1m benchmark run's).
/// `cargo test --test it catalog_scale -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run it by hand"]
fn catalog_scale() {
    use polars::prelude::*;
    let (_, out) = three_quarters();
    let fx = Fixture::empty();
    let big = fx.p("out/period=2025-Q3");
    std::fs::create_dir_all(&big).unwrap();
    let src = period_dir(out, "2025-Q3");
    for f in [
        "manifest.json",
        "signals.parquet",
        "cases.parquet",
        "rates.parquet",
    ] {
        std::fs::copy(src.join(f), big.join(f)).unwrap();
    }
    let one = ParquetReader::new(std::fs::File::open(src.join("alerts.parquet")).unwrap())
        .finish()
        .unwrap();
    let copies = 100_000usize.div_ceil(one.height());
    let mut df = one.clone();
    for _ in 1..copies {
        df.vstack_mut(&one).unwrap();
    }
    let ids: Vec<String> = (0..df.height()).map(|i| format!("A{i:07}")).collect();
    df.with_column(Column::new("alert_id".into(), ids)).unwrap();
    let mut f = std::fs::File::create(big.join("alerts.parquet")).unwrap();
    ParquetWriter::new(&mut f).finish(&mut df).unwrap();
    measure(&fx.p("out"));
    let demo = Fixture::empty();
    demo.run(&[
        "run",
        &repo().join("pipelines/demo.toml").display().to_string(),
        "--out",
        &demo.ps("out"),
        "--quiet",
    ])
    .expect_ok();
    measure(&demo.p("out"));
    if let Ok(dir) = std::env::var("PVWATCH_CATALOG_DIR") {
        measure(Path::new(&dir));
    }
}

#[test]
fn a_damaged_period_is_an_error_naming_its_file() {
    let fx = Fixture::empty();
    let out = fx.p("out");
    let dir = out.join("period=2025-Q3");
    std::fs::create_dir_all(&dir).unwrap();
    let src = period_dir(&three_quarters().1, "2025-Q3");
    std::fs::copy(src.join("manifest.json"), dir.join("manifest.json")).unwrap();
    std::fs::write(dir.join("alerts.parquet"), "not parquet").unwrap();
    let e = Catalog::open(&out, None)
        .err()
        .expect("an error")
        .to_string();
    let file = dir.join("alerts.parquet");
    assert!(
        e.starts_with(&format!("{}: not a readable Parquet file", file.display())),
        "{e}"
    );
}
