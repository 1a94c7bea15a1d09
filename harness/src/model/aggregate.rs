//! Aggregation: from the raw per-pod results of a run to its [`Summary`].
//!
//! Per repetition, the clients' results are merged exactly
//! ([`nfslab_workload::merge_results`]: counts add, histograms add, throughput is
//! total work over the union of the windows the start barrier aligned). Per cell, figures
//! are summarised over repetitions ([`spread`]: median, min, max, mean, sample stdev, CV)
//! and latency percentiles come from the histograms of every pod of every repetition merged
//! exactly. A repetition counts only when every client finished with status `ok`; the
//! others are listed as failures with their reason.

use std::collections::BTreeMap;

use nfslab_workload::{
    Job, MergeError, MergedResult, Pattern, RunResult, Stability, Status, WireSection,
    decode_histogram, merge_results, merge_wire,
};

use crate::model::matrix::AccessPath;
use crate::model::nas::{self, Measured};
use crate::model::plan::Plan;
use crate::model::results::{
    AttemptStatus, CellRecord, PodRecord, ResultsDir, ResultsError, RunRecord,
};
use crate::model::summary::{
    Best, CellSummary, ClientFigures, ClientRun, Headline, MIN_REPETITIONS, MountEfficiency,
    OpLatency, OptionsSummary, RepetitionFigures, RpcOp, RpcSource, RpcSummary,
    SUMMARY_SCHEMA_VERSION, Spread, Summary, UNSTABLE_CV, Units,
};
use crate::nfs::mount_options::{MountOptions, diff};
use crate::nfs::protocol::ProtocolOptions;

/// `options.fstype` of protocol cells: no mount, the user-space NFSv3 client.
pub(crate) const PROTOCOL_FSTYPE: &str = "nfs3-protocol";

/// Percentiles of the latency curves.
pub(crate) const CURVE_PERCENTILES: [f64; 12] = [
    1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99,
];

/// Why a run could not be aggregated.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// A results file could not be read.
    #[error("cannot aggregate the run")]
    Results(#[from] ResultsError),
    /// Results of one repetition do not merge.
    #[error("cannot merge the results of cell `{cell}` repetition {repetition}")]
    Merge {
        /// Cell id.
        cell: String,
        /// Repetition.
        repetition: u32,
        /// Why.
        #[source]
        source: MergeError,
    },
}

/// The results of one attempt: each pod with its parsed document.
pub(crate) type AttemptResults = Vec<(PodRecord, RunResult)>;

/// Median, extremes, mean, sample standard deviation and coefficient of variation of
/// `values`; `None` when empty.
#[must_use]
pub(crate) fn spread(values: &[f64]) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let stdev = if n > 1 {
        (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let cv = (n > 1 && mean != 0.0).then(|| stdev / mean.abs());
    Some(Spread {
        n,
        median,
        min: sorted[0],
        max: sorted[n - 1],
        mean,
        stdev,
        cv,
    })
}

/// A spread of values that are not all zero (a figure that does not apply to the
/// workload, such as bandwidth of a metadata job, stays absent).
fn spread_nonzero(values: &[f64]) -> Option<Spread> {
    if values.iter().all(|v| *v == 0.0) {
        None
    } else {
        spread(values)
    }
}

/// The figure a pattern is judged by.
#[must_use]
pub(crate) fn headline_of(pattern: Pattern) -> Headline {
    match pattern {
        Pattern::Read | Pattern::Write => Headline::Bandwidth,
        Pattern::Randread | Pattern::Randwrite | Pattern::Randrw | Pattern::FsyncLatency => {
            Headline::Iops
        }
        Pattern::Metadata => Headline::OpsPerSec,
    }
}

/// Reads a run directory and aggregates it.
pub fn summarize_dir(dir: &ResultsDir) -> Result<Summary, AggregateError> {
    let record = dir.read_record()?;
    let plan = dir.read_plan().ok();
    let mut results: BTreeMap<(String, u32), AttemptResults> = BTreeMap::new();
    for attempt in &record.attempts {
        if attempt.status != AttemptStatus::Ok {
            continue;
        }
        let mut pods = Vec::new();
        for pod in &attempt.pods {
            if let Some(path) = &pod.result {
                pods.push((pod.clone(), dir.read_raw(path)?));
            }
        }
        results.insert((attempt.cell.clone(), attempt.repetition), pods);
    }
    summarize(&record, plan.as_ref(), &results)
}

/// Aggregates a run from its record and the parsed results of its attempts, keyed by
/// (cell id, repetition).
pub(crate) fn summarize(
    record: &RunRecord,
    plan: Option<&Plan>,
    results: &BTreeMap<(String, u32), AttemptResults>,
) -> Result<Summary, AggregateError> {
    let mut cells = Vec::new();
    for cell in &record.cells {
        cells.push(summarize_cell(record, cell, results)?);
    }
    let efficiencies: Vec<Option<MountEfficiency>> =
        cells.iter().map(|c| mount_efficiency(c, &cells)).collect();
    for (cell, efficiency) in cells.iter_mut().zip(efficiencies) {
        cell.mount_efficiency = efficiency;
    }
    let best = best_profiles(&cells);
    let nas = plan.and_then(|p| p.nas.as_ref()).map(|reference| {
        let measured: Vec<Measured> = best
            .iter()
            .filter_map(|b| {
                let cell = cells.iter().find(|c| {
                    c.server == b.server
                        && c.workload == b.workload
                        && c.clients == b.clients
                        && c.profile == b.profile
                        && c.access == b.access
                })?;
                Some(Measured {
                    workload: cell.workload.clone(),
                    server: cell.server.clone(),
                    profile: cell.profile.clone(),
                    reads: cell.pattern.parse::<Pattern>().is_ok_and(Pattern::reads),
                    bandwidth_bytes_per_sec: cell.bandwidth_bytes_per_sec.map_or(0.0, |s| s.median),
                    iops: cell.iops.map_or(0.0, |s| s.median),
                })
            })
            .collect();
        nas::compare(reference, &measured)
    });
    Ok(Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        run_id: record.run_id.clone(),
        tool_version: record.tool_version.clone(),
        plan: record.plan.clone(),
        status: record.status,
        started: record.started.clone(),
        finished: record.finished.clone(),
        environment: record.environment.clone(),
        repetitions: record.repetitions,
        units: Units::default(),
        cells,
        best,
        nas,
        warnings: plan.map(Plan::active_warnings).unwrap_or_default(),
    })
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::IoError => "io_error",
        Status::VerifyFailed => "verify_failed",
    }
}

