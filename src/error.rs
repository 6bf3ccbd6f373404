//! The one place where memfs failures become `std::io::Error`s, and where `io::ErrorKind`s
//! become Linux errno values (used by the FUSE layer and the gRPC status mapping).
//!
//! Every error carries the `ErrorKind` that Linux gives for the same call on tmpfs/ext4 and a
//! message that names the path. Every crate of the project (engine, gRPC, CLI) builds its
//! `io::Error`s with these constructors ([`err`] for a kind without one of its own); the only
//! other source is the OS, whose errors (host files, `io::Error::from_raw_os_error` for an
//! errno that has no kind) pass through unchanged.

use std::fmt;
use std::io::{self, ErrorKind};

/// Builds an error of `kind` with message `msg` (a text, or an error value that callers can
/// downcast, like the transaction conflict).
pub fn err(kind: ErrorKind, msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(kind, msg)
}

/// The path does not exist (`ENOENT`).
pub fn not_found(path: impl fmt::Display) -> io::Error {
    err(
        ErrorKind::NotFound,
        format!("no such file or directory: {path}"),
    )
}

/// The target exists already (`EEXIST`).
pub fn already_exists(path: impl fmt::Display) -> io::Error {
    err(ErrorKind::AlreadyExists, format!("file exists: {path}"))
}

/// A component used as a directory is not one (`ENOTDIR`).
pub fn not_a_directory(path: impl fmt::Display) -> io::Error {
    err(ErrorKind::NotADirectory, format!("not a directory: {path}"))
}

/// A file operation was applied to a directory (`EISDIR`).
pub fn is_a_directory(path: impl fmt::Display) -> io::Error {
    err(ErrorKind::IsADirectory, format!("is a directory: {path}"))
}

/// The directory still has entries (`ENOTEMPTY`).
pub fn not_empty(path: impl fmt::Display) -> io::Error {
    err(
        ErrorKind::DirectoryNotEmpty,
        format!("directory not empty: {path}"),
    )
}

/// Bad argument (`EINVAL`).
pub fn invalid_input(msg: impl Into<String>) -> io::Error {
    err(ErrorKind::InvalidInput, msg.into())
}

/// Bad data (corrupt image, invalid UTF-8, wrong password...).
pub fn invalid_data(msg: impl Into<String>) -> io::Error {
    err(ErrorKind::InvalidData, msg.into())
}

/// A name or path over the Linux limits (`ENAMETOOLONG`).
pub fn name_too_long(msg: impl Into<String>) -> io::Error {
    err(ErrorKind::InvalidFilename, msg.into())
}

/// The operation needs something busy, e.g. removing `/` (`EBUSY`).
/// Opening a FIFO, socket or device node through the library's file API, which stores them
/// but gives them no meaning (the kernel does, on a mount).
pub fn special_file(path: impl fmt::Display) -> io::Error {
    err(
        ErrorKind::InvalidInput,
        format!("{path} is a special file (FIFO, socket or device node): memfs stores it, it does not open it"),
    )
}

pub fn busy(path: impl fmt::Display) -> io::Error {
    err(
        ErrorKind::ResourceBusy,
        format!("device or resource busy: {path}"),
    )
}

/// A handle was used for something its mode does not allow (`EBADF`).
pub fn bad_handle(msg: impl Into<String>) -> io::Error {
    // EBADF decodes to ErrorKind::Uncategorized on Linux, which is unstable to name; take the
    // kind from the OS decoding so it is the same as std's.
    err(
        io::Error::from_raw_os_error(libc_errno::EBADF).kind(),
        msg.into(),
    )
}

/// Too many levels of symbolic links (`ELOOP`).
pub fn too_many_links(path: impl fmt::Display) -> io::Error {
    err(
        io::Error::from_raw_os_error(libc_errno::ELOOP).kind(),
        format!("too many levels of symbolic links: {path}"),
    )
}

