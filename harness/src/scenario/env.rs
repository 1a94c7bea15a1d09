//! The environment scenarios run in, and where it comes from.
//!
//! [`ScenarioEnv`] bundles what the engine needs: the cluster, the NFS server (address,
//! export, direct file access), the images, the configuration and the run id. Tests build
//! one around the scripted fake cluster; real runs get one from [`prepare`], the single
//! entry point that brings up (or connects to) a cluster, deploys the NFS server and loads
//! the images, and [`tear_down`] which undoes what [`prepare`] created.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::files::{ExecFiles, PodRestart, ServerControl, ServerFiles};
use super::results::EnvironmentInfo;
use super::template::{IO_BINARY, Images};
use crate::config::Config;
use crate::k8s::Cluster;
use crate::k8s::ownership::RunId;
use crate::nfs::{NfsServer, ServerFlavor};

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
    /// An environment on `cluster` against `server`. When the server offers file access,
    /// server-side files go through `nfslab-io` in its file-access container, and
    /// restarting it deletes that pod (its controller recreates it under the same name).
    #[must_use]
    pub fn new(cluster: Arc<dyn Cluster>, server: NfsServer, config: Config, run: RunId) -> Self {
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
            images: Images::default(),
            config,
            run,
        }
    }

    /// What the results record about this environment.
    #[must_use]
    pub fn info(&self) -> EnvironmentInfo {
        let flavor = match self.server.flavor {
            ServerFlavor::Kernel => "kernel",
            ServerFlavor::Ganesha => "ganesha",
            ServerFlavor::External => "external",
        };
        EnvironmentInfo {
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

/// Which cluster to run scenarios on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterChoice {
    /// A kind cluster nfslab creates (or reuses when `reuse`), and deletes afterwards
    /// unless reused.
    Kind {
        /// Keep an existing nfslab kind cluster and leave it running afterwards.
        reuse: bool,
    },
    /// The cluster of the current kubeconfig (`KUBECONFIG`); never deleted.
    Existing,
}

impl fmt::Display for ClusterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kind { reuse: false } => f.write_str("kind"),
            Self::Kind { reuse: true } => f.write_str("kind (reused)"),
            Self::Existing => f.write_str("existing (KUBECONFIG)"),
        }
    }
}

/// The environment could not be prepared or removed.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// An unknown cluster choice.
    #[error("`{value}` is not a cluster choice for {variable} (hint: use `kind` or `existing`)")]
    BadChoice {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
    },
    /// This build cannot bring up clusters for scenarios.
    #[error(
        "cannot prepare the {choice} cluster for scenarios: cluster, NFS server and image \
         bring-up is not available in this build (hint: `nfslab scenarios run --dry-run` \
         validates and renders without a cluster)"
    )]
    Unavailable {
        /// What was asked.
        choice: ClusterChoice,
    },
}

impl ClusterChoice {
    /// The choice `NFSLAB_E2E_CLUSTER` (`kind` | `existing`) and `NFSLAB_E2E_REUSE=1`
    /// make; `None` when unset or empty.
    ///
    /// # Errors
    /// Any other value.
    pub fn from_env() -> Result<Option<Self>, EnvError> {
        let value = std::env::var("NFSLAB_E2E_CLUSTER").unwrap_or_default();
        let reuse = std::env::var("NFSLAB_E2E_REUSE").is_ok_and(|v| v == "1" || v == "true");
        Self::parse(&value, reuse)
    }

    /// Parses a choice as [`ClusterChoice::from_env`] reads it.
    ///
    /// # Errors
    /// A value other than `kind`, `existing` or empty.
    pub fn parse(value: &str, reuse: bool) -> Result<Option<Self>, EnvError> {
        match value.trim() {
            "" => Ok(None),
            "kind" => Ok(Some(Self::Kind { reuse })),
            "existing" => Ok(Some(Self::Existing)),
            other => Err(EnvError::BadChoice {
                variable: "NFSLAB_E2E_CLUSTER".to_owned(),
                value: other.to_owned(),
            }),
        }
    }
}

/// A prepared environment and what [`tear_down`] must undo.
#[derive(Debug)]
pub struct Prepared {
    /// The environment.
    pub env: ScenarioEnv,
    /// How it was made.
    pub choice: ClusterChoice,
}

/// Brings up (or connects to) the cluster, deploys the in-cluster NFS server, loads the
/// images, and returns the environment scenarios run in.
///
/// # Errors
/// The cluster, server or images could not be made ready.
pub async fn prepare(
    choice: &ClusterChoice,
    _config: &Config,
    _run: &RunId,
) -> Result<Prepared, EnvError> {
    Err(EnvError::Unavailable {
        choice: choice.clone(),
    })
}

/// Removes what [`prepare`] created: the NFS server, and the kind cluster unless reused or
/// existing.
///
/// # Errors
/// Something could not be removed.
pub async fn tear_down(_prepared: &Prepared) -> Result<(), EnvError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_from_their_variable_values() {
        assert_eq!(ClusterChoice::parse("", false).expect("ok"), None);
        assert_eq!(
            ClusterChoice::parse("kind", true).expect("ok"),
            Some(ClusterChoice::Kind { reuse: true })
        );
        assert_eq!(
            ClusterChoice::parse(" existing ", false).expect("ok"),
            Some(ClusterChoice::Existing)
        );
        let err = ClusterChoice::parse("minikube", false).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "`minikube` is not a cluster choice for NFSLAB_E2E_CLUSTER (hint: use `kind` or \
             `existing`)"
        );
    }
}
