//! Workload 3, large files: write and read 64 MiB sequentially, and 4 KiB reads at random
//! offsets, on memfs, tmpfs (std::fs on /dev/shm), vfs MemoryFS and vfs PhysicalFS (temp dir).
//! `memcpy` of 64 MiB is the physical bound: into a reused buffer (the bound for reading into
//! a caller's buffer) and into a fresh `Vec` (the bound for `read()` returning a new `Vec`).

mod common;

use std::hint::black_box;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use vfs::FileSystem;

const RANDOM_READS: usize = 1000;

fn settings<M: criterion::measurement::Measurement>(g: &mut BenchmarkGroup<'_, M>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
}

fn large_files(c: &mut Criterion) {
    let size = common::scaled(64 << 20);
    let data = common::data(size, 3);
    let mut reused = vec![0u8; size];

    let fs = memfs::MemFs::new();
    let tmp = common::tmpfs_dir("large");
    let host = tmp.path().join("big.bin");
    let mem = vfs::MemoryFS::new();
    let disk = common::disk_dir("large");
    let phys = vfs::PhysicalFS::new(disk.path());

    let mut g = c.benchmark_group("3_write_64MiB");
    g.throughput(Throughput::Bytes(size as u64));
    settings(&mut g);
    g.bench_function("memfs", |b| b.iter(|| fs.write("/big.bin", &data).unwrap()));
    g.bench_function("tmpfs", |b| {
        b.iter(|| std::fs::write(&host, &data).unwrap())
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            mem.create_file("/big.bin")
                .unwrap()
                .write_all(&data)
                .unwrap()
        })
    });
    g.bench_function("vfs_physical", |b| {
        b.iter(|| {
            phys.create_file("/big.bin")
                .unwrap()
                .write_all(&data)
                .unwrap()
        })
    });
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut reused).copy_from_slice(black_box(&data)))
    });
    g.finish();

    // Whole-file reads into a fresh Vec (std::fs::read's shape).
    let mut g = c.benchmark_group("3_read_64MiB");
    g.throughput(Throughput::Bytes(size as u64));
    settings(&mut g);
    g.bench_function("memfs", |b| {
        b.iter(|| assert_eq!(fs.read("/big.bin").unwrap().len(), size))
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| assert_eq!(std::fs::read(&host).unwrap().len(), size))
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            mem.open_file("/big.bin")
                .unwrap()
                .read_to_end(&mut v)
                .unwrap();
            assert_eq!(v.len(), size)
        })
    });
    g.bench_function("vfs_physical", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            phys.open_file("/big.bin")
                .unwrap()
                .read_to_end(&mut v)
                .unwrap();
            assert_eq!(v.len(), size)
        })
    });
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(black_box(&data).to_vec()))
    });
    g.finish();

    // Whole-file reads into the caller's buffer (an open handle + read_exact).
    let mut g = c.benchmark_group("3_read_into_64MiB");
    g.throughput(Throughput::Bytes(size as u64));
    settings(&mut g);
    g.bench_function("memfs", |b| {
        b.iter(|| {
            fs.open("/big.bin")
                .unwrap()
                .read_exact(&mut reused)
                .unwrap()
        })
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            std::fs::File::open(&host)
                .unwrap()
                .read_exact(&mut reused)
                .unwrap()
        })
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            mem.open_file("/big.bin")
                .unwrap()
                .read_exact(&mut reused)
                .unwrap()
        })
    });
    g.bench_function("memcpy", |b| {
        b.iter(|| black_box(&mut reused).copy_from_slice(black_box(&data)))
    });
    g.finish();

    // 4 KiB reads at random offsets through one open handle.
    let mut rng = common::Rng::new(4);
    let offsets: Vec<u64> = (0..RANDOM_READS)
        .map(|_| rng.below(size - 4096) as u64)
        .collect();
    let mut page = [0u8; 4096];
    let mut g = c.benchmark_group("3_random_read_4KiB");
    g.throughput(Throughput::Elements(RANDOM_READS as u64));
    let mut f = fs.open("/big.bin").unwrap();
    g.bench_function("memfs", |b| {
        b.iter(|| {
            for &o in &offsets {
                f.seek(SeekFrom::Start(o)).unwrap();
                f.read_exact(&mut page).unwrap();
            }
        })
    });
    let mut f = std::fs::File::open(&host).unwrap();
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            for &o in &offsets {
                f.seek(SeekFrom::Start(o)).unwrap();
                f.read_exact(&mut page).unwrap();
            }
        })
    });
    let mut f = mem.open_file("/big.bin").unwrap();
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            for &o in &offsets {
                f.seek(SeekFrom::Start(o)).unwrap();
                f.read_exact(&mut page).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = large_files
}
criterion_main!(benches);
