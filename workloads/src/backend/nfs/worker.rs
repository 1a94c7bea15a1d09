//! One worker's files over NFSv3: data IO with several RPCs in flight, COMMIT with write
//! verifier checks, and metadata operations with an optional attribute and name cache.
//!
//! **Data.** A read or write of `len` bytes is split into `rsize`/`wsize` RPCs sent
//! together; a short READ or WRITE is continued as the kernel client does. Unstable
//! writes are kept (their encoded requests, no extra copy) until a COMMIT returns the
//! verifier they were written under; a different verifier means the server lost them
//! (it restarted), so they are sent again and committed again. A worker whose kept bytes
//! pass `dirty_limit` commits the file it just wrote (the write that crossed the limit
//! waits for it, as a writer is throttled at the kernel's dirty limit).
//!
//! **Metadata.** Paths are relative to the worker's directory (`i0/f3`). With attribute
//! caching (`ac`) the handles and attributes returned by MKDIR, CREATE, LOOKUP and
//! READDIRPLUS are kept for `acregmin` (files) or `acdirmin` (directories): a `stat` of a
//! fresh entry costs no RPC and path components are not looked up again. With `noac`
//! every component is looked up and a `stat` is LOOKUP + GETATTR. A create is CREATE
//! (guarded, mode 0644), the WRITEs of its content and, for unstable writes, a COMMIT
//! (the flush at close).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::join_all;
use nfs3_types::nfs3::{ftype3, nfs_fh3, nfsstat3, stable_how};
use nix::errno::Errno;

use super::client::{Nfs, NfsError, ReadReply};
use super::commit::{Kept, Retained, waves};
use super::rpc::Request;
use super::stats::Event;
use crate::driver::run_metadata;
use crate::io::{IoFault, MeasuredOutcome, PhaseClock, SharedBuf, WorkerIo};
use crate::job::{Pattern, ResolvedJob};
use crate::pipeline::{CpuWindow, IoFuture, PipelinedIo, ReadData, run_data};
use crate::verify::Generations;

/// COMMIT rounds before a changing write verifier is an error.
const MAX_COMMIT_ROUNDS: u32 = 8;

/// What every worker of a run shares.
#[derive(Debug)]
pub(crate) struct Session {
    /// The runtime that drives the client.
    pub rt: tokio::runtime::Handle,
    /// Calls under the run's retry policy.
    pub nfs: Nfs,
    /// The target directory.
    pub dir: nfs_fh3,
    /// Its path on the server (for reports).
    pub dir_path: String,
    /// Effective READ size.
    pub rsize: u32,
    /// Effective WRITE size.
    pub wsize: u32,
    /// Preferred READDIR size.
    pub dtpref: u32,
    /// WRITE stability.
    pub stable: stable_how,
    /// Attribute and name caching.
    pub attr_cache: bool,
    /// Cache lifetime of files.
    pub acregmin: Duration,
    /// Cache lifetime of directories.
    pub acdirmin: Duration,
    /// READDIRPLUS for listings.
    pub rdirplus: bool,
    /// Uncommitted bytes per worker before a COMMIT.
    pub dirty_limit: u64,
    /// File name prefix.
    pub prefix: String,
    /// The job.
    pub job: ResolvedJob,
    /// Process CPU over the measured window.
    pub cpu: Arc<CpuWindow>,
}

impl Session {
    /// Server path of `leaf` in the target directory.
    #[must_use]
    pub(crate) fn path_of(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.dir_path.trim_end_matches('/'))
    }

    /// Name of worker `worker`'s data file `file`.
    #[must_use]
    pub(crate) fn data_leaf(&self, worker: u32, file: u32) -> String {
        format!("{}.t{worker}.f{file}", self.prefix)
    }

    /// Name of worker `worker`'s metadata directory.
    #[must_use]
    pub(crate) fn metadata_leaf(&self, worker: u32) -> String {
        format!("{}.md.t{worker}", self.prefix)
    }
}

/// One WRITE RPC of a larger write: offset, issue order, request, length.
#[derive(Debug)]
struct Piece {
    at: u64,
    seq: u64,
    request: Request,
    len: u64,
}

