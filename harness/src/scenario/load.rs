//! Reading a scenario file: its frame as written (id, notes, the steps), parsed with source
//! positions, then validated step by step into the engine's [`Scenario`].
//!
//! This is the top of the scenario's file handling: it uses the validator's core
//! ([`super::validate`]) and the step kinds' own checks ([`super::steps`]), which in turn
//! use only the shared file-format pieces (`format`) and the validator's core, so
//! none of them depends back on this file.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::format::S;
use super::plan::Scenario;
use super::steps::{StepDef, validate_step};
use super::template::{Images, Vars};
use super::validate::{ScenarioError, ValidationErrors, Validator, placeholder_server, pos_of};
use crate::k8s::manifest::Pos;
use crate::k8s::ownership::RunId;
use crate::model::scenarios::{Note, NoteKind};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileDef {
    pub id: S,
    pub code: Option<S>,
    pub title: S,
    #[serde(default)]
    pub sources: Vec<S>,
    pub description: Option<S>,
    #[serde(default)]
    pub notes: Vec<NoteDef>,
    pub timeout: Option<S>,
    pub exclusive: Option<Spanned<bool>>,
    pub steps: Spanned<Vec<Spanned<StepDef>>>,
}

/// A note for the report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct NoteDef {
    pub kind: Spanned<NoteKindDef>,
    pub text: S,
}

/// What a note is about.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum NoteKindDef {
    Hazard,
    Disagreement,
    Fix,
    Info,
}

/// Reads and validates a scenario file.
///
/// # Errors
/// The file cannot be read, or every problem found in it.
pub fn load_file(path: &Path) -> Result<Scenario, ValidationErrors> {
    match std::fs::read(path) {
        Ok(bytes) => match nfslab_workload::yaml_text_of(&bytes) {
            Ok(text) => parse(text, path),
            Err(e) => Err(ValidationErrors(vec![serde_error(path, &e)])),
        },
        Err(e) => Err(ValidationErrors(vec![ScenarioError {
            file: path.to_owned(),
            pos: Pos::default(),
            field: "file".to_owned(),
            message: format!("cannot be read: {e}"),
            hint: Some("check the path and its permissions".to_owned()),
        }])),
    }
}

/// Validates a scenario file's text (`path` names it in messages and locates the manifest
/// files it refers to).
///
/// # Errors
/// Every problem found.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ValidationErrors> {
    let def: FileDef = nfslab_workload::yaml_from_str(text)
        .map_err(|e| ValidationErrors(vec![serde_error(path, &e)]))?;
    let mut v = Validator::new(path);
    let scenario = scenario(&mut v, &def);
    if v.errors.is_empty() {
        Ok(scenario)
    } else {
        Err(ValidationErrors(v.errors))
    }
}

fn serde_error(path: &Path, error: &nfslab_workload::YamlError) -> ScenarioError {
    let field = error
        .path
        .as_deref()
        .map_or_else(|| "file".to_owned(), one_based_step);
    let hint = error.hint.clone().or_else(|| {
        Some(if error.message.starts_with("YAML syntax") {
            "check the indentation, quotes and brackets around here".to_owned()
        } else {
            "scenarios/README.md lists every field and what it takes; quote strings that start \
             with `{{` or look like numbers"
                .to_owned()
        })
    });
    ScenarioError {
        file: path.to_owned(),
        pos: Pos::new(
            u32::try_from(error.line).unwrap_or(u32::MAX),
            u32::try_from(error.column).unwrap_or(u32::MAX),
        ),
        field,
        message: error.message.clone(),
        hint,
    }
}

/// Steps are numbered from 1 in scenario messages (`steps[1]` is the first step), as the
/// validator and the run's report number them; the parser's paths count from 0.
fn one_based_step(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("steps[")
        && let Some((index, tail)) = rest.split_once(']')
        && let Ok(n) = index.parse::<usize>()
    {
        return format!("steps[{}]{tail}", n + 1);
    }
    path.to_owned()
}

fn scenario(v: &mut Validator<'_>, def: &FileDef) -> Scenario {
    let id = def.id.value.clone();
    let stem = v
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let valid_id = !id.is_empty()
        && id.len() <= 40
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if !valid_id {
        v.err(
            pos_of(&def.id),
            "id",
            format!("`{id}` is not a valid scenario id"),
            "use lowercase letters, digits and `-`, at most 40 characters",
        );
    } else if id != stem {
        v.err(
            pos_of(&def.id),
            "id",
            format!("`{id}` differs from the file name `{stem}`"),
            format!("name the file `{id}.yaml` or set `id: {stem}`"),
        );
    }
    if valid_id {
        let server = placeholder_server();
        let run = RunId::parse("00000000-000000-000000").unwrap_or_else(RunId::generate);
        v.vars = Vars::new(&run, &id, &server, &Images::default());
    }
    let timeout = def.timeout.as_ref().and_then(|t| v.duration(t, "timeout"));
    let notes = def
        .notes
        .iter()
        .map(|n| Note {
            kind: match n.kind.value {
                NoteKindDef::Hazard => NoteKind::Hazard,
                NoteKindDef::Disagreement => NoteKind::Disagreement,
                NoteKindDef::Fix => NoteKind::Fix,
                NoteKindDef::Info => NoteKind::Info,
            },
            text: n.text.value.trim().to_owned(),
        })
        .collect();
    if def.steps.value.is_empty() {
        v.err(
            pos_of(&def.steps),
            "steps",
            "a scenario needs at least one step",
            "see the annotated example in scenarios/README.md",
        );
    }
    let mut steps = Vec::new();
    for (i, step) in def.steps.value.iter().enumerate() {
        let field = format!("steps[{}].{}", i + 1, step.value.kind());
        if let Some(s) = validate_step(v, i + 1, pos_of(step), &field, &step.value) {
            steps.push(s);
        }
    }
    let exclusive = exclusive(v, def);
    Scenario {
        id,
        code: def.code.as_ref().map(|c| c.value.clone()),
        title: def.title.value.trim().to_owned(),
        sources: def.sources.iter().map(|s| s.value.clone()).collect(),
        description: def
            .description
            .as_ref()
            .map(|d| d.value.trim().to_owned())
            .unwrap_or_default(),
        notes,
        file: v.file.to_owned(),
        timeout,
        requires: v.requires,
        exclusive,
        steps,
    }
}

/// Whether the scenario runs alone: as written, and always when it restarts the NFS
/// server (which breaks the IO and the server-side steps of every other scenario).
fn exclusive(v: &mut Validator<'_>, def: &FileDef) -> bool {
    let restarts = v.requires.server_restart;
    match &def.exclusive {
        Some(written) if !written.value && restarts => {
            v.err(
                pos_of(written),
                "exclusive",
                "`false` contradicts the `restart-nfs-server` step: a restart breaks the \
                 IO and server-side steps of every scenario running beside it",
                "remove `exclusive: false`; the scenario runs alone after the others",
            );
            true
        }
        Some(written) => written.value || restarts,
        None => restarts,
    }
}
