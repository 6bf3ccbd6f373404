//! Tree-wide reads run in parallel with rayon: `par_walk`, glob `find` and `search_content`.
//!
//! Each function takes one `&Root`, i.e. one published version of the tree, so a call sees one
//! consistent state however many writers commit meanwhile (a `MemFs` call pins the version
//! current when it starts; a `Snapshot` call reads the snapshot's). The traversal splits the
//! work per directory and, in large directories, per batch of entries, with rayon's work
//! stealing; results are put back in a deterministic order (walk order for `par_walk`, sorted
//! for `find` and `search_content`). This module only reads: it never publishes a root, and
//! it must not touch the tree's representation (it goes through `view::split_dir` for the
//! listing rules, so `par_walk` and `walk` cannot disagree).
//!
//! ## How `find` matches
//! Patterns are `globset` globs with `literal_separator` on: `*`, `?` and `[...]` never match
//! `/`, `**` matches any number of whole components. The pattern is matched against:
//! - the file **name** when it has no `/` (`"*.txt"` finds `.txt` files at any depth below
//!   `start`, like `pathlib.Path.rglob`);
//! - the path **relative to `start`** when it contains a `/` but does not start with one
//!   (`"sub/*.txt"` only directly in `start/sub`; `"**/data_*.json"` at any depth);
//! - the **absolute** path when it starts with `/` (`"/data/**/*.csv"`).
//!
//! Only the entries `walk` lists under filenames are candidates (regular files, and symlinks
//! that do not point to a directory); results are absolute paths, sorted.
//!
//! `search_content` looks at regular files only (symlinks are not followed, so no file is
//! reported twice) with `memchr::memmem`'s SIMD finder, chunk by chunk without copying the
//! file, checking across chunk boundaries.

use std::io;

use globset::{GlobBuilder, GlobMatcher};
use memchr::memmem::Finder;
use rayon::prelude::*;

use crate::blob::{Content, CHUNK_SIZE};
use crate::error;
use crate::path::{join_str, Name, VPath};
use crate::tree::node::{Dir, Node};
use crate::tree::ops::{self, Root};
use crate::view::{lists_as_dir, split_dir};

/// One `os.walk` item: `(dirpath, dirnames, filenames)`.
pub type WalkItem = (String, Vec<String>, Vec<String>);

/// Directories with more entries than this have their entries checked in parallel batches.
const PAR_ENTRIES_MIN: usize = 256;

/// `walk(top)` collected, computed in parallel: the same items in the same (top-down, sorted)
/// order.
pub(crate) fn par_walk(root: &Root, top: &VPath) -> io::Result<Vec<WalkItem>> {
    let (dir, path) = ops::list_dir(root, top)?;
    walk_dir(root, path, &dir)
}

/// Fails where a directory of a remote store cannot be fetched.
fn walk_dir(root: &Root, path: String, dir: &Dir) -> io::Result<Vec<WalkItem>> {
    let (dirs, files, sub) = split_dir(root, &path, dir)?;
    let mut out = vec![(path, dirs, files)];
    match sub.len() {
        0 => {}
        1 => {
            let (p, d) = sub.into_iter().next().expect("one subdirectory");
            out.extend(walk_dir(root, p, &d)?);
        }
        _ => {
            let nested: Vec<Vec<WalkItem>> = sub
                .into_par_iter()
                .map(|(p, d)| walk_dir(root, p, &d))
                .collect::<io::Result<_>>()?;
            out.reserve(nested.iter().map(Vec::len).sum());
            for items in nested {
                out.extend(items);
            }
        }
    }
    Ok(out)
}

/// What a visitor is told about one non-directory entry.
struct Entry<'a> {
    /// Absolute path of the directory holding it.
    dir: &'a str,
    /// Path of that directory relative to the start (`""` for the start itself).
    rel_dir: &'a str,
    name: &'a Name,
    node: &'a Node,
}

impl Entry<'_> {
    fn abs_path(&self) -> String {
        join_str(self.dir, self.name)
    }
}

