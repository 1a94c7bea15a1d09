//! Steps inside pods: `exec` (a command, with its expected output), `http-get` (from a
//! client pod, retried while endpoints settle), `mount-options` (what `nfslab-io mountinfo`
//! reports for a path) and `logs`.
//!
//! Each kind, side by side: its body as written in the file (`...Def`, named in
//! [`super::StepDef`]), its validation into a plan step
//! (`validate_*`, called from `validate_step`'s one match over `StepDef`), and what it does
//! when it runs (called from [`super::run`]'s one match over [`crate::scenario::plan::Action`]).
//! Both matches are exhaustive, so a new kind cannot be half added.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use tokio::time::Instant;

use super::{StepCtx, StepError, bounded_cluster, shorten};
use crate::k8s::ExecOutput;
use crate::k8s::manifest::Pos;
use crate::model::scenarios::{MountRecord, Observation};
use crate::scenario::format::{S, step_body};
use crate::scenario::plan::{
    Action, ExecExpect, ExecStep, ExitExpect, HttpGetStep, LogsStep, MountExpect, MountOptionsStep,
    PodTarget, TimeoutKind, Tpl,
};
use crate::scenario::validate::{Validator, pos_of};

// ---- definition ------------------------------------------------------------------------

/// What an `exec` command must end with and print.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(in crate::scenario) struct ExpectDef {
    pub exit_code: Option<Spanned<i32>>,
    pub fails: Option<Spanned<bool>>,
    pub stdout: Option<S>,
    pub stdout_contains: Option<S>,
    pub stderr_contains: Option<S>,
}

step_body!(ExecDef {
    pod: Option<S>,
    selector: Option<S>,
    all: Option<Spanned<bool>>,
    container: Option<S>,
    command: Option<Spanned<Vec<S>>>,
    io: Option<Spanned<Vec<S>>>,
    expect: Option<Spanned<ExpectDef>>,
});

/// What an HTTP body must be.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(in crate::scenario) struct BodyExpectDef {
    pub body: Option<S>,
    pub body_contains: Option<S>,
}

step_body!(HttpGetDef {
    pod: Option<S>,
    selector: Option<S>,
    container: Option<S>,
    url: S,
    expect: Spanned<BodyExpectDef>,
});

/// What mount options must (not) be in effect.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub(in crate::scenario) struct MountExpectDef {
    pub nfs: Option<Spanned<bool>>,
    pub contains: Option<Spanned<Vec<S>>>,
    pub absent: Option<Spanned<Vec<S>>>,
}

step_body!(MountOptionsDef {
    pod: Option<S>,
    selector: Option<S>,
    container: Option<S>,
    path: S,
    requested: Option<S>,
    expect: Option<Spanned<MountExpectDef>>,
});

step_body!(LogsDef {
    pod: Option<S>,
    selector: Option<S>,
    container: Option<S>,
    tail: Option<Spanned<i64>>,
    contains: Option<S>,
});

// ---- validation ------------------------------------------------------------------------

