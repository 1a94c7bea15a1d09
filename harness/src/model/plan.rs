//! Benchmark plans: the YAML model, loading with `file:line:column` errors, and selection.
//!
//! A plan names servers, mount-option profiles, workloads (nfslab-io jobs, the
//! [`nfslab_workload::Job`] model embedded as is, or `fio:` a fio job file relative to
//! the plan, read by [`nfslab_workload::job_from_fio`]; its `directory` does not apply,
//! since a cell runs on its own volume), repetitions and clients per cell.
//! Profiles can also come from separate files (`profile_files`, relative to the plan) so
//! users extend the shipped set without editing the plan. Everything is checked before any
//! cluster work: YAML syntax and unknown fields, every profile's mount options
//! (`crate::nfs::mount_options`), every workload's job, references to profiles, workloads
//! and servers, and durations; each error names the file, line and column.
//!
//! The YAML types (with `Spanned` locations) stay private; the engine gets a checked
//! [`Plan`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nfslab_workload::{DurationRange, FioError, Job, JobError, Size, Span, job_from_fio};
use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::Spanned;

use crate::model::nas::{NasReference, TierError, parse_tiers};
use crate::nfs::ServerFlavor;
use crate::nfs::mount_options::{MountOptions, OptionError};

/// The shipped default plan.
pub const DEFAULT_PLAN_YAML: &str = include_str!("../../../workloads/plans/default.yaml");
/// The shipped profile file the default plan includes.
pub const DEFAULT_PROFILES_YAML: &str = include_str!("../../../workloads/plans/profiles.yaml");
/// The shipped NAS tier table.
pub const DEFAULT_NAS_TIERS_YAML: &str = include_str!("../../../workloads/plans/nas-tiers.yaml");
/// Where the shipped plan lives in a checkout (used when present, so edits take effect).
pub const DEFAULT_PLAN_PATH: &str = "workloads/plans/default.yaml";

/// Repetitions when the plan gives none.
pub const DEFAULT_REPETITIONS: u32 = 3;
/// PV capacity and PVC request when the plan gives none.
pub const DEFAULT_VOLUME_SIZE: &str = "10Gi";
/// Time allowed per repetition beyond the workload's own duration (scheduling, mount,
/// layout, collection), when the plan gives none.
pub const DEFAULT_CELL_TIMEOUT: Duration = Duration::from_secs(600);
/// Accepted `cell_timeout`: from a second to a day per repetition.
pub const CELL_TIMEOUT_RANGE: DurationRange =
    DurationRange::new(Duration::from_secs(1), Duration::from_secs(24 * 3600));
/// Longest name of a server, profile or workload (they appear in object labels and paths).
pub const MAX_NAME_LEN: usize = 40;

pub use nfslab_workload::At;

/// A plan that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file could not be read.
    #[error("cannot read plan file `{path}`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// YAML syntax, an unknown field or a value of the wrong type.
    #[error(transparent)]
    Syntax(nfslab_workload::ParseError),
    /// A profile's mount option is invalid.
    #[error("{at}: profile `{profile}`")]
    MountOption {
        /// Where the option is written.
        at: At,
        /// The profile.
        profile: String,
        /// The problem.
        #[source]
        source: Box<OptionError>,
    },
    /// A workload's job is invalid.
    #[error("{at}: workload `{workload}`")]
    Job {
        /// Where the job field is written.
        at: At,
        /// The workload.
        workload: String,
        /// The problem.
        #[source]
        source: Box<JobError>,
    },
    /// A NAS tier file is invalid.
    #[error("{at}: NAS tier file")]
    Tiers {
        /// Where the plan names the file.
        at: At,
        /// The problem.
        #[source]
        source: Box<TierError>,
    },
    /// A value that parses but makes no sense (zero repetitions, unknown profile...).
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: At,
        /// What is wrong, with a hint.
        message: String,
    },
    /// A command-line selection that does not fit the plan.
    #[error("invalid {flag} `{value}`: {reason}")]
    Flag {
        /// The flag (`--profiles`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// Why, with a hint.
        reason: String,
    },
}