/// An operation only a privileged or owning process may do, or one Linux never does, such as
/// a hard link to a directory (`EPERM`, not the `EACCES` a plain `PermissionDenied` is).
pub fn not_permitted(msg: impl Into<String>) -> io::Error {
    with_errno(libc_errno::EPERM, msg)
}

/// A node already has as many hard links as it can count (`EMLINK`).
pub fn too_many_hard_links(path: impl fmt::Display) -> io::Error {
    with_errno(
        libc_errno::EMLINK,
        format!("too many links: {path} has the most hard links a node can have"),
    )
}

/// An error with its message and the Linux errno it stands for, where that errno is not the
/// one its kind gives (see [`errno_of`]): the kind is std's decoding of the errno.
pub fn with_errno(errno: i32, msg: impl Into<String>) -> io::Error {
    err(
        io::Error::from_raw_os_error(errno).kind(),
        Errno {
            errno,
            message: msg.into(),
        },
    )
}

/// The payload of [`with_errno`]'s errors.
#[derive(Debug)]
pub struct Errno {
    errno: i32,
    message: String,
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Errno {}

/// The marker inside a transaction-conflict error; see [`is_conflict`].
#[derive(Debug)]
pub struct ConflictError {
    message: String,
}

impl fmt::Display for ConflictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transaction conflict: {}", self.message)
    }
}

impl std::error::Error for ConflictError {}

/// A transaction could not commit because what it read or wrote changed meanwhile. The kind is
/// `ResourceBusy` (the closest Linux errno, `EBUSY`); the message starts with
/// "transaction conflict".
pub fn conflict(msg: impl Into<String>) -> io::Error {
    io::Error::new(
        ErrorKind::ResourceBusy,
        ConflictError {
            message: msg.into(),
        },
    )
}

/// Whether `e` is a transaction conflict (as returned by `Transaction::commit`).
pub fn is_conflict(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ConflictError>())
}

/// Linux errno numbers used by memfs (the generic values of x86_64 and aarch64).
pub mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EIO: i32 = 5;
    pub const EBADF: i32 = 9;
    pub const EACCES: i32 = 13;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const EXDEV: i32 = 18;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const EFBIG: i32 = 27;
    pub const ENOSPC: i32 = 28;
    pub const EROFS: i32 = 30;
    pub const EMLINK: i32 = 31;
    pub const ERANGE: i32 = 34;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const ENOTEMPTY: i32 = 39;
    pub const ELOOP: i32 = 40;
    pub const ENODATA: i32 = 61;
    pub const EOPNOTSUPP: i32 = 95;
    pub const ETIMEDOUT: i32 = 110;
}

/// The one table between `ErrorKind`s and Linux errnos: [`errno_of`] reads it left to right
/// (the first row of a kind is its errno), [`kind_of_errno`] right to left (every row, so
/// `EPERM` and `EACCES` both come back as `PermissionDenied`).
fn errno_table() -> [(ErrorKind, i32); 18] {
    use libc_errno::*;
    [
        (ErrorKind::NotFound, ENOENT),
        (ErrorKind::PermissionDenied, EACCES),
        (ErrorKind::PermissionDenied, EPERM),
        (ErrorKind::AlreadyExists, EEXIST),
        (ErrorKind::NotADirectory, ENOTDIR),
        (ErrorKind::IsADirectory, EISDIR),
        (ErrorKind::DirectoryNotEmpty, ENOTEMPTY),
        (ErrorKind::InvalidInput, EINVAL),
        (ErrorKind::InvalidFilename, ENAMETOOLONG),
        (ErrorKind::ResourceBusy, EBUSY),
        (ErrorKind::ReadOnlyFilesystem, EROFS),
        (ErrorKind::StorageFull, ENOSPC),
        (ErrorKind::FileTooLarge, EFBIG),
        (ErrorKind::CrossesDevices, EXDEV),
        (ErrorKind::TimedOut, ETIMEDOUT),
        (ErrorKind::Unsupported, ENOSYS),
        // Kinds that stable Rust cannot name (FilesystemLoop, and EBADF's): std's decoding of
        // the Linux number gives exactly the kind a local call would have.
        (io::Error::from_raw_os_error(ELOOP).kind(), ELOOP),
        (io::Error::from_raw_os_error(EBADF).kind(), EBADF),
    ]
}

