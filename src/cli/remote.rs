//! `memfs --remote URL <command>`: [`RemoteBackend`], the CLI's [`Backend`] over a
//! [`RemoteFs`] connected to a `memfs serve` (or any `FsServer`).
//!
//! Every operation the remote API has maps onto one call; `touch` is an empty append (it
//! creates the file or updates its modification time). What the API lacks (symlinks, search,
//! JSON dump/load, host import/export, usage, emptying the tree) fails with an `Unsupported`
//! error saying `... is not supported with --remote`. Nothing here reads or writes the local
//! state.

use std::io;
use std::path::Path;

use crate::grpc::RemoteFs;
use crate::{DirEntry, Metadata, Stats};

use super::backend::{Backend, Progress, SnapshotInfo};

/// The CLI's backend on a remote filesystem.
pub struct RemoteBackend {
    fs: RemoteFs,
}

impl RemoteBackend {
    /// Connects to `url`, sending `token` with every call.
    pub fn connect(url: &str, token: Option<&str>) -> io::Result<Self> {
        Ok(RemoteBackend {
            fs: RemoteFs::connect(url, token)?,
        })
    }
}

/// The error of an operation the remote API does not offer.
pub fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is not supported with --remote"),
    )
}

impl Backend for RemoteBackend {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        self.fs.read(path)
    }
    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.fs.write(path, data)
    }
    fn append(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.fs.append(path, data)
    }
    fn touch(&self, path: &str) -> io::Result<()> {
        match self.fs.metadata(path) {
            Ok(m) if m.is_dir() => Err(unsupported("touching a directory")),
            Ok(_) => self.fs.append(path, []),
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.fs.append(path, []),
            Err(e) => Err(e),
        }
    }
    fn create_dir(&self, path: &str) -> io::Result<()> {
        self.fs.create_dir(path)
    }
    fn create_dir_all(&self, path: &str) -> io::Result<()> {
        self.fs.create_dir_all(path)
    }
    fn read_dir(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        self.fs.read_dir(path)
    }
    fn metadata(&self, path: &str) -> io::Result<Metadata> {
        self.fs.metadata(path)
    }
    fn symlink_metadata(&self, path: &str) -> io::Result<Metadata> {
        self.fs.symlink_metadata(path)
    }
    fn read_link(&self, _path: &str) -> io::Result<String> {
        Err(unsupported("reading a symlink"))
    }
    fn symlink(&self, _target: &str, _link: &str) -> io::Result<()> {
        Err(unsupported("creating a symlink"))
    }
    fn remove_file(&self, path: &str) -> io::Result<()> {
        self.fs.remove_file(path)
    }
    fn remove_dir(&self, path: &str) -> io::Result<()> {
        self.fs.remove_dir(path)
    }
    fn remove_dir_all(&self, path: &str) -> io::Result<()> {
        self.fs.remove_dir_all(path)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.fs.rename(from, to)
    }
    fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        self.fs.copy(from, to)
    }
    fn find(&self, _pattern: &str, _start: &str) -> io::Result<Vec<String>> {
        Err(unsupported("find"))
    }
    fn grep(&self, _text: &str, _start: &str) -> io::Result<Vec<String>> {
        Err(unsupported("grep"))
    }
    fn dump_json(&self, _path: &str) -> io::Result<String> {
        Err(unsupported("dump"))
    }
    fn load_json(&self, _text: &str) -> io::Result<()> {
        Err(unsupported("load"))
    }
    fn reset(&self) -> io::Result<()> {
        Err(unsupported("init"))
    }
    fn import_host(&self, _host: &Path, _vpath: &str, _progress: Progress) -> io::Result<u64> {
        Err(unsupported("import"))
    }
    fn export_host(&self, _vpath: &str, _host: &Path, _progress: Progress) -> io::Result<u64> {
        Err(unsupported("export"))
    }
    fn snapshot(&self, name: &str) -> io::Result<()> {
        if name.is_empty() || name.contains(char::is_control) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad snapshot name {name:?}"),
            ));
        }
        self.fs.snapshot(Some(name)).map(drop)
    }
    fn delete_snapshot(&self, name: &str) -> io::Result<()> {
        self.fs.drop_snapshot(name)
    }
    fn snapshots(&self) -> io::Result<Vec<SnapshotInfo>> {
        Ok(self
            .fs
            .list_snapshots()?
            .into_iter()
            .map(|name| SnapshotInfo { name, stats: None })
            .collect())
    }
    fn restore(&self, name: &str) -> io::Result<()> {
        self.fs.restore(name)
    }
    fn usage(&self) -> io::Result<Stats> {
        Err(unsupported("du"))
    }
}
