//! The `nfs` section of a result (`nfs://` targets): where the run went, the client
//! parameters requested and used, the server's FSINFO, and the RPC view of the measured
//! phase. The NFSv3 backend fills it ([`crate::backend::nfs`]); the result document, the
//! cache-honesty check ([`super::wire`]) and the harness read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Client parameters in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveOptions {
    /// Bytes per READ.
    pub rsize: u32,
    /// Bytes per WRITE.
    pub wsize: u32,
    /// TCP connections.
    pub nconnect: u32,
    /// Requests in flight per connection at most.
    pub max_inflight: u32,
    /// `hard`, `soft` or `softerr`.
    pub retry: RetryMode,
    /// Retransmission timeout, deciseconds.
    pub timeo: u64,
    /// Retransmissions before a soft call fails.
    pub retrans: u32,
    /// Attribute and name caching.
    pub attr_cache: bool,
    /// File attribute lifetime, seconds.
    pub acregmin: u64,
    /// Directory attribute lifetime, seconds.
    pub acdirmin: u64,
    /// READDIRPLUS for listings.
    pub rdirplus: bool,
    /// WRITE stability.
    pub stable: Stability,
    /// AUTH_SYS uid.
    pub uid: u32,
    /// AUTH_SYS gid.
    pub gid: u32,
    /// Privileged source ports.
    pub resvport: bool,
    /// Uncommitted bytes per worker before a COMMIT.
    pub dirty_limit: u64,
}

impl EffectiveOptions {
    /// In `mount -o` syntax.
    #[must_use]
    pub fn to_mount_options(&self) -> String {
        format!(
            "vers=3,proto=tcp,rsize={},wsize={},nconnect={},max_inflight={},{},timeo={},retrans={},{},acregmin={},acdirmin={},{},stable={},uid={},gid={},{}",
            self.rsize,
            self.wsize,
            self.nconnect,
            self.max_inflight,
            self.retry.name(),
            self.timeo,
            self.retrans,
            if self.attr_cache { "ac" } else { "noac" },
            self.acregmin,
            self.acdirmin,
            if self.rdirplus {
                "rdirplus"
            } else {
                "nordirplus"
            },
            self.stable.name(),
            self.uid,
            self.gid,
            if self.resvport {
                "resvport"
            } else {
                "noresvport"
            },
        )
    }
}

/// The server's FSINFO reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsInfo {
    /// Largest READ.
    pub rtmax: u32,
    /// Preferred READ.
    pub rtpref: u32,
    /// Largest WRITE.
    pub wtmax: u32,
    /// Preferred WRITE.
    pub wtpref: u32,
    /// Preferred READDIR.
    pub dtpref: u32,
    /// Largest file size.
    pub maxfilesize: u64,
}

/// Where an NFS run went and how the protocol saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NfsSection {
    /// Server as given in the URL.
    pub server: String,
    /// NFS service address used.
    pub address: String,
    /// MOUNT port used.
    pub mount_port: u16,
    /// `portmapper`, `explicit` or `mixed`.
    pub ports: PortSource,
    /// The export mounted.
    pub export: String,
    /// The directory the run used.
    pub path: String,
    /// Options as given (URL query and `--nfs-options`), in `mount -o` syntax.
    pub options_requested: String,
    /// Every value in effect, in `mount -o` syntax.
    pub options_effective: String,
    /// The same, as fields.
    pub effective: EffectiveOptions,
    /// Requested values the client or server changed (`rsize 4194304 -> 1048576 ...`).
    pub differences: Vec<String>,
    /// Options accepted without effect at protocol level.
    pub ignored: Vec<String>,
    /// The server's limits.
    pub fsinfo: FsInfo,
    /// RPCs of the measured phase; `null` when it did not run.
    pub rpc: Option<RpcReport>,
}

/// The summary lines of an NFS section (for the human summary on stderr).
#[must_use]
pub(crate) fn summary_lines(section: &NfsSection) -> String {
    let mut out = format!(
        "  nfs: {} export {} ({})\n",
        section.address, section.export, section.options_effective
    );
    if let Some(rpc) = &section.rpc {
        let event = |name: &str| rpc.events.get(name).copied().unwrap_or(0);
        out.push_str(&format!(
            "  rpc: {} calls, {} retransmissions, {} reconnects, {} write verifier changes, avg rtt {:.3} ms\n",
            rpc.totals.calls,
            rpc.totals.retransmissions,
            event("reconnects"),
            event("write_verifier_changes"),
            rpc.totals.avg_rtt_ms
        ));
    }
    out
}

/// How a call that gets no reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    /// Retry until the server answers (reconnecting with capped exponential backoff).
    Hard,
    /// Fail after `timeo` x (`retrans` + 1) with EIO.
    Soft,
    /// Fail after `timeo` x (`retrans` + 1) with ETIMEDOUT.
    Softerr,
}

impl RetryMode {
    /// The mount option naming the mode.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            RetryMode::Hard => "hard",
            RetryMode::Soft => "soft",
            RetryMode::Softerr => "softerr",
        }
    }
}

/// WRITE stability requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stability {
    /// UNSTABLE writes, then COMMIT (checking the write verifier) at fsync points.
    Unstable,
    /// DATA_SYNC writes.
    DataSync,
    /// FILE_SYNC writes (like the `sync` mount option).
    FileSync,
}

impl Stability {
    /// The option value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Stability::Unstable => "unstable",
            Stability::DataSync => "data_sync",
            Stability::FileSync => "file_sync",
        }
    }
}

/// Where the ports came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSource {
    /// Both asked from the portmapper.
    Portmapper,
    /// Both given.
    Explicit,
    /// One given, one asked.
    Mixed,
}

/// One procedure over an interval, as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcReport {
    /// Replies received.
    pub calls: u64,
    /// Replies with an NFS status other than OK.
    pub errors: u64,
    /// Requests sent, retransmissions included.
    pub transmissions: u64,
    /// Requests sent again (after a timeout or a lost connection).
    pub retransmissions: u64,
    /// Transmissions that got no reply in time.
    pub timeouts: u64,
    /// Bytes sent (record marks included).
    pub bytes_sent: u64,
    /// Bytes received (record marks included).
    pub bytes_received: u64,
    /// Mean time from transmission to reply, ms.
    pub avg_rtt_ms: f64,
    /// Mean time from the call's start to its end, ms (slot waits and retries included).
    pub avg_exe_ms: f64,
}

impl ProcReport {
    /// Requests made: transmissions less retransmissions.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.transmissions.saturating_sub(self.retransmissions)
    }
}

/// The RPC section of a result: the measured phase's calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RpcReport {
    /// Per procedure (`READ`, `WRITE`, `COMMIT`, `LOOKUP`...), procedures with traffic only.
    pub procedures: BTreeMap<String, ProcReport>,
    /// Every procedure together.
    pub totals: ProcReport,
    /// Client events: `reconnects`, `connect_failures`, `major_timeouts`, `late_replies`,
    /// `write_verifier_changes`, `writes_redone`, `jukebox_retries`, `soft_failures`.
    pub events: BTreeMap<String, u64>,
    /// Most requests in flight at once, per connection.
    pub max_in_flight_per_connection: Vec<u64>,
}
