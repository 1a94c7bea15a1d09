//! The one report of `nfslab run`: environment, the scenario table with pass/fail, the
//! hazards and document disagreements the scenarios found, and the benchmark (its summary,
//! tables and charts), as `report.md` and a self-contained `report.html`.
//!
//! Everything is rendered from the run's JSON documents ([`CombinedInput`]: the environment,
//! `scenarios.json` and the benchmark's `summary.json`), so a report can be re-rendered from
//! a results directory at any time. Parts that did not run say why instead of vanishing.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::charts::ChartError;
use super::html::{STYLE, escape};
use crate::model::environment::Environment;
use crate::model::scenarios::NoteKind;
use crate::model::scenarios::{Outcome, RunResults, ScenarioResult};
use crate::model::summary::Summary;

/// Name of the file recording the run's phases and environment (`run.json` belongs to the
/// benchmark).
pub(crate) const JOB_FILE: &str = "job.json";

/// What a part of the run (scenarios, benchmark) came to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub(crate) enum Part<T> {
    /// It ran (possibly with failures, or interrupted part-way).
    Ran {
        /// Its results.
        results: T,
    },
    /// It was not run, and why (`--skip-bench`, interrupted before it started).
    NotRun {
        /// Why.
        reason: String,
    },
    /// It could not run or complete; its error.
    Broken {
        /// The error, with its causes.
        error: String,
    },
}

impl<T> Part<T> {
    /// For a part that has no results: whether it broke, and the sentence saying why.
    fn absence(&self) -> Option<(bool, String)> {
        match self {
            Self::Ran { .. } => None,
            Self::NotRun { reason } => Some((false, format!("Not run: {reason}."))),
            Self::Broken { error } => Some((true, format!("Could not run: {error}"))),
        }
    }

    fn absence_html(&self) -> Option<String> {
        self.absence().map(|(broken, text)| {
            let class = if broken { "flag" } else { "muted" };
            format!("<p class=\"{class}\">{}</p>\n", escape(&text))
        })
    }
}

/// Everything the combined report shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CombinedInput {
    /// The run id.
    pub run_id: String,
    /// nfslab's version.
    pub tool_version: String,
    /// How the run ended, in words (`passed`, `2 scenarios failed`, `interrupted`).
    pub verdict: String,
    /// RFC 3339 start.
    pub started: String,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// Cluster, Kubernetes version, nodes, servers.
    pub environment: Environment,
    /// The scenario catalog run.
    pub scenarios: Part<RunResults>,
    /// The benchmark, as its summary.
    pub bench: Part<Summary>,
    /// Problems outside the parts: tear-down failures, what was left behind.
    pub problems: Vec<String>,
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "FAILED",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "skipped",
        Outcome::Interrupted => "interrupted",
    }
}

fn note_word(k: NoteKind) -> &'static str {
    match k {
        NoteKind::Hazard => "hazard",
        NoteKind::Disagreement => "documents disagree",
        NoteKind::Fix => "fix",
        NoteKind::Info => "note",
    }
}

/// A node's fact as the report prints it: empty when the node did not say.
fn fact(value: Option<&String>) -> &str {
    value.map_or("", String::as_str)
}

fn seconds(ms: u64) -> String {
    let d = Duration::from_millis(ms);
    if d.as_secs() >= 120 {
        nfslab_workload::format_duration(Duration::from_secs(d.as_secs()))
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn label(r: &ScenarioResult) -> String {
    match &r.code {
        Some(code) => format!("{code} {}", r.id),
        None => r.id.clone(),
    }
}

/// The hazard and disagreement sections that have notes, hazards first: heading, note kind
/// and the notes, each with its scenario.
fn note_sections(results: &RunResults) -> Vec<NoteSection<'_>> {
    [
        (NoteKind::Hazard, "Hazards found"),
        (
            NoteKind::Disagreement,
            "Where the documents and Kubernetes disagree",
        ),
    ]
    .into_iter()
    .map(|(kind, heading)| (heading, kind, notes_of(results, kind)))
    .filter(|(_, _, notes)| !notes.is_empty())
    .collect()
}

/// One section of [`note_sections`].
type NoteSection<'a> = (&'static str, NoteKind, Vec<(&'a ScenarioResult, &'a str)>);

