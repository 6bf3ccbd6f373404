//! Content-addressed objects: a snapshot as immutable objects, each named by the blake3 hash of
//! its bytes — the shape in which `memfs-store` keeps trees in object storage (S3 and the
//! servers that speak its protocol, GCS, Azure, a local directory).
//!
//! Two kinds of object:
//! - a **chunk**: bytes of a file. A file over [`INLINE_MAX`] is already
//!   cut into [`CHUNK_SIZE`] chunks named by their blake3 hash in the chunk
//!   store: the objects are those chunks, under the same names. A smaller (inline) file is one
//!   chunk of its own, so a directory object stays small however large its files are, and
//!   reading one file fetches that file's bytes only.
//! - a **directory**: its entries in name order, each with its metadata; a subdirectory also
//!   by the count and bytes of the files below it and the name of its object, a file by its
//!   length and chunk names, a symlink by its target. A directory's own metadata is in its
//!   parent's entry (the root's beside the root's name, [`TreeObjects::root_meta`]), so a
//!   directory can be listed, and its metadata and size known, before its object is fetched.
//!   Inode numbers are left out (they are local to a filesystem): the same tree encodes to the
//!   same objects in every filesystem, so an unchanged subtree keeps its name and a push skips
//!   it whole.
//!
//! ```text
//! directory object:  "MFSD" 2 | count | entries
//! entry:             name | 0 meta files file-bytes subdir-id(32)
//!                         | 1 meta len count chunk-id(32)...
//!                         | 2 meta target
//!                         | 3 meta special-kind(1) rdev      (FIFO, socket, device node)
//! meta:              the state image's metadata encoding without the inode number
//! ```
//!
//! [`Import::lazy`] builds a tree whose directories below those given are fetched from an
//! [`ObjectSource`] when first used, and whose chunks when first read.
//!
//! Nothing here does I/O. [`Snapshot::objects`] lists what a snapshot is made of (the
//! encodings of its directories, its chunks by reference, without copying them);
//! [`Import`] builds a snapshot of a filesystem from objects fetched in any order, checking
//! every object against its name.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use imbl::OrdMap;

use super::image::{
    put_bytes, put_meta, put_varint, special_code, special_kind, valid_name, Reader, MAX_DEPTH,
};
pub use crate::blob::ObjectSource;
use crate::blob::{BlobRef, ChunkBytes, Content, CHUNK_SIZE, INLINE_MAX};
use crate::error;
use crate::fs::MemFs;
use crate::path::Name;
use crate::snapshot::Snapshot;
use crate::sync::Ordering;
use crate::tree::node::{Dir, DirLoader, FileNode, LazyDir, Meta, Node, SpecialNode, SymlinkNode};
use crate::tree::ops::Root;

/// The name of an object: the blake3 hash of its bytes.
pub type ObjectId = [u8; 32];

const DIR_MAGIC: &[u8; 4] = b"MFSD";
const DIR_VERSION: u8 = 2;
const ENTRY_DIR: u8 = 0;
const ENTRY_FILE: u8 = 1;
const ENTRY_SYMLINK: u8 = 2;
const ENTRY_SPECIAL: u8 = 3;

/// The object id of `bytes`.
pub fn object_id(bytes: &[u8]) -> ObjectId {
    *blake3::hash(bytes).as_bytes()
}

/// `id` in lowercase hex (64 characters): how stores name objects.
pub fn hex(id: &ObjectId) -> String {
    blake3::Hash::from_bytes(*id).to_hex().to_string()
}

/// Parses 64 hex digits back into an id.
pub fn parse_hex(s: &str) -> Option<ObjectId> {
    blake3::Hash::from_hex(s).ok().map(|h| *h.as_bytes())
}

/// `Ok` when `bytes` are the object named `id`; else `InvalidData` naming the object (what
/// a truncated, altered or substituted object gives).
pub fn verify(kind: &str, id: &ObjectId, bytes: &[u8]) -> io::Result<()> {
    if object_id(bytes) == *id {
        Ok(())
    } else {
        Err(error::invalid_data(format!(
            "{kind} object {} does not match its hash ({} bytes fetched): truncated or altered",
            hex(id),
            bytes.len()
        )))
    }
}

