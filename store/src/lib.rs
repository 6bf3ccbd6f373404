//! memfs snapshots in object storage: push a snapshot's objects to S3 (or an S3-compatible
//! server, GCS, Azure, a local directory), pull them into another filesystem, and name
//! snapshots with refs that two concurrent pushes cannot both update.
//!
//! What is stored where, under the URL's prefix (the objects are those of
//! [`memfs::persist::objects`], each named by the blake3 hash of its bytes):
//!
//! ```text
//! PREFIX/chunks/HEX       file bytes (one 64 KiB chunk of a large file, or a small file whole)
//! PREFIX/dirs/HEX         one directory: its entries, their metadata, the chunks they name
//! PREFIX/refs/NAME/SEQ    one version of the named snapshot NAME (JSON: root, parent, sizes);
//!                         SEQ is 20 digits, the highest is the current version
//! ```
//!
//! Immutable objects are written before anything names them: a directory only after every
//! chunk and subdirectory it names, a ref last. So a push interrupted at any point leaves a
//! valid store, and a directory present in the store stands for its whole subtree: a push asks
//! for the root and goes down only into what is missing, so an unchanged subtree costs one
//! request. A ref version is created with a create-only conditional put (`If-None-Match: *`
//! on S3): of two pushes that read the same current version, one creates the next and the
//! other fails with [`Conflict`] naming the ref, and no accepted push is ever lost.
//!
//! Every object fetched is checked against its name; a missing, truncated or altered object is
//! an `InvalidData` error naming it. Transfers run `concurrency` requests at a time (default
//! 16); the HTTP stores retry transient failures with exponential backoff ([`RetryConfig`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::{self, StreamExt, TryStreamExt};
use memfs::persist::objects::{self, hex, ObjectId};
use memfs::{MemFs, Snapshot};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

pub use object_store::{BackoffConfig, RetryConfig};

/// Requests in flight at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How to reach a store (beyond its URL).
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries of transient failures (HTTP stores).
    pub retry: RetryConfig,
    /// Store settings by `object_store`'s names, over what the environment says (for S3:
    /// `aws_endpoint`, `aws_allow_http`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_region`, ...; for GCS `google_*`, for Azure `azure_*`).
    pub config: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: DEFAULT_CONCURRENCY,
            retry: RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 8,
                retry_timeout: Duration::from_secs(60),
            },
            config: Vec::new(),
        }
    }
}

/// One object store and prefix holding memfs snapshots.
#[derive(Clone)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    concurrency: usize,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

/// A push that lost the race for a ref: another push created the version it meant to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The ref's name.
    pub name: String,
    /// The version both pushes meant to create.
    pub seq: u64,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ref {:?}: another push created version {} first (conflict); pull or push again",
            self.name, self.seq
        )
    }
}

impl std::error::Error for Conflict {}

/// The `Conflict` inside an error from [`Remote::push`], if that is what it is.
pub fn conflict_of(e: &io::Error) -> Option<&Conflict> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Conflict>())
}

/// One version of a named snapshot in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefInfo {
    /// The ref's name.
    pub name: String,
    /// Its version: 1 for the first push, then one more per push.
    pub seq: u64,
    /// The root directory object.
    pub root: ObjectId,
    /// The root directory's own metadata, encoded (`TreeObjects::root_meta`).
    pub root_meta: Vec<u8>,
    /// The root of the version before (none for the first).
    pub parent: Option<ObjectId>,
    /// Regular files in the snapshot.
    pub files: u64,
    /// Sum of the files' lengths.
    pub file_bytes: u64,
    /// Bytes of all its distinct objects.
    pub object_bytes: u64,
    /// When it was pushed (seconds since the Unix epoch).
    pub pushed_at: u64,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The version created.
    pub seq: u64,
    /// Objects uploaded, and their bytes.
    pub uploaded_objects: u64,
    pub uploaded_bytes: u64,
    /// Objects the snapshot has (distinct), and their bytes.
    pub total_objects: u64,
    pub total_bytes: u64,
}

/// What a pull fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The version pulled.
    pub info: RefInfo,
    /// Objects fetched, and their bytes.
    pub fetched_objects: u64,
    pub fetched_bytes: u64,
}

/// Progress of a transfer: what [`Remote::push`] and [`Remote::pull`] report as they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes moved so far.
    pub bytes: u64,
    /// Bytes to move in all (as known so far: a pull learns it as it reads directories).
    pub total: u64,
}

