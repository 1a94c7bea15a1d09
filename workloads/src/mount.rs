//! The mount a target directory lives on: `/proc/self/mountinfo` and, for NFS, the kernel's
//! per-mount RPC statistics from `/proc/self/mountstats` (before/after delta of a run).
//!
//! Formats (see the kernel's `Documentation/filesystems/proc.rst` and `fs/nfs/super.c`):
//!
//! mountinfo, one line per mount:
//! `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
//! (id, parent, major:minor, root, mount point, mount options, optional fields, `-`,
//! fstype, source, super options). Spaces and other specials are octal-escaped (`\040`).
//!
//! mountstats, one block per mount starting with
//! `device SRC mounted on DIR with fstype TYPE [statvers=1.1]`; NFS blocks add tab-indented
//! `opts:`, `age:`, `events:`, `bytes:`, `xprt:` lines and a `per-op statistics` table whose
//! rows are `OP: ops transmissions major_timeouts bytes_sent bytes_recv queue_ms rtt_ms
//! execute_ms [errors]`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Path of the current process's mount table.
pub const MOUNTINFO_PATH: &str = "/proc/self/mountinfo";
/// Path of the current process's NFS statistics.
pub const MOUNTSTATS_PATH: &str = "/proc/self/mountstats";
/// Environment variable naming another directory to read `self/mountinfo` and
/// `self/mountstats` from instead of `/proc` (a copy of a node's proc files, or a stand-in
/// for a pod's mounts); unset or empty: `/proc`.
pub const PROC_ENV: &str = "NFSLAB_IO_PROC";

/// Where a `/proc/...` file is read from: under `$NFSLAB_IO_PROC` when it is set.
#[must_use]
pub(crate) fn proc_file(path: &'static str) -> std::path::PathBuf {
    match std::env::var_os(PROC_ENV).filter(|v| !v.is_empty()) {
        Some(root) => std::path::PathBuf::from(root).join(path.trim_start_matches("/proc/")),
        None => std::path::PathBuf::from(path),
    }
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    /// Mount id.
    pub mount_id: u64,
    /// Parent mount id.
    pub parent_id: u64,
    /// `major:minor` of the filesystem.
    pub device: String,
    /// Root of the mount within the filesystem.
    pub root: String,
    /// Mount point.
    pub mount_point: String,
    /// Per-mount options (`rw`, `relatime`...).
    pub mount_options: Vec<String>,
    /// Optional fields (`shared:1`, `master:2`...).
    pub optional_fields: Vec<String>,
    /// Filesystem type (`nfs`, `nfs4`, `tmpfs`...).
    pub fstype: String,
    /// Mount source (`server:/export` for NFS).
    pub source: String,
    /// Per-superblock options; for NFS the negotiated ones (`vers=`, `rsize=`, ...).
    pub super_options: Vec<String>,
}

impl MountInfo {
    /// Whether the mount is NFS (any version).
    #[must_use]
    pub fn is_nfs(&self) -> bool {
        self.fstype == "nfs" || self.fstype == "nfs4"
    }

    /// `key=value` super options as a map (flags map to an empty string).
    #[must_use]
    pub fn super_option_map(&self) -> BTreeMap<String, String> {
        self.super_options
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (o.clone(), String::new()),
            })
            .collect()
    }
}

/// A line that does not follow the mountinfo format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mountinfo line {line}: {reason}: `{text}`")]
pub struct MountInfoError {
    /// 1-based line number.
    pub line: usize,
    /// What is missing.
    pub reason: &'static str,
    /// The line.
    pub text: String,
}

/// Decodes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134`).
#[must_use]
pub(crate) fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_options(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|o| !o.is_empty())
        .map(unescape)
        .collect()
}

/// Parses the whole of a mountinfo text.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountInfo>, MountInfoError> {
    let mut mounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |reason| MountInfoError {
            line: index + 1,
            reason,
            text: line.to_owned(),
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let separator = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| err("no ` - ` separator"))?;
        if separator < 6 || fields.len() < separator + 3 {
            return Err(err("too few fields"));
        }
        let number = |i: usize| {
            fields[i]
                .parse::<u64>()
                .map_err(|_| err("mount id is not a number"))
        };
        mounts.push(MountInfo {
            mount_id: number(0)?,
            parent_id: number(1)?,
            device: fields[2].to_owned(),
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            mount_options: split_options(fields[5]),
            optional_fields: fields[6..separator]
                .iter()
                .map(|f| (*f).to_owned())
                .collect(),
            fstype: unescape(fields[separator + 1]),
            source: unescape(fields[separator + 2]),
            super_options: fields
                .get(separator + 3)
                .map(|o| split_options(o))
                .unwrap_or_default(),
        });
    }
    Ok(mounts)
}

