//! The one skeleton every job runs in: environment, work, tear-down, results.
//!
//! `nfslab run`, `nfslab scenarios run` and `nfslab bench` (with or without `--host`) differ
//! in their work and in how they write their results; everything around the work is the
//! same and lives here, in [`orchestrate`]:
//! 1. the environment comes from a [`Provider`], raced against the interrupt channel the
//!    CLI owns (this library installs no signal handler); when it cannot be brought up, the
//!    work says how that ends ([`Work::unprepared`]: the advice, the JUnit of what did not
//!    run);
//! 2. the work runs and writes what it measured ([`Work::run`]), adding its outcome and its
//!    failures to the [`Verdict`];
//! 3. tear-down, whatever happened: on a failure, the debug bundle first when the work
//!    keeps one, then everything removed, or kept when the work asks for that;
//! 4. the outcome, decided here and nowhere else: the worst of what each part said
//!    ([`worst`]: an interruption, then a failure found, then bad input, then a broken
//!    environment), an interruption at any point included; then the work's own conclusion
//!    ([`Work::conclude`]).
//!
//! A provider brings up what its [`Provider::Request`] asks for and hands the work a
//! [`Provider::Staged`]: [`SystemProvider`] a cluster and its NFS servers through
//! [`crate::environment`]; `bench --host` a provider without a cluster, which makes nothing
//! and unmounts what the run mounted ([`crate::bench::host::HostProvider`]). Tests bring the
//! scripted fake cluster ([`crate::run`]'s tests run every kind of work through here).
//!
//! This is a module of its own, not part of `run`, so that the commands' works (`run`,
//! `scenario::commands`, the CLI's benchmark) depend on it and it depends on none of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{Mutex, watch};

use crate::config::Config;
use crate::environment::{self, Environment, EnvironmentError, HostParts};
use crate::exit::Outcome;
use crate::k8s::Cluster;
use crate::k8s::ownership::RunId;
use crate::model::environment::Environment as EnvironmentRecord;
use crate::nfs::{NfsServer, ServerFlavor};
use crate::progress::{Event, Reporter};

/// A receiver of progress lines: what the environment layer (`crate::environment`) and a
/// [`Provider`] say while they bring up and tear down; [`orchestrate`] turns them into
/// [`Event::Line`]s.
pub type Lines<'a> = dyn Fn(&str) + Sync + 'a;

/// Where a job's environment comes from.
#[async_trait]
pub trait Provider: Send + Sync {
    /// What the work asks for.
    type Request: Send + Sync;
    /// What bring-up hands the work.
    type Staged: Send + Sync;

    /// Brings up what `request` asks for; when `interrupt` completes first, removes what
    /// was made and returns [`EnvironmentError::Interrupted`].
    async fn bring_up(
        &self,
        request: &Self::Request,
        interrupt: BoxFuture<'static, ()>,
        progress: &Lines<'_>,
    ) -> Result<Self::Staged, EnvironmentError>;

    /// Removes what [`Provider::bring_up`] made (nothing when it failed); on a cluster that
    /// stays, what `run` left behind goes first, the servers after it.
    async fn tear_down(&self, run: &RunId, progress: &Lines<'_>) -> Result<(), EnvironmentError>;

    /// Writes the debug bundle of what [`Provider::bring_up`] made into `dir`
    /// ([`crate::cluster::debug`]); returns what could not be collected, or `None` when
    /// nothing was brought up.
    async fn evidence(&self, dir: &Path, failure: &str) -> Option<Vec<String>>;

    /// Forgets what [`Provider::bring_up`] made without removing it (kept for inspection);
    /// returns what stays, one line each.
    async fn keep(&self) -> Vec<String>;
}

/// A provider of a cluster and its NFS servers (the real one, or the fake in tests).
pub type ClusterProvider = dyn Provider<Request = environment::Request, Staged = Staged>;

/// What a cluster provider hands the work.
#[derive(Clone)]
pub struct Staged {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// The servers: in-cluster flavors, then external ones.
    pub servers: Vec<NfsServer>,
    /// What reports record.
    pub info: EnvironmentRecord,
}

impl Staged {
    /// The server of `flavor`, if one was brought up.
    #[must_use]
    pub fn server(&self, flavor: ServerFlavor) -> Option<&NfsServer> {
        self.servers.iter().find(|s| s.flavor == flavor)
    }
}

/// The real environment: `environment::prepare` and `environment::tear_down`.
#[derive(Default)]
pub struct SystemProvider {
    prepared: Mutex<Option<(HostParts, Environment, Config)>>,
}

#[async_trait]
impl Provider for SystemProvider {
    type Request = environment::Request;
    type Staged = Staged;

