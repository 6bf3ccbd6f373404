//! Quotas: limits on the bytes and inodes of the live tree, checked on every commit.
//!
//! What counts (one rule, [`Usage`]):
//! - **inodes**: every directory, file and symlink of the live tree, the root included (as
//!   `df -i` counts them); an empty filesystem uses 1.
//! - **bytes**: file contents *as stored*: a small content (inline, up to `INLINE_MAX` bytes)
//!   counts its length; a large one counts each of its 64 KiB chunks once for the whole tree,
//!   however many files or offsets share it (after deduplication: a copy costs nothing, a file
//!   of zeros costs one chunk). Directories and symlink targets cost no bytes.
//!
//! The limits apply to the live tree, like ZFS's `refquota`: what only snapshots (or handles)
//! still hold is outside them, and deleting a file frees its bytes for the quota even if a
//! snapshot keeps them in memory.
//!
//! How it is enforced: the commit protocol (`commit.rs`) applies operations one at a time on
//! the working root. With limits set, it keeps the version before each operation, diffs it
//! against the version after (`diff::walk`: cost proportional to the change) and charges the
//! difference here; an operation that would take usage past a limit is undone (the previous
//! version is put back) and fails with `ErrorKind::StorageFull` (ENOSPC), so a write never
//! lands in part and concurrent writers can never pass a limit together. An operation that
//! does not grow usage (a removal, a rename, a shrinking write) is allowed even over a limit
//! (after limits were lowered below what is used). Without limits none of this runs.
//!
//! The bytes rule is counted two ways: incrementally per commit (`Charge`, which keeps a count
//! of the live tree's references to each chunk), and from scratch over a walk (`LiveBytes`,
//! for `stats` and `usage` without limits); `tests/quota.rs` checks that they agree.

use std::collections::HashMap;
use std::io;

use crate::blob::{BlobRef, Content, Hash};
use crate::diff::{self, Delta};
use crate::error;
use crate::tree::node::Node;
use crate::tree::ops::Root;

/// Limits on a filesystem's live tree; `None` is unlimited (see [`crate::MemFs::set_limits`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes stored (after deduplication).
    pub max_bytes: Option<u64>,
    /// Most inodes (directories, files and symlinks, the root included).
    pub max_inodes: Option<u64>,
}

impl Limits {
    /// Whether neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_bytes.is_none() && self.max_inodes.is_none()
    }
}

/// What the live tree uses, counted as the quota counts it (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub inodes: u64,
}

/// The charged usage of the working root, kept by the combiner while limits are set.
pub(crate) struct Quota {
    limits: Limits,
    usage: Usage,
    /// How many times the live tree refers to each stored chunk, with the chunk's length.
    chunks: HashMap<Hash, (u64, u64)>,
}

/// The change in usage between two versions, before it is checked.
#[derive(Default)]
struct Charge {
    inodes: i64,
    inline: i64,
    chunks: HashMap<Hash, (i64, u64)>,
}

impl Charge {
    fn node(&mut self, node: &Node, sign: i64) {
        self.inodes += sign;
        match node {
            Node::File(f) => self.content(&f.content, sign, 0),
            // (A directory of a remote store that cannot be fetched counts as empty.)
            Node::Dir(d) => d
                .children()
                .into_iter()
                .flat_map(|c| c.values())
                .for_each(|c| self.node(c, sign)),
            Node::Symlink(_) | Node::Special(_) => {}
        }
    }

    /// `content`'s bytes from its chunk number `from` on.
    fn content(&mut self, content: &Content, sign: i64, from: usize) {
        self.inline += sign * content.inline_bytes() as i64;
        for c in &content.chunk_refs()[from.min(content.chunk_refs().len())..] {
            self.chunk(c, sign);
        }
    }

    fn chunk(&mut self, c: &BlobRef, sign: i64) {
        let e = self.chunks.entry(*c.hash()).or_insert((0, c.len() as u64));
        e.0 += sign;
    }

    fn delta(&mut self, delta: Delta<'_>) {
        match delta {
            Delta::Added(n) => self.node(n, 1),
            Delta::Removed(n) => self.node(n, -1),
            Delta::TypeChanged(a, b) => {
                self.node(a, -1);
                self.node(b, 1);
            }
            Delta::Modified(Node::File(a), Node::File(b)) => {
                // An append or a partial rewrite shares its leading chunks with the old version:
                // skip them without hashing anything.
                let (x, y) = (a.content.chunk_refs(), b.content.chunk_refs());
                let same = x.iter().zip(y).take_while(|(p, q)| p.same_chunk(q)).count();
                self.content(&a.content, -1, same);
                self.content(&b.content, 1, same);
            }
            Delta::Modified(..) => {}
        }
    }
}

fn add(n: u64, d: i64) -> u64 {
    n.saturating_add_signed(d)
}

