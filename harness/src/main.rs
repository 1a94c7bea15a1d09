//! `nfslab`: command-line entry; parses arguments and calls the library.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use nfslab::config::{Config, DEFAULT_CONFIG_YAML};
use nfslab::exit::Outcome;
use nfslab::scenario::catalog::{self, Catalog};
use nfslab::scenario::commands::{self, RenderTarget, RunRequest};
use nfslab::scenario::env::ClusterChoice;
use nfslab::scenario::live::LiveView;

use cli::scenarios::{ClusterArg, ScenariosArgs, ScenariosCommand};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Config => {
            print!("{DEFAULT_CONFIG_YAML}");
            Outcome::Success
        }
        cli::Command::Scenarios(args) => scenarios(args),
    };
    outcome.into()
}

fn scenarios(args: ScenariosArgs) -> Outcome {
    let dir = args.catalog.unwrap_or_else(catalog::default_dir);
    let catalog = match Catalog::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::BadInput;
        }
    };
    let mut stdout = std::io::stdout();
    let written = match args.command {
        ScenariosCommand::List => commands::list(&catalog, &mut stdout),
        ScenariosCommand::Show { scenario } => commands::show(&catalog, &scenario, &mut stdout),
        ScenariosCommand::Run(run) => {
            let selected = match commands::select(&catalog, &run.scenarios) {
                Ok(s) => s,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Outcome::BadInput;
                }
            };
            if run.dry_run {
                let target = run
                    .render_to
                    .map_or(RenderTarget::Stdout, RenderTarget::Dir);
                commands::dry_run(&selected, &target, &mut stdout)
            } else {
                let request = RunRequest {
                    choice: match run.cluster {
                        ClusterArg::Kind => ClusterChoice::Kind { reuse: run.reuse },
                        ClusterArg::Existing => ClusterChoice::Existing,
                    },
                    config: Config::default(),
                    parallel: run.parallel.map(usize::from),
                    results: run.results,
                };
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("cannot start the async runtime: {e}");
                        return Outcome::Environment;
                    }
                };
                let view = Arc::new(LiveView::new(selected.len()));
                let mut stderr = std::io::stderr();
                let outcome = runtime.block_on(commands::run(
                    selected,
                    &request,
                    Arc::clone(&view) as Arc<dyn nfslab::scenario::Observer>,
                    &mut stderr,
                ));
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
