//! `Snapshot`: a pinned, read-only version of the tree, and `restore`.
//!
//! Taking a snapshot clones one `Arc<Root>`: O(1) whatever the tree's size. The snapshot keeps
//! every node and chunk of that version alive (structural sharing: nothing is copied) and
//! never changes, whatever happens to the filesystem afterwards. It offers the same read API
//! as `MemFs` and can be read from any number of threads, and `open` gives a read-only
//! [`ReadOnlyFile`] handle on one of its files (also used by `Transaction::open`).

use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use crate::blob::{BlobStore, ChunkBytes, Content};
use crate::error;
use crate::fs::MemFs;
use crate::path::VPath;
use crate::sync::Ordering;
use crate::tree::ops;
use crate::tree::ops::Root;
use crate::types::Metadata;
use crate::types::Stats;
use crate::view::{self, read_api};

/// A read-only, immutable view of a filesystem at one moment. Cheap to clone.
#[derive(Clone)]
pub struct Snapshot {
    root: Arc<Root>,
    store: BlobStore,
    /// The credentials of the handle that took it: its reads are checked as theirs.
    cred: crate::access::Cred,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("generation", &self.root.generation)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// A snapshot of an already built root whose chunks live in `store` (used by the image
    /// loader to rebuild named snapshots).
    pub(crate) fn from_parts(root: Arc<Root>, store: BlobStore) -> Self {
        Snapshot {
            root,
            store,
            cred: None,
        }
    }

    pub(crate) fn with_root<R>(&self, f: impl FnOnce(&Root) -> R) -> R {
        f(&self.root)
    }

    /// The credentials its reads are checked with (`None`: root's handle, unchecked).
    pub(crate) fn cred(&self) -> Option<&crate::Credentials> {
        self.cred.as_deref()
    }

    #[allow(dead_code)] // for persistence, transactions and tools
    pub(crate) fn root(&self) -> &Arc<Root> {
        &self.root
    }

    /// The generation of the filesystem when the snapshot was taken.
    pub fn generation(&self) -> u64 {
        self.root.generation
    }

    /// Counts of this snapshot's files, directories and bytes (stored bytes are the store's).
    pub fn stats(&self) -> Stats {
        view::stats(&self.root, &self.store, Default::default())
    }

    /// Opens a file of the snapshot for reading (following symlinks). The handle reads the
    /// snapshot's bytes in place, without copying them.
    pub fn open(&self, p: impl AsRef<Path>) -> io::Result<ReadOnlyFile> {
        let p = VPath::parse(p)?;
        if let Some(c) = &self.cred {
            crate::access::check_read(&self.root, &p, true, crate::access::ReadNeed::Read, c)?;
        }
        ReadOnlyFile::open(&self.root, &p)
    }
}

/// A read-only handle on one version of a file (`Read + Seek + BufRead`), from
/// [`Snapshot::open`] or `Transaction::open`. It keeps that version alive and never changes.
#[derive(Clone)]
pub struct ReadOnlyFile {
    path: String,
    content: Content,
    metadata: Metadata,
    pos: u64,
    /// The chunk `fill_buf` last fetched from a remote store, which its slice borrows.
    fetched: Option<std::sync::Arc<[u8]>>,
}

impl std::fmt::Debug for ReadOnlyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyFile")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl ReadOnlyFile {
    pub(crate) fn open(root: &Root, p: &VPath) -> io::Result<ReadOnlyFile> {
        // One lookup for the bytes and the metadata.
        let (node, file) = ops::file_at(root, p)?;
        Ok(ReadOnlyFile {
            path: p.as_string(),
            metadata: Metadata::of(node),
            content: file.content.clone(),
            pos: 0,
            fetched: None,
        })
    }

    /// The path the handle was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's metadata, as of the version the handle reads.
    pub fn metadata(&self) -> io::Result<Metadata> {
        Ok(self.metadata.clone())
    }
}