/// Notes of a kind across the scenarios that ran.
fn notes_of(results: &RunResults, kind: NoteKind) -> Vec<(&ScenarioResult, &str)> {
    results
        .scenarios
        .iter()
        .filter(|r| r.outcome != Outcome::Skipped)
        .flat_map(|r| {
            r.notes
                .iter()
                .filter(move |n| n.kind == kind)
                .map(move |n| (r, n.text.as_str()))
        })
        .collect()
}

/// Markdown headings one level down (`#` becomes `##`), outside code blocks.
fn demote(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 64);
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Renders `report.md`.
#[must_use]
pub(crate) fn render_markdown(input: &CombinedInput) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# nfslab run `{}`\n", input.run_id);
    let _ = writeln!(out, "- result: **{}**", input.verdict);
    let _ = writeln!(
        out,
        "- started {}, took {}, nfslab {}",
        input.started,
        seconds(input.duration_ms),
        input.tool_version
    );
    environment_md(&mut out, &input.environment);
    for p in &input.problems {
        let _ = writeln!(out, "- problem: {p}");
    }
    out.push('\n');
    out.push_str("## Scenarios\n\n");
    if let Part::Ran { results } = &input.scenarios {
        scenarios_md(&mut out, results);
    }
    if let Some((_, text)) = input.scenarios.absence() {
        let _ = writeln!(out, "{text}\n");
    }
    out.push_str("## Benchmark\n\n");
    match &input.bench {
        Part::Ran { results } => {
            out.push_str(
                "Details, raw results and charts: [`bench/report.html`](bench/report.html), \
                 CSV: [`bench/summary.csv`](bench/summary.csv).\n\n",
            );
            let body = super::markdown::render(results);
            // The benchmark report's own title duplicates this section's heading.
            let body = body
                .split_once('\n')
                .map_or(body.as_str(), |(_, rest)| rest);
            out.push_str(&demote(body));
        }
        Part::NotRun { .. } | Part::Broken { .. } => {
            if let Some((_, text)) = input.bench.absence() {
                let _ = writeln!(out, "{text}");
            }
        }
    }
    out
}

fn environment_md(out: &mut String, env: &Environment) {
    let _ = writeln!(
        out,
        "- cluster: {}; Kubernetes {}",
        if env.cluster.is_empty() {
            "-"
        } else {
            &env.cluster
        },
        env.kubernetes_version.as_deref().unwrap_or("-")
    );
    for n in &env.nodes {
        let _ = writeln!(
            out,
            "- node `{}`: kernel {}, kubelet {}, {}",
            n.name,
            fact(n.kernel.as_ref()),
            fact(n.kubelet.as_ref()),
            fact(n.os_image.as_ref())
        );
    }
    for s in &env.servers {
        let _ = writeln!(out, "- NFS server: `{}`", s.line());
    }
}

fn scenarios_md(out: &mut String, results: &RunResults) {
    let s = results.summary;
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} errors, {} skipped, {} interrupted, in {}.\n",
        s.passed,
        s.failed,
        s.errors,
        s.skipped,
        s.interrupted,
        seconds(results.duration_ms)
    );
    out.push_str("| Scenario | What it shows | Result | Time |\n|---|---|---|---:|\n");
    for r in &results.scenarios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            label(r),
            r.title.replace('|', "\\|"),
            outcome_word(r.outcome),
            seconds(r.duration_ms)
        );
    }
    out.push('\n');
    let troubled: Vec<&ScenarioResult> = results
        .scenarios
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Error))
        .collect();
    if !troubled.is_empty() {
        out.push_str("### Failures\n\n");
        for r in troubled {
            let _ = writeln!(out, "#### {} ({})\n", label(r), r.file);
            let _ = writeln!(out, "```text\n{}```\n", r.explain());
        }
    }
    let skipped: Vec<&ScenarioResult> = results
        .scenarios
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .collect();
    if !skipped.is_empty() {
        out.push_str("### Skipped\n\n");
        for r in skipped {
            let _ = writeln!(
                out,
                "- {}: {}",
                label(r),
                r.reason.as_deref().unwrap_or("no reason recorded")
            );
        }
        out.push('\n');
    }
    for (heading, kind, notes) in note_sections(results) {
        let _ = writeln!(out, "### {heading}\n");
        for (r, text) in notes {
            let _ = writeln!(out, "- **{}** ({}): {}", label(r), note_word(kind), text);
        }
        out.push('\n');
    }
}

