//! The completeness score against hand-computed cases, and the case table's columns.

use polars::prelude::*;

use super::completeness::{Dimension, Source, PENALTIES};
use super::*;
use crate::ingest::Dataset;
use crate::period::epoch_days;

/// One case as ingest would hand it over, every dimension present unless a test says so.
#[derive(Clone)]
pub(crate) struct Case {
    id: &'static str,
    version: Option<i64>,
    versions: i64,
    region: &'static str,
    first: &'static str,
    latest: &'static str,
    sex: Option<u32>,
    age: Option<f64>,
    fatal: Option<bool>,
    reporter: Option<u32>,
    serious: Option<bool>,
    new: Option<bool>,
    /// (product_id, batch)
    products: Vec<(&'static str, Option<&'static str>)>,
    /// (event, onset_date)
    events: Vec<(&'static str, Option<&'static str>)>,
}

fn case(id: &'static str) -> Case {
    Case {
        id,
        version: Some(1),
        versions: 1,
        region: "330106",
        first: "2025-03-01",
        latest: "2025-03-01",
        sex: Some(1),
        age: Some(40.0),
        fatal: Some(false),
        reporter: Some(0),
        serious: Some(false),
        new: Some(true),
        products: vec![("D001", Some("B250101"))],
        events: vec![("Rash", Some("2025-02-20"))],
    }
}

fn day(d: &str) -> i32 {
    epoch_days(chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("a test date"))
}

fn dates(name: &str, v: Vec<Option<i32>>) -> Column {
    Column::new(name.into(), v)
        .cast(&DataType::Date)
        .expect("days cast to Date")
}

/// The frames ingest would produce for these cases (keys in row order), with
/// `event_terms` holding `terms` when given.
pub(crate) fn dataset(cases: &[Case], terms: Option<&[&str]>) -> Dataset {
    let n = cases.len();
    let keys: Vec<IdxSize> = (0..n as IdxSize).collect();
    let get = |f: &dyn Fn(&Case) -> Option<&'static str>| -> Vec<Option<&str>> {
        cases.iter().map(f).collect()
    };
    let cases_df = DataFrame::new(
        n,
        vec![
            Column::new(col::CASE_ID.into(), get(&|c| Some(c.id))),
            Column::new(
                col::REPORT_ID.into(),
                cases
                    .iter()
                    .map(|c| format!("R-{}", c.id))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::VERSION.into(),
                cases.iter().map(|c| c.version).collect::<Vec<_>>(),
            ),
            dates(
                col::RECEIVED_DATE,
                cases.iter().map(|c| Some(day(c.latest))).collect(),
            ),
            Column::new(col::CLASS.into(), vec!["drug"; n]),
            Column::new(col::REGION.into(), get(&|c| Some(c.region))),
            Column::new(
                col::REPORTER_TYPE.into(),
                cases.iter().map(|c| c.reporter).collect::<Vec<_>>(),
            ),
            Column::new(col::SENTINEL.into(), vec![Some(false); n]),
            Column::new(
                col::IS_NEW.into(),
                cases.iter().map(|c| c.new).collect::<Vec<_>>(),
            ),
            Column::new(
                col::IS_SERIOUS.into(),
                cases.iter().map(|c| c.serious).collect::<Vec<_>>(),
            ),
            Column::new(
                col::FATAL.into(),
                cases.iter().map(|c| c.fatal).collect::<Vec<_>>(),
            ),
            Column::new(
                col::SEX.into(),
                cases.iter().map(|c| c.sex).collect::<Vec<_>>(),
            ),
            Column::new(
                col::AGE_YEARS.into(),
                cases.iter().map(|c| c.age).collect::<Vec<_>>(),
            ),
            dates(
                col::FIRST_RECEIVED,
                cases.iter().map(|c| Some(day(c.first))).collect(),
            ),
            Column::new(
                col::VERSIONS.into(),
                cases.iter().map(|c| c.versions).collect::<Vec<_>>(),
            ),
            Column::new(col::CASE_KEY.into(), keys),
        ],
    )
    .expect("a cases frame");
    let (mut p_key, mut p_id, mut p_batch) = (vec![], vec![], vec![]);
    let (mut e_key, mut e_ev, mut e_onset) = (vec![], vec![], vec![]);
    for (k, c) in cases.iter().enumerate() {
        for (p, b) in &c.products {
            p_key.push(k as IdxSize);
            p_id.push(*p);
            p_batch.push(*b);
        }
        for (e, o) in &c.events {
            e_key.push(k as IdxSize);
            e_ev.push(*e);
            e_onset.push(o.map(day));
        }
    }
    let case_products = DataFrame::new(
        p_key.len(),
        vec![
            Column::new(col::PRODUCT_ID.into(), p_id),
            Column::new(col::BATCH.into(), p_batch),
            Column::new(col::CASE_KEY.into(), p_key),
        ],
    )
    .expect("case_products");
    let case_events = DataFrame::new(
        e_key.len(),
        vec![
            Column::new(col::EVENT.into(), e_ev),
            dates(col::ONSET_DATE, e_onset),
            Column::new(col::CASE_KEY.into(), e_key),
        ],
    )
    .expect("case_events");
    let event_terms = terms.map(|t| {
        DataFrame::new(
            t.len(),
            vec![
                Column::new(col::EVENT.into(), t.to_vec()),
                Column::new(col::SOC.into(), vec!["Skin"; t.len()]),
            ],
        )
        .expect("event_terms")
    });
    Dataset {
        cases: cases_df,
        superseded_versions: DataFrame::empty(),
        case_products,
        case_events,
        products: DataFrame::empty(),
        populations: DataFrame::empty(),
        event_terms,
        rejects: vec![],
        tables: vec![],
        data_cutoff: None,
    }
}

