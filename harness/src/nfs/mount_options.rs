//! NFS mount options: a typed model, strict parsing of what users request, lenient parsing of
//! what the kernel reports, validation, and the requested-vs-effective diff reports show.
//!
//! Two sources feed the same model ([`MountOptions`]):
//! - a PV's `spec.mountOptions` (or a benchmark profile): each list item may itself hold
//!   several comma-separated options, as the kubelet joins them with commas. Parsed strictly
//!   by [`MountOptions::parse_requested`]: unknown keys, malformed values (`rsize=1M`),
//!   out-of-range numbers and conflicting pairs (`hard` + `soft`, two versions) are errors
//!   ([`OptionError`]); legal but doubtful choices (`nolock` with NFSv4, `soft`) are
//!   [`OptionWarning`]s.
//! - `/proc/self/mountinfo` inside a client pod (per-mount and super options): parsed
//!   leniently by [`MountOptions::parse_effective`], keeping keys it does not know.
//!
//! [`diff`] compares the two: what the kernel changed (`rsize=1048576` became `262144`,
//! `vers=4` became `4.2`), what it added as defaults (`hard`, `timeo=600`), and what it does
//! not report (`nolock` on NFSv4). Options the kernel never prints at their default value
//! (`ac`, `cto`, `lock`, `async`, `nconnect=1`...) count as kept when absent.
//!
//! Option names and semantics follow `nfs(5)` and the kernel's `fs/nfs/fs_context.c` and
//! `super.c` (`nfs_show_mount_options`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// NFS protocol version (`vers=` / `nfsvers=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NfsVersion {
    /// NFSv3.
    V3,
    /// NFSv4 without a minor version: the client negotiates the highest it and the server
    /// support.
    V4,
    /// NFSv4.0.
    V4_0,
    /// NFSv4.1.
    V4_1,
    /// NFSv4.2.
    V4_2,
}

impl NfsVersion {
    /// Whether this is a 4.x version.
    #[must_use]
    pub fn is_v4(self) -> bool {
        !matches!(self, Self::V3)
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "3" => Some(Self::V3),
            "4" => Some(Self::V4),
            "4.0" => Some(Self::V4_0),
            "4.1" => Some(Self::V4_1),
            "4.2" => Some(Self::V4_2),
            _ => None,
        }
    }

    fn minor(self) -> Option<u32> {
        match self {
            Self::V4_0 => Some(0),
            Self::V4_1 => Some(1),
            Self::V4_2 => Some(2),
            Self::V3 | Self::V4 => None,
        }
    }
}

impl fmt::Display for NfsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3 => "3",
            Self::V4 => "4",
            Self::V4_0 => "4.0",
            Self::V4_1 => "4.1",
            Self::V4_2 => "4.2",
        })
    }
}

/// RPC transport (`proto=`, `mountproto=`, or the bare `tcp`/`udp`/`rdma` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP over IPv4.
    Tcp,
    /// UDP over IPv4.
    Udp,
    /// RDMA.
    Rdma,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv6.
    Udp6,
    /// RDMA over IPv6.
    Rdma6,
}

impl Transport {
    const NAMES: [(&'static str, Self); 6] = [
        ("tcp", Self::Tcp),
        ("udp", Self::Udp),
        ("rdma", Self::Rdma),
        ("tcp6", Self::Tcp6),
        ("udp6", Self::Udp6),
        ("rdma6", Self::Rdma6),
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, t)| *t)
    }

    /// Whether the transport is datagram-based (no connection, no `nconnect`).
    #[must_use]
    pub fn is_udp(self) -> bool {
        matches!(self, Self::Udp | Self::Udp6)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::NAMES
            .iter()
            .find(|(_, t)| t == self)
            .map_or("tcp", |(name, _)| name);
        f.write_str(name)
    }
}

/// What the client does when the server stops answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Retry forever (the default).
    Hard,
    /// Give up after `retrans` retries and return `EIO`.
    Soft,
    /// Like `soft`, returning `ETIMEDOUT`.
    SoftErr,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
            Self::SoftErr => "softerr",
        })
    }
}

/// `lookupcache=`: which directory entry lookups the client caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupCache {
    /// Positive and negative entries (the default).
    All,
    /// Positive entries only (`pos` or `positive`).
    Positive,
    /// Nothing.
    None,
}

impl fmt::Display for LookupCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::All => "all",
            Self::Positive => "pos",
            Self::None => "none",
        })
    }
}

/// `local_lock=`: which lock kinds stay local to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalLock {
    /// Every lock goes to the server.
    None,
    /// Every lock stays local.
    All,
    /// `flock()` locks stay local.
    Flock,
    /// POSIX (`fcntl`) locks stay local.
    Posix,
}

impl fmt::Display for LocalLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::All => "all",
            Self::Flock => "flock",
            Self::Posix => "posix",
        })
    }
}

/// A security flavor of `sec=` (a `:`-separated list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecFlavor {
    /// AUTH_SYS (UIDs/GIDs), the default.
    Sys,
    /// Kerberos authentication.
    Krb5,
    /// Kerberos with integrity.
    Krb5i,
    /// Kerberos with privacy.
    Krb5p,
    /// AUTH_NULL (`none` or `null`).
    None,
}

impl SecFlavor {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "sys" => Some(Self::Sys),
            "krb5" => Some(Self::Krb5),
            "krb5i" => Some(Self::Krb5i),
            "krb5p" => Some(Self::Krb5p),
            "none" | "null" => Some(Self::None),
            _ => None,
        }
    }
}

impl fmt::Display for SecFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sys => "sys",
            Self::Krb5 => "krb5",
            Self::Krb5i => "krb5i",
            Self::Krb5p => "krb5p",
            Self::None => "none",
        })
    }
}

/// On/off options that have a `no` form. The variant names the positive form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Switch {
    /// `ac` / `noac`: attribute caching.
    Ac,
    /// `cto` / `nocto`: close-to-open consistency.
    Cto,
    /// `lock` / `nolock`: NLM locking (NFSv3).
    Lock,
    /// `resvport` / `noresvport`: privileged source port.
    Resvport,
    /// `rdirplus` / `nordirplus`: READDIRPLUS.
    Rdirplus,
    /// `sharecache` / `nosharecache`: share caches between mounts of one export.
    Sharecache,
    /// `acl` / `noacl`: the NFSACL side protocol (NFSv3).
    Acl,
    /// `fsc` / `nofsc`: local caching with FS-Cache.
    Fsc,
    /// `intr` / `nointr`: ignored since Linux 2.6.25.
    Intr,
    /// `posix` / `noposix`: POSIX semantics for NFSv2/v3 over the MOUNT protocol.
    Posix,
    /// `softreval` / `nosoftreval`: serve cached attributes when the server is down.
    Softreval,
    /// `atime` / `noatime`: access time updates (a VFS option).
    Atime,
    /// `diratime` / `nodiratime` (a VFS option).
    Diratime,
    /// `suid` / `nosuid` (a VFS option).
    Suid,
    /// `dev` / `nodev` (a VFS option).
    Dev,
    /// `exec` / `noexec` (a VFS option).
    Exec,
}

