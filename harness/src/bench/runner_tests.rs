//! Tests of the runner's logic against the scripted fake cluster: step order, the start
//! barrier, result collection, failures, Ctrl-C and cleanup. The fake runs no controllers:
//! each test states when a PVC binds, a pod becomes Ready or a client finishes. Result
//! documents are real ones from the committed fixture run.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::*;
use crate::bench::progress::RecordedProgress;
use crate::config::Config;
use crate::k8s::ExecOutput;
use crate::k8s::fake::{Call, FakeCluster};
use crate::model::matrix::Matrix;
use crate::model::plan::{BuiltInIncludes, parse_plan};
use crate::model::results::{AttemptStatus, RunRecord, RunStatus};
use crate::progress::Quiet as NoProgress;

/// A real nfslab-io result of a 4 KiB random-read client.
const RESULT: &str = include_str!(
    "../../tests/fixtures/bench/run-a/raw/tmpfs/rand-read-4k/one-thread/k1/rep-1/client-0.json"
);

const PLAN: &str = "\
servers:
  - name: nas
    external: 10.0.0.5:/vol
profiles:
  - name: doc-v3
    options: [vers=3, nolock, hard]
workloads:
  - name: rr
    job: {pattern: randread, bs: 4k, size: 1m, runtime: 10s}
repetitions: 2
clients: 2
";

fn plan() -> Plan {
    parse_plan(PLAN, "plan.yaml", &BuiltInIncludes).unwrap()
}

fn run_id() -> RunId {
    RunId::parse("20261123-150000-abcdef").unwrap()
}

struct Harness {
    fake: FakeCluster,
    dir: tempfile::TempDir,
    plan: Plan,
    cells: Vec<Cell>,
}

impl Harness {
    fn new() -> Self {
        Self::with_plan(plan())
    }

    fn with_plan(plan: Plan) -> Self {
        let fake = FakeCluster::new();
        for k in 0..2 {
            fake.set(
                &ObjectRef::cluster("v1", "Node", &format!("node-{k}")),
                json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": format!("node-{k}")},
                    "status": {"nodeInfo": {
                        "kernelVersion": "6.8.0-45-generic", "osImage": "Debian GNU/Linux 12",
                        "kubeletVersion": "v1.33.1", "containerRuntimeVersion": "containerd://2.0.0",
                        "architecture": "amd64", "bootID": "b", "kubeProxyVersion": "v1.33.1",
                        "machineID": "m", "operatingSystem": "linux", "systemUUID": "u"
                    }}
                }),
            );
        }
        Self {
            fake,
            dir: tempfile::tempdir().unwrap(),
            cells: Matrix::expand(&plan).cells,
            plan,
        }
    }

    fn names(&self, rep: u32) -> Names {
        Names::new(&run_id(), &self.cells[0], rep)
    }

    fn bind_volume(&self, rep: u32) {
        let pvc = self.names(rep).pvc_ref();
        self.fake
            .on_apply(&pvc)
            .after(Duration::from_secs(1))
            .merge(&pvc, json!({"status": {"phase": "Bound"}}));
    }

    fn pods_ready(&self, rep: u32) {
        for (k, pod) in self.names(rep).pod_refs().iter().enumerate() {
            self.fake.on_apply(pod).after(Duration::from_secs(5 + k as u64)).merge(
                pod,
                json!({
                    "spec": {"nodeName": format!("node-{k}")},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
                }),
            );
        }
    }

    /// After the barrier is written, the client runs for 12 s and exits with `code`.
    fn clients_finish(&self, rep: u32, code: i64) {
        for pod in self.names(rep).pod_refs() {
            self.fake
                .on_exec(&pod, &[ENGINE, "file", "write", BARRIER_FILE])
                .after(Duration::from_secs(12))
                .merge(
                    &pod,
                    json!({"status": {"containerStatuses": [
                        container_status("client", json!({"terminated": {"exitCode": code}})),
                        container_status("control", json!({"running": {}})),
                    ]}}),
                )
                .reply(ExecOutput::ok(""));
            self.fake
                .on_exec(&pod, &[ENGINE, "rm"])
                .reply(ExecOutput::ok(""));
        }
    }

    fn results_readable(&self, rep: u32) {
        for pod in self.names(rep).pod_refs() {
            self.fake
                .on_exec(&pod, &[ENGINE, "file", "cat", RESULT_FILE])
                .reply(ExecOutput::ok(RESULT));
        }
    }

    fn healthy(&self, rep: u32) {
        self.bind_volume(rep);
        self.pods_ready(rep);
        self.clients_finish(rep, 0);
        self.results_readable(rep);
    }

    async fn run(
        &self,
        progress: &dyn Reporter,
        cancel: watch::Receiver<bool>,
    ) -> Result<BenchOutcome, BenchError> {
        let target = Target {
            cluster: Arc::new(self.fake.clone()),
            servers: Vec::new(),
            description: "fake cluster".to_owned(),
        };
        let options = RunnerOptions {
            run_id: run_id(),
            results_parent: self.dir.path().to_path_buf(),
            dir_name: None,
            timeouts: Config::default().timeouts,
        };
        run_bench(&self.plan, &target, &options, progress, cancel).await
    }

    /// Objects left in the fake cluster besides the nodes.
    fn left(&self) -> Vec<ObjectRef> {
        self.fake
            .objects()
            .into_iter()
            .filter(|o| o.kind != "Node")
            .collect()
    }

    fn record(&self) -> RunRecord {
        ResultsDir::open(&self.dir.path().join(run_id().as_str()))
            .unwrap()
            .read_record()
            .unwrap()
    }
}