/// Calls `visit` on every non-directory entry below `dir` (in parallel) and collects the
/// `Some` answers, in no particular order. Real directories are descended into; symlinks are
/// handed to `visit`, never followed. Fails where a directory of a remote store cannot be
/// fetched.
fn visit_tree<T, F>(dir: &Dir, abs: &str, rel: &str, visit: &F) -> io::Result<Vec<T>>
where
    T: Send,
    F: Fn(&Entry) -> Option<T> + Sync,
{
    let mut subdirs: Vec<(&Name, &Dir)> = Vec::new();
    let mut others: Vec<(&Name, &Node)> = Vec::new();
    for (name, node) in dir.children()?.iter() {
        match node {
            Node::Dir(d) => subdirs.push((name, d)),
            _ => others.push((name, node)),
        }
    }
    let check = |&(name, node): &(&Name, &Node)| {
        visit(&Entry {
            dir: abs,
            rel_dir: rel,
            name,
            node,
        })
    };
    let mut out: Vec<T> = if others.len() >= PAR_ENTRIES_MIN {
        others
            .par_iter()
            .with_min_len(PAR_ENTRIES_MIN / 4)
            .filter_map(check)
            .collect()
    } else {
        others.iter().filter_map(check).collect()
    };
    let descend = |&(name, d): &(&Name, &Dir)| {
        let sub_abs = join_str(abs, name);
        let sub_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        visit_tree(d, &sub_abs, &sub_rel, visit)
    };
    if subdirs.len() == 1 {
        out.extend(descend(&subdirs[0])?);
    } else if !subdirs.is_empty() {
        let nested: Vec<Vec<T>> = subdirs.par_iter().map(descend).collect::<io::Result<_>>()?;
        for v in nested {
            out.extend(v);
        }
    }
    Ok(out)
}

/// Which text a `find` pattern is matched against (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchOn {
    Name,
    Relative,
    Absolute,
}

/// A compiled `find` pattern: the one glob rule of memfs (`MemFs::find`, `Snapshot::find` and
/// the CLI's `find`, local or `--remote`). `*`, `?`, `[...]` never match `/`, `**` matches
/// across directories, `\` escapes; an absolute pattern (`/data/**/*.csv`) is matched against
/// the absolute path, one with a `/` against the path relative to the start directory, any other
/// against the file name alone.
///
/// ```
/// let p = memfs::FindPattern::new("raw/*.csv")?;
/// assert!(p.is_match("a.csv", "raw", || "/data/raw/a.csv".into()));
/// assert!(!p.is_match("a.csv", "raw/x", || "/data/raw/x/a.csv".into()));
/// assert!(memfs::FindPattern::new("[").is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FindPattern {
    matcher: GlobMatcher,
    on: MatchOn,
}

impl FindPattern {
    /// Compiles `pattern`; an invalid one is `InvalidInput` naming it.
    pub fn new(pattern: &str) -> io::Result<Self> {
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| error::invalid_input(format!("invalid glob pattern {pattern:?}: {e}")))?;
        let on = if pattern.starts_with('/') {
            MatchOn::Absolute
        } else if pattern.contains('/') {
            MatchOn::Relative
        } else {
            MatchOn::Name
        };
        Ok(FindPattern { matcher, on })
    }

    /// Whether the entry `name`, in the directory `rel_dir` relative to the start of the search
    /// (`""` for the start itself), whose absolute path `abs` gives, matches. `abs` is called
    /// only for absolute patterns.
    pub fn is_match(&self, name: &str, rel_dir: &str, abs: impl FnOnce() -> String) -> bool {
        match self.on {
            MatchOn::Name => self.matcher.is_match(name),
            MatchOn::Relative if rel_dir.is_empty() => self.matcher.is_match(name),
            MatchOn::Relative => self.matcher.is_match(format!("{rel_dir}/{name}")),
            MatchOn::Absolute => self.matcher.is_match(abs()),
        }
    }
}

/// Files (walk's filenames) below `start` matching `pattern`; absolute paths, sorted.
pub(crate) fn find(root: &Root, pattern: &str, start: &VPath) -> io::Result<Vec<String>> {
    let pattern = FindPattern::new(pattern)?;
    let (dir, abs) = ops::list_dir(root, start)?;
    let mut found = visit_tree(&dir, &abs, "", &|e: &Entry| {
        // `visit_tree` shows no directories here; a symlink is a file to `find` unless it
        // lists as a directory (the walk rule), resolved only for entries that match.
        let hit = pattern.is_match(e.name.as_str(), e.rel_dir, || e.abs_path())
            && !lists_as_dir(root, e.dir, e.name, e.node);
        hit.then(|| e.abs_path())
    })?;
    found.par_sort_unstable();
    Ok(found)
}

