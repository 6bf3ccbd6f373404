//! Password-encrypted files: the format, and the [`EncryptedFile`] handle that
//! `MemFs::open_encrypted` returns.
//!
//! Owns the encrypted-file format and its key handling; it stores the image through the
//! public write path (`MemFs::write`, or one commit for an append) and must not touch the
//! tree's representation.
//!
//! ## Format (version 1)
//! ```text
//! header  = "MEMFSENC" | version u8 = 1 | algorithm u8 (1 = AES-256-GCM)
//!           | PBKDF2 iterations u32 LE | salt [16]                            (30 bytes)
//! record  = nonce [12] | plaintext length u32 LE | ciphertext | tag [16]
//! file    = header, data records (each ≤ 1 MiB of plaintext), one empty end record
//! ```
//! The key is PBKDF2-HMAC-SHA256(password, salt, iterations), 32 bytes; the salt is random
//! per file, the nonce random per record (so per write). Each record is sealed with
//! AES-256-GCM and authenticates, as associated data, the whole header, its own index, whether
//! it is the end record, and its length. So a wrong password, a flipped bit anywhere, records
//! reordered, removed or cut off (the end record is missing), all fail the same way:
//! `InvalidData`, "wrong password or corrupted data", and never return unauthenticated bytes.
//!
//! ## What the modes mean
//! - `"r"`: the whole file is verified and decrypted at open; reads serve the plaintext.
//! - `"w"`: creates or truncates at open (with a fresh salt); what is written is kept in a
//!   zeroized buffer and the whole file is sealed again, with fresh nonces, at each publish
//!   (`flush()` or drop, as for [`crate::File`]).
//! - `"a"`: the password is checked at open (the end record must open). Each publish appends
//!   only: it checks the end record again, replaces it by new records holding the appended
//!   bytes (each with its own random nonce) and a new end record, in one atomic commit. The
//!   existing ciphertext is neither decrypted nor re-encrypted, so an append costs what it
//!   appends, and concurrent appenders never lose each other's bytes.
//!
//! Keys and plaintext buffers are zeroized when dropped (the `zeroize` crate; buffers grow by
//! copy-and-wipe so no stale copy is left behind). Limit: `ring`'s expanded AES key schedule is
//! not wiped by `ring` itself; it lives only for the duration of one seal or open call.

use std::fmt;
use std::io::{self, Read, Write};

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, AES_256_GCM};
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::blob::Content;
use crate::error;
use crate::fs::MemFs;
use crate::path::VPath;
use crate::tree::ops;

/// The first bytes of every encrypted file.
pub const MAGIC: &[u8; 8] = b"MEMFSENC";
/// The format version written (and the only one read).
pub const VERSION: u8 = 1;
/// PBKDF2-HMAC-SHA256 iterations used for new files.
pub const PBKDF2_ITERATIONS: u32 = 100_000;
/// Most plaintext bytes in one record.
pub const RECORD_MAX: usize = 1 << 20;

const ALG_AES_256_GCM: u8 = 1;
/// Iteration counts accepted when reading (a forged header cannot make a read run for hours).
const ITERATIONS_RANGE: std::ops::RangeInclusive<u32> = 100_000..=1_000_000;
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 4 + SALT_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const RECORD_HEAD: usize = NONCE_LEN + 4;
const END_RECORD_LEN: usize = RECORD_HEAD + TAG_LEN;
const KEY_LEN: usize = 32;

/// The one error for anything that does not authenticate.
fn corrupted(detail: &str) -> io::Error {
    error::invalid_data(format!("wrong password or corrupted data ({detail})"))
}

fn random(buf: &mut [u8]) -> io::Result<()> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| error::err(io::ErrorKind::Other, "the system random generator failed"))
}

/// A derived key and the header it belongs to (the header is authenticated by every record).
struct FileKey {
    header: [u8; HEADER_LEN],
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl FileKey {
    /// A new key with a fresh random salt.
    fn generate(password: &str) -> io::Result<FileKey> {
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = VERSION;
        header[9] = ALG_AES_256_GCM;
        header[10..14].copy_from_slice(&PBKDF2_ITERATIONS.to_le_bytes());
        random(&mut header[14..])?;
        Self::derive(header, password)
    }

    /// The key for an existing header (checked: magic, version, algorithm, iterations).
    fn from_header(data: &[u8], password: &str) -> io::Result<FileKey> {
        let header: [u8; HEADER_LEN] = data
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| corrupted("too short for a header"))?;
        if &header[..8] != MAGIC {
            return Err(corrupted("not a memfs encrypted file"));
        }
        if header[8] != VERSION || header[9] != ALG_AES_256_GCM {
            return Err(corrupted("unknown version or algorithm"));
        }
        if !ITERATIONS_RANGE.contains(&iterations(&header)) {
            return Err(corrupted("unsupported iteration count"));
        }
        Self::derive(header, password)
    }

