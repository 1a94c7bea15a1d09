//! The pipelined driver: one worker's measured data phase with `iodepth` requests in
//! flight, for backends whose IO is asynchronous (the NFSv3 protocol backend).
//!
//! The synchronous driver ([`crate::driver::run_data`]) calls [`crate::backend::WorkerIo`]
//! and waits for each operation. This one keeps `iodepth` operations in flight through a
//! [`PipelinedIo`], on the backend's tokio runtime; which operation starts next, and what a
//! completion records, are the rules of [`crate::inflight::Scheduler`] (shared with the
//! queued driver of directories, [`crate::queue`]). Each completion is recorded with its
//! own submit and completion instants, so latencies and the per-second series mean the
//! same as for the synchronous driver.
//!
//! CPU: the work of a run is spread over runtime threads, so per-thread CPU time would
//! miss most of it. [`CpuWindow`] measures the process over the measured window instead
//! and hands the figure to exactly one worker.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use nix::errno::Errno;

use crate::inflight::{Finished, Scheduler, fsync_op};
use crate::io::{MeasuredOutcome, PhaseClock, SharedBuf};
use crate::job::ResolvedJob;
use crate::ops::{DataOp, OpKind, Rng, mix_seed};
use crate::verify::{Generations, fill_block};

/// An operation in flight.
pub(crate) type IoFuture<T> = Pin<Box<dyn Future<Output = Result<T, Errno>> + Send + 'static>>;

/// Write buffers of a worker: one shared random block when not verifying; otherwise a
/// rotation of blocks, each reused once the backend no longer holds it.
struct WriteBuffers {
    fixed: Option<Arc<Vec<u8>>>,
    ring: std::collections::VecDeque<Arc<Vec<u8>>>,
    bs: usize,
}

impl WriteBuffers {
    /// A block to fill, not shared with anything.
    fn fresh(&mut self) -> Arc<Vec<u8>> {
        if let Some(front) = self.ring.pop_front() {
            if Arc::strong_count(&front) == 1 && Arc::weak_count(&front) == 0 {
                return front;
            }
            self.ring.push_back(front);
        }
        Arc::new(vec![0u8; self.bs])
    }
}

/// Bytes read, owned by the future that read them (often a whole RPC reply).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadData {
    buf: Vec<u8>,
    range: Range<usize>,
}

impl ReadData {
    /// The bytes `buf[range]`.
    #[must_use]
    pub(crate) fn new(buf: Vec<u8>, range: Range<usize>) -> ReadData {
        let range = range.start.min(buf.len())..range.end.min(buf.len());
        ReadData { buf, range }
    }

    /// The bytes read.
    #[must_use]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

/// A worker's asynchronous IO: each call starts an operation and returns its future.
pub(crate) trait PipelinedIo {
    /// Name of file `file` for reports.
    fn file_name(&self, file: u32) -> &str;
    /// Starts a read of `len` bytes at `offset`.
    fn read(&mut self, file: u32, offset: u64, len: u64) -> IoFuture<ReadData>;
    /// Starts a write of `data` at `offset`; the backend may keep `data` as long as it
    /// needs. The future yields the bytes written.
    fn write(&mut self, file: u32, offset: u64, data: SharedBuf) -> IoFuture<u64>;
    /// Starts a flush of file `file` to stable storage.
    fn sync(&mut self, file: u32) -> IoFuture<()>;
    /// The runtime that drives the futures.
    fn runtime(&self) -> tokio::runtime::Handle;
}

fn process_cpu() -> (f64, f64) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            (secs(u.user_time()), secs(u.system_time()))
        }
        Err(_) => (0.0, 0.0),
    }
}

#[derive(Debug, Default)]
struct CpuState {
    start: Option<(f64, f64)>,
    remaining: u32,
}

/// Process CPU time over the measured window, shared by a run's workers.
#[derive(Debug, Default)]
pub(crate) struct CpuWindow {
    state: Arc<Mutex<CpuState>>,
}

impl CpuWindow {
    /// A window for `workers` workers.
    #[must_use]
    pub(crate) fn new(workers: u32) -> CpuWindow {
        CpuWindow {
            state: Arc::new(Mutex::new(CpuState {
                start: None,
                remaining: workers,
            })),
        }
    }

