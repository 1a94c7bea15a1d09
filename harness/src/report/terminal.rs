//! The answer on the terminal: the compact table `nfslab bench` and `nfslab run` print on
//! stderr when they end, the way fio and kubestr users expect one.
//!
//! Per (server, workload, clients) the best profile with its median figure, the runner-up
//! with its figure, and the verdict ([`crate::model::summary::Best`]: a clear win needs at
//! least three repetitions on both sides and ranges that do not overlap); then every failed
//! repetition with its reason. The callers add the report's path last. Figures carry their
//! unit (`MB/s` = 10^6 bytes/s, the unit of every report).

use std::fmt::Write as _;

use crate::model::scenarios::{Outcome, RunResults};
use crate::model::summary::{Best, Headline, Summary, name_of};
use crate::report::format::number;

/// A figure in display units with its unit (`812 MB/s`, `12345 IOPS`).
fn figure(headline: Headline, value: f64) -> String {
    match headline {
        Headline::Bandwidth => format!("{} MB/s", number(value)),
        Headline::Iops => format!("{} IOPS", number(value)),
        Headline::OpsPerSec => format!("{} ops/s", number(value)),
    }
}

fn verdict(b: &Best) -> String {
    if b.clear {
        format!("clear win (n={})", b.n)
    } else {
        format!(
            "not clear: {}",
            b.why_not_clear.as_deref().unwrap_or("ranges overlap")
        )
    }
}

/// Rows of text as columns padded to their widest cell, two spaces apart, indented.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            line.push(' ');
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 1;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The benchmark's table: best profile per workload, runner-up, verdict; then failures.
#[must_use]
pub fn bench_table(s: &Summary) -> String {
    let mut out = String::new();
    let status = s.status_text();
    let _ = writeln!(
        out,
        "Benchmark `{}` ({}): {} cells, {} repetitions each.",
        s.plan,
        status,
        s.cells.len(),
        s.repetitions
    );
    if s.best.is_empty() {
        out.push_str("  No cell has a figure: nothing was measured.\n");
    } else {
        let many_servers = s
            .best
            .iter()
            .any(|b| b.server != s.best[0].server || b.access != s.best[0].access);
        let many_clients = s.best.iter().any(|b| b.clients != s.best[0].clients);
        let mut head = Vec::new();
        if many_servers {
            head.push("server".to_owned());
        }
        head.push("workload".to_owned());
        if many_clients {
            head.push("clients".to_owned());
        }
        head.extend(
            ["best profile", "median", "runner-up", "median", "verdict"].map(str::to_owned),
        );
        let mut rows = vec![head];
        for b in &s.best {
            let mut row = Vec::new();
            if many_servers {
                row.push(crate::report::format::server_label(&b.server, b.access));
            }
            row.push(b.workload.clone());
            if many_clients {
                row.push(b.clients.to_string());
            }
            row.push(b.profile.clone());
            row.push(figure(b.headline, b.value));
            match &b.runner_up {
                Some((p, v)) => {
                    row.push(p.clone());
                    row.push(figure(b.headline, *v));
                }
                None => {
                    row.push("-".to_owned());
                    row.push("-".to_owned());
                }
            }
            row.push(verdict(b));
            rows.push(row);
        }
        out.push_str("Best profile per workload (median over repetitions; MB/s = 10^6 bytes/s):\n");
        out.push_str(&columns(&rows));
    }
    let failures = s.failures();
    if !failures.is_empty() {
        let _ = writeln!(out, "Failed ({} repetitions):", failures.len());
        for (cell, why) in failures {
            let _ = writeln!(out, "  - {cell}: {why}");
        }
    }
    let missing: Vec<&str> = s
        .cells
        .iter()
        .filter(|c| c.repetitions_ok == 0 && c.failures.is_empty())
        .map(|c| c.id.as_str())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "Not measured ({}): {}",
            name_of(&s.status),
            missing.join(", ")
        );
    }
    out
}

/// The scenarios in one line, then each that did not pass with its reason.
#[must_use]
pub fn scenario_lines(results: &RunResults) -> String {
    let s = results.summary;
    let mut out = format!("Scenarios: {}.\n", s.counts());
    for r in &results.scenarios {
        let word = match r.outcome {
            Outcome::Passed | Outcome::Skipped => continue,
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Interrupted => "interrupted",
        };
        let _ = writeln!(
            out,
            "  - {}{} {word}: {}",
            r.code
                .as_deref()
                .map(|c| format!("{c} "))
                .unwrap_or_default(),
            r.id,
            r.reason.as_deref().unwrap_or("see the report")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scenarios::{
        KIND, SCHEMA_VERSION, ScenarioResult, ScenarioTarget, Summary as Counts,
    };

    fn scenario(code: &str, id: &str, outcome: Outcome, reason: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            id: id.to_owned(),
            code: Some(code.to_owned()),
            title: format!("title of {id}"),
            file: format!("scenarios/{id}.yaml"),
            description: String::new(),
            sources: Vec::new(),
            namespace: String::new(),
            outcome,
            reason: reason.map(str::to_owned),
            started_at: String::new(),
            duration_ms: 12_300,
            steps: Vec::new(),
            notes: Vec::new(),
            mounts: Vec::new(),
            captured: std::collections::BTreeMap::new(),
            diagnosis: None,
            cleanup: crate::k8s::tracker::CleanupReport::default(),
        }
    }

    /// What `nfslab run` prints about its scenarios at the end: the counts, then every
    /// scenario that did not pass with its reason (passed and skipped ones are counted only).
    #[test]
    fn the_scenarios_that_did_not_pass_are_listed_with_their_reason() {
        let scenarios = vec![
            scenario("S1", "static-binding-selector", Outcome::Passed, None),
            scenario(
                "R1",
                "recycle-wipes-volume",
                Outcome::Failed,
                Some("step 6: the volume still holds `.hidden`"),
            ),
            scenario(
                "F1",
                "server-restart-hard-vs-soft",
                Outcome::Skipped,
                Some("needs direct access to the server's files"),
            ),
            scenario("T1", "statefulset-stable-storage", Outcome::Error, None),
        ];
        let results = RunResults {
            schema_version: SCHEMA_VERSION,
            kind: KIND.to_owned(),
            run_id: "20261123-150000-abcdef".to_owned(),
            started_at: String::new(),
            duration_ms: 0,
            environment: ScenarioTarget::default(),
            summary: Counts::of(&scenarios),
            scenarios,
        };
        insta::assert_snapshot!(scenario_lines(&results), @r"
        Scenarios: 1 passed, 1 failed, 1 errors, 1 skipped.
          - R1 recycle-wipes-volume failed: step 6: the volume still holds `.hidden`
          - T1 statefulset-stable-storage error: see the report
        ");
    }
}
