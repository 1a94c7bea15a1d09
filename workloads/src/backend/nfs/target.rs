//! `nfs://host[:port]/export/path[?options]` targets.
//!
//! The grammar is libnfs's: the authority names the server (a name, an IPv4 address or a
//! bracketed IPv6 address) and optionally the NFS port; the path is the export followed by
//! an optional directory inside it; the query carries client options in the
//! [`super::options`] vocabulary, `&` separated (`?mountport=20048&nfsport=2049`).
//! `%XX` escapes are decoded in the path and the query.

use std::fmt;

use super::options::{NfsOptions, OptionError};

/// A parsed `nfs://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsTarget {
    /// Server name or address (IPv6 without brackets).
    pub host: String,
    /// NFS port given in the authority.
    pub port: Option<u16>,
    /// Absolute path on the server: the export, then a directory inside it.
    pub path: String,
    /// Decoded query (client options), if any.
    pub query: Option<String>,
}

/// A malformed `nfs://` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL lacks a part or has a malformed one.
    #[error(
        "malformed NFS URL `{url}`: {problem} (hint: nfs://HOST[:PORT]/EXPORT[/DIR][?OPTION&OPTION])"
    )]
    Malformed {
        /// The URL as given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The query holds an unusable option.
    #[error("NFS URL `{url}` has an unusable option")]
    Option {
        /// The URL as given.
        url: String,
        /// The option problem.
        #[source]
        source: OptionError,
    },
}

/// URL scheme of the protocol backend.
pub(crate) const SCHEME: &str = "nfs://";

/// Whether `text` names an NFS URL (and not a POSIX path).
#[must_use]
pub(crate) fn is_nfs_url(text: &str) -> bool {
    text.get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl NfsTarget {
    /// Parses `nfs://host[:port]/path[?query]`.
    pub fn parse(url: &str) -> Result<NfsTarget, TargetError> {
        let bad = |problem: &str| TargetError::Malformed {
            url: url.to_owned(),
            problem: problem.to_owned(),
        };
        if !is_nfs_url(url) {
            return Err(bad("it does not start with `nfs://`"));
        }
        let rest = &url[SCHEME.len()..];
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address lacks its closing `]`"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("junk after the IPv6 address"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        if host.contains(['@', ' ', '%']) {
            return Err(bad(&format!("`{host}` is not a host name or address")));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(bad(&format!(
                        "port `{p}` is not a number between 1 and 65535"
                    )));
                }
                Ok(n) => Some(n),
            },
        };
        let path = decode(path).ok_or_else(|| bad("the path has a malformed `%` escape"))?;
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err(bad("the export path is missing"));
        }
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err(bad("`.` and `..` are not allowed in the path"));
        }
        let query = match query {
            None | Some("") => None,
            Some(q) => Some(decode(q).ok_or_else(|| bad("the query has a malformed `%` escape"))?),
        };
        Ok(NfsTarget {
            host: host.to_owned(),
            port,
            path: format!("/{}", parts.join("/")),
            query,
        })
    }

    /// The client options the URL carries, over `base`.
    pub fn options(&self, base: NfsOptions) -> Result<NfsOptions, TargetError> {
        let mut options = base;
        if let Some(port) = self.port {
            options.nfs_port = Some(port);
            options.requested.push(format!("port={port}"));
        }
        if let Some(query) = &self.query {
            options
                .apply_query(query)
                .map_err(|source| TargetError::Option {
                    url: self.to_string(),
                    source,
                })?;
        }
        Ok(options)
    }

    /// The path's components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|p| !p.is_empty())
    }
}

impl fmt::Display for NfsTarget {
    /// `nfs://host[:port]/path`, without the query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "nfs://{host}:{p}{}", self.path),
            None => write!(f, "nfs://{host}{}", self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls() {
        let t = NfsTarget::parse("nfs://127.0.0.1/srv/nfs/export").unwrap();
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, None);
        assert_eq!(t.path, "/srv/nfs/export");
        assert_eq!(t.to_string(), "nfs://127.0.0.1/srv/nfs/export");
        let t = NfsTarget::parse("NFS://nas.example:2049//data//sub/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("nas.example", Some(2049), "/data/sub")
        );
        assert_eq!(t.components().collect::<Vec<_>>(), vec!["data", "sub"]);
        let t = NfsTarget::parse("nfs://[::1]:2049/x%20y?uid=0").unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("::1", "/x y"));
        assert_eq!(t.to_string(), "nfs://[::1]:2049/x y");
        assert_eq!(t.query.as_deref(), Some("uid=0"));
    }

    #[test]
    fn query_and_port_become_options() {
        let t = NfsTarget::parse("nfs://h:3049/e?mountport=20048&soft&timeo=10").unwrap();
        let o = t.options(NfsOptions::default()).unwrap();
        assert_eq!((o.nfs_port, o.mount_port), (Some(3049), Some(20_048)));
        assert_eq!(o.retry, crate::result::nfs::RetryMode::Soft);
        let t = NfsTarget::parse("nfs://h/e?rsize=x").unwrap();
        let e = t.options(NfsOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "NFS URL `nfs://h/e` has an unusable option");
        assert!(std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("`rsize=x`")));
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        for (url, problem) in [
            ("nfs:///export", "host is missing"),
            ("nfs://host", "export path is missing"),
            ("nfs://host/", "export path is missing"),
            ("nfs://host:abc/x", "port `abc`"),
            ("nfs://host:0/x", "port `0`"),
            ("nfs://host:99999/x", "port `99999`"),
            ("nfs://[::1/x", "closing `]`"),
            ("nfs://host/a/../b", "`..`"),
            ("nfs://host/a%zz", "`%` escape"),
            ("nfs://user@host/x", "not a host name"),
            ("http://host/x", "does not start with `nfs://`"),
        ] {
            let e = NfsTarget::parse(url).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(problem), "{url}: {text}");
            assert!(text.contains(&format!("`{url}`")), "{url}: {text}");
            assert!(text.contains("(hint: nfs://HOST"), "{url}: {text}");
        }
        assert!(is_nfs_url("nfs://x/y") && !is_nfs_url("/mnt/nfs") && !is_nfs_url("nfs:/x"));
    }
}
