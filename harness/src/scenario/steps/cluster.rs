//! Steps about the cluster around the scenario's objects: `expect-event` (an event about an
//! object, or any in a namespace) and `deploy-provisioner` (nfs-subdir-external-provisioner
//! in the scenario's namespace).
//!
//! Each kind, side by side: its body as written in the file (`...Def`, named in
//! [`super::StepDef`]), its validation into a plan step
//! (`validate_*`, called from `validate_step`'s one match over `StepDef`), and what it does
//! when it runs (called from [`super::run`]'s one match over [`crate::scenario::plan::Action`]).
//! Both matches are exhaustive, so a new kind cannot be half added.

use std::sync::Arc;
use std::time::Duration;

use super::{StepCtx, StepError, cluster_error, event_observation, poll};
use crate::k8s::ObjectRef;
use crate::k8s::conditions as c;
use crate::k8s::manifest::Pos;
use crate::k8s::tracker::CleanupStage;
use crate::k8s::wait;
use crate::scenario::format::{S, step_body};
use crate::scenario::plan::{
    Action, EventSource, ExpectEventStep, KindInfo, ProvisionerStep, TimeoutKind,
};
use crate::scenario::provisioner;
use crate::scenario::validate::{Validator, pos_of};

// ---- definition ------------------------------------------------------------------------

step_body!(ExpectEventDef {
    object: Option<S>,
    namespace: Option<S>,
    reason: S,
    message: Option<S>,
    #[serde(default, rename = "type")]
    event_type: Option<S>,
});

step_body!(DeployProvisionerDef {
    provisioner: S,
    name: Option<S>,
    path: Option<S>,
});

// ---- validation ------------------------------------------------------------------------

pub(in crate::scenario) fn validate_expect_event(
    v: &mut Validator<'_>,
    def: &ExpectEventDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let source = match (&def.object, &def.namespace) {
        (Some(o), None) => EventSource::Object(v.objref(o, &format!("{field}.object"), true)?),
        (None, Some(n)) => EventSource::Namespace(v.tpl(n, &format!("{field}.namespace"))),
        (Some(_), Some(_)) => {
            v.err(
                pos,
                field,
                "both `object` and `namespace` are given",
                "keep one",
            );
            return None;
        }
        (None, None) => {
            v.err(
                pos,
                field,
                "no event source given",
                "add `object: kind/name`, or `namespace: default` for the recycler's pods",
            );
            return None;
        }
    };
    let event_type = def.event_type.as_ref().map(|t| t.value.clone());
    if let Some(t) = &event_type
        && t != "Normal"
        && t != "Warning"
    {
        let p = def.event_type.as_ref().map_or(pos, pos_of);
        v.err(
            p,
            &format!("{field}.type"),
            format!("unknown event type `{t}`"),
            "use Normal or Warning",
        );
    }
    Some((
        Action::ExpectEvent(ExpectEventStep {
            source,
            reason: v.tpl(&def.reason, &format!("{field}.reason")),
            message: v.opt_tpl(def.message.as_ref(), &format!("{field}.message")),
            event_type,
        }),
        TimeoutKind::PodReady,
    ))
}

pub(in crate::scenario) fn validate_deploy_provisioner(
    v: &mut Validator<'_>,
    def: &DeployProvisionerDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let default_name = S::new(
        "nfs-client-provisioner".to_owned(),
        def.provisioner.referenced,
        def.provisioner.defined,
    );
    let default_path = S::new(
        "{{ nfs.dir }}".to_owned(),
        def.provisioner.referenced,
        def.provisioner.defined,
    );
    let name_def = def.name.as_ref().unwrap_or(&default_name);
    let path_def = def.path.as_ref().unwrap_or(&default_path);
    let (name, name_r) = v.tpl_rendered(name_def, &format!("{field}.name"));
    let (provisioner, prov_r) = v.tpl_rendered(&def.provisioner, &format!("{field}.provisioner"));
    let (path, path_r) = v.tpl_rendered(path_def, &format!("{field}.path"));
    if !prov_r.starts_with(&v.vars.prefix) {
        v.err(
            pos_of(&def.provisioner),
            &format!("{field}.provisioner"),
            format!("provisioner name `{prov_r}` lacks the run prefix"),
            "write `provisioner: \"{{ prefix }}/nfs-subdir-external-provisioner\"` so \
             each scenario's claims reach only its own provisioner",
        );
    }
    let params = provisioner::Params {
        name: name_r,
        namespace: v.vars.namespace.clone(),
        prefix: v.vars.prefix.clone(),
        provisioner: prov_r,
        server: v.vars.nfs_server.clone(),
        path: path_r,
        image: v.vars.images.provisioner.clone(),
    };
    match provisioner::manifests(&params) {
        Ok(values) => {
            for value in values {
                if let Some(r) = crate::k8s::ObjectRef::from_manifest(&value)
                    && let Some(info) = KindInfo::by_manifest(&r.api_version, &r.kind)
                {
                    v.known.insert((info.kind, r.name));
                }
            }
        }
        Err(e) => v.err(
            pos,
            field,
            e.to_string(),
            "the provisioner template is part of nfslab; report this",
        ),
    }
    Some((
        Action::DeployProvisioner(ProvisionerStep {
            name,
            provisioner,
            path,
        }),
        TimeoutKind::PodReady,
    ))
}

