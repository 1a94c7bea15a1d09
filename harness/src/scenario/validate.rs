//! Reading and validating scenario files, before anything touches a cluster.
//!
//! [`super::load::parse`] turns a file's text into a [`super::plan::Scenario`] or into every
//! problem found, each as `file:line:column: field: message (hint: ...)`. Beyond what serde rejects (unknown step
//! or field, wrong type, missing field), it checks:
//! - durations and timeout names;
//! - templates: syntax, and only known variables (`captured.X` only after a `capture` of X);
//! - references (`pvc/pvc1`): known kind, and an object an earlier step applies (or that a
//!   StatefulSet it applies creates: `pod/web-0`, `pvc/www-web-0`);
//! - manifests, rendered with placeholder values: a supported kind, no foreign namespace,
//!   cluster-scoped names and every `storageClassName` carrying `{{ prefix }}` (so
//!   concurrent scenarios can never bind each other's volumes), and the Kubernetes schema of
//!   the kind (field types);
//! - server paths relative to the scenario's directory;
//! - predicates that apply to the object's kind (`bound-to` on a PVC, `ready` on a pod...).
//!
//! This file holds the validator's core: what every step kind's checks share (durations,
//! timeouts, templates, references, pod targets, predicates, manifests). It knows no step
//! kind: each kind's own checks live with its definition and execution in its family's
//! file under [`super::steps`], which calls this core; the one match over the kinds is
//! `steps::validate_step`, and reading a whole file is [`super::load`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use serde_saphyr::Spanned;

use super::format::{self as f, S};
use super::plan::{
    KINDS, KindInfo, Manifest, ObjRef, PodTarget, Pred, Requirements, StepTimeout, TimeoutKind, Tpl,
};
use super::template::{Images, Templates, Vars};
use crate::k8s::manifest::{self, Located, Node, Pos, SourceNode};
use crate::k8s::ownership::RunId;
use crate::nfs::{NfsServer, ServerFlavor};

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// Where.
    pub pos: Pos,
    /// The field, as a path (`steps[3].wait.timeout`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.pos,
            self.field,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ScenarioError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A message's `(hint: ...)` part apart, so it is printed once, after the field.
fn split_hint(message: &str) -> (String, String) {
    match message.split_once(" (hint: ") {
        Some((m, h)) => (m.to_owned(), h.trim_end_matches(')').to_owned()),
        None => (
            message.to_owned(),
            "e.g. `30s`, `500ms`, `1m30s`".to_owned(),
        ),
    }
}

/// Accepted durations in scenario files (timeouts, observation windows, pauses): from 1 ms
/// to a day.
pub(super) const STEP_DURATION_RANGE: nfslab_workload::DurationRange =
    nfslab_workload::DurationRange::new(Duration::from_millis(1), Duration::from_secs(24 * 3600));

/// The address validation and dry runs render PVs with (TEST-NET-1, never routed).
pub(super) const PLACEHOLDER_SERVER: &str = "192.0.2.10";

/// The server validation and dry runs assume.
#[must_use]
pub(super) fn placeholder_server() -> NfsServer {
    NfsServer {
        flavor: ServerFlavor::Kernel,
        address: PLACEHOLDER_SERVER.to_owned(),
        export: "/exports".to_owned(),
        files: None,
    }
}

/// The value a capture stands for until the step runs (`captured-pv-name`).
#[must_use]
pub(super) fn placeholder_capture(name: &str) -> String {
    format!("captured-{}", name.to_ascii_lowercase().replace('_', "-"))
}

pub(super) fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos::from_location(s.referenced)
}

pub(super) struct Validator<'a> {
    pub(super) file: &'a Path,
    pub(super) errors: Vec<ScenarioError>,
    templates: Templates,
    pub(super) vars: Vars,
    pub(super) captures: BTreeSet<String>,
    /// Objects that exist when a step runs: `(kind, rendered name)`.
    pub(super) known: BTreeSet<(&'static str, String)>,
    /// StatefulSets: claim template names and the most replicas asked so far.
    sets: BTreeMap<String, (Vec<String>, i64)>,
    pub(super) requires: Requirements,
}

impl<'a> Validator<'a> {
    pub(super) fn new(file: &'a Path) -> Self {
        // A fixed run id: validation only needs valid-looking names.
        let run = RunId::parse("00000000-000000-000000").unwrap_or_else(RunId::generate);
        Self {
            file,
            errors: Vec::new(),
            templates: Templates::new(),
            vars: Vars::new(&run, "scenario", &placeholder_server(), &Images::default()),
            captures: BTreeSet::new(),
            known: BTreeSet::new(),
            sets: BTreeMap::new(),
            requires: Requirements::default(),
        }
    }

    pub(super) fn err(
        &mut self,
        pos: Pos,
        field: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.err_in(self.file.to_owned(), pos, field, message, hint);
    }

    fn err_in(
        &mut self,
        file: PathBuf,
        pos: Pos,
        field: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let hint: String = hint.into();
        self.errors.push(ScenarioError {
            file,
            pos,
            field: field.to_owned(),
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        });
    }

    // ---- small values ----------------------------------------------------------------

    pub(super) fn duration(&mut self, s: &S, field: &str) -> Option<Duration> {
        let parsed = nfslab_workload::parse_duration(&s.value)
            .map_err(|e| e.to_string())
            .and_then(|d| STEP_DURATION_RANGE.check(d).map_err(|e| e.to_string()));
        match parsed {
            Ok(d) => Some(d),
            Err(message) => {
                let (message, hint) = split_hint(&message);
                self.err(pos_of(s), field, message, hint);
                None
            }
        }
    }

