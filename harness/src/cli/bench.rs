//! `nfslab bench`: options and dispatch (the cluster runner, or `--host` for the host
//! runner of [`nfslab::bench::host`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use nfslab::bench::environment::{EnvironmentRequest, bring_up_bench_environment};
use nfslab::bench::error_chain;
use nfslab::bench::host::clients::find_engine;
use nfslab::bench::host::mount::{self, MountSupport};
use nfslab::bench::host::{DEFAULT_CONNECT_TIMEOUT, HostError, HostOptions, run_host_bench};
use nfslab::bench::manifests::{PLACEHOLDER_ADDRESS, render_plan};
use nfslab::bench::matrix::AccessPath;
use nfslab::bench::matrix::Matrix;
use nfslab::bench::plan::{DEFAULT_PLAN_PATH, Overrides, Plan, builtin_plan, load_plan};
use nfslab::bench::progress::BarProgress;
use nfslab::bench::runner::{BenchError, BenchOutcome, RunnerOptions, run_bench};
use nfslab::config::Config;
use nfslab::exit::Outcome;
use nfslab::k8s::ownership::RunId;

const EXAMPLES: &str = "\
Examples:
  # the default plan (workloads/plans/default.yaml) against the in-cluster server
  nfslab bench

  # check a plan and print every manifest it would apply, without a cluster
  nfslab bench --dry-run
  nfslab bench --plan my-plan.yaml --dry-run --output manifests/

  # two profiles, one workload, 5 repetitions, 1 and 4 client pods
  nfslab bench --profiles doc-v3,doc-v4.1 --workloads seq-read-1m --repetitions 5 --clients 1,4

  # your NAS instead of the in-cluster server (or both: --servers in-cluster,nas)
  nfslab bench --server 192.168.1.20:/vol1
  nfslab bench --server nas=192.168.1.20:/vol1 --servers in-cluster,nas

  # from this host, no Kubernetes: every cell through the user-space NFSv3 client, and
  # through a kernel mount too when the host can mount (root, kernel NFS, mount.nfs)
  nfslab bench --host --server 192.168.1.20:/vol1
  nfslab bench --host --server nas=192.168.1.20:/vol1 --server lab=10.0.0.7:/export \
      --profiles doc-v3,v4.1-nconnect4 --workloads seq-read-1m,rand-read-4k --repetitions 5
  nfslab bench --host --no-mount --server 10.0.0.7:/export --connect-timeout 5s

What a run does: for every cell (server x workload x profile x clients) and repetition it
creates a PV carrying the profile's mountOptions, a PVC and the client pods (spread over
nodes), lays the files out, starts every client at once, collects each pod's JSON result,
the effective mount options and the kernel's RPC statistics, and deletes it all before the
next. Results go to results/<run-id>/ as they come (plan, raw JSON per pod, summary.json,
summary.csv, report.md, report.html). Ctrl-C stops cleanly and keeps what was measured;
`nfslab report DIR` re-renders the reports, `nfslab compare OLD NEW` compares two runs.

With --host, clients are nfslab-io processes on this machine (--engine, else NFSLAB_IO,
else the one next to nfslab, else PATH). Protocol cells (ids ending in /protocol) map each
profile's options to the user-space client (rsize, wsize, nconnect, hard/soft, timeo,
retrans, ac/noac/actimeo, sync...) and list the others as not applicable (vers=4.x: the
client speaks NFSv3). Mount cells mount the export per repetition with the profile's options
and always unmount; when the host cannot mount, one line says why and only protocol cells
run. With both, the report shows the mount efficiency (mount / protocol) per cell. Each
repetition works in <export>/nfslab-bench/<run-id>/ and removes its files afterwards
(--keep-files keeps them). A server that does not answer within --connect-timeout stops the
run before anything is measured.

Profiles live in the plan and in profiles.yaml next to it: add your own there. Bad options
(rsize=1M, hard+soft, unknown keys) are reported with file:line:column before anything is
created.

Exit codes: 0 every repetition measured, 1 some repetitions failed, 2 bad plan or flags,
3 environment (cluster, server), 130 interrupted.";