/// One directory of a snapshot, encoded.
#[derive(Debug, Clone)]
pub struct DirObject {
    /// The object's bytes (its id is their hash).
    pub bytes: Vec<u8>,
    /// The directory objects it names (its subdirectories), in name order.
    pub subdirs: Vec<ObjectId>,
    /// The chunk objects its files name, each once, in name order.
    pub chunks: Vec<ObjectId>,
}

enum ChunkData {
    Stored(BlobRef),
    Inline(Arc<[u8]>),
}

/// What a snapshot is made of, as objects: built by [`Snapshot::objects`].
pub struct TreeObjects {
    root: ObjectId,
    root_meta: Vec<u8>,
    dirs: HashMap<ObjectId, DirObject>,
    chunks: HashMap<ObjectId, ChunkData>,
    files: u64,
    file_bytes: u64,
}

impl std::fmt::Debug for TreeObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeObjects")
            .field("root", &hex(&self.root))
            .field("dirs", &self.dirs.len())
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl TreeObjects {
    /// The root directory's object id: with the chunk and directory objects, it names the
    /// whole tree.
    pub fn root(&self) -> ObjectId {
        self.root
    }

    /// The root directory's metadata, encoded (what [`Import::finish`] takes back).
    pub fn root_meta(&self) -> &[u8] {
        &self.root_meta
    }

    /// A directory object by id (`None` also for a directory of the remote store the tree was
    /// opened from that was never fetched: its object, and all it names, are in that store).
    pub fn dir(&self, id: &ObjectId) -> Option<&DirObject> {
        self.dirs.get(id)
    }

    /// A chunk's bytes by id: borrowed from the snapshot, or, for a filesystem opened over a
    /// remote store, fetched from there (which can fail).
    pub fn chunk(&self, id: &ObjectId) -> Option<io::Result<Cow<'_, [u8]>>> {
        self.chunks.get(id).map(|c| match c {
            ChunkData::Stored(b) => b.bytes().map(|bytes| match bytes {
                ChunkBytes::Here(b) => Cow::Borrowed(b),
                ChunkBytes::Fetched(b) => Cow::Owned(b.to_vec()),
            }),
            ChunkData::Inline(b) => Ok(Cow::Borrowed(&b[..])),
        })
    }

    /// A chunk's length by id (never fetches).
    pub fn chunk_len(&self, id: &ObjectId) -> Option<usize> {
        self.chunks.get(id).map(|c| match c {
            ChunkData::Stored(b) => b.len(),
            ChunkData::Inline(b) => b.len(),
        })
    }

    /// Every distinct directory object.
    pub fn dir_ids(&self) -> impl Iterator<Item = &ObjectId> {
        self.dirs.keys()
    }

    /// Every distinct chunk object.
    pub fn chunk_ids(&self) -> impl Iterator<Item = &ObjectId> {
        self.chunks.keys()
    }

    /// Distinct directory objects.
    pub fn dir_count(&self) -> usize {
        self.dirs.len()
    }

    /// Distinct chunk objects.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Regular files in the tree (each path once).
    pub fn files(&self) -> u64 {
        self.files
    }

    /// Sum of the regular files' lengths (each path once).
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// Bytes of every distinct object held here (what a push to an empty store uploads).
    pub fn total_bytes(&self) -> u64 {
        let dirs: u64 = self.dirs.values().map(|d| d.bytes.len() as u64).sum();
        let chunks: u64 = self
            .chunks
            .keys()
            .map(|id| self.chunk_len(id).map_or(0, |n| n as u64))
            .sum();
        dirs + chunks
    }
}