/// The mount containing `path` (which should be absolute and canonical): the entry with the
/// longest mount point that is a path prefix, the last one listed when stacked.
#[must_use]
pub(crate) fn find_mount<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    let mut best: Option<&MountInfo> = None;
    for mount in mounts {
        if path.starts_with(Path::new(&mount.mount_point)) {
            let better = best.is_none_or(|b| {
                Path::new(&mount.mount_point).components().count()
                    >= Path::new(&b.mount_point).components().count()
            });
            if better {
                best = Some(mount);
            }
        }
    }
    best
}

/// RPC statistics of one NFS operation (one row of `per-op statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcOpCounters {
    /// Requests.
    pub ops: u64,
    /// Transmissions (retransmits = transmissions - ops).
    pub transmissions: u64,
    /// Major timeouts.
    pub major_timeouts: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Total queue time, ms.
    pub queue_ms: u64,
    /// Total round-trip time, ms.
    pub rtt_ms: u64,
    /// Total execution time (queue + RTT + client overhead), ms.
    pub execute_ms: u64,
    /// Requests that returned an error (kernels from 5.x list it; 0 otherwise).
    pub errors: u64,
}

impl RpcOpCounters {
    fn parse(values: &[u64]) -> RpcOpCounters {
        let at = |i: usize| values.get(i).copied().unwrap_or(0);
        RpcOpCounters {
            ops: at(0),
            transmissions: at(1),
            major_timeouts: at(2),
            bytes_sent: at(3),
            bytes_received: at(4),
            queue_ms: at(5),
            rtt_ms: at(6),
            execute_ms: at(7),
            errors: at(8),
        }
    }

    fn minus(&self, before: &RpcOpCounters) -> RpcOpCounters {
        RpcOpCounters {
            ops: self.ops.saturating_sub(before.ops),
            transmissions: self.transmissions.saturating_sub(before.transmissions),
            major_timeouts: self.major_timeouts.saturating_sub(before.major_timeouts),
            bytes_sent: self.bytes_sent.saturating_sub(before.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(before.bytes_received),
            queue_ms: self.queue_ms.saturating_sub(before.queue_ms),
            rtt_ms: self.rtt_ms.saturating_sub(before.rtt_ms),
            execute_ms: self.execute_ms.saturating_sub(before.execute_ms),
            errors: self.errors.saturating_sub(before.errors),
        }
    }
}

/// The `bytes:` line of an NFS mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsByteCounters {
    /// Bytes read by applications through the page cache.
    pub normal_read: u64,
    /// Bytes written by applications through the page cache.
    pub normal_write: u64,
    /// Bytes read with O_DIRECT.
    pub direct_read: u64,
    /// Bytes written with O_DIRECT.
    pub direct_write: u64,
    /// Bytes read from the server.
    pub server_read: u64,
    /// Bytes written to the server.
    pub server_write: u64,
    /// Pages read.
    pub read_pages: u64,
    /// Pages written.
    pub write_pages: u64,
}

impl NfsByteCounters {
    fn parse(values: &[u64]) -> NfsByteCounters {
        let at = |i: usize| values.get(i).copied().unwrap_or(0);
        NfsByteCounters {
            normal_read: at(0),
            normal_write: at(1),
            direct_read: at(2),
            direct_write: at(3),
            server_read: at(4),
            server_write: at(5),
            read_pages: at(6),
            write_pages: at(7),
        }
    }

