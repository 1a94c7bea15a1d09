//! `nfslab render cluster-config|nfs-server|provisioner`: YAML without a cluster.

use clap::{Args, Subcommand};
use nfslab::Config;
use nfslab::Outcome;
use nfslab::k8s::ownership::RunId;
use nfslab::render;

use super::cluster::FlavorArg;
use super::errors::CliError;

/// `nfslab render ...`
#[derive(Debug, Subcommand)]
#[command(after_help = "Examples:\n  \
    nfslab render nfs-server --flavor ganesha | kubectl apply --dry-run=server -f -\n  \
    nfslab render provisioner --server 10.96.0.20 > provisioner.yaml")]
pub(crate) enum RenderCommand {
    /// The kind configuration `nfslab cluster up` uses (not a Kubernetes object).
    ClusterConfig,
    /// The NFS server's objects.
    NfsServer(NfsServerArgs),
    /// The client pod `nfslab nfs up` runs to prove the export works (apply it yourself to
    /// test mounting from a node).
    NfsClientCheck(ClientCheckArgs),
    /// The nfs-subdir-external-provisioner objects a scenario applies.
    Provisioner(ProvisionerArgs),
    /// What the preflight of an existing cluster creates (a probe namespace, image pull
    /// probes) or sends as server-side dry runs (a scenario pod, a hostPath pod, the NFS
    /// server pod, the PV controller's recycler pod).
    Preflight(PreflightArgs),
}

/// Options of `nfslab render preflight`.
#[derive(Debug, Args)]
pub(crate) struct PreflightArgs {
    /// Server flavor (default: nfs.flavor).
    #[arg(long, value_enum)]
    pub flavor: Option<FlavorArg>,
    /// Kubernetes minor version whose recycler image to use.
    #[arg(long, default_value = "1.33", value_name = "MAJOR.MINOR")]
    pub kubernetes: String,
}

/// Options of `nfslab render nfs-client-check`.
#[derive(Debug, Args)]
pub(crate) struct ClientCheckArgs {
    /// NFS server address (an IP).
    #[arg(long, default_value = "10.96.0.20")]
    pub server: String,
}

/// Options of `nfslab render nfs-server`.
#[derive(Debug, Args)]
pub(crate) struct NfsServerArgs {
    /// Server flavor (default: nfs.flavor).
    #[arg(long, value_enum)]
    pub flavor: Option<FlavorArg>,
}

/// Options of `nfslab render provisioner`.
#[derive(Debug, Args)]
pub(crate) struct ProvisionerArgs {
    /// Namespace for the provisioner.
    #[arg(long, default_value = "nfslab-provisioner", value_parser = super::namespace_arg)]
    pub namespace: String,
    /// NFS server address (an IP).
    #[arg(long, default_value = "10.96.0.20")]
    pub server: String,
    /// Exported directory holding the volumes.
    #[arg(long, default_value = "/exports")]
    pub path: String,
    /// Run id whose prefix names the cluster-scoped objects.
    #[arg(long, default_value = "20260101-000000-000000")]
    pub run_id: String,
}

/// Prints the requested YAML.
pub(super) fn run(command: &RenderCommand, config: &Config) -> Result<Outcome, CliError> {
    match command {
        RenderCommand::ClusterConfig => print!("{}", render::cluster_config(config)),
        RenderCommand::NfsServer(args) => {
            let docs = render::nfs_server(config, args.flavor.map(Into::into));
            print!("{}", render::yaml_documents(&docs));
        }
        RenderCommand::NfsClientCheck(args) => {
            print!(
                "{}",
                render::yaml_documents(&render::nfs_client_check(config, &args.server))
            );
        }
        RenderCommand::Preflight(args) => {
            if !config.images.recycler.contains_key(&args.kubernetes) {
                let known: Vec<&str> = config.images.recycler.keys().map(String::as_str).collect();
                return Err(CliError::BadInput(format!(
                    "--kubernetes `{}` has no recycler image (hint: images.recycler in the \
                     configuration knows {})",
                    args.kubernetes,
                    known.join(", ")
                )));
            }
            let docs = render::preflight(config, args.flavor.map(Into::into), &args.kubernetes);
            print!("{}", render::yaml_documents(&docs));
        }
        RenderCommand::Provisioner(args) => {
            let Some(run) = RunId::parse(&args.run_id) else {
                return Err(CliError::BadInput(format!(
                    "--run-id `{}` is not a run id (hint: lowercase letters, digits and `-`, \
                     e.g. 20260101-000000-a1b2c3)",
                    args.run_id
                )));
            };
            let docs = render::provisioner(config, &run, &args.namespace, &args.server, &args.path);
            print!("{}", render::yaml_documents(&docs));
        }
    }
    Ok(Outcome::Success)
}
