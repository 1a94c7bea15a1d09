//! The main job, `nfslab run`: the environment, the scenario catalog, the benchmark plan,
//! tear-down, and one combined report in `results/<run-id>/`.
//!
//! Phases, in order: **environment** (preflight, the kind or existing cluster, images, the
//! NFS servers: `crate::environment`), **scenarios** ([`crate::scenario::run_all`]),
//! **benchmark** ([`crate::bench::runner::run_bench`] into `<run-dir>/bench/`), **tear
//! down** (what the environment phase made), **report** (`report.md`, `report.html`,
//! `junit.xml`, `scenarios.json`, `job.json`). A failed or interrupted phase never skips
//! tear-down; the report is written whenever the run directory exists, so an interrupted
//! run still says what it measured.
//!
//! Nothing is created before the environment is ready: a host that fails preflight leaves
//! no results directory, no cluster and no objects.
//!
//! The job is one kind of work of the orchestrator ([`crate::orchestrate`]), which brings
//! the environment up from a provider ([`crate::orchestrate::SystemProvider`] on real
//! hosts), tears it down whatever happened and decides the outcome; the progress goes to a
//! [`Reporter`] as [`Event`]s, so the job's logic, interruption at every phase included, is tested against
//! the fake cluster.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::bench::runner::{RunnerOptions, Target, run_bench};
use crate::config::Config;
use crate::environment::{self, ClusterChoice, EnvironmentError};
use crate::errors::error_chain;
use crate::errors::now_rfc3339;
use crate::exit::Outcome;
use crate::k8s::ownership::RunId;
use crate::model::environment::Environment as EnvironmentRecord;
use crate::model::plan::{BuiltInIncludes, Plan, PlanError, ServerKind, parse_plan};
use crate::model::scenarios::{Outcome as ScenarioOutcome, RunResults};
use crate::nfs::ServerFlavor;
use crate::orchestrate::{
    Aftercare, ClusterProvider, Staged, Verdict, Work, interrupted, orchestrate,
};
pub use crate::progress::Phase;
use crate::progress::{Event, Reporter};
use crate::report::combined::{self, CombinedInput, JOB_FILE, Part};
use crate::report::{HTML_FILE, MARKDOWN_FILE};
use crate::scenario::commands::{outcome_of, write_results};
use crate::scenario::engine::{RunOptions, run_all};
use crate::scenario::env::ScenarioEnv;
use crate::scenario::junit::{self, JUNIT_FILE};
use crate::scenario::plan::Scenario;

/// The scenarios of `--quick`: one or two of each family, none of the slow ones (the
/// recycler's failure deadline, server restarts).
pub const QUICK_SCENARIOS: &[&str] = &[
    "static-binding-selector",
    "static-binding-mismatch",
    "pvc-protection",
    "recycle-wipes-volume",
    "retain-keeps-data",
    "statefulset-stable-storage",
    "dynamic-provisioning-archive",
    "nfs-export-roundtrip",
];

/// Where the quick plan lives in the source tree.
pub const QUICK_PLAN_PATH: &str = "workloads/plans/smoke.yaml";

const QUICK_PLAN_YAML: &str = include_str!("../../workloads/plans/smoke.yaml");

/// The shipped quick plan (embedded): two profiles x two short workloads, one repetition.
///
/// # Errors
/// Never for the shipped file (a test checks it); [`PlanError`] otherwise.
pub fn builtin_quick_plan() -> Result<Plan, PlanError> {
    parse_plan(
        QUICK_PLAN_YAML,
        &format!("(built in) {QUICK_PLAN_PATH}"),
        &BuiltInIncludes,
    )
}

/// Name of the scenario results file in the run directory.
pub(crate) const SCENARIOS_FILE: &str = "scenarios.json";

/// Name of the benchmark's directory in the run directory.
pub(crate) const BENCH_DIR: &str = "bench";