fn scores(data: &Dataset) -> Vec<f64> {
    completeness(data)
        .expect("completeness")
        .f64()
        .expect("Float64")
        .into_no_null_iter()
        .collect()
}

/// The score of one case.
fn score(c: Case, terms: Option<&[&str]>) -> f64 {
    scores(&dataset(&[c], terms))[0]
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{actual} is not {expected}"
    );
}

#[test]
fn penalty_table_is_vigigrade_where_the_tables_hold_the_dimension() {
    let p = |d: Dimension| PENALTIES.iter().find(|p| p.dimension == d).unwrap();
    // Bergvall et al. 2014, Table 1.
    for (d, want) in [
        (Dimension::TimeToOnset, 0.5),
        (Dimension::Outcome, 0.3),
        (Dimension::Sex, 0.3),
        (Dimension::Age, 0.3),
        (Dimension::PrimaryReporter, 0.1),
        (Dimension::ReportType, 0.1),
    ] {
        assert_eq!(p(d).penalty, want, "{d:?}");
        assert_eq!(p(d).source, Source::VigiGrade, "{d:?}");
    }
    for d in [Dimension::Batch, Dimension::CodedEvent] {
        assert_eq!(p(d).penalty, 0.1, "{d:?}");
        assert_eq!(p(d).source, Source::Pvwatch, "{d:?}");
    }
    assert_eq!(PENALTIES.len(), 8, "each dimension once");
}

#[test]
fn a_case_missing_nothing_scores_one() {
    close(score(case("C1"), None), 1.0);
    close(score(case("C1"), Some(&["Rash"])), 1.0);
}

