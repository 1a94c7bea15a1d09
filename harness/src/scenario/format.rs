//! The scenario file as written: serde definitions with source positions.
//!
//! These types mirror the YAML one to one (see `scenarios/README.md`) and never leave the
//! `scenario` module: [`super::validate`] turns them into the engine's
//! [`super::plan::Scenario`]. Every field a validation message may point at is a
//! `Spanned<T>`; unknown fields are rejected by serde with their position.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::k8s::manifest::SourceNode;

/// A string with its position.
pub(super) type S = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileDef {
    pub id: S,
    #[serde(default)]
    pub code: Option<S>,
    pub title: S,
    #[serde(default)]
    pub sources: Vec<S>,
    #[serde(default)]
    pub description: Option<S>,
    #[serde(default)]
    pub notes: Vec<NoteDef>,
    #[serde(default)]
    pub timeout: Option<S>,
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

/// Declares a step body: every body also takes `title` and `timeout`.
macro_rules! step_body {
    ($name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub(super) struct $name {
            #[serde(default)]
            pub title: Option<S>,
            #[serde(default)]
            pub timeout: Option<S>,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl Common for $name {
            fn title(&self) -> Option<&S> {
                self.title.as_ref()
            }
            fn timeout(&self) -> Option<&S> {
                self.timeout.as_ref()
            }
        }
    };
}

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
    pub fn kind(&self) -> &'static str {
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
    pub fn common(&self) -> &dyn Common {
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

/// Every step kind, for hints.
pub(super) const STEP_KINDS: &[&str] = &[
    "apply",
    "delete",
    "wait",
    "stays",
    "exec",
    "http-get",
    "server-mkdir",
    "server-write",
    "server-remove",
    "server-rename",
    "server-expect",
    "server-wait",
    "expect-event",
    "scale",
    "delete-pods",
    "capture",
    "patch",
    "mount-options",
    "logs",
    "deploy-provisioner",
    "restart-nfs-server",
];

step_body!(ApplyDef {
    #[serde(default)]
    manifests: Option<Spanned<Vec<SourceNode>>>,
    #[serde(default)]
    file: Option<S>,
});

step_body!(DeleteDef {
    #[serde(default)]
    object: Option<S>,
    #[serde(default)]
    objects: Option<Spanned<Vec<S>>>,
    #[serde(default)]
    wait: Option<Spanned<bool>>,
    #[serde(default)]
    propagation: Option<S>,
});

step_body!(WaitDef {
    #[serde(default)]
    object: Option<S>,
    #[serde(default)]
    objects: Option<Spanned<Vec<S>>>,
    #[serde(default)]
    selector: Option<S>,
    #[serde(default)]
    count: Option<Spanned<u32>>,
    #[serde(rename = "for")]
    condition: Spanned<PredicateDef>,
    #[serde(default)]
    meanwhile: Option<Spanned<MeanwhileDef>>,
});

/// A condition that must keep holding on another object while a wait runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct MeanwhileDef {
    pub object: S,
    pub stays: Spanned<PredicateDef>,
}

step_body!(StaysDef {
    #[serde(default)]
    object: Option<S>,
    #[serde(default)]
    objects: Option<Spanned<Vec<S>>>,
    is: Spanned<PredicateDef>,
    #[serde(default, rename = "for")]
    duration: Option<S>,
});

/// Which pod a command runs in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct ExpectDef {
    #[serde(default)]
    pub exit_code: Option<Spanned<i32>>,
    #[serde(default)]
    pub fails: Option<Spanned<bool>>,
    #[serde(default)]
    pub stdout: Option<S>,
    #[serde(default)]
    pub stdout_contains: Option<S>,
    #[serde(default)]
    pub stderr_contains: Option<S>,
}

step_body!(ExecDef {
    #[serde(default)]
    pod: Option<S>,
    #[serde(default)]
    selector: Option<S>,
    #[serde(default)]
    all: Option<Spanned<bool>>,
    #[serde(default)]
    container: Option<S>,
    #[serde(default)]
    command: Option<Spanned<Vec<S>>>,
    #[serde(default)]
    io: Option<Spanned<Vec<S>>>,
    #[serde(default)]
    expect: Option<Spanned<ExpectDef>>,
});

/// What an HTTP body must be.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct BodyExpectDef {
    #[serde(default)]
    pub body: Option<S>,
    #[serde(default)]
    pub body_contains: Option<S>,
}

