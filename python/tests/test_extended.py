"""The extended filesystem: encryption, compression, metadata, find, search, backups, and
their bad inputs."""

import pytest

from memfs import create_fs


def test_wrong_password_and_damaged_files_are_value_errors():
    fs = create_fs()
    with fs.open_encrypted("/s", "wb", password="right") as f:
        f.write(b"\x00\x01secret")
    with pytest.raises(ValueError, match="wrong password"):
        fs.open_encrypted("/s", "rb", password="wrong").read()
    with fs.open_encrypted("/s", "ab", password="right") as f:
        f.write(b"+more")
    with fs.open_encrypted("/s", "rb", password="right") as f:
        assert f.read() == b"\x00\x01secret+more"
    data = bytearray(fs.readfilebytes("/s"))
    data[-3] ^= 1
    fs.writefilebytes("/s", bytes(data))
    with pytest.raises(ValueError):
        fs.open_encrypted("/s", "rb", password="right").read()
    fs.writefile("/plain", "not compressed")
    with pytest.raises(ValueError):
        fs.open_compressed("/plain").read()
    for bad in ["r+", "x", "rw", "", "rbt"]:
        with pytest.raises(ValueError):
            fs.open_encrypted("/s", bad, password="p")
    with pytest.raises(ValueError):
        fs.open_compressed("/c", "w", compression_level=13)
    with pytest.raises(TypeError):
        fs.open_encrypted("/s", "r", password=None)
    with pytest.raises(FileNotFoundError):
        fs.open_encrypted("/missing", "r", password="p")
    with fs.open_compressed("/c", "w") as f:
        assert not f.seekable()


def test_metadata_find_search_and_backup():
    fs = create_fs()
    fs.makedirs("/docs/sub")
    fs.writefile("/docs/a.txt", "needle here")
    fs.writefile("/docs/sub/b.md", "no")
    fs.writefile("/docs/sub/c.txt", "another needle")
    fs.set_metadata("/docs/a.txt", {"owner": "ana", "tag": "x"})
    assert fs.get_metadata("/docs/a.txt") == {"owner": "ana", "tag": "x"}
    fs.set_metadata("/docs/a.txt", {})
    assert fs.get_metadata("/docs/a.txt") == {}
    with pytest.raises(TypeError):
        fs.set_metadata("/docs/a.txt", {"n": 1})
    with pytest.raises(FileNotFoundError):
        fs.get_metadata("/nope")
    assert fs.find("*.txt") == ["/docs/a.txt", "/docs/sub/c.txt"]
    assert fs.find("sub/*", "/docs") == ["/docs/sub/b.md", "/docs/sub/c.txt"]
    with pytest.raises(ValueError):
        fs.find("[", "/")
    assert fs.search_content("needle") == ["/docs/a.txt", "/docs/sub/c.txt"]
    assert fs.search_content("needle", extensions=[".md"]) == []
    assert fs.search_content("no", ["md"], "/docs/sub") == ["/docs/sub/b.md"]
    copy = fs.backup("/docs")
    assert copy.startswith("/backup/docs.")
    assert fs.readfile(copy + "/sub/c.txt") == "another needle"
    second = fs.backup("/docs/a.txt", "/bk")
    assert second.startswith("/bk/a.txt.") and second != copy