/// Renders `report.html`: one self-contained page (inline CSS and SVG, no script).
///
/// # Errors
/// A benchmark chart could not be drawn.
pub(crate) fn render_html(input: &CombinedInput) -> Result<String, ChartError> {
    let mut out = String::new();
    let title = format!("nfslab run {}", input.run_id);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n{STYLE}\n.pass{{color:#1a7f37;font-weight:600}}\
         .fail{{color:#b3261e;font-weight:600}}\n</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(&title)
    );
    out.push_str("<ul class=\"meta\">\n");
    let _ = writeln!(
        out,
        "<li>Result: <strong>{}</strong></li>\n<li>Started {}, took {}, nfslab {}</li>",
        escape(&input.verdict),
        escape(&input.started),
        escape(&seconds(input.duration_ms)),
        escape(&input.tool_version)
    );
    let env = &input.environment;
    let _ = writeln!(
        out,
        "<li>Cluster: {}; Kubernetes {}</li>",
        escape(&env.cluster),
        escape(env.kubernetes_version.as_deref().unwrap_or("-"))
    );
    for n in &env.nodes {
        let _ = writeln!(
            out,
            "<li>Node <code>{}</code>: kernel {}, kubelet {}, {}</li>",
            escape(&n.name),
            escape(fact(n.kernel.as_ref())),
            escape(fact(n.kubelet.as_ref())),
            escape(fact(n.os_image.as_ref()))
        );
    }
    for s in &env.servers {
        let _ = writeln!(
            out,
            "<li>NFS server <code>{}</code></li>",
            escape(&s.line())
        );
    }
    for p in &input.problems {
        let _ = writeln!(out, "<li class=\"flag\">Problem: {}</li>", escape(p));
    }
    out.push_str("</ul>\n<h2>Scenarios</h2>\n");
    if let Part::Ran { results } = &input.scenarios {
        scenarios_html(&mut out, results);
    }
    out.push_str(&input.scenarios.absence_html().unwrap_or_default());
    out.push_str("<h2>Benchmark</h2>\n");
    if let Part::Ran { results } = &input.bench {
        out.push_str(
            "<p class=\"muted\">Raw results, CSV and the full page: \
             <a href=\"bench/report.html\">bench/report.html</a>.</p>\n",
        );
        let body = super::html::sections(results)?;
        out.push_str(&body.replace("<h2", "<h3").replace("</h2>", "</h3>"));
    }
    out.push_str(&input.bench.absence_html().unwrap_or_default());
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

fn scenarios_html(out: &mut String, results: &RunResults) {
    let s = results.summary;
    let _ = writeln!(
        out,
        "<p>{} passed, {} failed, {} errors, {} skipped, {} interrupted, in {}.</p>",
        s.passed,
        s.failed,
        s.errors,
        s.skipped,
        s.interrupted,
        escape(&seconds(results.duration_ms))
    );
    out.push_str(
        "<table>\n<tr><th>Scenario</th><th>What it shows</th><th>Result</th>\
         <th>Time</th></tr>\n",
    );
    for r in &results.scenarios {
        let class = match r.outcome {
            Outcome::Passed => "pass",
            Outcome::Failed | Outcome::Error => "fail",
            Outcome::Skipped | Outcome::Interrupted => "muted",
        };
        let reason = match (&r.outcome, &r.reason) {
            (Outcome::Passed, _) | (_, None) => String::new(),
            (_, Some(reason)) => format!("<br><span class=\"muted\">{}</span>", escape(reason)),
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"{class}\">{}{reason}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(&label(r)),
            escape(&r.title),
            outcome_word(r.outcome),
            escape(&seconds(r.duration_ms))
        );
    }
    out.push_str("</table>\n");
    for r in results
        .scenarios
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Error))
    {
        let _ = writeln!(
            out,
            "<details open><summary class=\"fail\">{} ({})</summary><pre>{}</pre></details>",
            escape(&label(r)),
            escape(&r.file),
            escape(&r.explain())
        );
    }
    for (heading, kind, notes) in note_sections(results) {
        let _ = writeln!(out, "<h3>{heading}</h3>\n<ul>");
        for (r, text) in notes {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> ({}): {}</li>",
                escape(&label(r)),
                note_word(kind),
                escape(text)
            );
        }
        out.push_str("</ul>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::environment::{NodeInfo, ServerRecord};
    use crate::model::scenarios::Note;
    use crate::model::scenarios::{KIND, SCHEMA_VERSION, ScenarioTarget};

    fn scenario(code: &str, id: &str, outcome: Outcome, notes: Vec<Note>) -> ScenarioResult {
        ScenarioResult {
            id: id.to_owned(),
            code: Some(code.to_owned()),
            title: format!("title of {id} | with a bar"),
            file: format!("scenarios/{id}.yaml"),
            description: String::new(),
            sources: Vec::new(),
            namespace: String::new(),
            outcome,
            reason: (outcome != Outcome::Passed).then(|| format!("{id} did not pass")),
            started_at: String::new(),
            duration_ms: 12_300,
            steps: Vec::new(),
            notes,
            mounts: Vec::new(),
            captured: std::collections::BTreeMap::new(),
            diagnosis: None,
            cleanup: crate::k8s::tracker::CleanupReport::default(),
        }
    }

    fn bench_summary() -> Summary {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench/run-a");
        let results = crate::model::results::ResultsDir::open(&dir).expect("the fixture run");
        crate::model::aggregate::summarize_dir(&results).expect("the fixture run aggregates")
    }

    fn input(bench: Part<Summary>) -> CombinedInput {
        let scenarios = vec![
            scenario("S1", "static-binding-selector", Outcome::Passed, Vec::new()),
            scenario(
                "D4",
                "pathpattern-shared-directory-hazard",
                Outcome::Passed,
                vec![Note {
                    kind: NoteKind::Hazard,
                    text: "two claims share one <directory>".to_owned(),
                }],
            ),
            scenario("R1", "recycle-wipes-volume", Outcome::Failed, Vec::new()),
            scenario(
                "F1",
                "server-restart-hard-vs-soft",
                Outcome::Skipped,
                Vec::new(),
            ),
        ];
        let summary = crate::model::scenarios::Summary::of(&scenarios);
        CombinedInput {
            run_id: "20261123-150000-abcdef".to_owned(),
            tool_version: "0.1.0".to_owned(),
            verdict: "1 scenario failed".to_owned(),
            started: "2026-11-23T15:00:00Z".to_owned(),
            duration_ms: 600_000,
            environment: Environment {
                cluster: "kind nfslab".to_owned(),
                kubernetes_version: Some("1.33".to_owned()),
                nodes: vec![NodeInfo {
                    name: "nfslab-worker".to_owned(),
                    kernel: Some("6.8.0".to_owned()),
                    kubelet: Some("v1.33.1".to_owned()),
                    os_image: Some("Debian GNU/Linux 12".to_owned()),
                    container_runtime: Some("containerd://2.1.1".to_owned()),
                }],
                servers: vec![ServerRecord {
                    name: "ganesha".to_owned(),
                    flavor: "ganesha".to_owned(),
                    address: "10.96.0.20".to_owned(),
                    export: "/exports".to_owned(),
                    clients_mounted: None,
                }],
                notes: Vec::new(),
            },
            scenarios: Part::Ran {
                results: RunResults {
                    schema_version: SCHEMA_VERSION,
                    kind: KIND.to_owned(),
                    run_id: "20261123-150000-abcdef".to_owned(),
                    started_at: String::new(),
                    duration_ms: 300_000,
                    environment: ScenarioTarget::default(),
                    summary,
                    scenarios,
                },
            },
            bench,
            problems: vec!["could not remove kind cluster `nfslab`".to_owned()],
        }
    }

    #[test]
    fn markdown_has_the_table_failures_hazards_and_the_benchmark() {
        let md = render_markdown(&input(Part::Ran {
            results: bench_summary(),
        }));
        assert!(
            md.starts_with("# nfslab run `20261123-150000-abcdef`\n"),
            "{md}"
        );
        assert!(md.contains("- result: **1 scenario failed**"), "{md}");
        assert!(md.contains("1 passed") || md.contains("2 passed"), "{md}");
        assert!(
            md.contains("| S1 static-binding-selector | title of static-binding-selector \\| with a bar | passed | 12.3s |"),
            "{md}"
        );
        assert!(md.contains("| R1 recycle-wipes-volume |"), "{md}");
        assert!(md.contains("#### R1 recycle-wipes-volume (scenarios/recycle-wipes-volume.yaml)"));
        assert!(md.contains("recycle-wipes-volume did not pass"), "{md}");
        assert!(
            md.contains("### Skipped\n\n- F1 server-restart-hard-vs-soft:"),
            "{md}"
        );
        assert!(md.contains("### Hazards found"), "{md}");
        assert!(
            md.contains("**D4 pathpattern-shared-directory-hazard** (hazard): two claims share")
        );
        assert!(
            md.contains("- problem: could not remove kind cluster `nfslab`"),
            "{md}"
        );
        let bench = md
            .split("## Benchmark\n")
            .nth(1)
            .expect("a benchmark section");
        assert!(bench.contains("bench/report.html"), "{bench}");
        // The benchmark's own headings sit below this report's sections.
        assert!(
            !bench
                .lines()
                .any(|l| l.starts_with("# ") || l.starts_with("## ")),
            "{bench}"
        );
        assert!(bench.lines().any(|l| l.starts_with("### ")), "{bench}");
    }

    #[test]
    fn parts_that_did_not_run_say_why() {
        let mut i = input(Part::NotRun {
            reason: "skipped with --skip-bench".to_owned(),
        });
        i.scenarios = Part::Broken {
            error: "the cluster did not answer".to_owned(),
        };
        let md = render_markdown(&i);
        assert!(
            md.contains("## Scenarios\n\nCould not run: the cluster did not answer"),
            "{md}"
        );
        assert!(
            md.contains("## Benchmark\n\nNot run: skipped with --skip-bench."),
            "{md}"
        );
        let html = render_html(&i).expect("renders");
        assert!(
            html.contains("Not run: skipped with --skip-bench."),
            "{html}"
        );
        assert!(
            html.contains("Could not run: the cluster did not answer"),
            "{html}"
        );
    }

    #[test]
    fn html_is_one_escaped_page_with_the_benchmark_charts() {
        let html = render_html(&input(Part::Ran {
            results: bench_summary(),
        }))
        .expect("renders");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<html").count(), 1);
        assert_eq!(html.matches("</body>").count(), 1);
        assert!(
            html.contains("two claims share one &lt;directory&gt;"),
            "{html}"
        );
        assert!(html.contains("<td class=\"fail\">FAILED"), "{html}");
        assert!(html.contains("<svg"), "the benchmark charts are inline");
        assert!(!html.contains("<script"));
        assert!(
            !html.contains("<h2>Workload"),
            "benchmark headings are demoted"
        );
    }
}
