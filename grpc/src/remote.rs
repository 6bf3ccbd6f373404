//! `RemoteFs`: a blocking client of `memfs.v1.FileSystem` with the shape of `MemFs` (read,
//! write, append, create_dir(_all), read_dir, metadata, remove_*, rename, copy, symlink,
//! read_link, touch, set_permissions, exists, stats, walk, snapshot, restore). Errors come back as `io::Error`s of the kind the server's `MemFs` gave (see
//! `status`). Contents larger than one chunk travel as streams. It owns only the client side.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio_stream::StreamExt;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic::Request;

use super::auth;
use super::component::{endpoint_tls, normalize_url};
use super::proto::{self, file_system_client::FileSystemClient};
use super::runtime::{self, block_on};
use super::status::io_of_status;
use super::ClientTls;
use super::{DEFAULT_MAX_MESSAGE_SIZE, STREAM_CHUNK_SIZE};
use memfs::error;
use memfs::{DirEntry, FileType, Metadata, Stats};

/// A filesystem served by an `FsServer`, used through blocking calls. Cheap to clone: clones
/// share one HTTP/2 connection, and can be used from many threads at once.
#[derive(Clone, Debug)]
pub struct RemoteFs {
    url: String,
    channel: Channel,
    token: Option<MetadataValue<Ascii>>,
    max_message_size: usize,
    chunk_size: usize,
    /// Whether a client certificate is presented (for the hint on a refused connection).
    client_cert: bool,
}

fn path_str(p: &Path) -> io::Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| error::invalid_input(format!("path is not UTF-8: {}", p.display())))
}

/// A timestamp from the server; a missing or out-of-range one is the epoch.
fn system_time(t: Option<proto::Timestamp>) -> SystemTime {
    t.and_then(|t| memfs::time::from_unix(t.seconds, t.nanos))
        .unwrap_or(UNIX_EPOCH)
}

fn metadata_of(s: proto::Stat) -> io::Result<Metadata> {
    let Some(file_type) = crate::fs_server::file_type_of(s.kind) else {
        return Err(error::invalid_data(format!(
            "server sent an unknown node kind {}",
            s.kind
        )));
    };
    Ok(Metadata::new(file_type, s.len, s.mode, s.ino)
        .with_times(
            system_time(s.created),
            system_time(s.modified),
            system_time(s.accessed),
            system_time(s.changed),
        )
        .with_rdev(s.rdev)
        .with_owner(s.uid, s.gid)
        .with_nlink(s.nlink.max(1)))
}

fn dir_entry_of(e: proto::DirEntry) -> io::Result<DirEntry> {
    let stat = e
        .stat
        .ok_or_else(|| error::invalid_data("server sent an entry without stat"))?;
    Ok(DirEntry::new(
        e.name,
        e.path,
        metadata_of(stat)?,
        e.lists_as_dir,
    ))
}

fn stats_of(u: proto::Usage) -> Stats {
    Stats {
        files: u.files,
        dirs: u.dirs,
        symlinks: u.symlinks,
        specials: u.specials,
        logical_bytes: u.logical_bytes,
        stored_bytes: u.stored_bytes,
        blobs: u.blobs,
        live_bytes: u.live_bytes,
        limits: memfs::Limits {
            max_bytes: u.max_bytes,
            max_inodes: u.max_inodes,
        },
    }
}

impl RemoteFs {
    /// Connects to the server at `url` (`http://host:port` or `host:port`), sending `token` as
    /// `authorization: Bearer <token>` with every call. Fails with `ConnectionRefused` when
    /// nothing answers within 5 s. (The token is checked by the first call, not here.)
    pub fn connect(url: &str, token: Option<&str>) -> io::Result<Self> {
        Self::connect_tls(url, token, &ClientTls::default())
    }

