//! What nfslab remembers about clusters between commands.
//!
//! Each cluster nfslab knows has a directory `<state>/clusters/<name>/` holding
//! `cluster.json` (which provider, whether nfslab created it, which kubeconfig and context to
//! use) and, for kind clusters nfslab created, the private `kubeconfig` and the generated
//! `kind-config.yaml`. The user's `~/.kube/config` and current context are never touched.
//! The state directory is `$NFSLAB_STATE_DIR`, else `$XDG_STATE_HOME/nfslab`, else
//! `~/.local/state/nfslab`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable overriding the state directory.
pub(crate) const STATE_DIR_ENV: &str = "NFSLAB_STATE_DIR";

/// How a cluster is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A kind cluster nfslab created.
    Kind,
    /// Any cluster reached through the user's kubeconfig; nfslab never deletes it.
    Existing,
}

/// One cluster nfslab knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// The name commands refer to it by (`--name`).
    pub name: String,
    /// The provider.
    pub provider: ProviderKind,
    /// Whether nfslab created it (and so may delete it).
    pub created_by_nfslab: bool,
    /// The kubeconfig to use.
    pub kubeconfig: PathBuf,
    /// The context in it (`None`: its current context).
    pub context: Option<String>,
    /// kind node image, for kind clusters.
    pub node_image: Option<String>,
    /// Worker count, for kind clusters.
    pub workers: Option<u8>,
    /// When nfslab recorded it (RFC 3339).
    pub recorded_at: String,
}

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No state directory could be determined.
    #[error(
        "cannot tell where to keep cluster state: neither {STATE_DIR_ENV}, XDG_STATE_HOME nor \
         HOME is set (hint: export {STATE_DIR_ENV}=/some/dir)"
    )]
    NoDirectory,
    /// A file in the state directory could not be read or written.
    #[error("could not {action} `{}`", .path.display())]
    Io {
        /// `read`, `write`, `remove`...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A cluster name that cannot be a directory name of the store.
    #[error("{0} (hint: cluster names are DNS labels such as `nfslab` or `lab-2`)")]
    BadName(crate::names::NameError),
    /// A record is not valid JSON of the expected shape.
    #[error(
        "the cluster record `{}` is damaged (hint: remove that directory and run `nfslab \
         cluster up` again)",
        .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    /// The store at `root`.
    #[must_use]
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// The store at the location the environment names (see the module documentation).
    ///
    /// # Errors
    /// [`StateError::NoDirectory`] when no location can be determined.
    pub fn from_env() -> Result<Self, StateError> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = if let Some(dir) = var(STATE_DIR_ENV) {
            PathBuf::from(dir)
        } else if let Some(dir) = var("XDG_STATE_HOME") {
            PathBuf::from(dir).join("nfslab")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".local/state/nfslab")
        } else {
            return Err(StateError::NoDirectory);
        };
        Ok(Self { root })
    }

    /// The store's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one cluster.
    #[must_use]
    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.root.join("clusters").join(name)
    }

    /// The private kubeconfig of a kind cluster nfslab creates.
    #[must_use]
    pub fn kubeconfig_path(&self, name: &str) -> PathBuf {
        self.cluster_dir(name).join("kubeconfig")
    }

    /// The generated kind configuration of a cluster.
    #[must_use]
    pub fn kind_config_path(&self, name: &str) -> PathBuf {
        self.cluster_dir(name).join("kind-config.yaml")
    }

    /// The directory of one cluster, after checking the name: the only way the store turns a
    /// name into a path it reads, writes or removes.
    fn checked_dir(&self, name: &str) -> Result<PathBuf, StateError> {
        crate::names::cluster_name(name).map_err(StateError::BadName)?;
        let dir = self.cluster_dir(name);
        // A valid name cannot leave the store; a `clusters` directory that is a symbolic
        // link elsewhere could. Judged on the resolved paths once they exist.
        if self.root.exists() && !crate::names::is_inside(&self.root, &dir) {
            return Err(StateError::BadName(crate::names::NameError::new(
                "cluster name",
                name,
                format!(
                    "its directory resolves outside the state directory `{}`",
                    self.root.display()
                ),
            )));
        }
        Ok(dir)
    }

    /// Creates a cluster's directory (private to the user: it holds credentials).
    ///
    /// # Errors
    /// [`StateError::BadName`] for a name outside the cluster-name grammar,
    /// [`StateError::Io`] when it cannot be created.
    pub fn prepare(&self, name: &str) -> Result<PathBuf, StateError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let dir = self.checked_dir(name)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(|source| StateError::Io {
                action: "create",
                path: dir.clone(),
                source,
            })?;
        Ok(dir)
    }

    /// The record of a cluster, `None` when nfslab does not know it.
    ///
    /// # Errors
    /// [`StateError`] when the record exists but cannot be read.
    pub fn load(&self, name: &str) -> Result<Option<ClusterRecord>, StateError> {
        let path = self.checked_dir(name)?.join("cluster.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StateError::Corrupt { path, source })
    }

    /// Saves a record (creating the cluster's directory).
    ///
    /// # Errors
    /// [`StateError::Io`] when it cannot be written.
    pub fn save(&self, record: &ClusterRecord) -> Result<(), StateError> {
        let path = self.prepare(&record.name)?.join("cluster.json");
        let text = serde_json::to_string_pretty(record).unwrap_or_default();
        std::fs::write(&path, text + "\n").map_err(|source| StateError::Io {
            action: "write",
            path,
            source,
        })
    }

    /// Forgets a cluster: removes its directory and everything in it.
    ///
    /// # Errors
    /// [`StateError::Io`] when it cannot be removed.
    pub fn forget(&self, name: &str) -> Result<(), StateError> {
        let dir = self.checked_dir(name)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                action: "remove",
                path: dir,
                source,
            }),
        }
    }

    /// The names of every cluster nfslab knows, sorted.
    ///
    /// # Errors
    /// [`StateError::Io`] when the directory cannot be listed.
    pub fn names(&self) -> Result<Vec<String>, StateError> {
        let dir = self.root.join("clusters");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Io {
                    action: "list",
                    path: dir,
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("cluster.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> ClusterRecord {
        ClusterRecord {
            name: name.to_owned(),
            provider: ProviderKind::Kind,
            created_by_nfslab: true,
            kubeconfig: PathBuf::from("/state/clusters/x/kubeconfig"),
            context: Some(format!("kind-{name}")),
            node_image: Some("kindest/node:v1.33.1".to_owned()),
            workers: Some(2),
            recorded_at: "2026-01-01T00:00:00Z".to_owned(),
        }
    }

    #[test]
    fn records_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let store = StateStore::at(dir.path());
        assert_eq!(store.load("lab").expect("load"), None);
        store.save(&record("lab")).expect("save");
        assert_eq!(store.load("lab").expect("load"), Some(record("lab")));
        assert_eq!(store.names().expect("names"), vec!["lab".to_owned()]);
        let mode = std::fs::metadata(store.cluster_dir("lab"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        store.forget("lab").expect("forget");
        assert!(!store.cluster_dir("lab").exists());
        store.forget("lab").expect("forgetting twice is fine");
    }

    #[test]
    fn names_that_could_leave_the_store_never_reach_the_filesystem() {
        let dir = tempfile::tempdir().expect("tmp");
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("cluster.json"), "{}").expect("write");
        let store = StateStore::at(&dir.path().join("state").join("deep"));
        for name in ["../../outside", "..", "a/b", "/tmp", "x\0y", "."] {
            assert!(
                matches!(store.forget(name), Err(StateError::BadName(_))),
                "{name}"
            );
            assert!(
                matches!(store.load(name), Err(StateError::BadName(_))),
                "{name}"
            );
            assert!(
                matches!(store.prepare(name), Err(StateError::BadName(_))),
                "{name}"
            );
            let mut r = record("lab");
            r.name = name.to_owned();
            assert!(
                matches!(store.save(&r), Err(StateError::BadName(_))),
                "{name}"
            );
        }
        assert!(
            outside.join("cluster.json").is_file(),
            "nothing outside was removed"
        );
        assert!(!dir.path().join("state").exists(), "nothing was created");
    }

    #[test]
    fn a_clusters_directory_linked_elsewhere_is_not_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(elsewhere.join("lab")).expect("mkdir");
        std::fs::write(elsewhere.join("lab/cluster.json"), "{}").expect("write");
        let root = dir.path().join("state");
        std::fs::create_dir(&root).expect("mkdir");
        std::os::unix::fs::symlink(&elsewhere, root.join("clusters")).expect("symlink");
        let store = StateStore::at(&root);
        assert!(matches!(store.forget("lab"), Err(StateError::BadName(_))));
        assert!(
            elsewhere.join("lab/cluster.json").is_file(),
            "nothing was removed"
        );
    }

    #[test]
    fn damaged_records_say_how_to_recover() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = StateStore::at(dir.path());
        store.prepare("lab").expect("dir");
        std::fs::write(store.cluster_dir("lab").join("cluster.json"), "{").expect("write");
        let err = store.load("lab").expect_err("corrupt");
        assert!(err.to_string().contains("remove that directory"), "{err}");
    }
}
