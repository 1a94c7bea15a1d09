//! Benchmarks from the host: a plan's workloads against NFS servers given as
//! `host:/export`, without Kubernetes (`nfslab bench --host`).
//!
//! Every combination of the plan (server x workload x profile x clients) is measured along
//! two access paths ([`AccessPath`]):
//! - **protocol**, always: the user-space NFSv3 client of `nfslab-io` (no mount, no root),
//!   with the profile's mount options mapped to its parameters (`crate::nfs::protocol`; options
//!   without an equivalent are recorded as not applicable);
//! - **mount**, when the host can mount NFS ([`mount::probe`], [`mount::decide`]): the
//!   export mounted per repetition with the profile's options on a temporary directory,
//!   the same job run there through the POSIX backend, then unmounted. When the host cannot
//!   mount, the reason is recorded once (`mount cells skipped: ...`) and only protocol
//!   cells run.
//!
//! Each repetition of a cell works in `<export>/nfslab-bench/<run-id>/<cNN-rM>/client-K`,
//! one directory per client, created before and removed after (unless `keep_files`). The
//! clients are `nfslab-io` processes (`clients`) with the plan's job, ramp, runtime and
//! start barrier, as client pods. Results go to the same directory layout and schema as the
//! cluster runner's ([`crate::model::results`]: `run.json`, raw JSON per client,
//! `summary.json`, `summary.csv`, `report.md`, `report.html`), so `nfslab report` and
//! `nfslab compare` work unchanged; with both paths measured, the summary holds each mount
//! cell's mount efficiency.
//!
//! Before anything runs, every server is reached over the protocol within the connect
//! timeout ([`export::ExportTree::connect`]): an unreachable server is one error line.
//! Ctrl-C (the `cancel` signal) stops the clients (killed and reaped), removes the step's
//! files, unmounts, and writes the reports of what was measured.

mod clients;
mod export;
pub mod mount;
mod work;

pub use clients::{Engine, find_engine};
pub use export::{ExportError, ExportTree};
pub use work::{HostProvider, HostWork};

use std::path::{Path, PathBuf};
use std::time::Duration;

use nfslab_workload::format_duration;
use tokio::sync::watch;

use self::clients::{ClientError, ClientRun, Clients};
use self::mount::{HostMount, MountSupport};
use super::cells::{CellExecutor, OpenRun, Repetition, StepEnd, drive, open_run};
use super::progress::{BenchEvent, Event, Reporter};
use super::runner::BenchOutcome;
use crate::errors::error_chain;
use crate::exit::Outcome;
use crate::k8s::ownership::RunId;
use crate::model::environment::{Environment, NodeInfo, ServerRecord};
use crate::model::matrix::{AccessPath, Cell, Matrix};
use crate::model::plan::{Plan, ServerKind};
use crate::model::results::{CellRecord, PodRecord, ResultsDir, ResultsError};
use crate::nfs::protocol::map_profile;
use crate::report::ReportError;

/// Directory of benchmark runs inside an export.
pub const BENCH_DIR: &str = "nfslab-bench";
/// Bound on reaching a server and on every setup call of the protocol client, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest time a `mount` may take before it is abandoned.
pub const MIN_MOUNT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run from the host.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// The run's id (the results directory and the run's directory on the servers).
    pub run_id: RunId,
    /// Parent of the results directory (`results`).
    pub results_parent: PathBuf,
    /// Name of the results directory under `results_parent` (`None`: the run id).
    pub dir_name: Option<String>,
    /// The engine the clients run ([`clients::find_engine`]).
    pub engine: clients::Engine,
    /// Bound on reaching a server and on every setup call of the protocol client.
    pub connect_timeout: Duration,
    /// Whether mount cells run ([`mount::decide`]).
    pub mount: MountSupport,
    /// Keep every repetition's files on the servers (default: removed after each).
    pub keep_files: bool,
}