impl Switch {
    const ALL: [(&'static str, Self, bool); 16] = [
        // name, switch, default value (what the kernel does when the option is absent)
        ("ac", Self::Ac, true),
        ("cto", Self::Cto, true),
        ("lock", Self::Lock, true),
        ("resvport", Self::Resvport, true),
        ("rdirplus", Self::Rdirplus, true),
        ("sharecache", Self::Sharecache, true),
        ("acl", Self::Acl, true),
        ("fsc", Self::Fsc, false),
        ("intr", Self::Intr, false),
        ("posix", Self::Posix, false),
        ("softreval", Self::Softreval, false),
        ("atime", Self::Atime, true),
        ("diratime", Self::Diratime, true),
        ("suid", Self::Suid, true),
        ("dev", Self::Dev, true),
        ("exec", Self::Exec, true),
    ];

    /// The positive form's name (`ac`, `lock`...).
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s, _)| *s == self)
            .map_or("", |(name, _, _)| name)
    }

    /// The value the kernel uses when the option is absent.
    #[must_use]
    pub fn default_on(self) -> bool {
        Self::ALL
            .iter()
            .find(|(_, s, _)| *s == self)
            .is_some_and(|(_, _, on)| *on)
    }

    fn from_name(name: &str) -> Option<(Self, bool)> {
        if let Some((_, s, _)) = Self::ALL.iter().find(|(n, _, _)| *n == name) {
            return Some((*s, true));
        }
        let positive = name.strip_prefix("no")?;
        Self::ALL
            .iter()
            .find(|(n, _, _)| *n == positive)
            .map(|(_, s, _)| (*s, false))
    }
}

/// Numeric options (`key=N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Number {
    /// `rsize=`: bytes per READ.
    Rsize,
    /// `wsize=`: bytes per WRITE.
    Wsize,
    /// `bsize=`: block size reported to applications.
    Bsize,
    /// `timeo=`: deciseconds before the first retransmission.
    Timeo,
    /// `retrans=`: retries before a major timeout.
    Retrans,
    /// `nconnect=`: TCP connections to the server (1..16).
    Nconnect,
    /// `max_connect=`: transports to distinct server addresses (1..16).
    MaxConnect,
    /// `actimeo=`: sets all four attribute cache times, seconds.
    Actimeo,
    /// `acregmin=`: seconds.
    Acregmin,
    /// `acregmax=`: seconds.
    Acregmax,
    /// `acdirmin=`: seconds.
    Acdirmin,
    /// `acdirmax=`: seconds.
    Acdirmax,
    /// `port=`: server NFS port (0: ask rpcbind).
    Port,
    /// `mountport=`: server mountd port.
    Mountport,
    /// `mountvers=`: MOUNT protocol version.
    Mountvers,
    /// `namlen=`: longest file name.
    Namlen,
    /// `retry=`: minutes the mount helper retries (handled by `mount.nfs`).
    Retry,
    /// `minorversion=`: deprecated way to write `vers=4.N`.
    Minorversion,
}

impl Number {
    const ALL: [(&'static str, Self, u64, u64); 18] = [
        // name, option, smallest, largest accepted
        ("rsize", Self::Rsize, 1, u32::MAX as u64),
        ("wsize", Self::Wsize, 1, u32::MAX as u64),
        ("bsize", Self::Bsize, 1, u32::MAX as u64),
        ("timeo", Self::Timeo, 1, u32::MAX as u64),
        ("retrans", Self::Retrans, 0, u32::MAX as u64),
        ("nconnect", Self::Nconnect, 1, 16),
        ("max_connect", Self::MaxConnect, 1, 16),
        ("actimeo", Self::Actimeo, 0, u32::MAX as u64),
        ("acregmin", Self::Acregmin, 0, u32::MAX as u64),
        ("acregmax", Self::Acregmax, 0, u32::MAX as u64),
        ("acdirmin", Self::Acdirmin, 0, u32::MAX as u64),
        ("acdirmax", Self::Acdirmax, 0, u32::MAX as u64),
        ("port", Self::Port, 0, 65535),
        ("mountport", Self::Mountport, 0, 65535),
        ("mountvers", Self::Mountvers, 1, 3),
        ("namlen", Self::Namlen, 1, 255),
        ("retry", Self::Retry, 0, u32::MAX as u64),
        ("minorversion", Self::Minorversion, 0, 2),
    ];

    /// The option's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, n, _, _)| *n == self)
            .map_or("", |(name, ..)| name)
    }

    fn from_name(name: &str) -> Option<(Self, u64, u64)> {
        Self::ALL
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, o, min, max)| (*o, *min, *max))
    }

    /// The value the kernel uses when the option is absent, where it is fixed and the kernel
    /// does not print it at that value.
    fn unprinted_default(self) -> Option<u64> {
        match self {
            Self::Nconnect | Self::MaxConnect => Some(1),
            Self::Acregmin => Some(3),
            Self::Acregmax => Some(60),
            Self::Acdirmin => Some(30),
            Self::Acdirmax => Some(60),
            _ => None,
        }
    }
}

