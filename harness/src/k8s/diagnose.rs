//! Why something did not happen: events, pod statuses and log tails, gathered as data.
//!
//! When a wait times out, "timed out" alone teaches nothing. `diagnose` collects what a
//! user would otherwise look up with `kubectl describe` and `kubectl logs`: the state of the
//! objects involved, the events about them and in their namespace (FailedScheduling,
//! FailedMount, ProvisioningFailed, RecyclerPod...), every pod's phase, conditions and
//! container states, and the last log lines of containers that ran. The result is plain
//! serializable data for reports; [`Diagnosis::render`] turns it into readable lines.
//!
//! Gathering never fails: what could not be read is listed in [`Diagnosis::problems`].

use std::collections::BTreeSet;
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wait::summarize;
use super::{Cluster, EventRecord, ObjectRef};

/// One object's state when the diagnosis was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    /// The object, as displayed.
    pub object: String,
    /// One-line summary (`phase Pending`, `absent`).
    pub state: String,
}

/// One container's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// Container name.
    pub name: String,
    /// Whether it is ready.
    pub ready: bool,
    /// How often it restarted.
    pub restarts: i32,
    /// `running`, `waiting: ContainerCreating`, `terminated: Error (exit 1): ...`.
    pub state: String,
    /// How the previous instance ended, when it restarted.
    pub last: Option<String>,
}

/// One pod's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodStatus {
    /// `namespace/name`.
    pub pod: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    /// The node it runs on, once scheduled.
    pub node: Option<String>,
    /// Status reason (`Evicted`, `DeadlineExceeded`...) and message, when set.
    pub reason: Option<String>,
    /// Conditions that are not `True`: `PodScheduled=False (Unschedulable): 0/3 nodes...`.
    pub conditions: Vec<String>,
    /// Containers, init containers first.
    pub containers: Vec<ContainerState>,
}

/// The last lines a container logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTail {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// Whether these are the previous (crashed) instance's lines.
    pub previous: bool,
    /// The lines, oldest first.
    pub lines: Vec<String>,
}

/// Everything gathered about a failure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The objects the failure is about.
    pub objects: Vec<ObjectState>,
    /// Events about those objects and in their namespace, oldest first.
    pub events: Vec<EventRecord>,
    /// Pods in the namespace.
    pub pods: Vec<PodStatus>,
    /// Log tails of containers that ran.
    pub logs: Vec<LogTail>,
    /// What could not be gathered, and why.
    pub problems: Vec<String>,
}

/// What to look at.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// Namespace whose events and pods to include.
    pub namespace: Option<String>,
    /// Objects the failure is about (their state and their own events, also for
    /// cluster-scoped objects whose events live in `default`).
    pub objects: Vec<ObjectRef>,
    /// Lines of log to keep per container.
    pub tail_lines: i64,
}

/// Gathers the diagnosis for `scope`.
pub(crate) async fn diagnose(cluster: &dyn Cluster, scope: &Scope) -> Diagnosis {
    let mut d = Diagnosis::default();
    for object in &scope.objects {
        match cluster.get(object).await {
            Ok(state) => d.objects.push(ObjectState {
                object: object.to_string(),
                state: summarize(state.as_ref()),
            }),
            Err(e) => d.problems.push(format!("could not read {object}: {e}")),
        }
    }
    gather_events(cluster, scope, &mut d).await;
    if let Some(ns) = &scope.namespace {
        match cluster.list("v1", "Pod", Some(ns), None).await {
            Ok(pods) => {
                for pod in &pods {
                    if let Some(status) = pod_status(pod) {
                        gather_logs(cluster, pod, &status, scope.tail_lines, &mut d).await;
                        d.pods.push(status);
                    }
                }
            }
            Err(e) => d
                .problems
                .push(format!("could not list pods in `{ns}`: {e}")),
        }
    }
    d
}

async fn gather_events(cluster: &dyn Cluster, scope: &Scope, d: &mut Diagnosis) {
    let mut seen = BTreeSet::new();
    let mut events = Vec::new();
    let mut push = |e: EventRecord, events: &mut Vec<EventRecord>| {
        let key = (e.involved.clone(), e.reason.clone(), e.message.clone());
        if seen.insert(key) {
            events.push(e);
        }
    };
    for object in scope.objects.iter().filter(|o| o.namespace.is_none()) {
        match cluster.events_for(object).await {
            Ok(list) => list.into_iter().for_each(|e| push(e, &mut events)),
            Err(e) => d
                .problems
                .push(format!("could not read events of {object}: {e}")),
        }
    }
    if let Some(ns) = &scope.namespace {
        match cluster.events_in(ns).await {
            Ok(list) => list.into_iter().for_each(|e| push(e, &mut events)),
            Err(e) => d
                .problems
                .push(format!("could not read events in `{ns}`: {e}")),
        }
    }
    d.events = events;
}