impl PlanError {
    /// Where in which file the problem is, when it is in a file.
    #[must_use]
    pub fn at(&self) -> Option<&At> {
        match self {
            Self::Syntax(nfslab_workload::ParseError { at, .. })
            | Self::MountOption { at, .. }
            | Self::Job { at, .. }
            | Self::Tiers { at, .. }
            | Self::Invalid { at, .. } => Some(at),
            Self::Read { .. } | Self::Flag { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// YAML model (private).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    profile_files: Vec<Spanned<String>>,
    #[serde(default)]
    servers: Vec<RawServer>,
    #[serde(default)]
    profiles: Vec<RawProfile>,
    #[serde(default)]
    workloads: Vec<RawWorkload>,
    run: Option<RawSelection>,
    repetitions: Option<Spanned<u32>>,
    clients: Option<Spanned<Clients>>,
    runtime: Option<Spanned<Span>>,
    ramp_time: Option<Spanned<Span>>,
    cell_timeout: Option<Spanned<Span>>,
    volume_size: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    nas: Option<RawNas>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfileFile {
    #[serde(default)]
    profiles: Vec<RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    in_cluster: Option<Spanned<ServerFlavor>>,
    external: Option<Spanned<String>>,
    storage_class: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    options: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    default: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    description: Option<String>,
    job: Option<Spanned<Job>>,
    fio: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelection {
    servers: Option<Vec<Spanned<String>>>,
    profiles: Option<Vec<Spanned<String>>>,
    workloads: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNas {
    tiers_file: Option<Spanned<String>>,
    tier: Spanned<String>,
    provisioned: Spanned<Size>,
}

/// `clients: 2` or `clients: [1, 4]`.
struct Clients(Vec<u32>);

impl<'de> Deserialize<'de> for Clients {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClientsVisitor;
        impl<'de> Visitor<'de> for ClientsVisitor {
            type Value = Clients;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of client pods, or a list of them such as `[1, 4]`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Clients, E> {
                u32::try_from(v)
                    .map(|n| Clients(vec![n]))
                    .map_err(|_| E::custom(format!("`{v}` clients is too many")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Clients, E> {
                Err(E::custom(format!("`{v}` clients is negative")))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Clients, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<u32>()? {
                    out.push(n);
                }
                Ok(Clients(out))
            }
        }
        deserializer.deserialize_any(ClientsVisitor)
    }
}

/// Field locations inside each workload's `job` (for semantic job errors).
#[derive(Deserialize)]
struct JobLocations {
    #[serde(default)]
    workloads: Vec<WorkloadLocations>,
}

#[derive(Deserialize)]
struct WorkloadLocations {
    #[serde(default)]
    job: BTreeMap<String, Spanned<IgnoredAny>>,
}

// ---------------------------------------------------------------------------------------
// Checked model (public).

/// Where a server is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// A server nfslab deploys in the cluster, of this flavor.
    InCluster(ServerFlavor),
    /// A server outside the cluster.
    External {
        /// Host name or IP address the nodes reach it by.
        host: String,
        /// Exported path.
        export: String,
    },
    /// Volumes a StorageClass of the cluster provisions, one clone of the class per
    /// profile (`crate::bench::storage_class`).
    StorageClass {
        /// The class's name.
        class: String,
    },
}

/// A server of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    /// Name used in cell ids and reports.
    pub name: String,
    /// Where it is.
    pub kind: ServerKind,
}

/// A mount-option profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name used in cell ids and reports.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The options as written (they go to `spec.mountOptions` unchanged).
    pub options: Vec<String>,
    /// Whether the plan runs it unless a selection names profiles.
    pub default: bool,
}

impl Profile {
    /// The options, parsed and validated.
    pub fn mount_options(&self) -> Result<MountOptions, OptionError> {
        MountOptions::parse_requested(&self.options).map_err(|e| e.error)
    }
}

/// A workload: an nfslab-io job with a name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Name used in cell ids and reports.
    pub name: String,
    /// What it measures.
    pub description: Option<String>,
    /// The job, with the plan's `runtime`/`ramp_time` defaults filled in.
    pub job: Job,
}

/// A doubtful but legal choice in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWarning {
    /// The profile concerned.
    pub profile: String,
    /// One line with the location.
    pub message: String,
}

/// A plan file's text, kept with results for reproducibility.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// As named to the user.
    pub path: String,
    /// Content.
    pub text: String,
}

/// A checked plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Every server defined.
    pub servers: Vec<ServerSpec>,
    /// Every profile defined (plan and profile files).
    pub profiles: Vec<Profile>,
    /// Every workload defined.
    pub workloads: Vec<Workload>,
    /// Servers to run, in order.
    pub selected_servers: Vec<String>,
    /// Profiles to run, in order.
    pub selected_profiles: Vec<String>,
    /// Workloads to run, in order.
    pub selected_workloads: Vec<String>,
    /// Repetitions of every cell.
    pub repetitions: u32,
    /// Client pods per cell (one matrix dimension).
    pub clients: Vec<u32>,
    /// PV capacity and PVC request (a Kubernetes quantity).
    pub volume_size: String,
    /// The nfslab-io image.
    pub image: String,
    /// Time allowed per repetition beyond the job's own duration.
    #[serde(with = "cell_timeout_text")]
    pub cell_timeout: Duration,
    /// NAS tier to compare with.
    pub nas: Option<NasReference>,
    /// Warnings found while checking, about the profiles they concern.
    pub warnings: Vec<PlanWarning>,
    /// The files read.
    pub sources: Vec<SourceFile>,
}

impl Plan {
    /// A server by name.
    #[must_use]
    pub fn server(&self, name: &str) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// A profile by name.
    #[must_use]
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// A workload by name.
    #[must_use]
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// Warnings about the selected profiles (one line each, with location).
    #[must_use]
    pub fn active_warnings(&self) -> Vec<String> {
        self.warnings
            .iter()
            .filter(|w| self.selected_profiles.contains(&w.profile))
            .map(|w| w.message.clone())
            .collect()
    }

    /// The in-cluster server flavors the selected servers need deployed.
    #[must_use]
    pub fn in_cluster_flavors(&self) -> Vec<ServerFlavor> {
        let mut out = Vec::new();
        for name in &self.selected_servers {
            if let Some(ServerSpec {
                kind: ServerKind::InCluster(flavor),
                ..
            }) = self.server(name)
                && !out.contains(flavor)
            {
                out.push(*flavor);
            }
        }
        out
    }

    /// Applies command-line choices (selection, extra external servers, repetitions).
    pub fn apply(mut self, overrides: &Overrides) -> Result<Self, PlanError> {
        for text in &overrides.external {
            let (name, address) = match text.split_once('=') {
                Some((n, a)) => (n.to_owned(), a),
                None => ("external".to_owned(), text.as_str()),
            };
            let bad = |reason: String| PlanError::Flag {
                flag: "--server",
                value: text.clone(),
                reason,
            };
            check_name(&name).map_err(|r| bad(r.to_owned()))?;
            let (host, export) = parse_external(address).map_err(bad)?;
            if self.server(&name).is_some() {
                return Err(bad(format!(
                    "the plan already has a server `{name}` (hint: write `OTHER-NAME={address}`)"
                )));
            }
            self.servers.push(ServerSpec {
                name: name.clone(),
                kind: ServerKind::External { host, export },
            });
        }
        for class in &overrides.storage_classes {
            let bad = |reason: String| PlanError::Flag {
                flag: "--storage-class",
                value: class.clone(),
                reason,
            };
            crate::names::dns_subdomain("StorageClass name", class).map_err(|e| bad(e.rule))?;
            check_name(class).map_err(|r| {
                bad(format!(
                    "{r} (the class's name names its cells; rename a longer class's clone in \
                     a plan: `servers: [{{name: short, storage_class: {class}}}]`)"
                ))
            })?;
            if self.server(class).is_some() {
                return Err(bad(format!(
                    "the plan already has a server `{class}` (hint: give the class a server \
                     of another name in the plan)"
                )));
            }
            self.servers.push(ServerSpec {
                name: class.clone(),
                kind: ServerKind::StorageClass {
                    class: class.clone(),
                },
            });
        }
        let named_on_the_command_line =
            !overrides.external.is_empty() || !overrides.storage_classes.is_empty();
        if named_on_the_command_line && overrides.servers.is_none() {
            // `--server` or `--storage-class` alone means: benchmark that.
            self.selected_servers = self
                .servers
                .iter()
                .filter(|s| match &s.kind {
                    ServerKind::External { .. } => overrides
                        .external
                        .iter()
                        .any(|e| e.split_once('=').map_or("external", |(n, _)| n) == s.name),
                    ServerKind::StorageClass { class } => overrides.storage_classes.contains(class),
                    ServerKind::InCluster(_) => false,
                })
                .map(|s| s.name.clone())
                .collect();
        }
        let known = |names: Vec<&str>| names.join(", ");
        if let Some(list) = &overrides.servers {
            let defined = known(self.servers.iter().map(|s| s.name.as_str()).collect());
            self.selected_servers =
                select("--servers", list, &defined, |n| self.server(n).is_some())?;
        }
        if let Some(list) = &overrides.profiles {
            let defined = known(self.profiles.iter().map(|p| p.name.as_str()).collect());
            self.selected_profiles =
                select("--profiles", list, &defined, |n| self.profile(n).is_some())?;
        }
        if let Some(list) = &overrides.workloads {
            let defined = known(self.workloads.iter().map(|w| w.name.as_str()).collect());
            self.selected_workloads = select("--workloads", list, &defined, |n| {
                self.workload(n).is_some()
            })?;
        }
        if let Some(r) = overrides.repetitions {
            if r == 0 {
                return Err(PlanError::Flag {
                    flag: "--repetitions",
                    value: "0".to_owned(),
                    reason: "must be at least 1 (hint: 3 gives a median and a spread)".to_owned(),
                });
            }
            self.repetitions = r;
        }
        if let Some(c) = &overrides.clients {
            if let Some(zero) = c.iter().find(|n| **n == 0 || **n > MAX_CLIENTS) {
                return Err(PlanError::Flag {
                    flag: "--clients",
                    value: zero.to_string(),
                    reason: format!("must be between 1 and {MAX_CLIENTS}"),
                });
            }
            self.clients = c.clone();
        }
        Ok(self)
    }
}

/// Largest number of client pods per cell.
pub const MAX_CLIENTS: u32 = 64;

fn select(
    flag: &'static str,
    list: &[String],
    defined: &str,
    exists: impl Fn(&str) -> bool,
) -> Result<Vec<String>, PlanError> {
    let mut out: Vec<String> = Vec::new();
    for name in list {
        if !exists(name) {
            return Err(PlanError::Flag {
                flag,
                value: name.clone(),
                reason: format!("not defined in the plan (hint: defined: {defined})"),
            });
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    if out.is_empty() {
        return Err(PlanError::Flag {
            flag,
            value: String::new(),
            reason: format!("selects nothing (hint: defined: {defined})"),
        });
    }
    Ok(out)
}

/// Command-line choices applied over a plan ([`Plan::apply`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Servers to run (names defined in the plan or added by `external`).
    pub servers: Option<Vec<String>>,
    /// Profiles to run.
    pub profiles: Option<Vec<String>>,
    /// Workloads to run.
    pub workloads: Option<Vec<String>>,
    /// External servers to add, `host:/export` or `NAME=host:/export`. Without `servers`,
    /// only these are run.
    pub external: Vec<String>,
    /// StorageClasses of the cluster to benchmark through (each becomes a server of its
    /// name). Without `servers`, only these (and `external`) are run.
    pub storage_classes: Vec<String>,
    /// Repetitions.
    pub repetitions: Option<u32>,
    /// Client counts.
    pub clients: Option<Vec<u32>>,
}

/// Splits `host:/export` (`[v6]:/export` for IPv6 literals).
pub fn parse_external(text: &str) -> Result<(String, String), String> {
    let hint = "(hint: write `host:/export`, e.g. `192.168.1.20:/vol1`)";
    if !text.starts_with('[')
        && let Some((host, export)) = text.rsplit_once(":/")
        && host.matches(':').count() >= 2
    {
        return Err(format!(
            "an IPv6 address needs brackets to be told from the export (hint: write \
             `[{host}]:/{export}`)"
        ));
    }
    let (host, export) = if let Some(rest) = text.strip_prefix('[') {
        let (h, e) = rest
            .split_once("]:")
            .ok_or_else(|| format!("an IPv6 address must be `[addr]:/export` {hint}"))?;
        (h, e)
    } else {
        text.split_once(':')
            .ok_or_else(|| format!("no `:` between host and export {hint}"))?
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("the host part is empty or has spaces {hint}"));
    }
    if !export.starts_with('/') {
        return Err(format!(
            "the export `{export}` must be an absolute path {hint}"
        ));
    }
    Ok((host.to_owned(), export.to_owned()))
}

fn check_name(name: &str) -> Result<(), &'static str> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        Err("names are 1 to 40 characters")
    } else if !ok_chars || !ends_ok(name.chars().next()) || !ends_ok(name.chars().last()) {
        Err(
            "names use lowercase letters, digits, `-` and `.`, and start and end with a letter or digit",
        )
    } else {
        Ok(())
    }
}

