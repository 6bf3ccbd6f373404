//! Copying between a directory of the host filesystem and a memfs: `import` (host -> memfs)
//! and `export` (memfs -> host). Regular files, directories and symlinks are copied; other host
//! file types are skipped. Names that are not UTF-8 are refused with an error naming them.
//!
//! Both walk iteratively (no recursion) and report progress through a callback
//! `(done, total)`, counted in files; the CLI turns it into a progress bar. This module uses only
//! `MemFs`'s public API.

use std::io;
use std::path::{Path, PathBuf};

use crate::fs::MemFs;
use crate::path::{join_str, VPath};

fn named(path: &Path, e: io::Error) -> io::Error {
    crate::error::err(e.kind(), format!("{}: {e}", path.display()))
}

enum Item {
    Dir,
    File,
    Symlink(String),
}

/// Whether copying may replace files that exist at the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace them (as `cp`).
    Replace,
    /// Refuse, naming the first one, before anything is copied (as `cp -n` users expect, but
    /// an error rather than a silent skip).
    Refuse,
}

fn exists_error(path: impl std::fmt::Display) -> io::Error {
    crate::error::err(
        io::ErrorKind::AlreadyExists,
        format!("{path} already exists (nothing was copied; --force replaces existing files)"),
    )
}

/// Copies the contents of the host directory `host` into the memfs directory `vpath` (created
/// if missing); files that exist there are replaced or refused as `existing` says. Returns the
/// number of files and symlinks copied.
pub fn import(
    fs: &MemFs,
    host: &Path,
    vpath: &str,
    existing: Existing,
    progress: &mut dyn FnMut(u64, u64),
) -> io::Result<u64> {
    let top = VPath::parse(vpath)?.as_string();
    let meta = std::fs::metadata(host).map_err(|e| named(host, e))?;
    if !meta.is_dir() {
        return Err(crate::error::not_a_directory(host.display()));
    }
    // Scan first, so the total is known and nothing is changed if the scan fails.
    let mut items: Vec<(PathBuf, String, Item)> = Vec::new();
    let mut stack = vec![(host.to_path_buf(), top.clone())];
    while let Some((hdir, vdir)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&hdir)
            .map_err(|e| named(&hdir, e))?
            .collect::<io::Result<_>>()
            .map_err(|e| named(&hdir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let hpath = entry.path();
            let name = entry.file_name().into_string().map_err(|_| {
                crate::error::invalid_data(format!("name is not UTF-8: {}", hpath.display()))
            })?;
            let vp = join_str(&vdir, &name);
            let ft = entry.file_type().map_err(|e| named(&hpath, e))?;
            if ft.is_dir() {
                items.push((hpath.clone(), vp.clone(), Item::Dir));
                stack.push((hpath, vp));
            } else if ft.is_file() {
                items.push((hpath, vp, Item::File));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&hpath).map_err(|e| named(&hpath, e))?;
                let target = target.into_os_string().into_string().map_err(|_| {
                    crate::error::invalid_data(format!(
                        "symlink target is not UTF-8: {}",
                        hpath.display()
                    ))
                })?;
                items.push((hpath, vp, Item::Symlink(target)));
            }
        }
    }
    if existing == Existing::Refuse {
        let taken = items.iter().find(|(_, vp, k)| {
            !matches!(k, Item::Dir) && fs.symlink_metadata(vp).is_ok_and(|m| !m.is_dir())
        });
        if let Some((_, vp, _)) = taken {
            return Err(exists_error(vp));
        }
    }
    let total = items
        .iter()
        .filter(|(_, _, k)| !matches!(k, Item::Dir))
        .count() as u64;
    progress(0, total);
    fs.create_dir_all(&top)?;
    let mut done = 0;
    for (hpath, vp, kind) in items {
        let counts = !matches!(kind, Item::Dir);
        match kind {
            Item::Dir => fs.create_dir_all(&vp)?,
            Item::File => {
                let data = std::fs::read(&hpath).map_err(|e| named(&hpath, e))?;
                fs.write(&vp, data)?;
            }
            Item::Symlink(target) => {
                if fs.symlink_metadata(&vp).is_ok_and(|m| !m.is_dir()) {
                    fs.remove_file(&vp)?;
                }
                fs.symlink(target, &vp)?;
            }
        }
        if counts {
            done += 1;
            progress(done, total);
        }
    }
    Ok(done)
}

