//! The alert queue: filters, sorting and cursor pagination over one period's
//! `alerts.parquet`, from an index built once when the period is loaded.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use super::cursor::Cursor;
use super::value::{bool_column, date_column, row, str_column, str_column_or_null, Row};
use super::{Catalog, CatalogError, RegionScope, Result};
use crate::schema::{alert, col, CLASSES};
use crate::signals::out;

/// The most alerts one page holds.
pub const MAX_LIMIT: usize = 1000;
/// A page's size when the query names none.
pub const DEFAULT_LIMIT: usize = 50;
const PRIORITIES: [&str; 4] = ["P0", "P1", "P2", "P3"];

/// What to sort the queue by. Every order ends with the alert's row in `alerts.parquet`,
/// so it is total and a cursor is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    /// Priority (P0 first), then overdue first, then due date (earliest first, none
    /// last): the regulations' urgency.
    #[default]
    Urgency,
    Priority,
    DueDate,
    Kind,
    Status,
    Class,
    Region,
    Product,
    Event,
    AlertId,
}

impl SortKey {
    pub const NAMES: [&'static str; 10] = [
        "urgency", "priority", "due_date", "kind", "status", "class", "region", "product", "event",
        "alert_id",
    ];

    fn all() -> [SortKey; 10] {
        use SortKey::*;
        [
            Urgency, Priority, DueDate, Kind, Status, Class, Region, Product, Event, AlertId,
        ]
    }

    pub fn name(self) -> &'static str {
        let i = Self::all()
            .iter()
            .position(|k| *k == self)
            .expect("every key is listed");
        Self::NAMES[i]
    }

    /// `due_date`, or `-due_date` for descending.
    pub fn parse(text: &str) -> Result<(SortKey, bool)> {
        let (desc, name) = match text.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, text),
        };
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| (Self::all()[i], desc))
            .ok_or_else(|| {
                CatalogError::invalid(
                    "sort",
                    format!(
                        "expected one of `{}` (a leading `-` for descending), found `{text}`",
                        Self::NAMES.join("`, `")
                    ),
                )
            })
    }
}

/// A query of the alert queue. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// The period's label; the latest period when `None`.
    pub period: Option<String>,
    /// `P0` … `P3`.
    pub priority: Vec<String>,
    /// `new`, `ongoing`, `escalated`, `resolved`, … (any value; no match gives none).
    pub status: Vec<String>,
    /// `new_signal`, `cluster`, … (any value).
    pub kind: Vec<String>,
    /// A 6-digit code (the alerts whose region it covers) or a part of a region's Chinese
    /// name (`温州`: the alerts in any division so named, or whose `region_name` holds it).
    /// Alerts with no region never match a region filter.
    pub region: Option<String>,
    /// `drug`, `device`, `cosmetic`.
    pub class: Option<String>,
    /// A product id (exact) or a part of its name (ignoring case).
    pub product: Option<String>,
    /// A MedDRA system organ class (exact, ignoring case), from `signals.parquet`'s `soc`
    /// of the alert's class, product and event (the alerts carry no SOC of their own).
    pub soc: Option<String>,
    pub overdue: Option<bool>,
    /// Only the alerts of these subjects (the review app's topics of one assignee): an
    /// alert matches by its id or by its (class, product_id, event). `None`: no narrowing.
    pub subjects: Option<Subjects>,
    /// `(key, descending)`.
    pub sort: (SortKey, bool),
    /// Page size: 1 ..= [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when `None`.
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// Alert ids and (class, product_id, event) signals that an [`AlertQuery`] narrows to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subjects {
    pub alert_ids: std::collections::BTreeSet<String>,
    pub signals: std::collections::BTreeSet<(String, String, String)>,
}

impl Subjects {
    fn matches(&self, k: &Key) -> bool {
        if self.alert_ids.contains(&k.alert_id) {
            return true;
        }
        match (&k.class, &k.product_id, &k.event) {
            (Some(c), Some(p), Some(e)) => {
                self.signals.contains(&(c.clone(), p.clone(), e.clone()))
            }
            _ => false,
        }
    }
}

