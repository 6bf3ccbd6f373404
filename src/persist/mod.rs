//! Persistence: the binary state image (`image`), JSON compatible with the original memfs
//! (`json`), copying between a host directory and a memfs (`hostdir`), and a snapshot as
//! content-addressed objects for object stores (`objects`).

pub mod hostdir;
pub mod image;
pub mod json;
pub mod objects;
