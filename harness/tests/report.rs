//! Reports and comparisons rendered from the committed fixture result sets
//! (`tests/fixtures/bench/run-a`, `run-b`: real nfslab-io measurements, see their README).
//!
//! Markdown and CSV are snapshot-tested; the HTML is checked for one chart per workload and
//! for the absence of any external reference; `nfslab report` and `nfslab compare` run as
//! the real binary. Regressions are made from run A by stretching every client's measured
//! window (the same work in 25% more time is a 20% throughput drop), which keeps every other
//! figure of the real measurement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use nfslab::model::results::ResultsDir;
use nfslab::model::summarize_dir;
use nfslab::model::summary::Summary;
use nfslab::report::{self, write_reports};
use nfslab_workload::{RunResult, Size, Totals};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(name)
}

/// The fixture's summary, aggregated once per test binary (tests run in parallel threads).
fn summary_of(name: &str) -> Summary {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Summary>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut map = cache.lock().unwrap();
    map.entry(name.to_owned())
        .or_insert_with(|| summarize_dir(&ResultsDir::open(&fixture(name)).unwrap()).unwrap())
        .clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn raw_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            raw_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// A copy of run A whose every client took `factor` times as long for the same work,
/// aggregated and rendered.
fn stretched_copy(into: &Path, factor: f64) -> PathBuf {
    stretched_per_repetition(
        into,
        &format!("stretched-{factor}"),
        &[factor; 3],
        |_| {},
        |_, _| {},
    )
}

/// A copy of run A (named `name`) whose clients of repetition `r` took `factors[r - 1]` times
/// as long for the same work, with `edit` applied to its `run.json` and `edit_raw` to each
/// raw result (with its path) first, aggregated and rendered.
fn stretched_per_repetition(
    into: &Path,
    name: &str,
    factors: &[f64; 3],
    edit: impl FnOnce(&mut serde_json::Value),
    edit_raw: impl Fn(&Path, &mut RunResult),
) -> PathBuf {
    let dir = into.join(name);
    copy_dir(&fixture("run-a"), &dir);
    let record = dir.join("run.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    edit(&mut run);
    std::fs::write(&record, serde_json::to_string_pretty(&run).unwrap()).unwrap();
    let mut files = Vec::new();
    raw_files(&dir.join("raw"), &mut files);
    assert!(files.len() > 50, "fixture raw results: {}", files.len());
    for file in files {
        let text = file.display().to_string();
        let rep: usize = text
            .split("/rep-")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let factor = factors[rep - 1];
        let mut r: RunResult =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        edit_raw(&file, &mut r);
        let m = &mut r.measures;
        m.window.seconds *= factor;
        for op in m.ops.values_mut() {
            op.bandwidth_bytes_per_sec /= factor;
            op.ops_per_sec /= factor;
        }
        m.totals = Totals::from_ops(&m.ops, m.window.seconds, m.totals.ramp_ops_excluded);
        std::fs::write(&file, serde_json::to_string(&r).unwrap()).unwrap();
    }
    write_reports(&ResultsDir::open(&dir).unwrap()).unwrap();
    dir
}

/// A copy of a fixture run with its (cached) summary written, as `nfslab report` would.
fn summarized_copy(name: &str, into: &Path) -> PathBuf {
    let dir = into.join(name);
    copy_dir(&fixture(name), &dir);
    let json = serde_json::to_string_pretty(&summary_of(name)).unwrap();
    std::fs::write(dir.join("summary.json"), json).unwrap();
    dir
}

fn nfslab(args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_nfslab"))
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ nfslab {:?}\nstatus {:?}\n--- stdout\n{}\n--- stderr\n{}",
        args,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

#[test]
fn markdown_report_of_run_a() {
    insta::assert_snapshot!(
        "run_a_markdown",
        report::markdown::render(&summary_of("run-a"))
    );
}

#[test]
fn csv_summary_of_run_a() {
    insta::assert_snapshot!("run_a_csv", report::csv::render(&summary_of("run-a")));
}

#[test]
fn markdown_report_of_run_b() {
    insta::assert_snapshot!(
        "run_b_markdown",
        report::markdown::render(&summary_of("run-b"))
    );
}

#[test]
fn summary_of_run_a_has_every_cell_measured() {
    let s = summary_of("run-a");
    assert_eq!(s.cells.len(), 24);
    assert!(
        s.cells.iter().all(|c| c.repetitions_ok == 3),
        "all repetitions ok"
    );
    assert_eq!(
        s.workloads(),
        ["seq-write-1m", "rand-read-4k", "metadata-small-files"]
    );
    // Two-client cells merge two result documents per repetition.
    let k2 = s.cell("tmpfs/rand-read-4k/one-thread/k2").unwrap();
    assert!(k2.repetitions.iter().all(|r| r.clients == 2));
    let read = &k2.latency["read"];
    let per_pod: u64 = k2
        .repetitions
        .iter()
        .flat_map(|r| r.per_client.iter())
        .count() as u64;
    assert_eq!(per_pod, 6);
    assert!(read.ops > 0 && read.latency_ns.p99 >= read.latency_ns.p50);
    // The second profile asks for `noatime`, which the local mounts do not have.
    let two = s.cell("disk/seq-write-1m/two-threads/k1").unwrap();
    let flagged: Vec<&str> = two
        .options
        .flagged()
        .iter()
        .map(|d| d.key.as_str())
        .collect();
    assert_eq!(flagged, ["atime"]);
}

#[test]
fn html_has_one_chart_per_workload_and_no_external_resources() {
    let s = summary_of("run-a");
    let html = report::html::render(&s).unwrap();
    let sections: Vec<&str> = html.split("<section class=\"workload\"").skip(1).collect();
    assert_eq!(sections.len(), s.workloads().len());
    for (section, workload) in sections.iter().zip(s.workloads()) {
        let body = section.split("</section>").next().unwrap();
        assert!(body.contains(&format!("data-workload=\"{workload}\"")));
        assert_eq!(body.matches("<svg").count(), 1, "one chart in {workload}");
        assert!(
            body.contains(&format!("{workload}: ")),
            "chart caption names the workload"
        );
    }
    assert_eq!(html.matches("<svg").count(), s.workloads().len());
    assert_no_external_references(&html);
    assert!(html.contains("Requested vs effective mount options"));
}

/// No `src`, `href`, `url(...)`, `@import`, `<link`, `<script` or `<iframe` that could make
/// the browser fetch anything: links may only be page-local anchors. (The SVG `xmlns`
/// attribute names a namespace and is never fetched.)
fn assert_no_external_references(html: &str) {
    let lower = html.to_ascii_lowercase();
    for forbidden in [
        "<link", "<script", "<iframe", "<img", "@import", "url(", " src=",
    ] {
        assert!(!lower.contains(forbidden), "found `{forbidden}`");
    }
    for (i, _) in lower.match_indices("href=") {
        let value = &lower[i + 5..];
        assert!(
            value.starts_with("\"#"),
            "non-local link: {}",
            &value[..40.min(value.len())]
        );
    }
    for (i, _) in lower.match_indices("http") {
        let before = &lower[i.saturating_sub(7)..i];
        assert!(
            before.ends_with("xmlns=\""),
            "URL outside xmlns: {}",
            &lower[i..(i + 40).min(lower.len())]
        );
    }
}

#[test]
fn report_command_writes_every_file_from_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run-a");
    copy_dir(&fixture("run-a"), &dir);
    let out = nfslab(&[std::ffi::OsStr::new("report"), os(&dir)]);
    assert_eq!(out.status.code(), Some(0));
    for name in ["summary.json", "summary.csv", "report.md", "report.html"] {
        assert!(dir.join(name).is_file(), "{name} written");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert_eq!(md, report::markdown::render(&summary_of("run-a")));
    // Rendering again from the same JSON gives the same files.
    let before = std::fs::read(dir.join("report.html")).unwrap();
    assert_eq!(
        nfslab(&[std::ffi::OsStr::new("report"), os(&dir)])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(std::fs::read(dir.join("report.html")).unwrap(), before);

    let out = nfslab(&[std::ffi::OsStr::new("report"), os(tmp.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a benchmark results directory"));
}

#[test]
fn a_twenty_percent_drop_is_a_regression() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summarized_copy("run-a", tmp.path());
    let slower = stretched_copy(tmp.path(), 1.25);
    let html = tmp.path().join("compare.html");
    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&base),
        os(&slower),
        std::ffi::OsStr::new("--html"),
        os(&html),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("| tmpfs/seq-write-1m/one-thread/k1 | bandwidth (MB/s) |"),
        "{text}"
    );
    assert!(text.contains("-20.0% | REGRESSION"), "{text}");
    // Latency did not move: the p99 rows stay within the threshold.
    assert!(text.contains("| tmpfs/rand-read-4k/one-thread/k1 | read p99 (µs) |"));
    let p99_rows: Vec<&str> = text.lines().filter(|l| l.contains("p99 (µs)")).collect();
    assert!(!p99_rows.is_empty());
    for row in p99_rows {
        assert!(row.contains("| +0.0% | ok"), "{row}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 2, "throughput and p99 charts");
    assert!(page.contains("REGRESSION"));

    // The same drop within a wider threshold passes.
    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&base),
        os(&slower),
        std::ffi::OsStr::new("--threshold"),
        std::ffi::OsStr::new("25%"),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn noise_within_the_threshold_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summarized_copy("run-a", tmp.path());
    let noisy = stretched_copy(tmp.path(), 1.05);
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&base), os(&noisy)]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-4.8% | ok"), "{text}");
    assert!(text.contains("0 regressions"), "{text}");
}

#[test]
fn identical_runs_within_noise_are_not_regressions() {
    // The same build run again on a busy machine: one repetition as before, one 15% and one
    // 30% slower. The median drops by more than the 10% threshold, but the ranges of the
    // repetitions overlap: noise, not a regression.
    let tmp = tempfile::tempdir().unwrap();
    let base = summarized_copy("run-a", tmp.path());
    let again = stretched_per_repetition(tmp.path(), "again", &[1.0, 1.15, 1.3], |_| {}, |_, _| {});
    let json = tmp.path().join("c.json");
    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&base),
        os(&again),
        std::ffi::OsStr::new("--json"),
        os(&json),
    ]);
    assert_eq!(out.status.code(), Some(0), "no regression");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 regressions"), "{text}");
    assert!(
        text.contains("| tmpfs/seq-write-1m/one-thread/k1 | bandwidth (MB/s) |"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("| tmpfs/seq-write-1m/one-thread/k1 | bandwidth"))
        .unwrap();
    assert!(
        row.contains("n=3") && row.contains("| noise: the repetitions' ranges overlap"),
        "{row}"
    );
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["verdict"] != "regression")
    );
    // Two runs of the very same measurements: every figure within the threshold.
    let twin = summarized_copy("run-a", &tmp.path().join("twin"));
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&base), os(&twin)]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 regressions, 0 improvements; 0 beyond"),
        "{text}"
    );
}

