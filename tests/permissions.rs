//! Access checks of a handle with credentials (`MemFs::as_user`), against Linux itself: the
//! same tree is built in a real directory (ext4 or tmpfs, owners set with chown) and in a
//! `MemFs`; each operation runs once as a user other than root on both sides (on the real
//! directory in a `python3` child that drops to that user, uid 1000 with groups 1000 and
//! 2000), each on a fresh copy of the tree, and the outcomes (success, or the errno) and the
//! modes after it must be the same. Needs root (to give the real tree its owners and to switch
//! users); without it the test says so and passes.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use memfs::{errno_of, Credentials, MemFs};

const ALICE: u32 = 1000;
const BOB: u32 = 1001;
const GROUP: u32 = 2000;
const OTHER_GROUP: u32 = 3000;

/// `(path, is_dir, mode, uid, gid)`, parents first.
const TREE: &[(&str, bool, u32, u32, u32)] = &[
    ("pub", true, 0o777, 0, 0),
    ("pub/f", false, 0o644, 0, 0),
    ("priv", true, 0o700, 0, 0),
    ("priv/f", false, 0o644, 0, 0),
    ("noexec", true, 0o666, 0, 0),
    ("noexec/f", false, 0o644, 0, 0),
    ("ro", true, 0o555, 0, 0),
    ("ro/f", false, 0o666, 0, 0),
    ("sticky", true, 0o1777, 0, 0),
    ("sticky/bobs", false, 0o666, BOB, BOB),
    ("sticky/alices", false, 0o644, ALICE, ALICE),
    ("alice", true, 0o755, ALICE, ALICE),
    ("alice/f", false, 0o644, ALICE, ALICE),
    ("alice/g", false, 0o600, BOB, BOB),
    ("alice/h", false, 0o644, ALICE, OTHER_GROUP),
    ("alice/suid", false, 0o6775, ALICE, ALICE),
    ("grp", true, 0o770, 0, GROUP),
    ("grp/f", false, 0o660, 0, GROUP),
    ("bob", true, 0o755, BOB, BOB),
    ("bob/f", false, 0o644, BOB, BOB),
    ("bob/sub", true, 0o755, BOB, BOB),
    ("sgid", true, 0o2777, 0, GROUP),
    ("alice/dir", true, 0o755, ALICE, ALICE),
    ("alice/dir/f", false, 0o644, ALICE, ALICE),
    ("bob/locked", true, 0o700, BOB, BOB),
    ("bob/locked/f", false, 0o666, BOB, BOB),
    ("pub/bobdir", true, 0o777, BOB, BOB),
    ("pub/bobdir/f", false, 0o666, BOB, BOB),
];

/// Symlinks `(path, target)`, made after the tree (owned by root).
const LINKS: &[(&str, &str)] = &[
    ("pub/to_priv", "../priv"),
    ("pub/to_locked_f", "../bob/locked/f"),
    ("pub/to_alice", "../alice"),
];

