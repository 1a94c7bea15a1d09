//! What `nfslab scenarios list | show | run` do, as library calls the CLI makes.
//!
//! Each command writes its human output to a writer and returns the documented
//! [`crate::exit::Outcome`] (exit code): bad scenario files are bad input (2),
//! a cluster that cannot be prepared is the environment (3), a failed scenario is 1, an
//! interruption 130.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::catalog::{Catalog, CatalogError};
use super::engine::{RunOptions, run_all};
use super::env;
use super::plan::{Action, Scenario, StepTimeout};
use super::render::{self, RenderError};
use super::template::{Images, Vars};
use super::validate::placeholder_server;
use crate::config::Config;
use crate::environment::{self, ClusterChoice, EnvironmentError};
use crate::exit::Outcome;
use crate::k8s::manifest::to_yaml;
use crate::k8s::ownership::RunId;
use crate::model::scenarios::RunResults;
use crate::orchestrate::{ClusterProvider, Staged, SystemProvider, Verdict, Work, orchestrate};
use crate::output::{ScenarioEntry, ScenarioList, ScenarioNote, ScenarioShow, ScenarioStep};
use crate::progress::{Reporter, StderrLines};

/// The scenarios a `run` selects: validated, or every problem found.
///
/// # Errors
/// An unknown id (the text to print).
pub fn select(catalog: &Catalog, args: &[String]) -> Result<Vec<Scenario>, String> {
    let selected = catalog
        .select(args)
        .map_err(|e: CatalogError| e.to_string())?;
    let mut scenarios = Vec::new();
    let mut problems = String::new();
    for (_, s) in selected {
        match s {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                let _ = writeln!(problems, "{e}");
            }
        }
    }
    if problems.is_empty() {
        Ok(scenarios)
    } else {
        Err(problems.trim_end().to_owned())
    }
}

/// What `nfslab scenarios list` reports: one entry per catalog file.
#[must_use]
pub fn list_document(catalog: &Catalog) -> ScenarioList {
    let entries = catalog
        .entries
        .iter()
        .map(|e| match &e.scenario {
            Ok(s) => ScenarioEntry {
                code: s.code.clone(),
                id: e.id.clone(),
                title: Some(s.title.clone()),
                valid: true,
                problems: Vec::new(),
            },
            Err(errors) => ScenarioEntry {
                code: None,
                id: e.id.clone(),
                title: None,
                valid: false,
                problems: errors.0.iter().map(ToString::to_string).collect(),
            },
        })
        .collect();
    ScenarioList::new(catalog.dir.clone(), entries)
}

/// The exit code of a listing: bad input when a file is invalid.
#[must_use]
pub fn list_outcome(list: &ScenarioList) -> Outcome {
    if list.scenarios.iter().all(|s| s.valid) {
        Outcome::Success
    } else {
        Outcome::BadInput
    }
}

/// `nfslab scenarios list`: one line per catalog file.
///
/// # Errors
/// Writing to `out` failed.
pub fn list(catalog: &Catalog, out: &mut dyn Write) -> std::io::Result<Outcome> {
    let list = list_document(catalog);
    let width = list.scenarios.iter().map(|e| e.id.len()).max().unwrap_or(0);
    for e in &list.scenarios {
        match &e.title {
            Some(title) if e.valid => writeln!(
                out,
                "{:<3} {:<width$}  {title}",
                e.code.as_deref().unwrap_or("-"),
                e.id,
            )?,
            _ => writeln!(
                out,
                "{:<3} {:<width$}  INVALID ({} problem(s); `nfslab scenarios show {}`)",
                "!",
                e.id,
                e.problems.len(),
                e.id
            )?,
        }
    }
    writeln!(
        out,
        "\n{} scenarios in {}",
        list.scenarios.len(),
        list.dir.display()
    )?;
    Ok(list_outcome(&list))
}

