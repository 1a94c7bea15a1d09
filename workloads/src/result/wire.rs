//! Cache honesty: the bytes the application moved against the bytes that crossed the wire.
//!
//! A benchmark that re-reads data the NFS client still caches measures RAM, and buffered
//! writes that are still dirty in the client when the run ends never reached the server:
//! the most common way NFS figures lie. Every run on an NFS mount compares what the job read
//! and wrote (ramp included, as the kernel counts it) with the payload bytes the kernel's
//! client exchanged with the server (`bytes:` line of `/proc/self/mountstats`: `server_read`
//! and `server_write`, before and after the measured phase); runs of the user-space NFSv3
//! client compare with its own READ and WRITE traffic (RPC headers included, so ratios sit
//! slightly above 1). A [`WireSection`] holds both figures, their ratio and a [`Finding`]
//! for each direction where a meaningful share ([`MEANINGFUL_SHARE`]) is missing, with the
//! likely cause (buffered IO, a data set smaller than the client's memory, `nocto`,
//! `actimeo`, rewrites absorbed by the cache, writes left unstable).
//!
//! The harness sums sections over pods and repetitions with [`merge`] and decides again.

use serde::{Deserialize, Serialize};

use super::RunResult;
use super::nfs::{NfsSection, Stability};
use crate::job::FsyncPolicy;
use crate::mount::MountStatsDelta;
use crate::units::format_size;

/// Share of the application's bytes that may be missing on the wire before a cell is
/// flagged (10%: read-ahead, attribute traffic and rounding stay below it).
pub const MEANINGFUL_SHARE: f64 = 0.10;

/// Where the wire figures come from.
pub(crate) const SOURCE_MOUNTSTATS: &str = "mountstats";
/// The user-space client's own counters.
pub(crate) const SOURCE_CLIENT: &str = "client";

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Reads the server never saw (served by a client cache).
    ReadsCached,
    /// Writes that had not reached the server when the run ended.
    WritesNotSent,
    /// Writes sent UNSTABLE and never committed: the server may hold them in memory only.
    WritesUncommitted,
}

/// One direction of a run whose figures the wire does not back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// Share of the application's bytes missing on the wire (0-1).
    pub share: f64,
    /// The finding and its likely cause, in one sentence.
    pub message: String,
}

/// What decides the likely cause of a finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireContext {
    /// Whether O_DIRECT (or the protocol client's no-cache IO) was used.
    pub direct: bool,
    /// The job's fsync policy (`none`, `end`, N).
    pub fsync: String,
    /// Whether the job rewrites blocks (random writes or several passes over its files).
    pub rewrites: bool,
    /// Bytes of the files one client works on (threads x nrfiles x size).
    pub data_set_bytes: u64,
    /// The client's memory (`MemTotal`), when known.
    pub client_memory_bytes: Option<u64>,
    /// Cache-related mount options in effect (`nocto`, `actimeo=`, `noac`, `fsc`...).
    pub cache_options: Vec<String>,
    /// Protocol client: writes were UNSTABLE and no COMMIT was sent.
    pub uncommitted: bool,
}

/// Application bytes against wire bytes for a run (or a cell, summed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireSection {
    /// `mountstats` (the kernel client) or `client` (the user-space NFSv3 client).
    pub source: String,
    /// Bytes the job read (ramp included).
    pub app_read_bytes: u64,
    /// Bytes the job wrote (ramp included).
    pub app_write_bytes: u64,
    /// Bytes read from the server.
    pub wire_read_bytes: u64,
    /// Bytes written to the server.
    pub wire_write_bytes: u64,
    /// `wire_read_bytes / app_read_bytes`; `null` without reads.
    pub read_ratio: Option<f64>,
    /// `wire_write_bytes / app_write_bytes`; `null` without writes.
    pub write_ratio: Option<f64>,
    /// What decides the likely causes.
    pub context: WireContext,
    /// Directions the wire does not back, with the likely cause; empty when honest.
    pub findings: Vec<Finding>,
}

