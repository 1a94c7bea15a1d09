//! Tests of the main job's logic against the scripted fake cluster: every phase interrupted
//! ends with exit 130 and nothing labelled by the run left; a preflight failure creates
//! nothing; failures and the report reach the user. The fake runs no controllers, so a
//! claim never binds unless a test says so: that is how a phase is held open to be
//! interrupted.
//!
//! Whatever phase a run is interrupted in or fails in, it leaves nothing `nfslab clean`
//! cannot find (no object without our labels, such as a PV controller's recycler pod), and
//! after `nfslab clean --all` nothing at all ([`leaves_nothing_unfindable`]). The provider's
//! tear-down is the real order ([`environment::remove_run_then_servers`]): what the run
//! left first, the NFS server once that is gone.
//!
//! `nfslab scenarios run` and `nfslab bench` go through the same orchestrator; their works
//! are run here against the same fake provider.

use std::path::Path;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use futures::future::BoxFuture;

use crate::cluster::ClusterSetupError;
use crate::cluster::preflight::Problem;
use crate::k8s::Cluster;
use crate::k8s::clean::{self, Scope};
use crate::k8s::fake::{Call, FakeCluster};
use crate::k8s::ownership::{MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL};
use crate::k8s::{ClusterError, ObjectRef};
use crate::model::plan::parse_plan;
use crate::nfs::NfsServer;
use crate::orchestrate::{Lines, Provider};
use crate::progress::Quiet as NoProgress;
use crate::scenario::Quiet;
use crate::scenario::load::parse;

const RUN: &str = "20261123-160000-c0ffee";

fn run_id() -> RunId {
    RunId::parse(RUN).expect("valid")
}

/// Stands in for the NFS server deployment: one namespace labelled as the real server's
/// (nfslab's, belonging to no run).
fn server_namespace() -> ObjectRef {
    ObjectRef::cluster("v1", "Namespace", "nfslab-nfs-fake")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bring {
    /// Ready at once.
    Ready,
    /// Deploys the server, then waits until interrupted (a server that never gets ready).
    Hang,
    /// Deploys the server, which does not become ready: removed again, an error.
    NotReady,
    /// Preflight fails: nothing is created.
    Preflight,
}

struct FakeProvider {
    fake: FakeCluster,
    bring: Bring,
    torn_down: StdMutex<usize>,
    /// What happened after the phases, in order: `evidence`, `keep`, `tear-down`.
    after: StdMutex<Vec<&'static str>>,
    config: Config,
}

impl FakeProvider {
    fn new(fake: &FakeCluster, bring: Bring) -> Self {
        let mut config = Config::default();
        config.timeouts.cleanup = Duration::from_secs(60);
        Self {
            fake: fake.clone(),
            bring,
            torn_down: StdMutex::new(0),
            after: StdMutex::new(Vec::new()),
            config,
        }
    }

    /// What the real environment does when preparing fails: removes the server it deployed.
    async fn abandon(&self, progress: &Lines<'_>) {
        let _ = environment::remove_run_then_servers(
            &self.fake,
            None,
            &[server_namespace().name],
            &self.config,
            progress,
        )
        .await;
    }
}

#[async_trait]
impl Provider for FakeProvider {
    type Request = environment::Request;
    type Staged = Staged;

    async fn bring_up(
        &self,
        _request: &environment::Request,
        interrupt: BoxFuture<'static, ()>,
        progress: &Lines<'_>,
    ) -> Result<Staged, EnvironmentError> {
        if self.bring == Bring::Preflight {
            return Err(EnvironmentError::Cluster(ClusterSetupError::Preflight {
                problems: vec![Problem {
                    subject: "kind".to_owned(),
                    what: "not found on PATH".to_owned(),
                    why: "nfslab creates its cluster with the kind CLI".to_owned(),
                    fix: "install kind".to_owned(),
                }],
            }));
        }
        progress("deploying the fake NFS server");
        let ns = json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": server_namespace().name,
                                     "labels": {MANAGED_BY_LABEL: MANAGED_BY}}});
        self.fake
            .apply(&ns)
            .await
            .map_err(EnvironmentError::Unreachable)?;
        match self.bring {
            Bring::Hang => {
                interrupt.await;
                self.abandon(progress).await;
                return Err(EnvironmentError::Interrupted { left: Vec::new() });
            }
            Bring::NotReady => {
                tokio::time::sleep(Duration::from_secs(180)).await;
                self.abandon(progress).await;
                return Err(EnvironmentError::Unreachable(ClusterError::Invalid {
                    object: server_namespace().to_string(),
                    detail: "the NFS server did not become ready".to_owned(),
                }));
            }
            Bring::Ready | Bring::Preflight => {}
        }
        Ok(Staged {
            cluster: Arc::new(self.fake.clone()),
            servers: vec![NfsServer {
                flavor: ServerFlavor::External,
                address: "10.0.0.5".to_owned(),
                export: "/vol".to_owned(),
                files: None,
            }],
            info: EnvironmentRecord {
                cluster: "fake cluster".to_owned(),
                ..EnvironmentRecord::default()
            },
        })
    }

    async fn evidence(&self, dir: &Path, failure: &str) -> Option<Vec<String>> {
        if let Ok(mut a) = self.after.lock() {
            a.push("evidence");
        }
        // The real collector, on the fake cluster as the run left it.
        let tools = crate::cluster::tools::scripted::ScriptedTools::with(&[]);
        let evidence = crate::cluster::debug::Evidence {
            cluster: Some(&self.fake),
            kind: None,
            tools: &tools,
            failure,
            manifests: Vec::new(),
        };
        Some(crate::cluster::debug::collect(&evidence, dir).await)
    }

    async fn keep(&self) -> Vec<String> {
        if let Ok(mut a) = self.after.lock() {
            a.push("keep");
        }
        vec![format!(
            "NFS server namespace `{}`",
            server_namespace().name
        )]
    }

    async fn tear_down(&self, run: &RunId, progress: &Lines<'_>) -> Result<(), EnvironmentError> {
        if let Ok(mut a) = self.after.lock() {
            a.push("tear-down");
        }
        // Removing a server takes a while on a real cluster: long enough to be interrupted.
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Ok(mut n) = self.torn_down.lock() {
            *n += 1;
        }
        environment::remove_run_then_servers(
            &self.fake,
            Some(run),
            &[server_namespace().name],
            &self.config,
            progress,
        )
        .await
    }
}

