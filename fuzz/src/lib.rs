//! The fuzz harnesses, as plain functions of the input bytes: the cargo-fuzz targets in
//! `fuzz_targets/` call them, and the main crate's `tests/fuzz_corpus.rs` includes the same
//! files (`#[path]`) to replay `fuzz/corpus/` in CI without cargo-fuzz.

pub mod crypt_read;
pub mod image_load;
pub mod json_load;
pub mod ops;
pub mod path_parse;
