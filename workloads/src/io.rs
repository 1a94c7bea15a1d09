//! Data-path primitives shared by the backends and the drivers: what one operation's
//! failure looks like ([`IoFault`], [`FaultCode`]), the buffers IO moves
//! ([`AlignedBuf`], [`SharedBuf`]), one worker's synchronous IO ([`WorkerIo`]), the clock
//! of the measured phase ([`PhaseClock`], [`ProgressFile`]) and what a worker's measured
//! phase yields ([`MeasuredOutcome`]).
//!
//! This is a leaf below both sides of the backend seam: the drivers ([`crate::driver`],
//! [`crate::pipeline`], [`crate::queue`]) and the backends ([`crate::backend`]) use these
//! types, and nothing here knows either of them.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nix::errno::Errno;

use crate::job::ResolvedJob;
use crate::stats::Recorder;
use crate::verify::{Generations, VerifyTally};

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
    /// in flight, see the `pipeline` module); `None` lets the engine's synchronous driver
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

/// A buffer aligned for direct IO (4096 bytes, enough for every common device), made
/// without `unsafe` by over-allocating and slicing at the aligned offset.
#[derive(Debug, Clone)]
pub(crate) struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

/// Alignment of [`AlignedBuf`].
pub(crate) const BUF_ALIGN: usize = 4096;

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes.
    #[must_use]
    pub(crate) fn new(len: usize) -> AlignedBuf {
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
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The bytes, mutable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// A range of a shared buffer: data handed to a backend without copying it (the backend
/// may keep it, e.g. until the server commits it).
#[derive(Debug, Clone, Default)]
pub struct SharedBuf {
    data: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl SharedBuf {
    /// `data[range]` (clamped to the data).
    #[must_use]
    pub fn new(data: Arc<Vec<u8>>, range: Range<usize>) -> SharedBuf {
        let end = range.end.min(data.len());
        let start = range.start.min(end);
        SharedBuf {
            data,
            range: start..end,
        }
    }

    /// All of `bytes` (moved, not copied).
    #[must_use]
    pub fn from_vec(bytes: Vec<u8>) -> SharedBuf {
        let len = bytes.len();
        SharedBuf::new(Arc::new(bytes), 0..len)
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.range.len()
    }

    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// The bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.data[self.range.clone()]
    }

    /// A part of it, `sub` relative to its start (clamped).
    #[must_use]
    pub fn slice(&self, sub: Range<usize>) -> SharedBuf {
        let start = (self.range.start + sub.start).min(self.range.end);
        let end = (self.range.start + sub.end).clamp(start, self.range.end);
        SharedBuf {
            data: Arc::clone(&self.data),
            range: start..end,
        }
    }
}

/// When the measured phase of every worker starts and ends, and where workers announce
/// their first completed operation.
#[derive(Debug, Clone, Copy)]
pub struct PhaseClock<'a> {
    /// End of the ramp, start of the measured window.
    pub window_start: Instant,
    /// End of the window for time-based runs.
    pub deadline: Option<Instant>,
    /// Written once every worker has completed an operation (`--progress-file`).
    pub progress: Option<&'a ProgressFile>,
    /// Set when the window ends early (`--stop-file` appeared).
    pub ended: Option<&'a AtomicBool>,
}

impl PhaseClock<'_> {
    /// Whether the window is over at `now`: its deadline passed, or it was ended early.
    #[inline]
    #[must_use]
    pub fn over(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
            || self.ended.is_some_and(|e| e.load(Ordering::Relaxed))
    }
}

/// A file written once every worker has completed an operation of the measured phase
/// (ramp included), so that another process knows IO is under way: a scenario restarts
/// the NFS server only once every writer is writing. It is written next to its final name
/// and renamed, so whoever sees it sees it whole; its content is for people, not a format.
#[derive(Debug)]
pub struct ProgressFile {
    path: PathBuf,
    workers: u32,
    pending: AtomicU32,
    started: Instant,
    failure: Mutex<Option<String>>,
}

impl ProgressFile {
    /// The file at `path`, written when all `workers` have reported.
    #[must_use]
    pub fn new(path: &Path, workers: u32) -> Self {
        Self {
            path: path.to_owned(),
            workers,
            pending: AtomicU32::new(workers),
            started: Instant::now(),
            failure: Mutex::new(None),
        }
    }

    /// One worker completed its first operation; the last of them writes the file.
    pub fn worker_progressed(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let text = format!(
            "every worker ({}) completed an operation, {:.3} s into the measured phase\n",
            self.workers,
            self.started.elapsed().as_secs_f64()
        );
        if let Err(e) = write_whole(&self.path, &text) {
            let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
            *failure = Some(format!(
                "cannot write the progress file `{}`: {e}",
                self.path.display()
            ));
        }
    }

    /// Whether every worker has reported (and the file was attempted).
    #[must_use]
    pub fn reached(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// Why the file could not be written, if it could not.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Writes `text` beside `path` and renames it there, so a reader sees all or nothing.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".{}.tmp", std::process::id()));
    let staging = PathBuf::from(staging);
    std::fs::write(&staging, text)?;
    std::fs::rename(&staging, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&staging);
    })
}

/// One worker's measured phase.
#[derive(Debug)]
pub struct MeasuredOutcome {
    /// Its statistics.
    pub recorder: Recorder,
    /// The failure that stopped it, if any.
    pub fault: Option<IoFault>,
    /// Blocks verified by measured reads.
    pub tally: VerifyTally,
    /// Thread CPU (user, sys) seconds within the window.
    pub cpu: (f64, f64),
    /// Most requests this worker had in flight at once.
    pub max_in_flight: u32,
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
