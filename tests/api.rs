//! Behaviour of the public API beyond what the differential test covers: handles and modes,
//! symlinks, walk, Python-style names, path errors.

use std::io::{BufRead, ErrorKind, Read, Seek, SeekFrom, Write};

use memfs::{MemFs, OpenOptions};

fn fs_with(files: &[(&str, &str)]) -> MemFs {
    let fs = MemFs::new();
    for (p, c) in files {
        if let Some((dir, _)) = p.rsplit_once('/') {
            if !dir.is_empty() {
                fs.create_dir_all(dir).unwrap();
            }
        }
        fs.write(p, c).unwrap();
    }
    fs
}

#[test]
fn handle_writes_are_published_on_flush_and_drop() {
    let fs = MemFs::new();
    let mut f = fs.create("/a.txt").unwrap();
    assert!(fs.exists("/a.txt"), "create makes the file exist at once");
    f.write_all(b"hello").unwrap();
    assert_eq!(fs.read("/a.txt").unwrap(), b"", "not visible before flush");
    f.flush().unwrap();
    assert_eq!(fs.read("/a.txt").unwrap(), b"hello");
    f.write_all(b" world").unwrap();
    drop(f);
    assert_eq!(fs.readfile("/a.txt").unwrap(), "hello world");
}

#[test]
fn reader_keeps_the_version_it_opened() {
    let fs = fs_with(&[("/a", "old")]);
    let mut r = fs.open("/a").unwrap();
    fs.write("/a", "new content").unwrap();
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "old");
}

#[test]
fn append_mode_writes_at_the_end_whatever_the_position() {
    let fs = fs_with(&[("/log", "abc")]);
    let mut f = fs.open_mode("/log", "a+").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(b"XYZ").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "abcXYZ");
    // another appender publishing meanwhile is not overwritten
    fs.append("/log", "!").unwrap();
    drop(f);
    assert_eq!(fs.readfile("/log").unwrap(), "abc!XYZ");
}

#[test]
fn seek_overwrite_and_zero_fill() {
    let fs = fs_with(&[("/f", "0123456789")]);
    let mut f = fs.open_mode("/f", "r+").unwrap();
    f.seek(SeekFrom::Start(2)).unwrap();
    f.write_all(b"ab").unwrap();
    f.seek(SeekFrom::End(2)).unwrap();
    f.write_all(b"Z").unwrap();
    assert_eq!(f.stream_position().unwrap(), 13);
    assert!(f.seek(SeekFrom::Current(-100)).is_err());
    f.flush().unwrap();
    assert_eq!(fs.read("/f").unwrap(), b"01ab456789\0\0Z");
    f.set_len(4).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);
    drop(f);
    assert_eq!(fs.read("/f").unwrap(), b"01ab");
}

