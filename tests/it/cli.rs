//! The command line: subcommands, flags, exit codes, the summary and the log lines.

use std::fs;

use serde_json::json;

use crate::util::*;

/// A pipeline whose row accounting has every kind of row: reports R0001…R0003 (3 cases),
/// R0004 a version 2 of C0001 (superseded R0001), R0005 a bad date (rejected); one product
/// and one event row for R0001 and for R0004. Tolerance 0.5, so the reject is allowed.
///
/// read 5+2+2+1+1 = 11; used 3+1+1+1+1 = 7; superseded 1+1+1 = 3; rejected 1.
fn accounting_fixture() -> Fixture {
    let fx = Fixture::new();
    let mut rows = good_reports(3);
    rows.push(report("R0004", "C0001", 2, "2025-02-01", "drug", "330100"));
    rows.push(report("R0005", "C0005", 1, "2025-02-30", "drug", "330100"));
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    fx.write(
        "report_products.csv",
        "report_id,product_id,role\nR0001,D001,suspect\nR0004,D001,suspect\n",
    );
    fx.write(
        "report_events.csv",
        "report_id,event\nR0001,Rash\nR0004,Rash\n",
    );
    fx.pipeline("", "[ingest]\nmax_rejected_fraction = 0.5\n");
    fx
}

