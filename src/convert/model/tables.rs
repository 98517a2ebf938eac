//! The canonical tables of a conversion, built once every row is accounted for.
//!
//! Convert stage, part of the model. [`Builder::finish`] writes the `reports`,
//! `report_products`, `report_events` and `products` frames (columns from
//! [`col`]), with each source file's accounts and the rejects. Invariants: every
//! accepted row is used or superseded; a product or event listed twice in one report
//! counts once; a registry product has the class of the first report naming it and
//! nothing watched; rejects come in the order the files were read, then by line.

use polars::prelude::*;
// polars' own fast hash maps: no new dependency, and the hot loops hash millions of keys.
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

use super::{Builder, Report, Tables};
use crate::accounting::Action;
use crate::error::{PolarsContext, Result};
use crate::schema::col;

impl Builder {
    /// Settle the accounting and build the canonical tables.
    pub fn finish(mut self, class: &'static str) -> Result<Tables> {
        self.settle_versions();
        if self.dead.iter().any(|d| *d) {
            self.drop_dead();
        }
        let latest = self.latest();
        for &(file, report, _) in &self.rows {
            let f = &mut self.files[file as usize];
            if latest[report as usize] {
                f.used += 1;
            } else {
                f.superseded += 1;
            }
        }
        // Rejects in the order the files were read, then by line.
        {
            let order: HashMap<&str, usize> = self
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.as_str(), i))
                .collect();
            self.rejects
                .sort_by_key(|r| (order.get(r.file.as_str()).copied(), r.line));
        }
        {
            let file_of: HashMap<String, usize> = self
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.path.clone(), i))
                .collect();
            for r in self
                .rejects
                .iter()
                .filter(|r| r.action == Action::CellNulled)
            {
                if let Some(&i) = file_of.get(&r.file) {
                    *self.files[i]
                        .nulled_cells
                        .entry(r.column.clone())
                        .or_default() += 1;
                }
            }
        }
        let ctx = |t: &'static str| move || format!("convert: building {t}");

        let r = &self.reports;
        let strs = |f: fn(&Report) -> Option<&str>| r.iter().map(f).collect::<Vec<_>>();
        let bools = |f: fn(&Report) -> Option<bool>| r.iter().map(f).collect::<Vec<_>>();
        let received: Int32Chunked = r.iter().map(|x| Some(x.received)).collect();
        let reports = DataFrame::new_infer_height(vec![
            Column::new(col::REPORT_ID.into(), strs(|x| Some(&x.report_id))),
            Column::new(col::CASE_ID.into(), strs(|x| Some(&x.case_id))),
            Column::new(
                col::VERSION.into(),
                r.iter().map(|x| x.version).collect::<Vec<_>>(),
            ),
            received
                .into_series()
                .cast(&DataType::Date)
                .context(ctx("reports"))?
                .with_name(col::RECEIVED_DATE.into())
                .into_column(),
            Column::new(col::CLASS.into(), strs(|x| Some(x.class))),
            Column::new(col::REGION.into(), strs(|x| Some(&x.region))),
            Column::new(col::REPORTER_TYPE.into(), strs(|x| x.reporter_type)),
            Column::new(col::SENTINEL.into(), bools(|x| x.sentinel)),
            Column::new(col::IS_NEW.into(), bools(|x| x.is_new)),
            Column::new(col::IS_SERIOUS.into(), bools(|x| x.is_serious)),
            Column::new(col::FATAL.into(), bools(|x| x.fatal)),
            Column::new(col::SEX.into(), strs(|x| x.sex)),
            Column::new(
                col::AGE_YEARS.into(),
                r.iter().map(|x| x.age_years).collect::<Vec<_>>(),
            ),
        ])
        .context(ctx("reports"))?;

        // Exact duplicates within a report (a product or event listed twice) add nothing.
        let mut seen = HashSet::default();
        self.products
            .retain(|p| seen.insert((p.report, p.product, p.role, p.batch.clone())));
        let mut seen = HashSet::default();
        self.events
            .retain(|e| seen.insert((e.report, e.event, e.onset)));

        let id_of = |i: u32| r[i as usize].report_id.as_str();
        let pn = &self.product_names;
        let report_products = DataFrame::new_infer_height(vec![
            Column::new(
                col::REPORT_ID.into(),
                self.products
                    .iter()
                    .map(|p| id_of(p.report))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::PRODUCT_ID.into(),
                self.products
                    .iter()
                    .map(|p| pn.get(p.product))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::ROLE.into(),
                self.products.iter().map(|p| p.role).collect::<Vec<_>>(),
            ),
            Column::new(
                col::BATCH.into(),
                self.products
                    .iter()
                    .map(|p| p.batch.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ])
        .context(ctx("report_products"))?;

        let en = &self.event_names;
        let onset: Int32Chunked = self.events.iter().map(|e| e.onset).collect();
        let report_events = DataFrame::new_infer_height(vec![
            Column::new(
                col::REPORT_ID.into(),
                self.events
                    .iter()
                    .map(|e| id_of(e.report))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENT.into(),
                self.events
                    .iter()
                    .map(|e| en.get(e.event))
                    .collect::<Vec<_>>(),
            ),
            onset
                .into_series()
                .cast(&DataType::Date)
                .context(ctx("report_events"))?
                .with_name(col::ONSET_DATE.into())
                .into_column(),
        ])
        .context(ctx("report_events"))?;

        // The registry: each distinct product, with the class of the first report naming it.
        let mut class_of = vec![class; pn.len()];
        let mut set = vec![false; pn.len()];
        for p in &self.products {
            if !set[p.product as usize] {
                set[p.product as usize] = true;
                class_of[p.product as usize] = r[p.report as usize].class;
            }
        }
        let names: Vec<&str> = (0..pn.len() as u32).map(|i| pn.get(i)).collect();
        let n = names.len();
        let none_bool = || vec![None::<bool>; n];
        let details: Vec<(Option<&str>, Option<&str>)> = (0..pn.len() as u32)
            .map(|i| self.product_details(i))
            .collect();
        let products = DataFrame::new_infer_height(vec![
            Column::new(col::PRODUCT_ID.into(), names.clone()),
            Column::new(col::NAME.into(), names),
            Column::new(col::CLASS.into(), class_of),
            Column::new(col::INNOVATIVE.into(), none_bool()),
            Column::new(col::CONDITIONAL.into(), none_bool()),
            Column::new(col::PROCURED.into(), none_bool()),
            Column::new(
                col::HOLDER.into(),
                details.iter().map(|d| d.0).collect::<Vec<_>>(),
            ),
            Column::new(
                col::APPROVAL_NUMBER.into(),
                details.iter().map(|d| d.1).collect::<Vec<_>>(),
            ),
        ])
        .context(ctx("products"))?;

        let serious_unknown = r.iter().filter(|x| x.is_serious.is_none()).count() as u64;
        Ok(Tables {
            reports,
            report_products,
            report_events,
            products,
            sources: self.files,
            rejects: self.rejects,
            missing: self.missing,
            serious_unknown,
        })
    }
}
