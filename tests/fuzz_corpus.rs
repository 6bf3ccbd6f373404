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
