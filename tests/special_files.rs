//! Special files (FIFOs, sockets, device nodes) in the library: made by `mknod`/`mkfifo`,
//! reported by `metadata`, refused by the file API, kept by snapshots, transactions, the state
//! image, JSON export and content-addressed objects.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use memfs::persist::{image, json};
use memfs::{FileType, MemFs};

fn sample() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir("/dev").unwrap();
    fs.mkfifo("/dev/pipe", 0o640).unwrap();
    fs.mknod("/dev/sock", FileType::Socket, 0o755, 99).unwrap();
    fs.mknod("/dev/null", FileType::CharDevice, 0o666, 0x103)
        .unwrap();
    fs.mknod("/dev/loop0", FileType::BlockDevice, 0o660, 0x700)
        .unwrap();
    fs
}

/// `(kind, permission bits, rdev)` of each special file.
fn specials(fs: &MemFs) -> BTreeMap<String, (FileType, u32, u64)> {
    fs.read_dir("/dev")
        .unwrap()
        .into_iter()
        .map(|e| {
            let m = fs.symlink_metadata(e.path()).unwrap();
            (
                e.path().to_string(),
                (m.file_type(), m.permissions().mode(), m.rdev()),
            )
        })
        .collect()
}

#[test]
fn made_reported_and_refused_like_linux() {
    let fs = sample();
    let m = fs.metadata("/dev/pipe").unwrap();
    assert!(m.file_type().is_fifo() && m.file_type().is_special());
    assert!(!m.is_file() && !m.is_dir());
    assert_eq!(m.mode(), 0o010640, "st_mode with S_IFIFO");
    assert_eq!(m.len(), 0);
    assert_eq!(fs.metadata("/dev/null").unwrap().rdev(), 0x103);
    assert_eq!(
        fs.metadata("/dev/null").unwrap().mode() & 0o170000,
        0o020000
    );
    // A socket or FIFO has no device number.
    assert_eq!(fs.metadata("/dev/sock").unwrap().rdev(), 0);
    // The creation rules are those of every create.
    let e = fs.mkfifo("/dev/pipe", 0o600).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let e = fs.mkfifo("/missing/pipe", 0o600).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = fs.mkfifo("/dev/pipe/x", 0o600).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotADirectory);
    let e = fs.mknod("/f", FileType::File, 0o600, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // The library stores them; it does not open them.
    for e in [
        fs.read("/dev/pipe").unwrap_err(),
        fs.open("/dev/null").unwrap_err(),
        fs.write("/dev/pipe", b"x").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("special file"), "{e}");
    }
    // listed among filenames, counted, renamed and removed like any entry
    let (_, _, files) = fs.walk("/dev").unwrap().next().unwrap();
    assert_eq!(files, ["loop0", "null", "pipe", "sock"]);
    assert_eq!(fs.stats().specials, 4);
    fs.rename("/dev/pipe", "/pipe").unwrap();
    assert!(fs.metadata("/pipe").unwrap().file_type().is_fifo());
    fs.remove_file("/pipe").unwrap();
    let e = fs.remove_dir("/dev").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DirectoryNotEmpty);
}

#[test]
fn kept_by_snapshots_transactions_images_json_and_objects() {
    let fs = sample();
    let want = specials(&fs);
    let snap = fs.snapshot();
    fs.remove_dir_all("/dev").unwrap();
    fs.restore(&snap).unwrap();
    assert_eq!(specials(&fs), want);

    fs.transaction(|t| t.mknod("/dev/fifo2", FileType::Fifo, 0o600, 0))
        .unwrap();
    assert!(fs.metadata("/dev/fifo2").unwrap().file_type().is_fifo());
    fs.remove_file("/dev/fifo2").unwrap();

    // The state image (version 3 when special files are in it).
    let img = image::encode(&fs, &BTreeMap::new()).unwrap();
    assert_eq!(u32::from_le_bytes(img[8..12].try_into().unwrap()), 3);
    assert_eq!(specials(&image::decode(&img).unwrap().fs), want);
    let plain = MemFs::new();
    plain.write("/f", b"x").unwrap();
    let img = image::encode(&plain, &BTreeMap::new()).unwrap();
    assert_eq!(
        u32::from_le_bytes(img[8..12].try_into().unwrap()),
        1,
        "as before"
    );

    // JSON export and import.
    let text = json::dump(&fs, "/").unwrap();
    let back = MemFs::new();
    json::load_str(&back, &text).unwrap();
    assert_eq!(specials(&back), want);

    // Content-addressed objects (what memfs-store pushes).
    let objs = fs.snapshot().objects().unwrap();
    let mut imp = memfs::persist::objects::Import::new(&MemFs::new());
    for id in objs.dir_ids() {
        imp.add_dir(*id, objs.dir(id).unwrap().bytes.clone())
            .unwrap();
    }
    let other = MemFs::new();
    other
        .restore(&imp.finish(objs.root(), objs.root_meta()).unwrap())
        .unwrap();
    assert_eq!(specials(&other), want);
}