/// Records phases and which kinds of event came; interrupts five (virtual) seconds into
/// `interrupt_in`.
struct TestView {
    phases: StdMutex<Vec<Phase>>,
    kinds: StdMutex<Vec<&'static str>>,
    interrupt_in: Option<Phase>,
    tx: watch::Sender<bool>,
}

impl Reporter for TestView {
    fn report(&self, event: Event<'_>) {
        let kind = match event {
            Event::Phase { phase, .. } => {
                self.phase(phase);
                return;
            }
            Event::Line(_) => "line",
            Event::ScenariosStarting { .. } => "scenarios starting",
            Event::Scenario(_) => "scenario",
            Event::ScenariosDone => "scenarios done",
            Event::Bench(_) => "bench",
        };
        if let Ok(mut k) = self.kinds.lock()
            && k.last() != Some(&kind)
        {
            k.push(kind);
        }
    }
}

impl TestView {
    fn phase(&self, phase: Phase) {
        if let Ok(mut p) = self.phases.lock() {
            p.push(phase);
        }
        if self.interrupt_in == Some(phase) {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let _ = tx.send(true);
            });
        }
    }
}

const WAITS_FOR_A_BINDING: &str = r#"
id: waits
title: a claim that never binds
sources: [unit]
description: d
steps:
  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc1}
          spec:
            accessModes: [ReadWriteOnce]
            storageClassName: "{{ prefix }}-nfs"
            resources: {requests: {storage: 1Gi}}
  - wait: {object: pvc/pvc1, for: {phase: Bound}, timeout: 1h}
"#;

const PASSES: &str = "\
id: passes
title: applies a config map
sources: [unit]
description: d
steps:
  - apply:
      manifests:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {name: c1}
          data: {a: b}
";

const PLAN: &str = "\
servers:
  - name: nas
    external: 10.0.0.5:/vol
profiles:
  - name: doc-v3
    options: [vers=3, hard]
workloads:
  - name: rr
    job: {pattern: randread, bs: 4k, size: 1m, runtime: 10s}
repetitions: 1
clients: 1
";

fn scenario(text: &str) -> Scenario {
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an id line");
    parse(text, Path::new(&format!("{id}.yaml"))).unwrap_or_else(|e| panic!("{e}"))
}

fn job(dir: &Path, scenarios: Vec<Scenario>, bench: bool) -> Job {
    let mut config = Config::default();
    config.timeouts.bind = Duration::from_secs(3600);
    Job {
        run_id: run_id(),
        scenarios,
        scenarios_skipped: Some("skipped with --skip-scenarios".to_owned()),
        bench: bench.then(|| parse_plan(PLAN, "plan.yaml", &BuiltInIncludes).expect("plan")),
        bench_skipped: Some("skipped with --skip-bench".to_owned()),
        cluster: ClusterChoice::Existing {
            kubeconfig: None,
            context: None,
            confirmed: true,
            image_registry: None,
        },
        flavor: ServerFlavor::Ganesha,
        external: Some("10.0.0.5:/vol".to_owned()),
        parallel: 2,
        results_parent: dir.to_path_buf(),
        config,
        keep_on_failure: false,
    }
}

