//! `nfslab bench`: options and dispatch (the cluster runner, or `--host` for the host
//! runner of [`nfslab::bench::host`]), the estimate before the run, and the answer after it
//! (the table of [`nfslab::report::terminal`], the report's path, `--junit`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use nfslab::Config;
use nfslab::Outcome;
use nfslab::bench::SourceClass;
use nfslab::bench::host::find_engine;
use nfslab::bench::host::mount::{self, MountSupport};
use nfslab::bench::host::{DEFAULT_CONNECT_TIMEOUT, HostOptions, HostProvider, HostWork};
use nfslab::bench::manifests::{PLACEHOLDER_ADDRESS, render_plan};
use nfslab::bench::progress::{
    CLUSTER_STEP_OVERHEAD, Eta, HOST_STEP_OVERHEAD, for_stderr, format_eta,
};
use nfslab::bench::{BenchEnd, BenchOutcome, BenchWork, EnvironmentRequest, RunnerOptions};
use nfslab::k8s::ownership::RunId;
use nfslab::model::AccessPath;
use nfslab::model::Matrix;
use nfslab::model::plan::{
    DEFAULT_PLAN_PATH, Overrides, Plan, ServerKind, builtin_plan, load_plan,
};
use nfslab::nfs::map_profile;
use nfslab::progress::StderrLines;
use nfslab::report::HTML_FILE;
use nfslab::{ClusterProvider, SystemProvider, orchestrate};

use super::errors::CliError;

const EXAMPLES: &str = "\
Examples:
  # the default plan (workloads/plans/default.yaml) against the in-cluster server
  nfslab bench

  # check a plan, see its estimated duration and every manifest it would apply, no cluster
  nfslab bench --dry-run
  nfslab bench --plan my-plan.yaml --dry-run --render-to manifests/

  # two profiles, one workload, 5 repetitions, 1 and 4 client pods
  nfslab bench --profiles doc-v3,doc-v4.1 --workloads seq-read-1m --repetitions 5 --clients 1,4

  # your NAS instead of the in-cluster server (or both: --servers in-cluster,nas)
  nfslab bench --server 192.168.1.20:/vol1
  nfslab bench --server nas=192.168.1.20:/vol1 --servers in-cluster,nas

  # the StorageClass you run (csi-driver-nfs, nfs-subdir-external-provisioner): one clone
  # of it per profile, carrying the profile's mountOptions
  nfslab bench --existing --storage-class nfs-csi --profiles k8s-default,doc-v4.1
  kubectl get storageclass nfs-csi -o yaml > nfs-csi.yaml
  nfslab bench --storage-class nfs-csi --storage-class-file nfs-csi.yaml --dry-run

  # from this host, no Kubernetes: every cell through the user-space NFSv3 client, and
  # through a kernel mount too when the host can mount (root, kernel NFS, mount.nfs)
  nfslab bench --host --server 192.168.1.20:/vol1
  nfslab bench --host --server 192.168.1.20:/vol1 --dry-run    # what would run, how long
  nfslab bench --host --server nas=192.168.1.20:/vol1 --server lab=10.0.0.7:/export \\
      --profiles doc-v3,v4.1-nconnect4 --workloads seq-read-1m,rand-read-4k --repetitions 5
  nfslab bench --host --no-mount --server 10.0.0.7:/export --connect-timeout 5s

What a run does: for every cell (server x workload x profile x clients) and repetition it
creates a PV carrying the profile's mountOptions (or, for a StorageClass, a claim of the
profile's clone of the class), a PVC and the client pods (spread over nodes), lays the
files out, starts every client at once, collects each pod's JSON result, the effective
mount options and the kernel's RPC statistics, and deletes it all before the next. Results
go to results/<run-id>/ as they come (plan, raw JSON per pod, summary.json, summary.csv,
report.md, report.html). Progress goes to stderr: a live bar on a terminal, one line per
step, phase and finished cell otherwise, with an ETA from the plan and the steps measured
so far. At the end a table gives the best profile per workload, the runner-up and the
verdict, then the failures and the report's path. Ctrl-C stops cleanly and keeps what was
measured; `nfslab report DIR` re-renders the reports, `nfslab compare OLD NEW` compares
two runs.