#[test]
fn one_repetition_decides_nothing() {
    // Run A with only its first repetition, 25% slower: far beyond the threshold, but one
    // repetition says nothing about the spread.
    let tmp = tempfile::tempdir().unwrap();
    let base = summarized_copy("run-a", tmp.path());
    let once = stretched_per_repetition(
        tmp.path(),
        "once",
        &[1.25, 1.25, 1.25],
        |run| {
            run["repetitions"] = 1.into();
            let attempts = run["attempts"].as_array_mut().unwrap();
            attempts.retain(|a| a["repetition"] == 1);
        },
        |_, _| {},
    );
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&base), os(&once)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "inconclusive is not a regression"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("| tmpfs/seq-write-1m/one-thread/k1 | bandwidth"))
        .unwrap();
    assert!(
        row.contains("| inconclusive: n=3 vs n=1 (fewer than 3 repetitions)"),
        "{row}"
    );
    // The report of the one-repetition run declares no clear win, and says why.
    let md = std::fs::read_to_string(once.join("report.md")).unwrap();
    let best: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Best profile"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload"))
        .collect();
    assert!(!best.is_empty(), "{md}");
    for line in best {
        assert!(line.contains("no: n=1: fewer than 3 repetitions"), "{line}");
    }
}

#[test]
fn cells_whose_jobs_differ_are_set_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summarized_copy("run-a", tmp.path());
    // The clients of one cell ran 8k blocks on 128m files (what they report is what the
    // cell ran).
    let bigger = stretched_per_repetition(
        tmp.path(),
        "bigger",
        &[1.0, 1.0, 1.0],
        |_| {},
        |path, r| {
            if path
                .to_string_lossy()
                .contains("/tmpfs/rand-read-4k/one-thread/k1/")
            {
                r.job.bs = Some(Size(8192));
                r.job.size = Some(Size(128 << 20));
                r.effective.job = r.job.resolve().unwrap();
            }
        },
    );
    let json = tmp.path().join("c.json");
    let html = tmp.path().join("c.html");
    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&base),
        os(&bigger),
        std::ffi::OsStr::new("--json"),
        os(&json),
        std::ffi::OsStr::new("--html"),
        os(&html),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "> **Warning: 1 cell ran different jobs in the two runs and is not compared**"
        ),
        "{text}"
    );
    assert!(
        text.contains("> - `tmpfs/rand-read-4k/one-thread/k1`: bs: 4096 → 8192; "),
        "{text}"
    );
    assert!(text.contains("size: 33554432 → 134217728"), "{text}");
    assert!(
        !text.contains("| tmpfs/rand-read-4k/one-thread/k1 |"),
        "no figures of different jobs side by side: {text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 cell(s) ran different jobs"), "{stderr}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        c["mismatched"][0]["cell"],
        "tmpfs/rand-read-4k/one-thread/k1"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("ran different jobs"));
    // Throughput and p99 latency each get their chart.
    assert_eq!(page.matches("<svg").count(), 2);
    assert!(page.contains("p99 latency, new vs old"));
}

