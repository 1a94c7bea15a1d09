//! Machine-readable outputs: the documents `-o json` and `-o yaml` print (kubectl's
//! convention) for the listing and status commands.
//!
//! | command | document |
//! |---|---|
//! | `nfslab scenarios list` | [`ScenarioList`] |
//! | `nfslab scenarios show ID` | [`ScenarioShow`] |
//! | `nfslab cluster status` | [`ClusterStatus`] |
//! | `nfslab nfs status` | [`NfsStatus`] |
//! | `nfslab images list` | [`ImageList`] |
//! | `nfslab doctor` | [`DoctorReport`] |
//!
//! Every document carries `kind` (its type name) and `schema_version` ([`SCHEMA_VERSION`]):
//! fields are only added within a version. The human text of these commands is rendered
//! from the same documents, so both always say the same thing. Exit codes do not depend on
//! the format.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::advice::Alternative;

/// Version of every document here.
pub const SCHEMA_VERSION: u32 = 1;

/// How a command prints its answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Lines for people (the default).
    #[default]
    Text,
    /// One pretty-printed JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

/// A document could not be serialised.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the {format} output")]
pub struct OutputError {
    /// `json` or `yaml`.
    pub format: &'static str,
    /// What the serialiser said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// `value` as a JSON or YAML document (ending with a newline); `None` for [`Format::Text`],
/// which each command renders itself.
///
/// # Errors
/// [`OutputError`] when serialisation fails.
pub fn render<T: Serialize>(value: &T, format: Format) -> Result<Option<String>, OutputError> {
    match format {
        Format::Text => Ok(None),
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| Some(s + "\n"))
            .map_err(|e| OutputError {
                format: "json",
                source: Box::new(e),
            }),
        Format::Yaml => serde_saphyr::to_string(value)
            .map(Some)
            .map_err(|e| OutputError {
                format: "yaml",
                source: Box::new(e),
            }),
    }
}

/// One entry of [`ScenarioList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioEntry {
    /// Catalog code (`S1`), when the file is valid and has one.
    pub code: Option<String>,
    /// The id (file name without `.yaml`).
    pub id: String,
    /// What it asserts; `None` when the file is invalid.
    pub title: Option<String>,
    /// Whether the file is valid.
    pub valid: bool,
    /// Problems found in an invalid file (`file:line:column: ...`).
    pub problems: Vec<String>,
}

/// `nfslab scenarios list -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioList {
    /// `ScenarioList`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The catalog directory.
    pub dir: PathBuf,
    /// One entry per file, in catalog order.
    pub scenarios: Vec<ScenarioEntry>,
}

impl ScenarioList {
    /// A list of `scenarios` from `dir`.
    #[must_use]
    pub fn new(dir: PathBuf, scenarios: Vec<ScenarioEntry>) -> Self {
        Self {
            kind: "ScenarioList".to_owned(),
            schema_version: SCHEMA_VERSION,
            dir,
            scenarios,
        }
    }
}

/// A note of a scenario in [`ScenarioShow`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioNote {
    /// `hazard`, `disagreement`, `note`... as in the scenario file.
    pub kind: String,
    /// The text.
    pub text: String,
}

/// A step in [`ScenarioShow`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioStep {
    /// 1-based position.
    pub index: usize,
    /// What the step does.
    pub label: String,
    /// Its time limit as shown (`within 2m (bind)`, `for 10s`).
    pub limit: String,
    /// Line of the step in the file.
    pub line: u32,
}

/// `nfslab scenarios show ID -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioShow {
    /// `ScenarioShow`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Catalog code.
    pub code: Option<String>,
    /// The id.
    pub id: String,
    /// What it asserts.
    pub title: String,
    /// The file.
    pub file: PathBuf,
    /// The documents it comes from.
    pub sources: Vec<String>,
    /// What it shows, in prose.
    pub description: String,
    /// Whether it runs alone (after every other scenario of the run, none beside it).
    pub exclusive: bool,
    /// Hazards, disagreements and notes.
    pub notes: Vec<ScenarioNote>,
    /// The steps.
    pub steps: Vec<ScenarioStep>,
}