impl Snapshot {
    /// This snapshot as content-addressed objects (see [`crate::persist::objects`]): the
    /// encoding of each directory and a reference to each chunk. Costs a walk of the tree and
    /// a blake3 hash of every inline file; chunks over `INLINE_MAX` are already named.
    ///
    /// The whole tree, as a state image: a snapshot taken through a handle acting as a user
    /// other than root gets `PermissionDenied` (`EPERM`).
    pub fn objects(&self) -> std::io::Result<TreeObjects> {
        crate::access::check_whole_tree(self.cred(), "an object-store export")?;
        let mut enc = ObjectEncoder {
            dirs: HashMap::new(),
            chunks: HashMap::new(),
            memo: HashMap::new(),
        };
        let mut root_meta = Vec::new();
        let root = self.with_root(|r| match &r.node {
            Node::Dir(d) => {
                put_meta(&mut root_meta, &d.meta, false);
                enc.dir(d)
            }
            _ => unreachable!("a root is a directory"),
        });
        Ok(TreeObjects {
            root: root.id,
            root_meta,
            dirs: enc.dirs,
            chunks: enc.chunks,
            files: root.files,
            file_bytes: root.file_bytes,
        })
    }
}

struct ObjectEncoder {
    dirs: HashMap<ObjectId, DirObject>,
    chunks: HashMap<ObjectId, ChunkData>,
    /// Directory node (address of its `Arc`, kept alive by the snapshot) -> what it encoded
    /// to, so a subtree shared by two paths is encoded once (and counted at both).
    memo: HashMap<usize, Encoded>,
}

/// A directory's id and the regular files below it (count and bytes, each path once).
#[derive(Clone, Copy)]
struct Encoded {
    id: ObjectId,
    files: u64,
    file_bytes: u64,
}

impl ObjectEncoder {
    /// Encodes `d` and every directory below it not encoded yet; returns `d`'s id. Recursion
    /// is bounded by the tree's depth, which no path can exceed.
    fn dir(&mut self, d: &Arc<Dir>) -> Encoded {
        let addr = Arc::as_ptr(d) as usize;
        if let Some(done) = self.memo.get(&addr) {
            return *done;
        }
        let children = match d.remote() {
            // Never fetched, so unchanged: the object the store has, with its counts.
            Some((lazy, false)) => {
                let done = Encoded {
                    id: lazy.id,
                    files: lazy.files,
                    file_bytes: lazy.file_bytes,
                };
                self.memo.insert(addr, done);
                return done;
            }
            _ => d.loaded().expect("fetched, or held here"),
        };
        let (mut files, mut file_bytes) = (0, 0);
        let mut out = Vec::with_capacity(16 + children.len() * 48);
        out.extend_from_slice(DIR_MAGIC);
        out.push(DIR_VERSION);
        put_varint(&mut out, children.len() as u64);
        let mut subdirs = Vec::new();
        let mut chunks = Vec::new();
        for (name, child) in children.iter() {
            put_bytes(&mut out, name.as_bytes());
            match child {
                Node::Dir(sub) => {
                    let below = self.dir(sub);
                    files += below.files;
                    file_bytes += below.file_bytes;
                    let id = below.id;
                    out.push(ENTRY_DIR);
                    put_meta(&mut out, &sub.meta, false);
                    put_varint(&mut out, below.files);
                    put_varint(&mut out, below.file_bytes);
                    out.extend_from_slice(&id);
                    subdirs.push(id);
                }
                Node::File(f) => {
                    files += 1;
                    file_bytes += f.content.len();
                    out.push(ENTRY_FILE);
                    put_meta(&mut out, &f.meta, false);
                    put_varint(&mut out, f.content.len());
                    let ids = self.file_chunks(&f.content);
                    put_varint(&mut out, ids.len() as u64);
                    for id in ids {
                        out.extend_from_slice(&id);
                        chunks.push(id);
                    }
                }
                Node::Symlink(s) => {
                    out.push(ENTRY_SYMLINK);
                    put_meta(&mut out, &s.meta, false);
                    put_bytes(&mut out, s.target.as_bytes());
                }
                Node::Special(s) => {
                    out.push(ENTRY_SPECIAL);
                    put_meta(&mut out, &s.meta, false);
                    out.push(special_code(s.kind));
                    put_varint(&mut out, s.rdev);
                }
            }
        }
        chunks.sort_unstable();
        chunks.dedup();
        let id = object_id(&out);
        let done = Encoded {
            id,
            files,
            file_bytes,
        };
        self.memo.insert(addr, done);
        self.dirs.entry(id).or_insert(DirObject {
            bytes: out,
            subdirs,
            chunks,
        });
        done
    }

