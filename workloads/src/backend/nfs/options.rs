//! Client parameters of the NFSv3 backend, written like `mount -o` options.
//!
//! The same `key[=value]` vocabulary is read from the URL query (`nfs://h/x?rsize=65536`,
//! `&` between options) and from `--nfs-options` (`,` between options, as in mount(8)), so a
//! benchmark profile's `mountOptions` can be replayed at protocol level unchanged.
//!
//! Every option of the kernel client is parsed by the model the harness uses too (the crate
//! `nfslab-mount-options`), and [`NfsOptions::support`] (module `support`) is the one table
//! of what this client does with each: it honours it (a parameter below), ignores it
//! (accepted and listed as ignored: `nolock`, `cto`, `acregmax`, VFS flags... mean nothing
//! without a kernel mount), or refuses it (another version, transport or security flavour
//! than it speaks). The harness reads the same table when it replays a profile, so what the
//! client ignores and what a protocol cell reports as not applicable cannot disagree. The
//! client's own keys (the last block of the table below, and `nfsport`, `stable`) are read
//! before the kernel model, in [`EXTENSIONS`] and [`FOREIGN`]. Unknown keys, malformed values
//! and conflicting pairs (`hard` + `soft`) are errors naming the option.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `vers=3`, `nfsvers=3` | protocol version (only 3) | 3 |
//! | `proto=tcp`, `mountproto=tcp`, `tcp` | transport (only TCP) | tcp |
//! | `port=N`, `nfsport=N` | NFS port (no portmapper lookup) | portmapper |
//! | `mountport=N` | MOUNT port (no portmapper lookup) | portmapper |
//! | `rsize=N`, `wsize=N` | bytes per READ/WRITE, capped by the server's FSINFO | server max, at most 1 MiB |
//! | `nconnect=N` | TCP connections, requests spread round robin (1-16) | 1 |
//! | `hard` / `soft` / `softerr` | retry until the server answers / fail after `timeo` x (`retrans` + 1) with EIO / the same with ETIMEDOUT | hard |
//! | `timeo=N` | deciseconds to wait for a reply before retransmitting (grows by `timeo` per retry, at most 600 s) | 600 |
//! | `retrans=N` | retransmissions before a soft call fails | 2 |
//! | `ac` / `noac`, `actimeo=S`, `acregmin=S`, `acdirmin=S` | attribute and name caching for metadata | ac, 3 s files, 30 s directories |
//! | `rdirplus` / `nordirplus` | READDIRPLUS or READDIR for listings | rdirplus |
//! | `sync` / `async`, `stable=unstable\|data_sync\|file_sync` | WRITE stability; unstable writes are committed at fsync points and at the end | unstable |
//! | `sec=sys` | security flavour (only AUTH_SYS) | sys |
//! | `resvport` / `noresvport` | connect from a privileged source port (needs root) | noresvport |
//! | `pmapport=N` | portmapper port | 111 |
//! | `max_inflight=N` | requests in flight per connection (the RPC slot table) | 128 |
//! | `uid=N`, `gid=N` | AUTH_SYS credentials | the process's |
//! | `connect_timeout=D` | bound on each connect and on every setup call (portmapper, MOUNT, FSINFO...) | 10s |
//! | `dirty_limit=SIZE` | uncommitted bytes a worker keeps for redo before it commits (more costs memory and page faults; less, more COMMITs) | 64m |

use std::fmt;
use std::time::Duration;

use nfslab_mount_options::{
    MountOption, Number, OptionError as MountOptionError, Recovery, Switch,
};

use super::support::{Support, support};
use crate::result::nfs::{RetryMode, Stability};
use crate::units::{format_duration, format_size, parse_duration, parse_size};

