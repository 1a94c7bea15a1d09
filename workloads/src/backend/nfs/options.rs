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

/// What the flag `key` (an option without a value: `hard`, `noac`, `sync`...) sets; `None`
/// when `key` is no flag.
fn flag_setter(key: &str) -> Option<fn(&mut NfsOptions)> {
    let set: fn(&mut NfsOptions) = match key {
        "hard" => |o| o.retry = RetryMode::Hard,
        "soft" => |o| o.retry = RetryMode::Soft,
        "softerr" => |o| o.retry = RetryMode::Softerr,
        "ac" => |o| o.attr_cache = true,
        "noac" => |o| o.attr_cache = false,
        "rdirplus" => |o| o.rdirplus = true,
        "nordirplus" => |o| o.rdirplus = false,
        "sync" => |o| o.stable = Stability::FileSync,
        "async" => |o| o.stable = Stability::Unstable,
        "resvport" => |o| o.resvport = true,
        "noresvport" => |o| o.resvport = false,
        _ => return None,
    };
    Some(set)
}

/// Applies an option's value to the options (given its key, for messages).
type ValueSetter = fn(&mut NfsOptions, &str, &str) -> Result<(), OptionError>;

/// What the option `key=value` checks and sets; `None` when `key` takes no value or is
/// unknown.
fn value_setter(key: &str) -> Option<ValueSetter> {
    let set: ValueSetter = match key {
        "vers" | "nfsvers" => |_, k, v| {
            only(
                k,
                v,
                &["3", "3.0"],
                "the protocol backend speaks NFSv3 only (hint: vers=3)",
            )
        },
        "proto" | "mountproto" => |_, k, v| {
            only(
                k,
                v,
                &["tcp"],
                "the protocol backend uses TCP only (hint: proto=tcp)",
            )
        },
        "sec" => |_, k, v| only(k, v, &["sys"], "only AUTH_SYS is supported (hint: sec=sys)"),
        "port" | "nfsport" => |o, k, v| {
            o.nfs_port = Some(number(k, v, 1, 65_535)?);
            Ok(())
        },
        "mountport" => |o, k, v| {
            o.mount_port = Some(number(k, v, 1, 65_535)?);
            Ok(())
        },
        "pmapport" => |o, k, v| {
            o.portmapper_port = number(k, v, 1, 65_535)?;
            Ok(())
        },
        "rsize" => |o, k, v| {
            o.rsize = Some(number(k, v, 1, u64::from(u32::MAX))?);
            Ok(())
        },
        "wsize" => |o, k, v| {
            o.wsize = Some(number(k, v, 1, u64::from(u32::MAX))?);
            Ok(())
        },
        "nconnect" => |o, k, v| {
            o.nconnect = number(k, v, 1, u64::from(MAX_NCONNECT))?;
            Ok(())
        },
        "max_inflight" => |o, k, v| {
            o.max_inflight = number(k, v, 1, 65_536)?;
            Ok(())
        },
        "timeo" => |o, k, v| {
            let deciseconds: u64 = number(k, v, 1, 6000)?;
            o.timeo = Duration::from_millis(deciseconds * 100);
            Ok(())
        },
        "retrans" => |o, k, v| {
            o.retrans = number(k, v, 0, 1000)?;
            Ok(())
        },
        "actimeo" => |o, k, v| {
            let d = seconds(k, v)?;
            o.acregmin = d;
            o.acdirmin = d;
            Ok(())
        },
        "acregmin" => |o, k, v| {
            o.acregmin = seconds(k, v)?;
            Ok(())
        },
        "acdirmin" => |o, k, v| {
            o.acdirmin = seconds(k, v)?;
            Ok(())
        },
        "stable" => |o, k, v| {
            o.stable = stability(k, v)?;
            Ok(())
        },
        "uid" => |o, k, v| {
            o.uid = Some(number(k, v, 0, u64::from(u32::MAX))?);
            Ok(())
        },
        "gid" => |o, k, v| {
            o.gid = Some(number(k, v, 0, u64::from(u32::MAX))?);
            Ok(())
        },
        "connect_timeout" => |o, k, v| {
            o.connect_timeout = connect_timeout(k, v)?;
            Ok(())
        },
        "dirty_limit" => |o, k, v| {
            o.dirty_limit = parse_size(v).map_err(|e| OptionError::Value {
                key: k.to_owned(),
                value: v.to_owned(),
                reason: e.to_string(),
            })?;
            Ok(())
        },
        _ => return None,
    };
    Some(set)
}

/// Accepts `value` of `key` when it is one of `allowed` (any case); otherwise `reason`.
fn only(key: &str, value: &str, allowed: &[&str], reason: &str) -> Result<(), OptionError> {
    if allowed.contains(&value.to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(OptionError::Value {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        })
    }
}

/// `stable=unstable|data_sync|file_sync` (any case, `-` for `_`).
fn stability(key: &str, value: &str) -> Result<Stability, OptionError> {
    match value.to_ascii_lowercase().replace('-', "_").as_str() {
        "unstable" => Ok(Stability::Unstable),
        "data_sync" => Ok(Stability::DataSync),
        "file_sync" => Ok(Stability::FileSync),
        _ => Err(OptionError::Value {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: "one of unstable, data_sync, file_sync".to_owned(),
        }),
    }
}

/// `connect_timeout=D`: a duration greater than zero.
fn connect_timeout(key: &str, value: &str) -> Result<Duration, OptionError> {
    let bad = |reason: String| OptionError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let d = parse_duration(value).map_err(|e| bad(e.to_string()))?;
    if d.is_zero() {
        return Err(bad("must be greater than zero".to_owned()));
    }
    Ok(d)
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

    /// Applies one option (`key`, its value if any, and the option as `given`): a flag, an
    /// option with a value, one accepted and ignored, or an unknown key.
    fn apply_one(
        &mut self,
        key: &str,
        value: Option<&str>,
        given: &str,
    ) -> Result<(), OptionError> {
        let form = |reason| OptionError::Form {
            given: given.to_owned(),
            reason,
        };
        if let Some(set) = flag_setter(key) {
            if value.is_some() {
                return Err(form("this option takes no value"));
            }
            set(self);
        } else if let Some(set) = value_setter(key) {
            set(
                self,
                key,
                value.ok_or_else(|| form("this option takes a value (key=value)"))?,
            )?;
        } else if IGNORED.contains(&key) {
            if !self.ignored.iter().any(|i| i == given) {
                self.ignored.push(given.to_owned());
            }
        } else {
            return Err(OptionError::Unknown {
                key: key.to_owned(),
            });
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