fn is_quantity(text: &str) -> bool {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    !digits.is_empty()
        && digits != "0"
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&suffix)
}

// ---------------------------------------------------------------------------------------
// Loading.

/// Reads included files (profile files, tier tables) relative to the plan.
pub trait Includes {
    /// The text of `name` as written in the plan, and how to name it in messages.
    fn read(&self, name: &str) -> Result<(String, String), std::io::Error>;
}

/// Includes from the directory of a plan file.
pub struct DirIncludes(pub PathBuf);

impl Includes for DirIncludes {
    fn read(&self, name: &str) -> Result<(String, String), std::io::Error> {
        let path = self.0.join(name);
        let text = std::fs::read_to_string(&path)?;
        Ok((path.display().to_string(), text))
    }
}

/// Includes of the built-in plan: the shipped files, embedded in the binary.
pub struct BuiltInIncludes;

impl Includes for BuiltInIncludes {
    fn read(&self, name: &str) -> Result<(String, String), std::io::Error> {
        let text = match name {
            "profiles.yaml" => DEFAULT_PROFILES_YAML,
            "nas-tiers.yaml" => DEFAULT_NAS_TIERS_YAML,
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not shipped with nfslab",
                ));
            }
        };
        Ok((
            format!("(built in) workloads/plans/{name}"),
            text.to_owned(),
        ))
    }
}

/// Reads and checks a plan file.
pub fn load_plan(path: &Path) -> Result<Plan, PlanError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PlanError::Read {
        path: name.clone(),
        source,
    })?;
    let text = nfslab_workload::yaml_text_of(&bytes).map_err(|e| syntax(&name, &e))?;
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    parse_plan(text, &name, &DirIncludes(dir))
}

/// The shipped default plan (embedded).
pub fn builtin_plan() -> Result<Plan, PlanError> {
    parse_plan(
        DEFAULT_PLAN_YAML,
        &format!("(built in) {DEFAULT_PLAN_PATH}"),
        &BuiltInIncludes,
    )
}

fn at(file: &str, spanned_line: u64, spanned_column: u64) -> At {
    At {
        file: file.to_owned(),
        line: spanned_line,
        column: spanned_column,
    }
}

fn at_of<T>(file: &str, s: &Spanned<T>) -> At {
    at(file, s.referenced.line(), s.referenced.column())
}

fn syntax(file: &str, err: &nfslab_workload::YamlError) -> PlanError {
    PlanError::Syntax(err.in_file(file))
}

fn invalid(at: At, message: String) -> PlanError {
    PlanError::Invalid { at, message }
}

struct Checked<T> {
    value: T,
    at: At,
}

/// Parses and checks a plan text; `file` names it in messages; includes resolve through
/// `includes`.
pub fn parse_plan(text: &str, file: &str, includes: &dyn Includes) -> Result<Plan, PlanError> {
    let mut raw: RawPlan = nfslab_workload::yaml_from_str(text).map_err(|e| syntax(file, &e))?;
    let mut sources = vec![SourceFile {
        path: file.to_owned(),
        text: text.to_owned(),
    }];
    let mut warnings = Vec::new();
    let profiles = parse_profiles(&mut raw, file, includes, &mut sources, &mut warnings)?;
    let servers = parse_servers(std::mem::take(&mut raw.servers), file)?;
    let settings = parse_settings(&raw, file)?;
    let workloads = parse_workloads(
        std::mem::take(&mut raw.workloads),
        text,
        file,
        includes,
        &settings,
        &mut sources,
    )?;
    let selection = parse_selection(raw.run.take(), file, &servers, &profiles, &workloads)?;
    let nas = match raw.nas.take() {
        None => None,
        Some(n) => Some(parse_nas(n, file, includes, &mut sources)?),
    };

    Ok(Plan {
        name: raw.name.unwrap_or_else(|| "unnamed".to_owned()),
        description: raw.description,
        servers: servers.into_iter().map(|s| s.value).collect(),
        profiles: profiles.into_iter().map(|p| p.value).collect(),
        workloads: workloads.into_iter().map(|w| w.value).collect(),
        selected_servers: selection.servers,
        selected_profiles: selection.profiles,
        selected_workloads: selection.workloads,
        repetitions: settings.repetitions,
        clients: settings.clients,
        volume_size: settings.volume_size,
        image: settings.image,
        cell_timeout: settings.cell_timeout,
        nas,
        warnings,
        sources,
    })
}

