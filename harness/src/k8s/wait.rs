//! Waiting for conditions on watched objects.
//!
//! Two questions, both answered from [`Cluster::watch`] streams (never by polling or fixed
//! sleeps):
//! - [`until`] / [`until_within`]: "wait until X holds" (PVC bound, pod ready, PV gone);
//! - [`holds_for`]: "X stays true for D" (the PVC stays `Pending`, stays `Terminating`),
//!   which fails at the first state that breaks it instead of waiting out the window.
//!
//! [`until`] has no deadline of its own (wrap it in `tokio::time::timeout`, as kube-runtime's
//! `await_condition` asks); [`until_within`] adds one and keeps the last state seen, so a
//! timeout can say what the object looked like.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;

use super::conditions::Condition;
use super::{Cluster, ClusterError, ObjectRef};

/// Why a wait did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The condition did not hold before the deadline.
    #[error(
        "timed out after {} waiting for {object}: {condition} (last seen: {})",
        nfslab_workload::format_duration(*.after),
        summarize(.last.as_ref())
    )]
    Timeout {
        /// The object waited on.
        object: ObjectRef,
        /// The condition's description.
        condition: String,
        /// How long was waited.
        after: Duration,
        /// The last state observed (`None`: absent or never observed).
        last: Option<Value>,
    },
    /// A condition that had to keep holding stopped holding.
    #[error(
        "{object} stopped satisfying `{condition}` after {} (now: {})",
        nfslab_workload::format_duration(*.after),
        summarize(.state.as_ref())
    )]
    Broken {
        /// The object observed.
        object: ObjectRef,
        /// The condition's description.
        condition: String,
        /// How long it held.
        after: Duration,
        /// The state that broke it.
        state: Option<Value>,
    },
    /// The watch itself failed.
    #[error("watching {object} failed")]
    Watch {
        /// The object watched.
        object: ObjectRef,
        /// What the cluster reported.
        #[source]
        source: ClusterError,
    },
    /// The watch stream ended, which a live watch never does.
    #[error("the watch on {object} ended unexpectedly")]
    Ended {
        /// The object watched.
        object: ObjectRef,
    },
    /// A node cannot pull a container's image: waiting longer cannot help.
    #[error(
        "{object} cannot start: {reason} for image `{image}`{} (hint: the nodes cannot pull \
         it; where a registry is reachable run `nfslab images pull` and `nfslab images save \
         FILE`, then here `nfslab images load FILE`, or set the image in the configuration to \
         one the nodes can pull)",
        if .message.is_empty() { String::new() } else { format!(": {}", .message) }
    )]
    ImagePull {
        /// The pod.
        object: ObjectRef,
        /// `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`, `ErrImageNeverPull`.
        reason: String,
        /// The image.
        image: String,
        /// The kubelet's message.
        message: String,
    },
}

impl WaitError {
    /// The last state observed, for diagnosis.
    #[must_use]
    pub fn last_state(&self) -> Option<&Value> {
        match self {
            Self::Timeout { last, .. } => last.as_ref(),
            Self::Broken { state, .. } => state.as_ref(),
            Self::Watch { .. } | Self::Ended { .. } | Self::ImagePull { .. } => None,
        }
    }
}

