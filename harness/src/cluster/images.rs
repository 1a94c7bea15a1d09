//! The images nfslab runs: building `nfslab-io`, pulling the third-party ones, moving them
//! through tarballs for air-gapped hosts, and side-loading them into kind nodes.
//!
//! Two images are built from this repository by their scripts ([`Recipe`]); nfslab only
//! calls them:
//! - `nfslab-io:<version>` by `workloads/image/build.sh`: the static musl binary in a
//!   `FROM scratch` image;
//! - `nfslab-ganesha:<version>` by `harness/src/nfs/image/build.sh`: Debian's nfs-ganesha,
//!   rpcbind and rpc.statd, the default in-cluster NFS server.
//!
//! Third-party images come from the configuration (`crate::config::Images`): the kernel
//! NFS server, the provisioner, the PV recycler's image for each supported Kubernetes version
//! and nginx when configured (a configured ganesha image of another name is third-party too). Users behind registry blocks run `nfslab images pull` and
//! `nfslab images save FILE` where a registry is reachable, carry the tarball over, and run
//! `nfslab images load FILE` (which also side-loads into the kind cluster).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tools::{CommandError, CommandSpec, Tools, run_checked, run_for};
use crate::config::Images;

/// Environment variable naming the nfslab source tree (where `workloads/image/build.sh` is)
/// for binaries installed outside the repository.
pub const SOURCE_DIR_ENV: &str = "NFSLAB_SOURCE_DIR";

/// The `nfslab-io` image build script, relative to the source tree.
pub const BUILD_SCRIPT: &str = "workloads/image/build.sh";

/// An image nfslab builds from this repository with a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipe {
    /// Image name; the tag is nfslab's version.
    pub name: &'static str,
    /// The build script, relative to the source tree. It prints the tag as its last line,
    /// labels the image with [`SOURCE_LABEL`], and prints that hash with `--source-hash`.
    pub script: &'static str,
}

impl Recipe {
    /// `<name>:<nfslab version>`, what the script tags.
    #[must_use]
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, env!("CARGO_PKG_VERSION"))
    }
}

/// The IO engine and helper image.
pub const IO_RECIPE: Recipe = Recipe {
    name: "nfslab-io",
    script: BUILD_SCRIPT,
};

/// The userspace NFS server image (nfs-ganesha from Debian).
pub const SERVER_RECIPE: Recipe = Recipe {
    name: "nfslab-ganesha",
    script: "harness/src/nfs/image/build.sh",
};

/// Quick Docker queries.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// What an image is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// The IO engine and helper image, built locally.
    NfslabIo,
    /// The kernel NFS server.
    KernelNfsServer,
    /// The userspace NFS server.
    GaneshaNfsServer,
    /// nfs-subdir-external-provisioner.
    Provisioner,
    /// The PV recycler pod of one Kubernetes minor version.
    Recycler(String),
    /// nginx.
    Nginx,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NfslabIo => f.write_str("nfslab-io (IO engine, helpers)"),
            Self::KernelNfsServer => f.write_str("kernel NFS server"),
            Self::GaneshaNfsServer => f.write_str("ganesha NFS server"),
            Self::Provisioner => f.write_str("nfs-subdir-external-provisioner"),
            Self::Recycler(v) => write!(f, "PV recycler (Kubernetes {v})"),
            Self::Nginx => f.write_str("nginx"),
        }
    }
}

/// One image nfslab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// What it is for.
    pub role: Role,
    /// The reference (`registry.k8s.io/...:tag`).
    pub reference: String,
}

impl Image {
    /// How nfslab builds it, when it does (rather than pulling it): `nfslab-io` always, the
    /// ganesha server when the configuration names nfslab's own image.
    #[must_use]
    pub fn recipe(&self) -> Option<Recipe> {
        match self.role {
            Role::NfslabIo => Some(IO_RECIPE),
            Role::GaneshaNfsServer
                if self.reference.split(':').next() == Some(SERVER_RECIPE.name) =>
            {
                Some(SERVER_RECIPE)
            }
            _ => None,
        }
    }

