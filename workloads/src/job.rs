//! The job model: what one run of the engine does, in fio's vocabulary.
//!
//! A [`Job`] is what users write (YAML job files, benchmark plans, command-line flags all
//! fill the same struct). Fields left out take pattern-dependent defaults; [`Job::resolve`]
//! checks every field and returns a [`ResolvedJob`] with every value decided, which is what
//! the engine runs. Errors name the field and the value ([`JobError::field`]).
//!
//! Files: each thread works on its own `nrfiles` files of `size` bytes, so the data set is
//! `threads x nrfiles x size` (like fio with `numjobs`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::{DurationRange, RangeError, Size, Span, format_duration, format_size};
use crate::yaml::{At, ParseError};

/// Default block size when the job gives none.
pub(crate) const DEFAULT_BS: u64 = 4096;
/// Default file size for data patterns.
pub(crate) const DEFAULT_DATA_FILE_SIZE: u64 = 64 << 20;
/// Default file size for the metadata pattern (small files).
pub(crate) const DEFAULT_METADATA_FILE_SIZE: u64 = 4096;
/// Default number of files per thread for the metadata pattern.
pub(crate) const DEFAULT_METADATA_FILES: u32 = 256;
/// Default read share of `randrw`, in percent (fio's default).
pub(crate) const DEFAULT_RWMIXREAD: u8 = 50;
/// Default seed: every run with the same job does the same IO in the same order.
pub const DEFAULT_SEED: u64 = 0x6e66_736c_6162;
/// Upper bound on `threads` (a typo guard, not a machine limit).
pub(crate) const MAX_THREADS: u32 = 4096;
/// Upper bound on `iodepth`.
pub(crate) const MAX_IODEPTH: u32 = 4096;
/// Accepted `runtime`: a measured window from 1 ms to a day.
pub const RUNTIME_RANGE: DurationRange =
    DurationRange::new(Duration::from_millis(1), Duration::from_secs(24 * 3600));
/// Accepted `ramp_time`: up to an hour of unmeasured IO.
pub const RAMP_TIME_RANGE: DurationRange =
    DurationRange::new(Duration::ZERO, Duration::from_secs(3600));
/// Smallest block size that holds a verification header.
pub(crate) const MIN_VERIFY_BS: u64 = 64;
/// Alignment required of `bs` for direct IO.
pub(crate) const DIRECT_ALIGN: u64 = 512;

/// What the job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
    /// Random reads, every block once per pass.
    Randread,
    /// Random writes, every block once per pass.
    Randwrite,
    /// Random reads and writes mixed by `rwmixread`.
    Randrw,
    /// Create, stat, list, rename and unlink many small files.
    Metadata,
    /// Sequential writes each followed by fsync: write and fsync latency.
    FsyncLatency,
}

impl Pattern {
    /// Every pattern, in documentation order.
    pub const ALL: [Pattern; 7] = [
        Pattern::Read,
        Pattern::Write,
        Pattern::Randread,
        Pattern::Randwrite,
        Pattern::Randrw,
        Pattern::Metadata,
        Pattern::FsyncLatency,
    ];

    /// The name used in job files and flags.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Pattern::Read => "read",
            Pattern::Write => "write",
            Pattern::Randread => "randread",
            Pattern::Randwrite => "randwrite",
            Pattern::Randrw => "randrw",
            Pattern::Metadata => "metadata",
            Pattern::FsyncLatency => "fsync-latency",
        }
    }

    /// Whether the pattern issues data writes.
    #[must_use]
    pub const fn writes(self) -> bool {
        matches!(
            self,
            Pattern::Write | Pattern::Randwrite | Pattern::Randrw | Pattern::FsyncLatency
        )
    }

    /// Whether the pattern issues data reads.
    #[must_use]
    pub const fn reads(self) -> bool {
        matches!(self, Pattern::Read | Pattern::Randread | Pattern::Randrw)
    }

    /// Whether offsets are random (a seeded permutation of the blocks per pass).
    #[must_use]
    pub const fn random(self) -> bool {
        matches!(
            self,
            Pattern::Randread | Pattern::Randwrite | Pattern::Randrw
        )
    }

    /// Whether files must exist at full size before the measured phase (laid out first).
    #[must_use]
    pub const fn needs_layout(self) -> bool {
        matches!(
            self,
            Pattern::Read | Pattern::Randread | Pattern::Randwrite | Pattern::Randrw
        )
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
                format!("unknown pattern `{s}` (hint: one of {})", names.join(", "))
            })
    }
}

/// Direct IO (O_DIRECT): bypass the client page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectMode {
    /// Buffered IO through the page cache (results are labelled buffered).
    Off,
    /// O_DIRECT where the filesystem allows it; otherwise buffered, with a note.
    On,
    /// O_DIRECT or fail before any IO.
    Required,
}

impl DirectMode {
    /// The name used in job files and flags.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            DirectMode::Off => "off",
            DirectMode::On => "on",
            DirectMode::Required => "required",
        }
    }
}

