//! Offline checks of a manifest against its `k8s-openapi` type: unknown fields (with the
//! closest known name), values of the wrong type at the field itself, and every place as a
//! field path that [`locate`] turns into the manifest's line and column.
//!
//! The `k8s-openapi` types accept and drop unknown fields, as the API server does without
//! strict field validation. To see them, the manifest is decoded through `Probe`, a
//! deserializer over the JSON value that records two things while the real type decodes:
//! the field names each struct asks for (`deserialize_struct`'s list) and every key the type
//! skips (`deserialize_ignored_any`). A skipped key is an unknown field; the struct's list at
//! the same path gives the "did you mean". Written by hand because no crate exposes the
//! field lists of a `Deserialize` impl; it only forwards to the visitor.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;

use super::manifest::{Located, Node, Pos};

/// One step of a path into a manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path into a manifest, shown as `spec.accessModes[0]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FieldPath(pub Vec<Segment>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Segment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

impl FieldPath {
    fn child(&self, segment: Segment) -> Self {
        let mut path = self.0.clone();
        path.push(segment);
        Self(path)
    }
}

/// A problem found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SchemaProblem {
    /// Where, inside the manifest.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

#[derive(Default)]
struct Record {
    /// The field names each struct asked for, by path.
    fields: BTreeMap<FieldPath, &'static [&'static str]>,
    /// Keys the type skipped.
    ignored: Vec<FieldPath>,
}

/// Decodes `value` as `K` and returns every problem: the type error (at its field), or
/// every unknown field.
#[must_use]
pub(crate) fn check<K: DeserializeOwned>(value: &Value) -> Vec<SchemaProblem> {
    let record = RefCell::new(Record::default());
    let probe = Probe {
        value,
        path: FieldPath::default(),
        record: &record,
    };
    if let Err(e) = K::deserialize(probe) {
        return vec![SchemaProblem {
            path: e.path.unwrap_or_default(),
            message: e.message,
            hint: "compare the field's type with the Kubernetes API reference".to_owned(),
        }];
    }
    let record = record.into_inner();
    record
        .ignored
        .iter()
        // `status` is written by the cluster, never by a manifest; k8s-openapi reads it.
        .map(|path| {
            let (parent, name) = match path.0.split_last() {
                Some((Segment::Key(k), rest)) => (FieldPath(rest.to_vec()), k.clone()),
                _ => (FieldPath::default(), path.to_string()),
            };
            let known = record.fields.get(&parent).copied().unwrap_or_default();
            let hint = match nfslab_workload::did_you_mean(&name, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if known.is_empty() => "remove it".to_owned(),
                None => format!("remove it; known here: {}", known.join(", ")),
            };
            SchemaProblem {
                path: path.clone(),
                message: format!("unknown field `{name}`"),
                hint,
            }
        })
        .collect()
}

/// The position of `path` inside a manifest tree: the deepest node the path reaches.
#[must_use]
pub(crate) fn locate(root: &Located<Node>, path: &FieldPath) -> Pos {
    let mut node = root;
    let mut pos = root.pos;
    for segment in &path.0 {
        let next = match (&node.value, segment) {
            (Node::Map(entries), Segment::Key(k)) => entries
                .iter()
                .find(|(key, _)| &key.value == k)
                .map(|(key, value)| (key.pos, value)),
            (Node::Seq(items), Segment::Index(i)) => items.get(*i).map(|v| (v.pos, v)),
            _ => None,
        };
        match next {
            Some((p, child)) => {
                pos = p;
                node = child;
            }
            None => break,
        }
    }
    pos
}

