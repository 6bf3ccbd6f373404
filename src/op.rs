//! The write operations of the engine, as data.
//!
//! An [`Op`] is one change a `MemFs`, a `Transaction` or a batch can make, built from the
//! caller's arguments by its constructor (which parses and checks the paths and, for a write,
//! hashes and stores the bytes, in the caller's thread, before anything is locked) and applied
//! to a root by [`Op::apply`] (the `tree::ops` function that is its semantics). `MemFs` applies
//! an `Op` through the commit protocol (`commit.rs`); a `Transaction` applies it to its private
//! root and logs it for replay. Each rule (what a path must be, what a symlink target may hold,
//! which paths a transaction depends on) is written here once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::access::{self, Credentials};
use crate::blob::{BlobStore, Content};
use crate::commit::OnError;
use crate::error;
use crate::path::VPath;
use crate::tree::links;
use crate::tree::node::UserMeta;
use crate::tree::ops::{self, Create, Root, WriteCtx, WriteData};
use crate::view::Access;
use crate::FileType;

/// One write, replayable on any root.
#[derive(Clone)]
pub(crate) enum Op<'a> {
    CreateDir(VPath),
    CreateDirAll(VPath),
    Write(VPath, Content),
    Append(VPath, Cow<'a, [u8]>),
    SetLen(VPath, u64),
    RemoveFile(VPath),
    RemoveDir(VPath),
    RemoveDirAll(VPath),
    Rename(VPath, VPath),
    /// `link(2)`: the existing path, the new name.
    Link(VPath, VPath),
    Copy(VPath, VPath),
    Symlink(String, VPath),
    Mknod(VPath, FileType, u32, u64),
    /// Owner, group, and whether a final symlink is followed (`chown`) or not (`lchown`).
    Chown(VPath, Option<u32>, Option<u32>, bool),
    SetPermissions(VPath, u32),
    SetTimes(VPath, Option<SystemTime>, Option<SystemTime>),
    Touch(VPath, SystemTime),
    SetUserMeta(VPath, Option<UserMeta>),
}

/// Constructors: the argument rules of the public write API.
impl<'a> Op<'a> {
    pub(crate) fn create_dir(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::CreateDir(VPath::parse(p)?))
    }

    pub(crate) fn create_dir_all(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::CreateDirAll(VPath::parse(p)?))
    }

    /// Hashes and stores `data` now: the bytes are ready before the commit.
    pub(crate) fn write(store: &BlobStore, p: impl AsRef<Path>, data: &[u8]) -> io::Result<Self> {
        let p = VPath::parse(p)?;
        Ok(Op::Write(p, Content::from_bytes(store, data)))
    }

    pub(crate) fn append(p: impl AsRef<Path>, data: &'a [u8]) -> io::Result<Self> {
        Ok(Op::Append(VPath::parse(p)?, Cow::Borrowed(data)))
    }

    pub(crate) fn set_len(p: impl AsRef<Path>, len: u64) -> io::Result<Self> {
        Ok(Op::SetLen(VPath::parse(p)?, len))
    }

    pub(crate) fn remove_file(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::RemoveFile(VPath::parse(p)?))
    }

    pub(crate) fn remove_dir(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::RemoveDir(VPath::parse(p)?))
    }

    pub(crate) fn remove_dir_all(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::RemoveDirAll(VPath::parse(p)?))
    }

    pub(crate) fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::Rename(VPath::parse(from)?, VPath::parse(to)?))
    }

    pub(crate) fn link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::Link(VPath::parse(original)?, VPath::parse(link)?))
    }

    pub(crate) fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::Copy(VPath::parse(from)?, VPath::parse(to)?))
    }

    pub(crate) fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<Self> {
        let target = target
            .as_ref()
            .to_str()
            .ok_or_else(|| error::invalid_input("symlink target is not valid UTF-8"))?
            .to_string();
        Ok(Op::Symlink(target, VPath::parse(link)?))
    }

    /// `mknod(2)`: `kind` one of the special file types (`InvalidInput` for any other).
    pub(crate) fn mknod(
        p: impl AsRef<Path>,
        kind: FileType,
        mode: u32,
        rdev: u64,
    ) -> io::Result<Self> {
        if !kind.is_special() {
            return Err(error::invalid_input(format!(
                "mknod makes FIFOs, sockets and device nodes, not {kind:?}"
            )));
        }
        let rdev = if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
            rdev
        } else {
            0
        };
        Ok(Op::Mknod(
            VPath::parse(p)?,
            kind,
            mode & crate::tree::node::PERMISSION_BITS,
            rdev,
        ))
    }

    pub(crate) fn chown(
        p: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> io::Result<Self> {
        Ok(Op::Chown(VPath::parse(p)?, uid, gid, follow))
    }

    pub(crate) fn set_permissions(p: impl AsRef<Path>, mode: u32) -> io::Result<Self> {
        Ok(Op::SetPermissions(VPath::parse(p)?, mode))
    }

    pub(crate) fn set_times(
        p: impl AsRef<Path>,
        accessed: Option<SystemTime>,
        modified: Option<SystemTime>,
    ) -> io::Result<Self> {
        Ok(Op::SetTimes(VPath::parse(p)?, accessed, modified))
    }

    /// Both times are the same instant, taken now.
    pub(crate) fn touch(p: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Op::Touch(VPath::parse(p)?, SystemTime::now()))
    }

    /// An empty map clears the user metadata.
    pub(crate) fn set_metadata(
        p: impl AsRef<Path>,
        meta: BTreeMap<String, String>,
    ) -> io::Result<Self> {
        let user = (!meta.is_empty()).then(|| Arc::new(meta));
        Ok(Op::SetUserMeta(VPath::parse(p)?, user))
    }

    /// The same operation, owning its bytes (for a transaction's log).
    pub(crate) fn into_owned(self) -> Op<'static> {
        match self {
            Op::Append(p, bytes) => Op::Append(p, Cow::Owned(bytes.into_owned())),
            Op::CreateDir(p) => Op::CreateDir(p),
            Op::CreateDirAll(p) => Op::CreateDirAll(p),
            Op::Write(p, c) => Op::Write(p, c),
            Op::SetLen(p, n) => Op::SetLen(p, n),
            Op::RemoveFile(p) => Op::RemoveFile(p),
            Op::RemoveDir(p) => Op::RemoveDir(p),
            Op::RemoveDirAll(p) => Op::RemoveDirAll(p),
            Op::Rename(a, b) => Op::Rename(a, b),
            Op::Link(a, b) => Op::Link(a, b),
            Op::Copy(a, b) => Op::Copy(a, b),
            Op::Symlink(t, p) => Op::Symlink(t, p),
            Op::Mknod(p, k, m, r) => Op::Mknod(p, k, m, r),
            Op::Chown(p, u, g, f) => Op::Chown(p, u, g, f),
            Op::SetPermissions(p, m) => Op::SetPermissions(p, m),
            Op::SetTimes(p, a, m) => Op::SetTimes(p, a, m),
            Op::Touch(p, t) => Op::Touch(p, t),
            Op::SetUserMeta(p, u) => Op::SetUserMeta(p, u),
        }
    }
}

