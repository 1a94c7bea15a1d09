//! Client parameters of the NFSv3 backend, written like `mount -o` options.
//!
//! The same `key[=value]` vocabulary is read from the URL query (`nfs://h/x?rsize=65536`,
//! `&` between options) and from `--nfs-options` (`,` between options, as in mount(8)), so a
//! benchmark profile's `mountOptions` can be replayed at protocol level unchanged. Options a
//! user-space client cannot or need not honour (`nolock`, `noresvport`, `cto`) are accepted
//! and listed as ignored; unknown keys, malformed values and conflicting pairs
//! (`hard` + `soft`) are errors naming the option.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `vers=3`, `nfsvers=3` | protocol version (only 3) | 3 |
//! | `proto=tcp`, `mountproto=tcp` | transport (only TCP) | tcp |
//! | `port=N`, `nfsport=N` | NFS port (no portmapper lookup) | portmapper |
//! | `mountport=N` | MOUNT port (no portmapper lookup) | portmapper |
//! | `pmapport=N` | portmapper port | 111 |
//! | `rsize=N`, `wsize=N` | bytes per READ/WRITE, capped by the server's FSINFO | server max, at most 1 MiB |
//! | `nconnect=N` | TCP connections, requests spread round robin (1-16) | 1 |
//! | `max_inflight=N` | requests in flight per connection (the RPC slot table) | 128 |
//! | `hard` / `soft` / `softerr` | retry until the server answers / fail after `timeo` x (`retrans` + 1) with EIO / the same with ETIMEDOUT | hard |
//! | `timeo=N` | deciseconds to wait for a reply before retransmitting (grows by `timeo` per retry, at most 600 s) | 600 |
//! | `retrans=N` | retransmissions before a soft call fails | 2 |
//! | `ac` / `noac`, `actimeo=S`, `acregmin=S`, `acdirmin=S` | attribute and name caching for metadata | ac, 3 s files, 30 s directories |
//! | `rdirplus` / `nordirplus` | READDIRPLUS or READDIR for listings | rdirplus |
//! | `stable=unstable\|data_sync\|file_sync`, `sync` / `async` | WRITE stability; unstable writes are committed at fsync points and at the end | unstable |
//! | `uid=N`, `gid=N` | AUTH_SYS credentials | the process's |
//! | `sec=sys` | security flavour (only AUTH_SYS) | sys |
//! | `resvport` / `noresvport` | connect from a privileged source port (needs root) | noresvport |
//! | `connect_timeout=D` | bound on each connect and on every setup call (portmapper, MOUNT, FSINFO...) | 10s |
//! | `dirty_limit=SIZE` | uncommitted bytes a worker keeps for redo before it commits (more costs memory and page faults; less, more COMMITs) | 64m |

use std::fmt;
use std::time::Duration;

use crate::result::nfs::{RetryMode, Stability};
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// Largest READ/WRITE size the client uses, as the Linux client (`NFS_MAX_FILE_IO_SIZE`).
pub(crate) const CLIENT_MAX_IO: u32 = 1 << 20;
/// Smallest READ/WRITE size.
pub(crate) const CLIENT_MIN_IO: u32 = 4096;
/// Most connections per client (the Linux `nconnect` limit).
pub(crate) const MAX_NCONNECT: u32 = 16;
/// Longest retransmission timeout (the Linux client's 600 s).
pub(crate) const MAX_TIMEO: Duration = Duration::from_secs(600);

