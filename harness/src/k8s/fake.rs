//! A scripted in-memory [`Cluster`] for testing the engine's logic.
//!
//! The fake stores what is applied and reports it back; it runs no controllers. A PVC never
//! binds, a Deployment never gets pods, a deleted PVC never waits for its pods: a test states
//! what the cluster reports after which call, so what is tested is the engine (step order,
//! waits, timeouts, diagnosis, cleanup), never a model of Kubernetes.
//!
//! ```
//! # use std::time::Duration;
//! # use nfslab::k8s::{fake::FakeCluster, ObjectRef};
//! # use serde_json::json;
//! let fake = FakeCluster::new();
//! let pvc = ObjectRef::pvc("s1", "pvc1");
//! // Half a second after pvc1 is applied, report it Bound to pv1.
//! fake.on_apply(&pvc)
//!     .after(Duration::from_millis(500))
//!     .merge(&pvc, json!({"spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}));
//! ```
//!
//! Defaults without a rule: `apply` stores the manifest (keeping any `status` already
//! reported), `patch_merge` merges into the stored state, `delete` removes the object,
//! `exec` fails with "no scripted reply" so a test notices an unexpected command, unless
//! [`FakeCluster::run_helpers`] was given a [`super::stand_in::StandIn`]: then an exec of the
//! `nfslab-io` helper runs the real binary on local directories standing in for the pod's
//! volumes, so the reply is what the producer prints. Every call
//! is recorded ([`FakeCluster::calls`]) for assertions such as "cleanup deleted everything".
//!
//! A rule may also say when a pod appears from a workload's template as the engine applied
//! it ([`RuleBuilder::pod_from`]) and when one of its containers runs: the real binary with
//! the container's own arguments, in the background ([`RuleBuilder::run`]); what happens
//! once it exits is scripted with [`FakeCluster::on_exit`]. Under paused tokio time the
//! clock stands still while such a container runs (it runs on tokio's blocking pool), so a
//! wait for what it produces cannot time out early.
//!
//! What a component changes outside the API at a scripted moment (a recycler emptying a
//! volume's directory on the stand-in server) is [`RuleBuilder::outside`];
//! [`FakeCluster::on_patch_with`] tells one patch of an object from another (a scale down
//! from a scale up).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

use super::{
    Cluster, ClusterError, ClusterResult, EventRecord, ExecOutput, ObjectRef, Propagation,
    StateStream,
};

/// A call made to the fake, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `apply` of an object.
    Apply(ObjectRef),
    /// `patch_merge` of an object with this patch.
    Patch(ObjectRef, Value),
    /// `delete` of an object.
    Delete(ObjectRef),
    /// `get` of an object.
    Get(ObjectRef),
    /// `list` of a kind (`apiVersion`, `kind`, namespace, selector).
    List(String, String, Option<String>, Option<String>),
    /// `watch` of an object.
    Watch(ObjectRef),
    /// `exec` of a command in a pod's container.
    Exec(ObjectRef, Option<String>, Vec<String>),
    /// `logs` of a pod's container.
    Logs(ObjectRef, Option<String>),
    /// `events_for` an object.
    EventsFor(ObjectRef),
    /// `events_in` a namespace.
    EventsIn(String),
    /// `dry_run_apply` of an object.
    DryRun(ObjectRef),
    /// `review_access`: verb, group, resource (`pods/exec` with a subresource), namespace.
    Review(String, String, String, Option<String>),
}

#[derive(Clone, Debug)]
enum Trigger {
    Apply(ObjectRef),
    Patch(ObjectRef),
    /// A merge patch of the object equal to this one.
    PatchWith(ObjectRef, Value),
    Delete(ObjectRef),
    Exec(ObjectRef, Vec<String>),
    /// A server-side dry run of an object.
    DryRun(ObjectRef),
    /// A container started by [`Effect::Run`] ended (successfully or not).
    Exit(ObjectRef, String, bool),
}

