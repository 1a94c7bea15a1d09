//! The results directory of a run, written incrementally so an interrupted run keeps what it
//! measured.
//!
//! ```text
//! results/<run-id>/
//!   run.json          RunRecord: environment, cells, every attempt and its pods (rewritten
//!                     after each repetition)
//!   plan.json         the checked plan (profiles, jobs, selection)
//!   plan/             the plan files as read
//!   raw/<cell id>/rep-<n>/client-<k>.json   one nfslab-io result document per pod
//!   summary.json      aggregated (schema in report::summary), from run.json + raw/
//!   summary.csv, report.md, report.html    rendered from summary.json
//! ```
//!
//! Cell ids (`server/workload/profile/kN`) are made of names restricted to lowercase
//! letters, digits, `-` and `.`, so they are safe path segments.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use nfslab_workload::{At, Job, RunResult};
use serde::{Deserialize, Serialize};

use crate::model::environment::Environment;
use crate::model::matrix::{AccessPath, Cell};
use crate::model::plan::Plan;
use crate::nfs::protocol::{ProtocolOptions, map_profile};

/// Version of `run.json`.
pub const RUN_SCHEMA_VERSION: u32 = 1;
/// Run record file.
pub const RUN_FILE: &str = "run.json";
/// Checked plan file.
pub const PLAN_FILE: &str = "plan.json";
/// Directory of the plan sources.
pub const PLAN_SOURCES_DIR: &str = "plan";
/// Directory of the raw per-pod results.
pub const RAW_DIR: &str = "raw";

/// How a run ended (or that it is still going).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (or killed without a chance to record anything else).
    Running,
    /// Every step ran.
    Complete,
    /// Stopped by the user; what was measured is kept.
    Interrupted,
    /// Stopped by an environment error.
    Failed,
}

/// A cell as recorded: the matrix cell plus what it asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// The cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// The profile's options as written.
    pub requested_options: Vec<String>,
    /// The job the clients ran.
    pub job: Job,
    /// Protocol cells (host runs): the profile's options as the user-space client's
    /// parameters, and those without an equivalent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolOptions>,
}

/// How one repetition of a cell ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Every client produced a result.
    Ok,
    /// Something failed; `message` says what.
    Failed,
    /// Stopped by the user.
    Interrupted,
}

/// One client pod of an attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRecord {
    /// Client index (0-based).
    pub client: u32,
    /// Pod name.
    pub pod: String,
    /// Node it ran on.
    pub node: Option<String>,
    /// Raw result path, relative to the run directory.
    pub result: Option<String>,
    /// Exit code of the client container.
    pub exit_code: Option<i32>,
}

/// One repetition of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Cell id.
    pub cell: String,
    /// Repetition, 1-based.
    pub repetition: u32,
    /// Outcome.
    pub status: AttemptStatus,
    /// What went wrong, if anything.
    pub message: Option<String>,
    /// The client pods.
    pub pods: Vec<PodRecord>,
}

/// `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// [`RUN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Run id.
    pub run_id: String,
    /// nfslab version.
    pub tool_version: String,
    /// Plan name.
    pub plan: String,
    /// Start, RFC 3339.
    pub started: String,
    /// End, RFC 3339.
    pub finished: Option<String>,
    /// Outcome so far.
    pub status: RunStatus,
    /// Where.
    pub environment: Environment,
    /// Repetitions planned per cell.
    pub repetitions: u32,
    /// The cells.
    pub cells: Vec<CellRecord>,
    /// Every attempt so far, in run order.
    pub attempts: Vec<Attempt>,
}

impl RunRecord {
    /// A record for a plan's cells, before anything ran.
    #[must_use]
    pub fn new(run_id: &str, plan: &Plan, cells: &[Cell], environment: Environment) -> Self {
        let records = cells
            .iter()
            .map(|cell| {
                let requested_options = plan
                    .profile(&cell.profile)
                    .map(|p| p.options.clone())
                    .unwrap_or_default();
                CellRecord {
                    cell: cell.clone(),
                    protocol: (cell.access == Some(AccessPath::Protocol))
                        .then(|| map_profile(&requested_options).ok())
                        .flatten(),
                    requested_options,
                    job: plan
                        .workload(&cell.workload)
                        .map(|w| w.job.clone())
                        .unwrap_or_else(|| Job::new(nfslab_workload::Pattern::Read)),
                }
            })
            .collect();
        Self {
            schema_version: RUN_SCHEMA_VERSION,
            run_id: run_id.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            plan: plan.name.clone(),
            started: crate::errors::now_rfc3339(),
            finished: None,
            status: RunStatus::Running,
            environment,
            repetitions: plan.repetitions,
            cells: records,
            attempts: Vec::new(),
        }
    }
}