    fn lock(state: &Mutex<CpuState>) -> std::sync::MutexGuard<'_, CpuState> {
        state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the process CPU at `window_start` (now if it has passed; otherwise from a
    /// task on `runtime` that waits for it). The first worker to call this sets it.
    pub(crate) fn open_at(&self, window_start: Instant, runtime: &tokio::runtime::Handle) {
        let state = Arc::clone(&self.state);
        let mark = move || {
            let mut s = CpuWindow::lock(&state);
            if s.start.is_none() {
                s.start = Some(process_cpu());
            }
        };
        if Instant::now() >= window_start {
            mark();
        } else {
            let at = tokio::time::Instant::from_std(window_start);
            runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                mark();
            });
        }
    }

    /// Reads the process CPU now unless a worker did already (drivers without a runtime
    /// call this at their first completion inside the window).
    pub(crate) fn open_now(&self) {
        let mut s = CpuWindow::lock(&self.state);
        if s.start.is_none() {
            s.start = Some(process_cpu());
        }
    }

    /// A worker is done; the last one gets the process CPU (user, sys) since the window
    /// start, the others zero, so the engine's sum is the process figure.
    pub(crate) fn close(&self) -> (f64, f64) {
        let mut s = CpuWindow::lock(&self.state);
        s.remaining = s.remaining.saturating_sub(1);
        match (s.remaining, s.start) {
            (0, Some(start)) => {
                let now = process_cpu();
                ((now.0 - start.0).max(0.0), (now.1 - start.1).max(0.0))
            }
            _ => (0.0, 0.0),
        }
    }
}

/// What a finished operation moved.
enum Moved {
    /// A read's bytes.
    Read(ReadData),
    /// A write's byte count.
    Wrote(u64),
    /// A flush.
    Synced,
}

/// One operation in flight: what it was and its outcome.
struct Done {
    op: DataOp,
    start: Instant,
    outcome: Result<Moved, Errno>,
}

fn launch(
    io: &mut impl PipelinedIo,
    op: DataOp,
    data: SharedBuf,
) -> Pin<Box<dyn Future<Output = Done> + Send>> {
    let start = Instant::now();
    let (file, offset, len) = (op.file, op.offset, op.len);
    let fut: Pin<Box<dyn Future<Output = Result<Moved, Errno>> + Send>> = match op.kind {
        OpKind::Read => {
            let f = io.read(file, offset, len);
            Box::pin(async move { f.await.map(Moved::Read) })
        }
        OpKind::Write => {
            let f = io.write(file, offset, data);
            Box::pin(async move { f.await.map(Moved::Wrote) })
        }
        _ => {
            let f = io.sync(file);
            Box::pin(async move { f.await.map(|()| Moved::Synced) })
        }
    };
    Box::pin(async move {
        Done {
            op,
            start,
            outcome: fut.await,
        }
    })
}

/// Hands a completion to the scheduler; `false` when the operation failed.
fn settle(
    sched: &mut Scheduler<'_>,
    done: &Done,
    io: &impl PipelinedIo,
    generations: &[Generations],
    stop: &AtomicBool,
) -> bool {
    let end = Instant::now();
    let (result, data) = match &done.outcome {
        Err(e) => (Err(*e), None),
        Ok(Moved::Read(d)) => (
            Ok((d.as_slice().len() as u64).min(done.op.len)),
            Some(d.as_slice()),
        ),
        Ok(Moved::Wrote(n)) => (Ok(*n), None),
        Ok(Moved::Synced) => (Ok(0), None),
    };
    let finished = Finished {
        op: done.op,
        start: done.start,
        end,
        result,
        data,
    };
    sched.complete(&finished, io.file_name(done.op.file), generations, stop)
}

