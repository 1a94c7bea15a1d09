//! Steps that watch conditions on objects: `wait` (until a condition holds, optionally while
//! another object keeps one) and `stays` (a condition keeps holding for a while).
//!
//! Each kind, side by side: its body as written in the file (`...Def`, named in
//! [`super::StepDef`]), its validation into a plan step
//! (`validate_*`, called from `validate_step`'s one match over `StepDef`), and what it does
//! when it runs (called from [`super::run`]'s one match over [`crate::scenario::plan::Action`]).
//! Both matches are exhaustive, so a new kind cannot be half added.

use std::sync::Arc;
use std::time::Duration;

use futures::future::try_join_all;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{StepCtx, StepError, event_observation, list_pods, name_of, poll};
use crate::k8s::ObjectRef;
use crate::k8s::conditions::Condition;
use crate::k8s::manifest::Pos;
use crate::k8s::wait::{self, WaitError};
use crate::scenario::format::{PredicateDef, S, step_body};
use crate::scenario::plan::{
    Action, KindInfo, ObjRef, Pred, StaysStep, TimeoutKind, Tpl, WaitStep,
};
use crate::scenario::validate::Validator;

// ---- definition ------------------------------------------------------------------------

step_body!(WaitDef {
    object: Option<S>,
    objects: Option<Spanned<Vec<S>>>,
    selector: Option<S>,
    count: Option<Spanned<u32>>,
    #[serde(rename = "for")]
    condition: Spanned<PredicateDef>,
    meanwhile: Option<Spanned<MeanwhileDef>>,
});

/// A condition that must keep holding on another object while a wait runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(in crate::scenario) struct MeanwhileDef {
    pub object: S,
    pub stays: Spanned<PredicateDef>,
}

step_body!(StaysDef {
    object: Option<S>,
    objects: Option<Spanned<Vec<S>>>,
    is: Spanned<PredicateDef>,
    #[serde(default, rename = "for")]
    duration: Option<S>,
});

// ---- validation ------------------------------------------------------------------------

pub(in crate::scenario) fn validate_wait(
    v: &mut Validator<'_>,
    def: &WaitDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let (objects, selector) = match (&def.selector, def.object.is_some() || def.objects.is_some()) {
        (Some(s), false) => (
            Vec::new(),
            Some(v.selector(s, &format!("{field}.selector"))),
        ),
        (Some(_), true) => {
            v.err(
                pos,
                field,
                "both a selector and objects are given",
                "keep one",
            );
            (Vec::new(), None)
        }
        (None, _) => (
            v.objrefs(def.object.as_ref(), def.objects.as_ref(), pos, field),
            None,
        ),
    };
    if def.count.is_some() && selector.is_none() {
        v.err(
            pos,
            &format!("{field}.count"),
            "`count` needs a `selector`",
            "remove `count` or wait on pods by selector",
        );
    }
    let kind_info = if selector.is_some() {
        KindInfo::by_name("pod")
    } else {
        objects.first().map(|o| o.kind)
    };
    let pred = v.pred(&def.condition, &format!("{field}.for"), kind_info);
    let meanwhile = def.meanwhile.as_ref().and_then(|m| {
        let object = v.objref(&m.value.object, &format!("{field}.meanwhile.object"), false)?;
        let p = v.pred(
            &m.value.stays,
            &format!("{field}.meanwhile.stays"),
            Some(object.kind),
        );
        Some((object, p))
    });
    let default = match (&pred, kind_info.map(|k| k.short)) {
        (Pred::Exists(false), _) => TimeoutKind::Delete,
        (_, Some("pvc" | "pv")) => TimeoutKind::Bind,
        _ => TimeoutKind::PodReady,
    };
    Some((
        Action::Wait(WaitStep {
            objects,
            selector,
            count: def.count.as_ref().map_or(1, |c| c.value),
            pred,
            meanwhile,
        }),
        default,
    ))
}

pub(in crate::scenario) fn validate_stays(
    v: &mut Validator<'_>,
    def: &StaysDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let objects = v.objrefs(def.object.as_ref(), def.objects.as_ref(), pos, field);
    let pred = v.pred(
        &def.is,
        &format!("{field}.is"),
        objects.first().map(|o| o.kind),
    );
    let duration = def
        .duration
        .as_ref()
        .and_then(|d| v.duration(d, &format!("{field}.for")));
    Some((
        Action::Stays(StaysStep {
            objects,
            pred,
            duration,
        }),
        TimeoutKind::Observe,
    ))
}

// ---- execution --------------------------------------------------------------------------