/// Profiles: the plan's, then each profile file's (each file joins `sources`).
fn parse_profiles(
    raw: &mut RawPlan,
    file: &str,
    includes: &dyn Includes,
    sources: &mut Vec<SourceFile>,
    warnings: &mut Vec<PlanWarning>,
) -> Result<Vec<Checked<Profile>>, PlanError> {
    let mut profiles: Vec<Checked<Profile>> = Vec::new();
    check_profiles(
        std::mem::take(&mut raw.profiles),
        file,
        &mut profiles,
        warnings,
    )?;
    for include in &raw.profile_files {
        let (name, content) = includes.read(&include.value).map_err(|e| {
            invalid(
                at_of(file, include),
                format!(
                    "cannot read profile file `{}`: {e} (hint: paths are relative to the plan)",
                    include.value
                ),
            )
        })?;
        let parsed: RawProfileFile =
            nfslab_workload::yaml_from_str(&content).map_err(|e| syntax(&name, &e))?;
        check_profiles(parsed.profiles, &name, &mut profiles, warnings)?;
        sources.push(SourceFile {
            path: name,
            text: content,
        });
    }
    Ok(profiles)
}

/// Servers, checked in order; none defined means the in-cluster Ganesha server.
fn parse_servers(raw: Vec<RawServer>, file: &str) -> Result<Vec<Checked<ServerSpec>>, PlanError> {
    let mut servers: Vec<Checked<ServerSpec>> = Vec::new();
    for s in raw {
        let name_at = at_of(file, &s.name);
        check_name(&s.name.value).map_err(|r| {
            invalid(
                name_at.clone(),
                format!("server name `{}`: {r}", s.name.value),
            )
        })?;
        duplicate(&servers, &s.name.value, &name_at, "server", |x| &x.name)?;
        let kind = server_kind(file, &name_at, &s)?;
        servers.push(Checked {
            value: ServerSpec {
                name: s.name.value,
                kind,
            },
            at: name_at,
        });
    }
    if servers.is_empty() {
        servers.push(Checked {
            value: ServerSpec {
                name: "in-cluster".to_owned(),
                kind: ServerKind::InCluster(ServerFlavor::Ganesha),
            },
            at: at(file, 0, 0),
        });
    }
    Ok(servers)
}

/// Where a server is: exactly one of `in_cluster`, `external` or `storage_class`.
fn server_kind(file: &str, name_at: &At, s: &RawServer) -> Result<ServerKind, PlanError> {
    Ok(match (&s.in_cluster, &s.external, &s.storage_class) {
        (Some(flavor), None, None) => {
            if flavor.value == ServerFlavor::External {
                return Err(invalid(
                    at_of(file, flavor),
                    "`in_cluster` is `kernel` or `ganesha` (hint: write an outside \
                         server as `external: host:/export`)"
                        .to_owned(),
                ));
            }
            ServerKind::InCluster(flavor.value)
        }
        (None, None, Some(class)) => {
            crate::names::dns_subdomain("StorageClass name", &class.value).map_err(|e| {
                invalid(
                    at_of(file, class),
                    format!("storage_class `{}`: {}", class.value, e.rule),
                )
            })?;
            ServerKind::StorageClass {
                class: class.value.clone(),
            }
        }
        (None, Some(address), None) => {
            let (host, export) = parse_external(&address.value).map_err(|reason| {
                invalid(
                    at_of(file, address),
                    format!("external server `{}`: {reason}", address.value),
                )
            })?;
            ServerKind::External { host, export }
        }
        _ => {
            return Err(invalid(
                name_at.clone(),
                format!(
                    "server `{}` needs exactly one of `in_cluster: ganesha|kernel`, \
                         `external: host:/export` or `storage_class: NAME`",
                    s.name.value
                ),
            ));
        }
    })
}

/// The plan's run-wide settings, checked, with their defaults.
struct Settings {
    runtime: Option<Span>,
    ramp_time: Option<Span>,
    cell_timeout: Duration,
    repetitions: u32,
    clients: Vec<u32>,
    volume_size: String,
    image: String,
}

/// Durations and numbers: runtime, ramp time, cell timeout, repetitions, clients, volume
/// size and image.
fn parse_settings(raw: &RawPlan, file: &str) -> Result<Settings, PlanError> {
    let ranged = |s: &Option<Spanned<Span>>,
                  what: &str,
                  range: DurationRange|
     -> Result<Option<Span>, PlanError> {
        match s {
            Some(span) => range
                .check(span.value.0)
                .map(|_| Some(span.value))
                .map_err(|e| invalid(at_of(file, span), format!("field `{what}`: {e}"))),
            None => Ok(None),
        }
    };
    let runtime = ranged(&raw.runtime, "runtime", nfslab_workload::RUNTIME_RANGE)?;
    let ramp_time = ranged(
        &raw.ramp_time,
        "ramp_time",
        nfslab_workload::RAMP_TIME_RANGE,
    )?;
    let cell_timeout = ranged(&raw.cell_timeout, "cell_timeout", CELL_TIMEOUT_RANGE)?
        .map_or(DEFAULT_CELL_TIMEOUT, Span::duration);
    let repetitions = match &raw.repetitions {
        Some(r) if r.value == 0 => {
            return Err(invalid(
                at_of(file, r),
                "repetitions `0` must be at least 1 (hint: 3 gives a median and a spread)"
                    .to_owned(),
            ));
        }
        Some(r) => r.value,
        None => DEFAULT_REPETITIONS,
    };
    let clients = match &raw.clients {
        Some(c) => {
            if c.value.0.is_empty() {
                return Err(invalid(at_of(file, c), "clients list is empty".to_owned()));
            }
            if let Some(bad) = c.value.0.iter().find(|n| **n == 0 || **n > MAX_CLIENTS) {
                return Err(invalid(
                    at_of(file, c),
                    format!("clients `{bad}` must be between 1 and {MAX_CLIENTS}"),
                ));
            }
            c.value.0.clone()
        }
        None => vec![1],
    };
    let volume_size = match &raw.volume_size {
        Some(v) if !is_quantity(&v.value) => {
            return Err(invalid(
                at_of(file, v),
                format!(
                    "volume_size `{}` is not a Kubernetes quantity (hint: e.g. `10Gi`)",
                    v.value
                ),
            ));
        }
        Some(v) => v.value.clone(),
        None => DEFAULT_VOLUME_SIZE.to_owned(),
    };
    let image = match &raw.image {
        Some(i) => {
            crate::names::image_reference("image reference", &i.value)
                .map_err(|e| invalid(at_of(file, i), format!("field `image`: {e}")))?;
            i.value.clone()
        }
        None => default_image(),
    };

    Ok(Settings {
        runtime,
        ramp_time,
        cell_timeout,
        repetitions,
        clients,
        volume_size,
        image,
    })
}

