//! The NFS server's side of a scenario: its files, and restarting it.
//!
//! Scenarios prepare and check data directly on the server ("on the server create
//! `/nfs/pv1`", "the directory was renamed to `archived-...`"). [`ServerFiles`] is what
//! they need; [`ExecFiles`] implements it by running the `nfslab-io` helper commands in the
//! container that mounts the export ([`crate::nfs::FileAccess`]). Paths given to
//! [`ServerFiles`] are relative to the export's root.
//!
//! [`ServerControl`] restarts the server; [`PodRestart`] deletes the server pod and waits for
//! its replacement (same name, new uid, Ready), which is how a StatefulSet-run server comes
//! back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::k8s::conditions::{exists, pod_ready, pod_uid_differs};
use crate::k8s::wait::{self, WaitError};
use crate::k8s::{Cluster, ClusterError, ExecOutput, ObjectRef, Propagation};
use crate::nfs::{FileAccess, helper};

/// A server-side file operation that did not work.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The command could not be run in the file-access container.
    #[error("could not run `{command}` in the NFS server's file-access container")]
    Exec {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// The command ran and failed.
    #[error("`{command}` failed on the NFS server (exit {exit_code}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit code.
        exit_code: i32,
        /// What it printed on stderr (or stdout when stderr is empty).
        stderr: String,
    },
}

/// File operations on the NFS server, with paths relative to the export's root.
#[async_trait]
pub trait ServerFiles: Send + Sync {
    /// Creates a directory and its parents, with a mode (octal, `0755`) and owner
    /// (`uid:gid`) when given.
    async fn mkdir(
        &self,
        path: &str,
        mode: Option<&str>,
        owner: Option<&str>,
    ) -> Result<(), FilesError>;
    /// Writes (or appends) a file.
    async fn write(&self, path: &str, content: &str, append: bool) -> Result<(), FilesError>;
    /// A file's content.
    async fn read(&self, path: &str) -> Result<String, FilesError>;
    /// A directory's entries, dotfiles included, sorted.
    async fn list(&self, dir: &str) -> Result<Vec<String>, FilesError>;
    /// Whether a directory is empty (dotfiles count).
    async fn is_empty(&self, dir: &str) -> Result<bool, FilesError>;
    /// Whether a path exists.
    async fn exists(&self, path: &str) -> Result<bool, FilesError>;
    /// A path's entry as its parent directory lists it (kind, size, mode, owner), `None`
    /// when the parent has no such name.
    async fn entry(&self, path: &str) -> Result<Option<helper::Entry>, FilesError>;
    /// Removes a file, or a directory (with `recursive`, its contents too).
    async fn remove(&self, path: &str, recursive: bool) -> Result<(), FilesError>;
    /// Renames a path.
    async fn rename(&self, from: &str, to: &str) -> Result<(), FilesError>;
    /// Waits until a path exists, up to `timeout`.
    async fn wait_for(&self, path: &str, timeout: Duration) -> Result<(), FilesError>;
}

/// [`ServerFiles`] over `nfslab-io` helper commands run in the file-access container.
pub struct ExecFiles {
    cluster: Arc<dyn Cluster>,
    access: FileAccess,
    io: String,
}

impl ExecFiles {
    /// Operations in `access`'s container, running the helper binary `io`.
    #[must_use]
    pub fn new(cluster: Arc<dyn Cluster>, access: FileAccess, io: &str) -> Self {
        Self {
            cluster,
            access,
            io: io.to_owned(),
        }
    }

    /// The container path of a path relative to the export's root.
    fn full(&self, path: &str) -> String {
        let root = self.access.root.trim_end_matches('/');
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel == "." {
            root.to_owned()
        } else {
            format!("{root}/{rel}")
        }
    }

    /// A directory's entries as `ls --json` prints them.
    async fn entries(&self, dir: &str) -> Result<Vec<helper::Entry>, FilesError> {
        let full = self.full(dir);
        let args = helper::ls_args(&full);
        let out = self.run_ok(&args).await?;
        helper::decode_listing(&out.stdout).map_err(|why| FilesError::Failed {
            command: format!("{} {}", self.io, args.join(" ")),
            exit_code: out.exit_code,
            stderr: why,
        })
    }

