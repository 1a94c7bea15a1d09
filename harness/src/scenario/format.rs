//! The scenario file as written: serde definitions with source positions.
//!
//! These types mirror the YAML one to one (see `scenarios/README.md`) and never leave the
//! `scenario` module: [`super::validate`] turns them into the engine's
//! [`super::plan::Scenario`]. Every field a validation message may point at is a
//! `Spanned<T>`; unknown fields are rejected by serde with their position.
//!
//! This file holds the file's frame (id, notes, the [`StepDef`] enum of every step kind)
//! and the condition language `wait` and `stays` share ([`PredicateDef`]); each step
//! kind's body (`ApplyDef`, `ExecDef`...) is declared with [`step_body!`] in its family's
//! file under `steps/`, beside its validation and execution.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::steps::cluster::{DeployProvisionerDef, ExpectEventDef};
use super::steps::objects::{ApplyDef, CaptureDef, DeleteDef, DeletePodsDef, PatchDef, ScaleDef};
use super::steps::pods::{ExecDef, HttpGetDef, LogsDef, MountOptionsDef};
use super::steps::server::{
    RestartNfsServerDef, ServerExpectDef, ServerMkdirDef, ServerRemoveDef, ServerRenameDef,
    ServerWaitDef, ServerWriteDef,
};
use super::steps::waits::{StaysDef, WaitDef};
use crate::k8s::manifest::SourceNode;

/// A string with its position.
pub(super) type S = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileDef {
    pub id: S,
    pub code: Option<S>,
    pub title: S,
    #[serde(default)]
    pub sources: Vec<S>,
    pub description: Option<S>,
    #[serde(default)]
    pub notes: Vec<NoteDef>,
    pub timeout: Option<S>,
    pub exclusive: Option<Spanned<bool>>,
    pub steps: Spanned<Vec<Spanned<StepDef>>>,
}

/// A note for the report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct NoteDef {
    pub kind: Spanned<NoteKindDef>,
    pub text: S,
}

/// What a note is about.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum NoteKindDef {
    Hazard,
    Disagreement,
    Fix,
    Info,
}

/// Declares a step body: every body also takes `title` and `timeout`. Used by the step
/// families' files (`steps/*.rs`), where each kind's body is defined beside its validation
/// and execution.
macro_rules! step_body {
    ($name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, ::serde::Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub(in crate::scenario) struct $name {
            pub title: Option<$crate::scenario::format::S>,
            pub timeout: Option<$crate::scenario::format::S>,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $crate::scenario::format::Common for $name {
            fn title(&self) -> Option<&$crate::scenario::format::S> {
                self.title.as_ref()
            }
            fn timeout(&self) -> Option<&$crate::scenario::format::S> {
                self.timeout.as_ref()
            }
        }
    };
}
pub(super) use step_body;

/// Fields every step body has.
pub(super) trait Common {
    fn title(&self) -> Option<&S>;
    fn timeout(&self) -> Option<&S>;
}

/// One step: a map with exactly one key naming its kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum StepDef {
    Apply(Box<ApplyDef>),
    Delete(Box<DeleteDef>),
    Wait(Box<WaitDef>),
    Stays(Box<StaysDef>),
    Exec(Box<ExecDef>),
    HttpGet(Box<HttpGetDef>),
    ServerMkdir(Box<ServerMkdirDef>),
    ServerWrite(Box<ServerWriteDef>),
    ServerRemove(Box<ServerRemoveDef>),
    ServerRename(Box<ServerRenameDef>),
    ServerExpect(Box<ServerExpectDef>),
    ServerWait(Box<ServerWaitDef>),
    ExpectEvent(Box<ExpectEventDef>),
    Scale(Box<ScaleDef>),
    DeletePods(Box<DeletePodsDef>),
    Capture(Box<CaptureDef>),
    Patch(Box<PatchDef>),
    MountOptions(Box<MountOptionsDef>),
    Logs(Box<LogsDef>),
    DeployProvisioner(Box<DeployProvisionerDef>),
    RestartNfsServer(Box<RestartNfsServerDef>),
}

