//! `nfslab run`: the main job's options, the live view, and the final lines.
//!
//! stdout carries exactly one line, the run directory (so scripts can pick up the report);
//! everything else goes to stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Args;
use nfslab::Config;
use nfslab::Outcome;
use nfslab::model::plan::{Overrides, Plan, load_plan};
use nfslab::progress::{Event, Reporter};
use nfslab::scenario::LiveView;
use nfslab::scenario::catalog::{self, Catalog};
use nfslab::scenario::commands;
use nfslab::{
    Job, JobReport, Phase, QUICK_PLAN_PATH, QUICK_SCENARIOS, SystemProvider, builtin_quick_plan,
    execute, set_in_cluster_flavor,
};

use super::errors::CliError;

const EXAMPLES: &str = "\
Examples:
  # everything: kind cluster, NFS server, the scenario catalog, the default plan, a report
  nfslab run

  # a few minutes: core scenarios and a short plan (what nightly CI runs)
  nfslab run --quick

  # your cluster and your NAS; the cluster is never deleted
  nfslab run --context my-lab --server nas.example.com:/vol1

  # two scenarios only, keep the kind cluster for the next run
  nfslab run pvc-protection recycle-wipes-volume --skip-bench --keep-cluster

What happens: preflight -> kind cluster (created, or reused when nfslab made it) -> images
side-loaded -> NFS server(s) deployed -> scenarios -> benchmark -> tear-down (unless
--keep-cluster or --existing) -> results/<run-id>/report.md and report.html. `nfslab
doctor` runs the preflight checks alone.

Results: results/<run-id>/ holds report.md, report.html, scenarios.json, junit.xml,
job.json and bench/ (raw per-pod JSON, summary.json, the benchmark's own report). The run
directory is the only line on stdout.

Ctrl-C stops the running phase, removes everything the run created, writes the report of
what ran, and exits 130 (a second Ctrl-C quits at once).

Exit codes: 0 everything passed; 1 a scenario failed or benchmark repetitions failed;
2 bad input (flags, scenario, plan or config file); 3 environment or preflight problem
(nothing is created when preflight fails); 130 interrupted, after cleanup.";

/// Options of `nfslab run`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct RunArgs {
    /// Scenario ids or files to run (default: the whole catalog; with --quick, its core).
    #[arg(value_name = "SCENARIO", help_heading = "What to run")]
    pub scenarios: Vec<String>,
    /// Core scenarios (8) and the smoke plan (4 short cells) instead of the whole catalog
    /// and the default plan.
    #[arg(long, help_heading = "What to run")]
    pub quick: bool,
    /// The benchmark plan (default: workloads/plans/default.yaml; with --quick, smoke.yaml).
    #[arg(long, value_name = "FILE", help_heading = "What to run")]
    pub plan: Option<PathBuf>,
    /// Do not run the scenarios.
    #[arg(long, help_heading = "What to run")]
    pub skip_scenarios: bool,
    /// Do not run the benchmark.
    #[arg(long, help_heading = "What to run")]
    pub skip_bench: bool,
    /// The scenario catalog directory (default: ./scenarios, else the one nfslab was built
    /// from).
    #[arg(
        long = "scenarios",
        env = "NFSLAB_SCENARIOS",
        value_name = "DIR",
        help_heading = "What to run"
    )]
    pub catalog: Option<PathBuf>,
    /// Scenarios at once (default: scenarios.parallel of the configuration).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = super::parallel_arg, help_heading = "What to run")]
    pub parallel: Option<u16>,
    /// The in-cluster NFS server for scenarios and the plan's in-cluster servers: `kernel`
    /// (the host's nfsd) or `ganesha` (userspace) (default: nfs.flavor of the configuration).
    #[arg(long, value_enum, value_name = "FLAVOR", help_heading = "NFS server")]
    pub nfs_flavor: Option<super::cluster::FlavorArg>,
    /// An NFS server outside the cluster (`host:/export`): scenarios run against it and the
    /// benchmark measures it instead of an in-cluster server.
    #[arg(long, value_name = "HOST:/EXPORT", help_heading = "NFS server")]
    pub server: Option<String>,
    /// Where the run directory is created.
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