/// Objects in the fake that carry this run's label.
fn labelled(fake: &FakeCluster) -> Vec<ObjectRef> {
    fake.objects()
        .into_iter()
        .filter(|o| {
            fake.state(o).is_some_and(|v: Value| {
                v.pointer("/metadata/labels")
                    .and_then(|l| l.get(RUN_ID_LABEL))
                    .and_then(Value::as_str)
                    == Some(RUN)
            })
        })
        .collect()
}

/// Whether an object of `kind` was applied at some point.
fn applied(fake: &FakeCluster, kind: &str) -> bool {
    fake.calls()
        .iter()
        .any(|c| matches!(c, Call::Apply(o) if o.kind == kind))
}

async fn execute_with(
    job: &Job,
    provider: &FakeProvider,
    interrupt_in: Option<Phase>,
) -> (JobReport, Vec<Phase>) {
    let (tx, rx) = watch::channel(false);
    let view = Arc::new(TestView {
        phases: StdMutex::new(Vec::new()),
        kinds: StdMutex::new(Vec::new()),
        interrupt_in,
        tx,
    });
    let report = execute(job, provider, Arc::clone(&view) as Arc<dyn Reporter>, rx).await;
    let phases = view.phases.lock().map(|p| p.clone()).unwrap_or_default();
    (report, phases)
}

#[tokio::test(start_paused = true)]
async fn a_failed_preflight_creates_nothing_and_exits_3() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Preflight);
    let dir = tempfile::tempdir().expect("tmp");
    let (report, phases) = execute_with(
        &job(dir.path(), vec![scenario(PASSES)], true),
        &provider,
        None,
    )
    .await;
    assert_eq!(report.outcome, Outcome::Environment);
    assert_eq!(report.outcome.code(), 3);
    assert!(report.dir.is_none());
    assert!(
        report.failures[0].contains("kind: not found on PATH"),
        "{:?}",
        report.failures
    );
    assert_eq!(phases, vec![Phase::Environment]);
    assert!(fake.calls().is_empty(), "nothing touched the cluster");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[tokio::test(start_paused = true)]
async fn interrupted_while_preparing_the_environment() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Hang);
    let dir = tempfile::tempdir().expect("tmp");
    let (report, _) = execute_with(
        &job(dir.path(), vec![scenario(PASSES)], true),
        &provider,
        Some(Phase::Environment),
    )
    .await;
    assert_eq!(report.outcome.code(), 130);
    assert!(applied(&fake, "Namespace"), "the server was being deployed");
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert!(
        report.dir.is_none(),
        "no results directory before the environment is ready"
    );
}

#[tokio::test(start_paused = true)]
async fn interrupted_during_the_scenarios() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let job = job(dir.path(), vec![scenario(WAITS_FOR_A_BINDING)], true);
    let (report, phases) = execute_with(&job, &provider, Some(Phase::Scenarios)).await;
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert!(
        applied(&fake, "PersistentVolumeClaim"),
        "the scenario was running"
    );
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(provider.torn_down.lock().map(|n| *n).unwrap_or(0), 1);
    // The benchmark did not start; tear-down and the report still happened.
    assert_eq!(
        phases,
        vec![
            Phase::Environment,
            Phase::Scenarios,
            Phase::TearDown,
            Phase::Report
        ]
    );
    let run_dir = dir.path().join(RUN);
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(md.contains("- result: **interrupted"), "{md}");
    assert!(
        md.contains("| waits | a claim that never binds | interrupted |"),
        "{md}"
    );
    assert!(
        md.contains("Not run: interrupted before it started."),
        "{md}"
    );
    assert!(run_dir.join("scenarios.json").is_file());
    assert!(run_dir.join("junit.xml").is_file());
    assert!(!run_dir.join("bench").exists());
}

#[tokio::test(start_paused = true)]
async fn interrupted_during_the_benchmark() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let job = job(dir.path(), vec![scenario(PASSES)], true);
    let (report, phases) = execute_with(&job, &provider, Some(Phase::Benchmark)).await;
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert!(
        applied(&fake, "PersistentVolume"),
        "the benchmark was running"
    );
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert!(phases.contains(&Phase::Benchmark));
    assert_eq!(phases.last(), Some(&Phase::Report));
    let run_dir = dir.path().join(RUN);
    assert!(
        run_dir.join("bench/run.json").is_file(),
        "the bench wrote its record"
    );
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("| passes | applies a config map | passed |"),
        "{md}"
    );
}

