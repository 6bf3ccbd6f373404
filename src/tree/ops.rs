//! Every operation on a tree, as a function of a `Root` (reads) or a `&mut Root` (writes).
//!
//! These functions are the semantics of memfs: each checks what Linux checks, in the order
//! Linux checks it, so the `ErrorKind`s match a real filesystem. They never publish anything:
//! `MemFs` runs the write functions on a private copy of the root inside its commit loop, and
//! `Transaction` runs them on its own private root. A write function that returns `Err` may have
//! copied nodes of its private root, but the caller then throws that root away.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use super::links::{self, Links};
use super::node::without_set_id;
use super::node::{
    Dir, FileNode, Meta, Node, SpecialNode, SymlinkNode, UserMeta, DEFAULT_FILE_MODE,
    DEFAULT_SYMLINK_MODE, PERMISSION_BITS, SETGID,
};
use super::resolve::{dir_at, node_at, resolve, resolve_at};
use crate::blob::{BlobStore, Content};
use crate::error;
use crate::path::{Name, VPath};
use crate::sync::{AtomicU64, Ordering};

/// One published version of the whole tree.
#[derive(Clone)]
pub(crate) struct Root {
    /// Always a `Node::Dir`.
    pub node: Node,
    /// Incremented by every commit.
    pub generation: u64,
    /// The nodes with more than one link, and where they are.
    pub links: Links,
}

impl Root {
    pub(crate) fn empty() -> Self {
        Root::new(Node::Dir(Arc::new(Dir::new(1))), 0)
    }

    /// A root with this tree, which has no hard links (or whose links are found by
    /// [`links::rebuild`]).
    pub(crate) fn new(node: Node, generation: u64) -> Self {
        Root {
            node,
            generation,
            links: Links::default(),
        }
    }
}

/// What a write needs besides the tree: the chunk store, the inode counter, and the
/// credentials it runs with (`None`: as root, unchecked; see `access.rs`).
#[derive(Clone, Copy)]
pub(crate) struct WriteCtx<'a> {
    pub store: &'a BlobStore,
    pub inos: &'a AtomicU64,
    pub cred: Option<&'a Arc<crate::access::Credentials>>,
}

impl WriteCtx<'_> {
    pub(crate) fn next_ino(&self) -> u64 {
        self.inos.fetch_add(1, Ordering::Relaxed)
    }
}

/// How a write opens its file (the subset of `open(2)` flags that matter to the tree).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Create {
    /// The file must exist.
    No,
    /// Create it if missing (`O_CREAT`).
    IfMissing,
    /// It must not exist (`O_CREAT | O_EXCL`).
    New,
}

/// The directory at a canonical path, made private (copied if shared) for mutation.
pub(crate) fn dir_mut<'a>(root: &'a mut Root, canon: &[Name]) -> io::Result<&'a mut Dir> {
    dir_mut_in(&mut root.node, canon)
}

fn dir_mut_in<'a>(tree: &'a mut Node, canon: &[Name]) -> io::Result<&'a mut Dir> {
    let mut cur = tree;
    for name in canon {
        match cur {
            Node::Dir(d) => {
                cur = Arc::make_mut(d)
                    .child_mut(name)?
                    .ok_or_else(|| error::not_found(super::resolve::display(canon)))?;
            }
            _ => return Err(error::not_a_directory(super::resolve::display(canon))),
        }
    }
    match cur {
        Node::Dir(d) => Ok(Arc::make_mut(d)),
        _ => Err(error::not_a_directory(super::resolve::display(canon))),
    }
}

/// The node at a canonical path, made private for mutation. A node with more than one link is
/// noted as changed, so that [`links::sync`] copies it to its other links.
pub(crate) fn node_mut<'a>(root: &'a mut Root, canon: &[Name]) -> io::Result<&'a mut Node> {
    let Some((last, parent)) = canon.split_last() else {
        return Ok(&mut root.node);
    };
    let Root { node, links, .. } = root;
    let node = dir_mut_in(node, parent)?
        .child_mut(last)?
        .ok_or_else(|| error::not_found(super::resolve::display(canon)))?;
    if node.meta().nlink > 1 {
        links.note_change(canon);
    }
    Ok(node)
}

