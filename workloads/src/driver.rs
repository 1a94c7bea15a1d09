//! The synchronous driver: one thread per worker, one request in flight each.
//!
//! Backend-neutral: it speaks to [`WorkerIo`] only. Phases per worker:
//! [`layout`] (files at full size, not measured), [`run_data`] / [`run_metadata`] (the
//! measured phase, ramp included), [`verify_written`] (read back what the measured phase
//! wrote, not measured). Thread orchestration and the result live in [`crate::engine`].
//!
//! The hot loop does per operation: one stream step (no allocation), two clock reads, the
//! IO call, one histogram record, relaxed loads of the stop flag and of the early end
//! (`--stop-file`), and a local flag test for the progress announcement ([`ProgressFile`]).
//! Buffers are allocated once per worker and aligned for direct IO; write data for
//! non-verified runs is random bytes generated once, so nothing compressible or zero is
//! written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::io::{
    AlignedBuf, FaultCode, IoFault, MeasuredOutcome, PhaseClock, ProgressFile, WorkerIo,
};
use crate::job::{FsyncPolicy, Pattern, ResolvedJob};
use crate::ops::{OpKind, OpStream, Rng, mix_seed};
use crate::stats::Recorder;
use crate::verify::{BlockId, Generations, VerifyTally, check_block, fill_block, short_read};

/// Largest single write or read of the layout and read-back phases.
pub(crate) const CHUNK_BYTES: u64 = 1 << 20;

/// Global id of a worker's file (`worker * nrfiles + file`), as stored in block headers.
#[must_use]
pub(crate) fn file_id(job: &ResolvedJob, worker: u32, file: u32) -> u64 {
    u64::from(worker) * u64::from(job.nrfiles) + u64::from(file)
}

/// Operation kinds a pattern records (their histograms are prepared up front).
#[must_use]
pub(crate) fn kinds_for(job: &ResolvedJob) -> Vec<OpKind> {
    match job.pattern {
        Pattern::Metadata => vec![
            OpKind::Mkdir,
            OpKind::Create,
            OpKind::Stat,
            OpKind::Readdir,
            OpKind::Rename,
            OpKind::Unlink,
            OpKind::Rmdir,
        ],
        p => {
            let mut kinds = Vec::new();
            if p.reads() {
                kinds.push(OpKind::Read);
            }
            if p.writes() {
                kinds.push(OpKind::Write);
                if job.fsync != FsyncPolicy::None {
                    kinds.push(OpKind::Fsync);
                }
            }
            kinds
        }
    }
}

/// Blocks per layout/read-back chunk.
fn chunk_blocks(job: &ResolvedJob) -> u64 {
    (CHUNK_BYTES / job.bs).clamp(1, job.blocks_per_file)
}

/// What the layout phase found and did for one worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayoutOutcome {
    /// Files that already had the right size (content unknown: verify trusts their headers).
    pub reused: u64,
    /// Files written in full.
    pub written: u64,
    /// Per file: generation of each block, for verification.
    pub generations: Vec<Generations>,
}

fn write_full(io: &mut impl WorkerIo, file: u32, buf: &[u8], offset: u64) -> Result<(), IoFault> {
    match io.write_at(file, buf, offset) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(n) => Err(IoFault {
            op: "write",
            file: io_name(io, file),
            offset: Some(offset),
            code: FaultCode::ShortWrite {
                got: n as u64,
                want: buf.len() as u64,
            },
        }),
        Err(e) => Err(IoFault::errno("write", io.file_name(file), Some(offset), e)),
    }
}

fn io_name(io: &impl WorkerIo, file: u32) -> String {
    io.file_name(file).to_owned()
}

