//! Ownership labels and run identity.
//!
//! Every object nfslab creates carries `app.kubernetes.io/managed-by: nfslab` and the run's
//! id, so a run cleans up exactly what it made and `nfslab clean` finds leftovers of
//! interrupted runs. Cluster-scoped objects (PV, StorageClass, ClusterRole...) also get a
//! run prefix in their names so runs and scenarios can share a cluster.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Label naming the tool that manages the object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`] on everything nfslab creates.
pub const MANAGED_BY: &str = "nfslab";
/// Label carrying the run id.
pub const RUN_ID_LABEL: &str = "nfslab.io/run-id";
/// Label carrying the scenario id (or benchmark cell) an object belongs to.
pub const SCENARIO_LABEL: &str = "nfslab.io/scenario";

/// Identifies one nfslab run: `20261123-144302-a1b2c3` (UTC time and 6 random hex digits).
/// Valid as a label value and, lowercased, inside DNS names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A new id from the current time and a random suffix.
    #[must_use]
    pub fn generate() -> Self {
        let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        // 2026-11-23T14:43:02Z -> 20261123-144302
        let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
        let (date, time) = digits.split_at(digits.len().min(8));
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let random = hasher.finish() & 0xff_ffff;
        Self(format!("{date}-{time}-{random:06x}"))
    }

    /// An id given by the user or read back from labels; `None` unless it is a valid label
    /// value made of lowercase letters, digits and `-` (1 to 40 characters).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 40
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !text.starts_with('-')
            && !text.ends_with('-');
        ok.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The random part (6 hex digits), used in object names.
    #[must_use]
    pub fn short(&self) -> &str {
        self.0.rsplit('-').next().unwrap_or(&self.0)
    }

    /// Prefix for cluster-scoped object names of this run: `nfslab-a1b2c3`.
    #[must_use]
    pub fn prefix(&self) -> String {
        format!("nfslab-{}", self.short())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The labels every object of a run carries, optionally with the scenario id.
#[must_use]
pub fn labels(run: &RunId, scenario: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(MANAGED_BY_LABEL.to_owned(), Value::from(MANAGED_BY));
    m.insert(RUN_ID_LABEL.to_owned(), Value::from(run.as_str()));
    if let Some(s) = scenario {
        m.insert(SCENARIO_LABEL.to_owned(), Value::from(s));
    }
    m
}

/// Adds the run's labels to a manifest's `metadata.labels` (keeping its own labels).
pub fn stamp(manifest: &mut Value, run: &RunId, scenario: Option<&str>) {
    let Some(obj) = manifest.as_object_mut() else {
        return;
    };
    let metadata = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let labels_value = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(existing) = labels_value.as_object_mut() {
        for (k, v) in labels(run, scenario) {
            existing.insert(k, v);
        }
    }
}

/// The label selector matching everything of one run (or of every run when `None`).
#[must_use]
pub fn selector(run: Option<&RunId>) -> String {
    match run {
        Some(r) => format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_ID_LABEL}={r}"),
        None => format!("{MANAGED_BY_LABEL}={MANAGED_BY}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_ids_are_label_safe_and_distinct() {
        let a = RunId::generate();
        let b = RunId::generate();
        assert_ne!(a, b);
        assert_eq!(RunId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 22, "{a}");
        assert_eq!(a.short().len(), 6);
        assert!(a.prefix().starts_with("nfslab-"));
    }

    #[test]
    fn parse_rejects_what_labels_and_names_cannot_hold() {
        for bad in ["", "UPPER", "a_b", "-a", "a-", &"x".repeat(41)] {
            assert_eq!(RunId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamp_keeps_own_labels() {
        let run = RunId::parse("20261123-144302-a1b2c3").expect("valid");
        let mut m = json!({"apiVersion": "v1", "kind": "PersistentVolume",
                           "metadata": {"name": "pv1", "labels": {"type": "k8s-claim"}}});
        stamp(&mut m, &run, Some("static-binding-selector"));
        assert_eq!(
            m["metadata"]["labels"],
            json!({"type": "k8s-claim", "app.kubernetes.io/managed-by": "nfslab",
                   "nfslab.io/run-id": "20261123-144302-a1b2c3",
                   "nfslab.io/scenario": "static-binding-selector"})
        );
        let mut bare = json!({"kind": "Namespace"});
        stamp(&mut bare, &run, None);
        assert_eq!(
            bare["metadata"]["labels"]["nfslab.io/run-id"],
            json!("20261123-144302-a1b2c3")
        );
        assert_eq!(
            selector(Some(&run)),
            "app.kubernetes.io/managed-by=nfslab,nfslab.io/run-id=20261123-144302-a1b2c3"
        );
    }
}
