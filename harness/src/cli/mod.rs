//! Command-line definitions. Option structs only parse; each subcommand turns them into
//! library calls, so the engine never sees clap.
//!
//! Every command returns `Result<Outcome, CliError>`: `Ok` says how finished work ended,
//! `Err` is a failure that stopped it. `main` prints the error and exits with the code of
//! [`errors::CliError::outcome`], the one place a failure becomes an exit code; a failure
//! while work goes on is printed where it happens ([`errors::CliError::report_after`]).

pub(crate) mod bench;
mod clean;
mod cluster;
pub(crate) mod compare;
mod config;
mod doctor;
pub(crate) mod errors;
mod images;
mod nfs;
mod render;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod scenarios;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use nfslab::Config;
use nfslab::Outcome;
use nfslab::cluster::KernelProbe;
use nfslab::cluster::StateStore;
use nfslab::cluster::SystemTools;
use nfslab::cluster::Target;
use nfslab::cluster::images::source_dir;

use self::errors::CliError;

/// End-to-end tests and benchmarks for Kubernetes storage on NFS.
///
/// nfslab starts a kind cluster (or uses yours) with an NFS server inside, replays the
/// documented PV/PVC scenarios, benchmarks NFS mount options from pods, and writes reports
/// that compare NAS/NFS configurations.
#[derive(Debug, Parser)]
#[command(
    name = "nfslab",
    version,
    propagate_version = true,
    after_help = "Getting started:\n  \
      nfslab doctor            # what this machine has, what is missing and why\n  \
      nfslab run --quick       # a few minutes: core scenarios, a short benchmark, a report\n  \
      nfslab run               # everything; the report is in results/<run-id>/report.html\n\n\
      Piece by piece:\n  \
      nfslab cluster up        # kind cluster, 1 control plane + 2 workers, private kubeconfig\n  \
      nfslab nfs up            # NFS server in the cluster, checked with a real client\n  \
      nfslab cluster down      # remove the cluster again\n\n\
      Without kind (or without the kernel's NFS client) on this machine:\n  \
      nfslab bench --host --server HOST:/EXPORT   # benchmark an NFS server from here, no Kubernetes\n  \
      nfslab run --context NAME                   # your cluster (--kubeconfig FILE, --image-registry R)\n  \
      nfslab bench --dry-run                      # check a plan, its duration and its manifests\n\n\
      Listings and status take -o json|yaml (scenarios list|show, cluster status, nfs status,\n\
      images list, doctor). Bandwidth is in MB/s (10^6 bytes/s) everywhere.\n\n\
      Exit codes: 0 ok, 1 test failure, 2 bad input, 3 environment not ready, 130 interrupted."
)]
pub(crate) struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Tunables file overriding the defaults (see `nfslab config --defaults`).
    #[arg(long, global = true, env = "NFSLAB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More detail on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The main job: cluster, NFS server, scenario catalog, benchmark, one report.
    Run(run::RunArgs),
    /// Check this machine for what `nfslab run` needs (nothing is created).
    Doctor(doctor::DoctorArgs),
    /// Show the effective configuration (defaults with comments, or your file merged).
    Config(config::ConfigArgs),
    /// Create, inspect or remove the Kubernetes cluster nfslab runs against.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Deploy, inspect or remove the NFS server inside the cluster.
    #[command(subcommand)]
    Nfs(nfs::NfsCommand),
    /// Build, pull, save and load the images nfslab uses (air-gapped clusters).
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Print the manifests nfslab would apply, without a cluster.
    #[command(subcommand)]
    Render(render::RenderCommand),
    /// Remove what earlier runs left in the cluster, found by nfslab's labels.
    Clean(clean::CleanArgs),
    /// Benchmark NFS mount options from pods (the matrix in a plan) and write the reports.
    Bench(bench::BenchArgs),
    /// Re-render the summary and reports of a benchmark run from its JSON files.
    Report(report::ReportArgs),
    /// Compare two benchmark runs; exit 1 when a figure regressed beyond the threshold.
    Compare(compare::CompareArgs),
    /// List, show, validate and run the scenario catalog.
    Scenarios(scenarios::ScenariosArgs),
    /// The IO engine `nfslab-io`, built in: `nfslab io run --dir DIR --pattern read ...`
    /// (`nfslab io --help` lists its commands).
    #[command(disable_help_flag = true)]
    Io(IoArgs),
}

/// The first argument that hands the rest of the command line to the built-in engine.
pub(crate) const ENGINE_SUBCOMMAND: &str = "io";

/// `nfslab io ...`: everything after `io` goes to the engine's own parser (`main` hands it
/// over before nfslab parses; this entry only lists it in `nfslab --help`).
#[derive(Debug, Args)]
pub(crate) struct IoArgs {
    /// The engine's arguments (`run --dir DIR ...`, `--help`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<std::ffi::OsString>,
}

