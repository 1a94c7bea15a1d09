//! Statistics collection: one [`Recorder`] per worker, merged at the end.
//!
//! A recorder holds, per operation kind, an `hdrhistogram` of latencies in nanoseconds
//! (3 significant digits, 1 ns to 1 hour), op and byte counters, a per-second series and
//! error counts by errno. Operations that complete before the measured window starts (the
//! ramp) are counted apart and never reach a statistic. Recording is allocation-free on the
//! hot path (the series grows once per second).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::ops::OpKind;

/// Highest latency a histogram holds; longer operations are recorded as this value.
pub(crate) const MAX_LATENCY_NS: u64 = 3_600_000_000_000;
/// Significant digits kept by the histograms.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A fresh latency histogram with the engine's bounds.
#[must_use]
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants hdrhistogram accepts (a unit test creates one), so the
    // fallback never runs; it keeps the function total without a panic path.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGNIFICANT_DIGITS)
        .or_else(|_| Histogram::new(SIGNIFICANT_DIGITS))
        .unwrap_or_else(|_| std::process::abort())
}

/// One second of the measured window, summed over workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Seconds since the window started (this bucket covers `[second, second+1)`).
    pub second: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Reads completed.
    pub read_ops: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Writes completed.
    pub write_ops: u64,
    /// Other operations (fsync, metadata) completed.
    pub other_ops: u64,
    /// Sum of the latencies of all operations completed, in ns (mean = sum / ops).
    pub latency_sum_ns: u64,
}

/// Adds `from` into `into` second by second (by each point's `second`), growing `into`.
pub(crate) fn add_series(into: &mut Vec<SeriesPoint>, from: &[SeriesPoint]) {
    for point in from {
        let i = point.second as usize;
        if i >= into.len() {
            let len = into.len();
            into.extend((len..=i).map(|s| SeriesPoint {
                second: s as u64,
                ..SeriesPoint::default()
            }));
        }
        into[i].add(point);
    }
}

impl SeriesPoint {
    /// Adds another point's counts (not its `second`).
    pub fn add(&mut self, other: &SeriesPoint) {
        self.read_bytes += other.read_bytes;
        self.read_ops += other.read_ops;
        self.write_bytes += other.write_bytes;
        self.write_ops += other.write_ops;
        self.other_ops += other.other_ops;
        self.latency_sum_ns += other.latency_sum_ns;
    }
}

/// Counters of one operation kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounters {
    /// Operations completed in the window.
    pub ops: u64,
    /// Bytes moved in the window.
    pub bytes: u64,
}

/// Per-worker statistics; also the merged statistics of all workers.
#[derive(Debug, Clone)]
pub struct Recorder {
    window_start: Instant,
    histograms: Vec<Option<Histogram<u64>>>,
    counters: [KindCounters; OpKind::COUNT],
    series: Vec<SeriesPoint>,
    errors: BTreeMap<String, u64>,
    ramp_ops: u64,
    ramp_bytes: [u64; 2],
    last_completion: Option<Instant>,
}

impl Recorder {
    /// A recorder for the kinds in `kinds`, whose window starts at `window_start` (the end
    /// of the ramp). Kinds not listed are still counted (their histogram is created on
    /// first use).
    #[must_use]
    pub fn new(window_start: Instant, kinds: &[OpKind]) -> Recorder {
        let mut histograms: Vec<Option<Histogram<u64>>> = vec![None; OpKind::COUNT];
        for kind in kinds {
            histograms[kind.index()] = Some(new_histogram());
        }
        Recorder {
            window_start,
            histograms,
            counters: [KindCounters::default(); OpKind::COUNT],
            series: Vec::with_capacity(64),
            errors: BTreeMap::new(),
            ramp_ops: 0,
            ramp_bytes: [0; 2],
            last_completion: None,
        }
    }

    /// Start of the measured window.
    #[must_use]
    pub const fn window_start(&self) -> Instant {
        self.window_start
    }

    /// Records one completed operation that started at `start` and ended at `end`.
    #[inline]
    pub fn record(&mut self, kind: OpKind, start: Instant, end: Instant, bytes: u64) {
        let Some(since_start) = end.checked_duration_since(self.window_start) else {
            self.ramp_ops += 1;
            match kind {
                OpKind::Read => self.ramp_bytes[0] += bytes,
                OpKind::Write => self.ramp_bytes[1] += bytes,
                _ => {}
            }
            return;
        };
        let latency = end.saturating_duration_since(start);
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        let index = kind.index();
        match &mut self.histograms[index] {
            Some(h) => h.saturating_record(ns),
            slot @ None => {
                let mut h = new_histogram();
                h.saturating_record(ns);
                *slot = Some(h);
            }
        }
        let counters = &mut self.counters[index];
        counters.ops += 1;
        counters.bytes += bytes;
        let second = since_start.as_secs() as usize;
        if second >= self.series.len() {
            self.grow_series(second);
        }
        let point = &mut self.series[second];
        match kind {
            OpKind::Read => {
                point.read_ops += 1;
                point.read_bytes += bytes;
            }
            OpKind::Write => {
                point.write_ops += 1;
                point.write_bytes += bytes;
            }
            _ => point.other_ops += 1,
        }
        point.latency_sum_ns = point.latency_sum_ns.saturating_add(ns);
        self.last_completion = Some(end);
    }

