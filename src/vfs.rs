//! A backend for the `vfs` crate (feature `vfs`): [`MemFsBackend`] implements
//! `vfs::FileSystem`, so code written against `vfs::VfsPath` runs on memfs
//! unchanged, while the same `MemFs` offers snapshots, transactions and the rest beside it.
//!
//! ```
//! use std::io::Write;
//! use vfs::VfsPath;
//!
//! let fs = memfs::create_fs();
//! let root: VfsPath = memfs::vfs::MemFsBackend::new(fs.clone()).into();
//! root.join("logs")?.create_dir()?;
//! root.join("logs/a.txt")?.create_file()?.write_all(b"hello")?;
//! let snap = fs.snapshot(); // the vfs tree, pinned in O(1)
//! root.join("logs/a.txt")?.remove_file()?;
//! assert_eq!(snap.read_to_string("/logs/a.txt")?, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This module only translates: every call is one `MemFs` call (or one transaction, where
//! `vfs` asks for more than `std::fs` gives), and its `io::Error` becomes a `VfsError`.
//! What `vfs`'s contract says and memfs does differently by default, the backend follows:
//! - paths are `vfs`'s (`""` is the root, `/a/b` below it);
//! - a directory's `len` is 0 (memfs reports 4096, as Linux does);
//! - `copy_file`, `move_file` and `move_dir` never replace an existing destination (checked
//!   and done in one transaction, so no concurrent writer can slip in between);
//! - `create_dir` on an existing directory is `DirectoryExists`, on a file `FileExists`;
//! - a file written through `create_file`/`append_file` is published when the writer is
//!   flushed or dropped (memfs's close-to-open rule, which is also `vfs::MemoryFS`'s);
//! - creation times cannot be set (`NotSupported`); metadata follows symlinks.

use std::io;
use std::time::SystemTime;

use ::vfs::error::VfsErrorKind;
use ::vfs::{FileSystem, SeekAndRead, SeekAndWrite, VfsError, VfsFileType, VfsMetadata, VfsResult};

use crate::{error, MemFs, OpenOptions};

/// A [`MemFs`] as a `vfs::FileSystem`. Cloning the `MemFs` first keeps a
/// handle for snapshots and the rest of the API ([`MemFsBackend::fs`] gives it back too).
#[derive(Clone, Debug)]
pub struct MemFsBackend {
    fs: MemFs,
}

impl MemFsBackend {
    /// The backend over `fs` (another handle to the same filesystem).
    pub fn new(fs: MemFs) -> Self {
        MemFsBackend { fs }
    }

    /// The filesystem behind the backend.
    pub fn fs(&self) -> &MemFs {
        &self.fs
    }
}

impl Default for MemFsBackend {
    fn default() -> Self {
        MemFsBackend::new(MemFs::new())
    }
}

impl From<MemFs> for MemFsBackend {
    fn from(fs: MemFs) -> Self {
        MemFsBackend::new(fs)
    }
}

