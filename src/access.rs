//! Credentials and the access checks of a filesystem used as a user other than root.
//!
//! A `MemFs` handle made with [`Credentials`] (`MemFs::builder().credentials(..)`,
//! `fs.as_user(..)`) checks every call as Linux checks a process with those ids: search (`x`)
//! permission on every directory a path goes through, read or write permission on what is read
//! or written, write and search permission on a directory whose entries change, the sticky
//! bit, and the owner-only operations (`chmod`, `chown`, explicit times). What it may not do
//! fails with `PermissionDenied`: `EACCES` where Linux answers it, `EPERM` where Linux does
//! (`errno_of` tells them apart). Its new nodes belong to its uid and gid (the directory's
//! group in a set-group-ID directory). Without credentials a handle acts as root, as before:
//! no check costs more than one `Option` test.
//!
//! The rules are written here once and read the tree as it is when the operation runs (inside
//! the commit, on the version it changes), before the operation's own checks, in Linux's
//! order: a missing name is the operation's `NotFound`, but only after the directories on the
//! way were searchable.

use std::io;
use std::sync::Arc;

use crate::error;
use crate::op::Op;
use crate::path::{Name, VPath};
use crate::tree::node::{without_set_id, Meta, Node, SETGID};
use crate::tree::ops::Root;
use crate::tree::resolve::{node_at, resolve};

/// The identity a handle acts as: a user id, a primary group and supplementary groups. Uid 0
/// is root, which every check lets through (as `CAP_DAC_OVERRIDE`, `CAP_FOWNER`, `CAP_CHOWN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

