#![cfg(feature = "grpc")]
//! End-to-end tests of `memfs serve` and `memfs --remote`: a server child process on an
//! ephemeral loopback port over a temporary state, file commands run against it, the token
//! enforced, other invocations on the served state refused, unsupported commands refused
//! cleanly, and the state saved (tree and named snapshots) when the server gets SIGTERM or
//! SIGINT. Every wait is bounded.

#[path = "common/cli_env.rs"]
mod cli_env;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use cli_env::{fails, ok, spawn_lines, wait_exit, Env, WAIT};

/// Starts `memfs --state STATE serve --addr 127.0.0.1:0 EXTRA` and waits for its address.
fn serve(env: &Env, extra: &[&str]) -> Server {
    let (child, rx) = spawn_lines(
        env.bare()
            .arg("--state")
            .arg(env.state())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra),
    );
    let mut server = Server { child, url: None };
    let deadline = std::time::Instant::now() + WAIT;
    while server.url.is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    server.url = Some(format!("http://{addr}"));
                }
            }
            Err(_) => {
                let _ = server.child.kill();
                let out = wait_exit(&mut server.child, "the server");
                panic!("the server printed no address: {out}");
            }
        }
    }
    server
}

/// A `memfs serve` child; killed if a test fails before stopping it.
struct Server {
    child: Child,
    url: Option<String>,
}

