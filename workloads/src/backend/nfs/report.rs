//! The `nfs` section of a result: where the run went, the client parameters requested
//! and used, the server's FSINFO, and the RPC view of the measured phase.

use serde::{Deserialize, Serialize};

use super::options::{NfsOptions, RetryMode, Stability};
use super::setup::PortSource;
use super::stats::RpcReport;

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
    /// The effective values of `options` with the negotiated sizes and credentials.
    #[must_use]
    pub fn new(
        options: &NfsOptions,
        rsize: u32,
        wsize: u32,
        creds: (u32, u32),
    ) -> EffectiveOptions {
        EffectiveOptions {
            rsize,
            wsize,
            nconnect: options.nconnect,
            max_inflight: options.max_inflight,
            retry: options.retry,
            timeo: u64::try_from(options.timeo.as_millis() / 100).unwrap_or(u64::MAX),
            retrans: options.retrans,
            attr_cache: options.attr_cache,
            acregmin: options.acregmin.as_secs(),
            acdirmin: options.acdirmin.as_secs(),
            rdirplus: options.rdirplus,
            stable: options.stable,
            uid: creds.0,
            gid: creds.1,
            resvport: options.resvport,
            dirty_limit: options.dirty_limit,
        }
    }

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
pub fn summary_lines(section: &NfsSection) -> String {
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

/// Requested sizes the negotiation changed, described for people.
#[must_use]
pub fn differences(
    options: &NfsOptions,
    effective: &EffectiveOptions,
    fsinfo: &FsInfo,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, asked, used, server) in [
        ("rsize", options.rsize, effective.rsize, fsinfo.rtmax),
        ("wsize", options.wsize, effective.wsize, fsinfo.wtmax),
    ] {
        if let Some(asked) = asked
            && asked != used
        {
            out.push(format!(
                "{name}={asked} requested, {used} used (server maximum {server}, client maximum {}, multiples of 4096)",
                super::options::CLIENT_MAX_IO
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_requested_and_used() {
        let mut o = NfsOptions::default();
        o.apply_mount_options("rsize=4194304,wsize=65536").unwrap();
        let e = EffectiveOptions::new(&o, 1 << 20, 65_536, (0, 0));
        let fs = FsInfo {
            rtmax: 1 << 20,
            rtpref: 1 << 20,
            wtmax: 1 << 20,
            wtpref: 1 << 20,
            dtpref: 16_384,
            maxfilesize: u64::MAX,
        };
        let d = differences(&o, &e, &fs);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("rsize=4194304 requested, 1048576 used"),
            "{d:?}"
        );
        assert!(
            e.to_mount_options()
                .contains("rsize=1048576,wsize=65536,nconnect=1")
        );
    }
}
