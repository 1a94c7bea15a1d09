//! The cluster nfslab runs against: a kind cluster it creates, or an existing one.
//!
//! - [`up`] checks the host (`preflight`), creates a kind cluster from a generated
//!   configuration with a kubeconfig private to nfslab (`kind`, `state`), checks every
//!   node can mount NFS, builds and side-loads the images ([`images`]); or, for an existing
//!   cluster (`--kubeconfig`/`--context`), checks the API server answers and remembers how
//!   to reach it. Interrupting it (Ctrl-C) deletes the half-made cluster.
//! - [`down`] deletes a kind cluster nfslab created; existing clusters are only forgotten,
//!   never deleted.
//! - [`status`] reports what nfslab knows and what the cluster says.
//! - [`connect`] gives the [`KubeCluster`] other commands work with.
//!
//! - [`doctor`]: the preflight checks on their own, with advice (`nfslab doctor`).
//! - [`debug`]: the debug bundle a failed run (or a failed `cluster up`) leaves before
//!   anything is torn down.
//!
//! Host tools run through [`tools::Tools`], so all of this is tested without kind.

pub mod debug;
pub mod doctor;
pub mod existing;
pub mod images;
pub mod install;
pub(crate) mod kind;
pub(crate) mod preflight;
pub(crate) mod state;
pub(crate) mod tools;

pub use kind::{KindError, load_image};
pub use preflight::{Availability, KernelProbe, Problem, daemon_kernel};
pub use state::{ClusterRecord, ProviderKind, StateError, StateStore};
pub use tools::{CommandError, CommandOutput, CommandSpec, SystemTools, ToolError, Tools};

use std::future::Future;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::exit::Outcome;
use crate::k8s::ClusterError;
use crate::k8s::kube_cluster::{ConnectError, KubeCluster};
use crate::k8s::nodes::NodeStatus;
use crate::nfs::ServerFlavor;
use kind::KindSpec;

/// Where the cluster comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A kind cluster nfslab creates.
    Kind {
        /// Worker nodes (the configuration's when `None`).
        workers: Option<u8>,
        /// Node image (the configuration's when `None`).
        node_image: Option<String>,
    },
    /// A cluster the user already has.
    Existing {
        /// Kubeconfig file (`None`: `KUBECONFIG` or `~/.kube/config`).
        kubeconfig: Option<PathBuf>,
        /// Context (`None`: the file's current context, pinned now).
        context: Option<String>,
    },
}

/// What `cluster up` should do.
#[derive(Clone, Debug)]
pub struct UpRequest {
    /// The name nfslab knows the cluster by (the kind cluster name for kind).
    pub name: String,
    /// Where it comes from.
    pub provider: Provider,
    /// The NFS server flavor that will run there (the kernel flavor needs host `nfsd`).
    pub nfs_flavor: ServerFlavor,
    /// Build `nfslab-io` (and the server image, when it is needed) even when Docker already
    /// has them.
    pub rebuild_image: bool,
    /// A ganesha server will run: build nfslab's own server image when needed (the kernel
    /// flavor and external servers do not use it).
    pub server_image: bool,
    /// Install the pinned kind release into nfslab's cache when kind is not on PATH.
    pub install_kind: bool,
    /// Keep a kind cluster whose nodes fail the mount-helper check (to fix by hand).
    pub keep_on_failure: bool,
    /// Where to write the debug bundle (`kind export logs`) when the kind cluster is
    /// created but fails its checks, before it is removed.
    pub debug_dir: Option<PathBuf>,
}

/// What is left after an interrupted or failed `cluster up`, and how to remove it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// What is left.
    pub what: String,
    /// The command that removes it.
    pub remove_with: String,
}

/// Why `cluster up/down/status` or connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterSetupError {
    /// kind is missing and could not be installed.
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// The host is not ready; every problem is listed.
    #[error(
        "the host is not ready for a kind cluster (nothing was created):\n{}",
        .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Preflight {
        /// One line each.
        problems: Vec<Problem>,
    },
    /// A kind step failed. The message is the failure's whole chain (no source follows it,
    /// so nothing is said twice), then what remains.
    #[error("{}{}", crate::errors::error_chain(.failure.as_ref()), leftover_text(.leftover.as_ref()))]
    Kind {
        /// The failure.
        failure: Box<KindError>,
        /// What remains, when cleanup was not possible.
        leftover: Option<Leftover>,
    },
    /// An image could not be built or loaded (the message as for [`Self::Kind`]).
    #[error("{}{}", crate::errors::error_chain(.failure.as_ref()), leftover_text(.leftover.as_ref()))]
    Image {
        /// The failure.
        failure: Box<images::ImageError>,
        /// What remains, when cleanup was not possible.
        leftover: Option<Leftover>,
    },
    /// The state directory could not be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// The cluster could not be reached with the kubeconfig.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The API server did not answer as expected.
    #[error("cluster `{name}` did not answer")]
    Api {
        /// The cluster.
        name: String,
        /// Why.
        #[source]
        source: Box<ClusterError>,
    },
    /// The user interrupted `cluster up`.
    #[error("interrupted; {}", match .leftover {
        None => "the half-made cluster was deleted".to_owned(),
        Some(l) => format!("left behind: {} (remove it with: {})", l.what, l.remove_with),
    })]
    Interrupted {
        /// What could not be removed.
        leftover: Option<Leftover>,
    },
    /// The named cluster is unknown to nfslab.
    #[error(
        "nfslab knows no cluster `{name}` (hint: `nfslab cluster up` creates one; \
         `--kubeconfig FILE [--context NAME]` uses yours{})",
        if .known.is_empty() { String::new() } else { format!("; known: {}", .known.join(", ")) }
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names nfslab knows.
        known: Vec<String>,
    },
    /// An existing cluster was to be recorded under the name of a kind cluster nfslab made.
    #[error(
        "the name `{name}` belongs to a kind cluster nfslab created (hint: give your cluster \
         another name with `--name`)"
    )]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No kubeconfig was named and none is in the usual places.
    #[error(
        "no kubeconfig given and none found (KUBECONFIG is unset and ~/.kube/config does not \
         exist) (hint: pass --kubeconfig FILE)"
    )]
    NoKubeconfig,
    /// A kind cluster of that name exists but nfslab did not create it.
    #[error(
        "kind cluster `{name}` was not created by nfslab, so nfslab will not delete it (hint: \
         `kind delete cluster --name {name}` if you mean to)"
    )]
    NotOurs {
        /// The cluster.
        name: String,
    },
}