    /// Whether nfslab builds it (rather than pulling it).
    #[must_use]
    pub fn built_locally(&self) -> bool {
        self.recipe().is_some()
    }
}

/// Every image the configuration names. `kubernetes` (`"1.33"`) keeps only that version's
/// recycler image; `None` keeps all of them (for preparing tarballs).
#[must_use]
pub fn catalog(images: &Images, kubernetes: Option<&str>) -> Vec<Image> {
    let mut list = vec![
        Image {
            role: Role::NfslabIo,
            reference: images.nfslab_io(),
        },
        Image {
            role: Role::KernelNfsServer,
            reference: images.kernel_nfs_server.clone(),
        },
        Image {
            role: Role::GaneshaNfsServer,
            reference: images.ganesha_nfs_server(),
        },
        Image {
            role: Role::Provisioner,
            reference: images.provisioner.clone(),
        },
    ];
    list.extend(
        images
            .recycler
            .iter()
            .filter(|(version, _)| kubernetes.is_none_or(|k| k == version.as_str()))
            .map(|(version, reference)| Image {
                role: Role::Recycler(version.clone()),
                reference: reference.clone(),
            }),
    );
    if !images.nginx.is_empty() {
        list.push(Image {
            role: Role::Nginx,
            reference: images.nginx.clone(),
        });
    }
    list.retain(|i| !i.reference.is_empty());
    list
}

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// docker (or the build script) could not be run, or failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// kind could not side-load an image.
    #[error(transparent)]
    Kind(#[from] super::kind::KindError),
    /// The build script is not where it should be.
    #[error(
        "cannot build `{image}`: `{}` does not exist (hint: run nfslab from its source tree or \
         set {SOURCE_DIR_ENV} to it; or build and tag the image yourself)",
        .script.display()
    )]
    NoBuildScript {
        /// The image that was to be built.
        image: String,
        /// Where the script was looked for.
        script: PathBuf,
    },
    /// The build script succeeded but the expected image is not there.
    #[error(
        "`{}` finished but Docker has no image `{image}` (hint: the script must tag the image \
         `{image}`)",
        .script.display()
    )]
    NotTagged {
        /// The expected image.
        image: String,
        /// The script.
        script: PathBuf,
    },
}

/// Whether the local Docker has `image`.
///
/// # Errors
/// [`ImageError::Command`] when docker cannot be run.
pub async fn present(tools: &dyn Tools, image: &str) -> Result<bool, ImageError> {
    let command = CommandSpec::new("docker", &["image", "inspect", image], QUERY_TIMEOUT);
    let action = format!("look for image `{image}` in the local Docker");
    Ok(run_for(tools, &action, &command).await?.success())
}

/// The label the build script puts on the `nfslab-io` image: a hash of the sources it was
/// built from (`build.sh --source-hash` prints the tree's current one).
pub const SOURCE_LABEL: &str = "org.nfslab.source";

/// How the local `nfslab-io` image stands against the source tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Docker has no such image.
    Missing,
    /// Built from the sources as they are now.
    Current,
    /// Built from other sources (an older or newer tree of the same version).
    Stale {
        /// The image's source label.
        image: String,
        /// The tree's hash now.
        tree: String,
    },
    /// The image has no source label: built outside nfslab's script, or by an older nfslab.
    Unlabelled,
    /// No source tree (or its hash could not be taken): the image cannot be checked.
    Unchecked,
}

impl Freshness {
    /// Whether the image must be (re)built before use.
    #[must_use]
    pub fn needs_build(&self) -> bool {
        matches!(self, Freshness::Missing | Freshness::Stale { .. })
    }