#[tokio::test(start_paused = true)]
async fn interrupted_during_tear_down_still_removes_everything() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let job = job(dir.path(), vec![scenario(PASSES)], false);
    let (report, phases) = execute_with(&job, &provider, Some(Phase::TearDown)).await;
    // The interrupt lands halfway through tear-down, which is not cut short.
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert_eq!(provider.torn_down.lock().map(|n| *n).unwrap_or(0), 1);
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(phases.last(), Some(&Phase::Report));
    assert!(dir.path().join(RUN).join("report.md").is_file());
}

#[tokio::test(start_paused = true)]
async fn a_complete_run_reports_its_failures_and_exits_1() {
    let fake = FakeCluster::new();
    // The second scenario's claim exists as Pending and the wait has a short limit: it
    // fails, which is a finding (exit 1), not an environment problem.
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let short = WAITS_FOR_A_BINDING.replace("timeout: 1h", "timeout: 30s");
    let job = job(dir.path(), vec![scenario(PASSES), scenario(&short)], false);
    let (report, phases) = execute_with(&job, &provider, None).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.failures);
    assert_eq!(
        phases,
        vec![
            Phase::Environment,
            Phase::Scenarios,
            Phase::TearDown,
            Phase::Report
        ]
    );
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    assert!(
        report.failures[0].starts_with("scenario waits: "),
        "{:?}",
        report.failures
    );
    // The evidence is written before anything is removed, and named in the last lines.
    let run_dir = dir.path().join(RUN);
    assert_eq!(
        report.failures[1],
        format!("debug bundle: {}", run_dir.join("debug").display())
    );
    assert_eq!(
        *provider.after.lock().expect("lock"),
        vec!["evidence", "tear-down"]
    );
    let failure = std::fs::read_to_string(run_dir.join("debug/failure.txt")).expect("bundle");
    assert!(failure.starts_with("scenario waits: "), "{failure}");
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(
        report.reports,
        vec![run_dir.join("report.md"), run_dir.join("report.html")]
    );
    let md = std::fs::read_to_string(run_dir.join("report.md")).expect("report.md");
    assert!(
        md.contains("- result: **failed (scenarios: 1 passed, 1 failed"),
        "{md}"
    );
    assert!(
        md.contains("## Benchmark\n\nNot run: skipped with --skip-bench."),
        "{md}"
    );
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit");
    assert!(
        junit.contains(r#"tests="2""#) && junit.contains(r#"failures="1""#),
        "{junit}"
    );
    let job_json: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("job.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(job_json["scenarios"]["state"], "ran");
    assert_eq!(job_json["bench"]["state"], "not-run");
    assert!(
        md.contains("debug bundle: debug/"),
        "the report links the bundle: {md}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_keeps_everything_when_asked_and_a_passing_one_writes_no_bundle() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let short = WAITS_FOR_A_BINDING.replace("timeout: 1h", "timeout: 30s");
    let mut kept = job(dir.path(), vec![scenario(&short)], false);
    kept.keep_on_failure = true;
    let (report, phases) = execute_with(&kept, &provider, None).await;
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(
        *provider.after.lock().expect("lock"),
        vec!["evidence", "keep"]
    );
    assert!(phases.contains(&Phase::TearDown));
    assert!(
        report
            .failures
            .iter()
            .any(|f| f == "kept for inspection: NFS server namespace `nfslab-nfs-fake`"),
        "{:?}",
        report.failures
    );
    assert!(
        fake.state(&server_namespace()).is_some(),
        "the server stays: {:?}",
        fake.objects()
    );
    // A run that passes removes everything and writes no bundle.
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let mut passes = job(dir.path(), vec![scenario(PASSES)], false);
    passes.keep_on_failure = true;
    let (report, _) = execute_with(&passes, &provider, None).await;
    assert_eq!(report.outcome, Outcome::Success, "{:?}", report.failures);
    assert_eq!(*provider.after.lock().expect("lock"), vec!["tear-down"]);
    assert!(!dir.path().join(RUN).join("debug").exists());
}

#[test]
fn the_request_deploys_the_scenario_flavor_and_the_plans() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut j = job(dir.path(), vec![scenario(PASSES)], false);
    j.external = None;
    let mut plan = builtin_quick_plan().expect("the shipped quick plan is valid");
    assert_eq!(plan.in_cluster_flavors(), vec![ServerFlavor::Ganesha]);
    j.flavor = ServerFlavor::Kernel;
    j.bench = Some(plan.clone());
    assert_eq!(
        j.request().flavors,
        vec![ServerFlavor::Kernel, ServerFlavor::Ganesha]
    );
    set_in_cluster_flavor(&mut plan, ServerFlavor::Kernel);
    j.bench = Some(plan);
    assert_eq!(j.request().flavors, vec![ServerFlavor::Kernel]);
    j.scenarios.clear();
    j.external = Some("nas:/vol".to_owned());
    assert_eq!(j.request().flavors, vec![ServerFlavor::Kernel]);
    assert_eq!(j.request().external, vec!["nas:/vol".to_owned()]);
}

#[test]
fn quick_scenarios_are_in_the_catalog() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let catalog = crate::scenario::catalog::Catalog::load(&dir).expect("the catalog");
    for id in QUICK_SCENARIOS {
        assert!(
            catalog.entries.iter().any(|e| e.id == *id),
            "{id} is not in the catalog"
        );
    }
}