/// How a command picks its cluster: one nfslab knows by name, or a kubeconfig directly.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub(crate) struct TargetArgs {
    /// The cluster nfslab knows by this name (`nfslab cluster up --name`); default:
    /// cluster.name of the configuration.
    #[arg(long = "name", alias = "cluster", value_name = "NAME", value_parser = cluster_name_arg)]
    pub cluster: Option<String>,
    /// Use this kubeconfig directly instead of a known cluster.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Use this context (of --kubeconfig, or of KUBECONFIG / ~/.kube/config).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

impl TargetArgs {
    fn target(&self, config: &Config) -> Target {
        Target {
            name: self
                .cluster
                .clone()
                .unwrap_or_else(|| config.cluster.name.clone()),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// Which cluster a run uses: nfslab's kind cluster (created when missing) or one the user
/// already has.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Cluster")]
pub(crate) struct ClusterSelection {
    /// nfslab's kind cluster to use, or to create when it does not exist (default:
    /// cluster.name of the configuration). A cluster this command creates is deleted
    /// afterwards unless --keep-cluster; one that already existed is left alone.
    #[arg(long = "name", alias = "cluster", value_name = "NAME", value_parser = cluster_name_arg)]
    pub name: Option<String>,
    /// Keep a kind cluster this command creates (to inspect it, or to run again sooner).
    #[arg(long)]
    pub keep_cluster: bool,
    /// When a phase fails, keep the cluster and NFS servers as they are (after writing the
    /// debug bundle to results/<run-id>/debug/) instead of removing them.
    #[arg(long)]
    pub keep_cluster_on_failure: bool,
    /// Do not install kind when it is not on PATH (by default nfslab downloads the kind
    /// release it pins into its cache directory, checking its SHA-256).
    #[arg(long, conflicts_with_all = ["existing", "kubeconfig", "context"])]
    pub no_install: bool,
    /// Use a cluster you already have (KUBECONFIG or ~/.kube/config, current context)
    /// instead of a kind cluster; nfslab never deletes it.
    #[arg(long, conflicts_with_all = ["name", "keep_cluster"])]
    pub existing: bool,
    /// Kubeconfig of an existing cluster (implies --existing).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "keep_cluster"])]
    pub kubeconfig: Option<PathBuf>,
    /// Context of an existing cluster (implies --existing).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["name", "keep_cluster"])]
    pub context: Option<String>,
    /// Act on the existing cluster's current context without naming it with --context
    /// (nfslab creates privileged pods, hostPath volumes and cluster-scoped objects there).
    #[arg(long, conflicts_with_all = ["name", "keep_cluster"])]
    pub yes: bool,
    /// Push nfslab's own images (nfslab-io, nfslab-ganesha) to this registry and run them
    /// from there: an existing cluster's nodes cannot pull them from your local Docker.
    /// Example: --image-registry registry.example.com:5000/nfslab
    #[arg(long, value_name = "REGISTRY", conflicts_with_all = ["name", "keep_cluster"])]
    pub image_registry: Option<String>,
}

impl ClusterSelection {
    /// Whether a cluster was named on the command line (not just the configured default).
    #[must_use]
    pub(crate) fn names_a_cluster(&self) -> bool {
        self.existing
            || self.kubeconfig.is_some()
            || self.context.is_some()
            || self.image_registry.is_some()
            || self.name.is_some()
    }

    /// The library's choice these options make; a kind cluster name goes into `config`.
    pub(crate) fn apply(&self, config: &mut Config) -> nfslab::ClusterChoice {
        use nfslab::ClusterChoice;
        if self.existing
            || self.kubeconfig.is_some()
            || self.context.is_some()
            || self.image_registry.is_some()
        {
            let choice = ClusterChoice::Existing {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                confirmed: self.yes || self.context.is_some(),
                image_registry: self.image_registry.clone(),
            };
            choice.use_registry(config);
            choice
        } else {
            if let Some(name) = &self.name {
                config.cluster.name.clone_from(name);
            }
            ClusterChoice::Kind {
                keep: self.keep_cluster,
                install: !self.no_install,
            }
        }
    }
}

/// `-o json|yaml`: one machine-readable document instead of text (kubectl's `-o`).
#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct OutputArgs {
    /// Print one JSON or YAML document on stdout instead of text (the exit code is the
    /// same); the documents are described in the `nfslab::output` module.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// A machine-readable format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// One pretty-printed JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

impl OutputArgs {
    /// The library's format.
    #[must_use]
    pub(crate) fn format(self) -> nfslab::output::Format {
        match self.output {
            None => nfslab::output::Format::Text,
            Some(OutputFormat::Json) => nfslab::output::Format::Json,
            Some(OutputFormat::Yaml) => nfslab::output::Format::Yaml,
        }
    }
}

/// Prints `document` in `format` on stdout; `Err` when it could not be serialised.
pub(crate) fn print_document<T: serde::Serialize>(
    document: &T,
    format: nfslab::output::Format,
) -> Result<(), CliError> {
    if let Some(text) = nfslab::output::render(document, format)? {
        print!("{text}");
    }
    Ok(())
}

/// Where the host's `/proc` and `/lib/modules` are, when nfslab runs in a container with
/// them mounted elsewhere (default `/`).
pub(crate) const HOST_ROOT_ENV: &str = "NFSLAB_HOST_ROOT";

/// The host kernel's facts, under `NFSLAB_HOST_ROOT` when set.
fn host_kernel() -> KernelProbe {
    std::env::var_os(HOST_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(KernelProbe::default, |root| {
            KernelProbe::at(std::path::Path::new(&root))
        })
}

/// What every command works with.
pub(crate) struct Context {
    /// The effective configuration.
    pub config: Config,
    /// Cluster records.
    pub store: StateStore,
    /// docker, kind, the build script.
    pub tools: SystemTools,
    /// Host kernel facts.
    pub kernel: KernelProbe,
}

impl Context {
    fn host(&self) -> nfslab::cluster::Host<'_> {
        nfslab::cluster::Host {
            tools: &self.tools,
            store: &self.store,
            kernel: &self.kernel,
            source_dir: source_dir(),
        }
    }
}

/// Installs the command's Ctrl-C handler, the only one in the process (the library installs
/// none: it takes the returned channel). Call it once, inside the runtime.
///
/// The first Ctrl-C prints `stopping` (when given) and sets the channel to `true`: the work
/// watching it stops and cleans up. When `quit` is given, a second Ctrl-C runs it and exits
/// at once with [`Outcome::Interrupted`]'s code; otherwise later presses change nothing. If
/// the handler cannot be installed, the channel never changes.
pub(crate) fn on_interrupt(
    stopping: Option<&'static str>,
    quit: Option<fn()>,
) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if let Some(message) = stopping {
                eprintln!("{message}");
            }
            let _ = tx.send(true);
            if let Some(quit) = quit
                && tokio::signal::ctrl_c().await.is_ok()
            {
                quit();
                std::process::exit(i32::from(Outcome::Interrupted.code()));
            }
        }
        // Receivers must never see a closed channel, which `wait_for` reports as an error.
        std::future::pending::<()>().await;
        drop(tx);
    });
    rx
}