/// A results directory problem.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// A file or directory could not be written.
    #[error("cannot write `{path}`")]
    Write {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file does not have the expected content: truncated, empty, not JSON, or of
    /// another shape.
    #[error(
        "{at}: {}{problem} (hint: {hint})",
        .field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default()
    )]
    Format {
        /// Where in the file.
        at: At,
        /// The field path, when the problem is inside the document.
        field: Option<String>,
        /// What is wrong.
        problem: String,
        /// What to do.
        hint: String,
    },
    /// A file of another schema version.
    #[error(
        "`{path}` has schema_version `{found}`, this nfslab reads `{expected}` (hint: use the \
         nfslab version that wrote it)"
    )]
    Schema {
        /// The path.
        path: String,
        /// Version found.
        found: u64,
        /// Version expected.
        expected: u32,
    },
    /// The directory is not a run directory.
    #[error("`{path}` is not a benchmark results directory (hint: it should contain `{RUN_FILE}`)")]
    NotARun {
        /// The path.
        path: String,
    },
}

/// A run's results directory.
#[derive(Clone, Debug)]
pub struct ResultsDir {
    root: PathBuf,
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader (or a crash)
/// never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(write_err(&tmp))?;
    file.write_all(bytes).map_err(write_err(&tmp))?;
    file.sync_all().map_err(write_err(&tmp))?;
    fs::rename(&tmp, path).map_err(write_err(path))
}

/// A JSON document that is not what `what` should be, with its position and field.
fn json_error(
    path: &str,
    what: &'static str,
    error: &serde_json::Error,
    field: Option<String>,
) -> ResultsError {
    use serde_json::error::Category;
    let full = error.to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i])
        .to_owned();
    let (problem, hint) = match error.classify() {
        Category::Eof => (
            format!("the file ends in the middle of the {what} (it is truncated)"),
            "the run was stopped while writing it; `nfslab report DIR` rewrites the summary and \
             reports of a run"
                .to_owned(),
        ),
        Category::Syntax => (
            format!("not valid JSON: {message}"),
            format!("this file should hold a {what} written by nfslab"),
        ),
        Category::Data => (
            format!(
                "not the shape of a {what}: {}",
                nfslab_workload::serde_words(&message)
            ),
            "the file was edited or written by something else than nfslab".to_owned(),
        ),
        Category::Io => (message, "check the file".to_owned()),
    };
    ResultsError::Format {
        at: At {
            file: path.to_owned(),
            line: error.line().max(1) as u64,
            column: error.column().max(1) as u64,
        },
        field,
        problem,
        hint,
    }
}

/// The first line and column of `file`, for a problem with the whole document.
fn file_start(file: &str) -> At {
    At {
        file: file.to_owned(),
        line: 1,
        column: 1,
    }
}

/// Deserializes `text` as `T`, with the field path and position of a failure.
fn from_json_text<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &str,
    what: &'static str,
) -> Result<T, ResultsError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let field = (field != "." && !field.is_empty()).then_some(field);
        json_error(path, what, e.inner(), field)
    })?;
    de.end().map_err(|e| json_error(path, what, &e, None))?;
    Ok(value)
}

