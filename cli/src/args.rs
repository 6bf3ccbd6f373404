//! The command-line grammar (clap derive): the global options and every command, shared by the
//! `memfs` binary and the interactive shell (which parses each line with [`ShellLine`]).
//! Nothing here runs anything.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
        #[arg(default_value = ".")]
        path: String,
    },
    /// List a directory
    Ls {
        /// Long format: type and permissions, size, modification time
        #[arg(short = 'l')]
        long: bool,
        #[arg(default_value = ".")]
        path: String,
    },
    /// Create a directory
    Mkdir {
        /// Create missing parents; no error if it exists
        #[arg(short = 'p', long)]
        parents: bool,
        path: String,
    },
    /// Create an empty file, or update the modification time of an existing one
    Touch { path: String },
    /// Write CONTENT to a file, replacing it (`-` reads standard input)
    Write { path: String, content: String },
    /// Append CONTENT to a file, creating it if missing (`-` reads standard input)
    Append { path: String, content: String },
    /// Print a file's bytes
    #[command(alias = "cat")]
    Read { path: String },
    /// Remove a file (or, with -r, a directory and its contents)
    Rm {
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        path: String,
    },
    /// Remove an empty directory
    Rmdir { path: String },
    /// Move or rename (into DST if it is a directory)
    Mv { src: String, dst: String },
    /// Copy a file (or, with -r, a directory) (into DST if it is a directory)
    Cp {
        #[arg(short = 'r', short_alias = 'R', long)]
        recursive: bool,
        src: String,
        dst: String,
    },
    /// Show a path's metadata
    Stat { path: String },
    /// Find paths under START whose relative path (or name) matches a glob PATTERN
    Find {
        pattern: String,
        #[arg(default_value = ".")]
        start: String,
    },
    /// Find files under START whose content contains TEXT
    Grep {
        text: String,
        #[arg(default_value = ".")]
        start: String,
    },
    /// Print the tree (or the subtree at PATH) as JSON
    Dump {
        #[arg(default_value = "/")]
        path: String,
    },
    /// Replace the whole filesystem by a JSON dump (of this tool or of the original memfs)
    Load { file: PathBuf },
    /// Copy a host directory into the filesystem
    Import { host_dir: PathBuf, vpath: String },
    /// Copy a directory (or file) of the filesystem to the host
    Export { vpath: String, host_dir: PathBuf },
    /// Save the current tree as a named snapshot (O(1); shares all data)
    Snapshot {
        name: String,
        /// Delete the snapshot NAME instead
        #[arg(long)]
        delete: bool,
    },
    /// List the named snapshots
    Snapshots,
    /// Make the filesystem what snapshot NAME shows
    Restore { name: String },
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
        #[arg(default_value = "/")]
        prefix: String,
    },
    /// Logical bytes vs bytes stored after deduplication
    Du,
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// Interactive shell over one in-memory filesystem (saved on exit and on `save`)
    Shell,
    /// Serve the state's filesystem over gRPC until Ctrl-C, SIGTERM or SIGHUP, then save it (the
    /// state stays locked meanwhile: use `--remote` to reach it)
    Serve {
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: String,
    },
    /// Mount the state's filesystem with FUSE (needs the `fuse` feature) in the foreground
    /// until Ctrl-C, SIGTERM, SIGHUP or `fusermount3 -u MOUNTPOINT`, then save it (the state
    /// stays locked meanwhile: use `--serve` and `--remote` to reach it)
    Mount {
        /// An existing directory to mount on
        mountpoint: PathBuf,
        /// Mount read-only: every change fails with EROFS
        #[arg(long)]
        read_only: bool,
        /// Threads serving the kernel's requests [default: CPUs, at most 4]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Also serve the filesystem over gRPC on ADDR (as `memfs serve` does), so that
        /// `memfs --remote URL snapshot/restore/...` work while it is mounted
        #[arg(long, value_name = "ADDR")]
        serve: Option<String>,
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
                | Command::Completions { .. }
        )
    }
}