/// Resolves when the user presses Ctrl-C (never, if the handler cannot be installed).
pub(crate) async fn interrupted() {
    let mut interrupt = on_interrupt(None, None);
    let _ = interrupt.wait_for(|stop| *stop).await;
}

/// The async runtime commands run on; `Err` when it cannot start.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// clap's rendered error on one line: its first line, with its `tip:` lines appended in
/// parentheses; the usage and "for more information" lines are dropped (`--help` has them).
pub(crate) fn one_line_usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut out = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .to_owned();
    for line in lines {
        if let Some(tip) = line.strip_prefix("tip: ") {
            out.push_str(&format!(" (hint: {tip})"));
        } else if line.starts_with("[possible values:") {
            out.push(' ');
            out.push_str(line);
        }
    }
    out
}

/// A whole number flag from `min` to `max`; a negative number or anything else is refused
/// with the accepted range (the flag's name is added by clap).
fn whole_number(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let range = format!("give a whole number from {min} to {max}");
    if text.trim_start().starts_with('-') {
        return Err(format!("`{text}` is negative ({range})"));
    }
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("`{n}` is out of range ({range})")),
        Err(_) => Err(format!("`{text}` is not a whole number ({range})")),
    }
}

/// `--repetitions`: 1 to 1000.
pub(crate) fn repetitions_arg(text: &str) -> Result<u32, String> {
    whole_number(text, 1, 1000).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// One value of `--clients`: 1 to the plan limit.
pub(crate) fn clients_arg(text: &str) -> Result<u32, String> {
    let max = nfslab::model::plan::MAX_CLIENTS;
    whole_number(text, 1, u64::from(max)).map(|n| u32::try_from(n).unwrap_or(max))
}

/// `--workers`: 1 to the configuration's limit.
pub(crate) fn workers_arg(text: &str) -> Result<u8, String> {
    let max = nfslab::MAX_WORKERS;
    whole_number(text, 1, u64::from(max)).map(|n| u8::try_from(n).unwrap_or(max))
}

/// `--parallel`: 1 to 64 scenarios at once.
pub(crate) fn parallel_arg(text: &str) -> Result<u16, String> {
    whole_number(text, 1, 64).map(|n| u16::try_from(n).unwrap_or(64))
}

/// A duration flag in the one duration grammar ([`nfslab_workload::parse_duration`]),
/// between 1 ms and 1 h (connection and polling bounds).
pub(crate) fn short_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    use nfslab_workload::{DurationRange, parse_duration};
    let d = parse_duration(text).map_err(|e| e.to_string())?;
    DurationRange::new(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_secs(3600),
    )
    .check(d)
    .map_err(|e| e.to_string())?;
    Ok(d)
}