/// Reports progress; `&|_| {}` for none.
pub type OnProgress<'a> = &'a (dyn Fn(Progress) + Send + Sync);

fn err(kind: io::ErrorKind, msg: impl Into<String>) -> io::Error {
    io::Error::new(kind, msg.into())
}

/// An object store error as an `io::Error` naming what was asked.
fn store_err(what: &str, e: object_store::Error) -> io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            io::ErrorKind::Unsupported
        }
        _ => io::ErrorKind::Other,
    };
    err(kind, format!("{what}: {e}"))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Remote {
    /// Opens the store a URL names: `s3://BUCKET/PREFIX` (credentials, region and endpoint from
    /// the standard `AWS_*` variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT` for MinIO and other servers, `AWS_ALLOW_HTTP=true` for a
    /// plain-HTTP one), `gs://BUCKET/PREFIX` (`GOOGLE_*`), `az://CONTAINER/PREFIX` (`AZURE_*`),
    /// `file:///DIR` (a local directory, created if missing) or `memory://` (this process
    /// only, for tests).
    pub fn open(url: &str) -> io::Result<Remote> {
        Self::open_with(url, Options::default())
    }

    /// [`open`](Remote::open) with explicit options.
    pub fn open_with(url: &str, options: Options) -> io::Result<Remote> {
        let bad = |why: String| err(io::ErrorKind::InvalidInput, format!("{url}: {why}"));
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let prefix_of =
            |u: &url::Url| Path::parse(u.path().trim_matches('/')).map_err(|e| bad(e.to_string()));
        // A cloud store: its builder from the standard environment variables, then the
        // options' settings (by `object_store`'s names), the URL and the retry policy.
        #[allow(unused_macros)] // without any cloud store feature
        macro_rules! cloud {
            ($builder:ty) => {{
                let store = configured(<$builder>::from_env(), &options.config, |b, k, v| {
                    Ok(b.with_config(k.parse()?, v))
                })
                .map_err(|e| store_err(url, e))?
                .with_url(url)
                .with_retry(options.retry.clone())
                .build()
                .map_err(|e| store_err(url, e))?;
                (Arc::new(store) as Arc<dyn ObjectStore>, prefix_of(&parsed)?)
            }};
        }
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| bad("not a local path".into()))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| err(e.kind(), format!("{}: {e}", dir.display())))?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| store_err(url, e))?;
                (Arc::new(local), Path::default())
            }
            "memory" => (
                Arc::new(object_store::memory::InMemory::new()),
                prefix_of(&parsed)?,
            ),
            #[cfg(feature = "aws")]
            "s3" | "s3a" => cloud!(object_store::aws::AmazonS3Builder),
            #[cfg(feature = "gcp")]
            "gs" => cloud!(object_store::gcp::GoogleCloudStorageBuilder),
            #[cfg(feature = "azure")]
            "az" | "azure" | "abfs" | "abfss" => cloud!(object_store::azure::MicrosoftAzureBuilder),
            other => {
                return Err(bad(format!(
                    "unsupported scheme {other:?} (s3, gs, az, file, memory)"
                )))
            }
        };
        Ok(Remote {
            store,
            prefix,
            url: url.to_owned(),
            concurrency: options.concurrency.max(1),
        })
    }

    /// A remote over a store built by the caller (any `object_store` implementation).
    pub fn from_store(store: Arc<dyn ObjectStore>, prefix: &str, concurrency: usize) -> Remote {
        Remote {
            url: format!("{store}/{prefix}"),
            store,
            prefix: Path::from(prefix.trim_matches('/')),
            concurrency: concurrency.max(1),
        }
    }

    /// The object store underneath.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The URL this remote was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, parts: &[&str]) -> Path {
        let mut p = self.prefix.clone();
        for part in parts {
            p = p.join(*part);
        }
        p
    }

    fn chunk_path(&self, id: &ObjectId) -> Path {
        self.path(&["chunks", &hex(id)])
    }

    fn dir_path(&self, id: &ObjectId) -> Path {
        self.path(&["dirs", &hex(id)])
    }

    fn ref_path(&self, name: &str, seq: u64) -> Path {
        self.path(&["refs", name, &format!("{seq:020}")])
    }

    async fn exists(&self, path: &Path) -> io::Result<bool> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_err(&format!("HEAD {path}"), e)),
        }
    }

    async fn put(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| store_err(&format!("PUT {path}"), e))
    }

    /// Fetches an object; a missing one is `InvalidData` naming it (a store whose ref or
    /// directory names it must have it).
    async fn get(&self, kind: &str, path: &Path) -> io::Result<Vec<u8>> {
        let got = match self.store.get(path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(err(
                    io::ErrorKind::InvalidData,
                    format!("{kind} object {path} is missing from {}", self.url),
                ))
            }
            Err(e) => return Err(store_err(&format!("GET {path}"), e)),
        };
        got.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| store_err(&format!("GET {path}"), e))
    }

    /// The versions of ref `name`, lowest first.
    async fn versions(&self, name: &str) -> io::Result<Vec<u64>> {
        let prefix = self.path(&["refs", name]);
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| store_err(&format!("LIST {prefix}"), e))?;
        let mut seqs: Vec<u64> = metas
            .iter()
            .filter_map(|m| m.location.filename()?.parse().ok())
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The current version of ref `name`, if it exists.
    pub async fn get_ref(&self, name: &str) -> io::Result<Option<RefInfo>> {
        memfs::check_snapshot_name(name)?;
        match self.versions(name).await?.last() {
            None => Ok(None),
            Some(&seq) => self.ref_version(name, seq).await.map(Some),
        }
    }

    /// Version `seq` of ref `name`.
    pub async fn ref_version(&self, name: &str, seq: u64) -> io::Result<RefInfo> {
        let path = self.ref_path(name, seq);
        let bytes = self.get("ref", &path).await?;
        parse_ref(name, seq, &bytes).map_err(|why| {
            err(
                io::ErrorKind::InvalidData,
                format!("ref object {path} is corrupt: {why}"),
            )
        })
    }

    /// Every ref in the store, at its current version, by name.
    pub async fn list_refs(&self) -> io::Result<Vec<RefInfo>> {
        let prefix = self.path(&["refs"]);
        let metas: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| store_err(&format!("LIST {prefix}"), e))?;
        let mut latest: BTreeMap<String, u64> = BTreeMap::new();
        for m in &metas {
            let parts: Vec<_> = m
                .location
                .prefix_match(&prefix)
                .into_iter()
                .flatten()
                .collect();
            if let [name, seq] = parts.as_slice() {
                if let Ok(seq) = seq.as_ref().parse::<u64>() {
                    let e = latest.entry(name.as_ref().to_owned()).or_insert(seq);
                    *e = (*e).max(seq);
                }
            }
        }
        let mut out = Vec::with_capacity(latest.len());
        for (name, seq) in latest {
            out.push(self.ref_version(&name, seq).await?);
        }
        Ok(out)
    }

    /// Pushes `snap` as the next version of ref `name`: uploads the objects the store lacks,
    /// then creates the ref version. Fails with a [`Conflict`] (see [`conflict_of`]) if
    /// another push created that version first; nothing it uploaded is lost (the next push
    /// finds it there).
    pub async fn push(
        &self,
        snap: &Snapshot,
        name: &str,
        progress: OnProgress<'_>,
    ) -> io::Result<PushReport> {
        memfs::check_snapshot_name(name)?;
        let current = self.get_ref(name).await?;
        self.push_after(snap, name, current, progress).await
    }

    /// Pushes `snap` as the next version of ref `name` only if the ref's current version is
    /// still `base` (0: the ref must not exist yet), the version `snap` was made from: the
    /// compare-and-swap of a read-modify-write (open or pull version `base`, change it, push
    /// it back). Fails with a [`Conflict`] if another push moved the ref since, so its
    /// changes are never silently replaced by a tree that lacks them.
    pub async fn push_onto(
        &self,
        snap: &Snapshot,
        name: &str,
        base: u64,
        progress: OnProgress<'_>,
    ) -> io::Result<PushReport> {
        memfs::check_snapshot_name(name)?;
        let current = self.get_ref(name).await?;
        let now = current.as_ref().map_or(0, |r| r.seq);
        if now != base {
            return Err(io::Error::other(Conflict {
                name: name.to_owned(),
                seq: base + 1,
            }));
        }
        self.push_after(snap, name, current, progress).await
    }

    /// Of the chunks `wanted`, those the store lacks. A LIST of `chunks/` answers for up to a
    /// thousand objects a request, a HEAD for one: the listing is read while it has cost at
    /// most a quarter of the HEADs it replaces (so a push into a fresh or small store asks
    /// nothing per chunk), and whatever it did not settle is asked by HEAD, in parallel.
    async fn lacking_chunks(&self, wanted: Vec<ObjectId>) -> io::Result<Vec<ObjectId>> {
        if wanted.is_empty() {
            return Ok(wanted);
        }
        let budget = (wanted.len() / 4).max(1) * 1000;
        let wanted_set: HashSet<ObjectId> = wanted.iter().copied().collect();
        let mut present: HashSet<ObjectId> = HashSet::new();
        let mut complete = true;
        {
            let mut listing = self.store.list(Some(&self.path(&["chunks"])));
            let mut seen = 0usize;
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(|e| store_err("LIST chunks", e))?;
                let id = meta.location.filename().and_then(objects::parse_hex);
                if let Some(id) = id.filter(|id| wanted_set.contains(id)) {
                    present.insert(id);
                }
                seen += 1;
                if seen >= budget {
                    complete = false;
                    break;
                }
            }
        }
        let unknown = wanted.into_iter().filter(|id| !present.contains(id));
        if complete {
            return Ok(unknown.collect());
        }
        stream::iter(unknown)
            .map(|id| async move {
                Ok::<_, io::Error>((id, self.exists(&self.chunk_path(&id)).await?))
            })
            .buffer_unordered(self.concurrency)
            .try_filter_map(|(id, here)| async move { Ok((!here).then_some(id)) })
            .try_collect()
            .await
    }

    /// Pushes `snap` as the version after `current` (the ref's version read just before).
    async fn push_after(
        &self,
        snap: &Snapshot,
        name: &str,
        current: Option<RefInfo>,
        progress: OnProgress<'_>,
    ) -> io::Result<PushReport> {
        let seq = current.as_ref().map_or(1, |r| r.seq + 1);
        let objs = snap.objects()?;
        let root = objs.root();
        let mut report = PushReport {
            seq,
            total_objects: (objs.dir_count() + objs.chunk_count()) as u64,
            total_bytes: objs.total_bytes(),
            ..PushReport::default()
        };

        // Down from the root, only into directories the store lacks; levels[i] are the
        // missing directories at depth i.
        let mut levels: Vec<Vec<ObjectId>> = Vec::new();
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut frontier = vec![root];
        seen.insert(root);
        while !frontier.is_empty() {
            let present: Vec<(ObjectId, bool)> = stream::iter(frontier.iter().copied())
                .map(|id| async move {
                    Ok::<_, io::Error>((id, self.exists(&self.dir_path(&id)).await?))
                })
                .buffer_unordered(self.concurrency)
                .try_collect()
                .await?;
            let missing: Vec<ObjectId> = present
                .into_iter()
                .filter(|(_, here)| !here)
                .map(|(id, _)| id)
                .collect();
            let mut next = Vec::new();
            for id in &missing {
                let d = objs.dir(id).ok_or_else(|| unfetched(id, &self.url))?;
                for sub in &d.subdirs {
                    if seen.insert(*sub) {
                        next.push(*sub);
                    }
                }
            }
            levels.push(missing);
            frontier = next;
        }

        // The chunks those directories name that the store lacks.
        let mut wanted: Vec<ObjectId> = levels
            .iter()
            .flatten()
            .flat_map(|id| objs.dir(id).expect("listed").chunks.iter().copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let lacking = self.lacking_chunks(wanted).await?;

        let upload_total: u64 = lacking
            .iter()
            .map(|id| objs.chunk_len(id).map_or(0, |n| n as u64))
            .sum::<u64>()
            + levels
                .iter()
                .flatten()
                .map(|id| objs.dir(id).map_or(0, |d| d.bytes.len() as u64))
                .sum::<u64>();
        let done = AtomicU64::new(0);
        let sent = |n: usize| {
            let bytes = done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            progress(Progress {
                bytes,
                total: upload_total,
            });
        };
        progress(Progress {
            bytes: 0,
            total: upload_total,
        });

        // Chunks first, then directories deepest first: nothing is named before it is stored.
        stream::iter(lacking.iter().copied())
            .map(|id| {
                let bytes = objs
                    .chunk(&id)
                    .expect("a chunk of the snapshot")
                    .map(|b| b.to_vec());
                let sent = &sent;
                async move {
                    let bytes = bytes?;
                    let n = bytes.len();
                    self.put(&self.chunk_path(&id), bytes).await?;
                    sent(n);
                    Ok::<_, io::Error>(())
                }
            })
            .buffer_unordered(self.concurrency)
            .try_collect::<()>()
            .await?;
        report.uploaded_objects += lacking.len() as u64;
        for level in levels.iter().rev() {
            stream::iter(level.iter().copied())
                .map(|id| {
                    let bytes = objs.dir(&id).expect("listed").bytes.clone();
                    let n = bytes.len();
                    let sent = &sent;
                    async move {
                        self.put(&self.dir_path(&id), bytes).await?;
                        sent(n);
                        Ok::<_, io::Error>(())
                    }
                })
                .buffer_unordered(self.concurrency)
                .try_collect::<()>()
                .await?;
            report.uploaded_objects += level.len() as u64;
        }
        report.uploaded_bytes = done.load(Ordering::Relaxed);

        // Last, the ref: created only if no other push created this version.
        let info = RefInfo {
            name: name.to_owned(),
            seq,
            root,
            root_meta: objs.root_meta().to_vec(),
            parent: current.map(|c| c.root),
            files: objs.files(),
            file_bytes: objs.file_bytes(),
            object_bytes: report.total_bytes,
            pushed_at: now_secs(),
        };
        let path = self.ref_path(name, seq);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(ref_json(&info)), opts)
            .await
        {
            Ok(_) => Ok(report),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Err(io::Error::other(Conflict {
                name: name.to_owned(),
                seq,
            })),
            Err(e) => Err(store_err(&format!("PUT {path}"), e)),
        }
    }

    /// Fetches the current version of ref `name` into `fs` (its chunks join `fs`'s chunk
    /// store, deduplicated) and returns it as a snapshot of `fs`: restore it, or keep it
    /// named. Every object is checked against its name.
    pub async fn pull(
        &self,
        fs: &MemFs,
        name: &str,
        progress: OnProgress<'_>,
    ) -> io::Result<(Snapshot, PullReport)> {
        let info = self.get_ref(name).await?.ok_or_else(|| {
            err(
                io::ErrorKind::NotFound,
                format!("no ref named {name:?} in {}", self.url),
            )
        })?;
        self.pull_version(fs, info, progress).await
    }

    /// Fetches one version of a ref (from [`ref_version`](Remote::ref_version) or
    /// [`list_refs`](Remote::list_refs)) into `fs`.
    pub async fn pull_version(
        &self,
        fs: &MemFs,
        info: RefInfo,
        progress: OnProgress<'_>,
    ) -> io::Result<(Snapshot, PullReport)> {
        let mut import = objects::Import::new(fs);
        let total = info.object_bytes;
        let (chunks, dir_bytes, dirs) = self
            .fetch_dirs(&mut import, info.root, &|p| {
                progress(Progress {
                    bytes: p.bytes,
                    total,
                })
            })
            .await?;
        let mut fetched_objects = dirs;
        let done = AtomicU64::new(dir_bytes);
        let got = |n: usize| {
            let bytes = done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            progress(Progress { bytes, total });
        };
        let mut fetched = stream::iter(chunks.iter().copied())
            .map(|id| {
                let got = &got;
                async move {
                    let bytes = self.get("chunk", &self.chunk_path(&id)).await?;
                    got(bytes.len());
                    Ok::<_, io::Error>((id, bytes))
                }
            })
            .buffer_unordered(self.concurrency);
        while let Some(item) = fetched.next().await {
            let (id, bytes) = item?;
            import.add_chunk(id, &bytes)?;
            fetched_objects += 1;
        }
        drop(fetched);
        let snap = import.finish(info.root, &info.root_meta)?;
        Ok((
            snap,
            PullReport {
                info,
                fetched_objects,
                fetched_bytes: done.load(Ordering::Relaxed),
            },
        ))
    }
}

