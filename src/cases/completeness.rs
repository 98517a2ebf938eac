//! The completeness score of a case, vigiGrade-style.
//!
//! Reads ingest's `cases` (`fatal`, `sex`, `age_years`, `reporter_type`, `is_serious`,
//! `is_new`, `__case`), `case_products` (`batch`, `__case`), `case_events` (`event`,
//! `onset_date`, `__case`) and `event_terms` (`event`) when given. Writes one `Float64`
//! column, `completeness`, aligned with the rows of `cases`.
//!
//! **Formula.** `C = Π (1 − pᵢ)` over the dimensions `i` that the case is missing, so
//! `C = 1` for a case missing nothing, and `C > 0.8` is a *well-documented* case. This is
//! the vigiGrade completeness score of Bergvall, Norén and Lindquist, "vigiGrade: a tool to
//! identify well-documented individual case reports and highlight systematic data quality
//! issues", Drug Saf 2014;37(1):65–77, doi:10.1007/s40264-013-0131-x. Its abstract gives
//! the ten dimensions (time-to-onset, age, sex, indication, outcome, report type, dose,
//! country, primary reporter, comments), the multiplicative penalties and the C > 0.8
//! threshold; its Table 2 gives the principles (a missing time-to-onset, or a missing age
//! *and* sex, cost 50% or more). The penalties are those of its Table 1, as reproduced in
//! Pharmaceuticals 2022;15(9):1148 (doi:10.3390/ph15091148, "Table 1"): time-to-onset 50%;
//! indication, outcome, sex, age 30% each; dose, country, primary reporter, report type,
//! comments 10% each; sex `unknown` and age `unknown` count as missing.
//!
//! **What the canonical tables hold** ([`PENALTIES`], one row per dimension scored):
//!
//! | dimension | missing when | penalty | source |
//! |---|---|---|---|
//! | time to onset | no event of the case has an `onset_date` (or the case has no event) | 0.5 | vigiGrade |
//! | outcome | `fatal` is null | 0.3 | vigiGrade |
//! | sex | `sex` is null or `U` | 0.3 | vigiGrade |
//! | age | `age_years` is null | 0.3 | vigiGrade |
//! | primary reporter | `reporter_type` is null | 0.1 | vigiGrade |
//! | report type (新的/严重/一般) | `is_serious` or `is_new` is null | 0.1 | vigiGrade |
//! | batch | the case has a suspect or interacting product, and none has a `batch` | 0.1 | pvwatch |
//! | coded event | `event_terms` is given and an event of the case is not in it | 0.1 | pvwatch |
//!
//! The tables hold the reaction's onset date but no treatment start, so a case with an
//! onset date scores as having its time to onset; vigiGrade's partial penalties for an
//! imprecise time to onset (30%, 10%) and for an age group instead of an age (10%) do not
//! arise. Indication, dose, country (every canonical report is in a Chinese region, and
//! FAERS reports take the pipeline's region) and the free-text narrative are not held, so
//! they are not scored: a case complete in every held dimension scores 1.
//!
//! Invariants: `0 < C ≤ 1`; one value per case, never null; the batch dimension applies
//! only to cases with a counted product, and the coded-event dimension only when
//! `event_terms` is given.

use polars::prelude::*;

use crate::error::{PolarsContext, Result};
use crate::ingest::Dataset;
use crate::schema::{col, SEXES};

/// A case is well documented when its completeness is above this (vigiGrade's C > 0.8).
pub const WELL_DOCUMENTED_ABOVE: f64 = 0.8;

/// A dimension of the completeness score that the canonical tables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    TimeToOnset,
    Outcome,
    Sex,
    Age,
    PrimaryReporter,
    ReportType,
    Batch,
    CodedEvent,
}

/// Where a penalty comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Bergvall et al. 2014, Table 1.
    VigiGrade,
    /// pvwatch's own, for Chinese practice; documented in the README.
    Pvwatch,
}

/// One row of the penalty table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalty {
    pub dimension: Dimension,
    /// The fraction of the score lost when the dimension is missing.
    pub penalty: f64,
    pub source: Source,
}

const fn penalty(dimension: Dimension, penalty: f64, source: Source) -> Penalty {
    Penalty {
        dimension,
        penalty,
        source,
    }
}

/// Every dimension scored, with its penalty and source (see the module header).
pub const PENALTIES: &[Penalty] = &[
    penalty(Dimension::TimeToOnset, 0.5, Source::VigiGrade),
    penalty(Dimension::Outcome, 0.3, Source::VigiGrade),
    penalty(Dimension::Sex, 0.3, Source::VigiGrade),
    penalty(Dimension::Age, 0.3, Source::VigiGrade),
    penalty(Dimension::PrimaryReporter, 0.1, Source::VigiGrade),
    penalty(Dimension::ReportType, 0.1, Source::VigiGrade),
    penalty(Dimension::Batch, 0.1, Source::Pvwatch),
    penalty(Dimension::CodedEvent, 0.1, Source::Pvwatch),
];

/// The code of `U` in [`SEXES`] (ingest stores `sex` as the index).
const U_SEX: u32 = 2;
const _: () = assert!(matches!(SEXES[U_SEX as usize].as_bytes(), b"U"));

// Per-case facts gathered from the child tables (internal columns).
const HAS_ONSET: &str = "__has_onset";
const HAS_BATCH: &str = "__has_batch";
const UNCODED: &str = "__uncoded";

/// Maps a child table's case keys (`__case`) to rows of `cases`. Ingest numbers cases by
/// row (`__case` = row), so the map is the identity there; a frame built otherwise gets a
/// lookup table.
enum CaseRows {
    Identity(usize),
    Lookup(std::collections::HashMap<IdxSize, usize>),
}