#[test]
fn each_dimension_alone_costs_its_penalty() {
    let cases: Vec<(Case, f64)> = vec![
        (
            Case {
                sex: None,
                ..case("sex null")
            },
            0.7,
        ),
        (
            Case {
                sex: Some(2),
                ..case("sex U")
            },
            0.7,
        ),
        (
            Case {
                age: None,
                ..case("age")
            },
            0.7,
        ),
        (
            Case {
                fatal: None,
                ..case("outcome")
            },
            0.7,
        ),
        (
            Case {
                events: vec![("Rash", None)],
                ..case("tto")
            },
            0.5,
        ),
        (
            Case {
                reporter: None,
                ..case("reporter")
            },
            0.9,
        ),
        (
            Case {
                serious: None,
                ..case("serious")
            },
            0.9,
        ),
        (
            Case {
                new: None,
                ..case("new")
            },
            0.9,
        ),
        (
            Case {
                products: vec![("D001", None), ("D002", None)],
                ..case("batch")
            },
            0.9,
        ),
        (
            Case {
                events: vec![("Rash", Some("2025-02-20")), ("Uncoded term", None)],
                ..case("uncoded")
            },
            0.9,
        ),
    ];
    let data = dataset(
        &cases.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        Some(&["Rash"]),
    );
    for ((c, want), got) in cases.iter().zip(scores(&data)) {
        assert!((got - want).abs() < 1e-12, "{}: {got} is not {want}", c.id);
    }
}

#[test]
fn penalties_multiply() {
    // Time to onset and age: 0.5 × 0.7 = 0.35.
    let c = Case {
        age: None,
        events: vec![("Rash", None)],
        ..case("C1")
    };
    close(score(c, None), 0.35);
    // Sex and age: 0.7 × 0.7 = 0.49 (vigiGrade: missing both costs 50% or more).
    let c = Case {
        age: None,
        sex: Some(2),
        ..case("C1")
    };
    close(score(c, None), 0.49);
}

#[test]
fn every_dimension_missing_is_the_product_of_all() {
    let c = Case {
        sex: None,
        age: None,
        fatal: None,
        reporter: None,
        serious: None,
        new: None,
        products: vec![("D001", None)],
        events: vec![("Uncoded term", None)],
        ..case("C1")
    };
    // 0.5 × 0.7³ × 0.9⁴ = 0.5 × 0.343 × 0.6561
    close(score(c.clone(), Some(&["Rash"])), 0.112_521_15);
    // Without event_terms the coded-event dimension is not scored: 0.5 × 0.7³ × 0.9³.
    close(score(c, None), 0.125_023_5);
}

#[test]
fn well_documented_is_above_0_8() {
    let data = dataset(
        &[
            // Reporter type and report type missing: 0.9 × 0.9 = 0.81 > 0.8.
            Case {
                reporter: None,
                serious: None,
                ..case("C1")
            },
            // Sex missing: 0.7.
            Case {
                sex: None,
                ..case("C2")
            },
            // Three 10% dimensions: 0.729.
            Case {
                reporter: None,
                new: None,
                products: vec![("D001", None)],
                ..case("C3")
            },
            case("C4"),
        ],
        None,
    );
    let s = scores(&data);
    close(s[0], 0.81);
    close(s[1], 0.7);
    close(s[2], 0.729);
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    let well: Vec<bool> = t
        .column(col::WELL_DOCUMENTED)
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v.expect("never null"))
        .collect();
    assert_eq!(well, vec![true, false, false, true]);
}

#[test]
fn edges_no_events_no_products_and_event_terms() {
    let no_events = Case {
        events: vec![],
        ..case("no events")
    };
    let no_products = Case {
        products: vec![],
        ..case("no products")
    };
    let some_batch = Case {
        products: vec![("D001", None), ("D002", Some("B1")), ("D003", None)],
        ..case("one batch of three")
    };
    let some_onset = Case {
        events: vec![("Rash", None), ("Pruritus", Some("2025-02-01"))],
        ..case("one onset of two")
    };
    let uncoded = Case {
        events: vec![
            ("Rash", Some("2025-02-01")),
            ("Pruritus", Some("2025-02-01")),
        ],
        ..case("Pruritus not in the terms")
    };
    let all = [no_events, no_products, some_batch, some_onset, uncoded];
    // No event: no time to onset (0.5), and nothing uncoded even with terms given. No
    // product: no batch to miss. One batch or one onset date is enough.
    let without_terms = scores(&dataset(&all, None));
    let with_terms = scores(&dataset(&all, Some(&["Rash"])));
    let with_empty_terms = scores(&dataset(&all, Some(&[])));
    let want_without = [0.5, 1.0, 1.0, 1.0, 1.0];
    let want_with = [0.5, 1.0, 1.0, 0.9, 0.9];
    let want_empty = [0.5, 0.9, 0.9, 0.9, 0.9];
    for i in 0..all.len() {
        close(without_terms[i], want_without[i]);
        close(with_terms[i], want_with[i]);
        close(with_empty_terms[i], want_empty[i]);
    }
}

