//! The environment scenarios and benchmarks run against, brought up in one place.
//!
//! `prepare` turns a [`Request`] (which cluster, which in-cluster NFS server flavors, which
//! external servers) into an [`Environment`]: a connected [`Cluster`], the servers ready to
//! use, and what the reports record about them. It reuses the pieces the `cluster` and `nfs`
//! commands are made of: `cluster::up` (preflight, kind, node mount-helper check, image
//! side-loading), `nfs::server::up` (server, Service, readiness through a real client mount)
//! and `nfs::external`. `tear_down` removes exactly what `prepare` made: servers it
//! deployed (not ones it found running), after what the run left that may still use them,
//! and a kind cluster it created (unless asked to keep it). Every caller — `nfslab run`,
//! `nfslab scenarios run`, `nfslab bench` and the cluster-gated test binaries — goes through
//! here, so they behave alike.
//!
//! The test binaries choose with environment variables ([`ClusterChoice::from_env`]):
//! `NFSLAB_E2E_CLUSTER=kind` (create a kind cluster, delete it afterwards;
//! `NFSLAB_E2E_REUSE=1` reuses and keeps it) or `existing` (the cluster of
//! `NFSLAB_E2E_KUBECONFIG` / `KUBECONFIG` and `NFSLAB_E2E_CONTEXT`, never deleted).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::cluster::existing::ExistingError;
use crate::cluster::preflight::KernelProbe;
use crate::cluster::state::{StateError, StateStore};
use crate::cluster::tools::SystemTools;
use crate::cluster::{self, ClusterSetupError, Host, Provider, UpRequest};
use crate::config::Config;
use crate::exit::Outcome;
use crate::k8s::clean::{self, Scope};
use crate::k8s::kube_cluster::{ConnectError, KubeCluster};
use crate::k8s::ownership::RunId;
use crate::k8s::{Cluster, ClusterError, ObjectRef};
use crate::model::environment::{self as record, NodeInfo, ServerRecord};
use crate::nfs::server::{self, NfsError, ServerSpec};
use crate::nfs::{self, ExternalServerError, NfsServer, ServerFlavor};

/// Which cluster to run against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterChoice {
    /// nfslab's kind cluster (named by `cluster.name` of the configuration): used when it
    /// exists (and then left alone), created otherwise, and a created one is deleted
    /// afterwards unless `keep`.
    Kind {
        /// Keep a cluster this run creates.
        keep: bool,
        /// Install the pinned kind release into nfslab's cache when kind is not on PATH.
        install: bool,
    },
    /// A cluster the user already has; nfslab never deletes it.
    Existing {
        /// Kubeconfig file (`None`: `KUBECONFIG` or `~/.kube/config`).
        kubeconfig: Option<PathBuf>,
        /// Context (`None`: the file's current context).
        context: Option<String>,
        /// The user agreed to act on the cluster (`--yes`, or a context named explicitly);
        /// otherwise preparation names the context and API server and stops.
        confirmed: bool,
        /// Registry nfslab pushes its own images to, whose references the configuration
        /// then uses ([`ClusterChoice::use_registry`]); `None`: the nodes must already be
        /// able to pull them.
        image_registry: Option<String>,
    },
}

impl fmt::Display for ClusterChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kind { keep: false, .. } => f.write_str("nfslab's kind cluster"),
            Self::Kind { keep: true, .. } => f.write_str("nfslab's kind cluster (kept afterwards)"),
            Self::Existing {
                kubeconfig,
                context,
                ..
            } => {
                f.write_str("the existing cluster")?;
                if let Some(c) = context {
                    write!(f, " of context `{c}`")?;
                }
                if let Some(k) = kubeconfig {
                    write!(f, " in `{}`", k.display())?;
                }
                Ok(())
            }
        }
    }
}

/// Variable naming the cluster the test binaries run against.
pub(crate) const CLUSTER_ENV: &str = "NFSLAB_E2E_CLUSTER";
/// Variable asking the test binaries to reuse and keep a kind cluster.
pub(crate) const REUSE_ENV: &str = "NFSLAB_E2E_REUSE";
/// Variable naming the kubeconfig of an existing cluster for the test binaries.
pub(crate) const KUBECONFIG_ENV: &str = "NFSLAB_E2E_KUBECONFIG";
/// Variable naming the context of an existing cluster for the test binaries.
pub(crate) const CONTEXT_ENV: &str = "NFSLAB_E2E_CONTEXT";
/// Variable choosing the in-cluster server flavor for the test binaries.
pub(crate) const FLAVOR_ENV: &str = "NFSLAB_E2E_FLAVOR";
/// Variable agreeing, for the test binaries, to act on the existing cluster's current
/// context when [`CONTEXT_ENV`] names none (`1`).
pub(crate) const YES_ENV: &str = "NFSLAB_E2E_YES";
/// Variable naming the registry the test binaries push nfslab's images to for an existing
/// cluster.
pub(crate) const IMAGE_REGISTRY_ENV: &str = "NFSLAB_E2E_IMAGE_REGISTRY";

/// Why the environment variables do not make a choice.
#[derive(Debug, thiserror::Error)]
#[error("`{value}` is not a valid value of {variable} (hint: {hint})")]
pub struct ChoiceError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What it accepts.
    pub hint: &'static str,
}

