//! loom model of the blob store: insert and release of the same chunk racing on two threads,
//! through the real `BlobStore` code (reached by writing and removing files above
//! `INLINE_MAX`, so every chunk goes through `insert_hashed` and `BlobRef::drop`).
#![cfg(loom)]

use memfs::{MemFs, INLINE_MAX};

fn big(byte: u8) -> Vec<u8> {
    vec![byte; INLINE_MAX + 1]
}

/// Two files holding the same chunk are removed at the same time: the chunk is freed exactly
/// once (no double free: the counters never underflow) and is not leaked.
#[test]
fn concurrent_release_of_the_same_chunk_frees_it_once() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/a", big(1)).unwrap();
        fs.write("/b", big(1)).unwrap();
        assert_eq!(fs.stats().blobs, 1);
        let t = {
            let fs = fs.clone();
            loom::thread::spawn(move || fs.remove_file("/a").unwrap())
        };
        fs.remove_file("/b").unwrap();
        t.join().unwrap();
        let s = fs.stats();
        assert_eq!((s.blobs, s.stored_bytes), (0, 0), "chunk leaked: {s:?}");
    });
}

/// One thread inserts a chunk while another releases the last reference to the same chunk:
/// whatever the order, the surviving file reads back its bytes and exactly one copy is stored.
#[test]
fn insert_racing_release_of_the_same_chunk() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/old", big(2)).unwrap();
        let t = {
            let fs = fs.clone();
            loom::thread::spawn(move || fs.write("/new", big(2)).unwrap())
        };
        fs.remove_file("/old").unwrap();
        t.join().unwrap();
        assert_eq!(fs.read("/new").unwrap(), big(2));
        let s = fs.stats();
        assert_eq!(s.blobs, 1, "{s:?}");
        assert_eq!(s.stored_bytes, big(2).len() as u64, "{s:?}");
        fs.remove_file("/new").unwrap();
        let s = fs.stats();
        assert_eq!((s.blobs, s.stored_bytes), (0, 0), "chunk leaked: {s:?}");
    });
}

/// Three threads on one chunk: two drop the last references of two files while a third
/// stores the same bytes again. The survivor reads back its bytes; exactly one copy remains,
/// and none once it is removed.
#[test]
fn two_releases_racing_an_insert() {
    loom::model(|| {
        let fs = MemFs::new();
        fs.write("/a", big(3)).unwrap();
        fs.write("/b", big(3)).unwrap();
        let removers: Vec<_> = ["/a", "/b"]
            .into_iter()
            .map(|p| {
                let fs = fs.clone();
                loom::thread::spawn(move || fs.remove_file(p).unwrap())
            })
            .collect();
        fs.write("/c", big(3)).unwrap();
        for t in removers {
            t.join().unwrap();
        }
        assert_eq!(fs.read("/c").unwrap(), big(3));
        let s = fs.stats();
        assert_eq!((s.blobs, s.stored_bytes), (1, big(3).len() as u64), "{s:?}");
        fs.remove_file("/c").unwrap();
        let s = fs.stats();
        assert_eq!((s.blobs, s.stored_bytes), (0, 0), "chunk leaked: {s:?}");
    });
}