    fn minus(&self, b: &NfsByteCounters) -> NfsByteCounters {
        NfsByteCounters {
            normal_read: self.normal_read.saturating_sub(b.normal_read),
            normal_write: self.normal_write.saturating_sub(b.normal_write),
            direct_read: self.direct_read.saturating_sub(b.direct_read),
            direct_write: self.direct_write.saturating_sub(b.direct_write),
            server_read: self.server_read.saturating_sub(b.server_read),
            server_write: self.server_write.saturating_sub(b.server_write),
            read_pages: self.read_pages.saturating_sub(b.read_pages),
            write_pages: self.write_pages.saturating_sub(b.write_pages),
        }
    }
}

/// Transport counters summed over the mount's `xprt:` lines (several with `nconnect`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XprtCounters {
    /// Transports listed.
    pub transports: u64,
    /// Connects.
    pub connects: u64,
    /// RPC sends.
    pub sends: u64,
    /// RPC receives.
    pub receives: u64,
    /// Replies with an unknown XID.
    pub bad_xids: u64,
}

/// One mount's block in `/proc/self/mountstats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountStats {
    /// `device` field (mount source).
    pub device: String,
    /// Mount point.
    pub mount_point: String,
    /// Filesystem type.
    pub fstype: String,
    /// `opts:` line (NFS only).
    pub opts: Vec<String>,
    /// Seconds since mount.
    pub age_seconds: u64,
    /// `bytes:` line.
    pub bytes: NfsByteCounters,
    /// `xprt:` lines, summed.
    pub xprt: XprtCounters,
    /// `per-op statistics` rows by operation name.
    pub ops: BTreeMap<String, RpcOpCounters>,
}

fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// Parses a mountstats text. Unknown lines are skipped (the format grows over kernels).
#[must_use]
pub fn parse_mountstats(text: &str) -> Vec<MountStats> {
    let mut out: Vec<MountStats> = Vec::new();
    let mut in_ops = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("device ") {
            in_ops = false;
            let Some((device, rest)) = rest.split_once(" mounted on ") else {
                continue;
            };
            let Some((mount_point, rest)) = rest.split_once(" with fstype ") else {
                continue;
            };
            let fstype = rest.split_whitespace().next().unwrap_or_default();
            out.push(MountStats {
                device: unescape(device),
                mount_point: unescape(mount_point),
                fstype: fstype.to_owned(),
                ..MountStats::default()
            });
            continue;
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        let trimmed = line.trim();
        if trimmed == "per-op statistics" {
            in_ops = true;
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if in_ops {
            current
                .ops
                .insert(key.to_owned(), RpcOpCounters::parse(&numbers(value)));
            continue;
        }
        match key {
            "opts" => current.opts = split_options(value.trim()),
            "age" => current.age_seconds = numbers(value).first().copied().unwrap_or(0),
            "bytes" => current.bytes = NfsByteCounters::parse(&numbers(value)),
            "xprt" => {
                // tcp: port bind_count connect_count connect_time idle_time sends recvs
                //      bad_xids ...; udp: port bind_count sends recvs bad_xids ...
                let mut parts = value.split_whitespace();
                let proto = parts.next().unwrap_or_default();
                let v: Vec<u64> = parts.filter_map(|p| p.parse().ok()).collect();
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                let x = &mut current.xprt;
                x.transports += 1;
                if proto == "udp" {
                    x.sends += at(2);
                    x.receives += at(3);
                    x.bad_xids += at(4);
                } else {
                    x.connects += at(2);
                    x.sends += at(5);
                    x.receives += at(6);
                    x.bad_xids += at(7);
                }
            }
            _ => {}
        }
    }
    out
}

/// RPC statistics of one operation over a run, with derived figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RpcOpDelta {
    /// Counter differences.
    #[serde(flatten)]
    pub counters: RpcOpCounters,
    /// Retransmissions (`transmissions - ops`).
    pub retransmits: u64,
    /// Mean round-trip time, ms.
    pub avg_rtt_ms: f64,
    /// Mean execution time, ms.
    pub avg_execute_ms: f64,
}

/// What the kernel did for the mount during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountStatsDelta {
    /// Operations with at least one request during the run.
    pub ops: BTreeMap<String, RpcOpDelta>,
    /// Sum over operations.
    pub total_rpcs: u64,
    /// Sum of retransmissions.
    pub total_retransmits: u64,
    /// Sum of major timeouts.
    pub total_major_timeouts: u64,
    /// Byte counters.
    pub bytes: NfsByteCounters,
    /// Transport sends during the run.
    pub xprt_sends: u64,
    /// Transport receives during the run.
    pub xprt_receives: u64,
}

