//! Steps on the NFS server: its files (`server-mkdir`, `server-write`, `server-remove`,
//! `server-rename`, `server-expect`, `server-wait`, paths relative to the scenario's
//! directory on the export) and its restart (`restart-nfs-server`).
//!
//! Each kind, side by side: its body as written in the file (`...Def`, named in
//! [`super::StepDef`]), its validation into a plan step
//! (`validate_*`, called from `validate_step`'s one match over `StepDef`), and what it does
//! when it runs (called from [`super::run`]'s one match over [`crate::scenario::plan::Action`]).
//! Both matches are exhaustive, so a new kind cannot be half added.

use std::future::Future;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::{StepCtx, StepError, shorten};
use crate::errors::error_chain;
use crate::k8s::manifest::Pos;
use crate::model::scenarios::Observation;
use crate::scenario::files::FilesError;
use crate::scenario::format::{S, step_body};
use crate::scenario::plan::{
    Action, ServerExpectStep, ServerMkdirStep, ServerRemoveStep, ServerRenameStep, ServerWaitStep,
    ServerWriteStep, TimeoutKind, Tpl,
};
use crate::scenario::validate::{Validator, pos_of};

// ---- definition ------------------------------------------------------------------------

step_body!(ServerMkdirDef {
    path: S,
    mode: Option<S>,
    owner: Option<S>,
});

step_body!(ServerWriteDef {
    path: S,
    content: S,
    append: Option<Spanned<bool>>,
});

step_body!(ServerRemoveDef {
    path: S,
    recursive: Option<Spanned<bool>>,
});

step_body!(ServerRenameDef { from: S, to: S });

step_body!(ServerExpectDef {
    path: S,
    exists: Option<Spanned<bool>>,
    content: Option<S>,
    empty: Option<Spanned<bool>>,
    entries: Option<Spanned<Vec<S>>>,
    owner: Option<S>,
});

step_body!(ServerWaitDef { path: S });

step_body!(RestartNfsServerDef {});

// ---- validation ------------------------------------------------------------------------

