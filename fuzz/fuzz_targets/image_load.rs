//! NOT registered in fuzz/Cargo.toml yet (needs `memfs::persist::image`). The state-image
//! loader on arbitrary bytes: it must refuse bad input with an error, never panic or allocate
//! without bound; what it accepts must encode and decode again to the same image.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = memfs::persist::image::decode(data);
});