/// Normalises `extensions` to `.ext` suffixes; an empty one is `InvalidInput`.
fn suffixes(extensions: Option<&[&str]>) -> io::Result<Option<Vec<String>>> {
    let Some(exts) = extensions else {
        return Ok(None);
    };
    exts.iter()
        .map(|e| {
            let bare = e.strip_prefix('.').unwrap_or(e);
            if bare.is_empty() {
                Err(error::invalid_input(format!(
                    "invalid file extension: {e:?}"
                )))
            } else {
                Ok(format!(".{bare}"))
            }
        })
        .collect::<io::Result<Vec<_>>>()
        .map(Some)
}

/// Regular files below `start` whose content contains `text` (and whose name ends with one of
/// `extensions`, given with or without the dot, if any); absolute paths, sorted. An empty
/// `text` matches every file.
pub(crate) fn search_content(
    root: &Root,
    text: &str,
    extensions: Option<&[&str]>,
    start: &VPath,
) -> io::Result<Vec<String>> {
    let suffixes = suffixes(extensions)?;
    let finder = Finder::new(text.as_bytes());
    let (dir, abs) = ops::list_dir(root, start)?;
    // The first error reading a content (a chunk a remote store failed to give).
    let failed: std::sync::Mutex<Option<io::Error>> = std::sync::Mutex::new(None);
    let mut found = visit_tree(&dir, &abs, "", &|e: &Entry| {
        let Node::File(f) = e.node else { return None };
        if let Some(sfx) = &suffixes {
            if !sfx.iter().any(|s| e.name.ends_with(s.as_str())) {
                return None;
            }
        }
        match content_contains(&f.content, &finder) {
            Ok(hit) => hit.then(|| e.abs_path()),
            Err(err) => {
                let mut first = failed.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert(err);
                None
            }
        }
    })?;
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    found.par_sort_unstable();
    Ok(found)
}

/// Whether `content` contains the finder's needle, searching chunk by chunk (no copy of the
/// file) plus the windows that straddle two chunks.
pub(crate) fn content_contains(content: &Content, finder: &Finder) -> io::Result<bool> {
    let needle = finder.needle().len();
    match content {
        Content::Inline(bytes) => Ok(finder.find(bytes).is_some()),
        Content::Chunks(_) if needle > CHUNK_SIZE => Ok(finder.find(&content.to_vec()?).is_some()),
        Content::Chunks(_) => {
            let chunks = content.chunk_refs();
            let mut window = Vec::with_capacity(2 * needle);
            for (i, chunk) in chunks.iter().enumerate() {
                let data = chunk.bytes()?;
                if finder.find(&data).is_some() {
                    return Ok(true);
                }
                if needle > 1 {
                    if let Some(next) = chunks.get(i + 1) {
                        let next = next.bytes()?;
                        window.clear();
                        window.extend_from_slice(&data[data.len().saturating_sub(needle - 1)..]);
                        window.extend_from_slice(&next[..next.len().min(needle - 1)]);
                        if finder.find(&window).is_some() {
                            return Ok(true);
                        }
                    }
                }
            }
            Ok(false)
        }
    }
}

