//! The nfslab IO engine.
//!
//! `nfslab-io` runs fio-style jobs with plain POSIX calls (through `nix`) on a directory, so
//! the same static binary measures a mounted NFS volume inside a pod or a local directory on
//! a host. The library holds everything; the binary only parses arguments. The same jobs
//! also run against `nfs://host/export/path` over NFSv3 from user space, without a mount
//! ([`run_nfs`]), to measure a server independent of the kernel client.
//!
//! # Layout
//!
//! Every module is private; what other crates use is re-exported below, at the root, so the
//! layers inside can move without breaking a caller. From the bottom up (a module uses only
//! modules above it in this table, never one below):
//!
//! | module | what lives there |
//! |---|---|
//! | `units` | sizes (`4k`, `1GiB`) and the one duration grammar (`30s`, `1m30s`) with ranges, shared with the harness |
//! | `names` | the grammar of user-given names that become file names (`--prefix`) |
//! | `yaml` | reading user YAML: the parser's failures in the project's words, with the field path |
//! | `exit` | exit codes |
//! | `mount` | `/proc/self/mountinfo` and `/proc/self/mountstats` parsing |
//! | `job` | the job model ([`Job`]), its validation and YAML loading |
//! | `fio` | fio job files: the common subset read into a job, the rest refused with file:line |
//! | `ops` | operation streams: sequential/random offsets, mixes, fsync cadence, budget |
//! | `verify` | the self-describing block pattern and its checker |
//! | `stats` | per-worker recorders (hdrhistogram, counters, series, errno counts) |
//! | `result` | the result document ([`RunResult`]), histogram encoding, exact merging of results; its `nfs` section (`result::nfs`) and cache honesty, bytes the job moved against bytes on the wire (`result::wire`) |
//! | `io` | data-path primitives shared by drivers and backends: faults, buffers, one worker's synchronous IO ([`WorkerIo`]), the measured phase's clock and outcome |
//! | `driver` | backend-neutral phases: layout, measured loop, metadata loop, read-back |
//! | `inflight` | the rules of a worker with several requests in flight (next operation, barriers, completions) |
//! | `pipeline` | the measured data phase with `iodepth` requests in flight, for asynchronous backends |
//! | `queue` | the measured data phase with `iodepth` requests in flight on directories (io_uring, submitter threads) |
//! | `backend` | the backend seam ([`Backend`]), the POSIX backend and the NFSv3 protocol backend (`backend::nfs`), which reads `mount -o` options with the harness's model (the crate `nfslab-mount-options`) and decides what it does with each in one table ([`NfsOptions::support`]) |
//! | `engine` | orchestration of a run and assembly of its result ([`run`], [`run_nfs`]) |
//! | `summary` | the human summary (stderr) |
//! | `tools` | helper subcommands for pods: files, directory checks, HTTP, waiting |
//! | `cli` | the command line of `nfslab-io` (also `nfslab io`): argument structs and their dispatch ([`main_with`]) |
//!
//! # Result document (`schema_version` 1)
//!
//! `nfslab-io run` prints one JSON object ([`RunResult`]) on stdout:
//!
//! | field | content |
//! |---|---|
//! | `schema_version` | `1` |
//! | `tool` | `{name, version}` |
//! | `status` | `ok`, `io_error`, `verify_failed` |
//! | `error` | `null` or `{phase, errno, file, message}`: what stopped the run |
//! | `job` | the job as given (unset fields omitted) |
//! | `backend` | `{name: "posix", target: DIR}` or `{name: "nfs3", target: "nfs://host[:port]/path"}` |
//! | `effective` | every job value decided (`pattern`, `bs`, `size`, `nrfiles`, `threads`, `iodepth`, `ioengine`, `rwmixread`, `runtime`, `io_limit`, `ramp_time`, `direct`, `fsync`, `sync_call`, `o_sync`, `verify`, `seed`, `blocks_per_file`) plus `iodepth_effective`, `direct_used`, `cache` (`direct`/`buffered`), `direct_note`, `files_reused`, `files_created` |
//! | `io` | how requests were kept in flight: `mechanism` (`sync`: one call at a time per thread; `io_uring`; `threads`: submitter threads, the fallback where io_uring is unavailable; `rpc-pipeline`: the NFSv3 client), `reason` (the job's `ioengine`, the depth, what the io_uring probe answered), `iodepth` (per thread), `max_in_flight` (most requests one thread had in flight at once; for submitter threads, calls inside the kernel at once) |
//! | `phases` | seconds: `layout_seconds`, `barrier_wait_seconds`, `ramp_seconds`, `measured_seconds`, `verify_seconds` |
//! | `window` | `start_unix_ns` (end of ramp), `seconds` (to the last completion) |
//! | `totals` | `data_bytes`, `data_ops` (reads + writes), `bandwidth_bytes_per_sec` = `data_bytes / window.seconds`, `iops` = `data_ops / window.seconds`, `all_ops`, `all_ops_per_sec`, `ramp_ops_excluded`, `ramp_read_bytes`, `ramp_write_bytes` |
//! | `ops` | per kind (`read`, `write`, `fsync`, `mkdir`, `create`, `stat`, `readdir`, `rename`, `unlink`, `rmdir`): `ops`, `bytes`, `bandwidth_bytes_per_sec`, `ops_per_sec`, `latency_ns` (`min`, `p50`, `p90`, `p99`, `p99_9`, `p99_99`, `max`, `mean`, `stdev`), `histogram` (base64 HdrHistogram V2, ns) |
//! | `series` | per second of the window: `second`, `read_bytes`, `read_ops`, `write_bytes`, `write_ops`, `other_ops`, `latency_sum_ns` |
//! | `cpu` | `user_seconds`, `sys_seconds` of the worker threads in the window, `seconds_per_gib` |
//! | `errors` | failed operations by errno name (`ENOSPC`, `EIO`, `short_write`...) |
//! | `verify` | `null` or `{blocks_checked, mismatches, mismatch_list: [{file, offset, bad_byte_offset, kind, expected, found}]}` with header fields `{magic, file_id, block, offset, generation, checksum}` |
//! | `mount` | `null` or `{path, mount: {mount_id, parent_id, device, root, mount_point, mount_options, optional_fields, fstype, source, super_options}, nfs_options, mountstats_delta}`; for NFS the delta has per-operation `ops`, `transmissions`, `retransmits`, `major_timeouts`, `bytes_sent`, `bytes_received`, `avg_rtt_ms`, `avg_execute_ms`, and totals |
//! | `nfs` | `null`, or for `nfs://` targets: `{server, address, mount_port, ports, export, path, options_requested, options_effective, effective: {rsize, wsize, nconnect, max_inflight, retry, timeo, retrans, attr_cache, acregmin, acdirmin, rdirplus, stable, uid, gid, resvport, dirty_limit}, differences, ignored, fsinfo: {rtmax, rtpref, wtmax, wtpref, dtpref, maxfilesize}, rpc}`; `rpc` covers the measured phase: `procedures` (per NFS procedure `calls`, `errors`, `transmissions`, `retransmissions`, `timeouts`, `bytes_sent`, `bytes_received`, `avg_rtt_ms`, `avg_exe_ms`), `totals`, `events` (`reconnects`, `connect_failures`, `major_timeouts`, `late_replies`, `write_verifier_changes`, `writes_redone`, `jukebox_retries`, `soft_failures`), `max_in_flight_per_connection` |
//! | `wire` | NFS mounts and `nfs://` targets only: `source` (`mountstats` or `client`), `app_read_bytes`, `app_write_bytes` (ramp included), `wire_read_bytes`, `wire_write_bytes`, `read_ratio`, `write_ratio` (wire / app), `context` (`direct`, `fsync`, `rewrites`, `data_set_bytes`, `client_memory_bytes`, `cache_options`, `uncommitted`), `findings` (`[{kind: reads_cached / writes_not_sent / writes_uncommitted, share, message}]`: a meaningful share of the bytes never crossed the wire, with the likely cause) |
//! | `notes` | human notes (direct IO fallback, iodepth, reused files) |
//!
//! Results of several runs merge exactly with [`merge_results`].
//!
//! # Exit codes
//!
//! 0 ok; 1 a helper's check failed; 2 bad input (nothing done); 3 IO error (partial result
//! printed, created files removed); 4 verification failed (takes precedence over 3).

