//! The differential test: random operation sequences run on a `MemFs` and on a real directory
//! (`tempfile::TempDir` through `std::fs`); every result and every `ErrorKind` must be the same,
//! and so must the final trees (hard links included: a change through one name is seen through
//! every other). It runs `max(PROPTEST_CASES, 5000)` sequences (about 100,000
//! operations).

use std::io::Write;

mod common;

use common::*;
use memfs::MemFs;
use proptest::prelude::*;

fn run_mem(fs: &MemFs, op: &Op) -> Res {
    let p = |s: &str| format!("/{s}");
    let fifo = |s: &str| fs.metadata(p(s)).is_ok_and(|m| m.file_type().is_fifo());
    if opened_paths(op).into_iter().any(fifo) {
        return Ok(Outcome::Skipped);
    }
    let r = match op {
        Op::CreateDir(a) => fs.create_dir(p(a)).map(|_| Outcome::Done),
        Op::CreateDirAll(a) => fs.create_dir_all(p(a)).map(|_| Outcome::Done),
        Op::Write(a, d) => fs.write(p(a), d).map(|_| Outcome::Done),
        Op::Append(a, d) => fs
            .open_with(p(a), memfs::OpenOptions::new().append(true).create(true))
            .and_then(|mut f| {
                f.write_all(d)?;
                f.flush()
            })
            .map(|_| Outcome::Done),
        Op::SetLen(a, n) => fs
            .open_with(p(a), memfs::OpenOptions::new().write(true))
            .and_then(|mut f| {
                f.set_len(*n)?;
                f.flush()
            })
            .map(|_| Outcome::Done),
        Op::Rename(a, b) => fs.rename(p(a), p(b)).map(|_| Outcome::Done),
        Op::RemoveFile(a) => fs.remove_file(p(a)).map(|_| Outcome::Done),
        Op::RemoveDir(a) => fs.remove_dir(p(a)).map(|_| Outcome::Done),
        Op::RemoveDirAll(a) => fs.remove_dir_all(p(a)).map(|_| Outcome::Done),
        Op::Copy(a, b) => fs.copy(p(a), p(b)).map(Outcome::Copied),
        Op::Read(a) => fs.read(p(a)).map(Outcome::Bytes),
        Op::ReadDir(a) => fs.read_dir(p(a)).map(|es| {
            Outcome::Names(
                es.iter()
                    .map(|e| (e.file_name(), e.file_type().unwrap().is_dir()))
                    .collect(),
            )
        }),
        Op::Metadata(a) => fs.metadata(p(a)).map(|m| mem_meta(&m)),
        Op::SymlinkMetadata(a) => fs.symlink_metadata(p(a)).map(|m| mem_meta(&m)),
        Op::Symlink(t, l) => fs.symlink(t, p(l)).map(|_| Outcome::Done),
        Op::ReadLink(a) => fs.read_link(p(a)).map(Outcome::Target),
        Op::Mkfifo(a) => fs.mkfifo(p(a), 0o640).map(|_| Outcome::Done),
        Op::Chmod(a, mode) => fs
            .set_permissions(p(a), *mode)
            .and_then(|()| fs.metadata(p(a)))
            .map(|m| Outcome::Mode(m.mode())),
        Op::WriteAfterRename(a, b, d) => fs
            .open_with(p(a), memfs::OpenOptions::new().append(true).create(true))
            .and_then(|mut f| {
                fs.rename(p(a), p(b))?;
                f.write_all(d)?;
                f.flush()
            })
            .map(|_| Outcome::Done),
        Op::WriteAfterUnlink(a, d) => fs
            .open_with(p(a), memfs::OpenOptions::new().append(true).create(true))
            .and_then(|mut f| {
                fs.remove_file(p(a))?;
                f.write_all(d)?;
                f.flush()
            })
            .map(|_| Outcome::Done),
        Op::Link(a, b) => fs
            .hard_link(p(a), p(b))
            .and_then(|()| fs.symlink_metadata(p(b)))
            .map(|m| Outcome::Links(m.nlink().into())),
        Op::Lchown(a) => {
            let (u, g) = me();
            fs.lchown(p(a), Some(u), Some(g))
                .and_then(|()| fs.symlink_metadata(p(a)))
                .map(|m| Outcome::Mode(m.mode()))
        }
    };
    r.map_err(|e| e.kind())
}

