"""Python benchmarks, one process, every peer on the same workloads (see BENCHMARKS.md):

- W1: N x (write 1 KiB, read it, delete it), each peer through its own plain API and through
  ``open``-style file objects;
- listdir of one directory and walk of the whole tree, 100 directories x 1,000 files;
- 4 threads reading 1 MiB files vs 1 thread doing the same reads.

Peers: this package (memfs on the Rust engine), the original memfs 0.1.8 (loaded from a
directory given by ``--original``, e.g. made with ``pip install --no-deps --target DIR
memfs==0.1.8``; skipped if absent), pyfakefs, fsspec's memory filesystem, and the host's tmpfs
(``/dev/shm``) through ``os`` and ``open``. Run: ``python bench.py [--quick] [--original DIR]``.
Prints one line per (workload, peer): the median of 5 runs and the ratio to this package.
"""

import argparse
import concurrent.futures
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time

import memfs

PAYLOAD = b"x" * 1023 + b"\n"


def timed(f, runs=5):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# -- peers: each gives write(path, bytes), read(path), remove(path), makedirs(path), listdir,
# walk, open(path, mode) -----------------------------------------------------------------


class Ours:
    name = "memfs (this package)"

    def __init__(self):
        self.fs = memfs.create_fs()
        self.write = self.fs.writefilebytes
        self.read = self.fs.readfilebytes
        self.remove = self.fs.remove
        self.makedirs = lambda p: self.fs.makedirs(p, exist_ok=True)
        self.listdir = self.fs.listdir
        self.walk = self.fs.walk
        self.open = self.fs.open


class Original:
    name = "memfs 0.1.8 (original)"
    module = None

    def __init__(self):
        # The original keeps one module-global dict for every instance: empty it.
        self.module._FS_DATA["files"].clear()
        self.module._FS_DATA["dirs"].clear()
        self.module._FS_DATA["dirs"].add("/")
        fs = self.module.MemoryFS()
        self.fs = fs
        self.write = fs.writefilebytes
        self.read = fs.readfilebytes
        self.remove = fs.remove
        self.makedirs = lambda p: fs.makedirs(p, exist_ok=True)
        self.listdir = fs.listdir
        self.walk = fs.walk
        self.open = fs.open


class FsspecMemory:
    name = "fsspec memory"

    def __init__(self):
        import fsspec
        from fsspec.implementations.memory import MemoryFileSystem

        MemoryFileSystem.store.clear()
        MemoryFileSystem.pseudo_dirs.clear()
        MemoryFileSystem.pseudo_dirs.append("")
        fs = fsspec.filesystem("memory")
        self.fs = fs
        self.write = fs.pipe_file
        self.read = fs.cat_file
        self.remove = fs.rm_file
        self.makedirs = lambda p: fs.makedirs(p, exist_ok=True)
        self.listdir = lambda p: fs.ls(p, detail=False)
        self.walk = fs.walk
        self.open = fs.open


class Host:
    """os and open on a directory (tmpfs at /dev/shm when there is one)."""

    def __init__(self, root, name):
        self.root = root
        self.name = name

    def p(self, path):
        return self.root + path

    def write(self, path, data):
        with open(self.p(path), "wb") as f:
            f.write(data)

    def read(self, path):
        with open(self.p(path), "rb") as f:
            return f.read()

    def remove(self, path):
        os.remove(self.p(path))

    def makedirs(self, path):
        os.makedirs(self.p(path), exist_ok=True)

    def listdir(self, path):
        return os.listdir(self.p(path))

    def walk(self, top):
        return os.walk(self.p(top))

    def open(self, path, mode="r"):
        return open(self.p(path), mode)


# -- workloads ------------------------------------------------------------------------------


def w1_api(peer, n):
    peer.makedirs("/w1")
    for i in range(n):
        p = f"/w1/f{i}"
        peer.write(p, PAYLOAD)
        assert len(peer.read(p)) == 1024
        peer.remove(p)


