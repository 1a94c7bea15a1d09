//! The benchmark runner: a plan's matrix on a cluster, one repetition at a time.
//!
//! For each step (a repetition of a cell, in [`Matrix::schedule`] order):
//! 1. apply the job ConfigMap, the PV (profile `mountOptions`, unique storage class), the
//!    PVC and the K client pods ([`manifests::cell_objects`]); for a StorageClass server,
//!    only the PVC, naming the profile's clone of the class (`super::storage_class`);
//! 2. wait for the PVC to bind (a provisioned volume must carry the profile's options) and
//!    every pod to be Ready (their init containers created the client directories and laid
//!    out the files, outside the measurement);
//! 3. release every client at once: write the barrier file into all pods concurrently;
//! 4. wait for every client container to finish, then read each result through the
//!    control container and store it as it arrives (`raw/…`, then `run.json`);
//! 5. clean up: remove the repetition's files from the volume, delete pods, PVC, PV and
//!    ConfigMap and wait until they are gone (a provisioned PV until its provisioner removed
//!    it), whatever happened before.
//!
//! StorageClass servers are checked before anything is created (the class exists, its
//! provisioner does not ignore `mountOptions`); their clones are applied with the run's
//! namespace and deleted after it.
//!
//! Ctrl-C (the `cancel` signal) stops the current step, cleans it up, deletes the run's
//! namespace, marks the run interrupted and still writes the reports of what was measured.
//! A failed step is recorded and the run goes on; a cluster that stops answering ends the
//! run. Every wait uses `crate::config::Timeouts`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use nfslab_workload::{RunResult, format_duration};
use serde_json::Value;
use tokio::sync::watch;

use super::cells::{CellExecutor, OpenRun, Repetition, StepEnd, drive, open_run};
use super::manifests::{
    self, BARRIER_FILE, CLIENT_CONTAINER, CONTROL_CONTAINER, CellSpec, ENGINE, LAYOUT_CONTAINER,
    Names, RESULT_FILE,
};
use super::progress::{BenchEvent, CLUSTER_STEP_OVERHEAD, Event, Reporter};
use super::storage_class::{self, ClassError, SourceClass};
use crate::config::Timeouts;
use crate::errors::error_chain;
use crate::exit::Outcome;
use crate::k8s::conditions::{self, Condition};
use crate::k8s::ownership::RunId;
use crate::k8s::wait::{self, WaitError};
use crate::k8s::{Cluster, ClusterError, ObjectRef, Propagation};
use crate::model::environment::ServerRecord;
use crate::model::matrix::{Cell, Matrix};
use crate::model::plan::{Plan, ServerKind};
use crate::model::results::{CellRecord, PodRecord, ResultsDir, ResultsError};
use crate::nfs::{NfsServer, ServerFlavor};
use crate::orchestrate::Staged;
use crate::report::ReportError;

/// What the runner needs from the environment: a cluster and the in-cluster servers the
/// caller deployed (external servers come from the plan).
#[derive(Clone)]
pub struct Target {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// In-cluster servers, one per flavor the plan needs ([`Plan::in_cluster_flavors`]).
    pub servers: Vec<NfsServer>,
    /// The cluster, for reports (`kind nfslab-a1b2c3`, `existing cluster (context x)`).
    pub description: String,
}

