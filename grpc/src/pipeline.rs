//! `PipelineOrchestrator`: chains components by address. `execute_pipeline` sends the input to
//! the first stage over gRPC, its output to the second, and so on; each stage has a timeout, and
//! the first stage that fails, cannot be reached or times out stops the run with a
//! `PipelineError` naming it. Serving components is theirs (`component`); this module only owns
//! the list of stages and the calls.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::component::{endpoint_tls, CallError, Component, ComponentClient, Data};
use super::runtime::{self, ServerHandle};
use super::status::{code_name, kind_of_code};

/// Default time one stage may take (connect and call): 30 s.
pub const DEFAULT_STAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a stage failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StageFailure {
    /// The stage answered with an error: the component's function failed (`UNKNOWN`), the
    /// payload was refused (`INVALID_ARGUMENT`), too large, unauthenticated...
    Failed {
        /// The gRPC code's name (`UNKNOWN`, `INVALID_ARGUMENT`, ...).
        code: &'static str,
        /// The `io::ErrorKind` for that code.
        kind: io::ErrorKind,
        /// The server's message.
        message: String,
    },
    /// Nothing answered at the stage's address.
    Unreachable(String),
    /// The stage did not answer within the timeout.
    Timeout(Duration),
    /// A local component whose server was not started (call `start_servers` first).
    NotServed,
}

/// The error of `execute_pipeline`: which stage (0-based index and name) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineError {
    /// Position of the failing stage, from 0.
    pub stage_index: usize,
    /// Name of the failing stage.
    pub stage: String,
    /// What went wrong.
    pub failure: StageFailure,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pipeline stage {} ({:?}) ",
            self.stage_index + 1,
            self.stage
        )?;
        match &self.failure {
            StageFailure::Failed { code, message, .. } => write!(f, "failed: {code}: {message}"),
            StageFailure::Unreachable(m) => write!(f, "is unreachable: {m}"),
            StageFailure::Timeout(d) => write!(f, "timed out after {d:?}"),
            StageFailure::NotServed => write!(f, "is not served (call start_servers first)"),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<PipelineError> for io::Error {
    fn from(e: PipelineError) -> io::Error {
        let kind = match &e.failure {
            StageFailure::Failed { kind, .. } => *kind,
            StageFailure::Unreachable(_) => io::ErrorKind::ConnectionRefused,
            StageFailure::Timeout(_) => io::ErrorKind::TimedOut,
            StageFailure::NotServed => io::ErrorKind::NotConnected,
        };
        memfs::error::err(kind, e)
    }
}

struct Stage {
    name: String,
    component: Option<Component>,
    /// Where the stage is called: set for remote stages, and for local ones once served.
    url: Option<String>,
    token: Option<String>,
    max_message_size: usize,
    server: Option<ServerHandle>,
    /// Reused between runs (one HTTP/2 connection per stage).
    client: Mutex<Option<ComponentClient>>,
}

/// Runs components in order over gRPC (see the module docs).
pub struct PipelineOrchestrator {
    stages: Vec<Stage>,
    stage_timeout: Duration,
    /// What the orchestrator trusts and presents when a stage's URL is `https://`.
    tls: super::ClientTls,
}

impl Default for PipelineOrchestrator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PipelineOrchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineOrchestrator")
            .field(
                "stages",
                &self.stages.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("stage_timeout", &self.stage_timeout)
            .finish()
    }
}

impl PipelineOrchestrator {
    /// An empty pipeline; each stage may take [`DEFAULT_STAGE_TIMEOUT`].
    pub fn new() -> Self {
        PipelineOrchestrator {
            stages: Vec::new(),
            stage_timeout: DEFAULT_STAGE_TIMEOUT,
            tls: super::ClientTls::default(),
        }
    }

    /// The CAs to trust (the system's roots by default) and the client certificate to present
    /// when calling a stage over TLS (a component served with `ComponentConfig::tls`, or an
    /// `https://` remote stage).
    pub fn with_client_tls(mut self, tls: super::ClientTls) -> Self {
        self.tls = tls;
        self
    }

    /// Appends a local component (served by `start_servers`).
    pub fn add_component(&mut self, c: Component) -> &mut Self {
        self.stages.push(Stage {
            name: c.name().to_owned(),
            url: None,
            token: c.config().token.clone(),
            max_message_size: c.config().max_message_size,
            component: Some(c),
            server: None,
            client: Mutex::new(None),
        });
        self
    }

    /// Appends a stage served elsewhere, at `url` (`http://host:port`).
    pub fn add_remote_stage(
        &mut self,
        name: impl Into<String>,
        url: impl Into<String>,
        token: Option<String>,
    ) -> &mut Self {
        self.stages.push(Stage {
            name: name.into(),
            component: None,
            url: Some(url.into()),
            token,
            max_message_size: super::DEFAULT_MAX_MESSAGE_SIZE,
            server: None,
            client: Mutex::new(None),
        });
        self
    }

