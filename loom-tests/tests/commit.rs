//! loom models of the commit protocol (`src/commit.rs`): flat combining (a writer that finds
//! the combiner's mutex taken queues its operation and spins until the combiner has applied
//! and published it, or takes over as combiner), readers during a publish, and transactions
//! racing plain writes. Under `cfg(loom)` memfs's mutexes, atomics, spin and publish cell are
//! loom's, so loom explores
//! every interleaving of these threads (with the preemption bound CI sets): no operation lost or
//! applied twice, every writer gets its own result, nobody waits forever (loom fails a model
//! that deadlocks), readers and snapshots see only whole versions.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use loom::sync::atomic::AtomicBool;
use loom::sync::Arc;
use loom::thread;
use memfs::{is_conflict, MemFs};

/// Two plain writers publish at the same time, into the same directory: both changes survive
/// (whichever takes the mutex second applies its operation on top of the first one's).
#[test]
fn two_writers_racing_to_publish_both_survive() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.create_dir("/d").unwrap();
        let t = {
            let fs = fs.clone();
            thread::spawn(move || fs.write("/d/a", "a").unwrap())
        };
        fs.write("/d/b", "b").unwrap();
        t.join().unwrap();
        assert_eq!(fs.listdir("/d").unwrap(), ["a", "b"]);
        assert_eq!(fs.read_to_string("/d/a").unwrap(), "a");
        assert_eq!(fs.read_to_string("/d/b").unwrap(), "b");
    });
}

/// A reader that takes a snapshot while a transaction publishes two files sees both old or
/// both new, never one of each.
#[test]
fn reader_during_publish_sees_old_or_new_never_a_mix() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/a", "0").unwrap();
        fs.write("/b", "0").unwrap();
        let t = {
            let fs = fs.clone();
            thread::spawn(move || {
                let mut tx = fs.begin();
                tx.write("/a", "1").unwrap();
                tx.write("/b", "1").unwrap();
                tx.commit().unwrap();
            })
        };
        let snap = fs.snapshot();
        let a = snap.read_to_string("/a").unwrap();
        let b = snap.read_to_string("/b").unwrap();
        assert_eq!(a, b, "saw half a transaction");
        t.join().unwrap();
        assert_eq!(fs.read_to_string("/a").unwrap(), "1");
        assert_eq!(snap.read_to_string("/a").unwrap(), a, "a snapshot changed");
    });
}

/// A transaction that read and rewrites a file races a plain append to the same file: if the
/// append lands between the transaction's begin and its commit, the commit is a conflict and
/// publishes nothing; otherwise both changes are there. Nothing is ever lost.
#[test]
fn transaction_commit_racing_a_plain_write_detects_the_conflict() {
    // Executions that ended each way (std atomics: they count across loom's executions).
    static COMMITTED: AtomicUsize = AtomicUsize::new(0);
    static CONFLICTED: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/log", "").unwrap();
        let t = {
            let fs = fs.clone();
            thread::spawn(move || {
                let mut tx = fs.begin();
                let old = tx.read_to_string("/log").unwrap();
                tx.write("/log", format!("{old}t")).unwrap();
                tx.write("/tx-ran", "").unwrap();
                tx.commit()
            })
        };
        fs.append("/log", "p").unwrap();
        let committed = t.join().unwrap();
        let log = fs.read_to_string("/log").unwrap();
        match committed {
            Ok(()) => {
                assert!(log == "pt" || log == "tp", "lost an update: {log:?}");
                assert!(fs.exists("/tx-ran"));
                COMMITTED.fetch_add(1, Relaxed);
            }
            Err(e) => {
                assert!(is_conflict(&e), "{e}");
                assert_eq!(log, "p", "a conflicted transaction published something");
                assert!(!fs.exists("/tx-ran"), "half a transaction");
                CONFLICTED.fetch_add(1, Relaxed);
            }
        }
    });
    let (ok, conflict) = (COMMITTED.load(Relaxed), CONFLICTED.load(Relaxed));
    println!("executions: {ok} committed, {conflict} conflicted");
    assert!(ok > 0 && conflict > 0, "loom did not explore both orders");
}

/// A transaction racing a plain write to another path always commits, and both survive (the
/// commit replays its log when the root moved).
#[test]
fn transaction_racing_a_disjoint_write_commits_and_both_survive() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/mine", "0").unwrap();
        let t = {
            let fs = fs.clone();
            thread::spawn(move || {
                let mut tx = fs.begin();
                let old = tx.read_to_string("/mine").unwrap();
                tx.write("/mine", format!("{old}+1")).unwrap();
                tx.commit()
            })
        };
        fs.write("/theirs", "x").unwrap();
        t.join().unwrap().expect("no conflict on disjoint paths");
        assert_eq!(fs.read_to_string("/mine").unwrap(), "0+1");
        assert_eq!(fs.read_to_string("/theirs").unwrap(), "x");
    });
}

/// Two `MemFs::transaction` increments of one counter: the loser retries, so both count.
#[test]
fn two_retrying_transactions_both_count() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/n", "0").unwrap();
        let incr = |fs: &MemFs| {
            fs.transaction(|tx| {
                let n: u32 = tx.read_to_string("/n")?.parse().unwrap();
                tx.write("/n", (n + 1).to_string())
            })
            .unwrap()
        };
        let t = {
            let fs = fs.clone();
            thread::spawn(move || incr(&fs))
        };
        incr(&fs);
        t.join().unwrap();
        assert_eq!(fs.read_to_string("/n").unwrap(), "2");
    });
}