impl fmt::Display for DirectMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DirectMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "false" | "no" | "0" => Ok(DirectMode::Off),
            "on" | "true" | "yes" | "1" => Ok(DirectMode::On),
            "required" | "require" => Ok(DirectMode::Required),
            _ => Err(format!(
                "unknown direct mode `{s}` (hint: one of off, on, required)"
            )),
        }
    }
}

impl Serialize for DirectMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for DirectMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DirectVisitor;
        impl Visitor<'_> for DirectVisitor {
            type Value = DirectMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of off, on, required (or a boolean)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<DirectMode, E> {
                Ok(if v { DirectMode::On } else { DirectMode::Off })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DirectMode, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(DirectVisitor)
    }
}

/// When writes are flushed to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsyncPolicy {
    /// Never (buffered writes may still sit in the client cache when the run ends).
    None,
    /// Once per file at the end of the measured phase, inside the window.
    End,
    /// After every N writes to a file.
    Every(u32),
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::None => f.write_str("none"),
            FsyncPolicy::End => f.write_str("end"),
            FsyncPolicy::Every(n) => write!(f, "{n}"),
        }
    }
}

impl FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" | "never" => Ok(FsyncPolicy::None),
            "end" => Ok(FsyncPolicy::End),
            other => other.parse::<u32>().map(FsyncPolicy::Every).map_err(|_| {
                format!(
                    "unknown fsync policy `{s}` (hint: none, end, or N to fsync every N writes)"
                )
            }),
        }
    }
}

impl Serialize for FsyncPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FsyncPolicy::Every(n) => serializer.serialize_u32(*n),
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for FsyncPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FsyncVisitor;
        impl Visitor<'_> for FsyncVisitor {
            type Value = FsyncPolicy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`none`, `end`, or a number N (fsync every N writes)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FsyncPolicy, E> {
                u32::try_from(v)
                    .map(FsyncPolicy::Every)
                    .map_err(|_| E::custom(format!("fsync interval `{v}` is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FsyncPolicy, E> {
                Err(E::custom(format!("fsync interval `{v}` is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FsyncPolicy, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(FsyncVisitor)
    }
}

/// Which call flushes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncCall {
    /// `fsync(2)`: data and all metadata.
    #[default]
    Fsync,
    /// `fdatasync(2)`: data and the metadata needed to read it back.
    Fdatasync,
}

impl FromStr for SyncCall {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fsync" => Ok(SyncCall::Fsync),
            "fdatasync" => Ok(SyncCall::Fdatasync),
            _ => Err(format!(
                "unknown sync call `{s}` (hint: fsync or fdatasync)"
            )),
        }
    }
}

/// How a thread keeps its requests in flight on a directory (the POSIX backend).
///
/// fio's engine names are accepted as aliases: `libaio` and `io_uring` mean
/// [`IoEngine::IoUring`], `psync`, `sync`, `pvsync` and `pvsync2` mean [`IoEngine::Sync`],
/// `posixaio` means [`IoEngine::Threads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IoEngine {
    /// `sync` at iodepth 1 (today's `pread`/`pwrite` path), `io_uring` above, falling back
    /// to `threads` where io_uring is unavailable.
    #[default]
    Auto,
    /// io_uring at every depth; the `threads` fallback (with the reason in the result)
    /// where the kernel or a seccomp profile refuses it.
    IoUring,
    /// `iodepth` submitter threads per worker thread, each with one blocking call in flight.
    Threads,
    /// `pread`/`pwrite` from the worker thread: one request in flight (iodepth runs as 1).
    Sync,
}

impl IoEngine {
    /// Every engine, in documentation order.
    pub const ALL: [IoEngine; 4] = [
        IoEngine::Auto,
        IoEngine::IoUring,
        IoEngine::Threads,
        IoEngine::Sync,
    ];

    /// The name used in job files and flags.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            IoEngine::Auto => "auto",
            IoEngine::IoUring => "io_uring",
            IoEngine::Threads => "threads",
            IoEngine::Sync => "sync",
        }
    }

    /// The engine a fio `ioengine` value maps to, if it has one.
    #[must_use]
    pub fn from_fio(name: &str) -> Option<IoEngine> {
        match name {
            "libaio" | "io_uring" => Some(IoEngine::IoUring),
            "psync" | "sync" | "pvsync" | "pvsync2" | "vsync" => Some(IoEngine::Sync),
            "posixaio" => Some(IoEngine::Threads),
            _ => None,
        }
    }
}

impl fmt::Display for IoEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IoEngine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        IoEngine::ALL
            .into_iter()
            .find(|e| e.name() == lower || e.name().replace('_', "-") == lower)
            .or_else(|| IoEngine::from_fio(&lower))
            .ok_or_else(|| {
                format!(
                    "unknown ioengine `{s}` (hint: auto, io_uring, threads or sync; fio's libaio, psync and posixaio map to them)"
                )
            })
    }
}

impl Serialize for IoEngine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for IoEngine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