    #[cold]
    fn grow_series(&mut self, second: usize) {
        let from = self.series.len();
        self.series.extend((from..=second).map(|s| SeriesPoint {
            second: s as u64,
            ..SeriesPoint::default()
        }));
    }

    /// Counts a failed operation under its error name (`ENOSPC`, `EIO`, `short_write`...).
    pub fn record_error(&mut self, name: &str) {
        *self.errors.entry(name.to_owned()).or_insert(0) += 1;
    }

    /// Adds another recorder (another worker) into this one.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            if let Some(theirs) = theirs {
                match mine {
                    Some(h) => {
                        // Same bounds everywhere: addition cannot fail.
                        let _ = h.add(theirs);
                    }
                    None => *mine = Some(theirs.clone()),
                }
            }
        }
        for (mine, theirs) in self.counters.iter_mut().zip(&other.counters) {
            mine.ops += theirs.ops;
            mine.bytes += theirs.bytes;
        }
        add_series(&mut self.series, &other.series);
        for (name, count) in &other.errors {
            *self.errors.entry(name.clone()).or_insert(0) += count;
        }
        self.ramp_ops += other.ramp_ops;
        self.ramp_bytes[0] += other.ramp_bytes[0];
        self.ramp_bytes[1] += other.ramp_bytes[1];
        self.last_completion = match (self.last_completion, other.last_completion) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The histogram of a kind, if any operation of it was recorded or expected.
    #[must_use]
    pub fn histogram(&self, kind: OpKind) -> Option<&Histogram<u64>> {
        self.histograms[kind.index()].as_ref()
    }

    /// Counters of a kind.
    #[must_use]
    pub fn counters(&self, kind: OpKind) -> KindCounters {
        self.counters[kind.index()]
    }

    /// Kinds with at least one operation in the window or a histogram prepared.
    pub fn kinds(&self) -> impl Iterator<Item = OpKind> + '_ {
        OpKind::ALL
            .into_iter()
            .filter(|k| self.histograms[k.index()].is_some() || self.counters[k.index()].ops > 0)
    }

    /// Per-second series.
    #[must_use]
    pub fn series(&self) -> &[SeriesPoint] {
        &self.series
    }

    /// Errors by name.
    #[must_use]
    pub fn errors(&self) -> &BTreeMap<String, u64> {
        &self.errors
    }

    /// Operations that completed during the ramp (excluded from statistics).
    #[must_use]
    pub const fn ramp_ops(&self) -> u64 {
        self.ramp_ops
    }

    /// Bytes (read, written) of the operations that completed during the ramp.
    #[must_use]
    pub const fn ramp_bytes(&self) -> (u64, u64) {
        (self.ramp_bytes[0], self.ramp_bytes[1])
    }

    /// Length of the window up to the last recorded completion.
    #[must_use]
    pub fn busy_window(&self) -> Duration {
        self.last_completion.map_or(Duration::ZERO, |end| {
            end.saturating_duration_since(self.window_start)
        })
    }

    /// Completion instant of the last recorded operation.
    #[must_use]
    pub const fn last_completion(&self) -> Option<Instant> {
        self.last_completion
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_operations_are_excluded() {
        let t0 = Instant::now();
        let start = t0 + Duration::from_millis(100);
        let mut r = Recorder::new(start, &[OpKind::Read]);
        r.record(OpKind::Read, t0, t0 + Duration::from_millis(50), 4096);
        assert_eq!(r.ramp_ops(), 1);
        assert_eq!(r.ramp_bytes(), (4096, 0));
        assert_eq!(r.counters(OpKind::Read).ops, 0);
        r.record(OpKind::Read, start, start + Duration::from_micros(10), 4096);
        r.record(
            OpKind::Read,
            start,
            start + Duration::from_millis(1500),
            4096,
        );
        let c = r.counters(OpKind::Read);
        assert_eq!((c.ops, c.bytes), (2, 8192));
        let h = r.histogram(OpKind::Read).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(r.series().len(), 2);
        assert_eq!(r.series()[1].read_ops, 1);
        assert_eq!(r.busy_window(), Duration::from_millis(1500));
    }

    #[test]
    fn merge_adds_everything() {
        let start = Instant::now();
        let mut a = Recorder::new(start, &[OpKind::Write]);
        let mut b = Recorder::new(start, &[OpKind::Write, OpKind::Fsync]);
        for i in 0..100u64 {
            a.record(
                OpKind::Write,
                start,
                start + Duration::from_nanos(1000 + i),
                512,
            );
            b.record(OpKind::Write, start, start + Duration::from_secs(2), 512);
        }
        b.record(OpKind::Fsync, start, start + Duration::from_micros(5), 0);
        b.record_error("ENOSPC");
        a.record_error("ENOSPC");
        a.merge(&b);
        assert_eq!(a.counters(OpKind::Write).ops, 200);
        assert_eq!(a.histogram(OpKind::Write).unwrap().len(), 200);
        assert_eq!(a.histogram(OpKind::Fsync).unwrap().len(), 1);
        assert_eq!(a.errors()["ENOSPC"], 2);
        assert_eq!(a.series().len(), 3);
        assert_eq!(a.series()[0].write_ops + a.series()[2].write_ops, 200);
        let kinds: Vec<OpKind> = a.kinds().collect();
        assert_eq!(kinds, vec![OpKind::Write, OpKind::Fsync]);
    }
}
