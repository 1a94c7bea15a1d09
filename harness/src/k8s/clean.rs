//! `nfslab clean`: find what earlier runs left in a cluster and remove it.
//!
//! Everything nfslab creates carries `app.kubernetes.io/managed-by: nfslab` and, for runs,
//! `nfslab.io/run-id`. Cleaning looks for labelled namespaces (which take their PVCs, pods,
//! provisioners... with them) and labelled cluster-scoped objects (StorageClasses, PVs,
//! ClusterRoleBindings, ClusterRoles), plus what others made for them without our labels:
//! PVs a provisioner created for nfslab's StorageClasses, and the PV controller's recycler
//! pods (`default/recycler-for-<pv>`) of nfslab's volumes. It deletes them in dependency
//! order ([`clean`]): consumers of NFS first, the NFS server last and only once they are
//! gone; it waits for each to disappear within the cleanup timeout, and reports what could
//! not be removed and why.

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

/// The kinds cleaning looks for by label.
pub const KINDS: [(&str, &str); 5] = [
    ("v1", "Namespace"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("v1", "PersistentVolume"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
];

/// Where the PV controller starts its recycler pods (`recycler-for-<pv>`): the namespace of
/// its pod template, `default` unless the cluster's admin configured another one
/// (`NewPersistentVolumeRecyclerPodTemplate` in kubernetes `pkg/volume/plugins.go`).
pub const RECYCLER_NAMESPACE: &str = "default";

/// The name the PV controller gives the recycler pod of PV `pv`
/// (kubernetes `pkg/volume/util/recyclerclient/recycler_client.go`).
#[must_use]
pub fn recycler_pod(pv: &str) -> ObjectRef {
    ObjectRef::pod(RECYCLER_NAMESPACE, &format!("recycler-for-{pv}"))
}

/// The merge patch that stops the PV controller from recycling a volume: with `Retain` its
/// `reclaimVolume` does nothing once the claim is gone (kubernetes
/// `pkg/controller/volume/persistentvolume/pv_controller.go`), so no recycler pod is made.
#[must_use]
pub fn retain_patch() -> Value {
    serde_json::json!({"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
}

/// Whether `pv` would be recycled once released.
#[must_use]
pub fn recycles(pv: &Value) -> bool {
    pv.pointer("/spec/persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
        == Some("Recycle")
}

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

/// Objects a removal could not get rid of, as an error (each with its reason).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.0))]
pub struct LeftBehind(pub Vec<Leftover>);

fn describe(left: &[Leftover]) -> String {
    left.iter()
        .map(|l| format!("{}: {}", l.object, l.reason))
        .collect::<Vec<_>>()
        .join("; ")
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

fn of_a_run(object: &Value) -> bool {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(RUN_ID_LABEL))
        .is_some()
}

/// Whether `pv` is named as a run's volumes are (`nfslab-<6 hex>-...`), of the run of
/// `scope` when it names one.
fn named_like_a_run_volume(pv: &str, scope: &Scope) -> bool {
    match scope {
        Scope::Run(run) => pv.starts_with(&format!("{}-", run.prefix())),
        Scope::AllRuns | Scope::Everything => pv.strip_prefix("nfslab-").is_some_and(|rest| {
            rest.len() > 7
                && rest.as_bytes()[6] == b'-'
                && rest[..6]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }),
    }
}

/// The phases of a removal, in order; each is gone (or given up on) before the next starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// What mounts NFS volumes: the runs' namespaces (their pods), recycler pods.
    Consumers,
    /// The runs' classes and volumes (also those a provisioner made for their classes).
    Volumes,
    /// The runs' cluster-wide RBAC.
    Rbac,
    /// What belongs to no run (the NFS server's namespace): only once nothing of the
    /// earlier phases is left, since a server removed under hard-mounted pods can wedge the
    /// kubelet's unmounts.
    Servers,
}

const PHASES: [Phase; 4] = [
    Phase::Consumers,
    Phase::Volumes,
    Phase::Rbac,
    Phase::Servers,
];

/// What [`find`] found, by phase.
#[derive(Debug, Default)]
struct Found {
    objects: Vec<(Phase, ObjectRef)>,
    /// Volumes found with reclaim policy `Recycle`.
    recycling: Vec<ObjectRef>,
}

impl Found {
    fn push(&mut self, phase: Phase, object: ObjectRef) {
        if !self.objects.iter().any(|(_, o)| *o == object) {
            self.objects.push((phase, object));
        }
    }

    fn of(&self, phase: Phase) -> Vec<ObjectRef> {
        self.objects
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, o)| o.clone())
            .collect()
    }

    fn in_order(&self) -> Vec<ObjectRef> {
        PHASES.iter().flat_map(|p| self.of(*p)).collect()
    }
}

async fn list(
    cluster: &dyn Cluster,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>, CleanError> {
    cluster
        .list(api_version, kind, namespace, selector)
        .await
        .map_err(|source| CleanError {
            kind: kind.to_owned(),
            source: Box::new(source),
        })
}

async fn find_phased(cluster: &dyn Cluster, scope: &Scope) -> Result<Found, CleanError> {
    let selector = scope.selector();
    let mut found = Found::default();
    let mut classes = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    for (api_version, kind) in KINDS {
        let objects = list(cluster, api_version, kind, None, Some(&selector)).await?;
        for object in &objects {
            let Some(r) = reference(api_version, kind, object) else {
                continue;
            };
            let phase = match (of_a_run(object), kind) {
                (false, _) => Phase::Servers,
                (true, "Namespace") => Phase::Consumers,
                (true, "StorageClass" | "PersistentVolume") => Phase::Volumes,
                (true, _) => Phase::Rbac,
            };
            if kind == "StorageClass" {
                classes.insert(r.name.clone());
            }
            if kind == "PersistentVolume" {
                volumes.insert(r.name.clone());
                if recycles(object) {
                    found.recycling.push(r.clone());
                }
            }
            found.push(phase, r);
        }
        if kind == "PersistentVolume" && !classes.is_empty() {
            // Volumes a provisioner made for our classes carry the class, not our labels.
            for pv in list(cluster, api_version, kind, None, None).await? {
                let class = pv.pointer("/spec/storageClassName").and_then(Value::as_str);
                if class.is_some_and(|c| classes.contains(c))
                    && let Some(r) = reference(api_version, kind, &pv)
                {
                    volumes.insert(r.name.clone());
                    if recycles(&pv) {
                        found.recycling.push(r.clone());
                    }
                    found.push(Phase::Volumes, r);
                }
            }
        }
    }
    // The PV controller's recycler pods carry no label of ours: found by the name it gives
    // them, for the volumes found and for any volume named as a run's.
    for pod in list(cluster, "v1", "Pod", Some(RECYCLER_NAMESPACE), None).await? {
        let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        if let Some(pv) = name.strip_prefix("recycler-for-")
            && (volumes.contains(pv) || named_like_a_run_volume(pv, scope))
        {
            found.push(Phase::Consumers, ObjectRef::pod(RECYCLER_NAMESPACE, name));
        }
    }
    Ok(found)
}

/// Everything in `scope`, in deletion order: what uses NFS volumes (the runs' namespaces,
/// the PV controller's recycler pods for their volumes), the runs' classes and volumes,
/// their RBAC, and last what belongs to no run (the NFS server).
///
/// # Errors
/// [`CleanError`] when a kind cannot be listed.
pub async fn find(cluster: &dyn Cluster, scope: &Scope) -> Result<Vec<ObjectRef>, CleanError> {
    Ok(find_phased(cluster, scope).await?.in_order())
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

/// Deletes `batch` and waits until `deadline` for it to be gone; what stays goes to
/// `report.left`.
async fn remove(
    cluster: &dyn Cluster,
    batch: &[ObjectRef],
    deadline: Instant,
    report: &mut Report,
) {
    let mut waiting = Vec::new();
    for object in batch {
        match cluster.delete(object, Propagation::Background).await {
            Ok(_) => waiting.push(object),
            Err(e) if e.is_not_found() => report.removed.push(object.clone()),
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
                    nfslab_workload::format_duration(after),
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

/// Deletes everything in `scope` and waits up to `timeout` for it to disappear. With
/// `dry_run`, only finds.
///
/// Order: volumes that would be recycled are switched to `Retain` first, so releasing them
/// starts no recycler pod; then what uses NFS volumes goes (the runs' namespaces with their
/// pods and claims, and recycler pods already started for their volumes); then the runs'
/// classes and volumes; then their RBAC; and only once all of that is gone, what belongs to
/// no run (the NFS server): a server removed under hard-mounted pods can wedge the
/// kubelet's unmounts. When something of the runs stays, the server stays too and is
/// reported with the reason.
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
    let found = find_phased(cluster, scope).await?;
    let mut report = Report {
        found: found.in_order(),
        ..Report::default()
    };
    if dry_run {
        return Ok(report);
    }
    let deadline = Instant::now() + timeout;
    for pv in &found.recycling {
        // Best effort: a volume that cannot be switched is still deleted below, and a
        // recycler pod it gets is found by name on the next clean.
        let _ = cluster.patch_merge(pv, &retain_patch()).await;
    }
    for phase in PHASES {
        let batch = found.of(phase);
        if batch.is_empty() {
            continue;
        }
        if phase == Phase::Servers && !report.left.is_empty() {
            let users: Vec<String> = report.left.iter().map(|l| l.object.to_string()).collect();
            for object in batch {
                report.left.push(Leftover {
                    object,
                    reason: format!(
                        "kept: removing the NFS server while {} {} still there could wedge \
                         the kubelet's unmounts (hint: fix those, then run `nfslab clean \
                         --all` again)",
                        users.join(", "),
                        if users.len() == 1 { "is" } else { "are" }
                    ),
                });
            }
            continue;
        }
        remove(cluster, &batch, deadline, &mut report).await;
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
            "still there after 1m40s: phase Bound, terminating; claimed by \
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

    fn pod(ns: &str, name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels}})
    }

    /// Run 1's PV recycles; the PV controller started recycler pods (no label of ours) for
    /// it and for a run-1 volume already gone; a user's recycler pod must stay.
    async fn seed_recyclers(fake: &FakeCluster) {
        let pv = ObjectRef::pv("nfslab-aaaaaa-pv1");
        fake.merge(
            &pv,
            json!({"spec": {"persistentVolumeReclaimPolicy": "Recycle"}}),
        );
        for name in [
            "recycler-for-nfslab-aaaaaa-pv1",
            "recycler-for-nfslab-aaaaaa-s5-gone",
            "recycler-for-users-pv",
        ] {
            fake.apply(&pod("default", name, json!({})))
                .await
                .expect("seed");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn recycling_stops_and_recycler_pods_go_with_their_run() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        seed_recyclers(&fake).await;
        let run1 = Scope::Run(run("20260101-000000-aaaaaa"));
        let found = find(&fake, &run1).await.expect("find");
        let recyclers: Vec<&str> = found
            .iter()
            .filter(|o| o.kind == "Pod")
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(
            recyclers,
            [
                "recycler-for-nfslab-aaaaaa-pv1",
                "recycler-for-nfslab-aaaaaa-s5-gone"
            ]
        );
        let other = find(&fake, &Scope::Run(run("20260101-000000-bbbbbb")))
            .await
            .expect("find");
        assert!(!other.iter().any(|o| o.kind == "Pod"), "{other:?}");
        let report = clean(&fake, &run1, Duration::from_secs(60), false)
            .await
            .expect("clean");
        assert!(report.left.is_empty(), "{:?}", report.left);
        let calls = fake.calls();
        let at = |wanted: &Call| calls.iter().position(|c| c == wanted).expect("called");
        let pv = ObjectRef::pv("nfslab-aaaaaa-pv1");
        let ns = ObjectRef::cluster("v1", "Namespace", "nfslab-s1-aaaaaa");
        assert!(
            at(&Call::Patch(pv.clone(), retain_patch())) < at(&Call::Delete(ns)),
            "Retain before the claims go with their namespace"
        );
        assert!(
            fake.state(&ObjectRef::pod("default", "recycler-for-users-pv"))
                .is_some(),
            "a user's recycler pod is not ours"
        );
        assert!(find(&fake, &run1).await.expect("find").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_goes_last_and_only_once_its_users_are_gone() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        seed_recyclers(&fake).await;
        let server = ObjectRef::cluster("v1", "Namespace", "nfslab-nfs");
        let run_ns = ObjectRef::cluster("v1", "Namespace", "nfslab-s1-aaaaaa");
        // A run's namespace takes 20 s to go.
        fake.on_delete(&run_ns).instead().merge(
            &run_ns,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        fake.on_delete(&run_ns)
            .after(Duration::from_secs(20))
            .remove(&run_ns);
        let everything = find(&fake, &Scope::Everything).await.expect("find");
        assert_eq!(everything.last(), Some(&server), "{everything:?}");
        let report = clean(&fake, &Scope::Everything, Duration::from_secs(120), false)
            .await
            .expect("clean");
        assert!(report.left.is_empty(), "{:?}", report.left);
        let present = fake
            .existing_at_delete(&server)
            .expect("the server was removed");
        let users: Vec<&ObjectRef> = present
            .iter()
            .filter(|o| {
                (o.kind == "Namespace" && o.name != server.name)
                    || o.name.starts_with("recycler-for-nfslab-")
            })
            .collect();
        assert!(
            users.is_empty(),
            "still there when the server went: {users:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_stays_while_a_user_stays() {
        let fake = FakeCluster::new();
        seed(&fake).await;
        let server = ObjectRef::cluster("v1", "Namespace", "nfslab-nfs");
        let run_ns = ObjectRef::cluster("v1", "Namespace", "nfslab-s1-bbbbbb");
        // A pod of this namespace cannot unmount: it never goes.
        fake.on_delete(&run_ns).instead().merge(
            &run_ns,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        let report = clean(&fake, &Scope::Everything, Duration::from_secs(30), false)
            .await
            .expect("clean");
        assert!(fake.existing_at_delete(&server).is_none(), "never deleted");
        assert!(fake.state(&server).is_some());
        let kept = report
            .left
            .iter()
            .find(|l| l.object == server)
            .expect("the server is reported");
        assert_eq!(
            kept.reason,
            "kept: removing the NFS server while Namespace `nfslab-s1-bbbbbb` is still there \
             could wedge the kubelet's unmounts (hint: fix those, then run `nfslab clean --all` \
             again)"
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