pub(in crate::scenario) fn validate_exec(
    v: &mut Validator<'_>,
    def: &ExecDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let target = v.pod_target(def.pod.as_ref(), def.selector.as_ref(), pos, field)?;
    let all = def.all.as_ref().is_some_and(|a| a.value);
    if all && !matches!(target, PodTarget::Selector(_)) {
        v.err(
            pos,
            &format!("{field}.all"),
            "`all` needs a `selector`",
            "select the pods with `selector:`",
        );
    }
    let command = match (&def.command, &def.io) {
        (Some(c), None) => c
            .value
            .iter()
            .enumerate()
            .map(|(i, s)| v.tpl(s, &format!("{field}.command[{i}]")))
            .collect(),
        (None, Some(io)) => {
            let mut cmd = vec![Tpl {
                text: "{{ io }}".to_owned(),
                pos: pos_of(io),
            }];
            cmd.extend(
                io.value
                    .iter()
                    .enumerate()
                    .map(|(i, s)| v.tpl(s, &format!("{field}.io[{i}]"))),
            );
            cmd
        }
        (Some(_), Some(_)) => {
            v.err(pos, field, "both `command` and `io` are given", "keep one");
            Vec::new()
        }
        (None, None) => {
            v.err(
                pos,
                field,
                "no command given",
                "add `command: [...]`, or `io: [...]` for an `nfslab-io` helper",
            );
            Vec::new()
        }
    };
    if command.is_empty() && (def.command.is_some() || def.io.is_some()) {
        v.err(
            pos,
            field,
            "the command is empty",
            "give the program and its arguments",
        );
    }
    let expect = match &def.expect {
        Some(e) => ExecExpect {
            exit: match (&e.value.exit_code, &e.value.fails) {
                (Some(_), Some(_)) => {
                    v.err(
                        pos_of(e),
                        &format!("{field}.expect"),
                        "both `exit-code` and `fails` are given",
                        "keep one",
                    );
                    ExitExpect::default()
                }
                (Some(c), None) => ExitExpect::Code(c.value),
                (None, Some(f)) if f.value => ExitExpect::Fails,
                _ => ExitExpect::default(),
            },
            stdout: v.opt_tpl(e.value.stdout.as_ref(), &format!("{field}.expect.stdout")),
            stdout_contains: v.opt_tpl(
                e.value.stdout_contains.as_ref(),
                &format!("{field}.expect.stdout-contains"),
            ),
            stderr_contains: v.opt_tpl(
                e.value.stderr_contains.as_ref(),
                &format!("{field}.expect.stderr-contains"),
            ),
        },
        None => ExecExpect::default(),
    };
    Some((
        Action::Exec(ExecStep {
            target,
            all,
            container: v.opt_tpl(def.container.as_ref(), &format!("{field}.container")),
            command,
            expect,
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_http_get(
    v: &mut Validator<'_>,
    def: &HttpGetDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let target = v.pod_target(def.pod.as_ref(), def.selector.as_ref(), pos, field)?;
    let e = &def.expect.value;
    if e.body.is_none() && e.body_contains.is_none() {
        v.err(
            pos_of(&def.expect),
            &format!("{field}.expect"),
            "nothing to expect",
            "add `body:` or `body-contains:`",
        );
    }
    Some((
        Action::HttpGet(HttpGetStep {
            target,
            container: v.opt_tpl(def.container.as_ref(), &format!("{field}.container")),
            url: v.tpl(&def.url, &format!("{field}.url")),
            body: v.opt_tpl(e.body.as_ref(), &format!("{field}.expect.body")),
            body_contains: v.opt_tpl(
                e.body_contains.as_ref(),
                &format!("{field}.expect.body-contains"),
            ),
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_mount_options(
    v: &mut Validator<'_>,
    def: &MountOptionsDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let target = v.pod_target(def.pod.as_ref(), def.selector.as_ref(), pos, field)?;
    let expect = match &def.expect {
        Some(e) => {
            let list =
                |v: &mut Validator<'_>, l: &Option<Spanned<Vec<S>>>, name: &str| -> Vec<Tpl> {
                    l.as_ref()
                        .map(|l| {
                            l.value
                                .iter()
                                .enumerate()
                                .map(|(i, s)| v.tpl(s, &format!("{field}.expect.{name}[{i}]")))
                                .collect()
                        })
                        .unwrap_or_default()
                };
            MountExpect {
                nfs: e.value.nfs.as_ref().map(|n| n.value),
                contains: list(v, &e.value.contains, "contains"),
                absent: list(v, &e.value.absent, "absent"),
            }
        }
        None => MountExpect::default(),
    };
    Some((
        Action::MountOptions(MountOptionsStep {
            target,
            container: v.opt_tpl(def.container.as_ref(), &format!("{field}.container")),
            path: v.tpl(&def.path, &format!("{field}.path")),
            requested: v.opt_tpl(def.requested.as_ref(), &format!("{field}.requested")),
            expect,
        }),
        TimeoutKind::Exec,
    ))
}

pub(in crate::scenario) fn validate_logs(
    v: &mut Validator<'_>,
    def: &LogsDef,
    pos: Pos,
    field: &str,
) -> Option<(Action, TimeoutKind)> {
    let target = v.pod_target(def.pod.as_ref(), def.selector.as_ref(), pos, field)?;
    let tail = def.tail.as_ref().map_or(50, |t| t.value);
    if tail <= 0 {
        let p = def.tail.as_ref().map_or(pos, pos_of);
        v.err(
            p,
            &format!("{field}.tail"),
            "a tail of no lines",
            "give a positive number of lines",
        );
    }
    Some((
        Action::Logs(LogsStep {
            target,
            container: v.opt_tpl(def.container.as_ref(), &format!("{field}.container")),
            tail,
            contains: v.opt_tpl(def.contains.as_ref(), &format!("{field}.contains")),
        }),
        TimeoutKind::Exec,
    ))
}

// ---- execution --------------------------------------------------------------------------

fn check_output(
    out: &ExecOutput,
    expect: &ExecExpect,
    stdout: Option<&str>,
    stdout_contains: Option<&str>,
    stderr_contains: Option<&str>,
) -> Result<(), String> {
    match expect.exit {
        ExitExpect::Code(code) if out.exit_code != code => {
            return Err(format!(
                "exit code {}, expected {code}; stderr: {}",
                out.exit_code,
                shorten(out.stderr.trim())
            ));
        }
        ExitExpect::Fails if out.exit_code == 0 => {
            return Err(format!(
                "it succeeded, expected it to fail; stdout: {}",
                shorten(out.stdout.trim())
            ));
        }
        _ => {}
    }
    if let Some(want) = stdout
        && out.stdout != want
    {
        return Err(format!(
            "stdout is {:?}, expected {:?}",
            shorten(&out.stdout),
            want
        ));
    }
    if let Some(want) = stdout_contains
        && !out.stdout.contains(want)
    {
        return Err(format!(
            "stdout {:?} does not contain {:?}",
            shorten(&out.stdout),
            want
        ));
    }
    if let Some(want) = stderr_contains
        && !out.stderr.contains(want)
    {
        return Err(format!(
            "stderr {:?} does not contain {:?}",
            shorten(&out.stderr),
            want
        ));
    }
    Ok(())
}

pub(super) async fn exec(
    ctx: &mut StepCtx,
    step: &ExecStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let ExecStep {
        target,
        all,
        container,
        command,
        expect,
    } = step;
    let pods = ctx.target_pods(target, *all).await?;
    let container = ctx.render_opt(container.as_ref())?;
    let command: Vec<String> = command
        .iter()
        .map(|t| ctx.render(t))
        .collect::<Result<_, _>>()?;
    let stdout = ctx.render_opt(expect.stdout.as_ref())?;
    let stdout_contains = ctx.render_opt(expect.stdout_contains.as_ref())?;
    let stderr_contains = ctx.render_opt(expect.stderr_contains.as_ref())?;
    for pod in pods {
        let out = ctx
            .exec(&pod, container.as_deref(), &command, timeout)
            .await?;
        check_output(
            &out,
            expect,
            stdout.as_deref(),
            stdout_contains.as_deref(),
            stderr_contains.as_deref(),
        )
        .map_err(|why| StepError::failed(format!("`{}` in {pod}: {why}", command.join(" "))))?;
    }
    Ok(())
}

pub(super) async fn http_get(
    ctx: &mut StepCtx,
    step: &HttpGetStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let HttpGetStep {
        target,
        container,
        url,
        body,
        body_contains,
    } = step;
    let pods = ctx.target_pods(target, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no client pod"))?;
    let container = ctx.render_opt(container.as_ref())?;
    let url = ctx.render(url)?;
    let command = vec![ctx.vars.io.clone(), "get".to_owned(), url.clone()];
    let body = ctx.render_opt(body.as_ref())?;
    let body_contains = ctx.render_opt(body_contains.as_ref())?;
    let judge = |out: &ExecOutput| -> Result<(), String> {
        if !out.success() {
            return Err(format!(
                "GET {url} from {pod} failed (exit {}): {}",
                out.exit_code,
                shorten(out.stderr.trim())
            ));
        }
        if let Some(want) = &body
            && &out.stdout != want
        {
            return Err(format!(
                "GET {url} returned {:?}, expected {want:?}",
                shorten(&out.stdout)
            ));
        }
        if let Some(want) = &body_contains
            && !out.stdout.contains(want.as_str())
        {
            return Err(format!(
                "GET {url} returned {:?}, which lacks {want:?}",
                shorten(&out.stdout)
            ));
        }
        Ok(())
    };
    // Endpoints and DNS records follow pod changes asynchronously: retry a failing GET with
    // a growing pause until the step's time is up, keeping only the last attempt's output.
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    let kept = ctx.observations.len();
    loop {
        ctx.observations.truncate(kept);
        let left = deadline.saturating_duration_since(Instant::now());
        let out = ctx
            .exec(
                &pod,
                container.as_deref(),
                &command,
                left.max(Duration::from_secs(1)),
            )
            .await?;
        let why = match judge(&out) {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        let now = Instant::now();
        if now + pause >= deadline {
            return Err(StepError::failed(format!(
                "{why} (still after {})",
                nfslab_workload::format_duration(timeout)
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(ctx.poll_max());
    }
}

/// Reads `nfslab-io mountinfo` output with the producer's own type
/// ([`nfslab_workload::MountSection`]), so a change of its shape fails to decode here
/// instead of reading as an empty mount.
fn parse_mountinfo(pod: &str, path: &str, stdout: &str) -> Result<MountRecord, String> {
    let section: nfslab_workload::MountSection =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("not a mount section: {e}"))?;
    let mount = section.mount;
    Ok(MountRecord {
        pod: pod.to_owned(),
        path: path.to_owned(),
        fstype: mount.fstype,
        source: mount.source,
        mount_options: mount.mount_options,
        super_options: mount.super_options,
        requested: None,
    })
}

pub(super) async fn mount_options(
    ctx: &mut StepCtx,
    step: &MountOptionsStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let MountOptionsStep {
        target,
        container,
        path,
        requested,
        expect,
    } = step;
    let pods = ctx.target_pods(target, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no pod"))?;
    let container = ctx.render_opt(container.as_ref())?;
    let path = ctx.render(path)?;
    let command = vec![ctx.vars.io.clone(), "mountinfo".to_owned(), path.clone()];
    let out = ctx
        .exec(&pod, container.as_deref(), &command, timeout)
        .await?;
    if !out.success() {
        return Err(StepError::failed(format!(
            "`{}` in {pod} failed (exit {}): {}",
            command.join(" "),
            out.exit_code,
            out.stderr.trim()
        )));
    }
    let pod_name = format!("{}/{}", ctx.ns(), pod.name);
    let mut record = parse_mountinfo(&pod_name, &path, &out.stdout).map_err(|why| {
        StepError::broken(format!("cannot read the mountinfo output of {pod}: {why}"))
    })?;
    record.requested = ctx.render_opt(requested.as_ref())?.map(|r| {
        r.split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    });
    ctx.observations.push(Observation::Mount(record.clone()));
    ctx.mounts.push(record.clone());
    let effective: BTreeSet<&str> = record
        .mount_options
        .iter()
        .chain(record.super_options.iter())
        .map(String::as_str)
        .collect();
    if let Some(want) = expect.nfs
        && record.fstype.starts_with("nfs") != want
    {
        return Err(StepError::failed(format!(
            "`{path}` in {pod} is a `{}` mount, expected {}NFS",
            record.fstype,
            if want { "" } else { "no " }
        )));
    }
    for t in &expect.contains {
        let option = ctx.render(t)?;
        if !effective.contains(option.as_str()) {
            return Err(StepError::failed(format!(
                "option `{option}` is not in effect on `{path}` in {pod} (effective: {})",
                effective.iter().copied().collect::<Vec<_>>().join(",")
            )));
        }
    }
    for t in &expect.absent {
        let option = ctx.render(t)?;
        if effective.contains(option.as_str()) {
            return Err(StepError::failed(format!(
                "option `{option}` is in effect on `{path}` in {pod}, expected it absent"
            )));
        }
    }
    Ok(())
}

pub(super) async fn logs(
    ctx: &mut StepCtx,
    step: &LogsStep,
    timeout: Duration,
) -> Result<(), StepError> {
    let LogsStep {
        target,
        container,
        tail,
        contains,
    } = step;
    let pods = ctx.select_pods(target, false, false).await?;
    let pod = pods
        .into_iter()
        .next()
        .ok_or_else(|| StepError::failed("no pod"))?;
    let container = ctx.render_opt(container.as_ref())?;
    let text = bounded_cluster(
        timeout,
        &format!("read the log of {pod}"),
        ctx.env
            .cluster
            .logs(&pod, container.as_deref(), Some(*tail), false),
    )
    .await?;
    ctx.observations.push(Observation::Log {
        pod: format!("{}/{}", ctx.ns(), pod.name),
        container: container.clone(),
        lines: text.lines().map(str::to_owned).collect(),
    });
    if let Some(want) = ctx.render_opt(contains.as_ref())?
        && !text.contains(&want)
    {
        return Err(StepError::failed(format!(
            "the last {tail} log lines of {pod} lack {want:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_output_is_decoded_with_the_producers_type() {
        // What `nfslab-io mountinfo` prints, made by the producer's own serializer.
        let text = "812 27 0:52 / /usr/share/nginx/html rw,relatime shared:401 - nfs4 \
                    10.96.0.20:/exports/s4/pv1 rw,vers=4.1,rsize=1048576,hard,proto=tcp\n";
        let mounts = nfslab_workload::parse_mountinfo(text).expect("mountinfo");
        let section = nfslab_workload::MountSection {
            path: "/usr/share/nginx/html".to_owned(),
            mount: mounts[0].clone(),
            nfs_options: Some(mounts[0].super_option_map()),
            mountstats_delta: None,
        };
        let stdout = serde_json::to_string(&section).expect("json");
        let record =
            parse_mountinfo("s4/nginx-1", "/usr/share/nginx/html", &stdout).expect("parses");
        assert_eq!(record.fstype, "nfs4");
        assert_eq!(record.source, "10.96.0.20:/exports/s4/pv1");
        assert_eq!(record.mount_options, vec!["rw", "relatime"]);
        assert!(record.super_options.contains(&"vers=4.1".to_owned()));
        // The flat shape an earlier reading assumed is not what the binary prints: refused.
        let flat = r#"{"fstype": "nfs4", "source": "s", "mount_options": [], "super_options": []}"#;
        assert!(parse_mountinfo("p", "/d", flat).is_err());
        assert!(parse_mountinfo("p", "/d", "mounted!").is_err());
    }
}
