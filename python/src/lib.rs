//! `memfs._memfs`: the Rust engine for the `memfs` Python package.
//!
//! This module owns the crossing between Python and the engine: argument conversion, the
//! mapping of `io::Error` to the `OSError` subclass `os` raises (by errno, with the path as
//! `filename`), and releasing the GIL around every call that does work (`Python::detach`), so
//! that threads of one process read and write in parallel. The Python API itself (the names of
//! the original memfs, `open` with the built-in's modes and io wrappers, `walk`, transactions
//! as context managers) is written in Python on top of this, in `memfs/`.

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

mod pipeline;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

/// The `OSError` (subclass chosen by Python from the errno) that `os` would raise.
fn os_error(e: &io::Error, path: Option<&str>, path2: Option<&str>) -> PyErr {
    let errno = memfs::errno_of(e);
    // The message memfs gives names what failed; the strerror is what `os` prints.
    let strerror = io::Error::from_raw_os_error(errno).to_string();
    let strerror = match strerror.find(" (os error") {
        Some(i) => strerror[..i].to_string(),
        None => strerror,
    };
    match (path, path2) {
        (Some(a), Some(b)) => {
            PyOSError::new_err((errno, strerror, a.to_string(), None::<i32>, b.to_string()))
        }
        (Some(a), None) => PyOSError::new_err((errno, strerror, a.to_string())),
        _ => PyOSError::new_err((errno, format!("{strerror}: {e}"))),
    }
}

/// A wrong password, a corrupt encrypted or compressed file, or an invalid pattern is a
/// `ValueError` with memfs's message; anything else the `OSError` of `os`.
fn invalid_data_is_value_error(e: io::Error, path: &str) -> PyErr {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
            PyValueError::new_err(format!("{path}: {e}"))
        }
        _ => os_error(&e, Some(path), None),
    }
}

fn at(path: &str) -> impl Fn(io::Error) -> PyErr + '_ {
    move |e| os_error(&e, Some(path), None)
}

/// A path argument as `os` takes it: `str` (borrowed where the ABI allows), or `bytes` or an
/// `os.PathLike` (through `os.fspath`).
#[derive(FromPyObject)]
enum PathArg {
    Str(String),
    Other(std::path::PathBuf),
}

impl PathArg {
    /// The path as text; an embedded NUL is the `ValueError` `os` raises.
    fn text(&self) -> PyResult<std::borrow::Cow<'_, str>> {
        let s = match self {
            PathArg::Str(s) => std::borrow::Cow::Borrowed(s.as_str()),
            PathArg::Other(p) => p.to_string_lossy(),
        };
        if s.contains('\0') {
            return Err(PyValueError::new_err("embedded null byte"));
        }
        Ok(s)
    }
}

/// Bytes (borrowed, not copied), text (as UTF-8) or any other buffer, as `writefile` takes
/// them.
enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Text(String),
    Buffer(Vec<u8>),
}

impl<'py> Data<'py> {
    fn of(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = ob.cast::<PyBytes>() {
            return Ok(Data::Bytes(b.clone()));
        }
        if let Ok(s) = ob.extract::<String>() {
            return Ok(Data::Text(s));
        }
        ob.extract::<Vec<u8>>().map(Data::Buffer).map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "data must be str or a bytes-like object, not {}",
                ob.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Text(s) => s.as_bytes(),
            Data::Buffer(b) => b,
        }
    }
}

fn usage_dict<'py>(py: Python<'py>, s: &memfs::Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files", s.files)?;
    d.set_item("dirs", s.dirs)?;
    d.set_item("symlinks", s.symlinks)?;
    d.set_item("logical_bytes", s.logical_bytes)?;
    d.set_item("stored_bytes", s.stored_bytes)?;
    d.set_item("live_bytes", s.live_bytes)?;
    d.set_item("blobs", s.blobs)?;
    d.set_item("max_bytes", s.limits.max_bytes)?;
    d.set_item("max_inodes", s.limits.max_inodes)?;
    Ok(d)
}

/// One level of a walk: the names of the directories and of the other entries of `dir`
/// (a symlink to a directory counts as a directory, as `os.walk` lists it).
fn scan(entries: Vec<memfs::DirEntry>) -> (Vec<String>, Vec<String>) {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for e in entries {
        if e.lists_as_dir() {
            dirs.push(e.file_name());
        } else {
            files.push(e.file_name());
        }
    }
    (dirs, files)
}