/// `after - before` for one mount.
#[must_use]
pub fn mountstats_delta(before: &MountStats, after: &MountStats) -> MountStatsDelta {
    let mut delta = MountStatsDelta {
        bytes: after.bytes.minus(&before.bytes),
        xprt_sends: after.xprt.sends.saturating_sub(before.xprt.sends),
        xprt_receives: after.xprt.receives.saturating_sub(before.xprt.receives),
        ..MountStatsDelta::default()
    };
    for (name, now) in &after.ops {
        let then = before.ops.get(name).copied().unwrap_or_default();
        let counters = now.minus(&then);
        if counters.ops == 0 && counters.transmissions == 0 {
            continue;
        }
        let per_op = |total: u64| {
            if counters.ops == 0 {
                0.0
            } else {
                total as f64 / counters.ops as f64
            }
        };
        let retransmits = counters.transmissions.saturating_sub(counters.ops);
        delta.total_rpcs += counters.ops;
        delta.total_retransmits += retransmits;
        delta.total_major_timeouts += counters.major_timeouts;
        delta.ops.insert(
            name.clone(),
            RpcOpDelta {
                counters,
                retransmits,
                avg_rtt_ms: per_op(counters.rtt_ms),
                avg_execute_ms: per_op(counters.execute_ms),
            },
        );
    }
    delta
}

/// The `mount` section of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountSection {
    /// The path the section describes.
    pub path: String,
    /// The mountinfo entry of the mount containing it.
    pub mount: MountInfo,
    /// For NFS: the effective (negotiated) options as a map (`vers`, `rsize`, `wsize`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_options: Option<BTreeMap<String, String>>,
    /// For NFS: kernel RPC statistics over the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountstats_delta: Option<MountStatsDelta>,
}

