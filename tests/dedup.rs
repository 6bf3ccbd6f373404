//! Deduplication and garbage collection of file contents, measured with `stats()`.

mod common;
use common::noise;

use memfs::{MemFs, CHUNK_SIZE, INLINE_MAX};

const MIB: usize = 1 << 20;

#[test]
fn hundred_files_with_the_same_mebibyte_store_one_mebibyte() {
    let fs = MemFs::new();
    let data = noise(1, MIB);
    fs.create_dir("/copies").unwrap();
    for i in 0..100 {
        fs.write(format!("/copies/{i}.bin"), &data).unwrap();
    }
    let s = fs.stats();
    println!("100 x 1 MiB, same bytes: {s:?}");
    assert_eq!(s.files, 100);
    assert_eq!(s.logical_bytes, 100 * MIB as u64);
    assert_eq!(s.stored_bytes, MIB as u64, "stored once");
    assert_eq!(s.blobs, (MIB / CHUNK_SIZE) as u64);
    // Whoever wrote it: a transaction writing the same bytes shares them too.
    fs.transaction(|tx| tx.write("/copies/tx.bin", &data))
        .unwrap();
    assert_eq!(fs.stats().stored_bytes, MIB as u64);
    for i in 0..100 {
        fs.remove_file(format!("/copies/{i}.bin")).unwrap();
    }
    assert_eq!(fs.stats().stored_bytes, MIB as u64, "tx.bin still holds it");
    fs.remove_file("/copies/tx.bin").unwrap();
    let s = fs.stats();
    assert_eq!((s.stored_bytes, s.blobs), (0, 0), "{s:?}");
}

#[test]
fn a_snapshot_keeps_its_chunks_alive_and_frees_them_when_dropped() {
    let fs = MemFs::new();
    let data = noise(2, 3 * CHUNK_SIZE);
    fs.write("/f", &data).unwrap();
    let snap = fs.snapshot();
    fs.write("/f", noise(3, 3 * CHUNK_SIZE)).unwrap();
    assert_eq!(fs.stats().stored_bytes, 6 * CHUNK_SIZE as u64, "old + new");
    assert_eq!(snap.read("/f").unwrap(), data);
    drop(snap);
    assert_eq!(
        fs.stats().stored_bytes,
        3 * CHUNK_SIZE as u64,
        "old version freed"
    );
}

#[test]
fn a_rolled_back_transaction_frees_what_it_stored() {
    let fs = MemFs::new();
    let mut tx = fs.begin();
    tx.write("/big", noise(4, 2 * CHUNK_SIZE)).unwrap();
    assert_eq!(fs.stats().stored_bytes, 2 * CHUNK_SIZE as u64);
    drop(tx);
    assert_eq!(fs.stats().stored_bytes, 0);
}

/// Rewrites `files` files `rounds` times with contents never seen before (above INLINE_MAX, so
/// every version goes to the store): stored bytes must track the live data, not the history.
fn churn(files: usize, rounds: usize, size: usize) {
    let fs = MemFs::new();
    fs.create_dir("/d").unwrap();
    let live = (files * size) as u64;
    let mut peak = 0;
    for round in 0..rounds {
        for f in 0..files {
            let mut data = vec![(round % 251) as u8; size];
            data[..8].copy_from_slice(&(f as u64).to_le_bytes());
            data[8..16].copy_from_slice(&(round as u64).to_le_bytes());
            fs.write(format!("/d/{f}"), &data).unwrap();
        }
        let s = fs.stats();
        peak = peak.max(s.stored_bytes);
        assert_eq!(s.logical_bytes, live);
        assert!(
            s.stored_bytes <= live + size as u64,
            "round {round}: stored {} for {live} live bytes",
            s.stored_bytes
        );
    }
    let s = fs.stats();
    println!("churn {files} files x {rounds} rounds of {size} B: live {live}, end {s:?}, peak stored {peak}");
    assert_eq!(s.stored_bytes, live);
    assert_eq!(s.blobs, files as u64);
}

/// 1,000 files x 100 rounds by default (100,000 rewrites, a few seconds in debug builds);
/// `MEMFS_CHURN_ROUNDS=1000` runs the full 1,000 x 1,000.
#[test]
fn rewriting_many_files_many_times_keeps_memory_near_the_live_data() {
    let rounds = std::env::var("MEMFS_CHURN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    churn(1000, rounds, INLINE_MAX + 100);
}
