//! The inode table of a mount: kernel inode number -> path, with the kernel's lookup counts.
//!
//! memfs nodes carry a stable `ino` (kept across rename and content changes), but the engine
//! addresses nodes by path. FUSE addresses them by inode, so the mount remembers, for every
//! inode the kernel holds a reference to, the path it was last seen at. The table is a hint
//! checked against the tree on every use: the node at the remembered path must carry the same
//! `ino`. When it does not (the tree changed behind the mount: a rename or a `restore` through
//! the library API), the tree is searched for the inode and the entry repaired; an inode that
//! is no longer in the tree answers `ENOENT`. Renames and removals done through the mount
//! update the table directly, so the search is only the fallback.
//!
//! Entries live from the first `lookup` (or create, mkdir, readdirplus) that hands the inode to
//! the kernel until the kernel `forget`s it. The root (inode 1) is never forgotten.
//! This module reads trees; it never changes one.

use std::collections::HashMap;
use std::io;

use crate::error;
use crate::path::{join_str, VPath};
use crate::sync::{lock, Mutex};
use crate::tree::node::Node;
use crate::tree::ops::{self, Root};

/// The root directory's inode number (FUSE's and memfs's).
pub(crate) const ROOT_INO: u64 = 1;

struct Entry {
    /// `None` once removed through the mount (the inode may still be open).
    path: Option<String>,
    lookups: u64,
}

/// See the module docs.
pub(crate) struct Inodes {
    map: Mutex<HashMap<u64, Entry>>,
}

impl Inodes {
    pub(crate) fn new() -> Self {
        let mut map = HashMap::new();
        map.insert(
            ROOT_INO,
            Entry {
                path: Some("/".to_string()),
                lookups: 1,
            },
        );
        Inodes {
            map: Mutex::new(map),
        }
    }

    /// The kernel received `ino` (found at `path`) in a reply: one more lookup reference.
    pub(crate) fn remember(&self, ino: u64, path: String) {
        let mut map = lock(&self.map);
        let e = map.entry(ino).or_insert(Entry {
            path: None,
            lookups: 0,
        });
        e.path = Some(path);
        e.lookups += 1;
    }

    /// The kernel dropped `n` references to `ino`.
    pub(crate) fn forget(&self, ino: u64, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        let mut map = lock(&self.map);
        if let Some(e) = map.get_mut(&ino) {
            e.lookups = e.lookups.saturating_sub(n);
            if e.lookups == 0 {
                map.remove(&ino);
            }
        }
    }

    /// A name of `ino` was removed through the mount; `left` is another of its names, if it
    /// has one (a hard link), else it is gone from the tree.
    pub(crate) fn unlinked(&self, ino: u64, left: Option<String>) {
        if let Some(e) = lock(&self.map).get_mut(&ino) {
            e.path = left;
        }
    }

    /// `from` was renamed to `to`: every remembered path at or below `from` moves.
    pub(crate) fn renamed(&self, from: &str, to: &str) {
        let mut map = lock(&self.map);
        for e in map.values_mut() {
            if let Some(p) = &mut e.path {
                if let Some(rest) = below(p, from) {
                    *p = format!("{to}{rest}");
                }
            }
        }
    }

    /// `a` and `b` were exchanged (`RENAME_EXCHANGE`).
    pub(crate) fn exchanged(&self, a: &str, b: &str) {
        let mut map = lock(&self.map);
        for e in map.values_mut() {
            if let Some(p) = &mut e.path {
                if let Some(rest) = below(p, a) {
                    *p = format!("{b}{rest}");
                } else if let Some(rest) = below(p, b) {
                    *p = format!("{a}{rest}");
                }
            }
        }
    }

    /// The path and node of `ino` in `root` (see the module docs for the checks).
    pub(crate) fn resolve(&self, root: &Root, ino: u64) -> io::Result<(String, Node)> {
        if ino == ROOT_INO {
            return Ok(("/".to_string(), root.node.clone()));
        }
        let known = lock(&self.map).get(&ino).map(|e| e.path.clone());
        match known {
            // Removed through the mount: gone from the tree for good (inos are never reused).
            Some(None) => return Err(stale(ino)),
            Some(Some(path)) => {
                if let Ok(node) = lstat(root, &path) {
                    if node.meta().ino == ino {
                        return Ok((path, node));
                    }
                }
            }
            None => {}
        }
        // The tree changed behind the mount: look for the inode.
        match search(root, ino) {
            Some((path, node)) => {
                if let Some(e) = lock(&self.map).get_mut(&ino) {
                    e.path = Some(path.clone());
                }
                Ok((path, node))
            }
            None => {
                if let Some(e) = lock(&self.map).get_mut(&ino) {
                    e.path = None;
                }
                Err(stale(ino))
            }
        }
    }
}

fn stale(ino: u64) -> io::Error {
    error::not_found(format!("inode {ino} (removed)"))
}

/// `p` relative to `prefix` (`""` if equal, `"/x..."` if below), or `None`.
fn below<'a>(p: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(if p == "/" { "" } else { p });
    }
    let rest = p.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The node at a canonical text path, not following a final symlink.
pub(crate) fn lstat(root: &Root, path: &str) -> io::Result<Node> {
    ops::stat(root, &VPath::parse_any_length(path)?, false)
}

/// Depth-first search of the whole tree for `ino`.
fn search(root: &Root, ino: u64) -> Option<(String, Node)> {
    let mut stack = vec![("/".to_string(), root.node.clone())];
    while let Some((path, node)) = stack.pop() {
        if let Node::Dir(d) = &node {
            // Only what is fetched: an inode number not known yet is not in a directory of a
            // remote store not fetched yet (its numbers are given when it is).
            for (name, child) in d.loaded().into_iter().flat_map(|c| c.iter()) {
                let child_path = join_str(&path, name);
                if child.meta().ino == ino {
                    return Some((child_path, child.clone()));
                }
                if child.is_dir() {
                    stack.push((child_path, child.clone()));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_matches_whole_components() {
        assert_eq!(below("/a/b", "/a"), Some("/b"));
        assert_eq!(below("/a", "/a"), Some(""));
        assert_eq!(below("/ab", "/a"), None);
        assert_eq!(below("/x", "/"), Some("/x"));
    }

    #[test]
    fn rename_moves_descendants_only() {
        let t = Inodes::new();
        t.remember(5, "/a/b".into());
        t.remember(6, "/ab".into());
        t.renamed("/a", "/z");
        let map = lock(&t.map);
        assert_eq!(map[&5].path.as_deref(), Some("/z/b"));
        assert_eq!(map[&6].path.as_deref(), Some("/ab"));
    }
}
