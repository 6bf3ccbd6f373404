//! Components: a Rust function served as a `memfs.v1.Component` gRPC service (`Process(Payload)
//! -> Payload`), the client that calls one, and what a served component writes into its
//! filesystem (its `.proto` text in `proto_dir`, a description of the service in
//! `generated_dir`, as the original memfs's `DynamicgRPCComponent` did). The chaining of
//! components lives in `pipeline`; the runtime and server handles in `runtime`.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use super::auth::{self, CheckToken};
use super::proto::{self, component_client, component_server, payload};
use super::runtime::{self, ServerHandle};
use super::status::io_of_status;
use super::DEFAULT_MAX_MESSAGE_SIZE;
use memfs::error;
use memfs::MemFs;

/// Where a component writes its files and where it listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentConfig {
    /// Directory of the component's `MemFs` that receives `<name>.proto`.
    pub proto_dir: String,
    /// Directory of the component's `MemFs` that receives `<name>.service.json`, the
    /// description of the served service.
    pub generated_dir: String,
    /// TCP port to listen on; `0` picks a free one (see [`ServerHandle::local_addr`]).
    pub port: u16,
    /// Address to bind; `127.0.0.1` by default (only this machine can call).
    pub host: String,
    /// Largest message accepted or sent, in bytes (default 64 MiB).
    pub max_message_size: usize,
    /// With a token, calls need `authorization: Bearer <token>` (else `UNAUTHENTICATED`).
    pub token: Option<String>,
    /// Serve over TLS (`https://`; mutual TLS if it requires client certificates).
    pub tls: Option<super::ServerTls>,
}

impl Default for ComponentConfig {
    fn default() -> Self {
        ComponentConfig {
            proto_dir: "/proto".into(),
            generated_dir: "/generated".into(),
            port: 0,
            host: "127.0.0.1".into(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            token: None,
            tls: None,
        }
    }
}

impl ComponentConfig {
    /// A config with these directories and port, on `127.0.0.1`, default limits, no token.
    pub fn new(proto_dir: impl Into<String>, generated_dir: impl Into<String>, port: u16) -> Self {
        ComponentConfig {
            proto_dir: proto_dir.into(),
            generated_dir: generated_dir.into(),
            port,
            ..Default::default()
        }
    }
}

/// What travels between pipeline stages: a JSON value or raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Json(Value),
    Bytes(Vec<u8>),
}

impl Data {
    pub(crate) fn into_payload(self) -> proto::Payload {
        let body = match self {
            Data::Json(v) => payload::Body::Json(v.to_string()),
            Data::Bytes(b) => payload::Body::Raw(b.into()),
        };
        proto::Payload { body: Some(body) }
    }

    pub(crate) fn from_payload(p: proto::Payload) -> Result<Data, Status> {
        match p.body {
            Some(payload::Body::Json(text)) => serde_json::from_str(&text)
                .map(Data::Json)
                .map_err(|e| Status::invalid_argument(format!("payload is not valid JSON: {e}"))),
            Some(payload::Body::Raw(b)) => Ok(Data::Bytes(b.to_vec())),
            None => Err(Status::invalid_argument(
                "empty payload: set `json` or `raw`",
            )),
        }
    }

    /// The value, if this is JSON.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Data::Json(v) => Some(v),
            Data::Bytes(_) => None,
        }
    }
}

/// Why a handler did not produce output.
pub(crate) enum HandlerError {
    /// The input cannot be given to the function (`INVALID_ARGUMENT`).
    BadInput(String),
    /// The function returned an error (`UNKNOWN`, with its message).
    Failed(String),
}

type Handler = dyn Fn(Data) -> Result<Data, HandlerError> + Send + Sync;

