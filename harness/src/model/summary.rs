//! `summary.json`: the versioned, aggregated view of a run that every report is rendered
//! from and `nfslab compare` reads.
//!
//! # Schema (`schema_version` 1)
//!
//! | field | content |
//! |---|---|
//! | `schema_version` | `1`; changes when a field changes meaning or disappears |
//! | `run_id`, `tool_version`, `plan`, `status`, `started`, `finished` | the run |
//! | `environment` | cluster, Kubernetes version, nodes (kernel, OS, runtime), servers |
//! | `repetitions` | repetitions planned per cell |
//! | `units` | `bandwidth: bytes/s`, `latency: ns` |
//! | `cells[]` | one [`CellSummary`] per cell, in matrix order |
//! | `best[]` | per (server, workload, clients): the profile with the best headline median |
//! | `nas` | `null` or the measured-vs-advertised comparison (`crate::model::nas`) |
//!
//! Fields added after the first release are optional: readers treat them as absent in older
//! files, writers omit them when they do not apply, and `schema_version` stays `1`.
//!
//! | optional field | content |
//! |---|---|
//! | `cells[].access` | `mount` or `protocol` for runs from the host (`nfslab bench --host`); absent for cluster runs, whose client pods mount |
//! | `cells[].options.not_applicable[]` | protocol cells: profile options the user-space client has no equivalent for, each `{option, reason}` |
//! | `cells[].mount_efficiency` | mount cells with a protocol cell for the same job: [`MountEfficiency`] |
//! | `best[].access` | the access path the ranking is for (host runs rank each path apart) |
//! | `cells[].rpc.source` | `mountstats` (the kernel's, for mounts; what older files hold) or `client` (nfslab-io's user-space client counting its own calls, for protocol cells) |
//! | `cells[].job` | the job every client ran, every value decided (`pattern`, `bs`, `size`, `nrfiles`, `threads`, `iodepth`, `ioengine`, `runtime`, `io_limit`, `ramp_time`, `direct`, `fsync`...) |
//! | `cells[].command` | the `nfslab-io run ...` line (with the mount it needs) that reproduces one client of the cell outside Kubernetes |
//! | `cells[].mechanism` | how the clients kept requests in flight (`sync`, `io_uring`, `threads`, `rpc-pipeline`; `mixed` when they differ) |
//! | `cells[].wire` | bytes the job moved against bytes on the wire, summed over clients and repetitions ([`nfslab_workload::WireSection`]): ratios and findings (reads that never reached the server, writes not on it at the end) with the likely cause |
//! | `best[].n` | the fewest repetitions of the winner and the runner-up |
//! | `best[].why_not_clear` | why the win is not clear: fewer than [`MIN_REPETITIONS`] repetitions, ranges that overlap, no runner-up |
//!
//! Host runs record `environment.notes` such as `mount cells skipped: <reason>` when the
//! host could not mount.
//!
//! A cell holds, over its repetitions, the median, min, max, mean, stdev and coefficient
//! of variation ([`Spread`]) of the aggregate bandwidth, IOPS and operations per second
//! (aggregate = the clients' results merged exactly); `unstable` when the headline metric's
//! CV exceeds [`UNSTABLE_CV`]; latency percentiles per operation kind from the histograms
//! of every pod of every repetition merged exactly (never averaged percentiles), with the
//! spread of p99 across repetitions; per-client figures; the requested vs effective mount
//! options and their diff; the kernel's RPC statistics summed over the run.

use std::collections::BTreeMap;

use nfslab_workload::{LatencySummary, ResolvedJob, WireSection};
use serde::{Deserialize, Serialize};

use crate::model::environment::Environment;
use crate::model::matrix::AccessPath;
use crate::model::nas::NasComparison;
use crate::model::results::RunStatus;
use crate::nfs::mount_options::OptionDiff;
use crate::nfs::protocol::NotApplicable;

/// Version of the summary schema.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;
/// Coefficient of variation above which a cell is marked unstable.
pub const UNSTABLE_CV: f64 = 0.10;
/// Repetitions a figure needs on both sides before a win or a regression is declared: with
/// fewer, the spread of the measurement is unknown.
pub const MIN_REPETITIONS: usize = 3;
/// Summary file name.
pub const SUMMARY_FILE: &str = "summary.json";