// ---- nothing left behind, whatever phase ends the run --------------------------------------

/// A scenario that leaves work for cleanup: a `Recycle` volume a step released (the PV
/// controller's recycler pod for it runs, without our labels), another still claimed, a pod
/// using it; then a wait for a pod that never gets Ready (`LIMIT`: held open to be
/// interrupted, or short enough to fail).
const LEAVES_WORK: &str = r#"
id: leaves-work
title: recycles, claims and a pod at cleanup
sources: [unit]
description: d
steps:
  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolume
          metadata: {name: "{{ prefix }}-pv1"}
          spec:
            capacity: {storage: 1Gi}
            accessModes: [ReadWriteOnce]
            persistentVolumeReclaimPolicy: Recycle
            storageClassName: "{{ prefix }}-nfs"
            nfs: {server: "{{ nfs.server }}", path: "{{ nfs.export }}/pv1"}
        - apiVersion: v1
          kind: PersistentVolume
          metadata: {name: "{{ prefix }}-pv2"}
          spec:
            capacity: {storage: 1Gi}
            accessModes: [ReadWriteOnce]
            persistentVolumeReclaimPolicy: Recycle
            storageClassName: "{{ prefix }}-nfs"
            nfs: {server: "{{ nfs.server }}", path: "{{ nfs.export }}/pv2"}
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc1}
          spec:
            accessModes: [ReadWriteOnce]
            storageClassName: "{{ prefix }}-nfs"
            resources: {requests: {storage: 1Gi}}
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc2}
          spec:
            accessModes: [ReadWriteOnce]
            storageClassName: "{{ prefix }}-nfs"
            resources: {requests: {storage: 1Gi}}
        - apiVersion: v1
          kind: Pod
          metadata: {name: user}
          spec:
            containers:
              - name: c
                image: "{{ images.io }}"
                args: [sleep]
                volumeMounts: [{name: d, mountPath: /data}]
            volumes:
              - name: d
                persistentVolumeClaim: {claimName: pvc1}
  - wait: {object: pvc/pvc2, for: {phase: Bound}}
  - delete: {object: pvc/pvc2}
  - wait: {object: pod/user, for: {ready: true}, timeout: LIMIT}
"#;

fn leaves_work(limit: &str) -> Scenario {
    scenario(&LEAVES_WORK.replace("LIMIT", limit))
}

/// Scripts what Kubernetes does for [`LEAVES_WORK`]: the claims bind, and releasing pvc2
/// makes the PV controller start `recycler-for-<pv2>` in `default`.
fn script_leaves_work(fake: &FakeCluster) {
    let prefix = crate::scenario::template::prefix_for(&run_id(), "leaves-work");
    let ns = crate::scenario::template::namespace_for(&run_id(), "leaves-work");
    for (claim, pv) in [("pvc1", "pv1"), ("pvc2", "pv2")] {
        let pvc = ObjectRef::pvc(&ns, claim);
        fake.on_apply(&pvc).after(Duration::from_secs(1)).merge(
            &pvc,
            json!({"spec": {"volumeName": format!("{prefix}-{pv}")}, "status": {"phase": "Bound"}}),
        );
    }
    let recycler = clean::recycler_pod(&format!("{prefix}-pv2"));
    fake.on_delete(&ObjectRef::pvc(&ns, "pvc2"))
        .after(Duration::from_secs(1))
        .set(
            &recycler,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": recycler.name, "namespace": "default"},
                   "spec": {"volumes": [{"name": "vol",
                                         "nfs": {"server": "10.0.0.5", "path": "/vol/x"}}]}}),
        );
}

