//! `nfslab clean`: remove leftovers of earlier runs.

use clap::Args;
use nfslab::Outcome;
use nfslab::cluster;
use nfslab::k8s::clean::{self, Scope};
use nfslab::k8s::ownership::RunId;

use super::errors::CliError;
use super::{Context, TargetArgs};

/// Options of `nfslab clean`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    nfslab clean --dry-run                       # list what earlier runs left\n  \
    nfslab clean --run 20261123-144302-a1b2c3    # remove one run's objects\n  \
    nfslab clean --all                           # everything, the NFS server included")]
pub(crate) struct CleanArgs {
    /// Only this run's objects (the id in reports and in the label nfslab.io/run-id).
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    pub run: Option<String>,
    /// Also remove what belongs to no run (the NFS server).
    #[arg(long)]
    pub all: bool,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The cluster.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Finds and (unless `--dry-run`) removes nfslab's leftovers; exits 3 when some stay.
pub(super) async fn run(args: CleanArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let scope = match (&args.run, args.all) {
        (Some(id), _) => match RunId::parse(id) {
            Some(run) => Scope::Run(run),
            None => {
                return Err(CliError::BadInput(format!(
                    "--run `{id}` is not a run id (hint: lowercase letters, digits and `-`, \
                     e.g. 20261123-144302-a1b2c3)"
                )));
            }
        },
        (None, true) => Scope::Everything,
        (None, false) => Scope::AllRuns,
    };
    let cluster =
        cluster::connect(&ctx.store, &args.target.target(&ctx.config), &ctx.config).await?;
    let report_ = clean::clean(&cluster, &scope, ctx.config.timeouts.cleanup, args.dry_run).await?;
    if report_.found.is_empty() {
        println!("nothing of nfslab's found (selector {})", scope.selector());
        return Ok(Outcome::Success);
    }
    if args.dry_run {
        for object in &report_.found {
            println!("would remove {object}");
        }
        return Ok(Outcome::Success);
    }
    for object in &report_.removed {
        println!("removed {object}");
    }
    for left in &report_.left {
        println!("LEFT    {}: {}", left.object, left.reason);
    }
    if report_.left.is_empty() {
        Ok(Outcome::Success)
    } else {
        Err(CliError::Environment(format!(
            "{} object(s) could not be removed; see the reasons above, fix them and run \
             `nfslab clean` again",
            report_.left.len()
        )))
    }
}
