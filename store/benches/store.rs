//! Push and pull throughput against plain `object_store` PUT and GET of the same objects with
//! the same concurrency, on moto's S3 server on loopback (started here; see
//! `tests/common/mod.rs`), in one run: `cargo bench -p memfs-store --bench store`. The tree is
//! 16 directories × 16 files of 64 KiB (16 MiB; `MEMFS_BENCH_QUICK=1`: 4 × 4), each push to a
//! fresh prefix so that everything is uploaded. Ratios are in BENCHMARKS.md.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::stream::{self, StreamExt, TryStreamExt};
use memfs::MemFs;
use memfs_store::{Options, Remote};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

const CONCURRENCY: usize = 16;

fn side() -> u64 {
    if std::env::var_os("MEMFS_BENCH_QUICK").is_some_and(|v| v != "0") {
        4
    } else {
        16
    }
}

fn tree() -> MemFs {
    let fs = MemFs::new();
    for d in 0..side() {
        fs.create_dir(format!("/d{d}")).unwrap();
        for f in 0..side() {
            let seed = d * 1000 + f;
            let data: Vec<u8> = (0..65_536u64)
                .map(|i| (i.wrapping_mul(seed | 1) >> 3) as u8 ^ seed as u8)
                .collect();
            fs.write(format!("/d{d}/f{f}"), data).unwrap();
        }
    }
    fs
}

fn bench(c: &mut Criterion) {
    let port = common::server().lock().unwrap().port;
    let opts = |_: &str| Options {
        concurrency: CONCURRENCY,
        ..common::s3_options(port, Options::default().retry)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fs = tree();
    let snap = fs.snapshot();
    let objs = snap.objects().unwrap();
    // The same objects as plain (path, bytes) pairs.
    let plain: Vec<(String, Vec<u8>)> = objs
        .chunk_ids()
        .map(|id| {
            (
                format!("chunks/{}", memfs::persist::objects::hex(id)),
                objs.chunk(id).unwrap().unwrap().to_vec(),
            )
        })
        .chain(objs.dir_ids().map(|id| {
            (
                format!("dirs/{}", memfs::persist::objects::hex(id)),
                objs.dir(id).unwrap().bytes.clone(),
            )
        }))
        .collect();
    let bytes: u64 = plain.iter().map(|(_, b)| b.len() as u64).sum();
    let n = AtomicU64::new(0);
    let fresh = |what: &str| {
        format!(
            "s3://memfs/bench-{what}-{}",
            n.fetch_add(1, Ordering::Relaxed)
        )
    };

    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(criterion::Throughput::Bytes(bytes));
    g.bench_function("memfs_push", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let remote = Remote::open_with(&fresh("push"), opts("")).unwrap();
                let t = Instant::now();
                let r = rt.block_on(remote.push(&snap, "main", &|_| {})).unwrap();
                total += t.elapsed();
                assert_eq!(r.uploaded_bytes, bytes);
            }
            total
        })
    });
    g.bench_function("plain_put", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let remote = Remote::open_with(&fresh("put"), opts("")).unwrap();
                let store = remote.object_store().clone();
                let prefix = remote.url().trim_start_matches("s3://memfs/").to_owned();
                let t = Instant::now();
                rt.block_on(
                    stream::iter(plain.iter())
                        .map(|(p, data)| {
                            let store = store.clone();
                            let path = Path::from(format!("{prefix}/{p}"));
                            let data = data.clone();
                            async move { store.put(&path, PutPayload::from(data)).await.map(drop) }
                        })
                        .buffer_unordered(CONCURRENCY)
                        .try_collect::<()>(),
                )
                .unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    // One store to read from, pushed once.
    let url = fresh("read");
    let remote = Remote::open_with(&url, opts("")).unwrap();
    rt.block_on(remote.push(&snap, "main", &|_| {})).unwrap();
    let prefix = url.trim_start_matches("s3://memfs/").to_owned();
    g.bench_function("memfs_pull", |b| {
        b.iter(|| {
            let into = MemFs::new();
            let (_, r) = rt.block_on(remote.pull(&into, "main", &|_| {})).unwrap();
            assert_eq!(r.fetched_bytes, bytes);
        })
    });
    g.bench_function("plain_get", |b| {
        let store = remote.object_store().clone();
        b.iter(|| {
            let got: u64 = rt
                .block_on(
                    stream::iter(plain.iter())
                        .map(|(p, _)| {
                            let store = store.clone();
                            let path = Path::from(format!("{prefix}/{p}"));
                            async move {
                                let r = store.get(&path).await?;
                                Ok::<_, object_store::Error>(r.bytes().await?.len() as u64)
                            }
                        })
                        .buffer_unordered(CONCURRENCY)
                        .try_fold(0, |a, n| async move { Ok(a + n) }),
                )
                .unwrap();
            assert_eq!(got, bytes);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
