//! What changed between two versions of the tree: [`Snapshot::diff`] and
//! [`MemFs::diff_since`].
//!
//! Two versions share every subtree nothing changed in (the same `Arc`), so the diff compares
//! directories with `imbl::OrdMap::diff`, which skips the B-tree nodes the two maps share, and
//! descends only into entries that are not the same node in both: its cost is proportional to
//! what changed (and to the depth of the changes), not to the size of the tree. Node identity
//! is the test: a file rewritten with the same bytes is a new node, so it is `Modified` (its
//! times changed).

use crate::fs::MemFs;
use crate::path::join_str;
use crate::snapshot::Snapshot;
use crate::tree::node::{Dir, Node};
use crate::tree::ops::Root;

/// How an entry differs between the older and the newer version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Only in the newer version.
    Added,
    /// Only in the older version.
    Removed,
    /// In both, of the same type, with other content, mode, times, user metadata or (a
    /// symlink) target. A directory whose entries changed is `Modified` too when its own
    /// times changed (adding or removing an entry sets its mtime).
    Modified,
    /// In both, but a file became a directory, a directory a symlink, and so on. The entries
    /// below a directory that appeared or went are reported as `Added` or `Removed`.
    TypeChanged,
    /// Only from a [`crate::Watcher`] (never from a diff): it fell too far behind, skipped what
    /// it had not seen yet, and resumes from the current version.
    Overflow,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path.
    pub path: String,
    pub kind: ChangeKind,
}

impl ChangeKind {
    /// The one-letter code of `memfs diff`: `A`, `D`, `M`, `T` (and `O` for an overflow).
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Removed => 'D',
            ChangeKind::Modified => 'M',
            ChangeKind::TypeChanged => 'T',
            ChangeKind::Overflow => 'O',
        }
    }

    /// The name `memfs diff --json` uses: `added`, `removed`, `modified`, `type_changed` (and
    /// `overflow`).
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
            ChangeKind::TypeChanged => "type_changed",
            ChangeKind::Overflow => "overflow",
        }
    }
}

impl Snapshot {
    /// Every path that differs between this snapshot and `newer` (a later one, or any other
    /// version of the same or another filesystem), sorted by path. Unchanged subtrees are
    /// skipped without being visited.
    ///
    /// Taken through a handle with credentials ([`MemFs::as_user`]), either snapshot reports
    /// only the changes those credentials may see: where the parent directory is one they may
    /// list (in the newer version, or in the older one for what is not in the newer).
    pub fn diff(&self, newer: &Snapshot) -> Vec<Change> {
        self.with_root(|old| {
            newer.with_root(|new| {
                let mut changes = diff_roots(old, new);
                for c in [self.cred(), newer.cred()].into_iter().flatten() {
                    changes = visible(changes, old, new, c);
                }
                changes
            })
        })
    }
}

impl MemFs {
    /// Every path that differs between `older` and the live tree, sorted by path (see
    /// [`Snapshot::diff`]).
    pub fn diff_since(&self, older: &Snapshot) -> Vec<Change> {
        older.diff(&self.snapshot())
    }
}

/// The changes from `old` to `new` that `c` may see ([`crate::access::may_see_change`], in the
/// version that has the path).
pub(crate) fn visible(
    changes: Vec<Change>,
    old: &Root,
    new: &Root,
    c: &crate::Credentials,
) -> Vec<Change> {
    changes
        .into_iter()
        .filter(|ch| {
            let root = if ch.kind == ChangeKind::Removed {
                old
            } else {
                new
            };
            crate::access::may_see_change(root, &ch.path, c)
        })
        .collect()
}

