//! File helpers: write, append, read, list, check empty, mkdir, remove, rename.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A file operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} `{path}`")]
pub(crate) struct FileError {
    /// What was attempted (`write`, `read`, `list`...).
    pub op: &'static str,
    /// On which path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

fn fail<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn ensure_parent(path: &Path, parents: bool) -> Result<(), FileError> {
    if parents && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(fail("create parent directories of", path))?;
    }
    Ok(())
}

/// Writes `content` to `path` (replacing it), creating parent directories if `parents`.
/// The data is flushed to stable storage before returning.
pub(crate) fn write_file(path: &Path, content: &[u8], parents: bool) -> Result<(), FileError> {
    ensure_parent(path, parents)?;
    let mut file = fs::File::create(path).map_err(fail("write", path))?;
    file.write_all(content).map_err(fail("write", path))?;
    file.sync_all().map_err(fail("sync", path))
}

/// Appends `content` to `path`, creating it (and parents if `parents`) when missing.
pub(crate) fn append_file(path: &Path, content: &[u8], parents: bool) -> Result<(), FileError> {
    ensure_parent(path, parents)?;
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
        .map_err(fail("append to", path))?;
    file.write_all(content).map_err(fail("append to", path))?;
    file.sync_all().map_err(fail("sync", path))
}

/// Reads `path`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, FileError> {
    fs::read(path).map_err(fail("read", path))
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// File name.
    pub name: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (e.g. 0o644).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

impl Entry {
    /// `ls -l`-like line: mode, uid, gid, size, name.
    #[must_use]
    pub fn long_line(&self) -> String {
        let tag = match self.kind.as_str() {
            "dir" => 'd',
            "symlink" => 'l',
            "file" => '-',
            _ => '?',
        };
        format!(
            "{tag}{:04o} {:>6} {:>6} {:>12} {}",
            self.mode, self.uid, self.gid, self.size, self.name
        )
    }
}

/// Lists `dir`, dotfiles included, sorted by name.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<Entry>, FileError> {
    let mut entries = Vec::new();
    for item in fs::read_dir(dir).map_err(fail("list", dir))? {
        let item = item.map_err(fail("list", dir))?;
        let meta = item
            .path()
            .symlink_metadata()
            .map_err(fail("stat", &item.path()))?;
        let ft = meta.file_type();
        entries.push(Entry {
            name: item.file_name().to_string_lossy().into_owned(),
            kind: if ft.is_dir() {
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_file() {
                "file"
            } else {
                "other"
            }
            .to_owned(),
            size: meta.len(),
            mode: meta.permissions().mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Creates `path` with `mode`, optionally its parents, optionally owned by `owner`.
pub(crate) fn make_dir(
    path: &Path,
    mode: u32,
    owner: Option<(u32, u32)>,
    parents: bool,
) -> Result<(), FileError> {
    if parents {
        fs::create_dir_all(path).map_err(fail("create directory", path))?;
    } else {
        fs::create_dir(path).map_err(fail("create directory", path))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(fail("chmod", path))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(fail("chown", path))?;
    }
    Ok(())
}

/// Removes `path`: a file or empty directory, or anything with `recursive`.
pub(crate) fn remove(path: &Path, recursive: bool) -> Result<(), FileError> {
    let meta = path.symlink_metadata().map_err(fail("remove", path))?;
    let result = if meta.is_dir() {
        if recursive {
            fs::remove_dir_all(path)
        } else {
            fs::remove_dir(path)
        }
    } else {
        fs::remove_file(path)
    };
    result.map_err(fail("remove", path))
}

/// Renames `from` to `to`.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), FileError> {
    fs::rename(from, to).map_err(fail("rename", from))
}

/// Why an owner text is not `UID:GID`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid owner `{0}` (hint: numeric UID:GID, e.g. 65534:65534)")]
pub struct OwnerError(pub String);

/// Parses `UID:GID`.
pub fn parse_owner(text: &str) -> Result<(u32, u32), OwnerError> {
    let (uid, gid) = text
        .split_once(':')
        .ok_or_else(|| OwnerError(text.to_owned()))?;
    match (uid.parse(), gid.parse()) {
        (Ok(u), Ok(g)) => Ok((u, g)),
        _ => Err(OwnerError(text.to_owned())),
    }
}

/// Why a mode text is not octal permission bits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mode `{0}` (hint: octal permission bits, e.g. 755 or 0777)")]
pub(crate) struct ModeError(pub String);

/// Parses octal permission bits (`755`, `0777`, `1777`).
pub(crate) fn parse_mode(text: &str) -> Result<u32, ModeError> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| ModeError(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_append_read_list_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/c.txt");
        assert!(write_file(&file, b"x", false).is_err());
        write_file(&file, b"hello", true).unwrap();
        append_file(&file, b" world", false).unwrap();
        assert_eq!(read_file(&file).unwrap(), b"hello world");
        write_file(&dir.path().join("a/.hidden"), b"", false).unwrap();
        let names: Vec<String> = list_dir(&dir.path().join("a"))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![".hidden", "b"]);
        let moved = dir.path().join("a/moved.txt");
        rename(&file, &moved).unwrap();
        assert!(!file.exists() && moved.exists());
        assert!(remove(&dir.path().join("a"), false).is_err());
        remove(&dir.path().join("a"), true).unwrap();
        assert!(!dir.path().join("a").exists());
        let err = read_file(&file).unwrap_err();
        assert_eq!(err.to_string(), format!("cannot read `{}`", file.display()));
    }

    #[test]
    fn mkdir_with_mode_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/y");
        make_dir(&path, 0o1777, Some((65534, 65534)), true).unwrap();
        let e = list_dir(&dir.path().join("x")).unwrap().remove(0);
        assert_eq!(
            (e.name.as_str(), e.kind.as_str(), e.mode),
            ("y", "dir", 0o1777)
        );
        // Changing owners needs root; the CI and dev machines run as root.
        if nix::unistd::geteuid().is_root() {
            assert_eq!((e.uid, e.gid), (65534, 65534));
        }
        assert!(e.long_line().starts_with("d1777"));
    }

    #[test]
    fn owner_and_mode_texts() {
        assert_eq!(parse_owner("1000:100"), Ok((1000, 100)));
        assert!(parse_owner("root").is_err());
        assert!(parse_owner("1:x").is_err());
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert_eq!(parse_mode("0777"), Ok(0o777));
        assert!(parse_mode("999").is_err());
        assert!(parse_mode("77777").is_err());
    }
}