    async fn bring_up(
        &self,
        request: &environment::Request,
        interrupt: BoxFuture<'static, ()>,
        progress: &Lines<'_>,
    ) -> Result<Staged, EnvironmentError> {
        let parts = HostParts::system()?;
        let env = environment::prepare(&parts, request, interrupt, progress).await?;
        let staged = Staged {
            cluster: Arc::clone(&env.cluster),
            servers: env.servers.clone(),
            info: env.info.clone(),
        };
        *self.prepared.lock().await = Some((parts, env, request.config.clone()));
        Ok(staged)
    }

    async fn tear_down(&self, run: &RunId, progress: &Lines<'_>) -> Result<(), EnvironmentError> {
        let Some((parts, env, config)) = self.prepared.lock().await.take() else {
            return Ok(());
        };
        environment::tear_down(&parts, &env, &config, Some(run), progress).await
    }

    async fn evidence(&self, dir: &Path, failure: &str) -> Option<Vec<String>> {
        let guard = self.prepared.lock().await;
        let (parts, env, config) = guard.as_ref()?;
        let evidence = crate::cluster::debug::Evidence {
            cluster: Some(env.cluster.as_ref()),
            kind: env.kind_name(),
            tools: parts.tools(),
            failure,
            manifests: env
                .servers
                .iter()
                .filter(|s| s.flavor != ServerFlavor::External)
                .map(|s| {
                    (
                        format!("nfs-server-{}.yaml", s.flavor.name().to_owned()),
                        crate::nfs::server::manifests_without_cluster(config, Some(s.flavor)),
                    )
                })
                .collect(),
        };
        Some(crate::cluster::debug::collect(&evidence, dir).await)
    }

    async fn keep(&self) -> Vec<String> {
        self.prepared
            .lock()
            .await
            .take()
            .map(|(_, env, _)| env.owned())
            .unwrap_or_default()
    }
}

/// The job's outcome so far, its failures (for the user) and problems (for the report).
#[derive(Debug)]
pub struct Verdict {
    /// The exit code so far.
    pub outcome: Outcome,
    /// One line per failure: failed scenarios, failed repetitions, the debug bundle, what
    /// was kept.
    pub failures: Vec<String>,
    /// What the report records beside the results (leftovers, the debug bundle, a failed
    /// tear-down).
    pub problems: Vec<String>,
    /// Why tear-down failed, when it did (already counted in [`Verdict::outcome`]).
    pub tear_down: Option<EnvironmentError>,
}

impl Verdict {
    fn new() -> Self {
        Self {
            outcome: Outcome::Success,
            failures: Vec::new(),
            problems: Vec::new(),
            tear_down: None,
        }
    }

    /// Counts what a part of the work ended with.
    pub fn add(&mut self, outcome: Outcome) {
        self.outcome = worst(self.outcome, outcome);
    }

    /// A failure of a part of the work: its line, and what it means for the exit code.
    pub fn fail(&mut self, line: String, outcome: Outcome) {
        self.add(outcome);
        self.failures.push(line);
    }
}

/// What tear-down does for a work.
#[derive(Clone, Debug, Default)]
pub struct Aftercare {
    /// On a failure, the debug bundle goes here before anything is removed (`None`: no
    /// bundle).
    pub debug_dir: Option<PathBuf>,
    /// On a failure, keep the environment for inspection instead of removing it.
    pub keep_on_failure: bool,
}

/// A kind of work run between bring-up and tear-down, and its own results writer.
#[async_trait]
pub trait Work<P: Provider + ?Sized>: Sync {
    /// What the work hands its conclusion.
    type Done: Send;
    /// How the work ends for its caller.
    type Report;

    /// The run's id: tear-down removes what carries it.
    fn run_id(&self) -> &RunId;

    /// The environment it needs.
    fn request(&self) -> P::Request;

    /// Said before bring-up.
    fn announce(&self, _request: &P::Request) {}

    /// How the job ends when the environment could not be brought up (nothing else ran).
    fn unprepared(&self, error: EnvironmentError) -> Self::Report;