/// Resolves the options into a job; `Err` is bad input.
fn build(args: &RunArgs, mut config: Config) -> Result<Job, CliError> {
    let run_id = super::run_id(args.run_id.as_deref()).map_err(CliError::BadInput)?;
    super::check_output_dir("--results", &args.results).map_err(CliError::BadInput)?;
    if args.skip_scenarios && !args.scenarios.is_empty() {
        return Err(CliError::BadInput(
            "scenarios were named together with --skip-scenarios".to_owned(),
        ));
    }
    if args.skip_scenarios && args.skip_bench {
        return Err(CliError::BadInput(
            "--skip-scenarios and --skip-bench together leave nothing to run (hint: drop one; \
             `nfslab cluster up` and `nfslab nfs up` prepare an environment on their own)"
                .to_owned(),
        ));
    }
    if let Some(server) = &args.server {
        nfslab::nfs::external(server)
            .map_err(|e| CliError::BadInput(format!("--server: {}", nfslab::error_chain(&e))))?;
    }
    if let Some(f) = args.nfs_flavor {
        config.nfs.flavor = f.into();
    }
    let scenarios = if args.skip_scenarios {
        Vec::new()
    } else {
        let dir = args.catalog.clone().unwrap_or_else(catalog::default_dir);
        let catalog = Catalog::load(&dir).map_err(|e| CliError::BadInput(e.to_string()))?;
        let names: Vec<String> = if args.scenarios.is_empty() && args.quick {
            QUICK_SCENARIOS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            args.scenarios.clone()
        };
        commands::select(&catalog, &names).map_err(CliError::BadInput)?
    };
    let bench = if args.skip_bench {
        None
    } else {
        let mut plan = load(args)?;
        if let Some(f) = args.nfs_flavor {
            set_in_cluster_flavor(&mut plan, f.into());
        }
        let plan = if let Some(server) = &args.server {
            plan.apply(&Overrides {
                external: vec![format!("nas={server}")],
                ..Overrides::default()
            })?
        } else {
            plan
        };
        Some(plan)
    };
    let parallel = args.parallel.map_or(config.scenarios.parallel, usize::from);
    Ok(Job {
        run_id,
        scenarios,
        scenarios_skipped: args
            .skip_scenarios
            .then(|| "skipped with --skip-scenarios".to_owned()),
        bench,
        bench_skipped: args
            .skip_bench
            .then(|| "skipped with --skip-bench".to_owned()),
        cluster: args.cluster.apply(&mut config),
        flavor: config.nfs.flavor,
        external: args.server.clone(),
        parallel,
        results_parent: args.results.clone(),
        config,
        keep_on_failure: args.cluster.keep_cluster_on_failure,
    })
}

fn load(args: &RunArgs) -> Result<Plan, CliError> {
    if args.plan.is_some() || !args.quick {
        return super::bench::plan_or_default(args.plan.as_deref());
    }
    Ok(if Path::new(QUICK_PLAN_PATH).is_file() {
        load_plan(Path::new(QUICK_PLAN_PATH))
    } else {
        builtin_quick_plan()
    }?)
}

/// The terminal reporter: a numbered header per phase with the elapsed time, progress
/// lines, the scenarios' live view and the benchmark's bar (each made when its phase
/// starts).
struct TerminalReporter {
    started: Instant,
    live: Mutex<Option<Arc<LiveView>>>,
    bench: Mutex<Option<Arc<dyn Reporter>>>,
}

impl TerminalReporter {
    fn phase(&self, phase: Phase, detail: &str) {
        let (i, n) = phase.position();
        let elapsed = nfslab_workload::format_duration(std::time::Duration::from_secs(
            self.started.elapsed().as_secs(),
        ));
        eprintln!("nfslab: [{i}/{n}] {phase} (at {elapsed}): {detail}");
    }

    fn live(&self) -> Option<Arc<LiveView>> {
        self.live.lock().ok().and_then(|s| s.clone())
    }

    fn bench(&self) -> Arc<dyn Reporter> {
        let mut slot = self.bench.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(slot.get_or_insert_with(nfslab::bench::progress::for_stderr))
    }
}

impl Reporter for TerminalReporter {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Phase { phase, detail } => self.phase(phase, detail),
            Event::Line(text) => eprintln!("nfslab: {text}"),
            Event::ScenariosStarting { count } => {
                if let Ok(mut slot) = self.live.lock() {
                    *slot = Some(Arc::new(LiveView::new(count)));
                }
            }
            Event::Scenario(_) => {
                if let Some(live) = self.live() {
                    live.report(event);
                }
            }
            Event::ScenariosDone => {
                if let Some(view) = self.live.lock().ok().and_then(|mut s| s.take()) {
                    view.finish();
                }
            }
            Event::Bench(_) => self.bench().report(event),
        }
    }
}