/// Puts `node` at `canon` (whose parent exists) in place of what is there, changing nothing
/// else (no timestamp): how [`links`] keeps a node's links the same.
pub(crate) fn replace_entry(root: &mut Root, canon: &[Name], node: Node) -> io::Result<()> {
    let (parent, last) = split(canon)?;
    dir_mut(root, parent)?.insert_child(last.clone(), node)?;
    Ok(())
}

/// `(parent, last name)` of a canonical path. The root has neither: a path that resolves to it
/// through a symlink (`/link-to-root/`) cannot be removed, renamed or replaced (`EBUSY`, as
/// Linux answers for `/`).
fn split(canon: &[Name]) -> io::Result<(&[Name], &Name)> {
    let (last, parent) = canon
        .split_last()
        .ok_or_else(|| error::busy("/ (reached through a symlink)"))?;
    Ok((parent, last))
}

/// Inserts `node` as `canon` (whose parent exists), touching the parent's mtime.
pub(crate) fn insert(root: &mut Root, canon: &[Name], node: Node) -> io::Result<()> {
    let (parent, last) = split(canon)?;
    insert_into(dir_mut(root, parent)?, last, node, SystemTime::now())
}

/// Puts `node` in `dir` as `name`, setting `dir`'s mtime and ctime to `now`.
fn insert_into(dir: &mut Dir, name: &Name, node: Node, now: SystemTime) -> io::Result<()> {
    dir.insert_child(name.clone(), node)?;
    dir.meta.touch_at(now);
    Ok(())
}

/// [`insert`] for a node just created: as on Linux, in a set-group-ID directory it takes the
/// directory's group, and a new directory there is set-group-ID too; and the directory's mtime
/// and ctime become the new node's ctime (one clock read for both, as Linux stamps them).
pub(crate) fn insert_new(root: &mut Root, canon: &[Name], mut node: Node) -> io::Result<()> {
    let (parent, last) = split(canon)?;
    let dir = dir_mut(root, parent)?;
    if dir.meta.mode & SETGID != 0 {
        let gid = dir.meta.gid;
        let is_dir = node.is_dir();
        let m = node.meta_mut();
        m.gid = gid;
        if is_dir {
            m.mode |= SETGID;
        }
    }
    let now = node.meta().changed;
    insert_into(dir, last, node, now)
}

/// Gives the node just created at `canon` the owner `uid` and group `gid` of the process that
/// made it (a mount's request); the group stays the directory's in a set-group-ID directory.
pub(crate) fn own_created(root: &mut Root, canon: &[Name], uid: u32, gid: u32) -> io::Result<()> {
    let (parent, _) = split(canon)?;
    let inherit = dir_mut(root, parent)?.meta.mode & SETGID != 0;
    let m = node_mut(root, canon)?.meta_mut();
    m.uid = uid;
    if !inherit {
        m.gid = gid;
    }
    Ok(())
}

/// `chown(2)` (follow) / `lchown(2)`: `None` leaves that id as it is. As on Linux, every chown of
/// a non-directory (even one that changes no id) clears its set-user-ID bit, and its
/// set-group-ID bit when group execute is set; ctime is updated.
pub(crate) fn chown(
    root: &mut Root,
    path: &VPath,
    uid: Option<u32>,
    gid: Option<u32>,
    follow: bool,
) -> io::Result<()> {
    let canon = resolve(&root.node, path, follow)?.into_owned();
    if node_at(&root.node, &canon).is_none() {
        return Err(error::not_found(path));
    }
    // Not `set_attrs`: a chown that changes no id still clears the set-id bits.
    let node = node_mut(root, &canon)?;
    let is_dir = node.is_dir();
    let m = node.meta_mut();
    m.chown(uid, gid, is_dir);
    m.changed = SystemTime::now();
    Ok(())
}