impl Trigger {
    fn fires_on(&self, call: &Call) -> bool {
        match (self, call) {
            (Self::Apply(a), Call::Apply(b))
            | (Self::Patch(a), Call::Patch(b, _))
            | (Self::Delete(a), Call::Delete(b))
            | (Self::DryRun(a), Call::DryRun(b)) => a == b,
            (Self::PatchWith(a, want), Call::Patch(b, got)) => a == b && want == got,
            (Self::Exec(pod, prefix), Call::Exec(p, _, cmd)) => {
                pod == p && cmd.len() >= prefix.len() && cmd[..prefix.len()] == prefix[..]
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
enum Effect {
    Set(ObjectRef, Value),
    Merge(ObjectRef, Value),
    Remove(ObjectRef),
    Event(EventRecord),
    /// A pod from an owner's `spec.template`, with a patch merged in.
    PodFrom {
        owner: ObjectRef,
        pod: ObjectRef,
        patch: Value,
    },
    /// A container of a pod runs in the background.
    Run(ObjectRef, String),
    /// Something the test does outside the API at that moment.
    Outside(Outside),
}

/// A scripted change outside the API (what a component does to files, say).
#[derive(Clone)]
struct Outside(Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outside(..)")
    }
}

#[derive(Clone, Debug)]
struct Rule {
    trigger: Trigger,
    delay: Duration,
    effects: Vec<Effect>,
    /// Replaces the call's default behaviour (store on apply, remove on delete).
    replace_default: bool,
    /// The call fails with this error instead of succeeding.
    fail: Option<ClusterError>,
    /// The reply of an exec.
    reply: Option<ExecOutput>,
    /// How many more times the rule fires (`None`: always).
    remaining: Option<usize>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<ObjectRef, Value>,
    channels: BTreeMap<ObjectRef, watch::Sender<Option<Value>>>,
    rules: Vec<Rule>,
    calls: Vec<Call>,
    events: Vec<EventRecord>,
    logs: BTreeMap<(ObjectRef, Option<String>), String>,
    /// Each delete asked for, with the objects that existed at that moment.
    deletes: Vec<(ObjectRef, Vec<ObjectRef>)>,
    /// The last manifest applied for each object, as the caller sent it.
    applied: BTreeMap<ObjectRef, Value>,
    next_uid: u64,
    stand_in: Option<super::stand_in::StandIn>,
    denied: Vec<(String, String, String)>,
}

impl State {
    fn publish(&mut self, object: &ObjectRef) {
        let value = self.objects.get(object).cloned();
        match self.channels.get(object) {
            Some(tx) => {
                tx.send_replace(value);
            }
            None => {
                let (tx, _rx) = watch::channel(value);
                self.channels.insert(object.clone(), tx);
            }
        }
    }

    fn set(&mut self, object: &ObjectRef, mut value: Value) {
        self.ensure_identity(object, &mut value);
        self.objects.insert(object.clone(), value);
        self.publish(object);
    }

    fn merge(&mut self, object: &ObjectRef, patch: &Value) -> bool {
        let Some(mut current) = self.objects.get(object).cloned() else {
            return false;
        };
        merge_patch(&mut current, patch);
        self.objects.insert(object.clone(), current);
        self.publish(object);
        true
    }

    fn remove(&mut self, object: &ObjectRef) {
        self.objects.remove(object);
        self.publish(object);
    }

    /// Gives a stored object the identity fields a real API server would: namespace from the
    /// reference and a stable uid.
    fn ensure_identity(&mut self, object: &ObjectRef, value: &mut Value) {
        let previous_uid = self
            .objects
            .get(object)
            .and_then(|v| v.pointer("/metadata/uid"))
            .cloned();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            if let Some(ns) = &object.namespace {
                meta.entry("namespace")
                    .or_insert_with(|| Value::from(ns.as_str()));
            }
            if !meta.contains_key("uid") {
                let uid = match previous_uid {
                    Some(uid) => uid,
                    None => {
                        self.next_uid += 1;
                        Value::from(format!("00000000-0000-0000-0000-{:012}", self.next_uid))
                    }
                };
                meta.insert("uid".to_owned(), uid);
            }
        }
    }

    /// Applies `effect`; a container to run is returned for the caller to start (outside
    /// the lock).
    fn apply_effect(&mut self, effect: &Effect) -> Option<(ObjectRef, String)> {
        match effect {
            Effect::Set(o, v) => self.set(o, v.clone()),
            Effect::Merge(o, p) => {
                self.merge(o, p);
            }
            Effect::Remove(o) => self.remove(o),
            Effect::Event(e) => self.events.push(e.clone()),
            Effect::PodFrom { owner, pod, patch } => {
                let template = self
                    .objects
                    .get(owner)
                    .and_then(|o| o.pointer("/spec/template"))
                    .cloned();
                if let Some(template) = template {
                    let mut value = serde_json::json!({
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {"name": pod.name},
                        "spec": template.get("spec").cloned().unwrap_or(Value::Null),
                    });
                    for key in ["labels", "annotations"] {
                        if let Some(v) = template.pointer(&format!("/metadata/{key}")) {
                            value["metadata"][key] = v.clone();
                        }
                    }
                    merge_patch(&mut value, patch);
                    self.set(pod, value);
                }
            }
            Effect::Run(pod, container) => return Some((pod.clone(), container.clone())),
            Effect::Outside(Outside(change)) => change(),
        }
        None
    }

    /// Rules that fire on `call`, consuming one use of each limited rule.
    fn fire(&mut self, call: &Call) -> Vec<Rule> {
        self.fire_when(|t| t.fires_on(call))
    }

    /// Rules whose trigger matches, consuming one use of each limited rule.
    fn fire_when(&mut self, matches: impl Fn(&Trigger) -> bool) -> Vec<Rule> {
        let mut fired = Vec::new();
        for rule in &mut self.rules {
            if rule.remaining == Some(0) || !matches(&rule.trigger) {
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            fired.push(rule.clone());
        }
        fired
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The scripted in-memory cluster. Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

/// Builds one rule: what happens after a call. The rule is installed when the builder is
/// dropped, so a chain of calls ending in `;` is all it takes.
pub struct RuleBuilder {
    cluster: FakeCluster,
    rule: Option<Rule>,
}

impl RuleBuilder {
    fn edit(mut self, change: impl FnOnce(&mut Rule)) -> Self {
        // `rule` is only taken in `drop`, so it is always present here.
        if let Some(rule) = self.rule.as_mut() {
            change(rule);
        }
        self
    }

    /// Effects happen `delay` after the call (virtual time under `tokio::time::pause`).
    pub fn after(self, delay: Duration) -> Self {
        self.edit(|r| r.delay = delay)
    }

    /// The rule fires only the first `n` times its call happens.
    pub fn times(self, n: usize) -> Self {
        self.edit(|r| r.remaining = Some(n))
    }

    /// The object's state becomes `value`.
    pub fn set(self, object: &ObjectRef, value: Value) -> Self {
        self.edit(|r| r.effects.push(Effect::Set(object.clone(), value)))
    }

    /// `patch` is merge-patched into the object's state (ignored if the object is absent).
    pub fn merge(self, object: &ObjectRef, patch: Value) -> Self {
        self.edit(|r| r.effects.push(Effect::Merge(object.clone(), patch)))
    }

    /// The object disappears.
    pub fn remove(self, object: &ObjectRef) -> Self {
        self.edit(|r| r.effects.push(Effect::Remove(object.clone())))
    }

    /// An event is recorded.
    pub fn event(self, event: EventRecord) -> Self {
        self.edit(|r| r.effects.push(Effect::Event(event)))
    }

    /// A pod named `pod` appears, made from `owner`'s `spec.template` as the engine applied
    /// it (labels, annotations and spec), with `patch` merged in (its node, its status):
    /// what a Job's or Deployment's controller makes, when the test says. Nothing appears
    /// if `owner` is absent then.
    pub fn pod_from(self, owner: &ObjectRef, pod: &ObjectRef, patch: Value) -> Self {
        self.edit(|r| {
            r.effects.push(Effect::PodFrom {
                owner: owner.clone(),
                pod: pod.clone(),
                patch,
            });
        })
    }

    /// `container` of `pod` starts running in the background: the real `nfslab-io` with the
    /// container's own arguments on the stand-ins of its volumes (see
    /// [`FakeCluster::run_helpers`]). When it ends its output becomes the container's log
    /// and the rules made by [`FakeCluster::on_exit`] fire.
    pub fn run(self, pod: &ObjectRef, container: &str) -> Self {
        self.edit(|r| {
            r.effects
                .push(Effect::Run(pod.clone(), container.to_owned()));
        })
    }

    /// `change` runs: what a component does outside the API at that moment, such as the
    /// recycler emptying a volume's directory on the stand-in server. It runs with the
    /// fake's state locked, so it must not call the fake.
    pub fn outside(self, change: impl Fn() + Send + Sync + 'static) -> Self {
        self.edit(|r| r.effects.push(Effect::Outside(Outside(Arc::new(change)))))
    }

    /// The call's default behaviour does not happen (a delete that does not remove the
    /// object, as finalizers do; an apply that stores nothing).
    pub fn instead(self) -> Self {
        self.edit(|r| r.replace_default = true)
    }

    /// The call itself fails with `error` (effects still happen).
    pub fn fail(self, error: ClusterError) -> Self {
        self.edit(|r| r.fail = Some(error))
    }

    /// The exec call returns `output` (for rules made by [`FakeCluster::on_exec`]).
    pub fn reply(self, output: ExecOutput) -> Self {
        self.edit(|r| r.reply = Some(output))
    }
}

impl Drop for RuleBuilder {
    fn drop(&mut self) {
        if let Some(rule) = self.rule.take() {
            self.cluster.lock().rules.push(rule);
        }
    }
}

impl FakeCluster {
    /// An empty cluster with no rules.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock only happens in a failing test; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn builder(&self, trigger: Trigger) -> RuleBuilder {
        RuleBuilder {
            cluster: self.clone(),
            rule: Some(Rule {
                trigger,
                delay: Duration::ZERO,
                effects: Vec::new(),
                replace_default: false,
                fail: None,
                reply: None,
                remaining: None,
            }),
        }
    }

    /// The last manifest applied for `object`, as the caller sent it (also after the object
    /// was deleted).
    #[must_use]
    pub fn applied(&self, object: &ObjectRef) -> Option<Value> {
        self.lock().applied.get(object).cloned()
    }

    /// A rule for what happens after `object` is applied.
    pub fn on_apply(&self, object: &ObjectRef) -> RuleBuilder {
        self.builder(Trigger::Apply(object.clone()))
    }

    /// A rule for what happens after `object` is merge-patched.
    pub fn on_patch(&self, object: &ObjectRef) -> RuleBuilder {
        self.builder(Trigger::Patch(object.clone()))
    }

    /// A rule for what happens after `object` is merge-patched with exactly `patch` (a
    /// scale to one size and not another, say).
    pub fn on_patch_with(&self, object: &ObjectRef, patch: Value) -> RuleBuilder {
        self.builder(Trigger::PatchWith(object.clone(), patch))
    }

    /// A rule for a server-side dry run of `object` (by default it is accepted and
    /// nothing is stored); `.fail(...)` scripts a refusal.
    pub fn on_dry_run(&self, object: &ObjectRef) -> RuleBuilder {
        self.builder(Trigger::DryRun(object.clone()))
    }

    /// From now on, access reviews of `verb` on `resource` (`pods/exec` names a
    /// subresource) of API group `group` (`""` for the core group) are answered
    /// `allowed: false`; everything else is allowed.
    pub fn deny(&self, verb: &str, group: &str, resource: &str) {
        self.lock()
            .denied
            .push((verb.to_owned(), group.to_owned(), resource.to_owned()));
    }

    /// A rule for what happens after `object` is deleted.
    pub fn on_delete(&self, object: &ObjectRef) -> RuleBuilder {
        self.builder(Trigger::Delete(object.clone()))
    }

    /// A rule for an exec in `pod` whose command starts with `command_prefix`.
    pub fn on_exec(&self, pod: &ObjectRef, command_prefix: &[&str]) -> RuleBuilder {
        let prefix = command_prefix.iter().map(|s| (*s).to_owned()).collect();
        self.builder(Trigger::Exec(pod.clone(), prefix))
    }

    /// A rule for when `container` of `pod`, started by [`RuleBuilder::run`], exits: with
    /// code 0 when `succeeded`, otherwise with any other code (or could not run).
    pub fn on_exit(&self, pod: &ObjectRef, container: &str, succeeded: bool) -> RuleBuilder {
        self.builder(Trigger::Exit(pod.clone(), container.to_owned(), succeeded))
    }

    /// Sets an object's state now, as if a controller had written it.
    pub fn set(&self, object: &ObjectRef, value: Value) {
        self.lock().set(object, value);
    }

    /// Merge-patches an object's state now (no effect when it is absent).
    pub fn merge(&self, object: &ObjectRef, patch: Value) {
        self.lock().merge(object, &patch);
    }

    /// Removes an object now.
    pub fn remove(&self, object: &ObjectRef) {
        self.lock().remove(object);
    }

    /// Records an event now.
    pub fn add_event(&self, event: EventRecord) {
        self.lock().events.push(event);
    }

    /// Execs of the `nfslab-io` helper without a scripted reply run the real binary on local
    /// stand-in directories (`super::stand_in`): the fake then answers with what the
    /// producer prints.
    pub fn run_helpers(&self, stand_in: super::stand_in::StandIn) {
        self.lock().stand_in = Some(stand_in);
    }

    /// Runs `container` of `pod` with the stand-in given to [`FakeCluster::run_helpers`]
    /// (its own arguments, on its volumes' stand-ins) and records its standard output as the
    /// container's log, as a kubelet would keep it.
    ///
    /// # Errors
    /// When no stand-in was given, or the container cannot be run.
    pub fn run_container(&self, pod: &ObjectRef, container: &str) -> Result<ExecOutput, String> {
        let (stand_in, objects) = {
            let state = self.lock();
            let stand_in = state
                .stand_in
                .clone()
                .ok_or("the fake cluster runs no helpers (see run_helpers)")?;
            (stand_in, state.objects.clone())
        };
        let output = stand_in.run_container(&objects, pod, container)?;
        self.set_logs(
            pod,
            Some(container),
            &format!("{}{}", output.stdout, output.stderr),
        );
        Ok(output)
    }

    /// Sets the log text of a pod's container.
    pub fn set_logs(&self, pod: &ObjectRef, container: Option<&str>, text: &str) {
        self.lock()
            .logs
            .insert((pod.clone(), container.map(str::to_owned)), text.to_owned());
    }

    /// Every call made so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The objects `delete` was called on, in order.
    #[must_use]
    pub fn deleted(&self) -> Vec<ObjectRef> {
        self.lock()
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Delete(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// The objects that existed when the first delete of `object` was asked for (`None`:
    /// it never was): to check what was removed before what.
    #[must_use]
    pub fn existing_at_delete(&self, object: &ObjectRef) -> Option<Vec<ObjectRef>> {
        self.lock()
            .deletes
            .iter()
            .find(|(o, _)| o == object)
            .map(|(_, present)| present.clone())
    }

    /// The objects that exist now.
    #[must_use]
    pub fn objects(&self) -> Vec<ObjectRef> {
        self.lock().objects.keys().cloned().collect()
    }

    /// The stored state of one object.
    #[must_use]
    pub fn state(&self, object: &ObjectRef) -> Option<Value> {
        self.lock().objects.get(object).cloned()
    }

    /// Records `call`, fires its rules (immediate effects now, delayed ones on a task) and
    /// returns the rules that fired.
    fn record(&self, call: Call) -> Vec<Rule> {
        let fired = {
            let mut state = self.lock();
            state.calls.push(call.clone());
            state.fire(&call)
        };
        self.carry_out(&fired);
        fired
    }

    /// Applies the effects of `fired` rules: immediate ones now, delayed ones on a task;
    /// containers they run start in the background.
    fn carry_out(&self, fired: &[Rule]) {
        for rule in fired {
            if rule.delay.is_zero() {
                self.apply_now(&rule.effects);
            } else {
                let cluster = self.clone();
                let (delay, effects) = (rule.delay, rule.effects.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    cluster.apply_now(&effects);
                });
            }
        }
    }

    fn apply_now(&self, effects: &[Effect]) {
        let runs: Vec<(ObjectRef, String)> = {
            let mut state = self.lock();
            effects
                .iter()
                .filter_map(|e| state.apply_effect(e))
                .collect()
        };
        for (pod, container) in runs {
            self.start(pod, container);
        }
    }

    /// Runs `container` of `pod` on the blocking pool (the paused clock waits for it), then
    /// records its log and fires the rules of its exit.
    fn start(&self, pod: ObjectRef, container: String) {
        let (stand_in, objects) = {
            let state = self.lock();
            (state.stand_in.clone(), state.objects.clone())
        };
        let cluster = self.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let outcome = match stand_in {
                Some(s) => s.run_container(&objects, &pod, &container),
                None => Err("the fake cluster runs no helpers (see run_helpers)".to_owned()),
            };
            let succeeded = match &outcome {
                Ok(out) => {
                    cluster.set_logs(
                        &pod,
                        Some(&container),
                        &format!("{}{}", out.stdout, out.stderr),
                    );
                    out.exit_code == 0
                }
                Err(why) => {
                    cluster.set_logs(&pod, Some(&container), why);
                    false
                }
            };
            let fired = cluster.lock().fire_when(|t| {
                matches!(t, Trigger::Exit(p, c, ok)
                    if *p == pod && *c == container && *ok == succeeded)
            });
            let _entered = runtime.enter();
            cluster.carry_out(&fired);
        });
    }
}

/// Applies the fired rules' verdict: the first scripted failure, and whether the default
/// behaviour is replaced.
fn verdict(fired: &[Rule]) -> (Option<ClusterError>, bool) {
    let failure = fired.iter().find_map(|r| r.fail.clone());
    let replaced = fired.iter().any(|r| r.replace_default);
    (failure, replaced)
}

fn invalid(detail: &str) -> ClusterError {
    ClusterError::Invalid {
        object: "manifest".to_owned(),
        detail: detail.to_owned(),
    }
}

fn selector_matches(object: &Value, selector: Option<&str>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    let labels = object.pointer("/metadata/labels");
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (key, value) = term.split_once('=').unwrap_or((term, ""));
        let actual = labels
            .and_then(|l| l.get(key.trim()))
            .and_then(Value::as_str);
        if term.contains('=') {
            actual == Some(value.trim())
        } else {
            actual.is_some()
        }
    })
}

#[async_trait]
impl Cluster for FakeCluster {
    async fn dry_run_apply(&self, manifest: &Value) -> ClusterResult<Value> {
        let object = ObjectRef::from_manifest(manifest)
            .ok_or_else(|| invalid("needs apiVersion, kind and metadata.name"))?;
        let fired = self.record(Call::DryRun(object));
        match verdict(&fired) {
            (Some(error), _) => Err(error),
            _ => Ok(manifest.clone()),
        }
    }

