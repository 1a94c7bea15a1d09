//! Installing kind when it is missing: the release nfslab pins, downloaded into nfslab's
//! cache directory and checked against the release's own SHA-256 before it is made
//! executable, as `ci/install-kind.sh` does. [`super::tools::SystemTools`] finds programs
//! there after PATH, so the installed kind is used from then on.
//!
//! The cache directory is `$NFSLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/nfslab`, else
//! `~/.cache/nfslab`; kind goes to its `bin/`. `KIND_BASE_URL` names a mirror (the same
//! variable the CI script reads).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Variable naming nfslab's cache directory.
pub const CACHE_DIR_ENV: &str = "NFSLAB_CACHE_DIR";
/// Variable naming where kind releases are published (a mirror).
pub const KIND_BASE_URL_ENV: &str = "KIND_BASE_URL";
/// Where kind releases are published.
pub const KIND_BASE_URL: &str = "https://github.com/kubernetes-sigs/kind/releases/download";
/// The kind release nfslab installs: it runs the pinned node image (see `cluster.node-image`).
pub const KIND_VERSION: &str = "v0.30.0";
/// The release's own checksums (`kind-linux-<arch>.sha256sum` of v0.30.0), per architecture.
const KIND_SHA256: [(&str, &str); 2] = [
    (
        "amd64",
        "517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889",
    ),
    (
        "arm64",
        "7ea2de9d2d190022ed4a8a4e3ac0636c8a455e460b9a13ccf19f15d07f4f00eb",
    ),
];
/// Largest file accepted as a kind binary (today's are about 10 MB).
const MAX_DOWNLOAD: u64 = 256 << 20;

/// nfslab's cache directory, when one can be named.
#[must_use]
pub fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var(CACHE_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("nfslab")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/nfslab")))
}

/// Where nfslab installs the tools it downloads (searched after PATH).
#[must_use]
pub fn bin_dir() -> Option<PathBuf> {
    cache_dir().map(|d| d.join("bin"))
}

/// One kind release for one architecture: where to fetch it and what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// `v0.30.0`.
    pub version: String,
    /// `amd64` or `arm64`.
    pub arch: String,
    /// The download URL.
    pub url: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

impl Release {
    /// The pinned release for this host's architecture, from `KIND_BASE_URL` or the
    /// project's release page.
    ///
    /// # Errors
    /// [`InstallError::Unsupported`] on an architecture without a pinned checksum.
    pub fn pinned() -> Result<Self, InstallError> {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => {
                return Err(InstallError::Unsupported {
                    arch: other.to_owned(),
                });
            }
        };
        let base = std::env::var(KIND_BASE_URL_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| KIND_BASE_URL.to_owned());
        let sha256 = KIND_SHA256
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, s)| (*s).to_owned())
            .ok_or_else(|| InstallError::Unsupported {
                arch: arch.to_owned(),
            })?;
        Ok(Self {
            version: KIND_VERSION.to_owned(),
            arch: arch.to_owned(),
            url: format!(
                "{}/{KIND_VERSION}/kind-linux-{arch}",
                base.trim_end_matches('/')
            ),
            sha256,
        })
    }
}

/// Why kind could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No checksum is pinned for this architecture.
    #[error(
        "no kind release is pinned for the architecture `{arch}` (hint: install kind \
         {KIND_VERSION} or newer by hand: https://kind.sigs.k8s.io/docs/user/quick-start/)"
    )]
    Unsupported {
        /// The architecture.
        arch: String,
    },
    /// No cache directory could be named.
    #[error("cannot tell where to install kind (hint: set {CACHE_DIR_ENV}, or HOME)")]
    NoCacheDir,
    /// The download failed.
    #[error(
        "cannot download kind {version} from {url}: {detail} (hint: check the network or \
         set {KIND_BASE_URL_ENV} to a mirror; or install kind by hand and put it on PATH)"
    )]
    Unreachable {
        /// The release.
        version: String,
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The file does not hash to the release's checksum.
    #[error(
        "the kind binary from {url} has SHA-256 {got}, not the release's {expected}: refused \
         (hint: a proxy or mirror altered it; fetch it from the release page)"
    )]
    Checksum {
        /// The URL.
        url: String,
        /// The pinned checksum.
        expected: String,
        /// What the download hashed to.
        got: String,
    },
    /// The file could not be written.
    #[error("cannot install kind into `{}`", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Downloads `release` into `dir/kind` after checking its SHA-256 (`timeout` bounds the
/// download); returns the installed path. Nothing is left behind on failure.
///
/// # Errors
/// [`InstallError`] when the download fails, does not match, or cannot be written.
pub async fn install_kind(
    release: &Release,
    dir: &Path,
    timeout: Duration,
) -> Result<PathBuf, InstallError> {
    let fetch = {
        let url = release.url.clone();
        tokio::task::spawn_blocking(move || download(&url, timeout))
    };
    let bytes = match fetch.await {
        Ok(result) => result,
        Err(e) => Err(e.to_string()),
    }
    .map_err(|detail| InstallError::Unreachable {
        version: release.version.clone(),
        url: release.url.clone(),
        detail,
    })?;
    let got = sha256_hex(&bytes);
    if got != release.sha256 {
        return Err(InstallError::Checksum {
            url: release.url.clone(),
            expected: release.sha256.clone(),
            got,
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join("kind");
    let partial = dir.join(format!(".kind.partial.{}", std::process::id()));
    let written = std::fs::write(&partial, &bytes).and_then(|()| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&partial, &target)
    });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(InstallError::Io {
            path: target,
            source,
        });
    }
    Ok(target)
}

fn download(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_DOWNLOAD)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// The SHA-256 of `bytes`, lowercase hex.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