/// Removes the entry `canon`, touching the parent's mtime; returns it.
pub(crate) fn detach(root: &mut Root, canon: &[Name]) -> io::Result<Node> {
    let (parent, last) = split(canon)?;
    let dir = dir_mut(root, parent)?;
    let node = dir
        .remove_child(last)?
        .ok_or_else(|| error::not_found(super::resolve::display(canon)))?;
    dir.meta.touch();
    Ok(node)
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Where the regular file with inode number `ino`, opened as `path`, is now: `path` itself if
/// it still names it (the common case, one lookup), else wherever a walk of the tree finds it
/// (renamed, or its directory moved), else `None` (removed).
pub(crate) fn path_of_file(root: &Root, path: &VPath, ino: u64) -> io::Result<Option<VPath>> {
    if let Ok((_, Some(Node::File(f)))) = resolve_at(&root.node, path, true) {
        if f.meta.ino == ino {
            return Ok(Some(path.clone()));
        }
    }
    if let Some(paths) = root.links.paths_of(ino) {
        // Unlinked as `path`, or moved, with other links left: any of them is the file.
        return paths
            .first()
            .map(|p| VPath::parse_str(&super::resolve::display(p)))
            .transpose();
    }
    let mut stack: Vec<(String, &Node)> = vec![(String::from("/"), &root.node)];
    while let Some((p, node)) = stack.pop() {
        match node {
            Node::File(f) if f.meta.ino == ino => return VPath::parse_str(&p).map(Some),
            Node::Dir(d) => {
                for (name, child) in d.children()?.iter() {
                    stack.push((crate::path::join_str(&p, name), child));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// `stat` (follow = true) or `lstat` (follow = false).
pub(crate) fn stat(root: &Root, path: &VPath, follow: bool) -> io::Result<Node> {
    stat_ref(root, path, follow).cloned()
}

/// [`stat`] without taking a reference to the node.
pub(crate) fn stat_ref<'r>(root: &'r Root, path: &VPath, follow: bool) -> io::Result<&'r Node> {
    let (_, node) = resolve_at(&root.node, path, follow)?;
    let node = node.ok_or_else(|| error::not_found(path))?;
    if path.must_be_dir() && !node.is_dir() {
        return Err(error::not_a_directory(path));
    }
    Ok(node)
}

/// The regular file at `path` (followed), as `open(O_RDONLY)` sees it.
pub(crate) fn file_ref<'r>(root: &'r Root, path: &VPath) -> io::Result<&'r FileNode> {
    file_at(root, path).map(|(_, f)| f)
}

/// [`file_ref`], with the node that holds the file (for its [`crate::Metadata`]).
pub(crate) fn file_at<'r>(root: &'r Root, path: &VPath) -> io::Result<(&'r Node, &'r FileNode)> {
    let node = stat_ref(root, path, true)?;
    match node {
        Node::File(f) => Ok((node, f)),
        Node::Dir(_) => Err(error::is_a_directory(path)),
        Node::Symlink(_) => Err(error::not_found(path)),
        Node::Special(_) => Err(error::special_file(path)),
    }
}

/// The content of a regular file, as `open(O_RDONLY)` + `read` sees it.
pub(crate) fn file_content(root: &Root, path: &VPath) -> io::Result<(Content, Meta)> {
    file_ref(root, path).map(|f| (f.content.clone(), f.meta.clone()))
}

/// The directory at `path` (followed), for listing.
pub(crate) fn list_dir(root: &Root, path: &VPath) -> io::Result<(Arc<Dir>, String)> {
    let (canon, node) = resolve_at(&root.node, path, true)?;
    match node {
        None => Err(error::not_found(path)),
        Some(Node::Dir(d)) => Ok((d.clone(), super::resolve::display(&canon))),
        Some(_) => Err(error::not_a_directory(path)),
    }
}

/// `readlink`.
pub(crate) fn read_link(root: &Root, path: &VPath) -> io::Result<String> {
    match stat(root, path, false)? {
        Node::Symlink(s) => Ok(s.target.clone()),
        _ => Err(error::invalid_input(format!("not a symbolic link: {path}"))),
    }
}

/// The canonical text path of `path` (all symlinks followed); it must exist.
pub(crate) fn canonicalize(root: &Root, path: &VPath) -> io::Result<String> {
    let (canon, node) = resolve_at(&root.node, path, true)?;
    let node = node.ok_or_else(|| error::not_found(path))?;
    if path.must_be_dir() && !node.is_dir() {
        // realpath("/file/") is ENOTDIR, like stat.
        return Err(error::not_a_directory(path));
    }
    Ok(super::resolve::display(&canon))
}

// ---------------------------------------------------------------------------------------------
// Writes

/// `mkdir`.
pub(crate) fn create_dir(root: &mut Root, ctx: &WriteCtx, path: &VPath) -> io::Result<()> {
    if path.is_root() {
        return Err(error::already_exists(path));
    }
    let (canon, existing) = resolve_at(&root.node, path, false)?;
    if existing.is_some() {
        return Err(error::already_exists(path));
    }
    insert_new(root, &canon, Node::Dir(Arc::new(Dir::new(ctx.next_ino()))))
}

/// `create_dir_all`, with exactly `std::fs::create_dir_all`'s algorithm: try `mkdir`; if the
/// parent is missing, create it first and try again; an error is forgiven only if a directory
/// is there in the end.
pub(crate) fn create_dir_all(root: &mut Root, ctx: &WriteCtx, path: &VPath) -> io::Result<()> {
    if path.is_root() {
        return Ok(());
    }
    let is_dir = |root: &Root| matches!(stat(root, path, true), Ok(Node::Dir(_)));
    match create_dir(root, ctx, path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) if is_dir(root) => return Ok(()),
        Err(e) => return Err(e),
    }
    create_dir_all(root, ctx, &path.parent())?;
    match create_dir(root, ctx, path) {
        Ok(()) => Ok(()),
        Err(_) if is_dir(root) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The canonical path an `open` resolved to, and the file already there, if any.
type OpenTarget<'p> = (Cow<'p, [Name]>, Option<Arc<FileNode>>);

/// Resolves `path` for an `open` that may write, checking the Linux rules; returns the
/// canonical path and the existing file, if any.
fn open_for_write<'p>(root: &Root, path: &'p VPath, create: Create) -> io::Result<OpenTarget<'p>> {
    if path.is_root() {
        return Err(if create == Create::New {
            error::already_exists(path)
        } else {
            error::is_a_directory(path)
        });
    }
    let follow = create != Create::New;
    let (canon, node) = resolve_at(&root.node, path, follow)?;
    match node {
        Some(_) if create == Create::New => Err(error::already_exists(path)),
        Some(Node::Dir(_)) => Err(error::is_a_directory(path)),
        Some(Node::Special(_)) if path.must_be_dir() => Err(error::not_a_directory(path)),
        Some(Node::Special(_)) => Err(error::special_file(path)),
        Some(Node::File(_)) if path.must_be_dir() => Err(if create == Create::No {
            error::not_a_directory(path)
        } else {
            error::is_a_directory(path)
        }),
        Some(Node::File(f)) => {
            let f = f.clone();
            Ok((canon, Some(f)))
        }
        // A symlink still here after following: a loop would have errored, so it is dangling
        // (not followed because O_EXCL) - covered above. Treat like missing.
        Some(Node::Symlink(_)) | None => {
            if create == Create::No {
                Err(error::not_found(path))
            } else if path.must_be_dir() {
                Err(error::is_a_directory(path))
            } else {
                Ok((canon, None))
            }
        }
    }
}