/// Largest READ/WRITE size the client uses, as the Linux client (`NFS_MAX_FILE_IO_SIZE`).
pub(crate) const CLIENT_MAX_IO: u32 = 1 << 20;
/// Smallest READ/WRITE size.
pub(crate) const CLIENT_MIN_IO: u32 = 4096;
/// Longest retransmission timeout (the Linux client's 600 s).
pub(crate) const MAX_TIMEO: Duration =
    Duration::from_millis(NfsOptions::MAX_TIMEO_DECISECONDS * 100);

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
    /// A valid mount option that asks for what this client cannot do ([`NfsOptionRefusal`](crate::NfsOptionRefusal)).
    #[error("invalid NFS option `{given}`: {reason}")]
    Refused {
        /// The option as given.
        given: String,
        /// Why, with what to write instead ([`NfsOptionRefusal::client_reason`](crate::NfsOptionRefusal::client_reason)).
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

/// The client's own options, read before the kernel's: parameters a kernel mount has no
/// option for (or spells otherwise: `nfsport` for `port`, `stable=` beside `sync`).
pub(crate) const EXTENSIONS: [&str; 8] = [
    "nfsport",
    "pmapport",
    "max_inflight",
    "stable",
    "uid",
    "gid",
    "connect_timeout",
    "dirty_limit",
];

/// Options of mount(8) and of other NFS clients that the kernel model does not know; accepted
/// with any value and listed as ignored, like the kernel options the client ignores.
pub(crate) const FOREIGN: [&str; 4] = ["_netdev", "defaults", "timeo_setup", "nosharetransport"];

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

/// `n` (the value of `key=value`) when it lies between `min` and `max` and fits `T`.
fn bounded<T: TryFrom<u64>>(
    key: &str,
    value: &str,
    n: u64,
    min: u64,
    max: u64,
) -> Result<T, OptionError> {
    let out_of_range = || OptionError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: format!("must be between {min} and {max}"),
    };
    if n < min || n > max {
        return Err(out_of_range());
    }
    T::try_from(n).map_err(|_| out_of_range())
}

fn number<T: TryFrom<u64>>(key: &str, value: &str, min: u64, max: u64) -> Result<T, OptionError> {
    let n: u64 = value.parse().map_err(|_| OptionError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: "not a whole number".to_owned(),
    })?;
    bounded(key, value, n, min, max)
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

/// The kernel model's complaint about option `given` (`key`, its value if any) in this
/// client's words.
fn kernel_model_error(
    error: MountOptionError,
    key: &str,
    value: Option<&str>,
    given: &str,
) -> OptionError {
    let value_error = |reason: String| OptionError::Value {
        key: key.to_owned(),
        value: value.unwrap_or_default().to_owned(),
        reason,
    };
    match error {
        MountOptionError::Unknown { .. } => OptionError::Unknown {
            key: key.to_owned(),
        },
        MountOptionError::MissingValue { .. } => OptionError::Form {
            given: given.to_owned(),
            reason: "this option takes a value (key=value)",
        },
        MountOptionError::UnexpectedValue { .. } => OptionError::Form {
            given: given.to_owned(),
            reason: "this option takes no value",
        },
        MountOptionError::OutOfRange { min, max, .. } => {
            value_error(format!("must be between {min} and {max}"))
        }
        MountOptionError::Malformed { expected, hint, .. } => value_error(match hint {
            Some(hint) => format!("expected {expected} (hint: {hint})"),
            None => format!("expected {expected}"),
        }),
        MountOptionError::Unsupported { reason, .. } => value_error(reason),
        // One option alone never conflicts; should the model say so, its words stand.
        other @ MountOptionError::Conflict { .. } => value_error(other.to_string()),
    }
}

impl NfsOptions {
    /// Longest retransmission timeout the client takes, deciseconds (the Linux client's
    /// 600 s).
    pub const MAX_TIMEO_DECISECONDS: u64 = 6000;
    /// Most retransmissions the client takes.
    pub const MAX_RETRANS: u64 = 1000;
    /// Longest attribute cache time the client takes, seconds (a year).
    pub const MAX_CACHE_SECONDS: u64 = 86_400 * 365;
    /// Most connections per client (the Linux `nconnect` limit).
    pub const MAX_NCONNECT: u64 = 16;

    /// What this client does with a kernel mount option: the one table of what it honours,
    /// ignores (and why) and refuses (module `support`).
    #[must_use]
    pub fn support(option: &MountOption) -> Support {
        support(option)
    }

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

