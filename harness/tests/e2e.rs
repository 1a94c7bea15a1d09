//! The scenario catalog as one test per scenario (`harness = false`, libtest-mimic).
//!
//! Every file in `scenarios/` is a trial named by its id, so
//! `cargo test --test e2e -- static-binding` filters and `-- --list` lists. A file that does
//! not validate is a failing trial, cluster or not.
//!
//! Which cluster: `NFSLAB_E2E_CLUSTER=kind` (nfslab's kind cluster, created when missing and
//! then deleted; `NFSLAB_E2E_REUSE=1` keeps it) or `existing` (the cluster of
//! `NFSLAB_E2E_KUBECONFIG` or `KUBECONFIG`, context `NFSLAB_E2E_CONTEXT`, or its current
//! context with `NFSLAB_E2E_YES=1`; `NFSLAB_E2E_IMAGE_REGISTRY` pushes nfslab's images
//! there as `--image-registry` does);
//! `NFSLAB_E2E_FLAVOR=kernel|ganesha` picks the in-cluster server, `NFSLAB_CONFIG` a
//! configuration file. Unset: every scenario is reported
//! IGNORED and the reason is printed once; with `NFSLAB_REQUIRE` naming `cluster` (or
//! `kind`) they fail instead, so CI cannot pass by skipping.
//!
//! Other variables: `NFSLAB_E2E_REPORT=DIR` writes `scenarios.json` (versioned results) and
//! `junit.xml`; `NFSLAB_E2E_PARALLEL=N` runs N scenarios at once (default from the
//! configuration); `NFSLAB_E2E_VERBOSE=1` prints each step as it ends; `NFSLAB_SCENARIOS`
//! points at another catalog directory. Ctrl-C stops the running scenarios, cleans up, and
//! skips the rest.
//!
//! After the scenarios, nothing of the run may be left (`nfslab clean --run` would find
//! nothing, recycler pods of its volumes included): otherwise the binary exits 1. Tear-down
//! then removes what still uses NFS before the NFS server.
//!
//! Scenarios that must run alone (`exclusive`, implied by a server restart) are listed last
//! and each waits at the engine's [`Gate`] until every scenario running on the other test
//! threads has ended; scenarios after it wait for it in turn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use nfslab::Config;
use nfslab::k8s::clean::{self, Scope};
use nfslab::k8s::ownership::RunId;
use nfslab::model::scenarios::{
    KIND, Outcome, RunResults, SCHEMA_VERSION, ScenarioTarget, StepOutcome, Summary,
};
use nfslab::progress::{Event, Reporter, ScenarioEvent};
use nfslab::scenario::catalog::{self, Catalog};
use nfslab::scenario::env::ScenarioEnv;
use nfslab::scenario::junit;
use nfslab::scenario::{Gate, Quiet, Scenario, ScenarioResult, run_scenario};
use nfslab::{ClusterChoice, EnvironmentError, Provider, SystemProvider, flavor_from_env};
use nfslab_test_support::gate;
use tokio::sync::{OnceCell, watch};

/// Whether `NFSLAB_REQUIRE` makes a missing cluster a failure (it names `cluster`, or `kind`).
fn cluster_required() -> bool {
    gate::required("cluster") || gate::required("kind")
}

/// What the trials share: one runtime, one environment (prepared by the first trial that
/// runs), the results, and the interrupt signal.
struct Shared {
    runtime: tokio::runtime::Runtime,
    choice: Option<ClusterChoice>,
    config: Config,
    run: RunId,
    /// Brings the environment up and removes it: the provider every job runs on.
    provider: SystemProvider,
    prepared: OnceCell<Result<ScenarioEnv, String>>,
    results: Mutex<Vec<ScenarioResult>>,
    interrupt: watch::Receiver<bool>,
    verbose: bool,
    /// Keeps exclusive scenarios apart from the others.
    gate: Gate,
}

impl Shared {
    /// The environment, prepared on first use.
    fn env(&self) -> Result<Arc<ScenarioEnv>, String> {
        let choice = self
            .choice
            .clone()
            .ok_or_else(ClusterChoice::unset_reason)?;
        let prepared = self.runtime.block_on(self.prepared.get_or_init(|| async {
            let mut stop = self.interrupt.clone();
            let interrupt = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let request = ScenarioEnv::request(choice, &self.config);
            let staged = self
                .provider
                .bring_up(&request, Box::pin(interrupt), &progress)
                .await
                .map_err(|e| nfslab::error_chain(&e))?;
            ScenarioEnv::on(&staged, &self.config, &self.run).ok_or_else(|| {
                let flavor = self.config.nfs.flavor;
                nfslab::error_chain(&EnvironmentError::NoServer { flavor })
            })
        }));
        prepared.clone().map(Arc::new)
    }