    /// Like [`RemoteFs::connect`], with `tls` for an `https://` URL: the CAs to trust (the
    /// system's roots by default) and a client certificate for mutual TLS. A server whose
    /// certificate does not verify, or that refuses ours, fails here or on the first call
    /// with an error saying so.
    pub fn connect_tls(url: &str, token: Option<&str>, tls: &ClientTls) -> io::Result<Self> {
        let endpoint = endpoint_tls(url, Duration::from_secs(5), tls)?;
        let channel = block_on(endpoint.connect())?.map_err(|e| {
            error::err(
                io::ErrorKind::ConnectionRefused,
                format!("cannot connect to {url}: {}", runtime::error_chain(&e)),
            )
        })?;
        Ok(RemoteFs {
            url: normalize_url(url),
            channel,
            token: token.map(auth::bearer).transpose()?,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            chunk_size: STREAM_CHUNK_SIZE,
            client_cert: tls.has_identity(),
        })
    }

    /// The largest message this client sends or accepts (default 64 MiB).
    pub fn with_max_message_size(mut self, limit: usize) -> Self {
        self.max_message_size = limit.max(1024);
        self
    }

    /// The size of the chunks writes are cut into and reads are asked in (default 1 MiB).
    pub fn with_chunk_size(mut self, size: usize) -> Self {
        self.chunk_size = size.clamp(512, u32::MAX as usize);
        self
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn client(&self) -> FileSystemClient<Channel> {
        FileSystemClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message_size)
            .max_encoding_message_size(self.max_message_size)
    }

    fn req<T>(&self, msg: T) -> Request<T> {
        auth::authorize(Request::new(msg), &self.token)
    }

    /// Runs one unary call and maps its status.
    /// The `io::Error` for a failed call; a connection the transport refused (a TLS
    /// handshake, or plain HTTP/2 against a TLS port) says what to try.
    fn status_error(&self, s: &tonic::Status) -> io::Error {
        let e = io_of_status(s);
        let m = s.message();
        // How a connection the peer cut (a failed handshake) surfaces, depending on timing.
        let cut = m.contains("transport error")
            || m.contains("h2 protocol error")
            || (s.code() == tonic::Code::Cancelled && m.contains("operation was canceled"))
            || (s.code() == tonic::Code::Unavailable && m.contains("connection"));
        if !cut {
            return e;
        }
        let hint = if !self.url.starts_with("https://") {
            "the connection failed: if the server uses TLS, connect to https://"
        } else if !self.client_cert {
            "the TLS connection failed: if the server requires client certificates (mutual \
             TLS), present one (--tls-cert and --tls-key)"
        } else {
            "the TLS connection failed: the server may not accept this client certificate"
        };
        error::err(e.kind(), format!("{e} ({hint})"))
    }

    fn call<T, F, Fut>(&self, f: F) -> io::Result<T>
    where
        T: Send,
        F: FnOnce(FileSystemClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send,
    {
        block_on(f(self.client()))?
            .map(tonic::Response::into_inner)
            .map_err(|s| self.status_error(&s))
    }

    /// Metadata of `p`, following symlinks.
    pub fn metadata(&self, p: impl AsRef<Path>) -> io::Result<Metadata> {
        let req = self.req(proto::StatRequest {
            path: path_str(p.as_ref())?,
            no_follow: false,
        });
        metadata_of(self.call(|mut c| async move { c.stat(req).await })?)
    }

    /// Metadata of `p` itself (a final symlink is not followed).
    pub fn symlink_metadata(&self, p: impl AsRef<Path>) -> io::Result<Metadata> {
        let req = self.req(proto::StatRequest {
            path: path_str(p.as_ref())?,
            no_follow: true,
        });
        metadata_of(self.call(|mut c| async move { c.stat(req).await })?)
    }

    /// Whether `p` exists. Errors other than "not found" (connection lost...) say `false` too;
    /// use `metadata` to tell them apart.
    pub fn exists(&self, p: impl AsRef<Path>) -> bool {
        self.metadata(p).is_ok()
    }

    /// Whether `p` is a regular file.
    pub fn isfile(&self, p: impl AsRef<Path>) -> bool {
        self.metadata(p).is_ok_and(|m| m.is_file())
    }

    /// Whether `p` is a directory.
    pub fn isdir(&self, p: impl AsRef<Path>) -> bool {
        self.metadata(p).is_ok_and(|m| m.is_dir())
    }

    /// The whole content of a file, received as a stream of chunks.
    pub fn read(&self, p: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let req = self.req(proto::ReadRequest {
            path: path_str(p.as_ref())?,
            chunk_size: self.chunk_size as u32,
        });
        let mut client = self.client();
        block_on(async move {
            let mut stream = client.read(req).await?.into_inner();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if out.is_empty() && chunk.total_len > 0 {
                    // Allocate once (trusting the server's word for at most 256 MiB).
                    out.reserve_exact(chunk.total_len.min(super::MAX_SIZE_HINT) as usize);
                }
                out.extend_from_slice(&chunk.data);
            }
            Ok(out)
        })?
        .map_err(|s: tonic::Status| self.status_error(&s))
    }

