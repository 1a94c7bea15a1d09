//! The requested-vs-effective comparison reports show: what the kernel changed
//! (`rsize=1048576` became `262144`, `vers=4` became `4.2`), what it added as defaults
//! (`hard`, `timeo=600`), and what it does not report (`nolock` on NFSv4). Options the kernel
//! never prints at their default value (`ac`, `cto`, `lock`, `async`, `nconnect=1`...) count
//! as kept when absent.

use serde::{Deserialize, Serialize};

use crate::list::MountOptions;
use crate::option::{MountOption, NfsVersion, Number, Switch};

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
pub fn diff(requested: &MountOptions, effective: &MountOptions) -> Vec<OptionDiff> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn requested(items: &[&str]) -> MountOptions {
        MountOptions::parse_requested(items).unwrap()
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
}
