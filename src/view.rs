//! The read API over one version of the tree, shared by `MemFs` (the current version),
//! `Snapshot` (a pinned version) and `Transaction` (a private version).
//!
//! Each function takes a `&Root` and never blocks. The read API is written once, as plain
//! functions generic over a [`Source`] (a type that hands out the version a read sees: `MemFs`,
//! `Snapshot`, `Transaction`); `read_api!` gives each source the public methods, each one call
//! of its function, so the three types expose the same names and docs. Each read says which
//! path it reads and how ([`Access`]), so a `Transaction` can record its read set; `MemFs` and
//! `Snapshot` ignore it. A `MemFs` read also asks the fault plan first (`Source::check_read`).

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::access::{self, Credentials, ReadNeed};
use crate::blob::{BlobStore, Content};
use crate::error;
use crate::path::{join_str, plain_text, VPath};
use crate::tree::node::{Dir, Node};
use crate::tree::ops::{self, Root};
use crate::tree::resolve::{lookup, walk_plain, Plain};
use crate::types::{DirEntry, Metadata, Stats};

/// How a read depends on a path (what a transaction must re-check at commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    /// The node the path names (following a final symlink or not): its type, identity and,
    /// for files and symlinks, its exact version.
    Entry { follow: bool },
    /// The listing of the directory the path names: its names and the entries' identities.
    Listing,
    /// Everything below the path (a walk): the exact version of the whole subtree.
    Subtree,
}

pub(crate) fn user_metadata(
    root: &Root,
    p: &VPath,
) -> io::Result<std::collections::BTreeMap<String, String>> {
    let node = ops::stat(root, p, true)?;
    Ok(node.meta().user.as_deref().cloned().unwrap_or_default())
}

pub(crate) fn read(root: &Root, p: &VPath) -> io::Result<Vec<u8>> {
    ops::file_ref(root, p).and_then(|f| f.content.to_vec())
}

/// [`read`] of a file of at most `limit` bytes; `None` (nothing copied) for a longer one.
pub(crate) fn read_at_most(root: &Root, p: &VPath, limit: u64) -> io::Result<Option<Vec<u8>>> {
    ops::file_ref(root, p).and_then(|f| at_most(&f.content, limit))
}

fn at_most(content: &Content, limit: u64) -> io::Result<Option<Vec<u8>>> {
    if content.len() > limit {
        Ok(None)
    } else {
        content.to_vec().map(Some)
    }
}

pub(crate) fn read_to_string(root: &Root, p: &VPath) -> io::Result<String> {
    String::from_utf8(read(root, p)?)
        .map_err(|_| error::invalid_data(format!("stream did not contain valid UTF-8: {p}")))
}

pub(crate) fn read_dir(root: &Root, p: &VPath) -> io::Result<Vec<DirEntry>> {
    let (dir, path) = ops::list_dir(root, p)?;
    Ok(dir
        .children()?
        .iter()
        .map(|(name, node)| DirEntry {
            name: String::from(name.as_str()),
            path: join_str(&path, name),
            metadata: Metadata::of(node),
            lists_as_dir: lists_as_dir(root, &path, name, node),
        })
        .collect())
}

pub(crate) fn listdir(root: &Root, p: &VPath) -> io::Result<Vec<String>> {
    let (dir, _) = ops::list_dir(root, p)?;
    Ok(dir
        .children()?
        .keys()
        .map(|k| String::from(k.as_str()))
        .collect())
}

// The fast lane: the functions above for a path `path::plain` accepted, given as its bytes
// (it is its own canonical form, so messages read the same). Each returns what its general
// counterpart returns, or `None` where the walk met a symlink to follow or the path turned out
// not to be plain (then the caller parses the path and uses the general function).

fn plain_stat<'r>(root: &'r Root, path: &[u8], follow: bool) -> Option<io::Result<&'r Node>> {
    match walk_plain(&root.node, path, follow) {
        Plain::Found(node) => Some(Ok(node)),
        Plain::Missing => Some(Err(error::not_found(plain_text(path)?))),
        Plain::NotDir => Some(Err(error::not_a_directory(plain_text(path)?))),
        Plain::GiveUp => None,
    }
}