    async fn review_access(
        &self,
        attributes: &k8s_openapi::api::authorization::v1::ResourceAttributes,
    ) -> ClusterResult<k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let resource = match attributes.subresource.as_deref() {
            Some(sub) if !sub.is_empty() => format!("{}/{sub}", text(&attributes.resource)),
            _ => text(&attributes.resource),
        };
        let (verb, group) = (text(&attributes.verb), text(&attributes.group));
        self.record(Call::Review(
            verb.clone(),
            group.clone(),
            resource.clone(),
            attributes.namespace.clone(),
        ));
        let denied = self
            .lock()
            .denied
            .iter()
            .any(|(v, g, r)| *v == verb && *g == group && *r == resource);
        Ok(
            k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus {
                allowed: !denied,
                ..Default::default()
            },
        )
    }

    async fn apply(&self, manifest: &Value) -> ClusterResult<Value> {
        let object = ObjectRef::from_manifest(manifest)
            .ok_or_else(|| invalid("needs apiVersion, kind and metadata.name"))?;
        let fired = self.record(Call::Apply(object.clone()));
        let (failure, replaced) = verdict(&fired);
        if let Some(error) = failure {
            return Err(error);
        }
        let mut state = self.lock();
        state.applied.insert(object.clone(), manifest.clone());
        if !replaced {
            let mut stored = manifest.clone();
            if let Some(status) = state
                .objects
                .get(&object)
                .and_then(|v| v.get("status"))
                .cloned()
            {
                stored["status"] = status;
            }
            state.set(&object, stored);
        }
        Ok(state
            .objects
            .get(&object)
            .cloned()
            .unwrap_or_else(|| manifest.clone()))
    }

