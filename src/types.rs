//! The public value types of the read API: `Metadata`, `Permissions`, `FileType`, `DirEntry`,
//! `Stats`. They are plain snapshots of a node's state, detached from the tree.

use std::io;
use std::time::SystemTime;

use crate::tree::node::Node;

/// The kind of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    File,
    Dir,
    Symlink,
    /// A named pipe (`mkfifo`).
    Fifo,
    /// A Unix socket's name.
    Socket,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
}

impl FileType {
    pub fn is_file(&self) -> bool {
        *self == FileType::File
    }
    pub fn is_dir(&self) -> bool {
        *self == FileType::Dir
    }
    pub fn is_symlink(&self) -> bool {
        *self == FileType::Symlink
    }
    /// Whether it is a FIFO, a socket or a device node (`mknod`).
    pub fn is_special(&self) -> bool {
        matches!(
            self,
            FileType::Fifo | FileType::Socket | FileType::CharDevice | FileType::BlockDevice
        )
    }
    pub fn is_fifo(&self) -> bool {
        *self == FileType::Fifo
    }
    pub fn is_socket(&self) -> bool {
        *self == FileType::Socket
    }
    pub fn is_char_device(&self) -> bool {
        *self == FileType::CharDevice
    }
    pub fn is_block_device(&self) -> bool {
        *self == FileType::BlockDevice
    }

    /// The `S_IFMT` bits of `st_mode` for this kind (`0o100000` for a regular file, ...).
    pub fn mode_bits(&self) -> u32 {
        match self {
            FileType::File => 0o100000,
            FileType::Dir => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
            FileType::CharDevice => 0o020000,
            FileType::BlockDevice => 0o060000,
        }
    }

    /// The kind whose `S_IFMT` bits `mode` carries, if any.
    pub fn from_mode_bits(mode: u32) -> Option<FileType> {
        [
            FileType::File,
            FileType::Dir,
            FileType::Symlink,
            FileType::Fifo,
            FileType::Socket,
            FileType::CharDevice,
            FileType::BlockDevice,
        ]
        .into_iter()
        .find(|t| t.mode_bits() == mode & 0o170000)
    }
}

/// Permission bits of a node (memfs stores them; it does not enforce them, like root on Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permissions {
    mode: u32,
}

impl Permissions {
    pub fn from_mode(mode: u32) -> Self {
        Permissions {
            mode: mode & crate::tree::node::PERMISSION_BITS,
        }
    }
    /// The permission bits (`0o644`, ...), without the file type.
    pub fn mode(&self) -> u32 {
        self.mode
    }
    /// Whether no write bit is set.
    pub fn readonly(&self) -> bool {
        self.mode & 0o222 == 0
    }
}

/// What `stat` says about a node, as of the moment it was taken.
#[derive(Clone, Debug)]
pub struct Metadata {
    pub(crate) file_type: FileType,
    pub(crate) len: u64,
    pub(crate) mode: u32,
    pub(crate) ino: u64,
    pub(crate) nlink: u32,
    pub(crate) rdev: u64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) created: SystemTime,
    pub(crate) modified: SystemTime,
    pub(crate) accessed: SystemTime,
    pub(crate) changed: SystemTime,
}

impl Metadata {
    #[inline(always)] // on the read fast lane (`metadata`): measured, callgrind
    pub(crate) fn of(node: &Node) -> Self {
        let m = node.meta();
        Metadata {
            file_type: node.file_type(),
            len: node.len(),
            mode: m.mode,
            ino: m.ino,
            nlink: node.nlink(),
            rdev: match node {
                Node::Special(s) => s.rdev,
                _ => 0,
            },
            uid: m.uid,
            gid: m.gid,
            created: m.created,
            modified: m.modified,
            accessed: m.accessed,
            changed: m.changed,
        }
    }

    /// Metadata from its parts, for frontends that carry it across a wire (the gRPC
    /// `RemoteFs`): `mode` is the permission bits (the file type comes from `file_type`);
    /// every time is the epoch until [`Metadata::with_times`] sets them.
    pub fn new(file_type: FileType, len: u64, mode: u32, ino: u64) -> Self {
        Metadata {
            file_type,
            len,
            mode: mode & crate::tree::node::PERMISSION_BITS,
            ino,
            nlink: 1,
            rdev: 0,
            uid: 0,
            gid: 0,
            created: SystemTime::UNIX_EPOCH,
            modified: SystemTime::UNIX_EPOCH,
            accessed: SystemTime::UNIX_EPOCH,
            changed: SystemTime::UNIX_EPOCH,
        }
    }

    /// The same metadata with these birth, modification, access and change times.
    pub fn with_times(
        mut self,
        created: SystemTime,
        modified: SystemTime,
        accessed: SystemTime,
        changed: SystemTime,
    ) -> Self {
        self.created = created;
        self.modified = modified;
        self.accessed = accessed;
        self.changed = changed;
        self
    }

