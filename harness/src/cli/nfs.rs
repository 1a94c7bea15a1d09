//! `nfslab nfs up|down|status`.

use clap::{Args, Subcommand};
use nfslab::cluster;
use nfslab::exit::Outcome;
use nfslab::k8s::kube_cluster::KubeCluster;
use nfslab::nfs::NfsServer;
use nfslab::nfs::server::{self, ServerSpec};

use super::cluster::FlavorArg;
use super::{Context, TargetArgs, interrupted, progress, report};

/// `nfslab nfs ...`
#[derive(Debug, Subcommand)]
pub(crate) enum NfsCommand {
    /// Deploy the NFS server and wait until a real client can write to its export.
    #[command(after_help = "Examples:\n  \
        nfslab nfs up                      # kernel nfsd (needs the host's nfsd module)\n  \
        nfslab nfs up --flavor ganesha     # userspace nfs-ganesha\n  \
        nfslab nfs up --node lab-worker2   # pin the server (and its data) to a node\n\n\
        The export is SERVER:/exports for NFSv3 and NFSv4.x alike; SERVER is the Service's \
        cluster IP, which nodes can reach and which survives server restarts.")]
    Up(UpArgs),
    /// Remove the NFS server's objects (the exported files stay on the node).
    Down(TargetOnly),
    /// Show the server's address, export and readiness (exit 3 when it is not ready).
    Status(StatusArgs),
}

/// Options of `nfslab nfs up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Server flavor (default: nfs.flavor).
    #[arg(long, value_enum)]
    pub flavor: Option<FlavorArg>,
    /// Node to run the server on (default: nfs.node, else the first Ready worker).
    #[arg(long, value_parser = super::node_name_arg)]
    pub node: Option<String>,
    /// The cluster.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Options of `nfslab nfs status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The cluster.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[command(flatten)]
    pub output: super::OutputArgs,
}

/// Options of commands that only need the cluster.
#[derive(Debug, Args)]
pub(crate) struct TargetOnly {
    /// The cluster.
    #[command(flatten)]
    pub target: TargetArgs,
}

async fn connect(target: &TargetArgs, ctx: &Context) -> Result<KubeCluster, Outcome> {
    cluster::connect(&ctx.store, &target.target(&ctx.config), &ctx.config)
        .await
        .map_err(|e| {
            report(&e);
            e.outcome()
        })
}

fn print_server(server: &NfsServer) {
    println!("server:  {}:{}", server.address, server.export);
    println!("flavor:  {:?}", server.flavor);
    if let Some(files) = &server.files {
        println!(
            "files:   {} container `{}` at {}",
            files.pod, files.container, files.root
        );
    }
}

/// Runs one `nfs` subcommand.
pub(super) async fn run(command: NfsCommand, ctx: &Context) -> Outcome {
    let namespace = ctx.config.nfs.namespace.clone();
    match command {
        NfsCommand::Up(args) => {
            let cluster = match connect(&args.target, ctx).await {
                Ok(c) => c,
                Err(o) => return o,
            };
            let configured = args.node.unwrap_or_else(|| ctx.config.nfs.node.clone());
            let node = match server::choose_node(&cluster, &configured).await {
                Ok(n) => n,
                Err(e) => {
                    report(&e);
                    return Outcome::Environment;
                }
            };
            let spec = ServerSpec::from_config(&ctx.config, args.flavor.map(Into::into), &node);
            tokio::select! {
                result = server::up(&cluster, &spec, &ctx.config.timeouts, &progress) => match result {
                    Ok(ready) => {
                        print_server(&ready.server);
                        println!("clients: {}", server::describe_checked(&ready.mounts));
                        Outcome::Success
                    }
                    Err(e) => {
                        report(&e);
                        eprintln!(
                            "the server's objects are still there for inspection; remove them \
                             with: nfslab nfs down"
                        );
                        Outcome::Environment
                    }
                },
                () = interrupted() => {
                    progress("interrupted: removing the NFS server's objects");
                    match server::down(&cluster, &namespace, &ctx.config.timeouts).await {
                        Ok(_) => eprintln!("interrupted; the NFS server's objects were removed"),
                        Err(e) => {
                            report(&e);
                            eprintln!(
                                "interrupted; left behind: namespace `{namespace}` (remove it \
                                 with: nfslab nfs down)"
                            );
                        }
                    }
                    Outcome::Interrupted
                }
            }
        }
        NfsCommand::Down(args) => {
            let cluster = match connect(&args.target, ctx).await {
                Ok(c) => c,
                Err(o) => return o,
            };
            match server::down(&cluster, &namespace, &ctx.config.timeouts).await {
                Ok(true) => {
                    println!(
                        "removed the NFS server (namespace `{namespace}`); its files stay in \
                         {} on its node",
                        ctx.config.nfs.host_path
                    );
                    Outcome::Success
                }
                Ok(false) => {
                    println!("no NFS server in namespace `{namespace}`; nothing to do");
                    Outcome::Success
                }
                Err(e) => {
                    report(&e);
                    Outcome::Environment
                }
            }
        }
        NfsCommand::Status(args) => {
            let cluster = match connect(&args.target, ctx).await {
                Ok(c) => c,
                Err(o) => return o,
            };
            match server::status(&cluster, &namespace).await {
                Ok(status) if args.output.format() != nfslab::output::Format::Text => {
                    let document = nfslab::output::NfsStatus::from(&status);
                    match super::print_document(&document, args.output.format()) {
                        Ok(_) if document.ready => Outcome::Success,
                        Ok(_) => Outcome::Environment,
                        Err(outcome) => outcome,
                    }
                }
                Ok(status) => {
                    print_server(&status.server);
                    if let Some(node) = &status.node {
                        println!("node:    {node}");
                    }
                    println!("ready:   {}", if status.ready { "yes" } else { "no" });
                    if let Some(why) = &status.diagnosis {
                        println!("why:     {why}");
                    }
                    if status.ready {
                        Outcome::Success
                    } else {
                        Outcome::Environment
                    }
                }
                Err(e) => {
                    report(&e);
                    Outcome::Environment
                }
            }
        }
    }
}
