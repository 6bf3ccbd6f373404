//! `EditBuffer`: the bytes of a file open for writing through the mount, kept in the store's
//! `CHUNK_SIZE` layout so that a write costs O(bytes written) and a publish re-hashes only the
//! chunks that changed since the last one.
//!
//! Chunk `i` covers bytes `[i * CHUNK_SIZE, min((i + 1) * CHUNK_SIZE, len))`: every chunk but the
//! last is full. A chunk is either still the stored blob it was loaded from (`Shared`, no copy)
//! or a private copy being edited (`Owned`). Publishing hashes the owned chunks (on several
//! threads when there are many), stores them, and turns them back into `Shared` references, so
//! writing 1 GiB and then appending one byte re-hashes one chunk, not the whole file.
//!
//! This module only manipulates bytes; it never touches the tree (the server publishes the
//! `Content` it returns through `MemFs::commit`).

use std::io;
use std::sync::Arc;

use crate::blob::{BlobRef, BlobStore, ChunkBytes, Content, CHUNK_SIZE, INLINE_MAX};

enum Piece {
    Shared(BlobRef),
    Owned(Vec<u8>),
}

impl Piece {
    /// The piece's bytes (a chunk of a remote store's tree is fetched: this can fail).
    fn data(&self) -> io::Result<ChunkBytes<'_>> {
        match self {
            Piece::Shared(b) => b.bytes(),
            Piece::Owned(v) => Ok(ChunkBytes::Here(v)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Piece::Shared(b) => b.len(),
            Piece::Owned(v) => v.len(),
        }
    }

    fn owned(&mut self) -> io::Result<&mut Vec<u8>> {
        if let Piece::Shared(b) = self {
            let mut v = Vec::with_capacity(CHUNK_SIZE);
            v.extend_from_slice(&b.bytes()?);
            *self = Piece::Owned(v);
        }
        match self {
            Piece::Owned(v) => Ok(v),
            Piece::Shared(_) => unreachable!("made owned above"),
        }
    }
}

/// An editable file content (see the module docs).
pub(crate) struct EditBuffer {
    pieces: Vec<Piece>,
    len: u64,
}

const CS: u64 = CHUNK_SIZE as u64;

