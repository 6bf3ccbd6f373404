//! Workloads on a 100,000-file tree (100 top directories x 10 subdirectories x 100 files;
//! one name in ten ends in `.log`, one content in a thousand holds the word `needle`):
//! - 2, metadata: `metadata` on existing paths, `metadata` and `exists` on missing ones;
//! - 4, directories: `read_dir` of one 10,000-entry directory, and a full `walk`;
//! - 7, find and search: names matching `*.log`, and files containing `needle`, sequentially
//!   and with rayon (one task per top directory), written against the public read API.
//!
//! Backends: memfs, tmpfs (std::fs on /dev/shm) and vfs MemoryFS. vfs PhysicalFS is left out
//! here: on the temp dir (a disk filesystem) it would measure a different workload.

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rayon::prelude::*;
use vfs::FileSystem;

const TOP: usize = 100;
const SUB: usize = 10;
const LOOKUPS: usize = 1000;

struct Tree {
    top: Vec<String>,
    files: Vec<String>,
}

fn tree() -> Tree {
    let per_dir = common::scaled(100_000) / (TOP * SUB);
    let top: Vec<String> = (0..TOP).map(|t| format!("/t{t:02}")).collect();
    let mut files = Vec::new();
    for t in &top {
        for s in 0..SUB {
            for f in 0..per_dir {
                let ext = if f % 10 == 3 { "log" } else { "txt" };
                files.push(format!("{t}/s{s}/file{f:03}.{ext}"));
            }
        }
    }
    Tree { top, files }
}

fn content(i: usize) -> Vec<u8> {
    let word = if i % 1000 == 7 { "needle" } else { "straw" };
    format!("line one of file {i}\nthe {word} is here\nlast line\n").into_bytes()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn sample(tree: &Tree, seed: u64) -> (Vec<String>, Vec<String>) {
    let mut rng = common::Rng::new(seed);
    let hits: Vec<String> = (0..LOOKUPS)
        .map(|_| tree.files[rng.below(tree.files.len())].clone())
        .collect();
    // A miss: a missing name in an existing directory (the usual "does it exist yet?" case).
    let misses = hits.iter().map(|p| format!("{p}.missing")).collect();
    (hits, misses)
}

fn build_memfs(tree: &Tree) -> memfs::MemFs {
    let fs = memfs::MemFs::new();
    for t in &tree.top {
        for s in 0..SUB {
            fs.create_dir_all(format!("{t}/s{s}")).unwrap();
        }
    }
    for (i, p) in tree.files.iter().enumerate() {
        fs.write(p, content(i)).unwrap();
    }
    fs
}

fn build_host(tree: &Tree, base: &Path) -> Vec<PathBuf> {
    for t in &tree.top {
        for s in 0..SUB {
            std::fs::create_dir_all(common::host(base, &format!("{t}/s{s}"))).unwrap();
        }
    }
    tree.files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let h = common::host(base, p);
            std::fs::write(&h, content(i)).unwrap();
            h
        })
        .collect()
}

fn build_vfs(tree: &Tree) -> vfs::MemoryFS {
    let fs = vfs::MemoryFS::new();
    for t in &tree.top {
        fs.create_dir(t).unwrap();
        for s in 0..SUB {
            fs.create_dir(&format!("{t}/s{s}")).unwrap();
        }
    }
    for (i, p) in tree.files.iter().enumerate() {
        use std::io::Write;
        fs.create_file(p).unwrap().write_all(&content(i)).unwrap();
    }
    fs
}

// --- walks: (dirs, files) seen, like os.walk -------------------------------------------------

fn std_walk(dir: &Path, visit: &mut dyn FnMut(&Path, &std::fs::DirEntry)) -> usize {
    let mut files = 0;
    let mut subdirs = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            subdirs.push(e.path());
        } else {
            files += 1;
            visit(dir, &e);
        }
    }
    for d in subdirs {
        files += std_walk(&d, visit);
    }
    files
}