impl Remote {
    /// Fetches every directory object of the tree under `root` into `import` (top-down, a
    /// level at a time, `concurrency` requests at once; each checked against its name).
    /// Returns the chunks they name (each once), their bytes, and how many there were.
    async fn fetch_dirs(
        &self,
        import: &mut objects::Import,
        root: ObjectId,
        progress: OnProgress<'_>,
    ) -> io::Result<(Vec<ObjectId>, u64, u64)> {
        let done = AtomicU64::new(0);
        let got = |n: usize| {
            let bytes = done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            progress(Progress { bytes, total: 0 });
        };
        let mut chunks: Vec<ObjectId> = Vec::new();
        let mut count = 0u64;
        let mut seen: HashSet<ObjectId> = HashSet::from([root]);
        let mut frontier = vec![root];
        while !frontier.is_empty() {
            let mut fetched = stream::iter(frontier.iter().copied())
                .map(|id| {
                    let got = &got;
                    async move {
                        let bytes = self.get("directory", &self.dir_path(&id)).await?;
                        got(bytes.len());
                        Ok::<_, io::Error>((id, bytes))
                    }
                })
                .buffer_unordered(self.concurrency);
            let mut next = Vec::new();
            while let Some(item) = fetched.next().await {
                let (id, bytes) = item?;
                let refs = import.add_dir(id, bytes)?;
                count += 1;
                next.extend(refs.subdirs.into_iter().filter(|s| seen.insert(*s)));
                chunks.extend(refs.chunks);
            }
            drop(fetched);
            frontier = next;
        }
        chunks.sort_unstable();
        chunks.dedup();
        Ok((chunks, done.load(Ordering::Relaxed), count))
    }
}

