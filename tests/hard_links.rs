//! Hard links in the library: one node under several names, with its link count, through
//! every operation that adds, removes, moves or changes names, and kept by snapshots,
//! transactions, the state image and JSON export.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};

use memfs::persist::{image, json};
use memfs::{errno_of, MemFs};

fn linked() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all("/a/deep").unwrap();
    fs.create_dir("/b").unwrap();
    fs.write("/a/deep/f", "one").unwrap();
    fs.hard_link("/a/deep/f", "/b/g").unwrap();
    fs
}

fn nlink(fs: &MemFs, p: &str) -> u32 {
    fs.symlink_metadata(p).unwrap().nlink()
}

#[test]
fn both_names_are_one_file() {
    let fs = linked();
    let (m1, m2) = (
        fs.metadata("/a/deep/f").unwrap(),
        fs.metadata("/b/g").unwrap(),
    );
    assert_eq!(m1.ino(), m2.ino());
    assert_eq!((m1.nlink(), m2.nlink()), (2, 2));
    fs.write("/b/g", "two").unwrap();
    assert_eq!(fs.read_to_string("/a/deep/f").unwrap(), "two");
    fs.append("/a/deep/f", b"!").unwrap();
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "two!");
    fs.set_permissions("/b/g", 0o600).unwrap();
    assert_eq!(
        fs.metadata("/a/deep/f").unwrap().permissions().mode(),
        0o600
    );
    fs.chown("/a/deep/f", Some(7), Some(8)).unwrap();
    assert_eq!(fs.metadata("/b/g").unwrap().uid(), 7);
    // A third name counts too.
    fs.hard_link("/b/g", "/h").unwrap();
    assert_eq!(
        [
            nlink(&fs, "/a/deep/f"),
            nlink(&fs, "/b/g"),
            nlink(&fs, "/h")
        ],
        [3, 3, 3]
    );
    // A copy is a new file.
    fs.copy("/h", "/c").unwrap();
    assert_eq!(nlink(&fs, "/c"), 1);
    assert_ne!(fs.metadata("/c").unwrap().ino(), m1.ino());
    // Directories count 2 plus their subdirectories, as on Linux.
    assert_eq!(nlink(&fs, "/a"), 3);
    assert_eq!(nlink(&fs, "/a/deep"), 2);
}

#[test]
fn removing_a_name_drops_one_link() {
    let fs = linked();
    let before = fs.metadata("/b/g").unwrap().changed().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    fs.remove_file("/a/deep/f").unwrap();
    let m = fs.metadata("/b/g").unwrap();
    assert_eq!(m.nlink(), 1);
    assert!(
        m.changed().unwrap() > before,
        "unlink changes the inode's ctime"
    );
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "one");
    // Now a plain file: changing it changes nothing else.
    fs.write("/b/g", "alone").unwrap();
    assert!(!fs.exists("/a/deep/f"));
    fs.remove_file("/b/g").unwrap();
    assert_eq!(fs.stats().files, 0);
}

#[test]
fn renames_move_names_and_replace_links() {
    let fs = linked();
    // Moving the directory above one name: the link follows.
    fs.rename("/a", "/z").unwrap();
    fs.write("/b/g", "after move").unwrap();
    assert_eq!(fs.read_to_string("/z/deep/f").unwrap(), "after move");
    // Renaming a name.
    fs.rename("/z/deep/f", "/f2").unwrap();
    fs.write("/f2", "renamed").unwrap();
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "renamed");
    // Renaming one name onto another of the same node does nothing (rename(2)).
    fs.rename("/f2", "/b/g").unwrap();
    assert!(fs.exists("/f2") && fs.exists("/b/g"));
    assert_eq!(nlink(&fs, "/f2"), 2);
    // Replacing a name with another file drops one link of the replaced node.
    fs.write("/other", "other").unwrap();
    fs.rename("/other", "/f2").unwrap();
    assert_eq!(nlink(&fs, "/b/g"), 1);
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "renamed");
    assert_eq!(fs.read_to_string("/f2").unwrap(), "other");
}