    fn file_chunks(&mut self, content: &Content) -> Vec<ObjectId> {
        match content {
            Content::Inline(bytes) if bytes.is_empty() => Vec::new(),
            Content::Inline(bytes) => {
                let id = object_id(bytes);
                self.chunks
                    .entry(id)
                    .or_insert_with(|| ChunkData::Inline(bytes.clone()));
                vec![id]
            }
            Content::Chunks(_) => content
                .chunk_refs()
                .iter()
                .map(|c| {
                    let id = *c.hash();
                    self.chunks
                        .entry(id)
                        .or_insert_with(|| ChunkData::Stored(c.clone()));
                    id
                })
                .collect(),
        }
    }
}

/// What one directory object refers to: read by [`refs_of`] while fetching a tree.
#[derive(Debug, Clone, Default)]
pub struct DirRefs {
    /// Subdirectory objects.
    pub subdirs: Vec<ObjectId>,
    /// Chunk objects of its files, each once.
    pub chunks: Vec<ObjectId>,
    /// Sum of its files' lengths.
    pub file_bytes: u64,
    /// Its regular files.
    pub files: u64,
}

/// Checks that `bytes` are the directory object `id` and lists what it names.
pub fn refs_of(id: &ObjectId, bytes: &[u8]) -> io::Result<DirRefs> {
    verify("directory", id, bytes)?;
    let mut refs = DirRefs::default();
    let of = format!("memfs directory object {}", hex(id));
    let mut r = dir_reader(bytes, &of)?;
    for _ in 0..r.count(2)? {
        let _name = r.str()?;
        match r.u8()? {
            ENTRY_DIR => {
                r.meta(false)?;
                r.varint()?;
                r.varint()?;
                refs.subdirs.push(r.id()?);
            }
            ENTRY_FILE => {
                r.meta(false)?;
                refs.file_bytes += r.varint()?;
                refs.files += 1;
                for _ in 0..r.count(32)? {
                    refs.chunks.push(r.id()?);
                }
            }
            ENTRY_SYMLINK => {
                r.meta(false)?;
                r.bytes()?;
            }
            ENTRY_SPECIAL => {
                r.meta(false)?;
                r.u8()?;
                r.varint()?;
            }
            _ => return Err(r.corrupt("unknown entry kind")),
        }
    }
    if r.remaining() != 0 {
        return Err(r.corrupt("trailing bytes"));
    }
    refs.chunks.sort_unstable();
    refs.chunks.dedup();
    Ok(refs)
}

fn dir_reader<'a>(bytes: &'a [u8], of: &'a str) -> io::Result<Reader<'a>> {
    let r = Reader {
        buf: bytes,
        pos: 5,
        of,
    };
    if bytes.len() < 5 || &bytes[..4] != DIR_MAGIC {
        return Err(r.corrupt("not a directory object"));
    }
    if bytes[4] != DIR_VERSION {
        return Err(r.corrupt(&format!(
            "directory format version {} (this build reads {DIR_VERSION})",
            bytes[4]
        )));
    }
    Ok(r)
}

impl Reader<'_> {
    fn id(&mut self) -> io::Result<ObjectId> {
        let end = self.pos + 32;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.corrupt("unexpected end"))?;
        self.pos = end;
        Ok(s.try_into().expect("32 bytes"))
    }
}

/// Builds a snapshot of a filesystem from fetched objects. Give it every directory object
/// (with [`add_dir`](Import::add_dir), which checks it and says what else it names) and every
/// chunk ([`add_chunk`](Import::add_chunk)), in any order, then [`finish`](Import::finish).
/// Chunks go into the filesystem's chunk store as they arrive (deduplicated against what it
/// holds); inode numbers are the filesystem's own, fresh.
pub struct Import {
    ctx: Arc<Ctx>,
    dirs: HashMap<ObjectId, Vec<u8>>,
    /// Chunks of at most `INLINE_MAX` bytes, which may become inline contents.
    small: HashMap<ObjectId, Arc<[u8]>>,
    stored: HashMap<ObjectId, BlobRef>,
}