/// What to run.
#[derive(Clone, Debug)]
pub struct Job {
    /// The run's id (the results directory and every object's label).
    pub run_id: RunId,
    /// Scenarios to run, in order (empty: the scenario phase is skipped).
    pub scenarios: Vec<Scenario>,
    /// Why there are no scenarios, when [`Job::scenarios`] is empty on purpose.
    pub scenarios_skipped: Option<String>,
    /// The benchmark plan (`None`: the benchmark phase is skipped, for the reason in
    /// [`Job::bench_skipped`]).
    pub bench: Option<Plan>,
    /// Why the benchmark is skipped.
    pub bench_skipped: Option<String>,
    /// The cluster.
    pub cluster: ClusterChoice,
    /// The in-cluster server flavor scenarios run against (ignored with [`Job::external`]).
    pub flavor: ServerFlavor,
    /// An NFS server outside the cluster (`host:/export`): scenarios use it instead of an
    /// in-cluster server (the benchmark plan names it itself).
    pub external: Option<String>,
    /// Scenarios at once.
    pub parallel: usize,
    /// Where the run directory is created (`results`).
    pub results_parent: PathBuf,
    /// Tunables, images, cluster and server settings.
    pub config: Config,
    /// When any phase fails, keep the cluster and servers for inspection (after the debug
    /// bundle is written).
    pub keep_on_failure: bool,
}

impl Job {
    /// The environment this job needs: the scenario flavor (unless an external server
    /// serves the scenarios), then each in-cluster flavor of the plan.
    #[must_use]
    pub fn request(&self) -> environment::Request {
        let mut flavors = Vec::new();
        if !self.scenarios.is_empty() && self.external.is_none() {
            flavors.push(self.flavor);
        }
        if let Some(plan) = &self.bench {
            for f in plan.in_cluster_flavors() {
                if !flavors.contains(&f) {
                    flavors.push(f);
                }
            }
        }
        environment::Request {
            cluster: self.cluster.clone(),
            flavors,
            external: self.external.iter().cloned().collect(),
            config: self.config.clone(),
            debug_dir: Some(crate::cluster::debug::dir_of(&self.dir())),
            keep_on_failure: self.keep_on_failure,
        }
    }

    /// The run directory.
    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.results_parent.join(self.run_id.as_str())
    }
}

/// Makes every in-cluster server of `plan` the `flavor` (what `--nfs-flavor` asks of the
/// whole run).
pub fn set_in_cluster_flavor(plan: &mut Plan, flavor: ServerFlavor) {
    for s in &mut plan.servers {
        if let ServerKind::InCluster(f) = &mut s.kind {
            *f = flavor;
        }
    }
}

/// How the job ended.
#[derive(Clone, Debug)]
pub struct JobReport {
    /// The exit code.
    pub outcome: Outcome,
    /// The run directory, when it was created.
    pub dir: Option<PathBuf>,
    /// The report files written.
    pub reports: Vec<PathBuf>,
    /// One line per failure: failed scenarios, failed benchmark repetitions, phase errors.
    pub failures: Vec<String>,
    /// When preflight refused a kind run: what the user can do on this machine instead
    /// ([`crate::advice::instead_of_kind`]), to print last.
    pub instead: Option<String>,
    /// The scenario results, when the scenario phase ran.
    pub scenarios: Option<RunResults>,
    /// The benchmark's summary, when the benchmark phase ran.
    pub bench: Option<crate::model::summary::Summary>,
}

/// Runs the job through [`orchestrate`]: every phase, tear-down whatever happened, then the
/// report.
pub async fn execute(
    job: &Job,
    provider: &ClusterProvider,
    reporter: Arc<dyn Reporter>,
    cancel: watch::Receiver<bool>,
) -> JobReport {
    let work = JobWork {
        job,
        reporter: &reporter,
        started: Instant::now(),
        started_at: now_rfc3339(),
    };
    orchestrate(&work, provider, reporter.as_ref(), cancel).await
}

/// The main job as a work of the orchestrator.
struct JobWork<'a> {
    job: &'a Job,
    reporter: &'a Arc<dyn Reporter>,
    started: Instant,
    started_at: String,
}

/// What the job's phases produced.
struct JobDone {
    /// The run directory (`None`: it could not be created, nothing ran).
    dir: Option<PathBuf>,
    scenarios: Part<RunResults>,
    bench: Part<crate::model::summary::Summary>,
    info: EnvironmentRecord,
}

