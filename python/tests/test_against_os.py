"""Each method against what ``os`` and the built-in ``open`` do on a real temporary directory:
the same results, and the same exception class and errno, for every mode of ``open`` and the
error cases (missing paths, files in the way, non-empty directories, closed files, bad modes)."""

import errno
import io
import os
import pickle
import shutil

import pytest

from memfs import create_fs


class Real:
    """The same calls on a host directory (paths are memfs paths, mapped below `root`)."""

    def __init__(self, root):
        self.root = str(root)

    def p(self, path):
        return self.root + path

    def open(self, path, *a, **kw):
        return open(self.p(path), *a, **kw)

    def makedirs(self, path, exist_ok=False):
        os.makedirs(self.p(path), exist_ok=exist_ok)

    def mkdir(self, path):
        os.mkdir(self.p(path))

    def listdir(self, path):
        return sorted(os.listdir(self.p(path)))

    def remove(self, path):
        os.remove(self.p(path))

    def rmdir(self, path):
        os.rmdir(self.p(path))

    def rename(self, a, b):
        os.rename(self.p(a), self.p(b))

    def link(self, a, b):
        os.link(self.p(a), self.p(b))

    def nlink(self, path):
        return os.stat(self.p(path)).st_nlink

    def readfile(self, path):
        with open(self.p(path)) as f:
            return f.read()

    def writefile(self, path, text):
        with open(self.p(path), "w") as f:
            f.write(text)

    def exists(self, path):
        return os.path.exists(self.p(path))

    def isfile(self, path):
        return os.path.isfile(self.p(path))

    def isdir(self, path):
        return os.path.isdir(self.p(path))

    def walk(self, top, topdown=True):
        for root, dirs, files in os.walk(self.p(top), topdown=topdown):
            dirs.sort()
            yield (root[len(self.root) :] or "/", dirs, sorted(files))


def outcome(f):
    """What a call gives: its value, or its exception class and errno."""
    try:
        return ("ok", f())
    except OSError as e:
        return ("err", type(e).__name__, e.errno)
    except (ValueError, TypeError, io.UnsupportedOperation) as e:
        return ("err", type(e).__name__)


@pytest.fixture
def both(tmp_path):
    fs, real = create_fs(), Real(tmp_path)
    for t in (fs, real):
        t.makedirs("/d/sub")
        with t.open("/d/f.txt", "w") as f:
            f.write("one\ntwo\nthree\n")
        with t.open("/empty", "w"):
            pass
    return fs, real


def same(fs, real, call):
    a, b = outcome(lambda: call(fs)), outcome(lambda: call(real))
    assert a == b, (a, b)
    return a


MODES = ["r", "rb", "r+", "rb+", "w", "wb", "w+", "a", "ab", "a+", "x", "xb", "x+", "rt", "wt"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["/d/f.txt", "/missing", "/d", "/d/f.txt/x", "/nodir/x"])
def test_every_mode_on_every_kind_of_path(both, mode, path):
    fs, real = both

    def use(t):
        with t.open(path, mode) as f:
            out = []
            if f.readable():
                out.append(f.read())
            if f.writable():
                f.write(b"XY" if "b" in mode else "XY")
            out.append(f.tell())
        with t.open(path, "rb") as f:
            out.append(f.read())
        return out

    same(fs, real, use)


@pytest.mark.parametrize("mode", ["", "rw", "rr", "q", "wa", "r+b+", "bt", "U"])
def test_invalid_modes_are_value_errors(both, mode):
    fs, real = both
    same(fs, real, lambda t: t.open("/d/f.txt", mode))


def test_binary_mode_takes_no_encoding_and_text_needs_a_buffer(both):
    fs, real = both
    same(fs, real, lambda t: t.open("/d/f.txt", "rb", encoding="utf-8"))
    same(fs, real, lambda t: t.open("/d/f.txt", "rb", newline=""))
    same(fs, real, lambda t: t.open("/d/f.txt", "r", buffering=0))


def test_reads_seeks_lines_and_truncate(both):
    fs, real = both

    def use(t):
        out = []
        with t.open("/d/f.txt", "r+") as f:
            out.append(f.readline())
            out.append(f.read(2))
            out.append(f.tell())
            f.seek(0)
            out.append(f.readlines())
            f.seek(4)
            f.write("TWO")
            f.truncate(10)
            f.seek(0, io.SEEK_END)
            out.append(f.tell())
        with t.open("/d/f.txt", "rb") as f:
            out.append(f.read(3))
            out.append(f.seek(-2, io.SEEK_END))
            out.append(f.read())
            out.append(f.seek(100))
            out.append(f.read())
        with t.open("/d/f.txt") as f:
            out.append(list(f))
        return out

    same(fs, real, use)


