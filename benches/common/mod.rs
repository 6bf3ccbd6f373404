//! Helpers shared by the bench binaries: the three backends' setup, deterministic random
//! numbers, and the quick-mode scale. Every bench file does `mod common;`; not every file uses
//! every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use criterion::Criterion;

/// `MEMFS_BENCH_QUICK=1` divides tree sizes by 10 (a smoke run; numbers are not comparable).
pub fn quick() -> bool {
    std::env::var_os("MEMFS_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// `n`, or `n / 10` in quick mode.
pub fn scaled(n: usize) -> usize {
    if quick() {
        (n / 10).max(1)
    } else {
        n
    }
}

/// Criterion settings for the suite: short warm-up and measurement, so `cargo bench` stays
/// under 10 minutes on a 2-core machine. Criterion's own `--quick` flag shortens it further.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args()
}

/// The directory the kernel-filesystem backends work in: a fresh directory under `/dev/shm`
/// (tmpfs), or under the temp dir when `/dev/shm` is missing (a note says so, once).
pub fn tmpfs_dir(tag: &str) -> tempfile::TempDir {
    static NOTE: Once = Once::new();
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() && tempfile::Builder::new().tempdir_in(shm).is_ok() {
        shm.to_path_buf()
    } else {
        NOTE.call_once(|| {
            eprintln!("note: /dev/shm is not usable; the `tmpfs` rows use the temp dir instead")
        });
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix(&format!("memfs-bench-{tag}-"))
        .tempdir_in(base)
        .expect("create the kernel-fs bench directory")
}

/// A fresh directory in the temp dir (the disk filesystem), for `vfs::PhysicalFS`.
pub fn disk_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("memfs-bench-{tag}-"))
        .tempdir()
        .expect("create the disk bench directory")
}

/// `base` + a `/`-path (`/a/b` -> `base/a/b`).
pub fn host(base: &Path, p: &str) -> PathBuf {
    base.join(p.trim_start_matches('/'))
}

/// xorshift64*: deterministic, dependency-free random numbers for the workloads.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `len` bytes of deterministic, non-repeating-looking data (so no backend gets lucky).
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}
