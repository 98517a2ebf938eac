//! pvwatch: a batch pipeline for pharmacovigilance signal monitoring.
//!
//! A run reads a pipeline file ([`config`]) and goes through its stages in order:
//!
//! 1. [`ingest`]: load and check the input tables, keep the latest version of each case,
//!    account for every row read (`read = used + superseded + rejected`);
//! 2. [`rates`]: reporting rates per million population against the regulators' targets;
//! 3. [`signals`]: disproportionality statistics (PRR, ROR, IC, EBGM) for the watched
//!    products, against each class's whole background (or only the cases in [`scope`],
//!    with `signals.background = "scope"`);
//! 4. [`alerts`]: rules → alerts for monitoring staff, with their status against the
//!    previous run; [`screening`]: the post-market risk screening list; both, and the case
//!    table, see only the cases in the pipeline's [`scope`];
//! 5. [`output`]: write the period's tables into a staging folder and publish it atomically.
//!
//! Every stage takes frames and returns frames; only `ingest` reads files and only
//! `output` writes them.

pub mod accounting;
pub mod alerts;
mod case_table_writer;
pub mod cases;
pub mod catalog;
pub mod config;
pub mod convert;
pub mod decisions;
pub mod error;
mod files;
pub mod ingest;
pub mod memory;
pub mod notify;
pub mod output;
pub mod period;
pub mod plausible;
pub mod progress;
pub mod rates;
mod readable;
mod records;
pub mod regions;
pub mod reject_text;
pub mod review;
pub mod review_db;
pub mod schema;
pub mod scope;
pub mod screening;
pub mod serve;
pub mod sheets;
pub mod signals;
pub mod summary;
pub mod terms;
pub mod topic_state;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polars::prelude::DataFrame;

pub use config::{Lang, Pipeline};
use error::PolarsContext;
pub use error::{Error, Result};
pub use period::Period;
use progress::thousands;
pub use progress::Progress;

use accounting::TableAccount;
use ingest::Dataset;
use output::OutputFile;

/// Options of one run: what the command line may change.
#[derive(Clone)]
pub struct RunOptions {
    pub period: Option<Period>,
    pub out: Option<PathBuf>,
    pub lang: Option<Lang>,
    pub progress: Progress,
    /// Do not read the previous run (`--no-previous`): statuses as in a first batch. The
    /// way on when an earlier period's outputs are damaged.
    pub no_previous: bool,
    /// The topics of the signal tracking log (the review app's database), applied to the
    /// alerts ([`decisions`]) and written to `signal_log.parquet`. Empty: a run as before
    /// topics existed (no alert suppressed, every `topic_id` null, an empty log).
    pub decisions: Vec<decisions::TopicRecord>,
    /// When a signal closed as refuted or labelled is raised again.
    pub reopen: decisions::ReopenRule,
    /// Where `decisions` came from (the review database, or `--no-decisions`), recorded
    /// in the manifest as `review_database`; `None` (a library caller that passed topics
    /// itself) leaves the key out.
    pub decisions_source: Option<review_db::batch::TopicsSource>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            period: None,
            out: None,
            lang: None,
            progress: Progress::hidden(),
            no_previous: false,
            decisions: Vec::new(),
            reopen: decisions::ReopenRule::default(),
            decisions_source: None,
        }
    }
}

/// Time spent in each stage.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub ingest_ms: u64,
    pub rates_ms: u64,
    pub signals_ms: u64,
    pub alerts_ms: u64,
    pub write_ms: u64,
    pub total_ms: u64,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Totals of the row accounting over every input table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowTotals {
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    pub rejected: u64,
}

impl RowTotals {
    pub fn of(tables: &[TableAccount]) -> RowTotals {
        tables.iter().fold(RowTotals::default(), |t, a| RowTotals {
            read: t.read + a.read,
            used: t.used + a.used,
            superseded: t.superseded + a.superseded,
            rejected: t.rejected + a.rejected,
        })
    }
}

/// Headline figures of the rates table, for the summary.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RatesHeadline {
    pub rows: u64,
    pub cases_in_period: u64,
    pub with_target: u64,
    pub on_track: u64,
}

