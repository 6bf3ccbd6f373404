//! `MemFs::backup`: a timestamped copy of a file or directory tree.
//!
//! Owns backup naming and the copy of a subtree; the copy is one commit of the write path, so
//! the backup is a consistent image of the source at one moment. It must not change anything
//! outside the backup directory.
//!
//! The backup of `/a/b/report.txt` into `/backup` is `/backup/report.txt.20261125T141200.123456Z`
//! (UTC, microseconds; `/` itself is named `root`). An existing name is never overwritten: a
//! `-1`, `-2`, ... suffix is added until the name is free. The backup directory is created
//! if missing. File contents are shared with the source (copy-on-write), so a backup costs
//! no copy of the bytes; every copied node gets a new inode number and keeps its permissions,
//! times and user metadata. A symlink given as the source is followed; symlinks inside a
//! directory are copied as symlinks. A handle with credentials copies as `cp -r` run by that
//! user would: it needs read permission on every file and read and search permission on every
//! directory of the source (and write on the backup directory); where one is missing the
//! backup fails with `PermissionDenied` naming it and nothing is made.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use crate::access::Credentials;
use crate::fs::MemFs;
use crate::path::{join_str, VPath};
use crate::time::Utc;
use crate::tree::node::{Dir, FileNode, Node, SpecialNode, SymlinkNode};
use crate::tree::ops::{self, WriteCtx};
use crate::tree::resolve::resolve;

/// `YYYYMMDDTHHMMSS.ffffffZ` in UTC.
pub(crate) fn timestamp(t: SystemTime) -> String {
    let u = Utc::of(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.nanos / 1000
    )
}

/// A copy of `node` with fresh inode numbers; contents and metadata otherwise shared (fails
/// where a directory of a remote store cannot be fetched). With `as_user` (credentials and
/// the node's path), every node copied must be one that user may copy
/// ([`crate::access::check_copy`]), or nothing is.
fn fresh_copy(
    node: &Node,
    ctx: &WriteCtx,
    as_user: Option<(&Credentials, &str)>,
) -> io::Result<Node> {
    if let Some((c, path)) = as_user {
        crate::access::check_copy(node, path, c)?;
    }
    let now = SystemTime::now();
    match node {
        Node::File(f) => {
            let mut meta = f.meta.clone();
            meta.ino = ctx.next_ino();
            meta.changed = now;
            Ok(Node::File(Arc::new(FileNode {
                content: f.content.clone(),
                meta,
            })))
        }
        Node::Special(s) => {
            let mut meta = s.meta.clone();
            meta.ino = ctx.next_ino();
            meta.changed = now;
            Ok(Node::Special(Arc::new(SpecialNode {
                kind: s.kind,
                rdev: s.rdev,
                meta,
            })))
        }
        Node::Symlink(s) => {
            let mut meta = s.meta.clone();
            meta.ino = ctx.next_ino();
            meta.changed = now;
            Ok(Node::Symlink(Arc::new(SymlinkNode {
                target: s.target.clone(),
                meta,
            })))
        }
        Node::Dir(d) => {
            let mut meta = d.meta.clone();
            meta.ino = ctx.next_ino();
            meta.changed = now;
            let children = d
                .children()?
                .iter()
                .map(|(name, child)| {
                    let copy = match as_user {
                        Some((c, path)) => {
                            fresh_copy(child, ctx, Some((c, &join_str(path, name))))?
                        }
                        None => fresh_copy(child, ctx, None)?,
                    };
                    Ok((name.clone(), copy))
                })
                .collect::<io::Result<_>>()?;
            Ok(Node::Dir(Arc::new(Dir::with_children(children, meta))))
        }
    }
}

impl MemFs {
    /// Copies the file or directory tree `p` into `backup_dir` (created if missing) under a
    /// new timestamped name, in one atomic step; returns the backup's path. Never overwrites
    /// anything. See [`crate::ext::backup`] for the naming.
    pub fn backup(
        &self,
        p: impl AsRef<std::path::Path>,
        backup_dir: impl AsRef<std::path::Path>,
    ) -> io::Result<String> {
        let src = VPath::parse(p)?;
        let dir = VPath::parse(backup_dir)?;
        let stamp = timestamp(SystemTime::now());
        let base = src.file_name().unwrap_or("root").to_string();
        self.commit(|r, c| {
            let node = ops::stat(r, &src, true)?;
            if let Some(cred) = c.cred {
                // As `cp -r` by that user: search permission on the way to the source (every
                // node it copies is checked as it is copied, below).
                crate::access::check_read(r, &src, true, crate::access::ReadNeed::Read, cred)?;
            }
            crate::op::Op::CreateDirAll(dir.clone()).apply(r, c)?;
            let (_, dir_path) = ops::list_dir(r, &dir)?;
            let mut name = format!("{base}.{stamp}");
            let mut n = 0u32;
            let target = loop {
                let candidate = VPath::parse_str(&join_str(&dir_path, &name))?;
                match ops::stat(r, &candidate, false) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break candidate,
                    Err(e) => return Err(e),
                    Ok(_) => {}
                }
                n += 1;
                name = format!("{base}.{stamp}-{n}");
            };
            let canon = resolve(&r.node, &target, false)?.into_owned();
            if let Some(cred) = c.cred {
                crate::access::check(&crate::op::Op::CreateDir(target.clone()), r, cred)?;
            }
            let source = src.as_string();
            let as_user = c.cred.map(|cred| (&**cred, source.as_str()));
            ops::insert(r, &canon, fresh_copy(&node, c, as_user)?)?;
            if let Some(cred) = c.cred {
                ops::own_created(r, &canon, cred.uid(), cred.gid())?;
            }
            Ok(target.as_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_764_079_920_123_456);
        assert_eq!(timestamp(t), "20251125T141200.123456Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "20000229T000000.000000Z");
    }
}