/// Bytes a worker keeps for redo.
#[derive(Debug, Default)]
struct Dirty {
    bytes: AtomicU64,
    committing: AtomicBool,
}

/// Everything an operation on one file needs, cheap to clone into a future.
#[derive(Debug, Clone)]
struct FileCtx {
    s: Arc<Session>,
    fh: Arc<nfs_fh3>,
    pending: Arc<Mutex<Retained>>,
    seq: Arc<AtomicU64>,
    dirty: Arc<Dirty>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileCtx {
    fn new(s: &Arc<Session>, fh: nfs_fh3, dirty: &Arc<Dirty>) -> FileCtx {
        FileCtx {
            s: Arc::clone(s),
            fh: Arc::new(fh),
            pending: Arc::default(),
            seq: Arc::default(),
            dirty: Arc::clone(dirty),
        }
    }

    /// Encodes the `wsize` WRITEs of `data` at `offset` (they share `data`'s buffer).
    fn encode_writes(&self, offset: u64, data: &SharedBuf) -> Result<Vec<Piece>, NfsError> {
        let wsize = self.s.wsize as usize;
        (0..data.len())
            .step_by(wsize.max(1))
            .map(|start| {
                let piece = data.slice(start..start + wsize);
                let at = offset + start as u64;
                let len = piece.len() as u64;
                self.s
                    .nfs
                    .encode_write(&self.fh, at, piece, self.s.stable)
                    .map(|request| Piece {
                        at,
                        seq: self.seq.fetch_add(1, Ordering::Relaxed),
                        request,
                        len,
                    })
            })
            .collect()
    }

    /// Sends encoded WRITEs together; commits when the worker's kept bytes pass the limit.
    async fn send_writes(self, pieces: Vec<Piece>) -> Result<u64, NfsError> {
        let results = join_all(pieces.into_iter().map(|p| self.write_piece(p))).await;
        let mut total = 0;
        for r in results {
            total += r?;
        }
        if self.dirty.bytes.load(Ordering::Relaxed) > self.s.dirty_limit
            && !self.dirty.committing.swap(true, Ordering::AcqRel)
        {
            let outcome = self.commit().await;
            self.dirty.committing.store(false, Ordering::Release);
            outcome?;
        }
        Ok(total)
    }

    /// Adds `bytes` (may be negative) to the worker's kept bytes.
    fn account(&self, bytes: i64) {
        if bytes >= 0 {
            self.dirty
                .bytes
                .fetch_add(bytes.unsigned_abs(), Ordering::Relaxed);
        } else {
            let _ = self
                .dirty
                .bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(bytes.unsigned_abs()))
                });
        }
    }

    fn keep(&self, write: Kept) {
        let delta = lock(&self.pending).keep(write);
        self.account(delta);
    }

    /// One WRITE, continued while the server writes less.
    async fn write_piece(&self, piece: Piece) -> Result<u64, NfsError> {
        let Piece {
            at,
            seq,
            request,
            len,
        } = piece;
        let reply = self.s.nfs.write(&request).await?;
        let written = u64::from(reply.count).min(len);
        if reply.committed == stable_how::UNSTABLE {
            self.keep(Kept {
                offset: at,
                seq,
                len,
                request: request.clone(),
                verf: reply.verf,
            });
        }
        if written == len {
            return Ok(len);
        }
        let Some(data) = request.wire.payload().cloned() else {
            return Ok(written);
        };
        let mut done = written;
        while done < len {
            let rest = data.slice(usize::try_from(done).unwrap_or(usize::MAX)..data.len());
            if rest.is_empty() {
                break;
            }
            let retry =
                self.s
                    .nfs
                    .encode_write(&self.fh, at + done, rest.clone(), self.s.stable)?;
            let reply = self.s.nfs.write(&retry).await?;
            if reply.committed == stable_how::UNSTABLE {
                self.keep(Kept {
                    offset: at + done,
                    seq,
                    len: rest.len() as u64,
                    request: retry,
                    verf: reply.verf,
                });
            }
            if reply.count == 0 {
                break;
            }
            done += u64::from(reply.count);
        }
        Ok(done.min(len))
    }

    /// COMMIT of the file; writes made under another verifier are sent again (in issue
    /// order where they overlap) and committed again.
    async fn commit(&self) -> Result<(), NfsError> {
        for _ in 0..MAX_COMMIT_ROUNDS {
            let batch = {
                let mut pending = lock(&self.pending);
                let taken = pending.bytes();
                let batch = pending.take();
                drop(pending);
                self.account(-i64::try_from(taken).unwrap_or(i64::MAX));
                batch
            };
            if batch.is_empty() {
                return Ok(());
            }
            let verf = match self.s.nfs.commit(&self.fh).await {
                Ok(v) => v,
                Err(e) => {
                    let added = lock(&self.pending).restore(batch);
                    self.account(i64::try_from(added).unwrap_or(i64::MAX));
                    return Err(e);
                }
            };
            let stale: Vec<Kept> = batch.into_iter().filter(|w| w.verf != verf).collect();
            if stale.is_empty() {
                return Ok(());
            }
            let stats = self.s.nfs.rpc().stats();
            stats.event(Event::VerifierChange);
            for wave in waves(stale) {
                let redo = wave.into_iter().map(|w| async move {
                    stats.event(Event::Rewrite);
                    let request = self.s.nfs.rpc().renew(&w.request);
                    let reply = self.s.nfs.write(&request).await?;
                    if reply.committed == stable_how::UNSTABLE {
                        self.keep(Kept {
                            request,
                            verf: reply.verf,
                            ..w
                        });
                    }
                    Ok::<(), NfsError>(())
                });
                for r in join_all(redo).await {
                    r?;
                }
            }
        }
        Err(NfsError::Status {
            proc: "COMMIT",
            status: nfsstat3::NFS3ERR_IO,
        })
    }

    /// READs of `len` bytes at `offset`, continued while the server returns less and no
    /// end of file.
    async fn read_piece(&self, offset: u64, len: u32) -> Result<Vec<ReadReply>, NfsError> {
        let mut replies = Vec::with_capacity(1);
        let mut done: u32 = 0;
        while done < len {
            let reply = self
                .s
                .nfs
                .read(&self.fh, offset + u64::from(done), len - done)
                .await?;
            let got = u32::try_from(reply.data.len()).unwrap_or(u32::MAX);
            let eof = reply.eof;
            replies.push(reply);
            done = done.saturating_add(got);
            if eof || got == 0 {
                break;
            }
        }
        Ok(replies)
    }

    /// Reads `len` bytes at `offset` with `rsize` READs in flight together.
    async fn read(self, offset: u64, len: u64) -> Result<ReadData, NfsError> {
        let rsize = u64::from(self.s.rsize);
        let pieces = (0..len.div_ceil(rsize)).map(|i| {
            let at = i * rsize;
            let n = u32::try_from(rsize.min(len - at)).unwrap_or(u32::MAX);
            self.read_piece(offset + at, n)
        });
        let mut all: Vec<ReadReply> = Vec::new();
        let mut short = false;
        for (i, replies) in join_all(pieces).await.into_iter().enumerate() {
            let replies = replies?;
            if short {
                continue;
            }
            let got: u64 = replies.iter().map(|r| r.data.len() as u64).sum();
            let want = rsize.min(len - i as u64 * rsize);
            all.extend(replies);
            short = got < want;
        }
        if all.len() == 1
            && let Some(only) = all.pop()
        {
            return Ok(ReadData::new(only.record, only.data));
        }
        let mut buf = Vec::with_capacity(len as usize);
        for r in &all {
            buf.extend_from_slice(r.bytes());
        }
        let n = buf.len();
        Ok(ReadData::new(buf, 0..n))
    }
}

