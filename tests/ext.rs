//! The extended filesystem: encrypted files, compressed files, user metadata, backups.

mod common;
use common::noise;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};

use memfs::ext::{compress, crypt};
use memfs::MemFs;

const WRONG: &str = "wrong password or corrupted data";

fn read_encrypted(fs: &MemFs, p: &str, pw: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    fs.open_encrypted(p, "r", pw)?.read_to_end(&mut out)?;
    Ok(out)
}

fn read_compressed(fs: &MemFs, p: &str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    fs.open_compressed(p, "r", 0)?.read_to_end(&mut out)?;
    Ok(out)
}

fn assert_wrong(r: std::io::Result<Vec<u8>>) {
    let e = r.expect_err("must fail");
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains(WRONG), "{e}");
}

#[test]
fn encrypted_round_trip_and_plain_read_gives_ciphertext() {
    let fs = MemFs::new();
    let mut f = fs.open_encrypted("/secret.txt", "w", "mysecret").unwrap();
    f.write_all(b"This is sensitive information").unwrap();
    drop(f);
    assert_eq!(
        read_encrypted(&fs, "/secret.txt", "mysecret").unwrap(),
        b"This is sensitive information"
    );
    let raw = fs.read("/secret.txt").unwrap();
    assert!(raw.starts_with(crypt::MAGIC));
    assert!(!raw.windows(9).any(|w| w == b"sensitive"));
    // Same plaintext, fresh salt and nonces: a different image.
    let mut g = fs.open_encrypted("/again.txt", "w", "mysecret").unwrap();
    g.write_all(b"This is sensitive information").unwrap();
    g.flush().unwrap();
    assert_ne!(fs.read("/again.txt").unwrap(), raw);
    assert_eq!(crypt::decrypt_bytes(&raw, "mysecret").unwrap().len(), 29);
}

#[test]
fn encrypted_publish_on_flush_and_truncate_at_open() {
    let fs = MemFs::new();
    let mut f = fs.open_encrypted("/s", "w", "pw").unwrap();
    // Created at once, empty.
    assert_eq!(read_encrypted(&fs, "/s", "pw").unwrap(), b"");
    f.write_all(b"one").unwrap();
    assert_eq!(read_encrypted(&fs, "/s", "pw").unwrap(), b"");
    f.flush().unwrap();
    assert_eq!(read_encrypted(&fs, "/s", "pw").unwrap(), b"one");
    f.write_all(b" two").unwrap();
    drop(f);
    assert_eq!(read_encrypted(&fs, "/s", "pw").unwrap(), b"one two");
    // "w" again truncates at open.
    let _g = fs.open_encrypted("/s", "wb", "pw").unwrap();
    assert_eq!(read_encrypted(&fs, "/s", "pw").unwrap(), b"");
}

#[test]
fn wrong_password_tampering_and_truncation_are_invalid_data() {
    let fs = MemFs::new();
    let mut f = fs.open_encrypted("/s", "w", "right").unwrap();
    f.write_all(b"attack at dawn").unwrap();
    drop(f);
    let good = fs.read("/s").unwrap();

    assert_wrong(read_encrypted(&fs, "/s", "wrong"));
    assert_wrong(read_encrypted(&fs, "/s", ""));

    // One flipped bit in the header (salt), in a nonce, the ciphertext, the tag, the end
    // record: all refused.
    for at in [3, 20, 31, 50, 55, good.len() - 20, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x04;
        fs.write("/s", &bad).unwrap();
        assert_wrong(read_encrypted(&fs, "/s", "right"));
    }
    // Truncated anywhere, or extended.
    for cut in [0, 10, 30, 46, good.len() - 32, good.len() - 1] {
        fs.write("/s", &good[..cut]).unwrap();
        assert_wrong(read_encrypted(&fs, "/s", "right"));
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&good[30..]);
    fs.write("/s", &longer).unwrap();
    assert_wrong(read_encrypted(&fs, "/s", "right"));
    // An append with the wrong password is refused at open, and changes nothing.
    fs.write("/s", &good).unwrap();
    let e = fs.open_encrypted("/s", "a", "wrong").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert_eq!(fs.read("/s").unwrap(), good);
    // A plain (unencrypted) file.
    fs.write("/plain", "hello, not encrypted").unwrap();
    assert_wrong(read_encrypted(&fs, "/plain", "right"));
}