    pub(super) fn timeout(
        &mut self,
        s: Option<&S>,
        field: &str,
        default: TimeoutKind,
    ) -> StepTimeout {
        let Some(s) = s else {
            return StepTimeout::Configured(default);
        };
        if let Some((_, kind)) = TimeoutKind::NAMES
            .iter()
            .find(|(name, _)| *name == s.value.trim())
        {
            return StepTimeout::Configured(*kind);
        }
        let parsed = nfslab_workload::parse_duration(&s.value)
            .map_err(|e| e.to_string())
            .and_then(|d| STEP_DURATION_RANGE.check(d).map_err(|e| e.to_string()));
        match parsed {
            Ok(d) => StepTimeout::Fixed(d),
            Err(message) => {
                let names: Vec<&str> = TimeoutKind::NAMES.iter().map(|(n, _)| *n).collect();
                let (message, hint) = split_hint(&message);
                self.err(
                    pos_of(s),
                    &format!("{field}.timeout"),
                    message,
                    format!("{hint}; or name a configured timeout: {}", names.join(", ")),
                );
                StepTimeout::Configured(default)
            }
        }
    }

    /// Checks a template and returns it with its rendering under placeholder values.
    pub(super) fn tpl_at(
        &mut self,
        text: &str,
        pos: Pos,
        field: &str,
        file: Option<&Path>,
    ) -> (Tpl, String) {
        if text.contains("nfs.dir") {
            self.requires.server_files = true;
        }
        let known = Vars::known(&self.captures);
        let rendered = match self.templates.check(text, &known) {
            Ok(()) => {
                let mut vars = self.vars.clone();
                for c in &self.captures {
                    vars.captured.insert(c.clone(), placeholder_capture(c));
                }
                match self.templates.render(text, &vars.context()) {
                    Ok(r) => r,
                    Err(issue) => {
                        let file = file.unwrap_or(self.file).to_owned();
                        self.err_in(file, pos, field, issue.message, issue.hint);
                        text.to_owned()
                    }
                }
            }
            Err(issue) => {
                let file = file.unwrap_or(self.file).to_owned();
                self.err_in(file, pos, field, issue.message, issue.hint);
                text.to_owned()
            }
        };
        (
            Tpl {
                text: text.to_owned(),
                pos,
            },
            rendered,
        )
    }

    pub(super) fn tpl(&mut self, s: &S, field: &str) -> Tpl {
        self.tpl_at(&s.value, pos_of(s), field, None).0
    }

    pub(super) fn tpl_rendered(&mut self, s: &S, field: &str) -> (Tpl, String) {
        self.tpl_at(&s.value, pos_of(s), field, None)
    }

    pub(super) fn opt_tpl(&mut self, s: Option<&S>, field: &str) -> Option<Tpl> {
        s.map(|s| self.tpl(s, field))
    }

    pub(super) fn server_path(&mut self, s: &S, field: &str) -> Tpl {
        self.requires.server_files = true;
        let (tpl, rendered) = self.tpl_rendered(s, field);
        let bad = rendered.starts_with('/')
            || rendered.split('/').any(|c| c == "..")
            || rendered.trim().is_empty();
        if bad {
            self.err(
                pos_of(s),
                field,
                format!(
                    "`{}` is not a path inside the scenario's directory",
                    s.value
                ),
                "server paths are relative to the scenario's directory on the export \
                 (`{{ nfs.dir }}` in manifests); use `.` for the directory itself",
            );
        }
        tpl
    }

    // ---- object references -------------------------------------------------------------

    /// Parses `kind/name`; with `must_exist`, the object must be applied by an earlier step.
    pub(super) fn objref(&mut self, s: &S, field: &str, must_exist: bool) -> Option<ObjRef> {
        let pos = pos_of(s);
        let Some((kind, name)) = s.value.split_once('/') else {
            self.err(
                pos,
                field,
                format!("`{}` is not an object reference", s.value),
                "write `kind/name`, such as `pvc/pvc1` or `pv/{{ prefix }}-pv1`",
            );
            return None;
        };
        let Some(info) = KindInfo::by_name(kind.trim()) else {
            let kinds: Vec<&str> = KINDS.iter().map(|k| k.short).collect();
            self.err(
                pos,
                field,
                format!("unknown kind `{kind}`"),
                format!("kinds are: {}", kinds.join(", ")),
            );
            return None;
        };
        let (name, rendered) = self.tpl_at(name.trim(), pos, field, None);
        let exempt = name.text.contains("captured");
        if must_exist && !exempt && !self.known.contains(&(info.kind, rendered.clone())) {
            self.err(
                pos,
                field,
                format!(
                    "{} `{rendered}` is never applied before this step",
                    info.kind
                ),
                "apply it in an earlier step, or fix the name (objects a StatefulSet creates, \
                 such as `pod/web-0` and `pvc/www-web-0`, count as applied)",
            );
        }
        Some(ObjRef { kind: info, name })
    }

    pub(super) fn objrefs(
        &mut self,
        one: Option<&S>,
        many: Option<&Spanned<Vec<S>>>,
        pos: Pos,
        field: &str,
    ) -> Vec<ObjRef> {
        match (one, many) {
            (Some(o), None) => self
                .objref(o, &format!("{field}.object"), true)
                .into_iter()
                .collect(),
            (None, Some(list)) if !list.value.is_empty() => list
                .value
                .iter()
                .enumerate()
                .filter_map(|(i, o)| self.objref(o, &format!("{field}.objects[{i}]"), true))
                .collect(),
            (Some(_), Some(_)) => {
                self.err(
                    pos,
                    field,
                    "both `object` and `objects` are given",
                    "keep one",
                );
                Vec::new()
            }
            _ => {
                self.err(
                    pos,
                    field,
                    "no object given",
                    "add `object: kind/name` or `objects: [kind/name, ...]`",
                );
                Vec::new()
            }
        }
    }

    pub(super) fn pod_target(
        &mut self,
        pod: Option<&S>,
        selector: Option<&S>,
        pos: Pos,
        field: &str,
    ) -> Option<PodTarget> {
        match (pod, selector) {
            (Some(p), None) => {
                let (tpl, rendered) = self.tpl_rendered(p, &format!("{field}.pod"));
                if !p.value.contains("captured") && !self.known.contains(&("Pod", rendered.clone()))
                {
                    self.err(
                        pos_of(p),
                        &format!("{field}.pod"),
                        format!("pod `{rendered}` is never applied before this step"),
                        "apply it earlier, or use `selector:` for pods a Deployment or Job \
                         creates",
                    );
                }
                Some(PodTarget::Named(tpl))
            }
            (None, Some(s)) => Some(PodTarget::Selector(
                self.selector(s, &format!("{field}.selector")),
            )),
            (Some(_), Some(_)) => {
                self.err(
                    pos,
                    field,
                    "both `pod` and `selector` are given",
                    "keep one",
                );
                None
            }
            (None, None) => {
                self.err(
                    pos,
                    field,
                    "no pod given",
                    "add `pod: NAME` or `selector: key=value`",
                );
                None
            }
        }
    }

