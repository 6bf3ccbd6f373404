//! Bounded stress test of the MVCC engine: threads doing random plain writes and transactions
//! while others take snapshots and check invariants on them.
//!
//! - Transfers between account files run as transactions; every snapshot must see the total
//!   unchanged (no reader ever sees half a transaction, no update is lost).
//! - Transactions also write pairs of files with equal contents; a snapshot must never see a
//!   pair that differs.
//! - A snapshot's walk must be internally consistent with its reads and its stats.
//! - At the end, with everything removed and every snapshot gone, the blob store is empty.
//!
//! Runs for `MEMFS_STRESS_MS` milliseconds (default 2000).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use memfs::{is_conflict, MemFs, INLINE_MAX};

const ACCOUNTS: u64 = 12;
const START: u64 = 1000;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn account(i: u64) -> String {
    format!("/bank/acct{i:02}")
}

fn balance(read: std::io::Result<String>) -> u64 {
    read.expect("account readable")
        .parse()
        .expect("account holds a number")
}

/// Content for pair `k`, version `v`: sometimes large enough to go to the blob store.
fn pair_content(k: u64, v: u64) -> Vec<u8> {
    let len = if v.is_multiple_of(3) {
        INLINE_MAX + 64
    } else {
        16
    };
    let mut data = vec![(v % 251) as u8; len];
    data[..8].copy_from_slice(&k.to_le_bytes());
    data[8..16].copy_from_slice(&v.to_le_bytes());
    data
}

fn check_snapshot(snap: &memfs::Snapshot) {
    let total: u64 = (0..ACCOUNTS)
        .map(|i| balance(snap.read_to_string(account(i))))
        .sum();
    assert_eq!(total, ACCOUNTS * START, "a snapshot saw half a transfer");
    for k in 0..4 {
        let a = snap.read(format!("/pairs/{k}/a"));
        let b = snap.read(format!("/pairs/{k}/b"));
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "a snapshot saw half a pair update"),
            (Err(_), Err(_)) => {}
            _ => panic!("a snapshot saw half a pair creation/removal"),
        }
    }
    let mut files = 0;
    let mut dirs = 0;
    for (dir, subdirs, names) in snap.walk("/").unwrap() {
        dirs += 1;
        assert!(snap.isdir(&dir), "{dir}");
        for d in &subdirs {
            assert!(snap.isdir(format!("{dir}/{d}").replace("//", "/")));
        }
        for f in &names {
            let p = format!("{dir}/{f}").replace("//", "/");
            let meta = snap.metadata(&p).unwrap();
            assert_eq!(snap.read(&p).unwrap().len() as u64, meta.len(), "{p}");
            files += 1;
        }
    }
    let stats = snap.stats();
    assert_eq!((stats.files, stats.dirs), (files, dirs));
}