impl Target {
    /// What the runner measures on in an environment a provider brought up: its cluster
    /// and in-cluster servers (external ones come from the plan).
    #[must_use]
    pub fn on(staged: &Staged) -> Target {
        Target {
            cluster: Arc::clone(&staged.cluster),
            servers: staged
                .servers
                .iter()
                .filter(|s| s.flavor != ServerFlavor::External)
                .cloned()
                .collect(),
            description: staged.info.cluster.clone(),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// The run's id (object names and the results directory derive from it).
    pub run_id: RunId,
    /// Parent of the results directory (`results`).
    pub results_parent: PathBuf,
    /// Name of the results directory under `results_parent` (`None`: the run id). The main
    /// job puts the benchmark in `results/<run-id>/bench` next to the scenario results.
    pub dir_name: Option<String>,
    /// Timeouts.
    pub timeouts: Timeouts,
}

pub use super::cells::BenchOutcome;

/// Why a run could not run (or continue).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The plan needs an in-cluster server the caller did not deploy.
    #[error(
        "server `{server}` is an in-cluster {flavor} server but none was deployed (hint: deploy \
         it first, or benchmark an outside server with --server host:/export)"
    )]
    ServerMissing {
        /// Plan server name.
        server: String,
        /// Flavor needed.
        flavor: String,
    },
    /// The results directory could not be written.
    #[error("cannot record results")]
    Results(#[from] ResultsError),
    /// A cluster operation outside any step failed.
    #[error("cannot {step}")]
    Cluster {
        /// What was attempted.
        step: String,
        /// Why.
        #[source]
        source: Box<ClusterError>,
    },
    /// The cluster stopped answering during a step; the run was stopped (results so far
    /// are kept).
    #[error(
        "the cluster stopped answering during `{cell}` repetition {repetition} (results so far are in `{dir}`)"
    )]
    Aborted {
        /// Cell id.
        cell: String,
        /// Repetition.
        repetition: u32,
        /// The results directory.
        dir: String,
        /// Why.
        #[source]
        source: Box<StepError>,
    },
    /// The reports could not be written.
    #[error("cannot write the reports")]
    Report(#[from] ReportError),
    /// A StorageClass to benchmark through is missing or unusable.
    #[error(transparent)]
    Class(#[from] ClassError),
    /// A StorageClass's provisioner made a volume without the profile's mountOptions: it
    /// ignores them, so its profiles cannot be compared (results so far are kept).
    #[error(transparent)]
    OptionsIgnored(Box<IgnoredOptions>),
}

/// What [`BenchError::OptionsIgnored`] says.
#[derive(Debug, thiserror::Error)]
#[error(
    "StorageClass `{class}` cannot compare mount options: its provisioner `{provisioner}` \
     made PV `{pv}` with {carried} where the class carried `{wanted}` (profile \
     `{profile}`), so it ignores mountOptions (results so far are in `{dir}`; hint: \
     benchmark the NFS server behind it with --server HOST:/EXPORT)"
)]
pub struct IgnoredOptions {
    /// The user's class.
    pub class: String,
    /// Its provisioner.
    pub provisioner: String,
    /// The volume it made.
    pub pv: String,
    /// What the volume carries.
    pub carried: String,
    /// What the clone carried.
    pub wanted: String,
    /// The profile.
    pub profile: String,
    /// The results directory.
    pub dir: String,
}

impl BenchError {
    /// Exit code: a StorageClass that cannot compare options is bad input (2); everything
    /// else is an environment problem (3).
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Class(_) | Self::OptionsIgnored(_) => Outcome::BadInput,
            _ => Outcome::Environment,
        }
    }
}

/// Why one repetition failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An object could not be applied.
    #[error("cannot apply {object}")]
    Apply {
        /// The object.
        object: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// A wait did not succeed.
    #[error("waiting for {what}")]
    Wait {
        /// What was awaited.
        what: String,
        /// Why it ended.
        #[source]
        source: WaitError,
    },
    /// A pod failed before the measurement (an init container, scheduling...).
    #[error("pod `{pod}` failed before the measurement: {detail}")]
    PodFailed {
        /// Pod name.
        pod: String,
        /// Container states and last log lines.
        detail: String,
    },
    /// A pod did not become Ready in time (image pull, scheduling, a slow layout).
    #[error("pod `{pod}` did not become ready within {timeout}: {detail}")]
    NotReady {
        /// Pod name.
        pod: String,
        /// The timeout.
        timeout: String,
        /// Container states (waiting reasons such as `ErrImagePull`).
        detail: String,
    },
    /// A command could not be run in a pod.
    #[error("cannot run `{command}` in pod `{pod}`")]
    Exec {
        /// Pod name.
        pod: String,
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// A command exited non-zero.
    #[error("`{command}` in pod `{pod}` exited with {code}: {stderr}")]
    ExecFailed {
        /// Pod name.
        pod: String,
        /// The command.
        command: String,
        /// Exit code.
        code: i32,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A command did not finish in time.
    #[error("`{command}` in pod `{pod}` did not finish within {timeout}")]
    ExecTimeout {
        /// Pod name.
        pod: String,
        /// The command.
        command: String,
        /// The timeout.
        timeout: String,
    },
    /// A client ended without a result.
    #[error(
        "client in pod `{pod}` exited with {code:?} and left no result (last log lines: {log})"
    )]
    ClientFailed {
        /// Pod name.
        pod: String,
        /// Exit code of the client container.
        code: Option<i32>,
        /// Last log lines.
        log: String,
    },
    /// A client's output is not a result document.
    #[error("the result of pod `{pod}` is not an nfslab-io result document")]
    BadResult {
        /// Pod name.
        pod: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A result could not be stored.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// An object could not be read.
    #[error("cannot read {object}")]
    Read {
        /// The object.
        object: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// The provisioned volume lacks the profile's options (its provisioner ignores them).
    #[error("PV `{pv}` was provisioned with {carried}, not `{wanted}`")]
    OptionsIgnored {
        /// The volume.
        pv: String,
        /// What it carries.
        carried: String,
        /// What the class carried.
        wanted: String,
    },
}

impl StepError {
    /// Whether the cluster itself is unreachable (the run cannot go on).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Apply {
                source: ClusterError::Unreachable { .. },
                ..
            } | Self::Exec {
                source: ClusterError::Unreachable { .. },
                ..
            } | Self::Read {
                source: ClusterError::Unreachable { .. },
                ..
            } | Self::Results(_)
                | Self::OptionsIgnored { .. }
        )
    }
}

