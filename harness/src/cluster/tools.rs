//! Running the host tools nfslab drives: `docker`, `kind` and the image build script.
//!
//! Everything goes through the [`Tools`] trait so the cluster logic (what is run, in which
//! order, what happens on failure or interrupt) is tested with a scripted double instead of
//! a real kind. The real implementation ([`SystemTools`]) runs each command with a timeout,
//! kills it when the caller gives up (dropping the future, as Ctrl-C handling does), and
//! captures its output for error messages while optionally echoing it as progress.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// One command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program (looked up on PATH).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
    /// Whether to echo its output lines as progress while it runs.
    pub echo: bool,
}

impl CommandSpec {
    /// A command with a timeout; output is captured, not echoed.
    #[must_use]
    pub fn new(program: &str, args: &[&str], timeout: Duration) -> Self {
        Self {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            timeout,
            echo: false,
        }
    }

    /// Echo the command's output lines while it runs.
    #[must_use]
    pub fn echoed(mut self) -> Self {
        self.echo = true;
        self
    }

    /// The command line, for messages.
    #[must_use]
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CommandOutput {
    /// A successful run printing `stdout`.
    #[must_use]
    pub fn ok(stdout: &str) -> Self {
        Self {
            code: Some(0),
            stdout: stdout.to_owned(),
            stderr: String::new(),
        }
    }

    /// A failed run with exit code `code` printing `stderr`.
    #[must_use]
    pub fn failed(code: i32, stderr: &str) -> Self {
        Self {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.to_owned(),
        }
    }

    /// Whether the command exited with code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last non-empty line of stderr (or stdout), for one-line error messages.
    #[must_use]
    pub fn last_line(&self) -> String {
        let pick = |text: &str| {
            text.lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map(str::to_owned)
        };
        pick(&self.stderr)
            .or_else(|| pick(&self.stdout))
            .unwrap_or_else(|| "no output".to_owned())
    }
}

/// Why a command could not be run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program is not on PATH.
    #[error("`{program}` is not installed or not on PATH")]
    NotFound {
        /// The program.
        program: String,
    },
    /// The command ran longer than allowed and was killed.
    #[error("`{command}` did not finish within {}", nfslab_workload::format_duration(*.after))]
    Timeout {
        /// The command line.
        command: String,
        /// The limit.
        after: Duration,
    },
    /// The command could not be started or its output not read.
    #[error("could not run `{command}`")]
    Io {
        /// The command line.
        command: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// Why a step carried out by running a host tool failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The tool could not be run.
    #[error("could not {action}")]
    Tool {
        /// What was attempted.
        action: String,
        /// Why.
        #[source]
        source: ToolError,
    },
    /// The tool ran and failed.
    #[error(
        "could not {action}: `{command}` failed: {detail}{}",
        .hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default()
    )]
    Failed {
        /// What was attempted.
        action: String,
        /// The command line.
        command: String,
        /// Its last line of output.
        detail: String,
        /// What to do, when known.
        hint: Option<String>,
    },
}

impl CommandError {
    /// The failure of `command`, which produced `output`, while attempting `action`.
    #[must_use]
    pub fn failed(
        action: &str,
        command: &CommandSpec,
        output: &CommandOutput,
        hint: Option<&str>,
    ) -> Self {
        Self::Failed {
            action: action.to_owned(),
            command: command.display(),
            detail: output.last_line(),
            hint: hint.map(str::to_owned),
        }
    }
}

/// Runs `command` for `action`; an error when it cannot run. Its exit status is the caller's
/// to judge.
///
/// # Errors
/// [`CommandError::Tool`] when the tool cannot be run or times out.
pub(crate) async fn run_for(
    tools: &dyn Tools,
    action: &str,
    command: &CommandSpec,
) -> Result<CommandOutput, CommandError> {
    tools
        .run(command)
        .await
        .map_err(|source| CommandError::Tool {
            action: action.to_owned(),
            source,
        })
}

