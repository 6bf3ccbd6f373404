//! Shared by the differential tests (`tests/differential.rs` against the library API,
//! `tests/fuse.rs` through a FUSE mount): the random operation generator, running an operation
//! with `std::fs` under a base directory, and reading a whole host tree.

#![allow(dead_code)] // each test crate uses its own subset

use std::collections::BTreeMap;
use std::fs as host;
use std::io::{ErrorKind, Write};
use std::path::Path;

use proptest::prelude::*;

/// Paths over a small name space, so that collisions (file vs dir, non-empty dirs, moving into
/// subtrees) happen often.
pub fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=3)
        .prop_map(|names| names.join("/"))
}

pub fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..16),
        // larger than the inline limit, so chunked contents are exercised too
        (any::<u8>(), 4000usize..9000).prop_map(|(b, n)| vec![b; n]),
    ]
}

#[derive(Clone, Debug)]
pub enum Op {
    CreateDir(String),
    CreateDirAll(String),
    Write(String, Vec<u8>),
    Append(String, Vec<u8>),
    SetLen(String, u64),
    Rename(String, String),
    RemoveFile(String),
    RemoveDir(String),
    RemoveDirAll(String),
    Copy(String, String),
    Read(String),
    ReadDir(String),
    Metadata(String),
    /// `symlink(target, link)`; targets are relative, so they mean the same on both sides.
    Symlink(String, String),
    SymlinkMetadata(String),
    ReadLink(String),
    /// `mkfifo(path, 0o640)`.
    Mkfifo(String),
    /// `chmod` (follows symlinks); the outcome is the mode after it, with the type bits.
    Chmod(String, u32),
    /// `lchown` to the test's own uid and gid (allowed on a real directory whoever runs it);
    /// the outcome is the mode after it (a chown clears set-id bits).
    Lchown(String),
    /// Open `a` to append (creating it), rename it to `b`, write, close: the bytes go to the
    /// file, wherever it now is.
    WriteAfterRename(String, String, Vec<u8>),
    /// Open `a` to append (creating it), remove it, write, close: the bytes go with the file.
    WriteAfterUnlink(String, Vec<u8>),
    /// `link(a, b)` (a hard link; `a` not followed); the outcome is `b`'s link count.
    Link(String, String),
}

/// Modes that keep the owner's rwx (so a test not run as root can still use a directory),
/// with and without the set-user-ID, set-group-ID and sticky bits.
const MODES: [u32; 8] = [0o700, 0o755, 0o775, 0o777, 0o4755, 0o2775, 0o6775, 0o1777];

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => path().prop_map(Op::CreateDir),
        2 => path().prop_map(Op::CreateDirAll),
        4 => (path(), data()).prop_map(|(p, d)| Op::Write(p, d)),
        2 => (path(), data()).prop_map(|(p, d)| Op::Append(p, d)),
        1 => (path(), 0u64..10_000).prop_map(|(p, n)| Op::SetLen(p, n)),
        3 => (path(), path()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => path().prop_map(Op::RemoveFile),
        2 => path().prop_map(Op::RemoveDir),
        1 => path().prop_map(Op::RemoveDirAll),
        2 => (path(), path()).prop_map(|(a, b)| Op::Copy(a, b)),
        2 => path().prop_map(Op::Read),
        2 => path().prop_map(Op::ReadDir),
        2 => path().prop_map(Op::Metadata),
        2 => (path(), path()).prop_map(|(t, l)| Op::Symlink(t, l)),
        1 => path().prop_map(Op::SymlinkMetadata),
        1 => path().prop_map(Op::ReadLink),
        1 => path().prop_map(Op::Mkfifo),
        1 => (path(), prop::sample::select(MODES.to_vec())).prop_map(|(p, m)| Op::Chmod(p, m)),
        1 => path().prop_map(Op::Lchown),
        1 => (path(), path(), data()).prop_map(|(a, b, d)| Op::WriteAfterRename(a, b, d)),
        1 => (path(), data()).prop_map(|(a, d)| Op::WriteAfterUnlink(a, d)),
        3 => (path(), path()).prop_map(|(a, b)| Op::Link(a, b)),
    ]
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Done,
    Bytes(Vec<u8>),
    Names(Vec<(String, bool)>),
    Meta {
        is_dir: bool,
        is_symlink: bool,
        file_len: Option<u64>,
        /// `st_nlink` of a non-directory (a directory's depends on the host filesystem).
        nlink: Option<u64>,
    },
    /// `st_nlink` after a link.
    Links(u64),
    Target(String),
    Copied(u64),
    /// `st_mode` after a chmod or chown.
    Mode(u32),
    /// Not run: it would open a FIFO (see [`opened_paths`]).
    Skipped,
}

