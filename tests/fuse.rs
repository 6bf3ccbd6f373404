#![cfg(feature = "fuse")]
//! memfs through a FUSE mount, driven by `std::fs` and real programs (`tar`, `git`, `cp`, `mv`,
//! `rm`, `find`, `du`, `dd`, `diff`). Run with `cargo test --features fuse --test fuse`.
//!
//! Each test mounts a fresh `MemFs` in a temporary directory. Where FUSE is unavailable
//! (`/dev/fuse` missing, or the kernel refuses the mount) a test prints why and returns; any
//! other mount failure fails the test.

mod common;

use common::Rng;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use memfs::fuse::{mount, MountHandle, MountOptions};
use memfs::MemFs;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// A mounted filesystem in a temporary directory; unmounted on drop.
struct Mounted {
    handle: Option<MountHandle>,
    fs: MemFs,
    dir: tempfile::TempDir,
}

impl Mounted {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn unmount(mut self) -> MemFs {
        self.handle.take().unwrap().unmount().expect("unmount");
        self.fs.clone()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut h) = self.handle.take() {
            if let Err(e) = h.unmount() {
                eprintln!("unmount failed ({e}); dropping the handle detaches it");
            }
        }
    }
}

fn try_mount(fs: MemFs, opts: &MountOptions) -> Option<Mounted> {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED: /dev/fuse is missing, FUSE cannot be used here");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    match mount(fs.clone(), dir.path(), opts) {
        Ok(h) => Some(Mounted {
            handle: Some(h),
            fs,
            dir,
        }),
        Err(e) if refused(&e) => {
            eprintln!("SKIPPED: the FUSE mount was refused here: {e}");
            None
        }
        Err(e) => panic!("mount failed: {e}"),
    }
}

/// Whether a mount failure means "this environment does not allow FUSE mounts" (EPERM/EACCES
/// from the kernel or from `fusermount3`), as opposed to a bug.
fn refused(e: &std::io::Error) -> bool {
    let text = e.to_string();
    e.kind() == std::io::ErrorKind::PermissionDenied
        || text.contains("not permitted")
        || text.contains("Permission denied")
}

fn mounted() -> Option<Mounted> {
    try_mount(MemFs::new(), &MountOptions::default())
}

