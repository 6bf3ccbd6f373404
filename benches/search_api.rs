//! Workload 7 through memfs's own parallel API (`MemFs::find`, `MemFs::search_content`, from
//! src/par.rs); registered in Cargo.toml as `[[bench]] name = "search_api"`.
//!
//! Same 100,000-file tree as `benches/tree.rs` (one name in ten `*.log`, one content in a
//! thousand holds `needle`); compare with `7_find_100k` / `7_search_100k` there, which do the
//! same with the public read API (sequential walk, and rayon over the top directories).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn search_api(c: &mut Criterion) {
    let n = common::scaled(100_000);
    let per_dir = n / 1000;
    let fs = memfs::MemFs::new();
    let mut i = 0;
    for t in 0..100 {
        for s in 0..10 {
            fs.create_dir_all(format!("/t{t:02}/s{s}")).unwrap();
            for f in 0..per_dir {
                let ext = if f % 10 == 3 { "log" } else { "txt" };
                let word = if i % 1000 == 7 { "needle" } else { "straw" };
                let text = format!("line one of file {i}\nthe {word} is here\nlast line\n");
                fs.write(format!("/t{t:02}/s{s}/file{f:03}.{ext}"), text)
                    .unwrap();
                i += 1;
            }
        }
    }
    let mut g = c.benchmark_group("7_api_100k");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("memfs_find", |b| {
        b.iter(|| black_box(fs.find("*.log", "/")))
    });
    g.bench_function("memfs_search_content", |b| {
        b.iter(|| black_box(fs.search_content("needle", None, "/")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = search_api
}
criterion_main!(benches);
