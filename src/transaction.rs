//! `Transaction`: a private, atomic unit of work over a `MemFs` (optimistic concurrency).
//!
//! This module owns the transaction's private root, its write log and its read set, and the
//! validation that decides a commit. It changes the tree only through `tree::ops` (on its own
//! root) and publishes only through `MemFs::compare_and_publish`; it never touches the blob
//! store or the published root directly.
//!
//! # How it works
//! - `begin()` pins the current root (`base`) and clones it into a private root: O(1).
//! - Writes run the same `tree::ops` functions as `MemFs`, on the private root, in place: the
//!   first write to a node copies it (and the path above it) once, later writes to the same
//!   node mutate the copy without copying again. Each successful write is also appended to a
//!   log of operations.
//! - Reads see the private root (so a transaction reads its own writes). Every path a read or a
//!   write depends on is recorded in the read set together with what `base` had there: the
//!   outcome of resolving it (the canonical path, or the error) and the node found.
//! - `commit()` validates the read set against the current root: every recorded path must
//!   resolve the same way to the same node version. Then it publishes: if nothing was
//!   published since `begin()`, the private root itself (O(1)); otherwise the log is replayed
//!   on the current root. Validation and replay run inside the compare-and-swap loop, against
//!   the very root that is swapped out, so nothing published meanwhile is lost.
//! - Dropping a transaction without committing discards the private root: rollback is free.
//!
//! # What counts as a change (the conflict rules)
//! - A file or symlink read or written: any new version of that node (content, metadata), its
//!   removal, creation, or replacement — pointer identity of the node, so a rewrite with the
//!   same bytes counts too.
//! - A directory named by a read or write (`metadata`, `exists`, `create_dir_all`,
//!   `set_permissions`, ...): only its identity (same inode), kind and mode/user metadata. A
//!   change *inside* it is not a change of the directory; neither are its timestamps.
//! - A listing (`read_dir`, `listdir`, and the implicit listing of `remove_dir` and of a
//!   `rename` target): an entry added, removed, or replaced, or a listed file or symlink
//!   changed. A change deeper down (inside a listed subdirectory) does **not** conflict with the
//!   listing: path copying gives every ancestor a new `Arc`, so comparing the directory's
//!   pointer would make every listing of `/` conflict with every write anywhere. A transaction
//!   that depends on deeper content reads those paths, and they are checked themselves.
//! - A `walk`: the whole subtree, exactly (pointer identity of the walked directory): any
//!   change anywhere below conflicts. The same holds for the source of a `rename`: reads
//!   through the new path see what was below the old one, so a directory the transaction moves
//!   conflicts with any change inside it.
//! - Paths are recorded twice when a symlink redirects them in the private tree (one the
//!   transaction created, say): as given, and where they lead, since that node is what the
//!   read saw.
//! - Path resolution itself: a symlink retargeted, or a directory on the way removed or turned
//!   into a file, changes how a recorded path resolves, which is a conflict.
//!
//! # Isolation level
//! Serializable (optimistic, backward validation): each committed transaction is equivalent to
//! running it alone, at once, at its commit point, because everything it read is checked to be
//! unchanged at that point. Read-only transactions read one consistent snapshot. The one
//! relaxation is the one above: directory timestamps (mtime/ctime of a directory) and the
//! metadata of subdirectories in a listing are not part of the read set.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error;
use crate::fs::MemFs;
use crate::op::Op;
use crate::path::{Name, VPath};
use crate::tree::node::Node;
use crate::tree::ops::{Root, WriteCtx};
use crate::tree::resolve::{node_at, resolve};
use crate::types::Stats;
use crate::view::{self, read_api, Access, Source};

/// How many times [`MemFs::transaction`] runs its closure before giving up with the conflict.
pub const MAX_TRANSACTION_ATTEMPTS: u32 = 32;