impl ClusterChoice {
    /// The choice the test binaries' variables make: `None` when `CLUSTER_ENV` is unset or
    /// empty (the tests are then ignored with the reason).
    ///
    /// # Errors
    /// [`ChoiceError`] for a value other than `kind` or `existing`.
    pub fn from_env() -> Result<Option<Self>, ChoiceError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut choice = Self::parse(
            var(CLUSTER_ENV).as_deref(),
            var(REUSE_ENV).as_deref(),
            var(KUBECONFIG_ENV).map(PathBuf::from),
            var(CONTEXT_ENV),
        )?;
        if let Some(Self::Existing {
            confirmed,
            image_registry,
            ..
        }) = &mut choice
        {
            *confirmed |= var(YES_ENV).is_some_and(|v| v.trim() == "1");
            *image_registry = var(IMAGE_REGISTRY_ENV);
        }
        Ok(choice)
    }

    /// With an image registry chosen, points the configuration's own images (those left
    /// empty, which nfslab builds) at it: `REGISTRY/nfslab-io:<version>-<source hash>`, so
    /// that a changed tree is a new tag the nodes pull, never a stale cached one. Images the
    /// configuration names are the user's and are left alone.
    pub fn use_registry(&self, config: &mut Config) {
        let Self::Existing {
            image_registry: Some(registry),
            ..
        } = self
        else {
            return;
        };
        let source = cluster::images::source_dir();
        let registry = registry.trim_end_matches('/');
        let tag = |recipe: cluster::images::Recipe| {
            let version = env!("CARGO_PKG_VERSION");
            match cluster::images::source_hash(&source, recipe) {
                Some(hash) => format!("{registry}/{}:{version}-{hash}", recipe.name),
                None => format!("{registry}/{}:{version}", recipe.name),
            }
        };
        if config.images.nfslab_io.is_empty() {
            config.images.nfslab_io = tag(cluster::images::IO_RECIPE);
        }
        if config.images.ganesha_nfs_server.is_empty() {
            config.images.ganesha_nfs_server = tag(cluster::images::SERVER_RECIPE);
        }
    }

    /// Parses the values [`ClusterChoice::from_env`] reads.
    ///
    /// # Errors
    /// [`ChoiceError`] for an unknown cluster value or a reuse value that is not a boolean.
    pub fn parse(
        cluster: Option<&str>,
        reuse: Option<&str>,
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
    ) -> Result<Option<Self>, ChoiceError> {
        let keep = match reuse.map(str::trim) {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(other) => {
                return Err(ChoiceError {
                    variable: REUSE_ENV,
                    value: other.to_owned(),
                    hint: "use 1 to reuse and keep the kind cluster, 0 to create and delete it",
                });
            }
        };
        match cluster.map(str::trim) {
            None | Some("") => Ok(None),
            Some("kind") => Ok(Some(Self::Kind {
                keep,
                install: true,
            })),
            Some("existing") => Ok(Some(Self::Existing {
                confirmed: context.is_some(),
                kubeconfig,
                context,
                image_registry: None,
            })),
            Some(other) => Err(ChoiceError {
                variable: CLUSTER_ENV,
                value: other.to_owned(),
                hint: "use `kind` (nfslab creates a kind cluster) or `existing` (your kubeconfig)",
            }),
        }
    }

    /// Why cluster-gated tests are ignored when no choice is made.
    #[must_use]
    pub fn unset_reason() -> String {
        format!(
            "no cluster to test against: set {CLUSTER_ENV}=kind (needs Docker and kind; nfslab \
             creates and deletes a kind cluster, {REUSE_ENV}=1 keeps it) or \
             {CLUSTER_ENV}=existing (uses {KUBECONFIG_ENV} or KUBECONFIG, and {CONTEXT_ENV}, or \
             {YES_ENV}=1 for its current context)"
        )
    }
}

/// The in-cluster flavor the test binaries' `FLAVOR_ENV` asks for (`None`: the
/// configuration's).
///
/// # Errors
/// [`ChoiceError`] for a value other than `kernel` or `ganesha`.
pub fn flavor_from_env() -> Result<Option<ServerFlavor>, ChoiceError> {
    match std::env::var(FLAVOR_ENV).ok().as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("kernel") => Ok(Some(ServerFlavor::Kernel)),
        Some("ganesha") => Ok(Some(ServerFlavor::Ganesha)),
        Some(other) => Err(ChoiceError {
            variable: FLAVOR_ENV,
            value: other.to_owned(),
            hint: "use `kernel` (the host's nfsd) or `ganesha` (userspace)",
        }),
    }
}

/// What to bring up.
#[derive(Clone, Debug)]
pub struct Request {
    /// The cluster.
    pub cluster: ClusterChoice,
    /// In-cluster server flavors to deploy (each in its own namespace when several).
    pub flavors: Vec<ServerFlavor>,
    /// External servers, `host:/export`.
    pub external: Vec<String>,
    /// Tunables, images, cluster and server settings.
    pub config: Config,
    /// Where a failed preparation writes its debug bundle ([`crate::cluster::debug`]), before it
    /// removes anything.
    pub debug_dir: Option<PathBuf>,
    /// On failure, keep what was made (the kind cluster, the servers) for inspection.
    pub keep_on_failure: bool,
}

impl Request {
    /// `flavors` in-cluster servers on `cluster`: no external servers, no debug bundle,
    /// nothing kept on failure (what `scenarios run`, `bench` and the cluster-gated tests
    /// ask for).
    #[must_use]
    pub fn new(cluster: ClusterChoice, flavors: Vec<ServerFlavor>, config: Config) -> Self {
        Self {
            cluster,
            flavors,
            external: Vec::new(),
            config,
            debug_dir: None,
            keep_on_failure: false,
        }
    }
}