#[test]
fn encrypted_empty_and_records_reordered() {
    let fs = MemFs::new();
    drop(fs.open_encrypted("/empty", "w", "pw").unwrap());
    assert_eq!(read_encrypted(&fs, "/empty", "pw").unwrap(), b"");
    assert_wrong(read_encrypted(&fs, "/empty", "other"));
    // A 0-byte file is not a valid encrypted file (it could be a truncated one).
    fs.write("/zero", "").unwrap();
    assert_wrong(read_encrypted(&fs, "/zero", "pw"));
    // Swapping two data records is detected (each record authenticates its index).
    let img = crypt::encrypt_bytes(&vec![7u8; 2 * crypt::RECORD_MAX], "pw").unwrap();
    let rec = 16 + crypt::RECORD_MAX + 16;
    let mut swapped = img[..30].to_vec();
    swapped.extend_from_slice(&img[30 + rec..30 + 2 * rec]);
    swapped.extend_from_slice(&img[30..30 + rec]);
    swapped.extend_from_slice(&img[30 + 2 * rec..]);
    assert_eq!(swapped.len(), img.len());
    assert_wrong(crypt::decrypt_bytes(&swapped, "pw"));
    // Dropping the last data record (keeping the end record) too.
    let mut dropped = img[..30 + rec].to_vec();
    dropped.extend_from_slice(&img[30 + 2 * rec..]);
    assert_wrong(crypt::decrypt_bytes(&dropped, "pw"));
    assert_eq!(
        crypt::decrypt_bytes(&img, "pw").unwrap().len(),
        2 * crypt::RECORD_MAX
    );
}

#[test]
fn encrypted_append_adds_records_without_rewriting() {
    let fs = MemFs::new();
    // "a" creates the file.
    let mut a = fs.open_encrypted("/log", "a", "pw").unwrap();
    a.write_all(b"first\n").unwrap();
    drop(a);
    let before = fs.read("/log").unwrap();
    let mut a = fs.open_encrypted("/log", "a", "pw").unwrap();
    a.write_all(b"second\n").unwrap();
    a.flush().unwrap();
    a.write_all(b"third\n").unwrap();
    drop(a);
    let after = fs.read("/log").unwrap();
    // The existing records are kept byte for byte (only the end record is replaced).
    assert_eq!(after[..before.len() - 32], before[..before.len() - 32]);
    assert_eq!(
        read_encrypted(&fs, "/log", "pw").unwrap(),
        b"first\nsecond\nthird\n"
    );
    // Two appenders both land.
    let mut x = fs.open_encrypted("/log", "a", "pw").unwrap();
    let mut y = fs.open_encrypted("/log", "a", "pw").unwrap();
    x.write_all(b"x").unwrap();
    y.write_all(b"y").unwrap();
    drop(y);
    drop(x);
    assert_eq!(
        read_encrypted(&fs, "/log", "pw").unwrap(),
        b"first\nsecond\nthird\nyx"
    );
}

#[test]
fn encrypted_and_compressed_10_mib() {
    let fs = MemFs::new();
    let data = noise(7, 10 << 20);
    let mut f = fs.open_encrypted("/big.enc", "w", "pw").unwrap();
    for part in data.chunks(100_000) {
        f.write_all(part).unwrap();
    }
    drop(f);
    assert!(fs.metadata("/big.enc").unwrap().len() > 10 << 20);
    assert_eq!(read_encrypted(&fs, "/big.enc", "pw").unwrap(), data);

    let mut text = Vec::new();
    while text.len() < 10 << 20 {
        text.extend_from_slice(format!("line {} of a log file\n", text.len()).as_bytes());
    }
    let mut c = fs.open_compressed("/big.lz4", "w", 9).unwrap();
    c.write_all(&text).unwrap();
    drop(c);
    let stored = fs.metadata("/big.lz4").unwrap().len() as usize;
    assert!(stored * 3 < text.len(), "{stored} vs {}", text.len());
    assert_eq!(read_compressed(&fs, "/big.lz4").unwrap(), text);

    // Incompressible data round-trips too.
    let mut c = fs.open_compressed("/noise.lz4", "w", 0).unwrap();
    c.write_all(&data).unwrap();
    c.flush().unwrap();
    assert_eq!(read_compressed(&fs, "/noise.lz4").unwrap(), data);
}

