//! The one mapping between `std::io::Error` and gRPC `Status`, used by every server and client
//! in this module (servers turn `io::Error`s into statuses, clients turn statuses back).
//!
//! The code follows the `ErrorKind` (`NotFound` -> `NOT_FOUND`, `InvalidInput` ->
//! `INVALID_ARGUMENT`, ...). gRPC has fewer codes than Linux has errnos, so a status built from
//! an `io::Error` also carries the errno (from [`memfs::errno_of`], the table the FUSE layer
//! uses) in the `memfs-errno` metadata; a client decodes that back into the exact `ErrorKind`.
//! Statuses without it (transport errors, other servers) fall back to [`kind_of_code`].

use std::io::{self, ErrorKind};

use tonic::{Code, Status};

use memfs::error::{self, kind_of_errno, libc_errno};

/// Metadata key carrying the Linux errno of a filesystem error.
pub const ERRNO_METADATA: &str = "memfs-errno";

/// The gRPC code for an `io::ErrorKind`.
pub fn code_of_kind(kind: ErrorKind) -> Code {
    use ErrorKind::*;
    match kind {
        NotFound => Code::NotFound,
        AlreadyExists => Code::AlreadyExists,
        PermissionDenied => Code::PermissionDenied,
        InvalidInput | InvalidFilename | InvalidData => Code::InvalidArgument,
        NotADirectory | IsADirectory | DirectoryNotEmpty | ResourceBusy | ReadOnlyFilesystem
        | CrossesDevices => Code::FailedPrecondition,
        StorageFull | FileTooLarge | OutOfMemory => Code::ResourceExhausted,
        TimedOut => Code::DeadlineExceeded,
        Unsupported => Code::Unimplemented,
        Interrupted => Code::Cancelled,
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe => {
            Code::Unavailable
        }
        UnexpectedEof => Code::OutOfRange,
        _ if kind == io::Error::from_raw_os_error(libc_errno::ELOOP).kind() => {
            Code::FailedPrecondition
        }
        _ => Code::Unknown,
    }
}

/// The `io::ErrorKind` for a gRPC code (used when a status carries no errno).
pub fn kind_of_code(code: Code) -> ErrorKind {
    match code {
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::PermissionDenied | Code::Unauthenticated => ErrorKind::PermissionDenied,
        Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidInput,
        Code::ResourceExhausted => ErrorKind::StorageFull,
        Code::DeadlineExceeded => ErrorKind::TimedOut,
        Code::Unimplemented => ErrorKind::Unsupported,
        Code::Cancelled => ErrorKind::Interrupted,
        Code::Unavailable => ErrorKind::ConnectionRefused,
        Code::Aborted => ErrorKind::ResourceBusy,
        Code::DataLoss => ErrorKind::InvalidData,
        _ => ErrorKind::Other,
    }
}

/// Metadata key naming the `ErrorKind` when the errno says no more than `EIO`.
pub const KIND_METADATA: &str = "memfs-kind";

/// Kinds that have no errno of their own (`errno_of` gives `EIO`), by name.
const KINDS_WITHOUT_ERRNO: [(ErrorKind, &str); 6] = [
    (ErrorKind::InvalidData, "InvalidData"),
    (ErrorKind::UnexpectedEof, "UnexpectedEof"),
    (ErrorKind::WriteZero, "WriteZero"),
    (ErrorKind::OutOfMemory, "OutOfMemory"),
    (ErrorKind::Interrupted, "Interrupted"),
    (ErrorKind::Other, "Other"),
];

/// The status a server returns for `e`: code from its kind, errno in the metadata (and the
/// kind's name when the errno is only `EIO`). A transaction conflict becomes `ABORTED` (retry
/// the read-modify-write).
pub fn status_of_io(e: &io::Error) -> Status {
    let code = if error::is_conflict(e) {
        Code::Aborted
    } else {
        code_of_kind(e.kind())
    };
    let mut status = Status::new(code, e.to_string());
    let errno = memfs::errno_of(e);
    if let Ok(v) = errno.to_string().parse() {
        status.metadata_mut().insert(ERRNO_METADATA, v);
    }
    if errno == libc_errno::EIO {
        if let Some((_, name)) = KINDS_WITHOUT_ERRNO.iter().find(|(k, _)| *k == e.kind()) {
            status.metadata_mut().insert(
                KIND_METADATA,
                tonic::metadata::MetadataValue::from_static(name),
            );
        }
    }
    status
}

/// The `io::Error` a client returns for a status: the exact kind from the errno (or kind name)
/// the server sent, else from the code. The message is the server's, prefixed by the code
/// for statuses that did not come from a filesystem error (`UNAUTHENTICATED`, message too
/// large, ...).
pub fn io_of_status(s: &Status) -> io::Error {
    let meta = |key| s.metadata().get(key).and_then(|v| v.to_str().ok());
    let errno = meta(ERRNO_METADATA).and_then(|v| v.parse::<i32>().ok());
    if let Some(errno) = errno {
        if s.code() == Code::Aborted && errno == libc_errno::EBUSY {
            return error::conflict(s.message().trim_start_matches("transaction conflict: "));
        }
        let named = meta(KIND_METADATA)
            .and_then(|name| KINDS_WITHOUT_ERRNO.iter().find(|(_, n)| *n == name))
            .map(|(k, _)| *k);
        let kind = kind_of_errno(errno)
            .or(named)
            .unwrap_or_else(|| kind_of_code(s.code()));
        return memfs::error::err(kind, s.message().to_owned());
    }
    memfs::error::err(
        kind_of_code(s.code()),
        format!("{}: {}", code_name(s.code()), s.message()),
    )
}

/// `UNAUTHENTICATED`, `NOT_FOUND`, ...: the gRPC name of a code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystem_errors_round_trip_exactly() {
        for e in [
            error::not_found("/a"),
            error::already_exists("/a"),
            error::not_a_directory("/a"),
            error::is_a_directory("/a"),
            error::not_empty("/a"),
            error::invalid_input("bad"),
            error::name_too_long("long"),
            error::busy("/"),
            error::too_many_links("/l"),
            error::invalid_data("not UTF-8"),
            memfs::error::err(ErrorKind::UnexpectedEof, "short"),
            io::Error::other("odd"),
            memfs::error::err(ErrorKind::StorageFull, "full"),
            memfs::error::err(ErrorKind::PermissionDenied, "no"),
        ] {
            let status = status_of_io(&e);
            let back = io_of_status(&status);
            assert_eq!(back.kind(), e.kind(), "{e}");
            assert_eq!(back.to_string(), e.to_string());
        }
    }

    #[test]
    fn codes_follow_kinds() {
        assert_eq!(status_of_io(&error::not_found("/x")).code(), Code::NotFound);
        assert_eq!(
            status_of_io(&error::invalid_input("x")).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            status_of_io(&error::not_empty("/d")).code(),
            Code::FailedPrecondition
        );
        let conflict = error::conflict("/a changed");
        let status = status_of_io(&conflict);
        assert_eq!(status.code(), Code::Aborted);
        assert!(error::is_conflict(&io_of_status(&status)));
    }

    #[test]
    fn statuses_without_errno_use_the_code() {
        let e = io_of_status(&Status::unauthenticated("no token"));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("UNAUTHENTICATED"));
        let e = io_of_status(&Status::out_of_range("message too large"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            io_of_status(&Status::unavailable("down")).kind(),
            ErrorKind::ConnectionRefused
        );
    }
}