/// One mount option, typed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MountOption {
    /// `vers=` or `nfsvers=`.
    Version(NfsVersion),
    /// `proto=` or a bare `tcp`/`udp`/`rdma`.
    Proto(Transport),
    /// `mountproto=`.
    MountProto(Transport),
    /// `hard`, `soft` or `softerr`.
    Recovery(Recovery),
    /// `sync` (true) or `async` (false).
    Sync(bool),
    /// `ro` (true) or `rw` (false).
    ReadOnly(bool),
    /// A flag with a `no` form.
    Switch(Switch, bool),
    /// A numeric option.
    Number(Number, u64),
    /// `sec=flavor[:flavor...]`.
    Sec(Vec<SecFlavor>),
    /// `lookupcache=`.
    LookupCache(LookupCache),
    /// `local_lock=`.
    LocalLock(LocalLock),
    /// `clientaddr=`, `addr=` or `mountaddr=` (key, address).
    Address(&'static str, IpAddr),
    /// `bg` (true) or `fg` (false): handled by the mount helper.
    Background(bool),
    /// VFS-only flags the kernel may print: `relatime`, `strictatime`, `lazytime`,
    /// `dirsync`.
    Vfs(&'static str),
    /// An option this model does not know, as the kernel reported it (effective options
    /// only; requested options never contain one).
    Other {
        /// The key.
        key: String,
        /// The value after `=`, if any.
        value: Option<String>,
    },
}

const VFS_FLAGS: [&str; 5] = [
    "relatime",
    "strictatime",
    "norelatime",
    "lazytime",
    "dirsync",
];
const ADDRESS_KEYS: [&str; 3] = ["clientaddr", "addr", "mountaddr"];
const VERSION_VALUES: &str = "3, 4, 4.0, 4.1, 4.2";
const TRANSPORT_VALUES: &str = "tcp, udp, rdma, tcp6, udp6, rdma6";

impl MountOption {
    /// The key two options share when they set the same thing: `vers` for `vers=`/
    /// `nfsvers=`, `hard/soft` for the recovery mode, the positive name for switches.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Version(_) => "vers".to_owned(),
            Self::Proto(_) => "proto".to_owned(),
            Self::MountProto(_) => "mountproto".to_owned(),
            Self::Recovery(_) => "hard/soft".to_owned(),
            Self::Sync(_) => "sync/async".to_owned(),
            Self::ReadOnly(_) => "ro/rw".to_owned(),
            Self::Switch(s, _) => s.name().to_owned(),
            Self::Number(n, _) => n.name().to_owned(),
            Self::Sec(_) => "sec".to_owned(),
            Self::LookupCache(_) => "lookupcache".to_owned(),
            Self::LocalLock(_) => "local_lock".to_owned(),
            Self::Address(key, _) => (*key).to_owned(),
            Self::Background(_) => "bg/fg".to_owned(),
            Self::Vfs(name) => (*name).to_owned(),
            Self::Other { key, .. } => key.clone(),
        }
    }

    /// Parses one option (no commas), strictly.
    pub fn parse<'a>(text: &'a str) -> Result<Self, OptionError> {
        let text = text.trim();
        let (key, value) = match text.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (text, None),
        };
        let malformed = |expected: &'static str, hint: Option<String>| OptionError::Malformed {
            option: text.to_owned(),
            expected,
            hint,
        };
        let flag = |option: MountOption| match value {
            None => Ok(option),
            Some(_) => Err(OptionError::UnexpectedValue {
                option: text.to_owned(),
                key: key.to_owned(),
            }),
        };
        let needs = |v: Option<&'a str>| -> Result<&'a str, OptionError> {
            v.ok_or_else(|| OptionError::MissingValue {
                option: text.to_owned(),
                example: example_for(key),
            })
        };
        match key {
            "vers" | "nfsvers" => {
                let v = needs(value)?;
                if v == "2" {
                    return Err(OptionError::Unsupported {
                        option: text.to_owned(),
                        reason: "NFSv2 is not supported by current Linux clients (hint: use \
                                 `vers=3` or `vers=4.1`)"
                            .to_owned(),
                    });
                }
                NfsVersion::parse(v)
                    .map(Self::Version)
                    .ok_or_else(|| malformed(VERSION_VALUES, None))
            }
            "proto" | "mountproto" => {
                let v = needs(value)?;
                let t = Transport::parse(v).ok_or_else(|| malformed(TRANSPORT_VALUES, None))?;
                Ok(if key == "proto" {
                    Self::Proto(t)
                } else {
                    Self::MountProto(t)
                })
            }
            "tcp" => flag(Self::Proto(Transport::Tcp)),
            "udp" => flag(Self::Proto(Transport::Udp)),
            "rdma" => flag(Self::Proto(Transport::Rdma)),
            "hard" => flag(Self::Recovery(Recovery::Hard)),
            "soft" => flag(Self::Recovery(Recovery::Soft)),
            "softerr" => flag(Self::Recovery(Recovery::SoftErr)),
            "sync" => flag(Self::Sync(true)),
            "async" => flag(Self::Sync(false)),
            "ro" => flag(Self::ReadOnly(true)),
            "rw" => flag(Self::ReadOnly(false)),
            "bg" => flag(Self::Background(true)),
            "fg" => flag(Self::Background(false)),
            "sec" => {
                let v = needs(value)?;
                v.split(':')
                    .map(SecFlavor::parse)
                    .collect::<Option<Vec<_>>>()
                    .filter(|list| !list.is_empty())
                    .map(Self::Sec)
                    .ok_or_else(|| {
                        malformed(
                            "sys, krb5, krb5i, krb5p or none (several joined by `:`)",
                            None,
                        )
                    })
            }
            "lookupcache" => match needs(value)? {
                "all" => Ok(Self::LookupCache(LookupCache::All)),
                "pos" | "positive" => Ok(Self::LookupCache(LookupCache::Positive)),
                "none" => Ok(Self::LookupCache(LookupCache::None)),
                _ => Err(malformed("all, pos or none", None)),
            },
            "local_lock" => match needs(value)? {
                "none" => Ok(Self::LocalLock(LocalLock::None)),
                "all" => Ok(Self::LocalLock(LocalLock::All)),
                "flock" => Ok(Self::LocalLock(LocalLock::Flock)),
                "posix" => Ok(Self::LocalLock(LocalLock::Posix)),
                _ => Err(malformed("none, all, flock or posix", None)),
            },
            k if ADDRESS_KEYS.contains(&k) => {
                let v = needs(value)?;
                let name = ADDRESS_KEYS
                    .iter()
                    .find(|a| **a == k)
                    .copied()
                    .unwrap_or("addr");
                v.parse::<IpAddr>()
                    .map(|ip| Self::Address(name, ip))
                    .map_err(|_| malformed("an IP address", None))
            }
            k if VFS_FLAGS.contains(&k) => {
                let name = VFS_FLAGS
                    .iter()
                    .find(|f| **f == k)
                    .copied()
                    .unwrap_or("relatime");
                flag(Self::Vfs(name))
            }
            k => {
                if let Some((switch, on)) = Switch::from_name(k) {
                    // `fsc=tag` names a cache tag; it is still the `fsc` switch.
                    if switch == Switch::Fsc && on {
                        return Ok(Self::Switch(switch, on));
                    }
                    return flag(Self::Switch(switch, on));
                }
                if let Some((number, min, max)) = Number::from_name(k) {
                    let v = needs(value)?;
                    let parsed = v
                        .parse::<u64>()
                        .map_err(|_| malformed(number_expectation(number), unit_hint(key, v)))?;
                    if !(min..=max).contains(&parsed) {
                        return Err(OptionError::OutOfRange {
                            option: text.to_owned(),
                            min,
                            max,
                        });
                    }
                    return Ok(Self::Number(number, parsed));
                }
                Err(OptionError::Unknown {
                    option: text.to_owned(),
                    suggestion: suggest(k),
                })
            }
        }
    }

    /// Lenient parse for kernel-reported options: anything unknown or unusual becomes
    /// [`MountOption::Other`].
    #[must_use]
    pub fn parse_lenient(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|_| {
            let text = text.trim();
            match text.split_once('=') {
                Some((k, v)) => Self::Other {
                    key: k.to_owned(),
                    value: Some(v.to_owned()),
                },
                None => Self::Other {
                    key: text.to_owned(),
                    value: None,
                },
            }
        })
    }

    /// Whether the kernel leaves this option out of `/proc/self/mountinfo` when it has this
    /// value (so an absent effective option means it was kept).
    fn is_unprinted_default(&self) -> bool {
        match self {
            Self::Switch(s, on) => *on == s.default_on(),
            Self::Sync(false) => true,
            Self::Number(n, v) => n.unprinted_default() == Some(*v),
            Self::LookupCache(LookupCache::All) => true,
            _ => false,
        }
    }

    /// Whether the option only reaches the mount helper, never the kernel.
    fn helper_only(&self) -> bool {
        matches!(self, Self::Background(_) | Self::Number(Number::Retry, _))
    }
}

