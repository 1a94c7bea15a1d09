//! `nfslab doctor`: what this machine has for `nfslab run`, what is missing, and why.

use clap::Args;
use nfslab::Config;
use nfslab::Outcome;
use nfslab::cluster::KernelProbe;
use nfslab::cluster::StateStore;
use nfslab::cluster::SystemTools;
use nfslab::cluster::doctor::{examine, render};
use nfslab::output::{DoctorReport, Format};

use super::errors::CliError;

/// Options of `nfslab doctor`.
#[derive(Debug, Args)]
#[command(after_help = "\
Runs the checks `nfslab run` and `nfslab cluster up` make before creating anything (Docker,
kind and its version, the host kernel's NFS client and nfsd, the API server port, a kind
cluster of the same name nfslab did not create), then notes on the nfslab-io image, kubectl
and nfslab's state directory. Nothing is created or changed.

Paths to an answer that need no kind cluster are listed last: a benchmark of an NFS server
from this machine (`nfslab bench --host --server HOST:/EXPORT`) and a cluster you already
have (`nfslab run --context NAME`).

Exit codes: 0 ready for a kind cluster, 3 something required is missing.")]
pub(crate) struct DoctorArgs {
    /// Check for this in-cluster server flavor (default: nfs.flavor of the configuration);
    /// only `kernel` needs the host's nfsd.
    #[arg(long, value_enum, value_name = "FLAVOR")]
    pub nfs_flavor: Option<super::cluster::FlavorArg>,
    /// Output format.
    #[command(flatten)]
    pub output: super::OutputArgs,
}

/// Runs `nfslab doctor`.
pub(super) fn run(
    args: &DoctorArgs,
    config: &Config,
    kernel: &KernelProbe,
) -> Result<Outcome, CliError> {
    let flavor = args.nfs_flavor.map_or(config.nfs.flavor, Into::into);
    let store = StateStore::from_env().ok();
    let tools = SystemTools::quiet();
    let runtime = super::runtime()?;
    let checks = runtime.block_on(examine(&tools, kernel, store.as_ref(), config, flavor));
    let (text, ready) = render(&checks);
    let format = args.output.format();
    if format != Format::Text {
        let report = DoctorReport::new(&checks);
        super::print_document(&report, format)?;
    } else {
        println!("nfslab doctor: can this machine run `nfslab run` with a kind cluster?\n");
        print!("{text}");
        println!("\nWithout a kind cluster:");
        for a in nfslab::advice::without_kind(&[]) {
            println!("  {}\n      {}", a.command, a.what);
        }
    }
    if ready {
        Ok(Outcome::Success)
    } else {
        Err(CliError::NotReady)
    }
}