impl RatesHeadline {
    fn of(rates: &DataFrame, levels: &[config::Level]) -> RatesHeadline {
        let get = |name: &str| rates.column(name).ok();
        let level = get(schema::col::LEVEL).and_then(|c| c.str().ok().cloned());
        let reports = get(schema::col::REPORTS).and_then(|c| c.i64().ok().cloned());
        let on_track = get(schema::col::ON_TRACK).and_then(|c| c.bool().ok().cloned());
        let mut h = RatesHeadline {
            rows: rates.height() as u64,
            ..Default::default()
        };
        // Count cases once, at the coarsest level of the table.
        let top = levels.first().map(|l| l.as_str());
        for row in 0..rates.height() {
            let at_top = level.as_ref().and_then(|l| l.get(row)) == top;
            if at_top {
                h.cases_in_period += reports.as_ref().and_then(|r| r.get(row)).unwrap_or(0) as u64;
            }
            match on_track.as_ref().and_then(|o| o.get(row)) {
                Some(true) => {
                    h.with_target += 1;
                    h.on_track += 1;
                }
                Some(false) => h.with_target += 1,
                None => {}
            }
        }
        h
    }
}

/// Headline figures of the signals table, for the summary and the manifest.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SignalsHeadline {
    /// Product × event pairs with a ≥ 1 in all backgrounds (every product).
    pub pairs_counted: u64,
    /// Rows of `signals.parquet` (watched products only).
    pub watched_pairs: u64,
    /// Watched pairs with `is_signal`.
    pub signals: u64,
    pub priors: Vec<signals::PriorReport>,
}

/// Headline figures of the alerts, for the summary and the manifest.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AlertsHeadline {
    /// The period of the previous run the statuses compare with, if any.
    pub previous_period: Option<String>,
    /// Whether the previous run was not read (`--no-previous`): every alert is then new
    /// and nothing is resolved, as in a first batch.
    pub previous_skipped: bool,
    pub total: u64,
    /// Alerts not resolved, by priority P0..P3; in the manifest a keyed object
    /// (`{"P0": 5, "P1": 0, …}`), so that a reader never depends on the order.
    #[serde(serialize_with = "by_priority")]
    pub open_by_priority: [u64; 4],
    /// By status: new, reopened, escalated, ongoing, resolved (the order of
    /// [`alerts::Status`]); keyed in the manifest as well.
    #[serde(serialize_with = "by_status")]
    pub by_status: [u64; 5],
    /// By kind, e.g. `new_signal: 12`.
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// Signal alerts not raised because their topic was closed as refuted or labelled and
    /// the evidence has not grown past the reopen rule; each is listed in
    /// `suppressed_alerts` with its topic, so that nothing disappears silently.
    pub suppressed_by_decision: u64,
    pub suppressed_alerts: Vec<decisions::SuppressedAlert>,
}

/// Counts as an object keyed by `keys`, in order (`{"P0": 5, "P1": 0, …}`).
fn keyed<S: serde::Serializer>(
    keys: &[&str],
    counts: &[u64],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(counts.len()))?;
    for (k, v) in keys.iter().zip(counts) {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

fn by_priority<S: serde::Serializer>(
    counts: &[u64; 4],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    keyed(&["P0", "P1", "P2", "P3"], counts, s)
}

fn by_status<S: serde::Serializer>(
    counts: &[u64; 5],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    keyed(
        &["new", "reopened", "escalated", "ongoing", "resolved"],
        counts,
        s,
    )
}

impl AlertsHeadline {
    /// The alerts stage's line on the terminal.
    fn stage_detail(&self) -> String {
        format!(
            "P0 {}, P1 {}, P2 {}, P3 {} open; {} new, {} reopened, {} escalated, {} resolved; {} suppressed by decisions",
            self.open_by_priority[0],
            self.open_by_priority[1],
            self.open_by_priority[2],
            self.open_by_priority[3],
            self.by_status[0],
            self.by_status[1],
            self.by_status[2],
            self.by_status[4],
            self.suppressed_by_decision,
        )
    }

    fn of(
        alerts: &[alerts::Alert],
        previous_period: Option<String>,
        previous_skipped: bool,
        suppressed: Vec<decisions::SuppressedAlert>,
    ) -> AlertsHeadline {
        let mut h = AlertsHeadline {
            previous_period,
            previous_skipped,
            total: alerts.len() as u64,
            suppressed_by_decision: suppressed.len() as u64,
            suppressed_alerts: suppressed,
            ..Default::default()
        };
        for a in alerts {
            if a.status != alerts::Status::Resolved {
                h.open_by_priority[a.priority as usize] += 1;
            }
            h.by_status[a.status as usize] += 1;
            *h.by_kind.entry(a.kind.as_str().to_string()).or_default() += 1;
        }
        h
    }
}

/// What a run did, for the summary paragraph and the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub pipeline: String,
    pub period: String,
    pub lang: &'static str,
    pub output: PathBuf,
    pub rows: RowTotals,
    pub inputs: Vec<TableAccount>,
    /// The conversion of a real-world source (`[inputs.source]`), if any.
    pub conversion: Option<ingest::ConversionReport>,
    pub rates: RatesHeadline,
    pub signals: SignalsHeadline,
    pub alerts: AlertsHeadline,
    pub outputs: Vec<OutputFile>,
    pub timings: Timings,
}

