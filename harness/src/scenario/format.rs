//! The scenario file as written: serde definitions with source positions.
//!
//! These types mirror the YAML one to one (see `scenarios/README.md`) and never leave the
//! `scenario` module: the validator turns them into the engine's [`super::plan::Scenario`].
//! Every field a validation message may point at is a `Spanned<T>`; unknown fields are
//! rejected by serde with their position.
//!
//! This file holds the pieces every step kind shares: the spanned string [`S`], the
//! [`step_body!`] macro that declares a kind's body (`ApplyDef`, `ExecDef`...) in its
//! family's file under `steps/`, beside its validation and execution, the fields every body
//! has ([`Common`]), and the condition language `wait` and `stays` share ([`PredicateDef`]).
//! The enum of every kind is `steps::StepDef`; the file's frame (id, notes, steps) is
//! `load::FileDef`. Both sit above the families, so this file depends on none of them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::k8s::manifest::SourceNode;

/// A string with its position.
pub(super) type S = Spanned<String>;

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