impl fmt::Display for MountOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(v) => write!(f, "vers={v}"),
            Self::Proto(t) => write!(f, "proto={t}"),
            Self::MountProto(t) => write!(f, "mountproto={t}"),
            Self::Recovery(r) => write!(f, "{r}"),
            Self::Sync(true) => f.write_str("sync"),
            Self::Sync(false) => f.write_str("async"),
            Self::ReadOnly(true) => f.write_str("ro"),
            Self::ReadOnly(false) => f.write_str("rw"),
            Self::Switch(s, true) => f.write_str(s.name()),
            Self::Switch(s, false) => write!(f, "no{}", s.name()),
            Self::Number(n, v) => write!(f, "{}={v}", n.name()),
            Self::Sec(list) => {
                let names: Vec<String> = list.iter().map(ToString::to_string).collect();
                write!(f, "sec={}", names.join(":"))
            }
            Self::LookupCache(l) => write!(f, "lookupcache={l}"),
            Self::LocalLock(l) => write!(f, "local_lock={l}"),
            Self::Address(key, ip) => write!(f, "{key}={ip}"),
            Self::Background(true) => f.write_str("bg"),
            Self::Background(false) => f.write_str("fg"),
            Self::Vfs(name) => f.write_str(name),
            Self::Other { key, value: None } => f.write_str(key),
            Self::Other {
                key,
                value: Some(v),
            } => write!(f, "{key}={v}"),
        }
    }
}

fn number_expectation(number: Number) -> &'static str {
    match number {
        Number::Rsize | Number::Wsize | Number::Bsize => "a number of bytes",
        Number::Timeo => "a number of deciseconds",
        Number::Actimeo
        | Number::Acregmin
        | Number::Acregmax
        | Number::Acdirmin
        | Number::Acdirmax => "a number of seconds",
        Number::Retry => "a number of minutes",
        _ => "a whole number",
    }
}

fn example_for(key: &str) -> String {
    match key {
        "vers" | "nfsvers" => format!("{key}=4.1"),
        "proto" | "mountproto" => format!("{key}=tcp"),
        "rsize" | "wsize" => format!("{key}=1048576"),
        "timeo" => "timeo=600".to_owned(),
        "retrans" => "retrans=2".to_owned(),
        "nconnect" => "nconnect=4".to_owned(),
        "sec" => "sec=sys".to_owned(),
        "lookupcache" => "lookupcache=all".to_owned(),
        "local_lock" => "local_lock=none".to_owned(),
        k if ADDRESS_KEYS.contains(&k) => format!("{k}=10.0.0.1"),
        k => format!("{k}=N"),
    }
}

/// A hint for values written with a unit (`rsize=1M`): the same amount in plain bytes.
fn unit_hint(key: &str, value: &str) -> Option<String> {
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    let number: u64 = digits.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    let bytes = number.checked_mul(1u64 << shift)?;
    matches!(key, "rsize" | "wsize" | "bsize")
        .then(|| format!("units are not accepted; write `{key}={bytes}`"))
}

/// Every option name the parser accepts, for suggestions.
fn known_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "vers",
        "nfsvers",
        "proto",
        "mountproto",
        "tcp",
        "udp",
        "rdma",
        "hard",
        "soft",
        "softerr",
        "sync",
        "async",
        "ro",
        "rw",
        "bg",
        "fg",
        "sec",
        "lookupcache",
        "local_lock",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    names.extend(ADDRESS_KEYS.iter().map(|s| (*s).to_owned()));
    names.extend(VFS_FLAGS.iter().map(|s| (*s).to_owned()));
    for (name, ..) in Switch::ALL {
        names.push(name.to_owned());
        names.push(format!("no{name}"));
    }
    names.extend(Number::ALL.iter().map(|(name, ..)| (*name).to_owned()));
    names
}

/// The closest known option name within two edits, if any.
fn suggest(key: &str) -> Option<String> {
    known_names()
        .into_iter()
        .map(|name| (edit_distance(key, &name), name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// A requested option that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// The key is not an NFS or VFS mount option.
    #[error(
        "unknown mount option `{option}`{}",
        match suggestion { Some(s) => format!(" (hint: did you mean `{s}`?)"), None => " (hint: see `man 5 nfs`)".to_owned() }
    )]
    Unknown {
        /// The option as written.
        option: String,
        /// A known option with a similar name.
        suggestion: Option<String>,
    },
    /// The value does not have the expected form.
    #[error(
        "malformed mount option `{option}`: expected {expected}{}",
        match hint { Some(h) => format!(" (hint: {h})"), None => String::new() }
    )]
    Malformed {
        /// The option as written.
        option: String,
        /// What the value should be.
        expected: &'static str,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A `key=value` option written without a value.
    #[error("mount option `{option}` needs a value (hint: e.g. `{example}`)")]
    MissingValue {
        /// The option as written.
        option: String,
        /// An example.
        example: String,
    },
    /// A flag written with a value.
    #[error("mount option `{option}` takes no value (hint: write `{key}`)")]
    UnexpectedValue {
        /// The option as written.
        option: String,
        /// The flag.
        key: String,
    },
    /// A number outside the accepted range.
    #[error("mount option `{option}` is out of range: must be between {min} and {max}")]
    OutOfRange {
        /// The option as written.
        option: String,
        /// Smallest value.
        min: u64,
        /// Largest value.
        max: u64,
    },
    /// Two options that cannot both hold.
    #[error("mount option `{option}` conflicts with `{other}` (hint: keep one of them)")]
    Conflict {
        /// The later option.
        option: String,
        /// The earlier one.
        other: String,
    },
    /// An option the Linux client refuses in this combination.
    #[error("mount option `{option}` cannot be used: {reason}")]
    Unsupported {
        /// The option as written.
        option: String,
        /// Why.
        reason: String,
    },
}

impl OptionError {
    /// The option text the error is about.
    #[must_use]
    pub fn option(&self) -> &str {
        match self {
            Self::Unknown { option, .. }
            | Self::Malformed { option, .. }
            | Self::MissingValue { option, .. }
            | Self::UnexpectedValue { option, .. }
            | Self::OutOfRange { option, .. }
            | Self::Conflict { option, .. }
            | Self::Unsupported { option, .. } => option,
        }
    }
}

/// A requested option that is legal but probably not what the user wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionWarning {
    /// Position of the list item holding the option (in the requested list).
    pub item: usize,
    /// The option as written.
    pub option: String,
    /// What to know, in one line.
    pub message: String,
}

impl fmt::Display for OptionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mount option `{}`: {}", self.option, self.message)
    }
}

/// An [`OptionError`] with the position of the list item it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ItemError {
    /// Position of the list item (0-based) in the requested list.
    pub item: usize,
    /// The problem.
    #[source]
    pub error: OptionError,
}

/// One parsed option with the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The list item it came from (0-based).
    pub item: usize,
    /// The option as written.
    pub raw: String,
    /// The option.
    pub option: MountOption,
}

