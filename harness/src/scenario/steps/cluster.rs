//! Steps about the cluster around the scenario's objects: `expect-event` (an event about an
//! object, or any in a namespace) and `deploy-provisioner` (nfs-subdir-external-provisioner
//! in the scenario's namespace).

use std::sync::Arc;
use std::time::Duration;

use super::{StepCtx, StepError, cluster_error, event_observation, poll};
use crate::k8s::ObjectRef;
use crate::k8s::conditions as c;
use crate::k8s::tracker::CleanupStage;
use crate::k8s::wait;
use crate::scenario::plan::{EventSource, ExpectEventStep, ProvisionerStep};
use crate::scenario::provisioner;

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