/// The manifest written beside the outputs.
#[derive(Debug, serde::Serialize)]
struct Manifest<'a> {
    pvwatch_version: &'static str,
    pipeline: ManifestPipeline<'a>,
    period: String,
    period_start: String,
    period_end: String,
    data_cutoff: Option<String>,
    lang: &'static str,
    /// The jurisdiction: `regions` (null: every region) and the signals' background.
    scope: &'a scope::Scope,
    started_at: String,
    rows: RowTotals,
    inputs: &'a [TableAccount],
    /// The conversion of a real-world source (`[inputs.source]`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion: Option<&'a ingest::ConversionReport>,
    signals: &'a SignalsHeadline,
    /// `[terms]`: the MedDRA version (and the previous run's) and the unmapped terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    terms: Option<&'a terms::TermsReport>,
    alerts: &'a AlertsHeadline,
    /// The review database the topics were read from, and how many (no password).
    #[serde(skip_serializing_if = "Option::is_none")]
    review_database: Option<&'a review_db::batch::TopicsSource>,
    /// Webhook deliveries; written after the outputs are published (empty until then).
    notify: &'a [notify::Delivery],
    timings_ms: &'a Timings,
    /// Peak resident memory of the run when the manifest was written (Linux), bytes.
    peak_memory_bytes: Option<u64>,
    outputs: &'a [OutputFile],
}

#[derive(Debug, serde::Serialize)]
struct ManifestPipeline<'a> {
    name: &'a str,
    file: String,
    sha256: &'a str,
}

