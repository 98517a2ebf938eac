//! The `pvwatch` binary: argument parsing, logging, exit codes. The work is in the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use pvwatch::config::{mapping::Mapping, Format};
use pvwatch::{convert, error, summary, Lang, Period, Pipeline, Progress, RunOptions};

/// mimalloc rather than the system allocator: polars frees and reallocates large column
/// buffers on many threads, and glibc's per-thread arenas kept gigabytes of freed memory
/// resident at national scale (see README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_decommits` (its index in `mi_option_e` of the mimalloc v3
/// that `libmimalloc-sys` 0.1.49 builds; documented default 1).
const MI_OPTION_PURGE_DECOMMITS: std::ffi::c_int = 5;
/// mimalloc's `mi_option_purge_delay` (milliseconds before freed memory is purged;
/// documented default 1000 in v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
/// The purge delay of a run with ample headroom ([`choose_purge`]).
const AMPLE_HEADROOM_PURGE_DELAY_MS: std::ffi::c_long = 10_000;

extern "C" {
    // From mimalloc's `mimalloc.h`, linked by `libmimalloc-sys`.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// A run whose estimated peak is at most this share of the memory budget purges freed
/// memory by reset rather than decommit ([`choose_purge`]).
const RESET_UP_TO_SHARE_OF_BUDGET: u64 = 4;

/// Whether a run estimated to need `needed` bytes at its peak, under a budget of `limit`
/// bytes, purges by reset: only with ample headroom (a quarter of the budget or less).
fn purge_by_reset(needed: u64, limit: u64) -> bool {
    needed.saturating_mul(RESET_UP_TO_SHARE_OF_BUDGET) <= limit
}

/// Told by the library before a run loads its inputs ([`pvwatch::memory::on_headroom`]):
/// let mimalloc purge freed memory by resetting it (`MADV_FREE`: the kernel takes the
/// pages back only when it needs them) instead of decommitting it (`MADV_DONTNEED`) when
/// the run has ample headroom.
///
/// A run frees and reallocates column buffers of hundreds of megabytes stage after stage;
/// with decommit, every reuse faulted its pages in again and the kernel zeroed them (a
/// quarter of the 1m benchmark's CPU time was in `clear_page`). With reset, the 1m run's
/// page faults went from about 75,000 to 17,000 and its wall time from about 11.2 to 10.0
/// s, for 0–60 MB more peak RSS. But reset pages stay in the resident size until the
/// kernel wants them: the 25m run's measured peak rose from 9.66 to 11.82 GiB (for 6 s
/// less time), so a run estimated near its budget keeps decommit, mimalloc's default.
///
/// A run with ample headroom also purges late: 10 s after a free instead of 1 s, so
/// that the next stage reuses what the last one freed. Resetting a page of mimalloc's
/// huge-page-backed arenas splits the huge page, and reusing it faulted a fresh one in
/// and zeroed it: the 1m benchmark still spent 23% of its CPU in `clear_page_erms`. In
/// an A/B at 10m with every product watched, the 1 s delay took 63.7 s (24.4 s in the
/// kernel) and this one 50.3 s (13.5 s), both peaking at 8.1 GB; at 1m the difference
/// was inside the noise, with up to 0.1 GB more peak (README, "Performance").
/// `MIMALLOC_PURGE_DECOMMITS` and `MIMALLOC_PURGE_DELAY` in the environment always win.
fn choose_purge(needed: u64, limit: u64) {
    let reset = purge_by_reset(needed, limit);
    if std::env::var_os("MIMALLOC_PURGE_DECOMMITS").is_none() {
        // SAFETY: sets one integer option of the allocator; 0 and 1 are its valid values.
        unsafe { mi_option_set(MI_OPTION_PURGE_DECOMMITS, std::ffi::c_long::from(!reset)) };
    }
    if reset && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator: a delay in milliseconds.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, AMPLE_HEADROOM_PURGE_DELAY_MS) };
    }
}