/// One line describing a state for messages: `absent`, `phase Pending`,
/// `phase Bound, terminating`.
#[must_use]
pub fn summarize(state: Option<&Value>) -> String {
    let Some(v) = state else {
        return "absent".to_owned();
    };
    let mut parts = Vec::new();
    if let Some(phase) = v.pointer("/status/phase").and_then(Value::as_str) {
        parts.push(format!("phase {phase}"));
    }
    if let Some(volume) = v.pointer("/spec/volumeName").and_then(Value::as_str) {
        parts.push(format!("volumeName {volume}"));
    }
    if let Some(ready) = v.pointer("/status/readyReplicas").and_then(Value::as_i64) {
        parts.push(format!("{ready} ready"));
    }
    if v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        parts.push("terminating".to_owned());
    }
    if parts.is_empty() {
        "present".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Waits until `condition` holds for `object` and returns the state that satisfied it.
/// No deadline: the caller bounds it (`tokio::time::timeout`) or uses [`until_within`].
pub async fn until(
    cluster: &dyn Cluster,
    object: &ObjectRef,
    condition: &Condition,
) -> Result<Option<Value>, WaitError> {
    let mut states = cluster.watch(object);
    while let Some(item) = states.next().await {
        let state = item.map_err(|source| WaitError::Watch {
            object: object.clone(),
            source,
        })?;
        if condition.matches(state.as_ref()) {
            return Ok(state);
        }
    }
    Err(WaitError::Ended {
        object: object.clone(),
    })
}

/// Waits up to `timeout` for `condition`; on timeout the error carries the last state seen.
pub async fn until_within(
    cluster: &dyn Cluster,
    object: &ObjectRef,
    condition: &Condition,
    timeout: Duration,
) -> Result<Option<Value>, WaitError> {
    let deadline = Instant::now() + timeout;
    let mut states = cluster.watch(object);
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, states.next()).await {
            Err(_elapsed) => {
                return Err(WaitError::Timeout {
                    object: object.clone(),
                    condition: condition.description().to_owned(),
                    after: timeout,
                    last,
                });
            }
            Ok(None) => {
                return Err(WaitError::Ended {
                    object: object.clone(),
                });
            }
            Ok(Some(item)) => {
                let state = item.map_err(|source| WaitError::Watch {
                    object: object.clone(),
                    source,
                })?;
                if condition.matches(state.as_ref()) {
                    return Ok(state);
                }
                last = state;
            }
        }
    }
}