/// [`find`] for a handle with credentials: over the walk they may do (directories they may not
/// list are left out), one thread.
pub(crate) fn find_checked(
    walk: crate::Walk,
    pattern: &str,
    start: &VPath,
) -> io::Result<Vec<String>> {
    let pattern = FindPattern::new(pattern)?;
    let top = start.as_string();
    let mut found = Vec::new();
    for (dir, _, files) in walk {
        let rel = dir
            .strip_prefix(top.as_str())
            .unwrap_or(&dir)
            .trim_start_matches('/')
            .to_string();
        for name in files {
            if pattern.is_match(&name, &rel, || join_str(&dir, &name)) {
                found.push(join_str(&dir, &name));
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// [`search_content`] for a handle with credentials: the files of the walk they may do that
/// they may read, one thread.
pub(crate) fn search_checked<S: crate::view::Source>(
    s: &S,
    walk: crate::Walk,
    text: &str,
    extensions: Option<&[&str]>,
) -> io::Result<Vec<String>> {
    let suffixes = suffixes(extensions)?;
    let finder = Finder::new(text.as_bytes());
    let mut found = Vec::new();
    for (dir, _, files) in walk {
        for name in files {
            if let Some(sfx) = &suffixes {
                if !sfx.iter().any(|x| name.ends_with(x.as_str())) {
                    continue;
                }
            }
            let path = join_str(&dir, &name);
            // Only regular files it may read (a symlink is not followed, as the walk lists it).
            let Ok(meta) = crate::view::metadata_at(s, std::path::Path::new(&path), false) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if let Ok(bytes) = crate::view::read_at(s, std::path::Path::new(&path)) {
                if finder.find(&bytes).is_some() {
                    found.push(path);
                }
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Generates `find`, `search_content` and `par_walk` as inherent methods of `$ty`, which must
/// have `fn with_root<R>(&self, f: impl FnOnce(&Root) -> R) -> R`.
macro_rules! par_api {
    ($ty:ty) => {
        impl $ty {
            /// Files below `start` matching the glob `pattern` (see the README for how a
            /// pattern matches: by name, relative to `start`, or absolute); absolute paths,
            /// sorted. Runs in parallel over one consistent version of the tree. An invalid
            /// pattern is `InvalidInput`.
            pub fn find(
                &self,
                pattern: &str,
                start: impl AsRef<std::path::Path>,
            ) -> std::io::Result<Vec<String>> {
                let start = $crate::path::VPath::parse(start)?;
                if $crate::view::Source::credentials(self).is_some() {
                    let walk = self.walk(start.as_string())?;
                    return $crate::par::find_checked(walk, pattern, &start);
                }
                self.with_root(|r| $crate::par::find(r, pattern, &start))
            }

            /// Regular files below `start` containing `text`, optionally only those whose name
            /// ends with one of `extensions` (`"txt"` or `".txt"`); absolute paths, sorted.
            /// Runs in parallel over one consistent version of the tree.
            pub fn search_content(
                &self,
                text: &str,
                extensions: Option<&[&str]>,
                start: impl AsRef<std::path::Path>,
            ) -> std::io::Result<Vec<String>> {
                let start = $crate::path::VPath::parse(start)?;
                if $crate::view::Source::credentials(self).is_some() {
                    let walk = self.walk(start.as_string())?;
                    return $crate::par::search_checked(self, walk, text, extensions);
                }
                self.with_root(|r| $crate::par::search_content(r, text, extensions, &start))
            }

            /// The same items as `walk(top).collect()`, in the same order, computed in
            /// parallel over one consistent version of the tree.
            pub fn par_walk(
                &self,
                top: impl AsRef<std::path::Path>,
            ) -> std::io::Result<Vec<(String, Vec<String>, Vec<String>)>> {
                let top = $crate::path::VPath::parse(top)?;
                if $crate::view::Source::credentials(self).is_some() {
                    // The checked walk: what these credentials may list.
                    return Ok(self.walk(top.as_string())?.collect());
                }
                self.with_root(|r| $crate::par::par_walk(r, &top))
            }
        }
    };
}

par_api!(crate::fs::MemFs);
par_api!(crate::snapshot::Snapshot);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFs;

    #[test]
    fn content_search_across_chunk_boundaries() {
        let fs = MemFs::new();
        let mut data = vec![b'x'; 3 * CHUNK_SIZE];
        // Straddles the first chunk boundary.
        data[CHUNK_SIZE - 3..CHUNK_SIZE + 3].copy_from_slice(b"NEEDLE");
        fs.write("/big", &data).unwrap();
        assert_eq!(fs.search_content("NEEDLE", None, "/").unwrap(), ["/big"]);
        assert!(fs.search_content("xNEEDLEy", None, "/").unwrap().is_empty());
        assert_eq!(fs.search_content("xN", None, "/").unwrap(), ["/big"]);
    }

    #[test]
    fn pattern_kinds() {
        let fs = MemFs::new();
        fs.create_dir_all("/s/sub/deep").unwrap();
        for p in [
            "/s/a.txt",
            "/s/sub/b.txt",
            "/s/sub/deep/c.txt",
            "/s/sub/d.md",
        ] {
            fs.write(p, "x").unwrap();
        }
        assert_eq!(
            fs.find("*.txt", "/s").unwrap(),
            ["/s/a.txt", "/s/sub/b.txt", "/s/sub/deep/c.txt"]
        );
        assert_eq!(fs.find("sub/*.txt", "/s").unwrap(), ["/s/sub/b.txt"]);
        assert_eq!(
            fs.find("**/*.txt", "/s/sub").unwrap(),
            ["/s/sub/b.txt", "/s/sub/deep/c.txt"]
        );
        assert_eq!(fs.find("/s/*/d.*", "/").unwrap(), ["/s/sub/d.md"]);
        assert_eq!(fs.find("a.txt", "/").unwrap(), ["/s/a.txt"]);
    }
}
