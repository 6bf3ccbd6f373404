//! memfs-store against a real S3-protocol server (moto's S3, started here on loopback by
//! `s3_server.py`; see there why one request at a time), the local-directory backend and the
//! in-memory one: push, incremental push, pull, concurrent pushes of one ref, corrupted and
//! missing objects, and a server that goes away mid-push.
//!
//! The server needs a Python with `moto[server]`: `MEMFS_TEST_PYTHON`, or the venv `.ci/test`
//! makes (`target/python-venv`).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memfs::MemFs;
use memfs_store::{conflict_of, BackoffConfig, Options, Remote, RetryConfig};

mod common;

use common::{s3_options, server};

fn s3(prefix: &str) -> Remote {
    let port = server().lock().unwrap().port;
    Remote::open_with(
        &format!("s3://memfs/{prefix}"),
        s3_options(port, Options::default().retry),
    )
    .unwrap()
}

#[derive(Debug, PartialEq)]
enum Entry {
    Dir(u32),
    File(Vec<u8>, u32),
    Link(String),
}

fn tree(fs: &MemFs) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for (dir, dirs, files) in fs.walk("/").unwrap() {
        for name in dirs.iter().chain(files.iter()) {
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            let m = fs.symlink_metadata(&path).unwrap();
            let mode = m.permissions().mode();
            let e = if m.is_symlink() {
                Entry::Link(fs.read_link(&path).unwrap())
            } else if m.is_dir() {
                Entry::Dir(mode)
            } else {
                Entry::File(fs.read(&path).unwrap(), mode)
            };
            out.insert(path, e);
        }
    }
    out
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// 20 directories × 10 files of 0-150 KiB (small inline ones and chunked ones), a symlink,
/// an empty directory, a mode.
fn sample() -> MemFs {
    let fs = MemFs::new();
    for d in 0..20u64 {
        fs.create_dir_all(format!("/data/d{d:02}")).unwrap();
        for f in 0..10u64 {
            let len = ((d * 10 + f) * 7919 % 150_000) as usize;
            fs.write(format!("/data/d{d:02}/f{f}"), noise(d * 100 + f, len))
                .unwrap();
        }
    }
    fs.create_dir("/empty").unwrap();
    fs.symlink("data/d00/f1", "/link").unwrap();
    fs.set_permissions("/data/d03/f3", 0o600).unwrap();
    fs
}

async fn round_trip(remote: &Remote) {
    let fs = sample();
    let report = remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    assert_eq!(report.seq, 1);
    assert_eq!(report.uploaded_objects, report.total_objects);
    assert_eq!(report.uploaded_bytes, report.total_bytes);
    // Pushing the same tree again uploads nothing (its root is there).
    let again = remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    assert_eq!((again.seq, again.uploaded_objects), (2, 0));

    let other = MemFs::new();
    let (snap, pulled) = remote.pull(&other, "main", &|_| {}).await.unwrap();
    assert_eq!(pulled.info.seq, 2);
    assert_eq!(pulled.fetched_bytes, report.total_bytes);
    other.restore(&snap).unwrap();
    assert_eq!(tree(&other), tree(&fs));
    assert_eq!(other.stats().stored_bytes, fs.stats().stored_bytes);

    let refs = remote.list_refs().await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!((refs[0].name.as_str(), refs[0].seq), ("main", 2));
    assert_eq!(refs[0].files, 200);
    assert_eq!(refs[0].file_bytes, fs.stats().logical_bytes);
    let e = remote.pull(&other, "nope", &|_| {}).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn push_and_pull_on_s3() {
    round_trip(&s3("round-trip")).await;
}

#[tokio::test]
async fn push_and_pull_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("store"));
    round_trip(&Remote::open(&url).unwrap()).await;
}

#[tokio::test]
async fn push_and_pull_in_memory() {
    round_trip(&Remote::open("memory:///x").unwrap()).await;
}

