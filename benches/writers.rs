//! Writers that scale: `threads` writer threads (1, 2, 4, 8, 16), each doing `PER_THREAD` ×
//! (write a 1 KiB file, then remove it), either each in its own directory (`own_dirs`) or all in
//! one shared directory (`shared_dir`, distinct file names). Throughput is operations (a write
//! or a remove) per second over all threads; every backend gets the same directories and
//! names. memfs writers go through the commit protocol (serialized, group commit); vfs
//! MemoryFS takes its one `RwLock` for writing; tmpfs is the kernel (its per-directory lock).
//! This machine has 2 cores: past 2 threads, writers share CPUs, so the rows show how each
//! backend behaves under contention, not how it scales (the device machine's table does that).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vfs::FileSystem;

const THREADS: [usize; 5] = [1, 2, 4, 8, 16];

fn per_thread() -> usize {
    common::scaled(2_000)
}

/// Paths of thread `t`: its directory and its files.
fn names(t: usize, shared: bool) -> (String, Vec<String>) {
    let dir = if shared {
        "/shared".to_string()
    } else {
        format!("/w{t:02}")
    };
    let files = (0..per_thread())
        .map(|i| format!("{dir}/t{t:02}-{i:05}"))
        .collect();
    (dir, files)
}

/// Runs `threads` threads, each calling `work(t)` once, started together.
fn in_threads(threads: usize, work: impl Fn(usize) + Sync) {
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (start, work) = (&start, &work);
            s.spawn(move || {
                start.wait();
                work(t);
            });
        }
    });
}

fn writers(c: &mut Criterion) {
    let data = common::data(1024, 3);
    for shared in [false, true] {
        let layout = if shared { "shared_dir" } else { "own_dirs" };
        let mut g = c.benchmark_group(format!("9_writers_{layout}"));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(2));
        for threads in THREADS {
            let work: Vec<(String, Vec<String>)> = (0..threads).map(|t| names(t, shared)).collect();
            g.throughput(Throughput::Elements((2 * threads * per_thread()) as u64));

            let fs = memfs::MemFs::new();
            for (d, _) in &work {
                fs.create_dir_all(d).unwrap();
            }
            g.bench_with_input(BenchmarkId::new("memfs", threads), &threads, |b, &n| {
                b.iter(|| {
                    in_threads(n, |t| {
                        for p in &work[t].1 {
                            fs.write(p, &data).unwrap();
                            fs.remove_file(p).unwrap();
                        }
                    })
                })
            });

            let mem = vfs::MemoryFS::new();
            for (d, _) in &work {
                if !mem.exists(d).unwrap() {
                    mem.create_dir(d).unwrap();
                }
            }
            g.bench_with_input(
                BenchmarkId::new("vfs_memory", threads),
                &threads,
                |b, &n| {
                    b.iter(|| {
                        in_threads(n, |t| {
                            for p in &work[t].1 {
                                mem.create_file(p).unwrap().write_all(&data).unwrap();
                                mem.remove_file(p).unwrap();
                            }
                        })
                    })
                },
            );

            let tmp = common::tmpfs_dir("writers");
            let host: Vec<Vec<PathBuf>> = work
                .iter()
                .map(|(d, files)| {
                    std::fs::create_dir_all(common::host(tmp.path(), d)).unwrap();
                    files.iter().map(|p| common::host(tmp.path(), p)).collect()
                })
                .collect();
            g.bench_with_input(BenchmarkId::new("tmpfs", threads), &threads, |b, &n| {
                b.iter(|| {
                    in_threads(n, |t| {
                        for p in &host[t] {
                            std::fs::write(p, &data).unwrap();
                            std::fs::remove_file(p).unwrap();
                        }
                    })
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = writers
}
criterion_main!(benches);