async fn gather_logs(
    cluster: &dyn Cluster,
    pod: &Value,
    status: &PodStatus,
    tail_lines: i64,
    d: &mut Diagnosis,
) {
    let Some(pod_ref) = ObjectRef::from_manifest(pod).or_else(|| {
        let (ns, name) = status.pod.split_once('/')?;
        Some(ObjectRef::pod(ns, name))
    }) else {
        return;
    };
    for container in &status.containers {
        let started = container.state == "running" || container.state.starts_with("terminated");
        let mut instances = Vec::new();
        if started {
            instances.push(false);
        }
        if container.restarts > 0 {
            instances.push(true);
        }
        for previous in instances {
            match cluster
                .logs(&pod_ref, Some(&container.name), Some(tail_lines), previous)
                .await
            {
                Ok(text) if !text.trim().is_empty() => d.logs.push(LogTail {
                    pod: status.pod.clone(),
                    container: container.name.clone(),
                    previous,
                    lines: text.lines().map(str::to_owned).collect(),
                }),
                Ok(_) => {}
                Err(e) => d.problems.push(format!(
                    "could not read the log of container `{}` in pod `{}`: {e}",
                    container.name, status.pod
                )),
            }
        }
    }
}

/// A pod's status from its state; `None` when it is not a pod.
#[must_use]
pub(crate) fn pod_status(state: &Value) -> Option<PodStatus> {
    let pod: Pod = serde_json::from_value(state.clone()).ok()?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let status = pod.status.unwrap_or_default();
    let reason = match (&status.reason, &status.message) {
        (Some(r), Some(m)) => Some(format!("{r}: {m}")),
        (Some(r), None) => Some(r.clone()),
        (None, Some(m)) => Some(m.clone()),
        (None, None) => None,
    };
    let conditions = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.status != "True")
        .map(|c| {
            let mut s = format!("{}={}", c.type_, c.status);
            if let Some(r) = c.reason {
                let _ = write!(s, " ({r})");
            }
            if let Some(m) = c.message {
                let _ = write!(s, ": {m}");
            }
            s
        })
        .collect();
    let containers = status
        .init_container_statuses
        .unwrap_or_default()
        .iter()
        .chain(status.container_statuses.unwrap_or_default().iter())
        .map(container_state)
        .collect();
    Some(PodStatus {
        pod: format!("{ns}/{name}"),
        phase: status.phase.unwrap_or_else(|| "Unknown".to_owned()),
        node: pod.spec.and_then(|s| s.node_name),
        reason,
        conditions,
        containers,
    })
}

fn container_state(c: &ContainerStatus) -> ContainerState {
    let describe = |state: Option<&k8s_openapi::api::core::v1::ContainerState>| {
        let state = state?;
        if state.running.is_some() {
            return Some("running".to_owned());
        }
        if let Some(w) = &state.waiting {
            let mut s = format!("waiting: {}", w.reason.as_deref().unwrap_or("unknown"));
            if let Some(m) = &w.message {
                let _ = write!(s, ": {m}");
            }
            return Some(s);
        }
        let t = state.terminated.as_ref()?;
        let mut s = format!(
            "terminated: {} (exit {})",
            t.reason.as_deref().unwrap_or("unknown"),
            t.exit_code
        );
        if let Some(m) = &t.message {
            let _ = write!(s, ": {m}");
        }
        Some(s)
    };
    ContainerState {
        name: c.name.clone(),
        ready: c.ready,
        restarts: c.restart_count,
        state: describe(c.state.as_ref()).unwrap_or_else(|| "unknown".to_owned()),
        last: describe(c.last_state.as_ref()),
    }
}

