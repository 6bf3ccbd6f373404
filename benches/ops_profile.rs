//! Not a criterion bench: a fixed loop of single operations for profilers. It runs `ROUNDS`
//! (default 3) rounds of write (1 KiB), read, metadata, exists (miss) and remove_file over
//! 10,000 files in 100 directories and prints the mean time per call. The per-call instruction
//! counts in BENCHMARKS.md come from running it under callgrind:
//!
//! ```sh
//! cargo bench --bench ops_profile --no-run
//! ROUNDS=2 valgrind --tool=callgrind target/release/deps/ops_profile-<hash>
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | grep 'MemFs::'
//! ```
//!
//! `OPS` (a comma-separated subset of `write,read,metadata,exists,remove_file`; default all)
//! limits the timed loop to those operations (writes and removes still run when left out, so
//! every round starts from the same tree): the instructions of one call of an operation are
//! the difference between a run with it and one without, divided by `ROUNDS * 10,000`.
//!
//! `W1=memfs|batch|vfs` runs workload 1 instead (`ROUNDS` × 10,000 × (write 1 KiB, read,
//! remove) over the same paths; `batch`: each round in one `MemFs::batch`; `vfs`:
//! `vfs::MemoryFS` through `create_file` + `write_all`, `open_file` + `read_to_end`,
//! `remove_file`); `W1=none` only builds the paths: instructions per file are (run − `none`
//! run) / (`ROUNDS` × 10,000), the 100 directories each backend makes first included.

use std::io::{Read, Write};
use std::time::Instant;

use vfs::FileSystem;

fn w1(mode: &str, rounds: usize) {
    let files: Vec<String> = (0..10_000)
        .map(|i| format!("/d{:02}/f{i:05}.txt", i % 100))
        .collect();
    let data = vec![7u8; 1024];
    let start = Instant::now();
    if mode == "none" {
        return;
    }
    if mode == "vfs" {
        let fs = vfs::MemoryFS::new();
        for d in 0..100 {
            fs.create_dir(&format!("/d{d:02}")).unwrap();
        }
        let mut buf = Vec::with_capacity(data.len());
        for _ in 0..rounds {
            for p in &files {
                fs.create_file(p).unwrap().write_all(&data).unwrap();
            }
            for p in &files {
                buf.clear();
                fs.open_file(p).unwrap().read_to_end(&mut buf).unwrap();
                assert_eq!(buf.len(), data.len());
            }
            for p in &files {
                fs.remove_file(p).unwrap();
            }
        }
    } else {
        let fs = memfs::MemFs::new();
        for d in 0..100 {
            fs.create_dir(format!("/d{d:02}")).unwrap();
        }
        let cycle = |w: &mut dyn FnMut(&str) -> std::io::Result<()>,
                     r: &mut dyn FnMut(&str) -> std::io::Result<usize>,
                     d: &mut dyn FnMut(&str) -> std::io::Result<()>| {
            for p in &files {
                w(p).unwrap();
            }
            for p in &files {
                assert_eq!(r(p).unwrap(), 1024);
            }
            for p in &files {
                d(p).unwrap();
            }
        };
        for _ in 0..rounds {
            match mode {
                "batch" => fs
                    .batch(|tx| {
                        let tx = std::cell::RefCell::new(tx);
                        cycle(
                            &mut |p| tx.borrow_mut().write(p, &data),
                            &mut |p| tx.borrow().read(p).map(|v| v.len()),
                            &mut |p| tx.borrow_mut().remove_file(p),
                        );
                        Ok(())
                    })
                    .unwrap(),
                _ => cycle(
                    &mut |p| fs.write(p, &data),
                    &mut |p| fs.read(p).map(|v| v.len()),
                    &mut |p| fs.remove_file(p),
                ),
            }
        }
    }
    let per = start.elapsed().as_secs_f64() / (rounds * files.len()) as f64 * 1e9;
    println!("ops_profile: W1 {mode}: {per:.0} ns per file");
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    if let Ok(mode) = std::env::var("W1") {
        return w1(&mode, rounds);
    }
    let n = 10_000;
    let fs = memfs::MemFs::new();
    for d in 0..100 {
        fs.create_dir(format!("/d{d:02}")).unwrap();
    }
    let files: Vec<String> = (0..n)
        .map(|i| format!("/d{:02}/f{i:05}.txt", i % 100))
        .collect();
    let misses: Vec<String> = files.iter().map(|p| format!("{p}.x")).collect();
    let data = vec![7u8; 1024];
    let ops = std::env::var("OPS").unwrap_or_default();
    let on = |name: &str| ops.is_empty() || ops.split(',').any(|o| o == name);
    let mut t = [0f64; 5];
    for _ in 0..rounds {
        let s = Instant::now();
        for p in &files {
            fs.write(p, &data).unwrap();
        }
        t[0] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        if on("read") {
            for p in &files {
                assert_eq!(fs.read(p).unwrap().len(), 1024);
            }
        }
        t[1] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        if on("metadata") {
            for p in &files {
                assert_eq!(fs.metadata(p).unwrap().len(), 1024);
            }
        }
        t[2] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        if on("exists") {
            for p in &misses {
                assert!(!fs.exists(p));
            }
        }
        t[3] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        for p in &files {
            fs.remove_file(p).unwrap();
        }
        t[4] += s.elapsed().as_secs_f64();
    }
    let per = |x: f64| x / (rounds * n) as f64 * 1e9;
    println!(
        "ops_profile: write {:.0} ns, read {:.0} ns, metadata {:.0} ns, exists (miss) {:.0} ns, remove_file {:.0} ns",
        per(t[0]),
        per(t[1]),
        per(t[2]),
        per(t[3]),
        per(t[4])
    );
}