/// Files up to this size are read into a buffer and copied into the `bytes` object with the GIL
/// held (cheaper than releasing it a second time); larger ones are filled without it.
const SMALL_READ: usize = 64 * 1024;

/// A new `bytes` object holding the next `len` bytes of `reader`, copied without the GIL (so
/// that threads reading large files do their copies in parallel; `PyBytes::new_with` zeroes
/// the buffer with the GIL held, which serialised half of each read). The bytes are copied
/// chunk by chunk from `fill_buf` straight into the object's buffer, which is never zeroed
/// first (zeroing it was a fifth of a 1 MiB read's time). A reader that ends early is an
/// `UnexpectedEof` error, and the half-filled object is dropped unseen.
fn bytes_read_detached<'py>(
    py: Python<'py>,
    len: usize,
    reader: &mut (impl BufRead + Send),
) -> Result<Bound<'py, PyBytes>, io::Error> {
    let size = pyo3::ffi::Py_ssize_t::try_from(len)
        .map_err(|_| memfs::error::err(io::ErrorKind::OutOfMemory, "file too large for bytes"))?;
    // SAFETY: `PyBytes_FromStringAndSize(NULL, size)` returns a new reference to a fresh bytes
    // object with an uninitialised buffer of `size` bytes (or NULL with an exception set, which
    // `from_owned_ptr_or_err` turns into an error), called with the GIL held (`py`).
    let obj = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), size),
        )
        .map_err(|e| memfs::error::err(io::ErrorKind::OutOfMemory, e.to_string()))?
        .cast_into_unchecked::<PyBytes>()
    };
    // SAFETY: the object is a bytes object we just made: its buffer is `len` bytes long.
    let buf = Buffer(unsafe { pyo3::ffi::PyBytes_AsString(obj.as_ptr()) } as *mut u8);
    let filled = py.detach(move || {
        let buf = buf;
        let mut done = 0;
        while done < len {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                return Err(memfs::error::err(
                    io::ErrorKind::UnexpectedEof,
                    "the file ended before its length",
                ));
            }
            let n = chunk.len().min(len - done);
            // SAFETY: `buf` is `len` writable bytes owned by `obj`, which outlives this call
            // (it is held by this function's frame) and which no other code can reach yet:
            // the object has not been returned to Python, so nothing reads or writes it
            // meanwhile, with or without the GIL. `done + n <= len`, so the copy stays in the
            // buffer, and the source is the reader's own memory, which cannot overlap a bytes
            // object made above. Only raw pointers touch the buffer: no reference to its
            // uninitialised bytes is ever made.
            unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), buf.0.add(done), n) };
            reader.consume(n);
            done += n;
        }
        Ok(())
    });
    filled.map(|()| obj)
}

/// The buffer of a bytes object under construction, handed to the thread that fills it.
struct Buffer(*mut u8);

// SAFETY: the pointer is only dereferenced by the one closure it is moved into (see
// `bytes_read_detached`); no other reference to the buffer exists meanwhile.
unsafe impl Send for Buffer {}

/// A read-only handle on the file at `path`, in one pinned version.
trait Readable {
    fn read_only(&self, path: &str) -> io::Result<memfs::ReadOnlyFile>;
}

impl Readable for memfs::MemFs {
    fn read_only(&self, path: &str) -> io::Result<memfs::ReadOnlyFile> {
        self.snapshot().open(path)
    }
}

impl Readable for memfs::Snapshot {
    fn read_only(&self, path: &str) -> io::Result<memfs::ReadOnlyFile> {
        self.open(path)
    }
}

