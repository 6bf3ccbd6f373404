"""The original memfs's extended filesystem: encryption, compression, metadata, search and
backups. Here every ``MemoryFS`` has them; ``create_extended_fs`` is kept so the original's
code imports and runs unchanged."""

from ..memfs import MemoryFS


class ExtendedMemoryFS(MemoryFS):
    """A ``MemoryFS`` (which already has ``open_encrypted``, ``open_compressed``,
    ``set_metadata``, ``get_metadata``, ``find``, ``search_content`` and ``backup``)."""


def create_extended_fs(max_bytes=None, max_inodes=None):
    """A new, empty filesystem with the extended API."""
    return ExtendedMemoryFS(max_bytes, max_inodes)
