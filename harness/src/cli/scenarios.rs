//! `nfslab scenarios`: options, and their translation into library calls.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use nfslab::Config;
use nfslab::Outcome;
use nfslab::scenario::LiveView;
use nfslab::scenario::catalog::{self, Catalog};
use nfslab::scenario::commands::{self, DryRunError, RenderTarget, RunRequest};

use super::errors::CliError;

/// Options of `nfslab scenarios`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  nfslab scenarios list
  nfslab scenarios show recycle-wipes-volume
  nfslab scenarios run --dry-run                      # validate all, print what would be applied
  nfslab scenarios run --dry-run --render-to out/     # one YAML file per scenario
  nfslab scenarios run static-binding-selector pvc-protection --existing
  nfslab scenarios run my-scenario.yaml --parallel 2 --results results/mine.json

Scenario files are documented in scenarios/README.md.")]
pub(crate) struct ScenariosArgs {
    /// The catalog directory (default: ./scenarios, else the one nfslab was built from).
    #[arg(
        long = "scenarios",
        id = "catalog_dir",
        global = true,
        env = "NFSLAB_SCENARIOS",
        value_name = "DIR"
    )]
    pub catalog: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: ScenariosCommand,
}

/// The `scenarios` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ScenariosCommand {
    /// List the catalog: code, id, title.
    List {
        /// Output format.
        #[command(flatten)]
        output: super::OutputArgs,
    },
    /// Show a scenario: what it asserts, its notes, and its steps with their time limits.
    Show {
        /// A scenario id, its code (`S1`, as `scenarios list` prints) or a file.
        #[arg(value_name = "ID|CODE|FILE")]
        scenario: String,
        /// Output format.
        #[command(flatten)]
        output: super::OutputArgs,
    },
    /// Run scenarios (all when none is named), or validate and render them with --dry-run.
    Run(RunArgs),
}

/// Options of `nfslab scenarios run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Scenario ids or files (default: the whole catalog).
    #[arg(value_name = "ID|FILE")]
    pub scenarios: Vec<String>,
    /// Validate and print the manifests that would be applied; needs no cluster. With
    /// --name, --existing, --kubeconfig or --context, the API server also checks every
    /// manifest (server-side dry run, strict field validation; nothing is stored).
    #[arg(long, help_heading = "Dry run")]
    pub dry_run: bool,
    /// With --dry-run: write one `<id>.yaml` per scenario into DIR instead of printing.
    #[arg(
        long,
        value_name = "DIR",
        requires = "dry_run",
        help_heading = "Dry run"
    )]
    pub render_to: Option<PathBuf>,
    /// The cluster.
    #[command(flatten)]
    pub cluster: super::ClusterSelection,
    /// The in-cluster NFS server: `kernel` (the host's nfsd) or `ganesha` (userspace)
    /// (default: nfs.flavor of the configuration).
    #[arg(long, value_enum, help_heading = "Cluster")]
    pub nfs_flavor: Option<super::cluster::FlavorArg>,
    /// How many scenarios run at once (default: `scenarios.parallel` of the configuration).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::parallel_arg)]
    pub parallel: Option<u16>,
    /// Where the JSON results go.
    #[arg(long, value_name = "FILE", default_value = "results/scenarios.json")]
    pub results: PathBuf,
    /// Also write the results as JUnit XML (one test case per scenario) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// With `--dry-run` and a named cluster: the API server dry-runs every manifest with strict