/// One page of the queue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertPage {
    /// Every `alerts.parquet` column by name, plus `soc` (null when not a signal).
    pub alerts: Vec<Row>,
    /// Alerts matching the query (and the scope) on every page.
    pub total: usize,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
    /// The period answered.
    pub period: String,
}

/// What the queue filters and sorts on, per alert, extracted once.
struct Key {
    alert_id: String,
    priority: u8,
    status: Option<String>,
    kind: Option<String>,
    class: Option<String>,
    region: Option<String>,
    /// Lowercased, for substring search.
    region_name: Option<String>,
    product_id: Option<String>,
    /// Lowercased, for substring search.
    product_name: Option<String>,
    event: Option<String>,
    soc: Option<String>,
    overdue: bool,
    due: Option<i32>,
}

/// Rows of `alerts.parquet` in a sort order.
type Order = Arc<Vec<u32>>;

/// One period's alerts with their index.
pub struct AlertIndex {
    df: DataFrame,
    keys: Vec<Key>,
    /// Sorted orders (rows of `df`), built on first use per (key, descending).
    orders: Mutex<HashMap<(SortKey, bool), Order>>,
}

fn priority_rank(p: Option<&str>) -> u8 {
    p.and_then(|p| PRIORITIES.iter().position(|q| *q == p))
        .map_or(u8::MAX, |i| i as u8)
}

impl AlertIndex {
    /// Index `alerts` (none: an empty queue), with each signal alert's SOC from `signals`.
    pub fn build(
        alerts: Option<DataFrame>,
        signals: Option<&DataFrame>,
        signal_rows: &HashMap<(String, String, String), usize>,
    ) -> std::result::Result<AlertIndex, String> {
        let df = alerts.unwrap_or_default();
        let n = df.height();
        let socs: Vec<Option<String>> = match signals {
            Some(s) => str_column_or_null(s, col::SOC)?,
            None => Vec::new(),
        };
        let mut keys = Vec::with_capacity(n);
        if n > 0 {
            let ids = str_column(&df, alert::ALERT_ID)?;
            let priority = str_column(&df, alert::PRIORITY)?;
            let status = str_column(&df, alert::STATUS)?;
            let kind = str_column(&df, alert::KIND)?;
            let class = str_column(&df, col::CLASS)?;
            let region = str_column_or_null(&df, col::REGION)?;
            let region_name = str_column_or_null(&df, col::REGION_NAME)?;
            let product_id = str_column_or_null(&df, col::PRODUCT_ID)?;
            let product_name = str_column_or_null(&df, out::PRODUCT_NAME)?;
            let event = str_column_or_null(&df, col::EVENT)?;
            let overdue = bool_column(&df, alert::OVERDUE)?;
            let due = date_column(&df, alert::DUE_DATE)?;
            let mut columns = (
                ids.into_iter(),
                priority.into_iter(),
                status.into_iter(),
                kind.into_iter(),
                class.into_iter(),
                region.into_iter(),
                region_name.into_iter(),
                product_id.into_iter(),
                product_name.into_iter(),
                event.into_iter(),
            );
            for i in 0..n {
                let id = columns.0.next().flatten();
                let Some(alert_id) = id else {
                    return Err(format!("row {}: column `alert_id` is null", i + 1));
                };
                let priority = columns.1.next().flatten();
                let class = columns.4.next().flatten();
                let product_id = columns.7.next().flatten();
                let event = columns.9.next().flatten();
                let soc = match (&class, &product_id, &event) {
                    (Some(c), Some(p), Some(e)) => signal_rows
                        .get(&(c.clone(), p.clone(), e.clone()))
                        .and_then(|r| socs.get(*r).cloned().flatten()),
                    _ => None,
                };
                keys.push(Key {
                    alert_id,
                    priority: priority_rank(priority.as_deref()),
                    status: columns.2.next().flatten(),
                    kind: columns.3.next().flatten(),
                    class,
                    region: columns.5.next().flatten(),
                    region_name: columns.6.next().flatten().map(|s| s.to_lowercase()),
                    product_id,
                    product_name: columns.8.next().flatten().map(|s| s.to_lowercase()),
                    event,
                    soc,
                    overdue: overdue[i].unwrap_or(false),
                    due: due[i],
                });
            }
        }
        let index = AlertIndex {
            df,
            keys,
            orders: Mutex::new(HashMap::new()),
        };
        index.order(SortKey::Urgency, false); // the default order, built with the index
        Ok(index)
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    fn compare(&self, key: SortKey, a: usize, b: usize) -> Ordering {
        let (x, y) = (&self.keys[a], &self.keys[b]);
        // Nulls sort last, whatever the direction asked for the values.
        fn opt<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) => a.cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        match key {
            SortKey::Urgency => x
                .priority
                .cmp(&y.priority)
                .then(y.overdue.cmp(&x.overdue))
                .then(opt(&x.due, &y.due)),
            SortKey::Priority => x.priority.cmp(&y.priority),
            SortKey::DueDate => opt(&x.due, &y.due),
            SortKey::Kind => opt(&x.kind, &y.kind),
            SortKey::Status => opt(&x.status, &y.status),
            SortKey::Class => opt(&x.class, &y.class),
            SortKey::Region => opt(&x.region, &y.region),
            SortKey::Product => {
                opt(&x.product_name, &y.product_name).then(opt(&x.product_id, &y.product_id))
            }
            SortKey::Event => opt(&x.event, &y.event),
            SortKey::AlertId => x.alert_id.cmp(&y.alert_id),
        }
    }

