//! `memfs shell`: an interactive session over one in-memory filesystem.
//!
//! Lines are split like a POSIX shell (`shlex`) and parsed with the same grammar as the command
//! line, plus the builtins `cd`, `pwd`, `help`, `save [--force]` and `exit [--force]`. A bad line
//! prints an error and the shell goes on (a script piped in, standard input not a terminal,
//! then exits with status 1 at its end). Editing, history (`STATE.history`) and tab completion
//! of commands and paths come from `rustyline` (Tab lists the candidates, as bash; names are
//! completed escaped, or inside the quote the word opened); when standard input is not a
//! terminal, rustyline reads plain lines, so scripts can be piped in. In a terminal, output
//! that does not end its line gets a newline, so the next prompt does not overwrite it.
//!
//! The state is loaded once (under a shared lock) and saved on `save`, on `exit` and at end of
//! input, under the exclusive lock. If another process changed the state since the shell loaded
//! or last saved it, the save is refused (nothing is overwritten) unless `--force` is given.

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
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

/// The word being completed: where it starts in the line (its opening quote included), its
/// text with quotes and backslashes removed, and the quote it is inside, if any.
struct Word {
    start: usize,
    text: String,
    quote: Option<char>,
}

/// Splits `before` (the line up to the cursor) as `shlex` does, far enough to know the last
/// word: whitespace outside quotes separates words, `'...'` and `"..."` quote, a backslash
/// escapes the next character outside single quotes.
fn current_word(before: &str) -> Word {
    let mut word = Word {
        start: 0,
        text: String::new(),
        quote: None,
    };
    let mut chars = before.char_indices().peekable();
    let mut fresh = true;
    while let Some((i, c)) = chars.next() {
        if fresh && !c.is_whitespace() {
            word.start = i;
            fresh = false;
        }
        match (word.quote, c) {
            (None, c) if c.is_whitespace() => {
                word.text.clear();
                fresh = true;
            }
            (None, '\'' | '"') => word.quote = Some(c),
            (Some(q), c) if c == q => word.quote = None,
            (None, '\\') | (Some('"'), '\\') => {
                if let Some((_, next)) = chars.next() {
                    word.text.push(next);
                }
            }
            (_, c) => word.text.push(c),
        }
    }
    if fresh {
        word.start = before.len();
    }
    word
}

/// `name` as it must be typed: inside `quote`, or escaped with backslashes outside quotes.
fn quoted(name: &str, quote: Option<char>) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    match quote {
        Some('\'') => out.push_str(&name.replace('\'', "'\\''")),
        Some(_) => {
            for c in name.chars() {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        None => {
            for c in name.chars() {
                if c.is_whitespace() || "\\'\"$`&|;<>()*?[]{}~#!".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    out
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
        let word = current_word(before);
        let first_word = before[..word.start].trim().is_empty();
        if first_word {
            let mut names: Vec<String> = ShellLine::command()
                .get_subcommands()
                .flat_map(|c| {
                    std::iter::once(c.get_name().to_owned())
                        .chain(c.get_all_aliases().map(str::to_owned))
                })
                .chain(BUILTINS.iter().map(|s| s.to_string()))
                .filter(|n| n.starts_with(&word.text))
                .collect();
            names.sort();
            names.dedup();
            let pairs = names
                .into_iter()
                .map(|n| Pair {
                    display: n.clone(),
                    replacement: format!("{n} "),
                })
                .collect();
            return Ok((word.start, pairs));
        }
        let text = word.text.as_str();
        let (dir_part, prefix) = match text.rfind('/') {
            Some(i) => (&text[..=i], &text[i + 1..]),
            None => ("", text),
        };
        let cwd = self.cwd.borrow().clone();
        let dir = if dir_part.is_empty() {
            cwd
        } else {
            commands::absolute(&cwd, dir_part)
        };
        let open = word.quote.map(String::from).unwrap_or_default();
        let mut out = Vec::new();
        if let Ok(entries) = self.fs.read_dir(&dir) {
            for e in entries {
                let name = e.file_name();
                if !name.starts_with(prefix) {
                    continue;
                }
                let is_dir = self.fs.isdir(e.path());
                let typed = quoted(&format!("{dir_part}{name}"), word.quote);
                // A directory stays open for more (inside its quote); a file is finished: its
                // quote closed and a space after it.
                let replacement = if is_dir {
                    format!("{open}{typed}/")
                } else {
                    format!("{open}{typed}{open} ")
                };
                let display = if is_dir { format!("{name}/") } else { name };
                out.push(Pair {
                    display,
                    replacement,
                });
            }
        }
        Ok((word.start, out))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// A writer that remembers whether what it wrote so far ends in the middle of a line.
struct EndsLine<'a> {
    inner: &'a mut dyn Write,
    open_line: bool,
}

impl<'a> EndsLine<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        EndsLine {
            inner,
            open_line: false,
        }
    }
}

impl Write for EndsLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.open_line = buf[n - 1] != b'\n';
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Session {
    image: PathBuf,
    backend: LocalBackend,
    cwd: Rc<RefCell<String>>,
    /// The identity of the image on disk as of the last load or save.
    base: Option<Vec<u8>>,
    saved_generation: u64,
    /// Whether a line failed (a script piped in then exits with status 1).
    failed: bool,
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
        failed: false,
    };
    // Tab lists the candidates (after completing what they share), as bash does.
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor: Editor<ShellHelper, FileHistory> = Editor::with_config(config)
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
    let failed = session.failed && !io::stdin().is_terminal();
    std::mem::forget(session.backend);
    // A script (standard input not a terminal) in which a line failed exits with status 1,
    // after running every line, as `sh script` without `set -e` reports its failures.
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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
            self.failed = true;
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
            self.failed = true;
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
                if e.use_stderr() {
                    self.failed = true;
                }
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
                let mut out = EndsLine::new(&mut out);
                let r = commands::execute(cmd, &self.backend, &cwd, &mut out).map(drop);
                // In a terminal, output without a final newline (a `read` of such a file)
                // would be overwritten by the next prompt: end its line, as zsh does.
                if out.open_line && io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
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
