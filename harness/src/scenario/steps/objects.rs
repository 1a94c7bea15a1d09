//! Steps on the scenario's own objects: `apply`, `delete`, `patch`, `scale`, `delete-pods`
//! and `capture`.
//!
//! Each kind, side by side: its body as written in the file (`...Def`, named in
//! [`super::StepDef`]), its validation into a plan step
//! (`validate_*`, called from `validate_step`'s one match over `StepDef`), and what it does
//! when it runs (called from [`super::run`]'s one match over [`crate::scenario::plan::Action`]).
//! Both matches are exhaustive, so a new kind cannot be half added.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{StepCtx, StepError, bounded_cluster, cluster_error, list_pods, name_of, poll, uid_of};
use crate::k8s::conditions as c;
use crate::k8s::manifest::{Node, Pos, SourceNode};
use crate::k8s::wait;
use crate::k8s::{ObjectRef, Propagation};
use crate::model::scenarios::Observation;
use crate::scenario::format::{S, step_body};
use crate::scenario::plan::{
    Action, CaptureSource, CaptureStep, DeletePodsStep, DeleteStep, Manifest, PatchStep, ScaleStep,
    TimeoutKind,
};
use crate::scenario::validate::{Validator, pos_of};

// ---- definition ------------------------------------------------------------------------

step_body!(ApplyDef {
    manifests: Option<Spanned<Vec<SourceNode>>>,
    file: Option<S>,
});

step_body!(DeleteDef {
    object: Option<S>,
    objects: Option<Spanned<Vec<S>>>,
    wait: Option<Spanned<bool>>,
    propagation: Option<S>,
});

step_body!(ScaleDef {
    object: S,
    replicas: Spanned<i32>,
});

step_body!(DeletePodsDef {
    selector: S,
    replaced: Option<Spanned<bool>>,
});

step_body!(CaptureDef {
    object: Option<S>,
    selector: Option<S>,
    field: S,
    #[serde(rename = "as")]
    name: S,
});

step_body!(PatchDef {
    object: S,
    merge: SourceNode,
});

// ---- validation ------------------------------------------------------------------------

pub(in crate::scenario) fn validate_apply(
    v: &mut Validator<'_>,
    def: &ApplyDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::Apply(v.manifests(&def.manifests, &def.file, pos, field)),
        TimeoutKind::Request,
    ))
}

pub(in crate::scenario) fn validate_delete(
    v: &mut Validator<'_>,
    def: &DeleteDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let objects = v.objrefs(def.object.as_ref(), def.objects.as_ref(), pos, field);
    let propagation = match def.propagation.as_ref().map(|p| p.value.as_str()) {
        None | Some("background") => Propagation::Background,
        Some("foreground") => Propagation::Foreground,
        Some("orphan") => Propagation::Orphan,
        Some(other) => {
            let p = def.propagation.as_ref().map_or(pos, pos_of);
            v.err(
                p,
                &format!("{field}.propagation"),
                format!("unknown propagation `{other}`"),
                "use background, foreground or orphan",
            );
            Propagation::Background
        }
    };
    Some((
        Action::Delete(DeleteStep {
            objects,
            wait: def.wait.as_ref().is_none_or(|w| w.value),
            propagation,
        }),
        TimeoutKind::Delete,
    ))
}

pub(in crate::scenario) fn validate_scale(
    v: &mut Validator<'_>,
    def: &ScaleDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let object = v.objref(&def.object, &format!("{field}.object"), true)?;
    if !matches!(
        object.kind.short,
        "deployment" | "statefulset" | "replicaset"
    ) {
        v.err(
            pos_of(&def.object),
            &format!("{field}.object"),
            format!("a {} cannot be scaled", object.kind.kind),
            "scale a deployment, statefulset or replicaset",
        );
    }
    if def.replicas.value < 0 {
        v.err(
            pos_of(&def.replicas),
            &format!("{field}.replicas"),
            "negative replicas",
            "give 0 or more",
        );
    }
    if object.kind.short == "statefulset" {
        let (_, name) = v.tpl_at(&object.name.text, object.name.pos, field, None);
        v.statefulset_replicas(&name, i64::from(def.replicas.value));
    }
    Some((
        Action::Scale(ScaleStep {
            object,
            replicas: def.replicas.value,
        }),
        TimeoutKind::Request,
    ))
}