/// Checks that `path` can be opened with these flags, without changing anything (the check
/// `File` handles do at open time). Returns the current content if the file exists.
pub(crate) fn check_open_write(
    root: &Root,
    path: &VPath,
    create: Create,
) -> io::Result<Option<Arc<FileNode>>> {
    open_for_write(root, path, create).map(|(_, f)| f)
}

/// How a write changes the file's bytes.
#[derive(Clone)]
pub(crate) enum WriteData<'a> {
    /// Replace everything (`O_TRUNC` + write).
    Replace(Content),
    /// Append these bytes at the end (`O_APPEND`).
    Append(&'a [u8]),
    /// Set the length, zero-filling (`ftruncate`).
    SetLen(u64),
}

/// Opens `path` with `create` and applies `data`; returns the new length.
pub(crate) fn write_file(
    root: &mut Root,
    ctx: &WriteCtx,
    path: &VPath,
    create: Create,
    data: WriteData,
) -> io::Result<u64> {
    let (canon, existing) = open_for_write(root, path, create)?;
    let old = existing
        .as_ref()
        .map(|f| f.content.clone())
        .unwrap_or_default();
    let content = match data {
        WriteData::Replace(c) => c,
        WriteData::Append([]) => old,
        WriteData::Append(bytes) => old.appended(ctx.store, bytes)?,
        WriteData::SetLen(len) => old.resized(ctx.store, len)?,
    };
    let len = content.len();
    match existing {
        Some(_) => set_content(node_mut(root, &canon)?, content)?,
        None => {
            let node = FileNode {
                content,
                meta: Meta::new(ctx.next_ino(), DEFAULT_FILE_MODE),
            };
            insert_new(root, &canon, Node::File(Arc::new(node)))?;
        }
    }
    Ok(len)
}