    /// What to tell the user about `image`, when there is something to tell.
    #[must_use]
    pub fn describe(&self, image: &str) -> Option<String> {
        match self {
            Freshness::Missing => Some(format!("image `{image}` is not built yet")),
            Freshness::Current | Freshness::Unchecked => None,
            Freshness::Stale { image: from, tree } => Some(format!(
                "image `{image}` was built from other sources ({SOURCE_LABEL} {from}, the tree \
                 is {tree})"
            )),
            Freshness::Unlabelled => Some(format!(
                "image `{image}` has no {SOURCE_LABEL} label (built outside nfslab or by an \
                 older nfslab) and is used as it is; `nfslab images build` rebuilds it from \
                 this tree"
            )),
        }
    }
}

/// How the local `nfslab-io` image `image` stands against the source tree at `source`.
///
/// # Errors
/// [`ImageError::Command`] when docker cannot be run.
pub async fn freshness(
    tools: &dyn Tools,
    source: &Path,
    image: &str,
) -> Result<Freshness, ImageError> {
    freshness_of(tools, source, IO_RECIPE, image).await
}

/// How the local `image`, built by `recipe`, stands against the source tree at `source`:
/// its [`SOURCE_LABEL`] against the hash the recipe's `build.sh --source-hash` prints.
///
/// # Errors
/// [`ImageError::Command`] when docker cannot be run.
pub async fn freshness_of(
    tools: &dyn Tools,
    source: &Path,
    recipe: Recipe,
    image: &str,
) -> Result<Freshness, ImageError> {
    let format = format!("{{{{ index .Config.Labels \"{SOURCE_LABEL}\" }}}}");
    let command = CommandSpec::new(
        "docker",
        &["image", "inspect", "--format", &format, image],
        QUERY_TIMEOUT,
    );
    let action = format!("look for image `{image}` in the local Docker");
    let inspected = run_for(tools, &action, &command).await?;
    if !inspected.success() {
        return Ok(Freshness::Missing);
    }
    let script = source.join(recipe.script);
    if !script.is_file() {
        return Ok(Freshness::Unchecked);
    }
    let script_arg = script.to_string_lossy();
    let hash = CommandSpec::new("bash", &[&script_arg, "--source-hash"], QUERY_TIMEOUT);
    let tree = match tools.run(&hash).await {
        Ok(out) if out.success() && is_hash(out.stdout.trim()) => out.stdout.trim().to_owned(),
        _ => return Ok(Freshness::Unchecked),
    };
    // Docker prints `<no value>` for a missing label.
    let label = inspected.stdout.trim();
    Ok(if label.is_empty() || label == "<no value>" {
        Freshness::Unlabelled
    } else if label == tree {
        Freshness::Current
    } else {
        Freshness::Stale {
            image: label.to_owned(),
            tree,
        }
    })
}

/// The hash `recipe`'s script prints with `--source-hash` for the tree at `source` (`None`
/// without a tree or when the script fails): the content a build from here would have.
#[must_use]
pub fn source_hash(source: &Path, recipe: Recipe) -> Option<String> {
    let script = source.join(recipe.script);
    if !script.is_file() {
        return None;
    }
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("--source-hash")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && is_hash(&hash)).then_some(hash)
}

/// Makes `target` (a reference in a registry the nodes pull from) the image `recipe`
/// builds from the tree at `source`, and pushes it there: builds the local
/// `<name>:<version>` when missing or stale, tags it, `docker push`es it.
///
/// # Errors
/// [`ImageError`] when the build, the tag or the push fails (the push's own words, with a
/// hint about `docker login` and insecure registries).
pub async fn publish(
    tools: &dyn Tools,
    source: &Path,
    recipe: Recipe,
    target: &str,
    build_timeout: Duration,
    push_timeout: Duration,
) -> Result<(), ImageError> {
    let local = recipe.reference();
    if freshness_of(tools, source, recipe, &local)
        .await?
        .needs_build()
    {
        build(tools, source, recipe, &local, build_timeout).await?;
    }
    run_checked(
        tools,
        &format!("tag `{local}` as `{target}`"),
        &CommandSpec::new("docker", &["tag", &local, target], QUERY_TIMEOUT),
        None,
    )
    .await?;
    run_checked(
        tools,
        &format!("push `{target}`"),
        &CommandSpec::new("docker", &["push", target], push_timeout).echoed(),
        Some(
            "check the registry is reachable from here and that you are logged in \
             (`docker login REGISTRY`); a plain-HTTP registry must be listed in Docker's \
             insecure-registries",
        ),
    )
    .await?;
    Ok(())
}

