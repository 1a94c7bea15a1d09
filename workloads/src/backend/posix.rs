//! The POSIX backend: kernel filesystem calls through `nix` on a directory.
//!
//! Data files are `<dir>/<prefix>.t<thread>.f<file>`; the metadata pattern works in
//! `<dir>/<prefix>.md.t<thread>/`. Files are opened with O_DIRECT when the probe in
//! [`PosixBackend::prepare`] showed the filesystem accepts it, and O_SYNC when the job asks.
//! Reads and writes are `pread`/`pwrite`; syncs are `fsync`/`fdatasync`; cached pages are
//! dropped with `posix_fadvise(DONTNEED)` after layout.
//!
//! Queue depth: at `iodepth` 1 (and `ioengine: sync`) each worker thread makes its calls
//! itself, one at a time. Deeper, the measured data phase keeps `iodepth` requests in flight
//! per thread ([`crate::queue`]) with io_uring, or with submitter threads where io_uring is
//! unavailable or `ioengine: threads` asks for them; [`choose_mechanism`] decides, and the
//! result says which ran and why.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, PosixFadviseAdvice, open, posix_fadvise, renameat};
use nix::sys::stat::{Mode, fstat, stat};
use nix::sys::uio::{pread, pwrite};
use nix::unistd::{UnlinkatFlags, fdatasync, fsync, mkdir, unlink, unlinkat};

use super::submitters::Submitters;
use super::uring::{self, UringQueue};
use super::{Backend, Mechanism, PrepareError, Prepared};
use crate::io::{AlignedBuf, IoFault, MeasuredOutcome, PhaseClock, WorkerIo};
use crate::job::{DirectMode, IoEngine, Pattern, ResolvedJob, SyncCall};
use crate::mount::{MountSection, MountStats, mount_section, read_mountstats};
use crate::pipeline::CpuWindow;
use crate::queue::run_queued;
use crate::result::BackendInfo;
use crate::verify::Generations;

/// How a worker thread keeps its requests in flight on a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueMechanism {
    /// `pread`/`pwrite` from the worker thread, one at a time.
    Sync,
    /// io_uring, `iodepth` entries per worker.
    IoUring,
    /// `iodepth` submitter threads per worker.
    Threads,
}

impl QueueMechanism {
    /// The name in results (`sync`, `io_uring`, `threads`).
    #[must_use]
    pub(crate) const fn name(self) -> &'static str {
        match self {
            QueueMechanism::Sync => "sync",
            QueueMechanism::IoUring => "io_uring",
            QueueMechanism::Threads => "threads",
        }
    }
}

/// What [`choose_mechanism`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueChoice {
    /// The mechanism.
    pub mechanism: QueueMechanism,
    /// Requests in flight per worker thread.
    pub depth: u32,
    /// Why, for the result.
    pub reason: String,
    /// A note for people when the job does not run as written (depth lowered, fallback).
    pub note: Option<String>,
}