/// What `nfslab scenarios show ID|CODE|FILE` reports.
///
/// # Errors
/// The scenario is unknown or invalid: the text to print.
pub fn show_document(catalog: &Catalog, arg: &str) -> Result<ScenarioShow, String> {
    let scenario = match select(catalog, &[arg.to_owned()]) {
        Ok(mut s) if s.len() == 1 => s.remove(0),
        Ok(_) => return Err(format!("`{arg}` names more than one scenario")),
        Err(text) => return Err(text),
    };
    let config = Config::default();
    let notes = scenario
        .notes
        .iter()
        .map(|note| ScenarioNote {
            kind: serde_json::to_value(note.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            text: note.text.clone(),
        })
        .collect();
    let steps = scenario
        .steps
        .iter()
        .map(|step| {
            let timeout = match step.timeout {
                StepTimeout::Fixed(d) => nfslab_workload::format_duration(d).to_string(),
                StepTimeout::Configured(k) => {
                    let name = super::plan::TimeoutKind::NAMES
                        .iter()
                        .find(|(_, kind)| *kind == k)
                        .map_or("", |(n, _)| n);
                    format!(
                        "{} ({name})",
                        nfslab_workload::format_duration(step.timeout.resolve(&config.timeouts))
                    )
                }
            };
            let limit = match &step.action {
                Action::Stays(stays) => format!(
                    "for {}",
                    nfslab_workload::format_duration(
                        stays.duration.unwrap_or(config.timeouts.observe)
                    )
                ),
                _ => format!("within {timeout}"),
            };
            ScenarioStep {
                index: step.index,
                label: step.label(),
                limit,
                line: step.pos.line,
            }
        })
        .collect();
    Ok(ScenarioShow {
        kind: ScenarioShow::KIND.to_owned(),
        schema_version: crate::output::SCHEMA_VERSION,
        code: scenario.code.clone(),
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        file: scenario.file.clone(),
        sources: scenario.sources.clone(),
        description: scenario.description.clone(),
        exclusive: scenario.exclusive,
        notes,
        steps,
    })
}

/// `nfslab scenarios show ID|CODE|FILE` as text: what the scenario shows ([`show_document`]),
/// its notes and its steps on `out`.
///
/// # Errors
/// Writing failed.
pub fn show(doc: &ScenarioShow, out: &mut dyn Write) -> std::io::Result<()> {
    let code = doc
        .code
        .as_deref()
        .map(|c| format!("{c} "))
        .unwrap_or_default();
    writeln!(out, "{code}{}: {}", doc.id, doc.title)?;
    writeln!(out, "file: {}", doc.file.display())?;
    if !doc.sources.is_empty() {
        writeln!(out, "sources: {}", doc.sources.join(", "))?;
    }
    if doc.exclusive {
        writeln!(
            out,
            "runs alone: after every other scenario of the run has ended, none beside it"
        )?;
    }
    writeln!(out, "\n{}", doc.description)?;
    for note in &doc.notes {
        writeln!(out, "\n[{}] {}", note.kind, note.text)?;
    }
    writeln!(out, "\nsteps:")?;
    for step in &doc.steps {
        writeln!(
            out,
            "  {:>2}. {:<60} {}  [line {}]",
            step.index, step.label, step.limit, step.line
        )?;
    }
    Ok(())
}

/// Where a dry run's rendered manifests go.
#[derive(Clone, Debug)]
pub enum RenderTarget {
    /// Printed, one multi-document stream with a comment per scenario.
    Stdout,
    /// One `<id>.yaml` per scenario in this directory.
    Dir(PathBuf),
}

/// Why a dry run stopped.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// A scenario could not be rendered (`file:line:column: what`): bad input.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Writing the rendered manifests failed.
    #[error("cannot write the rendered manifests")]
    Write(#[from] std::io::Error),
}

/// `nfslab scenarios run --dry-run`: validate, and render what would be applied against a
/// placeholder server, without a cluster.
///
/// # Errors
/// A scenario that cannot be rendered, or writing the output failed.
pub fn dry_run(
    scenarios: &[Scenario],
    target: &RenderTarget,
    out: &mut dyn Write,
) -> Result<(), DryRunError> {
    let run = RunId::generate();
    let server = placeholder_server();
    let images = Images::default();
    if let RenderTarget::Dir(dir) = target {
        std::fs::create_dir_all(dir)?;
    }
    for s in scenarios {
        let values = render::render(s, &run, &server, &images)?;
        let yaml = to_yaml(&values).map_err(std::io::Error::other)?;
        let vars = Vars::new(&run, &s.id, &server, &images);
        match target {
            RenderTarget::Stdout => {
                writeln!(
                    out,
                    "# scenario {} ({} objects, namespace {}, NFS {}:{})",
                    s.id,
                    values.len(),
                    vars.namespace,
                    server.address,
                    vars.nfs_dir
                )?;
                out.write_all(yaml.as_bytes())?;
            }
            RenderTarget::Dir(dir) => {
                let file = dir.join(format!("{}.yaml", s.id));
                std::fs::write(&file, yaml)?;
                writeln!(
                    out,
                    "{}: {} objects -> {}",
                    s.id,
                    values.len(),
                    file.display()
                )?;
            }
        }
    }
    Ok(())
}

/// The namespace server-side dry runs place namespaced objects in: the scenario's own
/// namespace exists only while it runs, `default` exists in every cluster.
pub const DRY_RUN_NAMESPACE: &str = "default";

/// `nfslab scenarios run --dry-run` against a reachable cluster: every manifest an `apply`
/// step writes is rendered as the engine would send it and dry-run applied with strict
/// field validation, so the API server's own schema (its version, its CRDs, its admission)
/// judges it. Nothing is stored. One line per refused manifest on `errors`, with the
/// manifest's `file:line:column`.
///
/// # Errors
/// Writing to `errors` failed.
pub async fn server_dry_run(
    scenarios: &[Scenario],
    cluster: &dyn crate::k8s::Cluster,
    errors: &mut dyn Write,
) -> std::io::Result<Outcome> {
    use super::template::Templates;
    use super::validate::placeholder_capture;
    let run = RunId::generate();
    let server = placeholder_server();
    let images = Images::default();
    let templates = Templates::new();
    let mut outcome = Outcome::Success;
    for s in scenarios {
        let mut vars = Vars::new(&run, &s.id, &server, &images);
        for step in &s.steps {
            match &step.action {
                Action::Apply(manifests) => {
                    for m in manifests {
                        let ctx = vars.context();
                        let Ok(node) = m
                            .node
                            .value
                            .try_map_strings(m.node.pos, &mut |t, _| templates.render(t, &ctx))
                        else {
                            continue;
                        };
                        let value = super::steps::prepare_manifest(
                            node.to_json(),
                            DRY_RUN_NAMESPACE,
                            &run,
                            &s.id,
                        );
                        if let Err(e) = cluster.dry_run_apply(&value).await {
                            let at = format!("{}:{}", m.file.display(), m.node.pos);
                            let environment =
                                matches!(e, crate::k8s::ClusterError::Unreachable { .. });
                            writeln!(errors, "{at}: scenario `{}`: {e}", s.id)?;
                            outcome = if environment {
                                Outcome::Environment
                            } else if outcome == Outcome::Success {
                                Outcome::BadInput
                            } else {
                                outcome
                            };
                        }
                    }
                }
                Action::Capture(capture) => {
                    vars.captured
                        .insert(capture.name.clone(), placeholder_capture(&capture.name));
                }
                _ => {}
            }
        }
    }
    Ok(outcome)
}

/// What a real run needs beyond the scenarios.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The cluster.
    pub choice: ClusterChoice,
    /// Tunables.
    pub config: Config,
    /// Scenarios at once (`None`: from the configuration).
    pub parallel: Option<usize>,
    /// Where the JSON results go.
    pub results: PathBuf,
    /// Where a JUnit XML report goes too, when asked for (`--junit FILE`).
    pub junit: Option<PathBuf>,
}