mod backend;
mod cli;
mod driver;
mod engine;
mod exit;
mod fio;
mod inflight;
mod io;
mod job;
mod mount;
mod names;
mod ops;
mod pipeline;
mod queue;
mod result;
mod stats;
mod summary;
mod tools;
mod units;
mod verify;
mod yaml;

// The command line and running jobs.
pub use crate::cli::main_with;
pub use crate::engine::{NfsRunError, RunOptions, RunOutcome, StartError, run, run_nfs};
pub use crate::exit::{ExitCode, error_chain};

// The backend seam, for backends outside this crate (and tests that script one).
pub use crate::backend::uring::probe as probe_io_uring;
pub use crate::backend::{Backend, Mechanism, PrepareError, Prepared};
pub use crate::io::{
    FaultCode, IoFault, MeasuredOutcome, PhaseClock, ProgressFile, SharedBuf, WorkerIo,
};

// Jobs and their inputs: the job model, fio job files, sizes and durations, names, YAML.
pub use crate::fio::{FioError, FioJob, job_from_fio};
pub use crate::job::{
    DEFAULT_SEED, DirectMode, FsyncPolicy, IoEngine, Job, JobError, Pattern, RAMP_TIME_RANGE,
    RUNTIME_RANGE, ResolvedJob, SyncCall,
};
pub use crate::names::{NameError, check_component, join_under, printable};
pub use crate::units::{
    DurationRange, RangeError, Size, Span, UnitError, duration_text, format_duration,
    parse_duration,
};
pub use crate::yaml::{
    At, ParseError, YamlError, did_you_mean, from_str as yaml_from_str, serde_words,
    text_of as yaml_text_of,
};

