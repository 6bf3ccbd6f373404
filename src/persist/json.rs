//! JSON import/export compatible with the original memfs state file.
//!
//! [`dump`] writes `{"files": {"/p": {"type": "text"|"binary", "content": "..."}}, "dirs": [...]}`
//! (binary contents base64, standard alphabet; symlinks as `{"type": "symlink", "target": ...}`;
//! special files as `{"type": "fifo"|"socket"|"char"|"block", "mode": N, "rdev": N}`; a node
//! with several names in the dumped subtree once, under its first name in path order, and every
//! other name as `{"type": "link", "target": "/first/name"}`, a hard link).
//! [`load_str`] accepts that and the original README's plain form
//! `{"files": {"/p": "text"}, "dirs": ["/"]}`, and replaces the whole tree in one atomic publish:
//! the input is checked completely first, so a bad document changes nothing.
//!
//! This module only reads the tree and publishes through `MemFs`'s commit protocol; it owns no
//! state.

use std::io;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::blob::Content;
use crate::error;
use crate::fs::MemFs;
use crate::path::{join_str, VPath};
use crate::tree::node::Node;
use crate::tree::ops::{self, Create, Root, WriteData};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The subtree at `start` (a directory or a single file) as a JSON value.
pub fn dump_value(fs: &MemFs, start: impl AsRef<Path>) -> io::Result<Value> {
    fs.check_admin("a JSON dump")?;
    let start = VPath::parse(start)?;
    let root = fs.load_root();
    let mut files = Map::new();
    let mut dirs = Vec::new();
    let top = ops::stat(&root, &start, true)?;
    let top_path = ops::canonicalize(&root, &start)?;
    let mut stack: Vec<(String, Node)> = vec![(top_path, top)];
    // The names of each node with hard links, by inode number.
    let mut linked: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    while let Some((path, node)) = stack.pop() {
        if !node.is_dir() && node.meta().nlink > 1 {
            linked
                .entry(node.meta().ino)
                .or_default()
                .push(path.clone());
        }
        match node {
            Node::Dir(d) => {
                for (name, child) in d.children()?.iter().rev() {
                    stack.push((join_str(&path, name), child.clone()));
                }
                dirs.push(Value::String(path));
            }
            Node::File(f) => {
                let bytes = f.content.to_vec()?;
                let entry = match String::from_utf8(bytes) {
                    Ok(text) => file_entry("text", text),
                    Err(e) => file_entry("binary", B64.encode(e.into_bytes())),
                };
                files.insert(path, entry);
            }
            Node::Symlink(s) => {
                let mut m = Map::new();
                m.insert("type".into(), "symlink".into());
                m.insert("target".into(), s.target.clone().into());
                files.insert(path, Value::Object(m));
            }
            Node::Special(s) => {
                let mut m = Map::new();
                m.insert("type".into(), special_name(s.kind).into());
                m.insert("mode".into(), s.meta.mode.into());
                m.insert("rdev".into(), s.rdev.into());
                files.insert(path, Value::Object(m));
            }
        }
    }
    for mut names in linked.into_values() {
        names.sort();
        for name in &names[1..] {
            let mut m = Map::new();
            m.insert("type".into(), "link".into());
            m.insert("target".into(), names[0].clone().into());
            files.insert(name.clone(), Value::Object(m));
        }
    }
    dirs.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    let mut out = Map::new();
    out.insert("files".into(), Value::Object(files));
    out.insert("dirs".into(), Value::Array(dirs));
    Ok(Value::Object(out))
}

fn file_entry(kind: &str, content: String) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), kind.into());
    m.insert("content".into(), content.into());
    Value::Object(m)
}

/// The subtree at `start` as pretty-printed JSON.
pub fn dump(fs: &MemFs, start: impl AsRef<Path>) -> io::Result<String> {
    let v = dump_value(fs, start)?;
    serde_json::to_string_pretty(&v).map_err(|e| error::invalid_data(e.to_string()))
}

