//! One mount option, typed: the protocol version, transport, recovery mode, switches with a
//! `no` form, numbers with their accepted ranges, security flavours, the VFS flags the kernel
//! may print, and the strict parser of one option with its "did you mean" suggestions.

use std::fmt;
use std::net::IpAddr;

use crate::error::OptionError;

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

    pub(crate) fn minor(self) -> Option<u32> {
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
    pub(crate) fn is_unprinted_default(&self) -> bool {
        match self {
            Self::Switch(s, on) => *on == s.default_on(),
            Self::Sync(false) => true,
            Self::Number(n, v) => n.unprinted_default() == Some(*v),
            Self::LookupCache(LookupCache::All) => true,
            _ => false,
        }
    }

    /// Whether the option only reaches the mount helper, never the kernel.
    pub(crate) fn helper_only(&self) -> bool {
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
        .map(|name| (strsim::levenshtein(key, &name), name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}