#[async_trait]
impl Work<ClusterProvider> for JobWork<'_> {
    type Done = JobDone;
    type Report = JobReport;

    fn run_id(&self) -> &RunId {
        &self.job.run_id
    }

    fn request(&self) -> environment::Request {
        self.job.request()
    }

    fn announce(&self, request: &environment::Request) {
        announce_environment(self.job, request, self.reporter.as_ref());
    }

    fn unprepared(&self, error: EnvironmentError) -> JobReport {
        environment_failed(self.job, &error)
    }

    async fn run(
        &self,
        staged: &Staged,
        cancel: &watch::Receiver<bool>,
        verdict: &mut Verdict,
    ) -> JobDone {
        let (job, reporter) = (self.job, self.reporter);
        let dir = job.dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            verdict.fail(
                format!(
                    "cannot create the run directory `{}`: {e} (hint: check --results is \
                     writable)",
                    dir.display()
                ),
                Outcome::Environment,
            );
            let reason = "the run directory could not be created".to_owned();
            return JobDone {
                dir: None,
                scenarios: Part::NotRun {
                    reason: reason.clone(),
                },
                bench: Part::NotRun { reason },
                info: staged.info.clone(),
            };
        }
        let scenarios = scenario_phase(job, staged, reporter, cancel, &dir).await;
        count_scenarios(verdict, &scenarios);
        let (bench, outcome) = bench_phase(job, staged, reporter.as_ref(), cancel, &dir).await;
        count_bench(verdict, &bench, outcome.as_ref(), &dir);
        JobDone {
            dir: Some(dir),
            scenarios,
            bench,
            info: staged.info.clone(),
        }
    }

    fn aftercare(&self, done: &JobDone) -> Aftercare {
        match &done.dir {
            Some(dir) => Aftercare {
                debug_dir: Some(crate::cluster::debug::dir_of(dir)),
                keep_on_failure: self.job.keep_on_failure,
            },
            None => Aftercare::default(),
        }
    }

    fn tearing_down(&self, done: &JobDone, kept: bool) {
        if done.dir.is_none() {
            return;
        }
        let detail = if kept {
            "kept for inspection (--keep-cluster-on-failure)"
        } else {
            "removing what this run created"
        };
        self.reporter.report(Event::Phase {
            phase: Phase::TearDown,
            detail,
        });
    }

    fn conclude(&self, done: JobDone, verdict: Verdict) -> JobReport {
        let Verdict {
            mut outcome,
            mut failures,
            mut problems,
            tear_down,
        } = verdict;
        let Some(dir) = done.dir else {
            return JobReport {
                outcome,
                dir: None,
                reports: Vec::new(),
                failures,
                instead: None,
                scenarios: None,
                bench: None,
            };
        };
        if let Some(e) = &tear_down {
            let line = error_chain(e);
            problems.push(line.clone());
            failures.push(format!("tear down: {line}"));
        }
        self.reporter.report(Event::Phase {
            phase: Phase::Report,
            detail: &dir.display().to_string(),
        });
        let scenario_results = match &done.scenarios {
            Part::Ran { results } => Some(results.clone()),
            _ => None,
        };
        let bench_summary = match &done.bench {
            Part::Ran { results } => Some(results.clone()),
            _ => None,
        };
        let input = CombinedInput {
            run_id: self.job.run_id.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            verdict: verdict_line(outcome, &done.scenarios, &done.bench),
            started: self.started_at.clone(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            environment: done.info,
            scenarios: done.scenarios,
            bench: done.bench,
            problems,
        };
        let reports = match write_report(&dir, &input) {
            Ok(files) => files,
            Err(e) => {
                failures.push(e);
                outcome = crate::orchestrate::worst(outcome, Outcome::Environment);
                Vec::new()
            }
        };
        JobReport {
            outcome,
            dir: Some(dir),
            reports,
            failures,
            instead: None,
            scenarios: scenario_results,
            bench: bench_summary,
        }
    }
}