/// Run a pipeline end to end and publish its outputs under `<out>/period=<label>/`.
pub fn run(pipeline: &Pipeline, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let period = opts.period.unwrap_or(pipeline.period);
    let out_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| pipeline.output_dir.clone());
    let lang = opts.lang.unwrap_or(pipeline.lang);
    let mut timings = Timings::default();

    // Before any work: recovers what an interrupted run left (an earlier period's outputs
    // set aside included, so the previous run below finds them), refuses a period folder
    // that is not pvwatch's, and fails at once on an unusable output folder.
    let mut staging = output::Staging::create(&out_dir, &output::period_folder(&period))?;
    // Read (and check) the previous run first: a damaged one fails in a second, not after
    // all the computing.
    let previous = if opts.no_previous {
        None
    } else {
        ingest::previous::load_previous(&out_dir, &pipeline.name, &period)?
    };
    let release = terms::load_release(pipeline)?;
    let (mut data, conversion) = load(pipeline, &period, &opts.progress, &mut timings)?;
    let (term_index, mut terms_report) = terms::index_for_run(pipeline, release, &data)?;
    if let (Some(r), Some(prev)) = (terms_report.as_mut(), previous.as_ref()) {
        r.compare_with_previous(&prev.dir);
    }
    // Each case's completeness score, read by rates (well-documented shares) and the case
    // table.
    let completeness =
        progress::timed("ingest: completeness scores", || cases::completeness(&data))?;
    data.cases
        .with_column(completeness)
        .context(|| "cases: adding completeness scores".to_string())?;

    let stage = opts.progress.stage("rates");
    let rates = rates::compute_rates(
        &data.cases,
        &data.populations,
        &pipeline.rates,
        &period,
        data.data_cutoff,
    )?;
    timings.rates_ms = ms(stage.finish(rates.height() as u64, "region × class rows", ""));

    // The cases in scope: what alerts, the screening list and the case table see (rates
    // already cover only the scope's regions, as `rates.regions` defaults to it).
    let scoped = progress::timed("scope: cases in scope", || {
        scope::scope_dataset(&data, &pipeline.scope)
    })?;
    let in_scope = scoped.as_ref().unwrap_or(&data);
    let background = match pipeline.scope.background {
        scope::Background::All => &data,
        scope::Background::Scope => in_scope,
    };

    // The case table needs only the cases in scope: it is written on another thread while
    // the signals and alerts are computed (`case_table_writer`), and stopped if they fail.
    let stop_case_table = std::sync::atomic::AtomicBool::new(false);
    let case_table_files = staging.files();
    let (signals_headline, alerts_headline, alert_list) =
        std::thread::scope(|scope| -> Result<_> {
            let _stop = case_table_writer::StopOnDrop(&stop_case_table);
            // Checked before the writer starts: the budget counts both at once.
            check_signals_memory(pipeline, background)?;
            let case_table = case_table_writer::start(
                scope,
                case_table_files,
                in_scope,
                &pipeline.signals,
                &period,
                &stop_case_table,
            );
            let stage = opts.progress.stage("signals");
            let mut sig = signals::compute_signals_with(
                background,
                &pipeline.signals,
                &period,
                term_index.as_ref(),
            )?;
            let flagged = sig
                .table
                .column(signals::out::IS_SIGNAL)
                .ok()
                .and_then(|c| c.bool().ok().map(|b| b.sum().unwrap_or(0) as u64))
                .unwrap_or(0);
            let signals_headline = SignalsHeadline {
                pairs_counted: sig.pairs_counted,
                watched_pairs: sig.table.height() as u64,
                signals: flagged,
                priors: sig.priors.clone(),
            };
            let detail = format!(
                "{} pairs counted, {} signals",
                thousands(sig.pairs_counted),
                thousands(flagged)
            );
            timings.signals_ms =
                ms(stage.finish(sig.table.height() as u64, "watched pairs", &detail));

            let stage = opts.progress.stage("alerts");
            let previous_alerts = previous.as_ref().map(|p| p.alerts.as_slice());
            // A signal counted over a wider background alerts the jurisdiction only when one of its
            // own cases has the pair.
            let alerted_signals = match (&scoped, pipeline.scope.background) {
                (Some(s), scope::Background::All) => {
                    progress::timed("scope: signals with a case in scope", || {
                        match (&term_index, &pipeline.signals.levels) {
                            (Some(index), Some(levels)) => {
                                signals::levels::with_cases_in_scope(&sig.table, s, index, levels)
                            }
                            _ => scope::signals_with_cases_in_scope(&sig.table, s),
                        }
                    })?
                }
                _ => sig.table.clone(),
            };
            let fired = alerts::evaluate_rules(
                &alerts::RuleInputs {
                    period: &period,
                    cases: &in_scope.cases,
                    case_products: &in_scope.case_products,
                    products: &in_scope.products,
                    rates: &rates,
                    signals: &alerted_signals,
                    signals_cfg: &pipeline.signals,
                    previous: previous_alerts,
                },
                &pipeline.alerts,
            )?;
            drop(alerted_signals);
            let compared = progress::timed("alerts: statuses against the previous run", || {
                alerts::compare_with_previous(fired, previous_alerts, &period.to_string())
            });
            let decided = progress::timed("alerts: decisions of the tracking log", || {
                decisions::apply_decisions(compared, &opts.decisions, previous_alerts, &opts.reopen)
            });
            let mut alert_list = decided.alerts;
            alerts::settle_due_dates(
                &mut alert_list,
                previous_alerts,
                data.data_cutoff
                    .unwrap_or_else(|| cutoff(pipeline, &period)),
            );
            let screening = progress::timed("alerts: screening list", || {
                screening::compute_screening(
                    in_scope,
                    &sig.table,
                    &alert_list,
                    previous
                        .as_ref()
                        .map(|p| (p.period.as_str(), p.screening.as_ref())),
                    &pipeline.signals,
                    &period,
                )
            })?;
            let alerts_headline = AlertsHeadline::of(
                &alert_list,
                previous.as_ref().map(|p| p.period.clone()),
                opts.no_previous,
                decided.suppressed,
            );
            let detail = alerts_headline.stage_detail();
            timings.alerts_ms = ms(stage.finish(alert_list.len() as u64, "alerts", &detail));

            let stage = opts.progress.stage("write");
            staging.write_parquet("rates.parquet", &rates)?;
            // The page is rendered now, while another thread writes the signals and the
            // screening list (at 10m, 4.7 million rows and several seconds of one core each),
            // and written in its place below; the signals table, a third of the 1m run's
            // memory by then, is freed before the alerts' files are written.
            let tables = staging.files();
            let (tables_written, review_html) = std::thread::scope(|scope| {
                let written = scope.spawn(|| -> Result<_> {
                    Ok((
                        tables.write_parquet("signals.parquet", &sig.table)?,
                        tables.write_parquet("screening.parquet", &screening)?,
                    ))
                });
                let review_html = review::render_review(
                    &review::ReviewData {
                        pipeline: &pipeline.name,
                        period: &period.to_string(),
                        previous_period: previous.as_ref().map(|p| p.period.as_str()),
                        generated_at: &started_at,
                        alerts: &alert_list,
                        rates: &rates,
                        signals: &sig.table,
                        screening: &screening,
                        inputs: &data.tables,
                        rejects: data.rejects.len(),
                        conversion: conversion.as_ref(),
                        page_limit: pipeline.alerts.page_limit,
                        priors: &sig.priors,
                        terms: terms_report.as_ref(),
                    },
                    lang,
                );
                let written = written
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (written, review_html)
            });
            let (signals_written, screening_written) = tables_written?;
            staging.record_written(signals_written)?;
            staging.record_written(screening_written)?;
            drop(std::mem::take(&mut sig.table));
            // The case table, written on another thread since the cases in scope were known, is
            // recorded after the alerts' files are written.
            staging.write_alerts_alongside(&alert_list, |staging| case_table.finish(staging))?;
            let signal_log = decisions::log::signal_log_table(
                &opts.decisions,
                &decisions::log::product_names(&data.products),
                &period.to_string(),
            )?;
            staging.write_parquet(decisions::log::SIGNAL_LOG_PARQUET, &signal_log)?;
            staging.write_text("review.html", &review_html)?;
            staging.write_rejects("rejects.csv", &data.rejects)?;
            let write_elapsed = stage.finish(staging.written.len() as u64, "files", "");
            timings.write_ms = ms(write_elapsed);
            Ok((signals_headline, alerts_headline, alert_list))
        })?;
    timings.total_ms = ms(started.elapsed());

    let rows = RowTotals::of(&data.tables);
    let outputs = staging.written.clone();
    let manifest = Manifest {
        pvwatch_version: env!("CARGO_PKG_VERSION"),
        pipeline: ManifestPipeline {
            name: &pipeline.name,
            file: pipeline.file.display().to_string(),
            sha256: &pipeline.sha256,
        },
        period: period.to_string(),
        period_start: period.start().to_string(),
        period_end: period.end().to_string(),
        data_cutoff: data.data_cutoff.map(|d| d.to_string()),
        lang: lang.code(),
        scope: &pipeline.scope,
        started_at,
        rows,
        inputs: &data.tables,
        conversion: conversion.as_ref(),
        signals: &signals_headline,
        terms: terms_report.as_ref(),
        alerts: &alerts_headline,
        review_database: opts.decisions_source.as_ref(),
        notify: &[],
        timings_ms: &timings,
        peak_memory_bytes: memory::peak_rss_bytes(),
        outputs: &outputs,
    };
    staging.write_json(output::MANIFEST, &manifest)?;
    let output = staging.publish()?;

    // Webhooks go out only once the outputs are in place, so a rerun after a failed
    // publish does not notify twice; a failed delivery is recorded, never fatal.
    let deliveries = deliver(pipeline, &alert_list, &period.to_string());
    if !deliveries.is_empty() {
        let manifest = Manifest {
            notify: &deliveries,
            ..manifest
        };
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::io(output.join(output::MANIFEST), std::io::Error::other(e)))?;
        output::replace_file(&output, output::MANIFEST, &(text + "\n"))?;
    }

    Ok(RunSummary {
        pipeline: pipeline.name.clone(),
        period: period.to_string(),
        lang: lang.code(),
        output,
        rows,
        inputs: data.tables,
        conversion: conversion.clone(),
        rates: RatesHeadline::of(&rates, &pipeline.rates.levels),
        signals: signals_headline,
        alerts: alerts_headline,
        outputs,
        timings,
    })
}

