//! Content-addressed, deduplicated storage of file contents.
//!
//! A file's bytes are a [`Content`]: small contents (up to [`INLINE_MAX`] bytes) are kept inline
//! in the node and never hashed, so the hot small-write path costs no blake3; larger contents are
//! cut into [`CHUNK_SIZE`] chunks, each stored once in the [`BlobStore`] under its blake3 hash.
//! Two files (or two versions, or two snapshots) with the same chunk share one allocation.
//!
//! Invariants of the store (model-checked in `loom-tests/`):
//! - every chunk in the map has at least one live [`BlobRef`] besides the map's own `Arc`;
//! - a `BlobRef` is created only under its shard's lock (insert) or by cloning a live one, and is
//!   released under the same lock, where the last one removes the map entry: so no blob is freed
//!   while a `BlobRef` can still reach it, and none outlives its last `BlobRef` (no leak).
//!
//! This module owns blob lifetimes and the stored-bytes accounting; it knows nothing of paths.

use std::collections::HashMap;
use std::sync::Arc as StdArc;

use crate::sync::{self, Arc, AtomicU64, AtomicUsize, Mutex, Ordering};

/// Contents up to this many bytes are stored inline (not hashed, not deduplicated).
pub const INLINE_MAX: usize = 4096;
/// Larger contents are stored as chunks of this size (the last one may be shorter).
pub const CHUNK_SIZE: usize = 64 * 1024;
const SHARDS: usize = 64;
/// Contents at least this large are hashed on several threads (rayon).
const PARALLEL_HASH_MIN: usize = 4 * 1024 * 1024;

/// A blake3 hash naming a chunk.
pub type Hash = [u8; 32];

type Shard = Mutex<HashMap<Hash, Arc<Blob>>>;

struct StoreInner {
    shards: Vec<Shard>,
    stored_bytes: AtomicU64,
    blobs: AtomicUsize,
}

/// The deduplicating chunk store shared by a filesystem, its snapshots and transactions.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<StoreInner>,
}

/// One stored chunk.
pub(crate) struct Blob {
    hash: Hash,
    data: BlobData,
    store: Arc<StoreInner>,
}

/// Where a chunk's bytes are: here, or in a [`ObjectSource`] that fetches them on first use.
enum BlobData {
    Here(Box<[u8]>),
    Elsewhere {
        len: usize,
        source: StdArc<dyn ObjectSource>,
    },
}

/// Where the objects of a filesystem opened over a remote store come from, on first use:
/// `fetch_chunk` returns the bytes of chunk `hash` (`len` bytes), checked against the hash (the
/// source's job: it may cache them checked), and `fetch_dir` the bytes of a directory object
/// (see `persist::objects`, which checks them against the name and parses them); or an error
/// (`InvalidData` for a missing or altered object, what the store said otherwise).
/// Implementations may cache what they fetched (bounded) and may be called from any thread.
pub trait ObjectSource: Send + Sync {
    fn fetch_chunk(&self, hash: &Hash, len: usize) -> std::io::Result<StdArc<[u8]>>;
    fn fetch_dir(&self, id: &Hash) -> std::io::Result<Vec<u8>>;
}

/// A chunk's bytes: borrowed from the chunk, or fetched (shared with the source's cache).
pub(crate) enum ChunkBytes<'a> {
    Here(&'a [u8]),
    Fetched(StdArc<[u8]>),
}

impl std::ops::Deref for ChunkBytes<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Here(b) => b,
            ChunkBytes::Fetched(b) => b,
        }
    }
}

/// A counted reference to a stored chunk; the last one dropped frees the chunk.
pub(crate) struct BlobRef {
    blob: Option<Arc<Blob>>,
}

impl Default for BlobStore {
    fn default() -> Self {
        Self::new()
    }
}