pub(in crate::scenario) fn validate_delete_pods(
    v: &mut Validator<'_>,
    def: &DeletePodsDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::DeletePods(DeletePodsStep {
            selector: v.selector(&def.selector, &format!("{field}.selector")),
            replaced: def.replaced.as_ref().is_none_or(|r| r.value),
        }),
        TimeoutKind::PodReady,
    ))
}

pub(in crate::scenario) fn validate_capture(
    v: &mut Validator<'_>,
    def: &CaptureDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let source = match (&def.object, &def.selector) {
        (Some(o), None) => CaptureSource::Object(v.objref(o, &format!("{field}.object"), true)?),
        (None, Some(s)) => CaptureSource::Selector(v.selector(s, &format!("{field}.selector"))),
        _ => {
            v.err(
                pos,
                field,
                "give exactly one of `object` and `selector`",
                "capture from `object: kind/name` or the only pod matching `selector:`",
            );
            return None;
        }
    };
    if !def.field.value.starts_with('/') {
        v.err(
            pos_of(&def.field),
            &format!("{field}.field"),
            format!("`{}` is not a JSON pointer", def.field.value),
            "write a JSON pointer such as `/metadata/uid`",
        );
    }
    let name = def.name.value.clone();
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        v.err(
            pos_of(&def.name),
            &format!("{field}.as"),
            format!("`{name}` is not a usable name"),
            "use letters, digits and `_`, such as `claim_uid`",
        );
    }
    v.captures.insert(name.clone());
    Some((
        Action::Capture(CaptureStep {
            source,
            pointer: def.field.value.clone(),
            name,
        }),
        TimeoutKind::Request,
    ))
}

pub(in crate::scenario) fn validate_patch(
    v: &mut Validator<'_>,
    def: &PatchDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let object = v.objref(&def.object, &format!("{field}.object"), true)?;
    let patch = def.merge.locate();
    if !matches!(patch.value, Node::Map(_)) {
        v.err(
            patch.pos,
            &format!("{field}.merge"),
            "a merge patch must be a mapping",
            "write the fields to change, `null` to remove one",
        );
    }
    v.node_templates(&patch, &format!("{field}.merge"), None);
    Some((
        Action::Patch(PatchStep { object, patch }),
        TimeoutKind::Request,
    ))
}

// ---- execution --------------------------------------------------------------------------

pub(super) async fn apply(ctx: &mut StepCtx, manifests: &[Manifest]) -> Result<(), StepError> {
    for m in manifests {
        let value = ctx.render_node(&m.node)?;
        ctx.apply_value(value, None).await?;
    }
    Ok(())
}

pub(super) async fn delete(
    ctx: &mut StepCtx,
    step: &DeleteStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let DeleteStep {
        objects,
        wait: wait_gone,
        propagation,
    } = step;
    let mut refs = Vec::new();
    for o in objects {
        let object = ctx.object(o)?;
        let existed = ctx
            .env
            .cluster
            .delete(&object, *propagation)
            .await
            .map_err(|e| cluster_error(&format!("delete {object}"), &e))?;
        if !existed {
            return Err(StepError::failed(format!("{object} was already gone")));
        }
        ctx.observations.push(Observation::Object {
            action: "deleted".to_owned(),
            object: object.to_string(),
        });
        refs.push(object);
    }
    if *wait_gone {
        until_gone(ctx, &refs, timeout).await?;
    }
    Ok(())
}

