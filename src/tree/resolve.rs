//! Path resolution: from a `VPath` to a canonical list of names with no symlink in it.
//!
//! Resolution checks what Linux's path walk checks, in the same order: every component but the
//! last must exist (`ENOENT`) and be a directory (`ENOTDIR`); symlinks in the middle are always
//! followed, the last one only when asked; more than 40 hops is `ELOOP`. The fast path (no
//! symlink met) borrows the caller's names and allocates nothing.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;

use super::node::{Dir, Node};
use crate::error;
use crate::path::{join_names, plain_component, plain_rest, Name, VPath};

/// Linux's limit on symlinks followed during one lookup.
pub(crate) const MAX_HOPS: usize = 40;

/// Returns the node at a canonical path (no symlinks inside), if any.
pub(crate) fn node_at<'a>(root: &'a Node, canon: &[Name]) -> Option<&'a Node> {
    let mut cur = root;
    for name in canon {
        match cur {
            Node::Dir(d) => cur = d.get(name).ok()??,
            _ => return None,
        }
    }
    Some(cur)
}

/// Returns the directory at a canonical path, if there is one.
pub(crate) fn dir_at<'a>(root: &'a Node, canon: &[Name]) -> Option<&'a Dir> {
    match node_at(root, canon)? {
        Node::Dir(d) => Some(d),
        _ => None,
    }
}

/// Resolves `path` against `root`. On success every name but the last of the result is an
/// existing directory; the last may not exist. With `follow_last`, a symlink as the last
/// component is followed (a trailing `/` always follows).
pub(crate) fn resolve<'p>(
    root: &Node,
    path: &'p VPath,
    follow_last: bool,
) -> io::Result<Cow<'p, [Name]>> {
    resolve_at(root, path, follow_last).map(|(canon, _)| canon)
}

/// [`resolve`], plus the node the canonical path names (if any), found in the same walk: the
/// fast path (no symlink met) looks each name up once and allocates nothing.
pub(crate) fn resolve_at<'r, 'p>(
    root: &'r Node,
    path: &'p VPath,
    follow_last: bool,
) -> io::Result<(Cow<'p, [Name]>, Option<&'r Node>)> {
    let names = path.names();
    let follow_last = follow_last || path.must_be_dir();
    let mut cur = root;
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let Node::Dir(dir) = cur else {
            // A file before the last component is rejected below, so this is not reached.
            return Err(error::not_a_directory(path));
        };
        match dir.get(name)? {
            None if last => return Ok((Cow::Borrowed(names), None)),
            None => return Err(error::not_found(path)),
            Some(Node::Symlink(_)) if !last || follow_last => {
                let canon = slow_resolve(root, path, follow_last)?;
                let node = node_at(root, &canon);
                return Ok((Cow::Owned(canon), node));
            }
            Some(Node::File(_)) if !last => return Err(error::not_a_directory(path)),
            Some(node) => cur = node,
        }
    }
    Ok((Cow::Borrowed(names), Some(cur)))
}

/// The node `stat` (follow) or `lstat` would report, or `None` where they would fail; never
/// builds an error (for `exists`, `isfile`, `isdir`). Same rules as `resolve_at` + the
/// trailing-slash check.
pub(crate) fn lookup<'r>(root: &'r Node, path: &VPath, follow_last: bool) -> Option<&'r Node> {
    let names = path.names();
    let follow = follow_last || path.must_be_dir();
    let mut cur = root;
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let Node::Dir(dir) = cur else { return None };
        match dir.get(name).ok()?? {
            Node::Symlink(_) if !last || follow => {
                let canon = slow_resolve(root, path, follow).ok()?;
                cur = node_at(root, &canon)?;
                break;
            }
            node => cur = node,
        }
    }
    if path.must_be_dir() && !cur.is_dir() {
        return None;
    }
    Some(cur)
}

