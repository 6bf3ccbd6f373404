"""fsspec's own conformance suite (``fsspec.tests.abstract``: copy, get, put, open, pipe, as
every fsspec filesystem runs it) against ``memfs://``, on a fresh ``MemoryFS`` per class."""

import posixpath

import pytest
from fsspec.tests import abstract
from fsspec.tests.abstract import AbstractFixtures

import memfs
from memfs.fsspec import MemfsFileSystem


class MemfsFixtures(AbstractFixtures):
    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls):
        return MemfsFileSystem(fs=memfs.create_fs(), skip_instance_cache=True)

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self):
        return "/"


class TestMemfsCopy(abstract.AbstractCopyTests, MemfsFixtures):
    pass


class TestMemfsGet(abstract.AbstractGetTests, MemfsFixtures):
    pass


class TestMemfsPut(abstract.AbstractPutTests, MemfsFixtures):
    pass


class TestMemfsOpen(abstract.AbstractOpenTests, MemfsFixtures):
    pass


class TestMemfsPipe(abstract.AbstractPipeTests, MemfsFixtures):
    pass