/// Stop before counting when the case × product × event rows, or later the case table's
/// chunks, would not fit in memory. The rows are estimated as products × events / cases
/// (rows of latest versions).
fn check_signals_memory(pipeline: &Pipeline, data: &Dataset) -> Result<()> {
    let cases = data.cases.height().max(1) as f64;
    let rows =
        (data.case_products.height() as f64 * data.case_events.height() as f64 / cases) as u64;
    let budget = memory::Budget::new(pipeline.max_memory_gib);
    // The machine's available memory already leaves out what this process holds; a
    // pipeline's limit is for the whole process, so the loaded tables count against it.
    let held = match budget.source {
        memory::LimitSource::Pipeline => memory::dataset_bytes(
            data.cases.height(),
            data.case_products.height(),
            data.case_events.height(),
        ),
        _ => 0,
    };
    budget.check(
        "signals",
        || {
            format!(
                "counting about {} case × product × event rows",
                thousands(rows)
            )
        },
        // The case table is written while the pairs are counted (`case_table_writer`),
        // with the loaded tables held: the three at once.
        held + rows * memory::SIGNALS_BYTES_PER_PAIR_ROW
            + memory::case_table_bytes(
                data.cases.height(),
                cases::CHUNK_CASES * cases::CHUNKS_IN_MEMORY,
            ),
    )
}