/// Runs `sh -c script` in `cwd`; panics with its output unless it succeeds.
fn sh(cwd: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tree of `dirs` directories holding `files` files in all, with varied sizes (empty, small,
/// inline-sized, chunked), a few symlinks, and one 3 MiB file when `big`.
fn generate_tree(base: &Path, dirs: usize, files: usize, big: bool) -> u64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0;
    let dir_paths: Vec<PathBuf> = (0..dirs)
        .map(|i| {
            let p = base.join(format!("d{:02}/sub{}", i % 10, i));
            fs::create_dir_all(&p).unwrap();
            p
        })
        .collect();
    for i in 0..files {
        let len = match rng.next(10) {
            0 => 0,
            1..=6 => rng.next(2000) as usize,
            7 | 8 => 4096 + rng.next(20_000) as usize,
            _ => 70_000 + rng.next(200_000) as usize,
        };
        let data = rng.bytes(len);
        total += len as u64;
        fs::write(dir_paths[i % dirs].join(format!("f{i}.bin")), data).unwrap();
    }
    if big {
        let data = rng.bytes(3 << 20);
        total += data.len() as u64;
        fs::write(base.join("big.bin"), data).unwrap();
    }
    std::os::unix::fs::symlink("d00", base.join("link-to-dir")).unwrap();
    std::os::unix::fs::symlink("nowhere/x", base.join("dangling")).unwrap();
    total
}

fn fuse_cases() -> u32 {
    std::env::var("FUSE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

#[test]
fn std_fs_through_the_mount_matches_a_real_directory() {
    let Some(m) = mounted() else { return };
    let mut runner = TestRunner::new(Config {
        cases: fuse_cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0);
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        case.set(case.get() + 1);
        let case = case.get();
        let here = m.path().join(format!("case{case}"));
        fs::create_dir(&here).unwrap();
        let reference = tempfile::tempdir().unwrap();
        for (i, op) in ops.iter().enumerate() {
            let expected = run_host(reference.path(), op);
            let got = run_host(&here, op);
            if got != expected {
                return Err(TestCaseError::fail(format!(
                    "step {i} {op:?}: mount gave {got:?}, a real directory {expected:?}"
                )));
            }
        }
        let expected = host_tree(reference.path());
        if host_tree(&here) != expected {
            return Err(TestCaseError::fail("final trees differ"));
        }
        // The library sees what programs wrote (every file is closed: published).
        let lib = mem_tree(&m.fs, &format!("/case{case}"));
        if lib != expected {
            return Err(TestCaseError::fail("the MemFs differs from the mount"));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn tar_round_trip_is_identical() {
    let Some(m) = mounted() else { return };
    let src = tempfile::tempdir().unwrap();
    generate_tree(src.path(), 40, 600, true);
    let out = tempfile::tempdir().unwrap();
    let (mnt, s, o) = (m.path(), src.path(), out.path());
    sh(
        mnt,
        &format!(
            "mkdir t && tar -C {s} -cf - . | tar -C t -xf - && diff -r --no-dereference {s} t",
            s = s.display()
        ),
    );
    sh(
        mnt,
        &format!(
            "tar -C t -cf - . | tar -C {o} -xf - && diff -r --no-dereference {s} {o}",
            s = s.display(),
            o = o.display()
        ),
    );
    // Modes and mtimes survived too (tar restores them; compare one file).
    let a = fs::metadata(s.join("big.bin")).unwrap();
    let b = fs::metadata(mnt.join("t/big.bin")).unwrap();
    assert_eq!(a.permissions().mode(), b.permissions().mode());
    let secs = |m: &fs::Metadata| {
        m.modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    assert_eq!(secs(&a), secs(&b), "tar keeps whole seconds");
    assert_eq!(
        m.fs.read("/t/big.bin").unwrap(),
        fs::read(s.join("big.bin")).unwrap()
    );
}

#[test]
fn git_init_add_commit_fsck_inside_the_mount() {
    let Some(m) = mounted() else { return };
    let repo = m.path().join("repo");
    fs::create_dir(&repo).unwrap();
    generate_tree(&repo, 10, 80, false);
    let git = "git -c user.name=memfs -c user.email=memfs@example.com -c init.defaultBranch=main";
    sh(
        &repo,
        &format!(
            "{git} init -q && {git} add -A && {git} commit -qm first && \
             echo more >> d00/sub0/f0.bin && {git} mv d01 moved && {git} commit -qam second && \
             {git} gc -q && {git} fsck --full --strict && {git} status --porcelain"
        ),
    );
    let log = sh(&repo, &format!("{git} log --oneline"));
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(m.fs.isdir("/repo/.git/objects"));
}

#[test]
fn ten_thousand_files_with_cp_mv_find_du_rm() {
    let Some(m) = mounted() else { return };
    let src = tempfile::tempdir().unwrap();
    let mut total_bytes = 0u64;
    for d in 0..100 {
        let dir = src.path().join(format!("dir{d:03}"));
        fs::create_dir(&dir).unwrap();
        for f in 0..100 {
            let data = format!("file {d}/{f}\n").repeat(f % 7);
            total_bytes += data.len() as u64;
            fs::write(dir.join(format!("file{f:03}.txt")), data).unwrap();
        }
    }
    let (mnt, s) = (m.path(), src.path().display());
    sh(
        mnt,
        &format!("cp -r {s} a && diff -r --no-dereference {s} a"),
    );
    assert_eq!(
        sh(mnt, "find a -type f | wc -l").trim(),
        "10000",
        "find counts every file"
    );
    // Apparent sizes: the files' bytes plus 4096 per directory (101 of them).
    let du = sh(mnt, "du -sb --apparent-size a");
    let du: u64 = du.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(du, total_bytes + 101 * 4096);
    let stats = m.fs.stats();
    assert_eq!((stats.files, stats.logical_bytes), (10_000, total_bytes));
    sh(
        mnt,
        "mv a b && test ! -e a && cp -r b c && diff -r --no-dereference b c",
    );
    assert_eq!(sh(mnt, "find c -type f | wc -l").trim(), "10000");
    sh(mnt, "rm -rf b c");
    assert_eq!(fs::read_dir(mnt).unwrap().count(), 0);
    assert_eq!(m.fs.stats().files, 0);
}

#[test]
fn unmount_and_remount_show_the_same_contents() {
    let Some(m) = mounted() else { return };
    generate_tree(m.path(), 8, 60, true);
    let before = host_tree(m.path());
    let snap = m.fs.snapshot();
    let fs = m.unmount();
    // The same MemFs, mounted again elsewhere.
    let again = try_mount(fs.clone(), &MountOptions::default()).unwrap();
    assert_eq!(host_tree(again.path()), before);
    drop(again);
    // A snapshot restored into a fresh MemFs, mounted.
    let fresh = MemFs::new();
    fresh.restore(&snap).unwrap();
    let restored = try_mount(fresh, &MountOptions::default()).unwrap();
    assert_eq!(host_tree(restored.path()), before);
}

#[test]
fn join_returns_when_unmounted_from_outside() {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("SKIPPED: /dev/fuse is missing, FUSE cannot be used here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let handle = match mount(fs.clone(), dir.path(), &MountOptions::default()) {
        Ok(h) => h,
        Err(e) if refused(&e) => {
            eprintln!("SKIPPED: the FUSE mount was refused here: {e}");
            return;
        }
        Err(e) => panic!("mount failed: {e}"),
    };
    let mut f = fs::File::create(dir.path().join("open-at-unmount")).unwrap();
    f.write_all(b"still published").unwrap();
    f.flush().unwrap();
    drop(f);
    let unmounter = handle.unmounter();
    let waiter = std::thread::spawn(move || handle.join());
    std::thread::sleep(Duration::from_millis(50));
    // What a user does in another terminal.
    let d = dir.path().display();
    sh(Path::new("/"), &format!("fusermount3 -u {d} || umount {d}"));
    waiter.join().unwrap().unwrap();
    unmounter.unmount().unwrap(); // already unmounted: nothing to do
    assert_eq!(fs.read("/open-at-unmount").unwrap(), b"still published");
    assert!(!dir.path().join("open-at-unmount").exists());
}

#[test]
fn large_and_random_writes_match_a_real_file() {
    let Some(m) = mounted() else { return };
    let reference = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let paths = [m.path().join("rand.bin"), reference.path().join("rand.bin")];
    let files: Vec<fs::File> = paths
        .iter()
        .map(|p| {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .unwrap()
        })
        .collect();
    for step in 0..300 {
        let off = rng.next(3 << 20);
        let n = rng.next(200_000) as usize;
        let data = rng.bytes(n);
        for f in &files {
            f.write_all_at(&data, off).unwrap();
        }
        if step % 50 == 0 {
            let len = rng.next(4 << 20);
            for f in &files {
                f.set_len(len).unwrap();
            }
        }
        if step % 30 == 0 {
            // Read back through the still-open handle (unpublished bytes included).
            let (a, b) = (read_all(&files[0]), read_all(&files[1]));
            assert_eq!(a.len(), b.len());
            assert!(a == b, "contents differ at step {step}");
        }
    }
    for f in &files {
        f.sync_all().unwrap();
    }
    let expected = fs::read(&paths[1]).unwrap();
    assert!(fs::read(&paths[0]).unwrap() == expected);
    drop(files);
    assert!(m.fs.read("/rand.bin").unwrap() == expected);
    // dd, and an append through a second handle.
    sh(
        m.path(),
        "dd if=/dev/zero of=zero.bin bs=1M count=16 status=none && echo tail >> zero.bin",
    );
    // Sparse files share one zero chunk; absurd sizes are refused, not attempted.
    sh(
        m.path(),
        "truncate -s 10G sparse.bin && test $(stat -c %s sparse.bin) = 10737418240",
    );
    assert_eq!(m.fs.metadata("/sparse.bin").unwrap().len(), 10 << 30);
    let e = fs::File::options()
        .write(true)
        .open(m.path().join("sparse.bin"))
        .unwrap()
        .set_len(1 << 50)
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(27), "{e}"); // EFBIG
    fs::remove_file(m.path().join("sparse.bin")).unwrap();
    let z = m.fs.read("/zero.bin").unwrap();
    assert_eq!(z.len(), (16 << 20) + 5);
    assert!(z[..16 << 20].iter().all(|b| *b == 0));
    assert_eq!(&z[16 << 20..], b"tail\n");
}

fn read_all(mut f: &fs::File) -> Vec<u8> {
    let mut v = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn files_metadata_links_and_xattrs() {
    let Some(m) = mounted() else { return };
    let p = m.path();
    fs::write(p.join("a"), "text").unwrap();
    // chmod and times
    fs::set_permissions(p.join("a"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(m.fs.metadata("/a").unwrap().permissions().mode(), 0o600);
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(p.join("a"))
        .unwrap()
        .set_modified(t)
        .unwrap();
    assert_eq!(fs::metadata(p.join("a")).unwrap().modified().unwrap(), t);
    // Inode numbers are the library's, stable across rename.
    use std::os::unix::fs::MetadataExt;
    let ino = fs::metadata(p.join("a")).unwrap().ino();
    assert_eq!(ino, m.fs.metadata("/a").unwrap().ino());
    fs::rename(p.join("a"), p.join("b")).unwrap();
    assert_eq!(fs::metadata(p.join("b")).unwrap().ino(), ino);
    // Symlinks
    std::os::unix::fs::symlink("b", p.join("l")).unwrap();
    assert_eq!(fs::read_link(p.join("l")).unwrap(), Path::new("b"));
    assert_eq!(fs::read_to_string(p.join("l")).unwrap(), "text");
    assert_eq!(m.fs.read_link("/l").unwrap(), "b");
    // xattrs are the per-file user metadata, under `user.`
    xattr::set(p.join("b"), "user.author", b"ada").unwrap();
    assert_eq!(
        m.fs.get_metadata("/b").unwrap(),
        BTreeMap::from([("author".to_string(), "ada".to_string())])
    );
    m.fs.set_metadata("/b", BTreeMap::from([("k".to_string(), "v".to_string())]))
        .unwrap();
    // (attributes are cached by the kernel for at most the TTL; xattrs are not cached)
    assert_eq!(
        xattr::get(p.join("b"), "user.k").unwrap(),
        Some(b"v".to_vec())
    );
    let names: Vec<_> = xattr::list(p.join("b")).unwrap().collect();
    assert_eq!(names, ["user.k"]);
    xattr::remove(p.join("b"), "user.k").unwrap();
    assert!(m.fs.get_metadata("/b").unwrap().is_empty());
    assert_eq!(xattr::get(p.join("b"), "user.k").unwrap(), None);
    let not_utf8 = xattr::set(p.join("b"), "user.bin", &[0xff, 0xfe]).unwrap_err();
    assert_eq!(not_utf8.raw_os_error(), Some(22), "{not_utf8}");
    let other_ns = xattr::set(p.join("b"), "trusted.x", b"v").unwrap_err();
    assert_eq!(other_ns.raw_os_error(), Some(95), "{other_ns}");
    // statfs and directory listings as tools see them.
    let df = sh(p, "df -P .");
    assert!(df.contains("memfs"), "{df}");
    let ls = sh(p, "ls -a");
    assert_eq!(
        ls.split_whitespace().collect::<Vec<_>>(),
        [".", "..", "b", "l"]
    );
    // rename(2) with RENAME_NOREPLACE (`mv -n` uses it): the target stays.
    fs::write(p.join("c"), "other").unwrap();
    sh(p, "mv -n b c || true");
    assert_eq!(fs::read_to_string(p.join("c")).unwrap(), "other");
}

#[test]
fn removed_while_open_keeps_working() {
    let Some(m) = mounted() else { return };
    let path = m.path().join("tmp");
    let mut f = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.write_all(b"before").unwrap();
    fs::remove_file(&path).unwrap();
    f.write_all(b" after").unwrap();
    assert_eq!(read_all(&f), b"before after");
    drop(f);
    assert!(!m.fs.exists("/tmp"));
    assert!(!path.exists());
}

#[test]
fn library_changes_show_through_the_mount() {
    let mut opts = MountOptions::default();
    opts.ttl = Duration::ZERO;
    let Some(m) = try_mount(MemFs::new(), &opts) else {
        return;
    };
    let p = m.path();
    fs::create_dir(p.join("d")).unwrap();
    fs::write(p.join("d/x"), "one").unwrap();
    let snap = m.fs.snapshot();
    m.fs.write("/d/x", "two").unwrap();
    m.fs.rename("/d", "/e").unwrap();
    assert_eq!(fs::read_to_string(p.join("e/x")).unwrap(), "two");
    assert!(!p.join("d").exists());
    m.fs.restore(&snap).unwrap();
    assert_eq!(fs::read_to_string(p.join("d/x")).unwrap(), "one");
    assert!(!p.join("e").exists());
}

#[test]
fn snapshots_while_programs_write_are_consistent() {
    let Some(m) = mounted() else { return };
    let p = m.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        for i in 0..300 {
            // Each file is written whole and closed: a snapshot sees all of it or nothing.
            fs::write(p.join(format!("f{i}")), vec![i as u8; 10_000]).unwrap();
        }
    });
    let mut seen = 0;
    while !writer.is_finished() {
        let snap = m.fs.snapshot();
        for name in snap.listdir("/").unwrap() {
            let data = snap.read(format!("/{name}")).unwrap();
            assert!(
                data.len() == 10_000 || data.is_empty(),
                "{name}: {}",
                data.len()
            );
            seen += 1;
        }
    }
    writer.join().unwrap();
    assert!(seen > 0);
}

#[test]
fn read_only_mount_refuses_changes() {
    let fs0 = MemFs::new();
    fs0.write("/kept", "x").unwrap();
    let mut opts = MountOptions::default();
    opts.read_only = true;
    opts.threads = 1; // the single-threaded session too
    let Some(m) = try_mount(fs0, &opts) else {
        return;
    };
    assert_eq!(fs::read_to_string(m.path().join("kept")).unwrap(), "x");
    let e = fs::write(m.path().join("new"), "y").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(30), "{e}"); // EROFS
    assert!(fs::remove_file(m.path().join("kept")).is_err());
}

/// Throughput, for the README's numbers: run in release, by hand:
/// `cargo test --release --features fuse --test fuse -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_dd_and_tar_vs_tmpfs() {
    let Some(m) = mounted() else { return };
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    // Best of 3: the machine may be shared.
    let best = |f: &mut dyn FnMut() -> Duration| (0..3).map(|_| f()).min().unwrap();
    for (name, dir) in [("memfs (FUSE)", m.path()), ("tmpfs (/dev/shm)", shm.path())] {
        let w = best(&mut || {
            let t = Instant::now();
            sh(dir, "dd if=/dev/zero of=big bs=1M count=1024 status=none");
            t.elapsed()
        });
        // Each open drops the kernel's cached pages (no FOPEN_KEEP_CACHE): reads go to memfs.
        let r = best(&mut || {
            let t = Instant::now();
            sh(dir, "dd if=big of=/dev/null bs=1M status=none");
            t.elapsed()
        });
        fs::remove_file(dir.join("big")).unwrap();
        println!(
            "{name}: dd 1 GiB (bs=1M) write {:.2} GiB/s ({w:.2?}), read {:.2} GiB/s ({r:.2?})",
            1.0 / w.as_secs_f64(),
            1.0 / r.as_secs_f64()
        );
    }
    let src = tempfile::tempdir_in("/dev/shm").unwrap();
    let bytes = generate_tree(src.path(), 100, 5000, true);
    for (name, dir) in [("memfs (FUSE)", m.path()), ("tmpfs (/dev/shm)", shm.path())] {
        let mut round = 0;
        let took = best(&mut || {
            round += 1;
            let out = tempfile::tempdir_in("/dev/shm").unwrap();
            let t = Instant::now();
            sh(
                dir,
                &format!(
                    "mkdir t{round} && tar -C {s} -cf - . | tar -C t{round} -xf - && \
                     tar -C t{round} -cf - . | tar -C {o} -xf -",
                    s = src.path().display(),
                    o = out.path().display()
                ),
            );
            t.elapsed()
        });
        println!(
            "{name}: tar round trip (in, then out) of 5,000 files ({:.1} MiB) in {took:.2?}",
            bytes as f64 / (1 << 20) as f64,
        );
    }
}

#[test]
fn dropping_a_busy_mount_detaches_it_without_blocking() {
    let Some(mut m) = mounted() else { return };
    let mut f = fs::File::create(m.path().join("busy")).unwrap();
    f.write_all(b"written ").unwrap();
    let root = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata("/proc/self").unwrap().uid() == 0
    };
    if root {
        let e = m.handle.as_mut().unwrap().unmount().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy, "{e}");
        assert!(
            m.path().join("busy").exists(),
            "still mounted after a refused unmount"
        );
    }
    drop(m.handle.take()); // busy: must not block
    assert!(
        !m.path().join("busy").exists(),
        "detached from the namespace"
    );
    f.write_all(b"after detach").unwrap();
    drop(f); // close: published, then the session ends
    let t = Instant::now();
    while m.fs.read("/busy").ok().as_deref() != Some(&b"written after detach"[..]) {
        assert!(t.elapsed() < Duration::from_secs(10), "never published");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn many_threads_read_and_write_at_once() {
    let mut opts = MountOptions::default();
    opts.threads = 4;
    let Some(m) = try_mount(MemFs::new(), &opts) else {
        return;
    };
    fs::write(m.path().join("shared"), vec![7u8; 300_000]).unwrap();
    std::thread::scope(|s| {
        for t in 0..6 {
            let base = m.path().join(format!("t{t}"));
            let shared = m.path().join("shared");
            s.spawn(move || {
                fs::create_dir(&base).unwrap();
                for i in 0..150 {
                    let data = format!("thread {t} file {i}\n").repeat(i % 50 + 1);
                    fs::write(base.join(format!("f{i}")), &data).unwrap();
                    assert_eq!(
                        fs::read_to_string(base.join(format!("f{i}"))).unwrap(),
                        data
                    );
                    if i % 10 == 0 {
                        assert!(fs::read(&shared).unwrap().iter().all(|b| *b == 7));
                        fs::rename(base.join(format!("f{i}")), base.join(format!("r{i}"))).unwrap();
                    }
                }
                assert_eq!(fs::read_dir(&base).unwrap().count(), 150);
            });
        }
    });
    assert_eq!(m.fs.stats().files, 6 * 150 + 1);
}

/// A quota as programs see it: `df` reports its size, used and free, `df -i` its inodes, and a
/// write past it fails with ENOSPC and leaves what was there.
#[test]
fn a_quota_shows_in_df_and_a_write_past_it_is_enospc() {
    let fs = MemFs::builder().max_bytes(4 << 20).max_inodes(100).build();
    let Some(m) = try_mount(fs, &MountOptions::default()) else {
        return;
    };
    let p = m.path();
    // Bytes that do not repeat within a chunk (identical chunks would be stored once).
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    fs::write(p.join("a"), &data).unwrap();
    // `df -B1 --output=size,used,avail,itotal,iused,iavail .`: one header line, one value line.
    let df = sh(
        p,
        "df -B1 --output=size,used,avail,itotal,iused,iavail . | tail -1",
    );
    let v: Vec<u64> = df.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert_eq!(v, [4 << 20, 1 << 20, 3 << 20, 100, 2, 98], "{df}");
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 241) as u8).collect();
    let e = fs::write(p.join("b"), big).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(28), "{e}");
    assert_eq!(fs::read(p.join("a")).unwrap(), data);
    assert!(m.fs.usage().bytes <= 4 << 20);
    // Inodes: creates succeed until the 100th, then ENOSPC.
    let mut made = 0;
    let e = loop {
        match fs::write(p.join(format!("n{made}")), "") {
            Ok(()) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(e.raw_os_error(), Some(28), "{e}");
    assert_eq!(m.fs.usage().inodes, 100, "{made} created");
}

#[test]
fn fifos_sockets_and_device_nodes_through_the_mount() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Some(m) = mounted() else { return };
    let p = m.path();
    // A FIFO made by mkfifo(1) works as a pipe: the kernel opens it, memfs stores it.
    sh(p, "mkfifo -m 640 pipe");
    let meta = fs::symlink_metadata(p.join("pipe")).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(
        m.fs.metadata("/pipe").unwrap().file_type(),
        memfs::FileType::Fifo
    );
    let out = sh(p, "(echo through-the-pipe > pipe &) ; cat pipe");
    assert_eq!(out, "through-the-pipe\n");
    // A Unix socket bound in the mount is a socket node.
    let listener = std::os::unix::net::UnixListener::bind(p.join("sock")).unwrap();
    assert!(fs::symlink_metadata(p.join("sock"))
        .unwrap()
        .file_type()
        .is_socket());
    drop(listener);
    // Device nodes (root only: mknod(2) needs CAP_MKNOD) keep their device number.
    if sh(p, "id -u").trim() == "0" {
        sh(p, "mknod chr c 1 3 && mknod blk b 7 0");
        let c = fs::symlink_metadata(p.join("chr")).unwrap();
        assert!(c.file_type().is_char_device());
        assert_eq!(c.rdev(), m.fs.metadata("/chr").unwrap().rdev());
        assert!(fs::symlink_metadata(p.join("blk"))
            .unwrap()
            .file_type()
            .is_block_device());
    }
    // They rename and unlink like any entry; ls shows their kinds.
    fs::rename(p.join("pipe"), p.join("pipe2")).unwrap();
    let ls = sh(p, "ls -l pipe2 sock");
    assert!(
        ls.starts_with('p') && ls.lines().nth(1).unwrap().starts_with('s'),
        "{ls}"
    );
    fs::remove_file(p.join("pipe2")).unwrap();
    assert!(!m.fs.exists("/pipe2"));
}

#[test]
fn owners_through_the_mount() {
    use std::os::unix::fs::MetadataExt;
    let Some(m) = mounted() else { return };
    let p = m.path();
    fs::write(p.join("f"), "x").unwrap();
    let me = (
        fs::metadata("/proc/self").unwrap().uid(),
        fs::metadata("/proc/self").unwrap().gid(),
    );
    let meta = m.fs.metadata("/f").unwrap();
    assert_eq!((meta.uid(), meta.gid()), me, "the creating process's ids");
    if me.0 != 0 {
        return; // chown to another user needs root
    }
    std::os::unix::fs::chown(p.join("f"), Some(1234), Some(4321)).unwrap();
    let meta = m.fs.metadata("/f").unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    let seen = fs::metadata(p.join("f")).unwrap();
    assert_eq!((seen.uid(), seen.gid()), (1234, 4321));
    // A set-group-ID directory's group goes to what is made in it.
    fs::create_dir(p.join("shared")).unwrap();
    std::os::unix::fs::chown(p.join("shared"), None, Some(777)).unwrap();
    fs::set_permissions(p.join("shared"), fs::Permissions::from_mode(0o2775)).unwrap();
    fs::create_dir(p.join("shared/sub")).unwrap();
    let sub = fs::metadata(p.join("shared/sub")).unwrap();
    assert_eq!(sub.gid(), 777);
    assert_eq!(sub.mode() & 0o2000, 0o2000);
    // posix_fallocate grows the file (fallocate mode 0).
    let f = fs::OpenOptions::new()
        .write(true)
        .open(p.join("f"))
        .unwrap();
    sh(p, "fallocate -l 5000 f");
    drop(f);
    assert_eq!(fs::metadata(p.join("f")).unwrap().len(), 5000);
}
