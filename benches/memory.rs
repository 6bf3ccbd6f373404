//! Workload 8, dedup and memory:
//! - bytes of memory per small file: 10,000 files of 1 KiB written into a fresh filesystem,
//!   counted by a counting global allocator (memfs, vfs MemoryFS) or by the kernel's `Shmem`
//!   counter in /proc/meminfo (tmpfs; page granularity, noisy if others use /dev/shm);
//! - stored bytes for 100 identical 1 MiB files: memfs's `stats().stored_bytes` and the
//!   allocator's count, vs the same for vfs MemoryFS and tmpfs.
//!
//! The numbers are printed and written to `target/criterion/memory.json` (read by
//! `benches/report.sh`); the time to write the 100 identical files is a criterion group.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vfs::FileSystem;

/// Counts live heap bytes (all threads).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counter
// is only arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// `Shmem:` of /proc/meminfo in bytes (tmpfs pages), if readable.
fn shmem() -> Option<isize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("Shmem:"))?;
    let kb: isize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

const SMALL: usize = 10_000;
const DUPES: usize = 100;
const MIB: usize = 1 << 20;

fn small_paths() -> Vec<String> {
    (0..SMALL)
        .map(|i| format!("/d{:02}/f{i:05}", i % 100))
        .collect()
}

struct Row {
    backend: &'static str,
    per_small_file: f64,
    dup_bytes: f64,
    note: &'static str,
}

fn measure() -> Vec<Row> {
    let paths = small_paths();
    let small = common::data(1024, 8);
    let big = common::data(MIB, 9);
    let mut rows = Vec::new();

    // memfs
    let before = live();
    let fs = memfs::MemFs::new();
    for d in 0..100 {
        fs.create_dir(format!("/d{d:02}")).unwrap();
    }
    let dirs_done = live();
    for p in &paths {
        fs.write(p, &small).unwrap();
    }
    let per_file = (live() - dirs_done) as f64 / SMALL as f64;
    drop(fs);
    assert!(live() - before < 64 * 1024, "memfs frees what it allocates");
    let fs = memfs::MemFs::new();
    let before = live();
    for i in 0..DUPES {
        fs.write(format!("/copy{i:03}"), &big).unwrap();
    }
    let dup = (live() - before) as f64;
    let stats = fs.stats();
    assert_eq!(stats.logical_bytes, (DUPES * MIB) as u64);
    eprintln!(
        "memfs: {per_file:.0} B per 1 KiB file; 100 x 1 MiB identical: stored_bytes {} (logical {}), heap {dup:.0} B",
        stats.stored_bytes, stats.logical_bytes
    );
    rows.push(Row {
        backend: "memfs",
        per_small_file: per_file,
        dup_bytes: dup,
        note: "heap bytes (counting allocator)",
    });
    drop(fs);

    // vfs MemoryFS
    let mem = vfs::MemoryFS::new();
    for d in 0..100 {
        mem.create_dir(&format!("/d{d:02}")).unwrap();
    }
    let before = live();
    for p in &paths {
        mem.create_file(p).unwrap().write_all(&small).unwrap();
    }
    let per_file = (live() - before) as f64 / SMALL as f64;
    drop(mem);
    let mem = vfs::MemoryFS::new();
    let before = live();
    for i in 0..DUPES {
        mem.create_file(&format!("/copy{i:03}"))
            .unwrap()
            .write_all(&big)
            .unwrap();
    }
    let dup = (live() - before) as f64;
    drop(mem);
    eprintln!("vfs_memory: {per_file:.0} B per 1 KiB file; 100 x 1 MiB identical: heap {dup:.0} B");
    rows.push(Row {
        backend: "vfs_memory",
        per_small_file: per_file,
        dup_bytes: dup,
        note: "heap bytes (counting allocator)",
    });

    // tmpfs: the kernel's Shmem counter (page cache of tmpfs files; inodes/dentries not counted)
    if let Some(s0) = shmem() {
        let tmp = common::tmpfs_dir("memory");
        for d in 0..100 {
            std::fs::create_dir(tmp.path().join(format!("d{d:02}"))).unwrap();
        }
        for p in &paths {
            std::fs::write(common::host(tmp.path(), p), &small).unwrap();
        }
        let s1 = shmem().unwrap_or(s0);
        for i in 0..DUPES {
            std::fs::write(tmp.path().join(format!("copy{i:03}")), &big).unwrap();
        }
        let s2 = shmem().unwrap_or(s1);
        let per_file = (s1 - s0) as f64 / SMALL as f64;
        eprintln!(
            "tmpfs: {per_file:.0} B per 1 KiB file (Shmem); 100 x 1 MiB identical: {} B",
            s2 - s1
        );
        rows.push(Row {
            backend: "tmpfs",
            per_small_file: per_file,
            dup_bytes: (s2 - s1) as f64,
            note: "kernel Shmem pages (inodes and dentries not counted)",
        });
    }
    rows
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn write_json(rows: &[Row]) {
    let dir = target_dir().join("criterion");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"backend\":\"{}\",\"bytes_per_1KiB_file\":{:.0},\"bytes_for_100_identical_1MiB\":{:.0},\"note\":\"{}\"}}",
                r.backend, r.per_small_file, r.dup_bytes, r.note
            )
        })
        .collect();
    let _ = std::fs::write(dir.join("memory.json"), format!("[{}]\n", items.join(",")));
}

fn memory(c: &mut Criterion) {
    // Skip the (one-shot) memory measurement when criterion only lists or tests the benches.
    let rows = measure();
    write_json(&rows);

    let big = common::data(MIB, 9);
    let mut g = c.benchmark_group("8_write_100_identical_1MiB");
    g.throughput(Throughput::Bytes((DUPES * MIB) as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    let fs = memfs::MemFs::new();
    g.bench_function("memfs", |b| {
        b.iter(|| {
            for i in 0..DUPES {
                fs.write(format!("/copy{i:03}"), &big).unwrap();
            }
        })
    });
    let tmp = common::tmpfs_dir("dedup");
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            for i in 0..DUPES {
                std::fs::write(tmp.path().join(format!("copy{i:03}")), &big).unwrap();
            }
        })
    });
    let mem = vfs::MemoryFS::new();
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            for i in 0..DUPES {
                mem.create_file(&format!("/copy{i:03}"))
                    .unwrap()
                    .write_all(&big)
                    .unwrap();
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = memory
}
criterion_main!(benches);
