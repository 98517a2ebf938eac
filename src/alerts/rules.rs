//! The alert rules: each reads frames and returns alerts (status `new` until compared with
//! the previous run). See the module table in `alerts` for what fires and its priority.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use serde_json::{json, Map, Value};

use super::alert_id;
use super::messages::{class_zh, num, pct, product_label, watch_labels};
use super::model::{Alert, Kind, Priority, Status};
use crate::config::{Alerts, Signals};
use crate::error::{PolarsContext, Result};
use crate::period::{epoch_days, from_epoch_days, Period};
use crate::schema::col;
use crate::signals::counts::{suspect_products, suspect_role};
use crate::signals::{out, watched_products};

/// The frames the rules read.
pub struct RuleInputs<'a> {
    pub period: &'a Period,
    pub cases: &'a DataFrame,
    pub case_products: &'a DataFrame,
    pub products: &'a DataFrame,
    pub rates: &'a DataFrame,
    pub signals: &'a DataFrame,
    pub signals_cfg: &'a Signals,
    /// The previous run's alerts, for `strengthened_signal`.
    pub previous: Option<&'a [Alert]>,
}

/// Evaluate every enabled rule.
pub fn evaluate_rules(inp: &RuleInputs<'_>, cfg: &Alerts) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    signal_alerts(inp, cfg, &mut out)?;
    if cfg.fatal_report || cfg.serious_report {
        case_alerts(inp, cfg, &mut out)?;
    }
    if let Some(c) = &cfg.cluster {
        cluster_alerts(inp, c, &mut out)?;
    }
    if cfg.rate_below_target || cfg.sentinel_quality_below_target {
        rate_alerts(inp, cfg, &mut out)?;
    }
    Ok(out)
}

fn base(kind: Kind, priority: Priority, period: &Period, class: &str, id: String) -> Alert {
    Alert {
        alert_id: id,
        kind,
        priority,
        status: Status::New,
        period: period.to_string(),
        first_period: period.to_string(),
        class: class.to_string(),
        product_id: None,
        product_name: None,
        event: None,
        region: None,
        batch: None,
        case_id: None,
        rule: String::new(),
        threshold: 0.0,
        value: 0.0,
        numbers: Map::new(),
        message_en: String::new(),
        message_zh: String::new(),
    }
}

/// Column accessors for a frame that came out of this crate (types are known).
struct Cols<'a>(&'a DataFrame, &'static str);

impl Cols<'_> {
    fn ctx(&self) -> String {
        format!("alerts: reading {}", self.1)
    }
    fn str(&self, name: &str) -> Result<StringChunked> {
        self.0
            .column(name)
            .and_then(|c| c.str().cloned())
            .context(|| self.ctx())
    }
    fn f64(&self, name: &str) -> Result<Float64Chunked> {
        self.0
            .column(name)
            .and_then(|c| c.cast(&DataType::Float64))
            .and_then(|c| c.f64().cloned())
            .context(|| self.ctx())
    }
    fn bool(&self, name: &str) -> Result<BooleanChunked> {
        self.0
            .column(name)
            .and_then(|c| c.bool().cloned())
            .context(|| self.ctx())
    }
    fn days(&self, name: &str) -> Result<Int32Chunked> {
        self.0
            .column(name)
            .and_then(|c| c.cast(&DataType::Int32))
            .and_then(|c| c.i32().cloned())
            .context(|| self.ctx())
    }
}

/// EB05 tiers: below 2, 2–4, 4–8, 8 and above.
fn eb05_tier(x: f64) -> u8 {
    match x {
        x if x >= 8.0 => 3,
        x if x >= 4.0 => 2,
        x if x >= 2.0 => 1,
        _ => 0,
    }
}

