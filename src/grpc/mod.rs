//! gRPC (feature `grpc`): functions served as pipeline components, an orchestrator that chains
//! them over real gRPC, and the filesystem itself served to other processes and hosts.
//!
//! This module owns everything network-facing; it uses `MemFs` only through its public API and
//! must not reach into the tree or the commit protocol. One shared tokio runtime (see
//! `runtime`) runs every server and client; the public API is blocking, made for plain threads
//! (called from async code it still works, waiting on a helper thread).

mod auth;
mod component;
mod fs_server;
mod pipeline;
pub mod proto;
mod remote;
mod runtime;
pub mod status;

pub use component::{Component, ComponentClient, ComponentConfig, Data};
pub use fs_server::FsServer;
pub use pipeline::{PipelineError, PipelineOrchestrator, StageFailure};
pub use remote::RemoteFs;
pub use runtime::ServerHandle;

/// Default limit on one gRPC message, both directions: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// File contents larger than this travel as a stream of chunks of this size: 1 MiB.
pub const STREAM_CHUNK_SIZE: usize = 1024 * 1024;