/// What a run leaves: every object still in the cluster is one `nfslab clean --all` finds
/// (or lives in a namespace it finds), since an object without our labels would stay for
/// ever; after `nfslab clean --all` nothing is left. When the run's own tear-down went
/// through, `nfslab clean` finds nothing in the first place.
async fn leaves_nothing_unfindable(fake: &FakeCluster, torn_down: bool) {
    let found = clean::find(fake, &Scope::Everything).await.expect("find");
    let stray: Vec<ObjectRef> =
        fake.objects()
            .into_iter()
            .filter(|o| {
                !found.contains(o)
                    && !o.namespace.as_ref().is_some_and(|ns| {
                        found.contains(&ObjectRef::cluster("v1", "Namespace", ns))
                    })
            })
            .collect();
    assert!(
        stray.is_empty(),
        "left where nfslab clean cannot find it: {stray:?}"
    );
    if torn_down {
        assert!(found.is_empty(), "nfslab clean would still find {found:?}");
    }
    let report = clean::clean(fake, &Scope::Everything, Duration::from_secs(600), false)
        .await
        .expect("clean");
    assert!(report.left.is_empty(), "{:?}", report.left);
    assert!(
        clean::find(fake, &Scope::Everything)
            .await
            .expect("find")
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn interrupted_in_any_phase_the_run_leaves_nothing_behind() {
    for phase in [
        Phase::Environment,
        Phase::Scenarios,
        Phase::Benchmark,
        Phase::TearDown,
    ] {
        let fake = FakeCluster::new();
        script_leaves_work(&fake);
        let bring = if phase == Phase::Environment {
            Bring::Hang
        } else {
            Bring::Ready
        };
        let provider = FakeProvider::new(&fake, bring);
        let dir = tempfile::tempdir().expect("tmp");
        // The scenario fails on its own in 30 s unless interrupted during it.
        let limit = if phase == Phase::Scenarios {
            "1h"
        } else {
            "30s"
        };
        let job = job(dir.path(), vec![leaves_work(limit)], true);
        let (report, phases) = execute_with(&job, &provider, Some(phase)).await;
        assert_eq!(
            report.outcome,
            Outcome::Interrupted,
            "{phase:?}: {report:?}"
        );
        assert!(phases.contains(&phase), "{phase:?}: {phases:?}");
        if phase != Phase::Environment {
            assert!(
                fake.existing_at_delete(&clean::recycler_pod(&format!(
                    "{}-pv2",
                    crate::scenario::template::prefix_for(&run_id(), "leaves-work")
                )))
                .is_some(),
                "{phase:?}: the step's recycler pod was there to be removed"
            );
        }
        leaves_nothing_unfindable(&fake, true).await;
    }
}

#[tokio::test(start_paused = true)]
async fn failing_in_any_phase_the_run_leaves_nothing_behind() {
    // Environment: the server never gets ready.
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::NotReady);
    let dir = tempfile::tempdir().expect("tmp");
    let (report, _) = execute_with(
        &job(dir.path(), vec![leaves_work("30s")], true),
        &provider,
        None,
    )
    .await;
    assert_eq!(report.outcome, Outcome::Environment, "{report:?}");
    assert!(applied(&fake, "Namespace"), "the server was deployed");
    leaves_nothing_unfindable(&fake, true).await;

    // Scenarios: the wait fails; benchmark: its claim never binds, every repetition fails.
    let fake = FakeCluster::new();
    script_leaves_work(&fake);
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let mut failing = job(dir.path(), vec![leaves_work("30s")], true);
    failing.config.timeouts.bind = Duration::from_secs(60);
    let (report, _) = execute_with(&failing, &provider, None).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.failures);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.starts_with("scenario leaves-work: "))
            && report.failures.iter().any(|f| f.starts_with("benchmark: ")),
        "{:?}",
        report.failures
    );
    leaves_nothing_unfindable(&fake, true).await;

    // Tear-down: the server's removal is refused once; what stays is found and removed by
    // `nfslab clean --all`.
    let fake = FakeCluster::new();
    script_leaves_work(&fake);
    fake.on_delete(&server_namespace())
        .times(1)
        .fail(ClusterError::Api {
            verb: "delete".into(),
            object: server_namespace().to_string(),
            code: 403,
            reason: "Forbidden".into(),
            message: "namespaces is forbidden".into(),
        });
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let (report, _) = execute_with(
        &job(dir.path(), vec![leaves_work("30s")], false),
        &provider,
        None,
    )
    .await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.failures);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.starts_with("tear down: could not remove NFS server namespace")),
        "{:?}",
        report.failures
    );
    assert!(fake.state(&server_namespace()).is_some());
    leaves_nothing_unfindable(&fake, false).await;
}