impl EditBuffer {
    /// A buffer holding `content`; stored chunks are shared, not copied.
    pub(crate) fn from_content(content: &Content) -> Self {
        let pieces = match content {
            Content::Inline(b) if b.is_empty() => Vec::new(),
            Content::Inline(b) => vec![Piece::Owned(b.to_vec())],
            Content::Chunks(_) => content
                .chunk_refs()
                .iter()
                .cloned()
                .map(Piece::Shared)
                .collect(),
        };
        EditBuffer {
            pieces,
            len: content.len(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Copies bytes from `offset` into `out`; returns how many (0 at or past the end).
    pub(crate) fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        let mut pos = offset;
        while done < out.len() && pos < self.len {
            let piece = self.pieces[(pos / CS) as usize].data()?;
            let src = &piece[(pos % CS) as usize..];
            let n = src.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&src[..n]);
            done += n;
            pos += n as u64;
        }
        Ok(done)
    }

    /// Truncates or zero-extends to `new_len`. Whole zero chunks are one shared stored chunk,
    /// so `truncate -s 10G` costs no 10 GiB of memory.
    pub(crate) fn set_len(&mut self, new_len: u64, store: &BlobStore) -> io::Result<()> {
        if new_len < self.len {
            let keep = new_len.div_ceil(CS) as usize;
            self.pieces.truncate(keep);
            let tail = (new_len % CS) as usize;
            if tail != 0 {
                if let Some(last) = self.pieces.last_mut() {
                    last.owned()?.truncate(tail);
                }
            }
        } else if new_len > self.len {
            // Fill the last chunk up to its end (or to new_len).
            let last_start = (self.pieces.len() as u64).saturating_sub(1) * CS;
            if let Some(last) = self.pieces.last_mut() {
                let have = last.len();
                if have < CHUNK_SIZE {
                    let want = (new_len - last_start).min(CS) as usize;
                    last.owned()?.resize(want, 0);
                }
            }
            let mut zero: Option<BlobRef> = None;
            while (self.pieces.len() as u64) * CS < new_len {
                let rest = new_len - self.pieces.len() as u64 * CS;
                if rest >= CS {
                    let z = zero.get_or_insert_with(|| store.insert(&[0u8; CHUNK_SIZE]));
                    self.pieces.push(Piece::Shared(z.clone()));
                } else {
                    self.pieces.push(Piece::Owned(vec![0; rest as usize]));
                }
            }
        }
        self.len = new_len;
        Ok(())
    }

    /// Writes `data` at `offset`, zero-filling a gap after the current end.
    pub(crate) fn write_at(
        &mut self,
        offset: u64,
        data: &[u8],
        store: &BlobStore,
    ) -> io::Result<()> {
        if offset > self.len {
            self.set_len(offset, store)?;
        }
        // Overwrite the part that lies inside the current length.
        let inside = ((self.len - offset) as usize).min(data.len());
        let mut pos = offset;
        let mut src = &data[..inside];
        while !src.is_empty() {
            let piece = self.pieces[(pos / CS) as usize].owned()?;
            let within = (pos % CS) as usize;
            let n = (piece.len() - within).min(src.len());
            piece[within..within + n].copy_from_slice(&src[..n]);
            src = &src[n..];
            pos += n as u64;
        }
        // Append the rest: fill the last chunk, then add new ones.
        let mut rest = &data[inside..];
        if rest.is_empty() {
            return Ok(());
        }
        if let Some(last) = self.pieces.last_mut() {
            if last.len() < CHUNK_SIZE {
                let v = last.owned()?;
                let n = (CHUNK_SIZE - v.len()).min(rest.len());
                v.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
        }
        for part in rest.chunks(CHUNK_SIZE) {
            let mut v = Vec::with_capacity(CHUNK_SIZE);
            v.extend_from_slice(part);
            self.pieces.push(Piece::Owned(v));
        }
        self.len = offset + data.len() as u64;
        Ok(())
    }

    /// The content to publish. Edited chunks are hashed and stored, and become shared again.
    pub(crate) fn store_content(&mut self, store: &BlobStore) -> io::Result<Content> {
        if self.len as usize <= INLINE_MAX {
            let mut bytes = Vec::with_capacity(self.len as usize);
            for p in &self.pieces {
                bytes.extend_from_slice(&p.data()?);
            }
            return Ok(Content::Inline(Arc::from(bytes)));
        }
        let store_piece = |p: &mut Piece| {
            if let Piece::Owned(v) = p {
                let hash = *blake3::hash(v).as_bytes();
                *p = Piece::Shared(store.insert_hashed_vec(hash, std::mem::take(v)));
            }
        };
        let owned = self
            .pieces
            .iter()
            .filter(|p| matches!(p, Piece::Owned(_)))
            .count();
        if owned >= 16 {
            use rayon::prelude::*;
            self.pieces.par_iter_mut().for_each(store_piece);
        } else {
            self.pieces.iter_mut().for_each(store_piece);
        }
        let refs = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Shared(b) => b.clone(),
                Piece::Owned(_) => unreachable!("all pieces stored above"),
            })
            .collect();
        Ok(Content::from_stored_chunks(refs, self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(buf: &mut EditBuffer, model: &[u8], store: &BlobStore) {
        assert_eq!(buf.len(), model.len() as u64);
        let mut out = vec![0u8; model.len() + 10];
        assert_eq!(buf.read_at(0, &mut out).unwrap(), model.len());
        assert_eq!(&out[..model.len()], model);
        let c = buf.store_content(store).unwrap();
        assert_eq!(c.to_vec().unwrap(), model);
        // The same bytes as a fresh content (same layout, same dedup).
        assert_eq!(
            Content::from_bytes(store, model).chunk_refs().len(),
            c.chunk_refs().len()
        );
    }

    #[test]
    fn writes_truncates_and_extends_match_a_vec() {
        let store = BlobStore::new();
        let mut model: Vec<u8> = (0..(3 * CHUNK_SIZE + 77)).map(|i| i as u8).collect();
        let mut buf = EditBuffer::from_content(&Content::from_bytes(&store, &model));
        check(&mut buf, &model, &store);
        let mut rng = 12345u64;
        let mut next = |m: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % m
        };
        for step in 0..300 {
            match next(3) {
                0 | 1 => {
                    let off = next(5 * CS);
                    let n = next(2 * CS) as usize;
                    let data: Vec<u8> = (0..n).map(|i| (i as u64 + step) as u8).collect();
                    buf.write_at(off, &data, &store).unwrap();
                    let end = off as usize + n;
                    if model.len() < end {
                        model.resize(end, 0);
                    }
                    model[off as usize..end].copy_from_slice(&data);
                }
                _ => {
                    let n = next(5 * CS);
                    buf.set_len(n, &store).unwrap();
                    model.resize(n as usize, 0);
                }
            }
            if step % 25 == 0 {
                check(&mut buf, &model, &store);
            }
        }
        check(&mut buf, &model, &store);
    }

    #[test]
    fn sparse_extension_shares_one_zero_chunk() {
        let store = BlobStore::new();
        let mut buf = EditBuffer::from_content(&Content::default());
        buf.set_len(100 * CS, &store).unwrap();
        let c = buf.store_content(&store).unwrap();
        assert_eq!(c.len(), 100 * CS);
        assert_eq!(store.blob_count(), 1);
        let mut small = EditBuffer::from_content(&Content::default());
        small.write_at(10, b"hi", &store).unwrap();
        assert_eq!(
            small.store_content(&store).unwrap().to_vec().unwrap(),
            b"\0\0\0\0\0\0\0\0\0\0hi"
        );
    }
}