#[test]
fn help_lists_run_and_validate() {
    let fx = Fixture::empty();
    let r = fx.run(&["--help"]);
    r.expect_ok();
    assert!(r.stdout.contains("Usage: pvwatch"), "{}", r.stdout);
    let commands: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"run"), "{}", r.stdout);
    assert!(commands.contains(&"validate"), "{}", r.stdout);
    assert_eq!(r.stderr, "");

    let r = fx.run(&["run", "--help"]);
    r.expect_ok();
    for flag in ["--period", "--out", "--lang", "--quiet", "--log-format"] {
        assert!(
            r.stdout.contains(flag),
            "run --help lacks {flag}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn version_is_the_package_version() {
    let fx = Fixture::empty();
    let r = fx.run(&["--version"]);
    r.expect_ok();
    assert_eq!(r.stdout, format!("pvwatch {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let fx = Fixture::empty();
    let r = fx.run(&["frobnicate"]);
    r.expect_code(2);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr.lines().next(),
        Some("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_period_flag_is_a_usage_error() {
    let fx = Fixture::new();
    let r = fx.run_pipeline(&["--period", "2025-13"]);
    r.expect_code(2);
    assert_eq!(
        r.stderr.lines().next(),
        Some(
            "error: invalid value '2025-13' for '--period <PERIOD>': expected a period like \
             `2025`, `2025-Q3` or `2025-07`, found `2025-13`"
        ),
        "{}",
        r.stderr
    );
    assert!(!fx.p("out").exists(), "a usage error writes nothing");
}

#[test]
fn run_prints_summary_with_row_accounting() {
    let fx = accounting_fixture();
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    let d = fx.d();
    assert_eq!(
        mask_seconds(&r.stdout),
        format!(
            "pvwatch: pipeline `p` for 2025 finished in T s. Read 11 rows from 5 tables: 7 used, \
             3 superseded (older case versions, or received after the period), 1 rejected (see {d}/out/period=2025/rejects.csv). \
             3 cases were first received in the period; rates: 3 region × class rows, 0 of 3 \
             with a target on track; signals: 0 watched product × event pairs, 0 flagged; \
             alerts: 3 open (P0 0, P1 0, P2 0, P3 3), 3 new, 0 escalated, 0 resolved. \
             Outputs: {d}/out/period=2025\n\
             drug: too few pairs (1, fewer than the minimum 500) to fit a prior, and the prior \
             pooled over all classes is unusable too (too few pairs (1, fewer than the minimum \
             500) to fit a prior); EBGM uses the fixed prior\n"
        )
    );
    for f in [
        "rates.parquet",
        "signals.parquet",
        "rejects.csv",
        "manifest.json",
    ] {
        assert!(fx.p("out/period=2025").join(f).is_file(), "{f} is written");
    }
    // The manifest lists the files with their rows.
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    let outputs = manifest["outputs"].as_array().expect("manifest.outputs");
    let rows = |file: &str| {
        outputs
            .iter()
            .find(|o| o["file"] == file)
            .unwrap_or_else(|| panic!("{file} is not in manifest.outputs"))["rows"]
            .as_u64()
    };
    assert_eq!(rows("rates.parquet"), Some(3));
    assert_eq!(rows("rejects.csv"), Some(1));
}

#[test]
fn output_dir_that_is_a_file_is_a_usage_error() {
    let fx = Fixture::new();
    fx.write("blocker", "");
    let blocker = fx.ps("blocker");
    let r = fx.run_pipeline(&["--out", &blocker]);
    // Found before ingest, and a retry would fail the same way (issue 18, item 4).
    r.expect_code(2);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [format!(
            "error: {blocker}: output folder not usable: cannot create the folder: File exists (os error 17)"
        )]
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn lang_zh_gives_the_chinese_summary() {
    let fx = accounting_fixture();
    let r = fx.run_pipeline(&["--lang", "zh"]);
    r.expect_ok();
    let d = fx.d();
    assert_eq!(
        mask_seconds(&r.stdout),
        format!(
            "pvwatch：流水线 `p`（2025）运行完成，用时 T 秒。读取 5 个表共 11 行：使用 7 行，\
             被跟踪报告替代或晚于本期收到 3 行，拒收 1 行（见 {d}/out/period=2025/rejects.csv）。本期首次收到病例 3 例；\
             报告率共 3 行（地区 × 类别），有目标的 3 行中 0 行达标；信号检测：重点监测产品 × 不良事件组合 0 个，其中提示信号 0 个；预警：未关闭 3 条（P0 0，P1 0，P2 0，P3 3），新增 3 条，升级 0 条，解除 0 条。输出目录：{d}/out/period=2025\n\
             drug：组合数太少（1 个，少于最低要求 500 个），无法拟合先验，合并所有类别拟合的先验也不可用（组合数太少（1 个，少于最低要求 500 个），无法拟合先验）；EBGM 使用固定先验\n"
        )
    );
    let manifest = read_json(&fx.p("out/period=2025/manifest.json"));
    assert_eq!(manifest["lang"], "zh");
}

#[test]
fn quiet_prints_nothing() {
    let fx = accounting_fixture();
    let r = fx.run_pipeline(&["-q"]);
    r.expect_ok();
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "", "no logs under --quiet");
    assert!(fx.p("out/period=2025/manifest.json").is_file());

    let toml = fx.toml();
    let r = fx.run(&["validate", "-q", &toml]);
    r.expect_ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

#[test]
fn validate_prints_accounting_and_writes_nothing() {
    let fx = accounting_fixture();
    let toml = fx.toml();
    let r = fx.run(&["validate", &toml]);
    r.expect_ok();
    let d = fx.d();
    assert_eq!(
        r.stdout,
        format!(
            "\
table                  read        used   superseded    rejected  file
reports                   5           3            1           1  {d}/reports.csv
report_products           2           1            1           0  {d}/report_products.csv
report_events             2           1            1           0  {d}/report_events.csv
products                  1           1            0           0  {d}/products.csv
populations               1           1            0           0  {d}/populations.csv
reject: {d}/reports.csv: line 6, column `received_date`: expected a date YYYY-MM-DD, found `2025-02-30`
pvwatch: `p`: ok
"
        )
    );
    assert!(!fx.p("out").exists(), "validate created the output dir");
    assert_eq!(
        entries(fx.path()),
        [
            "p.toml",
            "populations.csv",
            "products.csv",
            "report_events.csv",
            "report_products.csv",
            "reports.csv"
        ],
        "validate wrote into the pipeline's folder"
    );
}

#[test]
fn validate_speaks_chinese_with_lang_zh() {
    let fx = accounting_fixture();
    let toml = fx.toml();
    let r = fx.run(&["validate", "--lang", "zh", &toml]);
    r.expect_ok();
    let d = fx.d();
    assert!(
        r.stdout.starts_with("表 "),
        "the header is in Chinese: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "拒收：{d}/reports.csv：第 6 行，列 `received_date`：应为日期（YYYY-MM-DD），实际为 `2025-02-30`\n"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("pvwatch: `p`: 通过\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("expected"), "{}", r.stdout);
}

#[test]
fn out_and_period_flags_override_the_pipeline() {
    let fx = Fixture::new();
    let elsewhere = fx.ps("elsewhere");
    let r = fx.run_pipeline(&["--out", &elsewhere, "--period", "2025-Q1"]);
    r.expect_ok();
    assert!(
        !fx.p("out").exists(),
        "the pipeline's output_dir is not used"
    );
    assert_eq!(entries(&fx.p("elsewhere")), ["period=2025-Q1"]);
    let dir = fx.p("elsewhere/period=2025-Q1");
    for f in ["manifest.json", "rates.parquet", "rejects.csv"] {
        assert!(dir.join(f).is_file(), "no {f}");
    }
    let manifest = read_json(&dir.join("manifest.json"));
    assert_eq!(manifest["period"], "2025-Q1");
    assert_eq!(manifest["period_start"], "2025-01-01");
    assert_eq!(manifest["period_end"], "2025-03-31");
    let rates = read_parquet(&dir.join("rates.parquet"));
    assert!(!rates.rows.is_empty());
    for v in rates.column("period") {
        assert_eq!(v, Value::Str("2025-Q1".into()));
    }
    assert!(r.stdout.contains(&format!("Outputs: {}", dir.display())));

    // A relative --out is relative to the working directory.
    let r = fx.run_pipeline(&["--out", "rel"]);
    r.expect_ok();
    assert!(fx.p("rel/period=2025/manifest.json").is_file());
}

/// The stages named in the log lines, in order; `ingest`, `rates` and `write` each once
/// and in that order (a stage added between them does not break this test).
#[track_caller]
fn assert_stage_order(stages: &[String]) {
    let pos = |s: &str| {
        let hits: Vec<usize> = (0..stages.len()).filter(|&i| stages[i] == s).collect();
        assert_eq!(
            hits.len(),
            1,
            "stage `{s}` logged {} times: {stages:?}",
            hits.len()
        );
        hits[0]
    };
    let (ingest, rates, signals, write) =
        (pos("ingest"), pos("rates"), pos("signals"), pos("write"));
    assert!(
        ingest == 0 && ingest < rates && rates < signals && signals < write,
        "{stages:?}"
    );
    assert_eq!(write, stages.len() - 1, "{stages:?}");
    let mut unique = stages.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        stages.len(),
        "a stage logged twice: {stages:?}"
    );
}

#[test]
fn off_a_terminal_each_stage_logs_one_line() {
    let fx = accounting_fixture();
    let r = fx.run_pipeline(&[]);
    r.expect_ok();
    let mut stages = Vec::new();
    // Warnings (e.g. a prior fit at its bounds on this tiny fixture) may come too; every
    // INFO line is a stage line in the run's span, but the last: `run finished`.
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.contains(" WARN ")).collect();
    let (last, stage_lines) = lines.split_last().expect("log lines");
    assert!(
        last.contains(" INFO run{pipeline=\"p\" period=2025}: run finished exit_code=0 output="),
        "{last}"
    );
    for line in stage_lines {
        assert!(
            !line.contains('\u{1b}'),
            "no colours off a terminal: {line:?}"
        );
        assert!(
            line.contains(" INFO run{pipeline=\"p\" period=2025}: stage finished stage=\""),
            "{line}"
        );
        assert!(line.contains(" elapsed_ms="), "{line}");
        let stage = line
            .split("stage=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a stage name");
        stages.push(stage.to_string());
    }
    assert_stage_order(&stages);
}

#[test]
fn log_format_json_makes_json_lines() {
    let fx = accounting_fixture();
    let r = fx.run_pipeline(&["--log-format", "json"]);
    r.expect_ok();
    let lines: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Every line names the pipeline and the period of the run, from the run's span.
    for v in &lines {
        assert_eq!(
            (&v["span"]["pipeline"], &v["span"]["period"]),
            (&json!("p"), &json!("2025")),
            "{v}"
        );
        assert!(v["timestamp"].is_string(), "{v}");
    }
    let (last, rest) = lines.split_last().expect("log lines");
    let mut stages = Vec::new();
    for v in rest.iter().filter(|v| v["level"] != "WARN") {
        assert_eq!(v["level"], "INFO", "{v}");
        assert_eq!(v["fields"]["message"], "stage finished", "{v}");
        assert!(v["fields"]["elapsed_ms"].is_u64(), "{v}");
        let stage = v["fields"]["stage"].as_str().expect("a stage name");
        stages.push(stage.to_string());
    }
    assert_stage_order(&stages);
    // The last line is the one an orchestrator parses: exit code, outputs and timings.
    let f = &last["fields"];
    assert_eq!(
        (&last["level"], &f["message"]),
        (&json!("INFO"), &json!("run finished"))
    );
    assert_eq!(f["exit_code"], 0, "{last}");
    let out = period_dir(&fx.p("out"), "2025");
    assert_eq!(f["output"], json!(out.display().to_string()), "{last}");
    let files: Vec<&str> = f["outputs"].as_str().expect("outputs").split(',').collect();
    for file in files.iter().chain(&["manifest.json"]) {
        assert!(
            out.join(file).is_file(),
            "{file} listed but not published: {last}"
        );
    }
    assert!(
        files.contains(&"alerts.jsonl") && files.contains(&"rates.parquet"),
        "{last}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    for t in [
        "ingest_ms",
        "rates_ms",
        "signals_ms",
        "alerts_ms",
        "write_ms",
        "total_ms",
    ] {
        assert_eq!(f[t], manifest["timings_ms"][t], "{t}: {last}");
    }
    assert_eq!(f["rows_read"], manifest["rows"]["read"], "{last}");
    assert!(f["elapsed_ms"].as_u64() >= f["total_ms"].as_u64(), "{last}");
    // The summary still goes to stdout.
    assert!(r.stdout.starts_with("pvwatch: pipeline `p` for 2025"));
}

#[test]
fn a_failed_run_ends_its_json_log_with_the_exit_code_and_the_error() {
    let fx = Fixture::new();
    // Half the reports rejected: more than the 1% tolerance, exit 3, after the pipeline
    // was read (so the span names it).
    let mut rows = good_reports(10);
    for r in rows.iter_mut().take(5) {
        *r = r.replace(",drug,", ",vaccine,");
    }
    fx.write("reports.csv", &csv(REPORTS_HEADER, &rows));
    let r = fx.run_pipeline(&["--log-format", "json", "--period", "2025-Q1"]);
    r.expect_code(3);
    let lines: Vec<serde_json::Value> = r
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for v in &lines {
        assert_eq!(
            (&v["span"]["pipeline"], &v["span"]["period"]),
            (&json!("p"), &json!("2025-Q1")),
            "{v}"
        );
    }
    let last = lines.last().expect("a log line");
    let f = &last["fields"];
    assert_eq!(
        (&last["level"], &f["message"]),
        (&json!("ERROR"), &json!("run finished"))
    );
    assert_eq!(f["exit_code"], 3, "{last}");
    let error = f["error"].as_str().expect("the error text");
    assert!(
        error.contains("reports.csv") && error.contains("vaccine"),
        "{error}"
    );

    // Even with --quiet the error is not lost.
    let q = fx.run_pipeline(&["--log-format", "json", "--quiet"]);
    q.expect_code(3);
    let only: Vec<&str> = q.stderr.lines().collect();
    assert_eq!(only.len(), 1, "{}", q.stderr);
    let v: serde_json::Value = serde_json::from_str(only[0]).expect("JSON");
    assert_eq!(v["span"]["pipeline"], "p", "{v}");
    assert_eq!(
        (&v["fields"]["message"], &v["fields"]["exit_code"]),
        (&json!("run finished"), &json!(3))
    );
}

/// `pvwatch user passwd` with `stdin` as its one line of input.
fn passwd_with_stdin(fx: &Fixture, name: &str, stdin: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::util::BIN)
        .args(["user", "passwd", &fx.toml(), name])
        .current_dir(fx.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pvwatch");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for pvwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn user_commands_manage_the_review_database() {
    let fx = Fixture::new();
    fx.pipeline("", "");
    let toml = fx.toml();
    let r = fx.run(&["user", "list", &toml]);
    r.expect_ok();
    assert_eq!(r.stdout, "(no users; add one with `pvwatch user add`)\n");
    assert!(fx.p("out/pvwatch.db").exists(), "created on first use");

    let r = fx.run(&[
        "user", "add", &toml, "li", "--role", "reviewer", "--region", "330100",
    ]);
    r.expect_ok();
    assert_eq!(
        r.stdout,
        "added user `li` (role reviewer, 杭州市 (330100)); set a password with `pvwatch user passwd` before they can log in\n"
    );
    let r = fx.run(&["user", "add", &toml, "li", "--role", "viewer"]);
    r.expect_code(2);
    assert_eq!(r.stderr, "error: user `li` already exists\n");
    fx.run(&["user", "add", &toml, "wang", "--role", "chief"])
        .expect_code(2);
    let r = fx.run(&[
        "user", "add", &toml, "wang", "--role", "viewer", "--region", "3301",
    ]);
    r.expect_code(2);
    assert_eq!(
        r.stderr,
        "error: region: expected a 6-digit GB/T 2260 region code, found `3301`\n"
    );

    // The password is one line of stdin when stdin is not a terminal, never an argument.
    let (code, stderr) = passwd_with_stdin(&fx, "li", "");
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: expected the password as one line on stdin, found none\n"
        )
    );
    let (code, stderr) = passwd_with_stdin(&fx, "li", "short\n");
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: password: expected at least 10 characters, found 5\n"
        )
    );
    let (code, stderr) = passwd_with_stdin(&fx, "li", "a long enough password\n");
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = passwd_with_stdin(&fx, "nobody", "a long enough password\n");
    assert_eq!(
        (code, stderr.as_str()),
        (2, "error: unknown user `nobody`\n")
    );

    let r = fx.run(&["user", "token", &toml, "li"]);
    r.expect_ok();
    let token = r.stdout.trim_end();
    assert!(
        token.starts_with("pvw_") && !token.contains(char::is_whitespace),
        "{token}"
    );
    assert!(!std::fs::read(fx.p("out/pvwatch.db"))
        .unwrap()
        .windows(token.len())
        .any(|w| w == token.as_bytes()));

    let r = fx.run(&["user", "list", &toml]);
    r.expect_ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(
        lines[0].starts_with("name  role      region"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("li    reviewer  杭州市 (330100)  "),
        "{}",
        lines[1]
    );
    assert!(!r.stdout.contains("argon2"));

    fx.run(&["user", "remove", &toml, "li"]).expect_ok();
    let r = fx.run(&["user", "remove", &toml, "li"]);
    r.expect_code(2);
    assert_eq!(r.stderr, "error: unknown user `li`\n");
}