#[tokio::test(start_paused = true)]
async fn what_the_run_left_goes_before_the_server() {
    let fake = FakeCluster::new();
    script_leaves_work(&fake);
    let ns = ObjectRef::cluster(
        "v1",
        "Namespace",
        &crate::scenario::template::namespace_for(&run_id(), "leaves-work"),
    );
    // The scenario's namespace outlives its cleanup (a pod stuck unmounting): 90 s, the
    // scenario's cleanup gives up after 60 s and reports it.
    fake.on_delete(&ns).instead().merge(
        &ns,
        json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
    );
    fake.on_delete(&ns)
        .times(1)
        .after(Duration::from_secs(90))
        .remove(&ns);
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let mut slow = job(dir.path(), vec![leaves_work("30s")], false);
    slow.config.timeouts.cleanup = Duration::from_secs(60);
    let (report, _) = execute_with(&slow, &provider, None).await;
    assert_eq!(report.outcome, Outcome::Failed, "{:?}", report.failures);
    let present = fake
        .existing_at_delete(&server_namespace())
        .expect("the server was removed");
    assert!(
        !present.contains(&ns),
        "the server went while the scenario's namespace was still there"
    );
    leaves_nothing_unfindable(&fake, true).await;

    // A namespace that never goes keeps the server, and tear-down says why.
    let fake = FakeCluster::new();
    script_leaves_work(&fake);
    fake.on_delete(&ns).instead().merge(
        &ns,
        json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
    );
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let kept = job(dir.path(), vec![leaves_work("30s")], false);
    let (report, _) = execute_with(&kept, &provider, None).await;
    assert!(fake.existing_at_delete(&server_namespace()).is_none());
    assert!(
        report.failures.iter().any(|f| f.starts_with(&format!(
            "tear down: could not remove the objects of run {RUN} (remove them with: nfslab \
             clean --run {RUN}): Namespace `{}`: still there after",
            ns.name
        ))),
        "{:?}",
        report.failures
    );
    assert!(fake.state(&server_namespace()).is_some(), "kept");
}

/// Interrupts `cancel` five (virtual) seconds from now.
fn interrupt_soon() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let _ = tx.send(true);
        // Keep the sender: receivers must never see a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

/// `nfslab scenarios run` runs through the same orchestrator: the scenarios against the
/// staged server, the results written, everything removed, the summary line last.
/// `nfslab scenarios run` of one scenario through the orchestrator on `provider`: its
/// outcome and what it printed. `interrupt`: the Ctrl-C channel (`None`: never pressed).
async fn scenarios_run(
    provider: &FakeProvider,
    yaml: &str,
    request: &crate::scenario::commands::RunRequest,
    interrupt: Option<watch::Receiver<bool>>,
) -> (Outcome, String) {
    let (_never, quiet) = watch::channel(false);
    let cancel = interrupt.unwrap_or(quiet);
    let mut out = Vec::new();
    let outcome = crate::scenario::commands::run_on(
        provider,
        run_id(),
        vec![scenario(yaml)],
        request,
        Arc::new(Quiet),
        cancel,
        &mut out,
    )
    .await
    .expect("writes");
    (outcome, String::from_utf8(out).expect("utf-8"))
}

#[tokio::test(start_paused = true)]
async fn scenarios_run_goes_through_the_orchestrator() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::default();
    config.nfs.flavor = ServerFlavor::External;
    let request = crate::scenario::commands::RunRequest {
        choice: job(dir.path(), Vec::new(), false).cluster,
        config,
        parallel: None,
        results: dir.path().join("scenarios.json"),
        junit: Some(dir.path().join("junit.xml")),
    };
    let (outcome, text) = scenarios_run(&provider, PASSES, &request, None).await;
    assert_eq!(outcome, Outcome::Success, "{text}");
    assert!(applied(&fake, "ConfigMap"), "the scenario ran");
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(*provider.after.lock().expect("lock"), vec!["tear-down"]);
    assert!(request.results.is_file() && dir.path().join("junit.xml").is_file());
    assert_eq!(
        text.lines().last(),
        Some("1 passed, 0 failed, 0 errors, 0 skipped, 0 interrupted"),
        "{text}"
    );
    assert!(text.starts_with("results: "), "{text}");
}

