//! Concurrency of the commit protocol: writers racing on one directory lose nothing; readers
//! see consistent versions while writers work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use memfs::MemFs;

#[test]
fn eight_threads_create_in_one_directory_and_nothing_is_lost() {
    let fs = MemFs::new();
    fs.create_dir("/shared").unwrap();
    thread::scope(|s| {
        for t in 0..8 {
            let fs = fs.clone();
            s.spawn(move || {
                for i in 0..1000 {
                    fs.write(format!("/shared/t{t}_{i}"), format!("{t}:{i}"))
                        .unwrap();
                }
            });
        }
    });
    let names = fs.listdir("/shared").unwrap();
    assert_eq!(names.len(), 8000);
    for t in 0..8 {
        for i in (0..1000).step_by(97) {
            assert_eq!(
                fs.readfile(format!("/shared/t{t}_{i}")).unwrap(),
                format!("{t}:{i}")
            );
        }
    }
}

#[test]
fn concurrent_appends_are_all_kept() {
    let fs = MemFs::new();
    thread::scope(|s| {
        for t in 0..4 {
            let fs = fs.clone();
            s.spawn(move || {
                for _ in 0..250 {
                    fs.append("/log", [b'a' + t as u8]).unwrap();
                }
            });
        }
    });
    let log = fs.read("/log").unwrap();
    assert_eq!(log.len(), 1000);
    for t in 0..4u8 {
        assert_eq!(log.iter().filter(|&&b| b == b'a' + t).count(), 250);
    }
}

#[test]
fn readers_see_whole_operations_only() {
    // A writer replaces a directory holding two equal files by removing it whole and renaming
    // a new one in place; readers must never see one file of a version without the other.
    let fs = MemFs::new();
    fs.create_dir_all("/cur").unwrap();
    fs.write("/cur/a", "0").unwrap();
    fs.write("/cur/b", "0").unwrap();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut checks = 0;
                while !stop.load(Ordering::Relaxed) || checks < 100 {
                    let snap = fs.snapshot();
                    match (snap.read("/cur/a"), snap.read("/cur/b")) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b, "a snapshot mixed two versions"),
                        (Err(_), Err(_)) => {} // between remove_dir_all and rename
                        (a, b) => panic!("torn view: {a:?} / {b:?}"),
                    }
                    checks += 1;
                }
            });
        }
        for i in 1..=300 {
            fs.create_dir_all("/next").unwrap();
            fs.write("/next/a", i.to_string()).unwrap();
            fs.write("/next/b", i.to_string()).unwrap();
            fs.remove_dir_all("/cur").unwrap();
            fs.rename("/next", "/cur").unwrap_or_else(|e| panic!("{e}"));
        }
        stop.store(true, Ordering::Relaxed);
    });
}

#[test]
fn parallel_example_pattern_works() {
    // The original README's ThreadPool example, as a test (examples/parallel.rs runs it too).
    let fs = MemFs::new();
    fs.makedirs("/parallel", true).unwrap();
    let results: Vec<String> = thread::scope(|s| {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let fs = fs.clone();
                s.spawn(move || {
                    let path = format!("/parallel/file_{i}.txt");
                    fs.writefile(&path, format!("Content for file {i}"))
                        .unwrap();
                    fs.readfile(&path).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.len(), 100);
    assert_eq!(fs.listdir("/parallel").unwrap().len(), 100);
    assert_eq!(results[42], "Content for file 42");
}