impl Credentials {
    /// A user `uid` whose primary group is `gid`, in no other group.
    pub fn new(uid: u32, gid: u32) -> Self {
        Credentials {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// The same user, also in these supplementary groups.
    pub fn with_groups(mut self, groups: impl IntoIterator<Item = u32>) -> Self {
        self.groups = groups.into_iter().collect();
        self
    }

    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The supplementary groups.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }

    fn is_root(&self) -> bool {
        self.uid == 0
    }

    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    fn owns(&self, m: &Meta) -> bool {
        self.is_root() || self.uid == m.uid
    }

    /// Whether the mode bits of `m` give these credentials every permission in `want`
    /// (`R`, `W`, `X`), as `generic_permission` reads them: the owner's bits for the owner,
    /// else the group's for a member, else the others'.
    fn permits(&self, m: &Meta, want: u32) -> bool {
        if self.is_root() {
            return true;
        }
        let bits = if self.uid == m.uid {
            m.mode >> 6
        } else if self.in_group(m.gid) {
            m.mode >> 3
        } else {
            m.mode
        } & 7;
        bits & want == want
    }
}

/// Permission bits, as `access(2)` names them.
const R: u32 = 4;
const W: u32 = 2;
const X: u32 = 1;

fn denied(what: impl std::fmt::Display) -> io::Error {
    error::err(
        io::ErrorKind::PermissionDenied,
        format!("permission denied: {what}"),
    )
}

fn not_permitted(what: impl std::fmt::Display) -> io::Error {
    error::not_permitted(format!("operation not permitted: {what}"))
}

/// `want` on the node at `canon`, if there is one (a missing node is the operation's error).
fn need(root: &Root, canon: &[Name], want: u32, c: &Credentials) -> io::Result<()> {
    match node_at(&root.node, canon) {
        Some(n) if !c.permits(n.meta(), want) => Err(denied(display(canon))),
        _ => Ok(()),
    }
}

fn display(canon: &[Name]) -> String {
    crate::tree::resolve::display(canon)
}

/// Search permission on every directory from `/` down to `canon` (included), stopping at the
/// first name that is not a directory (the operation reports it).
fn search_chain(root: &Root, canon: &[Name], c: &Credentials) -> io::Result<()> {
    for j in 0..=canon.len() {
        match node_at(&root.node, &canon[..j]) {
            Some(Node::Dir(d)) if !c.permits(&d.meta, X) => {
                return Err(denied(display(&canon[..j])))
            }
            Some(Node::Dir(_)) => {}
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Search permission on every directory a lookup of `p` goes through: the one each name is
/// looked up in, and those on the way to where each symlink leads (a final one only when
/// `follow`).
fn search(root: &Root, p: &VPath, follow: bool, c: &Credentials) -> io::Result<()> {
    if c.is_root() {
        return Ok(());
    }
    let names = p.names();
    for i in 0..names.len() {
        let prefix = VPath::from_names(names[..i].to_vec());
        let Ok(canon) = resolve(&root.node, &prefix, true) else {
            return Ok(());
        };
        search_chain(root, &canon, c)?;
    }
    if follow || p.must_be_dir() {
        if let Ok(canon) = resolve(&root.node, p, true) {
            if let Some((_, parent)) = canon.split_last() {
                search_chain(root, parent, c)?;
            }
        }
    }
    Ok(())
}

/// Where `p` leads (`follow`ing a final symlink or not), and its node, if it resolves.
fn target<'r>(root: &'r Root, p: &VPath, follow: bool) -> Option<(Vec<Name>, &'r Node)> {
    let canon = resolve(&root.node, p, follow).ok()?.into_owned();
    let node = node_at(&root.node, &canon)?;
    Some((canon, node))
}

/// Write and search permission on the directory that holds (or will hold) `canon`.
fn may_change_parent(root: &Root, canon: &[Name], c: &Credentials) -> io::Result<()> {
    match canon.split_last() {
        Some((_, parent)) => need(root, parent, W | X, c),
        None => Ok(()),
    }
}

/// Whether `c` may remove the entry `canon` (`node`) from its directory (`may_delete`):
/// write and search permission on the directory, and in a sticky directory own the entry or
/// the directory (`EPERM` otherwise).
fn may_delete(root: &Root, canon: &[Name], node: &Node, c: &Credentials) -> io::Result<()> {
    let Some((_, parent)) = canon.split_last() else {
        return Ok(());
    };
    need(root, parent, W | X, c)?;
    if let Some(dir) = node_at(&root.node, parent) {
        let d = dir.meta();
        if d.mode & 0o1000 != 0 && !c.owns(node.meta()) && !c.owns(d) {
            return Err(not_permitted(format!(
                "{} is in a sticky directory and belongs to another user",
                display(canon)
            )));
        }
    }
    Ok(())
}

/// Everything below the directory at `canon` can be removed by `c` (`remove_dir_all`): each
/// directory listed and emptied, each entry deletable.
fn may_delete_tree(root: &Root, canon: &[Name], c: &Credentials) -> io::Result<()> {
    let Some(Node::Dir(d)) = node_at(&root.node, canon) else {
        return Ok(());
    };
    if !c.permits(&d.meta, R | W | X) {
        return Err(denied(display(canon)));
    }
    for (name, child) in d.children()?.iter() {
        let mut p = canon.to_vec();
        p.push(name.clone());
        may_delete(root, &p, child, c)?;
        if child.is_dir() {
            may_delete_tree(root, &p, c)?;
        }
    }
    Ok(())
}

/// What an operation by a non-root user must change besides what it asks: the nodes it
/// creates, to own them, and whether it writes a file (which clears its set-id bits).
#[derive(Default)]
pub(crate) struct Effects {
    /// Canonical paths of the nodes the operation will create.
    pub created: Vec<Vec<Name>>,
    /// The file whose bytes it changes, if any.
    pub written: Option<Vec<Name>>,
    /// The operation to run instead (a `chmod` that may not set the set-group-ID bit).
    pub instead: Option<Op<'static>>,
}

impl Effects {
    fn creates(mut self, canon: Vec<Name>) -> Self {
        self.created.push(canon);
        self
    }
}

/// A write to the file `p` (created if `create` and missing): the file's write permission, or
/// for a new file the directory's.
fn may_write_file(root: &Root, p: &VPath, create: bool, c: &Credentials) -> io::Result<Effects> {
    search(root, p, true, c)?;
    match target(root, p, true) {
        Some((canon, Node::File(f))) => {
            if !c.permits(&f.meta, W) {
                return Err(denied(p));
            }
            Ok(Effects {
                written: Some(canon),
                ..Effects::default()
            })
        }
        Some(_) => Ok(Effects::default()),
        None if create => match resolve(&root.node, p, true) {
            Ok(canon) => {
                let canon = canon.into_owned();
                may_change_parent(root, &canon, c)?;
                Ok(Effects::default().creates(canon))
            }
            Err(_) => Ok(Effects::default()),
        },
        None => Ok(Effects::default()),
    }
}

/// A new entry at `p` (`mkdir`, `symlink`, `mknod`, `link`): the directory's write and
/// search permission, unless something is there already (the operation's `EEXIST`).
fn may_create(root: &Root, p: &VPath, c: &Credentials) -> io::Result<Effects> {
    search(root, p, false, c)?;
    let Ok(canon) = resolve(&root.node, p, false) else {
        return Ok(Effects::default());
    };
    if node_at(&root.node, &canon).is_some() {
        return Ok(Effects::default());
    }
    let canon = canon.into_owned();
    may_change_parent(root, &canon, c)?;
    Ok(Effects::default().creates(canon))
}

/// Checks that `c` may run `op` on `root`, as Linux checks it; says what the operation must
/// also change (see [`Effects`]).
pub(crate) fn check(op: &Op, root: &Root, c: &Credentials) -> io::Result<Effects> {
    if c.is_root() {
        return Ok(Effects::default());
    }
    match op {
        Op::CreateDir(p) | Op::Symlink(_, p) | Op::Mknod(p, ..) => may_create(root, p, c),
        Op::CreateDirAll(p) => {
            let mut effects = Effects::default();
            let mut prefix = VPath::root();
            for name in p.names() {
                prefix = prefix.join(name.as_str());
                if target(root, &prefix, true).is_none() {
                    let e = may_create(root, &prefix, c)?;
                    effects.created.extend(e.created);
                    // What is below a directory not made yet is made by this user.
                    let mut rest = prefix.clone();
                    for name in &p.names()[prefix.names().len()..] {
                        rest = rest.join(name.as_str());
                        effects.created.push(rest.names().to_vec());
                    }
                    break;
                }
                search(root, &prefix, true, c)?;
            }
            Ok(effects)
        }
        Op::Write(p, _) | Op::Append(p, _) => may_write_file(root, p, true, c),
        Op::SetLen(p, _) => may_write_file(root, p, false, c),
        Op::Touch(p, _) => {
            search(root, p, true, c)?;
            match target(root, p, true) {
                // Times set to now: the owner, or anyone who may write it (`EACCES`).
                Some((_, n)) if !c.owns(n.meta()) && !c.permits(n.meta(), W) => Err(denied(p)),
                Some(_) => Ok(Effects::default()),
                None => may_write_file(root, p, true, c),
            }
        }
        Op::RemoveFile(p) | Op::RemoveDir(p) => {
            search(root, p, false, c)?;
            match target(root, p, false) {
                Some((canon, n)) => may_delete(root, &canon, n, c).map(|()| Effects::default()),
                None => Ok(Effects::default()),
            }
        }
        Op::RemoveDirAll(p) => {
            search(root, p, false, c)?;
            if let Some((canon, n)) = target(root, p, false) {
                may_delete(root, &canon, n, c)?;
                may_delete_tree(root, &canon, c)?;
            }
            Ok(Effects::default())
        }
        Op::Rename(from, to) => {
            search(root, from, false, c)?;
            search(root, to, false, c)?;
            let Some((src, node)) = target(root, from, false) else {
                return Ok(Effects::default());
            };
            may_delete(root, &src, node, c)?;
            match target(root, to, false) {
                Some((dst, old)) => may_delete(root, &dst, old, c)?,
                None => {
                    if let Ok(dst) = resolve(&root.node, to, false) {
                        may_change_parent(root, &dst, c)?;
                    }
                }
            }
            // A directory moved to another parent has its `..` rewritten: it must be writable.
            let dst_parent = resolve(&root.node, to, false)
                .ok()
                .map(|d| d[..d.len().saturating_sub(1)].to_vec());
            if node.is_dir()
                && dst_parent.is_some_and(|p| p.as_slice() != &src[..src.len() - 1])
                && !c.permits(node.meta(), W)
            {
                return Err(denied(from));
            }
            Ok(Effects::default())
        }
        Op::Copy(from, to) => {
            search(root, from, true, c)?;
            if let Some((_, n)) = target(root, from, true) {
                if !c.permits(n.meta(), R) {
                    return Err(denied(from));
                }
            }
            may_write_file(root, to, true, c)
        }
        Op::Link(from, to) => {
            search(root, from, false, c)?;
            let effects = may_create(root, to, c)?;
            if let Some((_, n)) = target(root, from, false) {
                // fs.protected_hardlinks (Linux's default): a user links only a file they
                // own, or a regular file they may read and write that is not set-id.
                let m = n.meta();
                // (Set-user-ID, or set-group-ID with group execute: what a write drops.)
                let setid = without_set_id(m.mode) != m.mode;
                let safe = matches!(n, Node::File(_)) && !setid && c.permits(m, R | W);
                if !c.owns(m) && !safe {
                    return Err(not_permitted(format!("a hard link to {from}")));
                }
            }
            // The link is a new name, not a new node: nothing to own.
            Ok(Effects {
                created: Vec::new(),
                ..effects
            })
        }
        Op::Chown(p, uid, gid, follow) => {
            search(root, p, *follow, c)?;
            let Some((_, n)) = target(root, p, *follow) else {
                return Ok(Effects::default());
            };
            let m = n.meta();
            // Only root gives a node away; the owner may change its group to one of theirs.
            if uid.is_some_and(|u| u != m.uid) || !c.owns(m) {
                return Err(not_permitted(format!("chown of {p}")));
            }
            if gid.is_some_and(|g| g != m.gid && !c.in_group(g)) {
                return Err(not_permitted(format!("chown of {p} to a group not yours")));
            }
            Ok(Effects::default())
        }
        Op::SetPermissions(p, mode) => {
            search(root, p, true, c)?;
            let Some((_, n)) = target(root, p, true) else {
                return Ok(Effects::default());
            };
            if !c.owns(n.meta()) {
                return Err(not_permitted(format!("chmod of {p}")));
            }
            // A user outside the file's group cannot make it set-group-ID: the bit is dropped.
            let instead = (mode & SETGID != 0 && !c.in_group(n.meta().gid))
                .then(|| Op::SetPermissions(p.clone(), mode & !SETGID));
            Ok(Effects {
                instead,
                ..Effects::default()
            })
        }
        Op::SetTimes(p, ..) => {
            search(root, p, true, c)?;
            match target(root, p, true) {
                Some((_, n)) if !c.owns(n.meta()) => {
                    Err(not_permitted(format!("setting the times of {p}")))
                }
                _ => Ok(Effects::default()),
            }
        }
        Op::SetUserMeta(p, _) => {
            search(root, p, true, c)?;
            match target(root, p, true) {
                Some((_, n)) if !c.permits(n.meta(), W) => Err(denied(p)),
                _ => Ok(Effects::default()),
            }
        }
    }
}

/// After `op` ran with `effects` by non-root `c`: its new nodes are `c`'s, and a file it wrote
/// loses its set-user-ID bit (and its set-group-ID bit when group execute is set), as a write
/// by a process without `CAP_FSETID` does on Linux.
pub(crate) fn apply_effects(root: &mut Root, effects: &Effects, c: &Credentials) -> io::Result<()> {
    for canon in &effects.created {
        if node_at(&root.node, canon).is_some() {
            crate::tree::ops::own_created(root, canon, c.uid, c.gid)?;
        }
    }
    if let Some(canon) = &effects.written {
        if let Some(n) = node_at(&root.node, canon) {
            // (Checked first: only a node that changes is copied.)
            if without_set_id(n.meta().mode) != n.meta().mode {
                crate::tree::ops::clear_set_id(crate::tree::ops::node_mut(root, canon)?);
            }
        }
    }
    Ok(())
}

/// `open(2)` of the file `p` for reading and/or writing (`create`: made if missing): read or
/// write permission on it, or for a new file the directory's write and search permission.
pub(crate) fn check_open(
    root: &Root,
    p: &VPath,
    read: bool,
    write: bool,
    create: bool,
    c: &Credentials,
) -> io::Result<Effects> {
    if c.is_root() {
        return Ok(Effects::default());
    }
    search(root, p, true, c)?;
    match target(root, p, true) {
        Some((canon, n)) => {
            let want = if read { R } else { 0 } | if write { W } else { 0 };
            if !c.permits(n.meta(), want) {
                return Err(denied(p));
            }
            Ok(Effects {
                written: write.then_some(canon),
                ..Effects::default()
            })
        }
        None if create => may_write_file(root, p, true, c),
        None => Ok(Effects::default()),
    }
}

/// What a read needs of the node it reads, besides search permission on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadNeed {
    /// Nothing (`stat`, `readlink`, `realpath`, `exists`).
    Search,
    /// Read permission on it (the bytes of a file, a directory's listing, user metadata).
    Read,
}

/// Checks that `c` may read `p` (`follow`ing a final symlink or not) as `need` says.
pub(crate) fn check_read(
    root: &Root,
    p: &VPath,
    follow: bool,
    need: ReadNeed,
    c: &Credentials,
) -> io::Result<()> {
    if c.is_root() {
        return Ok(());
    }
    search(root, p, follow, c)?;
    if need == ReadNeed::Read {
        if let Some((_, n)) = target(root, p, follow) {
            if !c.permits(n.meta(), R) {
                return Err(denied(p));
            }
        }
    }
    Ok(())
}

/// Refuses (`EPERM`) what reads or replaces the whole tree (restore, JSON loads and dumps, state
/// images, object-store exports) to credentials other than root's (`None`: root's handle).
pub(crate) fn check_whole_tree(c: Option<&Credentials>, what: &str) -> io::Result<()> {
    match c {
        Some(c) if c.uid() != 0 => Err(error::not_permitted(format!(
            "{what} reads or replaces the whole tree: only root may (this handle acts as uid {})",
            c.uid()
        ))),
        _ => Ok(()),
    }
}

/// Whether `c` may learn of a change at the canonical `path` (a diff's or a watcher's): as a
/// listing would show its name, the parent must be a directory `c` may list in `root`
/// (search permission on the way, read on it). `/` itself is always visible.
pub(crate) fn may_see_change(root: &Root, path: &str, c: &Credentials) -> bool {
    if c.is_root() {
        return true;
    }
    VPath::parse_str(path).is_ok_and(|p| {
        p.is_root() || check_read(root, &p.parent(), true, ReadNeed::Read, c).is_ok()
    })
}

/// What `cp -r` run by `c` needs of each node it copies (`MemFs::backup` as a user): read
/// permission on a regular file (its bytes), read and search on a directory (its listing and
/// what is below); nothing of a symlink or special file, which are copied as they are. `path`
/// names the node in the error.
pub(crate) fn check_copy(node: &Node, path: &str, c: &Credentials) -> io::Result<()> {
    let want = match node {
        Node::File(_) => R,
        Node::Dir(_) => R | X,
        Node::Symlink(_) | Node::Special(_) => return Ok(()),
    };
    if c.permits(node.meta(), want) {
        Ok(())
    } else {
        Err(denied(path))
    }
}

/// Whether `c` may list the directory `dir` (a walk leaves out what it may not list, as
/// `os.walk` does with a directory it cannot read).
pub(crate) fn may_list(meta: &Meta, c: &Credentials) -> bool {
    c.permits(meta, R | X)
}

/// A handle's credentials, shared by its clones.
pub(crate) type Cred = Option<Arc<Credentials>>;