/// Applies `config` to a store builder.
#[allow(dead_code)] // unused when built without any cloud store
fn configured<B>(
    mut builder: B,
    config: &[(String, String)],
    set: impl Fn(B, &str, &str) -> object_store::Result<B>,
) -> object_store::Result<B> {
    for (k, v) in config {
        builder = set(builder, k, v)?;
    }
    Ok(builder)
}

/// A push needs directory `id` of a tree opened over another store, which it never fetched.
fn unfetched(id: &ObjectId, url: &str) -> io::Error {
    err(
        io::ErrorKind::Unsupported,
        format!(
            "{url} lacks directory object {}, which belongs to the store this tree was opened \
             from and was never fetched: push it to that store, or pull it whole first",
            hex(id)
        ),
    )
}

/// The format of ref objects this build writes and reads.
const REF_FORMAT: &str = "memfs-ref-2";

fn ref_json(info: &RefInfo) -> Vec<u8> {
    let v = serde_json::json!({
        "format": REF_FORMAT,
        "name": info.name,
        "seq": info.seq,
        "root": hex(&info.root),
        "root_meta": info.root_meta.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "parent": info.parent.as_ref().map(hex),
        "files": info.files,
        "file_bytes": info.file_bytes,
        "object_bytes": info.object_bytes,
        "pushed_at": info.pushed_at,
    });
    serde_json::to_vec_pretty(&v).expect("JSON of plain values")
}

