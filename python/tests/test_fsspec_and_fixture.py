"""``memfs://`` through fsspec (and pandas on top of it), and the pytest ``memfs`` fixture."""

import fsspec
import pandas as pd
import pytest

import memfs
import memfs.fsspec


def test_the_fixture_gives_a_fresh_filesystem(memfs):
    assert memfs.listdir("/") == []
    memfs.writefile("/only-here", "x")


def test_the_fixture_is_not_shared(memfs):
    assert not memfs.exists("/only-here")


def test_fsspec_finds_the_protocol_and_uses_the_given_filesystem():
    fs = memfs.create_fs()
    f = fsspec.filesystem("memfs", fs=fs)
    assert isinstance(f, memfs.fsspec.MemfsFileSystem)
    f.pipe("memfs:///in/a.bin", b"abc")
    assert fs.readfilebytes("/in/a.bin") == b"abc"
    assert f.cat("memfs:///in/a.bin") == b"abc"
    assert f.cat_file("/in/a.bin", start=1) == b"bc"
    assert f.ls("/in", detail=False) == ["/in/a.bin"]
    assert f.info("/in/a.bin")["size"] == 3 and f.info("/in")["type"] == "directory"
    f.mv("/in/a.bin", "/in/b.bin")
    f.cp_file("/in/b.bin", "/in/c.bin")
    assert sorted(f.find("/")) == ["/in/b.bin", "/in/c.bin"]
    assert f.glob("/in/*.bin") == ["/in/b.bin", "/in/c.bin"]
    with f.open("/out/deep/t.txt", "w") as g:  # parents are created, as fsspec's memory fs does
        g.write("text")
    assert fs.readfile("/out/deep/t.txt") == "text"
    f.rm("/out", recursive=True)
    assert not fs.exists("/out")
    with pytest.raises(FileNotFoundError):
        f.info("/missing")
    with pytest.raises(TypeError):
        fsspec.filesystem("memfs", fs="not a filesystem")


def test_pandas_reads_and_writes_memfs_urls():
    fs = memfs.fsspec.default_fs()
    fs.makedirs("/data", exist_ok=True)
    fs.writefile("/data/x.csv", "id,value\n1,10\n2,20\n")
    df = pd.read_csv("memfs:///data/x.csv")
    assert list(df["value"]) == [10, 20]
    df["double"] = df["value"] * 2
    df.to_csv("memfs:///data/y.csv", index=False)
    assert fs.readfile("/data/y.csv") == "id,value,double\n1,10,20\n2,20,40\n"
    with fsspec.open("memfs:///data/y.csv", "rt") as f:
        assert f.readline() == "id,value,double\n"
