//! Workload 5, snapshots: `snapshot()` (taken and dropped) on trees of 10, 10,000 and
//! 1,000,000 files. memfs only; the point is that the three times are equal (O(1)). A second
//! function measures the first write after a snapshot, which copies only the path to the
//! changed file (O(depth), not O(files)). A third measures `Snapshot::diff` of two versions
//! that differ in one file: it visits only what changed, so it should not grow with the tree;
//! `5_diff_unrelated` compares a diff of two trees that share nothing with walking both.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn build(files: usize) -> memfs::MemFs {
    let fs = memfs::MemFs::new();
    let per_dir = 1000;
    for d in 0..files.div_ceil(per_dir) {
        fs.create_dir(format!("/d{d:04}")).unwrap();
    }
    for i in 0..files {
        fs.write(format!("/d{:04}/f{i:07}", i / per_dir), b"")
            .unwrap();
    }
    fs
}

fn snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("5_snapshot");
    for files in [10, 10_000, common::scaled(1_000_000)] {
        let fs = build(files);
        g.bench_with_input(BenchmarkId::new("memfs", files), &fs, |b, fs| {
            b.iter(|| black_box(fs.snapshot()))
        });
        g.bench_with_input(
            BenchmarkId::new("memfs_snapshot_then_write", files),
            &fs,
            |b, fs| {
                b.iter(|| {
                    let s = fs.snapshot();
                    fs.write("/d0000/f0000000", b"changed").unwrap();
                    s
                })
            },
        );
        let before = fs.snapshot();
        fs.write(format!("/d0000/f{:07}", files / 2 % 1000), b"one change")
            .unwrap();
        let after = fs.snapshot();
        assert_eq!(before.diff(&after).len(), 1);
        g.bench_with_input(
            BenchmarkId::new("memfs_diff_one_change", files),
            &(before, after),
            |b, (before, after)| b.iter(|| black_box(before.diff(after))),
        );
    }
    g.finish();

    // Two trees built separately (no shared node): the diff must visit everything, so it is
    // compared with walking both trees through the read API.
    let mut g = c.benchmark_group("5_diff_unrelated");
    let files = common::scaled(100_000);
    let (a, b) = (build(files), build(files));
    b.write("/d0000/f0000000", b"the one difference").unwrap();
    let (sa, sb) = (a.snapshot(), b.snapshot());
    g.bench_function(BenchmarkId::new("memfs_diff", files), |bench| {
        bench.iter(|| black_box(sa.diff(&sb)))
    });
    g.bench_function(BenchmarkId::new("memfs_walk_both", files), |bench| {
        bench.iter(|| {
            let n: usize = [&sa, &sb]
                .iter()
                .map(|s| {
                    s.walk("/")
                        .unwrap()
                        .map(|(_, d, f)| d.len() + f.len())
                        .sum::<usize>()
                })
                .sum();
            black_box(n)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = snapshot
}
criterion_main!(benches);
