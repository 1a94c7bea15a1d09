//! The engine: runs a job on a backend through its phases and assembles the result.
//!
//! Phases: resolve the job and let the backend check the target (nothing touched yet;
//! errors are [`StartError`], exit code 2) -> layout (per worker, parallel, not measured)
//! -> optional start barrier (a file to wait for, so several clients start together) ->
//! measured phase (ramp first; every worker starts at the same instant; an optional
//! progress file once every worker has completed an operation; an optional stop file ends
//! it early) -> read-back
//! verification of written blocks (not measured) -> cleanup of created files (unless kept)
//! -> [`RunResult`].
//!
//! An IO failure in any worker stops all workers; the result then carries what completed,
//! the error, and status `io_error`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::backend::nfs::{InputError, NfsBackend};
use crate::backend::{Backend, PrepareError, Prepared};
use crate::driver::{
    LayoutOutcome, kinds_for, layout, run_data, run_metadata, verify_written, wait_for_file,
};
use crate::exit::ExitCode;
use crate::io::{IoFault, MeasuredOutcome, PhaseClock, ProgressFile, WorkerIo};
use crate::job::{Job, JobError, Pattern, ResolvedJob};
use crate::mount::mountstats_delta;
use crate::result::{
    Cpu, Effective, ErrorRecord, IoSection, Measures, Phases, ProtocolSection, RunResult,
    SCHEMA_VERSION, Status, Tool, Totals, VerifySummary, Window, op_stats_map, wire,
};
use crate::stats::Recorder;
use crate::verify::{Generations, VerifyTally};

/// Run options that are not part of the workload.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep created files after the run.
    pub keep: bool,
    /// Wait for this file to exist before the measured phase.
    pub start_barrier: Option<PathBuf>,
    /// Longest wait for the start barrier.
    pub barrier_timeout: Duration,
    /// Written once every worker has completed an operation of the measured phase.
    pub progress_file: Option<PathBuf>,
    /// Ends the measured phase early when it appears, as if the runtime had run out.
    pub stop_file: Option<PathBuf>,
    /// Stop after the layout phase (files are kept).
    pub layout_only: bool,
    /// The files were laid out on purpose by an earlier layout-only run: their reuse is
    /// expected and not noted (it is still counted in `files_reused`).
    pub reuse_expected: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            keep: false,
            start_barrier: None,
            barrier_timeout: Duration::from_secs(600),
            progress_file: None,
            stop_file: None,
            layout_only: false,
            reuse_expected: false,
        }
    }
}

/// Why a run did not start (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A job field is invalid.
    #[error(transparent)]
    Job(#[from] JobError),
    /// The backend refused the target.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

impl StartError {
    /// The job field or run option concerned (`bs`, `dir`, `direct`...).
    #[must_use]
    pub fn field(&self) -> Option<&'static str> {
        match self {
            StartError::Job(e) => Some(e.field()),
            StartError::Prepare(e) => e.field(),
        }
    }

    /// Exit code: bad input, except probe failures that are plain IO errors.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            StartError::Prepare(PrepareError::Probe { .. }) => ExitCode::IoError,
            StartError::Prepare(PrepareError::Target {
                bad_input: false, ..
            }) => ExitCode::IoError,
            _ => ExitCode::BadInput,
        }
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The result document.
    pub result: RunResult,
    /// What the process should exit with.
    pub exit: ExitCode,
}

fn record(phase: &str, fault: &IoFault) -> ErrorRecord {
    ErrorRecord {
        phase: phase.to_owned(),
        errno: Some(fault.code.name()),
        file: Some(fault.file.clone()),
        message: fault.to_string(),
    }
}

/// A worker that failed to open or lay out: its handle (if opened) and the failure.
type FailedWorker<W> = (Option<W>, IoFault);

struct Worker<W> {
    io: Option<W>,
    generations: Vec<Generations>,
    layout: LayoutOutcome,
}

