use super::*;

#[test]
fn refuses_unsigned_and_null_columns() {
    let df = DataFrame::new_infer_height(vec![Column::new("n".into(), [1u32, 2])]).unwrap();
    assert_eq!(
        check_bi_types(&df).unwrap_err(),
        "column `n` has type u32, which BI readers may not take"
    );
    let df = DataFrame::new_infer_height(vec![Column::new("n".into(), [1i64, 2])]).unwrap();
    assert!(check_bi_types(&df).is_ok());
    let strings = Series::new("s".into(), ["a", "b"]).implode().unwrap();
    let df = DataFrame::new_infer_height(vec![strings.into_column()]).unwrap();
    assert!(check_bi_types(&df).is_ok(), "lists of strings are allowed");
    let ints = Series::new("i".into(), [1i64, 2]).implode().unwrap();
    let df = DataFrame::new_infer_height(vec![ints.into_column()]).unwrap();
    assert_eq!(
        check_bi_types(&df).unwrap_err(),
        "column `i` has type list[i64], which BI readers may not take"
    );
}

// ---------------------------------------------------------------------------------------
// Publishing and recovery.

use std::path::Path;
use std::process::{Child, Command};

use super::recover::{self, leftover_name, parse, Kind, Leftover};
use super::stamp::MARKER;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A folder of previous outputs: a manifest and one file holding `text`.
fn outputs(dir: &Path, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(MANIFEST), "{}").unwrap();
    fs::write(dir.join("rates.parquet"), text).unwrap();
}

/// The id of a process that has ended (and been reaped).
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A time well before now, as a leftover's name records it.
fn an_hour_ago() -> u64 {
    super::stamp::now_ns() - 3_600_000_000_000
}

fn sleeper() -> Child {
    Command::new("sleep").arg("30").spawn().unwrap()
}

#[test]
fn leftover_names_parse_back_and_nothing_else_does() {
    for (target, kind) in [
        ("2025", Kind::Tmp),
        ("2025-Q3", Kind::Old),
        ("tables.v2", Kind::Trash),
    ] {
        let name = leftover_name(target, kind, 4242, 1_796_000_000_123_456_789);
        assert_eq!(
            parse(&name),
            Some(Leftover {
                target: target.to_string(),
                kind,
                pid: 4242,
                nanos: 1_796_000_000_123_456_789
            }),
            "{name}"
        );
    }
    assert_eq!(
        leftover_name("2025", Kind::Tmp, 7, 9),
        ".2025.tmp-7-9",
        "the name today's runs already use"
    );
    for other in [
        "2025",
        ".2025",
        ".2025.tmp-12-",
        ".2025.tmp-x-12",
        ".2025.tmp-12",
        ".tmp-1-2",
        ".2025.bak-1-2",
        ".2025.tmp-99999999999-1",
        "2025.tmp-1-2",
    ] {
        assert_eq!(parse(other), None, "{other}");
    }
}

#[test]
fn unpublished_staging_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = {
        let s = Staging::create(dir.path(), "2025").unwrap();
        let marker: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(s.tmp.join(MARKER)).unwrap()).unwrap();
        assert_eq!(marker["pid"], std::process::id());
        assert_eq!(marker["target"], "2025");
        s.tmp.clone()
    };
    assert!(!tmp.exists());
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn a_folder_made_for_the_staging_is_removed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/nested");
    drop(Staging::create(&out, "2025").unwrap());
    assert!(
        !out.exists(),
        "an empty output folder this run made is not left"
    );
    assert_eq!(
        names(dir.path()),
        ["out"],
        "only the innermost is made here"
    );
}

#[test]
fn publish_replaces_previous_outputs() {
    for try_exchange in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        outputs(&dir.path().join("2025"), "old");
        fs::write(dir.path().join("2025/old.txt"), "old").unwrap();
        let mut s = Staging::create(dir.path(), "2025").unwrap();
        s.write_text("rates.parquet", "new").unwrap();
        s.write_json(MANIFEST, &serde_json::json!({"a": 1}))
            .unwrap();
        s.publish_with(try_exchange).unwrap();
        assert_eq!(
            names(&dir.path().join("2025")),
            [MANIFEST, "rates.parquet"],
            "no marker, nothing of the old outputs (exchange: {try_exchange})"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("2025/rates.parquet")).unwrap(),
            "new"
        );
        assert_eq!(names(dir.path()), ["2025"], "exchange: {try_exchange}");
    }
}

