//! Search over one version of the tree: glob `find` and content `search_content`.
//!
//! A small sequential version (the parallel one lives on another branch and replaces this file
//! at merge time, keeping these two signatures). It only reads the current root.

use std::io;
use std::path::Path;

use crate::fs::MemFs;
use crate::path::{join_str, VPath};

impl MemFs {
    /// Paths of the files and directories under `start` whose path relative to `start` matches
    /// the glob `pattern` (`*` stays within a name, `**/` crosses directories); sorted.
    pub fn find(&self, pattern: &str, start: impl AsRef<Path>) -> io::Result<Vec<String>> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| crate::error::invalid_input(format!("bad glob pattern: {e}")))?
            .compile_matcher();
        let start = VPath::parse(start)?;
        let mut out = Vec::new();
        for (dir, dirs, files) in self.walk(start.as_string())? {
            let base = start.as_string();
            for name in dirs.iter().chain(files.iter()) {
                let full = join_str(&dir, name);
                let rel = full[base.len()..].trim_start_matches('/');
                if glob.is_match(rel) || (!pattern.contains('/') && glob.is_match(name)) {
                    out.push(full);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Paths of the files under `start` whose content contains `text` (optionally only files
    /// whose extension is in `extensions`); sorted.
    pub fn search_content(
        &self,
        text: &str,
        extensions: Option<&[&str]>,
        start: impl AsRef<Path>,
    ) -> io::Result<Vec<String>> {
        let needle = text.as_bytes();
        let start = VPath::parse(start)?;
        let mut out = Vec::new();
        for (dir, _, files) in self.walk(start.as_string())? {
            for name in files {
                if let Some(exts) = extensions {
                    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
                    if !exts.iter().any(|e| e.trim_start_matches('.') == ext) {
                        continue;
                    }
                }
                let full = join_str(&dir, &name);
                let Ok(data) = self.read(&full) else { continue };
                if needle.is_empty() || data.windows(needle.len()).any(|w| w == needle) {
                    out.push(full);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