    /// The rows in the order of `key`, ties by row.
    fn order(&self, key: SortKey, desc: bool) -> Arc<Vec<u32>> {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = orders.get(&(key, desc)) {
            return o.clone();
        }
        let mut rows: Vec<u32> = (0..self.keys.len() as u32).collect();
        rows.sort_by(|&a, &b| {
            let o = self.compare(key, a as usize, b as usize);
            let o = if desc { o.reverse() } else { o };
            o.then(a.cmp(&b))
        });
        let rows = Arc::new(rows);
        orders.insert((key, desc), rows.clone());
        rows
    }
}

/// A query's filters, checked and normalised.
struct Filter {
    priority: Vec<u8>,
    status: Vec<String>,
    kind: Vec<String>,
    region: Option<RegionFilter>,
    class: Option<String>,
    /// The text as given (an id) and lowercased (a part of a name).
    product: Option<(String, String)>,
    soc: Option<String>,
    overdue: Option<bool>,
    subjects: Option<Subjects>,
}

enum RegionFilter {
    Code(String),
    /// Codes whose name holds the text, and the lowercased text.
    Name(Vec<String>, String),
}

impl Filter {
    fn new(q: &AlertQuery) -> Result<Filter> {
        let mut priority = Vec::new();
        for p in &q.priority {
            let r = priority_rank(Some(p.trim()));
            if r == u8::MAX {
                return Err(CatalogError::invalid(
                    "priority",
                    format!("expected one of `P0`, `P1`, `P2`, `P3`, found `{p}`"),
                ));
            }
            priority.push(r);
        }
        if let Some(c) = &q.class {
            if !CLASSES.contains(&c.as_str()) {
                return Err(CatalogError::invalid(
                    "class",
                    format!("expected one of `drug`, `device`, `cosmetic`, found `{c}`"),
                ));
            }
        }
        let nonempty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let region = nonempty(&q.region).map(|r| {
            if r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()) {
                RegionFilter::Code(r)
            } else {
                RegionFilter::Name(crate::regions::codes_named(&r), r.to_lowercase())
            }
        });
        Ok(Filter {
            priority,
            status: q.status.iter().map(|s| s.trim().to_string()).collect(),
            kind: q.kind.iter().map(|s| s.trim().to_string()).collect(),
            region,
            class: q.class.clone(),
            product: nonempty(&q.product).map(|p| {
                let lower = p.to_lowercase();
                (p, lower)
            }),
            soc: nonempty(&q.soc),
            overdue: q.overdue,
            subjects: q.subjects.clone(),
        })
    }

    fn matches(&self, k: &Key) -> bool {
        let any = |list: &[String], v: &Option<String>| {
            list.is_empty() || v.as_ref().is_some_and(|v| list.contains(v))
        };
        (self.priority.is_empty() || self.priority.contains(&k.priority))
            && any(&self.status, &k.status)
            && any(&self.kind, &k.kind)
            && self
                .class
                .as_ref()
                .is_none_or(|c| k.class.as_ref() == Some(c))
            && self.overdue.is_none_or(|o| k.overdue == o)
            && self.subjects.as_ref().is_none_or(|s| s.matches(k))
            && self
                .soc
                .as_ref()
                .is_none_or(|s| k.soc.as_ref().is_some_and(|v| v.to_lowercase() == *s))
            && self.product.as_ref().is_none_or(|(id, lower)| {
                k.product_id.as_ref() == Some(id)
                    || k.product_name.as_ref().is_some_and(|n| n.contains(lower))
            })
            && self.region.as_ref().is_none_or(|r| match (r, &k.region) {
                (_, None) => false,
                (RegionFilter::Code(c), Some(region)) => {
                    crate::config::scope::covers(std::slice::from_ref(c), region)
                }
                (RegionFilter::Name(codes, text), Some(region)) => {
                    crate::config::scope::covers(codes, region)
                        || k.region_name.as_ref().is_some_and(|n| n.contains(text))
                }
            })
    }

    /// A digest of the query's filters and order, which a cursor must match.
    fn digest(q: &AlertQuery) -> String {
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}",
            q.priority,
            q.status,
            q.kind,
            q.region,
            q.class,
            q.product,
            q.soc,
            q.overdue,
            q.subjects,
            q.sort.0.name(),
            q.sort.1
        );
        super::cursor::digest(&text)
    }
}

