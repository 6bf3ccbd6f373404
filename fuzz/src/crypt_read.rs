//! Fuzz harness: the encrypted-file reader (`memfs::ext::crypt::decrypt_bytes`) on arbitrary
//! bytes (magic, version, iterations, salt, then records of nonce, length, ciphertext, tag).
//!
//! Bad input is an `InvalidData` error, never a panic and never unauthenticated bytes. The
//! first byte picks the password (the seeds' one, or a wrong one), so both the success path
//! and the wrong-key path are exercised. No round trip through `encrypt_bytes` here: the
//! format fixes PBKDF2 at ≥ 100,000 iterations (tens of ms per key), so each derivation is
//! kept for inputs whose framing already parses; this target's exec rate is low by design.

use std::io::ErrorKind;

use memfs::ext::crypt;

/// The password the corpus seeds were encrypted with.
pub const PASSWORD: &str = "correct horse";

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let (password, body) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (PASSWORD, rest),
        Some((_, rest)) => ("", rest),
        None => return,
    };
    match crypt::decrypt_bytes(body, password) {
        Ok(plain) => {
            // Only a right password opens anything; the plaintext is shorter than the file.
            assert_eq!(password, PASSWORD, "a wrong password decrypted");
            assert!(plain.len() < body.len());
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidData, "decrypt error {e:?}"),
    }
}