/// A cached handle and size.
#[derive(Debug, Clone)]
struct Cached {
    fh: nfs_fh3,
    size: u64,
    dir: bool,
    at: Instant,
}

/// A worker's directory for the metadata pattern.
#[derive(Debug)]
struct MetaDir {
    fh: nfs_fh3,
    leaf: String,
    created: bool,
    cache: HashMap<String, Cached>,
}

/// One worker's files or metadata directory on the server.
#[derive(Debug)]
pub(crate) struct NfsWorker {
    s: Arc<Session>,
    files: Vec<FileCtx>,
    names: Vec<String>,
    created: Vec<String>,
    dirty: Arc<Dirty>,
    md: Option<MetaDir>,
}

/// The handle of `leaf` in `dir` after a MKDIR or CREATE answered `made`: from the reply,
/// or by LOOKUP when the reply carries none or the entry already existed; `true` when the
/// call made it.
async fn made_or_found(
    nfs: &Nfs,
    dir: &nfs_fh3,
    leaf: &str,
    made: Result<(Option<nfs_fh3>, Option<nfs3_types::nfs3::fattr3>), NfsError>,
) -> Result<(nfs_fh3, bool), NfsError> {
    match made {
        Ok((Some(fh), _)) => Ok((fh, true)),
        Ok((None, _)) => nfs
            .lookup(dir, leaf.as_bytes())
            .await
            .map(|(fh, _)| (fh, true)),
        Err(e) if e.status() == Some(nfsstat3::NFS3ERR_EXIST) => nfs
            .lookup(dir, leaf.as_bytes())
            .await
            .map(|(fh, _)| (fh, false)),
        Err(e) => Err(e),
    }
}