impl ScenarioShow {
    /// The `kind` value.
    pub const KIND: &'static str = "ScenarioShow";
}

/// A node in [`ClusterStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Node name.
    pub name: String,
    /// Whether its Ready condition is True.
    pub ready: bool,
    /// Whether it is a control-plane node.
    pub control_plane: bool,
    /// kind nodes: whether `/sbin/mount.nfs` is there (`null`: not checked).
    pub mount_helper: Option<bool>,
}

/// `nfslab cluster status -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// `ClusterStatus`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The name commands use (`--name`).
    pub name: String,
    /// `kind` (created by nfslab) or `existing` (never deleted by nfslab).
    pub provider: String,
    /// Whether nfslab created it.
    pub created_by_nfslab: bool,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
    /// The context used.
    pub context: Option<String>,
    /// kind node image.
    pub node_image: Option<String>,
    /// Kubernetes version, when the API server answered.
    pub kubernetes: Option<String>,
    /// Why the API server did not answer.
    pub unreachable: Option<String>,
    /// The nodes.
    pub nodes: Vec<ClusterNode>,
    /// API server answering, every node Ready, mount helpers present: exit 0.
    pub healthy: bool,
}

impl From<&crate::cluster::Status> for ClusterStatus {
    fn from(s: &crate::cluster::Status) -> Self {
        use crate::cluster::state::ProviderKind;
        let nodes: Vec<ClusterNode> = s
            .nodes
            .iter()
            .map(|n| ClusterNode {
                name: n.name.clone(),
                ready: n.ready,
                control_plane: n.control_plane,
                mount_helper: n.mount_helper,
            })
            .collect();
        let healthy = s.unreachable.is_none()
            && nodes
                .iter()
                .all(|n| n.ready && n.mount_helper != Some(false));
        Self {
            kind: "ClusterStatus".to_owned(),
            schema_version: SCHEMA_VERSION,
            name: s.record.name.clone(),
            provider: match s.record.provider {
                ProviderKind::Kind => "kind".to_owned(),
                ProviderKind::Existing => "existing".to_owned(),
            },
            created_by_nfslab: s.record.created_by_nfslab,
            kubeconfig: s.record.kubeconfig.clone(),
            context: s.record.context.clone(),
            node_image: s.record.node_image.clone(),
            kubernetes: s.version.clone(),
            unreachable: s.unreachable.clone(),
            nodes,
            healthy,
        }
    }
}

/// Direct access to the server's files, in [`NfsStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsFiles {
    /// The server pod (`namespace/name`).
    pub pod: String,
    /// Its container.
    pub container: String,
    /// The exported directory inside it.
    pub root: String,
}

/// `nfslab nfs status -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsStatus {
    /// `NfsStatus`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `kernel` or `ganesha`.
    pub flavor: String,
    /// The address clients mount (the Service's cluster IP).
    pub address: String,
    /// The export.
    pub export: String,
    /// Direct access to the files.
    pub files: Option<NfsFiles>,
    /// The node it runs on.
    pub node: Option<String>,
    /// Whether the server pod is Ready (exit 0).
    pub ready: bool,
    /// What is wrong when not ready.
    pub diagnosis: Option<String>,
}

impl From<&crate::nfs::server::ServerStatus> for NfsStatus {
    fn from(s: &crate::nfs::server::ServerStatus) -> Self {
        Self {
            kind: "NfsStatus".to_owned(),
            schema_version: SCHEMA_VERSION,
            flavor: s.server.flavor.name().to_owned(),
            address: s.server.address.clone(),
            export: s.server.export.clone(),
            files: s.server.files.as_ref().map(|f| NfsFiles {
                pod: f
                    .pod
                    .namespace
                    .as_ref()
                    .map_or_else(|| f.pod.name.clone(), |ns| format!("{ns}/{}", f.pod.name)),
                container: f.container.clone(),
                root: f.root.clone(),
            }),
            node: s.node.clone(),
            ready: s.ready,
            diagnosis: s.diagnosis.clone(),
        }
    }
}

