//! The rules of one worker with several requests in flight, shared by the drivers that
//! keep `iodepth` requests outstanding: the pipelined driver of asynchronous backends
//! ([`crate::pipeline`], the NFSv3 client) and the queued driver of directories
//! ([`crate::queue`], io_uring or submitter threads).
//!
//! A [`Scheduler`] decides which operation starts next and records each completion; the
//! drivers only move requests to their mechanism and back. What it keeps from the
//! synchronous driver ([`crate::driver::run_data`]): operation order (the same
//! [`OpStream`]), the verification pattern and generations, ramp handling (operations that
//! complete before the window start are ramp operations and extend a size-bounded budget),
//! stop on the first failure (other workers stop too; operations already in flight still
//! complete and are recorded or counted as errors).
//!
//! Ordering rules a queue needs: an fsync is a barrier (everything in flight completes,
//! then the flush runs alone, as fio does before an fsync with iodepth > 1); with
//! verification on, an operation on a block that is still in flight waits for it, so
//! generations stay exact.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nix::errno::Errno;

use crate::driver::{Progress, file_id, kinds_for};
use crate::io::{FaultCode, IoFault, MeasuredOutcome, PhaseClock};
use crate::job::{FsyncPolicy, ResolvedJob};
use crate::ops::{DataOp, OpKind, OpStream};
use crate::stats::Recorder;
use crate::verify::{BlockId, Generations, VerifyTally, check_block};

/// An operation the scheduler let start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Issue {
    /// The operation.
    pub op: DataOp,
    /// For writes of verified runs: the header the block must carry (its generation was
    /// bumped already).
    pub fill: Option<BlockId>,
}

/// A finished operation as a driver reports it.
#[derive(Debug)]
pub(crate) struct Finished<'a> {
    /// What it was.
    pub op: DataOp,
    /// When it was submitted.
    pub start: Instant,
    /// When its completion was seen.
    pub end: Instant,
    /// Bytes moved (0 for a flush), or the error.
    pub result: Result<u64, Errno>,
    /// For reads: the bytes read (checked when verifying).
    pub data: Option<&'a [u8]>,
}

/// One worker's state while several of its requests are in flight.
pub(crate) struct Scheduler<'a> {
    job: &'a ResolvedJob,
    worker: u32,
    stream: OpStream,
    rec: Recorder,
    tally: VerifyTally,
    scratch: Vec<u8>,
    fault: Option<IoFault>,
    window_start: Instant,
    clock: PhaseClock<'a>,
    progress: Progress<'a>,
    in_ramp: bool,
    written: Vec<bool>,
    next: Option<DataOp>,
    issuing: bool,
    busy: HashSet<(u32, u64)>,
    data_in_flight: u64,
    in_flight: usize,
    max_in_flight: usize,
    fsync_in_flight: bool,
}

