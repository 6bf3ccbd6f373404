#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| memfs_fuzz::crypt_read::run(data));
