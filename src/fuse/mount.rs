//! `mount`, `MountOptions` and `MountHandle`: the public face of the FUSE layer.
//!
//! `mount` mounts a `MemFs` at a directory and serves it on background threads until the
//! `MountHandle` unmounts it (explicitly, or on drop) or someone else does (`fusermount3 -u`,
//! `umount`). Mounting needs no libfuse: `fuser` opens `/dev/fuse` and mounts directly when
//! run as root, else through the setuid `fusermount3` helper (Debian package `fuse3`).
//!
//! Everything written through the mount lands in the `MemFs` itself (the one passed in, which
//! the caller can keep a clone of): snapshots, `restore` and every library call work while it
//! is mounted. This module owns the session's lifetime; it does not interpret requests.

use std::io;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{Config, MountOption, Session, SessionACL};

use super::server::{Server, ServerConfig};
use crate::error;
use crate::fs::MemFs;

/// How to mount. Start from `MountOptions::default()` and set the fields you need.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MountOptions {
    /// Mount read-only (`ro`): every change fails with `EROFS`.
    pub read_only: bool,
    /// Threads serving kernel requests (at least 1). Readers never lock the tree, so reads
    /// scale with threads; default: the number of CPUs, at most 4.
    pub threads: usize,
    /// How long the kernel may cache names and attributes. Changes made through the library
    /// API while mounted become visible through the mount after at most this long (changes
    /// made through the mount are visible at once). Default: 1 s.
    pub ttl: Duration,
    /// Let other users access the mount (`allow_other`; non-root users need
    /// `user_allow_other` in `/etc/fuse.conf`). Permission bits are then checked by the
    /// kernel (`default_permissions` is always on).
    pub allow_other: bool,
    /// The name shown by `mount` and `df` (default `memfs`).
    pub fs_name: String,
    /// Also check each request in the engine, as the user who made it (uid, gid and the
    /// supplementary groups of its process, read from `/proc`), with the library's rules
    /// (`MemFs::as_user`): a request the kernel let through (`default_permissions`) and the
    /// engine refuses fails. The kernel's checks stay on; this shows the two agree (the POSIX
    /// suites run with it in CI). Default off: the kernel's check is enough, and each request
    /// of a user other than root then costs a read of `/proc`.
    pub check_permissions: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            read_only: false,
            threads: std::thread::available_parallelism()
                .map(|n| n.get().min(4))
                .unwrap_or(1),
            ttl: Duration::from_secs(1),
            allow_other: false,
            fs_name: "memfs".to_string(),
            check_permissions: false,
        }
    }
}

/// Unmounts a mount from any thread (for example a Ctrl-C handler), while another thread waits
/// in [`MountHandle::join`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Unmounter {
    /// Canonical path, as the kernel's mount table shows it.
    mountpoint: PathBuf,
}

impl Unmounter {
    /// Unmounts (`fusermount3 -u`, or `umount` where `fusermount3` is missing); a no-op if it
    /// is not mounted any more. Fails with `ResourceBusy` while files on the mount are open
    /// or a process has its working directory there; the mount then stays, and `unmount` can
    /// be tried again.
    pub fn unmount(&self) -> io::Result<()> {
        if !self.is_mounted() {
            return Ok(());
        }
        let out = run(&["fusermount3", "-u", "--"], &self.mountpoint)
            .or_else(|_| run(&["umount", "--"], &self.mountpoint))?;
        if out.status.success() || !self.is_mounted() {
            return Ok(());
        }
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let kind = if msg.contains("busy") {
            io::ErrorKind::ResourceBusy
        } else {
            io::ErrorKind::Other
        };
        Err(crate::error::err(
            kind,
            format!("cannot unmount {}: {msg}", self.mountpoint.display()),
        ))
    }