def test_newline_translation_and_encodings(both):
    fs, real = both

    def use(t):
        with t.open("/nl", "w", newline="\r\n", encoding="utf-16") as f:
            f.write("a\nb\n")
        with t.open("/nl", "rb") as f:
            raw = f.read()
        with t.open("/nl", encoding="utf-16") as f:
            universal = f.read()
        with t.open("/nl", encoding="utf-16", newline="") as f:
            kept = f.read()
        with t.open("/bad", "wb") as f:
            f.write(b"\xff\xfe\xfa")
        with t.open("/bad", encoding="utf-8", errors="replace") as f:
            replaced = f.read()
        return raw, universal, kept, replaced

    same(fs, real, use)
    same(fs, real, lambda t: t.open("/bad", encoding="utf-8").read())


def test_closed_files_and_wrong_direction(both):
    fs, real = both

    def closed(t):
        f = t.open("/d/f.txt")
        f.close()
        f.close()
        return f.closed, outcome(f.read), outcome(lambda: f.seek(0))

    same(fs, real, closed)
    same(fs, real, lambda t: t.open("/d/f.txt", "r").write("x"))
    same(fs, real, lambda t: t.open("/d/f.txt", "w").read())
    same(fs, real, lambda t: t.open("/d/f.txt", "rb").truncate(0))


@pytest.mark.parametrize("buffering", [-1, 0])
def test_the_raw_layer_under_buffered_and_unbuffered_files(both, buffering):
    # ``f.raw`` of a buffered file is the engine's raw file, called by io's C code directly.
    fs, real = both

    def raw_reads(t):
        with t.open("/d/f.txt", "rb", buffering=buffering) as f:
            raw = getattr(f, "raw", f)
            b, m = bytearray(4), memoryview(bytearray(3))
            got = (raw.readinto(b), bytes(b), raw.readinto(m), bytes(m), raw.read(2))
            return got + (raw.tell(), raw.readall(), raw.read(), raw.seek(-3, 2), raw.read(-1))

    def raw_writes(t):
        with t.open("/w", "w+b", buffering=buffering) as f:
            raw = getattr(f, "raw", f)
            n = (raw.write(b"abc"), raw.write(bytearray(b"de")), raw.write(memoryview(b"fgh")))
            raw.truncate(5)
            raw.seek(1)
            raw.truncate()
            return n, raw.tell(), raw.seek(0, 2), raw.readable(), raw.writable(), raw.seekable()

    def raw_checks(t):
        f = t.open("/d/f.txt", "rb", buffering=buffering)
        raw = getattr(f, "raw", f)
        facts = (isinstance(raw, io.RawIOBase), raw.mode, raw.name.endswith("/d/f.txt"))
        wrong = (outcome(lambda: raw.write(b"x")), outcome(raw.truncate), raw.isatty())
        f.close()
        after = (raw.closed, outcome(raw.read), outcome(raw.readable), outcome(raw.tell))
        return facts, wrong, after, outcome(raw.close)

    def raw_lines(t):
        with t.open("/d/f.txt", "rb", buffering=buffering) as f:
            raw = getattr(f, "raw", f)
            raw.seek(0)
            first = (raw.readline(), raw.readline(2), raw.readline(-1))
            raw.seek(0)
            lines = (raw.readlines(), raw.seek(0), raw.readlines(5), raw.seek(0), list(raw))
        with t.open("/lines", "wb", buffering=buffering) as f:
            raw = getattr(f, "raw", f)
            raw.writelines([b"a\n", bytearray(b"b\n")])
        with t.open("/lines", "rb", buffering=0) as raw, raw as same_raw:
            last = (same_raw is raw, raw.read())
        return first, lines, last, raw.closed

    same(fs, real, raw_reads)
    same(fs, real, raw_lines)
    same(fs, real, raw_writes)
    same(fs, real, raw_checks)

    def wrong_way(t):
        f = t.open("/w2", "wb", buffering=buffering)
        return outcome(getattr(f, "raw", f).read)

    same(fs, real, wrong_way)


