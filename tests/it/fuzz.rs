//! A seeded, bounded fuzz suite: the mutation families of issue 18's probe, replayed on a
//! copy of the demo's inputs with the 2024 and 2025 outputs already published. For every
//! mutated input it asserts what a scheduler relies on:
//!
//! - no panic, and an exit code from the documented set (0, 1, 2, 3);
//! - a failed run names the file it failed on, leaves the period's previous outputs byte
//!   for byte as they were, and leaves nothing else behind in the output folder;
//! - a successful run accounts for every physical row of every CSV table
//!   (`read` = non-empty lines − header, `read = used + superseded + rejected`);
//! - stderr quotes values briefly (no line over [`MAX_STDERR_LINE`] characters) and escapes
//!   control characters.
//!
//! Each family runs a few seeds ([`SEEDS`]); a failure prints the family, the seed and the
//! mutated file, so it replays exactly.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::{assert_accounts_balance, entries, pvwatch, read_json, read_rejects, repo, Run};

/// Seeds per family: enough to vary where the mutation lands, few enough that the suite
/// runs in well under two minutes on two cores in the debug build.
const SEEDS: u64 = 3;

/// Longest stderr line accepted: an error quotes at most ~200 characters of a value.
const MAX_STDERR_LINE: usize = 1200;

/// The demo's input tables: file name and table name.
const TABLES: [(&str, &str); 6] = [
    ("reports.csv", "reports"),
    ("report_products.csv", "report_products"),
    ("report_events.csv", "report_events"),
    ("products.csv", "products"),
    ("populations.csv", "populations"),
    ("event_terms.csv", "event_terms"),
];

/// SplitMix64: a tiny deterministic generator, so a seed replays the same mutation.
struct Rng(u64);

impl Rng {
    fn new(family: &str, seed: u64) -> Rng {
        let h = family.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        Rng(h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The demo pipeline and inputs in a folder, with 2024 and 2025 published once.
struct Base {
    dir: tempfile::TempDir,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        for (file, _) in TABLES {
            fs::copy(repo().join("sample-data").join(file), dir.path().join(file))
                .expect("copy a sample table");
        }
        let toml = fs::read_to_string(repo().join("pipelines/demo.toml"))
            .expect("demo pipeline")
            .replace("../sample-data/", "")
            .replace("../out/demo", "out")
            // One rejected row in a 44-row table must not stop the run: the suite checks
            // how each row is accounted, which needs the outputs.
            .replace(
                "max_rejected_fraction = 0.01",
                "max_rejected_fraction = 0.5",
            );
        fs::write(dir.path().join("p.toml"), toml).expect("write p.toml");
        for period in ["2024", "2025"] {
            pvwatch(dir.path(), &["-q", "run", "p.toml", "--period", period]).expect_ok();
        }
        Base { dir }
    })
}

/// Copy every file (recursively) of `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create folder");
    for e in fs::read_dir(from).expect("read folder") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// Every file of a folder with its bytes (none when there is no folder).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    entries(dir)
        .into_iter()
        .map(|f| {
            (
                f.clone(),
                fs::read(dir.join(&f)).expect("read an output file"),
            )
        })
        .collect()
}

/// Non-empty physical lines, with `\r\n`, `\n` and a lone `\r` each ending a line.
fn physical_rows(bytes: &[u8]) -> u64 {
    let mut rows = 0;
    let mut line_has_bytes = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => {
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                rows += u64::from(line_has_bytes);
                line_has_bytes = false;
            }
            _ => line_has_bytes = true,
        }
        i += 1;
    }
    rows + u64::from(line_has_bytes)
}

/// No panic, and an exit code among `codes`.
#[track_caller]
fn assert_documented_exit(label: &str, r: &Run, codes: &[i32]) {
    assert!(
        codes.contains(&r.code),
        "{label}: exit code {} is not one of {codes:?}\n{}",
        r.code,
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked"),
        "{label}: a panic\n{}",
        r.stderr
    );
}

