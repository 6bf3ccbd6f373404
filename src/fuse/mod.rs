//! Mounting a `MemFs` with FUSE (feature `fuse`, Linux): real programs use memfs through the
//! kernel. `mount` is the entry point; `callbacks` receive the kernel's requests and `server`
//! carries them out on the `MemFs`; `inodes` maps inode numbers to paths; `buffer` holds the
//! bytes of files open for writing.

mod buffer;
mod callbacks;
mod inodes;
mod mount;
mod server;

pub use mount::{mount, MountHandle, MountOptions, Unmounter};
