//! `nfslab bench --host` as a work of the orchestrator ([`crate::orchestrate`]).
//!
//! From the host there is no cluster to bring up: [`HostProvider`] makes nothing, and its
//! tear-down releases whatever the run still has mounted ([`super::mount::unmount_all`];
//! each repetition already unmounts its own, so this is the safety net for a run that
//! ended early). [`HostWork`] runs the plan with [`run_host_bench`] and hands the results to
//! the caller's writer before tear-down, as the cluster benchmark does.

use std::path::Path;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{HostError, HostOptions, run_host_bench};
use crate::bench::environment::{BenchEnd, Writer};
use crate::bench::progress::Reporter;
use crate::environment::EnvironmentError;
use crate::k8s::ownership::RunId;
use crate::model::plan::Plan;
use crate::orchestrate::{Lines, Provider, Verdict, Work};

/// The environment of a host benchmark: nothing to bring up; tear-down unmounts what the
/// run still has mounted.
#[derive(Debug, Default)]
pub struct HostProvider;

/// Why mounts stay after tear-down.
#[derive(Debug, thiserror::Error)]
#[error("still mounted (hint: `umount -l` them)")]
struct StillMounted;

#[async_trait]
impl Provider for HostProvider {
    type Request = ();
    type Staged = ();

    async fn bring_up(
        &self,
        (): &(),
        _interrupt: BoxFuture<'static, ()>,
        _progress: &Lines<'_>,
    ) -> Result<(), EnvironmentError> {
        Ok(())
    }

    async fn tear_down(&self, _run: &RunId, _progress: &Lines<'_>) -> Result<(), EnvironmentError> {
        let left = super::mount::unmount_all();
        if left.is_empty() {
            Ok(())
        } else {
            Err(EnvironmentError::TearDown {
                what: left.join(", "),
                source: Box::new(StillMounted),
            })
        }
    }

    async fn evidence(&self, _dir: &Path, _failure: &str) -> Option<Vec<String>> {
        None
    }

    async fn keep(&self) -> Vec<String> {
        Vec::new()
    }
}

/// `nfslab bench --host`: the plan from this host against its external servers.
pub struct HostWork<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The run's options.
    pub options: &'a HostOptions,
    /// The runner's progress.
    pub progress: &'a dyn Reporter,
    /// The results writer.
    pub write: &'a Writer<'a, HostError>,
}

#[async_trait]
impl Work<HostProvider> for HostWork<'_> {
    type Done = ();
    type Report = BenchEnd;

    fn run_id(&self) -> &RunId {
        &self.options.run_id
    }

    fn request(&self) {}

    fn unprepared(&self, error: EnvironmentError) -> BenchEnd {
        BenchEnd::Unprepared {
            error,
            instead: None,
        }
    }

    async fn run(&self, (): &(), cancel: &watch::Receiver<bool>, verdict: &mut Verdict) {
        let result = run_host_bench(self.plan, self.options, self.progress, cancel.clone()).await;
        verdict.add((self.write)(result));
    }

    fn conclude(&self, (): (), verdict: Verdict) -> BenchEnd {
        BenchEnd::Ran {
            outcome: verdict.outcome,
            tear_down: verdict.tear_down,
        }
    }
}
