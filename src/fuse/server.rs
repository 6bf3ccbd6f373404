//! What each FUSE request does to a `MemFs` (`callbacks` turns requests into these calls).
//!
//! Each operation returns `io::Result`; `callbacks` turns a failure into the errno of
//! `memfs::errno_of` (the crate's one errno table). Every change to the tree goes
//! through `MemFs::commit` with the engine's own operations (`tree::ops`), so the Linux checks
//! and error order are the engine's, and a `snapshot()` taken while programs write through the
//! mount is always a consistent version.
//!
//! Open files: all handles of one inode share one `OpenFile` (like the kernel's page cache),
//! whose `EditBuffer` takes the writes; it is published to the tree on `flush` (every
//! `close(2)`), `fsync`, `release`, a `setattr`, and when the session ends. So programs using
//! the mount see each other's writes at once, and the library sees them from the `close` on
//! (close-to-open, like `memfs::File`). A publish re-hashes only the chunks written since the
//! last one. A file removed while open keeps working for its open handles; its last publish is
//! dropped (the inode is gone, as on Linux).
//!
//! This module owns the handle tables; the inode table is `inodes`, byte buffers are `buffer`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{Errno, FileAttr, FileHandle, INodeNo, OpenAccMode, OpenFlags, RenameFlags, TimeOrNow};

use super::buffer::EditBuffer;
use super::inodes::{lstat, Inodes, ROOT_INO};
use crate::access::{self, Credentials};
use crate::blob::Content;
use crate::error::{self, errno_of, libc_errno};
use crate::fs::MemFs;
use crate::op::Op;
use crate::path::{join_str, Name, VPath, NAME_MAX};
use crate::sync::{lock, AtomicU64, Mutex, Ordering};
use crate::tree::node::{without_set_id, Node, PERMISSION_BITS, SETGID};
use crate::tree::ops::{self, Create, WriteData};
use crate::tree::resolve::{node_at, resolve};

pub(super) const O_EXCL: i32 = 0o200;
const O_TRUNC: i32 = 0o1000;
const O_APPEND: i32 = 0o2000;
const XATTR_CREATE: i32 = 1;
const XATTR_REPLACE: i32 = 2;
/// xattrs map onto the per-file user metadata under this namespace (`user.k` <-> key `k`).
const XATTR_NAMESPACE: &str = "user.";
/// The engine's file-size rule (`EFBIG` past `MAX_FILE_SIZE`): a mount holds what the library
/// holds.
use crate::blob::check_file_size as check_size;

/// What the server needs from `MountOptions`.
pub(crate) struct ServerConfig {
    pub ttl: Duration,
    pub read_only: bool,
    /// Check each request in the engine as its caller too (`MountOptions::check_permissions`).
    pub check_permissions: bool,
}

thread_local! {
    /// Who made the request this thread serves, when the engine checks requests
    /// (`ServerConfig::check_permissions`) and the caller is not root.
    static CALLER: std::cell::RefCell<Option<Arc<Credentials>>> =
        const { std::cell::RefCell::new(None) };
}

/// Ends a request: its caller is forgotten.
pub(super) struct CallerGuard;

impl Drop for CallerGuard {
    fn drop(&mut self) {
        CALLER.with(|c| c.borrow_mut().take());
    }
}

/// `f` with the caller of the request this thread serves, when requests are checked and the
/// caller is not root; `None` (nothing to check) otherwise.
fn as_caller<T>(f: impl FnOnce(&Credentials) -> io::Result<T>) -> io::Result<Option<T>> {
    CALLER.with(|c| c.borrow().as_deref().map(f).transpose())
}

/// Whether open flags read and whether they write.
fn read_write(flags: i32) -> (bool, bool) {
    let acc = OpenFlags(flags).acc_mode();
    (acc != OpenAccMode::O_WRONLY, acc != OpenAccMode::O_RDONLY)
}

/// The supplementary groups of process `pid` (`Groups:` of `/proc/PID/status`); none if it
/// is gone.
fn groups_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Groups:")).map(|g| {
                g.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

enum Data {
    /// Not written since it was loaded: the published version, shared.
    Clean(Content),
    Dirty(EditBuffer),
}

/// The state shared by all open handles of one inode.
struct OpenFile {
    data: Data,
    /// Written since the last publish.
    dirty: bool,
    opens: usize,
    /// The last write's time (reported as mtime while dirty).
    modified: SystemTime,
    /// Attributes at open, for an inode removed while open.
    attr: FileAttr,
    /// The length of the content last published (or opened): what the tree holds, so that a
    /// write growing the file past a quota fails at `write(2)`, not only at close.
    published_len: u64,
}

struct Handle {
    ino: u64,
    file: Arc<Mutex<OpenFile>>,
    writable: bool,
    append: bool,
}