/// One mutated copy of the base folder.
struct Case {
    family: &'static str,
    seed: u64,
    dir: tempfile::TempDir,
    /// The file the mutation changed (relative to the folder).
    file: String,
    /// The physical line (1-based) the mutation changed, when it changed one.
    line: u64,
}

impl Case {
    fn new(family: &'static str, seed: u64) -> Case {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_tree(base().dir.path(), dir.path());
        Case {
            family,
            seed,
            dir,
            file: String::new(),
            line: 0,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn label(&self) -> String {
        format!(
            "family `{}`, seed {}, file `{}`",
            self.family, self.seed, self.file
        )
    }

    /// Rewrite one input file's bytes.
    fn mutate_file(&mut self, file: &str, f: impl FnOnce(Vec<u8>) -> Vec<u8>) {
        self.file = file.to_string();
        let path = self.p(file);
        let bytes = fs::read(&path).expect("read input");
        fs::write(&path, f(bytes)).expect("write mutated input");
    }

    /// Run the pipeline for 2025 and check every invariant; returns the run.
    fn run_and_check(&self, extra: &[&str]) -> Run {
        let label = self.label();
        let out = self.p("out");
        let before = snapshot(&out.join("period=2025"));
        let r = pvwatch(
            self.dir.path(),
            &[&["run", "p.toml", "--period", "2025"], extra].concat(),
        );
        assert_documented_exit(&label, &r, &[0, 1, 2, 3]);
        for line in r.stderr.lines() {
            assert!(
                line.chars().count() <= MAX_STDERR_LINE,
                "{label}: a stderr line of {} characters: {}…",
                line.chars().count(),
                line.chars().take(300).collect::<String>()
            );
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\t'),
                "{label}: a raw control character on stderr: {line:?}"
            );
        }
        let mut left = entries(&out);
        left.retain(|e| e != "period=2024" && e != "period=2025");
        assert!(
            left.is_empty(),
            "{label}: left in the output folder: {left:?}"
        );
        if r.code == 0 {
            let m = read_json(&out.join("period=2025/manifest.json"));
            assert_accounts_balance(&m);
            for (file, table) in TABLES {
                let bytes = fs::read(self.p(file)).expect("read input");
                let read = m["inputs"]
                    .as_array()
                    .expect("inputs")
                    .iter()
                    .find(|t| t["table"] == table)
                    .and_then(|t| t["read"].as_u64())
                    .unwrap_or_else(|| panic!("{label}: {table} has no `read`"));
                assert_eq!(
                    read,
                    physical_rows(&bytes) - 1,
                    "{label}: `{file}` has {} rows after its header, the manifest read {read}",
                    physical_rows(&bytes) - 1
                );
            }
        } else {
            assert_eq!(
                snapshot(&out.join("period=2025")),
                before,
                "{label}: a failed run (exit {}) changed the previous outputs",
                r.code
            );
            let named = self.file.rsplit('/').next().unwrap_or(&self.file);
            assert!(
                r.code == 3 || r.stderr.contains(named) || r.stderr.contains("p.toml"),
                "{label}: the error does not name the file\n{}",
                r.stderr
            );
        }
        r
    }
}

/// Run `mutate` on `SEEDS` fresh copies, each checked.
fn family(name: &'static str, mutate: impl Fn(&mut Case, &mut Rng)) {
    family_then(name, mutate, |_, _| {});
}

/// As [`family`], then `expect` checks what this family must do beyond the invariants.
fn family_then(
    name: &'static str,
    mutate: impl Fn(&mut Case, &mut Rng),
    expect: impl Fn(&Case, &Run),
) {
    family_seeds(name, SEEDS, mutate, expect);
}

/// As [`family_then`], with `seeds` seeds.
fn family_seeds(
    name: &'static str,
    seeds: u64,
    mutate: impl Fn(&mut Case, &mut Rng),
    expect: impl Fn(&Case, &Run),
) {
    for seed in 0..seeds {
        let mut case = Case::new(name, seed);
        let mut rng = Rng::new(name, seed);
        mutate(&mut case, &mut rng);
        let r = case.run_and_check(&[]);
        expect(&case, &r);
    }
}

/// The run succeeded, and `rejects.csv` has a row for `file` at `line` whose reason
/// contains `reason`.
#[track_caller]
fn expect_reject(case: &Case, r: &Run, line: u64, reason: &str) {
    let label = case.label();
    r.expect_ok();
    let rejects = read_rejects(&case.p("out/period=2025/rejects.csv"));
    let hit = rejects
        .iter()
        .any(|row| row.contains(&format!("{},{line},", case.file)) && row.contains(reason));
    assert!(
        hit,
        "{label}: no reject at line {line} with `{reason}` in\n{}",
        rejects.join("\n")
    );
}

/// The reject rows of one file, without the file's path (to compare two runs' rows).
fn rejects_of(path: &Path, file: &str) -> Vec<String> {
    read_rejects(path)
        .into_iter()
        .filter_map(|r| {
            let mut parts = r.splitn(3, ',');
            let (table, path, rest) = (parts.next()?, parts.next()?, parts.next()?);
            path.ends_with(file).then(|| format!("{table},{rest}"))
        })
        .collect()
}

/// A random CSV table of the demo (by file name).
fn any_table(rng: &mut Rng) -> &'static str {
    rng.pick(&TABLES).0
}