fn default_threads() -> u32 {
    1
}
fn default_iodepth() -> u32 {
    1
}
fn default_seed() -> u64 {
    DEFAULT_SEED
}
fn is_false(value: &bool) -> bool {
    !*value
}

/// One workload, as written in a job file, a benchmark plan or on the command line.
///
/// ```yaml
/// pattern: randread      # read, write, randread, randwrite, randrw, metadata, fsync-latency
/// bs: 4k                 # block size
/// size: 1g               # per file
/// nrfiles: 1             # files per thread
/// threads: 4             # like fio numjobs
/// runtime: 30s           # measured time (or io_size, or one pass over the files)
/// ramp_time: 2s          # IO before the measured window, not counted
/// direct: on             # off | on | required
/// verify: false
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// What the job does.
    pub pattern: Pattern,
    /// Block size of each read or write (default 4k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bs: Option<Size>,
    /// Size of each file (default 64m; 4k for `metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    /// Files per thread (default 1; 256 for `metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nrfiles: Option<u32>,
    /// Worker threads, each with its own files (fio's `numjobs`).
    #[serde(default = "default_threads")]
    pub threads: u32,
    /// Requests in flight per thread (fio's `iodepth`).
    #[serde(default = "default_iodepth")]
    pub iodepth: u32,
    /// How directories keep `iodepth` requests in flight: `auto` (default), `io_uring`,
    /// `threads`, `sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ioengine: Option<IoEngine>,
    /// Read share of `randrw` in percent (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rwmixread: Option<u8>,
    /// Length of the measured window; the threads loop over their files until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Span>,
    /// Bytes each thread moves in the measured phase (default: one pass over its files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_size: Option<Size>,
    /// IO done before the measured window starts, excluded from every statistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_time: Option<Span>,
    /// O_DIRECT: `off`, `on` (fall back to buffered with a note), `required`.
    /// Default `on` for patterns that read, `off` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<DirectMode>,
    /// `none`, `end`, or N (every N writes). Default `end` for patterns that write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<FsyncPolicy>,
    /// `fsync` or `fdatasync`.
    #[serde(default)]
    pub sync_call: SyncCall,
    /// Open files with O_SYNC (every write is synchronous).
    #[serde(default, skip_serializing_if = "is_false")]
    pub o_sync: bool,
    /// Write a self-describing pattern and check every block read back.
    #[serde(default, skip_serializing_if = "is_false")]
    pub verify: bool,
    /// Seed of offsets, mixes and data; same seed, same IO.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Job {
    /// A job with the given pattern and every other field at its default.
    #[must_use]
    pub fn new(pattern: Pattern) -> Job {
        Job {
            pattern,
            bs: None,
            size: None,
            nrfiles: None,
            threads: default_threads(),
            iodepth: default_iodepth(),
            ioengine: None,
            rwmixread: None,
            runtime: None,
            io_size: None,
            ramp_time: None,
            direct: None,
            fsync: None,
            sync_call: SyncCall::default(),
            o_sync: false,
            verify: false,
            seed: DEFAULT_SEED,
        }
    }

    /// The `nfslab-io run` flags that give this job (fields left out stay out, so their
    /// defaults apply as they did), in the order of the job file documentation.
    #[must_use]
    pub fn command_flags(&self) -> Vec<String> {
        let mut out = vec!["--pattern".to_owned(), self.pattern.name().to_owned()];
        let mut push = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                out.push(format!("--{flag}"));
                out.push(v);
            }
        };
        let size = |s: Option<Size>| s.map(|s| format_size(s.bytes()));
        let span = |s: Option<Span>| s.map(|s| format_duration(s.duration()));
        push("bs", size(self.bs));
        push("size", size(self.size));
        push("nrfiles", self.nrfiles.map(|n| n.to_string()));
        push(
            "threads",
            (self.threads != 1).then(|| self.threads.to_string()),
        );
        push(
            "iodepth",
            (self.iodepth != 1).then(|| self.iodepth.to_string()),
        );
        push("ioengine", self.ioengine.map(|e| e.name().to_owned()));
        push("rwmixread", self.rwmixread.map(|n| n.to_string()));
        push("runtime", span(self.runtime));
        push("io-size", size(self.io_size));
        push("ramp-time", span(self.ramp_time));
        push("direct", self.direct.map(|d| d.name().to_owned()));
        push("fsync", self.fsync.map(|f| f.to_string()));
        push(
            "sync-call",
            (self.sync_call == SyncCall::Fdatasync).then(|| "fdatasync".to_owned()),
        );
        push(
            "seed",
            (self.seed != DEFAULT_SEED).then(|| self.seed.to_string()),
        );
        if self.o_sync {
            out.push("--o-sync".to_owned());
        }
        if self.verify {
            out.push("--verify".to_owned());
        }
        out
    }

    /// Checks every field; see [`Job::resolve`].
    pub fn validate(&self) -> Result<(), JobError> {
        self.resolve().map(|_| ())
    }

    /// Checks every field and decides every default.
    pub fn resolve(&self) -> Result<ResolvedJob, JobError> {
        let pattern = self.pattern;
        let metadata = pattern == Pattern::Metadata;
        let bs = positive("bs", self.bs.map_or(DEFAULT_BS, Size::bytes))?;
        let default_size = if metadata {
            DEFAULT_METADATA_FILE_SIZE
        } else {
            DEFAULT_DATA_FILE_SIZE
        };
        let size = positive("size", self.size.map_or(default_size, Size::bytes))?;
        let default_files = if metadata { DEFAULT_METADATA_FILES } else { 1 };
        let nrfiles = self.nrfiles.unwrap_or(default_files);
        in_range("nrfiles", u64::from(nrfiles), 1, u64::from(u32::MAX))?;
        in_range(
            "threads",
            u64::from(self.threads),
            1,
            u64::from(MAX_THREADS),
        )?;
        in_range(
            "iodepth",
            u64::from(self.iodepth),
            1,
            u64::from(MAX_IODEPTH),
        )?;

        if bs > size {
            return Err(JobError::BlockLargerThanFile {
                bs: format_size(bs),
                size: format_size(size),
            });
        }
        if !metadata && size % bs != 0 {
            return Err(JobError::NotMultiple {
                field: "size",
                value: format_size(size),
                of: "bs",
                of_value: format_size(bs),
            });
        }

        let rwmixread = self.resolve_rwmixread()?;

        let (runtime, ramp_time) = self.resolve_times()?;

        let pass_bytes =
            size.checked_mul(u64::from(nrfiles))
                .ok_or_else(|| JobError::TooLarge {
                    field: "nrfiles",
                    value: nrfiles.to_string(),
                })?;
        let io_size = self.resolve_io_size(bs)?;
        // Time-based runs loop until the runtime ends (or io_size, whichever comes first);
        // otherwise one pass over the files.
        let io_limit = match (io_size, runtime) {
            (Some(bytes), _) => Some(bytes),
            (None, Some(_)) => None,
            (None, None) => Some(pass_bytes),
        };

        let direct = self.resolve_direct(bs)?;

        let fsync = self.resolve_fsync()?;

        self.check_verify_and_sync(bs)?;

        let blocks_per_file = size / bs;
        Ok(ResolvedJob {
            pattern,
            bs,
            size,
            nrfiles,
            threads: self.threads,
            iodepth: self.iodepth,
            ioengine: self.ioengine.unwrap_or_default(),
            rwmixread,
            runtime,
            io_limit,
            ramp_time,
            direct,
            fsync,
            sync_call: self.sync_call,
            o_sync: self.o_sync,
            verify: self.verify,
            seed: self.seed,
            blocks_per_file,
        })
    }

    /// `rwmixread`: given for `randrw` only; otherwise what the pattern reads.
    fn resolve_rwmixread(&self) -> Result<u8, JobError> {
        let pattern = self.pattern;
        Ok(match (pattern, self.rwmixread) {
            (Pattern::Randrw, Some(pct)) => {
                in_range("rwmixread", u64::from(pct), 0, 100)?;
                pct
            }
            (Pattern::Randrw, None) => DEFAULT_RWMIXREAD,
            (_, Some(pct)) => return Err(not_applicable("rwmixread", pct.to_string(), pattern)),
            (_, None) => {
                if pattern.reads() {
                    100
                } else {
                    0
                }
            }
        })
    }

    /// `runtime` (none: one pass) and `ramp_time` (none: zero), within their ranges.
    fn resolve_times(&self) -> Result<(Option<Duration>, Duration), JobError> {
        let runtime = match self.runtime {
            Some(span) if span.0.is_zero() => {
                return Err(JobError::Zero {
                    field: "runtime",
                    value: format_duration(span.0),
                });
            }
            Some(span) => {
                Some(
                    RUNTIME_RANGE
                        .check(span.0)
                        .map_err(|range| JobError::Duration {
                            field: "runtime",
                            range: Box::new(range),
                        })?,
                )
            }
            None => None,
        };
        let ramp_time = self.ramp_time.map_or(Ok(Duration::ZERO), |span| {
            RAMP_TIME_RANGE
                .check(span.0)
                .map_err(|range| JobError::Duration {
                    field: "ramp_time",
                    range: Box::new(range),
                })
        })?;
        Ok((runtime, ramp_time))
    }

    /// `io_size`: a multiple of `bs`, not for the metadata pattern.
    fn resolve_io_size(&self, bs: u64) -> Result<Option<u64>, JobError> {
        let (pattern, metadata) = (self.pattern, self.pattern == Pattern::Metadata);
        Ok(match self.io_size {
            Some(_) if metadata => {
                return Err(not_applicable(
                    "io_size",
                    self.io_size.map(|s| s.to_string()).unwrap_or_default(),
                    pattern,
                ));
            }
            Some(Size(bytes)) => {
                let bytes = positive("io_size", bytes)?;
                if bytes % bs != 0 {
                    return Err(JobError::NotMultiple {
                        field: "io_size",
                        value: format_size(bytes),
                        of: "bs",
                        of_value: format_size(bs),
                    });
                }
                Some(bytes)
            }
            None => None,
        })
    }

    /// Direct IO: by default for reading patterns, never for metadata; required direct IO
    /// needs aligned blocks.
    fn resolve_direct(&self, bs: u64) -> Result<DirectMode, JobError> {
        let pattern = self.pattern;
        let direct = match (self.direct, pattern) {
            (Some(DirectMode::Off) | None, Pattern::Metadata) => DirectMode::Off,
            (Some(mode), Pattern::Metadata) => {
                return Err(not_applicable("direct", mode.to_string(), pattern));
            }
            (Some(mode), _) => mode,
            (None, p) if p.reads() => DirectMode::On,
            (None, _) => DirectMode::Off,
        };
        if direct == DirectMode::Required && !bs.is_multiple_of(DIRECT_ALIGN) {
            return Err(JobError::NotMultiple {
                field: "bs",
                value: format_size(bs),
                of: "direct IO alignment",
                of_value: DIRECT_ALIGN.to_string(),
            });
        }
        Ok(direct)
    }

    /// The fsync cadence: after every write for `fsync-latency`, at the end by default for
    /// writing patterns, none for the others.
    fn resolve_fsync(&self) -> Result<FsyncPolicy, JobError> {
        Ok(match (self.fsync, self.pattern) {
            (Some(FsyncPolicy::Every(0)), _) => {
                return Err(JobError::Zero {
                    field: "fsync",
                    value: "0".to_owned(),
                });
            }
            (None | Some(FsyncPolicy::Every(1)), Pattern::FsyncLatency) => FsyncPolicy::Every(1),
            (Some(policy), Pattern::FsyncLatency) => {
                return Err(JobError::Conflict {
                    field: "fsync",
                    value: policy.to_string(),
                    reason: "`fsync-latency` syncs after every write".to_owned(),
                });
            }
            (Some(FsyncPolicy::None) | None, p) if !p.writes() => FsyncPolicy::None,
            (Some(policy), p) if !p.writes() => {
                return Err(not_applicable("fsync", policy.to_string(), p));
            }
            (Some(policy), _) => policy,
            (None, _) => FsyncPolicy::End,
        })
    }

    /// `verify` needs data blocks large enough for a header; `o_sync` needs files.
    fn check_verify_and_sync(&self, bs: u64) -> Result<(), JobError> {
        let (pattern, metadata) = (self.pattern, self.pattern == Pattern::Metadata);
        if self.verify {
            if metadata {
                return Err(not_applicable("verify", "true".to_owned(), pattern));
            }
            if bs < MIN_VERIFY_BS {
                return Err(JobError::Conflict {
                    field: "bs",
                    value: format_size(bs),
                    reason: format!("verification needs blocks of at least {MIN_VERIFY_BS} bytes"),
                });
            }
        }
        if self.o_sync && metadata {
            return Err(not_applicable("o_sync", "true".to_owned(), pattern));
        }
        Ok(())
    }
}