/// A directory listing taken at `opendir` (or a rewind), so `readdir` offsets stay valid
/// while programs remove entries between calls (as `rm -rf` does).
pub(super) struct DirHandle {
    pub(super) path: String,
    /// The directory itself and its parent ("." and "..").
    dot: Node,
    dotdot: Node,
    entries: Vec<(Name, Node)>,
}

impl DirHandle {
    /// ".", "..", then the entries in name order; entry `i` has the readdir offset `i + 1`.
    pub(super) fn all(&self) -> impl Iterator<Item = (&str, &Node)> {
        [(".", &self.dot), ("..", &self.dotdot)]
            .into_iter()
            .chain(self.entries.iter().map(|(n, c)| (n.as_str(), c)))
    }
}

/// The `fuser::Filesystem` of a mount.
pub(crate) struct Server {
    pub(super) fs: MemFs,
    pub(super) cfg: ServerConfig,
    pub(super) inodes: Inodes,
    open: Mutex<HashMap<u64, Arc<Mutex<OpenFile>>>>,
    handles: Mutex<HashMap<u64, Handle>>,
    pub(super) dirs: Mutex<HashMap<u64, DirHandle>>,
    pub(super) next_fh: AtomicU64,
}

/// A lost race with a change made behind the mount: the inode moved while a commit ran.
#[derive(Debug)]
struct Moved;

impl std::fmt::Display for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("inode moved during the operation")
    }
}

impl std::error::Error for Moved {}

pub(super) fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(errno_of(e))
}

/// The links of `ino` in `root` (none unless it has more than one).
fn links_of(root: &ops::Root, ino: u64) -> Vec<Vec<crate::path::Name>> {
    root.links
        .paths_of(ino)
        .map(<[_]>::to_vec)
        .unwrap_or_default()
}

/// Of the links a node had, one that is not `gone`, if any.
fn other_link(links: &[Vec<crate::path::Name>], gone: &[crate::path::Name]) -> Option<String> {
    links
        .iter()
        .find(|p| p.as_slice() != gone)
        .map(|p| crate::tree::resolve::display(p))
}