/// The NFS server each selected plan server resolves to (StorageClass servers are
/// [`resolve_classes`]').
pub(crate) fn resolve_servers(
    plan: &Plan,
    deployed: &[NfsServer],
) -> Result<Vec<(String, NfsServer)>, BenchError> {
    plan.selected_servers
        .iter()
        .filter(|name| {
            !matches!(
                plan.server(name).map(|s| &s.kind),
                Some(ServerKind::StorageClass { .. })
            )
        })
        .map(|name| {
            let spec = plan.server(name).ok_or_else(|| BenchError::ServerMissing {
                server: name.clone(),
                flavor: "unknown".to_owned(),
            })?;
            let server = match &spec.kind {
                ServerKind::StorageClass { class } => {
                    return Err(BenchError::ServerMissing {
                        server: name.clone(),
                        flavor: format!("StorageClass {class}"),
                    });
                }
                ServerKind::External { host, export } => NfsServer {
                    flavor: ServerFlavor::External,
                    address: host.clone(),
                    export: export.clone(),
                    files: None,
                },
                ServerKind::InCluster(flavor) => deployed
                    .iter()
                    .find(|s| s.flavor == *flavor)
                    .cloned()
                    .ok_or_else(|| BenchError::ServerMissing {
                        server: name.clone(),
                        flavor: flavor.name().to_owned(),
                    })?,
            };
            Ok((name.clone(), server))
        })
        .collect()
}

/// The StorageClass of each selected StorageClass server, read from the cluster and
/// checked ([`SourceClass::check`]): `(server name, class)`.
///
/// # Errors
/// [`BenchError::Class`] when a class is missing or its provisioner ignores mountOptions;
/// [`BenchError::Cluster`] when the cluster cannot be asked.
pub(crate) async fn resolve_classes(
    plan: &Plan,
    cluster: &dyn Cluster,
) -> Result<Vec<(String, SourceClass)>, BenchError> {
    let mut out = Vec::new();
    for name in &plan.selected_servers {
        let Some(ServerKind::StorageClass { class }) = plan.server(name).map(|s| &s.kind) else {
            continue;
        };
        let reference = storage_class::class_ref(class);
        let found = cluster
            .get(&reference)
            .await
            .map_err(|source| BenchError::Cluster {
                step: format!("read StorageClass `{class}`"),
                source: Box::new(source),
            })?;
        let Some(manifest) = found else {
            let known: Vec<String> = cluster
                .list("storage.k8s.io/v1", "StorageClass", None, None)
                .await
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
                .map(|n| format!("`{n}`"))
                .collect();
            return Err(ClassError::Missing {
                name: class.clone(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            }
            .into());
        };
        out.push((name.clone(), SourceClass::check(class, manifest)?));
    }
    Ok(out)
}

/// The client container has terminated.
fn client_terminated() -> Condition {
    Condition::new("the client container has finished", |state| {
        container_state(state, CLIENT_CONTAINER, "terminated").is_some()
    })
}

fn container_state<'a>(pod: Option<&'a Value>, name: &str, state: &str) -> Option<&'a Value> {
    pod?.pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))?
        .pointer(&format!("/state/{state}"))
}