    fn run(&self, scenario: Scenario) -> Result<Completion, Failed> {
        let env = self.env().map_err(Failed::from)?;
        let observer: Arc<dyn Reporter> = if self.verbose {
            Arc::new(Lines)
        } else {
            Arc::new(Quiet)
        };
        let scenario = Arc::new(scenario);
        let result = self.runtime.block_on(async {
            let _pass = self.gate.enter(&scenario).await;
            run_scenario(env, scenario, observer, Some(self.interrupt.clone())).await
        });
        let outcome = result.outcome;
        let explanation = result.explain();
        let reason = result.reason.clone().unwrap_or_default();
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(result);
        match outcome {
            Outcome::Passed => Ok(Completion::Completed),
            Outcome::Skipped => Ok(Completion::ignored_with(reason)),
            Outcome::Failed | Outcome::Error | Outcome::Interrupted => {
                Err(Failed::from(explanation))
            }
        }
    }
}

/// Environment bring-up and tear-down lines.
fn progress(line: &str) {
    eprintln!("e2e: {line}");
}

/// Prints each step as it ends (`NFSLAB_E2E_VERBOSE=1`).
struct Lines;

impl Reporter for Lines {
    fn report(&self, event: Event<'_>) {
        let Event::Scenario(event) = event else {
            return;
        };
        match event {
            ScenarioEvent::StepFinished { id, result } => eprintln!(
                "[{id}] step {} {} ... {} ({} ms)",
                result.index,
                result.label,
                match result.outcome {
                    StepOutcome::Passed => "ok",
                    StepOutcome::Failed => "FAILED",
                    StepOutcome::NotRun => "not run",
                },
                result.duration_ms
            ),
            ScenarioEvent::CleanupStarted { id } => eprintln!("[{id}] cleaning up"),
            ScenarioEvent::ScenarioStarted { .. }
            | ScenarioEvent::StepStarted { .. }
            | ScenarioEvent::ScenarioFinished { .. } => {}
        }
    }
}