fn parse_ref(name: &str, seq: u64, bytes: &[u8]) -> Result<RefInfo, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if v["format"] != REF_FORMAT {
        return Err(format!(
            "format {} (this build reads {REF_FORMAT:?}; a store written by another version \
             of memfs: push the tree again)",
            v["format"]
        ));
    }
    let root_meta = v["root_meta"]
        .as_str()
        .filter(|h| h.len() % 2 == 0)
        .and_then(|h| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .ok_or("root_meta is missing or not hex")?;
    let id = |key: &str| -> Result<Option<ObjectId>, String> {
        match &v[key] {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => objects::parse_hex(s)
                .map(Some)
                .ok_or_else(|| format!("{key} is not an object id")),
            _ => Err(format!("{key} is not an object id")),
        }
    };
    let num = |key: &str| v[key].as_u64().ok_or_else(|| format!("{key} is missing"));
    if v["seq"].as_u64() != Some(seq) || v["name"].as_str() != Some(name) {
        return Err("its name or version differs from where it is stored".into());
    }
    Ok(RefInfo {
        name: name.to_owned(),
        seq,
        root: id("root")?.ok_or("root is missing")?,
        root_meta,
        parent: id("parent")?,
        files: num("files")?,
        file_bytes: num("file_bytes")?,
        object_bytes: num("object_bytes")?,
        pushed_at: num("pushed_at")?,
    })
}

