//! `MemFs`: the handle users hold. Owns the commit protocol's [`Committer`] (the published root
//! and the writers' working root), the chunk store and the inode counter.
//!
//! Every write builds an [`Op`] in the caller's thread (paths parsed, bytes hashed and stored)
//! and applies it through [`Committer::apply`]; code that changes the tree with a closure of
//! `tree::ops` calls (handles, FUSE, loaders, transactions' commit) goes through
//! [`Committer::commit`]. These are the only ways a new root is published (see `commit.rs` for
//! the protocol and its invariants). Readers load the published root and never wait.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::blob::BlobStore;
use crate::commit::{Committer, OnError};
use crate::file::{File, OpenOptions};
use crate::op::Op;
use crate::path::VPath;
use crate::quota::{Limits, Usage};
use crate::sync::AtomicU64;
use crate::tree::ops::{self, Root, WriteCtx};
use crate::types::{FileType, Stats};
use crate::view::{self, read_api};

struct FsInner {
    commits: Committer,
    store: BlobStore,
    /// Shared with the directories of a remote store not fetched yet, which number their
    /// entries when they are.
    inos: Arc<AtomicU64>,
    faults: crate::fault::Faults,
}

/// An in-memory filesystem. Cloning gives another handle to the same filesystem; handles are
/// `Send + Sync` and can be used from any number of threads.
#[derive(Clone)]
pub struct MemFs {
    inner: Arc<FsInner>,
    /// Who this handle acts as (`None`: root, no access checks; see `access.rs`).
    cred: crate::access::Cred,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemFs")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// Same as [`MemFs::new`].
pub fn create_fs() -> MemFs {
    MemFs::new()
}

/// Builds a [`MemFs`] with options: [`MemFs::builder`].
#[derive(Clone, Debug, Default)]
pub struct MemFsBuilder {
    limits: Limits,
    cred: Option<crate::Credentials>,
}

impl MemFsBuilder {
    /// Caps the bytes stored by the live tree, counted after deduplication (see
    /// [`MemFs::set_limits`]).
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.limits.max_bytes = Some(max);
        self
    }

    /// Caps the inodes (directories, files and symlinks, `/` included) of the live tree.
    pub fn max_inodes(mut self, max: u64) -> Self {
        self.limits.max_inodes = Some(max);
        self
    }

    /// Acts as this user: every call is checked as Linux checks a process with these ids,
    /// and new nodes are theirs (see [`MemFs::as_user`]).
    pub fn credentials(mut self, cred: crate::Credentials) -> Self {
        self.cred = Some(cred);
        self
    }

    /// An empty filesystem with these options.
    pub fn build(self) -> MemFs {
        let fs = MemFs::new();
        fs.set_limits(self.limits);
        match self.cred {
            Some(c) => fs.as_user(c),
            None => fs,
        }
    }
}

impl MemFs {
    /// A builder for a filesystem with options (quotas):
    /// `MemFs::builder().max_bytes(64 << 20).max_inodes(10_000).build()`.
    pub fn builder() -> MemFsBuilder {
        MemFsBuilder::default()
    }

    /// Sets the quota of the live tree (`Limits::default()` removes it). From then on, a
    /// write, append, `set_len`, create, copy, batch or transaction commit that would take
    /// the stored bytes or the inodes past a limit fails with `ErrorKind::StorageFull`
    /// (ENOSPC) and changes nothing; `File` handles, which publish on flush, get it from
    /// `flush`. Bytes are counted as stored: each deduplicated chunk once, small contents by
    /// length; snapshots are outside the quota (see [`Usage`]). Limits below what is used are
    /// accepted: then only changes that do not grow usage succeed. Setting limits on a large
    /// tree counts it once (a walk); while limits are set each write also pays for a diff of
    /// the versions before and after it.
    pub fn set_limits(&self, limits: Limits) {
        self.inner.commits.set_limits(limits)
    }

    /// The limits set by [`MemFs::set_limits`] or the builder.
    pub fn limits(&self) -> Limits {
        self.inner.commits.limits()
    }