/// Pharmacovigilance signal monitoring: reporting rates against targets, from case reports.
#[derive(Parser)]
#[command(name = "pvwatch", version, about, max_term_width = 100)]
struct Cli {
    /// Print nothing but errors: no progress, no logs, no summary.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More log detail (-v debug, -vv trace). `PVWATCH_LOG` takes a tracing filter instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline and write its outputs to <output dir>/period=<period>/.
    Run {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Period to run: `2025`, `2025-Q3` or `2025-07` (default: the pipeline's).
        #[arg(long, value_parser = parse_period)]
        period: Option<Period>,
        /// Output folder, instead of the pipeline's `output_dir`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Language of the summary and messages (default: the pipeline's `lang`, else en).
        #[arg(long, value_enum)]
        lang: Option<Lang>,
        /// Do not read the previous period's outputs: alert statuses as in a first batch
        /// (the way on when an earlier period's outputs are damaged; the manifest says so).
        #[arg(long)]
        no_previous: bool,
        /// Do not read the review database: no reviewer's decision applies, every signal
        /// alerts as if untracked (the way on when the database is down; the manifest says so).
        #[arg(long)]
        no_decisions: bool,
    },
    /// Check a pipeline file and every input it names; write nothing.
    Validate {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Language of the report (default: the pipeline's `lang`, else en).
        #[arg(long, value_enum)]
        lang: Option<Lang>,
    },
    /// Convert a real-world source (FAERS, E2B(R3), flat export) into canonical tables.
    Convert {
        /// Source format.
        #[arg(long, value_enum)]
        from: Format,
        /// FAERS: the folder of a quarter's ASCII files; E2B: an .xml file or folder; flat: a CSV file.
        src: PathBuf,
        /// Output folder (created, or replaced if it holds a previous conversion).
        #[arg(long)]
        out: PathBuf,
        /// Region code for every report (required for faers and e2b; the default for flat).
        #[arg(long)]
        region: Option<String>,
        /// Class of every report (the default for flat).
        #[arg(long, value_parser = ["drug", "device", "cosmetic"], default_value = "drug")]
        class: String,
        /// Column and value mapping of a flat export (TOML).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Strip dose text from product names (`LIPITOR 20 MG` -> `LIPITOR`).
        #[arg(long)]
        strip_dose: bool,
        /// Largest E2B XML file read, in bytes.
        #[arg(long, default_value_t = convert::DEFAULT_MAX_XML_BYTES)]
        max_xml_bytes: u64,
        /// Stop (exit 3) when a source file has more than this fraction of rows rejected.
        #[arg(long, default_value_t = pvwatch::config::DEFAULT_MAX_REJECTED_FRACTION, value_parser = parse_fraction)]
        max_rejected_fraction: f64,
        /// FAERS parts that may be missing (`outc`: seriousness and death then null, unknown).
        #[arg(long, value_delimiter = ',', value_parser = ["outc"])]
        allow_missing: Vec<String>,
        /// Last plausible report date, YYYY-MM-DD (default: today in UTC+8).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
    },
    /// Serve the review app over the pipeline's published periods and review database.
    Serve {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Address to listen on (port 0: any free port; the address is printed).
        #[arg(long, default_value = pvwatch::serve::DEFAULT_ADDR)]
        addr: std::net::SocketAddr,
        /// Mark the session cookie `Secure` (TLS terminated by a reverse proxy).
        #[arg(long)]
        secure_cookies: bool,
    },
    /// Manage the review app's users in the pipeline's review database.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (then set their password with `user passwd`).
    Add {
        /// The pipeline file (TOML); it names the database.
        pipeline: PathBuf,
        /// The login name.
        name: String,
        /// What the user may do.
        #[arg(long, value_parser = ["admin", "reviewer", "viewer"])]
        role: String,
        /// GB/T 2260 code of the region the user sees (default: the pipeline's whole scope).
        #[arg(long)]
        region: Option<String>,
    },
    /// Set a user's password: asked on the terminal, or one line on stdin (never an argument).
    Passwd { pipeline: PathBuf, name: String },
    /// Print a new API token for a user (shown once; stored only as a hash).
    Token { pipeline: PathBuf, name: String },
    /// List users: name, role, region, created.
    List { pipeline: PathBuf },
    /// Remove a user with their sessions and tokens.
    Remove { pipeline: PathBuf, name: String },
}

impl UserCommand {
    fn split(&self) -> (&std::path::Path, pvwatch::review_db::cli::UserAction) {
        use pvwatch::review_db::cli::UserAction as A;
        match self {
            UserCommand::Add {
                pipeline,
                name,
                role,
                region,
            } => (
                pipeline,
                A::Add {
                    name: name.clone(),
                    role: role.clone(),
                    region: region.clone(),
                },
            ),
            UserCommand::Passwd { pipeline, name } => (pipeline, A::Passwd { name: name.clone() }),
            UserCommand::Token { pipeline, name } => (pipeline, A::Token { name: name.clone() }),
            UserCommand::List { pipeline } => (pipeline, A::List),
            UserCommand::Remove { pipeline, name } => (pipeline, A::Remove { name: name.clone() }),
        }
    }
}

/// `pvwatch user …`: one small async job on a current-thread runtime.
fn run_user_command(command: &UserCommand, quiet: bool) -> pvwatch::Result<()> {
    let (file, action) = command.split();
    let pipeline = Pipeline::load(file)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| pvwatch::Error::io("tokio runtime", e))?;
    let text = runtime.block_on(pvwatch::review_db::cli::run_user(&pipeline, &action))?;
    // A token is the command's output even under --quiet.
    if !quiet || matches!(action, pvwatch::review_db::cli::UserAction::Token { .. }) {
        say(&text);
    }
    Ok(())
}

/// `pvwatch serve`: prints the address, serves until SIGINT or SIGTERM, then stops cleanly.
fn run_serve(
    file: &std::path::Path,
    addr: std::net::SocketAddr,
    secure: bool,
) -> pvwatch::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let pipeline = Pipeline::load(file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| pvwatch::Error::io("tokio runtime", e))?;
    // std's channel, waited on by a blocking task: no tokio feature beyond those enabled.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| pvwatch::Error::io("signal handlers", e))?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = tx.send(());
        }
    });
    let opts = pvwatch::serve::ServeOptions {
        addr,
        secure_cookies: secure,
    };
    let result = runtime.block_on(pvwatch::serve::serve(
        &pipeline,
        &opts,
        |bound| say(&format!("pvwatch serve: listening on http://{bound}")),
        async {
            let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
        },
    ));
    // The task waiting for a signal may still be blocked: do not wait for it.
    runtime.shutdown_background();
    result
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("expected a fraction from 0 to 1, found `{s}`")),
    }
}

