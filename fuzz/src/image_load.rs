//! Fuzz harness: the state-image loader (`memfs::persist::image::decode`) on arbitrary bytes.
//!
//! The first byte picks the mode. Odd: the rest is the image file as is (header, checksum and
//! compression checks). Even: the rest is an uncompressed image *body*, which the harness
//! wraps into a well-formed image (lz4 block, header, blake3 checksum, as the format in
//! src/persist/image.rs says) so that mutations reach the body decoder instead of stopping at
//! the checksum.
//!
//! Bad input must be an `InvalidData` error, never a panic or an unbounded allocation. What it
//! accepts must round-trip: encoding the decoded filesystem and snapshots gives an image that
//! decodes again, and whose own re-encoding is byte-for-byte the same (encoding is canonical).
//! Every file of the decoded tree must be readable.

use std::io::ErrorKind;

use memfs::persist::image;

/// A well-formed image (header and checksum right) around an uncompressed `body`.
pub fn wrap_body(body: &[u8]) -> Vec<u8> {
    let compressed = lz4_flex::block::compress(body);
    let mut out = Vec::with_capacity(60 + compressed.len());
    out.extend_from_slice(image::MAGIC);
    out.extend_from_slice(&image::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&(compressed.len() as u64).to_le_bytes());
    let mut h = blake3::Hasher::new();
    h.update(&out);
    h.update(&compressed);
    out.extend_from_slice(h.finalize().as_bytes());
    out.extend_from_slice(&compressed);
    out
}

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let wrapped;
    let bytes = match data.split_first() {
        Some((m, rest)) if m % 2 == 0 => {
            wrapped = wrap_body(rest);
            &wrapped[..]
        }
        Some((_, rest)) => rest,
        None => return,
    };
    let img = match image::decode(bytes) {
        Ok(img) => img,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidData, "decode error {e:?}");
            return;
        }
    };
    for (dir, _, files) in img.fs.walk("/").expect("walk of a decoded tree") {
        for f in files {
            let p = if dir == "/" {
                format!("/{f}")
            } else {
                format!("{dir}/{f}")
            };
            // Dangling symlinks are fine; a stored file must be readable.
            if img
                .fs
                .symlink_metadata(&p)
                .map(|m| m.is_file())
                .unwrap_or(false)
            {
                img.fs.read(&p).expect("read of a decoded file");
            }
        }
    }
    let once = image::encode(&img.fs, &img.snapshots).expect("an in-memory image encodes");
    let again = image::decode(&once).expect("an encoded image decodes");
    assert_eq!(
        again.snapshots.keys().collect::<Vec<_>>(),
        img.snapshots.keys().collect::<Vec<_>>(),
        "snapshot names changed in the round trip"
    );
    let twice = image::encode(&again.fs, &again.snapshots).expect("an in-memory image encodes");
    assert!(once == twice, "re-encoding a decoded image changed it");
}
