//! Running one step against the cluster and the NFS server.
//!
//! Each [`Action`] renders its templates with the scenario's values (captured ones
//! included), does its work through [`crate::k8s::Cluster`] and [`super::files`], records
//! what it saw as [`Observation`]s, and fails with a [`StepError`] that says what was
//! expected and what happened. Waiting on objects uses watches ([`crate::k8s::wait`]);
//! only what cannot be watched through a single object (events, pod lists) is re-read
//! with a growing pause (`poll`).
//!
//! One file per family of step kinds, each holding its kinds' file format, validation and
//! execution side by side:
//! - `objects`: `apply`, `delete`, `patch`, `scale`, `delete-pods`, `capture`;
//! - `waits`: `wait` and `stays`, conditions on objects over time;
//! - `pods`: `exec`, `http-get`, `mount-options`, `logs`;
//! - `server`: the `server-*` steps and `restart-nfs-server`;
//! - `cluster`: `expect-event` and `deploy-provisioner`.
//!
//! This file holds the enum of every kind as written (`StepDef`) and the two matches over
//! the kinds, each one arm per kind and checked exhaustive by the compiler: `validate_step`
//! (a written step into the plan's step) and `run` (a plan [`Action`] against the cluster).
//! It also holds what their execution shares: the step's context (`StepCtx`: rendering,
//! object references, pod selection, exec), the error type, bounded calls and `poll`. What
//! their validation shares (references, templates, manifests) is the validator's core, in
//! [`super::validate`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use self::cluster::{DeployProvisionerDef, ExpectEventDef};
use self::objects::{ApplyDef, CaptureDef, DeleteDef, DeletePodsDef, PatchDef, ScaleDef};
use self::pods::{ExecDef, HttpGetDef, LogsDef, MountOptionsDef};
use self::server::{
    RestartNfsServerDef, ServerExpectDef, ServerMkdirDef, ServerRemoveDef, ServerRenameDef,
    ServerWaitDef, ServerWriteDef,
};
use self::waits::{StaysDef, WaitDef};
use super::env::ScenarioEnv;
use super::files::FilesError;
use super::plan::Step;
use super::plan::{Action, KindInfo, ObjRef, PodTarget, Pred, Tpl};
use super::template::{Templates, Vars};
use super::validate::Validator;
use crate::errors::error_chain;
use crate::k8s::conditions::{self as c, Condition};
use crate::k8s::manifest::Pos;
use crate::k8s::manifest::{Located, Node};
use crate::k8s::ownership;
use crate::k8s::tracker::{CleanupStage, Tracker};
use crate::k8s::wait::{self, WaitError};
use crate::k8s::{ClusterError, EventRecord, ExecOutput, ObjectRef};
use crate::model::scenarios::{MountRecord, Observation};

pub(super) mod cluster;
pub(super) mod objects;
pub(super) mod pods;
pub(super) mod server;
pub(super) mod waits;

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StepError {
    /// Whether the cluster behaved differently than asserted (`false`: the harness or the
    /// environment broke).
    pub assertion: bool,
    /// What was expected and what happened.
    pub message: String,
}

impl StepError {
    /// Kubernetes (or the server) did not do what the step asserts.
    pub(super) fn failed(message: impl Into<String>) -> Self {
        Self {
            assertion: true,
            message: message.into(),
        }
    }

    /// The harness or the environment broke.
    pub(super) fn broken(message: impl Into<String>) -> Self {
        Self {
            assertion: false,
            message: message.into(),
        }
    }
}

impl From<WaitError> for StepError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Timeout { .. } | WaitError::Broken { .. } => Self::failed(e.to_string()),
            // An image that cannot be pulled is the environment's problem, not a finding.
            WaitError::Watch { .. } | WaitError::Ended { .. } | WaitError::ImagePull { .. } => {
                Self::broken(error_chain(&e))
            }
        }
    }
}

impl From<FilesError> for StepError {
    fn from(e: FilesError) -> Self {
        Self::broken(error_chain(&e))
    }
}