    async fn run(&self, args: &[&str]) -> Result<ExecOutput, FilesError> {
        let mut command = vec![self.io.clone()];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        self.cluster
            .exec(
                &self.access.pod,
                Some(&self.access.container),
                &command,
                None,
            )
            .await
            .map_err(|source| FilesError::Exec {
                command: command.join(" "),
                source,
            })
    }

    async fn run_ok(&self, args: &[&str]) -> Result<ExecOutput, FilesError> {
        let out = self.run(args).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(failed(&self.io, args, &out))
        }
    }
}

fn failed(io: &str, args: &[&str], out: &ExecOutput) -> FilesError {
    let text = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    FilesError::Failed {
        command: format!("{io} {}", args.join(" ")),
        exit_code: out.exit_code,
        stderr: text.to_owned(),
    }
}

fn parent_and_name(path: &str) -> (&str, &str) {
    let path = path.trim_end_matches('/');
    match path.rsplit_once('/') {
        Some((parent, name)) => (parent, name),
        None => ("", path),
    }
}

#[async_trait]
impl ServerFiles for ExecFiles {
    async fn mkdir(
        &self,
        path: &str,
        mode: Option<&str>,
        owner: Option<&str>,
    ) -> Result<(), FilesError> {
        let full = self.full(path);
        let mut args = vec!["mkdir", full.as_str()];
        if let Some(m) = mode {
            args.extend(["--mode", m]);
        }
        if let Some(o) = owner {
            args.extend(["--owner", o]);
        }
        self.run_ok(&args).await.map(drop)
    }

    async fn write(&self, path: &str, content: &str, append: bool) -> Result<(), FilesError> {
        let full = self.full(path);
        let verb = if append { "append" } else { "write" };
        self.run_ok(&["file", verb, &full, "--content", content])
            .await
            .map(drop)
    }