/// Whether the local Docker has an image, in [`ImageList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageState {
    /// Present (and, for nfslab's own images, built from these sources).
    Present,
    /// nfslab's own image, built from other sources (rebuilt before use).
    Stale,
    /// nfslab's own image without its source label.
    Unlabelled,
    /// Not in the local Docker.
    Missing,
    /// Docker did not answer.
    Unknown,
}

impl ImageState {
    /// The state as `images list` prints it, with what to do.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Stale => "stale (built from other sources)",
            Self::Unlabelled => "present (no source label)",
            Self::Missing => "missing",
            Self::Unknown => "unknown (docker unavailable)",
        }
    }
}

/// One image in [`ImageList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// The reference.
    pub reference: String,
    /// What it is for.
    pub role: String,
    /// Whether nfslab builds it from this repository.
    pub built_by_nfslab: bool,
    /// Whether the local Docker has it.
    pub state: ImageState,
}

/// `nfslab images list -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageList {
    /// `ImageList`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The images.
    pub images: Vec<ImageEntry>,
    /// Why Docker could not be asked, when it could not (exit 3).
    pub docker_error: Option<String>,
}

impl ImageList {
    /// A list of `images`.
    #[must_use]
    pub fn new(images: Vec<ImageEntry>, docker_error: Option<String>) -> Self {
        Self {
            kind: "ImageList".to_owned(),
            schema_version: SCHEMA_VERSION,
            images,
            docker_error,
        }
    }
}

/// How a doctor check came out, in [`DoctorReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Present and usable.
    Ok,
    /// Missing: a kind run stops at preflight.
    Missing,
    /// Not needed, worth knowing.
    Advice,
}

/// One check in [`DoctorReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorCheck {
    /// Ok, missing or advice.
    pub status: CheckStatus,
    /// What was checked and found.
    pub what: String,
    /// Why it matters.
    pub why: Option<String>,
    /// How to fix it.
    pub fix: Option<String>,
}

/// `nfslab doctor -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// `DoctorReport`.
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Whether `nfslab run` can create its kind cluster here (exit 0; else 3).
    pub ready: bool,
    /// Every check.
    pub checks: Vec<DoctorCheck>,
    /// Paths to an answer that need no kind cluster.
    pub without_kind: Vec<Alternative>,
}

impl DoctorReport {
    /// The report of `checks`.
    #[must_use]
    pub fn new(checks: &[crate::cluster::doctor::Check]) -> Self {
        use crate::cluster::doctor::Status;
        let checks: Vec<DoctorCheck> = checks
            .iter()
            .map(|c| DoctorCheck {
                status: match c.status {
                    Status::Ok => CheckStatus::Ok,
                    Status::Missing => CheckStatus::Missing,
                    Status::Advice => CheckStatus::Advice,
                },
                what: c.what.clone(),
                why: c.why.clone(),
                fix: c.fix.clone(),
            })
            .collect();
        Self {
            kind: "DoctorReport".to_owned(),
            schema_version: SCHEMA_VERSION,
            ready: checks.iter().all(|c| c.status != CheckStatus::Missing),
            checks,
            without_kind: crate::advice::without_kind(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_documents_read_back_into_their_types() {
        let list = ImageList::new(
            vec![ImageEntry {
                reference: "nfslab-io:0.1.0".to_owned(),
                role: "nfslab-io (IO engine, helpers)".to_owned(),
                built_by_nfslab: true,
                state: ImageState::Unknown,
            }],
            Some("docker: the daemon does not answer".to_owned()),
        );
        let json = render(&list, Format::Json).expect("json").expect("text");
        let back: ImageList = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, list);
        assert!(json.contains("\"state\": \"unknown\""), "{json}");
        let yaml = render(&list, Format::Yaml).expect("yaml").expect("text");
        let back: ImageList = serde_saphyr::from_str(&yaml).expect("parses");
        assert_eq!(back, list);
        assert_eq!(render(&list, Format::Text).expect("text"), None);
    }
}