impl<'a> Scheduler<'a> {
    /// A scheduler for worker `worker` of `job`, whose window is given by `clock`.
    #[must_use]
    pub(crate) fn new(job: &'a ResolvedJob, worker: u32, clock: PhaseClock<'a>) -> Scheduler<'a> {
        let in_ramp = Instant::now() < clock.window_start;
        let mut stream = OpStream::new(job, worker);
        if in_ramp {
            // The ramp is bounded by time only; the io budget counts from the window start.
            stream.rebase_budget(None);
        }
        Scheduler {
            job,
            worker,
            stream,
            rec: Recorder::new(clock.window_start, &kinds_for(job)),
            tally: VerifyTally::default(),
            scratch: vec![0u8; if job.verify { job.bs as usize } else { 0 }],
            fault: None,
            window_start: clock.window_start,
            clock,
            progress: Progress::new(&clock),
            in_ramp,
            written: vec![false; job.nrfiles as usize],
            next: None,
            issuing: true,
            busy: HashSet::new(),
            data_in_flight: 0,
            in_flight: 0,
            max_in_flight: 0,
            fsync_in_flight: false,
        }
    }

    /// Whether the window has not started yet (no completion inside it so far).
    #[must_use]
    pub(crate) const fn in_ramp(&self) -> bool {
        self.in_ramp
    }

    /// Requests in flight now.
    #[must_use]
    pub(crate) const fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The next operation to start while fewer than `depth` are in flight; `None` when
    /// nothing may start now (depth reached, a barrier or a busy block waits for
    /// completions, or the stream, the deadline or `stop` ended the issuing).
    pub(crate) fn next(
        &mut self,
        depth: usize,
        stop: &AtomicBool,
        generations: &mut [Generations],
    ) -> Option<Issue> {
        if !self.issuing || self.in_flight >= depth || self.fsync_in_flight {
            return None;
        }
        if stop.load(Ordering::Relaxed) || self.clock.over(Instant::now()) {
            // An operation parked behind a barrier or a busy block is dropped with the rest.
            self.issuing = false;
            self.next = None;
            return None;
        }
        let Some(op) = self.next.take().or_else(|| self.stream.next_op()) else {
            self.issuing = false;
            return None;
        };
        let barrier = op.kind == OpKind::Fsync && self.in_flight > 0;
        if barrier || (self.job.verify && self.busy.contains(&(op.file, op.block))) {
            self.next = Some(op);
            return None;
        }
        let fill = (op.kind == OpKind::Write && self.job.verify).then(|| BlockId {
            file_id: file_id(self.job, self.worker, op.file),
            block: op.block,
            offset: op.offset,
            generation: generations[op.file as usize].bump(op.block),
        });
        if self.job.verify {
            self.busy.insert((op.file, op.block));
        }
        self.started(op.kind);
        Some(Issue { op, fill })
    }

    fn started(&mut self, kind: OpKind) {
        self.data_in_flight += u64::from(kind.is_data());
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        self.fsync_in_flight = kind == OpKind::Fsync;
    }

    /// Whether the worker is done: nothing in flight and nothing more to start.
    #[must_use]
    pub(crate) fn finished(&self) -> bool {
        self.in_flight == 0 && !self.issuing
    }

    /// Records one completion. Returns `false` when the operation failed (the worker and,
    /// through `stop`, every other worker stop issuing).
    pub(crate) fn complete(
        &mut self,
        done: &Finished<'_>,
        name: &str,
        generations: &[Generations],
        stop: &AtomicBool,
    ) -> bool {
        let op = done.op;
        self.in_flight = self.in_flight.saturating_sub(1);
        if op.kind == OpKind::Fsync {
            self.fsync_in_flight = false;
        }
        self.busy.remove(&(op.file, op.block));
        self.data_in_flight -= u64::from(op.kind.is_data()).min(self.data_in_flight);
        let code = match done.result {
            Err(e) => Some(FaultCode::Errno(e)),
            Ok(n) if op.kind.is_data() && n != op.len => Some(if op.kind == OpKind::Read {
                FaultCode::ShortRead {
                    got: n,
                    want: op.len,
                }
            } else {
                FaultCode::ShortWrite {
                    got: n,
                    want: op.len,
                }
            }),
            Ok(_) => None,
        };
        if let Some(code) = code {
            self.rec.record_error(&code.name());
            if self.fault.is_none() {
                self.fault = Some(IoFault {
                    op: op.kind.name(),
                    file: name.to_owned(),
                    offset: (op.kind != OpKind::Fsync).then_some(op.offset),
                    code,
                });
            }
            stop.store(true, Ordering::Relaxed);
            self.issuing = false;
            self.next = None;
            return false;
        }
        let bytes = if op.kind.is_data() { op.len } else { 0 };
        self.rec.record(op.kind, done.start, done.end, bytes);
        self.progress.completed();
        if op.kind == OpKind::Write {
            self.written[op.file as usize] = true;
        }
        if let (OpKind::Read, true, Some(data)) = (op.kind, self.job.verify, done.data) {
            let id = BlockId {
                file_id: file_id(self.job, self.worker, op.file),
                block: op.block,
                offset: op.offset,
                generation: generations[op.file as usize].get(op.block),
            };
            let len = (op.len as usize).min(data.len());
            self.tally.add(check_block(
                &data[..len],
                &mut self.scratch,
                self.job.seed,
                id,
                name,
            ));
        }
        if self.in_ramp && done.end >= self.window_start {
            // The window starts: this operation and those in flight count in it.
            self.in_ramp = false;
            let counted = u64::from(op.kind.is_data()) + self.data_in_flight;
            self.stream
                .rebase_budget(self.job.ops_limit().map(|n| n.saturating_sub(counted)));
        }
        true
    }

    /// The files to flush once the loop ended (`fsync: end`): those written, unless the
    /// run failed or was stopped.
    #[must_use]
    pub(crate) fn end_syncs(&self, stop: &AtomicBool) -> Vec<u32> {
        if self.fault.is_some()
            || self.job.fsync != FsyncPolicy::End
            || stop.load(Ordering::Relaxed)
        {
            return Vec::new();
        }
        (0..self.job.nrfiles)
            .filter(|f| self.written[*f as usize])
            .collect()
    }

    /// Counts a flush of the end the driver starts (see [`Scheduler::end_syncs`]).
    pub(crate) fn start_end_sync(&mut self) {
        self.started(OpKind::Fsync);
    }

    /// The worker's outcome, with `cpu` (user, sys) seconds.
    #[must_use]
    pub(crate) fn finish(self, cpu: (f64, f64)) -> MeasuredOutcome {
        MeasuredOutcome {
            recorder: self.rec,
            fault: self.fault,
            tally: self.tally,
            cpu,
            max_in_flight: u32::try_from(self.max_in_flight).unwrap_or(u32::MAX),
        }
    }
}

/// A flush operation of `file` (for the end-of-run syncs).
#[must_use]
pub(crate) fn fsync_op(file: u32) -> DataOp {
    DataOp {
        kind: OpKind::Fsync,
        file,
        block: 0,
        offset: 0,
        len: 0,
    }
}