/// A private view of a filesystem whose changes become visible all at once on
/// [`commit`](Transaction::commit), or never (drop = rollback).
///
/// It offers the read API of [`MemFs`] (seeing its own writes) and its path-based write API.
/// Its `open` gives a read-only handle; there are no writable handles in a transaction: use
/// `write`/`append`/`set_len`.
/// A `Transaction` is `Send` (it can move to another thread) but not `Sync`: its read set is
/// recorded through `&self`.
pub struct Transaction {
    fs: MemFs,
    /// The root the transaction started from (pinned: its nodes stay alive for validation).
    base: Arc<Root>,
    /// The private root, mutated in place.
    root: Root,
    /// Every successful write, in order, for replay on a newer root.
    log: Vec<Op<'static>>,
    /// Whether reads are recorded and checked at commit (a transaction), or not (a batch).
    isolated: bool,
    /// What each path the transaction depends on looked like in `base`.
    reads: RefCell<ReadSet>,
    /// Whether the transaction created a symlink or moved something: then a path can resolve
    /// differently in the private tree than in `base`.
    redirects: bool,
}

/// Keyed with the Fx hash: hashing paths is on every transactional read and write, and SipHash
/// was the largest cost of a bulk write in a transaction (measured with perf).
type ReadSet = rustc_hash::FxHashMap<VPath, Vec<(Access, Seen)>>;

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("base_generation", &self.base.generation)
            .field("writes", &self.log.len())
            .field("paths_read", &self.reads.borrow().len())
            .finish_non_exhaustive()
    }
}

/// What a path looked like in one version of the tree.
enum Seen {
    /// Resolution failed with this kind (a missing parent, a loop, ...).
    Failed(io::ErrorKind),
    /// Resolution succeeded. `canon` is `None` when the canonical path is the path itself (no
    /// symlink on the way), to avoid copying it.
    Found {
        canon: Option<Vec<Name>>,
        node: Option<Node>,
    },
}

fn observe(root: &Root, path: &VPath, access: Access) -> Seen {
    let follow = match access {
        Access::Entry { follow } => follow,
        Access::Listing | Access::Subtree => true,
    };
    match resolve(&root.node, path, follow) {
        Err(e) => Seen::Failed(e.kind()),
        Ok(canon) => {
            let node = node_at(&root.node, &canon).cloned();
            let canon = (canon.as_ref() != path.names()).then(|| canon.into_owned());
            Seen::Found { canon, node }
        }
    }
}

/// Whether `now` is the same as `then` for a read of kind `access`.
fn unchanged(access: Access, then: &Seen, now: &Seen) -> bool {
    match (then, now) {
        (Seen::Failed(a), Seen::Failed(b)) => a == b,
        (
            Seen::Found {
                canon: c1,
                node: n1,
            },
            Seen::Found {
                canon: c2,
                node: n2,
            },
        ) => {
            c1 == c2
                && match (n1, n2) {
                    (None, None) => true,
                    (Some(a), Some(b)) => match access {
                        Access::Entry { .. } => same_entry(a, b),
                        Access::Listing => same_listing(a, b),
                        Access::Subtree => a.same_version(b),
                    },
                    _ => false,
                }
        }
        _ => false,
    }
}

/// Files and symlinks: the same version. Directories: the same directory (inode), with the same
/// permission bits and user metadata, whatever changed inside it.
fn same_entry(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Dir(x), Node::Dir(y)) => {
            Arc::ptr_eq(x, y)
                || (x.meta.ino == y.meta.ino
                    && x.meta.mode == y.meta.mode
                    && x.meta.user == y.meta.user)
        }
        _ => a.same_version(b),
    }
}

/// The same directory with the same names, each naming the same entry (see [`same_entry`]).
fn same_listing(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Dir(x), Node::Dir(y)) => {
            Arc::ptr_eq(x, y)
                || (same_entry(a, b)
                    && (x.shares_entries(y)
                        || match (x.children(), y.children()) {
                            (Ok(c1), Ok(c2)) => {
                                c1.len() == c2.len()
                                    && c1
                                        .iter()
                                        .zip(c2.iter())
                                        .all(|((k1, v1), (k2, v2))| k1 == k2 && same_entry(v1, v2))
                            }
                            // Cannot be fetched: not known to be the same.
                            _ => false,
                        }))
        }
        _ => same_entry(a, b),
    }
}

impl MemFs {
    /// Starts a transaction: a private view of the filesystem as it is now. The filesystem is
    /// unchanged until [`Transaction::commit`]; dropping the transaction rolls it back. O(1).
    pub fn begin(&self) -> Transaction {
        self.begin_with(true)
    }

    fn begin_with(&self, isolated: bool) -> Transaction {
        let base = self.load_root();
        Transaction {
            fs: self.clone(),
            root: Root::clone(&base),
            base,
            log: Vec::new(),
            isolated,
            reads: RefCell::new(ReadSet::default()),
            redirects: false,
        }
    }

