//! The `fuser::Filesystem` callbacks of a mount: each one calls a helper of `Server` that returns
//! `io::Result` and turns the result into the reply, or into the errno of `memfs::errno_of`.
//! No logic lives here; see `server` for what each operation does.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use fuser::{
    AccessFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use super::server::{errno, name_str, Server, O_EXCL};
use crate::error;
use crate::error::libc_errno::ERANGE;
use crate::path::{join_str, NAME_MAX};
use crate::sync::{lock, Ordering};
use crate::tree::node::Node;

impl Server {
    /// Answers a request for an entry (lookup, mkdir, mknod, symlink, link) with its
    /// attributes, or the error's errno.
    fn reply_entry(&self, res: io::Result<fuser::FileAttr>, reply: ReplyEntry) {
        match res {
            Ok(attr) => reply.entry(&self.cfg.ttl, &attr, Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    /// Answers a getattr/setattr with the attributes, or the error's errno.
    fn reply_attr(&self, res: io::Result<fuser::FileAttr>, reply: ReplyAttr) {
        match res {
            Ok(attr) => reply.attr(&self.cfg.ttl, &attr),
            Err(e) => reply.error(errno(&e)),
        }
    }
}

impl Filesystem for Server {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Optional speed-ups; a kernel without them just does without.
        let _ = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS);
        let _ = config.add_capabilities(InitFlags::FUSE_READDIRPLUS_AUTO);
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        // The server clears set-id bits on write itself (see `write`), so the kernel need not
        // ask for `security.capability` before every write: a fifth of a `tar -x`'s requests.
        let _ = config.add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2);
        Ok(())
    }

    fn destroy(&mut self) {
        // The session is ending: publish what open files still hold.
        self.publish_all();
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        let res = (|| {
            let root = self.fs.load_root();
            let (ppath, pnode) = self.inodes.resolve(&root, parent.0)?;
            let Node::Dir(d) = pnode else {
                return Err(error::not_a_directory(&ppath));
            };
            let name = name_str(name)?;
            self.permit_lookup(&join_str(&ppath, name))?;
            let child = d
                .get(name)?
                .ok_or_else(|| error::not_found(join_str(&ppath, name)))?;
            let attr = self.attr_of(child);
            self.inodes.remember(attr.ino.0, join_str(&ppath, name));
            Ok(attr)
        })();
        self.reply_entry(res, reply)
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.reply_attr(self.getattr_of(ino.0), reply)
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        let by_path = size.is_some() && fh.is_none();
        let res = self
            .permit_setattr(ino.0, mode, uid, gid, by_path, atime, mtime)
            .and_then(|mode| self.setattr_of(ino.0, mode, uid, gid, size, atime, mtime));
        self.reply_attr(res, reply)
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.inodes.resolve(&self.fs.load_root(), ino.0) {
            Ok((_, Node::Symlink(s))) => reply.data(s.target.as_bytes()),
            Ok(_) => reply.error(Errno::EINVAL),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        self.reply_entry(
            self.mkdir_at(parent, name, mode & !umask, owner(req)),
            reply,
        )
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        // (No type bits: a regular file, as mknod(2) makes.)
        let typed = if mode & 0o170000 == 0 {
            mode | crate::FileType::File.mode_bits()
        } else {
            mode
        };
        let kind = crate::FileType::from_mode_bits(typed);
        let res = match kind {
            Some(crate::FileType::File) => self
                .create_at(parent, name, mode & !umask, O_EXCL, owner(req))
                .and_then(|(attr, fh)| self.release_fh(FileHandle(fh)).map(|()| attr)),
            Some(kind) if kind.is_special() => self.mknod_at(
                parent,
                name,
                kind,
                mode & !umask & crate::tree::node::PERMISSION_BITS,
                u64::from(rdev),
                owner(req),
            ),
            _ => Err(error::invalid_input("mknod of a directory or symlink")),
        };
        self.reply_entry(res, reply)
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match self.fallocate_of(ino.0, offset, length, mode) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.remove_at(parent, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        self.reply_entry(self.link_at(ino.0, newparent, newname), reply)
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.remove_at(parent, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        self.reply_entry(
            self.symlink_at(parent, link_name, target, owner(req)),
            reply,
        )
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.rename_at(parent, name, newparent, newname, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self
            .permit_open_ino(ino.0, flags.0)
            .and_then(|()| self.open_ino(ino.0, flags.0))
        {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.read_fh(fh, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
            // A write by an unprivileged process drops set-user/group-id bits, as on Linux.
            if let Err(e) = self.kill_suid(ino.0) {
                return reply.error(errno(&e));
            }
        }
        match self.write_fh(fh, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        match self.publish_ino(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        match self.release_fh(fh) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.publish_ino(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        // The listing itself is taken by the first readdir (offset 0).
        let found = self
            .inodes
            .resolve(&self.fs.load_root(), ino.0)
            .and_then(|found| {
                if found.1.is_dir() {
                    self.permit_read_ino(ino.0, crate::access::ReadNeed::Read)?;
                }
                Ok(found)
            });
        match found {
            Ok((_, Node::Dir(_))) => {
                let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Ok((path, _)) => reply.error(errno(&error::not_a_directory(path))),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listed = self.list_from(ino, fh, offset, |next, _, name, node| {
            reply.add(INodeNo(node.meta().ino), next, Self::kind(node), name)
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let ttl = self.cfg.ttl;
        let listed = self.list_from(ino, fh, offset, |next, dir, name, node| {
            let attr = self.attr_of(node);
            if reply.add(attr.ino, next, name, &ttl, &attr, Generation(0)) {
                return true;
            }
            // The kernel now holds a reference to a listed entry, as after a lookup (it does
            // not count "." and "..").
            if next > 2 {
                self.inodes.remember(attr.ino.0, join_str(dir, name));
            }
            false
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.dirs).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (blocks, free, files, ffree) = self.statfs_of();
        reply.statfs(
            blocks,
            free,
            free,
            files,
            ffree,
            4096,
            NAME_MAX as u32,
            4096,
        );
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.change_xattr(ino.0, name, Some(value), flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.getxattr_of(ino.0, name) {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(Errno::from_i32(ERANGE)),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.listxattr_of(ino.0) {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(Errno::from_i32(ERANGE)),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.change_xattr(ino.0, name, None, 0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // Permission bits are checked by the kernel (`default_permissions`); here only existence.
        match self.inodes.resolve(&self.fs.load_root(), ino.0) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let _caller = self.serving(req.uid(), req.gid(), req.pid());
        match self.create_at(parent, name, mode & !umask, flags, owner(req)) {
            Ok((attr, fh)) => reply.created(
                &self.cfg.ttl,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }
}

/// The uid and gid of the process that made a request: the owner of what it creates.
fn owner(req: &Request) -> (u32, u32) {
    (req.uid(), req.gid())
}