/// A set of mount options in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    entries: Vec<Entry>,
    warnings: Vec<OptionWarning>,
}

impl MountOptions {
    /// Parses and validates a requested list (PV `spec.mountOptions`, a profile). Items may
    /// hold several comma-separated options. Returns the first error, with its item.
    pub fn parse_requested<S: AsRef<str>>(items: &[S]) -> Result<Self, ItemError> {
        let mut entries = Vec::new();
        for (item, text) in items.iter().enumerate() {
            for raw in text.as_ref().split(',').map(str::trim) {
                if raw.is_empty() {
                    continue;
                }
                let option = MountOption::parse(raw).map_err(|error| ItemError { item, error })?;
                entries.push(Entry {
                    item,
                    raw: raw.to_owned(),
                    option,
                });
            }
        }
        let mut options = Self {
            entries,
            warnings: Vec::new(),
        };
        options.warnings = options.check()?;
        Ok(options)
    }

    /// Parses kernel-reported options (a mountinfo option field, or per-mount and super
    /// options joined), keeping unknown ones.
    #[must_use]
    pub fn parse_effective<S: AsRef<str>>(parts: &[S]) -> Self {
        let entries = parts
            .iter()
            .flat_map(|p| {
                p.as_ref()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|raw| Entry {
                item: 0,
                option: MountOption::parse_lenient(&raw),
                raw,
            })
            .collect();
        Self {
            entries,
            warnings: Vec::new(),
        }
    }

    /// The options, in order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Validation warnings (requested options only).
    #[must_use]
    pub fn warnings(&self) -> &[OptionWarning] {
        &self.warnings
    }

    /// Whether no option is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last option with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&MountOption> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.option.key() == key)
            .map(|e| &e.option)
    }

    /// The NFS version asked for or reported.
    #[must_use]
    pub fn version(&self) -> Option<NfsVersion> {
        match self.get("vers") {
            Some(MountOption::Version(v)) => Some(*v),
            _ => None,
        }
    }

    /// A numeric option's value.
    #[must_use]
    pub fn number(&self, number: Number) -> Option<u64> {
        match self.get(number.name()) {
            Some(MountOption::Number(_, v)) => Some(*v),
            _ => None,
        }
    }

    /// The options in canonical form (`vers=` for `nfsvers=`, `proto=tcp` for `tcp`).
    #[must_use]
    pub fn canonical(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.option.to_string()).collect()
    }

    /// Conflicts (errors) and doubtful choices (warnings) across options.
    fn check(&self) -> Result<Vec<OptionWarning>, ItemError> {
        let mut warnings = Vec::new();
        self.check_repeats(&mut warnings)?;
        self.check_minorversion(&mut warnings)?;
        self.check_transport(&mut warnings)?;
        self.warn_v4_switches(&mut warnings);
        self.warn_doubtful(&mut warnings);
        self.warn_attribute_cache(&mut warnings);
        Ok(warnings)
    }

    /// The first option `pred` holds for.
    fn first_where(&self, pred: &dyn Fn(&MountOption) -> bool) -> Option<&Entry> {
        self.entries.iter().find(|e| pred(&e.option))
    }

    /// An option given twice: a warning with the same value, a conflict with another.
    fn check_repeats(&self, warnings: &mut Vec<OptionWarning>) -> Result<(), ItemError> {
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(earlier) = self.entries[..i]
                .iter()
                .find(|o| o.option.key() == e.option.key())
            {
                if earlier.option == e.option {
                    warn(warnings, e, "given twice".to_owned());
                } else {
                    return Err(ItemError {
                        item: e.item,
                        error: OptionError::Conflict {
                            option: e.raw.clone(),
                            other: earlier.raw.clone(),
                        },
                    });
                }
            }
        }
        Ok(())
    }

    /// `minorversion`: NFSv4 only, agreeing with `vers=4.N`, and deprecated.
    fn check_minorversion(&self, warnings: &mut Vec<OptionWarning>) -> Result<(), ItemError> {
        let version = self.version();
        let Some(minor_entry) =
            self.first_where(&|o| matches!(o, MountOption::Number(Number::Minorversion, _)))
        else {
            return Ok(());
        };
        let minor = self.number(Number::Minorversion);
        match version {
            Some(NfsVersion::V3) | None => {
                return Err(ItemError {
                    item: minor_entry.item,
                    error: OptionError::Unsupported {
                        option: minor_entry.raw.clone(),
                        reason: "`minorversion` needs `vers=4` (hint: write `vers=4.N` \
                                 instead)"
                            .to_owned(),
                    },
                });
            }
            Some(v) if v.minor().is_some() && v.minor().map(u64::from) != minor => {
                let vers = self.first_where(&|o| matches!(o, MountOption::Version(_)));
                return Err(ItemError {
                    item: minor_entry.item,
                    error: OptionError::Conflict {
                        option: minor_entry.raw.clone(),
                        other: vers.map_or_else(|| format!("vers={v}"), |e| e.raw.clone()),
                    },
                });
            }
            Some(_) => warn(
                warnings,
                minor_entry,
                "deprecated; write `vers=4.N`".to_owned(),
            ),
        }
        Ok(())
    }

    /// UDP: refused with NFSv4, and `nconnect` has no effect over it.
    fn check_transport(&self, warnings: &mut Vec<OptionWarning>) -> Result<(), ItemError> {
        let is_v4 = self.version().is_some_and(NfsVersion::is_v4);
        if let Some(e) = self.first_where(&|o| matches!(o, MountOption::Proto(t) if t.is_udp())) {
            if is_v4 {
                return Err(ItemError {
                    item: e.item,
                    error: OptionError::Unsupported {
                        option: e.raw.clone(),
                        reason: "NFSv4 needs a connection-oriented transport (hint: use \
                                 `proto=tcp`)"
                            .to_owned(),
                    },
                });
            }
            if let Some(n) = self
                .first_where(&|o| matches!(o, MountOption::Number(Number::Nconnect, v) if *v > 1))
            {
                warn(
                    warnings,
                    n,
                    "has no effect over UDP (one socket serves every request)".to_owned(),
                );
            }
        }
        Ok(())
    }

    /// NFSv3 switches that mean nothing with NFSv4 (`nolock`, `acl`).
    fn warn_v4_switches(&self, warnings: &mut Vec<OptionWarning>) {
        if !self.version().is_some_and(NfsVersion::is_v4) {
            return;
        }
        if let Some(e) =
            self.first_where(&|o| matches!(o, MountOption::Switch(Switch::Lock, false)))
        {
            warn(
                warnings,
                e,
                "is meaningless with NFSv4, whose locking is part of the protocol (the \
                 kernel does not report it)"
                    .to_owned(),
            );
        }
        if let Some(e) = self.first_where(&|o| matches!(o, MountOption::Switch(Switch::Acl, _))) {
            warn(
                warnings,
                e,
                "applies to the NFSv3 NFSACL protocol only".to_owned(),
            );
        }
    }

    /// Soft mounts, sizes the kernel rounds, and `intr`.
    fn warn_doubtful(&self, warnings: &mut Vec<OptionWarning>) {
        if let Some(e) = self.first_where(&|o| {
            matches!(o, MountOption::Recovery(Recovery::Soft | Recovery::SoftErr))
        }) {
            warn(
                warnings,
                e,
                "returns errors to applications when the server is slow or away, which can \
                 lose written data; use it only for fault experiments"
                    .to_owned(),
            );
        }
        for e in &self.entries {
            if let MountOption::Number(n @ (Number::Rsize | Number::Wsize), v) = e.option
                && (!v.is_power_of_two() || !(4096..=1_048_576).contains(&v))
            {
                warn(
                    warnings,
                    e,
                    format!(
                        "the kernel rounds {} to what it supports (powers of two from 4096 \
                         to 1048576, capped by the server); the effective value is recorded",
                        n.name()
                    ),
                );
            }
            if matches!(e.option, MountOption::Switch(Switch::Intr, _)) {
                warn(warnings, e, "ignored by Linux since 2.6.25".to_owned());
            }
        }
    }

    /// Attribute cache times that override `actimeo`, or that `noac` makes pointless.
    fn warn_attribute_cache(&self, warnings: &mut Vec<OptionWarning>) {
        let actimeo = self.first_where(&|o| matches!(o, MountOption::Number(Number::Actimeo, _)));
        let per_kind = self.first_where(&|o| {
            matches!(
                o,
                MountOption::Number(
                    Number::Acregmin | Number::Acregmax | Number::Acdirmin | Number::Acdirmax,
                    _
                )
            )
        });
        if let (Some(a), Some(p)) = (actimeo, per_kind) {
            warn(
                warnings,
                p,
                format!(
                    "overrides part of `{}`, which sets all four attribute cache times",
                    a.raw
                ),
            );
        }
        let noac = self.first_where(&|o| matches!(o, MountOption::Switch(Switch::Ac, false)));
        if let (Some(n), Some(a)) = (noac, actimeo.or(per_kind)) {
            warn(
                warnings,
                a,
                format!("has no effect together with `{}`", n.raw),
            );
        }
    }
}