/// Reads a JSON file with a `schema_version` field equal to `expected`. An empty or
/// truncated file, one that is not JSON, and one of another shape are each said as such
/// (with line, column and field), never as a wrong schema version.
pub fn read_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    expected: u32,
    what: &'static str,
) -> Result<T, ResultsError> {
    let name = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: name.clone(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(ResultsError::Format {
            at: file_start(&name),
            field: None,
            problem: format!("the file is empty; it should hold a {what}"),
            hint: "the run was stopped before writing it; `nfslab report DIR` rewrites the \
                   summary and reports of a run"
                .to_owned(),
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| json_error(&name, what, &e, None))?;
    let Some(object) = value.as_object() else {
        let found = match value {
            serde_json::Value::Array(_) => "a list",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(ResultsError::Format {
            at: file_start(&name),
            field: None,
            problem: format!("the file holds {found}, not a {what} (a JSON object)"),
            hint: "give the file nfslab wrote".to_owned(),
        });
    };
    let found = match object.get("schema_version") {
        Some(v) => v.as_u64().ok_or_else(|| ResultsError::Format {
            at: file_start(&name),
            field: Some("schema_version".to_owned()),
            problem: format!("`{v}` is not a schema version number"),
            hint: "give the file nfslab wrote".to_owned(),
        })?,
        None => {
            return Err(ResultsError::Format {
                at: file_start(&name),
                field: None,
                problem: format!("no `schema_version` field: this is not a {what}"),
                hint: "give the file nfslab wrote".to_owned(),
            });
        }
    };
    if found != u64::from(expected) {
        return Err(ResultsError::Schema {
            path: name,
            found,
            expected,
        });
    }
    from_json_text(&text, &name, what)
}

impl ResultsDir {
    /// Creates `parent/<run id>` (and its parents).
    pub fn create(parent: &Path, run_id: &str) -> Result<Self, ResultsError> {
        let root = parent.join(run_id);
        fs::create_dir_all(root.join(RAW_DIR)).map_err(write_err(&root))?;
        Ok(Self { root })
    }

    /// An existing run directory.
    pub fn open(root: &Path) -> Result<Self, ResultsError> {
        if !root.join(RUN_FILE).is_file() {
            return Err(ResultsError::NotARun {
                path: root.display().to_string(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Writes the checked plan and its source files.
    pub fn write_plan(&self, plan: &Plan) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(plan).map_err(|e| ResultsError::Write {
            path: PLAN_FILE.to_owned(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.root.join(PLAN_FILE), &json)?;
        for source in &plan.sources {
            let file_name = Path::new(source.path.trim_start_matches("(built in) "))
                .file_name()
                .map_or_else(|| "plan.yaml".into(), |n| n.to_os_string());
            write_atomic(
                &self.root.join(PLAN_SOURCES_DIR).join(file_name),
                source.text.as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Reads the checked plan back.
    pub fn read_plan(&self) -> Result<Plan, ResultsError> {
        let path = self.root.join(PLAN_FILE);
        let text = fs::read_to_string(&path).map_err(|source| ResultsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        from_json_text(&text, &path.display().to_string(), "plan")
    }

    /// Writes `run.json`.
    pub fn write_record(&self, record: &RunRecord) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(record).map_err(|e| ResultsError::Write {
            path: RUN_FILE.to_owned(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.root.join(RUN_FILE), &json)
    }

    /// Reads `run.json`.
    pub fn read_record(&self) -> Result<RunRecord, ResultsError> {
        read_versioned(&self.root.join(RUN_FILE), RUN_SCHEMA_VERSION, "run record")
    }

    /// The relative path of a pod's raw result.
    #[must_use]
    pub fn raw_path(cell_id: &str, repetition: u32, client: u32) -> String {
        format!("{RAW_DIR}/{cell_id}/rep-{repetition}/client-{client}.json")
    }

    /// Stores a pod's raw result text (as the pod printed it) and returns its relative path.
    pub fn write_raw(
        &self,
        cell_id: &str,
        repetition: u32,
        client: u32,
        text: &str,
    ) -> Result<String, ResultsError> {
        let relative = Self::raw_path(cell_id, repetition, client);
        write_atomic(&self.root.join(&relative), text.as_bytes())?;
        Ok(relative)
    }

    /// Reads a raw result.
    pub fn read_raw(&self, relative: &str) -> Result<RunResult, ResultsError> {
        read_versioned(
            &self.root.join(relative),
            nfslab_workload::SCHEMA_VERSION,
            "nfslab-io result",
        )
    }

    /// Writes a rendered file (summary, report) at the top of the directory.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, ResultsError> {
        let path = self.root.join(name);
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matrix::Matrix;
    use crate::model::plan::{Overrides, builtin_plan};

    #[test]
    fn record_round_trips_and_schema_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                workloads: Some(vec!["seq-read-1m".into()]),
                profiles: Some(vec!["doc-v3".into()]),
                ..Overrides::default()
            })
            .unwrap();
        let matrix = Matrix::expand(&plan);
        let results = ResultsDir::create(dir.path(), "20261123-150000-abcdef").unwrap();
        results.write_plan(&plan).unwrap();
        assert!(results.path().join("plan/default.yaml").is_file());
        assert!(results.path().join("plan/profiles.yaml").is_file());
        let mut record = RunRecord::new(
            "20261123-150000-abcdef",
            &plan,
            &matrix.cells,
            Environment::default(),
        );
        assert_eq!(record.cells[0].requested_options.len(), 9);
        record.attempts.push(Attempt {
            cell: matrix.cells[0].id.clone(),
            repetition: 1,
            status: AttemptStatus::Failed,
            message: Some("pod did not start".to_owned()),
            pods: vec![],
        });
        results.write_record(&record).unwrap();
        let opened = ResultsDir::open(results.path()).unwrap();
        assert_eq!(opened.read_record().unwrap(), record);
        assert_eq!(opened.read_plan().unwrap(), plan);

        let mut value = serde_json::to_value(&record).unwrap();
        value["schema_version"] = 99.into();
        std::fs::write(results.path().join(RUN_FILE), value.to_string()).unwrap();
        let err = opened.read_record().unwrap_err();
        assert!(err.to_string().contains("schema_version `99`"), "{err}");

        let err = ResultsDir::open(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a benchmark results directory"),
            "{err}"
        );
    }

    #[test]
    fn raw_paths_follow_cell_ids() {
        assert_eq!(
            ResultsDir::raw_path("in-cluster/seq-read-1m/doc-v4.1/k2", 3, 1),
            "raw/in-cluster/seq-read-1m/doc-v4.1/k2/rep-3/client-1.json"
        );
    }
}
