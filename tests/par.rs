//! Parallel `par_walk`, `find` and `search_content` against sequential references (built on
//! `walk` and `read`) on a generated tree of more than 10,000 files, and their consistency
//! while writers work.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use memfs::MemFs;

const EXTS: [&str; 5] = ["txt", "json", "md", "csv", "log"];

/// A small deterministic PRNG (xorshift), so the tree is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// 20 × 10 directories of 50 files (10,000 files), a few large chunked files, nested extras
/// and symlinks. About one file in 7 contains "needle".
fn generated_tree() -> MemFs {
    let fs = MemFs::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for a in 0..20 {
        for b in 0..10 {
            let dir = format!("/tree/d{a:02}/s{b}");
            fs.create_dir_all(&dir).unwrap();
            for f in 0..50 {
                let r = rng.next();
                let ext = EXTS[(r % 5) as usize];
                let prefix = if r.is_multiple_of(3) {
                    "data_"
                } else {
                    "file_"
                };
                let mut body = format!("record {a} {b} {f} {r:x}\n");
                if r.is_multiple_of(7) {
                    body.push_str("the needle is here\n");
                }
                fs.write(format!("{dir}/{prefix}{f}.{ext}"), body).unwrap();
            }
        }
    }
    // Large (chunked) files, one with the needle across a chunk boundary.
    fs.create_dir_all("/tree/big").unwrap();
    let mut big = vec![b'.'; 3 * memfs::CHUNK_SIZE];
    fs.write("/tree/big/plain.bin", &big).unwrap();
    big[memfs::CHUNK_SIZE - 2..memfs::CHUNK_SIZE + 4].copy_from_slice(b"needle");
    fs.write("/tree/big/straddle.bin", &big).unwrap();
    // Deeper nesting and symlinks (to a file, to a directory, dangling).
    fs.create_dir_all("/tree/deep/a/b/c/d").unwrap();
    fs.write("/tree/deep/a/b/c/d/data_deep.json", "needle")
        .unwrap();
    fs.symlink("/tree/deep/a/b/c/d/data_deep.json", "/tree/deep/link.json")
        .unwrap();
    fs.symlink("/tree/deep/a", "/tree/deep/dirlink").unwrap();
    fs.symlink("/nowhere", "/tree/deep/dangling.txt").unwrap();
    fs
}

/// Sequential reference for `find`: every walk filename, matched by the documented rules.
fn find_reference(fs: &MemFs, pattern: &str, start: &str) -> Vec<String> {
    let m = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .unwrap()
        .compile_matcher();
    let start_abs = fs.canonicalize(start).unwrap();
    let mut out = Vec::new();
    for (dir, _, files) in fs.walk(start).unwrap() {
        for name in files {
            let abs = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            let rel = abs[start_abs.len()..].trim_start_matches('/').to_string();
            let hit = if pattern.starts_with('/') {
                m.is_match(&abs)
            } else if pattern.contains('/') {
                m.is_match(&rel)
            } else {
                m.is_match(&name)
            };
            if hit {
                out.push(abs);
            }
        }
    }
    out.sort();
    out
}