/// Decides how `job` keeps its requests in flight on a directory; `uring` probes whether
/// io_uring may be used (it is only called when io_uring would be).
pub(crate) fn choose_mechanism(
    job: &ResolvedJob,
    uring: impl FnOnce() -> Result<(), Errno>,
) -> QueueChoice {
    let depth = job.iodepth.max(1);
    let one = |reason: String, note: Option<String>| QueueChoice {
        mechanism: QueueMechanism::Sync,
        depth: 1,
        reason,
        note,
    };
    if job.pattern == Pattern::Metadata {
        return one(
            "the metadata pattern makes one call at a time per thread".to_owned(),
            (depth > 1).then(|| {
                format!(
                    "metadata operations run one at a time per thread: iodepth {depth} runs as 1 (hint: raise threads)"
                )
            }),
        );
    }
    match job.ioengine {
        IoEngine::Sync => one(
            "ioengine sync: pread/pwrite from each thread, one at a time".to_owned(),
            (depth > 1).then(|| {
                format!(
                    "ioengine sync has one request in flight per thread: iodepth {depth} runs as 1 (hint: ioengine auto keeps the depth)"
                )
            }),
        ),
        IoEngine::Auto if depth == 1 => one(
            "iodepth 1: pread/pwrite from each thread".to_owned(),
            None,
        ),
        IoEngine::Threads => QueueChoice {
            mechanism: QueueMechanism::Threads,
            depth,
            reason: format!("ioengine threads: {depth} submitter thread(s) per thread"),
            note: None,
        },
        IoEngine::Auto | IoEngine::IoUring => match uring() {
            Ok(()) => QueueChoice {
                mechanism: QueueMechanism::IoUring,
                depth,
                reason: format!(
                    "ioengine {}: io_uring with {depth} request(s) in flight per thread",
                    job.ioengine
                ),
                note: None,
            },
            Err(errno) => {
                let why = match errno {
                    Errno::ENOSYS => "the kernel has no io_uring (Linux 5.1 or later has it)",
                    Errno::EPERM | Errno::EACCES => {
                        "a seccomp profile (Docker's and containerd's default ones) or kernel.io_uring_disabled blocks it"
                    }
                    _ => "the kernel refused to set up a ring",
                };
                let reason = format!(
                    "io_uring is unavailable (io_uring_setup: {errno:?}: {why}); {depth} submitter thread(s) per thread keep the depth"
                );
                QueueChoice {
                    mechanism: QueueMechanism::Threads,
                    depth,
                    note: Some(reason.clone()),
                    reason,
                }
            }
        },
    }
}

/// Kernel filesystem IO on a directory.
#[derive(Debug, Clone)]
pub(crate) struct PosixBackend {
    dir: PathBuf,
    prefix: String,
    job: Option<ResolvedJob>,
    direct: bool,
    /// Whether the run writes (or creates) files; false for reads of files in place, which
    /// are then opened read-only (a read-only volume works).
    writes: bool,
    /// How workers keep their requests in flight.
    queue: QueueMechanism,
    /// Requests in flight per worker.
    depth: u32,
    /// The process CPU over the window, for queued mechanisms.
    cpu: Arc<CpuWindow>,
}

impl PosixBackend {
    /// A backend for `dir`; file names start with `prefix` (so several clients can share a
    /// directory with different prefixes).
    #[must_use]
    pub(crate) fn new(dir: &Path, prefix: &str) -> PosixBackend {
        PosixBackend {
            dir: dir.to_path_buf(),
            prefix: prefix.to_owned(),
            job: None,
            direct: false,
            writes: true,
            queue: QueueMechanism::Sync,
            depth: 1,
            cpu: Arc::new(CpuWindow::new(1)),
        }
    }

    /// Path of worker `worker`'s file `file`.
    #[must_use]
    pub(crate) fn data_path(&self, worker: u32, file: u32) -> PathBuf {
        self.dir.join(format!("{}.t{worker}.f{file}", self.prefix))
    }

    /// Directory of worker `worker` for the metadata pattern.
    #[must_use]
    pub(crate) fn metadata_dir(&self, worker: u32) -> PathBuf {
        self.dir.join(format!("{}.md.t{worker}", self.prefix))
    }

    fn dir_text(&self) -> String {
        self.dir.display().to_string()
    }

    /// Whether every data file exists at the job's size (then a read job needs no writes).
    fn all_files_present(&self, job: &ResolvedJob) -> bool {
        (0..job.threads).all(|w| {
            (0..job.nrfiles).all(|f| {
                stat(&self.data_path(w, f)).is_ok_and(|s| u64::try_from(s.st_size) == Ok(job.size))
            })
        })
    }

