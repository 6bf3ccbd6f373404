//! Hard links: one node under several names.
//!
//! The tree addresses nodes by path, and a read of any path is one descent that finds the
//! node itself, with no indirection, so a node with several links is held at each of its
//! paths: the same `Arc` everywhere, with `Meta::nlink` counting them. [`Links`], part of every
//! [`Root`] (so a snapshot pins it with the tree), lists for each such node the canonical
//! paths of its links. Nodes with a single link, nearly all of them, are not in it: an
//! operation on a tree without hard links pays one emptiness check.
//!
//! Keeping the copies in step is a protocol between this module and `ops`:
//! - a change to a node goes through `ops::node_mut`, which notes the path when the node has
//!   more than one link; [`sync`], run after every operation (by the commit protocol and by a
//!   transaction), copies the changed node to its other paths;
//! - what adds, removes or moves names calls the function here that says so: [`link`]
//!   (a new name), [`unlinked`] (a name removed), [`subtree_removed`], [`moved`] and
//!   [`exchanged`]; each updates the list and the count, and the count reaches the other
//!   copies through [`sync`].
//!
//! Cost: [`moved`] and [`subtree_removed`] scan the list (the nodes with more than one link),
//! not the tree; nothing here runs for a tree without hard links.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use imbl::OrdMap;

use super::node::Node;
use super::ops::{self, Root};
use super::resolve::node_at;
use crate::path::Name;

/// See the module docs. `None` until a tree has a hard link, so that a root without any
/// costs one pointer to clone, drop and check.
#[derive(Clone, Default)]
pub(crate) struct Links(Option<Arc<List>>);

#[derive(Clone, Default)]
struct List {
    /// For every node with more than one link, by inode number: the canonical paths of its
    /// links, in the order they were made.
    paths: OrdMap<u64, Vec<Vec<Name>>>,
    /// Links whose node the running operation changed, to copy to the node's other links.
    changed: Vec<Vec<Name>>,
}

impl Links {
    /// Whether no node has more than one link.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|l| l.paths.is_empty())
    }

    fn list_mut(&mut self) -> &mut List {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    fn paths_mut(&mut self) -> &mut OrdMap<u64, Vec<Vec<Name>>> {
        &mut self.list_mut().paths
    }

    /// The paths of the links of node `ino`, if it has more than one.
    pub(crate) fn paths_of(&self, ino: u64) -> Option<&[Vec<Name>]> {
        self.0.as_ref()?.paths.get(&ino).map(Vec::as_slice)
    }

    /// `canon`, whose node has more than one link, is being changed (by `ops::node_mut`).
    pub(crate) fn note_change(&mut self, canon: &[Name]) {
        let changed = &mut self.list_mut().changed;
        if !changed.iter().any(|c| c == canon) {
            changed.push(canon.to_vec());
        }
    }

    /// Whether the running operation changed a node with links.
    #[inline]
    fn has_changes(&self) -> bool {
        self.0.as_ref().is_some_and(|l| !l.changed.is_empty())
    }

    /// Forgets the changes noted by an operation that failed (its changes are undone).
    #[inline]
    pub(crate) fn discard_changes(&mut self) {
        if self.has_changes() {
            self.list_mut().changed.clear();
        }
    }

    /// Every path in the list at or below `prefix`, rewritten by `f` (`None`: removed); the
    /// inode numbers whose paths changed.
    fn rewrite(&mut self, mut f: impl FnMut(&[Name]) -> Option<Option<Vec<Name>>>) -> Vec<u64> {
        let mut touched = Vec::new();
        let Some(list) = &self.0 else {
            return touched;
        };
        let inos: Vec<u64> = list
            .paths
            .iter()
            .filter(|(_, paths)| paths.iter().any(|p| f(p).is_some()))
            .map(|(ino, _)| *ino)
            .collect();
        for ino in inos {
            let paths = self.paths_mut().get_mut(&ino).expect("listed just above");
            let mut kept = Vec::with_capacity(paths.len());
            for p in paths.drain(..) {
                match f(&p) {
                    None => kept.push(p),
                    Some(Some(q)) => kept.push(q),
                    Some(None) => {}
                }
            }
            *paths = kept;
            touched.push(ino);
        }
        touched
    }
}

/// Whether `path` is `prefix` or below it; the rest of it if so.
fn below<'p>(path: &'p [Name], prefix: &[Name]) -> Option<&'p [Name]> {
    path.strip_prefix(prefix)
}

