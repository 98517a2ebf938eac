//! Recovery on start: what interrupted runs left beside their targets (see the table in
//! [`super::publish`]) is restored or removed before a run or a conversion writes.
//!
//! A leftover is touched only when it is pvwatch's and stale:
//!
//! - pvwatch's: its name is `.<name>.(tmp|old|trash)-<pid>-<nanos>` and it holds the
//!   staging marker or a pvwatch manifest (`manifest.json`, `convert-manifest.json`), or is
//!   empty, or is a `trash` folder (only pvwatch makes those, and only to remove them);
//! - stale: made before this recovery began, by a process that no longer runs — no process
//!   `<pid>`, or one that started after the folder was made (the pid was reused) — on this
//!   host (a marker naming another host is left alone: its process cannot be checked).
//!
//! Then a `.old-` folder whose target is missing is renamed back (the publish that set it
//! aside died before the new outputs were in place); any other is removed, renamed to
//! `.trash-` first so that a removal cut short is itself recognised next time. Problems
//! are logged, never fatal: the run itself does not depend on them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::stamp::{host, now_ns, stamp, Marker, MARKER};
use super::{CONVERT_MANIFEST, MANIFEST};

/// What a leftover folder was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Tmp,
    Old,
    Trash,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Tmp => "tmp",
            Kind::Old => "old",
            Kind::Trash => "trash",
        }
    }
}

/// A leftover's name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Leftover {
    pub target: String,
    pub kind: Kind,
    pub pid: u32,
    pub nanos: u64,
}

/// `.<target>.<kind>-<pid>-<nanos>`
pub(super) fn leftover_name(target: &str, kind: Kind, pid: u32, nanos: u64) -> String {
    format!(".{target}.{}-{pid}-{nanos}", kind.as_str())
}

/// Parse a name made by [`leftover_name`]; anything else is `None`.
pub(super) fn parse(name: &str) -> Option<Leftover> {
    let rest = name.strip_prefix('.')?;
    let (head, stamp) = rest.rsplit_once('-')?;
    let nanos = digits(stamp)?;
    let (head, pid) = head.rsplit_once('-')?;
    let pid = u32::try_from(digits(pid)?).ok()?;
    let (target, kind) = head.rsplit_once('.')?;
    let kind = match kind {
        "tmp" => Kind::Tmp,
        "old" => Kind::Old,
        "trash" => Kind::Trash,
        _ => return None,
    };
    if target.is_empty() {
        return None;
    }
    Some(Leftover {
        target: target.to_string(),
        kind,
        pid,
        nanos,
    })
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Remove a folder of ours: renamed to a `.trash-` name first (unless it has one), so that
/// a removal cut short by a crash is recognised and finished by the next run.
pub(super) fn discard(dir: &Path) -> io::Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let trash = match parse(&name) {
        Some(l) if l.kind == Kind::Trash => dir.to_path_buf(),
        parsed => {
            let target = parsed.map(|l| l.target).unwrap_or(name);
            let (pid, nanos) = stamp();
            let trash = dir.with_file_name(leftover_name(&target, Kind::Trash, pid, nanos));
            fs::rename(dir, &trash)?;
            trash
        }
    };
    fs::remove_dir_all(&trash)
}

/// Restore or remove the stale leftovers of pvwatch in `out_dir` (see the module header).
pub(super) fn recover(out_dir: &Path) {
    let started = now_ns();
    remove_stale_temp_files(out_dir, started);
    if leftovers(out_dir).is_empty() {
        return; // the usual case: no lock taken
    }
    let _lock = DirLock::acquire(out_dir);
    // Listed again under the lock: a publish that held it has finished meanwhile.
    let mut found = leftovers(out_dir);
    // Newest first, so that of two set-aside outputs the later is the one restored.
    found.sort_by_key(|f| std::cmp::Reverse(f.1.nanos));
    let here = host();
    for (path, l) in found {
        if l.nanos >= started || owner_alive(&path, &l, &here) {
            continue; // a live run's (maybe this process's), or not older than this run
        }
        if !is_ours(&path, &l) {
            tracing::warn!(path = %path.display(), "left alone: named like a pvwatch staging folder, but holds no pvwatch marker or manifest");
            continue;
        }
        let target = out_dir.join(&l.target);
        if l.kind == Kind::Old && fs::symlink_metadata(&target).is_err() {
            match fs::rename(&path, &target) {
                Ok(()) => tracing::warn!(
                    path = %target.display(),
                    "restored the previous outputs, which a publish cut short had set aside"
                ),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not restore these previous outputs")
                }
            }
            continue;
        }
        match discard(&path) {
            Ok(()) => tracing::info!(
                path = %path.display(),
                pid = l.pid,
                "removed a folder left by a run that did not finish"
            ),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a folder left by a run that did not finish")
            }
        }
    }
}

