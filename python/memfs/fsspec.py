"""``memfs://``: an fsspec filesystem over a ``MemoryFS``, so pandas, pyarrow, dask and anything
else that takes fsspec URLs reads and writes memfs.

``fsspec.filesystem("memfs")`` (registered by this package's entry point) uses one
process-wide filesystem, ``memfs.fsspec.default_fs()``; ``fsspec.filesystem("memfs", fs=my_fs)``
uses a given one. URLs are ``memfs:///absolute/path``. Files open in binary mode (fsspec adds
text wrapping itself); reads see one version, writes land when the file is closed.
"""

import threading

import fsspec
from fsspec.spec import AbstractFileSystem

from .memfs import MemoryFS, create_fs

_default = None
_default_lock = threading.Lock()


def default_fs():
    """The process-wide filesystem behind ``memfs://`` URLs without an explicit ``fs``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = create_fs()
        return _default


class MemfsFileSystem(AbstractFileSystem):
    """fsspec's view of a ``MemoryFS`` (see the module doc)."""

    protocol = ("memfs",)
    root_marker = "/"

    def __init__(self, fs=None, **kwargs):
        if fs is not None and not isinstance(fs, MemoryFS):
            raise TypeError("fs must be a memfs.MemoryFS")
        super().__init__(**kwargs)
        self.fs = fs if fs is not None else default_fs()

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = fsspec.utils.stringify_path(path)
        path = path.removeprefix("memfs://")
        path = "/" + path.lstrip("/")
        return path.rstrip("/") or "/"

    def _info_of(self, path):
        kind, size, mode, mtime_ns, ino = self.fs.stat(path)
        return {
            "name": path,
            "size": size if kind == "f" else 0,
            "type": "directory" if kind == "d" else "file",
            "mtime": mtime_ns / 1e9,
            "mode": mode,
            "ino": ino,
        }

    def info(self, path, **kwargs):
        return self._info_of(self._strip_protocol(path))

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        if not self.fs.isdir(path):
            info = self._info_of(path)  # FileNotFoundError if missing
            return [info] if detail else [path]
        names = [("/" if path == "/" else path + "/") + n for n in self.fs.listdir(path)]
        if not detail:
            return names
        return [self._info_of(n) for n in names]

    def exists(self, path, **kwargs):
        return self.fs.exists(self._strip_protocol(path))

    def isdir(self, path):
        return self.fs.isdir(self._strip_protocol(path))

    def isfile(self, path):
        return self.fs.isfile(self._strip_protocol(path))

    def mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        if create_parents:
            self.fs.makedirs(path, exist_ok=True)
        else:
            self.fs.mkdir(path)

    def makedirs(self, path, exist_ok=False):
        self.fs.makedirs(self._strip_protocol(path), exist_ok=exist_ok)

    def rmdir(self, path):
        self.fs.rmdir(self._strip_protocol(path))

    def rm_file(self, path):
        self.fs.remove(self._strip_protocol(path))

    def _rm(self, path):
        path = self._strip_protocol(path)
        if self.fs.isdir(path):
            self.fs.rmdir(path)
        else:
            self.fs.remove(path)

    def rm(self, path, recursive=False, maxdepth=None):
        for p in [path] if isinstance(path, str) else path:
            p = self._strip_protocol(p)
            if recursive and self.fs.isdir(p) and maxdepth is None:
                self.fs.rmtree(p)
            else:
                super().rm(p, recursive=recursive, maxdepth=maxdepth)

    def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
        # One path: as fsspec's local filesystem (``shutil.move`` after making the target's
        # parents), but as one rename: into ``path2`` when it is a directory, else onto it.
        # Lists and globs: fsspec's copy-then-remove.
        if not isinstance(path1, str) or any(c in path1 for c in "*?["):
            return super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if path1 == path2:
            return None
        if self.fs.isdir(path2):
            path2 = path2.rstrip("/") + "/" + path1.rsplit("/", 1)[-1]
        else:
            self._parents(path2)
        self.fs.rename(path1, path2)
        return None

    def cp_file(self, path1, path2, **kwargs):
        # As fsspec's memory and local (auto_mkdir) filesystems: the target's parents are
        # made, and "copying" a directory (``cp(recursive=True)`` lists them) makes it.
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.fs.isdir(path1):
            self.fs.makedirs(path2, exist_ok=True)
            return
        self._parents(path2)
        self.fs.copy(path1, path2)

    def cat_file(self, path, start=None, end=None, **kwargs):
        data = self.fs.readfilebytes(self._strip_protocol(path))
        return data[start:end] if start is not None or end is not None else data

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = self._strip_protocol(path)
        if mode == "create" and self.fs.exists(path):
            raise FileExistsError(path)
        self._parents(path)
        self.fs.writefilebytes(path, value)

    def _parents(self, path):
        # As fsspec's memory filesystem: writing a file creates its parents.
        parent = path.rsplit("/", 1)[0] or "/"
        if not self.fs.isdir(parent):
            self.fs.makedirs(parent, exist_ok=True)

    def created(self, path):
        import datetime

        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], tz=datetime.timezone.utc)

    modified = created

    def _open(
        self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs
    ):
        path = self._strip_protocol(path)
        if not autocommit:
            raise NotImplementedError("memfs:// writes land on close (autocommit only)")
        if "r" not in mode:
            self._parents(path)
        return self.fs.open(path, mode)

    def ukey(self, path):
        _, size, _, mtime_ns, ino = self.fs.stat(self._strip_protocol(path))
        return f"{ino}-{size}-{mtime_ns}"