def w1_open(peer, n):
    peer.makedirs("/w1")
    for i in range(n):
        p = f"/w1/f{i}"
        with peer.open(p, "wb") as f:
            f.write(PAYLOAD)
        with peer.open(p, "rb") as f:
            assert len(f.read()) == 1024
        peer.remove(p)


def build_tree(peer, dirs, files):
    for d in range(dirs):
        peer.makedirs(f"/t/d{d}")
        for f in range(files):
            peer.write(f"/t/d{d}/f{f}", b"")


def walk_all(peer):
    return sum(len(files) for _, _, files in peer.walk("/t"))


def parallel_reads(peer, threads, files, reads):
    def work(k):
        for j in range(reads):
            assert len(peer.read(f"/par/f{(k + j) % files}")) == 1 << 20

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        list(ex.map(work, range(threads)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    ap.add_argument("--original", help="directory holding the original memfs 0.1.8 package")
    args = ap.parse_args()
    n = 1000 if args.quick else 10_000
    dirs, files = (10, 100) if args.quick else (100, 1000)

    peers = [Ours]
    if args.original:
        spec = importlib.util.spec_from_file_location(
            "original_memfs", os.path.join(args.original, "memfs", "memfs.py")
        )
        Original.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(Original.module)
        peers.append(Original)
    peers.append(FsspecMemory)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    results = {}

    def row(workload, peer_name, seconds):
        results.setdefault(workload, []).append((peer_name, seconds))

    def each(make):
        for cls in make:
            yield cls()
        tmp = tempfile.mkdtemp(dir=shm)
        yield Host(tmp, "tmpfs via os" if shm else "host dir via os")
        shutil.rmtree(tmp)

    for peer in each(peers):
        row("W1 api", peer.name, timed(lambda peer=peer: w1_api(peer, n)) / n)
        row("W1 open", peer.name, timed(lambda peer=peer: w1_open(peer, n)) / n)
    pyfakefs_rows(row, n)

    for peer in each(peers):
        build_tree(peer, dirs, files)
        row(f"listdir of {files} files", peer.name, timed(lambda peer=peer: peer.listdir("/t/d0")))
        row(
            f"walk of {dirs * files} files",
            peer.name,
            timed(lambda peer=peer: walk_all(peer), runs=3),
        )

    # One thread and four alternate, five times, so that a change in the machine's load (two
    # shared cores) falls on both; each timing is 1,000 reads (tens of milliseconds).
    par_files, reads = 8, (20 if args.quick else 250)
    for peer in each(peers):
        peer.makedirs("/par")
        for i in range(par_files):
            peer.write(f"/par/f{i}", os.urandom(1 << 20))
        ones, fours = [], []
        for _ in range(5):
            ones.append(timed(lambda peer=peer: parallel_reads(peer, 1, par_files, 4 * reads), 1))
            fours.append(timed(lambda peer=peer: parallel_reads(peer, 4, par_files, reads), 1))
        speedup = statistics.median(ones) / statistics.median(fours)
        row("4 threads reading 1 MiB files: speedup over 1 thread", peer.name, speedup)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for workload, rows in results.items():
        ours = dict(rows)["memfs (this package)"]
        print(f"\n{workload}")
        for name, v in rows:
            if "speedup" in workload:
                print(f"  {name:26} {v:6.2f}x")
            else:
                print(f"  {name:26} {v * 1e6:10.2f} us   {v / ours:6.2f}x memfs's time")


def pyfakefs_rows(row, n):
    """pyfakefs patches os and open: W1 through them (its only API)."""
    from pyfakefs.fake_filesystem_unittest import Patcher

    with Patcher():
        peer = Host("", "pyfakefs")
        row("W1 api", peer.name, timed(lambda peer=peer: w1_api(peer, n)) / n)
        row("W1 open", peer.name, timed(lambda peer=peer: w1_open(peer, n)) / n)


if __name__ == "__main__":
    main()