    /// Tries O_DIRECT on the target: open a probe file with it and move one aligned block.
    /// Returns the refusing step and errno, or `None` when accepted.
    fn probe_direct(
        &self,
        job: &ResolvedJob,
        writable: bool,
    ) -> Result<Option<(&'static str, Errno)>, PrepareError> {
        let bs = job.bs as usize;
        let mut buf = AlignedBuf::new(bs);
        if writable {
            // Create the probe without O_DIRECT first: some filesystems create the file and
            // then refuse the flag, which would leave the probe behind.
            let probe = self.dir.join(format!(
                ".{}.direct-probe.{}",
                self.prefix,
                std::process::id()
            ));
            let probe_name = probe.display().to_string();
            let create = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
            let created = open(&probe, create, Mode::from_bits_truncate(0o600)).map_err(|e| {
                PrepareError::Probe {
                    path: self.dir_text(),
                    source: IoFault::errno("create", &probe_name, None, e),
                }
            })?;
            drop(created);
            let outcome = match open(
                &probe,
                OFlag::O_RDWR | OFlag::O_DIRECT | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Err(e @ Errno::EINVAL) => Ok(Some(("open with O_DIRECT", e))),
                Err(e) => Err(IoFault::errno("open", &probe_name, None, e)),
                Ok(fd) => {
                    let moved = pwrite(fd.as_fd(), buf.as_slice(), 0)
                        .and_then(|_| pread(fd.as_fd(), buf.as_mut_slice(), 0));
                    match moved {
                        Ok(_) => Ok(None),
                        Err(e @ Errno::EINVAL) => Ok(Some(("aligned read/write", e))),
                        Err(e) => Err(IoFault::errno("write", &probe_name, Some(0), e)),
                    }
                }
            };
            let _ = unlink(&probe);
            return outcome.map_err(|source| PrepareError::Probe {
                path: self.dir_text(),
                source,
            });
        }
        // Read-only target with every file in place: probe with a read of the first file.
        let first = self.data_path(0, 0);
        match open(
            &first,
            OFlag::O_RDONLY | OFlag::O_DIRECT | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => match pread(fd.as_fd(), buf.as_mut_slice(), 0) {
                Ok(_) => Ok(None),
                Err(e @ Errno::EINVAL) => Ok(Some(("aligned read", e))),
                Err(e) => Err(PrepareError::Probe {
                    path: self.dir_text(),
                    source: IoFault::errno("read", &first.display().to_string(), Some(0), e),
                }),
            },
            Err(e @ Errno::EINVAL) => Ok(Some(("open with O_DIRECT", e))),
            Err(e) => Err(PrepareError::Probe {
                path: self.dir_text(),
                source: IoFault::errno("open", &first.display().to_string(), None, e),
            }),
        }
    }

    /// Checks that files can be created in the directory (a probe file, removed at once).
    fn probe_writable(&self) -> Result<(), PrepareError> {
        let probe = self
            .dir
            .join(format!(".{}.probe.{}", self.prefix, std::process::id()));
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        match open(&probe, flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) => {
                drop(fd);
                let _ = unlink(&probe);
                Ok(())
            }
            Err(errno @ (Errno::EROFS | Errno::EACCES | Errno::EPERM)) => {
                Err(PrepareError::NotWritable {
                    path: self.dir_text(),
                    errno,
                })
            }
            Err(e) => Err(PrepareError::Probe {
                path: self.dir_text(),
                source: IoFault::errno("create", &probe.display().to_string(), None, e),
            }),
        }
    }
}

