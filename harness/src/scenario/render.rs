//! What a scenario would apply, without a cluster (`nfslab scenarios run --dry-run`).
//!
//! [`render`] walks the steps in order and produces every object the engine would apply:
//! the scenario's namespace, each `apply` manifest and each `deploy-provisioner`'s objects,
//! with templates rendered (values captured at run time stand in as
//! `captured-<name>`), the namespace set and the run's ownership labels stamped, exactly as
//! the engine sends them. The output validates against the Kubernetes schemas
//! (`ci/validate-scenarios.sh`).

use serde_json::{Value, json};

use super::plan::{Action, Scenario};
use super::provisioner;
use super::steps::prepare_manifest;
use super::template::{Images, Templates, Vars};
use super::validate::placeholder_capture;
use crate::k8s::ownership::{self, RunId};
use crate::nfs::NfsServer;

/// A scenario could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct RenderError {
    /// `file:line:column`.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

/// The objects `scenario` would apply in run `run` against `server`, in order.
///
/// # Errors
/// A template that does not render (not expected after validation).
pub(super) fn render(
    scenario: &Scenario,
    run: &RunId,
    server: &NfsServer,
    images: &Images,
) -> Result<Vec<Value>, RenderError> {
    let templates = Templates::new();
    let mut vars = Vars::new(run, &scenario.id, server, images);
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": vars.namespace}});
    ownership::stamp(&mut ns, run, Some(&scenario.id));
    let mut out = vec![ns];
    for step in &scenario.steps {
        match &step.action {
            Action::Apply(manifests) => {
                for m in manifests {
                    let ctx = vars.context();
                    let node = m.node.value.try_map_strings(m.node.pos, &mut |s, pos| {
                        templates.render(s, &ctx).map_err(|issue| RenderError {
                            location: format!("{}:{pos}", m.file.display()),
                            message: issue.message,
                        })
                    })?;
                    out.push(prepare_manifest(
                        node.to_json(),
                        &vars.namespace,
                        run,
                        &scenario.id,
                    ));
                }
            }
            Action::DeployProvisioner(p) => {
                let ctx = vars.context();
                let text = |t: &super::plan::Tpl| {
                    templates
                        .render(&t.text, &ctx)
                        .map_err(|issue| RenderError {
                            location: scenario.location(t.pos),
                            message: issue.message,
                        })
                };
                let params = provisioner::Params {
                    name: text(&p.name)?,
                    namespace: vars.namespace.clone(),
                    prefix: vars.prefix.clone(),
                    provisioner: text(&p.provisioner)?,
                    server: vars.nfs_server.clone(),
                    path: text(&p.path)?,
                    image: vars.images.provisioner.clone(),
                };
                let manifests = provisioner::manifests(&params).map_err(|e| RenderError {
                    location: scenario.location(step.pos),
                    message: e.to_string(),
                })?;
                for m in manifests {
                    out.push(prepare_manifest(m, &vars.namespace, run, &scenario.id));
                }
            }
            Action::Capture(capture) => {
                vars.captured
                    .insert(capture.name.clone(), placeholder_capture(&capture.name));
            }
            _ => {}
        }
    }
    Ok(out)
}