fn signal_alerts(inp: &RuleInputs<'_>, cfg: &Alerts, out_alerts: &mut Vec<Alert>) -> Result<()> {
    if !cfg.new_signal && cfg.strengthened_factor.is_none() {
        return Ok(());
    }
    let s = Cols(inp.signals, "signals");
    let (class, pid, pname, event) = (
        s.str(col::CLASS)?,
        s.str(col::PRODUCT_ID)?,
        s.str(out::PRODUCT_NAME)?,
        s.str(col::EVENT)?,
    );
    let (innov, cond, proc_) = (
        s.bool(col::INNOVATIVE)?,
        s.bool(col::CONDITIONAL)?,
        s.bool(col::PROCURED)?,
    );
    let is_signal = s.bool(out::IS_SIGNAL)?;
    let f = |n: &str| s.f64(n);
    let (a, e, prr, chi2, ror, ror_lower) = (
        f("a")?,
        f("expected")?,
        f(out::PRR)?,
        f(out::CHI2)?,
        f(out::ROR)?,
        f(out::ROR_LOWER)?,
    );
    let (ic025, ebgm, eb05, eb95, k) = (
        f(out::IC025)?,
        f(out::EBGM)?,
        f(out::EB05)?,
        f(out::EB95)?,
        f(out::N_METHODS_FLAGGED)?,
    );
    let previous: BTreeMap<&str, &Alert> = inp
        .previous
        .unwrap_or(&[])
        .iter()
        .filter(|x| x.status != Status::Resolved)
        .map(|x| (x.alert_id.as_str(), x))
        .collect();
    let m = inp.signals_cfg.methods.len();
    let min_methods = inp.signals_cfg.min_methods as f64;

    for i in 0..inp.signals.height() {
        if is_signal.get(i) != Some(true) {
            continue;
        }
        let (Some(c), Some(p), Some(ev)) = (class.get(i), pid.get(i), event.get(i)) else {
            continue;
        };
        let id = alert_id("signal", &[c, p, ev]);
        let g = |ca: &Float64Chunked| ca.get(i).unwrap_or(f64::NAN);
        let (eb05_now, ic025_now) = (g(&eb05), g(&ic025));
        let prev = previous.get(id.as_str()).copied();
        let prev_num = |name: &str| {
            prev.and_then(|p| p.numbers.get(name))
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        let (eb05_prev, ic025_prev) = (prev_num("eb05"), prev_num("ic025"));
        let strengthened = match (cfg.strengthened_factor, prev) {
            (Some(factor), Some(_)) => {
                (eb05_prev > 0.0 && eb05_now >= factor * eb05_prev)
                    || (eb05_prev.is_finite() && eb05_tier(eb05_now) > eb05_tier(eb05_prev))
                    || (ic025_prev.is_finite() && ic025_now - ic025_prev >= factor.log2())
            }
            _ => false,
        };
        if !strengthened && !cfg.new_signal {
            continue;
        }
        let kind = if strengthened {
            Kind::StrengthenedSignal
        } else {
            Kind::NewSignal
        };
        let name = pname.get(i);
        let label = product_label(p, name);
        let (wen, wzh) = watch_labels(
            c,
            innov.get(i).unwrap_or(false),
            cond.get(i).unwrap_or(false),
            proc_.get(i).unwrap_or(false),
        );
        let mut al = base(kind, Priority::P2, inp.period, c, id);
        al.product_id = Some(p.to_string());
        al.product_name = name.map(str::to_string);
        al.event = Some(ev.to_string());
        let nums = [
            ("a", g(&a)),
            ("expected", g(&e)),
            ("prr", g(&prr)),
            ("chi2", g(&chi2)),
            ("ror", g(&ror)),
            ("ror_lower", g(&ror_lower)),
            ("ic025", ic025_now),
            ("ebgm", g(&ebgm)),
            ("eb05", eb05_now),
            ("eb95", g(&eb95)),
            ("n_methods_flagged", g(&k)),
        ];
        for (key, v) in nums {
            al.numbers.insert(key.to_string(), json!(v));
        }
        let stats_en = format!(
            "{} cases (expected {}), EB05 {}, IC025 {}, PRR {} (χ² {}), ROR lower bound {}; {} of {m} methods flag it",
            num(g(&a), 0),
            num(g(&e), 2),
            num(eb05_now, 2),
            num(ic025_now, 2),
            num(g(&prr), 2),
            num(g(&chi2), 1),
            num(g(&ror_lower), 2),
            num(g(&k), 0)
        );
        let stats_zh = format!(
            "病例 {} 例（期望 {}），EB05 {}，IC025 {}，PRR {}（χ² {}），ROR 95% 下限 {}；{m} 种方法中 {} 种提示信号",
            num(g(&a), 0),
            num(g(&e), 2),
            num(eb05_now, 2),
            num(ic025_now, 2),
            num(g(&prr), 2),
            num(g(&chi2), 1),
            num(g(&ror_lower), 2),
            num(g(&k), 0)
        );
        if strengthened {
            let factor = cfg.strengthened_factor.unwrap_or(1.5);
            al.numbers.insert("eb05_previous".into(), json!(eb05_prev));
            al.numbers
                .insert("ic025_previous".into(), json!(ic025_prev));
            al.rule =
                format!("eb05 or 2^ic025 rose ≥ {factor}× or eb05 into a higher tier (2, 4, 8)");
            al.threshold = factor;
            al.value = if eb05_prev > 0.0 {
                eb05_now / eb05_prev
            } else {
                f64::NAN
            };
            al.message_en = format!(
                "Signal strengthened: {label} [{wen}] × {ev} ({c}): EB05 rose from {} to {}; {stats_en}.",
                num(eb05_prev, 2),
                num(eb05_now, 2)
            );
            al.message_zh = format!(
                "信号增强：{label}（{wzh}）× {ev}（{}）：EB05 由 {} 升至 {}；{stats_zh}。请及时开展风险会商。",
                class_zh(c),
                num(eb05_prev, 2),
                num(eb05_now, 2)
            );
        } else {
            al.rule = format!("n_methods_flagged >= {}", inp.signals_cfg.min_methods);
            al.threshold = min_methods;
            al.value = g(&k);
            al.message_en = format!("New signal: {label} [{wen}] × {ev} ({c}): {stats_en}.");
            al.message_zh = format!(
                "新的信号：{label}（{wzh}）× {ev}（{}）：{stats_zh}。请开展信号评价。",
                class_zh(c)
            );
        }
        if !al.value.is_finite() {
            al.value = 0.0;
        }
        out_alerts.push(al);
    }
    Ok(())
}

fn case_alerts(inp: &RuleInputs<'_>, cfg: &Alerts, out_alerts: &mut Vec<Alert>) -> Result<()> {
    let ctx = || "alerts: fatal and serious cases on watched products".to_string();
    let p = inp.period;
    let day = |c: &str| col(c).cast(DataType::Int32);
    let in_period = inp
        .cases
        .clone()
        .lazy()
        // A case first received in the period, or one whose latest version (a follow-up,
        // 跟踪报告) arrived in it: a follow-up that turns a case fatal must alert.
        .filter(
            (day(col::FIRST_RECEIVED)
                .gt_eq(lit(epoch_days(p.start())))
                .and(day(col::FIRST_RECEIVED).lt_eq(lit(epoch_days(p.end())))))
            .or(day(col::RECEIVED_DATE)
                .gt_eq(lit(epoch_days(p.start())))
                .and(day(col::RECEIVED_DATE).lt_eq(lit(epoch_days(p.end()))))),
        )
        .select([
            col(col::CASE_ID),
            col(col::CLASS),
            col(col::REGION),
            col(col::FIRST_RECEIVED),
            col(col::FATAL).fill_null(lit(false)),
            col(col::IS_SERIOUS).fill_null(lit(false)),
            col(col::IS_NEW).fill_null(lit(false)),
        ]);
    let df = suspect_products(inp.case_products)
        .join(
            watched_products(inp.products, &inp.signals_cfg.watch),
            [col(col::PRODUCT_ID)],
            [col(col::PRODUCT_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            in_period,
            [col(col::CASE_ID)],
            [col(col::CASE_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col(col::FATAL)
                .or(col(col::IS_SERIOUS))
                .or(col(col::IS_NEW)),
        )
        .sort(
            [col::CASE_ID, col::PRODUCT_ID],
            SortMultipleOptions::default(),
        )
        .collect()
        .context(ctx)?;
    let s = Cols(&df, "cases");
    let (case, class, region, pid, pname) = (
        s.str(col::CASE_ID)?,
        s.str(col::CLASS)?,
        s.str(col::REGION)?,
        s.str(col::PRODUCT_ID)?,
        s.str(out::PRODUCT_NAME)?,
    );
    let (fatal, serious, new) = (
        s.bool(col::FATAL)?,
        s.bool(col::IS_SERIOUS)?,
        s.bool(col::IS_NEW)?,
    );
    let (innov, cond, proc_) = (
        s.bool(col::INNOVATIVE)?,
        s.bool(col::CONDITIONAL)?,
        s.bool(col::PROCURED)?,
    );
    let date = s.days(col::FIRST_RECEIVED)?;
    for i in 0..df.height() {
        let (Some(cid), Some(c), Some(pr)) = (case.get(i), class.get(i), pid.get(i)) else {
            continue;
        };
        let (is_fatal, is_serious, is_new) = (
            fatal.get(i) == Some(true),
            serious.get(i) == Some(true),
            new.get(i) == Some(true),
        );
        let device = c == "device";
        let (kind, priority, due_en, due_zh) = if is_fatal && cfg.fatal_report {
            if device {
                (
                    Kind::FatalReport,
                    Priority::P1,
                    "report within 7 days",
                    "应于7日内报告",
                )
            } else {
                (
                    Kind::FatalReport,
                    Priority::P0,
                    "report immediately",
                    "应立即报告",
                )
            }
        } else if (is_serious || is_fatal || (is_new && cfg.serious_include_new))
            && cfg.serious_report
        {
            if device && (is_serious || is_fatal) {
                (
                    Kind::SeriousReport,
                    Priority::P2,
                    "report within 20 days",
                    "应于20日内报告",
                )
            } else {
                (
                    Kind::SeriousReport,
                    Priority::P2,
                    "report within 15 days",
                    "应于15日内报告",
                )
            }
        } else {
            continue;
        };
        let name = pname.get(i);
        let label = product_label(pr, name);
        let (wen, wzh) = watch_labels(
            c,
            innov.get(i).unwrap_or(false),
            cond.get(i).unwrap_or(false),
            proc_.get(i).unwrap_or(false),
        );
        let reg = region.get(i).unwrap_or("");
        let received = date
            .get(i)
            .map(from_epoch_days)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let mut al = base(kind, priority, inp.period, c, alert_id("case", &[cid, pr]));
        al.product_id = Some(pr.to_string());
        al.product_name = name.map(str::to_string);
        al.region = Some(reg.to_string());
        al.case_id = Some(cid.to_string());
        al.numbers.insert("fatal".into(), json!(is_fatal));
        al.numbers.insert("serious".into(), json!(is_serious));
        al.numbers.insert("new".into(), json!(is_new));
        al.numbers.insert("received_date".into(), json!(received));
        al.threshold = 1.0;
        al.value = 1.0;
        let (what_en, what_zh) = match kind {
            Kind::FatalReport if device => ("Device death", "医疗器械死亡事件"),
            Kind::FatalReport => ("Death", "死亡病例"),
            _ if is_serious || is_fatal => {
                if device {
                    ("Serious injury", "严重伤害事件")
                } else {
                    ("Serious report", "严重病例")
                }
            }
            _ => ("New (unlabelled) reaction", "新的不良反应病例"),
        };
        al.rule = match kind {
            Kind::FatalReport => "fatal = true".to_string(),
            _ if cfg.serious_include_new => "is_serious or is_new = true".to_string(),
            _ => "is_serious = true".to_string(),
        };
        al.message_en = format!(
            "{what_en} on {label} [{wen}]: case {cid}, region {reg}, first received {received}; {due_en}."
        );
        al.message_zh = format!(
            "{label}（{wzh}）{what_zh}：病例 {cid}，地区 {reg}，{received} 首次收到，{due_zh}。"
        );
        out_alerts.push(al);
    }
    Ok(())
}

/// One case of a product in a cluster search: its first receipt (days) and region.
struct Hit {
    day: i32,
    case: String,
    region: String,
}

/// The window of `w` days with the most cases that includes a case in `[start, end]`:
/// (first index, last index) into `hits` (sorted by day).
fn best_window(hits: &[Hit], w: i64, start: i32, end: i32) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut j = 0;
    for i in 0..hits.len() {
        if j < i {
            j = i;
        }
        while j + 1 < hits.len() && ((hits[j + 1].day - hits[i].day) as i64) < w {
            j += 1;
        }
        let touches = hits[i..=j].iter().any(|h| h.day >= start && h.day <= end);
        if touches && best.is_none_or(|(bi, bj)| j - i > bj - bi) {
            best = Some((i, j));
        }
    }
    best
}

fn cluster_alerts(
    inp: &RuleInputs<'_>,
    c: &crate::config::Cluster,
    out_alerts: &mut Vec<Alert>,
) -> Result<()> {
    let ctx = || "alerts: cluster search".to_string();
    let p = inp.period;
    let background = inp
        .cases
        .clone()
        .lazy()
        .filter(
            col(col::FIRST_RECEIVED)
                .cast(DataType::Int32)
                .lt_eq(lit(epoch_days(p.end()))),
        )
        .select([
            col(col::CASE_ID),
            col(col::CLASS),
            col(col::REGION),
            col(col::FIRST_RECEIVED),
        ]);
    let df = inp
        .case_products
        .clone()
        .lazy()
        .filter(suspect_role())
        .select([col(col::CASE_ID), col(col::PRODUCT_ID), col(col::BATCH)])
        .unique(None, UniqueKeepStrategy::Any)
        .join(
            background,
            [col(col::CASE_ID)],
            [col(col::CASE_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .sort(
            [
                col::CLASS,
                col::PRODUCT_ID,
                col::BATCH,
                col::FIRST_RECEIVED,
                col::CASE_ID,
            ],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()
        .context(ctx)?;
    let s = Cols(&df, "case products");
    let (case, class, region, pid, batch) = (
        s.str(col::CASE_ID)?,
        s.str(col::CLASS)?,
        s.str(col::REGION)?,
        s.str(col::PRODUCT_ID)?,
        s.str(col::BATCH)?,
    );
    let day = s.days(col::FIRST_RECEIVED)?;
    // Group: (class, product, Some(batch)) or, for cases with no batch, (class, product, city).
    let mut groups: BTreeMap<(String, String, bool, String), Vec<Hit>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(cid), Some(cl), Some(pr), Some(d)) =
            (case.get(i), class.get(i), pid.get(i), day.get(i))
        else {
            continue;
        };
        let reg = region.get(i).unwrap_or("");
        let key = match batch.get(i) {
            Some(b) => (cl.to_string(), pr.to_string(), true, b.to_string()),
            None if c.by_region && reg.len() == 6 => (
                cl.to_string(),
                pr.to_string(),
                false,
                crate::schema::city_of(reg),
            ),
            None => continue,
        };
        groups.entry(key).or_default().push(Hit {
            day: d,
            case: cid.to_string(),
            region: reg.to_string(),
        });
    }
    let names = product_names(inp.products)?;
    let (start, end) = (epoch_days(p.start()), epoch_days(p.end()));
    for ((cl, pr, by_batch, key), mut hits) in groups {
        hits.sort_by(|x, y| (x.day, &x.case).cmp(&(y.day, &y.case)));
        let min = if by_batch {
            c.min_cases
        } else {
            c.region_min_cases
        };
        let Some((i, j)) = best_window(&hits, c.window_days, start, end) else {
            continue;
        };
        let n = (j - i + 1) as i64;
        if n < min {
            continue;
        }
        let window = &hits[i..=j];
        let first: NaiveDate = from_epoch_days(window[0].day);
        let last: NaiveDate = from_epoch_days(window[window.len() - 1].day);
        let mut regions: Vec<&str> = window.iter().map(|h| h.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();
        let cases: Vec<&str> = window.iter().map(|h| h.case.as_str()).collect();
        let name = names.get(&pr).cloned();
        let label = product_label(&pr, name.as_deref());
        let family = if by_batch {
            "cluster-batch"
        } else {
            "cluster-region"
        };
        let mut al = base(
            Kind::Cluster,
            Priority::P0,
            inp.period,
            &cl,
            alert_id(family, &[&cl, &pr, &key]),
        );
        al.product_id = Some(pr.clone());
        al.product_name = name;
        if by_batch {
            al.batch = Some(key.clone());
        } else {
            al.region = Some(key.clone());
        }
        al.rule = format!("cases >= {min} within {} days", c.window_days);
        al.threshold = min as f64;
        al.value = n as f64;
        al.numbers.insert("cases".into(), json!(n));
        al.numbers
            .insert("window_start".into(), json!(first.to_string()));
        al.numbers
            .insert("window_end".into(), json!(last.to_string()));
        al.numbers.insert("case_ids".into(), json!(cases));
        al.numbers.insert("regions".into(), json!(regions));
        let w = c.window_days;
        let (what_en, what_zh) = if by_batch {
            (format!("batch {key}"), format!("批号 {key}"))
        } else {
            (
                format!("no batch, city {key}"),
                format!("无批号，地市 {key}"),
            )
        };
        al.message_en = format!(
            "Possible cluster (群体不良事件): {n} cases of {label}, {what_en}, first received within {w} days ({first} to {last}), regions {}; report immediately and investigate.",
            regions.join(", ")
        );
        al.message_zh = format!(
            "疑似群体不良事件：{label}（{what_zh}）{w} 日内首次收到 {n} 例（{first} 至 {last}），涉及地区 {}；应立即报告并组织调查。",
            regions.join("、")
        );
        out_alerts.push(al);
    }
    Ok(())
}

fn product_names(products: &DataFrame) -> Result<BTreeMap<String, String>> {
    let s = Cols(products, "products");
    let (id, name) = (s.str(col::PRODUCT_ID)?, s.str(col::NAME)?);
    Ok((0..products.height())
        .filter_map(|i| Some((id.get(i)?.to_string(), name.get(i)?.to_string())))
        .collect())
}

fn rate_alerts(inp: &RuleInputs<'_>, cfg: &Alerts, out_alerts: &mut Vec<Alert>) -> Result<()> {
    let s = Cols(inp.rates, "rates");
    let (level, region, rname, class) = (
        s.str(col::LEVEL)?,
        s.str(col::REGION)?,
        s.str(col::REGION_NAME)?,
        s.str(col::CLASS)?,
    );
    let on_track = s.bool(col::ON_TRACK)?;
    let (ann, target, att) = (
        s.f64(col::ANNUALIZED_PER_MILLION)?,
        s.f64(col::TARGET_PER_MILLION)?,
        s.f64(col::ATTAINMENT)?,
    );
    let (s_nos, s_ser) = (
        s.f64(col::SENTINEL_NEW_OR_SERIOUS_SHARE)?,
        s.f64(col::SENTINEL_SERIOUS_SHARE)?,
    );
    let (nos_t, ser_t) = (
        s.f64(col::NEW_OR_SERIOUS_TARGET)?,
        s.f64(col::SERIOUS_TARGET)?,
    );
    let (nos_met, ser_met) = (
        s.bool(col::SENTINEL_NEW_OR_SERIOUS_MET)?,
        s.bool(col::SENTINEL_SERIOUS_MET)?,
    );
    let sentinel = s.f64(col::SENTINEL_REPORTS)?;
    let reports = s.f64(col::REPORTS)?;
    for i in 0..inp.rates.height() {
        let (Some(l), Some(r), Some(c)) = (level.get(i), region.get(i), class.get(i)) else {
            continue;
        };
        let place = match rname.get(i) {
            Some(n) => format!("{n} ({r})"),
            None => r.to_string(),
        };
        let g = |ca: &Float64Chunked| ca.get(i).unwrap_or(f64::NAN);
        if cfg.rate_below_target && on_track.get(i) == Some(false) {
            let mut al = base(
                Kind::RateBelowTarget,
                Priority::P3,
                inp.period,
                c,
                alert_id("rate", &[l, r, c]),
            );
            al.region = Some(r.to_string());
            al.rule = "attainment >= 1 (annualized_per_million / target_per_million)".to_string();
            al.threshold = 1.0;
            al.value = g(&att);
            for (k, v) in [
                ("reports", g(&reports)),
                ("annualized_per_million", g(&ann)),
                ("target_per_million", g(&target)),
                ("attainment", g(&att)),
            ] {
                al.numbers.insert(k.into(), json!(v));
            }
            al.numbers.insert("level".into(), json!(l));
            al.message_en = format!(
                "Reporting rate below target: {place}, {c}: {} reports per million population (annualised) against a target of {}: {} attained.",
                num(g(&ann), 1),
                num(g(&target), 0),
                pct(g(&att))
            );
            al.message_zh = format!(
                "报告率未达标：{place}，{}每百万人口平均报告数（年化）{}，目标 {}，完成 {}。",
                class_zh(c),
                num(g(&ann), 1),
                num(g(&target), 0),
                pct(g(&att))
            );
            out_alerts.push(al);
        }
        let below = nos_met.get(i) == Some(false) || ser_met.get(i) == Some(false);
        if cfg.sentinel_quality_below_target && below {
            let mut al = base(
                Kind::SentinelQualityBelowTarget,
                Priority::P3,
                inp.period,
                c,
                alert_id("sentinel", &[l, r, c]),
            );
            al.region = Some(r.to_string());
            let nos_low = nos_met.get(i) == Some(false);
            al.rule = if nos_low {
                "sentinel_new_or_serious_share >= new_or_serious_target".to_string()
            } else {
                "sentinel_serious_share >= serious_target".to_string()
            };
            al.threshold = if nos_low { g(&nos_t) } else { g(&ser_t) };
            al.value = if nos_low { g(&s_nos) } else { g(&s_ser) };
            for (k, v) in [
                ("sentinel_reports", g(&sentinel)),
                ("sentinel_new_or_serious_share", g(&s_nos)),
                ("new_or_serious_target", g(&nos_t)),
                ("sentinel_serious_share", g(&s_ser)),
                ("serious_target", g(&ser_t)),
            ] {
                al.numbers.insert(k.into(), json!(v));
            }
            al.numbers.insert("level".into(), json!(l));
            al.message_en = format!(
                "Sentinel-hospital report quality below target: {place}, {c}: new-or-serious share {} (target {}), serious share {} (target {}), of {} sentinel reports.",
                pct(g(&s_nos)),
                pct(g(&nos_t)),
                pct(g(&s_ser)),
                pct(g(&ser_t)),
                num(g(&sentinel), 0)
            );
            al.message_zh = format!(
                "哨点医院报告质量未达标：{place}，{}新的和严重报告比例 {}（目标 {}），严重报告比例 {}（目标 {}），哨点报告 {} 份。",
                class_zh(c),
                pct(g(&s_nos)),
                pct(g(&nos_t)),
                pct(g(&s_ser)),
                pct(g(&ser_t)),
                num(g(&sentinel), 0)
            );
            out_alerts.push(al);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(days: &[i32]) -> Vec<Hit> {
        days.iter()
            .enumerate()
            .map(|(i, d)| Hit {
                day: *d,
                case: format!("C{i}"),
                region: "330100".into(),
            })
            .collect()
    }

    #[test]
    fn best_window_counts_cases_within_w_days_touching_the_period() {
        // Days 0, 3, 6 are within 7 days (0..=6); day 7 is not with day 0.
        let h = hits(&[0, 3, 6, 7, 30]);
        assert_eq!(best_window(&h, 7, 0, 100), Some((0, 2)));
        // The window must include a case in the period [20, 40]: only day 30 does.
        assert_eq!(best_window(&h, 7, 20, 40), Some((4, 4)));
        // A window of 8 days holds 0, 3, 6, 7.
        assert_eq!(best_window(&h, 8, 0, 100), Some((0, 3)));
        assert_eq!(best_window(&h, 7, 50, 60), None);
    }

    #[test]
    fn tiers() {
        assert_eq!(
            (
                eb05_tier(1.9),
                eb05_tier(2.0),
                eb05_tier(4.1),
                eb05_tier(9.0)
            ),
            (0, 1, 2, 3)
        );
    }
}
