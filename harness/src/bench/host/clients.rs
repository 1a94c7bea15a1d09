//! The clients of a host run: engine processes (`nfslab io`, or an `nfslab-io` binary), one
//! per client of a cell, run the way client pods run them.
//!
//! Per repetition: every client lays its files out first (`nfslab-io run --layout-only`,
//! not measured, all clients at once); then every client is started with
//! `--start-barrier FILE` on a local scratch directory, and the barrier file is created
//! [`BARRIER_SETTLE`] after the last one started (time to connect and open files), so all
//! begin their measurement together; each writes its JSON result with `--output`. The
//! clients' stderr goes to files in the scratch directory, quoted when a client fails.
//!
//! Children are killed and reaped when the run is interrupted or a client overruns its
//! time, so no process outlives the step. The engine is the real one built from this
//! workspace ([`find_engine`]: by default the one built into `nfslab`), so results are
//! produced by the same code as in pods.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use futures::future::join_all;
use nfslab_workload::{RunResult, format_duration};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Environment variable naming the `nfslab-io` binary.
pub(super) const ENGINE_ENV: &str = "NFSLAB_IO";
/// Pause between starting the last client and releasing the barrier.
pub(super) const BARRIER_SETTLE: Duration = Duration::from_millis(500);

/// The engine the clients run: a program and the arguments that select the engine in it
/// (`nfslab io` for the engine built into `nfslab`, nothing for an `nfslab-io` binary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the engine's own (`["io"]` for `nfslab io`).
    pub prefix: Vec<String>,
}

impl Engine {
    /// An `nfslab-io` binary.
    #[must_use]
    pub fn binary(path: &Path) -> Self {
        Self {
            program: path.to_path_buf(),
            prefix: Vec::new(),
        }
    }

    /// The engine built into the `nfslab` program at `nfslab` (`nfslab io ...`): the same
    /// library code as `nfslab-io`, in the profile and version `nfslab` was built with.
    #[must_use]
    pub fn built_into(nfslab: &Path) -> Self {
        Self {
            program: nfslab.to_path_buf(),
            prefix: vec!["io".to_owned()],
        }
    }

    /// A command running the engine, to which the engine's arguments are added.
    #[must_use]
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix);
        command
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.program.display())?;
        for a in &self.prefix {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// The engine the clients run: `explicit` (a flag), else `$NFSLAB_IO`, else the engine
/// built into the running `nfslab` (`this_program io`).
///
/// `nfslab` carries the engine's whole command line (`nfslab io`), so `cargo run`, a release
/// build and `cargo install --path harness` all measure with the engine of their own build:
/// no second binary has to be built in the same profile, installed next to it, or kept in
/// step with it. An `nfslab-io` binary is used only when named.
///
/// # Errors
/// One line naming the flag or variable whose path is not a file.
pub fn find_engine(explicit: Option<&Path>, this_program: &Path) -> Result<Engine, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(Engine::binary(p))
        } else {
            Err(format!(
                "--engine `{}` is not a file (hint: leave --engine out to use the engine built \
                 into nfslab)",
                p.display()
            ))
        };
    }
    if let Some(p) = std::env::var_os(ENGINE_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(Engine::binary(&p))
        } else {
            Err(format!(
                "{ENGINE_ENV}=`{}` is not a file (hint: unset {ENGINE_ENV} to use the engine \
                 built into nfslab)",
                p.display()
            ))
        };
    }
    Ok(Engine::built_into(this_program))
}

