//! Per-operation bookkeeping of the engine: two clock reads and one histogram record (the
//! goal is under 100 ns per operation), and one step of the operation stream.
//!
//! Each benchmark runs twice: in wall-clock time (`per_op`) and in the benchmark thread's
//! own CPU time (`per_op_cpu`, `CLOCK_THREAD_CPUTIME_ID`). On a machine shared with other
//! work the wall-clock figures include time the thread spent preempted; the CPU-time
//! figures do not, and are the ones to compare with the goal there.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use nfslab_workload::{Job, OpKind, OpStream, Pattern, Recorder, Size, Span};
use nix::time::{ClockId, clock_gettime};

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> f64 {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 * 1e9 + t.tv_nsec() as f64)
        .unwrap_or(0.0)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = f64;
    type Value = f64;
    fn start(&self) -> f64 {
        thread_cpu_ns()
    }
    fn end(&self, start: f64) -> f64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self
    }
}

impl ValueFormatter for ThreadCpuTime {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns (cpu)"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "ns (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn resolved_randrw() -> nfslab_workload::ResolvedJob {
    let mut job = Job::new(Pattern::Randrw);
    job.size = Some(Size(1 << 30));
    job.runtime = Some(Span(Duration::from_secs(60)));
    job.resolve().unwrap_or_else(|e| panic!("bench job: {e}"))
}

fn per_op<M: Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.throughput(Throughput::Elements(1));
    group.bench_function("clock_read", |b| b.iter(|| black_box(Instant::now())));

    group.bench_function("record_only", |b| {
        let start = Instant::now();
        let end = start + Duration::from_micros(7);
        let mut rec = Recorder::new(start, &[OpKind::Read]);
        b.iter(|| rec.record(OpKind::Read, black_box(start), black_box(end), 4096));
        black_box(rec.counters(OpKind::Read));
    });

    group.bench_function("clock_pair_and_record", |b| {
        let mut rec = Recorder::new(Instant::now(), &[OpKind::Read]);
        b.iter(|| {
            let start = Instant::now();
            let end = Instant::now();
            rec.record(OpKind::Read, black_box(start), black_box(end), 4096);
        });
        black_box(rec.counters(OpKind::Read));
    });

    let resolved = resolved_randrw();
    group.bench_function("op_stream_randrw_step", |b| {
        let mut stream = OpStream::new(&resolved, 0);
        b.iter(|| black_box(stream.next_op()));
    });

    group.bench_function("full_bookkeeping_randrw", |b| {
        let mut stream = OpStream::new(&resolved, 0);
        let mut rec = Recorder::new(
            Instant::now(),
            &[OpKind::Read, OpKind::Write, OpKind::Fsync],
        );
        b.iter(|| {
            let op = stream.next_op();
            let start = Instant::now();
            let end = Instant::now();
            if let Some(op) = op {
                rec.record(op.kind, start, end, op.len);
            }
        });
        black_box(rec.counters(OpKind::Write));
    });
}

fn wall(c: &mut Criterion<WallTime>) {
    let mut group = c.benchmark_group("per_op");
    per_op(&mut group);
    group.finish();
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("per_op_cpu");
    per_op(&mut group);
    group.finish();
}

criterion_group!(wall_benches, wall);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_benches, cpu_benches);
