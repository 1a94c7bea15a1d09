//! Per-operation bookkeeping of the engine: two clock reads and one histogram record (the
//! goal is under 100 ns per operation), and one step of the operation stream.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nfslab_workload::job::{Job, Pattern};
use nfslab_workload::ops::{OpKind, OpStream};
use nfslab_workload::stats::Recorder;
use nfslab_workload::units::Size;

fn bookkeeping(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_op");
    group.throughput(Throughput::Elements(1));

    group.bench_function("clock_read", |b| b.iter(|| black_box(Instant::now())));

    group.bench_function("record_only", |b| {
        let start = Instant::now();
        let end = start + std::time::Duration::from_micros(7);
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

    let mut job = Job::new(Pattern::Randrw);
    job.size = Some(Size(1 << 30));
    job.runtime = Some(nfslab_workload::units::Span(
        std::time::Duration::from_secs(60),
    ));
    let resolved = job.resolve().unwrap_or_else(|e| panic!("bench job: {e}"));
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
    group.finish();
}

criterion_group!(benches, bookkeeping);
criterion_main!(benches);
