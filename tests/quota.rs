//! Quotas (`MemFs::builder().max_bytes().max_inodes()`, `set_limits`): every growing write
//! past a limit fails with `StorageFull` and changes nothing; usage is counted after
//! deduplication; concurrent writers never pass a limit together.

mod common;

use std::io::{ErrorKind, Write};

use memfs::{Limits, MemFs, Usage};

fn full(r: std::io::Result<impl std::fmt::Debug>) {
    let e = r.expect_err("should not fit");
    assert_eq!(e.kind(), ErrorKind::StorageFull, "{e}");
    assert_eq!(memfs::errno_of(&e), 28, "ENOSPC");
}

/// The usage counted from scratch (limits off: a walk), to check the incremental count.
fn recount(fs: &MemFs) -> Usage {
    let limits = fs.limits();
    fs.set_limits(Limits::default());
    let u = fs.usage();
    fs.set_limits(limits);
    u
}

#[test]
fn bytes_over_the_limit_fail_and_change_nothing() {
    let fs = MemFs::builder().max_bytes(10_000).build();
    assert_eq!(
        fs.usage(),
        Usage {
            bytes: 0,
            inodes: 1
        }
    );
    fs.write("/a", vec![1u8; 4000]).unwrap();
    assert_eq!(fs.usage().bytes, 4000);
    let g = fs.generation();
    full(fs.write("/b", vec![2u8; 7000]));
    assert!(!fs.exists("/b"));
    assert_eq!(fs.generation(), g);
    full(fs.append("/a", vec![3u8; 6001]));
    assert_eq!(fs.read("/a").unwrap(), vec![1u8; 4000]);
    full(fs.set_len("/a", 10_001));
    assert_eq!(fs.metadata("/a").unwrap().len(), 4000);
    // Exactly at the limit is allowed; shrinking always is.
    fs.append("/a", vec![3u8; 6000]).unwrap();
    assert_eq!(fs.usage().bytes, 10_000);
    full(fs.write("/c", "x"));
    fs.set_len("/a", 100).unwrap();
    fs.write("/c", "x").unwrap();
    assert_eq!(fs.usage(), recount(&fs));
}

#[test]
fn bytes_are_counted_after_deduplication() {
    let chunk = memfs::CHUNK_SIZE as u64;
    let fs = MemFs::builder().max_bytes(3 * chunk).build();
    let big: Vec<u8> = (0..2 * chunk).map(|i| (i * 7 % 251) as u8).collect();
    fs.write("/big", &big).unwrap();
    assert_eq!(fs.usage().bytes, 2 * chunk);
    // A copy and a second file with the same bytes share the chunks.
    fs.copy("/big", "/copy").unwrap();
    fs.write("/same", &big).unwrap();
    assert_eq!(fs.usage().bytes, 2 * chunk);
    // A million zeros past the end are one stored zero chunk (plus the partial last one).
    fs.set_len("/copy", 2 * chunk + 10 * chunk).unwrap();
    assert_eq!(fs.usage().bytes, 3 * chunk);
    // `stats` counts live bytes in its own walk: the same figure, with or without limits.
    fs.set_limits(Limits::default());
    fs.write("/small", "inline").unwrap();
    assert_eq!(fs.stats().live_bytes, 3 * chunk + 6);
    assert_eq!(fs.stats().live_bytes, recount(&fs).bytes);
    fs.remove_file("/small").unwrap();
    fs.set_limits(Limits {
        max_bytes: Some(3 * chunk),
        max_inodes: None,
    });
    full(fs.write("/other", vec![9u8; chunk as usize + 1]));
    // Removing one of three sharers frees nothing; removing all frees the chunks.
    fs.remove_file("/same").unwrap();
    assert_eq!(fs.usage().bytes, 3 * chunk);
    fs.remove_file("/big").unwrap();
    fs.remove_file("/copy").unwrap();
    assert_eq!(
        fs.usage(),
        Usage {
            bytes: 0,
            inodes: 1
        }
    );
}

#[test]
fn inodes_count_every_node_and_the_root() {
    let fs = MemFs::builder().max_inodes(5).build();
    fs.create_dir_all("/a/b").unwrap();
    fs.write("/a/f", "x").unwrap();
    fs.symlink("/a/f", "/l").unwrap();
    assert_eq!(fs.usage().inodes, 5);
    full(fs.create_dir("/c"));
    full(fs.write("/g", ""));
    full(fs.touch("/h"));
    full(fs.copy("/a/f", "/a/g"));
    full(fs.symlink("x", "/m"));
    // create_dir_all of two new levels with room for one creates neither.
    fs.remove_file("/l").unwrap();
    full(fs.create_dir_all("/x/y"));
    assert!(!fs.exists("/x"));
    // Overwriting and renaming cost no inode.
    fs.write("/a/f", "longer").unwrap();
    fs.rename("/a/f", "/f").unwrap();
    fs.create_dir("/x").unwrap();
    assert_eq!(fs.usage(), recount(&fs));
    fs.remove_dir_all("/a").unwrap();
    assert_eq!(fs.usage().inodes, 3);
}

