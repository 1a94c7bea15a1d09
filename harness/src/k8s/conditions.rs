//! Readiness predicates over object states.
//!
//! A [`Condition`] answers "does this state satisfy X?" for one observed state of an object
//! (`None` = the object does not exist) and describes itself for messages ("PVC bound to
//! `pv1`"). Constructors are small and composable, in the manner of
//! `kube::runtime::conditions`; they parse states into `k8s-openapi` types so field names
//! and optionality follow the Kubernetes API exactly. Waiting on them lives in
//! [`super::wait`].

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use serde::de::DeserializeOwned;
use serde_json::Value;

type Predicate = dyn Fn(Option<&Value>) -> bool + Send + Sync;

/// A named predicate over one object's state (`None`: the object does not exist).
#[derive(Clone)]
pub struct Condition {
    description: String,
    predicate: Arc<Predicate>,
}

impl Condition {
    /// A condition from a description and a predicate.
    #[must_use]
    pub fn new(
        description: impl Into<String>,
        predicate: impl Fn(Option<&Value>) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            description: description.into(),
            predicate: Arc::new(predicate),
        }
    }

    /// Whether `state` satisfies the condition.
    #[must_use]
    pub fn matches(&self, state: Option<&Value>) -> bool {
        (self.predicate)(state)
    }

    /// What the condition asks, for messages: "PVC phase is `Bound`".
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Both conditions hold.
    #[must_use]
    pub fn and(self, other: Condition) -> Condition {
        let description = format!("{} and {}", self.description, other.description);
        Condition::new(description, move |s| self.matches(s) && other.matches(s))
    }

    /// At least one condition holds.
    #[must_use]
    pub fn or(self, other: Condition) -> Condition {
        let description = format!("{} or {}", self.description, other.description);
        Condition::new(description, move |s| self.matches(s) || other.matches(s))
    }

    /// The condition does not hold.
    #[must_use]
    pub fn negate(self) -> Condition {
        let description = format!("not ({})", self.description);
        Condition::new(description, move |s| !self.matches(s))
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Parses a state into a typed object; `None` when absent or not of that shape.
fn typed<K: DeserializeOwned>(state: Option<&Value>) -> Option<K> {
    state.and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The object exists.
#[must_use]
pub fn exists() -> Condition {
    Condition::new("exists", |s| s.is_some())
}

/// The object does not exist (never created, or deleted and its finalizers done).
#[must_use]
pub fn is_gone() -> Condition {
    Condition::new("is gone", |s| s.is_none())
}

/// The object exists and is being deleted (`metadata.deletionTimestamp` set), e.g. a PVC
/// held by `kubernetes.io/pvc-protection` shows as `Terminating`.
#[must_use]
pub fn is_terminating() -> Condition {
    Condition::new("is terminating (deletionTimestamp set)", |s| {
        s.and_then(|v| v.pointer("/metadata/deletionTimestamp"))
            .is_some_and(|t| !t.is_null())
    })
}

/// The object carries finalizer `name`.
#[must_use]
pub fn has_finalizer(name: &str) -> Condition {
    let wanted = name.to_owned();
    Condition::new(format!("has finalizer `{name}`"), move |s| {
        s.and_then(|v| v.pointer("/metadata/finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(wanted.as_str())))
    })
}

/// The value at JSON pointer `pointer` (`/status/phase`) equals `expected`.
#[must_use]
pub fn field_equals(pointer: &str, expected: Value) -> Condition {
    let p = pointer.to_owned();
    Condition::new(format!("`{pointer}` is `{expected}`"), move |s| {
        s.and_then(|v| v.pointer(&p)) == Some(&expected)
    })
}

/// The PVC's `status.phase` is `phase` (`Pending`, `Bound`, `Lost`).
#[must_use]
pub fn pvc_phase(phase: &str) -> Condition {
    let wanted = phase.to_owned();
    Condition::new(format!("PVC phase is `{phase}`"), move |s| {
        typed::<PersistentVolumeClaim>(s)
            .and_then(|c| c.status?.phase)
            .is_some_and(|p| p == wanted)
    })
}

/// The PVC is `Bound` to PV `pv` (`spec.volumeName`).
#[must_use]
pub fn pvc_bound_to(pv: &str) -> Condition {
    let wanted = pv.to_owned();
    Condition::new(format!("PVC bound to `{pv}`"), move |s| {
        typed::<PersistentVolumeClaim>(s).is_some_and(|c| {
            c.spec.and_then(|sp| sp.volume_name).as_deref() == Some(wanted.as_str())
                && c.status.and_then(|st| st.phase).as_deref() == Some("Bound")
        })
    })
}

/// The PV's `status.phase` is `phase` (`Available`, `Bound`, `Released`, `Failed`).
#[must_use]
pub fn pv_phase(phase: &str) -> Condition {
    let wanted = phase.to_owned();
    Condition::new(format!("PV phase is `{phase}`"), move |s| {
        typed::<PersistentVolume>(s)
            .and_then(|v| v.status?.phase)
            .is_some_and(|p| p == wanted)
    })
}

/// The PV's `spec.claimRef` names `namespace/name`.
#[must_use]
pub fn pv_claimed_by(namespace: &str, name: &str) -> Condition {
    let (ns, n) = (namespace.to_owned(), name.to_owned());
    Condition::new(format!("PV claimRef is `{namespace}/{name}`"), move |s| {
        typed::<PersistentVolume>(s)
            .and_then(|v| v.spec?.claim_ref)
            .is_some_and(|r| {
                r.namespace.as_deref() == Some(ns.as_str()) && r.name.as_deref() == Some(n.as_str())
            })
    })
}

/// The PV has no `spec.claimRef` (after recycling, or after an admin cleared it).
#[must_use]
pub fn pv_unclaimed() -> Condition {
    Condition::new("PV has no claimRef", |s| {
        typed::<PersistentVolume>(s).is_some_and(|v| v.spec.and_then(|sp| sp.claim_ref).is_none())
    })
}

/// The pod's `status.phase` is `phase` (`Pending`, `Running`, `Succeeded`, `Failed`).
#[must_use]
pub fn pod_phase(phase: &str) -> Condition {
    let wanted = phase.to_owned();
    Condition::new(format!("pod phase is `{phase}`"), move |s| {
        typed::<Pod>(s)
            .and_then(|p| p.status?.phase)
            .is_some_and(|p| p == wanted)
    })
}

/// The pod's `Ready` condition is `True`.
#[must_use]
pub fn pod_ready() -> Condition {
    Condition::new("pod is Ready", |s| {
        typed::<Pod>(s)
            .and_then(|p| p.status?.conditions)
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
}

/// The pod is a new instance: its `metadata.uid` differs from `old_uid` (a pod recreated
/// under the same name by a controller).
#[must_use]
pub fn pod_uid_differs(old_uid: &str) -> Condition {
    let old = old_uid.to_owned();
    Condition::new(format!("pod uid differs from `{old_uid}`"), move |s| {
        s.and_then(|v| v.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .is_some_and(|uid| uid != old)
    })
}

/// The Deployment reports at least `replicas` available replicas for its current
/// generation.
#[must_use]
pub fn deployment_available(replicas: i32) -> Condition {
    Condition::new(
        format!("Deployment has {replicas} available replicas"),
        move |s| {
            typed::<Deployment>(s).is_some_and(|d| {
                let observed = d.status.as_ref().and_then(|st| st.observed_generation);
                let current = observed.is_some() && observed == d.metadata.generation;
                current && d.status.and_then(|st| st.available_replicas).unwrap_or(0) >= replicas
            })
        },
    )
}

/// The StatefulSet reports exactly `replicas` ready replicas for its current generation
/// (and no more pods than that).
#[must_use]
pub fn statefulset_ready(replicas: i32) -> Condition {
    Condition::new(
        format!("StatefulSet has {replicas} ready replicas"),
        move |s| {
            typed::<StatefulSet>(s).is_some_and(|set| {
                let observed = set.status.as_ref().and_then(|st| st.observed_generation);
                let current = observed.is_some() && observed == set.metadata.generation;
                let status = set.status.unwrap_or_default();
                current
                    && status.ready_replicas.unwrap_or(0) == replicas
                    && status.replicas == replicas
            })
        },
    )
}

/// The object's `metadata.labels` include every `key=value` of `labels`.
#[must_use]
pub fn has_labels(labels: &[(String, String)]) -> Condition {
    metadata_entries_condition("labels", labels)
}

/// The object's `metadata.annotations` include every `key=value` of `annotations`.
#[must_use]
pub fn has_annotations(annotations: &[(String, String)]) -> Condition {
    metadata_entries_condition("annotations", annotations)
}

fn metadata_entries_condition(field: &'static str, wanted: &[(String, String)]) -> Condition {
    let shown: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let wanted = wanted.to_vec();
    Condition::new(format!("has {field} `{}`", shown.join(",")), move |s| {
        let map = s.and_then(|v| v.get("metadata")).and_then(|m| m.get(field));
        wanted
            .iter()
            .all(|(k, v)| map.and_then(|m| m.get(k)).and_then(Value::as_str) == Some(v.as_str()))
    })
}

/// The PVC reports `status.capacity.storage` equal to `quantity` (as the API server writes
/// it, e.g. `10Gi`): a claim gets the whole capacity of the PV it binds.
#[must_use]
pub fn pvc_capacity(quantity: &str) -> Condition {
    let wanted = quantity.to_owned();
    Condition::new(format!("PVC capacity is `{quantity}`"), move |s| {
        typed::<PersistentVolumeClaim>(s)
            .and_then(|c| c.status?.capacity)
            .and_then(|cap| cap.get("storage").map(|q| q.0.clone()))
            .is_some_and(|q| q == wanted)
    })
}

/// The pod's container `container` has restarted at least `times` times.
#[must_use]
pub fn container_restarted(container: &str, times: i32) -> Condition {
    let wanted = container.to_owned();
    Condition::new(
        format!("container `{container}` restarted at least {times} times"),
        move |s| {
            typed::<Pod>(s)
                .and_then(|p| p.status?.container_statuses)
                .and_then(|cs| cs.into_iter().find(|c| c.name == wanted))
                .is_some_and(|c| c.restart_count >= times)
        },
    )
}

/// The Job has condition `Complete` = `True`.
#[must_use]
pub fn job_complete() -> Condition {
    job_condition("Complete")
}

/// The Job has condition `Failed` = `True`.
#[must_use]
pub fn job_failed() -> Condition {
    job_condition("Failed")
}

fn job_condition(kind: &'static str) -> Condition {
    Condition::new(format!("Job is {kind}"), move |s| {
        typed::<Job>(s)
            .and_then(|j| j.status?.conditions)
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_saphyr::from_str(text).expect("test YAML parses")
    }

    const PVC_BOUND: &str = "
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc1, namespace: s1}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  storageClassName: nfs
  volumeName: pv1
status:
  phase: Bound
  capacity: {storage: 1Gi}
";

    #[test]
    fn pvc_predicates_read_spec_and_status() {
        let pvc = yaml(PVC_BOUND);
        assert!(pvc_phase("Bound").matches(Some(&pvc)));
        assert!(!pvc_phase("Pending").matches(Some(&pvc)));
        assert!(pvc_bound_to("pv1").matches(Some(&pvc)));
        assert!(!pvc_bound_to("pv2").matches(Some(&pvc)));
        assert!(!pvc_bound_to("pv1").matches(None));
    }

    #[test]
    fn pvc_with_volume_name_but_pending_is_not_bound() {
        // The binder sets spec.volumeName before status.phase; both must agree.
        let mut pvc = yaml(PVC_BOUND);
        pvc["status"]["phase"] = Value::from("Pending");
        assert!(!pvc_bound_to("pv1").matches(Some(&pvc)));
    }

    #[test]
    fn pv_predicates() {
        let pv = yaml(
            "
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  nfs: {server: 10.96.0.10, path: /nfs/pv1}
  claimRef: {namespace: s1, name: pvc1}
status: {phase: Released}
",
        );
        assert!(pv_phase("Released").matches(Some(&pv)));
        assert!(pv_claimed_by("s1", "pvc1").matches(Some(&pv)));
        assert!(!pv_claimed_by("s2", "pvc1").matches(Some(&pv)));
        assert!(!pv_unclaimed().matches(Some(&pv)));
        let mut cleared = pv.clone();
        cleared["spec"]
            .as_object_mut()
            .expect("spec is a map")
            .remove("claimRef");
        assert!(pv_unclaimed().matches(Some(&cleared)));
        assert!(!pv_unclaimed().matches(None));
    }

    #[test]
    fn terminating_and_finalizers() {
        let mut pvc = yaml(PVC_BOUND);
        assert!(!is_terminating().matches(Some(&pvc)));
        pvc["metadata"]["deletionTimestamp"] = Value::from("2026-01-01T00:00:00Z");
        pvc["metadata"]["finalizers"] = serde_json::json!(["kubernetes.io/pvc-protection"]);
        assert!(is_terminating().matches(Some(&pvc)));
        assert!(has_finalizer("kubernetes.io/pvc-protection").matches(Some(&pvc)));
        assert!(!has_finalizer("other").matches(Some(&pvc)));
        assert!(!is_terminating().matches(None));
    }

    #[test]
    fn pod_ready_needs_the_ready_condition_true() {
        let mut pod = yaml(
            "
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: t1, uid: a}
spec: {containers: [{name: c, image: nfslab-io}]}
status:
  phase: Running
  conditions:
  - {type: Ready, status: 'False'}
",
        );
        assert!(pod_phase("Running").matches(Some(&pod)));
        assert!(!pod_ready().matches(Some(&pod)));
        pod["status"]["conditions"][0]["status"] = Value::from("True");
        assert!(pod_ready().matches(Some(&pod)));
        assert!(pod_uid_differs("b").matches(Some(&pod)));
        assert!(!pod_uid_differs("a").matches(Some(&pod)));
    }

    #[test]
    fn statefulset_ready_requires_current_generation() {
        let mut set = yaml(
            "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: t1, generation: 2}
spec:
  serviceName: nginx
  selector: {matchLabels: {app: nginx}}
  template: {metadata: {labels: {app: nginx}}, spec: {containers: [{name: c, image: x}]}}
status: {replicas: 2, readyReplicas: 2, observedGeneration: 1}
",
        );
        assert!(!statefulset_ready(2).matches(Some(&set)));
        set["status"]["observedGeneration"] = Value::from(2);
        assert!(statefulset_ready(2).matches(Some(&set)));
        assert!(!statefulset_ready(1).matches(Some(&set)));
    }

    #[test]
    fn deployment_and_job() {
        let dep = yaml(
            "
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx, namespace: s4, generation: 1}
spec:
  selector: {matchLabels: {app: nginx}}
  template: {metadata: {labels: {app: nginx}}, spec: {containers: [{name: c, image: x}]}}
status: {observedGeneration: 1, availableReplicas: 1}
",
        );
        assert!(deployment_available(1).matches(Some(&dep)));
        assert!(!deployment_available(3).matches(Some(&dep)));
        let job = yaml(
            "
apiVersion: batch/v1
kind: Job
metadata: {name: bench, namespace: b}
spec: {template: {spec: {containers: [{name: c, image: x}], restartPolicy: Never}}}
status: {conditions: [{type: Complete, status: 'True'}]}
",
        );
        assert!(job_complete().matches(Some(&job)));
        assert!(!job_failed().matches(Some(&job)));
    }

    #[test]
    fn labels_annotations_capacity_and_restarts() {
        let mut pvc = yaml(PVC_BOUND);
        pvc["metadata"]["labels"] = serde_json::json!({"app": "nginx", "x": "y"});
        pvc["metadata"]["annotations"] = serde_json::json!({"nfs.io/storage-path": "data"});
        let app = [("app".to_owned(), "nginx".to_owned())];
        assert!(has_labels(&app).matches(Some(&pvc)));
        assert!(!has_labels(&[("app".to_owned(), "web".to_owned())]).matches(Some(&pvc)));
        assert!(!has_labels(&app).matches(None));
        let path = [("nfs.io/storage-path".to_owned(), "data".to_owned())];
        assert!(has_annotations(&path).matches(Some(&pvc)));
        assert!(!has_annotations(&app).matches(Some(&pvc)));
        assert!(pvc_capacity("1Gi").matches(Some(&pvc)));
        assert!(!pvc_capacity("10Gi").matches(Some(&pvc)));
        let pod = yaml(
            "
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: x3}
spec: {containers: [{name: a, image: i}, {name: b, image: i}]}
status:
  containerStatuses:
  - {name: a, ready: true, restartCount: 1, image: i, imageID: i}
  - {name: b, ready: true, restartCount: 0, image: i, imageID: i}
",
        );
        assert!(container_restarted("a", 1).matches(Some(&pod)));
        assert!(!container_restarted("b", 1).matches(Some(&pod)));
        assert!(!container_restarted("c", 0).matches(Some(&pod)));
    }

    #[test]
    fn combinators_and_descriptions() {
        let pvc = yaml(PVC_BOUND);
        let c = pvc_phase("Bound").and(is_terminating().negate());
        assert!(c.matches(Some(&pvc)));
        assert_eq!(
            c.description(),
            "PVC phase is `Bound` and not (is terminating (deletionTimestamp set))"
        );
        assert!(pvc_phase("Lost").or(exists()).matches(Some(&pvc)));
        assert!(field_equals("/spec/storageClassName", Value::from("nfs")).matches(Some(&pvc)));
        assert!(is_gone().matches(None));
    }
}
