"""memfs: an in-memory filesystem with the ``os``/``open`` API, on the Rust engine.

``from memfs import create_fs`` gives the original memfs's API (``MemoryFS``), with each
instance its own filesystem, threads that run in parallel, and, beyond the original,
snapshots, transactions, quotas and the ``memfs`` CLI's state files."""

from .memfs import MemoryFile, MemoryFS, Snapshot, Transaction, create_fs

__all__ = ["MemoryFS", "MemoryFile", "Snapshot", "Transaction", "create_fs"]
__version__ = "0.2.0"
