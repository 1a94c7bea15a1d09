//! `nfslab cluster up|down|status|kubeconfig`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use nfslab::Outcome;
use nfslab::cluster::ProviderKind;
use nfslab::cluster::{self, DownOutcome, Provider, UpRequest};
use nfslab::nfs::ServerFlavor;

use super::errors::CliError;
use super::{Context, interrupted, progress};

/// `nfslab cluster ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Create a kind cluster (or adopt yours with --kubeconfig/--context) for nfslab.
    #[command(after_help = "Examples:\n  \
        nfslab cluster up                         # kind: 1 control plane + 2 workers\n  \
        nfslab cluster up --workers 3 --name lab  # another shape and name\n  \
        nfslab cluster up --kubeconfig ~/.kube/config --context staging --name staging\n\n\
        The kubeconfig of a kind cluster is private to nfslab (see `nfslab cluster \
        kubeconfig`); your ~/.kube/config and current context are not changed. Checks run \
        first and list everything missing; nothing is created until they pass. Ctrl-C \
        deletes a half-made cluster.")]
    Up(UpArgs),
    /// Delete the kind cluster nfslab created (clusters it did not create are only
    /// forgotten, never deleted).
    Down(NameArg),
    /// Show what nfslab knows about the cluster and what its nodes report (exit 3 when the
    /// API server does not answer or a node is not ready).
    Status(StatusArgs),
    /// Print the path of the cluster's kubeconfig, e.g. for
    /// `export KUBECONFIG=$(nfslab cluster kubeconfig)`.
    Kubeconfig(NameArg),
}

/// Selects a cluster nfslab knows.
#[derive(Debug, Args)]
pub(crate) struct NameArg {
    /// The cluster's name (default: cluster.name of the configuration).
    #[arg(long, value_parser = super::cluster_name_arg)]
    pub name: Option<String>,
}

/// Options of `nfslab cluster status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The cluster's name (default: cluster.name of the configuration).
    #[arg(long, value_parser = super::cluster_name_arg)]
    pub name: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub output: super::OutputArgs,
}

/// Options of `nfslab cluster up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Name to create (kind) or to remember your cluster by (default: cluster.name, or the
    /// context's name for --kubeconfig/--context).
    #[arg(long, value_parser = super::cluster_name_arg)]
    pub name: Option<String>,
    /// Worker nodes next to the control plane (default: cluster.workers).
    #[arg(long, allow_hyphen_values = true, value_parser = super::workers_arg, conflicts_with_all = ["kubeconfig", "context"])]
    pub workers: Option<u8>,
    /// kind node image (default: cluster.node-image, pinned by digest).
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["kubeconfig", "context"])]
    pub node_image: Option<String>,
    /// The NFS server flavor you will run; `kernel` needs the host's nfsd (default:
    /// nfs.flavor).
    #[arg(long, value_enum)]
    pub nfs_flavor: Option<FlavorArg>,
    /// Use your cluster through this kubeconfig instead of creating one.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Use your cluster through this context instead of creating one.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Build the nfslab-io image even when Docker has it built from this tree (an image
    /// built from other sources, per its org.nfslab.source label, is rebuilt anyway).
    #[arg(long)]
    pub rebuild_image: bool,
    /// Keep a kind cluster whose nodes lack the NFS mount helper, to fix by hand.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Do not install kind when it is not on PATH (by default nfslab downloads the kind
    /// release it pins into its cache directory, checking its SHA-256).
    #[arg(long)]
    pub no_install: bool,
}

/// A server flavor nfslab runs.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum FlavorArg {
    /// The node kernel's nfsd in a privileged pod.
    Kernel,
    /// nfs-ganesha in user space.
    Ganesha,
}

impl From<FlavorArg> for ServerFlavor {
    fn from(f: FlavorArg) -> Self {
        match f {
            FlavorArg::Kernel => Self::Kernel,
            FlavorArg::Ganesha => Self::Ganesha,
        }
    }
}

