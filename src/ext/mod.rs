//! The extended filesystem of the original memfs: encrypted files (`crypt`), compressed files
//! (`compress`) and backups (`backup`). Per-file user metadata (`set_metadata` /
//! `get_metadata`) lives with the other node metadata in the tree (`MemFs` in `fs.rs`).

pub mod backup;
pub mod compress;
pub mod crypt;

pub use compress::CompressedFile;
pub use crypt::EncryptedFile;
