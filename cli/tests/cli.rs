//! End-to-end tests of the `memfs` binary: every command, the original README's session, JSON
//! round trip, corrupt images, concurrent invocations, a crash mid-save, and the shell driven
//! through standard input. Each test uses its own temporary state file.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("memfs").unwrap();
        c.env_remove("MEMFS_STATE")
            .env_remove("MEMFS_FAULT")
            .env("HOME", self.dir.path())
            .arg("--state")
            .arg(self.state());
        c
    }

    /// Runs `args`, requires success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "memfs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `args`, requires failure, returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "memfs {args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "stderr: {err}");
        err
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_original_readme_session() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&["mkdir", "-p", "/data/raw"]);
    env.ok(&["touch", "/data/raw/empty.txt"]);
    env.ok(&["write", "/data/raw/hello.txt", "Hello, memfs!"]);
    assert_eq!(env.ok(&["read", "/data/raw/hello.txt"]), "Hello, memfs!");
    let tree = env.ok(&["tree"]);
    assert_eq!(
        tree,
        "/\n└── data/\n    └── raw/\n        ├── empty.txt\n        └── hello.txt\n\n\
         2 directories, 2 files\n"
    );
    let dump = json(&env.ok(&["dump"]));
    assert_eq!(dump["dirs"], serde_json::json!(["/", "/data", "/data/raw"]));
    assert_eq!(
        dump["files"]["/data/raw/hello.txt"],
        serde_json::json!({"type": "text", "content": "Hello, memfs!"})
    );
    assert_eq!(
        dump["files"]["/data/raw/empty.txt"]["content"],
        serde_json::json!("")
    );
}

#[test]
fn file_and_directory_commands() {
    let env = Env::new();
    env.ok(&["mkdir", "/a"]);
    env.fails(&["mkdir", "/a"]);
    env.fails(&["mkdir", "/x/y"]);
    env.ok(&["write", "/a/f.txt", "one"]);
    env.ok(&["append", "/a/f.txt", " two"]);
    assert_eq!(env.ok(&["cat", "/a/f.txt"]), "one two");
    // `-` reads standard input, bytes as they are.
    env.cmd()
        .args(["write", "/a/bin", "-"])
        .write_stdin(vec![0u8, 255, 10])
        .assert()
        .success();
    assert_eq!(
        env.cmd().args(["read", "/a/bin"]).output().unwrap().stdout,
        [0u8, 255, 10]
    );
    env.cmd()
        .args(["append", "/a/bin", "-"])
        .write_stdin("x")
        .assert()
        .success();
    assert_eq!(env.ok(&["ls", "/a"]), "bin\nf.txt\n");
    let long = env.ok(&["ls", "-l", "/"]);
    assert!(long.starts_with("drwxr-xr-x"), "{long}");
    assert!(long.trim_end().ends_with("a/"), "{long}");
    let stat = env.ok(&["stat", "/a/f.txt"]);
    assert!(stat.contains("Type: regular file"), "{stat}");
    assert!(stat.contains("Size: 7"), "{stat}");
    // touch: creates, then only updates the time.
    env.ok(&["touch", "/a/new"]);
    env.ok(&["touch", "/a/f.txt"]);
    assert_eq!(env.ok(&["read", "/a/new"]), "");
    assert_eq!(env.ok(&["read", "/a/f.txt"]), "one two");
    // cp: a file, into a directory, and a tree.
    env.ok(&["cp", "/a/f.txt", "/g.txt"]);
    env.ok(&["mkdir", "/b"]);
    env.ok(&["cp", "/a/f.txt", "/b"]);
    assert_eq!(env.ok(&["read", "/b/f.txt"]), "one two");
    env.fails(&["cp", "/a", "/c"]);
    env.ok(&["cp", "-r", "/a", "/c"]);
    assert_eq!(env.ok(&["ls", "/c"]), "bin\nf.txt\nnew\n");
    env.fails(&["cp", "-r", "/a", "/a/inside"]);
    // mv: rename, and into a directory.
    env.ok(&["mv", "/g.txt", "/h.txt"]);
    env.fails(&["read", "/g.txt"]);
    env.ok(&["mv", "/h.txt", "/b"]);
    assert_eq!(env.ok(&["read", "/b/h.txt"]), "one two");
    // rm, rm -r, rmdir.
    let err = env.fails(&["rm", "/c"]);
    assert!(err.contains("directory"), "{err}");
    env.ok(&["rm", "/c/new"]);
    env.ok(&["rm", "-r", "/c"]);
    env.fails(&["rmdir", "/b"]);
    env.ok(&["rm", "/b/f.txt"]);
    env.ok(&["rm", "/b/h.txt"]);
    env.ok(&["rmdir", "/b"]);
    assert_eq!(env.ok(&["ls"]), "a/\n");
    // Errors name the path and exit non-zero.
    let err = env.fails(&["read", "/missing"]);
    assert!(err.contains("/missing"), "{err}");
    env.fails(&["read", "/a"]);
}