With --host, clients are engine processes on this machine: the engine built into nfslab
(`nfslab io`), or the nfslab-io binary given with --engine or NFSLAB_IO. Protocol cells
(ids ending in /protocol) map each profile's options to the user-space client (rsize,
wsize, nconnect, hard/soft, timeo, retrans, ac/noac/actimeo, sync...) and list the others
as not applicable (vers=4.x: the client speaks NFSv3). Mount cells mount the export per
repetition with the profile's options and always unmount; when the host cannot mount, one
line says why and only protocol cells run. With both, the report shows the mount efficiency
(mount / protocol) per cell. Each repetition works in <export>/nfslab-bench/<run-id>/ and
removes its files afterwards (--keep-files keeps them). A server that does not answer
within --connect-timeout stops the run before anything is measured.

Profiles live in the plan and in profiles.yaml next to it: add your own there. Bad options
(rsize=1M, hard+soft, unknown keys) are reported with file:line:column before anything is
created. Figures: bandwidth in MB/s (10^6 bytes/s), as in every report.

Exit codes: 0 every repetition measured, 1 some repetitions failed, 2 bad plan or flags (a
StorageClass whose provisioner ignores mountOptions included), 3 environment (cluster,
server), 130 interrupted.";

/// Benchmark NFS mount options from pods (the matrix in a plan) and write the reports.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct BenchArgs {
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
    /// Benchmark through this StorageClass of the cluster (repeatable): each profile through
    /// a clone of the class carrying the profile's mountOptions (labelled, removed
    /// afterwards). Classes whose provisioner ignores mountOptions are refused.
    #[arg(
        long = "storage-class",
        value_name = "NAME",
        conflicts_with = "host",
        help_heading = "Plan"
    )]
    pub storage_classes: Vec<String>,
    /// With --dry-run: the StorageClass to clone, as `kubectl get storageclass NAME -o yaml`
    /// prints it (a dry run reads no cluster).
    #[arg(long, value_name = "FILE", requires = "dry_run", help_heading = "Plan")]
    pub storage_class_file: Vec<PathBuf>,
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
    /// Check the plan, print its estimated duration and every manifest a run would apply
    /// (with --host: every client command); no cluster or server is contacted.
    #[arg(long, help_heading = "Mode")]
    pub dry_run: bool,
    /// Run from this host against the servers given with --server, without Kubernetes:
    /// through the user-space NFSv3 client, and through a kernel mount when the host can.
    #[arg(long, help_heading = "Host")]
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
    /// With --host: an nfslab-io binary for the clients to run (default: $NFSLAB_IO, else
    /// the engine built into nfslab, `nfslab io`).
    #[arg(long, value_name = "PATH", requires = "host", help_heading = "Host")]
    pub engine: Option<PathBuf>,
    /// With --host: keep every repetition's files on the servers (in
    /// nfslab-bench/<run-id>/).
    #[arg(long, requires = "host", help_heading = "Host")]
    pub keep_files: bool,
    /// With --dry-run: write one YAML file per step into this directory instead of stdout.
    #[arg(long, value_name = "DIR", requires = "dry_run", help_heading = "Mode")]
    pub render_to: Option<PathBuf>,
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
    /// Also write the results as JUnit XML to FILE (one test case per cell: failed when a
    /// repetition failed).
    #[arg(long, value_name = "FILE", help_heading = "Results")]
    pub junit: Option<PathBuf>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: super::ClusterSelection,
}

/// The plan at `path`, else the default plan of the source tree, else the built-in copy.
pub(super) fn plan_or_default(path: Option<&Path>) -> Result<Plan, CliError> {
    Ok(match path {
        Some(path) => load_plan(path),
        None if Path::new(DEFAULT_PLAN_PATH).is_file() => load_plan(Path::new(DEFAULT_PLAN_PATH)),
        None => builtin_plan(),
    }?)
}