/// Workloads, each with its job inline or from an fio job file, the plan's runtime and
/// ramp time applied and the job checked; at least one.
fn parse_workloads(
    raw: Vec<RawWorkload>,
    text: &str,
    file: &str,
    includes: &dyn Includes,
    settings: &Settings,
    sources: &mut Vec<SourceFile>,
) -> Result<Vec<Checked<Workload>>, PlanError> {
    let locations: JobLocations = serde_saphyr::from_str(text).unwrap_or(JobLocations {
        workloads: Vec::new(),
    });
    let mut workloads: Vec<Checked<Workload>> = Vec::new();
    for (index, w) in raw.into_iter().enumerate() {
        let name_at = at_of(file, &w.name);
        check_name(&w.name.value).map_err(|r| {
            invalid(
                name_at.clone(),
                format!("workload name `{}`: {r}", w.name.value),
            )
        })?;
        duplicate(&workloads, &w.name.value, &name_at, "workload", |x| &x.name)?;
        let (mut job, job_at) = workload_job(&w, file, &name_at, includes, sources)?;
        if job.runtime.is_none() && job.io_size.is_none() {
            job.runtime = settings.runtime;
        }
        if job.ramp_time.is_none() {
            job.ramp_time = settings.ramp_time;
        }
        if let Err(source) = job.resolve() {
            let field_at = locations
                .workloads
                .get(index)
                .and_then(|l| l.job.get(source.field()))
                .map_or(job_at, |s| at_of(file, s));
            return Err(PlanError::Job {
                at: field_at,
                workload: w.name.value,
                source: Box::new(source),
            });
        }
        workloads.push(Checked {
            value: Workload {
                name: w.name.value,
                description: w.description,
                job,
            },
            at: name_at,
        });
    }
    if workloads.is_empty() {
        return Err(invalid(
            at(file, 1, 1),
            "the plan defines no workloads (hint: see workloads/plans/default.yaml)".to_owned(),
        ));
    }
    Ok(workloads)
}

/// A workload's job and where it is: `job:` inline, or `fio:` a job file (which joins
/// `sources`).
fn workload_job(
    w: &RawWorkload,
    file: &str,
    name_at: &At,
    includes: &dyn Includes,
    sources: &mut Vec<SourceFile>,
) -> Result<(Job, At), PlanError> {
    match (&w.job, &w.fio) {
        (Some(job), None) => {
            let job_at = at_of(file, job);
            Ok((job.value.clone(), job_at))
        }
        (None, Some(fio)) => {
            let fio_at = at_of(file, fio);
            let (name, content) = includes.read(&fio.value).map_err(|e| {
                invalid(
                    fio_at.clone(),
                    format!(
                        "cannot read fio job file `{}`: {e} (hint: paths are relative to the plan)",
                        fio.value
                    ),
                )
            })?;
            let parsed = job_from_fio(&content, &name).map_err(|e| match e {
                FioError::At {
                    path,
                    line,
                    what,
                    message,
                } => invalid(
                    At {
                        file: path,
                        line: line as u64,
                        column: 1,
                    },
                    format!("workload `{}`: {what}: {message}", w.name.value),
                ),
                FioError::Read { .. } => invalid(fio_at.clone(), e.to_string()),
            })?;
            sources.push(SourceFile {
                path: name,
                text: content,
            });
            Ok((parsed.job, fio_at))
        }
        (Some(_), Some(fio)) => Err(invalid(
            at_of(file, fio),
            format!(
                "workload `{}` has both `job` and `fio` (hint: keep one)",
                w.name.value
            ),
        )),
        (None, None) => Err(invalid(
            name_at.clone(),
            format!(
                "workload `{}` has no job (hint: `job:` with nfslab-io fields, or `fio: FILE`)",
                w.name.value
            ),
        )),
    }
}

/// What `run:` selects (every server and workload, the default profiles, unless listed).
struct Selection {
    servers: Vec<String>,
    profiles: Vec<String>,
    workloads: Vec<String>,
}

/// The `run:` selection, each name checked against the defined ones; at least one profile.
fn parse_selection(
    run: Option<RawSelection>,
    file: &str,
    servers: &[Checked<ServerSpec>],
    profiles: &[Checked<Profile>],
    workloads: &[Checked<Workload>],
) -> Result<Selection, PlanError> {
    let selection = run.unwrap_or(RawSelection {
        servers: None,
        profiles: None,
        workloads: None,
    });
    let selected_servers = resolve_refs(file, selection.servers, servers, "server", |s| &s.name)?
        .unwrap_or_else(|| servers.iter().map(|s| s.value.name.clone()).collect());
    let selected_profiles =
        resolve_refs(file, selection.profiles, profiles, "profile", |p| &p.name)?.unwrap_or_else(
            || {
                profiles
                    .iter()
                    .filter(|p| p.value.default)
                    .map(|p| p.value.name.clone())
                    .collect()
            },
        );
    let selected_workloads = resolve_refs(file, selection.workloads, workloads, "workload", |w| {
        &w.name
    })?
    .unwrap_or_else(|| workloads.iter().map(|w| w.value.name.clone()).collect());
    if selected_profiles.is_empty() {
        return Err(invalid(
            at(file, 1, 1),
            "no profile is selected (hint: define profiles, or list them under `run.profiles`)"
                .to_owned(),
        ));
    }
    Ok(Selection {
        servers: selected_servers,
        profiles: selected_profiles,
        workloads: selected_workloads,
    })
}

