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

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use memfs::fuse::{self, MountOptions};

use super::daemon::{self, Loaded, Signals};
use super::run::MountArgs;
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
    let handle = fuse::mount(loaded.fs.clone(), mountpoint, &opts).map_err(|e| {
        memfs::error::err(
            e.kind(),
            format!("cannot mount on {}: {e}", mountpoint.display()),
        )
    })?;
    let shown = mountpoint
        .canonicalize()
        .unwrap_or_else(|_| mountpoint.to_path_buf());
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
    let served = serving
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the FUSE serving thread panicked")));
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