/// Waiting reasons of a container whose image the node cannot pull.
const PULL_FAILURES: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// A container of `pod` waiting because its image cannot be pulled: `(reason, image,
/// message)`.
#[must_use]
pub fn pull_failure(pod: Option<&Value>) -> Option<(String, String, String)> {
    let pod = pod?;
    let spec_image = |name: &str| {
        ["/spec/initContainers", "/spec/containers"]
            .iter()
            .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
            .flatten()
            .find(|c| c["name"].as_str() == Some(name))
            .and_then(|c| c["image"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find_map(|status| {
            let waiting = status.pointer("/state/waiting")?;
            let reason = waiting["reason"].as_str()?;
            PULL_FAILURES.contains(&reason).then(|| {
                let name = status["name"].as_str().unwrap_or_default();
                let image = status["image"]
                    .as_str()
                    .filter(|i| !i.is_empty())
                    .map_or_else(|| spec_image(name), str::to_owned);
                (
                    reason.to_owned(),
                    image,
                    waiting["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
}

/// Waits until `pod` is Ready within `timeout`, telling a slow image pull from a failure:
/// while the kubelet reports pulling an image (a `Pulling` event with no `Pulled` after it),
/// `pull_allowance` is added to the deadline once and `progress` says so; a container that
/// cannot get its image (`ErrImagePull`, `ImagePullBackOff`...) ends the wait at once with
/// [`WaitError::ImagePull`].
///
/// # Errors
/// [`WaitError`] as [`until_within`], and [`WaitError::ImagePull`].
pub async fn pod_ready_minding_pulls(
    cluster: &dyn Cluster,
    pod: &ObjectRef,
    timeout: Duration,
    pull_allowance: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<Value>, WaitError> {
    let ready = super::conditions::pod_ready();
    pod_minding_pulls(cluster, pod, &ready, timeout, pull_allowance, progress).await
}

/// Waits until `pod` satisfies `ready` within `timeout`, telling a slow image pull from a
/// failure as [`pod_ready_minding_pulls`] does.
///
/// # Errors
/// [`WaitError`] as [`until_within`], and [`WaitError::ImagePull`].
pub async fn pod_minding_pulls(
    cluster: &dyn Cluster,
    pod: &ObjectRef,
    ready: &Condition,
    timeout: Duration,
    pull_allowance: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<Value>, WaitError> {
    let started = Instant::now();
    let mut deadline = started + timeout;
    let mut extended = false;
    let mut states = cluster.watch(pod);
    let mut last = None;
    let mut check = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            item = states.next() => {
                let Some(item) = item else {
                    return Err(WaitError::Ended { object: pod.clone() });
                };
                let state = item.map_err(|source| WaitError::Watch {
                    object: pod.clone(),
                    source,
                })?;
                if ready.matches(state.as_ref()) {
                    return Ok(state);
                }
                if let Some((reason, image, message)) = pull_failure(state.as_ref()) {
                    return Err(WaitError::ImagePull { object: pod.clone(), reason, image, message });
                }
                last = state;
            }
            _ = check.tick(), if !extended => {
                // Events cannot be watched through one object: read them now and then.
                if let Ok(events) = cluster.events_for(pod).await {
                    let pulling = events.iter().rposition(|e| e.reason == "Pulling");
                    let pulled = events.iter().rposition(|e| e.reason == "Pulled");
                    if let Some(at) = pulling
                        && pulled.is_none_or(|p| p < at)
                    {
                        extended = true;
                        deadline += pull_allowance;
                        progress(&format!(
                            "{pod}: {} (waiting up to {} more for the pull)",
                            events[at].message,
                            nfslab_workload::format_duration(pull_allowance)
                        ));
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(WaitError::Timeout {
                    object: pod.clone(),
                    condition: ready.description().to_owned(),
                    after: started.elapsed(),
                    last,
                });
            }
        }
    }
}

/// Checks that `condition` keeps holding for `duration`, failing at the first state that
/// breaks it (including the current state). Returns the last state seen.
pub async fn holds_for(
    cluster: &dyn Cluster,
    object: &ObjectRef,
    condition: &Condition,
    duration: Duration,
) -> Result<Option<Value>, WaitError> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut states = cluster.watch(object);
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, states.next()).await {
            Err(_elapsed) => return Ok(last),
            Ok(None) => {
                return Err(WaitError::Ended {
                    object: object.clone(),
                });
            }
            Ok(Some(item)) => {
                let state = item.map_err(|source| WaitError::Watch {
                    object: object.clone(),
                    source,
                })?;
                if !condition.matches(state.as_ref()) {
                    return Err(WaitError::Broken {
                        object: object.clone(),
                        condition: condition.description().to_owned(),
                        after: start.elapsed(),
                        state,
                    });
                }
                last = state;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::Propagation;
    use crate::k8s::conditions::{is_gone, pvc_bound_to, pvc_phase};
    use crate::k8s::fake::FakeCluster;
    use serde_json::json;

    fn pending_pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "nfs-server-0", "namespace": "nfslab-nfs"},
               "spec": {"containers": [{"name": "server", "image": "nfslab-ganesha:0.1.0"}]},
               "status": {"phase": "Pending"}})
    }

    fn pulling(pod: &ObjectRef, reason: &str, message: &str) -> crate::k8s::EventRecord {
        crate::k8s::EventRecord {
            involved: pod.clone(),
            type_: "Normal".into(),
            reason: reason.into(),
            message: message.into(),
            count: 1,
            source: "kubelet".into(),
            last_seen: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pull_in_progress_extends_the_wait_once() {
        let fake = FakeCluster::new();
        let pod = ObjectRef::pod("nfslab-nfs", "nfs-server-0");
        fake.set(&pod, pending_pod());
        fake.add_event(pulling(
            &pod,
            "Pulling",
            "Pulling image \"nfslab-ganesha:0.1.0\"",
        ));
        // Ready after 4 minutes: past the 3 minute wait, within the pull allowance.
        let ready = fake.clone();
        let target = pod.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(240)).await;
            ready.merge(
                &target,
                json!({"status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}]}}),
            );
        });
        let lines = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        pod_ready_minding_pulls(
            &fake,
            &pod,
            Duration::from_secs(180),
            Duration::from_secs(600),
            &|l: &str| lines.lock().expect("lock").push(l.to_owned()),
        )
        .await
        .expect("ready after the pull");
        assert_eq!(started.elapsed(), Duration::from_secs(240));
        let lines = lines.into_inner().expect("lines");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("Pulling image") && lines[0].contains("10m more"),
            "{lines:?}"
        );
        // Once the image is pulled, the wait is the plain one.
        let fake = FakeCluster::new();
        fake.set(&pod, pending_pod());
        fake.add_event(pulling(&pod, "Pulling", "Pulling image"));
        fake.add_event(pulling(&pod, "Pulled", "Successfully pulled image"));
        let err = pod_ready_minding_pulls(
            &fake,
            &pod,
            Duration::from_secs(180),
            Duration::from_secs(600),
            &|_: &str| {},
        )
        .await
        .expect_err("not ready");
        assert!(matches!(err, WaitError::Timeout { .. }), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pull_that_fails_ends_the_wait_at_once_with_the_recipe() {
        let fake = FakeCluster::new();
        let pod = ObjectRef::pod("nfslab-nfs", "nfs-server-0");
        fake.set(&pod, pending_pod());
        let failing = fake.clone();
        let target = pod.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            failing.merge(
                &target,
                json!({"status": {"containerStatuses": [{"name": "server", "image": "nfslab-ganesha:0.1.0",
                    "state": {"waiting": {"reason": "ErrImagePull",
                        "message": "failed to pull and unpack image \"docker.io/library/nfslab-ganesha:0.1.0\""}}}]}}),
            );
        });
        let started = Instant::now();
        let err = pod_ready_minding_pulls(
            &fake,
            &pod,
            Duration::from_secs(180),
            Duration::from_secs(600),
            &|_: &str| {},
        )
        .await
        .expect_err("cannot pull");
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        let text = err.to_string();
        assert!(
            text.contains("ErrImagePull for image `nfslab-ganesha:0.1.0`")
                && text.contains("nfslab images load FILE"),
            "{text}"
        );
    }

    fn pending_pvc() -> Value {
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "pvc1", "namespace": "s1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}
        })
    }

    #[tokio::test(start_paused = true)]
    async fn until_resolves_when_a_scripted_change_arrives() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        fake.on_apply(&pvc).after(Duration::from_secs(3)).merge(
            &pvc,
            json!({"spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}),
        );
        fake.apply(&pending_pvc()).await.expect("apply");
        let start = Instant::now();
        let state = until_within(&fake, &pvc, &pvc_bound_to("pv1"), Duration::from_secs(10))
            .await
            .expect("binds");
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(
            state.and_then(|v| v.pointer("/spec/volumeName").cloned()),
            Some(json!("pv1"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn until_within_times_out_with_the_last_state() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        fake.apply(&pending_pvc()).await.expect("apply");
        let err = until_within(&fake, &pvc, &pvc_bound_to("pv1"), Duration::from_secs(5))
            .await
            .expect_err("never binds");
        assert!(matches!(err, WaitError::Timeout { .. }));
        assert_eq!(
            err.to_string(),
            "timed out after 5s waiting for PersistentVolumeClaim `s1/pvc1`: PVC bound to `pv1` \
             (last seen: phase Pending)"
        );
        assert!(err.last_state().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn holds_for_passes_when_nothing_changes() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        fake.apply(&pending_pvc()).await.expect("apply");
        let start = Instant::now();
        holds_for(&fake, &pvc, &pvc_phase("Pending"), Duration::from_secs(20))
            .await
            .expect("stays pending");
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn holds_for_fails_early_when_the_pvc_binds() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        fake.on_apply(&pvc)
            .after(Duration::from_secs(2))
            .merge(&pvc, json!({"status": {"phase": "Bound"}}));
        fake.apply(&pending_pvc()).await.expect("apply");
        let start = Instant::now();
        let err = holds_for(&fake, &pvc, &pvc_phase("Pending"), Duration::from_secs(30))
            .await
            .expect_err("binds after 2s");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(
            err.to_string()
                .contains("stopped satisfying `PVC phase is `Pending``")
        );
        assert!(err.to_string().contains("now: phase Bound"));
    }

    #[tokio::test(start_paused = true)]
    async fn holds_for_fails_at_once_if_the_current_state_breaks_it() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let err = holds_for(&fake, &pvc, &pvc_phase("Pending"), Duration::from_secs(30))
            .await
            .expect_err("absent is not Pending");
        assert!(matches!(err, WaitError::Broken { after, .. } if after.is_zero()));
    }

    #[tokio::test(start_paused = true)]
    async fn gone_after_a_delete_delayed_by_a_finalizer() {
        let fake = FakeCluster::new();
        let pvc = ObjectRef::pvc("s1", "pvc1");
        fake.apply(&pending_pvc()).await.expect("apply");
        fake.on_delete(&pvc).instead().merge(
            &pvc,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        fake.on_delete(&pvc)
            .after(Duration::from_secs(4))
            .remove(&pvc);
        assert!(
            fake.delete(&pvc, Propagation::Background)
                .await
                .expect("delete")
        );
        assert!(fake.get(&pvc).await.expect("get").is_some());
        until_within(&fake, &pvc, &is_gone(), Duration::from_secs(5))
            .await
            .expect("gone after 4s");
    }

    #[test]
    fn summaries() {
        assert_eq!(summarize(None), "absent");
        assert_eq!(summarize(Some(&json!({"metadata": {}}))), "present");
        assert_eq!(
            summarize(Some(
                &json!({"status": {"phase": "Bound"}, "spec": {"volumeName": "pv1"},
                "metadata": {"deletionTimestamp": "x"}})
            )),
            "phase Bound, volumeName pv1, terminating"
        );
    }
}
