//! `MemFs`: the handle users hold. Owns the published root (an `ArcSwap<Root>`, named through
//! the `sync` shim's `PublishCell` so loom can check the protocol), the chunk store and the
//! inode counter, and the commit protocol that is the only way a new root is published.
//!
//! Commit protocol: a writer loads the current root, applies its operation to a private copy
//! (only the path from the root to the changed node is copied), and publishes it with a
//! compare-and-swap. If another writer published first, the operation is re-applied to the new
//! root. Readers `load()` the root and never wait. Invariant: every published root is the result
//! of applying whole operations, in some serial order, to the empty tree.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::blob::{BlobStore, Content};
use crate::file::{File, OpenOptions};
use crate::path::VPath;
use crate::sync::{AtomicU64, Guard, PublishCell};
use crate::tree::ops::{self, Create, Root, WriteCtx, WriteData};
use crate::types::Stats;
use crate::view::{self, read_api};

struct FsInner {
    state: PublishCell<Root>,
    store: BlobStore,
    inos: AtomicU64,
}

/// An in-memory filesystem. Cloning gives another handle to the same filesystem; handles are
/// `Send + Sync` and can be used from any number of threads.
#[derive(Clone)]
pub struct MemFs {
    inner: Arc<FsInner>,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = self.inner.state.load();
        f.debug_struct("MemFs")
            .field("generation", &root.generation)
            .finish_non_exhaustive()
    }
}

/// Same as [`MemFs::new`].
pub fn create_fs() -> MemFs {
    MemFs::new()
}

impl MemFs {
    /// An empty filesystem holding only `/`.
    pub fn new() -> Self {
        MemFs {
            inner: Arc::new(FsInner {
                state: PublishCell::from_pointee(Root::empty()),
                store: BlobStore::new(),
                // 1 is the root's inode.
                inos: AtomicU64::new(2),
            }),
        }
    }

    /// Runs `f` on the current root without copying or locking anything.
    pub(crate) fn with_root<R>(&self, f: impl FnOnce(&Root) -> R) -> R {
        f(&self.inner.state.load())
    }

    /// The current root, pinned (keeps that version alive).
    pub(crate) fn load_root(&self) -> Arc<Root> {
        self.inner.state.load_full()
    }

    pub(crate) fn store(&self) -> &BlobStore {
        &self.inner.store
    }

    pub(crate) fn inos(&self) -> &AtomicU64 {
        &self.inner.inos
    }

    /// Whether two handles are the same filesystem.
    pub fn same_fs(&self, other: &MemFs) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Applies `f` to a private copy of the current root and publishes the result; retries on
    /// a lost race. An `Err` from `f` publishes nothing.
    pub(crate) fn commit<T>(
        &self,
        mut f: impl FnMut(&mut Root, &WriteCtx) -> io::Result<T>,
    ) -> io::Result<T> {
        let ctx = self.write_ctx();
        let mut current = self.inner.state.load_full();
        loop {
            let mut next = Root::clone(&current);
            let out = f(&mut next, &ctx)?;
            next.generation = current.generation + 1;
            let prev = self.inner.state.compare_and_swap(&current, Arc::new(next));
            if Arc::ptr_eq(&prev, &current) {
                return Ok(out);
            }
            current = Guard::into_inner(prev);
        }
    }

    /// Publishes `next` if the current root is still `expected` (pointer identity); otherwise
    /// publishes nothing and returns the root that is current. The building block of
    /// `Transaction::commit`, which validates before it publishes.
    pub(crate) fn compare_and_publish(
        &self,
        expected: &Arc<Root>,
        next: Arc<Root>,
    ) -> Result<(), Arc<Root>> {
        let prev = self.inner.state.compare_and_swap(expected, next);
        if Arc::ptr_eq(&prev, expected) {
            Ok(())
        } else {
            Err(Guard::into_inner(prev))
        }
    }