/// Every client parameter, after defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsOptions {
    /// NFS port; `None`: ask the portmapper.
    pub nfs_port: Option<u16>,
    /// MOUNT port; `None`: ask the portmapper.
    pub mount_port: Option<u16>,
    /// Portmapper port.
    pub portmapper_port: u16,
    /// Requested READ size; `None`: the largest both sides support.
    pub rsize: Option<u32>,
    /// Requested WRITE size; `None`: the largest both sides support.
    pub wsize: Option<u32>,
    /// TCP connections.
    pub nconnect: u32,
    /// Requests in flight per connection.
    pub max_inflight: u32,
    /// Retry semantics.
    pub retry: RetryMode,
    /// Wait for a reply before the first retransmission.
    pub timeo: Duration,
    /// Retransmissions before a soft call fails.
    pub retrans: u32,
    /// Attribute and name caching for metadata operations.
    pub attr_cache: bool,
    /// Attribute cache lifetime of files.
    pub acregmin: Duration,
    /// Attribute cache lifetime of directories.
    pub acdirmin: Duration,
    /// READDIRPLUS for listings.
    pub rdirplus: bool,
    /// WRITE stability.
    pub stable: Stability,
    /// AUTH_SYS uid; `None`: the process's effective uid.
    pub uid: Option<u32>,
    /// AUTH_SYS gid; `None`: the process's effective gid.
    pub gid: Option<u32>,
    /// Connect from a privileged port.
    pub resvport: bool,
    /// Bound on connects and setup calls.
    pub connect_timeout: Duration,
    /// Uncommitted bytes per worker before a COMMIT is forced.
    pub dirty_limit: u64,
    /// Options accepted without effect (kept for the report).
    pub ignored: Vec<String>,
    /// The options as given, normalised (`key=value` joined by `,`).
    pub requested: Vec<String>,
}

impl Default for NfsOptions {
    fn default() -> Self {
        NfsOptions {
            nfs_port: None,
            mount_port: None,
            portmapper_port: 111,
            rsize: None,
            wsize: None,
            nconnect: 1,
            max_inflight: 128,
            retry: RetryMode::Hard,
            timeo: Duration::from_secs(60),
            retrans: 2,
            attr_cache: true,
            acregmin: Duration::from_secs(3),
            acdirmin: Duration::from_secs(30),
            rdirplus: true,
            stable: Stability::Unstable,
            uid: None,
            gid: None,
            resvport: false,
            connect_timeout: Duration::from_secs(10),
            dirty_limit: 64 << 20,
            ignored: Vec::new(),
            requested: Vec::new(),
        }
    }
}

/// An option that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// A key this client does not know.
    #[error(
        "unknown NFS option `{key}` (hint: see `nfslab-io run --help` for the options the protocol backend reads)"
    )]
    Unknown {
        /// The key.
        key: String,
    },
    /// A value that does not parse or is out of range.
    #[error("invalid NFS option `{key}={value}`: {reason}")]
    Value {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong and what to give.
        reason: String,
    },
    /// A key that needs a value and has none (or a flag given a value).
    #[error("invalid NFS option `{given}`: {reason}")]
    Form {
        /// The option as given.
        given: String,
        /// What form it takes.
        reason: &'static str,
    },
    /// Two options that contradict each other in one list.
    #[error("conflicting NFS options `{first}` and `{second}` (hint: keep one)")]
    Conflict {
        /// The first option.
        first: String,
        /// The second option.
        second: String,
    },
}

/// Options accepted for compatibility with mount(8) that change nothing at protocol level.
const IGNORED: &[&str] = &[
    "lock",
    "nolock",
    "local_lock",
    "cto",
    "nocto",
    "intr",
    "nointr",
    "fsc",
    "nofsc",
    "lookupcache",
    "sharecache",
    "nosharecache",
    "acl",
    "noacl",
    "bg",
    "fg",
    "retry",
    "rw",
    "ro",
    "_netdev",
    "defaults",
    "namlen",
    "clientaddr",
    "mountvers",
    "mountaddr",
    "addr",
    "noatime",
    "nodiratime",
    "relatime",
    "nosuid",
    "nodev",
    "noexec",
    "acregmax",
    "acdirmax",
    "timeo_setup",
    "nosharetransport",
];

/// Exclusive groups: the first option of a list that sets a group wins, a second is a
/// conflict.
fn group_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "hard" | "soft" | "softerr" => "retry",
        "ac" | "noac" => "ac",
        "rdirplus" | "nordirplus" => "rdirplus",
        "sync" | "async" | "stable" => "stable",
        "resvport" | "noresvport" => "resvport",
        "port" | "nfsport" => "port",
        _ => return None,
    })
}

fn number<T: TryFrom<u64>>(key: &str, value: &str, min: u64, max: u64) -> Result<T, OptionError> {
    let bad = |reason: String| OptionError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let n: u64 = value
        .parse()
        .map_err(|_| bad("not a whole number".to_owned()))?;
    if n < min || n > max {
        return Err(bad(format!("must be between {min} and {max}")));
    }
    T::try_from(n).map_err(|_| bad(format!("must be between {min} and {max}")))
}