fn container_status(name: &str, state: Value) -> Value {
    json!({"name": name, "image": "nfslab-io:0.1.0", "imageID": "", "ready": false,
           "restartCount": 0, "state": state})
}

fn no_cancel() -> watch::Receiver<bool> {
    // The sender lives as long as the test: nobody cancels.
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

fn position(calls: &[Call], pred: impl Fn(&Call) -> bool) -> usize {
    calls.iter().position(pred).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_full_run_measures_every_repetition_and_cleans_up() {
    let h = Harness::new();
    h.healthy(1);
    h.healthy(2);
    let progress = RecordedProgress::default();
    let outcome = h.run(&progress, no_cancel()).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Complete);
    assert_eq!(outcome.failed_steps, 0);
    assert_eq!(outcome.outcome(), Outcome::Success);
    assert!(outcome.leftovers.is_empty(), "{:?}", outcome.leftovers);
    let cell = &outcome.summary.cells[0];
    assert_eq!(cell.id, "nas/rr/doc-v3/k2");
    assert_eq!(cell.repetitions_ok, 2);
    assert!(cell.repetitions.iter().all(|r| r.clients == 2));
    assert_eq!(
        cell.repetitions[0].per_client[1].node.as_deref(),
        Some("node-1")
    );
    assert_eq!(cell.options.requested, ["vers=3", "nolock", "hard"]);
    for rep in 1..=2 {
        for k in 0..2 {
            assert!(
                outcome
                    .dir
                    .join(format!("raw/nas/rr/doc-v3/k2/rep-{rep}/client-{k}.json"))
                    .is_file()
            );
        }
    }
    for file in ["summary.json", "summary.csv", "report.md", "report.html"] {
        assert!(outcome.dir.join(file).is_file(), "{file}");
    }
    let env = &outcome.summary.environment;
    assert_eq!(env.kubernetes_version.as_deref(), Some("v1.33.1"));
    assert_eq!(env.nodes[0].kernel.as_deref(), Some("6.8.0-45-generic"));
    assert_eq!(env.servers[0].address, "10.0.0.5");
    // Everything the run created is gone, the namespace included.
    assert!(h.left().is_empty(), "{:?}", h.left());

    let calls = h.fake.calls();
    let n = h.names(1);
    let applied: Vec<String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Apply(o) => Some(format!("{} {}", o.kind, o.name)),
            _ => None,
        })
        .take(6)
        .collect();
    assert_eq!(
        applied,
        [
            "Namespace nfslab-bench-abcdef".to_owned(),
            format!("ConfigMap {}", n.config_map),
            format!("PersistentVolume {}", n.pv),
            format!("PersistentVolumeClaim {}", n.pvc),
            format!("Pod {}", n.pods[0]),
            format!("Pod {}", n.pods[1]),
        ]
    );
    // Clients are released only after both pods were applied, and results are read only
    // after every client was released.
    let release = |c: &Call| matches!(c, Call::Exec(_, _, cmd) if cmd.get(2).map(String::as_str) == Some("write"));
    let first_release = position(&calls, release);
    let last_pod = position(
        &calls,
        |c| matches!(c, Call::Apply(o) if o.name == n.pods[1]),
    );
    assert!(first_release > last_pod);
    let releases_rep1 = calls[first_release..]
        .iter()
        .take_while(|c| release(c))
        .count();
    assert_eq!(releases_rep1, 2, "both clients released together");
    let first_cat = position(
        &calls,
        |c| matches!(c, Call::Exec(_, _, cmd) if cmd.get(2).map(String::as_str) == Some("cat")),
    );
    assert!(first_cat > first_release + 1);
    // The repetition is cleaned up before the next one starts.
    let pv_deleted = position(&calls, |c| matches!(c, Call::Delete(o) if o.name == n.pv));
    let next_pv = position(
        &calls,
        |c| matches!(c, Call::Apply(o) if o.name == h.names(2).pv),
    );
    assert!(pv_deleted < next_pv);

    let lines = progress.lines();
    assert_eq!(lines[0], "start 2");
    assert!(
        lines.contains(&"step 1 nas/rr/doc-v3/k2 rep 2/2".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"phase measuring".to_owned()));
    assert_eq!(lines.last().map(String::as_str), Some("finish"));
}