/// `unlink`.
pub(crate) fn remove_file(root: &mut Root, path: &VPath) -> io::Result<()> {
    if path.is_root() {
        return Err(error::is_a_directory(path));
    }
    let (canon, node) = resolve_at(&root.node, path, false)?;
    match node {
        None => Err(error::not_found(path)),
        Some(Node::Dir(_)) => Err(error::is_a_directory(path)),
        Some(_) if path.must_be_dir() => Err(error::not_a_directory(path)),
        Some(_) => {
            let node = detach(root, &canon)?;
            links::unlinked(root, &canon, &node)
        }
    }
}

/// `rmdir`.
pub(crate) fn remove_dir(root: &mut Root, path: &VPath) -> io::Result<()> {
    if path.is_root() {
        return Err(error::busy(path));
    }
    let (canon, node) = resolve_at(&root.node, path, false)?;
    match node {
        None => Err(error::not_found(path)),
        Some(Node::Dir(d)) if !d.children()?.is_empty() => Err(error::not_empty(path)),
        Some(Node::Dir(_)) => detach(root, &canon).map(drop),
        Some(_) => Err(error::not_a_directory(path)),
    }
}

/// `std::fs::remove_dir_all`: a symlink is removed itself; a file is `NotADirectory`.
pub(crate) fn remove_dir_all(root: &mut Root, path: &VPath) -> io::Result<()> {
    match stat(root, path, false)? {
        Node::Symlink(_) => remove_file(root, path),
        Node::File(_) | Node::Special(_) => Err(error::not_a_directory(path)),
        Node::Dir(_) if path.is_root() => Err(error::busy(path)),
        Node::Dir(_) => {
            let canon = resolve(&root.node, path, false)?.into_owned();
            detach(root, &canon)?;
            links::subtree_removed(root, &canon)
        }
    }
}

/// `rename(2)`, with Linux's checks in Linux's order.
pub(crate) fn rename(root: &mut Root, from: &VPath, to: &VPath) -> io::Result<()> {
    if from.is_root() {
        return Err(error::busy(from));
    }
    if to.is_root() {
        return Err(error::busy(to));
    }
    let src = resolve(&root.node, from, false)?.into_owned();
    let dst = resolve(&root.node, to, false)?.into_owned();
    let src_node = node_at(&root.node, &src).ok_or_else(|| error::not_found(from))?;
    if !src_node.is_dir() && (from.must_be_dir() || to.must_be_dir()) {
        return Err(error::not_a_directory(if from.must_be_dir() {
            from
        } else {
            to
        }));
    }
    if dst.len() > src.len() && dst.starts_with(&src) {
        return Err(error::invalid_input(format!(
            "cannot move {from} into its own subdirectory {to}"
        )));
    }
    if src.len() > dst.len() && src.starts_with(&dst) {
        return Err(error::not_empty(to));
    }
    if src == dst {
        return Ok(());
    }
    let replaced = node_at(&root.node, &dst).cloned();
    if let Some(dst_node) = &replaced {
        match (src_node, dst_node) {
            (Node::Dir(_), Node::Dir(d)) if !d.children()?.is_empty() => {
                return Err(error::not_empty(to))
            }
            (Node::Dir(_), Node::Dir(_)) => {}
            (Node::Dir(_), _) => return Err(error::not_a_directory(to)),
            (_, Node::Dir(_)) => return Err(error::is_a_directory(to)),
            // Two links of one node: rename(2) does nothing and succeeds.
            (a, b) if a.meta().ino == b.meta().ino => return Ok(()),
            _ => {}
        }
    }
    let mut node = detach(root, &src)?;
    if let Some(old) = &replaced {
        links::unlinked(root, &dst, old)?;
    }
    links::moved(root, &src, &dst);
    node.meta_mut().changed = SystemTime::now();
    let linked = node.meta().nlink > 1;
    insert(root, &dst, node)?;
    if linked {
        root.links.note_change(&dst);
    }
    Ok(())
}