/// The byte offsets where each line starts.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .filter(|i| *i < bytes.len()),
    );
    v
}

/// A random data line (not the header): its 1-based line number, start and end (before
/// `\n`).
fn data_line(bytes: &[u8], rng: &mut Rng) -> (u64, usize, usize) {
    let starts = line_starts(bytes);
    let k = 1 + rng.below(starts.len() - 1);
    let start = starts[k];
    let end = bytes[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| start + p);
    (k as u64 + 1, start, end)
}

/// Insert `what` at the start of a random field of a random data line; returns the new
/// bytes and the line's number.
fn insert_in_field(bytes: Vec<u8>, rng: &mut Rng, what: &[u8]) -> (Vec<u8>, u64) {
    let (line, start, end) = data_line(&bytes, rng);
    let mut fields = vec![start];
    fields.extend((start..end).filter(|i| bytes[*i] == b',').map(|i| i + 1));
    let at = *rng.pick(&fields);
    ([&bytes[..at], what, &bytes[at..]].concat(), line)
}

impl Case {
    /// Insert `what` at the start of a random field of a random data line of `file`.
    fn insert_in_field(&mut self, file: &str, rng: &mut Rng, what: &[u8]) {
        let mut line = 0;
        self.mutate_file(file, |b| {
            let (b, l) = insert_in_field(b, rng, what);
            line = l;
            b
        });
        self.line = line;
    }
}

/// A quote left open is rejected at its own line, and every later row is read.
#[test]
fn fuzz_stray_quote() {
    family_then(
        "stray quote",
        |c, rng| c.insert_in_field(any_table(rng), rng, b"\""),
        |c, r| expect_reject(c, r, c.line, "quote"),
    );
}

#[test]
fn fuzz_truncated_file() {
    family("truncated", |c, rng| {
        c.mutate_file(any_table(rng), |b| {
            let cut = b.len() / 2 + rng.below(b.len() / 2);
            b[..cut].to_vec()
        })
    });
}

#[test]
fn fuzz_lines_dropped_or_repeated() {
    family("line dropped or repeated", |c, rng| {
        let drop = rng.below(2) == 0;
        c.mutate_file(any_table(rng), |b| {
            let (_, start, end) = data_line(&b, rng);
            let end = (end + 1).min(b.len());
            if drop {
                [&b[..start], &b[end..]].concat()
            } else {
                [&b[..end], &b[start..end], &b[end..]].concat()
            }
        })
    });
}

