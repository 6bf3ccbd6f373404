#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| memfs_fuzz::image_load::run(data));
