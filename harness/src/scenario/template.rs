//! Templating of strings in scenario files.
//!
//! Templates use minijinja's `{{ expression }}` syntax, one string at a time: a scenario
//! file is parsed as YAML first and only string values are rendered, so a template can
//! never change the structure of a manifest, and an error points at the exact string. The
//! provisioner's own `${.PVC.namespace}` syntax passes through untouched (it contains no
//! `{{`). A string holding only a template must be quoted in YAML (`name: "{{ prefix }}-pv1"`),
//! as in Ansible.
//!
//! Undefined variables are errors (strict mode); [`Templates::check`] also compares every
//! variable a template mentions with the known set, so a typo is reported at validation
//! time with the list of what exists.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::k8s::ownership::RunId;
use crate::nfs::NfsServer;

/// The images scenarios reference as `{{ images.* }}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// The `nfslab-io` image (helpers: serve, get, file ops, mountinfo, sleep, run).
    pub io: String,
    /// nfs-subdir-external-provisioner.
    pub provisioner: String,
}

impl Default for Images {
    fn default() -> Self {
        Self {
            io: format!("nfslab-io:{}", env!("CARGO_PKG_VERSION")),
            provisioner: "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2"
                .to_owned(),
        }
    }
}

/// Path of the `nfslab-io` binary inside its image (the entrypoint).
pub(crate) const IO_BINARY: &str = "/nfslab-io";

/// The values a scenario's templates see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vars {
    /// `{{ namespace }}`: the scenario's own namespace.
    pub namespace: String,
    /// `{{ prefix }}`: run and scenario prefix for cluster-scoped names.
    pub prefix: String,
    /// `{{ run.id }}`.
    pub run_id: String,
    /// `{{ run.prefix }}`: `nfslab-<6 hex>`.
    pub run_prefix: String,
    /// `{{ scenario.id }}`.
    pub scenario_id: String,
    /// `{{ nfs.server }}`: the address PVs name.
    pub nfs_server: String,
    /// `{{ nfs.export }}`: the export's root path.
    pub nfs_export: String,
    /// `{{ nfs.dir }}`: this scenario's directory on the export (client path).
    pub nfs_dir: String,
    /// `{{ images.* }}`.
    pub images: Images,
    /// `{{ io }}`: the `nfslab-io` binary path in its image.
    pub io: String,
    /// `{{ captured.NAME }}`: values captured by earlier steps.
    pub captured: BTreeMap<String, String>,
}

/// The namespace of a scenario in a run: `nfslab-<id>-<run short>`, at most 63 characters.
#[must_use]
pub fn namespace_for(run: &RunId, scenario_id: &str) -> String {
    let short = run.short();
    let room = 63 - "nfslab-".len() - 1 - short.len();
    let id: String = scenario_id.chars().take(room).collect();
    format!("nfslab-{}-{short}", id.trim_end_matches('-'))
}

/// The prefix of a scenario's cluster-scoped names: `nfslab-<run short>-<id>`.
#[must_use]
pub fn prefix_for(run: &RunId, scenario_id: &str) -> String {
    format!("{}-{scenario_id}", run.prefix())
}

impl Vars {
    /// The values for one scenario of a run against a server.
    #[must_use]
    pub(crate) fn new(run: &RunId, scenario_id: &str, server: &NfsServer, images: &Images) -> Self {
        let namespace = namespace_for(run, scenario_id);
        let export = server.export.trim_end_matches('/');
        Self {
            nfs_dir: format!("{export}/{namespace}"),
            namespace,
            prefix: prefix_for(run, scenario_id),
            run_id: run.as_str().to_owned(),
            run_prefix: run.prefix(),
            scenario_id: scenario_id.to_owned(),
            nfs_server: server.address.clone(),
            nfs_export: if export.is_empty() {
                "/".to_owned()
            } else {
                export.to_owned()
            },
            images: images.clone(),
            io: IO_BINARY.to_owned(),
            captured: BTreeMap::new(),
        }
    }

    /// The directory name of this scenario under the export (its namespace name).
    #[must_use]
    pub(crate) fn dir_name(&self) -> &str {
        &self.namespace
    }

