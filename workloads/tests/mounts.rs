//! Runs that need small dedicated filesystems, mounted by the test (root only): a full
//! tmpfs (ENOSPC mid-run), a read-only tmpfs, and ramfs (which refuses O_DIRECT with
//! EINVAL on this kernel, unlike tmpfs). Ignored with the reason when mounting is not
//! possible; failed instead when `NFSLAB_REQUIRE` names `mount`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ResultDocument as _, entries, run_in};
use nfslab_test_support::gate::{Body, gated_trials};
use nfslab_workload::Status;

/// A filesystem mounted for one test, unmounted on drop.
struct Mounted {
    dir: tempfile::TempDir,
}

impl Mounted {
    fn new(fstype: &str, options: &str) -> Result<Mounted, String> {
        let dir = tempfile::Builder::new()
            .prefix("nfslab-mnt")
            .tempdir()
            .map_err(|e| format!("cannot create a mount point: {e}"))?;
        let out = Command::new("mount")
            .args(["-t", fstype, "-o", options, fstype])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`mount -t {fstype} -o {options}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mounted { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn enospc_mid_run() -> Result<(), libtest_mimic::Failed> {
    let m = Mounted::new("tmpfs", "size=1m")?;
    let run = run_in(
        m.path(),
        &["--pattern", "write", "--bs", "64k", "--size", "4m"],
    );
    ensure!(
        run.code() == Some(3),
        "exit {} (want 3)\n{}",
        run.code().unwrap_or(-1),
        run.describe()
    );
    let r = run.result();
    ensure!(r.status == Status::IoError, "status {:?}", r.status);
    let error = r.error.as_ref().ok_or("no error recorded")?;
    ensure!(
        error.errno.as_deref() == Some("ENOSPC"),
        "errno {:?}\n{}",
        error.errno,
        run.describe()
    );
    ensure!(error.phase == "measured", "phase {}", error.phase);
    ensure!(r.errors.get("ENOSPC") == Some(&1), "errors {:?}", r.errors);
    ensure!(
        r.totals.data_ops == 16,
        "partial results: {} writes before the filesystem filled",
        r.totals.data_ops
    );
    common::check_consistency(&r, &run.describe());
    ensure!(
        entries(m.path()).is_empty(),
        "created files must be removed\n{}",
        run.describe()
    );
    ensure!(run.stderr.contains("ENOSPC"), "{}", run.stderr);

    let run = run_in(
        m.path(),
        &[
            "--pattern",
            "write",
            "--bs",
            "64k",
            "--size",
            "4m",
            "--keep",
        ],
    );
    ensure!(run.code() == Some(3), "{}", run.describe());
    ensure!(
        entries(m.path()) == vec!["nfslab.t0.f0".to_owned()],
        "--keep keeps the file\n{}",
        run.describe()
    );
    Ok(())
}

fn read_only_directory() -> Result<(), libtest_mimic::Failed> {
    let m = Mounted::new("tmpfs", "ro,size=1m")?;
    for pattern in ["write", "read", "metadata"] {
        let run = run_in(m.path(), &["--pattern", pattern, "--size", "64k"]);
        ensure!(
            run.code() == Some(2),
            "{pattern}: exit {}\n{}",
            run.code().unwrap_or(-1),
            run.describe()
        );
        let line = run.stderr.trim_end();
        ensure!(!line.contains('\n'), "one line\n{}", run.describe());
        ensure!(
            line.starts_with("error: --dir: directory `"),
            "{}",
            run.describe()
        );
        ensure!(
            line.contains("not writable") && line.contains("EROFS"),
            "{}",
            run.describe()
        );
        ensure!(run.stdout.is_empty(), "{}", run.describe());
    }
    Ok(())
}

fn read_only_volume_with_files_in_place() -> Result<(), libtest_mimic::Failed> {
    let m = Mounted::new("tmpfs", "size=1m")?;
    let run = run_in(
        m.path(),
        &[
            "--pattern",
            "read",
            "--size",
            "256k",
            "--verify",
            "--layout-only",
        ],
    );
    ensure!(run.code() == Some(0), "{}", run.describe());
    let status = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(m.path())
        .status()?;
    ensure!(status.success(), "remount read-only failed");
    let run = run_in(
        m.path(),
        &["--pattern", "randread", "--size", "256k", "--verify"],
    );
    ensure!(run.code() == Some(0), "{}", run.describe());
    let r = run.result();
    ensure!(
        r.effective.files_reused == 1 && r.effective.files_created == 0,
        "{:?}",
        r.effective
    );
    ensure!(
        r.verify
            .as_ref()
            .is_some_and(|v| v.blocks_checked == 64 && v.mismatches == 0),
        "{:?}",
        r.verify
    );
    Ok(())
}

