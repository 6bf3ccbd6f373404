#![cfg(feature = "fuse")]
//! FUSE smoke (temporary)

use memfs::fuse::{mount, MountOptions};
use memfs::MemFs;

#[test]
fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    fs.write("/hello.txt", "hi").unwrap();
    let h = mount(fs.clone(), dir.path(), &MountOptions::default()).unwrap();
    let p = dir.path();
    assert_eq!(std::fs::read_to_string(p.join("hello.txt")).unwrap(), "hi");
    std::fs::write(p.join("new.txt"), "data").unwrap();
    assert_eq!(fs.read_to_string("/new.txt").unwrap(), "data");
    std::fs::create_dir(p.join("d")).unwrap();
    std::fs::rename(p.join("new.txt"), p.join("d/n.txt")).unwrap();
    let names: Vec<_> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    println!("{names:?}");
    assert_eq!(fs.read_to_string("/d/n.txt").unwrap(), "data");
    h.unmount().map_err(|(e, _)| e).unwrap();
}
