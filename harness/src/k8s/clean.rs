//! `nfslab clean`: find what earlier runs left in a cluster and remove it.
//!
//! Everything nfslab creates carries `app.kubernetes.io/managed-by: nfslab` and, for runs,
//! `nfslab.io/run-id`. Cleaning looks for labelled namespaces (which take their PVCs, pods,
//! provisioners... with them) and labelled cluster-scoped objects (StorageClasses, PVs,
//! ClusterRoleBindings, ClusterRoles), plus the PVs a provisioner created for nfslab's
//! StorageClasses (those carry no label of ours). It deletes them in dependency order,
//! namespaces first so PVs get released, waits for each to disappear within the cleanup
//! timeout (finalizers and recycling may delay it), and reports what could not be removed
//! and why.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;
use tokio::time::Instant;

use super::ownership::{MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, RunId};
use super::wait::{self, WaitError, summarize};
use super::{Cluster, ClusterError, ObjectRef, Propagation, conditions};

/// What to clean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Objects of one run.
    Run(RunId),
    /// Objects of every run (not the NFS server, which belongs to no run).
    AllRuns,
    /// Everything nfslab manages, the NFS server included.
    Everything,
}

impl Scope {
    /// The label selector of this scope.
    #[must_use]
    pub fn selector(&self) -> String {
        match self {
            Self::Run(run) => format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_ID_LABEL}={run}"),
            Self::AllRuns => format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_ID_LABEL}"),
            Self::Everything => format!("{MANAGED_BY_LABEL}={MANAGED_BY}"),
        }
    }
}

/// The kinds cleaning looks for, in deletion order.
pub const KINDS: [(&str, &str); 5] = [
    ("v1", "Namespace"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("v1", "PersistentVolume"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
];

/// One object that is still there, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// The object.
    pub object: ObjectRef,
    /// Why it is still there, as far as its state tells.
    pub reason: String,
}

/// What cleaning found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Everything found, in deletion order.
    pub found: Vec<ObjectRef>,
    /// What is gone now.
    pub removed: Vec<ObjectRef>,
    /// What is still there.
    pub left: Vec<Leftover>,
}

/// Why the leftovers could not even be listed.
#[derive(Debug, thiserror::Error)]
#[error("could not look for nfslab's {kind} objects")]
pub struct CleanError {
    /// The kind being listed.
    pub kind: String,
    /// What the cluster said.
    #[source]
    pub source: Box<ClusterError>,
}

fn reference(api_version: &str, kind: &str, object: &Value) -> Option<ObjectRef> {
    let name = object.pointer("/metadata/name")?.as_str()?;
    Some(ObjectRef::cluster(api_version, kind, name))
}

/// Everything in `scope`, in deletion order.
///
/// # Errors
/// [`CleanError`] when a kind cannot be listed.
pub async fn find(cluster: &dyn Cluster, scope: &Scope) -> Result<Vec<ObjectRef>, CleanError> {
    let selector = scope.selector();
    let list = |api_version: &'static str, kind: &'static str, selector: Option<String>| async move {
        cluster
            .list(api_version, kind, None, selector.as_deref())
            .await
            .map_err(|source| CleanError {
                kind: kind.to_owned(),
                source: Box::new(source),
            })
    };
    let mut found: Vec<ObjectRef> = Vec::new();
    let mut classes = BTreeSet::new();
    for (api_version, kind) in KINDS {
        let objects = list(api_version, kind, Some(selector.clone())).await?;
        for object in &objects {
            if let Some(r) = reference(api_version, kind, object) {
                if kind == "StorageClass" {
                    classes.insert(r.name.clone());
                }
                found.push(r);
            }
        }
        if kind == "PersistentVolume" && !classes.is_empty() {
            // Volumes a provisioner made for our classes carry the class, not our labels.
            for pv in list(api_version, kind, None).await? {
                let class = pv.pointer("/spec/storageClassName").and_then(Value::as_str);
                if class.is_some_and(|c| classes.contains(c))
                    && let Some(r) = reference(api_version, kind, &pv)
                    && !found.contains(&r)
                {
                    found.push(r);
                }
            }
        }
    }
    Ok(found)
}