fn direct_required_refused() -> Result<(), libtest_mimic::Failed> {
    let m = Mounted::new("ramfs", "size=4m")?;
    let run = run_in(
        m.path(),
        &["--pattern", "read", "--size", "64k", "--direct=required"],
    );
    ensure!(
        run.code() == Some(2),
        "exit {}\n{}",
        run.code().unwrap_or(-1),
        run.describe()
    );
    let line = run.stderr.trim_end();
    ensure!(!line.contains('\n'), "one line\n{}", run.describe());
    ensure!(
        line.starts_with("error: --direct: direct IO is required"),
        "{}",
        run.describe()
    );
    ensure!(
        line.contains("EINVAL") && line.contains(&m.path().display().to_string()),
        "{}",
        run.describe()
    );
    ensure!(
        entries(m.path()).is_empty(),
        "nothing may be created\n{}",
        run.describe()
    );

    // The same from a job file points into the file.
    let job: PathBuf =
        std::env::temp_dir().join(format!("nfslab-direct-{}.yaml", std::process::id()));
    std::fs::write(&job, "pattern: read\nsize: 64k\ndirect: required\n")?;
    let run = run_in(m.path(), &["--job", job.to_str().unwrap_or_default()]);
    let _ = std::fs::remove_file(&job);
    ensure!(run.code() == Some(2), "{}", run.describe());
    ensure!(
        run.stderr.contains(".yaml:3:") && run.stderr.contains("field `direct`"),
        "{}",
        run.describe()
    );
    Ok(())
}

fn direct_on_falls_back_with_a_note() -> Result<(), libtest_mimic::Failed> {
    let m = Mounted::new("ramfs", "size=4m")?;
    let run = run_in(
        m.path(),
        &[
            "--pattern",
            "randread",
            "--size",
            "256k",
            "--direct",
            "--verify",
        ],
    );
    ensure!(run.code() == Some(0), "{}", run.describe());
    let r = run.result();
    ensure!(!r.effective.direct_used, "direct must not be used");
    ensure!(
        r.effective.cache == "buffered",
        "cache {}",
        r.effective.cache
    );
    let note = r.effective.direct_note.as_deref().unwrap_or_default();
    ensure!(
        note.contains("refuses O_DIRECT") && note.contains("EINVAL"),
        "{note}"
    );
    ensure!(
        run.stderr.contains("note: the filesystem at"),
        "{}",
        run.stderr
    );
    ensure!(
        r.verify
            .as_ref()
            .is_some_and(|v| v.blocks_checked == 64 && v.mismatches == 0),
        "{:?}",
        r.verify
    );
    Ok(())
}

/// ENOSPC with requests in flight: every mechanism that keeps a queue stops on the first
/// failure, counts the errno of every request that failed, keeps the partial statistics and
/// removes its files.
fn enospc_at_depth() -> Result<(), libtest_mimic::Failed> {
    for ioengine in ["io_uring", "threads"] {
        let m = Mounted::new("tmpfs", "size=1m")?;
        let run = run_in(
            m.path(),
            &[
                "--pattern",
                "write",
                "--bs",
                "64k",
                "--size",
                "4m",
                "--iodepth",
                "8",
                "--ioengine",
                ioengine,
            ],
        );
        ensure!(
            run.code() == Some(3),
            "{ioengine}: exit {}\n{}",
            run.code().unwrap_or(-1),
            run.describe()
        );
        let r = run.result();
        let error = r.error.as_ref().ok_or("no error recorded")?;
        ensure!(
            error.errno.as_deref() == Some("ENOSPC") && error.phase == "measured",
            "{ioengine}: {error:?}"
        );
        let failed = r.errors.get("ENOSPC").copied().unwrap_or(0);
        ensure!(
            (1..=8).contains(&failed),
            "{ioengine}: every failed request in flight counts: {:?}",
            r.errors
        );
        ensure!(
            r.totals.data_ops <= 16,
            "{ioengine}: {} writes of 64k fit in 1m",
            r.totals.data_ops
        );
        common::check_consistency(&r, &run.describe());
        ensure!(entries(m.path()).is_empty(), "{ioengine}: files removed");
    }
    Ok(())
}

fn can_mount() -> Result<(), String> {
    Mounted::new("tmpfs", "size=64k").map(|_| ())
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let tests: Vec<(&'static str, Body)> = vec![
        (
            "enospc_mid_run_gives_partial_json_and_cleanup",
            Box::new(enospc_mid_run),
        ),
        (
            "enospc_with_requests_in_flight_counts_each_failure",
            Box::new(enospc_at_depth),
        ),
        (
            "read_only_directory_is_bad_input",
            Box::new(read_only_directory),
        ),
        (
            "read_only_volume_with_files_in_place_is_read",
            Box::new(read_only_volume_with_files_in_place),
        ),
        (
            "direct_required_on_a_filesystem_refusing_o_direct",
            Box::new(direct_required_refused),
        ),
        (
            "direct_on_falls_back_to_buffered_with_a_note",
            Box::new(direct_on_falls_back_with_a_note),
        ),
    ];
    let trials = gated_trials("mount", can_mount(), tests);
    libtest_mimic::run(&args, trials).exit();
}