#[test]
fn fuzz_control_and_invalid_bytes() {
    family("control and invalid bytes", |c, rng| {
        let byte = *rng.pick(&[0x00_u8, 0x01, 0x1b, 0x7f, 0x0b, 0x0c, 0xff, 0xc3]);
        c.insert_in_field(any_table(rng), rng, &[byte])
    });
}

/// CR-only and CRLF files are numbered as the LF original: the same rejects, same lines.
#[test]
fn fuzz_line_endings() {
    family_then(
        "line endings",
        |c, rng| {
            let ending: &[u8] = if rng.below(2) == 0 { b"\r" } else { b"\r\n" };
            // reports.csv holds the demo's planted rejects, so its line numbers are checked.
            c.mutate_file("reports.csv", |b| {
                b.split(|x| *x == b'\n').collect::<Vec<_>>().join(ending)
            })
        },
        |c, r| {
            r.expect_ok();
            let base_rejects = base().dir.path().join("out/period=2025/rejects.csv");
            let want = rejects_of(&base_rejects, "reports.csv");
            assert!(!want.is_empty(), "the demo plants rejects in reports.csv");
            assert_eq!(
                rejects_of(&c.p("out/period=2025/rejects.csv"), "reports.csv"),
                want,
                "{}",
                c.label()
            );
        },
    );
}

#[test]
fn fuzz_over_long_record() {
    family_then(
        "over-long record",
        |c, rng| {
            // 1.5 MiB: over the 1 MiB record bound, quoted or not, commas or not.
            let fillers: [&[u8]; 3] = [b"x", b",", b"\"x"];
            let filler = *rng.pick(&fillers);
            let long = filler.repeat((3 << 19) / filler.len());
            c.insert_in_field(any_table(rng), rng, &long)
        },
        |c, r| expect_reject(c, r, c.line, "MiB"),
    );
}

/// A typo'd date: a received date rejects its row (it is the key date) and never moves the
/// data cut-off; an optional date (onset, approval) is nulled and its row kept.
#[test]
fn fuzz_implausible_dates() {
    // Each seed a (file, typo) pair, so that every typo meets the key date at least once.
    const CASES: [(&str, &str); 6] = [
        ("reports.csv", "9999-12-31"),
        ("reports.csv", "0000-01-01"),
        ("reports.csv", "1900-01-01"),
        ("reports.csv", "2025-02-30"),
        ("report_events.csv", "9999-12-31"),
        ("products.csv", "1900-01-01"),
    ];
    family_seeds(
        "implausible dates",
        CASES.len() as u64,
        |c, rng| {
            let (file, date) = CASES[c.seed as usize];
            let mut line = 0;
            c.mutate_file(file, |b| {
                let text = String::from_utf8(b).expect("UTF-8 sample");
                // Replace a date-looking value (`,YYYY-MM-DD`) with the typo.
                let dates: Vec<usize> = text
                    .match_indices(",20")
                    .map(|(i, _)| i + 1)
                    .filter(|i| text.as_bytes().get(i + 4) == Some(&b'-'))
                    .collect();
                let at = *rng.pick(&dates);
                line = text[..at].matches('\n').count() as u64 + 1;
                format!("{}{date}{}", &text[..at], &text[at + 10..]).into_bytes()
            });
            c.line = line;
        },
        |c, r| {
            let action = if c.file == "reports.csv" {
                "row rejected"
            } else {
                "cell nulled"
            };
            expect_reject(c, r, c.line, action);
            let base_manifest = read_json(&base().dir.path().join("out/period=2025/manifest.json"));
            let m = read_json(&c.p("out/period=2025/manifest.json"));
            assert_eq!(
                m["data_cutoff"],
                base_manifest["data_cutoff"],
                "{}",
                c.label()
            );
        },
    );
}