def test_directory_operations_and_their_errors(both):
    fs, real = both
    for call in [
        lambda t: t.makedirs("/d/sub"),
        lambda t: t.makedirs("/d/sub", exist_ok=True),
        lambda t: t.makedirs("/d/f.txt/x", exist_ok=True),
        lambda t: t.makedirs("/d/f.txt", exist_ok=True),
        lambda t: t.mkdir("/d"),
        lambda t: t.mkdir("/no/such"),
        lambda t: t.mkdir("/d/new"),
        lambda t: t.listdir("/d"),
        lambda t: t.listdir("/d/f.txt"),
        lambda t: t.listdir("/missing"),
        lambda t: t.rmdir("/d"),
        lambda t: t.rmdir("/d/f.txt"),
        lambda t: t.rmdir("/missing"),
        lambda t: t.rmdir("/d/new"),
        lambda t: t.remove("/d"),
        lambda t: t.remove("/missing"),
        lambda t: t.rename("/missing", "/x"),
        lambda t: t.rename("/d", "/d/sub/inside"),
        lambda t: t.rename("/d/f.txt", "/d/sub"),
        lambda t: t.rename("/d/sub", "/empty"),
        lambda t: t.rename("/empty", "/d/moved"),
        lambda t: t.rename("/d/moved", "/d/f.txt"),
        lambda t: t.listdir("/d"),
        lambda t: (t.exists("/d"), t.isdir("/d"), t.isfile("/d"), t.exists("/nope")),
        lambda t: (t.isfile("/d/f.txt"), t.exists("/d/f.txt/x")),
        lambda t: list(t.walk("/")),
        lambda t: list(t.walk("/", topdown=False)),
        lambda t: list(t.walk("/missing")),
    ]:
        same(fs, real, call)


def test_hard_links_and_their_errors(both):
    fs, real = both
    for call in [
        lambda t: t.link("/d/f.txt", "/d/hard"),
        lambda t: (t.nlink("/d/f.txt"), t.nlink("/d/hard")),
        lambda t: t.writefile("/d/hard", "through the link"),
        lambda t: t.readfile("/d/f.txt"),
        lambda t: t.link("/d", "/dirlink"),
        lambda t: t.link("/missing", "/x"),
        lambda t: t.link("/d/f.txt", "/empty"),
        lambda t: t.link("/d/f.txt", "/nodir/x"),
        lambda t: t.remove("/d/f.txt"),
        lambda t: (t.nlink("/d/hard"), t.readfile("/d/hard")),
        lambda t: t.listdir("/d"),
    ]:
        same(fs, real, call)


def test_walk_can_be_pruned_top_down(both):
    fs, real = both

    def pruned(t):
        out = []
        for root, dirs, files in t.walk("/"):
            out.append(root)
            dirs[:] = [d for d in dirs if d != "sub"]
        return out

    same(fs, real, pruned)


def test_pickle_shutil_and_text_wrappers_work_on_memfs_files(both):
    fs, real = both

    def use(t):
        with t.open("/p.pkl", "wb") as f:
            pickle.dump({"a": [1, 2, 3]}, f)
        with t.open("/p.pkl", "rb") as f:
            back = pickle.load(f)
        with t.open("/d/f.txt", "rb") as src, t.open("/copy", "wb") as dst:
            shutil.copyfileobj(src, dst, 3)
        with t.open("/copy", "rb") as f:
            text = io.TextIOWrapper(f, encoding="ascii").read()
        return back, text

    same(fs, real, use)


def test_bad_argument_types_raise_type_errors():
    fs = create_fs()
    for call in [
        lambda: fs.open(3),
        lambda: fs.open("/x", 5),
        lambda: fs.writefile("/x", 12),
        lambda: fs.listdir(None),
        lambda: fs.makedirs(["/a"]),
    ]:
        with pytest.raises(TypeError):
            call()
    with pytest.raises(ValueError):
        fs.open("/a\0b", "w")
    # As os.path.exists: a wrong type raises, an embedded NUL is simply not there.
    for exists in (fs.exists, os.path.exists):
        with pytest.raises(TypeError):
            exists(None)
        assert not exists("/a\0b")
    assert not fs.exists("") and not os.path.exists("")
    assert errno.ENOENT == outcome(lambda: fs.readfile("/none"))[2]
