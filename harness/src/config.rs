//! Tunables: timeouts, the cluster nfslab creates, the images it uses and the NFS server it
//! runs, with commented defaults.
//!
//! Every duration the harness waits for lives here, not in scattered constants. The defaults
//! are in `harness/default-config.yaml` (embedded in the binary and shown by
//! `nfslab config --defaults`); a user file (`--config FILE`) overrides any subset of them:
//! each section and field missing from the file keeps its default. Errors name the file,
//! line, column and field.
//!
//! The defaults also exist as Rust values ([`Config::default`]) so a user file is deserialized
//! straight over them with full error locations; a unit test keeps both in step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nfslab_workload::{At, DurationRange};
use serde::{Deserialize, Serialize};

/// Which server implementation serves the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerFlavor {
    /// The Linux kernel nfsd in a privileged pod (what Kubernetes' own e2e tests use).
    Kernel,
    /// nfs-ganesha, a userspace server, in a pod: for hosts without the nfsd module.
    Ganesha,
    /// A server outside the cluster (`host:/export`), e.g. the user's NAS.
    External,
}

impl ServerFlavor {
    /// The flavor as configuration files, results and reports write it (`kernel`,
    /// `ganesha`, `external`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Kernel => "kernel",
            Self::Ganesha => "ganesha",
            Self::External => "external",
        }
    }
}

/// Most kind worker nodes nfslab creates.
pub const MAX_WORKERS: u8 = 16;
/// Most scenarios run at once.
pub(crate) const MAX_PARALLEL: usize = 64;
/// Most log lines kept per container in a diagnosis.
pub(crate) const MAX_LOG_TAIL_LINES: i64 = 10_000;
/// Accepted timeouts: from a second to a day (`0s` would fail every wait at once).
pub(crate) const TIMEOUT_RANGE: DurationRange =
    DurationRange::new(Duration::from_secs(1), Duration::from_secs(24 * 3600));
/// Accepted `timeouts.request`: from a second to 10 minutes.
pub(crate) const REQUEST_TIMEOUT_RANGE: DurationRange =
    DurationRange::new(Duration::from_secs(1), Duration::from_secs(600));
/// Accepted `scenarios.poll-max-interval`: `0s` would poll the API server in a busy loop.
pub(crate) const POLL_INTERVAL_RANGE: DurationRange =
    DurationRange::new(Duration::from_millis(100), Duration::from_secs(60));

/// The text of the default configuration, with comments explaining each value.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../default-config.yaml");

/// All tunables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Config {
    /// How long to wait for things to happen in the cluster.
    pub timeouts: Timeouts,
    /// The kind cluster nfslab creates.
    pub cluster: ClusterConfig,
    /// Container images nfslab runs or preloads.
    pub images: Images,
    /// The in-cluster NFS server.
    pub nfs: NfsConfig,
    /// How scenarios run.
    pub scenarios: ScenarioSettings,
}

/// How scenarios run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ScenarioSettings {
    /// How many scenarios run at once (each in its own namespace).
    pub parallel: usize,
    /// Log lines kept per container in a failure's diagnosis.
    pub log_tail_lines: i64,
    /// Longest pause between two looks at what cannot be watched (events, pod lists).
    #[serde(with = "nfslab_workload::duration_text")]
    pub poll_max_interval: Duration,
}

impl Default for ScenarioSettings {
    fn default() -> Self {
        Self {
            parallel: 6,
            log_tail_lines: 20,
            poll_max_interval: Duration::from_secs(2),
        }
    }
}