/// Why a host run could not run.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A selected server is not reachable from the host by address.
    #[error(
        "server `{server}` is {what}; --host measures servers given as host:/export (hint: \
         --server HOST:/EXPORT, or --servers with external servers only)"
    )]
    NotExternal {
        /// The plan's server name.
        server: String,
        /// What it is instead (`an in-cluster server`, `a StorageClass`).
        what: &'static str,
    },
    /// A profile's options do not map to the protocol client.
    #[error("profile `{profile}`: {reason}")]
    Profile {
        /// The profile.
        profile: String,
        /// Why.
        reason: String,
    },
    /// A server cannot be reached or used.
    #[error(transparent)]
    Unreachable(#[from] ExportError),
    /// The local scratch directory could not be made.
    #[error("cannot create the scratch directory `{path}`")]
    Scratch {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The results directory could not be written.
    #[error("cannot record results")]
    Results(#[from] ResultsError),
    /// The reports could not be written.
    #[error("cannot write the reports")]
    Report(#[from] ReportError),
    /// Interrupted before the first step.
    #[error("interrupted before anything was measured")]
    Interrupted,
}

impl HostError {
    /// The exit code: bad input for the plan's choices, interrupted, else environment.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::NotExternal { .. } | Self::Profile { .. } => Outcome::BadInput,
            Self::Interrupted => Outcome::Interrupted,
            _ => Outcome::Environment,
        }
    }
}

/// A server of the run.
struct Server {
    name: String,
    host: String,
    export: String,
    tree: ExportTree,
}

/// Everything a step needs.
struct StepContext<'a> {
    plan: &'a Plan,
    options: &'a HostOptions,
    results: &'a ResultsDir,
    progress: &'a dyn Reporter,
    scratch: &'a Path,
    mount_parent: &'a Path,
    hostname: &'a str,
}

/// The measured window of a job plus the plan's allowance, like the cluster runner.
fn measure_timeout(plan: &Plan, job: &nfslab_workload::Job) -> Duration {
    job.resolve()
        .ok()
        .map(|j| j.runtime.unwrap_or_default() + j.ramp_time)
        .unwrap_or_default()
        + plan.cell_timeout
}

/// The host for the report.
fn describe_host(engine: &clients::Engine) -> (String, NodeInfo) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let hostname = read("/proc/sys/kernel/hostname").trim().to_owned();
    let hostname = if hostname.is_empty() {
        "localhost".to_owned()
    } else {
        hostname
    };
    let os_image = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned());
    let node = NodeInfo {
        name: hostname.clone(),
        kernel: Some(read("/proc/sys/kernel/osrelease").trim().to_owned())
            .filter(|k| !k.is_empty()),
        os_image,
        kubelet: None,
        container_runtime: Some(format!("nfslab-io processes ({engine})")),
    };
    (hostname, node)
}