/// Records a doubtful choice of option `e`.
fn warn(warnings: &mut Vec<OptionWarning>, e: &Entry, message: String) {
    warnings.push(OptionWarning {
        item: e.item,
        option: e.raw.clone(),
        message,
    });
}

/// How one option differs between the request and what the kernel reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// Requested and reported with the same value (or a default the kernel does not print).
    Same,
    /// Reported with another value (negotiated, rounded or capped).
    Changed,
    /// Requested but not reported (ignored, meaningless for this version, or handled by the
    /// mount helper).
    NotReported,
    /// Reported without being requested: a default the kernel chose.
    Default,
    /// Reported without being requested, describing the mount rather than a choice
    /// (addresses, `namlen`, `rw`).
    Informational,
}

/// One line of a requested-vs-effective comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionDiff {
    /// What the option sets (`vers`, `rsize`, `hard/soft`, `lock`...).
    pub key: String,
    /// As requested (canonical form), if requested.
    pub requested: Option<String>,
    /// As the kernel reports it, if reported.
    pub effective: Option<String>,
    /// How they relate.
    pub kind: DiffKind,
    /// Why, when it helps.
    pub note: Option<String>,
}

impl OptionDiff {
    /// Whether the report should flag this line (the kernel did not do what was asked).
    #[must_use]
    pub fn flagged(&self) -> bool {
        matches!(self.kind, DiffKind::Changed | DiffKind::NotReported)
    }
}

const INFORMATIONAL_KEYS: [&str; 9] = [
    "addr",
    "clientaddr",
    "mountaddr",
    "mountport",
    "mountproto",
    "mountvers",
    "namlen",
    "ro/rw",
    "relatime",
];

/// Compares requested options with the effective ones: requested keys first in request
/// order, then options only the kernel reports, in its order.
#[must_use]
pub(crate) fn diff(requested: &MountOptions, effective: &MountOptions) -> Vec<OptionDiff> {
    let mut requested_options: Vec<MountOption> = Vec::new();
    // `actimeo=N` is expanded into the four times it sets; a later option with the same key
    // replaces an earlier one, as in the kernel.
    for e in requested.entries() {
        match e.option {
            MountOption::Number(Number::Actimeo, v) => {
                for n in [
                    Number::Acregmin,
                    Number::Acregmax,
                    Number::Acdirmin,
                    Number::Acdirmax,
                ] {
                    requested_options.retain(|o| o.key() != n.name());
                    requested_options.push(MountOption::Number(n, v));
                }
            }
            ref other => {
                requested_options.retain(|o| o.key() != other.key());
                requested_options.push(other.clone());
            }
        }
    }
    let mut out = Vec::new();
    for asked in &requested_options {
        let key = asked.key();
        let reported = effective.get(&key);
        let (kind, note) = match reported {
            Some(got) if got == asked => (DiffKind::Same, None),
            Some(got) => (DiffKind::Changed, change_note(asked, got)),
            None if asked.helper_only() => (
                DiffKind::NotReported,
                Some("handled by the mount helper, not the kernel".to_owned()),
            ),
            None if asked.is_unprinted_default() => (
                DiffKind::Same,
                Some("the default; the kernel does not print it".to_owned()),
            ),
            None => (DiffKind::NotReported, not_reported_note(asked, effective)),
        };
        out.push(OptionDiff {
            key,
            requested: Some(asked.to_string()),
            effective: reported.map(ToString::to_string),
            kind,
            note,
        });
    }
    let mut seen: Vec<String> = requested_options.iter().map(MountOption::key).collect();
    for e in effective.entries() {
        let key = e.option.key();
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        let kind = if INFORMATIONAL_KEYS.contains(&key.as_str()) {
            DiffKind::Informational
        } else {
            DiffKind::Default
        };
        out.push(OptionDiff {
            key,
            requested: None,
            effective: Some(e.option.to_string()),
            kind,
            note: None,
        });
    }
    out
}

fn change_note(asked: &MountOption, got: &MountOption) -> Option<String> {
    match (asked, got) {
        (MountOption::Version(NfsVersion::V4), MountOption::Version(_)) => {
            Some("negotiated the highest 4.x minor version client and server share".to_owned())
        }
        (MountOption::Version(_), MountOption::Version(_)) => {
            Some("the server does not offer the requested version".to_owned())
        }
        (MountOption::Number(Number::Rsize | Number::Wsize, a), MountOption::Number(_, b))
            if b < a =>
        {
            Some("lowered to the server's or the client's maximum".to_owned())
        }
        _ => None,
    }
}

fn not_reported_note(asked: &MountOption, effective: &MountOptions) -> Option<String> {
    match asked {
        MountOption::Switch(Switch::Lock, false)
            if effective.version().is_some_and(NfsVersion::is_v4) =>
        {
            Some("NFSv4 has no separate lock protocol".to_owned())
        }
        MountOption::Switch(Switch::Fsc, true) => {
            Some("FS-Cache is not available on the node (cachefilesd)".to_owned())
        }
        _ => None,
    }
}