/// The test process's uid and gid.
pub fn me() -> (u32, u32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    )
}

pub type Res = Result<Outcome, ErrorKind>;

pub fn host_meta(m: &host::Metadata) -> Outcome {
    use std::os::unix::fs::MetadataExt;
    Outcome::Meta {
        is_dir: m.is_dir(),
        is_symlink: m.is_symlink(),
        file_len: m.is_file().then_some(m.len()),
        nlink: (!m.is_dir()).then_some(m.nlink()),
    }
}

/// The paths an operation opens as a file (reads or writes its bytes). A FIFO there would block
/// a real directory's open until a peer came (memfs refuses to open it), so such a step is
/// [`Outcome::Skipped`] on both sides.
pub fn opened_paths(op: &Op) -> Vec<&str> {
    match op {
        Op::Write(a, _)
        | Op::Append(a, _)
        | Op::SetLen(a, _)
        | Op::Read(a)
        | Op::WriteAfterRename(a, ..)
        | Op::WriteAfterUnlink(a, _) => vec![a],
        Op::Copy(a, b) => vec![a, b],
        _ => vec![],
    }
}

pub fn run_host(base: &Path, op: &Op) -> Res {
    use std::os::unix::fs::FileTypeExt;
    let p = |s: &str| base.join(s);
    let fifo = |s: &str| host::metadata(p(s)).is_ok_and(|m| m.file_type().is_fifo());
    if opened_paths(op).into_iter().any(fifo) {
        return Ok(Outcome::Skipped);
    }
    let r = match op {
        Op::CreateDir(a) => host::create_dir(p(a)).map(|_| Outcome::Done),
        Op::CreateDirAll(a) => host::create_dir_all(p(a)).map(|_| Outcome::Done),
        Op::Write(a, d) => host::write(p(a), d).map(|_| Outcome::Done),
        Op::Append(a, d) => host::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p(a))
            .and_then(|mut f| f.write_all(d))
            .map(|_| Outcome::Done),
        Op::SetLen(a, n) => host::OpenOptions::new()
            .write(true)
            .open(p(a))
            .and_then(|f| f.set_len(*n))
            .map(|_| Outcome::Done),
        Op::Rename(a, b) => host::rename(p(a), p(b)).map(|_| Outcome::Done),
        Op::RemoveFile(a) => host::remove_file(p(a)).map(|_| Outcome::Done),
        Op::RemoveDir(a) => host::remove_dir(p(a)).map(|_| Outcome::Done),
        Op::RemoveDirAll(a) => host::remove_dir_all(p(a)).map(|_| Outcome::Done),
        Op::Copy(a, b) => host::copy(p(a), p(b)).map(Outcome::Copied),
        Op::Read(a) => host::read(p(a)).map(Outcome::Bytes),
        Op::ReadDir(a) => host::read_dir(p(a)).and_then(|rd| {
            let mut names = rd
                .map(|e| {
                    let e = e?;
                    Ok((
                        e.file_name().to_string_lossy().into_owned(),
                        e.file_type()?.is_dir(),
                    ))
                })
                .collect::<std::io::Result<Vec<_>>>()?;
            names.sort();
            Ok(Outcome::Names(names))
        }),
        Op::Metadata(a) => host::metadata(p(a)).map(|m| host_meta(&m)),
        Op::SymlinkMetadata(a) => host::symlink_metadata(p(a)).map(|m| host_meta(&m)),
        Op::Symlink(t, l) => std::os::unix::fs::symlink(t, p(l)).map(|_| Outcome::Done),
        Op::ReadLink(a) => {
            host::read_link(p(a)).map(|t| Outcome::Target(t.to_string_lossy().into()))
        }
        Op::Mkfifo(a) => rustix::fs::mkfifoat(rustix::fs::CWD, p(a), 0o640.into())
            .map_err(std::io::Error::from)
            .map(|()| Outcome::Done),
        Op::Chmod(a, mode) => {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            host::set_permissions(p(a), host::Permissions::from_mode(*mode))
                .and_then(|()| host::metadata(p(a)))
                .map(|m| Outcome::Mode(m.mode()))
        }
        Op::Lchown(a) => {
            use std::os::unix::fs::MetadataExt;
            let (u, g) = me();
            std::os::unix::fs::lchown(p(a), Some(u), Some(g))
                .and_then(|()| host::symlink_metadata(p(a)))
                .map(|m| Outcome::Mode(m.mode()))
        }
        Op::WriteAfterRename(a, b, d) => host::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p(a))
            .and_then(|mut f| {
                host::rename(p(a), p(b))?;
                f.write_all(d)
            })
            .map(|_| Outcome::Done),
        Op::WriteAfterUnlink(a, d) => host::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p(a))
            .and_then(|mut f| {
                host::remove_file(p(a))?;
                f.write_all(d)
            })
            .map(|_| Outcome::Done),
        Op::Link(a, b) => {
            use std::os::unix::fs::MetadataExt;
            host::hard_link(p(a), p(b))
                .and_then(|()| host::symlink_metadata(p(b)))
                .map(|m| Outcome::Links(m.nlink()))
        }
    };
    r.map_err(|e| e.kind())
}

