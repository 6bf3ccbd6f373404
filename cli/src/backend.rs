//! What the commands run against: the [`Backend`] trait, and [`LocalBackend`], a `MemFs` plus
//! its named snapshots loaded from the state image.
//!
//! Commands only ever call this trait, so another backend (a remote memfs over gRPC, say) can
//! run every command by implementing it. Paths given to the trait are absolute (the shell's
//! current directory is applied before). The trait owns no persistence: saving the state is the
//! caller's business (`state.rs`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use memfs::{DirEntry, MemFs, Metadata, Snapshot, Stats};

/// One named snapshot, as `snapshots` lists it.
#[derive(Clone, Debug)]
pub struct SnapshotInfo {
    pub name: String,
    pub files: u64,
    pub dirs: u64,
    pub logical_bytes: u64,
}

/// Progress callback of import/export: `(files done, files in total)`.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The operations the commands need. Errors are `io::Error`s with the usual kinds.
pub trait Backend {
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    fn write(&self, path: &str, data: &[u8]) -> io::Result<()>;
    fn append(&self, path: &str, data: &[u8]) -> io::Result<()>;
    /// Creates an empty file if missing, else sets its modification time to now.
    fn touch(&self, path: &str) -> io::Result<()>;
    fn set_permissions(&self, path: &str, mode: u32) -> io::Result<()>;
    fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>) -> io::Result<()>;
    fn mkfifo(&self, path: &str, mode: u32) -> io::Result<()>;
    fn create_dir(&self, path: &str) -> io::Result<()>;
    fn create_dir_all(&self, path: &str) -> io::Result<()>;
    fn read_dir(&self, path: &str) -> io::Result<Vec<DirEntry>>;
    fn metadata(&self, path: &str) -> io::Result<Metadata>;
    fn symlink_metadata(&self, path: &str) -> io::Result<Metadata>;
    fn read_link(&self, path: &str) -> io::Result<String>;
    fn symlink(&self, target: &str, link: &str) -> io::Result<()>;
    fn remove_file(&self, path: &str) -> io::Result<()>;
    fn remove_dir(&self, path: &str) -> io::Result<()>;
    fn remove_dir_all(&self, path: &str) -> io::Result<()>;
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// A hard link: `link` becomes one more name of the node at `original`.
    fn hard_link(&self, original: &str, link: &str) -> io::Result<()>;
    fn copy(&self, from: &str, to: &str) -> io::Result<u64>;
    /// Paths under `start` matching a glob.
    fn find(&self, pattern: &str, start: &str) -> io::Result<Vec<String>>;
    /// Files under `start` whose content contains `text`.
    fn grep(&self, text: &str, start: &str) -> io::Result<Vec<String>>;
    /// The subtree at `path` as JSON (the original memfs's format).
    fn dump_json(&self, path: &str) -> io::Result<String>;
    /// Replaces the whole tree by a JSON document.
    fn load_json(&self, text: &str) -> io::Result<()>;
    /// Empties the tree and sets its quota (`Limits::default()`: none).
    fn reset(&self, limits: memfs::Limits) -> io::Result<()>;
    /// Copies a host directory in; `force` replaces existing files (else they are refused).
    fn import_host(
        &self,
        host: &Path,
        vpath: &str,
        force: bool,
        progress: Progress,
    ) -> io::Result<u64>;
    /// Copies a subtree out; `force` replaces existing host files (else they are refused).
    fn export_host(
        &self,
        vpath: &str,
        host: &Path,
        force: bool,
        progress: Progress,
    ) -> io::Result<u64>;
    fn snapshot(&self, name: &str) -> io::Result<()>;
    fn delete_snapshot(&self, name: &str) -> io::Result<()>;
    fn snapshots(&self) -> io::Result<Vec<SnapshotInfo>>;
    fn restore(&self, name: &str) -> io::Result<()>;
    /// What changed from snapshot `from` to snapshot `to` (`None`: the live tree), sorted.
    fn diff(&self, from: &str, to: Option<&str>) -> io::Result<Vec<memfs::Change>>;
    /// Calls `on` for every change under `prefix` as it happens, until the source ends or `on`
    /// fails.
    fn watch(
        &self,
        prefix: &str,
        on: &mut dyn FnMut(memfs::Event) -> io::Result<()>,
    ) -> io::Result<()>;
    /// Sizes of the live tree, logical and stored (after deduplication).
    fn usage(&self) -> io::Result<Stats>;
    /// The filesystem in this process, for what needs its trees themselves (push, pull).
    fn local(&self) -> Option<&LocalBackend> {
        None
    }
}

