//! Running scenarios: one at a time ([`run_scenario`]) or many at once ([`run_all`]).
//!
//! A scenario runs in its own namespace (`nfslab-<id>-<run>`) and its own directory on the
//! NFS export. Its steps run in order on a separate task; the first failing step stops it.
//! Whatever happens to that task (pass, failure, panic, the scenario's time limit, Ctrl-C),
//! the engine then diagnoses a failure (events, pod statuses, log tails), removes
//! everything the scenario created (`crate::k8s::tracker::Tracker`), removes its server
//! directory, and returns a [`ScenarioResult`] with every step's outcome.
//!
//! Progress is reported to a [`Reporter`] as [`ScenarioEvent`]s (the CLI's live view; tests
//! record them).
//!
//! A scenario that disturbs the others ([`Scenario::exclusive`]: one that restarts the NFS
//! server) runs alone: [`run_all`] starts it after every other scenario has ended, through
//! the same [`Gate`] a caller that schedules scenarios itself (the test entry, one thread per
//! scenario) holds around each run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard, watch};
use tokio::time::Instant;

use super::env::ScenarioEnv;
use super::plan::{Requirements, Scenario};
use super::steps::{self, StepCtx, StepError};
use super::template::{Templates, Vars};
use crate::k8s::ObjectRef;
use crate::k8s::diagnose::{self, Diagnosis, Scope};
use crate::k8s::ownership;
use crate::k8s::tracker::{CleanupReport, Leftover, Tracker, millis};
use crate::model::scenarios::{
    KIND, MountRecord, Outcome, RunResults, SCHEMA_VERSION, ScenarioResult, StepOutcome,
    StepResult, Summary,
};
use crate::progress::{Event, Reporter, ScenarioEvent};

/// How [`run_all`] runs scenarios.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// How many at once (at least 1).
    pub parallel: usize,
    /// Becomes `true` when the user interrupts (Ctrl-C): running scenarios stop and clean
    /// up, the rest do not start.
    pub interrupt: Option<watch::Receiver<bool>>,
}

/// Keeps scenarios that must run alone ([`Scenario::exclusive`]) apart from all others:
/// any number of ordinary scenarios hold it together, an exclusive one holds it alone. It
/// is fair (first come, first served), so an exclusive scenario waiting for the running
/// ones to end keeps later ones from starting and is never starved.
#[derive(Debug, Default)]
pub struct Gate {
    lock: RwLock<()>,
}

/// Held while a scenario runs; dropping it lets the next ones in.
#[derive(Debug)]
pub enum GatePass<'a> {
    /// Beside other ordinary scenarios.
    Shared(RwLockReadGuard<'a, ()>),
    /// Alone.
    Alone(RwLockWriteGuard<'a, ()>),
}

impl Gate {
    /// A gate nobody holds.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until `scenario` may run: at once beside other ordinary scenarios, or, when it
    /// is exclusive, until every scenario holding the gate has ended.
    pub async fn enter(&self, scenario: &Scenario) -> GatePass<'_> {
        if scenario.exclusive {
            GatePass::Alone(self.lock.write().await)
        } else {
            GatePass::Shared(self.lock.read().await)
        }
    }
}

