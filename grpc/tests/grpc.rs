//! gRPC behaviour on loopback with ephemeral ports: components served and called, pipelines
//! (success, failing, unreachable and slow stages), the filesystem served remotely (100 MiB
//! streamed round trip, concurrent clients, token, message size limit). Every test runs under a
//! watchdog, so a hang fails the test instead of blocking CI.

use std::io::ErrorKind;
use std::sync::mpsc;
use std::time::Duration;

use memfs::MemFs;
use memfs_grpc::proto::{component_client, payload, Payload};
use memfs_grpc::{
    Component, ComponentClient, ComponentConfig, Data, FsServer, PipelineOrchestrator, RemoteFs,
    StageFailure,
};
use serde_json::{json, Value};

/// Runs `f` in a thread and fails if it takes longer than `secs`.
fn bounded(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
    }
}

fn config(name: &str) -> ComponentConfig {
    ComponentConfig::new(format!("/proto/{name}"), format!("/generated/{name}"), 0)
}

fn tag(key: &'static str) -> impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static {
    move |mut v: Value| {
        let obj = v.as_object_mut().ok_or("expected a JSON object")?;
        obj.insert(key.to_owned(), Value::Bool(true));
        Ok(v)
    }
}

#[test]
fn component_is_served_and_called() {
    bounded(60, || {
        let fs = MemFs::new();
        let c = Component::new("double", &fs, config("double"), |v: Value| {
            let n = v["n"].as_i64().ok_or("missing n")?;
            Ok(json!({"n": n * 2}))
        })
        .unwrap();
        // Local call, then the files the component wrote into its filesystem.
        assert_eq!(c.process(json!({"n": 4})).unwrap(), json!({"n": 8}));
        let proto = fs.read_to_string("/proto/double/double.proto").unwrap();
        assert!(proto.contains("service Component"), "{proto}");
        assert!(proto.contains("rpc Process(Payload) returns (Payload)"));

        let server = c.serve().unwrap();
        let addr = server.local_addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let desc: Value = serde_json::from_str(
            &fs.read_to_string("/generated/double/double.service.json")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(desc["service"], "memfs.v1.Component");
        assert_eq!(desc["address"], addr.to_string());

        let client = ComponentClient::connect(&server.url(), None).unwrap();
        assert_eq!(client.call(json!({"n": 21})).unwrap(), json!({"n": 42}));
        assert_eq!(client.describe().unwrap().0, "double");
        // The function's error comes back with its message.
        let e = client.call(json!({"x": 1})).unwrap_err();
        assert!(e.to_string().contains("missing n"), "{e}");
        // A raw payload is parsed as JSON.
        let out = client
            .call_data(Data::Bytes(br#"{"n": 5}"#.to_vec()))
            .unwrap();
        assert_eq!(out, Data::Json(json!({"n": 10})));

        // Malformed JSON and an empty payload are INVALID_ARGUMENT.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut raw = component_client::ComponentClient::connect(server.url())
                .await
                .unwrap();
            for p in [
                Payload {
                    body: Some(payload::Body::Json("{not json".into())),
                },
                Payload { body: None },
            ] {
                let s = raw.process(p).await.unwrap_err();
                assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
            }
        });
        drop(rt); // its idle connection would hold the graceful shutdown for the grace period
        let t = std::time::Instant::now();
        server.shutdown().unwrap();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert!(client.call(json!({"n": 1})).is_err());
    });
}

#[test]
fn bad_component_names_are_refused() {
    let fs = MemFs::new();
    for name in ["", "a/b", "sp ace", &"x".repeat(65)] {
        let e = Component::new(name, &fs, config("x"), Ok).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}

#[test]
fn three_stage_pipeline() {
    bounded(60, || {
        let fs = MemFs::new();
        let mut p = PipelineOrchestrator::new();
        p.add_component(Component::new("transform", &fs, config("t"), tag("transformed")).unwrap())
            .add_component(Component::new("format", &fs, config("f"), tag("formatted")).unwrap())
            .add_component(
                Component::new("count", &fs, config("c"), |v: Value| {
                    Ok(json!({"fields": v.as_object().map_or(0, |o| o.len()), "data": v}))
                })
                .unwrap(),
            );
        // Not served yet: the first stage says so.
        let e = p.execute_pipeline(json!({})).unwrap_err();
        assert_eq!(
            (e.stage_index, e.failure.clone()),
            (0, StageFailure::NotServed)
        );

        let addrs = p.start_servers().unwrap();
        assert_eq!(addrs.len(), 3);
        let out = p.execute_pipeline(json!({"input": "data"})).unwrap();
        assert_eq!(
            out,
            json!({"fields": 3, "data": {"input": "data", "transformed": true, "formatted": true}})
        );
        // Again, over the cached connections; and the in-process run agrees.
        assert_eq!(p.execute_pipeline(json!({"input": "data"})).unwrap(), out);
        assert_eq!(p.execute_local(json!({"input": "data"})).unwrap(), out);
        assert_eq!(fs.listdir("/proto").unwrap(), ["c", "f", "t"]);
        p.stop_servers().unwrap();
        let e = p.execute_pipeline(json!({})).unwrap_err();
        assert_eq!(e.failure, StageFailure::NotServed);
    });
}

#[test]
fn failing_stage_is_named() {
    bounded(60, || {
        let fs = MemFs::new();
        let mut p = PipelineOrchestrator::new();
        p.add_component(Component::new("ok", &fs, config("ok"), tag("ok")).unwrap())
            .add_component(
                Component::new("broken", &fs, config("broken"), |_| {
                    Err("disk on fire".to_owned())
                })
                .unwrap(),
            )
            .add_component(Component::new("never", &fs, config("never"), tag("never")).unwrap());
        p.start_servers().unwrap();
        let e = p.execute_pipeline(json!({})).unwrap_err();
        assert_eq!(e.stage_index, 1);
        assert_eq!(e.stage, "broken");
        match &e.failure {
            StageFailure::Failed { code, message, .. } => {
                assert_eq!(*code, "UNKNOWN");
                assert!(message.contains("disk on fire"), "{message}");
            }
            other => panic!("wrong failure {other:?}"),
        }
        assert!(e.to_string().contains("broken"), "{e}");
        // A stage that panics is reported too (INTERNAL), and the server survives it.
        let mut q = PipelineOrchestrator::new();
        q.add_component(
            Component::new("panics", &fs, config("panics"), |_| panic!("oops")).unwrap(),
        );
        q.start_servers().unwrap();
        // A panicking stage fails the call, and the next call too (the server keeps serving).
        for _ in 0..2 {
            let e = q.execute_pipeline(json!({})).unwrap_err();
            assert!(
                matches!(
                    e.failure,
                    StageFailure::Failed {
                        code: "INTERNAL",
                        ..
                    }
                ),
                "{e}"
            );
        }
    });
}

#[test]
fn unreachable_and_slow_stages() {
    bounded(60, || {
        // A port that was free a moment ago: nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let fs = MemFs::new();
        let mut p = PipelineOrchestrator::new();
        p.add_component(Component::new("first", &fs, config("first"), tag("a")).unwrap())
            .add_remote_stage("gone", dead_url, None);
        p.start_servers().unwrap();
        let e = p.execute_pipeline(json!({})).unwrap_err();
        assert_eq!((e.stage_index, e.stage.as_str()), (1, "gone"));
        assert!(matches!(e.failure, StageFailure::Unreachable(_)), "{e}");
        assert_eq!(std::io::Error::from(e).kind(), ErrorKind::ConnectionRefused);

        let mut slow = PipelineOrchestrator::new();
        slow.set_stage_timeout(Duration::from_millis(300))
            .add_component(
                Component::new("sleepy", &fs, config("sleepy"), |v| {
                    std::thread::sleep(Duration::from_secs(3));
                    Ok(v)
                })
                .unwrap(),
            );
        slow.start_servers().unwrap();
        let t = std::time::Instant::now();
        let e = slow.execute_pipeline(json!({})).unwrap_err();
        assert!(matches!(e.failure, StageFailure::Timeout(_)), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    });
}

fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn remote_fs_round_trip_of_100_mib() {
    bounded(240, || {
        let fs = MemFs::new();
        let server = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
        let remote = RemoteFs::connect(&server.url(), None).unwrap();
        remote.create_dir_all("/big/inner").unwrap();
        let data = pattern(100 << 20);
        remote.write("/big/inner/blob.bin", &data).unwrap();
        assert_eq!(
            remote.metadata("/big/inner/blob.bin").unwrap().len(),
            100 << 20
        );
        assert!(
            fs.read("/big/inner/blob.bin").unwrap() == data,
            "server copy differs"
        );
        let back = remote.read("/big/inner/blob.bin").unwrap();
        assert!(back == data, "read back differs");
        server.shutdown().unwrap();
    });
}

#[test]
fn remote_fs_mirrors_memfs() {
    bounded(60, || {
        let fs = MemFs::new();
        let server = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
        let r = RemoteFs::connect(&server.local_addr().to_string(), None).unwrap();
        r.create_dir_all("/a/b").unwrap();
        r.create_dir("/a/c").unwrap();
        r.write("/a/b/f.txt", "hello").unwrap();
        r.append("/a/b/f.txt", " world").unwrap();
        assert_eq!(r.read_to_string("/a/b/f.txt").unwrap(), "hello world");
        assert_eq!(fs.read_to_string("/a/b/f.txt").unwrap(), "hello world");
        assert_eq!(r.listdir("/a").unwrap(), ["b", "c"]);
        let entries = r.read_dir("/a/b").unwrap();
        assert_eq!(entries[0].file_name(), "f.txt");
        assert_eq!(entries[0].path(), "/a/b/f.txt");
        assert_eq!(entries[0].metadata().unwrap().len(), 11);
        let m = r.metadata("/a").unwrap();
        let local = fs.metadata("/a").unwrap();
        assert!(m.is_dir());
        assert_eq!(m.ino(), local.ino());
        assert_eq!(m.modified().unwrap(), local.modified().unwrap());
        assert_eq!(m.mode(), local.mode());
        assert!(r.exists("/a/b/f.txt") && r.isfile("/a/b/f.txt") && r.isdir("/a/b"));
        assert!(!r.exists("/nope"));
        assert_eq!(r.copy("/a/b/f.txt", "/a/c/g.txt").unwrap(), 11);
        r.rename("/a/c/g.txt", "/a/h.txt").unwrap();
        assert_eq!(fs.read_to_string("/a/h.txt").unwrap(), "hello world");
        r.write("/empty", "").unwrap();
        assert_eq!(r.read("/empty").unwrap(), b"");

        // Errors keep their exact kinds.
        let kind = |e: std::io::Error| e.kind();
        assert_eq!(kind(r.read("/missing").unwrap_err()), ErrorKind::NotFound);
        assert_eq!(
            kind(r.create_dir("/a").unwrap_err()),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(r.remove_dir("/a").unwrap_err()),
            ErrorKind::DirectoryNotEmpty
        );
        assert_eq!(kind(r.read("/a").unwrap_err()), ErrorKind::IsADirectory);
        assert_eq!(
            kind(r.read_dir("/a/h.txt").unwrap_err()),
            ErrorKind::NotADirectory
        );
        assert_eq!(
            kind(r.write("/no/such/dir/f", "x").unwrap_err()),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(r.remove_dir_all("/").unwrap_err()),
            ErrorKind::ResourceBusy
        );

        // Links, times, permissions, counts and walks.
        r.symlink("b/f.txt", "/a/link").unwrap();
        assert_eq!(r.read_link("/a/link").unwrap(), "b/f.txt");
        assert!(r.symlink_metadata("/a/link").unwrap().is_symlink());
        assert!(r.metadata("/a/link").unwrap().is_file());
        r.touch("/a/touched").unwrap();
        assert_eq!(fs.read("/a/touched").unwrap(), b"");
        let before = fs.metadata("/a/h.txt").unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        r.touch("/a/h.txt").unwrap();
        assert!(fs.metadata("/a/h.txt").unwrap().modified().unwrap() > before);
        assert_eq!(fs.read_to_string("/a/h.txt").unwrap(), "hello world");
        r.set_permissions("/a/h.txt", 0o600).unwrap();
        assert_eq!(r.metadata("/a/h.txt").unwrap().permissions().mode(), 0o600);
        // Owners and special files cross the wire both ways.
        r.chown("/a/h.txt", Some(1234), Some(99)).unwrap();
        let m = r.metadata("/a/h.txt").unwrap();
        assert_eq!((m.uid(), m.gid()), (1234, 99));
        assert_eq!(fs.metadata("/a/h.txt").unwrap().uid(), 1234);
        let target_gid = fs.metadata("/a/b/f.txt").unwrap().gid();
        r.lchown("/a/link", None, Some(7)).unwrap();
        assert_eq!(fs.symlink_metadata("/a/link").unwrap().gid(), 7);
        assert_eq!(
            fs.metadata("/a/link").unwrap().gid(),
            target_gid,
            "the target is unchanged"
        );
        r.hard_link("/a/h.txt", "/a/h2.txt").unwrap();
        assert_eq!(r.metadata("/a/h2.txt").unwrap().nlink(), 2);
        assert_eq!(
            fs.metadata("/a/h2.txt").unwrap().ino(),
            fs.metadata("/a/h.txt").unwrap().ino()
        );
        let e = r.hard_link("/a", "/a/dirlink").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
        r.remove_file("/a/h2.txt").unwrap();
        assert_eq!(r.metadata("/a/h.txt").unwrap().nlink(), 1);
        r.mkfifo("/a/pipe", 0o640).unwrap();
        r.mknod("/a/null", memfs::FileType::CharDevice, 0o666, 0x103)
            .unwrap();
        assert!(r.metadata("/a/pipe").unwrap().file_type().is_fifo());
        let dev = r.metadata("/a/null").unwrap();
        assert!(dev.file_type().is_char_device());
        assert_eq!((dev.rdev(), dev.mode()), (0x103, 0o020666));
        let e = r
            .mknod("/a/x", memfs::FileType::File, 0o600, 0)
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let e = r.read("/a/pipe").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        assert_eq!(r.stats().unwrap().specials, 2);
        fs.remove_file("/a/pipe").unwrap();
        fs.remove_file("/a/null").unwrap();
        assert_eq!(r.stats().unwrap(), fs.stats());
        // One walk rule on both sides: a symlink to a directory is listed among the dirnames
        // (never descended into), a dangling one among the filenames.
        r.symlink("b", "/a/dirlink").unwrap();
        r.symlink("nowhere", "/a/dangling").unwrap();
        let local: Vec<_> = fs.walk("/").unwrap().collect();
        let a = local.iter().find(|(p, _, _)| p == "/a").unwrap();
        assert!(a.1.contains(&"dirlink".to_string()), "{a:?}");
        assert!(a.2.contains(&"dangling".to_string()), "{a:?}");
        assert_eq!(r.walk("/").unwrap(), local);
        let local: Vec<_> = fs.walk("/a/b").unwrap().collect();
        assert_eq!(r.walk("/a/b/").unwrap(), local);
        let all = r.walk_entries("/").unwrap();
        assert_eq!(all.len() as u64, {
            let s = fs.stats();
            s.files + s.dirs + s.symlinks - 1
        });
        assert_eq!(
            kind(r.walk_entries("/a/h.txt").unwrap_err()),
            ErrorKind::NotADirectory
        );
        r.remove_file("/a/link").unwrap();
        r.remove_file("/a/touched").unwrap();

        // Snapshots are kept by name on the server.
        let s1 = r.snapshot(None).unwrap();
        let named = r.snapshot(Some("before")).unwrap();
        assert_eq!(named, "before");
        r.remove_dir_all("/a").unwrap();
        assert!(!fs.exists("/a"));
        r.restore("before").unwrap();
        assert_eq!(fs.read_to_string("/a/b/f.txt").unwrap(), "hello world");
        let mut names = r.list_snapshots().unwrap();
        names.sort();
        assert_eq!(names, vec!["before".to_owned(), s1.clone()]);
        let infos = r.snapshot_stats().unwrap();
        assert_eq!(infos.len(), 2);
        assert!(infos.iter().all(|(_, st)| st.files == 3), "{infos:?}");
        r.drop_snapshot(&s1).unwrap();
        assert_eq!(kind(r.restore(&s1).unwrap_err()), ErrorKind::NotFound);
        assert_eq!(
            kind(r.snapshot(Some("a/b")).unwrap_err()),
            ErrorKind::InvalidInput
        );
        server.shutdown().unwrap();
        assert!(r.read("/a/h.txt").is_err());
    });
}

#[test]
fn concurrent_clients_all_land() {
    bounded(120, || {
        let fs = MemFs::new();
        let server = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
        let url = server.url();
        let shared = RemoteFs::connect(&url, None).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let url = url.clone();
                let shared = shared.clone();
                std::thread::spawn(move || {
                    // Half the tasks share one connection, half open their own.
                    let r = if t % 2 == 0 {
                        shared
                    } else {
                        RemoteFs::connect(&url, None).unwrap()
                    };
                    r.create_dir_all(format!("/t{t}")).unwrap();
                    for i in 0..200 {
                        r.write(format!("/t{t}/f{i}"), format!("{t}:{i}")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let r = RemoteFs::connect(&url, None).unwrap();
        let mut total = 0;
        for t in 0..8 {
            let names = r.listdir(format!("/t{t}")).unwrap();
            assert_eq!(names.len(), 200);
            total += names.len();
            assert_eq!(
                fs.read_to_string(format!("/t{t}/f199")).unwrap(),
                format!("{t}:199")
            );
        }
        assert_eq!(total, 1600);
        assert_eq!(fs.stats().files, 1600);
    });
}

#[test]
fn token_is_required() {
    bounded(60, || {
        let fs = MemFs::new();
        fs.write("/secret", "42").unwrap();
        let server = FsServer::new(fs.clone())
            .with_token(Some("s3cret".into()))
            .serve("127.0.0.1:0")
            .unwrap();
        let url = server.url();
        for token in [None, Some("wrong")] {
            let r = RemoteFs::connect(&url, token).unwrap();
            let e = r.read("/secret").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(e.to_string().contains("UNAUTHENTICATED"), "{e}");
            assert!(r.write("/x", "x").is_err());
        }
        assert!(!fs.exists("/x"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut raw =
                memfs_grpc::proto::file_system_client::FileSystemClient::connect(url.clone())
                    .await
                    .unwrap();
            let s = raw
                .list(memfs_grpc::proto::PathRequest { path: "/".into() })
                .await
                .unwrap_err();
            assert_eq!(s.code(), tonic::Code::Unauthenticated);
        });
        let r = RemoteFs::connect(&url, Some("s3cret")).unwrap();
        assert_eq!(r.read_to_string("/secret").unwrap(), "42");
        server.shutdown().unwrap();

        // A server started with saved snapshots serves them; new ones can be handed back.
        let saved = [("saved".to_owned(), fs.snapshot())].into_iter().collect();
        fs.remove_file("/secret").unwrap();
        let fs_server = FsServer::new(fs.clone())
            .with_token(Some("s3cret".into()))
            .with_snapshots(saved);
        let server = fs_server.serve("127.0.0.1:0").unwrap();
        let url = server.url();
        let r = RemoteFs::connect(&url, Some("s3cret")).unwrap();
        r.restore("saved").unwrap();
        assert_eq!(fs.read_to_string("/secret").unwrap(), "42");
        r.snapshot(Some("new")).unwrap();
        assert_eq!(fs_server.snapshots().len(), 2);

        // Components check tokens the same way; the orchestrator sends the stage's token.
        let mut cfg = config("guarded");
        cfg.token = Some("t0k".into());
        let c = Component::new("guarded", &fs, cfg, Ok).unwrap();
        let h = c.serve().unwrap();
        let e = ComponentClient::connect(&h.url(), None)
            .unwrap()
            .call(json!(1))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let ok = ComponentClient::connect(&h.url(), Some("t0k")).unwrap();
        assert_eq!(ok.call(json!(1)).unwrap(), json!(1));
        let mut p = PipelineOrchestrator::new();
        p.add_component(c);
        p.start_servers().unwrap();
        assert_eq!(p.execute_pipeline(json!([1])).unwrap(), json!([1]));
    });
}

#[test]
fn oversize_messages_are_rejected_cleanly() {
    bounded(60, || {
        let fs = MemFs::new();
        let mut cfg = config("small");
        cfg.max_message_size = 4096;
        let c = Component::new("small", &fs, cfg, Ok).unwrap();
        let h = c.serve().unwrap();
        let client = ComponentClient::connect(&h.url(), None).unwrap();
        let e = client.call(json!("x".repeat(100_000))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("too large"), "{e}");
        // The server is fine afterwards.
        assert_eq!(client.call(json!("small")).unwrap(), json!("small"));
        let mut p = PipelineOrchestrator::new();
        p.add_remote_stage("small", h.url(), None);
        let e = p.execute_pipeline(json!("y".repeat(100_000))).unwrap_err();
        assert!(
            matches!(
                e.failure,
                StageFailure::Failed {
                    code: "OUT_OF_RANGE",
                    ..
                }
            ),
            "{e}"
        );

        // The filesystem server: a write chunk over the limit is refused and nothing is
        // written; smaller chunks get any size through, and reads come back in chunks that fit.
        let server = FsServer::new(fs.clone())
            .with_max_message_size(64 * 1024)
            .serve("127.0.0.1:0")
            .unwrap();
        let r = RemoteFs::connect(&server.url(), None).unwrap();
        let data = pattern(1 << 20);
        let e = r.write("/big", &data).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(!fs.exists("/big"));
        let r = r.with_chunk_size(32 * 1024);
        r.write("/big", &data).unwrap();
        assert!(r.read("/big").unwrap() == data);
        // A client whose own limit is smaller than what it is sent refuses it cleanly too.
        let tiny = RemoteFs::connect(&server.url(), None)
            .unwrap()
            .with_max_message_size(1024);
        let e = tiny.read("/big").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(
            tiny.read("/big").map(|_| ()).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(r.listdir("/").unwrap(), ["big", "generated", "proto"]);
    });
}

#[test]
fn blocking_api_works_inside_runtimes_and_components() {
    bounded(60, || {
        let fs = MemFs::new();
        fs.write("/input.txt", "from the server").unwrap();
        let server = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
        let url = server.url();
        // From async code: no panic, the call is made.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = RemoteFs::connect(&url, None).unwrap();
            assert_eq!(r.read_to_string("/input.txt").unwrap(), "from the server");
            let e = RemoteFs::connect("http://127.0.0.1:1", None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        });
        drop(rt);
        // A component whose function reads a remote filesystem.
        let remote = RemoteFs::connect(&url, None).unwrap();
        let c = Component::new("reader", &fs, config("reader"), move |v: Value| {
            let path = v.as_str().ok_or("expected a path")?;
            let text = remote.read_to_string(path).map_err(|e| e.to_string())?;
            Ok(json!(text))
        })
        .unwrap();
        let h = c.serve().unwrap();
        let client = ComponentClient::connect(&h.url(), None).unwrap();
        assert_eq!(
            client.call(json!("/input.txt")).unwrap(),
            json!("from the server")
        );
        let e = client.call(json!("/missing")).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    });
}

/// Measurement, not a check: `cargo test --release --test grpc -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_latency_and_throughput() {
    let fs = MemFs::new();
    let c = Component::new("echo", &fs, config("echo"), Ok).unwrap();
    let h = c.serve().unwrap();
    let client = ComponentClient::connect(&h.url(), None).unwrap();
    let input = json!({"input": "data"});
    for _ in 0..200 {
        client.call(input.clone()).unwrap();
    }
    let mut times: Vec<Duration> = (0..5000)
        .map(|_| {
            let t = std::time::Instant::now();
            client.call(input.clone()).unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "component call round trip: median {:?}, p99 {:?}, min {:?} (5000 calls)",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[0]
    );
    let mut p = PipelineOrchestrator::new();
    p.add_remote_stage("echo", h.url(), None);
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    eprintln!("  (mean {mean:?})");
    let mut runs: Vec<Duration> = (0..5000)
        .map(|_| {
            let t = std::time::Instant::now();
            p.execute_pipeline(input.clone()).unwrap();
            t.elapsed()
        })
        .collect();
    runs.sort();
    eprintln!(
        "one-stage pipeline run: median {:?}, p99 {:?}",
        runs[runs.len() / 2],
        runs[runs.len() * 99 / 100]
    );
    let local = std::time::Instant::now();
    for _ in 0..5000 {
        c.process(input.clone()).unwrap();
    }
    eprintln!(
        "(in-process Component::process: {:?})",
        local.elapsed() / 5000
    );

    let server = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
    let r = RemoteFs::connect(&server.url(), None).unwrap();
    let size = 256usize << 20;
    let data = pattern(size);
    let t = std::time::Instant::now();
    r.write("/big", &data).unwrap();
    let w = t.elapsed();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let back = r.read("/big").unwrap();
        best = best.min(t.elapsed());
        assert_eq!(back.len(), size);
    }
    let mib = (size >> 20) as f64;
    eprintln!(
        "RemoteFs read 256 MiB: best {best:?} = {:.0} MiB/s; write: {w:?} = {:.0} MiB/s",
        mib / best.as_secs_f64(),
        mib / w.as_secs_f64()
    );
    let t = std::time::Instant::now();
    for _ in 0..5 {
        fs.read("/big").unwrap();
    }
    eprintln!(
        "(local MemFs::read of the same file: {:?})",
        t.elapsed() / 5
    );
    let t = std::time::Instant::now();
    fs.write("/big2", &data).unwrap();
    eprintln!("(local MemFs::write of the same data: {:?})", t.elapsed());
}

/// `ServerHandle::wait_for_ctrl_c` (what `memfs serve` uses): a child process serves, gets
/// SIGINT, shuts down cleanly and exits 0.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_server() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    bounded(60, || {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "ctrl_c_child", "--ignored", "--nocapture"])
            .env("MEMFS_CTRL_C_CHILD", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("child ended early").unwrap();
            if let Some(url) = line.strip_prefix("READY ") {
                break url.to_owned();
            }
        };
        let r = RemoteFs::connect(&url, None).unwrap();
        r.write("/x", "1").unwrap();
        drop(r);
        // Repeat until the listener inside wait_for_ctrl_c has caught one (the child has
        // installed its handler before READY, so no SIGINT can kill it).
        let status = loop {
            Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            std::thread::sleep(Duration::from_millis(200));
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
        };
        assert!(status.success(), "{status:?}");
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        assert!(rest.iter().any(|l| l == "STOPPED files=1"), "{rest:?}");
    });
}

#[test]
#[ignore]
fn ctrl_c_child() {
    if std::env::var_os("MEMFS_CTRL_C_CHILD").is_none() {
        return;
    }
    // Install the process-wide SIGINT handler first (tokio keeps it for the process's life).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(1), tokio::signal::ctrl_c()).await;
    });
    drop(rt);
    let fs = MemFs::new();
    let h = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
    println!("READY {}", h.url());
    h.wait_for_ctrl_c().unwrap();
    println!("STOPPED files={}", fs.stats().files);
}

#[test]
fn scoped_tokens_read_only_and_prefixed() {
    bounded(60, || {
        let fs = MemFs::new();
        fs.create_dir_all("/team/a/in").unwrap();
        fs.create_dir_all("/other").unwrap();
        fs.write("/team/a/in/x", "data").unwrap();
        fs.write("/other/secret", "no").unwrap();
        let tokens = memfs_grpc::Tokens::parse(
            "# who may do what\n\
             admin rw\n\
             reader ro          # everything, read-only\n\
             team-a rw /team/a\n\
             peek ro /team/a/in\n",
        )
        .unwrap();
        let server = FsServer::new(fs.clone())
            .with_tokens(tokens)
            .serve("127.0.0.1:0")
            .unwrap();
        let url = server.url();
        let denied = |e: std::io::Error, needle: &str| {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        };
        let admin = RemoteFs::connect(&url, Some("admin")).unwrap();
        admin.write("/other/new", "ok").unwrap();
        let snap = admin.snapshot(Some("before")).unwrap();
        // Read-only: reads work, every change is refused and says why.
        let reader = RemoteFs::connect(&url, Some("reader")).unwrap();
        assert_eq!(reader.read_to_string("/other/secret").unwrap(), "no");
        denied(reader.write("/other/x", "x").unwrap_err(), "read-only");
        denied(
            reader.remove_file("/other/secret").unwrap_err(),
            "read-only",
        );
        denied(
            reader.rename("/other/secret", "/other/s2").unwrap_err(),
            "read-only",
        );
        denied(reader.create_dir("/other/d").unwrap_err(), "read-only");
        denied(reader.restore(&snap).unwrap_err(), "read-only");
        denied(reader.drop_snapshot(&snap).unwrap_err(), "read-only");
        // Prefixed: its subtree only, as given and through symlinks.
        let team = RemoteFs::connect(&url, Some("team-a")).unwrap();
        team.write("/team/a/out", "result").unwrap();
        assert_eq!(team.read_to_string("/team/a/in/x").unwrap(), "data");
        denied(
            team.read("/other/secret").unwrap_err(),
            "reaches only /team/a",
        );
        denied(
            team.write("/team/b", "x").unwrap_err(),
            "reaches only /team/a",
        );
        denied(
            team.read("/team/a/../../other/secret").unwrap_err(),
            "reaches only",
        );
        denied(
            team.rename("/team/a/out", "/other/out").unwrap_err(),
            "reaches only",
        );
        denied(team.restore(&snap).unwrap_err(), "whole tree");
        team.symlink("/other", "/team/a/escape").unwrap();
        denied(
            team.read("/team/a/escape/secret").unwrap_err(),
            "not /other/secret",
        );
        denied(
            team.write("/team/a/escape/planted", "x").unwrap_err(),
            "reaches only",
        );
        let peek = RemoteFs::connect(&url, Some("peek")).unwrap();
        assert_eq!(peek.listdir("/team/a/in").unwrap(), ["x"]);
        denied(peek.write("/team/a/in/y", "y").unwrap_err(), "read-only");
        // Nothing refused landed; an unknown token is still UNAUTHENTICATED.
        assert!(!fs.exists("/other/x") && !fs.exists("/team/b") && !fs.exists("/other/out"));
        assert!(!fs.exists("/other/planted"));
        let stranger = RemoteFs::connect(&url, Some("team-b")).unwrap();
        assert!(stranger
            .read("/team/a/in/x")
            .unwrap_err()
            .to_string()
            .contains("UNAUTHENTICATED"));
        server.shutdown().unwrap();
    });
}

#[test]
fn malformed_token_files_name_the_line() {
    for (text, needle) in [
        ("a rw\nb maybe\n", "line 2: access must be ro or rw"),
        ("a\n", "line 1: expected `TOKEN ro|rw [PREFIX]`"),
        (
            "a rw relative/path\n",
            "line 1: the prefix \"relative/path\" is not an absolute path",
        ),
        ("a rw /x /y\n", "line 1: expected"),
        ("# only\n\n", "no token"),
        ("a rw\n# c\na ro\n", "line 3: this token is already given"),
    ] {
        let e = memfs_grpc::Tokens::parse(text).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(e.to_string().contains(needle), "{text:?}: {e}");
    }
}