/// Waits until every object in `refs` is gone.
pub(super) async fn until_gone(
    ctx: &StepCtx,
    refs: &[ObjectRef],
    timeout: Duration,
) -> Result<(), StepError> {
    let gone = c::is_gone();
    let cluster = ctx.env.cluster.as_ref();
    try_join_all(
        refs.iter()
            .map(|r| wait::until_within(cluster, r, &gone, timeout)),
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_pods(
    ctx: &mut StepCtx,
    step: &DeletePodsStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let DeletePodsStep { selector, replaced } = step;
    let sel = ctx.render(selector)?;
    let pods = ctx.running_pods(&sel).await?;
    if pods.is_empty() {
        return Err(StepError::failed(format!(
            "no running pod matches `{sel}` in namespace `{}`",
            ctx.ns()
        )));
    }
    let old: BTreeSet<String> = pods.iter().map(|p| uid_of(p).to_owned()).collect();
    let mut refs = Vec::new();
    for p in &pods {
        let r = ObjectRef::pod(ctx.ns(), name_of(p));
        ctx.env
            .cluster
            .delete(&r, Propagation::Background)
            .await
            .map_err(|e| cluster_error(&format!("delete {r}"), &e))?;
        ctx.observations.push(Observation::Object {
            action: "deleted".to_owned(),
            object: r.to_string(),
        });
        refs.push(r);
    }
    if !*replaced {
        until_gone(ctx, &refs, timeout).await?;
        return Ok(());
    }
    let (cluster, ns, want) = (
        Arc::clone(&ctx.env.cluster),
        ctx.ns().to_owned(),
        pods.len(),
    );
    let what = format!("{want} new Ready pod(s) `{sel}` replacing the deleted ones");
    let fresh = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, ns, sel, old) = (Arc::clone(&cluster), ns.clone(), sel.clone(), old.clone());
        async move {
            let pods = list_pods(cluster.as_ref(), &ns, &sel).await?;
            let ready: Vec<Value> = pods
                .into_iter()
                .filter(|p| {
                    !old.contains(uid_of(p))
                        && c::pod_ready().matches(Some(p))
                        && !c::is_terminating().matches(Some(p))
                })
                .collect();
            Ok(if ready.len() >= want {
                Ok(ready)
            } else {
                Err(format!("{} new Ready", ready.len()))
            })
        }
    })
    .await?;
    for p in &fresh {
        let r = ObjectRef::pod(ctx.ns(), name_of(p));
        ctx.observe_state(&r, Some(p));
    }
    Ok(())
}

pub(super) async fn capture(
    ctx: &mut StepCtx,
    step: &CaptureStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let CaptureStep {
        source,
        pointer,
        name,
    } = step;
    let (what, state) = match source {
        CaptureSource::Object(o) => {
            let object = ctx.object(o)?;
            let state = bounded_cluster(
                timeout,
                &format!("read {object}"),
                ctx.env.cluster.get(&object),
            )
            .await?;
            (
                object.to_string(),
                state.ok_or_else(|| StepError::failed(format!("{object} does not exist")))?,
            )
        }
        CaptureSource::Selector(sel) => {
            let sel = ctx.render(sel)?;
            let mut pods = ctx.running_pods(&sel).await?;
            if pods.len() != 1 {
                return Err(StepError::failed(format!(
                    "{} running pods match `{sel}`; a capture needs exactly one",
                    pods.len()
                )));
            }
            (format!("the pod matching `{sel}`"), pods.remove(0))
        }
    };
    let value = match state.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => {
            return Err(StepError::failed(format!(
                "{what} has no value at `{pointer}`"
            )));
        }
        Some(other) => other.to_string(),
    };
    ctx.vars.captured.insert(name.to_owned(), value.clone());
    ctx.observations.push(Observation::Captured {
        name: name.to_owned(),
        value,
    });
    Ok(())
}

pub(super) async fn scale(
    ctx: &mut StepCtx,
    step: &ScaleStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ScaleStep { object, replicas } = step;
    let object = ctx.object(object)?;
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    bounded_cluster(
        timeout,
        &format!("scale {object}"),
        ctx.env.cluster.patch_merge(&object, &patch),
    )
    .await?;
    ctx.observations.push(Observation::Info {
        text: format!("scaled {object} to {replicas}"),
    });
    Ok(())
}

pub(super) async fn patch(
    ctx: &mut StepCtx,
    step: &PatchStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let PatchStep { object, patch } = step;
    let object = ctx.object(object)?;
    let patch = ctx.render_node(patch)?;
    let state = bounded_cluster(
        timeout,
        &format!("patch {object}"),
        ctx.env.cluster.patch_merge(&object, &patch),
    )
    .await?;
    ctx.observe_state(&object, Some(&state));
    Ok(())
}