impl Diagnosis {
    /// Whether nothing was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
            && self.events.is_empty()
            && self.pods.is_empty()
            && self.logs.is_empty()
            && self.problems.is_empty()
    }

    /// Readable lines, most telling first: object states, warning events, pods that are
    /// not fine, log tails, then anything that could not be gathered.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for o in &self.objects {
            let _ = writeln!(out, "  {}: {}", o.object, o.state);
        }
        if !self.events.is_empty() {
            let _ = writeln!(out, "  events:");
            for e in &self.events {
                let _ = writeln!(
                    out,
                    "    {} {} on {}: {}{}",
                    e.type_,
                    e.reason,
                    e.involved,
                    e.message,
                    if e.count > 1 {
                        format!(" (x{})", e.count)
                    } else {
                        String::new()
                    }
                );
            }
        }
        for p in &self.pods {
            let _ = write!(out, "  pod {}: {}", p.pod, p.phase);
            if let Some(node) = &p.node {
                let _ = write!(out, " on {node}");
            }
            if let Some(r) = &p.reason {
                let _ = write!(out, ", {r}");
            }
            out.push('\n');
            for c in &p.conditions {
                let _ = writeln!(out, "    {c}");
            }
            for c in &p.containers {
                let _ = write!(out, "    container {}: {}", c.name, c.state);
                if c.restarts > 0 {
                    let _ = write!(out, ", {} restarts", c.restarts);
                }
                if let Some(last) = &c.last {
                    let _ = write!(out, ", last {last}");
                }
                out.push('\n');
            }
        }
        for l in &self.logs {
            let _ = writeln!(
                out,
                "  log {} / {}{}:",
                l.pod,
                l.container,
                if l.previous { " (previous)" } else { "" }
            );
            for line in &l.lines {
                let _ = writeln!(out, "    | {line}");
            }
        }
        for p in &self.problems {
            let _ = writeln!(out, "  (not gathered: {p})");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::FakeCluster;
    use serde_json::json;

    fn event(involved: ObjectRef, reason: &str, message: &str) -> EventRecord {
        EventRecord {
            involved,
            type_: "Warning".into(),
            reason: reason.into(),
            message: message.into(),
            count: 2,
            source: "kubelet".into(),
            last_seen: None,
        }
    }

    #[tokio::test]
    async fn gathers_states_events_pods_and_logs() {
        let fake = FakeCluster::new();
        let pv = ObjectRef::pv("nfslab-a1b2c3-r3-pv");
        let pvc = ObjectRef::pvc("r3", "pvc1");
        fake.set(
            &pv,
            json!({"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": pv.name}, "status": {"phase": "Failed"}}),
        );
        fake.add_event(event(
            pv.clone(),
            "VolumeFailedRecycle",
            "Recycle failed: pod failed",
        ));
        fake.add_event(event(
            pvc.clone(),
            "ProvisioningFailed",
            "claim Selector is not supported",
        ));
        let web = ObjectRef::pod("r3", "web-0");
        fake.set(
            &web,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "web-0", "namespace": "r3"},
                   "spec": {"containers": [{"name": "nginx", "image": "x"}], "nodeName": "w1"},
                   "status": {"phase": "Running",
                     "conditions": [{"type": "Ready", "status": "False",
                                     "reason": "ContainersNotReady"}],
                     "containerStatuses": [{"name": "nginx", "ready": false, "restartCount": 1,
                       "image": "x", "imageID": "x",
                       "state": {"running": {}},
                       "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}}),
        );
        fake.set_logs(&web, Some("nginx"), "one\ntwo\nthree");
        let pending = ObjectRef::pod("r3", "web-1");
        fake.set(
            &pending,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "web-1", "namespace": "r3"},
                   "spec": {"containers": [{"name": "nginx", "image": "x"}]},
                   "status": {"phase": "Pending",
                     "containerStatuses": [{"name": "nginx", "ready": false, "restartCount": 0,
                       "image": "x", "imageID": "x",
                       "state": {"waiting": {"reason": "ContainerCreating"}}}]}}),
        );
        let d = diagnose(
            &fake,
            &Scope {
                namespace: Some("r3".into()),
                objects: vec![pv.clone(), pvc.clone()],
                tail_lines: 2,
            },
        )
        .await;
        assert_eq!(
            d.objects,
            vec![
                ObjectState {
                    object: pv.to_string(),
                    state: "phase Failed".into()
                },
                ObjectState {
                    object: pvc.to_string(),
                    state: "absent".into()
                },
            ]
        );
        let reasons: Vec<&str> = d.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, vec!["VolumeFailedRecycle", "ProvisioningFailed"]);
        assert_eq!(d.pods.len(), 2);
        assert_eq!(d.pods[0].node.as_deref(), Some("w1"));
        assert_eq!(
            d.pods[0].conditions,
            vec!["Ready=False (ContainersNotReady)"]
        );
        assert_eq!(
            d.pods[0].containers[0].last.as_deref(),
            Some("terminated: Error (exit 2)")
        );
        assert_eq!(d.pods[1].containers[0].state, "waiting: ContainerCreating");
        // Current and previous instance of the restarted container; nothing for the one
        // that never started.
        assert_eq!(d.logs.len(), 2);
        assert_eq!(d.logs[0].lines, vec!["two", "three"]);
        assert!(d.logs[1].previous);
        let text = d.render();
        assert!(
            text.contains("Warning VolumeFailedRecycle on PersistentVolume"),
            "{text}"
        );
        assert!(text.contains("(x2)"), "{text}");
        assert!(text.contains("    | three"), "{text}");
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[tokio::test]
    async fn empty_scope_gives_an_empty_diagnosis() {
        let fake = FakeCluster::new();
        let d = diagnose(&fake, &Scope::default()).await;
        assert!(d.is_empty());
        assert_eq!(d.render(), "");
    }
}
