//! `Snapshot::diff` / `MemFs::diff_since` checked against a diff computed the slow way: walk
//! both versions through the public read API, compare every path's type, metadata, content and
//! symlink target.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::Rng;
use memfs::{Change, ChangeKind, MemFs, Snapshot};

/// Everything the public API shows of one path.
#[derive(PartialEq, Debug)]
enum Seen {
    Dir(Meta),
    File(Meta, Vec<u8>),
    Symlink(Meta, String),
}

#[derive(PartialEq, Debug)]
struct Meta {
    mode: u32,
    ino: u64,
    times: [std::time::SystemTime; 4],
    user: BTreeMap<String, String>,
}

fn meta_of(s: &Snapshot, p: &str) -> (memfs::Metadata, Meta) {
    let m = s.symlink_metadata(p).unwrap();
    let meta = Meta {
        mode: m.mode(),
        ino: m.ino(),
        times: [
            m.created().unwrap(),
            m.modified().unwrap(),
            m.accessed().unwrap(),
            m.changed().unwrap(),
        ],
        user: if m.is_symlink() {
            BTreeMap::new()
        } else {
            s.get_metadata(p).unwrap()
        },
    };
    (m, meta)
}

fn seen_all(s: &Snapshot) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    out.insert("/".to_string(), Seen::Dir(meta_of(s, "/").1));
    let mut stack = vec!["/".to_string()];
    while let Some(dir) = stack.pop() {
        for e in s.read_dir(&dir).unwrap() {
            let p = e.path();
            let (m, meta) = meta_of(s, &p);
            let v = if m.is_dir() {
                stack.push(p.clone());
                Seen::Dir(meta)
            } else if m.is_symlink() {
                Seen::Symlink(meta, s.read_link(&p).unwrap())
            } else {
                Seen::File(meta, s.read(&p).unwrap())
            };
            out.insert(p, v);
        }
    }
    out
}

fn slow_diff(a: &Snapshot, b: &Snapshot) -> Vec<Change> {
    let (x, y) = (seen_all(a), seen_all(b));
    let mut out = Vec::new();
    let same_type = |u: &Seen, v: &Seen| std::mem::discriminant(u) == std::mem::discriminant(v);
    for (p, u) in &x {
        match y.get(p) {
            None => out.push((p.clone(), ChangeKind::Removed)),
            Some(v) if !same_type(u, v) => out.push((p.clone(), ChangeKind::TypeChanged)),
            Some(v) if u != v => out.push((p.clone(), ChangeKind::Modified)),
            Some(_) => {}
        }
    }
    for p in y.keys() {
        if !x.contains_key(p) {
            out.push((p.clone(), ChangeKind::Added));
        }
    }
    // Below a path whose type changed, the old entries are removed and the new ones added
    // (the walk above already reports them so, since they exist on one side only).
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
        .map(|(path, kind)| Change { path, kind })
        .collect()
}

const NAMES: [&str; 6] = ["a", "b", "a.txt", "c d", "e", "a-b"];

fn random_path(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(3);
    (0..depth)
        .map(|_| NAMES[rng.below(NAMES.len())])
        .fold(String::new(), |p, n| format!("{p}/{n}"))
}

/// One random change; failures (a missing parent, a file in the way) are fine and change
/// nothing.
fn random_op(fs: &MemFs, rng: &mut Rng) {
    let p = random_path(rng);
    let _ = match rng.below(11) {
        0 | 1 => fs.write(&p, vec![rng.below(256) as u8; rng.below(5000)]),
        2 => fs.append(&p, b"more"),
        3 => fs.create_dir_all(&p),
        4 => fs.remove_file(&p),
        5 => fs.remove_dir_all(&p),
        6 => fs.rename(&p, random_path(rng)),
        7 => fs.symlink(NAMES[rng.below(NAMES.len())], &p),
        8 => fs
            .metadata(&p)
            .and_then(|m| fs.set_permissions(&p, (m.mode() ^ 0o111) & 0o777)),
        9 => fs.set_metadata(&p, BTreeMap::from([("k".into(), rng.below(9).to_string())])),
        _ => fs.touch(&p),
    };
}

#[test]
fn diff_agrees_with_a_full_comparison_of_both_versions() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for round in 0..300 {
        let fs = MemFs::new();
        for _ in 0..rng.below(30) {
            random_op(&fs, &mut rng);
        }
        let before = fs.snapshot();
        for _ in 0..rng.below(8) {
            random_op(&fs, &mut rng);
        }
        let after = fs.snapshot();
        let fast = before.diff(&after);
        assert_eq!(fast, slow_diff(&before, &after), "round {round}");
        assert_eq!(fs.diff_since(&before), fast, "round {round}: diff_since");
        // Backwards: every addition is a removal and the other way round.
        let back: Vec<Change> = after.diff(&before);
        assert_eq!(back, slow_diff(&after, &before), "round {round}: backwards");
    }
}

#[test]
fn a_removed_directory_reports_itself_and_everything_below_sorted() {
    let fs = MemFs::new();
    fs.create_dir_all("/keep").unwrap();
    fs.create_dir_all("/x/y").unwrap();
    fs.write("/x/y/z", "1").unwrap();
    fs.write("/x/a", "2").unwrap();
    let before = fs.snapshot();
    fs.remove_dir_all("/x").unwrap();
    fs.write("/x", "now a file").unwrap();
    let d: Vec<(String, char)> = fs
        .diff_since(&before)
        .into_iter()
        .map(|c| (c.path, c.kind.letter()))
        .collect();
    assert_eq!(
        d,
        [
            ("/".to_string(), 'M'),
            ("/x".to_string(), 'T'),
            ("/x/a".to_string(), 'D'),
            ("/x/y".to_string(), 'D'),
            ("/x/y/z".to_string(), 'D'),
        ]
    );
    assert!(before.diff(&before).is_empty());
}

#[test]
fn one_change_in_a_big_tree_is_found_without_visiting_the_rest() {
    // 200,000 files in 200 directories; one rewrite. The diff visits the root's and one
    // directory's changed B-tree nodes only, so it takes microseconds, not the milliseconds a
    // walk of the tree takes (a generous bound: this is a test, the benchmark measures).
    let fs = MemFs::new();
    fs.batch(|b| {
        for d in 0..200 {
            b.create_dir(format!("/d{d:03}"))?;
            for i in 0..1000 {
                b.write(format!("/d{d:03}/f{i:04}"), "")?;
            }
        }
        Ok(())
    })
    .unwrap();
    let before = fs.snapshot();
    fs.write("/d123/f0456", "changed").unwrap();
    let t = Instant::now();
    let d = fs.diff_since(&before);
    let took = t.elapsed();
    // An overwrite does not touch the parent directory: one change.
    assert_eq!(
        d,
        [Change {
            path: "/d123/f0456".into(),
            kind: ChangeKind::Modified
        }]
    );
    assert!(took.as_millis() < 50, "diff took {took:?}");
}
