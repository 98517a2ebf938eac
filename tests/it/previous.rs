//! A damaged earlier period: one clear error naming the file and the two ways on, and
//! `--no-previous` as the way on that works at once.

use std::fs;
use std::path::Path;

use crate::util::{read_json, repo, Fixture, Run};

/// Copy every file of folder `from` into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create folder");
    for e in fs::read_dir(from).expect("read folder") {
        let e = e.expect("entry");
        fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

struct Demo {
    fx: Fixture,
    toml: String,
}

impl Demo {
    fn run(&self, out: &str, extra: &[&str]) -> Run {
        let out = self.fx.ps(out);
        let args = [&["run", self.toml.as_str(), "--out", out.as_str()], extra].concat();
        self.fx.run(&args)
    }
}

/// The demo's 2024 published once; each case copies it into its own output folder.
fn demo_2024() -> Demo {
    let fx = Fixture::empty();
    let toml = repo().join("pipelines/demo.toml").display().to_string();
    let d = Demo { fx, toml };
    d.run("good", &["--period", "2024"]).expect_ok();
    d
}

#[test]
fn a_damaged_previous_period_names_the_file_and_the_ways_on() {
    let d = demo_2024();
    let good = d.fx.p("good/period=2024");
    // Each damage: the file, and what is done to it.
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        ("alerts.jsonl", |p| {
            let text = fs::read_to_string(p).expect("alerts");
            fs::write(p, text.replacen('{', "{oops", 2)).expect("write");
        }),
        ("alerts.jsonl", |p| {
            let text = fs::read(p).expect("alerts");
            fs::write(p, &text[..text.len() / 2]).expect("truncate");
        }),
        ("screening.parquet", |p| {
            fs::write(p, b"not parquet at all").expect("write")
        }),
        // A readable Parquet file that is not a screening list.
        ("screening.parquet", |p| {
            fs::copy(p.with_file_name("rates.parquet"), p).expect("copy");
        }),
        ("manifest.json", |p| {
            fs::write(p, "{\"pipeline\": ").expect("write")
        }),
    ];
    for (i, (file, damage)) in damages.iter().enumerate() {
        let out = format!("out{i}");
        copy_dir(&good, &d.fx.p(&format!("{out}/period=2024")));
        let damaged = d.fx.p(&format!("{out}/period=2024/{file}"));
        damage(&damaged);
        let r = d.run(&out, &["--period", "2025"]);
        r.expect_code(2);
        let head = format!(
            "error: {}: the previous run (period 2024) is damaged: ",
            damaged.display()
        );
        assert!(r.stderr.starts_with(&head), "{file}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("rerun that period (`pvwatch run PIPELINE --period 2024`)")
                && r.stderr.contains("run this period with `--no-previous`"),
            "{file}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "one error: {}", r.stderr);
        assert!(
            !d.fx.p(&format!("{out}/2025")).exists(),
            "{file}: nothing published"
        );
    }
}

#[test]
fn no_previous_runs_as_a_first_batch_and_says_so() {
    let d = demo_2024();
    let good = d.fx.p("good/period=2024");
    copy_dir(&good, &d.fx.p("damaged/period=2024"));
    fs::write(d.fx.p("damaged/period=2024/screening.parquet"), "damaged").expect("write");
    let r = d.run("damaged", &["--period", "2025", "--no-previous"]);
    r.expect_ok();
    assert!(
        r.stdout
            .contains("(previous run not read, --no-previous: statuses as in a first batch)"),
        "{}",
        r.stdout
    );
    let m = read_json(&d.fx.p("damaged/period=2025/manifest.json"));
    assert_eq!(m["alerts"]["previous_skipped"], true);
    assert_eq!(m["alerts"]["previous_period"], serde_json::Value::Null);
    assert_eq!(
        m["alerts"]["by_status"]["new"], m["alerts"]["total"],
        "every alert new"
    );

    // The same alerts as a 2025 run with no earlier period at all, line for line.
    d.run("alone", &["--period", "2025"]).expect_ok();
    let alone = read_json(&d.fx.p("alone/period=2025/manifest.json"));
    assert_eq!(alone["alerts"]["previous_skipped"], false);
    assert_eq!(
        fs::read_to_string(d.fx.p("damaged/period=2025/alerts.jsonl")).expect("alerts"),
        fs::read_to_string(d.fx.p("alone/period=2025/alerts.jsonl")).expect("alerts"),
    );
    // And the good previous period is still used when it is whole.
    copy_dir(&good, &d.fx.p("whole/period=2024"));
    d.run("whole", &["--period", "2025"]).expect_ok();
    let whole = read_json(&d.fx.p("whole/period=2025/manifest.json"));
    assert_eq!(whole["alerts"]["previous_period"], "2024");
    assert_eq!(whole["alerts"]["previous_skipped"], false);
}
