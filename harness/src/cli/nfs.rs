//! `nfslab nfs up|down|status`.

use clap::{Args, Subcommand};
use nfslab::Outcome;
use nfslab::cluster;
use nfslab::k8s::KubeCluster;
use nfslab::nfs::NfsServer;
use nfslab::nfs::server::{self, ServerSpec};

use super::cluster::FlavorArg;
use super::errors::CliError;
use super::{Context, TargetArgs, interrupted, progress};

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

async fn connect(target: &TargetArgs, ctx: &Context) -> Result<KubeCluster, CliError> {
    Ok(cluster::connect(&ctx.store, &target.target(&ctx.config), &ctx.config).await?)
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
pub(super) async fn run(command: NfsCommand, ctx: &Context) -> Result<Outcome, CliError> {
    let namespace = ctx.config.nfs.namespace.clone();
    match command {
        NfsCommand::Up(args) => {
            let cluster = connect(&args.target, ctx).await?;
            let configured = args.node.unwrap_or_else(|| ctx.config.nfs.node.clone());
            let node = server::choose_node(&cluster, &configured).await?;
            let spec = ServerSpec::from_config(&ctx.config, args.flavor.map(Into::into), &node);
            tokio::select! {
                result = server::up(&cluster, &spec, &ctx.config.timeouts, &progress) => match result {
                    Ok(ready) => {
                        print_server(&ready.server);
                        println!("clients: {}", server::describe_checked(&ready.mounts));
                        Ok(Outcome::Success)
                    }
                    Err(e) => Err(CliError::Advised {
                        error: Box::new(e.into()),
                        advice: "the server's objects are still there for inspection; remove \
                                 them with: nfslab nfs down"
                            .to_owned(),
                    }),
                },
                () = interrupted() => {
                    progress("interrupted: removing the NFS server's objects");
                    match server::down(&cluster, &namespace, &ctx.config.timeouts).await {
                        Ok(_) => eprintln!("interrupted; the NFS server's objects were removed"),
                        Err(e) => {
                            CliError::from(e).print();
                            eprintln!(
                                "interrupted; left behind: namespace `{namespace}` (remove it \
                                 with: nfslab nfs down)"
                            );
                        }
                    }
                    Ok(Outcome::Interrupted)
                }
            }
        }
        NfsCommand::Down(args) => {
            let cluster = connect(&args.target, ctx).await?;
            if server::down(&cluster, &namespace, &ctx.config.timeouts).await? {
                println!(
                    "removed the NFS server (namespace `{namespace}`); its files stay in {} on \
                     its node",
                    ctx.config.nfs.host_path
                );
            } else {
                println!("no NFS server in namespace `{namespace}`; nothing to do");
            }
            Ok(Outcome::Success)
        }
        NfsCommand::Status(args) => {
            let cluster = connect(&args.target, ctx).await?;
            let status = server::status(&cluster, &namespace).await?;
            let ready = if args.output.format() == nfslab::output::Format::Text {
                print_server(&status.server);
                if let Some(node) = &status.node {
                    println!("node:    {node}");
                }
                println!("ready:   {}", if status.ready { "yes" } else { "no" });
                if let Some(why) = &status.diagnosis {
                    println!("why:     {why}");
                }
                status.ready
            } else {
                let document = nfslab::output::NfsStatus::from(&status);
                super::print_document(&document, args.output.format())?;
                document.ready
            };
            if ready {
                Ok(Outcome::Success)
            } else {
                Err(CliError::NotReady)
            }
        }
    }
}