/// How long the harness waits for each kind of event before it reports a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Timeouts {
    /// A single API request (apply, delete, get, exec start).
    #[serde(with = "nfslab_workload::duration_text")]
    pub request: Duration,
    /// A PVC binding or a PV changing phase.
    #[serde(with = "nfslab_workload::duration_text")]
    pub bind: Duration,
    /// A pod (or every pod of a workload) becoming Ready, images already loaded.
    #[serde(with = "nfslab_workload::duration_text")]
    pub pod_ready: Duration,
    /// A deleted object disappearing (finalizers included).
    #[serde(with = "nfslab_workload::duration_text")]
    pub delete: Duration,
    /// A Recycle-policy PV returning to Available (a successful recycler pod takes seconds
    /// once scheduled and its image pulled; a failing NFS one runs until its deadline of
    /// max(300 s, 30 s per GiB)).
    #[serde(with = "nfslab_workload::duration_text")]
    pub recycle: Duration,
    /// A dynamic provisioner creating or deleting a volume.
    #[serde(with = "nfslab_workload::duration_text")]
    pub provision: Duration,
    /// A command run in a container.
    #[serde(with = "nfslab_workload::duration_text")]
    pub exec: Duration,
    /// Default window for "stays true" checks (a PVC stays Pending, stays Terminating).
    #[serde(with = "nfslab_workload::duration_text")]
    pub observe: Duration,
    /// Removing everything a scenario or run created.
    #[serde(with = "nfslab_workload::duration_text")]
    pub cleanup: Duration,
    /// The in-cluster NFS server becoming usable by a client.
    #[serde(with = "nfslab_workload::duration_text")]
    pub server_ready: Duration,
    /// Creating a kind cluster.
    #[serde(with = "nfslab_workload::duration_text")]
    pub cluster_create: Duration,
    /// Building the `nfslab-io` image (compiling the static binary included).
    #[serde(with = "nfslab_workload::duration_text")]
    pub image_build: Duration,
    /// Pulling, saving, loading or side-loading one image.
    #[serde(with = "nfslab_workload::duration_text")]
    pub image_transfer: Duration,
    /// Added once to a wait while a node pulls an image (first runs pull the node image and
    /// third-party images inside cluster-create, server-ready and other waits).
    #[serde(with = "nfslab_workload::duration_text")]
    pub image_pull: Duration,
}

impl Timeouts {
    /// Every timeout with its YAML name and accepted range.
    #[must_use]
    pub fn fields(&self) -> [(&'static str, Duration, DurationRange); 14] {
        let t = TIMEOUT_RANGE;
        [
            ("request", self.request, REQUEST_TIMEOUT_RANGE),
            ("bind", self.bind, t),
            ("pod-ready", self.pod_ready, t),
            ("delete", self.delete, t),
            ("recycle", self.recycle, t),
            ("provision", self.provision, t),
            ("exec", self.exec, t),
            ("observe", self.observe, t),
            ("cleanup", self.cleanup, t),
            ("server-ready", self.server_ready, t),
            ("cluster-create", self.cluster_create, t),
            ("image-build", self.image_build, t),
            ("image-transfer", self.image_transfer, t),
            ("image-pull", self.image_pull, t),
        ]
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: Duration::from_secs(30),
            bind: Duration::from_secs(60),
            pod_ready: Duration::from_secs(180),
            delete: Duration::from_secs(120),
            recycle: Duration::from_secs(180),
            provision: Duration::from_secs(120),
            exec: Duration::from_secs(60),
            observe: Duration::from_secs(15),
            cleanup: Duration::from_secs(300),
            server_ready: Duration::from_secs(180),
            cluster_create: Duration::from_secs(600),
            image_build: Duration::from_secs(1200),
            image_transfer: Duration::from_secs(600),
            image_pull: Duration::from_secs(600),
        }
    }
}

/// The kind cluster nfslab creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ClusterConfig {
    /// kind cluster name; node containers are `<name>-control-plane`, `<name>-worker`, ...
    pub name: String,
    /// Worker nodes next to the single control-plane node.
    pub workers: u8,
    /// kind node image, pinned by digest; it must be one built for the installed kind release.
    pub node_image: String,
    /// The oldest kind release that can run `node_image` (`0.29.0`).
    pub min_kind_version: String,
    /// API server port on 127.0.0.1; 0 lets kind pick a free port.
    pub api_server_port: u16,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            name: "nfslab".to_owned(),
            workers: 2,
            node_image: "kindest/node:v1.33.1@sha256:\
                         050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
                .to_owned(),
            min_kind_version: "0.29.0".to_owned(),
            api_server_port: 0,
        }
    }
}

