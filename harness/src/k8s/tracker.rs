//! What a scenario (or a run) created, and removing all of it again.
//!
//! Every object nfslab applies is recorded in a [`Tracker`]. [`Tracker::cleanup`] deletes
//! them in dependency order, in stages ([`CleanupStage`]):
//!
//! 1. consumers (pods, Deployments, StatefulSets, Jobs, Services...), deleted in the
//!    foreground so "gone" means their pods are gone too, releasing their claims;
//! 2. claims (PVCs; `kubernetes.io/pvc-protection` holds them until no pod uses them), also
//!    those a controller made in a tracked namespace (a StatefulSet's claims); before them,
//!    the PVs nfslab created with reclaim policy `Recycle` are switched to `Retain`, so
//!    releasing them starts no recycler pod (see below);
//! 3. volumes: the PVs nfslab created, and PVs a dynamic provisioner created for claims in
//!    a tracked namespace (given a chance to be deleted by their provisioner, which archives
//!    or removes the directory, before they are deleted directly); then the PV
//!    controller's recycler pods of those `Recycle` PVs, if a step had started one;
//! 4. infrastructure (StorageClasses, provisioner Deployments, RBAC), which stage 3 needed;
//! 5. the namespace itself.
//!
//! Recycler pods (`default/recycler-for-<pv>`) are the PV controller's, made when a
//! `Recycle` PV is released, and carry no label of ours: left alone they outlive the PV and
//! its directory, failing to mount until their deadline (5 minutes and more), and `nfslab
//! clean` would not know them by label. Switching the policy to `Retain` before the claims
//! go means none is started at cleanup (`reclaimVolume` does nothing for `Retain`, kubernetes
//! `pkg/controller/volume/persistentvolume/pv_controller.go`); one a step started (a
//! scenario interrupted while waiting for a recycle) is deleted by the name the controller
//! gives it (`pkg/volume/util/recyclerclient/recycler_client.go`) once the PV is gone, so
//! the controller cannot start another. Deleting by name alone would not do: a recycle
//! that fails or is cut short is retried for as long as the PV is released and `Recycle`.
//!
//! Within a stage objects are deleted newest first, then waited for concurrently (watches,
//! no polling) until the overall deadline. Whatever is still there is reported as a
//! leftover with its last state, never silently ignored. Cleanup runs after success,
//! failure, panic and interruption alike: the caller owns the tracker outside the work it
//! guards.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use super::clean::{recycler_pod, recycles, retain_patch};
use super::conditions::is_gone;
use super::wait::{self, WaitError};
use super::{Cluster, ObjectRef, Propagation};

/// When an object is deleted during cleanup; stages run in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CleanupStage {
    /// Workloads and what they expose: they hold claims.
    Consumers,
    /// PersistentVolumeClaims.
    Claims,
    /// PersistentVolumes (also those provisioned for tracked claims).
    Volumes,
    /// StorageClasses, provisioners and their RBAC: needed until volumes are gone.
    Infrastructure,
    /// Namespaces, last.
    Namespace,
}

impl CleanupStage {
    /// All stages in cleanup order.
    pub(crate) const ALL: [CleanupStage; 5] = [
        Self::Consumers,
        Self::Claims,
        Self::Volumes,
        Self::Infrastructure,
        Self::Namespace,
    ];

    /// The default stage for a kind.
    #[must_use]
    pub(crate) fn for_kind(kind: &str) -> Self {
        match kind {
            "PersistentVolumeClaim" => Self::Claims,
            "PersistentVolume" => Self::Volumes,
            "StorageClass" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding"
            | "ServiceAccount" => Self::Infrastructure,
            "Namespace" => Self::Namespace,
            _ => Self::Consumers,
        }
    }
}

/// Something cleanup could not remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    /// The object (or other resource) as displayed: ``PersistentVolume `nfslab-a1b2c3-pv1` ``.
    pub object: String,
    /// Its last observed state (`phase Released, terminating`), when known.
    pub state: Option<String>,
    /// Why it is still there.
    pub reason: String,
}

/// What cleanup did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Objects deleted and confirmed gone.
    pub deleted: Vec<String>,
    /// Objects that were already gone when cleanup reached them.
    pub already_gone: Vec<String>,
    /// What is still there, and why.
    pub leftovers: Vec<Leftover>,
    /// How long cleanup took, in milliseconds.
    pub duration_ms: u64,
}