/// A path whose walk found a node, for a message: text, since its every name matched a stored
/// one (`path::plain`).
fn found_text(path: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(path)
}

pub(crate) fn plain_metadata(
    root: &Root,
    path: &[u8],
    follow: bool,
) -> Option<io::Result<Metadata>> {
    plain_stat(root, path, follow).map(|r| r.map(Metadata::of))
}

pub(crate) fn plain_read(root: &Root, path: &[u8]) -> Option<io::Result<Vec<u8>>> {
    plain_file(root, path, Content::to_vec)
}

pub(crate) fn plain_read_at_most(
    root: &Root,
    path: &[u8],
    limit: u64,
) -> Option<io::Result<Option<Vec<u8>>>> {
    plain_file(root, path, |c| at_most(c, limit))
}

/// `f` of the content of the regular file at a plain path, with [`read`]'s errors otherwise.
fn plain_file<T>(
    root: &Root,
    path: &[u8],
    f: impl FnOnce(&Content) -> io::Result<T>,
) -> Option<io::Result<T>> {
    Some(match plain_stat(root, path, true)? {
        Ok(Node::File(file)) => f(&file.content),
        Ok(Node::Dir(_)) => Err(error::is_a_directory(found_text(path))),
        // (Not reached: a final symlink is followed, so the walk gives up on it.)
        Ok(Node::Symlink(_)) => Err(error::not_found(found_text(path))),
        Ok(Node::Special(_)) => Err(error::special_file(found_text(path))),
        Err(e) => Err(e),
    })
}

pub(crate) fn plain_read_to_string(root: &Root, path: &[u8]) -> Option<io::Result<String>> {
    Some(plain_read(root, path)?.and_then(|bytes| {
        String::from_utf8(bytes).map_err(|_| {
            let text = found_text(path);
            error::invalid_data(format!("stream did not contain valid UTF-8: {text}"))
        })
    }))
}

/// `lookup(.., follow = true)` for a plain path. (A path that is not text or holds NUL is
/// missing here, as it is for the general `lookup` callers, which answer `false` for it.)
pub(crate) fn plain_lookup<'r>(root: &'r Root, path: &[u8]) -> Option<Option<&'r Node>> {
    match walk_plain(&root.node, path, true) {
        Plain::Found(node) => Some(Some(node)),
        Plain::Missing | Plain::NotDir => Some(None),
        Plain::GiveUp => None,
    }
}

pub(crate) fn walk(root: &Root, p: &VPath) -> io::Result<Walk> {
    let (dir, path) = ops::list_dir(root, p)?;
    Ok(Walk {
        root: root.clone(),
        stack: vec![(path, dir)],
        cred: None,
    })
}

/// The largest inode number in a version of the tree, among the directories fetched (those
/// of a remote store not fetched yet take their numbers from the counter of the filesystem
/// that opened them when they are).
pub(crate) fn max_ino(root: &Root) -> u64 {
    let mut max = 0;
    let mut stack: Vec<&Node> = vec![&root.node];
    while let Some(node) = stack.pop() {
        max = max.max(node.meta().ino);
        if let Node::Dir(d) = node {
            stack.extend(d.loaded().into_iter().flat_map(|c| c.values()));
        }
    }
    max
}