#[test]
fn a_folder_that_is_not_a_previous_output_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("2025");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("notes.txt"), "mine").unwrap();
    let e = Staging::create(dir.path(), "2025").err().unwrap();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        format!("{}: the folder exists and holds no manifest.json, so it is not a previous output of pvwatch: pvwatch replaces only its own outputs, so move it away or give another output folder", target.display())
    );
    assert_eq!(names(dir.path()), ["2025"], "no staging folder made");

    // The same when the folder appears while the run works.
    fs::remove_dir_all(&target).unwrap();
    let mut s = Staging::create(dir.path(), "2025").unwrap();
    s.write_json(MANIFEST, &serde_json::json!({})).unwrap();
    fs::create_dir(&target).unwrap();
    fs::write(target.join("notes.txt"), "mine").unwrap();
    assert_eq!(s.publish().err().unwrap().exit_code(), 2);
    assert_eq!(
        fs::read_to_string(target.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(names(dir.path()), ["2025"]);

    // A file in its place.
    fs::remove_dir_all(&target).unwrap();
    fs::write(&target, "a file").unwrap();
    let e = Staging::create(dir.path(), "2025").err().unwrap();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("found a file"), "{e}");

    // An empty folder holds nothing to lose.
    fs::remove_file(&target).unwrap();
    fs::create_dir(&target).unwrap();
    let mut s = Staging::create(dir.path(), "2025").unwrap();
    s.write_json(MANIFEST, &serde_json::json!({})).unwrap();
    s.publish().unwrap();
    assert_eq!(names(&target), [MANIFEST]);
}

#[test]
fn an_unusable_output_folder_fails_at_once_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("somefile");
    fs::write(&file, "").unwrap();
    let out = file.join("sub");
    let e = Staging::create(&out, "2025").err().unwrap();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: output folder not usable: cannot create the folder: Not a directory (os error 20)",
            out.display()
        )
    );
}

#[test]
fn outputs_set_aside_by_a_dead_publish_are_restored() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dead_pid();
    let t = an_hour_ago();
    // Killed between its two renames: the previous outputs aside, the new ones staged.
    outputs(
        &dir.path()
            .join(leftover_name("2025", Kind::Old, pid, t + 2)),
        "prev",
    );
    outputs(
        &dir.path()
            .join(leftover_name("2025", Kind::Tmp, pid, t + 1)),
        "new",
    );
    // An older set-aside copy of the same period, from an earlier crash.
    outputs(
        &dir.path().join(leftover_name("2025", Kind::Old, pid, t)),
        "older",
    );
    recover::recover(dir.path());
    assert_eq!(names(dir.path()), ["2025"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("2025/rates.parquet")).unwrap(),
        "prev",
        "the latest set-aside outputs are the ones restored, the rest removed"
    );
}

#[test]
fn stale_leftovers_of_ours_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    outputs(&d.join("2025"), "current");
    let pid = dead_pid();
    let t = an_hour_ago();
    let with_marker = d.join(leftover_name("2025", Kind::Tmp, pid, t));
    fs::create_dir(&with_marker).unwrap();
    fs::write(with_marker.join(MARKER), "{}").unwrap();
    fs::write(with_marker.join("cases.parquet"), "x").unwrap();
    // A kill after the exchange: the previous outputs at the staging name.
    outputs(
        &d.join(leftover_name("2025", Kind::Tmp, pid, t + 1)),
        "prev",
    );
    // Obsolete: the target exists.
    outputs(
        &d.join(leftover_name("2025", Kind::Old, pid, t + 2)),
        "prev",
    );
    // A removal cut short.
    let trash = d.join(leftover_name("2025", Kind::Trash, pid, t + 3));
    fs::create_dir(&trash).unwrap();
    fs::write(trash.join("alerts.csv"), "x").unwrap();
    // Empty: made, then killed before its marker was written.
    fs::create_dir(d.join(leftover_name("2024", Kind::Tmp, pid, t + 4))).unwrap();
    // A conversion's.
    let conv = d.join(leftover_name("tables", Kind::Tmp, pid, t + 5));
    fs::create_dir(&conv).unwrap();
    fs::write(conv.join(super::CONVERT_MANIFEST), "{}").unwrap();

    // Not ours: no marker, no manifest.
    let foreign = leftover_name("2025", Kind::Tmp, pid, t + 6);
    fs::create_dir(d.join(&foreign)).unwrap();
    fs::write(d.join(&foreign).join("notes.txt"), "mine").unwrap();
    // Not a leftover's name at all.
    fs::create_dir(d.join(".2025.tmp-backup")).unwrap();
    fs::write(d.join(".2025.tmp-backup").join(MANIFEST), "{}").unwrap();
    // Another machine's run on a shared disk.
    let remote = leftover_name("2025", Kind::Tmp, pid, t + 7);
    fs::create_dir(d.join(&remote)).unwrap();
    fs::write(
        d.join(&remote).join(MARKER),
        r#"{"pvwatch":"0.1.0","pid":1,"host":"another-host","created_unix_ns":1,"target":"2025"}"#,
    )
    .unwrap();

    recover::recover(d);
    let mut want = vec![
        ".2025.tmp-backup".to_string(),
        "2025".to_string(),
        foreign,
        remote,
    ];
    want.sort();
    assert_eq!(names(d), want);
    assert_eq!(
        fs::read_to_string(d.join("2025/rates.parquet")).unwrap(),
        "current"
    );
}