fn split(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once('/') {
        Some((parent, leaf)) => (Some(parent), leaf),
        None => (None, path),
    }
}

impl NfsWorker {
    /// Opens (creating where the job writes or lays out) worker `worker`'s files, or its
    /// metadata directory.
    pub(crate) fn open(s: &Arc<Session>, worker: u32) -> Result<NfsWorker, IoFault> {
        let mut w = NfsWorker {
            s: Arc::clone(s),
            files: Vec::new(),
            names: Vec::new(),
            created: Vec::new(),
            dirty: Arc::default(),
            md: None,
        };
        let job = &s.job;
        let nfs = &s.nfs;
        if job.pattern == Pattern::Metadata {
            let leaf = s.metadata_leaf(worker);
            let fault = |e: NfsError| IoFault::errno("mkdir", &s.path_of(&leaf), None, e.errno());
            let (fh, created) =
                s.rt.block_on(async {
                    let made = nfs.mkdir(&s.dir, leaf.as_bytes(), 0o755).await;
                    made_or_found(nfs, &s.dir, &leaf, made).await
                })
                .map_err(fault)?;
            w.md = Some(MetaDir {
                fh,
                leaf,
                created,
                cache: HashMap::new(),
            });
            return Ok(w);
        }
        let writes = job.pattern.writes() || job.pattern.needs_layout();
        for file in 0..job.nrfiles {
            let leaf = s.data_leaf(worker, file);
            let opened = s.rt.block_on(async {
                if !writes {
                    return nfs
                        .lookup(&s.dir, leaf.as_bytes())
                        .await
                        .map(|(fh, _)| (fh, false));
                }
                let made = nfs.create(&s.dir, leaf.as_bytes(), 0o644, true).await;
                made_or_found(nfs, &s.dir, &leaf, made).await
            });
            match opened {
                Ok((fh, created)) => {
                    if created {
                        w.created.push(leaf.clone());
                    }
                    w.files.push(FileCtx::new(s, fh, &w.dirty));
                    w.names.push(s.path_of(&leaf));
                }
                Err(e) => {
                    let _ = w.cleanup();
                    return Err(IoFault::errno("open", &s.path_of(&leaf), None, e.errno()));
                }
            }
        }
        Ok(w)
    }

    fn file(&self, file: u32) -> Result<&FileCtx, Errno> {
        self.files.get(file as usize).ok_or(Errno::EBADF)
    }

    /// Commits every file (the flush a close does), not measured.
    fn flush_all(&self) -> Result<(), NfsError> {
        let files = self.files.clone();
        self.s.rt.block_on(async move {
            for f in &files {
                f.commit().await?;
            }
            Ok(())
        })
    }

    fn md(&mut self) -> Result<&mut MetaDir, Errno> {
        self.md.as_mut().ok_or(Errno::ENOTDIR)
    }

    fn fresh(&self, entry: &Cached) -> bool {
        let ttl = if entry.dir {
            self.s.acdirmin
        } else {
            self.s.acregmin
        };
        self.s.attr_cache && entry.at.elapsed() < ttl
    }