    /// Applies one option (`key`, its value if any, and the option as `given`): one of the
    /// client's own, a foreign one to ignore, or a kernel option as [`Self::support`] says.
    fn apply_one(
        &mut self,
        key: &str,
        value: Option<&str>,
        given: &str,
    ) -> Result<(), OptionError> {
        if EXTENSIONS.contains(&key) {
            let value = value.ok_or_else(|| OptionError::Form {
                given: given.to_owned(),
                reason: "this option takes a value (key=value)",
            })?;
            return self.apply_extension(key, value);
        }
        if FOREIGN.contains(&key) {
            self.ignore(given);
            return Ok(());
        }
        let option =
            MountOption::parse(given).map_err(|e| kernel_model_error(e, key, value, given))?;
        match Self::support(&option) {
            Support::Honoured => self.honour(&option, key, value.unwrap_or_default()),
            Support::Ignored(_) => {
                self.ignore(given);
                Ok(())
            }
            Support::Refused(refusal) => Err(OptionError::Refused {
                given: given.to_owned(),
                reason: refusal.client_reason(),
            }),
        }
    }

    /// Lists `given` as accepted without effect (once).
    fn ignore(&mut self, given: &str) {
        if !self.ignored.iter().any(|i| i == given) {
            self.ignored.push(given.to_owned());
        }
    }

    /// Sets what an option [`Self::support`] honours says (`key=value` as given, for
    /// messages), within the client's ranges.
    fn honour(&mut self, option: &MountOption, key: &str, value: &str) -> Result<(), OptionError> {
        match *option {
            MountOption::Recovery(r) => {
                self.retry = match r {
                    Recovery::Hard => RetryMode::Hard,
                    Recovery::Soft => RetryMode::Soft,
                    Recovery::SoftErr => RetryMode::Softerr,
                }
            }
            MountOption::Sync(true) => self.stable = Stability::FileSync,
            MountOption::Sync(false) => self.stable = Stability::Unstable,
            MountOption::Switch(Switch::Ac, on) => self.attr_cache = on,
            MountOption::Switch(Switch::Rdirplus, on) => self.rdirplus = on,
            MountOption::Switch(Switch::Resvport, on) => self.resvport = on,
            MountOption::Number(number, n) => self.honour_number(number, n, key, value)?,
            // `vers=3`, `proto=tcp`, `mountproto=tcp`, `sec=sys`: what the client always does.
            _ => {}
        }
        Ok(())
    }

    /// Sets a numeric option [`Self::support`] honours.
    fn honour_number(
        &mut self,
        number: Number,
        n: u64,
        key: &str,
        value: &str,
    ) -> Result<(), OptionError> {
        let u32_max = u64::from(u32::MAX);
        let seconds =
            |n| bounded::<u64>(key, value, n, 0, Self::MAX_CACHE_SECONDS).map(Duration::from_secs);
        match number {
            Number::Rsize => self.rsize = Some(bounded(key, value, n, 1, u32_max)?),
            Number::Wsize => self.wsize = Some(bounded(key, value, n, 1, u32_max)?),
            Number::Nconnect => self.nconnect = bounded(key, value, n, 1, Self::MAX_NCONNECT)?,
            Number::Timeo => {
                let deciseconds: u64 = bounded(key, value, n, 1, Self::MAX_TIMEO_DECISECONDS)?;
                self.timeo = Duration::from_millis(deciseconds * 100);
            }
            Number::Retrans => self.retrans = bounded(key, value, n, 0, Self::MAX_RETRANS)?,
            Number::Actimeo => {
                let d = seconds(n)?;
                self.acregmin = d;
                self.acdirmin = d;
            }
            Number::Acregmin => self.acregmin = seconds(n)?,
            Number::Acdirmin => self.acdirmin = seconds(n)?,
            Number::Port => self.nfs_port = Some(bounded(key, value, n, 1, 65_535)?),
            Number::Mountport => self.mount_port = Some(bounded(key, value, n, 1, 65_535)?),
            // Not honoured (see `number_support`): never asked to.
            _ => {}
        }
        Ok(())
    }