/// Sequential reference for `search_content`: read every regular file, naive window search.
fn search_reference(fs: &MemFs, text: &str, exts: Option<&[&str]>, start: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (dir, _, files) in fs.walk(start).unwrap() {
        for name in files {
            let abs = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            if fs.symlink_metadata(&abs).unwrap().is_symlink() {
                continue;
            }
            if let Some(exts) = exts {
                if !exts.iter().any(|e| name.ends_with(&format!(".{e}"))) {
                    continue;
                }
            }
            let data = fs.read(&abs).unwrap();
            let hit = text.is_empty() || data.windows(text.len()).any(|w| w == text.as_bytes());
            if hit {
                out.push(abs);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn parallel_results_equal_sequential_references_on_10k_files() {
    let fs = generated_tree();
    assert!(fs.stats().files >= 10_000);

    for top in ["/", "/tree", "/tree/d07", "/tree/deep"] {
        let seq: Vec<_> = fs.walk(top).unwrap().collect();
        assert_eq!(fs.par_walk(top).unwrap(), seq, "par_walk({top})");
    }

    for (pattern, start) in [
        ("*.txt", "/"),
        ("data_*.json", "/tree"),
        ("**/data_*.json", "/tree"),
        ("s3/*.md", "/tree/d04"),
        ("*/s[0-4]/file_1?.csv", "/tree"),
        ("/tree/d1*/s9/*", "/"),
        ("*.json", "/tree/deep"),
        ("*", "/tree/deep"),
        ("{data,file}_4[0-9].log", "/tree/d19"),
        ("nothing-matches-*", "/"),
    ] {
        let got = fs.find(pattern, start).unwrap();
        assert_eq!(
            got,
            find_reference(&fs, pattern, start),
            "find({pattern:?}, {start})"
        );
    }
    assert_eq!(fs.find("*.txt", "/").unwrap().len(), {
        let r = find_reference(&fs, "*.txt", "/");
        assert!(
            r.len() > 1500,
            "the pattern matches many files: {}",
            r.len()
        );
        r.len()
    });

    let json: &[&str] = &["json"];
    let two: &[&str] = &["txt", "md"];
    for (text, exts, start) in [
        ("needle", None, "/"),
        ("needle", Some(json), "/tree"),
        ("needle", Some(two), "/tree/d03"),
        ("record 5 3", None, "/tree"),
        ("absent text", None, "/"),
        ("", Some(json), "/tree/d00"),
    ] {
        let got = fs.search_content(text, exts, start).unwrap();
        assert_eq!(
            got,
            search_reference(&fs, text, exts, start),
            "search_content({text:?}, {exts:?}, {start})"
        );
    }
    let hits = fs.search_content("needle", None, "/").unwrap();
    assert!(hits.contains(&"/tree/big/straddle.bin".to_string()));
    assert!(!hits.contains(&"/tree/big/plain.bin".to_string()));
    assert!(hits.len() > 1000, "{}", hits.len());
    // Extensions with or without the dot are the same.
    assert_eq!(
        fs.search_content("needle", Some(&[".json"]), "/tree/d01")
            .unwrap(),
        fs.search_content("needle", Some(&["json"]), "/tree/d01")
            .unwrap()
    );
}

#[test]
fn snapshot_offers_the_same_calls_on_its_version() {
    let fs = generated_tree();
    let snap = fs.snapshot();
    let before = fs.find("*.md", "/").unwrap();
    let before_walk = fs.par_walk("/tree/d00").unwrap();
    fs.remove_dir_all("/tree/d00").unwrap();
    fs.write("/tree/new.md", "needle").unwrap();
    assert_eq!(snap.find("*.md", "/").unwrap(), before);
    assert_eq!(snap.par_walk("/tree/d00").unwrap(), before_walk);
    assert_eq!(
        snap.search_content("needle", None, "/").unwrap(),
        search_reference(&generated_tree(), "needle", None, "/")
    );
    assert_ne!(fs.find("*.md", "/").unwrap(), before);
    assert_eq!(
        fs.par_walk("/tree/d00").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn results_come_from_one_consistent_version_while_writers_work() {
    // A writer creates f0, f1, f2, ... in order; every version of the tree holds a prefix of
    // that sequence, so a consistent find sees exactly {f0 .. fk} for some k.
    let fs = MemFs::new();
    fs.create_dir_all("/w/sub").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fs, stop) = (fs.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                let dir = if i.is_multiple_of(2) { "/w" } else { "/w/sub" };
                fs.write(format!("{dir}/f{i:05}.txt"), "needle").unwrap();
                i += 1;
            }
        })
    };
    for _ in 0..30 {
        let found = fs.find("*.txt", "/w").unwrap();
        let mut ids: Vec<u32> = found
            .iter()
            .map(|p| p.rsplit_once("/f").unwrap().1[..5].parse().unwrap())
            .collect();
        ids.sort();
        assert!(
            ids.iter().enumerate().all(|(i, &id)| i as u32 == id),
            "not a prefix: {} files",
            ids.len()
        );
        let searched = fs.search_content("needle", Some(&["txt"]), "/w").unwrap();
        assert!(searched.len() >= found.len());
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let fs = MemFs::new();
    fs.write("/file.txt", "x").unwrap();
    for bad in ["[", "a[b", "{unclosed"] {
        let e = fs.find(bad, "/").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(e.to_string().contains(bad), "{e}");
    }
    assert_eq!(
        fs.find("*", "/missing").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.find("*", "/file.txt").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        fs.search_content("x", Some(&[""]), "/").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        fs.search_content("x", None, "/missing").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.par_walk("/file.txt").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    // Found through a symlinked start, reported under the canonical path.
    fs.create_dir("/d").unwrap();
    fs.write("/d/x.txt", "x").unwrap();
    fs.symlink("/d", "/link").unwrap();
    assert_eq!(fs.find("*.txt", "/link").unwrap(), ["/d/x.txt"]);
    assert_eq!(
        fs.par_walk("/link").unwrap(),
        fs.walk("/link").unwrap().collect::<Vec<_>>()
    );
}

/// Speed-up of the parallel calls over the same code on one thread, and over `walk`.
/// Run: `cargo test --release --test par -- --ignored --nocapture measure`
#[test]
#[ignore]
fn measure_speedup() {
    use std::time::{Duration, Instant};
    let fs = MemFs::new();
    let mut rng = Rng(42);
    for a in 0..100 {
        for b in 0..20 {
            let dir = format!("/m/d{a}/s{b}");
            fs.create_dir_all(&dir).unwrap();
            for f in 0..50 {
                let r = rng.next();
                let mut body = format!("{r:x} ").repeat(60); // about 1 KiB
                if r.is_multiple_of(101) {
                    body.push_str("needle");
                }
                fs.write(format!("{dir}/f{f}.{}", EXTS[(r % 5) as usize]), body)
                    .unwrap();
            }
        }
    }
    let best = |f: &dyn Fn()| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO)
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    println!(
        "{} files, {} rayon threads",
        fs.stats().files,
        rayon::current_num_threads()
    );
    let cases: [(&str, &(dyn Fn() + Sync)); 3] = [
        ("par_walk", &|| drop(fs.par_walk("/").unwrap())),
        ("find *.json", &|| drop(fs.find("*.json", "/").unwrap())),
        ("search_content", &|| {
            drop(fs.search_content("needle", None, "/").unwrap())
        }),
    ];
    for (name, run) in cases {
        let par = best(run);
        let seq = best(&|| one.install(run));
        println!(
            "{name}: 1 thread {seq:?}, parallel {par:?}, speed-up {:.2}x",
            seq.as_secs_f64() / par.as_secs_f64()
        );
    }
    // Control: what rayon can get on this machine right now (other load takes cores away).
    let control = || {
        use rayon::prelude::*;
        (0..20_000_000u64)
            .into_par_iter()
            .map(|x| ((x as f64).sqrt() as u64) ^ x)
            .sum::<u64>()
    };
    let (seq, par) = (
        best(&|| {
            std::hint::black_box(one.install(control));
        }),
        best(&|| {
            std::hint::black_box(control());
        }),
    );
    println!(
        "control (pure CPU): 1 thread {seq:?}, parallel {par:?}, speed-up {:.2}x",
        seq.as_secs_f64() / par.as_secs_f64()
    );
    let walk = best(&|| one.install(|| drop(fs.walk("/").unwrap().collect::<Vec<_>>())));
    let par = best(&|| drop(fs.par_walk("/").unwrap()));
    println!(
        "walk (sequential iterator) {walk:?} vs par_walk {par:?}: {:.2}x",
        walk.as_secs_f64() / par.as_secs_f64()
    );
}
