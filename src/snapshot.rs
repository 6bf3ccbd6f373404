//! `Snapshot`: a pinned, read-only version of the tree, and `restore`.
//!
//! Taking a snapshot clones one `Arc<Root>`: O(1) whatever the tree's size. The snapshot keeps
//! every node and chunk of that version alive (structural sharing: nothing is copied) and
//! never changes, whatever happens to the filesystem afterwards. It offers the same read API
//! as `MemFs` and can be read from any number of threads.

use std::sync::Arc;

use crate::blob::BlobStore;
use crate::fs::MemFs;
use crate::tree::ops::Root;
use crate::types::Stats;
use crate::view::{self, read_api};

/// A read-only, immutable view of a filesystem at one moment. Cheap to clone.
#[derive(Clone)]
pub struct Snapshot {
    root: Arc<Root>,
    store: BlobStore,
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
        Snapshot { root, store }
    }

    pub(crate) fn with_root<R>(&self, f: impl FnOnce(&Root) -> R) -> R {
        f(&self.root)
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
        view::stats(&self.root, &self.store)
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
        }
    }

    /// Makes the whole filesystem what `snap` shows, in one atomic publish. Handles opened
    /// before keep their own buffers (see `File`). A snapshot of another `MemFs` works too:
    /// its chunks stay owned by that filesystem's store.
    pub fn restore(&self, snap: &Snapshot) {
        self.replace_root(snap.root.node.clone());
    }
}