/// A scenario run interrupted halfway stops, removes everything and exits 130; a server
/// of the wrong flavor is an environment error, and what was brought up is removed too.
#[tokio::test(start_paused = true)]
async fn scenarios_run_interrupted_or_without_its_server() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = Config::default();
    config.nfs.flavor = ServerFlavor::External;
    config.timeouts.bind = Duration::from_secs(3600);
    let mut request = crate::scenario::commands::RunRequest {
        choice: job(dir.path(), Vec::new(), false).cluster,
        config,
        parallel: None,
        results: dir.path().join("scenarios.json"),
        junit: None,
    };
    let (outcome, text) = scenarios_run(
        &provider,
        WAITS_FOR_A_BINDING,
        &request,
        Some(interrupt_soon()),
    )
    .await;
    assert_eq!(outcome, Outcome::Interrupted, "{text}");
    assert!(applied(&fake, "PersistentVolumeClaim"), "the scenario ran");
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(
        text.lines().last(),
        Some("0 passed, 0 failed, 0 errors, 0 skipped, 1 interrupted"),
        "{text}"
    );

    request.config.nfs.flavor = ServerFlavor::Ganesha;
    let (outcome, text) = scenarios_run(&provider, PASSES, &request, None).await;
    assert_eq!(outcome, Outcome::Environment, "{text}");
    assert!(text.starts_with("error: no Ganesha NFS server"), "{text}");
    assert_eq!(provider.torn_down.lock().map(|n| *n).unwrap_or(0), 2);
}

/// `nfslab bench` runs through the same orchestrator: interrupted halfway, the results go
/// to the writer before anything is removed, then everything is removed and it exits 130.
#[tokio::test(start_paused = true)]
async fn a_benchmark_goes_through_the_orchestrator() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let plan = parse_plan(PLAN, "plan.yaml", &BuiltInIncludes).expect("plan");
    let written = StdMutex::new(Vec::new());
    let write = |result: Result<crate::bench::BenchOutcome, crate::bench::BenchError>| {
        let before = provider.after.lock().map(|a| a.len()).unwrap_or(0);
        let outcome = result.map_or_else(|e| e.outcome(), |o| o.outcome());
        if let Ok(mut w) = written.lock() {
            w.push((outcome, before));
        }
        outcome
    };
    let work = crate::bench::BenchWork {
        plan: &plan,
        request: crate::bench::EnvironmentRequest {
            cluster: job(dir.path(), Vec::new(), false).cluster,
            flavors: plan.in_cluster_flavors(),
            image: plan.image.clone(),
            config: Config::default(),
        },
        options: RunnerOptions {
            run_id: run_id(),
            results_parent: dir.path().to_path_buf(),
            dir_name: None,
            timeouts: Config::default().timeouts,
        },
        external: &[],
        progress: &NoProgress,
        write: &write,
    };
    let end = orchestrate(
        &work,
        &provider as &ClusterProvider,
        &NoProgress,
        interrupt_soon(),
    )
    .await;
    assert!(
        matches!(
            end,
            crate::bench::BenchEnd::Ran {
                outcome: Outcome::Interrupted,
                tear_down: None
            }
        ),
        "{end:?}"
    );
    assert_eq!(
        *written.lock().expect("lock"),
        vec![(Outcome::Interrupted, 0)],
        "written once, before tear-down"
    );
    assert!(applied(&fake, "PersistentVolume"), "the benchmark ran");
    assert!(labelled(&fake).is_empty(), "{:?}", fake.objects());
    assert_eq!(*provider.after.lock().expect("lock"), vec!["tear-down"]);
    assert!(dir.path().join(RUN).join("run.json").is_file());
}

/// The job's progress is one stream: bring-up lines, the scenario phase's events between
/// its start and end, then the benchmark's, then tear-down's lines.
#[tokio::test(start_paused = true)]
async fn the_job_reports_one_event_stream() {
    let fake = FakeCluster::new();
    let provider = FakeProvider::new(&fake, Bring::Ready);
    let dir = tempfile::tempdir().expect("tmp");
    let job = job(dir.path(), vec![scenario(PASSES)], true);
    let (tx, rx) = watch::channel(false);
    let view = Arc::new(TestView {
        phases: StdMutex::new(Vec::new()),
        kinds: StdMutex::new(Vec::new()),
        interrupt_in: Some(Phase::Benchmark),
        tx,
    });
    let report = execute(&job, &provider, Arc::clone(&view) as Arc<dyn Reporter>, rx).await;
    assert_eq!(report.outcome, Outcome::Interrupted);
    assert_eq!(
        *view.kinds.lock().expect("lock"),
        vec![
            "line",
            "scenarios starting",
            "scenario",
            "scenarios done",
            "bench",
            "line"
        ]
    );
}