#[tokio::test(start_paused = true)]
async fn a_client_without_result_fails_its_repetition_only() {
    let h = Harness::new();
    h.bind_volume(1);
    h.pods_ready(1);
    h.clients_finish(1, 3);
    for pod in h.names(1).pod_refs() {
        h.fake
            .on_exec(&pod, &[ENGINE, "file", "cat"])
            .reply(ExecOutput::failed(1, "No such file or directory"));
        h.fake
            .set_logs(&pod, Some("client"), "error: EIO on /data/x\n");
    }
    h.healthy(2);
    let outcome = h.run(&NoProgress, no_cancel()).await.unwrap();
    assert_eq!(outcome.failed_steps, 1);
    assert_eq!(outcome.outcome(), Outcome::Failed);
    let cell = &outcome.summary.cells[0];
    assert_eq!(cell.repetitions_ok, 1);
    assert_eq!(cell.failures.len(), 1);
    let failure = &cell.failures[0];
    assert!(failure.contains("repetition 1 failed"), "{failure}");
    assert!(
        failure.contains("exited with Some(3) and left no result"),
        "{failure}"
    );
    assert!(failure.contains("EIO on /data/x"), "{failure}");
    assert!(h.left().is_empty(), "{:?}", h.left());
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_stops_cleans_up_and_keeps_what_was_measured() {
    let h = Harness::new();
    h.healthy(1);
    // Repetition 2: the volume binds but the pods never become Ready.
    h.bind_volume(2);
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let _ = tx.send(true);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let started = tokio::time::Instant::now();
    let outcome = h.run(&NoProgress, rx).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "stopped promptly: {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.status, RunStatus::Interrupted);
    assert_eq!(outcome.outcome(), Outcome::Interrupted);
    let record = h.record();
    assert_eq!(record.status, RunStatus::Interrupted);
    let statuses: Vec<AttemptStatus> = record.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [AttemptStatus::Ok, AttemptStatus::Interrupted]);
    assert_eq!(outcome.summary.cells[0].repetitions_ok, 1);
    assert!(outcome.dir.join("report.html").is_file());
    assert!(h.left().is_empty(), "{:?}", h.left());
    // The interrupted repetition's pods were deleted.
    let calls = h.fake.calls();
    for pod in h.names(2).pods {
        assert!(
            calls
                .iter()
                .any(|c| matches!(c, Call::Delete(o) if o.name == pod))
        );
    }
}

