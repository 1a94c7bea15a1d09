//! The benchmark on a real cluster: the tiny plan `workloads/plans/smoke.yaml` end to end
//! (PVs with mountOptions, client pods, barrier, collection, cleanup, reports).
//!
//! Runs only with `NFSLAB_E2E_CLUSTER` set (`kind` or `existing`, see
//! `nfslab::ClusterChoice::from_env`); the cluster and the in-cluster NFS server come from
//! the provider every job runs on (`nfslab::SystemProvider`, asked what `nfslab bench`
//! asks) and are removed afterwards.
//! Without it the trial is reported as ignored with the reason; with `NFSLAB_REQUIRE`
//! naming `cluster` it fails instead.

use std::path::Path;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use nfslab::bench::{EnvironmentRequest, Target};
use nfslab::bench::{RunnerOptions, run_bench};
use nfslab::error_chain;
use nfslab::k8s::ownership::{RunId, selector};
use nfslab::model::plan::load_plan;
use nfslab::model::results::RunStatus;
use nfslab::progress::Quiet as NoProgress;
use nfslab::{ClusterChoice, Config, Provider, SystemProvider};
use nfslab_test_support::gate;

const TRIAL: &str = "bench_smoke_plan_on_a_cluster";

fn progress(line: &str) {
    eprintln!("bench e2e: {line}");
}

async fn smoke(choice: ClusterChoice) -> Result<(), Failed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plan = load_plan(&root.join("workloads/plans/smoke.yaml")).map_err(|e| error_chain(&e))?;
    let run_id = RunId::generate();
    let mut config = Config::default();
    choice.use_registry(&mut config);
    let request = EnvironmentRequest {
        cluster: choice,
        flavors: plan.in_cluster_flavors(),
        image: plan.image.clone(),
        config: config.clone(),
    };
    let provider = SystemProvider::default();
    let staged = provider
        .bring_up(
            &request.environment(),
            Box::pin(std::future::pending()),
            &progress,
        )
        .await
        .map_err(|e| error_chain(&e))?;
    let checked = check_smoke(&plan, &Target::on(&staged), &run_id, &config).await;
    let removed = provider.tear_down(&run_id, &progress).await;
    checked?;
    removed.map_err(|e| Failed::from(error_chain(&e)))
}

async fn check_smoke(
    plan: &nfslab::model::plan::Plan,
    target: &nfslab::bench::Target,
    run_id: &RunId,
    config: &Config,
) -> Result<(), Failed> {
    let results = tempfile::tempdir().map_err(|e| e.to_string())?;
    let options = RunnerOptions {
        run_id: run_id.clone(),
        results_parent: results.path().to_path_buf(),
        dir_name: None,
        timeouts: config.timeouts.clone(),
    };
    let (_cancel, rx) = tokio::sync::watch::channel(false);
    let outcome = run_bench(plan, target, &options, &NoProgress, rx)
        .await
        .map_err(|e| error_chain(&e))?;
    let fail = |what: String| -> Result<(), Failed> {
        Err(format!("{what} (results kept in {})", outcome.dir.display()).into())
    };
    if outcome.status != RunStatus::Complete || outcome.failed_steps > 0 {
        let failures: Vec<&String> = outcome
            .summary
            .cells
            .iter()
            .flat_map(|c| &c.failures)
            .collect();
        return fail(format!(
            "run {:?} with failures: {failures:?}",
            outcome.status
        ));
    }
    for cell in &outcome.summary.cells {
        if cell.repetitions_ok != cell.repetitions_planned {
            return fail(format!(
                "{}: {} repetitions measured",
                cell.id, cell.repetitions_ok
            ));
        }
        if !cell
            .options
            .fstype
            .as_deref()
            .is_some_and(|f| f.starts_with("nfs"))
        {
            return fail(format!(
                "{}: mount is {:?}, not NFS",
                cell.id, cell.options.fstype
            ));
        }
        if cell.rpc.is_none() {
            return fail(format!("{}: no mountstats delta recorded", cell.id));
        }
        if cell.profile == "v4.1-64k"
            && !cell
                .options
                .effective
                .iter()
                .flatten()
                .any(|o| o == "rsize=65536")
        {
            return fail(format!(
                "{}: effective options {:?}",
                cell.id, cell.options.effective
            ));
        }
    }
    let html =
        std::fs::read_to_string(outcome.dir.join("report.html")).map_err(|e| e.to_string())?;
    if html.matches("<svg").count() != 2 {
        return fail("the report does not have one chart per workload".to_owned());
    }
    if !outcome.leftovers.is_empty() {
        return fail(format!("objects left behind: {:?}", outcome.leftovers));
    }
    let cluster = Arc::clone(&target.cluster);
    for kind in ["PersistentVolume", "Namespace"] {
        let left = cluster
            .list("v1", kind, None, Some(&selector(Some(run_id))))
            .await
            .map_err(|e| error_chain(&e))?;
        if !left.is_empty() {
            return fail(format!("{} {kind} objects of the run remain", left.len()));
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trial = match ClusterChoice::from_env() {
        Ok(Some(choice)) => Trial::test(TRIAL, move || {
            eprintln!("benchmark e2e on {choice}");
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(smoke(choice))
        }),
        Ok(None) => gate::trial(
            "cluster",
            TRIAL,
            Some(ClusterChoice::unset_reason()),
            || Ok(()),
        ),
        Err(e) => Trial::test(TRIAL, move || Err(e.to_string().into())),
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}