/// Writes the JUnit report of `results` for `selected` to `path`, when one was asked for;
/// a selected scenario without a result is reported as `not_run` says.
///
/// # Errors
/// The line to print: the report could not be rendered or written.
pub fn write_junit(
    path: Option<&Path>,
    results: &RunResults,
    selected: &[String],
    not_run: super::junit::NotRun<'_>,
) -> Result<(), String> {
    let Some(path) = path else {
        return Ok(());
    };
    let xml = super::junit::render(
        results,
        selected,
        &std::collections::BTreeMap::new(),
        not_run,
    )
    .map_err(|e| format!("cannot render the JUnit report: {e}"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    std::fs::write(path, xml).map_err(|e| {
        format!(
            "cannot write the JUnit report `{}`: {e} (hint: check the directory is writable)",
            path.display()
        )
    })
}

/// The outcome of a finished run, as an exit code: interrupted, then failed scenarios,
/// then harness errors, else success.
#[must_use]
pub fn outcome_of(results: &RunResults) -> Outcome {
    if results.summary.interrupted > 0 {
        Outcome::Interrupted
    } else if results.summary.failed > 0 {
        Outcome::Failed
    } else if results.summary.errors > 0 {
        Outcome::Environment
    } else {
        Outcome::Success
    }
}

/// `nfslab scenarios run`: prepare the environment, run the scenarios with `observer`, write
/// the JSON results, tear down. When `rx` turns `true` (the command's Ctrl-C), the run
/// stops, cleans up and reports what ran; this library installs no signal handler.
///
/// # Errors
/// Writing to `out` failed.
pub async fn run(
    scenarios: Vec<Scenario>,
    request: &RunRequest,
    observer: Arc<dyn Reporter>,
    rx: tokio::sync::watch::Receiver<bool>,
    out: &mut (dyn Write + Send),
) -> std::io::Result<Outcome> {
    let provider = SystemProvider::default();
    let run_id = RunId::generate();
    run_on(&provider, run_id, scenarios, request, observer, rx, out).await
}

/// [`run`] as run `run_id`, in the environment `provider` brings up, through
/// [`orchestrate`]; bring-up and tear-down lines go to stderr.
///
/// # Errors
/// Writing to `out` failed.
pub async fn run_on(
    provider: &ClusterProvider,
    run_id: RunId,
    scenarios: Vec<Scenario>,
    request: &RunRequest,
    observer: Arc<dyn Reporter>,
    rx: tokio::sync::watch::Receiver<bool>,
    out: &mut (dyn Write + Send),
) -> std::io::Result<Outcome> {
    let work = ScenariosWork {
        selected: scenarios.iter().map(|s| s.id.clone()).collect(),
        scenarios: scenarios.into_iter().map(Arc::new).collect(),
        request,
        observer,
        run_id,
        out: Mutex::new(Output { out, error: None }),
    };
    orchestrate(&work, provider, &StderrLines, rx).await
}

/// The writer of a scenario run's lines, and its first failure.
struct Output<'a> {
    out: &'a mut (dyn Write + Send),
    error: Option<std::io::Error>,
}

/// `nfslab scenarios run` as a work of the orchestrator.
struct ScenariosWork<'a> {
    selected: Vec<String>,
    scenarios: Vec<Arc<Scenario>>,
    request: &'a RunRequest,
    observer: Arc<dyn Reporter>,
    run_id: RunId,
    out: Mutex<Output<'a>>,
}