/// The read API, shared by the live filesystem and a snapshot.
macro_rules! reads {
    ($ty:ident { $($more:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($more)*

            fn exists(&self, py: Python<'_>, path: PathArg) -> bool {
                // As os.path.exists: a path with a NUL byte is simply not there.
                path.text().is_ok_and(|p| py.detach(|| self.inner.exists(&*p)))
            }
            fn isfile(&self, py: Python<'_>, path: PathArg) -> bool {
                // As os.path.isfile: a path with a NUL byte is simply not there.
                path.text().is_ok_and(|p| py.detach(|| self.inner.isfile(&*p)))
            }
            fn isdir(&self, py: Python<'_>, path: PathArg) -> bool {
                // As os.path.isdir: a path with a NUL byte is simply not there.
                path.text().is_ok_and(|p| py.detach(|| self.inner.isdir(&*p)))
            }
            fn listdir(&self, py: Python<'_>, path: PathArg) -> PyResult<Vec<String>> {
                let path = &*path.text()?;
                py.detach(|| self.inner.listdir(path)).map_err(at(path))
            }
            /// The bytes are copied once, into the new `bytes` object, without the GIL.
            fn readfilebytes<'py>(
                &self,
                py: Python<'py>,
                path: PathArg,
            ) -> PyResult<Bound<'py, PyBytes>> {
                let path = &*path.text()?;
                // One release of the GIL finds the file and, if it is small, copies it (one
                // lookup, no handle); a large one is copied into the bytes object itself, also
                // without the GIL, through a handle on the version it was found in.
                let read = py.detach(|| {
                    if let Some(data) = self.inner.read_at_most(path, SMALL_READ as u64)? {
                        return Ok(Ok(data));
                    }
                    let file = self.inner.read_only(path)?;
                    let len = file.metadata()?.len() as usize;
                    Ok(Err((file, len)))
                });
                match read.map_err(at(path))? {
                    Ok(data) => Ok(PyBytes::new(py, &data)),
                    Err((mut file, len)) => {
                        bytes_read_detached(py, len, &mut file).map_err(at(path))
                    }
                }
            }
            /// The content as text (UTF-8); a content that is not UTF-8 comes back as `bytes`
            /// (as the original memfs returned whatever was stored).
            fn readfile<'py>(&self, py: Python<'py>, path: PathArg) -> PyResult<Bound<'py, PyAny>> {
                let path = &*path.text()?;
                let data = py.detach(|| self.inner.read(path)).map_err(at(path))?;
                Ok(match String::from_utf8(data) {
                    Ok(text) => text.into_pyobject(py)?.into_any(),
                    Err(e) => PyBytes::new(py, e.as_bytes()).into_any(),
                })
            }
            /// `(dirnames, filenames)` of one directory (sorted), for `walk`.
            fn scandir(
                &self,
                py: Python<'_>,
                path: PathArg,
            ) -> PyResult<(Vec<String>, Vec<String>)> {
                let path = &*path.text()?;
                py.detach(|| self.inner.read_dir(path).map(scan)).map_err(at(path))
            }
            /// `(kind, size, mode, mtime_ns, ino)` of `path`; `follow` a final symlink or not.
            #[pyo3(signature = (path, follow = true))]
            fn stat(
                &self,
                py: Python<'_>,
                path: PathArg,
                follow: bool,
            ) -> PyResult<(char, u64, u32, i128, u64)> {
                let path = &*path.text()?;
                let m = py
                    .detach(|| {
                        if follow {
                            self.inner.metadata(path)
                        } else {
                            self.inner.symlink_metadata(path)
                        }
                    })
                    .map_err(at(path))?;
                let kind = match m.file_type() {
                    memfs::FileType::Dir => 'd',
                    memfs::FileType::File => 'f',
                    memfs::FileType::Symlink => 'l',
                    // FIFOs, sockets and device nodes: "other" (`ls -l`'s letters).
                    memfs::FileType::Fifo => 'p',
                    memfs::FileType::Socket => 's',
                    memfs::FileType::CharDevice => 'c',
                    memfs::FileType::BlockDevice => 'b',
                };
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128);
                Ok((kind, m.len(), m.permissions().mode(), mtime, m.ino()))
            }
            fn readlink(&self, py: Python<'_>, path: PathArg) -> PyResult<String> {
                let path = &*path.text()?;
                py.detach(|| self.inner.read_link(path)).map_err(at(path))
            }
            fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let s = py.detach(|| self.inner.stats());
                usage_dict(py, &s)
            }
        }
    };
}

/// The live filesystem: `memfs.MemoryFS` is a Python subclass (adding `open`, `walk`, ...), so
/// the methods here are called without a Python layer in between.
#[pyclass(module = "memfs._memfs", frozen, subclass)]
pub(crate) struct Fs {
    inner: memfs::MemFs,
}

impl Fs {
    /// The engine's filesystem (for the pipeline's components).
    pub(crate) fn engine(&self) -> &memfs::MemFs {
        &self.inner
    }
}

/// A pinned version (`fs.snapshot()`).
#[pyclass(module = "memfs._memfs", frozen)]
struct Snapshot {
    inner: memfs::Snapshot,
}

reads!(Snapshot {
    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation()
    }
});