pub(crate) fn stats(root: &Root, store: &BlobStore, limits: crate::Limits) -> Stats {
    let mut s = Stats {
        stored_bytes: store.stored_bytes(),
        blobs: store.blob_count() as u64,
        limits,
        ..Stats::default()
    };
    // One walk counts everything, `live_bytes` included (the quota's rule, `quota::LiveBytes`).
    let mut live = crate::quota::LiveBytes::default();
    let mut stack: Vec<&Node> = vec![&root.node];
    while let Some(node) = stack.pop() {
        match node {
            Node::Dir(d) => {
                s.dirs += 1;
                match (d.loaded(), d.remote()) {
                    (Some(children), _) => stack.extend(children.values()),
                    // Not fetched (a `df` on a mount must not fetch the whole tree): its
                    // files and bytes as the store recorded them.
                    (None, Some((lazy, _))) => {
                        s.files += lazy.files;
                        s.logical_bytes += lazy.file_bytes;
                    }
                    (None, None) => unreachable!("entries are here or remote"),
                }
            }
            Node::File(f) => {
                s.files += 1;
                s.logical_bytes += f.content.len();
                s.stored_bytes += f.content.inline_bytes();
                live.add(&f.content);
            }
            Node::Symlink(_) => s.symlinks += 1,
            Node::Special(_) => s.specials += 1,
        }
    }
    s.live_bytes = live.bytes;
    s
}

/// `os.walk`: top-down, directories visited in sorted order; each item is
/// `(dirpath, dirnames, filenames)` with both lists sorted. Symlinks are listed (under
/// filenames, or dirnames if they point to a directory) but not followed. A `Walk` reads the
/// version of the tree it was created on, whatever happens to the filesystem meanwhile. As
/// `os.walk` does with a directory it cannot list, a directory of a remote store that cannot
/// be fetched is left out with what is below it.
pub struct Walk {
    /// The version being walked, to tell where symlinks point.
    root: Root,
    stack: Vec<(String, Arc<Dir>)>,
    /// Who walks: a directory they may not list is left out (with what is below it).
    cred: crate::access::Cred,
}

impl Iterator for Walk {
    type Item = (String, Vec<String>, Vec<String>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (path, dir) = self.stack.pop()?;
            if self
                .cred
                .as_ref()
                .is_some_and(|c| !access::may_list(&dir.meta, c))
            {
                continue;
            }
            let Ok((dirs, files, sub)) = split_dir(&self.root, &path, &dir) else {
                continue;
            };
            self.stack.extend(sub.into_iter().rev());
            return Some((path, dirs, files));
        }
    }
}

/// `(dirnames, filenames, subdirectories to descend into)`.
pub(crate) type SplitDir = (Vec<String>, Vec<String>, Vec<(String, Arc<Dir>)>);

/// One `os.walk` step for the directory `dir` at `path` of `root`: its sorted dirnames and
/// filenames, and the real subdirectories to descend into (in order). Symlinks are listed
/// (under dirnames if they point to a directory, else under filenames) but never descended
/// into. Shared by [`Walk`] and the parallel walk, so both list exactly the same entries.
pub(crate) fn split_dir(root: &Root, path: &str, dir: &Dir) -> io::Result<SplitDir> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut sub = Vec::new();
    for (name, node) in dir.children()?.iter() {
        if let Node::Dir(d) = node {
            sub.push((join_str(path, name), d.clone()));
        }
        if lists_as_dir(root, path, name, node) {
            dirs.push(String::from(name.as_str()));
        } else {
            files.push(String::from(name.as_str()));
        }
    }
    Ok((dirs, files, sub))
}

/// The walk rule ([`DirEntry::lists_as_dir`]) for the entry `name` (`node`) of the directory
/// at `path`: a directory, or a symlink that finally points to one.
pub(crate) fn lists_as_dir(root: &Root, path: &str, name: &str, node: &Node) -> bool {
    match node {
        Node::Dir(_) => true,
        Node::Symlink(_) => symlink_is_dir(root, path, name),
        Node::File(_) | Node::Special(_) => false,
    }
}

/// Whether the symlink `name` in the directory at `path` points (finally) to a directory.
pub(crate) fn symlink_is_dir(root: &Root, path: &str, name: &str) -> bool {
    VPath::parse_str(&join_str(path, name))
        .is_ok_and(|l| matches!(ops::stat(root, &l, true), Ok(Node::Dir(_))))
}

