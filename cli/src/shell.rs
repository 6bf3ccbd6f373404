//! `memfs shell`: an interactive session over one in-memory filesystem.
//!
//! Lines are split like a POSIX shell (`shlex`) and parsed with the same grammar as the command
//! line, plus the builtins `cd`, `pwd`, `help`, `save [--force]` and `exit [--force]`. A bad line
//! prints an error and the shell goes on. Editing, history (`STATE.history`) and tab completion
//! of commands and paths come from `rustyline`; when standard input is not a terminal, rustyline
//! reads plain lines, so scripts can be piped in.
//!
//! The state is loaded once (under a shared lock) and saved on `save`, on `exit` and at end of
//! input, under the exclusive lock. If another process changed the state since the shell loaded
//! or last saved it, the save is refused (nothing is overwritten) unless `--force` is given.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use clap::{CommandFactory, Parser};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use super::args::{Command, ShellLine};
use super::backend::LocalBackend;
use super::commands::{self, normalised};
use super::state;
use memfs::MemFs;

const BUILTINS: [&str; 6] = ["cd", "pwd", "help", "save", "exit", "quit"];

/// Tab completion: command names for the first word, memfs paths after it.
struct ShellHelper {
    fs: MemFs,
    cwd: Rc<RefCell<String>>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let first_word = before[..start].trim().is_empty();
        let pair = |s: String| Pair {
            display: s.clone(),
            replacement: s,
        };
        if first_word {
            let mut names: Vec<String> = ShellLine::command()
                .get_subcommands()
                .flat_map(|c| {
                    std::iter::once(c.get_name().to_owned())
                        .chain(c.get_all_aliases().map(str::to_owned))
                })
                .chain(BUILTINS.iter().map(|s| s.to_string()))
                .filter(|n| n.starts_with(word))
                .collect();
            names.sort();
            names.dedup();
            return Ok((
                start,
                names.into_iter().map(|n| pair(format!("{n} "))).collect(),
            ));
        }
        let (dir_part, prefix) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let cwd = self.cwd.borrow().clone();
        let dir = if dir_part.is_empty() {
            cwd
        } else {
            commands::absolute(&cwd, dir_part)
        };
        let mut out = Vec::new();
        if let Ok(entries) = self.fs.read_dir(&dir) {
            for e in entries {
                let name = e.file_name();
                if name.starts_with(prefix) {
                    let is_dir = self.fs.isdir(e.path());
                    let suffix = if is_dir { "/" } else { " " };
                    out.push(pair(format!("{dir_part}{name}{suffix}")));
                }
            }
        }
        Ok((start, out))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

struct Session {
    image: PathBuf,
    backend: LocalBackend,
    cwd: Rc<RefCell<String>>,
    /// The identity of the image on disk as of the last load or save.
    base: Option<Vec<u8>>,
    saved_generation: u64,
}

enum Flow {
    Continue,
    Exit,
}

/// Runs the shell on the state at `image`.
pub fn run(image: &Path) -> io::Result<ExitCode> {
    let (backend, base) = {
        let _lock = state::lock(image, !image.exists())?;
        let backend = super::run::open(image, false, true)?;
        (backend, state::image_id(image)?)
    };
    let cwd = Rc::new(RefCell::new("/".to_owned()));
    let mut session = Session {
        image: image.to_owned(),
        saved_generation: if backend.dirty.get() {
            u64::MAX
        } else {
            backend.fs.generation()
        },
        backend,
        cwd: cwd.clone(),
        base,
    };
    let mut editor: Editor<ShellHelper, FileHistory> = Editor::new()
        .map_err(|e| io::Error::other(format!("cannot start the line editor: {e}")))?;
    editor.set_helper(Some(ShellHelper {
        fs: session.backend.fs.clone(),
        cwd,
    }));
    let history = state::sibling(image, ".history");
    let _ = editor.load_history(&history);
    loop {
        let prompt = format!("memfs:{}> ", session.cwd.borrow());
        match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Flow::Exit = session.line(&line) {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                if let Err(e) = session.save(false) {
                    eprintln!("error: {e}");
                    // Nobody is left to answer: keep the session's work beside the state.
                    let aside = state::sibling(image, ".unsaved");
                    match state::save(&aside, &session.backend) {
                        Ok(()) => eprintln!(
                            "this session's filesystem was saved to {} (use it with --state)",
                            aside.display()
                        ),
                        Err(e) => eprintln!("error: {e}"),
                    }
                    let _ = editor.save_history(&history);
                    return Ok(ExitCode::FAILURE);
                }
                break;
            }
            Err(e) => return Err(io::Error::other(e)),
        }
    }
    let _ = editor.save_history(&history);
    std::mem::forget(session.backend);
    Ok(ExitCode::SUCCESS)
}