    /// The context templates render with.
    #[must_use]
    pub(crate) fn context(&self) -> Value {
        let map = |pairs: &[(&str, &str)]| {
            Value::from(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                    .collect::<BTreeMap<String, Value>>(),
            )
        };
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        ctx.insert("namespace".into(), Value::from(self.namespace.as_str()));
        ctx.insert("prefix".into(), Value::from(self.prefix.as_str()));
        ctx.insert("io".into(), Value::from(self.io.as_str()));
        ctx.insert(
            "run".into(),
            map(&[("id", &self.run_id), ("prefix", &self.run_prefix)]),
        );
        ctx.insert("scenario".into(), map(&[("id", &self.scenario_id)]));
        ctx.insert(
            "nfs".into(),
            map(&[
                ("server", &self.nfs_server),
                ("export", &self.nfs_export),
                ("dir", &self.nfs_dir),
            ]),
        );
        ctx.insert(
            "images".into(),
            map(&[
                ("io", &self.images.io),
                ("provisioner", &self.images.provisioner),
            ]),
        );
        ctx.insert(
            "captured".into(),
            Value::from(
                self.captured
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<BTreeMap<String, Value>>(),
            ),
        );
        Value::from(ctx)
    }

    /// The variables these values define, with `captured` limited to `captures`.
    #[must_use]
    pub(crate) fn known(captures: &BTreeSet<String>) -> Known {
        let mut maps = BTreeMap::new();
        maps.insert("run", strings(&["id", "prefix"]));
        maps.insert("scenario", strings(&["id"]));
        maps.insert("nfs", strings(&["server", "export", "dir"]));
        maps.insert("images", strings(&["io", "provisioner"]));
        maps.insert("captured", captures.clone());
        Known {
            scalars: strings(&["namespace", "prefix", "io"]),
            maps,
        }
    }
}

fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The variables a template may use: plain ones and maps with their keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Known {
    /// `{{ name }}`.
    pub scalars: BTreeSet<String>,
    /// `{{ map.key }}`.
    pub maps: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Known {
    /// Every variable, as written in a template, for hints.
    #[must_use]
    pub(crate) fn all(&self) -> Vec<String> {
        let mut out: Vec<String> = self.scalars.iter().cloned().collect();
        for (map, keys) in &self.maps {
            for key in keys {
                out.push(format!("{map}.{key}"));
            }
        }
        out
    }
}

/// A template that cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TemplateIssue {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// The template engine (strict about undefined values, keeps trailing newlines).
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

impl Templates {
    /// An engine.
    #[must_use]
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        Self { env }
    }

    /// Checks that `text` parses and mentions only `known` variables.
    ///
    /// # Errors
    /// A syntax error or an unknown variable, with a hint.
    pub(crate) fn check(&self, text: &str, known: &Known) -> Result<(), TemplateIssue> {
        if !is_template(text) {
            return Ok(());
        }
        let template = self
            .env
            .template_from_str(text)
            .map_err(|e| syntax_issue(&e))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(true)
            .into_iter()
            .filter(|var| !is_known(var, known))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(var) => Err(TemplateIssue {
                message: format!("unknown template variable `{var}`"),
                hint: unknown_hint(var, known),
            }),
        }
    }

    /// Renders `text` with `context`.
    ///
    /// # Errors
    /// A syntax error, an undefined value or a failing filter.
    pub(crate) fn render(&self, text: &str, context: &Value) -> Result<String, TemplateIssue> {
        if !is_template(text) {
            return Ok(text.to_owned());
        }
        self.env.render_str(text, context).map_err(|e| {
            if e.kind() == minijinja::ErrorKind::SyntaxError {
                syntax_issue(&e)
            } else {
                TemplateIssue {
                    message: format!(
                        "the template cannot be rendered: {}",
                        e.detail().unwrap_or("unknown error")
                    ),
                    hint: "check the variable names and filters (see scenarios/README.md)"
                        .to_owned(),
                }
            }
        })
    }
}

fn syntax_issue(e: &minijinja::Error) -> TemplateIssue {
    let mut message = format!(
        "template syntax error: {}",
        e.detail().unwrap_or("unknown error")
    );
    if let Some(line) = e.line().filter(|l| *l > 1) {
        message.push_str(&format!(" (line {line} of the string)"));
    }
    TemplateIssue {
        message,
        hint: "templates are `{{ variable }}`; write `{% raw %}{{{% endraw %}` for a literal \
               `{{`"
            .to_owned(),
    }
}