/// Runs `command` for `action` and requires it to succeed.
///
/// # Errors
/// [`CommandError`] when the tool cannot be run or exits non-zero (quoting its last line and
/// `hint`).
pub(crate) async fn run_checked(
    tools: &dyn Tools,
    action: &str,
    command: &CommandSpec,
    hint: Option<&str>,
) -> Result<CommandOutput, CommandError> {
    let output = run_for(tools, action, command).await?;
    if output.success() {
        Ok(output)
    } else {
        Err(CommandError::failed(action, command, &output, hint))
    }
}

/// The host tools nfslab runs.
#[async_trait]
pub trait Tools: Send + Sync {
    /// Where `program` is on PATH, if anywhere.
    fn find(&self, program: &str) -> Option<PathBuf>;

    /// Runs a command to completion (or its timeout).
    async fn run(&self, command: &CommandSpec) -> Result<CommandOutput, ToolError>;
}

/// The real host: commands run as child processes.
#[derive(Clone, Debug, Default)]
pub struct SystemTools {
    /// Receives echoed output lines; `None` prints them to stderr.
    quiet: bool,
}

impl SystemTools {
    /// Tools that echo progress of echoed commands to stderr.
    #[must_use]
    pub fn new() -> Self {
        Self { quiet: false }
    }

    /// Tools that never echo (for tests and machine-readable output).
    #[must_use]
    pub fn quiet() -> Self {
        Self { quiet: true }
    }
}

