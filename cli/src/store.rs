//! `memfs push`, `memfs pull` and `memfs remote ls`: the state's trees in object storage,
//! through `memfs-store` (which owns the layout, the checks and the ref protocol).

use std::io::{self, IsTerminal, Write};

use memfs_store::{Progress, Remote};

use super::backend::{Backend, LocalBackend};
use super::commands::human;

fn local<'a>(b: &'a dyn Backend, what: &str) -> io::Result<&'a LocalBackend> {
    b.local().ok_or_else(|| {
        memfs::error::err(
            io::ErrorKind::Unsupported,
            format!("{what} works on a local state, not over --remote"),
        )
    })
}

/// Runs a transfer with a byte progress bar on a terminal.
fn transfer<T>(
    what: &str,
    f: impl AsyncFnOnce(&(dyn Fn(Progress) + Send + Sync)) -> io::Result<T>,
) -> io::Result<T> {
    let bar = io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        bar
    });
    let on = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.total);
            bar.set_position(p.bytes);
        }
    };
    let result = memfs_store::block_on(f(&on))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

pub fn push(
    b: &dyn Backend,
    url: &str,
    name: &str,
    snapshot: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let l = local(b, "push")?;
    let snap = match snapshot {
        None => l.fs.snapshot(),
        Some(s) => l.snapshots.borrow().get(s).cloned().ok_or_else(|| {
            memfs::error::err(io::ErrorKind::NotFound, format!("no snapshot named {s:?}"))
        })?,
    };
    let remote = Remote::open(url)?;
    let r = transfer("pushing", async |on| remote.push(&snap, name, on).await)?;
    writeln!(
        out,
        "pushed {name} version {} to {url}: {} of {} objects uploaded ({} of {})",
        r.seq,
        r.uploaded_objects,
        r.total_objects,
        human(r.uploaded_bytes),
        human(r.total_bytes)
    )
}

pub fn pull(
    b: &dyn Backend,
    url: &str,
    name: &str,
    as_name: Option<&str>,
    restore: bool,
    force: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let l = local(b, "pull")?;
    let local_name = as_name.unwrap_or(name);
    if !restore {
        memfs::check_snapshot_name(local_name)?;
        if !force && l.snapshots.borrow().contains_key(local_name) {
            return Err(memfs::error::err(
                io::ErrorKind::AlreadyExists,
                format!(
                    "a snapshot named {local_name:?} already exists (pull --force replaces it, \
                     --as NAME keeps it under another name)"
                ),
            ));
        }
    }
    let remote = Remote::open(url)?;
    let fs = l.fs.clone();
    let (snap, r) = transfer("pulling", async |on| remote.pull(&fs, name, on).await)?;
    if restore {
        l.fs.restore(&snap)?;
    } else {
        l.snapshots.borrow_mut().insert(local_name.to_owned(), snap);
        l.dirty.set(true);
    }
    writeln!(
        out,
        "pulled {name} version {} from {url} ({} files, {} objects, {}){}",
        r.info.seq,
        r.info.files,
        r.fetched_objects,
        human(r.fetched_bytes),
        if restore {
            " into the live tree".to_owned()
        } else {
            format!(" as snapshot {local_name}")
        }
    )
}

pub fn ls(url: &str, out: &mut dyn Write) -> io::Result<()> {
    let remote = Remote::open(url)?;
    let refs = memfs_store::block_on(remote.list_refs())??;
    for r in refs {
        writeln!(
            out,
            "{}\tversion {}\t{} files\t{} bytes\t{} stored",
            r.name, r.seq, r.files, r.file_bytes, r.object_bytes
        )?;
    }
    Ok(())
}