step_body!(HttpGetDef {
    #[serde(default)]
    pod: Option<S>,
    #[serde(default)]
    selector: Option<S>,
    #[serde(default)]
    container: Option<S>,
    url: S,
    expect: Spanned<BodyExpectDef>,
});

step_body!(ServerMkdirDef {
    path: S,
    #[serde(default)]
    mode: Option<S>,
    #[serde(default)]
    owner: Option<S>,
});

step_body!(ServerWriteDef {
    path: S,
    content: S,
    #[serde(default)]
    append: Option<Spanned<bool>>,
});

step_body!(ServerRemoveDef {
    path: S,
    #[serde(default)]
    recursive: Option<Spanned<bool>>,
});

step_body!(ServerRenameDef { from: S, to: S });

step_body!(ServerExpectDef {
    path: S,
    #[serde(default)]
    exists: Option<Spanned<bool>>,
    #[serde(default)]
    content: Option<S>,
    #[serde(default)]
    empty: Option<Spanned<bool>>,
    #[serde(default)]
    entries: Option<Spanned<Vec<S>>>,
});

step_body!(ServerWaitDef { path: S });

step_body!(ExpectEventDef {
    #[serde(default)]
    object: Option<S>,
    #[serde(default)]
    namespace: Option<S>,
    reason: S,
    #[serde(default)]
    message: Option<S>,
    #[serde(default, rename = "type")]
    event_type: Option<S>,
});

step_body!(ScaleDef {
    object: S,
    replicas: Spanned<i32>,
});

step_body!(DeletePodsDef {
    selector: S,
    #[serde(default)]
    replaced: Option<Spanned<bool>>,
});

step_body!(CaptureDef {
    #[serde(default)]
    object: Option<S>,
    #[serde(default)]
    selector: Option<S>,
    field: S,
    #[serde(rename = "as")]
    name: S,
});

step_body!(PatchDef {
    object: S,
    merge: SourceNode,
});

/// What mount options must (not) be in effect.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct MountExpectDef {
    #[serde(default)]
    pub nfs: Option<Spanned<bool>>,
    #[serde(default)]
    pub contains: Option<Spanned<Vec<S>>>,
    #[serde(default)]
    pub absent: Option<Spanned<Vec<S>>>,
}

step_body!(MountOptionsDef {
    #[serde(default)]
    pod: Option<S>,
    #[serde(default)]
    selector: Option<S>,
    #[serde(default)]
    container: Option<S>,
    path: S,
    #[serde(default)]
    requested: Option<S>,
    #[serde(default)]
    expect: Option<Spanned<MountExpectDef>>,
});

step_body!(LogsDef {
    #[serde(default)]
    pod: Option<S>,
    #[serde(default)]
    selector: Option<S>,
    #[serde(default)]
    container: Option<S>,
    #[serde(default)]
    tail: Option<Spanned<i64>>,
    #[serde(default)]
    contains: Option<S>,
});

step_body!(DeployProvisionerDef {
    provisioner: S,
    #[serde(default)]
    name: Option<S>,
    #[serde(default)]
    path: Option<S>,
});

step_body!(RestartNfsServerDef {});

/// A condition on an object's state; several keys must all hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct PredicateDef {
    #[serde(default)]
    pub phase: Option<S>,
    #[serde(default)]
    pub bound_to: Option<S>,
    #[serde(default)]
    pub claimed_by: Option<S>,
    #[serde(default)]
    pub unclaimed: Option<Spanned<bool>>,
    #[serde(default)]
    pub ready: Option<Spanned<bool>>,
    #[serde(default)]
    pub available: Option<Spanned<i32>>,
    #[serde(default)]
    pub ready_replicas: Option<Spanned<i32>>,
    #[serde(default)]
    pub complete: Option<Spanned<bool>>,
    #[serde(default)]
    pub failed: Option<Spanned<bool>>,
    #[serde(default)]
    pub exists: Option<Spanned<bool>>,
    #[serde(default)]
    pub terminating: Option<Spanned<bool>>,
    #[serde(default)]
    pub finalizer: Option<S>,
    #[serde(default)]
    pub labels: Option<Spanned<BTreeMap<String, S>>>,
    #[serde(default)]
    pub annotations: Option<Spanned<BTreeMap<String, S>>>,
    #[serde(default)]
    pub capacity: Option<S>,
    #[serde(default)]
    pub field: Option<Spanned<FieldDef>>,
    #[serde(default)]
    pub uid_differs: Option<S>,
    #[serde(default)]
    pub restarts: Option<Spanned<RestartsDef>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<PredicateDef>>>,
    #[serde(default)]
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