    async fn patch_merge(&self, object: &ObjectRef, patch: &Value) -> ClusterResult<Value> {
        let fired = self.record(Call::Patch(object.clone(), patch.clone()));
        let (failure, replaced) = verdict(&fired);
        if let Some(error) = failure {
            return Err(error);
        }
        let mut state = self.lock();
        if !state.objects.contains_key(object) {
            return Err(ClusterError::NotFound {
                object: object.to_string(),
            });
        }
        if !replaced {
            state.merge(object, patch);
        }
        state
            .objects
            .get(object)
            .cloned()
            .ok_or_else(|| ClusterError::NotFound {
                object: object.to_string(),
            })
    }

    async fn delete(&self, object: &ObjectRef, _propagation: Propagation) -> ClusterResult<bool> {
        let existed = {
            let mut state = self.lock();
            let present = state.objects.keys().cloned().collect();
            state.deletes.push((object.clone(), present));
            state.objects.contains_key(object)
        };
        let fired = self.record(Call::Delete(object.clone()));
        let (failure, replaced) = verdict(&fired);
        if let Some(error) = failure {
            return Err(error);
        }
        if existed && !replaced {
            self.lock().remove(object);
        }
        Ok(existed)
    }

    async fn get(&self, object: &ObjectRef) -> ClusterResult<Option<Value>> {
        self.record(Call::Get(object.clone()));
        Ok(self.lock().objects.get(object).cloned())
    }

    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> ClusterResult<Vec<Value>> {
        self.record(Call::List(
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            label_selector.map(str::to_owned),
        ));
        let state = self.lock();
        Ok(state
            .objects
            .iter()
            .filter(|(r, v)| {
                r.api_version == api_version
                    && r.kind == kind
                    && (namespace.is_none() || r.namespace.as_deref() == namespace)
                    && selector_matches(v, label_selector)
            })
            .map(|(_, v)| v.clone())
            .collect())
    }

