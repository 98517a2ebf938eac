//! The run's jurisdiction (`[scope] regions`) and the cases inside it.
//!
//! A pipeline names the regions it answers for as GB/T 2260 codes at any level: a
//! province code (`330000`) covers `33xxxx`, a prefecture-level city (`330100`) covers
//! `3301xx`, and a county or district code covers itself. No `[scope]` means every region.
//!
//! Reads ingest's `cases` (`region`, `__case`), `case_products` and `case_events`; returns
//! the same frames restricted to the cases in scope, with their case keys unchanged (the
//! keys stay valid, they are only no longer dense). Alerts, the screening list and the case
//! table read the scoped frames; rates cover the scope's regions (`rates.regions` defaults
//! to the scope); signals count the whole background unless `signals.background = "scope"`.
//!
//! Invariant: a case is in scope exactly when [`covers`] says its region is; a product or
//! event row is kept exactly when its case is.

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::ingest::Dataset;
use crate::schema::col;
use crate::signals::counts::suspect_products;

pub use crate::config::scope::{covers, Background, Scope};

/// The dataset restricted to the cases in scope, or `None` when the scope is every region
/// (then the whole dataset is the scoped one).
pub fn scope_dataset(data: &Dataset, scope: &Scope) -> Result<Option<Dataset>> {
    let Some(list) = scope.regions.as_deref() else {
        return Ok(None);
    };
    let ctx = || "scope: selecting the cases in scope".to_string();
    let region = data
        .cases
        .column(col::REGION)
        .and_then(|c| c.str().cloned())
        .context(ctx)?;
    let mask: BooleanChunked = region
        .iter()
        .map(|r| Some(r.is_some_and(|r| covers(list, r))))
        .collect();
    let cases = data.cases.filter(&mask).context(ctx)?;
    let keys = cases
        .column(col::CASE_KEY)
        .and_then(|c| c.idx().cloned())
        .context(ctx)?;
    let slots = keys.max().map_or(0, |m| m as usize + 1);
    let mut kept = vec![false; slots];
    for k in keys.iter().flatten() {
        kept[k as usize] = true;
    }
    let child = |frame: &DataFrame| -> Result<DataFrame> {
        let keys = frame
            .column(col::CASE_KEY)
            .and_then(|c| c.idx().cloned())
            .context(ctx)?;
        let mask: BooleanChunked = keys
            .iter()
            .map(|k| Some(k.is_some_and(|k| kept.get(k as usize) == Some(&true))))
            .collect();
        frame.filter(&mask).context(ctx)
    };
    Ok(Some(Dataset {
        superseded_versions: if data.superseded_versions.column(col::CASE_KEY).is_ok() {
            child(&data.superseded_versions)?
        } else {
            data.superseded_versions.clone()
        },
        case_products: child(&data.case_products)?,
        case_events: child(&data.case_events)?,
        cases,
        products: data.products.clone(),
        populations: data.populations.clone(),
        event_terms: data.event_terms.clone(),
        rejects: data.rejects.clone(),
        tables: data.tables.clone(),
        data_cutoff: data.data_cutoff,
    }))
}

/// The rows of a signals table whose class × product × event occurs in at least one case
/// in scope: a jurisdiction is alerted to a signal only when one of its own cases has it
/// (the statistics themselves still use the background chosen).
pub fn signals_with_cases_in_scope(signals: &DataFrame, scoped: &Dataset) -> Result<DataFrame> {
    let ctx = || "scope: signals with a case in scope".to_string();
    let watched = signals.clone().lazy().select([col(col::PRODUCT_ID)]);
    let pairs = suspect_products(&scoped.case_products, watched)
        .join(
            scoped
                .case_events
                .clone()
                .lazy()
                .select([col(col::CASE_KEY), col(col::EVENT)]),
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            scoped
                .cases
                .clone()
                .lazy()
                .select([col(col::CASE_KEY), col(col::CLASS)]),
            [col(col::CASE_KEY)],
            [col(col::CASE_KEY)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(col::CLASS), col(col::PRODUCT_ID), col(col::EVENT)])
        .unique(None, UniqueKeepStrategy::Any);
    crate::signals::rows_with_pairs(signals, pairs, &[col::CLASS, col::PRODUCT_ID, col::EVENT])
        .context(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn codes_cover_their_children_at_every_level() {
        let l = list(&["330000", "140100", "310115"]);
        assert!(covers(&l, "330000") && covers(&l, "330100") && covers(&l, "330106"));
        assert!(covers(&l, "140100") && covers(&l, "140105"));
        assert!(covers(&l, "310115"));
        assert!(!covers(&l, "140000"), "a city does not cover its province");
        assert!(!covers(&l, "140200") && !covers(&l, "310000") && !covers(&l, "310116"));
        assert!(!covers(&l, "370100"));
        let taizhou = list(&["331000"]);
        assert!(
            covers(&taizhou, "331002") && !covers(&taizhou, "331100"),
            "台州 must not cover 丽水"
        );
        assert!(!covers(&[], "330100"), "an empty list covers nothing");
    }

    #[test]
    fn no_scope_is_every_region() {
        let all = Scope::default();
        assert!(all.includes("370100") && all.includes("330106"));
        let zj = Scope {
            regions: Some(list(&["330000"])),
            ..Scope::default()
        };
        assert!(zj.includes("330106") && !zj.includes("370100"));
    }
}