/// The figure a workload is judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Headline {
    /// Bytes per second (sequential data).
    Bandwidth,
    /// Data operations per second (random data, fsync latency).
    Iops,
    /// Operations of every kind per second (metadata).
    OpsPerSec,
}

impl Headline {
    /// Label for tables and charts.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Bandwidth => "bandwidth (MB/s)",
            Self::Iops => "IOPS",
            Self::OpsPerSec => "operations/s",
        }
    }
}

/// A figure over repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Values.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub stdev: f64,
    /// `stdev / mean`; `null` with fewer than two values or a zero mean.
    pub cv: Option<f64>,
}

/// Latency of one operation kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpLatency {
    /// Operations measured (all pods, all repetitions).
    pub ops: u64,
    /// Percentiles of the merged histogram, ns.
    pub latency_ns: LatencySummary,
    /// p99 of each repetition (merged over its pods), over repetitions.
    pub p99_spread: Option<Spread>,
    /// `(percentile, ns)` points of the merged histogram for curves.
    pub curve: Vec<(f64, u64)>,
    /// The merged histogram (HdrHistogram V2, base64), for later analysis.
    pub histogram: String,
}

/// One client's figures in one repetition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientRun {
    /// Client index.
    pub client: u32,
    /// Node it ran on.
    pub node: Option<String>,
    /// Bytes/s.
    pub bandwidth_bytes_per_sec: f64,
    /// IOPS.
    pub iops: f64,
    /// Operations/s.
    pub ops_per_sec: f64,
}

/// One repetition of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepetitionFigures {
    /// Repetition, 1-based.
    pub repetition: u32,
    /// `ok`, `io_error`, `verify_failed` (worst of the clients).
    pub status: String,
    /// Clients merged.
    pub clients: usize,
    /// Union of the clients' measured windows, seconds.
    pub window_seconds: f64,
    /// Latest minus earliest client window start, seconds (how well the barrier held).
    pub start_skew_seconds: f64,
    /// Aggregate bytes/s.
    pub bandwidth_bytes_per_sec: f64,
    /// Aggregate IOPS.
    pub iops: f64,
    /// Aggregate operations/s.
    pub ops_per_sec: f64,
    /// Each client.
    pub per_client: Vec<ClientRun>,
}

/// One client over repetitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientFigures {
    /// Client index.
    pub client: u32,
    /// Bytes/s.
    pub bandwidth_bytes_per_sec: Option<Spread>,
    /// IOPS.
    pub iops: Option<Spread>,
    /// Operations/s.
    pub ops_per_sec: Option<Spread>,
}

impl ClientFigures {
    /// The spread of `headline` in display units (MB/s for bandwidth).
    #[must_use]
    pub fn headline_display(&self, headline: Headline) -> Option<Spread> {
        match headline {
            Headline::Bandwidth => self.bandwidth_bytes_per_sec.map(|s| scale(s, 1e-6)),
            Headline::Iops => self.iops,
            Headline::OpsPerSec => self.ops_per_sec,
        }
    }
}

/// Requested and effective mount options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptionsSummary {
    /// As requested (PV `spec.mountOptions`).
    pub requested: Vec<String>,
    /// As the kernel reports them inside the first client pod (mountinfo per-mount and
    /// super options); `null` when no client reported a mount.
    pub effective: Option<Vec<String>>,
    /// Filesystem type of the mount (`nfs`, `nfs4`...).
    pub fstype: Option<String>,
    /// Whether every client of every repetition reported the same options.
    pub consistent: bool,
    /// Option by option.
    pub diff: Vec<OptionDiff>,
    /// Protocol cells: profile options without a protocol equivalent, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<NotApplicable>,
}

impl OptionsSummary {
    /// Lines the report flags (changed or not reported).
    #[must_use]
    pub fn flagged(&self) -> Vec<&OptionDiff> {
        self.diff.iter().filter(|d| d.flagged()).collect()
    }
}

