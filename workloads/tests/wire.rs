//! Cache honesty on real files: the application's bytes come from real runs of the binary
//! on a local directory; the wire's bytes, which a local filesystem does not have, come
//! from `/proc/self/mountstats` texts of an NFS client in the kernel's own format
//! (`tests/fixtures/mountstats/`: the same client before a run, after a buffered re-read of
//! a 1 MiB file eight times, and after an O_DIRECT read of 8 MiB).

mod common;

use std::path::Path;

use common::{ResultDocument as _, run_in};
use nfslab_workload::{
    FindingKind, MountStats, RunResult, client_memory, mountstats_delta, parse_mountstats,
    wire_from_mountstats,
};

fn nfs_block(name: &str) -> MountStats {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mountstats")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    parse_mountstats(&text)
        .into_iter()
        .find(|m| m.mount_point == "/mnt/nfs")
        .expect("the NFS mount of the fixture")
}

fn shm() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nfslab-wire")
        .tempdir_in("/dev/shm")
        .expect("tmpfs dir")
}

fn run(args: &[&str]) -> RunResult {
    let dir = shm();
    let run = run_in(dir.path(), args);
    run.expect_code(0);
    run.result()
}

#[test]
fn a_buffered_reread_of_a_small_file_is_flagged() {
    let r = run(&[
        "--pattern",
        "randread",
        "--bs",
        "64k",
        "--size",
        "1m",
        "--io-size",
        "8m",
        "--direct",
        "off",
    ]);
    assert!(!r.effective.direct_used);
    assert_eq!(r.ops["read"].bytes, 8 << 20);
    let before = nfs_block("before.txt");
    let after = nfs_block("after-buffered-reread.txt");
    let w = wire_from_mountstats(
        &r,
        &mountstats_delta(&before, &after),
        &after.opts,
        client_memory(),
    );
    assert_eq!((w.app_read_bytes, w.wire_read_bytes), (8 << 20, 1 << 20));
    assert_eq!(w.read_ratio, Some(0.125));
    assert_eq!(w.findings.len(), 1, "{w:?}");
    let f = &w.findings[0];
    assert_eq!(f.kind, FindingKind::ReadsCached);
    assert!(
        f.message
            .contains("88% of the bytes read never reached the server"),
        "{}",
        f.message
    );
    assert!(f.message.contains("buffered IO"), "{}", f.message);
    assert!(
        f.message.contains("smaller than the client's memory"),
        "a 1 MiB data set fits any client: {}",
        f.message
    );
}

#[test]
fn an_o_direct_read_is_not_flagged() {
    let r = run(&[
        "--pattern",
        "read",
        "--bs",
        "1m",
        "--size",
        "8m",
        "--direct",
        "required",
    ]);
    assert!(r.effective.direct_used);
    let before = nfs_block("before.txt");
    let after = nfs_block("after-direct-read.txt");
    let w = wire_from_mountstats(
        &r,
        &mountstats_delta(&before, &after),
        &after.opts,
        client_memory(),
    );
    assert_eq!((w.app_read_bytes, w.wire_read_bytes), (8 << 20, 8 << 20));
    assert_eq!(w.read_ratio, Some(1.0));
    assert!(w.findings.is_empty(), "{w:?}");

    // The same wire figures against a run that read twice as much: half never left the
    // client, whatever the IO mode says.
    let twice = run(&[
        "--pattern",
        "read",
        "--bs",
        "1m",
        "--size",
        "8m",
        "--io-size",
        "16m",
        "--direct",
        "required",
    ]);
    let w = wire_from_mountstats(
        &twice,
        &mountstats_delta(&before, &after),
        &after.opts,
        None,
    );
    assert_eq!(w.read_ratio, Some(0.5));
    assert!(w.findings[0].message.contains("O_DIRECT was used"), "{w:?}");
}

#[test]
fn local_directories_have_no_wire_section() {
    let r = run(&["--pattern", "read", "--size", "1m"]);
    assert!(r.wire.is_none(), "tmpfs is not NFS: {:?}", r.wire);
}