impl BlobStore {
    /// An empty store.
    pub fn new() -> Self {
        BlobStore {
            inner: Arc::new(StoreInner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                stored_bytes: AtomicU64::new(0),
                blobs: AtomicUsize::new(0),
            }),
        }
    }

    /// Stores `data` under `hash` (or finds the chunk already stored) and returns a reference.
    pub(crate) fn insert_hashed(&self, hash: Hash, data: &[u8]) -> BlobRef {
        self.insert_with(hash, data.len(), || data.into())
    }

    /// Same as [`BlobStore::insert_hashed`] for an owned buffer, which becomes the stored
    /// chunk without a copy when its capacity is its length.
    #[cfg_attr(not(feature = "fuse"), allow(dead_code))] // used by the FUSE layer
    pub(crate) fn insert_hashed_vec(&self, hash: Hash, data: Vec<u8>) -> BlobRef {
        let len = data.len();
        self.insert_with(hash, len, move || data.into_boxed_slice())
    }

    fn insert_with(&self, hash: Hash, len: usize, data: impl FnOnce() -> Box<[u8]>) -> BlobRef {
        self.insert_data(hash, len, || BlobData::Here(data()))
    }

    /// A reference to chunk `hash` of `len` bytes whose bytes `source` fetches on first use
    /// (or to the chunk already stored under that hash). Such a chunk counts no stored bytes:
    /// it is not held here.
    pub(crate) fn insert_elsewhere(
        &self,
        hash: Hash,
        len: usize,
        source: &StdArc<dyn ObjectSource>,
    ) -> BlobRef {
        self.insert_data(hash, 0, || BlobData::Elsewhere {
            len,
            source: source.clone(),
        })
    }

    /// `held`: the bytes the new chunk holds here.
    fn insert_data(&self, hash: Hash, held: usize, data: impl FnOnce() -> BlobData) -> BlobRef {
        let shard = &self.inner.shards[shard_of(&hash)];
        let mut map = sync::lock(shard);
        if let Some(existing) = map.get(&hash) {
            return BlobRef {
                blob: Some(existing.clone()),
            };
        }
        let blob = Arc::new(Blob {
            hash,
            data: data(),
            store: self.inner.clone(),
        });
        map.insert(hash, blob.clone());
        self.inner
            .stored_bytes
            .fetch_add(held as u64, Ordering::Relaxed);
        self.inner.blobs.fetch_add(1, Ordering::Relaxed);
        BlobRef { blob: Some(blob) }
    }

    /// Hashes and stores one chunk.
    #[allow(dead_code)] // for persistence, transactions and tools
    pub(crate) fn insert(&self, data: &[u8]) -> BlobRef {
        self.insert_hashed(*blake3::hash(data).as_bytes(), data)
    }

    /// Whether both handles name the same store.
    pub(crate) fn same_store(&self, other: &BlobStore) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Bytes held by distinct chunks (after deduplication).
    pub fn stored_bytes(&self) -> u64 {
        self.inner.stored_bytes.load(Ordering::Relaxed)
    }

    /// Number of distinct chunks held.
    pub fn blob_count(&self) -> usize {
        self.inner.blobs.load(Ordering::Relaxed)
    }
}

impl BlobData {
    #[inline]
    fn len(&self) -> usize {
        match self {
            BlobData::Here(b) => b.len(),
            BlobData::Elsewhere { len, .. } => *len,
        }
    }

    /// Bytes held in memory here.
    fn held(&self) -> usize {
        match self {
            BlobData::Here(b) => b.len(),
            BlobData::Elsewhere { .. } => 0,
        }
    }
}

fn shard_of(hash: &Hash) -> usize {
    hash[0] as usize % SHARDS
}

impl BlobRef {
    fn blob(&self) -> &Blob {
        // The Option is only emptied inside `drop`.
        self.blob.as_deref().expect("BlobRef used after release")
    }