#[test]
fn scores_align_with_the_cases_rows_whatever_the_child_tables_order() {
    let mut data = dataset(
        &[
            Case {
                sex: None,
                ..case("C1")
            },
            case("C2"),
            Case {
                events: vec![("Rash", None)],
                ..case("C3")
            },
        ],
        None,
    );
    // Child rows in reverse case order.
    data.case_events = data.case_events.reverse();
    data.case_products = data.case_products.reverse();
    let s = scores(&data);
    close(s[0], 0.7);
    close(s[1], 1.0);
    close(s[2], 0.5);
    assert_eq!(
        completeness(&data).unwrap().name().as_str(),
        col::COMPLETENESS
    );
}

#[test]
fn age_band_labels_follow_the_edges() {
    assert_eq!(
        age_band_labels(DEFAULT_AGE_BANDS),
        ["<18", "18-44", "45-64", ">=65"]
    );
    assert_eq!(
        age_band_labels(&[0.5, 2.0, 18.0]),
        ["<0.5", "0.5-<2", "2-17", ">=18"]
    );
    assert_eq!(age_band_labels(&[65.0]), ["<65", ">=65"]);
}

fn strs(t: &DataFrame, name: &str) -> Vec<Option<String>> {
    t.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn lists(t: &DataFrame, name: &str) -> Vec<Vec<String>> {
    let ca = t.column(name).unwrap().list().unwrap().clone();
    (0..ca.len())
        .map(|i| {
            let s = ca.get_as_series(i).expect("lists are never null");
            s.str()
                .unwrap()
                .iter()
                .map(|v| v.expect("no null in a list").to_string())
                .collect()
        })
        .collect()
}

fn two_cases() -> Dataset {
    dataset(
        &[
            Case {
                version: None,
                versions: 1,
                region: "310115",
                first: "2024-12-30",
                latest: "2024-12-30",
                sex: None,
                age: None,
                reporter: None,
                products: vec![],
                events: vec![],
                ..case("C2")
            },
            Case {
                version: Some(3),
                versions: 3,
                first: "2025-01-01",
                latest: "2025-02-10",
                sex: Some(0),
                age: Some(45.0),
                reporter: Some(3),
                products: vec![
                    ("D002", None),
                    ("D001", Some("B2")),
                    ("D002", Some("B1")),
                    ("D001", Some("B2")),
                ],
                events: vec![
                    ("Rash", None),
                    ("Nausea", Some("2025-01-01")),
                    ("Rash", None),
                ],
                ..case("C1")
            },
        ],
        None,
    )
}

#[test]
fn case_table_has_one_sorted_row_per_case_with_decoded_text_and_lists() {
    let data = two_cases();
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    let names: Vec<&str> = t.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, COLUMNS);
    assert_eq!(t.height(), 2);
    let s = |name: &str| strs(&t, name);
    let some = |v: &[&str]| v.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
    assert_eq!(s(col::PERIOD), some(&["2025", "2025"]));
    assert_eq!(s(col::CASE_ID), some(&["C1", "C2"]), "sorted by case_id");
    assert_eq!(s(col::REPORT_ID), some(&["R-C1", "R-C2"]));
    assert_eq!(s(col::PROVINCE), some(&["330000", "310000"]));
    assert_eq!(s(col::CITY), some(&["330100", "310100"]));
    assert_eq!(s(col::SEX), vec![Some("M".to_string()), None]);
    assert_eq!(
        s(col::REPORTER_TYPE),
        vec![Some("individual".to_string()), None]
    );
    assert_eq!(s(col::AGE_BAND), some(&["45-64", "unknown"]));
    let ints = |name: &str| -> Vec<i64> {
        t.column(name)
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    assert_eq!(ints(col::VERSION), [3, 1], "a missing version is 1");
    assert_eq!(ints(col::VERSIONS_RECEIVED), [3, 1]);
    let days = |name: &str| -> Vec<i32> {
        t.column(name)
            .unwrap()
            .cast(&DataType::Int32)
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect()
    };
    assert_eq!(
        days(col::FIRST_RECEIVED_DATE),
        [day("2025-01-01"), day("2024-12-30")]
    );
    assert_eq!(
        days(col::LATEST_RECEIVED_DATE),
        [day("2025-02-10"), day("2024-12-30")]
    );
    assert_eq!(
        lists(&t, col::SUSPECT_PRODUCTS),
        [vec!["D001", "D002"], vec![]]
    );
    assert_eq!(lists(&t, col::EVENTS), [vec!["Nausea", "Rash"], vec![]]);
    assert_eq!(lists(&t, col::BATCHES), [vec!["B1", "B2"], vec![]]);
    let flags = |name: &str| -> Vec<Option<bool>> {
        t.column(name).unwrap().bool().unwrap().iter().collect()
    };
    assert_eq!(flags(col::IN_PERIOD), [Some(true), Some(false)]);
    // C1 has everything; C2 misses time to onset, sex, age and reporter type (no product,
    // so no batch to miss): 0.5 × 0.7 × 0.7 × 0.9.
    let c = t.column(col::COMPLETENESS).unwrap().f64().unwrap();
    close(c.get(0).unwrap(), 1.0);
    close(c.get(1).unwrap(), 0.5 * 0.7 * 0.7 * 0.9);
    assert_eq!(flags(col::WELL_DOCUMENTED), [Some(true), Some(false)]);
    crate::output::check_bi_types(&t).expect("BI-safe types");
}

#[test]
fn age_bands_come_from_the_signals_strata_when_set() {
    let data = dataset(
        &[
            Case {
                age: Some(0.4),
                ..case("C1")
            },
            Case {
                age: Some(2.0),
                ..case("C2")
            },
            Case {
                age: Some(17.9),
                ..case("C3")
            },
            Case {
                age: Some(18.0),
                ..case("C4")
            },
        ],
        None,
    );
    let signals = Signals {
        strata_age_bands: vec![0.5, 2.0, 18.0],
        ..Signals::default()
    };
    let t = case_table(&data, &signals, &"2025".parse().unwrap()).unwrap();
    let want = ["<0.5", "2-17", "2-17", ">=18"];
    assert_eq!(
        strs(&t, col::AGE_BAND),
        want.map(|w| Some(w.to_string())).to_vec()
    );
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    let want = ["<18", "<18", "<18", "18-44"];
    assert_eq!(
        strs(&t, col::AGE_BAND),
        want.map(|w| Some(w.to_string())).to_vec()
    );
}

#[test]
fn a_completeness_column_already_in_cases_is_used_as_it_is() {
    let mut data = two_cases();
    // Rows in ingest order: C2, C1.
    data.cases
        .with_column(Column::new(col::COMPLETENESS.into(), [0.25f64, 0.5]))
        .unwrap();
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    let c: Vec<f64> = t
        .column(col::COMPLETENESS)
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(c, [0.5, 0.25], "C1, C2");
}

#[test]
fn written_lists_are_large_utf8_lists_readable_by_arrow() {
    use arrow::datatypes::DataType as A;
    let data = two_cases();
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut staging = crate::output::Staging::create(dir.path(), "2025").unwrap();
    staging.write_parquet("cases.parquet", &t).unwrap();
    let out = staging.publish().unwrap();
    let file = std::fs::File::open(out.join("cases.parquet")).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    for f in schema.fields() {
        let ok = match f.data_type() {
            A::LargeUtf8 | A::Utf8 | A::Int64 | A::Float64 | A::Boolean | A::Date32 => true,
            A::List(inner) | A::LargeList(inner) => {
                matches!(inner.data_type(), A::LargeUtf8 | A::Utf8)
            }
            _ => false,
        };
        assert!(ok, "{}: {}", f.name(), f.data_type());
    }
    let rows: usize = builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 2);
}