/// Runs `job` on `backend`. `note` receives human notes as they arise (for stderr).
pub fn run<B: Backend>(
    job: &Job,
    backend: &mut B,
    options: &RunOptions,
    note: &mut dyn FnMut(&str),
) -> Result<RunOutcome, StartError> {
    let resolved = job.resolve()?;
    let prepared = backend.prepare(&resolved)?;
    for n in &prepared.notes {
        note(n);
    }
    let backend = &*backend;
    let threads = resolved.threads;
    let mut phases = Phases::default();
    let mut error: Option<ErrorRecord> = None;

    // Layout, one thread per worker.
    let layout_start = Instant::now();
    let mut workers = layout_phase(backend, &resolved, prepared.direct, &mut error);
    phases.layout_seconds = layout_start.elapsed().as_secs_f64();
    let reused: u64 = workers.iter().map(|w| w.layout.reused).sum();

    let mut outcomes: Vec<MeasuredOutcome> = Vec::new();
    let mut window = Window::default();
    let mut mount = backend.mount_section();
    let mut tally = VerifyTally::default();

    if error.is_none()
        && !options.layout_only
        && let Some(path) = &options.start_barrier
    {
        match wait_barrier(path, options.barrier_timeout) {
            Ok(waited) => phases.barrier_wait_seconds = waited,
            Err(e) => error = Some(e),
        }
    }

    let mut protocol = None;
    let mut progress_notes = Vec::new();
    if error.is_none() && !options.layout_only {
        let stats_before = backend.mount_stats();
        let protocol_before = backend.protocol_counters();
        let progress = options
            .progress_file
            .as_deref()
            .map(|path| ProgressFile::new(path, threads));
        let (measured, start_wall, window_start, ended_after) = measured_phase(
            &resolved,
            &mut workers,
            progress.as_ref(),
            options.stop_file.as_deref(),
        );
        if let (Some(after), Some(path)) = (ended_after, &options.stop_file) {
            let text = format!(
                "the measured phase ended early: `{}` appeared {:.1} s into it",
                path.display(),
                after.as_secs_f64()
            );
            note(&text);
            progress_notes.push(text);
        }
        if let Some(failure) = progress.as_ref().and_then(ProgressFile::failure) {
            note(&failure);
            progress_notes.push(failure);
        }
        protocol = backend.protocol_section(protocol_before.as_ref());
        outcomes = measured;
        if let (Some(before), Some(after), Some(section)) =
            (stats_before, backend.mount_stats(), mount.as_mut())
        {
            section.mountstats_delta = Some(mountstats_delta(&before, &after));
        }
        for o in &mut outcomes {
            tally.merge(std::mem::take(&mut o.tally));
        }
        if let Some(fault) = outcomes.iter().find_map(|o| o.fault.as_ref()) {
            error = Some(record("measured", fault));
        }
        let merged;
        (merged, window) = merge_measured(&outcomes, window_start, start_wall, &resolved);
        phases.ramp_seconds = resolved.ramp_time.as_secs_f64();
        phases.measured_seconds = window.seconds;
        outcomes = vec![merged];

        if error.is_none() && resolved.verify && resolved.pattern.writes() {
            let verify_start = Instant::now();
            match verify_phase(&resolved, &mut workers) {
                Ok(t) => tally.merge(t),
                Err(fault) => error = Some(record("verify", &fault)),
            }
            phases.verify_seconds = verify_start.elapsed().as_secs_f64();
        }
    }

    let created: u64 = workers
        .iter()
        .filter_map(|w| w.io.as_ref())
        .map(WorkerIo::created_files)
        .sum();
    let keep = options.keep || options.layout_only;
    let mut notes = prepared.notes.clone();
    notes.extend(progress_notes);
    if !keep {
        for w in &mut workers {
            if let Some(io) = w.io.as_mut()
                && let Err(fault) = io.cleanup()
            {
                let text = format!("cleanup: {fault}");
                note(&text);
                notes.push(text);
            }
        }
    }
    if reused > 0 && !options.reuse_expected {
        let text =
            format!("{reused} file(s) already had the job's size and were reused without layout");
        note(&text);
        notes.push(text);
    }

    let protocol = protocol.or_else(|| backend.protocol_section(None));
    let result = assemble(AssembleInput {
        job,
        resolved: &resolved,
        backend: backend.info(),
        prepared: &prepared,
        reused,
        created,
        phases,
        window,
        outcome: outcomes.pop(),
        tally,
        error,
        mount,
        protocol,
        notes,
    });
    let exit = match result.status {
        Status::Ok => ExitCode::Ok,
        Status::IoError => ExitCode::IoError,
        Status::VerifyFailed => ExitCode::VerifyFailed,
    };
    Ok(RunOutcome { result, exit })
}

