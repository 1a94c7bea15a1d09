//! `nfslab`: command-line entry; parses arguments and calls the library.
//!
//! `nfslab io ...` is the IO engine's own command line (`nfslab-io ...`), built in: it is
//! handed to [`nfslab_workload::main_with`] before nfslab parses anything, so the
//! engine's flags, help and exit codes are exactly those of `nfslab-io`. Every other
//! command's failure is printed and mapped to its exit code by [`cli::errors`].

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == cli::ENGINE_SUBCOMMAND) {
        let engine_args =
            std::iter::once(std::ffi::OsString::from("nfslab io")).chain(args.into_iter().skip(2));
        return nfslab_workload::main_with(engine_args, "nfslab io");
    }
    let result = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli::run(cli),
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
            Err(cli::errors::CliError::Usage(cli::one_line_usage_error(
                &e.render().to_string(),
            )))
        }
    };
    cli::errors::exit(result)
}
