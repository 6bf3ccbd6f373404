//! The entry point of the `memfs` binary: parse, lock, load, run one command, save.
//!
//! Errors print as `error: ...` on stderr with exit status 1 (usage errors: clap's message and
//! status 2). A command that can change the state holds the exclusive lock across
//! load-modify-save and saves only if something changed. With `--remote URL` the command runs
//! against a server instead (no state is touched); `serve` hands over to `serve.rs`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use super::args::{Cli, Command};
use super::backend::{Backend, LocalBackend};
use super::{commands, shell, state};

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// 0 for success, 1 for a search that found nothing (as grep(1)); errors are 1 too, with a
/// message, and usage errors clap's 2.
fn exit_code(outcome: commands::Outcome) -> ExitCode {
    match outcome {
        commands::Outcome::Done => ExitCode::SUCCESS,
        commands::Outcome::NoMatch => ExitCode::from(1),
    }
}

/// Who may call a server this process starts: one token (`--token`), a token file
/// (`--tokens`), or anyone.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(super) struct Access {
    pub token: Option<String>,
    pub tokens_file: Option<std::path::PathBuf>,
    /// The server's TLS certificate and key, and the CA of its clients (mutual TLS).
    pub tls: Option<(
        std::path::PathBuf,
        std::path::PathBuf,
        Option<std::path::PathBuf>,
    )>,
    /// Serve on a non-loopback address without TLS.
    pub insecure: bool,
    /// `serve`'s limits (`mount --serve` uses the defaults).
    pub limits: Option<Limits>,
}

/// The limits `memfs serve` takes as flags (`memfs_grpc::ServerLimits`).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(super) struct Limits {
    pub max_connections: usize,
    pub max_streams: u32,
    pub request_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    pub max_write_buffer: u64,
}

