//! `nfslab images list|build|pull|save|load`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use nfslab::Outcome;
use nfslab::cluster::ProviderKind;
use nfslab::cluster::images::{self, Freshness, Image};
use nfslab::cluster::{CommandSpec, Tools};
use nfslab::cluster::{load_image, record};
use nfslab::output::{Format, ImageEntry, ImageList, ImageState};

use super::errors::CliError;
use super::{Context, progress};

/// `nfslab images ...`
#[derive(Debug, Subcommand)]
#[command(after_help = "For a cluster without registry access:\n  \
    nfslab images build                    # nfslab-io and nfslab-ganesha from this repository\n  \
    nfslab images pull                     # where a registry is reachable\n  \
    nfslab images save nfslab-images.tar   # carry this file over\n  \
    nfslab images load nfslab-images.tar   # into Docker and the kind cluster's nodes")]
pub(crate) enum ImagesCommand {
    /// List the images nfslab uses and whether the local Docker has them (exit 3 when
    /// Docker does not answer).
    List(ListArgs),
    /// Build nfslab's own images: nfslab-io (workloads/image/build.sh) and the ganesha NFS
    /// server (harness/src/nfs/image/build.sh; debootstrap as root without registry access,
    /// else docker build from debian:bookworm-slim).
    Build,
    /// Pull the third-party images into the local Docker.
    Pull(Selection),
    /// Save every image into one tarball (build and pull first).
    Save(SaveArgs),
    /// Load a tarball into the local Docker (when given) and every image the local Docker has
    /// into the kind cluster's nodes.
    Load(LoadArgs),
}

/// Which images.
#[derive(Debug, Args)]
pub(crate) struct Selection {
    /// Only the recycler image of this Kubernetes version (`1.33`); default: all.
    #[arg(long, value_name = "MAJOR.MINOR", value_parser = super::kubernetes_minor_arg)]
    pub kubernetes: Option<String>,
}

/// Options of `nfslab images list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Which images.
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[command(flatten)]
    pub output: super::OutputArgs,
}

/// Options of `nfslab images save`.
#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// The tarball to write.
    pub file: PathBuf,
    /// Which images.
    #[command(flatten)]
    pub selection: Selection,
}

/// Options of `nfslab images load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// A tarball made by `nfslab images save`.
    pub file: Option<PathBuf>,
    /// The kind cluster to side-load into (default: cluster.name).
    #[arg(long = "name", alias = "cluster", value_name = "NAME", value_parser = super::cluster_name_arg)]
    pub cluster: Option<String>,
}

/// Runs one `images` subcommand.
pub(super) async fn run(command: ImagesCommand, ctx: &Context) -> Result<Outcome, CliError> {
    let config = &ctx.config;
    let catalog = |s: &Selection| images::catalog(&config.images, s.kubernetes.as_deref());
    match command {
        ImagesCommand::List(args) => list(&args, ctx).await,
        ImagesCommand::Build => {
            let own: Vec<Image> = images::catalog(&config.images, None)
                .into_iter()
                .filter(Image::built_locally)
                .collect();
            for image in own {
                let Some(recipe) = image.recipe() else {
                    continue;
                };
                progress(&format!("building `{}`", image.reference));
                images::build(
                    &ctx.tools,
                    &images::source_dir(),
                    recipe,
                    &image.reference,
                    config.timeouts.image_build,
                )
                .await?;
                println!("built `{}`", image.reference);
            }
            Ok(Outcome::Success)
        }
        ImagesCommand::Pull(s) => {
            images::pull(&ctx.tools, &catalog(&s), config.timeouts.image_transfer).await?;
            Ok(Outcome::Success)
        }
        ImagesCommand::Save(args) => {
            let list = catalog(&args.selection);
            let missing = missing(ctx, &list).await;
            if !missing.is_empty() {
                return Err(CliError::Environment(format!(
                    "the local Docker lacks {} (hint: `nfslab images build` and `nfslab images \
                     pull` first)",
                    missing.join(", ")
                )));
            }
            // Saving many images takes about as long as moving each of them once.
            let timeout = config.timeouts.image_transfer * u32::try_from(list.len()).unwrap_or(1);
            images::save(&ctx.tools, &list, &args.file, timeout).await?;
            println!("saved {} image(s) to {}", list.len(), args.file.display());
            Ok(Outcome::Success)
        }
        ImagesCommand::Load(args) => load(args, ctx).await,
    }
}