    fn derive(header: [u8; HEADER_LEN], password: &str) -> io::Result<FileKey> {
        let rounds = std::num::NonZeroU32::new(iterations(&header))
            .ok_or_else(|| corrupted("zero iterations"))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &header[14..],
            password.as_bytes(),
            &mut key[..],
        );
        Ok(FileKey { header, key })
    }

    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key[..]).expect("32-byte key"))
    }

    fn aad(&self, index: u64, end: bool, len: u32) -> [u8; HEADER_LEN + 13] {
        let mut aad = [0u8; HEADER_LEN + 13];
        aad[..HEADER_LEN].copy_from_slice(&self.header);
        aad[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&index.to_le_bytes());
        aad[HEADER_LEN + 8] = u8::from(end);
        aad[HEADER_LEN + 9..].copy_from_slice(&len.to_le_bytes());
        aad
    }

    /// Appends one sealed record holding `plain` (≤ `RECORD_MAX` bytes) to `out`.
    fn seal(&self, index: u64, end: bool, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        let len = plain.len() as u32;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&len.to_le_bytes());
        let start = out.len();
        out.extend_from_slice(plain);
        let tag: Tag = self
            .cipher()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(index, end, len)),
                &mut out[start..],
            )
            .map_err(|_| error::invalid_input("record too large to encrypt"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens `rec` (the record at `index`) and appends its plaintext to `out`.
    fn open(&self, index: u64, end: bool, rec: &Record, out: &mut SecretBuf) -> io::Result<()> {
        let start = out.len();
        out.extend(rec.sealed);
        let aad = self.aad(index, end, rec.len as u32);
        let ok = self
            .cipher()
            .open_in_place(
                Nonce::assume_unique_for_key(rec.nonce),
                Aad::from(aad),
                &mut out.bytes_mut()[start..],
            )
            .is_ok();
        if !ok {
            out.truncate(start);
            return Err(corrupted("authentication failed"));
        }
        out.truncate(start + rec.len);
        Ok(())
    }

    /// The whole image of a file holding `plain`: header, data records, end record.
    fn seal_image(&self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let records = plain.len().div_ceil(RECORD_MAX);
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + (records + 1) * END_RECORD_LEN);
        out.extend_from_slice(&self.header);
        self.seal_records(0, plain, &mut out)?;
        Ok(out)
    }

    /// Appends data records for `plain` numbered from `first`, then the end record.
    fn seal_records(&self, first: u64, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut index = first;
        for piece in plain.chunks(RECORD_MAX) {
            self.seal(index, false, piece, out)?;
            index += 1;
        }
        self.seal(index, true, &[], out)
    }

    /// Checks that `image` is a file with this key's header whose end record opens (so the
    /// password is right and the file is complete); returns the end record's index.
    fn check_end(&self, image: &[u8]) -> io::Result<u64> {
        if image.get(..HEADER_LEN) != Some(&self.header[..]) {
            return Err(corrupted("the file was replaced while open"));
        }
        let records = parse_records(&image[HEADER_LEN..])?;
        let end = records.last().expect("parse_records returns at least one");
        let end_index = (records.len() - 1) as u64;
        self.open(end_index, true, end, &mut SecretBuf::with_capacity(TAG_LEN))?;
        Ok(end_index)
    }

    /// `image` (an existing file with this key's header) with `plain` appended: the end record
    /// is checked and replaced; nothing else is decrypted.
    fn append_image(&self, image: &[u8], plain: &[u8]) -> io::Result<Vec<u8>> {
        let end_index = self.check_end(image)?;
        let keep = image.len() - END_RECORD_LEN;
        let mut out = Vec::with_capacity(keep + plain.len() + 2 * END_RECORD_LEN);
        out.extend_from_slice(&image[..keep]);
        self.seal_records(end_index, plain, &mut out)?;
        Ok(out)
    }
}

fn iterations(header: &[u8; HEADER_LEN]) -> u32 {
    u32::from_le_bytes(header[10..14].try_into().expect("4 bytes"))
}

/// One record, parsed but not yet authenticated.
struct Record<'a> {
    nonce: [u8; NONCE_LEN],
    len: usize,
    /// Ciphertext and tag.
    sealed: &'a [u8],
}

