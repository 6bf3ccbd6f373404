#![cfg(feature = "fuse")]
//! End-to-end tests of `memfs mount`: a child process mounts a temporary state on a temporary
//! directory, files are written through the mountpoint with `std::fs`, the mount is stopped
//! from outside (`fusermount3 -u`) or with SIGTERM/SIGINT, and the saved state is checked with
//! `memfs read`; a remount shows identical contents; with `--serve` (feature `grpc`) a snapshot
//! is taken and restored through `--remote` while mounted. Every wait is bounded. Where
//! `/dev/fuse` is missing each test prints why it is skipped and returns.

#[path = "common/cli_env.rs"]
mod cli_env;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cli_env::{spawn_lines, wait_exit, Env, WAIT};

fn fuse_missing() -> bool {
    if Path::new("/dev/fuse").exists() {
        return false;
    }
    eprintln!("SKIPPED: /dev/fuse is missing, FUSE cannot be used here");
    true
}

/// An [`Env`] with an empty mountpoint `mnt` beside the state.
fn mount_env() -> Env {
    let env = Env::new();
    std::fs::create_dir(env.mnt()).unwrap();
    env
}

impl Env {
    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// Starts `memfs --state STATE mount MNT EXTRA` and waits for `mounted on` (and, with
    /// `--serve`, for `listening on`).
    fn mount(&self, extra: &[&str]) -> Mount {
        let (child, rx) = spawn_lines(
            self.bare()
                .arg("--state")
                .arg(self.state())
                .arg("mount")
                .arg(self.mnt())
                .args(extra),
        );
        let mut m = Mount {
            child,
            mnt: self.mnt(),
            url: None,
        };
        let serving = extra.contains(&"--serve");
        let mut mounted = false;
        let deadline = Instant::now() + WAIT;
        while !mounted || (serving && m.url.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("mounted on ") => mounted = true,
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        m.url = Some(format!("http://{addr}"));
                    }
                }
                Err(_) => {
                    let _ = m.child.kill();
                    let out = m.wait_exit();
                    panic!("`memfs mount` did not report the mount: {out}");
                }
            }
        }
        m
    }
}

/// A `memfs mount` child; unmounted and killed if a test fails before stopping it.
struct Mount {
    child: Child,
    mnt: PathBuf,
    url: Option<String>,
}

impl Mount {
    /// Waits (bounded) for the exit; returns its status and stderr as text.
    fn wait_exit(&mut self) -> String {
        wait_exit(&mut self.child, "`memfs mount`")
    }

    /// Sends `signal` (by `kill -SIG`) and waits for a successful exit; returns stderr.
    fn stop_with(&mut self, signal: &str) -> String {
        cli_env::signal(&self.child, signal);
        self.expect_clean_exit()
    }

    /// Unmounts from outside, as a user would, and waits for a successful exit.
    fn unmount_outside(&mut self) -> String {
        self.unmount_only();
        self.expect_clean_exit()
    }

    /// Unmounts from outside (`fusermount3 -u`, else `umount`), without waiting for the exit.
    fn unmount_only(&self) {
        let out = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .output()
            .or_else(|_| Command::new("umount").arg(&self.mnt).output())
            .unwrap();
        assert!(
            out.status.success(),
            "fusermount3 -u failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn expect_clean_exit(&mut self) -> String {
        let out = self.wait_exit();
        assert!(out.starts_with("exit status: 0"), "memfs mount: {out}");
        out
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = Command::new("fusermount3")
                .args(["-u", "-z"])
                .arg(&self.mnt)
                .output();
        }
    }
}