    pub(super) fn selector(&mut self, s: &S, field: &str) -> Tpl {
        let (tpl, rendered) = self.tpl_rendered(s, field);
        let ok = !rendered.trim().is_empty()
            && rendered.split(',').all(|term| {
                term.split_once('=')
                    .is_some_and(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
            });
        if !ok {
            self.err(
                pos_of(s),
                field,
                format!("`{}` is not a label selector", s.value),
                "write `key=value[,key=value...]`, such as `app=nginx`",
            );
        }
        tpl
    }

    // ---- predicates ----------------------------------------------------------------------

    /// A predicate: every key written, in the order of [`f::PredicateDef`], all of which
    /// must hold; keys are checked against the object's `kind` when it is known.
    pub(super) fn pred(
        &mut self,
        def: &Spanned<f::PredicateDef>,
        field: &str,
        kind: Option<&KindInfo>,
    ) -> Pred {
        let d = &def.value;
        let mut all = Vec::new();
        self.status_preds(d, field, kind, &mut all);
        self.metadata_preds(d, field, &mut all);
        self.value_preds(d, field, kind, &mut all);
        self.nested_preds(d, field, kind, &mut all);
        if all.is_empty() {
            self.err(
                pos_of(def),
                field,
                "no condition given",
                "add a condition such as `phase: Bound`, `ready: true` or `exists: false`",
            );
        }
        if all.len() == 1 {
            all.remove(0)
        } else {
            Pred::All(all)
        }
    }

    /// Reports `key` written for an object of a `kind` it does not apply to.
    fn key_applies(
        &mut self,
        kind: Option<&KindInfo>,
        field: &str,
        key: &str,
        pos: Pos,
        kinds: &[&str],
    ) {
        if let Some(k) = kind
            && !kinds.contains(&k.short)
        {
            self.err(
                pos,
                &format!("{field}.{key}"),
                format!("`{key}` does not apply to a {}", k.kind),
                format!("`{key}` applies to: {}", kinds.join(", ")),
            );
        }
    }

    /// Keys on the status of one kind: `phase` to `failed`.
    fn status_preds(
        &mut self,
        d: &f::PredicateDef,
        field: &str,
        kind: Option<&KindInfo>,
        all: &mut Vec<Pred>,
    ) {
        if let Some(s) = &d.phase {
            self.key_applies(kind, field, "phase", pos_of(s), &["pvc", "pv", "pod"]);
            all.push(Pred::Phase(self.tpl(s, &format!("{field}.phase"))));
        }
        if let Some(s) = &d.bound_to {
            self.key_applies(kind, field, "bound-to", pos_of(s), &["pvc"]);
            all.push(Pred::BoundTo(self.tpl(s, &format!("{field}.bound-to"))));
        }
        if let Some(s) = &d.claimed_by {
            self.key_applies(kind, field, "claimed-by", pos_of(s), &["pv"]);
            all.push(Pred::ClaimedBy(self.tpl(s, &format!("{field}.claimed-by"))));
        }
        if let Some(b) = &d.unclaimed {
            self.key_applies(kind, field, "unclaimed", pos_of(b), &["pv"]);
            all.push(Pred::Unclaimed(b.value));
        }
        if let Some(b) = &d.ready {
            self.key_applies(kind, field, "ready", pos_of(b), &["pod"]);
            all.push(Pred::Ready(b.value));
        }
        if let Some(n) = &d.available {
            self.key_applies(kind, field, "available", pos_of(n), &["deployment"]);
            all.push(Pred::Available(n.value));
        }
        if let Some(n) = &d.ready_replicas {
            self.key_applies(kind, field, "ready-replicas", pos_of(n), &["statefulset"]);
            all.push(Pred::ReadyReplicas(n.value));
        }
        if let Some(b) = &d.complete {
            self.key_applies(kind, field, "complete", pos_of(b), &["job"]);
            all.push(Pred::Complete(b.value));
        }
        if let Some(b) = &d.failed {
            self.key_applies(kind, field, "failed", pos_of(b), &["job"]);
            all.push(Pred::Failed(b.value));
        }
    }

    /// Keys any object has: `exists` to `annotations`.
    fn metadata_preds(&mut self, d: &f::PredicateDef, field: &str, all: &mut Vec<Pred>) {
        if let Some(b) = &d.exists {
            all.push(Pred::Exists(b.value));
        }
        if let Some(b) = &d.terminating {
            all.push(Pred::Terminating(b.value));
        }
        if let Some(s) = &d.finalizer {
            all.push(Pred::Finalizer(self.tpl(s, &format!("{field}.finalizer"))));
        }
        if let Some(m) = &d.labels {
            let entries = m
                .value
                .iter()
                .map(|(k, v)| (k.clone(), self.tpl(v, &format!("{field}.labels.{k}"))))
                .collect();
            all.push(Pred::Labels(entries));
        }
        if let Some(m) = &d.annotations {
            let entries = m
                .value
                .iter()
                .map(|(k, v)| (k.clone(), self.tpl(v, &format!("{field}.annotations.{k}"))))
                .collect();
            all.push(Pred::Annotations(entries));
        }
    }

    /// Keys comparing a value: `capacity`, `field`, `uid-differs`, `restarts`.
    fn value_preds(
        &mut self,
        d: &f::PredicateDef,
        field: &str,
        kind: Option<&KindInfo>,
        all: &mut Vec<Pred>,
    ) {
        if let Some(s) = &d.capacity {
            self.key_applies(kind, field, "capacity", pos_of(s), &["pvc"]);
            all.push(Pred::Capacity(self.tpl(s, &format!("{field}.capacity"))));
        }
        if let Some(fd) = &d.field {
            let path = &fd.value.path;
            if !path.value.starts_with('/') {
                self.err(
                    pos_of(path),
                    &format!("{field}.field.path"),
                    format!("`{}` is not a JSON pointer", path.value),
                    "write a JSON pointer such as `/status/capacity/storage`",
                );
            }
            let node = fd.value.equals.locate();
            self.node_templates(&node, &format!("{field}.field.equals"), None);
            all.push(Pred::Field(path.value.clone(), node));
        }
        if let Some(s) = &d.uid_differs {
            self.key_applies(kind, field, "uid-differs", pos_of(s), &["pod"]);
            all.push(Pred::UidDiffers(
                self.tpl(s, &format!("{field}.uid-differs")),
            ));
        }
        if let Some(r) = &d.restarts {
            self.key_applies(kind, field, "restarts", pos_of(r), &["pod"]);
            all.push(Pred::Restarts(
                r.value.container.value.clone(),
                r.value.at_least.value,
            ));
        }
    }

    /// Keys holding predicates: `not` and `any-of`.
    fn nested_preds(
        &mut self,
        d: &f::PredicateDef,
        field: &str,
        kind: Option<&KindInfo>,
        all: &mut Vec<Pred>,
    ) {
        if let Some(inner) = &d.not {
            all.push(Pred::Not(Box::new(self.pred(
                inner,
                &format!("{field}.not"),
                kind,
            ))));
        }
        if let Some(list) = &d.any_of {
            if list.value.is_empty() {
                self.err(
                    pos_of(list),
                    &format!("{field}.any-of"),
                    "an empty list",
                    "give at least one condition",
                );
            }
            let preds = list
                .value
                .iter()
                .enumerate()
                .map(|(i, p)| self.pred(p, &format!("{field}.any-of[{i}]"), kind))
                .collect();
            all.push(Pred::Any(preds));
        }
    }

    // ---- manifests -----------------------------------------------------------------------

    /// Checks every string of a tree as a template; returns the tree rendered with
    /// placeholder values.
    pub(super) fn node_templates(
        &mut self,
        node: &Located<Node>,
        field: &str,
        file: Option<&Path>,
    ) -> Located<Node> {
        let rendered = node
            .value
            .try_map_strings(node.pos, &mut |s: &str, pos: Pos| {
                Ok::<_, ()>(self.tpl_at(s, pos, field, file).1)
            });
        match rendered {
            Ok(n) => Located::new(n, node.pos),
            Err(()) => node.clone(),
        }
    }

    /// The manifests an `apply` step gives inline (`manifests`) or in a file (`file`).
    pub(super) fn manifests(
        &mut self,
        inline: &Option<Spanned<Vec<SourceNode>>>,
        in_file: &Option<S>,
        pos: Pos,
        field: &str,
    ) -> Vec<Manifest> {
        let (nodes, file): (Vec<Located<Node>>, PathBuf) = match (inline, in_file) {
            (Some(list), None) => (
                list.value.iter().map(|n| n.locate()).collect(),
                self.file.to_owned(),
            ),
            (None, Some(rel)) => {
                let (_, rendered) = self.tpl_rendered(rel, &format!("{field}.file"));
                let path = self
                    .file
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join(&rendered);
                match std::fs::read_to_string(&path) {
                    Ok(text) => match manifest::parse_documents(&text, &path) {
                        Ok(docs) => (docs, path),
                        Err(e) => {
                            self.err_in(
                                e.file.clone(),
                                e.pos,
                                &format!("{field}.file"),
                                e.message,
                                "fix the YAML syntax",
                            );
                            return Vec::new();
                        }
                    },
                    Err(e) => {
                        self.err(
                            pos_of(rel),
                            &format!("{field}.file"),
                            format!("`{}` cannot be read: {e}", path.display()),
                            "paths are relative to the scenario file's directory",
                        );
                        return Vec::new();
                    }
                }
            }
            (Some(_), Some(_)) => {
                self.err(
                    pos,
                    field,
                    "both `manifests` and `file` are given",
                    "keep one",
                );
                return Vec::new();
            }
            (None, None) => {
                self.err(
                    pos,
                    field,
                    "nothing to apply",
                    "add `manifests: [...]` or `file: manifests/NAME.yaml`",
                );
                return Vec::new();
            }
        };
        if nodes.is_empty() {
            self.err(pos, field, "nothing to apply", "give at least one manifest");
        }
        let in_other_file = file != self.file;
        let mut out = Vec::new();
        for (i, node) in nodes.into_iter().enumerate() {
            let mfield = format!("{field}.manifests[{i}]");
            let fref = in_other_file.then_some(file.as_path());
            let before = self.errors.len();
            let rendered = self.node_templates(&node, &mfield, fref);
            // A manifest whose templates failed renders wrongly: only note the objects it
            // creates, so the template error is not followed by errors it caused.
            let clean = self.errors.len() == before;
            self.check_manifest(&rendered, &mfield, &file, clean);
            out.push(Manifest {
                node,
                file: file.clone(),
            });
        }
        out
    }

    /// Static checks of one rendered manifest; registers the objects it creates.
    /// Static checks of one rendered manifest; registers the objects it creates.
    fn check_manifest(&mut self, m: &Located<Node>, field: &str, file: &Path, strict: bool) {
        let Some((info, name)) = self.manifest_kind(m, field, file) else {
            return;
        };
        if !strict {
            self.known.insert((info.kind, name));
            return;
        }
        self.check_placement(m, field, file, info, &name);
        self.check_classes(m, field, file, info.kind);
        self.check_object_name(m, field, file, info.kind, &name);
        self.check_schema(m, field, file, info, &name);
        self.register_objects(m, info, name);
    }

    /// The manifest's supported kind and its name, or why there is none.
    fn manifest_kind(
        &mut self,
        m: &Located<Node>,
        field: &str,
        file: &Path,
    ) -> Option<(&'static KindInfo, String)> {
        let file = file.to_owned();
        let text = |n: Option<&Located<Node>>| n.and_then(|n| n.value.as_str().map(str::to_owned));
        let name_node = m.value.get("metadata").and_then(|md| md.value.get("name"));
        let (Some(api_version), Some(kind), Some(name)) = (
            text(m.value.get("apiVersion")),
            text(m.value.get("kind")),
            text(name_node),
        ) else {
            self.err_in(
                file,
                m.pos,
                field,
                "a manifest needs `apiVersion`, `kind` and `metadata.name`",
                "write a complete Kubernetes object",
            );
            return None;
        };
        if kind == "Namespace" {
            self.err_in(
                file,
                m.pos,
                field,
                "scenarios do not create namespaces",
                "the engine runs each scenario in its own namespace, `{{ namespace }}`; \
                 leave `metadata.namespace` out",
            );
            return None;
        }
        let Some(info) = KindInfo::by_manifest(&api_version, &kind) else {
            let kinds: Vec<String> = KINDS
                .iter()
                .map(|k| format!("{} {}", k.api_version, k.kind))
                .collect();
            self.err_in(
                file,
                m.pos,
                field,
                format!("unsupported kind `{api_version} {kind}`"),
                format!("supported: {}", kinds.join(", ")),
            );
            return None;
        };
        Some((info, name))
    }

    /// Where the object lives: only in the scenario's namespace, and a cluster-scoped name
    /// carries the run prefix.
    fn check_placement(
        &mut self,
        m: &Located<Node>,
        field: &str,
        file: &Path,
        info: &KindInfo,
        name: &str,
    ) {
        let metadata = m.value.get("metadata");
        let name_node = metadata.and_then(|md| md.value.get("name"));
        if let Some(ns) = metadata.and_then(|md| md.value.get("namespace")) {
            let ok = info.namespaced && ns.value.as_str() == Some(self.vars.namespace.as_str());
            if !ok {
                self.err_in(
                    file.to_owned(),
                    ns.pos,
                    &format!("{field}.metadata.namespace"),
                    "objects live in the scenario's own namespace",
                    "leave `metadata.namespace` out (or write `{{ namespace }}`)",
                );
            }
        }
        let prefix = self.vars.prefix.clone();
        if !info.namespaced && !name.starts_with(&prefix) {
            self.err_in(
                file.to_owned(),
                name_node.map_or(m.pos, |n| n.pos),
                &format!("{field}.metadata.name"),
                format!(
                    "cluster-scoped {} name `{name}` lacks the run prefix",
                    info.kind
                ),
                format!(
                    "write `name: \"{{{{ prefix }}}}-{}\"` so concurrent scenarios and runs never \
                     share it",
                    name.trim_start_matches('-')
                ),
            );
        }
    }

    /// Storage classes and provisioners carry the run prefix, so no other scenario or run
    /// can bind this scenario's volumes.
    fn check_classes(&mut self, m: &Located<Node>, field: &str, file: &Path, kind: &str) {
        let prefix = self.vars.prefix.clone();
        for (path, node) in storage_class_nodes(m, kind) {
            match node {
                Some(n) if n.value.as_str().is_some_and(|c| c.starts_with(&prefix)) => {}
                Some(n) => self.err_in(
                    file.to_owned(),
                    n.pos,
                    &format!("{field}.{path}"),
                    format!(
                        "storageClassName `{}` lacks the run prefix",
                        n.value.as_str().unwrap_or_default()
                    ),
                    "write `storageClassName: \"{{ prefix }}-nfs\"`: a class shared with other \
                     scenarios or runs lets their claims bind this scenario's volumes",
                ),
                None => self.err_in(
                    file.to_owned(),
                    m.pos,
                    &format!("{field}.{path}"),
                    "storageClassName is not set",
                    "set `storageClassName: \"{{ prefix }}-nfs\"`: without it a claim gets the \
                     cluster's default class (kind's `standard`) and never binds a static PV, \
                     and a class-less PV can be bound by any class-less claim",
                ),
            }
        }
        if kind == "StorageClass"
            && let Some(p) = m.value.get("provisioner")
        {
            let value = p.value.as_str().unwrap_or_default();
            if !value.starts_with(&prefix) && value != "kubernetes.io/no-provisioner" {
                self.err_in(
                    file.to_owned(),
                    p.pos,
                    &format!("{field}.provisioner"),
                    format!("provisioner `{value}` lacks the run prefix"),
                    "name the provisioner a `deploy-provisioner` step started, such as \
                     `\"{{ prefix }}/nfs-subdir-external-provisioner\"`",
                );
            }
        }
    }

    /// The name is a valid Kubernetes object name.
    fn check_object_name(
        &mut self,
        m: &Located<Node>,
        field: &str,
        file: &Path,
        kind: &str,
        name: &str,
    ) {
        if let Err(e) = crate::names::dns_subdomain("object name", name) {
            let name_node = m.value.get("metadata").and_then(|md| md.value.get("name"));
            let (rule, _) = split_hint(&e.rule);
            self.err_in(
                file.to_owned(),
                name_node.map_or(m.pos, |n| n.pos),
                &format!("{field}.metadata.name"),
                format!(
                    "{kind} name `{}` is not a valid object name: {rule}",
                    e.shown
                ),
                "Kubernetes names are lowercase letters, digits, `-` and `.`, at most 253 \
                 characters, starting and ending with a letter or digit",
            );
        }
    }

    /// The manifest against the Kubernetes schema of its kind.
    fn check_schema(
        &mut self,
        m: &Located<Node>,
        field: &str,
        file: &Path,
        info: &KindInfo,
        name: &str,
    ) {
        for problem in schema_check(info, &m.value.to_json()) {
            let at = crate::k8s::schema::locate(m, &problem.path);
            let path = problem.path.to_string();
            self.err_in(
                file.to_owned(),
                at,
                &if path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{field}.{path}")
                },
                format!("{} `{name}`: {}", info.kind, problem.message),
                problem.hint,
            );
        }
    }