/// `renameat2(RENAME_EXCHANGE)`: the nodes at `a` and `b` (both must exist) trade places; a
/// directory cannot trade with its own descendant (`EINVAL`).
#[cfg_attr(not(feature = "fuse"), allow(dead_code))] // used by the FUSE layer
pub(crate) fn exchange(root: &mut Root, a: &VPath, b: &VPath) -> io::Result<()> {
    stat(root, a, false)?;
    stat(root, b, false)?;
    if a.starts_with(b) || b.starts_with(a) {
        if a == b {
            return Ok(());
        }
        return Err(error::invalid_input(
            "cannot exchange a directory with its own descendant",
        ));
    }
    let na = detach(root, a.names())?;
    let nb = detach(root, b.names())?;
    insert(root, a.names(), nb)?;
    insert(root, b.names(), na)?;
    links::exchanged(root, a.names(), b.names());
    Ok(())
}

/// `link(2)`: `to` becomes one more name of the node at `from` (not followed, as Linux's
/// `link` does not follow it). As Linux checks: `from` must exist, `to` must not (`EEXIST`,
/// then `ENOENT` for a trailing `/`), and a directory cannot be linked (`EPERM`).
pub(crate) fn link(root: &mut Root, from: &VPath, to: &VPath) -> io::Result<()> {
    let src = resolve(&root.node, from, false)?.into_owned();
    let node = node_at(&root.node, &src)
        .ok_or_else(|| error::not_found(from))?
        .clone();
    if from.must_be_dir() && !node.is_dir() {
        return Err(error::not_a_directory(from));
    }
    let dst = new_name(root, to)?;
    if node.is_dir() {
        return Err(error::not_permitted(format!(
            "cannot make a hard link to a directory: {from}"
        )));
    }
    if node.meta().nlink == u32::MAX {
        return Err(error::too_many_hard_links(from));
    }
    insert(root, &dst, node)?;
    links::link(root, &src, &dst)
}

/// `std::fs::copy`: the destination gets the source's bytes (shared, not copied), permissions
/// and user metadata; returns the number of bytes.
pub(crate) fn copy(root: &mut Root, ctx: &WriteCtx, from: &VPath, to: &VPath) -> io::Result<u64> {
    let src = match stat(root, from, true)? {
        Node::File(f) => f,
        _ => {
            return Err(error::invalid_input(format!(
                "the source path is neither a regular file nor a symlink to a regular file: {from}"
            )))
        }
    };
    let (canon, existing) = open_for_write(root, to, Create::IfMissing)?;
    let canon = canon.into_owned();
    if let Some(dst) = &existing {
        if Arc::ptr_eq(dst, &src) {
            // Like std::fs::copy onto itself: the open with O_TRUNC empties the file first.
            write_file(
                root,
                ctx,
                to,
                Create::IfMissing,
                WriteData::Replace(Content::default()),
            )?;
            return Ok(0);
        }
    }
    let len = src.content.len();
    match existing {
        Some(_) => {
            if let Node::File(f) = node_mut(root, &canon)? {
                let f = Arc::make_mut(f);
                f.content = src.content.clone();
                f.meta.mode = src.meta.mode;
                f.meta.user = src.meta.user.clone();
                f.meta.touch();
            }
        }
        None => {
            let mut meta = Meta::new(ctx.next_ino(), src.meta.mode);
            meta.user = src.meta.user.clone();
            let node = FileNode {
                content: src.content.clone(),
                meta,
            };
            insert_new(root, &canon, Node::File(Arc::new(node)))?;
        }
    }
    Ok(len)
}