/// Splits the bytes after the header into records; the last must be an (empty) end record.
fn parse_records(mut body: &[u8]) -> io::Result<Vec<Record<'_>>> {
    let mut records = Vec::new();
    while !body.is_empty() {
        if body.len() < RECORD_HEAD {
            return Err(corrupted("truncated record"));
        }
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().expect("12 bytes");
        let len = u32::from_le_bytes(body[NONCE_LEN..RECORD_HEAD].try_into().expect("4 bytes"));
        let len = len as usize;
        if len > RECORD_MAX {
            return Err(corrupted("record too long"));
        }
        let total = RECORD_HEAD + len + TAG_LEN;
        if body.len() < total {
            return Err(corrupted("truncated record"));
        }
        records.push(Record {
            nonce,
            len,
            sealed: &body[RECORD_HEAD..total],
        });
        body = &body[total..];
    }
    match records.last() {
        Some(r) if r.len == 0 => Ok(records),
        _ => Err(corrupted("missing end record: truncated")),
    }
}

/// Verifies and decrypts a whole image into a zeroizing buffer; returns the key too.
fn decrypt_image(data: &[u8], password: &str) -> io::Result<(FileKey, SecretBuf)> {
    // Check the framing before spending time on the key.
    if data.len() < HEADER_LEN {
        return Err(corrupted("too short for a header"));
    }
    let records = parse_records(&data[HEADER_LEN..])?;
    let key = FileKey::from_header(data, password)?;
    let total: usize = records.iter().map(|r| r.len).sum();
    let mut out = SecretBuf::with_capacity(total + TAG_LEN);
    let last = records.len() - 1;
    for (i, rec) in records.iter().enumerate() {
        key.open(i as u64, i == last, rec, &mut out)?;
    }
    Ok((key, out))
}

/// Parses, verifies and decrypts a whole encrypted file image. Total: any input gives `Ok` or
/// an `InvalidData` error, never a panic. (Used by the fuzz target.)
pub fn decrypt_bytes(data: &[u8], password: &str) -> io::Result<Vec<u8>> {
    decrypt_image(data, password).map(|(_, b)| b.as_slice().to_vec())
}

/// Encrypts `plain` into a complete file image (fresh salt and nonces).
pub fn encrypt_bytes(plain: &[u8], password: &str) -> io::Result<Vec<u8>> {
    FileKey::generate(password)?.seal_image(plain)
}

/// A byte buffer for plaintext: wiped on drop, and grown by copy-and-wipe so no stale copy of
/// its content stays in freed memory.
struct SecretBuf(Zeroizing<Vec<u8>>);

