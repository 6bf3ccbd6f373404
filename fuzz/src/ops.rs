//! Fuzz harness: random operation sequences against a reference model (redb-style).
//!
//! The input bytes drive `arbitrary` to a list of operations over a tiny name space (`a`, `b`,
//! `c`, `.`, `..`, trailing `/`). Each runs on a `MemFs` and on a `BTreeMap` model of the
//! tree (no symlinks here, so paths resolve lexically). Checked after every operation:
//! success or failure is what the model predicts; a failed operation publishes nothing (the
//! generation is unchanged); reads return the model's bytes; the whole tree (walk, contents,
//! `stats`) equals the model; snapshots keep showing the tree as it was when taken. At the end,
//! removing everything frees every stored chunk (no leak).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

use arbitrary::{Arbitrary, Unstructured};
use memfs::{MemFs, Snapshot};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Part {
    A,
    B,
    C,
    Dot,
    DotDot,
}

#[derive(Arbitrary, Debug)]
struct P {
    parts: [Option<Part>; 4],
    trailing_slash: bool,
}

impl P {
    fn text(&self) -> String {
        let mut s = String::new();
        for p in self.parts.iter().flatten() {
            s.push('/');
            s.push_str(match p {
                Part::A => "a",
                Part::B => "b",
                Part::C => "c",
                Part::Dot => ".",
                Part::DotDot => "..",
            });
        }
        if s.is_empty() || self.trailing_slash {
            s.push('/');
        }
        s
    }
}

/// Contents: small (inline) or large (chunked; repeated patterns, so chunks deduplicate).
#[derive(Arbitrary, Debug)]
enum Data {
    Small(Vec<u8>),
    Large { byte: u8, len: u16, chunks: u8 },
}

impl Data {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Data::Small(v) => v.iter().take(64).copied().collect(),
            Data::Large { byte, len, chunks } => {
                let n = memfs::INLINE_MAX
                    + 1
                    + *len as usize
                    + (*chunks % 3) as usize * memfs::CHUNK_SIZE;
                vec![*byte; n]
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    CreateDir(P),
    CreateDirAll(P),
    Write(P, Data),
    Append(P, Data),
    SetLen(P, u16),
    RemoveFile(P),
    RemoveDir(P),
    RemoveDirAll(P),
    Rename(P, P),
    Copy(P, P),
    Read(P),
    ListDir(P),
    Metadata(P),
    HandleAppend(P, Data),
    HandleWriteAt(P, u16, Data),
    Snapshot,
    CheckSnapshot(u8),
    Restore(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum MNode {
    Dir,
    File(Vec<u8>),
}

type Key = Vec<String>;

#[derive(Clone, Debug, Default)]
struct Model {
    nodes: BTreeMap<Key, MNode>,
}

impl Model {
    fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(Vec::new(), MNode::Dir);
        Model { nodes }
    }
    fn get(&self, k: &[String]) -> Option<&MNode> {
        self.nodes.get(k)
    }
    fn is_dir(&self, k: &[String]) -> bool {
        matches!(self.get(k), Some(MNode::Dir))
    }
    fn is_file(&self, k: &[String]) -> bool {
        matches!(self.get(k), Some(MNode::File(_)))
    }
    fn parent_is_dir(&self, k: &[String]) -> bool {
        !k.is_empty() && self.is_dir(&k[..k.len() - 1])
    }
    fn children(&self, k: &[String]) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|c| c.len() == k.len() + 1 && c.starts_with(k))
            .map(|c| c[k.len()].clone())
            .collect()
    }
    fn file_mut(&mut self, k: &[String]) -> &mut Vec<u8> {
        match self.nodes.get_mut(k) {
            Some(MNode::File(v)) => v,
            _ => unreachable!("checked to be a file"),
        }
    }
    /// Removes `k` and everything below it.
    fn remove_tree(&mut self, k: &[String]) -> Vec<(Key, MNode)> {
        let keys: Vec<Key> = self
            .nodes
            .keys()
            .filter(|c| c.starts_with(k))
            .cloned()
            .collect();
        keys.into_iter()
            .map(|c| {
                let v = self.nodes.remove(&c).unwrap();
                (c, v)
            })
            .collect()
    }
}

/// `(names, must_be_dir)` of a path text (parsing itself is fuzzed by `path_parse`).
fn names(p: &P) -> (String, Key, bool) {
    let text = p.text();
    let v = memfs::VPath::parse_str(&text).expect("generated paths are valid");
    let names = v.names().iter().map(|n| n.to_string()).collect();
    (text, names, v.must_be_dir())
}

fn check_tree(fs_walk: impl Fn() -> Vec<(Key, MNode)>, model: &Model, what: &str) {
    let got = fs_walk();
    let want: Vec<(Key, MNode)> = model
        .nodes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want, "tree differs from the model ({what})");
}

