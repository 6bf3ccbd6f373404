//! The command-line grammar (clap derive): the global options and every command, shared by the
//! `memfs` binary and the interactive shell (which parses each line with [`ShellLine`]).
//! Nothing here runs anything.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A path argument: any text but the empty string (which would name the current directory and
/// make `write "" x` fail with "is a directory").
fn path_arg(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("a path cannot be empty".into());
    }
    Ok(s.to_string())
}

/// Permission bits in octal (`755`, `0644`, `4755`).
fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{s:?} is not an octal mode from 0 to 7777"))
}

/// `chown`'s OWNER: `UID`, `UID:GID` or `:GID`, numeric.
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

fn parse_owner(s: &str) -> Result<Owner, String> {
    let id = |t: &str| -> Result<Option<u32>, String> {
        if t.is_empty() {
            return Ok(None);
        }
        t.parse()
            .map(Some)
            .map_err(|_| format!("{t:?} is not a numeric user or group id"))
    };
    let (u, g) = s.split_once(':').unwrap_or((s, ""));
    let owner = Owner {
        uid: id(u)?,
        gid: id(g)?,
    };
    if owner.uid.is_none() && owner.gid.is_none() {
        return Err("give UID, UID:GID or :GID".into());
    }
    Ok(owner)
}

fn parse_size(s: &str) -> Result<u64, String> {
    memfs::parse_size(s).map_err(|e| e.to_string())
}

/// memfs: an in-memory virtual filesystem whose state persists between invocations.
#[derive(Debug, Parser)]
#[command(name = "memfs", version, about, long_about = None)]
pub struct Cli {
    /// State image to use [default: $MEMFS_STATE, else ~/.memfs_state]
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Run the command against a `memfs serve` at URL (`http://host:port`) instead of the state
    #[arg(long, global = true, value_name = "URL")]
    pub remote: Option<String>,

    /// Token for `serve` and `--remote` (sent as `authorization: Bearer`) [default: $MEMFS_TOKEN]
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// For `serve` and `mount --serve`: accept the tokens of FILE, one per line `TOKEN ro|rw
    /// [PREFIX]` (`#` comments), instead of --token: a read-only token cannot change anything,
    /// a prefixed one reaches only that subtree
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "token")]
    pub tokens: Option<PathBuf>,

    /// TLS certificate chain (PEM): the server's for `serve`/`mount --serve`, the client's
    /// (mutual TLS) with `--remote`
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// For `serve`: require client certificates issued by this CA (PEM): mutual TLS
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,

    /// With `--remote https://...`: trust this CA (PEM) instead of the system's roots
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// For `serve`: allow a non-loopback address without TLS (tokens and files then cross the
    /// network in clear text)
    #[arg(long, global = true)]
    pub insecure: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// One line typed in `memfs shell`: a command without the program name.
