//! Transactions: isolation, atomic commit, rollback, and the conflict rules documented in
//! `src/transaction.rs`.

use std::io::ErrorKind;
use std::thread;

use memfs::{is_conflict, MemFs, MAX_TRANSACTION_ATTEMPTS};

fn fs_with(files: &[(&str, &str)]) -> MemFs {
    let fs = MemFs::new();
    for (p, c) in files {
        if let Some(parent) = std::path::Path::new(p).parent() {
            fs.create_dir_all(parent).unwrap();
        }
        fs.write(p, c).unwrap();
    }
    fs
}

fn assert_conflict(r: std::io::Result<()>) {
    let e = r.expect_err("expected a conflict");
    assert!(is_conflict(&e), "not a conflict: {e}");
    assert!(e.to_string().contains("conflict"), "{e}");
    assert_eq!(e.kind(), ErrorKind::ResourceBusy);
}

#[test]
fn changes_are_private_until_commit_then_appear_at_once() {
    let fs = fs_with(&[("/a", "1")]);
    let g = fs.generation();
    let mut tx = fs.begin();
    tx.write("/a", "2").unwrap();
    tx.makedirs("/new/dir", true).unwrap();
    tx.write("/new/dir/f", "x").unwrap();
    tx.rename("/new/dir/f", "/new/g").unwrap();
    // The transaction reads its own writes; the filesystem does not see them.
    assert_eq!(tx.read_to_string("/a").unwrap(), "2");
    assert_eq!(tx.listdir("/new").unwrap(), ["dir", "g"]);
    assert_eq!(fs.read_to_string("/a").unwrap(), "1");
    assert!(!fs.exists("/new"));
    tx.commit().unwrap();
    assert_eq!(
        fs.generation(),
        g + 1,
        "one publish for the whole transaction"
    );
    assert_eq!(fs.read_to_string("/a").unwrap(), "2");
    assert_eq!(fs.read_to_string("/new/g").unwrap(), "x");
    assert!(fs.isdir("/new/dir"));
}

#[test]
fn drop_rolls_back() {
    let fs = fs_with(&[("/a", "1")]);
    let g = fs.generation();
    {
        let mut tx = fs.begin();
        tx.remove_file("/a").unwrap();
        tx.write("/b", "2").unwrap();
    }
    let mut tx = fs.begin();
    tx.write("/c", "3").unwrap();
    tx.rollback();
    assert_eq!(fs.read_to_string("/a").unwrap(), "1");
    assert!(!fs.exists("/b") && !fs.exists("/c"));
    assert_eq!(fs.generation(), g);
}