    fn watch(&self, object: &ObjectRef) -> StateStream {
        self.record(Call::Watch(object.clone()));
        let mut state = self.lock();
        if !state.channels.contains_key(object) {
            state.publish(object);
        }
        match state.channels.get(object) {
            Some(tx) => WatchStream::new(tx.subscribe()).map(Ok).boxed(),
            None => futures::stream::once(async { Ok(None) }).boxed(),
        }
    }

    async fn exec(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        _stdin: Option<Vec<u8>>,
    ) -> ClusterResult<ExecOutput> {
        let fired = self.record(Call::Exec(
            pod.clone(),
            container.map(str::to_owned),
            command.to_vec(),
        ));
        let (failure, _) = verdict(&fired);
        if let Some(error) = failure {
            return Err(error);
        }
        if let Some(reply) = fired.iter().find_map(|r| r.reply.clone()) {
            return Ok(reply);
        }
        let helper = {
            let state = self.lock();
            state
                .stand_in
                .clone()
                .filter(|_| super::stand_in::StandIn::handles(command))
                .map(|s| (s, state.objects.clone()))
        };
        if let Some((stand_in, objects)) = helper {
            return stand_in
                .exec(&objects, pod, container, command)
                .map_err(|detail| ClusterError::Exec {
                    pod: format!("{}/{}", pod.namespace.as_deref().unwrap_or(""), pod.name),
                    command: command.join(" "),
                    detail,
                });
        }
        Err(ClusterError::Exec {
            pod: format!("{}/{}", pod.namespace.as_deref().unwrap_or(""), pod.name),
            command: command.join(" "),
            detail: "the fake cluster has no scripted reply for this command".to_owned(),
        })
    }