#[test]
fn a_live_run_keeps_its_staging_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sleeper();
    // Made by the live process, after it started (a folder can be made no earlier).
    std::thread::sleep(std::time::Duration::from_millis(50));
    let name = leftover_name("2025", Kind::Tmp, child.id(), super::stamp::now_ns());
    fs::create_dir(dir.path().join(&name)).unwrap();
    fs::write(dir.path().join(&name).join(MARKER), "{}").unwrap();
    // And this process's own staging folder.
    let own = Staging::create(dir.path(), "2025").unwrap();
    recover::recover(dir.path());
    assert!(
        dir.path().join(&name).exists(),
        "a live run's folder was removed"
    );
    assert!(own.tmp.exists(), "this run's own folder was removed");

    child.kill().unwrap();
    child.wait().unwrap();
    recover::recover(dir.path());
    assert!(
        !dir.path().join(&name).exists(),
        "a dead run's folder is kept"
    );
    assert!(own.tmp.exists());
}

#[test]
fn a_reused_pid_does_not_keep_a_dead_run_s_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sleeper();
    // Named with the pid of a process that started after the folder was made.
    let name = leftover_name("2025", Kind::Tmp, child.id(), an_hour_ago());
    fs::create_dir(dir.path().join(&name)).unwrap();
    fs::write(dir.path().join(&name).join(MARKER), "{}").unwrap();
    recover::recover(dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir.path().join(&name).exists());
}

#[test]
fn process_start_times_come_from_proc() {
    let now = super::stamp::now_ns();
    let me = recover::process_started_ns(std::process::id()).unwrap();
    assert!(me <= now + 2_000_000_000, "{me} vs {now}");
    assert!(me > now - 86_400_000_000_000, "started within the day");
    assert_eq!(recover::process_started_ns(dead_pid()), None);
}

#[test]
fn a_stale_manifest_replacement_inside_a_published_folder_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    outputs(&d.join("2025"), "current");
    // Left by a run killed while adding webhook deliveries to its published manifest.
    let stale = d.join("2025").join(leftover_name(
        "manifest.json",
        Kind::Tmp,
        dead_pid(),
        an_hour_ago(),
    ));
    fs::write(&stale, "{").unwrap();
    // This process's own, being written now, and a user's file: both left alone.
    let live = d.join("2025").join(leftover_name(
        "manifest.json",
        Kind::Tmp,
        std::process::id(),
        super::stamp::now_ns(),
    ));
    fs::write(&live, "{").unwrap();
    fs::write(d.join("2025/.notes.txt"), "mine").unwrap();
    recover::recover(d);
    assert!(!stale.exists(), "the stale replacement is removed");
    assert!(live.exists(), "a live process's file is kept");
    assert!(d.join("2025/.notes.txt").exists());
    assert_eq!(
        fs::read_to_string(d.join("2025/rates.parquet")).unwrap(),
        "current"
    );
}

// ---------------------------------------------------------------------------------------
// Period folders (hive layout) and the old layout.

#[test]
fn period_folders_are_hive_style_and_the_old_layout_is_recognised() {
    let q3: Period = "2025-Q3".parse().unwrap();
    assert_eq!(period_folder(&q3), "period=2025-Q3");
    assert_eq!(
        parse_period_folder("period=2025-Q3"),
        Some((q3, FolderLayout::Hive))
    );
    assert_eq!(
        parse_period_folder("2025-Q3"),
        Some((q3, FolderLayout::Bare))
    );
    let month: Period = "2025-07".parse().unwrap();
    assert_eq!(
        parse_period_folder("period=2025-07"),
        Some((month, FolderLayout::Hive))
    );
    for other in [
        "period=",
        "period=Q3",
        "period=2025-Q3x",
        "Period=2025",
        "period=period=2025",
        ".period=2025.tmp-1-2",
        "notes",
    ] {
        assert_eq!(parse_period_folder(other), None, "{other}");
    }
    assert!(
        FolderLayout::Hive > FolderLayout::Bare,
        "the new layout wins a tie"
    );
}

