//! Crash-safe publishing (issue 18, items 3 and 4): runs killed with SIGKILL at random
//! points, stopped by SIGTERM and SIGINT, killed half-way through a publish by the fault
//! hooks, and output folders that are not pvwatch's or not usable.
//!
//! After every one, `<out>/<period>` holds either the previous outputs or the new ones,
//! whole (the manifest and every file it lists, with its size and row count), and after
//! the next run nothing else is left in `<out>`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::scale::synth;
use crate::util::{entries, read_json, Fixture, BIN};

/// Two generated data sets of different sizes (so that their outputs differ) and a
/// pipeline for each, publishing into the same `out/2025`: PRR and ROR only, so that a
/// debug-build run takes a couple of seconds, much of it counting and writing.
struct Data {
    dir: tempfile::TempDir,
    /// Reports read by a run of `a.toml` and of `b.toml`.
    reports: [u64; 2],
}

const SETS: [&str; 2] = ["a", "b"];

fn data(cases: [u64; 2]) -> Data {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = [0; 2];
    for (i, set) in SETS.iter().enumerate() {
        let (written, _) = synth::generate(&synth::Options {
            cases: cases[i],
            seed: 11 + i as u64,
            out: dir.path().join(set),
            chunk: 4_000,
        })
        .unwrap();
        reports[i] = written.reports;
        let toml = synth::PIPELINE
            .replace(
                "methods = [\"prr\", \"ror\", \"bcpnn\", \"ebgm\"]",
                "methods = [\"prr\", \"ror\"]",
            )
            .replace("min_methods = 2", "min_methods = 1")
            .replace(" = \"reports.", &format!(" = \"{set}/reports."))
            .replace(
                "report_products = \"",
                &format!("report_products = \"{set}/"),
            )
            .replace("report_events = \"", &format!("report_events = \"{set}/"))
            .replace(
                "products = \"products",
                &format!("products = \"{set}/products"),
            )
            .replace("populations = \"", &format!("populations = \"{set}/"))
            .replace("event_terms = \"", &format!("event_terms = \"{set}/"));
        assert!(toml.contains(&format!("event_terms = \"{set}/event_terms")));
        assert!(toml.contains("methods = [\"prr\", \"ror\"]"));
        fs::write(dir.path().join(format!("{set}.toml")), toml).unwrap();
    }
    assert_ne!(reports[0], reports[1]);
    Data { dir, reports }
}

impl Data {
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn command(&self, set: usize, fault: Option<&str>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", &format!("{}.toml", SETS[set]), "-q"])
            .current_dir(self.dir.path())
            .env_remove("PVWATCH_LOG")
            .env_remove("PVWATCH_FAULT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(f) = fault {
            cmd.env("PVWATCH_FAULT", f);
        }
        cmd
    }