/// A decoding failure with the path where it happened.
#[derive(Debug)]
struct ProbeError {
    message: String,
    path: Option<FieldPath>,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            path: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!(
            "found {} where {} belongs",
            unexpected_words(&unexp),
            expected_words(&exp.to_string())
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!(
            "{} is not {}",
            unexpected_words(&unexp),
            expected_words(&exp.to_string())
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::custom(format!("the required field `{field}` is missing"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = nfslab_workload::did_you_mean(variant, expected.iter().copied())
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        Self::custom(format!(
            "unknown value `{variant}` (one of {}){hint}",
            expected.join(", ")
        ))
    }
}

/// What serde found, said as a YAML writer sees it.
fn unexpected_words(unexp: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match unexp {
        U::Str(s) => format!("the text `{s}`"),
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("the number `{n}`"),
        U::Signed(n) => format!("the number `{n}`"),
        U::Float(n) => format!("the number `{n}`"),
        U::Seq => "a list".to_owned(),
        U::Map => "a mapping".to_owned(),
        U::Unit | U::Option => "an empty value".to_owned(),
        other => other.to_string(),
    }
}

/// What a k8s-openapi type expects, said as a YAML writer knows it.
fn expected_words(expected: &str) -> String {
    match expected {
        "a sequence" | "a list" => "a list".to_owned(),
        "a map" | "a mapping" => "a mapping".to_owned(),
        "a string" => "text".to_owned(),
        "i32" | "i64" | "u32" | "u64" => "a whole number".to_owned(),
        other if other.starts_with("struct ") => "a mapping".to_owned(),
        other => other.to_owned(),
    }
}

struct Probe<'a> {
    value: &'a Value,
    path: FieldPath,
    record: &'a RefCell<Record>,
}

impl<'a> Probe<'a> {
    fn at(&self, value: &'a Value, segment: Segment) -> Self {
        Probe {
            value,
            path: self.path.child(segment),
            record: self.record,
        }
    }

    /// Attaches this probe's path to an error raised here (not to one from deeper down).
    fn here<T>(&self, result: Result<T, ProbeError>) -> Result<T, ProbeError> {
        result.map_err(|mut e| {
            if e.path.is_none() {
                e.path = Some(self.path.clone());
            }
            e
        })
    }

    fn found(&self) -> String {
        match self.value {
            Value::Null => "an empty value".to_owned(),
            Value::Bool(b) => format!("`{b}`"),
            Value::Number(n) => format!("the number `{n}`"),
            Value::String(s) => format!("the text `{s}`"),
            Value::Array(_) => "a list".to_owned(),
            Value::Object(_) => "a mapping".to_owned(),
        }
    }
}

struct Seq<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    parent: &'a Probe<'a>,
}

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = ProbeError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        match self.items.next() {
            Some((i, v)) => seed
                .deserialize(self.parent.at(v, Segment::Index(i)))
                .map(Some),
            None => Ok(None),
        }
    }
}

struct Map<'a> {
    entries: serde_json::map::Iter<'a>,
    pending: Option<(&'a String, &'a Value)>,
    parent: &'a Probe<'a>,
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = ProbeError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.pending = Some((k, v));
                seed.deserialize(k.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let (k, v) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value without its key"))?;
        seed.deserialize(self.parent.at(v, Segment::Key(k.clone())))
    }
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, Some(f)) => visitor.visit_f64(f),
                _ => Err(de::Error::custom("an unreadable number")),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter().enumerate(),
                parent: &self,
            }),
            Value::Object(map) => visitor.visit_map(Map {
                entries: map.iter(),
                pending: None,
                parent: &self,
            }),
        };
        self.here(result.map_err(|e: ProbeError| {
            if e.path.is_none()
                && !e.message.starts_with("found ")
                && !e.message.contains(" is not ")
            {
                ProbeError {
                    message: format!("{} (found {})", e.message, self.found()),
                    path: None,
                }
            } else {
                e
            }
        }))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        if self.value.is_null() {
            self.here(visitor.visit_none())
        } else {
            let path = self.path.clone();
            visitor.visit_some(self).map_err(|mut e| {
                e.path.get_or_insert(path);
                e
            })
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.record
            .borrow_mut()
            .fields
            .insert(self.path.clone(), fields);
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.record.borrow_mut().ignored.push(self.path.clone());
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        let path = self.path.clone();
        visitor.visit_newtype_struct(self).map_err(|mut e| {
            e.path.get_or_insert(path);
            e
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        match self.value {
            Value::String(s) => self.here(visitor.visit_enum(s.as_str().into_deserializer())),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
    use serde_json::json;

    #[test]
    fn a_valid_claim_has_no_problems() {
        let pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        });
        assert_eq!(check::<PersistentVolumeClaim>(&pvc), vec![]);
    }

    #[test]
    fn unknown_fields_are_found_with_a_close_name() {
        let pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "a"},
            "spec": {"accesModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        });
        let problems = check::<PersistentVolumeClaim>(&pvc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path.to_string(), "spec.accesModes");
        assert_eq!(problems[0].message, "unknown field `accesModes`");
        assert_eq!(problems[0].hint, "did you mean `accessModes`?");
    }

    #[test]
    fn wrong_types_are_reported_at_the_field() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": "eighty"}]}]}
        });
        let problems = check::<Pod>(&pod);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].path.to_string(),
            "spec.containers[0].ports[0].containerPort"
        );
        assert_eq!(
            problems[0].message,
            "found the text `eighty` where a whole number belongs"
        );
    }

    #[test]
    fn paths_locate_in_the_source() {
        let docs = super::super::manifest::parse_documents(
            "kind: PersistentVolumeClaim\nspec:\n  accesModes: [ReadWriteOnce]\n",
            std::path::Path::new("m.yaml"),
        )
        .expect("parses");
        let path = FieldPath(vec![
            Segment::Key("spec".into()),
            Segment::Key("accesModes".into()),
        ]);
        assert_eq!(locate(&docs[0], &path), Pos::new(3, 3));
    }
}
