//! Helpers shared by the integration tests: run the `pvwatch` binary, build small inputs
//! in a temporary folder, and read the outputs back (Parquet through arrow-rs, never by
//! comparing bytes).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    LargeListArray, LargeStringArray, ListArray, StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pvwatch");

/// The repository root (shipped pipelines and sample data live there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run one quarter of `pipelines/zhejiang-quarterly.toml` into `out`; it must succeed.
pub fn run_quarter(fx: &Fixture, out: &Path, quarter: &str) {
    let pipeline = repo().join("pipelines/zhejiang-quarterly.toml");
    let (pipeline, out) = (pipeline.display().to_string(), out.display().to_string());
    fx.run(&[
        "run", &pipeline, "--period", quarter, "--out", &out, "--quiet",
    ])
    .expect_ok();
}

/// What one invocation of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panic with both streams unless the run exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0)
    }
}

/// Run `pvwatch args…` in `cwd` with `env` set, and a clean environment otherwise (no
/// log filter or injected fault inherited from the caller).
pub fn pvwatch_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("PVWATCH_LOG")
        .env_remove("PVWATCH_FAULT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the pvwatch binary runs");
    Run {
        code: out
            .status
            .code()
            .expect("pvwatch exits, not killed by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

pub fn pvwatch(cwd: &Path, args: &[&str]) -> Run {
    pvwatch_env(cwd, args, &[])
}

/// A period's output folder: `<out>/period=<label>` (hive style).
pub fn period_dir(out: &Path, period: &str) -> PathBuf {
    out.join(format!("period={period}"))
}

// ---------------------------------------------------------------------------------------
// Inputs.

/// Header of the reports CSVs that the tests write (the columns a [`report`] row fills).
pub const REPORTS_HEADER: &str =
    "report_id,case_id,version,received_date,class,region,reporter_type,sentinel,is_new,is_serious,fatal";

/// One reports row with every flag false, for `REPORTS_HEADER`.
pub fn report(id: &str, case: &str, version: u32, date: &str, class: &str, region: &str) -> String {
    format!(
        "{id},{case},{version},{date},{class},{region},medical_institution,false,false,false,false"
    )
}

/// `n` good single-version drug cases `R0001…` in Hangzhou, received in January 2025,
/// one row per line after `REPORTS_HEADER`.
pub fn good_reports(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            report(
                &format!("R{i:04}"),
                &format!("C{i:04}"),
                1,
                &format!("2025-01-{:02}", 1 + (i % 28)),
                "drug",
                "330100",
            )
        })
        .collect()
}