/// A cluster error: refusals by the API server are the cluster's answer (failures);
/// transport and exec problems are the environment's.
fn cluster_error(what: &str, e: &ClusterError) -> StepError {
    let message = format!("could not {what}: {}", error_chain(e));
    match e {
        ClusterError::Api { .. } | ClusterError::NotFound { .. } | ClusterError::Invalid { .. } => {
            StepError::failed(message)
        }
        ClusterError::Unreachable { .. } | ClusterError::Exec { .. } => StepError::broken(message),
    }
}

/// What a step works with.
pub(crate) struct StepCtx {
    pub env: Arc<ScenarioEnv>,
    pub scenario_id: String,
    pub vars: Vars,
    pub templates: Templates,
    pub tracker: Tracker,
    /// What the step saw.
    pub observations: Vec<Observation>,
    /// Objects the step is about (for a diagnosis if it fails).
    pub subjects: Vec<ObjectRef>,
    /// Mount records of the scenario.
    pub mounts: Vec<MountRecord>,
}

const OUTPUT_LIMIT: usize = 4096;

fn shorten(text: &str) -> String {
    if text.len() <= OUTPUT_LIMIT {
        return text.to_owned();
    }
    let mut end = OUTPUT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// Re-reads something that cannot be watched until `probe` returns a value, pausing 200 ms
/// and doubling up to `max_interval` between reads, for at most `timeout`. `probe` returns
/// `Ok(Err(seen))` while not there yet, `seen` describing what it saw for the timeout
/// message.
pub(crate) async fn poll<T, F, Fut>(
    timeout: Duration,
    max_interval: Duration,
    what: &str,
    mut probe: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, StepError>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200).min(max_interval);
    loop {
        let seen = match probe().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(StepError::failed(format!(
                "timed out after {} waiting for {what} (last seen: {seen})",
                nfslab_workload::format_duration(timeout)
            )));
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(max_interval);
    }
}

impl StepCtx {
    fn render(&self, t: &Tpl) -> Result<String, StepError> {
        self.templates
            .render(&t.text, &self.vars.context())
            .map_err(|issue| StepError::broken(format!("{} (hint: {})", issue.message, issue.hint)))
    }

    fn render_opt(&self, t: Option<&Tpl>) -> Result<Option<String>, StepError> {
        t.map(|t| self.render(t)).transpose()
    }

    fn render_node(&self, node: &Located<Node>) -> Result<Value, StepError> {
        let ctx = self.vars.context();
        node.value
            .try_map_strings(node.pos, &mut |s, _| self.templates.render(s, &ctx))
            .map(|n| n.to_json())
            .map_err(|issue| StepError::broken(issue.message))
    }

    fn object(&mut self, r: &ObjRef) -> Result<ObjectRef, StepError> {
        let name = self.render(&r.name)?;
        let object = r.kind.object(&self.vars.namespace, &name);
        if !self.subjects.contains(&object) {
            self.subjects.push(object.clone());
        }
        Ok(object)
    }

    fn ns(&self) -> &str {
        &self.vars.namespace
    }

    fn poll_max(&self) -> Duration {
        self.env.config.scenarios.poll_max_interval
    }

    fn observe_state(&mut self, object: &ObjectRef, state: Option<&Value>) {
        self.observations.push(Observation::State {
            object: object.to_string(),
            state: wait::summarize(state),
        });
    }

