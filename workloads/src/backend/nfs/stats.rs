//! The protocol's own view of a run: per-procedure RPC counters, in place of the kernel's
//! `/proc/self/mountstats`.
//!
//! [`RpcStats`] is shared by every connection and worker and updated with relaxed atomics
//! on each call. [`RpcStats::snapshot`] copies the counters; the difference of two
//! snapshots ([`RpcSnapshot::since`]) is what the result's `nfs.rpc` section reports for the
//! measured phase: per procedure `calls` (replies received), `errors` (NFS status other than
//! OK), `transmissions`, `retransmissions`, `timeouts`, bytes each way, average round trip
//! (transmission to reply) and average execution time (from the call's start, waiting for
//! a slot and reconnects included, to its end), plus client-wide events: reconnects,
//! write verifier changes and the writes redone because of them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::result::nfs::{ProcReport, RpcReport};

/// Counters of one procedure.
#[derive(Debug, Default)]
pub(crate) struct ProcCounters {
    calls: AtomicU64,
    errors: AtomicU64,
    transmissions: AtomicU64,
    retransmissions: AtomicU64,
    timeouts: AtomicU64,
    rtt_ns: AtomicU64,
    exec_ns: AtomicU64,
    ends: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

fn add(counter: &AtomicU64, value: u64) {
    counter.fetch_add(value, Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Client-wide events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A connection was established again after it broke.
    Reconnect,
    /// A connection attempt failed.
    ConnectFailure,
    /// A call got no reply through `retrans` + 1 transmissions.
    MajorTimeout,
    /// A reply arrived for a call that had stopped waiting.
    LateReply,
    /// A COMMIT returned another write verifier than the writes it covers.
    VerifierChange,
    /// A write resent because the verifier changed.
    Rewrite,
    /// NFS3ERR_JUKEBOX: the call was repeated after a delay.
    JukeboxRetry,
    /// A soft call failed for lack of a reply.
    SoftFailure,
}

impl Event {
    const ALL: [Event; 8] = [
        Event::Reconnect,
        Event::ConnectFailure,
        Event::MajorTimeout,
        Event::LateReply,
        Event::VerifierChange,
        Event::Rewrite,
        Event::JukeboxRetry,
        Event::SoftFailure,
    ];

    const fn index(self) -> usize {
        self as usize
    }

    /// Name in the result.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Event::Reconnect => "reconnects",
            Event::ConnectFailure => "connect_failures",
            Event::MajorTimeout => "major_timeouts",
            Event::LateReply => "late_replies",
            Event::VerifierChange => "write_verifier_changes",
            Event::Rewrite => "writes_redone",
            Event::JukeboxRetry => "jukebox_retries",
            Event::SoftFailure => "soft_failures",
        }
    }
}

/// Live counters of one RPC program over all connections.
#[derive(Debug)]
pub struct RpcStats {
    names: Vec<String>,
    procs: Vec<ProcCounters>,
    events: [AtomicU64; Event::ALL.len()],
    in_flight: Vec<AtomicU64>,
    max_in_flight: Vec<AtomicU64>,
}