/// Copies the memfs directory (or file) `vpath` to the host path `host` (directories are
/// created); host files that exist are replaced or refused as `existing` says. Returns the
/// number of files and symlinks written.
pub fn export(
    fs: &MemFs,
    vpath: &str,
    host: &Path,
    existing: Existing,
    progress: &mut dyn FnMut(u64, u64),
) -> io::Result<u64> {
    let snap = fs.snapshot(); // one consistent version, whatever happens meanwhile
    let top = snap.canonicalize(vpath)?;
    let refuse = |p: &Path| {
        let taken =
            existing == Existing::Refuse && std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir());
        if taken {
            Err(exists_error(p.display()))
        } else {
            Ok(())
        }
    };
    if snap.isfile(&top) {
        refuse(host)?;
        progress(0, 1);
        std::fs::write(host, snap.read(&top)?).map_err(|e| named(host, e))?;
        progress(1, 1);
        return Ok(1);
    }
    let mut items: Vec<(String, PathBuf, Item)> = Vec::new();
    let mut stack = vec![(top.clone(), host.to_path_buf())];
    while let Some((vdir, hdir)) = stack.pop() {
        for entry in snap.read_dir(&vdir)? {
            let hpath = hdir.join(entry.file_name());
            let vp = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                items.push((vp.clone(), hpath.clone(), Item::Dir));
                stack.push((vp, hpath));
            } else if ft.is_symlink() {
                let target = snap.read_link(&vp)?;
                items.push((vp, hpath, Item::Symlink(target)));
            } else {
                items.push((vp, hpath, Item::File));
            }
        }
    }
    for (_, hpath, kind) in &items {
        if !matches!(kind, Item::Dir) {
            refuse(hpath)?;
        }
    }
    let total = items
        .iter()
        .filter(|(_, _, k)| !matches!(k, Item::Dir))
        .count() as u64;
    progress(0, total);
    std::fs::create_dir_all(host).map_err(|e| named(host, e))?;
    let mut done = 0;
    for (vp, hpath, kind) in items {
        let counts = !matches!(kind, Item::Dir);
        match kind {
            Item::Dir => std::fs::create_dir_all(&hpath).map_err(|e| named(&hpath, e))?,
            Item::File => {
                std::fs::write(&hpath, snap.read(&vp)?).map_err(|e| named(&hpath, e))?;
            }
            Item::Symlink(target) => {
                if std::fs::symlink_metadata(&hpath).is_ok() {
                    std::fs::remove_file(&hpath).map_err(|e| named(&hpath, e))?;
                }
                #[cfg(unix)]
                std::os::unix::fs::symlink(&target, &hpath).map_err(|e| named(&hpath, e))?;
                #[cfg(not(unix))]
                let _ = target;
            }
        }
        if counts {
            done += 1;
            progress(done, total);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_then_export_reproduces_the_tree() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("a/b")).unwrap();
        std::fs::write(src.path().join("a/b/x.txt"), "x").unwrap();
        std::fs::write(src.path().join("top.bin"), [1u8, 2, 3]).unwrap();
        std::os::unix::fs::symlink("a/b/x.txt", src.path().join("ln")).unwrap();
        let fs = MemFs::new();
        let mut calls = Vec::new();
        let n = import(&fs, src.path(), "/in", Existing::Replace, &mut |d, t| {
            calls.push((d, t))
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(calls.first(), Some(&(0, 3)));
        assert_eq!(calls.last(), Some(&(3, 3)));
        assert_eq!(fs.read_to_string("/in/a/b/x.txt").unwrap(), "x");
        assert_eq!(fs.read_to_string("/in/ln").unwrap(), "x");
        let dst = tempfile::tempdir().unwrap();
        let out = dst.path().join("out");
        assert_eq!(
            export(&fs, "/in", &out, Existing::Replace, &mut |_, _| {}).unwrap(),
            3
        );
        assert_eq!(std::fs::read(out.join("top.bin")).unwrap(), [1u8, 2, 3]);
        assert_eq!(std::fs::read_to_string(out.join("ln")).unwrap(), "x");
        assert!(std::fs::symlink_metadata(out.join("ln"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn import_of_a_missing_dir_names_it() {
        let fs = MemFs::new();
        let e = import(
            &fs,
            Path::new("/no/such/dir"),
            "/x",
            Existing::Replace,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/no/such/dir"));
    }
}