/// One operation: a name and its paths/arguments, the same on both sides.
#[derive(Debug, Clone)]
enum Op {
    Mkdir(&'static str),
    Create(&'static str),
    Read(&'static str),
    WriteOpen(&'static str),
    Unlink(&'static str),
    Rmdir(&'static str),
    Rename(&'static str, &'static str),
    Chmod(&'static str, u32),
    Chown(&'static str, i64, i64),
    UtimeExplicit(&'static str),
    UtimeNow(&'static str),
    Link(&'static str, &'static str),
    Symlink(&'static str),
    Listdir(&'static str),
    Stat(&'static str),
    Truncate(&'static str),
    Append(&'static str),
    /// `setxattr(p, "user.k", "v")` (memfs: `set_metadata`).
    SetXattr(&'static str),
}

fn ops() -> Vec<Op> {
    use Op::*;
    vec![
        Mkdir("pub/x"),
        Mkdir("priv/x"),
        Mkdir("ro/x"),
        Mkdir("noexec/x"),
        Mkdir("grp/x"),
        Mkdir("bob/x"),
        Mkdir("alice/x"),
        Mkdir("pub/f"),
        Mkdir("priv/f/x"),
        Mkdir("sgid/x"),
        Create("pub/new"),
        Create("ro/new"),
        Create("priv/new"),
        Create("bob/new"),
        Create("grp/new"),
        Create("sgid/new"),
        Read("pub/f"),
        Read("priv/f"),
        Read("grp/f"),
        Read("alice/g"),
        Read("ro/f"),
        Read("noexec/f"),
        WriteOpen("pub/f"),
        WriteOpen("ro/f"),
        WriteOpen("grp/f"),
        WriteOpen("alice/f"),
        WriteOpen("alice/g"),
        Unlink("pub/f"),
        Unlink("ro/f"),
        Unlink("sticky/bobs"),
        Unlink("sticky/alices"),
        Unlink("bob/f"),
        Unlink("alice/g"),
        Unlink("priv/missing"),
        Unlink("pub/missing"),
        Rmdir("bob/sub"),
        Rename("pub/f", "pub/g"),
        Rename("sticky/bobs", "sticky/x"),
        Rename("sticky/alices", "sticky/bobs"),
        Rename("alice/f", "pub/f2"),
        Rename("alice/f", "ro/f"),
        Rename("bob/sub", "pub/sub"),
        Rename("bob/sub", "bob/sub2"),
        Chmod("alice/f", 0o600),
        Chmod("pub/f", 0o600),
        Chmod("alice/h", 0o2755),
        Chmod("alice/f", 0o2755),
        Chown("alice/f", BOB as i64, -1),
        Chown("alice/f", -1, GROUP as i64),
        Chown("alice/f", -1, OTHER_GROUP as i64),
        Chown("pub/f", -1, GROUP as i64),
        Chown("alice/f", ALICE as i64, -1),
        UtimeExplicit("alice/f"),
        UtimeExplicit("pub/f"),
        UtimeExplicit("ro/f"),
        UtimeNow("pub/f"),
        UtimeNow("ro/f"),
        UtimeNow("alice/f"),
        Link("alice/f", "alice/l"),
        Link("pub/f", "alice/l2"),
        Link("ro/f", "pub/l3"),
        Link("alice/f", "ro/l4"),
        Symlink("pub/s"),
        Symlink("ro/s"),
        Listdir("priv"),
        Listdir("noexec"),
        Listdir("pub"),
        Listdir("bob"),
        Stat("priv/f"),
        Stat("noexec/f"),
        Stat("pub/f"),
        Truncate("pub/f"),
        Truncate("alice/f"),
        Truncate("ro/f"),
        Append("alice/suid"),
        Append("grp/f"),
        Append("sticky/bobs"),
        Chmod("bob/sub", 0o777),
        Link("sticky/bobs", "pub/lb"),
        Link("alice/suid", "alice/ls"),
        Link("alice/g", "alice/lg"),
        SetXattr("alice/f"),
        SetXattr("alice/g"),
        SetXattr("pub/f"),
        // Through symlinks: the directories on the way to the target are searched.
        Read("pub/to_priv/f"),
        Read("pub/to_locked_f"),
        Stat("pub/to_locked_f"),
        Create("pub/to_alice/new"),
        Unlink("pub/to_alice/f"),
        // A directory moved to another parent must be writable (its `..` changes).
        Rename("alice/dir", "pub/dir"),
        Rename("pub/bobdir", "alice/bobdir"),
        Rename("pub/bobdir", "pub/bobdir2"),
        Rename("alice/dir", "bob/dir"),
        // Inside a directory only its owner may enter.
        Unlink("bob/locked/f"),
        Read("bob/locked/f"),
        Listdir("bob/locked"),
        Mkdir("bob/locked/x"),
        // Set-group-ID directory: new nodes take its group; a chown with no change.
        Mkdir("sgid/d"),
        Chown("alice/f", -1, -1),
        Chown("alice/suid", -1, ALICE as i64),
        Chmod("alice/suid", 0o6755),
        Chmod("sgid", 0o777),
        // Removing from a world-writable directory someone else's file (no sticky bit).
        Unlink("pub/bobdir/f"),
        Rmdir("pub/bobdir"),
        Truncate("pub/bobdir/f"),
        Link("pub/bobdir/f", "pub/lbob"),
    ]
}

/// What an operation gave: `0` for success or the errno, and then the modes and owners of
/// the paths it names that exist.
type Outcome = (i32, BTreeMap<String, (u32, u32, u32)>);

fn op_paths(op: &Op) -> Vec<&'static str> {
    use Op::*;
    match op {
        Rename(a, b) | Link(a, b) => vec![a, b],
        Mkdir(p)
        | Create(p)
        | Read(p)
        | WriteOpen(p)
        | Unlink(p)
        | Rmdir(p)
        | Chmod(p, _)
        | Chown(p, ..)
        | UtimeExplicit(p)
        | UtimeNow(p)
        | Symlink(p)
        | Listdir(p)
        | Stat(p)
        | Truncate(p)
        | Append(p)
        | SetXattr(p) => vec![p],
    }
}

/// The Python statement for `op` on the real directory (cwd).
fn python(op: &Op) -> String {
    use Op::*;
    match op {
        Mkdir(p) => format!("os.mkdir({p:?})"),
        Create(p) => {
            format!("os.close(os.open({p:?}, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))")
        }
        Read(p) => format!("open({p:?}, 'rb').read()"),
        WriteOpen(p) => format!("os.close(os.open({p:?}, os.O_WRONLY))"),
        Unlink(p) => format!("os.unlink({p:?})"),
        Rmdir(p) => format!("os.rmdir({p:?})"),
        Rename(a, b) => format!("os.rename({a:?}, {b:?})"),
        Chmod(p, m) => format!("os.chmod({p:?}, {m})"),
        Chown(p, u, g) => format!("os.chown({p:?}, {u}, {g})"),
        UtimeExplicit(p) => format!("os.utime({p:?}, (1000000, 1000000))"),
        UtimeNow(p) => format!("os.utime({p:?}, None)"),
        Link(a, b) => format!("os.link({a:?}, {b:?})"),
        Symlink(p) => format!("os.symlink('target', {p:?})"),
        Listdir(p) => format!("os.listdir({p:?})"),
        Stat(p) => format!("os.stat({p:?})"),
        Truncate(p) => format!("os.truncate({p:?}, 1)"),
        Append(p) => format!("f = open({p:?}, 'ab'); f.write(b'x'); f.close()"),
        SetXattr(p) => format!("os.setxattr({p:?}, 'user.k', b'v')"),
    }
}

fn on_memfs(fs: &MemFs, op: &Op) -> std::io::Result<()> {
    use std::time::{Duration, UNIX_EPOCH};
    use Op::*;
    let p = |s: &str| format!("/{s}");
    match op {
        Mkdir(a) => fs.create_dir(p(a)),
        Create(a) => fs
            .open_with(p(a), memfs::OpenOptions::new().write(true).create_new(true))
            .map(drop),
        Read(a) => fs.read(p(a)).map(drop),
        WriteOpen(a) => fs
            .open_with(p(a), memfs::OpenOptions::new().write(true))
            .map(drop),
        Unlink(a) => fs.remove_file(p(a)),
        Rmdir(a) => fs.remove_dir(p(a)),
        Rename(a, b) => fs.rename(p(a), p(b)),
        Chmod(a, m) => fs.set_permissions(p(a), *m),
        Chown(a, u, g) => fs.chown(
            p(a),
            (*u >= 0).then_some(*u as u32),
            (*g >= 0).then_some(*g as u32),
        ),
        UtimeExplicit(a) => {
            let t = UNIX_EPOCH + Duration::from_secs(1_000_000);
            fs.set_times(p(a), Some(t), Some(t))
        }
        UtimeNow(a) => fs.touch(p(a)),
        Link(a, b) => fs.hard_link(p(a), p(b)),
        Symlink(a) => fs.symlink("target", p(a)),
        Listdir(a) => fs.listdir(p(a)).map(drop),
        Stat(a) => fs.metadata(p(a)).map(drop),
        Truncate(a) => fs
            .open_with(p(a), memfs::OpenOptions::new().write(true))
            .and_then(|mut f| {
                f.set_len(1)?;
                f.flush()
            }),
        Append(a) => fs.append(p(a), b"x"),
        SetXattr(a) => fs.set_metadata(p(a), [("k".to_string(), "v".to_string())].into()),
    }
}

fn build_host(base: &Path) {
    for &(p, is_dir, mode, uid, gid) in TREE {
        let path = base.join(p);
        if is_dir {
            std::fs::create_dir(&path).unwrap();
        } else {
            std::fs::write(&path, b"content").unwrap();
        }
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for &(p, target) in LINKS {
        std::os::unix::fs::symlink(target, base.join(p)).unwrap();
    }
}

fn build_mem() -> MemFs {
    let fs = MemFs::new();
    for &(p, is_dir, mode, uid, gid) in TREE {
        let path = format!("/{p}");
        if is_dir {
            fs.create_dir(&path).unwrap();
        } else {
            fs.write(&path, b"content").unwrap();
        }
        fs.chown(&path, Some(uid), Some(gid)).unwrap();
        fs.set_permissions(&path, mode).unwrap();
    }
    for &(p, target) in LINKS {
        fs.symlink(target, format!("/{p}")).unwrap();
        fs.lchown(format!("/{p}"), Some(0), Some(0)).unwrap();
    }
    fs
}

fn host_state(base: &Path, paths: &[&str]) -> BTreeMap<String, (u32, u32, u32)> {
    paths
        .iter()
        .filter_map(|p| {
            let m = std::fs::symlink_metadata(base.join(p)).ok()?;
            Some((p.to_string(), (m.mode() & 0o7777, m.uid(), m.gid())))
        })
        .collect()
}

fn mem_state(fs: &MemFs, paths: &[&str]) -> BTreeMap<String, (u32, u32, u32)> {
    paths
        .iter()
        .filter_map(|p| {
            let m = fs.symlink_metadata(format!("/{p}")).ok()?;
            Some((p.to_string(), (m.mode() & 0o7777, m.uid(), m.gid())))
        })
        .collect()
}

#[test]
fn a_user_is_refused_what_linux_refuses() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIPPED: needs root (to give a real tree its owners and to switch users)");
        return;
    }
    let mut mismatches = Vec::new();
    for op in ops() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        build_host(dir.path());
        let script = format!(
            "import os, sys\nos.setgroups([{ALICE}, {GROUP}]); os.setgid({ALICE}); os.setuid({ALICE})\n\
             try:\n    {}\n    print(0)\nexcept OSError as e:\n    print(e.errno)\n",
            python(&op)
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path())
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{op:?}: {out:?}");
        let errno: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let paths = op_paths(&op);
        let linux: Outcome = (errno, host_state(dir.path(), &paths));

        let root = build_mem();
        let alice = root.as_user(Credentials::new(ALICE, ALICE).with_groups([GROUP]));
        let got = on_memfs(&alice, &op).map_or_else(|e| errno_of(&e), |()| 0);
        let mem: Outcome = (got, mem_state(&root, &paths));
        if mem != linux {
            mismatches.push(format!("{op:?}: Linux {linux:?}, memfs {mem:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        ops().len(),
        mismatches.join("\n")
    );
}

#[test]
fn new_nodes_belong_to_the_user_and_root_is_unchecked() {
    let root = MemFs::new();
    root.create_dir("/home").unwrap();
    root.set_permissions("/home", 0o777).unwrap();
    let alice = root.as_user(Credentials::new(ALICE, ALICE));
    alice.write("/home/a.txt", "mine").unwrap();
    alice.create_dir_all("/home/d/e").unwrap();
    for p in ["/home/a.txt", "/home/d", "/home/d/e"] {
        let m = root.metadata(p).unwrap();
        assert_eq!((m.uid(), m.gid()), (ALICE, ALICE), "{p}");
    }
    assert_eq!(alice.credentials().unwrap().uid(), ALICE);
    // Reads through a snapshot or a transaction are checked as the handle's.
    root.create_dir("/secret").unwrap();
    root.set_permissions("/secret", 0o700).unwrap();
    root.write("/secret/k", "key").unwrap();
    assert!(alice.snapshot().read("/secret/k").is_err());
    assert!(alice.begin().read("/secret/k").is_err());
    assert!(!alice.exists("/secret/k"));
    assert!(alice.walk("/").unwrap().all(|(d, ..)| d != "/secret"));
    assert!(alice
        .find("*", "/")
        .unwrap()
        .iter()
        .all(|p| !p.starts_with("/secret")));
    assert!(alice.search_content("key", None, "/").unwrap().is_empty());
    // Whole-tree replacement is root's.
    let e = alice.restore(&root.snapshot()).unwrap_err();
    assert_eq!(errno_of(&e), 1);
    let e = memfs::persist::json::dump(&alice, "/").unwrap_err();
    assert_eq!(errno_of(&e), 1);
    let e = memfs::persist::image::encode(&alice, &BTreeMap::new()).unwrap_err();
    assert_eq!(errno_of(&e), 1);
    // Root (no credentials, or uid 0) is not checked.
    assert_eq!(root.read_to_string("/secret/k").unwrap(), "key");
    let uid0 = root.as_user(Credentials::new(0, 0));
    assert_eq!(uid0.read_to_string("/secret/k").unwrap(), "key");
    assert!(root.as_root().credentials().is_none());
    // The builder makes a filesystem that acts as the user from the start.
    let fs = MemFs::builder()
        .credentials(Credentials::new(ALICE, ALICE))
        .build();
    let e = fs.create_dir("/x").unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied,
        "/ is root's 0755"
    );
}
