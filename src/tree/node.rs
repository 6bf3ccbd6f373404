//! The nodes of the persistent tree and their metadata.
//!
//! A [`Node`] is an enum of three `Arc`s (a tag and one pointer, 16 bytes) to an immutable
//! node. Directories map names to nodes with an `imbl::OrdMap`, so cloning a directory is O(1)
//! and changing one entry copies only the B-tree path to it. Nodes are never mutated while
//! shared: writers go through `Arc::make_mut`, which copies a shared node and mutates a private
//! one in place.
//!
//! A directory of a filesystem opened over a remote store (`persist::objects::Import::lazy`)
//! may hold its entries as a [`LazyDir`]: the name of its object, fetched by a [`DirLoader`]
//! on first use and kept for good (a `OnceLock`). Entries are therefore read through
//! [`Dir::children`], which can fail, and changed through [`Dir::child_mut`],
//! [`Dir::insert_child`] and [`Dir::remove_child`] (which keep the count of subdirectories).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use imbl::OrdMap;

use crate::blob::Content;
use crate::path::Name;

/// Per-file user metadata (the extended fs's `set_metadata`, FUSE xattrs).
pub(crate) type UserMeta = Arc<BTreeMap<String, String>>;

/// What every node carries besides its contents.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub ino: u64,
    /// Permission bits only (`0o7777`); the file type lives in the node kind.
    pub mode: u32,
    /// Owner and group.
    pub uid: u32,
    pub gid: u32,
    /// Hard links to a non-directory (1 unless `link` made more; [`super::links`] keeps every
    /// link's copy of the node and this count in step). A directory's count is derived
    /// ([`Node::nlink`]).
    pub nlink: u32,
    pub created: SystemTime,
    pub modified: SystemTime,
    pub accessed: SystemTime,
    /// Status change time (ctime).
    pub changed: SystemTime,
    pub user: Option<UserMeta>,
}

impl Meta {
    pub(crate) fn new(ino: u64, mode: u32) -> Self {
        let now = SystemTime::now();
        let (uid, gid) = default_owner();
        Meta {
            ino,
            mode,
            uid,
            gid,
            nlink: 1,
            created: now,
            modified: now,
            accessed: now,
            changed: now,
            user: None,
        }
    }

    /// A chown's change to the owner and group (`None`: left as it is), with Linux's rule: a
    /// non-directory loses its set-user-ID bit, and its set-group-ID bit when group execute is
    /// set (`chown_common`), even when no id changes. ctime is the caller's.
    pub(crate) fn chown(&mut self, uid: Option<u32>, gid: Option<u32>, is_dir: bool) {
        self.uid = uid.unwrap_or(self.uid);
        self.gid = gid.unwrap_or(self.gid);
        if !is_dir {
            self.mode = without_set_id(self.mode);
        }
    }

    /// Marks a content change (mtime and ctime).
    pub(crate) fn touch(&mut self) {
        self.touch_at(SystemTime::now());
    }

    /// [`Meta::touch`] with a time already read (a clock read costs 35 ns here, a fifth of a
    /// small write's own time outside the tree).
    pub(crate) fn touch_at(&mut self, t: SystemTime) {
        self.modified = t;
        self.changed = t;
    }
}

/// A directory: its entries and its metadata. The entries of a directory of a filesystem
/// opened over a remote store may not be fetched yet (`lazy`): they are fetched on first use,
/// once, and every read of them goes through [`Dir::children`], which can therefore fail.
#[derive(Clone)]
pub(crate) struct Dir {
    /// The entries, unless `lazy` holds them.
    children: OrdMap<Name, Node>,
    /// How many of `children` are directories (for `st_nlink` in O(1)); kept by
    /// [`Dir::insert_child`] and [`Dir::remove_child`], the only ways entries are added or
    /// removed. Meaningless while `lazy` holds the entries.
    subdirs: u32,
    pub meta: Meta,
    /// The directory's entries as a remote object, fetched on first use. A private copy of
    /// the directory made for a change of its entries ([`Dir::children_mut`]) takes them over
    /// and drops this, so a directory with `lazy` set has the remote object's entries.
    lazy: Option<Arc<LazyDir>>,
}

/// Fetches the entries of a directory object on first use.
pub(crate) trait DirLoader: Send + Sync {
    /// The entries of `dir`'s object, fetched and checked against its name.
    fn load(&self, dir: &LazyDir) -> io::Result<OrdMap<Name, Node>>;
}

/// A directory object of a remote store whose entries are fetched on first use.
pub(crate) struct LazyDir {
    /// The directory object's name.
    pub id: [u8; 32],
    /// Regular files below it, and their bytes (from the parent's entry).
    pub files: u64,
    pub file_bytes: u64,
    /// Its depth in the tree (the root is 0).
    pub depth: usize,
    loader: Arc<dyn DirLoader>,
    loaded: OnceLock<OrdMap<Name, Node>>,
}