struct Counted<'a> {
    repetition: u32,
    pods: &'a AttemptResults,
    merged: MergedResult,
}

fn summarize_cell(
    record: &RunRecord,
    cell: &CellRecord,
    results: &BTreeMap<(String, u32), AttemptResults>,
) -> Result<CellSummary, AggregateError> {
    let id = &cell.cell.id;
    let (counted, failures) = count_repetitions(record, cell, results)?;

    let pattern = cell.job.pattern;
    let headline = headline_of(pattern);
    let figures = |f: &dyn Fn(&MergedResult) -> f64| -> Vec<f64> {
        counted.iter().map(|c| f(&c.merged)).collect()
    };
    let bandwidth = spread_nonzero(&figures(&|m| m.totals.bandwidth_bytes_per_sec));
    let iops = spread_nonzero(&figures(&|m| m.totals.iops));
    let ops_per_sec = spread_nonzero(&figures(&|m| m.totals.all_ops_per_sec));
    let headline_cv = match headline {
        Headline::Bandwidth => bandwidth.and_then(|s| s.cv),
        Headline::Iops => iops.and_then(|s| s.cv),
        Headline::OpsPerSec => ops_per_sec.and_then(|s| s.cv),
    };

    let repetitions: Vec<RepetitionFigures> = counted.iter().map(repetition_figures).collect();
    let per_client = client_figures(&repetitions, cell.cell.clients);
    let latency = latency(id, &counted)?;
    let all: Vec<&RunResult> = counted
        .iter()
        .flat_map(|c| c.pods.iter().map(|(_, r)| r))
        .collect();

    let Observed {
        notes,
        errors,
        cache,
        mechanism,
    } = observed(&all);
    let cpu: Vec<f64> = counted
        .iter()
        .filter_map(|c| c.merged.cpu.seconds_per_gib)
        .collect();
    let wires: Vec<&WireSection> = all.iter().filter_map(|r| r.wire.as_ref()).collect();

    Ok(CellSummary {
        id: id.clone(),
        server: cell.cell.server.clone(),
        workload: cell.cell.workload.clone(),
        profile: cell.cell.profile.clone(),
        clients: cell.cell.clients,
        pattern: pattern.name().to_owned(),
        block_size: cell.job.resolve().map_or(0, |j| j.bs),
        headline,
        repetitions_planned: record.repetitions,
        repetitions_ok: u32::try_from(counted.len()).unwrap_or(u32::MAX),
        failures,
        bandwidth_bytes_per_sec: bandwidth,
        iops,
        ops_per_sec,
        headline_cv,
        unstable: headline_cv.is_some_and(|cv| cv > UNSTABLE_CV),
        latency,
        repetitions,
        per_client,
        options: match &cell.protocol {
            Some(protocol) => protocol_options_summary(&cell.requested_options, protocol, &all),
            None => options_summary(&cell.requested_options, &all),
        },
        rpc: rpc_summary(&counted),
        cache,
        cpu_seconds_per_gib: spread(&cpu).map(|s| s.median),
        errors,
        notes,
        access: cell.cell.access,
        mount_efficiency: None,
        // What the clients ran, as they report it (the record's job when none reported).
        job: all
            .first()
            .map(|r| r.effective.job.clone())
            .or_else(|| cell.job.resolve().ok()),
        command: Some(command_line(
            record,
            cell,
            all.first().map_or(&cell.job, |r| &r.job),
        )),
        mechanism,
        wire: merge_wire(&wires),
    })
}

/// The repetitions of a cell that count (measured, every client `ok`), in repetition
/// order, each with its clients' results merged; and a line for each that does not.
fn count_repetitions<'a>(
    record: &RunRecord,
    cell: &CellRecord,
    results: &'a BTreeMap<(String, u32), AttemptResults>,
) -> Result<(Vec<Counted<'a>>, Vec<String>), AggregateError> {
    let id = &cell.cell.id;
    let mut failures = Vec::new();
    let mut counted: Vec<Counted<'_>> = Vec::new();
    for attempt in record.attempts.iter().filter(|a| &a.cell == id) {
        let rep = attempt.repetition;
        match attempt.status {
            AttemptStatus::Ok => {}
            AttemptStatus::Failed | AttemptStatus::Interrupted => {
                let why = attempt.message.as_deref().unwrap_or("no reason recorded");
                let word = if attempt.status == AttemptStatus::Failed {
                    "failed"
                } else {
                    "interrupted"
                };
                failures.push(format!("repetition {rep} {word}: {why}"));
                continue;
            }
        }
        let Some(pods) = results.get(&(id.clone(), rep)) else {
            failures.push(format!("repetition {rep}: no results recorded"));
            continue;
        };
        if let Some((pod, bad)) = pods.iter().find(|(_, r)| r.status != Status::Ok) {
            let detail = bad
                .error
                .as_ref()
                .map_or_else(String::new, |e| format!(" ({})", e.message));
            failures.push(format!(
                "repetition {rep}: client {} ended with status `{}`{detail}",
                pod.client,
                status_name(bad.status)
            ));
            continue;
        }
        if pods.len() < cell.cell.clients as usize {
            failures.push(format!(
                "repetition {rep}: {} of {} clients reported",
                pods.len(),
                cell.cell.clients
            ));
            continue;
        }
        let docs: Vec<RunResult> = pods.iter().map(|(_, r)| r.clone()).collect();
        let merged = merge_results(&docs).map_err(|source| AggregateError::Merge {
            cell: id.clone(),
            repetition: rep,
            source,
        })?;
        counted.push(Counted {
            repetition: rep,
            pods,
            merged,
        });
    }
    counted.sort_by_key(|c| c.repetition);
    Ok((counted, failures))
}

