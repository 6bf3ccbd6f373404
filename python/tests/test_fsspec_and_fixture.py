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


def test_each_given_filesystem_gets_its_own_fsspec_instance():
    # fsspec caches instances by the repr of their arguments.
    a, b = memfs.create_fs(), memfs.create_fs()
    assert fsspec.filesystem("memfs", fs=a).fs is a
    assert fsspec.filesystem("memfs", fs=b).fs is b
    assert fsspec.filesystem("memfs", fs=a).fs is a


def test_mv_of_a_glob_moves_every_match():
    f = fsspec.filesystem("memfs", fs=memfs.create_fs())
    f.pipe({"/in/a.txt": b"a", "/in/b.txt": b"b", "/in/c.bin": b"c"})
    f.makedirs("/out")
    f.mv("/in/*.txt", "/out")
    assert sorted(f.find("/")) == ["/in/c.bin", "/out/a.txt", "/out/b.txt"]


def _tree(f, top):
    """Every path below ``top`` (files and directories), relative, with file contents."""
    out = {}
    for root, dirs, files in f.walk(top):
        rel = root[len(top) :].strip("/")
        for d in dirs:
            out[f"{rel}/{d}".strip("/")] = None
        for name in files:
            out[f"{rel}/{name}".strip("/")] = f.cat_file(f"{root.rstrip('/')}/{name}")
    return out


@pytest.mark.parametrize(
    "src,dst",
    [
        ("a.txt", "renamed.txt"),  # a file onto a new name
        ("a.txt", "new/deeper/a2.txt"),  # into directories that do not exist yet
        ("a.txt", "dir"),  # into an existing directory
        ("dir", "dir2"),  # a directory onto a new name
        ("dir", "other"),  # a directory into an existing directory
    ],
)
def test_mv_moves_as_fsspecs_local_filesystem_does(tmp_path, src, dst):
    local = fsspec.filesystem("file", auto_mkdir=True)
    ours = fsspec.filesystem("memfs", fs=memfs.create_fs())
    tops = {local: str(tmp_path), ours: "/top"}
    for f, top in tops.items():
        f.makedirs(f"{top}/dir/sub", exist_ok=True)
        f.makedirs(f"{top}/other", exist_ok=True)
        f.pipe_file(f"{top}/a.txt", b"a")
        f.pipe_file(f"{top}/dir/b.txt", b"b")
        f.pipe_file(f"{top}/dir/sub/c.txt", b"c")
        f.mv(f"{top}/{src}", f"{top}/{dst}")
    assert _tree(ours, "/top") == _tree(local, str(tmp_path))
