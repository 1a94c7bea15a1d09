//! The result document: public, versioned, `Serialize + Deserialize`.
//!
//! One [`RunResult`] per run, printed as JSON on stdout. Its schema is described in the
//! crate documentation; [`SCHEMA_VERSION`] changes whenever a field changes meaning or
//! disappears (adding fields does not change it).
//!
//! Each operation kind carries its latency histogram (HdrHistogram V2 serialization,
//! base64), so results of many runs (many pods) merge exactly with [`merge_results`]:
//! percentiles of the aggregate come from the summed histograms, never from averaging
//! percentiles.

pub(crate) mod nfs;
pub(crate) mod wire;

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{
    Deserializer as HistDeserializer, Serializer as _, V2Serializer,
};
use serde::{Deserialize, Serialize};

use crate::job::{Job, ResolvedJob};
use crate::mount::MountSection;
use crate::ops::OpKind;
use crate::stats::{Recorder, SeriesPoint, add_series, new_histogram};
use crate::verify::Mismatch;

/// Version of the result schema.
pub const SCHEMA_VERSION: u32 = 1;

/// A protocol backend's own section of the result, next to `mount`: one variant per
/// protocol backend, each kept in its own field of [`RunResult`].
#[derive(Debug, Clone, PartialEq)]
pub enum ProtocolSection {
    /// The NFSv3 client's view of an `nfs://` run (the result's `nfs` field).
    Nfs(nfs::NfsSection),
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every operation succeeded and every verified block matched.
    Ok,
    /// An operation failed (the run stopped; statistics cover what completed).
    IoError,
    /// Verification found bad blocks.
    VerifyFailed,
}

/// The program that produced the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `nfslab-io`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl Tool {
    /// This build.
    #[must_use]
    pub fn current() -> Tool {
        Tool {
            name: "nfslab-io".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The error that stopped a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// Phase: `layout`, `measured`, `verify`, `cleanup`, `barrier`.
    pub phase: String,
    /// errno name (`ENOSPC`) or `short_read` / `short_write`, when an operation failed.
    pub errno: Option<String>,
    /// File involved, if any.
    pub file: Option<String>,
    /// One-line description.
    pub message: String,
}

/// Where the IO went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// `posix` (kernel filesystem calls).
    pub name: String,
    /// Directory (or URL) of the run.
    pub target: String,
}

/// What actually ran, after defaults and after the backend's decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effective {
    /// Every job value decided.
    #[serde(flatten)]
    pub job: ResolvedJob,
    /// Requests in flight per thread actually used.
    pub iodepth_effective: u32,
    /// Whether O_DIRECT was used.
    pub direct_used: bool,
    /// `direct` or `buffered` (buffered reads may measure the page cache).
    pub cache: String,
    /// Why direct IO was not used although asked for, if so.
    pub direct_note: Option<String>,
    /// Files that already had the right size and were reused without writing.
    pub files_reused: u64,
    /// Files this run created.
    pub files_created: u64,
}

/// How the run kept its requests in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoSection {
    /// `sync` (one call at a time per thread), `io_uring`, `threads` (submitter threads),
    /// `rpc-pipeline` (the NFSv3 client).
    pub mechanism: String,
    /// Why that mechanism ran (the job's `ioengine`, the depth, what the io_uring probe
    /// answered).
    pub reason: String,
    /// Requests in flight per thread the mechanism was given.
    pub iodepth: u32,
    /// Most requests one thread had in flight at once in the measured phase (for submitter
    /// threads: calls inside the kernel at once).
    pub max_in_flight: u32,
}

/// Seconds spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Laying out files (not measured).
    pub layout_seconds: f64,
    /// Waiting for the start barrier file.
    pub barrier_wait_seconds: f64,
    /// Ramp (IO not counted).
    pub ramp_seconds: f64,
    /// Measured window.
    pub measured_seconds: f64,
    /// Reading back written blocks for verification (not measured).
    pub verify_seconds: f64,
}

/// The measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Length in seconds: from the end of the ramp to the last completed operation.
    pub seconds: f64,
}

impl Window {
    /// Wall-clock end, nanoseconds since the Unix epoch.
    #[must_use]
    pub fn end_unix_ns(&self) -> u64 {
        self.start_unix_ns + (self.seconds * 1e9).round() as u64
    }
}

