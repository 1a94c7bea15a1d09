//! Server-side file operations: what scenarios do "on the NFS server" (create a directory
//! owned by nobody, write index.html, read what a pod appended, check a recycled volume is
//! empty), done by exec of `nfslab-io` helper commands in the server's file-access container,
//! which mounts the exported directory itself (not over NFS).
//!
//! Paths are either relative to the export (`pv1/index.html`) or absolute under it
//! (`/exports/pv1/index.html`, the form PVs use); anything else, and any `..`, is refused
//! before reaching the cluster.

use std::time::Duration;

use super::{FileAccess, NfsServer};
use crate::k8s::{Cluster, ClusterError, ExecOutput};

/// The `nfslab-io` binary in its image.
pub(super) const HELPER: &str = "/nfslab-io";

/// Why a server-side file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The server is not one nfslab runs, so its files cannot be reached directly.
    #[error(
        "the NFS server `{address}` offers no server-side file access (hint: external servers \
         cannot be prepared or checked by nfslab; use the in-cluster server from `nfslab nfs up`)"
    )]
    NoAccess {
        /// The server's address.
        address: String,
    },
    /// The path is outside the export.
    #[error(
        "path `{path}` is outside the export `{root}` (hint: give it relative to the export, or starting with `{root}/`)"
    )]
    OutsideExport {
        /// The path given.
        path: String,
        /// The export root.
        root: String,
    },
    /// The command ran and failed.
    #[error(
        "could not {op} `{path}` on the NFS server (pod `{pod}`, container `{container}`): exit code {code}: {message}"
    )]
    Failed {
        /// `write`, `read`, `list`...
        op: &'static str,
        /// The path (as seen in the container).
        path: String,
        /// `namespace/name`.
        pod: String,
        /// The container.
        container: String,
        /// Exit code.
        code: i32,
        /// The command's error output (or "no output").
        message: String,
    },
    /// The command could not be run.
    #[error("could not {op} `{path}` on the NFS server")]
    Exec {
        /// What was attempted.
        op: &'static str,
        /// The path.
        path: String,
        /// What the cluster said.
        #[source]
        source: Box<ClusterError>,
    },
    /// The command did not finish in time.
    #[error("could not {op} `{path}` on the NFS server: no answer within {} (hint: raise timeouts.exec)", nfslab_workload::format_duration(*.after))]
    Timeout {
        /// What was attempted.
        op: &'static str,
        /// The path.
        path: String,
        /// The limit.
        after: Duration,
    },
}

/// File operations on one server's export.
pub struct ServerFiles<'a> {
    cluster: &'a dyn Cluster,
    access: FileAccess,
    timeout: Duration,
}

impl<'a> ServerFiles<'a> {
    /// File access to `server` through `cluster`; each operation may take up to `timeout`.
    ///
    /// # Errors
    /// [`FilesError::NoAccess`] for servers nfslab does not run.
    pub fn new(
        cluster: &'a dyn Cluster,
        server: &NfsServer,
        timeout: Duration,
    ) -> Result<Self, FilesError> {
        let access = server.files.clone().ok_or_else(|| FilesError::NoAccess {
            address: server.address.clone(),
        })?;
        Ok(Self {
            cluster,
            access,
            timeout,
        })
    }

    /// The path inside the file-access container for a path given relative to the export or
    /// absolute under it.
    ///
    /// # Errors
    /// [`FilesError::OutsideExport`] for paths outside the export or with `..`.
    pub fn resolve(&self, path: &str) -> Result<String, FilesError> {
        let root = self.access.root.trim_end_matches('/');
        let outside = || FilesError::OutsideExport {
            path: path.to_owned(),
            root: root.to_owned(),
        };
        let relative = if path.starts_with('/') {
            if path == root {
                ""
            } else {
                path.strip_prefix(root)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .ok_or_else(outside)?
            }
        } else {
            path
        };
        if relative.split('/').any(|c| c == "..") {
            return Err(outside());
        }
        let relative = relative.trim_matches('/');
        Ok(if relative.is_empty() {
            root.to_owned()
        } else {
            format!("{root}/{relative}")
        })
    }