impl StepDef {
    /// The step kind as written.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Apply(_) => "apply",
            Self::Delete(_) => "delete",
            Self::Wait(_) => "wait",
            Self::Stays(_) => "stays",
            Self::Exec(_) => "exec",
            Self::HttpGet(_) => "http-get",
            Self::ServerMkdir(_) => "server-mkdir",
            Self::ServerWrite(_) => "server-write",
            Self::ServerRemove(_) => "server-remove",
            Self::ServerRename(_) => "server-rename",
            Self::ServerExpect(_) => "server-expect",
            Self::ServerWait(_) => "server-wait",
            Self::ExpectEvent(_) => "expect-event",
            Self::Scale(_) => "scale",
            Self::DeletePods(_) => "delete-pods",
            Self::Capture(_) => "capture",
            Self::Patch(_) => "patch",
            Self::MountOptions(_) => "mount-options",
            Self::Logs(_) => "logs",
            Self::DeployProvisioner(_) => "deploy-provisioner",
            Self::RestartNfsServer(_) => "restart-nfs-server",
        }
    }

    /// The fields every step has.
    pub(crate) fn common(&self) -> &dyn Common {
        match self {
            Self::Apply(b) => b.as_ref(),
            Self::Delete(b) => b.as_ref(),
            Self::Wait(b) => b.as_ref(),
            Self::Stays(b) => b.as_ref(),
            Self::Exec(b) => b.as_ref(),
            Self::HttpGet(b) => b.as_ref(),
            Self::ServerMkdir(b) => b.as_ref(),
            Self::ServerWrite(b) => b.as_ref(),
            Self::ServerRemove(b) => b.as_ref(),
            Self::ServerRename(b) => b.as_ref(),
            Self::ServerExpect(b) => b.as_ref(),
            Self::ServerWait(b) => b.as_ref(),
            Self::ExpectEvent(b) => b.as_ref(),
            Self::Scale(b) => b.as_ref(),
            Self::DeletePods(b) => b.as_ref(),
            Self::Capture(b) => b.as_ref(),
            Self::Patch(b) => b.as_ref(),
            Self::MountOptions(b) => b.as_ref(),
            Self::Logs(b) => b.as_ref(),
            Self::DeployProvisioner(b) => b.as_ref(),
            Self::RestartNfsServer(b) => b.as_ref(),
        }
    }
}

/// A condition on an object's state; several keys must all hold.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PredicateDef {
    pub phase: Option<S>,
    pub bound_to: Option<S>,
    pub claimed_by: Option<S>,
    pub unclaimed: Option<Spanned<bool>>,
    pub ready: Option<Spanned<bool>>,
    pub available: Option<Spanned<i32>>,
    pub ready_replicas: Option<Spanned<i32>>,
    pub complete: Option<Spanned<bool>>,
    pub failed: Option<Spanned<bool>>,
    pub exists: Option<Spanned<bool>>,
    pub terminating: Option<Spanned<bool>>,
    pub finalizer: Option<S>,
    pub labels: Option<Spanned<BTreeMap<String, S>>>,
    pub annotations: Option<Spanned<BTreeMap<String, S>>>,
    pub capacity: Option<S>,
    pub field: Option<Spanned<FieldDef>>,
    pub uid_differs: Option<S>,
    pub restarts: Option<Spanned<RestartsDef>>,
    pub not: Option<Box<Spanned<PredicateDef>>>,
    pub any_of: Option<Spanned<Vec<Spanned<PredicateDef>>>>,
}

/// A field of the object's state equals a value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FieldDef {
    pub path: S,
    pub equals: SourceNode,
}

/// A container restarted at least N times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RestartsDef {
    pub container: S,
    pub at_least: Spanned<i32>,
}
