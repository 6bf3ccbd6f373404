//! `memfs serve`: the state's filesystem served over gRPC (`grpc::FsServer`) until Ctrl-C
//! (SIGINT), SIGTERM or SIGHUP, then saved.
//!
//! The state's exclusive lock is taken without waiting (a busy state is an error) and held for
//! the server's whole life, with a note in the lock file naming the server, so other
//! invocations on the same state fail at once with that name instead of losing updates (they
//! should use `--remote`). The state's named snapshots are served too; on shutdown the tree and
//! the server's snapshots (those loaded, minus the dropped, plus those taken remotely) are
//! saved if anything changed. A server killed with SIGKILL saves nothing. This module only
//! wires the CLI to `grpc`; it owns no gRPC code.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::grpc::FsServer;

use super::backend::LocalBackend;
use super::state;

/// Serves the state at `image` on `addr` until a stop signal; prints `listening on ADDR` on
/// standard output once clients can connect.
pub fn run(image: &Path, addr: &str, token: Option<String>) -> io::Result<ExitCode> {
    let mut lock = state::try_lock_exclusive(image)?;
    // Named at once, so invocations arriving while a large state loads fail rather than wait.
    lock.set_note(&format!(
        "`memfs serve` (pid {}, starting)",
        std::process::id()
    ))?;
    let result = serve_locked(image, addr, token, &mut lock);
    // Whatever happened, the lock is released on return: the note must not outlive it.
    let cleared = lock.set_note("");
    let code = result?;
    cleared?;
    Ok(code)
}

fn serve_locked(
    image: &Path,
    addr: &str,
    token: Option<String>,
    lock: &mut state::StateLock,
) -> io::Result<ExitCode> {
    let LocalBackend {
        fs,
        snapshots,
        dirty,
    } = super::run::open(image, false, true)?;
    let snapshots = snapshots.into_inner();
    let before = fingerprint(&snapshots);
    let generation = fs.generation();
    let authenticated = token.is_some();
    let server = FsServer::new(fs.clone())
        .with_token(token)
        .with_snapshots(snapshots);
    // Listen for the signals before anyone can learn the address (a client may stop us at once).
    let signals = Signals::new()?;
    let handle = server
        .serve(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    let bound = handle.local_addr();
    lock.set_note(&format!(
        "`memfs serve` on http://{bound} (pid {})",
        std::process::id()
    ))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {bound}")?;
        out.flush()?;
    }
    eprintln!(
        "serving {} on http://{bound}{}; Ctrl-C saves and stops",
        image.display(),
        if authenticated {
            " (token required)"
        } else {
            ""
        }
    );
    let signal = signals.wait()?;
    eprintln!("{signal}: shutting down");
    let stopped = handle.shutdown();
    let snapshots = server.snapshots();
    let changed = fs.generation() != generation || dirty.get() || fingerprint(&snapshots) != before;
    if changed || !image.exists() {
        state::save(image, &LocalBackend::new(fs, snapshots))?;
        eprintln!("saved {}", image.display());
    }
    stopped?;
    Ok(ExitCode::SUCCESS)
}

/// What identifies a set of named snapshots: names and generations.
fn fingerprint(snaps: &std::collections::BTreeMap<String, crate::Snapshot>) -> Vec<(String, u64)> {
    snaps
        .iter()
        .map(|(n, s)| (n.clone(), s.generation()))
        .collect()
}

/// SIGINT, SIGTERM and SIGHUP (the terminal went away), caught from creation on (so they stop the server instead of the
/// process), on a small runtime of their own.
struct Signals {
    rt: tokio::runtime::Runtime,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let _entered = rt.enter();
            let int = signal(SignalKind::interrupt())?;
            let term = signal(SignalKind::terminate())?;
            let hup = signal(SignalKind::hangup())?;
            Ok(Signals { rt, int, term, hup })
        }
        #[cfg(not(unix))]
        Ok(Signals { rt })
    }

    /// Waits for the first signal; returns its name.
    fn wait(self) -> io::Result<&'static str> {
        #[cfg(unix)]
        {
            let Signals {
                rt,
                mut int,
                mut term,
                mut hup,
            } = self;
            Ok(rt.block_on(async {
                tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                    _ = hup.recv() => "SIGHUP",
                }
            }))
        }
        #[cfg(not(unix))]
        {
            self.rt.block_on(tokio::signal::ctrl_c())?;
            Ok("Ctrl-C")
        }
    }
}
