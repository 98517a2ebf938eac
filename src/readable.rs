//! What is wrong with an input path, in words a user can act on: missing, a folder where a
//! file is expected (or the reverse), not a regular file (a FIFO, socket or device, which
//! would block or never end), or not readable. Checked when the pipeline is read and before
//! a conversion starts, so that "no such file" means exactly that.

use std::fs;
use std::path::Path;

/// What an input path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    File,
    Folder,
    FileOrFolder,
}

/// Why `path` cannot be read as `expect`, or `None` when it can.
pub fn problem(path: &Path, expect: Expect) -> Option<String> {
    let shown = path.display();
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(match expect {
                Expect::File => format!("no such file `{shown}`"),
                Expect::Folder => format!("no such folder `{shown}`"),
                Expect::FileOrFolder => format!("no such file or folder `{shown}`"),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Some(format!(
                "`{shown}` cannot be reached: permission denied on a folder above it"
            ));
        }
        Err(e) => return Some(format!("`{shown}` cannot be read: {e}")),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        if expect == Expect::File {
            return Some(format!("`{shown}` is a folder, expected a file"));
        }
        return fs::read_dir(path)
            .err()
            .map(|e| format!("folder `{shown}` is not readable: {}", reason(&e)));
    }
    if !kind.is_file() {
        return Some(format!(
            "`{shown}` is not a regular file (a {}), expected a {}",
            special_kind(&kind),
            if expect == Expect::Folder {
                "folder"
            } else {
                "file"
            }
        ));
    }
    if expect == Expect::Folder {
        return Some(format!("`{shown}` is a file, expected a folder"));
    }
    fs::File::open(path)
        .err()
        .map(|e| format!("file `{shown}` is not readable: {}", reason(&e)))
}

fn reason(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        "permission denied".to_string()
    } else {
        e.to_string()
    }
}

#[cfg(unix)]
fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &fs::FileType) -> &'static str {
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_unusable_path_says_what_it_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a.csv");
        fs::write(&file, "x\n").expect("write");
        assert_eq!(problem(&file, Expect::File), None);
        assert_eq!(problem(dir.path(), Expect::Folder), None);
        assert_eq!(problem(&file, Expect::FileOrFolder), None);

        let missing = dir.path().join("none.csv");
        let m = problem(&missing, Expect::File).expect("missing");
        assert!(m.starts_with("no such file `"), "{m}");
        let m = problem(dir.path(), Expect::File).expect("a folder");
        assert!(m.ends_with("is a folder, expected a file"), "{m}");
        let m = problem(&file, Expect::Folder).expect("a file");
        assert!(m.ends_with("is a file, expected a folder"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("pipe.csv");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8 path")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Opening a FIFO for reading blocks until a writer comes: the check must not open it.
        let m = problem(&fifo, Expect::File).expect("a FIFO");
        assert!(m.contains("is not a regular file (a FIFO)"), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_file_is_not_reported_missing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a.csv");
        fs::write(&file, "x\n").expect("write");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).expect("chmod");
        // Root reads anything: there the check rightly finds nothing wrong.
        if fs::File::open(&file).is_ok() {
            return;
        }
        let m = problem(&file, Expect::File).expect("unreadable");
        assert!(m.ends_with("is not readable: permission denied"), "{m}");
    }
}
