//! A profile's mount options as parameters of the user-space NFSv3 client.
//!
//! Protocol cells replay each profile without a mount: every option the client has an
//! equivalent for is passed to it (`nfslab-io run --nfs-options`), every other one is
//! recorded as not applicable with the reason, never dropped silently.
//!
//! | profile option | protocol client |
//! |---|---|
//! | `vers=3` | NFSv3 (the only version it speaks); `vers=4.x` is not applicable: the cell measures NFSv3 |
//! | `proto=tcp`, `mountproto=tcp` | TCP (the only transport); other transports are not applicable |
//! | `rsize`, `wsize` | bytes per READ/WRITE, capped by the server's FSINFO |
//! | `nconnect` | TCP connections, requests round robin |
//! | `hard`, `soft`, `softerr`, `timeo`, `retrans` | the same retry semantics (`timeo` at most 600 s) |
//! | `ac`, `noac`, `actimeo`, `acregmin`, `acdirmin` | attribute and name caching of metadata operations |
//! | `rdirplus`, `nordirplus` | READDIRPLUS or READDIR |
//! | `sync`, `async` | FILE_SYNC writes, or UNSTABLE writes + COMMIT |
//! | `sec=sys` | AUTH_SYS |
//! | `resvport`, `noresvport` | privileged source port or not |
//! | `port`, `mountport` | explicit NFS and MOUNT ports (0: ask the portmapper) |
//! | anything else (`nolock`, `cto`, `acregmax`, `lookupcache`, `ro`, VFS flags...) | not applicable |

use serde::{Deserialize, Serialize};

use crate::nfs::mount_options::{MountOption, MountOptions, NfsVersion, Number, SecFlavor, Switch};
use crate::nfs::mount_options::{Recovery, Transport};

/// Longest retransmission timeout the protocol client takes, deciseconds (600 s).
const MAX_TIMEO: u64 = 6000;
/// Most retransmissions the protocol client takes.
const MAX_RETRANS: u64 = 1000;
/// Longest attribute cache time the protocol client takes, seconds (a year).
const MAX_CACHE_SECONDS: u64 = 86_400 * 365;

/// A profile option the protocol client has no equivalent for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplicable {
    /// The option as written in the profile.
    pub option: String,
    /// Why it has no effect without a mount.
    pub reason: String,
}

/// A profile's options as the protocol client's parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolOptions {
    /// Options passed to the client (`--nfs-options`, joined by `,`), in profile order;
    /// every one is also a valid mount option, so reports compare them with what the client
    /// used the way they compare a mount's.
    pub options: Vec<String>,
    /// Profile options without a protocol equivalent, with the reason.
    pub not_applicable: Vec<NotApplicable>,
}

impl ProtocolOptions {
    /// The options in `mount -o` syntax.
    #[must_use]
    pub fn joined(&self) -> String {
        self.options.join(",")
    }
}

fn switch_reason(switch: Switch) -> &'static str {
    match switch {
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
        // Mapped switches never get here.
        Switch::Ac | Switch::Rdirplus | Switch::Resvport => "",
    }
}

fn number_reason(number: Number) -> &'static str {
    match number {
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
        Number::Minorversion => "an NFSv4 minor version: the protocol client speaks NFSv3",
        // Mapped numbers never get here.
        _ => "",
    }
}