    /// Runs `f` on a private copy of the tree, changed in place, and publishes everything it
    /// did at once if it returns `Ok` (nothing if it returns `Err` or panics): one publish for
    /// many operations, for bulk work (imports, generating a tree, a pipeline stage's output).
    ///
    /// `f` gets a [`Transaction`] that records no reads (see [`Transaction::is_batch`]). Unlike
    /// a transaction, a batch is atomic but not isolated: if another writer published while
    /// `f` ran, the batch's operations are applied again, in order, on top of that newer tree
    /// (what `f` read is not checked); if one of them no longer applies there, the batch fails
    /// with a conflict error and publishes nothing. Use a transaction when what you write
    /// depends on what you read; use a batch when you only add or replace.
    ///
    /// ```
    /// let fs = memfs::MemFs::new();
    /// fs.batch(|b| {
    ///     b.create_dir("/out")?;
    ///     for i in 0..100 {
    ///         b.write(format!("/out/{i}.txt"), i.to_string())?;
    ///     }
    ///     Ok(())
    /// })?;
    /// assert_eq!(fs.listdir("/out")?.len(), 100);
    /// assert!(fs.batch(|b| { b.write("/out/x", "x")?; b.remove_file("/missing") }).is_err());
    /// assert!(!fs.exists("/out/x"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn batch<T>(&self, f: impl FnOnce(&mut Transaction) -> io::Result<T>) -> io::Result<T> {
        let mut b = self.begin_with(false);
        let out = f(&mut b)?;
        b.commit()?;
        Ok(out)
    }

    /// Runs `f` in a transaction and commits it; on a conflict, runs `f` again on a fresh
    /// transaction (up to [`MAX_TRANSACTION_ATTEMPTS`] times, with a short backoff), then
    /// returns the conflict error. An error from `f` rolls back and is returned as is.
    pub fn transaction<T>(
        &self,
        mut f: impl FnMut(&mut Transaction) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut attempt = 0;
        loop {
            let mut tx = self.begin();
            let out = f(&mut tx)?;
            match tx.commit() {
                Ok(()) => return Ok(out),
                Err(e) if error::is_conflict(&e) => {
                    attempt += 1;
                    if attempt >= MAX_TRANSACTION_ATTEMPTS {
                        return Err(error::conflict(format!(
                            "gave up after {attempt} attempts; last: {}",
                            e.get_ref().map_or_else(|| e.to_string(), |c| c.to_string())
                        )));
                    }
                    crate::sync::backoff(attempt);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl view::Source for Transaction {
    /// Runs `f` on the private root, recording what `base` had at `p`.
    fn with_root_at<R>(&self, p: &VPath, access: Access, f: impl FnOnce(&Root) -> R) -> R {
        if self.isolated {
            self.note(p, access);
        }
        f(&self.root)
    }

    fn credentials(&self) -> Option<&Arc<crate::Credentials>> {
        view::Source::credentials(&self.fs)
    }
}

impl Transaction {
    /// Records a dependency on `p`, and, when a symlink redirects `p` in the private tree
    /// (possibly one this transaction created), on where it leads: the node found there is
    /// what the read really depends on.
    fn note(&self, p: &VPath, access: Access) {
        let plain_in_base = self.note_base(p, access);
        if plain_in_base && !self.redirects {
            // Without a symlink created or anything moved by this transaction, the private
            // tree has symlinks only where `base` has them; `base` resolved `p` without
            // meeting one, so the private resolution meets none either.
            return;
        }
        let follow = match access {
            Access::Entry { follow } => follow,
            Access::Listing | Access::Subtree => true,
        };
        // `Owned` only when resolution met a symlink (the fast path borrows `p`'s names).
        match resolve(&self.root.node, p, follow) {
            Ok(Cow::Owned(canon)) => {
                if canon.as_slice() != p.names() {
                    let at = match access {
                        Access::Entry { .. } => Access::Entry { follow: false },
                        other => other,
                    };
                    self.note_base(&VPath::from_names(canon), at);
                }
            }
            Ok(Cow::Borrowed(_)) => {}
            // The resolution failed part way (a symlink leading to a file or to nothing): what
            // made it fail is the node the deepest resolvable prefix leads to, and the name
            // looked up below it. Record both where they really are, so a concurrent change
            // there (the file removed, the name created) is a conflict.
            Err(_) => self.note_failed_resolution(p),
        }
    }

    /// Follows `p` through the private tree step by step (symlinks expanded) to where its
    /// resolution fails, recording what `base` has at every real path met on the way (rare:
    /// only for a failed resolution through a symlink, so the extra records cost little).
    fn note_failed_resolution(&self, p: &VPath) {
        const NOFOLLOW: Access = Access::Entry { follow: false };
        use crate::tree::resolve::MAX_HOPS;
        let mut pending: std::collections::VecDeque<Name> = p.names().iter().cloned().collect();
        let mut cur: Vec<Name> = Vec::new();
        let mut hops = 0;
        while let Some(name) = pending.pop_front() {
            let mut at = cur.clone();
            at.push(name);
            let here = VPath::from_names(at.clone());
            self.note_base(&here, NOFOLLOW);
            match crate::tree::resolve::lookup(&self.root.node, &here, false) {
                Some(Node::Dir(_)) => cur = at,
                Some(Node::Symlink(link)) if hops < MAX_HOPS => {
                    hops += 1;
                    let target = if link.target.starts_with('/') {
                        link.target.clone()
                    } else {
                        format!(
                            "{}/{}",
                            VPath::from_names(cur.clone()).as_string(),
                            link.target
                        )
                    };
                    let Ok(t) = VPath::parse_str(&target) else {
                        return;
                    };
                    cur.clear();
                    for n in t.names().iter().rev() {
                        pending.push_front(n.clone());
                    }
                }
                // Missing, a file (with names left), or a loop: the resolution fails here.
                _ => return,
            }
        }
    }

    /// Records what `base` has at `p` (the first time only: `base` never changes). Returns
    /// whether `base` resolved `p` without meeting a symlink.
    fn note_base(&self, p: &VPath, access: Access) -> bool {
        let plain = |seen: &Seen| matches!(seen, Seen::Found { canon: None, .. });
        let mut reads = self.reads.borrow_mut();
        if let Some(seen) = reads.get_mut(p) {
            if let Some((_, then)) = seen.iter().find(|(a, _)| *a == access) {
                return plain(then);
            }
            let then = observe(&self.base, p, access);
            let is_plain = plain(&then);
            seen.push((access, then));
            is_plain
        } else {
            let then = observe(&self.base, p, access);
            let is_plain = plain(&then);
            reads.insert(p.clone(), vec![(access, then)]);
            is_plain
        }
    }

    /// Runs a write on the private root and logs it. On error the private root is as before.
    fn run(&mut self, op: Op) -> io::Result<u64> {
        self.fs.check_faults(&op)?;
        if self.isolated {
            op.dependencies(|p, a| self.note(p, a));
        }
        let ctx = self.fs.write_ctx();
        let out = if op.may_fail_half_way() {
            let before = self.root.clone();
            match op.apply(&mut self.root, &ctx) {
                Ok(out) => out,
                Err(e) => {
                    self.root = before;
                    return Err(e);
                }
            }
        } else {
            op.apply(&mut self.root, &ctx)?
        };
        self.redirects |= matches!(op, Op::Symlink(..) | Op::Rename(..));
        self.log.push(op.into_owned());
        Ok(out)
    }

    /// Whether this is a batch ([`MemFs::batch`]): reads not recorded, commit not validated.
    pub fn is_batch(&self) -> bool {
        !self.isolated
    }

    /// The generation of the filesystem when the transaction began.
    pub fn base_generation(&self) -> u64 {
        self.base.generation
    }

    /// Whether the transaction has written anything.
    pub fn is_dirty(&self) -> bool {
        !self.log.is_empty()
    }

    /// Counts of the transaction's view (its own writes included).
    pub fn stats(&self) -> Stats {
        view::stats(&self.root, self.fs.store(), self.fs.limits())
    }

    /// Publishes every write of the transaction at once, or nothing.
    ///
    /// Fails with a conflict error ([`crate::is_conflict`]; kind `ResourceBusy`, message
    /// "transaction conflict: ...") when a path the transaction read or wrote, or a directory
    /// whose listing it read, changed since [`MemFs::begin`]; the filesystem is then unchanged.
    /// A transaction that wrote nothing publishes nothing, and its commit still says whether
    /// what it read is unchanged.
    pub fn commit(self) -> io::Result<()> {
        let Transaction {
            fs,
            base,
            root,
            log,
            isolated,
            reads,
            redirects: _,
        } = self;
        let reads = reads.into_inner();
        if fs.faults().enabled() {
            fs.faults().check("commit", &["/"])?;
        }
        if log.is_empty() {
            // Read only: what it read is unchanged in the published root, or it conflicts.
            return if isolated {
                validate(&reads, &base, &fs.load_root())
            } else {
                Ok(())
            };
        }
        let ctx = fs.write_ctx();
        // Validation and replay run on the newest version, inside the commit protocol, so
        // nothing published meanwhile is lost; the working root changes only on success.
        fs.commit_checked(|current, _| {
            if current.node.same_version(&base.node) {
                // Nothing was published since `begin`: the private root is the result.
                current.node = root.node;
                current.links = root.links;
                return Ok(());
            }
            if isolated {
                validate(&reads, &base, current)?;
            }
            *current = replay(&log, current, &ctx)?;
            Ok(())
        })
    }

    /// Abandons the transaction (same as dropping it).
    pub fn rollback(self) {}

    // --- writes: std::fs shape ------------------------------------------------------------

    /// Creates a directory; its parent must exist.
    pub fn create_dir(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::create_dir(p)?).map(drop)
    }

    /// Creates a directory and its missing parents.
    pub fn create_dir_all(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        if self.isdir(&p) {
            return Ok(());
        }
        self.run(Op::create_dir_all(p)?).map(drop)
    }

    /// Creates or truncates a file and writes `data`.
    pub fn write(&mut self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.run(Op::write(self.fs.store(), p, data.as_ref())?)
            .map(drop)
    }

    /// Appends `data` to a file, creating it if missing.
    pub fn append(&mut self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.run(Op::append(p, data.as_ref())?).map(drop)
    }

    /// Truncates or zero-extends an existing file to `len` bytes.
    pub fn set_len(&mut self, p: impl AsRef<Path>, len: u64) -> io::Result<()> {
        self.run(Op::set_len(p, len)?).map(drop)
    }

    /// Removes a file or symlink.
    pub fn remove_file(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::remove_file(p)?).map(drop)
    }

    /// Removes an empty directory.
    pub fn remove_dir(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::remove_dir(p)?).map(drop)
    }

    /// Removes a directory and everything below it.
    pub fn remove_dir_all(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::remove_dir_all(p)?).map(drop)
    }

    /// Renames a file or directory (`rename(2)`'s rules).
    pub fn rename(&mut self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::rename(from, to)?).map(drop)
    }

    /// Makes `link` a new name of the node at `original` (`MemFs::hard_link`).
    pub fn hard_link(
        &mut self,
        original: impl AsRef<Path>,
        link: impl AsRef<Path>,
    ) -> io::Result<()> {
        self.run(Op::link(original, link)?).map(drop)
    }

    /// Copies a file (bytes shared, not duplicated); returns the number of bytes.
    pub fn copy(&mut self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
        self.run(Op::copy(from, to)?)
    }

    /// Creates a symbolic link at `link` pointing to `target`.
    pub fn symlink(&mut self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::symlink(target, link)?).map(drop)
    }

    /// Changes owner and/or group, following a final symlink (see [`MemFs::chown`]).
    pub fn chown(
        &mut self,
        p: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        self.run(Op::chown(p, uid, gid, true)?).map(drop)
    }

    /// [`Transaction::chown`] of a symlink itself.
    pub fn lchown(
        &mut self,
        p: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        self.run(Op::chown(p, uid, gid, false)?).map(drop)
    }

    /// Creates a special file (see [`MemFs::mknod`]).
    pub fn mknod(
        &mut self,
        p: impl AsRef<Path>,
        kind: crate::FileType,
        mode: u32,
        rdev: u64,
    ) -> io::Result<()> {
        self.run(Op::mknod(p, kind, mode, rdev)?).map(drop)
    }

    /// Sets the permission bits.
    pub fn set_permissions(&mut self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        self.run(Op::set_permissions(p, mode)?).map(drop)
    }

    /// Sets access and/or modification times (`None` leaves one unchanged).
    pub fn set_times(
        &mut self,
        p: impl AsRef<Path>,
        accessed: Option<SystemTime>,
        modified: Option<SystemTime>,
    ) -> io::Result<()> {
        self.run(Op::set_times(p, accessed, modified)?).map(drop)
    }

    /// `touch(1)`: sets both times to now, or creates an empty file.
    pub fn touch(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.run(Op::touch(p)?).map(drop)
    }

    /// Replaces the user metadata of `p`; an empty map clears it.
    pub fn set_metadata(
        &mut self,
        p: impl AsRef<Path>,
        meta: std::collections::BTreeMap<String, String>,
    ) -> io::Result<()> {
        self.run(Op::set_metadata(p, meta)?).map(drop)
    }

    /// Opens a file of the transaction's view for reading: the handle reads that version of
    /// the file, whatever the transaction writes afterwards.
    pub fn open(&self, p: impl AsRef<Path>) -> io::Result<crate::ReadOnlyFile> {
        let p = VPath::parse(p)?;
        self.with_root_at(&p, Access::Entry { follow: true }, |r| {
            crate::ReadOnlyFile::open(r, &p)
        })
    }

    // --- writes: Python os names ------------------------------------------------------------

    /// `os.mkdir`.
    pub fn mkdir(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.create_dir(p)
    }

    /// `os.makedirs(p, exist_ok)`.
    pub fn makedirs(&mut self, p: impl AsRef<Path>, exist_ok: bool) -> io::Result<()> {
        let vp = VPath::parse(p)?;
        if !exist_ok && self.exists(vp.as_string()) {
            return Err(error::already_exists(&vp));
        }
        self.create_dir_all(vp.as_string())
    }

    /// `os.remove`.
    pub fn remove(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove_file(p)
    }

    /// `os.rmdir`.
    pub fn rmdir(&mut self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove_dir(p)
    }

    /// Same as [`Transaction::write`].
    pub fn writefile(&mut self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.write(p, data)
    }

    /// Same as [`Transaction::write`].
    pub fn writefilebytes(
        &mut self,
        p: impl AsRef<Path>,
        data: impl AsRef<[u8]>,
    ) -> io::Result<()> {
        self.write(p, data)
    }
}

