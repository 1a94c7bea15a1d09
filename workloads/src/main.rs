//! `nfslab-io`: command-line entry of the IO engine. Parses arguments, calls the library,
//! maps outcomes to exit codes (see [`nfslab_workload::exit::ExitCode`]).

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // Bad flags: one line naming the flag and the value (clap's first line).
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            return nfslab_workload::exit::ExitCode::BadInput.into();
        }
    };
    cli::dispatch(args).into()
}