/// What a type gives the read API: the version of the tree a read sees, and the hooks around
/// it. `MemFs` (the live version, with the fault plan's check) and `Snapshot` (a pinned one)
/// have the fast lane; a `Transaction` records what each read depended on and has none, so
/// that every read goes through that record.
pub(crate) trait Source {
    /// Runs `f` on the version a read of `p` sees; `access` says how the read depends on `p`.
    fn with_root_at<R>(&self, p: &VPath, access: Access, f: impl FnOnce(&Root) -> R) -> R;

    /// The fast lane: `f` on the root and the path's bytes when the path may be plain
    /// (`path::plain`); `None` (use the general path) otherwise, when `f` says so, or for a
    /// source without one.
    fn with_plain_root<R>(
        &self,
        _p: &Path,
        _f: impl FnOnce(&Root, &[u8]) -> Option<R>,
    ) -> Option<R> {
        None
    }

    /// Whether the read `op` of `p` may run (`MemFs`'s fault plan; nothing elsewhere).
    fn check_read(&self, _op: &'static str, _p: &Path) -> io::Result<()> {
        Ok(())
    }

    /// Who reads (`None`: root, unchecked). A source with credentials has no fast lane: each
    /// read is checked by `access::check_read` on the version it reads.
    fn credentials(&self) -> Option<&Arc<Credentials>> {
        None
    }
}

/// The fast lane for a source that reads one plain version (`MemFs`, `Snapshot`).
#[inline]
pub(crate) fn plain_lane<R>(
    root: &Root,
    p: &Path,
    f: impl FnOnce(&Root, &[u8]) -> Option<R>,
) -> Option<R> {
    f(root, crate::path::plain(p)?)
}

// The read API, once: each `read_api!` method calls one of these.

/// A read of the node at `p` (`follow`ing a final symlink or not), by the fast lane when it
/// can: `fast` on a plain path's text, else `slow` on the parsed path.
#[inline]
fn entry<S: Source, T>(
    s: &S,
    op: &'static str,
    p: &Path,
    follow: bool,
    need: ReadNeed,
    fast: impl FnOnce(&Root, &[u8]) -> Option<io::Result<T>>,
    slow: impl FnOnce(&Root, &VPath) -> io::Result<T>,
) -> io::Result<T> {
    s.check_read(op, p)?;
    let cred = s.credentials();
    if cred.is_none() {
        if let Some(r) = s.with_plain_root(p, fast) {
            return r;
        }
    }
    let vp = VPath::parse(p)?;
    s.with_root_at(&vp, Access::Entry { follow }, |r| {
        if let Some(c) = cred {
            access::check_read(r, &vp, follow, need, c)?;
        }
        slow(r, &vp)
    })
}

/// A read that has no fast lane, depending on `p` as `access` says.
#[inline]
fn general<S: Source, T>(
    s: &S,
    op: &'static str,
    p: &Path,
    how: Access,
    need: ReadNeed,
    f: impl FnOnce(&Root, &VPath) -> io::Result<T>,
) -> io::Result<T> {
    s.check_read(op, p)?;
    let vp = VPath::parse(p)?;
    let cred = s.credentials();
    s.with_root_at(&vp, how, |r| {
        if let Some(c) = cred {
            let follow = !matches!(how, Access::Entry { follow: false });
            access::check_read(r, &vp, follow, need, c)?;
        }
        f(r, &vp)
    })
}

/// A yes/no question about the node at `p`, following symlinks: `false` for an invalid path.
#[inline]
fn test<S: Source>(s: &S, p: &Path, is: impl Fn(Option<&Node>) -> bool) -> bool {
    let cred = s.credentials();
    if cred.is_none() {
        if let Some(r) = s.with_plain_root(p, |r, t| plain_lookup(r, t).map(&is)) {
            return r;
        }
    }
    VPath::parse(p).is_ok_and(|vp| {
        s.with_root_at(&vp, Access::Entry { follow: true }, |r| {
            // A path this user may not search is not there for them (`access(2)` fails).
            cred.is_none_or(|c| access::check_read(r, &vp, true, ReadNeed::Search, c).is_ok())
                && is(lookup(&r.node, &vp, true))
        })
    })
}

