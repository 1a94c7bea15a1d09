//! `nfslab-io`: command-line entry of the IO engine. The library parses the arguments, runs
//! the command and maps outcomes to exit codes (see [`nfslab_workload::main_with`] and
//! [`nfslab_workload::ExitCode`]); the harness runs the same entry as `nfslab io`.

fn main() -> std::process::ExitCode {
    nfslab_workload::main_with(std::env::args_os(), "nfslab-io")
}