/// A function that can run locally ([`Component::process`]) or be served over gRPC
/// ([`Component::serve`]). Cheap to clone (the function is shared).
#[derive(Clone)]
pub struct Component {
    name: String,
    fs: MemFs,
    config: ComponentConfig,
    handler: Arc<Handler>,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Component {
    /// A component running `f` on JSON values. Writes `<proto_dir>/<name>.proto` and
    /// `<generated_dir>/<name>.service.json` into `fs` (creating the directories). The name
    /// must be 1-64 characters of `[A-Za-z0-9_-]`. A raw-bytes payload is parsed as JSON.
    pub fn new<F>(
        name: impl Into<String>,
        fs: &MemFs,
        config: ComponentConfig,
        f: F,
    ) -> io::Result<Self>
    where
        F: Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    {
        let handler = move |d: Data| {
            let v = match d {
                Data::Json(v) => v,
                Data::Bytes(b) => serde_json::from_slice(&b).map_err(|e| {
                    HandlerError::BadInput(format!("raw payload is not valid JSON: {e}"))
                })?,
            };
            f(v).map(Data::Json).map_err(HandlerError::Failed)
        };
        Self::with_handler(name.into(), fs, config, Arc::new(handler))
    }

    /// A component running `f` on bytes; a JSON payload is given as its UTF-8 text.
    pub fn new_bytes<F>(
        name: impl Into<String>,
        fs: &MemFs,
        config: ComponentConfig,
        f: F,
    ) -> io::Result<Self>
    where
        F: Fn(Vec<u8>) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    {
        let handler = move |d: Data| {
            let b = match d {
                Data::Bytes(b) => b,
                Data::Json(v) => v.to_string().into_bytes(),
            };
            f(b).map(Data::Bytes).map_err(HandlerError::Failed)
        };
        Self::with_handler(name.into(), fs, config, Arc::new(handler))
    }

    fn with_handler(
        name: String,
        fs: &MemFs,
        config: ComponentConfig,
        handler: Arc<Handler>,
    ) -> io::Result<Self> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(error::invalid_input(format!(
                "component name {name:?}: use 1-64 characters of [A-Za-z0-9_-]"
            )));
        }
        if config.max_message_size == 0 {
            return Err(error::invalid_input("max_message_size must be positive"));
        }
        let c = Component {
            name,
            fs: fs.clone(),
            config,
            handler,
        };
        c.fs.create_dir_all(&c.config.proto_dir)?;
        c.fs.write(c.proto_path(), c.proto_text())?;
        c.write_description(None)?;
        Ok(c)
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its configuration.
    pub fn config(&self) -> &ComponentConfig {
        &self.config
    }

    /// Where its `.proto` text is in its filesystem.
    pub fn proto_path(&self) -> String {
        join(&self.config.proto_dir, &format!("{}.proto", self.name))
    }

    /// Where the description of its service is in its filesystem.
    pub fn description_path(&self) -> String {
        join(
            &self.config.generated_dir,
            &format!("{}.service.json", self.name),
        )
    }

    fn proto_text(&self) -> String {
        format!(
            "// Component {:?}: served as memfs.v1.Component (call Process).\n{}",
            self.name,
            proto::COMPONENT_PROTO
        )
    }

    fn write_description(&self, addr: Option<std::net::SocketAddr>) -> io::Result<()> {
        let desc = serde_json::json!({
            "component": self.name,
            "package": "memfs.v1",
            "service": "memfs.v1.Component",
            "proto": self.proto_path(),
            "rpcs": [
                {"name": "Process", "path": "/memfs.v1.Component/Process",
                 "request": "memfs.v1.Payload", "response": "memfs.v1.Payload"},
                {"name": "Describe", "path": "/memfs.v1.Component/Describe",
                 "request": "memfs.v1.DescribeRequest", "response": "memfs.v1.ComponentInfo"},
            ],
            "address": addr.map(|a| a.to_string()),
            "max_message_size": self.config.max_message_size,
            "token_required": self.config.token.is_some(),
        });
        self.fs.create_dir_all(&self.config.generated_dir)?;
        let text = serde_json::to_string_pretty(&desc).map_err(io::Error::other)?;
        self.fs.write(self.description_path(), text)
    }

    /// Runs the function here, in this thread (no gRPC).
    pub fn process(&self, value: Value) -> Result<Value, String> {
        match self.process_data(Data::Json(value))? {
            Data::Json(v) => Ok(v),
            Data::Bytes(b) => String::from_utf8(b)
                .map(Value::String)
                .map_err(|_| "component returned bytes that are not UTF-8".to_owned()),
        }
    }