/// Runs one `cluster` subcommand.
pub(super) async fn run(command: ClusterCommand, ctx: &Context) -> Result<Outcome, CliError> {
    let default_name = |n: Option<String>| n.unwrap_or_else(|| ctx.config.cluster.name.clone());
    match command {
        ClusterCommand::Up(args) => up(args, ctx).await,
        ClusterCommand::Down(a) => {
            let name = default_name(a.name);
            match cluster::down(&ctx.host(), &name).await? {
                DownOutcome::Deleted => println!("deleted kind cluster `{name}`"),
                DownOutcome::Forgotten => {
                    println!("forgot cluster `{name}`; the cluster itself was not touched");
                }
                DownOutcome::NothingKnown => {
                    println!("nfslab knows no cluster `{name}`; nothing to do");
                }
            }
            Ok(Outcome::Success)
        }
        ClusterCommand::Status(a) => {
            let format = a.output.format();
            status(&default_name(a.name), format, ctx).await
        }
        ClusterCommand::Kubeconfig(a) => {
            let record = cluster::record(&ctx.store, &default_name(a.name))?;
            println!("{}", record.kubeconfig.display());
            Ok(Outcome::Success)
        }
    }
}

async fn up(args: UpArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let existing = args.kubeconfig.is_some() || args.context.is_some();
    let name = args.name.clone().unwrap_or_else(|| {
        if existing {
            args.context.as_deref().map_or_else(
                || "existing".to_owned(),
                nfslab::names::cluster_name_from_context,
            )
        } else {
            ctx.config.cluster.name.clone()
        }
    });
    let provider = if existing {
        Provider::Existing {
            kubeconfig: args.kubeconfig,
            context: args.context,
        }
    } else {
        Provider::Kind {
            workers: args.workers,
            node_image: args.node_image,
        }
    };
    let nfs_flavor = args
        .nfs_flavor
        .map_or(ctx.config.nfs.flavor, ServerFlavor::from);
    let request = UpRequest {
        name,
        provider,
        nfs_flavor,
        rebuild_image: args.rebuild_image,
        server_image: nfs_flavor == ServerFlavor::Ganesha,
        install_kind: !args.no_install,
        keep_on_failure: args.keep_on_failure,
        debug_dir: None,
    };
    match cluster::up(&ctx.host(), &ctx.config, &request, interrupted(), &progress).await {
        Ok(record) => {
            println!(
                "cluster `{}` is ready; kubeconfig: {}",
                record.name,
                record.kubeconfig.display()
            );
            if record.provider == ProviderKind::Kind {
                println!(
                    "  use it with kubectl: export KUBECONFIG={}",
                    record.kubeconfig.display()
                );
            }
            println!("  next: nfslab nfs up --name {}", record.name);
            Ok(Outcome::Success)
        }
        Err(e) if nfslab::advice::is_setup_refusal(&e) => Err(CliError::Advised {
            error: Box::new(e.into()),
            advice: nfslab::advice::instead_line(&[]),
        }),
        Err(e) => Err(e.into()),
    }
}

async fn status(
    name: &str,
    format: nfslab::output::Format,
    ctx: &Context,
) -> Result<Outcome, CliError> {
    let status = cluster::status(&ctx.host(), &ctx.config, name).await?;
    let document = nfslab::output::ClusterStatus::from(&status);
    if format != nfslab::output::Format::Text {
        super::print_document(&document, format)?;
        return if document.healthy {
            Ok(Outcome::Success)
        } else {
            Err(CliError::NotReady)
        };
    }
    let r = &status.record;
    println!("cluster:     {}", r.name);
    println!(
        "provider:    {}",
        match r.provider {
            ProviderKind::Kind => "kind (created by nfslab)",
            ProviderKind::Existing => "existing (nfslab never deletes it)",
        }
    );
    println!("kubeconfig:  {}", r.kubeconfig.display());
    if let Some(c) = &r.context {
        println!("context:     {c}");
    }
    if let Some(image) = &r.node_image {
        println!("node image:  {image}");
    }
    match (&status.version, &status.unreachable) {
        (Some(v), _) => println!("kubernetes:  {v}"),
        (None, Some(why)) => {
            println!("api server:  not answering: {why}");
            return Err(CliError::NotReady);
        }
        (None, None) => {}
    }
    let mut healthy = true;
    for node in &status.nodes {
        let helper = match node.mount_helper {
            Some(true) => ", mount.nfs present",
            Some(false) => {
                healthy = false;
                ", NO /sbin/mount.nfs (NFS mounts will fail here)"
            }
            None => "",
        };
        healthy &= node.ready;
        println!(
            "node:        {} ({}{}{helper})",
            node.name,
            if node.ready { "Ready" } else { "NotReady" },
            if node.control_plane {
                ", control plane"
            } else {
                ""
            }
        );
    }
    if healthy {
        Ok(Outcome::Success)
    } else {
        Err(CliError::NotReady)
    }
}