impl Access {
    fn of(token: Option<String>, cli: &Cli) -> Self {
        let tokens_file = cli.tokens.clone();
        Access {
            // A token file replaces the single token (even one from $MEMFS_TOKEN).
            token: if tokens_file.is_some() { None } else { token },
            tokens_file,
            tls: match (&cli.tls_cert, &cli.tls_key) {
                (Some(c), Some(k)) => Some((c.clone(), k.clone(), cli.client_ca.clone())),
                _ => None,
            },
            insecure: cli.insecure,
            limits: None,
        }
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub fn required(&self) -> bool {
        self.token.is_some() || self.tokens_file.is_some()
    }
}

fn run(cli: Cli) -> io::Result<ExitCode> {
    if let Command::Completions { shell } = &cli.command {
        let mut out = io::stdout().lock();
        clap_complete::generate(*shell, &mut Cli::command(), "memfs", &mut out);
        return Ok(ExitCode::SUCCESS);
    }
    let token = cli
        .token
        .clone()
        .or_else(|| std::env::var("MEMFS_TOKEN").ok().filter(|t| !t.is_empty()));
    if let Some(url) = &cli.remote {
        return run_remote(url, token.as_deref(), &cli);
    }
    let image = state::state_path(cli.state.clone())?;
    if let Command::Serve {
        addr,
        max_connections,
        max_streams,
        request_timeout,
        idle_timeout,
        max_write_buffer,
    } = &cli.command
    {
        let mut access = Access::of(token, &cli);
        access.limits = Some(Limits {
            max_connections: *max_connections,
            max_streams: *max_streams,
            request_timeout: std::time::Duration::from_secs(*request_timeout),
            idle_timeout: std::time::Duration::from_secs(*idle_timeout),
            max_write_buffer: *max_write_buffer,
        });
        return serve(&image, addr, access);
    }
    if let Command::Mount {
        mountpoint,
        read_only,
        allow_other,
        check_permissions,
        threads,
        serve,
        from,
        push,
        cache,
    } = &cli.command
    {
        let opts = MountArgs {
            read_only: *read_only,
            allow_other: *allow_other,
            check_permissions: *check_permissions,
            threads: threads.map(usize::from),
            serve: serve.as_deref(),
            access: Access::of(token, &cli),
            from: from.as_deref().map(|f| From {
                url: &f[0],
                name: &f[1],
                push: *push,
                cache: cache.unwrap_or(256 << 20),
            }),
        };
        return mount(&image, mountpoint, opts);
    }
    if let Command::Shell = cli.command {
        return shell::run(&image);
    }
    if let Command::Read { path } = &cli.command {
        if let Some(data) = fast_read(&image, path)? {
            let mut out = io::stdout().lock();
            out.write_all(&data)?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mutates = cli.command.mutates();
    // Without a state yet, even a read-only command may import the original tool's JSON (on
    // the user's say-so) and save it: take the exclusive lock then too.
    let exclusive = mutates || !image.exists();
    let _lock = state::lock(&image, exclusive)?;
    let force = matches!(cli.command, Command::Init { force: true, .. });
    let backend = open(&image, force, !matches!(cli.command, Command::Load { .. }))?;
    let generation = backend.fs.generation();
    let outcome = {
        let mut out = BufWriter::new(io::stdout().lock());
        let outcome = commands::execute(&cli.command, &backend, "/", &mut out)?;
        out.flush()?;
        outcome
    };
    let changed = backend.fs.generation() != generation || backend.dirty.get();
    if exclusive && (changed || (mutates && !image.exists())) {
        state::save(&image, &backend)?;
    }
    if let Command::Init { .. } = cli.command {
        eprintln!("initialized an empty filesystem in {}", image.display());
    }
    // The process ends now: freeing a large tree node by node would cost more than the command.
    std::mem::forget(backend);
    Ok(exit_code(outcome))
}

#[cfg(feature = "grpc")]
fn serve(image: &Path, addr: &str, access: Access) -> io::Result<ExitCode> {
    super::serve::run(image, addr, access)
}

#[cfg(not(feature = "grpc"))]
fn serve(_image: &Path, _addr: &str, _access: Access) -> io::Result<ExitCode> {
    Err(no_grpc("serve"))
}

/// The options of `memfs mount` besides the mountpoint.
#[cfg_attr(not(feature = "fuse"), allow(dead_code))]
pub(super) struct MountArgs<'a> {
    pub read_only: bool,
    pub allow_other: bool,
    pub check_permissions: bool,
    pub threads: Option<usize>,
    /// Also serve gRPC on this address.
    pub serve: Option<&'a str>,
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub access: Access,
    /// `--from URL NAME`: mount a ref of an object store instead of the state.
    #[cfg_attr(not(feature = "fuse"), allow(dead_code))]
    pub from: Option<From<'a>>,
}

/// `mount --from URL NAME [--push] [--cache SIZE]`.
#[cfg_attr(not(feature = "fuse"), allow(dead_code))]
pub(super) struct From<'a> {
    pub url: &'a str,
    pub name: &'a str,
    pub push: bool,
    pub cache: u64,
}

#[cfg(feature = "fuse")]
fn mount(image: &Path, mountpoint: &Path, opts: MountArgs) -> io::Result<ExitCode> {
    super::mount::run(image, mountpoint, opts)
}

#[cfg(not(feature = "fuse"))]
fn mount(_image: &Path, _mountpoint: &Path, _opts: MountArgs) -> io::Result<ExitCode> {
    Err(memfs::error::err(
        io::ErrorKind::Unsupported,
        "mount needs memfs built with the `fuse` feature (cargo build --features fuse)",
    ))
}

/// Runs one command against the server at `url`.
#[cfg(feature = "grpc")]
fn run_remote(url: &str, token: Option<&str>, cli: &Cli) -> io::Result<ExitCode> {
    let command = &cli.command;
    let what = match command {
        Command::Shell => Some("shell"),
        Command::Serve { .. } => Some("serve"),
        Command::Mount { .. } => return Err(mount_remote_unsupported()),
        _ => None,
    };
    if let Some(what) = what {
        return Err(super::remote::unsupported(what));
    }
    let tls = memfs_grpc::ClientTls::load(
        cli.ca.as_deref(),
        cli.tls_cert.as_deref(),
        cli.tls_key.as_deref(),
    )?;
    let backend = super::remote::RemoteBackend::connect(url, token, &tls)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let outcome = commands::execute(command, &backend, "/", &mut out)?;
    out.flush()?;
    Ok(exit_code(outcome))
}

/// `mount --remote`: the FUSE layer serves a local `MemFs`, not a `RemoteFs`.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
fn mount_remote_unsupported() -> io::Error {
    memfs::error::err(
        io::ErrorKind::Unsupported,
        "mount is not supported with --remote (FUSE serves a local filesystem): mount the \
         state itself with `memfs --state PATH mount MOUNTPOINT --serve ADDR`, which also \
         serves it for --remote",
    )
}

#[cfg(not(feature = "grpc"))]
fn run_remote(_url: &str, _token: Option<&str>, _cli: &Cli) -> io::Result<ExitCode> {
    Err(no_grpc("--remote"))
}

#[cfg(not(feature = "grpc"))]
fn no_grpc(what: &str) -> io::Error {
    memfs::error::err(
        io::ErrorKind::Unsupported,
        format!("{what} needs memfs built with the `grpc` feature"),
    )
}

/// `memfs read` without building the tree (see `image::read_file`); `None` sends the command
/// down the ordinary path (which gives the exact error, if any).
fn fast_read(image: &Path, path: &str) -> io::Result<Option<Vec<u8>>> {
    let _lock = state::lock(image, false)?;
    let bytes = match std::fs::read(image) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(memfs::error::err(
                e.kind(),
                format!("{}: {e}", image.display()),
            ))
        }
    };
    memfs::persist::image::read_file(&bytes, &commands::absolute("/", path))
        .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", image.display())))
}