/// What building directories needs besides the objects: the filesystem's chunk store and
/// inode counter, and where objects not given come from (a lazy import). Held by every
/// directory not fetched yet, to fetch it: no handle to the filesystem itself, so a tree never
/// keeps its filesystem alive.
struct Ctx {
    store: crate::blob::BlobStore,
    inos: Arc<crate::sync::AtomicU64>,
    source: Option<Arc<dyn ObjectSource>>,
}

impl Import {
    /// An import into `fs` (its chunk store and inode numbers).
    pub fn new(fs: &MemFs) -> Self {
        Import::with_source(fs, None)
    }

    /// An import into `fs` whose objects need not all be added: a directory whose object was
    /// not added at [`finish`](Import::finish) is fetched from `source` when first used (its
    /// metadata and the size of what is below it are in its parent's entry), a chunk not added
    /// when first read. A filesystem opened over a remote store without downloading it.
    pub fn lazy(fs: &MemFs, source: Arc<dyn ObjectSource>) -> Self {
        Import::with_source(fs, Some(source))
    }

    fn with_source(fs: &MemFs, source: Option<Arc<dyn ObjectSource>>) -> Self {
        Import {
            ctx: Arc::new(Ctx {
                store: fs.store().clone(),
                inos: fs.inos_shared(),
                source,
            }),
            dirs: HashMap::new(),
            small: HashMap::new(),
            stored: HashMap::new(),
        }
    }

    /// Adds the directory object `id` (checked against its hash) and returns what it names.
    pub fn add_dir(&mut self, id: ObjectId, bytes: Vec<u8>) -> io::Result<DirRefs> {
        let refs = refs_of(&id, &bytes)?;
        self.dirs.insert(id, bytes);
        Ok(refs)
    }

    /// Adds the chunk `id`, checked against its hash.
    pub fn add_chunk(&mut self, id: ObjectId, bytes: &[u8]) -> io::Result<()> {
        verify("chunk", &id, bytes)?;
        if bytes.len() > CHUNK_SIZE {
            return Err(error::invalid_data(format!(
                "chunk object {} is {} bytes, over the {CHUNK_SIZE}-byte chunk size",
                hex(&id),
                bytes.len()
            )));
        }
        if bytes.len() <= INLINE_MAX {
            self.small.insert(id, Arc::from(bytes));
        } else {
            self.stored
                .insert(id, self.ctx.store.insert_hashed(id, bytes));
        }
        Ok(())
    }

    /// Whether the chunk `id` was added.
    pub fn has_chunk(&self, id: &ObjectId) -> bool {
        self.small.contains_key(id) || self.stored.contains_key(id)
    }

    /// The snapshot whose root directory is the object `root`, with the metadata `root_meta`
    /// ([`TreeObjects::root_meta`]): `InvalidData` naming the object when one is missing or
    /// inconsistent. The root's object must have been added.
    pub fn finish(self, root: ObjectId, root_meta: &[u8]) -> io::Result<Snapshot> {
        let of = format!("memfs root metadata of directory object {}", hex(&root));
        let mut r = Reader {
            buf: root_meta,
            pos: 0,
            of: &of,
        };
        let meta = self.ctx.fresh_meta(r.meta(false)?);
        if r.remaining() != 0 {
            return Err(r.corrupt("trailing bytes"));
        }
        let children = self.build_entries(&root, 0)?;
        let snap_root = Root::new(Node::Dir(Arc::new(Dir::with_children(children, meta))), 0);
        Ok(Snapshot::from_parts(
            Arc::new(snap_root),
            self.ctx.store.clone(),
        ))
    }

    /// The entries of the added directory object `id`, at `depth`.
    fn build_entries(&self, id: &ObjectId, depth: usize) -> io::Result<OrdMap<Name, Node>> {
        let bytes = self.dirs.get(id).ok_or_else(|| missing("directory", id))?;
        let mut subdir = |sub: SubDir| -> io::Result<Node> {
            let dir = if self.dirs.contains_key(&sub.id) {
                Dir::with_children(self.build_entries(&sub.id, depth + 1)?, sub.meta)
            } else if self.ctx.source.is_some() {
                Ctx::lazy_dir(self.ctx.clone(), sub, depth + 1)
            } else {
                return Err(missing("directory", &sub.id));
            };
            Ok(Node::Dir(Arc::new(dir)))
        };
        let content = |ids: &[ObjectId], len: u64| self.content(ids, len);
        self.ctx.entries(id, bytes, depth, &mut subdir, &content)
    }