/// `chmod`.
pub(crate) fn set_permissions(root: &mut Root, path: &VPath, mode: u32) -> io::Result<()> {
    let canon = resolve(&root.node, path, true)?.into_owned();
    if node_at(&root.node, &canon).is_none() {
        return Err(error::not_found(path));
    }
    let attrs = Attrs {
        mode: Some(mode),
        ..Attrs::default()
    };
    set_attrs(node_mut(root, &canon)?, &attrs);
    Ok(())
}

/// `utimensat`: `None` leaves a time unchanged.
pub(crate) fn set_times(
    root: &mut Root,
    path: &VPath,
    accessed: Option<SystemTime>,
    modified: Option<SystemTime>,
) -> io::Result<()> {
    let canon = resolve(&root.node, path, true)?.into_owned();
    if node_at(&root.node, &canon).is_none() {
        return Err(error::not_found(path));
    }
    let attrs = Attrs {
        accessed,
        modified,
        ..Attrs::default()
    };
    set_attrs(node_mut(root, &canon)?, &attrs);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Changes to one node, for the callers that find it themselves (the FUSE layer, by inode): the
// rules the path operations above use, written once.

/// What a `setattr` changes (`None`: left as it is).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Attrs {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub accessed: Option<SystemTime>,
    pub modified: Option<SystemTime>,
}

/// Applies `a` to `node` in `chown`, `chmod`, `utimensat` order (a mode sent with a chown is
/// applied after the chown's set-id clearing), and updates its ctime.
pub(crate) fn set_attrs(node: &mut Node, a: &Attrs) {
    let is_dir = node.is_dir();
    let m = node.meta_mut();
    if a.uid.is_some() || a.gid.is_some() {
        m.chown(a.uid, a.gid, is_dir);
    }
    if let Some(mode) = a.mode {
        m.mode = mode & PERMISSION_BITS;
    }
    if let Some(t) = a.accessed {
        m.accessed = t;
    }
    if let Some(t) = a.modified {
        m.modified = t;
    }
    m.changed = SystemTime::now();
}

/// Gives the regular file `node` new bytes (mtime and ctime now).
pub(crate) fn set_content(node: &mut Node, content: Content) -> io::Result<()> {
    match node {
        Node::File(f) => {
            let f = Arc::make_mut(f);
            f.content = content;
            f.meta.touch();
            Ok(())
        }
        Node::Dir(_) => Err(error::is_a_directory("(a directory has no bytes)")),
        _ => Err(error::invalid_input("not a regular file")),
    }
}

/// What a write by a process without `CAP_FSETID` does to a file's mode: the set-user-ID bit
/// goes, and the set-group-ID bit when group execute is set (ctime changes if a bit went).
pub(crate) fn clear_set_id(node: &mut Node) {
    let mode = without_set_id(node.meta().mode);
    if mode != node.meta().mode {
        let m = node.meta_mut();
        m.mode = mode;
        m.changed = SystemTime::now();
    }
}