impl Backend for PosixBackend {
    type Worker = PosixWorker;
    type Counters = ();

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "posix".to_owned(),
            target: self.dir_text(),
        }
    }

    fn prepare(&mut self, job: &ResolvedJob) -> Result<Prepared, PrepareError> {
        match std::fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(PrepareError::NoDirectory {
                    path: self.dir_text(),
                    problem: "is not a directory",
                });
            }
            Err(_) => {
                return Err(PrepareError::NoDirectory {
                    path: self.dir_text(),
                    problem: "does not exist",
                });
            }
        }
        let needs_writes = job.pattern.writes()
            || job.pattern == crate::job::Pattern::Metadata
            || !self.all_files_present(job);
        if needs_writes {
            self.probe_writable()?;
        }
        self.writes = needs_writes;
        let mut notes = Vec::new();
        let mut direct_note = None;
        self.direct = match job.direct {
            DirectMode::Off => false,
            mode => match self.probe_direct(job, needs_writes)? {
                None => true,
                Some((step, errno)) if mode == DirectMode::Required => {
                    return Err(PrepareError::DirectRefused {
                        path: self.dir_text(),
                        step,
                        errno,
                    });
                }
                Some((step, errno)) => {
                    let note = format!(
                        "the filesystem at `{}` refuses O_DIRECT ({step}: {errno:?}); running buffered, so reads may come from the page cache (hint: --direct=required makes this an error)",
                        self.dir_text()
                    );
                    notes.push(note.clone());
                    direct_note = Some(note);
                    false
                }
            },
        };
        let choice = choose_mechanism(job, uring::probe);
        notes.extend(choice.note.clone());
        self.queue = choice.mechanism;
        self.depth = choice.depth;
        self.cpu = Arc::new(CpuWindow::new(job.threads));
        self.job = Some(job.clone());
        Ok(Prepared {
            direct: self.direct,
            direct_note,
            iodepth: choice.depth,
            mechanism: Mechanism {
                name: choice.mechanism.name(),
                reason: choice.reason,
            },
            notes,
        })
    }

    fn open_worker(&self, worker: u32) -> Result<PosixWorker, IoFault> {
        let job = self
            .job
            .clone()
            .ok_or_else(|| IoFault::errno("open", &self.dir_text(), None, Errno::EINVAL))?;
        let mut w = PosixWorker {
            files: Vec::new(),
            names: Vec::new(),
            created: Vec::new(),
            metadata_dir: None,
            created_dir: false,
            sync_call: job.sync_call,
            queue: self.queue,
            depth: self.depth,
            cpu: Arc::clone(&self.cpu),
        };
        if job.pattern == crate::job::Pattern::Metadata {
            let dir = self.metadata_dir(worker);
            let name = dir.display().to_string();
            match mkdir(&dir, Mode::from_bits_truncate(0o755)) {
                Ok(()) => w.created_dir = true,
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(IoFault::errno("mkdir", &name, None, e)),
            }
            w.metadata_dir = Some(dir);
            return Ok(w);
        }
        let writes = self.writes;
        let mut flags = OFlag::O_CLOEXEC
            | if writes {
                OFlag::O_RDWR
            } else {
                OFlag::O_RDONLY
            };
        if self.direct {
            flags |= OFlag::O_DIRECT;
        }
        if job.o_sync {
            flags |= OFlag::O_SYNC;
        }
        let mode = Mode::from_bits_truncate(0o644);
        for file in 0..job.nrfiles {
            let path = self.data_path(worker, file);
            let name = path.display().to_string();
            let opened = if writes {
                match open(&path, flags | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
                    Ok(fd) => {
                        w.created.push(path.clone());
                        Ok(fd)
                    }
                    Err(Errno::EEXIST) => open(&path, flags, mode),
                    Err(e) => Err(e),
                }
            } else {
                open(&path, flags, mode)
            };
            match opened {
                Ok(fd) => {
                    w.files.push(fd);
                    w.names.push(name);
                }
                Err(e) => {
                    let _ = w.cleanup();
                    return Err(IoFault::errno("open", &name, None, e));
                }
            }
        }
        Ok(w)
    }

    fn mount_section(&self) -> Option<MountSection> {
        mount_section(&self.dir).ok()
    }

    fn mount_stats(&self) -> Option<MountStats> {
        let section = mount_section(&self.dir).ok()?;
        read_mountstats(&section.mount.mount_point)
    }
}

/// One worker's open files (or metadata directory) on a POSIX filesystem.
#[derive(Debug)]
pub(crate) struct PosixWorker {
    files: Vec<OwnedFd>,
    names: Vec<String>,
    created: Vec<PathBuf>,
    metadata_dir: Option<PathBuf>,
    created_dir: bool,
    sync_call: SyncCall,
    queue: QueueMechanism,
    depth: u32,
    cpu: Arc<CpuWindow>,
}

impl PosixWorker {
    fn fd(&self, file: u32) -> Result<&OwnedFd, Errno> {
        self.files.get(file as usize).ok_or(Errno::EBADF)
    }

    fn md_path(&self, rel: &str) -> Result<PathBuf, Errno> {
        self.metadata_dir
            .as_ref()
            .map(|d| d.join(rel))
            .ok_or(Errno::ENOTDIR)
    }
}

