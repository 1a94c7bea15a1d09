//! Running one step against the cluster and the NFS server.
//!
//! Each [`Action`] renders its templates with the scenario's values (captured ones
//! included), does its work through [`crate::k8s::Cluster`] and [`super::files`], records
//! what it saw as [`Observation`]s, and fails with a [`StepError`] that says what was
//! expected and what happened. Waiting on objects uses watches ([`crate::k8s::wait`]);
//! only what cannot be watched through a single object (events, pod lists) is re-read
//! with a growing pause ([`poll`]).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use serde_json::Value;
use tokio::time::Instant;

use super::env::ScenarioEnv;
use super::files::FilesError;
use super::plan::{
    Action, CaptureSource, EventSource, ExecExpect, ExitExpect, KindInfo, Manifest, MountExpect,
    ObjRef, PodTarget, Pred, ProvisionerStep, Tpl,
};
use super::provisioner;
use super::results::{MountRecord, Observation};
use super::template::{Templates, Vars};
use crate::k8s::conditions::{self as c, Condition};
use crate::k8s::manifest::{Located, Node};
use crate::k8s::ownership;
use crate::k8s::tracker::{CleanupStage, Tracker};
use crate::k8s::wait::{self, WaitError};
use crate::k8s::{ClusterError, EventRecord, ExecOutput, ObjectRef, Propagation};

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// Whether the cluster behaved differently than asserted (`false`: the harness or the
    /// environment broke).
    pub assertion: bool,
    /// What was expected and what happened.
    pub message: String,
}