impl RpcStats {
    /// Counters for procedures `0..names.len()` over `connections` connections.
    #[must_use]
    pub fn new(names: Vec<String>, connections: usize) -> RpcStats {
        RpcStats {
            procs: names.iter().map(|_| ProcCounters::default()).collect(),
            names,
            events: Default::default(),
            in_flight: (0..connections).map(|_| AtomicU64::new(0)).collect(),
            max_in_flight: (0..connections).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The NFSv3 program's counters, procedure names from `nfs3_types`.
    #[must_use]
    pub fn nfs3(connections: usize) -> RpcStats {
        let names = (0u32..=21)
            .map(|p| {
                nfs3_types::nfs3::NFS_PROGRAM::try_from(p).map_or_else(
                    |_| format!("PROC{p}"),
                    |n| n.to_string().trim_start_matches("NFSPROC3_").to_owned(),
                )
            })
            .collect();
        RpcStats::new(names, connections)
    }

    fn proc(&self, proc: u32) -> Option<&ProcCounters> {
        self.procs.get(proc as usize)
    }

    /// A request went out (`retransmission`: not its first time).
    pub fn transmitted(&self, proc: u32, bytes: usize, retransmission: bool) {
        if let Some(p) = self.proc(proc) {
            add(&p.transmissions, 1);
            add(&p.bytes_sent, bytes as u64);
            if retransmission {
                add(&p.retransmissions, 1);
            }
        }
    }

    /// A reply came back after `rtt` (since its transmission).
    pub fn replied(&self, proc: u32, bytes: usize, rtt: Duration) {
        if let Some(p) = self.proc(proc) {
            add(&p.calls, 1);
            add(&p.bytes_received, bytes as u64);
            add(&p.rtt_ns, nanos(rtt));
        }
    }

    /// A call ended (successfully or not) `exec` after it started.
    pub fn finished(&self, proc: u32, exec: Duration) {
        if let Some(p) = self.proc(proc) {
            add(&p.exec_ns, nanos(exec));
            add(&p.ends, 1);
        }
    }

    /// A transmission got no reply within its timeout.
    pub fn timed_out(&self, proc: u32) {
        if let Some(p) = self.proc(proc) {
            add(&p.timeouts, 1);
        }
    }

    /// The reply carried an error status.
    pub fn status_error(&self, proc: u32) {
        if let Some(p) = self.proc(proc) {
            add(&p.errors, 1);
        }
    }

    /// Counts an event.
    pub fn event(&self, event: Event) {
        add(&self.events[event.index()], 1);
    }

    /// A request entered connection `conn`; tracks the most in flight at once.
    pub fn enter(&self, conn: usize) {
        if let (Some(now), Some(max)) = (self.in_flight.get(conn), self.max_in_flight.get(conn)) {
            let n = now.fetch_add(1, Ordering::Relaxed) + 1;
            max.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// A request left connection `conn`.
    pub fn leave(&self, conn: usize) {
        if let Some(now) = self.in_flight.get(conn) {
            now.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Copies the counters and starts a new interval for the in-flight maxima.
    pub fn snapshot(&self) -> RpcSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RpcSnapshot {
            procs: self
                .names
                .iter()
                .zip(&self.procs)
                .map(|(name, p)| {
                    (
                        name.clone(),
                        ProcSnapshot {
                            calls: load(&p.calls),
                            errors: load(&p.errors),
                            transmissions: load(&p.transmissions),
                            retransmissions: load(&p.retransmissions),
                            timeouts: load(&p.timeouts),
                            rtt_ns: load(&p.rtt_ns),
                            exec_ns: load(&p.exec_ns),
                            ends: load(&p.ends),
                            bytes_sent: load(&p.bytes_sent),
                            bytes_received: load(&p.bytes_received),
                        },
                    )
                })
                .collect(),
            events: Event::ALL
                .iter()
                .map(|e| (e.name().to_owned(), load(&self.events[e.index()])))
                .collect(),
            max_in_flight: self
                .max_in_flight
                .iter()
                .zip(&self.in_flight)
                .map(|(max, now)| max.swap(now.load(Ordering::Relaxed), Ordering::Relaxed))
                .collect(),
        }
    }
}

/// Plain copy of one procedure's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProcSnapshot {
    calls: u64,
    errors: u64,
    transmissions: u64,
    retransmissions: u64,
    timeouts: u64,
    rtt_ns: u64,
    exec_ns: u64,
    ends: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

/// Plain copy of all counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcSnapshot {
    procs: BTreeMap<String, ProcSnapshot>,
    events: BTreeMap<String, u64>,
    max_in_flight: Vec<u64>,
}

fn avg_ms(sum_ns: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        sum_ns as f64 / count as f64 / 1e6
    }
}

impl ProcSnapshot {
    fn minus(&self, before: &ProcSnapshot) -> ProcSnapshot {
        ProcSnapshot {
            calls: self.calls.saturating_sub(before.calls),
            errors: self.errors.saturating_sub(before.errors),
            transmissions: self.transmissions.saturating_sub(before.transmissions),
            retransmissions: self.retransmissions.saturating_sub(before.retransmissions),
            timeouts: self.timeouts.saturating_sub(before.timeouts),
            rtt_ns: self.rtt_ns.saturating_sub(before.rtt_ns),
            exec_ns: self.exec_ns.saturating_sub(before.exec_ns),
            ends: self.ends.saturating_sub(before.ends),
            bytes_sent: self.bytes_sent.saturating_sub(before.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(before.bytes_received),
        }
    }

    fn add(&mut self, other: &ProcSnapshot) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.transmissions += other.transmissions;
        self.retransmissions += other.retransmissions;
        self.timeouts += other.timeouts;
        self.rtt_ns += other.rtt_ns;
        self.exec_ns += other.exec_ns;
        self.ends += other.ends;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
    }

    fn report(&self) -> ProcReport {
        ProcReport {
            calls: self.calls,
            errors: self.errors,
            transmissions: self.transmissions,
            retransmissions: self.retransmissions,
            timeouts: self.timeouts,
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            avg_rtt_ms: avg_ms(self.rtt_ns, self.calls),
            avg_exe_ms: avg_ms(self.exec_ns, self.ends),
        }
    }
}

impl RpcSnapshot {
    /// What happened between `before` and this snapshot.
    #[must_use]
    pub fn since(&self, before: &RpcSnapshot) -> RpcReport {
        let mut totals = ProcSnapshot::default();
        let mut procedures = BTreeMap::new();
        for (name, now) in &self.procs {
            let delta = now.minus(before.procs.get(name).unwrap_or(&ProcSnapshot::default()));
            if delta.transmissions == 0 && delta.calls == 0 && delta.ends == 0 {
                continue;
            }
            totals.add(&delta);
            procedures.insert(name.clone(), delta.report());
        }
        RpcReport {
            procedures,
            totals: totals.report(),
            events: self
                .events
                .iter()
                .map(|(name, now)| {
                    let was = before.events.get(name).copied().unwrap_or(0);
                    (name.clone(), now.saturating_sub(was))
                })
                .collect(),
            max_in_flight_per_connection: self.max_in_flight.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_cover_the_interval_only() {
        let stats = RpcStats::nfs3(2);
        stats.transmitted(7, 1000, false);
        stats.replied(7, 100, Duration::from_millis(2));
        stats.finished(7, Duration::from_millis(3));
        let before = stats.snapshot();
        for _ in 0..3 {
            stats.enter(1);
        }
        for _ in 0..3 {
            stats.leave(1);
        }
        stats.transmitted(7, 1000, false);
        stats.transmitted(7, 1000, true);
        stats.timed_out(7);
        stats.replied(7, 100, Duration::from_millis(4));
        stats.finished(7, Duration::from_millis(10));
        stats.transmitted(21, 50, false);
        stats.replied(21, 60, Duration::from_millis(1));
        stats.finished(21, Duration::from_millis(1));
        stats.status_error(21);
        stats.event(Event::Reconnect);
        let report = stats.snapshot().since(&before);
        let write = &report.procedures["WRITE"];
        assert_eq!(
            (
                write.calls,
                write.transmissions,
                write.retransmissions,
                write.timeouts
            ),
            (1, 2, 1, 1)
        );
        assert_eq!(write.bytes_sent, 2000);
        assert!((write.avg_rtt_ms - 4.0).abs() < 1e-9);
        assert!((write.avg_exe_ms - 10.0).abs() < 1e-9);
        let commit = &report.procedures["COMMIT"];
        assert_eq!((commit.calls, commit.errors), (1, 1));
        assert!(
            !report.procedures.contains_key("READ"),
            "idle procedures are left out"
        );
        assert_eq!(report.totals.calls, 2);
        assert_eq!(report.totals.retransmissions, 1);
        assert_eq!(report.events["reconnects"], 1);
        assert_eq!(report.events["write_verifier_changes"], 0);
        assert_eq!(report.max_in_flight_per_connection, vec![0, 3]);
    }
}