    /// A condition from a predicate, for objects of `kind`.
    fn condition(&self, pred: &Pred, kind: &KindInfo) -> Result<Condition, StepError> {
        let all = |preds: &[Pred]| -> Result<Vec<Condition>, StepError> {
            preds.iter().map(|p| self.condition(p, kind)).collect()
        };
        let on_off = |cond: Condition, want: bool| if want { cond } else { cond.negate() };
        Ok(match pred {
            Pred::All(preds) => fold(all(preds)?, Condition::and),
            Pred::Any(preds) => fold(all(preds)?, Condition::or),
            Pred::Not(p) => self.condition(p, kind)?.negate(),
            Pred::Phase(p) => {
                let phase = self.render(p)?;
                match kind.short {
                    "pvc" => c::pvc_phase(&phase),
                    "pv" => c::pv_phase(&phase),
                    "pod" => c::pod_phase(&phase),
                    _ => c::field_equals("/status/phase", Value::from(phase)),
                }
            }
            Pred::BoundTo(pv) => c::pvc_bound_to(&self.render(pv)?),
            Pred::ClaimedBy(claim) => {
                let claim = self.render(claim)?;
                let (ns, name) = claim
                    .split_once('/')
                    .map_or((self.ns().to_owned(), claim.clone()), |(a, b)| {
                        (a.to_owned(), b.to_owned())
                    });
                c::pv_claimed_by(&ns, &name)
            }
            Pred::Unclaimed(want) => on_off(c::pv_unclaimed(), *want),
            Pred::Ready(want) => on_off(c::pod_ready(), *want),
            Pred::Available(n) => c::deployment_available(*n),
            Pred::ReadyReplicas(n) => c::statefulset_ready(*n),
            Pred::Complete(want) => on_off(c::job_complete(), *want),
            Pred::Failed(want) => on_off(c::job_failed(), *want),
            Pred::Exists(true) => c::exists(),
            Pred::Exists(false) => c::is_gone(),
            Pred::Terminating(want) => on_off(c::is_terminating(), *want),
            Pred::Finalizer(f) => c::has_finalizer(&self.render(f)?),
            Pred::Labels(entries) => c::has_labels(&self.render_pairs(entries)?),
            Pred::Annotations(entries) => c::has_annotations(&self.render_pairs(entries)?),
            Pred::Capacity(q) => c::pvc_capacity(&self.render(q)?),
            Pred::Field(pointer, node) => c::field_equals(pointer, self.render_node(node)?),
            Pred::UidDiffers(uid) => c::pod_uid_differs(&self.render(uid)?),
            Pred::Restarts(container, n) => c::container_restarted(container, *n),
        })
    }

    fn render_pairs(&self, entries: &[(String, Tpl)]) -> Result<Vec<(String, String)>, StepError> {
        entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.render(v)?)))
            .collect()
    }

    /// Running, not terminating pods matching `selector`, by name.
    async fn running_pods(&self, selector: &str) -> Result<Vec<Value>, StepError> {
        self.pods(selector, true).await
    }

    /// Not terminating pods matching `selector` (only Running ones with `running`), by name.
    async fn pods(&self, selector: &str, running: bool) -> Result<Vec<Value>, StepError> {
        let mut pods = list_pods(self.env.cluster.as_ref(), self.ns(), selector).await?;
        pods.retain(|p| {
            (!running || c::pod_phase("Running").matches(Some(p)))
                && !c::is_terminating().matches(Some(p))
        });
        pods.sort_by_key(|p| name_of(p).to_owned());
        Ok(pods)
    }

    /// The pods a step targets: the named one, or the running ones matching the selector
    /// (the first by name unless `all`).
    async fn target_pods(
        &mut self,
        target: &PodTarget,
        all: bool,
    ) -> Result<Vec<ObjectRef>, StepError> {
        self.select_pods(target, all, true).await
    }

    /// Like [`StepCtx::target_pods`]; without `running`, pods in any phase (completed Job
    /// pods, for their logs).
    async fn select_pods(
        &mut self,
        target: &PodTarget,
        all: bool,
        running: bool,
    ) -> Result<Vec<ObjectRef>, StepError> {
        match target {
            PodTarget::Named(name) => {
                let name = self.render(name)?;
                let pod = ObjectRef::pod(self.ns(), &name);
                self.subjects.push(pod.clone());
                Ok(vec![pod])
            }
            PodTarget::Selector(sel) => {
                let sel = self.render(sel)?;
                let pods = self.pods(&sel, running).await?;
                if pods.is_empty() {
                    return Err(StepError::failed(format!(
                        "no {}pod matches `{sel}` in namespace `{}`",
                        if running { "running " } else { "" },
                        self.ns()
                    )));
                }
                let refs: Vec<ObjectRef> = pods
                    .iter()
                    .map(|p| ObjectRef::pod(self.ns(), name_of(p)))
                    .collect();
                self.subjects.extend(refs.iter().cloned());
                Ok(if all {
                    refs
                } else {
                    refs.into_iter().take(1).collect()
                })
            }
        }
    }

    async fn exec(
        &mut self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, StepError> {
        let call = self.env.cluster.exec(pod, container, command, None);
        let out = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| {
                StepError::failed(format!(
                    "`{}` in {pod} did not finish within {}",
                    command.join(" "),
                    nfslab_workload::format_duration(timeout)
                ))
            })?
            .map_err(|e| cluster_error(&format!("run `{}` in {pod}", command.join(" ")), &e))?;
        self.observations.push(Observation::Exec {
            pod: format!(
                "{}/{}",
                pod.namespace.as_deref().unwrap_or_default(),
                pod.name
            ),
            command: command.to_vec(),
            exit_code: out.exit_code,
            stdout: shorten(&out.stdout),
            stderr: shorten(&out.stderr),
        });
        Ok(out)
    }

    /// The scenario-relative server path `rel`, relative to the export's root.
    fn server_path(&self, rel: &Tpl) -> Result<String, StepError> {
        let rel = self.render(rel)?;
        let rel = rel.trim_matches('/');
        Ok(if rel.is_empty() || rel == "." {
            self.vars.dir_name().to_owned()
        } else {
            format!("{}/{rel}", self.vars.dir_name())
        })
    }

    fn files(&self) -> Result<Arc<dyn super::files::ServerFiles>, StepError> {
        self.env.files.clone().ok_or_else(|| {
            StepError::broken("the NFS server offers no file access (server-side steps need one)")
        })
    }

    /// Applies one manifest into the scenario's namespace, stamped with the run's labels,
    /// and tracks it.
    async fn apply_value(
        &mut self,
        value: Value,
        stage: Option<CleanupStage>,
    ) -> Result<(), StepError> {
        let value = prepare_manifest(
            value,
            &self.vars.namespace,
            &self.env.run,
            &self.scenario_id,
        );
        let object = ObjectRef::from_manifest(&value).ok_or_else(|| {
            StepError::broken("a manifest lacks apiVersion, kind or metadata.name")
        })?;
        // Tracked before the call: a request that times out may still have created it.
        match stage {
            Some(s) => self.tracker.record_as(&object, s),
            None => self.tracker.record(&object),
        }
        self.env
            .cluster
            .apply(&value)
            .await
            .map_err(|e| cluster_error(&format!("apply {object}"), &e))?;
        self.observations.push(Observation::Object {
            action: "applied".to_owned(),
            object: object.to_string(),
        });
        self.subjects.push(object);
        Ok(())
    }
}