    /// Notes the object as applied, and for a StatefulSet the pods and claims it creates.
    fn register_objects(&mut self, m: &Located<Node>, info: &'static KindInfo, name: String) {
        self.known.insert((info.kind, name.clone()));
        if info.kind == "StatefulSet" {
            let replicas = m
                .value
                .get("spec")
                .and_then(|s| s.value.get("replicas"))
                .and_then(|r| match r.value {
                    Node::Int(i) => Some(i),
                    _ => None,
                })
                .unwrap_or(1);
            let templates: Vec<String> = match m
                .value
                .get("spec")
                .and_then(|s| s.value.get("volumeClaimTemplates"))
                .map(|v| &v.value)
            {
                Some(Node::Seq(items)) => items
                    .iter()
                    .filter_map(|t| {
                        t.value
                            .get("metadata")
                            .and_then(|md| md.value.get("name"))
                            .and_then(|n| n.value.as_str().map(str::to_owned))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            self.sets.insert(name.clone(), (templates, 0));
            self.statefulset_replicas(&name, replicas);
        }
    }

    /// Registers the pods and claims a StatefulSet has with `replicas` replicas.
    pub(super) fn statefulset_replicas(&mut self, set: &str, replicas: i64) {
        let Some((templates, known)) = self.sets.get_mut(set) else {
            return;
        };
        let from = *known;
        *known = (*known).max(replicas);
        let templates = templates.clone();
        for i in from..replicas {
            self.known.insert(("Pod", format!("{set}-{i}")));
            for t in &templates {
                self.known
                    .insert(("PersistentVolumeClaim", format!("{t}-{set}-{i}")));
            }
        }
    }
}

/// The `storageClassName` fields of a manifest that must carry the prefix: on PVs, PVCs and
/// each StatefulSet claim template (`None`: the field is absent).
fn storage_class_nodes<'n>(
    m: &'n Located<Node>,
    kind: &str,
) -> Vec<(String, Option<&'n Located<Node>>)> {
    let spec = m.value.get("spec");
    match kind {
        "PersistentVolume" | "PersistentVolumeClaim" => {
            vec![(
                "spec.storageClassName".to_owned(),
                spec.and_then(|s| s.value.get("storageClassName")),
            )]
        }
        "StatefulSet" => match spec
            .and_then(|s| s.value.get("volumeClaimTemplates"))
            .map(|v| &v.value)
        {
            Some(Node::Seq(items)) => items
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        format!("spec.volumeClaimTemplates[{i}].spec.storageClassName"),
                        t.value
                            .get("spec")
                            .and_then(|s| s.value.get("storageClassName")),
                    )
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Checks a manifest against the Kubernetes types of its kind (field names, field types and
/// required fields as k8s-openapi models them); every problem has its path in the manifest.
fn schema_check(info: &KindInfo, value: &Value) -> Vec<crate::k8s::schema::SchemaProblem> {
    use crate::k8s::schema::check;
    use k8s_openapi::api::{apps, batch, core, rbac, storage};
    match info.kind {
        "Pod" => check::<core::v1::Pod>(value),
        "PersistentVolumeClaim" => check::<core::v1::PersistentVolumeClaim>(value),
        "PersistentVolume" => check::<core::v1::PersistentVolume>(value),
        "Service" => check::<core::v1::Service>(value),
        "ConfigMap" => check::<core::v1::ConfigMap>(value),
        "Secret" => check::<core::v1::Secret>(value),
        "ServiceAccount" => check::<core::v1::ServiceAccount>(value),
        "Deployment" => check::<apps::v1::Deployment>(value),
        "StatefulSet" => check::<apps::v1::StatefulSet>(value),
        "ReplicaSet" => check::<apps::v1::ReplicaSet>(value),
        "DaemonSet" => check::<apps::v1::DaemonSet>(value),
        "Job" => check::<batch::v1::Job>(value),
        "StorageClass" => check::<storage::v1::StorageClass>(value),
        "Role" => check::<rbac::v1::Role>(value),
        "RoleBinding" => check::<rbac::v1::RoleBinding>(value),
        "ClusterRole" => check::<rbac::v1::ClusterRole>(value),
        "ClusterRoleBinding" => check::<rbac::v1::ClusterRoleBinding>(value),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load::parse;

    const HEAD: &str = "id: t\ntitle: test\nsources: [unit]\ndescription: x\nsteps:\n";

    fn errors(steps: &str) -> Vec<ScenarioError> {
        match parse(&format!("{HEAD}{steps}"), Path::new("dir/t.yaml")) {
            Ok(s) => panic!("expected errors, got {s:?}"),
            Err(ValidationErrors(e)) => e,
        }
    }

    /// The single error, checked for location, field and the presence of a hint.
    fn one(steps: &str, line: u32, column: u32, field: &str) -> ScenarioError {
        let errs = errors(steps);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let e = errs.into_iter().next().expect("one");
        assert_eq!(e.file, Path::new("dir/t.yaml"));
        assert_eq!((e.pos.line, e.pos.column), (line, column), "{e}");
        assert_eq!(e.field, field, "{e}");
        assert!(e.hint.is_some(), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("dir/t.yaml:{line}:{column}: {field}: ")),
            "{e}"
        );
        e
    }

    const PVC: &str = r#"  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: pvc1}
          spec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
            storageClassName: "{{ prefix }}-nfs"
"#;

    #[test]
    fn a_valid_file_gives_the_plan() {
        let s = parse(
            &format!(
                "{HEAD}{PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}, timeout: recycle}}\n"
            ),
            Path::new("dir/t.yaml"),
        )
        .expect("valid");
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[1].pos, Pos::new(15, 5));
        assert_eq!(
            s.steps[1].timeout,
            StepTimeout::Configured(TimeoutKind::Recycle)
        );
        assert_eq!(
            s.steps[0].timeout,
            StepTimeout::Configured(TimeoutKind::Request)
        );
        assert!(!s.requires.server_files);
        assert_eq!(s.location(s.steps[1].pos), "dir/t.yaml:15:5");
    }

    #[test]
    fn unknown_step_kind() {
        let e = one("  - aply: {}\n", 6, 5, "steps[1]");
        assert!(e.message.contains("unknown value `aply`"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("did you mean `apply`")),
            "{e}"
        );
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("server-expect")),
            "{e}"
        );
    }

    #[test]
    fn unknown_field() {
        let e = one(
            "  - wait: {object: pvc/x, for: {phase: Bound}, forr: 1}\n",
            6,
            48,
            "steps[1].wait.forr",
        );
        assert!(e.message.contains("unknown field `forr`"), "{e}");
    }

    #[test]
    fn wrong_type() {
        let e = one(
            "  - scale: {object: statefulset/web, replicas: two}\n",
            6,
            48,
            "steps[1].scale.replicas",
        );
        assert!(e.message.contains("a whole number"), "{e}");
    }

    #[test]
    fn missing_field() {
        let e = one("  - wait: {object: pvc/x}\n", 6, 12, "steps[1].wait");
        assert!(e.message.contains("missing field `for`"), "{e}");
    }

    #[test]
    fn two_kinds_in_one_step() {
        let e = one(
            "  - wait: {object: pvc/x, for: {phase: Bound}}\n    delete: {object: pvc/x}\n",
            7,
            5,
            "steps[1].wait",
        );
        assert!(e.message.contains("one key"), "{e}");
    }

    #[test]
    fn bad_duration() {
        let e = one(
            &format!(
                "{PVC}  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}, timeout: 5 parsecs}}\n"
            ),
            15,
            60,
            "steps[2].wait.timeout",
        );
        assert!(e.message.contains("`5 parsecs` has an unknown unit"), "{e}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("recycle")),
            "{e}"
        );
        let e = one(
            &format!("{PVC}  - stays: {{object: pvc/pvc1, is: {{phase: Pending}}, for: soon}}\n"),
            15,
            58,
            "steps[2].stays.for",
        );
        assert_eq!(e.message, "`soon` is not a duration");
        assert_eq!(
            e.hint.as_deref(),
            Some("whole numbers with units, largest first, e.g. `30s`, `500ms`, `1m30s`")
        );
    }

    #[test]
    fn reference_to_an_object_never_applied() {
        let e = one(
            "  - wait: {object: pvc/pvc1, for: {phase: Bound}}\n",
            6,
            20,
            "steps[1].wait.object",
        );
        assert_eq!(
            e.message,
            "PersistentVolumeClaim `pvc1` is never applied before this step"
        );
        // Applied later does not count.
        let errs = errors(&format!(
            "  - wait: {{object: pvc/pvc1, for: {{phase: Bound}}}}\n{PVC}"
        ));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        // Objects a StatefulSet creates do count.
        let set = r#"  - apply:
      manifests:
        - apiVersion: apps/v1
          kind: StatefulSet
          metadata: {name: web}
          spec:
            serviceName: nginx
            replicas: 2
            selector: {matchLabels: {app: nginx}}
            template:
              metadata: {labels: {app: nginx}}
              spec: {containers: [{name: c, image: i}]}
            volumeClaimTemplates:
              - metadata: {name: www}
                spec:
                  accessModes: [ReadWriteOnce]
                  storageClassName: "{{ prefix }}-nfs"
                  resources: {requests: {storage: 1Gi}}
  - wait: {objects: [pvc/www-web-1, pod/web-1], for: {exists: true}}
  - scale: {object: statefulset/web, replicas: 3}
  - wait: {object: pod/web-2, for: {ready: true}}
"#;
        parse(&format!("{HEAD}{set}"), Path::new("dir/t.yaml")).expect("derived objects");
        let e = one(
            &format!("{set}  - wait: {{object: pod/web-3, for: {{ready: true}}}}\n"),
            27,
            20,
            "steps[5].wait.object",
        );
        assert!(e.message.contains("`web-3`"), "{e}");
    }

    #[test]
    fn unknown_kind_in_a_reference() {
        let e = one(
            "  - delete: {object: volume/x}\n",
            6,
            22,
            "steps[1].delete.object",
        );
        assert_eq!(e.message, "unknown kind `volume`");
    }

    #[test]
    fn unknown_template_variable_in_a_manifest() {
        let steps = PVC.replace("{{ prefix }}-nfs", "{{ prefix }}-{{ nfs.servr }}");
        let e = one(&steps, 14, 31, "steps[1].apply.manifests[0]");
        assert_eq!(e.message, "unknown template variable `nfs.servr`");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("nfs.server")),
            "{e}"
        );
    }