#[test]
fn compressed_round_trip_append_and_plain_read() {
    let fs = MemFs::new();
    let text = "This content will be compressed ".repeat(1000);
    let mut f = fs.open_compressed("/c.txt", "w", 9).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    drop(f);
    let raw = fs.read("/c.txt").unwrap();
    assert!(raw.len() < text.len() / 20, "{}", raw.len());
    assert_eq!(compress::decompress_bytes(&raw).unwrap(), text.as_bytes());
    assert_eq!(read_compressed(&fs, "/c.txt").unwrap(), text.as_bytes());

    let mut a = fs.open_compressed("/c.txt", "a", 3).unwrap();
    a.write_all(b"tail 1;").unwrap();
    a.flush().unwrap();
    a.write_all(b"tail 2").unwrap();
    drop(a);
    // The first frame is unchanged: appends add frames.
    assert!(fs.read("/c.txt").unwrap().starts_with(&raw));
    let got = read_compressed(&fs, "/c.txt").unwrap();
    let got = String::from_utf8_lossy(&got);
    assert!(
        got == format!("{text}tail 1;tail 2"),
        "{} bytes, ends with {:?}",
        got.len(),
        &got[got.len().saturating_sub(40)..]
    );
    // "a" creates a missing file; empty files read as empty.
    drop(fs.open_compressed("/new", "a", 1).unwrap());
    assert_eq!(read_compressed(&fs, "/new").unwrap(), b"");
    drop(fs.open_compressed("/empty", "w", 1).unwrap());
    assert_eq!(read_compressed(&fs, "/empty").unwrap(), b"");
}

