//! The change feed (`MemFs::watch`): every change under the prefix, in publish order, none
//! missed, checked against a diff of the first and last versions; overflow; bad input.

mod common;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::time::Duration;

use common::Rng;
use memfs::{ChangeKind, Event, MemFs};

const WAIT: Duration = Duration::from_millis(200);

fn drain(w: &mut memfs::Watcher) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(e) = w.recv_timeout(WAIT) {
        out.push(e);
    }
    out
}

fn kinds(events: &[Event]) -> Vec<(String, char)> {
    events
        .iter()
        .map(|e| (e.path.clone(), e.kind.letter()))
        .collect()
}

#[test]
fn events_come_in_order_with_nothing_missed_and_nothing_outside_the_prefix() {
    let fs = MemFs::new();
    fs.create_dir("/d").unwrap();
    fs.create_dir("/other").unwrap();
    let mut w = fs.watch("/d").unwrap();
    fs.create_dir("/d/sub").unwrap();
    fs.write("/d/sub/f", "1").unwrap(); // right after its directory
    fs.write("/other/x", "not watched").unwrap();
    fs.rename("/d/sub/f", "/d/g").unwrap(); // a removal and an addition
    let events = drain(&mut w);
    let seen: Vec<(String, char)> = kinds(&events)
        .into_iter()
        .filter(|(p, _)| p != "/d" && p != "/d/sub") // directories' own mtimes
        .collect();
    assert_eq!(
        seen,
        [
            ("/d/sub/f".to_string(), 'A'),
            ("/d/g".to_string(), 'A'),
            ("/d/sub/f".to_string(), 'D'),
        ]
    );
    assert!(kinds(&events).contains(&("/d/sub".to_string(), 'A')));
    assert!(events
        .windows(2)
        .all(|p| p[0].generation <= p[1].generation));
    assert!(events.iter().all(|e| e.path.starts_with("/d")));
}

#[test]
fn a_transaction_is_one_generation() {
    let fs = MemFs::new();
    let mut w = fs.watch("/").unwrap();
    fs.transaction(|tx| {
        tx.write("/a", "1")?;
        tx.write("/b", "2")?;
        tx.create_dir("/c")
    })
    .unwrap();
    let events: Vec<Event> = drain(&mut w)
        .into_iter()
        .filter(|e| e.path != "/")
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| e.generation == fs.generation()));
}

