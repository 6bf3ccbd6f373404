//! What the long-running commands (`memfs serve`, `memfs mount`) share: holding the state's
//! exclusive lock for their whole life with a note naming them, catching the stop signals, and
//! saving the tree and named snapshots on the way out only if something changed.
//!
//! This module owns no serving code (gRPC is `serve.rs`, FUSE is `mount.rs`) and no image
//! format (`state.rs`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use memfs::{MemFs, Snapshot};

use super::backend::LocalBackend;
use super::state;

/// Takes the exclusive lock of `image` without waiting (a busy state is an error naming its
/// holder), names `who` in the lock file at once (so invocations arriving while a large state
/// loads fail rather than wait), runs `body`, then clears the note, whatever happened.
pub(super) fn with_exclusive_state(
    image: &Path,
    who: &str,
    body: impl FnOnce(&mut state::StateLock) -> io::Result<ExitCode>,
) -> io::Result<ExitCode> {
    let mut lock = state::try_lock_exclusive(image)?;
    lock.set_note(&format!("{who} (pid {}, starting)", std::process::id()))?;
    let result = body(&mut lock);
    // The lock is released on return: the note must not outlive it.
    let cleared = lock.set_note("");
    let code = result?;
    cleared?;
    Ok(code)
}

/// The state as loaded, with what is needed to tell later whether it changed.
pub(super) struct Loaded {
    pub fs: MemFs,
    pub snapshots: BTreeMap<String, Snapshot>,
    dirty: bool,
    generation: u64,
    before: Vec<(String, u64)>,
}

impl Loaded {
    /// Loads the state at `image` (an empty filesystem if there is none).
    pub fn open(image: &Path) -> io::Result<Loaded> {
        let LocalBackend {
            fs,
            snapshots,
            dirty,
        } = super::run::open(image, false, true)?;
        let snapshots = snapshots.into_inner();
        Ok(Loaded {
            generation: fs.generation(),
            before: fingerprint(&snapshots),
            dirty: dirty.get(),
            fs,
            snapshots,
        })
    }

    /// Saves the tree with `snapshots` (the named snapshots as they are now) if the tree or the
    /// snapshots changed since `open`, or if there was no image yet; says whether it saved.
    pub fn save_if_changed(
        self,
        image: &Path,
        snapshots: BTreeMap<String, Snapshot>,
    ) -> io::Result<bool> {
        let changed = self.fs.generation() != self.generation
            || self.dirty
            || fingerprint(&snapshots) != self.before;
        if !changed && image.exists() {
            return Ok(false);
        }
        state::save(image, &LocalBackend::new(self.fs, snapshots))?;
        eprintln!("saved {}", image.display());
        Ok(true)
    }
}

/// What identifies a set of named snapshots: names and generations.
fn fingerprint(snaps: &BTreeMap<String, Snapshot>) -> Vec<(String, u64)> {
    snaps
        .iter()
        .map(|(n, s)| (n.clone(), s.generation()))
        .collect()
}

/// SIGINT, SIGTERM and SIGHUP (the terminal went away), caught from creation on, so they stop
/// the command cleanly instead of killing the process.
pub(super) struct Signals {
    inner: signal_hook::iterator::Signals,
}

/// Wakes a thread blocked in [`Signals::wait`] (from another thread), as if the command had
/// been told to stop by itself (e.g. the filesystem was unmounted from outside).
#[cfg(feature = "fuse")]
pub(super) struct Waker(signal_hook::iterator::Handle);

#[cfg(feature = "fuse")]
impl Waker {
    pub fn wake(&self) {
        self.0.close();
    }
}

impl Signals {
    pub fn new() -> io::Result<Self> {
        Ok(Signals {
            inner: signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?,
        })
    }

    #[cfg(feature = "fuse")]
    pub fn waker(&self) -> Waker {
        Waker(self.inner.handle())
    }

    /// Waits for the next signal and returns its name; `None` once a [`Waker`] woke it.
    pub fn wait(&mut self) -> Option<&'static str> {
        self.inner.forever().next().map(|s| match s {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "signal",
        })
    }
}
