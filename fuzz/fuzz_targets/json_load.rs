//! NOT registered in fuzz/Cargo.toml yet (needs `memfs::persist::json`). The seed-JSON loader
//! (`{"files": {"/path": "content"}, "dirs": ["/"]}`) on arbitrary text: an error or a loaded
//! tree, never a panic; a failed load must leave the filesystem unchanged.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fs = memfs::MemFs::new();
    fs.write("/keep", "untouched").unwrap();
    let before = fs.generation();
    if memfs::persist::json::load_str(&fs, text).is_err() {
        assert_eq!(fs.generation(), before, "a failed load changed the filesystem");
        assert_eq!(fs.read("/keep").unwrap(), b"untouched");
    }
    // Whatever was loaded is a valid tree: walking and reading every file works.
    for (dir, _, files) in fs.walk("/").unwrap() {
        for f in files {
            let p = if dir == "/" { format!("/{f}") } else { format!("{dir}/{f}") };
            let _ = fs.read(&p);
        }
    }
});
