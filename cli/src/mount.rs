//! `memfs mount MOUNTPOINT`: the state's filesystem mounted with FUSE (`memfs::fuse`) in the
//! foreground until Ctrl-C (SIGINT), SIGTERM, SIGHUP or an unmount from outside
//! (`fusermount3 -u`, `umount`), then saved.
//!
//! Like `memfs serve`, it holds the state's exclusive lock for its whole life with a note
//! naming the mount, so other invocations on the state fail at once instead of losing updates.
//! With `--serve ADDR` (feature `grpc`) the same `MemFs` is served over gRPC too, so
//! `memfs --remote URL snapshot NAME` / `restore NAME` (and every other remote command) act on
//! the mounted filesystem. On the way out the tree and the named snapshots (those loaded, plus
//! the remote changes) are saved if anything changed. This module only wires the CLI to `fuse`
//! (and `serve.rs`); the lock, signals and save are `daemon.rs`'s.
//!
//! `memfs mount --from URL NAME` mounts a ref of an object store instead (`memfs_store`), read
//! lazily, with no state locked; with `--push` a changed tree is pushed on unmount.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use memfs::fuse::{self, MountOptions};

use super::daemon::{self, Loaded, Signals};
use super::run::{From, MountArgs};
use super::state;

/// Mounts the state at `image` on `mountpoint` until a stop signal or an outside unmount;
/// prints `mounted on PATH` (and, with `--serve`, `listening on ADDR`) on standard output once
/// it is usable.
pub fn run(image: &Path, mountpoint: &Path, args: MountArgs) -> io::Result<ExitCode> {
    #[cfg(not(feature = "grpc"))]
    if args.serve.is_some() {
        return Err(memfs::error::err(
            io::ErrorKind::Unsupported,
            "mount --serve needs memfs built with the `grpc` feature",
        ));
    }
    if let Some(from) = &args.from {
        return mount_from(image, mountpoint, from, &args);
    }
    daemon::with_exclusive_state(image, "`memfs mount`", |lock| {
        mount_locked(image, mountpoint, args, lock)
    })
}

fn mount_locked(
    image: &Path,
    mountpoint: &Path,
    args: MountArgs,
    lock: &mut state::StateLock,
) -> io::Result<ExitCode> {
    let loaded = Loaded::open(image)?;
    let mut opts = MountOptions::default();
    opts.read_only = args.read_only;
    opts.allow_other = args.allow_other;
    opts.check_permissions = args.check_permissions;
    opts.threads = args.threads.unwrap_or(opts.threads);
    // Caught before the mount exists, so a signal can never leave it mounted behind us.
    let mut signals = Signals::new()?;
    #[cfg(feature = "grpc")]
    let server = match args.serve {
        Some(addr) => Some(super::serve::start(
            loaded.fs.clone(),
            loaded.snapshots.clone(),
            addr,
            &args.access,
        )?),
        None => None,
    };
    let (handle, shown) = mount_at(loaded.fs.clone(), mountpoint, &opts)?;
    #[cfg_attr(not(feature = "grpc"), allow(unused_mut))]
    let mut note = format!("`memfs mount` on {}", shown.display());
    #[cfg(feature = "grpc")]
    if let Some((_, h)) = &server {
        note.push_str(&format!(", serving http://{}", h.local_addr()));
    }
    lock.set_note(&format!("{note} (pid {})", std::process::id()))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "mounted on {}", shown.display())?;
        #[cfg(feature = "grpc")]
        if let Some((_, h)) = &server {
            writeln!(out, "listening on {}", h.local_addr())?;
        }
        out.flush()?;
    }
    eprintln!(
        "mounted {} on {}{}; Ctrl-C or `fusermount3 -u {}` saves and unmounts",
        image.display(),
        shown.display(),
        if opts.read_only { " (read-only)" } else { "" },
        shown.display()
    );

    let served = wait_unmounted(handle, &mut signals, &shown);
    eprintln!("unmounted {}", shown.display());

    // Every write made through the mount is in the MemFs now; stop the gRPC server before
    // saving, so nothing changes after the save.
    #[cfg(feature = "grpc")]
    let (snapshots, stopped) = match server {
        Some((srv, h)) => {
            let stopped = h.shutdown();
            (srv.snapshots(), stopped)
        }
        None => (loaded.snapshots.clone(), Ok(())),
    };
    #[cfg(not(feature = "grpc"))]
    let (snapshots, stopped) = (loaded.snapshots.clone(), io::Result::Ok(()));
    loaded.save_if_changed(image, snapshots)?;
    served?;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