/// Raw errno errors for the codes `errno_of` cannot derive from a kind (ERANGE, EOPNOTSUPP).
fn raw(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

pub(super) fn name_str(name: &OsStr) -> io::Result<&str> {
    let s = name
        .to_str()
        .ok_or_else(|| error::invalid_input("file name is not valid UTF-8 (memfs names are)"))?;
    if s.len() > NAME_MAX {
        return Err(error::name_too_long(format!("file name too long: {s}")));
    }
    Ok(s)
}

fn time_of(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl Server {
    pub(crate) fn new(fs: MemFs, cfg: ServerConfig) -> Self {
        Server {
            fs,
            cfg,
            inodes: Inodes::new(),
            open: Mutex::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
        }
    }

    pub(super) fn writable(&self) -> io::Result<()> {
        if self.cfg.read_only {
            return Err(error::err(
                io::ErrorKind::ReadOnlyFilesystem,
                "memfs is mounted read-only",
            ));
        }
        Ok(())
    }

    /// Notes who made the request this thread now serves (see [`CALLER`]); the guard forgets it.
    pub(super) fn serving(&self, uid: u32, gid: u32, pid: u32) -> CallerGuard {
        if self.cfg.check_permissions && uid != 0 {
            let cred = Credentials::new(uid, gid).with_groups(groups_of(pid));
            CALLER.with(|c| *c.borrow_mut() = Some(Arc::new(cred)));
        }
        CallerGuard
    }

    /// The engine's check of the operation `op` builds, on `root`, as the caller, when requests
    /// are checked (the operation is built only then): the operation to run instead, if the
    /// rules change it (a `chmod` whose set-group-ID bit goes).
    pub(super) fn permit(
        &self,
        root: &ops::Root,
        op: impl FnOnce() -> Op<'static>,
    ) -> io::Result<Option<Op<'static>>> {
        Ok(as_caller(|c| access::check(&op(), root, c).map(|e| e.instead))?.flatten())
    }

    /// `open(2)`'s check as the caller, when requests are checked.
    pub(super) fn permit_open(
        &self,
        root: &ops::Root,
        p: &VPath,
        (read, write): (bool, bool),
        create: bool,
    ) -> io::Result<()> {
        as_caller(|c| access::check_open(root, p, read, write, create, c)).map(drop)
    }

    /// `f` on the current root, the path of `ino` and the caller, when requests are checked
    /// (the inode is resolved only then).
    fn permit_ino<T>(
        &self,
        ino: u64,
        f: impl FnOnce(&ops::Root, &VPath, &Credentials) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        as_caller(|c| {
            let root = self.fs.load_root();
            let (path, _) = self.inodes.resolve(&root, ino)?;
            f(&root, &VPath::parse_any_length(&path)?, c)
        })
    }

    /// `open(2)` of `ino` with `flags`, checked as the caller (when requests are checked).
    pub(super) fn permit_open_ino(&self, ino: u64, flags: i32) -> io::Result<()> {
        self.permit_ino(ino, |root, vp, c| {
            let (read, write) = read_write(flags);
            access::check_open(root, vp, read, write, false, c)
        })
        .map(drop)
    }

    /// A `setattr` checked as the caller (when requests are checked): each change as the
    /// library call that makes it; a truncate by path (`truncate(2)`, no handle) needs write
    /// permission. Returns the mode to set (the rules may drop its set-group-ID bit).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn permit_setattr(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        truncate_by_path: bool,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
    ) -> io::Result<Option<u32>> {
        let checked = self.permit_ino(ino, |root, vp, c| {
            let check = |op: Op| access::check(&op, root, c);
            let mut mode = mode;
            if uid.is_some() || gid.is_some() {
                check(Op::Chown(vp.clone(), uid, gid, false))?;
            }
            if let Some(m) = mode {
                if let Some(Op::SetPermissions(_, m2)) =
                    check(Op::SetPermissions(vp.clone(), m))?.instead
                {
                    mode = Some(m2);
                }
            }
            if truncate_by_path {
                access::check_open(root, vp, false, true, false, c)?;
            }
            let now = |t: &Option<TimeOrNow>| matches!(t, Some(TimeOrNow::Now));
            let explicit = |t: &Option<TimeOrNow>| matches!(t, Some(TimeOrNow::SpecificTime(_)));
            if explicit(&atime) || explicit(&mtime) {
                check(Op::SetTimes(vp.clone(), None, None))?;
            } else if now(&atime) || now(&mtime) {
                check(Op::Touch(vp.clone(), SystemTime::now()))?;
            }
            Ok(mode)
        })?;
        Ok(checked.unwrap_or(mode))
    }

    /// A read of `ino` checked as the caller, when requests are checked.
    pub(super) fn permit_read_ino(&self, ino: u64, need: access::ReadNeed) -> io::Result<()> {
        self.permit_ino(ino, |root, vp, c| {
            access::check_read(root, vp, false, need, c)
        })
        .map(drop)
    }

    /// A lookup of `path` (the search permission on the way) as the caller, when requests are
    /// checked.
    pub(super) fn permit_lookup(&self, path: &str) -> io::Result<()> {
        as_caller(|c| {
            let vp = VPath::parse_any_length(path)?;
            access::check_read(
                &self.fs.load_root(),
                &vp,
                false,
                access::ReadNeed::Search,
                c,
            )
        })
        .map(drop)
    }

    pub(super) fn attr_of(&self, node: &Node) -> FileAttr {
        let m = node.meta();
        let kind = match node {
            Node::Dir(_) => fuser::FileType::Directory,
            Node::File(_) | Node::Symlink(_) | Node::Special(_) => Self::kind(node),
        };
        let nlink = node.nlink();
        let size = node.len();
        FileAttr {
            ino: INodeNo(m.ino),
            size,
            blocks: size.div_ceil(512),
            atime: m.accessed,
            mtime: m.modified,
            ctime: m.changed,
            crtime: m.created,
            kind,
            perm: (m.mode & PERMISSION_BITS) as u16,
            nlink,
            uid: m.uid,
            gid: m.gid,
            rdev: match node {
                Node::Special(s) => s.rdev as u32,
                _ => 0,
            },
            blksize: 4096,
            flags: 0,
        }
    }

    fn open_file(&self, ino: u64) -> Option<Arc<Mutex<OpenFile>>> {
        lock(&self.open).get(&ino).cloned()
    }

    /// Attributes of `ino`, with the length and mtime of unpublished writes.
    pub(super) fn getattr_of(&self, ino: u64) -> io::Result<FileAttr> {
        let root = self.fs.load_root();
        let found = self.inodes.resolve(&root, ino);
        let open = self.open_file(ino);
        match (found, open) {
            (Ok((_, node)), None) => Ok(self.attr_of(&node)),
            (Ok((_, node)), Some(f)) => {
                let mut attr = self.attr_of(&node);
                let f = lock(&f);
                if let (true, Data::Dirty(buf)) = (f.dirty, &f.data) {
                    attr.size = buf.len();
                    attr.blocks = attr.size.div_ceil(512);
                    attr.mtime = f.modified;
                }
                Ok(attr)
            }
            (Err(_), Some(f)) => {
                let f = lock(&f);
                let mut attr = f.attr;
                if let Data::Dirty(buf) = &f.data {
                    attr.size = buf.len();
                }
                attr.nlink = 0;
                Ok(attr)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// The path of directory `parent` joined with `name`.
    pub(super) fn child_path(&self, parent: INodeNo, name: &OsStr) -> io::Result<(String, VPath)> {
        let root = self.fs.load_root();
        let (ppath, pnode) = self.inodes.resolve(&root, parent.0)?;
        if !pnode.is_dir() {
            return Err(error::not_a_directory(&ppath));
        }
        let path = join_str(&ppath, name_str(name)?);
        let vp = VPath::parse_any_length(&path)?;
        Ok((path, vp))
    }

    /// Replies-to-be for a node just handed to the kernel: one more lookup reference.
    pub(super) fn entry(&self, path: String) -> io::Result<FileAttr> {
        let node = lstat(&self.fs.load_root(), &path)?;
        let attr = self.attr_of(&node);
        self.inodes.remember(attr.ino.0, path);
        Ok(attr)
    }

    /// Runs `f` on the node of `ino` inside one commit (the node made private for mutation).
    pub(super) fn commit_ino<T>(
        &self,
        ino: u64,
        mut f: impl FnMut(&mut Node, &ops::WriteCtx) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut attempts = 0;
        loop {
            let (path, _) = self.inodes.resolve(&self.fs.load_root(), ino)?;
            let vp = VPath::parse_any_length(&path)?;
            let res = self.fs.commit(|r, c| {
                let canon = resolve(&r.node, &vp, false)?.into_owned();
                match node_at(&r.node, &canon) {
                    Some(n) if n.meta().ino == ino => {}
                    _ => return Err(crate::error::err(io::ErrorKind::NotFound, Moved)),
                }
                f(ops::node_mut(r, &canon)?, c)
            });
            match res {
                Err(e) if e.get_ref().is_some_and(|i| i.is::<Moved>()) && attempts < 3 => {
                    attempts += 1;
                }
                other => return other,
            }
        }
    }

    /// Publishes an open file's unpublished writes. A file removed meanwhile drops them.
    fn publish(&self, ino: u64, f: &mut OpenFile) -> io::Result<()> {
        if !f.dirty {
            return Ok(());
        }
        let Data::Dirty(buf) = &mut f.data else {
            f.dirty = false;
            return Ok(());
        };
        let content = buf.store_content(self.fs.store())?;
        let len = content.len();
        let res = self.commit_ino(ino, |node, _| ops::set_content(node, content.clone()));
        f.dirty = false;
        if res.is_ok() {
            f.published_len = len;
        }
        match res {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Publishes every open file's unpublished writes (when the session ends).
    pub(super) fn publish_all(&self) {
        let open: Vec<(u64, Arc<Mutex<OpenFile>>)> = lock(&self.open)
            .iter()
            .map(|(i, f)| (*i, f.clone()))
            .collect();
        for (ino, f) in open {
            let _ = self.publish(ino, &mut lock(&f));
        }
    }

    pub(super) fn publish_ino(&self, ino: u64) -> io::Result<()> {
        match self.open_file(ino) {
            Some(f) => self.publish(ino, &mut lock(&f)),
            None => Ok(()),
        }
    }

    fn handle(&self, fh: FileHandle) -> io::Result<(u64, Arc<Mutex<OpenFile>>, bool, bool)> {
        lock(&self.handles)
            .get(&fh.0)
            .map(|h| (h.ino, h.file.clone(), h.writable, h.append))
            .ok_or_else(|| error::bad_handle(format!("unknown file handle {}", fh.0)))
    }

    /// Opens `ino` (a regular file) and returns the new handle number.
    pub(super) fn open_ino(&self, ino: u64, flags: i32) -> io::Result<u64> {
        let (_, writable) = read_write(flags);
        if writable {
            self.writable()?;
        }
        let (_, node) = self.inodes.resolve(&self.fs.load_root(), ino)?;
        let content = match &node {
            Node::File(f) => f.content.clone(),
            Node::Dir(_) => return Err(error::is_a_directory(format!("inode {ino}"))),
            Node::Symlink(_) => return Err(error::invalid_input("cannot open a symlink")),
            // (The kernel opens FIFOs and device nodes itself; it never asks.)
            Node::Special(_) => return Err(error::special_file(format!("inode {ino}"))),
        };
        let attr = self.attr_of(&node);
        let file = {
            let mut map = lock(&self.open);
            let file = map
                .entry(ino)
                .or_insert_with(|| {
                    Arc::new(Mutex::new(OpenFile {
                        data: Data::Clean(content.clone()),
                        dirty: false,
                        opens: 0,
                        modified: attr.mtime,
                        published_len: content.len(),
                        attr,
                    }))
                })
                .clone();
            let mut f = lock(&file);
            if !f.dirty {
                // Close-to-open: an open sees the latest published version (the kernel drops
                // its cached pages of the file at open, for the other handles too).
                f.data = Data::Clean(content);
                f.attr = attr;
            }
            f.opens += 1;
            drop(f);
            file
        };
        if writable && flags & O_TRUNC != 0 {
            let mut f = lock(&file);
            f.data = Data::Dirty(EditBuffer::from_content(&Content::default()));
            f.dirty = true;
            f.modified = SystemTime::now();
            self.publish(ino, &mut f)?;
        }
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(
            fh,
            Handle {
                ino,
                file,
                writable,
                append: flags & O_APPEND != 0,
            },
        );
        Ok(fh)
    }

    pub(super) fn release_fh(&self, fh: FileHandle) -> io::Result<()> {
        let Some(h) = lock(&self.handles).remove(&fh.0) else {
            return Ok(());
        };
        let res = {
            let mut f = lock(&h.file);
            f.opens = f.opens.saturating_sub(1);
            if f.opens == 0 {
                self.publish(h.ino, &mut f)
            } else {
                Ok(())
            }
        };
        let mut map = lock(&self.open);
        if let Some(cur) = map.get(&h.ino) {
            if Arc::ptr_eq(cur, &h.file) && lock(cur).opens == 0 {
                map.remove(&h.ino);
            }
        }
        res
    }

    pub(super) fn read_fh(&self, fh: FileHandle, offset: u64, size: u32) -> io::Result<Vec<u8>> {
        let (_, file, _, _) = self.handle(fh)?;
        let mut out = vec![0u8; size as usize];
        let f = lock(&file);
        let n = match &f.data {
            Data::Clean(c) => {
                let c = c.clone();
                drop(f);
                c.read_at(offset, &mut out)?
            }
            Data::Dirty(buf) => buf.read_at(offset, &mut out)?,
        };
        out.truncate(n);
        Ok(out)
    }

    pub(super) fn write_fh(&self, fh: FileHandle, offset: u64, data: &[u8]) -> io::Result<u32> {
        self.writable()?;
        let (_, file, writable, append) = self.handle(fh)?;
        if !writable {
            return Err(error::bad_handle("file not opened for writing"));
        }
        check_size(offset.saturating_add(data.len() as u64))?;
        let mut f = lock(&file);
        if let Data::Clean(c) = &f.data {
            f.data = Data::Dirty(EditBuffer::from_content(c));
        }
        let Data::Dirty(buf) = &mut f.data else {
            unreachable!("made dirty above")
        };
        let at = if append { buf.len() } else { offset };
        let end = at.saturating_add(data.len() as u64);
        check_size(end)?;
        if let Some(max) = self.fs.limits().max_bytes {
            // The growth this handle has not published yet must fit what the quota has left
            // (the publish checks exactly, deduplication included).
            let pending = end.max(buf.len()).saturating_sub(f.published_len);
            let used = self.fs.usage().bytes;
            if pending > 0 && used.saturating_add(pending) > max {
                return Err(error::err(
                    io::ErrorKind::StorageFull,
                    format!("no space left: {used} of the {max}-byte quota are used"),
                ));
            }
        }
        let Data::Dirty(buf) = &mut f.data else {
            unreachable!("made dirty above")
        };
        buf.write_at(at, data, self.fs.store())?;
        f.dirty = true;
        f.modified = SystemTime::now();
        Ok(data.len() as u32)
    }

    /// Clears the set-user-id and set-group-id bits of `ino`, if set.
    pub(super) fn kill_suid(&self, ino: u64) -> io::Result<()> {
        let (_, node) = self.inodes.resolve(&self.fs.load_root(), ino)?;
        if without_set_id(node.meta().mode) == node.meta().mode {
            return Ok(());
        }
        // The kernel asks when a write by a process without CAP_FSETID must drop them
        // (FUSE_HANDLE_KILLPRIV_V2: the set-group-ID bit only with group execute, as the VFS).
        self.commit_ino(ino, |n, _| {
            ops::clear_set_id(n);
            Ok(())
        })
    }

    /// `fallocate(2)` mode 0 (what `posix_fallocate` asks): the file grows to `offset + length`
    /// if it is shorter (zeros, shared chunks: nothing is reserved, memory is not a disk);
    /// other modes (keep size, punch hole, ...) are `EOPNOTSUPP`.
    pub(super) fn fallocate_of(
        &self,
        ino: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> io::Result<()> {
        if mode != 0 {
            return Err(raw(libc_errno::EOPNOTSUPP));
        }
        self.writable()?;
        let end = offset
            .checked_add(length)
            .ok_or_else(|| error::invalid_input("offset + length overflows"))?;
        if end > self.getattr_of(ino)?.size {
            self.set_size(ino, end)?;
        }
        Ok(())
    }

    pub(super) fn set_size(&self, ino: u64, size: u64) -> io::Result<()> {
        check_size(size)?;
        if let Some(file) = self.open_file(ino) {
            let mut f = lock(&file);
            if let Data::Clean(c) = &f.data {
                f.data = Data::Dirty(EditBuffer::from_content(c));
            }
            if let Data::Dirty(buf) = &mut f.data {
                buf.set_len(size, self.fs.store())?;
            }
            f.dirty = true;
            f.modified = SystemTime::now();
            return self.publish(ino, &mut f);
        }
        let (_, node) = self.inodes.resolve(&self.fs.load_root(), ino)?;
        let Node::File(file) = node else {
            return Err(error::is_a_directory(format!("inode {ino}")));
        };
        let content = if file.content.len() == size {
            file.content.clone()
        } else {
            let mut buf = EditBuffer::from_content(&file.content);
            buf.set_len(size, self.fs.store())?;
            buf.store_content(self.fs.store())?
        };
        self.commit_ino(ino, |n, _| ops::set_content(n, content.clone()))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn setattr_of(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
    ) -> io::Result<FileAttr> {
        self.writable()?;
        // (Who may chown, and to whom, the kernel checks: mounted with `default_permissions`.)
        // Pending writes first, so that times set now are not overwritten by a later publish.
        self.publish_ino(ino)?;
        if let Some(size) = size {
            self.set_size(ino, size)?;
        }
        if mode.is_some() || atime.is_some() || mtime.is_some() || uid.is_some() || gid.is_some() {
            // The engine's rules (the kernel also sends the new mode when it kills the set-id
            // bits itself; applying both is idempotent, and a mode sent with the chown is
            // applied after it).
            let attrs = ops::Attrs {
                mode,
                uid,
                gid,
                accessed: atime.map(time_of),
                modified: mtime.map(time_of),
            };
            self.commit_ino(ino, |node, _| {
                ops::set_attrs(node, &attrs);
                Ok(())
            })?;
        }
        self.getattr_of(ino)
    }

    pub(super) fn mkdir_at(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        (uid, gid): (u32, u32),
    ) -> io::Result<FileAttr> {
        self.writable()?;
        let (path, vp) = self.child_path(parent, name)?;
        self.fs.commit(|r, c| {
            self.permit(r, || Op::CreateDir(vp.clone()))?;
            ops::create_dir(r, c, &vp)?;
            let m = ops::node_mut(r, vp.names())?.meta_mut();
            // (A set-group-ID bit inherited from the parent stays.)
            m.mode = (m.mode & SETGID) | (mode & PERMISSION_BITS);
            ops::own_created(r, vp.names(), uid, gid)
        })?;
        self.entry(path)
    }

    pub(super) fn create_at(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
        (uid, gid): (u32, u32),
    ) -> io::Result<(FileAttr, u64)> {
        self.writable()?;
        let (path, vp) = self.child_path(parent, name)?;
        let create = if flags & O_EXCL != 0 {
            Create::New
        } else {
            Create::IfMissing
        };
        self.fs.commit(|r, c| {
            self.permit_open(r, &vp, read_write(flags), true)?;
            let existed = node_at(&r.node, vp.names()).is_some();
            let data = if flags & O_TRUNC != 0 {
                WriteData::Replace(Content::default())
            } else {
                WriteData::Append(&[])
            };
            ops::write_file(r, c, &vp, create, data)?;
            if !existed {
                ops::node_mut(r, vp.names())?.meta_mut().mode = mode & PERMISSION_BITS;
                ops::own_created(r, vp.names(), uid, gid)?;
            }
            Ok(())
        })?;
        let attr = self.entry(path)?;
        // O_TRUNC is done above; opening must not truncate again.
        let fh = self.open_ino(attr.ino.0, flags & !O_TRUNC)?;
        Ok((attr, fh))
    }

    pub(super) fn symlink_at(
        &self,
        parent: INodeNo,
        name: &OsStr,
        target: &Path,
        (uid, gid): (u32, u32),
    ) -> io::Result<FileAttr> {
        self.writable()?;
        let (path, vp) = self.child_path(parent, name)?;
        let target = target
            .to_str()
            .ok_or_else(|| error::invalid_input("symlink target is not valid UTF-8"))?;
        self.fs.commit(|r, c| {
            self.permit(r, || Op::Symlink(target.to_string(), vp.clone()))?;
            ops::symlink(r, c, target, &vp)?;
            ops::own_created(r, vp.names(), uid, gid)
        })?;
        self.entry(path)
    }

    /// `mknod(2)` of a FIFO, socket or device node (`kind` from the mode's `S_IFMT` bits).
    pub(super) fn mknod_at(
        &self,
        parent: INodeNo,
        name: &OsStr,
        kind: crate::FileType,
        mode: u32,
        rdev: u64,
        (uid, gid): (u32, u32),
    ) -> io::Result<FileAttr> {
        self.writable()?;
        let (path, vp) = self.child_path(parent, name)?;
        self.fs.commit(|r, c| {
            self.permit(r, || Op::Mknod(vp.clone(), kind, mode, rdev))?;
            ops::mknod(r, c, &vp, kind, mode, rdev)?;
            ops::own_created(r, vp.names(), uid, gid)
        })?;
        self.entry(path)
    }

    pub(super) fn remove_at(&self, parent: INodeNo, name: &OsStr, dir: bool) -> io::Result<()> {
        self.writable()?;
        let (_, vp) = self.child_path(parent, name)?;
        let (ino, left) = self.fs.commit(|r, _| {
            self.permit(r, || {
                if dir {
                    Op::RemoveDir(vp.clone())
                } else {
                    Op::RemoveFile(vp.clone())
                }
            })?;
            let ino = ops::stat(r, &vp, false)?.meta().ino;
            let links = links_of(r, ino);
            if dir {
                ops::remove_dir(r, &vp)?;
            } else {
                ops::remove_file(r, &vp)?;
            }
            Ok((ino, other_link(&links, vp.names())))
        })?;
        self.inodes.unlinked(ino, left);
        Ok(())
    }

    /// `link(2)`: `newname` in `newparent` becomes one more name of `ino`.
    pub(super) fn link_at(
        &self,
        ino: u64,
        newparent: INodeNo,
        newname: &OsStr,
    ) -> io::Result<FileAttr> {
        self.writable()?;
        let (from, _) = self.inodes.resolve(&self.fs.load_root(), ino)?;
        let from = VPath::parse_any_length(&from)?;
        let (path, vp) = self.child_path(newparent, newname)?;
        self.fs.commit(|r, _| {
            self.permit(r, || Op::Link(from.clone(), vp.clone()))?;
            ops::link(r, &from, &vp)
        })?;
        self.entry(path)
    }

    pub(super) fn rename_at(
        &self,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> io::Result<()> {
        self.writable()?;
        let (from, from_vp) = self.child_path(parent, name)?;
        let (to, to_vp) = self.child_path(newparent, newname)?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            if flags != RenameFlags::RENAME_EXCHANGE {
                return Err(error::invalid_input("RENAME_EXCHANGE takes no other flag"));
            }
            self.fs.commit(|r, _| {
                self.permit(r, || Op::Rename(from_vp.clone(), to_vp.clone()))?;
                self.permit(r, || Op::Rename(to_vp.clone(), from_vp.clone()))?;
                ops::exchange(r, &from_vp, &to_vp)
            })?;
            self.inodes.exchanged(&from, &to);
            return Ok(());
        }
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(error::invalid_input(format!(
                "rename flags not supported by memfs: {flags:?}"
            )));
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let replaced = self.fs.commit(|r, _| {
            self.permit(r, || Op::Rename(from_vp.clone(), to_vp.clone()))?;
            let src = ops::stat(r, &from_vp, false)?.meta().ino;
            let dst = ops::stat(r, &to_vp, false).ok().map(|n| n.meta().ino);
            if noreplace && dst.is_some() {
                return Err(error::already_exists(&to_vp));
            }
            let dst = dst.filter(|d| *d != src).map(|d| (d, links_of(r, d)));
            ops::rename(r, &from_vp, &to_vp)?;
            Ok(dst.map(|(d, links)| (d, other_link(&links, to_vp.names()))))
        })?;
        if let Some((ino, left)) = replaced {
            self.inodes.unlinked(ino, left);
        }
        self.inodes.renamed(&from, &to);
        Ok(())
    }

    pub(super) fn user_meta(&self, ino: u64) -> io::Result<BTreeMap<String, String>> {
        self.permit_read_ino(ino, access::ReadNeed::Read)?;
        let (_, node) = self.inodes.resolve(&self.fs.load_root(), ino)?;
        Ok(node.meta().user.as_deref().cloned().unwrap_or_default())
    }

    pub(super) fn getxattr_of(&self, ino: u64, name: &OsStr) -> io::Result<Vec<u8>> {
        let meta = self.user_meta(ino)?;
        let key = name.to_str().and_then(|n| n.strip_prefix(XATTR_NAMESPACE));
        match key.and_then(|k| meta.get(k)) {
            Some(v) => Ok(v.as_bytes().to_vec()),
            None => Err(raw(libc_errno::ENODATA)),
        }
    }

    pub(super) fn listxattr_of(&self, ino: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for k in self.user_meta(ino)?.keys() {
            out.extend_from_slice(XATTR_NAMESPACE.as_bytes());
            out.extend_from_slice(k.as_bytes());
            out.push(0);
        }
        Ok(out)
    }

    /// Sets (`Some`) or removes (`None`) one xattr.
    pub(super) fn change_xattr(
        &self,
        ino: u64,
        name: &OsStr,
        value: Option<&[u8]>,
        flags: i32,
    ) -> io::Result<()> {
        self.writable()?;
        let key = name
            .to_str()
            .and_then(|n| n.strip_prefix(XATTR_NAMESPACE))
            .ok_or_else(|| raw(libc_errno::EOPNOTSUPP))?;
        if key.is_empty() {
            return Err(error::invalid_input("empty xattr name"));
        }
        let value = match value {
            Some(v) => Some(std::str::from_utf8(v).map_err(|_| {
                error::invalid_input("memfs stores xattr values as UTF-8 text; this one is not")
            })?),
            None => None,
        };
        let (only_new, only_existing) = (flags & XATTR_CREATE != 0, flags & XATTR_REPLACE != 0);
        self.permit_ino(ino, |root, vp, c| {
            access::check(&Op::SetUserMeta(vp.clone(), None), root, c)
        })?;
        self.commit_ino(ino, |node, _| {
            ops::set_user_key(node, key, value, only_new, only_existing)
        })
    }

    /// `(blocks, free blocks, inodes, free inodes)` of 4 KiB blocks: from the quota when the
    /// filesystem has one (what `df` shows is then the quota: size, used and free), else the
    /// stored bytes plus the host's available memory.
    pub(super) fn statfs_of(&self) -> (u64, u64, u64, u64) {
        let limits = self.fs.limits();
        if !limits.is_unlimited() {
            let u = self.fs.usage();
            let host = self.host_statfs();
            let (blocks, free) = match limits.max_bytes {
                Some(max) => (max / 4096, max.saturating_sub(u.bytes) / 4096),
                None => (host.0, host.1),
            };
            let (files, ffree) = match limits.max_inodes {
                Some(max) => (max, max.saturating_sub(u.inodes)),
                None => (u.inodes + u32::MAX as u64, u32::MAX as u64),
            };
            return (blocks, free, files, ffree);
        }
        self.host_statfs()
    }

    fn host_statfs(&self) -> (u64, u64, u64, u64) {
        let s = self.fs.stats();
        let used = s.stored_bytes.div_ceil(4096);
        let free = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemAvailable:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kb| kb / 4)
            .unwrap_or(1 << 28);
        let files = s.files + s.dirs + s.symlinks;
        (used + free, free, files + u32::MAX as u64, u32::MAX as u64)
    }

    /// The directory listing of `ino` for a dir handle.
    pub(super) fn list(&self, ino: u64) -> io::Result<DirHandle> {
        let root = self.fs.load_root();
        let (path, node) = self.inodes.resolve(&root, ino)?;
        let Node::Dir(d) = node else {
            return Err(error::not_a_directory(&path));
        };
        let dotdot = if ino == ROOT_INO {
            root.node.clone()
        } else {
            ops::stat(&root, &VPath::parse_any_length(&path)?.parent(), false)
                .unwrap_or_else(|_| root.node.clone())
        };
        Ok(DirHandle {
            path,
            dot: Node::Dir(d.clone()),
            dotdot,
            entries: d
                .children()?
                .iter()
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
        })
    }

    pub(super) fn dir_handle(&self, fh: FileHandle, ino: u64, offset: u64) -> io::Result<()> {
        let mut dirs = lock(&self.dirs);
        let refresh = offset == 0 || !dirs.contains_key(&fh.0);
        if refresh {
            drop(dirs);
            let listing = self.list(ino)?;
            dirs = lock(&self.dirs);
            dirs.insert(fh.0, listing);
        }
        Ok(())
    }

    /// Lists the directory handle `fh` of `ino` from `offset` on (taking a fresh listing at
    /// offset 0): `add(next offset, the directory's path, name, node)` for each entry until it
    /// says the reply is full. The one listing loop of `readdir` and `readdirplus`.
    pub(super) fn list_from(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut add: impl FnMut(u64, &str, &str, &Node) -> bool,
    ) -> Result<(), fuser::Errno> {
        self.dir_handle(fh, ino.0, offset).map_err(|e| errno(&e))?;
        let dirs = lock(&self.dirs);
        let d = dirs.get(&fh.0).ok_or(fuser::Errno::EBADF)?;
        for (i, (name, node)) in d.all().enumerate().skip(offset as usize) {
            if add(i as u64 + 1, &d.path, name, node) {
                break;
            }
        }
        Ok(())
    }

    pub(super) fn kind(node: &Node) -> fuser::FileType {
        match node {
            Node::Dir(_) => fuser::FileType::Directory,
            Node::File(_) => fuser::FileType::RegularFile,
            Node::Symlink(_) => fuser::FileType::Symlink,
            Node::Special(s) => match s.kind {
                crate::FileType::Fifo => fuser::FileType::NamedPipe,
                crate::FileType::Socket => fuser::FileType::Socket,
                crate::FileType::CharDevice => fuser::FileType::CharDevice,
                _ => fuser::FileType::BlockDevice,
            },
        }
    }
}
