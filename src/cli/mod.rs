//! The `memfs` command line: argument grammar (`args`), the backend the commands run against
//! (`backend`), the commands themselves (`commands`), the persisted state and its lock
//! (`state`), the interactive shell (`shell`) and the entry point (`run`).

pub mod args;
pub mod backend;
pub mod commands;
mod run;
pub mod shell;
pub mod state;

pub use run::main;