#[test]
fn lists_are_sorted_and_distinct_at_a_size_that_splits_the_group_by() {
    // Enough rows for polars to partition the group-by across threads; each case names
    // its products and events out of order and twice.
    const PRODUCTS: [&str; 4] = ["D4", "D1", "D3", "D2"];
    const EVENTS: [&str; 3] = ["Rash", "Nausea", "Headache"];
    let cases: Vec<Case> = (0..20_000)
        .map(|i| {
            let id: &'static str = Box::leak(format!("C{i:05}").into_boxed_str());
            let n = 1 + i % 4;
            let products = (0..2 * n)
                .map(|j| (PRODUCTS[(i + j) % n], Some(["B2", "B1"][j % 2])))
                .collect();
            let events = (0..2 * 3).map(|j| (EVENTS[(i + j) % 3], None)).collect();
            Case {
                products,
                events,
                ..case(id)
            }
        })
        .collect();
    let mut data = dataset(&cases, None);
    data.case_products = data.case_products.reverse();
    let t = case_table(&data, &Signals::default(), &"2025".parse().unwrap()).unwrap();
    assert_eq!(t.height(), cases.len());
    // Row i is case i (sorted by case_id): 1 + i % 4 products, 3 events, 2 batches.
    for name in [col::SUSPECT_PRODUCTS, col::EVENTS, col::BATCHES] {
        for (i, l) in lists(&t, name).iter().enumerate() {
            assert!(
                l.windows(2).all(|w| w[0] < w[1]),
                "{name} of row {i}: {l:?}"
            );
            let want = match name {
                col::SUSPECT_PRODUCTS => 1 + i % 4,
                col::EVENTS => 3,
                _ => 2,
            };
            assert_eq!(l.len(), want, "{name} of row {i}: {l:?}");
        }
    }
}