/// RPC statistics of one NFS operation, over the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcOp {
    /// Requests.
    pub ops: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Mean round trip, ms.
    pub avg_rtt_ms: f64,
    /// Mean execution time, ms.
    pub avg_execute_ms: f64,
}

/// Where a cell's RPC statistics come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpcSource {
    /// The kernel client's `/proc/self/mountstats`, before and after each run (mounts).
    #[default]
    Mountstats,
    /// nfslab-io's user-space client counting its own calls (protocol cells).
    Client,
}

/// RPC statistics summed over pods and repetitions: `/proc/self/mountstats` deltas for
/// mounts, the user-space client's own counters for protocol cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcSummary {
    /// Where the figures come from.
    #[serde(default)]
    pub source: RpcSource,
    /// Repetitions with statistics.
    pub repetitions: usize,
    /// Requests.
    pub total_rpcs: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Major timeouts.
    pub major_timeouts: u64,
    /// Per operation (`READ`, `WRITE`, `GETATTR`...).
    pub ops: BTreeMap<String, RpcOp>,
}

/// Where the RPC figures of `cells` come from, in one sentence for the reports; `None` when
/// no cell has any.
#[must_use]
pub fn rpc_origin(cells: &[&CellSummary]) -> Option<String> {
    let has = |source| {
        cells
            .iter()
            .any(|c| c.rpc.as_ref().is_some_and(|r| r.source == source))
    };
    let mut sources = Vec::new();
    if has(RpcSource::Mountstats) {
        sources
            .push("mounts: the kernel's `/proc/self/mountstats`, read before and after each run");
    }
    if has(RpcSource::Client) {
        sources.push(
            "protocol cells: nfslab-io's user-space client, counting its own calls (requests \
             exclude retransmissions)",
        );
    }
    (!sources.is_empty()).then(|| {
        format!(
            "Sources: {}. Summed over clients and repetitions.",
            sources.join("; ")
        )
    })
}

impl RpcSummary {
    /// The `n` operations with the most requests, busiest first.
    #[must_use]
    pub fn busiest(&self, n: usize) -> Vec<(&String, &RpcOp)> {
        let mut ops: Vec<(&String, &RpcOp)> = self.ops.iter().collect();
        ops.sort_by_key(|(_, op)| std::cmp::Reverse(op.ops));
        ops.truncate(n);
        ops
    }
}

/// Mount-level over protocol-level figures of the same job, server, profile and clients:
/// how much of what the server delivers to a user-space client the kernel mount passes on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MountEfficiency {
    /// Id of the protocol cell compared with.
    pub protocol_cell: String,
    /// The figure compared (the workload's headline).
    pub headline: Headline,
    /// Mount median, summary units (bytes/s, IOPS, operations/s).
    pub mount: f64,
    /// Protocol median, same units.
    pub protocol: f64,
    /// `mount / protocol`: below 1 the mount delivers less than the protocol allows.
    pub ratio: f64,
    /// Operation kind whose p99 latencies are compared, when both cells measured it.
    pub latency_op: Option<String>,
    /// Mount p99 of that operation, ns.
    pub mount_p99_ns: Option<u64>,
    /// Protocol p99 of that operation, ns.
    pub protocol_p99_ns: Option<u64>,
    /// `mount p99 / protocol p99`: above 1 the mount adds latency.
    pub p99_ratio: Option<f64>,
}