#[test]
fn a_missing_prefix_or_no_room_is_an_error() {
    let fs = MemFs::new();
    let e = fs.watch("/nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("/nope"), "{e}");
    assert_eq!(
        fs.watch_with_capacity("/", 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(fs.watch("").unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_slow_watcher_overflows_once_and_resumes_from_the_current_tree() {
    let fs = MemFs::new();
    let mut w = fs.watch_with_capacity("/", 8).unwrap();
    for i in 0..20 {
        fs.write(format!("/f{i}"), "x").unwrap();
    }
    let first = w.recv_timeout(WAIT).unwrap();
    assert_eq!(first.kind, ChangeKind::Overflow);
    assert_eq!(first.path, "/");
    fs.write("/after", "y").unwrap();
    let events = drain(&mut w);
    // The overflow names the version it resumes from: everything after it is newer.
    assert!(
        events.iter().all(|e| e.generation > first.generation),
        "{events:?}"
    );
    assert_eq!(first.generation, 20);
    let next: Vec<(String, char)> = kinds(&events)
        .into_iter()
        .filter(|(p, _)| p != "/")
        .collect();
    // Resumed: the writes queued after the overflow (fewer than the capacity), then the new one.
    assert_eq!(next.last(), Some(&("/after".to_string(), 'A')));
    assert!(next.len() <= 8, "{next:?}");
    assert!(next[..next.len() - 1]
        .iter()
        .all(|(p, k)| p.starts_with("/f") && *k == 'A'));
}

#[test]
fn the_iterator_ends_when_the_filesystem_is_dropped() {
    let fs = MemFs::new();
    let w = fs.watch("/").unwrap();
    fs.write("/a", "1").unwrap();
    drop(fs);
    let all: Vec<Event> = w.collect();
    assert!(all
        .iter()
        .any(|e| e.path == "/a" && e.kind == ChangeKind::Added));
}

#[test]
fn four_writers_100_000_operations_no_event_missed() {
    let fs = MemFs::new();
    for t in 0..4 {
        fs.create_dir(format!("/w{t}")).unwrap();
    }
    let first = fs.snapshot();
    // Room for every version: this test checks completeness, not overflow.
    let mut w = fs.watch_with_capacity("/", 1 << 20).unwrap();
    let collector = std::thread::spawn(move || {
        let mut last: BTreeMap<String, ChangeKind> = BTreeMap::new();
        let mut count = 0u64;
        let mut prev_gen = 0;
        while let Some(e) = w.recv_timeout(Duration::from_secs(5)) {
            assert_ne!(e.kind, ChangeKind::Overflow);
            assert!(e.generation >= prev_gen, "out of order");
            prev_gen = e.generation;
            last.insert(e.path, e.kind);
            count += 1;
        }
        (last, count)
    });
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let fs = &fs;
            s.spawn(move || {
                let mut rng = Rng(0x2545f4914f6cdd1d ^ (t + 1));
                let name = |rng: &mut Rng| format!("/w{t}/n{}", rng.below(50));
                for _ in 0..25_000 {
                    let _ = match rng.below(6) {
                        0 | 1 => fs.write(name(&mut rng), "x"),
                        2 => fs.remove_file(name(&mut rng)),
                        3 => fs.rename(name(&mut rng), name(&mut rng)),
                        4 => fs.create_dir(name(&mut rng)),
                        _ => fs
                            .transaction(|tx| {
                                tx.write(name(&mut Rng(7)), "t")?;
                                tx.write(format!("/w{t}/tx"), "t")
                            })
                            .map(drop),
                    };
                }
            });
        }
    });
    let end = fs.snapshot();
    drop(fs);
    let (last, count) = collector.join().unwrap();
    assert!(count > 0);
    for change in first.diff(&end) {
        let seen = last.get(&change.path);
        assert!(seen.is_some(), "missed {change:?}");
        let seen = *seen.unwrap();
        match change.kind {
            ChangeKind::Removed => assert_eq!(seen, ChangeKind::Removed, "{change:?}"),
            ChangeKind::Added | ChangeKind::TypeChanged => {
                assert_ne!(seen, ChangeKind::Removed, "{change:?}")
            }
            _ => {}
        }
    }
}

#[test]
fn a_file_created_and_removed_again_and_again_shows_every_step() {
    // One writer: every operation is its own version, so every step is an event, even those
    // the first and last versions cannot show (the file is gone at both ends).
    let fs = MemFs::new();
    let mut w = fs.watch("/").unwrap();
    for _ in 0..100 {
        fs.write("/flicker", "x").unwrap();
        fs.remove_file("/flicker").unwrap();
    }
    let steps: Vec<(char, u64)> = drain(&mut w)
        .into_iter()
        .filter(|e| e.path == "/flicker")
        .map(|e| (e.kind.letter(), e.generation))
        .collect();
    assert_eq!(steps.len(), 200);
    for (i, (k, _)) in steps.iter().enumerate() {
        assert_eq!(*k, if i % 2 == 0 { 'A' } else { 'D' });
    }
    assert!(steps.windows(2).all(|p| p[0].1 < p[1].1));
}

#[test]
fn a_user_sees_only_the_changes_it_may_list() {
    let fs = MemFs::new();
    fs.set_permissions("/", 0o755).unwrap();
    for (d, mode) in [
        ("/pub", 0o755),
        ("/secret", 0o700),
        ("/secret/inner", 0o755),
    ] {
        fs.create_dir(d).unwrap();
        fs.set_permissions(d, mode).unwrap();
    }
    fs.write("/secret/old", "x").unwrap();
    let user = fs.as_user(memfs::Credentials::new(1000, 1000));
    let before = user.snapshot();
    let root_before = fs.snapshot();
    let mut w = user.watch("/").unwrap();
    // Watching needs read permission on what is watched, as inotify.
    let e = user.watch("/secret").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    fs.write("/pub/a", "1").unwrap();
    fs.write("/secret/b", "2").unwrap();
    fs.write("/secret/inner/c", "3").unwrap();
    fs.remove_file("/secret/old").unwrap();
    fs.create_dir("/pub/d").unwrap();
    let seen = kinds(&drain(&mut w));
    // "/secret" itself is listed in "/" (its mtime changed): visible; nothing below it is.
    assert!(
        seen.iter().all(|(p, _)| !p.starts_with("/secret/")),
        "{seen:?}"
    );
    assert!(seen.contains(&("/pub/a".into(), 'A')), "{seen:?}");
    assert!(seen.contains(&("/pub/d".into(), 'A')), "{seen:?}");
    let diff = user.diff_since(&before);
    let paths: Vec<&str> = diff.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/pub", "/pub/a", "/pub/d", "/secret"]);
    // Root's handle sees everything.
    let all = fs.diff_since(&root_before);
    assert!(all.iter().any(|c| c.path == "/secret/inner/c"));
}