impl WireSection {
    /// Assesses application against wire bytes.
    #[must_use]
    pub fn assess(
        source: &str,
        (app_read, app_write): (u64, u64),
        (wire_read, wire_write): (u64, u64),
        context: WireContext,
    ) -> WireSection {
        let ratio = |wire: u64, app: u64| (app > 0).then(|| wire as f64 / app as f64);
        let mut section = WireSection {
            source: source.to_owned(),
            app_read_bytes: app_read,
            app_write_bytes: app_write,
            wire_read_bytes: wire_read,
            wire_write_bytes: wire_write,
            read_ratio: ratio(wire_read, app_read),
            write_ratio: ratio(wire_write, app_write),
            context,
            findings: Vec::new(),
        };
        section.findings = findings(&section);
        section
    }

    /// Whether any direction is flagged.
    #[must_use]
    pub fn flagged(&self) -> bool {
        !self.findings.is_empty()
    }
}

fn missing_share(ratio: Option<f64>) -> Option<f64> {
    ratio
        .map(|r| 1.0 - r)
        .filter(|share| *share > MEANINGFUL_SHARE)
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn findings(s: &WireSection) -> Vec<Finding> {
    let c = &s.context;
    let mut out = Vec::new();
    if let Some(share) = missing_share(s.read_ratio) {
        let mut causes = Vec::new();
        if !c.direct {
            causes.push("buffered IO: the client's page cache served them".to_owned());
            match c.client_memory_bytes {
                Some(mem) if c.data_set_bytes < mem => causes.push(format!(
                    "the data set ({}) is smaller than the client's memory ({}), so it stays cached between passes",
                    format_size(c.data_set_bytes),
                    format_size(mem)
                )),
                _ => {}
            }
        }
        for o in &c.cache_options {
            if o == "nocto" {
                causes.push("`nocto`: files are not revalidated when opened".to_owned());
            } else if ["actimeo=", "acregmin=", "acregmax="]
                .iter()
                .any(|k| o.starts_with(k))
            {
                causes.push(format!(
                    "`{o}`: cached attributes, and so cached data, are trusted longer"
                ));
            } else if o == "fsc" {
                causes.push("`fsc`: FS-Cache keeps file data on a local disk".to_owned());
            }
        }
        if causes.is_empty() {
            causes.push(
                "reads were answered without the server although O_DIRECT was used (a local cache in between?)"
                    .to_owned(),
            );
        }
        out.push(Finding {
            kind: FindingKind::ReadsCached,
            share,
            message: format!(
                "{} of the bytes read never reached the server ({} of {}): likely {}",
                percent(share),
                format_size(s.wire_read_bytes),
                format_size(s.app_read_bytes),
                causes.join("; ")
            ),
        });
    }
    if let Some(share) = missing_share(s.write_ratio) {
        let mut causes = Vec::new();
        if !c.direct && c.fsync == "none" {
            causes.push(
                "`fsync: none` with buffered IO: dirty pages were still in the client's cache when the run ended"
                    .to_owned(),
            );
        } else if !c.direct {
            causes.push("buffered writes the client had not sent yet".to_owned());
        }
        if !c.direct && c.rewrites {
            causes
                .push("blocks rewritten while still dirty in the cache were sent once".to_owned());
        }
        if causes.is_empty() {
            causes.push("writes were acknowledged without reaching the server".to_owned());
        }
        out.push(Finding {
            kind: FindingKind::WritesNotSent,
            share,
            message: format!(
                "{} of the bytes written were not on the server at the end ({} of {}): likely {}",
                percent(share),
                format_size(s.wire_write_bytes),
                format_size(s.app_write_bytes),
                causes.join("; ")
            ),
        });
    }
    if c.uncommitted && s.app_write_bytes > 0 {
        out.push(Finding {
            kind: FindingKind::WritesUncommitted,
            share: 1.0,
            message: "writes were sent UNSTABLE and never committed (`fsync: none`): the server may hold them in memory only".to_owned(),
        });
    }
    out
}

/// Bytes the job read and wrote, the ramp included (the kernel and the client count it).
#[must_use]
pub(crate) fn app_bytes(r: &RunResult) -> (u64, u64) {
    let bytes = |kind: &str| r.ops.get(kind).map_or(0, |s| s.bytes);
    (
        bytes("read") + r.totals.ramp_read_bytes,
        bytes("write") + r.totals.ramp_write_bytes,
    )
}

/// Options among mount options that let the client trust its cache longer than the
/// defaults (`nocto`, `fsc`, and `actimeo`/`acregmin` above the kernel's 3 s or `acregmax`
/// above its 60 s; `actimeo=0` turns attribute caching off and is not one of them).
#[must_use]
pub(crate) fn cache_options<'a>(options: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    options
        .into_iter()
        .filter(|o| {
            let (key, value) = o.split_once('=').unwrap_or((o.as_str(), ""));
            let above = |default: u64| value.parse::<u64>().is_ok_and(|v| v > default);
            match key {
                "nocto" | "fsc" => true,
                "actimeo" | "acregmin" => above(3),
                "acregmax" => above(60),
                _ => false,
            }
        })
        .cloned()
        .collect()
}