/// `push`/`pull` on a `MemFs` for code that does not run an async runtime: each call runs
/// its transfer on a runtime of its own (do not call these from inside one; use [`Remote`]'s
/// async methods there).
pub trait RemoteExt {
    /// Pushes `snap` to `url` as the next version of ref `name`.
    fn push(&self, snap: &Snapshot, url: &str, name: &str) -> io::Result<PushReport>;
    /// Pulls the current version of ref `name` from `url` as a snapshot of this filesystem.
    fn pull(&self, url: &str, name: &str) -> io::Result<Snapshot>;
    /// Opens the current version of ref `name` at `url` as a filesystem without downloading
    /// it ([`Remote::open_fs`], with a cache of [`DEFAULT_CACHE_BYTES`]):
    /// `MemFs::open_remote(url, name)?.fs`.
    fn open_remote(url: &str, name: &str) -> io::Result<Opened>
    where
        Self: Sized;
}

/// Runs `f` to completion on a runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

impl RemoteExt for MemFs {
    fn push(&self, snap: &Snapshot, url: &str, name: &str) -> io::Result<PushReport> {
        let remote = Remote::open(url)?;
        block_on(async { remote.push(snap, name, &|_| {}).await })?
    }

    fn pull(&self, url: &str, name: &str) -> io::Result<Snapshot> {
        let remote = Remote::open(url)?;
        block_on(async { remote.pull(self, name, &|_| {}).await.map(|(s, _)| s) })?
    }

