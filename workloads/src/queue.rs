//! The queued driver: one worker's measured data phase on a directory with `iodepth`
//! requests in flight, through a submission queue ([`SubmitQueue`]): io_uring
//! ([`crate::backend::uring`]) or, where the kernel or a seccomp profile refuses io_uring,
//! submitter threads with one blocking call each ([`crate::backend::submitters`]).
//!
//! The queue has one slot per request in flight, each with its own aligned buffer (O_DIRECT
//! alignment holds at every depth). Which operation starts next and what a completion
//! records are the rules of [`crate::inflight::Scheduler`], shared with the pipelined
//! driver of the NFSv3 client. Latency is submission to completion: the clock is read when
//! a request is handed to the queue and once per batch of completions reaped (as fio does
//! per reaped batch), so figures compare with fio's `clat` at the same depth.
//!
//! CPU: the mechanisms work outside the worker thread (submitter threads, the kernel's
//! io_uring workers), so the worker's own CPU time would miss part of it; the process CPU
//! over the window is measured instead ([`crate::pipeline::CpuWindow`]).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use nix::errno::Errno;

use crate::inflight::{Finished, Scheduler, fsync_op};
use crate::io::{MeasuredOutcome, PhaseClock};
use crate::job::ResolvedJob;
use crate::ops::{DataOp, OpKind, Rng, mix_seed};
use crate::pipeline::CpuWindow;
use crate::verify::{Generations, fill_block};

/// One request handed to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    /// `Read`, `Write` or `Fsync`.
    pub kind: OpKind,
    /// Index of the file among the worker's files.
    pub file: u32,
    /// Byte offset.
    pub offset: u64,
    /// Bytes to move from or into the slot's buffer (0 for a flush).
    pub len: u64,
}

impl Request {
    fn of(op: DataOp) -> Request {
        Request {
            kind: op.kind,
            file: op.file,
            offset: op.offset,
            len: op.len,
        }
    }
}

/// A request that finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Completion {
    /// The slot it ran in.
    pub slot: usize,
    /// Bytes moved (0 for a flush), or the error.
    pub result: Result<u64, Errno>,
}

/// A submission queue with a fixed number of slots, one request in flight per slot.
pub(crate) trait SubmitQueue {
    /// Slots: requests that can be in flight at once.
    fn slots(&self) -> usize;
    /// The buffer of `slot` (aligned for direct IO, the job's block size), or `None` while
    /// a request of that slot is in flight.
    fn buffer(&mut self, slot: usize) -> Option<&mut [u8]>;
    /// Starts `request` in `slot` (reads fill the slot's buffer, writes send it). The
    /// request may wait in the queue until the next [`SubmitQueue::wait`].
    fn submit(&mut self, slot: usize, request: Request) -> Result<(), Errno>;
    /// Sends what is queued, waits for at least one completion and appends every
    /// completion available to `out`.
    fn wait(&mut self, out: &mut Vec<Completion>) -> Result<(), Errno>;
    /// Appends the completions available now to `out`, without waiting.
    fn poll(&mut self, _out: &mut Vec<Completion>) {}
}

/// A worker's requests in flight: what each slot runs and since when, and the free slots.
struct Slots {
    flying: Vec<Option<(DataOp, Instant)>>,
    free: Vec<usize>,
}

/// Records the completions in `done` (seen at `end`) and frees their slots.
#[allow(clippy::too_many_arguments)]
fn settle(
    queue: &mut impl SubmitQueue,
    done: &mut Vec<Completion>,
    end: Instant,
    slots: &mut Slots,
    sched: &mut Scheduler<'_>,
    names: &[String],
    generations: &[Generations],
    stop: &AtomicBool,
    cpu: &CpuWindow,
) {
    for c in done.drain(..) {
        let Some((op, start)) = slots.flying.get_mut(c.slot).and_then(Option::take) else {
            continue;
        };
        slots.free.push(c.slot);
        let opened = sched.in_ramp();
        let data = if op.kind == OpKind::Read {
            queue.buffer(c.slot).map(|b| &*b)
        } else {
            None
        };
        let finished = Finished {
            op,
            start,
            end,
            result: c.result,
            data,
        };
        let name = names.get(op.file as usize).map_or("", String::as_str);
        sched.complete(&finished, name, generations, stop);
        if opened && !sched.in_ramp() {
            cpu.open_now();
        }
    }
}