/// The environment phase's line: the cluster and the NFS servers asked for.
fn announce_environment(job: &Job, request: &environment::Request, reporter: &dyn Reporter) {
    let flavors: Vec<String> = request
        .flavors
        .iter()
        .map(|f| format!("{f:?}").to_lowercase())
        .collect();
    reporter.report(Event::Phase {
        phase: Phase::Environment,
        detail: &format!(
            "{}; NFS servers: {}",
            job.cluster,
            if flavors.is_empty() && job.external.is_none() {
                "none".to_owned()
            } else {
                flavors
                    .iter()
                    .cloned()
                    .chain(job.external.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    });
}

/// The report of a job whose environment could not be brought up (with the debug bundle
/// its preparation wrote, if any).
fn environment_failed(job: &Job, e: &EnvironmentError) -> JobReport {
    let servers: Vec<String> = job.external.iter().cloned().collect();
    let mut failures = vec![error_chain(e)];
    // A failed preparation wrote its bundle into the run directory.
    let debug = crate::cluster::debug::dir_of(&job.dir());
    let dir = debug.is_dir().then(|| {
        failures.push(format!("debug bundle: {}", debug.display()));
        if job.keep_on_failure {
            failures.push(
                "kept for inspection (--keep-cluster-on-failure): the cluster and \
                 servers made so far"
                    .to_owned(),
            );
        }
        job.dir()
    });
    JobReport {
        outcome: e.outcome(),
        dir,
        reports: Vec::new(),
        failures,
        instead: crate::advice::instead_of_kind(e, &servers),
        scenarios: None,
        bench: None,
    }
}

/// Counts the scenarios: each failed one is a failure line.
fn count_scenarios(verdict: &mut Verdict, scenarios: &Part<RunResults>) {
    match scenarios {
        Part::Ran { results } => {
            verdict.add(outcome_of(results));
            for r in &results.scenarios {
                if matches!(r.outcome, ScenarioOutcome::Failed | ScenarioOutcome::Error) {
                    let why = r.reason.as_deref().unwrap_or("see the report");
                    verdict.failures.push(format!(
                        "scenario {}{}: {why}",
                        r.code
                            .as_deref()
                            .map(|c| format!("{c} "))
                            .unwrap_or_default(),
                        r.id
                    ));
                }
            }
        }
        Part::Broken { error } => {
            verdict.fail(format!("scenarios: {error}"), Outcome::Environment);
        }
        Part::NotRun { .. } => {}
    }
}

/// Counts the benchmark: failed repetitions, and what it left behind.
fn count_bench(
    verdict: &mut Verdict,
    bench: &Part<crate::model::summary::Summary>,
    outcome: Option<&crate::bench::runner::BenchOutcome>,
    dir: &Path,
) {
    match (bench, outcome) {
        (Part::Ran { .. }, Some(o)) => {
            verdict.add(o.outcome());
            if o.failed_steps > 0 {
                verdict.failures.push(format!(
                    "benchmark: {} repetition(s) failed (see the Failures section of {})",
                    o.failed_steps,
                    dir.join(BENCH_DIR).join(MARKDOWN_FILE).display()
                ));
            }
            for l in &o.leftovers {
                verdict.problems.push(format!("benchmark left behind {l}"));
            }
        }
        (Part::Broken { error }, _) => {
            verdict.fail(format!("benchmark: {error}"), Outcome::Environment);
        }
        _ => {}
    }
}

async fn scenario_phase(
    job: &Job,
    staged: &Staged,
    reporter: &Arc<dyn Reporter>,
    cancel: &watch::Receiver<bool>,
    dir: &Path,
) -> Part<RunResults> {
    if job.scenarios.is_empty() {
        return Part::NotRun {
            reason: job
                .scenarios_skipped
                .clone()
                .unwrap_or_else(|| "no scenario selected".to_owned()),
        };
    }
    if interrupted(cancel) {
        return Part::NotRun {
            reason: "interrupted before it started".to_owned(),
        };
    }
    let server = staged.server(match &job.external {
        Some(_) => ServerFlavor::External,
        None => job.flavor,
    });
    let Some(server) = server.cloned() else {
        return Part::Broken {
            error: format!(
                "no {} NFS server was prepared for the scenarios",
                job.flavor.name().to_owned()
            ),
        };
    };
    reporter.report(Event::Phase {
        phase: Phase::Scenarios,
        detail: &format!(
            "{} scenarios, {} at a time, against {}:{}",
            job.scenarios.len(),
            job.parallel.max(1),
            server.address,
            server.export
        ),
    });
    let env = ScenarioEnv::new(
        Arc::clone(&staged.cluster),
        server,
        job.config.clone(),
        job.run_id.clone(),
    );
    reporter.report(Event::ScenariosStarting {
        count: job.scenarios.len(),
    });
    let results = run_all(
        Arc::new(env),
        job.scenarios.iter().cloned().map(Arc::new).collect(),
        RunOptions {
            parallel: job.parallel.max(1),
            interrupt: Some(cancel.clone()),
        },
        Arc::clone(reporter),
    )
    .await;
    reporter.report(Event::ScenariosDone);
    if let Err(e) = write_results(&dir.join(SCENARIOS_FILE), &results) {
        reporter.report(Event::Line(&error_chain(&e)));
    }
    let ids: Vec<String> = job.scenarios.iter().map(|s| s.id.clone()).collect();
    let not_run = junit::NotRun::Skipped("not run: the run was interrupted before it started");
    match junit::render(&results, &ids, &std::collections::BTreeMap::new(), not_run) {
        Ok(xml) => {
            if let Err(e) = std::fs::write(dir.join(JUNIT_FILE), xml) {
                reporter.report(Event::Line(&format!("cannot write {JUNIT_FILE}: {e}")));
            }
        }
        Err(e) => reporter.report(Event::Line(&format!("cannot render {JUNIT_FILE}: {e}"))),
    }
    Part::Ran { results }
}

async fn bench_phase(
    job: &Job,
    staged: &Staged,
    reporter: &dyn Reporter,
    cancel: &watch::Receiver<bool>,
    dir: &Path,
) -> (
    Part<crate::model::summary::Summary>,
    Option<crate::bench::runner::BenchOutcome>,
) {
    let Some(plan) = &job.bench else {
        let reason = job
            .bench_skipped
            .clone()
            .unwrap_or_else(|| "no plan".to_owned());
        return (Part::NotRun { reason }, None);
    };
    if interrupted(cancel) {
        let reason = "interrupted before it started".to_owned();
        return (Part::NotRun { reason }, None);
    }
    let matrix = crate::model::matrix::Matrix::expand(plan);
    let eta = crate::bench::progress::Eta::for_matrix(
        plan,
        &matrix,
        crate::bench::progress::CLUSTER_STEP_OVERHEAD,
    );
    reporter.report(Event::Phase {
        phase: Phase::Benchmark,
        detail: &format!(
            "plan `{}`: {} cells x {} repetitions, estimated {}",
            plan.name,
            matrix.cells.len(),
            plan.repetitions,
            crate::bench::progress::format_eta(eta.total())
        ),
    });
    let target = Target::on(staged);
    let options = RunnerOptions {
        run_id: job.run_id.clone(),
        results_parent: dir.to_path_buf(),
        dir_name: Some(BENCH_DIR.to_owned()),
        timeouts: job.config.timeouts.clone(),
    };
    match run_bench(plan, &target, &options, reporter, cancel.clone()).await {
        Ok(o) => (
            Part::Ran {
                results: o.summary.clone(),
            },
            Some(o),
        ),
        Err(e) => (
            Part::Broken {
                error: error_chain(&e),
            },
            None,
        ),
    }
}

fn verdict_line(
    outcome: Outcome,
    scenarios: &Part<RunResults>,
    bench: &Part<crate::model::summary::Summary>,
) -> String {
    let mut parts = Vec::new();
    if let Part::Ran { results } = scenarios {
        parts.push(format!("scenarios: {}", results.summary.counts()));
    }
    if let Part::Ran { results } = bench {
        parts.push(format!("benchmark: {} cells", results.cells.len()));
    }
    let head = match outcome {
        Outcome::Success => "passed",
        Outcome::Failed => "failed",
        Outcome::BadInput => "bad input",
        Outcome::Environment => "environment problem",
        Outcome::Interrupted => "interrupted",
    };
    if parts.is_empty() {
        head.to_owned()
    } else {
        format!("{head} ({})", parts.join("; "))
    }
}

fn write_report(dir: &Path, input: &CombinedInput) -> Result<Vec<PathBuf>, String> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map(|()| path.clone())
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    };
    let json = serde_json::to_string_pretty(input).map_err(|e| e.to_string())?;
    write(JOB_FILE, &(json + "\n"))?;
    let md = write(MARKDOWN_FILE, &combined::render_markdown(input))?;
    let html = combined::render_html(input)
        .map_err(|e| format!("cannot draw the report's charts: {}", error_chain(&e)))?;
    let html = write(HTML_FILE, &html)?;
    Ok(vec![md, html])
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
