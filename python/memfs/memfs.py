"""The filesystem: ``MemoryFS`` (the original memfs's class and names), ``MemoryFile`` and
``create_fs``.

``MemoryFS`` is a thin layer over the Rust engine (``memfs._memfs``): every call that does work
runs there with the GIL released, so threads read and write in parallel. Each instance is its
own filesystem (the original shared one dictionary between all of them). ``open`` follows the
built-in ``open``: the same modes, errors and arguments, and the same io stack (a raw
``MemoryFile`` under ``io.BufferedReader``/``BufferedWriter``/``BufferedRandom`` and, in text
mode, ``io.TextIOWrapper``), so ``csv``, ``json``, ``pickle``, ``shutil`` and anything else that
takes a file object work unchanged. A handle's writes are private until it is flushed or
closed (close-to-open consistency, like NFS); readers see whole versions only.
"""

import io
import locale
import os
import posixpath

from . import _memfs

__all__ = ["MemoryFS", "MemoryFile", "Snapshot", "Transaction", "create_fs"]


def _path(path):
    """A path argument as ``os`` takes it: ``str``, ``bytes`` or ``os.PathLike``."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        raise TypeError(f"expected str, bytes or os.PathLike object, not {type(path).__name__}")
    if "\0" in path:
        raise ValueError("embedded null byte")
    return path


def _parse_mode(mode):
    """``(raw mode for the engine, binary)``, with the built-in's checks. Whether the file reads
    or writes is the raw file's to say (``readable()``/``writable()``), from the raw mode."""
    if type(mode) is str:
        parsed = _MODES.get(mode)
        if parsed is not None:
            return parsed
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
    modes = set(mode)
    if modes - set("rwxabt+") or len(mode) > len(modes):
        raise ValueError(f"invalid mode: '{mode}'")
    creating, reading, writing, appending = ("x" in modes, "r" in modes, "w" in modes, "a" in modes)
    updating = "+" in modes
    text, binary = "t" in modes, "b" in modes
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if creating + reading + writing + appending != 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    raw = ("x" if creating else "r" if reading else "w" if writing else "a") + (
        "+" if updating else ""
    )
    parsed = raw, binary
    if len(_MODES) < 256:
        _MODES[mode] = parsed
    return parsed


# Valid modes already parsed (every valid mode is a permutation of a few letters).
_MODES = {}

# The engine's raw file has the methods of a raw file; the buffered layers of `io` call it
# directly.
io.RawIOBase.register(_memfs.RawFile)


class MemoryFile(io.RawIOBase):
    """A raw (unbuffered) file of a ``MemoryFS``: what ``open(..., buffering=0)`` gives in binary
    mode (the buffered and text layers of ``open`` sit directly on the engine's raw file, which
    this wraps for the rest of ``io.IOBase``: lines, iteration, context manager)."""

    def __init__(self, raw):
        super().__init__()
        self._raw = raw

    @property
    def name(self):
        return self._raw.name

    @property
    def mode(self):
        return self._raw.mode

    def readable(self):
        self._checkClosed()
        return self._raw.readable()

    def writable(self):
        self._checkClosed()
        return self._raw.writable()

    def seekable(self):
        self._checkClosed()
        return self._raw.seekable()

    def readinto(self, b):
        self._checkClosed()
        return self._raw.readinto(b)

    def readall(self):
        self._checkClosed()
        return self._raw.readall()

    def write(self, b):
        self._checkClosed()
        return self._raw.write(b)

    def seek(self, offset, whence=io.SEEK_SET):
        self._checkClosed()
        return self._raw.seek(offset, whence)

    def tell(self):
        self._checkClosed()
        return self._raw.tell()

    def truncate(self, size=None):
        self._checkClosed()
        return self._raw.truncate(size)

    def flush(self):
        """Publishes what was written: other handles and readers see it from now on."""
        if not self.closed:
            self._raw.flush()

    def close(self):
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()

    def fileno(self):
        raise io.UnsupportedOperation("a memfs file has no file descriptor")

    def isatty(self):
        self._checkClosed()
        return False

    def __repr__(self):
        return f"<memfs.MemoryFile name={self.name!r} mode={self.mode!r}>"


class _PublishingWriter(io.BufferedWriter):
    """``BufferedWriter`` whose ``flush`` also publishes (the built-in one stops at the raw
    ``write``)."""

    def flush(self):
        super().flush()
        self.raw.flush()


class _PublishingRandom(io.BufferedRandom):
    def flush(self):
        super().flush()
        self.raw.flush()