/// A CSV file's text from a header and rows.
pub fn csv(header: &str, rows: &[String]) -> String {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// The top-level keys of the default pipeline file.
pub const PIPELINE_TOP: &str = "period = \"2025\"\noutput_dir = \"out\"\n";

/// The `[inputs]` table of the default pipeline file.
pub const PIPELINE_INPUTS: &str = "\
[inputs]
reports = \"reports.csv\"
report_products = \"report_products.csv\"
report_events = \"report_events.csv\"
products = \"products.csv\"
populations = \"populations.csv\"
";

/// The demo's input tables in `sample-data/`.
pub const SAMPLE_TABLES: [&str; 6] = [
    "reports.csv",
    "report_products.csv",
    "report_events.csv",
    "products.csv",
    "populations.csv",
    "event_terms.csv",
];

/// A temporary folder with a pipeline file `p.toml` and its input tables.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty folder.
    pub fn empty() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// A folder with a copy of the demo's sample input tables ([`SAMPLE_TABLES`]) and no
    /// pipeline file.
    pub fn with_sample_data() -> Fixture {
        let fx = Fixture::empty();
        for f in SAMPLE_TABLES {
            fs::copy(repo().join("sample-data").join(f), fx.p(f)).expect("copy sample data");
        }
        fx
    }

    /// A folder with `p.toml` (period 2025, output `out`) and five small valid tables:
    /// 3 drug cases in Hangzhou (R0001…R0003), one product and one event row for R0001,
    /// one product, and Zhejiang's population for 2024.
    pub fn new() -> Fixture {
        let fx = Fixture::empty();
        fx.write("reports.csv", &csv(REPORTS_HEADER, &good_reports(3)));
        fx.write(
            "report_products.csv",
            "report_id,product_id,role\nR0001,D001,suspect\n",
        );
        fx.write("report_events.csv", "report_id,event\nR0001,Rash\n");
        fx.write(
            "products.csv",
            "product_id,name,class\nD001,阿莫西林胶囊,drug\n",
        );
        fx.write(
            "populations.csv",
            "region,year,population,name\n330000,2024,2000000,浙江省\n",
        );
        fx.pipeline("", "");
        fx
    }

    /// Rewrite report_products and report_events with one row each (D001, Rash) for
    /// these report ids.
    pub fn children(&self, ids: &[&str]) {
        let rp: Vec<String> = ids.iter().map(|id| format!("{id},D001,suspect")).collect();
        let re: Vec<String> = ids.iter().map(|id| format!("{id},Rash")).collect();
        self.write(
            "report_products.csv",
            &csv("report_id,product_id,role", &rp),
        );
        self.write("report_events.csv", &csv("report_id,event", &re));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The folder as text, to put into expected messages.
    pub fn d(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// A path inside the folder.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A path inside the folder, as text.
    pub fn ps(&self, rel: &str) -> String {
        self.p(rel).display().to_string()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.p(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create folder");
        }
        fs::write(&path, text).expect("write input file");
    }

    /// (Re)write `p.toml`: the default top-level keys plus `top`, the default `[inputs]`,
    /// then `tables` (more TOML tables, e.g. `[rates]`).
    pub fn pipeline(&self, top: &str, tables: &str) {
        self.write(
            "p.toml",
            &format!("{PIPELINE_TOP}{top}\n{PIPELINE_INPUTS}\n{tables}\n"),
        );
    }

    /// The pipeline file's path, as text.
    pub fn toml(&self) -> String {
        self.ps("p.toml")
    }

    /// Run the binary in the folder.
    pub fn run(&self, args: &[&str]) -> Run {
        pvwatch(self.path(), args)
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        pvwatch_env(self.path(), args, env)
    }

    /// `pvwatch run <dir>/p.toml extra…`.
    pub fn run_pipeline(&self, extra: &[&str]) -> Run {
        let toml = self.toml();
        let mut args = vec!["run", toml.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

// ---------------------------------------------------------------------------------------
// Outputs.

/// A cell read back from Parquet.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// A list of strings (`cases.parquet`'s lists).
    List(Vec<String>),
}

impl Value {
    #[track_caller]
    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            other => panic!("expected a string, found {other:?}"),
        }
    }

    #[track_caller]
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => panic!("expected an integer, found {other:?}"),
        }
    }

    #[track_caller]
    pub fn float(&self) -> f64 {
        match self {
            Value::Float(v) => *v,
            other => panic!("expected a float, found {other:?}"),
        }
    }

    #[track_caller]
    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(v) => *v,
            other => panic!("expected a boolean, found {other:?}"),
        }
    }

    #[track_caller]
    pub fn list(&self) -> Vec<&str> {
        match self {
            Value::List(v) => v.iter().map(String::as_str).collect(),
            other => panic!("expected a list, found {other:?}"),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A Parquet file read back with arrow-rs: its Arrow schema and its rows.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: SchemaRef,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    #[track_caller]
    pub fn index(&self, column: &str) -> usize {
        self.schema
            .index_of(column)
            .unwrap_or_else(|_| panic!("no column `{column}` in {:?}", self.schema))
    }

    /// The cell of `column` in `row`.
    #[track_caller]
    pub fn get(&self, row: usize, column: &str) -> &Value {
        &self.rows[row][self.index(column)]
    }

    /// Every value of a column.
    pub fn column(&self, column: &str) -> Vec<Value> {
        let i = self.index(column);
        self.rows.iter().map(|r| r[i].clone()).collect()
    }

    /// The only row whose text columns have these values.
    #[track_caller]
    pub fn row_where(&self, keys: &[(&str, &str)]) -> usize {
        let hits: Vec<usize> = (0..self.rows.len())
            .filter(|&r| {
                keys.iter()
                    .all(|(c, v)| matches!(self.get(r, c), Value::Str(s) if s == v))
            })
            .collect();
        assert_eq!(hits.len(), 1, "rows matching {keys:?}: {hits:?}");
        hits[0]
    }
}

fn cell(a: &ArrayRef, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    macro_rules! get {
        ($ty:ty) => {
            a.as_any()
                .downcast_ref::<$ty>()
                .expect("array matches its data type")
                .value(i)
        };
    }
    match a.data_type() {
        DataType::Utf8 => Value::Str(get!(StringArray).to_string()),
        DataType::LargeUtf8 => Value::Str(get!(LargeStringArray).to_string()),
        DataType::Utf8View => Value::Str(get!(StringViewArray).to_string()),
        DataType::Int64 => Value::Int(get!(Int64Array)),
        DataType::Int32 => Value::Int(get!(Int32Array) as i64),
        DataType::Float64 => Value::Float(get!(Float64Array)),
        DataType::Boolean => Value::Bool(get!(BooleanArray)),
        DataType::Date32 => Value::Date(get!(Date32Array)),
        DataType::List(_) => list_cell(&get!(ListArray)),
        DataType::LargeList(_) => list_cell(&get!(LargeListArray)),
        other => panic!("unexpected Arrow type {other} in an output table"),
    }
}

/// A list cell's strings (a null element would be a bug: lists hold strings only).
fn list_cell(items: &ArrayRef) -> Value {
    Value::List(
        (0..items.len())
            .map(|j| match cell(items, j) {
                Value::Str(s) => s,
                other => panic!("expected a string in a list, found {other:?}"),
            })
            .collect(),
    )
}

/// Read a Parquet file with arrow-rs.
#[track_caller]
pub fn read_parquet(path: &Path) -> Table {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema = builder.schema().clone();
    let reader = builder.build().expect("a Parquet reader");
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for i in 0..batch.num_rows() {
            rows.push(batch.columns().iter().map(|a| cell(a, i)).collect());
        }
    }
    Table { schema, rows }
}

