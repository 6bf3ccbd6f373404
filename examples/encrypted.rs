//! The original memfs README's "Encrypted and Compressed Files" example: a password-encrypted
//! file (AES-256-GCM, key from PBKDF2-HMAC-SHA256) and an LZ4-compressed one, with the
//! compression ratio.
//! Run: `cargo run --release --example encrypted`

use std::io::{self, Read, Write};

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();

    // Write to an encrypted file.
    let mut f = fs.open_encrypted("/secret.txt", "w", "mysecret")?;
    f.write_all(b"This is sensitive information")?;
    drop(f); // encrypted and published on drop (or flush)

    // Read it back.
    let mut content = String::new();
    fs.open_encrypted("/secret.txt", "r", "mysecret")?
        .read_to_string(&mut content)?;
    println!("{content}");
    assert_eq!(content, "This is sensitive information");

    // The stored bytes are ciphertext; a wrong password is refused.
    let stored = fs.read("/secret.txt")?;
    assert!(!String::from_utf8_lossy(&stored).contains("sensitive"));
    let wrong = fs.open_encrypted("/secret.txt", "r", "guess").unwrap_err();
    println!(
        "Encrypted file: {} bytes of plaintext stored as {} bytes; wrong password -> {wrong}",
        content.len(),
        stored.len()
    );

    // Write to a compressed file (good for large text).
    let text = "This content will be compressed ".repeat(1000);
    let mut f = fs.open_compressed("/compressed.txt", "w", 9)?;
    f.write_all(text.as_bytes())?;
    drop(f);

    // Check the sizes.
    let compressed_size = fs.metadata("/compressed.txt")?.len();
    let mut back = String::new();
    fs.open_compressed("/compressed.txt", "r", 9)?
        .read_to_string(&mut back)?;
    assert_eq!(back, text);
    println!(
        "Compressed file: {} bytes stored as {compressed_size} bytes",
        text.len()
    );
    println!(
        "Compression ratio: {:.2}x",
        text.len() as f64 / compressed_size as f64
    );
    Ok(())
}
