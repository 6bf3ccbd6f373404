#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| memfs_fuzz::json_load::run(data));
