//! Fuzz harness: the state-image loader (`memfs::persist::image::decode`) on arbitrary bytes.
//!
//! Bad input must be an `InvalidData` error, never a panic or an unbounded allocation. What it
//! accepts must round-trip: encoding the decoded filesystem and snapshots gives an image that
//! decodes again, and whose own re-encoding is byte-for-byte the same (encoding is canonical).
//! Every file of the decoded tree must be readable.

use std::io::ErrorKind;

use memfs::persist::image;

/// Runs one input; panics on any broken invariant.
pub fn run(data: &[u8]) {
    let img = match image::decode(data) {
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
    let once = image::encode(&img.fs, &img.snapshots);
    let again = image::decode(&once).expect("an encoded image decodes");
    assert_eq!(
        again.snapshots.keys().collect::<Vec<_>>(),
        img.snapshots.keys().collect::<Vec<_>>(),
        "snapshot names changed in the round trip"
    );
    let twice = image::encode(&again.fs, &again.snapshots);
    assert!(once == twice, "re-encoding a decoded image changed it");
}