/// What the clients of a cell's counted repetitions report beyond their figures.
struct Observed {
    /// Their notes, each once, in order.
    notes: Vec<String>,
    /// Their error counts, summed by name.
    errors: BTreeMap<String, u64>,
    /// The cache mode they ran with (`mixed` when they differ).
    cache: Option<String>,
    /// The IO mechanism they used (`mixed` when they differ).
    mechanism: Option<String>,
}

/// What the clients in `all` report beyond their figures.
fn observed(all: &[&RunResult]) -> Observed {
    let mut notes: Vec<String> = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut caches: Vec<&str> = Vec::new();
    for r in all {
        for n in &r.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
        for (name, count) in &r.errors {
            *errors.entry(name.clone()).or_insert(0) += count;
        }
        if !caches.contains(&r.effective.cache.as_str()) {
            caches.push(&r.effective.cache);
        }
    }
    let cache = match caches.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        _ => Some("mixed".to_owned()),
    };
    let mut mechanisms: Vec<&str> = Vec::new();
    for r in all {
        if let Some(io) = &r.io
            && !mechanisms.contains(&io.mechanism.as_str())
        {
            mechanisms.push(&io.mechanism);
        }
    }
    let mechanism = match mechanisms.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        _ => Some("mixed".to_owned()),
    };
    Observed {
        notes,
        errors,
        cache,
        mechanism,
    }
}

/// The line that reproduces one client of `cell` running `job` outside Kubernetes: the
/// mount the client pod had (server, export, the profile's options) and the `nfslab-io
/// run` of its job; for protocol cells the user-space client's target and options instead;
/// for local directories (fixtures) the directory.
#[must_use]
pub(crate) fn command_line(record: &RunRecord, cell: &CellRecord, job: &Job) -> String {
    let flags = job.command_flags().join(" ");
    let server = record
        .environment
        .servers
        .iter()
        .find(|s| s.name == cell.cell.server);
    let Some(server) = server else {
        return format!("nfslab-io run --dir DIR {flags}");
    };
    if server.flavor == "local" {
        return format!("nfslab-io run --dir {} {flags}", server.export);
    }
    if let Some(protocol) = &cell.protocol {
        let options = if protocol.options.is_empty() {
            String::new()
        } else {
            format!(" --nfs-options {}", protocol.options.join(","))
        };
        return format!(
            "nfslab-io run --target nfs://{}{}{options} {flags}",
            server.address, server.export
        );
    }
    let options = if cell.requested_options.is_empty() {
        String::new()
    } else {
        format!(" -o {}", cell.requested_options.join(","))
    };
    format!(
        "mount -t nfs{options} {}:{} /mnt/nfslab && nfslab-io run --dir /mnt/nfslab {flags}",
        server.address, server.export
    )
}

/// The mount efficiency of a mount cell of a host run: its headline median over that of
/// the protocol cell of the same server, workload, profile and clients, and the same for
/// the p99 latency of the workload's primary operation.
#[must_use]
pub fn mount_efficiency(cell: &CellSummary, cells: &[CellSummary]) -> Option<MountEfficiency> {
    if cell.access != Some(AccessPath::Mount) {
        return None;
    }
    let protocol = cells.iter().find(|c| {
        c.access == Some(AccessPath::Protocol)
            && c.server == cell.server
            && c.workload == cell.workload
            && c.profile == cell.profile
            && c.clients == cell.clients
    })?;
    let mount_median = cell.headline_spread()?.median;
    let protocol_median = protocol.headline_spread()?.median;
    if protocol_median <= 0.0 {
        return None;
    }
    let op = cell
        .primary_op()
        .filter(|op| protocol.latency.contains_key(*op))
        .map(str::to_owned);
    let p99 = |c: &CellSummary| {
        op.as_ref()
            .and_then(|op| c.latency.get(op))
            .map(|l| l.latency_ns.p99)
    };
    let (mount_p99, protocol_p99) = (p99(cell), p99(protocol));
    Some(MountEfficiency {
        protocol_cell: protocol.id.clone(),
        headline: cell.headline,
        mount: mount_median,
        protocol: protocol_median,
        ratio: mount_median / protocol_median,
        latency_op: op,
        mount_p99_ns: mount_p99,
        protocol_p99_ns: protocol_p99,
        p99_ratio: match (mount_p99, protocol_p99) {
            (Some(m), Some(p)) if p > 0 => Some(m as f64 / p as f64),
            _ => None,
        },
    })
}

fn repetition_figures(c: &Counted<'_>) -> RepetitionFigures {
    let starts: Vec<u64> = c.pods.iter().map(|(_, r)| r.window.start_unix_ns).collect();
    let skew = match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => 0.0,
    };
    RepetitionFigures {
        repetition: c.repetition,
        status: status_name(c.merged.status).to_owned(),
        clients: c.pods.len(),
        window_seconds: c.merged.window.seconds,
        start_skew_seconds: skew,
        bandwidth_bytes_per_sec: c.merged.totals.bandwidth_bytes_per_sec,
        iops: c.merged.totals.iops,
        ops_per_sec: c.merged.totals.all_ops_per_sec,
        per_client: c
            .pods
            .iter()
            .map(|(pod, r)| ClientRun {
                client: pod.client,
                node: pod.node.clone(),
                bandwidth_bytes_per_sec: r.totals.bandwidth_bytes_per_sec,
                iops: r.totals.iops,
                ops_per_sec: r.totals.all_ops_per_sec,
            })
            .collect(),
    }
}

