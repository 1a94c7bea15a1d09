//! A list of mount options in the order given ([`MountOptions`]): the strict parse of a
//! request with its checks across options (conflicts, `minorversion`, UDP with NFSv4) and
//! warnings, and the lenient parse of what the kernel reports.

use std::str::FromStr;

use crate::error::{ItemError, OptionError, OptionWarning};
use crate::option::{MountOption, NfsVersion, Number, Recovery, Switch};

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
    use crate::option::{SecFlavor, Transport};

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
}