    /// The same metadata with this owner and group.
    pub fn with_owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// The same metadata with this link count (`st_nlink`).
    pub fn with_nlink(mut self, nlink: u32) -> Self {
        self.nlink = nlink;
        self
    }

    /// The same metadata with this device number (`st_rdev`).
    pub fn with_rdev(mut self, rdev: u64) -> Self {
        self.rdev = rdev;
        self
    }

    pub(crate) fn set_len_for_handle(&mut self, len: u64) {
        self.len = len;
    }

    /// Size in bytes (a directory reports 4096, a symlink its target's length).
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether the size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn is_file(&self) -> bool {
        self.file_type.is_file()
    }
    pub fn is_dir(&self) -> bool {
        self.file_type.is_dir()
    }
    pub fn is_symlink(&self) -> bool {
        self.file_type.is_symlink()
    }
    pub fn file_type(&self) -> FileType {
        self.file_type
    }
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }
    /// Permission bits plus the file-type bits, as `st_mode`.
    pub fn mode(&self) -> u32 {
        self.file_type.mode_bits() | self.mode
    }
    /// The owner's user id (`st_uid`).
    pub fn uid(&self) -> u32 {
        self.uid
    }
    /// The group id (`st_gid`).
    pub fn gid(&self) -> u32 {
        self.gid
    }
    /// The device number of a device node (`st_rdev`); 0 for everything else.
    pub fn rdev(&self) -> u64 {
        self.rdev
    }
    /// The number of hard links (`st_nlink`): names of a file, symlink or special file
    /// ([`crate::MemFs::hard_link`] adds one); for a directory 2 plus its subdirectories, as
    /// Linux counts them.
    pub fn nlink(&self) -> u32 {
        self.nlink
    }
    /// The inode number: stable for the node's lifetime (kept across rename).
    pub fn ino(&self) -> u64 {
        self.ino
    }
    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(self.modified)
    }
    pub fn created(&self) -> io::Result<SystemTime> {
        Ok(self.created)
    }
    pub fn accessed(&self) -> io::Result<SystemTime> {
        Ok(self.accessed)
    }
    /// Last status change (ctime).
    pub fn changed(&self) -> io::Result<SystemTime> {
        Ok(self.changed)
    }
}

/// One entry of `read_dir`.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) metadata: Metadata,
    pub(crate) lists_as_dir: bool,
}

impl DirEntry {
    /// An entry named `name` at `path` (its directory's path joined with the name);
    /// `lists_as_dir` as [`DirEntry::lists_as_dir`] says (for frontends that carry entries
    /// across a wire).
    pub fn new(name: String, path: String, metadata: Metadata, lists_as_dir: bool) -> Self {
        DirEntry {
            name,
            path,
            metadata,
            lists_as_dir,
        }
    }

    /// Whether a walk lists this entry among a directory's subdirectories (`os.walk`'s
    /// dirnames): a directory, or a symlink that finally points to one. The one rule of every
    /// walk (`walk`, `par_walk`, `RemoteFs::walk`, the CLI's `tree`/`find`), which never
    /// descends into a symlink either way.
    pub fn lists_as_dir(&self) -> bool {
        self.lists_as_dir
    }
    /// The entry's name.
    pub fn file_name(&self) -> String {
        self.name.clone()
    }
    /// The entry's full path (the listed directory's path joined with the name).
    pub fn path(&self) -> String {
        self.path.clone()
    }
    /// The entry's metadata (not following a symlink, like `std::fs::DirEntry`).
    pub fn metadata(&self) -> io::Result<Metadata> {
        Ok(self.metadata.clone())
    }
    pub fn file_type(&self) -> io::Result<FileType> {
        Ok(self.metadata.file_type())
    }
}

/// Sizes of a filesystem (or snapshot): see `MemFs::stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Regular files in the live tree.
    pub files: u64,
    /// Directories in the live tree, `/` included.
    pub dirs: u64,
    /// Symbolic links in the live tree.
    pub symlinks: u64,
    /// FIFOs, sockets and device nodes in the live tree.
    pub specials: u64,
    /// Sum of the live files' lengths.
    pub logical_bytes: u64,
    /// Bytes actually held: distinct chunks in the store (shared with live snapshots) plus
    /// small contents stored inline in the live tree.
    pub stored_bytes: u64,
    /// Distinct chunks in the store.
    pub blobs: u64,
    /// Bytes the live tree holds after deduplication, as a quota counts them (chunks that
    /// only snapshots hold are not included; see [`crate::Usage`]).
    pub live_bytes: u64,
    /// The quota (unlimited for a snapshot and for a filesystem without one).
    pub limits: crate::Limits,
}
