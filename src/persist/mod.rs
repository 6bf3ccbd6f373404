//! Persistence: the binary state image (`image`), JSON compatible with the original memfs
//! (`json`), and copying between a host directory and a memfs (`hostdir`).

pub mod hostdir;
pub mod image;
pub mod json;