fn leftover_text(leftover: Option<&Leftover>) -> String {
    match leftover {
        Some(l) => format!(
            "; left behind: {} (remove it with: {})",
            l.what, l.remove_with
        ),
        None => String::new(),
    }
}

impl ClusterSetupError {
    /// The exit code class of this failure.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Interrupted { .. } => Outcome::Interrupted,
            Self::Unknown { .. }
            | Self::NameTaken { .. }
            | Self::NoKubeconfig
            | Self::State(StateError::BadName(_)) => Outcome::BadInput,
            _ => Outcome::Environment,
        }
    }
}

/// The host nfslab runs on: its tools, state directory and kernel.
pub struct Host<'a> {
    /// docker, kind and the build script.
    pub tools: &'a dyn Tools,
    /// Where cluster records live.
    pub store: &'a StateStore,
    /// Kernel facts for preflight.
    pub kernel: &'a KernelProbe,
    /// The nfslab source tree (for the image build script).
    pub source_dir: PathBuf,
}

/// Creates (or, for an existing cluster, adopts for use) the cluster `request` describes.
/// `progress` receives one line per step. When `interrupt` completes first, the half-made
/// kind cluster is deleted and [`ClusterSetupError::Interrupted`] returned.
///
/// # Errors
/// [`ClusterSetupError`]: preflight problems (nothing created), kind or image failures
/// (the cluster is deleted unless `keep_on_failure`), an unreachable existing cluster.
pub async fn up(
    host: &Host<'_>,
    config: &Config,
    request: &UpRequest,
    interrupt: impl Future<Output = ()>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ClusterRecord, ClusterSetupError> {
    crate::names::cluster_name(&request.name).map_err(StateError::BadName)?;
    match &request.provider {
        Provider::Existing {
            kubeconfig,
            context,
        } => {
            tokio::select! {
                r = adopt(host, config, &request.name, kubeconfig.as_deref(), context.as_deref(), progress) => r,
                () = interrupt => Err(ClusterSetupError::Interrupted { leftover: None }),
            }
        }
        Provider::Kind {
            workers,
            node_image,
        } => {
            let spec = KindSpec {
                name: request.name.clone(),
                workers: workers.unwrap_or(config.cluster.workers),
                node_image: node_image
                    .clone()
                    .unwrap_or_else(|| config.cluster.node_image.clone()),
                api_server_port: config.cluster.api_server_port,
            };
            let known = host.store.load(&spec.name)?;
            if let Some(record) = &known
                && record.provider == ProviderKind::Existing
            {
                return Err(ClusterSetupError::NotOurs {
                    name: spec.name.clone(),
                });
            }
            let checks = preflight::Request {
                cluster_name: spec.name.clone(),
                min_kind_version: config.cluster.min_kind_version.clone(),
                node_image: spec.node_image.clone(),
                api_server_port: spec.api_server_port,
                flavor: request.nfs_flavor,
                name_is_ours: known.is_some(),
                check_kernel: false,
                install_kind: request.install_kind,
            };
            let mut report = preflight::check_kind_host(host.tools, host.kernel, &checks).await;
            // kind is installed once it is all that is missing: every other problem is said
            // first, at once, and nothing is downloaded for a run that could not go on.
            if request.install_kind
                && report.problems.len() == 1
                && report.problems[0].subject == "kind"
                && host.tools.find("kind").is_none()
            {
                ensure_kind(host, config.timeouts.image_transfer, progress).await?;
                report = preflight::check_kind_host(host.tools, host.kernel, &checks).await;
            }
            if !report.passed() {
                return Err(ClusterSetupError::Preflight {
                    problems: report.problems,
                });
            }
            progress(&format!("preflight ok: {}", report.found.join(", ")));
            let mut interrupt = std::pin::pin!(interrupt);
            // The images first (nothing is created yet): the nodes' kernel is read with one.
            tokio::select! {
                r = prepare_images(host, config, request, progress) => r?,
                () = &mut interrupt => {
                    return Err(ClusterSetupError::Interrupted { leftover: None });
                }
            }
            let problems = nodes_kernel(host, config, request.nfs_flavor, progress).await;
            if !problems.is_empty() {
                return Err(ClusterSetupError::Preflight { problems });
            }
            let outcome = tokio::select! {
                r = create_kind(host, config, request, &spec, known.is_some(), progress) => r,
                () = &mut interrupt => Err(ClusterSetupError::Interrupted { leftover: None }),
            };
            match outcome {
                Ok(record) => Ok(record),
                Err(ClusterSetupError::Interrupted { .. }) => {
                    progress("interrupted: deleting the half-made cluster");
                    let leftover = remove_kind(host, &spec.name).await;
                    Err(ClusterSetupError::Interrupted { leftover })
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Builds nfslab's images when needed (the `nfslab-io` image, and the ganesha server's when
/// a ganesha server will run), before anything is created.
async fn prepare_images(
    host: &Host<'_>,
    config: &Config,
    request: &UpRequest,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ClusterSetupError> {
    let mut builds = vec![(images::IO_RECIPE, config.images.nfslab_io())];
    let server = images::Image {
        role: images::Role::GaneshaNfsServer,
        reference: config.images.ganesha_nfs_server(),
    };
    if request.server_image
        && let Some(recipe) = server.recipe()
    {
        builds.push((recipe, server.reference));
    }
    for (recipe, image) in builds {
        build_if_needed(host, config, request, recipe, &image, progress)
            .await
            .map_err(|source| ClusterSetupError::Image {
                failure: Box::new(source),
                leftover: None,
            })?;
    }
    Ok(())
}

/// What the nodes' kernel (the Docker daemon's) lacks for NFS, read from a container of the
/// `nfslab-io` image; this machine's kernel when no container can run (said as progress).
async fn nodes_kernel(
    host: &Host<'_>,
    config: &Config,
    flavor: crate::nfs::ServerFlavor,
    progress: &(dyn Fn(&str) + Sync),
) -> Vec<Problem> {
    match preflight::daemon_kernel(host.tools, &config.images.nfslab_io()).await {
        Ok(kernel) => {
            let problems = preflight::check_kernel(&kernel, flavor);
            if problems.is_empty() {
                progress(&format!(
                    "the nodes' kernel {} has what NFS needs (read from a container on the \
                     Docker daemon)",
                    kernel.release().unwrap_or_default()
                ));
            }
            problems
        }
        Err(why) => {
            progress(&format!(
                "could not read the Docker daemon's kernel from a container ({why}); checking \
                 this machine's kernel instead"
            ));
            preflight::check_kernel(host.kernel, flavor)
        }
    }
}

/// Installs the pinned kind release into nfslab's cache when no kind is on PATH (nor there).
async fn ensure_kind(
    host: &Host<'_>,
    timeout: std::time::Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), ClusterSetupError> {
    if host.tools.find("kind").is_some() {
        return Ok(());
    }
    let release = install::Release::pinned()?;
    let dir = install::bin_dir().ok_or(install::InstallError::NoCacheDir)?;
    progress(&format!(
        "kind is not on PATH: installing kind {} into {} (checking its SHA-256; \
         --no-install refuses)",
        release.version,
        dir.display()
    ));
    let installed = install::install_kind(&release, &dir, timeout).await?;
    progress(&format!("installed {}", installed.display()));
    Ok(())
}

/// A kind cluster that was made but failed its checks: its logs go into the debug bundle
/// (while it still exists), then it is removed, unless the request keeps it.
async fn abandon_kind(
    host: &Host<'_>,
    request: &UpRequest,
    name: &str,
    failure: &kind::KindError,
) -> Option<Leftover> {
    if let Some(dir) = &request.debug_dir {
        let failure = crate::errors::error_chain(failure);
        let evidence = crate::cluster::debug::Evidence {
            cluster: None,
            kind: Some(name),
            tools: host.tools,
            failure: &failure,
            manifests: Vec::new(),
        };
        crate::cluster::debug::collect(&evidence, dir).await;
    }
    if request.keep_on_failure {
        Some(Leftover {
            what: format!("kind cluster `{name}` (kept as asked)"),
            remove_with: format!("nfslab cluster down --name {name}"),
        })
    } else {
        remove_kind(host, name).await
    }
}

/// Deletes a kind cluster and nfslab's record of it; on failure, says what is left.
async fn remove_kind(host: &Host<'_>, name: &str) -> Option<Leftover> {
    let kubeconfig = host.store.kubeconfig_path(name);
    let deleted = kind::delete(host.tools, name, &kubeconfig).await;
    let forgotten = host.store.forget(name);
    match (deleted, forgotten) {
        (Ok(()), Ok(())) => None,
        (Err(_), _) => Some(Leftover {
            what: format!(
                "kind cluster `{name}` (Docker containers `{name}-control-plane`, `{name}-worker`...)"
            ),
            remove_with: format!("kind delete cluster --name {name}"),
        }),
        (Ok(()), Err(_)) => Some(Leftover {
            what: format!(
                "nfslab's record `{}`",
                host.store.cluster_dir(name).display()
            ),
            remove_with: format!("rm -r {}", host.store.cluster_dir(name).display()),
        }),
    }
}

async fn create_kind(
    host: &Host<'_>,
    config: &Config,
    request: &UpRequest,
    spec: &KindSpec,
    reuse: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ClusterRecord, ClusterSetupError> {
    let kind_err = |source| ClusterSetupError::Kind {
        failure: Box::new(source),
        leftover: None,
    };
    let exists = reuse
        && kind::clusters(host.tools)
            .await
            .map_err(kind_err)?
            .contains(&spec.name);
    let record = ClusterRecord {
        name: spec.name.clone(),
        provider: ProviderKind::Kind,
        created_by_nfslab: true,
        kubeconfig: host.store.kubeconfig_path(&spec.name),
        context: Some(format!("kind-{}", spec.name)),
        node_image: Some(spec.node_image.clone()),
        workers: Some(spec.workers),
        recorded_at: crate::errors::now_rfc3339(),
    };
    if exists {
        progress(&format!(
            "kind cluster `{}` exists (made by nfslab); reusing it",
            spec.name
        ));
    } else {
        host.store.prepare(&spec.name)?;
        let config_file = host.store.kind_config_path(&spec.name);
        std::fs::write(&config_file, spec.config_yaml()).map_err(|source| {
            ClusterSetupError::State(StateError::Io {
                action: "write",
                path: config_file.clone(),
                source,
            })
        })?;
        // Record before creating, so an interrupted or failed run can be cleaned up later.
        host.store.save(&record)?;
        progress(&format!(
            "creating kind cluster `{}`: 1 control plane + {} worker(s), {}",
            spec.name, spec.workers, spec.node_image
        ));
        // A first run pulls the node image (hundreds of MB) inside `kind create`.
        let mut create_timeout = config.timeouts.cluster_create;
        if !images::present(host.tools, &spec.node_image)
            .await
            .unwrap_or(true)
        {
            create_timeout += config.timeouts.image_pull;
            progress(&format!(
                "the node image is not in the local Docker: kind pulls it first (allowing {} \
                 more)",
                nfslab_workload::format_duration(config.timeouts.image_pull)
            ));
        }
        if let Err(source) = kind::create(
            host.tools,
            spec,
            &config_file,
            &record.kubeconfig,
            create_timeout,
        )
        .await
        {
            let leftover = abandon_kind(host, request, &spec.name, &source).await;
            return Err(ClusterSetupError::Kind {
                failure: Box::new(source),
                leftover,
            });
        }
    }
    progress(&format!("checking every node for {}", kind::MOUNT_HELPER));
    if let Err(source) = kind::check_mount_helpers(host.tools, &spec.name).await {
        let leftover = abandon_kind(host, request, &spec.name, &source).await;
        return Err(ClusterSetupError::Kind {
            failure: Box::new(source),
            leftover,
        });
    }
    if let Err(source) = load_images(host, config, spec, request.server_image, progress).await {
        // The cluster itself is fine; images can be loaded again with `nfslab images load`.
        return Err(ClusterSetupError::Image {
            failure: Box::new(source),
            leftover: Some(Leftover {
                what: format!("kind cluster `{}` without all images", spec.name),
                remove_with: format!(
                    "nfslab cluster down --name {} (or fix the cause and run `nfslab images \
                     load`)",
                    spec.name
                ),
            }),
        });
    }
    Ok(record)
}

/// Side-loads every configured image that the local Docker has into the kind cluster;
/// images it lacks are left for the nodes to pull. ([`prepare_images`] built nfslab's own.)
/// A third-party image that kind cannot load is a warning (the nodes pull it); one of
/// nfslab's own that the run needs is an error.
async fn load_images(
    host: &Host<'_>,
    config: &Config,
    spec: &KindSpec,
    server_image: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), images::ImageError> {
    let cluster = spec.name.as_str();
    // kindest/node:v1.33.1@sha256:... runs Kubernetes 1.33: preload that recycler image.
    let minor = spec.node_image.split(":v").nth(1).and_then(|v| {
        let mut parts = v.split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    });
    let mut missing = Vec::new();
    let timeout = config.timeouts.image_transfer;
    for image in images::catalog(&config.images, minor.as_deref()) {
        if !images::present(host.tools, &image.reference).await? {
            missing.push(image.reference);
            continue;
        }
        progress(&format!("loading `{}` into the nodes", image.reference));
        let Err(first) = kind::load_image(host.tools, cluster, &image.reference, timeout).await
        else {
            continue;
        };
        // Docker's containerd image store breaks `kind load docker-image` for images pulled
        // for one platform of many: retry with an archive of the daemon's platform.
        let arch = daemon_arch(host.tools).await;
        let dir = host.store.cluster_dir(cluster);
        let retried =
            kind::load_image_archive(host.tools, cluster, &image.reference, &arch, &dir, timeout)
                .await;
        match retried {
            Ok(()) => progress(&format!(
                "loaded `{}` from an archive of linux/{arch} (kind could not load it directly: \
                 {first})",
                image.reference
            )),
            // nfslab's own images exist nowhere else: the nodes could never pull them (the
            // server's is needed only when a ganesha server will run).
            Err(e)
                if image.built_locally()
                    && (server_image || image.role != images::Role::GaneshaNfsServer) =>
            {
                return Err(e.into());
            }
            Err(e) => progress(&format!(
                "warning: could not side-load `{}` ({e}); the nodes pull it from its registry \
                 when a pod needs it",
                image.reference
            )),
        }
    }
    if !missing.is_empty() {
        progress(&format!(
            "not in the local Docker, so nodes pull them when needed: {} (`nfslab images pull` \
             then `nfslab images load` preloads them)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The Docker daemon's architecture as image platforms name it (`amd64`, `arm64`).
async fn daemon_arch(tools: &dyn Tools) -> String {
    let command = CommandSpec::new(
        "docker",
        &["info", "--format", "{{.Architecture}}"],
        std::time::Duration::from_secs(30),
    );
    let arch = match tools.run(&command).await {
        Ok(out) if out.success() => out.stdout.trim().to_owned(),
        _ => std::env::consts::ARCH.to_owned(),
    };
    match arch.as_str() {
        "x86_64" | "amd64" => "amd64".to_owned(),
        "aarch64" | "arm64" => "arm64".to_owned(),
        other => other.to_owned(),
    }
}

/// Builds `image` with `recipe` when Docker lacks it, it is stale, or a rebuild was asked.
async fn build_if_needed(
    host: &Host<'_>,
    config: &Config,
    request: &UpRequest,
    recipe: images::Recipe,
    image: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), images::ImageError> {
    let freshness = images::freshness_of(host.tools, &host.source_dir, recipe, image).await?;
    if let Some(state) = freshness.describe(image) {
        progress(&state);
    }
    if !(request.rebuild_image || freshness.needs_build()) {
        return Ok(());
    }
    progress(&format!("building image `{image}`"));
    let built = images::build(
        host.tools,
        &host.source_dir,
        recipe,
        image,
        config.timeouts.image_build,
    )
    .await;
    match built {
        // A stale image still runs (an air-gapped host may have loaded it on purpose): when
        // it cannot be rebuilt here, say so and go on with it.
        Err(e)
            if !request.rebuild_image && matches!(freshness, images::Freshness::Stale { .. }) =>
        {
            progress(&format!(
                "warning: could not rebuild `{image}` ({e}); using the image Docker has, built \
                 from other sources"
            ));
            Ok(())
        }
        other => other,
    }
}

async fn adopt(
    host: &Host<'_>,
    config: &Config,
    name: &str,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ClusterRecord, ClusterSetupError> {
    if let Some(record) = host.store.load(name)?
        && record.created_by_nfslab
    {
        return Err(ClusterSetupError::NameTaken {
            name: name.to_owned(),
        });
    }
    let file = match kubeconfig {
        Some(f) => absolute(f),
        None => default_kubeconfig().ok_or(ClusterSetupError::NoKubeconfig)?,
    };
    let context = match context {
        Some(c) => Some(c.to_owned()),
        None => {
            kube::config::Kubeconfig::read_from(&file)
                .map_err(|source| ConnectError::Kubeconfig {
                    file: file.clone(),
                    source,
                })?
                .current_context
        }
    };
    let cluster =
        KubeCluster::connect(Some(&file), context.as_deref(), config.timeouts.exec).await?;
    let version = cluster
        .server_version()
        .await
        .map_err(|source| ClusterSetupError::Api {
            name: name.to_owned(),
            source: Box::new(source),
        })?;
    progress(&format!(
        "cluster `{name}` answers: Kubernetes {version} (context `{}`)",
        context.as_deref().unwrap_or("current")
    ));
    let record = ClusterRecord {
        name: name.to_owned(),
        provider: ProviderKind::Existing,
        created_by_nfslab: false,
        kubeconfig: file,
        context,
        node_image: None,
        workers: None,
        recorded_at: crate::errors::now_rfc3339(),
    };
    host.store.save(&record)?;
    Ok(record)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The kubeconfig kubectl would use: the first file in `KUBECONFIG`, else `~/.kube/config`.
pub(crate) fn default_kubeconfig() -> Option<PathBuf> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).next().map(|p| absolute(&p));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".kube/config"))
        .filter(|p| p.is_file())
}

/// What `cluster down` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownOutcome {
    /// The kind cluster was deleted.
    Deleted,
    /// An existing cluster was forgotten; the cluster itself is untouched.
    Forgotten,
    /// nfslab knew no such cluster; nothing was done.
    NothingKnown,
}

/// Deletes a kind cluster nfslab created, or forgets an existing one (never deleting it).
///
/// # Errors
/// [`ClusterSetupError`] when kind fails, or a kind cluster of that name exists that nfslab
/// did not create.
pub async fn down(host: &Host<'_>, name: &str) -> Result<DownOutcome, ClusterSetupError> {
    match host.store.load(name)? {
        Some(record) if record.created_by_nfslab => {
            kind::delete(host.tools, name, &record.kubeconfig)
                .await
                .map_err(|source| ClusterSetupError::Kind {
                    failure: Box::new(source),
                    leftover: None,
                })?;
            host.store.forget(name)?;
            Ok(DownOutcome::Deleted)
        }
        Some(_) => {
            host.store.forget(name)?;
            Ok(DownOutcome::Forgotten)
        }
        None => {
            if host.tools.find("kind").is_some()
                && kind::clusters(host.tools)
                    .await
                    .is_ok_and(|names| names.iter().any(|n| n == name))
            {
                return Err(ClusterSetupError::NotOurs {
                    name: name.to_owned(),
                });
            }
            Ok(DownOutcome::NothingKnown)
        }
    }
}

/// The record of a cluster nfslab knows.
///
/// # Errors
/// [`ClusterSetupError::Unknown`] when it knows none of that name.
pub fn record(store: &StateStore, name: &str) -> Result<ClusterRecord, ClusterSetupError> {
    store.load(name)?.ok_or_else(|| ClusterSetupError::Unknown {
        name: name.to_owned(),
        known: store.names().unwrap_or_default(),
    })
}

/// How a command names the cluster to work on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// A cluster nfslab knows (`cluster up --name`).
    pub name: String,
    /// A kubeconfig to use directly instead.
    pub kubeconfig: Option<PathBuf>,
    /// A context to use directly instead (with `kubeconfig` or the default one).
    pub context: Option<String>,
}

/// Connects to the target: its explicit kubeconfig/context, else the record of `name`.
///
/// # Errors
/// [`ClusterSetupError`] when the cluster is unknown or the kubeconfig unusable.
pub async fn connect(
    store: &StateStore,
    target: &Target,
    config: &Config,
) -> Result<KubeCluster, ClusterSetupError> {
    if target.kubeconfig.is_some() || target.context.is_some() {
        return Ok(KubeCluster::connect(
            target.kubeconfig.as_deref(),
            target.context.as_deref(),
            config.timeouts.exec,
        )
        .await?);
    }
    let record = record(store, &target.name)?;
    Ok(KubeCluster::connect(
        Some(&record.kubeconfig),
        record.context.as_deref(),
        config.timeouts.exec,
    )
    .await?)
}

/// What `cluster status` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// nfslab's record.
    pub record: ClusterRecord,
    /// Kubernetes version (`1.33`), when the API server answered.
    pub version: Option<String>,
    /// Why the API server did not answer.
    pub unreachable: Option<String>,
    /// Nodes.
    pub nodes: Vec<NodeStatus>,
}

/// What nfslab knows about a cluster and what its API server and (kind) nodes say.
///
/// # Errors
/// [`ClusterSetupError`] when nfslab knows no such cluster.
pub async fn status(
    host: &Host<'_>,
    config: &Config,
    name: &str,
) -> Result<Status, ClusterSetupError> {
    let record = record(host.store, name)?;
    let mut status = Status {
        record: record.clone(),
        version: None,
        unreachable: None,
        nodes: Vec::new(),
    };
    let answer = async {
        let cluster = KubeCluster::connect(
            Some(&record.kubeconfig),
            record.context.as_deref(),
            config.timeouts.exec,
        )
        .await
        .map_err(|e| e.to_string())?;
        let version = cluster.server_version().await.map_err(|e| e.to_string())?;
        let nodes = crate::k8s::nodes::node_statuses(&cluster)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((version, nodes))
    };
    match tokio::time::timeout(config.timeouts.request, answer).await {
        Ok(Ok((version, nodes))) => {
            status.version = Some(version);
            status.nodes = nodes;
        }
        Ok(Err(e)) => status.unreachable = Some(e),
        Err(_) => {
            status.unreachable = Some(format!(
                "no answer within {}",
                nfslab_workload::format_duration(config.timeouts.request)
            ));
        }
    }
    if record.provider == ProviderKind::Kind
        && let Ok(containers) = kind::nodes(host.tools, name).await
        && let Ok(missing) = kind::nodes_without_mount_helper(host.tools, &containers).await
    {
        for node in &mut status.nodes {
            node.mount_helper = Some(!missing.contains(&node.name));
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::tools::CommandOutput;
    use super::tools::scripted::ScriptedTools;
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: StateStore,
        kernel: KernelProbe,
        source: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("host/proc/sys/kernel")).expect("dirs");
        std::fs::write(root.join("host/proc/sys/kernel/osrelease"), "6.18.0\n").expect("w");
        std::fs::write(
            root.join("host/proc/filesystems"),
            "nodev\tnfs\nnodev\tnfsd\n",
        )
        .expect("w");
        std::fs::create_dir_all(root.join("src/workloads/image")).expect("dirs");
        std::fs::write(root.join("src/workloads/image/build.sh"), "#!/bin/bash\n").expect("w");
        Fixture {
            store: StateStore::at(&root.join("state")),
            kernel: KernelProbe::at(&root.join("host")),
            source: root.join("src"),
            _dir: dir,
        }
    }

    fn host<'a>(f: &'a Fixture, tools: &'a ScriptedTools) -> Host<'a> {
        Host {
            tools,
            store: &f.store,
            kernel: &f.kernel,
            source_dir: f.source.clone(),
        }
    }

    fn kind_request() -> UpRequest {
        UpRequest {
            name: "nfslab".to_owned(),
            provider: Provider::Kind {
                workers: None,
                node_image: None,
            },
            nfs_flavor: ServerFlavor::Kernel,
            rebuild_image: false,
            server_image: false,
            install_kind: false,
            keep_on_failure: false,
            debug_dir: None,
        }
    }

    /// A host where every tool works and the cluster has 3 nodes with the mount helper.
    fn healthy_tools() -> ScriptedTools {
        let tools = ScriptedTools::with(&["docker", "kind", "bash"]);
        tools.reply(&["docker", "version"], CommandOutput::ok("27.1.1\n"));
        tools.reply(
            &["kind", "version"],
            CommandOutput::ok("kind v0.29.0 go1.24 linux/amd64\n"),
        );
        tools.reply(&["kind", "get", "clusters"], CommandOutput::ok(""));
        tools.reply(
            &["kind", "get", "nodes"],
            CommandOutput::ok("nfslab-control-plane\nnfslab-worker\nnfslab-worker2\n"),
        );
        tools.reply(&["docker", "exec"], CommandOutput::ok(""));
        tools.reply(&["kind", "create"], CommandOutput::ok(""));
        tools.reply(&["kind", "delete"], CommandOutput::ok(""));
        tools.reply(&["kind", "load"], CommandOutput::ok(""));
        tools.reply(&["docker", "image", "inspect"], CommandOutput::ok("[]"));
        tools
    }

    fn silent(_: &str) {}

    /// `up` of the default kind request with default configuration, interrupted after
    /// `interrupt_after` (virtual time) when given.
    async fn up_kind(
        f: &Fixture,
        tools: &ScriptedTools,
        interrupt_after: Option<Duration>,
    ) -> Result<ClusterRecord, ClusterSetupError> {
        let interrupt = async move {
            match interrupt_after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        up(
            &host(f, tools),
            &Config::default(),
            &kind_request(),
            interrupt,
            &silent,
        )
        .await
    }

    #[tokio::test]
    async fn up_creates_checks_nodes_and_loads_present_images() {
        let f = fixture();
        let tools = healthy_tools();
        let mut config = Config::default();
        config.images.nfslab_io = "nfslab-io:test".to_owned();
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::failed(1, "No such image"),
        );
        tools.reply(
            &["docker", "image", "inspect", "nfslab-io:test"],
            CommandOutput::ok("[]"),
        );
        // Built from the tree as it is: used as it is.
        tools.reply(
            &[
                "docker",
                "image",
                "inspect",
                "--format",
                r#"{{ index .Config.Labels "org.nfslab.source" }}"#,
                "nfslab-io:test",
            ],
            CommandOutput::ok("a08c5d73c0358f3c\n"),
        );
        tools.reply(&["bash"], CommandOutput::ok("a08c5d73c0358f3c\n"));
        for image in [
            "registry.k8s.io/build-image/debian-base:bookworm-v1.0.4",
            "registry.k8s.io/build-image/debian-base:bookworm-v1.0.5",
        ] {
            tools.reply(
                &["docker", "image", "inspect", image],
                CommandOutput::ok("[]"),
            );
        }
        let lines = Mutex::new(Vec::new());
        let record = up(
            &host(&f, &tools),
            &config,
            &kind_request(),
            std::future::pending(),
            &|l: &str| lines.lock().expect("lock").push(l.to_owned()),
        )
        .await
        .expect("up");
        assert!(record.created_by_nfslab);
        assert_eq!(record.kubeconfig, f.store.kubeconfig_path("nfslab"));
        assert_eq!(f.store.load("nfslab").expect("load"), Some(record));
        let config_text =
            std::fs::read_to_string(f.store.kind_config_path("nfslab")).expect("kind config");
        assert!(config_text.contains(&config.cluster.node_image));
        let calls = tools.lines();
        let create = calls
            .iter()
            .find(|l| l.starts_with("kind create"))
            .expect("kind create ran");
        assert!(create.contains(&format!(
            "--kubeconfig {}",
            f.store.kubeconfig_path("nfslab").display()
        )));
        for node in ["nfslab-control-plane", "nfslab-worker", "nfslab-worker2"] {
            assert!(calls.contains(&format!("docker exec {node} test -x /sbin/mount.nfs")));
        }
        assert!(calls.contains(&"kind load docker-image nfslab-io:test --name nfslab".to_owned()));
        assert!(
            !calls
                .iter()
                .any(|l| l.starts_with("bash") && !l.ends_with("--source-hash")),
            "image present and current: no build"
        );
        // The node image runs Kubernetes 1.33: its recycler image is preloaded, 1.34's is not.
        assert!(
            calls.contains(
                &"kind load docker-image registry.k8s.io/build-image/debian-base:bookworm-v1.0.4 \
              --name nfslab"
                    .to_owned()
            )
        );
        assert!(!calls.iter().any(|l| l.contains("bookworm-v1.0.5")));
        let progress = lines.into_inner().expect("lines");
        assert!(
            progress
                .iter()
                .any(|l| l.contains("nodes pull them when needed"))
        );
    }

    /// What `nfslab-io kernel` prints for `facts`, made by the producer's own serializer.
    fn kernel_reply(filesystems: &[&str]) -> CommandOutput {
        let facts = nfslab_workload::KernelFacts {
            release: "6.10.14-linuxkit".to_owned(),
            filesystems: filesystems.iter().map(|f| (*f).to_owned()).collect(),
            nfs_modules: Vec::new(),
            modules_readable: false,
        };
        CommandOutput::ok(&serde_json::to_string_pretty(&facts).expect("json"))
    }

    #[tokio::test]
    async fn the_nodes_kernel_is_the_daemons_read_from_a_container() {
        let f = fixture();
        // This machine's kernel (the fixture) has nfs; the daemon's (a VM's) has not.
        let tools = healthy_tools();
        tools.reply(&["docker", "run"], kernel_reply(&["ext4", "overlay"]));
        let err = up_kind(&f, &tools, None).await.expect_err("no NFS client");
        let text = err.to_string();
        assert!(
            text.contains("no NFS client in the Docker daemon's kernel")
                && text.contains("6.10.14-linuxkit"),
            "{text}"
        );
        let calls = tools.lines();
        assert!(
            !calls.iter().any(|l| l.starts_with("kind create")),
            "{calls:?}"
        );
        assert!(calls.iter().any(|l| l.starts_with("docker run --rm --pull never --network none --volume /lib/modules:/lib/modules:ro nfslab-io:") && l.ends_with(" kernel")), "{calls:?}");
        // With nfs registered there, the cluster is made.
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(&["docker", "run"], kernel_reply(&["ext4", "nfs", "nfsd"]));
        up_kind(&f, &tools, None).await.expect("up");
    }

    #[tokio::test]
    async fn rootless_docker_is_refused_before_anything_is_made() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(
            &["docker", "info", "--format", "{{json .SecurityOptions}}"],
            CommandOutput::ok(
                "[\"name=seccomp,profile=builtin\",\"name=rootless\",\"name=cgroupns\"]\n",
            ),
        );
        let err = up_kind(&f, &tools, None).await.expect_err("rootless");
        let text = err.to_string();
        assert!(
            text.contains("the daemon runs rootless") && text.contains("cannot mount NFS"),
            "{text}"
        );
        assert!(!tools.lines().iter().any(|l| l.starts_with("kind create")));
        assert!(!f.store.root().exists(), "nothing recorded");
    }

    #[tokio::test]
    async fn side_loading_falls_back_to_an_archive_and_third_party_images_only_warn() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(&["docker", "run"], kernel_reply(&["nfs", "nfsd"]));
        // `kind load docker-image` fails for every image (Docker's containerd store).
        tools.reply(
            &["kind", "load", "docker-image"],
            CommandOutput::failed(1, "ctr: content digest sha256:abc: not found"),
        );
        tools.reply(
            &["docker", "info", "--format", "{{.Architecture}}"],
            CommandOutput::ok("x86_64\n"),
        );
        tools.reply(&["docker", "save"], CommandOutput::ok(""));
        // One platform's archive loads for nfslab's own image, not for a pulled one.
        tools.reply(
            &["kind", "load", "image-archive"],
            CommandOutput::failed(1, "no"),
        );
        for own in [
            "nfslab-io_test",
            &format!("nfslab-ganesha_{}", env!("CARGO_PKG_VERSION")),
        ] {
            let archive = f
                .store
                .cluster_dir("nfslab")
                .join(format!("nfslab-load-{own}.tar"));
            tools.reply(
                &["kind", "load", "image-archive", &archive.to_string_lossy()],
                CommandOutput::ok(""),
            );
        }
        let mut config = Config::default();
        config.images.nfslab_io = "nfslab-io:test".to_owned();
        tools.reply(
            &["docker", "image", "inspect", "--format"],
            CommandOutput::ok("a08c5d73c0358f3c\n"),
        );
        tools.reply(&["bash"], CommandOutput::ok("a08c5d73c0358f3c\n"));
        let lines = Mutex::new(Vec::new());
        let record = up(
            &host(&f, &tools),
            &config,
            &kind_request(),
            std::future::pending(),
            &|l: &str| lines.lock().expect("lock").push(l.to_owned()),
        )
        .await;
        let progress = lines.into_inner().expect("lines");
        record.expect("a cluster whose own images loaded");
        assert!(
            progress
                .iter()
                .any(|l| l.starts_with("loaded `nfslab-io:test` from an archive of linux/amd64")),
            "{progress:?}"
        );
        let calls = tools.lines();
        assert!(
            calls.iter().any(
                |l| l.starts_with("docker save --platform linux/amd64 --output ")
                    && l.ends_with(" nfslab-io:test")
            ),
            "{calls:?}"
        );
        // Every third-party image failed both ways: each is a warning, not a failure.
        let warned: Vec<&String> = progress
            .iter()
            .filter(|l| l.starts_with("warning: could not side-load `registry.k8s.io/"))
            .collect();
        assert_eq!(
            warned.len(),
            3,
            "kernel server, provisioner, 1.33 recycler: {progress:?}"
        );
        // nfslab's own image failing both ways fails the cluster's set-up, with its leftover.
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(&["docker", "run"], kernel_reply(&["nfs", "nfsd"]));
        tools.reply(
            &["kind", "load"],
            CommandOutput::failed(1, "ctr: content digest not found"),
        );
        tools.reply(&["docker", "save"], CommandOutput::ok(""));
        let err = up_kind(&f, &tools, None).await.expect_err("own image");
        assert!(matches!(err, ClusterSetupError::Image { .. }), "{err}");
        assert!(err.to_string().contains("nfslab cluster down"), "{err}");
    }

    /// `up` where the engine's sources hash to `a08c5d73c0358f3c` (the caller scripts the
    /// image's label to something else) and `build` is what the image build answers.
    /// Returns the outcome and the progress lines.
    async fn up_stale(
        f: &Fixture,
        tools: &ScriptedTools,
        build: CommandOutput,
    ) -> (Result<ClusterRecord, ClusterSetupError>, Vec<String>) {
        tools.reply(&["bash"], build);
        tools.reply(
            &[
                "bash",
                &f.source.join(images::BUILD_SCRIPT).to_string_lossy(),
                "--source-hash",
            ],
            CommandOutput::ok("a08c5d73c0358f3c\n"),
        );
        let lines = Mutex::new(Vec::new());
        let result = up(
            &host(f, tools),
            &Config::default(),
            &kind_request(),
            std::future::pending(),
            &|l: &str| lines.lock().expect("lock").push(l.to_owned()),
        )
        .await;
        (result, lines.into_inner().expect("lines"))
    }

    #[tokio::test]
    async fn an_image_built_from_other_sources_is_rebuilt() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(
            &["docker", "image", "inspect", "--format"],
            CommandOutput::ok("0123456789abcdef\n"),
        );
        let (result, progress) = up_stale(&f, &tools, CommandOutput::ok("nfslab-io:0.1.0\n")).await;
        result.expect("up");
        let calls = tools.lines();
        let script = f.source.join(images::BUILD_SCRIPT);
        assert!(
            calls.contains(&format!("bash {}", script.display())),
            "stale image: built again\n{calls:?}"
        );
        assert!(
            progress
                .iter()
                .any(|l| l.contains("was built from other sources")
                    && l.contains("0123456789abcdef")
                    && l.contains("a08c5d73c0358f3c")),
            "{progress:?}"
        );
        // Where it cannot be rebuilt (no registry for crates, say), the stale image is used
        // with a warning; a missing one would fail the setup.
        let f = fixture();
        let (result, progress) = up_stale(
            &f,
            &tools,
            CommandOutput::failed(101, "error: failed to download"),
        )
        .await;
        result.expect("up with the stale image");
        assert!(
            progress
                .iter()
                .any(|l| l.starts_with("warning: could not rebuild")),
            "{progress:?}"
        );
    }

    #[tokio::test]
    async fn preflight_failures_create_nothing() {
        let f = fixture();
        let tools = ScriptedTools::with(&["docker"]);
        tools.reply(&["docker", "version"], CommandOutput::ok("27.1.1\n"));
        let err = up_kind(&f, &tools, None).await.expect_err("no kind");
        assert_eq!(err.outcome(), Outcome::Environment);
        assert!(err.to_string().contains("kind: not found on PATH"), "{err}");
        assert!(
            !f.store.root().exists(),
            "the state directory was not created"
        );
        assert_eq!(
            tools.lines(),
            [
                "docker version --format {{.Server.Version}}",
                "docker info --format {{json .SecurityOptions}}",
                "docker info --format {{.KernelVersion}}"
            ]
        );
    }

    #[tokio::test]
    async fn nodes_without_mount_helper_fail_and_the_cluster_is_removed() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(
            &["docker", "exec", "nfslab-worker2", "test"],
            CommandOutput::failed(1, ""),
        );
        let err = up_kind(&f, &tools, None).await.expect_err("helper missing");
        let text = err.to_string();
        assert!(
            text.contains("`nfslab-worker2` have no /sbin/mount.nfs"),
            "{text}"
        );
        assert!(!text.contains("left behind"), "{text}");
        assert!(
            tools
                .lines()
                .iter()
                .any(|l| l.starts_with("kind delete cluster --name nfslab"))
        );
        assert_eq!(f.store.load("nfslab").expect("load"), None);
    }

    /// With a debug directory, kind's logs are exported while the failed cluster still
    /// exists, then it is deleted.
    #[tokio::test]
    async fn a_failed_cluster_leaves_its_kind_logs_before_it_is_deleted() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(
            &["docker", "exec", "nfslab-worker2", "test"],
            CommandOutput::failed(1, ""),
        );
        let dir = tempfile::tempdir().expect("tmp");
        let request = UpRequest {
            debug_dir: Some(dir.path().join("debug")),
            ..kind_request()
        };
        let never = std::future::pending::<()>();
        up(
            &host(&f, &tools),
            &Config::default(),
            &request,
            never,
            &silent,
        )
        .await
        .expect_err("helper missing");
        let lines = tools.lines();
        let export = lines
            .iter()
            .position(|l| l.starts_with("kind export logs"))
            .expect("kind export logs ran");
        let delete = lines
            .iter()
            .position(|l| l.starts_with("kind delete cluster --name nfslab"))
            .expect("the cluster was deleted");
        assert!(export < delete, "{lines:?}");
        assert!(dir.path().join("debug").join("failure.txt").is_file());
    }

    #[tokio::test(start_paused = true)]
    async fn interrupting_up_deletes_the_half_made_cluster() {
        let f = fixture();
        let tools = healthy_tools();
        tools.hang(&["kind", "create"]);
        let err = up_kind(&f, &tools, Some(Duration::from_secs(30)))
            .await
            .expect_err("interrupted");
        assert_eq!(err.outcome(), Outcome::Interrupted);
        assert_eq!(
            err.to_string(),
            "interrupted; the half-made cluster was deleted"
        );
        let calls = tools.lines();
        assert!(
            calls
                .last()
                .expect("calls")
                .starts_with("kind delete cluster --name nfslab")
        );
        assert_eq!(f.store.load("nfslab").expect("load"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_whose_cleanup_fails_says_what_is_left_and_how_to_remove_it() {
        let f = fixture();
        let tools = healthy_tools();
        tools.reply(
            &["kind", "delete"],
            CommandOutput::failed(1, "docker: connection refused"),
        );
        tools.hang(&["kind", "create"]);
        let err = up_kind(&f, &tools, Some(Duration::from_secs(30)))
            .await
            .expect_err("interrupted");
        assert_eq!(
            err.to_string(),
            "interrupted; left behind: kind cluster `nfslab` (Docker containers \
             `nfslab-control-plane`, `nfslab-worker`...) (remove it with: kind delete cluster \
             --name nfslab)"
        );
    }

    #[tokio::test]
    async fn down_deletes_only_clusters_nfslab_created() {
        let f = fixture();
        let tools = healthy_tools();
        up_kind(&f, &tools, None).await.expect("up");
        assert_eq!(
            down(&host(&f, &tools), "nfslab").await.expect("down"),
            DownOutcome::Deleted
        );
        assert_eq!(f.store.load("nfslab").expect("load"), None);

        f.store
            .save(&ClusterRecord {
                name: "prod".to_owned(),
                provider: ProviderKind::Existing,
                created_by_nfslab: false,
                kubeconfig: PathBuf::from("/home/u/.kube/config"),
                context: Some("prod".to_owned()),
                node_image: None,
                workers: None,
                recorded_at: crate::errors::now_rfc3339(),
            })
            .expect("save");
        let before = tools.lines().len();
        assert_eq!(
            down(&host(&f, &tools), "prod").await.expect("down"),
            DownOutcome::Forgotten
        );
        assert_eq!(
            tools.lines().len(),
            before,
            "nothing was run against `prod`"
        );

        let foreign = ScriptedTools::with(&["kind"]);
        foreign.reply(&["kind", "get", "clusters"], CommandOutput::ok("mine\n"));
        let err = down(&host(&f, &foreign), "mine")
            .await
            .expect_err("not ours");
        assert!(matches!(err, ClusterSetupError::NotOurs { .. }));
        assert!(!foreign.lines().iter().any(|l| l.contains("delete")));
    }

    #[test]
    fn unknown_clusters_name_the_known_ones() {
        let f = fixture();
        let err = record(&f.store, "lab").expect_err("unknown");
        assert_eq!(err.outcome(), Outcome::BadInput);
        assert!(err.to_string().contains("`nfslab cluster up` creates one"));
    }
}
