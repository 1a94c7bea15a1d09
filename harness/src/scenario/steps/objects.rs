//! Steps on the scenario's own objects: `apply`, `delete`, `patch`, `scale`, `delete-pods`
//! and `capture`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use serde_json::Value;

use super::{StepCtx, StepError, bounded_cluster, cluster_error, list_pods, name_of, poll, uid_of};
use crate::k8s::conditions as c;
use crate::k8s::wait;
use crate::k8s::{ObjectRef, Propagation};
use crate::scenario::plan::{
    CaptureSource, CaptureStep, DeletePodsStep, DeleteStep, Manifest, PatchStep, ScaleStep,
};
use crate::scenario::results::Observation;

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