fn seconds(key: &str, value: &str) -> Result<Duration, OptionError> {
    number::<u64>(key, value, 0, 86_400 * 365).map(Duration::from_secs)
}

impl NfsOptions {
    /// Applies a `mount -o` style list (`,` separated).
    pub fn apply_mount_options(&mut self, text: &str) -> Result<(), OptionError> {
        self.apply_list(text.split(','))
    }

    /// Applies a URL query (`&` separated, `%XX` already decoded by the caller).
    pub fn apply_query(&mut self, text: &str) -> Result<(), OptionError> {
        self.apply_list(text.split('&'))
    }

    fn apply_list<'a>(&mut self, items: impl Iterator<Item = &'a str>) -> Result<(), OptionError> {
        let mut groups: Vec<(&'static str, String)> = Vec::new();
        for item in items.map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            if let Some(group) = group_of(key) {
                if let Some((_, first)) = groups.iter().find(|(g, _)| *g == group) {
                    return Err(OptionError::Conflict {
                        first: first.clone(),
                        second: item.to_owned(),
                    });
                }
                groups.push((group, item.to_owned()));
            }
            self.apply_one(key, value, item)?;
            // A later source overrides an earlier one: keep only the last of a key or group.
            self.requested.retain(|r| {
                let k = r.split('=').next().unwrap_or_default();
                k != key && (group_of(k).is_none() || group_of(k) != group_of(key))
            });
            self.requested.push(item.to_owned());
        }
        Ok(())
    }

    fn apply_one<'a>(
        &mut self,
        key: &str,
        value: Option<&'a str>,
        given: &str,
    ) -> Result<(), OptionError> {
        let need = |v: Option<&'a str>| -> Result<&'a str, OptionError> {
            v.ok_or(OptionError::Form {
                given: given.to_owned(),
                reason: "this option takes a value (key=value)",
            })
        };
        let flag = |v: Option<&str>| match v {
            None => Ok(()),
            Some(_) => Err(OptionError::Form {
                given: given.to_owned(),
                reason: "this option takes no value",
            }),
        };
        let only = |v: &str, allowed: &[&str], reason: &str| -> Result<(), OptionError> {
            if allowed.contains(&v.to_ascii_lowercase().as_str()) {
                Ok(())
            } else {
                Err(OptionError::Value {
                    key: key.to_owned(),
                    value: v.to_owned(),
                    reason: reason.to_owned(),
                })
            }
        };
        match key {
            "vers" | "nfsvers" => only(
                need(value)?,
                &["3", "3.0"],
                "the protocol backend speaks NFSv3 only (hint: vers=3)",
            )?,
            "proto" | "mountproto" => only(
                need(value)?,
                &["tcp"],
                "the protocol backend uses TCP only (hint: proto=tcp)",
            )?,
            "sec" => only(
                need(value)?,
                &["sys"],
                "only AUTH_SYS is supported (hint: sec=sys)",
            )?,
            "port" | "nfsport" => self.nfs_port = Some(number(key, need(value)?, 1, 65_535)?),
            "mountport" => self.mount_port = Some(number(key, need(value)?, 1, 65_535)?),
            "pmapport" => self.portmapper_port = number(key, need(value)?, 1, 65_535)?,
            "rsize" => self.rsize = Some(number(key, need(value)?, 1, u64::from(u32::MAX))?),
            "wsize" => self.wsize = Some(number(key, need(value)?, 1, u64::from(u32::MAX))?),
            "nconnect" => {
                self.nconnect = number(key, need(value)?, 1, u64::from(MAX_NCONNECT))?;
            }
            "max_inflight" => self.max_inflight = number(key, need(value)?, 1, 65_536)?,
            "hard" => {
                flag(value)?;
                self.retry = RetryMode::Hard;
            }
            "soft" => {
                flag(value)?;
                self.retry = RetryMode::Soft;
            }
            "softerr" => {
                flag(value)?;
                self.retry = RetryMode::Softerr;
            }
            "timeo" => {
                let deciseconds: u64 = number(key, need(value)?, 1, 6000)?;
                self.timeo = Duration::from_millis(deciseconds * 100);
            }
            "retrans" => self.retrans = number(key, need(value)?, 0, 1000)?,
            "ac" => {
                flag(value)?;
                self.attr_cache = true;
            }
            "noac" => {
                flag(value)?;
                self.attr_cache = false;
            }
            "actimeo" => {
                let d = seconds(key, need(value)?)?;
                self.acregmin = d;
                self.acdirmin = d;
            }
            "acregmin" => self.acregmin = seconds(key, need(value)?)?,
            "acdirmin" => self.acdirmin = seconds(key, need(value)?)?,
            "rdirplus" => {
                flag(value)?;
                self.rdirplus = true;
            }
            "nordirplus" => {
                flag(value)?;
                self.rdirplus = false;
            }
            "sync" => {
                flag(value)?;
                self.stable = Stability::FileSync;
            }
            "async" => {
                flag(value)?;
                self.stable = Stability::Unstable;
            }
            "stable" => {
                let v = need(value)?;
                self.stable = match v.to_ascii_lowercase().replace('-', "_").as_str() {
                    "unstable" => Stability::Unstable,
                    "data_sync" => Stability::DataSync,
                    "file_sync" => Stability::FileSync,
                    _ => {
                        return Err(OptionError::Value {
                            key: key.to_owned(),
                            value: v.to_owned(),
                            reason: "one of unstable, data_sync, file_sync".to_owned(),
                        });
                    }
                };
            }
            "uid" => self.uid = Some(number(key, need(value)?, 0, u64::from(u32::MAX))?),
            "gid" => self.gid = Some(number(key, need(value)?, 0, u64::from(u32::MAX))?),
            "resvport" => {
                flag(value)?;
                self.resvport = true;
            }
            "noresvport" => {
                flag(value)?;
                self.resvport = false;
            }
            "connect_timeout" => {
                let v = need(value)?;
                let d = parse_duration(v).map_err(|e| OptionError::Value {
                    key: key.to_owned(),
                    value: v.to_owned(),
                    reason: e.to_string(),
                })?;
                if d.is_zero() {
                    return Err(OptionError::Value {
                        key: key.to_owned(),
                        value: v.to_owned(),
                        reason: "must be greater than zero".to_owned(),
                    });
                }
                self.connect_timeout = d;
            }
            "dirty_limit" => {
                let v = need(value)?;
                self.dirty_limit = parse_size(v).map_err(|e| OptionError::Value {
                    key: key.to_owned(),
                    value: v.to_owned(),
                    reason: e.to_string(),
                })?;
            }
            k if IGNORED.contains(&k) => {
                if !self.ignored.iter().any(|i| i == given) {
                    self.ignored.push(given.to_owned());
                }
            }
            _ => {
                return Err(OptionError::Unknown {
                    key: key.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Total time a soft call may take: `timeo` per transmission, `retrans` + 1 of them.
    #[must_use]
    pub fn soft_budget(&self) -> Duration {
        self.timeo.saturating_mul(self.retrans.saturating_add(1))
    }
}

/// Effective READ/WRITE size: the request (or the client maximum) capped by the server's
/// maximum, rounded down to a multiple of 4 KiB, as the Linux client does.
#[must_use]
pub(crate) fn effective_io_size(requested: Option<u32>, server_max: u32) -> u32 {
    let want = requested.unwrap_or(CLIENT_MAX_IO).min(CLIENT_MAX_IO);
    let capped = if server_max > 0 {
        want.min(server_max)
    } else {
        want
    };
    (capped / CLIENT_MIN_IO * CLIENT_MIN_IO).max(CLIENT_MIN_IO)
}

impl fmt::Display for NfsOptions {
    /// Every effective value in `mount -o` syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vers=3,proto=tcp,nconnect={},max_inflight={},{},timeo={},retrans={},{},acregmin={},acdirmin={},{},stable={},{},connect_timeout={},dirty_limit={}",
            self.nconnect,
            self.max_inflight,
            self.retry.name(),
            self.timeo.as_millis() / 100,
            self.retrans,
            if self.attr_cache { "ac" } else { "noac" },
            self.acregmin.as_secs(),
            self.acdirmin.as_secs(),
            if self.rdirplus {
                "rdirplus"
            } else {
                "nordirplus"
            },
            self.stable.name(),
            if self.resvport {
                "resvport"
            } else {
                "noresvport"
            },
            format_duration(self.connect_timeout),
            format_size(self.dirty_limit),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NfsOptions, OptionError> {
        let mut o = NfsOptions::default();
        o.apply_mount_options(text).map(|()| o)
    }

    #[test]
    fn the_documents_v3_profile_parses() {
        let o = parse(
            "vers=3,nolock,proto=tcp,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport",
        )
        .unwrap();
        assert_eq!(o.rsize, Some(1 << 20));
        assert_eq!(o.wsize, Some(1 << 20));
        assert_eq!(o.retry, RetryMode::Hard);
        assert_eq!(o.timeo, Duration::from_secs(60));
        assert_eq!(o.retrans, 2);
        assert_eq!(o.ignored, vec!["nolock".to_owned()]);
        assert_eq!(o.requested.len(), 9);
    }

    #[test]
    fn soft_profile_and_budget() {
        let o = parse("vers=3,soft,timeo=50,retrans=2").unwrap();
        assert_eq!(o.retry, RetryMode::Soft);
        assert_eq!(o.soft_budget(), Duration::from_secs(15));
        let o = parse("softerr,timeo=10,retrans=0").unwrap();
        assert_eq!(o.retry, RetryMode::Softerr);
        assert_eq!(o.soft_budget(), Duration::from_secs(1));
    }

    #[test]
    fn query_syntax_and_later_sources_override() {
        let mut o = NfsOptions::default();
        o.apply_query("mountport=20048&nfsport=2049&uid=1000&gid=100&noac")
            .unwrap();
        assert_eq!((o.mount_port, o.nfs_port), (Some(20_048), Some(2049)));
        assert_eq!((o.uid, o.gid), (Some(1000), Some(100)));
        assert!(!o.attr_cache);
        o.apply_mount_options("ac,nconnect=4,stable=file_sync,dirty_limit=64m")
            .unwrap();
        assert!(o.attr_cache);
        assert_eq!(o.nconnect, 4);
        assert_eq!(o.stable, Stability::FileSync);
        assert_eq!(o.dirty_limit, 64 << 20);
        assert_eq!(
            o.requested,
            [
                "mountport=20048",
                "nfsport=2049",
                "uid=1000",
                "gid=100",
                "ac",
                "nconnect=4",
                "stable=file_sync",
                "dirty_limit=64m"
            ],
            "the later `ac` replaces `noac`"
        );
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse("vers=4.1").unwrap_err();
        assert!(
            e.to_string().contains("`vers=4.1`") && e.to_string().contains("NFSv3 only"),
            "{e}"
        );
        let e = parse("rsize=big").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid NFS option `rsize=big`: not a whole number"
        );
        let e = parse("hard,soft").unwrap_err();
        assert_eq!(
            e.to_string(),
            "conflicting NFS options `hard` and `soft` (hint: keep one)"
        );
        let e = parse("wibble=1").unwrap_err();
        assert!(e.to_string().contains("`wibble`"), "{e}");
        let e = parse("nconnect=17").unwrap_err();
        assert!(e.to_string().contains("between 1 and 16"), "{e}");
        let e = parse("timeo").unwrap_err();
        assert!(e.to_string().contains("takes a value"), "{e}");
        let e = parse("hard=1").unwrap_err();
        assert!(e.to_string().contains("takes no value"), "{e}");
        let e = parse("proto=udp").unwrap_err();
        assert!(e.to_string().contains("TCP only"), "{e}");
        let e = parse("connect_timeout=0s").unwrap_err();
        assert!(e.to_string().contains("greater than zero"), "{e}");
    }

    #[test]
    fn io_sizes_are_capped_and_rounded() {
        assert_eq!(effective_io_size(None, 4 << 20), 1 << 20);
        assert_eq!(effective_io_size(Some(4 << 20), 64 << 20), 1 << 20);
        assert_eq!(effective_io_size(Some(65_536), 1 << 20), 65_536);
        assert_eq!(effective_io_size(Some(1 << 20), 262_144), 262_144);
        assert_eq!(effective_io_size(Some(10_000), 1 << 20), 8192);
        assert_eq!(effective_io_size(Some(100), 1 << 20), 4096);
        assert_eq!(effective_io_size(None, 0), 1 << 20);
    }

    #[test]
    fn display_lists_every_effective_value() {
        let o = parse("nconnect=2,soft,timeo=15").unwrap();
        let text = o.to_string();
        assert!(
            text.contains("nconnect=2") && text.contains(",soft,") && text.contains("timeo=15"),
            "{text}"
        );
    }
}