    /// Run to the end; panics unless it succeeds.
    fn run(&self, set: usize) {
        let out = self.command(set, None).output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Which set's outputs `out/2025` holds, after checking that they are whole.
    fn published(&self) -> usize {
        let reports = whole(&self.out().join("period=2025"));
        self.reports
            .iter()
            .position(|&r| r == reports)
            .unwrap_or_else(|| panic!("out/period=2025 read {reports} reports: neither data set"))
    }
}

/// Check that `dir` holds a whole set of outputs: the manifest, and each file it lists
/// with the size it records, the Parquet files with the rows it records, and nothing else.
/// Returns the reports the run read.
#[track_caller]
fn whole(dir: &Path) -> u64 {
    let m = read_json(&dir.join("manifest.json"));
    let mut listed = vec!["manifest.json".to_string()];
    for o in m["outputs"].as_array().unwrap() {
        let file = o["file"].as_str().unwrap();
        let path = dir.join(file);
        let size = fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert_eq!(size, o["size_bytes"].as_u64().unwrap(), "{file}");
        if file.ends_with(".parquet") {
            let reader = SerializedFileReader::new(fs::File::open(&path).unwrap()).unwrap();
            let rows = reader.metadata().file_metadata().num_rows();
            assert_eq!(rows as u64, o["rows"].as_u64().unwrap(), "{file}");
        }
        if file == "alerts.jsonl" {
            let lines = fs::read_to_string(&path).unwrap().lines().count();
            assert_eq!(lines as u64, o["rows"].as_u64().unwrap(), "{file}");
        }
        listed.push(file.to_string());
    }
    listed.sort();
    assert_eq!(entries(dir), listed, "files besides the manifest's");
    for f in [
        "cases.parquet",
        "signals.parquet",
        "rates.parquet",
        "review.html",
    ] {
        assert!(listed.iter().any(|l| l == f), "{f} not listed");
    }
    m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "reports")
        .unwrap()["read"]
        .as_u64()
        .unwrap()
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    entries(dir)
        .into_iter()
        .map(|f| {
            let bytes = fs::read(dir.join(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

/// xorshift64*: the delays are the same on every run of the test.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn send(pid: u32, signal: i32) {
    // SAFETY: sending a signal to our own child has no memory-safety precondition.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

#[test]
fn runs_killed_at_random_points_leave_whole_outputs() {
    let d = data([6_000, 6_500]);
    let started = Instant::now();
    d.run(0);
    let full = started.elapsed();
    assert_eq!(d.published(), 0);

    let mut rng = Rng(0x5eed_2026_1207);
    let (mut killed, mut finished, mut changed) = (0, 0, 0);
    for i in 0..20 {
        let before = d.published();
        let next = 1 - before;
        // Every third publishes with two renames, as without RENAME_EXCHANGE.
        let fault = (i % 3 == 0).then_some("no-exchange");
        let mut child = d.command(next, fault).spawn().unwrap();
        if i % 2 == 0 {
            // Anywhere in the run: a delay spread over a whole run's time.
            std::thread::sleep(full.mul_f64(0.05 + 1.05 * rng.unit()));
        } else {
            // In the write stage or the publish, whatever the machine's load: once the
            // staging folder holds k entries (the marker, then the outputs one by one,
            // the manifest last), and a few milliseconds more.
            let k = 1 + (rng.unit() * 10.0) as usize;
            let jitter = Duration::from_micros((rng.unit() * 30_000.0) as u64);
            let deadline = Instant::now() + Duration::from_secs(120);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                let staged = entries(&d.out())
                    .into_iter()
                    .find(|e| e.starts_with(".period=2025.tmp-"))
                    .and_then(|s| fs::read_dir(d.out().join(s)).ok())
                    .map_or(0, |r| r.count());
                if staged >= k {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(jitter);
        }
        let _ = child.kill(); // SIGKILL; an error when it has already ended
        let status: ExitStatus = child.wait().unwrap();
        if status.success() {
            finished += 1;
        } else {
            assert_eq!(status.code(), None, "iteration {i}: not killed: {status:?}");
            killed += 1;
        }
        let now = d.published();
        assert!(now == before || now == next);
        changed += (now != before) as u32;
        for e in entries(&d.out()) {
            assert!(
                e == "period=2025" || e.starts_with(".period=2025."),
                "iteration {i}: {e} in the output folder"
            );
        }
    }
    eprintln!("a whole run {full:?}; killed {killed}, finished {finished}, published {changed}");
    assert!(killed >= 10, "killed {killed}, finished {finished}");

    // The next run recovers what the killed ones left, and publishes.
    let next = 1 - d.published();
    d.run(next);
    assert_eq!(d.published(), next);
    assert_eq!(entries(&d.out()), ["period=2025"]);
}

#[test]
fn sigterm_and_sigint_remove_the_staging_folder_and_keep_previous_outputs() {
    let d = data([6_000, 6_500]);
    d.run(0);
    let before = snapshot(&d.out().join("period=2025"));
    for (signal, code, stage) in [(libc::SIGTERM, 143, "write"), (libc::SIGINT, 130, "ingest")] {
        let mut child = d.command(1, None).spawn().unwrap();
        // Ingest: the staging folder exists (it is made before ingest). Write: the first
        // table is in it.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let staging: Vec<String> = entries(&d.out())
                .into_iter()
                .filter(|e| e.starts_with(".period=2025.tmp-"))
                .collect();
            let ready = match (stage, staging.first()) {
                (_, None) => false,
                ("ingest", Some(_)) => true,
                (_, Some(s)) => d.out().join(s).join("rates.parquet").exists(),
            };
            if ready {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "{stage}: ended first");
            assert!(Instant::now() < deadline, "{stage}: never reached");
            std::thread::sleep(Duration::from_millis(2));
        }
        send(child.id(), signal);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stage}: {stderr}");
        let name = if signal == libc::SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        assert!(
            stderr.starts_with(&format!(
                "error: stopped by {name}: nothing was published, the previous outputs are unchanged (removed out/.period=2025.tmp-"
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "the run went on: {stderr}");
        assert_eq!(entries(&d.out()), ["period=2025"], "{name}: leftovers");
        assert!(
            snapshot(&d.out().join("period=2025")) == before,
            "{name}: outputs changed"
        );
    }
}

/// A run killed half-way through a publish, by a fault hook rather than by chance.
fn killed_run(fx: &Fixture, fault: &str) {
    let status = Command::new(BIN)
        .args(["run", &fx.toml(), "-q"])
        .current_dir(fx.path())
        .env("PVWATCH_FAULT", fault)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), None, "{fault}: not killed: {status:?}");
}

/// A second data set for the fixture: one more report, so that the outputs differ.
fn change_data(fx: &Fixture) {
    let mut rows = crate::util::good_reports(3);
    rows.push(crate::util::report(
        "R0004",
        "C0004",
        1,
        "2025-03-01",
        "drug",
        "330100",
    ));
    fx.write(
        "reports.csv",
        &crate::util::csv(crate::util::REPORTS_HEADER, &rows),
    );
}

#[test]
fn a_publish_killed_between_its_two_renames_is_restored_by_the_next_run() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let before = snapshot(&fx.p("out/period=2025"));
    change_data(&fx);
    killed_run(&fx, "kill-after-aside");
    // Killed with the previous outputs set aside and the new ones not yet in.
    let left = entries(&fx.p("out"));
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left[0].starts_with(".period=2025.old-") && left[1].starts_with(".period=2025.tmp-"));

    // The next run puts them back before anything else, even when it fails itself.
    let r = fx.run_env(&["run", &fx.toml()], &[("PVWATCH_FAULT", "publish")]);
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("restored the previous outputs, which a publish cut short had set aside"),
        "{}",
        r.stderr
    );
    assert_eq!(entries(&fx.p("out")), ["period=2025"]);
    assert!(
        snapshot(&fx.p("out/period=2025")) == before,
        "not the previous outputs"
    );
}

#[test]
fn a_publish_killed_after_its_exchange_leaves_the_new_outputs_and_no_leftover() {
    let fx = Fixture::new();
    fx.run_pipeline(&[]).expect_ok();
    let before = snapshot(&fx.p("out/period=2025"));
    change_data(&fx);
    killed_run(&fx, "kill-after-exchange");
    let left = entries(&fx.p("out"));
    assert_eq!(left.len(), 2, "{left:?}");
    // The previous outputs wait at the staging name; the new ones are in place.
    assert!(snapshot(&fx.p(&format!("out/{}", left[0]))) == before);
    assert_eq!(whole(&fx.p("out/period=2025")), 4);

    fx.run_pipeline(&[]).expect_ok();
    assert_eq!(entries(&fx.p("out")), ["period=2025"]);
    assert_eq!(whole(&fx.p("out/period=2025")), 4);
}

#[test]
fn run_refuses_to_replace_a_folder_that_is_not_a_previous_output() {
    let fx = Fixture::new();
    fx.write("out/period=2025/notes.txt", "my notes");
    let r = fx.run_pipeline(&[]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        format!(
            "error: {}: the folder exists and holds no manifest.json, so it is not a previous output of pvwatch: pvwatch replaces only its own outputs, so move it away or give another output folder\n",
            fx.ps("out/period=2025")
        )
    );
    assert_eq!(entries(&fx.p("out")), ["period=2025"]);
    assert_eq!(entries(&fx.p("out/period=2025")), ["notes.txt"]);
    assert_eq!(
        fs::read_to_string(fx.p("out/period=2025/notes.txt")).unwrap(),
        "my notes"
    );
}

#[test]
fn an_unusable_output_folder_fails_before_ingest() {
    let fx = Fixture::new();
    // Inputs that would fail ingest (a required column missing): the output folder is
    // found unusable first.
    fx.write("reports.csv", "report_id,class\nR0001,drug\n");
    fx.write("somefile", "");
    let r = fx.run_pipeline(&["--out", "somefile/sub"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        "error: somefile/sub: output folder not usable: cannot create the folder: Not a directory (os error 20)\n"
    );

    // A folder this user may not write to (permissions do not bind root).
    fs::create_dir(fx.p("locked")).unwrap();
    let mut perms = fs::metadata(fx.p("locked")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    fs::set_permissions(fx.p("locked"), perms).unwrap();
    // SAFETY: geteuid has no precondition.
    if unsafe { libc::geteuid() } != 0 {
        let r = fx.run_pipeline(&["--out", "locked"]);
        r.expect_code(2);
        assert_eq!(
            r.stderr,
            "error: locked: output folder not usable: cannot create a folder in it: Permission denied (os error 13)\n"
        );
    }
    assert!(entries(&fx.p("locked")).is_empty());
}