#[test]
fn random_writes_and_transactions_with_concurrent_snapshot_checks() {
    let millis = std::env::var("MEMFS_STRESS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let deadline = Instant::now() + Duration::from_millis(millis);
    let fs = MemFs::new();
    fs.create_dir_all("/bank").unwrap();
    fs.create_dir_all("/files").unwrap();
    for i in 0..ACCOUNTS {
        fs.write(account(i), START.to_string()).unwrap();
    }
    for k in 0..4 {
        fs.create_dir_all(format!("/pairs/{k}")).unwrap();
    }

    let stop = AtomicBool::new(false);
    let transfers = AtomicU64::new(0);
    let gave_up = AtomicU64::new(0);
    let aborted = AtomicU64::new(0);
    let plain_writes = AtomicU64::new(0);
    let snapshots = AtomicU64::new(0);

    thread::scope(|s| {
        // Transfers through MemFs::transaction (retries on conflict).
        for t in 0..3u64 {
            let (fs, stop, transfers, gave_up) = (&fs, &stop, &transfers, &gave_up);
            s.spawn(move || {
                let mut rng = Rng::new(t + 1);
                while !stop.load(Ordering::Relaxed) {
                    let from = rng.below(ACCOUNTS);
                    let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
                    let amount = rng.below(50);
                    let r = fs.transaction(|tx| {
                        let a = balance(tx.read_to_string(account(from)));
                        let b = balance(tx.read_to_string(account(to)));
                        if a < amount {
                            return Ok(false);
                        }
                        tx.write(account(from), (a - amount).to_string())?;
                        tx.write(account(to), (b + amount).to_string())?;
                        Ok(true)
                    });
                    match r {
                        Ok(_) => transfers.fetch_add(1, Ordering::Relaxed),
                        Err(e) if is_conflict(&e) => gave_up.fetch_add(1, Ordering::Relaxed),
                        Err(e) => panic!("transfer failed: {e}"),
                    };
                }
            });
        }
        // Pair updates with begin/commit by hand; some are abandoned half-way (rollback).
        {
            let (fs, stop, aborted) = (&fs, &stop, &aborted);
            s.spawn(move || {
                let mut rng = Rng::new(99);
                let mut version = 0;
                while !stop.load(Ordering::Relaxed) {
                    version += 1;
                    let k = rng.below(4);
                    let mut tx = fs.begin();
                    let exists = tx.exists(format!("/pairs/{k}/a"));
                    if exists && rng.below(5) == 0 {
                        tx.remove_file(format!("/pairs/{k}/a")).unwrap();
                        tx.remove_file(format!("/pairs/{k}/b")).unwrap();
                    } else {
                        let data = pair_content(k, version);
                        tx.write(format!("/pairs/{k}/a"), &data).unwrap();
                        if rng.below(10) == 0 {
                            aborted.fetch_add(1, Ordering::Relaxed);
                            continue; // dropped with only /a written: rolled back
                        }
                        tx.write(format!("/pairs/{k}/b"), &data).unwrap();
                    }
                    match tx.commit() {
                        Ok(()) => {}
                        Err(e) => assert!(is_conflict(&e), "{e}"),
                    }
                }
            });
        }
        // Random plain writes in /files.
        for t in 0..2u64 {
            let (fs, stop, plain_writes) = (&fs, &stop, &plain_writes);
            s.spawn(move || {
                let mut rng = Rng::new(1000 + t);
                while !stop.load(Ordering::Relaxed) {
                    let d = format!("/files/d{}", rng.below(4));
                    let p = format!("{d}/f{}", rng.below(16));
                    let r = match rng.below(6) {
                        0 => fs.create_dir_all(&d),
                        1 => fs.write(
                            &p,
                            vec![t as u8; (rng.below(3) * INLINE_MAX as u64) as usize + 7],
                        ),
                        2 => fs.append(&p, b"more"),
                        3 => fs.remove_file(&p),
                        4 => fs.rename(&p, format!("/files/d{}/g{}", rng.below(4), rng.below(8))),
                        _ => fs.remove_dir_all(&d),
                    };
                    if r.is_ok() {
                        plain_writes.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        // Snapshot checkers, until the deadline.
        for _ in 0..2 {
            let (fs, snapshots) = (&fs, &snapshots);
            s.spawn(move || {
                while Instant::now() < deadline {
                    check_snapshot(&fs.snapshot());
                    snapshots.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
    });

    check_snapshot(&fs.snapshot());
    println!(
        "transfers {} (gave up {}), aborted pair tx {}, plain writes {}, snapshots checked {}",
        transfers.load(Ordering::Relaxed),
        gave_up.load(Ordering::Relaxed),
        aborted.load(Ordering::Relaxed),
        plain_writes.load(Ordering::Relaxed),
        snapshots.load(Ordering::Relaxed)
    );
    assert!(transfers.load(Ordering::Relaxed) > 0);
    assert!(snapshots.load(Ordering::Relaxed) > 0);

    // Nothing leaks: with the whole tree gone (and no snapshot alive) the store is empty.
    for top in ["/bank", "/files", "/pairs"] {
        fs.remove_dir_all(top).unwrap();
    }
    let s = fs.stats();
    assert_eq!((s.files, s.blobs, s.stored_bytes), (0, 0, 0), "{s:?}");
}
