//! `File` handles and `OpenOptions`.
//!
//! Consistency model (close-to-open, like NFS): a handle reads the version of the file it
//! opened; its writes go to a private copy-on-write buffer, which is published to the
//! filesystem by `flush()`, `sync_all()`, `sync_data()` or drop. Other handles and readers see
//! the new bytes from the publish on. Two handles writing the same path: the last publish wins.
//! A handle opened in append mode publishes only what it appended, at the end of the file as it
//! is at publish time, so concurrent appenders never lose each other's bytes (POSIX `O_APPEND`).
//! A handle writes to its file, not to its path (as a Linux file descriptor writes to its
//! inode): if the file was renamed meanwhile, the publish goes to where it is now, found by its
//! inode number; if it was removed (and is nowhere in the tree), the publish is dropped with the
//! file, as a write to an unlinked file is gone at its last close.
//!
//! This module owns handle state only; all tree changes go through `MemFs::commit`.

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

use crate::blob::Content;
use crate::error;
use crate::fs::MemFs;
use crate::path::VPath;
use crate::tree::ops::{self, Create, WriteData};
use crate::types::Metadata;

/// Options for [`MemFs::open_with`], with `std::fs::OpenOptions`'s meaning and validation.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
}

impl OpenOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn read(&mut self, v: bool) -> &mut Self {
        self.read = v;
        self
    }
    pub fn write(&mut self, v: bool) -> &mut Self {
        self.write = v;
        self
    }
    pub fn append(&mut self, v: bool) -> &mut Self {
        self.append = v;
        self
    }
    pub fn truncate(&mut self, v: bool) -> &mut Self {
        self.truncate = v;
        self
    }
    pub fn create(&mut self, v: bool) -> &mut Self {
        self.create = v;
        self
    }
    pub fn create_new(&mut self, v: bool) -> &mut Self {
        self.create_new = v;
        self
    }

    /// Options for a Python `open()` mode: `r w a x r+ w+ a+ x+`, each optionally with one `b`
    /// or `t` anywhere after the first letter.
    pub fn from_mode(mode: &str) -> io::Result<OpenOptions> {
        let bad = || error::invalid_input(format!("invalid mode: {mode:?}"));
        let mut chars = mode.chars();
        let kind = chars.next().ok_or_else(bad)?;
        let (mut plus, mut text_or_binary) = (false, false);
        for c in chars {
            match c {
                '+' if !plus => plus = true,
                'b' | 't' if !text_or_binary => text_or_binary = true,
                _ => return Err(bad()),
            }
        }
        let mut o = OpenOptions::new();
        match kind {
            'r' => o.read(true).write(plus),
            'w' => o.write(true).create(true).truncate(true).read(plus),
            'a' => o.append(true).create(true).read(plus),
            'x' => o.write(true).create_new(true).read(plus),
            _ => return Err(bad()),
        };
        Ok(o)
    }

    fn validate(&self) -> io::Result<Create> {
        let writes = self.write || self.append;
        if !self.read && !writes {
            return Err(error::invalid_input(
                "a file must be opened for reading, writing or appending",
            ));
        }
        if !writes && (self.truncate || self.create || self.create_new) {
            return Err(error::invalid_input(
                "creating or truncating a file requires write or append access",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(error::invalid_input(
                "a file cannot be opened for both appending and truncating",
            ));
        }
        Ok(if self.create_new {
            Create::New
        } else if self.create {
            Create::IfMissing
        } else {
            Create::No
        })
    }
}

/// The handle's bytes: the version it opened (shared, not copied) until its first write.
enum Buffer {
    Clean(Content),
    Dirty(Vec<u8>),
}

/// An open file: `Read + Write + Seek + BufRead`. See the module docs for when writes become
/// visible.
pub struct File {
    fs: MemFs,
    path: VPath,
    /// The inode number of the file opened: where its publishes go.
    ino: u64,
    pos: u64,
    readable: bool,
    writable: bool,
    append: bool,
    buf: Buffer,
    /// In append mode: the length of the buffer's prefix that is already published.
    published_len: u64,
    dirty: bool,
    /// Read-ahead for `BufRead` (only used by `fill_buf`).
    line_buf: Vec<u8>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

impl File {
    pub(crate) fn open(fs: MemFs, path: VPath, opts: &OpenOptions) -> io::Result<File> {
        let create = opts.validate()?;
        let writes = opts.write || opts.append;
        if let Some(c) = fs.credentials() {
            // Checked at open, as open(2) does: the handle keeps what it was allowed.
            let creating = create != ops::Create::No;
            let root = fs.load_root();
            crate::access::check_open(&root, &path, opts.read, writes, creating, c)?;
        }
        let content = if writes {
            // Creating or truncating is visible at once, as with open(2).
            let data = if opts.truncate {
                WriteData::Replace(Content::default())
            } else {
                WriteData::Append(&[])
            };
            let needs_commit = opts.truncate
                || fs
                    .with_root(|r| ops::check_open_write(r, &path, create))?
                    .is_none();
            if needs_commit {
                fs.commit_checked(|r, c| {
                    let Some(cred) = c.cred else {
                        return ops::write_file(r, c, &path, create, data);
                    };
                    let creating = create != ops::Create::No;
                    let effects = crate::access::check_open(r, &path, false, true, creating, cred)?;
                    let len = ops::write_file(r, c, &path, create, data)?;
                    crate::access::apply_effects(r, &effects, cred)?;
                    Ok(len)
                })?;
            }
            fs.with_root(|r| ops::file_content(r, &path))?
        } else {
            fs.with_root(|r| ops::file_content(r, &path))?
        };
        let (content, ino) = (content.0, content.1.ino);
        let len = content.len();
        Ok(File {
            fs,
            path,
            ino,
            pos: 0,
            readable: opts.read,
            writable: writes,
            append: opts.append,
            buf: Buffer::Clean(content),
            published_len: len,
            dirty: false,
            line_buf: Vec::new(),
        })
    }

    /// The path this handle was opened with.
    pub fn path(&self) -> String {
        self.path.as_string()
    }

    fn len(&self) -> u64 {
        match &self.buf {
            Buffer::Clean(c) => c.len(),
            Buffer::Dirty(v) => v.len() as u64,
        }
    }

    fn bytes_mut(&mut self) -> io::Result<&mut Vec<u8>> {
        if let Buffer::Clean(c) = &self.buf {
            self.buf = Buffer::Dirty(c.to_vec()?);
        }
        match &mut self.buf {
            Buffer::Dirty(v) => Ok(v),
            Buffer::Clean(_) => unreachable!("made dirty above"),
        }
    }

    /// Truncates or zero-extends the file (the handle must be writable).
    pub fn set_len(&mut self, size: u64) -> io::Result<()> {
        if !self.writable {
            return Err(error::invalid_input(format!(
                "file not opened for writing: {}",
                self.path
            )));
        }
        let size = usize::try_from(size)
            .map_err(|_| error::err(io::ErrorKind::FileTooLarge, "file too large"))?;
        self.bytes_mut()?.resize(size, 0);
        self.dirty = true;
        if (self.published_len as usize) > size {
            // Shrinking below what was published: publish as a whole replace.
            self.published_len = 0;
            self.append = false;
        }
        Ok(())
    }

    /// Metadata of the file as this handle sees it (its own unpublished length included).
    pub fn metadata(&self) -> io::Result<Metadata> {
        let mut m = self.fs.metadata(self.path.as_string())?;
        m.set_len_for_handle(self.len());
        Ok(m)
    }

    /// Publishes pending writes (same as `flush`).
    pub fn sync_all(&mut self) -> io::Result<()> {
        self.publish()
    }

    /// Publishes pending writes (same as `flush`).
    pub fn sync_data(&mut self) -> io::Result<()> {
        self.publish()
    }

    fn publish(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let Buffer::Dirty(bytes) = &self.buf else {
            self.dirty = false;
            return Ok(());
        };
        if self.fs.faults().enabled() {
            self.fs.faults().check("flush", &[&self.path.as_string()])?;
        }
        let data = if self.append {
            WriteData::Append(&bytes[self.published_len as usize..])
        } else {
            WriteData::Replace(Content::from_bytes(self.fs.store(), bytes))
        };
        let (path, ino) = (&self.path, self.ino);
        self.fs
            .commit_checked(|r, c| match ops::path_of_file(r, path, ino)? {
                Some(p) => ops::write_file(r, c, &p, Create::No, data.clone()),
                None => Ok(0),
            })?;
        self.published_len = bytes.len() as u64;
        self.dirty = false;
        Ok(())
    }
}

impl Read for File {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.readable {
            return Err(error::bad_handle(format!(
                "file not opened for reading: {}",
                self.path
            )));
        }
        let n = match &self.buf {
            Buffer::Clean(c) => c.read_at(self.pos, out)?,
            Buffer::Dirty(v) => {
                let start = (self.pos as usize).min(v.len());
                let n = (v.len() - start).min(out.len());
                out[..n].copy_from_slice(&v[start..start + n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for File {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.writable {
            return Err(error::bad_handle(format!(
                "file not opened for writing: {}",
                self.path
            )));
        }
        let at = if self.append { self.len() } else { self.pos };
        let at = usize::try_from(at)
            .map_err(|_| error::err(io::ErrorKind::FileTooLarge, "file too large"))?;
        let buf = self.bytes_mut()?;
        if buf.len() < at {
            buf.resize(at, 0);
        }
        let overlap = (buf.len() - at).min(data.len());
        buf[at..at + overlap].copy_from_slice(&data[..overlap]);
        buf.extend_from_slice(&data[overlap..]);
        self.pos = (at + data.len()) as u64;
        self.dirty = true;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.publish()
    }
}

impl Seek for File {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, off) = match to {
            SeekFrom::Start(n) => {
                self.pos = n;
                return Ok(n);
            }
            SeekFrom::End(off) => (self.len(), off),
            SeekFrom::Current(off) => (self.pos, off),
        };
        match base.checked_add_signed(off) {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(error::invalid_input(
                "invalid seek to a negative or overflowing position",
            )),
        }
    }
}

impl BufRead for File {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.line_buf.is_empty() {
            let mut chunk = vec![0u8; 8192];
            let n = self.read(&mut chunk)?;
            chunk.truncate(n);
            // `read` advanced pos; consume() accounts for what the caller takes, so step back.
            self.pos -= n as u64;
            self.line_buf = chunk;
        }
        Ok(&self.line_buf)
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.line_buf.len());
        self.line_buf.drain(..amt);
        self.pos += amt as u64;
        // Keep the read-ahead only while it is still valid for the current position.
        self.line_buf.clear();
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; call flush() to see them.
        let _ = self.publish();
    }
}