/// Maps one option: `Ok(Some(text))` passes `text` to the client, `Ok(None)` needs nothing
/// (the client's default already is what the option asks), `Err(reason)` is not applicable.
fn map_one(option: &MountOption) -> Result<Option<String>, String> {
    let capped = |n: Number, v: u64, max: u64| Ok(Some(format!("{}={}", n.name(), v.min(max))));
    match option {
        MountOption::Version(NfsVersion::V3) => Ok(Some("vers=3".to_owned())),
        MountOption::Version(v) => Err(format!(
            "the protocol client speaks NFSv3 only: this cell measures NFSv3, not NFSv{v}"
        )),
        MountOption::Proto(Transport::Tcp) => Ok(Some("proto=tcp".to_owned())),
        MountOption::MountProto(Transport::Tcp) => Ok(Some("mountproto=tcp".to_owned())),
        MountOption::Proto(t) | MountOption::MountProto(t) => Err(format!(
            "the protocol client uses TCP: this cell measures TCP, not {t}"
        )),
        MountOption::Recovery(r) => Ok(Some(
            match r {
                Recovery::Hard => "hard",
                Recovery::Soft => "soft",
                Recovery::SoftErr => "softerr",
            }
            .to_owned(),
        )),
        MountOption::Sync(true) => Ok(Some("sync".to_owned())),
        MountOption::Sync(false) => Ok(Some("async".to_owned())),
        MountOption::Switch(s @ (Switch::Ac | Switch::Rdirplus | Switch::Resvport), on) => {
            Ok(Some(if *on {
                s.name().to_owned()
            } else {
                format!("no{}", s.name())
            }))
        }
        MountOption::Switch(s, _) => Err(switch_reason(*s).to_owned()),
        MountOption::Number(n @ (Number::Rsize | Number::Wsize | Number::Nconnect), v) => {
            Ok(Some(format!("{}={v}", n.name())))
        }
        MountOption::Number(n @ Number::Timeo, v) => capped(*n, *v, MAX_TIMEO),
        MountOption::Number(n @ Number::Retrans, v) => capped(*n, *v, MAX_RETRANS),
        MountOption::Number(n @ (Number::Acregmin | Number::Acdirmin), v) => {
            capped(*n, *v, MAX_CACHE_SECONDS)
        }
        MountOption::Number(Number::Actimeo, v) => {
            let v = (*v).min(MAX_CACHE_SECONDS);
            Ok(Some(format!("acregmin={v},acdirmin={v}")))
        }
        MountOption::Number(Number::Port | Number::Mountport, 0) => Ok(None),
        MountOption::Number(n @ (Number::Port | Number::Mountport), v) => {
            Ok(Some(format!("{}={v}", n.name())))
        }
        MountOption::Number(n, _) => Err(number_reason(*n).to_owned()),
        MountOption::Sec(list) if list.first() == Some(&SecFlavor::Sys) => {
            Ok(Some("sec=sys".to_owned()))
        }
        MountOption::Sec(_) => Err(
            "the protocol client authenticates with AUTH_SYS only: this cell measures sec=sys"
                .to_owned(),
        ),
        MountOption::ReadOnly(_) => {
            Err("a mount flag: the protocol client reads and writes as the job says".to_owned())
        }
        MountOption::LookupCache(_) => Err(
            "the protocol client caches names only as attributes (ac/noac, acdirmin)".to_owned(),
        ),
        MountOption::LocalLock(_) => Err(
            "locking: the benchmark takes no locks and the protocol client speaks no NLM"
                .to_owned(),
        ),
        MountOption::Address(..) => {
            Err("addresses are the server's (from --server) and the host's own".to_owned())
        }
        MountOption::Background(_) => {
            Err("how mount.nfs retries a mount: there is no mount".to_owned())
        }
        MountOption::Vfs(_) | MountOption::Other { .. } => {
            Err("a VFS mount flag: there is no mount".to_owned())
        }
    }
}

