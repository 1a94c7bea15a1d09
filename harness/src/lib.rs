//! nfslab: end-to-end tests and benchmarks for Kubernetes storage on NFS.
//!
//! # Layout
//!
//! Modules in layers, bottom up: each uses only modules in the layers below it (and never a
//! sibling that uses it back: `test-support/tests/structure.rs` checks every level of the tree).
//! A module named without a link is private: what callers need of it is re-exported at the
//! root (listed with it) or by its parent module, so its inside can move freely.
//!
//! 1. Foundations, which use nothing of the crate above them:
//!    - `errors`: an error and its causes on one line ([`error_chain`]); the wall clock as
//!      results record it ([`now_rfc3339`]).
//!    - `exit`: the documented process exit codes ([`Outcome`]).
//!    - [`k8s`]: the narrow [`k8s::Cluster`] interface scenarios and benchmarks use, readiness
//!      [`k8s::conditions`], watch-based [`k8s::wait`]s, run [`k8s::ownership`] labels, node
//!      facts (`k8s::nodes`) and the scripted [`k8s::fake`] cluster for engine tests.
//!    - [`names`]: the grammar of user-given names that become paths or object names.
//! 2. `config`: timeouts and other tunables, with commented defaults ([`Config`]); the server
//!    flavor.
//! 3. [`nfs`]: the NFS server under test, how to reach its files, the mount-option model (the
//!    crate `nfslab-mount-options`, which the user-space client shares) and its mapping onto
//!    the user-space client (`nfs::protocol`).
//! 4. The run's data and the cluster:
//!    - [`model`]: every document a run plans, records and concludes (benchmark plans and
//!      their matrix, NAS tiers, the results directory, summaries, scenario results, the
//!      environment record); pure data, read and written by everything above.
//!    - [`cluster`]: the kind or existing cluster (preflight, kind driver, images, state), and
//!      the debug bundle a failed run leaves before anything is torn down ([`cluster::debug`]).
//! 5. - [`environment`]: brings up the cluster and NFS servers every run needs, and removes
//!      them; which cluster a run uses ([`ClusterChoice`]).
//!    - [`report`]: Markdown/CSV/HTML/terminal reports and run comparison, rendered from
//!      [`model`] documents only.
//! 6. What the CLI shows around the work:
//!    - [`advice`]: what a user can do on this machine when preflight refuses a kind run.
//!    - [`render`]: the manifests and kind configuration as YAML, without a cluster.
//!    - [`output`]: the documents `-o json|yaml` prints for listing and status commands.
//!    - [`progress`]: the one progress event type ([`progress::Event`]: phases, lines,
//!      scenario and benchmark step events) and the one trait its reporters implement
//!      ([`progress::Reporter`]).
//!    - `orchestrate`: the one skeleton every job runs in ([`orchestrate()`]): the
//!      environment from a [`Provider`], the [`Work`], tear-down whatever happened, the
//!      outcome decided in one place.
//! 7. The work:
//!    - [`scenario`]: the scenario format, validation, engine and catalog.
//!    - [`bench`](mod@bench): the benchmark runner on a cluster or from this host, its cell
//!      loop, manifests and progress.
//! 8. `run`: the main job `nfslab run` (environment, scenarios, benchmark, tear-down, one
//!    combined report): a [`Job`] and its [`execute`], a work of the orchestrator like
//!    `scenarios run` and `bench`.
//!
//! The `nfslab` binary (`src/main.rs`, `src/cli/`) sits on top: it parses flags into library
//! values, owns the process's one Ctrl-C handler and maps failures to exit codes.
//!
//! # Crates
//!
//! The layers above are one crate; what is a crate of its own is what another crate shares:
//! the `mount -o` model (`nfslab-mount-options`, read by this crate and by the user-space
//! NFSv3 client) and the IO engine with that client (`nfslab-workload`, reached only through
//! its root). Splitting this crate further (a `nfslab-k8s`, a results-and-reports crate) was
//! measured against what it would buy: after a one-line change in `report/csv.rs`, an
//! incremental `cargo build -p nfslab --bin nfslab` takes 7-9 s on a 2-core machine, and
//! rebuilding every test binary of the crate 28-34 s. The layering is already checked by
//! `test-support/tests/structure.rs`, so a split would add crate boundaries for seconds.

pub mod advice;
pub mod bench;
pub mod cluster;
pub(crate) mod config;
pub mod environment;
pub(crate) mod errors;
pub(crate) mod exit;
pub mod k8s;
pub mod model;
pub mod names;
pub mod nfs;
pub(crate) mod orchestrate;
pub mod output;
pub mod progress;
pub mod render;
pub mod report;
pub(crate) mod run;
pub mod scenario;

// The process: errors on one line, the clock as results record it, exit codes.
pub use crate::errors::{error_chain, now_rfc3339};
pub use crate::exit::Outcome;

// Configuration: the tunables a run reads, with their commented defaults.
pub use crate::config::{
    ClusterConfig, Config, ConfigError, DEFAULT_CONFIG_YAML, Images, MAX_WORKERS, NfsConfig,
    ScenarioSettings, Timeouts,
};

// The environment every run needs: which cluster, its NFS servers, their removal.
pub use crate::environment::{
    ChoiceError, ClusterChoice, EnvironmentError, existing_plan, flavor_from_env,
};

// The main job, `nfslab run`: environment, scenarios, benchmark, tear-down, one report.
pub use crate::orchestrate::{
    Aftercare, ClusterProvider, Lines, Provider, Staged, SystemProvider, Verdict, Work,
    orchestrate, worst,
};

pub use crate::run::{
    Job, JobReport, Phase, QUICK_PLAN_PATH, QUICK_SCENARIOS, builtin_quick_plan, execute,
    set_in_cluster_flavor,
};
