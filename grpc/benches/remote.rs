//! `RemoteFs` against `FsServer` on loopback, plain HTTP/2 and TLS in the same run: 32 client
//! threads, each with its own connection, each doing `OPS` × (write 1 KiB, read it back).
//! `cargo bench -p memfs-grpc --bench remote`; the TLS/plain ratio is in BENCHMARKS.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use memfs::MemFs;
use memfs_grpc::{ClientTls, FsServer, RemoteFs, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

const CLIENTS: usize = 32;

fn ops() -> usize {
    if std::env::var_os("MEMFS_BENCH_QUICK").is_some_and(|v| v != "0") {
        2
    } else {
        20
    }
}

fn run(clients: &[RemoteFs], payload: &[u8]) {
    std::thread::scope(|s| {
        for (i, c) in clients.iter().enumerate() {
            s.spawn(move || {
                for j in 0..ops() {
                    let p = format!("/c{i}/f{j}");
                    c.write(&p, payload).unwrap();
                    assert_eq!(c.read(&p).unwrap().len(), payload.len());
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();

    let fs = MemFs::new();
    for i in 0..CLIENTS {
        fs.create_dir(format!("/c{i}")).unwrap();
    }
    let plain = FsServer::new(fs.clone()).serve("127.0.0.1:0").unwrap();
    let tls = FsServer::new(fs.clone())
        .with_tls(ServerTls::from_pem(cert.pem(), key.serialize_pem()))
        .serve("127.0.0.1:0")
        .unwrap();
    let trust = ClientTls::default().with_ca(ca.pem());
    let tls_url = tls.url().replace("https://127.0.0.1", "https://localhost");
    let plain_clients: Vec<RemoteFs> = (0..CLIENTS)
        .map(|_| RemoteFs::connect(&plain.url(), None).unwrap())
        .collect();
    let tls_clients: Vec<RemoteFs> = (0..CLIENTS)
        .map(|_| RemoteFs::connect_tls(&tls_url, None, &trust).unwrap())
        .collect();
    let payload = vec![7u8; 1024];

    let mut g = c.benchmark_group("remote_32_clients");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("plain_http2", |b| b.iter(|| run(&plain_clients, &payload)));
    g.bench_function("tls", |b| b.iter(|| run(&tls_clients, &payload)));
    g.finish();
    plain.shutdown().unwrap();
    tls.shutdown().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