impl Op<'_> {
    /// Runs the operation on `root`; returns a length where the operation has one. A node it
    /// changed that has other links is changed at all of them.
    pub(crate) fn apply(&self, root: &mut Root, ctx: &WriteCtx) -> io::Result<u64> {
        let out = match ctx.cred {
            None => self.apply_here(root, ctx),
            Some(c) => self.apply_as(root, ctx, c),
        };
        match out {
            Ok(_) => links::sync(root)?,
            Err(_) => root.links.discard_changes(),
        }
        out
    }

    /// [`Op::apply`] for a handle with credentials: checked first (`access.rs`), and what it
    /// makes is theirs.
    fn apply_as(&self, root: &mut Root, ctx: &WriteCtx, c: &Credentials) -> io::Result<u64> {
        let effects = access::check(self, root, c)?;
        let out = match &effects.instead {
            Some(op) => op.apply_here(root, ctx)?,
            None => self.apply_here(root, ctx)?,
        };
        access::apply_effects(root, &effects, c)?;
        Ok(out)
    }

    fn apply_here(&self, root: &mut Root, ctx: &WriteCtx) -> io::Result<u64> {
        match self {
            Op::CreateDir(p) => ops::create_dir(root, ctx, p).map(|()| 0),
            Op::CreateDirAll(p) => ops::create_dir_all(root, ctx, p).map(|()| 0),
            Op::Write(p, c) => ops::write_file(
                root,
                ctx,
                p,
                Create::IfMissing,
                WriteData::Replace(c.clone()),
            ),
            Op::Append(p, bytes) => {
                ops::write_file(root, ctx, p, Create::IfMissing, WriteData::Append(bytes))
            }
            Op::SetLen(p, len) => {
                ops::write_file(root, ctx, p, Create::No, WriteData::SetLen(*len))
            }
            Op::RemoveFile(p) => ops::remove_file(root, p).map(|()| 0),
            Op::RemoveDir(p) => ops::remove_dir(root, p).map(|()| 0),
            Op::RemoveDirAll(p) => ops::remove_dir_all(root, p).map(|()| 0),
            Op::Rename(from, to) => ops::rename(root, from, to).map(|()| 0),
            Op::Link(from, to) => ops::link(root, from, to).map(|()| 0),
            Op::Copy(from, to) => ops::copy(root, ctx, from, to),
            Op::Symlink(target, link) => ops::symlink(root, ctx, target, link).map(|()| 0),
            Op::Chown(p, uid, gid, follow) => ops::chown(root, p, *uid, *gid, *follow).map(|()| 0),
            Op::Mknod(p, kind, mode, rdev) => {
                ops::mknod(root, ctx, p, *kind, *mode, *rdev).map(|()| 0)
            }
            Op::SetPermissions(p, mode) => ops::set_permissions(root, p, *mode).map(|()| 0),
            Op::SetTimes(p, a, m) => ops::set_times(root, p, *a, *m).map(|()| 0),
            Op::Touch(p, now) => ops::touch(root, ctx, p, *now).map(|()| 0),
            Op::SetUserMeta(p, user) => ops::set_user_meta(root, p, user.clone()).map(|()| 0),
        }
    }

    /// Calls `note` for every path (and how) the operation's outcome depends on.
    pub(crate) fn dependencies(&self, mut note: impl FnMut(&VPath, Access)) {
        const FOLLOW: Access = Access::Entry { follow: true };
        const NOFOLLOW: Access = Access::Entry { follow: false };
        match self {
            Op::CreateDir(p)
            | Op::RemoveFile(p)
            | Op::RemoveDirAll(p)
            | Op::Symlink(_, p)
            | Op::Mknod(p, ..) => note(p, NOFOLLOW),
            Op::Chown(p, .., follow) => note(p, if *follow { FOLLOW } else { NOFOLLOW }),
            Op::CreateDirAll(p) => {
                let mut q = p.clone();
                while !q.is_root() {
                    note(&q, NOFOLLOW);
                    note(&q, FOLLOW);
                    q = q.parent();
                }
            }
            Op::Write(p, _)
            | Op::Append(p, _)
            | Op::SetLen(p, _)
            | Op::SetPermissions(p, _)
            | Op::SetTimes(p, _, _)
            | Op::Touch(p, _)
            | Op::SetUserMeta(p, _) => note(p, FOLLOW),
            Op::RemoveDir(p) => {
                note(p, NOFOLLOW);
                note(p, Access::Listing);
            }
            Op::Rename(from, to) => {
                // The moved node, whole: later reads through its new path see what was below
                // `from`, which `base` has under `from`, not under `to`.
                note(from, Access::Subtree);
                note(from, NOFOLLOW);
                note(to, NOFOLLOW);
                note(to, Access::Listing);
            }
            Op::Copy(from, to) => {
                note(from, FOLLOW);
                note(to, FOLLOW);
            }
            Op::Link(from, to) => {
                note(from, NOFOLLOW);
                note(to, NOFOLLOW);
            }
        }
    }

    /// Whether a failing `apply` may have changed the root before failing (so the transaction
    /// must restore its root on error).
    pub(crate) fn may_fail_half_way(&self) -> bool {
        matches!(self, Op::CreateDirAll(_))
    }

    /// How the commit protocol must run it.
    pub(crate) fn on_error(&self) -> OnError {
        if self.may_fail_half_way() {
            OnError::Restore
        } else {
            OnError::Unchanged
        }
    }

    /// The operation's name, as the public method that makes it is called.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::CreateDir(_) => "create_dir",
            Op::CreateDirAll(_) => "create_dir_all",
            Op::Write(..) => "write",
            Op::Append(..) => "append",
            Op::SetLen(..) => "set_len",
            Op::RemoveFile(_) => "remove_file",
            Op::RemoveDir(_) => "remove_dir",
            Op::RemoveDirAll(_) => "remove_dir_all",
            Op::Rename(..) => "rename",
            Op::Link(..) => "hard_link",
            Op::Copy(..) => "copy",
            Op::Symlink(..) => "symlink",
            Op::Mknod(..) => "mknod",
            Op::Chown(.., true) => "chown",
            Op::Chown(.., false) => "lchown",
            Op::SetPermissions(..) => "set_permissions",
            Op::SetTimes(..) => "set_times",
            Op::Touch(..) => "touch",
            Op::SetUserMeta(..) => "set_metadata",
        }
    }

    /// The path it changes (for a rename or a copy: the source), and the second one, if any.
    pub(crate) fn paths(&self) -> (&VPath, Option<&VPath>) {
        match self {
            Op::Rename(a, b) | Op::Link(a, b) | Op::Copy(a, b) => (a, Some(b)),
            Op::CreateDir(p)
            | Op::CreateDirAll(p)
            | Op::Write(p, _)
            | Op::Append(p, _)
            | Op::SetLen(p, _)
            | Op::RemoveFile(p)
            | Op::RemoveDir(p)
            | Op::RemoveDirAll(p)
            | Op::Symlink(_, p)
            | Op::Mknod(p, ..)
            | Op::Chown(p, ..)
            | Op::SetPermissions(p, _)
            | Op::SetTimes(p, _, _)
            | Op::Touch(p, _)
            | Op::SetUserMeta(p, _) => (p, None),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self.paths() {
            (a, Some(b)) => format!("{} {a} -> {b}", self.name()),
            (p, None) => format!("{} {p}", self.name()),
        }
    }
}