fn positive(field: &'static str, value: u64) -> Result<u64, JobError> {
    if value == 0 {
        Err(JobError::Zero {
            field,
            value: "0".to_owned(),
        })
    } else {
        Ok(value)
    }
}

fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), JobError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(JobError::OutOfRange {
            field,
            value: value.to_string(),
            min,
            max,
        })
    }
}

fn not_applicable(field: &'static str, value: String, pattern: Pattern) -> JobError {
    JobError::NotApplicable {
        field,
        value,
        pattern,
    }
}

/// A job with every value checked and decided: what the engine runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedJob {
    /// What the job does.
    pub pattern: Pattern,
    /// Block size in bytes.
    pub bs: u64,
    /// Bytes per file.
    pub size: u64,
    /// Files per thread.
    pub nrfiles: u32,
    /// Worker threads.
    pub threads: u32,
    /// Requested requests in flight per thread (the backend reports what it used).
    pub iodepth: u32,
    /// How the POSIX backend keeps them in flight (results older than this field: `auto`).
    #[serde(default)]
    pub ioengine: IoEngine,
    /// Percentage of data operations that read (100 for reads, 0 for writes).
    pub rwmixread: u8,
    /// Measured window length for time-based runs.
    #[serde(with = "duration_opt")]
    pub runtime: Option<Duration>,
    /// Bytes per thread in the measured phase; `None` for time-based runs without a limit.
    pub io_limit: Option<u64>,
    /// Time before the measured window.
    #[serde(with = "duration_text")]
    pub ramp_time: Duration,
    /// Requested direct IO mode.
    pub direct: DirectMode,
    /// Fsync policy.
    pub fsync: FsyncPolicy,
    /// Which sync call.
    pub sync_call: SyncCall,
    /// Open with O_SYNC.
    pub o_sync: bool,
    /// Verification on.
    pub verify: bool,
    /// Seed.
    pub seed: u64,
    /// `size / bs`.
    pub blocks_per_file: u64,
}