/// Three threads: two overlapping transfers (retrying transactions) and a reader. Every
/// snapshot balances, and both transfers land.
#[test]
fn two_overlapping_transfers_and_a_reader() {
    loom::model(|| {
        let fs = MemFs::new();
        for acct in ["/a", "/b", "/c"] {
            fs.write(acct, "10").unwrap();
        }
        let transfer = |fs: &MemFs, from: &str, to: &str| {
            fs.transaction(|tx| {
                let f: u32 = tx.read_to_string(from)?.parse().unwrap();
                let t: u32 = tx.read_to_string(to)?.parse().unwrap();
                tx.write(from, (f - 1).to_string())?;
                tx.write(to, (t + 1).to_string())
            })
            .unwrap()
        };
        let t1 = {
            let fs = fs.clone();
            thread::spawn(move || transfer(&fs, "/a", "/b"))
        };
        let t2 = {
            let fs = fs.clone();
            thread::spawn(move || transfer(&fs, "/b", "/c"))
        };
        let snap = fs.snapshot();
        let sum: u32 = ["/a", "/b", "/c"]
            .iter()
            .map(|p| snap.read_to_string(p).unwrap().parse::<u32>().unwrap())
            .sum();
        assert_eq!(sum, 30, "a reader saw half a transfer");
        t1.join().unwrap();
        t2.join().unwrap();
        let end: Vec<String> = ["/a", "/b", "/c"]
            .iter()
            .map(|p| fs.read_to_string(p).unwrap())
            .collect();
        assert_eq!(end, ["9", "10", "11"]);
    });
}

/// Two writers and a reader. One writer's operation succeeds, the other's fails; each gets its
/// own result, whoever publishes. The reader's snapshot is a whole version: its generation
/// counts exactly the operations it contains. After both return, both outcomes are visible.
#[test]
fn two_writers_and_a_reader_each_writer_gets_its_own_result() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.create_dir("/d").unwrap();
        let g0 = fs.generation();
        let ok = {
            let fs = fs.clone();
            thread::spawn(move || fs.write("/d/a", "a"))
        };
        let failing = {
            let fs = fs.clone();
            thread::spawn(move || fs.write("/missing/b", "b"))
        };
        let snap = fs.snapshot();
        let seen = u64::from(snap.exists("/d/a"));
        assert_eq!(snap.generation() - g0, seen, "a snapshot between versions");
        ok.join().unwrap().expect("the good write failed");
        let e = failing.join().unwrap().expect_err("the bad write succeeded");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(fs.read_to_string("/d/a").unwrap(), "a");
        assert_eq!(fs.generation(), g0 + 1, "an operation applied twice or not at all");
    });
}

/// A write that has returned is visible to every thread, also when another writer (the
/// combiner) applied and published it: a reader that sees the first writer's
/// "returned" flag finds its file, in the live tree and in a snapshot it takes then.
#[test]
fn a_returned_write_is_visible_even_when_another_writer_published_it() {
    loom::model(|| {
        let fs = MemFs::new();
        let returned = Arc::new(AtomicBool::new(false));
        let first = {
            let (fs, returned) = (fs.clone(), returned.clone());
            thread::spawn(move || {
                fs.write("/f", "x").unwrap();
                returned.store(true, std::sync::atomic::Ordering::Release);
            })
        };
        let second = {
            let fs = fs.clone();
            thread::spawn(move || fs.write("/g", "y").unwrap())
        };
        if returned.load(std::sync::atomic::Ordering::Acquire) {
            assert!(fs.exists("/f"), "a returned write was not published");
        }
        first.join().unwrap();
        second.join().unwrap();
        assert!(fs.exists("/f") && fs.exists("/g"));
    });
}

/// Three writers into one directory: with two of them queued behind the first, one combiner
/// applies several; all three land exactly once and all return.
#[test]
fn three_writers_all_land_once() {
    loom::model(|| {
        let fs = MemFs::new();
        let g0 = fs.generation();
        let spawn = |name: &'static str| {
            let fs = fs.clone();
            thread::spawn(move || fs.write(name, name).unwrap())
        };
        let (a, b) = (spawn("/a"), spawn("/b"));
        fs.write("/c", "/c").unwrap();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(fs.listdir("/").unwrap(), ["a", "b", "c"]);
        assert_eq!(fs.generation(), g0 + 3);
    });
}

/// Two writers in their own directories (a write and a remove) and a reader: the reader's
/// snapshot is a whole version, both operations land exactly once, and neither directory loses
/// the other's change.
#[test]
fn two_writers_in_their_own_directories_and_a_reader() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.create_dir("/x").unwrap();
        fs.create_dir("/y").unwrap();
        fs.write("/y/old", "0").unwrap();
        let g0 = fs.generation();
        let a = {
            let fs = fs.clone();
            thread::spawn(move || fs.write("/x/a", "a"))
        };
        let b = {
            let fs = fs.clone();
            thread::spawn(move || fs.remove_file("/y/old"))
        };
        let snap = fs.snapshot();
        let seen = u64::from(snap.exists("/x/a")) + u64::from(!snap.exists("/y/old"));
        assert_eq!(snap.generation() - g0, seen, "a snapshot between versions");
        a.join().unwrap().expect("the write failed");
        b.join().unwrap().expect("the remove failed");
        assert_eq!(fs.read_to_string("/x/a").unwrap(), "a");
        assert!(!fs.exists("/y/old"));
        assert_eq!(fs.listdir("/y").unwrap(), Vec::<String>::new());
        assert_eq!(fs.generation(), g0 + 2, "an operation applied twice or not at all");
    });
}