    fn open_remote(url: &str, name: &str) -> io::Result<Opened> {
        let remote = Remote::open(url)?;
        block_on(async { remote.open_fs(name, DEFAULT_CACHE_BYTES).await })?
    }
}

#[doc(hidden)]
/// Sizes of what a store holds under its prefix, by kind (tests and benchmarks).
pub async fn store_sizes(remote: &Remote) -> io::Result<HashMap<String, (u64, u64)>> {
    let metas: Vec<_> = remote
        .store
        .list(Some(&remote.prefix))
        .try_collect()
        .await
        .map_err(|e| store_err("LIST", e))?;
    let mut out: HashMap<String, (u64, u64)> = HashMap::new();
    for m in metas {
        let kind = m
            .location
            .prefix_match(&remote.prefix)
            .and_then(|mut p| p.next())
            .map(|p| p.as_ref().to_owned())
            .unwrap_or_default();
        let e = out.entry(kind).or_default();
        e.0 += 1;
        e.1 += m.size;
    }
    Ok(out)
}

/// The objects a filesystem opened over a store fetches on first use: directory objects
/// (kept by the tree once fetched) and chunks (kept in a bounded cache, least recently used
/// evicted).
struct StoreObjects {
    remote: Remote,
    /// Fetches run here, whichever thread reads (a FUSE thread, a tokio worker, a plain one).
    rt: Option<tokio::runtime::Runtime>,
    cache: std::sync::Mutex<ChunkCache>,
    fetched: AtomicU64,
    fetches: AtomicU64,
    dirs_fetched: AtomicU64,
    dir_fetches: AtomicU64,
}

struct ChunkCache {
    map: lru::LruCache<ObjectId, Arc<[u8]>>,
    bytes: u64,
    capacity: u64,
}

impl Drop for StoreObjects {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is refused inside another runtime: let it go.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl objects::ObjectSource for StoreObjects {
    fn fetch_dir(&self, id: &ObjectId) -> io::Result<Vec<u8>> {
        // (Checked against its name by the engine, which parses it.)
        let bytes = self.get("directory", self.remote.dir_path(id))?;
        self.dirs_fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.dir_fetches.fetch_add(1, Ordering::Relaxed);
        Ok(bytes)
    }

