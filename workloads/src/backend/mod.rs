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
//! data patterns to [`crate::pipeline`], and [`Backend::nfs_snapshot`] /
//! [`Backend::nfs_section`] fill the result's `nfs` section.

pub mod nfs;
pub mod posix;
pub mod submitters;
pub mod uring;

use std::sync::atomic::AtomicBool;

use nix::errno::Errno;

use crate::driver::{MeasuredOutcome, PhaseClock};
use crate::job::ResolvedJob;
use crate::mount::{MountSection, MountStats};
use crate::result::BackendInfo;
use crate::verify::Generations;

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

/// What went wrong with one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The call failed with this errno.
    Errno(Errno),
    /// A read returned fewer bytes than asked (the file is shorter than the job's size).
    ShortRead {
        /// Bytes returned.
        got: u64,
        /// Bytes asked.
        want: u64,
    },
    /// A write stored fewer bytes than asked (usually the filesystem filled up).
    ShortWrite {
        /// Bytes stored.
        got: u64,
        /// Bytes asked.
        want: u64,
    },
}

impl FaultCode {
    /// Name used as the key of the result's `errors` map.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            FaultCode::Errno(e) => format!("{e:?}"),
            FaultCode::ShortRead { .. } => "short_read".to_owned(),
            FaultCode::ShortWrite { .. } => "short_write".to_owned(),
        }
    }
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultCode::Errno(e) => write!(f, "{e:?} ({})", e.desc()),
            FaultCode::ShortRead { got, want } => write!(f, "short read: {got} of {want} bytes"),
            FaultCode::ShortWrite { got, want } => write!(f, "short write: {got} of {want} bytes"),
        }
    }
}

/// One failed operation, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op} of `{file}`{} failed: {code}", offset.map(|o| format!(" at offset {o}")).unwrap_or_default())]
pub struct IoFault {
    /// Operation (`read`, `write`, `open`, `fsync`, `create`...).
    pub op: &'static str,
    /// File or directory.
    pub file: String,
    /// Byte offset, for data operations.
    pub offset: Option<u64>,
    /// What failed.
    pub code: FaultCode,
}

impl IoFault {
    /// A fault from an errno.
    #[must_use]
    pub fn errno(op: &'static str, file: &str, offset: Option<u64>, errno: Errno) -> IoFault {
        IoFault {
            op,
            file: file.to_owned(),
            offset,
            code: FaultCode::Errno(errno),
        }
    }
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

/// One worker's IO: its own files (data patterns) or its own directory (metadata).
///
/// File indexes are `0..nrfiles`; metadata paths are relative to the worker's directory.
pub trait WorkerIo: Send {
    /// Name of file `file` for reports (a path).
    fn file_name(&self, file: u32) -> &str;
    /// Current length of file `file`.
    fn file_len(&mut self, file: u32) -> Result<u64, Errno>;
    /// Reads into `buf` at `offset`; returns the bytes read.
    fn read_at(&mut self, file: u32, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// Writes `buf` at `offset`; returns the bytes written.
    fn write_at(&mut self, file: u32, buf: &[u8], offset: u64) -> Result<usize, Errno>;
    /// Flushes file `file` (fsync or fdatasync as the job says).
    fn sync(&mut self, file: u32) -> Result<(), Errno>;
    /// Asks the client to forget cached pages of `file` (after layout, before buffered reads).
    fn drop_cache(&mut self, _file: u32) -> Result<(), Errno> {
        Ok(())
    }
    /// Creates directory `path`.
    fn mkdir(&mut self, path: &str) -> Result<(), Errno>;
    /// Creates file `path` (must not exist) holding `content`.
    fn create(&mut self, path: &str, content: &[u8]) -> Result<(), Errno>;
    /// Returns the size of `path`.
    fn stat(&mut self, path: &str) -> Result<u64, Errno>;
    /// Lists directory `path`; returns the number of entries (without `.` and `..`).
    fn readdir(&mut self, path: &str) -> Result<u64, Errno>;
    /// Renames `from` to `to`.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno>;
    /// Removes file `path`.
    fn unlink(&mut self, path: &str) -> Result<(), Errno>;
    /// Removes empty directory `path`.
    fn rmdir(&mut self, path: &str) -> Result<(), Errno>;
    /// Files the worker created and still exist (reported in the result).
    fn created_files(&self) -> u64;
    /// Removes every file and directory this worker created.
    fn cleanup(&mut self) -> Result<(), IoFault>;
    /// Runs this worker's measured phase with the backend's own driver (several requests
    /// in flight, see [`crate::pipeline`]); `None` lets the engine's synchronous driver
    /// run it.
    fn run_measured(
        &mut self,
        _job: &ResolvedJob,
        _worker: u32,
        _clock: PhaseClock<'_>,
        _stop: &AtomicBool,
        _generations: &mut [Generations],
    ) -> Option<MeasuredOutcome> {
        None
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
    /// A snapshot of the backend's own RPC counters (protocol backends).
    fn nfs_snapshot(&self) -> Option<nfs::stats::RpcSnapshot> {
        None
    }
    /// The result's `nfs` section, with the RPCs since `before` (the measured phase).
    fn nfs_section(
        &self,
        _before: Option<&nfs::stats::RpcSnapshot>,
    ) -> Option<nfs::report::NfsSection> {
        None
    }
}

/// A buffer aligned for direct IO (4096 bytes, enough for every common device), made
/// without `unsafe` by over-allocating and slicing at the aligned offset.
#[derive(Debug, Clone)]
pub struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

/// Alignment of [`AlignedBuf`].
pub const BUF_ALIGN: usize = 4096;

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes.
    #[must_use]
    pub fn new(len: usize) -> AlignedBuf {
        let storage = vec![0u8; len + BUF_ALIGN];
        let start = storage.as_ptr().align_offset(BUF_ALIGN).min(BUF_ALIGN);
        AlignedBuf {
            storage,
            start,
            len,
        }
    }

    /// The bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_aligned() {
        for len in [1usize, 512, 4096, 65_536, 1 << 20] {
            let mut b = AlignedBuf::new(len);
            assert_eq!(b.as_slice().as_ptr() as usize % BUF_ALIGN, 0);
            assert_eq!(b.as_mut_slice().len(), len);
        }
    }

    #[test]
    fn fault_names() {
        assert_eq!(FaultCode::Errno(Errno::ENOSPC).name(), "ENOSPC");
        assert_eq!(
            FaultCode::ShortWrite { got: 1, want: 2 }.name(),
            "short_write"
        );
        let f = IoFault::errno("write", "/d/f", Some(4096), Errno::EIO);
        assert_eq!(
            f.to_string(),
            "write of `/d/f` at offset 4096 failed: EIO (I/O error)"
        );
    }
}