/// Loads the state at `image` (empty if there is none). `force` replaces a corrupt image by an
/// empty one (for `init --force`). With `offer_json`, a missing state next to the original
/// tool's `PATH.json` offers to import it.
pub(crate) fn open(image: &Path, force: bool, offer_json: bool) -> io::Result<LocalBackend> {
    match state::load(image) {
        Ok(Some(img)) => Ok(LocalBackend::new(img.fs, img.snapshots)),
        Ok(None) => {
            let backend = LocalBackend::default();
            let json = state::sibling(image, ".json");
            if offer_json && json.is_file() {
                offer_original_json(&backend, &json)?;
            }
            Ok(backend)
        }
        Err(e) if force && e.kind() == io::ErrorKind::InvalidData => {
            eprintln!("warning: replacing the unreadable state ({e})");
            Ok(LocalBackend::default())
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(memfs::error::err(
            e.kind(),
            format!(
                "{e}. The state is left as it is; to start over, `memfs init --force` replaces \
                 it with an empty filesystem (copy {} first to keep it)",
                image.display()
            ),
        )),
        Err(e) => Err(e),
    }
}

/// The original memfs kept its state in `~/.memfs_state.json`: offer to import it, never
/// silently. On a terminal, ask; otherwise say how.
fn offer_original_json(backend: &LocalBackend, json: &Path) -> io::Result<()> {
    if io::stdin().is_terminal() && io::stderr().is_terminal() {
        eprint!(
            "Found {} from the original memfs and no memfs state yet. Import it? [y/N] ",
            json.display()
        );
        io::stderr().flush()?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            let text = std::fs::read_to_string(json)?;
            backend
                .load_json(&text)
                .map_err(|e| memfs::error::err(e.kind(), format!("{}: {e}", json.display())))?;
            backend.dirty.set(true);
            eprintln!("imported {}", json.display());
        }
    } else {
        eprintln!(
            "note: found {} from the original memfs; import it with `memfs load {}`",
            json.display(),
            json.display()
        );
    }
    Ok(())
}