impl CaseRows {
    fn of(cases: &DataFrame) -> PolarsResult<CaseRows> {
        let keys = cases.column(col::CASE_KEY)?.idx()?;
        if keys
            .iter()
            .enumerate()
            .all(|(row, k)| k == Some(row as IdxSize))
        {
            return Ok(CaseRows::Identity(cases.height()));
        }
        Ok(CaseRows::Lookup(
            keys.iter()
                .enumerate()
                .filter_map(|(row, k)| Some((k?, row)))
                .collect(),
        ))
    }

    /// The row of `cases` of each row of a child table (None: a key with no case).
    fn rows<'a>(
        &'a self,
        child: &'a DataFrame,
    ) -> PolarsResult<impl Iterator<Item = Option<usize>> + 'a> {
        let keys = child.column(col::CASE_KEY)?.idx()?;
        Ok(keys.iter().map(move |k| {
            let k = k?;
            match self {
                CaseRows::Identity(n) => ((k as usize) < *n).then_some(k as usize),
                CaseRows::Lookup(m) => m.get(&k).copied(),
            }
        }))
    }
}

/// Each case's completeness score, a `Float64` column named `completeness` aligned with
/// the rows of `data.cases`. Pure: reads the frames, writes nothing.
pub fn completeness(data: &Dataset) -> Result<Column> {
    completeness_of(
        &data.cases,
        &data.case_products,
        &data.case_events,
        data.event_terms.as_ref(),
    )
}

/// [`completeness`] over the frames themselves.
pub fn completeness_of(
    cases: &DataFrame,
    case_products: &DataFrame,
    case_events: &DataFrame,
    event_terms: Option<&DataFrame>,
) -> Result<Column> {
    let ctx = || "cases: scoring completeness".to_string();
    // Per-case facts from the child tables, gathered into one flag per case by the case
    // key: a pass over each child table and a few bytes a case, where a hash group-by
    // over tens of millions of rows would take gigabytes at national scale.
    let row_of = CaseRows::of(cases).context(ctx)?;
    let n = cases.height();
    let mut has_onset = vec![false; n];
    for (row, dated) in row_of.rows(case_events).context(ctx)?.zip(
        case_events
            .column(col::ONSET_DATE)
            .context(ctx)?
            .is_not_null()
            .iter(),
    ) {
        if let (Some(row), Some(true)) = (row, dated) {
            has_onset[row] = true;
        }
    }
    // Every row of case_products is a suspect or interacting product (see ingest); a case
    // with none has no batch to miss (null).
    let mut has_batch: Vec<Option<bool>> = vec![None; n];
    for (row, batch) in row_of.rows(case_products).context(ctx)?.zip(
        case_products
            .column(col::BATCH)
            .context(ctx)?
            .is_not_null()
            .iter(),
    ) {
        if let Some(row) = row {
            let b = &mut has_batch[row];
            *b = Some(b.unwrap_or(false) || batch == Some(true));
        }
    }
    let mut lf = cases.clone().lazy().select([
        col(col::FATAL),
        col(col::SEX),
        col(col::AGE_YEARS),
        col(col::REPORTER_TYPE),
        col(col::IS_SERIOUS),
        col(col::IS_NEW),
    ]);
    let flags = |name: &str, v: Vec<bool>| lit(Series::new(name.into(), v)).alias(name);
    lf = lf.with_columns([
        flags(HAS_ONSET, has_onset),
        lit(Series::new(HAS_BATCH.into(), has_batch)).alias(HAS_BATCH),
    ]);
    let uncoded = match event_terms {
        Some(terms) => {
            let coded = case_events
                .column(col::EVENT)
                .and_then(|e| {
                    let terms = terms.column(col::EVENT)?.as_materialized_series().clone();
                    is_in(
                        e.as_materialized_series(),
                        &terms.implode()?.into_series(),
                        false,
                    )
                })
                .context(ctx)?;
            let mut uncoded = vec![false; n];
            for (row, coded) in row_of.rows(case_events).context(ctx)?.zip(coded.iter()) {
                if let (Some(row), Some(false) | None) = (row, coded) {
                    uncoded[row] = true;
                }
            }
            lf = lf.with_column(flags(UNCODED, uncoded));
            col(UNCODED)
        }
        None => lit(false),
    };
    let missing = |d: Dimension| -> Expr {
        match d {
            Dimension::TimeToOnset => col(HAS_ONSET).not(),
            Dimension::Outcome => col(col::FATAL).is_null(),
            Dimension::Sex => col(col::SEX).is_null().or(col(col::SEX).eq(lit(U_SEX))),
            Dimension::Age => col(col::AGE_YEARS).is_null(),
            Dimension::PrimaryReporter => col(col::REPORTER_TYPE).is_null(),
            Dimension::ReportType => col(col::IS_SERIOUS)
                .is_null()
                .or(col(col::IS_NEW).is_null()),
            // Null: no counted product, so no batch to miss.
            Dimension::Batch => col(HAS_BATCH).eq(lit(false)).fill_null(lit(false)),
            Dimension::CodedEvent => uncoded.clone(),
        }
    };
    let score = PENALTIES
        .iter()
        .map(|p| {
            when(missing(p.dimension))
                .then(lit(1.0 - p.penalty))
                .otherwise(lit(1.0))
        })
        .reduce(|a, b| a * b)
        .expect("the penalty table is not empty");
    let out = lf
        .select([score.alias(col::COMPLETENESS)])
        .collect()
        .context(ctx)?;
    let column = out.column(col::COMPLETENESS).context(ctx)?.clone();
    debug_assert_eq!(column.len(), cases.height());
    Ok(column)
}
