//! Engine tests against the scripted fake cluster: every step kind passing and failing,
//! timeouts (virtual time), early failure of "stays", diagnosis, cleanup after failures,
//! panics, interruption and time limits, requirements, and bounded parallelism.
//!
//! The fake runs no controllers: each test scripts what the cluster reports after which
//! call, so what is proven is the engine's behaviour, not a model of Kubernetes.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::engine::{RunOptions, run_all, run_scenario};
use super::env::ScenarioEnv;
use super::load::parse;
use super::plan::Scenario;
use crate::config::Config;
use crate::k8s::fake::{Call, FakeCluster};
use crate::k8s::ownership::RunId;
use crate::k8s::stand_in::StandIn;
use crate::k8s::{
    Cluster, ClusterResult, EventRecord, ExecOutput, ObjectRef, Propagation, StateStream,
};
use crate::model::scenarios::{Observation, Outcome, ScenarioResult, StepOutcome};
use crate::nfs::{FileAccess, NfsServer, ServerFlavor};
use crate::progress::{Event, Reporter, ScenarioEvent};

const NS: &str = "nfslab-t-a1b2c3";
const PREFIX: &str = "nfslab-a1b2c3-t";
const IO: &str = "/nfslab-io";

fn server_pod() -> ObjectRef {
    ObjectRef::pod("nfslab-system", "nfs-server-0")
}

fn server(files: bool) -> NfsServer {
    NfsServer {
        flavor: ServerFlavor::Kernel,
        address: "10.96.0.20".into(),
        export: "/exports".into(),
        files: files.then(|| FileAccess {
            pod: server_pod(),
            container: "files".into(),
            root: "/exports".into(),
        }),
    }
}

fn config() -> Config {
    let mut c = Config::default();
    c.timeouts.bind = Duration::from_secs(30);
    c.timeouts.observe = Duration::from_secs(20);
    c.timeouts.cleanup = Duration::from_secs(60);
    c
}

fn env_with(cluster: Arc<dyn Cluster>, files: bool) -> Arc<ScenarioEnv> {
    let run = RunId::parse("20261123-144302-a1b2c3").expect("valid");
    Arc::new(ScenarioEnv::new(cluster, server(files), config(), run))
}

/// A fake whose helper execs run the real `nfslab-io` on local stand-in directories, the
/// NFS server's file-access container on the export's (tests add more specific rules).
fn scripted() -> FakeCluster {
    let fake = FakeCluster::new();
    fake.run_helpers(stand_in());
    fake
}

/// The stand-in of a fresh temporary directory, the server's files mapped onto its export.
fn stand_in() -> StandIn {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = crate::k8s::stand_in::test_binary().expect("nfslab-io");
    let stand_in = StandIn::new(&binary, dir.path()).owning(Box::new(dir));
    stand_in.server_files(&server_pod(), "/exports", "/exports");
    stand_in
}

/// A fake and its stand-in, for tests that prepare files.
fn real() -> (FakeCluster, StandIn) {
    let fake = FakeCluster::new();
    let stand_in = stand_in();
    fake.run_helpers(stand_in.clone());
    (fake, stand_in)
}

fn scenario(steps: &str) -> Arc<Scenario> {
    let text = format!("id: t\ntitle: test\nsources: [unit]\ndescription: d\nsteps:\n{steps}");
    Arc::new(parse(&text, Path::new("t.yaml")).unwrap_or_else(|e| panic!("{e}")))
}

async fn run(fake: &FakeCluster, steps: &str) -> ScenarioResult {
    run_on(Arc::new(fake.clone()), steps).await
}

async fn run_on(cluster: Arc<dyn Cluster>, steps: &str) -> ScenarioResult {
    run_scenario(
        env_with(cluster, true),
        scenario(steps),
        Arc::new(super::Quiet),
        None,
    )
    .await
}

fn pvc() -> ObjectRef {
    ObjectRef::pvc(NS, "pvc1")
}

fn pv() -> ObjectRef {
    ObjectRef::pv(&format!("{PREFIX}-pv1"))
}

const APPLY_PV_PVC: &str = r#"  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolume
          metadata: {name: "{{ prefix }}-pv1"}
          spec:
            capacity: {storage: 1Gi}
            accessModes: [ReadWriteOnce]
            storageClassName: "{{ prefix }}-nfs"
            nfs: {server: "{{ nfs.server }}", path: "{{ nfs.dir }}/pv1"}
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc1}
          spec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
            storageClassName: "{{ prefix }}-nfs"
"#;

fn bind_after(fake: &FakeCluster, delay: Duration) {
    fake.on_apply(&pvc()).after(delay).merge(
        &pvc(),
        json!({"spec": {"volumeName": format!("{PREFIX}-pv1")}, "status": {"phase": "Bound"}}),
    );
}

/// The claim as the API server reports it once created: phase `Pending` (defaulting sets it
/// at creation). Seeded before the scenario applies it; the fake keeps a reported status
/// across applies.
fn pending(fake: &FakeCluster) {
    fake.set(
        &pvc(),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "pvc1", "namespace": NS}, "status": {"phase": "Pending"}}),
    );
}

/// The PV as the controller reports it: `Available`.
fn available(fake: &FakeCluster) {
    fake.set(
        &pv(),
        json!({"apiVersion": "v1", "kind": "PersistentVolume",
               "metadata": {"name": format!("{PREFIX}-pv1")}, "status": {"phase": "Available"}}),
    );
}

fn server_commands(fake: &FakeCluster) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Exec(p, _, cmd) if p == server_pod() => Some(cmd.join(" ")),
            _ => None,
        })
        .collect()
}

fn step(result: &ScenarioResult, index: usize) -> &crate::model::scenarios::StepResult {
    &result.steps[index - 1]
}

/// The failure message of a step (empty when it has none).
fn message(result: &ScenarioResult, index: usize) -> String {
    step(result, index).message.clone().unwrap_or_default()
}