/// POST the new and escalated alerts to the pipeline's `[[notify]]` targets.
fn deliver(pipeline: &Pipeline, alerts: &[alerts::Alert], period: &str) -> Vec<notify::Delivery> {
    if pipeline.notify.is_empty() {
        return Vec::new();
    }
    let targets: Vec<notify::NotifyTarget> = pipeline
        .notify
        .iter()
        .map(|n| notify::NotifyTarget {
            url: n.url.clone(),
            min_priority: n.min_priority,
            lang: n.lang,
            timeout: n.timeout,
            retries: n.retries,
        })
        .collect();
    let deliveries = notify::deliver(&targets, alerts, &pipeline.name, period);
    for d in &deliveries {
        tracing::info!(url = %d.url, alerts = d.alerts, attempts = d.attempts, ok = d.ok, "webhook delivery");
    }
    deliveries
}

type Loaded = (Dataset, Option<ingest::ConversionReport>);

/// The run's "as of" date: the end of the period, or `rates.as_of` when that is earlier.
/// Report versions received after it do not exist for the run (DESIGN.md, "As of the
/// period"), so rerunning a past period gives the same tables.
pub fn cutoff(pipeline: &Pipeline, period: &Period) -> chrono::NaiveDate {
    match pipeline.rates.as_of {
        Some(as_of) if as_of < period.end() => as_of,
        _ => period.end(),
    }
}

fn load(
    pipeline: &Pipeline,
    period: &Period,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<Loaded> {
    let stage = progress.stage("ingest");
    let (data, conversion) = ingest::load_inputs(pipeline, cutoff(pipeline, period), &stage)?;
    let rows = RowTotals::of(&data.tables);
    let detail = format!(
        "used {}, superseded {}, rejected {}",
        thousands(rows.used),
        thousands(rows.superseded),
        thousands(rows.rejected)
    );
    timings.ingest_ms = ms(stage.finish(rows.read, "rows read", &detail));
    for t in &data.tables {
        tracing::debug!(
            table = t.table,
            path = %t.path,
            read = t.read,
            used = t.used,
            superseded = t.superseded,
            rejected = t.rejected,
            "table loaded"
        );
    }
    Ok((data, conversion))
}

/// What `pvwatch validate` found.
#[derive(Debug, Clone)]
pub struct ValidateSummary {
    pub pipeline: String,
    pub inputs: Vec<TableAccount>,
    pub rejects: Vec<ingest::Reject>,
    /// Well-formed region codes of used cases that GB/T 2260 does not name (a new or
    /// retired division, or a typo with six digits), with their number of cases.
    pub unknown_regions: Vec<(String, u64)>,
}

/// Check the pipeline and every input as a run would, and write nothing.
pub fn validate(pipeline: &Pipeline, progress: &Progress) -> Result<ValidateSummary> {
    let mut timings = Timings::default();
    terms::load_release(pipeline)?;
    let (data, _) = load(pipeline, &pipeline.period, progress, &mut timings)?;
    let unknown_regions = unknown_regions(&data.cases)?;
    Ok(ValidateSummary {
        pipeline: pipeline.name.clone(),
        inputs: data.tables,
        rejects: data.rejects,
        unknown_regions,
    })
}

/// Region codes of the cases that have no name in GB/T 2260, with their number of cases.
fn unknown_regions(cases: &DataFrame) -> Result<Vec<(String, u64)>> {
    let regions = cases
        .column(schema::col::REGION)
        .and_then(|c| c.str().cloned())
        .context(|| "cases: region codes".to_string())?;
    let mut unknown = std::collections::BTreeMap::<String, u64>::new();
    for code in regions.iter().flatten() {
        if regions::name(code).is_none() {
            *unknown.entry(code.to_string()).or_default() += 1;
        }
    }
    Ok(unknown.into_iter().collect())
}