/// Why the mount section could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MountError {
    /// A proc file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The path could not be resolved.
    #[error("cannot resolve `{path}`")]
    Resolve {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// mountinfo did not parse.
    #[error("unexpected mountinfo format")]
    Format(#[source] MountInfoError),
    /// No entry contains the path.
    #[error("no mount contains `{path}`")]
    NotFound {
        /// The path.
        path: String,
    },
}

/// Reads the live mount section for `path`, without statistics.
pub(crate) fn mount_section(path: &Path) -> Result<MountSection, MountError> {
    let canonical = path.canonicalize().map_err(|source| MountError::Resolve {
        path: path.display().to_string(),
        source,
    })?;
    let file = proc_file(MOUNTINFO_PATH);
    let text = std::fs::read_to_string(&file).map_err(|source| MountError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let mounts = parse_mountinfo(&text).map_err(MountError::Format)?;
    let mount = find_mount(&mounts, &canonical)
        .cloned()
        .ok_or_else(|| MountError::NotFound {
            path: canonical.display().to_string(),
        })?;
    let nfs_options = mount.is_nfs().then(|| mount.super_option_map());
    Ok(MountSection {
        path: canonical.display().to_string(),
        mount,
        nfs_options,
        mountstats_delta: None,
    })
}

/// Reads the live mountstats block of the mount at `mount_point`, if the kernel lists one.
#[must_use]
pub(crate) fn read_mountstats(mount_point: &str) -> Option<MountStats> {
    let text = std::fs::read_to_string(proc_file(MOUNTSTATS_PATH)).ok()?;
    parse_mountstats(&text)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == mount_point)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client with an NFSv4.1 and an NFSv3 mount (nconnect=2), as on a Kubernetes node.
    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
27 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
40 27 0:35 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,size=4096k,inode64
812 27 0:52 / /var/lib/kubelet/pods/0f3c/volumes/kubernetes.io~nfs/pv\\040data rw,relatime shared:401 - nfs4 10.96.12.7:/exports/pv rw,vers=4.1,rsize=262144,wsize=262144,namlen=255,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.244.1.5,local_lock=none,addr=10.96.12.7
813 27 0:53 /sub /mnt/v3 ro,noatime - nfs 192.168.1.20:/vol1 ro,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,nolock,noresvport,proto=tcp,nconnect=2,timeo=600,retrans=2,sec=sys,mountaddr=192.168.1.20,mountvers=3,mountport=20048,mountproto=tcp,local_lock=all,addr=192.168.1.20
";

    const MOUNTSTATS_BEFORE: &str = "\
device proc mounted on /proc with fstype proc
device tmpfs mounted on /dev/shm with fstype tmpfs
device 10.96.12.7:/exports/pv mounted on /var/lib/kubelet/pods/0f3c/volumes/kubernetes.io~nfs/pv\\040data with fstype nfs4 statvers=1.1
\topts:\trw,vers=4.1,rsize=262144,wsize=262144,namlen=255,acregmin=3,acregmax=60,acdirmin=30,acdirmax=60,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.244.1.5,local_lock=none
\tage:\t3600
\timpl_id:\tname='',domain='',date='0,0'
\tcaps:\tcaps=0x3ffbffff,wtmult=512,dtsize=1048576,bsize=0,namlen=255
\tnfsv4:\tbm0=0xfdffbfff,bm1=0x40f9be3e,bm2=0x60800,acl=0x3,sessions,pnfs=not configured,lease_time=90,lease_expired=0
\tsec:\tflavor=1,pseudoflavor=1
\tevents:\t52 1242 0 0 21 4 1310 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
\tbytes:\t1000 2000 0 0 1000 2000 1 1
\tRPC iostats version: 1.1  p/v: 100003/4 (nfs)
\txprt:\ttcp 798 0 2 0 14 2201 2201 0 4385 0 2 62 1905
\tper-op statistics
\t        NULL: 1 1 0 44 24 0 0 0 0
\t        READ: 10 10 0 1600 41000 1 20 22 0
\t       WRITE: 20 21 0 83000 3200 3 60 70 0
\t     GETATTR: 100 100 0 17600 26000 0 30 35 0
\t      COMMIT: 0 0 0 0 0 0 0 0 0
\t
device 192.168.1.20:/vol1 mounted on /mnt/v3 with fstype nfs statvers=1.1
\topts:\tro,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,nolock,noresvport,proto=tcp,nconnect=2,timeo=600,retrans=2,sec=sys
\tage:\t12
\tbytes:\t0 0 0 0 0 0 0 0
\tRPC iostats version: 1.1  p/v: 100003/3 (nfs)
\txprt:\ttcp 0 0 1 0 3 40 40 0 40 0 2 0 0
\txprt:\ttcp 0 0 1 0 3 35 35 0 35 0 2 0 0
\tper-op statistics
\t        NULL: 0 0 0 0 0 0 0 0
\t     GETATTR: 75 75 0 9000 8400 0 15 18
\t        READ: 0 0 0 0 0 0 0 0
";

    #[test]
    fn mountinfo_nfs4_and_nfs3_entries() {
        let mounts = parse_mountinfo(MOUNTINFO).unwrap();
        assert_eq!(mounts.len(), 5);
        let v4 = &mounts[3];
        assert_eq!(
            v4.mount_point,
            "/var/lib/kubelet/pods/0f3c/volumes/kubernetes.io~nfs/pv data"
        );
        assert_eq!(v4.fstype, "nfs4");
        assert_eq!(v4.source, "10.96.12.7:/exports/pv");
        assert_eq!(v4.optional_fields, vec!["shared:401"]);
        assert!(v4.is_nfs());
        let opts = v4.super_option_map();
        assert_eq!(opts["vers"], "4.1");
        assert_eq!(opts["rsize"], "262144");
        assert_eq!(opts["proto"], "tcp");
        assert_eq!(opts["timeo"], "600");
        assert_eq!(opts["retrans"], "2");
        assert_eq!(opts["sec"], "sys");
        assert_eq!(opts["clientaddr"], "10.244.1.5");
        assert_eq!(opts["hard"], "");
        let v3 = &mounts[4];
        assert_eq!(v3.root, "/sub");
        assert_eq!(v3.mount_options, vec!["ro", "noatime"]);
        assert!(v3.optional_fields.is_empty());
        assert_eq!(v3.super_option_map()["nconnect"], "2");
        assert_eq!(v3.super_option_map()["vers"], "3");
    }

    #[test]
    fn find_mount_picks_the_deepest_prefix() {
        let mounts = parse_mountinfo(MOUNTINFO).unwrap();
        let m = find_mount(&mounts, Path::new("/mnt/v3/dir/file")).unwrap();
        assert_eq!(m.fstype, "nfs");
        let m = find_mount(&mounts, Path::new("/mnt/v30")).unwrap();
        assert_eq!(m.mount_point, "/");
        let m = find_mount(
            &mounts,
            Path::new("/var/lib/kubelet/pods/0f3c/volumes/kubernetes.io~nfs/pv data/x"),
        )
        .unwrap();
        assert_eq!(m.fstype, "nfs4");
    }

    #[test]
    fn malformed_mountinfo_is_reported_with_its_line() {
        let err = parse_mountinfo("22 27 0:21 / /proc rw\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("separator"), "{err}");
    }

    #[test]
    fn mountstats_blocks_and_delta() {
        let before = parse_mountstats(MOUNTSTATS_BEFORE);
        assert_eq!(before.len(), 4);
        let v4 = &before[2];
        assert_eq!(v4.fstype, "nfs4");
        assert!(v4.mount_point.ends_with("pv data"));
        assert!(v4.opts.contains(&"vers=4.1".to_owned()));
        assert_eq!(v4.age_seconds, 3600);
        assert_eq!(v4.bytes.normal_write, 2000);
        assert_eq!(v4.xprt.sends, 2201);
        assert_eq!(v4.ops["WRITE"].transmissions, 21);
        let v3 = &before[3];
        assert_eq!(v3.xprt.transports, 2);
        assert_eq!(v3.xprt.sends, 75);
        assert_eq!(v3.ops["GETATTR"].ops, 75);
        assert_eq!(v3.ops["GETATTR"].errors, 0);

        // The same mount after a write-heavy run with retransmissions.
        let after_text = MOUNTSTATS_BEFORE
            .replace(
                "\tbytes:\t1000 2000 0 0 1000 2000 1 1",
                "\tbytes:\t1000 1050576 0 0 1000 1050576 1 257",
            )
            .replace(
                "WRITE: 20 21 0 83000 3200 3 60 70 0",
                "WRITE: 36 40 1 1131576 5000 5 220 250 0",
            )
            .replace(
                "GETATTR: 100 100 0 17600 26000 0 30 35 0",
                "GETATTR: 104 104 0 18304 27040 0 34 39 0",
            )
            .replace("tcp 798 0 2 0 14 2201 2201", "tcp 798 0 2 0 14 2225 2225");
        let after = parse_mountstats(&after_text);
        let delta = mountstats_delta(&before[2], &after[2]);
        assert_eq!(delta.ops.len(), 2, "{:?}", delta.ops.keys());
        let w = &delta.ops["WRITE"];
        assert_eq!(w.counters.ops, 16);
        assert_eq!(w.retransmits, 3);
        assert_eq!(w.counters.major_timeouts, 1);
        assert!((w.avg_rtt_ms - 10.0).abs() < 1e-9);
        assert!((w.avg_execute_ms - 11.25).abs() < 1e-9);
        assert_eq!(delta.total_rpcs, 20);
        assert_eq!(delta.total_retransmits, 3);
        assert_eq!(delta.bytes.server_write, 1_048_576);
        assert_eq!(delta.bytes.write_pages, 256);
        assert_eq!(delta.xprt_sends, 24);
    }

    #[test]
    fn live_proc_self_mountinfo_parses_and_contains_root() {
        let text = std::fs::read_to_string(MOUNTINFO_PATH).unwrap();
        let mounts = parse_mountinfo(&text).unwrap();
        assert!(!mounts.is_empty());
        let section = mount_section(Path::new("/")).unwrap();
        assert_eq!(section.mount.mount_point, "/");
        let shm = mount_section(Path::new("/dev/shm")).unwrap();
        assert_eq!(shm.mount.fstype, "tmpfs");
        assert!(shm.nfs_options.is_none());
        // The live mountstats file parses too (no NFS mounts here: no per-op rows).
        let live = std::fs::read_to_string(MOUNTSTATS_PATH).unwrap();
        assert!(
            parse_mountstats(&live)
                .iter()
                .any(|m| m.mount_point == "/dev/shm")
        );
    }

    #[test]
    fn unescape_octal() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), "a b\tc\\d");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }
}