fn replaced_prefix(path: &[Name], from: &[Name], to: &[Name]) -> Option<Vec<Name>> {
    below(path, from).map(|rest| to.iter().chain(rest).cloned().collect())
}

/// `link(2)` made `new` a name of the node at `existing` (already inserted there).
pub(crate) fn link(root: &mut Root, existing: &[Name], new: &[Name]) -> io::Result<()> {
    let ino = node_at(&root.node, existing)
        .ok_or_else(|| crate::error::not_found(super::resolve::display(existing)))?
        .meta()
        .ino;
    let paths = root.links.paths_mut();
    match paths.get_mut(&ino) {
        Some(paths) => paths.push(new.to_vec()),
        None => {
            paths.insert(ino, vec![existing.to_vec(), new.to_vec()]);
        }
    }
    let count = paths[&ino].len() as u32;
    // node_mut notes the change only for a node with links: do it after the count is set.
    let m = ops::node_mut(root, existing)?.meta_mut();
    m.nlink = count;
    m.changed = SystemTime::now();
    root.links.note_change(existing);
    Ok(())
}

/// The name `canon` of `node` (a non-directory) is gone: its other links, if any, count one
/// less (and their ctime changes, as Linux's `drop_nlink` callers set it).
pub(crate) fn unlinked(root: &mut Root, canon: &[Name], node: &Node) -> io::Result<()> {
    if node.is_dir() || node.meta().nlink < 2 {
        return Ok(());
    }
    let ino = node.meta().ino;
    if let Some(paths) = root.links.paths_mut().get_mut(&ino) {
        paths.retain(|p| p.as_slice() != canon);
    }
    recount(root, ino)
}

/// Sets the link count of `ino` from the list (dropping it from the list when one link is
/// left) on one of its links; [`sync`] takes it to the others.
fn recount(root: &mut Root, ino: u64) -> io::Result<()> {
    let Some(paths) = root.links.paths_of(ino) else {
        return Ok(());
    };
    let Some(first) = paths.first().cloned() else {
        root.links.paths_mut().remove(&ino);
        return Ok(());
    };
    let count = paths.len() as u32;
    if count < 2 {
        root.links.paths_mut().remove(&ino);
    }
    // (The node still counts its old links, so `node_mut` notes the change for `sync`.)
    let m = ops::node_mut(root, &first)?.meta_mut();
    m.nlink = count;
    m.changed = SystemTime::now();
    Ok(())
}

/// The subtree at `prefix` was removed: every link in it is gone.
pub(crate) fn subtree_removed(root: &mut Root, prefix: &[Name]) -> io::Result<()> {
    if root.links.is_empty() {
        return Ok(());
    }
    for ino in root.links.rewrite(|p| below(p, prefix).map(|_| None)) {
        recount(root, ino)?;
    }
    Ok(())
}

/// The node at `from` (and everything below it) is now at `to`.
pub(crate) fn moved(root: &mut Root, from: &[Name], to: &[Name]) {
    if !root.links.is_empty() {
        root.links
            .rewrite(|p| replaced_prefix(p, from, to).map(Some));
    }
}

/// The nodes at `a` and `b` (and what is below them) were exchanged (`RENAME_EXCHANGE`).
#[cfg_attr(not(feature = "fuse"), allow(dead_code))] // used through `ops::exchange`
pub(crate) fn exchanged(root: &mut Root, a: &[Name], b: &[Name]) {
    if !root.links.is_empty() {
        root.links.rewrite(|p| {
            replaced_prefix(p, a, b)
                .or_else(|| replaced_prefix(p, b, a))
                .map(Some)
        });
    }
}

/// Copies each node the operation changed to its other links. Run once an operation is done
/// (a failed operation's changes are discarded instead).
#[inline]
pub(crate) fn sync(root: &mut Root) -> io::Result<()> {
    if root.links.has_changes() {
        sync_changes(root)?;
    }
    Ok(())
}

fn sync_changes(root: &mut Root) -> io::Result<()> {
    for canon in std::mem::take(&mut root.links.list_mut().changed) {
        let Some(node) = node_at(&root.node, &canon).cloned() else {
            continue;
        };
        if node.is_dir() {
            continue;
        }
        let Some(paths) = root.links.paths_of(node.meta().ino) else {
            continue;
        };
        let others: Vec<Vec<Name>> = paths.iter().filter(|p| **p != canon).cloned().collect();
        for other in others {
            ops::replace_entry(root, &other, node.clone())?;
        }
    }
    Ok(())
}

