//! Property: on random FAERS quarters (follow-up versions, duplicate primaryids, rows with
//! the wrong number of fields, unknown primaryids, empty terms, bad optional values), every
//! source file balances (`read = used + superseded + duplicate + rejected`), every
//! non-blank data line is read, exactly one version of each valid case is used, and a bad
//! optional value never loses its case.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::{convert, Options};
use crate::config::Format;

const DEMO_H: &str = "primaryid$caseid$caseversion$fda_dt$age$age_cod$sex";

#[derive(Debug, Clone)]
struct Row {
    case: u8,
    version: u8,
    day: u8,
    /// 0: good, 1: wrong field count, 2: duplicate of the previous primaryid, 3: bad
    /// optional values (a year of birth as the age, an unknown sex).
    fault: u8,
    drugs: u8,
    reacs: u8,
    outc: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0u8..6,
        1u8..4,
        1u8..28,
        prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        0u8..4,
        0u8..3,
        any::<bool>(),
    )
        .prop_map(|(case, version, day, fault, drugs, reacs, outc)| Row {
            case,
            version,
            day,
            fault,
            drugs,
            reacs,
            outc,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_faers_row_is_accounted_for(rows in prop::collection::vec(row(), 1..30), orphans in 0usize..3) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (mut demo, mut drug, mut reac, mut outc) = (
            vec![DEMO_H.to_string()],
            vec!["primaryid$role_cod$drugname".to_string()],
            vec!["primaryid$pt".to_string()],
            vec!["primaryid$outc_cod".to_string()],
        );
        let mut valid: BTreeMap<u32, u8> = BTreeMap::new(); // primaryid -> case
        let mut last = 0u32;
        for (i, r) in rows.iter().enumerate() {
            let mut pid = 1000 + i as u32;
            match r.fault {
                1 => demo.push(format!("{pid}${}${}", r.case, r.version)),
                2 if i > 0 => pid = last,
                _ => {}
            }
            if r.fault == 3 {
                demo.push(format!("{pid}${}${}$202401{:02}$1974$YR$X", r.case, r.version, r.day));
                valid.entry(pid).or_insert(r.case);
            } else if r.fault != 1 {
                demo.push(format!("{pid}${}${}$202401{:02}$40$YR$F", r.case, r.version, r.day));
                valid.entry(pid).or_insert(r.case);
            }
            last = pid;
            for d in 0..r.drugs {
                drug.push(format!("{pid}${}$Drug {d}", if d == 0 { "PS" } else { "C" }));
            }
            for k in 0..r.reacs {
                reac.push(format!("{pid}${}", if k == 2 { String::new() } else { format!("Term {k}") }));
            }
            if r.outc {
                outc.push(format!("{pid}$HO"));
            }
        }
        for o in 0..orphans {
            drug.push(format!("{}$PS$Orphan", 9000 + o));
        }
        for (name, lines) in [("DEMO24Q1.txt", &demo), ("DRUG24Q1.txt", &drug), ("REAC24Q1.txt", &reac), ("OUTC24Q1.txt", &outc)] {
            std::fs::write(dir.path().join(name), lines.join("\n") + "\n").expect("write");
        }
        let opts = Options { region: Some("310000".into()), ..Options::default() };
        let conv = convert(Format::Faers, dir.path(), &opts).expect("a conversion");
        let sources = &conv.tables.sources;
        prop_assert_eq!(sources.len(), 4);
        for (s, lines) in sources.iter().zip([&demo, &drug, &reac, &outc]) {
            prop_assert_eq!(s.read, lines.len() as u64 - 1, "{}", s.path);
            prop_assert_eq!(s.read, s.used + s.superseded + s.duplicate + s.rejected, "{}", s.path);
        }
        let cases: BTreeSet<u8> = valid.values().copied().collect();
        prop_assert_eq!(sources[0].used, cases.len() as u64);
        prop_assert_eq!(conv.tables.reports.height(), valid.len());
        let rows_rejected = conv.tables.rejects.iter().filter(|r| r.action == crate::accounting::Action::RowRejected).count();
        prop_assert_eq!(rows_rejected as u64, sources.iter().map(|s| s.rejected).sum::<u64>());
    }
}
