//! `FsServer`: a `MemFs` served as `memfs.v1.FileSystem`. Each call maps onto one `MemFs` call;
//! its `io::Error` becomes a status through `status` (exact kind kept). File contents travel as
//! streams of chunks (reads: at most 1 MiB per message; writes: whatever the client sends, each
//! message under the size limit) and a write is published in one piece when its stream ends.
//! Named snapshots live in the server (a map name -> `Snapshot`). This module must not touch the
//! tree directly; it only calls `MemFs`'s public API.

use std::collections::BTreeMap;
use std::io;
use std::net::ToSocketAddrs;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::auth::{self, CheckToken, Grant, Tokens};
use super::proto::{self, file_system_server};
use super::runtime::{self, ServerHandle};
use super::status::status_of_io;
use super::{DEFAULT_MAX_MESSAGE_SIZE, STREAM_CHUNK_SIZE};
use memfs::{FileType, MemFs, Metadata, Snapshot};

/// Serves a `MemFs` over gRPC: `FsServer::new(fs).with_token(token).serve("127.0.0.1:50051")`.
#[derive(Clone, Debug)]
pub struct FsServer {
    fs: MemFs,
    tokens: Option<Tokens>,
    tls: Option<crate::ServerTls>,
    limits: crate::ServerLimits,
    max_message_size: usize,
    snapshots: Arc<Mutex<BTreeMap<String, Snapshot>>>,
}

impl FsServer {
    /// A server for `fs` (another handle to the same filesystem: changes made through the
    /// server are visible to `fs` and the other way round). No token, 64 MiB messages.
    pub fn new(fs: MemFs) -> Self {
        FsServer {
            fs,
            tokens: None,
            tls: None,
            limits: crate::ServerLimits::default(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            snapshots: Arc::default(),
        }
    }

    /// With `Some(token)`, calls need `authorization: Bearer <token>` (else `UNAUTHENTICATED`).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.tokens = token.as_deref().map(Tokens::single);
        self
    }

