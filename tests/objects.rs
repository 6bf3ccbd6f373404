//! A snapshot as content-addressed objects (`memfs::persist::objects`): the round trip through
//! objects keeps the tree, its metadata and its sharing of chunks; unchanged subtrees keep
//! their names; corrupt, missing and substituted objects are `InvalidData` naming the object.

mod common;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::time::{Duration, SystemTime};

use memfs::persist::objects::{hex, refs_of, verify, Import, ObjectId, TreeObjects};
use memfs::{MemFs, Snapshot};

fn sample() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all("/a/b/c").unwrap();
    fs.create_dir("/empty").unwrap();
    fs.write("/a/small.txt", b"hello").unwrap();
    fs.write("/a/b/empty", b"").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    fs.write("/a/b/c/big.bin", &big).unwrap();
    fs.write("/a/b/c/big-copy.bin", &big).unwrap();
    fs.write("/inline-max", vec![9u8; memfs::INLINE_MAX])
        .unwrap();
    fs.write("/just-over", vec![8u8; memfs::INLINE_MAX + 1])
        .unwrap();
    fs.symlink("a/small.txt", "/link").unwrap();
    fs.set_permissions("/a/small.txt", 0o600).unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    fs.set_times("/a/b/empty", Some(t), Some(t)).unwrap();
    fs.set_metadata(
        "/a/small.txt",
        BTreeMap::from([("k".to_string(), "v".to_string())]),
    )
    .unwrap();
    fs
}

/// Every object of `objs`, fed to an import into `fs` (directories and chunks in hash order,
/// not tree order).
fn import_all(objs: &TreeObjects, fs: &MemFs) -> std::io::Result<Snapshot> {
    let mut imp = Import::new(fs);
    let mut dirs: Vec<&ObjectId> = objs.dir_ids().collect();
    dirs.sort();
    for id in dirs {
        imp.add_dir(*id, objs.dir(id).unwrap().bytes.clone())?;
    }
    for id in objs.chunk_ids() {
        imp.add_chunk(*id, &objs.chunk(id).unwrap()?)?;
    }
    imp.finish(objs.root(), objs.root_meta())
}

#[test]
fn round_trip_keeps_tree_metadata_and_dedup() {
    let fs = sample();
    let objs = fs.snapshot().objects().unwrap();
    // big.bin and its copy share their chunks: 4 chunks of 64 KiB (the last shorter), once.
    assert_eq!(objs.files(), 6);
    assert_eq!(objs.file_bytes(), fs.stats().logical_bytes);
    let other = MemFs::new();
    let snap = import_all(&objs, &other).unwrap();
    other.restore(&snap).unwrap();
    assert_eq!(common::mem_tree(&fs, "/"), common::mem_tree(&other, "/"));
    for p in [
        "/a/small.txt",
        "/a/b/empty",
        "/a/b/c",
        "/link",
        "/just-over",
    ] {
        let (m1, m2) = (
            fs.symlink_metadata(p).unwrap(),
            other.symlink_metadata(p).unwrap(),
        );
        assert_eq!(m1.permissions().mode(), m2.permissions().mode(), "{p}");
        assert_eq!(m1.modified().unwrap(), m2.modified().unwrap(), "{p}");
        assert_eq!(m1.accessed().unwrap(), m2.accessed().unwrap(), "{p}");
        assert_eq!(m1.len(), m2.len(), "{p}");
    }
    assert_eq!(
        other.get_metadata("/a/small.txt").unwrap(),
        fs.get_metadata("/a/small.txt").unwrap()
    );
    // Same chunks stored once in the importing filesystem too.
    assert_eq!(other.stats().stored_bytes, fs.stats().stored_bytes);
    // The imported tree encodes to the same objects: its root has the same name.
    assert_eq!(other.snapshot().objects().unwrap().root(), objs.root());
}

#[test]
fn a_change_renames_only_the_directories_on_its_path() {
    let fs = sample();
    let before = fs.snapshot().objects().unwrap();
    fs.write("/a/b/c/new.txt", b"new").unwrap();
    let after = fs.snapshot().objects().unwrap();
    let new_dirs: Vec<_> = after
        .dir_ids()
        .filter(|id| before.dir(id).is_none())
        .collect();
    // "/", "/a", "/a/b", "/a/b/c" change; "/empty" does not.
    assert_eq!(new_dirs.len(), 4);
    let new_chunks = after
        .chunk_ids()
        .filter(|id| before.chunk(id).is_none())
        .count();
    assert_eq!(new_chunks, 1);
    // Two separately built identical trees (same times) name the same objects.
    let copy = MemFs::new();
    copy.restore(&import_all(&after, &copy).unwrap()).unwrap();
    assert_eq!(copy.snapshot().objects().unwrap().root(), after.root());
}

#[test]
fn altered_missing_and_foreign_objects_are_invalid_data_naming_the_object() {
    let fs = sample();
    let objs = fs.snapshot().objects().unwrap();
    let root = objs.root();
    let mut bytes = objs.dir(&root).unwrap().bytes.clone();
    // Altered (one bit) and truncated directory objects.
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let e = refs_of(&root, &bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains(&hex(&root)), "{e}");
    let e = refs_of(&root, &objs.dir(&root).unwrap().bytes[..10]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    // A chunk that is not what its name says.
    let chunk = *objs.chunk_ids().next().unwrap();
    let mut imp = Import::new(&MemFs::new());
    let e = imp.add_chunk(chunk, b"something else").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains(&hex(&chunk)), "{e}");
    // A missing chunk and a missing directory: finish names them.
    let fresh = MemFs::new();
    let mut imp = Import::new(&fresh);
    for id in objs.dir_ids() {
        imp.add_dir(*id, objs.dir(id).unwrap().bytes.clone())
            .unwrap();
    }
    let e = imp.finish(root, objs.root_meta()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("chunk"), "{e}");
    let imp = Import::new(&fresh);
    let e = imp.finish(root, objs.root_meta()).unwrap_err();
    assert!(e.to_string().contains(&hex(&root)), "{e}");
    // A well-formed object with a valid hash but garbage inside is refused, not a panic.
    for garbage in [
        &b""[..],
        b"MFSD",
        b"MFSD\x01\x00",
        b"MFSD\x03\x00",
        b"MFSD\x02\x05",
        b"MFSD\x02\x01\x01a\x00",
    ] {
        let id = memfs::persist::objects::object_id(garbage);
        assert!(verify("directory", &id, garbage).is_ok());
        let e = refs_of(&id, garbage).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{garbage:?}");
    }
}

#[test]
fn an_export_of_the_whole_tree_is_roots() {
    let fs = MemFs::new();
    fs.write("/a", "x").unwrap();
    let user = fs.as_user(memfs::Credentials::new(1000, 1000));
    let e = user.snapshot().objects().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    assert_eq!(memfs::errno_of(&e), 1, "EPERM, as restore and JSON dumps");
    assert!(fs.snapshot().objects().is_ok());
    let uid0 = fs.as_user(memfs::Credentials::new(0, 0));
    assert!(uid0.snapshot().objects().is_ok());
}