impl Server {
    fn url(&self) -> &str {
        self.url.as_deref().unwrap()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for a successful exit; returns its stderr.
    fn stop(mut self, signal: &str) -> String {
        cli_env::signal(&self.child, signal);
        let out = wait_exit(&mut self.child, "the server");
        assert!(out.starts_with("exit status: 0"), "server exit {out}");
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of one server with one token.
struct Client<'a> {
    env: &'a Env,
    url: String,
    token: Option<&'a str>,
}

impl Client<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut c = self.env.bare();
        c.arg("--remote").arg(&self.url);
        if let Some(t) = self.token {
            c.args(["--token", t]);
        }
        c.args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        ok(self.run(args), args)
    }
    fn fails(&self, args: &[&str]) -> String {
        fails(self.run(args), args)
    }
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn remote_commands_token_and_save_on_sigterm() {
    let env = Env::new();
    env.local_ok(&["write", "/before", "from the state"]);
    let server = serve(&env, &["--token", "s3cret"]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: Some("s3cret"),
    };

    // What was in the state is served.
    assert_eq!(c.ok(&["read", "/before"]), "from the state");

    c.ok(&["mkdir", "/docs"]);
    c.ok(&["mkdir", "-p", "/deep/er/est"]);
    c.ok(&["write", "/docs/a.txt", "alpha"]);
    c.ok(&["append", "/docs/a.txt", "+beta"]);
    assert_eq!(c.ok(&["cat", "/docs/a.txt"]), "alpha+beta");
    c.ok(&["touch", "/docs/empty"]);
    c.ok(&["cp", "/docs/a.txt", "/docs/copy.txt"]);
    c.ok(&["mv", "/docs/copy.txt", "/deep"]);
    assert_eq!(c.ok(&["read", "/deep/copy.txt"]), "alpha+beta");
    assert_eq!(
        sorted_lines(&c.ok(&["ls", "/"])),
        ["before", "deep/", "docs/"]
    );
    assert_eq!(sorted_lines(&c.ok(&["ls", "/docs"])), ["a.txt", "empty"]);
    let long = c.ok(&["ls", "-l", "/docs"]);
    assert!(long.contains("-rw-r--r--         10 "), "{long}");
    let stat = c.ok(&["stat", "/docs/a.txt"]);
    assert!(stat.contains("Type: regular file"), "{stat}");
    assert!(stat.contains("Size: 10"), "{stat}");
    assert!(c.ok(&["stat", "/docs"]).contains("Type: directory"));
    let tree = c.ok(&["tree", "/deep"]);
    assert!(tree.contains("copy.txt") && tree.contains("est/"), "{tree}");

    // Snapshot, change, restore.
    c.ok(&["snapshot", "v1"]);
    assert_eq!(c.ok(&["snapshots"]), "v1\t4 files\t5 dirs\t34 bytes\n");
    c.ok(&["write", "/docs/a.txt", "changed"]);
    c.ok(&["rm", "/before"]);
    c.ok(&["rm", "-r", "/deep"]);
    assert_eq!(sorted_lines(&c.ok(&["ls", "/"])), ["docs/"]);
    c.ok(&["restore", "v1"]);
    assert_eq!(c.ok(&["read", "/docs/a.txt"]), "alpha+beta");
    assert_eq!(c.ok(&["read", "/before"]), "from the state");
    c.ok(&["snapshot", "doomed"]);
    c.ok(&["snapshot", "--delete", "doomed"]);
    c.ok(&["rm", "/docs/empty"]);
    c.ok(&["rmdir", "/deep/er/est"]);

    // Errors come back with the server's kind, as `error: ...` and a failing status.
    let err = c.fails(&["read", "/nope"]);
    assert!(
        err.contains("no such file") && err.contains("/nope"),
        "{err}"
    );
    assert!(c.fails(&["rm", "/docs"]).contains("rm -r"));
    assert!(c.fails(&["restore", "nope"]).contains("nope"));

    // The token is required.
    for token in [None, Some("wrong")] {
        let bad = Client {
            env: &env,
            url: server.url().to_owned(),
            token,
        };
        let err = bad.fails(&["read", "/docs/a.txt"]);
        assert!(err.contains("UNAUTHENTICATED"), "{err}");
        bad.fails(&["write", "/intruder", "x"]);
    }
    // ... and may come from $MEMFS_TOKEN.
    let out = env
        .bare()
        .env("MEMFS_TOKEN", "s3cret")
        .args(["--remote", server.url(), "read", "/docs/a.txt"])
        .output()
        .unwrap();
    assert_eq!(ok(out, &["read with $MEMFS_TOKEN"]), "alpha+beta");

    // find and grep walk the remote tree with the local rules.
    assert_eq!(c.ok(&["find", "*.txt"]), "/deep/copy.txt\n/docs/a.txt\n");
    assert_eq!(c.ok(&["find", "docs/*"]), "/docs/a.txt\n");
    assert_eq!(c.ok(&["find", "*", "/deep"]), "/deep/copy.txt\n");
    assert_eq!(c.ok(&["find", "/deep/**"]), "/deep/copy.txt\n");
    assert_eq!(c.ok(&["grep", "beta"]), "/deep/copy.txt\n/docs/a.txt\n");
    assert_eq!(c.ok(&["grep", "state", "/"]), "/before\n");
    // No match: exit status 1 and no output, as grep(1).
    let none = c.run(&["grep", "absent"]);
    assert_eq!((none.status.code(), none.stdout.len()), (Some(1), 0));
    assert!(c.fails(&["find", "[", "/"]).contains("invalid glob"));
    // Compared with the local commands on the saved state below.
    let searches: [&[&str]; 6] = [
        &["find", "*"],
        &["find", "**/*t*"],
        &["find", "e*/*", "/deep"],
        &["grep", "a"],
        &["grep", "", "/docs"],
        &["find", "a.txt", "/docs"],
    ];
    let remote_found: Vec<String> = searches.iter().map(|a| c.ok(a)).collect();
    let du = c.ok(&["du"]);
    let du_head: Vec<&str> = du.lines().take(4).collect();
    assert_eq!(du_head[0], "files        3", "{du}");

    // What the remote API lacks is refused cleanly.
    for args in [
        &["dump"][..],
        &["load", "/dev/null"],
        &["import", "/tmp", "/x"],
        &["export", "/", "/tmp/never-written-by-memfs-tests"],
        &["init"],
        &["shell"],
    ] {
        let err = c.fails(args);
        assert!(
            err.contains("not supported with --remote"),
            "{args:?}: {err}"
        );
    }

    // The served state is locked: local invocations and a second server fail at once, naming
    // the server.
    let err = fails(env.local(&["ls"]), &["ls"]);
    assert!(
        err.contains("memfs serve") && err.contains(server.url()),
        "{err}"
    );
    let err = fails(env.local(&["write", "/x", "y"]), &["write"]);
    assert!(err.contains("--remote"), "{err}");
    let err = fails(
        env.local(&["serve", "--addr", "127.0.0.1:0"]),
        &["second serve"],
    );
    assert!(err.contains("locked"), "{err}");

    let log = server.stop("TERM");
    assert!(log.contains("SIGTERM") && log.contains("saved"), "{log}");

    // The state now holds what was written remotely, and the snapshot taken remotely.
    assert_eq!(env.local_ok(&["read", "/docs/a.txt"]), "alpha+beta");
    assert_eq!(env.local_ok(&["read", "/before"]), "from the state");
    assert_eq!(env.local_ok(&["read", "/deep/copy.txt"]), "alpha+beta");
    assert_eq!(
        sorted_lines(&env.local_ok(&["ls", "/deep/er"])),
        Vec::<&str>::new()
    );
    for (args, remote) in searches.iter().zip(&remote_found) {
        assert_eq!(&env.local_ok(args), remote, "{args:?}");
    }
    let local_du = env.local_ok(&["du"]);
    assert_eq!(local_du.lines().take(4).collect::<Vec<_>>(), du_head);
    let snaps = env.local_ok(&["snapshots"]);
    assert!(snaps.starts_with("v1\t"), "{snaps}");
    assert_eq!(snaps.lines().count(), 1, "{snaps}");
    env.local_ok(&["write", "/docs/a.txt", "local again"]);
    env.local_ok(&["restore", "v1"]);
    assert_eq!(env.local_ok(&["read", "/docs/a.txt"]), "alpha+beta");
}

#[test]
fn saved_snapshots_are_served_and_sigint_saves() {
    let env = Env::new();
    env.local_ok(&["write", "/f", "one"]);
    env.local_ok(&["snapshot", "old"]);
    env.local_ok(&["write", "/f", "two"]);
    let server = serve(&env, &[]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: None,
    };
    assert_eq!(c.ok(&["snapshots"]), "old\t1 files\t1 dirs\t3 bytes\n");
    // diff over --remote: the server diffs its own versions, same output as locally.
    assert_eq!(c.ok(&["diff", "old"]), "M /f\n");
    assert_eq!(
        c.ok(&["diff", "old", "--json"]).trim(),
        r#"[{"change":"modified","path":"/f"}]"#
    );
    assert!(c.fails(&["diff", "missing"]).contains("missing"));
    c.ok(&["restore", "old"]);
    assert_eq!(c.ok(&["read", "/f"]), "one");
    c.ok(&["snapshot", "new"]);
    let log = server.stop("INT");
    assert!(log.contains("SIGINT"), "{log}");
    assert_eq!(env.local_ok(&["read", "/f"]), "one");
    let names: Vec<String> = env
        .local_ok(&["snapshots"])
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["new", "old"]);
}

