"""What the original memfs never had: snapshots, transactions, quotas, state files, separate
instances, and threads that share one filesystem safely."""

import errno
import json
import threading

import pytest

from memfs import MemoryFS, create_fs


def test_snapshot_is_a_pinned_version_and_restore_brings_it_back():
    fs = create_fs()
    fs.makedirs("/data")
    fs.writefile("/data/a.txt", "v1")
    snap = fs.snapshot()
    fs.writefile("/data/a.txt", "v2")
    fs.writefile("/data/b.txt", "new")
    assert snap.readfile("/data/a.txt") == "v1"
    assert snap.listdir("/data") == ["a.txt"]
    assert [w[0] for w in snap.walk("/")] == ["/", "/data"]
    fs.restore(snap)
    assert fs.listdir("/data") == ["a.txt"] and fs.readfile("/data/a.txt") == "v1"
    with pytest.raises(TypeError):
        fs.restore("not a snapshot")


def test_a_transaction_commits_at_once_or_not_at_all():
    fs = create_fs()
    with fs.transaction() as tx:
        tx.makedirs("/out")
        tx.writefile("/out/a", "1")
        assert tx.readfile("/out/a") == "1"
        assert not fs.exists("/out")  # private until the block ends
    assert fs.readfile("/out/a") == "1"
    with pytest.raises(KeyError), fs.transaction() as tx:
        tx.writefile("/out/b", "2")
        raise KeyError("boom")
    assert fs.listdir("/out") == ["a"]
    # A conflict: another writer changed what the transaction read.
    tx = fs.transaction()
    tx.readfile("/out/a")
    tx.writefile("/out/a", "from tx")
    fs.writefile("/out/a", "from elsewhere")
    with pytest.raises(RuntimeError, match="conflict"):
        tx.commit()
    assert fs.readfile("/out/a") == "from elsewhere"
    with pytest.raises(ValueError, match="finished"):
        tx.commit()


def test_threads_sharing_one_transaction_each_land_once():
    # Transaction calls run without the GIL, one at a time (the transaction is locked per
    # call): four threads writing through one transaction lose nothing and break nothing.
    fs = create_fs()
    with fs.transaction() as tx:
        tx.makedirs("/t")

        def work(n):
            for i in range(200):
                tx.writefile(f"/t/{n}-{i}", b"x" * (i % 7))
                assert tx.exists(f"/t/{n}-{i}")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not fs.exists("/t")
    assert len(fs.listdir("/t")) == 800
    assert fs.readfilebytes("/t/3-13") == b"x" * 6


def test_a_quota_raises_enospc_and_keeps_what_was_there():
    fs = MemoryFS(max_bytes=10_000, max_inodes=10)
    fs.writefile("/a", b"x" * 6000)
    with pytest.raises(OSError) as e:
        fs.writefile("/b", b"y" * 6000)
    assert e.value.errno == errno.ENOSPC
    assert not fs.exists("/b")
    with pytest.raises(OSError) as e, fs.open("/c", "wb") as f:
        f.write(bytes(range(256)) * 40)
    assert e.value.errno == errno.ENOSPC
    assert fs.stats()["max_bytes"] == 10_000


def test_save_and_load_in_the_cli_state_format(tmp_path):
    fs = create_fs()
    fs.makedirs("/x/y")
    fs.writefile("/x/y/z.bin", bytes(range(256)) * 1000)
    state = tmp_path / "state"
    fs.save(state)
    back = MemoryFS.load(state)
    assert back.readfilebytes("/x/y/z.bin") == bytes(range(256)) * 1000
    # Corrupt or foreign files are ValueErrors naming the problem; missing ones OSErrors.
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        MemoryFS.load(tmp_path / "bad")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(ValueError, match="not a memfs state"):
        MemoryFS.load(tmp_path / "text")
    with pytest.raises(FileNotFoundError):
        MemoryFS.load(tmp_path / "missing")


def test_json_dump_and_the_original_plain_form():
    fs = create_fs()
    fs.makedirs("/a")
    fs.writefile("/a/t.txt", "text")
    other = create_fs()
    other.load_json(fs.dump())
    assert other.readfile("/a/t.txt") == "text"
    other.load_json(json.dumps({"files": {"/p/q.txt": "plain"}, "dirs": ["/", "/p"]}))
    assert other.readfile("/p/q.txt") == "plain" and not other.exists("/a")
    with pytest.raises(ValueError):
        other.load_json("{not json")


def test_threads_share_one_filesystem_without_losing_a_write():
    fs = create_fs()
    fs.makedirs("/t")
    errors = []

    def work(i):
        try:
            for j in range(200):
                p = f"/t/{i}-{j}"
                with fs.open(p, "w") as f:
                    f.write(f"{i}:{j}\n" * 10)
                assert fs.readfile(p) == f"{i}:{j}\n" * 10
                with fs.open("/t/log", "a") as f:
                    f.write(f"{i}-{j}\n")
        except Exception as e:  # noqa: BLE001 - any failure of a thread is reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(fs.listdir("/t")) == 8 * 200 + 1
    # Concurrent appenders never lose each other's lines (O_APPEND semantics).
    lines = fs.readfile("/t/log").splitlines()
    assert sorted(lines) == sorted(f"{i}-{j}" for i in range(8) for j in range(200))


def test_handles_publish_on_flush_and_close():
    fs = create_fs()
    f = fs.open("/f", "w")
    f.write("hello")
    assert fs.readfile("/f") == ""  # private until flushed
    f.flush()
    assert fs.readfile("/f") == "hello"
    f.write(" world")
    f.close()
    assert fs.readfile("/f") == "hello world"


def test_large_reads_from_many_threads_get_exact_bytes():
    # readfilebytes fills the new bytes object without the GIL: every size, every thread.
    import hashlib
    import os

    fs = create_fs()
    blobs = {
        f"/r/{n}": os.urandom(n)
        for n in (0, 1, 2, 4095, 4096, 4097, 65536, 65537, 131072, 131073, 3 << 20)
    }
    fs.makedirs("/r")
    for p, b in blobs.items():
        fs.writefilebytes(p, b)
    want = {p: hashlib.sha256(b).hexdigest() for p, b in blobs.items()}
    bad = []

    def work():
        for _ in range(20):
            for p in blobs:
                if hashlib.sha256(fs.readfilebytes(p)).hexdigest() != want[p]:
                    bad.append(p)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
    assert fs.readfilebytes("/r/0") == b"" and fs.snapshot().readfilebytes("/r/1") == blobs["/r/1"]