    /// What the live tree uses, counted as the quota counts (O(1) while limits are set; a walk
    /// of the tree otherwise).
    pub fn usage(&self) -> Usage {
        self.inner.commits.usage()
    }

    /// An empty filesystem holding only `/`.
    pub fn new() -> Self {
        MemFs {
            inner: Arc::new(FsInner {
                commits: Committer::new(Root::empty()),
                store: BlobStore::new(),
                // 1 is the root's inode.
                inos: Arc::new(AtomicU64::new(2)),
                faults: Default::default(),
            }),
            cred: None,
        }
    }

    /// Another handle to the same filesystem that acts as the user `cred`: every call through
    /// it is checked as Linux checks a process with those ids (search permission on the way,
    /// read or write permission on what it reads or writes, the sticky bit, owner-only
    /// `chmod`/`chown`/times) and fails with `PermissionDenied` (`EACCES`, or `EPERM` where
    /// Linux gives it) when they may not; the nodes it makes are theirs. Uid 0 is root: no
    /// check refuses it. A handle without credentials ([`MemFs::new`]) acts as root.
    pub fn as_user(&self, cred: crate::Credentials) -> MemFs {
        MemFs {
            inner: self.inner.clone(),
            cred: Some(Arc::new(cred)),
        }
    }

    /// Another handle to the same filesystem without credentials (as root, unchecked).
    pub fn as_root(&self) -> MemFs {
        MemFs {
            inner: self.inner.clone(),
            cred: None,
        }
    }

    /// Refuses (`EPERM`) an operation on the whole tree for a handle acting as a user other
    /// than root (`access::check_whole_tree`).
    pub(crate) fn check_admin(&self, what: &str) -> io::Result<()> {
        crate::access::check_whole_tree(self.credentials(), what)
    }

    /// The credentials this handle acts as, if any ([`MemFs::as_user`]).
    pub fn credentials(&self) -> Option<&crate::Credentials> {
        self.cred.as_deref()
    }

    /// Runs `f` on the current root without copying or locking anything.
    pub(crate) fn with_root<R>(&self, f: impl FnOnce(&Root) -> R) -> R {
        self.inner.commits.with_published(f)
    }

    /// The current root, pinned (keeps that version alive).
    pub(crate) fn load_root(&self) -> Arc<Root> {
        self.inner.commits.load_full()
    }

    pub(crate) fn store(&self) -> &BlobStore {
        &self.inner.store
    }

    pub(crate) fn inos(&self) -> &AtomicU64 {
        &self.inner.inos
    }

    pub(crate) fn inos_shared(&self) -> Arc<AtomicU64> {
        self.inner.inos.clone()
    }

    /// Whether two handles are the same filesystem.
    pub fn same_fs(&self, other: &MemFs) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Applies `f` to the newest version of the tree and publishes the result (see
    /// `commit.rs`). An `Err` from `f` publishes nothing; `f` may fail half way (its changes are
    /// then discarded), at the cost of a copy of the path it changes. `f` runs holding the
    /// commit mutex, which is not reentrant: it must not call a `MemFs` write itself.
    pub(crate) fn commit<T>(
        &self,
        f: impl FnOnce(&mut Root, &WriteCtx) -> io::Result<T>,
    ) -> io::Result<T> {
        self.commit_with(OnError::Restore, f)
    }

    /// Like [`MemFs::commit`], for an `f` that checks everything before changing anything (no
    /// copy needed to undo it).
    pub(crate) fn commit_checked<T>(
        &self,
        f: impl FnOnce(&mut Root, &WriteCtx) -> io::Result<T>,
    ) -> io::Result<T> {
        self.commit_with(OnError::Unchanged, f)
    }

    fn commit_with<T>(
        &self,
        on_error: OnError,
        f: impl FnOnce(&mut Root, &WriteCtx) -> io::Result<T>,
    ) -> io::Result<T> {
        let ctx = self.write_ctx();
        self.inner
            .commits
            .commit(on_error, |root| f(root, &ctx), &ctx)
    }

    /// Adds a change feed (see `watch.rs`); returns the version published at that moment.
    pub(crate) fn register_watcher(&self, feed: crate::watch::Sink) -> Arc<Root> {
        self.inner.commits.register_watcher(feed)
    }

    /// Applies one operation through the commit protocol; returns its length, if it has one.
    pub(crate) fn apply(&self, op: Op) -> io::Result<u64> {
        self.check_faults(&op)?;
        self.inner.commits.apply(&op, &self.write_ctx())
    }

    /// The fault plan's verdict on `op` (`fault.rs`; one relaxed load when no plan is set).
    #[inline]
    pub(crate) fn check_faults(&self, op: &Op) -> io::Result<()> {
        if !self.faults().enabled() {
            return Ok(());
        }
        match op.paths() {
            (a, Some(b)) => self
                .faults()
                .check(op.name(), &[&a.as_string(), &b.as_string()]),
            (p, None) => self.faults().check(op.name(), &[&p.as_string()]),
        }
    }

    pub(crate) fn faults(&self) -> &crate::fault::Faults {
        &self.inner.faults
    }

    pub(crate) fn write_ctx(&self) -> WriteCtx<'_> {
        WriteCtx {
            store: &self.inner.store,
            inos: &self.inner.inos,
            cred: self.cred.as_ref(),
        }
    }

