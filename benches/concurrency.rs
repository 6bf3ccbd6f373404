//! Workload 6, concurrency: 1, 2, 4 and 8 reader threads read random 1 KiB files (of 10,000)
//! while one writer thread (group `6_concurrent_reads`) or two (`6_concurrent_reads_2_writers`)
//! overwrite random files of the same set, each 5,000 times a second (paced, so that both
//! backends carry the same write load). The reported time is per read per reader thread (so
//! reads/s per thread = 1 / time); the writes/s the writers achieved are printed beside it. memfs readers load the
//! published root and never wait; vfs MemoryFS readers take its `RwLock`, which the writer
//! holds for every write. The machine has 2 cores: past 1 reader + 1 writer, threads share CPUs.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vfs::FileSystem;

const DIRS: usize = 100;
/// The writer's pace: one commit every 200 µs.
const WRITES_PER_SEC: u32 = 5_000;

trait Backend: Sync {
    fn read(&self, p: &str) -> usize;
    fn write(&self, p: &str, data: &[u8]);
}

impl Backend for memfs::MemFs {
    fn read(&self, p: &str) -> usize {
        memfs::MemFs::read(self, p).unwrap().len()
    }
    fn write(&self, p: &str, data: &[u8]) {
        memfs::MemFs::write(self, p, data).unwrap()
    }
}

impl Backend for vfs::MemoryFS {
    fn read(&self, p: &str) -> usize {
        let mut v = Vec::with_capacity(1024);
        self.open_file(p).unwrap().read_to_end(&mut v).unwrap()
    }
    fn write(&self, p: &str, data: &[u8]) {
        self.create_file(p).unwrap().write_all(data).unwrap()
    }
}

/// Runs `readers` threads doing `iters` reads each while a writer overwrites files; returns
/// the mean time one reader took for its `iters` reads. Also counts the writer's commits.
fn run(
    fs: &dyn Backend,
    files: &[String],
    (writers, readers): (usize, usize),
    iters: u64,
    commits: &AtomicU64,
) -> Duration {
    let stop = AtomicBool::new(false);
    // Stops the writer however this function ends (a panicking reader included), so the scope
    // below can always join it.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let start = Barrier::new(readers + writers);
    let data = common::data(1024, 6);
    std::thread::scope(|s| {
        for w in 0..writers {
            let (stop, start, data) = (&stop, &start, &data);
            s.spawn(move || {
                let mut rng = common::Rng::new(99 + w as u64);
                start.wait();
                // A paced writer (WRITES_PER_SEC at most), so both backends carry the same write
                // load; one that cannot keep up (readers holding its lock) shows fewer commits/s.
                let interval = Duration::from_secs(1) / WRITES_PER_SEC;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep(next - now);
                    }
                    next = next.max(now) + interval;
                    fs.write(&files[rng.below(files.len())], data);
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let handles: Vec<_> = (0..readers)
            .map(|r| {
                let (start, files) = (&start, files);
                s.spawn(move || {
                    let mut rng = common::Rng::new(r as u64 + 1);
                    start.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        // vfs MemoryFS's create_file empties the file at once and stores the
                        // bytes on drop, so its readers may see 0 bytes mid-write.
                        let n = fs.read(&files[rng.below(files.len())]);
                        assert!(n == 1024 || n == 0);
                    }
                    t.elapsed()
                })
            })
            .collect();
        let _stop = StopOnDrop(&stop);
        let total: Duration = handles.into_iter().map(|h| h.join().unwrap()).sum();
        total / readers as u32
    })
}

fn concurrency(c: &mut Criterion) {
    let n = common::scaled(10_000);
    let files: Vec<String> = (0..n)
        .map(|i| format!("/d{:02}/f{i:05}", i % DIRS))
        .collect();
    let data = common::data(1024, 5);
    let fs = memfs::MemFs::new();
    let mem = vfs::MemoryFS::new();
    for d in 0..DIRS {
        fs.create_dir(format!("/d{d:02}")).unwrap();
        mem.create_dir(&format!("/d{d:02}")).unwrap();
    }
    for p in &files {
        Backend::write(&fs, p, &data);
        Backend::write(&mem, p, &data);
    }

    let backends: [(&str, &dyn Backend); 2] = [("memfs", &fs), ("vfs_memory", &mem)];
    for writers in [1usize, 2] {
        let group = match writers {
            1 => "6_concurrent_reads".to_string(),
            w => format!("6_concurrent_reads_{w}_writers"),
        };
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        g.sample_size(10);
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(2));
        for readers in [1usize, 2, 4, 8] {
            for (name, backend) in backends {
                let commits = AtomicU64::new(0);
                let mut busy = Duration::ZERO;
                g.bench_with_input(BenchmarkId::new(name, readers), &readers, |b, &r| {
                    b.iter_custom(|iters| {
                        let t = Instant::now();
                        let per_reader = run(backend, &files, (writers, r), iters, &commits);
                        busy += t.elapsed();
                        per_reader
                    })
                });
                // The other side of the trade: how much the writers got done meanwhile.
                eprintln!(
                    "  {name} with {readers} readers, {writers} writer(s): {:.0} writes/s",
                    commits.load(Ordering::Relaxed) as f64 / busy.as_secs_f64()
                );
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = concurrency
}
criterion_main!(benches);