impl Catalog {
    /// One page of the alert queue of a period, as `scope` may see it.
    pub fn alerts(&self, scope: &RegionScope, q: &AlertQuery) -> Result<AlertPage> {
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(CatalogError::invalid(
                "limit",
                format!("expected 1 to {MAX_LIMIT}, found {limit}"),
            ));
        }
        let filter = Filter::new(q)?;
        let period = self.period(q.period.as_deref())?;
        let index = &period.alerts;
        let digest = Filter::digest(q);
        let generation = period.fingerprint.token();
        let start = match &q.cursor {
            None => 0,
            Some(text) => {
                let c = Cursor::decode(text)?;
                if c.period != period.info.label || c.query != digest {
                    return Err(CatalogError::invalid(
                        "cursor",
                        "this cursor belongs to another query; start again from the first page",
                    ));
                }
                if c.generation != generation {
                    return Err(CatalogError::invalid(
                        "cursor",
                        "the period was republished since this cursor was made; start again from the first page",
                    ));
                }
                c.position
            }
        };
        let order = index.order(q.sort.0, q.sort.1);
        let visible = |row: usize| {
            let k = &index.keys[row];
            scope.sees(k.region.as_deref()) && filter.matches(k)
        };
        let total = (0..index.keys.len()).filter(|&r| visible(r)).count();
        let mut alerts = Vec::new();
        let mut next = None;
        for (pos, &r) in order.iter().enumerate().skip(start) {
            let r = r as usize;
            if !visible(r) {
                continue;
            }
            if alerts.len() == limit {
                next = Some(
                    Cursor {
                        period: period.info.label.clone(),
                        generation: generation.clone(),
                        query: digest.clone(),
                        position: pos,
                    }
                    .encode(),
                );
                break;
            }
            let mut item = row(&index.df, r);
            item.insert(
                col::SOC.to_string(),
                index.keys[r]
                    .soc
                    .clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String),
            );
            alerts.push(item);
        }
        Ok(AlertPage {
            alerts,
            total,
            next,
            period: period.info.label.clone(),
        })
    }

    /// One alert of a period (the latest when `None`) by id, when `scope` sees it.
    pub fn alert(&self, scope: &RegionScope, period: Option<&str>, alert_id: &str) -> Result<Row> {
        let period = self.period(period)?;
        let index = &period.alerts;
        index
            .keys
            .iter()
            .position(|k| k.alert_id == alert_id && scope.sees(k.region.as_deref()))
            .map(|r| row(&index.df, r))
            .ok_or_else(|| CatalogError::NotFound(format!("alert `{alert_id}`")))
    }
}