/// The list of a tree just loaded (an image, JSON): the non-directories that appear under more
/// than one name with the same inode number are one node with that many links. Each gets its
/// count, and its links one shared node. Directories not fetched yet (a tree over a remote
/// store) are not searched.
pub(crate) fn rebuild(root: &mut Root) -> io::Result<()> {
    let mut by_ino: std::collections::HashMap<u64, Vec<Vec<Name>>> = Default::default();
    let mut stack: Vec<(Vec<Name>, &Node)> = vec![(Vec::new(), &root.node)];
    while let Some((path, node)) = stack.pop() {
        match node {
            Node::Dir(d) => {
                if let Some(children) = d.loaded() {
                    for (name, child) in children.iter() {
                        let mut p = path.clone();
                        p.push(name.clone());
                        stack.push((p, child));
                    }
                }
            }
            other => by_ino.entry(other.meta().ino).or_default().push(path),
        }
    }
    let mut paths = OrdMap::new();
    for (ino, mut list) in by_ino {
        if list.len() < 2 {
            continue;
        }
        list.sort();
        let mut node = node_at(&root.node, &list[0])
            .cloned()
            .expect("found by the walk above");
        // An image keeps a linked node once, with its count: then every link already holds
        // it, and the tree (shared with the other versions loaded) is left as it is.
        let shared = list
            .iter()
            .all(|p| node_at(&root.node, p).is_some_and(|n| n.same_version(&node)));
        if !shared || node.meta().nlink as usize != list.len() {
            node.meta_mut().nlink = list.len() as u32;
            for p in &list {
                ops::replace_entry(root, p, node.clone())?;
            }
        }
        paths.insert(ino, list);
    }
    root.links = if paths.is_empty() {
        Links(None)
    } else {
        Links(Some(Arc::new(List {
            paths,
            changed: Vec::new(),
        })))
    };
    Ok(())
}

/// Whether every listed node is the same `Arc` at each of its paths, with the count it has
/// links (for tests).
#[cfg(test)]
pub(crate) fn check(root: &Root) -> Result<(), String> {
    let Some(list) = &root.links.0 else {
        return Ok(());
    };
    for (ino, paths) in list.paths.iter() {
        let nodes: Vec<&Node> = paths
            .iter()
            .map(|p| node_at(&root.node, p).ok_or(format!("inode {ino}: {p:?} missing")))
            .collect::<Result<_, _>>()?;
        for n in &nodes {
            if !n.same_version(nodes[0]) || n.meta().ino != *ino {
                return Err(format!("inode {ino}: links differ"));
            }
            if n.meta().nlink as usize != paths.len() {
                return Err(format!(
                    "inode {ino}: nlink {} for {paths:?}",
                    n.meta().nlink
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::MemFs;

    /// After every operation, each node with links is one `Arc` at each of its paths, with
    /// the count of them.
    #[test]
    fn links_stay_one_node_through_every_kind_of_change() {
        let fs = MemFs::new();
        let checked = |what: &str| {
            super::check(&fs.load_root()).unwrap_or_else(|e| panic!("after {what}: {e}"));
        };
        fs.create_dir_all("/d/e").unwrap();
        fs.write("/d/e/f", "1").unwrap();
        fs.hard_link("/d/e/f", "/g").unwrap();
        fs.hard_link("/g", "/d/h").unwrap();
        checked("link");
        fs.write("/d/h", "2").unwrap();
        fs.set_permissions("/g", 0o600).unwrap();
        fs.set_metadata("/d/e/f", [("k".to_string(), "v".to_string())].into())
            .unwrap();
        checked("changes");
        fs.rename("/d", "/z").unwrap();
        checked("directory rename");
        fs.rename("/g", "/z/e/g2").unwrap();
        checked("rename");
        fs.write("/other", "o").unwrap();
        fs.rename("/other", "/z/h").unwrap();
        checked("rename onto a link");
        fs.remove_file("/z/e/g2").unwrap();
        checked("unlink");
        assert!(fs.load_root().links.is_empty(), "one link left: not listed");
        fs.hard_link("/z/e/f", "/top").unwrap();
        fs.remove_dir_all("/z").unwrap();
        checked("remove_dir_all");
        assert_eq!(fs.metadata("/top").unwrap().nlink(), 1);
        assert_eq!(fs.read_to_string("/top").unwrap(), "2");
    }
}