/// The errno a Linux filesystem would return for an error of this kind (FUSE replies and the
/// gRPC status metadata both use it); `EIO` for a kind with no errno of its own. An error that
/// carries an OS code returns that code.
pub fn errno_of(e: &io::Error) -> i32 {
    if let Some(code) = e.raw_os_error() {
        return code;
    }
    if let Some(Errno { errno, .. }) = e.get_ref().and_then(|i| i.downcast_ref::<Errno>()) {
        return *errno;
    }
    let kind = e.kind();
    errno_table()
        .into_iter()
        .find(|&(k, _)| k == kind)
        .map_or(libc_errno::EIO, |(_, errno)| errno)
}

/// The `ErrorKind` for a Linux errno whatever this platform is (the inverse of [`errno_of`],
/// from the same table); `None` for `EIO` and numbers outside the table.
pub fn kind_of_errno(errno: i32) -> Option<ErrorKind> {
    if cfg!(not(target_os = "linux")) && (errno == libc_errno::ELOOP || errno == libc_errno::EBADF)
    {
        // Their kinds come from decoding the Linux number, which only Linux's std does.
        return None;
    }
    errno_table()
        .into_iter()
        .find(|&(_, n)| n == errno)
        .map(|(kind, _)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_linux_decoding() {
        for (e, errno) in [
            (not_found("/x"), libc_errno::ENOENT),
            (already_exists("/x"), libc_errno::EEXIST),
            (not_a_directory("/x"), libc_errno::ENOTDIR),
            (is_a_directory("/x"), libc_errno::EISDIR),
            (not_empty("/x"), libc_errno::ENOTEMPTY),
            (invalid_input("x"), libc_errno::EINVAL),
            (name_too_long("x"), libc_errno::ENAMETOOLONG),
            (busy("/"), libc_errno::EBUSY),
            (too_many_links("/x"), libc_errno::ELOOP),
            (bad_handle("x"), libc_errno::EBADF),
        ] {
            assert_eq!(e.kind(), io::Error::from_raw_os_error(errno).kind(), "{e}");
            assert_eq!(errno_of(&e), errno, "{e}");
        }
    }

    #[test]
    fn the_errno_table_reads_both_ways() {
        for (kind, errno) in errno_table() {
            // Forward: the kind's first row.
            let forward = errno_of(&io::Error::from(kind));
            assert_eq!(kind_of_errno(forward), Some(kind), "{kind:?}");
            // Backward: every row, and the kind decodes as Linux decodes the number.
            assert_eq!(kind_of_errno(errno), Some(kind), "errno {errno}");
            assert_eq!(
                io::Error::from_raw_os_error(errno).kind(),
                kind,
                "errno {errno}"
            );
        }
        assert_eq!(
            errno_of(&io::Error::from(ErrorKind::InvalidData)),
            libc_errno::EIO
        );
        assert_eq!(kind_of_errno(libc_errno::EIO), None);
        assert_eq!(kind_of_errno(12345), None);
        assert_eq!(
            errno_of(&io::Error::from_raw_os_error(libc_errno::ERANGE)),
            libc_errno::ERANGE
        );
    }

    #[test]
    fn messages_name_the_path() {
        assert!(not_found("/a/b").to_string().contains("/a/b"));
    }

    #[test]
    fn conflict_is_recognisable() {
        let e = conflict("/a changed");
        assert!(is_conflict(&e));
        assert!(e.to_string().contains("conflict"));
        assert!(!is_conflict(&not_found("/a")));
    }
}