    pub(crate) fn write_ctx(&self) -> WriteCtx<'_> {
        WriteCtx {
            store: &self.inner.store,
            inos: &self.inner.inos,
        }
    }

    /// Replaces the whole current tree by `node` (a directory), in one publish. Used by restore
    /// and loaders; the generation keeps increasing.
    pub(crate) fn replace_root(&self, node: crate::tree::node::Node) {
        self.inner.state.rcu(|cur| Root {
            node: node.clone(),
            generation: cur.generation + 1,
        });
    }

    /// The generation of the current root (incremented by every commit).
    pub fn generation(&self) -> u64 {
        self.inner.state.load().generation
    }

    /// Counts of files, directories and bytes, logical and stored (after deduplication).
    pub fn stats(&self) -> Stats {
        self.with_root(|r| view::stats(r, &self.inner.store))
    }

    // --- std::fs shape ---------------------------------------------------------------------

    /// Creates a directory; its parent must exist (`std::fs::create_dir`).
    pub fn create_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, c| ops::create_dir(r, c, &p))
    }

    /// Creates a directory and its missing parents (`std::fs::create_dir_all`).
    pub fn create_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        if self.isdir(p.as_string()) {
            return Ok(());
        }
        self.commit(|r, c| ops::create_dir_all(r, c, &p))
    }

    /// Removes a file or symlink (`unlink`).
    pub fn remove_file(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, _| ops::remove_file(r, &p))
    }

    /// Removes an empty directory (`rmdir`).
    pub fn remove_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, _| ops::remove_dir(r, &p))
    }

    /// Removes a directory and everything below it, in one atomic step.
    pub fn remove_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, _| ops::remove_dir_all(r, &p))
    }

    /// Renames a file or directory, with `rename(2)`'s rules (replaces a file, or an empty
    /// directory, at `to`).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let from = VPath::parse(from)?;
        let to = VPath::parse(to)?;
        self.commit(|r, _| ops::rename(r, &from, &to))
    }

    /// Copies a file's content, permissions and metadata; returns the bytes copied. The bytes
    /// are shared, not duplicated.
    pub fn copy(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
        let from = VPath::parse(from)?;
        let to = VPath::parse(to)?;
        self.commit(|r, c| ops::copy(r, c, &from, &to))
    }

    /// Sets the permission bits (stored and reported, not enforced).
    pub fn set_permissions(&self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, _| ops::set_permissions(r, &p, mode))
    }

    /// Sets access and/or modification times (`None` leaves one unchanged).
    pub fn set_times(
        &self,
        p: impl AsRef<Path>,
        accessed: Option<SystemTime>,
        modified: Option<SystemTime>,
    ) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, _| ops::set_times(r, &p, accessed, modified))
    }

    /// `touch(1)`: sets the access and modification times of `path` to now, or creates an empty
    /// file there if nothing exists, in one commit.
    pub fn touch(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        let now = SystemTime::now();
        self.commit(|r, c| ops::touch(r, c, &p, now))
    }

    /// Creates or truncates a file and writes `data` (`std::fs::write`).
    pub fn write(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        // Hash and store outside the commit loop, so a retry does not redo it.
        let content = Content::from_bytes(&self.inner.store, data.as_ref());
        self.commit(|r, c| {
            ops::write_file(
                r,
                c,
                &p,
                Create::IfMissing,
                WriteData::Replace(content.clone()),
            )
        })
        .map(drop)
    }

    /// Appends `data` to a file, creating it if missing (`O_APPEND | O_CREAT`), atomically.
    pub fn append(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        let p = VPath::parse(p)?;
        let data = data.as_ref();
        self.commit(|r, c| ops::write_file(r, c, &p, Create::IfMissing, WriteData::Append(data)))
            .map(drop)
    }

    /// Truncates or zero-extends an existing file to `len` bytes.
    pub fn set_len(&self, p: impl AsRef<Path>, len: u64) -> io::Result<()> {
        let p = VPath::parse(p)?;
        self.commit(|r, c| ops::write_file(r, c, &p, Create::No, WriteData::SetLen(len)))
            .map(drop)
    }

    /// Creates a symbolic link at `link` pointing to `target` (`std::os::unix::fs::symlink`).
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let target = target
            .as_ref()
            .to_str()
            .ok_or_else(|| crate::error::invalid_input("symlink target is not valid UTF-8"))?;
        let link = VPath::parse(link)?;
        self.commit(|r, c| ops::symlink(r, c, target, &link))
    }

    /// Opens a file read-only.
    pub fn open(&self, p: impl AsRef<Path>) -> io::Result<File> {
        self.open_with(p, OpenOptions::new().read(true))
    }

    /// Opens a file for writing, creating it or truncating it.
    pub fn create(&self, p: impl AsRef<Path>) -> io::Result<File> {
        self.open_with(
            p,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
    }

    /// Opens a file with explicit options (`std::fs::OpenOptions`).
    pub fn open_with(&self, p: impl AsRef<Path>, opts: &OpenOptions) -> io::Result<File> {
        File::open(self.clone(), VPath::parse(p)?, opts)
    }

    /// Opens a file with a Python mode string: `r w a x r+ w+ a+ x+`, each optionally with `b`
    /// or `t`.
    pub fn open_mode(&self, p: impl AsRef<Path>, mode: &str) -> io::Result<File> {
        self.open_with(p, &OpenOptions::from_mode(mode)?)
    }

    // --- Python os-style names ------------------------------------------------------------

    /// `os.mkdir`.
    pub fn mkdir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.create_dir(p)
    }

    /// `os.makedirs(p, exist_ok)`: with `exist_ok = false` an existing directory is an error.
    pub fn makedirs(&self, p: impl AsRef<Path>, exist_ok: bool) -> io::Result<()> {
        let vp = VPath::parse(p)?;
        // The existence check runs inside the commit, on the version being changed: a
        // directory created concurrently by another thread still makes this call fail.
        self.commit(|r, c| {
            if !exist_ok && ops::stat(r, &vp, true).is_ok() {
                return Err(crate::error::already_exists(&vp));
            }
            ops::create_dir_all(r, c, &vp)
        })
    }

    /// `os.remove`.
    pub fn remove(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove_file(p)
    }

    /// `os.rmdir`.
    pub fn rmdir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove_dir(p)
    }

    /// Writes text or bytes (same as [`MemFs::write`]).
    pub fn writefile(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.write(p, data)
    }

    /// Writes bytes (same as [`MemFs::write`]).
    pub fn writefilebytes(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.write(p, data)
    }

    // --- per-file user metadata -----------------------------------------------------------

    /// Replaces the user metadata (string key/value pairs) of `p`; an empty map clears it.
    pub fn set_metadata(
        &self,
        p: impl AsRef<Path>,
        meta: BTreeMap<String, String>,
    ) -> io::Result<()> {
        let p = VPath::parse(p)?;
        let user = if meta.is_empty() {
            None
        } else {
            Some(Arc::new(meta))
        };
        self.commit(|r, _| ops::set_user_meta(r, &p, user.clone()))
    }
}

read_api!(MemFs);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<MemFs>();
        assert_send_sync::<File>();
        assert_send_sync::<crate::Snapshot>();
        assert_send_sync::<crate::Walk>();
    }

    #[test]
    fn commit_bumps_generation_only_on_success() {
        let fs = MemFs::new();
        let g = fs.generation();
        fs.create_dir("/a").unwrap();
        assert_eq!(fs.generation(), g + 1);
        assert!(fs.create_dir("/a").is_err());
        assert_eq!(fs.generation(), g + 1);
    }
}