/// Lays out worker `worker`'s files for patterns that need them at full size; files that
/// already have the job's size are reused as they are (like fio).
pub(crate) fn layout(
    io: &mut impl WorkerIo,
    job: &ResolvedJob,
    worker: u32,
    direct: bool,
) -> Result<LayoutOutcome, IoFault> {
    let mut out = LayoutOutcome::default();
    let blocks = job.blocks_per_file;
    let per_chunk = chunk_blocks(job);
    let mut buf = AlignedBuf::new((per_chunk * job.bs) as usize);
    if !job.verify {
        Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x6c61796f7574])).fill(buf.as_mut_slice());
    }
    for file in 0..job.nrfiles {
        if !job.pattern.needs_layout() {
            out.generations
                .push(Generations::unknown(if job.verify { blocks } else { 0 }));
            continue;
        }
        let len = io
            .file_len(file)
            .map_err(|e| IoFault::errno("stat", io.file_name(file), None, e))?;
        if len == job.size {
            out.reused += 1;
            out.generations
                .push(Generations::unknown(if job.verify { blocks } else { 0 }));
            continue;
        }
        let fid = file_id(job, worker, file);
        let mut block = 0;
        while block < blocks {
            let n = per_chunk.min(blocks - block);
            let bytes = (n * job.bs) as usize;
            let chunk = &mut buf.as_mut_slice()[..bytes];
            if job.verify {
                for (i, piece) in chunk.chunks_exact_mut(job.bs as usize).enumerate() {
                    let b = block + i as u64;
                    let id = BlockId {
                        file_id: fid,
                        block: b,
                        offset: b * job.bs,
                        generation: 1,
                    };
                    fill_block(piece, job.seed, id);
                }
            }
            write_full(io, file, &buf.as_slice()[..bytes], block * job.bs)?;
            block += n;
        }
        io.sync(file)
            .map_err(|e| IoFault::errno("fsync", io.file_name(file), None, e))?;
        if !direct {
            io.drop_cache(file)
                .map_err(|e| IoFault::errno("fadvise", io.file_name(file), None, e))?;
        }
        out.written += 1;
        out.generations.push(if job.verify {
            Generations::all(blocks, 1)
        } else {
            Generations::unknown(0)
        });
    }
    Ok(out)
}

/// A worker's side of [`ProgressFile`]: reports its first completed operation, once.
#[derive(Debug)]
pub(crate) struct Progress<'a> {
    file: Option<&'a ProgressFile>,
    reported: bool,
}

impl<'a> Progress<'a> {
    /// The reporter of one worker under `clock`.
    #[must_use]
    pub(crate) fn new(clock: &PhaseClock<'a>) -> Self {
        Self {
            file: clock.progress,
            reported: clock.progress.is_none(),
        }
    }

    /// An operation completed.
    #[inline]
    pub(crate) fn completed(&mut self) {
        if !self.reported {
            self.reported = true;
            if let Some(file) = self.file {
                file.worker_progressed();
            }
        }
    }
}

fn thread_cpu() -> (f64, f64) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_THREAD) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            (secs(u.user_time()), secs(u.system_time()))
        }
        Err(_) => (0.0, 0.0),
    }
}

/// Tracks the ramp and reads the thread CPU at the window start.
struct RampTracker {
    window_start: Instant,
    in_ramp: bool,
    cpu_at_start: (f64, f64),
}

impl RampTracker {
    fn new(window_start: Instant) -> RampTracker {
        let in_ramp = Instant::now() < window_start;
        RampTracker {
            window_start,
            in_ramp,
            cpu_at_start: if in_ramp { (0.0, 0.0) } else { thread_cpu() },
        }
    }

    /// Called after each completion; true when this completion is the first inside the
    /// window.
    #[inline]
    fn completed(&mut self, end: Instant) -> bool {
        if !self.in_ramp || end < self.window_start {
            return false;
        }
        self.in_ramp = false;
        self.cpu_at_start = thread_cpu();
        true
    }

    fn cpu_used(&self) -> (f64, f64) {
        if self.in_ramp {
            return (0.0, 0.0);
        }
        let now = thread_cpu();
        (
            (now.0 - self.cpu_at_start.0).max(0.0),
            (now.1 - self.cpu_at_start.1).max(0.0),
        )
    }
}

