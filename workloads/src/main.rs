//! `nfslab-io`: command-line entry of the IO engine. Parses arguments, calls the library,
//! maps outcomes to exit codes (see [`nfslab_workload::exit::ExitCode`]).

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let code = cli::dispatch(args);
    code.into()
}