impl FromStr for MountOptions {
    type Err = ItemError;

    /// Parses a comma-separated requested option string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_requested(&[s])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested(items: &[&str]) -> MountOptions {
        MountOptions::parse_requested(items).unwrap()
    }

    fn error(items: &[&str]) -> ItemError {
        MountOptions::parse_requested(items).unwrap_err()
    }

    #[test]
    fn documents_nas_recommendation_parses_to_typed_values() {
        let o = requested(&[
            "vers=3",
            "nolock",
            "proto=tcp",
            "rsize=1048576",
            "wsize=1048576",
            "hard",
            "timeo=600",
            "retrans=2",
            "noresvport",
        ]);
        assert_eq!(o.version(), Some(NfsVersion::V3));
        assert_eq!(o.number(Number::Rsize), Some(1_048_576));
        assert_eq!(o.number(Number::Timeo), Some(600));
        assert_eq!(
            o.get("lock"),
            Some(&MountOption::Switch(Switch::Lock, false))
        );
        assert_eq!(
            o.get("resvport"),
            Some(&MountOption::Switch(Switch::Resvport, false))
        );
        assert_eq!(o.get("proto"), Some(&MountOption::Proto(Transport::Tcp)));
        assert_eq!(
            o.get("hard/soft"),
            Some(&MountOption::Recovery(Recovery::Hard))
        );
        assert!(o.warnings().is_empty(), "{:?}", o.warnings());
    }

    #[test]
    fn every_documented_option_parses() {
        let all = "vers=4.2,nfsvers=4.2,proto=rdma,rsize=65536,wsize=65536,softerr,timeo=10,\
                   retrans=5,nconnect=16,noac,actimeo=0,acregmin=1,acregmax=2,acdirmin=3,\
                   acdirmax=4,async,lock,resvport,sec=krb5:krb5p,port=2049,namlen=255,\
                   lookupcache=positive,fsc,nocto,nordirplus,local_lock=flock,\
                   clientaddr=10.0.0.2,ro,noatime,nosuid,bg,max_connect=2";
        let o = requested(&[all]);
        assert_eq!(o.entries().len(), 32);
        assert_eq!(o.version(), Some(NfsVersion::V4_2));
        assert_eq!(
            o.get("sec"),
            Some(&MountOption::Sec(vec![SecFlavor::Krb5, SecFlavor::Krb5p]))
        );
        assert_eq!(
            o.get("lookupcache").map(ToString::to_string).as_deref(),
            Some("lookupcache=pos")
        );
        // nfsvers is canonicalised, duplicates of the same value only warn.
        assert_eq!(o.canonical()[1], "vers=4.2");
        assert!(o.warnings().iter().any(|w| w.message == "given twice"));
        for v in ["3", "4", "4.0", "4.1", "4.2"] {
            assert_eq!(
                requested(&[&format!("vers={v}")])
                    .version()
                    .unwrap()
                    .to_string(),
                v
            );
        }
    }

    #[test]
    fn unit_suffix_is_malformed_with_a_byte_hint() {
        let e = error(&["vers=4.1", "rsize=1M"]);
        assert_eq!(e.item, 1);
        assert_eq!(e.error.option(), "rsize=1M");
        let text = e.to_string();
        assert!(text.contains("`rsize=1M`"), "{text}");
        assert!(text.contains("`rsize=1048576`"), "{text}");
        let e = error(&["wsize=64k"]);
        assert!(e.to_string().contains("`wsize=65536`"), "{e}");
        let e = error(&["timeo=1m"]);
        assert!(e.to_string().contains("deciseconds"), "{e}");
    }

    #[test]
    fn unknown_options_suggest_the_closest_name() {
        let e = error(&["rsise=1048576"]);
        assert_eq!(
            e.error,
            OptionError::Unknown {
                option: "rsise=1048576".to_owned(),
                suggestion: Some("rsize".to_owned())
            }
        );
        assert!(e.to_string().contains("did you mean `rsize`"), "{e}");
        let e = error(&["nolocks"]);
        assert!(e.to_string().contains("`nolock`"), "{e}");
        let e = error(&["turbo"]);
        assert!(e.to_string().contains("man 5 nfs"), "{e}");
    }

    #[test]
    fn malformed_and_out_of_range_values() {
        assert!(matches!(
            error(&["vers=4.3"]).error,
            OptionError::Malformed { .. }
        ));
        assert!(matches!(
            error(&["vers=2"]).error,
            OptionError::Unsupported { .. }
        ));
        assert!(matches!(
            error(&["proto=sctp"]).error,
            OptionError::Malformed { .. }
        ));
        assert!(matches!(
            error(&["nconnect=17"]).error,
            OptionError::OutOfRange {
                min: 1,
                max: 16,
                ..
            }
        ));
        assert!(matches!(
            error(&["nconnect=0"]).error,
            OptionError::OutOfRange { .. }
        ));
        assert!(matches!(
            error(&["timeo=0"]).error,
            OptionError::OutOfRange { .. }
        ));
        assert!(matches!(
            error(&["port=70000"]).error,
            OptionError::OutOfRange { .. }
        ));
        assert!(matches!(
            error(&["rsize"]).error,
            OptionError::MissingValue { .. }
        ));
        assert!(matches!(
            error(&["hard=1"]).error,
            OptionError::UnexpectedValue { .. }
        ));
        assert!(matches!(
            error(&["clientaddr=node1"]).error,
            OptionError::Malformed { .. }
        ));
        assert!(matches!(
            error(&["sec=kerberos"]).error,
            OptionError::Malformed { .. }
        ));
        assert!(matches!(
            error(&["lookupcache=some"]).error,
            OptionError::Malformed { .. }
        ));
    }

    #[test]
    fn conflicts_name_both_options() {
        let e = error(&["hard", "soft"]);
        assert_eq!(
            e.error,
            OptionError::Conflict {
                option: "soft".to_owned(),
                other: "hard".to_owned()
            }
        );
        assert_eq!(e.item, 1);
        assert!(
            e.to_string().contains("`soft` conflicts with `hard`"),
            "{e}"
        );
        let e = error(&["vers=3,nfsvers=4.1"]);
        assert!(matches!(e.error, OptionError::Conflict { .. }), "{e}");
        assert_eq!(e.item, 0);
        assert!(matches!(
            error(&["ac", "noac"]).error,
            OptionError::Conflict { .. }
        ));
        assert!(matches!(
            error(&["sync", "async"]).error,
            OptionError::Conflict { .. }
        ));
        assert!(matches!(
            error(&["rsize=4096", "rsize=8192"]).error,
            OptionError::Conflict { .. }
        ));
        assert!(matches!(
            error(&["soft", "softerr"]).error,
            OptionError::Conflict { .. }
        ));
        assert!(matches!(
            error(&["vers=4.1", "minorversion=2"]).error,
            OptionError::Conflict { .. }
        ));
        assert!(matches!(
            error(&["vers=3", "minorversion=1"]).error,
            OptionError::Unsupported { .. }
        ));
        assert!(matches!(
            error(&["vers=4.1", "proto=udp"]).error,
            OptionError::Unsupported { .. }
        ));
        assert!(matches!(
            error(&["vers=4", "udp"]).error,
            OptionError::Unsupported { .. }
        ));
    }

    #[test]
    fn doubtful_but_legal_choices_warn() {
        let o = requested(&["vers=4.1", "nolock"]);
        assert_eq!(o.warnings().len(), 1);
        assert_eq!(o.warnings()[0].option, "nolock");
        assert!(
            o.warnings()[0].message.contains("meaningless"),
            "{:?}",
            o.warnings()
        );
        // nconnect with NFSv3 is fine.
        assert!(requested(&["vers=3", "nconnect=4"]).warnings().is_empty());
        let o = requested(&["vers=3", "soft", "timeo=50", "retrans=2"]);
        assert!(o.warnings()[0].message.contains("lose written data"));
        let o = requested(&["rsize=1000000"]);
        assert!(
            o.warnings()[0].message.contains("rounds rsize"),
            "{:?}",
            o.warnings()
        );
        let o = requested(&["vers=3", "udp", "nconnect=4"]);
        assert!(o.warnings()[0].message.contains("UDP"));
        let o = requested(&["noac", "actimeo=3"]);
        assert!(o.warnings()[0].message.contains("no effect"));
        let o = requested(&["vers=4", "minorversion=1"]);
        assert!(o.warnings()[0].message.contains("deprecated"));
        assert_eq!(requested(&["intr"]).warnings().len(), 1);
    }

    #[test]
    fn effective_parse_keeps_unknown_keys() {
        let e = MountOptions::parse_effective(&[
            "rw,relatime",
            "rw,vers=4.2,rsize=262144,wsize=262144,namlen=255,hard,proto=tcp,timeo=600,\
             retrans=2,sec=sys,clientaddr=10.244.1.5,local_lock=none,write=eager,addr=10.96.12.7",
        ]);
        assert_eq!(e.version(), Some(NfsVersion::V4_2));
        assert_eq!(e.number(Number::Rsize), Some(262_144));
        assert_eq!(
            e.get("write"),
            Some(&MountOption::Other {
                key: "write".to_owned(),
                value: Some("eager".to_owned())
            })
        );
    }

    fn kinds(d: &[OptionDiff]) -> Vec<(String, DiffKind)> {
        d.iter().map(|x| (x.key.clone(), x.kind)).collect()
    }

    #[test]
    fn diff_shows_what_the_kernel_changed_and_added() {
        // The documents' case: asked 1 MiB, got 256 KiB; asked vers=4, got 4.2.
        let asked = requested(&[
            "vers=4",
            "rsize=1048576",
            "wsize=1048576",
            "hard",
            "nconnect=1",
        ]);
        let got = MountOptions::parse_effective(&[
            "rw,relatime",
            "rw,vers=4.2,rsize=262144,wsize=262144,namlen=255,hard,proto=tcp,timeo=600,\
             retrans=2,sec=sys,clientaddr=10.244.1.5,local_lock=none,addr=10.96.12.7",
        ]);
        let d = diff(&asked, &got);
        let by_key = |k: &str| d.iter().find(|x| x.key == k).unwrap();
        let vers = by_key("vers");
        assert_eq!(vers.kind, DiffKind::Changed);
        assert_eq!(vers.requested.as_deref(), Some("vers=4"));
        assert_eq!(vers.effective.as_deref(), Some("vers=4.2"));
        assert!(vers.note.as_deref().unwrap().contains("negotiated"));
        let rsize = by_key("rsize");
        assert_eq!(
            (rsize.kind, rsize.effective.as_deref()),
            (DiffKind::Changed, Some("rsize=262144"))
        );
        assert!(rsize.flagged());
        assert_eq!(by_key("hard/soft").kind, DiffKind::Same);
        // nconnect=1 is never printed: kept, not flagged.
        assert_eq!(by_key("nconnect").kind, DiffKind::Same);
        assert!(!by_key("nconnect").flagged());
        assert_eq!(by_key("timeo").kind, DiffKind::Default);
        assert_eq!(by_key("proto").kind, DiffKind::Default);
        assert_eq!(by_key("clientaddr").kind, DiffKind::Informational);
        assert_eq!(by_key("ro/rw").kind, DiffKind::Informational);
        assert_eq!(d.iter().filter(|x| x.flagged()).count(), 3);
        // Requested keys come first, in request order.
        assert_eq!(
            kinds(&d)[..3]
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["vers", "rsize", "wsize"]
        );
    }

    #[test]
    fn diff_of_nolock_on_v4_and_actimeo_expansion() {
        let asked = requested(&["vers=4.1", "nolock", "actimeo=5", "bg"]);
        let got = MountOptions::parse_effective(&[
            "rw,vers=4.1,rsize=1048576,wsize=1048576,namlen=255,acregmin=5,acregmax=5,\
             acdirmin=5,acdirmax=5,hard,proto=tcp,timeo=600,retrans=2,sec=sys",
        ]);
        let d = diff(&asked, &got);
        let lock = d.iter().find(|x| x.key == "lock").unwrap();
        assert_eq!(lock.kind, DiffKind::NotReported);
        assert!(lock.note.as_deref().unwrap().contains("NFSv4"));
        for k in ["acregmin", "acregmax", "acdirmin", "acdirmax"] {
            let line = d.iter().find(|x| x.key == k).unwrap();
            assert_eq!(line.kind, DiffKind::Same, "{line:?}");
        }
        let bg = d.iter().find(|x| x.key == "bg/fg").unwrap();
        assert_eq!(bg.kind, DiffKind::NotReported);
        assert!(bg.note.as_deref().unwrap().contains("mount helper"));
    }

    #[test]
    fn diff_of_identical_v3_request() {
        let text = "vers=3,nolock,proto=tcp,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport";
        let asked: MountOptions = text.parse().unwrap();
        let got =
            MountOptions::parse_effective(&[&format!("rw,{text},namlen=255,sec=sys,mountvers=3")]);
        let d = diff(&asked, &got);
        assert!(d.iter().all(|x| !x.flagged()), "{d:?}");
        assert_eq!(
            d.iter().find(|x| x.key == "sec").unwrap().kind,
            DiffKind::Default
        );
        assert_eq!(
            d.iter().find(|x| x.key == "mountvers").unwrap().kind,
            DiffKind::Informational
        );
    }

    #[test]
    fn empty_request_reports_only_defaults() {
        let d = diff(
            &MountOptions::default(),
            &MountOptions::parse_effective(&["rw,vers=4.1,hard"]),
        );
        assert_eq!(
            kinds(&d),
            vec![
                ("ro/rw".to_owned(), DiffKind::Informational),
                ("vers".to_owned(), DiffKind::Default),
                ("hard/soft".to_owned(), DiffKind::Default)
            ]
        );
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("rsize", "rsize"), 0);
        assert_eq!(edit_distance("rsise", "rsize"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