#[test]
fn fuzz_bad_numbers() {
    family("bad numbers", |c, rng| {
        let value = *rng.pick(&["-1", "18446744073709551617", "1.5", "NaN", "1e400", "", "٣"]);
        let (file, column) = *rng.pick(&[
            ("reports.csv", 2_usize), // version
            ("reports.csv", 12),      // age_years
            ("populations.csv", 2),   // population
        ]);
        c.mutate_file(file, |b| {
            let text = String::from_utf8(b).expect("UTF-8 sample");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let k = 1 + rng.below(lines.len() - 1);
            let mut cells: Vec<&str> = lines[k].split(',').collect();
            cells[column] = value;
            lines[k] = cells.join(",");
            (lines.join("\n") + "\n").into_bytes()
        })
    });
}

#[test]
fn fuzz_headers() {
    family("headers", |c, rng| {
        let how = rng.below(4);
        c.mutate_file(any_table(rng), |b| {
            let nl = b.iter().position(|x| *x == b'\n').expect("a header line");
            let header = String::from_utf8(b[..nl].to_vec()).expect("UTF-8 header");
            let mut names: Vec<String> = header.split(',').map(str::to_string).collect();
            let k = rng.below(names.len());
            match how {
                0 => names[k] = format!("{}_renamed", names[k]),
                1 => {
                    let n = names[k].clone();
                    names.push(n);
                }
                2 => names[k] = "h".repeat(300_000),
                _ => names[k].insert(0, '\u{1b}'),
            }
            [names.join(",").as_bytes(), &b[nl..]].concat()
        })
    });
}

#[test]
fn fuzz_empty_and_odd_files() {
    family("empty and odd files", |c, rng| {
        let contents: [&[u8]; 4] = [b"", b"\xef\xbb\xbf", b"\n\n\n", b"\0\0\0\0"];
        let content = *rng.pick(&contents);
        c.mutate_file(any_table(rng), |_| content.to_vec())
    });
}

#[cfg(unix)]
#[test]
fn fuzz_unusable_input_paths() {
    family("unusable input paths", |c, rng| {
        let file = any_table(rng);
        c.file = file.to_string();
        let path = c.p(file);
        fs::remove_file(&path).expect("remove input");
        match rng.below(3) {
            0 => {}
            1 => fs::create_dir(&path).expect("a folder in its place"),
            _ => {
                let s = std::ffi::CString::new(path.to_str().expect("UTF-8")).expect("no NUL");
                // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
                assert_eq!(unsafe { libc::mkfifo(s.as_ptr(), 0o600) }, 0);
            }
        }
    });
}

#[test]
fn fuzz_pipeline_values() {
    family("pipeline values", |c, rng| {
        let (from, to) = *rng.pick(&[
            ("min_eb05 = 2.0", "min_eb05 = 2.0\n[signals.ebgm.prior]\nalpha1 = 1e308\nbeta1 = 1e-308\nalpha2 = 2\nbeta2 = 4\np = 0.3"),
            ("methods = [\"prr\", \"ror\", \"bcpnn\", \"ebgm\"]", "methods = []"),
            ("min_methods = 2", "min_methods = 9"),
            ("period = \"2025\"", "period = \"2025-Q5\""),
            ("max_rejected_fraction = 0.5", "max_rejected_fraction = -1"),
            ("per_million = 400", "per_million = \"400\""),
        ]);
        c.mutate_file("p.toml", |b| {
            let text = String::from_utf8(b).expect("UTF-8 pipeline");
            assert!(text.contains(from), "the demo pipeline has `{from}`");
            text.replacen(from, to, 1).into_bytes()
        })
    });
}

#[test]
fn fuzz_damaged_previous_period() {
    family("damaged previous period", |c, rng| {
        let file = *rng.pick(&["alerts.jsonl", "screening.parquet", "manifest.json"]);
        c.mutate_file(&format!("out/period=2024/{file}"), |b| {
            let cut = rng.below(b.len());
            b[..cut].to_vec()
        })
    });
}

