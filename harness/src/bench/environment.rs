//! Where a benchmark runs: the one seam between the runner and the cluster layer.
//!
//! [`bring_up_bench_environment`] is what `nfslab bench` and the benchmark e2e test call to
//! get a [`Target`]: a connected [`crate::k8s::Cluster`] and the in-cluster NFS servers the
//! plan needs, deployed and ready. The cluster layer (kind or an existing cluster, images,
//! server flavors) provides those; until it is connected here, the function says so and
//! the CLI exits with the environment code, while `--dry-run` works everywhere.

use crate::config::Config;
use crate::exit::Outcome;
use crate::k8s::ownership::RunId;
use crate::nfs::ServerFlavor;

use super::runner::Target;

/// What the benchmark needs from the environment.
#[derive(Clone, Debug)]
pub struct EnvironmentRequest {
    /// In-cluster server flavors to deploy ([`super::plan::Plan::in_cluster_flavors`]).
    pub flavors: Vec<ServerFlavor>,
    /// The nfslab-io image the client pods use (to load into the cluster).
    pub image: String,
    /// Tunables (timeouts for cluster creation and server readiness).
    pub config: Config,
    /// The run, for naming what is created.
    pub run_id: RunId,
}

/// Why no environment could be provided.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    /// This build has no cluster layer connected to the benchmark.
    #[error(
        "this nfslab build cannot create or reach a cluster for benchmarks yet (hint: check \
         the plan and its manifests with `nfslab bench --dry-run`)"
    )]
    NotConnected,
}

impl EnvironmentError {
    /// Exit code: the environment is not ready.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        Outcome::Environment
    }
}

/// Provides the cluster and the deployed in-cluster servers a benchmark runs against.
pub async fn bring_up_bench_environment(
    request: &EnvironmentRequest,
) -> Result<Target, EnvironmentError> {
    let _ = request;
    Err(EnvironmentError::NotConnected)
}