/// Why an object that should be gone is still there, from its last state.
fn why_left(object: &ObjectRef, state: Option<&Value>) -> String {
    let Some(state) = state else {
        return "it could not be observed".to_owned();
    };
    let mut parts = vec![summarize(Some(state))];
    if object.kind == "PersistentVolume"
        && let Some(claim) = state.pointer("/spec/claimRef")
    {
        parts.push(format!(
            "claimed by `{}/{}`",
            claim["namespace"].as_str().unwrap_or("?"),
            claim["name"].as_str().unwrap_or("?")
        ));
    }
    if object.kind == "Namespace" {
        for condition in state
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == "True")
        {
            if let Some(message) = condition["message"].as_str() {
                parts.push(message.to_owned());
            }
        }
    }
    if let Some(finalizers) = state
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        && !finalizers.is_empty()
    {
        let names: Vec<&str> = finalizers.iter().filter_map(Value::as_str).collect();
        parts.push(format!("finalizers: {}", names.join(", ")));
    }
    parts.join("; ")
}

/// Deletes everything in `scope` and waits up to `timeout` for it to disappear. With
/// `dry_run`, only finds.
///
/// # Errors
/// [`CleanError`] when the objects cannot be listed; failures to delete or to disappear are
/// reported in [`Report::left`].
pub async fn clean(
    cluster: &dyn Cluster,
    scope: &Scope,
    timeout: Duration,
    dry_run: bool,
) -> Result<Report, CleanError> {
    let found = find(cluster, scope).await?;
    let mut report = Report {
        found: found.clone(),
        ..Report::default()
    };
    if dry_run {
        return Ok(report);
    }
    let deadline = Instant::now() + timeout;
    // Namespaces first (their PVCs release PVs), then classes and volumes, then RBAC.
    let phases: [&[&str]; 3] = [
        &["Namespace"],
        &["StorageClass", "PersistentVolume"],
        &["ClusterRoleBinding", "ClusterRole"],
    ];
    for phase in phases {
        let batch: Vec<&ObjectRef> = found
            .iter()
            .filter(|o| phase.contains(&o.kind.as_str()))
            .collect();
        let mut waiting = Vec::new();
        for object in batch {
            match cluster.delete(object, Propagation::Background).await {
                Ok(_) => waiting.push(object),
                Err(e) => report.left.push(Leftover {
                    object: object.clone(),
                    reason: format!("the delete was refused: {e}"),
                }),
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let gone = conditions::is_gone();
        let results = join_all(
            waiting
                .iter()
                .map(|o| wait::until_within(cluster, o, &gone, remaining)),
        )
        .await;
        for (object, result) in waiting.into_iter().zip(results) {
            match result {
                Ok(_) => report.removed.push(object.clone()),
                Err(WaitError::Timeout { after, last, .. }) => report.left.push(Leftover {
                    object: object.clone(),
                    reason: format!(
                        "still there after {}: {}",
                        humantime::format_duration(after),
                        why_left(object, last.as_ref())
                    ),
                }),
                Err(e) => report.left.push(Leftover {
                    object: object.clone(),
                    reason: e.to_string(),
                }),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::{Call, FakeCluster};
    use crate::k8s::ownership::stamp;
    use serde_json::json;

    fn run(id: &str) -> RunId {
        RunId::parse(id).expect("run id")
    }

    async fn seed(fake: &FakeCluster) {
        let r1 = run("20260101-000000-aaaaaa");
        let r2 = run("20260101-000000-bbbbbb");
        let mut objects = vec![
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nfslab-s1-aaaaaa"}}),
                Some(&r1),
            ),
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nfslab-s1-bbbbbb"}}),
                Some(&r2),
            ),
            (
                json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "nfslab-aaaaaa-pv1"},
                    "spec": {"claimRef": {"namespace": "nfslab-s1-aaaaaa", "name": "pvc1"}}}),
                Some(&r1),
            ),
            (
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                    "metadata": {"name": "nfslab-aaaaaa-managed-nfs-storage"}}),
                Some(&r1),
            ),
            (
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "nfslab-aaaaaa-nfs-client-provisioner-runner"}}),
                Some(&r1),
            ),
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nfslab-nfs"}}),
                None,
            ),
        ];
        for (object, run) in &mut objects {
            match run {
                Some(r) => stamp(object, r, None),
                None => {
                    object["metadata"]["labels"] =
                        json!({"app.kubernetes.io/managed-by": "nfslab"});
                }
            }
            fake.apply(object).await.expect("seed");
        }
        // A PV the provisioner made for run 1's class, and a user's PV.
        for pv in [
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-1234"},
                   "spec": {"storageClassName": "nfslab-aaaaaa-managed-nfs-storage"}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "users-pv"},
                   "spec": {"storageClassName": "fast"}}),
        ] {
            fake.apply(&pv).await.expect("seed");
        }
    }

    fn names(objects: &[ObjectRef]) -> Vec<String> {
        objects.iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn finds_one_run_in_deletion_order_with_its_provisioned_volumes() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        let found = find(&fake, &Scope::Run(run("20260101-000000-aaaaaa")))
            .await
            .expect("find");
        assert_eq!(
            names(&found),
            [
                "Namespace `nfslab-s1-aaaaaa`",
                "StorageClass `nfslab-aaaaaa-managed-nfs-storage`",
                "PersistentVolume `nfslab-aaaaaa-pv1`",
                "PersistentVolume `pvc-1234`",
                "ClusterRole `nfslab-aaaaaa-nfs-client-provisioner-runner`",
            ]
        );
        let all_runs = find(&fake, &Scope::AllRuns).await.expect("find");
        assert!(all_runs.iter().any(|o| o.name == "nfslab-s1-bbbbbb"));
        assert!(
            !all_runs.iter().any(|o| o.name == "nfslab-nfs"),
            "the server belongs to no run"
        );
        assert!(!all_runs.iter().any(|o| o.name == "users-pv"));
        let everything = find(&fake, &Scope::Everything).await.expect("find");
        assert!(everything.iter().any(|o| o.name == "nfslab-nfs"));
    }

    #[tokio::test]
    async fn dry_run_deletes_nothing() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        let report = clean(&fake, &Scope::AllRuns, Duration::from_secs(60), true)
            .await
            .expect("clean");
        assert_eq!(report.found.len(), 6);
        assert!(report.removed.is_empty() && report.left.is_empty());
        assert!(!fake.calls().iter().any(|c| matches!(c, Call::Delete(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn deletes_namespaces_first_waits_and_reports_what_stays() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        let ns = ObjectRef::cluster("v1", "Namespace", "nfslab-s1-aaaaaa");
        // The namespace takes 20 s to terminate.
        fake.on_delete(&ns).instead().merge(
            &ns,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
                                "status": {"phase": "Terminating"}}),
        );
        fake.on_delete(&ns)
            .after(Duration::from_secs(20))
            .remove(&ns);
        // The static PV stays: something still holds it.
        let pv = ObjectRef::pv("nfslab-aaaaaa-pv1");
        fake.on_delete(&pv).instead().merge(
            &pv,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                                "finalizers": ["kubernetes.io/pv-protection"]},
                   "status": {"phase": "Bound"}}),
        );
        let report = clean(
            &fake,
            &Scope::Run(run("20260101-000000-aaaaaa")),
            Duration::from_secs(120),
            false,
        )
        .await
        .expect("clean");
        assert_eq!(report.removed.len(), 4, "{:?}", report.removed);
        assert_eq!(report.left.len(), 1);
        assert_eq!(report.left[0].object, pv);
        assert_eq!(
            report.left[0].reason,
            "still there after 1m 40s: phase Bound, terminating; claimed by \
             `nfslab-s1-aaaaaa/pvc1`; finalizers: kubernetes.io/pv-protection"
        );
        let deletes: Vec<String> = fake
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Delete(o) => Some(o.kind),
                _ => None,
            })
            .collect();
        assert_eq!(deletes[0], "Namespace");
        assert_eq!(deletes.last().map(String::as_str), Some("ClusterRole"));
        assert!(
            fake.state(&ObjectRef::pv("users-pv")).is_some(),
            "the user's PV is untouched"
        );
    }

    #[tokio::test]
    async fn refused_deletes_are_reported_not_fatal() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        let role = ObjectRef::cluster(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "nfslab-aaaaaa-nfs-client-provisioner-runner",
        );
        fake.on_delete(&role).fail(ClusterError::Api {
            verb: "delete".into(),
            object: role.to_string(),
            code: 403,
            reason: "Forbidden".into(),
            message: "clusterroles.rbac.authorization.k8s.io is forbidden".into(),
        });
        let report = clean(
            &fake,
            &Scope::Run(run("20260101-000000-aaaaaa")),
            Duration::from_secs(10),
            false,
        )
        .await
        .expect("clean");
        assert_eq!(report.left.len(), 1);
        assert!(
            report.left[0]
                .reason
                .starts_with("the delete was refused: the API server refused to delete")
        );
    }
}