    /// Accepts exactly these tokens (replacing any set before), each with its rights: a
    /// read-only token gets `PERMISSION_DENIED` on every change (writes, removes, renames,
    /// snapshots, restore), a prefix-limited one on every path outside its prefix (checked on
    /// the path as given and on where its symlinks lead) and on whole-tree operations (restore,
    /// snapshots, diff). The refusal says which right the token lacks.
    pub fn with_tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The limits on what clients can make the server hold (connections, streams, time,
    /// buffered write bytes; see [`crate::ServerLimits`] for the defaults).
    pub fn with_limits(mut self, limits: crate::ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves over TLS (`https://`; mutual TLS if `tls` requires client certificates).
    pub fn with_tls(mut self, tls: crate::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The largest message accepted or sent (default 64 MiB). Larger files are streamed.
    pub fn with_max_message_size(mut self, limit: usize) -> Self {
        self.max_message_size = limit.max(1024);
        self
    }

    /// Starts with these named snapshots (e.g. the ones saved with the filesystem), so
    /// clients can `restore` them.
    pub fn with_snapshots(self, snapshots: BTreeMap<String, Snapshot>) -> Self {
        *self.snapshots.lock().unwrap_or_else(|p| p.into_inner()) = snapshots;
        self
    }

    /// The snapshots taken through the server so far, by name (shared with the running
    /// server: e.g. to save them on shutdown).
    pub fn snapshots(&self) -> BTreeMap<String, Snapshot> {
        self.snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serves in the background on `addr` (`"127.0.0.1:0"` picks a free port) and returns at
    /// once. Bind errors (address in use, ...) are returned here.
    pub fn serve(&self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        let limit = self.max_message_size;
        let service = FsService {
            fs: self.fs.clone(),
            snapshots: self.snapshots.clone(),
            next_snapshot: Arc::new(AtomicU64::new(1)),
            read_chunk: STREAM_CHUNK_SIZE.min(limit.saturating_sub(64)).max(512),
            writes: crate::limits::WriteBudget::new(self.limits.max_buffered_write_bytes),
        };
        let server = file_system_server::FileSystemServer::new(service)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit);
        let svc = tonic::service::interceptor::InterceptedService::new(
            server,
            CheckToken::with_tokens(self.tokens.clone()),
        );
        let mut builder = self.limits.apply(super::server_builder());
        let max_connections = self.limits.max_connections;
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(tls.config()).map_err(|e| {
                memfs::error::invalid_input(format!(
                    "TLS certificate or key: {}",
                    runtime::error_chain(&e)
                ))
            })?;
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut handle = runtime::spawn_server("filesystem server", addr, |incoming, stop| {
            let incoming = crate::limits::limit_connections(incoming, max_connections);
            builder.serve_with_incoming_shutdown(svc, incoming, stop)
        })?;
        handle.set_scheme(scheme);
        Ok(handle)
    }
}

struct FsService {
    fs: MemFs,
    snapshots: Arc<Mutex<BTreeMap<String, Snapshot>>>,
    next_snapshot: Arc<AtomicU64>,
    read_chunk: usize,
    /// Bytes of streamed writes buffered now, against `ServerLimits::max_buffered_write_bytes`.
    writes: crate::limits::WriteBudget,
}

type Reply<T> = Result<Response<T>, Status>;

impl FsService {
    /// Refuses a call its token may not make: a change (`write`) by a read-only token, or a
    /// path outside the token's prefix, as given or where its symlinks lead (a path that does
    /// not parse is left to the operation, which reports it).
    fn allow<T>(&self, req: &Request<T>, write: bool, paths: &[&str]) -> Result<(), Status> {
        let grant = auth::grant_of(req);
        if write && !grant.write {
            let what = paths.first().map_or(String::new(), |p| format!(": {p}"));
            return Err(Status::permission_denied(format!(
                "this token is read-only (ro): it may not change anything{what}"
            )));
        }
        if grant.is_whole_tree() {
            return Ok(());
        }
        for p in paths {
            for reached in self.reached(p) {
                if !memfs::path::at_or_below(&grant.prefix, &reached) {
                    return Err(Status::permission_denied(format!(
                        "this token reaches only {} and below, not {reached}",
                        grant.prefix
                    )));
                }
            }
        }
        Ok(())
    }

    /// The paths a call on `p` touches: `p` normalised, and where it resolves through
    /// symlinks (for a missing last name, where its parent resolves).
    fn reached(&self, p: &str) -> Vec<String> {
        let Ok(vp) = memfs::VPath::parse_str(p) else {
            return Vec::new();
        };
        let plain = vp.as_string();
        let resolved = self.fs.canonicalize(&plain).ok().or_else(|| {
            let (parent, name) = plain.rsplit_once('/')?;
            let parent = self
                .fs
                .canonicalize(if parent.is_empty() { "/" } else { parent });
            parent.ok().map(|d| {
                if d == "/" {
                    format!("/{name}")
                } else {
                    format!("{d}/{name}")
                }
            })
        });
        let mut out = vec![plain];
        out.extend(resolved);
        out
    }

    /// Refuses a whole-tree operation to a token limited to a prefix, or a change to a
    /// read-only one.
    fn allow_whole_tree<T>(&self, req: &Request<T>, write: bool, what: &str) -> Result<(), Status> {
        let grant: Grant = auth::grant_of(req);
        self.allow(req, write, &[])?;
        if !grant.is_whole_tree() {
            return Err(Status::permission_denied(format!(
                "{what} needs a token for the whole tree; this one reaches only {}",
                grant.prefix
            )));
        }
        Ok(())
    }
}

fn io<T>(r: io::Result<T>) -> Result<T, Status> {
    r.map_err(|e| status_of_io(&e))
}

/// Entries per `WalkBatch` message (a few hundred KiB at most).
const WALK_BATCH: usize = 1000;

fn usage_of(s: memfs::Stats) -> proto::Usage {
    proto::Usage {
        files: s.files,
        dirs: s.dirs,
        symlinks: s.symlinks,
        specials: s.specials,
        logical_bytes: s.logical_bytes,
        stored_bytes: s.stored_bytes,
        blobs: s.blobs,
        live_bytes: s.live_bytes,
        max_bytes: s.limits.max_bytes,
        max_inodes: s.limits.max_inodes,
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut memfs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match std::io::Read::read(file, &mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn timestamp(t: io::Result<SystemTime>) -> Option<proto::Timestamp> {
    let (seconds, nanos) = memfs::time::to_unix(t.ok()?);
    Some(proto::Timestamp { seconds, nanos })
}

/// Node kinds on the wire: the one table, read both ways.
const KINDS: [(FileType, proto::NodeKind); 7] = [
    (FileType::File, proto::NodeKind::File),
    (FileType::Dir, proto::NodeKind::Dir),
    (FileType::Symlink, proto::NodeKind::Symlink),
    (FileType::Fifo, proto::NodeKind::Fifo),
    (FileType::Socket, proto::NodeKind::Socket),
    (FileType::CharDevice, proto::NodeKind::CharDevice),
    (FileType::BlockDevice, proto::NodeKind::BlockDevice),
];

/// The wire's name for a kind of node.
pub(crate) fn node_kind(t: FileType) -> proto::NodeKind {
    KINDS
        .iter()
        .find(|(f, _)| *f == t)
        .map_or(proto::NodeKind::Unspecified, |(_, k)| *k)
}

/// The kind of node a wire value names, if any.
pub(crate) fn file_type_of(kind: i32) -> Option<FileType> {
    KINDS
        .iter()
        .find(|(_, k)| *k as i32 == kind)
        .map(|(f, _)| *f)
}

pub(crate) fn stat_of(m: &Metadata) -> proto::Stat {
    let kind = node_kind(m.file_type());
    proto::Stat {
        kind: kind as i32,
        len: m.len(),
        mode: m.permissions().mode(),
        ino: m.ino(),
        created: timestamp(m.created()),
        modified: timestamp(m.modified()),
        accessed: timestamp(m.accessed()),
        changed: timestamp(m.changed()),
        rdev: m.rdev(),
        uid: m.uid(),
        gid: m.gid(),
        nlink: m.nlink(),
    }
}

#[tonic::async_trait]
impl file_system_server::FileSystem for FsService {
    async fn stat(&self, req: Request<proto::StatRequest>) -> Reply<proto::Stat> {
        self.allow(&req, false, &[&req.get_ref().path])?;
        let r = req.into_inner();
        let m = if r.no_follow {
            self.fs.symlink_metadata(&r.path)
        } else {
            self.fs.metadata(&r.path)
        };
        Ok(Response::new(stat_of(&io(m)?)))
    }

    type ReadStream = Pin<Box<dyn Stream<Item = Result<proto::Chunk, Status>> + Send>>;

    async fn read(&self, req: Request<proto::ReadRequest>) -> Reply<Self::ReadStream> {
        self.allow(&req, false, &[&req.get_ref().path])?;
        let r = req.into_inner();
        let chunk = match r.chunk_size as usize {
            0 => self.read_chunk,
            n => n.clamp(512, self.read_chunk),
        };
        // The handle pins the version of the file as it is now; errors (not found, a
        // directory...) are reported before the stream starts.
        let mut file = io(self.fs.open(&r.path))?;
        let total_len = io(file.metadata())?.len();
        // A blocking producer copies one chunk at a time out of the tree while the previous
        // ones are on the wire; memory stays bounded (4 chunks in flight), and it stops as
        // soon as the client goes away.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut first = true;
            loop {
                let mut buf = vec![0u8; chunk];
                let n = match read_full(&mut file, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(status_of_io(&e)));
                        return;
                    }
                };
                if n == 0 && !first {
                    return;
                }
                buf.truncate(n);
                let msg = proto::Chunk {
                    data: Bytes::from(buf),
                    total_len: if first { total_len } else { 0 },
                };
                first = false;
                if tx.blocking_send(Ok(msg)).is_err() || n < chunk {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn write(
        &self,
        req: Request<Streaming<proto::WriteRequest>>,
    ) -> Reply<proto::WriteReply> {
        let grant = auth::grant_of(&req);
        let mut stream = req.into_inner();
        let Some(first) = stream.next().await.transpose()? else {
            return Err(Status::invalid_argument("write: empty request stream"));
        };
        let mut check = Request::new(());
        check.extensions_mut().insert(grant);
        self.allow(&check, true, &[&first.path])?;
        if first.path.is_empty() {
            return Err(Status::invalid_argument(
                "write: the first message must name the file",
            ));
        }
        let (path, append) = (first.path, first.append);
        // The size hint is the client's word: allocate ahead for at most 256 MiB of it (larger
        // files grow the buffer as their bytes actually arrive).
        let hint = first.total_len.min(super::MAX_SIZE_HINT) as usize;
        let mut taken = self.writes.empty_take();
        self.writes.take(&mut taken, first.data.len() as u64)?;
        let mut content = BytesMut::with_capacity(hint.min(8 << 20).max(first.data.len()));
        content.extend_from_slice(&first.data);
        while let Some(msg) = stream.next().await.transpose()? {
            self.writes.take(&mut taken, msg.data.len() as u64)?;
            content.extend_from_slice(&msg.data);
        }
        let written = content.len() as u64;
        if first.total_len > 0 && written != first.total_len {
            return Err(Status::data_loss(format!(
                "write {path}: the stream ended after {written} of the {} bytes it announced; \
                 nothing was written",
                first.total_len
            )));
        }
        let fs = self.fs.clone();
        let result = tokio::task::spawn_blocking(move || {
            if append {
                fs.append(&path, &content)
            } else {
                fs.write(&path, &content)
            }
        })
        .await
        .map_err(|_| Status::internal("write task failed"))?;
        io(result)?;
        Ok(Response::new(proto::WriteReply { written }))
    }

    async fn list(&self, req: Request<proto::PathRequest>) -> Reply<proto::ListReply> {
        self.allow(&req, false, &[&req.get_ref().path])?;
        let entries = io(self.fs.read_dir(req.into_inner().path))?
            .into_iter()
            .map(|e| proto::DirEntry {
                name: e.file_name(),
                path: e.path(),
                stat: e.metadata().ok().map(|m| stat_of(&m)),
                lists_as_dir: e.lists_as_dir(),
            })
            .collect();
        Ok(Response::new(proto::ListReply { entries }))
    }

    async fn mkdir(&self, req: Request<proto::MkdirRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        let r = req.into_inner();
        io(if r.parents {
            self.fs.create_dir_all(&r.path)
        } else {
            self.fs.create_dir(&r.path)
        })?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn remove(&self, req: Request<proto::RemoveRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        let r = req.into_inner();
        let kind = proto::RemoveKind::try_from(r.kind)
            .map_err(|_| Status::invalid_argument(format!("unknown remove kind {}", r.kind)))?;
        io(match kind {
            proto::RemoveKind::File => self.fs.remove_file(&r.path),
            proto::RemoveKind::EmptyDir => self.fs.remove_dir(&r.path),
            proto::RemoveKind::Tree => self.fs.remove_dir_all(&r.path),
        })?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn rename(&self, req: Request<proto::RenameRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().from, &req.get_ref().to])?;
        let r = req.into_inner();
        io(self.fs.rename(&r.from, &r.to))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn link(&self, req: Request<proto::RenameRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().from, &req.get_ref().to])?;
        let r = req.into_inner();
        io(self.fs.hard_link(&r.from, &r.to))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn copy(&self, req: Request<proto::RenameRequest>) -> Reply<proto::CopyReply> {
        self.allow(&req, true, &[&req.get_ref().from, &req.get_ref().to])?;
        let r = req.into_inner();
        let bytes = io(self.fs.copy(&r.from, &r.to))?;
        Ok(Response::new(proto::CopyReply { bytes }))
    }

    async fn snapshot(&self, req: Request<proto::SnapshotRequest>) -> Reply<proto::SnapshotReply> {
        self.allow_whole_tree(&req, true, "a snapshot")?;
        let mut name = req.into_inner().name;
        if !name.is_empty() {
            io(memfs::check_snapshot_name(&name))?;
        }
        let snap = self.fs.snapshot();
        let generation = snap.generation();
        let mut map = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        if name.is_empty() {
            loop {
                let n = self.next_snapshot.fetch_add(1, Ordering::Relaxed);
                name = format!("snap-{n}");
                if !map.contains_key(&name) {
                    break;
                }
            }
        }
        map.insert(name.clone(), snap);
        Ok(Response::new(proto::SnapshotReply { name, generation }))
    }

    async fn restore(&self, req: Request<proto::RestoreRequest>) -> Reply<proto::Empty> {
        self.allow_whole_tree(&req, true, "restore")?;
        let name = req.into_inner().name;
        let snap = self
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&name)
            .cloned();
        match snap {
            Some(s) => match self.fs.restore(&s) {
                Ok(()) => Ok(Response::new(proto::Empty {})),
                Err(e) => Err(status_of_io(&e)),
            },
            None => Err(status_of_io(&memfs::error::not_found(format!(
                "snapshot {name}"
            )))),
        }
    }

    async fn list_snapshots(&self, _req: Request<proto::Empty>) -> Reply<proto::SnapshotList> {
        let map = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Response::new(proto::SnapshotList {
            names: map.keys().cloned().collect(),
            usage: map.values().map(|s| usage_of(s.stats())).collect(),
        }))
    }

    async fn drop_snapshot(&self, req: Request<proto::RestoreRequest>) -> Reply<proto::Empty> {
        self.allow_whole_tree(&req, true, "deleting a snapshot")?;
        let name = req.into_inner().name;
        let removed = self
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        match removed {
            Some(_) => Ok(Response::new(proto::Empty {})),
            None => Err(status_of_io(&memfs::error::not_found(format!(
                "snapshot {name}"
            )))),
        }
    }

    async fn symlink(&self, req: Request<proto::SymlinkRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().link])?;
        let r = req.into_inner();
        io(self.fs.symlink(&r.target, &r.link))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn chown(&self, req: Request<proto::ChownRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        let r = req.into_inner();
        io(if r.no_follow {
            self.fs.lchown(&r.path, r.uid, r.gid)
        } else {
            self.fs.chown(&r.path, r.uid, r.gid)
        })?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn mknod(&self, req: Request<proto::MknodRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        let r = req.into_inner();
        let Some(kind) = file_type_of(r.kind).filter(FileType::is_special) else {
            return Err(Status::invalid_argument(format!(
                "mknod makes FIFOs, sockets and device nodes, not node kind {}",
                r.kind
            )));
        };
        io(self.fs.mknod(&r.path, kind, r.mode, r.rdev))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn read_link(&self, req: Request<proto::PathRequest>) -> Reply<proto::PathReply> {
        self.allow(&req, false, &[&req.get_ref().path])?;
        let path = io(self.fs.read_link(req.into_inner().path))?;
        Ok(Response::new(proto::PathReply { path }))
    }

    async fn touch(&self, req: Request<proto::PathRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        io(self.fs.touch(req.into_inner().path))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn set_permissions(&self, req: Request<proto::ModeRequest>) -> Reply<proto::Empty> {
        self.allow(&req, true, &[&req.get_ref().path])?;
        let r = req.into_inner();
        io(self.fs.set_permissions(&r.path, r.mode))?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn stats(&self, _req: Request<proto::Empty>) -> Reply<proto::Usage> {
        Ok(Response::new(usage_of(self.fs.stats())))
    }

    type WalkStream = Pin<Box<dyn Stream<Item = Result<proto::WalkBatch, Status>> + Send>>;

    async fn walk(&self, req: Request<proto::PathRequest>) -> Reply<Self::WalkStream> {
        self.allow(&req, false, &[&req.get_ref().path])?;
        let top = req.into_inner().path;
        let snap = self.fs.snapshot();
        // Errors about the top itself come back as the call's status.
        let first = io(snap.read_dir(&top))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut batch = Vec::new();
            let mut stack: Vec<std::vec::IntoIter<memfs::DirEntry>> = vec![first.into_iter()];
            while let Some(top) = stack.last_mut() {
                let Some(entry) = top.next() else {
                    stack.pop();
                    continue;
                };
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(status_of_io(&e)));
                        return;
                    }
                };
                if meta.is_dir() {
                    match snap.read_dir(entry.path()) {
                        Ok(children) => stack.push(children.into_iter()),
                        Err(e) => {
                            let _ = tx.blocking_send(Err(status_of_io(&e)));
                            return;
                        }
                    }
                }
                batch.push(proto::DirEntry {
                    name: entry.file_name(),
                    path: entry.path(),
                    stat: Some(stat_of(&meta)),
                    lists_as_dir: entry.lists_as_dir(),
                });
                if batch.len() == WALK_BATCH {
                    let entries = std::mem::take(&mut batch);
                    if tx.blocking_send(Ok(proto::WalkBatch { entries })).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(proto::WalkBatch { entries: batch }));
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type DiffStream = Pin<Box<dyn Stream<Item = Result<proto::DiffBatch, Status>> + Send>>;

    async fn diff(&self, req: Request<proto::DiffRequest>) -> Reply<Self::DiffStream> {
        self.allow_whole_tree(&req, false, "a diff")?;
        let r = req.into_inner();
        let named = |name: &str| {
            self.snapshots
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .cloned()
                .ok_or_else(|| status_of_io(&memfs::error::not_found(format!("snapshot {name:?}"))))
        };
        let older = named(&r.from)?;
        let newer = match &r.to {
            Some(to) => named(to)?,
            None => self.fs.snapshot(),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            for chunk in older.diff(&newer).chunks(WALK_BATCH) {
                let changes = chunk
                    .iter()
                    .map(|c| proto::Change {
                        path: c.path.clone(),
                        kind: change_kind_to_proto(c.kind) as i32,
                    })
                    .collect();
                if tx.blocking_send(Ok(proto::DiffBatch { changes })).is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<proto::WatchEvent, Status>> + Send>>;

    async fn watch(&self, req: Request<proto::WatchRequest>) -> Reply<Self::WatchStream> {
        self.allow(&req, false, &[&req.get_ref().prefix])?;
        let mut watcher = io(self.fs.watch(req.into_inner().prefix))?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        // One blocking thread per watch; it ends when the client goes away (the next send
        // fails, checked at least once a second) or the filesystem is dropped.
        tokio::task::spawn_blocking(move || loop {
            match watcher.recv_timeout(std::time::Duration::from_secs(1)) {
                Some(e) => {
                    let event = proto::WatchEvent {
                        generation: e.generation,
                        path: e.path,
                        kind: change_kind_to_proto(e.kind) as i32,
                    };
                    if tx.blocking_send(Ok(event)).is_err() {
                        return;
                    }
                }
                None if tx.is_closed() => return,
                None => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// `memfs::ChangeKind` on the wire.
pub(crate) fn change_kind_to_proto(kind: memfs::ChangeKind) -> proto::ChangeKind {
    match kind {
        memfs::ChangeKind::Added => proto::ChangeKind::Added,
        memfs::ChangeKind::Removed => proto::ChangeKind::Removed,
        memfs::ChangeKind::Modified => proto::ChangeKind::Modified,
        memfs::ChangeKind::TypeChanged => proto::ChangeKind::TypeChanged,
        memfs::ChangeKind::Overflow => proto::ChangeKind::Overflow,
    }
}

/// The inverse of [`change_kind_to_proto`].
pub(crate) fn change_kind_of_proto(kind: proto::ChangeKind) -> memfs::ChangeKind {
    match kind {
        proto::ChangeKind::Added => memfs::ChangeKind::Added,
        proto::ChangeKind::Removed => memfs::ChangeKind::Removed,
        proto::ChangeKind::Modified => memfs::ChangeKind::Modified,
        proto::ChangeKind::TypeChanged => memfs::ChangeKind::TypeChanged,
        proto::ChangeKind::Overflow => memfs::ChangeKind::Overflow,
    }
}