class _Reads:
    """The read API of a ``Snapshot`` (``self._fs`` is the engine's)."""

    def exists(self, path):
        return self._fs.exists(path)

    def isfile(self, path):
        return self._fs.isfile(path)

    def isdir(self, path):
        return self._fs.isdir(path)

    def listdir(self, path="/"):
        """The names in a directory, sorted (``os.listdir``)."""
        return self._fs.listdir(_path(path))

    def readfile(self, path):
        """The content of a file as text (UTF-8)."""
        return self._fs.readfile(_path(path))

    def readfilebytes(self, path):
        """The content of a file as bytes."""
        return self._fs.readfilebytes(_path(path))

    def getsize(self, path):
        return self._fs.stat(_path(path))[1]

    def readlink(self, path):
        return self._fs.readlink(_path(path))

    def stats(self):
        """Counts: files, dirs, symlinks, logical and stored (deduplicated) bytes, limits."""
        return self._fs.stats()

    def walk(self, top="/", topdown=True, onerror=None, followlinks=False):
        """``os.walk`` over the snapshot (see ``MemoryFS.walk``)."""
        return _walk(self._fs, _path(top), topdown, onerror, followlinks)


def _walk(src, top, topdown, onerror, followlinks):
    try:
        dirs, files = src.scandir(top)
    except OSError as e:
        if onerror is not None:
            onerror(e)
        return
    if topdown:
        yield top, dirs, files
    for name in dirs:
        path = posixpath.join(top, name)
        if followlinks or src.stat(path, False)[0] != "l":
            yield from _walk(src, path, topdown, onerror, followlinks)
    if not topdown:
        yield top, dirs, files


class Snapshot(_Reads):
    """A pinned version of a ``MemoryFS`` (``fs.snapshot()``): O(1) to take, never changes,
    readable from any thread; ``fs.restore(snap)`` makes the filesystem what it shows."""

    def __init__(self, snap):
        self._fs = snap

    @property
    def generation(self):
        return self._fs.generation

    def open(self, path, mode="r", buffering=-1, encoding=None, errors=None, newline=None):
        raise io.UnsupportedOperation("a snapshot is read with readfile/readfilebytes")


class Transaction:
    """``with fs.transaction() as tx:``: writes are private until the block ends, then land at
    once (or, if another writer changed what the transaction used, a ``RuntimeError`` naming the
    conflict and nothing lands); an exception in the block rolls everything back."""

    def __init__(self, tx):
        self._tx = tx

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._tx.commit()
        else:
            self._tx.rollback()
        return False

    def writefile(self, path, data):
        self._tx.writefile(_path(path), data)

    writefilebytes = writefile

    def readfile(self, path):
        return bytes(self._tx.readfilebytes(_path(path))).decode("utf-8")

    def readfilebytes(self, path):
        return self._tx.readfilebytes(_path(path))

    def exists(self, path):
        return self._tx.exists(_path(path))

    def listdir(self, path="/"):
        return self._tx.listdir(_path(path))

    def makedirs(self, path, exist_ok=False):
        self._tx.makedirs(_path(path), exist_ok)

    def mkdir(self, path, mode=0o777):
        self._tx.mkdir(_path(path))

    def remove(self, path):
        self._tx.remove(_path(path))

    def rename(self, src, dst):
        self._tx.rename(_path(src), _path(dst))

    def commit(self):
        self._tx.commit()

    def rollback(self):
        self._tx.rollback()


