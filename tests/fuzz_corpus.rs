//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the same harness functions the
//! cargo-fuzz targets call (`fuzz/src/*.rs`, included here by path), so CI checks every
//! saved input, past crashes included, without cargo-fuzz or a nightly toolchain.

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
