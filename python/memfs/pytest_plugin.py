"""The pytest plugin of memfs (registered by the package's ``pytest11`` entry point): a
``memfs`` fixture giving each test a fresh, empty ``MemoryFS``."""

import pytest

from .memfs import create_fs


@pytest.fixture
def memfs():
    """A fresh, empty ``MemoryFS`` for this test (nothing is shared between tests)."""
    return create_fs()