/// Benchmark NFS mount options from pods (the matrix in a plan) and write the reports.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct BenchArgs {
    /// Benchmark plan (default: workloads/plans/default.yaml when present, else the copy
    /// built into nfslab).
    #[arg(long, value_name = "FILE", help_heading = "Plan")]
    pub plan: Option<PathBuf>,
    /// Only these profiles (comma-separated names defined in the plan or its profile files).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        help_heading = "Plan"
    )]
    pub profiles: Option<Vec<String>>,
    /// Only these workloads.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        help_heading = "Plan"
    )]
    pub workloads: Option<Vec<String>>,
    /// Only these servers.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        help_heading = "Plan"
    )]
    pub servers: Option<Vec<String>>,
    /// Benchmark an NFS server outside the cluster: `host:/export` or `NAME=host:/export`
    /// (repeatable). Without --servers, only the servers given here run.
    #[arg(long = "server", value_name = "HOST:/EXPORT", help_heading = "Plan")]
    pub external: Vec<String>,
    /// Repetitions of every cell (default: the plan's, usually 3).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::repetitions_arg, help_heading = "Plan")]
    pub repetitions: Option<u32>,
    /// Client pods per cell, a list adds cells (`1,4`).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        allow_hyphen_values = true,
        value_parser = super::clients_arg,
        help_heading = "Plan"
    )]
    pub clients: Option<Vec<u32>>,
    /// Check the plan and print every manifest a run would apply; no cluster needed.
    #[arg(long, help_heading = "Mode")]
    pub dry_run: bool,
    /// Run from this host against the servers given with --server, without Kubernetes:
    /// through the user-space NFSv3 client, and through a kernel mount when the host can.
    #[arg(long, conflicts_with = "dry_run", help_heading = "Host")]
    pub host: bool,
    /// With --host: only protocol cells, even when the host could mount.
    #[arg(long, requires = "host", help_heading = "Host")]
    pub no_mount: bool,
    /// With --host: longest wait for a server at each setup step (portmapper, MOUNT, NFS).
    #[arg(
        long,
        value_name = "DURATION",
        requires = "host",
        allow_hyphen_values = true,
        value_parser = super::short_duration_arg,
        help_heading = "Host"
    )]
    pub connect_timeout: Option<Duration>,
    /// With --host: the nfslab-io binary the clients run (default: $NFSLAB_IO, then the one
    /// next to nfslab, then PATH).
    #[arg(long, value_name = "PATH", requires = "host", help_heading = "Host")]
    pub engine: Option<PathBuf>,
    /// With --host: keep every repetition's files on the servers (in
    /// nfslab-bench/<run-id>/).
    #[arg(long, requires = "host", help_heading = "Host")]
    pub keep_files: bool,
    /// With --dry-run: write one YAML file per step into this directory instead of stdout.
    #[arg(long, value_name = "DIR", requires = "dry_run", help_heading = "Mode")]
    pub output: Option<PathBuf>,
    /// Where run directories are created.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "results",
        help_heading = "Results"
    )]
    pub results: PathBuf,
    /// Run id (lowercase letters, digits and `-`; default: time and a random suffix).
    #[arg(long, value_name = "ID", help_heading = "Results")]
    pub run_id: Option<String>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: super::ClusterSelection,
}

/// The plan at `path`, else the default plan of the source tree, else the built-in copy.
pub(super) fn plan_or_default(path: Option<&Path>) -> Result<Plan, String> {
    match path {
        Some(path) => load_plan(path),
        None if Path::new(DEFAULT_PLAN_PATH).is_file() => load_plan(Path::new(DEFAULT_PLAN_PATH)),
        None => builtin_plan(),
    }
    .map_err(|e| error_chain(&e))
}

/// Prints a finished run (directory and files on stdout, failures on stderr) and returns
/// its exit code.
fn conclude<E: std::error::Error>(
    result: Result<BenchOutcome, E>,
    outcome_of: impl Fn(&E) -> Outcome,
) -> Outcome {
    match result {
        Ok(outcome) => {
            println!("{}", outcome.dir.display());
            for f in &outcome.files {
                println!("{}", f.display());
            }
            if outcome.failed_steps > 0 {
                eprintln!(
                    "{} repetition(s) failed; see the Failures section of the report",
                    outcome.failed_steps
                );
            }
            outcome.outcome()
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            outcome_of(&e)
        }
    }
}

