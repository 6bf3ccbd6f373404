//! The `vfs` crate's own conformance suite (`vfs::test_vfs!`) against `memfs::vfs::MemFsBackend`,
//! plus what the suite does not check: the backend and the `MemFs` behind it see one tree.

#![cfg(feature = "vfs")]
// The macro is vfs's code, not ours.
#![allow(clippy::useless_vec)]

use std::io::{Read, Write};

use memfs::vfs::MemFsBackend;
use vfs::VfsPath;

vfs::test_vfs!(MemFsBackend::new(memfs::create_fs()));

#[test]
fn the_backend_and_its_memfs_share_one_tree_and_snapshots_work_beside_it() {
    let fs = memfs::create_fs();
    let root: VfsPath = MemFsBackend::new(fs.clone()).into();
    root.join("a/b").unwrap().create_dir_all().unwrap();
    root.join("a/b/c.txt")
        .unwrap()
        .create_file()
        .unwrap()
        .write_all(b"one")
        .unwrap();
    assert_eq!(fs.read_to_string("/a/b/c.txt").unwrap(), "one");
    let snap = fs.snapshot();
    root.join("a/b/c.txt")
        .unwrap()
        .append_file()
        .unwrap()
        .write_all(b"two")
        .unwrap();
    let mut text = String::new();
    root.join("a/b/c.txt")
        .unwrap()
        .open_file()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "onetwo");
    assert_eq!(snap.read_to_string("/a/b/c.txt").unwrap(), "one");
    fs.restore(&snap).unwrap();
    assert_eq!(
        root.join("a/b/c.txt").unwrap().read_to_string().unwrap(),
        "one"
    );
    let walked: Vec<String> = root
        .walk_dir()
        .unwrap()
        .map(|p| p.unwrap().as_str().to_owned())
        .collect();
    assert_eq!(walked, ["/a", "/a/b", "/a/b/c.txt"]);
}

#[test]
fn moves_and_copies_never_replace() {
    let root: VfsPath = MemFsBackend::default().into();
    root.join("x")
        .unwrap()
        .create_file()
        .unwrap()
        .write_all(b"x")
        .unwrap();
    root.join("y")
        .unwrap()
        .create_file()
        .unwrap()
        .write_all(b"y")
        .unwrap();
    assert!(root
        .join("x")
        .unwrap()
        .move_file(&root.join("y").unwrap())
        .is_err());
    assert!(root
        .join("x")
        .unwrap()
        .copy_file(&root.join("y").unwrap())
        .is_err());
    assert_eq!(root.join("y").unwrap().read_to_string().unwrap(), "y");
    root.join("x")
        .unwrap()
        .move_file(&root.join("z").unwrap())
        .unwrap();
    assert!(!root.join("x").unwrap().exists().unwrap());
    assert_eq!(root.join("z").unwrap().read_to_string().unwrap(), "x");
}