/// Container images nfslab runs or preloads into the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Images {
    /// The IO engine and helper image; empty means `nfslab-io:<nfslab version>`, built
    /// locally by `workloads/image/build.sh`.
    pub nfslab_io: String,
    /// Kernel NFS server (nfs-utils userland; the kernel's nfsd does the serving).
    pub kernel_nfs_server: String,
    /// Userspace NFS server image providing `ganesha.nfsd`, `rpcbind`, `rpc.statd`,
    /// `rpcinfo` and `showmount`; empty means `nfslab-ganesha:<nfslab version>`, built
    /// locally by `harness/src/nfs/image/build.sh`.
    pub ganesha_nfs_server: String,
    /// nfs-subdir-external-provisioner.
    pub provisioner: String,
    /// Image the PV controller's recycler pod runs, per Kubernetes minor version (`"1.33"`).
    pub recycler: BTreeMap<String, String>,
    /// nginx, for scenarios that want the real web server; empty when none does.
    pub nginx: String,
}

impl Default for Images {
    fn default() -> Self {
        let recycler = [
            (
                "1.33",
                "registry.k8s.io/build-image/debian-base:bookworm-v1.0.4",
            ),
            (
                "1.34",
                "registry.k8s.io/build-image/debian-base:bookworm-v1.0.5",
            ),
            (
                "1.35",
                "registry.k8s.io/build-image/debian-base:bookworm-v1.0.6",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            nfslab_io: String::new(),
            kernel_nfs_server: "registry.k8s.io/e2e-test-images/volume/nfs:1.4".to_owned(),
            ganesha_nfs_server: String::new(),
            provisioner: "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2"
                .to_owned(),
            recycler,
            nginx: String::new(),
        }
    }
}

impl Images {
    /// The userspace NFS server image: the configured one, or nfslab's own
    /// `nfslab-ganesha:<version>` (built by `harness/src/nfs/image/build.sh`).
    #[must_use]
    pub fn ganesha_nfs_server(&self) -> String {
        if self.ganesha_nfs_server.is_empty() {
            format!("nfslab-ganesha:{}", env!("CARGO_PKG_VERSION"))
        } else {
            self.ganesha_nfs_server.clone()
        }
    }

    /// The `nfslab-io` image reference: the configured one, or `nfslab-io:<version>`.
    #[must_use]
    pub fn nfslab_io(&self) -> String {
        if self.nfslab_io.is_empty() {
            format!("nfslab-io:{}", env!("CARGO_PKG_VERSION"))
        } else {
            self.nfslab_io.clone()
        }
    }
}

/// The in-cluster NFS server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct NfsConfig {
    /// `ganesha` (default: nfslab's own image, no host module needed) or `kernel`.
    pub flavor: ServerFlavor,
    /// Namespace holding the server objects.
    pub namespace: String,
    /// Node that runs the server; empty picks the first worker node by name.
    pub node: String,
    /// Directory on that node holding the exported files (kept across server restarts).
    pub host_path: String,
    /// NFSv4 lease time and grace period after a restart (short: restarts are part of the
    /// fault scenarios).
    #[serde(with = "nfslab_workload::duration_text")]
    pub grace_period: Duration,
}