    /// A file's content from its chunks; `Err` says what is wrong (for the directory's error).
    fn content(&self, ids: &[ObjectId], len: u64) -> Result<Content, String> {
        let missing_chunk = |id: &ObjectId| format!("chunk {} is missing", hex(id));
        if let Some(source) = &self.ctx.source {
            if ids.iter().any(|id| !self.has_chunk(id)) {
                let store = &self.ctx.store;
                return lazy_content(store, source, ids, len, |id| {
                    match (self.stored.get(id), self.small.get(id)) {
                        (Some(c), _) => Some(c.clone()),
                        (None, Some(data)) => Some(store.insert_hashed(*id, data)),
                        (None, None) => None,
                    }
                });
            }
        }
        if len <= INLINE_MAX as u64 {
            let mut bytes = Vec::with_capacity(len as usize);
            for id in ids {
                let data = self.small.get(id).ok_or_else(|| missing_chunk(id))?;
                bytes.extend_from_slice(data);
            }
            if bytes.len() as u64 != len {
                return Err(format!(
                    "file of {len} bytes has {} in its chunks",
                    bytes.len()
                ));
            }
            return Ok(Content::Inline(Arc::from(bytes)));
        }
        let mut refs = Vec::with_capacity(ids.len());
        for id in ids {
            let chunk = match self.stored.get(id) {
                Some(c) => c.clone(),
                // A short last chunk may be small.
                None => {
                    let data = self.small.get(id).ok_or_else(|| missing_chunk(id))?;
                    self.ctx.store.insert_hashed(*id, data)
                }
            };
            refs.push(chunk);
        }
        let content = Content::from_chunk_refs(refs)
            .ok_or_else(|| "chunks not laid out in chunk-size pieces".to_owned())?;
        if content.len() != len {
            return Err(format!(
                "file of {len} bytes has {} in its chunks",
                content.len()
            ));
        }
        Ok(content)
    }
}

/// Makes a file's content from its chunk names and length (`Err`: what is wrong with them).
type MakeContent<'a> = dyn Fn(&[ObjectId], u64) -> Result<Content, String> + 'a;

/// A subdirectory entry of a directory object.
struct SubDir {
    id: ObjectId,
    meta: Meta,
    files: u64,
    file_bytes: u64,
}

impl Ctx {
    fn fresh_meta(&self, mut meta: Meta) -> Meta {
        meta.ino = self.inos.fetch_add(1, Ordering::Relaxed);
        meta
    }

    /// A directory whose entries `loader` (a lazy import's `Ctx`) fetches on first use.
    fn lazy_dir(loader: Arc<dyn DirLoader>, sub: SubDir, depth: usize) -> Dir {
        Dir::lazy(
            sub.meta,
            LazyDir::new(sub.id, sub.files, sub.file_bytes, depth, loader),
        )
    }