    async fn logs(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        tail_lines: Option<i64>,
        _previous: bool,
    ) -> ClusterResult<String> {
        self.record(Call::Logs(pod.clone(), container.map(str::to_owned)));
        let state = self.lock();
        // Without a container name the log is the first container's, as kubectl picks.
        let first = || {
            state
                .objects
                .get(pod)
                .and_then(|p| p.pointer("/spec/containers/0/name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let text = state
            .logs
            .get(&(pod.clone(), container.map(str::to_owned)))
            .or_else(|| {
                container
                    .is_none()
                    .then(first)
                    .flatten()
                    .and_then(|c| state.logs.get(&(pod.clone(), Some(c))))
            })
            .cloned()
            .unwrap_or_default();
        Ok(match tail_lines.and_then(|n| usize::try_from(n).ok()) {
            Some(n) => {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(n)..].join("\n")
            }
            None => text,
        })
    }

    async fn events_for(&self, object: &ObjectRef) -> ClusterResult<Vec<EventRecord>> {
        self.record(Call::EventsFor(object.clone()));
        let state = self.lock();
        Ok(state
            .events
            .iter()
            .filter(|e| {
                e.involved.kind == object.kind
                    && e.involved.name == object.name
                    && e.involved.namespace == object.namespace
            })
            .cloned()
            .collect())
    }

    async fn events_in(&self, namespace: &str) -> ClusterResult<Vec<EventRecord>> {
        self.record(Call::EventsIn(namespace.to_owned()));
        let state = self.lock();
        Ok(state
            .events
            .iter()
            .filter(|e| e.involved.namespace.as_deref().unwrap_or("default") == namespace)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "t1", "labels": labels},
               "spec": {"containers": [{"name": "c", "image": "nfslab-io"}]}})
    }