pub(in crate::scenario) fn validate_mkdir(
    v: &mut Validator<'_>,
    def: &ServerMkdirDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::ServerMkdir(ServerMkdirStep {
            path: v.server_path(&def.path, &format!("{field}.path")),
            mode: v.opt_tpl(def.mode.as_ref(), &format!("{field}.mode")),
            owner: v.opt_tpl(def.owner.as_ref(), &format!("{field}.owner")),
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_write(
    v: &mut Validator<'_>,
    def: &ServerWriteDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::ServerWrite(ServerWriteStep {
            path: v.server_path(&def.path, &format!("{field}.path")),
            content: v.tpl(&def.content, &format!("{field}.content")),
            append: def.append.as_ref().is_some_and(|a| a.value),
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_remove(
    v: &mut Validator<'_>,
    def: &ServerRemoveDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::ServerRemove(ServerRemoveStep {
            path: v.server_path(&def.path, &format!("{field}.path")),
            recursive: def.recursive.as_ref().is_some_and(|r| r.value),
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_rename(
    v: &mut Validator<'_>,
    def: &ServerRenameDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::ServerRename(ServerRenameStep {
            from: v.server_path(&def.from, &format!("{field}.from")),
            to: v.server_path(&def.to, &format!("{field}.to")),
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_expect(
    v: &mut Validator<'_>,
    def: &ServerExpectDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let entries: Vec<Tpl> = def
        .entries
        .as_ref()
        .map(|e| {
            e.value
                .iter()
                .enumerate()
                .map(|(i, s)| v.tpl(s, &format!("{field}.entries[{i}]")))
                .collect()
        })
        .unwrap_or_default();
    let owner = def.owner.as_ref().map(|o| {
        let name = format!("{field}.owner");
        let (tpl, rendered) = v.tpl_rendered(o, &name);
        if nfslab_workload::parse_owner(&rendered).is_err() {
            v.err(
                pos_of(o),
                &name,
                format!("`{rendered}` is not a numeric owner"),
                "write `UID:GID`, such as \"0:0\" or \"65534:65534\"",
            );
        }
        tpl
    });
    if def.exists.is_none()
        && def.content.is_none()
        && def.empty.is_none()
        && entries.is_empty()
        && owner.is_none()
    {
        v.err(
            pos,
            field,
            "nothing to check",
            "add `exists`, `content`, `empty`, `entries` or `owner`",
        );
    }
    if def.exists.as_ref().is_some_and(|e| !e.value)
        && (def.content.is_some() || def.empty.is_some() || !entries.is_empty() || owner.is_some())
    {
        v.err(
            pos,
            field,
            "`exists: false` with checks of the content",
            "keep `exists: false` alone",
        );
    }
    Some((
        Action::ServerExpect(ServerExpectStep {
            path: v.server_path(&def.path, &format!("{field}.path")),
            exists: def.exists.as_ref().map(|e| e.value),
            content: v.opt_tpl(def.content.as_ref(), &format!("{field}.content")),
            empty: def.empty.as_ref().map(|e| e.value),
            entries,
            owner,
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_wait(
    v: &mut Validator<'_>,
    def: &ServerWaitDef,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    Some((
        Action::ServerWait(ServerWaitStep {
            path: v.server_path(&def.path, &format!("{field}.path")),
        }),
        TimeoutKind::Provision,
    ))
}

pub(in crate::scenario) fn validate_restart(
    v: &mut Validator<'_>,
) -> Option<(Action, TimeoutKind)> {
    v.requires.server_restart = true;
    Some((Action::RestartNfsServer, TimeoutKind::ServerReady))
}

// ---- execution --------------------------------------------------------------------------

/// Runs a server-side operation within `timeout`.
async fn bounded<T>(
    timeout: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, FilesError>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(StepError::from),
        Err(_) => Err(StepError::broken(format!(
            "{what} did not finish within {} on the NFS server",
            nfslab_workload::format_duration(timeout)
        ))),
    }
}

pub(super) async fn mkdir(
    ctx: &mut StepCtx,
    step: &ServerMkdirStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerMkdirStep { path, mode, owner } = step;
    let path = ctx.server_path(path)?;
    let (mode, owner) = (
        ctx.render_opt(mode.as_ref())?,
        ctx.render_opt(owner.as_ref())?,
    );
    bounded(
        timeout,
        "server-mkdir",
        ctx.files()?.mkdir(&path, mode.as_deref(), owner.as_deref()),
    )
    .await?;
    ctx.observations.push(Observation::File {
        path,
        detail: "created".to_owned(),
    });
    Ok(())
}

pub(super) async fn write(
    ctx: &mut StepCtx,
    step: &ServerWriteStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerWriteStep {
        path,
        content,
        append,
    } = step;
    let path = ctx.server_path(path)?;
    let content = ctx.render(content)?;
    bounded(
        timeout,
        "server-write",
        ctx.files()?.write(&path, &content, *append),
    )
    .await?;
    let detail = format!(
        "{} {} bytes",
        if *append { "appended" } else { "wrote" },
        content.len()
    );
    ctx.observations.push(Observation::File { path, detail });
    Ok(())
}

pub(super) async fn remove(
    ctx: &mut StepCtx,
    step: &ServerRemoveStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerRemoveStep { path, recursive } = step;
    let path = ctx.server_path(path)?;
    bounded(
        timeout,
        "server-remove",
        ctx.files()?.remove(&path, *recursive),
    )
    .await?;
    ctx.observations.push(Observation::File {
        path,
        detail: "removed".to_owned(),
    });
    Ok(())
}

pub(super) async fn rename(
    ctx: &mut StepCtx,
    step: &ServerRenameStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerRenameStep { from, to } = step;
    let (from, to) = (ctx.server_path(from)?, ctx.server_path(to)?);
    bounded(timeout, "server-rename", ctx.files()?.rename(&from, &to)).await?;
    ctx.observations.push(Observation::File {
        path: from,
        detail: format!("renamed to {to}"),
    });
    Ok(())
}

/// Checks a path on the server; the server must answer within `timeout`.
pub(super) async fn expect(
    ctx: &mut StepCtx,
    step: &ServerExpectStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerExpectStep {
        path,
        exists,
        content,
        empty,
        entries,
        owner,
    } = step;
    let check = check(
        ctx,
        path,
        *exists,
        content.as_ref(),
        *empty,
        entries,
        owner.as_ref(),
    );
    tokio::time::timeout(timeout, check).await.map_err(|_| {
        StepError::broken(format!(
            "the NFS server did not answer within {}",
            nfslab_workload::format_duration(timeout)
        ))
    })?
}

async fn check(
    ctx: &mut StepCtx,
    path: &Tpl,
    exists: Option<bool>,
    content: Option<&Tpl>,
    empty: Option<bool>,
    entries: &[Tpl],
    owner: Option<&Tpl>,
) -> Result<(), StepError> {
    let path = ctx.server_path(path)?;
    let files = ctx.files()?;
    let present = files.exists(&path).await?;
    ctx.observations.push(Observation::File {
        path: path.clone(),
        detail: if present { "exists" } else { "absent" }.to_owned(),
    });
    if let Some(want) = exists
        && want != present
    {
        return Err(StepError::failed(if want {
            format!("`{path}` does not exist on the NFS server")
        } else {
            format!("`{path}` still exists on the NFS server")
        }));
    }
    let needs_content =
        content.is_some() || empty.is_some() || !entries.is_empty() || owner.is_some();
    if needs_content && !present {
        return Err(StepError::failed(format!(
            "`{path}` does not exist on the NFS server"
        )));
    }
    if let Some(want) = content {
        let want = ctx.render(want)?;
        let got = files.read(&path).await?;
        if got != want {
            return Err(StepError::failed(format!(
                "`{path}` holds {:?}, expected {want:?}",
                shorten(&got)
            )));
        }
    }
    if let Some(want) = empty {
        let is_empty = files.is_empty(&path).await?;
        if is_empty != want {
            let listing = files.list(&path).await.unwrap_or_default();
            return Err(StepError::failed(if want {
                format!("`{path}` is not empty: {}", listing.join(", "))
            } else {
                format!("`{path}` is empty")
            }));
        }
    }
    if let Some(want) = owner {
        let want = ctx.render(want)?;
        let entry = files.entry(&path).await?.ok_or_else(|| {
            StepError::failed(format!("`{path}` does not exist on the NFS server"))
        })?;
        let got = format!("{}:{}", entry.uid, entry.gid);
        ctx.observations.push(Observation::File {
            path: path.clone(),
            detail: format!("owner {got}, mode {:04o}", entry.mode),
        });
        if got != want {
            return Err(StepError::failed(format!(
                "`{path}` is owned by {got}, expected {want}"
            )));
        }
    }
    if !entries.is_empty() {
        let listing = files.list(&path).await?;
        ctx.observations.push(Observation::File {
            path: path.clone(),
            detail: format!("entries: {}", listing.join(", ")),
        });
        for e in entries {
            let e = ctx.render(e)?;
            if !listing.contains(&e) {
                return Err(StepError::failed(format!(
                    "`{path}` lacks `{e}` (it holds: {})",
                    listing.join(", ")
                )));
            }
        }
    }
    Ok(())
}

pub(super) async fn wait(
    ctx: &mut StepCtx,
    step: &ServerWaitStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ServerWaitStep { path } = step;
    let path = ctx.server_path(path)?;
    let files = ctx.files()?;
    match files.wait_for(&path, timeout).await {
        Ok(()) => {
            ctx.observations.push(Observation::File {
                path,
                detail: "appeared".to_owned(),
            });
            Ok(())
        }
        Err(FilesError::Failed { .. }) => Err(StepError::failed(format!(
            "`{path}` did not appear on the NFS server within {}",
            nfslab_workload::format_duration(timeout)
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn restart(ctx: &mut StepCtx, timeout: Duration) -> Result<(), StepError> {
    let control = ctx
        .env
        .control
        .clone()
        .ok_or_else(|| StepError::broken("this NFS server cannot be restarted by nfslab"))?;
    let what = control
        .restart(timeout)
        .await
        .map_err(|e| StepError::failed(error_chain(&e)))?;
    ctx.observations.push(Observation::Info { text: what });
    Ok(())
}
