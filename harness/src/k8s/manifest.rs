//! Kubernetes manifests as YAML text: parsing with source positions, and writing back.
//!
//! Scenario files embed manifests and point at manifest files; both are parsed into a
//! [`Node`] tree in which every value keeps its line and column ([`Located`]), so a bad value
//! deep inside a manifest (an unknown template variable, a class name without the run
//! prefix) is reported as `file:line:column`. A tree converts to the `serde_json::Value` the
//! [`super::Cluster`] interface takes ([`Node::to_json`]); `to_yaml` writes values back as
//! a multi-document YAML stream (for `--dry-run` renders and `kubectl`-style inspection).
//!
//! Parsing uses serde-saphyr; its types stay inside this module.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

/// A position in a YAML source (1-based line and column; `0:0` when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Pos {
    /// A position from a line and column.
    #[must_use]
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }

    pub(crate) fn from_location(location: serde_saphyr::Location) -> Self {
        Self {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it starts in its source.
    pub pos: Pos,
}

impl<T> Located<T> {
    /// A value at a position.
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

/// One YAML value with the positions of everything inside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Located<Node>>),
    /// A mapping, in source order.
    Map(Vec<(Located<String>, Located<Node>)>),
}

impl Node {
    /// The value as JSON, as the cluster interface takes it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.clone()),
            Self::Seq(items) => Value::Array(items.iter().map(|n| n.value.to_json()).collect()),
            Self::Map(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    map.insert(key.value.clone(), value.value.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// The entry `key` of a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Located<Node>> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, when this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A copy in which every string (values and mapping keys) went through `f`, which gets
    /// the string and its position. The first error stops the walk.
    ///
    /// # Errors
    /// The first error `f` returns.
    pub fn try_map_strings<E>(
        &self,
        pos: Pos,
        f: &mut impl FnMut(&str, Pos) -> Result<String, E>,
    ) -> Result<Node, E> {
        Ok(match self {
            Self::Str(s) => Self::Str(f(s, pos)?),
            Self::Seq(items) => Self::Seq(
                items
                    .iter()
                    .map(|n| Ok(Located::new(n.value.try_map_strings(n.pos, f)?, n.pos)))
                    .collect::<Result<_, E>>()?,
            ),
            Self::Map(entries) => Self::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = Located::new(f(&k.value, k.pos)?, k.pos);
                        let value = Located::new(v.value.try_map_strings(v.pos, f)?, v.pos);
                        Ok((key, value))
                    })
                    .collect::<Result<_, E>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Every string in the tree with its position (values and keys), depth first.
    #[must_use]
    pub fn strings(&self, pos: Pos) -> Vec<(&str, Pos)> {
        let mut out = Vec::new();
        self.collect_strings(pos, &mut out);
        out
    }

    fn collect_strings<'a>(&'a self, pos: Pos, out: &mut Vec<(&'a str, Pos)>) {
        match self {
            Self::Str(s) => out.push((s, pos)),
            Self::Seq(items) => {
                for n in items {
                    n.value.collect_strings(n.pos, out);
                }
            }
            Self::Map(entries) => {
                for (k, v) in entries {
                    out.push((&k.value, k.pos));
                    v.value.collect_strings(v.pos, out);
                }
            }
            _ => {}
        }
    }
}

/// A [`Node`] as read from YAML by serde-saphyr, with positions. Use it as a field type in
/// deserialized structs (a scenario's inline manifests) and turn it into a [`Located`]
/// [`Node`] with [`SourceNode::locate`].
#[derive(Debug)]
pub(crate) struct SourceNode(Spanned<RawNode>);

impl SourceNode {
    /// The tree with plain positions.
    #[must_use]
    pub(crate) fn locate(&self) -> Located<Node> {
        locate(&self.0)
    }
}

impl<'de> Deserialize<'de> for SourceNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::<RawNode>::deserialize(deserializer).map(Self)
    }
}

#[derive(Debug)]
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        i64::try_from(v)
            .map(RawNode::Int)
            .map_err(|_| E::custom(format!("integer `{v}` is too large")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }

    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<RawNode>>()?;
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

fn locate(raw: &Spanned<RawNode>) -> Located<Node> {
    let pos = Pos::from_location(raw.referenced);
    let node = match &raw.value {
        RawNode::Null => Node::Null,
        RawNode::Bool(b) => Node::Bool(*b),
        RawNode::Int(i) => Node::Int(*i),
        RawNode::Float(f) => Node::Float(*f),
        RawNode::Str(s) => Node::Str(s.clone()),
        RawNode::Seq(items) => Node::Seq(items.iter().map(locate).collect()),
        RawNode::Map(entries) => Node::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        Located::new(k.value.clone(), Pos::from_location(k.referenced)),
                        locate(v),
                    )
                })
                .collect(),
        ),
    };
    Located::new(node, pos)
}

/// A YAML text that could not be read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{pos}: {message}", file.display())]
pub(crate) struct ManifestError {
    /// The file (or a description of the source).
    pub file: PathBuf,
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// The parser's message without the ` at line N, column M` it appends (the position is
/// reported separately), and the position.
pub(crate) fn split_parse_error(error: &serde_saphyr::Error) -> (String, Pos) {
    let error = error.without_snippet();
    let text = error.to_string();
    match error.location() {
        Some(location) => {
            let pos = Pos::from_location(location);
            let suffix = format!(" at line {}, column {}", pos.line, pos.column);
            let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            (message, pos)
        }
        None => (text, Pos::default()),
    }
}

/// Options for reading user YAML: no source snippets in messages (positions are reported as
/// `file:line:column` instead).
pub(crate) fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! { with_snippet: false }
}