#[test]
fn staging_names_of_hive_folders_round_trip() {
    for target in ["period=2025", "period=2025-Q3", "period=2025-07", "2025-Q3"] {
        for kind in [Kind::Tmp, Kind::Old, Kind::Trash] {
            let name = leftover_name(target, kind, 4242, 1_700_000_000_123_456_789);
            assert!(name.starts_with(&format!(".{target}.")), "{name}");
            assert_eq!(
                parse(&name),
                Some(Leftover {
                    target: target.to_string(),
                    kind,
                    pid: 4242,
                    nanos: 1_700_000_000_123_456_789,
                }),
                "{name}"
            );
        }
    }
    assert_eq!(parse(".period=2025.tmp-x-1"), None);
}

#[test]
fn recovery_restores_a_hive_folder_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = d.join(leftover_name(
        "period=2025-Q3",
        Kind::Old,
        dead_pid(),
        an_hour_ago(),
    ));
    outputs(&old, "previous");
    recover::recover(d);
    assert_eq!(names(d), ["period=2025-Q3"]);
    assert_eq!(
        fs::read_to_string(d.join("period=2025-Q3/rates.parquet")).unwrap(),
        "previous"
    );
}

// ---------------------------------------------------------------------------------------
// The alerts files.

#[test]
fn alerts_parquet_written_in_chunks_reads_back_as_one_table() {
    use crate::alerts::{Kind, Priority, Status};
    let alerts: Vec<Alert> = (0..5)
        .map(|i| {
            let mut a = Alert::example(
                &format!("id-{i}"),
                [Kind::Cluster, Kind::NewSignal][i % 2],
                Priority::P2,
                Status::New,
            );
            a.numbers = serde_json::json!({"cases": i, "prr": 1.5 * i as f64, "x": "y"})
                .as_object()
                .unwrap()
                .clone();
            a.product_id = (i % 3 == 0).then(|| format!("P{i}"));
            a
        })
        .collect();
    for chunk in [2, 5, 50_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::create(dir.path(), "2025").unwrap();
        s.write_alerts_in_chunks(&alerts, chunk, |_| Ok(()))
            .unwrap();
        let rows: Vec<(String, u64)> = s.written.iter().map(|f| (f.file.clone(), f.rows)).collect();
        assert_eq!(
            rows,
            [
                (ALERTS_JSONL.to_string(), 5),
                (ALERTS_CSV.to_string(), 5),
                (ALERTS_PARQUET.to_string(), 5)
            ]
        );
        let f = fs::File::open(s.tmp.join(ALERTS_PARQUET)).unwrap();
        let back = ParquetReader::new(f).finish().unwrap();
        let want = alerts_table(&alerts).unwrap();
        assert!(
            back.equals_missing(&want),
            "chunk {chunk}: {back} vs {want}"
        );
        // No part file is left beside the outputs.
        let mut left: Vec<String> = fs::read_dir(&s.tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".part-"))
            .collect();
        left.sort();
        assert!(left.is_empty(), "{left:?}");
        // JSON lines: each alert as serde writes it, one per line.
        let jsonl = fs::read_to_string(s.tmp.join(ALERTS_JSONL)).unwrap();
        let want: String = alerts
            .iter()
            .map(|a| serde_json::to_string(a).unwrap() + "\n")
            .collect();
        assert_eq!(jsonl, want);
    }
}

#[test]
fn an_empty_alert_list_writes_headers_and_a_typed_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Staging::create(dir.path(), "2025").unwrap();
    s.write_alerts(&[]).unwrap();
    assert_eq!(fs::read_to_string(s.tmp.join(ALERTS_JSONL)).unwrap(), "");
    let csv = fs::read_to_string(s.tmp.join(ALERTS_CSV)).unwrap();
    assert_eq!(csv, format!("\u{feff}{}\n", ALERTS_CSV_HEADER.join(",")));
    let f = fs::File::open(s.tmp.join(ALERTS_PARQUET)).unwrap();
    let back = ParquetReader::new(f).finish().unwrap();
    assert_eq!(back.height(), 0);
    assert_eq!(back.schema(), alerts_table(&[]).unwrap().schema());
}