impl ResolvedJob {
    /// The settings in human units on one line: `randread, bs 4k, 1g per file x 1 file x 4
    /// threads, iodepth 32, runtime 30s, ramp 2s, direct, fsync none`.
    #[must_use]
    pub fn settings(&self) -> String {
        let plural = |n: u32, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let metadata = self.pattern == Pattern::Metadata;
        let mut parts = vec![self.pattern.name().to_owned()];
        if !metadata {
            parts.push(format!("bs {}", format_size(self.bs)));
        }
        parts.extend([
            format!(
                "{} per file x {} x {}",
                format_size(self.size),
                plural(self.nrfiles, "file"),
                plural(self.threads, "thread")
            ),
            format!("iodepth {}", self.iodepth),
        ]);
        if self.ioengine != IoEngine::Auto {
            parts.push(format!("ioengine {}", self.ioengine));
        }
        if self.pattern == Pattern::Randrw {
            parts.push(format!("{}% reads", self.rwmixread));
        }
        match (self.runtime, self.io_limit) {
            (Some(r), Some(limit)) => {
                parts.push(format!("runtime {}", format_duration(r)));
                parts.push(format!("at most {} per thread", format_size(limit)));
            }
            (Some(r), None) => parts.push(format!("runtime {}", format_duration(r))),
            (None, Some(limit)) => parts.push(format!("{} per thread", format_size(limit))),
            (None, None) => {}
        }
        if !self.ramp_time.is_zero() {
            parts.push(format!("ramp {}", format_duration(self.ramp_time)));
        }
        if !metadata {
            parts.push(
                match self.direct {
                    DirectMode::Off => "buffered",
                    DirectMode::On => "direct",
                    DirectMode::Required => "direct (required)",
                }
                .to_owned(),
            );
        }
        if self.pattern.writes() {
            parts.push(match self.fsync {
                FsyncPolicy::None => "fsync none".to_owned(),
                FsyncPolicy::End => "fsync at end".to_owned(),
                FsyncPolicy::Every(n) => format!("fsync every {n} writes"),
            });
        }
        if self.o_sync {
            parts.push("O_SYNC".to_owned());
        }
        if self.verify {
            parts.push("verified".to_owned());
        }
        parts.join(", ")
    }