fn client_figures(repetitions: &[RepetitionFigures], clients: u32) -> Vec<ClientFigures> {
    (0..clients)
        .map(|client| {
            let runs: Vec<&ClientRun> = repetitions
                .iter()
                .flat_map(|r| r.per_client.iter().filter(|c| c.client == client))
                .collect();
            let values =
                |f: &dyn Fn(&ClientRun) -> f64| runs.iter().map(|c| f(c)).collect::<Vec<_>>();
            ClientFigures {
                client,
                bandwidth_bytes_per_sec: spread_nonzero(&values(&|c| c.bandwidth_bytes_per_sec)),
                iops: spread_nonzero(&values(&|c| c.iops)),
                ops_per_sec: spread_nonzero(&values(&|c| c.ops_per_sec)),
            }
        })
        .collect()
}

fn latency(
    cell: &str,
    counted: &[Counted<'_>],
) -> Result<BTreeMap<String, OpLatency>, AggregateError> {
    let all: Vec<RunResult> = counted
        .iter()
        .flat_map(|c| c.pods.iter().map(|(_, r)| r.clone()))
        .collect();
    if all.is_empty() {
        return Ok(BTreeMap::new());
    }
    let merged = merge_results(&all).map_err(|source| AggregateError::Merge {
        cell: cell.to_owned(),
        repetition: 0,
        source,
    })?;
    let mut out = BTreeMap::new();
    for (kind, stats) in &merged.ops {
        if stats.ops == 0 {
            continue;
        }
        let p99s: Vec<f64> = counted
            .iter()
            .filter_map(|c| c.merged.ops.get(kind))
            .map(|s| s.latency_ns.p99 as f64)
            .collect();
        let curve = decode_histogram(&stats.histogram)
            .map(|h| {
                CURVE_PERCENTILES
                    .iter()
                    .map(|p| (*p, h.value_at_quantile(p / 100.0)))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            kind.clone(),
            OpLatency {
                ops: stats.ops,
                latency_ns: stats.latency_ns,
                p99_spread: spread(&p99s),
                curve,
                histogram: stats.histogram.clone(),
            },
        );
    }
    Ok(out)
}

/// Effective options as the kernel reports them for one result (per-mount then super
/// options, duplicates such as `rw` once).
fn effective_options(r: &RunResult) -> Option<(Vec<String>, String)> {
    let m = r.mount.as_ref()?;
    let parsed = MountOptions::parse_effective(&[
        m.mount.mount_options.join(","),
        m.mount.super_options.join(","),
    ]);
    let mut out: Vec<String> = Vec::new();
    for option in parsed.canonical() {
        if !out.contains(&option) {
            out.push(option);
        }
    }
    Some((out, m.mount.fstype.clone()))
}

fn options_summary(requested: &[String], results: &[&RunResult]) -> OptionsSummary {
    let reported: Vec<(Vec<String>, String)> = results
        .iter()
        .filter_map(|r| effective_options(r))
        .collect();
    let first = reported.first().cloned();
    let consistent = reported.iter().all(|(o, _)| {
        let mut a = o.clone();
        let mut b = first.as_ref().map(|(f, _)| f.clone()).unwrap_or_default();
        a.sort();
        b.sort();
        a == b
    });
    let asked = MountOptions::parse_requested(requested).unwrap_or_default();
    let diff = first
        .as_ref()
        .map(|(effective, _)| diff(&asked, &MountOptions::parse_effective(effective)))
        .unwrap_or_default();
    OptionsSummary {
        requested: requested.to_vec(),
        effective: first.as_ref().map(|(o, _)| o.clone()),
        fstype: first.map(|(_, f)| f),
        consistent,
        diff,
        not_applicable: Vec::new(),
    }
}

/// The protocol client's parameters in effect, as mount options (the shape reports compare
/// requested options with).
fn protocol_effective(r: &RunResult) -> Option<Vec<String>> {
    let e = &r.nfs.as_ref()?.effective;
    let mut out = vec![
        "vers=3".to_owned(),
        "proto=tcp".to_owned(),
        format!("rsize={}", e.rsize),
        format!("wsize={}", e.wsize),
        format!("nconnect={}", e.nconnect),
        e.retry.name().to_owned(),
        format!("timeo={}", e.timeo),
        format!("retrans={}", e.retrans),
        if e.attr_cache { "ac" } else { "noac" }.to_owned(),
        format!("acregmin={}", e.acregmin),
        format!("acdirmin={}", e.acdirmin),
        if e.rdirplus { "rdirplus" } else { "nordirplus" }.to_owned(),
    ];
    out.push(match e.stable {
        Stability::FileSync => "sync".to_owned(),
        Stability::Unstable => "async".to_owned(),
        Stability::DataSync => "stable=data_sync".to_owned(),
    });
    out.push("sec=sys".to_owned());
    out.push(if e.resvport { "resvport" } else { "noresvport" }.to_owned());
    Some(out)
}

/// Requested vs effective options of a protocol cell: the options the client was given
/// against those it used, and the profile options without a protocol equivalent.
fn protocol_options_summary(
    requested: &[String],
    protocol: &ProtocolOptions,
    results: &[&RunResult],
) -> OptionsSummary {
    let reported: Vec<Vec<String>> = results
        .iter()
        .filter_map(|r| protocol_effective(r))
        .collect();
    let first = reported.first().cloned();
    let consistent = reported.iter().all(|o| Some(o) == first.as_ref());
    let asked = MountOptions::parse_requested(&protocol.options).unwrap_or_default();
    let diff = first
        .as_ref()
        .map(|effective| diff(&asked, &MountOptions::parse_effective(effective)))
        .unwrap_or_default();
    OptionsSummary {
        requested: requested.to_vec(),
        fstype: first.as_ref().map(|_| PROTOCOL_FSTYPE.to_owned()),
        effective: first,
        consistent,
        diff,
        not_applicable: protocol.not_applicable.clone(),
    }
}

/// Sums of one operation's RPC figures: requests, retransmissions, and the round-trip and
/// execution times summed over `timed` replies.
#[derive(Default)]
struct RpcSums {
    ops: u64,
    retransmits: u64,
    rtt_ms: f64,
    execute_ms: f64,
    timed: u64,
}

impl RpcSums {
    fn op(&self) -> RpcOp {
        let per = |t: f64| {
            if self.timed > 0 {
                t / self.timed as f64
            } else {
                0.0
            }
        };
        RpcOp {
            ops: self.ops,
            retransmits: self.retransmits,
            avg_rtt_ms: per(self.rtt_ms),
            avg_execute_ms: per(self.execute_ms),
        }
    }
}

/// The RPC statistics of a cell: kernel `mountstats` deltas of NFS mounts, or, for protocol
/// cells, the user-space client's own counters (requests = transmissions less
/// retransmissions; times weighted by replies).
fn rpc_summary(counted: &[Counted<'_>]) -> Option<RpcSummary> {
    let mut sums: BTreeMap<String, RpcSums> = BTreeMap::new();
    let (mut total, mut retransmits, mut major, mut reps) = (0, 0, 0, 0);
    let mut source = RpcSource::Mountstats;
    for c in counted {
        let mut any = false;
        for (_, r) in c.pods {
            let kernel = r
                .mount
                .as_ref()
                .filter(|m| m.mount.is_nfs())
                .and_then(|m| m.mountstats_delta.as_ref());
            if let Some(delta) = kernel {
                any = true;
                total += delta.total_rpcs;
                retransmits += delta.total_retransmits;
                major += delta.total_major_timeouts;
                for (name, op) in &delta.ops {
                    let e = sums.entry(name.clone()).or_default();
                    e.ops += op.counters.ops;
                    e.retransmits += op.retransmits;
                    e.rtt_ms += op.counters.rtt_ms as f64;
                    e.execute_ms += op.counters.execute_ms as f64;
                    e.timed += op.counters.ops;
                }
            } else if let Some(rpc) = r.nfs.as_ref().and_then(|n| n.rpc.as_ref()) {
                any = true;
                source = RpcSource::Client;
                total += rpc.totals.requests();
                retransmits += rpc.totals.retransmissions;
                major += rpc.events.get("major_timeouts").copied().unwrap_or(0);
                for (name, p) in &rpc.procedures {
                    let e = sums.entry(name.clone()).or_default();
                    e.ops += p.requests();
                    e.retransmits += p.retransmissions;
                    e.rtt_ms += p.avg_rtt_ms * p.calls as f64;
                    e.execute_ms += p.avg_exe_ms * p.calls as f64;
                    e.timed += p.calls;
                }
            }
        }
        reps += usize::from(any);
    }
    (reps > 0).then(|| RpcSummary {
        source,
        repetitions: reps,
        total_rpcs: total,
        retransmits,
        major_timeouts: major,
        ops: sums.into_iter().map(|(name, s)| (name, s.op())).collect(),
    })
}

/// The best profile of each (server, workload, clients, access path) by headline median.
#[must_use]
pub(crate) fn best_profiles(cells: &[CellSummary]) -> Vec<Best> {
    let mut groups: Vec<(&str, &str, u32, Option<AccessPath>)> = Vec::new();
    for c in cells {
        let key = (c.server.as_str(), c.workload.as_str(), c.clients, c.access);
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    groups
        .into_iter()
        .filter_map(|(server, workload, clients, access)| {
            let mut ranked: Vec<(&CellSummary, Spread)> = cells
                .iter()
                .filter(|c| {
                    c.server == server
                        && c.workload == workload
                        && c.clients == clients
                        && c.access == access
                })
                .filter_map(|c| c.headline_display().map(|s| (c, s)))
                .collect();
            ranked.sort_by(|a, b| b.1.median.total_cmp(&a.1.median));
            let (winner, ws) = ranked.first()?;
            let runner = ranked.get(1);
            let n = runner.map_or(ws.n, |(_, s)| ws.n.min(s.n));
            let why_not_clear = match runner {
                None => Some("no other profile to beat".to_owned()),
                Some(_) if n < MIN_REPETITIONS => Some(format!(
                    "n={n}: fewer than {MIN_REPETITIONS} repetitions, the spread is unknown"
                )),
                Some((_, s)) if ws.min <= s.max => Some(format!(
                    "ranges overlap ({}–{} vs {}–{})",
                    crate::model::summary::number(ws.min),
                    crate::model::summary::number(ws.max),
                    crate::model::summary::number(s.min),
                    crate::model::summary::number(s.max)
                )),
                Some(_) => None,
            };
            Some(Best {
                server: server.to_owned(),
                workload: workload.to_owned(),
                clients,
                headline: winner.headline,
                profile: winner.profile.clone(),
                value: ws.median,
                runner_up: runner.map(|(c, s)| (c.profile.clone(), s.median)),
                clear: why_not_clear.is_none(),
                n,
                why_not_clear,
                access,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfslab_workload::{
        BackendInfo, Cpu, Effective, Measures, MountInfo, MountSection, MountStatsDelta, OpStats,
        Phases, RpcOpCounters, RpcOpDelta, Tool, Totals, Window, new_histogram,
    };

    use crate::model::environment::Environment;
    use crate::model::matrix::Cell;
    use crate::model::results::{Attempt, RunStatus};
    use crate::nfs::mount_options::DiffKind;

    /// A result document with `ops` reads of `latency_ns` each over `seconds`, as one pod
    /// would report it (built through the engine's own types and histogram encoding).
    fn result(start_ns: u64, seconds: f64, ops: u64, latency_ns: &[u64]) -> RunResult {
        let mut h = new_histogram();
        for (i, v) in latency_ns.iter().enumerate() {
            let n =
                ops / latency_ns.len() as u64 + u64::from(i == 0) * (ops % latency_ns.len() as u64);
            h.record_n(*v, n).unwrap();
        }
        let bytes = ops * 4096;
        let mut op_map = BTreeMap::new();
        op_map.insert(
            "read".to_owned(),
            OpStats::from_histogram(&h, ops, bytes, seconds),
        );
        let job = Job::new(Pattern::Randread);
        RunResult {
            schema_version: nfslab_workload::SCHEMA_VERSION,
            tool: Tool::current(),
            status: Status::Ok,
            error: None,
            job: job.clone(),
            backend: BackendInfo {
                name: "posix".to_owned(),
                target: "/data".to_owned(),
            },
            effective: Effective {
                job: job.resolve().unwrap(),
                iodepth_effective: 1,
                direct_used: true,
                cache: "direct".to_owned(),
                direct_note: None,
                files_reused: 1,
                files_created: 0,
            },
            io: None,
            phases: Phases::default(),
            measures: Measures {
                window: Window {
                    start_unix_ns: start_ns,
                    seconds,
                },
                totals: Totals::from_ops(&op_map, seconds, 0),
                ops: op_map,
                series: Vec::new(),
                cpu: Cpu::new(0.1, 0.2, bytes),
                errors: BTreeMap::new(),
                verify: None,
            },
            mount: Some(MountSection {
                path: "/data".to_owned(),
                mount: MountInfo {
                    mount_id: 1,
                    parent_id: 0,
                    device: "0:52".to_owned(),
                    root: "/".to_owned(),
                    mount_point: "/data".to_owned(),
                    mount_options: vec!["rw".to_owned(), "relatime".to_owned()],
                    optional_fields: vec![],
                    fstype: "nfs4".to_owned(),
                    source: "10.96.0.5:/exports".to_owned(),
                    super_options: "rw,vers=4.2,rsize=262144,wsize=262144,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.244.1.5,local_lock=none,addr=10.96.0.5"
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                },
                nfs_options: None,
                mountstats_delta: Some(MountStatsDelta {
                    ops: BTreeMap::from([(
                        "READ".to_owned(),
                        RpcOpDelta {
                            counters: RpcOpCounters {
                                ops,
                                transmissions: ops + 1,
                                rtt_ms: ops * 2,
                                execute_ms: ops * 3,
                                ..RpcOpCounters::default()
                            },
                            retransmits: 1,
                            avg_rtt_ms: 2.0,
                            avg_execute_ms: 3.0,
                        },
                    )]),
                    total_rpcs: ops,
                    total_retransmits: 1,
                    ..MountStatsDelta::default()
                }),
            }),
            nfs: None,
            wire: None,
            notes: vec!["iodepth 1".to_owned()],
        }
    }

    fn record(clients: u32, reps: &[(u32, AttemptStatus)]) -> RunRecord {
        let cell = Cell {
            index: 0,
            id: format!("s/rand-read-4k/p/k{clients}"),
            server: "s".to_owned(),
            workload: "rand-read-4k".to_owned(),
            profile: "p".to_owned(),
            clients,
            access: None,
        };
        RunRecord {
            schema_version: 1,
            run_id: "r".to_owned(),
            tool_version: "0".to_owned(),
            plan: "t".to_owned(),
            started: "2026-11-23T15:00:00Z".to_owned(),
            finished: None,
            status: RunStatus::Complete,
            environment: Environment::default(),
            repetitions: 3,
            cells: vec![CellRecord {
                cell: cell.clone(),
                requested_options: vec!["vers=4".to_owned(), "rsize=1048576".to_owned()],
                job: Job::new(Pattern::Randread),
                protocol: None,
            }],
            attempts: reps
                .iter()
                .map(|(rep, status)| Attempt {
                    cell: cell.id.clone(),
                    repetition: *rep,
                    status: *status,
                    message: (*status != AttemptStatus::Ok).then(|| "pod evicted".to_owned()),
                    pods: vec![],
                })
                .collect(),
        }
    }

    fn pod(client: u32) -> PodRecord {
        PodRecord {
            client,
            pod: format!("c{client}"),
            node: Some(format!("node-{client}")),
            result: None,
            exit_code: Some(0),
        }
    }

    #[test]
    fn spread_median_and_cv() {
        let s = spread(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.mean), (2.0, 1.0, 3.0, 2.0));
        assert!((s.stdev - 1.0).abs() < 1e-12);
        assert!((s.cv.unwrap() - 0.5).abs() < 1e-12);
        let even = spread(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(even.median, 2.5);
        let one = spread(&[7.0]).unwrap();
        assert_eq!((one.median, one.stdev, one.cv), (7.0, 0.0, None));
        assert!(spread(&[]).is_none());
        // 100, 110, 90: stdev 10, cv 0.1 exactly: not above the threshold.
        let edge = spread(&[100.0, 110.0, 90.0]).unwrap();
        assert!((edge.cv.unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn two_clients_merge_exactly_and_repetitions_give_median_and_cv() {
        let rec = record(
            2,
            &[
                (1, AttemptStatus::Ok),
                (2, AttemptStatus::Ok),
                (3, AttemptStatus::Ok),
            ],
        );
        let id = rec.cells[0].cell.id.clone();
        let mut results = BTreeMap::new();
        // Per repetition: two clients over the same 10 s window. Client 0 fast (100 us),
        // client 1 slow (1 ms), with 1000 and 100 reads... per rep the counts scale.
        for (rep, scale) in [(1u32, 1u64), (2, 2), (3, 3)] {
            let start = 1_000_000_000_000 * u64::from(rep);
            results.insert(
                (id.clone(), rep),
                vec![
                    (pod(0), result(start, 10.0, 9900 * scale, &[100_000])),
                    (
                        pod(1),
                        result(start + 5_000_000, 10.0, 100 * scale, &[1_000_000]),
                    ),
                ],
            );
        }
        let summary = summarize(&rec, None, &results).unwrap();
        let cell = &summary.cells[0];
        assert_eq!(cell.repetitions_ok, 3);
        assert_eq!(cell.headline, Headline::Iops);
        // Aggregate IOPS per repetition: (9900+100)*scale ops over the union window of
        // 10.005 s.
        let iops = cell.iops.unwrap();
        let per = |scale: f64| 10_000.0 * scale / 10.005;
        assert!((iops.median - per(2.0)).abs() < 1e-6, "{iops:?}");
        assert!((iops.min - per(1.0)).abs() < 1e-6);
        assert!((iops.max - per(3.0)).abs() < 1e-6);
        assert!((iops.cv.unwrap() - 0.5).abs() < 1e-9);
        assert!(cell.unstable);
        assert!((cell.repetitions[0].start_skew_seconds - 0.005).abs() < 1e-9);
        // Exact merge: 99% of reads took 100 us, 1% took 1 ms, so p99 is 100 us and p99.9
        // is 1 ms; averaging the two clients' p99 (100 us and 1 ms) would give 550 us.
        let read = &cell.latency["read"];
        assert_eq!(read.ops, 60_000);
        let near = |v: u64, target: u64| (v as f64 - target as f64).abs() / target as f64 <= 0.001;
        assert!(near(read.latency_ns.p99, 100_000), "{:?}", read.latency_ns);
        assert!(
            near(read.latency_ns.p99_9, 1_000_000),
            "{:?}",
            read.latency_ns
        );
        assert_eq!(read.curve.len(), CURVE_PERCENTILES.len());
        assert!(read.curve.windows(2).all(|w| w[0].1 <= w[1].1));
        // Per client over repetitions.
        assert_eq!(cell.per_client.len(), 2);
        let c1 = cell.per_client[1].iops.unwrap();
        assert!((c1.median - 20.0).abs() < 1e-9, "{c1:?}");
        // RPC statistics summed over pods and repetitions.
        let rpc = cell.rpc.as_ref().unwrap();
        assert_eq!(rpc.source, RpcSource::Mountstats);
        assert_eq!(rpc.repetitions, 3);
        assert_eq!(rpc.total_rpcs, 60_000);
        assert_eq!(rpc.retransmits, 6);
        assert!((rpc.ops["READ"].avg_rtt_ms - 2.0).abs() < 1e-12);
        assert_eq!(cell.cache.as_deref(), Some("direct"));
        assert_eq!(cell.notes, ["iodepth 1"]);
    }

    #[test]
    fn requested_vs_effective_is_recorded_per_cell() {
        let rec = record(1, &[(1, AttemptStatus::Ok)]);
        let id = rec.cells[0].cell.id.clone();
        let results = BTreeMap::from([((id, 1), vec![(pod(0), result(0, 1.0, 10, &[1000]))])]);
        let cell = &summarize(&rec, None, &results).unwrap().cells[0];
        let o = &cell.options;
        assert_eq!(o.fstype.as_deref(), Some("nfs4"));
        assert!(o.consistent);
        let effective = o.effective.as_ref().unwrap();
        assert_eq!(effective.iter().filter(|x| *x == "rw").count(), 1);
        let flagged: Vec<(&str, DiffKind)> = o
            .flagged()
            .iter()
            .map(|d| (d.key.as_str(), d.kind))
            .collect();
        assert_eq!(
            flagged,
            [("vers", DiffKind::Changed), ("rsize", DiffKind::Changed)]
        );
    }

    #[test]
    fn failed_and_partial_repetitions_are_listed_not_counted() {
        let rec = record(
            2,
            &[
                (1, AttemptStatus::Ok),
                (2, AttemptStatus::Failed),
                (3, AttemptStatus::Ok),
            ],
        );
        let id = rec.cells[0].cell.id.clone();
        let mut bad = result(0, 1.0, 10, &[1000]);
        bad.status = Status::IoError;
        let results = BTreeMap::from([
            (
                (id.clone(), 1),
                vec![(pod(0), result(0, 1.0, 10, &[1000])), (pod(1), bad)],
            ),
            ((id, 3), vec![(pod(0), result(0, 1.0, 10, &[1000]))]),
        ]);
        let cell = &summarize(&rec, None, &results).unwrap().cells[0];
        assert_eq!(cell.repetitions_ok, 0);
        assert_eq!(cell.failures.len(), 3, "{:?}", cell.failures);
        assert!(cell.failures[0].contains("client 1 ended with status `io_error`"));
        assert!(cell.failures[1].contains("repetition 2 failed: pod evicted"));
        assert!(cell.failures[2].contains("1 of 2 clients reported"));
        assert!(cell.iops.is_none() && !cell.unstable);
    }

    fn cell_with(profile: &str, values: &[f64]) -> CellSummary {
        let rec = record(1, &[]);
        let mut c = summarize(&rec, None, &BTreeMap::new()).unwrap().cells[0].clone();
        c.profile = profile.to_owned();
        c.iops = spread(values);
        c
    }

    /// A protocol client's result: the pod result without a mount, with an `nfs` section
    /// whose client used `rsize`.
    fn protocol_result(ops: u64, latency_ns: u64, rsize: u32) -> RunResult {
        use nfslab_workload::{EffectiveOptions, FsInfo, NfsOptions, NfsSection, PortSource};
        let mut r = result(0, 1.0, ops, &[latency_ns]);
        r.mount = None;
        let options = NfsOptions::default();
        let effective = EffectiveOptions::new(&options, rsize, 1 << 20, (0, 0));
        r.nfs = Some(NfsSection {
            server: "127.0.0.1".to_owned(),
            address: "127.0.0.1:2049".to_owned(),
            mount_port: 20048,
            ports: PortSource::Portmapper,
            export: "/export".to_owned(),
            path: "/export/x".to_owned(),
            options_requested: String::new(),
            options_effective: effective.to_mount_options(),
            effective,
            differences: Vec::new(),
            ignored: Vec::new(),
            fsinfo: FsInfo {
                rtmax: 1 << 20,
                rtpref: 1 << 20,
                wtmax: 1 << 20,
                wtpref: 1 << 20,
                dtpref: 4096,
                maxfilesize: u64::MAX,
            },
            rpc: None,
        });
        r
    }

    #[test]
    fn protocol_cells_diff_the_client_parameters_and_list_what_does_not_apply() {
        let mut rec = record(1, &[(1, AttemptStatus::Ok)]);
        let requested = vec![
            "vers=4.1".to_owned(),
            "rsize=1048576".to_owned(),
            "nolock".to_owned(),
        ];
        rec.cells[0].requested_options.clone_from(&requested);
        rec.cells[0].cell.access = Some(AccessPath::Protocol);
        rec.cells[0].protocol = Some(crate::nfs::protocol::map_profile(&requested).unwrap());
        let id = rec.cells[0].cell.id.clone();
        let results =
            BTreeMap::from([((id, 1), vec![(pod(0), protocol_result(100, 1000, 262_144))])]);
        let cell = &summarize(&rec, None, &results).unwrap().cells[0];
        assert_eq!(cell.access, Some(AccessPath::Protocol));
        let o = &cell.options;
        assert_eq!(o.requested, requested);
        assert_eq!(o.fstype.as_deref(), Some(PROTOCOL_FSTYPE));
        let na: Vec<&str> = o.not_applicable.iter().map(|n| n.option.as_str()).collect();
        assert_eq!(na, ["vers=4.1", "nolock"]);
        // The server capped rsize: flagged like a kernel mount's negotiation.
        let flagged: Vec<(&str, Option<&str>)> = o
            .flagged()
            .iter()
            .map(|d| (d.key.as_str(), d.effective.as_deref()))
            .collect();
        assert_eq!(flagged, [("rsize", Some("rsize=262144"))]);
        assert!(o.effective.as_ref().unwrap().contains(&"vers=3".to_owned()));
        assert!(cell.rpc.is_none());
    }

    #[test]
    fn mount_efficiency_pairs_mount_and_protocol_cells_of_the_same_job() {
        let mut rec = record(1, &[(1, AttemptStatus::Ok)]);
        let mut protocol = rec.cells[0].clone();
        rec.cells[0].cell.access = Some(AccessPath::Mount);
        protocol.cell.access = Some(AccessPath::Protocol);
        protocol.cell.id.push_str("/protocol");
        protocol.cell.index = 1;
        protocol.protocol = Some(ProtocolOptions::default());
        rec.attempts.push(Attempt {
            cell: protocol.cell.id.clone(),
            repetition: 1,
            status: AttemptStatus::Ok,
            message: None,
            pods: vec![],
        });
        rec.cells.push(protocol);
        let (mount_id, protocol_id) = (rec.cells[0].cell.id.clone(), rec.cells[1].cell.id.clone());
        let results = BTreeMap::from([
            (
                (mount_id, 1),
                vec![(pod(0), result(0, 1.0, 800, &[2_000_000]))],
            ),
            (
                (protocol_id.clone(), 1),
                vec![(pod(0), protocol_result(1000, 1_000_000, 1 << 20))],
            ),
        ]);
        let summary = summarize(&rec, None, &results).unwrap();
        let e = summary.cells[0].mount_efficiency.as_ref().unwrap();
        assert_eq!(e.protocol_cell, protocol_id);
        assert_eq!(e.headline, Headline::Iops);
        assert!((e.ratio - 0.8).abs() < 1e-9, "{e:?}");
        assert_eq!(e.latency_op.as_deref(), Some("read"));
        assert!((e.p99_ratio.unwrap() - 2.0).abs() < 0.01, "{e:?}");
        assert!(summary.cells[1].mount_efficiency.is_none());
        assert_eq!(summary.efficiencies().len(), 1);
        // Each access path is ranked on its own.
        assert_eq!(summary.best.len(), 2);
        assert_eq!(summary.best[1].access, Some(AccessPath::Protocol));
        // Cluster cells (no access path) never get an efficiency.
        let plain = record(1, &[(1, AttemptStatus::Ok)]);
        let id = plain.cells[0].cell.id.clone();
        let results = BTreeMap::from([((id, 1), vec![(pod(0), result(0, 1.0, 10, &[1000]))])]);
        let cell = &summarize(&plain, None, &results).unwrap().cells[0];
        assert!(cell.mount_efficiency.is_none() && cell.access.is_none());
        let json = serde_json::to_string(cell).unwrap();
        assert!(
            !json.contains("mount_efficiency") && !json.contains("not_applicable"),
            "{json}"
        );
    }

    #[test]
    fn best_profile_and_whether_the_win_is_clear() {
        let cells = vec![
            cell_with("a", &[100.0, 110.0, 105.0]),
            cell_with("b", &[120.0, 130.0, 125.0]),
            cell_with("c", &[50.0, 51.0, 52.0]),
        ];
        let best = best_profiles(&cells);
        assert_eq!(best.len(), 1);
        assert_eq!(best[0].profile, "b");
        assert_eq!(best[0].runner_up, Some(("a".to_owned(), 105.0)));
        assert!(best[0].clear, "{:?}", best[0]);
        assert_eq!((best[0].n, best[0].why_not_clear.as_deref()), (3, None));
        // Overlapping ranges: the medians differ, the win is not clear.
        let close = vec![
            cell_with("a", &[100.0, 125.0, 110.0]),
            cell_with("b", &[120.0, 130.0, 125.0]),
        ];
        let b = &best_profiles(&close)[0];
        assert!(!b.clear);
        assert_eq!(
            b.why_not_clear.as_deref(),
            Some("ranges overlap (120–130 vs 100–125)")
        );
        // One repetition each: far apart, but the spread is unknown.
        let once = vec![cell_with("a", &[100.0]), cell_with("b", &[200.0])];
        let b = &best_profiles(&once)[0];
        assert!(!b.clear);
        assert_eq!(b.n, 1);
        assert!(
            b.why_not_clear
                .as_deref()
                .is_some_and(|w| w.starts_with("n=1: fewer than 3"))
        );
        // Two repetitions on one side are too few as well.
        let twice = vec![
            cell_with("a", &[100.0, 101.0, 102.0]),
            cell_with("b", &[200.0, 201.0]),
        ];
        assert_eq!(best_profiles(&twice)[0].n, 2);
        assert!(!best_profiles(&twice)[0].clear);
        let alone = vec![cell_with("a", &[100.0, 101.0, 102.0])];
        assert_eq!(
            best_profiles(&alone)[0].why_not_clear.as_deref(),
            Some("no other profile to beat")
        );
    }
}
