//! What the user-space client does with each kernel mount option: the one table of what it
//! honours, what it ignores and why, and what it refuses ([`crate::NfsOptions::support`]).
//!
//! The client reads it when it applies options ([`crate::NfsOptions::ignored`] lists what it
//! ignores), and the harness reads it when it replays a benchmark profile without a mount
//! (its "not applicable" options and their reasons), so the two cannot disagree. Every
//! variant of the kernel model (`nfslab-mount-options`) is decided in a `match` here: a new
//! option does not compile until it is.

use nfslab_mount_options::{MountOption, NfsVersion, Number, SecFlavor, Switch, Transport};

/// What the client does with one kernel mount option: the answer of [`crate::NfsOptions::support`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// A client parameter carries it (within the client's ranges, see [`crate::NfsOptions`]'s
    /// `MAX_*` constants), or it asks for what the client always does (`vers=3`, `proto=tcp`,
    /// `sec=sys`).
    Honoured,
    /// Accepted without effect and listed in [`crate::NfsOptions::ignored`]; the reason says why it
    /// means nothing without a kernel mount.
    Ignored(&'static str),
    /// Asks for what the client cannot do; the client refuses it.
    Refused(Refusal),
}

/// What a refused option asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another NFS version than 3.
    Version(NfsVersion),
    /// An NFSv4 minor version (`minorversion=`).
    MinorVersion,
    /// Another transport than TCP.
    Transport(Transport),
    /// A security flavour list that does not start with AUTH_SYS.
    Security,
}

impl Refusal {
    /// Why the client refuses the option, with what to write instead (its error says this).
    #[must_use]
    pub fn client_reason(self) -> &'static str {
        match self {
            Self::Version(_) | Self::MinorVersion => {
                "the protocol backend speaks NFSv3 only (hint: vers=3)"
            }
            Self::Transport(_) => "the protocol backend uses TCP only (hint: proto=tcp)",
            Self::Security => "only AUTH_SYS is supported (hint: sec=sys)",
        }
    }

    /// Why a replay of the option on this client (a protocol cell of a benchmark) measures
    /// what the client does instead.
    #[must_use]
    pub fn replay_reason(self) -> String {
        match self {
            Self::Version(v) => format!(
                "the protocol client speaks NFSv3 only: this cell measures NFSv3, not NFSv{v}"
            ),
            Self::MinorVersion => {
                "an NFSv4 minor version: the protocol client speaks NFSv3".to_owned()
            }
            Self::Transport(t) => {
                format!("the protocol client uses TCP: this cell measures TCP, not {t}")
            }
            Self::Security => {
                "the protocol client authenticates with AUTH_SYS only: this cell measures sec=sys"
                    .to_owned()
            }
        }
    }
}

/// What the client does with a switch (an option with a `no` form).
fn switch_support(switch: Switch) -> Support {
    Support::Ignored(match switch {
        Switch::Ac | Switch::Rdirplus | Switch::Resvport => return Support::Honoured,
        Switch::Lock => {
            "NLM locking: the benchmark takes no locks and the protocol client speaks no NLM"
        }
        Switch::Cto => {
            "close-to-open consistency belongs to the kernel's page cache; the protocol client has no data cache"
        }
        Switch::Sharecache => "cache sharing between mounts: there is no mount",
        Switch::Acl => "the NFSACL side protocol: the benchmark reads and sets no ACLs",
        Switch::Fsc => "FS-Cache local caching: the protocol client has no data cache",
        Switch::Intr => {
            "ignored by Linux since 2.6.25; the protocol client has no signals to honour"
        }
        Switch::Posix => {
            "POSIX pathconf semantics of the MOUNT protocol: not used by the benchmark"
        }
        Switch::Softreval => "serving cached attributes while the server is down: not modelled",
        Switch::Atime | Switch::Diratime | Switch::Suid | Switch::Dev | Switch::Exec => {
            "a VFS mount flag: there is no mount"
        }
    })
}

/// What the client does with a numeric option.
fn number_support(number: Number) -> Support {
    Support::Ignored(match number {
        Number::Rsize
        | Number::Wsize
        | Number::Nconnect
        | Number::Timeo
        | Number::Retrans
        | Number::Actimeo
        | Number::Acregmin
        | Number::Acdirmin
        | Number::Port
        | Number::Mountport => return Support::Honoured,
        Number::Minorversion => return Support::Refused(Refusal::MinorVersion),
        Number::Acregmax | Number::Acdirmax => {
            "the protocol client keeps attributes for acregmin/acdirmin seconds; it has no adaptive maximum"
        }
        Number::Bsize => "the block size reported to applications: there is no mount",
        Number::MaxConnect => {
            "transports to several server addresses: the protocol client uses one"
        }
        Number::Mountvers => "the protocol client always speaks MOUNT v3",
        Number::Namlen => "a limit the server reports; nothing to set",
        Number::Retry => "how long mount.nfs retries the mount: there is no mount",
    })
}

/// What this client does with a kernel mount option: the one table of what it honours,
/// ignores (and why) and refuses (see the module documentation).
#[must_use]
pub(crate) fn support(option: &MountOption) -> Support {
    match option {
        MountOption::Version(NfsVersion::V3)
        | MountOption::Proto(Transport::Tcp)
        | MountOption::MountProto(Transport::Tcp)
        | MountOption::Recovery(_)
        | MountOption::Sync(_) => Support::Honoured,
        MountOption::Version(v) => Support::Refused(Refusal::Version(*v)),
        MountOption::Proto(t) | MountOption::MountProto(t) => {
            Support::Refused(Refusal::Transport(*t))
        }
        MountOption::Switch(s, _) => switch_support(*s),
        MountOption::Number(n, _) => number_support(*n),
        MountOption::Sec(list) if list.first() == Some(&SecFlavor::Sys) => Support::Honoured,
        MountOption::Sec(_) => Support::Refused(Refusal::Security),
        MountOption::ReadOnly(_) => {
            Support::Ignored("a mount flag: the protocol client reads and writes as the job says")
        }
        MountOption::LookupCache(_) => Support::Ignored(
            "the protocol client caches names only as attributes (ac/noac, acdirmin)",
        ),
        MountOption::LocalLock(_) => Support::Ignored(
            "locking: the benchmark takes no locks and the protocol client speaks no NLM",
        ),
        MountOption::Address(..) => {
            Support::Ignored("addresses are the server's (from --server) and the host's own")
        }
        MountOption::Background(_) => {
            Support::Ignored("how mount.nfs retries a mount: there is no mount")
        }
        MountOption::Vfs(_) | MountOption::Other { .. } => {
            Support::Ignored("a VFS mount flag: there is no mount")
        }
    }
}