fn pod_manifest(name: &str, uid: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": NS, "uid": uid, "labels": {"app": "nginx"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]},
           "status": {"phase": "Running",
                      "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
}

// ---- lifecycle -------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_passing_scenario_runs_in_its_namespace_and_cleans_up_everything() {
    let fake = scripted();
    available(&fake);
    pending(&fake);
    bind_after(&fake, Duration::from_secs(2));
    let start = Instant::now();
    let result = run(
        &fake,
        &format!(
            "{APPLY_PV_PVC}  - wait: {{object: \"pv/{{{{ prefix }}}}-pv1\", for: {{phase: Available}}}}\n  - wait: {{object: pvc/pvc1, for: {{bound-to: \"{{{{ prefix }}}}-pv1\"}}}}\n"
        ),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(result.namespace, NS);
    assert!(result.diagnosis.is_none());
    assert_eq!(step(&result, 3).duration_ms, 2000);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(step(&result, 3).observations.contains(&Observation::State {
        object: pvc().to_string(),
        state: format!("phase Bound, volumeName {PREFIX}-pv1"),
    }));
    // Applied into the scenario's namespace with the run's labels.
    let first_apply = fake
        .calls()
        .into_iter()
        .position(|c| c == Call::Apply(pvc()))
        .expect("applied");
    assert!(first_apply > 0, "the namespace comes first");
    assert_eq!(
        fake.calls()[0],
        Call::Apply(ObjectRef::cluster("v1", "Namespace", NS))
    );
    // Everything is gone afterwards, in dependency order, and the server directory too.
    assert!(fake.objects().is_empty(), "{:?}", fake.objects());
    assert_eq!(
        fake.deleted(),
        vec![pvc(), pv(), ObjectRef::cluster("v1", "Namespace", NS)]
    );
    assert!(result.cleanup.is_clean());
    let cmds = server_commands(&fake);
    assert_eq!(
        cmds.first().map(String::as_str),
        Some("/nfslab-io mkdir /exports/nfslab-t-a1b2c3 --mode 0777")
    );
    assert_eq!(
        cmds.last().map(String::as_str),
        Some("/nfslab-io rm /exports/nfslab-t-a1b2c3 -r")
    );
}

#[tokio::test(start_paused = true)]
async fn manifests_are_stamped_and_templated() {
    let fake = scripted();
    // Keep what was applied: the PV never goes away during cleanup.
    fake.on_delete(&pv()).instead();
    let result = run(&fake, APPLY_PV_PVC).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    let stored = fake.state(&pv()).expect("kept");
    assert_eq!(
        stored["spec"]["nfs"],
        json!({"server": "10.96.0.20", "path": "/exports/nfslab-t-a1b2c3/pv1"})
    );
    assert_eq!(
        stored["spec"]["storageClassName"],
        json!(format!("{PREFIX}-nfs"))
    );
    assert_eq!(
        stored["metadata"]["labels"]["nfslab.io/scenario"],
        json!("t")
    );
    assert_eq!(
        stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        json!("nfslab")
    );
    assert!(
        stored["metadata"].get("namespace").is_none(),
        "cluster-scoped"
    );
    assert_eq!(result.cleanup.leftovers.len(), 1);
    assert_eq!(result.cleanup.leftovers[0].object, pv().to_string());
}

// ---- waits, timeouts, stays --------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_wait_times_out_with_the_last_state_and_a_diagnosis() {
    let fake = scripted();
    pending(&fake);
    fake.add_event(EventRecord {
        involved: pvc(),
        type_: "Warning".into(),
        reason: "ProvisioningFailed".into(),
        message: format!("storageclass.storage.k8s.io \"{PREFIX}-nfs\" not found"),
        count: 3,
        source: "persistentvolume-controller".into(),
        last_seen: None,
    });
    let start = Instant::now();
    let result = run(
        &fake,
        &format!("{APPLY_PV_PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}, timeout: 45s}}\n  - stays: {{object: pvc/pvc1, is: {{phase: Pending}}}}\n"),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    let failed = step(&result, 2);
    assert_eq!(failed.outcome, StepOutcome::Failed);
    assert_eq!(failed.duration_ms, 45_000);
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "timed out after 45s waiting for PersistentVolumeClaim `nfslab-t-a1b2c3/pvc1`: PVC \
             phase is `Bound` (last seen: phase Pending)"
        )
    );
    assert_eq!(failed.location, "t.yaml:23:5");
    assert_eq!(step(&result, 3).outcome, StepOutcome::NotRun);
    assert!(start.elapsed() >= Duration::from_secs(45));
    let d = result.diagnosis.as_ref().expect("diagnosed");
    assert!(
        d.objects
            .iter()
            .any(|o| o.object == pvc().to_string() && o.state == "phase Pending"),
        "{d:?}"
    );
    assert!(d.events.iter().any(|e| e.reason == "ProvisioningFailed"));
    let text = result.explain();
    assert!(
        text.starts_with("step 2 `wait pvc/pvc1` (t.yaml:23:5) failed: timed out"),
        "{text}"
    );
    assert!(text.contains("Warning ProvisioningFailed"), "{text}");
    assert!(fake.objects().is_empty(), "cleanup ran after the failure");
}

#[tokio::test(start_paused = true)]
async fn a_wait_defaults_to_the_configured_timeout() {
    let fake = scripted();
    pending(&fake);
    let result = run(
        &fake,
        &format!("{APPLY_PV_PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}}}\n"),
    )
    .await;
    // `bind` is 30 s in this configuration.
    assert_eq!(step(&result, 2).duration_ms, 30_000, "{}", result.explain());
}

