//! `memfs-grpc`: functions served as pipeline components, an orchestrator that chains
//! them over real gRPC, and the filesystem itself served to other processes and hosts.
//!
//! This crate owns everything network-facing; it uses `MemFs` only through its public API and
//! must not reach into the tree or the commit protocol. One shared tokio runtime (see
//! `runtime`) runs every server and client; the public API is blocking, made for plain threads
//! (called from async code it still works, waiting on a helper thread).

mod auth;
mod component;
mod fs_server;
mod limits;
mod pipeline;
pub mod proto;
mod remote;
mod runtime;
pub mod status;
mod tls;

pub use auth::{Grant, Tokens};
pub use component::{Component, ComponentClient, ComponentConfig, Data};
pub use fs_server::FsServer;
pub use limits::ServerLimits;
pub use pipeline::{PipelineError, PipelineOrchestrator, StageFailure};
pub use remote::RemoteFs;
pub use runtime::ServerHandle;
pub use tls::{ClientTls, ServerTls};

/// Default limit on one gRPC message, both directions: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// File contents larger than this travel as a stream of chunks of this size: 1 MiB.
pub const STREAM_CHUNK_SIZE: usize = 1024 * 1024;

/// The most a peer's announced file size makes us allocate ahead: 256 MiB.
pub(crate) const MAX_SIZE_HINT: u64 = 256 * 1024 * 1024;

/// HTTP/2 flow-control windows: large enough that a streamed file is not throttled by
/// round trips on fast links (hyper's defaults allow far less data in flight).
pub(crate) const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
pub(crate) const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;
/// Largest HTTP/2 frame accepted: a 1 MiB chunk crosses in a few frames, not 64.
pub(crate) const MAX_FRAME: u32 = 1024 * 1024;

/// The server settings every memfs server uses.
pub(crate) fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
}