    /// Runs the function here on JSON or bytes.
    pub fn process_data(&self, data: Data) -> Result<Data, String> {
        (self.handler)(data).map_err(|e| match e {
            HandlerError::BadInput(m) | HandlerError::Failed(m) => m,
        })
    }

    /// Serves the component on `host:port` from its config, in the background. Rewrites its
    /// description in `generated_dir` with the address it listens on.
    pub fn serve(&self) -> io::Result<ServerHandle> {
        let service = ComponentService {
            name: Arc::from(self.name.as_str()),
            proto: Arc::from(self.proto_text()),
            handler: self.handler.clone(),
        };
        let limit = self.config.max_message_size;
        let server = component_server::ComponentServer::new(service)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit);
        let svc = tonic::service::interceptor::InterceptedService::new(
            server,
            CheckToken::new(self.config.token.as_deref()),
        );
        let mut builder = super::server_builder();
        if let Some(tls) = &self.config.tls {
            builder = builder.tls_config(tls.config()).map_err(|e| {
                error::invalid_input(format!(
                    "component {}: TLS certificate or key: {}",
                    self.name,
                    runtime::error_chain(&e)
                ))
            })?;
        }
        let mut handle = runtime::spawn_server(
            &format!("component {}", self.name),
            (self.config.host.as_str(), self.config.port),
            |incoming, stop| builder.serve_with_incoming_shutdown(svc, incoming, stop),
        )?;
        if self.config.tls.is_some() {
            handle.set_scheme("https");
        }
        self.write_description(Some(handle.local_addr()))?;
        Ok(handle)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

struct ComponentService {
    name: Arc<str>,
    proto: Arc<str>,
    handler: Arc<Handler>,
}

#[tonic::async_trait]
impl component_server::Component for ComponentService {
    async fn process(
        &self,
        req: Request<proto::Payload>,
    ) -> Result<Response<proto::Payload>, Status> {
        let data = Data::from_payload(req.into_inner())?;
        let handler = self.handler.clone();
        // The function may block or take long: keep it off the async workers.
        match tokio::task::spawn_blocking(move || handler(data)).await {
            Ok(Ok(out)) => Ok(Response::new(out.into_payload())),
            Ok(Err(HandlerError::BadInput(m))) => Err(Status::invalid_argument(m)),
            Ok(Err(HandlerError::Failed(m))) => Err(Status::unknown(format!(
                "component {} failed: {m}",
                self.name
            ))),
            Err(e) if e.is_panic() => Err(Status::internal(format!(
                "component {} panicked",
                self.name
            ))),
            Err(_) => Err(Status::cancelled("component call cancelled")),
        }
    }