    #[test]
    fn captured_values_only_after_their_capture() {
        let before = format!(
            "{PVC}  - wait: {{object: pvc/pvc1, for: {{bound-to: \"{{{{ captured.pv }}}}\"}}}}\n"
        );
        let e = one(&before, 15, 46, "steps[2].wait.for.bound-to");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("as: pv")),
            "{e}"
        );
        let after = format!(
            "{PVC}  - capture: {{object: pvc/pvc1, field: /spec/volumeName, as: pv}}\n  - wait: {{object: \"pv/{{{{ captured.pv }}}}\", for: {{phase: Bound}}}}\n"
        );
        parse(&format!("{HEAD}{after}"), Path::new("dir/t.yaml")).expect("captured first");
    }

    #[test]
    fn cluster_scoped_names_and_classes_need_the_prefix() {
        let pv = r#"  - apply:
      manifests:
        - apiVersion: v1
          kind: PersistentVolume
          metadata: {name: pv1}
          spec:
            capacity: {storage: 1Gi}
            accessModes: [ReadWriteOnce]
            storageClassName: nfs
            nfs: {server: "{{ nfs.server }}", path: /x}
"#;
        let errs = errors(pv);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_eq!(errs[0].pos, Pos::new(10, 28));
        assert_eq!(errs[0].field, "steps[1].apply.manifests[0].metadata.name");
        assert!(
            errs[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("{{ prefix }}-pv1"))
        );
        assert_eq!(errs[1].pos, Pos::new(14, 31));
        assert_eq!(
            errs[1].field,
            "steps[1].apply.manifests[0].spec.storageClassName"
        );
        let no_class = PVC.replace("            storageClassName: \"{{ prefix }}-nfs\"\n", "");
        let e = one(
            &no_class,
            8,
            11,
            "steps[1].apply.manifests[0].spec.storageClassName",
        );
        assert!(
            e.hint
                .as_deref()
                .is_some_and(|h| h.contains("default class")),
            "{e}"
        );
    }

    #[test]
    fn manifests_are_checked_against_the_kubernetes_schema() {
        let steps = PVC.replace("accessModes: [ReadWriteOnce]", "accessModes: ReadWriteOnce");
        let e = one(
            &steps,
            12,
            13,
            "steps[1].apply.manifests[0].spec.accessModes",
        );
        assert_eq!(
            e.message,
            "PersistentVolumeClaim `pvc1`: found the text `ReadWriteOnce` where a list belongs"
        );
        let steps = PVC.replace("accessModes:", "accesModes:");
        let e = one(
            &steps,
            12,
            13,
            "steps[1].apply.manifests[0].spec.accesModes",
        );
        assert_eq!(
            e.message,
            "PersistentVolumeClaim `pvc1`: unknown field `accesModes`"
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `accessModes`?"));
        let steps = PVC.replace("metadata: {name: pvc1}", "metadata: {name: PVC_1}");
        let errs = errors(&steps);
        assert!(
            errs.iter()
                .any(|e| e.field == "steps[1].apply.manifests[0].metadata.name"
                    && e.message.contains("`PVC_1` is not a valid object name")),
            "{errs:#?}"
        );
    }

    #[test]
    fn predicates_must_fit_the_kind() {
        let e = one(
            &format!("{PVC}  - wait: {{object: pvc/pvc1, for: {{ready: true}}}}\n"),
            15,
            43,
            "steps[2].wait.for.ready",
        );
        assert_eq!(
            e.message,
            "`ready` does not apply to a PersistentVolumeClaim"
        );
    }

    #[test]
    fn server_paths_stay_inside_the_scenario_directory() {
        let e = one(
            "  - server-mkdir: {path: ../other}\n",
            6,
            26,
            "steps[1].server-mkdir.path",
        );
        assert!(e.message.contains("not a path inside"), "{e}");
        let s = parse(
            &format!("{HEAD}  - server-expect: {{path: ., empty: true}}\n"),
            Path::new("dir/t.yaml"),
        )
        .expect("the directory itself");
        assert!(s.requires.server_files);
    }

    #[test]
    fn server_expect_owners_are_numeric() {
        let e = one(
            "  - server-expect: {path: a, owner: root}\n",
            6,
            37,
            "steps[1].server-expect.owner",
        );
        assert_eq!(e.message, "`root` is not a numeric owner");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("UID:GID")));
        let e = one(
            "  - server-expect: {path: a, exists: false, owner: \"0:0\"}\n",
            6,
            5,
            "steps[1].server-expect",
        );
        assert!(e.message.contains("`exists: false`"), "{e}");
        parse(
            &format!("{HEAD}  - server-expect: {{path: a, owner: \"0:0\"}}\n"),
            Path::new("dir/t.yaml"),
        )
        .expect("an owner is a check of its own");
    }

    #[test]
    fn id_must_match_the_file_name() {
        let text = HEAD.replace("id: t", "id: other") + "  - server-mkdir: {path: a}\n";
        let Err(ValidationErrors(errs)) = parse(&text, Path::new("dir/t.yaml")) else {
            panic!("expected an error");
        };
        assert_eq!(errs[0].pos, Pos::new(1, 5));
        assert_eq!(errs[0].field, "id");
        assert!(
            errs[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("other.yaml"))
        );
    }

    #[test]
    fn manifest_files_are_read_next_to_the_scenario_and_errors_name_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
        std::fs::write(
            dir.path().join("manifests/pv.yaml"),
            "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: \"{{ prefx }}-pv\"\n",
        )
        .expect("write");
        let file = dir.path().join("t.yaml");
        let text = format!("{HEAD}  - apply: {{file: manifests/pv.yaml}}\n");
        let Err(ValidationErrors(errs)) = parse(&text, &file) else {
            panic!("expected an error");
        };
        assert_eq!(errs[0].file, dir.path().join("manifests/pv.yaml"));
        assert_eq!(errs[0].pos, Pos::new(4, 9));
        assert_eq!(errs[0].message, "unknown template variable `prefx`");
        let missing = format!("{HEAD}  - apply: {{file: manifests/none.yaml}}\n");
        let Err(ValidationErrors(errs)) = parse(&missing, &file) else {
            panic!("expected an error");
        };
        assert_eq!(errs[0].pos, Pos::new(6, 19));
        assert!(errs[0].message.contains("cannot be read"), "{}", errs[0]);
    }

    #[test]
    fn a_server_restart_makes_the_scenario_run_alone() {
        let plain = parse(&format!("{HEAD}{PVC}"), Path::new("dir/t.yaml")).expect("valid");
        assert!(!plain.exclusive, "runs beside others by default");
        let asked = parse(
            &(HEAD.replace("steps:\n", "exclusive: true\nsteps:\n") + PVC),
            Path::new("dir/t.yaml"),
        )
        .expect("valid");
        assert!(asked.exclusive);
        let restart = parse(
            &format!("{HEAD}  - restart-nfs-server: {{}}\n"),
            Path::new("dir/t.yaml"),
        )
        .expect("valid");
        assert!(restart.exclusive, "implied by the restart");
        assert!(restart.requires.server_restart);
        let text =
            HEAD.replace("steps:\n", "exclusive: false\nsteps:\n") + "  - restart-nfs-server: {}\n";
        let Err(ValidationErrors(errs)) = parse(&text, Path::new("dir/t.yaml")) else {
            panic!("a restart cannot run beside others");
        };
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(
            errs[0].to_string(),
            "dir/t.yaml:5:12: exclusive: `false` contradicts the `restart-nfs-server` step: a \
             restart breaks the IO and server-side steps of every scenario running beside it \
             (hint: remove `exclusive: false`; the scenario runs alone after the others)"
        );
        let Err(ValidationErrors(errs)) = parse(
            &(HEAD.replace("steps:\n", "exclusive: yes please\nsteps:\n") + PVC),
            Path::new("dir/t.yaml"),
        ) else {
            panic!("not a boolean");
        };
        assert_eq!(errs[0].field, "exclusive", "{}", errs[0]);
        assert_eq!(errs[0].pos.line, 5, "{}", errs[0]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs = errors(
            "  - wait: {object: pvc/a, for: {phase: Bound}}\n  - delete: {object: pod/b}\n  - server-mkdir: {path: /abs}\n",
        );
        assert_eq!(errs.len(), 3, "{errs:#?}");
        let lines: Vec<u32> = errs.iter().map(|e| e.pos.line).collect();
        assert_eq!(lines, vec![6, 7, 8]);
    }
}
