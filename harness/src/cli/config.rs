//! `nfslab config`: show the effective configuration.

use clap::Args;
use nfslab::Outcome;
use nfslab::{Config, DEFAULT_CONFIG_YAML};

use super::errors::CliError;

/// Options of `nfslab config`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    nfslab config --defaults > my.yaml   # every tunable with its meaning; edit what you need\n  \
    nfslab --config my.yaml config       # what nfslab will use with your file")]
pub(crate) struct ConfigArgs {
    /// Print the commented defaults instead of the effective values.
    #[arg(long)]
    pub defaults: bool,
}

/// Prints the defaults (with comments) or the effective configuration.
pub(super) fn run(
    args: &ConfigArgs,
    user_file: bool,
    config: &Config,
) -> Result<Outcome, CliError> {
    if args.defaults || !user_file {
        print!("{DEFAULT_CONFIG_YAML}");
    } else {
        print!("{}", config.to_yaml());
    }
    Ok(Outcome::Success)
}