impl StepError {
    /// Kubernetes (or the server) did not do what the step asserts.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            assertion: true,
            message: message.into(),
        }
    }

    /// The harness or the environment broke.
    pub fn broken(message: impl Into<String>) -> Self {
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

/// An error and its sources, joined by `: `.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
                humantime::format_duration(timeout)
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
                    humantime::format_duration(timeout)
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

/// Runs one action within `timeout` (`observe` is the default stays window).
pub(crate) async fn run(
    ctx: &mut StepCtx,
    action: &Action,
    timeout: Duration,
) -> Result<(), StepError> {
    match action {
        Action::Apply(manifests) => apply(ctx, manifests).await,
        Action::Delete {
            objects,
            wait,
            propagation,
        } => delete(ctx, objects, *wait, *propagation, timeout).await,
        Action::Wait {
            objects,
            selector,
            count,
            pred,
            meanwhile,
        } => match selector {
            Some(sel) => wait_selector(ctx, sel, *count, pred, timeout).await,
            None => wait_objects(ctx, objects, pred, meanwhile.as_ref(), timeout).await,
        },
        Action::Stays {
            objects,
            pred,
            duration,
        } => {
            let window = duration.unwrap_or(ctx.env.config.timeouts.observe);
            stays(ctx, objects, pred, window).await
        }
        Action::Exec {
            target,
            all,
            container,
            command,
            expect,
        } => {
            exec(
                ctx,
                target,
                *all,
                container.as_ref(),
                command,
                expect,
                timeout,
            )
            .await
        }
        Action::HttpGet {
            target,
            container,
            url,
            body,
            body_contains,
        } => {
            http_get(
                ctx,
                target,
                container.as_ref(),
                url,
                body.as_ref(),
                body_contains.as_ref(),
                timeout,
            )
            .await
        }
        Action::ServerMkdir { path, mode, owner } => {
            let path = ctx.server_path(path)?;
            let (mode, owner) = (
                ctx.render_opt(mode.as_ref())?,
                ctx.render_opt(owner.as_ref())?,
            );
            bounded(
                timeout,
                "server-mkdir",
                ctx.files()?.mkdir(&path, mode.as_deref(), owner.as_deref()),
            )
            .await?;
            ctx.observations.push(Observation::File {
                path,
                detail: "created".to_owned(),
            });
            Ok(())
        }
        Action::ServerWrite {
            path,
            content,
            append,
        } => {
            let path = ctx.server_path(path)?;
            let content = ctx.render(content)?;
            bounded(
                timeout,
                "server-write",
                ctx.files()?.write(&path, &content, *append),
            )
            .await?;
            let detail = format!(
                "{} {} bytes",
                if *append { "appended" } else { "wrote" },
                content.len()
            );
            ctx.observations.push(Observation::File { path, detail });
            Ok(())
        }
        Action::ServerRemove { path, recursive } => {
            let path = ctx.server_path(path)?;
            bounded(
                timeout,
                "server-remove",
                ctx.files()?.remove(&path, *recursive),
            )
            .await?;
            ctx.observations.push(Observation::File {
                path,
                detail: "removed".to_owned(),
            });
            Ok(())
        }
        Action::ServerRename { from, to } => {
            let (from, to) = (ctx.server_path(from)?, ctx.server_path(to)?);
            bounded(timeout, "server-rename", ctx.files()?.rename(&from, &to)).await?;
            ctx.observations.push(Observation::File {
                path: from,
                detail: format!("renamed to {to}"),
            });
            Ok(())
        }
        Action::ServerExpect {
            path,
            exists,
            content,
            empty,
            entries,
            owner,
        } => {
            let check = server_expect(
                ctx,
                path,
                *exists,
                content.as_ref(),
                *empty,
                entries,
                owner.as_ref(),
            );
            tokio::time::timeout(timeout, check).await.map_err(|_| {
                StepError::broken(format!(
                    "the NFS server did not answer within {}",
                    humantime::format_duration(timeout)
                ))
            })?
        }
        Action::ServerWait { path } => {
            let path = ctx.server_path(path)?;
            let files = ctx.files()?;
            match files.wait_for(&path, timeout).await {
                Ok(()) => {
                    ctx.observations.push(Observation::File {
                        path,
                        detail: "appeared".to_owned(),
                    });
                    Ok(())
                }
                Err(FilesError::Failed { .. }) => Err(StepError::failed(format!(
                    "`{path}` did not appear on the NFS server within {}",
                    humantime::format_duration(timeout)
                ))),
                Err(e) => Err(e.into()),
            }
        }
        Action::ExpectEvent {
            source,
            reason,
            message,
            event_type,
        } => {
            expect_event(
                ctx,
                source,
                reason,
                message.as_ref(),
                event_type.as_deref(),
                timeout,
            )
            .await
        }
        Action::Scale { object, replicas } => {
            let object = ctx.object(object)?;
            let patch = serde_json::json!({"spec": {"replicas": replicas}});
            bounded_cluster(
                timeout,
                &format!("scale {object}"),
                ctx.env.cluster.patch_merge(&object, &patch),
            )
            .await?;
            ctx.observations.push(Observation::Info {
                text: format!("scaled {object} to {replicas}"),
            });
            Ok(())
        }
        Action::DeletePods { selector, replaced } => {
            delete_pods(ctx, selector, *replaced, timeout).await
        }
        Action::Capture {
            source,
            pointer,
            name,
        } => capture(ctx, source, pointer, name, timeout).await,
        Action::Patch { object, patch } => {
            let object = ctx.object(object)?;
            let patch = ctx.render_node(patch)?;
            let state = bounded_cluster(
                timeout,
                &format!("patch {object}"),
                ctx.env.cluster.patch_merge(&object, &patch),
            )
            .await?;
            ctx.observe_state(&object, Some(&state));
            Ok(())
        }
        Action::MountOptions {
            target,
            container,
            path,
            requested,
            expect,
        } => {
            mount_options(
                ctx,
                target,
                container.as_ref(),
                path,
                requested.as_ref(),
                expect,
                timeout,
            )
            .await
        }
        Action::Logs {
            target,
            container,
            tail,
            contains,
        } => {
            logs(
                ctx,
                target,
                container.as_ref(),
                *tail,
                contains.as_ref(),
                timeout,
            )
            .await
        }
        Action::DeployProvisioner(step) => deploy_provisioner(ctx, step, timeout).await,
        Action::RestartNfsServer => {
            let control = ctx.env.control.clone().ok_or_else(|| {
                StepError::broken("this NFS server cannot be restarted by nfslab")
            })?;
            let what = control
                .restart(timeout)
                .await
                .map_err(|e| StepError::failed(error_chain(&e)))?;
            ctx.observations.push(Observation::Info { text: what });
            Ok(())
        }
    }
}

/// Runs a server-side operation within `timeout`.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, FilesError>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(StepError::from),
        Err(_) => Err(StepError::broken(format!(
            "{what} did not finish within {} on the NFS server",
            humantime::format_duration(timeout)
        ))),
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
            humantime::format_duration(timeout)
        ))),
    }
}

