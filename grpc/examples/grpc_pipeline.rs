//! The original memfs's pipeline, over real gRPC: a `transform` component and a `format`
//! component, each a Rust closure served on its own port (50051 and 50052, or free ports when
//! those are taken, or the ports given as arguments: `-- 0 0`), chained by the orchestrator.
//! The result is stored in the virtual filesystem, which is then served too and read back
//! through `RemoteFs`.
//!
//! ```sh
//! cargo run --example grpc_pipeline            # ports 50051/50052 if free
//! cargo run --example grpc_pipeline -- 0 0     # any free ports
//! ```

use std::io::{self, ErrorKind};

use memfs_grpc::{Component, ComponentConfig, FsServer, PipelineOrchestrator, RemoteFs};
use serde_json::{json, Value};

fn transform(mut data: Value) -> Result<Value, String> {
    let obj = data
        .as_object_mut()
        .ok_or("transform expects a JSON object")?;
    obj.insert("transformed".into(), json!(true));
    Ok(data)
}

fn format(mut data: Value) -> Result<Value, String> {
    let obj = data.as_object_mut().ok_or("format expects a JSON object")?;
    obj.insert("formatted".into(), json!(true));
    Ok(data)
}

/// The port from the command line, else `default`.
fn port(arg: usize, default: u16) -> io::Result<u16> {
    match std::env::args().nth(arg) {
        Some(p) => p
            .parse()
            .map_err(|_| io::Error::new(ErrorKind::InvalidInput, format!("bad port {p:?}"))),
        None => Ok(default),
    }
}

/// A component on `port`, or on a free port when that one is taken.
fn component(
    fs: &memfs::MemFs,
    name: &str,
    mut port: u16,
    f: fn(Value) -> Result<Value, String>,
) -> io::Result<Component> {
    if port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        println!("port {port} is taken; {name} uses a free port");
        port = 0;
    }
    let config = ComponentConfig::new(format!("/proto/{name}"), format!("/generated/{name}"), port);
    Component::new(name, fs, config, f)
}

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();
    let mut pipeline = PipelineOrchestrator::new();
    pipeline
        .add_component(component(&fs, "transform", port(1, 50051)?, transform)?)
        .add_component(component(&fs, "format", port(2, 50052)?, format)?);
    for addr in pipeline.start_servers()? {
        println!("component listening on {addr}");
    }

    let result = pipeline.execute_pipeline(json!({"input": "data"}))?;
    println!("result: {result}");
    assert_eq!(result["transformed"], json!(true));
    assert_eq!(result["formatted"], json!(true));

    fs.makedirs("/output", true)?;
    fs.writefile("/output/result.json", result.to_string())?;
    for entry in fs.walk("/")? {
        let (dir, _dirs, files) = entry;
        for f in files {
            println!("  {}/{f}", dir.trim_end_matches('/'));
        }
    }

    // The same filesystem, served: another process could read it the same way.
    let server = FsServer::new(fs.clone()).serve("127.0.0.1:0")?;
    let remote = RemoteFs::connect(&server.url(), None)?;
    let back: Value = serde_json::from_slice(&remote.read("/output/result.json")?)
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
    assert_eq!(back, result);
    println!("read back through {}: {back}", server.url());

    server.shutdown()?;
    pipeline.stop_servers()?;
    Ok(())
}