/// Latency percentiles of one operation kind, nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
}

impl LatencySummary {
    /// Summary of a histogram (all zero when empty).
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> LatencySummary {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            p99_99: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
            stdev: h.stdev(),
        }
    }
}

/// Statistics of one operation kind over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpStats {
    /// Operations completed.
    pub ops: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// `bytes / window.seconds`.
    pub bandwidth_bytes_per_sec: f64,
    /// `ops / window.seconds`.
    pub ops_per_sec: f64,
    /// Latency summary, ns.
    pub latency_ns: LatencySummary,
    /// HdrHistogram V2 serialization (base64) of the latencies in ns.
    pub histogram: String,
}

impl OpStats {
    /// Statistics from a histogram and counters over a window.
    #[must_use]
    pub fn from_histogram(
        h: &Histogram<u64>,
        ops: u64,
        bytes: u64,
        window_seconds: f64,
    ) -> OpStats {
        OpStats {
            ops,
            bytes,
            bandwidth_bytes_per_sec: rate(bytes, window_seconds),
            ops_per_sec: rate(ops, window_seconds),
            latency_ns: LatencySummary::of(h),
            histogram: encode_histogram(h),
        }
    }
}

fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Totals over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Bytes read and written.
    pub data_bytes: u64,
    /// Reads and writes (what IOPS counts).
    pub data_ops: u64,
    /// `data_bytes / window.seconds`.
    pub bandwidth_bytes_per_sec: f64,
    /// `data_ops / window.seconds`.
    pub iops: f64,
    /// Operations of every kind (data, fsync, metadata).
    pub all_ops: u64,
    /// `all_ops / window.seconds`.
    pub all_ops_per_sec: f64,
    /// Operations completed during the ramp, excluded from everything above.
    pub ramp_ops_excluded: u64,
    /// Bytes read during the ramp (excluded above; the wire check counts them).
    #[serde(default)]
    pub ramp_read_bytes: u64,
    /// Bytes written during the ramp (excluded above; the wire check counts them).
    #[serde(default)]
    pub ramp_write_bytes: u64,
}

impl Totals {
    /// Totals of a set of per-kind statistics.
    #[must_use]
    pub fn from_ops(ops: &BTreeMap<String, OpStats>, window_seconds: f64, ramp_ops: u64) -> Totals {
        let mut t = Totals {
            ramp_ops_excluded: ramp_ops,
            ..Totals::default()
        };
        for (name, stats) in ops {
            t.all_ops += stats.ops;
            if OpKind::from_name(name).is_some_and(OpKind::is_data) {
                t.data_ops += stats.ops;
                t.data_bytes += stats.bytes;
            }
        }
        t.bandwidth_bytes_per_sec = rate(t.data_bytes, window_seconds);
        t.iops = rate(t.data_ops, window_seconds);
        t.all_ops_per_sec = rate(t.all_ops, window_seconds);
        t
    }
}

/// CPU time of the process over the measured window (getrusage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// User seconds.
    pub user_seconds: f64,
    /// System seconds.
    pub sys_seconds: f64,
    /// `(user + sys) / GiB moved`; null when no data moved.
    pub seconds_per_gib: Option<f64>,
}

impl Cpu {
    /// CPU figures for `user`/`sys` seconds over `data_bytes`.
    #[must_use]
    pub fn new(user_seconds: f64, sys_seconds: f64, data_bytes: u64) -> Cpu {
        let gib = data_bytes as f64 / f64::from(1u32 << 30);
        Cpu {
            user_seconds,
            sys_seconds,
            seconds_per_gib: (data_bytes > 0).then(|| (user_seconds + sys_seconds) / gib),
        }
    }
}

/// Verification outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySummary {
    /// Blocks checked (measured reads plus the read-back after writes).
    pub blocks_checked: u64,
    /// Bad blocks.
    pub mismatches: u64,
    /// The first bad blocks in detail.
    pub mismatch_list: Vec<Mismatch>,
}

/// What a run (or a merge of runs) measured; shared by [`RunResult`] and [`MergedResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// The measured window.
    pub window: Window,
    /// Totals over the window.
    pub totals: Totals,
    /// Statistics per operation kind (`read`, `write`, `fsync`, `create`, `stat`...).
    pub ops: BTreeMap<String, OpStats>,
    /// Per-second series over the window.
    pub series: Vec<SeriesPoint>,
    /// CPU use.
    pub cpu: Cpu,
    /// Failed operations by errno name.
    pub errors: BTreeMap<String, u64>,
    /// Verification outcome, when verifying.
    pub verify: Option<VerifySummary>,
}