/// Where the fast lane's walk of a plain path ended.
pub(crate) enum Plain<'r> {
    /// The node `resolve_at` would return (`Some`).
    Found(&'r Node),
    /// A component is missing (`resolve_at`'s `ENOENT`, or its `None` for the last one).
    Missing,
    /// A file before the last component (`ENOTDIR`).
    NotDir,
    /// A symlink to follow, or a component that is not plain: only the general resolution
    /// knows what to do.
    GiveUp,
}

/// The fast lane of [`resolve_at`] for a path `path::plain` accepted: walks the components
/// (bytes, see `path::plain`) without building a `VPath`, with the same checks in the same
/// order, checking that each component is plain as it goes. Gives up ([`Plain::GiveUp`]) where
/// `resolve_at` would follow a symlink, and at a component that is not plain (before
/// answering, also one after where the walk stops: `VPath::parse` rejects a bad name anywhere
/// in the path). [`Plain::Missing`] and [`Plain::NotDir`] are only answers for a path that is
/// text without NUL (`path::plain_text`), which the caller checks.
pub(crate) fn walk_plain<'r>(root: &'r Node, path: &[u8], follow_last: bool) -> Plain<'r> {
    let mut cur = root;
    let mut rest = path.get(1..).unwrap_or_default();
    loop {
        let slash = rest.iter().position(|&b| b == b'/');
        let (part, next) = match slash {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if !plain_component(part) {
            return Plain::GiveUp;
        }
        let Node::Dir(dir) = cur else {
            // A file before the last component is rejected below, so this is not reached.
            return Plain::NotDir;
        };
        let stop = |end: Plain<'r>| match next {
            Some(n) if !plain_rest(n) => Plain::GiveUp,
            _ => end,
        };
        // A directory that cannot be fetched: the general resolution reports the error.
        let Ok(found) = dir.get(&Name::key(part)) else {
            return Plain::GiveUp;
        };
        match found {
            None => return stop(Plain::Missing),
            Some(Node::Symlink(_)) if next.is_some() || follow_last => return Plain::GiveUp,
            Some(Node::File(_)) if next.is_some() => return stop(Plain::NotDir),
            Some(node) => cur = node,
        }
        match next {
            Some(n) => rest = n,
            None => return Plain::Found(cur),
        }
    }
}

enum Step {
    Name(Name),
    Parent,
}

/// The general resolution, used once a symlink is met.
fn slow_resolve(root: &Node, path: &VPath, follow_last: bool) -> io::Result<Vec<Name>> {
    let mut canon: Vec<Name> = Vec::with_capacity(path.names().len());
    let mut rest: VecDeque<Step> = path.names().iter().cloned().map(Step::Name).collect();
    let mut hops = 0;
    while let Some(step) = rest.pop_front() {
        let name = match step {
            Step::Parent => {
                canon.pop();
                continue;
            }
            Step::Name(n) => n,
        };
        let last = rest.is_empty();
        let Some(dir) = dir_at(root, &canon) else {
            return Err(error::not_a_directory(path));
        };
        match dir.get(&name)? {
            None if last => {
                canon.push(name);
                return Ok(canon);
            }
            None => return Err(error::not_found(path)),
            Some(Node::Dir(_)) => canon.push(name),
            Some(Node::File(_) | Node::Special(_)) if last => {
                canon.push(name);
                return Ok(canon);
            }
            Some(Node::File(_) | Node::Special(_)) => return Err(error::not_a_directory(path)),
            Some(Node::Symlink(_)) if last && !follow_last => {
                canon.push(name);
                return Ok(canon);
            }
            Some(Node::Symlink(link)) => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(error::too_many_links(path));
                }
                if link.target.is_empty() {
                    return Err(error::not_found(path));
                }
                if link.target.starts_with('/') {
                    canon.clear();
                }
                for part in link.target.split('/').rev() {
                    match part {
                        "" | "." => {}
                        ".." => rest.push_front(Step::Parent),
                        n => rest.push_front(Step::Name(Name::new(n))),
                    }
                }
            }
        }
    }
    Ok(canon)
}

/// The canonical path as text, for messages and results.
pub(crate) fn display(canon: &[Name]) -> String {
    join_names(canon)
}