/// One cell of the matrix, aggregated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    /// Stable id `server/workload/profile/kN`.
    pub id: String,
    /// Server.
    pub server: String,
    /// Workload.
    pub workload: String,
    /// Profile.
    pub profile: String,
    /// Client pods.
    pub clients: u32,
    /// The job's pattern.
    pub pattern: String,
    /// Block size, bytes.
    pub block_size: u64,
    /// The figure this workload is judged by.
    pub headline: Headline,
    /// Repetitions planned.
    pub repetitions_planned: u32,
    /// Repetitions with a result from every client.
    pub repetitions_ok: u32,
    /// Why the others failed.
    pub failures: Vec<String>,
    /// Aggregate bytes/s over repetitions.
    pub bandwidth_bytes_per_sec: Option<Spread>,
    /// Aggregate IOPS over repetitions.
    pub iops: Option<Spread>,
    /// Aggregate operations/s over repetitions.
    pub ops_per_sec: Option<Spread>,
    /// CV of the headline figure.
    pub headline_cv: Option<f64>,
    /// Headline CV above [`UNSTABLE_CV`].
    pub unstable: bool,
    /// Latency per operation kind.
    pub latency: BTreeMap<String, OpLatency>,
    /// Each repetition.
    pub repetitions: Vec<RepetitionFigures>,
    /// Each client over repetitions.
    pub per_client: Vec<ClientFigures>,
    /// Mount options.
    pub options: OptionsSummary,
    /// RPC statistics: the kernel's for NFS mounts, the client's own for protocol cells.
    pub rpc: Option<RpcSummary>,
    /// `direct`, `buffered` or `mixed`: whether reads bypassed the client page cache.
    pub cache: Option<String>,
    /// Median CPU seconds per GiB moved (client side).
    pub cpu_seconds_per_gib: Option<f64>,
    /// Failed operations by errno, summed.
    pub errors: BTreeMap<String, u64>,
    /// Notes from the engine (fallbacks), deduplicated.
    pub notes: Vec<String>,
    /// How the clients reached the server (host runs); absent: client pods mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessPath>,
    /// Mount cells of host runs: mount over protocol figures of the same job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_efficiency: Option<MountEfficiency>,
    /// The job every client ran, every value decided (absent in older summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<ResolvedJob>,
    /// The `nfslab-io run` line reproducing one client outside Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How the clients kept requests in flight (`sync`, `io_uring`, `threads`,
    /// `rpc-pipeline`, `mixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// Bytes moved against bytes on the wire, over every client and repetition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<WireSection>,
}

impl CellSummary {
    /// The headline figure's spread.
    #[must_use]
    pub fn headline_spread(&self) -> Option<&Spread> {
        match self.headline {
            Headline::Bandwidth => self.bandwidth_bytes_per_sec.as_ref(),
            Headline::Iops => self.iops.as_ref(),
            Headline::OpsPerSec => self.ops_per_sec.as_ref(),
        }
    }

    /// The headline median in display units (MB/s for bandwidth).
    #[must_use]
    pub fn headline_display(&self) -> Option<Spread> {
        let s = *self.headline_spread()?;
        Some(match self.headline {
            Headline::Bandwidth => scale(s, 1e-6),
            Headline::Iops | Headline::OpsPerSec => s,
        })
    }

    /// The largest start skew between clients over the repetitions, seconds.
    #[must_use]
    pub fn max_start_skew(&self) -> f64 {
        self.repetitions
            .iter()
            .map(|r| r.start_skew_seconds)
            .fold(0.0_f64, f64::max)
    }

    /// The operation kind whose latency characterises the workload.
    #[must_use]
    pub fn primary_op(&self) -> Option<&str> {
        let preferred: &[&str] = match self.pattern.as_str() {
            "read" | "randread" | "randrw" => &["read", "write"],
            "write" | "randwrite" => &["write"],
            "fsync-latency" => &["fsync", "write"],
            "metadata" => &["create", "stat", "unlink"],
            _ => &[],
        };
        preferred
            .iter()
            .find(|k| self.latency.contains_key(**k))
            .copied()
            .or_else(|| self.latency.keys().next().map(String::as_str))
    }
}

/// A spread with every value multiplied by `factor`.
#[must_use]
pub fn scale(s: Spread, factor: f64) -> Spread {
    Spread {
        n: s.n,
        median: s.median * factor,
        min: s.min * factor,
        max: s.max * factor,
        mean: s.mean * factor,
        stdev: s.stdev * factor,
        cv: s.cv,
    }
}