#[tokio::test(start_paused = true)]
async fn pods_that_never_get_ready_time_out_with_their_state() {
    let h = Harness::new();
    h.bind_volume(1);
    for pod in h.names(1).pod_refs() {
        h.fake.on_apply(&pod).after(Duration::from_secs(2)).merge(
            &pod,
            json!({"status": {"phase": "Pending", "containerStatuses": [
                container_status("client", json!({"waiting": {"reason": "ErrImageNeverPull"}})),
            ]}}),
        );
    }
    h.healthy(2);
    let started = tokio::time::Instant::now();
    let outcome = h.run(&NoProgress, no_cancel()).await.unwrap();
    assert!(started.elapsed() >= Config::default().timeouts.pod_ready);
    assert_eq!(outcome.failed_steps, 1);
    let failure = &outcome.summary.cells[0].failures[0];
    assert!(
        failure.contains("did not become ready within 3m"),
        "{failure}"
    );
    assert!(failure.contains("bench-c00-r1-client-"), "{failure}");
    assert!(
        failure.contains("client waiting (ErrImageNeverPull)"),
        "{failure}"
    );
    assert_eq!(outcome.summary.cells[0].repetitions_ok, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_layout_is_reported_with_its_log() {
    let h = Harness::new();
    h.bind_volume(1);
    for pod in h.names(1).pod_refs() {
        h.fake.on_apply(&pod).after(Duration::from_secs(4)).merge(
            &pod,
            json!({"status": {"phase": "Failed", "initContainerStatuses": [
                container_status("prepare", json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
                container_status("layout", json!({"terminated": {"exitCode": 3, "reason": "Error"}})),
            ]}}),
        );
        h.fake
            .set_logs(&pod, Some("layout"), "error: ENOSPC writing /data/f\n");
    }
    h.healthy(2);
    let outcome = h.run(&NoProgress, no_cancel()).await.unwrap();
    let failure = &outcome.summary.cells[0].failures[0];
    assert!(
        failure.contains("failed before the measurement"),
        "{failure}"
    );
    assert!(
        failure.contains("layout terminated with 3 (Error)"),
        "{failure}"
    );
    assert!(failure.contains("ENOSPC"), "{failure}");
}

#[tokio::test(start_paused = true)]
async fn an_in_cluster_server_must_be_deployed_before_anything_is_created() {
    let h = Harness::new();
    let plan = parse_plan(
        "profiles: [{name: a}]\nworkloads: [{name: w, job: {pattern: read}}]\n",
        "p.yaml",
        &BuiltInIncludes,
    )
    .unwrap();
    let target = Target {
        cluster: Arc::new(h.fake.clone()),
        servers: Vec::new(),
        description: "fake".to_owned(),
    };
    let options = RunnerOptions {
        run_id: run_id(),
        results_parent: h.dir.path().to_path_buf(),
        dir_name: None,
        timeouts: Config::default().timeouts,
    };
    let err = run_bench(&plan, &target, &options, &NoProgress, no_cancel())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("in-cluster ganesha server but none was deployed"),
        "{err}"
    );
    assert!(h.fake.calls().is_empty());
}

/// A plan benchmarking the user's StorageClass `nfs-csi` with one profile.
const CLASS_PLAN: &str = "\
servers:
  - name: nas
    storage_class: nfs-csi
profiles:
  - name: doc-v3
    options: [vers=3, nolock, hard]
workloads:
  - name: rr
    job: {pattern: randread, bs: 4k, size: 1m, runtime: 10s}
repetitions: 2
clients: 2
";

/// The user's class, as the API server returns it (k8s-openapi's type).
fn user_class(provisioner: &str) -> Value {
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    serde_json::to_value(StorageClass {
        metadata: ObjectMeta {
            name: Some("nfs-csi".to_owned()),
            annotations: Some(
                [(
                    storage_class::DEFAULT_CLASS_ANNOTATION.to_owned(),
                    "true".to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        provisioner: provisioner.to_owned(),
        parameters: Some(
            [
                ("server".to_owned(), "10.0.0.5".to_owned()),
                ("share".to_owned(), "/vol".to_owned()),
            ]
            .into(),
        ),
        mount_options: Some(vec!["nfsvers=4.1".to_owned()]),
        reclaim_policy: Some("Retain".to_owned()),
        volume_binding_mode: Some("Immediate".to_owned()),
        ..StorageClass::default()
    })
    .unwrap()
}

/// The PV a provisioner makes for repetition `rep`'s claim through `class`, carrying
/// `options` (k8s-openapi's type, as external-provisioner builds it).
fn provisioned_pv(name: &str, class: &str, claim: &ObjectRef, options: &[&str]) -> Value {
    use k8s_openapi::api::core::v1::{
        CSIPersistentVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    serde_json::to_value(PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: Some(vec!["ReadWriteMany".to_owned()]),
            mount_options: (!options.is_empty())
                .then(|| options.iter().map(|o| (*o).to_owned()).collect()),
            storage_class_name: Some(class.to_owned()),
            persistent_volume_reclaim_policy: Some("Delete".to_owned()),
            claim_ref: Some(ObjectReference {
                name: Some(claim.name.clone()),
                namespace: claim.namespace.clone(),
                ..ObjectReference::default()
            }),
            csi: Some(CSIPersistentVolumeSource {
                driver: storage_class::CSI_DRIVER_NFS.to_owned(),
                volume_handle: format!("10.0.0.5#vol#{name}##"),
                ..CSIPersistentVolumeSource::default()
            }),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    })
    .unwrap()
}

impl Harness {
    /// Scripts the provisioner for repetition `rep`: a second after the claim is applied it
    /// is bound to a PV carrying `options`; the PV goes two seconds after the claim is
    /// deleted (reclaim policy Delete).
    fn provision(&self, rep: u32, options: &[&str]) {
        let names = self.names(rep);
        let claim = names.pvc_ref();
        let pv_name = format!("pvc-0000-{rep}");
        let pv = ObjectRef::pv(&pv_name);
        let class = storage_class::clone_name(&run_id(), "nas", "doc-v3");
        self.fake
            .on_apply(&claim)
            .after(Duration::from_secs(1))
            .set(&pv, provisioned_pv(&pv_name, &class, &claim, options))
            .merge(
                &claim,
                json!({"spec": {"volumeName": pv_name}, "status": {"phase": "Bound"}}),
            );
        self.fake
            .on_delete(&claim)
            .after(Duration::from_secs(2))
            .remove(&pv);
    }
}

#[tokio::test(start_paused = true)]
async fn a_storage_class_is_cloned_per_profile_and_its_claims_are_provisioned() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    let h = Harness::with_plan(parse_plan(CLASS_PLAN, "plan.yaml", &BuiltInIncludes).unwrap());
    h.fake.set(
        &storage_class::class_ref("nfs-csi"),
        user_class(storage_class::CSI_DRIVER_NFS),
    );
    for rep in 1..=2 {
        h.provision(rep, &["vers=3", "nolock", "hard"]);
        h.pods_ready(rep);
        h.clients_finish(rep, 0);
        h.results_readable(rep);
    }
    let outcome = h.run(&NoProgress, no_cancel()).await.unwrap();
    assert_eq!(
        outcome.outcome(),
        Outcome::Success,
        "{:?}",
        outcome.leftovers
    );
    assert_eq!(outcome.summary.cells[0].repetitions_ok, 2);
    assert_eq!(
        outcome.summary.cells[0].options.requested,
        ["vers=3", "nolock", "hard"]
    );
    let server = &outcome.summary.environment.servers[0];
    assert_eq!(server.address, "10.0.0.5");
    assert!(
        server.flavor.contains("nfs.csi.k8s.io"),
        "{}",
        server.flavor
    );

    // The clone: the user's provisioner and parameters, the profile's options, never the
    // default class, reclaim policy Delete, the run's labels.
    let clone_name = storage_class::clone_name(&run_id(), "nas", "doc-v3");
    let calls = h.fake.calls();
    let applied: Vec<Value> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Apply(o) if o.kind == "StorageClass" => h.fake.applied(o),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1, "one clone for one profile");
    let clone: StorageClass = serde_json::from_value(applied[0].clone()).unwrap();
    assert_eq!(clone.metadata.name.as_deref(), Some(clone_name.as_str()));
    assert_eq!(clone.provisioner, storage_class::CSI_DRIVER_NFS);
    assert_eq!(
        clone.mount_options,
        Some(vec!["vers=3".into(), "nolock".into(), "hard".into()])
    );
    assert_eq!(clone.reclaim_policy.as_deref(), Some("Delete"));
    assert!(
        !clone
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(storage_class::DEFAULT_CLASS_ANNOTATION)
    );
    assert_eq!(
        clone
            .metadata
            .labels
            .unwrap_or_default()
            .get(crate::k8s::ownership::RUN_ID_LABEL)
            .map(String::as_str),
        Some(run_id().as_str())
    );

    // Claims name the clone and no volume; nfslab makes no PV of its own.
    let claims: Vec<PersistentVolumeClaim> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Apply(o) if o.kind == "PersistentVolumeClaim" => h.fake.applied(o),
            _ => None,
        })
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(claims.len(), 2);
    for claim in &claims {
        let spec = claim.spec.as_ref().unwrap();
        assert_eq!(
            spec.storage_class_name.as_deref(),
            Some(clone_name.as_str())
        );
        assert_eq!(spec.volume_name, None);
    }
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, Call::Apply(o) if o.kind == "PersistentVolume")),
        "the provisioner makes the volumes"
    );
    // The clone goes last, after the provisioner removed the last volume it made.
    let clone_deleted = position(
        &calls,
        |c| matches!(c, Call::Delete(o) if o.kind == "StorageClass" && o.name == clone_name),
    );
    let last_claim_deleted = calls
        .iter()
        .rposition(|c| matches!(c, Call::Delete(o) if o.kind == "PersistentVolumeClaim"))
        .unwrap();
    assert!(clone_deleted > last_claim_deleted);
    // The user's class is untouched; nothing else is left.
    assert_eq!(
        h.left(),
        vec![storage_class::class_ref("nfs-csi")],
        "only the user's class stays"
    );
}