async fn apply(ctx: &mut StepCtx, manifests: &[Manifest]) -> Result<(), StepError> {
    for m in manifests {
        let value = ctx.render_node(&m.node)?;
        ctx.apply_value(value, None).await?;
    }
    Ok(())
}

async fn delete(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    wait_gone: bool,
    propagation: Propagation,
    timeout: Duration,
) -> Result<(), StepError> {
    let mut refs = Vec::new();
    for o in objects {
        let object = ctx.object(o)?;
        let existed = ctx
            .env
            .cluster
            .delete(&object, propagation)
            .await
            .map_err(|e| cluster_error(&format!("delete {object}"), &e))?;
        if !existed {
            return Err(StepError::failed(format!("{object} was already gone")));
        }
        ctx.observations.push(Observation::Object {
            action: "deleted".to_owned(),
            object: object.to_string(),
        });
        refs.push(object);
    }
    if wait_gone {
        until_gone(ctx, &refs, timeout).await?;
    }
    Ok(())
}

/// Waits until every object in `refs` is gone.
async fn until_gone(ctx: &StepCtx, refs: &[ObjectRef], timeout: Duration) -> Result<(), StepError> {
    let gone = c::is_gone();
    let cluster = ctx.env.cluster.as_ref();
    try_join_all(
        refs.iter()
            .map(|r| wait::until_within(cluster, r, &gone, timeout)),
    )
    .await?;
    Ok(())
}

/// Each object with the condition `pred` for its kind.
fn targets(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    pred: &Pred,
) -> Result<Vec<(ObjectRef, Condition)>, StepError> {
    objects
        .iter()
        .map(|o| Ok((ctx.object(o)?, ctx.condition(pred, o.kind)?)))
        .collect()
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

async fn wait_objects(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    pred: &Pred,
    meanwhile: Option<&(ObjRef, Pred)>,
    timeout: Duration,
) -> Result<(), StepError> {
    let targets = targets(ctx, objects, pred)?;
    let cluster = Arc::clone(&ctx.env.cluster);
    let waits = try_join_all(
        targets
            .iter()
            .map(|(o, cond)| wait::until_within(cluster.as_ref(), o, cond, timeout)),
    );
    let states = match meanwhile {
        None => waits.await?,
        Some((other, guard)) => {
            let other_ref = ctx.object(other)?;
            let guard = ctx.condition(guard, other.kind)?;
            let holds = wait::holds_for(
                cluster.as_ref(),
                &other_ref,
                &guard,
                timeout + Duration::from_secs(1),
            );
            tokio::select! {
                states = waits => states?,
                broken = holds => {
                    return Err(match broken {
                        Err(e @ WaitError::Broken { .. }) => StepError::failed(format!(
                            "while waiting for {}: {e}",
                            targets.iter().map(|(o, c)| format!("{o}: {c}")).collect::<Vec<_>>().join(", ")
                        )),
                        Err(e) => e.into(),
                        Ok(_) => StepError::broken("the guard's watch ended before the wait"),
                    });
                }
            }
        }
    };
    for ((object, _), state) in targets.iter().zip(states) {
        ctx.observe_state(object, state.as_ref());
    }
    Ok(())
}

async fn wait_selector(
    ctx: &mut StepCtx,
    selector: &Tpl,
    count: u32,
    pred: &Pred,
    timeout: Duration,
) -> Result<(), StepError> {
    let sel = ctx.render(selector)?;
    let pod_kind = KindInfo::by_name("pod").ok_or_else(|| StepError::broken("pod kind missing"))?;
    let cond = ctx.condition(pred, pod_kind)?;
    let (cluster, ns) = (Arc::clone(&ctx.env.cluster), ctx.ns().to_owned());
    let what = format!("{count} pod(s) `{sel}`: {cond}");
    let matched = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, ns, sel, cond) =
            (Arc::clone(&cluster), ns.clone(), sel.clone(), cond.clone());
        async move {
            let pods = list_pods(cluster.as_ref(), &ns, &sel).await?;
            let ok: Vec<Value> = pods
                .iter()
                .filter(|p| cond.matches(Some(p)))
                .cloned()
                .collect();
            if ok.len() >= count as usize {
                Ok(Ok(ok))
            } else {
                Ok(Err(format!("{} of {} matching", ok.len(), pods.len())))
            }
        }
    })
    .await?;
    for pod in &matched {
        let r = ObjectRef::pod(ctx.ns(), name_of(pod));
        ctx.observe_state(&r, Some(pod));
    }
    Ok(())
}