/// Runs `nfslab run`.
pub(crate) fn run(args: &RunArgs, config: Config) -> Result<Outcome, CliError> {
    let job = build(args, config)?;
    if let Some(plan) = &job.bench {
        for w in plan.active_warnings() {
            eprintln!("warning: {w}");
        }
    }
    let runtime = super::runtime()?;
    let reporter = Arc::new(TerminalReporter {
        started: Instant::now(),
        live: Mutex::new(None),
        bench: Mutex::new(None),
    });
    let report = runtime.block_on(async {
        let rx = super::on_interrupt(
            Some(
                "\nnfslab: stopping: removing what this run created and writing the report of \
                 what ran (Ctrl-C again to quit at once)",
            ),
            Some(|| ()),
        );
        execute(&job, &SystemProvider::default(), reporter, rx).await
    });
    let kind = matches!(job.cluster, nfslab::ClusterChoice::Kind { .. });
    finish(&report, kind);
    Ok(report.outcome)
}

fn finish(report: &JobReport, kind: bool) {
    if let Some(dir) = &report.dir {
        println!("{}", dir.display());
    }
    let stderr = std::io::stderr();
    let bold = |s: &str| {
        if stderr.is_terminal() {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    if report.scenarios.is_some() || report.bench.is_some() {
        eprintln!();
    }
    if let Some(results) = &report.scenarios {
        eprint!("{}", nfslab::report::terminal::scenario_lines(results));
    }
    if let Some(summary) = &report.bench {
        eprint!("{}", nfslab::report::terminal::bench_table(summary));
    }
    if !report.failures.is_empty() {
        eprintln!("\n{}", bold("What failed:"));
        for f in &report.failures {
            let mut lines = f.lines();
            if let Some(first) = lines.next() {
                eprintln!("  - {first}");
            }
            for more in lines {
                eprintln!("    {more}");
            }
        }
    }
    for r in &report.reports {
        eprintln!("report: {}", r.display());
    }
    let meaning = match report.outcome {
        Outcome::Success => "everything passed",
        Outcome::Failed => "a scenario or benchmark repetition failed",
        Outcome::BadInput => "bad input",
        Outcome::Environment if kind => {
            "the environment is not ready (`nfslab doctor` lists what is missing)"
        }
        Outcome::Environment => "the environment is not ready",
        Outcome::Interrupted => "interrupted; what the run created has been removed",
    };
    eprintln!(
        "{}",
        bold(&format!(
            "nfslab run: {meaning} (exit {})",
            report.outcome.code()
        ))
    );
    if let Some(line) = &report.instead {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["nfslab", "run"];
        argv.extend_from_slice(extra);
        let cli = super::super::Cli::try_parse_from(argv).expect("parses");
        match cli.command {
            super::super::Command::Run(a) => a,
            _ => panic!("run"),
        }
    }

    fn catalog_dir() -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .display()
            .to_string()
    }

    #[test]
    fn quick_runs_the_core_scenarios_and_the_smoke_plan() {
        let dir = catalog_dir();
        let job =
            build(&args(&["--quick", "--scenarios", &dir]), Config::default()).expect("valid");
        let ids: Vec<&str> = job.scenarios.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, QUICK_SCENARIOS.to_vec());
        assert_eq!(job.bench.as_ref().map(|p| p.name.as_str()), Some("smoke"));
    }

    #[test]
    fn an_external_server_serves_scenarios_and_benchmark() {
        let dir = catalog_dir();
        let job = build(
            &args(&[
                "--scenarios",
                &dir,
                "pvc-protection",
                "--server",
                "nas.example.com:/vol1",
                "--existing",
            ]),
            Config::default(),
        )
        .expect("valid");
        assert_eq!(job.external.as_deref(), Some("nas.example.com:/vol1"));
        assert_eq!(
            job.bench.as_ref().map(|p| p.selected_servers.clone()),
            Some(vec!["nas".to_owned()])
        );
        assert!(
            job.request().flavors.is_empty(),
            "{:?}",
            job.request().flavors
        );
        assert!(matches!(
            job.cluster,
            nfslab::ClusterChoice::Existing { .. }
        ));
    }

    #[test]
    fn bad_input_is_one_line_naming_what_to_fix() {
        let dir = catalog_dir();
        let refused = |extra: &[&str], needle: &str| {
            let err = build(&args(extra), Config::default()).expect_err(needle);
            let text = err.to_stderr();
            assert_eq!(err.outcome(), Outcome::BadInput, "{text}");
            assert!(text.starts_with("error: "), "{text}");
            assert_eq!(text.lines().count(), 1, "{text}");
            assert!(text.contains(needle), "{text}");
        };
        refused(
            &["--scenarios", &dir, "no-such-scenario"],
            "no-such-scenario",
        );
        refused(&["--server", "nas-without-export"], "nas-without-export");
        refused(&["--run-id", "Bad Id"], "--run-id");
        refused(
            &["--plan", "/nonexistent/plan.yaml"],
            "/nonexistent/plan.yaml",
        );
    }
}