fn load(args: &BenchArgs) -> Result<Plan, String> {
    let plan = plan_or_default(args.plan.as_deref())?;
    plan.apply(&Overrides {
        servers: args.servers.clone(),
        profiles: args.profiles.clone(),
        workloads: args.workloads.clone(),
        external: args.external.clone(),
        repetitions: args.repetitions,
        clients: args.clients.clone(),
    })
    .map_err(|e| error_chain(&e))
}

/// `n` and the noun in the number it takes: `1 server`, `2 servers`.
fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n: u64 = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The plan's matrix in words: `1 server x 2 workloads x ... = 4 cells, 1 repetition each:
/// 4 steps, 4 client pods`, with the access paths after the client counts when given.
fn plan_size(plan: &Plan, matrix: &Matrix, access: Option<&str>, client: (&str, &str)) -> String {
    let cells = matrix.cells.len() as u64;
    let access = access.map_or_else(String::new, |a| format!(" x {a}"));
    format!(
        "{} x {} x {} x {}{access} = {}, {} each: {}, {}",
        counted(plan.selected_servers.len() as u64, "server", "servers"),
        counted(
            plan.selected_workloads.len() as u64,
            "workload",
            "workloads"
        ),
        counted(plan.selected_profiles.len() as u64, "profile", "profiles"),
        counted(plan.clients.len() as u64, "client count", "client counts"),
        counted(cells, "cell", "cells"),
        counted(plan.repetitions, "repetition", "repetitions"),
        counted(cells * u64::from(plan.repetitions), "step", "steps"),
        counted(matrix.pod_count(), client.0, client.1)
    )
}

fn describe(plan: &Plan, measured: Option<Duration>) -> String {
    let m = Matrix::expand(plan);
    let time = measured.map_or_else(String::new, |d| {
        format!(
            ", at least {} of measurement",
            humantime::format_duration(d)
        )
    });
    format!(
        "plan `{}`: {}{time}",
        plan.name,
        plan_size(plan, &m, None, ("client pod", "client pods"))
    )
}

/// Runs `nfslab bench`.
pub fn run(args: &BenchArgs, mut config: Config) -> Outcome {
    let plan = match load(args) {
        Ok(p) => p,
        Err(line) => {
            eprintln!("error: {line}");
            return Outcome::BadInput;
        }
    };
    let checked = super::check_output_dir("--results", &args.results).and_then(|()| {
        args.output
            .as_deref()
            .map_or(Ok(()), |dir| super::check_output_dir("--output", dir))
    });
    if let Err(line) = checked {
        eprintln!("error: {line}");
        return Outcome::BadInput;
    }
    for w in &plan.active_warnings() {
        eprintln!("warning: {w}");
    }
    let run_id = match super::run_id(args.run_id.as_deref()) {
        Ok(id) => id,
        Err(message) => {
            eprintln!("error: {message}");
            return Outcome::BadInput;
        }
    };
    if args.dry_run {
        return dry_run(args, &plan, &run_id);
    }
    if args.host {
        return host_run(args, &plan, run_id);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Environment;
        }
    };
    eprintln!("{}", describe(&plan, render_plan(&plan, &run_id).measured));
    let choice = args.cluster.apply(&mut config);
    runtime.block_on(async {
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: cleaning up and writing the report of what was measured (Ctrl-C again to quit at once)");
                let _ = cancel_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(Outcome::Interrupted.code()));
                }
            }
        });
        let request = EnvironmentRequest {
            cluster: choice,
            flavors: plan.in_cluster_flavors(),
            image: plan.image.clone(),
            config: config.clone(),
        };
        let mut stop = cancel_rx.clone();
        let interrupt = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let progress = |line: &str| eprintln!("nfslab: {line}");
        let prepared = match bring_up_bench_environment(&request, interrupt, &progress).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                return e.outcome();
            }
        };
        let options = RunnerOptions {
            run_id,
            results_parent: args.results.clone(),
            dir_name: None,
            timeouts: config.timeouts.clone(),
        };
        let bar = BarProgress::stderr();
        let outcome = conclude(
            run_bench(&plan, &prepared.target, &options, &bar, cancel_rx).await,
            BenchError::outcome,
        );
        match prepared.tear_down(&options.run_id, &progress).await {
            Ok(()) => outcome,
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                if outcome == Outcome::Success {
                    Outcome::Environment
                } else {
                    outcome
                }
            }
        }
    })
}