impl Default for NfsConfig {
    fn default() -> Self {
        Self {
            flavor: ServerFlavor::Ganesha,
            namespace: "nfslab-nfs".to_owned(),
            node: String::new(),
            host_path: "/var/lib/nfslab/exports".to_owned(),
            grace_period: Duration::from_secs(10),
        }
    }
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read the configuration file `{}`", .file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not match the configuration's fields.
    #[error(
        "{at}: {}{message}{}",
        .field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default(),
        if .message.contains("(hint: ") {
            ""
        } else {
            " (hint: `nfslab config --defaults` lists every field with its meaning and format)"
        }
    )]
    Parse {
        /// Where.
        at: At,
        /// Dotted path of the field at that position (`cluster.workers`), when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A value has the right type but cannot be used.
    #[error("{at}: field `{field}`: {message}")]
    Invalid {
        /// Where the value is written (the file or `<defaults>`; line 1 when the file does
        /// not write the field).
        at: At,
        /// Dotted path of the field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// A place in the configuration file.
fn at(file: &Path, line: u64, column: u64) -> At {
    At {
        file: file.display().to_string(),
        line,
        column,
    }
}

impl Config {
    /// The defaults, overridden by `file` when given.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read, is not valid YAML, names an unknown field,
    /// holds a value of the wrong type, or a value nfslab cannot use.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(file) = file else {
            return Ok(Self::default());
        };
        let bytes = std::fs::read(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        let text = nfslab_workload::yaml_text_of(&bytes).map_err(|e| ConfigError::Parse {
            at: at(file, e.line, e.column),
            field: None,
            message: e.what(),
        })?;
        Self::from_yaml(text, file)
    }

    /// Parses configuration text (named `file` in errors) over the defaults.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_yaml(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let config: Self = nfslab_workload::yaml_from_str(text).map_err(|e| {
            let (line, column) = if e.line == 0 {
                (1, 1)
            } else {
                (e.line, e.column)
            };
            // Without a path from the parser (a syntax error), the key on that line names it.
            let field = e.path.clone().or_else(|| {
                e.message
                    .starts_with("YAML syntax")
                    .then(|| field_path_at(text, line, column))
                    .flatten()
            });
            // A number of the wrong type is refused by the parser with the type's range;
            // say the field's own range instead.
            let message = match field.as_deref().and_then(count_range) {
                Some(range) if e.message.starts_with("expected a whole number") => {
                    format!("expected a whole number from {range}")
                }
                _ => e.what(),
            };
            ConfigError::Parse {
                at: at(file, line, column),
                field,
                message,
            }
        })?;
        config.validate(file, Some(text))?;
        Ok(config)
    }

    fn validate(&self, file: &Path, text: Option<&str>) -> Result<(), ConfigError> {
        use crate::names;
        let invalid = |field: &str, message: String| {
            let (line, column) = text.map_or((1, 1), |t| value_position(t, field));
            ConfigError::Invalid {
                at: at(file, line, column),
                field: field.to_owned(),
                message,
            }
        };
        let name_err = |field: &str, e: names::NameError| invalid(field, e.to_string());
        for (field, value, range) in self.timeouts.fields() {
            range
                .check(value)
                .map_err(|e| invalid(&format!("timeouts.{field}"), e.to_string()))?;
        }
        POLL_INTERVAL_RANGE
            .check(self.scenarios.poll_max_interval)
            .map_err(|e| invalid("scenarios.poll-max-interval", e.to_string()))?;
        if !(1..=MAX_PARALLEL).contains(&self.scenarios.parallel) {
            return Err(invalid(
                "scenarios.parallel",
                format!(
                    "`{}` is out of range; give a whole number from 1 to {MAX_PARALLEL}",
                    self.scenarios.parallel
                ),
            ));
        }
        if !(0..=MAX_LOG_TAIL_LINES).contains(&self.scenarios.log_tail_lines) {
            return Err(invalid(
                "scenarios.log-tail-lines",
                format!(
                    "`{}` is out of range; give a whole number from 0 to {MAX_LOG_TAIL_LINES}",
                    self.scenarios.log_tail_lines
                ),
            ));
        }
        names::cluster_name(&self.cluster.name).map_err(|e| name_err("cluster.name", e))?;
        if !(1..=MAX_WORKERS).contains(&self.cluster.workers) {
            return Err(invalid(
                "cluster.workers",
                format!(
                    "`{}` is out of range; give a whole number from 1 to {MAX_WORKERS}",
                    self.cluster.workers
                ),
            ));
        }
        names::image_reference("node image", &self.cluster.node_image)
            .map_err(|e| name_err("cluster.node-image", e))?;
        names::version("kind version", &self.cluster.min_kind_version)
            .map_err(|e| name_err("cluster.min-kind-version", e))?;
        for (field, image) in [
            ("images.kernel-nfs-server", &self.images.kernel_nfs_server),
            ("images.provisioner", &self.images.provisioner),
        ] {
            names::image_reference("image reference", image).map_err(|e| name_err(field, e))?;
        }
        // Empty means an image nfslab builds itself (or none, for nginx).
        for (field, image) in [
            ("images.nfslab-io", &self.images.nfslab_io),
            ("images.ganesha-nfs-server", &self.images.ganesha_nfs_server),
            ("images.nginx", &self.images.nginx),
        ] {
            if !image.is_empty() {
                names::image_reference("image reference", image).map_err(|e| name_err(field, e))?;
            }
        }
        for (version, image) in &self.images.recycler {
            let field = format!("images.recycler.\"{version}\"");
            names::kubernetes_minor("Kubernetes version", version)
                .map_err(|e| name_err(&field, e))?;
            names::image_reference("image reference", image).map_err(|e| name_err(&field, e))?;
        }
        if !self.nfs.node.is_empty() {
            names::dns_subdomain("node name", &self.nfs.node)
                .map_err(|e| name_err("nfs.node", e))?;
        }
        if self.nfs.flavor == ServerFlavor::External {
            return Err(invalid(
                "nfs.flavor",
                "`external` is not a server nfslab runs (hint: use `kernel` or `ganesha`; pass \
                 an external server as `--server HOST:/EXPORT` to the commands that take one)"
                    .into(),
            ));
        }
        names::dns_label("namespace name", &self.nfs.namespace, names::MAX_LABEL_LEN)
            .map_err(|e| name_err("nfs.namespace", e))?;
        if !self.nfs.host_path.starts_with('/') {
            return Err(invalid(
                "nfs.host-path",
                format!(
                    "`{}` must be an absolute path on the node",
                    self.nfs.host_path
                ),
            ));
        }
        let grace = self.nfs.grace_period.as_secs();
        if !(10..=180).contains(&grace) {
            return Err(invalid(
                "nfs.grace-period",
                format!(
                    "{} is outside what NFS servers accept (hint: 10s to 3m)",
                    nfslab_workload::format_duration(self.nfs.grace_period)
                ),
            ));
        }
        Ok(())
    }

    /// The effective configuration as YAML (no comments; see [`DEFAULT_CONFIG_YAML`] for
    /// what each field means).
    #[must_use]
    pub fn to_yaml(&self) -> String {
        // Serializing plain structs of strings, numbers and maps cannot fail.
        serde_saphyr::to_string(self).unwrap_or_default()
    }
}