/// Opens every worker and lays out its files, one thread per worker; the first failure
/// goes to `error` and its worker is kept (without IO when it did not open) for cleanup.
fn layout_phase<B: Backend>(
    backend: &B,
    resolved: &ResolvedJob,
    direct: bool,
    error: &mut Option<ErrorRecord>,
) -> Vec<Worker<B::Worker>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..resolved.threads)
            .map(|w| {
                scope.spawn(
                    move || -> Result<Worker<B::Worker>, FailedWorker<B::Worker>> {
                        let mut io = backend.open_worker(w).map_err(|f| (None, f))?;
                        match layout(&mut io, resolved, w, direct) {
                            Ok(outcome) => Ok(Worker {
                                generations: outcome.generations.clone(),
                                layout: outcome,
                                io: Some(io),
                            }),
                            Err(f) => Err((Some(io), f)),
                        }
                    },
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(_) => Err((
                    None,
                    IoFault::errno("layout", "worker thread", None, nix::errno::Errno::EIO),
                )),
            })
            .map(|r| match r {
                Ok(w) => w,
                Err((io, fault)) => {
                    error.get_or_insert_with(|| record("layout", &fault));
                    Worker {
                        io,
                        generations: Vec::new(),
                        layout: LayoutOutcome::default(),
                    }
                }
            })
            .collect()
    })
}

/// Waits for the start barrier file; returns the seconds waited.
fn wait_barrier(path: &Path, timeout: Duration) -> Result<f64, ErrorRecord> {
    wait_for_file(path, timeout)
        .map(|waited| waited.as_secs_f64())
        .ok_or_else(|| ErrorRecord {
            phase: "barrier".to_owned(),
            errno: None,
            file: Some(path.display().to_string()),
            message: format!(
                "start barrier `{}` did not appear within {} (hint: create it when every client is ready, or raise --barrier-timeout)",
                path.display(),
                crate::units::format_duration(timeout)
            ),
        })
}

/// The workers' measured phases as one (recorders, CPU and depth summed; faults and
/// tallies are taken before), and the measured window they span.
fn merge_measured(
    outcomes: &[MeasuredOutcome],
    window_start: Instant,
    start_wall: SystemTime,
    resolved: &ResolvedJob,
) -> (MeasuredOutcome, Window) {
    let mut merged = Recorder::new(window_start, &[]);
    for o in outcomes {
        merged.merge(&o.recorder);
    }
    let window = Window {
        start_unix_ns: start_wall
            .checked_add(resolved.ramp_time)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        seconds: merged.busy_window().as_secs_f64(),
    };
    let outcome = MeasuredOutcome {
        cpu: outcomes
            .iter()
            .fold((0.0, 0.0), |a, o| (a.0 + o.cpu.0, a.1 + o.cpu.1)),
        recorder: merged,
        fault: None,
        tally: VerifyTally::default(),
        max_in_flight: outcomes.iter().map(|o| o.max_in_flight).max().unwrap_or(0),
    };
    (outcome, window)
}

