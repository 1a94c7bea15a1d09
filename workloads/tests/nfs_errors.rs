//! Bad `nfs://` targets give one clear line, the right exit code and no IO, within the
//! configured timeout: malformed URLs and options (exit 2), a closed port, a server that
//! never answers, a listener that speaks garbage, a portmapper without NFSv3, a service
//! that speaks other versions (exit 3), an export the server does not have (exit 2).
//! The servers are small fakes in this process; no nfs-ganesha is needed.

mod common;

use std::time::{Duration, Instant};

use common::io;
use nfslab_test_support::nfs::{Fake, FakeRpc};
use nfslab_test_support::run::Run;

/// Runs a write job against `url` (extra flags after); returns the run and its duration.
fn try_target(url: &str, extra: &[&str]) -> (Run, Duration) {
    let mut args = vec![
        "run",
        "--target",
        url,
        "--pattern",
        "write",
        "--size",
        "1m",
        "--compact",
    ];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let run = io(&args);
    (run, start.elapsed())
}

/// The run failed with `code`, one line on stderr starting with `prefix` and holding
/// every `needle`, and printed no result.
fn expect_line(run: &Run, code: i32, prefix: &str, needles: &[&str]) {
    run.expect_code(code);
    let line = run.stderr.trim_end();
    assert!(!line.contains('\n'), "one line\n{}", run.describe());
    assert!(
        line.starts_with(prefix),
        "starts with {prefix:?}\n{}",
        run.describe()
    );
    for needle in needles {
        assert!(
            line.contains(needle),
            "contains {needle:?}\n{}",
            run.describe()
        );
    }
    assert!(
        run.stdout.is_empty(),
        "no result for a run that did not start\n{}",
        run.describe()
    );
    assert!(!line.contains("panicked"), "{}", run.describe());
}

#[test]
fn malformed_urls_and_options_are_bad_input() {
    for (url, needle) in [
        ("nfs:///export", "the host is missing"),
        ("nfs://host", "the export path is missing"),
        ("nfs://host:70000/x", "port `70000`"),
        ("nfs://[::1/x", "closing `]`"),
        ("nfs://host/x?rsize=lots", "`rsize=lots`"),
        ("nfs://host/x?vers=4", "NFSv3 only"),
        ("nfs://host/x?wibble", "unknown NFS option `wibble`"),
        ("ftp://host/x", "unknown scheme"),
    ] {
        let (run, took) = try_target(url, &[]);
        expect_line(&run, 2, "error: --target: ", &[needle]);
        assert!(
            took < Duration::from_secs(2),
            "bad input is refused before any network IO: {took:?}"
        );
    }
    let (run, _) = try_target("nfs://127.0.0.1/x", &["--nfs-options", "hard,soft"]);
    expect_line(&run, 2, "error: --nfs-options: ", &["`hard` and `soft`"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = io(&[
        "run",
        "--dir",
        dir.path().to_str().unwrap_or_default(),
        "--pattern",
        "write",
        "--nfs-options",
        "nconnect=2",
    ]);
    expect_line(&run, 2, "error: --nfs-options: ", &["nfs:// targets only"]);
    let run = io(&[
        "run",
        "--dir",
        "/tmp",
        "--target",
        "nfs://h/x",
        "--pattern",
        "write",
    ]);
    expect_line(&run, 2, "error: --target and --dir", &[]);
}

#[test]
fn a_closed_port_is_unreachable_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let url = format!("nfs://127.0.0.1/export?nfsport={port}&mountport={port}");
    let (run, took) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: cannot use `nfs://127.0.0.1/export`: ",
        &[
            "no answer from the MOUNT service",
            "Connection refused",
            "(hint: ",
        ],
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    let silent = FakeRpc::start(Fake::Silent);
    let url = format!(
        "nfs://127.0.0.1/export?nfsport={p}&mountport={p}&connect_timeout=1s",
        p = silent.port
    );
    let (run, took) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &["no answer from the MOUNT service", "no reply within 1s"],
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // Through the portmapper as well.
    let url = format!(
        "nfs://127.0.0.1/export?pmapport={}&connect_timeout=1s",
        silent.port
    );
    let (run, took) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &["portmapper", "no reply within 1s"],
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_listener_speaking_garbage_is_not_the_service() {
    let garbage = FakeRpc::start(Fake::Garbage);
    let url = format!(
        "nfs://127.0.0.1/export?mountport={}&nfsport=1&connect_timeout=2s",
        garbage.port
    );
    let (run, took) = try_target(&url, &[]);
    run.expect_code(3);
    assert!(run.stderr.contains("MOUNT service"), "{}", run.describe());
    assert!(took < Duration::from_secs(5), "{took:?}");
    let mount = FakeRpc::start(Fake::MountOk);
    let url = format!(
        "nfs://127.0.0.1/export?mountport={}&nfsport={}&connect_timeout=2s",
        mount.port, garbage.port
    );
    let (run, took) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &["does not answer as the NFS service", "ONC RPC"],
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_server_without_nfs_v3_says_so() {
    let portmap = FakeRpc::start(Fake::PortmapWithoutNfs { mount_port: 20_048 });
    let url = format!("nfs://127.0.0.1/export?pmapport={}", portmap.port);
    let (run, _) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &[
            "does not offer NFS version 3 over TCP",
            "no program 100003 version 3",
        ],
    );

    let v4_only = FakeRpc::start(Fake::ProgMismatch { low: 4, high: 4 });
    let mount = FakeRpc::start(Fake::MountOk);
    let url = format!(
        "nfs://127.0.0.1/export?mountport={}&nfsport={}",
        mount.port, v4_only.port
    );
    let (run, _) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &[
            "the NFS service",
            "does not speak version 3: it speaks versions 4 to 4",
        ],
    );

    let url = format!(
        "nfs://127.0.0.1/export?mountport={}&nfsport=1",
        v4_only.port
    );
    let (run, _) = try_target(&url, &[]);
    expect_line(
        &run,
        3,
        "error: --target: ",
        &["the MOUNT service", "versions 4 to 4"],
    );
}

#[test]
fn an_export_the_server_lacks_is_bad_input_and_lists_the_exports() {
    let mount = FakeRpc::start(Fake::MountNoent {
        exports: vec!["/srv/real".to_owned(), "/data".to_owned()],
    });
    let url = format!(
        "nfs://127.0.0.1/srv/bogus?mountport={}&nfsport=1",
        mount.port
    );
    let (run, _) = try_target(&url, &[]);
    expect_line(
        &run,
        2,
        "error: --target: cannot use `nfs://127.0.0.1/srv/bogus`: ",
        &[
            "export `/srv/bogus` not found",
            "MNT3ERR_NOENT",
            "`/srv/real`, `/data`",
        ],
    );
}