fn describe_containers(pod: Option<&Value>) -> String {
    let Some(pod) = pod else {
        return "pod is gone".to_owned();
    };
    let mut parts = Vec::new();
    for list in ["initContainerStatuses", "containerStatuses"] {
        for c in pod
            .pointer(&format!("/status/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(t) = c.pointer("/state/terminated") {
                parts.push(format!(
                    "{name} terminated with {} ({})",
                    t.get("exitCode").and_then(Value::as_i64).unwrap_or(-1),
                    t.get("reason").and_then(Value::as_str).unwrap_or("-")
                ));
            } else if let Some(w) = c.pointer("/state/waiting") {
                parts.push(format!(
                    "{name} waiting ({})",
                    w.get("reason").and_then(Value::as_str).unwrap_or("-")
                ));
            }
        }
    }
    if parts.is_empty() {
        wait::summarize(Some(pod))
    } else {
        parts.join(", ")
    }
}

struct Step<'a> {
    cluster: &'a dyn Cluster,
    timeouts: &'a Timeouts,
    progress: &'a dyn Reporter,
    results: &'a ResultsDir,
    names: Names,
    objects: Vec<Value>,
    cell: &'a Cell,
    repetition: u32,
    /// Longest wait for the clients to finish once released.
    measure_timeout: Duration,
    /// For a provisioned volume: the options its PV must carry.
    provisioned: Option<&'a [String]>,
    /// The PV the provisioner made for the claim, once bound.
    volume: std::sync::Mutex<Option<String>>,
}