/// The [`Backend`] methods that are one call of the method of the same name on `self.fs`
/// (`MemFs` and `RemoteFs` have them with the same signatures): written once, for both
/// backends.
macro_rules! delegate_to_fs {
    () => {
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
            self.fs.touch(path)
        }
        fn set_permissions(&self, path: &str, mode: u32) -> io::Result<()> {
            self.fs.set_permissions(path, mode)
        }
        fn chown(&self, path: &str, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
            self.fs.chown(path, uid, gid)
        }
        fn mkfifo(&self, path: &str, mode: u32) -> io::Result<()> {
            self.fs.mkfifo(path, mode)
        }
        fn create_dir(&self, path: &str) -> io::Result<()> {
            self.fs.create_dir(path)
        }
        fn create_dir_all(&self, path: &str) -> io::Result<()> {
            self.fs.create_dir_all(path)
        }
        fn read_dir(&self, path: &str) -> io::Result<Vec<memfs::DirEntry>> {
            self.fs.read_dir(path)
        }
        fn metadata(&self, path: &str) -> io::Result<memfs::Metadata> {
            self.fs.metadata(path)
        }
        fn symlink_metadata(&self, path: &str) -> io::Result<memfs::Metadata> {
            self.fs.symlink_metadata(path)
        }
        fn read_link(&self, path: &str) -> io::Result<String> {
            self.fs.read_link(path)
        }
        fn symlink(&self, target: &str, link: &str) -> io::Result<()> {
            self.fs.symlink(target, link)
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
        fn hard_link(&self, original: &str, link: &str) -> io::Result<()> {
            self.fs.hard_link(original, link)
        }
        fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
            self.fs.copy(from, to)
        }
    };
}
#[cfg_attr(not(feature = "grpc"), allow(unused_imports))] // used by `remote.rs`
pub(crate) use delegate_to_fs;

/// A `MemFs` and its named snapshots, in this process.
#[derive(Default)]
pub struct LocalBackend {
    pub fs: MemFs,
    pub snapshots: RefCell<BTreeMap<String, Snapshot>>,
    /// Set when something the tree's generation does not show changed (named snapshots, a
    /// JSON import at open): the state must be saved.
    pub dirty: Cell<bool>,
}

impl LocalBackend {
    pub fn new(fs: MemFs, snapshots: BTreeMap<String, Snapshot>) -> Self {
        LocalBackend {
            fs,
            snapshots: RefCell::new(snapshots),
            dirty: Cell::new(false),
        }
    }
}

fn existing(force: bool) -> memfs::persist::hostdir::Existing {
    if force {
        memfs::persist::hostdir::Existing::Replace
    } else {
        memfs::persist::hostdir::Existing::Refuse
    }
}

fn no_snapshot(name: &str) -> io::Error {
    memfs::error::err(
        io::ErrorKind::NotFound,
        format!("no snapshot named {name:?}"),
    )
}

impl Backend for LocalBackend {
    delegate_to_fs!();
    fn find(&self, pattern: &str, start: &str) -> io::Result<Vec<String>> {
        self.fs.find(pattern, start)
    }
    fn grep(&self, text: &str, start: &str) -> io::Result<Vec<String>> {
        self.fs.search_content(text, None, start)
    }
    fn dump_json(&self, path: &str) -> io::Result<String> {
        memfs::persist::json::dump(&self.fs, path)
    }
    fn load_json(&self, text: &str) -> io::Result<()> {
        memfs::persist::json::load_str(&self.fs, text)
    }
    fn reset(&self, limits: memfs::Limits) -> io::Result<()> {
        self.fs.set_limits(memfs::Limits::default());
        memfs::persist::json::load_str(&self.fs, "{}")?;
        self.fs.set_limits(limits);
        Ok(())
    }
    fn import_host(
        &self,
        host: &Path,
        vpath: &str,
        force: bool,
        progress: Progress,
    ) -> io::Result<u64> {
        let existing = existing(force);
        memfs::persist::hostdir::import(&self.fs, host, vpath, existing, progress)
    }
    fn export_host(
        &self,
        vpath: &str,
        host: &Path,
        force: bool,
        progress: Progress,
    ) -> io::Result<u64> {
        let existing = existing(force);
        memfs::persist::hostdir::export(&self.fs, vpath, host, existing, progress)
    }
    fn snapshot(&self, name: &str) -> io::Result<()> {
        memfs::check_snapshot_name(name)?;
        self.snapshots
            .borrow_mut()
            .insert(name.to_owned(), self.fs.snapshot());
        self.dirty.set(true);
        Ok(())
    }
    fn delete_snapshot(&self, name: &str) -> io::Result<()> {
        self.snapshots
            .borrow_mut()
            .remove(name)
            .ok_or_else(|| no_snapshot(name))?;
        self.dirty.set(true);
        Ok(())
    }
    fn snapshots(&self) -> io::Result<Vec<SnapshotInfo>> {
        Ok(self
            .snapshots
            .borrow()
            .iter()
            .map(|(name, s)| {
                let st = s.stats();
                SnapshotInfo {
                    name: name.clone(),
                    files: st.files,
                    dirs: st.dirs,
                    logical_bytes: st.logical_bytes,
                }
            })
            .collect())
    }
    fn restore(&self, name: &str) -> io::Result<()> {
        let snaps = self.snapshots.borrow();
        let snap = snaps.get(name).ok_or_else(|| no_snapshot(name))?;
        self.fs.restore(snap)
    }
    fn diff(&self, from: &str, to: Option<&str>) -> io::Result<Vec<memfs::Change>> {
        let snaps = self.snapshots.borrow();
        let older = snaps.get(from).ok_or_else(|| no_snapshot(from))?;
        match to {
            Some(to) => Ok(older.diff(snaps.get(to).ok_or_else(|| no_snapshot(to))?)),
            None => Ok(self.fs.diff_since(older)),
        }
    }
    fn watch(
        &self,
        _prefix: &str,
        _on: &mut dyn FnMut(memfs::Event) -> io::Result<()>,
    ) -> io::Result<()> {
        Err(memfs::error::err(
            io::ErrorKind::Unsupported,
            "watch needs --remote URL: a local state changes only by this command's own hand",
        ))
    }
    fn usage(&self) -> io::Result<Stats> {
        Ok(self.fs.stats())
    }
    fn local(&self) -> Option<&LocalBackend> {
        Some(self)
    }
}