fn offset(offset: u64) -> Result<i64, Errno> {
    i64::try_from(offset).map_err(|_| Errno::EOVERFLOW)
}

impl WorkerIo for PosixWorker {
    fn file_name(&self, file: u32) -> &str {
        self.names.get(file as usize).map_or("", String::as_str)
    }

    fn file_len(&mut self, file: u32) -> Result<u64, Errno> {
        let st = fstat(self.fd(file)?)?;
        u64::try_from(st.st_size).map_err(|_| Errno::EOVERFLOW)
    }

    #[inline]
    fn read_at(&mut self, file: u32, buf: &mut [u8], at: u64) -> Result<usize, Errno> {
        pread(self.fd(file)?, buf, offset(at)?)
    }

    #[inline]
    fn write_at(&mut self, file: u32, buf: &[u8], at: u64) -> Result<usize, Errno> {
        pwrite(self.fd(file)?, buf, offset(at)?)
    }

    fn sync(&mut self, file: u32) -> Result<(), Errno> {
        let fd = self.fd(file)?;
        match self.sync_call {
            SyncCall::Fsync => fsync(fd),
            SyncCall::Fdatasync => fdatasync(fd),
        }
    }

    fn drop_cache(&mut self, file: u32) -> Result<(), Errno> {
        posix_fadvise(
            self.fd(file)?,
            0,
            0,
            PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        )
    }

    fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        mkdir(&self.md_path(path)?, Mode::from_bits_truncate(0o755))
    }

    fn create(&mut self, path: &str, content: &[u8]) -> Result<(), Errno> {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let fd = open(&self.md_path(path)?, flags, Mode::from_bits_truncate(0o644))?;
        let mut done = 0;
        while done < content.len() {
            let n = pwrite(fd.as_fd(), &content[done..], offset(done as u64)?)?;
            if n == 0 {
                return Err(Errno::ENOSPC);
            }
            done += n;
        }
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<u64, Errno> {
        let st = stat(&self.md_path(path)?)?;
        u64::try_from(st.st_size).map_err(|_| Errno::EOVERFLOW)
    }

    fn readdir(&mut self, path: &str) -> Result<u64, Errno> {
        let mut dir = nix::dir::Dir::open(
            &self.md_path(path)?,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut count = 0;
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                count += 1;
            }
        }
        Ok(count)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        let (from, to) = (self.md_path(from)?, self.md_path(to)?);
        renameat(AT_FDCWD, &from, AT_FDCWD, &to)
    }

    fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        unlink(&self.md_path(path)?)
    }

    fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        unlinkat(AT_FDCWD, &self.md_path(path)?, UnlinkatFlags::RemoveDir)
    }

    fn created_files(&self) -> u64 {
        self.created.len() as u64 + u64::from(self.created_dir)
    }

    fn run_measured(
        &mut self,
        job: &ResolvedJob,
        worker: u32,
        clock: PhaseClock,
        stop: &AtomicBool,
        generations: &mut [Generations],
    ) -> Option<MeasuredOutcome> {
        if job.pattern == Pattern::Metadata || self.queue == QueueMechanism::Sync {
            return None;
        }
        let (depth, bs) = (self.depth as usize, job.bs as usize);
        let (files, names, cpu) = (&self.files, &self.names, &*self.cpu);
        let fds: Vec<BorrowedFd<'_>> = files.iter().map(AsFd::as_fd).collect();
        if self.queue == QueueMechanism::IoUring {
            match UringQueue::new(depth, bs, &fds, self.sync_call) {
                Ok(mut q) => {
                    return Some(run_queued(
                        &mut q,
                        names,
                        job,
                        worker,
                        clock,
                        stop,
                        generations,
                        cpu,
                    ));
                }
                // The probe passed but this worker's ring cannot be set up (memory locked
                // for rings is limited on older kernels): the same fallback as a refused
                // probe, at the same depth.
                Err(errno) => eprintln!(
                    "note: worker {worker}: io_uring_setup failed ({errno:?}: raise the \
                     locked-memory limit, `ulimit -l`, to give every worker a ring); {depth} \
                     submitter thread(s) keep the depth"
                ),
            }
        }
        Some(std::thread::scope(|scope| {
            let mut q = Submitters::start(scope, depth, bs, files, self.sync_call);
            let mut out = run_queued(&mut q, names, job, worker, clock, stop, generations, cpu);
            // What was inside the kernel at once, counted around the calls.
            out.max_in_flight = u32::try_from(q.peak()).unwrap_or(u32::MAX);
            out
        }))
    }

    fn cleanup(&mut self) -> Result<(), IoFault> {
        self.files.clear();
        let mut first_error = None;
        for path in self.created.drain(..) {
            if let Err(e) = unlink(&path)
                && e != Errno::ENOENT
            {
                first_error.get_or_insert(IoFault::errno(
                    "unlink",
                    &path.display().to_string(),
                    None,
                    e,
                ));
            }
        }
        if self.created_dir
            && let Some(dir) = &self.metadata_dir
        {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                let errno = Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32));
                first_error.get_or_insert(IoFault::errno(
                    "rmdir",
                    &dir.display().to_string(),
                    None,
                    errno,
                ));
            }
            self.created_dir = false;
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Job;

    fn job(pattern: Pattern, iodepth: u32, ioengine: Option<IoEngine>) -> ResolvedJob {
        let mut j = Job::new(pattern);
        j.iodepth = iodepth;
        j.ioengine = ioengine;
        j.resolve().unwrap()
    }

    fn refused(errno: Errno) -> impl FnOnce() -> Result<(), Errno> {
        move || Err(errno)
    }

    #[test]
    fn depth_one_keeps_the_synchronous_path_without_probing() {
        let c = choose_mechanism(&job(Pattern::Randread, 1, None), || {
            panic!("no probe at depth 1")
        });
        assert_eq!(
            (c.mechanism, c.depth, c.note),
            (QueueMechanism::Sync, 1, None)
        );
    }

    #[test]
    fn io_uring_when_the_kernel_allows_it_threads_with_the_reason_otherwise() {
        let deep = job(Pattern::Randread, 32, None);
        let c = choose_mechanism(&deep, || Ok(()));
        assert_eq!((c.mechanism, c.depth), (QueueMechanism::IoUring, 32));
        let c = choose_mechanism(&deep, refused(Errno::EPERM));
        assert_eq!((c.mechanism, c.depth), (QueueMechanism::Threads, 32));
        assert!(
            c.reason.contains("EPERM") && c.reason.contains("seccomp"),
            "{c:?}"
        );
        assert_eq!(c.note.as_deref(), Some(c.reason.as_str()));
        let c = choose_mechanism(&deep, refused(Errno::ENOSYS));
        assert!(
            c.reason.contains("ENOSYS") && c.reason.contains("5.1"),
            "{c:?}"
        );
        // An explicit io_uring falls back the same way, even at depth 1.
        let one = job(Pattern::Randread, 1, Some(IoEngine::IoUring));
        assert_eq!(
            choose_mechanism(&one, || Ok(())).mechanism,
            QueueMechanism::IoUring
        );
        let c = choose_mechanism(&one, refused(Errno::EPERM));
        assert_eq!((c.mechanism, c.depth), (QueueMechanism::Threads, 1));
    }

    #[test]
    fn threads_and_sync_are_taken_as_asked() {
        let c = choose_mechanism(&job(Pattern::Write, 4, Some(IoEngine::Threads)), || {
            panic!("no probe for threads")
        });
        assert_eq!(
            (c.mechanism, c.depth, c.note),
            (QueueMechanism::Threads, 4, None)
        );
        let c = choose_mechanism(&job(Pattern::Write, 4, Some(IoEngine::Sync)), || Ok(()));
        assert_eq!((c.mechanism, c.depth), (QueueMechanism::Sync, 1));
        assert!(c.note.is_some_and(|n| n.contains("iodepth 4 runs as 1")));
        let c = choose_mechanism(&job(Pattern::Metadata, 4, None), || Ok(()));
        assert_eq!((c.mechanism, c.depth), (QueueMechanism::Sync, 1));
        assert!(c.note.is_some_and(|n| n.contains("metadata")));
    }
}