#[inline]
pub(crate) fn metadata_at<S: Source>(s: &S, p: &Path, follow: bool) -> io::Result<Metadata> {
    let op = if follow {
        "metadata"
    } else {
        "symlink_metadata"
    };
    let fast = |r: &Root, t: &[u8]| plain_metadata(r, t, follow);
    entry(s, op, p, follow, ReadNeed::Search, fast, |r, vp| {
        ops::stat_ref(r, vp, follow).map(Metadata::of)
    })
}

#[inline]
pub(crate) fn read_at<S: Source>(s: &S, p: &Path) -> io::Result<Vec<u8>> {
    entry(s, "read", p, true, ReadNeed::Read, plain_read, read)
}

#[inline]
pub(crate) fn read_at_most_at<S: Source>(
    s: &S,
    p: &Path,
    limit: u64,
) -> io::Result<Option<Vec<u8>>> {
    entry(
        s,
        "read",
        p,
        true,
        ReadNeed::Read,
        |r, t| plain_read_at_most(r, t, limit),
        |r, v| read_at_most(r, v, limit),
    )
}

#[inline]
pub(crate) fn read_to_string_at<S: Source>(s: &S, p: &Path) -> io::Result<String> {
    entry(
        s,
        "read",
        p,
        true,
        ReadNeed::Read,
        plain_read_to_string,
        read_to_string,
    )
}

pub(crate) fn read_dir_at<S: Source>(s: &S, p: &Path) -> io::Result<Vec<DirEntry>> {
    general(s, "read_dir", p, Access::Listing, ReadNeed::Read, read_dir)
}

pub(crate) fn listdir_at<S: Source>(s: &S, p: &Path) -> io::Result<Vec<String>> {
    general(s, "read_dir", p, Access::Listing, ReadNeed::Read, listdir)
}

#[inline]
pub(crate) fn exists_at<S: Source>(s: &S, p: &Path) -> bool {
    test(s, p, |n| n.is_some())
}

#[inline]
pub(crate) fn isfile_at<S: Source>(s: &S, p: &Path) -> bool {
    test(s, p, |n| matches!(n, Some(Node::File(_))))
}

#[inline]
pub(crate) fn isdir_at<S: Source>(s: &S, p: &Path) -> bool {
    test(s, p, |n| matches!(n, Some(Node::Dir(_))))
}

pub(crate) fn walk_at<S: Source>(s: &S, p: &Path) -> io::Result<Walk> {
    let cred = s.credentials().cloned();
    general(s, "walk", p, Access::Subtree, ReadNeed::Read, |r, vp| {
        walk(r, vp).map(|w| Walk { cred, ..w })
    })
}

pub(crate) fn user_metadata_at<S: Source>(
    s: &S,
    p: &Path,
) -> io::Result<std::collections::BTreeMap<String, String>> {
    let access = Access::Entry { follow: true };
    general(s, "get_metadata", p, access, ReadNeed::Read, user_metadata)
}

pub(crate) fn read_link_at<S: Source>(s: &S, p: &Path) -> io::Result<String> {
    let access = Access::Entry { follow: false };
    general(s, "read_link", p, access, ReadNeed::Search, ops::read_link)
}

pub(crate) fn canonicalize_at<S: Source>(s: &S, p: &Path) -> io::Result<String> {
    let access = Access::Entry { follow: true };
    general(
        s,
        "canonicalize",
        p,
        access,
        ReadNeed::Search,
        ops::canonicalize,
    )
}

