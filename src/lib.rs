//! # memfs
//!
//! An in-memory virtual filesystem with a `std::fs`-shaped API: lock-free readers over
//! persistent (structurally shared) trees, O(1) snapshots, deduplicated content.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let fs = memfs::create_fs();
//! fs.makedirs("/data/raw", true)?;
//! fs.writefile("/data/raw/a.txt", "hello")?;
//! let snap = fs.snapshot();                      // O(1)
//! fs.write("/data/raw/a.txt", "changed")?;
//! assert_eq!(snap.readfile("/data/raw/a.txt")?, "hello");
//!
//! let mut f = fs.open_mode("/data/log.txt", "a")?;
//! writeln!(f, "line 1")?;
//! drop(f);                                        // published on drop (or flush)
//! let mut text = String::new();
//! fs.open("/data/log.txt")?.read_to_string(&mut text)?;
//! assert_eq!(text, "line 1\n");
//! assert_eq!(fs.listdir("/data")?, ["log.txt", "raw"]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! This crate is the engine; it owns the tree and everything that changes or reads it. Module
//! map: `path` (parsing), `error` (io::Error kinds and the errno table), `time` (time
//! conversions), `tree` (the persistent tree and its operations), `blob` (content-addressed
//! chunks), `commit` (the commit protocol: flat combining), `op` (the write operations as
//! data), `fs` (`MemFs`), `file` (handles), `snapshot`, `diff` (what changed between two
//! versions), `watch` (the change feed), `fault` (fault
//! injection), `transaction` (atomic, isolated units of work, and batches), `view` (the shared
//! read API), `par` (parallel walk, find, content search), `ext` (encrypted and compressed
//! files, backups), `persist` (state image, JSON, host dirs), `fuse` (feature `fuse`: mount
//! with FUSE), `vfs` (feature `vfs`: a `vfs::FileSystem` backend). gRPC is the crate
//! `memfs-grpc`, the command line `memfs-cli`.

#![forbid(unsafe_code)]

mod access;
mod blob;
mod commit;
mod diff;
pub mod error;
pub mod ext;
mod fault;
mod file;
mod fs;
#[cfg(feature = "fuse")]
pub mod fuse;
mod op;
mod par;
pub mod path;
pub mod persist;
mod quota;
mod snapshot;
mod sync;
pub mod time;
mod transaction;
mod tree;
mod types;
#[cfg(feature = "vfs")]
pub mod vfs;
mod view;
mod watch;

pub use access::Credentials;
pub use blob::{CHUNK_SIZE, INLINE_MAX, MAX_FILE_SIZE};
pub use diff::{Change, ChangeKind};
pub use error::{errno_of, is_conflict, kind_of_errno};
pub use ext::{CompressedFile, EncryptedFile};
pub use fault::{Fault, FaultPlan, FaultRule};
pub use file::{File, OpenOptions};
pub use fs::{create_fs, MemFs, MemFsBuilder};
pub use par::{FindPattern, WalkItem};
pub use path::VPath;
pub use quota::{parse_size, Limits, Usage};
pub use snapshot::{check_snapshot_name, ReadOnlyFile, Snapshot, SNAPSHOT_NAME_MAX};
pub use transaction::{Transaction, MAX_TRANSACTION_ATTEMPTS};
pub use types::{DirEntry, FileType, Metadata, Permissions, Stats};
pub use view::Walk;
pub use watch::{Event, Watcher, QUEUE as WATCH_QUEUE};

/// The README's Rust examples run as doctests, so the documentation cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
