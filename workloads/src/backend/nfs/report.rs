//! Filling the result's `nfs` section: the client parameters in effect after negotiation,
//! and the requested values the negotiation changed. The section's types live with the
//! result document ([`crate::result::nfs`]).

use super::options::NfsOptions;
use crate::result::nfs::{EffectiveOptions, FsInfo};

impl EffectiveOptions {
    /// The effective values of `options` with the negotiated sizes and credentials.
    #[must_use]
    pub fn new(
        options: &NfsOptions,
        rsize: u32,
        wsize: u32,
        creds: (u32, u32),
    ) -> EffectiveOptions {
        EffectiveOptions {
            rsize,
            wsize,
            nconnect: options.nconnect,
            max_inflight: options.max_inflight,
            retry: options.retry,
            timeo: u64::try_from(options.timeo.as_millis() / 100).unwrap_or(u64::MAX),
            retrans: options.retrans,
            attr_cache: options.attr_cache,
            acregmin: options.acregmin.as_secs(),
            acdirmin: options.acdirmin.as_secs(),
            rdirplus: options.rdirplus,
            stable: options.stable,
            uid: creds.0,
            gid: creds.1,
            resvport: options.resvport,
            dirty_limit: options.dirty_limit,
        }
    }
}

/// Requested sizes the negotiation changed, described for people.
#[must_use]
pub(crate) fn differences(
    options: &NfsOptions,
    effective: &EffectiveOptions,
    fsinfo: &FsInfo,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, asked, used, server) in [
        ("rsize", options.rsize, effective.rsize, fsinfo.rtmax),
        ("wsize", options.wsize, effective.wsize, fsinfo.wtmax),
    ] {
        if let Some(asked) = asked
            && asked != used
        {
            out.push(format!(
                "{name}={asked} requested, {used} used (server maximum {server}, client maximum {}, multiples of 4096)",
                super::options::CLIENT_MAX_IO
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_requested_and_used() {
        let mut o = NfsOptions::default();
        o.apply_mount_options("rsize=4194304,wsize=65536").unwrap();
        let e = EffectiveOptions::new(&o, 1 << 20, 65_536, (0, 0));
        let fs = FsInfo {
            rtmax: 1 << 20,
            rtpref: 1 << 20,
            wtmax: 1 << 20,
            wtpref: 1 << 20,
            dtpref: 16_384,
            maxfilesize: u64::MAX,
        };
        let d = differences(&o, &e, &fs);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("rsize=4194304 requested, 1048576 used"),
            "{d:?}"
        );
        assert!(
            e.to_mount_options()
                .contains("rsize=1048576,wsize=65536,nconnect=1")
        );
    }
}