/// Runs worker `worker`'s data operations until its budget, the deadline, a failure or
/// another worker's failure (`stop`).
pub(crate) fn run_data(
    io: &mut impl WorkerIo,
    job: &ResolvedJob,
    worker: u32,
    clock: PhaseClock<'_>,
    stop: &AtomicBool,
    generations: &mut [Generations],
) -> MeasuredOutcome {
    let mut progress = Progress::new(&clock);
    let mut stream = OpStream::new(job, worker);
    let mut rec = Recorder::new(clock.window_start, &kinds_for(job));
    let mut tally = VerifyTally::default();
    let mut buf = AlignedBuf::new(job.bs as usize);
    let mut scratch = AlignedBuf::new(if job.verify { job.bs as usize } else { 0 });
    if !job.verify {
        Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x64617461])).fill(buf.as_mut_slice());
    }
    let mut written = vec![false; job.nrfiles as usize];
    let mut ramp = RampTracker::new(clock.window_start);
    if ramp.in_ramp {
        // The ramp is bounded by time only; the io budget counts from the window start.
        stream.rebase_budget(None);
    }
    let mut fault = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(op) = stream.next_op() else { break };
        let fid = file_id(job, worker, op.file);
        if op.kind == OpKind::Write && job.verify {
            let generation = generations[op.file as usize].bump(op.block);
            let id = BlockId {
                file_id: fid,
                block: op.block,
                offset: op.offset,
                generation,
            };
            fill_block(buf.as_mut_slice(), job.seed, id);
        }
        let start = Instant::now();
        let result = match op.kind {
            OpKind::Read => io
                .read_at(op.file, buf.as_mut_slice(), op.offset)
                .map(|n| n as u64),
            OpKind::Write => io
                .write_at(op.file, buf.as_slice(), op.offset)
                .map(|n| n as u64),
            _ => io.sync(op.file).map(|()| 0),
        };
        let end = Instant::now();
        match result {
            Ok(n) if n == op.len => {
                rec.record(op.kind, start, end, n);
                progress.completed();
            }
            other => {
                let code = match other {
                    Err(e) => FaultCode::Errno(e),
                    Ok(got) if op.kind == OpKind::Read => {
                        FaultCode::ShortRead { got, want: op.len }
                    }
                    Ok(got) => FaultCode::ShortWrite { got, want: op.len },
                };
                rec.record_error(&code.name());
                fault = Some(IoFault {
                    op: op.kind.name(),
                    file: io_name(io, op.file),
                    offset: (op.kind != OpKind::Fsync).then_some(op.offset),
                    code,
                });
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        if ramp.completed(end) {
            // This operation already counts in the window.
            let counted = u64::from(op.kind.is_data());
            stream.rebase_budget(job.ops_limit().map(|n| n.saturating_sub(counted)));
        }
        if op.kind == OpKind::Write {
            written[op.file as usize] = true;
        }
        if op.kind == OpKind::Read && job.verify {
            let id = BlockId {
                file_id: fid,
                block: op.block,
                offset: op.offset,
                generation: generations[op.file as usize].get(op.block),
            };
            tally.add(check_block(
                buf.as_slice(),
                scratch.as_mut_slice(),
                job.seed,
                id,
                io.file_name(op.file),
            ));
        }
        if clock.over(end) {
            break;
        }
    }
    if fault.is_none() && job.fsync == FsyncPolicy::End && !stop.load(Ordering::Relaxed) {
        for file in 0..job.nrfiles {
            if !written[file as usize] {
                continue;
            }
            let start = Instant::now();
            let result = io.sync(file);
            let end = Instant::now();
            if let Err(e) = result {
                rec.record_error(&format!("{e:?}"));
                fault = Some(IoFault::errno("fsync", io.file_name(file), None, e));
                stop.store(true, Ordering::Relaxed);
                break;
            }
            rec.record(OpKind::Fsync, start, end, 0);
        }
    }
    MeasuredOutcome {
        recorder: rec,
        fault,
        tally,
        cpu: ramp.cpu_used(),
        max_in_flight: 1,
    }
}

/// Runs the metadata pattern for one worker: per iteration, in a fresh subdirectory,
/// mkdir, create `nrfiles` files of `size` bytes, stat each, list the directory, rename
/// each, unlink each, rmdir. Time-based runs loop; otherwise one iteration after the ramp.
pub(crate) fn run_metadata(
    io: &mut impl WorkerIo,
    job: &ResolvedJob,
    worker: u32,
    clock: PhaseClock<'_>,
    stop: &AtomicBool,
) -> MeasuredOutcome {
    let mut progress = Progress::new(&clock);
    let mut rec = Recorder::new(clock.window_start, &kinds_for(job));
    let mut content = vec![0u8; job.size as usize];
    Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x6d657461])).fill(&mut content);
    let mut ramp = RampTracker::new(clock.window_start);
    let mut fault = None;
    let files = job.nrfiles;
    let mut iteration: u64 = 0;
    // One step: time the call, record it, stop on failure or deadline.
    let mut step = |rec: &mut Recorder,
                    kind: OpKind,
                    bytes: u64,
                    target: &str,
                    call: &mut dyn FnMut() -> Result<(), Errno>|
     -> Result<bool, IoFault> {
        let start = Instant::now();
        let result = call();
        let end = Instant::now();
        match result {
            Ok(()) => {
                rec.record(kind, start, end, bytes);
                progress.completed();
                ramp.completed(end);
                Ok(clock.over(end))
            }
            Err(e) => {
                rec.record_error(&format!("{e:?}"));
                Err(IoFault::errno(kind.name(), target, None, e))
            }
        }
    };
    'run: while !stop.load(Ordering::Relaxed) {
        let started_in_window = Instant::now() >= clock.window_start;
        let dir = format!("i{iteration}");
        let names: Vec<String> = (0..files).map(|f| format!("{dir}/f{f}")).collect();
        let renamed: Vec<String> = (0..files).map(|f| format!("{dir}/r{f}")).collect();
        let mut steps: Vec<(OpKind, usize)> = vec![(OpKind::Mkdir, 0)];
        steps.extend((0..names.len()).map(|i| (OpKind::Create, i)));
        steps.extend((0..names.len()).map(|i| (OpKind::Stat, i)));
        steps.push((OpKind::Readdir, 0));
        steps.extend((0..names.len()).map(|i| (OpKind::Rename, i)));
        steps.extend((0..names.len()).map(|i| (OpKind::Unlink, i)));
        steps.push((OpKind::Rmdir, 0));
        for (kind, i) in steps {
            if stop.load(Ordering::Relaxed) {
                break 'run;
            }
            let (target, bytes) = match kind {
                OpKind::Mkdir | OpKind::Readdir | OpKind::Rmdir => (dir.as_str(), 0),
                OpKind::Create => (names[i].as_str(), job.size),
                OpKind::Unlink => (renamed[i].as_str(), 0),
                _ => (names[i].as_str(), 0),
            };
            let mut call = || -> Result<(), Errno> {
                match kind {
                    OpKind::Mkdir => io.mkdir(&dir),
                    OpKind::Create => io.create(&names[i], &content),
                    OpKind::Stat => io.stat(&names[i]).map(|_| ()),
                    OpKind::Readdir => io.readdir(&dir).map(|_| ()),
                    OpKind::Rename => io.rename(&names[i], &renamed[i]),
                    OpKind::Unlink => io.unlink(&renamed[i]),
                    _ => io.rmdir(&dir),
                }
            };
            match step(&mut rec, kind, bytes, target, &mut call) {
                Ok(false) => {}
                Ok(true) => break 'run,
                Err(f) => {
                    fault = Some(f);
                    stop.store(true, Ordering::Relaxed);
                    break 'run;
                }
            }
        }
        iteration += 1;
        if clock.deadline.is_none() && started_in_window {
            break;
        }
    }
    MeasuredOutcome {
        recorder: rec,
        fault,
        tally: VerifyTally::default(),
        cpu: ramp.cpu_used(),
        max_in_flight: 1,
    }
}