    async fn run(
        &self,
        op: &'static str,
        path: &str,
        args: &[&str],
    ) -> Result<ExecOutput, FilesError> {
        let command: Vec<String> = std::iter::once(HELPER)
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect();
        let exec = self.cluster.exec(
            &self.access.pod,
            Some(&self.access.container),
            &command,
            None,
        );
        match tokio::time::timeout(self.timeout, exec).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(source)) => Err(FilesError::Exec {
                op,
                path: path.to_owned(),
                source: Box::new(source),
            }),
            Err(_) => Err(FilesError::Timeout {
                op,
                path: path.to_owned(),
                after: self.timeout,
            }),
        }
    }

    fn failed(&self, op: &'static str, path: &str, output: &ExecOutput) -> FilesError {
        let message = output
            .stderr
            .lines()
            .chain(output.stdout.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ");
        FilesError::Failed {
            op,
            path: path.to_owned(),
            pod: format!(
                "{}/{}",
                self.access.pod.namespace.as_deref().unwrap_or_default(),
                self.access.pod.name
            ),
            container: self.access.container.clone(),
            code: output.exit_code,
            message: if message.is_empty() {
                "no output".to_owned()
            } else {
                message
            },
        }
    }

    async fn run_ok(
        &self,
        op: &'static str,
        path: &str,
        args: &[&str],
    ) -> Result<ExecOutput, FilesError> {
        let output = self.run(op, path, args).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(self.failed(op, path, &output))
        }
    }

    /// Creates a directory (and missing parents) with `mode` (e.g. `0o777`) and, when given,
    /// owner `uid:gid` (the documents create PV directories owned by `nobody`: 65534:65534).
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails.
    pub async fn mkdir(
        &self,
        path: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<(), FilesError> {
        let target = self.resolve(path)?;
        let mode = format!("{mode:o}");
        let owner = owner.map(|(u, g)| format!("{u}:{g}"));
        let mut args = vec![
            "mkdir",
            target.as_str(),
            "--parents",
            "--mode",
            mode.as_str(),
        ];
        if let Some(o) = &owner {
            args.extend(["--owner", o.as_str()]);
        }
        self.run_ok("create directory", &target, &args)
            .await
            .map(drop)
    }

    /// Writes `content` to a file, replacing it.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails.
    pub async fn write(&self, path: &str, content: &str) -> Result<(), FilesError> {
        let target = self.resolve(path)?;
        self.run_ok(
            "write",
            &target,
            &["file", "write", &target, "--content", content],
        )
        .await
        .map(drop)
    }

    /// Appends `content` to a file.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails.
    pub async fn append(&self, path: &str, content: &str) -> Result<(), FilesError> {
        let target = self.resolve(path)?;
        self.run_ok(
            "append to",
            &target,
            &["file", "append", &target, "--content", content],
        )
        .await
        .map(drop)
    }

    /// Reads a whole file.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails (the file is missing, a directory...).
    pub async fn read(&self, path: &str) -> Result<String, FilesError> {
        let target = self.resolve(path)?;
        Ok(self
            .run_ok("read", &target, &["file", "cat", &target])
            .await?
            .stdout)
    }

    /// The names in a directory, dotfiles included, sorted.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails (the directory is missing...).
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, FilesError> {
        let target = self.resolve(dir)?;
        let output = self
            .run_ok("list", &target, &super::helper::ls_args(&target))
            .await?;
        let entries = super::helper::decode_listing(&output.stdout)
            .map_err(|why| self.unreadable("list", &target, why))?;
        Ok(entries.into_iter().map(|e| e.name).collect())
    }

    /// Whether a directory is empty (dotfiles count as content).
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails for another reason than "not empty".
    pub async fn is_empty(&self, dir: &str) -> Result<bool, FilesError> {
        let target = self.resolve(dir)?;
        let output = self
            .run("check", &target, &["check-empty", &target])
            .await?;
        super::helper::check_verdict(output.exit_code)
            .ok_or_else(|| self.failed("check", &target, &output))
    }

    /// Removes a file, or a directory with `recursive`.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails.
    pub async fn remove(&self, path: &str, recursive: bool) -> Result<(), FilesError> {
        let target = self.resolve(path)?;
        let mut args = vec!["rm", target.as_str()];
        if recursive {
            args.push("-r");
        }
        self.run_ok("remove", &target, &args).await.map(drop)
    }

    /// Renames (moves) `from` to `to`, both inside the export.
    ///
    /// # Errors
    /// [`FilesError`] when the helper fails.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), FilesError> {
        let source = self.resolve(from)?;
        let target = self.resolve(to)?;
        self.run_ok("rename", &source, &["rename", &source, &target])
            .await
            .map(drop)
    }

    /// Whether a path exists (looked up in its parent directory's listing).
    ///
    /// # Errors
    /// [`FilesError`] when the parent cannot be listed for another reason than not existing.
    pub async fn exists(&self, path: &str) -> Result<bool, FilesError> {
        let target = self.resolve(path)?;
        let root = self.access.root.trim_end_matches('/');
        if target == root {
            return Ok(true);
        }
        let (parent, name) = target.rsplit_once('/').unwrap_or((root, target.as_str()));
        let parent = if parent.is_empty() { "/" } else { parent };
        let output = self
            .run("list", parent, &super::helper::ls_args(parent))
            .await?;
        if !output.success() {
            // A missing parent means a missing path; anything else is an error.
            let text = format!("{}{}", output.stderr, output.stdout).to_lowercase();
            if text.contains("no such file") || text.contains("not found") {
                return Ok(false);
            }
            return Err(self.failed("list", parent, &output));
        }
        let entries = super::helper::decode_listing(&output.stdout)
            .map_err(|why| self.unreadable("list", parent, why))?;
        Ok(entries.iter().any(|e| e.name == name))
    }

    fn unreadable(&self, op: &'static str, path: &str, why: String) -> FilesError {
        self.failed(
            op,
            path,
            &ExecOutput {
                stdout: String::new(),
                stderr: why,
                exit_code: 0,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::ObjectRef;
    use crate::k8s::fake::{Call, FakeCluster};
    use crate::nfs::ServerFlavor;

    fn server() -> NfsServer {
        NfsServer {
            flavor: ServerFlavor::Kernel,
            address: "10.96.100.7".to_owned(),
            export: "/exports".to_owned(),
            files: Some(FileAccess {
                pod: ObjectRef::pod("nfslab-nfs", "nfs-server-0"),
                container: "files".to_owned(),
                root: "/exports".to_owned(),
            }),
        }
    }

    fn pod() -> ObjectRef {
        ObjectRef::pod("nfslab-nfs", "nfs-server-0")
    }

    fn last_command(fake: &FakeCluster) -> Vec<String> {
        match fake.calls().last() {
            Some(Call::Exec(p, Some(c), cmd)) if *p == pod() && c == "files" => cmd.clone(),
            other => panic!("expected an exec in the files container, got {other:?}"),
        }
    }

    #[test]
    fn paths_stay_inside_the_export() {
        let fake = FakeCluster::new();
        let files = ServerFiles::new(&fake, &server(), Duration::from_secs(5)).expect("access");
        assert_eq!(
            files.resolve("pv1/index.html").expect("ok"),
            "/exports/pv1/index.html"
        );
        assert_eq!(files.resolve("/exports/pv1").expect("ok"), "/exports/pv1");
        assert_eq!(files.resolve("/exports").expect("ok"), "/exports");
        assert_eq!(files.resolve("").expect("ok"), "/exports");
        for bad in ["/nfs/pv1", "/exportsX/a", "../etc", "pv1/../../x"] {
            let err = files.resolve(bad).expect_err(bad);
            assert!(err.to_string().contains("outside the export"), "{err}");
        }
    }

    #[tokio::test]
    async fn operations_run_the_helper_in_the_files_container() {
        let fake = FakeCluster::new();
        fake.on_exec(&pod(), &[HELPER]).reply(ExecOutput::ok(""));
        let files = ServerFiles::new(&fake, &server(), Duration::from_secs(5)).expect("access");
        files
            .mkdir("pv1", 0o777, Some((65534, 65534)))
            .await
            .expect("mkdir");
        assert_eq!(
            last_command(&fake),
            [
                "/nfslab-io",
                "mkdir",
                "/exports/pv1",
                "--parents",
                "--mode",
                "777",
                "--owner",
                "65534:65534"
            ]
        );
        files
            .write("pv1/index.html", "HelloWorld\n")
            .await
            .expect("write");
        assert_eq!(
            last_command(&fake),
            [
                "/nfslab-io",
                "file",
                "write",
                "/exports/pv1/index.html",
                "--content",
                "HelloWorld\n"
            ]
        );
        files
            .append("/exports/pv1/index.html", "222222\n")
            .await
            .expect("append");
        assert_eq!(
            last_command(&fake)[1..3],
            ["file".to_owned(), "append".to_owned()]
        );
        files.remove("pv1", true).await.expect("rm");
        assert_eq!(
            last_command(&fake),
            ["/nfslab-io", "rm", "/exports/pv1", "-r"]
        );
        files
            .rename("ns-test-claim-pvc-1", "archived-ns-test-claim-pvc-1")
            .await
            .expect("rename");
        assert_eq!(
            last_command(&fake),
            [
                "/nfslab-io",
                "rename",
                "/exports/ns-test-claim-pvc-1",
                "/exports/archived-ns-test-claim-pvc-1"
            ]
        );
    }

    /// A fake whose file-access container runs the real `nfslab-io` on a local directory
    /// standing in for the export.
    fn real_helpers() -> (
        FakeCluster,
        crate::k8s::stand_in::StandIn,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let binary = crate::k8s::stand_in::test_binary().expect("nfslab-io");
        let stand_in = crate::k8s::stand_in::StandIn::new(&binary, dir.path());
        stand_in.server_files(&pod(), "/exports", "/exports");
        let fake = FakeCluster::new();
        fake.run_helpers(stand_in.clone());
        (fake, stand_in, dir)
    }

    #[tokio::test]
    async fn reads_lists_and_emptiness() {
        let (fake, stand_in, _dir) = real_helpers();
        let export = stand_in.nfs_dir("/exports");
        std::fs::create_dir_all(export.join("pv1")).expect("pv1");
        std::fs::create_dir_all(export.join("pv2")).expect("pv2");
        std::fs::write(export.join("pv1/index.html"), "HelloWorld\n222222\n").expect("write");
        std::fs::write(export.join("pv1/.hidden"), "").expect("write");
        let files = ServerFiles::new(&fake, &server(), Duration::from_secs(5)).expect("access");
        assert_eq!(
            files.read("pv1/index.html").await.expect("read"),
            "HelloWorld\n222222\n"
        );
        assert_eq!(
            files.list("pv1").await.expect("ls"),
            [".hidden", "index.html"]
        );
        assert!(!files.is_empty("pv1").await.expect("check"));
        assert!(files.is_empty("pv2").await.expect("check"));
        assert!(files.exists("pv1/.hidden").await.expect("exists"));
        assert!(!files.exists("pv1/gone").await.expect("exists"));
        assert!(!files.exists("missing/file").await.expect("parent missing"));
    }

    #[tokio::test]
    async fn failures_say_what_where_and_why() {
        let (fake, _stand_in, _dir) = real_helpers();
        let files = ServerFiles::new(&fake, &server(), Duration::from_secs(5)).expect("access");
        let err = files.read("x").await.expect_err("missing");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "could not read `/exports/x` on the NFS server (pod `nfslab-nfs/nfs-server-0`, \
                 container `files`): exit code 2: error: cannot read "
            ) && text.contains("/exports/x")
                && text.contains("No such file or directory"),
            "{text}"
        );
        let external = NfsServer {
            files: None,
            ..server()
        };
        let err = ServerFiles::new(&fake, &external, Duration::from_secs(5))
            .err()
            .expect("no access");
        assert!(matches!(err, FilesError::NoAccess { .. }));
    }
}
