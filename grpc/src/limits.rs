//! What a server holds for its clients, bounded: connections (new ones past the limit are closed
//! at once), HTTP/2 streams per connection, how long a call may take, how long a silent peer
//! is kept (HTTP/2 keepalive pings), and how many bytes of streamed writes are buffered at
//! once (a write past it fails with `RESOURCE_EXHAUSTED`, it does not wait). Each has a default
//! and a builder method; `memfs serve` has a flag for each.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// The limits of one server (see the module docs); `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once (default 4,096); one more is closed as it arrives.
    pub max_connections: usize,
    /// Concurrent calls (HTTP/2 streams) on one connection (default 128).
    pub max_streams_per_connection: u32,
    /// Longest a call may take, streamed reads and writes included (default 10 minutes).
    pub request_timeout: Duration,
    /// A connection whose peer does not answer a keepalive ping within this time is closed
    /// (default 60 s; pings every 30 s).
    pub idle_timeout: Duration,
    /// Bytes of streamed writes buffered at once, over all calls (default 1 GiB).
    pub max_buffered_write_bytes: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 4096,
            max_streams_per_connection: 128,
            request_timeout: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(60),
            max_buffered_write_bytes: 1 << 30,
        }
    }
}

impl ServerLimits {
    /// The server builder with these limits.
    pub(crate) fn apply(&self, b: tonic::transport::Server) -> tonic::transport::Server {
        b.max_concurrent_streams(Some(self.max_streams_per_connection))
            .timeout(self.request_timeout)
            .http2_keepalive_interval(Some(self.idle_timeout / 2))
            .http2_keepalive_timeout(Some(self.idle_timeout))
            .tcp_keepalive(Some(self.idle_timeout))
    }
}

/// A connection that holds one of the server's connection permits while it lives.
pub(crate) struct Limited {
    io: tokio::net::TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Limited {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// `incoming` with at most `max` connections alive at once: a connection past it is dropped
/// (closed) as soon as it is accepted.
pub(crate) fn limit_connections(
    incoming: TcpIncoming,
    max: usize,
) -> impl Stream<Item = io::Result<Limited>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    incoming.filter_map(move |conn| match conn {
        Ok(io) => match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(Ok(Limited {
                io,
                _permit: permit,
            })),
            Err(_) => None, // dropping `io` closes it
        },
        Err(e) => Some(Err(e)),
    })
}

/// The bytes of streamed writes buffered now, against the server's limit.
#[derive(Clone, Debug)]
pub(crate) struct WriteBudget {
    used: Arc<AtomicU64>,
    max: u64,
}

/// Bytes taken from a [`WriteBudget`], given back when dropped.
pub(crate) struct Taken {
    used: Arc<AtomicU64>,
    n: u64,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.used.fetch_sub(self.n, Ordering::AcqRel);
    }
}

impl WriteBudget {
    pub(crate) fn new(max: u64) -> Self {
        WriteBudget {
            used: Arc::default(),
            max,
        }
    }

    pub(crate) fn empty_take(&self) -> Taken {
        Taken {
            used: self.used.clone(),
            n: 0,
        }
    }

    /// Takes `n` more bytes into `taken`, or refuses (nothing taken) past the limit.
    pub(crate) fn take(&self, taken: &mut Taken, n: u64) -> Result<(), tonic::Status> {
        let before = self.used.fetch_add(n, Ordering::AcqRel);
        if before.saturating_add(n) > self.max {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return Err(tonic::Status::resource_exhausted(format!(
                "the server is buffering {before} bytes of writes, its limit is {}; retry later",
                self.max
            )));
        }
        taken.n += n;
        Ok(())
    }
}