async fn stays(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    pred: &Pred,
    window: Duration,
) -> Result<(), StepError> {
    let targets = targets(ctx, objects, pred)?;
    let cluster = Arc::clone(&ctx.env.cluster);
    let states = try_join_all(
        targets
            .iter()
            .map(|(o, cond)| wait::holds_for(cluster.as_ref(), o, cond, window)),
    )
    .await?;
    for ((object, _), state) in targets.iter().zip(states) {
        ctx.observe_state(object, state.as_ref());
        // What the controllers said about it: the "why" of a claim that stays Pending.
        if let Ok(events) = cluster.events_for(object).await {
            for e in events.iter().rev().take(3) {
                ctx.observations.push(event_observation(e));
            }
        }
    }
    Ok(())
}

fn event_observation(e: &EventRecord) -> Observation {
    Observation::Event {
        object: e.involved.to_string(),
        event_type: e.type_.clone(),
        reason: e.reason.clone(),
        message: e.message.clone(),
    }
}

fn check_output(
    out: &ExecOutput,
    expect: &ExecExpect,
    stdout: Option<&str>,
    stdout_contains: Option<&str>,
    stderr_contains: Option<&str>,
) -> Result<(), String> {
    match expect.exit {
        ExitExpect::Code(code) if out.exit_code != code => {
            return Err(format!(
                "exit code {}, expected {code}; stderr: {}",
                out.exit_code,
                shorten(out.stderr.trim())
            ));
        }
        ExitExpect::Fails if out.exit_code == 0 => {
            return Err(format!(
                "it succeeded, expected it to fail; stdout: {}",
                shorten(out.stdout.trim())
            ));
        }
        _ => {}
    }
    if let Some(want) = stdout
        && out.stdout != want
    {
        return Err(format!(
            "stdout is {:?}, expected {:?}",
            shorten(&out.stdout),
            want
        ));
    }
    if let Some(want) = stdout_contains
        && !out.stdout.contains(want)
    {
        return Err(format!(
            "stdout {:?} does not contain {:?}",
            shorten(&out.stdout),
            want
        ));
    }
    if let Some(want) = stderr_contains
        && !out.stderr.contains(want)
    {
        return Err(format!(
            "stderr {:?} does not contain {:?}",
            shorten(&out.stderr),
            want
        ));
    }
    Ok(())
}

async fn exec(
    ctx: &mut StepCtx,
    target: &PodTarget,
    all: bool,
    container: Option<&Tpl>,
    command: &[Tpl],
    expect: &ExecExpect,
    timeout: Duration,
) -> Result<(), StepError> {
    let pods = ctx.target_pods(target, all).await?;
    let container = ctx.render_opt(container)?;
    let command: Vec<String> = command
        .iter()
        .map(|t| ctx.render(t))
        .collect::<Result<_, _>>()?;
    let stdout = ctx.render_opt(expect.stdout.as_ref())?;
    let stdout_contains = ctx.render_opt(expect.stdout_contains.as_ref())?;
    let stderr_contains = ctx.render_opt(expect.stderr_contains.as_ref())?;
    for pod in pods {
        let out = ctx
            .exec(&pod, container.as_deref(), &command, timeout)
            .await?;
        check_output(
            &out,
            expect,
            stdout.as_deref(),
            stdout_contains.as_deref(),
            stderr_contains.as_deref(),
        )
        .map_err(|why| StepError::failed(format!("`{}` in {pod}: {why}", command.join(" "))))?;
    }
    Ok(())
}

