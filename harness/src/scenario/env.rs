//! The environment scenarios run in, and where it comes from.
//!
//! [`ScenarioEnv`] bundles what the engine needs: the cluster, the NFS server (address,
//! export, direct file access), the images, the configuration and the run id. Tests build
//! one around the scripted fake cluster; the commands and the cluster-gated test entry
//! build one on the environment a provider of the orchestrator brought up
//! ([`crate::orchestrate`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::files::{ExecFiles, PodRestart, ServerControl, ServerFiles};
use super::template::{IO_BINARY, Images};
use crate::config::Config;
use crate::environment::{self, ClusterChoice};
use crate::k8s::Cluster;
use crate::k8s::ownership::RunId;
use crate::model::scenarios::ScenarioTarget;
use crate::nfs::NfsServer;
use crate::orchestrate::Staged;

/// Everything the engine needs to run scenarios.
#[derive(Clone)]
pub struct ScenarioEnv {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// The NFS server PVs name.
    pub server: NfsServer,
    /// Direct access to the server's files (`None`: server-side steps cannot run).
    pub files: Option<Arc<dyn ServerFiles>>,
    /// Restarting the server (`None`: restart steps cannot run).
    pub control: Option<Arc<dyn ServerControl>>,
    /// Images the manifests use.
    pub images: Images,
    /// Timeouts and other tunables.
    pub config: Config,
    /// This run's id.
    pub run: RunId,
}

impl fmt::Debug for ScenarioEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScenarioEnv")
            .field("server", &self.server)
            .field("files", &self.files.is_some())
            .field("control", &self.control.is_some())
            .field("images", &self.images)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl ScenarioEnv {
    /// What scenarios need brought up on `cluster`: the configured server flavor.
    #[must_use]
    pub fn request(cluster: ClusterChoice, config: &Config) -> environment::Request {
        environment::Request::new(cluster, vec![config.nfs.flavor], config.clone())
    }

    /// The environment scenarios of run `run` use in what a provider brought up for
    /// [`ScenarioEnv::request`]; `None` when no server of the configured flavor came up
    /// (`EnvironmentError::NoServer`).
    #[must_use]
    pub fn on(staged: &Staged, config: &Config, run: &RunId) -> Option<Self> {
        let server = staged.server(config.nfs.flavor)?.clone();
        Some(Self::new(
            Arc::clone(&staged.cluster),
            server,
            config.clone(),
            run.clone(),
        ))
    }

    /// An environment on `cluster` against `server`. When the server offers file access,
    /// server-side files go through `nfslab-io` in its file-access container, and
    /// restarting it deletes that pod (its controller recreates it under the same name).
    #[must_use]
    pub fn new(cluster: Arc<dyn Cluster>, server: NfsServer, config: Config, run: RunId) -> Self {
        let images = Images {
            io: config.images.nfslab_io(),
            provisioner: config.images.provisioner.clone(),
        };
        let files = server.files.clone().map(|access| {
            Arc::new(ExecFiles::new(Arc::clone(&cluster), access, IO_BINARY))
                as Arc<dyn ServerFiles>
        });
        let control = server.files.as_ref().map(|access| {
            Arc::new(PodRestart::new(Arc::clone(&cluster), access.pod.clone()))
                as Arc<dyn ServerControl>
        });
        Self {
            cluster,
            server,
            files,
            control,
            images,
            config,
            run,
        }
    }

    /// What the results record about this environment.
    #[must_use]
    pub fn info(&self) -> ScenarioTarget {
        let flavor = self.server.flavor.name();
        ScenarioTarget {
            nfs_flavor: flavor.to_owned(),
            nfs_address: self.server.address.clone(),
            nfs_export: self.server.export.clone(),
            images: BTreeMap::from([
                ("io".to_owned(), self.images.io.clone()),
                ("provisioner".to_owned(), self.images.provisioner.clone()),
            ]),
        }
    }
}