    async fn describe(
        &self,
        _req: Request<proto::DescribeRequest>,
    ) -> Result<Response<proto::ComponentInfo>, Status> {
        Ok(Response::new(proto::ComponentInfo {
            name: self.name.to_string(),
            proto: self.proto.to_string(),
        }))
    }
}

/// Why a call to a component did not return output (the orchestrator reports it per stage).
pub(crate) enum CallError {
    Unreachable(String),
    Timeout,
    Status(Status),
}

/// Adds `http://` when the URL has no scheme.
pub(crate) fn normalize_url(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

/// The endpoint for `url` (`http://host:port` or `host:port`); an `https://` one uses `tls`
/// (the system's roots by default).
pub(crate) fn endpoint_tls(
    url: &str,
    connect_timeout: Duration,
    tls: &super::ClientTls,
) -> io::Result<Endpoint> {
    let url = normalize_url(url);
    let e = Endpoint::from_shared(url.clone())
        .map(|e| {
            e.connect_timeout(connect_timeout)
                .tcp_nodelay(true)
                .initial_stream_window_size(super::STREAM_WINDOW)
                .initial_connection_window_size(super::CONNECTION_WINDOW)
                .max_frame_size(super::MAX_FRAME)
        })
        .map_err(|e| error::invalid_input(format!("bad server URL {url:?}: {e}")))?;
    if !url.starts_with("https://") {
        return Ok(e);
    }
    e.tls_config(tls.config()).map_err(|e| {
        error::invalid_input(format!(
            "TLS for {url}: {}",
            super::runtime::error_chain(&e)
        ))
    })
}

/// A connection to a served component.
#[derive(Clone, Debug)]
pub struct ComponentClient {
    url: String,
    channel: Channel,
    token: Option<MetadataValue<Ascii>>,
    max_message_size: usize,
}

impl ComponentClient {
    /// Connects to the component at `url` (`http://host:port` or `host:port`); fails with
    /// `ConnectionRefused` if nothing answers within 5 s.
    pub fn connect(url: &str, token: Option<&str>) -> io::Result<Self> {
        Self::connect_tls(url, token, &super::ClientTls::default())
    }

    /// Like [`ComponentClient::connect`], with `tls` for an `https://` URL.
    pub fn connect_tls(url: &str, token: Option<&str>, tls: &super::ClientTls) -> io::Result<Self> {
        let endpoint = endpoint_tls(url, Duration::from_secs(5), tls)?;
        let channel = runtime::block_on(endpoint.connect())?.map_err(|e| {
            error::err(
                io::ErrorKind::ConnectionRefused,
                format!("cannot connect to {url}: {}", runtime::error_chain(&e)),
            )
        })?;
        Self::with_channel(url, channel, token)
    }

    pub(crate) fn with_channel(
        url: &str,
        channel: Channel,
        token: Option<&str>,
    ) -> io::Result<Self> {
        Ok(ComponentClient {
            url: normalize_url(url),
            channel,
            token: token.map(auth::bearer).transpose()?,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        })
    }

    /// Sets the largest message this client sends or accepts (default 64 MiB).
    pub fn with_max_message_size(mut self, limit: usize) -> Self {
        self.max_message_size = limit;
        self
    }

    /// The URL it calls.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `Process` with a JSON value.
    pub fn call(&self, value: Value) -> io::Result<Value> {
        match self.call_data(Data::Json(value))? {
            Data::Json(v) => Ok(v),
            Data::Bytes(_) => Err(error::invalid_data("component answered bytes, not JSON")),
        }
    }

    /// Calls `Process` with JSON or bytes.
    pub fn call_data(&self, data: Data) -> io::Result<Data> {
        runtime::block_on(self.call_async(data, None))?.map_err(|e| match e {
            CallError::Status(s) => io_of_status(&s),
            CallError::Unreachable(m) => error::err(io::ErrorKind::ConnectionRefused, m),
            CallError::Timeout => error::err(io::ErrorKind::TimedOut, "component call timed out"),
        })
    }

    /// The component's name and `.proto` text (`Describe`).
    pub fn describe(&self) -> io::Result<(String, String)> {
        let mut client = component_client::ComponentClient::new(self.channel.clone());
        let req = auth::authorize(Request::new(proto::DescribeRequest {}), &self.token);
        let info = runtime::block_on(client.describe(req))?.map_err(|s| io_of_status(&s))?;
        let info = info.into_inner();
        Ok((info.name, info.proto))
    }

    pub(crate) async fn call_async(
        &self,
        data: Data,
        timeout: Option<Duration>,
    ) -> Result<Data, CallError> {
        let mut client = component_client::ComponentClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_message_size)
            .max_encoding_message_size(self.max_message_size);
        let req = auth::authorize(Request::new(data.into_payload()), &self.token);
        let call = client.process(req);
        let reply = match timeout {
            Some(t) => match tokio::time::timeout(t, call).await {
                Ok(r) => r,
                Err(_) => return Err(CallError::Timeout),
            },
            None => call.await,
        };
        match reply {
            Ok(r) => Data::from_payload(r.into_inner()).map_err(CallError::Status),
            Err(s) if s.code() == tonic::Code::DeadlineExceeded => Err(CallError::Timeout),
            Err(s) if s.code() == tonic::Code::Unavailable => {
                Err(CallError::Unreachable(s.message().to_owned()))
            }
            Err(s) => Err(CallError::Status(s)),
        }
    }
}
