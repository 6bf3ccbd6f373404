//! Fuzz harness: the seed-JSON loader (`memfs::persist::json::load_str`) on arbitrary text.
//!
//! Either form (`{"files": {"/path": "content"}, "dirs": ["/"]}` or typed entries) may come
//! in: the result is an error or a loaded tree, never a panic; a failed load leaves the
//! filesystem unchanged. What loads must round-trip: `dump` of it loads into a fresh
//! filesystem and dumps to the same text.

use memfs::persist::json;
use memfs::MemFs;

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fs = MemFs::new();
    fs.write("/keep", "untouched").unwrap();
    let before = fs.generation();
    if json::load_str(&fs, text).is_err() {
        assert_eq!(
            fs.generation(),
            before,
            "a failed load changed the filesystem"
        );
        assert_eq!(fs.read("/keep").unwrap(), b"untouched");
        return;
    }
    // Whatever was loaded is a valid tree: walking and reading every file works.
    for (dir, _, files) in fs.walk("/").unwrap() {
        for f in files {
            let p = if dir == "/" {
                format!("/{f}")
            } else {
                format!("{dir}/{f}")
            };
            let _ = fs.read(&p);
        }
    }
    let dumped = json::dump(&fs, "/").expect("dump of a loaded tree");
    let fs2 = MemFs::new();
    json::load_str(&fs2, &dumped).expect("a dump loads again");
    let again = json::dump(&fs2, "/").expect("dump of the reloaded tree");
    assert_eq!(dumped, again, "dump -> load -> dump changed the tree");
}
