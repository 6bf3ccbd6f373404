//! Owners and groups: the creator's ids by default, `chown`/`lchown` with Linux's clearing of
//! set-id bits, set-group-ID directories, and persistence.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::process::Command;

use memfs::persist::image;
use memfs::MemFs;

fn id(flag: &str) -> u32 {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn owner(fs: &MemFs, p: &str) -> (u32, u32) {
    let m = fs.symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn new_nodes_belong_to_the_process_and_chown_changes_them() {
    let fs = MemFs::new();
    fs.write("/f", b"x").unwrap();
    fs.create_dir("/d").unwrap();
    fs.symlink("f", "/l").unwrap();
    let me = (id("-u"), id("-g"));
    for p in ["/", "/f", "/d", "/l"] {
        assert_eq!(owner(&fs, p), me, "{p}");
    }
    fs.chown("/f", Some(1234), None).unwrap();
    assert_eq!(owner(&fs, "/f"), (1234, me.1));
    fs.chown("/f", None, Some(99)).unwrap();
    assert_eq!(owner(&fs, "/f"), (1234, 99));
    // chown follows a symlink; lchown changes the link itself.
    fs.chown("/l", Some(7), Some(7)).unwrap();
    assert_eq!(owner(&fs, "/f"), (7, 7));
    assert_eq!(owner(&fs, "/l"), me);
    fs.lchown("/l", Some(8), Some(9)).unwrap();
    assert_eq!((owner(&fs, "/l"), owner(&fs, "/f")), ((8, 9), (7, 7)));
    let e = fs.chown("/missing", Some(1), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // In a transaction, too.
    fs.transaction(|t| t.chown("/d", Some(5), Some(6))).unwrap();
    assert_eq!(owner(&fs, "/d"), (5, 6));
}

#[test]
fn chown_clears_set_id_bits_of_files_as_linux_does() {
    let fs = MemFs::new();
    fs.write("/exe", b"x").unwrap();
    fs.set_permissions("/exe", 0o6755).unwrap();
    fs.chown("/exe", Some(1), None).unwrap();
    assert_eq!(fs.metadata("/exe").unwrap().permissions().mode(), 0o755);
    // Set-group-ID without group execute is mandatory locking: kept.
    fs.set_permissions("/exe", 0o6745).unwrap();
    fs.chown("/exe", None, Some(1)).unwrap();
    assert_eq!(fs.metadata("/exe").unwrap().permissions().mode(), 0o2745);
    // Directories keep theirs; a chown with neither id still clears a file's, as on Linux.
    fs.create_dir("/d").unwrap();
    fs.set_permissions("/d", 0o2775).unwrap();
    fs.chown("/d", Some(1), Some(1)).unwrap();
    assert_eq!(fs.metadata("/d").unwrap().permissions().mode(), 0o2775);
    fs.set_permissions("/exe", 0o4755).unwrap();
    fs.chown("/exe", None, None).unwrap();
    assert_eq!(fs.metadata("/exe").unwrap().permissions().mode(), 0o755);
}

#[test]
fn a_set_group_id_directory_gives_its_group_to_what_is_made_in_it() {
    let fs = MemFs::new();
    fs.create_dir("/shared").unwrap();
    fs.chown("/shared", None, Some(4242)).unwrap();
    fs.set_permissions("/shared", 0o2775).unwrap();
    fs.write("/shared/f", b"x").unwrap();
    fs.create_dir("/shared/sub").unwrap();
    fs.mkfifo("/shared/p", 0o600).unwrap();
    assert_eq!(owner(&fs, "/shared/f").1, 4242);
    assert_eq!(owner(&fs, "/shared/p").1, 4242);
    let sub = fs.metadata("/shared/sub").unwrap();
    assert_eq!(sub.gid(), 4242);
    assert_eq!(sub.permissions().mode() & 0o2000, 0o2000, "inherited");
    // Not in an ordinary directory.
    fs.create_dir("/plain").unwrap();
    fs.write("/plain/f", b"x").unwrap();
    assert_eq!(owner(&fs, "/plain/f").1, id("-g"));
}

#[test]
fn owners_persist_and_older_images_belong_to_whoever_loads_them() {
    let fs = MemFs::new();
    fs.write("/f", b"x").unwrap();
    fs.chown("/f", Some(1000), Some(1001)).unwrap();
    fs.chown("/", Some(0), Some(0)).unwrap();
    let img = image::encode(&fs, &BTreeMap::new()).unwrap();
    assert_eq!(u32::from_le_bytes(img[8..12].try_into().unwrap()), 3);
    let back = image::decode(&img).unwrap().fs;
    assert_eq!(owner(&back, "/f"), (1000, 1001));
    assert_eq!(owner(&back, "/"), (0, 0));
    // A version 1 image (no owners in it): everything is the loading process's.
    let old = MemFs::new();
    old.write("/g", b"y").unwrap();
    old.chown("/g", Some(0), Some(0)).unwrap();
    old.chown("/", Some(0), Some(0)).unwrap();
    let img = image::encode(&old, &BTreeMap::new()).unwrap();
    assert_eq!(u32::from_le_bytes(img[8..12].try_into().unwrap()), 1);
    let back = image::decode(&img).unwrap().fs;
    assert_eq!(owner(&back, "/g"), (id("-u"), id("-g")));
    // Objects (what memfs-store pushes) carry them too.
    let objs = fs.snapshot().objects().unwrap();
    let mut imp = memfs::persist::objects::Import::new(&MemFs::new());
    for id in objs.dir_ids() {
        imp.add_dir(*id, objs.dir(id).unwrap().bytes.clone())
            .unwrap();
    }
    for id in objs.chunk_ids() {
        imp.add_chunk(*id, &objs.chunk(id).unwrap().unwrap())
            .unwrap();
    }
    let other = MemFs::new();
    other
        .restore(&imp.finish(objs.root(), objs.root_meta()).unwrap())
        .unwrap();
    assert_eq!(owner(&other, "/f"), (1000, 1001));
}
