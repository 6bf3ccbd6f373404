//! Workload 1, small files: create + write 1 KiB, read back, delete, for 10,000 files spread
//! over 100 directories, on memfs (directly and, with feature `vfs`, through `MemFsBackend`),
//! tmpfs (std::fs on /dev/shm), vfs MemoryFS and vfs
//! PhysicalFS (on the temp dir; a tenth of the files, compared per file). One iteration = all three phases over all files; the
//! directories exist beforehand and are empty again after each iteration.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vfs::FileSystem;

const DIRS: usize = 100;

fn paths() -> (Vec<String>, Vec<String>) {
    let files = common::scaled(10_000);
    let dirs: Vec<String> = (0..DIRS).map(|d| format!("/d{d:02}")).collect();
    let files = (0..files)
        .map(|i| format!("/d{:02}/f{i:05}.txt", i % DIRS))
        .collect();
    (dirs, files)
}

fn vfs_cycle(fs: &dyn FileSystem, files: &[String], data: &[u8]) {
    for p in files {
        let mut f = fs.create_file(p).unwrap();
        f.write_all(data).unwrap();
    }
    let mut buf = Vec::with_capacity(data.len());
    for p in files {
        buf.clear();
        fs.open_file(p).unwrap().read_to_end(&mut buf).unwrap();
        assert_eq!(buf.len(), data.len());
    }
    for p in files {
        fs.remove_file(p).unwrap();
    }
}

/// Workload 1 through `MemFs`'s own calls.
fn memfs_cycle(fs: &memfs::MemFs, files: &[String], data: &[u8]) {
    for p in files {
        fs.write(p, data).unwrap();
    }
    for p in files {
        assert_eq!(fs.read(p).unwrap().len(), data.len());
    }
    for p in files {
        fs.remove_file(p).unwrap();
    }
}

fn small_files(c: &mut Criterion) {
    let (dirs, files) = paths();
    let data = common::data(1024, 1);
    let mut g = c.benchmark_group("1_small_files");
    g.throughput(Throughput::Elements(files.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));

    let fs = memfs::MemFs::new();
    for d in &dirs {
        fs.create_dir(d).unwrap();
    }
    g.bench_function("memfs", |b| b.iter(|| memfs_cycle(&fs, &files, &data)));

    // The same cycle with a watcher on `/` consuming every event on another thread: what a
    // change feed costs the writer.
    {
        let watched = memfs::MemFs::new();
        for d in &dirs {
            watched.create_dir(d).unwrap();
        }
        let w = watched.watch("/").unwrap();
        let consumer = std::thread::spawn(move || w.count());
        g.bench_function("memfs_watched", |b| {
            b.iter(|| memfs_cycle(&watched, &files, &data))
        });
        drop(watched);
        consumer.join().unwrap();
    }

    // The same cycle on a filesystem with a quota (bytes and inodes): what the accounting (a
    // diff of the versions before and after each write) costs the writer.
    {
        let limited = memfs::MemFs::builder()
            .max_bytes(1 << 30)
            .max_inodes(1 << 20)
            .build();
        for d in &dirs {
            limited.create_dir(d).unwrap();
        }
        g.bench_function("memfs_quota", |b| {
            b.iter(|| memfs_cycle(&limited, &files, &data))
        });
    }

    // The same cycle inside one batch (`MemFs::batch`): one publish for all 30,000 operations.
    g.bench_function("memfs_batch", |b| {
        b.iter(|| {
            fs.batch(|tx| {
                for p in &files {
                    tx.write(p, &data)?;
                }
                for p in &files {
                    assert_eq!(tx.read(p)?.len(), data.len());
                }
                for p in &files {
                    tx.remove_file(p)?;
                }
                Ok(())
            })
            .unwrap()
        })
    });

    let tmp = common::tmpfs_dir("small");
    let host: Vec<_> = files.iter().map(|p| common::host(tmp.path(), p)).collect();
    for d in &dirs {
        std::fs::create_dir(common::host(tmp.path(), d)).unwrap();
    }
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            for p in &host {
                std::fs::write(p, &data).unwrap();
            }
            for p in &host {
                assert_eq!(std::fs::read(p).unwrap().len(), data.len());
            }
            for p in &host {
                std::fs::remove_file(p).unwrap();
            }
        })
    });

    let mem = vfs::MemoryFS::new();
    for d in &dirs {
        mem.create_dir(d).unwrap();
    }
    g.bench_function("vfs_memory", |b| b.iter(|| vfs_cycle(&mem, &files, &data)));

    // memfs behind the same vfs::FileSystem calls (feature `vfs`): what the backend adds.
    #[cfg(feature = "vfs")]
    {
        let backend = memfs::vfs::MemFsBackend::default();
        for d in &dirs {
            backend.create_dir(d).unwrap();
        }
        g.bench_function("memfs_vfs_backend", |b| {
            b.iter(|| vfs_cycle(&backend, &files, &data))
        });
    }

    // The disk filesystem is ~100x slower: one file in ten (same directories, same cycle),
    // reported per file, keeps this row to seconds instead of minutes.
    let disk = common::disk_dir("small");
    let phys = vfs::PhysicalFS::new(disk.path());
    for d in &dirs {
        phys.create_dir(d).unwrap();
    }
    let some: Vec<String> = files.iter().step_by(10).cloned().collect();
    g.throughput(Throughput::Elements(some.len() as u64));
    g.bench_function("vfs_physical", |b| {
        b.iter(|| vfs_cycle(&phys, &some, &data))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = small_files
}
criterion_main!(benches);