reads!(Fs {
    /// An empty filesystem with an optional quota, or (`load=PATH`) the one in a state image
    /// (the CLI's format; a corrupt or foreign file is a `ValueError`).
    #[new]
    #[pyo3(signature = (max_bytes = None, max_inodes = None, *, load = None))]
    fn new(
        py: Python<'_>,
        max_bytes: Option<u64>,
        max_inodes: Option<u64>,
        load: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let fs = match load {
            None => memfs::MemFs::new(),
            Some(path) => match py.detach(|| memfs::persist::image::load(&path)) {
                Ok(img) => img.fs,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(PyValueError::new_err(format!("{}: {e}", path.display())))
                }
                Err(e) => return Err(os_error(&e, Some(&path.to_string_lossy()), None)),
            },
        };
        if max_bytes.is_some() || max_inodes.is_some() {
            fs.set_limits(memfs::Limits {
                max_bytes,
                max_inodes,
            });
        }
        Ok(Fs { inner: fs })
    }

    #[pyo3(signature = (path, mode = 0o777))]
    fn mkdir(&self, py: Python<'_>, path: PathArg, mode: u32) -> PyResult<()> {
        let _ = mode; // stored modes come from chmod; the umask'd default is 0o755
        let path = &*path.text()?;
        py.detach(|| self.inner.create_dir(path)).map_err(at(path))
    }

    #[pyo3(signature = (path, exist_ok = false))]
    fn makedirs(&self, py: Python<'_>, path: PathArg, exist_ok: bool) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.makedirs(path, exist_ok))
            .map_err(at(path))
    }

    fn remove(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.remove_file(path)).map_err(at(path))
    }

    fn rmdir(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.remove_dir(path)).map_err(at(path))
    }

    fn rmtree(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.remove_dir_all(path))
            .map_err(at(path))
    }

    fn rename(&self, py: Python<'_>, src: PathArg, dst: PathArg) -> PyResult<()> {
        let (src, dst) = (&*src.text()?, &*dst.text()?);
        py.detach(|| self.inner.rename(src, dst))
            .map_err(|e| os_error(&e, Some(src), Some(dst)))
    }

    fn copy(&self, py: Python<'_>, src: PathArg, dst: PathArg) -> PyResult<u64> {
        let (src, dst) = (&*src.text()?, &*dst.text()?);
        py.detach(|| self.inner.copy(src, dst))
            .map_err(|e| os_error(&e, Some(src), Some(dst)))
    }

    fn symlink(&self, py: Python<'_>, target: PathArg, link: PathArg) -> PyResult<()> {
        let (target, link) = (&*target.text()?, &*link.text()?);
        py.detach(|| self.inner.symlink(target, link))
            .map_err(|e| os_error(&e, Some(target), Some(link)))
    }

    /// `os.link(src, dst)`: a hard link, one more name of the same file.
    fn link(&self, py: Python<'_>, src: PathArg, dst: PathArg) -> PyResult<()> {
        let (src, dst) = (&*src.text()?, &*dst.text()?);
        py.detach(|| self.inner.hard_link(src, dst))
            .map_err(|e| os_error(&e, Some(src), Some(dst)))
    }

    /// The number of hard links of `path` (`os.stat(path).st_nlink`).
    #[pyo3(signature = (path, follow = true))]
    fn nlink(&self, py: Python<'_>, path: PathArg, follow: bool) -> PyResult<u32> {
        let path = &*path.text()?;
        py.detach(|| {
            if follow {
                self.inner.metadata(path)
            } else {
                self.inner.symlink_metadata(path)
            }
        })
        .map(|m| m.nlink())
        .map_err(at(path))
    }

    fn writefile(&self, py: Python<'_>, path: PathArg, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = Data::of(data)?;
        let path = &*path.text()?;
        {
            let bytes = data.as_bytes();
            py.detach(|| self.inner.write(path, bytes))
        }
            .map_err(at(path))
    }

    fn appendfile(&self, py: Python<'_>, path: PathArg, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = Data::of(data)?;
        let path = &*path.text()?;
        {
            let bytes = data.as_bytes();
            py.detach(|| self.inner.append(path, bytes))
        }
            .map_err(at(path))
    }

    fn truncate(&self, py: Python<'_>, path: PathArg, length: u64) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.set_len(path, length))
            .map_err(at(path))
    }

    fn chmod(&self, py: Python<'_>, path: PathArg, mode: u32) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.set_permissions(path, mode & 0o7777))
            .map_err(at(path))
    }

    fn touch(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.touch(path)).map_err(at(path))
    }

    /// Opens a raw handle on `path` in the engine's `mode` (`r`, `w`, `a`, `x`, maybe with `+`;
    /// no `b`/`t`: text is Python's); `name_mode` is the `mode` attribute the handle shows (the
    /// caller's, e.g. `rb`).
    #[pyo3(signature = (path, mode, name_mode = None))]
    fn open_raw(
        &self,
        py: Python<'_>,
        path: PathArg,
        mode: &str,
        name_mode: Option<&str>,
    ) -> PyResult<RawFile> {
        let path = &*path.text()?;
        let f = py
            .detach(|| self.inner.open_mode(path, mode))
            .map_err(at(path))?;
        Ok(RawFile::new(Handle::Plain(f), path, mode, name_mode))
    }

    /// Opens a password-encrypted file (`r`, `w` or `a`); a wrong password is a `ValueError`.
    #[pyo3(signature = (path, mode, password, name_mode = None))]
    fn open_encrypted_raw(
        &self,
        py: Python<'_>,
        path: PathArg,
        mode: &str,
        password: &str,
        name_mode: Option<&str>,
    ) -> PyResult<RawFile> {
        let path = &*path.text()?;
        let f = py
            .detach(|| self.inner.open_encrypted(path, mode, password))
            .map_err(|e| invalid_data_is_value_error(e, path))?;
        Ok(RawFile::new(Handle::Encrypted(f), path, mode, name_mode))
    }

    /// Opens an LZ4-compressed file (`r`, `w` or `a`) with a level of 0 to 12.
    #[pyo3(signature = (path, mode, level, name_mode = None))]
    fn open_compressed_raw(
        &self,
        py: Python<'_>,
        path: PathArg,
        mode: &str,
        level: u32,
        name_mode: Option<&str>,
    ) -> PyResult<RawFile> {
        let path = &*path.text()?;
        let f = py
            .detach(|| self.inner.open_compressed(path, mode, level))
            .map_err(|e| invalid_data_is_value_error(e, path))?;
        Ok(RawFile::new(Handle::Compressed(f), path, mode, name_mode))
    }

    /// Replaces the user metadata (str to str) of `path`; an empty dict clears it.
    fn set_metadata(
        &self,
        py: Python<'_>,
        path: PathArg,
        metadata: std::collections::BTreeMap<String, String>,
    ) -> PyResult<()> {
        let path = &*path.text()?;
        py.detach(|| self.inner.set_metadata(path, metadata))
            .map_err(at(path))
    }

    fn get_metadata(
        &self,
        py: Python<'_>,
        path: PathArg,
    ) -> PyResult<std::collections::BTreeMap<String, String>> {
        let path = &*path.text()?;
        py.detach(|| self.inner.get_metadata(path)).map_err(at(path))
    }

    /// Paths below `start_path` matching a glob, sorted (in parallel, one version).
    #[pyo3(signature = (pattern, start_path = PathArg::Str("/".into())))]
    fn find(&self, py: Python<'_>, pattern: &str, start_path: PathArg) -> PyResult<Vec<String>> {
        let start = &*start_path.text()?;
        py.detach(|| self.inner.find(pattern, start))
            .map_err(|e| invalid_data_is_value_error(e, start))
    }

    /// Files below `start_path` containing `text`, optionally only with one of `extensions`.
    #[pyo3(signature = (text, extensions = None, start_path = PathArg::Str("/".into())))]
    fn search_content(
        &self,
        py: Python<'_>,
        text: &str,
        extensions: Option<Vec<String>>,
        start_path: PathArg,
    ) -> PyResult<Vec<String>> {
        let start = &*start_path.text()?;
        let exts: Option<Vec<&str>> = extensions
            .as_ref()
            .map(|v| v.iter().map(String::as_str).collect());
        py.detach(|| self.inner.search_content(text, exts.as_deref(), start))
            .map_err(at(start))
    }

    /// Copies `path` into `backup_dir` under a new timestamped name; returns that path.
    #[pyo3(signature = (path, backup_dir = PathArg::Str("/backup".into())))]
    fn backup(&self, py: Python<'_>, path: PathArg, backup_dir: PathArg) -> PyResult<String> {
        let (path, dir) = (&*path.text()?, &*backup_dir.text()?);
        py.detach(|| self.inner.backup(path, dir))
            .map_err(|e| os_error(&e, Some(path), Some(dir)))
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            inner: self.inner.snapshot(),
        }
    }

    fn restore(&self, py: Python<'_>, snap: &Snapshot) -> PyResult<()> {
        py.detach(|| self.inner.restore(&snap.inner))
            .map_err(|e| os_error(&e, None, None))
    }

    fn begin(&self) -> Tx {
        Tx {
            tx: Mutex::new(Some(self.inner.begin())),
        }
    }

    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// The tree (or the subtree at `path`) as the original memfs's JSON.
    #[pyo3(signature = (path = PathArg::Str("/".into())))]
    fn dump(&self, py: Python<'_>, path: PathArg) -> PyResult<String> {
        let path = &*path.text()?;
        py.detach(|| memfs::persist::json::dump(&self.inner, path))
            .map_err(at(path))
    }

    /// Replaces the whole tree by a JSON document (this package's or the original's).
    fn load_json(&self, py: Python<'_>, text: &str) -> PyResult<()> {
        py.detach(|| memfs::persist::json::load_str(&self.inner, text))
            .map_err(|e| PyValueError::new_err(format!("cannot load the JSON document: {e}")))
    }

    /// Saves the tree as a state image (the CLI's format), crash-safe.
    fn save(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        let snapshots = Default::default();
        py.detach(|| memfs::persist::image::save(path.as_ref(), &self.inner, &snapshots))
            .map_err(at(path))
    }
});