#[tokio::test]
async fn push_onto_refuses_a_base_that_moved() {
    let remote = Remote::open("memory:///onto").unwrap();
    let fs = MemFs::new();
    fs.write("/a", b"1").unwrap();
    let e = remote
        .push_onto(&fs.snapshot(), "r", 1, &|_| {})
        .await
        .unwrap_err();
    assert!(conflict_of(&e).is_some(), "no version 1 yet: {e}");
    let r = remote
        .push_onto(&fs.snapshot(), "r", 0, &|_| {})
        .await
        .unwrap();
    assert_eq!(r.seq, 1);
    // Two writers both start from version 1; the second one's push onto 1 is refused.
    fs.write("/b", b"2").unwrap();
    remote
        .push_onto(&fs.snapshot(), "r", 1, &|_| {})
        .await
        .unwrap();
    let other = MemFs::new();
    other.write("/c", b"3").unwrap();
    let e = remote
        .push_onto(&other.snapshot(), "r", 1, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(conflict_of(&e).unwrap().seq, 2, "{e}");
    let (snap, info) = remote.pull(&MemFs::new(), "r", &|_| {}).await.unwrap();
    assert_eq!(info.info.seq, 2);
    assert!(
        snap.exists("/b") && !snap.exists("/c"),
        "the first writer's tree stays"
    );
}

fn url_of(p: &std::path::Path) -> String {
    format!("file://{}", p.display())
}

#[tokio::test]
async fn incremental_push_uploads_what_changed() {
    let remote = s3("incremental");
    let fs = sample();
    let first = remote.push(&fs.snapshot(), "inc", &|_| {}).await.unwrap();
    // Change 1 of 200 files (one of about 100 KiB) and add a small one.
    fs.write("/data/d07/f5", noise(1, 100_000)).unwrap();
    fs.write("/data/d11/new", b"new").unwrap();
    let second = remote.push(&fs.snapshot(), "inc", &|_| {}).await.unwrap();
    // The new chunks (two of the changed file, one small file) and the directories on the two
    // paths: "/", "/data", "/data/d07", "/data/d11".
    assert_eq!(second.uploaded_objects, 3 + 4, "{second:?}");
    assert!(
        second.uploaded_bytes * 50 < first.uploaded_bytes * 2,
        "{second:?} vs {first:?}"
    );
    let other = MemFs::new();
    let (snap, _) = remote.pull(&other, "inc", &|_| {}).await.unwrap();
    other.restore(&snap).unwrap();
    assert_eq!(tree(&other), tree(&fs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_pushers_lose_no_update() {
    let remote = s3("concurrent");
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let remote = remote.clone();
        tasks.push(tokio::spawn(async move {
            let fs = MemFs::new();
            fs.write(format!("/pusher-{i}"), noise(i, 70_000)).unwrap();
            let snap = fs.snapshot();
            let mut conflicts = 0;
            loop {
                match remote.push(&snap, "shared", &|_| {}).await {
                    Ok(r) => return (r.seq, snap.objects().unwrap().root(), conflicts),
                    Err(e) => {
                        let c = conflict_of(&e).unwrap_or_else(|| panic!("{e}"));
                        assert_eq!(c.name, "shared");
                        assert!(e.to_string().contains("\"shared\""), "{e}");
                        conflicts += 1;
                    }
                }
            }
        }));
    }
    let mut accepted = BTreeMap::new();
    let mut conflicts = 0;
    for t in tasks {
        let (seq, root, c) = t.await.unwrap();
        conflicts += c;
        assert!(
            accepted.insert(seq, root).is_none(),
            "version {seq} accepted twice"
        );
    }
    // Every accepted push is a version of its own, 1 to 8, holding what that pusher pushed,
    // each naming the one before as its parent.
    assert_eq!(
        accepted.keys().copied().collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    for (&seq, root) in &accepted {
        let v = remote.ref_version("shared", seq).await.unwrap();
        assert_eq!(&v.root, root);
        assert_eq!(v.parent.as_ref(), accepted.get(&(seq - 1)));
    }
    eprintln!("8 pushers: {conflicts} conflicts retried, 0 updates lost");
}

#[tokio::test]
async fn corrupt_and_missing_objects_are_invalid_data_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let remote = Remote::open(&url_of(&root)).unwrap();
    let fs = sample();
    remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    let mut chunks: Vec<PathBuf> = std::fs::read_dir(root.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    chunks.sort();
    // Altered: one byte flipped.
    let mut bytes = std::fs::read(&chunks[0]).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&chunks[0], &bytes).unwrap();
    let name0 = chunks[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let e = remote
        .pull(&MemFs::new(), "main", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains(&name0), "{e}");
    bytes[0] ^= 0xff;
    // Truncated.
    std::fs::write(&chunks[0], &bytes[..bytes.len() / 2]).unwrap();
    let e = remote
        .pull(&MemFs::new(), "main", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains(&name0), "{e}");
    std::fs::write(&chunks[0], &bytes).unwrap();
    // Missing.
    std::fs::remove_file(&chunks[1]).unwrap();
    let name1 = chunks[1]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let e = remote
        .pull(&MemFs::new(), "main", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(
        e.to_string().contains(&name1) && e.to_string().contains("missing"),
        "{e}"
    );
    // A ref that is not JSON.
    let refs = root.join("refs/main");
    let version = std::fs::read_dir(&refs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&version, b"{not json").unwrap();
    let e = remote
        .pull(&MemFs::new(), "main", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("ref object"), "{e}");
    // A bad name is refused before anything is sent.
    let e = remote
        .push(&fs.snapshot(), "a/b", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// A TCP proxy in front of the server that can be cut: connections open when it goes down are
/// aborted, and new ones are closed at once.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut out) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                }));
            }
        });
        Proxy { port, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_mid_push_leaves_a_valid_store_and_the_next_push_completes() {
    let upstream = server().lock().unwrap().port;
    let proxy = Arc::new(Proxy::start(upstream).await);
    let quick = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(2),
    };
    let remote = Remote::open_with("s3://memfs/gone", s3_options(proxy.port, quick)).unwrap();
    let fs = sample();
    let v1 = remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    // A second version with every file changed, cut off after about half its bytes.
    for d in 0..20u64 {
        for f in 0..10u64 {
            fs.write(format!("/data/d{d:02}/f{f}"), noise(7 + d * 10 + f, 40_000))
                .unwrap();
        }
    }
    let p = proxy.clone();
    let cut_at = AtomicU64::new(0);
    let e = remote
        .push(&fs.snapshot(), "main", &move |prog| {
            if prog.total > 0 && prog.bytes * 2 >= prog.total && cut_at.load(Ordering::SeqCst) == 0
            {
                cut_at.store(prog.bytes, Ordering::SeqCst);
                p.cut();
            }
        })
        .await
        .unwrap_err();
    assert!(conflict_of(&e).is_none(), "{e}");
    proxy.restore();
    // The ref still names the first version, which pulls whole.
    let head = remote.get_ref("main").await.unwrap().unwrap();
    assert_eq!(head.seq, v1.seq);
    let old = MemFs::new();
    let (snap, _) = remote.pull(&old, "main", &|_| {}).await.unwrap();
    old.restore(&snap).unwrap();
    assert_eq!(old.stats().files, 200);
    // The next push uploads only what the cut one did not, and completes.
    let v2 = remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    assert_eq!(v2.seq, 2);
    assert!(v2.uploaded_bytes < v2.total_bytes, "{v2:?}");
    let new = MemFs::new();
    let (snap, _) = remote.pull(&new, "main", &|_| {}).await.unwrap();
    new.restore(&snap).unwrap();
    assert_eq!(tree(&new), tree(&fs));
}

#[test]
fn blocking_push_and_pull_on_a_memfs() {
    use memfs_store::RemoteExt;
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("s"));
    let fs = sample();
    let report = fs.push(&fs.snapshot(), &url, "main").unwrap();
    assert_eq!(report.seq, 1);
    let other = MemFs::new();
    let snap = other.pull(&url, "main").unwrap();
    other.restore(&snap).unwrap();
    assert_eq!(tree(&other), tree(&fs));
    let opened = MemFs::open_remote(&url, "main").unwrap();
    assert_eq!(tree(&opened.fs), tree(&fs));
    assert!(opened.dir_fetches() > 0 && opened.chunk_fetches() > 0);
    let e = MemFs::open_remote(&url, "nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = Remote::open("ftp://x/y").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// The issue's target, measured on 1 GiB (not run by default):
/// `cargo test --release -p memfs-store --test remote -- --ignored --nocapture one_gib`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn incremental_push_of_one_percent_of_one_gib() {
    let remote = Remote::open("memory:///gib").unwrap();
    let fs = MemFs::new();
    // 128 directories × 128 files × 64 KiB = 1 GiB.
    for d in 0..128u64 {
        fs.create_dir(format!("/d{d:03}")).unwrap();
        for f in 0..128u64 {
            fs.write(format!("/d{d:03}/f{f:03}"), noise(d * 1000 + f, 65_536))
                .unwrap();
        }
    }
    let first = remote.push(&fs.snapshot(), "gib", &|_| {}).await.unwrap();
    // Rewrite 1% of the files (164 of 16,384), spread over the directories.
    for i in 0..164u64 {
        let (d, f) = (i % 128, (i * 53 + i / 128 * 7) % 128);
        fs.write(format!("/d{d:03}/f{f:03}"), noise(9_000_000 + i, 65_536))
            .unwrap();
    }
    let second = remote.push(&fs.snapshot(), "gib", &|_| {}).await.unwrap();
    let ratio = second.uploaded_bytes as f64 / second.total_bytes as f64;
    eprintln!(
        "1 GiB tree: first push {} bytes in {} objects; after changing 1% of files: {} bytes in \
         {} objects = {:.3}% of the tree's {} bytes",
        first.uploaded_bytes,
        first.uploaded_objects,
        second.uploaded_bytes,
        second.uploaded_objects,
        ratio * 100.0,
        second.total_bytes
    );
    assert!(ratio <= 0.02, "{ratio}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_fs_fetches_each_directory_on_first_use_and_chunks_on_first_read() {
    let remote = s3("lazy");
    let fs = sample();
    let pushed = remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    let opened = remote.open_fs("main", 256 * 1024).await.unwrap();
    let lazy = opened.fs.clone();
    // Open fetches the root's object only; stats come from the store's counts.
    assert_eq!(lazy.stats().files, 200);
    assert_eq!(lazy.stats().logical_bytes, fs.stats().logical_bytes);
    assert_eq!((opened.dir_fetches(), opened.chunk_bytes_fetched()), (0, 0));
    assert!(opened.dir_bytes * 20 < pushed.total_bytes, "{opened:?}");
    // One file's read fetches the directories on its path and its chunks, nothing else.
    let want = fs.read("/data/d05/f7").unwrap();
    let l = lazy.clone();
    let got = tokio::task::spawn_blocking(move || l.read("/data/d05/f7").unwrap())
        .await
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(opened.chunk_bytes_fetched(), want.len() as u64);
    assert_eq!(opened.dir_fetches(), 2, "/data and /data/d05");
    // A directory's metadata is known before it is fetched; a listing fetches it once.
    let l = lazy.clone();
    let mode = tokio::task::spawn_blocking(move || l.metadata("/data/d06").unwrap())
        .await
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode, fs.metadata("/data/d06").unwrap().permissions().mode());
    assert_eq!(opened.dir_fetches(), 2);
    let l = lazy.clone();
    let names =
        tokio::task::spawn_blocking(move || (l.listdir("/data/d06"), l.listdir("/data/d06")))
            .await
            .unwrap();
    assert_eq!(names.0.unwrap().len(), 10);
    assert_eq!(names.1.unwrap().len(), 10);
    assert_eq!(opened.dir_fetches(), 3);
    // Everything reads back right, the cache stays under its bound.
    let lazy = opened.fs.clone();

    let expected = tree(&fs);
    let seen = tokio::task::spawn_blocking(move || tree(&lazy))
        .await
        .unwrap();
    assert_eq!(seen, expected);
    assert!(
        opened.cached_bytes() <= 256 * 1024,
        "{}",
        opened.cached_bytes()
    );
    // A write stays local; a push uploads only it and the directories on its path.
    opened.fs.write("/data/d02/f2", b"changed").unwrap();
    let second = remote
        .push(&opened.fs.snapshot(), "main", &|_| {})
        .await
        .unwrap();
    assert_eq!(second.uploaded_objects, 1 + 3, "{second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazily_read_chunk_that_is_altered_is_an_error_not_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let remote = Remote::open(&url_of(&root)).unwrap();
    let fs = MemFs::new();
    fs.write("/big", noise(3, 100_000)).unwrap();
    remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    let opened = remote.open_fs("main", 1 << 20).await.unwrap();
    for e in std::fs::read_dir(root.join("chunks")).unwrap() {
        let p = e.unwrap().path();
        let mut b = std::fs::read(&p).unwrap();
        b[10] ^= 1;
        std::fs::write(&p, b).unwrap();
    }
    let lazy = opened.fs.clone();
    let e = tokio::task::spawn_blocking(move || lazy.read("/big").unwrap_err())
        .await
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("chunk object"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_the_store_cannot_give_fails_the_call_and_a_later_call_retries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let remote = Remote::open(&url_of(&root)).unwrap();
    let fs = MemFs::new();
    fs.create_dir_all("/a/b").unwrap();
    fs.write("/a/b/f", b"deep").unwrap();
    remote.push(&fs.snapshot(), "main", &|_| {}).await.unwrap();
    let opened = remote.open_fs("main", 1 << 20).await.unwrap();
    // Every directory object but the root's goes away for a while.
    let objs = fs.snapshot().objects().unwrap();
    let hidden = dir.path().join("hidden");
    std::fs::create_dir(&hidden).unwrap();
    for id in objs.dir_ids().filter(|id| **id != objs.root()) {
        let name = memfs::persist::objects::hex(id);
        std::fs::rename(root.join("dirs").join(&name), hidden.join(&name)).unwrap();
    }
    let lazy = opened.fs.clone();
    let (e, listed, exists) = tokio::task::spawn_blocking(move || {
        (
            lazy.read("/a/b/f").unwrap_err(),
            lazy.listdir("/").unwrap(),
            lazy.exists("/a/b"),
        )
    })
    .await
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("directory object"), "{e}");
    assert_eq!(listed, ["a"], "the root was fetched at open");
    assert!(!exists, "exists() answers false where it cannot look");
    for e in std::fs::read_dir(&hidden).unwrap() {
        let p = e.unwrap().path();
        std::fs::rename(&p, root.join("dirs").join(p.file_name().unwrap())).unwrap();
    }
    let lazy = opened.fs.clone();
    let got = tokio::task::spawn_blocking(move || lazy.read("/a/b/f").unwrap())
        .await
        .unwrap();
    assert_eq!(got, b"deep");

    // A tree opened over one store names directories only that store has: a push of it to
    // another store is refused, naming one, rather than leaving a store that lacks them.
    let other = Remote::open("memory:///other").unwrap();
    let opened = remote.open_fs("main", 1 << 20).await.unwrap();
    let e = other
        .push(&opened.fs.snapshot(), "main", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("never fetched"), "{e}");
    assert!(other.list_refs().await.unwrap().is_empty());
}

/// The lazy-open target: a snapshot of 100,000 files (100 directories × 1,000 files of 1 KiB)
/// opened, and one file read, fetch under 1% of the snapshot's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_open_of_100_000_files_and_one_read_fetch_under_one_percent() {
    let remote = Remote::open("memory:///hundred-thousand").unwrap();
    let fs = MemFs::new();
    fs.batch(|b| {
        for d in 0..100u64 {
            b.create_dir(format!("/d{d:03}"))?;
            for f in 0..1000u64 {
                let mut data = noise(d * 1000 + f, 1024);
                data[..8].copy_from_slice(&(d * 1000 + f).to_le_bytes());
                b.write(format!("/d{d:03}/f{f:04}"), data)?;
            }
        }
        Ok(())
    })
    .unwrap();
    let pushed = remote.push(&fs.snapshot(), "big", &|_| {}).await.unwrap();
    let opened = remote.open_fs("big", 1 << 20).await.unwrap();
    let lazy = opened.fs.clone();
    let got = tokio::task::spawn_blocking(move || lazy.read("/d042/f0777").unwrap())
        .await
        .unwrap();
    assert_eq!(got, fs.read("/d042/f0777").unwrap());
    let fetched = opened.bytes_fetched();
    let share = fetched as f64 / pushed.total_bytes as f64;
    eprintln!(
        "100,000 files, {} bytes of objects: open + one read fetched {fetched} bytes \
         ({} directory objects after the root's {} bytes, {} chunk bytes) = {:.3}%",
        pushed.total_bytes,
        opened.dir_fetches(),
        opened.dir_bytes,
        opened.chunk_bytes_fetched(),
        share * 100.0
    );
    assert_eq!(opened.dir_fetches(), 1);
    assert!(share <= 0.01, "{share}");
}