fn parse_period(s: &str) -> Result<Period, String> {
    s.parse::<Period>().map_err(|e| e.to_string())
}

fn init_logging(cli: &Cli, bars: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (cli.quiet, cli.verbose, bars) {
        (true, _, _) => "error",
        (false, 0, true) => "warn",
        (false, 0, false) => "info",
        (false, 1, _) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("PVWATCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("pvwatch={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match cli.log_format {
        LogFormat::Text => builder.with_ansi(bars).init(),
        // `span` holds the fields of the command's span (`pipeline`, `period`: see
        // `command_span`); the list of nested spans would only repeat them.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// The span entered for the whole command, so that every log line of a run carries the
/// pipeline's name and the period (the JSON lines as `span.pipeline`, `span.period`). Both
/// are recorded once the pipeline file has been read. The span is at ERROR level so that
/// every filter that lets a line through enables it (`--quiet` keeps the error record).
fn command_span(command: &Command) -> tracing::Span {
    use tracing::field::Empty;
    use tracing::Level;
    match command {
        Command::Run { .. } => {
            tracing::span!(Level::ERROR, "run", pipeline = Empty, period = Empty)
        }
        Command::Validate { .. } => {
            tracing::span!(Level::ERROR, "validate", pipeline = Empty, period = Empty)
        }
        Command::Convert { .. } => tracing::span!(Level::ERROR, "convert"),
        Command::User { .. } => tracing::span!(Level::ERROR, "user"),
        Command::Serve { .. } => tracing::span!(Level::ERROR, "serve"),
    }
}

/// The command's name, for its last log line (`run finished`).
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Run { .. } => "run",
        Command::Validate { .. } => "validate",
        Command::Convert { .. } => "convert",
        Command::User { .. } => "user",
        Command::Serve { .. } => "serve",
    }
}

/// Name the pipeline and the period in the command's span.
fn record_run(span: &tracing::Span, pipeline: &Pipeline, period: &Period) {
    span.record("pipeline", pipeline.name.as_str());
    span.record("period", tracing::field::display(period));
}

/// The last log line of a successful run, for an orchestrator to parse: the exit code, the
/// output folder and files, row and alert counts, and the time of each stage.
fn log_run_finished(s: &pvwatch::RunSummary, started: Instant) {
    let files: Vec<&str> = s.outputs.iter().map(|o| o.file.as_str()).collect();
    tracing::info!(
        exit_code = 0,
        output = %s.output.display(),
        outputs = %files.join(","),
        rows_read = s.rows.read,
        rows_rejected = s.rows.rejected,
        alerts = s.alerts.total,
        ingest_ms = s.timings.ingest_ms,
        rates_ms = s.timings.rates_ms,
        signals_ms = s.timings.signals_ms,
        alerts_ms = s.timings.alerts_ms,
        write_ms = s.timings.write_ms,
        total_ms = s.timings.total_ms,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "run finished"
    );
}

/// SIGTERM (cron, systemd and Kubernetes on a timeout) and SIGINT (Ctrl-C) stop a run
/// cleanly: a thread removes the staging folders and exits with 128 + the signal's number
/// (143, 130), waiting for a publish under way so that a swap is never cut in half.
fn stop_cleanly_on_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                    pvwatch::output::stop_for_signal(name, 128 + sig);
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "signals not handled: a stopped run leaves its staging folder to the next run")
        }
    }
}

