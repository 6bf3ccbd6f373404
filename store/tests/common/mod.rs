//! The S3-protocol server the tests and the benchmark start: moto's S3 (`s3_server.py`) on
//! loopback, with the bucket `memfs`. Needs a Python with `moto[server]`: `MEMFS_TEST_PYTHON`,
//! or the venv `.ci/test` makes (`target/python-venv`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use memfs_store::{Options, RetryConfig};

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MEMFS_TEST_PYTHON") {
        return p.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/python-venv/bin/python")
}

pub fn start_server() -> Server {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/s3_server.py");
    let mut child = Command::new(python())
        .arg(&script)
        .arg("memfs")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the S3 test server with {}: {e} (run .ci/test, which installs \
                 moto[server] in target/python-venv, or set MEMFS_TEST_PYTHON)",
                python().display()
            )
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("S3 test server did not start: {line:?}"));
    Server { child, port }
}

/// One server for the whole test binary (each test uses its own prefix); killed when the
/// binary exits (the static's child is reaped by the `Drop` of nothing: see `s3_server.py`,
/// which exits when its parent does).
pub fn server() -> &'static Mutex<Server> {
    static SERVER: OnceLock<Mutex<Server>> = OnceLock::new();
    SERVER.get_or_init(|| Mutex::new(start_server()))
}

pub fn s3_options(port: u16, retry: RetryConfig) -> Options {
    Options {
        concurrency: 8,
        retry,
        config: [
            ("aws_endpoint", format!("http://127.0.0.1:{port}")),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "test".into()),
            ("aws_secret_access_key", "test".into()),
            ("aws_region", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    }
}