    async fn read(&self, path: &str) -> Result<String, FilesError> {
        let full = self.full(path);
        Ok(self.run_ok(&["file", "cat", &full]).await?.stdout)
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, FilesError> {
        Ok(self
            .entries(dir)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    async fn entry(&self, path: &str) -> Result<Option<helper::Entry>, FilesError> {
        let (parent, name) = parent_and_name(path.trim_matches('/'));
        Ok(self
            .entries(parent)
            .await?
            .into_iter()
            .find(|e| e.name == name))
    }

    async fn is_empty(&self, dir: &str) -> Result<bool, FilesError> {
        let full = self.full(dir);
        let args = ["check-empty", full.as_str()];
        let out = self.run(&args).await?;
        helper::check_verdict(out.exit_code).ok_or_else(|| failed(&self.io, &args, &out))
    }

    async fn exists(&self, path: &str) -> Result<bool, FilesError> {
        // Look the name up in its parent; when the parent cannot be listed, walk up to the
        // nearest ancestor that can: a missing ancestor means the path is missing, an
        // ancestor that is there but cannot be listed means we cannot tell.
        let target = path.trim_matches('/');
        if target.is_empty() || target == "." {
            return Ok(true);
        }
        let mut child = target;
        let mut first_error = None;
        loop {
            let (parent, name) = parent_and_name(child);
            match self.list(parent).await {
                Ok(entries) => {
                    let found = entries.iter().any(|e| e == name);
                    return match first_error {
                        None => Ok(found),
                        Some(e) if found => Err(e),
                        Some(_) => Ok(false),
                    };
                }
                Err(e @ FilesError::Failed { .. }) if !parent.is_empty() => {
                    first_error.get_or_insert(e);
                    child = parent;
                }
                Err(e) => return Err(first_error.unwrap_or(e)),
            }
        }
    }

    async fn remove(&self, path: &str, recursive: bool) -> Result<(), FilesError> {
        let full = self.full(path);
        let mut args = vec!["rm", full.as_str()];
        if recursive {
            args.push("-r");
        }
        self.run_ok(&args).await.map(drop)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), FilesError> {
        let (a, b) = (self.full(from), self.full(to));
        self.run_ok(&["rename", &a, &b]).await.map(drop)
    }

    async fn wait_for(&self, path: &str, timeout: Duration) -> Result<(), FilesError> {
        let full = self.full(path);
        let secs = format!("{}s", timeout.as_secs().max(1));
        self.run_ok(&["wait-file", &full, "--timeout", &secs])
            .await
            .map(drop)
    }
}

/// Restarting the NFS server did not work.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A cluster call failed.
    #[error("could not {what}")]
    Cluster {
        /// What was attempted.
        what: String,
        /// Why.
        #[source]
        source: ClusterError,
    },
    /// The replacement did not come up.
    #[error("the NFS server did not come back")]
    Wait(#[source] WaitError),
}

/// Restarts the NFS server.
#[async_trait]
pub trait ServerControl: Send + Sync {
    /// Restarts the server and returns once it serves again (within `timeout`); returns
    /// what was done, for the report.
    async fn restart(&self, timeout: Duration) -> Result<String, ControlError>;
}

/// Restarts a server pod that its controller recreates under the same name.
pub(super) struct PodRestart {
    cluster: Arc<dyn Cluster>,
    pod: ObjectRef,
}

impl PodRestart {
    /// Restarts `pod`.
    #[must_use]
    pub(super) fn new(cluster: Arc<dyn Cluster>, pod: ObjectRef) -> Self {
        Self { cluster, pod }
    }
}

#[async_trait]
impl ServerControl for PodRestart {
    async fn restart(&self, timeout: Duration) -> Result<String, ControlError> {
        let state = self
            .cluster
            .get(&self.pod)
            .await
            .map_err(|source| ControlError::Cluster {
                what: format!("read {}", self.pod),
                source,
            })?;
        let uid = state
            .as_ref()
            .and_then(|s| s.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.cluster
            .delete(&self.pod, Propagation::Background)
            .await
            .map_err(|source| ControlError::Cluster {
                what: format!("delete {}", self.pod),
                source,
            })?;
        let back = exists().and(pod_uid_differs(&uid)).and(pod_ready());
        wait::until_within(self.cluster.as_ref(), &self.pod, &back, timeout)
            .await
            .map_err(ControlError::Wait)?;
        Ok(format!(
            "deleted {} and its replacement became Ready",
            self.pod
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fake::{Call, FakeCluster};
    use serde_json::json;

    /// The fake's file-access container runs the real `nfslab-io` on a local directory
    /// standing in for the export (returned, with the guard that removes it).
    fn real() -> (
        FakeCluster,
        ExecFiles,
        std::path::PathBuf,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = crate::k8s::stand_in::test_binary().expect("nfslab-io");
        let stand_in = crate::k8s::stand_in::StandIn::new(&binary, dir.path());
        let (fake, files, pod) = setup();
        stand_in.server_files(&pod, "/exports", "/exports");
        fake.run_helpers(stand_in.clone());
        (fake, files, stand_in.nfs_dir("/exports"), dir)
    }

    fn setup() -> (FakeCluster, ExecFiles, ObjectRef) {
        let fake = FakeCluster::new();
        let pod = ObjectRef::pod("nfslab-system", "nfs-server-0");
        let files = ExecFiles::new(
            Arc::new(fake.clone()),
            FileAccess {
                pod: pod.clone(),
                container: "files".into(),
                root: "/exports/".into(),
            },
            "/nfslab-io",
        );
        (fake, files, pod)
    }

    fn commands(fake: &FakeCluster) -> Vec<Vec<String>> {
        fake.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Exec(_, container, cmd) => {
                    assert_eq!(container.as_deref(), Some("files"));
                    Some(cmd)
                }
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn operations_run_helper_commands_under_the_root() {
        let (fake, files, export, _dir) = real();
        std::fs::create_dir_all(export.join("s1/a")).expect("a");
        std::fs::create_dir_all(export.join("s1/x/y")).expect("x");
        std::fs::write(export.join("s1/.hidden"), "").expect("hidden");
        std::fs::write(export.join("s1/f"), "").expect("f");
        files
            .mkdir("s1/pv1", Some("0755"), None)
            .await
            .expect("mkdir");
        files
            .write("s1/pv1/index.html", "HelloWorld\n", false)
            .await
            .expect("write");
        files
            .write("s1/pv1/index.html", "222222\n", true)
            .await
            .expect("append");
        assert_eq!(
            std::fs::read_to_string(export.join("s1/pv1/index.html")).expect("read"),
            "HelloWorld\n222222\n"
        );
        assert_eq!(
            files.list("s1").await.expect("ls"),
            vec![".hidden", "a", "f", "pv1", "x"]
        );
        files.remove("s1/x", true).await.expect("rm");
        files.rename("s1/a", "s1/b").await.expect("rename");
        assert!(!export.join("s1/x").exists() && export.join("s1/b").is_dir());
        files
            .wait_for("s1/f", Duration::from_millis(1500))
            .await
            .expect("wait");
        let cmds = commands(&fake);
        let text: Vec<String> = cmds.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            text,
            vec![
                "/nfslab-io mkdir /exports/s1/pv1 --mode 0755",
                "/nfslab-io file write /exports/s1/pv1/index.html --content HelloWorld\n",
                "/nfslab-io file append /exports/s1/pv1/index.html --content 222222\n",
                "/nfslab-io ls --json /exports/s1",
                "/nfslab-io rm /exports/s1/x -r",
                "/nfslab-io rename /exports/s1/a /exports/s1/b",
                "/nfslab-io wait-file /exports/s1/f --timeout 1s",
            ]
        );
    }

    #[tokio::test]
    async fn failures_carry_the_command_and_stderr() {
        let (_fake, files, _export, _dir) = real();
        let err = files.read("s1/missing").await.expect_err("fails");
        assert_eq!(
            err.to_string(),
            "`/nfslab-io file cat /exports/s1/missing` failed on the NFS server (exit 2): \
             error: cannot read `/exports/s1/missing`: No such file or directory (os error 2)"
        );
        // Without a stand-in or a scripted reply, the exec itself fails.
        let (_fake, files, _pod) = setup();
        let err = files.mkdir("x", None, None).await.expect_err("exec fails");
        assert!(matches!(err, FilesError::Exec { .. }));
    }

    #[tokio::test]
    async fn emptiness_follows_the_helpers_exit_code() {
        let (_fake, files, export, _dir) = real();
        std::fs::create_dir_all(export.join("empty")).expect("empty");
        std::fs::create_dir_all(export.join("full")).expect("full");
        std::fs::write(export.join("full/.hidden"), "").expect("hidden");
        assert!(files.is_empty("empty").await.expect("empty"));
        assert!(!files.is_empty("full").await.expect("not empty"));
        assert!(files.is_empty("gone").await.is_err());
    }

    #[tokio::test]
    async fn exists_walks_up_to_a_listable_directory() {
        let (_fake, files, export, _dir) = real();
        std::fs::create_dir_all(export.join("s1/archived-x")).expect("dir");
        // `d1` is a file: listing it fails, as listing a directory the helper cannot read.
        std::fs::write(export.join("s1/d1"), "").expect("d1");
        assert!(files.exists("s1/archived-x").await.expect("listed"));
        assert!(files.exists("s1/d1").await.expect("listed"));
        assert!(!files.exists("s1/other").await.expect("not listed"));
        assert!(
            !files
                .exists("s1/gone/SUCCESS")
                .await
                .expect("parent missing")
        );
        // `d1` is there but cannot be listed: the answer is unknown, not "absent".
        assert!(files.exists("s1/d1/x/y").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn pod_restart_waits_for_a_ready_replacement() {
        let fake = FakeCluster::new();
        let pod = ObjectRef::pod("nfslab-system", "nfs-server-0");
        fake.set(
            &pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "nfs-server-0", "namespace": "nfslab-system",
                                "uid": "old"}}),
        );
        fake.on_delete(&pod).after(Duration::from_secs(4)).set(
            &pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "nfs-server-0", "namespace": "nfslab-system",
                                "uid": "new"},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let control = PodRestart::new(Arc::new(fake.clone()), pod.clone());
        let start = tokio::time::Instant::now();
        let what = control
            .restart(Duration::from_secs(30))
            .await
            .expect("back");
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        assert!(what.contains("replacement became Ready"));
        let never = FakeCluster::new();
        never.set(
            &pod,
            json!({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "nfs-server-0", "uid": "old"}}),
        );
        let err = PodRestart::new(Arc::new(never), pod)
            .restart(Duration::from_secs(10))
            .await
            .expect_err("never comes back");
        assert!(matches!(err, ControlError::Wait(_)));
    }
}