impl Read for ReadOnlyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.content.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl BufRead for ReadOnlyFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.content.contiguous_at(self.pos)? {
            None => Ok(&[]),
            Some((ChunkBytes::Here(b), at)) => Ok(&b[at..]),
            Some((ChunkBytes::Fetched(b), at)) => {
                // Keep the fetched chunk for as long as the caller reads from it.
                Ok(&self.fetched.insert(b)[at..])
            }
        }
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt as u64).min(self.content.len().max(self.pos));
    }
}

impl Seek for ReadOnlyFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, off) = match to {
            SeekFrom::Start(n) => {
                self.pos = n;
                return Ok(n);
            }
            SeekFrom::End(off) => (self.content.len(), off),
            SeekFrom::Current(off) => (self.pos, off),
        };
        let pos = base.checked_add_signed(off).ok_or_else(|| {
            error::invalid_input("invalid seek to a negative or overflowing position")
        })?;
        self.pos = pos;
        Ok(pos)
    }
}

impl view::Source for Snapshot {
    fn with_root_at<R>(&self, _p: &VPath, _access: view::Access, f: impl FnOnce(&Root) -> R) -> R {
        f(&self.root)
    }

    #[inline]
    fn with_plain_root<R>(&self, p: &Path, f: impl FnOnce(&Root, &[u8]) -> Option<R>) -> Option<R> {
        view::plain_lane(&self.root, p, f)
    }

    #[inline]
    fn credentials(&self) -> Option<&Arc<crate::Credentials>> {
        self.cred.as_ref()
    }
}

read_api!(Snapshot);

impl MemFs {
    /// A read-only view of the filesystem as it is now. O(1): one reference-count increment,
    /// the same cost for 10 or 1,000,000 files.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            root: self.load_root(),
            store: self.store().clone(),
            cred: view::Source::credentials(self).cloned(),
        }
    }

    /// Makes the whole filesystem what `snap` shows, in one atomic publish. Handles opened
    /// before keep their own buffers (see `File`). A snapshot of another `MemFs` works too:
    /// its chunks stay owned by that filesystem's store. Fails (and changes nothing) only
    /// when the snapshot's tree does not fit the quota (`StorageFull`, see
    /// [`MemFs::set_limits`]).
    pub fn restore(&self, snap: &Snapshot) -> std::io::Result<()> {
        self.check_admin("restore")?;
        if !self.store().same_store(&snap.store) {
            // Inode numbers come from the other filesystem's counter: move ours past them, so
            // later creates never reuse a number the restored tree already holds.
            let max = crate::view::max_ino(&snap.root);
            self.inos()
                .fetch_max(max.saturating_add(1), Ordering::Relaxed);
        }
        self.replace_root(&snap.root)
    }
}

/// Longest name of a named snapshot (CLI state, `memfs serve`), in bytes.
pub const SNAPSHOT_NAME_MAX: usize = 255;

/// The one rule for snapshot names, wherever snapshots are kept by name (the CLI's state, a
/// gRPC `FsServer`): 1 to [`SNAPSHOT_NAME_MAX`] bytes, no `/`, no control characters (NUL
/// included). A bad name is `InvalidInput` naming it.
///
/// ```
/// assert!(memfs::check_snapshot_name("before-migration 2").is_ok());
/// for bad in ["", "a/b", "tab\there", "nul\0"] {
///     assert_eq!(memfs::check_snapshot_name(bad).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
/// }
/// ```
pub fn check_snapshot_name(name: &str) -> io::Result<()> {
    if name.is_empty()
        || name.len() > SNAPSHOT_NAME_MAX
        || name.contains('/')
        || name.contains(char::is_control)
    {
        return Err(error::invalid_input(format!(
            "bad snapshot name {name:?}: 1 to {SNAPSHOT_NAME_MAX} bytes, no '/' or control characters"
        )));
    }
    Ok(())
}