#[test]
fn find_grep_du_and_help() {
    let env = Env::new();
    env.ok(&["mkdir", "-p", "/src/deep"]);
    env.ok(&["write", "/src/main.rs", "fn main() {}"]);
    env.ok(&["write", "/src/deep/lib.rs", "pub fn lib() {}"]);
    env.ok(&["write", "/notes.txt", "main ideas"]);
    assert_eq!(
        env.ok(&["find", "**/*.rs"]),
        "/src/deep/lib.rs\n/src/main.rs\n"
    );
    assert_eq!(env.ok(&["find", "**/deep/*.rs", "/"]), "/src/deep/lib.rs\n");
    assert_eq!(env.ok(&["find", "*.rs", "/src/deep"]), "/src/deep/lib.rs\n");
    assert_eq!(env.ok(&["grep", "main"]), "/notes.txt\n/src/main.rs\n");
    assert_eq!(
        env.ok(&["grep", "fn", "/src"]),
        "/src/deep/lib.rs\n/src/main.rs\n"
    );
    // du: two copies of a large file are stored once.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    env.cmd()
        .args(["write", "/big1", "-"])
        .write_stdin(big.clone())
        .assert()
        .success();
    env.ok(&["cp", "/big1", "/big2"]);
    let du = env.ok(&["du"]);
    let field = |name: &str| -> u64 {
        du.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(field("files"), 5);
    assert!(field("logical") >= 400_000, "{du}");
    assert!(field("stored") < 250_000, "{du}");
    // Every command has --help; completions print a script.
    for c in [
        "init",
        "tree",
        "ls",
        "mkdir",
        "touch",
        "write",
        "append",
        "read",
        "rm",
        "rmdir",
        "mv",
        "cp",
        "stat",
        "find",
        "grep",
        "dump",
        "load",
        "import",
        "export",
        "snapshot",
        "snapshots",
        "restore",
        "du",
        "completions",
        "shell",
    ] {
        let help = env.ok(&[c, "--help"]);
        assert!(help.contains("Usage: memfs"), "{c}: {help}");
    }
    assert!(env.ok(&["completions", "bash"]).contains("memfs"));
    // A usage error is clap's, non-zero.
    env.cmd().arg("nonsense").assert().failure();
}

#[test]
fn json_round_trip_and_original_plain_form() {
    let env = Env::new();
    env.ok(&["mkdir", "-p", "/d/empty"]);
    env.ok(&["write", "/d/t.txt", "héllo \"quoted\"\n"]);
    env.cmd()
        .args(["write", "/d/b.bin", "-"])
        .write_stdin(vec![0u8, 159, 146, 150, 255])
        .assert()
        .success();
    let dump = env.ok(&["dump"]);
    assert_eq!(json(&dump)["files"]["/d/b.bin"]["type"], "binary");
    let file = env.dir.path().join("dump.json");
    std::fs::write(&file, &dump).unwrap();
    env.ok(&["init"]);
    assert_eq!(env.ok(&["ls"]), "");
    env.ok(&["load", file.to_str().unwrap()]);
    assert_eq!(env.ok(&["dump"]), dump);
    assert_eq!(
        env.cmd()
            .args(["read", "/d/b.bin"])
            .output()
            .unwrap()
            .stdout,
        [0u8, 159, 146, 150, 255]
    );
    // dump of a subtree
    let sub = json(&env.ok(&["dump", "/d/empty"]));
    assert_eq!(sub["dirs"], serde_json::json!(["/d/empty"]));
    // The original README's reset form.
    let plain = env.dir.path().join("plain.json");
    std::fs::write(&plain, r#"{"files": {"/x.txt": "x"}, "dirs": ["/"]}"#).unwrap();
    env.ok(&["load", plain.to_str().unwrap()]);
    assert_eq!(env.ok(&["ls"]), "x.txt\n");
    // A bad document changes nothing and names the file.
    let bad = env.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"files": {"/y": 3}}"#).unwrap();
    let err = env.fails(&["load", bad.to_str().unwrap()]);
    assert!(err.contains("bad.json"), "{err}");
    assert_eq!(env.ok(&["ls"]), "x.txt\n");
}

#[test]
fn the_original_state_json_is_offered_never_silently_imported() {
    let env = Env::new();
    let json_path = PathBuf::from(format!("{}.json", env.state().display()));
    std::fs::write(
        &json_path,
        r#"{"files": {"/old.txt": "from python"}, "dirs": ["/"]}"#,
    )
    .unwrap();
    let out = env.cmd().args(["ls"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("memfs load"), "{err}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    env.ok(&["load", json_path.to_str().unwrap()]);
    assert_eq!(env.ok(&["read", "/old.txt"]), "from python");
}

#[test]
fn import_export_and_snapshots() {
    let env = Env::new();
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("a.txt"), "A").unwrap();
    std::fs::write(host.join("sub/b.txt"), "B").unwrap();
    let out = env.ok(&["import", host.to_str().unwrap(), "/imp"]);
    assert!(out.contains("imported 2 files"), "{out}");
    assert_eq!(env.ok(&["read", "/imp/sub/b.txt"]), "B");
    let back = env.dir.path().join("back");
    env.ok(&["export", "/imp", back.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(back.join("sub/b.txt")).unwrap(),
        "B"
    );
    env.fails(&["import", "/definitely/not/here", "/x"]);

    env.ok(&["snapshot", "before"]);
    env.ok(&["write", "/imp/a.txt", "changed"]);
    env.ok(&["rm", "-r", "/imp/sub"]);
    let list = env.ok(&["snapshots"]);
    assert!(list.starts_with("before\t2 files"), "{list}");
    env.ok(&["restore", "before"]);
    assert_eq!(env.ok(&["read", "/imp/a.txt"]), "A");
    assert_eq!(env.ok(&["read", "/imp/sub/b.txt"]), "B");
    env.fails(&["restore", "nope"]);
    env.ok(&["snapshot", "--delete", "before"]);
    assert_eq!(env.ok(&["snapshots"]), "");
}

#[test]
fn snapshots_share_chunks_in_the_image() {
    let env = Env::new();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    env.cmd()
        .args(["write", "/big", "-"])
        .write_stdin(big.clone())
        .assert()
        .success();
    let one = std::fs::metadata(env.state()).unwrap().len();
    for i in 0..5 {
        env.ok(&["snapshot", &format!("s{i}")]);
    }
    env.ok(&["cp", "/big", "/big2"]);
    let six = std::fs::metadata(env.state()).unwrap().len();
    // Five snapshots and a copy of a 1 MB file add only a few hundred bytes.
    assert!(six < one + 2_000, "{one} -> {six}");
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn corrupt_or_truncated_images_are_refused_and_never_overwritten() {
    let env = Env::new();
    env.ok(&["write", "/keep.txt", "precious"]);
    let good = std::fs::read(env.state()).unwrap();
    for case in ["flip-header", "flip-body", "truncate", "empty"] {
        std::fs::write(env.state(), &good).unwrap();
        match case {
            "flip-header" => flip(&env.state(), 10),
            "flip-body" => flip(&env.state(), good.len() - 3),
            "truncate" => std::fs::write(env.state(), &good[..good.len() / 2]).unwrap(),
            _ => std::fs::write(env.state(), b"").unwrap(),
        }
        let broken = std::fs::read(env.state()).unwrap();
        for args in [
            &["read", "/keep.txt"][..],
            &["write", "/other", "x"],
            &["init"],
            &["ls"],
        ] {
            let err = env.fails(args);
            assert!(
                err.contains(env.state().to_str().unwrap()),
                "{case} {args:?}: {err}"
            );
            assert_eq!(
                std::fs::read(env.state()).unwrap(),
                broken,
                "{case} {args:?}"
            );
        }
    }
    // Only an explicit `init --force` replaces it.
    env.ok(&["init", "--force"]);
    assert_eq!(env.ok(&["ls"]), "");
}

#[test]
fn concurrent_invocations_lose_no_update() {
    let env = Env::new();
    env.ok(&["init"]);
    std::thread::scope(|s| {
        for t in 0..2 {
            let env = &env;
            s.spawn(move || {
                for i in 0..200 {
                    env.ok(&["write", &format!("/t{t}-{i}"), "x"]);
                }
            });
        }
    });
    let names = env.ok(&["ls"]);
    assert_eq!(names.lines().count(), 400);
}

#[test]
fn a_crash_mid_save_leaves_the_old_state() {
    let env = Env::new();
    env.ok(&["write", "/a", "old"]);
    let out = env
        .cmd()
        .env("MEMFS_FAULT", "after-temp-write")
        .args(["write", "/a", "new"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the fault point must kill the writer"
    );
    // The new image was fully written to a temporary file but never renamed.
    assert_eq!(temp_files(&env), 1);
    assert_eq!(env.ok(&["read", "/a"]), "old");
    env.ok(&["write", "/a", "new"]);
    assert_eq!(env.ok(&["read", "/a"]), "new");
    // The next command holding the exclusive lock removed the dead save's temporary file.
    assert_eq!(temp_files(&env), 0);
}

/// Files in the state's directory that look like temporary files of a save.
fn temp_files(env: &Env) -> usize {
    std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp")
        })
        .count()
}

#[test]
fn saves_killed_with_sigkill_leave_no_debris_behind() {
    let env = Env::new();
    // 8 MiB of incompressible bytes: a save takes long enough to be killed in the middle.
    let host = env.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(host.join("big.bin"), &big).unwrap();
    env.ok(&["write", "/kept", "kept"]);
    // An unrelated file that merely looks similar is never touched.
    let other = env.dir.path().join(".other.tmpABCDEF");
    std::fs::write(&other, "not ours").unwrap();
    let mut killed_with_debris = 0;
    for round in 0..30u64 {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("memfs"))
            .env_remove("MEMFS_STATE")
            .env_remove("MEMFS_FAULT")
            .env("HOME", env.dir.path())
            .arg("--state")
            .arg(env.state())
            .args(["import", host.to_str().unwrap(), &format!("/r{round}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the command's life (load, import, encode, write, rename).
        std::thread::sleep(std::time::Duration::from_millis(5 + round * 7 % 120));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if temp_files(&env) > 1 {
            killed_with_debris += 1;
        }
    }
    // The state is intact (the old one or a newer one, never a torn one)...
    assert_eq!(env.ok(&["read", "/kept"]), "kept");
    // ...and the next command that takes the exclusive lock clears every dead save's file.
    env.ok(&["write", "/after", "x"]);
    assert_eq!(temp_files(&env), 1, "only the unrelated file may remain");
    assert!(other.exists());
    eprintln!("{killed_with_debris} of 30 kills left a temporary file before cleanup");
}

#[test]
fn the_shell_driven_through_stdin() {
    let env = Env::new();
    env.ok(&["mkdir", "-p", "/home/u"]);
    let script = "\
pwd
cd /home/u
pwd
write 'my notes.txt' \"two words\"
cat 'my notes.txt'
bogus-command
cd /nowhere
write x 'unbalanced
mkdir sub
cd sub
cd ..
ls
snapshot s
rm 'my notes.txt'
restore s
ls
help
save
";
    let out = env.cmd().arg("shell").write_stdin(script).output().unwrap();
    // Every line ran; three failed, so the script's status is 1.
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.starts_with("/\n/home/u\ntwo words"),
        "stdout: {stdout}"
    );
    assert!(
        stdout.contains("my notes.txt\nsub/\nmy notes.txt\nsub/\n"),
        "{stdout}"
    );
    assert!(stdout.contains("builtins: cd"), "{stdout}");
    assert!(
        stderr.contains("unrecognized subcommand 'bogus-command'"),
        "{stderr}"
    );
    assert!(stderr.contains("/nowhere"), "{stderr}");
    assert!(stderr.contains("unbalanced quotes"), "{stderr}");
    // Saved: visible to the next invocation, snapshot included.
    assert_eq!(env.ok(&["read", "/home/u/my notes.txt"]), "two words");
    assert!(env.ok(&["snapshots"]).starts_with("s\t"));
}

#[test]
fn the_shell_refuses_to_overwrite_a_concurrent_change() {
    use std::io::Write;
    let env = Env::new();
    env.ok(&["write", "/a", "1"]);
    let mut shell = std::process::Command::new(assert_cmd::cargo::cargo_bin("memfs"))
        .arg("--state")
        .arg(env.state())
        .arg("shell")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = shell.stdin.take().unwrap();
    stdin.write_all(b"write /from-shell x\npwd\n").unwrap();
    stdin.flush().unwrap();
    // Wait until the shell has loaded the state (it answered `pwd`).
    let mut stdout = shell.stdout.take().unwrap();
    let mut first = [0u8; 2];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"/\n");
    env.ok(&["write", "/from-cli", "y"]);
    drop(stdin); // end of input: the shell tries to save
    let out = shell.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("changed by another memfs process"), "{err}");
    assert_eq!(env.ok(&["read", "/from-cli"]), "y");
    env.fails(&["read", "/from-shell"]);
    // The shell's work is kept aside, not lost.
    let aside = format!("{}.unsaved", env.state().display());
    assert!(err.contains(&aside), "{err}");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("memfs"))
        .args(["--state", &aside, "read", "/from-shell"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"x");
}

#[test]
fn state_location_from_the_environment() {
    let env = Env::new();
    let other = env.dir.path().join("via-env");
    let mut c = Command::cargo_bin("memfs").unwrap();
    c.env("MEMFS_STATE", &other)
        .args(["write", "/e", "env"])
        .assert()
        .success();
    assert!(other.exists());
    let mut c = Command::cargo_bin("memfs").unwrap();
    let out = c
        .env_remove("MEMFS_STATE")
        .env("HOME", env.dir.path())
        .args(["write", "/h", "home"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env.dir.path().join(".memfs_state").exists());
}

#[test]
fn diff_lists_what_changed_between_snapshots_and_since_one() {
    let env = Env::new();
    env.ok(&["init"]);
    env.ok(&["mkdir", "-p", "/keep/sub"]);
    env.ok(&["write", "/keep/a", "1"]);
    env.ok(&["write", "/gone", "x"]);
    env.ok(&["snapshot", "v1"]);
    env.ok(&["write", "/keep/a", "2"]);
    env.ok(&["write", "/new", "n"]);
    env.ok(&["rm", "/gone"]);
    env.ok(&["snapshot", "v2"]);
    env.ok(&["rm", "-r", "/keep/sub"]);
    let between = env.ok(&["diff", "v1", "v2"]);
    assert_eq!(between, "M /\nD /gone\nM /keep/a\nA /new\n");
    let since = env.ok(&["diff", "v2"]);
    assert_eq!(since, "M /keep\nD /keep/sub\n");
    let json = json(&env.ok(&["diff", "v1", "v2", "--json"]));
    assert_eq!(
        json,
        serde_json::json!([
            {"path": "/", "change": "modified"},
            {"path": "/gone", "change": "removed"},
            {"path": "/keep/a", "change": "modified"},
            {"path": "/new", "change": "added"},
        ])
    );
    // Nothing changed: no output, still success.
    env.ok(&["snapshot", "v3"]);
    assert_eq!(env.ok(&["diff", "v3"]), "");
    let err = env.fails(&["diff", "nope", "v1"]);
    assert!(err.contains("\"nope\""), "{err}");
    let err = env.fails(&["diff", "v1", "nope2"]);
    assert!(err.contains("\"nope2\""), "{err}");
}

#[test]
fn init_with_a_quota_keeps_it_in_the_state_and_refuses_what_does_not_fit() {
    let env = Env::new();
    env.ok(&["init", "--max-bytes", "8K", "--max-inodes", "4"]);
    env.ok(&["write", "/a", &"x".repeat(5000)]);
    let err = env.fails(&["write", "/b", &"y".repeat(4000)]);
    assert!(err.contains("no space left"), "{err}");
    assert_eq!(env.ok(&["ls", "/"]), "a\n");
    env.ok(&["mkdir", "/d"]);
    env.ok(&["touch", "/d/e"]);
    let err = env.fails(&["touch", "/f"]);
    assert!(err.contains("no space left"), "{err}");
    let du = env.ok(&["du"]);
    assert!(du.contains("quota bytes  5000 of 8192"), "{du}");
    assert!(du.contains("quota inodes 4 of 4 used"), "{du}");
    env.ok(&["rm", "/a"]);
    env.ok(&["write", "/b", &"y".repeat(4000)]);
    // Sizes that are not sizes are refused by name; `init` without limits removes them.
    for bad in ["12Q", "-1", "1.5G", ""] {
        let err = env.fails(&["init", &format!("--max-bytes={bad}")]);
        assert!(err.contains("invalid size"), "{bad}: {err}");
    }
    let err = env.fails(&["init", "--max-inodes", "many"]);
    assert!(err.contains("many"), "{err}");
    env.ok(&["init"]);
    env.ok(&["write", "/big", &"z".repeat(20_000)]);
    assert!(!env.ok(&["du"]).contains("quota"));
}

#[test]
fn push_pull_and_remote_ls_through_a_local_directory_store() {
    let a = Env::new();
    let b = Env::new();
    let url = format!("file://{}", a.dir.path().join("store").display());
    a.ok(&["mkdir", "-p", "/data/x"]);
    a.ok(&["write", "/data/x/f", "hello"]);
    a.ok(&["snapshot", "v1"]);
    a.ok(&["write", "/data/x/g", "more"]);
    let out = a.ok(&["push", &url, "main", "v1"]);
    assert!(out.starts_with("pushed main version 1 to "), "{out}");
    let out = a.ok(&["push", &url, "main"]);
    // The second push uploads the new file and the three directories on its path only.
    assert!(
        out.contains("version 2") && out.contains(": 4 of "),
        "{out}"
    );
    let ls = a.ok(&["remote", "ls", &url]);
    assert!(ls.starts_with("main\tversion 2\t2 files\t9 bytes"), "{ls}");

    let out = b.ok(&["pull", &url, "main"]);
    assert!(out.contains("as snapshot main"), "{out}");
    b.ok(&["restore", "main"]);
    assert_eq!(b.ok(&["read", "/data/x/g"]), "more");
    let err = b.fails(&["pull", &url, "main"]);
    assert!(err.contains("already exists"), "{err}");
    b.ok(&["write", "/local", "x"]);
    b.ok(&["pull", "--restore", &url, "main"]);
    assert_eq!(b.ok(&["read", "/data/x/f"]), "hello");
    b.fails(&["read", "/local"]);
    let err = b.fails(&["pull", &url, "nope"]);
    assert!(err.contains("no ref named \"nope\""), "{err}");
    let err = b.fails(&["push", "ftp://x", "main"]);
    assert!(err.contains("unsupported scheme"), "{err}");
}

#[test]
fn chmod_chown_and_mkfifo() {
    let env = Env::new();
    env.ok(&["write", "/f", "x"]);
    env.ok(&["chmod", "4755", "/f"]);
    env.ok(&["chown", "1234:99", "/f"]);
    let st = env.ok(&["stat", "/f"]);
    assert!(st.contains("Uid: 1234   Gid: 99"), "{st}");
    assert!(st.contains("Mode: 0755"), "chown clears set-user-ID: {st}");
    env.ok(&["chown", ":7", "/f"]);
    assert!(env.ok(&["stat", "/f"]).contains("Uid: 1234   Gid: 7"));
    env.ok(&["mkfifo", "-m", "600", "/pipe"]);
    let st = env.ok(&["stat", "/pipe"]);
    assert!(
        st.contains("Type: fifo") && st.contains("Mode: 0600"),
        "{st}"
    );
    let ls = env.ok(&["ls", "-l", "/"]);
    assert!(ls.lines().any(|l| l.starts_with("prw-------")), "{ls}");
    let err = env.fails(&["read", "/pipe"]);
    assert!(err.contains("special file"), "{err}");
    let err = env.fails(&["chmod", "999", "/f"]);
    assert!(err.contains("octal"), "{err}");
    let err = env.fails(&["chown", "bob", "/f"]);
    assert!(err.contains("numeric"), "{err}");
    let err = env.fails(&["chown", "1:1", "/missing"]);
    assert!(err.contains("/missing"), "{err}");
}