/// The NAS reference: a tier of the tier file (which joins `sources`) and the provisioned
/// size.
fn parse_nas(
    n: RawNas,
    file: &str,
    includes: &dyn Includes,
    sources: &mut Vec<SourceFile>,
) -> Result<NasReference, PlanError> {
    let tiers_name = n
        .tiers_file
        .as_ref()
        .map_or_else(|| "nas-tiers.yaml".to_owned(), |s| s.value.clone());
    let reference_at = n
        .tiers_file
        .as_ref()
        .map_or_else(|| at_of(file, &n.tier), |s| at_of(file, s));
    let (tiers_path, tiers_text) = includes.read(&tiers_name).map_err(|e| {
        invalid(
            reference_at.clone(),
            format!(
                "cannot read NAS tier file `{tiers_name}`: {e} (hint: paths are \
                 relative to the plan)"
            ),
        )
    })?;
    let table = parse_tiers(&tiers_text, &tiers_path).map_err(|source| PlanError::Tiers {
        at: reference_at,
        source: Box::new(source),
    })?;
    let defined: Vec<&str> = table.tiers.iter().map(|t| t.name.as_str()).collect();
    let tier = table
        .tiers
        .iter()
        .find(|t| t.name == n.tier.value)
        .cloned()
        .ok_or_else(|| {
            invalid(
                at_of(file, &n.tier),
                format!(
                    "unknown NAS tier `{}` (hint: defined in {tiers_path}: {})",
                    n.tier.value,
                    defined.join(", ")
                ),
            )
        })?;
    if n.provisioned.value.0 == 0 {
        return Err(invalid(
            at_of(file, &n.provisioned),
            "provisioned size must be larger than zero (hint: e.g. `1t`)".to_owned(),
        ));
    }
    sources.push(SourceFile {
        path: tiers_path,
        text: tiers_text,
    });
    Ok(NasReference {
        tier,
        currency: table.currency,
        provisioned_bytes: n.provisioned.value.0,
    })
}

/// The image the runner uses unless the plan names one.
#[must_use]
pub fn default_image() -> String {
    format!("nfslab-io:{}", env!("CARGO_PKG_VERSION"))
}

fn check_profiles(
    raw: Vec<RawProfile>,
    file: &str,
    out: &mut Vec<Checked<Profile>>,
    warnings: &mut Vec<PlanWarning>,
) -> Result<(), PlanError> {
    for p in raw {
        let name_at = at_of(file, &p.name);
        check_name(&p.name.value).map_err(|r| {
            invalid(
                name_at.clone(),
                format!("profile name `{}`: {r}", p.name.value),
            )
        })?;
        duplicate(out, &p.name.value, &name_at, "profile", |x| &x.name)?;
        let texts: Vec<&str> = p.options.iter().map(|o| o.value.as_str()).collect();
        match MountOptions::parse_requested(&texts) {
            Ok(parsed) => {
                for w in parsed.warnings() {
                    let where_ = p
                        .options
                        .get(w.item)
                        .map_or(name_at.clone(), |o| at_of(file, o));
                    warnings.push(PlanWarning {
                        profile: p.name.value.clone(),
                        message: format!("{where_}: profile `{}`: {w}", p.name.value),
                    });
                }
            }
            Err(e) => {
                let where_ = p.options.get(e.item).map_or(name_at, |o| at_of(file, o));
                return Err(PlanError::MountOption {
                    at: where_,
                    profile: p.name.value,
                    source: Box::new(e.error),
                });
            }
        }
        out.push(Checked {
            value: Profile {
                name: p.name.value,
                description: p.description,
                options: p.options.into_iter().map(|o| o.value).collect(),
                default: p.default,
            },
            at: name_at,
        });
    }
    Ok(())
}

fn duplicate<T>(
    existing: &[Checked<T>],
    name: &str,
    here: &At,
    what: &str,
    name_of: impl Fn(&T) -> &String,
) -> Result<(), PlanError> {
    match existing.iter().find(|c| name_of(&c.value) == name) {
        Some(first) => Err(invalid(
            here.clone(),
            format!(
                "{what} `{name}` is defined twice (first at {}) (hint: rename one)",
                first.at
            ),
        )),
        None => Ok(()),
    }
}