class MemoryFS(_memfs.Fs):
    """An in-memory filesystem with the ``os`` names of the original memfs.

    ``MemoryFS(max_bytes=None, max_inodes=None)``: an empty filesystem with an optional quota
    (a growing write past it raises ``OSError`` with ``errno.ENOSPC`` and changes nothing).
    The plain methods (``writefile``, ``readfile``, ``listdir``, ``makedirs``, ``remove``,
    ``rename``, ``exists``, ...) are the engine's own, called with no Python in between; paths
    are ``str``, ``bytes`` or ``os.PathLike``, errors the ``OSError`` subclasses ``os``
    raises."""

    writefilebytes = _memfs.Fs.writefile
    unlink = _memfs.Fs.remove
    replace = _memfs.Fs.rename

    def open(self, path, mode="r", buffering=-1, encoding=None, errors=None, newline=None):
        """Opens a file with the built-in ``open``'s modes and arguments."""
        raw_mode, binary = _parse_mode(mode)
        if binary and encoding is not None:
            raise ValueError("binary mode doesn't take an encoding argument")
        if binary and errors is not None:
            raise ValueError("binary mode doesn't take an errors argument")
        if binary and newline is not None:
            raise ValueError("binary mode doesn't take a newline argument")
        if binary and buffering == 1:
            buffering = -1
        if not isinstance(buffering, int):
            raise TypeError(
                f"'{type(buffering).__name__}' object cannot be interpreted as an integer"
            )
        path = _path(path)
        raw = self.open_raw(path, raw_mode, mode)
        if raw_mode[0] == "a":
            # As the built-in does: an appending file starts at its end.
            raw.seek(0, io.SEEK_END)
        if buffering == 0:
            if not binary:
                # After the open, as the built-in (which has made or truncated the file).
                raw.close()
                raise ValueError("can't have unbuffered text I/O")
            return MemoryFile(raw)
        size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
        readable, writable = raw.readable(), raw.writable()
        if readable and writable:
            buf = _PublishingRandom(raw, size)
        elif writable:
            buf = _PublishingWriter(raw, size)
        else:
            buf = io.BufferedReader(raw, size)
        if binary:
            return buf
        if encoding is None:
            encoding = locale.getpreferredencoding(False)
        text = io.TextIOWrapper(buf, encoding, errors, newline, line_buffering=buffering == 1)
        text.mode = mode
        return text

    def open_encrypted(self, path, mode="r", password=""):
        """Opens a password-encrypted file (AES-256-GCM, key by PBKDF2) in mode ``r``, ``w`` or
        ``a`` (``b`` for bytes, text otherwise). A wrong password or a damaged file raises
        ``ValueError``; ``readfilebytes`` of the file gives the ciphertext."""
        if not isinstance(password, str):
            raise TypeError("password must be str")
        return self._stream(
            path, mode, lambda p, m, name_mode: self.open_encrypted_raw(p, m, password, name_mode)
        )

    def open_compressed(self, path, mode="r", compression_level=9):
        """Opens an LZ4-compressed file in mode ``r``, ``w`` or ``a`` (``b`` for bytes, text
        otherwise); ``compression_level`` 0-12. ``readfilebytes`` gives the compressed bytes."""
        if not isinstance(compression_level, int) or not 0 <= compression_level <= 12:
            raise ValueError(
                f"compression_level must be an int from 0 to 12, not {compression_level!r}"
            )
        return self._stream(
            path,
            mode,
            lambda p, m, name_mode: self.open_compressed_raw(p, m, compression_level, name_mode),
        )

    def _stream(self, path, mode, opener):
        if (
            not isinstance(mode, str)
            or mode.replace("b", "").replace("t", "") not in ("r", "w", "a")
            or ("b" in mode and "t" in mode)
            or len(set(mode)) != len(mode)
        ):
            raise ValueError(
                f"invalid mode: {mode!r} (an encrypted or compressed file takes r, w or a, with b or t)"
            )
        path = _path(path)
        kind = mode.replace("b", "").replace("t", "")
        raw = opener(path, kind, mode)
        buf = io.BufferedReader(raw) if kind == "r" else _PublishingWriter(raw)
        if "b" in mode:
            return buf
        text = io.TextIOWrapper(buf, "utf-8")
        text.mode = mode
        return text

    @property
    def _FS_DATA(self):
        """The original's internal dictionary, as a read-only view (its README reads
        ``fs._FS_DATA['files'][path]`` to show a compressed file's stored size)."""
        return {"files": _StoredBytes(self), "dirs": _Dirs(self)}

    def walk(self, top="/", topdown=True, onerror=None, followlinks=False):
        """``os.walk``: ``(dirpath, dirnames, filenames)`` per directory, top-down (prunable by
        editing ``dirnames``) or bottom-up, over one consistent version of the tree."""
        return _walk(_memfs.Fs.snapshot(self), _path(top), topdown, onerror, followlinks)

    def getsize(self, path):
        return self.stat(path)[1]

    def snapshot(self):
        """Pins the current version (O(1))."""
        return Snapshot(_memfs.Fs.snapshot(self))

    def restore(self, snapshot):
        """Makes the whole filesystem what ``snapshot`` shows, atomically."""
        if not isinstance(snapshot, Snapshot):
            raise TypeError("restore() takes a Snapshot of a MemoryFS")
        _memfs.Fs.restore(self, snapshot._fs)

    def transaction(self):
        """A transaction, for ``with fs.transaction() as tx:`` (see ``Transaction``)."""
        return Transaction(self.begin())

    @classmethod
    def load(cls, path):
        """A filesystem loaded from a host file written by ``save`` or the ``memfs`` CLI; a
        corrupt file raises ``ValueError``."""
        return cls(load=os.fspath(path))

    def __repr__(self):
        # The address tells instances apart: fsspec keys its instance cache on the repr of
        # its arguments (``fsspec.filesystem("memfs", fs=...)``).
        return f"<memfs.MemoryFS at {id(self):#x} generation={self.generation}>"


class _StoredBytes:
    """``path -> stored bytes`` of every file, read on access (see ``MemoryFS._FS_DATA``)."""

    def __init__(self, fs):
        self._fs = fs

    def __getitem__(self, path):
        if not self._fs.isfile(path):
            raise KeyError(path)
        return self._fs.readfilebytes(path)

    def __contains__(self, path):
        return self._fs.isfile(path)

    def __iter__(self):
        for root, _, files in self._fs.walk("/"):
            for f in files:
                yield posixpath.join(root, f)

    def __len__(self):
        return self._fs.stats()["files"]


class _Dirs(_StoredBytes):
    def __contains__(self, path):
        return self._fs.isdir(path)

    def __iter__(self):
        for root, _, _ in self._fs.walk("/"):
            yield root

    def __len__(self):
        return self._fs.stats()["dirs"]


def create_fs(max_bytes=None, max_inodes=None):
    """A new, empty ``MemoryFS`` (each call gives an independent filesystem)."""
    return MemoryFS(max_bytes, max_inodes)
