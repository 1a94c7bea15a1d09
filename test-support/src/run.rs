//! One finished command of a test, and everything needed to understand a failed assertion
//! about it: [`Run::describe`] prints the command line (with the environment it changed, so
//! it can be pasted into a shell), the working directory, a listing of the directory the
//! command worked on, the exit status, how long it took, standard output and standard
//! error. ripgrep's `tests/util.rs` (`TestCommand` and its failure dump) is the model.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// Standard output is shown up to this many bytes (result documents can be large).
const STDOUT_SHOWN: usize = 4000;

/// A directory listing shows at most this many entries.
const LISTING_SHOWN: usize = 200;

/// A command that ran to its end, with its output.
#[derive(Debug)]
pub struct Run {
    /// The command line as a shell would take it: `env` settings, program, arguments.
    pub command: String,
    /// The directory it ran in.
    pub cwd: PathBuf,
    /// The directory it worked on, listed by [`Run::describe`] (none: no listing).
    pub dir: Option<PathBuf>,
    /// How it ended.
    pub status: ExitStatus,
    /// Standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Standard error (invalid UTF-8 replaced).
    pub stderr: String,
    /// From start to exit.
    pub took: Duration,
}

impl Run {
    /// Runs `command` to its end with its output captured.
    ///
    /// # Panics
    /// When the program cannot be started (the test cannot go on).
    pub fn of(command: &mut Command) -> Run {
        let started = Instant::now();
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", command_line(command)));
        Run::finished(command, output, started.elapsed())
    }

    /// A run of `command` that the test started and waited for itself (to signal it, say).
    #[must_use]
    pub fn finished(command: &Command, output: Output, took: Duration) -> Run {
        let here = std::env::current_dir().unwrap_or_default();
        Run {
            command: command_line(command),
            cwd: command
                .get_current_dir()
                .map_or_else(|| here.clone(), |d| here.join(d)),
            dir: None,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took,
        }
    }

    /// The same run, with `dir` as the directory it worked on.
    #[must_use]
    pub fn in_dir(self, dir: impl Into<PathBuf>) -> Run {
        Run {
            dir: Some(dir.into()),
            ..self
        }
    }

    /// The exit code (`None` when a signal ended the process).
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code.
    ///
    /// # Panics
    /// When the run ended otherwise, with [`Run::describe`].
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }

    /// Everything needed to understand a failed assertion about this run.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = format!(
            "\n===== command =====\n{}\n\ncwd: {}\n",
            self.command,
            self.cwd.display()
        );
        if let Some(dir) = &self.dir {
            let _ = write!(out, "\ndir list of {}:\n{}\n", dir.display(), dir_list(dir));
        }
        let _ = write!(
            out,
            "\nstatus: {}\ntook: {:?}\n\nstdout:\n{}\n\nstderr:\n{}\n=====\n",
            self.status,
            self.took,
            head(&self.stdout, STDOUT_SHOWN),
            self.stderr
        );
        out
    }
}

/// `command` as a shell would take it: `env -u UNSET NAME=VALUE program args`, each word
/// quoted when it needs to be.
#[must_use]
pub fn command_line(command: &Command) -> String {
    let mut words = Vec::new();
    let mut set = Vec::new();
    for (name, value) in command.get_envs() {
        match value {
            None => words.extend(["-u".to_owned(), quote(name)]),
            Some(value) => {
                let mut pair = name.to_os_string();
                pair.push("=");
                pair.push(value);
                set.push(quote(&pair));
            }
        }
    }
    words.extend(set);
    if !words.is_empty() {
        words.insert(0, "env".to_owned());
    }
    words.push(quote(command.get_program()));
    words.extend(command.get_args().map(quote));
    words.join(" ")
}

/// `word` as one shell word: as it is when it holds no character a shell would act on,
/// otherwise in single quotes.
fn quote(word: &OsStr) -> String {
    let text = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=,@%+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Every entry under `dir`, one per line as a path relative to it (directories end with
/// `/`), sorted, dotfiles included; symbolic links are not followed. At most
/// `LISTING_SHOWN` entries are shown, then how many more there are.
#[must_use]
pub fn dir_list(dir: &Path) -> String {
    if let Err(e) = std::fs::symlink_metadata(dir) {
        return format!("(cannot list: {e})");
    }
    let mut entries = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in read.filter_map(Result::ok) {
            let path = entry.path();
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                entries.push(format!("{relative}/"));
                pending.push(path);
            } else {
                entries.push(relative);
            }
        }
    }
    entries.sort();
    if entries.is_empty() {
        return "(empty)".to_owned();
    }
    let more = entries.len().saturating_sub(LISTING_SHOWN);
    entries.truncate(LISTING_SHOWN);
    if more > 0 {
        entries.push(format!("... and {more} more"));
    }
    entries.join("\n")
}

/// The first `limit` bytes of `text` (cut at a character boundary), then how many more
/// there are.
fn head(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n... ({} more bytes)", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_names_the_command_its_directory_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/.hidden"), "").unwrap();
        std::fs::write(dir.path().join("a file"), "").unwrap();
        let mut command = Command::new("sh");
        command
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .env("NFSLAB_X", "it's")
            .env_remove("NFSLAB_Y")
            .current_dir(dir.path());
        let run = Run::of(&mut command).in_dir(dir.path());
        assert_eq!(run.code(), Some(3));
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("out\n", "err\n")
        );
        let text = run.describe();
        for needle in [
            r"env -u NFSLAB_Y 'NFSLAB_X=it'\''s' sh -c 'echo out; echo err >&2; exit 3'",
            &format!("cwd: {}", dir.path().display()),
            "a file\nsub/\nsub/.hidden\n",
            "status: exit status: 3",
            "stdout:\nout\n",
            "stderr:\nerr\n",
        ] {
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
    }

    #[test]
    fn long_output_and_listings_are_cut_with_what_was_left_out() {
        assert_eq!(head("ab\u{e9}cd", 3), "ab\n... (4 more bytes)");
        assert_eq!(head("abc", 3), "abc");
        let dir = tempfile::tempdir().unwrap();
        for i in 0..LISTING_SHOWN + 2 {
            std::fs::write(dir.path().join(format!("f{i:04}")), "").unwrap();
        }
        let listing = dir_list(dir.path());
        assert_eq!(listing.lines().count(), LISTING_SHOWN + 1);
        assert!(listing.ends_with("... and 2 more"), "{listing}");
        assert!(dir_list(&dir.path().join("gone")).starts_with("(cannot list: "));
    }

    #[test]
    fn expect_code_fails_with_the_dump() {
        let run = Run::of(Command::new("sh").args(["-c", "exit 1"]));
        assert_eq!(run.expect_code(1).code(), Some(1));
        let failure = std::panic::catch_unwind(|| {
            run.expect_code(0);
        })
        .unwrap_err();
        let message = failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            message.contains("unexpected exit code") && message.contains("===== command"),
            "{message}"
        );
    }
}