    fn remember(&mut self, path: &str, fh: nfs_fh3, size: u64, dir: bool) {
        if self.s.attr_cache
            && let Some(md) = self.md.as_mut()
        {
            md.cache.insert(
                path.to_owned(),
                Cached {
                    fh,
                    size,
                    dir,
                    at: Instant::now(),
                },
            );
        }
    }

    fn forget(&mut self, path: &str) {
        if let Some(md) = self.md.as_mut() {
            let prefix = format!("{path}/");
            md.cache.retain(|k, _| k != path && !k.starts_with(&prefix));
        }
    }

    /// Handle of `path` (relative to the worker's directory; `None`: the directory),
    /// from the cache when fresh, otherwise by LOOKUP.
    fn resolve(&mut self, path: Option<&str>) -> Result<nfs_fh3, Errno> {
        let md_fh = self.md()?.fh.clone();
        let Some(path) = path else {
            return Ok(md_fh);
        };
        if let Some(hit) = self.md()?.cache.get(path).cloned()
            && self.fresh(&hit)
        {
            return Ok(hit.fh);
        }
        let (parent, leaf) = split(path);
        let dir = match parent {
            Some(p) => self.resolve(Some(p))?,
            None => md_fh,
        };
        let nfs = self.s.nfs.clone();
        let (fh, attrs) = self
            .s
            .rt
            .block_on(nfs.lookup(&dir, leaf.as_bytes()))
            .map_err(|e| e.errno())?;
        if let Some(a) = &attrs {
            self.remember(path, fh.clone(), a.size, a.type_ == ftype3::NF3DIR);
        }
        Ok(fh)
    }

    /// REMOVE (or RMDIR when `dir`) of `path`, forgetting what the cache held for it.
    fn remove_entry(&mut self, path: &str, dir: bool) -> Result<(), Errno> {
        let (parent, leaf) = split(path);
        let parent = self.resolve(parent)?;
        let nfs = self.s.nfs.clone();
        let removed = self.s.rt.block_on(async {
            if dir {
                nfs.rmdir(&parent, leaf.as_bytes()).await
            } else {
                nfs.remove(&parent, leaf.as_bytes()).await
            }
        });
        removed.map_err(|e| e.errno())?;
        self.forget(path);
        Ok(())
    }

    /// Removes `leaf` in `dir` and everything below it.
    async fn remove_tree(
        nfs: &Nfs,
        dir: &nfs_fh3,
        leaf: &[u8],
        count: u32,
    ) -> Result<(), NfsError> {
        let (fh, _) = nfs.lookup(dir, leaf).await?;
        let entries = match nfs.readdir(&fh, true, count).await {
            Ok(e) => e,
            Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOTSUPP) => {
                nfs.readdir(&fh, false, count).await?
            }
            Err(e) => return Err(e),
        };
        for entry in entries.iter().filter(|e| !e.is_dot()) {
            match nfs.remove(&fh, &entry.name).await {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.status(),
                        Some(
                            nfsstat3::NFS3ERR_ISDIR
                                | nfsstat3::NFS3ERR_PERM
                                | nfsstat3::NFS3ERR_NOTSUPP
                        )
                    ) || entry.is_dir() == Some(true) =>
                {
                    Box::pin(NfsWorker::remove_tree(nfs, &fh, &entry.name, count)).await?;
                }
                Err(e) => return Err(e),
            }
        }
        nfs.rmdir(dir, leaf).await
    }
}

impl WorkerIo for NfsWorker {
    fn file_name(&self, file: u32) -> &str {
        self.names.get(file as usize).map_or("", String::as_str)
    }

    fn file_len(&mut self, file: u32) -> Result<u64, Errno> {
        let f = self.file(file)?.clone();
        self.s
            .rt
            .block_on(async move { f.s.nfs.getattr(&f.fh).await })
            .map(|a| a.size)
            .map_err(|e| e.errno())
    }