/// What [`run_nfs`] can fail with before any IO.
#[derive(Debug, thiserror::Error)]
pub enum NfsRunError {
    /// Bad URL or options (exit code 2).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The job or the target was refused (see [`StartError::exit_code`]).
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Runs `job` against the `nfs://` URL `target` with client options `mount_options`
/// (`mount -o` syntax, may be empty) and file name prefix `prefix`; `note` receives human
/// notes as they arise.
///
/// This blocks until the run ends and drives its own tokio runtime: from async code, call
/// it on a blocking thread (`tokio::task::spawn_blocking`). The outcome carries the result
/// document and the exit code the CLI would use; errors are bad input or a target that
/// cannot be used (see [`StartError::exit_code`]).
///
/// ```no_run
/// use nfslab_workload::{Job, Pattern, RunOptions, run_nfs};
///
/// let mut job = Job::new(Pattern::Randread);
/// job.iodepth = 16;
/// let outcome = run_nfs(
///     &job,
///     "nfs://10.0.0.5/export/bench",
///     "vers=3,rsize=1048576,nconnect=4,hard,timeo=600,retrans=2",
///     "nfslab",
///     &RunOptions::default(),
///     &mut |note| eprintln!("note: {note}"),
/// );
/// match outcome {
///     Ok(o) => println!("{} bytes/s", o.result.totals.bandwidth_bytes_per_sec),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
pub fn run_nfs(
    job: &Job,
    target: &str,
    mount_options: &str,
    prefix: &str,
    options: &RunOptions,
    note: &mut dyn FnMut(&str),
) -> Result<RunOutcome, NfsRunError> {
    let mut backend = NfsBackend::new(target, mount_options, prefix)?;
    Ok(run(job, &mut backend, options, note)?)
}

/// Runs the measured phase on every worker; returns the per-worker outcomes, the wall
/// clock at the common start, and the window start instant.
fn measured_phase<W: WorkerIo>(
    job: &ResolvedJob,
    workers: &mut [Worker<W>],
    progress: Option<&ProgressFile>,
    stop_file: Option<&Path>,
) -> (Vec<MeasuredOutcome>, SystemTime, Instant, Option<Duration>) {
    let ready = Barrier::new(workers.len() + 1);
    let go = Barrier::new(workers.len() + 1);
    let clock: OnceLock<PhaseClock> = OnceLock::new();
    let stop = AtomicBool::new(false);
    let ended = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let mut start_wall = SystemTime::now();
    let mut window_start = Instant::now();
    let mut ended_after = None;
    let outcomes = std::thread::scope(|scope| {
        // Ends the window early when the stop file appears; leaves once the workers are done.
        let watcher = stop_file.map(|path| {
            let (ended, finished) = (&ended, &finished);
            scope.spawn(move || {
                let start = Instant::now();
                while !finished.load(Ordering::Acquire) {
                    if path.exists() {
                        ended.store(true, Ordering::Relaxed);
                        return Some(start.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                None
            })
        });
        let handles: Vec<_> = workers
            .iter_mut()
            .zip(0u32..)
            .map(|(worker, w)| {
                let (ready, go, clock, stop) = (&ready, &go, &clock, &stop);
                scope.spawn(move || {
                    ready.wait();
                    go.wait();
                    let clock = clock.get().copied()?;
                    let io = worker.io.as_mut()?;
                    let gens = &mut worker.generations;
                    Some(match io.run_measured(job, w, clock, stop, gens) {
                        Some(outcome) => outcome,
                        None if job.pattern == Pattern::Metadata => {
                            run_metadata(io, job, w, clock, stop)
                        }
                        None => run_data(io, job, w, clock, stop, gens),
                    })
                })
            })
            .collect();
        ready.wait();
        start_wall = SystemTime::now();
        let start = Instant::now();
        window_start = start + job.ramp_time;
        let _ = clock.set(PhaseClock {
            window_start,
            deadline: job.runtime.map(|r| window_start + r),
            progress,
            ended: stop_file.map(|_| &ended),
        });
        go.wait();
        let outcomes: Vec<MeasuredOutcome> = handles
            .into_iter()
            .map(|h| {
                h.join().ok().flatten().unwrap_or_else(|| MeasuredOutcome {
                    recorder: Recorder::new(window_start, &kinds_for(job)),
                    fault: Some(IoFault::errno(
                        "run",
                        "worker thread",
                        None,
                        nix::errno::Errno::EIO,
                    )),
                    tally: VerifyTally::default(),
                    cpu: (0.0, 0.0),
                    max_in_flight: 0,
                })
            })
            .collect();
        finished.store(true, Ordering::Release);
        ended_after = watcher.and_then(|w| w.join().ok().flatten());
        outcomes
    });
    (outcomes, start_wall, window_start, ended_after)
}

fn verify_phase<W: WorkerIo>(
    job: &ResolvedJob,
    workers: &mut [Worker<W>],
) -> Result<VerifyTally, IoFault> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter_mut()
            .zip(0u32..)
            .map(|(worker, w)| {
                scope.spawn(move || match worker.io.as_mut() {
                    Some(io) => verify_written(io, job, w, &worker.generations),
                    None => Ok(VerifyTally::default()),
                })
            })
            .collect();
        let mut tally = VerifyTally::default();
        for h in handles {
            let t = h.join().unwrap_or_else(|_| {
                Err(IoFault::errno(
                    "verify",
                    "worker thread",
                    None,
                    nix::errno::Errno::EIO,
                ))
            })?;
            tally.merge(t);
        }
        Ok(tally)
    })
}

struct AssembleInput<'a> {
    job: &'a Job,
    resolved: &'a ResolvedJob,
    backend: crate::result::BackendInfo,
    prepared: &'a Prepared,
    reused: u64,
    created: u64,
    phases: Phases,
    window: Window,
    outcome: Option<MeasuredOutcome>,
    tally: VerifyTally,
    error: Option<ErrorRecord>,
    mount: Option<crate::mount::MountSection>,
    protocol: Option<ProtocolSection>,
    notes: Vec<String>,
}