/// Waits for `pred` on pods by `selector`, or else on `objects`.
pub(super) async fn wait(
    ctx: &mut StepCtx,
    step: &WaitStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let WaitStep {
        objects,
        selector,
        count,
        pred,
        meanwhile,
    } = step;
    match selector {
        Some(sel) => wait_selector(ctx, sel, *count, pred, timeout).await,
        None => wait_objects(ctx, objects, pred, meanwhile.as_ref(), timeout).await,
    }
}

/// Each object with the condition `pred` for its kind.
fn targets(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    pred: &Pred,
) -> Result<Vec<(ObjectRef, Condition)>, StepError> {
    objects
        .iter()
        .map(|o| Ok((ctx.object(o)?, ctx.condition(pred, o.kind)?)))
        .collect()
}

async fn wait_objects(
    ctx: &mut StepCtx,
    objects: &[ObjRef],
    pred: &Pred,
    meanwhile: Option<&(ObjRef, Pred)>,
    timeout: Duration,
) -> Result<(), StepError> {
    let targets = targets(ctx, objects, pred)?;
    let cluster = Arc::clone(&ctx.env.cluster);
    let waits = try_join_all(
        targets
            .iter()
            .map(|(o, cond)| wait::until_within(cluster.as_ref(), o, cond, timeout)),
    );
    let states = match meanwhile {
        None => waits.await?,
        Some((other, guard)) => {
            let other_ref = ctx.object(other)?;
            let guard = ctx.condition(guard, other.kind)?;
            let holds = wait::holds_for(
                cluster.as_ref(),
                &other_ref,
                &guard,
                timeout + Duration::from_secs(1),
            );
            tokio::select! {
                states = waits => states?,
                broken = holds => {
                    return Err(match broken {
                        Err(e @ WaitError::Broken { .. }) => StepError::failed(format!(
                            "while waiting for {}: {e}",
                            targets.iter().map(|(o, c)| format!("{o}: {c}")).collect::<Vec<_>>().join(", ")
                        )),
                        Err(e) => e.into(),
                        Ok(_) => StepError::broken("the guard's watch ended before the wait"),
                    });
                }
            }
        }
    };
    for ((object, _), state) in targets.iter().zip(states) {
        ctx.observe_state(object, state.as_ref());
    }
    Ok(())
}

async fn wait_selector(
    ctx: &mut StepCtx,
    selector: &Tpl,
    count: u32,
    pred: &Pred,
    timeout: Duration,
) -> Result<(), StepError> {
    let sel = ctx.render(selector)?;
    let pod_kind = KindInfo::by_name("pod").ok_or_else(|| StepError::broken("pod kind missing"))?;
    let cond = ctx.condition(pred, pod_kind)?;
    let (cluster, ns) = (Arc::clone(&ctx.env.cluster), ctx.ns().to_owned());
    let what = format!("{count} pod(s) `{sel}`: {cond}");
    let matched = poll(timeout, ctx.poll_max(), &what, || {
        let (cluster, ns, sel, cond) =
            (Arc::clone(&cluster), ns.clone(), sel.clone(), cond.clone());
        async move {
            let pods = list_pods(cluster.as_ref(), &ns, &sel).await?;
            let ok: Vec<Value> = pods
                .iter()
                .filter(|p| cond.matches(Some(p)))
                .cloned()
                .collect();
            if ok.len() >= count as usize {
                Ok(Ok(ok))
            } else {
                Ok(Err(format!("{} of {} matching", ok.len(), pods.len())))
            }
        }
    })
    .await?;
    for pod in &matched {
        let r = ObjectRef::pod(ctx.ns(), name_of(pod));
        ctx.observe_state(&r, Some(pod));
    }
    Ok(())
}

/// `pred` keeps holding on every object for `duration` (default: the `observe` timeout).
pub(super) async fn stays(ctx: &mut StepCtx, step: &StaysStep) -> Result<(), StepError> {
    let StaysStep {
        objects,
        pred,
        duration,
    } = step;
    let window = duration.unwrap_or(ctx.env.config.timeouts.observe);
    let targets = targets(ctx, objects, pred)?;
    let cluster = Arc::clone(&ctx.env.cluster);
    let states = try_join_all(
        targets
            .iter()
            .map(|(o, cond)| wait::holds_for(cluster.as_ref(), o, cond, window)),
    )
    .await?;
    for ((object, _), state) in targets.iter().zip(states) {
        ctx.observe_state(object, state.as_ref());
        // What the controllers said about it: the "why" of a claim that stays Pending.
        if let Ok(events) = cluster.events_for(object).await {
            for e in events.iter().rev().take(3) {
                ctx.observations.push(event_observation(e));
            }
        }
    }
    Ok(())
}