/// A transaction (`with fs.transaction() as tx:`): reads its own writes, commits atomically.
#[pyclass(module = "memfs._memfs", frozen)]
struct Tx {
    tx: Mutex<Option<memfs::Transaction>>,
}

impl Tx {
    fn with<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut memfs::Transaction) -> io::Result<T> + Send,
    ) -> PyResult<T>
    where
        T: Send,
    {
        // The transaction is not `Sync` (it records reads in a `RefCell`), but it is `Send`:
        // the lock gives this call the only `&mut`. The lock is taken and released without the
        // GIL: a thread that waited for it holding the GIL would deadlock with the holder, who
        // needs the GIL back to return (tests/test_beyond_the_original.py, four threads).
        let done = py.detach(|| {
            let mut guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_mut().map(f)
        });
        match done {
            None => Err(PyValueError::new_err("the transaction is finished")),
            Some(r) => r.map_err(|e| os_error(&e, None, None)),
        }
    }
}

#[pymethods]
impl Tx {
    fn writefile(&self, py: Python<'_>, path: PathArg, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = Data::of(data)?;
        let path = &*path.text()?;
        let bytes = data.as_bytes();
        self.with(py, |tx| tx.write(path, bytes))
    }
    fn readfilebytes<'py>(&self, py: Python<'py>, path: PathArg) -> PyResult<Bound<'py, PyBytes>> {
        let path = &*path.text()?;
        let data = self.with(py, |tx| tx.read(path))?;
        Ok(PyBytes::new(py, &data))
    }
    fn exists(&self, py: Python<'_>, path: PathArg) -> PyResult<bool> {
        let path = &*path.text()?;
        self.with(py, |tx| Ok(tx.exists(path)))
    }
    fn listdir(&self, py: Python<'_>, path: PathArg) -> PyResult<Vec<String>> {
        let path = &*path.text()?;
        self.with(py, |tx| tx.listdir(path))
    }
    fn makedirs(&self, py: Python<'_>, path: PathArg, exist_ok: bool) -> PyResult<()> {
        let path = &*path.text()?;
        self.with(py, |tx| tx.makedirs(path, exist_ok))
    }
    #[pyo3(signature = (path, mode = 0o777))]
    fn mkdir(&self, py: Python<'_>, path: PathArg, mode: u32) -> PyResult<()> {
        let _ = mode; // stored modes come from chmod; the umask'd default is 0o755
        let path = &*path.text()?;
        self.with(py, |tx| tx.create_dir(path))
    }
    fn remove(&self, py: Python<'_>, path: PathArg) -> PyResult<()> {
        let path = &*path.text()?;
        self.with(py, |tx| tx.remove_file(path))
    }
    fn rename(&self, py: Python<'_>, src: PathArg, dst: PathArg) -> PyResult<()> {
        let (src, dst) = (&*src.text()?, &*dst.text()?);
        self.with(py, |tx| tx.rename(src, dst))
    }
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyValueError::new_err("the transaction is finished"))?;
        py.detach(|| tx.commit()).map_err(|e| {
            if memfs::is_conflict(&e) {
                PyRuntimeError::new_err(e.to_string())
            } else {
                os_error(&e, None, None)
            }
        })
    }
    fn rollback(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// What a raw handle reads and writes: a plain file (seekable), or an encrypted or compressed
/// one (streams: read from the start, or written in order).
enum Handle {
    Plain(memfs::File),
    Encrypted(memfs::EncryptedFile),
    Compressed(memfs::CompressedFile),
}

impl Read for Handle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Handle::Plain(f) => f.read(buf),
            Handle::Encrypted(f) => f.read(buf),
            Handle::Compressed(f) => f.read(buf),
        }
    }
}