    #[tokio::test]
    async fn apply_stores_and_keeps_reported_status() {
        let fake = FakeCluster::new();
        let r = ObjectRef::pod("t1", "web-0");
        let stored = fake.apply(&pod("web-0", json!({}))).await.expect("apply");
        assert!(stored.pointer("/metadata/uid").is_some());
        fake.merge(&r, json!({"status": {"phase": "Running"}}));
        let again = fake
            .apply(&pod("web-0", json!({"x": "y"})))
            .await
            .expect("apply");
        assert_eq!(again.pointer("/status/phase"), Some(&json!("Running")));
        assert_eq!(again.pointer("/metadata/labels/x"), Some(&json!("y")));
        assert_eq!(
            again.pointer("/metadata/uid"),
            stored.pointer("/metadata/uid"),
            "re-applying keeps the uid"
        );
    }

    #[tokio::test]
    async fn list_filters_by_kind_namespace_and_selector() {
        let fake = FakeCluster::new();
        fake.apply(&pod("a", json!({"app": "nginx"})))
            .await
            .expect("apply");
        fake.apply(&pod("b", json!({"app": "other"})))
            .await
            .expect("apply");
        let nginx = fake
            .list("v1", "Pod", Some("t1"), Some("app=nginx"))
            .await
            .expect("list");
        assert_eq!(nginx.len(), 1);
        assert_eq!(
            fake.list("v1", "Pod", None, Some("app"))
                .await
                .expect("list")
                .len(),
            2
        );
        assert!(
            fake.list("v1", "Pod", Some("x"), None)
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            fake.list("v1", "Service", None, None)
                .await
                .expect("list")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn exec_replies_by_command_prefix_and_fails_without_script() {
        let fake = FakeCluster::new();
        let r = ObjectRef::pod("t1", "web-0");
        fake.on_exec(&r, &["nfslab-io", "file", "cat"])
            .reply(ExecOutput::ok("hello web-0\n"));
        let out = fake
            .exec(
                &r,
                None,
                &["nfslab-io".into(), "file".into(), "cat".into(), "/x".into()],
                None,
            )
            .await
            .expect("scripted");
        assert_eq!(out.stdout, "hello web-0\n");
        let err = fake
            .exec(&r, None, &["sh".into()], None)
            .await
            .expect_err("not scripted");
        assert!(err.to_string().contains("no scripted reply"));
    }

    #[tokio::test]
    async fn scripted_failures_and_limited_rules() {
        let fake = FakeCluster::new();
        let r = ObjectRef::pod("t1", "a");
        fake.on_apply(&r).times(1).fail(ClusterError::Api {
            verb: "apply".into(),
            object: r.to_string(),
            code: 422,
            reason: "Invalid".into(),
            message: "spec.containers: Required value".into(),
        });
        assert!(fake.apply(&pod("a", json!({}))).await.is_err());
        assert!(fake.apply(&pod("a", json!({}))).await.is_ok());
        assert_eq!(fake.objects(), vec![r.clone()]);
        assert!(
            fake.delete(&r, Propagation::Background)
                .await
                .expect("delete")
        );
        assert!(
            !fake
                .delete(&r, Propagation::Background)
                .await
                .expect("delete")
        );
        assert!(fake.objects().is_empty());
        assert!(matches!(
            fake.patch_merge(&r, &json!({})).await,
            Err(e) if e.is_not_found()
        ));
        assert_eq!(fake.calls().first(), Some(&Call::Apply(r)));
    }

    #[tokio::test]
    async fn events_and_logs() {
        let fake = FakeCluster::new();
        let pv = ObjectRef::pv("nfslab-r3-pv1");
        fake.add_event(EventRecord {
            involved: pv.clone(),
            type_: "Warning".into(),
            reason: "RecyclerPod".into(),
            message: "Recycler pod: Back-off restarting failed container".into(),
            count: 1,
            source: "persistentvolume-controller".into(),
            last_seen: None,
        });
        assert_eq!(fake.events_for(&pv).await.expect("events").len(), 1);
        assert_eq!(fake.events_in("default").await.expect("events").len(), 1);
        assert!(fake.events_in("t1").await.expect("events").is_empty());
        let p = ObjectRef::pod("t1", "a");
        fake.set_logs(&p, None, "one\ntwo\nthree");
        assert_eq!(
            fake.logs(&p, None, Some(2), false).await.expect("logs"),
            "two\nthree"
        );
    }

    fn job(name: &str, args: &[&str]) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": name, "namespace": "t1"},
               "spec": {"template": {
                   "metadata": {"labels": {"app": name}},
                   "spec": {"restartPolicy": "Never",
                            "containers": [{"name": "main", "image": "nfslab-io", "args": args}]}}}})
    }

    #[tokio::test(start_paused = true)]
    async fn pods_come_from_templates_and_their_containers_run_for_real() {
        let dir = tempfile::tempdir().expect("tmp");
        let binary = super::super::stand_in::test_binary().expect("nfslab-io");
        let stand_in = super::super::stand_in::StandIn::new(&binary, dir.path());
        let fake = FakeCluster::new();
        fake.run_helpers(stand_in.clone());
        let (good, bad) = (
            ObjectRef::namespaced("batch/v1", "Job", "t1", "good"),
            ObjectRef::namespaced("batch/v1", "Job", "t1", "bad"),
        );
        let (good_pod, bad_pod) = (
            ObjectRef::pod("t1", "good-x1"),
            ObjectRef::pod("t1", "bad-x1"),
        );
        for (job, pod) in [(&good, &good_pod), (&bad, &bad_pod)] {
            fake.on_apply(job)
                .after(Duration::from_secs(1))
                .pod_from(job, pod, json!({"status": {"phase": "Running"}}))
                .run(pod, "main");
            fake.on_exit(pod, "main", true)
                .merge(job, json!({"status": {"succeeded": 1}}));
            fake.on_exit(pod, "main", false)
                .merge(job, json!({"status": {"failed": 1}}));
        }
        std::fs::write(stand_in.pod_file(&good_pod, "/etc/motd"), "hello\n").expect("motd");
        fake.apply(&job("good", &["file", "cat", "/etc/motd"]))
            .await
            .expect("apply");
        fake.apply(&job("bad", &["file", "cat", "/etc/none"]))
            .await
            .expect("apply");
        let done = |r: &ObjectRef| {
            fake.state(r)
                .and_then(|v| v.get("status").cloned())
                .filter(|s| s.get("succeeded").is_some() || s.get("failed").is_some())
        };
        let start = tokio::time::Instant::now();
        while done(&good).is_none() || done(&bad).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the runs never ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(done(&good), Some(json!({"succeeded": 1})));
        assert_eq!(done(&bad), Some(json!({"failed": 1})));
        let pod = fake.state(&good_pod).expect("the pod");
        assert_eq!(pod.pointer("/metadata/labels/app"), Some(&json!("good")));
        assert_eq!(pod.pointer("/status/phase"), Some(&json!("Running")));
        assert_eq!(
            pod.pointer("/spec/containers/0/args/1"),
            Some(&json!("cat")),
            "the spec is the template's"
        );
        assert_eq!(
            fake.logs(&good_pod, None, None, false).await.expect("logs"),
            "hello\n",
            "the first container's log, as printed by the binary"
        );
        let why = fake
            .logs(&bad_pod, Some("main"), None, false)
            .await
            .expect("logs");
        assert!(why.contains("/etc/none"), "{why}");
    }

    #[tokio::test]
    async fn patch_rules_can_match_the_patch_and_change_things_outside_the_api() {
        let fake = FakeCluster::new();
        let set = ObjectRef::namespaced("apps/v1", "StatefulSet", "t1", "web");
        let outside = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&outside);
        fake.on_patch_with(&set, json!({"spec": {"replicas": 1}}))
            .merge(&set, json!({"status": {"replicas": 1}}))
            .outside(move || seen.lock().unwrap_or_else(|e| e.into_inner()).push("down"));
        fake.on_patch_with(&set, json!({"spec": {"replicas": 2}}))
            .merge(&set, json!({"status": {"replicas": 2}}));
        fake.set(
            &set,
            json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}}),
        );
        let replicas = |fake: &FakeCluster| {
            fake.state(&set)
                .and_then(|v| v.pointer("/status/replicas").cloned())
        };
        fake.patch_merge(&set, &json!({"spec": {"replicas": 1}}))
            .await
            .expect("patch");
        assert_eq!(replicas(&fake), Some(json!(1)));
        fake.patch_merge(&set, &json!({"spec": {"replicas": 2}}))
            .await
            .expect("patch");
        assert_eq!(replicas(&fake), Some(json!(2)));
        fake.patch_merge(&set, &json!({"spec": {"paused": true}}))
            .await
            .expect("patch");
        assert_eq!(replicas(&fake), Some(json!(2)), "no rule for this patch");
        assert_eq!(
            *outside.lock().unwrap_or_else(|e| e.into_inner()),
            vec!["down"]
        );
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }
}