enum Entry {
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to the node at this path (made once every other entry is there).
    Link(VPath),
    Special(crate::FileType, u32, u64),
}

const SPECIAL_NAMES: [(&str, crate::FileType); 4] = [
    ("fifo", crate::FileType::Fifo),
    ("socket", crate::FileType::Socket),
    ("char", crate::FileType::CharDevice),
    ("block", crate::FileType::BlockDevice),
];

fn special_name(kind: crate::FileType) -> &'static str {
    SPECIAL_NAMES
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("fifo", |(n, _)| n)
}

fn bad(msg: impl Into<String>) -> io::Error {
    error::invalid_data(format!("invalid memfs JSON: {}", msg.into()))
}

/// The directories and the file entries of a document.
type Parsed = (Vec<VPath>, Vec<(VPath, Entry)>);

/// Parses a JSON document in either accepted form, fully validated.
fn parse(text: &str) -> io::Result<Parsed> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Value::Object(top) = v else {
        return Err(bad("the document is not an object"));
    };
    let mut dirs = Vec::new();
    match top.get("dirs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for d in list {
                let s = d
                    .as_str()
                    .ok_or_else(|| bad("\"dirs\" holds a non-string"))?;
                dirs.push(VPath::parse_str(s).map_err(|e| bad(format!("dir {s:?}: {e}")))?);
            }
        }
        Some(_) => return Err(bad("\"dirs\" is not an array")),
    }
    let mut files = Vec::new();
    match top.get("files") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (p, v) in map {
                let path = VPath::parse_str(p).map_err(|e| bad(format!("file {p:?}: {e}")))?;
                if path.is_root() {
                    return Err(bad("\"/\" cannot be a file"));
                }
                files.push((path, entry(p, v)?));
            }
        }
        Some(_) => return Err(bad("\"files\" is not an object")),
    }
    Ok((dirs, files))
}

fn entry(p: &str, v: &Value) -> io::Result<Entry> {
    match v {
        Value::String(s) => Ok(Entry::File(s.clone().into_bytes())),
        Value::Object(m) => {
            let field = |name: &str| {
                m.get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{p}: missing string field {name:?}")))
            };
            match m.get("type").and_then(Value::as_str).unwrap_or("text") {
                "text" => Ok(Entry::File(field("content")?.as_bytes().to_vec())),
                "binary" => B64
                    .decode(field("content")?)
                    .map(Entry::File)
                    .map_err(|e| bad(format!("{p}: bad base64: {e}"))),
                "symlink" => {
                    let t = field("target")?;
                    if t.is_empty() || t.contains('\0') {
                        return Err(bad(format!("{p}: bad symlink target")));
                    }
                    Ok(Entry::Symlink(t.to_owned()))
                }
                "link" => {
                    let t = field("target")?;
                    VPath::parse_str(t)
                        .map(Entry::Link)
                        .map_err(|e| bad(format!("{p}: link target {t:?}: {e}")))
                }
                other => {
                    let Some((_, kind)) = SPECIAL_NAMES.iter().find(|(n, _)| *n == other) else {
                        return Err(bad(format!("{p}: unknown type {other:?}")));
                    };
                    let num = |name: &str| {
                        m.get(name)
                            .map_or(Some(0), Value::as_u64)
                            .ok_or_else(|| bad(format!("{p}: {name:?} is not a number")))
                    };
                    let mode = u32::try_from(num("mode")?)
                        .map_err(|_| bad(format!("{p}: \"mode\" out of range")))?;
                    Ok(Entry::Special(
                        *kind,
                        mode & crate::tree::node::PERMISSION_BITS,
                        num("rdev")?,
                    ))
                }
            }
        }
        _ => Err(bad(format!("{p}: expected a string or an object"))),
    }
}

