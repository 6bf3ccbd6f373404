//! `memfs shell` in a real pseudo-terminal: keys typed (Tab, Up, Ctrl-C, Ctrl-D) and what the
//! screen shows, rendered by a terminal emulator from everything the shell wrote.

use std::path::PathBuf;
use std::time::Duration;

use rexpect::session::PtySession;

const PROMPT: &str = "memfs:/> ";

/// rexpect hands the pty's bytes over as one `char` per byte: back to bytes for the emulator.
fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

struct Shell {
    pty: PtySession,
    screen: vt100::Parser,
    _dir: tempfile::TempDir,
}

impl Shell {
    /// A shell on a fresh state holding `/my notes.txt` (no trailing newline) and `/dir/`.
    fn start() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let state: PathBuf = dir.path().join("state");
        let memfs = env!("CARGO_BIN_EXE_memfs");
        let setup = |args: &[&str]| {
            let st = std::process::Command::new(memfs)
                .env("HOME", dir.path())
                .arg("--state")
                .arg(&state)
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "{args:?}");
        };
        setup(&["write", "/my notes.txt", "no trailing newline"]);
        setup(&["mkdir", "/my dir"]);
        setup(&["write", "/my dir/inner.txt", "inside"]);
        let mut cmd = std::process::Command::new(memfs);
        cmd.env("HOME", dir.path())
            .env("TERM", "xterm")
            .env_remove("MEMFS_STATE")
            .arg("--state")
            .arg(&state)
            .arg("shell");
        let pty = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
        let mut sh = Shell {
            pty,
            screen: vt100::Parser::new(
                std::num::NonZeroU16::new(24).unwrap(),
                std::num::NonZeroU16::new(100).unwrap(),
                0,
            ),
            _dir: dir,
        };
        sh.until(PROMPT);
        sh
    }

    /// Reads until `needle` appears, feeding everything to the screen.
    fn until(&mut self, needle: &str) {
        let before = self
            .pty
            .exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}\nscreen:\n{}", self.text()));
        if std::env::var_os("PTY_DEBUG").is_some() {
            eprintln!("until {needle:?} read {before:?}");
        }
        self.screen.process(&bytes(&before));
        self.screen.process(needle.as_bytes());
    }

    /// Reads what arrives within `d` (for keys whose effect is a redraw, not a fixed text).
    fn settle(&mut self, d: Duration) {
        std::thread::sleep(d);
        let mut got = String::new();
        while let Some(c) = self.pty.try_read() {
            got.push(c);
        }
        if std::env::var_os("PTY_DEBUG").is_some() {
            eprintln!("settle read {got:?}");
        }
        self.screen.process(&bytes(&got));
    }

    /// Types `keys` (sent and flushed at once: the pty writer buffers until a newline).
    fn keys(&mut self, keys: &str) {
        self.pty.send(keys).unwrap();
        self.pty.flush().unwrap();
    }

    fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// The screen's row holding the cursor.
    fn cursor_row(&self) -> String {
        let (row, _) = self.screen.screen().cursor_position();
        self.screen
            .screen()
            .rows(0, 100)
            .nth(row as usize)
            .unwrap_or_default()
    }
}

#[test]
fn read_of_a_file_without_a_final_newline_stays_on_screen() {
    let mut sh = Shell::start();
    sh.pty.send_line("read 'my notes.txt'").unwrap();
    sh.until("no trailing newline");
    sh.until(PROMPT);
    let text = sh.text();
    assert!(
        text.lines().any(|l| l.trim_end() == "no trailing newline"),
        "the output was overwritten by the prompt:\n{text}"
    );
    assert_eq!(sh.cursor_row().trim_end(), PROMPT.trim_end());
    sh.pty.send_control('d').unwrap();
    sh.pty.exp_eof().unwrap();
}

#[test]
fn tab_completes_names_with_spaces_escaped_or_inside_the_quote() {
    let mut sh = Shell::start();
    // Outside quotes: escaped. "my" matches two names; Tab completes what they share...
    sh.keys("read my\\ n\t");
    sh.settle(Duration::from_millis(300));
    assert!(
        sh.cursor_row().contains("read my\\ notes.txt"),
        "row: {:?}",
        sh.cursor_row()
    );
    sh.pty.send_line("").unwrap();
    sh.until("no trailing newline");
    sh.until(PROMPT);
    // ...and inside an open double quote the name is completed and the quote closed.
    sh.keys("read \"my n\t");
    sh.settle(Duration::from_millis(300));
    assert!(
        sh.cursor_row().contains("read \"my notes.txt\""),
        "row: {:?}",
        sh.cursor_row()
    );
    sh.pty.send_line("").unwrap();
    sh.until("no trailing newline");
    sh.until(PROMPT);
    // A directory stays open for more; a second Tab lists the candidates, as bash does.
    sh.keys("read 'my d\t");
    sh.settle(Duration::from_millis(300));
    assert!(
        sh.cursor_row().contains("read 'my dir/"),
        "row: {:?}",
        sh.cursor_row()
    );
    sh.keys("\t"); // completes the only entry
    sh.settle(Duration::from_millis(300));
    assert!(
        sh.cursor_row().contains("read 'my dir/inner.txt'"),
        "row: {:?}",
        sh.cursor_row()
    );
    sh.pty.send_line("").unwrap();
    sh.until("inside");
    sh.until(PROMPT);
    sh.keys("read my\t\t");
    sh.settle(Duration::from_millis(300));
    let text = sh.text();
    assert!(
        text.contains("my dir/") && text.contains("my notes.txt"),
        "no list of candidates:\n{text}"
    );
    sh.pty.send_control('c').unwrap();
    sh.until(PROMPT);
    sh.pty.send_line("exit").unwrap();
    sh.pty.exp_eof().unwrap();
}

#[test]
fn up_recalls_a_line_ctrl_c_discards_one_and_ctrl_d_saves_and_exits() {
    let mut sh = Shell::start();
    sh.pty.send_line("write /new.txt hello").unwrap();
    sh.until(PROMPT);
    sh.keys("half a line");
    sh.pty.send_control('c').unwrap();
    sh.until(PROMPT);
    sh.keys("\x1b[A"); // Up: the last line comes back
    sh.settle(Duration::from_millis(300));
    assert!(
        sh.cursor_row().contains("write /new.txt hello"),
        "row: {:?}",
        sh.cursor_row()
    );
    sh.pty.send_control('c').unwrap();
    sh.until(PROMPT);
    sh.pty.send_line("read /new.txt").unwrap();
    sh.until("hello");
    sh.until(PROMPT);
    sh.pty.send_control('d').unwrap();
    sh.pty.exp_eof().unwrap();
}