fn catalog_dir() -> PathBuf {
    std::env::var_os(catalog::DIR_VARIABLE)
        .filter(|d| !d.is_empty())
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"),
            PathBuf::from,
        )
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let dir = catalog_dir();
    let catalog = match Catalog::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    };
    let choice = match ClusterChoice::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = match Config::load(
        std::env::var_os("NFSLAB_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    };
    match flavor_from_env() {
        Ok(Some(flavor)) => config.nfs.flavor = flavor,
        Ok(None) => {}
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(choice) = &choice {
        choice.use_registry(&mut config);
    }
    if args.test_threads.is_none() {
        let parallel = std::env::var("NFSLAB_E2E_PARALLEL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(config.scenarios.parallel);
        args.test_threads = Some(parallel.max(1));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("e2e: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let (interrupt_tx, interrupt) = watch::channel(false);
    let ignore = choice.is_none() && !cluster_required();
    let shared = Arc::new(Shared {
        runtime,
        choice,
        config,
        run: RunId::generate(),
        provider: SystemProvider::default(),
        prepared: OnceCell::new(),
        results: Mutex::new(Vec::new()),
        interrupt,
        verbose: std::env::var("NFSLAB_E2E_VERBOSE").is_ok_and(|v| v == "1"),
        gate: Gate::new(),
    });

    let mut invalid = BTreeMap::new();
    // Test threads take trials in this order: those that run alone come last, so they wait
    // for the others once, not the others for them.
    let mut entries: Vec<&catalog::Entry> = catalog.entries.iter().collect();
    entries.sort_by_key(|e| e.scenario.as_ref().is_ok_and(|s| s.exclusive));
    let trials: Vec<Trial> = entries
        .into_iter()
        .map(|entry| match &entry.scenario {
            Err(e) => {
                let message = e.to_string();
                invalid.insert(entry.id.clone(), message.clone());
                Trial::test(entry.id.clone(), move || Err(Failed::from(message)))
            }
            Ok(scenario) => {
                let (shared, scenario) = (Arc::clone(&shared), scenario.clone());
                Trial::ignorable_test(entry.id.clone(), move || shared.run(scenario))
                    .with_ignored_flag(ignore)
            }
        })
        .collect();
    let selected: Vec<String> = trials
        .iter()
        .filter(|t| !args.is_filtered_out(t))
        .map(|t| t.name().to_owned())
        .collect();
    let will_run = trials
        .iter()
        .any(|t| !args.is_filtered_out(t) && !args.is_ignored(t));
    if !args.list {
        if shared.choice.is_none() && !selected.is_empty() {
            if cluster_required() {
                eprintln!(
                    "e2e: NFSLAB_REQUIRE names the cluster, so this fails: {}",
                    ClusterChoice::unset_reason()
                );
            } else {
                eprintln!(
                    "e2e: {} scenarios ignored: {}",
                    selected.len() - invalid.len().min(selected.len()),
                    ClusterChoice::unset_reason()
                );
            }
        }
        if shared.choice.is_some() && will_run {
            // Ctrl-C: stop running scenarios (they clean up) and skip the rest; a second
            // Ctrl-C exits at once.
            shared.runtime.spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("e2e: interrupted; cleaning up (Ctrl-C again to exit now)");
                    let _ = interrupt_tx.send(true);
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(130);
                    }
                }
            });
        }
    }

    let started_at = nfslab::now_rfc3339();
    let start = std::time::Instant::now();
    let conclusion = libtest_mimic::run(&args, trials);

    let mut code = conclusion.exit_code();
    if let Some(Ok(prepared)) = shared.prepared.get() {
        // Every scenario cleaned up after itself: nothing of the run is left, not even the
        // PV controller's recycler pods of its volumes (found by name, they carry no label).
        let cluster = prepared.cluster.as_ref();
        let scope = Scope::Run(shared.run.clone());
        match shared.runtime.block_on(clean::find(cluster, &scope)) {
            Ok(left) if left.is_empty() => {}
            Ok(left) => {
                let names: Vec<String> = left.iter().map(ToString::to_string).collect();
                eprintln!(
                    "e2e: the scenarios left {} object(s) of run {} behind: {}",
                    left.len(),
                    shared.run,
                    names.join(", ")
                );
                code = ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("e2e: could not look for what the run left: {e}");
                code = ExitCode::from(3);
            }
        }
    }
    // Whatever bring-up made is removed, also when it came up without the server the
    // scenarios need (the provider removes nothing when nothing was made).
    let removed = shared
        .runtime
        .block_on(shared.provider.tear_down(&shared.run, &progress));
    if let Err(e) = removed {
        eprintln!("e2e: tearing down the environment failed: {e}");
        code = ExitCode::from(3);
    }
    if !args.list
        && let Some(dir) = std::env::var_os("NFSLAB_E2E_REPORT").filter(|d| !d.is_empty())
    {
        let results = collect(&shared, &catalog, started_at, start.elapsed());
        let unset = ClusterChoice::unset_reason();
        let not_run = match shared.prepared.get() {
            Some(Err(message)) => junit::NotRun::Error(message.as_str()),
            Some(Ok(_)) => junit::NotRun::Error("not run: the run was interrupted"),
            None if shared.choice.is_some() => {
                junit::NotRun::Error("not run: the environment was never prepared")
            }
            None => junit::NotRun::Skipped(unset.as_str()),
        };
        let written = write_reports(
            Path::new(&dir),
            &results,
            &catalog,
            &selected,
            &invalid,
            not_run,
        );
        if let Err(e) = written {
            eprintln!(
                "e2e: cannot write the reports to `{}`: {e}",
                Path::new(&dir).display()
            );
            code = ExitCode::from(3);
        }
    }
    code
}

/// The run's results in catalog order.
fn collect(
    shared: &Shared,
    catalog: &Catalog,
    started_at: String,
    elapsed: Duration,
) -> RunResults {
    let mut results = shared
        .results
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let position = |id: &str| catalog.entries.iter().position(|e| e.id == id);
    results.sort_by_key(|r| position(&r.id));
    let environment = match shared.prepared.get() {
        Some(Ok(env)) => env.info(),
        _ => ScenarioTarget::default(),
    };
    RunResults {
        schema_version: SCHEMA_VERSION,
        kind: KIND.to_owned(),
        run_id: shared.run.to_string(),
        started_at,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        environment,
        summary: Summary::of(&results),
        scenarios: results,
    }
}

/// `scenarios.json` and `junit.xml` in `dir`: every selected scenario appears in the JUnit
/// report, as passed, failed, or skipped with the reason.
fn write_reports(
    dir: &Path,
    results: &RunResults,
    catalog: &Catalog,
    selected: &[String],
    invalid: &BTreeMap<String, String>,
    not_run: junit::NotRun<'_>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("scenarios.json"), json + "\n")?;
    let ordered: Vec<String> = catalog
        .entries
        .iter()
        .filter(|e| selected.contains(&e.id))
        .map(|e| e.id.clone())
        .collect();
    let xml = junit::render(results, &ordered, invalid, not_run).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(junit::JUNIT_FILE), xml)
}