/// Replaces the whole tree of `fs` by the one described by `text` (either accepted form), in
/// one atomic publish. Total: a malformed document is an `InvalidData` error and changes
/// nothing; an impossible one (a file under a file, ...) is the tree's error, also changing
/// nothing.
pub fn load_str(fs: &MemFs, text: &str) -> io::Result<()> {
    fs.check_admin("a JSON load")?;
    let (dirs, files) = parse(text)?;
    // Hash and store outside the commit loop.
    let files: Vec<(VPath, Entry, Option<Content>)> = files
        .into_iter()
        .map(|(p, e)| {
            let c = match &e {
                Entry::File(b) => Some(Content::from_bytes(fs.store(), b)),
                Entry::Symlink(_) | Entry::Special(..) | Entry::Link(_) => None,
            };
            (p, e, c)
        })
        .collect();
    fs.commit(|r, c| {
        *r = Root::empty();
        for d in &dirs {
            ops::create_dir_all(r, c, d)?;
        }
        for (p, e, content) in &files {
            let parent = p.parent();
            if !parent.is_root() {
                ops::create_dir_all(r, c, &parent)?;
            }
            match (e, content) {
                (Entry::Symlink(t), _) => ops::symlink(r, c, t, p)?,
                (Entry::Special(kind, mode, rdev), _) => ops::mknod(r, c, p, *kind, *mode, *rdev)?,
                (Entry::File(_), Some(content)) => {
                    ops::write_file(
                        r,
                        c,
                        p,
                        Create::IfMissing,
                        WriteData::Replace(content.clone()),
                    )?;
                }
                (Entry::File(_), None) | (Entry::Link(_), _) => {}
            }
        }
        for (p, e, _) in &files {
            if let Entry::Link(target) = e {
                ops::link(r, target, p)?;
            }
        }
        Ok(())
    })
}

/// Reads a JSON file and loads it (see [`load_str`]); errors name the file.
pub fn load_file(fs: &MemFs, path: &Path) -> io::Result<()> {
    let with_name = |e: io::Error| crate::error::err(e.kind(), format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(with_name)?;
    load_str(fs, &text).map_err(with_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_and_load_round_trip() {
        let fs = MemFs::new();
        fs.create_dir_all("/a/empty").unwrap();
        fs.write("/a/t.txt", "héllo").unwrap();
        fs.write("/a/b.bin", [0u8, 159, 146, 150]).unwrap();
        fs.symlink("t.txt", "/a/l").unwrap();
        let text = dump(&fs, "/").unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["files"]["/a/t.txt"]["type"], "text");
        assert_eq!(v["files"]["/a/b.bin"]["type"], "binary");
        assert_eq!(v["dirs"], serde_json::json!(["/", "/a", "/a/empty"]));
        let back = MemFs::new();
        back.write("/old", "gone after load").unwrap();
        load_str(&back, &text).unwrap();
        assert!(!back.exists("/old"));
        assert_eq!(back.read("/a/b.bin").unwrap(), [0u8, 159, 146, 150]);
        assert_eq!(back.read_to_string("/a/l").unwrap(), "héllo");
        assert!(back.isdir("/a/empty"));
        assert_eq!(dump(&back, "/").unwrap(), text);
    }

    #[test]
    fn plain_form_of_the_original_readme_loads() {
        let fs = MemFs::new();
        load_str(&fs, r#"{"files": {"/x/y.txt": "hi"}, "dirs": ["/"]}"#).unwrap();
        assert_eq!(fs.read_to_string("/x/y.txt").unwrap(), "hi");
    }

    #[test]
    fn bad_documents_change_nothing() {
        let fs = MemFs::new();
        fs.write("/keep", "1").unwrap();
        for doc in [
            "",
            "[]",
            "{\"files\": 3}",
            "{\"files\": {\"/a\": 1}}",
            "{\"files\": {\"/a\": {\"type\": \"binary\", \"content\": \"!!\"}}}",
            "{\"files\": {\"/a\": \"x\", \"/a/b\": \"y\"}}",
            "{\"dirs\": [\"\"]}",
        ] {
            assert!(load_str(&fs, doc).is_err(), "{doc}");
            assert_eq!(fs.read_to_string("/keep").unwrap(), "1");
        }
    }
}