    /// Detaches the mount lazily (`umount -l`): it leaves the namespace now and goes away when
    /// the last file on it is closed.
    fn detach(&self) {
        let ok = run(&["fusermount3", "-u", "-z", "--"], &self.mountpoint)
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = run(&["umount", "-l", "--"], &self.mountpoint);
        }
    }

    /// Whether the kernel's mount table has a FUSE mount at the mountpoint.
    fn is_mounted(&self) -> bool {
        let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return true; // cannot tell: let the unmount command decide
        };
        let want = escape_mount_path(&self.mountpoint);
        table.lines().any(|line| {
            let mut halves = line.splitn(2, " - ");
            let (left, right) = (halves.next().unwrap_or(""), halves.next().unwrap_or(""));
            left.split(' ').nth(4) == Some(want.as_str()) && right.starts_with("fuse")
        })
    }
}

/// A path as `/proc/self/mountinfo` writes it (space, tab, newline, backslash octal-escaped).
fn escape_mount_path(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn run(cmd: &[&str], path: &Path) -> io::Result<std::process::Output> {
    std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
}

/// A mounted filesystem. Dropping it unmounts and waits for the serving threads to finish,
/// after which every write made through the mount is in the `MemFs`; if the mount is busy
/// (files still open), drop detaches it lazily (`umount -l`) instead of blocking. Call
/// [`MountHandle::unmount`] to see errors.
pub struct MountHandle {
    fs: MemFs,
    mountpoint: PathBuf,
    unmounter: Unmounter,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for MountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountHandle")
            .field("mountpoint", &self.mountpoint)
            .finish_non_exhaustive()
    }
}

/// Mounts `fs` at `mountpoint` (an existing directory) and serves it on background threads.
///
/// Errors: `NotFound` if `mountpoint` or `/dev/fuse` is missing, `PermissionDenied` if the
/// kernel refuses the mount, `InvalidInput` for bad options.
pub fn mount(
    fs: MemFs,
    mountpoint: impl AsRef<Path>,
    opts: &MountOptions,
) -> io::Result<MountHandle> {
    let mountpoint = mountpoint.as_ref().to_path_buf();
    if opts.threads == 0 {
        return Err(error::invalid_input(
            "MountOptions::threads must be at least 1",
        ));
    }
    if !mountpoint.is_dir() {
        return Err(error::not_a_directory(mountpoint.display()));
    }
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(opts.fs_name.clone()),
        MountOption::Subtype("memfs".to_string()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
        if opts.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        },
    ];
    config.acl = if opts.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(opts.threads);
    config.clone_fd = opts.threads > 1;
    let server = Server::new(
        fs.clone(),
        ServerConfig {
            ttl: opts.ttl,
            read_only: opts.read_only,
            check_permissions: opts.check_permissions,
        },
    );
    let session = Session::new(server, &mountpoint, &config)?;
    let unmounter = Unmounter {
        mountpoint: mountpoint.canonicalize()?,
    };
    let thread = std::thread::Builder::new()
        .name("memfs-fuse".to_string())
        .spawn(move || session.run())?;
    Ok(MountHandle {
        fs,
        mountpoint,
        unmounter,
        thread: Some(thread),
    })
}

impl MountHandle {
    /// The directory the filesystem is mounted on.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// The mounted filesystem (the same one `mount` was given).
    pub fn fs(&self) -> &MemFs {
        &self.fs
    }

    /// A handle that can unmount from another thread (e.g. a signal handler).
    pub fn unmounter(&self) -> Unmounter {
        self.unmounter.clone()
    }

    /// Unmounts and waits until the serving threads have finished: every write made through
    /// the mount is then in the `MemFs`. Fails with `ResourceBusy` while files on the mount
    /// are open (or a process has its working directory there); the mount then stays as it
    /// was, and `unmount` can be called again.
    pub fn unmount(&mut self) -> io::Result<()> {
        self.unmounter.unmount()?;
        self.wait()
    }

    /// Blocks until the filesystem is unmounted by someone else (`fusermount3 -u`, `umount`,
    /// or an [`Unmounter`]), as a foreground `memfs mount` does.
    pub fn join(mut self) -> io::Result<()> {
        self.wait()
    }

    fn wait(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the FUSE serving thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        if self.unmounter.unmount().is_ok() {
            let _ = self.wait();
            return;
        }
        // Busy (files still open): detach it lazily instead of blocking in drop. The serving
        // threads run until the last file on it is closed, publishing as usual, then end.
        self.unmounter.detach();
        drop(self.thread.take());
    }
}
