//! Where a benchmark runs: the one seam between the runner and the cluster layer.
//!
//! [`bring_up_bench_environment`] is what the benchmark e2e test calls to get a [`Target`]: a connected [`crate::k8s::Cluster`] and the in-cluster NFS
//! servers the plan needs, deployed and ready, through [`crate::environment`] (kind or an
//! existing cluster, the `nfslab-io` image side-loaded, one server per flavor). External
//! servers of the plan need nothing here: the runner reaches them by address.
//! [`BenchEnvironment::tear_down`] removes what was brought up.
//!
//! `nfslab bench` runs as a work of the orchestrator ([`BenchWork`], [`crate::orchestrate`]),
//! whose provider brings up the same environment through [`crate::environment`].

use std::future::Future;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::config::Config;
use crate::environment::{self, ClusterChoice, Environment, EnvironmentError, HostParts};
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

/// A prepared benchmark environment.
pub struct BenchEnvironment {
    /// What the runner uses.
    pub target: Target,
    /// The cluster and servers behind it.
    pub environment: Environment,
    parts: HostParts,
    config: Config,
}

impl BenchEnvironment {
    /// Removes what benchmark run `run` left behind (on a cluster that stays), then the
    /// servers deployed and the kind cluster created for the benchmark.
    ///
    /// # Errors
    /// [`EnvironmentError::TearDown`] naming what stays.
    pub async fn tear_down(
        &self,
        run: &RunId,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), EnvironmentError> {
        environment::tear_down(
            &self.parts,
            &self.environment,
            &self.config,
            Some(run),
            progress,
        )
        .await
    }
}

/// Provides the cluster and the deployed in-cluster servers a benchmark runs against.
/// `progress` receives one line per step; when `interrupt` completes first, what was made
/// is removed.
///
/// # Errors
/// [`EnvironmentError`]: preflight, cluster, image or server problems.
pub async fn bring_up_bench_environment(
    request: &EnvironmentRequest,
    interrupt: impl Future<Output = ()>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BenchEnvironment, EnvironmentError> {
    let parts = HostParts::system()?;
    let mut config = request.config.clone();
    config.images.nfslab_io.clone_from(&request.image);
    let env_request = environment::Request {
        cluster: request.cluster.clone(),
        flavors: request.flavors.clone(),
        external: Vec::new(),
        config: config.clone(),
        debug_dir: None,
        keep_on_failure: false,
    };
    let environment = environment::prepare(&parts, &env_request, interrupt, progress).await?;
    let target = Target {
        cluster: std::sync::Arc::clone(&environment.cluster),
        servers: environment.servers.clone(),
        description: environment.info.cluster.clone(),
    };
    Ok(BenchEnvironment {
        target,
        environment,
        parts,
        config,
    })
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
        let mut config = self.request.config.clone();
        config.images.nfslab_io.clone_from(&self.request.image);
        environment::Request {
            cluster: self.request.cluster.clone(),
            flavors: self.request.flavors.clone(),
            external: Vec::new(),
            config,
            debug_dir: None,
            keep_on_failure: false,
        }
    }

    fn unprepared(&self, error: EnvironmentError) -> BenchEnd {
        BenchEnd::Unprepared {
            instead: crate::advice::instead_of_kind(&error, self.external),
            error,
        }
    }

    async fn run(&self, staged: &Staged, cancel: &watch::Receiver<bool>, verdict: &mut Verdict) {
        let target = Target {
            cluster: std::sync::Arc::clone(&staged.cluster),
            servers: staged.servers.clone(),
            description: staged.info.cluster.clone(),
        };
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