/// Maps a profile's options (as written) to the protocol client's parameters.
///
/// # Errors
/// The option problem, when the options do not pass the same checks plans do.
pub fn map_profile(requested: &[String]) -> Result<ProtocolOptions, String> {
    let parsed = MountOptions::parse_requested(requested).map_err(|e| e.error.to_string())?;
    let mut out = ProtocolOptions::default();
    for entry in parsed.entries() {
        match map_one(&entry.option) {
            Ok(Some(text)) => out.options.extend(text.split(',').map(str::to_owned)),
            Ok(None) => {}
            Err(reason) => out.not_applicable.push(NotApplicable {
                option: entry.raw.clone(),
                reason,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfslab_workload::{NfsOptions, RetryMode, Stability};
    use std::time::Duration;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The options as the protocol backend itself parses them.
    fn client(p: &ProtocolOptions) -> NfsOptions {
        let mut o = NfsOptions::default();
        o.apply_mount_options(&p.joined()).unwrap();
        o
    }

    #[test]
    fn the_documents_v3_profile_maps_everything_but_nolock() {
        let p = map_profile(&strings(&[
            "vers=3,nolock,proto=tcp,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport",
        ]))
        .unwrap();
        assert_eq!(
            p.options,
            [
                "vers=3",
                "proto=tcp",
                "rsize=1048576",
                "wsize=1048576",
                "hard",
                "timeo=600",
                "retrans=2",
                "noresvport"
            ]
        );
        assert_eq!(p.not_applicable.len(), 1);
        assert_eq!(p.not_applicable[0].option, "nolock");
        assert!(p.not_applicable[0].reason.contains("NLM"));
        let o = client(&p);
        assert_eq!((o.rsize, o.wsize), (Some(1 << 20), Some(1 << 20)));
        assert_eq!(o.retry, RetryMode::Hard);
        assert_eq!(o.timeo, Duration::from_secs(60));
        // Nothing reaches the client's own "ignored" list: the mapping decided already.
        assert!(o.ignored.is_empty());
    }

    #[test]
    fn v4_profiles_keep_their_transfer_and_cache_options() {
        let p = map_profile(&strings(&["vers=4.1", "nconnect=4"])).unwrap();
        assert_eq!(p.options, ["nconnect=4"]);
        assert_eq!(p.not_applicable[0].option, "vers=4.1");
        assert!(p.not_applicable[0].reason.contains("NFSv3"), "{p:?}");
        assert_eq!(client(&p).nconnect, 4);

        let p = map_profile(&strings(&["vers=4.1", "noac"])).unwrap();
        assert!(!client(&p).attr_cache);
        let p = map_profile(&strings(&["vers=4.1", "sync"])).unwrap();
        assert_eq!(client(&p).stable, Stability::FileSync);
        let p = map_profile(&strings(&["vers=3,soft,timeo=50,retrans=2"])).unwrap();
        let o = client(&p);
        assert_eq!(o.retry, RetryMode::Soft);
        assert_eq!(o.soft_budget(), Duration::from_secs(15));
    }

    #[test]
    fn caches_ports_and_limits() {
        let p = map_profile(&strings(&[
            "actimeo=600",
            "acregmax=60",
            "port=0",
            "mountport=20048",
            "timeo=100000",
            "lookupcache=pos",
            "ro",
            "sec=krb5",
            "nordirplus",
        ]))
        .unwrap();
        assert_eq!(
            p.options,
            [
                "acregmin=600",
                "acdirmin=600",
                "mountport=20048",
                "timeo=6000",
                "nordirplus"
            ]
        );
        let na: Vec<&str> = p.not_applicable.iter().map(|n| n.option.as_str()).collect();
        assert_eq!(na, ["acregmax=60", "lookupcache=pos", "ro", "sec=krb5"]);
        assert!(p.not_applicable.iter().all(|n| !n.reason.is_empty()));
        let o = client(&p);
        assert_eq!(o.acregmin, Duration::from_secs(600));
        assert_eq!(o.mount_port, Some(20_048));
        assert!(!o.rdirplus);
        // Every mapped option is also a valid mount option (reports diff them as such).
        assert!(MountOptions::parse_requested(&p.options).is_ok());
    }

    #[test]
    fn empty_profiles_and_invalid_options() {
        assert_eq!(map_profile(&[]).unwrap(), ProtocolOptions::default());
        assert!(map_profile(&strings(&["hard,soft"])).is_err());
    }
}