/// The best profile of one (server, workload, clients).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Server.
    pub server: String,
    /// Workload.
    pub workload: String,
    /// Clients.
    pub clients: u32,
    /// Figure compared.
    pub headline: Headline,
    /// Winning profile.
    pub profile: String,
    /// Its median, display units.
    pub value: f64,
    /// Second best profile and its median, if any.
    pub runner_up: Option<(String, f64)>,
    /// Whether the win is clear: both have at least [`MIN_REPETITIONS`] repetitions and
    /// the winner's slowest repetition beats the runner-up's fastest.
    pub clear: bool,
    /// The fewest repetitions of the winner and the runner-up.
    #[serde(default)]
    pub n: usize,
    /// Why the win is not clear, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not_clear: Option<String>,
    /// The access path ranked (host runs); absent: client pods mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessPath>,
}

/// Units of the figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Units {
    /// Bandwidth unit.
    pub bandwidth: String,
    /// Latency unit.
    pub latency: String,
}

impl Default for Units {
    fn default() -> Self {
        Self {
            bandwidth: "bytes/s".to_owned(),
            latency: "ns".to_owned(),
        }
    }
}

/// `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Run id.
    pub run_id: String,
    /// nfslab version that ran the benchmark.
    pub tool_version: String,
    /// Plan name.
    pub plan: String,
    /// Outcome.
    pub status: RunStatus,
    /// Start, RFC 3339.
    pub started: String,
    /// End, RFC 3339.
    pub finished: Option<String>,
    /// Where.
    pub environment: Environment,
    /// Repetitions planned per cell.
    pub repetitions: u32,
    /// Units.
    pub units: Units,
    /// Cells in matrix order.
    pub cells: Vec<CellSummary>,
    /// Best profile per (server, workload, clients).
    pub best: Vec<Best>,
    /// NAS tier comparison.
    pub nas: Option<NasComparison>,
    /// Plan warnings.
    pub warnings: Vec<String>,
}

impl Summary {
    /// Workloads in first-appearance order.
    #[must_use]
    pub fn workloads(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.cells {
            if !out.contains(&c.workload.as_str()) {
                out.push(&c.workload);
            }
        }
        out
    }

    /// A cell by id.
    #[must_use]
    pub fn cell(&self, id: &str) -> Option<&CellSummary> {
        self.cells.iter().find(|c| c.id == id)
    }

    /// Every failed repetition: `(cell id, reason)`.
    #[must_use]
    pub fn failures(&self) -> Vec<(&str, &str)> {
        self.cells
            .iter()
            .flat_map(|c| c.failures.iter().map(move |f| (c.id.as_str(), f.as_str())))
            .collect()
    }

    /// The run's status as reports state it: `complete` only when every repetition of
    /// every cell gave a result; `finished with failures: 2 repetition(s) failed in
    /// `a/b/c/k1`` when repetitions failed (their reasons are in [`Summary::failures`]);
    /// `interrupted, ...` or `failed, ...` when the run stopped early.
    #[must_use]
    pub fn status_text(&self) -> String {
        let failures = self.failures();
        if failures.is_empty() {
            return name_of(&self.status);
        }
        let mut cells: Vec<&str> = failures.iter().map(|(id, _)| *id).collect();
        cells.dedup();
        let head = match self.status {
            RunStatus::Complete => "finished with failures:".to_owned(),
            other => format!("{},", name_of(&other)),
        };
        format!(
            "{head} {} repetition(s) failed in {}",
            failures.len(),
            cells
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Whether the run measured everything it planned: complete, and no repetition failed.
    #[must_use]
    pub fn all_measured(&self) -> bool {
        self.status == RunStatus::Complete && self.failures().is_empty()
    }

    /// Mount cells with a mount efficiency, in matrix order.
    #[must_use]
    pub fn efficiencies(&self) -> Vec<(&CellSummary, &MountEfficiency)> {
        self.cells
            .iter()
            .filter_map(|c| c.mount_efficiency.as_ref().map(|e| (c, e)))
            .collect()
    }

    /// Every engine note: `(cell id, note)`.
    #[must_use]
    pub fn notes(&self) -> Vec<(&str, &str)> {
        self.cells
            .iter()
            .flat_map(|c| c.notes.iter().map(move |n| (c.id.as_str(), n.as_str())))
            .collect()
    }
}

/// The serialized name of a unit enum (`complete`, `bandwidth`).
#[must_use]
pub fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A figure with a precision that suits its size: `1234`, `56.7`, `0.89`.
#[must_use]
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