impl Quota {
    /// The usage of `root`, counted from scratch (a walk of the whole tree).
    pub(crate) fn new(limits: Limits, root: &Root) -> Quota {
        let mut q = Quota {
            limits,
            usage: Usage {
                bytes: 0,
                inodes: 1,
            },
            chunks: HashMap::new(),
        };
        let mut charge = Charge::default();
        diff::walk(&Root::empty(), root, &mut |_, d| charge.delta(d));
        q.apply(charge);
        q
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub(crate) fn usage(&self) -> Usage {
        self.usage
    }

    /// Charges the change from `old` to `new`, or refuses it (nothing charged) with
    /// `StorageFull` if it grows usage past a limit.
    pub(crate) fn charge(&mut self, old: &Root, new: &Root) -> io::Result<()> {
        let mut charge = Charge::default();
        diff::walk(old, new, &mut |_, d| charge.delta(d));
        let bytes = charge.inline
            + charge
                .chunks
                .iter()
                .map(|(h, &(d, len))| {
                    let had = self.chunks.get(h).map_or(0, |e| e.0);
                    match (had > 0, add(had, d) > 0) {
                        (false, true) => len as i64,
                        (true, false) => -(len as i64),
                        _ => 0,
                    }
                })
                .sum::<i64>();
        let after = Usage {
            bytes: add(self.usage.bytes, bytes),
            inodes: add(self.usage.inodes, charge.inodes),
        };
        if let Some(max) = self.limits.max_bytes {
            if bytes > 0 && after.bytes > max {
                return Err(error::err(
                    io::ErrorKind::StorageFull,
                    format!(
                        "no space left: this change needs {} bytes more, {} of the {max}-byte \
                         quota are used",
                        bytes, self.usage.bytes
                    ),
                ));
            }
        }
        if let Some(max) = self.limits.max_inodes {
            if charge.inodes > 0 && after.inodes > max {
                return Err(error::err(
                    io::ErrorKind::StorageFull,
                    format!(
                        "no space left: this change needs {} inodes more, {} of the {max}-inode \
                         quota are used",
                        charge.inodes, self.usage.inodes
                    ),
                ));
            }
        }
        self.apply(charge);
        Ok(())
    }

    fn apply(&mut self, charge: Charge) {
        self.usage.inodes = add(self.usage.inodes, charge.inodes);
        self.usage.bytes = add(self.usage.bytes, charge.inline);
        for (h, (d, len)) in charge.chunks {
            if d == 0 {
                continue;
            }
            let e = self.chunks.entry(h).or_insert((0, len));
            let had = e.0;
            e.0 = add(had, d);
            match (had > 0, e.0 > 0) {
                (false, true) => self.usage.bytes += len,
                (true, false) => {
                    self.usage.bytes -= len;
                    self.chunks.remove(&h);
                }
                _ => {}
            }
        }
    }
}

/// What `root` uses, counted by a walk of the whole tree.
pub(crate) fn usage_of(root: &Root) -> Usage {
    let mut usage = Usage {
        bytes: 0,
        inodes: 0,
    };
    let mut live = LiveBytes::default();
    let mut stack: Vec<&Node> = vec![&root.node];
    while let Some(node) = stack.pop() {
        usage.inodes += 1;
        match node {
            Node::Dir(d) => stack.extend(d.children().into_iter().flat_map(|c| c.values())),
            Node::File(f) => live.add(&f.content),
            Node::Symlink(_) | Node::Special(_) => {}
        }
    }
    usage.bytes = live.bytes;
    usage
}

/// The bytes a quota charges for the contents of a walk: inline contents by length, each stored
/// chunk once however many files share it. Fed by whole-tree walks (`usage_of`, `stats`).
#[derive(Default)]
pub(crate) struct LiveBytes {
    seen: rustc_hash::FxHashSet<Hash>,
    pub bytes: u64,
}

impl LiveBytes {
    pub(crate) fn add(&mut self, content: &Content) {
        self.bytes += content.inline_bytes();
        for c in content.chunk_refs() {
            if self.seen.insert(*c.hash()) {
                self.bytes += c.len() as u64;
            }
        }
    }
}

/// Parses a size as `memfs init --max-bytes` takes it: a number of bytes, optionally followed
/// by `K`, `M`, `G` or `T` (powers of 1024; `KiB`/`KB`-style suffixes and lower case accepted).
pub fn parse_size(s: &str) -> io::Result<u64> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let bad = || {
        error::invalid_input(format!(
            "invalid size {s:?}: expected a number of bytes with an optional K, M, G or T suffix"
        ))
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| {
        error::invalid_input(format!("invalid size {s:?}: more than 2^64 - 1 bytes"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes_and_bad_ones_are_errors() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64K").unwrap(), 64 << 10);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("2gib").unwrap(), 2 << 30);
        assert_eq!(parse_size("1T").unwrap(), 1 << 40);
        for bad in [
            "",
            "M",
            "-1",
            "1.5G",
            "12Q",
            "1 G B",
            "99999999999999999999",
            "16777216T",
        ] {
            let e = parse_size(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