/// `nfslab bench --host`: the plan from this host against its external servers.
fn host_run(args: &BenchArgs, plan: &Plan, run_id: RunId) -> Outcome {
    if args.external.is_empty() && args.servers.is_none() {
        eprintln!(
            "error: --host needs the server to measure: --server HOST:/EXPORT (or \
             NAME=HOST:/EXPORT, repeatable)"
        );
        return Outcome::BadInput;
    }
    let engine = match find_engine(args.engine.as_deref()) {
        Ok(e) => e,
        Err(line) => {
            eprintln!("error: {line}");
            return Outcome::Environment;
        }
    };
    let mount = if args.no_mount {
        MountSupport::Unavailable("--no-mount was given".to_owned())
    } else {
        mount::decide(&mount::probe())
    };
    if let MountSupport::Unavailable(reason) = &mount {
        eprintln!("note: mount cells skipped: {reason}");
    }
    let paths = if mount.is_available() {
        vec![AccessPath::Mount, AccessPath::Protocol]
    } else {
        vec![AccessPath::Protocol]
    };
    let matrix = Matrix::expand_access(plan, &paths);
    let access = if paths.len() == 2 {
        "mount and protocol"
    } else {
        "protocol"
    };
    eprintln!(
        "plan `{}` from this host: {}",
        plan.name,
        plan_size(
            plan,
            &matrix,
            Some(access),
            ("client process", "client processes")
        )
    );
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let options = HostOptions {
        run_id,
        results_parent: args.results.clone(),
        dir_name: None,
        engine,
        connect_timeout: args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        mount,
        keep_files: args.keep_files,
    };
    runtime.block_on(async {
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "\nstopping: stopping the clients, removing their files, unmounting and \
                     writing the report of what was measured (Ctrl-C again to quit at once)"
                );
                let _ = cancel_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    for left in mount::unmount_all() {
                        eprintln!("error: could not unmount {left}");
                    }
                    std::process::exit(i32::from(Outcome::Interrupted.code()));
                }
            }
        });
        let bar = BarProgress::stderr();
        conclude(
            run_host_bench(plan, &options, &bar, cancel_rx).await,
            HostError::outcome,
        )
    })
}

fn dry_run(args: &BenchArgs, plan: &Plan, run_id: &RunId) -> Outcome {
    let rendered = render_plan(plan, run_id);
    eprintln!("{}", describe(plan, rendered.measured));
    if !plan.in_cluster_flavors().is_empty() {
        eprintln!(
            "note: in-cluster servers get their address when deployed; manifests use \
             {PLACEHOLDER_ADDRESS} in its place"
        );
    }
    match &args.output {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create `{}`: {e}", dir.display());
                return Outcome::Environment;
            }
            for (name, text) in &rendered.files {
                let path = dir.join(name);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    return Outcome::Environment;
                }
            }
            eprintln!("wrote {} files to {}", rendered.files.len(), dir.display());
        }
        None => {
            for (_, text) in &rendered.files {
                print!("{text}");
            }
        }
    }
    Outcome::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sizes_are_said_in_the_right_number() {
        let plan = nfslab::run::builtin_quick_plan().expect("smoke plan");
        let m = Matrix::expand(&plan);
        assert_eq!(
            plan_size(&plan, &m, None, ("client pod", "client pods")),
            "1 server x 2 workloads x 2 profiles x 1 client count = 4 cells, 1 repetition \
             each: 4 steps, 4 client pods"
        );
        let both = [AccessPath::Mount, AccessPath::Protocol];
        let m = Matrix::expand_access(&plan, &both);
        assert_eq!(
            plan_size(
                &plan,
                &m,
                Some("mount and protocol"),
                ("client process", "client processes")
            ),
            "1 server x 2 workloads x 2 profiles x 1 client count x mount and protocol = 8 \
             cells, 1 repetition each: 8 steps, 8 client processes"
        );
    }
}
