//! TLS for the servers and clients (rustls with the ring provider, through tonic): a server's
//! certificate and key, optionally the CA whose client certificates it requires (mutual TLS);
//! a client's trusted CAs (the system's roots when none is given) and optional certificate.
//! Material is PEM; files are read once, when the server or client is made. Owns nothing else.

use std::io;
use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Makes ring the process's rustls provider unless one is set: tonic takes the process default,
/// which rustls picks by itself only when exactly one provider is compiled in, and a program
/// that also links `memfs-store` (object_store's S3 client brings aws-lc-rs) has two.
fn use_ring() {
    // An error only says a provider is installed already: that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| memfs::error::err(e.kind(), format!("{what} {}: {e}", path.display())))
}

/// A server's TLS identity and, for mutual TLS, the CA its clients' certificates must chain to.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// Never prints the key.
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_ca", &self.client_ca.is_some())
            .finish_non_exhaustive()
    }
}

/// Never prints the key.
impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca", &self.ca.is_some())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl ServerTls {
    /// A certificate chain and its private key, both PEM.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ServerTls {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
        }
    }

    /// Reads the PEM certificate chain and key from files (errors name the file).
    pub fn load(cert: &Path, key: &Path) -> io::Result<Self> {
        Ok(Self::from_pem(
            read(cert, "TLS certificate")?,
            read(key, "TLS key")?,
        ))
    }

    /// Mutual TLS: every client must present a certificate issued by this CA (PEM).
    pub fn require_client_cert(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(ca.into());
        self
    }

    /// [`ServerTls::require_client_cert`] with the CA read from a file.
    pub fn require_client_cert_from(self, ca: &Path) -> io::Result<Self> {
        Ok(self.require_client_cert(read(ca, "client CA")?))
    }

    pub(crate) fn config(&self) -> ServerTlsConfig {
        use_ring();
        let mut c = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        if let Some(ca) = &self.client_ca {
            c = c.client_ca_root(Certificate::from_pem(ca));
        }
        c
    }
}

/// What a client trusts and presents over `https://`: the given CAs, else the system's roots;
/// a certificate and key for servers that require one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl ClientTls {
    /// Trust the system's root certificates (the default).
    pub fn system_roots() -> Self {
        Self::default()
    }

    /// Trust this CA (PEM) instead of the system's roots.
    pub fn with_ca(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(ca.into());
        self
    }

    /// Present this certificate chain and key (PEM) to servers that require one.
    pub fn with_identity(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// From files: `ca` (else the system's roots) and a client certificate and key.
    pub fn load(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> io::Result<Self> {
        let mut t = ClientTls::default();
        if let Some(ca) = ca {
            t = t.with_ca(read(ca, "CA certificate")?);
        }
        match (cert, key) {
            (Some(c), Some(k)) => {
                t = t.with_identity(read(c, "TLS certificate")?, read(k, "TLS key")?)
            }
            (None, None) => {}
            _ => {
                return Err(memfs::error::invalid_input(
                    "a client certificate needs both --tls-cert and --tls-key",
                ))
            }
        }
        Ok(t)
    }

    pub(crate) fn has_identity(&self) -> bool {
        self.identity.is_some()
    }

    pub(crate) fn config(&self) -> ClientTlsConfig {
        use_ring();
        let mut c = ClientTlsConfig::new();
        c = match &self.ca {
            Some(ca) => c.ca_certificate(Certificate::from_pem(ca)),
            None => c.with_native_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            c = c.identity(Identity::from_pem(cert, key));
        }
        c
    }
}