fn is_hash(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The source tree holding [`BUILD_SCRIPT`]: `$NFSLAB_SOURCE_DIR`, else the tree this binary
/// was built from.
#[must_use]
pub fn source_dir() -> PathBuf {
    std::env::var_os(SOURCE_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Builds the `nfslab-io` image with the repository's build script and makes sure Docker
/// then has `image` (tagging the script's `nfslab-io:<version>` when the configuration names
/// another reference).
///
/// # Errors
/// [`ImageError`] when the script is missing or fails, or the image is not there afterwards.
pub async fn build_nfslab_io(
    tools: &dyn Tools,
    source: &Path,
    image: &str,
    timeout: Duration,
) -> Result<(), ImageError> {
    build(tools, source, IO_RECIPE, image, timeout).await
}

/// Builds an image with its recipe's script and makes sure Docker then has `image` (tagging
/// the script's `<name>:<version>` when the configuration names another reference).
///
/// # Errors
/// [`ImageError`] when the script is missing or fails, or the image is not there afterwards.
pub async fn build(
    tools: &dyn Tools,
    source: &Path,
    recipe: Recipe,
    image: &str,
    timeout: Duration,
) -> Result<(), ImageError> {
    let script = source.join(recipe.script);
    if !script.is_file() {
        return Err(ImageError::NoBuildScript {
            image: image.to_owned(),
            script,
        });
    }
    let script_arg = script.to_string_lossy();
    run_checked(
        tools,
        &format!("build image `{image}`"),
        &CommandSpec::new("bash", &[&script_arg], timeout).echoed(),
        Some("run the script by hand to see the whole output"),
    )
    .await?;
    let built = recipe.reference();
    if image != built && present(tools, &built).await? {
        run_checked(
            tools,
            &format!("tag `{built}` as `{image}`"),
            &CommandSpec::new("docker", &["tag", &built, image], QUERY_TIMEOUT),
            None,
        )
        .await?;
    }
    if present(tools, image).await? {
        Ok(())
    } else {
        Err(ImageError::NotTagged {
            image: image.to_owned(),
            script,
        })
    }
}

/// Pulls third-party images into the local Docker (images built locally are skipped).
///
/// # Errors
/// [`ImageError`] at the first image that cannot be pulled.
pub async fn pull(
    tools: &dyn Tools,
    images: &[Image],
    timeout: Duration,
) -> Result<(), ImageError> {
    for image in images.iter().filter(|i| !i.built_locally()) {
        run_checked(
            tools,
            &format!("pull `{}` ({})", image.reference, image.role),
            &CommandSpec::new("docker", &["pull", &image.reference], timeout).echoed(),
            Some(
                "without registry access, pull on a machine that has it and move the images \
                 with `nfslab images save FILE` / `nfslab images load FILE`",
            ),
        )
        .await?;
    }
    Ok(())
}

/// Saves images from the local Docker into one tarball.
///
/// # Errors
/// [`ImageError`] when docker fails (an image missing locally, the file not writable).
pub async fn save(
    tools: &dyn Tools,
    images: &[Image],
    file: &Path,
    timeout: Duration,
) -> Result<(), ImageError> {
    let file_arg = file.to_string_lossy().into_owned();
    let mut args = vec!["save", "--output", &file_arg];
    args.extend(images.iter().map(|i| i.reference.as_str()));
    run_checked(
        tools,
        &format!("save {} image(s) to `{}`", images.len(), file.display()),
        &CommandSpec::new("docker", &args, timeout),
        Some("`nfslab images pull` fetches missing third-party images; `nfslab images list` shows which are present"),
    )
    .await?;
    Ok(())
}

/// Loads a tarball made by [`save`] into the local Docker; returns the images it held.
///
/// # Errors
/// [`ImageError`] when docker fails.
pub async fn load(
    tools: &dyn Tools,
    file: &Path,
    timeout: Duration,
) -> Result<Vec<String>, ImageError> {
    let file_arg = file.to_string_lossy();
    let output = run_checked(
        tools,
        &format!("load images from `{}`", file.display()),
        &CommandSpec::new("docker", &["load", "--input", &file_arg], timeout),
        None,
    )
    .await?;
    Ok(output
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(|s| s.trim().to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::tools::CommandOutput;
    use super::super::tools::scripted::ScriptedTools;
    use super::*;

    #[test]
    fn the_catalog_follows_the_configuration() {
        let images = Images::default();
        let all = catalog(&images, None);
        assert_eq!(
            all[0].reference,
            format!("nfslab-io:{}", env!("CARGO_PKG_VERSION"))
        );
        assert!(all[0].built_locally());
        let server = all
            .iter()
            .find(|i| i.role == Role::GaneshaNfsServer)
            .expect("server");
        assert_eq!(server.recipe(), Some(SERVER_RECIPE));
        assert_eq!(
            server.reference,
            format!("nfslab-ganesha:{}", env!("CARGO_PKG_VERSION"))
        );
        let mut third_party = images.clone();
        third_party.ganesha_nfs_server = "registry.example/ganesha:5".to_owned();
        assert!(
            !catalog(&third_party, None)
                .iter()
                .any(|i| i.role == Role::GaneshaNfsServer && i.built_locally()),
            "another ganesha image is pulled, not built"
        );
        assert_eq!(
            all.iter()
                .filter(|i| matches!(i.role, Role::Recycler(_)))
                .count(),
            3
        );
        assert!(!all.iter().any(|i| i.role == Role::Nginx));
        let one = catalog(&images, Some("1.33"));
        let recyclers: Vec<&Role> = one
            .iter()
            .map(|i| &i.role)
            .filter(|r| matches!(r, Role::Recycler(_)))
            .collect();
        assert_eq!(recyclers, [&Role::Recycler("1.33".to_owned())]);
        let mut with_nginx = images;
        with_nginx.nginx = "nginx:1.27".to_owned();
        assert!(
            catalog(&with_nginx, None)
                .iter()
                .any(|i| i.role == Role::Nginx)
        );
    }

    #[tokio::test]
    async fn pull_skips_the_locally_built_image_and_save_takes_all() {
        let tools = ScriptedTools::with(&["docker"]);
        tools.reply(&["docker", "pull"], CommandOutput::ok(""));
        tools.reply(&["docker", "save"], CommandOutput::ok(""));
        let mut images = Images::default();
        images.recycler.clear();
        let list = catalog(&images, None);
        pull(&tools, &list, Duration::from_secs(60))
            .await
            .expect("pull");
        save(
            &tools,
            &list,
            Path::new("/tmp/images.tar"),
            Duration::from_secs(60),
        )
        .await
        .expect("save");
        let lines = tools.lines();
        // Both of nfslab's own images (the engine, the ganesha server) are built, not pulled.
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[..2]
                .iter()
                .all(|l| l.starts_with("docker pull registry.k8s.io/"))
        );
        assert_eq!(
            lines[2],
            format!(
                "docker save --output /tmp/images.tar nfslab-io:{v} {} nfslab-ganesha:{v} {}",
                images.kernel_nfs_server,
                images.provisioner,
                v = env!("CARGO_PKG_VERSION"),
            )
        );
    }

    #[tokio::test]
    async fn load_reports_the_images_in_the_tarball() {
        let tools = ScriptedTools::with(&["docker"]);
        tools.reply(
            &["docker", "load"],
            CommandOutput::ok("Loaded image: nfslab-io:0.1.0\nLoaded image: registry.k8s.io/e2e-test-images/volume/nfs:1.4\n"),
        );
        let loaded = load(&tools, Path::new("/tmp/i.tar"), Duration::from_secs(60))
            .await
            .expect("load");
        assert_eq!(
            loaded,
            [
                "nfslab-io:0.1.0",
                "registry.k8s.io/e2e-test-images/volume/nfs:1.4"
            ]
        );
    }

    #[tokio::test]
    async fn freshness_compares_the_source_label_with_the_tree() {
        let dir = tempfile::tempdir().expect("tmp");
        let tools = ScriptedTools::with(&["bash", "docker"]);
        let image = "nfslab-io:0.1.0";
        let check = || freshness(&tools, dir.path(), image);
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::failed(1, "Error: No such image"),
        );
        assert_eq!(check().await.expect("missing"), Freshness::Missing);
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::ok("a08c5d73c0358f3c\n"),
        );
        assert_eq!(
            check().await.expect("no tree"),
            Freshness::Unchecked,
            "without the source tree the image cannot be judged"
        );
        std::fs::create_dir_all(dir.path().join("workloads/image")).expect("dir");
        std::fs::write(dir.path().join(BUILD_SCRIPT), "#!/bin/bash\n").expect("script");
        tools.reply(&["bash"], CommandOutput::failed(1, "sha256sum: not found"));
        assert_eq!(check().await.expect("no hash"), Freshness::Unchecked);
        tools.reply(&["bash"], CommandOutput::ok("a08c5d73c0358f3c\n"));
        assert_eq!(check().await.expect("current"), Freshness::Current);
        tools.reply(&["bash"], CommandOutput::ok("0123456789abcdef\n"));
        let stale = check().await.expect("stale");
        assert_eq!(
            stale,
            Freshness::Stale {
                image: "a08c5d73c0358f3c".to_owned(),
                tree: "0123456789abcdef".to_owned()
            }
        );
        assert!(stale.needs_build());
        let said = stale.describe(image).expect("said");
        assert!(said.contains("built from other sources"), "{said}");
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::ok("<no value>\n"),
        );
        let unlabelled = check().await.expect("unlabelled");
        assert_eq!(unlabelled, Freshness::Unlabelled);
        assert!(
            !unlabelled.needs_build(),
            "an image built elsewhere is used as it is"
        );
        let calls = tools.lines();
        assert!(
            calls.iter().any(|l| l
                == &format!(
                    "docker image inspect --format {{{{ index .Config.Labels \"{SOURCE_LABEL}\" }}}} {image}"
                )),
            "{calls:?}"
        );
        assert!(
            calls
                .iter()
                .any(|l| l.starts_with("bash ") && l.ends_with("build.sh --source-hash")),
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn building_needs_the_script_and_checks_the_tag() {
        let tools = ScriptedTools::with(&["bash", "docker"]);
        let dir = tempfile::tempdir().expect("tmp");
        let err = build_nfslab_io(
            &tools,
            dir.path(),
            "nfslab-io:0.1.0",
            Duration::from_secs(60),
        )
        .await
        .expect_err("no script");
        assert!(matches!(err, ImageError::NoBuildScript { .. }), "{err}");
        std::fs::create_dir_all(dir.path().join("workloads/image")).expect("dir");
        std::fs::write(dir.path().join(BUILD_SCRIPT), "#!/bin/bash\n").expect("script");
        tools.reply(&["bash"], CommandOutput::ok(""));
        tools.reply(
            &["docker", "image", "inspect"],
            CommandOutput::failed(1, "No such image"),
        );
        let image = format!("nfslab-io:{}", env!("CARGO_PKG_VERSION"));
        let err = build_nfslab_io(&tools, dir.path(), &image, Duration::from_secs(60))
            .await
            .expect_err("not tagged");
        assert!(matches!(err, ImageError::NotTagged { .. }), "{err}");
    }
}
