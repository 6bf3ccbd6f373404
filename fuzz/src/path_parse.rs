//! Fuzz harness: path parsing, normalisation and resolution.
//!
//! The input bytes are a path. `VPath::parse` must never panic; it must accept exactly what an
//! independent reference normaliser (written here, below) accepts, give the same names and the
//! same "must be a directory" flag, and its canonical text must parse back to itself. The same
//! text is then resolved against a small tree holding symlinks (to a directory, to a file,
//! dangling, a loop): every read call must return without panicking, and `exists`,
//! `metadata` and `canonicalize` must agree with each other.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use memfs::{MemFs, VPath};

/// The reference: `Err(kind)` or `Ok((names, must_be_dir))`.
fn reference(data: &[u8]) -> Result<(Vec<String>, bool), ErrorKind> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Err(ErrorKind::InvalidInput);
    };
    if text.is_empty() || text.contains('\0') {
        return Err(ErrorKind::InvalidInput);
    }
    if text.len() >= 4096 || text.split('/').any(|part| part.len() > 255) {
        return Err(ErrorKind::InvalidFilename);
    }
    let mut names: Vec<String> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                names.pop();
            }
            name => names.push(name.to_string()),
        }
    }
    let last = text.rsplit('/').next().unwrap_or("");
    let must_be_dir = text.ends_with('/') || last == "." || last == "..";
    Ok((names, must_be_dir))
}

fn tree() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all("/a/b").unwrap();
    fs.write("/a/f", "file").unwrap();
    fs.write("/a/b/g", "deeper").unwrap();
    fs.symlink("b", "/a/to_dir").unwrap();
    fs.symlink("/a/f", "/a/to_file").unwrap();
    fs.symlink("missing", "/a/dangling").unwrap();
    fs.symlink("loop2", "/a/loop1").unwrap();
    fs.symlink("loop1", "/a/loop2").unwrap();
    fs.symlink("../..", "/a/b/up").unwrap();
    fs
}

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let path = Path::new(OsStr::from_bytes(data));
    let parsed = VPath::parse(path);
    match (reference(data), &parsed) {
        (Ok((names, must_be_dir)), Ok(p)) => {
            let got: Vec<&str> = p.names().iter().map(|n| n.as_str()).collect();
            assert_eq!(got, names, "names of {path:?}");
            assert_eq!(p.must_be_dir(), must_be_dir, "must_be_dir of {path:?}");
            for n in p.names() {
                assert!(!n.is_empty() && n != "." && n != ".." && !n.contains('/'));
            }
            let again = VPath::parse_str(&p.as_string()).expect("canonical text parses");
            assert_eq!(again.names(), p.names(), "canonical text of {path:?}");
            assert_eq!(
                again.must_be_dir(),
                p.is_root(),
                "only `/` ends with a slash"
            );
        }
        (Err(kind), Err(e)) => assert_eq!(kind, e.kind(), "error kind for {path:?}: {e}"),
        (want, got) => panic!("{path:?}: reference says {want:?}, VPath::parse says {got:?}"),
    }
    if parsed.is_err() {
        // Every entry point parses first: it must fail the same way, without panicking.
        assert!(!tree().exists(path));
        return;
    }

    let fs = tree();
    let meta = fs.metadata(path);
    assert_eq!(
        fs.exists(path),
        meta.is_ok(),
        "exists vs metadata for {path:?}"
    );
    assert_eq!(fs.isdir(path), meta.as_ref().is_ok_and(|m| m.is_dir()));
    assert_eq!(fs.isfile(path), meta.as_ref().is_ok_and(|m| m.is_file()));
    let lmeta = fs.symlink_metadata(path);
    if let Ok(m) = &meta {
        assert!(
            lmeta.is_ok(),
            "metadata ok but symlink_metadata fails for {path:?}"
        );
        let canon = fs
            .canonicalize(path)
            .unwrap_or_else(|e| panic!("canonicalize({path:?}) after metadata ok: {e}"));
        let cm = fs.metadata(&canon).expect("canonical path exists");
        assert_eq!(cm.ino(), m.ino(), "{path:?} and its canonical form {canon}");
        assert!(!fs.symlink_metadata(&canon).unwrap().is_symlink());
    } else {
        assert!(fs.canonicalize(path).is_err());
    }
    match fs.read_dir(path) {
        Ok(entries) => {
            assert!(meta.as_ref().is_ok_and(|m| m.is_dir()));
            let names: Vec<String> = entries.iter().map(|e| e.file_name()).collect();
            assert_eq!(names, fs.listdir(path).unwrap());
        }
        Err(_) => assert!(!meta.as_ref().is_ok_and(|m| m.is_dir())),
    }
    match fs.read(path) {
        Ok(bytes) => assert_eq!(bytes.len() as u64, meta.as_ref().unwrap().len()),
        Err(_) => assert!(!meta.as_ref().is_ok_and(|m| m.is_file())),
    }
    let _ = fs.read_link(path);
    // Writes through the same path must not panic either, and must keep the tree readable.
    let _ = fs.write(path, "x");
    let _ = fs.create_dir_all(path);
    let _ = fs.rename(path, "/moved");
    let _ = fs.remove_dir_all(path);
    let n: u64 = fs
        .walk("/")
        .unwrap()
        .map(|(_, d, f)| (d.len() + f.len()) as u64)
        .sum();
    let s = fs.stats();
    assert_eq!(
        n,
        s.files + s.dirs + s.symlinks - 1,
        "walk lists every node once"
    );
}