/// Inside each published folder, remove the temporary file of a replacement that a killed
/// run left (`.manifest.json.tmp-<pid>-<nanos>`, written when webhook deliveries are added
/// to a published manifest): stale by the same rule as the folders, and only files.
fn remove_stale_temp_files(out_dir: &Path, started: u64) {
    let Ok(entries) = fs::read_dir(out_dir) else {
        return;
    };
    let published = entries.flatten().filter(|e| {
        !e.file_name().to_string_lossy().starts_with('.') && e.file_type().is_ok_and(|t| t.is_dir())
    });
    for folder in published {
        let Ok(files) = fs::read_dir(folder.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Some(l) = parse(&f.file_name().to_string_lossy()) else {
                continue;
            };
            let is_file = f.file_type().is_ok_and(|t| t.is_file());
            let stale = l.nanos < started
                && process_started_ns(l.pid)
                    .is_none_or(|s| s > l.nanos.saturating_add(2_000_000_000));
            if l.kind == Kind::Tmp && is_file && stale {
                match fs::remove_file(f.path()) {
                    Ok(()) => {
                        tracing::info!(path = %f.path().display(), "removed a file left by a run that did not finish")
                    }
                    Err(e) => {
                        tracing::warn!(path = %f.path().display(), error = %e, "could not remove a file left by a run that did not finish")
                    }
                }
            }
        }
    }
}

fn leftovers(out_dir: &Path) -> Vec<(PathBuf, Leftover)> {
    let Ok(entries) = fs::read_dir(out_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let l = parse(&e.file_name().to_string_lossy())?;
            let is_dir = e.file_type().ok()?.is_dir();
            is_dir.then(|| (e.path(), l))
        })
        .collect()
}

/// The marker, the manifest or the name says the folder is pvwatch's.
fn is_ours(dir: &Path, l: &Leftover) -> bool {
    l.kind == Kind::Trash
        || [MARKER, MANIFEST, CONVERT_MANIFEST]
            .iter()
            .any(|f| dir.join(f).is_file())
        || fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Whether the process that made the folder may still be running (and so its folder must
/// be left alone): the same pid, started no later than the folder was made, on this host.
fn owner_alive(dir: &Path, l: &Leftover, here: &str) -> bool {
    let marker = fs::read_to_string(dir.join(MARKER))
        .ok()
        .and_then(|t| serde_json::from_str::<Marker>(&t).ok());
    if let Some(m) = marker {
        if !m.host.is_empty() && !here.is_empty() && m.host != here {
            return true; // another machine's run on a shared disk: not ours to judge
        }
    }
    match process_started_ns(l.pid) {
        None => false,
        // /proc and the boot time round to a second or so.
        Some(started) => started <= l.nanos.saturating_add(2_000_000_000),
    }
}

/// When process `pid` started (Unix time, ns), or `None` when there is no such process
/// (a zombie counts as gone). Without /proc, a process that exists counts as old.
pub(super) fn process_started_ns(pid: u32) -> Option<u64> {
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(_) if Path::new("/proc/self/stat").exists() => return None,
        Err(_) => {
            // SAFETY: signal 0 only checks that the process exists.
            let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
            let exists = r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            return exists.then_some(0);
        }
    };
    // Fields after the command name, which may hold spaces and parentheses: state is the
    // 3rd field of the line, starttime (clock ticks since boot) the 22nd.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    let ticks: u64 = fields.get(19)?.parse().ok()?;
    let boot: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no memory-safety precondition.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(boot * 1_000_000_000 + ticks * (1_000_000_000 / hz))
}

/// An advisory lock (`flock`) on a folder, held by pvwatch processes while they publish
/// into it or recover it. Best effort: where the filesystem has no `flock`, it is logged
/// and the work goes on unlocked.
pub(super) struct DirLock(#[allow(dead_code)] Option<fs::File>);

impl DirLock {
    pub(super) fn acquire(dir: &Path) -> DirLock {
        use std::os::unix::io::AsRawFd;
        let f = match fs::File::open(dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(path = %dir.display(), error = %e, "no lock on the output folder");
                return DirLock(None);
            }
        };
        loop {
            // SAFETY: the descriptor is open for the duration of the call.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return DirLock(Some(f)); // released when the file is closed
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::debug!(path = %dir.display(), error = %e, "no lock on the output folder");
                return DirLock(None);
            }
        }
    }
}
