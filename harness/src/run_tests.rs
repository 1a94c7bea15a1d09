//! Tests of the main job's logic against the scripted fake cluster: every phase interrupted
//! ends with exit 130 and nothing labelled by the run left; a preflight failure creates
//! nothing; failures and the report reach the user. The fake runs no controllers, so a
//! claim never binds unless a test says so: that is how a phase is held open to be
//! interrupted.

use std::path::Path;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::bench::plan::parse_plan;
use crate::bench::progress::NoProgress;
use crate::cluster::ClusterSetupError;
use crate::cluster::preflight::Problem;
use crate::k8s::fake::{Call, FakeCluster};
use crate::k8s::ownership::{RUN_ID_LABEL, stamp};
use crate::k8s::{ObjectRef, Propagation};
use crate::scenario::Quiet;
use crate::scenario::validate::parse;

const RUN: &str = "20261123-160000-c0ffee";

fn run_id() -> RunId {
    RunId::parse(RUN).expect("valid")
}

/// Stands in for the NFS server deployment: one namespace labelled with the run.
fn server_namespace() -> ObjectRef {
    ObjectRef::cluster("v1", "Namespace", "nfslab-nfs-fake")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bring {
    /// Ready at once.
    Ready,
    /// Deploys the server, then waits until interrupted (a server that never gets ready).
    Hang,
    /// Preflight fails: nothing is created.
    Preflight,
}

struct FakeProvider {
    fake: FakeCluster,
    bring: Bring,
    torn_down: StdMutex<usize>,
    /// What happened after the phases, in order: `evidence`, `keep`, `tear-down`.
    after: StdMutex<Vec<&'static str>>,
}

impl FakeProvider {
    fn new(fake: &FakeCluster, bring: Bring) -> Self {
        Self {
            fake: fake.clone(),
            bring,
            torn_down: StdMutex::new(0),
            after: StdMutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Provider for FakeProvider {
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
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": server_namespace().name}});
        stamp(&mut ns, &run_id(), None);
        self.fake
            .apply(&ns)
            .await
            .map_err(EnvironmentError::Unreachable)?;
        if self.bring == Bring::Hang {
            interrupt.await;
            let _ = self
                .fake
                .delete(&server_namespace(), Propagation::Foreground)
                .await;
            return Err(EnvironmentError::Interrupted { left: Vec::new() });
        }
        Ok(Staged {
            cluster: Arc::new(self.fake.clone()),
            servers: vec![NfsServer {
                flavor: ServerFlavor::External,
                address: "10.0.0.5".to_owned(),
                export: "/vol".to_owned(),
                files: None,
            }],
            info: EnvironmentInfo {
                cluster: "fake cluster".to_owned(),
                ..EnvironmentInfo::default()
            },
        })
    }

    async fn evidence(&self, dir: &Path, failure: &str) -> Option<Vec<String>> {
        if let Ok(mut a) = self.after.lock() {
            a.push("evidence");
        }
        // The real collector, on the fake cluster as the run left it.
        let tools = crate::cluster::tools::scripted::ScriptedTools::with(&[]);
        let evidence = crate::debug::Evidence {
            cluster: Some(&self.fake),
            kind: None,
            tools: &tools,
            failure,
            manifests: Vec::new(),
        };
        Some(crate::debug::collect(&evidence, dir).await)
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

    async fn tear_down(&self, _progress: &Lines<'_>) -> Result<(), EnvironmentError> {
        if let Ok(mut a) = self.after.lock() {
            a.push("tear-down");
        }
        // Removing a server takes a while on a real cluster: long enough to be interrupted.
        tokio::time::sleep(Duration::from_secs(10)).await;
        if let Ok(mut n) = self.torn_down.lock() {
            *n += 1;
        }
        self.fake
            .delete(&server_namespace(), Propagation::Foreground)
            .await
            .map(|_| ())
            .map_err(EnvironmentError::Unreachable)
    }
}

/// Records phases; interrupts five (virtual) seconds into `interrupt_in`.
struct TestView {
    phases: StdMutex<Vec<Phase>>,
    interrupt_in: Option<Phase>,
    tx: watch::Sender<bool>,
}

impl View for TestView {
    fn phase(&self, phase: Phase, _detail: &str) {
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
    fn line(&self, _text: &str) {}
    fn scenarios(&self, _count: usize) -> Arc<dyn Observer> {
        Arc::new(Quiet)
    }
    fn bench(&self) -> Arc<dyn Progress> {
        Arc::new(NoProgress)
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
    let view = TestView {
        phases: StdMutex::new(Vec::new()),
        interrupt_in,
        tx,
    };
    let report = execute(job, provider, &view, rx).await;
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
        !labelled(&fake).is_empty(),
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