#[derive(Debug, PartialEq)]
pub enum Entry {
    Dir,
    File(Vec<u8>),
    Link(String),
    Fifo,
}

/// Every path below `top` in a `MemFs`, with what it is, keyed like [`host_tree`] (`/name`,
/// `/dir/name`, relative to `top`).
pub fn mem_tree(fs: &memfs::MemFs, top: &str) -> BTreeMap<String, Entry> {
    let top = top.trim_end_matches('/');
    let mut out = BTreeMap::new();
    for (dir, dirs, files) in fs.walk(if top.is_empty() { "/" } else { top }).unwrap() {
        let prefix = dir.trim_end_matches('/');
        for name in dirs.iter().chain(files.iter()) {
            let path = format!("{prefix}/{name}");
            let m = fs.symlink_metadata(&path).unwrap();
            let entry = if m.is_symlink() {
                Entry::Link(fs.read_link(&path).unwrap())
            } else if m.file_type().is_fifo() {
                Entry::Fifo
            } else if m.is_dir() {
                Entry::Dir
            } else {
                Entry::File(fs.read(&path).unwrap())
            };
            out.insert(path[top.len()..].to_string(), entry);
        }
    }
    out
}

pub fn host_tree(base: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in host::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = format!(
                "/{}",
                e.path().strip_prefix(base).unwrap().to_string_lossy()
            );
            let t = e.file_type().unwrap();
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                out.insert(rel, Entry::Fifo);
            } else if t.is_symlink() {
                let target = host::read_link(e.path()).unwrap();
                out.insert(rel, Entry::Link(target.to_string_lossy().into()));
            } else if t.is_dir() {
                out.insert(rel, Entry::Dir);
                stack.push(e.path());
            } else {
                out.insert(rel, Entry::File(host::read(e.path()).unwrap()));
            }
        }
    }
    out
}

pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// A deterministic pseudo-random generator (xorshift), so generated trees and operation
/// sequences are the same every run.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `m`.
    pub fn next(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m
    }

    /// An index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.next(n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next(256) as u8).collect()
    }
}

/// `len` pseudo-random bytes that neither compress nor repeat a chunk, the same for a seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1).bytes(len)
}