/// One difference between two versions of an entry, as [`walk`] finds it.
pub(crate) enum Delta<'a> {
    /// Only in the newer version (with everything below it).
    Added(&'a Node),
    /// Only in the older version (with everything below it).
    Removed(&'a Node),
    /// Same type, another node: a file or symlink, or a directory whose own metadata changed
    /// (its entries' differences are reported on their own).
    Modified(&'a Node, &'a Node),
    /// Another type (everything below the old one went, everything below the new one came).
    TypeChanged(&'a Node, &'a Node),
}

/// Calls `f` with the path and the difference of every entry that is not the same node in both
/// roots, skipping shared subtrees without visiting them. Entries below an added or removed
/// directory are not visited: `f` gets the directory's node. The one diff walk, shared by
/// [`diff_roots`] and quota accounting (`quota.rs`).
pub(crate) fn walk(old: &Root, new: &Root, f: &mut impl FnMut(&str, Delta<'_>)) {
    if let (Node::Dir(a), Node::Dir(b)) = (&old.node, &new.node) {
        if !std::sync::Arc::ptr_eq(a, b) {
            if !same_meta(&old.node, &new.node) {
                f("/", Delta::Modified(&old.node, &new.node));
            }
            let mut path = String::from("/");
            walk_dirs(&mut path, a, b, f);
        }
    }
}

fn walk_dirs(path: &mut String, old: &Dir, new: &Dir, f: &mut impl FnMut(&str, Delta<'_>)) {
    use imbl::ordmap::DiffItem;
    let len = path.len();
    if old.shares_entries(new) {
        return;
    }
    // A directory of a remote store that cannot be fetched: reported changed, and nothing
    // below it (the read API's calls there fail with the error).
    let (Ok(a), Ok(b)) = (old.children(), new.children()) else {
        return;
    };
    for item in a.diff(b) {
        let (name, delta) = match item {
            DiffItem::Add(name, node) => (name, Delta::Added(node)),
            DiffItem::Remove(name, node) => (name, Delta::Removed(node)),
            DiffItem::Update {
                old: (name, a),
                new: (_, b),
            } => match (a, b) {
                (Node::Dir(_), Node::Dir(_)) => (name, Delta::Modified(a, b)),
                (Node::File(_), Node::File(_)) | (Node::Symlink(_), Node::Symlink(_)) => {
                    (name, Delta::Modified(a, b))
                }
                (Node::Special(x), Node::Special(y)) if x.kind == y.kind => {
                    (name, Delta::Modified(a, b))
                }
                _ => (name, Delta::TypeChanged(a, b)),
            },
        };
        if len > 1 {
            path.push('/');
        }
        path.push_str(name);
        match delta {
            Delta::Modified(a @ Node::Dir(x), b @ Node::Dir(y)) => {
                if !same_meta(a, b) {
                    f(path, Delta::Modified(a, b));
                }
                walk_dirs(path, x, y, f);
            }
            delta => f(path, delta),
        }
        path.truncate(len);
    }
}

pub(crate) fn diff_roots(old: &Root, new: &Root) -> Vec<Change> {
    let mut out = Vec::new();
    walk(old, new, &mut |path, delta| match delta {
        Delta::Added(node) => everything(path, node, ChangeKind::Added, &mut out),
        Delta::Removed(node) => everything(path, node, ChangeKind::Removed, &mut out),
        Delta::Modified(..) => out.push(change(path, ChangeKind::Modified)),
        Delta::TypeChanged(a, b) => {
            out.push(change(path, ChangeKind::TypeChanged));
            below(path, a, ChangeKind::Removed, &mut out);
            below(path, b, ChangeKind::Added, &mut out);
        }
    });
    out.sort_unstable_by(|x, y| x.path.cmp(&y.path));
    out
}

fn change(path: &str, kind: ChangeKind) -> Change {
    Change {
        path: path.to_string(),
        kind,
    }
}

/// `node` at `path` and, for a directory, everything below it, as `kind`.
fn everything(path: &str, node: &Node, kind: ChangeKind, out: &mut Vec<Change>) {
    out.push(change(path, kind));
    below(path, node, kind, out);
}

/// Everything below `node` (nothing unless it is a directory), as `kind`.
fn below(path: &str, node: &Node, kind: ChangeKind, out: &mut Vec<Change>) {
    if let Node::Dir(d) = node {
        // (A directory of a remote store that cannot be fetched: nothing below it.)
        for (name, child) in d.children().into_iter().flat_map(|c| c.iter()) {
            everything(&join_str(path, name), child, kind, out);
        }
    }
}

/// Whether a directory's own metadata (mode, times, user metadata) is the same in both.
fn same_meta(a: &Node, b: &Node) -> bool {
    let (x, y) = (a.meta(), b.meta());
    x.mode == y.mode
        && x.modified == y.modified
        && x.changed == y.changed
        && x.created == y.created
        && x.accessed == y.accessed
        && x.user == y.user
}