/// The read API as inherent methods of `$ty` (a [`Source`]): each method is one call of the
/// function above that implements it, so the three types expose the same names and docs with
/// the code written once, as plain functions.
macro_rules! read_api {
    ($ty:ty) => {
        impl $ty {
            /// Metadata of `p`, following symlinks (`std::fs::metadata`).
            pub fn metadata(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<$crate::Metadata> {
                $crate::view::metadata_at(self, p.as_ref(), true)
            }

            /// Metadata of `p` itself, not following a final symlink.
            pub fn symlink_metadata(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<$crate::Metadata> {
                $crate::view::metadata_at(self, p.as_ref(), false)
            }

            /// The whole content of a file.
            pub fn read(&self, p: impl AsRef<std::path::Path>) -> std::io::Result<Vec<u8>> {
                $crate::view::read_at(self, p.as_ref())
            }

            /// The whole content of a file if it is at most `limit` bytes long; `None`, with
            /// nothing read, if it is longer (a caller that copies large files its own way
            /// reads a small one in one lookup). Errors as [`Self::read`].
            pub fn read_at_most(
                &self,
                p: impl AsRef<std::path::Path>,
                limit: u64,
            ) -> std::io::Result<Option<Vec<u8>>> {
                $crate::view::read_at_most_at(self, p.as_ref(), limit)
            }

            /// The content of a file as UTF-8 (`InvalidData` if it is not).
            pub fn read_to_string(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<String> {
                $crate::view::read_to_string_at(self, p.as_ref())
            }

            /// Python-style name for [`Self::read_to_string`].
            pub fn readfile(&self, p: impl AsRef<std::path::Path>) -> std::io::Result<String> {
                $crate::view::read_to_string_at(self, p.as_ref())
            }

            /// Python-style name for [`Self::read`].
            pub fn readfilebytes(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<Vec<u8>> {
                $crate::view::read_at(self, p.as_ref())
            }

            /// The entries of a directory, sorted by name.
            pub fn read_dir(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<Vec<$crate::DirEntry>> {
                $crate::view::read_dir_at(self, p.as_ref())
            }

            /// The names in a directory, sorted (`os.listdir`).
            pub fn listdir(&self, p: impl AsRef<std::path::Path>) -> std::io::Result<Vec<String>> {
                $crate::view::listdir_at(self, p.as_ref())
            }

            /// Whether `p` exists (following symlinks).
            pub fn exists(&self, p: impl AsRef<std::path::Path>) -> bool {
                $crate::view::exists_at(self, p.as_ref())
            }

            /// Whether `p` is a regular file (following symlinks).
            pub fn isfile(&self, p: impl AsRef<std::path::Path>) -> bool {
                $crate::view::isfile_at(self, p.as_ref())
            }

            /// Whether `p` is a directory (following symlinks).
            pub fn isdir(&self, p: impl AsRef<std::path::Path>) -> bool {
                $crate::view::isdir_at(self, p.as_ref())
            }

            /// `os.walk(top)` over one consistent version of the tree.
            pub fn walk(&self, top: impl AsRef<std::path::Path>) -> std::io::Result<$crate::Walk> {
                $crate::view::walk_at(self, top.as_ref())
            }

            /// The user metadata of `p`, following symlinks (empty if none was set; see
            /// `MemFs::set_metadata`).
            pub fn get_metadata(
                &self,
                p: impl AsRef<std::path::Path>,
            ) -> std::io::Result<std::collections::BTreeMap<String, String>> {
                $crate::view::user_metadata_at(self, p.as_ref())
            }

            /// The target of a symlink.
            pub fn read_link(&self, p: impl AsRef<std::path::Path>) -> std::io::Result<String> {
                $crate::view::read_link_at(self, p.as_ref())
            }

            /// The absolute path with every symlink resolved; it must exist.
            pub fn canonicalize(&self, p: impl AsRef<std::path::Path>) -> std::io::Result<String> {
                $crate::view::canonicalize_at(self, p.as_ref())
            }
        }
    };
}
pub(crate) use read_api;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFs;

    fn same<T: PartialEq + std::fmt::Debug>(p: &str, fast: io::Result<T>, slow: io::Result<T>) {
        match (fast, slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{p:?}"),
            (Err(a), Err(b)) => {
                assert_eq!(a.kind(), b.kind(), "{p:?}");
                assert_eq!(a.to_string(), b.to_string(), "{p:?}");
            }
            (a, b) => panic!("{p:?}: fast lane {a:?}, general {b:?}"),
        }
    }

    /// Every read with a fast lane answers exactly what the general path answers.
    #[test]
    fn fast_lane_agrees_with_the_general_path() {
        let fs = MemFs::new();
        fs.create_dir_all("/a/b").unwrap();
        fs.write("/a/f", "text").unwrap();
        fs.write("/a/bin", [0xff, 0xfe]).unwrap();
        fs.symlink("/a/b", "/a/lb").unwrap();
        fs.symlink("f", "/a/lf").unwrap();
        fs.symlink("/nowhere", "/a/dangling").unwrap();
        fs.symlink("loop", "/a/loop").unwrap();
        let long = "x".repeat(256);
        let long_after_missing = format!("/a/missing/{long}");
        let long_after_file = format!("/a/f/{long}/y");
        let long_last = format!("/a/{long}");
        let long_ok = format!("/a/{}", &long[1..]);
        let paths = [
            "/a",
            "/a/b",
            "/a/f",
            "/a/bin",
            "/a/lb",
            "/a/lf",
            "/a/dangling",
            "/a/loop",
            "/a/lb/x",
            "/a/lf/x",
            "/a/f/x",
            "/a/f/x/y",
            "/a/missing",
            "/missing/x",
            "/a/b/",
            "/a/f/",
            "/a/./f",
            "/a/../a/f",
            "a/f",
            "//a//f",
            "/",
            "",
            "/a/\0",
            "/a/f\0",
            "/a/f/\0",
            "/a\0/f",
            "/missing\0",
            "/a/lb/.",
            "/a/missing/",
            "/a/missing/.",
            "/a/f/..",
            "/a/f/.",
            "/a//",
            "/a/b//",
            "/a/b/.x",
            "/a/..b",
            &long_after_missing,
            &long_after_file,
            &long_last,
            &long_ok,
        ];
        let root = fs.load_root();
        let meta = |m: io::Result<Metadata>| m.map(|m| (m.file_type(), m.len(), m.ino()));
        for p in paths {
            let parsed = VPath::parse_str(p);
            let general = |f: &dyn Fn(&VPath) -> io::Result<Metadata>| match &parsed {
                Ok(v) => meta(f(v)),
                Err(e) => Err(crate::error::err(e.kind(), e.to_string())),
            };
            same(
                p,
                meta(fs.metadata(p)),
                general(&|v| ops::stat_ref(&root, v, true).map(Metadata::of)),
            );
            same(
                p,
                meta(fs.symlink_metadata(p)),
                general(&|v| ops::stat_ref(&root, v, false).map(Metadata::of)),
            );
            let read_general = parsed
                .as_ref()
                .map_err(|e| crate::error::err(e.kind(), e.to_string()))
                .and_then(|v| read(&root, v));
            same(p, fs.read(p), read_general);
            let string_general = parsed
                .as_ref()
                .map_err(|e| crate::error::err(e.kind(), e.to_string()))
                .and_then(|v| read_to_string(&root, v));
            same(p, fs.read_to_string(p), string_general);
            let ok = parsed.as_ref().ok();
            let found = |v: &VPath| lookup(&root.node, v, true);
            let is_file = |v: &VPath| matches!(found(v), Some(Node::File(_)));
            let is_dir = |v: &VPath| matches!(found(v), Some(Node::Dir(_)));
            assert_eq!(
                fs.exists(p),
                ok.is_some_and(|v| found(v).is_some()),
                "{p:?}"
            );
            assert_eq!(fs.isfile(p), ok.is_some_and(is_file), "{p:?}");
            assert_eq!(fs.isdir(p), ok.is_some_and(is_dir), "{p:?}");
        }
    }
}