#[test]
fn compressed_corruption_and_bad_arguments() {
    let fs = MemFs::new();
    let mut f = fs.open_compressed("/c", "w", 5).unwrap();
    f.write_all("some text, some text, some text".as_bytes())
        .unwrap();
    drop(f);
    let good = fs.read("/c").unwrap();
    for at in [0, 5, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        fs.write("/c", &bad).unwrap();
        let e = read_compressed(&fs, "/c").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "flip at {at}: {e}");
    }
    fs.write("/c", &good[..good.len() - 3]).unwrap();
    assert_eq!(
        read_compressed(&fs, "/c").unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    fs.write("/c", "plain text").unwrap();
    assert_eq!(
        read_compressed(&fs, "/c").unwrap_err().kind(),
        ErrorKind::InvalidData
    );

    assert_eq!(
        fs.open_compressed("/c", "w", 13).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    for mode in ["", "r+", "x", "rw", "wa"] {
        assert_eq!(
            fs.open_compressed("/c", mode, 1).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{mode:?}"
        );
        assert_eq!(
            fs.open_encrypted("/c", mode, "pw").unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{mode:?}"
        );
    }
    assert_eq!(
        fs.open_compressed("/missing", "r", 1).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.open_encrypted("/missing", "r", "pw").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.open_encrypted("/no/dir/x", "w", "pw")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    fs.create_dir("/d").unwrap();
    assert_eq!(
        fs.open_compressed("/d", "w", 1).unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
    // A handle refuses what its mode does not allow.
    let mut w = fs.open_compressed("/w", "w", 1).unwrap();
    assert!(w.read(&mut [0; 4]).is_err());
    let mut r = fs.open_compressed("/w", "r", 1).unwrap();
    assert!(r.write(b"x").is_err());
    let mut w = fs.open_encrypted("/e", "w", "pw").unwrap();
    assert!(w.read(&mut [0; 4]).is_err());
    drop(w);
    let mut r = fs.open_encrypted("/e", "r", "pw").unwrap();
    assert!(r.write(b"x").is_err());
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn metadata_follows_rename_copy_snapshot_and_removal() {
    let fs = MemFs::new();
    fs.create_dir("/d").unwrap();
    fs.write("/d/a", "x").unwrap();
    assert!(fs.get_metadata("/d/a").unwrap().is_empty());
    let m = meta(&[("author", "ann"), ("kind", "report")]);
    fs.set_metadata("/d/a", m.clone()).unwrap();
    assert_eq!(fs.get_metadata("/d/a").unwrap(), m);
    // Directories carry metadata too.
    fs.set_metadata("/d", meta(&[("team", "x")])).unwrap();
    assert_eq!(fs.get_metadata("/d").unwrap()["team"], "x");

    let snap = fs.snapshot();
    fs.rename("/d/a", "/d/b").unwrap();
    assert_eq!(fs.get_metadata("/d/b").unwrap(), m);
    fs.copy("/d/b", "/d/c").unwrap();
    assert_eq!(fs.get_metadata("/d/c").unwrap(), m);
    // Renaming the directory carries everything below.
    fs.rename("/d", "/e").unwrap();
    assert_eq!(fs.get_metadata("/e/b").unwrap(), m);
    assert_eq!(fs.get_metadata("/e").unwrap()["team"], "x");
    // Independent after copy.
    fs.set_metadata("/e/c", meta(&[("only", "c")])).unwrap();
    assert_eq!(fs.get_metadata("/e/b").unwrap(), m);
    // Content writes keep it.
    fs.write("/e/b", "new content").unwrap();
    assert_eq!(fs.get_metadata("/e/b").unwrap(), m);

    // Removed with the file: a new file at the path has none.
    fs.remove_file("/e/b").unwrap();
    assert_eq!(
        fs.get_metadata("/e/b").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    fs.write("/e/b", "again").unwrap();
    assert!(fs.get_metadata("/e/b").unwrap().is_empty());

    // Part of snapshots, and restored with them.
    assert_eq!(snap.get_metadata("/d/a").unwrap(), m);
    assert_eq!(snap.get_metadata("/d").unwrap()["team"], "x");
    fs.restore(&snap).unwrap();
    assert_eq!(fs.get_metadata("/d/a").unwrap(), m);
    assert!(!fs.exists("/e"));

    // An empty map clears; a missing path is NotFound.
    fs.set_metadata("/d/a", BTreeMap::new()).unwrap();
    assert!(fs.get_metadata("/d/a").unwrap().is_empty());
    assert_eq!(
        fs.set_metadata("/nope", m.clone()).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// A user's backup copies as `cp -r` by that user would: every file must be readable and
/// every directory readable and searchable, or nothing is made.
#[test]
fn backup_as_a_user_needs_to_read_everything_it_copies() {
    let root = MemFs::new();
    root.create_dir_all("/data/open/deeper").unwrap();
    root.write("/data/open/deeper/f", "x").unwrap();
    root.create_dir_all("/data/closed").unwrap();
    root.write("/data/closed/f", "secret").unwrap();
    root.write("/data/secret.txt", "secret").unwrap();
    root.symlink("/nowhere", "/data/open/link").unwrap();
    root.create_dir("/out").unwrap();
    for p in ["/", "/data", "/data/open", "/data/open/deeper", "/out"] {
        root.chown(p, Some(0), Some(0)).unwrap();
        root.set_permissions(p, 0o777).unwrap();
    }
    for p in [
        "/data/closed",
        "/data/closed/f",
        "/data/secret.txt",
        "/data/open/deeper/f",
    ] {
        root.chown(p, Some(0), Some(0)).unwrap();
    }
    root.set_permissions("/data/open/deeper/f", 0o644).unwrap();
    root.set_permissions("/data/closed", 0o711).unwrap(); // searchable, not listable
    root.set_permissions("/data/closed/f", 0o644).unwrap();
    root.set_permissions("/data/secret.txt", 0o600).unwrap();
    let alice = root.as_user(memfs::Credentials::new(1000, 1000));

    // Readable throughout (a dangling symlink needs nothing): copied, owned by alice.
    let b = alice.backup("/data/open", "/out").unwrap();
    assert_eq!(alice.readfile(format!("{b}/deeper/f")).unwrap(), "x");
    assert_eq!(alice.metadata(&b).unwrap().uid(), 1000);
    assert!(alice
        .symlink_metadata(format!("{b}/link"))
        .unwrap()
        .is_symlink());

    // An unreadable file, or a directory it may not list, anywhere below: refused whole.
    for src in ["/data", "/data/secret.txt", "/data/closed"] {
        let e = alice.backup(src, "/out").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{src}: {e}");
    }
    let e = alice.backup("/data", "/out").unwrap_err().to_string();
    assert!(
        e.contains("/data/closed") || e.contains("/data/secret.txt"),
        "{e}"
    );
    assert_eq!(
        root.listdir("/out").unwrap().len(),
        1,
        "nothing made by the refused ones"
    );
    // Root's handle copies everything.
    root.backup("/data", "/out").unwrap();
}

#[test]
fn backup_copies_files_and_trees_without_overwriting() {
    let fs = MemFs::new();
    fs.create_dir_all("/data/sub").unwrap();
    fs.write("/data/report.txt", "v1").unwrap();
    fs.write("/data/sub/x.bin", vec![1u8; 100_000]).unwrap();
    fs.set_metadata("/data/report.txt", meta(&[("k", "v")]))
        .unwrap();

    let b1 = fs.backup("/data/report.txt", "/backup").unwrap();
    assert!(b1.starts_with("/backup/report.txt."), "{b1}");
    assert!(b1.ends_with('Z'), "{b1}");
    assert_eq!(fs.readfile(&b1).unwrap(), "v1");
    assert_eq!(fs.get_metadata(&b1).unwrap(), meta(&[("k", "v")]));
    assert_ne!(
        fs.metadata(&b1).unwrap().ino(),
        fs.metadata("/data/report.txt").unwrap().ino()
    );
    // The backup does not change with the source.
    fs.write("/data/report.txt", "v2").unwrap();
    assert_eq!(fs.readfile(&b1).unwrap(), "v1");

    // Many backups in a row: all distinct, none overwritten.
    let mut names = vec![b1.clone()];
    for _ in 0..20 {
        names.push(fs.backup("/data/report.txt", "/backup").unwrap());
    }
    let distinct: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), names.len());
    assert_eq!(fs.listdir("/backup").unwrap().len(), names.len());
    assert_eq!(fs.readfile(&b1).unwrap(), "v1");

    // A directory tree, into a backup dir inside it: the copy is the tree as it was.
    let bd = fs.backup("/data", "/data/backups").unwrap();
    assert!(bd.starts_with("/data/backups/data."), "{bd}");
    let rel = |w: Vec<(String, Vec<String>, Vec<String>)>, base: &str| {
        w.into_iter()
            .map(|(d, ds, fs)| (d[base.len()..].to_string(), ds, fs))
            .collect::<Vec<_>>()
    };
    let mut orig = rel(fs.walk("/data").unwrap().collect(), "/data");
    orig.retain(|(d, _, _)| !d.starts_with("/backups"));
    orig[0].1.retain(|d| d != "backups");
    assert_eq!(rel(fs.walk(&bd).unwrap().collect(), &bd), orig);
    assert_eq!(
        fs.read(format!("{bd}/sub/x.bin")).unwrap(),
        vec![1u8; 100_000]
    );
    let root = fs.backup("/", "/b2").unwrap();
    assert!(root.starts_with("/b2/root."), "{root}");

    // Errors.
    assert_eq!(
        fs.backup("/missing", "/backup").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.backup("/data/report.txt", "/data/report.txt/x")
            .unwrap_err()
            .kind(),
        ErrorKind::NotADirectory
    );
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<memfs::EncryptedFile>();
    check::<memfs::CompressedFile>();
}