impl SecretBuf {
    fn with_capacity(n: usize) -> Self {
        SecretBuf(Zeroizing::new(Vec::with_capacity(n)))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn truncate(&mut self, n: usize) {
        let len = self.0.len();
        if n < len {
            self.0[n..].zeroize();
            self.0.truncate(n);
        }
    }
    fn extend(&mut self, data: &[u8]) {
        let need = self.0.len() + data.len();
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(2 * self.0.capacity()).max(64));
            bigger.extend_from_slice(&self.0);
            // The old allocation is wiped when the old Zeroizing drops.
            self.0 = Zeroizing::new(bigger);
        }
        self.0.extend_from_slice(data);
    }
    fn clear(&mut self) {
        self.truncate(0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
    Append,
}

impl Mode {
    /// `r`, `w` or `a`, optionally followed by `b` or `t`.
    pub(crate) fn parse(mode: &str) -> io::Result<Mode> {
        let m = match mode.strip_suffix(['b', 't']).unwrap_or(mode) {
            "r" => Mode::Read,
            "w" => Mode::Write,
            "a" => Mode::Append,
            _ => {
                return Err(error::invalid_input(format!(
                    "invalid mode {mode:?}: expected r, w or a (optionally with b or t)"
                )))
            }
        };
        Ok(m)
    }
}

/// An open encrypted file: `Read` in mode `"r"`, `Write` in `"w"` and `"a"`. Writes are
/// published (encrypted) on `flush()` or drop. See the module docs for the format.
pub struct EncryptedFile {
    fs: MemFs,
    path: VPath,
    mode: Mode,
    key: FileKey,
    /// `r`: the plaintext; `w`: everything written; `a`: what is not yet published.
    plain: SecretBuf,
    pos: usize,
    dirty: bool,
}

impl fmt::Debug for EncryptedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFile")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl EncryptedFile {
    pub(crate) fn open(
        fs: &MemFs,
        path: VPath,
        mode: &str,
        password: &str,
    ) -> io::Result<EncryptedFile> {
        let mode = Mode::parse(mode)?;
        let existing = match mode {
            Mode::Read => Some(fs.read(path.as_string())?),
            Mode::Write => None,
            Mode::Append => match fs.read(path.as_string()) {
                Ok(bytes) if !bytes.is_empty() => Some(bytes),
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            },
        };
        let fresh = existing.is_none();
        let (key, plain) = match existing {
            Some(data) if mode == Mode::Read => decrypt_image(&data, password)?,
            Some(data) => {
                let key = FileKey::from_header(&data, password)?;
                // Checks the password and the end record now rather than at the first flush.
                key.check_end(&data)?;
                (key, SecretBuf::with_capacity(0))
            }
            None => (FileKey::generate(password)?, SecretBuf::with_capacity(0)),
        };
        let mut file = EncryptedFile {
            fs: fs.clone(),
            path,
            mode,
            key,
            plain,
            pos: 0,
            dirty: fresh,
        };
        // A new or truncated file is written at once, as open(2) would.
        file.publish()?;
        Ok(file)
    }

    /// The path this handle was opened with.
    pub fn path(&self) -> String {
        self.path.as_string()
    }

    fn publish(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        match self.mode {
            Mode::Read => {}
            Mode::Write => {
                let image = self.key.seal_image(self.plain.as_slice())?;
                self.fs.write(self.path.as_string(), image)?;
            }
            Mode::Append => {
                let (key, plain, path) = (&self.key, self.plain.as_slice(), &self.path);
                self.fs.commit(|r, c| {
                    let image = match ops::file_content(r, path) {
                        Ok((content, _)) if content.len() > 0 => {
                            key.append_image(&content.to_vec()?, plain)?
                        }
                        Ok(_) => key.seal_image(plain)?,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => key.seal_image(plain)?,
                        Err(e) => return Err(e),
                    };
                    let content = Content::from_bytes(c.store, &image);
                    crate::op::Op::Write(path.clone(), content).apply(r, c)
                })?;
                self.plain.clear();
            }
        }
        self.dirty = false;
        Ok(())
    }
}

impl Read for EncryptedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.mode != Mode::Read {
            return Err(error::bad_handle(format!(
                "encrypted file not opened for reading: {}",
                self.path
            )));
        }
        let rest = &self.plain.as_slice()[self.pos.min(self.plain.len())..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for EncryptedFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.mode == Mode::Read {
            return Err(error::bad_handle(format!(
                "encrypted file not opened for writing: {}",
                self.path
            )));
        }
        self.plain.extend(data);
        self.dirty = true;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.publish()
    }
}

impl Drop for EncryptedFile {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call flush() to see them.
        let _ = self.publish();
    }
}

impl MemFs {
    /// Opens a password-encrypted file (AES-256-GCM, key from PBKDF2-HMAC-SHA256) in mode
    /// `"r"`, `"w"` or `"a"`. A wrong password or any corruption is `InvalidData` ("wrong
    /// password or corrupted data"). Plain `read()` of the file returns the ciphertext. See
    /// [`crate::ext::crypt`] for the format and what each mode does.
    pub fn open_encrypted(
        &self,
        p: impl AsRef<std::path::Path>,
        mode: &str,
        password: &str,
    ) -> io::Result<EncryptedFile> {
        EncryptedFile::open(self, VPath::parse(p)?, mode, password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_round_trip_and_tamper() {
        let img = encrypt_bytes(b"hello", "pw").unwrap();
        assert_eq!(img.len(), HEADER_LEN + 2 * END_RECORD_LEN + 5);
        assert_eq!(decrypt_bytes(&img, "pw").unwrap(), b"hello");
        assert_eq!(
            decrypt_bytes(&img, "bad").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        for i in 0..img.len() {
            let mut bad = img.clone();
            bad[i] ^= 1;
            assert!(decrypt_bytes(&bad, "pw").is_err(), "flip at {i} accepted");
        }
        for cut in 0..img.len() {
            assert!(decrypt_bytes(&img[..cut], "pw").is_err(), "cut at {cut}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Total: arbitrary bytes, with or without a valid header in front, never panic.
        #[test]
        fn decrypt_bytes_is_total(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            keep_header in proptest::prelude::any::<bool>(),
        ) {
            let mut data = Vec::new();
            if keep_header {
                data.extend_from_slice(&encrypt_bytes(b"", "pw").unwrap()[..HEADER_LEN]);
            }
            data.extend_from_slice(&tail);
            proptest::prop_assert!(decrypt_bytes(&data, "pw").is_err());
        }
    }
}