    /// Replaces the whole current tree by `node` (a directory), in one publish. Used by restore
    /// and loaders; the generation keeps increasing. Fails only on a quota (`StorageFull`).
    pub(crate) fn replace_root(&self, tree: &Root) -> io::Result<()> {
        self.commit_checked(|root, _| {
            root.node = tree.node.clone();
            root.links = tree.links.clone();
            Ok(())
        })
    }

    /// The generation of the current root (incremented by every commit).
    pub fn generation(&self) -> u64 {
        self.inner.commits.with_published(|r| r.generation)
    }

    /// Counts of files, directories and bytes, logical and stored (after deduplication).
    pub fn stats(&self) -> Stats {
        let limits = self.limits();
        self.with_root(|r| view::stats(r, &self.inner.store, limits))
    }

    // --- std::fs shape ---------------------------------------------------------------------

    /// Creates a directory; its parent must exist (`std::fs::create_dir`).
    pub fn create_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::create_dir(p)?).map(drop)
    }

    /// Creates a directory and its missing parents (`std::fs::create_dir_all`).
    pub fn create_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        if self.isdir(&p) {
            return Ok(());
        }
        self.apply(Op::create_dir_all(p)?).map(drop)
    }

    /// Removes a file or symlink (`unlink`).
    pub fn remove_file(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::remove_file(p)?).map(drop)
    }

    /// Removes an empty directory (`rmdir`).
    pub fn remove_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::remove_dir(p)?).map(drop)
    }

    /// Removes a directory and everything below it, in one atomic step.
    pub fn remove_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::remove_dir_all(p)?).map(drop)
    }

    /// Renames a file or directory, with `rename(2)`'s rules (replaces a file, or an empty
    /// directory, at `to`).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::rename(from, to)?).map(drop)
    }

    /// Makes `link` a new name of the node at `original` (`std::fs::hard_link`, `link(2)`):
    /// both names are then one file, whose changes through either are seen through both, with
    /// its link count ([`crate::Metadata::nlink`]) one higher; `remove_file` of a name drops one link.
    /// `original` is not followed if it is a symlink (the link is to the symlink, as on Linux).
    /// Errors: `NotFound` (no `original`, or no parent of `link`), `AlreadyExists` (`link`
    /// exists), `PermissionDenied` with `EPERM` (`original` is a directory).
    pub fn hard_link(&self, original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::link(original, link)?).map(drop)
    }

    /// Copies a file's content, permissions and metadata; returns the bytes copied. The bytes
    /// are shared, not duplicated.
    pub fn copy(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
        self.apply(Op::copy(from, to)?)
    }

    /// Sets the permission bits (stored and reported, not enforced).
    pub fn set_permissions(&self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        self.apply(Op::set_permissions(p, mode)?).map(drop)
    }

    /// Sets access and/or modification times (`None` leaves one unchanged).
    pub fn set_times(
        &self,
        p: impl AsRef<Path>,
        accessed: Option<SystemTime>,
        modified: Option<SystemTime>,
    ) -> io::Result<()> {
        self.apply(Op::set_times(p, accessed, modified)?).map(drop)
    }

    /// `touch(1)`: sets the access and modification times of `path` to now, or creates an empty
    /// file there if nothing exists, in one commit.
    pub fn touch(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::touch(p)?).map(drop)
    }

    /// Creates or truncates a file and writes `data` (`std::fs::write`).
    pub fn write(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.apply(Op::write(self.store(), p, data.as_ref())?)
            .map(drop)
    }

    /// Appends `data` to a file, creating it if missing (`O_APPEND | O_CREAT`), atomically.
    pub fn append(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.apply(Op::append(p, data.as_ref())?).map(drop)
    }

    /// Truncates or zero-extends an existing file to `len` bytes.
    pub fn set_len(&self, p: impl AsRef<Path>, len: u64) -> io::Result<()> {
        self.apply(Op::set_len(p, len)?).map(drop)
    }

    /// Creates a symbolic link at `link` pointing to `target` (`std::os::unix::fs::symlink`).
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        self.apply(Op::symlink(target, link)?).map(drop)
    }

    /// Creates a special file at `p` (`mknod(2)`): `kind` is `FileType::Fifo`, `Socket`,
    /// `CharDevice` or `BlockDevice` (any other is `InvalidInput`), `mode` its permission bits,
    /// `rdev` the device number of a device node (ignored for the others). It is stored and
    /// reported (`Metadata::file_type`, `rdev`); reading or writing it through the library is
    /// `InvalidInput`, while on a mount the kernel gives it its meaning.
    pub fn mknod(
        &self,
        p: impl AsRef<Path>,
        kind: FileType,
        mode: u32,
        rdev: u64,
    ) -> io::Result<()> {
        self.apply(Op::mknod(p, kind, mode, rdev)?).map(drop)
    }

    /// Changes the owner and/or group of `p`, following a final symlink (`chown(2)`; `None`
    /// leaves that id unchanged). A handle without credentials acts as root: anyone may be
    /// given anything; one made by [`MemFs::as_user`] may only change the group of what it
    /// owns to one of its groups (`EPERM` otherwise). A change of a non-directory clears its
    /// set-user-ID bit (and set-group-ID when group execute is set), as Linux does.
    pub fn chown(&self, p: impl AsRef<Path>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        self.apply(Op::chown(p, uid, gid, true)?).map(drop)
    }

    /// [`MemFs::chown`] of a symlink itself (`lchown(2)`).
    pub fn lchown(
        &self,
        p: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        self.apply(Op::chown(p, uid, gid, false)?).map(drop)
    }

    /// Creates a FIFO (named pipe) at `p` with permission bits `mode` (`mkfifo(3)`).
    pub fn mkfifo(&self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        self.mknod(p, FileType::Fifo, mode, 0)
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
        self.faults().check_read("open", p.as_ref())?;
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
            Op::CreateDirAll(vp.clone()).apply(r, c).map(drop)
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
        self.apply(Op::set_metadata(p, meta)?).map(drop)
    }
}

impl view::Source for MemFs {
    fn with_root_at<R>(&self, _p: &VPath, _access: view::Access, f: impl FnOnce(&Root) -> R) -> R {
        self.with_root(f)
    }

    #[inline]
    fn with_plain_root<R>(&self, p: &Path, f: impl FnOnce(&Root, &[u8]) -> Option<R>) -> Option<R> {
        self.with_root(|r| view::plain_lane(r, p, f))
    }

    #[inline]
    fn check_read(&self, op: &'static str, p: &Path) -> io::Result<()> {
        self.faults().check_read(op, p)
    }

    #[inline]
    fn credentials(&self) -> Option<&Arc<crate::Credentials>> {
        self.cred.as_ref()
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
