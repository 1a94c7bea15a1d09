//! Where a benchmark runs: the one seam between the runner and the cluster layer.
//!
//! [`bring_up_bench_environment`] is what `nfslab bench`, `nfslab run` and the benchmark e2e
//! test call to get a [`Target`]: a connected [`crate::k8s::Cluster`] and the in-cluster NFS
//! servers the plan needs, deployed and ready, through [`crate::environment`] (kind or an
//! existing cluster, the `nfslab-io` image side-loaded, one server per flavor). External
//! servers of the plan need nothing here: the runner reaches them by address.
//! [`BenchEnvironment::tear_down`] removes what was brought up.

use std::future::Future;

use crate::config::Config;
use crate::environment::{self, ClusterChoice, Environment, EnvironmentError, HostParts};
use crate::k8s::ownership::RunId;
use crate::nfs::ServerFlavor;

use super::runner::Target;

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