fn assemble(input: AssembleInput<'_>) -> RunResult {
    let seconds = input.window.seconds;
    // Each protocol backend's section has its own field of the document.
    let nfs = input.protocol.map(|section| match section {
        ProtocolSection::Nfs(nfs) => nfs,
    });
    let (ops, errors, ramp_ops, cpu) = match &input.outcome {
        Some(o) => (
            op_stats_map(&o.recorder, seconds),
            o.recorder.errors().clone(),
            o.recorder.ramp_ops(),
            o.cpu,
        ),
        None => (BTreeMap::new(), BTreeMap::new(), 0, (0.0, 0.0)),
    };
    let series = input
        .outcome
        .as_ref()
        .map(|o| o.recorder.series().to_vec())
        .unwrap_or_default();
    let mut totals = Totals::from_ops(&ops, seconds, ramp_ops);
    if let Some(o) = &input.outcome {
        (totals.ramp_read_bytes, totals.ramp_write_bytes) = o.recorder.ramp_bytes();
    }
    let verify = input.resolved.verify.then(|| VerifySummary {
        blocks_checked: input.tally.blocks_checked,
        mismatches: input.tally.mismatches,
        mismatch_list: input.tally.list.clone(),
    });
    let status = if input.tally.mismatches > 0 {
        Status::VerifyFailed
    } else if input.error.is_some() {
        Status::IoError
    } else {
        Status::Ok
    };
    let mut result = RunResult {
        schema_version: SCHEMA_VERSION,
        tool: Tool::current(),
        status,
        error: input.error,
        job: input.job.clone(),
        backend: input.backend,
        effective: Effective {
            job: input.resolved.clone(),
            iodepth_effective: input.prepared.iodepth,
            direct_used: input.prepared.direct,
            cache: if input.prepared.direct {
                "direct"
            } else {
                "buffered"
            }
            .to_owned(),
            direct_note: input.prepared.direct_note.clone(),
            files_reused: input.reused,
            files_created: input.created,
        },
        io: Some(IoSection {
            mechanism: input.prepared.mechanism.name.to_owned(),
            reason: input.prepared.mechanism.reason.clone(),
            iodepth: input.prepared.iodepth,
            max_in_flight: input.outcome.as_ref().map_or(0, |o| o.max_in_flight),
        }),
        phases: input.phases,
        measures: Measures {
            window: input.window,
            totals,
            ops,
            series,
            cpu: Cpu::new(cpu.0, cpu.1, totals.data_bytes),
            errors,
            verify,
        },
        mount: input.mount,
        nfs,
        wire: None,
        notes: input.notes,
    };
    result.wire = wire::of_result(&result, wire::client_memory());
    result
}
