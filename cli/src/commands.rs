//! Running one parsed command against a [`Backend`], writing its output to `out`.
//!
//! Shared by the one-shot CLI (current directory `/`) and the shell (its `cd` directory).
//! Relative paths are resolved against `cwd` here; everything else is the backend's. This
//! module neither loads nor saves state.

use std::io::{self, IsTerminal, Read, Write};
use std::time::SystemTime;

use memfs::{FileType, Metadata};

use super::args::Command;
use super::backend::Backend;

/// `p` made absolute against `cwd` (normalisation is left to the backend's path parser, so a
/// trailing `/` keeps its meaning).
pub fn absolute(cwd: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_owned()
    } else if cwd == "/" {
        format!("/{p}")
    } else {
        format!("{cwd}/{p}")
    }
}

/// `p` absolute and normalised (`.` and `..` resolved), for display and for joins.
pub fn normalised(cwd: &str, p: &str) -> io::Result<String> {
    Ok(memfs::VPath::parse_str(&absolute(cwd, p))?.as_string())
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn content_arg(content: &str) -> io::Result<Vec<u8>> {
    if content == "-" {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        Ok(content.as_bytes().to_vec())
    }
}

/// How a command that ran without an error ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    Done,
    /// A search found nothing: exit status 1, as grep(1), with no error message.
    NoMatch,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs `cmd`. `Init` empties the tree and sets its quota; `Shell` and `Completions` are the
/// caller's.
pub fn execute(
    cmd: &Command,
    b: &dyn Backend,
    cwd: &str,
    out: &mut dyn Write,
) -> io::Result<Outcome> {
    let abs = |p: &str| absolute(cwd, p);
    match cmd {
        Command::Init {
            max_bytes,
            max_inodes,
            ..
        } => {
            let before = b.usage()?;
            b.reset(memfs::Limits {
                max_bytes: *max_bytes,
                max_inodes: *max_inodes,
            })?;
            let (files, dirs) = (before.files + before.symlinks, before.dirs - 1);
            if files + dirs > 0 {
                eprintln!(
                    "emptied the filesystem: removed {} and {} (named snapshots are kept)",
                    plural(files, "file", "files"),
                    plural(dirs, "directory", "directories")
                );
            }
        }
        Command::Tree { path } => tree(b, &normalised(cwd, path)?, out)?,
        Command::Ls { long, path } => ls(b, &abs(path), *long, out)?,
        Command::Mkdir { parents, path } => {
            if *parents {
                b.create_dir_all(&abs(path))?
            } else {
                b.create_dir(&abs(path))?
            }
        }
        Command::Touch { path } => b.touch(&abs(path))?,
        Command::Chmod { mode, path } => b.set_permissions(&abs(path), *mode)?,
        Command::Chown { owner, path } => b.chown(&abs(path), owner.uid, owner.gid)?,
        Command::Mkfifo { mode, path } => b.mkfifo(&abs(path), *mode)?,
        Command::Write { path, content } => b.write(&abs(path), &content_arg(content)?)?,
        Command::Append { path, content } => b.append(&abs(path), &content_arg(content)?)?,
        Command::Read { path } => out.write_all(&b.read(&abs(path))?)?,
        Command::Rm { recursive, path } => {
            let p = abs(path);
            if normalised(cwd, path)? == "/" {
                return Err(memfs::error::err(
                    io::ErrorKind::InvalidInput,
                    "refusing to remove the root directory / (use `memfs init` to empty the \
                     filesystem)",
                ));
            }
            let m = b.symlink_metadata(&p)?;
            if m.is_dir() {
                if !*recursive {
                    return Err(memfs::error::err(
                        io::ErrorKind::IsADirectory,
                        format!("{p} is a directory (use rm -r)"),
                    ));
                }
                b.remove_dir_all(&p)?
            } else {
                b.remove_file(&p)?
            }
        }
        Command::Rmdir { path } => b.remove_dir(&abs(path))?,
        Command::Mv { src, dst } => {
            let src = normalised(cwd, src)?;
            let mut dst = abs(dst);
            if b.metadata(&dst).is_ok_and(|m| m.is_dir()) && src != "/" {
                dst = join(&dst, base_name(&src));
            }
            b.rename(&src, &dst)?
        }
        Command::Cp {
            recursive,
            src,
            dst,
        } => copy(
            b,
            &normalised(cwd, src)?,
            &normalised(cwd, dst)?,
            *recursive,
        )?,
        Command::Stat { path } => stat(b, &normalised(cwd, path)?, out)?,
        Command::Find { pattern, start } => {
            let mut found = b.find(pattern, &abs(start))?;
            found.sort();
            for p in found {
                writeln!(out, "{p}")?;
            }
        }
        Command::Grep {
            quiet,
            count,
            files_with_matches: _,
            text,
            start,
        } => {
            let mut found = b.grep(text, &abs(start))?;
            found.sort();
            if found.is_empty() {
                return Ok(Outcome::NoMatch);
            }
            for p in found {
                if *quiet {
                    break;
                }
                if *count {
                    let data = b.read(&p)?;
                    let needle = text.as_bytes();
                    let n = data
                        .split(|&c| c == b'\n')
                        .filter(|line| line.windows(needle.len().max(1)).any(|w| w == needle))
                        .count();
                    writeln!(out, "{p}:{n}")?;
                } else {
                    writeln!(out, "{p}")?;
                }
            }
        }
        Command::Dump { path } => writeln!(out, "{}", b.dump_json(&abs(path))?)?,
        Command::Load { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", file.display())))?;
            b.load_json(&text)
                .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", file.display())))?
        }
        Command::Import {
            force,
            host_dir,
            vpath,
        } => {
            let target = normalised(cwd, vpath)?;
            let n = with_progress("importing", |p| b.import_host(host_dir, &target, *force, p))?;
            writeln!(
                out,
                "imported {} from {} into {target}",
                plural(n, "file", "files"),
                host_dir.display()
            )?
        }
        Command::Export {
            force,
            vpath,
            host_dir,
        } => {
            let source = normalised(cwd, vpath)?;
            let n = with_progress("exporting", |p| b.export_host(&source, host_dir, *force, p))?;
            writeln!(
                out,
                "exported {} from {source} to {}",
                plural(n, "file", "files"),
                host_dir.display()
            )?
        }
        Command::Snapshot {
            name,
            delete,
            force,
        } => {
            if *delete {
                b.delete_snapshot(name)?
            } else {
                if !*force && b.snapshots()?.iter().any(|s| s.name == *name) {
                    return Err(memfs::error::err(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "a snapshot named {name:?} already exists (snapshot --force {name} \
                             replaces it)"
                        ),
                    ));
                }
                b.snapshot(name)?
            }
        }
        Command::Ln {
            symbolic,
            target,
            link,
        } => {
            let mut link = abs(link);
            if b.metadata(&link).is_ok_and(|m| m.is_dir()) {
                // As ln(1): into an existing directory, under the target's name.
                link = join(&link, base_name(target.trim_end_matches('/')));
            }
            if *symbolic {
                b.symlink(target, &link)?
            } else {
                b.hard_link(&abs(target), &link)?
            }
        }
        Command::Snapshots => {
            for s in b.snapshots()? {
                writeln!(
                    out,
                    "{}\t{} files\t{} dirs\t{} bytes",
                    s.name, s.files, s.dirs, s.logical_bytes
                )?;
            }
        }
        Command::Restore { name } => b.restore(name)?,
        Command::Watch { prefix } => b.watch(prefix, &mut |e| {
            writeln!(out, "{} {} {}", e.generation, e.kind.letter(), e.path)?;
            out.flush()
        })?,
        Command::Diff { from, to, json } => {
            let changes = b.diff(from, to.as_deref())?;
            if *json {
                let list: Vec<serde_json::Value> = changes
                    .iter()
                    .map(|c| serde_json::json!({"path": c.path, "change": c.kind.name()}))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Array(list))?;
            } else {
                for c in &changes {
                    writeln!(out, "{} {}", c.kind.letter(), c.path)?;
                }
            }
        }
        Command::Push {
            url,
            name,
            snapshot,
        } => super::store::push(b, url, name, snapshot.as_deref(), out)?,
        Command::Pull {
            url,
            name,
            as_name,
            restore,
            force,
        } => super::store::pull(b, url, name, as_name.as_deref(), *restore, *force, out)?,
        Command::Remote(super::args::RemoteCommand::Ls { url }) => super::store::ls(url, out)?,
        Command::Du => {
            let s = b.usage()?;
            writeln!(out, "files        {}", s.files)?;
            writeln!(out, "directories  {}", s.dirs)?;
            writeln!(out, "symlinks     {}", s.symlinks)?;
            writeln!(
                out,
                "logical      {} bytes ({})",
                s.logical_bytes,
                human(s.logical_bytes)
            )?;
            writeln!(
                out,
                "stored       {} bytes ({}) after deduplication, {} chunks",
                s.stored_bytes,
                human(s.stored_bytes),
                s.blobs
            )?;
            let names = b.snapshots()?.len();
            writeln!(out, "snapshots    {names} (sharing the same chunks)")?;
            let inodes = s.files + s.dirs + s.symlinks;
            if let Some(max) = s.limits.max_bytes {
                writeln!(
                    out,
                    "quota bytes  {} of {max} ({} of {}) used by the live tree",
                    s.live_bytes,
                    human(s.live_bytes),
                    human(max)
                )?;
            }
            if let Some(max) = s.limits.max_inodes {
                writeln!(out, "quota inodes {inodes} of {max} used")?;
            }
        }
        Command::Completions { .. }
        | Command::Shell
        | Command::Serve { .. }
        | Command::Mount { .. } => {
            return Err(memfs::error::err(
                io::ErrorKind::Unsupported,
                "this command is not available here",
            ))
        }
    }
    Ok(Outcome::Done)
}