/// Prints a finished run: on stdout the directory and its files (for scripts); on stderr
/// the table of [`nfslab::report::terminal`] and the report's path. Writes the JUnit report
/// when asked (a JUnit file that cannot be written is said at once). Returns the exit code.
fn conclude<E>(result: Result<BenchOutcome, E>, junit: Option<&Path>) -> Result<Outcome, CliError>
where
    CliError: From<E>,
{
    let outcome = result?;
    println!("{}", outcome.dir.display());
    for f in &outcome.files {
        println!("{}", f.display());
    }
    eprint!(
        "\n{}",
        nfslab::report::terminal::bench_table(&outcome.summary)
    );
    eprintln!("Report: {}", outcome.dir.join(HTML_FILE).display());
    let code = Ok(outcome.outcome());
    let Some(path) = junit else {
        return code;
    };
    match write_junit(path, &outcome.summary) {
        Ok(()) => {
            eprintln!("JUnit: {}", path.display());
            code
        }
        Err(e) => e.report_after(code),
    }
}

fn write_junit(path: &Path, summary: &nfslab::model::summary::Summary) -> Result<(), CliError> {
    let xml = nfslab::report::junit::render(summary)
        .map_err(|e| CliError::Environment(format!("cannot render the JUnit report: {e}")))?;
    std::fs::write(path, xml).map_err(|e| {
        CliError::Environment(format!(
            "cannot write the JUnit report `{}`: {e} (hint: check the directory exists)",
            path.display()
        ))
    })
}

fn load(args: &BenchArgs) -> Result<Plan, CliError> {
    let plan = plan_or_default(args.plan.as_deref())?;
    Ok(plan.apply(&Overrides {
        servers: args.servers.clone(),
        profiles: args.profiles.clone(),
        workloads: args.workloads.clone(),
        external: args.external.clone(),
        storage_classes: args.storage_classes.clone(),
        repetitions: args.repetitions,
        clients: args.clients.clone(),
    })?)
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

/// The plan on a cluster in one line, with its estimated duration.
fn describe(plan: &Plan) -> String {
    let m = Matrix::expand(plan);
    let eta = Eta::for_matrix(plan, &m, CLUSTER_STEP_OVERHEAD);
    format!(
        "plan `{}`: {}; estimated {}",
        plan.name,
        plan_size(plan, &m, None, ("client pod", "client pods")),
        format_eta(eta.total())
    )
}

/// The StorageClasses given with `--storage-class-file`, checked.
fn class_files(files: &[PathBuf]) -> Result<Vec<SourceClass>, CliError> {
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::BadInput(format!(
                "--storage-class-file: cannot read `{}`: {e}",
                path.display()
            ))
        })?;
        let value: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| {
            CliError::BadInput(format!(
                "--storage-class-file `{}` is not YAML: {e} (hint: `kubectl get storageclass \
                 NAME -o yaml > FILE`)",
                path.display()
            ))
        })?;
        let name = value
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                CliError::BadInput(format!(
                    "--storage-class-file `{}` has no metadata.name (hint: `kubectl get \
                     storageclass NAME -o yaml > FILE`)",
                    path.display()
                ))
            })?
            .to_owned();
        out.push(SourceClass::check(&name, value)?);
    }
    Ok(out)
}