fn main() -> ExitCode {
    pvwatch::memory::on_headroom(choose_purge);
    let cli = Cli::parse();
    let bars = !cli.quiet && std::io::stderr().is_terminal();
    init_logging(&cli, bars);
    // `serve` stops on its own signals: it finishes the requests under way and closes
    // the database rather than exiting at once.
    if !matches!(cli.command, Command::Serve { .. }) {
        stop_cleanly_on_signals();
    }
    let progress = if bars {
        Progress::new(true)
    } else {
        Progress::hidden()
    };

    let started = Instant::now();
    let span = command_span(&cli.command);
    let _entered = span.enter();
    let result = match &cli.command {
        Command::Run {
            pipeline,
            period,
            out,
            lang,
            no_previous,
            no_decisions,
        } => Pipeline::load(pipeline).and_then(|p| {
            record_run(&span, &p, &period.unwrap_or(p.period));
            let decided = if *no_decisions {
                pvwatch::review_db::batch::BatchDecisions {
                    topics: Vec::new(),
                    reopen: pvwatch::review_db::batch::reopen_rule(&p),
                    source: pvwatch::review_db::batch::TopicsSource::skipped(),
                }
            } else {
                pvwatch::review_db::batch::read_decisions_blocking(&p)?
            };
            let opts = RunOptions {
                period: *period,
                out: out.clone(),
                lang: *lang,
                progress,
                no_previous: *no_previous,
                decisions: decided.topics,
                reopen: decided.reopen,
                decisions_source: Some(decided.source),
            };
            let s = pvwatch::run(&p, &opts)?;
            log_run_finished(&s, started);
            if !cli.quiet {
                say(&summary::run_paragraph(&s, lang.unwrap_or(p.lang)));
            }
            Ok(())
        }),
        Command::Validate { pipeline, lang } => Pipeline::load(pipeline).and_then(|p| {
            record_run(&span, &p, &p.period);
            let s = pvwatch::validate(&p, &progress)?;
            if !cli.quiet {
                say(&summary::validate_report(&s, lang.unwrap_or(p.lang)));
            }
            Ok(())
        }),
        Command::Convert {
            from,
            src,
            out,
            region,
            class,
            mapping,
            strip_dose,
            max_xml_bytes,
            max_rejected_fraction,
            allow_missing,
            today,
        } => convert_options(*from, region, class, mapping.as_deref(), *strip_dose).and_then(
            |mut opts| {
                opts.max_xml_bytes = *max_xml_bytes;
                opts.max_rejected_fraction = *max_rejected_fraction;
                opts.allow_missing = allow_missing.clone();
                opts.today = *today;
                let s = convert::run_convert(*from, src, out, &opts)?;
                if !cli.quiet {
                    say(&convert::summary_paragraph(&s));
                }
                Ok(())
            },
        ),
        Command::User { action } => run_user_command(action, cli.quiet),
        Command::Serve {
            pipeline,
            addr,
            secure_cookies,
        } => run_serve(pipeline, *addr, *secure_cookies),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            let code = e.exit_code();
            if matches!(cli.log_format, LogFormat::Json) {
                // Off a terminal an orchestrator reads JSON lines only: the error is the
                // last record, at ERROR so that `--quiet` keeps it.
                tracing::error!(
                    exit_code = code,
                    error = %text,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "{} finished",
                    command_name(&cli.command)
                );
                return ExitCode::from(code as u8);
            }
            // Indented lines continue the error above them (e.g. the first rejects).
            for line in text.lines() {
                if line.starts_with(' ') {
                    eprintln!("{line}");
                } else {
                    eprintln!("error: {line}");
                }
            }
            ExitCode::from(code as u8)
        }
    }
}

