//! A server under abuse: thousands of idle connections, connections stalled after the HTTP/2
//! preface, garbage bytes, streamed writes that never finish, a write past the buffered-bytes
//! limit, an oversized message, more connections than allowed. A well-behaved client still gets
//! every answer within a second, loses no write, and the process stays under 256 MB resident.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use memfs::MemFs;
use memfs_grpc::proto::file_system_client::FileSystemClient;
use memfs_grpc::proto::{StatRequest, WriteRequest};
use memfs_grpc::{FsServer, RemoteFs, ServerLimits};

fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[test]
fn a_flood_of_bad_clients_does_not_stall_a_good_one() {
    // Both ends of every connection are in this process: keep well under the fd limit.
    let floods = ((open_files_limit().saturating_sub(300)) / 2).min(2000);
    let fs = MemFs::new();
    let limits = ServerLimits {
        max_connections: floods + 64,
        max_buffered_write_bytes: 8 << 20,
        ..ServerLimits::default()
    };
    let server = FsServer::new(fs.clone())
        .with_limits(limits)
        .serve("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let url = server.url();

    // Idle connections, connections stalled after the preface, and garbage.
    let mut held = Vec::new();
    for i in 0..floods {
        let mut s = TcpStream::connect(addr).unwrap();
        match i % 3 {
            0 => {}
            1 => {
                let _ = s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
            }
            _ => {
                let _ = s.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(64));
            }
        }
        held.push(s);
    }

    // Streamed writes that send part of a file and then never finish, on the runtime of a
    // client of our own (tonic's generated client, with a stream that stays open).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut stalled = Vec::new();
    for i in 0..16 {
        let url = url.clone();
        stalled.push(rt.spawn(async move {
            let mut c = FileSystemClient::connect(url).await.unwrap();
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(WriteRequest {
                path: format!("/stalled{i}"),
                data: vec![1u8; 256 * 1024].into(),
                append: false,
                total_len: 1 << 30,
            })
            .await
            .unwrap();
            let out = c
                .write(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await;
            drop(tx);
            out.map(drop).map_err(|s| s.code())
        }));
    }
    std::thread::sleep(Duration::from_millis(300));

    // A write past the buffered-bytes limit is refused, not queued; an oversized message too.
    let good = RemoteFs::connect(&url, None).unwrap();
    let big = vec![3u8; 16 << 20];
    let e = good.write("/too-much", &big).unwrap_err();
    assert!(e.to_string().contains("buffering"), "{e}");
    let oversized = rt.block_on(async {
        let mut c = FileSystemClient::connect(url.clone())
            .await
            .unwrap()
            .max_encoding_message_size(usize::MAX);
        c.stat(StatRequest {
            path: "x".repeat(70 << 20),
            no_follow: false,
        })
        .await
        .unwrap_err()
        .code()
    });
    assert_ne!(oversized, tonic::Code::Ok);

    // The good client: every call answered within a second, nothing lost.
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let t = Instant::now();
        good.write(
            format!("/good/{i}").replace("/good/", "/good-"),
            format!("v{i}"),
        )
        .unwrap();
        assert_eq!(
            good.read_to_string(format!("/good-{i}")).unwrap(),
            format!("v{i}")
        );
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < Duration::from_secs(1), "slowest call {slowest:?}");
    for i in 0..200 {
        assert_eq!(
            fs.read_to_string(format!("/good-{i}")).unwrap(),
            format!("v{i}")
        );
    }
    let rss = rss_mb();
    assert!(rss < 256, "resident {rss} MB");
    eprintln!("{floods} flood connections, slowest good call {slowest:?}, resident {rss} MB");
    drop(held);
    // The stalled writers give up; their calls end on the server, which then stops promptly.
    for s in &stalled {
        s.abort();
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    let t = Instant::now();
    server.shutdown().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        t.elapsed()
    );
    // What the stalled writes sent never became a file.
    assert!(!fs.exists("/stalled0"));
}

#[test]
fn connections_past_the_limit_are_closed_at_once() {
    let server = FsServer::new(MemFs::new())
        .with_limits(ServerLimits {
            max_connections: 4,
            ..ServerLimits::default()
        })
        .serve("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addr();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    use std::io::Read;
    let n = extra.read(&mut [0u8; 16]);
    assert!(
        matches!(n, Ok(0)) || n.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "not closed"
    );
    // When one goes, a new client is served again.
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let r = RemoteFs::connect(&server.url(), None).unwrap();
    r.write("/ok", "served").unwrap();
    server.shutdown().unwrap();
}
