//! Publishing a folder of outputs (a run's `<out>/period=<label>`, a conversion's folder): the
//! staging folder, the atomic swap, and the clean stop on SIGTERM / SIGINT.
//!
//! Everything pvwatch keeps beside a target `<parent>/<name>` starts with a dot, so BI
//! globs and the previous-run lookup never see it ([`super::recover`] reads the names):
//!
//! | folder | what |
//! |---|---|
//! | `.<name>.tmp-<pid>-<nanos>` | a staging folder being written; holds the marker [`MARKER`] |
//! | `.<name>.old-<pid>-<nanos>` | the previous outputs, set aside during a publish on a filesystem without `RENAME_EXCHANGE` |
//! | `.<name>.trash-<pid>-<nanos>` | a folder being removed |
//!
//! `<pid>` is the process that made the folder and `<nanos>` when (Unix time): a later run
//! tells a live run's folder from a dead one's by them.
//!
//! Invariants: `<parent>/<name>` always holds either the previous outputs or the new ones,
//! whole. A publish swaps them in one `renameat2(RENAME_EXCHANGE)` (Linux), then removes
//! the previous outputs, now at the staging name; the first publish is one rename. Where
//! the filesystem cannot exchange, the previous outputs are renamed aside (`.old-`, the
//! recovery marker), the new ones in, and the old removed; a crash between the two renames
//! leaves `.old-` and no target, which the next start restores. A publish holds the publish
//! lock: a mutex of this process, which the signal thread takes too (so a signal never cuts
//! a swap in half), and an advisory `flock` of the parent folder, which other pvwatch
//! processes take to recover leftovers (so they never see a swap half-way).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::recover::{self, Kind};
use super::stamp::{host, stamp, Marker, MARKER};
use super::{Staging, FAULT_ENV, MANIFEST};
use crate::error::{Error, Result};

/// A staging folder of this process, not yet published or removed.
struct Active {
    tmp: PathBuf,
    /// The parent folder, when this process created it (removed again if left empty).
    created_parent: Option<PathBuf>,
}

/// This process's staging folders. Its lock is the in-process half of the publish lock.
static ACTIVE: Mutex<Vec<Active>> = Mutex::new(Vec::new());

fn active() -> MutexGuard<'static, Vec<Active>> {
    // A panic while holding the lock leaves the list as it was: still usable.
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn fault(point: &str) -> bool {
    std::env::var(FAULT_ENV).as_deref() == Ok(point)
}