fn context(r: &RunResult, client_memory: Option<u64>) -> WireContext {
    let job = &r.effective.job;
    let data_set = job
        .size
        .saturating_mul(u64::from(job.nrfiles))
        .saturating_mul(u64::from(job.threads));
    let passes_more_than_once = job
        .io_limit
        .is_none_or(|bytes| bytes > job.size.saturating_mul(u64::from(job.nrfiles)));
    WireContext {
        direct: r.effective.direct_used,
        fsync: job.fsync.to_string(),
        rewrites: job.pattern.writes() && (job.pattern.random() || passes_more_than_once),
        data_set_bytes: data_set,
        client_memory_bytes: client_memory,
        cache_options: Vec::new(),
        uncommitted: false,
    }
}

/// The section of a run on a kernel NFS mount from its mountstats delta.
#[must_use]
pub fn from_mountstats(
    r: &RunResult,
    delta: &MountStatsDelta,
    options: &[String],
    client_memory: Option<u64>,
) -> WireSection {
    // The `bytes:` line counts payload; kernels without it leave zeros, and the per-op
    // rows (RPC headers included) stand in.
    let op_bytes = |name: &str, sent: bool| {
        delta.ops.get(name).map_or(0, |o| {
            if sent {
                o.counters.bytes_sent
            } else {
                o.counters.bytes_received
            }
        })
    };
    let read = match delta.bytes.server_read {
        0 => op_bytes("READ", false),
        n => n,
    };
    let write = match delta.bytes.server_write {
        0 => op_bytes("WRITE", true),
        n => n,
    };
    let mut ctx = context(r, client_memory);
    ctx.cache_options = cache_options(options);
    WireSection::assess(SOURCE_MOUNTSTATS, app_bytes(r), (read, write), ctx)
}

/// The section of a run of the user-space NFSv3 client from its own RPC counters.
#[must_use]
pub(crate) fn from_client(r: &RunResult, nfs: &NfsSection) -> Option<WireSection> {
    let rpc = nfs.rpc.as_ref()?;
    let proc_bytes = |name: &str, sent: bool| {
        rpc.procedures
            .get(name)
            .map_or(0, |p| if sent { p.bytes_sent } else { p.bytes_received })
    };
    let mut ctx = context(r, None);
    let commits = rpc.procedures.get("COMMIT").map_or(0, |p| p.calls);
    ctx.uncommitted = nfs.effective.stable == Stability::Unstable
        && r.effective.job.fsync == FsyncPolicy::None
        && commits == 0;
    Some(WireSection::assess(
        SOURCE_CLIENT,
        app_bytes(r),
        (proc_bytes("READ", false), proc_bytes("WRITE", true)),
        ctx,
    ))
}

/// The wire section of a finished run: from the kernel's counters on an NFS mount, from the
/// client's own on `nfs://` targets; `None` elsewhere (local filesystems have no wire).
#[must_use]
pub(crate) fn of_result(r: &RunResult, client_memory: Option<u64>) -> Option<WireSection> {
    if let Some(nfs) = &r.nfs {
        return from_client(r, nfs);
    }
    let m = r.mount.as_ref().filter(|m| m.mount.is_nfs())?;
    let delta = m.mountstats_delta.as_ref()?;
    let options: Vec<String> = m
        .mount
        .mount_options
        .iter()
        .chain(&m.mount.super_options)
        .cloned()
        .collect();
    Some(from_mountstats(r, delta, &options, client_memory))
}

/// Sections of several runs (pods, repetitions) summed and assessed again; the context of
/// the first, with `direct` only when every run was direct.
#[must_use]
pub fn merge(sections: &[&WireSection]) -> Option<WireSection> {
    let first = sections.first()?;
    let sum = |f: fn(&WireSection) -> u64| sections.iter().map(|s| f(s)).sum::<u64>();
    let mut ctx = first.context.clone();
    ctx.direct = sections.iter().all(|s| s.context.direct);
    ctx.uncommitted = sections.iter().any(|s| s.context.uncommitted);
    Some(WireSection::assess(
        &first.source,
        (sum(|s| s.app_read_bytes), sum(|s| s.app_write_bytes)),
        (sum(|s| s.wire_read_bytes), sum(|s| s.wire_write_bytes)),
        ctx,
    ))
}