/// Runs worker `worker`'s data operations with `iodepth` in flight until its budget, the
/// deadline, a failure or another worker's failure (`stop`). `cpu` is the run's shared
/// CPU window.
pub(crate) fn run_data(
    io: &mut impl PipelinedIo,
    job: &ResolvedJob,
    worker: u32,
    clock: PhaseClock<'_>,
    stop: &AtomicBool,
    generations: &mut [Generations],
    cpu: &CpuWindow,
) -> MeasuredOutcome {
    let runtime = io.runtime();
    cpu.open_at(clock.window_start, &runtime);
    let depth = job.iodepth.max(1) as usize;
    let mut sched = Scheduler::new(job, worker, clock);
    let bs = job.bs as usize;
    let mut buffers = WriteBuffers {
        fixed: (!job.verify).then(|| {
            let mut block = vec![0u8; bs];
            Rng::new(mix_seed(&[job.seed, u64::from(worker), 0x64617461])).fill(&mut block);
            Arc::new(block)
        }),
        ring: std::collections::VecDeque::new(),
        bs,
    };
    runtime.block_on(async {
        let mut inflight = FuturesUnordered::new();
        loop {
            while let Some(issue) = sched.next(depth, stop, generations) {
                let data = match (&buffers.fixed, issue.op.kind, issue.fill) {
                    (_, OpKind::Read | OpKind::Fsync, _) => SharedBuf::default(),
                    (Some(fixed), _, _) => SharedBuf::new(Arc::clone(fixed), 0..bs),
                    (None, _, id) => {
                        let mut block = buffers.fresh();
                        if let (Some(bytes), Some(id)) = (Arc::get_mut(&mut block), id) {
                            fill_block(bytes, job.seed, id);
                        }
                        buffers.ring.push_back(Arc::clone(&block));
                        SharedBuf::new(block, 0..bs)
                    }
                };
                inflight.push(launch(io, issue.op, data));
            }
            let Some(done) = inflight.next().await else {
                if sched.finished() {
                    break;
                }
                continue;
            };
            settle(&mut sched, &done, io, generations, stop);
        }
        for file in sched.end_syncs(stop) {
            sched.start_end_sync();
            let done = launch(io, fsync_op(file), SharedBuf::default()).await;
            if !settle(&mut sched, &done, io, generations, stop) {
                break;
            }
        }
    });
    sched.finish(cpu.close())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::io::FaultCode;
    use crate::job::FsyncPolicy;
    use crate::ops::OpKind;
    use std::time::Duration;

    use crate::job::{Job, Pattern};
    use crate::units::Size;

    /// An in-memory file set whose operations complete after a short, varying delay (out
    /// of order), counting the most operations in flight at once.
    struct MemIo {
        rt: tokio::runtime::Runtime,
        files: Vec<Arc<Mutex<Vec<u8>>>>,
        names: Vec<String>,
        inflight: Arc<AtomicU64>,
        max_inflight: Arc<AtomicU64>,
        syncs: Arc<AtomicU64>,
        fail_write_at: Option<u64>,
    }

    impl MemIo {
        fn new(files: u32, size: u64) -> MemIo {
            MemIo {
                rt: tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_time()
                    .build()
                    .unwrap(),
                files: (0..files)
                    .map(|_| Arc::new(Mutex::new(vec![0; size as usize])))
                    .collect(),
                names: (0..files).map(|f| format!("mem{f}")).collect(),
                inflight: Arc::default(),
                max_inflight: Arc::default(),
                syncs: Arc::default(),
                fail_write_at: None,
            }
        }

        fn delayed<T: Send + 'static>(
            &self,
            offset: u64,
            body: impl FnOnce() -> Result<T, Errno> + Send + 'static,
        ) -> IoFuture<T> {
            let (now, max) = (Arc::clone(&self.inflight), Arc::clone(&self.max_inflight));
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_micros(50 + (offset / 4096 * 37) % 300)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                body()
            })
        }
    }

    impl PipelinedIo for MemIo {
        fn file_name(&self, file: u32) -> &str {
            &self.names[file as usize]
        }
        fn read(&mut self, file: u32, offset: u64, len: u64) -> IoFuture<ReadData> {
            let data = Arc::clone(&self.files[file as usize]);
            self.delayed(offset, move || {
                let d = data.lock().unwrap();
                let (a, b) = (offset as usize, (offset + len) as usize);
                Ok(ReadData::new(d[a..b].to_vec(), 0..b - a))
            })
        }
        fn write(&mut self, file: u32, offset: u64, data: SharedBuf) -> IoFuture<u64> {
            if self.fail_write_at == Some(offset) {
                return Box::pin(async { Err(Errno::ENOSPC) });
            }
            let target = Arc::clone(&self.files[file as usize]);
            let bytes = data.as_slice().to_vec();
            self.delayed(offset, move || {
                let mut d = target.lock().unwrap();
                d[offset as usize..offset as usize + bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len() as u64)
            })
        }
        fn sync(&mut self, _file: u32) -> IoFuture<()> {
            assert_eq!(
                self.inflight.load(Ordering::SeqCst),
                0,
                "fsync must run alone"
            );
            self.syncs.fetch_add(1, Ordering::SeqCst);
            self.delayed(0, || Ok(()))
        }
        fn runtime(&self) -> tokio::runtime::Handle {
            self.rt.handle().clone()
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

    fn clock() -> PhaseClock<'static> {
        PhaseClock {
            window_start: Instant::now(),
            deadline: None,
            progress: None,
            ended: None,
        }
    }

    /// Runs worker 0 of `job` on `io` with the window starting now.
    fn drive(
        io: &mut MemIo,
        job: &ResolvedJob,
        gens: &mut [Generations],
        stop: &AtomicBool,
    ) -> MeasuredOutcome {
        run_data(io, job, 0, clock(), stop, gens, &CpuWindow::new(1))
    }

    #[test]
    fn random_writes_then_reads_verify_with_depth() {
        let write = job(Pattern::Randwrite, |j| {
            j.verify = true;
            j.io_size = Some(Size(4096 * 256));
        });
        let mut io = MemIo::new(2, 4096 * 64);
        let mut gens = vec![Generations::unknown(64), Generations::unknown(64)];
        let stop = AtomicBool::new(false);
        let out = drive(&mut io, &write, &mut gens, &stop);
        assert!(out.fault.is_none(), "{:?}", out.fault);
        assert_eq!(out.recorder.counters(OpKind::Write).ops, 256);
        assert_eq!(
            out.recorder.counters(OpKind::Fsync).ops,
            2,
            "fsync at the end, once per file"
        );
        assert!(
            io.max_inflight.load(Ordering::SeqCst) >= 4,
            "requests overlap"
        );
        assert!(
            io.max_inflight.load(Ordering::SeqCst) <= 8,
            "never more than iodepth"
        );
        // Two passes: every block written twice, generation 2 everywhere.
        assert!(
            gens.iter()
                .all(|g| g.known().all(|(_, generation)| generation == 2))
        );
        let read = job(Pattern::Randread, |j| j.verify = true);
        let out = drive(&mut io, &read, &mut gens, &stop);
        assert_eq!(out.tally.blocks_checked, 128);
        assert_eq!(out.tally.mismatches, 0, "{:?}", out.tally.list.first());
    }

    #[test]
    fn fsync_every_n_is_a_barrier_and_failures_stop_the_worker() {
        let fsync = job(Pattern::Write, |j| j.fsync = Some(FsyncPolicy::Every(4)));
        let mut io = MemIo::new(2, 4096 * 64);
        let mut gens = vec![Generations::unknown(0), Generations::unknown(0)];
        let stop = AtomicBool::new(false);
        let out = drive(&mut io, &fsync, &mut gens, &stop);
        assert!(out.fault.is_none());
        assert_eq!(out.recorder.counters(OpKind::Write).ops, 128);
        assert_eq!(out.recorder.counters(OpKind::Fsync).ops, 32);
        assert_eq!(io.syncs.load(Ordering::SeqCst), 32);

        io.fail_write_at = Some(4096 * 10);
        let write = job(Pattern::Write, |_| {});
        let out = drive(&mut io, &write, &mut gens, &stop);
        let fault = out.fault.expect("a fault");
        assert_eq!(fault.code, FaultCode::Errno(Errno::ENOSPC));
        assert_eq!(fault.offset, Some(4096 * 10));
        assert!(stop.load(Ordering::Relaxed));
        // Each file's write at the bad offset fails when it was issued; whether the second
        // file's was issued before the first failure came back depends on timing.
        assert!(
            (1..=2).contains(&out.recorder.errors()["ENOSPC"]),
            "{:?}",
            out.recorder.errors()
        );
        assert_eq!(
            out.recorder.counters(OpKind::Fsync).ops,
            0,
            "no fsync after a failure"
        );
    }

    #[test]
    fn a_ramp_does_not_spend_the_io_budget() {
        let read = job(Pattern::Randread, |j| {
            j.io_size = Some(Size(4096 * 64));
            j.ramp_time = Some(crate::units::Span(Duration::from_millis(30)));
        });
        let mut io = MemIo::new(2, 4096 * 64);
        let mut gens = vec![Generations::unknown(0), Generations::unknown(0)];
        let stop = AtomicBool::new(false);
        let clock = PhaseClock {
            window_start: Instant::now() + Duration::from_millis(30),
            deadline: None,
            progress: None,
            ended: None,
        };
        let out = run_data(
            &mut io,
            &read,
            0,
            clock,
            &stop,
            &mut gens,
            &CpuWindow::new(1),
        );
        assert!(out.fault.is_none());
        assert!(
            out.recorder.ramp_ops() > 0,
            "operations ran during the ramp"
        );
        assert_eq!(
            out.recorder.counters(OpKind::Read).ops,
            64,
            "the window moves exactly io_size"
        );
    }

    #[test]
    fn cpu_window_goes_to_the_last_worker() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let w = CpuWindow::new(2);
        w.open_at(Instant::now(), rt.handle());
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert_eq!(w.close(), (0.0, 0.0));
        let (user, sys) = w.close();
        assert!(user + sys > 0.0);
    }
}
