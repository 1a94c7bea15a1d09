//! Command-line definitions. Option structs only parse; each subcommand turns them into
//! library calls, so the engine never sees clap.

pub mod scenarios;

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
    /// List, show, validate and run the scenario catalog.
    Scenarios(scenarios::ScenariosArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scenarios_run_parses_ids_and_options() {
        let cli = Cli::try_parse_from([
            "nfslab",
            "scenarios",
            "--scenarios",
            "dir",
            "run",
            "s1",
            "s2",
            "--dry-run",
            "--render-to",
            "out",
        ])
        .expect("parses");
        let Command::Scenarios(args) = cli.command else {
            panic!("scenarios");
        };
        assert_eq!(args.catalog, Some(PathBuf::from("dir")));
        let scenarios::ScenariosCommand::Run(run) = args.command else {
            panic!("run");
        };
        assert_eq!(run.scenarios, vec!["s1", "s2"]);
        assert!(run.dry_run);
        assert!(
            Cli::try_parse_from(["nfslab", "scenarios", "run", "--render-to", "x"]).is_err(),
            "--render-to needs --dry-run"
        );
        assert!(Cli::try_parse_from(["nfslab", "scenarios", "run", "--parallel", "0"]).is_err());
    }
}