impl ScenariosWork<'_> {
    /// One line on the command's output (its first failure is kept for the end).
    fn say(&self, line: &str) {
        let mut output = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if output.error.is_none()
            && let Err(e) = writeln!(output.out, "{line}")
        {
            output.error = Some(e);
        }
    }

    /// The environment is not there to run in: the error, and the JUnit report of the
    /// scenarios that did not run.
    fn not_prepared(&self, error: &EnvironmentError) {
        let line = crate::errors::error_chain(error);
        self.say(&format!("error: {line}"));
        self.none_ran(&format!(
            "not run: the cluster could not be prepared: {line}"
        ));
    }

    /// The results of a run in which no scenario ran: the JUnit report says why (`reason`).
    fn none_ran(&self, reason: &str) {
        let empty = RunResults {
            schema_version: crate::model::scenarios::SCHEMA_VERSION,
            kind: crate::model::scenarios::KIND.to_owned(),
            run_id: self.run_id.to_string(),
            started_at: crate::errors::now_rfc3339(),
            duration_ms: 0,
            environment: crate::model::scenarios::ScenarioTarget::default(),
            summary: crate::model::scenarios::Summary::default(),
            scenarios: Vec::new(),
        };
        let not_run = super::junit::NotRun::Error(reason);
        if let Err(e) = write_junit(
            self.request.junit.as_deref(),
            &empty,
            &self.selected,
            not_run,
        ) {
            self.say(&format!("error: {e}"));
        }
    }
}