impl Step<'_> {
    async fn exec(&self, pod: &ObjectRef, command: &[&str]) -> Result<String, StepError> {
        let argv: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        let line = argv.join(" ");
        let run = self.cluster.exec(pod, Some(CONTROL_CONTAINER), &argv, None);
        let out = tokio::time::timeout(self.timeouts.exec, run)
            .await
            .map_err(|_| StepError::ExecTimeout {
                pod: pod.name.clone(),
                command: line.clone(),
                timeout: format_duration(self.timeouts.exec),
            })?
            .map_err(|source| StepError::Exec {
                pod: pod.name.clone(),
                command: line.clone(),
                source,
            })?;
        if !out.success() {
            return Err(StepError::ExecFailed {
                pod: pod.name.clone(),
                command: line,
                code: out.exit_code,
                stderr: out.stderr.trim().to_owned(),
            });
        }
        Ok(out.stdout)
    }

    async fn wait(
        &self,
        object: &ObjectRef,
        condition: &Condition,
        timeout: Duration,
    ) -> Result<Option<Value>, StepError> {
        wait::until_within(self.cluster, object, condition, timeout)
            .await
            .map_err(|source| StepError::Wait {
                what: object.to_string(),
                source,
            })
    }

    async fn log_tail(&self, pod: &ObjectRef, container: &str) -> String {
        self.cluster
            .logs(pod, Some(container), Some(5), false)
            .await
            .map(|l| l.trim().replace('\n', " | "))
            .unwrap_or_else(|e| format!("logs unavailable: {e}"))
    }

    /// Runs the repetition up to collected results.
    async fn run(&self) -> Result<Vec<PodRecord>, StepError> {
        self.progress
            .report(Event::Bench(BenchEvent::Phase("creating volume and pods")));
        for object in &self.objects {
            let name = ObjectRef::from_manifest(object).map_or_else(String::new, |o| o.to_string());
            self.cluster
                .apply(object)
                .await
                .map_err(|source| StepError::Apply {
                    object: name,
                    source,
                })?;
        }
        match self.provisioned {
            None => {
                self.progress.report(Event::Bench(BenchEvent::Phase(
                    "waiting for the volume to bind",
                )));
                self.wait(
                    &self.names.pvc_ref(),
                    &conditions::pvc_bound_to(&self.names.pv),
                    self.timeouts.bind,
                )
                .await?;
            }
            Some(wanted) => {
                self.progress.report(Event::Bench(BenchEvent::Phase(
                    "waiting for the provisioner's volume to bind",
                )));
                let claim = self
                    .wait(
                        &self.names.pvc_ref(),
                        &conditions::pvc_phase("Bound"),
                        self.timeouts.bind,
                    )
                    .await?;
                self.check_volume(claim.as_ref(), wanted).await?;
            }
        }

        self.progress.report(Event::Bench(BenchEvent::Phase(
            "waiting for pods (file layout)",
        )));
        let pods = self.names.pod_refs();
        let ready_or_failed = conditions::pod_ready().or(conditions::pod_phase("Failed"));
        let states = join_all(
            pods.iter()
                .map(|p| self.wait(p, &ready_or_failed, self.timeouts.pod_ready)),
        )
        .await;
        let mut nodes = Vec::new();
        for (pod, state) in pods.iter().zip(states) {
            let state = match state {
                Err(StepError::Wait {
                    source: WaitError::Timeout { last, after, .. },
                    ..
                }) => {
                    return Err(StepError::NotReady {
                        pod: pod.name.clone(),
                        timeout: nfslab_workload::format_duration(after).to_string(),
                        detail: describe_containers(last.as_ref()),
                    });
                }
                other => other?,
            };
            if conditions::pod_phase("Failed").matches(state.as_ref()) {
                let log = self.log_tail(pod, LAYOUT_CONTAINER).await;
                return Err(StepError::PodFailed {
                    pod: pod.name.clone(),
                    detail: format!("{}; layout log: {log}", describe_containers(state.as_ref())),
                });
            }
            nodes.push(
                state
                    .as_ref()
                    .and_then(|s| s.pointer("/spec/nodeName"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            );
        }

        self.progress
            .report(Event::Bench(BenchEvent::Phase("measuring")));
        let release = [ENGINE, "file", "write", BARRIER_FILE, "--content", "go"];
        for released in join_all(pods.iter().map(|p| self.exec(p, &release))).await {
            released?;
        }
        let terminated = client_terminated();
        let finished = join_all(
            pods.iter()
                .map(|p| self.wait(p, &terminated, self.measure_timeout)),
        )
        .await;

        self.progress
            .report(Event::Bench(BenchEvent::Phase("collecting results")));
        let mut records = Vec::new();
        for (k, ((pod, state), node)) in pods.iter().zip(finished).zip(nodes).enumerate() {
            let state = state?;
            let code = container_state(state.as_ref(), CLIENT_CONTAINER, "terminated")
                .and_then(|t| t.get("exitCode"))
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok());
            let text = match self.exec(pod, &[ENGINE, "file", "cat", RESULT_FILE]).await {
                Ok(text) if !text.trim().is_empty() => text,
                _ => {
                    return Err(StepError::ClientFailed {
                        pod: pod.name.clone(),
                        code,
                        log: self.log_tail(pod, CLIENT_CONTAINER).await,
                    });
                }
            };
            serde_json::from_str::<RunResult>(text.trim()).map_err(|source| {
                StepError::BadResult {
                    pod: pod.name.clone(),
                    source,
                }
            })?;
            let client = u32::try_from(k).unwrap_or(u32::MAX);
            let path =
                self.results
                    .write_raw(&self.cell.id, self.repetition, client, text.trim())?;
            records.push(PodRecord {
                client,
                pod: pod.name.clone(),
                node,
                result: Some(path),
                exit_code: code,
            });
        }
        Ok(records)
    }

    /// Records the PV the provisioner bound to the claim and checks it carries `wanted`.
    async fn check_volume(
        &self,
        claim: Option<&Value>,
        wanted: &[String],
    ) -> Result<(), StepError> {
        let Some(pv) = claim
            .and_then(|c| c.pointer("/spec/volumeName"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Ok(());
        };
        if let Ok(mut slot) = self.volume.lock() {
            *slot = Some(pv.clone());
        }
        let reference = ObjectRef::pv(&pv);
        let state = self
            .cluster
            .get(&reference)
            .await
            .map_err(|source| StepError::Read {
                object: reference.to_string(),
                source,
            })?;
        match state.as_ref().map(|s| storage_class::pv_carries(s, wanted)) {
            Some(Err(carried)) => Err(StepError::OptionsIgnored {
                pv,
                carried,
                wanted: wanted.join(","),
            }),
            _ => Ok(()),
        }
    }

    /// Removes everything of the repetition; returns what could not be removed.
    async fn cleanup(&self) -> Vec<String> {
        self.progress
            .report(Event::Bench(BenchEvent::Phase("cleaning up")));
        let mut leftovers = Vec::new();
        let pods = self.names.pod_refs();
        // The files first, while a pod still mounts the volume.
        if let Some(run_dir) = self
            .names
            .data_dir
            .rsplit_once('/')
            .map(|(d, _)| d.to_owned())
        {
            for pod in &pods {
                if matches!(self.cluster.get(pod).await, Ok(Some(_)))
                    && self
                        .exec(pod, &[ENGINE, "rm", "--recursive", &run_dir])
                        .await
                        .is_ok()
                {
                    break;
                }
            }
        }
        let gone = conditions::is_gone();
        let delete = |object: ObjectRef| {
            let gone = &gone;
            async move {
                match self.cluster.delete(&object, Propagation::Background).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => return None,
                    Err(e) => return Some(format!("{object}: {}", error_chain(&e))),
                }
                wait::until_within(self.cluster, &object, gone, self.timeouts.delete)
                    .await
                    .err()
                    .map(|e| format!("{object}: {}", error_chain(&e)))
            }
        };
        leftovers.extend(
            join_all(pods.into_iter().map(delete))
                .await
                .into_iter()
                .flatten(),
        );
        for object in [
            self.names.pvc_ref(),
            self.names.pv_ref(),
            self.names.config_map_ref(),
        ] {
            leftovers.extend(delete(object).await);
        }
        // A provisioned volume is the provisioner's to delete (with its directory on the
        // server); it goes once its claim is gone, as the clone's reclaim policy says.
        let provisioned = self.volume.lock().ok().and_then(|v| v.clone());
        if let Some(pv) = provisioned {
            let reference = ObjectRef::pv(&pv);
            if let Err(e) =
                wait::until_within(self.cluster, &reference, &gone, self.timeouts.delete).await
            {
                leftovers.push(format!(
                    "{reference} (its provisioner did not remove it): {}",
                    error_chain(&e)
                ));
            }
        }
        leftovers
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        // The sender is gone: nobody can cancel any more.
        std::future::pending::<()>().await;
    }
}