    /// Data operations per thread in the measured phase, if bounded.
    #[must_use]
    pub fn ops_limit(&self) -> Option<u64> {
        self.io_limit.map(|bytes| bytes / self.bs)
    }
}

mod duration_text {
    //! Serde helpers: durations as `30s`-style text.
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::units::{Span, format_duration};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Span::deserialize(d).map(Span::duration)
    }
}

mod duration_opt {
    //! Serde helpers: optional durations as `30s`-style text or null.
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::units::{Span, format_duration};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<Span>::deserialize(d).map(|s| s.map(Span::duration))
    }
}

/// A job field with a bad value. [`JobError::field`] names the field (the YAML key; flags
/// are the same name with `-` for `_`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A value that must be positive is zero.
    #[error("invalid {field} `{value}`: must be greater than zero")]
    Zero {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// A number outside its range.
    #[error("invalid {field} `{value}`: must be between {min} and {max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// `bs` larger than `size`.
    #[error("invalid bs `{bs}`: larger than the file size `{size}` (hint: lower bs or raise size)")]
    BlockLargerThanFile {
        /// Block size as given.
        bs: String,
        /// File size as given.
        size: String,
    },
    /// A size that must be a multiple of another.
    #[error("invalid {field} `{value}`: not a multiple of {of} `{of_value}`")]
    NotMultiple {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
        /// What it must be a multiple of.
        of: &'static str,
        /// That value.
        of_value: String,
    },
    /// A field that means nothing for this pattern.
    #[error("invalid {field} `{value}`: does not apply to pattern `{pattern}` (hint: remove it)")]
    NotApplicable {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
        /// The job's pattern.
        pattern: Pattern,
    },
    /// A field that conflicts with another setting.
    #[error("invalid {field} `{value}`: {reason}")]
    Conflict {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
        /// What it conflicts with.
        reason: String,
    },
    /// A duration outside its field's range.
    #[error("invalid {field}: {range}")]
    Duration {
        /// The field.
        field: &'static str,
        /// The value and the range.
        range: Box<RangeError>,
    },
    /// A product of fields overflows.
    #[error("invalid {field} `{value}`: the data set is too large")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
}

impl JobError {
    /// The job field the error is about (YAML key).
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            JobError::Zero { field, .. }
            | JobError::OutOfRange { field, .. }
            | JobError::NotMultiple { field, .. }
            | JobError::NotApplicable { field, .. }
            | JobError::Conflict { field, .. }
            | JobError::TooLarge { field, .. }
            | JobError::Duration { field, .. } => field,
            JobError::BlockLargerThanFile { .. } => "bs",
        }
    }
}

/// A job file that could not be read as a job.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobFileError {
    /// The file could not be read.
    #[error("cannot read job file `{path}`")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax, unknown field or bad value type.
    #[error(transparent)]
    Parse(ParseError),
    /// The values parse but do not make a valid job.
    #[error("{at}: {problem}")]
    Invalid {
        /// Where the field is written.
        at: At,
        /// The field problem: said in the message, so not a source (no printer of the
        /// error chain may show it twice).
        problem: JobError,
    },
}