/// The client's memory from `/proc/meminfo` (`MemTotal`), when readable.
#[must_use]
pub fn client_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(direct: bool, fsync: &str) -> WireContext {
        WireContext {
            direct,
            fsync: fsync.to_owned(),
            rewrites: false,
            data_set_bytes: 1 << 20,
            client_memory_bytes: Some(8 << 30),
            cache_options: Vec::new(),
            uncommitted: false,
        }
    }

    #[test]
    fn a_meaningful_share_missing_is_flagged_with_its_cause() {
        let s = WireSection::assess(
            SOURCE_MOUNTSTATS,
            (8 << 20, 0),
            (1 << 20, 0),
            ctx(false, "none"),
        );
        assert_eq!(s.read_ratio, Some(0.125));
        assert_eq!(s.write_ratio, None);
        assert_eq!(s.findings.len(), 1);
        let f = &s.findings[0];
        assert_eq!(f.kind, FindingKind::ReadsCached);
        assert!((f.share - 0.875).abs() < 1e-12);
        assert!(
            f.message
                .starts_with("88% of the bytes read never reached the server (1m of 8m)"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("buffered IO")
                && f.message.contains("smaller than the client's memory"),
            "{}",
            f.message
        );
        // Read-ahead or RPC headers (more on the wire) and small gaps are not findings.
        let s = WireSection::assess(SOURCE_MOUNTSTATS, (100, 100), (130, 95), ctx(true, "end"));
        assert!(!s.flagged(), "{s:?}");
    }

    #[test]
    fn unsent_and_uncommitted_writes_are_flagged() {
        let mut c = ctx(false, "none");
        c.rewrites = true;
        let s = WireSection::assess(SOURCE_MOUNTSTATS, (0, 100 << 20), (0, 30 << 20), c);
        let f = &s.findings[0];
        assert_eq!(f.kind, FindingKind::WritesNotSent);
        assert!(
            f.message.contains("`fsync: none`") && f.message.contains("rewritten"),
            "{}",
            f.message
        );
        let mut c = ctx(true, "none");
        c.uncommitted = true;
        let s = WireSection::assess(SOURCE_CLIENT, (0, 100), (0, 104), c);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(s.findings[0].kind, FindingKind::WritesUncommitted);
        let mut c = ctx(false, "end");
        c.cache_options = cache_options(&[
            "rw".to_owned(),
            "nocto".to_owned(),
            "actimeo=600".to_owned(),
        ]);
        assert_eq!(c.cache_options, ["nocto", "actimeo=600"]);
        // Options that cache less, or only name lookups, are no cause.
        let less = [
            "actimeo=0",
            "acregmin=1",
            "acregmax=30",
            "lookupcache=none",
            "noac",
        ]
        .map(str::to_owned);
        assert!(
            cache_options(&less).is_empty(),
            "{:?}",
            cache_options(&less)
        );
        assert_eq!(
            cache_options(&["acregmin=10".to_owned(), "acregmax=120".to_owned()]),
            ["acregmin=10", "acregmax=120"]
        );
        let s = WireSection::assess(SOURCE_MOUNTSTATS, (100, 0), (0, 0), c);
        assert!(
            s.findings[0].message.contains("`nocto`")
                && s.findings[0].message.contains("`actimeo=600`")
        );
    }

    #[test]
    fn merged_sections_decide_on_the_sums() {
        let honest = WireSection::assess(SOURCE_MOUNTSTATS, (100, 0), (100, 0), ctx(true, "none"));
        let cached = WireSection::assess(SOURCE_MOUNTSTATS, (100, 0), (0, 0), ctx(false, "none"));
        let m = merge(&[&honest, &cached]).unwrap();
        assert_eq!((m.app_read_bytes, m.wire_read_bytes), (200, 100));
        assert!(!m.context.direct);
        assert_eq!(m.findings[0].kind, FindingKind::ReadsCached);
        assert!(merge(&[]).is_none());
        assert!(client_memory().is_some_and(|m| m > 0));
    }
}
