//! Installing kind when it is missing, against a real HTTP server on loopback (the
//! `nfslab-io serve` helper serving a directory laid out as a release page): a stand-in file
//! whose checksum matches is installed executable; one whose checksum does not is refused and
//! leaves nothing; a server that is not there, or lacks the file, is one actionable line. And
//! `nfslab cluster up` on a PATH without kind takes that path (and `--no-install` refuses it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nfslab::cluster::install::{self, InstallError, Release};

/// A stand-in for the kind binary: a script that answers `kind version`.
const STAND_IN: &str = "#!/bin/sh\necho 'kind v0.30.0 go1.24.6 linux/amd64'\n";

struct Served {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A release page on loopback holding `v0.30.0/kind-linux-<arch>`.
fn release_page(arch: &str) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let release = dir.path().join(install::KIND_VERSION);
    std::fs::create_dir_all(&release).expect("dir");
    std::fs::write(release.join(format!("kind-linux-{arch}")), STAND_IN).expect("file");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let binary = nfslab::k8s::test_binary().expect("nfslab-io");
    let child = Command::new(binary)
        .args(["serve", "--dir"])
        .arg(dir.path())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Served {
        child,
        port,
        _dir: dir,
    }
}

fn release(port: u16, sha256: &str) -> Release {
    Release {
        version: install::KIND_VERSION.to_owned(),
        arch: "amd64".to_owned(),
        url: format!(
            "http://127.0.0.1:{port}/{}/kind-linux-amd64",
            install::KIND_VERSION
        ),
        sha256: sha256.to_owned(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

#[test]
fn a_matching_download_is_installed_executable() {
    let page = release_page("amd64");
    let bin = tempfile::tempdir().expect("bin");
    let good = release(page.port, &install::sha256_hex(STAND_IN.as_bytes()));
    let path = runtime()
        .block_on(install::install_kind(
            &good,
            bin.path(),
            Duration::from_secs(30),
        ))
        .expect("installed");
    assert_eq!(path, bin.path().join("kind"));
    let out = Command::new(&path).arg("version").output().expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "kind v0.30.0 go1.24.6 linux/amd64"
    );
    assert_eq!(entries(bin.path()), vec![path], "no partial file left");
}

#[test]
fn a_download_with_another_checksum_is_refused_and_leaves_nothing() {
    let page = release_page("amd64");
    let bin = tempfile::tempdir().expect("bin");
    let pinned = Release::pinned().expect("pinned");
    let bad = release(page.port, &pinned.sha256);
    let err = runtime()
        .block_on(install::install_kind(
            &bad,
            bin.path(),
            Duration::from_secs(30),
        ))
        .expect_err("refused");
    assert!(matches!(err, InstallError::Checksum { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&install::sha256_hex(STAND_IN.as_bytes()))
            && text.contains(&pinned.sha256)
            && !text.contains('\n'),
        "{text}"
    );
    assert!(entries(bin.path()).is_empty(), "{:?}", entries(bin.path()));
}

#[test]
fn an_unreachable_or_missing_release_is_one_actionable_line() {
    let bin = tempfile::tempdir().expect("bin");
    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let page = release_page("arm64");
    for port in [closed, page.port] {
        let err = runtime()
            .block_on(install::install_kind(
                &release(port, "00"),
                bin.path(),
                Duration::from_secs(30),
            ))
            .expect_err("unreachable");
        let text = err.to_string();
        assert!(matches!(err, InstallError::Unreachable { .. }), "{text}");
        assert!(
            text.contains("KIND_BASE_URL")
                && text.contains("install kind by hand")
                && !text.contains('\n'),
            "{text}"
        );
    }
    assert!(entries(bin.path()).is_empty());
}

/// `nfslab cluster up` with no kind on PATH: once kind is all that is missing it installs
/// it from KIND_BASE_URL (here a page whose file does not match the pinned checksum, so it
/// refuses with exit 3 and one line); `--no-install` does not try. The host's kernel is a
/// stand-in tree with an NFS client (this machine may have none), on another release than
/// the daemon's so that preflight leaves it to the container probe; without a Docker daemon
/// preflight stops at that and nothing is downloaded.
#[test]
fn cluster_up_installs_kind_unless_told_not_to() {
    let page = release_page(if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    });
    let cache = tempfile::tempdir().expect("cache");
    let state = tempfile::tempdir().expect("state");
    let host = tempfile::tempdir().expect("host");
    std::fs::create_dir_all(host.path().join("proc/sys/kernel")).expect("proc");
    std::fs::write(
        host.path().join("proc/sys/kernel/osrelease"),
        "0.0.0-stand-in\n",
    )
    .expect("rel");
    std::fs::write(
        host.path().join("proc/filesystems"),
        "nodev\tnfs\nnodev\tnfsd\n",
    )
    .expect("fs");
    let docker = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    // A PATH without kind (docker and the rest are not needed before the install).
    let path = std::env::var("PATH").unwrap_or_default();
    let path: Vec<String> = std::env::split_paths(&path)
        .filter(|d| !d.join("kind").exists())
        .map(|d| d.display().to_string())
        .collect();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nfslab"))
            .args(["cluster", "up", "--name", "nfslab-install-test"])
            .args(extra)
            .env("PATH", path.join(":"))
            .env("KIND_BASE_URL", format!("http://127.0.0.1:{}", page.port))
            .env(install::CACHE_DIR_ENV, cache.path())
            .env("NFSLAB_STATE_DIR", state.path())
            .env("NFSLAB_HOST_ROOT", host.path())
            .stdin(Stdio::null())
            .output()
            .expect("nfslab")
    };
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    if docker {
        assert!(stderr.contains("installing kind v0.30.0"), "{stderr}");
        assert!(stderr.contains("refused"), "{stderr}");
    } else {
        assert!(
            stderr.contains("docker:") && !stderr.contains("installing kind"),
            "{stderr}"
        );
    }
    assert!(!cache.path().join("bin/kind").exists());
    let out = run(&["--no-install"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("installing kind"), "{stderr}");
    assert!(stderr.contains("drop --no-install"), "{stderr}");
    assert_ne!(out.status.code(), Some(0));
}