macro_rules! tree_of {
    ($fs:expr) => {{
        let mut out = vec![(Vec::new(), MNode::Dir)];
        for (dir, dirs, files) in $fs.walk("/").unwrap() {
            let base: Key = dir
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            for d in dirs {
                let mut k = base.clone();
                k.push(d);
                out.push((k, MNode::Dir));
            }
            for f in files {
                let mut k = base.clone();
                k.push(f);
                let path = format!("/{}", k.join("/"));
                out.push((k, MNode::File($fs.read(&path).unwrap())));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }};
}

fn expect(ok: bool, res: &std::io::Result<impl std::fmt::Debug>, op: &Op, model: &Model) {
    assert_eq!(
        ok,
        res.is_ok(),
        "{op:?}: model predicts {}, memfs returned {res:?}; model: {:?}",
        if ok { "success" } else { "failure" },
        model.nodes.keys().collect::<Vec<_>>()
    );
}

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(ops) = u
        .arbitrary_iter::<Op>()
        .and_then(|it| it.take(64).collect::<Result<Vec<_>, _>>())
    else {
        return;
    };
    let fs = MemFs::new();
    let mut model = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();

    for op in &ops {
        let gen = fs.generation();
        let res: std::io::Result<()> = match op {
            Op::CreateDir(p) => {
                let (t, k, _) = names(p);
                let ok = !k.is_empty() && model.parent_is_dir(&k) && model.get(&k).is_none();
                let r = fs.create_dir(&t);
                expect(ok, &r, op, &model);
                if ok {
                    model.nodes.insert(k, MNode::Dir);
                }
                r
            }
            Op::CreateDirAll(p) => {
                let (t, k, _) = names(p);
                let ok = (0..=k.len()).all(|i| !model.is_file(&k[..i]));
                let r = fs.create_dir_all(&t);
                expect(ok, &r, op, &model);
                if ok {
                    for i in 1..=k.len() {
                        model.nodes.insert(k[..i].to_vec(), MNode::Dir);
                    }
                }
                r
            }
            Op::Write(p, d) | Op::Append(p, d) | Op::HandleAppend(p, d) => {
                let (t, k, dir) = names(p);
                let ok = !dir && model.parent_is_dir(&k) && !model.is_dir(&k);
                let bytes = d.bytes();
                let r = match op {
                    Op::Write(..) => fs.write(&t, &bytes),
                    Op::Append(..) => fs.append(&t, &bytes),
                    _ => fs.open_mode(&t, "a").and_then(|mut f| {
                        f.write_all(&bytes)?;
                        f.flush()
                    }),
                };
                expect(ok, &r, op, &model);
                if ok {
                    if matches!(op, Op::Write(..)) || !model.is_file(&k) {
                        model.nodes.insert(k.clone(), MNode::File(Vec::new()));
                    }
                    model.file_mut(&k).extend_from_slice(&bytes);
                }
                r
            }
            Op::HandleWriteAt(p, at, d) => {
                let (t, k, dir) = names(p);
                let ok = !dir && model.is_file(&k);
                let bytes = d.bytes();
                let at = *at as u64 % 9000;
                let r = fs.open_mode(&t, "r+").and_then(|mut f| {
                    f.seek(SeekFrom::Start(at))?;
                    f.write_all(&bytes)?;
                    f.seek(SeekFrom::Start(0))?;
                    let mut back = Vec::new();
                    f.read_to_end(&mut back)?;
                    // (An empty write at an offset past the end extends nothing, as in POSIX.)
                    assert_eq!(
                        &back[(at as usize).min(back.len())..][..bytes.len()],
                        &bytes[..],
                        "handle reads its own writes"
                    );
                    Ok(())
                });
                expect(ok, &r, op, &model);
                if ok && !bytes.is_empty() {
                    let v = model.file_mut(&k);
                    let end = at as usize + bytes.len();
                    if v.len() < end {
                        v.resize(end, 0);
                    }
                    v[at as usize..end].copy_from_slice(&bytes);
                }
                r
            }
            Op::SetLen(p, len) => {
                let (t, k, dir) = names(p);
                let ok = !dir && model.is_file(&k);
                let r = fs.set_len(&t, *len as u64);
                expect(ok, &r, op, &model);
                if ok {
                    model.file_mut(&k).resize(*len as usize, 0);
                }
                r
            }
            Op::RemoveFile(p) => {
                let (t, k, dir) = names(p);
                let ok = !dir && model.is_file(&k);
                let r = fs.remove_file(&t);
                expect(ok, &r, op, &model);
                if ok {
                    model.nodes.remove(&k);
                }
                r
            }
            Op::RemoveDir(p) => {
                let (t, k, _) = names(p);
                let ok = !k.is_empty() && model.is_dir(&k) && model.children(&k).is_empty();
                let r = fs.remove_dir(&t);
                expect(ok, &r, op, &model);
                if ok {
                    model.nodes.remove(&k);
                }
                r
            }
            Op::RemoveDirAll(p) => {
                let (t, k, _) = names(p);
                let ok = !k.is_empty() && model.is_dir(&k);
                let r = fs.remove_dir_all(&t);
                expect(ok, &r, op, &model);
                if ok {
                    model.remove_tree(&k);
                }
                r
            }
            Op::Rename(a, b) => {
                let (ta, ka, da) = names(a);
                let (tb, kb, db) = names(b);
                let ok = !ka.is_empty()
                    && !kb.is_empty()
                    && model.get(&ka).is_some()
                    && model.parent_is_dir(&kb)
                    && (model.is_dir(&ka) || !(da || db))
                    && !(kb.len() > ka.len() && kb.starts_with(&ka))
                    && !(ka.len() > kb.len() && ka.starts_with(&kb))
                    && (ka == kb
                        || match (model.get(&ka), model.get(&kb)) {
                            (_, None) => true,
                            (Some(MNode::Dir), Some(MNode::Dir)) => model.children(&kb).is_empty(),
                            (Some(MNode::File(_)), Some(MNode::File(_))) => true,
                            _ => false,
                        });
                let r = fs.rename(&ta, &tb);
                expect(ok, &r, op, &model);
                if ok && ka != kb {
                    model.nodes.remove(&kb);
                    for (k, v) in model.remove_tree(&ka) {
                        let mut nk = kb.clone();
                        nk.extend_from_slice(&k[ka.len()..]);
                        model.nodes.insert(nk, v);
                    }
                }
                r
            }
            Op::Copy(a, b) => {
                let (ta, ka, da) = names(a);
                let (tb, kb, db) = names(b);
                let ok = !da
                    && model.is_file(&ka)
                    && !db
                    && model.parent_is_dir(&kb)
                    && !model.is_dir(&kb);
                let r = fs.copy(&ta, &tb);
                expect(ok, &r, op, &model);
                if ok {
                    let content = if ka == kb {
                        Vec::new()
                    } else {
                        match model.get(&ka) {
                            Some(MNode::File(v)) => v.clone(),
                            _ => unreachable!(),
                        }
                    };
                    assert_eq!(
                        *r.as_ref().unwrap(),
                        content.len() as u64,
                        "{op:?}: bytes copied"
                    );
                    model.nodes.insert(kb, MNode::File(content));
                }
                r.map(drop)
            }
            Op::Read(p) => {
                let (t, k, dir) = names(p);
                let ok = !dir && model.is_file(&k);
                let r = fs.read(&t);
                expect(ok, &r, op, &model);
                if let Ok(bytes) = &r {
                    assert_eq!(Some(&MNode::File(bytes.clone())), model.get(&k), "{op:?}");
                }
                r.map(drop)
            }
            Op::ListDir(p) => {
                let (t, k, _) = names(p);
                let ok = model.is_dir(&k);
                let r = fs.listdir(&t);
                expect(ok, &r, op, &model);
                if let Ok(list) = &r {
                    assert_eq!(list, &model.children(&k), "{op:?}");
                }
                r.map(drop)
            }
            Op::Metadata(p) => {
                let (t, k, dir) = names(p);
                let ok = model.is_dir(&k) || (!dir && model.is_file(&k));
                let r = fs.metadata(&t);
                expect(ok, &r, op, &model);
                if let Ok(m) = &r {
                    match model.get(&k) {
                        Some(MNode::Dir) => assert!(m.is_dir()),
                        Some(MNode::File(v)) => assert_eq!(m.len(), v.len() as u64),
                        None => unreachable!(),
                    }
                    assert!(fs.exists(&t));
                }
                r.map(drop)
            }
            Op::Snapshot => {
                if snaps.len() < 4 {
                    snaps.push((fs.snapshot(), model.clone()));
                }
                Ok(())
            }
            Op::CheckSnapshot(i) => {
                if let Some((snap, m)) = snaps.get(*i as usize % snaps.len().max(1)) {
                    check_tree(|| tree_of!(snap), m, "snapshot");
                }
                Ok(())
            }
            Op::Restore(i) => {
                if let Some((snap, m)) = snaps.get(*i as usize % snaps.len().max(1)) {
                    fs.restore(snap).expect("no quota");
                    model = m.clone();
                }
                Ok(())
            }
        };
        if res.is_err() {
            assert_eq!(
                fs.generation(),
                gen,
                "{op:?} failed but published a new root"
            );
        }
        check_tree(|| tree_of!(fs), &model, &format!("after {op:?}"));
        let stats = fs.stats();
        let files = model
            .nodes
            .values()
            .filter(|v| matches!(v, MNode::File(_)))
            .count();
        assert_eq!(stats.files as usize, files, "stats().files");
        assert_eq!(
            stats.dirs as usize,
            model.nodes.len() - files,
            "stats().dirs"
        );
        let logical: usize = model
            .nodes
            .values()
            .map(|v| match v {
                MNode::File(b) => b.len(),
                MNode::Dir => 0,
            })
            .sum();
        assert_eq!(
            stats.logical_bytes as usize, logical,
            "stats().logical_bytes"
        );
    }

    // No leak: once nothing references them, every chunk is freed.
    drop(snaps);
    for name in fs.listdir("/").unwrap() {
        let p = format!("/{name}");
        if fs.isdir(&p) {
            fs.remove_dir_all(&p).unwrap();
        } else {
            fs.remove_file(&p).unwrap();
        }
    }
    let stats = fs.stats();
    assert_eq!(
        (stats.blobs, stats.stored_bytes),
        (0, 0),
        "chunks left after removing all"
    );
}
