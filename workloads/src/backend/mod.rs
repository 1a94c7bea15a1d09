//! The backend seam: where IO leaves the engine.
//!
//! Everything above this module is backend-neutral: the job model ([`crate::job`]), the
//! operation streams ([`crate::ops`]), the verification pattern ([`crate::verify`]),
//! statistics ([`crate::stats`]), the measured-phase driver ([`crate::driver`]) and the
//! result document ([`crate::result`]). A backend only answers "do this operation on this
//! file" and "what is the target".
//!
//! # Contract
//!
//! A backend implements [`Backend`]:
//! - [`Backend::prepare`] runs before any IO: it checks the target (exists, writable,
//!   direct IO accepted) and decides effective settings ([`Prepared`]). Its errors are bad
//!   input (exit code 2) unless they are plainly IO failures.
//! - [`Backend::open_worker`] gives one worker its [`WorkerIo`]: that worker's files (data
//!   patterns) or its private directory (metadata pattern), opened or created. The worker
//!   remembers what it created so [`WorkerIo::cleanup`] can remove it.
//! - [`Backend::mount_section`] / [`Backend::mount_stats`] describe where the IO lands.
//!
//! [`WorkerIo`] is synchronous: one request in flight per worker, which is what POSIX calls
//! give; the engine's driver runs one thread per worker. Deeper queues go through
//! [`WorkerIo::run_measured`]: the POSIX backend keeps `iodepth` requests in flight with
//! io_uring ([`uring`]) or submitter threads ([`submitters`]) through [`crate::queue`], the
//! NFSv3 backend pipelines its RPCs through [`crate::pipeline`]. [`Prepared::mechanism`]
//! says which ran and why.
//!
//! # Adding a backend (e.g. NFSv3 from user space, `nfs://host/export/path`)
//!
//! 1. Parse the target in the binary and construct the backend; everything else in the CLI
//!    stays as is (`--dir` becomes a target string the backend understands).
//! 2. Implement [`WorkerIo`] over the protocol (READ/WRITE/COMMIT for data; MKDIR, CREATE,
//!    GETATTR, READDIR(PLUS), RENAME, REMOVE, RMDIR for metadata), mapping protocol status
//!    codes to the nearest [`Errno`] (as the kernel client does: NFS3ERR_NOSPC -> ENOSPC),
//!    so error counts stay comparable. An async client can sit behind the synchronous calls
//!    with a runtime's `block_on`: that already gives the same jobs at iodepth 1 per worker.
//! 3. For real queue depth (several requests in flight per worker over several
//!    connections), do not force it through [`WorkerIo`]: write a driver beside
//!    [`crate::driver`] that pulls [`crate::ops::OpStream`] operations ahead, keeps
//!    `iodepth` of them in flight, and records each completion into the worker's
//!    [`crate::stats::Recorder`] with its own submit and completion instants. Layout,
//!    verification ([`crate::verify::fill_block`], [`crate::verify::check_block`],
//!    [`crate::verify::Generations`]), ramp handling (the recorder's window start) and
//!    result assembly ([`crate::engine`]) are reused unchanged; report the iodepth used in
//!    [`Prepared::iodepth`].
//! 4. Report the protocol's own view (per-procedure RPC counts and times) in place of the
//!    kernel's mountstats by returning `None` from [`Backend::mount_section`] and adding
//!    a section to the result next to `mount`.
//!
//! The NFSv3 backend ([`nfs`]) is built this way: [`WorkerIo::run_measured`] hands its
//! data patterns to [`crate::pipeline`], and [`Backend::protocol_counters`] /
//! [`Backend::protocol_section`] fill the result's `nfs` section
//! ([`ProtocolSection::Nfs`]).

pub(crate) mod nfs;
pub(crate) mod posix;
pub(crate) mod submitters;
pub(crate) mod uring;

use nix::errno::Errno;

use crate::io::{IoFault, WorkerIo};
use crate::job::ResolvedJob;
use crate::mount::{MountSection, MountStats};
use crate::result::{BackendInfo, ProtocolSection};