/// Whether the Docker daemon answers; `Err` says why not.
async fn docker_answers(tools: &dyn Tools) -> Result<(), String> {
    let command = CommandSpec::new(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        std::time::Duration::from_secs(10),
    );
    match tools.run(&command).await {
        Ok(out) if out.success() && !out.stdout.trim().is_empty() => Ok(()),
        Ok(out) => Err(format!(
            "the Docker daemon does not answer ({})",
            out.last_line()
        )),
        Err(e) => Err(format!("docker: {}", nfslab::error_chain(&e))),
    }
}

/// `nfslab images list`: what the local Docker has of each image; exit 3 when Docker did
/// not answer (the list is still printed, every image `unknown`).
async fn list(args: &ListArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let config = &ctx.config;
    let source = images::source_dir();
    let mut entries = Vec::new();
    // A daemon that does not answer makes every `docker image inspect` fail as if the image
    // were missing: ask the daemon first.
    let mut docker_error: Option<String> = docker_answers(&ctx.tools).await.err();
    for image in images::catalog(&config.images, args.selection.kubernetes.as_deref()) {
        let state = match image.recipe() {
            _ if docker_error.is_some() => ImageState::Unknown,
            Some(recipe) => {
                match images::freshness_of(&ctx.tools, &source, recipe, &image.reference).await {
                    Ok(Freshness::Missing) => ImageState::Missing,
                    Ok(Freshness::Stale { .. }) => ImageState::Stale,
                    Ok(Freshness::Unlabelled) => ImageState::Unlabelled,
                    Ok(Freshness::Current | Freshness::Unchecked) => ImageState::Present,
                    Err(e) => {
                        docker_error.get_or_insert_with(|| nfslab::error_chain(&e));
                        ImageState::Unknown
                    }
                }
            }
            None => match images::present(&ctx.tools, &image.reference).await {
                Ok(true) => ImageState::Present,
                Ok(false) => ImageState::Missing,
                Err(e) => {
                    docker_error.get_or_insert_with(|| nfslab::error_chain(&e));
                    ImageState::Unknown
                }
            },
        };
        entries.push(ImageEntry {
            reference: image.reference.clone(),
            role: image.role.to_string(),
            built_by_nfslab: image.built_locally(),
            state,
        });
    }
    let document = ImageList::new(entries, docker_error);
    match args.output.format() {
        Format::Text => {
            for e in &document.images {
                let hint = match e.state {
                    ImageState::Missing if e.built_by_nfslab => " (nfslab images build)",
                    ImageState::Missing => " (nfslab images pull)",
                    _ => "",
                };
                println!(
                    "{:<75} {:<34} {}{hint}",
                    e.reference,
                    e.role,
                    e.state.text()
                );
            }
        }
        format => super::print_document(&document, format)?,
    }
    match &document.docker_error {
        Some(why) => Err(CliError::Environment(format!(
            "cannot tell which images the local Docker has: {why} (hint: start Docker and \
             check `docker info` works for your user)"
        ))),
        None => Ok(Outcome::Success),
    }
}

async fn missing(ctx: &Context, list: &[Image]) -> Vec<String> {
    let mut missing = Vec::new();
    for image in list {
        if !images::present(&ctx.tools, &image.reference)
            .await
            .unwrap_or(false)
        {
            missing.push(format!("`{}`", image.reference));
        }
    }
    missing
}

async fn load(args: LoadArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let config = &ctx.config;
    if let Some(file) = &args.file {
        let loaded = images::load(&ctx.tools, file, config.timeouts.image_transfer * 4).await?;
        progress(&format!("loaded into Docker: {}", loaded.join(", ")));
    }
    let name = args.cluster.unwrap_or_else(|| config.cluster.name.clone());
    let record = record(&ctx.store, &name)?;
    if record.provider != ProviderKind::Kind {
        println!(
            "cluster `{name}` is not a kind cluster: nfslab cannot side-load into its nodes. \
             Push the images to a registry the nodes can reach, or import the tarball on each \
             node (containerd: `ctr -n k8s.io images import FILE`)."
        );
        return Ok(Outcome::Success);
    }
    let mut loaded = 0;
    for image in images::catalog(&config.images, None) {
        if !images::present(&ctx.tools, &image.reference).await? {
            continue;
        }
        progress(&format!("loading `{}` into `{name}`", image.reference));
        load_image(
            &ctx.tools,
            &name,
            &image.reference,
            config.timeouts.image_transfer,
        )
        .await?;
        loaded += 1;
    }
    println!("side-loaded {loaded} image(s) into kind cluster `{name}`");
    Ok(Outcome::Success)
}