/// Reads a job from YAML text; `path` names the source in errors. Semantic checks are
/// left to [`Job::resolve`]; use [`locate_field`] to point such errors at the file.
pub(crate) fn job_from_yaml(text: &str, path: &str) -> Result<Job, JobFileError> {
    crate::yaml::from_str::<Job>(text).map_err(|err| parse_error(path, &err))
}

fn parse_error(path: &str, err: &crate::yaml::YamlError) -> JobFileError {
    JobFileError::Parse(err.in_file(path))
}

/// Where the top-level key `field` sits in a YAML job text: `(line, column)`, 1-based.
#[must_use]
pub(crate) fn locate_field(text: &str, field: &str) -> Option<(u64, u64)> {
    #[derive(Deserialize)]
    struct Keys(std::collections::BTreeMap<String, serde_saphyr::Spanned<serde::de::IgnoredAny>>);
    let keys: Keys = serde_saphyr::from_str(text).ok()?;
    keys.0
        .get(field)
        .map(|spanned| (spanned.referenced.line(), spanned.referenced.column()))
}

/// Reads and checks a job file.
pub(crate) fn load_job_file(path: &std::path::Path) -> Result<Job, JobFileError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| JobFileError::Read {
        path: name.clone(),
        source,
    })?;
    let text = crate::yaml::text_of(&bytes).map_err(|e| parse_error(&name, &e))?;
    let job = job_from_yaml(text, &name)?;
    if let Err(problem) = job.validate() {
        let (line, column) = locate_field(text, problem.field()).unwrap_or((0, 0));
        return Err(JobFileError::Invalid {
            at: At {
                file: name,
                line,
                column,
            },
            problem,
        });
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Job, JobFileError> {
        job_from_yaml(text, "job.yaml")
    }

    #[test]
    fn defaults_follow_the_pattern() {
        let read = Job::new(Pattern::Randread).resolve().unwrap();
        assert_eq!(read.bs, 4096);
        assert_eq!(read.size, 64 << 20);
        assert_eq!(read.direct, DirectMode::On);
        assert_eq!(read.fsync, FsyncPolicy::None);
        assert_eq!(read.rwmixread, 100);
        assert_eq!(read.io_limit, Some(64 << 20));
        let write = Job::new(Pattern::Write).resolve().unwrap();
        assert_eq!(write.direct, DirectMode::Off);
        assert_eq!(write.fsync, FsyncPolicy::End);
        assert_eq!(write.rwmixread, 0);
        let meta = Job::new(Pattern::Metadata).resolve().unwrap();
        assert_eq!((meta.size, meta.nrfiles), (4096, 256));
        let fsync = Job::new(Pattern::FsyncLatency).resolve().unwrap();
        assert_eq!(fsync.fsync, FsyncPolicy::Every(1));
        let rw = Job::new(Pattern::Randrw).resolve().unwrap();
        assert_eq!(rw.rwmixread, 50);
    }

    #[test]
    fn full_yaml_job() {
        let job = yaml(
            "pattern: randrw\nbs: 8k\nsize: 1GiB\nnrfiles: 2\nthreads: 4\niodepth: 8\n\
             rwmixread: 70\nruntime: 30s\nramp_time: 2s\ndirect: required\nfsync: 16\n\
             sync_call: fdatasync\no_sync: true\nverify: true\nseed: 7\n",
        )
        .unwrap();
        let r = job.resolve().unwrap();
        assert_eq!(r.bs, 8192);
        assert_eq!(r.size, 1 << 30);
        assert_eq!(r.rwmixread, 70);
        assert_eq!(r.runtime, Some(Duration::from_secs(30)));
        assert_eq!(r.io_limit, None);
        assert_eq!(r.direct, DirectMode::Required);
        assert_eq!(r.fsync, FsyncPolicy::Every(16));
        assert_eq!(r.sync_call, SyncCall::Fdatasync);
        assert!(r.o_sync && r.verify);
        // Round trip through JSON keeps the job.
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
    }

    #[test]
    fn yaml_booleans_for_direct() {
        assert_eq!(
            yaml("pattern: read\ndirect: true\n").unwrap().direct,
            Some(DirectMode::On)
        );
        assert_eq!(
            yaml("pattern: read\ndirect: off\n").unwrap().direct,
            Some(DirectMode::Off)
        );
    }

    #[test]
    fn yaml_errors_carry_location_and_one_line() {
        let err = yaml("pattern: read\nbs: 1Gx\n").unwrap_err();
        let JobFileError::Parse(ParseError { at, message }) = &err else {
            panic!("{err}")
        };
        assert_eq!(at.line, 2);
        assert!(message.contains("`1Gx`"), "{message}");
        assert!(!err.to_string().contains('\n'), "{err}");

        let err = yaml("pattern: read\nblocksize: 4k\n").unwrap_err();
        assert!(err.to_string().contains("blocksize"), "{err}");
        assert!(err.to_string().starts_with("job.yaml:2:"), "{err}");

        let err = yaml("pattern: sideways\n").unwrap_err();
        assert!(err.to_string().contains("sideways"), "{err}");
        let err = yaml("pattern: read\nsize: -4\n").unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn locate_fields_for_semantic_errors() {
        let text = "pattern: read\nsize: 4k\nbs: 8k\n";
        let job = yaml(text).unwrap();
        let err = job.validate().unwrap_err();
        assert_eq!(err.field(), "bs");
        assert_eq!(
            locate_field(text, "bs"),
            Some((3, 5)),
            "points at the value"
        );
    }

    #[test]
    fn an_invalid_job_file_says_the_problem_once_with_no_source_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.yaml");
        std::fs::write(&path, "pattern: read\nsize: 4k\nbs: 8k\n").unwrap();
        let err = load_job_file(&path).unwrap_err();
        assert!(matches!(err, JobFileError::Invalid { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3:5: invalid bs `8k`: larger than the file size `4k` (hint: lower bs or \
                 raise size)",
                path.display()
            )
        );
        assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let check = |job: Job, field: &str, value: &str| {
            let err = job.validate().unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().contains(&format!("`{value}`")), "{err}");
        };
        let mut j = Job::new(Pattern::Read);
        j.bs = Some(Size(0));
        check(j, "bs", "0");
        let mut j = Job::new(Pattern::Read);
        j.size = Some(Size(4096));
        j.bs = Some(Size(8192));
        check(j, "bs", "8k");
        let mut j = Job::new(Pattern::Randrw);
        j.rwmixread = Some(101);
        check(j, "rwmixread", "101");
        let mut j = Job::new(Pattern::Read);
        j.rwmixread = Some(50);
        check(j, "rwmixread", "50");
        let mut j = Job::new(Pattern::Read);
        j.threads = 0;
        check(j, "threads", "0");
        let mut j = Job::new(Pattern::Read);
        j.size = Some(Size(10_000));
        check(j, "size", "10000");
        let mut j = Job::new(Pattern::Read);
        j.fsync = Some(FsyncPolicy::End);
        check(j, "fsync", "end");
        let mut j = Job::new(Pattern::Write);
        j.fsync = Some(FsyncPolicy::Every(0));
        check(j, "fsync", "0");
        let mut j = Job::new(Pattern::Read);
        j.runtime = Some(Span(Duration::ZERO));
        check(j, "runtime", "0s");
        let mut j = Job::new(Pattern::Read);
        j.bs = Some(Size(1000));
        j.size = Some(Size(1_000_000));
        j.direct = Some(DirectMode::Required);
        check(j, "bs", "1000");
        let mut j = Job::new(Pattern::Metadata);
        j.verify = true;
        check(j, "verify", "true");
        let mut j = Job::new(Pattern::Read);
        j.io_size = Some(Size(6000));
        check(j, "io_size", "6000");
    }

    #[test]
    fn flags_give_back_the_same_job_and_settings_read_in_human_units() {
        let job = yaml(
            "pattern: randrw\nbs: 8k\nsize: 1GiB\nthreads: 4\niodepth: 32\nioengine: threads\n\
             rwmixread: 70\nruntime: 90s\nramp_time: 2s\ndirect: required\nfsync: 16\n\
             sync_call: fdatasync\nverify: true\n",
        )
        .unwrap();
        let flags = job.command_flags();
        assert_eq!(
            flags.join(" "),
            "--pattern randrw --bs 8k --size 1g --threads 4 --iodepth 32 --ioengine threads \
             --rwmixread 70 --runtime 1m30s --ramp-time 2s --direct required --fsync 16 \
             --sync-call fdatasync --verify"
        );
        assert_eq!(
            job.resolve().unwrap().settings(),
            "randrw, bs 8k, 1g per file x 1 file x 4 threads, iodepth 32, ioengine threads, \
             70% reads, runtime 1m30s, ramp 2s, direct (required), fsync every 16 writes, verified"
        );
        let plain = Job::new(Pattern::Read);
        assert_eq!(plain.command_flags(), ["--pattern", "read"]);
        assert_eq!(
            plain.resolve().unwrap().settings(),
            "read, bs 4k, 64m per file x 1 file x 1 thread, iodepth 1, 64m per thread, direct"
        );
    }

    #[test]
    fn policies_parse() {
        assert_eq!("end".parse(), Ok(FsyncPolicy::End));
        assert_eq!("none".parse(), Ok(FsyncPolicy::None));
        assert_eq!("8".parse(), Ok(FsyncPolicy::Every(8)));
        assert!("sometimes".parse::<FsyncPolicy>().is_err());
        assert_eq!("required".parse(), Ok(DirectMode::Required));
        assert!("maybe".parse::<DirectMode>().is_err());
        assert_eq!("fsync-latency".parse(), Ok(Pattern::FsyncLatency));
        assert!(
            "sideways"
                .parse::<Pattern>()
                .unwrap_err()
                .contains("randrw")
        );
    }
}