/// Runs `nfslab bench`.
pub(crate) fn run(args: &BenchArgs, mut config: Config) -> Result<Outcome, CliError> {
    let plan = load(args)?;
    let checked = super::check_output_dir("--results", &args.results)
        .and_then(|()| {
            args.render_to
                .as_deref()
                .map_or(Ok(()), |dir| super::check_output_dir("--render-to", dir))
        })
        .and_then(|()| {
            args.junit
                .as_deref()
                .map_or(Ok(()), |f| super::check_output_file("--junit", f))
        });
    checked.map_err(CliError::BadInput)?;
    for w in &plan.active_warnings() {
        eprintln!("warning: {w}");
    }
    let run_id = super::run_id(args.run_id.as_deref()).map_err(CliError::BadInput)?;
    if args.host {
        return host_run(args, &plan, run_id);
    }
    if args.dry_run {
        return dry_run(args, &plan, &run_id);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    eprintln!("{}", describe(&plan));
    let choice = args.cluster.apply(&mut config);
    let view = for_stderr();
    let junit = args.junit.as_deref();
    // Said before the tear-down's own lines.
    let write = |result| match conclude(result, junit).map_err(CliError::report_now) {
        Ok(outcome) => outcome,
        Err(reported) => reported.outcome(),
    };
    let work = BenchWork {
        plan: &plan,
        request: EnvironmentRequest {
            cluster: choice,
            flavors: plan.in_cluster_flavors(),
            image: plan.image.clone(),
            config: config.clone(),
        },
        options: RunnerOptions {
            run_id,
            results_parent: args.results.clone(),
            dir_name: None,
            timeouts: config.timeouts.clone(),
        },
        external: &args.external,
        progress: view.as_ref(),
        write: &write,
    };
    let end = runtime.block_on(async {
        let cancel_rx = super::on_interrupt(
            Some(
                "\nstopping: cleaning up and writing the report of what was measured (Ctrl-C \
                 again to quit at once)",
            ),
            Some(|| ()),
        );
        orchestrate(
            &work,
            &SystemProvider::default() as &ClusterProvider,
            &StderrLines,
            cancel_rx,
        )
        .await
    });
    ended(end)
}

/// The exit code of a benchmark job; a failed bring-up is the error (with the advice after
/// a refused kind run), a failed tear-down is printed now.
fn ended(end: BenchEnd) -> Result<Outcome, CliError> {
    match end {
        BenchEnd::Unprepared { error, instead } => Err(match instead {
            Some(advice) => CliError::Advised {
                error: Box::new(error.into()),
                advice,
            },
            None => error.into(),
        }),
        BenchEnd::Ran { outcome, tear_down } => {
            if let Some(e) = tear_down {
                let _ = CliError::TearDown(Box::new(e)).report_now();
            }
            Ok(outcome)
        }
    }
}

/// The access paths a host run measures, and why mount cells are skipped when they are.
fn host_paths(args: &BenchArgs) -> (MountSupport, Vec<AccessPath>) {
    let mount = if args.no_mount {
        MountSupport::Unavailable("--no-mount was given".to_owned())
    } else {
        mount::decide(&mount::probe())
    };
    let paths = if mount.is_available() {
        vec![AccessPath::Mount, AccessPath::Protocol]
    } else {
        vec![AccessPath::Protocol]
    };
    (mount, paths)
}

/// `nfslab bench --host`: the plan from this host against its external servers (with
/// `--dry-run`: what would run and how long, contacting nothing).
fn host_run(args: &BenchArgs, plan: &Plan, run_id: RunId) -> Result<Outcome, CliError> {
    if args.external.is_empty() && args.servers.is_none() {
        return Err(CliError::BadInput(
            "--host needs the server to measure: --server HOST:/EXPORT (or NAME=HOST:/EXPORT, \
             repeatable)"
                .to_owned(),
        ));
    }
    let (mount, paths) = host_paths(args);
    if let MountSupport::Unavailable(reason) = &mount {
        eprintln!("note: mount cells skipped: {reason}");
    }
    let matrix = Matrix::expand_access(plan, &paths);
    let access = if paths.len() == 2 {
        "mount and protocol"
    } else {
        "protocol"
    };
    let eta = Eta::for_matrix(plan, &matrix, HOST_STEP_OVERHEAD);
    eprintln!(
        "plan `{}` from this host: {}; estimated {}",
        plan.name,
        plan_size(
            plan,
            &matrix,
            Some(access),
            ("client process", "client processes")
        ),
        format_eta(eta.total())
    );
    if args.dry_run {
        return host_dry_run(plan, &matrix);
    }
    let this_program = std::env::current_exe().map_err(|e| {
        CliError::Environment(format!(
            "cannot find the running nfslab program: {e} (hint: give --engine PATH)"
        ))
    })?;
    let engine =
        find_engine(args.engine.as_deref(), &this_program).map_err(CliError::Environment)?;
    let runtime = super::runtime()?;
    let options = HostOptions {
        run_id,
        results_parent: args.results.clone(),
        dir_name: None,
        engine,
        connect_timeout: args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        mount,
        keep_files: args.keep_files,
    };
    let view = for_stderr();
    let junit = args.junit.as_deref();
    let write = |result| match conclude(result, junit).map_err(CliError::report_now) {
        Ok(outcome) => outcome,
        Err(reported) => reported.outcome(),
    };
    let work = HostWork {
        plan,
        options: &options,
        progress: view.as_ref(),
        write: &write,
    };
    let end = runtime.block_on(async {
        let cancel_rx = super::on_interrupt(
            Some(
                "\nstopping: stopping the clients, removing their files, unmounting and \
                 writing the report of what was measured (Ctrl-C again to quit at once)",
            ),
            Some(|| {
                for left in mount::unmount_all() {
                    eprintln!("error: could not unmount {left}");
                }
            }),
        );
        orchestrate(&work, &HostProvider, &StderrLines, cancel_rx).await
    });
    ended(end)
}

/// `nfslab bench --host --dry-run`: every cell's client command on stdout, with the
/// profile options the protocol client cannot apply; nothing is contacted.
fn host_dry_run(plan: &Plan, matrix: &Matrix) -> Result<Outcome, CliError> {
    for cell in &matrix.cells {
        let Some(ServerKind::External { host, export }) =
            plan.server(&cell.server).map(|s| &s.kind)
        else {
            return Err(CliError::BadInput(format!(
                "server `{}` is not given as host:/export; --host measures only such servers \
                 (hint: --server HOST:/EXPORT)",
                cell.server
            )));
        };
        let Some(workload) = plan.workload(&cell.workload) else {
            continue;
        };
        let options = plan
            .profile(&cell.profile)
            .map(|p| p.options.clone())
            .unwrap_or_default();
        let flags = workload.job.command_flags().join(" ");
        let clients = if cell.clients == 1 {
            String::new()
        } else {
            format!(" (x{} clients)", cell.clients)
        };
        println!("# {}{clients}", cell.id);
        match cell.access {
            Some(AccessPath::Protocol) => {
                let mapped = map_profile(&options).map_err(|reason| {
                    CliError::BadInput(format!("profile `{}`: {reason}", cell.profile))
                })?;
                let nfs_options = if mapped.options.is_empty() {
                    String::new()
                } else {
                    format!(" --nfs-options {}", mapped.options.join(","))
                };
                println!("nfslab io run --target nfs://{host}{export}{nfs_options} {flags}");
                for n in &mapped.not_applicable {
                    println!("#   not applicable: {} ({})", n.option, n.reason);
                }
            }
            _ => {
                let o = if options.is_empty() {
                    String::new()
                } else {
                    format!(" -o {}", options.join(","))
                };
                println!(
                    "mount -t nfs{o} {host}:{export} MOUNTPOINT && nfslab io run --dir \
                     MOUNTPOINT {flags}"
                );
            }
        }
    }
    Ok(Outcome::Success)
}

fn dry_run(args: &BenchArgs, plan: &Plan, run_id: &RunId) -> Result<Outcome, CliError> {
    let classes = class_files(&args.storage_class_file)?;
    for server in &plan.selected_servers {
        if let Some(ServerKind::StorageClass { class }) = plan.server(server).map(|s| &s.kind)
            && !classes.iter().any(|c| &c.name == class)
        {
            return Err(CliError::BadInput(format!(
                "--dry-run reads no cluster, so it needs StorageClass `{class}` as a file (hint: \
                 `kubectl get storageclass {class} -o yaml > {class}.yaml`, then \
                 --storage-class-file {class}.yaml)"
            )));
        }
    }
    for c in &classes {
        for w in c.warnings() {
            eprintln!("warning: {w}");
        }
    }
    let rendered = render_plan(plan, run_id, &classes);
    eprintln!("{}", describe(plan));
    if !plan.in_cluster_flavors().is_empty() {
        eprintln!(
            "note: in-cluster servers get their address when deployed; manifests use \
             {PLACEHOLDER_ADDRESS} in its place"
        );
    }
    match &args.render_to {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::Environment(format!("cannot create `{}`: {e}", dir.display()))
            })?;
            for (name, text) in &rendered.files {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|e| {
                    CliError::Environment(format!("cannot write `{}`: {e}", path.display()))
                })?;
            }
            eprintln!("wrote {} files to {}", rendered.files.len(), dir.display());
        }
        None => {
            for (_, text) in &rendered.files {
                print!("{text}");
            }
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_sizes_are_said_in_the_right_number() {
        let plan = nfslab::builtin_quick_plan().expect("smoke plan");
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