#[async_trait::async_trait]
impl Work<ClusterProvider> for ScenariosWork<'_> {
    type Done = Option<RunResults>;
    type Report = std::io::Result<Outcome>;

    fn run_id(&self) -> &RunId {
        &self.run_id
    }

    fn request(&self) -> environment::Request {
        env::ScenarioEnv::request(self.request.choice.clone(), &self.request.config)
    }

    fn unprepared(&self, error: EnvironmentError) -> std::io::Result<Outcome> {
        self.not_prepared(&error);
        if let Some(line) = crate::advice::instead_of_kind(&error, &[]) {
            self.say(&line);
        }
        self.summarize(None, error.outcome())
    }

    async fn run(
        &self,
        staged: &Staged,
        cancel: &tokio::sync::watch::Receiver<bool>,
        verdict: &mut Verdict,
    ) -> Option<RunResults> {
        let config = &self.request.config;
        let Some(env) = env::ScenarioEnv::on(staged, config, &self.run_id) else {
            let error = EnvironmentError::NoServer {
                flavor: config.nfs.flavor,
            };
            self.not_prepared(&error);
            verdict.add(error.outcome());
            return None;
        };
        let options = RunOptions {
            parallel: self.request.parallel.unwrap_or(config.scenarios.parallel),
            interrupt: Some(cancel.clone()),
        };
        let results = run_all(
            Arc::new(env),
            self.scenarios.clone(),
            options,
            Arc::clone(&self.observer),
        )
        .await;
        verdict.add(outcome_of(&results));
        if let Err(e) = write_results(&self.request.results, &results) {
            self.say(&e.to_string());
            verdict.add(Outcome::Environment);
        } else {
            self.say(&format!("results: {}", self.request.results.display()));
        }
        let not_run =
            super::junit::NotRun::Skipped("not run: the run was interrupted before it started");
        match write_junit(
            self.request.junit.as_deref(),
            &results,
            &self.selected,
            not_run,
        ) {
            Ok(()) => {
                if let Some(path) = &self.request.junit {
                    self.say(&format!("junit: {}", path.display()));
                }
            }
            Err(e) => {
                self.say(&format!("error: {e}"));
                verdict.add(Outcome::Environment);
            }
        }
        Some(results)
    }

    fn conclude(&self, done: Option<RunResults>, verdict: Verdict) -> std::io::Result<Outcome> {
        if let Some(e) = &verdict.tear_down {
            self.say(&format!("error: {}", crate::errors::error_chain(e)));
        }
        self.summarize(done, verdict.outcome)
    }
}

impl ScenariosWork<'_> {
    /// The summary line of what ran, and the exit code (or the output's first failure).
    fn summarize(&self, done: Option<RunResults>, outcome: Outcome) -> std::io::Result<Outcome> {
        if let Some(results) = done {
            let s = results.summary;
            self.say(&format!(
                "{} passed, {} failed, {} errors, {} skipped, {} interrupted",
                s.passed, s.failed, s.errors, s.skipped, s.interrupted
            ));
        }
        let mut output = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match output.error.take() {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }
}