    /// The chunk's length.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.blob().data.len()
    }

    /// The chunk's bytes: here, or fetched from its source (which can fail).
    #[inline]
    pub(crate) fn bytes(&self) -> std::io::Result<ChunkBytes<'_>> {
        let blob = self.blob();
        match &blob.data {
            BlobData::Here(b) => Ok(ChunkBytes::Here(b)),
            BlobData::Elsewhere { len, source } => {
                let got = source.fetch_chunk(&blob.hash, *len)?;
                if got.len() != *len {
                    return Err(crate::error::invalid_data(format!(
                        "chunk {} fetched with {} bytes, {len} expected",
                        blake3::Hash::from_bytes(blob.hash).to_hex(),
                        got.len()
                    )));
                }
                Ok(ChunkBytes::Fetched(got))
            }
        }
    }

    /// The chunk's bytes when they are held here (tests).
    #[cfg(test)]
    pub(crate) fn data(&self) -> &[u8] {
        match &self.blob().data {
            BlobData::Here(b) => b,
            BlobData::Elsewhere { .. } => panic!("chunk not held here"),
        }
    }

    /// The chunk's blake3 hash.
    pub(crate) fn hash(&self) -> &Hash {
        &self.blob().hash
    }

    /// Whether both refer to the same stored chunk (a pointer comparison).
    pub(crate) fn same_chunk(&self, other: &BlobRef) -> bool {
        match (&self.blob, &other.blob) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Clone for BlobRef {
    fn clone(&self) -> Self {
        BlobRef {
            blob: self.blob.clone(),
        }
    }
}

impl Drop for BlobRef {
    fn drop(&mut self) {
        let Some(blob) = self.blob.take() else { return };
        let store = blob.store.clone();
        let shard = &store.shards[shard_of(&blob.hash)];
        let mut map = sync::lock(shard);
        // Under the lock nobody can create a new reference to this chunk, so a count of 2 (the
        // map's and ours) means we hold the last `BlobRef`.
        if Arc::strong_count(&blob) == 2 {
            if let Some(removed) = map.remove(&blob.hash) {
                store
                    .stored_bytes
                    .fetch_sub(removed.data.held() as u64, Ordering::Relaxed);
                store.blobs.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // Our count must go while the lock is held: released after unlocking, two threads
        // dropping the last two `BlobRef`s could both see a count of 3 and both keep the
        // chunk, leaking it (found by the loom model
        // `concurrent_release_of_the_same_chunk_frees_it_once`).
        drop(blob);
        drop(map);
    }
}

/// The bytes of one file: inline when small, deduplicated chunks otherwise. Cloning is O(1).
#[derive(Clone)]
pub(crate) enum Content {
    Inline(StdArc<[u8]>),
    Chunks(StdArc<Chunks>),
}

/// A chunked content: every chunk but the last is `CHUNK_SIZE` bytes.
pub(crate) struct Chunks {
    len: u64,
    chunks: Vec<BlobRef>,
}

impl Default for Content {
    fn default() -> Self {
        Content::Inline(StdArc::from(&[][..]))
    }
}

/// Cuts `data` into `CHUNK_SIZE` pieces (the last may be shorter; none if `data` is empty)
/// and stores each.
fn store_pieces(store: &BlobStore, data: &[u8]) -> Vec<BlobRef> {
    let pieces: Vec<&[u8]> = data.chunks(CHUNK_SIZE).collect();
    let hashes: Vec<Hash> = if data.len() >= PARALLEL_HASH_MIN {
        use rayon::prelude::*;
        pieces
            .par_iter()
            .map(|p| *blake3::hash(p).as_bytes())
            .collect()
    } else {
        pieces.iter().map(|p| *blake3::hash(p).as_bytes()).collect()
    };
    pieces
        .iter()
        .zip(hashes)
        .map(|(p, h)| store.insert_hashed(h, p))
        .collect()
}

/// Builds `prefix ++ tail ++ zeros` bytes, where `prefix` holds only full chunks: inline if the
/// total is small, else chunked, storing only `tail` and the zeros (one zero chunk, shared).
fn assemble(store: &BlobStore, mut chunks: Vec<BlobRef>, tail: &[u8], zeros: u64) -> Content {
    let len = (chunks.len() * CHUNK_SIZE + tail.len()) as u64 + zeros;
    if len <= INLINE_MAX as u64 {
        // Only reachable with an empty prefix: one full chunk is already over INLINE_MAX.
        let mut bytes = tail.to_vec();
        bytes.resize(len as usize, 0);
        return Content::Inline(StdArc::from(bytes));
    }
    // Pad the tail's last piece with zeros up to a chunk boundary (or up to the end).
    let pad = zeros.min(((CHUNK_SIZE - tail.len() % CHUNK_SIZE) % CHUNK_SIZE) as u64);
    let mut first = tail.to_vec();
    first.resize(tail.len() + pad as usize, 0);
    chunks.extend(store_pieces(store, &first));
    let rest = zeros - pad;
    let full = rest / CHUNK_SIZE as u64;
    if full > 0 {
        let zero = store.insert(&[0u8; CHUNK_SIZE]);
        chunks.extend(std::iter::repeat_n(zero, full as usize));
    }
    let part = (rest % CHUNK_SIZE as u64) as usize;
    if part > 0 {
        chunks.push(store.insert(&vec![0u8; part]));
    }
    Content::Chunks(StdArc::new(Chunks { len, chunks }))
}

/// Largest file memfs accepts (1 TiB): a longer `set_len` or append is `FileTooLarge` (EFBIG).
pub const MAX_FILE_SIZE: u64 = 1 << 40;

/// The one file-size rule (the library's writes and a mount's): `FileTooLarge` (`EFBIG`)
/// past [`MAX_FILE_SIZE`].
pub(crate) fn check_file_size(len: u64) -> std::io::Result<()> {
    if len > MAX_FILE_SIZE {
        return Err(crate::error::err(
            std::io::ErrorKind::FileTooLarge,
            format!("file size {len} over the limit of {MAX_FILE_SIZE} bytes"),
        ));
    }
    Ok(())
}

impl Content {
    /// Stores `data`: inline if small, else chunked into `store`.
    pub(crate) fn from_bytes(store: &BlobStore, data: &[u8]) -> Content {
        if data.len() <= INLINE_MAX {
            return Content::Inline(StdArc::from(data));
        }
        Content::Chunks(StdArc::new(Chunks {
            len: data.len() as u64,
            chunks: store_pieces(store, data),
        }))
    }

    /// Rebuilds a chunked content from chunks already in a store (used by the image loader).
    /// `None` unless every chunk but the last is exactly `CHUNK_SIZE` bytes and none is empty
    /// (the invariant `read_at` relies on).
    pub(crate) fn from_chunk_refs(chunks: Vec<BlobRef>) -> Option<Content> {
        let (last, full) = chunks.split_last()?;
        if last.len() == 0 || last.len() > CHUNK_SIZE || full.iter().any(|c| c.len() != CHUNK_SIZE)
        {
            return None;
        }
        let len = (full.len() * CHUNK_SIZE + last.len()) as u64;
        Some(Content::Chunks(StdArc::new(Chunks { len, chunks })))
    }

    /// A chunked content made of already stored chunks (used by the FUSE write buffers, which
    /// keep the `CHUNK_SIZE` layout: every chunk but the last is full).
    #[cfg_attr(not(feature = "fuse"), allow(dead_code))] // used by the FUSE layer
    pub(crate) fn from_stored_chunks(chunks: Vec<BlobRef>, len: u64) -> Content {
        debug_assert_eq!(chunks.iter().map(|c| c.len() as u64).sum::<u64>(), len);
        debug_assert!(chunks.iter().rev().skip(1).all(|c| c.len() == CHUNK_SIZE));
        Content::Chunks(StdArc::new(Chunks { len, chunks }))
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Content::Inline(b) => b.len() as u64,
            Content::Chunks(c) => c.len,
        }
    }

    /// Copies the whole content into a new vector (fetching chunks held elsewhere).
    pub(crate) fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Content::Inline(b) => Ok(b.to_vec()),
            Content::Chunks(c) => {
                let mut out = Vec::with_capacity(c.len as usize);
                for chunk in &c.chunks {
                    out.extend_from_slice(&chunk.bytes()?);
                }
                Ok(out)
            }
        }
    }

    /// Copies bytes starting at `offset` into `buf`; returns how many (0 at or past the end).
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if offset >= self.len() || buf.is_empty() {
            return Ok(0);
        }
        match self {
            Content::Inline(b) => {
                let src = &b[offset as usize..];
                let n = src.len().min(buf.len());
                buf[..n].copy_from_slice(&src[..n]);
                Ok(n)
            }
            Content::Chunks(c) => {
                let mut done = 0;
                let mut pos = offset;
                while done < buf.len() && pos < c.len {
                    let idx = (pos / CHUNK_SIZE as u64) as usize;
                    let within = (pos % CHUNK_SIZE as u64) as usize;
                    let chunk = c.chunks[idx].bytes()?;
                    let src = &chunk[within..];
                    let n = src.len().min(buf.len() - done);
                    buf[done..done + n].copy_from_slice(&src[..n]);
                    done += n;
                    pos += n as u64;
                }
                Ok(done)
            }
        }
    }

    /// The chunk holding `offset` and where `offset` is in it (`None` at or past the end): the
    /// longest run readable without copying, for `BufRead`.
    pub(crate) fn contiguous_at(
        &self,
        offset: u64,
    ) -> std::io::Result<Option<(ChunkBytes<'_>, usize)>> {
        if offset >= self.len() {
            return Ok(None);
        }
        match self {
            Content::Inline(b) => Ok(Some((ChunkBytes::Here(b), offset as usize))),
            Content::Chunks(c) => {
                let idx = (offset / CHUNK_SIZE as u64) as usize;
                let within = (offset % CHUNK_SIZE as u64) as usize;
                Ok(Some((c.chunks[idx].bytes()?, within)))
            }
        }
    }

    /// Bytes this content keeps inline (not in the store).
    pub(crate) fn inline_bytes(&self) -> u64 {
        match self {
            Content::Inline(b) => b.len() as u64,
            Content::Chunks(_) => 0,
        }
    }

    /// The chunks, for content-aware code (persistence, stats, quotas); empty for inline
    /// contents.
    pub(crate) fn chunk_refs(&self) -> &[BlobRef] {
        match self {
            Content::Inline(_) => &[],
            Content::Chunks(c) => &c.chunks,
        }
    }

    /// The full chunks of a chunked content and the bytes of its partial last chunk (or the
    /// inline bytes), cut at `len` (at most `self.len()`).
    fn split_at_chunk(&self, len: u64) -> std::io::Result<(Vec<BlobRef>, Vec<u8>)> {
        match self {
            Content::Inline(b) => Ok((Vec::new(), b[..len as usize].to_vec())),
            Content::Chunks(c) => {
                let full = (len / CHUNK_SIZE as u64) as usize;
                let part = (len % CHUNK_SIZE as u64) as usize;
                let tail = if part > 0 {
                    c.chunks[full].bytes()?[..part].to_vec()
                } else {
                    Vec::new()
                };
                Ok((c.chunks[..full].to_vec(), tail))
            }
        }
    }

    /// This content followed by `bytes`. The full chunks are shared, not copied or re-hashed:
    /// an append costs what it appends plus at most one chunk, whatever the file's size.
    pub(crate) fn appended(&self, store: &BlobStore, bytes: &[u8]) -> std::io::Result<Content> {
        let len = self.len() + bytes.len() as u64;
        check_file_size(len)?;
        let (prefix, mut all) = self.split_at_chunk(self.len())?;
        all.extend_from_slice(bytes);
        Ok(assemble(store, prefix, &all, 0))
    }

    /// This content cut or zero-extended to `len` bytes (`ftruncate`); unchanged chunks are
    /// shared and the zeros of an extension are one shared chunk.
    pub(crate) fn resized(&self, store: &BlobStore, len: u64) -> std::io::Result<Content> {
        check_file_size(len)?;
        if len == self.len() {
            return Ok(self.clone());
        }
        let keep = len.min(self.len());
        let (prefix, tail) = self.split_at_chunk(keep)?;
        Ok(assemble(store, prefix, &tail, len - keep))
    }

    /// Whether both name the same stored bytes (cheap identity check, not a byte comparison).
    #[allow(dead_code)] // for persistence, transactions and tools
    pub(crate) fn same_as(&self, other: &Content) -> bool {
        match (self, other) {
            (Content::Inline(a), Content::Inline(b)) => StdArc::ptr_eq(a, b),
            (Content::Chunks(a), Content::Chunks(b)) => StdArc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn small_content_is_inline_and_not_stored() {
        let store = BlobStore::new();
        let c = Content::from_bytes(&store, b"hello");
        assert_eq!(c.to_vec().unwrap(), b"hello");
        assert_eq!(store.stored_bytes(), 0);
        assert_eq!(c.inline_bytes(), 5);
    }

    #[test]
    fn identical_chunks_are_stored_once_and_freed_with_last_ref() {
        let store = BlobStore::new();
        let data = vec![7u8; 3 * CHUNK_SIZE + 10];
        let a = Content::from_bytes(&store, &data);
        // three identical full chunks + one tail chunk = 2 distinct blobs
        assert_eq!(store.blob_count(), 2);
        assert_eq!(store.stored_bytes(), CHUNK_SIZE as u64 + 10);
        let b = Content::from_bytes(&store, &data);
        assert_eq!(store.blob_count(), 2);
        assert_eq!(a.to_vec().unwrap(), data);
        drop(a);
        assert_eq!(store.blob_count(), 2);
        drop(b);
        assert_eq!(store.blob_count(), 0);
        assert_eq!(store.stored_bytes(), 0);
    }

    #[test]
    fn append_and_resize_share_full_chunks_and_match_a_plain_vector() {
        let store = BlobStore::new();
        let mut model: Vec<u8> = Vec::new();
        let mut c = Content::default();
        let steps: [(bool, usize); 9] = [
            (true, 100),
            (true, INLINE_MAX),
            (true, CHUNK_SIZE + 7),
            (false, 3 * CHUNK_SIZE + 5),
            (true, 10),
            (false, CHUNK_SIZE),
            (false, 2 * CHUNK_SIZE - 1),
            (false, 50),
            (false, 0),
        ];
        for (i, (append, n)) in steps.into_iter().enumerate() {
            if append {
                let bytes: Vec<u8> = (0..n).map(|j| (i * 31 + j) as u8).collect();
                c = c.appended(&store, &bytes).unwrap();
                model.extend_from_slice(&bytes);
            } else {
                c = c.resized(&store, n as u64).unwrap();
                model.resize(n, 0);
            }
            assert_eq!(c.len(), model.len() as u64);
            assert_eq!(c.to_vec().unwrap(), model, "step {i}");
            if let Content::Chunks(ch) = &c {
                let (last, full) = ch.chunks.split_last().unwrap();
                assert!(full.iter().all(|b| b.data().len() == CHUNK_SIZE));
                assert!(!last.data().is_empty() && last.data().len() <= CHUNK_SIZE);
            } else {
                assert!(model.len() <= INLINE_MAX);
            }
        }
        drop(c);
        assert_eq!(store.blob_count(), 0);
    }

    #[test]
    fn appending_keeps_the_full_chunks_of_the_old_version() {
        let store = BlobStore::new();
        let big = Content::from_bytes(&store, &vec![9u8; 4 * CHUNK_SIZE + 3]);
        let more = big.appended(&store, b"xyz").unwrap();
        for (a, b) in big.chunk_refs()[..4].iter().zip(&more.chunk_refs()[..4]) {
            assert!(std::ptr::eq(a.data(), b.data()));
        }
        assert_eq!(more.len(), 4 * CHUNK_SIZE as u64 + 6);
        let e = more.resized(&store, MAX_FILE_SIZE + 1).err().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn read_at_crosses_chunk_boundaries() {
        let store = BlobStore::new();
        let data: Vec<u8> = (0..(2 * CHUNK_SIZE + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let c = Content::from_bytes(&store, &data);
        let mut buf = vec![0u8; 1000];
        let off = CHUNK_SIZE as u64 - 300;
        assert_eq!(c.read_at(off, &mut buf).unwrap(), 1000);
        assert_eq!(&buf[..], &data[off as usize..off as usize + 1000]);
        assert_eq!(c.read_at(data.len() as u64 - 10, &mut buf).unwrap(), 10);
        assert_eq!(c.read_at(data.len() as u64, &mut buf).unwrap(), 0);
    }

    #[test]
    fn concurrent_insert_and_release_of_same_content() {
        let store = BlobStore::new();
        let data = vec![1u8; CHUNK_SIZE];
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let r = store.insert(&data);
                        assert_eq!(r.data().len(), CHUNK_SIZE);
                        drop(r);
                    }
                });
            }
        });
        assert_eq!(store.blob_count(), 0);
        assert_eq!(store.stored_bytes(), 0);
    }
}