    /// Sets the time each stage may take, connecting included.
    pub fn set_stage_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.stage_timeout = timeout;
        self
    }

    /// The stages' names, in order.
    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name.clone()).collect()
    }

    /// Serves every local component that is not served yet; returns the addresses of all
    /// served local components, in stage order. On an error (e.g. a port in use) the servers
    /// started so far keep running; `stop_servers` stops them.
    pub fn start_servers(&mut self) -> io::Result<Vec<SocketAddr>> {
        let mut addrs = Vec::new();
        for stage in &mut self.stages {
            let Some(c) = &stage.component else { continue };
            if stage.server.is_none() {
                let handle = c.serve().map_err(|e| {
                    memfs::error::err(e.kind(), format!("serving stage {:?}: {e}", stage.name))
                })?;
                stage.url = Some(handle.url());
                stage.server = Some(handle);
                *stage.client.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
            }
            if let Some(h) = &stage.server {
                addrs.push(h.local_addr());
            }
        }
        Ok(addrs)
    }

    /// Stops every server `start_servers` started (waiting for each); the first error is
    /// returned after all were asked to stop.
    pub fn stop_servers(&mut self) -> io::Result<()> {
        let mut first_err = None;
        for stage in &mut self.stages {
            if let Some(h) = stage.server.take() {
                if stage.component.is_some() {
                    stage.url = None;
                }
                *stage.client.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
                if let Err(e) = h.shutdown() {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Runs the pipeline on a JSON value, each stage over gRPC.
    pub fn execute_pipeline(&self, input: Value) -> Result<Value, PipelineError> {
        match self.execute_pipeline_data(Data::Json(input))? {
            Data::Json(v) => Ok(v),
            Data::Bytes(b) => Ok(Value::String(String::from_utf8_lossy(&b).into_owned())),
        }
    }

    /// Runs the pipeline on JSON or bytes, each stage over gRPC.
    pub fn execute_pipeline_data(&self, input: Data) -> Result<Data, PipelineError> {
        let mut data = input;
        for (i, stage) in self.stages.iter().enumerate() {
            data = self.run_remote(i, stage, data)?;
        }
        Ok(data)
    }

    /// Runs the pipeline in this process, calling each local component's function directly
    /// (what the original memfs's orchestrator did); remote stages are called over gRPC.
    pub fn execute_local(&self, input: Value) -> Result<Value, PipelineError> {
        let mut data = Data::Json(input);
        for (i, stage) in self.stages.iter().enumerate() {
            data = match &stage.component {
                Some(c) => c.process_data(data).map_err(|message| PipelineError {
                    stage_index: i,
                    stage: stage.name.clone(),
                    failure: StageFailure::Failed {
                        code: "UNKNOWN",
                        kind: io::ErrorKind::Other,
                        message,
                    },
                })?,
                None => self.run_remote(i, stage, data)?,
            };
        }
        match data {
            Data::Json(v) => Ok(v),
            Data::Bytes(b) => Ok(Value::String(String::from_utf8_lossy(&b).into_owned())),
        }
    }

    fn run_remote(&self, i: usize, stage: &Stage, data: Data) -> Result<Data, PipelineError> {
        let fail = |failure| PipelineError {
            stage_index: i,
            stage: stage.name.clone(),
            failure,
        };
        let Some(url) = &stage.url else {
            return Err(fail(StageFailure::NotServed));
        };
        runtime::block_on(self.call_stage(stage, url, data))
            .map_err(|e| fail(StageFailure::Unreachable(e.to_string())))?
            .map_err(|e| {
                fail(match e {
                    CallError::Unreachable(m) => StageFailure::Unreachable(m),
                    CallError::Timeout => StageFailure::Timeout(self.stage_timeout),
                    CallError::Status(s) => StageFailure::Failed {
                        code: code_name(s.code()),
                        kind: kind_of_code(s.code()),
                        message: s.message().to_owned(),
                    },
                })
            })
    }

    async fn call_stage(&self, stage: &Stage, url: &str, data: Data) -> Result<Data, CallError> {
        let deadline = tokio::time::Instant::now() + self.stage_timeout;
        let cached = stage
            .client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let client = match cached {
            Some(c) => c,
            None => {
                let ep = endpoint_tls(url, self.stage_timeout, &self.tls)
                    .map_err(|e| CallError::Unreachable(e.to_string()))?;
                let channel = match tokio::time::timeout_at(deadline, ep.connect()).await {
                    Err(_) => return Err(CallError::Timeout),
                    Ok(Err(e)) => {
                        return Err(CallError::Unreachable(format!(
                            "cannot connect to {url}: {}",
                            runtime::error_chain(&e)
                        )))
                    }
                    Ok(Ok(ch)) => ch,
                };
                let c = ComponentClient::with_channel(url, channel, stage.token.as_deref())
                    .map_err(|e| CallError::Unreachable(e.to_string()))?
                    .with_max_message_size(stage.max_message_size);
                *stage.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
                c
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        client.call_async(data, Some(left)).await
    }
}
