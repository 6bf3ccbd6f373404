//! A tour of the memfs API: directories, files, handles, walk, snapshots, errors.
//! Run: `cargo run --release --example quickstart`

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();

    // Directories and files, std::fs style and Python os style.
    fs.create_dir_all("/project/src")?;
    fs.makedirs("/project/data", true)?;
    fs.write("/project/README.md", "# demo\n")?;
    fs.writefile("/project/src/main.rs", "fn main() {}\n")?;
    println!("listdir(/project) = {:?}", fs.listdir("/project")?);

    // Handles: write, append, seek, read lines.
    {
        let mut f = fs.create("/project/data/log.txt")?;
        writeln!(f, "first")?;
        writeln!(f, "second")?;
    } // published on drop
    let mut f = fs.open_mode("/project/data/log.txt", "a+")?;
    writeln!(f, "third")?;
    f.flush()?;
    f.seek(SeekFrom::Start(0))?;
    let lines: Vec<String> = io::BufReader::new(f).lines().collect::<io::Result<_>>()?;
    println!("log.txt lines = {lines:?}");

    let mut buf = [0u8; 6];
    let mut r = fs.open("/project/data/log.txt")?;
    r.seek(SeekFrom::Start(6))?;
    r.read_exact(&mut buf)?;
    println!("bytes 6..12 = {:?}", String::from_utf8_lossy(&buf));

    // Metadata.
    let m = fs.metadata("/project/data/log.txt")?;
    println!(
        "log.txt: {} bytes, mode {:o}, ino {}",
        m.len(),
        m.permissions().mode(),
        m.ino()
    );

    // os.walk.
    for (dir, dirs, files) in fs.walk("/")? {
        println!("walk: {dir:<16} dirs={dirs:?} files={files:?}");
    }

    // O(1) snapshot and rollback.
    let snap = fs.snapshot();
    fs.remove_dir_all("/project/src")?;
    fs.write("/project/README.md", "# overwritten\n")?;
    println!(
        "after changes: exists(/project/src) = {}",
        fs.exists("/project/src")
    );
    println!(
        "snapshot still has: {:?}",
        snap.readfile("/project/README.md")?
    );
    fs.restore(&snap).unwrap();
    println!(
        "restored: exists(/project/src) = {}",
        fs.exists("/project/src")
    );

    // Rename and copy follow POSIX rules; errors carry Linux's ErrorKind.
    fs.rename("/project/data/log.txt", "/project/log.txt")?;
    fs.copy("/project/log.txt", "/project/log.bak")?;
    for (what, err) in [
        ("rmdir non-empty", fs.remove_dir("/project").unwrap_err()),
        ("read missing", fs.read("/nope").unwrap_err()),
        (
            "mkdir under a file",
            fs.create_dir("/project/log.txt/x").unwrap_err(),
        ),
        (
            "remove_file on a dir",
            fs.remove_file("/project").unwrap_err(),
        ),
        (
            "move dir into itself",
            fs.rename("/project", "/project/data/p").unwrap_err(),
        ),
    ] {
        println!("{what:<22} -> {:?}: {err}", err.kind());
    }

    let s = fs.stats();
    println!(
        "stats: {} files, {} dirs, {} logical bytes, {} stored bytes",
        s.files, s.dirs, s.logical_bytes, s.stored_bytes
    );
    Ok(())
}