// ---- execution --------------------------------------------------------------------------

pub(super) async fn expect_event(
    ctx: &mut StepCtx,
    step: &ExpectEventStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ExpectEventStep {
        source,
        reason,
        message,
        event_type,
    } = step;
    let reason = ctx.render(reason)?;
    let message = ctx.render_opt(message.as_ref())?;
    let (object, namespace) = match source {
        EventSource::Object(o) => (Some(ctx.object(o)?), None),
        EventSource::Namespace(ns) => (None, Some(ctx.render(ns)?)),
    };
    let place = object.as_ref().map_or_else(
        || format!("namespace `{}`", namespace.as_deref().unwrap_or_default()),
        ToString::to_string,
    );
    let what = format!(
        "an event `{reason}`{} on {place}",
        message
            .as_ref()
            .map(|m| format!(" with {m:?}"))
            .unwrap_or_default()
    );
    let cluster = Arc::clone(&ctx.env.cluster);
    let event_type = event_type.clone();
    let found = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, object, namespace) =
            (Arc::clone(&cluster), object.clone(), namespace.clone());
        let (reason, message, event_type) = (reason.clone(), message.clone(), event_type.clone());
        async move {
            let events = match (&object, &namespace) {
                (Some(o), _) => cluster.events_for(o).await,
                (None, Some(ns)) => cluster.events_in(ns).await,
                (None, None) => Ok(Vec::new()),
            }
            .map_err(|e| cluster_error("read events", &e))?;
            let hit = events.iter().rev().find(|e| {
                e.reason == reason
                    && message
                        .as_ref()
                        .is_none_or(|m| e.message.contains(m.as_str()))
                    && event_type.as_ref().is_none_or(|t| &e.type_ == t)
            });
            Ok(match hit {
                Some(e) => Ok(e.clone()),
                None => Err(if events.is_empty() {
                    "no events".to_owned()
                } else {
                    events
                        .iter()
                        .rev()
                        .take(3)
                        .map(|e| format!("{} {:?}", e.reason, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
            })
        }
    })
    .await?;
    ctx.observations.push(event_observation(&found));
    Ok(())
}

pub(super) async fn deploy_provisioner(
    ctx: &mut StepCtx,
    step: &ProvisionerStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let params = provisioner::Params {
        name: ctx.render(&step.name)?,
        namespace: ctx.vars.namespace.clone(),
        prefix: ctx.vars.prefix.clone(),
        provisioner: ctx.render(&step.provisioner)?,
        server: ctx.vars.nfs_server.clone(),
        path: ctx.render(&step.path)?,
        image: ctx.vars.images.provisioner.clone(),
    };
    let manifests =
        provisioner::manifests(&params).map_err(|e| StepError::broken(e.to_string()))?;
    for m in manifests {
        ctx.apply_value(m, Some(CleanupStage::Infrastructure))
            .await?;
    }
    let deployment = ObjectRef::namespaced("apps/v1", "Deployment", ctx.ns(), &params.name);
    let state = wait::until_within(
        ctx.env.cluster.as_ref(),
        &deployment,
        &c::deployment_available(1),
        timeout,
    )
    .await?;
    ctx.observe_state(&deployment, state.as_ref());
    Ok(())
}