/// Runs `f` with a progress bar on stderr when stderr is a terminal.
fn with_progress(
    what: &str,
    f: impl FnOnce(&mut dyn FnMut(u64, u64)) -> io::Result<u64>,
) -> io::Result<u64> {
    if !io::stderr().is_terminal() {
        return f(&mut |_, _| {});
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} files ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    let result = f(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    result
}

pub(super) fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn tree(b: &dyn Backend, top: &str, out: &mut dyn Write) -> io::Result<()> {
    let m = b.metadata(top)?;
    writeln!(out, "{top}")?;
    if !m.is_dir() {
        return Ok(());
    }
    let (mut dirs, mut files) = (0u64, 0u64);
    // (path, prefix for its children), visited depth-first without recursion.
    let mut stack: Vec<(Vec<memfs::DirEntry>, String)> = Vec::new();
    let mut first = b.read_dir(top)?;
    first.reverse();
    stack.push((first, String::new()));
    while let Some((entries, prefix)) = stack.last_mut() {
        let Some(e) = entries.pop() else {
            stack.pop();
            continue;
        };
        let last = entries.is_empty();
        let prefix = prefix.clone();
        let branch = if last { "└── " } else { "├── " };
        let ft = e.file_type()?;
        let name = e.file_name();
        match ft {
            FileType::Dir => {
                dirs += 1;
                writeln!(out, "{prefix}{branch}{name}/")?;
                let mut children = b.read_dir(&e.path())?;
                children.reverse();
                let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
                stack.push((children, child_prefix));
            }
            FileType::Symlink => {
                files += 1;
                let target = b.read_link(&e.path()).unwrap_or_default();
                writeln!(out, "{prefix}{branch}{name} -> {target}")?;
            }
            FileType::File
            | FileType::Fifo
            | FileType::Socket
            | FileType::CharDevice
            | FileType::BlockDevice => {
                files += 1;
                writeln!(out, "{prefix}{branch}{name}")?;
            }
        }
    }
    writeln!(
        out,
        "\n{dirs} director{}, {files} file{}",
        if dirs == 1 { "y" } else { "ies" },
        if files == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn mode_string(m: &Metadata) -> String {
    let kind = match m.file_type() {
        FileType::Dir => 'd',
        FileType::Symlink => 'l',
        FileType::File => '-',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
        FileType::CharDevice => 'c',
        FileType::BlockDevice => 'b',
    };
    let bits = m.permissions().mode();
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6, 3, 0] {
        let t = (bits >> shift) & 7;
        s.push(if t & 4 != 0 { 'r' } else { '-' });
        s.push(if t & 2 != 0 { 'w' } else { '-' });
        s.push(if t & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn format_time(t: SystemTime) -> String {
    let u = memfs::time::Utc::of(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

/// As ls(1): a directory's entries (a symlink to a directory given as PATH is followed, except
/// with `-l`, which shows the link itself); `-l` shows each symlink as `NAME -> TARGET`.
fn ls(b: &dyn Backend, path: &str, long: bool, out: &mut dyn Write) -> io::Result<()> {
    let own = b.symlink_metadata(path)?;
    let m = if own.is_symlink() && !long {
        b.metadata(path)?
    } else {
        own
    };
    // (name, path, metadata of the entry itself)
    let entries: Vec<(String, String, Metadata)> = if m.is_dir() {
        b.read_dir(path)?
            .into_iter()
            .map(|e| Ok((e.file_name(), e.path(), e.metadata()?)))
            .collect::<io::Result<_>>()?
    } else {
        vec![(path.to_owned(), path.to_owned(), m)]
    };
    for (name, entry_path, m) in entries {
        if long {
            let modified = m.modified().map(format_time).unwrap_or_default();
            let suffix = if m.is_dir() {
                "/".to_owned()
            } else if m.is_symlink() {
                format!(" -> {}", b.read_link(&entry_path)?)
            } else {
                String::new()
            };
            writeln!(
                out,
                "{} {:>10} {} {name}{suffix}",
                mode_string(&m),
                m.len(),
                modified
            )?;
        } else if m.is_dir() {
            writeln!(out, "{name}/")?;
        } else {
            writeln!(out, "{name}")?;
        }
    }
    Ok(())
}

fn stat(b: &dyn Backend, path: &str, out: &mut dyn Write) -> io::Result<()> {
    let m = b.symlink_metadata(path)?;
    let kind = match m.file_type() {
        FileType::Dir => "directory",
        FileType::File => "regular file",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::CharDevice => "character special file",
        FileType::BlockDevice => "block special file",
    };
    writeln!(out, "  Path: {path}")?;
    writeln!(out, "  Type: {kind}")?;
    if m.is_symlink() {
        writeln!(out, "Target: {}", b.read_link(path)?)?;
    }
    writeln!(out, "  Size: {}", m.len())?;
    writeln!(
        out,
        "  Mode: {:04o} ({})",
        m.permissions().mode(),
        mode_string(&m)
    )?;
    writeln!(out, " Inode: {}   Links: {}", m.ino(), m.nlink())?;
    writeln!(out, "   Uid: {}   Gid: {}", m.uid(), m.gid())?;
    if m.file_type().is_char_device() || m.file_type().is_block_device() {
        // glibc's major()/minor() of a dev_t.
        let d = m.rdev();
        let major = ((d >> 8) & 0xfff) | ((d >> 32) & !0xfff);
        let minor = (d & 0xff) | ((d >> 12) & !0xff);
        writeln!(out, "Device: {major}, {minor}")?;
    }
    for (label, t) in [
        ("Access", m.accessed()),
        ("Modify", m.modified()),
        ("Change", m.changed()),
        (" Birth", m.created()),
    ] {
        writeln!(out, "{label}: {}", t.map(format_time).unwrap_or_default())?;
    }
    Ok(())
}

fn copy(b: &dyn Backend, src: &str, dst: &str, recursive: bool) -> io::Result<()> {
    let m = b.metadata(src)?;
    let dst = if b.metadata(dst).is_ok_and(|d| d.is_dir()) && src != "/" {
        join(dst, base_name(src))
    } else {
        dst.to_owned()
    };
    if !m.is_dir() {
        b.copy(src, &dst)?;
        return Ok(());
    }
    if !recursive {
        return Err(memfs::error::err(
            io::ErrorKind::IsADirectory,
            format!("{src} is a directory (use cp -r)"),
        ));
    }
    if dst == src || dst.starts_with(&join(src, "")) {
        return Err(memfs::error::err(
            io::ErrorKind::InvalidInput,
            format!("cannot copy {src} into itself ({dst})"),
        ));
    }
    b.create_dir_all(&dst)?;
    let mut stack = vec![(src.to_owned(), dst)];
    while let Some((from, to)) = stack.pop() {
        for e in b.read_dir(&from)? {
            let target = join(&to, &e.file_name());
            match e.file_type()? {
                FileType::Dir => {
                    b.create_dir_all(&target)?;
                    stack.push((e.path(), target));
                }
                FileType::Symlink => {
                    if b.symlink_metadata(&target).is_ok() {
                        b.remove_file(&target)?;
                    }
                    b.symlink(&b.read_link(&e.path())?, &target)?
                }
                FileType::File => {
                    b.copy(&e.path(), &target)?;
                }
                _ => return Err(memfs::error::special_file(e.path())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        use std::time::UNIX_EPOCH;
        assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_764_079_200); // 2025-11-25 14:00
        assert_eq!(format_time(t), "2025-11-25 14:00:00");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_time(t), "2000-02-29 00:00:00");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(absolute("/", "a"), "/a");
        assert_eq!(absolute("/x", "a/"), "/x/a/");
        assert_eq!(absolute("/x", "/b"), "/b");
        assert_eq!(normalised("/x/y", "../z").unwrap(), "/x/z");
    }
}