#[tokio::test(start_paused = true)]
async fn stays_pending_passes_after_the_window() {
    let fake = scripted();
    pending(&fake);
    let result = run(
        &fake,
        &format!(
            "{APPLY_PV_PVC}  - stays: {{object: pvc/pvc1, is: {{phase: Pending}}, for: 40s}}\n"
        ),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(step(&result, 2).duration_ms, 40_000);
}

#[tokio::test(start_paused = true)]
async fn stays_pending_fails_early_when_the_claim_binds() {
    let fake = scripted();
    pending(&fake);
    bind_after(&fake, Duration::from_secs(3));
    let start = Instant::now();
    let result = run(
        &fake,
        &format!(
            "{APPLY_PV_PVC}  - stays: {{object: pvc/pvc1, is: {{phase: Pending}}, for: 10m}}\n"
        ),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    let s = step(&result, 2);
    assert_eq!(
        s.duration_ms, 3000,
        "fails at the binding, not after 10 minutes"
    );
    assert!(
        s.message.as_deref().is_some_and(|m| m
            .contains("stopped satisfying `PVC phase is `Pending``")
            && m.contains("now: phase Bound")),
        "{:?}",
        s.message
    );
    assert!(start.elapsed() < Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn stays_records_the_controllers_events() {
    let fake = scripted();
    pending(&fake);
    fake.on_apply(&pvc()).event(EventRecord {
        involved: pvc(),
        type_: "Warning".into(),
        reason: "ProvisioningFailed".into(),
        message: "not found".into(),
        count: 1,
        source: "persistentvolume-controller".into(),
        last_seen: None,
    });
    let result = run(
        &fake,
        &format!("{APPLY_PV_PVC}  - stays: {{object: pvc/pvc1, is: {{phase: Pending}}}}\n"),
    )
    .await;
    assert_eq!(
        step(&result, 2).duration_ms,
        20_000,
        "the configured observe window"
    );
    assert!(
        step(&result, 2).observations.iter().any(
            |o| matches!(o, Observation::Event { reason, .. } if reason == "ProvisioningFailed")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn meanwhile_fails_when_the_guarded_object_breaks_first() {
    let steps = r#"  - apply:
      manifests:
        - apiVersion: apps/v1
          kind: StatefulSet
          metadata: {name: web}
          spec:
            serviceName: nginx
            replicas: 2
            selector: {matchLabels: {app: nginx}}
            template:
              metadata: {labels: {app: nginx}}
              spec: {containers: [{name: c, image: i}]}
  - wait:
      object: pod/web-0
      for: {ready: true}
      meanwhile: {object: pod/web-1, stays: {exists: false}}
"#;
    // The fake reports web-0 Ready and web-1 created at the given times after the apply.
    let set_comes_up = |web0_ready: u64, web1_created: u64| {
        let fake = scripted();
        let set = ObjectRef::namespaced("apps/v1", "StatefulSet", NS, "web");
        for (name, uid, ready, at) in [
            ("web-0", "a", true, web0_ready),
            ("web-1", "b", false, web1_created),
        ] {
            fake.on_apply(&set)
                .after(Duration::from_secs(at))
                .set(&ObjectRef::pod(NS, name), pod_manifest(name, uid, ready));
        }
        fake
    };
    // In order: web-0 Ready at 2 s, web-1 created at 3 s.
    let result = run(&set_comes_up(2, 3), steps).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    // Out of order: web-1 exists at 1 s, before web-0 is Ready.
    let racing = set_comes_up(2, 1);
    let result = run(&racing, steps).await;
    assert_eq!(result.outcome, Outcome::Failed);
    let m = message(&result, 2);
    assert!(m.starts_with("while waiting for Pod `nfslab-t-a1b2c3/web-0`: pod is Ready: Pod `nfslab-t-a1b2c3/web-1` stopped satisfying `is gone`"), "{m}");
    assert_eq!(step(&result, 2).duration_ms, 1000);
}

#[tokio::test(start_paused = true)]
async fn waits_on_selected_pods_count_the_matching_ones() {
    let fake = scripted();
    fake.set(&ObjectRef::pod(NS, "a"), pod_manifest("a", "1", true));
    let pod_b = ObjectRef::pod(NS, "b");
    fake.on_exec(&server_pod(), &[IO, "mkdir"])
        .after(Duration::from_secs(5))
        .set(&pod_b, pod_manifest("b", "2", true));
    let result = run(
        &fake,
        "  - wait: {selector: app=nginx, count: 2, for: {ready: true}, timeout: 1m}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(
        (5000..=7000).contains(&step(&result, 1).duration_ms),
        "{}",
        step(&result, 1).duration_ms
    );
    let result = run(
        &fake,
        "  - wait: {selector: app=nginx, count: 3, for: {ready: true}, timeout: 10s}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    let m = message(&result, 1);
    assert!(m.contains("(last seen: 2 of 2 matching)"), "{m}");
}

// ---- delete, scale, patch, capture ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn delete_waits_for_finalizers_and_fails_on_missing_objects() {
    let fake = scripted();
    fake.on_delete(&pvc()).times(1).instead().merge(
        &pvc(),
        json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
    );
    fake.on_delete(&pvc())
        .times(1)
        .after(Duration::from_secs(4))
        .remove(&pvc());
    let result = run(&fake, &format!("{APPLY_PV_PVC}  - delete: {{object: pvc/pvc1}}\n  - delete: {{object: pvc/pvc1, wait: false}}\n")).await;
    assert_eq!(step(&result, 2).outcome, StepOutcome::Passed);
    assert_eq!(step(&result, 2).duration_ms, 4000);
    assert_eq!(
        step(&result, 3).message.as_deref(),
        Some("PersistentVolumeClaim `nfslab-t-a1b2c3/pvc1` was already gone")
    );
}

#[tokio::test(start_paused = true)]
async fn scale_patch_and_capture_drive_later_steps() {
    let fake = scripted();
    let pvname = format!("{PREFIX}-pv1");
    pending(&fake);
    bind_after(&fake, Duration::from_millis(10));
    fake.on_apply(&pv()).after(Duration::from_millis(10)).merge(&pv(), json!({"status": {"phase": "Released"}, "spec": {"claimRef": {"namespace": NS, "name": "pvc1"}}}));
    fake.on_patch(&pv())
        .merge(&pv(), json!({"status": {"phase": "Available"}}));
    let steps = format!(
        "{APPLY_PV_PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}}}\n  - capture: {{object: pvc/pvc1, field: /spec/volumeName, as: pv}}\n  - wait: {{object: \"pv/{{{{ captured.pv }}}}\", for: {{phase: Released}}}}\n  - patch: {{object: \"pv/{{{{ captured.pv }}}}\", merge: {{spec: {{claimRef: null}}}}}}\n  - wait: {{object: \"pv/{{{{ captured.pv }}}}\", for: {{phase: Available, unclaimed: true}}}}\n"
    );
    let result = run(&fake, &steps).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(result.captured.get("pv"), Some(&pvname));
    assert!(
        fake.calls()
            .contains(&Call::Patch(pv(), json!({"spec": {"claimRef": null}})))
    );
    // Scaling patches replicas.
    let fake = scripted();
    let set = r#"  - apply:
      manifests:
        - apiVersion: apps/v1
          kind: StatefulSet
          metadata: {name: web}
          spec:
            serviceName: nginx
            selector: {matchLabels: {app: nginx}}
            template:
              metadata: {labels: {app: nginx}}
              spec: {containers: [{name: c, image: i}]}
  - scale: {object: statefulset/web, replicas: 3}
"#;
    let result = run(&fake, set).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    let web = ObjectRef::namespaced("apps/v1", "StatefulSet", NS, "web");
    assert!(
        fake.calls()
            .contains(&Call::Patch(web, json!({"spec": {"replicas": 3}})))
    );
    // A capture of something absent fails.
    let fake = scripted();
    let result = run(
        &fake,
        &format!(
            "{APPLY_PV_PVC}  - capture: {{object: pvc/pvc1, field: /spec/volumeName, as: pv}}\n"
        ),
    )
    .await;
    assert_eq!(
        step(&result, 2).message.as_deref(),
        Some("PersistentVolumeClaim `nfslab-t-a1b2c3/pvc1` has no value at `/spec/volumeName`")
    );
}

#[tokio::test(start_paused = true)]
async fn delete_pods_waits_for_fresh_ready_replacements() {
    let fake = scripted();
    let web0 = ObjectRef::pod(NS, "web-0");
    fake.set(&web0, pod_manifest("web-0", "old", true));
    fake.on_delete(&web0)
        .after(Duration::from_secs(3))
        .set(&web0, pod_manifest("web-0", "new", true));
    let result = run(&fake, "  - delete-pods: {selector: app=nginx}\n").await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(
        (3000..=5000).contains(&step(&result, 1).duration_ms),
        "{}",
        step(&result, 1).duration_ms
    );
    // No replacement: fails when the step's time is up.
    let fake = scripted();
    fake.set(&web0, pod_manifest("web-0", "old", true));
    let result = run(
        &fake,
        "  - delete-pods: {selector: app=nginx, timeout: 30s}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert!(step(&result, 1).message.as_deref().is_some_and(|m| {
        m.starts_with("timed out after 30s waiting for 1 new Ready pod(s) `app=nginx`")
    }));
    // Nothing to delete.
    let result = run(&fake, "  - delete-pods: {selector: app=nothing}\n").await;
    assert_eq!(
        step(&result, 1).message.as_deref(),
        Some("no running pod matches `app=nothing` in namespace `nfslab-t-a1b2c3`")
    );
}

// ---- exec, http, mount options, logs -------------------------------------------------------

const CLIENT: &str = r#"  - apply:
      manifests:
        - apiVersion: v1
          kind: Pod
          metadata: {name: client}
          spec: {containers: [{name: c, image: "{{ images.io }}", args: [sleep]}]}
"#;

fn client() -> ObjectRef {
    ObjectRef::pod(NS, "client")
}

#[tokio::test(start_paused = true)]
async fn exec_checks_exit_code_and_output() {
    let (fake, stand_in) = real();
    std::fs::write(stand_in.pod_file(&client(), "/data/a"), "kept\n").expect("a");
    let ok = format!(
        "{CLIENT}  - exec: {{pod: client, io: [file, cat, /data/a], expect: {{stdout: \"kept\\n\"}}}}\n  - exec: {{pod: client, io: [file, cat, /data/missing], expect: {{fails: true}}}}\n"
    );
    let result = run(&fake, &ok).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(step(&result, 2).observations.contains(&Observation::Exec {
        pod: format!("{NS}/client"),
        command: vec![IO.into(), "file".into(), "cat".into(), "/data/a".into()],
        exit_code: 0,
        stdout: "kept\n".into(),
        stderr: String::new(),
    }));
    let wrong = format!(
        "{CLIENT}  - exec: {{pod: client, io: [file, cat, /data/a], expect: {{stdout: other}}}}\n"
    );
    let result = run(&fake, &wrong).await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        step(&result, 2).message.as_deref(),
        Some(
            "`/nfslab-io file cat /data/a` in Pod `nfslab-t-a1b2c3/client`: stdout is \"kept\\n\", expected \"other\""
        )
    );
    let code = format!("{CLIENT}  - exec: {{pod: client, io: [file, cat, /data/missing]}}\n");
    let result = run(&fake, &code).await;
    let m = message(&result, 2);
    assert!(
        m.ends_with(
            "exit code 2, expected 0; stderr: error: cannot read `/data/missing`: No such file or \
             directory (os error 2)"
        ),
        "{m}"
    );
    let unexpected = format!(
        "{CLIENT}  - exec: {{pod: client, io: [file, cat, /data/a], expect: {{fails: true}}}}\n"
    );
    let result = run(&fake, &unexpected).await;
    let m = message(&result, 2);
    assert!(m.contains("it succeeded, expected it to fail"), "{m}");
}

#[tokio::test(start_paused = true)]
async fn exec_in_all_selected_pods_and_unstarted_commands_are_environment_errors() {
    let (fake, stand_in) = real();
    for (name, uid, content) in [("a", "1", "x"), ("b", "2", "y")] {
        let pod = ObjectRef::pod(NS, name);
        fake.set(&pod, pod_manifest(name, uid, true));
        std::fs::write(stand_in.pod_file(&pod, "/f"), content).expect("f");
    }
    let result = run(
        &fake,
        "  - exec: {selector: app=nginx, all: true, io: [file, cat, /f], expect: {stdout: x}}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    let m = message(&result, 1);
    assert!(m.contains("Pod `nfslab-t-a1b2c3/b`"), "{m}");
    // A command the cluster cannot start is the environment's fault, not an assertion.
    let result = run(
        &fake,
        "  - exec: {selector: app=nginx, command: [sleep, \"1\"]}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Error, "{}", result.explain());
}

#[tokio::test(start_paused = true)]
async fn exec_that_hangs_is_bounded_by_the_step_timeout() {
    let fake = scripted();
    let result = run_on(
        wrapped(&fake, None, Some("hang")),
        &format!("{CLIENT}  - exec: {{pod: client, command: [hang], timeout: 7s}}\n"),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(step(&result, 2).duration_ms, 7000);
    let m = message(&result, 2);
    assert!(m.contains("did not finish within 7s"), "{m}");
}

#[tokio::test(start_paused = true)]
async fn http_get_retries_until_the_body_matches() {
    let (fake, stand_in) = real();
    let get = [IO, "get", "http://nginx.nfslab-t-a1b2c3.svc/index.html"];
    // Nobody answers the first request (the real client's connection is refused); the web
    // pod is Ready 100 ms later and serves its page.
    let web = ObjectRef::pod(NS, "web");
    let mut manifest = pod_manifest("web", "w1", true);
    manifest["metadata"]["labels"] = json!({"app": "nginx"});
    manifest["spec"]["containers"][0]["args"] =
        json!(["serve", "--dir", "/usr/share/nginx/html", "--port", "80"]);
    std::fs::write(
        stand_in.pod_file(&web, "/usr/share/nginx/html/index.html"),
        "HelloWorld\n222222\n",
    )
    .expect("page");
    stand_in.route("nginx.nfslab-t-a1b2c3.svc", NS, "app=nginx");
    fake.on_exec(&client(), &get)
        .times(1)
        .after(Duration::from_millis(100))
        .set(&web, manifest);
    let steps = |body: &str| {
        format!(
            "{CLIENT}  - http-get: {{pod: client, url: \"http://nginx.{{{{ namespace }}}}.svc/index.html\", expect: {{body: \"{body}\"}}, timeout: 20s}}\n"
        )
    };
    let result = run(&fake, &steps("HelloWorld\\n222222\\n")).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    // One pause of 200 ms before the second attempt; only the last attempt is kept.
    assert_eq!(step(&result, 2).duration_ms, 200);
    let execs = step(&result, 2)
        .observations
        .iter()
        .filter(|o| matches!(o, Observation::Exec { .. }))
        .count();
    assert_eq!(execs, 1);
    // A body that never comes fails when the time is up, with the last answer.
    let start = Instant::now();
    let result = run(&fake, &steps("other")).await;
    assert_eq!(
        step(&result, 2).message.as_deref(),
        Some(
            "GET http://nginx.nfslab-t-a1b2c3.svc/index.html returned \"HelloWorld\\n222222\\n\", expected \"other\" (still after 20s)"
        )
    );
    assert!(
        start.elapsed() >= Duration::from_secs(18),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn mount_options_are_recorded_and_checked() {
    let (fake, stand_in) = real();
    // The client mounts the export inline at /opt; the kernel lists it as NFSv3.
    const CLIENT: &str = r#"  - apply:
      manifests:
        - apiVersion: v1
          kind: Pod
          metadata: {name: client}
          spec:
            containers:
              - {name: c, image: "{{ images.io }}", args: [sleep],
                 volumeMounts: [{name: nfs, mountPath: /opt}]}
            volumes: [{name: nfs, nfs: {server: 10.96.0.20, path: /exports/x}}]
"#;
    stand_in.kernel_mount(
        "10.96.0.20:/exports/x",
        "nfs",
        "rw,vers=3,rsize=262144,wsize=262144,namlen=255,hard,nolock,proto=tcp,timeo=600,\
         retrans=2,sec=sys,mountaddr=10.96.0.20,mountvers=3,mountport=20048,mountproto=tcp,\
         local_lock=all,addr=10.96.0.20",
    );
    let steps = |contains: &str, absent: &str| {
        format!(
            "{CLIENT}  - mount-options: {{pod: client, path: /opt, requested: \"vers=3,rsize=1048576,hard\", expect: {{nfs: true, contains: [{contains}], absent: [{absent}]}}}}\n"
        )
    };
    let result = run(&fake, &steps("vers=3, hard", "soft")).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(result.mounts.len(), 1);
    let m = &result.mounts[0];
    assert_eq!(m.pod, format!("{NS}/client"));
    assert_eq!(
        m.requested,
        Some(vec!["vers=3".into(), "rsize=1048576".into(), "hard".into()])
    );
    assert!(m.super_options.contains(&"rsize=262144".to_owned()));
    let result = run(&fake, &steps("vers=3", "hard")).await;
    assert_eq!(
        step(&result, 2).message.as_deref(),
        Some(
            "option `hard` is in effect on `/opt` in Pod `nfslab-t-a1b2c3/client`, expected it absent"
        )
    );
    let result = run(&fake, &steps("vers=3, soft", "")).await;
    let m = message(&result, 2);
    assert!(m.starts_with("option `soft` is not in effect"), "{m}");
}

#[tokio::test(start_paused = true)]
async fn logs_are_recorded_from_completed_pods() {
    let fake = scripted();
    let job_pod = ObjectRef::pod(NS, "writer-hard-x");
    let mut pod = pod_manifest("writer-hard-x", "1", false);
    pod["metadata"]["labels"] = json!({"job-name": "writer-hard"});
    pod["status"]["phase"] = json!("Succeeded");
    fake.set(&job_pod, pod);
    fake.set_logs(&job_pod, None, "a\nb\n{\"verified\": true}");
    let result = run(
        &fake,
        "  - logs: {selector: job-name=writer-hard, tail: 2, contains: verified}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(step(&result, 1).observations.contains(&Observation::Log {
        pod: format!("{NS}/writer-hard-x"),
        container: None,
        lines: vec!["b".into(), "{\"verified\": true}".into()],
    }));
    let result = run(
        &fake,
        "  - logs: {selector: job-name=writer-hard, tail: 1, contains: nowhere}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
}

// ---- server-side files -----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn server_steps_check_files_on_the_export() {
    let fake = scripted();
    let dir = "/exports/nfslab-t-a1b2c3";
    // The scenario's directory is made at its start and removed at its end: each run below
    // prepares what it checks.
    // Made by the stand-in server's helper, run by this process.
    let owner = format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid());
    let setup = r#"  - server-mkdir: {path: pv1, mode: "0755"}
  - server-write: {path: pv1/index.html, content: "HelloWorld\n"}
  - server-write: {path: pv1/index.html, content: "222222\n", append: true}
  - server-write: {path: pv1/.hidden, content: ""}
  - server-mkdir: {path: archived-x}
"#;
    let steps = format!(
        "{setup}  - server-expect: {{path: pv1/index.html, content: \"HelloWorld\\n222222\\n\"}}
  - server-expect: {{path: pv1, entries: [index.html, .hidden]}}
  - server-expect: {{path: archived-x, exists: true}}
  - server-expect: {{path: gone, exists: false}}
  - server-expect: {{path: pv1, owner: \"{owner}\"}}
"
    );
    let result = run(&fake, &steps).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    let cmds = server_commands(&fake);
    assert!(cmds.contains(&format!("/nfslab-io mkdir {dir}/pv1 --mode 0755")));
    assert!(cmds.contains(&format!(
        "/nfslab-io file write {dir}/pv1/index.html --content HelloWorld\n"
    )));
    for (check, message) in [
        (
            "{path: pv1, empty: true}",
            "`nfslab-t-a1b2c3/pv1` is not empty: .hidden, index.html",
        ),
        (
            "{path: archived-x, exists: false}",
            "`nfslab-t-a1b2c3/archived-x` still exists on the NFS server",
        ),
        (
            "{path: pv1/index.html, content: other}",
            "`nfslab-t-a1b2c3/pv1/index.html` holds \"HelloWorld\\n222222\\n\", expected \"other\"",
        ),
        (
            "{path: pv1, entries: [SUCCESS]}",
            "`nfslab-t-a1b2c3/pv1` lacks `SUCCESS` (it holds: .hidden, index.html)",
        ),
        (
            "{path: nothing/SUCCESS, exists: true}",
            "`nfslab-t-a1b2c3/nothing/SUCCESS` does not exist on the NFS server",
        ),
        (
            "{path: pv1, owner: \"4242:4343\"}",
            &format!("`nfslab-t-a1b2c3/pv1` is owned by {owner}, expected 4242:4343"),
        ),
        (
            "{path: nothing, owner: \"0:0\"}",
            "`nfslab-t-a1b2c3/nothing` does not exist on the NFS server",
        ),
    ] {
        let result = run(&fake, &format!("{setup}  - server-expect: {check}\n")).await;
        assert_eq!(result.outcome, Outcome::Failed, "{check}");
        assert_eq!(
            step(&result, 6).message.as_deref(),
            Some(message),
            "{check}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn server_wait_passes_or_fails_with_the_helper() {
    let fake = scripted();
    let result = run(
        &fake,
        "  - server-mkdir: {path: hard}\n  - server-write: {path: hard/data, content: x}\n  - server-wait: {path: hard/data, timeout: 20s}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(server_commands(&fake).contains(
        &"/nfslab-io wait-file /exports/nfslab-t-a1b2c3/hard/data --timeout 20s".to_owned()
    ));
    // The helper really waits: one second here, for a file that never comes.
    let result = run(&fake, "  - server-wait: {path: soft/data, timeout: 1s}\n").await;
    assert_eq!(
        step(&result, 1).message.as_deref(),
        Some("`nfslab-t-a1b2c3/soft/data` did not appear on the NFS server within 1s")
    );
}

// ---- events --------------------------------------------------------------------------------

fn recycle_event(reason: &str, message: &str) -> EventRecord {
    EventRecord {
        involved: pv(),
        type_: "Warning".into(),
        reason: reason.into(),
        message: message.into(),
        count: 1,
        source: "persistentvolume-controller".into(),
        last_seen: None,
    }
}

#[tokio::test(start_paused = true)]
async fn expect_event_waits_for_a_matching_event() {
    let fake = scripted();
    fake.on_apply(&pv())
        .after(Duration::from_secs(1))
        .event(recycle_event(
            "RecyclerPod",
            "Recycler pod: Successfully assigned default/pv-recycler-nfs-x",
        ));
    fake.on_apply(&pv())
        .after(Duration::from_secs(9))
        .event(recycle_event(
            "VolumeFailedRecycle",
            "Recycle failed: pod failed",
        ));
    let steps = format!(
        "{APPLY_PV_PVC}  - expect-event: {{object: \"pv/{{{{ prefix }}}}-pv1\", reason: VolumeFailedRecycle, message: Recycle failed, type: Warning, timeout: 1m}}\n"
    );
    let result = run(&fake, &steps).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(
        (9000..=11_000).contains(&step(&result, 2).duration_ms),
        "{}",
        step(&result, 2).duration_ms
    );
    assert!(step(&result, 2).observations.iter().any(|o| matches!(o, Observation::Event { message, .. } if message == "Recycle failed: pod failed")));
    // Another reason never comes: fails at the timeout, naming what was seen.
    let fake = scripted();
    fake.on_apply(&pv())
        .event(recycle_event("RecyclerPod", "Recycler pod: x"));
    let steps = format!(
        "{APPLY_PV_PVC}  - expect-event: {{object: \"pv/{{{{ prefix }}}}-pv1\", reason: VolumeRecycled, timeout: 30s}}\n"
    );
    let result = run(&fake, &steps).await;
    assert_eq!(step(&result, 2).duration_ms, 30_000);
    let m = message(&result, 2);
    assert!(
        m.contains("(last seen: RecyclerPod \"Recycler pod: x\")"),
        "{m}"
    );
}

#[tokio::test(start_paused = true)]
async fn expect_event_in_a_namespace() {
    let fake = scripted();
    fake.add_event(EventRecord {
        involved: ObjectRef::pod("default", "pv-recycler-nfs-abc"),
        type_: "Warning".into(),
        reason: "FailedMount".into(),
        message: "MountVolume.SetUp failed".into(),
        count: 1,
        source: "kubelet".into(),
        last_seen: None,
    });
    let result = run(
        &fake,
        "  - expect-event: {namespace: default, reason: FailedMount, message: SetUp}\n",
    )
    .await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert!(fake.calls().contains(&Call::EventsIn("default".into())));
}

// ---- provisioner and server restart -------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn deploy_provisioner_applies_its_objects_and_waits_for_the_deployment() {
    let fake = scripted();
    let dep = ObjectRef::namespaced("apps/v1", "Deployment", NS, "nfs-client-provisioner");
    fake.on_apply(&dep).after(Duration::from_secs(6)).merge(&dep, json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "availableReplicas": 1}}));
    let steps = format!(
        "  - deploy-provisioner: {{provisioner: \"{{{{ prefix }}}}/nfs-subdir-external-provisioner\"}}\n{APPLY_PV_PVC}"
    );
    let result = run(&fake, &steps).await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(step(&result, 1).duration_ms, 6000);
    let applied = fake
        .calls()
        .iter()
        .filter(|c| **c == Call::Apply(dep.clone()))
        .count();
    assert_eq!(applied, 1);
    // The provisioner outlives the claims at cleanup: it must delete their volumes.
    let order = fake.deleted();
    let pos = |r: &ObjectRef| order.iter().position(|x| x == r).expect("deleted");
    assert!(pos(&pvc()) < pos(&dep), "{order:?}");
    assert!(pos(&pv()) < pos(&dep), "{order:?}");
    let role = ObjectRef::cluster(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &format!("{PREFIX}-nfs-client-provisioner-runner"),
    );
    assert!(order.contains(&role));
}

#[tokio::test(start_paused = true)]
async fn restart_nfs_server_waits_for_the_replacement() {
    let fake = scripted();
    let pod = server_pod();
    fake.set(&pod, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod.name, "namespace": "nfslab-system", "uid": "old"}}));
    fake.on_delete(&pod).after(Duration::from_secs(8)).set(
        &pod,
        json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": "nfslab-system", "uid": "new"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let result = run(&fake, "  - restart-nfs-server: {}\n").await;
    assert_eq!(result.outcome, Outcome::Passed, "{}", result.explain());
    assert_eq!(step(&result, 1).duration_ms, 8000);
}

// ---- requirements, panics, interruption, limits ------------------------------------------

#[tokio::test(start_paused = true)]
async fn scenarios_needing_server_files_are_skipped_without_them() {
    let fake = scripted();
    let result = run_scenario(
        env_with(Arc::new(fake.clone()), false),
        scenario("  - server-mkdir: {path: pv1}\n"),
        Arc::new(super::Quiet),
        None,
    )
    .await;
    assert_eq!(result.outcome, Outcome::Skipped);
    assert!(
        result
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("no file access"))
    );
    assert!(fake.calls().is_empty(), "nothing touched the cluster");
    assert_eq!(result.steps[0].outcome, StepOutcome::NotRun);
    let restart = run_scenario(
        env_with(Arc::new(fake.clone()), false),
        scenario("  - restart-nfs-server: {}\n"),
        Arc::new(super::Quiet),
        None,
    )
    .await;
    assert_eq!(restart.outcome, Outcome::Skipped);
}

/// `fake`, except that exec panics on commands naming `panic_on` and hangs on those naming
/// `hang_on`.
fn wrapped(
    fake: &FakeCluster,
    panic_on: Option<&'static str>,
    hang_on: Option<&'static str>,
) -> Arc<dyn Cluster> {
    Arc::new(Wrapped {
        inner: fake.clone(),
        panic_on,
        hang_on,
    })
}

/// A cluster that panics or hangs on chosen exec commands, otherwise the fake.
struct Wrapped {
    inner: FakeCluster,
    panic_on: Option<&'static str>,
    hang_on: Option<&'static str>,
}

#[async_trait]
impl Cluster for Wrapped {
    async fn apply(&self, manifest: &Value) -> ClusterResult<Value> {
        self.inner.apply(manifest).await
    }
    async fn patch_merge(&self, object: &ObjectRef, patch: &Value) -> ClusterResult<Value> {
        self.inner.patch_merge(object, patch).await
    }
    async fn delete(&self, object: &ObjectRef, propagation: Propagation) -> ClusterResult<bool> {
        self.inner.delete(object, propagation).await
    }
    async fn get(&self, object: &ObjectRef) -> ClusterResult<Option<Value>> {
        self.inner.get(object).await
    }
    async fn list(
        &self,
        a: &str,
        k: &str,
        n: Option<&str>,
        s: Option<&str>,
    ) -> ClusterResult<Vec<Value>> {
        self.inner.list(a, k, n, s).await
    }
    fn watch(&self, object: &ObjectRef) -> StateStream {
        self.inner.watch(object)
    }
    async fn exec(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        command: &[String],
        stdin: Option<Vec<u8>>,
    ) -> ClusterResult<ExecOutput> {
        if self
            .panic_on
            .is_some_and(|p| command.iter().any(|c| c == p))
        {
            panic!("engine bug while running {}", command.join(" "));
        }
        if self.hang_on.is_some_and(|p| command.iter().any(|c| c == p)) {
            std::future::pending::<()>().await;
        }
        self.inner.exec(pod, container, command, stdin).await
    }
    async fn logs(
        &self,
        pod: &ObjectRef,
        container: Option<&str>,
        tail: Option<i64>,
        previous: bool,
    ) -> ClusterResult<String> {
        self.inner.logs(pod, container, tail, previous).await
    }
    async fn events_for(&self, object: &ObjectRef) -> ClusterResult<Vec<EventRecord>> {
        self.inner.events_for(object).await
    }
    async fn events_in(&self, namespace: &str) -> ClusterResult<Vec<EventRecord>> {
        self.inner.events_in(namespace).await
    }
}

#[tokio::test(start_paused = true)]
async fn cleanup_runs_after_a_panic() {
    let fake = scripted();
    let result = run_on(
        wrapped(&fake, Some("boom"), None),
        &format!("{APPLY_PV_PVC}{CLIENT}  - exec: {{pod: client, command: [boom]}}\n"),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Error);
    assert_eq!(
        result.reason.as_deref(),
        Some("the engine panicked during step 3: engine bug while running boom")
    );
    assert_eq!(
        result.steps[0].outcome,
        StepOutcome::Passed,
        "results of earlier steps survive"
    );
    assert!(result.diagnosis.is_some());
    assert!(
        fake.objects().is_empty(),
        "cleanup ran: {:?}",
        fake.objects()
    );
    assert!(fake.deleted().contains(&client()));
    assert!(
        server_commands(&fake)
            .last()
            .is_some_and(|c| c.starts_with("/nfslab-io rm "))
    );
}

#[tokio::test(start_paused = true)]
async fn interruption_stops_the_scenario_and_cleans_up() {
    let fake = scripted();
    pending(&fake);
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let _ = tx.send(true);
    });
    let result = run_scenario(
        env_with(Arc::new(fake.clone()), true),
        scenario(&format!(
            "{APPLY_PV_PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}, timeout: 1h}}\n"
        )),
        Arc::new(super::Quiet),
        Some(rx),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Interrupted);
    assert!(fake.objects().is_empty());
    assert_eq!(result.steps[1].outcome, StepOutcome::NotRun);
    // The next scenario does not start at all.
    let (_tx, rx) = tokio::sync::watch::channel(true);
    let fake2 = scripted();
    let result = run_scenario(
        env_with(Arc::new(fake2.clone()), true),
        scenario(APPLY_PV_PVC),
        Arc::new(super::Quiet),
        Some(rx),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Interrupted);
    assert!(fake2.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_scenario_time_limit_stops_it() {
    let fake = scripted();
    pending(&fake);
    let text = format!(
        "id: t\ntitle: test\nsources: [unit]\ndescription: d\ntimeout: 20s\nsteps:\n{APPLY_PV_PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}, timeout: 1h}}\n"
    );
    let s = Arc::new(parse(&text, Path::new("t.yaml")).expect("valid"));
    let start = Instant::now();
    let result = run_scenario(
        env_with(Arc::new(fake.clone()), true),
        s,
        Arc::new(super::Quiet),
        None,
    )
    .await;
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(
        result.reason.as_deref(),
        Some("the scenario exceeded its time limit of 20s")
    );
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(fake.objects().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_namespace_that_cannot_be_created_is_an_environment_error() {
    let fake = scripted();
    fake.on_apply(&ObjectRef::cluster("v1", "Namespace", NS))
        .fail(crate::k8s::ClusterError::Unreachable {
            verb: "apply".into(),
            object: "Namespace".into(),
            source: Arc::new(std::io::Error::other("connection refused")),
        });
    let result = run(&fake, APPLY_PV_PVC).await;
    assert_eq!(result.outcome, Outcome::Error);
    assert!(
        result
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("could not create namespace `nfslab-t-a1b2c3`"))
    );
}

// ---- many scenarios -----------------------------------------------------------------------

#[derive(Default)]
struct Counting {
    running: AtomicUsize,
    peak: AtomicUsize,
    steps: Mutex<Vec<String>>,
}

impl Reporter for Counting {
    fn report(&self, event: Event<'_>) {
        let Event::Scenario(event) = event else {
            return;
        };
        match event {
            ScenarioEvent::ScenarioStarted { .. } => {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(now, Ordering::SeqCst);
            }
            ScenarioEvent::ScenarioFinished { .. } => {
                self.running.fetch_sub(1, Ordering::SeqCst);
            }
            ScenarioEvent::StepFinished { id, result } => {
                self.steps
                    .lock()
                    .expect("lock")
                    .push(format!("{id}:{}", result.index));
            }
            ScenarioEvent::StepStarted { .. } | ScenarioEvent::CleanupStarted { .. } => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn run_all_bounds_parallelism_and_keeps_the_order() {
    let fake = scripted();
    let scenarios: Vec<Arc<Scenario>> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| {
            let text = format!("id: {id}\ntitle: {id}\nsources: [unit]\ndescription: d\nsteps:\n  - apply: {{manifests: [{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}]}}\n  - stays: {{object: configmap/c, is: {{exists: true}}, for: 5s}}\n");
            Arc::new(parse(&text, Path::new(&format!("{id}.yaml"))).expect("valid"))
        })
        .collect();
    let observer = Arc::new(Counting::default());
    let results = run_all(
        env_with(Arc::new(fake.clone()), true),
        scenarios,
        RunOptions {
            parallel: 2,
            interrupt: None,
        },
        observer.clone(),
    )
    .await;
    assert_eq!(
        results.summary.passed,
        4,
        "{:?}",
        results
            .scenarios
            .iter()
            .map(ScenarioResult::explain)
            .collect::<Vec<_>>()
    );
    let ids: Vec<&str> = results.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c", "d"]);
    assert_eq!(observer.peak.load(Ordering::SeqCst), 2);
    // Two rounds of two scenarios holding for 5 s each.
    assert_eq!(results.duration_ms, 10_000);
    assert_eq!(observer.steps.lock().expect("lock").len(), 8);
    assert_eq!(results.schema_version, 1);
    assert_eq!(results.environment.nfs_address, "10.96.0.20");
    assert!(results.all_passed());
    let text = serde_json::to_string(&results).expect("serializes");
    let back: super::RunResults = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, results);
}

/// Records when (virtual seconds from the start) each scenario started and finished, and
/// how many ran beside it at its start.
struct Timeline {
    origin: Instant,
    running: AtomicUsize,
    events: Mutex<Vec<(String, &'static str, u64, usize)>>,
}

impl Reporter for Timeline {
    fn report(&self, event: Event<'_>) {
        let at = self.origin.elapsed().as_secs();
        let Event::Scenario(event) = event else {
            return;
        };
        let (id, what, running) = match event {
            ScenarioEvent::ScenarioStarted { id, .. } => (
                id.to_owned(),
                "start",
                self.running.fetch_add(1, Ordering::SeqCst) + 1,
            ),
            ScenarioEvent::ScenarioFinished { result } => (
                result.id.clone(),
                "end",
                self.running.fetch_sub(1, Ordering::SeqCst) - 1,
            ),
            _ => return,
        };
        self.events
            .lock()
            .expect("lock")
            .push((id, what, at, running));
    }
}

fn holding(id: &str, extra: &str) -> Arc<Scenario> {
    let text = format!(
        "id: {id}\ntitle: {id}\nsources: [unit]\ndescription: d\n{extra}steps:\n  - apply: {{manifests: [{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}]}}\n  - stays: {{object: configmap/c, is: {{exists: true}}, for: 5s}}\n"
    );
    Arc::new(parse(&text, Path::new(&format!("{id}.yaml"))).expect("valid"))
}

#[tokio::test(start_paused = true)]
async fn exclusive_scenarios_run_alone_after_the_others() {
    let fake = scripted();
    // Given in this order; `x` and `y` must run alone (as one restarting the server must).
    let scenarios = vec![
        holding("a", ""),
        holding("x", "exclusive: true\n"),
        holding("b", ""),
        holding("y", "exclusive: true\n"),
        holding("c", ""),
    ];
    let observer = Arc::new(Timeline {
        origin: Instant::now(),
        running: AtomicUsize::new(0),
        events: Mutex::new(Vec::new()),
    });
    let results = run_all(
        env_with(Arc::new(fake.clone()), true),
        scenarios,
        RunOptions {
            parallel: 6,
            interrupt: None,
        },
        observer.clone(),
    )
    .await;
    assert!(results.all_passed(), "{:?}", results.summary);
    let ids: Vec<&str> = results.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["a", "x", "b", "y", "c"],
        "results keep the order given"
    );
    let events = observer.events.lock().expect("lock").clone();
    let at = |id: &str, what: &str| {
        events
            .iter()
            .find(|(i, w, _, _)| i == id && *w == what)
            .map(|e| (e.2, e.3))
            .expect("event")
    };
    // a, b and c together for 5 s; then x alone; then y alone.
    for id in ["a", "b", "c"] {
        assert_eq!(at(id, "start").0, 0, "{events:?}");
        assert_eq!(at(id, "end").0, 5, "{events:?}");
    }
    assert_eq!(
        at("x", "start"),
        (5, 1),
        "x starts once a, b, c ended: {events:?}"
    );
    assert_eq!(at("x", "end").0, 10, "{events:?}");
    assert_eq!(at("y", "start"), (10, 1), "y waits for x: {events:?}");
    assert_eq!(results.duration_ms, 15_000);
}

#[tokio::test(start_paused = true)]
async fn the_gate_lets_ordinary_scenarios_share_and_an_exclusive_one_wait() {
    let gate = Arc::new(super::engine::Gate::new());
    let ordinary = holding("a", "");
    let alone = holding("x", "exclusive: true\n");
    let first = gate.enter(&ordinary).await;
    let second = gate.enter(&ordinary).await;
    assert!(matches!(first, super::engine::GatePass::Shared(_)));
    // The exclusive one waits while the two run, and a later ordinary one waits behind it.
    let exclusive = {
        let (gate, alone) = (Arc::clone(&gate), Arc::clone(&alone));
        tokio::spawn(async move {
            let _pass = gate.enter(&alone).await;
            let entered = Instant::now();
            tokio::time::sleep(Duration::from_secs(5)).await;
            entered
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = {
        let (gate, ordinary) = (Arc::clone(&gate), Arc::clone(&ordinary));
        tokio::spawn(async move {
            let _pass = gate.enter(&ordinary).await;
            Instant::now()
        })
    };
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(first);
    drop(second);
    let entered = exclusive.await.expect("exclusive");
    let later = later.await.expect("later");
    assert_eq!(entered - start, Duration::from_secs(2), "once both ended");
    assert_eq!(
        later - entered,
        Duration::from_secs(5),
        "not beside the exclusive one"
    );
}