    fn fetch_chunk(&self, id: &ObjectId, _len: usize) -> io::Result<Arc<[u8]>> {
        if let Some(b) = self.lock().map.get(id) {
            return Ok(b.clone());
        }
        let id = *id;
        let bytes = self.get("chunk", self.remote.chunk_path(&id))?;
        objects::verify("chunk", &id, &bytes)?;
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let bytes: Arc<[u8]> = bytes.into();
        let mut cache = self.lock();
        if bytes.len() as u64 <= cache.capacity {
            cache.bytes += bytes.len() as u64;
            if let Some(old) = cache.map.put(id, bytes.clone()) {
                cache.bytes -= old.len() as u64;
            }
            while cache.bytes > cache.capacity {
                match cache.map.pop_lru() {
                    Some((_, old)) => cache.bytes -= old.len() as u64,
                    None => break,
                }
            }
        }
        Ok(bytes)
    }
}

impl StoreObjects {
    /// GETs `path` on the source's own runtime, from whichever thread asks.
    fn get(&self, kind: &'static str, path: object_store::path::Path) -> io::Result<Vec<u8>> {
        let remote = self.remote.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt
            .as_ref()
            .expect("runtime lives as long as the source")
            .spawn(async move {
                let _ = tx.send(remote.get(kind, &path).await);
            });
        rx.recv()
            .map_err(|_| err(io::ErrorKind::Other, format!("{kind} fetch abandoned")))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChunkCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Default size of the chunk cache of [`Remote::open_fs`]: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 << 20;

/// A filesystem opened over a store's snapshot by [`Remote::open_fs`], and what its reads
/// have fetched.
pub struct Opened {
    /// The filesystem: its tree is the snapshot's; file bytes are fetched on first read;
    /// writes stay here (push them to keep them).
    pub fs: MemFs,
    /// The version opened.
    pub info: RefInfo,
    /// Bytes of the root directory's object, fetched to open it.
    pub dir_bytes: u64,
    chunks: Arc<StoreObjects>,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("info", &self.info)
            .field("dir_bytes", &self.dir_bytes)
            .field("dir_bytes_fetched", &self.dir_bytes_fetched())
            .field("chunk_bytes_fetched", &self.chunk_bytes_fetched())
            .finish()
    }
}

impl Opened {
    /// Bytes of chunks fetched so far (a chunk evicted and read again counts twice).
    pub fn chunk_bytes_fetched(&self) -> u64 {
        self.chunks.fetched.load(Ordering::Relaxed)
    }

    /// Chunk fetches so far.
    pub fn chunk_fetches(&self) -> u64 {
        self.chunks.fetches.load(Ordering::Relaxed)
    }

    /// Bytes of the directory objects fetched since the open, on first use (the root's,
    /// fetched to open, is [`Opened::dir_bytes`]).
    pub fn dir_bytes_fetched(&self) -> u64 {
        self.chunks.dirs_fetched.load(Ordering::Relaxed)
    }

    /// Directory objects fetched since the open.
    pub fn dir_fetches(&self) -> u64 {
        self.chunks.dir_fetches.load(Ordering::Relaxed)
    }

    /// Every byte fetched so far: the root's object, the directories and the chunks.
    pub fn bytes_fetched(&self) -> u64 {
        self.dir_bytes + self.dir_bytes_fetched() + self.chunk_bytes_fetched()
    }

    /// Bytes in the chunk cache now.
    pub fn cached_bytes(&self) -> u64 {
        self.chunks.lock().bytes
    }
}

impl Remote {
    /// Opens the current version of ref `name` as a filesystem without downloading it: the
    /// root directory's object is fetched now, every other directory's when it is first used
    /// (a lookup, a listing), each file's chunks when it is first read, into a cache of at
    /// most `cache_bytes` (least recently used evicted). A call that needs an object the store
    /// cannot give fails with the error (`InvalidData` naming a missing or altered one), and a
    /// later call tries again. Writes go to the local tree over the store's; a push of it to
    /// this store uploads only what changed (directories never fetched are named as they are).
    pub async fn open_fs(&self, name: &str, cache_bytes: u64) -> io::Result<Opened> {
        let info = self.get_ref(name).await?.ok_or_else(|| {
            err(
                io::ErrorKind::NotFound,
                format!("no ref named {name:?} in {}", self.url),
            )
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("memfs-store-fetch")
            .enable_all()
            .build()?;
        let chunks = Arc::new(StoreObjects {
            remote: self.clone(),
            rt: Some(rt),
            cache: std::sync::Mutex::new(ChunkCache {
                map: lru::LruCache::unbounded(),
                bytes: 0,
                capacity: cache_bytes,
            }),
            fetched: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            dirs_fetched: AtomicU64::new(0),
            dir_fetches: AtomicU64::new(0),
        });
        let fs = MemFs::new();
        let source: Arc<dyn objects::ObjectSource> = chunks.clone();
        let mut import = objects::Import::lazy(&fs, source);
        let root = self.get("directory", &self.dir_path(&info.root)).await?;
        let dir_bytes = root.len() as u64;
        import.add_dir(info.root, root)?;
        let snap = import.finish(info.root, &info.root_meta)?;
        fs.restore(&snap)?;
        Ok(Opened {
            fs,
            info,
            dir_bytes,
            chunks,
        })
    }
}
