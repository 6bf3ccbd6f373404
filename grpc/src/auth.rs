//! Bearer tokens, shared by every server: with tokens set, a call whose `authorization`
//! metadata is not exactly `Bearer <token>` of one of them is refused with `UNAUTHENTICATED`,
//! and an accepted call carries its token's [`Grant`] (read-only or read-write, and a path
//! prefix) for the service to enforce. Tokens are one token with every right, or a token file
//! ([`Tokens::parse`]); they are compared in constant time (`subtle`). Also the client side:
//! the metadata value a client adds.

use std::io;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// What a token may do: read (always), change (`write`), and only at or below `prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Whether the token may change anything (writes, removes, renames, snapshots, restore).
    pub write: bool,
    /// The subtree the token may reach (`/`: everything).
    pub prefix: String,
}

impl Grant {
    /// Every right: what a call gets from a server without tokens, or with its one token.
    pub fn full() -> Self {
        Grant {
            write: true,
            prefix: "/".into(),
        }
    }

    /// Whether the token reaches the whole tree (needed to restore or list all snapshots).
    pub fn is_whole_tree(&self) -> bool {
        self.prefix == "/"
    }
}

/// The tokens a server accepts, each with its [`Grant`]: one token with every right
/// ([`Tokens::single`]), or a token file ([`Tokens::parse`]).
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    /// `Bearer <token>` as sent, and what it may do.
    entries: Vec<(Vec<u8>, Grant)>,
}

impl Tokens {
    /// One token with every right.
    pub fn single(token: &str) -> Self {
        Tokens {
            entries: vec![(format!("Bearer {token}").into_bytes(), Grant::full())],
        }
    }

    /// A token file: one token per line, `TOKEN ro|rw [PREFIX]` (PREFIX an absolute path,
    /// `/` when left out); `#` starts a comment; blank lines are skipped. A malformed line is
    /// an `InvalidData` error naming its line number; so is a token given twice.
    pub fn parse(text: &str) -> io::Result<Self> {
        let mut entries: Vec<(Vec<u8>, Grant)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad =
                |why: &str| memfs::error::invalid_data(format!("token file line {}: {why}", i + 1));
            let words: Vec<&str> = line.split_whitespace().collect();
            let (token, mode, prefix) = match words[..] {
                [t, m] => (t, m, "/"),
                [t, m, p] => (t, m, p),
                _ => return Err(bad("expected `TOKEN ro|rw [PREFIX]`")),
            };
            let write = match mode {
                "ro" => false,
                "rw" => true,
                other => return Err(bad(&format!("access must be ro or rw, not {other:?}"))),
            };
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("a token is printable ASCII without spaces"));
            }
            let prefix = memfs::VPath::parse_str(prefix)
                .ok()
                .filter(|_| prefix.starts_with('/'))
                .ok_or_else(|| bad(&format!("the prefix {prefix:?} is not an absolute path")))?
                .as_string();
            let sent = format!("Bearer {token}").into_bytes();
            if entries.iter().any(|(e, _)| *e == sent) {
                return Err(bad("this token is already given on an earlier line"));
            }
            entries.push((sent, Grant { write, prefix }));
        }
        if entries.is_empty() {
            return Err(memfs::error::invalid_data("the token file has no token"));
        }
        Ok(Tokens { entries })
    }

    /// Reads and parses a token file; errors name the file.
    pub fn load(path: &std::path::Path) -> io::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", path.display())))?;
        Self::parse(&text)
            .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", path.display())))
    }

    /// The grant of the token `sent` (the whole `authorization` value). Every entry is
    /// compared, each in constant time (`subtle`), so the time does not tell which token or
    /// how much of a guess was right.
    fn grant_of(&self, sent: &[u8]) -> Option<Grant> {
        let mut found = None;
        for (expected, grant) in &self.entries {
            if bool::from(sent.ct_eq(expected)) {
                found = Some(grant.clone());
            }
        }
        found
    }
}

/// Server-side interceptor: without tokens every call gets [`Grant::full`]; with tokens a call
/// needs `authorization: Bearer <token>` of one of them (else `UNAUTHENTICATED`) and carries
/// that token's [`Grant`] in its extensions, for the service to check.
#[derive(Clone)]
pub(crate) struct CheckToken {
    tokens: Option<Arc<Tokens>>,
}

impl CheckToken {
    pub(crate) fn new(token: Option<&str>) -> Self {
        Self::with_tokens(token.map(Tokens::single))
    }

    pub(crate) fn with_tokens(tokens: Option<Tokens>) -> Self {
        CheckToken {
            tokens: tokens.map(Arc::new),
        }
    }
}

impl Interceptor for CheckToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let Some(tokens) = &self.tokens else {
            req.extensions_mut().insert(Grant::full());
            return Ok(req);
        };
        let grant = match req.metadata().get("authorization") {
            Some(v) => tokens
                .grant_of(v.as_bytes())
                .ok_or_else(|| Status::unauthenticated("wrong bearer token"))?,
            None => {
                return Err(Status::unauthenticated(
                    "this server requires `authorization: Bearer <token>`",
                ))
            }
        };
        req.extensions_mut().insert(grant);
        Ok(req)
    }
}

/// The grant the interceptor attached to `req` (every right if none: a service built without
/// the interceptor, as in unit tests).
pub(crate) fn grant_of<T>(req: &Request<T>) -> Grant {
    req.extensions()
        .get::<Grant>()
        .cloned()
        .unwrap_or_else(Grant::full)
}

/// The `authorization` value a client sends for `token`.
pub(crate) fn bearer(token: &str) -> std::io::Result<MetadataValue<tonic::metadata::Ascii>> {
    format!("Bearer {token}")
        .parse()
        .map_err(|_| memfs::error::invalid_input("token must be printable ASCII"))
}

/// Adds the token (if any) to an outgoing request.
pub(crate) fn authorize<T>(
    mut req: Request<T>,
    token: &Option<MetadataValue<tonic::metadata::Ascii>>,
) -> Request<T> {
    if let Some(v) = token {
        req.metadata_mut().insert("authorization", v.clone());
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_check() {
        let mut check = CheckToken::new(Some("s3cret"));
        assert!(check.call(Request::new(())).is_err());
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", bearer("wrong").unwrap());
        assert_eq!(
            check.call(req).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", bearer("s3cret").unwrap());
        assert!(check.call(req).is_ok());
        assert!(CheckToken::new(None).call(Request::new(())).is_ok());
    }
}