#[test]
fn cells_in_one_run_only_are_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let a = summarized_copy("run-a", tmp.path());
    let b = summarized_copy("run-b", tmp.path());
    let json = tmp.path().join("c.json");
    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&a),
        os(&b),
        std::ffi::OsStr::new("--json"),
        os(&json),
    ]);
    // Two real runs: whether a figure moved by more than 10% is up to the measurements.
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let list = |k: &str| -> Vec<String> {
        c[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        list("only_new"),
        [
            "tmpfs/fsync-4k/one-thread/k1",
            "tmpfs/fsync-4k/two-threads/k1"
        ]
    );
    let only_old = list("only_old");
    assert_eq!(only_old.len(), 20);
    assert!(only_old.contains(&"disk/metadata-small-files/two-threads/k2".to_owned()));
    let compared: std::collections::BTreeSet<&str> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cell"].as_str().unwrap())
        .collect();
    assert_eq!(compared.len(), 4);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Only in the new run:\n- `tmpfs/fsync-4k/one-thread/k1`"),
        "{text}"
    );
    assert!(text.contains("Only in the old run:"), "{text}");
}

#[test]
fn bad_compare_input_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    copy_dir(&fixture("run-a"), &a);
    let missing = tmp.path().join("nope");
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&missing), os(&a)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A results directory without summary.json.
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&a), os(&a)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nfslab report"));

    let a = summarized_copy("run-a", tmp.path());
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    let file = b.join("summary.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["schema_version"] = 99.into();
    std::fs::write(&file, v.to_string()).unwrap();
    let out = nfslab(&[std::ffi::OsStr::new("compare"), os(&a), os(&b)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema_version `99`"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = nfslab(&[
        std::ffi::OsStr::new("compare"),
        os(&a),
        os(&a),
        std::ffi::OsStr::new("--threshold"),
        std::ffi::OsStr::new("lots"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`lots` is not a percentage"));
}

#[test]
fn nas_tier_section_compares_the_best_profiles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    copy_dir(&fixture("run-a"), &dir);
    let results = ResultsDir::open(&dir).unwrap();
    let mut plan = results.read_plan().unwrap();
    let table = nfslab::model::parse_tiers(
        nfslab::model::plan::DEFAULT_NAS_TIERS_YAML,
        "nas-tiers.yaml",
    )
    .unwrap();
    plan.nas = Some(nfslab::model::NasReference {
        tier: table
            .tiers
            .into_iter()
            .find(|t| t.name == "extreme")
            .unwrap(),
        currency: table.currency,
        provisioned_bytes: 1 << 40,
    });
    results.write_plan(&plan).unwrap();
    let summary = summarize_dir(&results).unwrap();
    let nas = summary.nas.as_ref().unwrap();
    // One row per best profile of each (server, workload, clients).
    assert_eq!(nas.rows.len(), summary.best.len());
    let row = nas
        .rows
        .iter()
        .find(|r| r.workload == "rand-read-4k" && r.server == "tmpfs")
        .unwrap();
    let best = summary
        .best
        .iter()
        .find(|b| b.workload == "rand-read-4k" && b.server == "tmpfs" && b.clients == 1)
        .unwrap();
    assert_eq!(row.profile, best.profile);
    // Reads are compared with the advertised 150-1200 MB/s and 200K IOPS.
    let pct = row.percent_of_read_bandwidth.unwrap();
    assert!((pct.max / pct.min - 8.0).abs() < 1e-9, "{pct:?}");
    assert!((row.percent_of_max_iops.unwrap() - row.measured_iops / 2000.0).abs() < 1e-9);
    let md = report::markdown::render(&summary);
    assert!(
        md.contains("## Compared with NAS tier \"Extreme NAS\""),
        "{md}"
    );
    assert!(md.contains("Provisioned 1024 GiB; advertised read bandwidth 150–1200 MB/s; max IOPS 200000; monthly cost 1843 CNY."), "{md}");
    let html = report::html::render(&summary).unwrap();
    assert!(html.contains("id=\"nas\""));
}

/// A host run's summary: run A's first cell as the mount cell, and a protocol cell of the
/// same job made from it with 25% more throughput and half the latency.
fn host_summary() -> Summary {
    use nfslab::model::AccessPath;
    use nfslab::model::mount_efficiency;
    use nfslab::nfs::NotApplicable;
    let mut s = summary_of("run-a");
    s.cells.truncate(1);
    let mut mount = s.cells.remove(0);
    mount.access = Some(AccessPath::Mount);
    let mut protocol = mount.clone();
    protocol.id.push_str("/protocol");
    protocol.access = Some(AccessPath::Protocol);
    let faster = |spread: &mut Option<nfslab::model::summary::Spread>| {
        if let Some(sp) = spread.as_mut() {
            *sp = nfslab::model::summary::scale(*sp, 1.25);
        }
    };
    faster(&mut protocol.bandwidth_bytes_per_sec);
    faster(&mut protocol.iops);
    faster(&mut protocol.ops_per_sec);
    for l in protocol.latency.values_mut() {
        l.latency_ns.p99 /= 2;
    }
    protocol.options.not_applicable = vec![NotApplicable {
        option: "vers=4.1".to_owned(),
        reason: "the protocol client speaks NFSv3 only".to_owned(),
    }];
    s.cells = vec![mount, protocol];
    let efficiency = mount_efficiency(&s.cells[0], &s.cells);
    s.cells[0].mount_efficiency = efficiency;
    s
}

#[test]
fn host_runs_show_mount_efficiency_and_options_without_protocol_equivalent() {
    let s = host_summary();
    let e = s.cells[0].mount_efficiency.as_ref().expect("an efficiency");
    assert!((e.ratio - 0.8).abs() < 1e-9, "{e:?}");
    assert!((e.p99_ratio.unwrap() - 2.0).abs() < 0.01, "{e:?}");
    let md = nfslab::report::markdown::render(&s);
    let section = md
        .split("## Mount efficiency\n")
        .nth(1)
        .expect("a mount efficiency section");
    let row = section
        .lines()
        .find(|l| l.starts_with(&format!("| {} |", s.cells[0].workload)))
        .expect("a row for the cell");
    assert!(row.contains("| **80%** |"), "{row}");
    assert!(row.contains("| 2.00 |"), "{row}");
    assert!(md.contains(" (protocol) |"), "labels carry the access path");
    assert!(
        md.contains("not applicable: vers=4.1 (the protocol client speaks NFSv3 only)"),
        "{md}"
    );
    let html = nfslab::report::html::render(&s).unwrap();
    assert!(html.contains("<h2 id=\"efficiency\">Mount efficiency</h2>"));
    assert!(html.contains("<strong>80%</strong>"));
    assert!(html.contains("Not applicable without a mount"));
    assert_no_external_references(&html);
    // The fields round-trip through summary.json.
    let json = serde_json::to_string(&s).unwrap();
    let back: Summary = serde_json::from_str(&json).unwrap();
    assert_eq!(back.cells[0].access, s.cells[0].access);
    assert_eq!(back.cells[1].access, s.cells[1].access);
    let back_e = back.cells[0].mount_efficiency.as_ref().unwrap();
    assert_eq!(back_e.protocol_cell, e.protocol_cell);
    assert!((back_e.ratio - e.ratio).abs() < 1e-12);
    assert_eq!(
        back.cells[1].options.not_applicable,
        s.cells[1].options.not_applicable
    );
}

/// Run A with the second repetition of its first cell failed.
fn summary_with_a_failure() -> Summary {
    let mut s = summary_of("run-a");
    let cell = &mut s.cells[0];
    cell.repetitions_ok -= 1;
    cell.failures
        .push("repetition 2: client 0 exited with 3: no space left on device".to_owned());
    s
}

#[test]
fn a_run_with_failures_never_reads_complete() {
    let s = summary_with_a_failure();
    let status = s.status_text();
    assert!(
        status.starts_with("finished with failures: 1 repetition(s) failed in"),
        "{status}"
    );
    assert!(!s.all_measured());
    let md = nfslab::report::markdown::render(&s);
    assert!(md.contains(&status), "the Markdown states the status");
    let html = nfslab::report::html::render(&s).unwrap();
    assert!(
        html.contains("Status <strong class=\"flag\">finished with failures:"),
        "the HTML states it, flagged"
    );
    // The fixture itself measured everything.
    let complete = summary_of("run-a");
    assert_eq!(complete.status_text(), "complete");
    assert!(
        nfslab::report::html::render(&complete)
            .unwrap()
            .contains("Status <strong class=\"ok\">complete</strong>")
    );
}

#[test]
fn html_and_markdown_give_each_profile_the_same_options_verdict() {
    let s = host_summary();
    let md = nfslab::report::markdown::render(&s);
    let html = nfslab::report::html::render(&s).unwrap();
    // The protocol cell's vers=4.1 did not apply: never "as requested" in either.
    let (verdict, ok) = nfslab::report::options_verdict(&s.cells[1]);
    assert!(!ok);
    assert_eq!(verdict, "1 not applicable");
    let md_row = md
        .lines()
        .find(|l| l.contains(" (protocol) |") && l.contains("not applicable: vers=4.1"))
        .expect("a Markdown options row for the protocol cell");
    assert!(md_row.contains("| 1 not applicable: "), "{md_row}");
    assert!(
        html.contains("<span class=\"flag\">1 not applicable</span></summary>"),
        "the HTML says the same, flagged"
    );
    let (mount_verdict, _) = nfslab::report::options_verdict(&s.cells[0]);
    for c in &s.cells {
        let (v, ok) = nfslab::report::options_verdict(c);
        let class = if ok { "ok" } else { "flag" };
        assert!(
            html.contains(&format!("<span class=\"{class}\">{v}</span></summary>")),
            "HTML verdict `{v}` for {}",
            c.id
        );
    }
    assert!(md.contains(&format!("| {mount_verdict}")), "{md}");
}

#[test]
fn terminal_table_of_run_a() {
    insta::assert_snapshot!(
        "terminal_run_a",
        nfslab::report::terminal::bench_table(&summary_of("run-a"))
    );
}

#[test]
fn terminal_table_with_a_failed_repetition() {
    insta::assert_snapshot!(
        "terminal_run_a_failure",
        nfslab::report::terminal::bench_table(&summary_with_a_failure())
    );
}