#[tokio::test(start_paused = true)]
async fn a_class_whose_provisioner_ignores_mount_options_is_refused_before_anything_is_made() {
    let h = Harness::with_plan(parse_plan(CLASS_PLAN, "plan.yaml", &BuiltInIncludes).unwrap());
    h.fake.set(
        &storage_class::class_ref("nfs-csi"),
        user_class("rancher.io/local-path"),
    );
    let error = h.run(&NoProgress, no_cancel()).await.unwrap_err();
    assert_eq!(error.outcome(), Outcome::BadInput);
    let text = error.to_string();
    assert!(
        text.contains("StorageClass `nfs-csi` cannot compare mount options"),
        "{text}"
    );
    assert!(text.contains("not NFS mounts"), "{text}");
    assert!(
        !h.fake.calls().iter().any(|c| matches!(c, Call::Apply(_))),
        "nothing created"
    );
}

#[tokio::test(start_paused = true)]
async fn a_provisioner_that_drops_the_options_stops_the_run_with_the_reason() {
    let h = Harness::with_plan(parse_plan(CLASS_PLAN, "plan.yaml", &BuiltInIncludes).unwrap());
    h.fake.set(
        &storage_class::class_ref("nfs-csi"),
        user_class("example.com/nas"),
    );
    // Its PV carries none of the clone's mountOptions.
    h.provision(1, &[]);
    let error = h.run(&NoProgress, no_cancel()).await.unwrap_err();
    assert_eq!(error.outcome(), Outcome::BadInput);
    let text = error.to_string();
    assert!(
        text.contains(
            "made PV `pvc-0000-1` with no mountOptions where the class carried `vers=3,nolock,hard`"
        ),
        "{text}"
    );
    // Everything made is removed: the claim, the clone, the namespace.
    assert_eq!(h.left(), vec![storage_class::class_ref("nfs-csi")]);
}