/// Finds an executable file named `program` in the directories of `path` (a PATH value).
#[must_use]
pub(crate) fn find_in_path(program: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

async fn collect_lines(
    reader: impl AsyncRead + Unpin,
    echo: Option<&str>,
) -> std::io::Result<String> {
    let mut lines = BufReader::new(reader).lines();
    let mut text = String::new();
    while let Some(line) = lines.next_line().await? {
        if let Some(prefix) = echo {
            eprintln!("  {prefix}: {line}");
        }
        text.push_str(&line);
        text.push('\n');
    }
    Ok(text)
}

#[async_trait]
impl Tools for SystemTools {
    fn find(&self, program: &str) -> Option<PathBuf> {
        // PATH first; then where nfslab installs the tools it downloads (kind).
        find_in_path(program, &std::env::var_os("PATH").unwrap_or_default()).or_else(|| {
            super::install::bin_dir().and_then(|dir| find_in_path(program, dir.as_os_str()))
        })
    }

    async fn run(&self, command: &CommandSpec) -> Result<CommandOutput, ToolError> {
        let line = command.display();
        let program = self
            .find(&command.program)
            .ok_or_else(|| ToolError::NotFound {
                program: command.program.clone(),
            })?;
        let io_error = |source| ToolError::Io {
            command: line.clone(),
            source,
        };
        let mut child = Command::new(&program)
            .args(&command.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io_error)?;
        let echo = (command.echo && !self.quiet).then(|| file_name(&program));
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(io_error(std::io::Error::other("no output pipes")));
        };
        let work = async {
            let (out, err, status) = tokio::join!(
                collect_lines(stdout, echo.as_deref()),
                collect_lines(stderr, echo.as_deref()),
                child.wait()
            );
            Ok::<_, std::io::Error>(CommandOutput {
                code: status?.code(),
                stdout: out?,
                stderr: err?,
            })
        };
        match tokio::time::timeout(command.timeout, work).await {
            Ok(result) => result.map_err(io_error),
            Err(_) => Err(ToolError::Timeout {
                command: line.clone(),
                after: command.timeout,
            }),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A scripted [`Tools`] for tests: programs present on the fake PATH, replies by command
/// prefix, and a record of every command run.
#[cfg(test)]
pub(crate) mod scripted {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A reply for commands starting with a prefix, limited to some uses or not.
    struct Rule {
        prefix: Vec<String>,
        output: CommandOutput,
        remaining: Option<usize>,
    }

    #[derive(Default)]
    struct Inner {
        present: Vec<String>,
        rules: Vec<Rule>,
        calls: Vec<Vec<String>>,
        hang: Vec<Vec<String>>,
    }

    /// The scripted tools. Clones share state.
    #[derive(Clone, Default)]
    pub(crate) struct ScriptedTools {
        inner: Arc<Mutex<Inner>>,
    }

    impl ScriptedTools {
        /// Tools where `programs` are installed and nothing is scripted yet.
        pub(crate) fn with(programs: &[&str]) -> Self {
            let tools = Self::default();
            tools.lock().present = programs.iter().map(|p| (*p).to_owned()).collect();
            tools
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Commands starting with `prefix` (program first) reply `output`. Rules added later
        /// take precedence, so a test overrides a general rule with a specific one.
        pub(crate) fn reply(&self, prefix: &[&str], output: CommandOutput) -> &Self {
            self.reply_limited(prefix, output, None)
        }

        fn reply_limited(
            &self,
            prefix: &[&str],
            output: CommandOutput,
            remaining: Option<usize>,
        ) -> &Self {
            let prefix = prefix.iter().map(|p| (*p).to_owned()).collect();
            self.lock().rules.push(Rule {
                prefix,
                output,
                remaining,
            });
            self
        }

        /// Commands starting with `prefix` never finish (until dropped).
        pub(crate) fn hang(&self, prefix: &[&str]) -> &Self {
            self.lock()
                .hang
                .push(prefix.iter().map(|p| (*p).to_owned()).collect());
            self
        }

        /// Every command run so far, program first.
        pub(crate) fn calls(&self) -> Vec<Vec<String>> {
            self.lock().calls.clone()
        }

        /// The command lines run so far, joined by spaces.
        pub(crate) fn lines(&self) -> Vec<String> {
            self.calls().iter().map(|c| c.join(" ")).collect()
        }
    }

    #[async_trait]
    impl Tools for ScriptedTools {
        fn find(&self, program: &str) -> Option<PathBuf> {
            self.lock()
                .present
                .iter()
                .any(|p| p == program)
                .then(|| PathBuf::from(format!("/usr/bin/{program}")))
        }

        async fn run(&self, command: &CommandSpec) -> Result<CommandOutput, ToolError> {
            if self.find(&command.program).is_none() {
                return Err(ToolError::NotFound {
                    program: command.program.clone(),
                });
            }
            let argv: Vec<String> = std::iter::once(command.program.clone())
                .chain(command.args.iter().cloned())
                .collect();
            let (hangs, reply) = {
                let mut inner = self.lock();
                inner.calls.push(argv.clone());
                let hangs = inner.hang.iter().any(|p| argv.starts_with(p));
                let mut reply = None;
                for rule in inner.rules.iter_mut().rev() {
                    if rule.remaining == Some(0) || !argv.starts_with(&rule.prefix) {
                        continue;
                    }
                    if let Some(n) = rule.remaining.as_mut() {
                        *n -= 1;
                    }
                    reply = Some(rule.output.clone());
                    break;
                }
                (hangs, reply)
            };
            if hangs {
                std::future::pending::<()>().await;
            }
            match reply {
                Some(output) => Ok(output),
                None => Ok(CommandOutput::failed(
                    127,
                    &format!("no scripted reply for `{}`", argv.join(" ")),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_commands_and_captures_output() {
        let tools = SystemTools::quiet();
        let out = tools
            .run(&CommandSpec::new(
                "sh",
                &["-c", "echo out; echo err >&2; exit 3"],
                Duration::from_secs(10),
            ))
            .await
            .expect("ran");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.last_line(), "err");
    }

    #[tokio::test]
    async fn missing_programs_and_timeouts_are_errors() {
        let tools = SystemTools::quiet();
        let err = tools
            .run(&CommandSpec::new(
                "nfslab-no-such-tool",
                &[],
                Duration::from_secs(1),
            ))
            .await
            .expect_err("missing");
        assert!(matches!(err, ToolError::NotFound { .. }));
        let err = tools
            .run(&CommandSpec::new(
                "sleep",
                &["5"],
                Duration::from_millis(100),
            ))
            .await
            .expect_err("timeout");
        assert_eq!(err.to_string(), "`sleep 5` did not finish within 100ms");
    }

    #[test]
    fn path_lookup_needs_an_executable_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let tool = dir.path().join("kind");
        std::fs::write(&tool, "#!/bin/sh\n").expect("write");
        assert_eq!(find_in_path("kind", dir.path().as_os_str()), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_in_path("kind", dir.path().as_os_str()), Some(tool));
    }
}
