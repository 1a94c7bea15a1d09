//! The POSIX backend: kernel filesystem calls through `nix` on a directory.
//!
//! Data files are `<dir>/<prefix>.t<thread>.f<file>`; the metadata pattern works in
//! `<dir>/<prefix>.md.t<thread>/`. Files are opened with O_DIRECT when the probe in
//! [`PosixBackend::prepare`] showed the filesystem accepts it, and O_SYNC when the job asks.
//! Reads and writes are `pread`/`pwrite`; syncs are `fsync`/`fdatasync`; cached pages are
//! dropped with `posix_fadvise(DONTNEED)` after layout.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, PosixFadviseAdvice, open, posix_fadvise, renameat};
use nix::sys::stat::{Mode, fstat, stat};
use nix::sys::uio::{pread, pwrite};
use nix::unistd::{UnlinkatFlags, fdatasync, fsync, mkdir, unlink, unlinkat};

use super::{AlignedBuf, Backend, IoFault, PrepareError, Prepared, WorkerIo};
use crate::job::{DirectMode, ResolvedJob, SyncCall};
use crate::mount::{MountSection, MountStats, mount_section, read_mountstats};
use crate::result::BackendInfo;

/// Kernel filesystem IO on a directory.
#[derive(Debug, Clone)]
pub struct PosixBackend {
    dir: PathBuf,
    prefix: String,
    job: Option<ResolvedJob>,
    direct: bool,
    /// Whether the run writes (or creates) files; false for reads of files in place, which
    /// are then opened read-only (a read-only volume works).
    writes: bool,
}

impl PosixBackend {
    /// A backend for `dir`; file names start with `prefix` (so several clients can share a
    /// directory with different prefixes).
    #[must_use]
    pub fn new(dir: &Path, prefix: &str) -> PosixBackend {
        PosixBackend {
            dir: dir.to_path_buf(),
            prefix: prefix.to_owned(),
            job: None,
            direct: false,
            writes: true,
        }
    }

    /// Path of worker `worker`'s file `file`.
    #[must_use]
    pub fn data_path(&self, worker: u32, file: u32) -> PathBuf {
        self.dir.join(format!("{}.t{worker}.f{file}", self.prefix))
    }

    /// Directory of worker `worker` for the metadata pattern.
    #[must_use]
    pub fn metadata_dir(&self, worker: u32) -> PathBuf {
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
        if job.iodepth > 1 {
            notes.push(format!(
                "the posix backend has one request in flight per thread: iodepth {} runs as 1 (hint: raise threads for more concurrency)",
                job.iodepth
            ));
        }
        self.job = Some(job.clone());
        Ok(Prepared {
            direct: self.direct,
            direct_note,
            iodepth: 1,
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
pub struct PosixWorker {
    files: Vec<OwnedFd>,
    names: Vec<String>,
    created: Vec<PathBuf>,
    metadata_dir: Option<PathBuf>,
    created_dir: bool,
    sync_call: SyncCall,
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