impl LazyDir {
    pub(crate) fn new(
        id: [u8; 32],
        files: u64,
        file_bytes: u64,
        depth: usize,
        loader: Arc<dyn DirLoader>,
    ) -> Self {
        LazyDir {
            id,
            files,
            file_bytes,
            depth,
            loader,
            loaded: OnceLock::new(),
        }
    }

    /// What fetches it (and the directories below it).
    pub(crate) fn loader(&self) -> Arc<dyn DirLoader> {
        self.loader.clone()
    }

    /// The entries, fetched now if they were not yet. Two threads may both fetch; one result
    /// is kept for good. A failed fetch keeps nothing, so the next use tries again.
    fn get(&self) -> io::Result<&OrdMap<Name, Node>> {
        if let Some(map) = self.loaded.get() {
            return Ok(map);
        }
        let map = self.loader.load(self)?;
        Ok(self.loaded.get_or_init(|| map))
    }
}

#[derive(Clone)]
pub(crate) struct FileNode {
    pub content: Content,
    pub meta: Meta,
}

#[derive(Clone)]
pub(crate) struct SymlinkNode {
    pub target: String,
    pub meta: Meta,
}

/// A special file: a FIFO, a socket, or a character or block device node (`mknod(2)`). Stored
/// and reported (its device number too); opening one is the kernel's business on a mount,
/// and an error (`InvalidInput`) through the library's file API.
#[derive(Clone)]
pub(crate) struct SpecialNode {
    /// One of `FileType::{Fifo, Socket, CharDevice, BlockDevice}`.
    pub kind: crate::FileType,
    /// The device number (`st_rdev`; 0 for a FIFO or a socket).
    pub rdev: u64,
    pub meta: Meta,
}

/// One entry of a directory.
#[derive(Clone)]
pub(crate) enum Node {
    Dir(Arc<Dir>),
    File(Arc<FileNode>),
    Symlink(Arc<SymlinkNode>),
    Special(Arc<SpecialNode>),
}

/// Node identity: two nodes are equal when they are the same version (the same `Arc`), which
/// is what a diff of two trees asks (`imbl::OrdMap::diff` compares values with `==`).
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.same_version(other)
    }
}