fn resolve_refs<T>(
    file: &str,
    refs: Option<Vec<Spanned<String>>>,
    defined: &[Checked<T>],
    what: &str,
    name_of: impl Fn(&T) -> &String,
) -> Result<Option<Vec<String>>, PlanError> {
    let Some(refs) = refs else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for r in refs {
        if !defined.iter().any(|d| *name_of(&d.value) == r.value) {
            let names: Vec<&str> = defined.iter().map(|d| name_of(&d.value).as_str()).collect();
            return Err(invalid(
                at_of(file, &r),
                format!(
                    "unknown {what} `{}` (hint: defined: {})",
                    r.value,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        }
        if !out.contains(&r.value) {
            out.push(r.value);
        }
    }
    Ok(Some(out))
}

/// `plan.json`'s `cell_timeout`: written in the duration grammar (`1m30s`), like every
/// duration nfslab writes; read in it, or in the spaced form (`1m 30s`) that `plan.json`
/// files written by earlier versions hold, so their runs still aggregate and report.
mod cell_timeout_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&nfslab_workload::format_duration(*value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        nfslab_workload::parse_duration(&text).or_else(|grammar| {
            humantime::parse_duration(&text).map_err(|_| de::Error::custom(grammar))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoIncludes;
    impl Includes for NoIncludes {
        fn read(&self, name: &str) -> Result<(String, String), std::io::Error> {
            if name == "extra.yaml" {
                return Ok((
                    "extra.yaml".to_owned(),
                    "profiles:\n  - name: mine\n    options: [vers=4.2, nconnect=8]\n".to_owned(),
                ));
            }
            if name == "rand.fio" {
                return Ok((
                    "rand.fio".to_owned(),
                    "[global]\nioengine=libaio\ndirect=1\n[r]\nrw=randread\nbs=4k\n\
                     size=1g\niodepth=32\nnumjobs=2\n"
                        .to_owned(),
                ));
            }
            if name == "odd.fio" {
                return Ok((
                    "odd.fio".to_owned(),
                    "[r]\nrw=randread\nzonemode=zbd\n".to_owned(),
                ));
            }
            if name == "broken.yaml" {
                return Ok((
                    "broken.yaml".to_owned(),
                    "profiles:\n  - name: typo\n    options: [vers=4.1, rsize=1M]\n".to_owned(),
                ));
            }
            BuiltInIncludes.read(name)
        }
    }

    fn parse(text: &str) -> Result<Plan, PlanError> {
        parse_plan(text, "plan.yaml", &NoIncludes)
    }

    fn chain(err: &PlanError) -> String {
        crate::errors::error_chain(err)
    }

    const MINIMAL: &str = "\
profiles:
  - name: a
    options: [vers=4.1]
workloads:
  - name: w
    job: {pattern: read, bs: 4k, size: 1m}
";

    #[test]
    fn workloads_can_be_fio_job_files() {
        let plan = parse(
            "profiles:\n  - name: a\n    options: [vers=4.1]\nruntime: 30s\nworkloads:\n  \
             - name: w\n    fio: rand.fio\n",
        )
        .unwrap();
        let job = &plan.workload("w").unwrap().job;
        assert_eq!(job.pattern, nfslab_workload::Pattern::Randread);
        assert_eq!((job.iodepth, job.threads), (32, 2));
        assert_eq!(job.size, Some(Size(1 << 30)));
        assert_eq!(
            job.runtime.map(Span::duration),
            Some(std::time::Duration::from_secs(30)),
            "the plan's runtime applies as to any job"
        );
        assert!(plan.sources.iter().any(|s| s.path == "rand.fio"));

        let err = parse(
            "profiles:\n  - name: a\n    options: [vers=4.1]\nworkloads:\n  - name: w\n    fio: odd.fio\n",
        )
        .unwrap_err();
        assert_eq!(
            chain(&err),
            "odd.fio:3:1: workload `w`: option `zonemode`: nfslab-io cannot honour it (hint: remove it to run the rest; the job would differ from what fio runs)"
        );
        let err = parse(
            "profiles:\n  - name: a\n    options: [vers=4.1]\nworkloads:\n  - name: w\n    fio: missing.fio\n",
        )
        .unwrap_err();
        assert!(
            chain(&err).starts_with("plan.yaml:6:10: cannot read fio job file `missing.fio`"),
            "{}",
            chain(&err)
        );
        let err = parse(
            "profiles:\n  - name: a\n    options: [vers=4.1]\nworkloads:\n  - name: w\n    fio: rand.fio\n    job: {pattern: read}\n",
        )
        .unwrap_err();
        assert!(
            chain(&err).contains("both `job` and `fio`"),
            "{}",
            chain(&err)
        );
        let err =
            parse("profiles:\n  - name: a\n    options: [vers=4.1]\nworkloads:\n  - name: w\n")
                .unwrap_err();
        assert!(chain(&err).contains("has no job"), "{}", chain(&err));
    }

    #[test]
    fn shipped_default_plan_loads_with_the_documented_set() {
        let plan = builtin_plan().unwrap();
        let profile_names: Vec<&str> = plan.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            profile_names,
            [
                "k8s-default",
                "doc-v3",
                "doc-v4.1",
                "v4.1-64k",
                "v4.1-nconnect4",
                "v4.1-noac",
                "v4.1-sync",
                "v3-soft"
            ]
        );
        // v3-soft is for fault scenarios: defined, not run by default.
        assert!(!plan.selected_profiles.contains(&"v3-soft".to_owned()));
        assert_eq!(plan.selected_profiles.len(), 7);
        let workloads: Vec<&str> = plan.workloads.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            workloads,
            [
                "seq-write-1m",
                "seq-read-1m",
                "rand-read-4k",
                "rand-write-4k",
                "randrw-70-4k",
                "fsync-4k",
                "metadata-small-files"
            ]
        );
        assert_eq!(plan.repetitions, 3);
        assert_eq!(plan.clients, vec![1]);
        assert_eq!(plan.in_cluster_flavors(), vec![ServerFlavor::Ganesha]);
        let doc_v3 = plan.profile("doc-v3").unwrap();
        assert_eq!(doc_v3.options.len(), 9);
        // The shipped profiles carry no warnings except the documented soft one.
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert_eq!(plan.warnings[0].profile, "v3-soft");
        // Not selected by default: no warning is shown for it.
        assert!(plan.active_warnings().is_empty());
        assert!(
            plan.warnings[0]
                .message
                .contains("profile `v3-soft`: mount option `soft`"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn every_shipped_plan_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workloads/plans");
        let mut plans = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".yaml") || name == "profiles.yaml" || name == "nas-tiers.yaml" {
                continue;
            }
            let plan =
                load_plan(&path).unwrap_or_else(|e| panic!("{}", crate::errors::error_chain(&e)));
            assert!(!plan.selected_workloads.is_empty(), "{name}");
            plans += 1;
        }
        assert!(plans >= 2, "default and smoke plans");
    }

    #[test]
    fn the_checkout_copy_equals_the_embedded_one() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let from_disk = load_plan(&root.join(DEFAULT_PLAN_PATH)).unwrap();
        let built_in = builtin_plan().unwrap();
        assert_eq!(from_disk.profiles, built_in.profiles);
        assert_eq!(from_disk.workloads, built_in.workloads);
    }

    #[test]
    fn option_typos_fail_with_file_line_column() {
        let text = "profiles:\n  - name: doc-v3\n    options:\n      - vers=3\n      - rsize=1M\n\
                    workloads:\n  - name: w\n    job: {pattern: read}\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:5:9");
        let line = chain(&err);
        assert!(
            line.starts_with("plan.yaml:5:9: profile `doc-v3`: malformed mount option `rsize=1M`"),
            "{line}"
        );
        assert!(line.contains("`rsize=1048576`"), "{line}");
        let err = parse("profiles:\n  - name: p\n    options: [rsise=4096]\nworkloads: []\n")
            .unwrap_err();
        assert!(
            chain(&err).contains("did you mean `rsize`"),
            "{}",
            chain(&err)
        );
        let err = parse("profiles:\n  - name: p\n    options: [hard, soft]\nworkloads: []\n")
            .unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:3:21");
        assert!(chain(&err).contains("conflicts with `hard`"));
    }

    #[test]
    fn profile_files_extend_and_errors_name_them() {
        let plan = parse(&format!("profile_files: [extra.yaml]\n{MINIMAL}")).unwrap();
        assert_eq!(
            plan.profile("mine").unwrap().options,
            ["vers=4.2", "nconnect=8"]
        );
        assert_eq!(plan.selected_profiles, ["a", "mine"]);
        let err = parse(&format!("profile_files: [broken.yaml]\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "broken.yaml:3:25");
        let err = parse(&format!("profile_files: [missing.yaml]\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:1:17");
        assert!(err.to_string().contains("relative to the plan"), "{err}");
    }

    #[test]
    fn unknown_references_fail_with_location_and_hint() {
        let err = parse(&format!("{MINIMAL}run:\n  profiles: [a, doc-v5]\n")).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:8:17");
        assert!(
            err.to_string()
                .contains("unknown profile `doc-v5` (hint: defined: a)"),
            "{err}"
        );
        let err = parse(&format!("{MINIMAL}run:\n  workloads: [x]\n")).unwrap_err();
        assert!(err.to_string().contains("unknown workload `x`"), "{err}");
        let err = parse(&format!("{MINIMAL}run:\n  servers: [nas]\n")).unwrap_err();
        assert!(err.to_string().contains("unknown server `nas`"), "{err}");
    }

    #[test]
    fn zero_repetitions_bad_durations_and_unknown_fields() {
        let err = parse(&format!("{MINIMAL}repetitions: 0\n")).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:7:14");
        assert!(err.to_string().contains("repetitions `0`"), "{err}");
        let err = parse(&format!("{MINIMAL}runtime: 30 seconds\n")).unwrap_err();
        assert_eq!(err.at().unwrap().line, 7);
        assert!(err.to_string().contains("unknown unit"), "{err}");
        let err = parse(&format!("{MINIMAL}runtime: 0s\n")).unwrap_err();
        assert!(
            err.to_string()
                .contains("`0s` is zero; give a duration from 1ms to 24h"),
            "{err}"
        );
        let err = parse(&format!("{MINIMAL}cell_timeout: 9999999h\n")).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        let err = parse(&format!("{MINIMAL}runtime: 30\n")).unwrap_err();
        assert!(err.to_string().contains("`30` has no unit"), "{err}");
        let ok = parse(&format!("{MINIMAL}runtime: 1m30s\n")).expect("compound duration");
        assert_eq!(
            ok.workloads[0].job.runtime.map(Span::duration),
            Some(Duration::from_secs(90))
        );
        let err = parse(&format!("{MINIMAL}image: 'nfslab-io@sha256:abc'\n")).unwrap_err();
        assert!(err.to_string().contains("64 lowercase hex"), "{err}");
        let err = parse(&format!("{MINIMAL}repetitons: 3\n")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("plan.yaml:7:1: unknown field `repetitons`"),
            "{err}"
        );
        let err = parse(&format!("{MINIMAL}clients: 0\n")).unwrap_err();
        assert!(err.to_string().contains("between 1 and 64"), "{err}");
        let err = parse(&format!("{MINIMAL}clients: many\n")).unwrap_err();
        assert!(err.to_string().contains("number of client pods"), "{err}");
        let err = parse(&format!("{MINIMAL}volume_size: 10GB\n")).unwrap_err();
        assert!(err.to_string().contains("Kubernetes quantity"), "{err}");
        let err = parse(
            "profiles: [{name: a}]\nworkloads:\n  - name: w\n    job:\n      pattern: read\n      ramp_time: soon\n",
        )
        .unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:6:18");
    }

    #[test]
    fn job_errors_point_at_the_job_field() {
        let text = "profiles: [{name: a}]\nworkloads:\n  - name: w\n    job:\n      pattern: read\n      size: 4k\n      bs: 8k\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:7:11");
        let line = chain(&err);
        assert!(line.contains("workload `w`: invalid bs `8k`"), "{line}");
        let err = parse("profiles: [{name: a}]\nworkloads:\n  - name: w\n    job: {pattern: read, blocksize: 4k}\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `blocksize`"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_names_and_servers() {
        let err = parse(
            "profiles: [{name: a}, {name: a}]\nworkloads: [{name: w, job: {pattern: read}}]\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("defined twice (first at plan.yaml:1:19)"),
            "{err}"
        );
        let err = parse("profiles: [{name: Big}]\nworkloads: [{name: w, job: {pattern: read}}]\n")
            .unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
        let plan = parse(&format!(
            "{MINIMAL}servers:\n  - name: nas\n    external: 192.168.1.20:/vol1\n  - name: g\n    in_cluster: kernel\n"
        ))
        .unwrap();
        assert_eq!(
            plan.server("nas").unwrap().kind,
            ServerKind::External {
                host: "192.168.1.20".to_owned(),
                export: "/vol1".to_owned()
            }
        );
        assert_eq!(plan.in_cluster_flavors(), vec![ServerFlavor::Kernel]);
        let err = parse(&format!(
            "{MINIMAL}servers:\n  - name: nas\n    external: nas.local/vol1\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("host:/export"), "{err}");
        let err = parse(&format!("{MINIMAL}servers:\n  - name: nas\n")).unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }

    #[test]
    fn plan_defaults_fill_jobs_without_durations() {
        let plan = parse(&format!("{MINIMAL}runtime: 20s\nramp_time: 1s\n")).unwrap();
        let job = &plan.workload("w").unwrap().job;
        assert_eq!(job.runtime, Some(Span(Duration::from_secs(20))));
        assert_eq!(job.ramp_time, Some(Span(Duration::from_secs(1))));
        assert_eq!(plan.cell_timeout, DEFAULT_CELL_TIMEOUT);
        assert_eq!(plan.volume_size, "10Gi");
        assert!(plan.image.starts_with("nfslab-io:"));
    }

    #[test]
    fn overrides_select_and_reject() {
        let plan = builtin_plan().unwrap();
        let chosen = plan
            .clone()
            .apply(&Overrides {
                profiles: Some(vec!["doc-v3".to_owned(), "v3-soft".to_owned()]),
                workloads: Some(vec!["seq-read-1m".to_owned()]),
                repetitions: Some(5),
                clients: Some(vec![1, 2]),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(chosen.selected_profiles, ["doc-v3", "v3-soft"]);
        assert_eq!(chosen.selected_workloads, ["seq-read-1m"]);
        assert_eq!(
            (chosen.repetitions, chosen.clients.clone()),
            (5, vec![1, 2])
        );
        let err = plan
            .clone()
            .apply(&Overrides {
                profiles: Some(vec!["nope".to_owned()]),
                ..Overrides::default()
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid --profiles `nope`: not defined"),
            "{err}"
        );
        let ext = plan
            .clone()
            .apply(&Overrides {
                external: vec!["10.0.0.5:/export/bench".to_owned()],
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(ext.selected_servers, ["external"]);
        assert!(ext.in_cluster_flavors().is_empty());
        let both = plan
            .clone()
            .apply(&Overrides {
                external: vec!["nas=[fd00::5]:/vol".to_owned()],
                servers: Some(vec!["in-cluster".to_owned(), "nas".to_owned()]),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(both.selected_servers, ["in-cluster", "nas"]);
        let err = plan
            .apply(&Overrides {
                external: vec!["10.0.0.5/export".to_owned()],
                ..Overrides::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("--server"), "{err}");
    }

    #[test]
    fn nas_reference_is_resolved_and_checked() {
        let plan = parse(&format!(
            "{MINIMAL}nas:\n  tier: extreme\n  provisioned: 1t\n"
        ))
        .unwrap();
        let nas = plan.nas.unwrap();
        assert_eq!(nas.tier.name, "extreme");
        assert_eq!(nas.provisioned_bytes, 1 << 40);
        let err = parse(&format!(
            "{MINIMAL}nas:\n  tier: platinum\n  provisioned: 1t\n"
        ))
        .unwrap_err();
        assert_eq!(err.at().unwrap().to_string(), "plan.yaml:8:9");
        assert!(err.to_string().contains("extreme"), "{err}");
    }

    #[test]
    fn external_address_forms() {
        assert_eq!(
            parse_external("nas:/vol").unwrap(),
            ("nas".to_owned(), "/vol".to_owned())
        );
        assert_eq!(
            parse_external("[fd00::1]:/v").unwrap(),
            ("fd00::1".to_owned(), "/v".to_owned())
        );
        assert!(parse_external("nas:vol").is_err());
        assert!(parse_external(":/vol").is_err());
    }

    #[test]
    fn cell_timeouts_are_written_in_the_grammar_and_earlier_spaced_ones_still_read() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Record {
            #[serde(with = "cell_timeout_text")]
            cell_timeout: Duration,
        }
        let record = Record {
            cell_timeout: Duration::from_secs(90),
        };
        let json = serde_json::to_string(&record).expect("serializes");
        assert_eq!(json, r#"{"cell_timeout":"1m30s"}"#);
        assert_eq!(
            serde_json::from_str::<Record>(&json).expect("reads"),
            record
        );
        let earlier: Record =
            serde_json::from_str(r#"{"cell_timeout":"1m 30s"}"#).expect("earlier form reads");
        assert_eq!(earlier, record);
        let wrong = serde_json::from_str::<Record>(r#"{"cell_timeout":"soon"}"#)
            .expect_err("not a duration");
        assert!(wrong.to_string().contains("soon"), "{wrong}");
    }
}