impl StepContext<'_> {
    /// Runs the clients of a step on their targets and stores their results.
    async fn run_clients(
        &self,
        cell: &Cell,
        repetition: u32,
        job_file: &Path,
        targets: Vec<Vec<String>>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<StepEnd, ResultsError> {
        let tag = tag(cell, repetition);
        let clients = Clients {
            engine: &self.options.engine,
            job_file,
            scratch: self.scratch,
            tag: &tag,
            targets,
        };
        let job = self
            .plan
            .workload(&cell.workload)
            .map(|w| w.job.clone())
            .unwrap_or_else(|| nfslab_workload::Job::new(nfslab_workload::Pattern::Read));
        self.progress
            .report(Event::Bench(BenchEvent::Phase("laying out files")));
        if let Err(e) = clients.layout(self.plan.cell_timeout, cancel).await {
            return Ok(client_end(&e));
        }
        self.progress
            .report(Event::Bench(BenchEvent::Phase("measuring")));
        let runs = match clients
            .measure(
                self.plan.cell_timeout,
                measure_timeout(self.plan, &job),
                cancel,
            )
            .await
        {
            Ok(runs) => runs,
            Err(e) => return Ok(client_end(&e)),
        };
        self.progress
            .report(Event::Bench(BenchEvent::Phase("collecting results")));
        let failures: Vec<String> = runs.iter().filter_map(client_failure).collect();
        let mut records = Vec::new();
        for run in runs {
            let path = self
                .results
                .write_raw(&cell.id, repetition, run.client, &run.text)?;
            records.push(PodRecord {
                client: run.client,
                pod: format!("{}-client-{}", tag, run.client),
                node: Some(self.hostname.to_owned()),
                result: Some(path),
                exit_code: run.exit_code,
            });
        }
        if failures.is_empty() {
            Ok(StepEnd::Ok(records))
        } else {
            // The raw results stay in the run directory as evidence; the repetition counts
            // as failed, and its files are removed by the caller like any other step's.
            Ok(StepEnd::Failed(failures.join("; ")))
        }
    }

    /// A protocol step: directories over the protocol, clients on `nfs://` targets.
    async fn protocol_step(
        &self,
        server: &Server,
        cell: &Cell,
        repetition: u32,
        job_file: &Path,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(StepEnd, Vec<String>), ResultsError> {
        let dir = step_dir(&self.options.run_id, cell, repetition);
        let mapped = self
            .plan
            .profile(&cell.profile)
            .map(|p| map_profile(&p.options).unwrap_or_default())
            .unwrap_or_default();
        let mut nfs_options = mapped.options.clone();
        nfs_options.push(format!(
            "connect_timeout={}",
            format_duration(self.options.connect_timeout)
        ));
        let nfs_options = nfs_options.join(",");
        self.progress
            .report(Event::Bench(BenchEvent::Phase("creating directories")));
        let mut targets = Vec::new();
        for k in 0..cell.clients {
            let client_dir = format!("{dir}/client-{k}");
            if let Err(e) = server.tree.create_dirs(&client_dir).await {
                let leftovers = self.remove_protocol_dir(server, &dir).await;
                return Ok((StepEnd::Failed(error_chain(&e)), leftovers));
            }
            targets.push(vec![
                "--target".to_owned(),
                server.tree.url(&client_dir),
                "--nfs-options".to_owned(),
                nfs_options.clone(),
            ]);
        }
        let end = self
            .run_clients(cell, repetition, job_file, targets, cancel)
            .await;
        let leftovers = self.remove_protocol_dir(server, &dir).await;
        Ok((end?, leftovers))
    }

    async fn remove_protocol_dir(&self, server: &Server, dir: &str) -> Vec<String> {
        if self.options.keep_files {
            return Vec::new();
        }
        self.progress
            .report(Event::Bench(BenchEvent::Phase("removing files")));
        match server.tree.remove_tree(dir).await {
            Ok(()) => Vec::new(),
            Err(e) => vec![error_chain(&e)],
        }
    }

    /// A mount step: the export mounted with the profile's options, clients on
    /// directories of the mount, files removed, unmounted, whatever happened.
    async fn mount_step(
        &self,
        server: &Server,
        cell: &Cell,
        repetition: u32,
        job_file: &Path,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(StepEnd, Vec<String>), ResultsError> {
        let options = self
            .plan
            .profile(&cell.profile)
            .map(|p| p.options.clone())
            .unwrap_or_default();
        self.progress
            .report(Event::Bench(BenchEvent::Phase("mounting")));
        let timeout = self
            .options
            .connect_timeout
            .saturating_mul(3)
            .max(MIN_MOUNT_TIMEOUT);
        let mounted = match HostMount::mount(
            &server.host,
            &server.export,
            &options,
            self.mount_parent,
            &tag(cell, repetition),
            timeout,
        )
        .await
        {
            Ok(m) => m,
            Err(e) => return Ok((StepEnd::Failed(error_chain(&e)), Vec::new())),
        };
        let dir = mounted
            .path()
            .join(step_dir(&self.options.run_id, cell, repetition));
        let mut targets = Vec::new();
        let mut failure = None;
        for k in 0..cell.clients {
            let client_dir = dir.join(format!("client-{k}"));
            if let Err(e) = std::fs::create_dir_all(&client_dir) {
                failure = Some(format!(
                    "cannot create `{}` on the mount: {e}",
                    client_dir.display()
                ));
                break;
            }
            targets.push(vec!["--dir".to_owned(), client_dir.display().to_string()]);
        }
        let end = match failure {
            Some(f) => Ok(StepEnd::Failed(f)),
            None => {
                self.run_clients(cell, repetition, job_file, targets, cancel)
                    .await
            }
        };
        let mut leftovers = Vec::new();
        if !self.options.keep_files {
            self.progress
                .report(Event::Bench(BenchEvent::Phase("removing files")));
            if let Err(e) = std::fs::remove_dir_all(&dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                leftovers.push(format!("`{}`: {e}", dir.display()));
            }
        }
        self.progress
            .report(Event::Bench(BenchEvent::Phase("unmounting")));
        if let Err(e) = mounted.unmount() {
            leftovers.push(e);
        }
        Ok((end?, leftovers))
    }
}

/// Why a client's run does not count as a measurement: a non-zero exit, or a result whose
/// status is not `ok` (an IO error or a verification failure), with the error it reports.
fn client_failure(run: &ClientRun) -> Option<String> {
    use nfslab_workload::{RunResult, Status};
    let result = serde_json::from_str::<RunResult>(&run.text).ok();
    let status_ok = result.as_ref().is_some_and(|r| r.status == Status::Ok);
    if run.exit_code == Some(0) && status_ok {
        return None;
    }
    let what = result.as_ref().and_then(|r| r.error.as_ref()).map_or_else(
        || match result.as_ref().map(|r| r.status) {
            Some(Status::VerifyFailed) => "verification found bad blocks".to_owned(),
            _ => "no error reported".to_owned(),
        },
        |e| {
            let errno = e
                .errno
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let file = e
                .file
                .as_deref()
                .map(|f| format!(" on `{f}`"))
                .unwrap_or_default();
            format!("{} failed{errno}{file}: {}", e.phase, e.message)
        },
    );
    Some(format!(
        "client {} exited with {}: {what}",
        run.client,
        run.exit_code
            .map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"))
    ))
}

fn client_end(e: &ClientError) -> StepEnd {
    match e {
        ClientError::Interrupted => StepEnd::Interrupted,
        other => StepEnd::Failed(error_chain(other)),
    }
}

/// `cNN-rM`: the step's name (as in the cluster runner's object names).
fn tag(cell: &Cell, repetition: u32) -> String {
    format!("c{:02}-r{repetition}", cell.index)
}

/// The step's directory, relative to the export.
fn step_dir(run: &RunId, cell: &Cell, repetition: u32) -> String {
    format!("{BENCH_DIR}/{run}/{}", tag(cell, repetition))
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Reaches every selected server, checking first that each is given by address and that
/// every selected profile maps to the protocol client.
async fn reach_servers(
    plan: &Plan,
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Result<Vec<Server>, HostError> {
    for name in &plan.selected_profiles {
        if let Some(profile) = plan.profile(name) {
            map_profile(&profile.options).map_err(|reason| HostError::Profile {
                profile: name.clone(),
                reason,
            })?;
        }
    }
    let mut addresses = Vec::new();
    for name in &plan.selected_servers {
        match plan.server(name).map(|s| &s.kind) {
            Some(ServerKind::External { host, export }) => {
                addresses.push((name.clone(), host.clone(), export.clone()));
            }
            Some(ServerKind::StorageClass { .. }) => {
                return Err(HostError::NotExternal {
                    server: name.clone(),
                    what: "a StorageClass (its volumes are mounted by the cluster's nodes)",
                });
            }
            _ => {
                return Err(HostError::NotExternal {
                    server: name.clone(),
                    what: "an in-cluster server",
                });
            }
        }
    }
    let mut servers = Vec::new();
    for (name, host, export) in addresses {
        let tree = tokio::select! {
            biased;
            () = cancelled(cancel) => return Err(HostError::Interrupted),
            tree = ExportTree::connect(&host, &export, timeout) => tree?,
        };
        servers.push(Server {
            name,
            host,
            export,
            tree,
        });
    }
    Ok(servers)
}

/// Runs a plan's matrix from the host against its external servers and writes results
/// and reports.
///
/// # Errors
/// [`HostError`]: in-cluster servers selected, an unreachable server (before anything
/// runs), or results that cannot be written. Failed repetitions are recorded, not errors.
pub async fn run_host_bench(
    plan: &Plan,
    options: &HostOptions,
    progress: &dyn Reporter,
    mut cancel: watch::Receiver<bool>,
) -> Result<BenchOutcome, HostError> {
    let servers = reach_servers(plan, options.connect_timeout, &mut cancel).await?;
    let run = &options.run_id;
    let paths: &[AccessPath] = if options.mount.is_available() {
        &[AccessPath::Mount, AccessPath::Protocol]
    } else {
        &[AccessPath::Protocol]
    };
    let matrix = Matrix::expand_access(plan, paths);

    let (hostname, node) = describe_host(&options.engine);
    let environment = host_environment(&hostname, node, &options.mount, &servers);
    let (results, record) = open_run(
        plan,
        &matrix,
        run.as_str(),
        &options.results_parent,
        options.dir_name.as_deref(),
        environment,
    )?;

    let temp = std::env::temp_dir();
    let scratch = temp.join(format!("nfslab-host-{run}"));
    std::fs::create_dir_all(&scratch).map_err(|source| HostError::Scratch {
        path: scratch.display().to_string(),
        source,
    })?;
    let mount_parent = temp.join(format!("nfslab-mnt-{run}"));
    let executor = HostCells {
        context: StepContext {
            plan,
            options,
            results: &results,
            progress,
            scratch: &scratch,
            mount_parent: &mount_parent,
            hostname: &hostname,
        },
        servers,
    };
    let opened = OpenRun {
        plan,
        matrix: &matrix,
        results: &results,
        record,
        progress,
    };
    drive(opened, executor, cancel).await
}

/// The environment record of a run from the host: the host as its one node, the servers,
/// and notes on how cells run (and why mount cells were skipped).
fn host_environment(
    hostname: &str,
    node: NodeInfo,
    mount: &MountSupport,
    servers: &[Server],
) -> Environment {
    let mut notes = vec![format!(
        "run from host `{hostname}` without Kubernetes: each client is an nfslab-io process; \
         protocol cells use its user-space NFSv3 client with the profile's options mapped to \
         its parameters"
    )];
    notes.push(match mount {
        MountSupport::Available => {
            "mount cells: the export mounted on the host per repetition with the profile's \
             options (mount -t nfs), the same job through the POSIX backend"
                .to_owned()
        }
        MountSupport::Unavailable(reason) => format!("mount cells skipped: {reason}"),
    });
    Environment {
        cluster: format!("host `{hostname}` (no Kubernetes)"),
        kubernetes_version: None,
        nodes: vec![node],
        servers: servers
            .iter()
            .map(|s| ServerRecord {
                name: s.name.clone(),
                flavor: "external".to_owned(),
                address: s.host.clone(),
                export: s.export.clone(),
                clients_mounted: None,
            })
            .collect(),
        notes,
    }
}

/// The host runner's cells: processes on this host against the reached servers.
struct HostCells<'a> {
    context: StepContext<'a>,
    servers: Vec<Server>,
}

impl CellExecutor for HostCells<'_> {
    type Error = HostError;
    /// The index of the cell's server.
    type Admitted = usize;
    const STEP_OVERHEAD: Duration = super::progress::HOST_STEP_OVERHEAD;
    const WHAT_IS_LEFT: &'static str = "left behind (remove by hand)";

    fn admit(&self, cell: &Cell) -> Result<Option<usize>, HostError> {
        Ok(self.servers.iter().position(|s| s.name == cell.server))
    }

    async fn repetition(
        &mut self,
        server: usize,
        cell: &Cell,
        cell_record: &CellRecord,
        repetition: u32,
        cancel: &mut watch::Receiver<bool>,
    ) -> Repetition<HostError> {
        let context = &self.context;
        let server = &self.servers[server];
        let job_file = context.scratch.join(format!("job-c{:02}.json", cell.index));
        if !job_file.is_file() {
            let text = serde_json::to_vec_pretty(&cell_record.job).unwrap_or_default();
            if let Err(source) = std::fs::write(&job_file, text) {
                return Repetition::Stopped(HostError::Scratch {
                    path: job_file.display().to_string(),
                    source,
                });
            }
        }
        let done = match cell.access {
            Some(AccessPath::Mount) => {
                context
                    .mount_step(server, cell, repetition, &job_file, cancel)
                    .await
            }
            _ => {
                context
                    .protocol_step(server, cell, repetition, &job_file, cancel)
                    .await
            }
        };
        match done {
            Ok((end, cleanup)) => Repetition::Ran {
                end,
                cleanup,
                fatal: None,
            },
            Err(e) => Repetition::Ran {
                end: StepEnd::Failed("results could not be written".to_owned()),
                cleanup: Vec::new(),
                fatal: Some(HostError::Results(e)),
            },
        }
    }

    async fn finish(self, leftovers: &mut Vec<String>) {
        let context = self.context;
        let run = &context.options.run_id;
        context.progress.report(Event::Bench(BenchEvent::Phase(
            "removing the run's directories",
        )));
        for server in self.servers {
            if context.options.keep_files {
                context
                    .progress
                    .report(Event::Bench(BenchEvent::Note(&format!(
                        "files kept on `{}:{}` in `{BENCH_DIR}/{run}`",
                        server.host, server.export
                    ))));
            } else {
                for dir in [format!("{BENCH_DIR}/{run}"), BENCH_DIR.to_owned()] {
                    if let Err(e) = server.tree.remove_if_empty(&dir).await {
                        leftovers.push(error_chain(&e));
                    }
                }
            }
            server.tree.close().await;
        }
        let _ = std::fs::remove_dir_all(context.scratch);
        let _ = std::fs::remove_dir(context.mount_parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::{Overrides, builtin_plan};

    #[test]
    fn steps_are_named_like_cluster_objects() {
        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                external: vec!["10.0.0.5:/export".to_owned()],
                workloads: Some(vec!["seq-read-1m".to_owned()]),
                profiles: Some(vec!["doc-v3".to_owned()]),
                ..Overrides::default()
            })
            .unwrap();
        let m = Matrix::expand_access(&plan, &[AccessPath::Mount, AccessPath::Protocol]);
        let run = RunId::parse("20261123-150000-abcdef").unwrap();
        assert_eq!(tag(&m.cells[1], 2), "c01-r2");
        assert_eq!(
            step_dir(&run, &m.cells[1], 2),
            "nfslab-bench/20261123-150000-abcdef/c01-r2"
        );
        let job = &plan.workload("seq-read-1m").unwrap().job;
        let resolved = job.resolve().unwrap();
        assert_eq!(
            measure_timeout(&plan, job),
            resolved.runtime.unwrap_or_default() + resolved.ramp_time + plan.cell_timeout
        );
    }

    #[tokio::test]
    async fn in_cluster_servers_and_bad_profiles_are_refused_before_anything_runs() {
        let plan = builtin_plan().unwrap();
        let (_tx, mut rx) = watch::channel(false);
        let Err(err) = reach_servers(&plan, Duration::from_secs(1), &mut rx).await else {
            panic!("the default plan's in-cluster server is not reachable from the host");
        };
        assert_eq!(err.outcome(), Outcome::BadInput);
        assert!(err.to_string().contains("in-cluster server"), "{err}");

        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                external: vec!["192.0.2.1:/export".to_owned()],
                ..Overrides::default()
            })
            .unwrap();
        let started = std::time::Instant::now();
        let Err(err) = reach_servers(&plan, Duration::from_secs(1), &mut rx).await else {
            panic!("TEST-NET-1 answers nothing");
        };
        assert_eq!(err.outcome(), Outcome::Environment);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("192.0.2.1:/export"), "{err}");
    }
}