/// What the steps' task shares with the engine, so results survive a panic or an abort.
#[derive(Default)]
struct Shared {
    steps: Vec<StepResult>,
    mounts: Vec<MountRecord>,
    captured: std::collections::BTreeMap<String, String>,
    /// Objects of the failing step, for the diagnosis.
    subjects: Vec<ObjectRef>,
    /// The scenario's server directory was created (and must be removed).
    dir_created: bool,
    /// The step running now (1-based).
    current: usize,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves when `interrupt` becomes `true` (never without a receiver).
async fn interrupted(interrupt: Option<watch::Receiver<bool>>) {
    match interrupt {
        Some(mut rx) => {
            if rx.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

fn is_interrupted(interrupt: Option<&watch::Receiver<bool>>) -> bool {
    interrupt.is_some_and(|rx| *rx.borrow())
}

/// What is missing for `requires`, if anything.
fn missing(env: &ScenarioEnv, requires: Requirements) -> Option<String> {
    if requires.server_files && env.files.is_none() {
        return Some(
            "skipped: the scenario reads and writes the NFS server's files, and this server \
             offers no file access (use a server nfslab deploys)"
                .to_owned(),
        );
    }
    if requires.server_restart && env.control.is_none() {
        return Some(
            "skipped: the scenario restarts the NFS server, which nfslab cannot do for this \
             server"
                .to_owned(),
        );
    }
    None
}

/// Runs one scenario and cleans up after it, whatever happens.
pub async fn run_scenario(
    env: Arc<ScenarioEnv>,
    scenario: Arc<Scenario>,
    observer: Arc<dyn Reporter>,
    interrupt: Option<watch::Receiver<bool>>,
) -> ScenarioResult {
    let started = Instant::now();
    let started_at = crate::errors::now_rfc3339();
    let vars = Vars::new(&env.run, &scenario.id, &env.server, &env.images);
    let namespace = vars.namespace.clone();
    observer.report(Event::Scenario(ScenarioEvent::ScenarioStarted {
        id: &scenario.id,
        steps: scenario.steps.len(),
    }));
    let skip = if is_interrupted(interrupt.as_ref()) {
        Some((
            Outcome::Interrupted,
            "interrupted before it started".to_owned(),
        ))
    } else {
        missing(&env, scenario.requires).map(|why| (Outcome::Skipped, why))
    };
    if let Some((outcome, reason)) = skip {
        let result = finish(
            &scenario,
            &namespace,
            started_at,
            started,
            outcome,
            Some(reason),
            Shared::default(),
            None,
            CleanupReport::default(),
        );
        observer.report(Event::Scenario(ScenarioEvent::ScenarioFinished {
            result: &result,
        }));
        return result;
    }

    let tracker = Tracker::new(Arc::clone(&env.cluster));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let task = tokio::spawn(run_steps(
        Arc::clone(&env),
        Arc::clone(&scenario),
        vars.clone(),
        tracker.clone(),
        Arc::clone(&shared),
        Arc::clone(&observer),
    ));
    let abort = task.abort_handle();
    let limit = async {
        match scenario.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let (outcome, reason) = tokio::select! {
        joined = task => match joined {
            Ok(Ok(())) => (Outcome::Passed, None),
            Ok(Err(e)) => (
                if e.assertion { Outcome::Failed } else { Outcome::Error },
                Some(e.message),
            ),
            Err(e) if e.is_panic() => {
                let step = lock(&shared).current;
                (Outcome::Error, Some(format!(
                    "the engine panicked during step {step}: {}",
                    panic_text(e.into_panic())
                )))
            }
            Err(_) => (Outcome::Error, Some("the scenario's task was cancelled".to_owned())),
        },
        () = interrupted(interrupt) => {
            abort.abort();
            (Outcome::Interrupted, Some("interrupted; cleanup ran".to_owned()))
        },
        () = limit => {
            abort.abort();
            let t = scenario.timeout.unwrap_or_default();
            (Outcome::Failed, Some(format!(
                "the scenario exceeded its time limit of {}",
                nfslab_workload::format_duration(t)
            )))
        },
    };

    let diagnosis = if outcome == Outcome::Passed {
        None
    } else {
        let mut objects = lock(&shared).subjects.clone();
        // Cluster-scoped objects (PVs, classes) have their events in `default`; include them.
        for o in tracker.tracked() {
            if o.namespace.is_none() && o.kind != "Namespace" && !objects.contains(&o) {
                objects.push(o);
            }
        }
        let scope = Scope {
            namespace: Some(namespace.clone()),
            objects,
            tail_lines: env.config.scenarios.log_tail_lines,
        };
        Some(diagnose::diagnose(env.cluster.as_ref(), &scope).await)
    };

    observer.report(Event::Scenario(ScenarioEvent::CleanupStarted {
        id: &scenario.id,
    }));
    let mut cleanup = tracker.cleanup(env.config.timeouts.cleanup).await;
    let dir_created = lock(&shared).dir_created;
    if dir_created && let Some(files) = &env.files {
        let removal = tokio::time::timeout(
            env.config.timeouts.exec,
            files.remove(vars.dir_name(), true),
        )
        .await;
        let problem = match removal {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(crate::errors::error_chain(&e)),
            Err(_) => Some("the NFS server did not answer".to_owned()),
        };
        if let Some(reason) = problem {
            cleanup.leftovers.push(Leftover {
                object: format!("NFS directory `{}`", vars.nfs_dir),
                state: None,
                reason,
            });
        }
    }

    let shared = std::mem::take(&mut *lock(&shared));
    let result = finish(
        &scenario, &namespace, started_at, started, outcome, reason, shared, diagnosis, cleanup,
    );
    observer.report(Event::Scenario(ScenarioEvent::ScenarioFinished {
        result: &result,
    }));
    result
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[allow(clippy::too_many_arguments)]
fn finish(
    scenario: &Scenario,
    namespace: &str,
    started_at: String,
    started: Instant,
    outcome: Outcome,
    reason: Option<String>,
    shared: Shared,
    diagnosis: Option<Diagnosis>,
    cleanup: CleanupReport,
) -> ScenarioResult {
    let mut steps = shared.steps;
    for step in scenario.steps.iter().skip(steps.len()) {
        steps.push(StepResult {
            index: step.index,
            kind: step.kind.to_owned(),
            label: step.label(),
            location: scenario.location(step.pos),
            outcome: StepOutcome::NotRun,
            duration_ms: 0,
            message: None,
            observations: Vec::new(),
        });
    }
    ScenarioResult {
        id: scenario.id.clone(),
        code: scenario.code.clone(),
        title: scenario.title.clone(),
        file: scenario.file.display().to_string(),
        description: scenario.description.clone(),
        sources: scenario.sources.clone(),
        namespace: namespace.to_owned(),
        outcome,
        reason,
        started_at,
        duration_ms: millis(started.elapsed()),
        steps,
        notes: scenario.notes.clone(),
        mounts: shared.mounts,
        captured: shared.captured,
        diagnosis,
        cleanup,
    }
}

/// The scenario's namespace and server directory, then its steps in order.
async fn run_steps(
    env: Arc<ScenarioEnv>,
    scenario: Arc<Scenario>,
    vars: Vars,
    tracker: Tracker,
    shared: Arc<Mutex<Shared>>,
    observer: Arc<dyn Reporter>,
) -> Result<(), StepError> {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": vars.namespace}});
    ownership::stamp(&mut ns, &env.run, Some(&scenario.id));
    let ns_ref = ObjectRef::cluster("v1", "Namespace", &vars.namespace);
    tracker.record(&ns_ref);
    env.cluster.apply(&ns).await.map_err(|e| {
        StepError::broken(format!(
            "could not create namespace `{}`: {}",
            vars.namespace,
            crate::errors::error_chain(&e)
        ))
    })?;
    if let Some(files) = &env.files {
        // World-writable, as an admin prepares a shared export: pods write as any user.
        let made = tokio::time::timeout(
            env.config.timeouts.exec,
            files.mkdir(vars.dir_name(), Some("0777"), None),
        )
        .await;
        match made {
            Ok(Ok(())) => lock(&shared).dir_created = true,
            Ok(Err(e)) => {
                return Err(StepError::broken(format!(
                    "could not create the scenario's directory on the NFS server: {}",
                    crate::errors::error_chain(&e)
                )));
            }
            Err(_) => {
                return Err(StepError::broken(
                    "could not create the scenario's directory: the NFS server did not answer",
                ));
            }
        }
    }
    let mut ctx = StepCtx {
        env: Arc::clone(&env),
        scenario_id: scenario.id.clone(),
        vars,
        templates: Templates::new(),
        tracker,
        observations: Vec::new(),
        subjects: Vec::new(),
        mounts: Vec::new(),
    };
    for step in &scenario.steps {
        lock(&shared).current = step.index;
        observer.report(Event::Scenario(ScenarioEvent::StepStarted {
            id: &scenario.id,
            index: step.index,
            label: &step.label(),
        }));
        let timeout = step.timeout.resolve(&env.config.timeouts);
        let window = match &step.action {
            super::plan::Action::Stays(stays) => {
                stays.duration.unwrap_or(env.config.timeouts.observe)
            }
            _ => Duration::ZERO,
        };
        // A hard cap over the step's own deadline, for calls that have none (exec, list).
        let cap = timeout.max(window) + env.config.timeouts.request;
        let start = Instant::now();
        ctx.observations.clear();
        ctx.subjects.clear();
        let outcome =
            match tokio::time::timeout(cap, steps::run(&mut ctx, &step.action, timeout)).await {
                Ok(r) => r,
                Err(_) => Err(StepError::failed(format!(
                    "the step did not finish within {}",
                    nfslab_workload::format_duration(cap)
                ))),
            };
        let result = StepResult {
            index: step.index,
            kind: step.kind.to_owned(),
            label: step.label(),
            location: scenario.location(step.pos),
            outcome: if outcome.is_ok() {
                StepOutcome::Passed
            } else {
                StepOutcome::Failed
            },
            duration_ms: millis(start.elapsed()),
            message: outcome.as_ref().err().map(|e| e.message.clone()),
            observations: std::mem::take(&mut ctx.observations),
        };
        {
            let mut s = lock(&shared);
            s.steps.push(result.clone());
            s.mounts = ctx.mounts.clone();
            s.captured = ctx.vars.captured.clone();
            s.subjects = ctx.subjects.clone();
        }
        observer.report(Event::Scenario(ScenarioEvent::StepFinished {
            id: &scenario.id,
            result: &result,
        }));
        outcome?;
    }
    Ok(())
}

/// Runs scenarios, at most `options.parallel` at once, and collects the results in the
/// order given. Exclusive scenarios start last, each once every other scenario has ended,
/// and run alone.
pub async fn run_all(
    env: Arc<ScenarioEnv>,
    scenarios: Vec<Arc<Scenario>>,
    options: RunOptions,
    observer: Arc<dyn Reporter>,
) -> RunResults {
    let started = Instant::now();
    let started_at = crate::errors::now_rfc3339();
    let parallel = options.parallel.max(1);
    let gate = Arc::new(Gate::new());
    let mut order: Vec<(usize, Arc<Scenario>)> = scenarios.into_iter().enumerate().collect();
    // Stable: ordinary scenarios keep their order, exclusive ones follow in theirs. Every
    // ordinary one has started before an exclusive one waits at the gate.
    order.sort_by_key(|(_, s)| s.exclusive);
    let mut results: Vec<(usize, ScenarioResult)> = futures::stream::iter(order)
        .map(|(i, scenario)| {
            let (env, observer, interrupt, gate) = (
                Arc::clone(&env),
                Arc::clone(&observer),
                options.interrupt.clone(),
                Arc::clone(&gate),
            );
            async move {
                let _pass = gate.enter(&scenario).await;
                (i, run_scenario(env, scenario, observer, interrupt).await)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let scenarios: Vec<ScenarioResult> = results.into_iter().map(|(_, r)| r).collect();
    RunResults {
        schema_version: SCHEMA_VERSION,
        kind: KIND.to_owned(),
        run_id: env.run.to_string(),
        started_at,
        duration_ms: millis(started.elapsed()),
        environment: env.info(),
        summary: Summary::of(&scenarios),
        scenarios,
    }
}
