//! The HTML report opens in headless Chromium without console errors, and the browser's DOM
//! holds one chart per workload and states the run's status as the Markdown does: a run
//! with a failed repetition never reads "complete".
//!
//! Needs a Chromium binary (`chromium`, `chromium-browser`, `google-chrome`, or
//! `NFSLAB_CHROMIUM`). Without one, the trials are reported as ignored with the reason;
//! with `chromium` in `NFSLAB_REQUIRE` a missing browser is a failure.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use nfslab::model::results::ResultsDir;
use nfslab::model::summarize_dir;
use nfslab::report;
use nfslab_test_support::gate;

fn find_chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("NFSLAB_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let paths = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&paths) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// What Chromium printed while loading a page.
struct Load {
    dom: String,
    console: Vec<String>,
}

fn load(chromium: &Path, page: &Path) -> Result<Load, Failed> {
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    // Drain both pipes while waiting: the DOM alone is larger than a pipe buffer.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("chromium did not finish within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("chromium exited with {:?}:\n{stderr}", status.code()).into());
    }
    Ok(Load {
        dom,
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_owned)
            .collect(),
    })
}

fn report_opens_cleanly(chromium: &Path) -> Result<(), Failed> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench/run-a");
    let summary = summarize_dir(&ResultsDir::open(&fixture).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let html = report::html::render(&summary).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).map_err(|e| e.to_string())?;

    // The detector must see a broken page as broken, or a clean result proves nothing.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><script>console.error('x'); missing();</script></body></html>",
    )
    .map_err(|e| e.to_string())?;
    if load(chromium, &broken)?.console.is_empty() {
        return Err("console messages of a broken page were not detected".into());
    }

    let loaded = load(chromium, &page)?;
    if !loaded.console.is_empty() {
        return Err(format!("console output:\n{}", loaded.console.join("\n")).into());
    }
    let workloads = summary.workloads();
    let charts = loaded.dom.matches("<svg").count();
    if charts != workloads.len() {
        return Err(format!("{charts} charts in the DOM, {} workloads", workloads.len()).into());
    }
    for w in workloads {
        if !loaded.dom.contains(&format!("data-workload=\"{w}\"")) {
            return Err(format!("no section for workload `{w}` in the DOM").into());
        }
    }
    if !loaded.dom.contains("<h1>nfslab benchmark: local-fixture-a") {
        return Err("title missing from the DOM".into());
    }
    if !loaded
        .dom
        .contains("Status <strong class=\"ok\">complete</strong>")
    {
        return Err("a run that measured everything reads complete".into());
    }

    // The same run with a failed repetition: the page never says "complete".
    let mut failed = summary.clone();
    failed.cells[0].repetitions_ok -= 1;
    failed.cells[0]
        .failures
        .push("repetition 2: client 0 exited with 3".to_owned());
    let page = dir.path().join("failed.html");
    std::fs::write(
        &page,
        report::html::render(&failed).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let loaded = load(chromium, &page)?;
    if !loaded
        .dom
        .contains("Status <strong class=\"flag\">finished with failures: 1 repetition(s)")
    {
        return Err("a run with a failure must say so, flagged, in the rendered page".into());
    }
    if loaded.dom.contains(">complete</strong>") {
        return Err("a run with a failure reads complete in the rendered page".into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let name = "html_report_opens_in_headless_chromium";
    let trial = match find_chromium() {
        Some(chromium) => Trial::test(name, move || report_opens_cleanly(&chromium)),
        None => gate::trial(
            "chromium",
            name,
            Some(
                "no chromium, chromium-browser or google-chrome on PATH \
                 (set NFSLAB_CHROMIUM=/path/to/chrome)"
                    .to_owned(),
            ),
            || Ok(()),
        ),
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}