/// Why the clients of a step did not all produce a result.
#[derive(Debug, thiserror::Error)]
pub(super) enum ClientError {
    /// A process could not be started.
    #[error("cannot start `{engine}` for client {client}")]
    Spawn {
        /// Client index.
        client: u32,
        /// The binary.
        engine: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The scratch directory could not be written.
    #[error("cannot write `{path}`")]
    Scratch {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Laying out the files failed.
    #[error("client {client} could not lay out its files (exit {code:?}): {stderr}")]
    Layout {
        /// Client index.
        client: u32,
        /// Exit code.
        code: Option<i32>,
        /// Last stderr lines.
        stderr: String,
    },
    /// Clients did not finish in time (they were killed).
    #[error("{what} did not finish within {after}; the clients were stopped")]
    Timeout {
        /// What was running.
        what: &'static str,
        /// The bound.
        after: String,
    },
    /// The user interrupted the run (the clients were stopped).
    #[error("interrupted by the user")]
    Interrupted,
    /// A client ended without a result.
    #[error("client {client} exited with {code:?} and left no result (stderr: {stderr})")]
    NoResult {
        /// Client index.
        client: u32,
        /// Exit code.
        code: Option<i32>,
        /// Last stderr lines.
        stderr: String,
    },
    /// A client's output is not a result document.
    #[error("the result of client {client} is not an nfslab-io result document")]
    BadResult {
        /// Client index.
        client: u32,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// One client's measured run.
#[derive(Clone, Debug)]
pub(super) struct ClientRun {
    /// Client index.
    pub client: u32,
    /// Process exit code.
    pub exit_code: Option<i32>,
    /// The result document as printed (checked to parse).
    pub text: String,
}

/// How to run the clients of one step.
#[derive(Clone, Debug)]
pub(super) struct Clients<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The job file.
    pub job_file: &'a Path,
    /// Where barrier, results and logs go (local, not on the server).
    pub scratch: &'a Path,
    /// Unique name of the step (`c03-r2`), for file names.
    pub tag: &'a str,
    /// Per client: the arguments naming its target (`--target URL --nfs-options ...` or
    /// `--dir PATH`).
    pub targets: Vec<Vec<String>>,
}

enum Ended {
    Done(Vec<std::io::Result<ExitStatus>>),
    Timeout,
    Interrupted,
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The last lines of a log file, on one line.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        "nothing".to_owned()
    } else {
        tail
    }
}

/// Waits for every child; on timeout or interruption kills and reaps them all.
async fn wait_all(
    children: &mut [Child],
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Ended {
    let ended = {
        let waits = join_all(children.iter_mut().map(Child::wait));
        tokio::select! {
            biased;
            () = cancelled(cancel) => Ended::Interrupted,
            () = tokio::time::sleep(timeout) => Ended::Timeout,
            done = waits => Ended::Done(done),
        }
    };
    if !matches!(ended, Ended::Done(_)) {
        stop_all(children).await;
    }
    ended
}

/// Kills every child and reaps it.
async fn stop_all(children: &mut [Child]) {
    for child in children.iter_mut() {
        let _ = child.start_kill();
    }
    for child in children.iter_mut() {
        let _ = child.wait().await;
    }
}

impl Clients<'_> {
    fn log(&self, phase: &str, client: u32) -> PathBuf {
        self.scratch
            .join(format!("{}-{phase}-client-{client}.log", self.tag))
    }

    fn output(&self, client: u32) -> PathBuf {
        self.scratch
            .join(format!("{}-result-client-{client}.json", self.tag))
    }

    /// The barrier file of the step.
    #[must_use]
    pub(super) fn barrier(&self) -> PathBuf {
        self.scratch.join(format!("{}-start", self.tag))
    }

    fn spawn(&self, client: u32, phase: &str, extra: &[String]) -> Result<Child, ClientError> {
        let log = self.log(phase, client);
        let stderr = std::fs::File::create(&log).map_err(|source| ClientError::Scratch {
            path: log.display().to_string(),
            source,
        })?;
        let mut command = self.engine.command();
        command
            .arg("run")
            .args(&self.targets[client as usize])
            .arg("--job")
            .arg(self.job_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        command.spawn().map_err(|source| ClientError::Spawn {
            client,
            engine: self.engine.to_string(),
            source,
        })
    }

    fn count(&self) -> u32 {
        u32::try_from(self.targets.len()).unwrap_or(u32::MAX)
    }

    /// Lays out every client's files (not measured), all clients at once.
    ///
    /// # Errors
    /// [`ClientError`]: a client failed, overran `timeout`, or the run was interrupted.
    pub(super) async fn layout(
        &self,
        timeout: Duration,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let mut children = Vec::new();
        for client in 0..self.count() {
            children.push(self.spawn(client, "layout", &["--layout-only".to_owned()])?);
        }
        match wait_all(&mut children, timeout, cancel).await {
            Ended::Interrupted => Err(ClientError::Interrupted),
            Ended::Timeout => Err(ClientError::Timeout {
                what: "laying out the files",
                after: format_duration(timeout),
            }),
            Ended::Done(statuses) => {
                for (client, status) in (0..).zip(statuses) {
                    let code = status.as_ref().ok().and_then(ExitStatus::code);
                    if !status.is_ok_and(|s| s.success()) {
                        return Err(ClientError::Layout {
                            client,
                            code,
                            stderr: tail(&self.log("layout", client)),
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// Starts every client behind the barrier, releases them together and collects their
    /// results. `barrier_timeout` is how long a client waits for the barrier.
    ///
    /// # Errors
    /// [`ClientError`]: a client left no usable result, the clients overran `timeout`, or
    /// the run was interrupted.
    pub(super) async fn measure(
        &self,
        barrier_timeout: Duration,
        timeout: Duration,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Vec<ClientRun>, ClientError> {
        let barrier = self.barrier();
        let _ = std::fs::remove_file(&barrier);
        let mut children = Vec::new();
        for client in 0..self.count() {
            let output = self.output(client);
            let _ = std::fs::remove_file(&output);
            let extra = [
                "--start-barrier".to_owned(),
                barrier.display().to_string(),
                "--barrier-timeout".to_owned(),
                format_duration(barrier_timeout),
                "--output".to_owned(),
                output.display().to_string(),
                "--compact".to_owned(),
                "--reuse-layout".to_owned(),
            ];
            match self.spawn(client, "run", &extra) {
                Ok(child) => children.push(child),
                Err(e) => {
                    stop_all(&mut children).await;
                    return Err(e);
                }
            }
        }
        let settled = tokio::select! {
            biased;
            () = cancelled(cancel) => false,
            () = tokio::time::sleep(BARRIER_SETTLE) => true,
        };
        if !settled {
            stop_all(&mut children).await;
            return Err(ClientError::Interrupted);
        }
        if let Err(source) = std::fs::write(&barrier, b"go") {
            stop_all(&mut children).await;
            return Err(ClientError::Scratch {
                path: barrier.display().to_string(),
                source,
            });
        }
        let ended = wait_all(&mut children, timeout, cancel).await;
        let _ = std::fs::remove_file(&barrier);
        let statuses = match ended {
            Ended::Interrupted => return Err(ClientError::Interrupted),
            Ended::Timeout => {
                return Err(ClientError::Timeout {
                    what: "the measurement",
                    after: format_duration(timeout),
                });
            }
            Ended::Done(statuses) => statuses,
        };
        let mut runs = Vec::new();
        for (client, status) in (0..).zip(statuses) {
            let code = status.as_ref().ok().and_then(ExitStatus::code);
            let output = self.output(client);
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            let _ = std::fs::remove_file(&output);
            if text.trim().is_empty() {
                return Err(ClientError::NoResult {
                    client,
                    code,
                    stderr: tail(&self.log("run", client)),
                });
            }
            serde_json::from_str::<RunResult>(text.trim())
                .map_err(|source| ClientError::BadResult { client, source })?;
            runs.push(ClientRun {
                client,
                exit_code: code,
                text: text.trim().to_owned(),
            });
        }
        Ok(runs)
    }
}
