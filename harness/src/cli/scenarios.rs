//! `nfslab scenarios`: options, and their translation into library calls.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use nfslab::config::Config;
use nfslab::exit::Outcome;
use nfslab::scenario::catalog::{self, Catalog};
use nfslab::scenario::commands::{self, RenderTarget, RunRequest};
use nfslab::scenario::live::LiveView;

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
    scenarios: &[nfslab::scenario::plan::Scenario],
    selection: &super::ClusterSelection,
    config: &Config,
) -> Outcome {
    use nfslab::environment::ClusterChoice;
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
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
        let connected = match name {
            Some(name) => match nfslab::cluster::state::StateStore::from_env() {
                Ok(store) => {
                    let target = nfslab::cluster::Target {
                        name,
                        kubeconfig: None,
                        context: None,
                    };
                    nfslab::cluster::connect(&store, &target, &config)
                        .await
                        .map_err(|e| (nfslab::errors::error_chain(&e), e.outcome()))
                }
                Err(e) => Err((nfslab::errors::error_chain(&e), Outcome::Environment)),
            },
            None => nfslab::k8s::kube_cluster::KubeCluster::connect(
                kubeconfig.as_deref(),
                context.as_deref(),
                config.timeouts.exec,
            )
            .await
            .map_err(|e| (nfslab::errors::error_chain(&e), Outcome::Environment)),
        };
        let cluster = match connected {
            Ok(c) => c,
            Err((line, outcome)) => {
                eprintln!("error: cannot reach the cluster for a server-side dry run: {line}");
                return outcome;
            }
        };
        super::progress("the API server checks every manifest (dry run, strict fields)");
        commands::server_dry_run(scenarios, &cluster, &mut std::io::stderr())
            .await
            .unwrap_or(Outcome::Environment)
    })
}

/// Runs `nfslab scenarios ...` and returns how it ended.
pub(crate) fn run(args: &ScenariosArgs, mut config: Config) -> Outcome {
    let dir = args.catalog.clone().unwrap_or_else(catalog::default_dir);
    let catalog = match Catalog::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::BadInput;
        }
    };
    let mut stdout = std::io::stdout();
    let written = match &args.command {
        ScenariosCommand::List { output } => match output.format() {
            nfslab::output::Format::Text => commands::list(&catalog, &mut stdout),
            format => {
                let list = commands::list_document(&catalog);
                Ok(match super::print_document(&list, format) {
                    Ok(_) => commands::list_outcome(&list),
                    Err(o) => o,
                })
            }
        },
        ScenariosCommand::Show { scenario, output } => match output.format() {
            nfslab::output::Format::Text => {
                commands::show(&catalog, scenario, &mut stdout, &mut std::io::stderr())
            }
            format => match commands::show_document(&catalog, scenario) {
                Ok(doc) => Ok(super::print_document(&doc, format).unwrap_or_else(|o| o)),
                Err(text) => {
                    eprintln!("error: {text}");
                    Ok(Outcome::BadInput)
                }
            },
        },
        ScenariosCommand::Run(run) => {
            let selected = match commands::select(&catalog, &run.scenarios) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Outcome::BadInput;
                }
            };
            let checked = match &run.render_to {
                Some(dir) => super::check_output_dir("--render-to", dir),
                None => super::check_output_file("--results", &run.results).and_then(|()| {
                    run.junit
                        .as_deref()
                        .map_or(Ok(()), |f| super::check_output_file("--junit", f))
                }),
            };
            if let Err(line) = checked {
                eprintln!("error: {line}");
                return Outcome::BadInput;
            }
            if run.dry_run {
                let target = run
                    .render_to
                    .clone()
                    .map_or(RenderTarget::Stdout, RenderTarget::Dir);
                match commands::dry_run(&selected, &target, &mut stdout) {
                    Ok(Outcome::Success) if run.cluster.names_a_cluster() => {
                        Ok(server_dry_run(&selected, &run.cluster, &config))
                    }
                    other => other,
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
                let runtime = match super::runtime() {
                    Ok(r) => r,
                    Err(outcome) => return outcome,
                };
                let view = Arc::new(LiveView::new(selected.len()));
                let mut stderr = std::io::stderr();
                let outcome = runtime.block_on(async {
                    commands::run(
                        selected,
                        &request,
                        Arc::clone(&view) as Arc<dyn nfslab::scenario::Observer>,
                        super::on_interrupt(None, None),
                        &mut stderr,
                    )
                    .await
                });
                view.finish();
                outcome
            }
        }
    };
    written.unwrap_or_else(|e| {
        eprintln!("cannot write the output: {e}");
        Outcome::Environment
    })
}
