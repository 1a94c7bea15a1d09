//! A profile's mount options as parameters of the user-space NFSv3 client.
//!
//! Protocol cells replay each profile without a mount: every option the client has an
//! equivalent for is passed to it (`nfslab-io run --nfs-options`), every other one is
//! recorded as not applicable with the reason, never dropped silently. Which options the
//! client honours, and why it ignores or refuses the others, is the client's own table
//! (`NfsOptions::support` in `nfslab-workload`), read here, so a replay and the client agree.
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

use nfslab_workload::{NfsOptionSupport, NfsOptions};
use serde::{Deserialize, Serialize};

use crate::nfs::mount_options::{MountOption, MountOptions, Number};

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

/// Maps one option: `Ok(Some(text))` passes `text` to the client, `Ok(None)` needs nothing
/// (the client's default already is what the option asks), `Err(reason)` is not applicable.
/// The client's own table ([`NfsOptions::support`]) says which options it honours; values
/// beyond its limits are capped to them, as a replay keeps the profile's intent.
fn map_one(option: &MountOption) -> Result<Option<String>, String> {
    match NfsOptions::support(option) {
        NfsOptionSupport::Honoured => {}
        NfsOptionSupport::Ignored(reason) => return Err(reason.to_owned()),
        NfsOptionSupport::Refused(refusal) => return Err(refusal.replay_reason()),
    }
    let capped = |n: Number, v: u64, max: u64| Some(format!("{}={}", n.name(), v.min(max)));
    Ok(match option {
        MountOption::Number(n @ Number::Timeo, v) => {
            capped(*n, *v, NfsOptions::MAX_TIMEO_DECISECONDS)
        }
        MountOption::Number(n @ Number::Retrans, v) => capped(*n, *v, NfsOptions::MAX_RETRANS),
        MountOption::Number(n @ (Number::Acregmin | Number::Acdirmin), v) => {
            capped(*n, *v, NfsOptions::MAX_CACHE_SECONDS)
        }
        MountOption::Number(Number::Actimeo, v) => {
            let v = (*v).min(NfsOptions::MAX_CACHE_SECONDS);
            Some(format!("acregmin={v},acdirmin={v}"))
        }
        MountOption::Number(Number::Port | Number::Mountport, 0) => None,
        // The client authenticates with the first flavour, AUTH_SYS.
        MountOption::Sec(_) => Some("sec=sys".to_owned()),
        // `vers=3`, `proto=tcp`, `hard`, `sync`, `noac`, `rsize=N`...: as written, canonical.
        other => Some(other.to_string()),
    })
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