fn vfs_walk(fs: &vfs::MemoryFS, dir: &str, visit: &mut dyn FnMut(&str)) -> usize {
    let mut files = 0;
    let mut subdirs = Vec::new();
    for name in fs.read_dir(dir).unwrap() {
        let p = format!("{dir}/{name}");
        if fs.metadata(&p).unwrap().file_type == vfs::VfsFileType::Directory {
            subdirs.push(p);
        } else {
            files += 1;
            visit(&p);
        }
    }
    for d in subdirs {
        files += vfs_walk(fs, &d, visit);
    }
    files
}

fn memfs_find(fs: &memfs::Snapshot, top: &str) -> usize {
    fs.walk(top)
        .unwrap()
        .map(|(_, _, files)| files.iter().filter(|f| f.ends_with(".log")).count())
        .sum()
}

fn memfs_search(fs: &memfs::Snapshot, top: &str) -> usize {
    let mut n = 0;
    for (dir, _, files) in fs.walk(top).unwrap() {
        for f in files {
            if contains(&fs.read(format!("{dir}/{f}")).unwrap(), b"needle") {
                n += 1;
            }
        }
    }
    n
}

fn std_find(top: &Path) -> usize {
    let mut n = 0;
    std_walk(top, &mut |_, e| {
        if e.file_name().as_encoded_bytes().ends_with(b".log") {
            n += 1
        }
    });
    n
}

fn std_search(top: &Path) -> usize {
    let mut n = 0;
    std_walk(top, &mut |_, e| {
        if contains(&std::fs::read(e.path()).unwrap(), b"needle") {
            n += 1
        }
    });
    n
}

fn short<M: criterion::measurement::Measurement>(g: &mut BenchmarkGroup<'_, M>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
}

