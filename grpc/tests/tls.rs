//! TLS and mutual TLS between `FsServer` and `RemoteFs`, with certificates made here (rcgen): a
//! client trusting the server's CA works; a plain-HTTP client, a client trusting another CA, and
//! (with mutual TLS) a client without a certificate are refused with errors that say so.

use std::time::Duration;

use memfs::MemFs;
use memfs_grpc::{ClientTls, FsServer, RemoteFs, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A CA and certificates it issues.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// (certificate PEM, key PEM) for these names.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn bounded(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().unwrap(),
        Err(_) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p)
            }
        }
    }
}

/// The URL of a TLS server on 127.0.0.1 named `localhost` in its certificate.
fn https(url: &str) -> String {
    url.replace("https://127.0.0.1", "https://localhost")
}

#[test]
fn tls_works_with_the_right_ca_and_fails_clearly_otherwise() {
    bounded(60, || {
        let ca = Ca::new();
        let (cert, key) = ca.issue(&["localhost"]);
        let fs = MemFs::new();
        fs.write("/f", "over tls").unwrap();
        let server = FsServer::new(fs)
            .with_tls(ServerTls::from_pem(cert, key))
            .serve("127.0.0.1:0")
            .unwrap();
        assert!(server.url().starts_with("https://"));
        let url = https(&server.url());
        let trusted = ClientTls::default().with_ca(ca.pem());
        let r = RemoteFs::connect_tls(&url, None, &trusted).unwrap();
        assert_eq!(r.read_to_string("/f").unwrap(), "over tls");
        r.write("/g", "back").unwrap();
        // Plain HTTP/2 against the TLS port: refused, not answered.
        let plain = server.url().replace("https://", "http://");
        let e = RemoteFs::connect(&plain, None)
            .and_then(|r| r.read("/f"))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("if the server uses TLS, connect to https://"),
            "{e}"
        );
        // A client that trusts another CA does not accept the server's certificate.
        let other = ClientTls::default().with_ca(Ca::new().pem());
        let e = RemoteFs::connect_tls(&url, None, &other)
            .and_then(|r| r.read("/f"))
            .unwrap_err();
        let text = e.to_string().to_lowercase();
        assert!(text.contains("invalid peer certificate"), "{e}");
        server.shutdown().unwrap();
    });
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate() {
    bounded(60, || {
        let ca = Ca::new();
        let (cert, key) = ca.issue(&["localhost"]);
        let (client_cert, client_key) = ca.issue(&["client-1"]);
        let server = FsServer::new(MemFs::new())
            .with_tls(ServerTls::from_pem(cert, key).require_client_cert(ca.pem()))
            .serve("127.0.0.1:0")
            .unwrap();
        let url = https(&server.url());
        let anonymous = ClientTls::default().with_ca(ca.pem());
        let e = RemoteFs::connect_tls(&url, None, &anonymous)
            .and_then(|r| r.write("/x", "x"))
            .unwrap_err();
        assert!(
            e.to_string().contains("requires client certificates"),
            "{e}"
        );
        // A certificate from another CA is refused too.
        let (stranger_cert, stranger_key) = Ca::new().issue(&["stranger"]);
        let stranger = ClientTls::default()
            .with_ca(ca.pem())
            .with_identity(stranger_cert, stranger_key);
        assert!(RemoteFs::connect_tls(&url, None, &stranger)
            .and_then(|r| r.write("/x", "x"))
            .is_err());
        let known = ClientTls::default()
            .with_ca(ca.pem())
            .with_identity(client_cert, client_key);
        let r = RemoteFs::connect_tls(&url, None, &known).unwrap();
        r.write("/x", "mutual").unwrap();
        assert_eq!(r.read_to_string("/x").unwrap(), "mutual");
        server.shutdown().unwrap();
    });
}

#[test]
fn bad_certificate_material_is_an_error_at_start() {
    let e = FsServer::new(MemFs::new())
        .with_tls(ServerTls::from_pem("not a cert", "not a key"))
        .serve("127.0.0.1:0")
        .unwrap_err();
    assert!(e.to_string().contains("TLS certificate or key"), "{e}");
}

#[test]
fn a_pipeline_of_tls_components_runs_with_mutual_tls() {
    use memfs_grpc::{Component, ComponentConfig, PipelineOrchestrator};
    use serde_json::json;
    bounded(60, || {
        let ca = Ca::new();
        let (cert, key) = ca.issue(&["localhost", "127.0.0.1"]);
        let (client_cert, client_key) = ca.issue(&["orchestrator"]);
        let fs = MemFs::new();
        let tls = ServerTls::from_pem(cert, key).require_client_cert(ca.pem());
        let stage = |name: &str, field: &'static str| {
            let mut cfg = ComponentConfig::new(format!("/proto/{name}"), format!("/gen/{name}"), 0);
            cfg.tls = Some(tls.clone());
            Component::new(name, &fs, cfg, move |mut v| {
                v[field] = json!(true);
                Ok(v)
            })
            .unwrap()
        };
        let trusted = ClientTls::default()
            .with_ca(ca.pem())
            .with_identity(client_cert, client_key);
        let mut p = PipelineOrchestrator::new().with_client_tls(trusted);
        p.add_component(stage("transform", "transformed"));
        p.add_component(stage("format", "formatted"));
        p.start_servers().unwrap();
        let out = p.execute_pipeline(json!({"input": "data"})).unwrap();
        assert_eq!(
            out,
            json!({"input": "data", "transformed": true, "formatted": true})
        );
        p.stop_servers().unwrap();
        // Without a client certificate the first stage refuses the orchestrator.
        let mut anonymous =
            PipelineOrchestrator::new().with_client_tls(ClientTls::default().with_ca(ca.pem()));
        anonymous.add_component(stage("again", "x"));
        anonymous.start_servers().unwrap();
        let e = anonymous.execute_pipeline(json!({})).unwrap_err();
        assert!(e.to_string().contains("again"), "{e}");
        anonymous.stop_servers().unwrap();
    });
}
