//! What the end-to-end tests of long-running `memfs` processes share (tests/cli_remote.rs and
//! tests/cli_mount.rs include this file by path): a temporary home with a state path, `memfs`
//! commands with a clean environment, and bounded waits on a child's output and exit.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any test waits for a child to print a line or to exit.
pub const WAIT: Duration = Duration::from_secs(30);

/// A temporary directory that is `$HOME` and holds the state file.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `memfs` with a clean environment (no state, token or fault point from the caller's).
    pub fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_memfs"));
        c.env_remove("MEMFS_STATE")
            .env_remove("MEMFS_TOKEN")
            .env_remove("MEMFS_FAULT")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// `memfs --state STATE ARGS`.
    pub fn local(&self, args: &[&str]) -> Output {
        self.bare()
            .arg("--state")
            .arg(self.state())
            .args(args)
            .output()
            .unwrap()
    }

    /// `memfs --state STATE ARGS`, which must succeed; its stdout.
    pub fn local_ok(&self, args: &[&str]) -> String {
        ok(self.local(args), args)
    }
}

/// The stdout of a successful `memfs ARGS`.
pub fn ok(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "memfs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The stderr (`error: ...`) of a failed `memfs ARGS`.
pub fn fails(out: Output, args: &[&str]) -> String {
    assert!(!out.status.success(), "memfs {args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "memfs {args:?}: stderr {err}");
    err
}

/// Spawns `cmd` with stdout and stderr piped; its stdout lines arrive on the receiver.
pub fn spawn_lines(cmd: &mut Command) -> (Child, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits (bounded by [`WAIT`]) for `child` to exit; its status and stderr as text.
pub fn wait_exit(child: &mut Child, what: &str) -> String {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            panic!("{what} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    format!("{status}; stderr: {err}")
}

/// Sends `signal` (`TERM`, `INT`, ...) with `kill`.
pub fn signal(child: &Child, signal: &str) {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid} failed");
}