/// Runs worker `worker`'s data operations through `queue` with up to `queue.slots()`
/// requests in flight until its budget, the deadline, a failure or another worker's
/// failure (`stop`). `names` are the worker's file names (for reports); `cpu` is the run's
/// shared CPU window.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_queued(
    queue: &mut impl SubmitQueue,
    names: &[String],
    job: &ResolvedJob,
    worker: u32,
    clock: PhaseClock,
    stop: &AtomicBool,
    generations: &mut [Generations],
    cpu: &CpuWindow,
) -> MeasuredOutcome {
    let depth = queue.slots().max(1);
    let bs = job.bs as usize;
    let name = |file: u32| names.get(file as usize).map_or("", String::as_str);
    let mut sched = Scheduler::new(job, worker, clock);
    if !job.verify {
        // Writes send whatever the slot holds: random bytes at first (nothing compressible
        // or zero), then what reads of earlier random bytes left there.
        let mut rng = Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x64617461]));
        for slot in 0..depth {
            if let Some(buf) = queue.buffer(slot) {
                rng.fill(buf);
            }
        }
    }
    if !sched.in_ramp() {
        cpu.open_now();
    }
    let mut slots = Slots {
        flying: vec![None; depth],
        free: (0..depth).rev().collect(),
    };
    let mut done: Vec<Completion> = Vec::with_capacity(depth);
    loop {
        while let Some(&slot) = slots.free.last() {
            let Some(issue) = sched.next(depth, stop, generations) else {
                break;
            };
            slots.free.pop();
            if let (Some(id), Some(buf)) = (issue.fill, queue.buffer(slot)) {
                let len = bs.min(buf.len());
                fill_block(&mut buf[..len], job.seed, id);
            }
            let start = Instant::now();
            match queue.submit(slot, Request::of(issue.op)) {
                Ok(()) => slots.flying[slot] = Some((issue.op, start)),
                Err(e) => {
                    slots.free.push(slot);
                    let failed = Finished {
                        op: issue.op,
                        start,
                        end: Instant::now(),
                        result: Err(e),
                        data: None,
                    };
                    sched.complete(&failed, name(issue.op.file), generations, stop);
                }
            }
            // Requests that completed meanwhile free their slots now, not after the rest
            // of this round is submitted: the queue stays full.
            queue.poll(&mut done);
            if !done.is_empty() {
                let end = Instant::now();
                settle(
                    queue,
                    &mut done,
                    end,
                    &mut slots,
                    &mut sched,
                    names,
                    generations,
                    stop,
                    cpu,
                );
            }
        }
        if sched.in_flight() == 0 {
            if sched.finished() {
                break;
            }
            continue;
        }
        let waited = queue.wait(&mut done);
        let end = Instant::now();
        if let Err(e) = waited {
            // The queue itself failed: every request in it is lost to this run.
            for entry in &mut slots.flying {
                if let Some((op, start)) = entry.take() {
                    let failed = Finished {
                        op,
                        start,
                        end,
                        result: Err(e),
                        data: None,
                    };
                    sched.complete(&failed, name(op.file), generations, stop);
                }
            }
            break;
        }
        settle(
            queue,
            &mut done,
            end,
            &mut slots,
            &mut sched,
            names,
            generations,
            stop,
            cpu,
        );
    }
    let syncs = sched.end_syncs(stop);
    if let Some(&slot) = slots.free.last() {
        for file in syncs {
            sched.start_end_sync();
            let op = fsync_op(file);
            let start = Instant::now();
            let result = queue
                .submit(slot, Request::of(op))
                .and_then(|()| wait_for(queue, slot, &mut done));
            let finished = Finished {
                op,
                start,
                end: Instant::now(),
                result,
                data: None,
            };
            if !sched.complete(&finished, name(file), generations, stop) {
                break;
            }
        }
    }
    sched.finish(cpu.close())
}