fn tree_workloads(c: &mut Criterion) {
    let tree = tree();
    let n_files = tree.files.len();
    let (hits, misses) = sample(&tree, 2);
    let fs = build_memfs(&tree);
    let tmp = common::tmpfs_dir("tree");
    build_host(&tree, tmp.path());
    let mem = build_vfs(&tree);
    let host_hits: Vec<_> = hits.iter().map(|p| common::host(tmp.path(), p)).collect();
    let host_misses: Vec<_> = misses.iter().map(|p| common::host(tmp.path(), p)).collect();

    // 2: metadata -----------------------------------------------------------------------
    let mut g = c.benchmark_group("2_metadata_hit");
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("memfs", |b| {
        b.iter(|| {
            hits.iter()
                .map(|p| fs.metadata(p).unwrap().len())
                .sum::<u64>()
        })
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            host_hits
                .iter()
                .map(|p| std::fs::metadata(p).unwrap().len())
                .sum::<u64>()
        })
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| {
            hits.iter()
                .map(|p| mem.metadata(p).unwrap().len)
                .sum::<u64>()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("2_metadata_miss");
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("memfs", |b| {
        b.iter(|| misses.iter().filter(|p| fs.metadata(p).is_err()).count())
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            host_misses
                .iter()
                .filter(|p| std::fs::metadata(p).is_err())
                .count()
        })
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| misses.iter().filter(|p| mem.metadata(p).is_err()).count())
    });
    g.finish();

    let mut g = c.benchmark_group("2_exists_miss");
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    g.bench_function("memfs", |b| {
        b.iter(|| misses.iter().filter(|p| fs.exists(p)).count())
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| host_misses.iter().filter(|p| p.exists()).count())
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| misses.iter().filter(|p| mem.exists(p).unwrap()).count())
    });
    g.finish();

    // 4: walk ---------------------------------------------------------------------------
    let mut g = c.benchmark_group("4_walk_100k");
    g.throughput(Throughput::Elements(n_files as u64));
    short(&mut g);
    g.bench_function("memfs", |b| {
        b.iter(|| {
            let n: usize = fs.walk("/").unwrap().map(|(_, _, f)| f.len()).sum();
            assert_eq!(n, n_files);
        })
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| assert_eq!(std_walk(tmp.path(), &mut |_, _| {}), n_files))
    });
    // vfs MemoryFS keeps one flat map of full paths, and its read_dir scans all of it: a walk
    // costs O(directories x entries), about 0.5 s for 10,000 files and ~50 s for 100,000. It
    // is measured in quick mode (MEMFS_BENCH_QUICK=1) only, to keep the suite short.
    if n_files <= 20_000 {
        g.bench_function("vfs_memory", |b| {
            b.iter(|| assert_eq!(vfs_walk(&mem, "", &mut |_| {}), n_files))
        });
    } else {
        eprintln!(
            "note: 4_walk_100k/vfs_memory skipped (O(dirs x entries) read_dir, ~50 s per walk)"
        );
    }
    g.finish();

    // 7: find and search, sequential vs rayon over the top directories -------------------
    let expect_logs = tree.files.iter().filter(|p| p.ends_with(".log")).count();
    let expect_needles = (0..n_files).filter(|i| i % 1000 == 7).count();
    let snap = fs.snapshot();
    let host_top: Vec<PathBuf> = tree
        .top
        .iter()
        .map(|t| common::host(tmp.path(), t))
        .collect();

    let mut g = c.benchmark_group("7_find_100k");
    g.throughput(Throughput::Elements(n_files as u64));
    short(&mut g);
    g.bench_function("memfs_sequential", |b| {
        b.iter(|| assert_eq!(memfs_find(&snap, "/"), expect_logs))
    });
    g.bench_function("memfs_rayon", |b| {
        b.iter(|| {
            let n: usize = tree.top.par_iter().map(|t| memfs_find(&snap, t)).sum();
            assert_eq!(n, expect_logs)
        })
    });
    g.bench_function("tmpfs_sequential", |b| {
        b.iter(|| assert_eq!(std_find(tmp.path()), expect_logs))
    });
    g.bench_function("tmpfs_rayon", |b| {
        b.iter(|| {
            let n: usize = host_top.par_iter().map(|t| std_find(t)).sum();
            assert_eq!(n, expect_logs)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("7_search_100k");
    g.throughput(Throughput::Elements(n_files as u64));
    short(&mut g);
    g.bench_function("memfs_sequential", |b| {
        b.iter(|| assert_eq!(memfs_search(&snap, "/"), expect_needles))
    });
    g.bench_function("memfs_rayon", |b| {
        b.iter(|| {
            let n: usize = tree.top.par_iter().map(|t| memfs_search(&snap, t)).sum();
            assert_eq!(n, expect_needles)
        })
    });
    g.bench_function("tmpfs_sequential", |b| {
        b.iter(|| assert_eq!(std_search(tmp.path()), expect_needles))
    });
    g.bench_function("tmpfs_rayon", |b| {
        b.iter(|| {
            let n: usize = host_top.par_iter().map(|t| std_search(t)).sum();
            assert_eq!(n, expect_needles)
        })
    });
    g.finish();
    drop(mem);
    black_box(&fs);
}

fn read_dir_10k(c: &mut Criterion) {
    let n = common::scaled(10_000);
    let names: Vec<String> = (0..n).map(|i| format!("/big/entry{i:05}")).collect();
    let fs = memfs::MemFs::new();
    fs.create_dir("/big").unwrap();
    let tmp = common::tmpfs_dir("readdir");
    let big = tmp.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let mem = vfs::MemoryFS::new();
    mem.create_dir("/big").unwrap();
    for p in &names {
        fs.write(p, b"x").unwrap();
        std::fs::write(common::host(tmp.path(), p), b"x").unwrap();
        use std::io::Write;
        mem.create_file(p).unwrap().write_all(b"x").unwrap();
    }

    let mut g = c.benchmark_group("4_read_dir_10k");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("memfs", |b| {
        b.iter(|| assert_eq!(fs.read_dir("/big").unwrap().len(), n))
    });
    g.bench_function("memfs_listdir", |b| {
        b.iter(|| assert_eq!(fs.listdir("/big").unwrap().len(), n))
    });
    g.bench_function("tmpfs", |b| {
        b.iter(|| {
            let v: Vec<(std::ffi::OsString, bool)> = std::fs::read_dir(&big)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.file_name(), e.file_type().unwrap().is_file())
                })
                .collect();
            assert_eq!(v.len(), n)
        })
    });
    g.bench_function("vfs_memory", |b| {
        b.iter(|| assert_eq!(mem.read_dir("/big").unwrap().count(), n))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = tree_workloads, read_dir_10k
}
criterion_main!(benches);
