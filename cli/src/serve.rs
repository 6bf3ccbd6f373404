//! `memfs serve`: the state's filesystem served over gRPC (`grpc::FsServer`) until Ctrl-C
//! (SIGINT), SIGTERM or SIGHUP, then saved.
//!
//! The state's exclusive lock is taken without waiting (a busy state is an error) and held for
//! the server's whole life, with a note in the lock file naming the server, so other
//! invocations on the same state fail at once with that name instead of losing updates (they
//! should use `--remote`). The state's named snapshots are served too; on shutdown the tree and
//! the server's snapshots (those loaded, minus the dropped, plus those taken remotely) are
//! saved if anything changed. A server killed with SIGKILL saves nothing. This module only
//! wires the CLI to `grpc`; it owns no gRPC code (the lock, signals and save are `daemon.rs`'s,
//! shared with `memfs mount`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;

use memfs::{MemFs, Snapshot};
use memfs_grpc::{FsServer, ServerHandle};

use super::daemon::{self, Loaded, Signals};
use super::run::Access;
use super::state;

/// Serves the state at `image` on `addr` until a stop signal; prints `listening on ADDR` on
/// standard output once clients can connect.
pub fn run(image: &Path, addr: &str, access: Access) -> io::Result<ExitCode> {
    daemon::with_exclusive_state(image, "`memfs serve`", |lock| {
        serve_locked(image, addr, &access, lock)
    })
}

fn serve_locked(
    image: &Path,
    addr: &str,
    access: &Access,
    lock: &mut state::StateLock,
) -> io::Result<ExitCode> {
    let loaded = Loaded::open(image)?;
    let authenticated = access.required();
    // Listen for the signals before anyone can learn the address (a client may stop us at once).
    let mut signals = Signals::new()?;
    let (server, handle) = start(loaded.fs.clone(), loaded.snapshots.clone(), addr, access)?;
    let bound = handle.local_addr();
    lock.set_note(&format!(
        "`memfs serve` on {} (pid {})",
        handle.url(),
        std::process::id()
    ))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {bound}")?;
        out.flush()?;
    }
    eprintln!(
        "serving {} on {}{}; Ctrl-C saves and stops",
        image.display(),
        handle.url(),
        if authenticated {
            " (token required)"
        } else {
            ""
        }
    );
    let signal = signals.wait().unwrap_or("stopped");
    eprintln!("{signal}: shutting down");
    let stopped = handle.shutdown();
    loaded.save_if_changed(image, server.snapshots())?;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

/// Refuses to serve a non-loopback address without TLS unless `--insecure` (then warns):
/// tokens and files would cross the network in clear text.
fn check_exposure(addr: &str, access: &Access) -> io::Result<()> {
    if access.tls.is_some() {
        return Ok(());
    }
    let loopback = addr
        .to_socket_addrs()
        .map(|mut a| a.all(|a| a.ip().is_loopback()))
        .unwrap_or(false);
    if loopback {
        return Ok(());
    }
    if !access.insecure {
        return Err(memfs::error::err(
            io::ErrorKind::PermissionDenied,
            format!(
                "{addr} is reachable from other machines, and without TLS tokens and files \
                 cross the network in clear text: give --tls-cert and --tls-key (and \
                 --client-ca for mutual TLS), or --insecure to serve it in clear text anyway"
            ),
        ));
    }
    eprintln!(
        "warning: serving {addr} without TLS (--insecure): tokens and files are not encrypted"
    );
    Ok(())
}

/// Serves `fs` and its named `snapshots` on `addr` (also for `memfs mount --serve`); the
/// server's snapshots (taken or dropped remotely) are read back with `FsServer::snapshots`.
pub(super) fn start(
    fs: MemFs,
    snapshots: BTreeMap<String, Snapshot>,
    addr: &str,
    access: &Access,
) -> io::Result<(FsServer, ServerHandle)> {
    check_exposure(addr, access)?;
    let mut server = match &access.tokens_file {
        Some(file) => FsServer::new(fs).with_tokens(memfs_grpc::Tokens::load(file)?),
        None => FsServer::new(fs).with_token(access.token.clone()),
    }
    .with_snapshots(snapshots);
    if let Some(l) = &access.limits {
        server = server.with_limits(memfs_grpc::ServerLimits {
            max_connections: l.max_connections,
            max_streams_per_connection: l.max_streams,
            request_timeout: l.request_timeout,
            idle_timeout: l.idle_timeout,
            max_buffered_write_bytes: l.max_write_buffer,
        });
    }
    if let Some((cert, key, client_ca)) = &access.tls {
        let mut tls = memfs_grpc::ServerTls::load(cert, key)?;
        if let Some(ca) = client_ca {
            tls = tls.require_client_cert_from(ca)?;
        }
        server = server.with_tls(tls);
    }
    let handle = server
        .serve(addr)
        .map_err(|e| memfs::error::err(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    Ok((server, handle))
}
