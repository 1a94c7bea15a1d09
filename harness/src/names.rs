//! The grammar of every name a user gives that becomes a path component or an object name,
//! checked before anything is built from it.
//!
//! | name | rule | why |
//! |---|---|---|
//! | cluster (`--name`, `cluster.name`) | DNS-1123 label, at most 50 characters | kind names node containers `<name>-control-plane` (host names of at most 63) and accepts `[a-z0-9.-]`; nfslab keeps `<state>/clusters/<name>/` |
//! | run id (`--run-id`) | 1 to 40 lowercase letters, digits and `-` | a label value and `results/<run-id>/` |
//! | namespace (`nfs.namespace`) | DNS-1123 label, at most 63 | Kubernetes' rule |
//! | object name (`metadata.name`) | DNS-1123 subdomain, at most 253 | Kubernetes' rule for most kinds |
//! | file name component | see [`check_component`] | never leaves its directory |
//!
//! Every check returns a [`NameError`] that says which rule the name broke; [`join_under`]
//! builds a path only from a name that passed. Hand-written for the same reason as the
//! workload crate's `names` (a few character checks whose messages name the rule).

use std::path::Path;

pub use nfslab_workload::{NameError, check_component, join_under, printable};

use crate::k8s::ownership::RunId;

/// Longest cluster name: kind's node container host names (`<name>-control-plane`) must
/// stay within 63 characters.
pub const MAX_CLUSTER_NAME_LEN: usize = 50;
/// Longest DNS-1123 label (namespaces, most label values).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest DNS-1123 subdomain (most object names).
pub const MAX_SUBDOMAIN_LEN: usize = 253;

/// Checks a DNS-1123 label of at most `max` characters: lowercase letters, digits and `-`,
/// starting and ending with a letter or digit.
///
/// # Errors
/// [`NameError`] naming the broken rule.
pub fn dns_label(what: &'static str, name: &str, max: usize) -> Result<(), NameError> {
    let rule = |r: String| Err(NameError::new(what, name, r));
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if name.is_empty() {
        return rule("it is empty".to_owned());
    }
    if name.len() > max {
        return rule(format!("it is longer than {max} characters"));
    }
    if let Some(bad) = name.chars().find(|c| !(alnum(*c) || *c == '-')) {
        return rule(format!(
            "`{}` is not allowed (hint: lowercase letters, digits and `-`)",
            printable(&bad.to_string())
        ));
    }
    if !name.starts_with(alnum) || !name.ends_with(alnum) {
        return rule("it must start and end with a lowercase letter or digit".to_owned());
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain as Kubernetes does: dot-separated parts of lowercase
/// letters, digits and `-`, at most 253 characters in all.
///
/// # Errors
/// [`NameError`] naming the broken rule.
pub fn dns_subdomain(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.len() > MAX_SUBDOMAIN_LEN {
        return Err(NameError::new(
            what,
            name,
            format!("it is longer than {MAX_SUBDOMAIN_LEN} characters"),
        ));
    }
    // Kubernetes' IsDNS1123Subdomain limits the whole name, not each dot-separated part.
    for part in name.split('.') {
        dns_label(what, part, MAX_SUBDOMAIN_LEN).map_err(|e| NameError {
            shown: printable(name),
            rule: if part.is_empty() {
                "it has an empty part between dots".to_owned()
            } else {
                e.rule
            },
            ..e
        })?;
    }
    Ok(())
}

/// Checks a cluster name (see the module table).
///
/// # Errors
/// [`NameError`] naming the broken rule.
pub fn cluster_name(name: &str) -> Result<(), NameError> {
    dns_label("cluster name", name, MAX_CLUSTER_NAME_LEN)
}

/// Parses a run id (see the module table).
///
/// # Errors
/// [`NameError`] naming the rule.
pub fn run_id(text: &str) -> Result<RunId, NameError> {
    RunId::parse(text).ok_or_else(|| {
        NameError::new(
            "run id",
            text,
            "use 1 to 40 lowercase letters, digits and `-`, starting and ending with a letter \
             or digit",
        )
    })
}

/// Checks a container image reference: `[registry[:port]/]path[:tag][@sha256:<64 hex>]`,
/// as Docker and containerd read them (lowercase path components, a tag of at most 128
/// word characters, `.` and `-`, a digest of the right length in hex).
///
/// # Errors
/// [`NameError`] naming the part that is wrong.
pub fn image_reference(what: &'static str, text: &str) -> Result<(), NameError> {
    let rule = |r: String| Err(NameError::new(what, text, r));
    if text.is_empty() {
        return rule("it is empty (hint: e.g. `registry.k8s.io/pause:3.10`)".to_owned());
    }
    if text.len() > 4096 || text.contains(char::is_whitespace) || text.contains('\0') {
        return rule("it contains spaces or control characters".to_owned());
    }
    let (rest, digest) = match text.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        let Some((algorithm, hex)) = digest.split_once(':') else {
            return rule(format!(
                "the digest `{digest}` is not `sha256:<64 hex digits>`"
            ));
        };
        let hex_ok = |n: usize| {
            hex.len() == n
                && hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        };
        let ok = match algorithm {
            "sha256" => hex_ok(64),
            "sha512" => hex_ok(128),
            _ => false,
        };
        if !ok {
            return rule(format!(
                "the digest `{digest}` is not `sha256:` followed by 64 lowercase hex digits"
            ));
        }
    }
    // The tag follows the last `:` that comes after the last `/` (a registry port comes
    // before it).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return rule(format!(
                "the tag `{tag}` is not valid (hint: letters, digits, `_`, `.` and `-`, at \
                 most 128)"
            ));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let port_ok = port.is_empty() || port.parse::<u16>().is_ok_and(|p| p > 0);
            if !host_ok || !port_ok {
                return rule(format!("the registry `{first}` is not `host[:port]`"));
            }
            parts.remove(0);
        }
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
    };
    if let Some(bad) = parts.iter().find(|c| !component_ok(c)) {
        return rule(format!(
            "the path part `{bad}` is not valid (hint: lowercase letters, digits, `.`, `_` \
             and `-`, e.g. `registry.k8s.io/pause:3.10`)"
        ));
    }
    Ok(())
}