/// How a backend keeps requests in flight, and why that way (the result's `io` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanism {
    /// `sync` (one call at a time per thread), `io_uring`, `threads` (submitter threads),
    /// or `rpc-pipeline` (the NFSv3 client's own queue).
    pub name: &'static str,
    /// Why this mechanism ran (the job's `ioengine`, the depth, what a probe answered).
    pub reason: String,
}

/// Settings a backend decided in [`Backend::prepare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Whether O_DIRECT (or the backend's equivalent: no client cache) is used.
    pub direct: bool,
    /// Why direct IO is not used although the job asked for it.
    pub direct_note: Option<String>,
    /// Requests in flight per worker.
    pub iodepth: u32,
    /// How they are kept in flight.
    pub mechanism: Mechanism,
    /// Notes for people (printed on stderr and kept in the result).
    pub notes: Vec<String>,
}

/// Why a backend refuses to start (before any IO).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The target directory does not exist or is not a directory.
    #[error("directory `{path}` {problem} (hint: create it or mount the volume there)")]
    NoDirectory {
        /// The path.
        path: String,
        /// `does not exist`, `is not a directory`.
        problem: &'static str,
    },
    /// Files must be created but the directory refuses writes.
    #[error(
        "directory `{path}` is not writable: {errno:?} (hint: the run creates its files there; use a writable directory)"
    )]
    NotWritable {
        /// The path.
        path: String,
        /// The error of the probe file's creation.
        errno: Errno,
    },
    /// The job requires direct IO and the filesystem refuses it.
    #[error(
        "direct IO is required but the filesystem at `{path}` refuses O_DIRECT: {errno:?} ({step}) (hint: use --direct=on to fall back to buffered IO)"
    )]
    DirectRefused {
        /// The path.
        path: String,
        /// The refusing call.
        step: &'static str,
        /// Its error.
        errno: Errno,
    },
    /// Another failure while probing the target.
    #[error("cannot probe `{path}`")]
    Probe {
        /// The path.
        path: String,
        /// The failure.
        #[source]
        source: IoFault,
    },
    /// A remote target refused or could not be reached.
    #[error("cannot use `{target}`")]
    Target {
        /// The target (URL).
        target: String,
        /// The user fixes it in the command (exit code 2) rather than in the environment.
        bad_input: bool,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl PrepareError {
    /// The job field or run option the error is about (`dir` or `direct`), if any.
    #[must_use]
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PrepareError::NoDirectory { .. } | PrepareError::NotWritable { .. } => Some("dir"),
            PrepareError::DirectRefused { .. } => Some("direct"),
            PrepareError::Target { .. } => Some("target"),
            PrepareError::Probe { .. } => None,
        }
    }
}

/// A place IO goes to.
pub trait Backend: Sync {
    /// The worker handle type.
    type Worker: WorkerIo;
    /// Name and target for the result.
    fn info(&self) -> BackendInfo;
    /// Checks the target before any IO and decides effective settings.
    fn prepare(&mut self, job: &ResolvedJob) -> Result<Prepared, PrepareError>;
    /// Opens (creating where the job writes or lays out) the files of worker `worker`.
    fn open_worker(&self, worker: u32) -> Result<Self::Worker, IoFault>;
    /// The mount holding the target, where there is one.
    fn mount_section(&self) -> Option<MountSection>;
    /// A snapshot of the kernel's statistics for that mount, where it keeps them.
    fn mount_stats(&self) -> Option<MountStats>;
    /// The backend's own protocol counters at one instant (`()` for a backend without a
    /// protocol of its own); the engine only hands them back to [`Backend::protocol_section`].
    type Counters;
    /// A snapshot of the backend's own protocol counters (protocol backends).
    fn protocol_counters(&self) -> Option<Self::Counters> {
        None
    }
    /// The backend's own section of the result (protocol backends), with the protocol's
    /// counters since `before` (the measured phase; `None` when it did not run).
    fn protocol_section(&self, _before: Option<&Self::Counters>) -> Option<ProtocolSection> {
        None
    }
}