impl CleanupReport {
    /// Whether everything was removed.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.leftovers.is_empty()
    }
}

#[derive(Clone, Debug)]
struct Entry {
    object: ObjectRef,
    stage: CleanupStage,
}

/// Records created objects and removes them in dependency order. Cheap to share.
#[derive(Clone)]
pub(crate) struct Tracker {
    cluster: Arc<dyn Cluster>,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("tracked", &self.tracked())
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// An empty tracker for objects in `cluster`.
    #[must_use]
    pub(crate) fn new(cluster: Arc<dyn Cluster>) -> Self {
        Self {
            cluster,
            entries: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an object in the default stage for its kind (once; later records of the
    /// same object are ignored).
    pub(crate) fn record(&self, object: &ObjectRef) {
        self.record_as(object, CleanupStage::for_kind(&object.kind));
    }

    /// Records an object in a given stage (a provisioner's Deployment is infrastructure,
    /// not a consumer).
    pub(crate) fn record_as(&self, object: &ObjectRef, stage: CleanupStage) {
        let mut entries = self.lock();
        if !entries.iter().any(|e| &e.object == object) {
            entries.push(Entry {
                object: object.clone(),
                stage,
            });
        }
    }

    /// Everything recorded, in creation order.
    #[must_use]
    pub(crate) fn tracked(&self) -> Vec<ObjectRef> {
        self.lock().iter().map(|e| e.object.clone()).collect()
    }

    /// Deletes everything recorded, stage by stage, waiting for each stage to be gone, all
    /// within `timeout`. Never fails: problems become leftovers in the report.
    pub(crate) async fn cleanup(&self, timeout: Duration) -> CleanupReport {
        let start = Instant::now();
        let deadline = start + timeout;
        let entries = self.lock().clone();
        let namespaces: BTreeSet<String> = entries
            .iter()
            .filter_map(|e| {
                if e.object.kind == "Namespace" {
                    Some(e.object.name.clone())
                } else {
                    e.object.namespace.clone()
                }
            })
            .collect();
        let mut report = CleanupReport::default();
        let mut recycling = Vec::new();
        for stage in CleanupStage::ALL {
            // Newest first within a stage.
            let mut objects: Vec<ObjectRef> = entries
                .iter()
                .rev()
                .filter(|e| e.stage == stage)
                .map(|e| e.object.clone())
                .collect();
            if stage == CleanupStage::Claims {
                recycling = self.stop_recycling(&entries).await;
                let made_by_controllers = self
                    .namespace_claims(&namespaces, &objects, &mut report)
                    .await;
                objects.extend(made_by_controllers);
            }
            if stage == CleanupStage::Volumes {
                let provisioned = self
                    .provisioned_volumes(&namespaces, &objects, deadline, &mut report)
                    .await;
                objects.extend(provisioned);
            }
            self.remove_stage(stage, &objects, deadline, &mut report)
                .await;
            if stage == CleanupStage::Volumes {
                self.remove_recyclers(&recycling, deadline, &mut report)
                    .await;
            }
        }
        report.duration_ms = millis(start.elapsed());
        report
    }

    /// Switches the recorded PVs with reclaim policy `Recycle` to `Retain` and returns them
    /// (a recycler pod may already run for them). A PV that cannot be read is returned too.
    async fn stop_recycling(&self, entries: &[Entry]) -> Vec<ObjectRef> {
        let mut recycling = Vec::new();
        for pv in entries
            .iter()
            .map(|e| &e.object)
            .filter(|o| o.kind == "PersistentVolume")
        {
            match self.cluster.get(pv).await {
                Ok(Some(state)) if recycles(&state) => {
                    // Should the patch fail, the recycler pod it gets is removed by name.
                    let _ = self.cluster.patch_merge(pv, &retain_patch()).await;
                    recycling.push(pv.clone());
                }
                Ok(_) => {}
                Err(_) => recycling.push(pv.clone()),
            }
        }
        recycling
    }

    /// Deletes the recycler pods of `volumes` that exist, and waits until they are gone.
    async fn remove_recyclers(
        &self,
        volumes: &[ObjectRef],
        deadline: Instant,
        report: &mut CleanupReport,
    ) {
        let mut pods = Vec::new();
        for pv in volumes {
            let pod = recycler_pod(&pv.name);
            match self.cluster.get(&pod).await {
                Ok(Some(_)) => pods.push(pod),
                Ok(None) => {}
                Err(e) => report.leftovers.push(Leftover {
                    object: pod.to_string(),
                    state: None,
                    reason: format!("could not look for it: {e}"),
                }),
            }
        }
        if !pods.is_empty() {
            self.remove_stage(CleanupStage::Volumes, &pods, deadline, report)
                .await;
        }
    }

    /// Claims in the tracked namespaces that nobody recorded: those a controller made
    /// (a StatefulSet's `www-web-0`). They must go before the volumes: a PV bound to a claim
    /// is held by `kubernetes.io/pv-protection`.
    async fn namespace_claims(
        &self,
        namespaces: &BTreeSet<String>,
        recorded: &[ObjectRef],
        report: &mut CleanupReport,
    ) -> Vec<ObjectRef> {
        let mut found = Vec::new();
        for ns in namespaces {
            match self
                .cluster
                .list("v1", "PersistentVolumeClaim", Some(ns), None)
                .await
            {
                Ok(claims) => found.extend(
                    claims
                        .iter()
                        .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
                        .map(|name| ObjectRef::pvc(ns, name))
                        .filter(|r| !recorded.contains(r)),
                ),
                Err(e) => report.leftovers.push(Leftover {
                    object: format!("PersistentVolumeClaims in `{ns}`"),
                    state: None,
                    reason: format!("could not list them: {e}"),
                }),
            }
        }
        found
    }

    /// PVs bound (or last bound) to claims in the tracked namespaces that nobody recorded:
    /// those a dynamic provisioner made. Their provisioner gets until the deadline's share to
    /// delete them (with their directory) once the claims are gone; those still present are
    /// returned to be deleted directly.
    async fn provisioned_volumes(
        &self,
        namespaces: &BTreeSet<String>,
        recorded: &[ObjectRef],
        deadline: Instant,
        report: &mut CleanupReport,
    ) -> Vec<ObjectRef> {
        if namespaces.is_empty() {
            return Vec::new();
        }
        let pvs = match self
            .cluster
            .list("v1", "PersistentVolume", None, None)
            .await
        {
            Ok(pvs) => pvs,
            Err(e) => {
                report.leftovers.push(Leftover {
                    object: "PersistentVolumes of the tracked claims".to_owned(),
                    state: None,
                    reason: format!("could not list them: {e}"),
                });
                return Vec::new();
            }
        };
        let found: Vec<ObjectRef> = pvs
            .iter()
            .filter(|pv| {
                pv.pointer("/spec/claimRef/namespace")
                    .and_then(Value::as_str)
                    .is_some_and(|ns| namespaces.contains(ns))
            })
            .filter_map(|pv| pv.pointer("/metadata/name").and_then(Value::as_str))
            .map(ObjectRef::pv)
            .filter(|r| !recorded.contains(r))
            .collect();
        // Let the provisioner finish its own Delete: half the remaining time at most.
        let now = Instant::now();
        let grace = deadline.saturating_duration_since(now) / 2;
        let gone = is_gone();
        let waits = found
            .iter()
            .map(|pv| wait::until_within(self.cluster.as_ref(), pv, &gone, grace));
        let outcomes = join_all(waits).await;
        found
            .into_iter()
            .zip(outcomes)
            .filter_map(|(pv, outcome)| match outcome {
                Ok(_) => {
                    report.deleted.push(pv.to_string());
                    None
                }
                Err(_) => Some(pv),
            })
            .collect()
    }

    async fn remove_stage(
        &self,
        stage: CleanupStage,
        objects: &[ObjectRef],
        deadline: Instant,
        report: &mut CleanupReport,
    ) {
        let propagation = if stage == CleanupStage::Consumers {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        let mut pending = Vec::new();
        for object in objects {
            match self.cluster.delete(object, propagation).await {
                Ok(true) => pending.push(object.clone()),
                Ok(false) => report.already_gone.push(object.to_string()),
                Err(e) if e.is_not_found() => report.already_gone.push(object.to_string()),
                Err(e) => report.leftovers.push(Leftover {
                    object: object.to_string(),
                    state: None,
                    reason: format!("the delete request failed: {e}"),
                }),
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let gone = is_gone();
        let waits = pending
            .iter()
            .map(|o| wait::until_within(self.cluster.as_ref(), o, &gone, remaining));
        for (object, outcome) in pending.iter().zip(join_all(waits).await) {
            match outcome {
                Ok(_) => report.deleted.push(object.to_string()),
                Err(error) => report.leftovers.push(leftover(object, &error)),
            }
        }
    }
}

fn leftover(object: &ObjectRef, error: &WaitError) -> Leftover {
    let state = error.last_state().map(|s| wait::summarize(Some(s)));
    let reason = match error {
        WaitError::Timeout { after, .. } => format!(
            "still there after cleanup's time ran out ({}) (hint: check its finalizers and \
             events; `nfslab clean` removes leftovers later)",
            nfslab_workload::format_duration(*after)
        ),
        other => other.to_string(),
    };
    Leftover {
        object: object.to_string(),
        state,
        reason,
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::{Call, FakeCluster};
    use serde_json::json;

    fn manifest(r: &ObjectRef) -> Value {
        let mut m = json!({"apiVersion": r.api_version, "kind": r.kind,
                           "metadata": {"name": r.name}});
        if let Some(ns) = &r.namespace {
            m["metadata"]["namespace"] = json!(ns);
        }
        m
    }

    async fn create(fake: &FakeCluster, tracker: &Tracker, r: &ObjectRef) {
        fake.apply(&manifest(r)).await.expect("apply");
        tracker.record(r);
    }

    #[tokio::test(start_paused = true)]
    async fn deletes_in_dependency_order_newest_first() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let ns = ObjectRef::cluster("v1", "Namespace", "s1");
        let pv = ObjectRef::pv("nfslab-a1b2c3-pv1");
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let dep = ObjectRef::namespaced("apps/v1", "Deployment", "s1", "nginx");
        let svc = ObjectRef::namespaced("v1", "Service", "s1", "nginx");
        let sc = ObjectRef::cluster("storage.k8s.io/v1", "StorageClass", "nfslab-a1b2c3-nfs");
        for r in [&ns, &sc, &pv, &pvc, &dep, &svc] {
            create(&fake, &tracker, r).await;
        }
        tracker.record(&pvc);
        let report = tracker.cleanup(Duration::from_secs(60)).await;
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(fake.deleted(), vec![svc, dep, pvc, pv, sc, ns]);
        assert_eq!(report.deleted.len(), 6);
        assert!(fake.objects().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_finalizers_and_reports_what_stays() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let pvc = ObjectRef::pvc("s1", "pvc1");
        let pv = ObjectRef::pv("nfslab-a1b2c3-pv1");
        create(&fake, &tracker, &pvc).await;
        create(&fake, &tracker, &pv).await;
        // The PVC goes 5 s after its delete; the PV never does.
        fake.on_delete(&pvc).instead().merge(
            &pvc,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        fake.on_delete(&pvc)
            .after(Duration::from_secs(5))
            .remove(&pvc);
        fake.on_delete(&pv)
            .instead()
            .merge(&pv, json!({"status": {"phase": "Released"}}));
        let start = Instant::now();
        let report = tracker.cleanup(Duration::from_secs(30)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert_eq!(report.deleted, vec![pvc.to_string()]);
        assert_eq!(report.leftovers.len(), 1, "{report:?}");
        assert_eq!(report.leftovers[0].object, pv.to_string());
        assert_eq!(report.leftovers[0].state.as_deref(), Some("phase Released"));
        assert!(report.leftovers[0].reason.contains("nfslab clean"));
    }

    #[tokio::test(start_paused = true)]
    async fn claims_made_by_controllers_go_before_the_volumes() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let ns = ObjectRef::cluster("v1", "Namespace", "t1");
        let pv = ObjectRef::pv("nfslab-a1b2c3-t1-web-a");
        let set = ObjectRef::namespaced("apps/v1", "StatefulSet", "t1", "web");
        let claim = ObjectRef::pvc("t1", "www-web-0");
        for r in [&ns, &pv, &set] {
            create(&fake, &tracker, r).await;
        }
        // The StatefulSet controller made the claim; nobody recorded it.
        fake.apply(&manifest(&claim)).await.expect("apply");
        let report = tracker.cleanup(Duration::from_secs(60)).await;
        assert!(report.is_clean(), "{report:?}");
        // The claim goes before the PV it holds (pv-protection), not with the namespace.
        assert_eq!(fake.deleted(), vec![set, claim.clone(), pv, ns]);
        assert!(report.deleted.contains(&claim.to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn already_gone_and_failed_deletes_are_reported() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let gone = ObjectRef::pod("s1", "gone");
        let refused = ObjectRef::pod("s1", "refused");
        tracker.record(&gone);
        create(&fake, &tracker, &refused).await;
        fake.on_delete(&refused)
            .fail(crate::k8s::ClusterError::Api {
                verb: "delete".into(),
                object: refused.to_string(),
                code: 403,
                reason: "Forbidden".into(),
                message: "no".into(),
            });
        let report = tracker.cleanup(Duration::from_secs(10)).await;
        assert_eq!(report.already_gone, vec![gone.to_string()]);
        assert_eq!(report.leftovers.len(), 1);
        assert!(report.leftovers[0].reason.contains("delete request failed"));
    }

    #[tokio::test(start_paused = true)]
    async fn recycle_volumes_are_retained_before_their_claims_go_and_recyclers_removed() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let ns = ObjectRef::cluster("v1", "Namespace", "s5");
        let (recycled, retained) = (
            ObjectRef::pv("nfslab-a1b2c3-s5-pv1"),
            ObjectRef::pv("nfslab-a1b2c3-s5-pv2"),
        );
        let (pvc1, pvc2) = (ObjectRef::pvc("s5", "pvc1"), ObjectRef::pvc("s5", "pvc2"));
        create(&fake, &tracker, &ns).await;
        for (pv, policy) in [(&recycled, "Recycle"), (&retained, "Retain")] {
            let mut m = manifest(pv);
            m["spec"] = json!({"persistentVolumeReclaimPolicy": policy});
            fake.apply(&m).await.expect("apply");
            tracker.record(pv);
        }
        create(&fake, &tracker, &pvc1).await;
        create(&fake, &tracker, &pvc2).await;
        // A step released pvc1's volume before cleanup: the PV controller's recycler pod runs
        // (it carries no label of ours).
        let recycler = ObjectRef::pod("default", "recycler-for-nfslab-a1b2c3-s5-pv1");
        fake.apply(&manifest(&recycler)).await.expect("apply");
        let report = tracker.cleanup(Duration::from_secs(60)).await;
        assert!(report.is_clean(), "{report:?}");
        let calls = fake.calls();
        let at = |wanted: &Call| calls.iter().position(|c| c == wanted);
        let patched = at(&Call::Patch(recycled.clone(), retain_patch())).expect("patched");
        assert!(patched < at(&Call::Delete(pvc1.clone())).expect("deleted"));
        assert_eq!(
            at(&Call::Patch(retained.clone(), retain_patch())),
            None,
            "a Retain volume is left as it is"
        );
        assert_eq!(
            fake.state(&recycled).map(|_| ()),
            None,
            "the volume is gone"
        );
        // The recycler pod went after its volume, and it is in the report.
        let present = fake.existing_at_delete(&recycler).expect("deleted by name");
        assert!(!present.contains(&recycled), "{present:?}");
        assert!(report.deleted.contains(&recycler.to_string()), "{report:?}");
        assert!(fake.objects().is_empty(), "{:?}", fake.objects());
    }

    #[tokio::test(start_paused = true)]
    async fn provisioned_volumes_are_left_to_their_provisioner_then_deleted() {
        let fake = FakeCluster::new();
        let tracker = Tracker::new(Arc::new(fake.clone()));
        let ns = ObjectRef::cluster("v1", "Namespace", "d1");
        let pvc = ObjectRef::pvc("d1", "test-claim");
        let other_ns = ObjectRef::pv("pvc-other");
        let archived = ObjectRef::pv("pvc-1111");
        let stuck = ObjectRef::pv("pvc-2222");
        create(&fake, &tracker, &ns).await;
        create(&fake, &tracker, &pvc).await;
        for (pv, claim_ns) in [(&archived, "d1"), (&stuck, "d1"), (&other_ns, "elsewhere")] {
            let mut m = manifest(pv);
            m["spec"] = json!({"claimRef": {"namespace": claim_ns, "name": "test-claim"}});
            fake.apply(&m).await.expect("apply");
        }
        // The provisioner removes one PV 3 s after its claim is deleted.
        fake.on_delete(&pvc)
            .after(Duration::from_secs(3))
            .remove(&archived);
        let report = tracker.cleanup(Duration::from_secs(40)).await;
        assert!(report.is_clean(), "{report:?}");
        let deleted = fake.deleted();
        assert!(!deleted.contains(&archived), "the provisioner deleted it");
        assert!(deleted.contains(&stuck), "deleted directly after the grace");
        assert!(!deleted.contains(&other_ns), "not ours");
        assert!(fake.state(&other_ns).is_some());
        assert!(report.deleted.contains(&archived.to_string()));
    }
}