fn convert_options(
    from: Format,
    region: &Option<String>,
    class: &str,
    mapping: Option<&std::path::Path>,
    strip_dose: bool,
) -> pvwatch::Result<convert::Options> {
    let mapping = match (from, mapping) {
        (Format::Flat, Some(m)) => Some(Mapping::load(m, region.is_some())?),
        (Format::Flat, None) => {
            return Err(pvwatch::Error::input(
                "--mapping",
                "a flat export needs a column mapping file (--mapping FILE)",
            ))
        }
        (_, Some(m)) => {
            return Err(pvwatch::Error::input(
                m,
                "--mapping applies to --from flat only",
            ))
        }
        (_, None) => None,
    };
    Ok(convert::Options {
        region: region.clone(),
        class: pvwatch::schema::CLASSES
            .iter()
            .find(|c| **c == class)
            .copied()
            .unwrap_or("drug"),
        strip_dose,
        mapping,
        ..Default::default()
    })
}

// The exit codes are part of the contract; keep the binary's mapping in one place.
const _: () =
    assert!(error::EXIT_USAGE == 2 && error::EXIT_REJECTS == 3 && error::EXIT_FAILURE == 1);

/// Print a report to stdout. A reader that closed the pipe early (`pvwatch … | head`)
/// ends the output quietly, as in ripgrep, instead of a panic.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing to stdout: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    /// `MI_OPTION_PURGE_DECOMMITS` and `MI_OPTION_PURGE_DELAY` are the options mimalloc
    /// reads from `MIMALLOC_PURGE_DECOMMITS` and `MIMALLOC_PURGE_DELAY`: a fresh process
    /// with them set to 7 and 4321 reads those values at the indices (the first read of
    /// an option takes it from the environment).
    #[test]
    fn the_option_indices_are_mimallocs_purge_options() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::purge_options_from_the_environment",
                "--ignored",
            ])
            .env("MIMALLOC_PURGE_DECOMMITS", "7")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(stdout.contains("1 passed"), "{stdout}");
    }

    /// Reset only with a quarter of the budget or less: the benchmark's 1m and 10m runs
    /// (estimated 1.0 and 3.6 GiB of about 22 GiB available) reset, the 25m run (7.9 GiB)
    /// decommits; an unknown budget (`u64::MAX`) resets.
    #[test]
    fn reset_only_with_ample_headroom() {
        const GIB: u64 = 1 << 30;
        assert!(super::purge_by_reset(GIB, 22 * GIB));
        assert!(super::purge_by_reset(36 * GIB / 10, 22 * GIB));
        assert!(!super::purge_by_reset(79 * GIB / 10, 22 * GIB));
        assert!(super::purge_by_reset(4 * GIB, 16 * GIB));
        assert!(!super::purge_by_reset(4 * GIB + 1, 16 * GIB));
        assert!(super::purge_by_reset(u64::MAX / 2, u64::MAX));
        assert!(!super::purge_by_reset(u64::MAX, 1 << 40));
    }

    #[test]
    #[ignore = "run in a child process by the_option_indices_are_mimallocs_purge_options"]
    fn purge_options_from_the_environment() {
        // SAFETY: reads integer options of the allocator.
        let (decommits, delay) = unsafe {
            (
                super::mi_option_get(super::MI_OPTION_PURGE_DECOMMITS),
                super::mi_option_get(super::MI_OPTION_PURGE_DELAY),
            )
        };
        assert_eq!((decommits, delay), (7, 4321));
    }
}
