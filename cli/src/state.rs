//! Where the CLI's state lives and how it is read and written safely.
//!
//! The state is one image file (see `persist::image`): `--state PATH`, else `$MEMFS_STATE`, else
//! `~/.memfs_state`. Beside it, `PATH.lock` serializes processes with `fs4` advisory locks: a
//! command that can change the state holds the exclusive lock from before it loads the image
//! until after it has saved it (so concurrent invocations never lose updates); read-only commands
//! hold a shared lock. `memfs serve` and `memfs mount` hold the exclusive lock for their whole
//! life and write a line saying so (address or mountpoint, pid) into `PATH.lock`: another invocation that finds the
//! lock busy and that line fails at once with an error naming the server (instead of waiting
//! for it to stop); without the line it waits, as before. A missing image is an empty filesystem; a corrupt one is an error naming
//! the file and is never overwritten (only `init --force` replaces it).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use memfs::persist::image::{self, Image};

use super::backend::LocalBackend;

/// The image path from the command line, the environment, or the default.
pub fn state_path(from_cli: Option<PathBuf>) -> io::Result<PathBuf> {
    if let Some(p) = from_cli {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("MEMFS_STATE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            memfs::error::err(
                io::ErrorKind::NotFound,
                "cannot find the state: neither --state, $MEMFS_STATE nor $HOME is set",
            )
        })?;
    Ok(PathBuf::from(home).join(".memfs_state"))
}

/// `PATH` with `suffix` appended to its file name (`PATH.lock`, `PATH.json`, ...).
pub fn sibling(image: &Path, suffix: &str) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A held lock on the state; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    file: File,
}

impl StateLock {
    /// Writes `note` into the lock file, for the processes that find the lock busy (an empty
    /// note clears it).
    pub fn set_note(&mut self, note: &str) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(note.as_bytes())?;
        self.file.flush()
    }
}

fn open_lock_file(image: &Path) -> io::Result<(File, PathBuf)> {
    let path = sibling(image, ".lock");
    let dir = match image.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(memfs::error::err(
            io::ErrorKind::NotFound,
            format!(
                "the state's directory {} does not exist (create it, or give --state a path in \
                 an existing directory)",
                dir.display()
            ),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| memfs::error::err(e.kind(), format!("lock file {}: {e}", path.display())))?;
    Ok((file, path))
}

/// The note a serving process left in a busy lock file, if any.
fn busy_note(file: &mut File) -> Option<String> {
    let mut note = String::new();
    file.take(4096).read_to_string(&mut note).ok()?;
    let note = note.trim();
    (!note.is_empty()).then(|| note.to_owned())
}

fn busy_error(image: &Path, note: Option<String>) -> io::Error {
    let holder = note.unwrap_or_else(|| "another memfs process".to_owned());
    memfs::error::err(
        io::ErrorKind::WouldBlock,
        format!(
            "the state {} is locked by {holder}; use --remote, or stop it first",
            image.display()
        ),
    )
}

/// Takes the lock of `image` (exclusive or shared), waiting for other processes, except for a
/// `memfs serve` (it holds the lock until it stops): then it fails at once, naming the server.
pub fn lock(image: &Path, exclusive: bool) -> io::Result<StateLock> {
    let (mut file, path) = open_lock_file(image)?;
    let tried = if exclusive {
        fs4::FileExt::try_lock(&file)
    } else {
        fs4::FileExt::try_lock_shared(&file)
    };
    match tried {
        Ok(()) if exclusive => return held_exclusively(file, image),
        Ok(()) => return Ok(StateLock { file }),
        Err(fs4::TryLockError::WouldBlock) => {
            if let Some(note) = busy_note(&mut file) {
                return Err(busy_error(image, Some(note)));
            }
        }
        Err(fs4::TryLockError::Error(e)) => {
            return Err(memfs::error::err(
                e.kind(),
                format!("locking {}: {e}", path.display()),
            ))
        }
    }
    let locked = if exclusive {
        fs4::FileExt::lock(&file)
    } else {
        fs4::FileExt::lock_shared(&file)
    };
    locked.map_err(|e| memfs::error::err(e.kind(), format!("locking {}: {e}", path.display())))?;
    if exclusive {
        held_exclusively(file, image)
    } else {
        Ok(StateLock { file })
    }
}

/// The exclusive lock just taken: what a process that died holding it left behind is stale now
/// and goes (its note in the lock file, the temporary files of a save it was killed in).
fn held_exclusively(file: File, image: &Path) -> io::Result<StateLock> {
    let mut held = StateLock { file };
    held.set_note("")?;
    image::remove_stale_temps(image)?;
    Ok(held)
}

/// Takes the exclusive lock of `image` without waiting (for `memfs serve`): a busy lock is a
/// `WouldBlock` error naming the holder when it is known.
#[cfg(any(feature = "grpc", feature = "fuse"))]
pub fn try_lock_exclusive(image: &Path) -> io::Result<StateLock> {
    let (mut file, path) = open_lock_file(image)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => held_exclusively(file, image),
        Err(fs4::TryLockError::WouldBlock) => Err(busy_error(image, busy_note(&mut file))),
        Err(fs4::TryLockError::Error(e)) => Err(memfs::error::err(
            e.kind(),
            format!("locking {}: {e}", path.display()),
        )),
    }
}

/// The image at `path`, or `None` if there is none yet.
pub fn load(path: &Path) -> io::Result<Option<Image>> {
    match image::load(path) {
        Ok(img) => Ok(Some(img)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !path.exists() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the backend's filesystem and snapshots to `path`, crash-safely.
pub fn save(path: &Path, backend: &LocalBackend) -> io::Result<()> {
    image::save(path, &backend.fs, &backend.snapshots.borrow())
        .map_err(|e| memfs::error::err(e.kind(), format!("saving {}: {e}", path.display())))
}

/// An identity of the image now on disk (its checksum), `None` if there is none: the shell
/// compares it at save time to detect that another process changed the state meanwhile.
pub fn image_id(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut header = Vec::with_capacity(60);
    f.take(60).read_to_end(&mut header)?;
    Ok(Some(header))
}