    /// Parses the entries of directory object `id` (`bytes`, checked against `id`): its
    /// subdirectories and file contents made by `subdir` and `content`.
    fn entries(
        &self,
        id: &ObjectId,
        bytes: &[u8],
        depth: usize,
        subdir: &mut dyn FnMut(SubDir) -> io::Result<Node>,
        content: &MakeContent<'_>,
    ) -> io::Result<OrdMap<Name, Node>> {
        if depth > MAX_DEPTH {
            return Err(error::invalid_data(format!(
                "directory object {}: tree deeper than any path",
                hex(id)
            )));
        }
        let of = format!("memfs directory object {}", hex(id));
        let mut r = dir_reader(bytes, &of)?;
        let mut children = OrdMap::new();
        for _ in 0..r.count(2)? {
            let name = r.str()?;
            if !valid_name(name) {
                return Err(r.corrupt("invalid file name"));
            }
            let node = match r.u8()? {
                ENTRY_DIR => {
                    let meta = self.fresh_meta(r.meta(false)?);
                    let files = r.varint()?;
                    let file_bytes = r.varint()?;
                    let id = r.id()?;
                    subdir(SubDir {
                        id,
                        meta,
                        files,
                        file_bytes,
                    })?
                }
                ENTRY_FILE => {
                    let meta = self.fresh_meta(r.meta(false)?);
                    let len = r.varint()?;
                    let n = r.count(32)?;
                    let mut ids = Vec::with_capacity(n);
                    for _ in 0..n {
                        ids.push(r.id()?);
                    }
                    let content = content(&ids, len).map_err(|e| r.corrupt(&e))?;
                    Node::File(Arc::new(FileNode { content, meta }))
                }
                ENTRY_SYMLINK => {
                    let meta = self.fresh_meta(r.meta(false)?);
                    let target = r.str()?.to_owned();
                    Node::Symlink(Arc::new(SymlinkNode { target, meta }))
                }
                ENTRY_SPECIAL => {
                    let meta = self.fresh_meta(r.meta(false)?);
                    let kind = special_kind(r.u8()?)
                        .ok_or_else(|| r.corrupt("unknown special file kind"))?;
                    let rdev = r.varint()?;
                    Node::Special(Arc::new(SpecialNode { kind, rdev, meta }))
                }
                _ => return Err(r.corrupt("unknown entry kind")),
            };
            if children.insert(Name::new(name), node).is_some() {
                return Err(r.corrupt("duplicate name"));
            }
        }
        if r.remaining() != 0 {
            return Err(r.corrupt("trailing bytes"));
        }
        Ok(children)
    }
}

/// Fetches a directory of a lazy import on first use: its object from the source, checked
/// against its name; its subdirectories fetched on their first use too, its chunks on first
/// read.
impl DirLoader for Ctx {
    fn load(&self, dir: &LazyDir) -> io::Result<OrdMap<Name, Node>> {
        let source = self.source.as_ref().expect("a lazy import has a source");
        let bytes = source.fetch_dir(&dir.id)?;
        verify("directory", &dir.id, &bytes)?;
        // Its subdirectories are fetched by the same loader (this `Ctx`, as the `LazyDir` holds
        // it).
        let mut subdir = |sub: SubDir| {
            let loader = dir.loader();
            Ok(Node::Dir(Arc::new(Ctx::lazy_dir(
                loader,
                sub,
                dir.depth + 1,
            ))))
        };
        let content =
            |ids: &[ObjectId], len: u64| lazy_content(&self.store, source, ids, len, |_| None);
        self.entries(&dir.id, &bytes, dir.depth, &mut subdir, &content)
    }
}

/// A content whose chunks are `known` here or fetched from `source` when read. Every chunk
/// but the last is `CHUNK_SIZE` bytes; the last is what is left of `len`.
fn lazy_content(
    store: &crate::blob::BlobStore,
    source: &Arc<dyn ObjectSource>,
    ids: &[ObjectId],
    len: u64,
    known: impl Fn(&ObjectId) -> Option<BlobRef>,
) -> Result<Content, String> {
    if ids.is_empty() && len == 0 {
        return Ok(Content::Inline(Arc::from(&[][..])));
    }
    let full = (ids.len() as u64).saturating_sub(1) * CHUNK_SIZE as u64;
    let last = len
        .checked_sub(full)
        .filter(|n| (1..=CHUNK_SIZE as u64).contains(n));
    let Some(last) = last else {
        return Err(format!(
            "file of {len} bytes cannot have {} chunks",
            ids.len()
        ));
    };
    let refs = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let n = if i + 1 == ids.len() {
                last as usize
            } else {
                CHUNK_SIZE
            };
            known(id).unwrap_or_else(|| store.insert_elsewhere(*id, n, source))
        })
        .collect();
    Content::from_chunk_refs(refs).ok_or_else(|| "chunks of the wrong sizes".to_owned())
}

fn missing(kind: &str, id: &ObjectId) -> io::Error {
    error::invalid_data(format!("{kind} object {} is missing", hex(id)))
}
