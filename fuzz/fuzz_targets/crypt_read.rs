//! NOT registered in fuzz/Cargo.toml yet (needs `memfs::ext::crypt`). The encrypted-file
//! reader on arbitrary bytes (magic, version, salt, nonce, ciphertext+tag): bad input is an
//! error, never a panic. The first byte picks the password so both right-looking and wrong
//! keys are exercised.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (password, body) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => ("correct horse", rest),
        Some((_, rest)) => ("", rest),
        None => return,
    };
    let _ = memfs::ext::crypt::decrypt_bytes(body, password);
});