/// Die as `kill -9` would, at a fault point (tests of the recovery).
fn killed_at(point: &str) {
    if fault(point) {
        // SAFETY: raising a signal has no memory-safety precondition.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}

/// An output folder that cannot be used: a configuration problem (exit 2), found before
/// any work is done.
fn unusable(dir: &Path, what: &str, e: io::Error) -> Error {
    Error::input(dir, format!("output folder not usable: {what}: {e}"))
}

impl Staging {
    /// Create the staging folder `<out_dir>/.<name>.tmp-…` for outputs that replace
    /// `<out_dir>/<name>` when published (creating `out_dir` if needed). First recovers
    /// what interrupted runs left in `out_dir`, and refuses a `<out_dir>/<name>` that is
    /// not a previous output (it must hold `manifest.json`, or be empty).
    ///
    /// Creating the folder is the check that `out_dir` is usable, so call it before the
    /// work: an unusable folder is an error naming it (exit 2).
    pub fn create(out_dir: &Path, name: &str) -> Result<Staging> {
        Staging::create_for(out_dir, name, MANIFEST)
    }

    /// [`Staging::create`] for outputs whose manifest is `manifest` (a conversion's).
    pub fn create_for(out_dir: &Path, name: &str, manifest: &'static str) -> Result<Staging> {
        let created_parent = fs::symlink_metadata(out_dir).is_err();
        fs::create_dir_all(out_dir)
            .map_err(|e| unusable(out_dir, "cannot create the folder", e))?;
        let created_parent = created_parent.then(|| out_dir.to_path_buf());
        let remove_parent = || {
            if let Some(p) = &created_parent {
                let _ = fs::remove_dir(p);
            }
        };
        recover::recover(out_dir);
        let target = out_dir.join(name);
        if let Err(e) = check_replaceable(&target, manifest) {
            remove_parent();
            return Err(e);
        }
        let (pid, nanos) = stamp();
        let tmp = out_dir.join(recover::leftover_name(name, Kind::Tmp, pid, nanos));
        let marker = Marker {
            pvwatch: env!("CARGO_PKG_VERSION").to_string(),
            pid,
            host: host(),
            created_unix_ns: nanos,
            target: name.to_string(),
        };
        let text = serde_json::to_string(&marker).expect("a marker serializes");
        // Registered under the lock, so that a signal finds every folder it must remove.
        let mut active = active();
        let made = fs::create_dir(&tmp)
            .map_err(|e| unusable(out_dir, "cannot create a folder in it", e))
            .and_then(|()| {
                fs::write(tmp.join(MARKER), text).map_err(|e| {
                    let _ = fs::remove_dir_all(&tmp);
                    unusable(out_dir, "cannot write a file in it", e)
                })
            });
        if let Err(e) = made {
            drop(active);
            remove_parent();
            return Err(e);
        }
        active.push(Active {
            tmp: tmp.clone(),
            created_parent: created_parent.clone(),
        });
        Ok(Staging {
            out_dir: out_dir.to_path_buf(),
            name: name.to_string(),
            manifest,
            target,
            tmp,
            created_parent,
            published: false,
            written: Vec::new(),
        })
    }

    /// Where the outputs will be once published.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Put the staging folder in place of the previous outputs, in one atomic step where
    /// the filesystem allows it (see the module header), and remove the previous outputs.
    pub fn publish(self) -> Result<PathBuf> {
        if fault("publish") {
            return Err(Error::Injected("publish".to_string()));
        }
        let try_exchange = !fault("no-exchange") && !fault("kill-after-aside");
        self.publish_with(try_exchange)
    }

    /// [`Staging::publish`], with the exchange (where the filesystem has it) or with two
    /// renames.
    pub(super) fn publish_with(mut self, try_exchange: bool) -> Result<PathBuf> {
        // Written data reach the disk before a rename makes them the outputs, so a power
        // cut cannot publish empty files. Outside the lock: a signal meanwhile just
        // removes the staging folder.
        sync_tree(&self.tmp)?;
        let mut active = active();
        let swapped = {
            let _lock = recover::DirLock::acquire(&self.out_dir);
            let swapped = self.swap_in(try_exchange);
            if swapped.is_ok() {
                self.published = true;
                active.retain(|a| a.tmp != self.tmp);
                sync_dir(&self.out_dir);
                if let Ok(Some(old)) = &swapped {
                    // The previous outputs, now at a name of ours: gone once removed.
                    if let Err(e) = recover::discard(old) {
                        tracing::warn!(path = %old.display(), error = %e, "could not remove the previous outputs; the next run removes them");
                    }
                }
            }
            swapped
        };
        drop(active);
        swapped?;
        Ok(self.target.clone())
    }

    /// The swap itself, under the publish lock. Returns where the previous outputs are
    /// now, if there were any.
    fn swap_in(&self, try_exchange: bool) -> Result<Option<PathBuf>> {
        check_replaceable(&self.target, self.manifest)?;
        fs::remove_file(self.tmp.join(MARKER)).map_err(|e| Error::io(&self.tmp, e))?;
        if fs::symlink_metadata(&self.target).is_err() {
            fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
            return Ok(None);
        }
        if try_exchange {
            match exchange(&self.tmp, &self.target) {
                Ok(()) => {
                    killed_at("kill-after-exchange");
                    return Ok(Some(self.tmp.clone()));
                }
                Err(e) if exchange_unsupported(&e) => {
                    tracing::debug!(error = %e, "no RENAME_EXCHANGE here: publishing with two renames");
                }
                Err(e) => return Err(Error::io(&self.target, e)),
            }
        }
        let (pid, nanos) = stamp();
        let old = self
            .out_dir
            .join(recover::leftover_name(&self.name, Kind::Old, pid, nanos));
        fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
        killed_at("kill-after-aside");
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            if let Err(back) = fs::rename(&old, &self.target) {
                tracing::error!(path = %old.display(), error = %back, "the previous outputs are set aside here; the next run restores them");
            }
            return Err(Error::io(&self.target, e));
        }
        Ok(Some(old))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        // Under the lock: a signal being handled meanwhile removes the folder itself.
        let mut active = active();
        active.retain(|a| a.tmp != self.tmp);
        let _ = recover::discard(&self.tmp);
        if let Some(p) = &self.created_parent {
            let _ = fs::remove_dir(p);
        }
    }
}

/// Refuse to replace `target` unless it is a previous output (holds `manifest`), is
/// empty, or does not exist: pvwatch never deletes what it did not write.
pub fn check_replaceable(target: &Path, manifest: &str) -> Result<()> {
    let meta = match fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(target, e)),
    };
    if !meta.is_dir() {
        return Err(Error::input(
            target,
            "expected a folder of previous outputs, found a file: pvwatch replaces only its own outputs, so move it away or give another output folder",
        ));
    }
    if target.join(manifest).is_file() {
        return Ok(());
    }
    let empty = fs::read_dir(target)
        .map_err(|e| Error::io(target, e))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    Err(Error::input(
        target,
        format!("the folder exists and holds no {manifest}, so it is not a previous output of pvwatch: pvwatch replaces only its own outputs, so move it away or give another output folder"),
    ))
}

/// Stop the process for a signal: remove this process's staging folders and exit with
/// `code`. Waits for a publish under way to finish, so that a swap is never cut in half;
/// the lock is held until the process ends, so the run cannot go on meanwhile.
pub fn stop_for_signal(signal: &str, code: i32) -> ! {
    let active = active();
    let mut removed = Vec::new();
    for a in active.iter() {
        match recover::discard(&a.tmp) {
            Ok(()) => removed.push(a.tmp.display().to_string()),
            Err(e) => eprintln!(
                "warning: {}: could not remove the staging folder: {e}; the next run removes it",
                a.tmp.display()
            ),
        }
        if let Some(p) = &a.created_parent {
            let _ = fs::remove_dir(p);
        }
    }
    if removed.is_empty() {
        eprintln!("error: stopped by {signal}");
    } else {
        eprintln!(
            "error: stopped by {signal}: nothing was published, the previous outputs are unchanged (removed {})",
            removed.join(", ")
        );
    }
    std::process::exit(code)
}

/// Swap two paths in one step (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The filesystem or kernel has no exchange: publish with two renames instead.
fn exchange_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
        || matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
        )
}

/// fsync every file in `dir` (one level: outputs are flat) and `dir` itself.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_file() {
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// fsync a folder, so that renames in it are durable. Best effort: some filesystems
/// refuse to sync a folder, and the rename is atomic either way.
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}