/// The lines of `rejects.csv`, header first, without the byte-order mark. A row's last
/// field, `cell`, is empty for every input but a workbook; it is left off (with its comma)
/// so that such rows read as the seven columns they had before `cell` was added.
#[track_caller]
pub fn read_rejects(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text
        .strip_prefix('\u{feff}')
        .expect("rejects.csv starts with a byte-order mark for Excel");
    text.lines()
        .enumerate()
        .map(|(i, l)| match l.strip_suffix(',') {
            Some(row) if i > 0 => row.to_string(),
            _ => l.to_string(),
        })
        .collect()
}

pub const REJECTS_CSV_HEADER: &str = "table,file,line,column,found,expected,action,cell";

#[track_caller]
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Row accounting of one table in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub read: u64,
    pub used: u64,
    pub superseded: u64,
    pub rejected: u64,
}

/// The accounting of `table` in a manifest.
#[track_caller]
pub fn account(manifest: &serde_json::Value, table: &str) -> Account {
    let t = manifest["inputs"]
        .as_array()
        .expect("manifest.inputs is a list")
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no input `{table}` in the manifest"));
    let n = |k: &str| {
        t[k].as_u64()
            .unwrap_or_else(|| panic!("{table}.{k} is a count"))
    };
    Account {
        read: n("read"),
        used: n("used"),
        superseded: n("superseded"),
        rejected: n("rejected"),
    }
}

/// Every `read = used + superseded + rejected` in a manifest, per table and in total.
#[track_caller]
pub fn assert_accounts_balance(manifest: &serde_json::Value) {
    let inputs = manifest["inputs"].as_array().expect("manifest.inputs");
    assert!(!inputs.is_empty(), "the manifest lists its inputs");
    for t in inputs {
        let a = account(manifest, t["table"].as_str().expect("table name"));
        assert_eq!(
            a.read,
            a.used + a.superseded + a.rejected,
            "{}: {a:?}",
            t["table"]
        );
    }
    let r = &manifest["rows"];
    let n = |k: &str| r[k].as_u64().expect("a count");
    assert_eq!(n("read"), n("used") + n("superseded") + n("rejected"));
}

/// `actual` equals `expected` within `rel` relative error.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, rel: f64) {
    let err = if expected == 0.0 {
        actual.abs()
    } else {
        ((actual - expected) / expected).abs()
    };
    assert!(
        err <= rel,
        "{actual} is not within {rel} (relative) of {expected}"
    );
}

/// Names of the entries of a folder, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn days(date: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a test date");
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    (d - epoch).num_days() as i32
}

/// Replace the seconds in "finished in 0.1 s" / "用时 0.1 秒" so a summary can be pinned.
pub fn mask_seconds(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    for marker in ["finished in ", "用时 "] {
        if let Some(i) = rest.find(marker) {
            let start = i + marker.len();
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let end = after
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(after.len());
            out.push('T');
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}