/// A CSV table of the base folder as Parquet, every column text but `column`, cast to
/// `to` as pandas, Spark or DuckDB would type it. Returns the rows written.
fn csv_to_parquet(case: &Case, file: &str, column: &str, to: &arrow::datatypes::DataType) {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray};
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;

    let text = fs::read_to_string(case.p(file)).expect("read the CSV");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let columns: Vec<(&str, ArrayRef)> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let values: Vec<Option<&str>> = rows
                .iter()
                .map(|r| r.get(i).copied().filter(|v| !v.is_empty()))
                .collect();
            let text: ArrayRef = Arc::new(StringArray::from(values));
            let array = if *name == column {
                arrow::compute::cast(&text, to).expect("a castable column")
            } else {
                text
            };
            (*name, array)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).expect("a record batch");
    let parquet = file.replace(".csv", ".parquet");
    let out = fs::File::create(case.p(&parquet)).expect("create the Parquet file");
    let mut w = ArrowWriter::try_new(out, batch.schema(), None).expect("a Parquet writer");
    w.write(&batch).expect("write the batch");
    w.close().expect("close the Parquet file");
}

/// A table as Parquet with the types other tools write (decimal, timestamps of every unit
/// with or without a zone, date64, unsigned and narrow integers, floats): read as the CSV
/// is, every row accounted the same way.
#[test]
fn fuzz_parquet_types() {
    use arrow::datatypes::{DataType, TimeUnit};
    let cases: Vec<(&str, &str, DataType)> = vec![
        (
            "reports.csv",
            "received_date",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ),
        (
            "reports.csv",
            "received_date",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+08:00".into())),
        ),
        ("reports.csv", "received_date", DataType::Date64),
        ("reports.csv", "version", DataType::UInt64),
        ("reports.csv", "version", DataType::Float64),
        ("reports.csv", "version", DataType::Int8),
        ("populations.csv", "population", DataType::Decimal128(12, 0)),
        ("populations.csv", "population", DataType::UInt64),
        ("populations.csv", "year", DataType::Int16),
    ];
    family_seeds(
        "parquet types",
        cases.len() as u64,
        |c, _| {
            let (file, column, to) = &cases[c.seed as usize];
            csv_to_parquet(c, file, column, to);
            c.file = file.replace(".csv", ".parquet");
            let toml = fs::read_to_string(c.p("p.toml")).expect("p.toml");
            let toml = toml.replace(&format!("\"{file}\""), &format!("\"{}\"", c.file));
            fs::write(c.p("p.toml"), toml).expect("write p.toml");
        },
        |c, r| {
            r.expect_ok();
            let base_manifest = read_json(&base().dir.path().join("out/period=2025/manifest.json"));
            let m = read_json(&c.p("out/period=2025/manifest.json"));
            assert_eq!(m["rows"], base_manifest["rows"], "{}", c.label());
            assert_eq!(
                m["data_cutoff"],
                base_manifest["data_cutoff"],
                "{}",
                c.label()
            );
        },
    );
}

/// `pvwatch convert` on a mutated E2B batch or a FAERS quarter with a part missing: the
/// documented exit codes, the file named, the previous conversion intact, nothing left
/// beside it.
fn convert_case(case: &Case, format: &str, src: &str, mutated: &str, extra: &[&str]) -> Run {
    let label = case.label();
    let before = snapshot(&case.p("conv"));
    let out = case.p("conv").display().to_string();
    let src = case.p(src).display().to_string();
    let r = pvwatch(
        case.dir.path(),
        &[
            &[
                "convert", "--from", format, &src, "--out", &out, "--region", "310000",
            ],
            extra,
        ]
        .concat(),
    );
    assert_documented_exit(&label, &r, &[0, 2, 3]);
    let mut left = entries(case.dir.path());
    left.retain(|e| e.starts_with('.'));
    assert!(
        left.is_empty(),
        "{label}: left beside the conversion: {left:?}"
    );
    if r.code == 0 {
        let m = read_json(&case.p("conv/convert-manifest.json"));
        let n = |k: &str| m["rows"][k].as_u64().expect("a count");
        assert_eq!(
            n("read"),
            n("used") + n("superseded") + n("duplicate") + n("rejected"),
            "{label}"
        );
    } else {
        assert_eq!(
            snapshot(&case.p("conv")),
            before,
            "{label}: previous conversion changed"
        );
        assert!(
            r.stderr.contains(mutated),
            "{label}: the file is not named\n{}",
            r.stderr
        );
    }
    r
}

