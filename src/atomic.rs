//! Crash-safe file output: the one helper every result file goes through, and the check that
//! keeps names from files out of other directories.
//!
//! [`write_atomic`] writes the bytes to a fresh temporary file in the target's own directory
//! (`.NAME.tmp-PID-N`, created exclusively), flushes it to disk (`fsync`), renames it over the
//! target (atomic on POSIX file systems within one directory) and then syncs the directory, so
//! that the rename itself survives a power cut. A reader, or a process killed at any instant,
//! sees either the old file, no file, or the whole new file — never a partial one that looks
//! complete. On any error the temporary file is removed and the error names the path and what
//! failed (missing or non-directory parent, no permission, disk full).
//!
//! [`child_path`] joins a name taken from user data (a case id) under an output directory and
//! refuses anything that could leave it (`..`, separators, absolute paths, empty names).

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers within one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: temporary file in the same directory, `fsync`, rename,
/// directory `fsync`. See the module documentation.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("output path {} has no file name", path.display()))?
        .to_string_lossy();
    if !dir.is_dir() {
        bail!(
            "cannot write {}: {} is not a directory (create it first, or choose another output path)",
            path.display(),
            dir.display()
        );
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {} bytes to {}", bytes.len(), tmp.display()))?;
        drop(f);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Best effort: some file systems refuse to open or sync a
/// directory, and the data itself is already synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// `root/name` for a single-component `name` taken from user data (a case id); an error when
/// `name` is empty, `.` or `..`, absolute, or contains a path separator, so that nothing is
/// ever written outside `root`.
pub fn child_path(root: &Path, name: &str) -> Result<PathBuf> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(c)), None)
            if c == name && !name.contains(['/', '\\']) && !name.contains('\0') =>
        {
            Ok(root.join(name))
        }
        _ => bail!(
            "{name:?} cannot be used as a file name under {} (it must be one path component: no '/', '\\', '..' or leading '/')",
            root.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_path_refuses_escapes() {
        let root = Path::new("out");
        assert_eq!(child_path(root, "a-0001").unwrap(), root.join("a-0001"));
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\\b", "x/.."] {
            assert!(child_path(root, bad).is_err(), "{bad:?} accepted");
        }
    }
}