/// A manifest as the engine applies it: in the scenario's namespace (namespaced kinds),
/// with the run's ownership labels.
pub(crate) fn prepare_manifest(
    mut value: Value,
    namespace: &str,
    run: &ownership::RunId,
    scenario: &str,
) -> Value {
    let namespaced = ObjectRef::from_manifest(&value)
        .and_then(|o| KindInfo::by_manifest(&o.api_version, &o.kind))
        .is_some_and(|k| k.namespaced);
    if namespaced && let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".to_owned(), Value::from(namespace));
    }
    ownership::stamp(&mut value, run, Some(scenario));
    value
}

fn fold(conds: Vec<Condition>, join: fn(Condition, Condition) -> Condition) -> Condition {
    let mut iter = conds.into_iter();
    match iter.next() {
        Some(first) => iter.fold(first, join),
        None => c::exists(),
    }
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn uid_of(v: &Value) -> &str {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Runs one action within `timeout` (`observe` is the default stays window): one call per
/// step kind, into the file of its family.
pub(crate) async fn run(
    ctx: &mut StepCtx,
    action: &Action,
    timeout: Duration,
) -> Result<(), StepError> {
    match action {
        Action::Apply(manifests) => objects::apply(ctx, manifests).await,
        Action::Delete(step) => objects::delete(ctx, step, timeout).await,
        Action::Wait(step) => waits::wait(ctx, step, timeout).await,
        Action::Stays(step) => waits::stays(ctx, step).await,
        Action::Exec(step) => pods::exec(ctx, step, timeout).await,
        Action::HttpGet(step) => pods::http_get(ctx, step, timeout).await,
        Action::ServerMkdir(step) => server::mkdir(ctx, step, timeout).await,
        Action::ServerWrite(step) => server::write(ctx, step, timeout).await,
        Action::ServerRemove(step) => server::remove(ctx, step, timeout).await,
        Action::ServerRename(step) => server::rename(ctx, step, timeout).await,
        Action::ServerExpect(step) => server::expect(ctx, step, timeout).await,
        Action::ServerWait(step) => server::wait(ctx, step, timeout).await,
        Action::ExpectEvent(step) => cluster::expect_event(ctx, step, timeout).await,
        Action::Scale(step) => objects::scale(ctx, step, timeout).await,
        Action::DeletePods(step) => objects::delete_pods(ctx, step, timeout).await,
        Action::Capture(step) => objects::capture(ctx, step, timeout).await,
        Action::Patch(step) => objects::patch(ctx, step, timeout).await,
        Action::MountOptions(step) => pods::mount_options(ctx, step, timeout).await,
        Action::Logs(step) => pods::logs(ctx, step, timeout).await,
        Action::DeployProvisioner(step) => cluster::deploy_provisioner(ctx, step, timeout).await,
        Action::RestartNfsServer => server::restart(ctx, timeout).await,
    }
}
/// Runs a cluster call within `timeout`.
async fn bounded_cluster<T>(
    timeout: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, ClusterError>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(|e| cluster_error(what, &e)),
        Err(_) => Err(StepError::broken(format!(
            "could not {what}: no answer within {}",
            nfslab_workload::format_duration(timeout)
        ))),
    }
}

/// The pods of a namespace matching `selector`.
async fn list_pods(
    cluster: &dyn crate::k8s::Cluster,
    namespace: &str,
    selector: &str,
) -> Result<Vec<Value>, StepError> {
    cluster
        .list("v1", "Pod", Some(namespace), Some(selector))
        .await
        .map_err(|e| cluster_error(&format!("list pods `{selector}`"), &e))
}

fn event_observation(e: &EventRecord) -> Observation {
    Observation::Event {
        object: e.involved.to_string(),
        event_type: e.type_.clone(),
        reason: e.reason.clone(),
        message: e.message.clone(),
    }
}

/// One step: a map with exactly one key naming its kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum StepDef {
    Apply(Box<ApplyDef>),
    Delete(Box<DeleteDef>),
    Wait(Box<WaitDef>),
    Stays(Box<StaysDef>),
    Exec(Box<ExecDef>),
    HttpGet(Box<HttpGetDef>),
    ServerMkdir(Box<ServerMkdirDef>),
    ServerWrite(Box<ServerWriteDef>),
    ServerRemove(Box<ServerRemoveDef>),
    ServerRename(Box<ServerRenameDef>),
    ServerExpect(Box<ServerExpectDef>),
    ServerWait(Box<ServerWaitDef>),
    ExpectEvent(Box<ExpectEventDef>),
    Scale(Box<ScaleDef>),
    DeletePods(Box<DeletePodsDef>),
    Capture(Box<CaptureDef>),
    Patch(Box<PatchDef>),
    MountOptions(Box<MountOptionsDef>),
    Logs(Box<LogsDef>),
    DeployProvisioner(Box<DeployProvisionerDef>),
    RestartNfsServer(Box<RestartNfsServerDef>),
}