/// One run's result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Producer.
    pub tool: Tool,
    /// How the run ended.
    pub status: Status,
    /// The error that stopped the run, if any.
    pub error: Option<ErrorRecord>,
    /// The job as given.
    pub job: Job,
    /// Where the IO went.
    pub backend: BackendInfo,
    /// What actually ran.
    pub effective: Effective,
    /// How requests were kept in flight (absent in results older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<IoSection>,
    /// Time per phase.
    pub phases: Phases,
    /// What was measured (window, totals, per-kind statistics, series, CPU, errors,
    /// verification); its fields also read directly through `Deref`.
    #[serde(flatten)]
    pub measures: Measures,
    /// The mount holding the target (and NFS RPC statistics), where readable.
    pub mount: Option<MountSection>,
    /// The protocol backend's view: server, options requested and used, RPC statistics
    /// of the measured phase (`null` for other backends).
    #[serde(default)]
    pub nfs: Option<nfs::NfsSection>,
    /// Bytes the job moved against bytes on the wire, for NFS mounts and `nfs://` targets
    /// (absent elsewhere and in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<wire::WireSection>,
    /// Notes for people (fallbacks, adjustments).
    pub notes: Vec<String>,
}

/// Per-kind statistics of a merged recorder over a window.
#[must_use]
pub(crate) fn op_stats_map(recorder: &Recorder, window_seconds: f64) -> BTreeMap<String, OpStats> {
    recorder
        .kinds()
        .filter_map(|kind| {
            let counters = recorder.counters(kind);
            recorder.histogram(kind).map(|h| {
                (
                    kind.name().to_owned(),
                    OpStats::from_histogram(h, counters.ops, counters.bytes, window_seconds),
                )
            })
        })
        .collect()
}

/// Encodes a histogram as base64 of its V2 serialization (empty text if it cannot be
/// serialized, which only happens for counts beyond `i64::MAX`).
#[must_use]
pub(crate) fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2Serializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decodes `encode_histogram`'s text.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, HistogramDecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| HistogramDecodeError(e.to_string()))?;
    HistDeserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HistogramDecodeError(format!("{e:?}")))
}

/// A histogram text that is not base64 of a V2 histogram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a base64 HdrHistogram V2 serialization: {0}")]
pub struct HistogramDecodeError(pub String);

/// Why results could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no results to merge")]
    Empty,
    /// A result of another schema version.
    #[error("result {index} has schema_version `{found}`, expected `{SCHEMA_VERSION}`")]
    SchemaVersion {
        /// Position in the input.
        index: usize,
        /// Its version.
        found: u32,
    },
    /// A histogram that does not decode.
    #[error("result {index}: histogram of `{kind}` is unreadable")]
    Histogram {
        /// Position in the input.
        index: usize,
        /// Operation kind.
        kind: String,
        /// Why.
        #[source]
        source: HistogramDecodeError,
    },
}

/// Several runs (e.g. one per client pod) merged exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedResult {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Number of results merged.
    pub sources: usize,
    /// Worst status among the inputs (`io_error` over `verify_failed` over `ok`).
    pub status: Status,
    /// The merged measures: counts summed, histograms summed and their percentiles
    /// recomputed, the window from the earliest start to the latest end (wall clock), series
    /// summed second by second (each relative to its own window start), verification lists
    /// concatenated and capped; its fields also read directly through `Deref`.
    #[serde(flatten)]
    pub measures: Measures,
}