async fn http_get(
    ctx: &mut StepCtx,
    target: &PodTarget,
    container: Option<&Tpl>,
    url: &Tpl,
    body: Option<&Tpl>,
    body_contains: Option<&Tpl>,
    timeout: Duration,
) -> Result<(), StepError> {
    let pods = ctx.target_pods(target, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no client pod"))?;
    let container = ctx.render_opt(container)?;
    let url = ctx.render(url)?;
    let command = vec![ctx.vars.io.clone(), "get".to_owned(), url.clone()];
    let body = ctx.render_opt(body)?;
    let body_contains = ctx.render_opt(body_contains)?;
    let judge = |out: &ExecOutput| -> Result<(), String> {
        if !out.success() {
            return Err(format!(
                "GET {url} from {pod} failed (exit {}): {}",
                out.exit_code,
                shorten(out.stderr.trim())
            ));
        }
        if let Some(want) = &body
            && &out.stdout != want
        {
            return Err(format!(
                "GET {url} returned {:?}, expected {want:?}",
                shorten(&out.stdout)
            ));
        }
        if let Some(want) = &body_contains
            && !out.stdout.contains(want.as_str())
        {
            return Err(format!(
                "GET {url} returned {:?}, which lacks {want:?}",
                shorten(&out.stdout)
            ));
        }
        Ok(())
    };
    // Endpoints and DNS records follow pod changes asynchronously: retry a failing GET with
    // a growing pause until the step's time is up, keeping only the last attempt's output.
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    let kept = ctx.observations.len();
    loop {
        ctx.observations.truncate(kept);
        let left = deadline.saturating_duration_since(Instant::now());
        let out = ctx
            .exec(
                &pod,
                container.as_deref(),
                &command,
                left.max(Duration::from_secs(1)),
            )
            .await?;
        let why = match judge(&out) {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        let now = Instant::now();
        if now + pause >= deadline {
            return Err(StepError::failed(format!(
                "{why} (still after {})",
                humantime::format_duration(timeout)
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(ctx.poll_max());
    }
}

async fn server_expect(
    ctx: &mut StepCtx,
    path: &Tpl,
    exists: Option<bool>,
    content: Option<&Tpl>,
    empty: Option<bool>,
    entries: &[Tpl],
    owner: Option<&Tpl>,
) -> Result<(), StepError> {
    let path = ctx.server_path(path)?;
    let files = ctx.files()?;
    let present = files.exists(&path).await?;
    ctx.observations.push(Observation::File {
        path: path.clone(),
        detail: if present { "exists" } else { "absent" }.to_owned(),
    });
    if let Some(want) = exists
        && want != present
    {
        return Err(StepError::failed(if want {
            format!("`{path}` does not exist on the NFS server")
        } else {
            format!("`{path}` still exists on the NFS server")
        }));
    }
    let needs_content =
        content.is_some() || empty.is_some() || !entries.is_empty() || owner.is_some();
    if needs_content && !present {
        return Err(StepError::failed(format!(
            "`{path}` does not exist on the NFS server"
        )));
    }
    if let Some(want) = content {
        let want = ctx.render(want)?;
        let got = files.read(&path).await?;
        if got != want {
            return Err(StepError::failed(format!(
                "`{path}` holds {:?}, expected {want:?}",
                shorten(&got)
            )));
        }
    }
    if let Some(want) = empty {
        let is_empty = files.is_empty(&path).await?;
        if is_empty != want {
            let listing = files.list(&path).await.unwrap_or_default();
            return Err(StepError::failed(if want {
                format!("`{path}` is not empty: {}", listing.join(", "))
            } else {
                format!("`{path}` is empty")
            }));
        }
    }
    if let Some(want) = owner {
        let want = ctx.render(want)?;
        let entry = files.entry(&path).await?.ok_or_else(|| {
            StepError::failed(format!("`{path}` does not exist on the NFS server"))
        })?;
        let got = format!("{}:{}", entry.uid, entry.gid);
        ctx.observations.push(Observation::File {
            path: path.clone(),
            detail: format!("owner {got}, mode {:04o}", entry.mode),
        });
        if got != want {
            return Err(StepError::failed(format!(
                "`{path}` is owned by {got}, expected {want}"
            )));
        }
    }
    if !entries.is_empty() {
        let listing = files.list(&path).await?;
        ctx.observations.push(Observation::File {
            path: path.clone(),
            detail: format!("entries: {}", listing.join(", ")),
        });
        for e in entries {
            let e = ctx.render(e)?;
            if !listing.contains(&e) {
                return Err(StepError::failed(format!(
                    "`{path}` lacks `{e}` (it holds: {})",
                    listing.join(", ")
                )));
            }
        }
    }
    Ok(())
}

async fn expect_event(
    ctx: &mut StepCtx,
    source: &EventSource,
    reason: &Tpl,
    message: Option<&Tpl>,
    event_type: Option<&str>,
    timeout: Duration,
) -> Result<(), StepError> {
    let reason = ctx.render(reason)?;
    let message = ctx.render_opt(message)?;
    let (object, namespace) = match source {
        EventSource::Object(o) => (Some(ctx.object(o)?), None),
        EventSource::Namespace(ns) => (None, Some(ctx.render(ns)?)),
    };
    let place = object.as_ref().map_or_else(
        || format!("namespace `{}`", namespace.as_deref().unwrap_or_default()),
        ToString::to_string,
    );
    let what = format!(
        "an event `{reason}`{} on {place}",
        message
            .as_ref()
            .map(|m| format!(" with {m:?}"))
            .unwrap_or_default()
    );
    let cluster = Arc::clone(&ctx.env.cluster);
    let event_type = event_type.map(str::to_owned);
    let found = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, object, namespace) =
            (Arc::clone(&cluster), object.clone(), namespace.clone());
        let (reason, message, event_type) = (reason.clone(), message.clone(), event_type.clone());
        async move {
            let events = match (&object, &namespace) {
                (Some(o), _) => cluster.events_for(o).await,
                (None, Some(ns)) => cluster.events_in(ns).await,
                (None, None) => Ok(Vec::new()),
            }
            .map_err(|e| cluster_error("read events", &e))?;
            let hit = events.iter().rev().find(|e| {
                e.reason == reason
                    && message
                        .as_ref()
                        .is_none_or(|m| e.message.contains(m.as_str()))
                    && event_type.as_ref().is_none_or(|t| &e.type_ == t)
            });
            Ok(match hit {
                Some(e) => Ok(e.clone()),
                None => Err(if events.is_empty() {
                    "no events".to_owned()
                } else {
                    events
                        .iter()
                        .rev()
                        .take(3)
                        .map(|e| format!("{} {:?}", e.reason, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
            })
        }
    })
    .await?;
    ctx.observations.push(event_observation(&found));
    Ok(())
}

async fn delete_pods(
    ctx: &mut StepCtx,
    selector: &Tpl,
    replaced: bool,
    timeout: Duration,
) -> Result<(), StepError> {
    let sel = ctx.render(selector)?;
    let pods = ctx.running_pods(&sel).await?;
    if pods.is_empty() {
        return Err(StepError::failed(format!(
            "no running pod matches `{sel}` in namespace `{}`",
            ctx.ns()
        )));
    }
    let old: BTreeSet<String> = pods.iter().map(|p| uid_of(p).to_owned()).collect();
    let mut refs = Vec::new();
    for p in &pods {
        let r = ObjectRef::pod(ctx.ns(), name_of(p));
        ctx.env
            .cluster
            .delete(&r, Propagation::Background)
            .await
            .map_err(|e| cluster_error(&format!("delete {r}"), &e))?;
        ctx.observations.push(Observation::Object {
            action: "deleted".to_owned(),
            object: r.to_string(),
        });
        refs.push(r);
    }
    if !replaced {
        until_gone(ctx, &refs, timeout).await?;
        return Ok(());
    }
    let (cluster, ns, want) = (
        Arc::clone(&ctx.env.cluster),
        ctx.ns().to_owned(),
        pods.len(),
    );
    let what = format!("{want} new Ready pod(s) `{sel}` replacing the deleted ones");
    let fresh = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, ns, sel, old) = (Arc::clone(&cluster), ns.clone(), sel.clone(), old.clone());
        async move {
            let pods = list_pods(cluster.as_ref(), &ns, &sel).await?;
            let ready: Vec<Value> = pods
                .into_iter()
                .filter(|p| {
                    !old.contains(uid_of(p))
                        && c::pod_ready().matches(Some(p))
                        && !c::is_terminating().matches(Some(p))
                })
                .collect();
            Ok(if ready.len() >= want {
                Ok(ready)
            } else {
                Err(format!("{} new Ready", ready.len()))
            })
        }
    })
    .await?;
    for p in &fresh {
        let r = ObjectRef::pod(ctx.ns(), name_of(p));
        ctx.observe_state(&r, Some(p));
    }
    Ok(())
}

async fn capture(
    ctx: &mut StepCtx,
    source: &CaptureSource,
    pointer: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), StepError> {
    let (what, state) = match source {
        CaptureSource::Object(o) => {
            let object = ctx.object(o)?;
            let state = bounded_cluster(
                timeout,
                &format!("read {object}"),
                ctx.env.cluster.get(&object),
            )
            .await?;
            (
                object.to_string(),
                state.ok_or_else(|| StepError::failed(format!("{object} does not exist")))?,
            )
        }
        CaptureSource::Selector(sel) => {
            let sel = ctx.render(sel)?;
            let mut pods = ctx.running_pods(&sel).await?;
            if pods.len() != 1 {
                return Err(StepError::failed(format!(
                    "{} running pods match `{sel}`; a capture needs exactly one",
                    pods.len()
                )));
            }
            (format!("the pod matching `{sel}`"), pods.remove(0))
        }
    };
    let value = match state.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            return Err(StepError::failed(format!(
                "{what} has no value at `{pointer}`"
            )));
        }
        Some(other) => other.to_string(),
    };
    ctx.vars.captured.insert(name.to_owned(), value.clone());
    ctx.observations.push(Observation::Captured {
        name: name.to_owned(),
        value,
    });
    Ok(())
}

/// Reads `nfslab-io mountinfo` output with the producer's own type
/// ([`nfslab_workload::MountSection`]), so a change of its shape fails to decode here
/// instead of reading as an empty mount.
pub(crate) fn parse_mountinfo(pod: &str, path: &str, stdout: &str) -> Result<MountRecord, String> {
    let section: nfslab_workload::MountSection =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("not a mount section: {e}"))?;
    let mount = section.mount;
    Ok(MountRecord {
        pod: pod.to_owned(),
        path: path.to_owned(),
        fstype: mount.fstype,
        source: mount.source,
        mount_options: mount.mount_options,
        super_options: mount.super_options,
        requested: None,
    })
}

async fn mount_options(
    ctx: &mut StepCtx,
    target: &PodTarget,
    container: Option<&Tpl>,
    path: &Tpl,
    requested: Option<&Tpl>,
    expect: &MountExpect,
    timeout: Duration,
) -> Result<(), StepError> {
    let pods = ctx.target_pods(target, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no pod"))?;
    let container = ctx.render_opt(container)?;
    let path = ctx.render(path)?;
    let command = vec![ctx.vars.io.clone(), "mountinfo".to_owned(), path.clone()];
    let out = ctx
        .exec(&pod, container.as_deref(), &command, timeout)
        .await?;
    if !out.success() {
        return Err(StepError::failed(format!(
            "`{}` in {pod} failed (exit {}): {}",
            command.join(" "),
            out.exit_code,
            out.stderr.trim()
        )));
    }
    let pod_name = format!("{}/{}", ctx.ns(), pod.name);
    let mut record = parse_mountinfo(&pod_name, &path, &out.stdout).map_err(|why| {
        StepError::broken(format!("cannot read the mountinfo output of {pod}: {why}"))
    })?;
    record.requested = ctx.render_opt(requested)?.map(|r| {
        r.split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    });
    ctx.observations.push(Observation::Mount(record.clone()));
    ctx.mounts.push(record.clone());
    let effective: BTreeSet<&str> = record
        .mount_options
        .iter()
        .chain(record.super_options.iter())
        .map(String::as_str)
        .collect();
    if let Some(want) = expect.nfs
        && record.fstype.starts_with("nfs") != want
    {
        return Err(StepError::failed(format!(
            "`{path}` in {pod} is a `{}` mount, expected {}NFS",
            record.fstype,
            if want { "" } else { "no " }
        )));
    }
    for t in &expect.contains {
        let option = ctx.render(t)?;
        if !effective.contains(option.as_str()) {
            return Err(StepError::failed(format!(
                "option `{option}` is not in effect on `{path}` in {pod} (effective: {})",
                effective.iter().copied().collect::<Vec<_>>().join(",")
            )));
        }
    }
    for t in &expect.absent {
        let option = ctx.render(t)?;
        if effective.contains(option.as_str()) {
            return Err(StepError::failed(format!(
                "option `{option}` is in effect on `{path}` in {pod}, expected it absent"
            )));
        }
    }
    Ok(())
}

async fn logs(
    ctx: &mut StepCtx,
    target: &PodTarget,
    container: Option<&Tpl>,
    tail: i64,
    contains: Option<&Tpl>,
    timeout: Duration,
) -> Result<(), StepError> {
    let pods = ctx.select_pods(target, false, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no pod"))?;
    let container = ctx.render_opt(container)?;
    let text = bounded_cluster(
        timeout,
        &format!("read the log of {pod}"),
        ctx.env
            .cluster
            .logs(&pod, container.as_deref(), Some(tail), false),
    )
    .await?;
    ctx.observations.push(Observation::Log {
        pod: format!("{}/{}", ctx.ns(), pod.name),
        container: container.clone(),
        lines: text.lines().map(str::to_owned).collect(),
    });
    if let Some(want) = ctx.render_opt(contains)?
        && !text.contains(&want)
    {
        return Err(StepError::failed(format!(
            "the last {tail} log lines of {pod} lack {want:?}"
        )));
    }
    Ok(())
}

async fn deploy_provisioner(
    ctx: &mut StepCtx,
    step: &ProvisionerStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let params = provisioner::Params {
        name: ctx.render(&step.name)?,
        namespace: ctx.vars.namespace.clone(),
        prefix: ctx.vars.prefix.clone(),
        provisioner: ctx.render(&step.provisioner)?,
        server: ctx.vars.nfs_server.clone(),
        path: ctx.render(&step.path)?,
        image: ctx.vars.images.provisioner.clone(),
    };
    let manifests =
        provisioner::manifests(&params).map_err(|e| StepError::broken(e.to_string()))?;
    for m in manifests {
        ctx.apply_value(m, Some(CleanupStage::Infrastructure))
            .await?;
    }
    let deployment = ObjectRef::namespaced("apps/v1", "Deployment", ctx.ns(), &params.name);
    let state = wait::until_within(
        ctx.env.cluster.as_ref(),
        &deployment,
        &c::deployment_available(1),
        timeout,
    )
    .await?;
    ctx.observe_state(&deployment, state.as_ref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_output_is_decoded_with_the_producers_type() {
        // What `nfslab-io mountinfo` prints, made by the producer's own serializer.
        let text = "812 27 0:52 / /usr/share/nginx/html rw,relatime shared:401 - nfs4 \
                    10.96.0.20:/exports/s4/pv1 rw,vers=4.1,rsize=1048576,hard,proto=tcp\n";
        let mounts = nfslab_workload::parse_mountinfo(text).expect("mountinfo");
        let section = nfslab_workload::MountSection {
            path: "/usr/share/nginx/html".to_owned(),
            mount: mounts[0].clone(),
            nfs_options: Some(mounts[0].super_option_map()),
            mountstats_delta: None,
        };
        let stdout = serde_json::to_string(&section).expect("json");
        let record =
            parse_mountinfo("s4/nginx-1", "/usr/share/nginx/html", &stdout).expect("parses");
        assert_eq!(record.fstype, "nfs4");
        assert_eq!(record.source, "10.96.0.20:/exports/s4/pv1");
        assert_eq!(record.mount_options, vec!["rw", "relatime"]);
        assert!(record.super_options.contains(&"vers=4.1".to_owned()));
        // The flat shape an earlier reading assumed is not what the binary prints: refused.
        let flat = r#"{"fstype": "nfs4", "source": "s", "mount_options": [], "super_options": []}"#;
        assert!(parse_mountinfo("p", "/d", flat).is_err());
        assert!(parse_mountinfo("p", "/d", "mounted!").is_err());
    }

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