    /// The content of a file as UTF-8 (`InvalidData` if it is not).
    pub fn read_to_string(&self, p: impl AsRef<Path>) -> io::Result<String> {
        String::from_utf8(self.read(p)?)
            .map_err(|_| error::invalid_data("stream did not contain valid UTF-8"))
    }

    fn send(&self, p: &Path, data: &[u8], append: bool) -> io::Result<u64> {
        let path = path_str(p)?;
        let data = Bytes::copy_from_slice(data);
        let chunk = self.chunk_size;
        // Always at least one message: it names the file (an empty write truncates).
        let starts: Vec<usize> = if data.is_empty() {
            vec![0]
        } else {
            (0..data.len()).step_by(chunk).collect()
        };
        let total_len = data.len() as u64;
        let messages = starts.into_iter().map(move |start| proto::WriteRequest {
            total_len: if start == 0 { total_len } else { 0 },
            path: if start == 0 {
                path.clone()
            } else {
                String::new()
            },
            append,
            data: data.slice(start..(start + chunk).min(data.len())),
        });
        let req = self.req(tokio_stream::iter(messages));
        let reply = self.call(|mut c| async move { c.write(req).await })?;
        Ok(reply.written)
    }

    /// Replaces (or creates) a file with `data`, streamed in chunks; the server publishes it in
    /// one piece when the stream ends.
    pub fn write(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.send(p.as_ref(), data.as_ref(), false).map(drop)
    }

    /// Appends `data` to a file (created if missing).
    pub fn append(&self, p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> io::Result<()> {
        self.send(p.as_ref(), data.as_ref(), true).map(drop)
    }

    fn mkdir(&self, p: &Path, parents: bool) -> io::Result<()> {
        let req = self.req(proto::MkdirRequest {
            path: path_str(p)?,
            parents,
        });
        self.call(|mut c| async move { c.mkdir(req).await })
            .map(drop)
    }

    /// Creates a directory; its parent must exist.
    pub fn create_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.mkdir(p.as_ref(), false)
    }

