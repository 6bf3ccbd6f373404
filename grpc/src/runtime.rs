//! The one tokio runtime behind the blocking gRPC API, and `ServerHandle`, the running server
//! it returns. Servers and clients all run on this runtime (worker threads named
//! `memfs-grpc`); callers block on it from ordinary threads. It owns no gRPC service logic.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;

/// How long `shutdown` waits for in-flight calls before dropping the connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared runtime, built on first use.
pub(crate) fn runtime() -> io::Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("memfs-grpc")
        .enable_io()
        .enable_time()
        .build()?;
    // A concurrent first call may have won; its runtime is used and ours is dropped here, in a
    // plain thread (never inside the runtime).
    let _ = RUNTIME.set(rt);
    Ok(RUNTIME.get().expect("runtime was just set"))
}

/// Runs `fut` to completion on the shared runtime, blocking this thread. From inside an async
/// context (a runtime's worker, or its blocking pool) tokio forbids blocking on a runtime, so
/// the wait happens on a helper thread instead: it works, but it blocks the caller's thread.
pub(crate) fn block_on<F>(fut: F) -> io::Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(fut));
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("memfs-grpc-wait".into())
            .spawn_scoped(scope, move || rt.block_on(fut))?
            .join()
            .map_err(|_| io::Error::other("gRPC call panicked"))
    })
}

/// The future that serves connections from `TcpIncoming` until the signal future completes.
pub(crate) type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Binds `addr` now (so a busy port or a bad address is reported here) and runs `serve` (which
/// serves one service on the incoming connections until the signal) in the background.
pub(crate) fn spawn_server<F, Fut>(
    what: &str,
    addr: impl ToSocketAddrs,
    serve: F,
) -> io::Result<ServerHandle>
where
    F: FnOnce(TcpIncoming, StopSignal) -> Fut,
    Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let listener = StdListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let rt = runtime()?;
    let incoming = {
        let _guard = rt.enter();
        TcpIncoming::from(tokio::net::TcpListener::from_std(listener)?).with_nodelay(Some(true))
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel::<Result<(), String>>();
    let what_owned = what.to_owned();
    let signal: StopSignal = Box::pin(async {
        let _ = stop_rx.await;
    });
    let server = serve(incoming, signal);
    let task = rt.spawn(async move {
        let result = server
            .await
            .map_err(|e| format!("{what_owned} on {local_addr}: {}", error_chain(&e)));
        let _ = done_tx.send(result);
    });
    Ok(ServerHandle {
        scheme: "http",
        addr: local_addr,
        stop: Some(stop_tx),
        done: Some(done_rx),
        task,
    })
}

/// The message of an error and of its sources, `: `-separated.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = inner.source();
    }
    s
}

/// A server running in the background (a component or a filesystem). Dropping the handle stops
/// the server too (without waiting); `shutdown` stops it and waits until it has.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<Result<(), String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server listens on (the real port when `0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://` for a TLS server): what clients connect to.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub(crate) fn set_scheme(&mut self, scheme: &'static str) {
        self.scheme = scheme;
    }

    /// Stops accepting calls, lets in-flight ones finish (up to 5 s, then drops them) and
    /// returns when the server has stopped.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_wait()
    }

    fn stop_and_wait(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(done) = self.done.take() else {
            return Ok(());
        };
        match block_on(async { tokio::time::timeout(SHUTDOWN_GRACE, done).await })? {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(msg))) => Err(io::Error::other(msg)),
            // The task ended without reporting: the runtime is going away.
            Ok(Err(_)) => Ok(()),
            // Calls or idle connections still open after the grace period: drop them.
            Err(_) => {
                self.task.abort();
                Ok(())
            }
        }
    }

    /// Blocks until the server stops by itself (an accept error); normally it never does.
    pub fn wait(mut self) -> io::Result<()> {
        let Some(done) = self.done.take() else {
            return Ok(());
        };
        match block_on(done)? {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(msg)) => Err(io::Error::other(msg)),
        }
    }

    /// Serves until Ctrl-C (SIGINT), then shuts down as [`ServerHandle::shutdown`] does. For
    /// command-line servers: `FsServer::new(fs).serve(addr)?.wait_for_ctrl_c()?` and save.
    pub fn wait_for_ctrl_c(mut self) -> io::Result<()> {
        let Some(mut done) = self.done.take() else {
            return Ok(());
        };
        let outcome = block_on(async {
            tokio::select! {
                r = tokio::signal::ctrl_c() => Some(r),
                r = &mut done => {
                    // The server stopped by itself.
                    match r {
                        Ok(Err(msg)) => Some(Err(io::Error::other(msg))),
                        _ => None,
                    }
                }
            }
        })?;
        match outcome {
            Some(Ok(())) => {
                self.done = Some(done);
                self.stop_and_wait()
            }
            Some(Err(e)) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