/// Reads back every block the worker wrote (known generation) and checks it.
pub(crate) fn verify_written(
    io: &mut impl WorkerIo,
    job: &ResolvedJob,
    worker: u32,
    generations: &[Generations],
) -> Result<VerifyTally, IoFault> {
    let mut tally = VerifyTally::default();
    let per_chunk = chunk_blocks(job);
    let bs = job.bs as usize;
    let mut buf = AlignedBuf::new(per_chunk as usize * bs);
    let mut scratch = AlignedBuf::new(bs);
    for (file, gens) in (0..job.nrfiles).zip(generations) {
        let fid = file_id(job, worker, file);
        let mut first = 0;
        while first < job.blocks_per_file {
            let n = per_chunk.min(job.blocks_per_file - first);
            if (first..first + n).all(|b| gens.get(b) == 0) {
                first += n;
                continue;
            }
            let want = n as usize * bs;
            let got = io
                .read_at(file, &mut buf.as_mut_slice()[..want], first * job.bs)
                .map_err(|e| IoFault::errno("read", io.file_name(file), Some(first * job.bs), e))?;
            for i in 0..n {
                let block = first + i;
                let generation = gens.get(block);
                if generation == 0 {
                    continue;
                }
                let id = BlockId {
                    file_id: fid,
                    block,
                    offset: block * job.bs,
                    generation,
                };
                let at = i as usize * bs;
                if got < at + bs {
                    tally.add(Some(short_read(
                        io.file_name(file),
                        id,
                        got.saturating_sub(at),
                    )));
                    continue;
                }
                let data = &buf.as_slice()[at..at + bs];
                tally.add(check_block(
                    data,
                    scratch.as_mut_slice(),
                    job.seed,
                    id,
                    io.file_name(file),
                ));
            }
            first += n;
        }
    }
    Ok(tally)
}

/// Waits until `path` exists, polling every 10 ms, for at most `timeout`. Returns the time
/// waited, or `None` on timeout.
#[must_use]
pub(crate) fn wait_for_file(path: &std::path::Path, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if path.exists() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_file_waits_for_every_worker_and_reports_each_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("progress");
        let file = ProgressFile::new(&path, 2);
        let clock = PhaseClock {
            window_start: Instant::now(),
            deadline: None,
            progress: Some(&file),
            ended: None,
        };
        let mut first = Progress::new(&clock);
        let mut second = Progress::new(&clock);
        first.completed();
        first.completed();
        assert!(!path.exists(), "one worker of two reported, twice");
        assert!(!file.reached());
        second.completed();
        assert!(file.reached());
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(
            text.starts_with("every worker (2) completed an operation"),
            "{text}"
        );
        assert_eq!(file.failure(), None);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["progress"], "no staging file left");
    }

    #[test]
    fn without_a_progress_file_workers_report_nothing() {
        let clock = PhaseClock {
            window_start: Instant::now(),
            deadline: None,
            progress: None,
            ended: None,
        };
        let mut p = Progress::new(&clock);
        p.completed();
        assert!(p.reported);
    }
}
