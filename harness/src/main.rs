//! `nfslab`: command-line entry; parses arguments and calls the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use nfslab::config::DEFAULT_CONFIG_YAML;
use nfslab::exit::Outcome;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Config => {
            print!("{DEFAULT_CONFIG_YAML}");
            Outcome::Success.into()
        }
        cli::Command::Bench(args) => {
            cli::bench::run(&args, nfslab::config::Config::default()).into()
        }
        cli::Command::Report(args) => cli::report::run(&args).into(),
        cli::Command::Compare(args) => cli::compare::run(&args).into(),
    }
}
