//! The code generated from `proto/component.proto` and `proto/filesystem.proto` (package
//! `memfs.v1`) by `build.rs`: prost messages, tonic clients and servers. Nothing here is written
//! by hand; the `.proto` texts are also available as constants.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("memfs.v1");

/// The text of `proto/component.proto` (written into a component's `proto_dir`).
pub const COMPONENT_PROTO: &str = include_str!("../proto/component.proto");

/// The text of `proto/filesystem.proto`.
pub const FILESYSTEM_PROTO: &str = include_str!("../proto/filesystem.proto");