read_api!(Transaction);

/// Checks every recorded dependency against `current`; the first change is a conflict.
fn validate(reads: &ReadSet, base: &Root, current: &Root) -> io::Result<()> {
    if base.node.same_version(&current.node) {
        // Same tree (only the generation differs, e.g. after a restore): nothing changed.
        return Ok(());
    }
    for (path, seen) in reads {
        for (access, then) in seen {
            let now = observe(current, path, *access);
            if !unchanged(*access, then, &now) {
                let what = match access {
                    Access::Entry { .. } => "",
                    Access::Listing => " (its listing)",
                    Access::Subtree => " (something below it)",
                };
                return Err(error::conflict(format!(
                    "{path}{what} changed since the transaction began"
                )));
            }
        }
    }
    Ok(())
}

/// Applies the log to a copy of `current`; an operation that no longer applies is a conflict.
fn replay(log: &[Op], current: &Root, ctx: &WriteCtx) -> io::Result<Root> {
    let mut next = Root::clone(current);
    for op in log {
        op.apply(&mut next, ctx)
            .map_err(|e| error::conflict(format!("{} no longer applies: {e}", op.describe())))?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_is_send_and_read_only_files_are_send_and_sync() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<Transaction>();
        assert_send_sync::<crate::ReadOnlyFile>();
    }

    #[test]
    fn later_writes_to_a_node_mutate_the_private_copy_in_place() {
        let fs = MemFs::new();
        fs.create_dir_all("/a/b").unwrap();
        let mut tx = fs.begin();
        tx.write("/a/b/f", "1").unwrap();
        let dir_after_first = match node_at(&tx.root.node, &[Name::new("a"), Name::new("b")]) {
            Some(Node::Dir(d)) => Arc::as_ptr(d),
            _ => panic!("no dir"),
        };
        tx.write("/a/b/g", "2").unwrap();
        tx.append("/a/b/f", "3").unwrap();
        let dir_after_more = match node_at(&tx.root.node, &[Name::new("a"), Name::new("b")]) {
            Some(Node::Dir(d)) => Arc::as_ptr(d),
            _ => panic!("no dir"),
        };
        assert_eq!(
            dir_after_first, dir_after_more,
            "the private dir was copied again"
        );
        tx.commit().unwrap();
        assert_eq!(fs.read_to_string("/a/b/f").unwrap(), "13");
    }
}
