//! The `pvwatch` binary: argument parsing, logging, exit codes. The work is in the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use pvwatch::{error, summary, Lang, Period, Pipeline, Progress, RunOptions};

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
    /// Run a pipeline and write its outputs to <output dir>/<period>/.
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
    },
    /// Check a pipeline file and every input it names; write nothing.
    Validate {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
    },
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
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bars = !cli.quiet && std::io::stderr().is_terminal();
    init_logging(&cli, bars);
    let progress = if bars {
        Progress::new(true)
    } else {
        Progress::hidden()
    };

    let result = match &cli.command {
        Command::Run {
            pipeline,
            period,
            out,
            lang,
        } => Pipeline::load(pipeline).and_then(|p| {
            let opts = RunOptions {
                period: *period,
                out: out.clone(),
                lang: *lang,
                progress,
            };
            let s = pvwatch::run(&p, &opts)?;
            if !cli.quiet {
                println!("{}", summary::run_paragraph(&s, lang.unwrap_or(p.lang)));
            }
            Ok(())
        }),
        Command::Validate { pipeline } => Pipeline::load(pipeline).and_then(|p| {
            let s = pvwatch::validate(&p, &progress)?;
            if !cli.quiet {
                println!("{}", summary::validate_report(&s, p.lang));
            }
            Ok(())
        }),
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
            // Indented lines continue the error above them (e.g. the first rejects).
            for line in text.lines() {
                if line.starts_with(' ') {
                    eprintln!("{line}");
                } else {
                    eprintln!("error: {line}");
                }
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

// The exit codes are part of the contract; keep the binary's mapping in one place.
const _: () =
    assert!(error::EXIT_USAGE == 2 && error::EXIT_REJECTS == 3 && error::EXIT_FAILURE == 1);