/// Every file and directory under `root` (relative paths; files with their bytes).
fn contents(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, None);
                stack.push(e.path());
            } else {
                out.insert(rel, Some(std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// Polls (bounded) until `cond` holds; the kernel may cache names for the mount's TTL.
#[cfg(feature = "grpc")]
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn writes_through_the_mount_are_saved_and_a_remount_shows_them() {
    if fuse_missing() {
        return;
    }
    let env = mount_env();
    env.local_ok(&["write", "/before.txt", "from the CLI"]);
    env.local_ok(&["snapshot", "old"]);

    let mut m = env.mount(&[]);
    let mnt = env.mnt();
    assert_eq!(
        std::fs::read(mnt.join("before.txt")).unwrap(),
        b"from the CLI"
    );
    std::fs::create_dir_all(mnt.join("dir/sub")).unwrap();
    std::fs::write(mnt.join("dir/a.txt"), b"alpha\n").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(mnt.join("dir/sub/big.bin"), &big).unwrap();
    std::fs::rename(mnt.join("before.txt"), mnt.join("renamed.txt")).unwrap();

    // The state is locked while mounted: other invocations fail at once, naming the mount.
    let busy = env.local(&["ls", "/"]);
    assert!(!busy.status.success());
    let msg = String::from_utf8_lossy(&busy.stderr);
    assert!(msg.contains("`memfs mount`"), "{msg}");

    let seen = contents(&mnt);
    let err = m.unmount_outside();
    assert!(err.contains("saved"), "{err}");
    assert!(contents(&mnt).is_empty(), "the mountpoint is empty again");

    assert_eq!(env.local_ok(&["read", "/dir/a.txt"]), "alpha\n");
    assert_eq!(
        env.local_ok(&["read", "/renamed.txt"]).as_bytes(),
        b"from the CLI"
    );
    assert!(!env.local(&["read", "/before.txt"]).status.success());
    assert!(
        env.local_ok(&["snapshots"]).contains("old"),
        "snapshots kept"
    );

    // Remount from the saved state: identical contents; an unchanged state is not rewritten.
    let mut m = env.mount(&[]);
    assert_eq!(contents(&mnt), seen);
    assert_eq!(
        std::fs::read(mnt.join("dir/sub/big.bin")).unwrap(),
        big,
        "large file intact"
    );
    let err = m.stop_with("TERM");
    assert!(err.contains("SIGTERM"), "{err}");
    assert!(
        !err.contains("saved"),
        "nothing changed, nothing saved: {err}"
    );
}

#[test]
fn sigint_saves_and_read_only_refuses_writes() {
    if fuse_missing() {
        return;
    }
    let env = mount_env();
    let mut m = env.mount(&["--threads", "2"]);
    std::fs::write(env.mnt().join("f"), b"one").unwrap();
    // A file open on the mount makes it busy: a signal then leaves it mounted and running.
    {
        let open = std::fs::File::open(env.mnt().join("f")).unwrap();
        let ok = Command::new("kill")
            .args(["-INT", &m.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(500));
        assert!(m.child.try_wait().unwrap().is_none(), "exited while busy");
        let mut text = String::new();
        (&open).read_to_string(&mut text).unwrap();
        assert_eq!(text, "one");
    }
    let err = m.stop_with("INT");
    assert!(err.contains("SIGINT") && err.contains("saved"), "{err}");
    assert_eq!(env.local_ok(&["read", "/f"]), "one");

    let mut m = env.mount(&["--read-only"]);
    assert_eq!(std::fs::read(env.mnt().join("f")).unwrap(), b"one");
    let e = std::fs::write(env.mnt().join("g"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(30), "EROFS: {e}");
    m.stop_with("TERM");
    assert!(!env.local(&["read", "/g"]).status.success());
}

#[test]
fn bad_invocations_fail_cleanly() {
    let env = mount_env();
    let out = env
        .bare()
        .args(["--remote", "http://127.0.0.1:1", "mount"])
        .arg(env.mnt())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("not supported with --remote"), "{msg}");

    let out = env.local(&["mount", "--threads", "0", "x"]);
    assert_eq!(out.status.code(), Some(2), "usage error");

    if fuse_missing() {
        return;
    }
    let missing = env.dir.path().join("no-such-dir");
    let out = env.local(&["mount", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("cannot mount on"), "{msg}");
    // The lock note of the failed mount is cleared: the state is usable at once.
    env.local_ok(&["ls", "/"]);
}

#[cfg(feature = "grpc")]
#[test]
fn snapshot_and_restore_through_remote_while_mounted() {
    if fuse_missing() {
        return;
    }
    let env = mount_env();
    let mut m = env.mount(&["--serve", "127.0.0.1:0"]);
    let url = m.url.clone().unwrap();
    let mnt = env.mnt();
    let remote = |args: &[&str]| {
        let out = env
            .bare()
            .arg("--remote")
            .arg(&url)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "memfs --remote {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    std::fs::write(mnt.join("doc.txt"), b"version 1").unwrap();
    // Written through FUSE, seen at once by the gRPC server (the same MemFs).
    assert_eq!(remote(&["read", "/doc.txt"]), "version 1");
    remote(&["snapshot", "v1"]);
    std::fs::write(mnt.join("doc.txt"), b"version 2").unwrap();
    std::fs::write(mnt.join("extra.txt"), b"later").unwrap();
    assert_eq!(remote(&["read", "/doc.txt"]), "version 2");

    remote(&["restore", "v1"]);
    assert_eq!(remote(&["read", "/doc.txt"]), "version 1");
    eventually("the restore to show through the mount", || {
        std::fs::read(mnt.join("doc.txt")).ok().as_deref() == Some(b"version 1")
            && !mnt.join("extra.txt").exists()
    });

    let err = m.stop_with("TERM");
    assert!(err.contains("saved"), "{err}");
    assert_eq!(env.local_ok(&["read", "/doc.txt"]), "version 1");
    assert!(env.local_ok(&["snapshots"]).contains("v1"));
}

#[test]
fn mount_from_a_store_reads_lazily_and_pushes_changes_on_unmount() {
    if fuse_missing() {
        return;
    }
    let env = mount_env();
    let store = env.dir.path().join("store");
    let url = format!("file://{}", store.display());
    env.local_ok(&["mkdir", "-p", "/data/x"]);
    env.local_ok(&["write", "/data/x/f", "hello"]);
    env.local_ok(&["push", &url, "main"]);
    let mnt = env.mnt();

    // Read-only by default: the files read through the mount, writes are EROFS.
    let mut m = env.mount(&["--from", &url, "main"]);
    assert_eq!(std::fs::read(mnt.join("data/x/f")).unwrap(), b"hello");
    let e = std::fs::write(mnt.join("g"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(30), "EROFS: {e}");
    // No state is locked: the CLI works on the state meanwhile.
    env.local_ok(&["ls", "/"]);
    let err = m.unmount_outside();
    assert!(
        err.contains("version 1") && err.contains("read-only"),
        "{err}"
    );
    assert!(!err.contains("pushed main"), "{err}");

    // --push: a change is pushed as the next version on unmount.
    let mut m = env.mount(&["--from", &url, "main", "--push", "--cache", "1M"]);
    std::fs::write(mnt.join("data/new.txt"), b"written on the mount").unwrap();
    let err = m.unmount_outside();
    assert!(err.contains("pushed main version 2"), "{err}");
    let ls = env.local_ok(&["remote", "ls", &url]);
    assert!(ls.starts_with("main\tversion 2\t2 files"), "{ls}");
    env.local_ok(&["pull", "--restore", &url, "main"]);
    assert_eq!(
        env.local_ok(&["read", "/data/new.txt"]),
        "written on the mount"
    );

    // Unchanged: nothing pushed.
    let mut m = env.mount(&["--from", &url, "main", "--push"]);
    let err = m.unmount_outside();
    assert!(!err.contains("pushed main"), "{err}");

    // Someone else pushes while mounted: the push on unmount is a conflict, and the tree
    // is kept in a state file of its own, from which it can still be pushed.
    let mut m = env.mount(&["--from", &url, "main", "--push"]);
    std::fs::write(mnt.join("mine"), b"not lost").unwrap();
    env.local_ok(&["write", "/theirs", "x"]);
    env.local_ok(&["push", &url, "main"]);
    m.unmount_only();
    let err = m.wait_exit();
    assert!(!err.starts_with("exit status: 0"), "{err}");
    assert!(err.contains("saved in"), "{err}");
    let kept = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".unpushed-main-"))
        .expect("the unpushed tree is kept");
    let out = env
        .bare()
        .arg("--state")
        .arg(&kept)
        .args(["read", "/mine"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "not lost");
    let ls = env.local_ok(&["remote", "ls", &url]);
    assert!(ls.starts_with("main\tversion 3"), "theirs stays: {ls}");

    let out = env.local(&["mount", "--push", "x"]);
    assert_eq!(out.status.code(), Some(2), "--push needs --from");
}