/// The owner and group of the nodes the library creates: the process's effective uid and gid
/// when memfs first creates a node (as a real filesystem gives a process's new files its
/// credentials; a mount gives each node the uid and gid of the process that made it).
pub(crate) fn default_owner() -> (u32, u32) {
    static OWNER: OnceLock<(u32, u32)> = OnceLock::new();
    *OWNER.get_or_init(|| {
        #[cfg(unix)]
        return (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        #[cfg(not(unix))]
        return (0, 0);
    })
}

/// The bits of a mode a node keeps (permissions, set-id, sticky); the file type lives in the
/// node kind.
pub(crate) const PERMISSION_BITS: u32 = 0o7777;

fn count_dirs(children: &OrdMap<Name, Node>) -> u32 {
    children.values().filter(|c| c.is_dir()).count() as u32
}

/// The set-user-ID and set-group-ID bits of a mode.
pub(crate) const SETUID: u32 = 0o4000;
pub(crate) const SETGID: u32 = 0o2000;

/// `mode` as Linux leaves it when a file's set-id bits must go (a chown, a write by a process
/// without `CAP_FSETID`): without set-user-ID, and without set-group-ID when group execute is
/// set (without it, set-group-ID means mandatory locking and stays).
pub(crate) fn without_set_id(mode: u32) -> u32 {
    if mode & 0o010 != 0 {
        mode & !(SETUID | SETGID)
    } else {
        mode & !SETUID
    }
}

/// Default permission bits, as with a umask of 022.
pub(crate) const DEFAULT_DIR_MODE: u32 = 0o755;
pub(crate) const DEFAULT_FILE_MODE: u32 = 0o644;
pub(crate) const DEFAULT_SYMLINK_MODE: u32 = 0o777;

impl Dir {
    pub(crate) fn new(ino: u64) -> Self {
        Dir::with_children(OrdMap::new(), Meta::new(ino, DEFAULT_DIR_MODE))
    }

    pub(crate) fn with_children(children: OrdMap<Name, Node>, meta: Meta) -> Self {
        Dir {
            subdirs: count_dirs(&children),
            children,
            meta,
            lazy: None,
        }
    }

    /// A directory whose entries are fetched on first use.
    pub(crate) fn lazy(meta: Meta, lazy: LazyDir) -> Self {
        Dir {
            children: OrdMap::new(),
            subdirs: 0,
            meta,
            lazy: Some(Arc::new(lazy)),
        }
    }

    /// The entries (fetched now for a directory not fetched yet, which can fail).
    #[inline]
    pub(crate) fn children(&self) -> io::Result<&OrdMap<Name, Node>> {
        match &self.lazy {
            None => Ok(&self.children),
            Some(lazy) => lazy.get(),
        }
    }

    /// The entry `name`, if any.
    #[inline]
    pub(crate) fn get<Q>(&self, name: &Q) -> io::Result<Option<&Node>>
    where
        Q: equivalent::Comparable<Name> + ?Sized,
    {
        Ok(self.children()?.get(name))
    }

    /// The entries if they are here, without fetching: `None` for a directory of a remote
    /// store not fetched yet.
    pub(crate) fn loaded(&self) -> Option<&OrdMap<Name, Node>> {
        match &self.lazy {
            None => Some(&self.children),
            Some(lazy) => lazy.loaded.get(),
        }
    }

    /// The entries, for a change (fetched first if need be; the copy holds them from then on).
    fn children_mut(&mut self) -> io::Result<&mut OrdMap<Name, Node>> {
        if let Some(lazy) = &self.lazy {
            self.children = lazy.get()?.clone();
            self.subdirs = count_dirs(&self.children);
            self.lazy = None;
        }
        Ok(&mut self.children)
    }

    /// The entry `name`, for a change of what it holds (not of its kind: a directory stays a
    /// directory; entries come and go through [`Dir::insert_child`] and
    /// [`Dir::remove_child`]).
    pub(crate) fn child_mut(&mut self, name: &Name) -> io::Result<Option<&mut Node>> {
        Ok(self.children_mut()?.get_mut(name))
    }

    /// Puts `node` in as `name`; returns what was there.
    pub(crate) fn insert_child(&mut self, name: Name, node: Node) -> io::Result<Option<Node>> {
        let is_dir = node.is_dir();
        let old = self.children_mut()?.insert(name, node);
        self.subdirs =
            self.subdirs + u32::from(is_dir) - u32::from(old.as_ref().is_some_and(Node::is_dir));
        Ok(old)
    }

    /// Takes the entry `name` out; returns it.
    pub(crate) fn remove_child(&mut self, name: &Name) -> io::Result<Option<Node>> {
        let old = self.children_mut()?.remove(name);
        self.subdirs -= u32::from(old.as_ref().is_some_and(Node::is_dir));
        Ok(old)
    }

    /// `st_nlink`: 2 plus the subdirectories (its entry, its `.`, each subdirectory's `..`),
    /// or 1 for a directory of a remote store not fetched yet ("subdirectories unknown", as
    /// btrfs reports, which tools such as find(1) understand).
    pub(crate) fn nlink(&self) -> u32 {
        match &self.lazy {
            None => 2 + self.subdirs,
            Some(lazy) => lazy.loaded.get().map_or(1, |c| 2 + count_dirs(c)),
        }
    }

    /// The remote directory object whose entries this directory has unchanged, if any; with
    /// whether they were fetched.
    pub(crate) fn remote(&self) -> Option<(&LazyDir, bool)> {
        self.lazy.as_deref().map(|l| (l, l.loaded.get().is_some()))
    }

    /// Whether `self` and `other` have the same entries because they share them (the same
    /// map, or the same remote object): then nothing below them differs.
    pub(crate) fn shares_entries(&self, other: &Dir) -> bool {
        match (&self.lazy, &other.lazy) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => self.children.ptr_eq(&other.children),
            _ => false,
        }
    }
}

impl Node {
    pub(crate) fn meta(&self) -> &Meta {
        match self {
            Node::Dir(d) => &d.meta,
            Node::File(f) => &f.meta,
            Node::Symlink(s) => &s.meta,
            Node::Special(s) => &s.meta,
        }
    }

    pub(crate) fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Node::Dir(d) => &mut Arc::make_mut(d).meta,
            Node::File(f) => &mut Arc::make_mut(f).meta,
            Node::Symlink(s) => &mut Arc::make_mut(s).meta,
            Node::Special(s) => &mut Arc::make_mut(s).meta,
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        matches!(self, Node::Dir(_))
    }

    pub(crate) fn file_type(&self) -> crate::FileType {
        match self {
            Node::Dir(_) => crate::FileType::Dir,
            Node::File(_) => crate::FileType::File,
            Node::Symlink(_) => crate::FileType::Symlink,
            Node::Special(s) => s.kind,
        }
    }

    /// `st_nlink`: a non-directory's link count, a directory's [`Dir::nlink`].
    #[inline]
    pub(crate) fn nlink(&self) -> u32 {
        match self {
            Node::Dir(d) => d.nlink(),
            _ => self.meta().nlink,
        }
    }

    /// Length as `stat` reports it: bytes for files, target length for symlinks, 4096 for dirs,
    /// 0 for special files.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Node::Dir(_) => 4096,
            Node::File(f) => f.content.len(),
            Node::Symlink(s) => s.target.len() as u64,
            Node::Special(_) => 0,
        }
    }

    /// Whether `self` and `other` are the same version of the same node (pointer identity).
    #[allow(dead_code)] // for persistence, transactions and tools
    pub(crate) fn same_version(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Dir(a), Node::Dir(b)) => Arc::ptr_eq(a, b),
            (Node::File(a), Node::File(b)) => Arc::ptr_eq(a, b),
            (Node::Symlink(a), Node::Symlink(b)) => Arc::ptr_eq(a, b),
            (Node::Special(a), Node::Special(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