    /// Does the work on `staged` and writes what it found, before anything is removed;
    /// adds its outcome and failures to `verdict`. Stops early when `cancel` turns `true`.
    async fn run(
        &self,
        staged: &P::Staged,
        cancel: &watch::Receiver<bool>,
        verdict: &mut Verdict,
    ) -> Self::Done;

    /// What tear-down does after `done` (default: remove everything, no debug bundle).
    fn aftercare(&self, _done: &Self::Done) -> Aftercare {
        Aftercare::default()
    }

    /// Tear-down begins: the environment is `kept`, or removed.
    fn tearing_down(&self, _done: &Self::Done, _kept: bool) {}

    /// The job's end: what it ran, with the outcome decided.
    fn conclude(&self, done: Self::Done, verdict: Verdict) -> Self::Report;
}

/// Orders outcomes by what the exit code should say first: an interruption, then a
/// failure found, then bad input, then a broken environment.
#[must_use]
pub fn worst(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Success => 0,
        Outcome::Environment => 1,
        Outcome::BadInput => 2,
        Outcome::Failed => 3,
        Outcome::Interrupted => 4,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Whether the user has interrupted.
pub(crate) fn interrupted(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

/// Completes when `cancel` turns `true` (never, once nobody can send any more).
pub(crate) fn interrupt_future(cancel: &watch::Receiver<bool>) -> BoxFuture<'static, ()> {
    let mut rx = cancel.clone();
    async move {
        // A dropped sender means nobody can interrupt any more: wait forever.
        if rx.wait_for(|stop| *stop).await.is_err() {
            futures::future::pending::<()>().await;
        }
    }
    .boxed()
}

/// Runs `work` in an environment from `provider`: bring-up, the work, tear-down whatever
/// happened, then the work's conclusion with the outcome decided: the worst of what each
/// part said ([`worst`]), an interruption at any point included.
/// `reporter` receives bring-up's and tear-down's lines; `cancel` is the CLI's interrupt.
pub async fn orchestrate<P, W>(
    work: &W,
    provider: &P,
    reporter: &dyn Reporter,
    cancel: watch::Receiver<bool>,
) -> W::Report
where
    P: Provider + ?Sized,
    W: Work<P>,
{
    let progress = |line: &str| reporter.report(Event::Line(line));
    let progress: &Lines<'_> = &progress;
    let request = work.request();
    work.announce(&request);
    let staged = match provider
        .bring_up(&request, interrupt_future(&cancel), progress)
        .await
    {
        Ok(s) => s,
        Err(e) => return work.unprepared(e),
    };
    let mut verdict = Verdict::new();
    let done = work.run(&staged, &cancel, &mut verdict).await;
    let care = work.aftercare(&done);
    tear_down(
        work,
        &done,
        provider,
        progress,
        &cancel,
        &care,
        &mut verdict,
    )
    .await;
    if interrupted(&cancel) {
        verdict.outcome = Outcome::Interrupted;
    }
    work.conclude(done, verdict)
}

/// Tear-down: on a failure, the debug bundle first (while everything is still there), then
/// everything removed, or kept for inspection when asked to.
async fn tear_down<P, W>(
    work: &W,
    done: &W::Done,
    provider: &P,
    progress: &Lines<'_>,
    cancel: &watch::Receiver<bool>,
    care: &Aftercare,
    verdict: &mut Verdict,
) where
    P: Provider + ?Sized,
    W: Work<P>,
{
    let failed =
        matches!(verdict.outcome, Outcome::Failed | Outcome::Environment) && !interrupted(cancel);
    if let Some(debug) = care.debug_dir.as_deref().filter(|_| failed) {
        progress(&format!("writing the debug bundle to {}", debug.display()));
        if let Some(missing) = provider.evidence(debug, &verdict.failures.join("\n")).await {
            for m in missing {
                progress(&format!("debug bundle: {m}"));
            }
            verdict.problems.push(format!(
                "debug bundle: {}/ holds the pods, logs and events of the failure",
                crate::cluster::debug::DEBUG_DIR
            ));
            verdict
                .failures
                .push(format!("debug bundle: {}", debug.display()));
        }
    }
    if failed && care.keep_on_failure {
        work.tearing_down(done, true);
        for kept in provider.keep().await {
            verdict
                .failures
                .push(format!("kept for inspection: {kept}"));
        }
    } else {
        work.tearing_down(done, false);
        if let Err(e) = provider.tear_down(work.run_id(), progress).await {
            verdict.add(Outcome::Environment);
            verdict.tear_down = Some(e);
        }
    }
}
