//! Command-line definitions. Option structs only parse; each subcommand turns them into
//! library calls, so the engine never sees clap.

pub mod bench;
pub mod compare;
pub mod report;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// End-to-end tests and benchmarks for Kubernetes storage on NFS.
///
/// nfslab starts a kind cluster (or uses yours) with an NFS server inside, replays the
/// documented PV/PVC scenarios, benchmarks NFS mount options from pods, and writes reports
/// that compare NAS/NFS configurations.
#[derive(Debug, Parser)]
#[command(name = "nfslab", version, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Tunables file overriding the defaults (see `nfslab config show`).
    #[arg(long, global = true, env = "NFSLAB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More detail on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the effective configuration (defaults with comments, or your file merged).
    Config,
    /// Benchmark NFS mount options from pods (the matrix in a plan) and write the reports.
    Bench(bench::BenchArgs),
    /// Re-render the summary and reports of a benchmark run from its JSON files.
    Report(report::ReportArgs),
    /// Compare two benchmark runs; exit 1 when a figure regressed beyond the threshold.
    Compare(compare::CompareArgs),
}