/// 50 cases in no particular `case_id` order, with products, batches and events that
/// differ from case to case (some with none).
pub(crate) fn fifty_cases() -> Vec<Case> {
    const PRODUCTS: [&str; 5] = ["D5", "D1", "D4", "D2", "D3"];
    const EVENTS: [&str; 3] = ["Rash", "Nausea", "Headache"];
    (0..50)
        .map(|i| {
            let id: &'static str = Box::leak(format!("C{:03}", (i * 37) % 50).into_boxed_str());
            let products = (0..i % 4)
                .map(|j| (PRODUCTS[(i + j) % 5], [Some("B2"), None, Some("B1")][j % 3]))
                .collect();
            let events = (0..i % 3)
                .map(|j| (EVENTS[(i * 2 + j) % 3], None))
                .collect();
            Case {
                products,
                events,
                age: (i % 5 != 0).then_some(i as f64),
                ..case(id)
            }
        })
        .collect()
}

#[test]
fn chunks_stack_to_the_whole_table_whatever_their_size() {
    let mut data = dataset(&fifty_cases(), None);
    data.case_events = data.case_events.reverse();
    let period = "2025".parse().unwrap();
    let signals = Signals::default();
    let whole = case_table(&data, &signals, &period).unwrap();
    assert_eq!(whole.height(), 50);
    let ids = strs(&whole, col::CASE_ID);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by case_id");
    for size in [1, 3, 7, 49, 50, 64] {
        let chunks: Vec<DataFrame> = case_table_chunks(&data, &signals, &period, size)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(chunks.len(), 50usize.div_ceil(size), "chunks of {size}");
        assert!(chunks.iter().all(|c| c.height() <= size));
        let mut stacked = chunks[0].clone();
        for c in &chunks[1..] {
            stacked.vstack_mut(c).unwrap();
        }
        assert!(stacked.equals_missing(&whole), "chunks of {size}");
    }
}