#[test]
fn a_failed_operation_inside_a_transaction_changes_nothing_and_the_rest_commits() {
    let fs = fs_with(&[("/f", "file")]);
    let mut tx = fs.begin();
    tx.write("/ok", "1").unwrap();
    assert_eq!(
        tx.remove_file("/missing").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        tx.create_dir_all("/f/sub").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        tx.create_dir("/ok").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(tx.read("/nope").unwrap_err().kind(), ErrorKind::NotFound);
    tx.commit().unwrap();
    assert_eq!(fs.listdir("/").unwrap(), ["f", "ok"]);
}

#[test]
fn a_write_to_a_path_the_transaction_read_is_a_conflict_and_nothing_is_published() {
    let fs = fs_with(&[("/balance", "10")]);
    let mut tx = fs.begin();
    let n: i32 = tx.read_to_string("/balance").unwrap().parse().unwrap();
    tx.write("/balance", (n + 5).to_string()).unwrap();
    tx.write("/audit", "added 5").unwrap();
    fs.write("/balance", "100").unwrap();
    assert_conflict(tx.commit());
    assert_eq!(
        fs.read_to_string("/balance").unwrap(),
        "100",
        "the plain write is kept"
    );
    assert!(!fs.exists("/audit"), "no half transaction");
}

#[test]
fn blind_writes_to_the_same_path_conflict_too() {
    let fs = fs_with(&[("/x", "0")]);
    let mut tx = fs.begin();
    tx.write("/x", "tx").unwrap();
    fs.write("/x", "plain").unwrap();
    assert_conflict(tx.commit());
    assert_eq!(fs.read_to_string("/x").unwrap(), "plain");
}

#[test]
fn creating_a_path_someone_else_created_meanwhile_conflicts() {
    let fs = MemFs::new();
    let mut tx = fs.begin();
    tx.write("/new", "tx").unwrap();
    fs.write("/new", "other").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn disjoint_changes_commit_and_both_survive() {
    let fs = fs_with(&[("/d/a", "1"), ("/d/b", "1"), ("/e/c", "1")]);
    let mut tx = fs.begin();
    assert_eq!(tx.read_to_string("/d/a").unwrap(), "1");
    tx.write("/d/a", "tx").unwrap();
    tx.append("/e/log", "tx").unwrap();
    // Concurrent plain writes elsewhere, some in the same directories.
    fs.write("/d/b", "plain").unwrap();
    fs.write("/e/c", "plain").unwrap();
    fs.write("/d/new", "plain").unwrap();
    tx.commit().unwrap();
    assert_eq!(fs.read_to_string("/d/a").unwrap(), "tx");
    assert_eq!(fs.read_to_string("/e/log").unwrap(), "tx");
    assert_eq!(fs.read_to_string("/d/b").unwrap(), "plain");
    assert_eq!(fs.read_to_string("/e/c").unwrap(), "plain");
    assert_eq!(fs.read_to_string("/d/new").unwrap(), "plain");
}

#[test]
fn a_listing_conflicts_with_an_entry_added_removed_or_replaced() {
    for change in ["add", "remove", "replace", "rewrite"] {
        let fs = fs_with(&[("/d/a", "1"), ("/d/b", "1")]);
        let mut tx = fs.begin();
        let names = tx.listdir("/d").unwrap();
        tx.write("/summary", names.join(",")).unwrap();
        match change {
            "add" => fs.write("/d/c", "1").unwrap(),
            "remove" => fs.remove_file("/d/b").unwrap(),
            "replace" => {
                fs.remove_file("/d/b").unwrap();
                fs.create_dir("/d/b").unwrap();
            }
            _ => fs.write("/d/a", "2").unwrap(),
        }
        assert_conflict(tx.commit());
        assert!(!fs.exists("/summary"), "{change}");
    }
}

#[test]
fn a_listing_does_not_conflict_with_a_change_deep_below_it() {
    let fs = fs_with(&[("/d/sub/deep", "1")]);
    let mut tx = fs.begin();
    assert_eq!(tx.listdir("/d").unwrap(), ["sub"]);
    tx.write("/summary", "sub").unwrap();
    fs.write("/d/sub/deep", "2").unwrap();
    fs.write("/d/sub/more", "2").unwrap();
    tx.commit().unwrap();
    assert_eq!(fs.read_to_string("/summary").unwrap(), "sub");
    assert_eq!(fs.read_to_string("/d/sub/deep").unwrap(), "2");
}

#[test]
fn a_walk_conflicts_with_any_change_below_it() {
    let fs = fs_with(&[("/d/sub/deep", "1"), ("/other", "1")]);
    let mut tx = fs.begin();
    let count = tx.walk("/d").unwrap().count();
    tx.write("/count", count.to_string()).unwrap();
    fs.write("/other", "2").unwrap(); // outside the walked tree: fine
    fs.write("/d/sub/deep", "2").unwrap(); // inside it: conflict
    assert_conflict(tx.commit());
}

#[test]
fn remove_dir_conflicts_when_the_directory_gained_an_entry() {
    let fs = MemFs::new();
    fs.create_dir("/d").unwrap();
    let mut tx = fs.begin();
    tx.remove_dir("/d").unwrap();
    fs.write("/d/late", "1").unwrap();
    assert_conflict(tx.commit());
    assert_eq!(fs.read_to_string("/d/late").unwrap(), "1", "nothing lost");
}

#[test]
fn a_retargeted_symlink_changes_the_resolution_and_conflicts() {
    let fs = fs_with(&[("/v1/data", "one"), ("/v2/data", "two")]);
    fs.symlink("/v1", "/current").unwrap();
    let mut tx = fs.begin();
    let seen = tx.read_to_string("/current/data").unwrap();
    tx.write("/seen", seen).unwrap();
    fs.remove_file("/current").unwrap();
    fs.symlink("/v2", "/current").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn a_read_only_transaction_commits_iff_what_it_read_is_unchanged() {
    let fs = fs_with(&[("/a", "1"), ("/b", "1")]);
    let tx = fs.begin();
    tx.read("/a").unwrap();
    fs.write("/b", "2").unwrap();
    tx.commit().unwrap();
    let tx = fs.begin();
    tx.read("/a").unwrap();
    fs.write("/a", "2").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn a_transaction_sees_one_version_whatever_happens_meanwhile() {
    let fs = fs_with(&[("/a", "1")]);
    let tx = fs.begin();
    fs.write("/a", "2").unwrap();
    fs.write("/b", "2").unwrap();
    assert_eq!(tx.read_to_string("/a").unwrap(), "1");
    assert!(!tx.exists("/b"));
}

#[test]
fn snapshots_are_not_affected_by_commits_and_restore_undoes_them() {
    let fs = fs_with(&[("/a", "1")]);
    let snap = fs.snapshot();
    fs.transaction(|tx| {
        tx.write("/a", "2")?;
        tx.remove_file("/a")?;
        tx.write("/b", "3")
    })
    .unwrap();
    assert_eq!(snap.read_to_string("/a").unwrap(), "1");
    assert!(!snap.exists("/b"));
    fs.restore(&snap).unwrap();
    assert_eq!(fs.listdir("/").unwrap(), ["a"]);
}

#[test]
fn every_write_operation_works_in_a_transaction() {
    let fs = MemFs::new();
    fs.transaction(|tx| {
        tx.mkdir("/m")?;
        tx.makedirs("/m/n/o", false)?;
        assert_eq!(
            tx.makedirs("/m/n", false).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        tx.writefile("/m/f", "hello world")?;
        tx.writefilebytes("/m/g", b"bytes")?;
        tx.append("/m/f", "!")?;
        tx.set_len("/m/g", 2)?;
        assert_eq!(tx.copy("/m/f", "/m/f2")?, 12);
        tx.symlink("f", "/m/link")?;
        tx.set_permissions("/m/f", 0o600)?;
        tx.set_times("/m/f", None, Some(std::time::UNIX_EPOCH))?;
        tx.set_metadata(
            "/m/f",
            [("k".to_string(), "v".to_string())].into_iter().collect(),
        )?;
        tx.create_dir("/gone")?;
        tx.rmdir("/gone")?;
        tx.write("/gone2", "x")?;
        tx.remove("/gone2")?;
        tx.create_dir_all("/tree/x/y")?;
        tx.remove_dir_all("/tree")?;
        tx.rename("/m/f2", "/m/n/f3")?;
        assert_eq!(tx.read_link("/m/link")?, "f");
        assert_eq!(tx.canonicalize("/m/link")?, "/m/f");
        Ok(())
    })
    .unwrap();
    assert_eq!(fs.read_to_string("/m/link").unwrap(), "hello world!");
    assert_eq!(fs.read("/m/g").unwrap(), b"by");
    assert_eq!(fs.read_to_string("/m/n/f3").unwrap(), "hello world!");
    let md = fs.metadata("/m/f").unwrap();
    assert_eq!(md.permissions().mode(), 0o600);
    assert_eq!(md.modified().unwrap(), std::time::UNIX_EPOCH);
    assert_eq!(fs.get_metadata("/m/f").unwrap()["k"], "v");
    assert!(fs.isdir("/m/n/o"));
    assert_eq!(fs.listdir("/").unwrap(), ["m"]);
}

#[test]
fn replay_on_a_newer_root_applies_every_operation() {
    // Same as above, but with a concurrent unrelated publish, so commit replays the log.
    let fs = MemFs::new();
    let mut tx = fs.begin();
    tx.create_dir_all("/a/b").unwrap();
    tx.write("/a/b/f", "1").unwrap();
    tx.append("/a/b/f", "2").unwrap();
    tx.rename("/a/b/f", "/a/g").unwrap();
    tx.symlink("/a/g", "/l").unwrap();
    fs.write("/unrelated", "u").unwrap();
    tx.commit().unwrap();
    assert_eq!(fs.read_to_string("/l").unwrap(), "12");
    assert_eq!(fs.read_to_string("/unrelated").unwrap(), "u");
    assert_eq!(fs.listdir("/a/b").unwrap(), Vec::<String>::new());
}

#[test]
fn transaction_retries_until_it_commits_and_counts_are_exact() {
    let fs = fs_with(&[("/counter", "0")]);
    thread::scope(|s| {
        for _ in 0..4 {
            let fs = fs.clone();
            s.spawn(move || {
                for _ in 0..100 {
                    fs.transaction(|tx| {
                        let n: u64 = tx.read_to_string("/counter")?.parse().unwrap();
                        tx.write("/counter", (n + 1).to_string())
                    })
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(fs.read_to_string("/counter").unwrap(), "400");
}

#[test]
fn transaction_gives_up_with_the_conflict_after_bounded_attempts() {
    let fs = fs_with(&[("/x", "0")]);
    let mut attempts = 0;
    let e = fs
        .transaction(|tx| {
            attempts += 1;
            tx.read("/x")?;
            tx.write("/y", "1")?;
            // Someone always changes /x before we commit.
            fs.write("/x", attempts.to_string())
        })
        .unwrap_err();
    assert!(is_conflict(&e), "{e}");
    assert!(e.to_string().contains("conflict"), "{e}");
    assert_eq!(attempts, MAX_TRANSACTION_ATTEMPTS);
    assert!(!fs.exists("/y"));
}

#[test]
fn an_error_from_the_closure_rolls_back_and_is_returned() {
    let fs = MemFs::new();
    let e = fs
        .transaction(|tx| {
            tx.write("/half", "1")?;
            tx.read("/missing")
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!fs.exists("/half"));
}

#[test]
fn reads_through_a_directory_the_transaction_moved_are_checked() {
    let fs = fs_with(&[("/a/x", "old")]);
    let mut tx = fs.begin();
    tx.rename("/a", "/b").unwrap();
    let seen = tx.read_to_string("/b/x").unwrap();
    tx.write("/copy", seen).unwrap();
    fs.write("/a/x", "new").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn reads_through_a_symlink_the_transaction_created_are_checked() {
    let fs = fs_with(&[("/a/x", "old")]);
    let mut tx = fs.begin();
    tx.symlink("/a", "/l").unwrap();
    let seen = tx.read_to_string("/l/x").unwrap();
    tx.write("/copy", seen).unwrap();
    fs.write("/a/x", "new").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn writes_through_a_symlink_the_transaction_created_conflict_like_direct_ones() {
    let fs = fs_with(&[("/a/x", "old")]);
    let mut tx = fs.begin();
    tx.symlink("/a", "/l").unwrap();
    tx.write("/l/x", "tx").unwrap();
    fs.write("/a/x", "plain").unwrap();
    assert_conflict(tx.commit());
    assert_eq!(fs.read_to_string("/a/x").unwrap(), "plain");
}

#[test]
fn a_snapshot_opens_read_only_handles_that_never_change() {
    use std::io::{BufRead, Read, Seek, SeekFrom};
    let fs = MemFs::new();
    // Lines across a chunk boundary, to read through BufRead without copying.
    let mut text = String::new();
    let mut i = 0;
    while text.len() < memfs::CHUNK_SIZE + 500 {
        text.push_str(&format!("line {i}\n"));
        i += 1;
    }
    fs.write("/log", &text).unwrap();
    fs.symlink("/log", "/link").unwrap();
    let snap = fs.snapshot();
    fs.write("/log", "gone").unwrap();
    let f = snap.open("/link").unwrap();
    assert_eq!(f.metadata().unwrap().len(), text.len() as u64);
    let lines: Vec<String> = f.lines().collect::<std::io::Result<_>>().unwrap();
    assert_eq!(lines.len(), i);
    assert_eq!(lines[i - 1], format!("line {}", i - 1));
    let mut f = snap.open("/log").unwrap();
    f.seek(SeekFrom::End(-7)).unwrap();
    let mut tail = String::new();
    f.read_to_string(&mut tail).unwrap();
    assert_eq!(tail, &text[text.len() - 7..]);
    assert!(f.seek(SeekFrom::Current(-100_000_000)).is_err());
    assert_eq!(snap.open("/").unwrap_err().kind(), ErrorKind::IsADirectory);
    assert_eq!(snap.open("/none").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs.read_to_string("/log").unwrap(), "gone");
}

#[test]
fn a_transaction_opens_its_own_version_and_the_read_is_checked() {
    use std::io::Read;
    let fs = fs_with(&[("/f", "base")]);
    let mut tx = fs.begin();
    tx.write("/f", "mine").unwrap();
    let mut s = String::new();
    tx.open("/f").unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "mine");
    let mut tx2 = fs.begin();
    let mut s = String::new();
    tx2.open("/f").unwrap().read_to_string(&mut s).unwrap();
    tx2.write("/g", s).unwrap();
    tx.commit().unwrap();
    assert_conflict(tx2.commit());
}

// --- batches (`MemFs::batch`): atomic, not isolated ---------------------------------------

#[test]
fn a_batch_publishes_everything_at_once_in_one_generation() {
    let fs = fs_with(&[("/out/old", "x")]);
    let g = fs.generation();
    let before = fs.snapshot();
    let n = fs
        .batch(|b| {
            assert!(b.is_batch());
            for i in 0..100 {
                b.write(format!("/out/{i}"), i.to_string())?;
            }
            b.remove_file("/out/old")?;
            // A batch reads its own writes.
            assert_eq!(b.read_to_string("/out/7")?, "7");
            Ok(b.listdir("/out")?.len())
        })
        .unwrap();
    assert_eq!(n, 100);
    assert_eq!(fs.generation(), g + 1, "one publish");
    assert_eq!(fs.listdir("/out").unwrap().len(), 100);
    assert!(before.exists("/out/old") && !before.exists("/out/0"));
}

#[test]
fn a_batch_that_fails_or_panics_publishes_nothing() {
    let fs = fs_with(&[("/a", "1")]);
    let g = fs.generation();
    let e = fs
        .batch(|b| {
            b.write("/a", "2")?;
            b.write("/b", "new")?;
            b.remove_file("/missing")
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = fs.batch(|b| -> std::io::Result<()> {
            b.write("/a", "3")?;
            panic!("a bug in the caller's closure")
        });
    }));
    assert!(panicked.is_err());
    assert_eq!(fs.read_to_string("/a").unwrap(), "1");
    assert!(!fs.exists("/b"));
    assert_eq!(fs.generation(), g);
}

#[test]
fn a_batch_is_not_isolated_its_operations_apply_again_on_a_newer_tree() {
    // What the batch read changed meanwhile: a transaction would conflict, a batch does not;
    // its writes land on top of the other writer's.
    let fs = fs_with(&[("/n", "0")]);
    fs.batch(|b| {
        let n: u32 = b.read_to_string("/n")?.parse().unwrap();
        fs.write("/n", "10")?; // another writer, while the batch runs
        fs.write("/theirs", "t")?;
        b.write("/mine", (n + 1).to_string())
    })
    .unwrap();
    assert_eq!(fs.read_to_string("/mine").unwrap(), "1");
    assert_eq!(fs.read_to_string("/n").unwrap(), "10");
    assert_eq!(fs.read_to_string("/theirs").unwrap(), "t");
    // The same as a transaction conflicts.
    let mut tx = fs.begin();
    let _ = tx.read_to_string("/n").unwrap();
    fs.write("/n", "11").unwrap();
    tx.write("/mine", "2").unwrap();
    assert_conflict(tx.commit());
}

#[test]
fn a_batch_whose_operation_no_longer_applies_fails_whole() {
    let fs = fs_with(&[("/d/f", "x")]);
    let g = fs.generation();
    let e = fs
        .batch(|b| {
            b.write("/top", "1")?;
            b.write("/d/g", "2")?;
            fs.remove_dir_all("/d")?; // another writer removes the batch's directory
            Ok(())
        })
        .unwrap_err();
    assert!(is_conflict(&e), "{e}");
    assert!(e.to_string().contains("/d/g"), "{e}");
    assert!(!fs.exists("/top"), "half a batch");
    assert_eq!(fs.generation(), g + 1, "only the other writer's change");
}

#[test]
fn batches_and_plain_writers_on_many_threads_lose_nothing() {
    let fs = MemFs::new();
    thread::scope(|s| {
        for t in 0..4 {
            let fs = &fs;
            s.spawn(move || {
                for round in 0..20 {
                    fs.batch(|b| {
                        b.create_dir_all(format!("/t{t}"))?;
                        for i in 0..10 {
                            b.write(format!("/t{t}/r{round}-{i}"), "x")?;
                        }
                        Ok(())
                    })
                    .unwrap();
                    fs.write(format!("/t{t}/plain{round}"), "y").unwrap();
                }
            });
        }
    });
    for t in 0..4 {
        assert_eq!(fs.listdir(format!("/t{t}")).unwrap().len(), 20 * 10 + 20);
    }
}