#[derive(Debug, Parser)]
#[command(name = "", no_binary_name = true, disable_version_flag = true)]
pub struct ShellLine {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start with an empty filesystem (named snapshots are kept)
    Init {
        /// Also replace a state image that is corrupt (it is otherwise never overwritten)
        #[arg(long)]
        force: bool,
        /// Quota: most bytes the tree may store, after deduplication (`64M`, `1G`: K, M, G, T
        /// are powers of 1024); kept in the state; a change past it fails with "no space left"
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_bytes: Option<u64>,
        /// Quota: most files, directories and symlinks (`/` included); kept in the state
        #[arg(long, value_name = "N")]
        max_inodes: Option<u64>,
    },
    /// Show the directory tree
    Tree {
        /// The directory to show
        #[arg(default_value = ".", value_parser = path_arg)]
        path: String,
    },
    /// List a directory (or show one file or symlink)
    Ls {
        /// Long format: type and permissions, size, modification time, `-> TARGET` for a
        /// symlink (shown itself, not followed)
        #[arg(short = 'l')]
        long: bool,
        /// The directory (or file) to list
        #[arg(default_value = ".", value_parser = path_arg)]
        path: String,
    },
    /// Create a directory
    Mkdir {
        /// Create missing parents; no error if it exists
        #[arg(short = 'p', long)]
        parents: bool,
        /// The directory to create
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Change the permission bits of a file or directory (octal MODE: 644, 755, 4755...),
    /// following a symlink
    Chmod {
        #[arg(value_parser = parse_mode)]
        mode: u32,
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Change the owner and/or group (OWNER: UID, UID:GID or :GID, numeric), following a
    /// symlink; a file's set-id bits are cleared, as chown(1) does
    Chown {
        #[arg(value_parser = parse_owner)]
        owner: Owner,
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Create a FIFO (named pipe)
    Mkfifo {
        /// Permission bits, octal
        #[arg(short, long, default_value = "644", value_parser = parse_mode)]
        mode: u32,
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Create an empty file, or update the modification time of an existing one
    Touch {
        /// The file to create or touch
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Write CONTENT to a file, replacing it (`-` reads standard input)
    Write {
        /// The file to write (created if missing, replaced if it exists)
        #[arg(value_parser = path_arg)]
        path: String,
        /// The bytes to write, or `-` for standard input
        content: String,
    },
    /// Append CONTENT to a file, creating it if missing (`-` reads standard input)
    Append {
        /// The file to append to
        #[arg(value_parser = path_arg)]
        path: String,
        /// The bytes to append, or `-` for standard input
        content: String,
    },
    /// Print a file's bytes
    #[command(alias = "cat")]
    Read {
        /// The file to print
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Remove a file or symlink (or, with -r, a directory and its contents)
    Rm {
        /// Remove a directory and everything below it
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// What to remove
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Remove an empty directory
    Rmdir {
        /// The directory to remove
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Move or rename (into DST if it is a directory); replaces a file at DST, as mv(1)
    Mv {
        /// What to move
        #[arg(value_parser = path_arg)]
        src: String,
        /// The new path, or a directory to move into
        #[arg(value_parser = path_arg)]
        dst: String,
    },
    /// Copy a file (or, with -r, a directory) (into DST if it is a directory); replaces a file
    /// at DST, as cp(1)
    Cp {
        /// Copy a directory and everything below it
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        /// What to copy
        #[arg(value_parser = path_arg)]
        src: String,
        /// The new path, or a directory to copy into
        #[arg(value_parser = path_arg)]
        dst: String,
    },
    /// Make a link LINK to TARGET, as ln(1): a hard link (one more name of the same file), or
    /// with -s a symbolic link
    Ln {
        /// Make a symbolic link
        #[arg(short = 's', long)]
        symbolic: bool,
        /// What the link points to: for -s stored as given (relative or absolute; it need not
        /// exist); for a hard link an existing file, symlink or special file (not a directory)
        target: String,
        /// The link to create
        #[arg(value_parser = path_arg)]
        link: String,
    },
    /// Show a path's metadata (a symlink itself, not followed)
    Stat {
        /// The path to show
        #[arg(value_parser = path_arg)]
        path: String,
    },
    /// Find paths under START matching a glob PATTERN: a pattern without `/` matches names at
    /// any depth, one with `/` the path relative to START, one starting with `/` the absolute
    /// path; `**/` crosses directories
    Find {
        /// The glob (`*`, `?`, `[abc]`, `{a,b}`, `**`)
        pattern: String,
        /// Where to search
        #[arg(default_value = ".", value_parser = path_arg)]
        start: String,
    },
    /// Files under START whose content contains TEXT, one path per line, sorted (as `grep -rl`).
    /// Exits 1 when nothing matches, as grep(1)
    Grep {
        /// Print nothing; only the exit status says whether something matched
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Print PATH:N, the number of lines containing TEXT, for each matching file
        #[arg(short = 'c', long, conflicts_with = "quiet")]
        count: bool,
        /// List the matching files (the default; accepted for grep users)
        #[arg(short = 'l', long = "files-with-matches")]
        files_with_matches: bool,
        /// The text to look for (plain bytes, not a pattern)
        text: String,
        /// Where to search
        #[arg(default_value = ".", value_parser = path_arg)]
        start: String,
    },
    /// Print the tree (or the subtree at PATH) as JSON
    Dump {
        /// The subtree to print
        #[arg(default_value = "/", value_parser = path_arg)]
        path: String,
    },
    /// Replace the whole filesystem by a JSON dump (of this tool or of the original memfs)
    Load {
        /// The JSON file on the host
        file: PathBuf,
    },
    /// Copy a host directory into the filesystem (refuses to replace existing files unless
    /// --force)
    Import {
        /// Replace files that already exist in the filesystem
        #[arg(short = 'f', long)]
        force: bool,
        /// The directory (or file) on the host
        host_dir: PathBuf,
        /// Where to put it in the filesystem
        #[arg(value_parser = path_arg)]
        vpath: String,
    },
    /// Copy a directory (or file) of the filesystem to the host (refuses to replace existing
    /// host files unless --force)
    Export {
        /// Replace host files that already exist
        #[arg(short = 'f', long)]
        force: bool,
        /// What to copy out of the filesystem
        #[arg(value_parser = path_arg)]
        vpath: String,
        /// The host directory to copy it into
        host_dir: PathBuf,
    },
    /// Save the current tree as a named snapshot (O(1); shares all data); an existing
    /// snapshot of that name is kept unless --force
    Snapshot {
        /// The snapshot's name
        name: String,
        /// Delete the snapshot NAME instead
        #[arg(long, conflicts_with = "force")]
        delete: bool,
        /// Replace an existing snapshot of that name
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// List the named snapshots
    Snapshots,
    /// Make the filesystem what snapshot NAME shows
    Restore {
        /// The snapshot to restore
        name: String,
    },
    /// What changed from snapshot FROM to snapshot TO (default: the live tree), one line per
    /// path, sorted: `A` added, `D` removed, `M` modified, `T` type changed
    Diff {
        /// The older snapshot
        from: String,
        /// The newer snapshot [default: the live tree]
        to: Option<String>,
        /// Print a JSON array of {"path": ..., "change": "added"|"removed"|"modified"|"type_changed"}
        #[arg(long)]
        json: bool,
    },
    /// Print every change under PREFIX as it happens, one line each: GENERATION, a letter as
    /// `diff` prints it (`O`: this watcher fell behind and skipped changes), PATH. Needs
    /// `--remote` (a server's filesystem, changed by others); runs until the server stops or
    /// Ctrl-C
    Watch {
        /// Only changes at or below this path
        #[arg(default_value = "/")]
        prefix: String,
    },
    /// Logical bytes vs bytes stored after deduplication
    Du,
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Interactive shell over one in-memory filesystem (saved on exit and on `save`)
    Shell,
    /// Serve the state's filesystem over gRPC until Ctrl-C, SIGTERM or SIGHUP, then save it (the
    /// state stays locked meanwhile: use `--remote` to reach it)
    Serve {
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: String,
        /// Connections served at once; one more is closed as it arrives
        #[arg(long, value_name = "N", default_value_t = 4096)]
        max_connections: usize,
        /// Concurrent calls on one connection
        #[arg(long, value_name = "N", default_value_t = 128)]
        max_streams: u32,
        /// Longest a call may take, in seconds (streamed reads and writes included)
        #[arg(long, value_name = "SECS", default_value_t = 600)]
        request_timeout: u64,
        /// A connection whose peer answers no keepalive ping for this many seconds is closed
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        idle_timeout: u64,
        /// Bytes of streamed writes buffered at once, over all calls (`1G`, `256M`); a write
        /// past it fails with RESOURCE_EXHAUSTED
        #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
        max_write_buffer: u64,
    },
    /// Upload the live tree (or snapshot SNAPSHOT) to an object store as the next version of
    /// ref NAME: only the objects the store lacks (URL: s3://BUCKET/PREFIX with the AWS_*
    /// variables, gs://, az://, file:///DIR); fails naming the ref if another push created that
    /// version first
    Push {
        /// The store, e.g. s3://bucket/prefix
        url: String,
        /// The ref to create the next version of
        name: String,
        /// A named snapshot to push [default: the live tree]
        snapshot: Option<String>,
    },
    /// Fetch the current version of ref NAME from an object store as the local snapshot NAME
    /// (or --as), or make it the live tree with --restore
    Pull {
        /// The store, e.g. s3://bucket/prefix
        url: String,
        /// The ref to fetch
        name: String,
        /// Keep it as this local snapshot [default: NAME]
        #[arg(long = "as", value_name = "SNAPSHOT")]
        as_name: Option<String>,
        /// Make it the live tree (instead of keeping a snapshot)
        #[arg(long)]
        restore: bool,
        /// Replace a local snapshot of that name
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Refs in an object store: `remote ls URL`
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Mount the state's filesystem with FUSE (needs the `fuse` feature) in the foreground
    /// until Ctrl-C, SIGTERM, SIGHUP or `fusermount3 -u MOUNTPOINT`, then save it (the state
    /// stays locked meanwhile: use `--serve` and `--remote` to reach it)
    Mount {
        /// An existing directory to mount on
        mountpoint: PathBuf,
        /// Mount read-only: every change fails with EROFS
        #[arg(long)]
        read_only: bool,
        /// Let other users reach the mount (root, or `user_allow_other` in /etc/fuse.conf);
        /// the kernel checks their access against each file's owner and mode
        #[arg(long)]
        allow_other: bool,
        /// Also check each request in memfs, as the user who made it, with the library's
        /// permission rules (the kernel checks them anyway): a request the two judge
        /// differently fails. For tests of the rules; costs a read of /proc per request of a
        /// user other than root
        #[arg(long)]
        check_permissions: bool,
        /// Threads serving the kernel's requests [default: CPUs, at most 4]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Also serve the filesystem over gRPC on ADDR (as `memfs serve` does), so that
        /// `memfs --remote URL snapshot/restore/...` work while it is mounted
        #[arg(long, value_name = "ADDR", conflicts_with = "from")]
        serve: Option<String>,
        /// Mount ref NAME of the object store at URL instead of the state, without
        /// downloading it: files are fetched on first read. Read-only unless --push
        #[arg(long, num_args = 2, value_names = ["URL", "NAME"])]
        from: Option<Vec<String>>,
        /// With --from: writable, and on unmount the tree is pushed as NAME's next version
        /// if it changed, only onto the version mounted (if another push moved NAME
        /// meanwhile, or the store fails, the tree is saved in a state file instead)
        #[arg(long, requires = "from", conflicts_with = "read_only")]
        push: bool,
        /// With --from: memory for fetched file chunks, least recently used evicted
        /// [default: 256M]
        #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "from")]
        cache: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// List the refs of a store: name, version, files, bytes of files, bytes stored
    Ls {
        /// The store, e.g. s3://bucket/prefix
        url: String,
    },
}

impl Command {
    /// Whether the command can change the state (and so needs the exclusive lock and a save).
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            Command::Tree { .. }
                | Command::Ls { .. }
                | Command::Read { .. }
                | Command::Stat { .. }
                | Command::Find { .. }
                | Command::Grep { .. }
                | Command::Dump { .. }
                | Command::Export { .. }
                | Command::Snapshots
                | Command::Diff { .. }
                | Command::Watch { .. }
                | Command::Du
                | Command::Push { .. }
                | Command::Remote(_)
                | Command::Completions { .. }
        )
    }
}