/// A prepared environment.
pub struct Environment {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// The servers, in-cluster flavors first (in the requested order), then external ones.
    pub servers: Vec<NfsServer>,
    /// What reports record.
    pub info: record::Environment,
    /// Server namespaces this preparation deployed (and `tear_down` removes).
    deployed: Vec<String>,
    /// What the client check of each server deployed here saw: `(address, versions)`.
    checked: Vec<(String, String)>,
    /// The kind cluster this preparation may delete afterwards.
    delete_cluster: Option<String>,
    /// The kind cluster used, made by this preparation or not.
    kind: Option<String>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("servers", &self.servers)
            .field("info", &self.info)
            .field("deployed", &self.deployed)
            .field("delete_cluster", &self.delete_cluster)
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// The kind cluster the environment runs on, when it is one.
    #[must_use]
    pub fn kind_name(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// The in-cluster server of `flavor`, if one was prepared.
    #[must_use]
    pub fn server(&self, flavor: ServerFlavor) -> Option<&NfsServer> {
        self.servers.iter().find(|s| s.flavor == flavor)
    }

    /// What `tear_down` will remove, for messages: `NFS server namespace x, kind cluster y`.
    #[must_use]
    pub fn owned(&self) -> Vec<String> {
        let mut owned: Vec<String> = self
            .deployed
            .iter()
            .map(|ns| format!("NFS server namespace `{ns}`"))
            .collect();
        if let Some(name) = &self.delete_cluster {
            owned.push(format!("kind cluster `{name}`"));
        }
        owned
    }
}

/// Why the environment could not be prepared or removed.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    /// The kind cluster could not be made or reached.
    #[error(transparent)]
    Cluster(#[from] ClusterSetupError),
    /// nfslab's state directory is unusable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The existing cluster's kubeconfig could not be used.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The API server did not answer a first request.
    #[error("the cluster did not answer (hint: check it is running: kubectl get nodes)")]
    Unreachable(#[source] ClusterError),
    /// An in-cluster server could not be deployed or made ready.
    #[error("the {flavor} NFS server could not be made ready")]
    Server {
        /// Which flavor.
        flavor: String,
        /// Why.
        #[source]
        source: Box<NfsError>,
    },
    /// An external server was given in a form nfslab cannot use.
    #[error(transparent)]
    External(#[from] ExternalServerError),
    /// The user interrupted; what was made so far has been removed (or is listed).
    #[error("interrupted while preparing the environment{}", leftovers(.left))]
    Interrupted {
        /// What could not be removed.
        left: Vec<String>,
    },
    /// The existing cluster was not confirmed, or its preflight found it unusable.
    #[error(transparent)]
    Existing(#[from] ExistingError),
    /// nfslab's images could not be pushed to the registry the nodes pull from.
    #[error("could not push nfslab's images to `{registry}`")]
    Publish {
        /// The registry.
        registry: String,
        /// Why.
        #[source]
        source: cluster::images::ImageError,
    },
    /// A server the caller needs was not among those prepared.
    #[error("no {flavor:?} NFS server was prepared (hint: ask for that flavor in the request)")]
    NoServer {
        /// The flavor asked for.
        flavor: ServerFlavor,
    },
    /// Removing what was prepared failed.
    #[error("could not remove {what}")]
    TearDown {
        /// What stays.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn leftovers(left: &[String]) -> String {
    if left.is_empty() {
        String::new()
    } else {
        format!("; left behind: {}", left.join(", "))
    }
}

impl EnvironmentError {
    /// The exit code this error maps to.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Cluster(e) => e.outcome(),
            Self::External(_) | Self::Existing(ExistingError::Unconfirmed { .. }) => {
                Outcome::BadInput
            }
            Self::Interrupted { .. } => Outcome::Interrupted,
            _ => Outcome::Environment,
        }
    }
}

/// The host's tools, state store and kernel facts, as the cluster layer wants them.
pub(crate) struct HostParts {
    tools: SystemTools,
    store: StateStore,
    kernel: KernelProbe,
}

impl HostParts {
    /// This machine: tools on PATH, the state directory of the environment
    /// (`NFSLAB_STATE_DIR`, `XDG_STATE_HOME` or `~/.local/state/nfslab`), the kernel under `/`
    /// (or `NFSLAB_HOST_ROOT` when nfslab runs in a container with the host's `/proc` there).
    ///
    /// # Errors
    /// [`StateError`] when no state directory can be determined.
    pub(crate) fn system() -> Result<Self, StateError> {
        Ok(Self {
            tools: SystemTools::new(),
            store: StateStore::from_env()?,
            kernel: std::env::var_os("NFSLAB_HOST_ROOT")
                .filter(|v| !v.is_empty())
                .map_or_else(KernelProbe::default, |root| {
                    KernelProbe::at(std::path::Path::new(&root))
                }),
        })
    }

    /// The host tools.
    #[must_use]
    pub(crate) fn tools(&self) -> &SystemTools {
        &self.tools
    }

    /// The [`Host`] view of these parts.
    #[must_use]
    pub(crate) fn host(&self) -> Host<'_> {
        Host {
            tools: &self.tools,
            store: &self.store,
            kernel: &self.kernel,
            source_dir: cluster::images::source_dir(),
        }
    }
}

/// The server spec for `flavor`: the configured namespace and node directory, suffixed with
/// the flavor when several flavors share the cluster.
fn server_spec(config: &Config, flavor: ServerFlavor, node: &str, several: bool) -> ServerSpec {
    let mut spec = ServerSpec::from_config(config, Some(flavor), node);
    if several {
        spec.namespace = format!("{}-{}", spec.namespace, flavor.name());
        spec.host_path = format!("{}/{}", spec.host_path.trim_end_matches('/'), flavor.name());
    }
    spec
}

/// The server flavor preflight checks the kernel for: the first in-cluster flavor asked
/// for, or [`ServerFlavor::External`] when none is (a benchmark of outside servers only
/// needs the nodes' NFS client, never the in-cluster server's `nfsd`, whatever the
/// configured default flavor).
#[must_use]
pub(crate) fn preflight_flavor(flavors: &[ServerFlavor]) -> ServerFlavor {
    flavors.first().copied().unwrap_or(ServerFlavor::External)
}

/// Brings up what `request` asks for. `progress` receives one line per step. When
/// `interrupt` completes first, what was made so far is removed and
/// [`EnvironmentError::Interrupted`] returned.
///
/// # Errors
/// [`EnvironmentError`]: preflight problems, kind or image failures, an unreachable
/// cluster, a server that does not become ready, a malformed external server.
pub(crate) async fn prepare(
    parts: &HostParts,
    request: &Request,
    interrupt: impl Future<Output = ()>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Environment, EnvironmentError> {
    let externals = request
        .external
        .iter()
        .map(|spec| nfs::external(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let config = &request.config;
    let mut interrupt = std::pin::pin!(interrupt);
    let mut existing = None;
    let (kube, delete_cluster, description) = match &request.cluster {
        ClusterChoice::Kind { keep, install } => {
            kind_cluster(parts, request, *keep, *install, &mut interrupt, progress).await?
        }
        ClusterChoice::Existing {
            kubeconfig,
            context,
            confirmed,
            image_registry,
        } => {
            let (kube, target) = existing_cluster(
                parts,
                request,
                kubeconfig.as_deref(),
                context.as_deref(),
                *confirmed,
                image_registry.as_deref(),
                &mut interrupt,
                progress,
            )
            .await?;
            let description = match context {
                Some(c) => format!("existing cluster (context {c})"),
                None => "existing cluster (current context)".to_owned(),
            };
            existing = Some(target);
            (kube, None, description)
        }
    };
    let version = match tokio::time::timeout(config.timeouts.request, kube.server_version()).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            return Err(abandon(parts, delete_cluster, EnvironmentError::Unreachable(e)).await);
        }
        Err(_) => None,
    };
    if let Some(target) = &existing {
        preflight_existing(
            &kube,
            request,
            target,
            version.as_deref(),
            &mut interrupt,
            progress,
        )
        .await?;
    }
    let cluster: Arc<dyn Cluster> = Arc::new(kube);
    let nodes = read_nodes(cluster.as_ref()).await;
    let mut env = Environment {
        cluster: Arc::clone(&cluster),
        servers: Vec::new(),
        info: record::Environment {
            cluster: description,
            kubernetes_version: version,
            nodes,
            servers: Vec::new(),
            notes: Vec::new(),
        },
        deployed: Vec::new(),
        checked: Vec::new(),
        delete_cluster,
        kind: match &request.cluster {
            ClusterChoice::Kind { .. } => Some(config.cluster.name.clone()),
            ClusterChoice::Existing { .. } => None,
        },
    };
    deploy_servers(parts, request, &mut env, &mut interrupt, progress).await?;
    env.servers.extend(externals);
    env.info.servers = env
        .servers
        .iter()
        .map(|s| ServerRecord {
            name: s.flavor.name().to_owned(),
            flavor: s.flavor.name().to_owned(),
            address: s.address.clone(),
            export: s.export.clone(),
            clients_mounted: env
                .checked
                .iter()
                .find(|(a, _)| *a == s.address)
                .map(|(_, seen)| seen.clone()),
        })
        .collect();
    Ok(env)
}

/// The kind cluster of the configuration, created unless it exists: its connection, its
/// name when this run deletes it at the end, and its description.
async fn kind_cluster(
    parts: &HostParts,
    request: &Request,
    keep: bool,
    install: bool,
    interrupt: &mut (impl Future<Output = ()> + Unpin),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(KubeCluster, Option<String>, String), EnvironmentError> {
    let host = parts.host();
    let config = &request.config;
    let name = config.cluster.name.clone();
    let up = UpRequest {
        name: name.clone(),
        provider: Provider::Kind {
            workers: None,
            node_image: None,
        },
        nfs_flavor: preflight_flavor(&request.flavors),
        rebuild_image: false,
        server_image: request.flavors.contains(&ServerFlavor::Ganesha),
        install_kind: install,
        keep_on_failure: request.keep_on_failure,
        debug_dir: request.debug_dir.clone(),
    };
    // A cluster that exists before this run is someone's: use it, never delete it.
    let existed = host.tools.find("kind").is_some()
        && cluster::kind::clusters(host.tools)
            .await
            .is_ok_and(|names| names.contains(&name));
    let record = match cluster::up(&host, config, &up, &mut *interrupt, progress).await {
        Ok(record) => record,
        Err(e) => {
            // Evidence of a failed creation: kind's own logs, when the cluster is
            // still there to export them from. A cluster that failed its own checks
            // had its logs collected by `cluster::up` before it was removed.
            if let Some(dir) = &request.debug_dir
                && !matches!(
                    e,
                    cluster::ClusterSetupError::Interrupted { .. }
                        | cluster::ClusterSetupError::Preflight { .. }
                        | cluster::ClusterSetupError::Kind { .. }
                )
            {
                let failure = crate::errors::error_chain(&e);
                let evidence = crate::cluster::debug::Evidence {
                    cluster: None,
                    kind: Some(&name),
                    tools: host.tools,
                    failure: &failure,
                    manifests: Vec::new(),
                };
                crate::cluster::debug::collect(&evidence, dir).await;
            }
            return Err(e.into());
        }
    };
    let kube = KubeCluster::connect(
        Some(&record.kubeconfig),
        record.context.as_deref(),
        config.timeouts.exec,
    )
    .await?;
    let delete = (!keep && !existed).then(|| name.clone());
    Ok((kube, delete, format!("kind {name}")))
}

/// Connects to an existing cluster the user confirmed, checks the account's rights and
/// publishes the images to its registry when asked to.
#[allow(clippy::too_many_arguments)]
async fn existing_cluster(
    parts: &HostParts,
    request: &Request,
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    confirmed: bool,
    image_registry: Option<&str>,
    interrupt: &mut (impl Future<Output = ()> + Unpin),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(KubeCluster, cluster::existing::Target), EnvironmentError> {
    let config = &request.config;
    progress(&format!("connecting to {}", request.cluster));
    let kube = KubeCluster::connect(kubeconfig, context, config.timeouts.exec).await?;
    let target = cluster::existing::Target::describe(kubeconfig, context, kube.api_server());
    // Nothing is created, pushed or even asked of a cluster nobody named.
    if !confirmed {
        return Err(ExistingError::Unconfirmed { target }.into());
    }
    progress(&format!("using {target}"));
    // Rights first: nothing is pushed for an account that could not use it.
    if let Some(warning) = cluster::existing::check_rights(&kube, &target, progress).await? {
        progress(&format!("warning: {warning}"));
    }
    if let Some(registry) = image_registry {
        tokio::select! {
            r = publish(parts, request, registry, progress) => r?,
            () = &mut *interrupt => {
                return Err(EnvironmentError::Interrupted { left: Vec::new() });
            }
        }
    }
    Ok((kube, target))
}

/// The preflight of an existing cluster (its warnings printed); interrupted, the probe
/// namespace is removed.
async fn preflight_existing(
    kube: &KubeCluster,
    request: &Request,
    target: &cluster::existing::Target,
    version: Option<&str>,
    interrupt: &mut (impl Future<Output = ()> + Unpin),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EnvironmentError> {
    let config = &request.config;
    let plan = existing_plan(config, &request.flavors, target, version);
    let probe = ObjectRef::cluster("v1", "Namespace", &plan.namespace());
    let warnings = tokio::select! {
        r = cluster::existing::preflight(kube, &plan, progress) => r?,
        () = &mut *interrupt => {
            // The probe namespace is the only thing made so far.
            let left = match kube.delete(&probe, crate::k8s::Propagation::Background).await {
                Ok(_) => Vec::new(),
                Err(e) => vec![format!("namespace `{}` ({e})", probe.name)],
            };
            return Err(EnvironmentError::Interrupted { left });
        }
    };
    for warning in warnings {
        progress(&format!("warning: {warning}"));
    }
    Ok(())
}

/// Deploys the in-cluster servers asked for, one flavor after the other. A failure writes
/// the debug bundle and removes what was made (unless kept for inspection).
async fn deploy_servers(
    parts: &HostParts,
    request: &Request,
    env: &mut Environment,
    interrupt: &mut (impl Future<Output = ()> + Unpin),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EnvironmentError> {
    let config = &request.config;
    let cluster = Arc::clone(&env.cluster);
    let several = request.flavors.len() > 1;
    for &flavor in &request.flavors {
        let step = deploy_server(cluster.as_ref(), config, flavor, several, progress, env);
        let outcome = tokio::select! {
            r = step => r,
            () = &mut *interrupt => Err(EnvironmentError::Interrupted { left: Vec::new() }),
        };
        if let Err(e) = outcome {
            if !matches!(e, EnvironmentError::Interrupted { .. }) {
                bundle(parts, env, request, &e, progress).await;
                if request.keep_on_failure {
                    progress(&format!("kept for inspection: {}", env.owned().join(", ")));
                    return Err(e);
                }
            }
            let cleanup = tear_down(parts, env, config, None, progress).await;
            return Err(match (e, cleanup) {
                (EnvironmentError::Interrupted { .. }, Err(te)) => EnvironmentError::Interrupted {
                    left: vec![te.to_string()],
                },
                (e, _) => e,
            });
        }
    }
    Ok(())
}

/// Pushes nfslab's own images to `registry` under the references the configuration now
/// names ([`ClusterChoice::use_registry`]); images the configuration points elsewhere are
/// the user's and are not pushed.
async fn publish(
    parts: &HostParts,
    request: &Request,
    registry: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EnvironmentError> {
    let images = &request.config.images;
    let mut own = vec![(cluster::images::IO_RECIPE, images.nfslab_io())];
    if request.flavors.contains(&ServerFlavor::Ganesha) {
        own.push((cluster::images::SERVER_RECIPE, images.ganesha_nfs_server()));
    }
    let prefix = format!("{}/", registry.trim_end_matches('/'));
    for (recipe, reference) in own.into_iter().filter(|(_, r)| r.starts_with(&prefix)) {
        progress(&format!("pushing `{reference}` (built from this tree)"));
        cluster::images::publish(
            &parts.tools,
            &cluster::images::source_dir(),
            recipe,
            &reference,
            request.config.timeouts.image_build,
            request.config.timeouts.image_transfer,
        )
        .await
        .map_err(|source| EnvironmentError::Publish {
            registry: registry.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// What the preflight of an existing cluster ([`cluster::existing::preflight`]) checks for a
/// request of `flavors` with `config`, on a cluster of Kubernetes `version` (`1.33`).
#[must_use]
pub fn existing_plan<'a>(
    config: &Config,
    flavors: &[ServerFlavor],
    target: &'a cluster::existing::Target,
    version: Option<&str>,
) -> cluster::existing::Plan<'a> {
    let mut own_images = vec![(
        config.images.nfslab_io(),
        vec!["/nfslab-io".to_owned(), "--version".to_owned()],
    )];
    if flavors.contains(&ServerFlavor::Ganesha) {
        own_images.push((config.images.ganesha_nfs_server(), vec!["true".to_owned()]));
    }
    // The server pod exactly as it will be created: its StatefulSet's template.
    let server_pod = flavors.iter().copied().find(|f| *f != ServerFlavor::External).and_then(|flavor| {
        let node = if config.nfs.node.is_empty() { "preflight" } else { &config.nfs.node };
        let spec = ServerSpec::from_config(config, Some(flavor), node);
        server::manifests(&spec)
            .into_iter()
            .find(|m| m["kind"] == "StatefulSet")
            .and_then(|set| set.pointer("/spec/template").cloned())
            .map(|template| {
                serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": template.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
                    "spec": template.get("spec").cloned().unwrap_or_default(),
                })
            })
    });
    cluster::existing::Plan {
        target,
        own_images,
        server_pod,
        recycler_image: version.and_then(|v| config.images.recycler.get(v).cloned()),
        io_image: config.images.nfslab_io(),
        pod_ready: config.timeouts.pod_ready,
        image_pull: config.timeouts.image_pull,
        request: config.timeouts.request,
        run: RunId::generate(),
    }
}

/// Deploys (or finds already running) the in-cluster server of `flavor`.
async fn deploy_server(
    cluster: &dyn Cluster,
    config: &Config,
    flavor: ServerFlavor,
    several: bool,
    progress: &(dyn Fn(&str) + Sync),
    env: &mut Environment,
) -> Result<(), EnvironmentError> {
    let server_err = |source: NfsError| EnvironmentError::Server {
        flavor: flavor.name().to_owned(),
        source: Box::new(source),
    };
    let node = server::choose_node(cluster, &config.nfs.node)
        .await
        .map_err(server_err)?;
    let spec = server_spec(config, flavor, &node, several);
    if let Some(found) = server::locate(cluster, &spec.namespace)
        .await
        .map_err(server_err)?
        && found.flavor == flavor
    {
        progress(&format!(
            "using the {} NFS server already running in namespace `{}`",
            flavor.name(),
            spec.namespace
        ));
        env.servers.push(found);
        return Ok(());
    }
    progress(&format!(
        "deploying the {} NFS server on node `{node}` (namespace `{}`)",
        flavor.name(),
        spec.namespace
    ));
    env.deployed.push(spec.namespace.clone());
    let ready = server::up(cluster, &spec, &config.timeouts, progress)
        .await
        .map_err(server_err)?;
    env.checked.push((
        ready.server.address.clone(),
        server::describe_checked(&ready.mounts),
    ));
    env.servers.push(ready.server);
    Ok(())
}

/// Writes the debug bundle of a failed preparation, when the request names a directory.
async fn bundle(
    parts: &HostParts,
    env: &Environment,
    request: &Request,
    error: &EnvironmentError,
    progress: &(dyn Fn(&str) + Sync),
) {
    let Some(dir) = &request.debug_dir else {
        return;
    };
    let failure = crate::errors::error_chain(error);
    let kind = match &request.cluster {
        ClusterChoice::Kind { .. } => Some(request.config.cluster.name.as_str()),
        ClusterChoice::Existing { .. } => None,
    };
    let manifests = request
        .flavors
        .iter()
        .map(|f| {
            (
                format!("nfs-server-{}.yaml", f.name()),
                crate::nfs::server::manifests_without_cluster(&request.config, Some(*f)),
            )
        })
        .collect();
    progress(&format!("writing the debug bundle to {}", dir.display()));
    let evidence = crate::cluster::debug::Evidence {
        cluster: Some(env.cluster.as_ref()),
        kind,
        tools: &parts.tools,
        failure: &failure,
        manifests,
    };
    for missing in crate::cluster::debug::collect(&evidence, dir).await {
        progress(&format!("debug bundle: {missing}"));
    }
}

/// Removes a kind cluster made by a preparation that failed before anything else existed.
async fn abandon(
    parts: &HostParts,
    delete_cluster: Option<String>,
    error: EnvironmentError,
) -> EnvironmentError {
    if let Some(name) = delete_cluster {
        let _ = cluster::down(&parts.host(), &name).await;
    }
    error
}

/// The cluster as results record it: its nodes ([`read_nodes`]) and the Kubernetes version
/// the first node's kubelet reports.
pub(crate) async fn describe_cluster(
    cluster: &dyn Cluster,
    description: &str,
) -> record::Environment {
    let nodes = read_nodes(cluster).await;
    record::Environment {
        cluster: description.to_owned(),
        kubernetes_version: nodes.iter().find_map(|n| n.kubelet.clone()),
        nodes,
        servers: Vec::new(),
        notes: Vec::new(),
    }
}

/// Reads the cluster's nodes (kernel, OS, kubelet, container runtime), sorted by name: the
/// one place nodes are read for a report (none when they cannot be listed).
async fn read_nodes(cluster: &dyn Cluster) -> Vec<NodeInfo> {
    let mut nodes: Vec<NodeInfo> = cluster
        .list("v1", "Node", None, None)
        .await
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let info = |field: &str| {
                n.pointer(&format!("/status/nodeInfo/{field}"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            NodeInfo {
                name: n
                    .pointer("/metadata/name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                kernel: info("kernelVersion"),
                os_image: info("osImage"),
                kubelet: info("kubeletVersion"),
                container_runtime: info("containerRuntimeVersion"),
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// Removes what `prepare` made: on a cluster that stays (kept or existing), what is left
/// of `run` (the objects its scenarios and benchmark could not remove), then the servers it
/// deployed ([`remove_run_then_servers`]); then the kind cluster it created (unless kept).
/// Keeps going after a failure and reports the first one.
///
/// # Errors
/// [`EnvironmentError::TearDown`] naming what stays.
pub(crate) async fn tear_down(
    parts: &HostParts,
    env: &Environment,
    config: &Config,
    run: Option<&RunId>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EnvironmentError> {
    let mut first_error = None;
    if env.delete_cluster.is_none() {
        // Deleting the cluster removes the servers with it; only a kept or existing
        // cluster needs them removed one by one.
        let removed =
            remove_run_then_servers(env.cluster.as_ref(), run, &env.deployed, config, progress)
                .await;
        if let Err(e) = removed {
            first_error = Some(e);
        }
    }
    if let Some(name) = &env.delete_cluster {
        progress(&format!("deleting kind cluster `{name}`"));
        if let Err(e) = cluster::down(&parts.host(), name).await {
            first_error.get_or_insert(EnvironmentError::TearDown {
                what: format!(
                    "kind cluster `{name}` (remove it with: kind delete cluster --name {name})"
                ),
                source: Box::new(e),
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Removes what is left of `run` on `cluster` (`nfslab clean --run`: its namespaces with
/// their pods, recycler pods of its volumes, its volumes, classes and RBAC) and waits until
/// it is gone; only then removes the server namespaces `servers`, newest first. A server
/// removed under hard-mounted pods can wedge the kubelet's unmounts, so while something of
/// the run stays, the servers stay too and the error says so.
///
/// # Errors
/// [`EnvironmentError::TearDown`] naming the first thing that stays.
pub(crate) async fn remove_run_then_servers(
    cluster: &dyn Cluster,
    run: Option<&RunId>,
    servers: &[String],
    config: &Config,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), EnvironmentError> {
    let mut first_error = None;
    let mut users_stay = false;
    if let Some(run) = run {
        let scope = Scope::Run(run.clone());
        let swept = match clean::find(cluster, &scope).await {
            Ok(found) if found.is_empty() => Ok(()),
            Ok(found) => {
                progress(&format!(
                    "removing {} object(s) run {run} left behind, before the NFS server",
                    found.len()
                ));
                match clean::clean(cluster, &scope, config.timeouts.cleanup, false).await {
                    Ok(report) if report.left.is_empty() => Ok(()),
                    Ok(report) => Err(Box::new(clean::LeftBehind(report.left))
                        as Box<dyn std::error::Error + Send + Sync>),
                    Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                }
            }
            Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
        };
        if let Err(source) = swept {
            users_stay = true;
            first_error.get_or_insert(EnvironmentError::TearDown {
                what: format!(
                    "the objects of run {run} (remove them with: nfslab clean --run {run})"
                ),
                source,
            });
        }
    }
    for ns in servers.iter().rev() {
        if users_stay {
            progress(&format!(
                "keeping the NFS server in namespace `{ns}`: objects of the run still use it"
            ));
            first_error.get_or_insert(EnvironmentError::TearDown {
                what: format!(
                    "NFS server namespace `{ns}` (kept while objects of the run may still \
                     mount it; once they are gone: nfslab nfs down)"
                ),
                source: "objects of the run are still there".into(),
            });
            continue;
        }
        progress(&format!("removing the NFS server in namespace `{ns}`"));
        if let Err(e) = server::down(cluster, ns, &config.timeouts).await {
            first_error.get_or_insert(EnvironmentError::TearDown {
                what: format!("NFS server namespace `{ns}` (remove it with: nfslab nfs down)"),
                source: Box::new(e),
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench --server X` (no in-cluster server) on a host whose kernel has an NFS client
    /// but no `nfsd`, with `nfs.flavor: kernel` configured: preflight asks for nothing.
    #[test]
    fn outside_servers_do_not_demand_the_in_cluster_servers_modules() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("dirs");
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "6.18.0-test\n").expect("w");
        std::fs::write(
            root.join("proc/filesystems"),
            "nodev\tsysfs\n\tnfs\n\tnfs4\n",
        )
        .expect("w");
        let kernel = KernelProbe::at(root);
        let kernel_server = crate::cluster::preflight::check_kernel(&kernel, ServerFlavor::Kernel);
        assert!(
            kernel_server.iter().any(|p| p.what.contains("nfsd")),
            "the detector must see the missing nfsd: {kernel_server:?}"
        );
        let outside_only = crate::cluster::preflight::check_kernel(&kernel, preflight_flavor(&[]));
        assert!(outside_only.is_empty(), "{outside_only:?}");
        assert_eq!(
            preflight_flavor(&[ServerFlavor::Ganesha, ServerFlavor::Kernel]),
            ServerFlavor::Ganesha
        );
    }

    #[test]
    fn the_existing_preflight_probes_the_images_and_the_server_pod_the_run_uses() {
        let target = cluster::existing::Target {
            kubeconfig: None,
            context: Some("c".into()),
            server: "https://10.0.0.1:6443/".into(),
        };
        let config = Config::default();
        let plan = existing_plan(&config, &[ServerFlavor::Ganesha], &target, Some("1.35"));
        let images: Vec<&str> = plan.own_images.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(
            images,
            [
                config.images.nfslab_io(),
                config.images.ganesha_nfs_server()
            ]
        );
        assert_eq!(
            plan.recycler_image.as_deref(),
            config.images.recycler.get("1.35").map(String::as_str)
        );
        // The server pod is the StatefulSet's own template, privileged as deployed.
        let spec = ServerSpec::from_config(&config, Some(ServerFlavor::Ganesha), "preflight");
        let template = server::manifests(&spec)
            .into_iter()
            .find(|m| m["kind"] == "StatefulSet")
            .and_then(|s| s.pointer("/spec/template/spec").cloned())
            .expect("a template");
        let pod = plan.server_pod.expect("a server pod");
        assert_eq!(pod["spec"], template);
        let kernel = existing_plan(&config, &[ServerFlavor::Kernel], &target, None);
        assert_eq!(kernel.own_images.len(), 1, "only nfslab-io is nfslab's own");
        assert_eq!(kernel.recycler_image, None);
        let external = existing_plan(&config, &[ServerFlavor::External], &target, None);
        assert!(
            external.server_pod.is_none(),
            "no server is deployed for an external one"
        );
    }

    #[test]
    fn a_registry_points_only_the_own_images_there() {
        let choice = ClusterChoice::Existing {
            kubeconfig: None,
            context: Some("c".into()),
            confirmed: true,
            image_registry: Some("reg.example:5000/lab/".into()),
        };
        let mut config = Config::default();
        config.images.ganesha_nfs_server = "mirror.example/ganesha:1".to_owned();
        choice.use_registry(&mut config);
        let version = env!("CARGO_PKG_VERSION");
        let hash = cluster::images::source_hash(
            &cluster::images::source_dir(),
            cluster::images::IO_RECIPE,
        )
        .expect("the tree's hash");
        assert_eq!(
            config.images.nfslab_io,
            format!("reg.example:5000/lab/nfslab-io:{version}-{hash}")
        );
        assert_eq!(config.images.ganesha_nfs_server, "mirror.example/ganesha:1");
        let mut untouched = Config::default();
        ClusterChoice::Kind {
            keep: false,
            install: true,
        }
        .use_registry(&mut untouched);
        assert_eq!(untouched, Config::default());
    }

    #[test]
    fn choices_parse_from_variable_values() {
        assert_eq!(
            ClusterChoice::parse(None, None, None, None).expect("ok"),
            None
        );
        assert_eq!(
            ClusterChoice::parse(Some("kind"), Some("1"), None, None).expect("ok"),
            Some(ClusterChoice::Kind {
                keep: true,
                install: true
            })
        );
        assert_eq!(
            ClusterChoice::parse(Some(" kind "), None, None, None).expect("ok"),
            Some(ClusterChoice::Kind {
                keep: false,
                install: true
            })
        );
        assert_eq!(
            ClusterChoice::parse(
                Some("existing"),
                None,
                Some(PathBuf::from("/k")),
                Some("c".into())
            )
            .expect("ok"),
            Some(ClusterChoice::Existing {
                kubeconfig: Some(PathBuf::from("/k")),
                context: Some("c".into()),
                confirmed: true,
                image_registry: None,
            })
        );
        // Without a named context, the current one is not acted on unless agreed to.
        assert_eq!(
            ClusterChoice::parse(Some("existing"), None, None, None).expect("ok"),
            Some(ClusterChoice::Existing {
                kubeconfig: None,
                context: None,
                confirmed: false,
                image_registry: None,
            })
        );
        let err = ClusterChoice::parse(Some("minikube"), None, None, None).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "`minikube` is not a valid value of NFSLAB_E2E_CLUSTER (hint: use `kind` (nfslab \
             creates a kind cluster) or `existing` (your kubeconfig))"
        );
        assert!(ClusterChoice::parse(Some("kind"), Some("maybe"), None, None).is_err());
    }

    #[test]
    fn several_flavors_get_their_own_namespace_and_directory() {
        let config = Config::default();
        let one = server_spec(&config, ServerFlavor::Kernel, "n1", false);
        assert_eq!(one.namespace, config.nfs.namespace);
        assert_eq!(one.host_path, config.nfs.host_path);
        let kernel = server_spec(&config, ServerFlavor::Kernel, "n1", true);
        let ganesha = server_spec(&config, ServerFlavor::Ganesha, "n1", true);
        assert_ne!(kernel.namespace, ganesha.namespace);
        assert_ne!(kernel.host_path, ganesha.host_path);
        assert!(ganesha.namespace.ends_with("-ganesha"));
        assert_eq!(ganesha.flavor, ServerFlavor::Ganesha);
    }

    #[test]
    fn display_says_what_is_used() {
        assert_eq!(
            ClusterChoice::Existing {
                kubeconfig: None,
                context: Some("prod".into()),
                confirmed: true,
                image_registry: None,
            }
            .to_string(),
            "the existing cluster of context `prod`"
        );
        assert_eq!(
            ClusterChoice::Kind {
                keep: false,
                install: true
            }
            .to_string(),
            "nfslab's kind cluster"
        );
    }
}