impl Session {
    fn dirty(&self) -> bool {
        self.backend.fs.generation() != self.saved_generation || self.backend.dirty.get()
    }

    /// Saves under the exclusive lock, unless another process changed the image meanwhile.
    fn save(&mut self, force: bool) -> io::Result<()> {
        let _lock = state::lock(&self.image, true)?;
        if !self.dirty() && self.image.exists() {
            return Ok(());
        }
        if !force && state::image_id(&self.image)? != self.base {
            return Err(memfs::error::err(
                io::ErrorKind::ResourceBusy,
                format!(
                    "{} was changed by another memfs process since this shell loaded it; \
                     not overwriting it (use `save --force` or `exit --force` to replace it)",
                    self.image.display()
                ),
            ));
        }
        state::save(&self.image, &self.backend)?;
        self.base = state::image_id(&self.image)?;
        self.saved_generation = self.backend.fs.generation();
        self.backend.dirty.set(false);
        Ok(())
    }

    fn line(&mut self, line: &str) -> Flow {
        let Some(words) = shlex::split(line) else {
            eprintln!("error: unbalanced quotes");
            return Flow::Continue;
        };
        let Some(first) = words.first() else {
            return Flow::Continue;
        };
        let force = words.iter().skip(1).any(|w| w == "--force" || w == "-f");
        let result = match first.as_str() {
            "exit" | "quit" => match self.save(force) {
                Ok(()) => return Flow::Exit,
                Err(e) => Err(e),
            },
            "save" => self.save(force),
            "pwd" => {
                println!("{}", self.cwd.borrow());
                Ok(())
            }
            "cd" => self.cd(words.get(1).map_or("/", String::as_str)),
            "help" => {
                println!("builtins: cd [DIR], pwd, save [--force], exit [--force], help");
                println!("{}", ShellLine::command().render_help());
                Ok(())
            }
            _ => self.command(&words),
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
        }
        Flow::Continue
    }

    fn cd(&mut self, dir: &str) -> io::Result<()> {
        let cwd = self.cwd.borrow().clone();
        let target = normalised(&cwd, dir)?;
        if !self.backend.fs.metadata(&target)?.is_dir() {
            return Err(memfs::error::err(
                io::ErrorKind::NotADirectory,
                format!("not a directory: {target}"),
            ));
        }
        *self.cwd.borrow_mut() = target;
        Ok(())
    }

    fn command(&mut self, words: &[String]) -> io::Result<()> {
        let parsed = match ShellLine::try_parse_from(words) {
            Ok(p) => p,
            Err(e) => {
                // clap renders its own "error: ..." (or the requested help).
                let _ = e.print();
                return Ok(());
            }
        };
        let mut out = io::stdout().lock();
        match &parsed.command {
            Command::Shell => Err(memfs::error::err(
                io::ErrorKind::InvalidInput,
                "already in the shell",
            )),
            Command::Completions { shell } => {
                clap_complete::generate(
                    *shell,
                    &mut super::args::Cli::command(),
                    "memfs",
                    &mut out,
                );
                Ok(())
            }
            cmd => {
                let cwd = self.cwd.borrow().clone();
                let r = commands::execute(cmd, &self.backend, &cwd, &mut out);
                out.flush()?;
                // A restore or load may have removed the current directory.
                if !self.backend.fs.isdir(&cwd) {
                    *self.cwd.borrow_mut() = "/".to_owned();
                }
                r
            }
        }
    }
}
