//! Bearer-token check shared by every server: with a token set, a call whose `authorization`
//! metadata is not exactly `Bearer <token>` is refused with `UNAUTHENTICATED`. Also the client
//! side: the metadata value a client adds. Owns nothing else.

use std::sync::Arc;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Server-side interceptor; `token: None` lets every call through.
#[derive(Clone)]
pub(crate) struct CheckToken {
    expected: Option<Arc<[u8]>>,
}

impl CheckToken {
    pub(crate) fn new(token: Option<&str>) -> Self {
        CheckToken {
            expected: token.map(|t| Arc::from(format!("Bearer {t}").into_bytes())),
        }
    }
}

/// Compares without an early exit, so the time does not tell how much of a guess was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for CheckToken {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(req);
        };
        match req.metadata().get("authorization") {
            Some(v) if same_bytes(v.as_bytes(), expected) => Ok(req),
            Some(_) => Err(Status::unauthenticated("wrong bearer token")),
            None => Err(Status::unauthenticated(
                "this server requires `authorization: Bearer <token>`",
            )),
        }
    }
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