    /// Creates a directory and its missing parents.
    pub fn create_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.mkdir(p.as_ref(), true)
    }

    /// The entries of a directory, sorted by name.
    pub fn read_dir(&self, p: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
        let req = self.req(proto::PathRequest {
            path: path_str(p.as_ref())?,
        });
        let reply = self.call(|mut c| async move { c.list(req).await })?;
        reply.entries.into_iter().map(dir_entry_of).collect()
    }

    /// The names in a directory, sorted.
    pub fn listdir(&self, p: impl AsRef<Path>) -> io::Result<Vec<String>> {
        Ok(self
            .read_dir(p)?
            .into_iter()
            .map(|e| e.file_name())
            .collect())
    }

    fn remove(&self, p: &Path, kind: proto::RemoveKind) -> io::Result<()> {
        let req = self.req(proto::RemoveRequest {
            path: path_str(p)?,
            kind: kind as i32,
        });
        self.call(|mut c| async move { c.remove(req).await })
            .map(drop)
    }

    /// Removes a file (or symlink).
    pub fn remove_file(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove(p.as_ref(), proto::RemoveKind::File)
    }

    /// Removes an empty directory.
    pub fn remove_dir(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove(p.as_ref(), proto::RemoveKind::EmptyDir)
    }

    /// Removes a directory and everything under it.
    pub fn remove_dir_all(&self, p: impl AsRef<Path>) -> io::Result<()> {
        self.remove(p.as_ref(), proto::RemoveKind::Tree)
    }

    /// Renames `from` to `to` (atomically, on the server).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let req = self.req(proto::RenameRequest {
            from: path_str(from.as_ref())?,
            to: path_str(to.as_ref())?,
        });
        self.call(|mut c| async move { c.rename(req).await })
            .map(drop)
    }

    /// Makes `link` a new name of the node at `original` on the server (`MemFs::hard_link`).
    pub fn hard_link(&self, original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let req = self.req(proto::RenameRequest {
            from: path_str(original.as_ref())?,
            to: path_str(link.as_ref())?,
        });
        self.call(|mut c| async move { c.link(req).await })
            .map(drop)
    }

    /// Copies a file on the server (the bytes are shared there, not sent); returns its length.
    pub fn copy(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
        let req = self.req(proto::RenameRequest {
            from: path_str(from.as_ref())?,
            to: path_str(to.as_ref())?,
        });
        Ok(self.call(|mut c| async move { c.copy(req).await })?.bytes)
    }

    /// Takes a snapshot on the server, kept under `name` (or a name the server picks, e.g.
    /// `snap-1`, when `None`); returns the name. An existing name is replaced.
    pub fn snapshot(&self, name: Option<&str>) -> io::Result<String> {
        let req = self.req(proto::SnapshotRequest {
            name: name.unwrap_or_default().to_owned(),
        });
        Ok(self
            .call(|mut c| async move { c.snapshot(req).await })?
            .name)
    }

    /// Makes the server's filesystem what snapshot `name` shows (`NotFound` if unknown).
    pub fn restore(&self, name: &str) -> io::Result<()> {
        let req = self.req(proto::RestoreRequest {
            name: name.to_owned(),
        });
        self.call(|mut c| async move { c.restore(req).await })
            .map(drop)
    }

    /// What changed from the server's snapshot `from` to its snapshot `to` (`None`: the live
    /// tree), sorted by path (`Snapshot::diff` on the server).
    pub fn diff(&self, from: &str, to: Option<&str>) -> io::Result<Vec<memfs::Change>> {
        let req = self.req(proto::DiffRequest {
            from: from.to_owned(),
            to: to.map(str::to_owned),
        });
        let mut client = self.client();
        let changes = block_on(async move {
            let mut stream = client.diff(req).await?.into_inner();
            let mut out = Vec::new();
            while let Some(batch) = stream.next().await {
                out.extend(batch?.changes);
            }
            Ok(out)
        })?
        .map_err(|s: tonic::Status| self.status_error(&s))?;
        changes
            .into_iter()
            .map(|c| {
                Ok(memfs::Change {
                    path: c.path,
                    kind: change_kind_of_wire(c.kind)?,
                })
            })
            .collect()
    }

    /// Watches `prefix` on the server (`MemFs::watch` there): the events, as they come, until
    /// the server ends the stream (it stops) or the iterator is dropped. The first call's
    /// errors (a missing prefix, a refused token) come back here; later ones as `Err` items.
    pub fn watch(
        &self,
        prefix: &str,
    ) -> io::Result<impl Iterator<Item = io::Result<memfs::Event>>> {
        let req = self.req(proto::WatchRequest {
            prefix: prefix.to_owned(),
        });
        let mut client = self.client();
        let mut stream = block_on(async move { client.watch(req).await })?
            .map_err(|s| self.status_error(&s))?
            .into_inner();
        let (tx, rx) = std::sync::mpsc::sync_channel(256);
        std::thread::spawn(move || {
            let _ = block_on(async move {
                while let Some(e) = stream.next().await {
                    let item = e.map_err(|s| io_of_status(&s)).and_then(|e| {
                        Ok(memfs::Event {
                            generation: e.generation,
                            path: e.path,
                            kind: change_kind_of_wire(e.kind)?,
                        })
                    });
                    if tx.send(item).is_err() {
                        return;
                    }
                }
            });
        });
        Ok(rx.into_iter())
    }

    /// The names of the snapshots the server keeps, sorted.
    pub fn list_snapshots(&self) -> io::Result<Vec<String>> {
        let req = self.req(proto::Empty {});
        Ok(self
            .call(|mut c| async move { c.list_snapshots(req).await })?
            .names)
    }

    /// Forgets snapshot `name` on the server (`NotFound` if unknown).
    pub fn drop_snapshot(&self, name: &str) -> io::Result<()> {
        let req = self.req(proto::RestoreRequest {
            name: name.to_owned(),
        });
        self.call(|mut c| async move { c.drop_snapshot(req).await })
            .map(drop)
    }

    /// Creates a symbolic link `link` pointing to `target`.
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let req = self.req(proto::SymlinkRequest {
            target: path_str(target.as_ref())?,
            link: path_str(link.as_ref())?,
        });
        self.call(|mut c| async move { c.symlink(req).await })
            .map(drop)
    }

    /// Changes owner and/or group, following a final symlink (`MemFs::chown`).
    pub fn chown(&self, p: impl AsRef<Path>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        self.chown_with(p.as_ref(), uid, gid, false)
    }

    /// [`RemoteFs::chown`] of a symlink itself.
    pub fn lchown(
        &self,
        p: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        self.chown_with(p.as_ref(), uid, gid, true)
    }

    fn chown_with(
        &self,
        p: &Path,
        uid: Option<u32>,
        gid: Option<u32>,
        no_follow: bool,
    ) -> io::Result<()> {
        let req = self.req(proto::ChownRequest {
            path: path_str(p)?,
            uid,
            gid,
            no_follow,
        });
        self.call(|mut c| async move { c.chown(req).await })
            .map(drop)
    }

    /// Creates a FIFO, socket or device node (`MemFs::mknod`).
    pub fn mknod(
        &self,
        p: impl AsRef<Path>,
        kind: FileType,
        mode: u32,
        rdev: u64,
    ) -> io::Result<()> {
        if !kind.is_special() {
            return Err(error::invalid_input(format!(
                "mknod makes FIFOs, sockets and device nodes, not {kind:?}"
            )));
        }
        let kind = crate::fs_server::node_kind(kind);
        let req = self.req(proto::MknodRequest {
            path: path_str(p.as_ref())?,
            kind: kind as i32,
            mode,
            rdev,
        });
        self.call(|mut c| async move { c.mknod(req).await })
            .map(drop)
    }

    /// Creates a FIFO (`MemFs::mkfifo`).
    pub fn mkfifo(&self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        self.mknod(p, FileType::Fifo, mode, 0)
    }

    /// The target of a symbolic link.
    pub fn read_link(&self, p: impl AsRef<Path>) -> io::Result<String> {
        let req = self.req(proto::PathRequest {
            path: path_str(p.as_ref())?,
        });
        Ok(self
            .call(|mut c| async move { c.read_link(req).await })?
            .path)
    }

    /// Creates an empty file if missing, else sets its modification time to now (`touch`).
    pub fn touch(&self, p: impl AsRef<Path>) -> io::Result<()> {
        let req = self.req(proto::PathRequest {
            path: path_str(p.as_ref())?,
        });
        self.call(|mut c| async move { c.touch(req).await })
            .map(drop)
    }

    /// Sets the permission bits (`0o644`, ...).
    pub fn set_permissions(&self, p: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let req = self.req(proto::ModeRequest {
            path: path_str(p.as_ref())?,
            mode,
        });
        self.call(|mut c| async move { c.set_permissions(req).await })
            .map(drop)
    }

    /// The server filesystem's counts (`MemFs::stats`).
    pub fn stats(&self) -> io::Result<Stats> {
        let req = self.req(proto::Empty {});
        Ok(stats_of(
            self.call(|mut c| async move { c.stats(req).await })?,
        ))
    }

    /// The server's snapshots with their counts, sorted by name.
    pub fn snapshot_stats(&self) -> io::Result<Vec<(String, Stats)>> {
        let req = self.req(proto::Empty {});
        let list = self.call(|mut c| async move { c.list_snapshots(req).await })?;
        if list.usage.len() != list.names.len() {
            return Err(error::invalid_data(
                "server sent snapshot counts that do not match",
            ));
        }
        Ok(list
            .names
            .into_iter()
            .zip(list.usage.into_iter().map(stats_of))
            .collect())
    }

    /// Everything under directory `top` (not `top` itself), depth first, a directory before
    /// its contents, names sorted; from one version of the server's tree. Symlinks are listed,
    /// not followed. One streamed call, however large the tree.
    pub fn walk_entries(&self, top: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
        let req = self.req(proto::PathRequest {
            path: path_str(top.as_ref())?,
        });
        let mut client = self.client();
        let entries = block_on(async move {
            let mut stream = client.walk(req).await?.into_inner();
            let mut out = Vec::new();
            while let Some(batch) = stream.next().await {
                out.extend(batch?.entries);
            }
            Ok(out)
        })?
        .map_err(|s: tonic::Status| self.status_error(&s))?;
        entries.into_iter().map(dir_entry_of).collect()
    }

    /// `os.walk(top)`: for each directory under `top` (itself included), its path, its
    /// subdirectories' names and its other entries' names, top-down. Built from one
    /// `walk_entries` call.
    #[allow(clippy::type_complexity)]
    pub fn walk(
        &self,
        top: impl AsRef<Path>,
    ) -> io::Result<Vec<(String, Vec<String>, Vec<String>)>> {
        let top = path_str(top.as_ref())?;
        let top = if top.len() > 1 {
            top.trim_end_matches('/').to_owned()
        } else {
            top
        };
        let entries = self.walk_entries(&top)?;
        let mut order = vec![top.clone()];
        let mut by_dir: std::collections::HashMap<String, (Vec<String>, Vec<String>)> =
            std::collections::HashMap::new();
        by_dir.insert(top, Default::default());
        for e in entries {
            let path = e.path();
            let parent = match path.rfind('/') {
                Some(0) => "/".to_owned(),
                Some(i) => path[..i].to_owned(),
                None => continue,
            };
            // Only real directories are descended into (their entries follow in the stream);
            // a symlink to one is listed among the dirnames, as every memfs walk does.
            if e.file_type()?.is_dir() {
                order.push(path.clone());
                by_dir.insert(path, Default::default());
            }
            if let Some((dirs, files)) = by_dir.get_mut(&parent) {
                if e.lists_as_dir() {
                    dirs.push(e.file_name());
                } else {
                    files.push(e.file_name());
                }
            }
        }
        Ok(order
            .into_iter()
            .map(|d| {
                let (dirs, files) = by_dir.remove(&d).unwrap_or_default();
                (d, dirs, files)
            })
            .collect())
    }
}

/// A change kind as the server sent it (the proto enum's number).
fn change_kind_of_wire(kind: i32) -> io::Result<memfs::ChangeKind> {
    proto::ChangeKind::try_from(kind)
        .map(crate::fs_server::change_kind_of_proto)
        .map_err(|_| error::invalid_data("server sent an unknown change kind"))
}