/// The accepted range of a count field, as said in messages.
fn count_range(field: &str) -> Option<String> {
    Some(match field {
        "cluster.workers" => format!("1 to {MAX_WORKERS}"),
        "scenarios.parallel" => format!("1 to {MAX_PARALLEL}"),
        "scenarios.log-tail-lines" => format!("0 to {MAX_LOG_TAIL_LINES}"),
        "cluster.api-server-port" => "1 to 65535, or 0 to let kind pick".to_owned(),
        _ => return None,
    })
}

/// Where the value of the dotted `field` (`cluster.name`, `images.recycler."1.33"`) is
/// written in `text`: its line and column, or the deepest enclosing key that is written.
fn value_position(text: &str, field: &str) -> (u64, u64) {
    use crate::k8s::manifest::{Node, parse_documents};
    let Ok(docs) = parse_documents(text, Path::new("config")) else {
        return (1, 1);
    };
    let Some(mut node) = docs.first() else {
        return (1, 1);
    };
    let mut pos = node.pos;
    let segments = split_field(field);
    for segment in &segments {
        let Node::Map(entries) = &node.value else {
            break;
        };
        match entries.iter().find(|(k, _)| &k.value == segment) {
            Some((key, value)) => {
                pos = if value.value == Node::Null {
                    key.pos
                } else {
                    value.pos
                };
                node = value;
            }
            None => break,
        }
    }
    (u64::from(pos.line.max(1)), u64::from(pos.column.max(1)))
}

/// `a.b."1.33"` as `["a", "b", "1.33"]`.
fn split_field(field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            out.push(quoted[..end].to_owned());
            rest = quoted.get(end + 1..).unwrap_or("").trim_start_matches('.');
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = rest.get(end + 1..).unwrap_or("");
        }
    }
    out
}

