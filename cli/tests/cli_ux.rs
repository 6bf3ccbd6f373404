//! The command line as a person used to coreutils, grep and bash expects it (issue 17): exit
//! codes, what replaces what, messages that say what happened and what to do, `ln`, `ls -l` of
//! symlinks, `--help` that describes every argument.

use std::process::Output;

use assert_cmd::Command;

#[path = "common/cli_env.rs"]
mod common;

/// The shared test environment, with the checks these tests use.
struct Env(common::Env);

impl Env {
    fn new() -> Self {
        Env(common::Env::new())
    }

    fn state(&self) -> std::path::PathBuf {
        self.0.state()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.0.local(args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.0.local_ok(args)
    }

    /// Runs `args`, which must exit with `code`; returns (stdout, stderr).
    fn status(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "memfs {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }
}

#[test]
fn grep_exits_1_on_no_match_and_has_q_c_l() {
    let env = Env::new();
    env.ok(&["write", "/a.txt", "one needle\nno\nneedle again\n"]);
    env.ok(&["write", "/b.txt", "nothing"]);
    let (out, err) = env.status(&["grep", "absent"], 1);
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    assert_eq!(env.status(&["grep", "needle"], 0).0, "/a.txt\n");
    assert_eq!(env.status(&["grep", "-l", "needle", "/"], 0).0, "/a.txt\n");
    assert_eq!(env.status(&["grep", "-c", "needle"], 0).0, "/a.txt:2\n");
    assert_eq!(env.status(&["grep", "-q", "needle"], 0).0, "");
    assert_eq!(env.status(&["grep", "-q", "absent"], 1).0, "");
    // An error (a missing start) is 1 with a message; a usage error is 2.
    let (_, err) = env.status(&["grep", "x", "/missing"], 1);
    assert!(err.starts_with("error: "), "{err}");
    env.status(&["grep"], 2);
    env.status(&["grep", "-q", "-c", "x"], 2);
}

#[test]
fn snapshot_refuses_to_replace_one_of_the_same_name_without_force() {
    let env = Env::new();
    env.ok(&["write", "/f", "v1"]);
    env.ok(&["snapshot", "s"]);
    env.ok(&["write", "/f", "v2"]);
    let (_, err) = env.status(&["snapshot", "s"], 1);
    assert!(
        err.contains("\"s\" already exists") && err.contains("--force"),
        "{err}"
    );
    env.ok(&["restore", "s"]);
    assert_eq!(env.ok(&["read", "/f"]), "v1");
    env.ok(&["write", "/f", "v3"]);
    env.ok(&["snapshot", "--force", "s"]);
    env.ok(&["write", "/f", "v4"]);
    env.ok(&["restore", "s"]);
    assert_eq!(env.ok(&["read", "/f"]), "v3");
    env.status(&["snapshot", "--force", "--delete", "s"], 2);
}

#[test]
fn init_on_a_non_empty_state_says_what_it_removed() {
    let env = Env::new();
    let (_, err) = env.status(&["init"], 0);
    assert!(!err.contains("emptied"), "{err}");
    env.ok(&["mkdir", "-p", "/a/b"]);
    env.ok(&["write", "/a/f", "x"]);
    let (_, err) = env.status(&["init"], 0);
    assert!(err.contains("removed 1 file and 2 directories"), "{err}");
}

#[test]
fn import_and_export_refuse_to_replace_files_without_force() {
    let env = Env::new();
    let host = env.0.dir.path().join("host");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("sub/a.txt"), "from host").unwrap();
    let h = host.to_str().unwrap();
    assert_eq!(
        env.ok(&["import", h, "/in"]),
        format!("imported 1 file from {h} into /in\n")
    );
    env.ok(&["write", "/in/sub/a.txt", "changed in memfs"]);
    let (_, err) = env.status(&["import", h, "/in"], 1);
    assert!(
        err.contains("/in/sub/a.txt already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(env.ok(&["read", "/in/sub/a.txt"]), "changed in memfs");
    env.ok(&["import", "--force", h, "/in"]);
    assert_eq!(env.ok(&["read", "/in/sub/a.txt"]), "from host");
    // Export: the host file is kept unless --force.
    let out = env.0.dir.path().join("out");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("sub/a.txt"), "host copy").unwrap();
    let o = out.to_str().unwrap();
    let (_, err) = env.status(&["export", "/in", o], 1);
    assert!(err.contains("a.txt already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("sub/a.txt")).unwrap(),
        "host copy"
    );
    env.ok(&["export", "-f", "/in", o]);
    assert_eq!(
        std::fs::read_to_string(out.join("sub/a.txt")).unwrap(),
        "from host"
    );
    env.ok(&["write", "/in/sub/b.txt", "two"]);
    let fresh = env.0.dir.path().join("fresh");
    let f = fresh.to_str().unwrap();
    assert_eq!(
        env.ok(&["export", "/in", f]),
        format!("exported 2 files from /in to {f}\n")
    );
}

#[test]
fn messages_say_what_happened_and_what_to_do() {
    let env = Env::new();
    env.ok(&["mkdir", "/d"]);
    let (_, err) = env.status(&["rm", "-r", "/"], 1);
    assert!(
        err.contains("refusing to remove the root directory"),
        "{err}"
    );
    let (_, err) = env.status(&["write", "", "x"], 2);
    assert!(err.contains("a path cannot be empty"), "{err}");
    let missing = env.0.dir.path().join("no/such/dir/state");
    let out = Command::cargo_bin("memfs")
        .unwrap()
        .env("HOME", env.0.dir.path())
        .arg("--state")
        .arg(&missing)
        .args(["ls", "/"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("the state's directory") && err.contains("does not exist"),
        "{err}"
    );
    // A corrupt state names the way out.
    std::fs::write(
        env.state(),
        b"MEMFSIMG garbage that is not an image at all........",
    )
    .unwrap();
    let (_, err) = env.status(&["ls", "/"], 1);
    assert!(err.contains("init --force"), "{err}");
}

#[test]
fn ln_makes_symlinks_and_hard_links_and_ls_l_shows_them() {
    let env = Env::new();
    env.ok(&["mkdir", "/d"]);
    env.ok(&["write", "/d/target.txt", "hello"]);
    env.ok(&["ln", "-s", "/d/target.txt", "/link.txt"]);
    env.ok(&["mkdir", "/e"]);
    env.ok(&["ln", "-s", "/d/target.txt", "/e"]); // into a directory, under the target's name
    assert_eq!(env.ok(&["read", "/e/target.txt"]), "hello");
    assert_eq!(env.ok(&["read", "/link.txt"]), "hello");
    let (_, err) = env.status(&["ln", "-s", "/x", "/e/target.txt"], 1);
    assert!(err.contains("exists"), "{err}");
    // Without -s, a hard link: one file under two names, across invocations (the state).
    env.ok(&["ln", "/d/target.txt", "/hard"]);
    env.ok(&["append", "/hard", " again"]);
    assert_eq!(env.ok(&["read", "/d/target.txt"]), "hello again");
    assert!(env.ok(&["stat", "/hard"]).contains("Links: 2"));
    let (_, err) = env.status(&["ln", "/d", "/dirlink"], 1);
    assert!(err.contains("directory"), "{err}");
    env.ok(&["rm", "/hard"]);
    assert!(env.ok(&["stat", "/d/target.txt"]).contains("Links: 1"));
    let long = env.ok(&["ls", "-l", "/"]);
    let line = long.lines().find(|l| l.contains("link.txt")).unwrap();
    assert!(
        line.starts_with('l') && line.ends_with("link.txt -> /d/target.txt"),
        "{line}"
    );
    // `ls -l LINK` shows the link itself; `ls LINK` follows it.
    let own = env.ok(&["ls", "-l", "/link.txt"]);
    assert!(
        own.starts_with('l') && own.trim_end().ends_with("-> /d/target.txt"),
        "{own}"
    );
    assert_eq!(env.ok(&["ls", "/link.txt"]), "/link.txt\n");
    env.ok(&["ln", "-s", "/d", "/dirlink"]);
    assert_eq!(env.ok(&["ls", "/dirlink"]), "target.txt\n");
    assert!(env
        .ok(&["ls", "-l", "/dirlink"])
        .trim_end()
        .ends_with("/dirlink -> /d"));
}

#[test]
fn help_describes_every_argument() {
    let env = Env::new();
    for (cmd, words) in [
        ("rm", &["What to remove", "-r, --recursive"][..]),
        ("cp", &["What to copy", "-r, --recursive"][..]),
        ("write", &["The file to write", "standard input"][..]),
        ("find", &["names at any depth", "Where to search"][..]),
        ("grep", &["-q, --quiet", "-c, --count", "Exits 1"][..]),
        ("ln", &["-s, --symbolic", "<TARGET>", "<LINK>"][..]),
        ("snapshot", &["-f, --force", "The snapshot's name"][..]),
    ] {
        let help = env.ok(&[cmd, "--help"]);
        for w in words {
            assert!(help.contains(w), "memfs {cmd} --help lacks {w:?}:\n{help}");
        }
    }
}