#[test]
fn transactions_and_batches_over_the_limit_commit_nothing() {
    let fs = MemFs::builder().max_bytes(1000).max_inodes(10).build();
    fs.write("/keep", "k").unwrap();
    let mut tx = fs.begin();
    tx.write("/t1", vec![0u8; 600]).unwrap();
    tx.write("/t2", vec![1u8; 600]).unwrap();
    full(tx.commit());
    assert!(!fs.exists("/t1") && !fs.exists("/t2"));
    full(fs.batch(|b| {
        for i in 0..10 {
            b.write(format!("/n{i}"), "")?;
        }
        Ok(())
    }));
    assert_eq!(fs.read_dir("/").unwrap().len(), 1);
    // The closure form returns the StorageFull too (it is not a conflict: no retry).
    full(fs.transaction(|tx| tx.write("/big", vec![0u8; 2000])));
    fs.transaction(|tx| {
        tx.remove_file("/keep")?;
        tx.write("/small", vec![0u8; 999])
    })
    .unwrap();
    assert_eq!(
        fs.usage(),
        Usage {
            bytes: 999,
            inodes: 2
        }
    );
}

#[test]
fn a_handle_gets_the_error_when_it_publishes() {
    let fs = MemFs::builder().max_bytes(100).build();
    let mut f = fs.create("/f").unwrap();
    f.write_all(&[7u8; 101]).unwrap();
    full(f.flush());
    assert_eq!(fs.read("/f").unwrap(), b"");
    f.set_len(100).unwrap();
    f.flush().unwrap();
    assert_eq!(fs.read("/f").unwrap(), vec![7u8; 100]);
}

#[test]
fn snapshots_are_outside_the_quota_and_limits_can_change() {
    let fs = MemFs::builder().max_bytes(5000).build();
    fs.write("/a", vec![1u8; 5000]).unwrap();
    let snap = fs.snapshot();
    fs.remove_file("/a").unwrap();
    fs.write("/b", vec![2u8; 5000]).unwrap();
    assert_eq!(snap.read("/a").unwrap().len(), 5000);
    // Lowered below what is used: growth fails, shrinking and removing work.
    fs.set_limits(Limits {
        max_bytes: Some(100),
        max_inodes: None,
    });
    full(fs.append("/b", "x"));
    fs.set_len("/b", 4000).unwrap();
    fs.rename("/b", "/c").unwrap();
    full(fs.write("/d", "y"));
    fs.set_limits(Limits::default());
    assert_eq!(fs.limits(), Limits::default());
    fs.write("/d", vec![0u8; 100_000]).unwrap();
    // Set again on a full tree: it is counted.
    fs.set_limits(Limits {
        max_bytes: Some(200_000),
        max_inodes: Some(3),
    });
    assert_eq!(
        fs.usage(),
        Usage {
            bytes: 104_000,
            inodes: 3
        }
    );
    full(fs.write("/e", ""));
}

#[test]
fn restoring_a_snapshot_is_charged_like_any_change() {
    let fs = MemFs::new();
    fs.write("/a", vec![1u8; 3000]).unwrap();
    let snap = fs.snapshot();
    fs.remove_file("/a").unwrap();
    fs.set_limits(Limits {
        max_bytes: Some(2000),
        max_inodes: None,
    });
    full(fs.restore(&snap));
    assert!(!fs.exists("/a"));
    fs.set_limits(Limits {
        max_bytes: Some(3000),
        max_inodes: None,
    });
    fs.restore(&snap).unwrap();
    assert_eq!(fs.usage().bytes, 3000);
}

/// The target: 4 threads doing random creates, writes, appends, copies, renames, removes and
/// transactions against both limits never take usage past them, and the incremental count
/// matches a count from scratch at the end.
#[test]
fn four_concurrent_writers_never_pass_the_limits() {
    const MAX_BYTES: u64 = 300_000;
    const MAX_INODES: u64 = 40;
    let fs = MemFs::builder()
        .max_bytes(MAX_BYTES)
        .max_inodes(MAX_INODES)
        .build();
    let refused = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (fs, refused) = (&fs, &refused);
            s.spawn(move || {
                let mut rng = common::Rng(0x9e37_79b9 ^ ((t + 1) * 0x1234_5678));
                fs.create_dir_all(format!("/t{t}")).ok();
                for _ in 0..3000 {
                    let p = format!("/t{}/f{}", rng.below(4), rng.below(12));
                    let q = format!("/t{}/f{}", rng.below(4), rng.below(12));
                    let len = [10, 3000, 5000, 70_000][rng.below(4)];
                    let fill = rng.next(4) as u8;
                    let r = match rng.below(7) {
                        0 | 1 => fs.write(&p, vec![fill; len]).map(drop),
                        2 => fs.append(&p, vec![fill; len / 10]).map(drop),
                        3 => fs.copy(&p, &q).map(drop),
                        4 => fs.rename(&p, &q),
                        5 => fs.remove_file(&p),
                        _ => fs
                            .transaction(|tx| {
                                tx.write(&p, vec![fill; len])?;
                                tx.write(&q, vec![fill; len])
                            })
                            .map(drop),
                    };
                    if let Err(e) = r {
                        if e.kind() == ErrorKind::StorageFull {
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    let u = fs.usage();
                    assert!(u.bytes <= MAX_BYTES && u.inodes <= MAX_INODES, "{u:?}");
                }
            });
        }
    });
    assert!(refused.into_inner() > 0, "the limits were never reached");
    assert_eq!(fs.usage(), recount(&fs));
    assert_eq!(fs.stats().live_bytes, fs.usage().bytes);
}
