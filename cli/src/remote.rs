//! `memfs --remote URL <command>`: [`RemoteBackend`], the CLI's [`Backend`] over a
//! [`RemoteFs`] connected to a `memfs serve` (or any `FsServer`).
//!
//! Every operation the remote API has maps onto one call; `find` and `grep` walk the tree here
//! (one streamed `walk` of one version of the tree, and for `grep` one `read` per file) with the
//! local matching rules. What the API lacks (JSON dump/load, host import/export, emptying the
//! tree) fails with an `Unsupported` error saying `... is not supported with --remote`. Nothing here reads or writes the local
//! state.

use std::io;
use std::path::Path;

use memfs::{DirEntry, FileType, Stats};
use memfs_grpc::RemoteFs;

use super::backend::{delegate_to_fs, Backend, Progress, SnapshotInfo};

/// The CLI's backend on a remote filesystem.
pub struct RemoteBackend {
    fs: RemoteFs,
}

impl RemoteBackend {
    /// Connects to `url`, sending `token` with every call.
    pub fn connect(
        url: &str,
        token: Option<&str>,
        tls: &memfs_grpc::ClientTls,
    ) -> io::Result<Self> {
        Ok(RemoteBackend {
            fs: RemoteFs::connect_tls(url, token, tls)?,
        })
    }
}

impl RemoteBackend {
    /// Every non-directory below `start` (symlinks to directories excluded, as the local walk
    /// lists them as directories without entering them), with its path relative to `start`.
    fn walk_files(&self, start: &str) -> io::Result<Vec<(String, DirEntry)>> {
        let top = memfs::VPath::parse_str(start)?.as_string();
        let prefix = if top == "/" { top } else { format!("{top}/") };
        let mut out = Vec::new();
        for e in self.fs.walk_entries(start)? {
            let rel = match e.path().strip_prefix(&prefix) {
                Some(rel) => rel.to_owned(),
                None => continue,
            };
            if !e.lists_as_dir() {
                out.push((rel, e));
            }
        }
        Ok(out)
    }
}

/// The error of an operation the remote API does not offer.
pub fn unsupported(what: &str) -> io::Error {
    memfs::error::err(
        io::ErrorKind::Unsupported,
        format!("{what} is not supported with --remote"),
    )
}

impl Backend for RemoteBackend {
    delegate_to_fs!();
    fn find(&self, pattern: &str, start: &str) -> io::Result<Vec<String>> {
        let pattern = memfs::FindPattern::new(pattern)?;
        let mut found: Vec<String> = self
            .walk_files(start)?
            .into_iter()
            .filter(|(rel, e)| {
                let rel_dir = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
                pattern.is_match(&e.file_name(), rel_dir, || e.path())
            })
            .map(|(_, e)| e.path())
            .collect();
        found.sort_unstable();
        Ok(found)
    }
    fn grep(&self, text: &str, start: &str) -> io::Result<Vec<String>> {
        let finder = memchr::memmem::Finder::new(text.as_bytes());
        let mut found = Vec::new();
        for (_, e) in self.walk_files(start)? {
            if e.file_type()? != FileType::File {
                continue;
            }
            match self.fs.read(e.path()) {
                Ok(data) if finder.find(&data).is_some() => found.push(e.path()),
                Ok(_) => {}
                // Removed meanwhile by another client: not a match.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        found.sort_unstable();
        Ok(found)
    }
    fn dump_json(&self, _path: &str) -> io::Result<String> {
        Err(unsupported("dump"))
    }
    fn load_json(&self, _text: &str) -> io::Result<()> {
        Err(unsupported("load"))
    }
    fn reset(&self, _limits: memfs::Limits) -> io::Result<()> {
        Err(unsupported("init"))
    }
    fn import_host(&self, _: &Path, _: &str, _: bool, _: Progress) -> io::Result<u64> {
        Err(unsupported("import"))
    }
    fn export_host(&self, _: &str, _: &Path, _: bool, _: Progress) -> io::Result<u64> {
        Err(unsupported("export"))
    }
    fn snapshot(&self, name: &str) -> io::Result<()> {
        memfs::check_snapshot_name(name)?;
        self.fs.snapshot(Some(name)).map(drop)
    }
    fn delete_snapshot(&self, name: &str) -> io::Result<()> {
        self.fs.drop_snapshot(name)
    }
    fn snapshots(&self) -> io::Result<Vec<SnapshotInfo>> {
        Ok(self
            .fs
            .snapshot_stats()?
            .into_iter()
            .map(|(name, st)| SnapshotInfo {
                name,
                files: st.files,
                dirs: st.dirs,
                logical_bytes: st.logical_bytes,
            })
            .collect())
    }
    fn restore(&self, name: &str) -> io::Result<()> {
        self.fs.restore(name)
    }
    fn diff(&self, from: &str, to: Option<&str>) -> io::Result<Vec<memfs::Change>> {
        self.fs.diff(from, to)
    }
    fn watch(
        &self,
        prefix: &str,
        on: &mut dyn FnMut(memfs::Event) -> io::Result<()>,
    ) -> io::Result<()> {
        for event in self.fs.watch(prefix)? {
            on(event?)?;
        }
        Ok(())
    }
    fn usage(&self) -> io::Result<Stats> {
        self.fs.stats()
    }
}