/// An output directory flag (`--output`, `--render-to`, `--results`): refused when it names
/// an existing file, before anything runs.
pub(crate) fn check_output_dir(flag: &str, dir: &std::path::Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{flag}: `{}` is an existing file; name a directory (it is created when missing)",
            dir.display()
        ));
    }
    Ok(())
}

/// An output file flag (`--html`, `--json`, `--results FILE`): refused when it names a
/// directory or its directory does not exist, before anything runs.
pub(crate) fn check_output_file(flag: &str, file: &std::path::Path) -> Result<(), String> {
    if file.is_dir() {
        return Err(format!(
            "{flag}: `{}` is a directory; name the file to write",
            file.display()
        ));
    }
    Ok(())
}

/// A Kubernetes node name flag (`--node`).
pub(crate) fn node_name_arg(text: &str) -> Result<String, String> {
    nfslab::names::dns_subdomain("node name", text)
        .map(|()| text.to_owned())
        .map_err(|e| e.rule)
}

/// A namespace flag (`--namespace`).
pub(crate) fn namespace_arg(text: &str) -> Result<String, String> {
    nfslab::names::dns_label("namespace", text, nfslab::names::MAX_LABEL_LEN)
        .map(|()| text.to_owned())
        .map_err(|e| e.rule)
}

/// A Kubernetes minor version flag (`--kubernetes 1.33`).
pub(crate) fn kubernetes_minor_arg(text: &str) -> Result<String, String> {
    nfslab::names::kubernetes_minor("Kubernetes version", text)
        .map(|_| text.to_owned())
        .map_err(|e| e.rule)
}

/// Parses a cluster name flag (`--name`) with the cluster-name grammar.
pub(crate) fn cluster_name_arg(text: &str) -> Result<String, String> {
    nfslab::names::cluster_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.rule)
}

/// `--run-id`, or a new id; `Err` is the bad-input message.
pub(crate) fn run_id(given: Option<&str>) -> Result<nfslab::k8s::ownership::RunId, String> {
    use nfslab::k8s::ownership::RunId;
    match given {
        Some(text) => RunId::parse(text).ok_or_else(|| {
            format!(
                "invalid --run-id `{}`: use 1 to 40 lowercase letters, digits and `-`",
                nfslab::names::printable(text)
            )
        }),
        None => Ok(RunId::generate()),
    }
}

/// Progress lines go to stderr so stdout stays machine-readable.
pub(crate) fn progress(line: &str) {
    eprintln!("nfslab: {line}");
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        // nfslab reports the API client's failures itself, with hints; its own log lines
        // would only repeat them.
        0 => "warn,kube_client=off",
        1 => "nfslab=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NFSLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the parsed command line and returns how it ended.
pub(crate) fn run(cli: Cli) -> Result<Outcome, CliError> {
    init_tracing(cli.global.verbose);
    let config = Config::load(cli.global.config.as_deref())?;
    if let Command::Config(args) = &cli.command {
        return config::run(args, cli.global.config.is_some(), &config);
    }
    match &cli.command {
        Command::Render(command) => return render::run(command, &config),
        Command::Report(args) => return report::run(args),
        Command::Compare(args) => return compare::run(args),
        Command::Bench(args) => return bench::run(args, config),
        Command::Scenarios(args) => return scenarios::run(args, config),
        Command::Run(args) => return run::run(args, config),
        Command::Doctor(args) => return doctor::run(args, &config, &host_kernel()),
        Command::Io(_) => {
            return Err(CliError::BadInput(
                "`io` must come first: `nfslab io ARGS` (nfslab's own options do not apply to \
                 the engine)"
                    .to_owned(),
            ));
        }
        _ => {}
    }
    let store = StateStore::from_env()?;
    let context = Context {
        config,
        store,
        tools: SystemTools::new(),
        kernel: host_kernel(),
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        match cli.command {
            Command::Cluster(c) => cluster::run(c, &context).await,
            Command::Nfs(c) => nfs::run(c, &context).await,
            Command::Images(c) => images::run(c, &context).await,
            Command::Clean(a) => clean::run(a, &context).await,
            Command::Config(_)
            | Command::Render(_)
            | Command::Report(_)
            | Command::Compare(_)
            | Command::Bench(_)
            | Command::Scenarios(_)
            | Command::Run(_)
            | Command::Doctor(_)
            | Command::Io(_) => Ok(Outcome::Success),
        }
    })
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
