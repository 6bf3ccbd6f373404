//! The nodes of the persistent tree and their metadata.
//!
//! A [`Node`] is an enum of three `Arc`s (a tag and one pointer, 16 bytes) to an immutable
//! node. Directories map names to nodes with an `imbl::OrdMap`, so cloning a directory is O(1)
//! and changing one entry copies only the B-tree path to it. Nodes are never mutated while
//! shared: writers go through `Arc::make_mut`, which copies a shared node and mutates a private
//! one in place.

use std::collections::BTreeMap;
use std::sync::Arc;
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
        Meta {
            ino,
            mode,
            created: now,
            modified: now,
            accessed: now,
            changed: now,
            user: None,
        }
    }

    /// Marks a content change (mtime and ctime).
    pub(crate) fn touch(&mut self) {
        let now = SystemTime::now();
        self.modified = now;
        self.changed = now;
    }
}

#[derive(Clone)]
pub(crate) struct Dir {
    pub children: OrdMap<Name, Node>,
    pub meta: Meta,
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

/// One entry of a directory.
#[derive(Clone)]
pub(crate) enum Node {
    Dir(Arc<Dir>),
    File(Arc<FileNode>),
    Symlink(Arc<SymlinkNode>),
}

/// Node identity: two nodes are equal when they are the same version (the same `Arc`), which
/// is what a diff of two trees asks (`imbl::OrdMap::diff` compares values with `==`).
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.same_version(other)
    }
}

/// Default permission bits, as with a umask of 022.
pub(crate) const DEFAULT_DIR_MODE: u32 = 0o755;
pub(crate) const DEFAULT_FILE_MODE: u32 = 0o644;
pub(crate) const DEFAULT_SYMLINK_MODE: u32 = 0o777;

impl Dir {
    pub(crate) fn new(ino: u64) -> Self {
        Dir {
            children: OrdMap::new(),
            meta: Meta::new(ino, DEFAULT_DIR_MODE),
        }
    }
}

impl Node {
    pub(crate) fn meta(&self) -> &Meta {
        match self {
            Node::Dir(d) => &d.meta,
            Node::File(f) => &f.meta,
            Node::Symlink(s) => &s.meta,
        }
    }

    pub(crate) fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Node::Dir(d) => &mut Arc::make_mut(d).meta,
            Node::File(f) => &mut Arc::make_mut(f).meta,
            Node::Symlink(s) => &mut Arc::make_mut(s).meta,
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
        }
    }

    /// Length as `stat` reports it: bytes for files, target length for symlinks, 4096 for dirs.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Node::Dir(_) => 4096,
            Node::File(f) => f.content.len(),
            Node::Symlink(s) => s.target.len() as u64,
        }
    }

    /// Whether `self` and `other` are the same version of the same node (pointer identity).
    #[allow(dead_code)] // for persistence, transactions and tools
    pub(crate) fn same_version(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Dir(a), Node::Dir(b)) => Arc::ptr_eq(a, b),
            (Node::File(a), Node::File(b)) => Arc::ptr_eq(a, b),
            (Node::Symlink(a), Node::Symlink(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