fn mem_meta(m: &memfs::Metadata) -> Outcome {
    Outcome::Meta {
        is_dir: m.is_dir(),
        is_symlink: m.is_symlink(),
        file_len: m.is_file().then_some(m.len()),
        nlink: (!m.is_dir()).then_some(m.nlink().into()),
    }
}

proptest! {
    // At least 5,000 sequences of 1-39 operations: about 100,000 operations.
    #![proptest_config(ProptestConfig { cases: cases().max(5000), ..ProptestConfig::default() })]

    #[test]
    fn memfs_matches_a_real_directory(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let fs = MemFs::new();
        for (i, op) in ops.iter().enumerate() {
            let expected = run_host(dir.path(), op);
            let got = run_mem(&fs, op);
            prop_assert_eq!(&got, &expected, "step {} {:?}", i, op);
        }
        prop_assert_eq!(mem_tree(&fs, "/"), host_tree(dir.path()));
    }
}

#[test]
fn targeted_linux_rules() {
    // A few sequences worth pinning regardless of what proptest draws.
    let seqs: Vec<Vec<Op>> = vec![
        vec![
            Op::Write("a".into(), b"x".to_vec()),
            Op::Link("a".into(), "b".into()),
            Op::Append("b".into(), b"y".to_vec()),
            Op::Read("a".into()),
            Op::CreateDir("c".into()),
            Op::Rename("a".into(), "c/a".into()),
            Op::Link("c/a".into(), "b".into()),
            Op::Link("c".into(), "d".into()),
            Op::Rename("b".into(), "c/a".into()),
            Op::Metadata("c/a".into()),
            Op::WriteAfterUnlink("c/a".into(), b"z".to_vec()),
            Op::Read("b".into()),
            Op::Link("b".into(), "c/e".into()),
            Op::RemoveDirAll("c".into()),
            Op::Metadata("b".into()),
        ],
        vec![
            Op::CreateDir("a".into()),
            Op::Rename("a".into(), "a/b".into()),
        ],
        vec![
            Op::CreateDirAll("a/b".into()),
            Op::Rename("a/b".into(), "a".into()),
        ],
        vec![
            Op::Write("a".into(), b"x".to_vec()),
            Op::CreateDirAll("a/b".into()),
            Op::CreateDir("a/b".into()),
            Op::Read("a/b".into()),
        ],
        vec![
            Op::CreateDir("a".into()),
            Op::Write("b".into(), b"x".to_vec()),
            Op::Rename("a".into(), "b".into()),
            Op::Rename("b".into(), "a".into()),
            Op::Copy("a".into(), "c".into()),
            Op::Copy("b".into(), "a".into()),
            Op::Copy("b".into(), "b".into()),
            Op::Read("b".into()),
        ],
        vec![
            Op::CreateDirAll("a/b".into()),
            Op::CreateDir("c".into()),
            Op::Rename("c".into(), "a".into()),
            Op::RemoveDir("a".into()),
            Op::RemoveFile("a".into()),
            Op::RemoveDirAll("a".into()),
            Op::SetLen("a".into(), 3),
            Op::ReadDir("a".into()),
        ],
    ];
    for ops in seqs {
        let dir = tempfile::tempdir().unwrap();
        let fs = MemFs::new();
        for op in &ops {
            assert_eq!(
                run_mem(&fs, op),
                run_host(dir.path(), op),
                "{op:?} in {ops:?}"
            );
        }
        assert_eq!(mem_tree(&fs, "/"), host_tree(dir.path()));
    }
}