/// Waits until the request in `slot` (the only one in flight) completes.
fn wait_for(
    queue: &mut impl SubmitQueue,
    slot: usize,
    done: &mut Vec<Completion>,
) -> Result<u64, Errno> {
    loop {
        done.clear();
        queue.wait(done)?;
        if let Some(c) = done.iter().find(|c| c.slot == slot) {
            return c.result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::time::Duration;

    use crate::io::AlignedBuf;
    use crate::job::{FsyncPolicy, Job, Pattern};
    use crate::units::Size;
    use crate::verify::MismatchKind;

    /// An in-memory file set behind a queue whose requests complete in an order the test
    /// scripts: `batch` at a time, the most recent first (out of order). Counts the most
    /// requests in flight at once and checks that a flush always runs alone.
    struct MemQueue {
        files: Vec<Vec<u8>>,
        bufs: Vec<AlignedBuf>,
        queued: VecDeque<(usize, Request)>,
        batch: usize,
        max_in_flight: usize,
        syncs: u64,
        fail_write_at: Option<u64>,
        /// After this many completions, the flag is set (a window ending mid-run).
        end_after: Option<(u64, std::sync::Arc<AtomicBool>)>,
        completed: u64,
    }

    impl MemQueue {
        fn new(files: u32, size: u64, slots: usize, bs: u64, batch: usize) -> MemQueue {
            MemQueue {
                files: (0..files).map(|_| vec![0; size as usize]).collect(),
                bufs: (0..slots).map(|_| AlignedBuf::new(bs as usize)).collect(),
                queued: VecDeque::new(),
                batch,
                max_in_flight: 0,
                syncs: 0,
                fail_write_at: None,
                end_after: None,
                completed: 0,
            }
        }
    }

    impl SubmitQueue for MemQueue {
        fn slots(&self) -> usize {
            self.bufs.len()
        }
        fn buffer(&mut self, slot: usize) -> Option<&mut [u8]> {
            if self.queued.iter().any(|(s, _)| *s == slot) {
                return None;
            }
            self.bufs.get_mut(slot).map(AlignedBuf::as_mut_slice)
        }
        fn submit(&mut self, slot: usize, request: Request) -> Result<(), Errno> {
            if request.kind == OpKind::Fsync {
                assert!(self.queued.is_empty(), "a flush runs alone");
            }
            self.queued.push_back((slot, request));
            self.max_in_flight = self.max_in_flight.max(self.queued.len());
            Ok(())
        }
        fn wait(&mut self, out: &mut Vec<Completion>) -> Result<(), Errno> {
            for _ in 0..self.batch {
                let Some((slot, r)) = self.queued.pop_back() else {
                    break;
                };
                let (a, b) = (r.offset as usize, (r.offset + r.len) as usize);
                let result = match r.kind {
                    OpKind::Read => {
                        let data = &self.files[r.file as usize][a..b];
                        self.bufs[slot].as_mut_slice()[..data.len()].copy_from_slice(data);
                        Ok(r.len)
                    }
                    OpKind::Write if self.fail_write_at == Some(r.offset) => Err(Errno::ENOSPC),
                    OpKind::Write => {
                        let data = &self.bufs[slot].as_slice()[..r.len as usize];
                        self.files[r.file as usize][a..b].copy_from_slice(data);
                        Ok(r.len)
                    }
                    _ => {
                        self.syncs += 1;
                        Ok(0)
                    }
                };
                out.push(Completion { slot, result });
                self.completed += 1;
                if let Some((n, flag)) = &self.end_after
                    && self.completed == *n
                {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(())
        }
    }

    fn job(pattern: Pattern, edit: impl FnOnce(&mut Job)) -> ResolvedJob {
        let mut j = Job::new(pattern);
        j.bs = Some(Size(4096));
        j.size = Some(Size(4096 * 64));
        j.nrfiles = Some(2);
        j.iodepth = 8;
        edit(&mut j);
        j.resolve().unwrap()
    }

    fn drive(
        q: &mut MemQueue,
        job: &ResolvedJob,
        gens: &mut [Generations],
        stop: &AtomicBool,
        clock: PhaseClock,
    ) -> MeasuredOutcome {
        let names = vec!["m0".to_owned(), "m1".to_owned()];
        run_queued(q, &names, job, 0, clock, stop, gens, &CpuWindow::new(1))
    }

    fn now() -> PhaseClock<'static> {
        PhaseClock {
            window_start: Instant::now(),
            deadline: None,
            progress: None,
            ended: None,
        }
    }

    #[test]
    fn verified_random_writes_then_reads_keep_every_slot_busy() {
        let write = job(Pattern::Randwrite, |j| {
            j.verify = true;
            j.io_size = Some(Size(4096 * 256));
        });
        let mut q = MemQueue::new(2, 4096 * 64, 8, 4096, 3);
        let mut gens = vec![Generations::unknown(64), Generations::unknown(64)];
        let stop = AtomicBool::new(false);
        let out = drive(&mut q, &write, &mut gens, &stop, now());
        assert!(out.fault.is_none(), "{:?}", out.fault);
        assert_eq!(out.recorder.counters(OpKind::Write).ops, 256);
        assert_eq!(out.recorder.counters(OpKind::Fsync).ops, 2);
        assert_eq!(q.max_in_flight, 8, "the queue is kept full");
        assert_eq!(out.max_in_flight, 8);
        assert!(
            gens.iter()
                .all(|g| g.known().all(|(_, generation)| generation == 2))
        );
        let read = job(Pattern::Randread, |j| j.verify = true);
        let out = drive(&mut q, &read, &mut gens, &stop, now());
        assert_eq!(out.tally.blocks_checked, 128);
        assert_eq!(out.tally.mismatches, 0, "{:?}", out.tally.list.first());

        // A block changed behind the run's back is reported with its file and offset.
        q.files[1][4096 * 5 + 100] ^= 0xff;
        let out = drive(&mut q, &read, &mut gens, &stop, now());
        assert_eq!(out.tally.mismatches, 1);
        let bad = &out.tally.list[0];
        assert_eq!((bad.file.as_str(), bad.offset), ("m1", 4096 * 5));
        assert!(
            matches!(bad.kind, MismatchKind::Checksum | MismatchKind::Payload),
            "{bad:?}"
        );
    }

    /// The window ends while a flush waits behind its barrier: the parked flush is dropped
    /// and the worker ends, instead of waiting forever for a flush that may not start.
    #[test]
    fn a_window_ending_while_a_flush_waits_ends_the_worker() {
        let fsync = job(Pattern::Write, |j| j.fsync = Some(FsyncPolicy::Every(4)));
        let ended = std::sync::Arc::new(AtomicBool::new(false));
        let mut q = MemQueue::new(2, 4096 * 64, 8, 4096, 2);
        // Four writes are in flight and the flush is parked; the window ends as they finish.
        q.end_after = Some((4, std::sync::Arc::clone(&ended)));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut gens = vec![Generations::unknown(0), Generations::unknown(0)];
            let stop = AtomicBool::new(false);
            let clock = PhaseClock {
                ended: Some(&ended),
                ..now()
            };
            let out = drive(&mut q, &fsync, &mut gens, &stop, clock);
            let _ = tx.send((out.recorder.counters(OpKind::Write).ops, q.syncs));
        });
        let (writes, syncs) = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the worker ends once the window is over");
        assert_eq!(syncs, 0, "the parked flush never ran");
        assert!(writes < 128, "the window ended early: {writes} writes");
    }

    #[test]
    fn fsync_is_a_barrier_and_a_failure_stops_with_its_errno() {
        let fsync = job(Pattern::Write, |j| j.fsync = Some(FsyncPolicy::Every(4)));
        let mut q = MemQueue::new(2, 4096 * 64, 8, 4096, 2);
        let mut gens = vec![Generations::unknown(0), Generations::unknown(0)];
        let stop = AtomicBool::new(false);
        let out = drive(&mut q, &fsync, &mut gens, &stop, now());
        assert!(out.fault.is_none());
        assert_eq!(out.recorder.counters(OpKind::Write).ops, 128);
        assert_eq!(out.recorder.counters(OpKind::Fsync).ops, 32);
        assert_eq!(q.syncs, 32);

        q.fail_write_at = Some(4096 * 10);
        let write = job(Pattern::Write, |_| {});
        let out = drive(&mut q, &write, &mut gens, &stop, now());
        let fault = out.fault.expect("a fault");
        assert_eq!(fault.code, crate::io::FaultCode::Errno(Errno::ENOSPC));
        assert_eq!(fault.offset, Some(4096 * 10));
        assert!(["m0", "m1"].contains(&fault.file.as_str()), "{fault}");
        assert!(stop.load(std::sync::atomic::Ordering::Relaxed));
        assert!(out.recorder.errors()["ENOSPC"] >= 1);
        assert_eq!(out.recorder.counters(OpKind::Fsync).ops, 0);
    }

    #[test]
    fn a_ramp_does_not_spend_the_io_budget() {
        let read = job(Pattern::Randread, |j| {
            j.io_size = Some(Size(4096 * 64));
            j.ramp_time = Some(crate::units::Span(Duration::from_millis(20)));
        });
        let mut q = MemQueue::new(2, 4096 * 64, 8, 4096, 1);
        let mut gens = vec![Generations::unknown(0), Generations::unknown(0)];
        let stop = AtomicBool::new(false);
        let clock = PhaseClock {
            window_start: Instant::now() + Duration::from_millis(20),
            deadline: None,
            progress: None,
            ended: None,
        };
        let out = drive(&mut q, &read, &mut gens, &stop, clock);
        assert!(out.fault.is_none());
        assert!(out.recorder.ramp_ops() > 0);
        assert_eq!(out.recorder.counters(OpKind::Read).ops, 64);
    }
}