/// Parses a multi-document YAML text into trees, skipping empty documents.
///
/// # Errors
/// The first syntax error, with its position in `file`.
pub(crate) fn parse_documents(
    text: &str,
    file: &Path,
) -> Result<Vec<Located<Node>>, ManifestError> {
    let raw: Vec<Spanned<RawNode>> =
        serde_saphyr::from_multiple_with_options(text, parse_options()).map_err(|e| {
            let (message, pos) = split_parse_error(&e);
            ManifestError {
                file: file.to_owned(),
                pos,
                message,
            }
        })?;
    Ok(raw
        .iter()
        .map(locate)
        .filter(|doc| doc.value != Node::Null)
        .collect())
}

/// Parses a multi-document YAML text into JSON values, one per manifest.
///
/// # Errors
/// A syntax error, or a document that is not a mapping, with its position in `file`.
#[cfg(test)]
pub(crate) fn parse_values(text: &str, file: &Path) -> Result<Vec<Value>, ManifestError> {
    parse_documents(text, file)?
        .into_iter()
        .map(|doc| match doc.value {
            Node::Map(_) => Ok(doc.value.to_json()),
            _ => Err(ManifestError {
                file: file.to_owned(),
                pos: doc.pos,
                message: "a manifest must be a mapping (apiVersion, kind, metadata, ...)"
                    .to_owned(),
            }),
        })
        .collect()
}

/// Why manifests could not be written as YAML.
#[derive(Debug, thiserror::Error)]
#[error("could not write manifest {index} as YAML")]
pub(crate) struct ToYamlError {
    /// 0-based index of the manifest.
    pub index: usize,
    /// The serializer's error.
    #[source]
    pub source: serde_saphyr::SerializeError,
}

/// Writes manifests as one multi-document YAML stream (`---` before each document).
///
/// # Errors
/// A value the YAML serializer refuses (not expected for JSON values).
pub(crate) fn to_yaml(values: &[Value]) -> Result<String, ToYamlError> {
    let mut out = String::new();
    for (index, value) in values.iter().enumerate() {
        let text =
            serde_saphyr::to_string(value).map_err(|source| ToYamlError { index, source })?;
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Manifests as a multi-document YAML stream (`---` before each document).
#[must_use]
pub fn yaml_documents(documents: &[Value]) -> String {
    documents
        .iter()
        .map(|d| format!("---\n{}", serde_saphyr::to_string(d).unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PV: &str = "\
apiVersion: v1
kind: PersistentVolume
metadata:
  name: \"{{ prefix }}-pv1\"
  labels: {type: k8s-claim}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
---
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc1}
";

    #[test]
    fn documents_keep_positions_and_skip_empty_ones() {
        let docs = parse_documents(PV, Path::new("pv.yaml")).expect("parses");
        assert_eq!(docs.len(), 2);
        let name = docs[0]
            .value
            .get("metadata")
            .and_then(|m| m.value.get("name"))
            .expect("name");
        assert_eq!(name.pos, Pos::new(4, 9));
        assert_eq!(name.value.as_str(), Some("{{ prefix }}-pv1"));
        let storage = docs[0].value.strings(docs[0].pos);
        assert!(storage.contains(&("1Gi", Pos::new(7, 23))), "{storage:?}");
        assert_eq!(docs[1].pos.line, 11);
    }

    #[test]
    fn values_are_json() {
        let values = parse_values(PV, Path::new("pv.yaml")).expect("parses");
        assert_eq!(
            values[0]["spec"],
            json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]})
        );
        assert_eq!(values[1]["metadata"]["name"], json!("pvc1"));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse_values("a: 1\nb: [1, 2\n", Path::new("bad.yaml")).expect_err("bad");
        assert_eq!(err.file, Path::new("bad.yaml"));
        assert!(err.pos.line >= 2, "{err}");
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
        assert!(!err.message.contains(" at line "), "{err}");
        let scalar = parse_values("just text\n", Path::new("s.yaml")).expect_err("not a map");
        assert_eq!(
            scalar.to_string(),
            format!("s.yaml:1:1: {}", scalar.message)
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_values("a: 1\na: 2\n", Path::new("d.yaml")).expect_err("duplicate");
        assert_eq!(err.pos, Pos::new(2, 1));
        assert!(err.message.contains("duplicate"), "{err}");
    }

    #[test]
    fn map_strings_rewrites_values_and_keys() {
        let docs = parse_documents(PV, Path::new("pv.yaml")).expect("parses");
        let mut seen = Vec::new();
        let renamed = docs[0]
            .value
            .try_map_strings(docs[0].pos, &mut |s, pos| {
                seen.push(pos);
                Ok::<_, ()>(s.replace("{{ prefix }}", "nfslab-a1b2c3-s1"))
            })
            .expect("no error");
        assert_eq!(
            renamed.to_json()["metadata"]["name"],
            json!("nfslab-a1b2c3-s1-pv1")
        );
        assert!(seen.contains(&Pos::new(4, 9)));
        let stopped = docs[0]
            .value
            .try_map_strings(docs[0].pos, &mut |s, pos| {
                if s.contains("{{") {
                    Err(pos)
                } else {
                    Ok(s.to_owned())
                }
            })
            .expect_err("stops at the template");
        assert_eq!(stopped, Pos::new(4, 9));
    }

    #[test]
    fn yaml_round_trip() {
        let values = parse_values(PV, Path::new("pv.yaml")).expect("parses");
        let text = to_yaml(&values).expect("writes");
        assert_eq!(text.matches("---\n").count(), 2);
        let again = parse_values(&text, Path::new("again.yaml")).expect("reads back");
        assert_eq!(again, values);
    }
}