// Operation streams, recorders and the verification pattern (benchmarks, tests).
pub use crate::ops::{DataOp, OpKind, OpStream};
pub use crate::stats::{KindCounters, Recorder, SIGNIFICANT_DIGITS, SeriesPoint, new_histogram};
pub use crate::verify::{
    BlockId, Generations, HeaderFields, Mismatch, MismatchKind, String8, VerifyTally, fill_block,
};

// The result document and what reads it.
pub use crate::mount::{
    MOUNTINFO_PATH, MOUNTSTATS_PATH, MountInfo, MountInfoError, MountSection, MountStats,
    MountStatsDelta, NfsByteCounters, PROC_ENV, RpcOpCounters, RpcOpDelta, XprtCounters,
    mountstats_delta, parse_mountinfo, parse_mountstats,
};
pub use crate::result::nfs::{
    EffectiveOptions, FsInfo, NfsSection, PortSource, ProcReport, RetryMode, RpcReport, Stability,
};
pub use crate::result::wire::{
    Finding, FindingKind, MEANINGFUL_SHARE, WireContext, WireSection, client_memory,
    from_mountstats as wire_from_mountstats, merge as merge_wire,
};
pub use crate::result::{
    BackendInfo, Cpu, Effective, ErrorRecord, HistogramDecodeError, IoSection, LatencySummary,
    Measures, MergeError, MergedResult, OpStats, Phases, ProtocolSection, RunResult,
    SCHEMA_VERSION, Status, Tool, Totals, VerifySummary, Window, decode_histogram, merge_results,
};

// The NFSv3 client from user space, as the harness's host benchmark reaches an export.
// Its calls, replies and errors are named here with an `Nfs` or `Rpc` prefix.
pub use crate::backend::nfs::InputError as NfsInputError;
pub use crate::backend::nfs::client::{
    DirEntry as NfsDirEntry, Nfs, NfsError, ReadReply as NfsReadReply, WriteReply as NfsWriteReply,
};
pub use crate::backend::nfs::error::SetupError as NfsSetupError;
pub use crate::backend::nfs::options::{NfsOptions, OptionError as NfsOptionError};
pub use crate::backend::nfs::rpc::{
    CallError as RpcCallError, ClientConfig as RpcClientConfig, Reply as RpcReply,
    Request as RpcRequest, RetryPolicy, RpcClient, Wire as RpcWire,
};
pub use crate::backend::nfs::setup::{
    Mounted as NfsMounted, connect as connect_nfs, unmount as unmount_nfs,
};
pub use crate::backend::nfs::stats::{Event as RpcEvent, RpcSnapshot, RpcStats};
pub use crate::backend::nfs::support::{Refusal as NfsOptionRefusal, Support as NfsOptionSupport};
pub use crate::backend::nfs::target::{NfsTarget, TargetError as NfsTargetError};

// What the pod helper subcommands report.
pub use crate::tools::files::{Entry as FileEntry, OwnerError, parse_owner};
pub use crate::tools::kernel::KernelFacts;