/// `vfs`'s path (`""` is the root) as memfs's.
fn path(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

/// memfs's `io::Error` as a `VfsError`: the kinds `vfs` names get their own variant, the rest
/// travel as `IoError` with their message.
fn vfs_error(e: io::Error) -> VfsError {
    match e.kind() {
        io::ErrorKind::NotFound => VfsErrorKind::FileNotFound.into(),
        io::ErrorKind::AlreadyExists => VfsErrorKind::FileExists.into(),
        io::ErrorKind::Unsupported => VfsErrorKind::NotSupported.into(),
        _ => VfsErrorKind::IoError(e).into(),
    }
}

/// `r` with its error translated.
fn tr<T>(r: io::Result<T>) -> VfsResult<T> {
    r.map_err(vfs_error)
}

impl MemFsBackend {
    /// `op(from, to)` in one transaction, refused if `to` exists (even as a dangling symlink).
    fn without_replacing(
        &self,
        from: &str,
        to: &str,
        op: impl Fn(&mut crate::Transaction, &str, &str) -> io::Result<()>,
    ) -> VfsResult<()> {
        let (from, to) = (path(from), path(to));
        tr(self.fs.transaction(|tx| {
            if tx.symlink_metadata(to).is_ok() {
                return Err(error::already_exists(to));
            }
            op(tx, from, to)
        }))
    }
}

impl FileSystem for MemFsBackend {
    fn read_dir(&self, p: &str) -> VfsResult<Box<dyn Iterator<Item = String> + Send>> {
        Ok(Box::new(tr(self.fs.listdir(path(p)))?.into_iter()))
    }

    fn create_dir(&self, p: &str) -> VfsResult<()> {
        match self.fs.create_dir(path(p)) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && self.fs.isdir(path(p)) => {
                Err(VfsErrorKind::DirectoryExists.into())
            }
            r => tr(r),
        }
    }

    fn open_file(&self, p: &str) -> VfsResult<Box<dyn SeekAndRead + Send>> {
        Ok(Box::new(tr(self.fs.open(path(p)))?))
    }

    fn create_file(&self, p: &str) -> VfsResult<Box<dyn SeekAndWrite + Send>> {
        Ok(Box::new(tr(self.fs.create(path(p)))?))
    }

    fn append_file(&self, p: &str) -> VfsResult<Box<dyn SeekAndWrite + Send>> {
        let file = self.fs.open_with(path(p), OpenOptions::new().append(true));
        Ok(Box::new(tr(file)?))
    }

    fn metadata(&self, p: &str) -> VfsResult<VfsMetadata> {
        let m = tr(self.fs.metadata(path(p)))?;
        let (file_type, len) = if m.is_dir() {
            (VfsFileType::Directory, 0)
        } else {
            (VfsFileType::File, m.len())
        };
        Ok(VfsMetadata {
            file_type,
            len,
            created: m.created().ok(),
            modified: m.modified().ok(),
            accessed: m.accessed().ok(),
        })
    }

    fn set_modification_time(&self, p: &str, time: SystemTime) -> VfsResult<()> {
        tr(self.fs.set_times(path(p), None, Some(time)))
    }

    fn set_access_time(&self, p: &str, time: SystemTime) -> VfsResult<()> {
        tr(self.fs.set_times(path(p), Some(time), None))
    }

    fn exists(&self, p: &str) -> VfsResult<bool> {
        Ok(self.fs.exists(path(p)))
    }

    fn remove_file(&self, p: &str) -> VfsResult<()> {
        tr(self.fs.remove_file(path(p)))
    }

    fn remove_dir(&self, p: &str) -> VfsResult<()> {
        tr(self.fs.remove_dir(path(p)))
    }

    fn copy_file(&self, from: &str, to: &str) -> VfsResult<()> {
        self.without_replacing(from, to, |tx, from, to| tx.copy(from, to).map(drop))
    }

    fn move_file(&self, from: &str, to: &str) -> VfsResult<()> {
        self.without_replacing(from, to, |tx, from, to| {
            if tx.metadata(from)?.is_dir() {
                return Err(error::is_a_directory(from));
            }
            tx.rename(from, to)
        })
    }

    fn move_dir(&self, from: &str, to: &str) -> VfsResult<()> {
        self.without_replacing(from, to, |tx, from, to| {
            if !tx.metadata(from)?.is_dir() {
                return Err(error::not_a_directory(from));
            }
            tx.rename(from, to)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_meaning() {
        let b = MemFsBackend::default();
        let kind = |r: VfsResult<()>| format!("{:?}", r.unwrap_err().kind());
        assert_eq!(kind(b.remove_file("/missing")), "FileNotFound");
        b.create_dir("/d").unwrap();
        assert_eq!(kind(b.create_dir("/d")), "DirectoryExists");
        drop(b.create_file("/f").unwrap());
        assert_eq!(kind(b.create_dir("/f")), "FileExists");
        assert_eq!(kind(b.copy_file("/f", "/d")), "FileExists");
        match b.move_dir("/f", "/g").unwrap_err().kind() {
            VfsErrorKind::IoError(e) => assert_eq!(e.kind(), io::ErrorKind::NotADirectory),
            other => panic!("{other:?}"),
        }
        assert!(b.exists("").unwrap());
        assert_eq!(b.metadata("").unwrap().len, 0);
    }
}