impl Write for Handle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Handle::Plain(f) => f.write(buf),
            Handle::Encrypted(f) => f.write(buf),
            Handle::Compressed(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Handle::Plain(f) => f.flush(),
            Handle::Encrypted(f) => f.flush(),
            Handle::Compressed(f) => f.flush(),
        }
    }
}

impl Handle {
    fn plain(&mut self, what: &str) -> io::Result<&mut memfs::File> {
        match self {
            Handle::Plain(f) => Ok(f),
            _ => Err(memfs::error::err(
                io::ErrorKind::Unsupported,
                format!("{what} is not supported on an encrypted or compressed file"),
            )),
        }
    }
}

/// An open file, duck-typed as an `io.RawIOBase` (and registered as one by `memfs.memfs`):
/// `open` puts the built-in `io.BufferedReader`/`BufferedWriter`/`BufferedRandom` directly on
/// it, so their calls to the raw file cross into Rust with no Python frame between;
/// `memfs.MemoryFile` (unbuffered opens) wraps it for the rest of `IOBase`.
#[pyclass(module = "memfs._memfs", frozen)]
struct RawFile {
    file: Mutex<Option<Handle>>,
    path: String,
    mode: String,
    readable: bool,
    writable: bool,
}

impl RawFile {
    /// `raw_mode` is the engine's (`r`, `w`, `a`, `x`, each maybe with `+`), `mode` what the
    /// caller asked for (the `mode` attribute).
    fn new(handle: Handle, path: &str, raw_mode: &str, mode: Option<&str>) -> Self {
        let update = raw_mode.contains('+');
        let reading = raw_mode.starts_with('r');
        RawFile {
            file: Mutex::new(Some(handle)),
            path: path.to_string(),
            mode: mode.unwrap_or(raw_mode).to_string(),
            readable: reading || update,
            writable: !reading || update,
        }
    }

    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Handle) -> io::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Some(file) => f(file).map_err(|e| match e.kind() {
                    io::ErrorKind::Unsupported => unsupported(&e.to_string()),
                    _ => os_error(&e, Some(&self.path), None),
                }),
                None => Err(closed()),
            }
        })
    }

    fn is_closed(&self) -> bool {
        self.file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// `ValueError` if closed, `io.UnsupportedOperation` unless `ok`.
    fn need(&self, ok: bool, what: &str) -> PyResult<()> {
        if self.is_closed() {
            return Err(closed());
        }
        if !ok {
            return Err(unsupported(what));
        }
        Ok(())
    }

    fn read_vec(&self, py: Python<'_>, n: i64) -> PyResult<Vec<u8>> {
        self.need(self.readable, "File not open for reading")?;
        self.with(py, |f| {
            let mut out = Vec::new();
            if n < 0 {
                f.read_to_end(&mut out)?;
            } else {
                out.resize(n as usize, 0);
                let got = f.read(&mut out)?;
                out.truncate(got);
            }
            Ok(out)
        })
    }
}

