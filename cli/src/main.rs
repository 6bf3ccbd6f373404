//! `memfs-cli`: the `memfs` command line: argument grammar (`args`), the backend the commands run against
//! (`backend`), the commands themselves (`commands`), the persisted state and its lock
//! (`state`), the interactive shell (`shell`), the entry point (`run`) and, with the `grpc`
//! feature, `memfs serve` (`serve`) and `--remote` (`remote`), with the `fuse` feature `memfs
//! mount` (`mount`); `daemon` holds what `serve` and `mount` share (lock, signals, save).

mod args;
mod backend;
mod commands;
#[cfg(any(feature = "grpc", feature = "fuse"))]
mod daemon;
#[cfg(feature = "fuse")]
mod mount;
#[cfg(feature = "grpc")]
mod remote;
mod run;
#[cfg(feature = "grpc")]
mod serve;
mod shell;
mod state;
mod store;

fn main() -> std::process::ExitCode {
    run::main()
}
