//! LZ4-compressed files: the [`CompressedFile`] handle that `MemFs::open_compressed` returns.
//!
//! Owns the compressed-file format only; it stores bytes through `MemFs::write` and
//! `MemFs::append` and must not touch the tree's representation.
//!
//! ## Format
//! A file is one or more concatenated LZ4 frames (the standard LZ4 frame format, written by
//! `lz4_flex`, readable by the `lz4` command-line tool), each with its content size and a
//! content checksum, so a corrupt frame is detected: `InvalidData`. A 0-byte file reads as
//! empty.
//!
//! ## Modes
//! - `"r"`: the whole file is decompressed at open; reads serve the original bytes.
//! - `"w"`: creates or truncates at open; what is written is buffered and compressed into one
//!   frame at each publish (`flush()` or drop, as for [`crate::File`]), replacing the file.
//! - `"a"`: each publish compresses only the newly written bytes into a new frame and appends
//!   it atomically (`MemFs::append`), so appending never recompresses what is there.
//!
//! ## `level`
//! Accepted for compatibility with the original memfs (`compression_level`, 0-12 like the
//! `lz4` tool; more is `InvalidInput`). `lz4_flex` has one fast compressor, so the level does
//! not change the match search; it picks the frame's block size: 0-2 64 KiB, 3-5 256 KiB,
//! 6-8 1 MiB, 9-12 4 MiB. Blocks are linked (matches may reach into the previous block), so
//! the ratio barely changes with the level; bigger blocks mean fewer block headers and more
//! memory to decode.

use std::fmt;
use std::io::{self, Read, Write};

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::crypt::Mode;
use crate::error;
use crate::fs::MemFs;
use crate::path::VPath;

/// The highest accepted `level`.
pub const MAX_LEVEL: u32 = 12;

fn block_size(level: u32) -> io::Result<BlockSize> {
    Ok(match level {
        0..=2 => BlockSize::Max64KB,
        3..=5 => BlockSize::Max256KB,
        6..=8 => BlockSize::Max1MB,
        9..=MAX_LEVEL => BlockSize::Max4MB,
        _ => {
            return Err(error::invalid_input(format!(
                "invalid compression level {level}: expected 0 to {MAX_LEVEL}"
            )))
        }
    })
}

/// Compresses `data` into one LZ4 frame (with content size and checksum).
pub fn compress_bytes(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let info = FrameInfo::new()
        .block_size(block_size(level)?)
        .block_mode(BlockMode::Linked)
        .content_size(Some(data.len() as u64))
        .content_checksum(true);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 64));
    enc.write_all(data)?;
    enc.finish()
        .map_err(|e| error::err(io::ErrorKind::Other, format!("lz4 compression failed: {e}")))
}

/// Decompresses a file image (zero or more concatenated LZ4 frames). Total: corrupt input is
/// `InvalidData`, never a panic.
pub fn decompress_bytes(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    // The decoder reports the end of each frame as an end of stream: decode frame after frame
    // until the input is used up.
    while !rest.is_empty() {
        let before = rest.len();
        FrameDecoder::new(&mut rest)
            .read_to_end(&mut out)
            .map_err(|e| error::invalid_data(format!("corrupt lz4 data: {e}")))?;
        if rest.len() == before {
            return Err(error::invalid_data("corrupt lz4 data: no frame"));
        }
    }
    Ok(out)
}

/// An open compressed file: `Read` in mode `"r"`, `Write` in `"w"` and `"a"`. Writes are
/// published (compressed) on `flush()` or drop. See the module docs.
pub struct CompressedFile {
    fs: MemFs,
    path: VPath,
    mode: Mode,
    level: u32,
    /// `r`: the original bytes; `w`: everything written; `a`: what is not yet published.
    data: Vec<u8>,
    pos: usize,
    dirty: bool,
}

impl fmt::Debug for CompressedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompressedFile")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl CompressedFile {
    pub(crate) fn open(
        fs: &MemFs,
        path: VPath,
        mode: &str,
        level: u32,
    ) -> io::Result<CompressedFile> {
        let mode = Mode::parse(mode)?;
        block_size(level)?;
        let p = path.as_string();
        let data = match mode {
            Mode::Read => decompress_bytes(&fs.read(&p)?)
                .map_err(|e| error::invalid_data(format!("{e} in {p}")))?,
            // Creates or truncates now, as open(2) would.
            Mode::Write => {
                fs.write(&p, compress_bytes(&[], level)?)?;
                Vec::new()
            }
            Mode::Append => {
                if !fs.isfile(&p) {
                    fs.append(&p, [])?;
                }
                Vec::new()
            }
        };
        Ok(CompressedFile {
            fs: fs.clone(),
            path,
            mode,
            level,
            data,
            pos: 0,
            dirty: false,
        })
    }

    /// The path this handle was opened with.
    pub fn path(&self) -> String {
        self.path.as_string()
    }

    fn publish(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let frame = compress_bytes(&self.data, self.level)?;
        match self.mode {
            Mode::Read => {}
            Mode::Write => self.fs.write(self.path.as_string(), frame)?,
            Mode::Append => {
                self.fs.append(self.path.as_string(), frame)?;
                self.data.clear();
            }
        }
        self.dirty = false;
        Ok(())
    }
}

impl Read for CompressedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.mode != Mode::Read {
            return Err(error::bad_handle(format!(
                "compressed file not opened for reading: {}",
                self.path
            )));
        }
        let rest = &self.data[self.pos.min(self.data.len())..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for CompressedFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.mode == Mode::Read {
            return Err(error::bad_handle(format!(
                "compressed file not opened for writing: {}",
                self.path
            )));
        }
        self.data.extend_from_slice(data);
        self.dirty = true;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.publish()
    }
}

impl Drop for CompressedFile {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call flush() to see them.
        let _ = self.publish();
    }
}

impl MemFs {
    /// Opens an LZ4-compressed file in mode `"r"`, `"w"` or `"a"`; `level` (0-12) picks the
    /// block size (see [`crate::ext::compress`]). Plain `read()` of the file returns the
    /// compressed bytes. A corrupt file is `InvalidData`.
    pub fn open_compressed(
        &self,
        p: impl AsRef<std::path::Path>,
        mode: &str,
        level: u32,
    ) -> io::Result<CompressedFile> {
        CompressedFile::open(self, VPath::parse(p)?, mode, level)
    }
}
