//! Integration tests of the `pvwatch` binary, as one test binary (as in ripgrep).
//!
//! Every test runs the real binary (`CARGO_BIN_EXE_pvwatch`) on small inputs written into
//! a temporary folder, and reads the outputs back: Parquet through arrow-rs, JSON and CSV
//! as text. Modules:
//!
//! - `cli`: flags, subcommands, exit codes, the summary paragraph and the log lines;
//! - `pipelines`: every shipped pipeline validates and runs on `sample-data/`;
//! - `bad_input`: the full text of each error and each reject;
//! - `regression`: row accounting, case versions, periods, atomic publish, input formats;
//! - `rates`: a hand-computed rates table;
//! - `signals`: the demo's planted signals against an independent recount, hand-made
//!   contingency tables, and the `[signals]` configuration errors;
//! - `alerts`: statuses over three quarters and a rerun, golden alerts of every kind, the
//!   demo's alerts and screening list, and the `[alerts]` configuration errors;
//! - `previous`: a damaged earlier period and `--no-previous`;
//! - `as_of`: rerunning a past period after later follow-ups gives the same tables;
//! - `fuzz`: seeded mutation families of hostile inputs, each checked for no panic, a
//!   documented exit code, the file named, previous outputs intact and every row accounted;
//! - `properties`: `read = used + superseded + rejected` on random report sets;
//! - `convert`: `pvwatch convert` on FAERS, E2B(R3) and flat files, hostile XML, and
//!   pipelines with `[inputs.source]`.
//! - `meddra`: `[terms]` and `signals.levels` on a synthetic MedDRA release: signal rows at
//!   PT, HLT, SOC and SMQ level with hand-computed cells, unmapped terms, a broken release.
//! - `case_versions`: the demo's `case_versions.parquet` (schema, every version received
//!   by the period end) against an independent recount of the sample reports.
//! - `cases`: the demo's `cases.parquet` (schema, lists, completeness) against an
//!   independent recount of the sample CSVs.
//! - `records`: every physical row accounted for in CSV-like files (a quote left open,
//!   over-long lines, CR-only line ends, excerpts of values in errors and rejects).
//! - `crash`: runs killed at random points (SIGKILL), stopped by SIGTERM and SIGINT, or
//!   killed half-way through a publish, and output folders that are not pvwatch's or not
//!   usable: the previous or the new outputs stay whole, nothing else is left.
//! - `scale`: the generated national-scale data set at test size (row accounting, the
//!   planted signals' exact cells) and the memory budget.
//! - `hive`: three quarters of the Zhejiang pipeline read as one hive-partitioned dataset
//!   (arrow-rs schemas, DuckDB and pyarrow), and a previous run in the old folder layout.
//! - `scope`: the jurisdiction (`[scope] regions`, `signals.background`) on the Zhejiang
//!   pipeline against an independent recount: alerts, cases, screening, signals, rates.
//! - `decisions`: topics of the tracking log given to `pvwatch::run`: a refuted signal
//!   suppressed and counted, reopened once its cases double; `signal_log.parquet`.
//! - `review_run`: the same loop through the binary on a real review database (SQLite, and
//!   PostgreSQL when `PVWATCH_TEST_POSTGRES_URL` is set); an unreachable database.
//! - `types`: Parquet input types as other tools write them (decimals, timestamps, date64,
//!   integers of every width, floats with NaN), and plausible dates (`ingest.today`,
//!   `ingest.timezone`).
//! - `report_form`: the national report form's synthetic export (`.xlsx` and GB18030 CSV)
//!   through its shipped mapping, convert and a pipeline; personal data never copied;
//!   canonical tables in workbooks; encrypted, corrupt and mis-encoded inputs.
//! - `serve`: the review app over HTTP in process (access control, CSRF, escaping,
//!   conflicts) on SQLite and PostgreSQL, and the real `pvwatch serve` killed and restarted.

mod alerts;
mod as_of;
mod bad_input;
mod case_versions;
mod cases;
mod catalog;
mod cli;
mod convert;
mod crash;
mod decisions;
mod fuzz;
mod hive;
mod meddra;
mod pipelines;
mod previous;
mod properties;
mod rates;
mod records;
mod regions;
mod regression;
mod report_form;
mod review;
mod review_run;
mod scale;
mod scope;
mod serve;
mod signals;
mod types;
mod util;
