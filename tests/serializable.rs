//! Property test of the transaction isolation claim (serializable): a transaction runs random
//! reads and writes while a plain write lands between its `begin()` and its `commit()`.
//! - If the commit succeeds, every result the transaction saw and the final tree must be
//!   exactly those of running the plain write first and then the transaction's operations
//!   alone (the transaction is serialized at its commit point).
//! - If it is a conflict, the tree must be exactly the plain write's result (nothing of the
//!   transaction was published).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256).

use std::collections::BTreeMap;

use memfs::{is_conflict, MemFs, Snapshot, Transaction};
use proptest::prelude::*;

/// The paths of the populated start (see the test), drawn often so operations meet each other.
const START_DIRS: [&str; 3] = ["/a", "/b", "/a/a"];
const START_FILES: [&str; 4] = ["/a/b", "/a/a/b", "/b/a", "/b/b"];

fn path() -> impl Strategy<Value = String> {
    let mut known: Vec<String> = START_DIRS
        .iter()
        .chain(&START_FILES)
        .map(|p| p.to_string())
        .collect();
    known.push("/l".to_string());
    prop_oneof![
        prop::collection::vec(prop::sample::select(vec!["a", "b", "l"]), 1..=3)
            .prop_map(|names| format!("/{}", names.join("/"))),
        prop::sample::select(known),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Write(String, u8),
    Append(String, u8),
    CreateDir(String),
    CreateDirAll(String),
    RemoveFile(String),
    RemoveDir(String),
    RemoveDirAll(String),
    Rename(String, String),
    Copy(String, String),
    Symlink(String, String),
    Read(String),
    ListDir(String),
    Exists(String),
    Walk(String),
}

fn write_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (path(), any::<u8>()).prop_map(|(p, v)| Op::Write(p, v)),
        2 => (path(), any::<u8>()).prop_map(|(p, v)| Op::Append(p, v)),
        2 => path().prop_map(Op::CreateDir),
        1 => path().prop_map(Op::CreateDirAll),
        2 => path().prop_map(Op::RemoveFile),
        1 => path().prop_map(Op::RemoveDir),
        1 => path().prop_map(Op::RemoveDirAll),
        2 => (path(), path()).prop_map(|(a, b)| Op::Rename(a, b)),
        1 => (path(), path()).prop_map(|(a, b)| Op::Copy(a, b)),
        1 => (path(), path()).prop_map(|(t, l)| Op::Symlink(t, l)),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => write_op(),
        2 => path().prop_map(Op::Read),
        1 => path().prop_map(Op::ListDir),
        1 => path().prop_map(Op::Exists),
        1 => path().prop_map(Op::Walk),
    ]
}

/// Bytes of a value: sometimes above INLINE_MAX, so stored chunks take part too.
fn bytes(v: u8) -> Vec<u8> {
    vec![
        v;
        if v.is_multiple_of(4) {
            memfs::INLINE_MAX + 1
        } else {
            3
        }
    ]
}

/// The same operation on a `MemFs` or a `Transaction`, with its result as text.
macro_rules! apply {
    ($t:expr, $op:expr) => {{
        let t = $t;
        let r: std::io::Result<String> = match $op {
            Op::Write(p, v) => t.write(p, bytes(*v)).map(|_| String::new()),
            Op::Append(p, v) => t.append(p, bytes(*v)).map(|_| String::new()),
            Op::CreateDir(p) => t.create_dir(p).map(|_| String::new()),
            Op::CreateDirAll(p) => t.create_dir_all(p).map(|_| String::new()),
            Op::RemoveFile(p) => t.remove_file(p).map(|_| String::new()),
            Op::RemoveDir(p) => t.remove_dir(p).map(|_| String::new()),
            Op::RemoveDirAll(p) => t.remove_dir_all(p).map(|_| String::new()),
            Op::Rename(a, b) => t.rename(a, b).map(|_| String::new()),
            Op::Copy(a, b) => t.copy(a, b).map(|n| n.to_string()),
            Op::Symlink(target, l) => t.symlink(target, l).map(|_| String::new()),
            Op::Read(p) => t.read(p).map(|b| format!("{b:?}")),
            Op::ListDir(p) => t.listdir(p).map(|v| v.join(",")),
            Op::Exists(p) => Ok(t.exists(p).to_string()),
            Op::Walk(p) => t.walk(p).map(|w| format!("{:?}", w.collect::<Vec<_>>())),
        };
        match r {
            Ok(s) => format!("ok {s}"),
            Err(e) => format!("err {:?}", e.kind()),
        }
    }};
}

fn on_fs(fs: &MemFs, op: &Op) -> String {
    apply!(fs, op)
}

fn on_tx(tx: &mut Transaction, op: &Op) -> String {
    apply!(tx, op)
}

/// Everything observable of a tree (contents, link targets, kinds, permissions).
fn dump(s: &Snapshot) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (dir, dirs, files) in s.walk("/").unwrap() {
        for name in dirs.iter().chain(&files) {
            let p = format!("{}/{name}", dir.trim_end_matches('/'));
            let md = s.symlink_metadata(&p).unwrap();
            let what = if md.is_symlink() {
                format!("link {}", s.read_link(&p).unwrap())
            } else if md.is_dir() {
                "dir".to_string()
            } else {
                format!("file {:?}", s.read(&p).unwrap())
            };
            out.insert(p, format!("{what} {:o}", md.permissions().mode()));
        }
    }
    out
}

proptest! {
    #[test]
    fn a_committed_transaction_equals_running_it_after_the_concurrent_write(
        setup in prop::collection::vec(write_op(), 0..6),
        tx_ops in prop::collection::vec(any_op(), 1..8),
        plain in write_op(),
    ) {
        // A populated start, so that directory operations (moves, listings, walks) have
        // something to work on; the random setup then changes it.
        let fs = MemFs::new();
        for d in START_DIRS {
            fs.create_dir(d).unwrap();
        }
        for f in START_FILES {
            fs.write(f, bytes(f.len() as u8)).unwrap();
        }
        for op in &setup {
            on_fs(&fs, op);
        }
        let base = fs.snapshot();

        let mut tx = fs.begin();
        let seen: Vec<String> = tx_ops.iter().map(|op| on_tx(&mut tx, op)).collect();
        on_fs(&fs, &plain);
        let committed = tx.commit();

        // The serial history: the plain write alone, then the transaction's operations.
        let serial = MemFs::new();
        serial.restore(&base).unwrap();
        on_fs(&serial, &plain);
        let after_plain = dump(&serial.snapshot());
        let serial_seen: Vec<String> = tx_ops.iter().map(|op| on_fs(&serial, op)).collect();

        match committed {
            Ok(()) => {
                prop_assert_eq!(&seen, &serial_seen, "the transaction saw a non-serializable state");
                prop_assert_eq!(dump(&fs.snapshot()), dump(&serial.snapshot()));
            }
            Err(e) => {
                prop_assert!(is_conflict(&e), "{}", e);
                prop_assert_eq!(dump(&fs.snapshot()), after_plain, "a conflicted commit published");
            }
        }
    }
}