impl StepDef {
    /// The step kind as written.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Apply(_) => "apply",
            Self::Delete(_) => "delete",
            Self::Wait(_) => "wait",
            Self::Stays(_) => "stays",
            Self::Exec(_) => "exec",
            Self::HttpGet(_) => "http-get",
            Self::ServerMkdir(_) => "server-mkdir",
            Self::ServerWrite(_) => "server-write",
            Self::ServerRemove(_) => "server-remove",
            Self::ServerRename(_) => "server-rename",
            Self::ServerExpect(_) => "server-expect",
            Self::ServerWait(_) => "server-wait",
            Self::ExpectEvent(_) => "expect-event",
            Self::Scale(_) => "scale",
            Self::DeletePods(_) => "delete-pods",
            Self::Capture(_) => "capture",
            Self::Patch(_) => "patch",
            Self::MountOptions(_) => "mount-options",
            Self::Logs(_) => "logs",
            Self::DeployProvisioner(_) => "deploy-provisioner",
            Self::RestartNfsServer(_) => "restart-nfs-server",
        }
    }

    /// The fields every step has.
    pub(crate) fn common(&self) -> &dyn super::format::Common {
        match self {
            Self::Apply(b) => b.as_ref(),
            Self::Delete(b) => b.as_ref(),
            Self::Wait(b) => b.as_ref(),
            Self::Stays(b) => b.as_ref(),
            Self::Exec(b) => b.as_ref(),
            Self::HttpGet(b) => b.as_ref(),
            Self::ServerMkdir(b) => b.as_ref(),
            Self::ServerWrite(b) => b.as_ref(),
            Self::ServerRemove(b) => b.as_ref(),
            Self::ServerRename(b) => b.as_ref(),
            Self::ServerExpect(b) => b.as_ref(),
            Self::ServerWait(b) => b.as_ref(),
            Self::ExpectEvent(b) => b.as_ref(),
            Self::Scale(b) => b.as_ref(),
            Self::DeletePods(b) => b.as_ref(),
            Self::Capture(b) => b.as_ref(),
            Self::Patch(b) => b.as_ref(),
            Self::MountOptions(b) => b.as_ref(),
            Self::Logs(b) => b.as_ref(),
            Self::DeployProvisioner(b) => b.as_ref(),
            Self::RestartNfsServer(b) => b.as_ref(),
        }
    }
}