/// field validation (nothing is stored).
fn server_dry_run(
    scenarios: &[nfslab::scenario::Scenario],
    selection: &super::ClusterSelection,
    config: &Config,
) -> Result<Outcome, CliError> {
    use nfslab::ClusterChoice;
    let runtime = super::runtime()?;
    let mut config = config.clone();
    let (kubeconfig, context, name) = match selection.apply(&mut config) {
        ClusterChoice::Existing {
            kubeconfig,
            context,
            ..
        } => (kubeconfig, context, None),
        ClusterChoice::Kind { .. } => (None, None, Some(config.cluster.name.clone())),
    };
    runtime.block_on(async {
        let connected: Result<_, CliError> = match name {
            Some(name) => match nfslab::cluster::StateStore::from_env() {
                Ok(store) => {
                    let target = nfslab::cluster::Target {
                        name,
                        kubeconfig: None,
                        context: None,
                    };
                    nfslab::cluster::connect(&store, &target, &config)
                        .await
                        .map_err(Into::into)
                }
                Err(e) => Err(e.into()),
            },
            None => nfslab::k8s::KubeCluster::connect(
                kubeconfig.as_deref(),
                context.as_deref(),
                config.timeouts.exec,
            )
            .await
            .map_err(Into::into),
        };
        let cluster = connected.map_err(|e| CliError::DryRunUnreachable(Box::new(e)))?;
        super::progress("the API server checks every manifest (dry run, strict fields)");
        commands::server_dry_run(scenarios, &cluster, &mut std::io::stderr())
            .await
            .map_err(CliError::Stderr)
    })
}

/// Runs `nfslab scenarios ...` and returns how it ended.
pub(crate) fn run(args: &ScenariosArgs, mut config: Config) -> Result<Outcome, CliError> {
    let dir = args.catalog.clone().unwrap_or_else(catalog::default_dir);
    let catalog = Catalog::load(&dir).map_err(|e| CliError::Problems(e.to_string()))?;
    let mut stdout = std::io::stdout();
    match &args.command {
        ScenariosCommand::List { output } => match output.format() {
            nfslab::output::Format::Text => {
                commands::list(&catalog, &mut stdout).map_err(CliError::Write)
            }
            format => {
                let list = commands::list_document(&catalog);
                super::print_document(&list, format)?;
                Ok(commands::list_outcome(&list))
            }
        },
        ScenariosCommand::Show { scenario, output } => {
            let doc = commands::show_document(&catalog, scenario).map_err(CliError::BadInput)?;
            match output.format() {
                nfslab::output::Format::Text => {
                    commands::show(&doc, &mut stdout).map_err(CliError::Write)?;
                }
                format => super::print_document(&doc, format)?,
            }
            Ok(Outcome::Success)
        }
        ScenariosCommand::Run(run) => {
            let selected =
                commands::select(&catalog, &run.scenarios).map_err(CliError::Problems)?;
            let checked = match &run.render_to {
                Some(dir) => super::check_output_dir("--render-to", dir),
                None => super::check_output_file("--results", &run.results).and_then(|()| {
                    run.junit
                        .as_deref()
                        .map_or(Ok(()), |f| super::check_output_file("--junit", f))
                }),
            };
            checked.map_err(CliError::BadInput)?;
            if run.dry_run {
                let target = run
                    .render_to
                    .clone()
                    .map_or(RenderTarget::Stdout, RenderTarget::Dir);
                match commands::dry_run(&selected, &target, &mut stdout) {
                    Ok(()) if run.cluster.names_a_cluster() => {
                        server_dry_run(&selected, &run.cluster, &config)
                    }
                    Ok(()) => Ok(Outcome::Success),
                    Err(DryRunError::Render(e)) => Err(CliError::BadInput(e.to_string())),
                    Err(DryRunError::Write(e)) => Err(CliError::Write(e)),
                }
            } else {
                if let Some(flavor) = run.nfs_flavor {
                    config.nfs.flavor = flavor.into();
                }
                let request = RunRequest {
                    choice: run.cluster.apply(&mut config),
                    config,
                    parallel: run.parallel.map(usize::from),
                    results: run.results.clone(),
                    junit: run.junit.clone(),
                };
                let runtime = super::runtime()?;
                let view = Arc::new(LiveView::new(selected.len()));
                let mut stderr = std::io::stderr();
                let outcome = runtime.block_on(async {
                    commands::run(
                        selected,
                        &request,
                        Arc::clone(&view) as Arc<dyn nfslab::progress::Reporter>,
                        super::on_interrupt(None, None),
                        &mut stderr,
                    )
                    .await
                });
                view.finish();
                outcome.map_err(CliError::Write)
            }
        }
    }
}