/// The dotted key path of the block-style mapping entry at `line`/`column` (1-based):
/// the key on that line (when the position is at or after it) and the keys of the enclosing
/// less-indented lines above it.
fn field_path_at(text: &str, line: u64, column: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let current = lines.get(index)?;
    let key_of = |l: &str| -> Option<(usize, String)> {
        let trimmed = l.trim_start();
        if trimmed.starts_with('#') || trimmed.starts_with('-') {
            return None;
        }
        let indent = l.len() - trimmed.len();
        let (key, _) = trimmed.split_once(':')?;
        let key = key.trim().trim_matches('"').trim_matches('\'');
        (!key.is_empty() && !key.contains(' ')).then(|| (indent, key.to_owned()))
    };
    let mut path = Vec::new();
    let mut limit = match key_of(current) {
        Some((indent, key)) if usize::try_from(column).ok()? > indent => {
            path.push(key);
            indent
        }
        _ => current.len() - current.trim_start().len() + 1,
    };
    for l in lines[..index].iter().rev() {
        if limit == 0 {
            break;
        }
        if let Some((indent, key)) = key_of(l)
            && indent < limit
        {
            path.push(key);
            limit = indent;
        }
    }
    path.reverse();
    (!path.is_empty()).then(|| path.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text, Path::new("my.yaml"))
    }

    #[test]
    fn embedded_default_config_parses_and_matches_the_code_defaults() {
        let parsed: Config = serde_saphyr::from_str(DEFAULT_CONFIG_YAML).expect("default parses");
        assert_eq!(parsed, Config::default());
        assert_eq!(parsed.timeouts.observe, Duration::from_secs(15));
        assert_eq!(parsed.scenarios, ScenarioSettings::default());
    }

    #[test]
    fn default_file_names_every_field() {
        // Every field must be written out (and so documented) in the default file: parse it
        // as plain YAML and compare its keys with the serialized defaults.
        let documented: serde_json::Value =
            serde_saphyr::from_str(DEFAULT_CONFIG_YAML).expect("yaml");
        let actual = serde_json::to_value(Config::default()).expect("json");
        fn keys(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
            if let Some(map) = v.as_object() {
                for (k, child) in map {
                    let path = format!("{prefix}{k}");
                    out.push(path.clone());
                    if k != "recycler" {
                        keys(child, &format!("{path}."), out);
                    }
                }
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        keys(&documented, "", &mut a);
        keys(&actual, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn a_user_file_overrides_only_what_it_names() {
        let config = parse("timeouts:\n  bind: 2m\ncluster:\n  workers: 3\n").expect("valid");
        assert_eq!(config.timeouts.bind, Duration::from_secs(120));
        assert_eq!(config.timeouts.request, Timeouts::default().request);
        assert_eq!(config.cluster.workers, 3);
        assert_eq!(config.cluster.name, "nfslab");
        assert_eq!(config.nfs, NfsConfig::default());
        assert_eq!(parse("# nothing\n").expect("empty"), Config::default());
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let err = parse("cluster:\n  name: lab\n  workers: -1\n").expect_err("bad");
        assert_eq!(
            err.to_string(),
            "my.yaml:3:12: field `cluster.workers`: expected a whole number from 1 to 16 \
             (hint: `nfslab config --defaults` lists every field with its meaning and format)"
        );
        let err = parse("timeouts:\n  bnd: 2m\n").expect_err("unknown");
        let text = err.to_string();
        assert!(text.starts_with("my.yaml:2:3: field `timeouts.bnd`: unknown field `bnd`"));
        let err = parse("nfs:\n  flavor: nfsd\n").expect_err("variant");
        assert!(
            err.to_string()
                .starts_with("my.yaml:2:11: field `nfs.flavor`: "),
            "{err}"
        );
        let err = parse("timeouts:\n  bind: soon\n").expect_err("duration");
        assert!(
            err.to_string()
                .starts_with("my.yaml:2:9: field `timeouts.bind`: `soon` is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn unusable_values_are_refused_with_the_field() {
        let err = parse("cluster:\n  name: My_Lab\n").expect_err("name");
        assert!(err.to_string().contains("field `cluster.name`"), "{err}");
        let err = parse("nfs:\n  flavor: external\n").expect_err("flavor");
        assert!(err.to_string().contains("field `nfs.flavor`"), "{err}");
        let err = parse("nfs:\n  grace-period: 1s\n").expect_err("grace");
        assert!(err.to_string().contains("10s to 3m"), "{err}");
        let err = parse("nfs:\n  host-path: data\n").expect_err("path");
        assert!(err.to_string().contains("absolute"), "{err}");
    }

    #[test]
    fn every_value_is_checked_with_its_range() {
        for (text, field, words) in [
            (
                "timeouts:\n  request: 0s\n",
                "timeouts.request",
                "from 1s to 10m",
            ),
            ("timeouts:\n  bind: 9999999h\n", "timeouts.bind", "too long"),
            (
                "scenarios:\n  poll-max-interval: 0s\n",
                "scenarios.poll-max-interval",
                "zero",
            ),
            (
                "scenarios:\n  parallel: 0\n",
                "scenarios.parallel",
                "from 1 to 64",
            ),
            (
                "scenarios:\n  log-tail-lines: -5\n",
                "scenarios.log-tail-lines",
                "from 0",
            ),
            (
                "cluster:\n  workers: 0\n",
                "cluster.workers",
                "from 1 to 16",
            ),
            (
                "cluster:\n  node-image: kindest/node@sha256:zz\n",
                "cluster.node-image",
                "digest",
            ),
            (
                "cluster:\n  min-kind-version: latest\n",
                "cluster.min-kind-version",
                "MAJOR.MINOR.PATCH",
            ),
            (
                "images:\n  provisioner: 'Not An Image'\n",
                "images.provisioner",
                "spaces",
            ),
            (
                "images:\n  recycler:\n    latest: busybox\n",
                "images.recycler.\"latest\"",
                "1.33",
            ),
            ("nfs:\n  node: Worker_1\n", "nfs.node", "not allowed"),
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(&format!("field `{field}`")), "{text}: {err}");
            assert!(err.contains(words), "{text}: {err}");
        }
        let ok = parse("timeouts:\n  bind: 1m30s\n").expect("compound durations");
        assert_eq!(ok.timeouts.bind, Duration::from_secs(90));
        let bare = parse("timeouts:\n  bind: 90\n").expect_err("bare number");
        assert!(bare.to_string().contains("`90` has no unit"), "{bare}");
    }

    #[test]
    fn unreadable_file_is_reported_with_its_path() {
        let err = Config::load(Some(Path::new("/nonexistent/nfslab.yaml"))).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "could not read the configuration file `/nonexistent/nfslab.yaml`"
        );
    }

    #[test]
    fn unusable_values_are_located_at_their_value() {
        let err = parse("cluster:\n  workers: 3\n  name: My_Lab\n").expect_err("name");
        assert!(
            err.to_string()
                .starts_with("my.yaml:3:9: field `cluster.name`: "),
            "{err}"
        );
        let err = parse("images:\n  recycler:\n    \"1.33\": 'bad image'\n").expect_err("image");
        assert!(
            err.to_string()
                .starts_with("my.yaml:3:13: field `images.recycler.\"1.33\"`: "),
            "{err}"
        );
    }

    #[test]
    fn field_paths_follow_indentation() {
        let text = "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n";
        assert_eq!(field_path_at(text, 3, 8).as_deref(), Some("a.b.c"));
        assert_eq!(field_path_at(text, 4, 6).as_deref(), Some("a.d"));
        assert_eq!(field_path_at(text, 5, 4).as_deref(), Some("e"));
    }

    #[test]
    fn effective_config_round_trips() {
        let mut config = Config::default();
        config.cluster.workers = 4;
        let text = config.to_yaml();
        assert_eq!(parse(&text).expect("round trip"), config);
        assert_eq!(
            config.images.nfslab_io(),
            format!("nfslab-io:{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