#[test]
fn killed_server_loses_its_changes_but_not_the_state() {
    let env = Env::new();
    env.local_ok(&["write", "/kept", "saved before"]);
    let mut server = serve(&env, &[]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: None,
    };
    c.ok(&["write", "/lost", "never saved"]);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    wait_exit(&mut server.child, "the server");
    // Its note in the lock file is stale: nothing refuses the state now, and the first
    // exclusive holder clears it.
    assert_eq!(env.local_ok(&["ls"]), "kept\n");
    env.local_ok(&["write", "/after", "x"]);
    let lock = std::fs::read_to_string(format!("{}.lock", env.state().display())).unwrap();
    assert_eq!(lock, "");
    let server = serve(&env, &[]);
    server.stop("HUP");
    assert_eq!(env.local_ok(&["ls"]), "after\nkept\n");
}

#[test]
fn unchanged_state_is_not_rewritten() {
    let env = Env::new();
    env.local_ok(&["write", "/f", "x"]);
    let before = std::fs::read(env.state()).unwrap();
    let modified = std::fs::metadata(env.state()).unwrap().modified().unwrap();
    let server = serve(&env, &[]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: None,
    };
    assert_eq!(c.ok(&["read", "/f"]), "x");
    let log = server.stop("TERM");
    assert!(!log.contains("saved"), "{log}");
    assert_eq!(std::fs::read(env.state()).unwrap(), before);
    assert_eq!(
        std::fs::metadata(env.state()).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn bad_address_and_unreachable_server_fail_cleanly() {
    let env = Env::new();
    let err = fails(
        env.local(&["serve", "--addr", "not an address"]),
        &["serve bad addr"],
    );
    assert!(err.contains("not an address"), "{err}");
    // The failed server leaves no note in the lock file (the state is not being served).
    let lock = std::fs::read_to_string(format!("{}.lock", env.state().display())).unwrap();
    assert_eq!(lock, "");
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = env.bare().args(["--remote", &url, "ls"]).output().unwrap();
    let err = fails(out, &["ls on a dead port"]);
    assert!(err.contains("connect"), "{err}");
    assert!(!Path::new(&env.state()).exists());
}

#[test]
fn concurrent_remote_writers_and_a_large_file_are_all_saved() {
    let env = Env::new();
    let server = serve(&env, &["--token", "t"]);
    let url = server.url().to_owned();
    Client {
        env: &env,
        url: url.clone(),
        token: Some("t"),
    }
    .ok(&["mkdir", "-p", "/w"]);
    // 4 client processes at a time, 10 writes each: nothing is lost.
    std::thread::scope(|s| {
        for t in 0..4 {
            let (env, url) = (&env, &url);
            s.spawn(move || {
                let c = Client {
                    env,
                    url: url.clone(),
                    token: Some("t"),
                };
                for i in 0..10 {
                    c.ok(&["write", &format!("/w/{t}-{i}"), &format!("{t}:{i}")]);
                }
            });
        }
    });
    // 3 MiB through standard input: streamed in chunks both ways.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut child = env
        .bare()
        .args(["--remote", &url, "--token", "t", "write", "/big", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &big).unwrap();
    assert!(child.wait().unwrap().success());
    let out = env
        .bare()
        .args(["--remote", &url, "--token", "t", "read", "/big"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == big, "3 MiB read back differs");
    server.stop("TERM");
    let listed = env.local_ok(&["ls", "/w"]);
    assert_eq!(listed.lines().count(), 40, "{listed}");
    for t in 0..4 {
        for i in 0..10 {
            assert_eq!(
                env.local_ok(&["read", &format!("/w/{t}-{i}")]),
                format!("{t}:{i}")
            );
        }
    }
    assert!(env.local(&["read", "/big"]).stdout == big);
}

#[test]
fn watch_over_remote_prints_changes_as_they_happen() {
    let env = Env::new();
    env.local_ok(&["mkdir", "/in"]);
    // A local state cannot be watched (no other writer can change it meanwhile).
    let err = fails(env.local(&["watch", "/"]), &["watch"]);
    assert!(err.contains("--remote"), "{err}");
    let server = serve(&env, &[]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: None,
    };
    let (mut watch, rx) = spawn_lines(env.bare().args(["--remote", server.url(), "watch", "/in"]));
    // The watch is registered once the server has answered its first call; write until the
    // first event shows up, then the rest must follow in order.
    let mut first = None;
    for i in 0..100 {
        c.ok(&["write", &format!("/in/probe{i}"), "x"]);
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
            first = Some(line);
            break;
        }
    }
    let first = first.expect("no event from memfs watch");
    assert!(
        first.contains(" A /in/probe") || first.ends_with(" M /in"),
        "{first}"
    );
    c.ok(&["write", "/outside", "not watched"]);
    c.ok(&["mv", "/in/probe0", "/in/moved"]);
    let mut lines = vec![first];
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
        lines.push(line);
        if lines.iter().any(|l| l.ends_with(" D /in/probe0")) {
            break;
        }
    }
    assert!(
        lines.iter().any(|l| l.ends_with(" A /in/moved")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains("/outside")), "{lines:?}");
    // GENERATION LETTER PATH, generations in order.
    let gens: Vec<u64> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(gens.windows(2).all(|g| g[0] <= g[1]), "{lines:?}");
    let _ = watch.kill();
    let _ = watch.wait();
    // A missing prefix fails at once, naming it.
    assert!(c.fails(&["watch", "/nope"]).contains("/nope"));
}

#[test]
fn serve_with_a_token_file_gives_each_token_its_rights() {
    let env = Env::new();
    env.local_ok(&["mkdir", "-p", "/shared/in"]);
    env.local_ok(&["write", "/private", "p"]);
    let file = env.dir.path().join("tokens");
    std::fs::write(&file, "ops rw\nviewer ro\nstage rw /shared\n").unwrap();
    let server = serve(&env, &["--tokens", file.to_str().unwrap()]);
    let url = server.url().to_owned();
    let as_ = |token: &'static str| Client {
        env: &env,
        url: url.clone(),
        token: Some(token),
    };
    as_("stage").ok(&["write", "/shared/in/job", "1"]);
    assert!(as_("stage")
        .fails(&["read", "/private"])
        .contains("reaches only /shared"));
    assert_eq!(as_("viewer").ok(&["read", "/shared/in/job"]), "1");
    assert!(as_("viewer")
        .fails(&["rm", "/shared/in/job"])
        .contains("read-only"));
    assert!(as_("viewer").fails(&["restore", "x"]).contains("read-only"));
    as_("ops").ok(&["snapshot", "s"]);
    assert!(as_("nobody")
        .fails(&["ls", "/"])
        .contains("UNAUTHENTICATED"));
    // --token and --tokens together are a usage error; a bad file is refused at start.
    let both = env
        .bare()
        .args([
            "--state",
            env.state().to_str().unwrap(),
            "--token",
            "t",
            "--tokens",
            "f",
            "serve",
        ])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    drop(server);
    std::fs::write(&file, "ok rw\nbroken\n").unwrap();
    let bad = env
        .bare()
        .args([
            "--state",
            env.state().to_str().unwrap(),
            "--tokens",
            file.to_str().unwrap(),
        ])
        .args(["serve", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8(bad.stderr).unwrap();
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

/// A CA (certificate PEM) and a certificate it issued for `names` (certificate, key PEMs).
fn certificates(names: &[&str]) -> (String, String, String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = issue(names.iter().map(|s| s.to_string()).collect());
    let (client_cert, client_key) = issue(vec!["client".into()]);
    (ca.pem(), cert, key, client_cert, client_key)
}

#[test]
fn serve_over_tls_and_mutual_tls_and_refuse_clear_text_off_loopback() {
    let env = Env::new();
    env.local_ok(&["write", "/f", "secret bytes"]);
    let (ca, cert, key, client_cert, client_key) = certificates(&["localhost"]);
    let dir = env.dir.path();
    for (name, pem) in [
        ("ca.pem", &ca),
        ("cert.pem", &cert),
        ("key.pem", &key),
        ("client.pem", &client_cert),
        ("client.key", &client_key),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let server = serve(
        &env,
        &[
            "--tls-cert",
            &p("cert.pem"),
            "--tls-key",
            &p("key.pem"),
            "--client-ca",
            &p("ca.pem"),
        ],
    );
    let url = server
        .url()
        .replace("http://127.0.0.1", "https://localhost");
    let remote = |extra: &[&str], args: &[&str]| {
        env.bare()
            .args(["--remote", &url])
            .args(extra)
            .args(args)
            .output()
            .unwrap()
    };
    let with_cert = [
        "--ca",
        &p("ca.pem"),
        "--tls-cert",
        &p("client.pem"),
        "--tls-key",
        &p("client.key"),
    ];
    let out = remote(&with_cert, &["read", "/f"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "secret bytes",
        "{out:?}"
    );
    // No client certificate: refused, saying so; the system's roots do not know our CA.
    let no_cert = remote(&["--ca", &p("ca.pem")], &["read", "/f"]);
    let err = String::from_utf8_lossy(&no_cert.stderr);
    assert_eq!(no_cert.status.code(), Some(1));
    assert!(err.contains("requires client certificates"), "{err}");
    let no_ca = remote(&[], &["read", "/f"]);
    assert!(
        String::from_utf8_lossy(&no_ca.stderr).contains("certificate"),
        "{no_ca:?}"
    );
    // Plain HTTP/2 against the TLS port: the error says to use https://.
    let plain = env
        .bare()
        .args(["--remote", server.url(), "read", "/f"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("https://"),
        "{plain:?}"
    );
    drop(server);
    // Off loopback without TLS: refused unless --insecure.
    let open = env
        .bare()
        .args([
            "--state",
            env.state().to_str().unwrap(),
            "serve",
            "--addr",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&open.stderr);
    assert_eq!(open.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--insecure") && err.contains("clear text"),
        "{err}"
    );
}

#[test]
fn serve_limits_are_flags() {
    let env = Env::new();
    let server = serve(&env, &["--max-write-buffer", "1K", "--max-streams", "4"]);
    let c = Client {
        env: &env,
        url: server.url().to_owned(),
        token: None,
    };
    c.ok(&["write", "/small", "fits"]);
    let big = "x".repeat(4096);
    let err = c.fails(&["write", "/big", &big]);
    assert!(
        err.contains("buffering") && err.contains("limit is 1024"),
        "{err}"
    );
    assert_eq!(c.ok(&["read", "/small"]), "fits");
    let bad = env
        .bare()
        .args(["serve", "--max-write-buffer", "lots"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