    /// Applies one of the client's own options ([`EXTENSIONS`]).
    fn apply_extension(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        match key {
            "nfsport" => self.nfs_port = Some(number(key, value, 1, 65_535)?),
            "pmapport" => self.portmapper_port = number(key, value, 1, 65_535)?,
            "max_inflight" => self.max_inflight = number(key, value, 1, 65_536)?,
            "stable" => self.stable = stability(key, value)?,
            "uid" => self.uid = Some(number(key, value, 0, u64::from(u32::MAX))?),
            "gid" => self.gid = Some(number(key, value, 0, u64::from(u32::MAX))?),
            "connect_timeout" => self.connect_timeout = connect_timeout(key, value)?,
            "dirty_limit" => {
                self.dirty_limit = parse_size(value).map_err(|e| OptionError::Value {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    reason: e.to_string(),
                })?;
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
        // Kernel options' values are checked by the kernel model, in its words.
        let e = parse("rsize=big").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid NFS option `rsize=big`: expected a number of bytes"
        );
        let e = parse("wsize=1M").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid NFS option `wsize=1M`: expected a number of bytes (hint: units are not \
             accepted; write `wsize=1048576`)"
        );
        // The client's own options keep theirs.
        let e = parse("max_inflight=many").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid NFS option `max_inflight=many`: not a whole number"
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
    fn every_honoured_option_sets_a_parameter() {
        // One option per honoured kernel key, each at a value other than the default.
        for text in [
            "soft",
            "softerr",
            "sync",
            "noac",
            "nordirplus",
            "resvport",
            "rsize=65536",
            "wsize=65536",
            "nconnect=2",
            "timeo=10",
            "retrans=5",
            "actimeo=7",
            "acregmin=7",
            "acdirmin=7",
            "port=2050",
            "mountport=2051",
        ] {
            let option = MountOption::parse(text).unwrap();
            assert_eq!(NfsOptions::support(&option), Support::Honoured, "{text}");
            let mut o = parse(text).unwrap();
            o.requested.clear();
            assert_ne!(o, NfsOptions::default(), "`{text}` changes nothing");
        }
        // What the client always does is honoured without a change.
        let o =
            parse("vers=3,nfsvers=3,proto=tcp,mountproto=tcp,tcp,sec=sys,sec=sys:krb5").unwrap();
        assert!(o.ignored.is_empty(), "{o:?}");
        assert_eq!(o.to_string(), NfsOptions::default().to_string());
    }

    #[test]
    fn kernel_options_without_meaning_here_are_ignored() {
        let text = "nolock,cto,lookupcache=pos,acregmax=60,ro,bg,retry=2,namlen=255,\
                    addr=10.0.0.1,local_lock=none,posix,nosuid,bsize=4096,max_connect=2,\
                    strictatime,mountvers=3,fsc=tag,_netdev,defaults";
        let o = parse(text).unwrap();
        assert_eq!(o.ignored, text.split(',').collect::<Vec<_>>());
        assert_eq!(o.to_string(), NfsOptions::default().to_string());
        for (text, why) in [
            ("nolock", "NLM"),
            ("acregmax=60", "acregmin/acdirmin"),
            ("ro", "mount flag"),
        ] {
            let option = MountOption::parse(text).unwrap();
            assert!(
                matches!(NfsOptions::support(&option), Support::Ignored(reason) if reason.contains(why)),
                "{text}"
            );
        }
    }

    #[test]
    fn options_asking_for_another_protocol_are_refused() {
        for (text, why) in [
            ("vers=4.1", "NFSv3 only"),
            ("nfsvers=4", "NFSv3 only"),
            ("minorversion=1", "NFSv3 only"),
            ("udp", "TCP only"),
            ("proto=rdma", "TCP only"),
            ("mountproto=udp", "TCP only"),
            ("sec=krb5", "AUTH_SYS"),
            ("sec=krb5:sys", "AUTH_SYS"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(matches!(e, OptionError::Refused { .. }), "{text}: {e:?}");
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid NFS option `{text}`: ")),
                "{e}"
            );
            assert!(e.to_string().contains(why), "{e}");
        }
        let option = MountOption::parse("vers=4.2").unwrap();
        let Support::Refused(refusal) = NfsOptions::support(&option) else {
            panic!("vers=4.2 is refused");
        };
        assert_eq!(
            refusal.replay_reason(),
            "the protocol client speaks NFSv3 only: this cell measures NFSv3, not NFSv4.2"
        );
    }

    #[test]
    fn the_clients_limits_are_tighter_than_the_kernels() {
        for (text, range) in [
            ("timeo=6001", "between 1 and 6000"),
            ("retrans=1001", "between 0 and 1000"),
            ("acregmin=31536001", "between 0 and 31536000"),
            ("port=0", "between 1 and 65535"),
            ("nconnect=17", "between 1 and 16"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid NFS option `{text}`: must be {range}")
            );
        }
        let o = parse("timeo=6000,retrans=1000,acdirmin=31536000").unwrap();
        assert_eq!(o.timeo, MAX_TIMEO);
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