    fn read_at(&mut self, file: u32, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let f = self.file(file)?.clone();
        let data = self
            .s
            .rt
            .block_on(f.read(offset, buf.len() as u64))
            .map_err(|e| e.errno())?;
        let bytes = data.as_slice();
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn write_at(&mut self, file: u32, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let f = self.file(file)?.clone();
        let pieces = f
            .encode_writes(offset, &SharedBuf::from_vec(buf.to_vec()))
            .map_err(|e| e.errno())?;
        self.s
            .rt
            .block_on(f.send_writes(pieces))
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(|e| e.errno())
    }

    fn sync(&mut self, file: u32) -> Result<(), Errno> {
        let f = self.file(file)?.clone();
        self.s
            .rt
            .block_on(async move { f.commit().await })
            .map_err(|e| e.errno())
    }

    fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        let (parent, leaf) = split(path);
        let dir = self.resolve(parent)?;
        let nfs = self.s.nfs.clone();
        let (fh, _) = self
            .s
            .rt
            .block_on(nfs.mkdir(&dir, leaf.as_bytes(), 0o755))
            .map_err(|e| e.errno())?;
        if let Some(fh) = fh {
            self.remember(path, fh, 0, true);
        }
        Ok(())
    }

    fn create(&mut self, path: &str, content: &[u8]) -> Result<(), Errno> {
        let (parent, leaf) = split(path);
        let dir = self.resolve(parent)?;
        let s = Arc::clone(&self.s);
        let dirty = Arc::default();
        let fh =
            s.rt.block_on(async {
                let (fh, _) = s.nfs.create(&dir, leaf.as_bytes(), 0o644, true).await?;
                let fh = match fh {
                    Some(fh) => fh,
                    None => s.nfs.lookup(&dir, leaf.as_bytes()).await?.0,
                };
                if !content.is_empty() {
                    let f = FileCtx::new(&s, fh.clone(), &dirty);
                    let pieces = f.encode_writes(0, &SharedBuf::from_vec(content.to_vec()))?;
                    f.clone().send_writes(pieces).await?;
                    f.commit().await?;
                }
                Ok::<nfs_fh3, NfsError>(fh)
            })
            .map_err(|e| e.errno())?;
        self.remember(path, fh, content.len() as u64, false);
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<u64, Errno> {
        if let Some(hit) = self.md()?.cache.get(path).cloned() {
            if self.fresh(&hit) {
                return Ok(hit.size);
            }
            let nfs = self.s.nfs.clone();
            let attrs = self
                .s
                .rt
                .block_on(nfs.getattr(&hit.fh))
                .map_err(|e| e.errno())?;
            self.remember(path, hit.fh, attrs.size, attrs.type_ == ftype3::NF3DIR);
            return Ok(attrs.size);
        }
        let (parent, leaf) = split(path);
        let dir = self.resolve(parent)?;
        let nfs = self.s.nfs.clone();
        let (fh, attrs) = self
            .s
            .rt
            .block_on(async {
                let (fh, _) = nfs.lookup(&dir, leaf.as_bytes()).await?;
                let attrs = nfs.getattr(&fh).await?;
                Ok::<_, NfsError>((fh, attrs))
            })
            .map_err(|e| e.errno())?;
        self.remember(path, fh, attrs.size, attrs.type_ == ftype3::NF3DIR);
        Ok(attrs.size)
    }

    fn readdir(&mut self, path: &str) -> Result<u64, Errno> {
        let fh = self.resolve(Some(path))?;
        let nfs = self.s.nfs.clone();
        let (plus, count) = (self.s.rdirplus, self.s.dtpref.clamp(4096, 65_536));
        let entries = self
            .s
            .rt
            .block_on(nfs.readdir(&fh, plus, count))
            .map_err(|e| e.errno())?;
        let mut n = 0;
        for e in entries.into_iter().filter(|e| !e.is_dot()) {
            n += 1;
            if let (Some(fh), Some(attrs)) = (e.handle, e.attrs) {
                let child = format!("{path}/{}", String::from_utf8_lossy(&e.name));
                self.remember(&child, fh, attrs.size, attrs.type_ == ftype3::NF3DIR);
            }
        }
        Ok(n)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        let (from_parent, from_leaf) = split(from);
        let (to_parent, to_leaf) = split(to);
        let from_dir = self.resolve(from_parent)?;
        let to_dir = self.resolve(to_parent)?;
        let nfs = self.s.nfs.clone();
        self.s
            .rt
            .block_on(nfs.rename(&from_dir, from_leaf.as_bytes(), &to_dir, to_leaf.as_bytes()))
            .map_err(|e| e.errno())?;
        let moved = self.md()?.cache.remove(from);
        self.forget(from);
        if let Some(entry) = moved {
            self.remember(to, entry.fh, entry.size, entry.dir);
        }
        Ok(())
    }

    fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        self.remove_entry(path, false)
    }

    fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        self.remove_entry(path, true)
    }

    fn created_files(&self) -> u64 {
        self.created.len() as u64 + u64::from(self.md.as_ref().is_some_and(|m| m.created))
    }

    fn cleanup(&mut self) -> Result<(), IoFault> {
        let s = Arc::clone(&self.s);
        let created = std::mem::take(&mut self.created);
        let md = self.md.as_mut().filter(|m| m.created).map(|m| {
            m.created = false;
            m.leaf.clone()
        });
        self.files.clear();
        s.rt.block_on(async {
            let mut first = None;
            for leaf in &created {
                match s.nfs.remove(&s.dir, leaf.as_bytes()).await {
                    Ok(()) => {}
                    Err(e) if e.status() == Some(nfsstat3::NFS3ERR_NOENT) => {}
                    Err(e) => {
                        first.get_or_insert(IoFault::errno(
                            "remove",
                            &s.path_of(leaf),
                            None,
                            e.errno(),
                        ));
                    }
                }
            }
            if let Some(leaf) = md {
                let count = s.dtpref.clamp(4096, 65_536);
                if let Err(e) = NfsWorker::remove_tree(&s.nfs, &s.dir, leaf.as_bytes(), count).await
                {
                    first.get_or_insert(IoFault::errno(
                        "rmdir",
                        &s.path_of(&leaf),
                        None,
                        e.errno(),
                    ));
                }
            }
            first.map_or(Ok(()), Err)
        })
    }

    fn run_measured(
        &mut self,
        job: &ResolvedJob,
        worker: u32,
        clock: PhaseClock<'_>,
        stop: &std::sync::atomic::AtomicBool,
        generations: &mut [Generations],
    ) -> Option<MeasuredOutcome> {
        let cpu = Arc::clone(&self.s.cpu);
        if job.pattern == Pattern::Metadata {
            cpu.open_at(clock.window_start, &self.s.rt);
            let mut outcome = run_metadata(self, job, worker, clock, stop);
            outcome.cpu = cpu.close();
            return Some(outcome);
        }
        let mut outcome = run_data(self, job, worker, clock, stop, generations, &cpu);
        // What a close would flush: unstable writes not committed by an fsync. Not
        // measured; it makes the data safe before the read-back and the cleanup.
        if outcome.fault.is_none()
            && let Err(e) = self.flush_all()
        {
            outcome.fault = Some(IoFault::errno("commit", &self.s.dir_path, None, e.errno()));
            stop.store(true, Ordering::Relaxed);
        }
        Some(outcome)
    }
}

impl PipelinedIo for NfsWorker {
    fn file_name(&self, file: u32) -> &str {
        WorkerIo::file_name(self, file)
    }

    fn read(&mut self, file: u32, offset: u64, len: u64) -> IoFuture<ReadData> {
        match self.file(file) {
            Ok(f) => {
                let f = f.clone();
                Box::pin(async move { f.read(offset, len).await.map_err(|e| e.errno()) })
            }
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn write(&mut self, file: u32, offset: u64, data: SharedBuf) -> IoFuture<u64> {
        let encoded = self.file(file).and_then(|f| {
            f.encode_writes(offset, &data)
                .map(|p| (f.clone(), p))
                .map_err(|e| e.errno())
        });
        match encoded {
            Ok((f, pieces)) => {
                Box::pin(async move { f.send_writes(pieces).await.map_err(|e| e.errno()) })
            }
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn sync(&mut self, file: u32) -> IoFuture<()> {
        match self.file(file) {
            Ok(f) => {
                let f = f.clone();
                Box::pin(async move { f.commit().await.map_err(|e| e.errno()) })
            }
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn runtime(&self) -> tokio::runtime::Handle {
        self.s.rt.clone()
    }
}