/// Merges results exactly: counts add, histograms add, percentiles are recomputed.
///
/// Throughput of the aggregate is total bytes over the union of the windows, the honest
/// figure when clients start together (a start barrier).
pub fn merge_results(results: &[RunResult]) -> Result<MergedResult, MergeError> {
    let first = results.first().ok_or(MergeError::Empty)?;
    let mut start = first.window.start_unix_ns;
    let mut end = first.window.end_unix_ns();
    let mut hists: BTreeMap<String, (Histogram<u64>, u64, u64)> = BTreeMap::new();
    let mut series: Vec<SeriesPoint> = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut user, mut sys, mut ramp) = (0.0, 0.0, 0);
    let (mut ramp_read, mut ramp_write) = (0, 0);
    let mut verify: Option<VerifySummary> = None;
    let mut status = Status::Ok;
    for (index, r) in results.iter().enumerate() {
        if r.schema_version != SCHEMA_VERSION {
            return Err(MergeError::SchemaVersion {
                index,
                found: r.schema_version,
            });
        }
        start = start.min(r.window.start_unix_ns);
        end = end.max(r.window.end_unix_ns());
        for (kind, stats) in &r.ops {
            let h = decode_histogram(&stats.histogram).map_err(|source| MergeError::Histogram {
                index,
                kind: kind.clone(),
                source,
            })?;
            let entry = hists
                .entry(kind.clone())
                .or_insert_with(|| (new_histogram(), 0, 0));
            // Histograms from this engine share bounds; a foreign one with a wider range
            // is folded in value by value so nothing is lost.
            if entry.0.add(&h).is_err() {
                for v in h.iter_recorded() {
                    entry
                        .0
                        .saturating_record_n(v.value_iterated_to(), v.count_at_value());
                }
            }
            entry.1 += stats.ops;
            entry.2 += stats.bytes;
        }
        add_series(&mut series, &r.series);
        for (name, count) in &r.errors {
            *errors.entry(name.clone()).or_insert(0) += count;
        }
        user += r.cpu.user_seconds;
        sys += r.cpu.sys_seconds;
        ramp += r.totals.ramp_ops_excluded;
        ramp_read += r.totals.ramp_read_bytes;
        ramp_write += r.totals.ramp_write_bytes;
        if let Some(v) = &r.verify {
            let merged = verify.get_or_insert_with(VerifySummary::default);
            merged.blocks_checked += v.blocks_checked;
            merged.mismatches += v.mismatches;
            let room =
                crate::verify::MAX_REPORTED_MISMATCHES.saturating_sub(merged.mismatch_list.len());
            merged
                .mismatch_list
                .extend(v.mismatch_list.iter().take(room).cloned());
        }
        status = match (status, r.status) {
            (Status::IoError, _) | (_, Status::IoError) => Status::IoError,
            (Status::VerifyFailed, _) | (_, Status::VerifyFailed) => Status::VerifyFailed,
            _ => Status::Ok,
        };
    }
    let window = Window {
        start_unix_ns: start,
        seconds: end.saturating_sub(start) as f64 / 1e9,
    };
    let ops: BTreeMap<String, OpStats> = hists
        .iter()
        .map(|(kind, (h, ops, bytes))| {
            (
                kind.clone(),
                OpStats::from_histogram(h, *ops, *bytes, window.seconds),
            )
        })
        .collect();
    let mut totals = Totals::from_ops(&ops, window.seconds, ramp);
    totals.ramp_read_bytes = ramp_read;
    totals.ramp_write_bytes = ramp_write;
    Ok(MergedResult {
        schema_version: SCHEMA_VERSION,
        sources: results.len(),
        status,
        measures: Measures {
            window,
            cpu: Cpu::new(user, sys, totals.data_bytes),
            totals,
            ops,
            series,
            errors,
            verify,
        },
    })
}

impl std::ops::Deref for RunResult {
    type Target = Measures;
    fn deref(&self) -> &Measures {
        &self.measures
    }
}

impl std::ops::Deref for MergedResult {
    type Target = Measures;
    fn deref(&self) -> &Measures {
        &self.measures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trips_through_base64() {
        let mut h = new_histogram();
        for v in [1u64, 10, 1000, 123_456, 9_999_999, 3_000_000_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let text = encode_histogram(&h);
        let back = decode_histogram(&text).unwrap();
        assert_eq!(back, h);
        assert!(decode_histogram("not base64!").is_err());
        assert!(decode_histogram("AAAA").is_err());
    }

    #[test]
    fn latency_summary_of_known_values() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = LatencySummary::of(&h);
        assert!((499_000..=501_000).contains(&s.p50), "{s:?}");
        assert!((989_000..=991_000).contains(&s.p99), "{s:?}");
        assert!(s.max >= 999_000 && s.max <= 1_001_000);
        assert!((s.mean - 500_500.0).abs() < 1000.0);
        assert_eq!(
            LatencySummary::of(&new_histogram()),
            LatencySummary::default()
        );
    }
}