#[test]
fn no_case_is_one_empty_chunk_with_every_column() {
    let data = dataset(&[], None);
    let chunks: Vec<DataFrame> =
        case_table_chunks(&data, &Signals::default(), &"2025".parse().unwrap(), 3)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].height(), 0);
    let names: Vec<&str> = chunks[0]
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, COLUMNS);
}

#[test]
fn a_table_written_in_chunks_reads_back_as_the_whole_table() {
    let data = dataset(&fifty_cases(), None);
    let period = "2025".parse().unwrap();
    let signals = Signals::default();
    let whole = case_table(&data, &signals, &period).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut staging = crate::output::Staging::create(dir.path(), "2025").unwrap();
    let chunks = case_table_chunks(&data, &signals, &period, 7).unwrap();
    staging
        .write_parquet_batches("cases.parquet", chunks)
        .unwrap();
    assert_eq!(staging.written[0].rows, 50);
    let out = staging.publish().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["cases.parquet"], "no part file is left");
    let path = out.join("cases.parquet");
    let read = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    assert!(read.equals_missing(&whole));
    // The parts' schema survives the merge: large strings and lists, no view types.
    use arrow::datatypes::DataType as A;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&path).unwrap(),
    )
    .unwrap();
    for f in builder.schema().fields() {
        let ok = match f.data_type() {
            A::LargeUtf8 | A::Int64 | A::Float64 | A::Boolean | A::Date32 => true,
            // The hive partition column is recorded as Utf8 (output/arrow_schema.rs).
            A::Utf8 => f.name() == "period",
            A::LargeList(inner) => inner.data_type() == &A::LargeUtf8,
            _ => false,
        };
        assert!(ok, "{}: {}", f.name(), f.data_type());
    }
}

fn order_of(ids: &[Option<&str>]) -> Vec<IdxSize> {
    let column = Column::new("case_id".into(), ids);
    case_order(&column).unwrap().into_no_null_iter().collect()
}

fn arg_sorted(ids: &[Option<&str>]) -> Vec<IdxSize> {
    let column = Column::new("case_id".into(), ids);
    column
        .arg_sort(SortOptions::default())
        .into_no_null_iter()
        .collect()
}

#[test]
fn case_order_takes_sorted_ids_as_they_are_and_sorts_the_rest() {
    assert_eq!(order_of(&[Some("C1"), Some("C2"), Some("C3")]), [0, 1, 2]);
    assert_eq!(order_of(&[Some("C2"), Some("C1"), Some("C3")]), [1, 0, 2]);
    // Bytes order, as the sort: "C10" before "C9".
    assert_eq!(order_of(&[Some("C9"), Some("C10")]), [1, 0]);
    // A null goes first, as `arg_sort` puts it.
    assert_eq!(
        order_of(&[Some("C1"), None]),
        arg_sorted(&[Some("C1"), None])
    );
    assert_eq!(order_of(&[]), Vec::<IdxSize>::new());
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    /// Sorted or not, the order is the one a sort of the distinct ids gives.
    #[test]
    fn case_order_is_the_sorted_order(
        mut ids in proptest::collection::btree_set("[A-C][0-9]{0,3}", 0..40)
            .prop_map(|s| s.into_iter().collect::<Vec<String>>()),
        shuffle in proptest::bool::ANY,
    ) {
        if shuffle {
            ids.reverse();
            let n = ids.len();
            if n > 2 { ids.swap(0, n / 2); }
        }
        let ids: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        proptest::prop_assert_eq!(order_of(&ids), arg_sorted(&ids));
    }
}
