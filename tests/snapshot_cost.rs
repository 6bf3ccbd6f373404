//! Measures what `snapshot()` costs on a small and on a huge tree (it must not depend on the
//! size). Ignored by default (it builds 1,000,000 files); run in release mode:
//! `cargo test --release --test snapshot_cost -- --ignored --nocapture`

use std::hint::black_box;
use std::time::Instant;

use memfs::MemFs;

/// Builds `n` small files in directories of 1,000, in one transaction (mutated in place).
fn tree_of(n: usize) -> MemFs {
    let fs = MemFs::new();
    let t = Instant::now();
    fs.transaction(|tx| {
        for i in 0..n {
            if i % 1000 == 0 {
                tx.create_dir(format!("/d{}", i / 1000))?;
            }
            tx.write(format!("/d{}/f{}", i / 1000, i % 1000), "x")?;
        }
        Ok(())
    })
    .unwrap();
    println!("built {n} files in one transaction in {:?}", t.elapsed());
    assert_eq!(fs.stats().files, n as u64);
    fs
}

/// Mean cost of taking (and dropping) one snapshot, in nanoseconds.
fn snapshot_ns(fs: &MemFs) -> f64 {
    const ROUNDS: u32 = 1_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..ROUNDS {
            black_box(fs.snapshot());
        }
        best = best.min(t.elapsed().as_nanos() as f64 / ROUNDS as f64);
    }
    best
}

#[test]
#[ignore = "measurement: builds 1,000,000 files; run with --release -- --ignored --nocapture"]
fn snapshot_cost_does_not_depend_on_tree_size() {
    let small = tree_of(10);
    let big = tree_of(1_000_000);
    let (s, b) = (snapshot_ns(&small), snapshot_ns(&big));
    println!("snapshot(): {s:.1} ns with 10 files, {b:.1} ns with 1,000,000 files");
    // Loose bound: O(1) means no factor anywhere near the 100,000x size ratio.
    assert!(
        b < s * 5.0 + 50.0,
        "snapshot cost grew with the tree: {s} vs {b}"
    );
    // A snapshot of the big tree stays valid and readable while the tree changes.
    let snap = big.snapshot();
    big.remove_dir_all("/d999").unwrap();
    assert_eq!(snap.read_to_string("/d999/f999").unwrap(), "x");
}