fn is_known(var: &str, known: &Known) -> bool {
    match var.split_once('.') {
        None => known.scalars.contains(var),
        Some((map, rest)) => {
            let key = rest.split('.').next().unwrap_or(rest);
            known.maps.get(map).is_some_and(|keys| keys.contains(key))
        }
    }
}

fn unknown_hint(var: &str, known: &Known) -> String {
    if let Some(("captured", name)) = var.split_once('.') {
        return format!(
            "no earlier `capture` step stores `{name}`; add one with `as: {name}` before this \
             step"
        );
    }
    format!("known variables: {}", known.all().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfs::ServerFlavor;

    fn vars() -> Vars {
        let run = RunId::parse("20261123-144302-a1b2c3").expect("valid");
        let server = NfsServer {
            flavor: ServerFlavor::Kernel,
            address: "10.96.0.20".into(),
            export: "/exports/".into(),
            files: None,
        };
        Vars::new(&run, "static-binding-selector", &server, &Images::default())
    }

    #[test]
    fn names_are_run_and_scenario_scoped() {
        let v = vars();
        assert_eq!(v.namespace, "nfslab-static-binding-selector-a1b2c3");
        assert_eq!(v.prefix, "nfslab-a1b2c3-static-binding-selector");
        assert_eq!(v.nfs_dir, "/exports/nfslab-static-binding-selector-a1b2c3");
        let run = RunId::parse("20261123-144302-a1b2c3").expect("valid");
        let long = namespace_for(&run, &"x".repeat(80));
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("-a1b2c3"));
    }

    #[test]
    fn renders_variables_and_leaves_the_provisioner_syntax_alone() {
        let t = Templates::new();
        let mut v = vars();
        v.captured.insert("uid".into(), "1234".into());
        let ctx = v.context();
        assert_eq!(
            t.render("{{ nfs.server }}:{{ nfs.dir }}/pv1", &ctx)
                .expect("renders"),
            "10.96.0.20:/exports/nfslab-static-binding-selector-a1b2c3/pv1"
        );
        assert_eq!(
            t.render("HelloWorld\n", &ctx).expect("plain"),
            "HelloWorld\n"
        );
        assert_eq!(
            t.render("{{ namespace }}\n", &ctx).expect("renders"),
            "nfslab-static-binding-selector-a1b2c3\n",
            "trailing newline kept"
        );
        let pattern = "${.PVC.namespace}/${.PVC.annotations.nfs.io/storage-path}";
        assert_eq!(t.render(pattern, &ctx).expect("untouched"), pattern);
        assert_eq!(
            t.render("pvc-{{ captured.uid }}", &ctx).expect("renders"),
            "pvc-1234"
        );
        assert_eq!(
            t.render("{% raw %}{{ x }}{% endraw %}", &ctx).expect("raw"),
            "{{ x }}"
        );
    }

    #[test]
    fn check_rejects_unknown_variables_with_a_hint() {
        let t = Templates::new();
        let known = Vars::known(&BTreeSet::from(["uid".to_owned()]));
        assert!(
            t.check("{{ nfs.server }} {{ captured.uid }}", &known)
                .is_ok()
        );
        let typo = t.check("{{ nfs.servr }}", &known).expect_err("typo");
        assert_eq!(typo.message, "unknown template variable `nfs.servr`");
        assert!(typo.hint.contains("nfs.server"), "{}", typo.hint);
        let capture = t
            .check("{{ captured.pv }}", &known)
            .expect_err("not captured");
        assert!(capture.hint.contains("as: pv"), "{}", capture.hint);
        let top = t.check("{{ nope | upper }}", &known).expect_err("unknown");
        assert!(top.message.contains("`nope`"));
        let syntax = t.check("a\n{{ nfs.server", &known).expect_err("syntax");
        assert!(
            syntax.message.contains("syntax error"),
            "{}",
            syntax.message
        );
        assert!(syntax.message.contains("line 2"), "{}", syntax.message);
    }

    #[test]
    fn render_reports_undefined_values() {
        let t = Templates::new();
        let err = t
            .render("{{ captured.pv }}", &vars().context())
            .expect_err("undefined");
        assert!(err.message.contains("captured.pv"), "{}", err.message);
    }
}
