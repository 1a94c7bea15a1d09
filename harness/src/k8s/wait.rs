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
        humantime::format_duration(*.after),
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
        humantime::format_duration(*.after),
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
}

impl WaitError {
    /// The last state observed, for diagnosis.
    #[must_use]
    pub fn last_state(&self) -> Option<&Value> {
        match self {
            Self::Timeout { last, .. } => last.as_ref(),
            Self::Broken { state, .. } => state.as_ref(),
            Self::Watch { .. } | Self::Ended { .. } => None,
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