#[test]
fn python_modes() {
    let fs = fs_with(&[("/f", "data")]);
    assert_eq!(
        fs.open_mode("/f", "x").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(
        fs.open_mode("/missing", "r").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    for bad in ["", "q", "rw", "r++", "bb", "rbt"] {
        assert_eq!(
            fs.open_mode("/f", bad).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{bad:?}"
        );
    }
    // w truncates, r cannot write, w cannot read
    let mut w = fs.open_mode("/f", "wb").unwrap();
    assert_eq!(fs.read("/f").unwrap(), b"");
    let mut buf = [0u8; 1];
    assert!(w.read(&mut buf).is_err());
    drop(w);
    let mut r = fs.open_mode("/f", "rt").unwrap();
    assert!(r.write(b"x").is_err());
    let mut x = fs.open_mode("/new", "x+").unwrap();
    x.write_all(b"n").unwrap();
    x.seek(SeekFrom::Start(0)).unwrap();
    x.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"n");
}

#[test]
fn open_options_validation_matches_std() {
    let fs = fs_with(&[("/f", "x")]);
    let err = |o: &OpenOptions| fs.open_with("/f", o).unwrap_err().kind();
    assert_eq!(err(&OpenOptions::new()), ErrorKind::InvalidInput);
    assert_eq!(
        err(OpenOptions::new().read(true).create(true)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        err(OpenOptions::new().append(true).truncate(true)),
        ErrorKind::InvalidInput
    );
    assert_eq!(fs.open("/").unwrap_err().kind(), ErrorKind::IsADirectory);
}

#[test]
fn bufread_lines() {
    let fs = fs_with(&[("/t", "one\ntwo\nthree")]);
    let f = fs.open("/t").unwrap();
    let lines: Vec<String> = f.lines().map(|l| l.unwrap()).collect();
    assert_eq!(lines, ["one", "two", "three"]);
}

#[test]
fn walk_is_top_down_and_sorted() {
    let fs = fs_with(&[
        ("/b/x.txt", ""),
        ("/a/z/deep.txt", ""),
        ("/a/y.txt", ""),
        ("/root.txt", ""),
    ]);
    let items: Vec<_> = fs.walk("/").unwrap().collect();
    assert_eq!(
        items,
        vec![
            (
                "/".to_string(),
                vec!["a".to_string(), "b".to_string()],
                vec!["root.txt".to_string()]
            ),
            (
                "/a".to_string(),
                vec!["z".to_string()],
                vec!["y.txt".to_string()]
            ),
            ("/a/z".to_string(), vec![], vec!["deep.txt".to_string()]),
            ("/b".to_string(), vec![], vec!["x.txt".to_string()]),
        ]
    );
    assert_eq!(
        fs.walk("/missing").err().unwrap().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.walk("/root.txt").err().unwrap().kind(),
        ErrorKind::NotADirectory
    );
}

#[test]
fn python_style_names() {
    let fs = MemFs::new();
    fs.makedirs("/a/b", false).unwrap();
    assert_eq!(
        fs.makedirs("/a/b", false).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    fs.makedirs("/a/b", true).unwrap();
    fs.mkdir("/a/c").unwrap();
    fs.writefile("/a/t.txt", "text").unwrap();
    fs.writefilebytes("/a/bin", [0xff, 0xfe]).unwrap();
    assert_eq!(fs.readfile("/a/t.txt").unwrap(), "text");
    assert_eq!(fs.readfilebytes("/a/bin").unwrap(), [0xff, 0xfe]);
    assert_eq!(
        fs.readfile("/a/bin").unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(fs.listdir("/a").unwrap(), ["b", "bin", "c", "t.txt"]);
    assert!(fs.isdir("/a/b") && fs.isfile("/a/t.txt") && !fs.exists("/nope"));
    fs.remove("/a/t.txt").unwrap();
    fs.rmdir("/a/c").unwrap();
    assert_eq!(fs.listdir("/a").unwrap(), ["b", "bin"]);
}

#[test]
fn paths_are_normalised_and_validated() {
    let fs = fs_with(&[("/a/b.txt", "x")]);
    assert_eq!(fs.readfile("a/./b.txt").unwrap(), "x");
    assert_eq!(fs.readfile("/a/../a//b.txt").unwrap(), "x");
    assert_eq!(fs.readfile("/../../a/b.txt").unwrap(), "x");
    assert_eq!(fs.read("").unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(
        fs.read("/a\0b").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        fs.read("/a/b.txt/").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        fs.write("/a/new/", "x").unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
    let long = "n".repeat(256);
    assert_eq!(
        fs.write(format!("/{long}"), "x").unwrap_err().kind(),
        ErrorKind::InvalidFilename
    );
    assert!(!fs.exists(""));
}

/// A path that is not UTF-8, or holds NUL, is invalid input wherever its walk would stop: at a
/// missing name, below a file, or below a directory (the read path's fast lane walks bytes and
/// checks the text only when it does not find a node).
#[cfg(unix)]
#[test]
fn paths_that_are_not_text_are_invalid_wherever_they_lead() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let fs = fs_with(&[("/a/b.txt", "x")]);
    for bytes in [
        &b"/\xff"[..],
        b"/a/\xff",
        b"/a/b.txt/\xff",
        b"/a/b.txt/c\0",
        b"/a\0/b.txt",
        b"/a/\xffb.txt",
        b"/a/b.txt\0",
    ] {
        let p = OsStr::from_bytes(bytes);
        let shown = String::from_utf8_lossy(bytes);
        assert_eq!(
            fs.metadata(p).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{shown}"
        );
        assert_eq!(
            fs.read(p).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{shown}"
        );
        assert_eq!(
            fs.read_at_most(p, 10).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{shown}"
        );
        assert_eq!(
            fs.snapshot().metadata(p).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{shown}"
        );
        assert!(!fs.exists(p) && !fs.isfile(p) && !fs.isdir(p), "{shown}");
    }
    // The names themselves, as text, are found.
    assert_eq!(fs.read(OsStr::from_bytes(b"/a/b.txt")).unwrap(), b"x");
}

#[test]
fn symlinks() {
    let fs = fs_with(&[("/data/file.txt", "payload")]);
    fs.symlink("/data/file.txt", "/abs").unwrap();
    fs.symlink("data", "/rel_dir").unwrap();
    fs.symlink("../data/file.txt", "/data2").unwrap(); // `..` above / stays at /
    assert_eq!(fs.readfile("/data2").unwrap(), "payload");
    assert_eq!(
        fs.symlink("/x", "/data2").unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    assert_eq!(fs.readfile("/abs").unwrap(), "payload");
    assert_eq!(fs.readfile("/rel_dir/file.txt").unwrap(), "payload");
    assert_eq!(fs.read_link("/abs").unwrap(), "/data/file.txt");
    assert!(fs.symlink_metadata("/abs").unwrap().is_symlink());
    assert!(fs.metadata("/abs").unwrap().is_file());
    assert_eq!(
        fs.canonicalize("/rel_dir/file.txt").unwrap(),
        "/data/file.txt"
    );
    assert_eq!(
        fs.read_link("/data").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // dangling and looping links
    fs.symlink("/nowhere", "/dangling").unwrap();
    assert_eq!(
        fs.read("/dangling").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    fs.write("/dangling", "made").unwrap();
    assert_eq!(fs.readfile("/nowhere").unwrap(), "made");
    fs.symlink("/loop2", "/loop1").unwrap();
    fs.symlink("/loop1", "/loop2").unwrap();
    let e = fs.read("/loop1").unwrap_err();
    assert_eq!(e.kind(), std::io::Error::from_raw_os_error(40).kind());
    // removing a link removes the link, not the target
    fs.remove_file("/abs").unwrap();
    assert!(fs.exists("/data/file.txt"));
    fs.remove_dir_all("/rel_dir").unwrap();
    assert!(fs.exists("/data/file.txt"));
}

#[test]
fn metadata_and_permissions() {
    let fs = fs_with(&[("/f", "12345")]);
    let m = fs.metadata("/f").unwrap();
    assert!(m.is_file() && !m.is_dir());
    assert_eq!(m.len(), 5);
    assert_eq!(m.permissions().mode(), 0o644);
    assert_eq!(m.mode() & 0o170000, 0o100000);
    assert!(m.modified().unwrap() >= m.created().unwrap());
    fs.set_permissions("/f", 0o400).unwrap();
    assert!(fs.metadata("/f").unwrap().permissions().readonly());
    let ino = m.ino();
    fs.rename("/f", "/g").unwrap();
    assert_eq!(
        fs.metadata("/g").unwrap().ino(),
        ino,
        "rename keeps the inode"
    );
    fs.copy("/g", "/h").unwrap();
    assert_ne!(fs.metadata("/h").unwrap().ino(), ino);
    assert_eq!(fs.metadata("/h").unwrap().permissions().mode(), 0o400);
    let entries = fs.read_dir("/").unwrap();
    assert_eq!(entries[0].file_name(), "g");
    assert_eq!(entries[0].path(), "/g");
    assert!(entries[0].file_type().unwrap().is_file());
    assert_eq!(entries[0].metadata().unwrap().len(), 5);
}

#[test]
fn large_files_are_chunked_and_deduplicated() {
    let fs = MemFs::new();
    let data: Vec<u8> = (0..(memfs::CHUNK_SIZE * 3 + 123))
        .map(|i| (i % 253) as u8)
        .collect();
    fs.write("/big1", &data).unwrap();
    fs.write("/big2", &data).unwrap();
    fs.copy("/big1", "/big3").unwrap();
    let s = fs.stats();
    assert_eq!(s.logical_bytes, 3 * data.len() as u64);
    assert_eq!(s.stored_bytes, data.len() as u64);
    assert_eq!(fs.read("/big2").unwrap(), data);
    let mut f = fs.open("/big3").unwrap();
    f.seek(SeekFrom::Start(memfs::CHUNK_SIZE as u64 - 2))
        .unwrap();
    let mut buf = [0u8; 4];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(
        &buf[..],
        &data[memfs::CHUNK_SIZE - 2..memfs::CHUNK_SIZE + 2]
    );
    drop(f); // an open handle keeps its version's chunks alive
    fs.remove_file("/big1").unwrap();
    fs.remove_file("/big2").unwrap();
    fs.remove_file("/big3").unwrap();
    assert_eq!(fs.stats().stored_bytes, 0);
}

#[test]
fn walk_lists_symlinks_without_following_them() {
    let fs = fs_with(&[("/d/f.txt", "x")]);
    fs.symlink("/d", "/to_dir").unwrap();
    fs.symlink("/d/f.txt", "/to_file").unwrap();
    let items: Vec<_> = fs.walk("/").unwrap().collect();
    assert_eq!(items[0].1, ["d", "to_dir"]);
    assert_eq!(items[0].2, ["to_file"]);
    assert_eq!(items.len(), 2, "the link to /d is not descended into");
}

#[test]
fn restoring_another_filesystems_snapshot_never_reuses_its_inode_numbers() {
    let other = MemFs::new();
    for i in 0..50 {
        other.write(format!("/f{i}"), "x").unwrap();
    }
    let fs = MemFs::new();
    fs.restore(&other.snapshot()).unwrap();
    fs.write("/new", "y").unwrap();
    let new_ino = fs.metadata("/new").unwrap().ino();
    for i in 0..50 {
        assert_ne!(fs.metadata(format!("/f{i}")).unwrap().ino(), new_ino);
    }
}

#[test]
fn makedirs_without_exist_ok_fails_on_an_existing_directory() {
    let fs = MemFs::new();
    fs.makedirs("/a/b", false).unwrap();
    assert_eq!(
        fs.makedirs("/a/b", false).unwrap_err().kind(),
        std::io::ErrorKind::AlreadyExists
    );
    fs.makedirs("/a/b", true).unwrap();
}

#[test]
fn touch_creates_an_empty_file_or_updates_both_times_and_keeps_the_content() {
    use std::time::{Duration, SystemTime};
    let fs = memfs::create_fs();
    fs.touch("/new").unwrap();
    assert_eq!(fs.read("/new").unwrap(), b"");
    fs.write("/f", "kept").unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    fs.set_times("/f", Some(old), Some(old)).unwrap();
    fs.touch("/f").unwrap();
    let m = fs.metadata("/f").unwrap();
    assert!(m.modified().unwrap() > old && m.accessed().unwrap() > old);
    assert_eq!(fs.read("/f").unwrap(), b"kept");
    fs.symlink("/target", "/dangling").unwrap();
    fs.touch("/dangling").unwrap(); // creates the target, as touch(1) does
    assert!(fs.isfile("/target"));
    assert_eq!(
        fs.touch("/missing/x").unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    fs.create_dir("/d").unwrap();
    fs.touch("/d").unwrap();
    assert!(fs.isdir("/d"));
}

/// `read_at_most`: the content of a file no longer than the limit, `None` for a longer one,
/// and `read`'s errors, on the fast lane and the general path, in every read source.
#[test]
fn read_at_most_reads_small_files_only() {
    let fs = MemFs::new();
    fs.create_dir("/d").unwrap();
    fs.write("/d/small", "hello").unwrap();
    fs.write("/d/big", vec![1u8; 100_000]).unwrap();
    fs.symlink("/d/small", "/d/link").unwrap();
    assert_eq!(fs.read_at_most("/d/small", 5).unwrap().unwrap(), b"hello");
    assert_eq!(fs.read_at_most("/d/small", 4).unwrap(), None);
    assert_eq!(fs.read_at_most("/d/big", 99_999).unwrap(), None);
    assert_eq!(
        fs.read_at_most("/d/big", 100_000).unwrap().unwrap().len(),
        100_000
    );
    // Through a symlink and a non-plain path (the general path).
    assert_eq!(fs.read_at_most("/d/link", 64).unwrap().unwrap(), b"hello");
    assert_eq!(
        fs.read_at_most("/d/./x/../small", 64).unwrap().unwrap(),
        b"hello"
    );
    for (path, kind) in [
        ("/d/none", ErrorKind::NotFound),
        ("/d", ErrorKind::IsADirectory),
        ("/d/small/x", ErrorKind::NotADirectory),
        ("", ErrorKind::InvalidInput),
    ] {
        assert_eq!(
            fs.read_at_most(path, 64).unwrap_err().kind(),
            kind,
            "{path}"
        );
        assert_eq!(fs.read(path).unwrap_err().kind(), kind, "{path}");
    }
    // A snapshot and a transaction read their own version.
    let snap = fs.snapshot();
    fs.write("/d/small", "changed").unwrap();
    assert_eq!(
        snap.read_at_most("/d/small", 64).unwrap().unwrap(),
        b"hello"
    );
    let mut tx = fs.begin();
    tx.write("/d/small", "in tx").unwrap();
    assert_eq!(tx.read_at_most("/d/small", 64).unwrap().unwrap(), b"in tx");
    // A user who may not read the file may not read it this way either.
    fs.set_permissions("/d/small", 0o600).unwrap();
    fs.chown("/d/small", Some(0), Some(0)).unwrap();
    let alice = fs.as_user(memfs::Credentials::new(1000, 1000));
    assert_eq!(
        alice.read_at_most("/d/small", 64).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}