/// The results could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the results to `{}` (hint: check the directory exists and is writable)", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Writes results as pretty JSON, creating the parent directory.
///
/// # Errors
/// The file cannot be written.
pub fn write_results(path: &Path, results: &RunResults) -> Result<(), WriteError> {
    let wrap = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(wrap)?;
    }
    let text = serde_json::to_string_pretty(results).map_err(|e| wrap(std::io::Error::other(e)))?;
    std::fs::write(path, text + "\n").map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
            .expect("the source catalog")
    }

    #[test]
    fn list_shows_codes_ids_and_titles() {
        let mut out = Vec::new();
        assert_eq!(
            list(&catalog(), &mut out).expect("writes"),
            Outcome::Success
        );
        let text = String::from_utf8(out).expect("utf-8");
        let first = text.lines().next().expect("a line");
        assert!(first.starts_with("S1  static-binding-selector"), "{first}");
        assert!(
            text.contains("D4  pathpattern-shared-directory-hazard"),
            "{text}"
        );
        assert!(text.contains("27 scenarios in"), "{text}");
    }

    #[test]
    fn show_prints_notes_and_steps_with_their_limits() {
        let shown = |arg: &str| {
            let doc = show_document(&catalog(), arg).expect("a scenario of the catalog");
            let mut out = Vec::new();
            show(&doc, &mut out).expect("writes");
            String::from_utf8(out).expect("utf-8")
        };
        let text = shown("recycle-failure-surfaces");
        assert_eq!(
            shown("R3"),
            text,
            "the code `scenarios list` prints works too"
        );
        assert!(text.starts_with("R3 recycle-failure-surfaces: "), "{text}");
        assert!(text.contains("[disagreement]"), "{text}");
        assert!(text.contains("within 8m"), "{text}");
        assert!(text.contains("within 30s (request)"), "{text}");
        assert!(!text.contains("runs alone"), "{text}");
        let f1 = shown("F1");
        assert!(
            f1.contains("\nruns alone: after every other scenario of the run has ended"),
            "{f1}"
        );
        let unknown = show_document(&catalog(), "nope").expect_err("not in the catalog");
        assert!(unknown.contains("nfslab scenarios list"), "{unknown}");
    }

    #[test]
    fn invalid_files_are_bad_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("broken.yaml"),
            "id: broken\ntitle: x\nsteps:\n  - nope: {}\n",
        )
        .expect("write");
        let catalog = Catalog::load(dir.path()).expect("loads");
        let mut out = Vec::new();
        assert_eq!(list(&catalog, &mut out).expect("writes"), Outcome::BadInput);
        assert!(
            String::from_utf8(out)
                .expect("utf-8")
                .contains("INVALID (1 problem(s)")
        );
        let err = select(&catalog, &[]).expect_err("invalid");
        assert!(
            err.contains("broken.yaml:4:5: steps[1]: unknown value `nope`"),
            "{err}"
        );
    }

    #[test]
    fn dry_run_renders_every_object_to_a_directory() {
        let scenarios =
            select(&catalog(), &["dynamic-provisioning-archive".to_owned()]).expect("valid");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        dry_run(
            &scenarios,
            &RenderTarget::Dir(dir.path().to_owned()),
            &mut out,
        )
        .expect("writes");
        let yaml = std::fs::read_to_string(dir.path().join("dynamic-provisioning-archive.yaml"))
            .expect("rendered");
        let values =
            crate::k8s::manifest::parse_values(&yaml, Path::new("r.yaml")).expect("parses");
        let kinds: Vec<&str> = values.iter().filter_map(|v| v["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "Namespace",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "Deployment",
                "StorageClass",
                "PersistentVolumeClaim",
                "Pod"
            ]
        );
        let ns = values[0]["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        assert!(
            ns.starts_with("nfslab-dynamic-provisioning-archive-"),
            "{ns}"
        );
        for v in &values[1..] {
            let namespaced = v["kind"] != "ClusterRole"
                && v["kind"] != "ClusterRoleBinding"
                && v["kind"] != "StorageClass";
            assert_eq!(v["metadata"].get("namespace").is_some(), namespaced, "{v}");
            assert_eq!(
                v["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "nfslab"
            );
        }
        assert!(
            String::from_utf8(out)
                .expect("utf-8")
                .contains("10 objects")
        );
    }

    #[test]
    fn outcomes_map_to_exit_codes() {
        let mut results = RunResults {
            schema_version: 1,
            kind: "k".into(),
            run_id: "r".into(),
            started_at: "t".into(),
            duration_ms: 0,
            environment: crate::model::scenarios::ScenarioTarget::default(),
            summary: crate::model::scenarios::Summary {
                passed: 3,
                ..Default::default()
            },
            scenarios: Vec::new(),
        };
        assert_eq!(outcome_of(&results), Outcome::Success);
        results.summary.errors = 1;
        assert_eq!(outcome_of(&results), Outcome::Environment);
        results.summary.failed = 1;
        assert_eq!(outcome_of(&results), Outcome::Failed);
        results.summary.interrupted = 1;
        assert_eq!(outcome_of(&results), Outcome::Interrupted);
    }

    #[test]
    fn results_are_written_as_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/run.json");
        let results = RunResults {
            schema_version: 1,
            kind: "nfslab-scenario-results".into(),
            run_id: "r".into(),
            started_at: "t".into(),
            duration_ms: 0,
            environment: crate::model::scenarios::ScenarioTarget::default(),
            summary: crate::model::scenarios::Summary::default(),
            scenarios: Vec::new(),
        };
        write_results(&path, &results).expect("written");
        let back: RunResults =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(back, results);
    }
}