/// Checks a release version `MAJOR.MINOR.PATCH` (a leading `v` accepted).
///
/// # Errors
/// [`NameError`] saying the expected shape.
pub fn version(what: &'static str, text: &str) -> Result<(u64, u64, u64), NameError> {
    let core = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = core.split('.').collect();
    let numbers: Option<Vec<u64>> = parts
        .iter()
        .map(|p| {
            (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect();
    match numbers.as_deref() {
        Some([a, b, c]) => Ok((*a, *b, *c)),
        _ => Err(NameError::new(
            what,
            text,
            "expected `MAJOR.MINOR.PATCH`, e.g. `0.29.0`",
        )),
    }
}

/// Checks a Kubernetes minor version key (`1.33`).
///
/// # Errors
/// [`NameError`] saying the expected shape.
pub fn kubernetes_minor(what: &'static str, text: &str) -> Result<(u64, u64), NameError> {
    let parsed = text.split_once('.').and_then(|(a, b)| {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit());
        (digits(a) && digits(b)).then(|| (a.parse().ok(), b.parse().ok()))
    });
    match parsed {
        Some((Some(1), Some(minor))) => Ok((1, minor)),
        _ => Err(NameError::new(
            what,
            text,
            "expected a Kubernetes minor version such as `1.33`",
        )),
    }
}

/// A cluster name made from a kubeconfig context name (`gke_proj_zone_x`, `admin@lab`):
/// lowercased, every other character turned into `-`, trimmed to the cluster-name rule.
/// Used as the default record name of an existing cluster.
#[must_use]
pub fn cluster_name_from_context(context: &str) -> String {
    let mapped: String = context
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed: String = mapped
        .trim_matches('-')
        .chars()
        .take(MAX_CLUSTER_NAME_LEN)
        .collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        "existing".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Whether `path`, once resolved, is inside `base` (both must exist to be resolved; a path
/// that does not exist yet is judged by its existing parent).
#[must_use]
pub fn is_inside(base: &Path, path: &Path) -> bool {
    let resolve = |p: &Path| -> Option<std::path::PathBuf> {
        let mut existing = p.to_path_buf();
        let mut rest = Vec::new();
        while !existing.exists() {
            rest.push(existing.file_name()?.to_os_string());
            existing = existing.parent()?.to_path_buf();
        }
        let mut resolved = existing.canonicalize().ok()?;
        for part in rest.iter().rev() {
            if part == ".." || part == "." {
                return None;
            }
            resolved.push(part);
        }
        Some(resolved)
    };
    match (resolve(base), resolve(path)) {
        (Some(b), Some(p)) => p.starts_with(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_follow_kind_and_dns() {
        for ok in ["nfslab", "lab-2", "a", &"a".repeat(50)] {
            assert_eq!(cluster_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../../../x",
            "a/b",
            "a\0b",
            "Lab",
            "lab_1",
            "-lab",
            "lab-",
            "a.b",
            &"a".repeat(51),
        ] {
            let err = cluster_name(bad).expect_err(bad);
            assert!(
                err.to_string().contains("is not a valid cluster name"),
                "{err}"
            );
        }
    }

    #[test]
    fn subdomains_are_dot_separated_labels() {
        assert_eq!(dns_subdomain("object name", "www-web-0.x"), Ok(()));
        for bad in ["a..b", ".a", "A", "a_b", &"a".repeat(254)] {
            assert!(dns_subdomain("object name", bad).is_err(), "{bad}");
        }
        let err = dns_subdomain("object name", "a..b").expect_err("empty part");
        assert!(err.rule.contains("empty part"), "{err}");
    }

    #[test]
    fn context_names_become_usable_cluster_names() {
        assert_eq!(
            cluster_name_from_context("gke_proj_zone_Lab"),
            "gke-proj-zone-lab"
        );
        assert_eq!(cluster_name_from_context("admin@staging"), "admin-staging");
        assert_eq!(cluster_name_from_context("@@"), "existing");
        for context in ["gke_proj_zone_Lab", "admin@staging", "@@", &"x_".repeat(60)] {
            assert_eq!(cluster_name(&cluster_name_from_context(context)), Ok(()));
        }
    }

    #[test]
    fn image_references_digests_and_versions() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "registry.k8s.io/sig-storage/nfs-provisioner:v4.0.8",
            "localhost:5000/nfslab-io:0.1.0",
            "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
            "ghcr.io/a_b/c-d.e@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f",
        ] {
            assert_eq!(image_reference("image", ok), Ok(()), "{ok}");
        }
        for (bad, part) in [
            ("", "empty"),
            ("nginx:", "tag"),
            ("Nginx", "path part"),
            ("nginx latest", "spaces"),
            ("kindest/node@sha256:xyz", "digest"),
            (
                "kindest/node@sha256:050072256B9A903BD914C0B2866828150CB229CEA0EFE5892E2B644D5DD3B34F",
                "digest",
            ),
            ("kindest/node@md5:00", "digest"),
            ("registry.example:99999/x", "registry"),
            ("a//b", "path part"),
        ] {
            let err = image_reference("image", bad).expect_err(bad);
            assert!(err.rule.contains(part), "{bad}: {err}");
        }
        assert_eq!(version("version", "0.29.0"), Ok((0, 29, 0)));
        assert_eq!(version("version", "v1.2.3"), Ok((1, 2, 3)));
        for bad in ["0.29", "latest", "1.2.3.4", "1..3", "-1.0.0"] {
            assert!(version("version", bad).is_err(), "{bad}");
        }
        assert_eq!(kubernetes_minor("key", "1.33"), Ok((1, 33)));
        for bad in ["1.33.0", "2.1", "v1.33", "latest", "1."] {
            assert!(kubernetes_minor("key", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_ids_are_checked() {
        assert!(run_id("20261123-144302-a1b2c3").is_ok());
        let err = run_id("../x").expect_err("path");
        assert!(
            err.to_string().starts_with("`../x` is not a valid run id"),
            "{err}"
        );
    }

    #[test]
    fn inside_resolves_dot_dot_and_symlinks() {
        let dir = tempfile::tempdir().expect("tmp");
        let base = dir.path().join("base");
        std::fs::create_dir(&base).expect("mkdir");
        assert!(is_inside(&base, &base.join("a")));
        assert!(!is_inside(&base, &base.join("../a")));
        std::os::unix::fs::symlink(dir.path(), base.join("up")).expect("symlink");
        assert!(!is_inside(&base, &base.join("up/x")));
    }
}