/// `memfs mount --from URL NAME MOUNTPOINT`: ref NAME of an object store mounted without
/// downloading it (`memfs_store::Remote::open_fs`: directories at open, file chunks on
/// first read into a bounded cache). No state is read, locked or saved, so any number of
/// machines can mount one ref at once. Read-only, unless `--push`: then a changed tree is
/// pushed on unmount onto the version mounted (`Remote::push_onto`), and if that fails (a
/// conflict, the store) it is saved as a state image beside the state instead, never lost.
fn mount_from(
    image: &Path,
    mountpoint: &Path,
    from: &From,
    args: &MountArgs,
) -> io::Result<ExitCode> {
    let remote = memfs_store::Remote::open(from.url)?;
    let opened = memfs_store::block_on(remote.open_fs(from.name, from.cache))??;
    let fs = opened.fs.clone();
    let generation = fs.generation();
    let mut opts = MountOptions::default();
    opts.read_only = args.read_only || !from.push;
    opts.allow_other = args.allow_other;
    opts.check_permissions = args.check_permissions;
    opts.threads = args.threads.unwrap_or(opts.threads);
    let mut signals = Signals::new()?;
    let (handle, shown) = mount_at(fs.clone(), mountpoint, &opts)?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "mounted on {}", shown.display())?;
        out.flush()?;
    }
    eprintln!(
        "mounted {} version {} of {} ({} files, {}; the root directory's {} fetched, the rest \
         on first use) on {}{}",
        from.name,
        opened.info.seq,
        remote.url(),
        opened.info.files,
        super::commands::human(opened.info.file_bytes),
        super::commands::human(opened.dir_bytes),
        shown.display(),
        if opts.read_only {
            " (read-only)"
        } else {
            "; pushed on unmount if changed"
        }
    );
    let served = wait_unmounted(handle, &mut signals, &shown);
    eprintln!(
        "unmounted {} ({} fetched: {} directories, {} chunks)",
        shown.display(),
        super::commands::human(opened.bytes_fetched()),
        opened.dir_fetches() + 1,
        opened.chunk_fetches()
    );
    if from.push && fs.generation() != generation {
        let snap = fs.snapshot();
        let pushed =
            memfs_store::block_on(remote.push_onto(&snap, from.name, opened.info.seq, &|_| {}))
                .and_then(|r| r);
        match pushed {
            Ok(r) => eprintln!(
                "pushed {} version {} to {}: {} of {} uploaded",
                from.name,
                r.seq,
                remote.url(),
                super::commands::human(r.uploaded_bytes),
                super::commands::human(r.total_bytes)
            ),
            Err(e) => {
                // Nothing is lost: the tree goes to a state image of its own (reading every
                // chunk it still needs from the store), from which it can be pushed later.
                let keep = unpushed_path(image, from.name);
                let saved = memfs::persist::image::save(&keep, &fs, &Default::default());
                return Err(match saved {
                    Ok(()) => memfs::error::err(
                        e.kind(),
                        format!(
                            "push of {} failed: {e}; the tree is saved in {}: \
                             `memfs --state {} push {} {}` pushes it",
                            from.name,
                            keep.display(),
                            keep.display(),
                            from.url,
                            from.name
                        ),
                    ),
                    Err(s) => memfs::error::err(
                        e.kind(),
                        format!(
                            "push of {} failed: {e}; saving the tree in {} failed too: {s}",
                            from.name,
                            keep.display()
                        ),
                    ),
                });
            }
        }
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Where `mount --from --push` keeps a tree it could not push: beside the state, named
/// after the ref and this process.
fn unpushed_path(image: &Path, name: &str) -> std::path::PathBuf {
    let mut file = image.file_name().unwrap_or_default().to_os_string();
    file.push(format!(
        ".unpushed-{}-{}",
        name.replace('/', "_"),
        std::process::id()
    ));
    image.with_file_name(file)
}

/// Serves the mount until a stop signal unmounts it (a busy mount stays, and the next signal
/// tries again) or it is unmounted from outside; returns how the serving ended.
fn wait_unmounted(
    handle: fuse::MountHandle,
    signals: &mut Signals,
    shown: &Path,
) -> io::Result<()> {
    let unmounter = handle.unmounter();
    let waker = signals.waker();
    let serving = std::thread::Builder::new()
        .name("memfs-mount-join".to_string())
        .spawn(move || {
            let r = handle.join();
            waker.wake();
            r
        })?;
    while let Some(signal) = signals.wait() {
        eprintln!("{signal}: unmounting {}", shown.display());
        match unmounter.unmount() {
            Ok(()) => break,
            // Busy (files open there): stay mounted; the next signal tries again.
            Err(e) => {
                eprintln!("{e}; still mounted: close the files open there, then stop it again")
            }
        }
    }
    serving
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the FUSE serving thread panicked")))
}

/// Mounts `fs` on `mountpoint`; returns the mount and the mountpoint as shown to the user
/// (canonical where it can be).
fn mount_at(
    fs: memfs::MemFs,
    mountpoint: &Path,
    opts: &MountOptions,
) -> io::Result<(fuse::MountHandle, std::path::PathBuf)> {
    let handle = fuse::mount(fs, mountpoint, opts).map_err(|e| {
        memfs::error::err(
            e.kind(),
            format!("cannot mount on {}: {e}", mountpoint.display()),
        )
    })?;
    let shown = mountpoint
        .canonicalize()
        .unwrap_or_else(|_| mountpoint.to_path_buf());
    Ok((handle, shown))
}