/// An E2B batch truncated, with a NUL, without its root's close tag, with two roots or an
/// undeclared prefix: rejected as not well-formed, never half used.
#[test]
fn fuzz_e2b_not_well_formed() {
    const KINDS: [&str; 5] = [
        "truncated",
        "nul",
        "no root close",
        "two roots",
        "undeclared prefix",
    ];
    for seed in 0..KINDS.len() as u64 {
        let mut case = Case::new("e2b not well-formed", seed);
        let mut rng = Rng::new(case.family, seed);
        let xml = fs::read_to_string(repo().join("tests/data/convert/e2b/valid/batch.xml"))
            .expect("the valid batch");
        fs::write(case.p("batch.xml"), &xml).expect("write");
        convert_case(&case, "e2b", "batch.xml", "batch.xml", &[]).expect_ok();
        case.file = "batch.xml".into();
        let close = xml
            .rfind("</MCCI_IN200100UV01>")
            .expect("the root's close tag");
        let bad = match KINDS[seed as usize] {
            // Cut inside the batch, after its first ICSR began.
            "truncated" => xml[..xml.len() / 3 + rng.below(close - xml.len() / 3)].to_string(),
            "nul" => {
                let at = xml.find("<creationTime").expect("an element");
                format!("{}\0{}", &xml[..at], &xml[at..])
            }
            "no root close" => xml[..close].to_string(),
            "two roots" => {
                let body = &xml[xml.find("<MCCI_IN200100UV01").expect("root")..];
                format!("{xml}{body}")
            }
            _ => {
                let at = xml.find("<creationTime").expect("an element");
                format!("{}<q:note/>{}", &xml[..at], &xml[at..])
            }
        };
        fs::write(case.p("batch.xml"), bad).expect("write");
        let r = convert_case(&case, "e2b", "batch.xml", "batch.xml", &[]);
        // The whole file is rejected: over the default tolerance, nothing is written.
        r.expect_code(3);
        let r = convert_case(
            &case,
            "e2b",
            "batch.xml",
            "batch.xml",
            &["--max-rejected-fraction", "1"],
        );
        r.expect_ok();
        let m = read_json(&case.p("conv/convert-manifest.json"));
        assert_eq!(m["rows"]["used"], 0, "{}: nothing half used", case.label());
        assert!(
            m["sources"][0]["malformed"].is_string(),
            "{}: {m}",
            case.label()
        );
    }
}

/// A FAERS quarter without one of the files whose absence changes meaning: exit 2 naming
/// it, the previous conversion intact.
#[test]
fn fuzz_faers_missing_part() {
    for (seed, part) in ["DEMO", "DRUG", "REAC", "OUTC"].into_iter().enumerate() {
        let mut case = Case::new("faers missing part", seed as u64);
        copy_tree(&repo().join("sample-data/faers"), &case.p("faers"));
        convert_case(&case, "faers", "faers", "faers", &[]).expect_ok();
        let file = format!("{part}24Q1.txt");
        case.file = file.clone();
        fs::remove_file(case.p(&format!("faers/ASCII/{file}"))).expect("remove a part");
        convert_case(&case, "faers", "faers", &file, &[]).expect_code(2);
    }
}