/// Validates one step into the plan's [`Step`]: the shared fields here, the kind's own
/// checks in its family's file (one arm per kind; the compiler checks every kind is here).
pub(super) fn validate_step(
    v: &mut Validator<'_>,
    index: usize,
    pos: Pos,
    field: &str,
    def: &StepDef,
) -> Option<Step> {
    let common = def.common();
    let title = common.title().map(|t| t.value.trim().to_owned());
    let kind = def.kind();
    let (action, default_timeout) = match def {
        StepDef::Apply(b) => objects::validate_apply(v, b, pos, field),
        StepDef::Delete(b) => objects::validate_delete(v, b, pos, field),
        StepDef::Wait(b) => waits::validate_wait(v, b, pos, field),
        StepDef::Stays(b) => waits::validate_stays(v, b, pos, field),
        StepDef::Exec(b) => pods::validate_exec(v, b, pos, field),
        StepDef::HttpGet(b) => pods::validate_http_get(v, b, pos, field),
        StepDef::ServerMkdir(b) => server::validate_mkdir(v, b, field),
        StepDef::ServerWrite(b) => server::validate_write(v, b, field),
        StepDef::ServerRemove(b) => server::validate_remove(v, b, field),
        StepDef::ServerRename(b) => server::validate_rename(v, b, field),
        StepDef::ServerExpect(b) => server::validate_expect(v, b, pos, field),
        StepDef::ServerWait(b) => server::validate_wait(v, b, field),
        StepDef::ExpectEvent(b) => cluster::validate_expect_event(v, b, pos, field),
        StepDef::Scale(b) => objects::validate_scale(v, b, field),
        StepDef::DeletePods(b) => objects::validate_delete_pods(v, b, field),
        StepDef::Capture(b) => objects::validate_capture(v, b, pos, field),
        StepDef::Patch(b) => objects::validate_patch(v, b, field),
        StepDef::MountOptions(b) => pods::validate_mount_options(v, b, pos, field),
        StepDef::Logs(b) => pods::validate_logs(v, b, pos, field),
        StepDef::DeployProvisioner(b) => cluster::validate_deploy_provisioner(v, b, pos, field),
        StepDef::RestartNfsServer(_) => server::validate_restart(v),
    }?;
    let timeout = v.timeout(common.timeout(), field, default_timeout);
    Some(Step {
        index,
        pos,
        kind,
        title,
        timeout,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn poll_backs_off_and_times_out_with_what_it_saw() {
        let start = Instant::now();
        let mut reads = 0;
        let err = poll::<(), _, _>(
            Duration::from_secs(5),
            Duration::from_secs(2),
            "a thing",
            || {
                reads += 1;
                async { Ok(Err("nothing yet".to_owned())) }
            },
        )
        .await
        .expect_err("never");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        // 0, 0.2, 0.6, 1.4, 3.4, 5.0
        assert_eq!(reads, 6);
        assert_eq!(
            err.message,
            "timed out after 5s waiting for a thing (last seen: nothing yet)"
        );
        assert!(err.assertion);
    }
}