fn closed() -> PyErr {
    PyValueError::new_err("I/O operation on closed file")
}

pyo3::import_exception!(io, UnsupportedOperation);

fn unsupported(what: &str) -> PyErr {
    UnsupportedOperation::new_err(what.to_string())
}

#[pymethods]
impl RawFile {
    /// Up to `n` bytes (`n < 0` or `None`: to the end).
    #[pyo3(signature = (n = -1))]
    fn read<'py>(&self, py: Python<'py>, n: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.read_vec(py, n.unwrap_or(-1))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Everything from the position to the end.
    fn readall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.read(py, Some(-1))
    }

    /// Reads into a writable buffer (what `io.BufferedReader` calls); the count read.
    fn readinto(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.need(self.readable, "File not open for reading")?;
        let view = pyo3::types::PyMemoryView::from(buffer)?.call_method1("cast", ("B",))?;
        let len = view.len()?;
        let data = self.read_vec(py, len as i64)?;
        let n = data.len();
        let slice = pyo3::types::PySlice::new(py, 0, n as isize, 1);
        view.set_item(slice, PyBytes::new(py, &data))?;
        Ok(n)
    }

    /// Writes all of a bytes-like object (written bytes stay private until `flush`/`close`).
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.need(self.writable, "File not open for writing")?;
        let bytes = match data.cast::<PyBytes>() {
            Ok(b) => b.clone(),
            Err(_) => py
                .get_type::<PyBytes>()
                .call1((data,))?
                .cast_into::<PyBytes>()?,
        };
        let data = bytes.as_bytes();
        self.with(py, |f| f.write_all(data).map(|()| data.len()))
    }

    fn readable(&self) -> PyResult<bool> {
        self.need(true, "")?;
        Ok(self.readable)
    }

    fn writable(&self) -> PyResult<bool> {
        self.need(true, "")?;
        Ok(self.writable)
    }

    /// Whether the handle can seek (plain files only).
    fn seekable(&self) -> PyResult<bool> {
        let guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match *guard {
            None => Err(closed()),
            Some(ref h) => Ok(matches!(h, Handle::Plain(_))),
        }
    }

    #[pyo3(signature = (offset, whence = 0))]
    fn seek(&self, py: Python<'_>, offset: i64, whence: i32) -> PyResult<u64> {
        let to = match whence {
            0 if offset < 0 => {
                return Err(PyValueError::new_err(format!(
                    "negative seek position {offset}"
                )))
            }
            0 => SeekFrom::Start(offset as u64),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "invalid whence ({whence}, should be 0, 1 or 2)"
                )))
            }
        };
        self.with(py, |f| f.plain("seek")?.seek(to))
    }

    fn tell(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |f| f.plain("tell")?.stream_position())
    }

    /// Sets the length to `size` (`None`: the position); the position does not move.
    #[pyo3(signature = (size = None))]
    fn truncate(&self, py: Python<'_>, size: Option<i64>) -> PyResult<u64> {
        self.need(self.writable, "File not open for writing")?;
        let size = match size {
            Some(s) if s < 0 => return Err(PyOSError::new_err((22, "Invalid argument"))),
            Some(s) => s as u64,
            None => self.tell(py)?,
        };
        self.with(py, |f| f.plain("truncate")?.set_len(size).map(|()| size))
    }

    /// Publishes what was written (other readers see it from now on); nothing on a closed
    /// file, as the built-in raw files do.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_closed() {
            return Ok(());
        }
        self.with(py, |f| f.flush())
    }

    /// Publishes and closes; closing twice is allowed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner()).take();
        match file {
            Some(mut f) => py
                .detach(|| f.flush())
                .map_err(|e| os_error(&e, Some(&self.path), None)),
            None => Ok(()),
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.is_closed()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.path
    }

    #[getter]
    fn mode(&self) -> &str {
        &self.mode
    }

    fn fileno(&self) -> PyResult<i32> {
        Err(unsupported("a memfs file has no file descriptor"))
    }

    fn isatty(&self) -> PyResult<bool> {
        self.need(true, "")?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("<memfs.RawFile name={:?} mode={:?}>", self.path, self.mode)
    }

    /// One line (up to `size` bytes), with its `\n`; empty at the end.
    #[pyo3(signature = (size = -1))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        self.need(self.readable, "File not open for reading")?;
        let limit = size.filter(|&n| n >= 0).map(|n| n as usize);
        let line = self.with(py, |f| {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while limit.is_none_or(|n| line.len() < n) {
                if f.read(&mut byte)? == 0 {
                    break;
                }
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            Ok(line)
        })?;
        Ok(PyBytes::new(py, &line))
    }

    /// The remaining lines (stopping once `hint` bytes are read, if it is positive).
    #[pyo3(signature = (hint = -1))]
    fn readlines<'py>(
        &self,
        py: Python<'py>,
        hint: Option<i64>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let hint = hint.filter(|&n| n > 0).map(|n| n as usize);
        let (mut lines, mut total) = (Vec::new(), 0);
        loop {
            let line = self.readline(py, None)?;
            if line.as_bytes().is_empty() {
                return Ok(lines);
            }
            total += line.as_bytes().len();
            lines.push(line);
            if hint.is_some_and(|h| total >= h) {
                return Ok(lines);
            }
        }
    }

    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(py, &line?)?;
        }
        Ok(())
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.need(true, "")?;
        Ok(slf)
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.readline(py, None)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.need(true, "")?;
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

#[pymodule]
fn _memfs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Fs>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Tx>()?;
    m.add_class::<RawFile>()?;
    m.add_class::<pipeline::Component>()?;
    m.add_class::<pipeline::Pipeline>()?;
    m.add("CHUNK_SIZE", memfs::CHUNK_SIZE)?;
    Ok(())
}