/// `setxattr`/`removexattr` of one user-metadata key (`value` `None`: remove it), with
/// `XATTR_CREATE` (`only_new`: `EEXIST` if it is there) and `XATTR_REPLACE` (`only_existing`:
/// `ENODATA` if it is not). Symlinks take none (`EPERM`, as Linux's user namespace).
#[cfg_attr(not(feature = "fuse"), allow(dead_code))] // used by the FUSE layer (xattrs)
pub(crate) fn set_user_key(
    node: &mut Node,
    key: &str,
    value: Option<&str>,
    only_new: bool,
    only_existing: bool,
) -> io::Result<()> {
    if matches!(node, Node::Symlink(_)) {
        return Err(error::not_permitted("no user xattrs on symlinks"));
    }
    let m = node.meta_mut();
    let mut map = m.user.as_deref().cloned().unwrap_or_default();
    let exists = map.contains_key(key);
    match value {
        Some(_) if exists && only_new => {
            return Err(error::already_exists(format!("xattr user.{key}")))
        }
        _ if !exists && (value.is_none() || only_existing) => {
            return Err(error::with_errno(
                error::libc_errno::ENODATA,
                format!("no xattr user.{key}"),
            ))
        }
        Some(v) => {
            map.insert(key.to_string(), v.to_string());
        }
        None => {
            map.remove(key);
        }
    }
    m.user = (!map.is_empty()).then(|| Arc::new(map));
    m.changed = SystemTime::now();
    Ok(())
}

/// `touch(1)`: sets the access and modification times of `path` to `now`, or creates it as an
/// empty file if it does not exist (through a dangling symlink too, as `open(O_CREAT)` does).
pub(crate) fn touch(
    root: &mut Root,
    ctx: &WriteCtx,
    path: &VPath,
    now: SystemTime,
) -> io::Result<()> {
    match set_times(root, path, Some(now), Some(now)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_file(root, ctx, path, Create::IfMissing, WriteData::Append(&[])).map(drop)
        }
        r => r,
    }
}

/// Replaces the user metadata of `path` (`None` clears it).
pub(crate) fn set_user_meta(
    root: &mut Root,
    path: &VPath,
    user: Option<UserMeta>,
) -> io::Result<()> {
    let canon = resolve(&root.node, path, true)?.into_owned();
    if node_at(&root.node, &canon).is_none() {
        return Err(error::not_found(path));
    }
    let meta = node_mut(root, &canon)?.meta_mut();
    meta.user = user;
    meta.changed = SystemTime::now();
    Ok(())
}

/// `mknod(2)`/`mkfifo(3)`: a special file at `path` (whose parent exists), as symlink
/// creation checks it.
pub(crate) fn mknod(
    root: &mut Root,
    ctx: &WriteCtx,
    path: &VPath,
    kind: crate::FileType,
    mode: u32,
    rdev: u64,
) -> io::Result<()> {
    let canon = new_name(root, path)?;
    let node = SpecialNode {
        kind,
        rdev,
        meta: Meta::new(ctx.next_ino(), mode),
    };
    insert_new(root, &canon, Node::Special(Arc::new(node)))
}

/// The canonical path of a node `symlink`/`mknod` are about to make at `path`, checked as
/// Linux checks it: not `/` and not existing (`EEXIST`, also for a dangling symlink there),
/// no trailing `/` (`ENOENT`).
fn new_name(root: &Root, path: &VPath) -> io::Result<Vec<Name>> {
    if path.is_root() {
        return Err(error::already_exists(path));
    }
    let canon = resolve(&root.node, path, false)?.into_owned();
    if node_at(&root.node, &canon).is_some() {
        return Err(error::already_exists(path));
    }
    if path.must_be_dir() {
        return Err(error::not_found(path));
    }
    Ok(canon)
}

/// `symlink(target, path)`.
pub(crate) fn symlink(
    root: &mut Root,
    ctx: &WriteCtx,
    target: &str,
    path: &VPath,
) -> io::Result<()> {
    if path.is_root() {
        return Err(error::already_exists(path));
    }
    if target.is_empty() {
        return Err(error::not_found("(empty symlink target)"));
    }
    if target.as_bytes().contains(&0) {
        return Err(error::invalid_input("symlink target contains a NUL byte"));
    }
    let canon = new_name(root, path)?;
    let node = SymlinkNode {
        target: target.to_string(),
        meta: Meta::new(ctx.next_ino(), DEFAULT_SYMLINK_MODE),
    };
    insert_new(root, &canon, Node::Symlink(Arc::new(node)))
}

/// Whether a directory exists at `canon` (used by transactions and import code).
#[allow(dead_code)] // for persistence, transactions and tools
pub(crate) fn is_dir_at(root: &Root, canon: &[Name]) -> bool {
    dir_at(&root.node, canon).is_some()
}
