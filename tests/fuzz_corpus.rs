//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the same harness functions the
//! cargo-fuzz targets call (`fuzz/src/*.rs`, included here by path), so CI checks every
//! saved input, past crashes included, without cargo-fuzz or a nightly toolchain.

#[path = "../fuzz/src/crypt_read.rs"]
mod crypt_read;
#[path = "../fuzz/src/image_load.rs"]
mod image_load;
#[path = "../fuzz/src/json_load.rs"]
mod json_load;
#[path = "../fuzz/src/ops.rs"]
mod ops;
#[path = "../fuzz/src/path_parse.rs"]
mod path_parse;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no corpus in {}", dir.display());
    for input in &inputs {
        let data = std::fs::read(input).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", input.display());
    }
}

#[test]
fn path_parse_corpus() {
    replay("path_parse", path_parse::run);
}

#[test]
fn ops_corpus() {
    replay("ops", ops::run);
}

#[test]
fn image_load_corpus() {
    replay("image_load", image_load::run);
}

#[test]
fn json_load_corpus() {
    replay("json_load", json_load::run);
}

#[test]
fn crypt_read_corpus() {
    replay("crypt_read", crypt_read::run);
}

/// Writes the seed inputs of `fuzz/corpus/{image_load,json_load,crypt_read}/` (real encoded
/// images, JSON documents in both forms, real encrypted files). Run by hand:
/// `cargo test --test fuzz_corpus write_seeds -- --ignored`.
#[test]
#[ignore]
fn write_seeds() {
    use std::collections::BTreeMap;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let save = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    // Images: empty; a small tree with a snapshot; inline, chunked (one chunk shared by two
    // files), symlink.
    // First byte odd: the image as is; even: its uncompressed body (see image_load.rs).
    let save_image = |name: &str, img: Vec<u8>| {
        let raw_len = u64::from_le_bytes(img[12..20].try_into().unwrap()) as usize;
        let body = lz4_flex::block::decompress(&img[60..], raw_len).unwrap();
        assert_eq!(image_load::wrap_body(&body), img);
        save("image_load", name, &[&[1u8][..], &img].concat());
        save(
            "image_load",
            &format!("{name}_body"),
            &[&[0u8][..], &body].concat(),
        );
    };
    let fs = memfs::MemFs::new();
    save_image(
        "empty",
        memfs::persist::image::encode(&fs, &BTreeMap::new()).expect("an in-memory image encodes"),
    );
    fs.create_dir_all("/a/b").unwrap();
    fs.write("/a/small", "hello").unwrap();
    fs.symlink("/a/small", "/a/b/link").unwrap();
    let mut snaps = BTreeMap::new();
    snaps.insert("before".to_string(), fs.snapshot());
    fs.write("/a/b/big", vec![7u8; memfs::INLINE_MAX + 100])
        .unwrap();
    fs.write("/a/big2", vec![7u8; memfs::INLINE_MAX + 100])
        .unwrap();
    fs.remove_file("/a/small").unwrap();
    save_image(
        "tree_snapshot",
        memfs::persist::image::encode(&fs, &snaps).expect("an in-memory image encodes"),
    );
    // JSON: the plain form, the typed form (text, binary, symlink), and a dump.
    save(
        "json_load",
        "plain",
        br#"{"files": {"/a/b.txt": "hello", "/c": ""}, "dirs": ["/", "/d/e"]}"#,
    );
    save(
        "json_load",
        "typed",
        br#"{"files": {"/t": {"type": "text", "content": "x"}, "/bin": {"type": "binary", "content": "AAEC/w=="}, "/l": {"type": "symlink", "target": "/t"}}, "dirs": []}"#,
    );
    save(
        "json_load",
        "plain_files_only",
        br#"{"files": {"/x/y/z": "deep"}}"#,
    );
    let small = memfs::MemFs::new();
    small.create_dir_all("/d/empty").unwrap();
    small.write("/d/text", "hi\n").unwrap();
    small.write("/d/bin", [0u8, 159, 146, 150]).unwrap();
    small.symlink("text", "/d/link").unwrap();
    save(
        "json_load",
        "dump",
        memfs::persist::json::dump(&small, "/").unwrap().as_bytes(),
    );
    // Encrypted files: first byte even = the right password (see crypt_read.rs).
    for (name, plain) in [
        ("empty", &b""[..]),
        ("short", b"secret text"),
        ("two_records", &[1u8; 70][..]),
    ] {
        let mut data = vec![0u8];
        data.extend(memfs::ext::crypt::encrypt_bytes(plain, crypt_read::PASSWORD).unwrap());
        save("crypt_read", name, &data);
    }
}

/// What the fuzzers found, as plain regression tests (their inputs are in the corpus too).
#[test]
fn fuzz_findings() {
    use std::io::ErrorKind;
    let fs = memfs::MemFs::new();
    fs.create_dir_all("/a/b").unwrap();
    fs.write("/a/f", "x").unwrap();
    fs.symlink("/a/f", "/a/to_file").unwrap();
    fs.symlink("../..", "/a/b/up").unwrap();
    // path_parse: realpath of a file with a trailing "/." is ENOTDIR, as stat says.
    let e = fs.canonicalize("/a/to_file/.").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotADirectory);
    // path_parse: a path that resolves to "/" through a symlink panicked in remove_dir_all.
    let e = fs.remove_dir_all("/a/b/up/").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceBusy);
    assert!(fs.exists("/a/f"));
    let e = fs.rename("/a/b/up/", "/moved").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let empty = memfs::MemFs::new();
    empty.symlink("/", "/root").unwrap();
    empty.remove_file("/root").unwrap();
    empty.create_dir("/d").unwrap();
    empty.symlink("..", "/d/up").unwrap();
    empty.remove_dir("/d/up/").unwrap_err();
}