#[test]
fn removing_a_tree_drops_the_links_in_it() {
    let fs = linked();
    fs.hard_link("/b/g", "/a/second").unwrap();
    assert_eq!(nlink(&fs, "/b/g"), 3);
    fs.remove_dir_all("/a").unwrap();
    assert_eq!(nlink(&fs, "/b/g"), 1);
    fs.write("/b/g", "x").unwrap();
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "x");
}

#[test]
fn errors_are_linux_s() {
    let fs = linked();
    let e = fs.hard_link("/a", "/dirlink").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(errno_of(&e), 1, "EPERM");
    let e = fs.hard_link("/missing", "/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = fs.hard_link("/b/g", "/a/deep/f").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    // EEXIST comes before EPERM, as in Linux's linkat.
    let e = fs.hard_link("/a", "/b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let e = fs.hard_link("/b/g", "/nodir/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = fs.hard_link("/b/g", "/b/g/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotADirectory);
    let e = fs.hard_link("/b/g", "/new/").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // Nothing changed.
    assert_eq!(nlink(&fs, "/b/g"), 2);
}

#[test]
fn symlinks_and_special_files_link_too() {
    let fs = MemFs::new();
    fs.write("/t", "target").unwrap();
    fs.symlink("/t", "/s").unwrap();
    // The link is to the symlink itself (link(2) does not follow).
    fs.hard_link("/s", "/s2").unwrap();
    assert!(fs.symlink_metadata("/s2").unwrap().is_symlink());
    assert_eq!(nlink(&fs, "/s"), 2);
    assert_eq!(nlink(&fs, "/t"), 1);
    fs.mkfifo("/p", 0o600).unwrap();
    fs.hard_link("/p", "/p2").unwrap();
    assert!(fs.metadata("/p2").unwrap().file_type().is_fifo());
    assert_eq!(nlink(&fs, "/p"), 2);
}

#[test]
fn an_open_file_writes_to_its_node_under_any_name() {
    let fs = MemFs::new();
    fs.write("/a", "").unwrap();
    let mut f = fs
        .open_with("/a", memfs::OpenOptions::new().write(true))
        .unwrap();
    fs.hard_link("/a", "/b").unwrap();
    fs.remove_file("/a").unwrap();
    f.write_all(b"kept").unwrap();
    f.flush().unwrap();
    drop(f);
    assert_eq!(fs.read_to_string("/b").unwrap(), "kept");
    assert!(!fs.exists("/a"));
}

#[test]
fn snapshots_and_transactions_keep_links() {
    let fs = linked();
    let snap = fs.snapshot();
    fs.remove_file("/b/g").unwrap();
    assert_eq!(nlink(&fs, "/a/deep/f"), 1);
    assert_eq!(snap.metadata("/b/g").unwrap().nlink(), 2);
    fs.restore(&snap).unwrap();
    fs.write("/b/g", "restored").unwrap();
    assert_eq!(fs.read_to_string("/a/deep/f").unwrap(), "restored");

    let mut tx = fs.begin();
    tx.hard_link("/a/deep/f", "/tx").unwrap();
    tx.write("/tx", "in tx").unwrap();
    assert_eq!(tx.read("/b/g").unwrap(), b"in tx");
    tx.commit().unwrap();
    assert_eq!(nlink(&fs, "/b/g"), 3);
    assert_eq!(fs.read_to_string("/b/g").unwrap(), "in tx");

    // A transaction that read one name conflicts with a write through another.
    let mut tx = fs.begin();
    assert_eq!(tx.read("/tx").unwrap(), b"in tx");
    tx.write("/elsewhere", "x").unwrap();
    fs.write("/b/g", "theirs").unwrap();
    assert!(memfs::is_conflict(&tx.commit().unwrap_err()));
    // So does one that wrote one name (a file written is a file depended on).
    let mut tx = fs.begin();
    tx.write("/tx", "mine").unwrap();
    fs.write("/b/g", "theirs again").unwrap();
    assert!(memfs::is_conflict(&tx.commit().unwrap_err()));
    assert_eq!(fs.read_to_string("/a/deep/f").unwrap(), "theirs again");
    // Replayed after an unrelated change, a transaction's write reaches every name.
    let mut tx = fs.begin();
    tx.write("/tx", "mine").unwrap();
    fs.write("/unrelated", "u").unwrap();
    tx.commit().unwrap();
    assert_eq!(fs.read_to_string("/a/deep/f").unwrap(), "mine");
    assert_eq!(nlink(&fs, "/b/g"), 3);
}

#[test]
fn the_state_image_and_json_keep_links() {
    let fs = linked();
    fs.hard_link("/b/g", "/third").unwrap();
    let img = image::encode(&fs, &BTreeMap::new()).unwrap();
    let back = image::decode(&img).unwrap().fs;
    assert_eq!(nlink(&back, "/b/g"), 3);
    assert_eq!(
        back.metadata("/b/g").unwrap().ino(),
        back.metadata("/third").unwrap().ino()
    );
    back.write("/third", "loaded").unwrap();
    assert_eq!(back.read_to_string("/a/deep/f").unwrap(), "loaded");

    let text = json::dump(&fs, "/").unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["files"]["/a/deep/f"]["content"], "one");
    assert_eq!(v["files"]["/b/g"]["type"], "link");
    assert_eq!(v["files"]["/b/g"]["target"], "/a/deep/f");
    let back = MemFs::new();
    json::load_str(&back, &text).unwrap();
    assert_eq!(nlink(&back, "/third"), 3);
    assert_eq!(json::dump(&back, "/").unwrap(), text);
    back.write("/b/g", "json").unwrap();
    assert_eq!(back.read_to_string("/third").unwrap(), "json");
    // A link to nothing is refused and changes nothing.
    let e = json::load_str(
        &back,
        r#"{"files": {"/x": {"type": "link", "target": "/none"}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(back.read_to_string("/b/g").unwrap(), "json");
}

#[test]
fn nothing_is_left_once_every_name_is_gone() {
    let fs = MemFs::new();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs.write("/big", data).unwrap();
    for i in 0..10 {
        fs.hard_link("/big", format!("/l{i}")).unwrap();
    }
    assert_eq!(nlink(&fs, "/l3"), 11);
    assert!(fs.stats().stored_bytes >= 200_000);
    fs.remove_file("/big").unwrap();
    for i in 0..10 {
        fs.remove_file(format!("/l{i}")).unwrap();
    }
    assert_eq!(fs.stats().stored_bytes, 0);
}

/// A directory's link count is 2 plus its subdirectories after every kind of change (kept as a
/// count, not recounted: checked here against a listing).
#[test]
fn directory_link_counts_follow_every_change() {
    let fs = MemFs::new();
    let check = |what: &str| {
        for (dir, subdirs, _) in fs.walk("/").unwrap() {
            let real = fs
                .read_dir(&dir)
                .unwrap()
                .iter()
                .filter(|e| e.metadata().unwrap().is_dir())
                .count() as u32;
            assert_eq!(
                fs.metadata(&dir).unwrap().nlink(),
                2 + real,
                "{dir} after {what} ({subdirs:?})"
            );
        }
    };
    fs.create_dir_all("/a/b/c").unwrap();
    fs.create_dir_all("/a/d").unwrap();
    fs.create_dir("/e").unwrap();
    fs.write("/a/f", "x").unwrap();
    check("mkdir");
    fs.rename("/a/d", "/e/d").unwrap();
    check("moving a directory");
    fs.create_dir("/empty").unwrap();
    fs.rename("/e/d", "/empty").unwrap();
    check("a directory replacing an empty one");
    fs.rename("/a/f", "/a/b/c/f").unwrap();
    fs.write("/g", "y").unwrap();
    fs.rename("/g", "/a/b/c/f").unwrap();
    check("files moving");
    fs.remove_dir_all("/a/b").unwrap();
    fs.remove_dir("/e").unwrap();
    check("removals");
    let snap = fs.snapshot();
    fs.create_dir("/a/new").unwrap();
    fs.restore(&snap).unwrap();
    check("restore");
    let back = image::decode(&image::encode(&fs, &BTreeMap::new()).unwrap())
        .unwrap()
        .fs;
    assert_eq!(back.metadata("/").unwrap().nlink(), 4, "/a, /empty");
}