/// Runs a plan's matrix on a cluster and writes results and reports.
pub async fn run_bench(
    plan: &Plan,
    target: &Target,
    options: &RunnerOptions,
    progress: &dyn Reporter,
    cancel: watch::Receiver<bool>,
) -> Result<BenchOutcome, BenchError> {
    let servers = resolve_servers(plan, &target.servers)?;
    let matrix = Matrix::expand(plan);
    let cluster = target.cluster.as_ref();
    let run = &options.run_id;
    let classes = resolve_classes(plan, cluster).await?;

    let mut environment = crate::environment::describe_cluster(cluster, &target.description).await;
    environment.servers = server_records(plan, &servers, &classes);
    let (results, record) = open_run(
        plan,
        &matrix,
        run.as_str(),
        &options.results_parent,
        options.dir_name.as_deref(),
        environment,
    )?;
    let clones = create_namespace_and_clones(plan, cluster, run, &classes).await?;
    let executor = ClusterCells {
        plan,
        cluster,
        options,
        progress,
        results: &results,
        servers: &servers,
        classes: &classes,
        clones,
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

/// What the report says of each selected server: the resolved NFS server, or the
/// StorageClass and the server behind it.
fn server_records(
    plan: &Plan,
    servers: &[(String, NfsServer)],
    classes: &[(String, SourceClass)],
) -> Vec<ServerRecord> {
    plan.selected_servers
        .iter()
        .filter_map(|name| {
            if let Some((_, s)) = servers.iter().find(|(n, _)| n == name) {
                return Some(ServerRecord {
                    name: name.clone(),
                    flavor: s.flavor.name().to_owned(),
                    address: s.address.clone(),
                    export: s.export.clone(),
                    clients_mounted: None,
                });
            }
            let (_, c) = classes.iter().find(|(n, _)| n == name)?;
            let (address, export) = c.target();
            Some(ServerRecord {
                name: name.clone(),
                flavor: format!("StorageClass `{}` ({})", c.name, c.provisioner),
                address,
                export,
                clients_mounted: None,
            })
        })
        .collect()
}

/// Creates the run's namespace, then one clone of each StorageClass per selected profile
/// (carrying the profile's options); returns the clones, for the tear-down.
async fn create_namespace_and_clones(
    plan: &Plan,
    cluster: &dyn Cluster,
    run: &RunId,
    classes: &[(String, SourceClass)],
) -> Result<Vec<ObjectRef>, BenchError> {
    let namespace = manifests::namespace(run);
    cluster
        .apply(&namespace)
        .await
        .map_err(|source| BenchError::Cluster {
            step: format!("create namespace `{}`", manifests::namespace_name(run)),
            source: Box::new(source),
        })?;
    let mut clones: Vec<ObjectRef> = Vec::new();
    for (server, class) in classes {
        for profile in &plan.selected_profiles {
            let options = plan
                .profile(profile)
                .map(|p| p.options.clone())
                .unwrap_or_default();
            let name = storage_class::clone_name(run, server, profile);
            let reference = storage_class::class_ref(&name);
            cluster
                .apply(&storage_class::clone_class(class, run, &name, &options))
                .await
                .map_err(|source| BenchError::Cluster {
                    step: format!("create StorageClass `{name}` (a clone of `{}`)", class.name),
                    source: Box::new(source),
                })?;
            clones.push(reference);
        }
    }
    Ok(clones)
}

/// What a cell's volume comes from.
enum Backing<'a> {
    /// A clone of the server's StorageClass provisions it.
    Class,
    /// An NFS PV of this server.
    Server(&'a NfsServer),
}

/// The cluster runner's cells: a [`Step`] per repetition, in the run's namespace.
struct ClusterCells<'a> {
    plan: &'a Plan,
    cluster: &'a dyn Cluster,
    options: &'a RunnerOptions,
    progress: &'a dyn Reporter,
    results: &'a ResultsDir,
    servers: &'a [(String, NfsServer)],
    classes: &'a [(String, SourceClass)],
    /// The StorageClass clones, removed last.
    clones: Vec<ObjectRef>,
}

impl<'a> ClusterCells<'a> {
    /// The StorageClass a cell's server benchmarks through, if it is one.
    fn class(&self, cell: &Cell) -> Option<&'a SourceClass> {
        self.classes
            .iter()
            .find(|(n, _)| *n == cell.server)
            .map(|(_, c)| c)
    }

    /// What a cell's volume comes from: its server's StorageClass, or the NFS server.
    fn backing(&self, cell: &Cell) -> Result<Backing<'a>, BenchError> {
        match (
            self.class(cell),
            self.servers.iter().find(|(n, _)| *n == cell.server),
        ) {
            (Some(_), _) => Ok(Backing::Class),
            (None, Some((_, server))) => Ok(Backing::Server(server)),
            (None, None) => Err(BenchError::ServerMissing {
                server: cell.server.clone(),
                flavor: "unknown".to_owned(),
            }),
        }
    }

    /// The error that ends the run after a fatal step error.
    fn fatal_error(&self, error: StepError, cell: &Cell, repetition: u32) -> BenchError {
        let dir = self.results.path().display().to_string();
        match (error, self.class(cell)) {
            (
                StepError::OptionsIgnored {
                    pv,
                    carried,
                    wanted,
                },
                Some(class),
            ) => BenchError::OptionsIgnored(Box::new(IgnoredOptions {
                class: class.name.clone(),
                provisioner: class.provisioner.clone(),
                pv,
                carried,
                wanted,
                profile: cell.profile.clone(),
                dir,
            })),
            (e, _) => BenchError::Aborted {
                cell: cell.id.clone(),
                repetition,
                dir,
                source: Box::new(e),
            },
        }
    }

    /// Deletes the run's namespace and waits until it is gone.
    async fn remove_namespace(&self, leftovers: &mut Vec<String>) {
        let run = &self.options.run_id;
        let cluster = self.cluster;
        self.progress.report(Event::Bench(BenchEvent::Phase(
            "removing the run's namespace",
        )));
        let ns_ref = ObjectRef::cluster("v1", "Namespace", &manifests::namespace_name(run));
        match cluster.delete(&ns_ref, Propagation::Background).await {
            Ok(_) => {
                if let Err(e) = wait::until_within(
                    cluster,
                    &ns_ref,
                    &conditions::is_gone(),
                    self.options.timeouts.cleanup,
                )
                .await
                {
                    leftovers.push(format!("{ns_ref}: {}", error_chain(&e)));
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => leftovers.push(format!("{ns_ref}: {}", error_chain(&e))),
        }
    }

    /// Deletes the StorageClass clones and waits until they are gone.
    async fn remove_clones(&self, leftovers: &mut Vec<String>) {
        let cluster = self.cluster;
        if !self.clones.is_empty() {
            self.progress.report(Event::Bench(BenchEvent::Phase(
                "removing the StorageClass clones",
            )));
        }
        for reference in &self.clones {
            let removed = match cluster.delete(reference, Propagation::Background).await {
                Ok(_) => wait::until_within(
                    cluster,
                    reference,
                    &conditions::is_gone(),
                    self.options.timeouts.delete,
                )
                .await
                .map(|_| ())
                .map_err(|e| error_chain(&e)),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => Err(error_chain(&e)),
            };
            if let Err(why) = removed {
                leftovers.push(format!("{reference}: {why}"));
            }
        }
    }
}

impl<'a> CellExecutor for ClusterCells<'a> {
    type Error = BenchError;
    type Admitted = Backing<'a>;
    const STEP_OVERHEAD: Duration = CLUSTER_STEP_OVERHEAD;
    const WHAT_IS_LEFT: &'static str = "objects left behind (remove them with `nfslab clean`)";

    fn notes(&self) -> Vec<String> {
        self.classes
            .iter()
            .flat_map(|(_, class)| class.warnings())
            .collect()
    }

    fn admit(&self, cell: &Cell) -> Result<Option<Backing<'a>>, BenchError> {
        self.backing(cell).map(Some)
    }

    async fn repetition(
        &mut self,
        backing: Backing<'a>,
        cell: &Cell,
        cell_record: &CellRecord,
        repetition: u32,
        cancel: &mut watch::Receiver<bool>,
    ) -> Repetition<BenchError> {
        let run = &self.options.run_id;
        let plan = self.plan;
        let clone = storage_class::clone_name(run, &cell.server, &cell.profile);
        let volume = match backing {
            Backing::Class => manifests::Volume::Provisioned {
                storage_class: &clone,
            },
            Backing::Server(server) => manifests::Volume::Nfs {
                server_address: &server.address,
                export: &server.export,
                mount_options: &cell_record.requested_options,
            },
        };
        let job = cell_record.job.clone();
        let resolved = job.resolve().ok();
        let measure_timeout = resolved
            .as_ref()
            .map(|j| j.runtime.unwrap_or_default() + j.ramp_time)
            .unwrap_or_default()
            + plan.cell_timeout;
        let barrier_timeout = format_duration(plan.cell_timeout);
        let spec = CellSpec {
            run,
            cell,
            repetition,
            volume,
            job: &job,
            image: &plan.image,
            volume_size: &plan.volume_size,
            barrier_timeout: &barrier_timeout,
        };
        let work = Step {
            cluster: self.cluster,
            timeouts: &self.options.timeouts,
            progress: self.progress,
            results: self.results,
            names: Names::new(run, cell, repetition),
            objects: manifests::cell_objects(&spec),
            cell,
            repetition,
            measure_timeout,
            provisioned: matches!(backing, Backing::Class)
                .then_some(cell_record.requested_options.as_slice()),
            volume: std::sync::Mutex::new(None),
        };
        let outcome = tokio::select! {
            biased;
            () = cancelled(cancel) => None,
            r = work.run() => Some(r),
        };
        let cleanup = work.cleanup().await;
        let (end, fatal) = match outcome {
            None => (StepEnd::Interrupted, None),
            Some(Ok(pods)) => (StepEnd::Ok(pods), None),
            Some(Err(e)) => {
                let message = error_chain(&e);
                let fatal = e.is_fatal().then(|| self.fatal_error(e, cell, repetition));
                (StepEnd::Failed(message), fatal)
            }
        };
        Repetition::Ran {
            end,
            cleanup,
            fatal,
        }
    }

    async fn finish(self, leftovers: &mut Vec<String>) {
        self.remove_namespace(leftovers).await;
        // The clones go last: a provisioner may read a volume's class to delete it.
        self.remove_clones(leftovers).await;
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
