//! Where a benchmark runs: the one seam between the runner and the cluster layer.
//!
//! `nfslab bench` runs as a work of the orchestrator ([`BenchWork`], [`crate::orchestrate`]):
//! its [`EnvironmentRequest`] asks the provider for a connected [`crate::k8s::Cluster`] and
//! the in-cluster NFS servers the plan needs, deployed and ready, through
//! [`crate::environment`] (kind or an existing cluster, the `nfslab-io` image side-loaded,
//! one server per flavor); the runner gets them as a [`Target`] ([`Target::on`]). External
//! servers of the plan need nothing here: the runner reaches them by address.

use async_trait::async_trait;
use tokio::sync::watch;

use crate::config::Config;
use crate::environment::{self, ClusterChoice, EnvironmentError};
use crate::exit::Outcome;
use crate::k8s::ownership::RunId;
use crate::model::plan::Plan;
use crate::nfs::ServerFlavor;
use crate::orchestrate::{ClusterProvider, Staged, Verdict, Work};

use super::progress::Reporter;
use super::runner::{BenchError, BenchOutcome, RunnerOptions, Target, run_bench};

/// What the benchmark needs from the environment.
#[derive(Clone, Debug)]
pub struct EnvironmentRequest {
    /// The cluster.
    pub cluster: ClusterChoice,
    /// In-cluster server flavors to deploy ([`crate::model::plan::Plan::in_cluster_flavors`]).
    pub flavors: Vec<ServerFlavor>,
    /// The nfslab-io image the client pods use (built and side-loaded into kind clusters).
    pub image: String,
    /// Tunables (timeouts for cluster creation and server readiness).
    pub config: Config,
}

impl EnvironmentRequest {
    /// The environment it asks of a provider: the plan's in-cluster flavors, with the plan's
    /// `nfslab-io` image side-loaded.
    #[must_use]
    pub fn environment(&self) -> environment::Request {
        let mut config = self.config.clone();
        config.images.nfslab_io.clone_from(&self.image);
        environment::Request::new(self.cluster.clone(), self.flavors.clone(), config)
    }
}

/// How a benchmark job ended (on a cluster or from the host).
#[derive(Debug)]
pub enum BenchEnd {
    /// The environment could not be brought up; nothing was measured.
    Unprepared {
        /// Why.
        error: EnvironmentError,
        /// For a refused kind run: what the user can do on this machine instead
        /// ([`crate::advice::instead_of_kind`]).
        instead: Option<String>,
    },
    /// The benchmark ran and its results were written (before tear-down).
    Ran {
        /// The exit code, decided by the orchestrator.
        outcome: Outcome,
        /// Why tear-down failed, when it did (already counted in `outcome`).
        tear_down: Option<EnvironmentError>,
    },
}

/// A benchmark's results writer: gets what the runner returned, writes and says it, and
/// returns the exit code it means.
pub type Writer<'a, E> = dyn Fn(Result<BenchOutcome, E>) -> Outcome + Sync + 'a;

/// `nfslab bench` on a cluster, as a work of the orchestrator: the plan's in-cluster servers
/// deployed, [`run_bench`] on them, the results handed to the caller's writer before
/// tear-down.
pub struct BenchWork<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The cluster and servers it needs.
    pub request: EnvironmentRequest,
    /// Where results go, the run id, timeouts.
    pub options: RunnerOptions,
    /// The servers outside the cluster the user named (for the advice after a refused kind
    /// run).
    pub external: &'a [String],
    /// The runner's progress.
    pub progress: &'a dyn Reporter,
    /// The results writer.
    pub write: &'a Writer<'a, BenchError>,
}

#[async_trait]
impl Work<ClusterProvider> for BenchWork<'_> {
    type Done = ();
    type Report = BenchEnd;

    fn run_id(&self) -> &RunId {
        &self.options.run_id
    }

    fn request(&self) -> environment::Request {
        self.request.environment()
    }

    fn unprepared(&self, error: EnvironmentError) -> BenchEnd {
        BenchEnd::Unprepared {
            instead: crate::advice::instead_of_kind(&error, self.external),
            error,
        }
    }

    async fn run(&self, staged: &Staged, cancel: &watch::Receiver<bool>, verdict: &mut Verdict) {
        let target = Target::on(staged);
        let result = run_bench(
            self.plan,
            &target,
            &self.options,
            self.progress,
            cancel.clone(),
        )
        .await;
        verdict.add((self.write)(result));
    }

    fn conclude(&self, (): (), verdict: Verdict) -> BenchEnd {
        BenchEnd::Ran {
            outcome: verdict.outcome,
            tear_down: verdict.tear_down,
        }
    }
}
