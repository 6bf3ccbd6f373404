//! Property tests of the persistence formats: random trees (small and chunked files, symlinks,
//! named snapshots taken along the way) survive the binary image and the JSON dump unchanged,
//! and damaged images are refused without panicking.

use std::collections::BTreeMap;

use memfs::persist::{image, json};
use memfs::{MemFs, Snapshot};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Mkdir(u8, u8),
    Write(u8, u8, usize, u8),
    Append(u8, u8, u8),
    Symlink(u8, u8),
    Remove(u8, u8),
    Snapshot(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4u8, 0..4u8).prop_map(|(a, b)| Op::Mkdir(a, b)),
        (
            0..4u8,
            0..4u8,
            prop_oneof![0..100usize, 60_000..200_000usize],
            any::<u8>()
        )
            .prop_map(|(a, b, n, v)| Op::Write(a, b, n, v)),
        (0..4u8, 0..4u8, any::<u8>()).prop_map(|(a, b, v)| Op::Append(a, b, v)),
        (0..4u8, 0..4u8).prop_map(|(a, b)| Op::Symlink(a, b)),
        (0..4u8, 0..4u8).prop_map(|(a, b)| Op::Remove(a, b)),
        (0..3u8).prop_map(Op::Snapshot),
    ]
}

fn path(a: u8, b: u8) -> String {
    if b == 0 {
        format!("/d{a}")
    } else {
        format!("/d{a}/f{b}")
    }
}

fn apply(fs: &MemFs, snaps: &mut BTreeMap<String, Snapshot>, op: &Op) {
    // Errors (a missing parent, a file in the way...) are part of the game.
    let _ = match op {
        Op::Mkdir(a, b) => fs.create_dir_all(path(*a, *b)),
        Op::Write(a, b, n, v) => {
            // Mostly-repeating content, so chunks dedup across files.
            let data: Vec<u8> = (0..*n)
                .map(|i| v.wrapping_add((i / 70_000) as u8))
                .collect();
            fs.write(path(*a, *b), data)
        }
        Op::Append(a, b, v) => fs.append(path(*a, *b), [*v; 10]),
        Op::Symlink(a, b) => fs.symlink(format!("f{b}"), path(*a, *b + 4)),
        Op::Remove(a, b) => fs
            .remove_file(path(*a, *b))
            .or_else(|_| fs.remove_dir_all(path(*a, *b))),
        Op::Snapshot(n) => {
            snaps.insert(format!("s{n}"), fs.snapshot());
            Ok(())
        }
    };
}

fn dump_of(snap: &Snapshot) -> String {
    let fs = MemFs::new();
    fs.restore(snap).unwrap();
    json::dump(&fs, "/").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn image_and_json_round_trip(ops in proptest::collection::vec(op(), 1..40)) {
        let fs = MemFs::new();
        let mut snaps = BTreeMap::new();
        for op in &ops {
            apply(&fs, &mut snaps, op);
        }
        let bytes = image::encode(&fs, &snaps).expect("an in-memory image encodes");
        let img = image::decode(&bytes).unwrap();
        prop_assert_eq!(json::dump(&img.fs, "/").unwrap(), json::dump(&fs, "/").unwrap());
        prop_assert_eq!(img.snapshots.keys().collect::<Vec<_>>(), snaps.keys().collect::<Vec<_>>());
        for (name, snap) in &snaps {
            prop_assert_eq!(dump_of(&img.snapshots[name]), dump_of(snap));
        }
        // Chunks shared by files and snapshots are stored once, in the image as in memory.
        prop_assert_eq!(img.fs.stats().blobs, fs.stats().blobs);
        prop_assert_eq!(img.fs.stats().stored_bytes, fs.stats().stored_bytes);
        // Every file reads the same through the fast path.
        for (dir, _, files) in fs.walk("/").unwrap() {
            for f in files {
                let p = format!("{}/{f}", dir.trim_end_matches('/'));
                if fs.symlink_metadata(&p).unwrap().is_file() {
                    prop_assert_eq!(image::read_file(&bytes, &p).unwrap(), Some(fs.read(&p).unwrap()));
                }
            }
        }
        // JSON round trip.
        let text = json::dump(&fs, "/").unwrap();
        let back = MemFs::new();
        json::load_str(&back, &text).unwrap();
        prop_assert_eq!(json::dump(&back, "/").unwrap(), text);
    }

    #[test]
    fn damaged_images_are_errors(ops in proptest::collection::vec(op(), 1..15), at in any::<prop::sample::Index>(), bit in 0..8u8, cut in any::<prop::sample::Index>()) {
        let fs = MemFs::new();
        let mut snaps = BTreeMap::new();
        for op in &ops {
            apply(&fs, &mut snaps, op);
        }
        let bytes = image::encode(&fs, &snaps).expect("an in-memory image encodes");
        let mut flipped = bytes.clone();
        flipped[at.index(bytes.len())] ^= 1 << bit;
        prop_assert_eq!(image::decode(&flipped).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        let short = &bytes[..cut.index(bytes.len())];
        prop_assert_eq!(image::decode(short).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,80}") {
        let fs = MemFs::new();
        let _ = json::load_str(&fs, &text);
    }
}
