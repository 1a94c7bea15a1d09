//! The scenario catalog: the `scenarios/` directory, one YAML file per scenario.
//!
//! [`Catalog::load`] reads and validates every `*.yaml` directly in the directory (not the
//! `manifests/` it holds) and orders them as SCENARIOS.md does: S, R, T, D, X, F families
//! by number, then scenarios without a catalog code by id. [`Catalog::select`] resolves
//! command-line arguments, each a scenario id or a path to a scenario file.

use std::path::{Path, PathBuf};

use super::load;
use super::plan::Scenario;
use super::validate::ValidationErrors;

/// Variable naming the catalog directory.
pub const DIR_VARIABLE: &str = "NFSLAB_SCENARIOS";

/// One catalog file.
#[derive(Debug)]
pub struct Entry {
    /// Its id (the file name without `.yaml`).
    pub id: String,
    /// The file.
    pub file: PathBuf,
    /// The validated scenario, or what is wrong with it.
    pub scenario: Result<Scenario, ValidationErrors>,
}

/// A selected scenario file and its validation outcome.
pub type Selected = (PathBuf, Result<Scenario, ValidationErrors>);

/// The catalog.
#[derive(Debug)]
pub struct Catalog {
    /// Its directory.
    pub dir: PathBuf,
    /// Its files, in catalog order.
    pub entries: Vec<Entry>,
}

/// The catalog or a selection from it could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The directory cannot be listed.
    #[error("cannot read the scenario directory `{}` (hint: pass `--scenarios DIR` or set {DIR_VARIABLE})", dir.display())]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No scenario with that id.
    #[error("no scenario `{id}` in `{}` (hint: `nfslab scenarios list` shows the catalog; a file path works too)", dir.display())]
    Unknown {
        /// What was asked.
        id: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
}

/// The catalog directory: `$NFSLAB_SCENARIOS`, else `./scenarios` when it exists, else the
/// source tree's `scenarios/`.
#[must_use]
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Sort key: family order of SCENARIOS.md, number, then id.
fn order(code: Option<&str>, id: &str) -> (usize, u32, String) {
    const FAMILIES: &str = "SRTDXF";
    let (family, number) = code
        .and_then(|c| {
            let mut chars = c.chars();
            let f = chars.next()?;
            let n: u32 = chars.as_str().parse().ok()?;
            Some((FAMILIES.find(f).unwrap_or(FAMILIES.len()), n))
        })
        .unwrap_or((FAMILIES.len() + 1, 0));
    (family, number, id.to_owned())
}

impl Catalog {
    /// Reads and validates every scenario file in `dir`.
    ///
    /// # Errors
    /// The directory cannot be listed.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let listing = std::fs::read_dir(dir).map_err(|source| CatalogError::Dir {
            dir: dir.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        let mut entries: Vec<Entry> = files
            .into_iter()
            .map(|file| Entry {
                id: file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                scenario: load::load_file(&file),
                file,
            })
            .collect();
        entries.sort_by_key(|e| {
            let code = e.scenario.as_ref().ok().and_then(|s| s.code.clone());
            order(code.as_deref(), &e.id)
        });
        Ok(Self {
            dir: dir.to_owned(),
            entries,
        })
    }

    /// The entry with id `id`, or with the code `id` (`S1`, `s1`), as `scenarios list`
    /// prints them.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id).or_else(|| {
            self.entries.iter().find(|e| {
                e.scenario
                    .as_ref()
                    .ok()
                    .and_then(|s| s.code.as_deref())
                    .is_some_and(|code| code.eq_ignore_ascii_case(id))
            })
        })
    }

    /// Resolves arguments (ids or file paths) to validated scenarios, in the order given;
    /// no arguments select the whole catalog.
    ///
    /// # Errors
    /// An id that is not in the catalog.
    pub fn select(&self, args: &[String]) -> Result<Vec<Selected>, CatalogError> {
        if args.is_empty() {
            return Ok(self
                .entries
                .iter()
                .map(|e| (e.file.clone(), e.scenario.clone()))
                .collect());
        }
        args.iter()
            .map(|arg| {
                let path = Path::new(arg);
                if arg.ends_with(".yaml") || path.is_file() {
                    Ok((path.to_owned(), load::load_file(path)))
                } else {
                    self.get(arg)
                        .map(|e| (e.file.clone(), e.scenario.clone()))
                        .ok_or_else(|| CatalogError::Unknown {
                            id: arg.clone(),
                            dir: self.dir.clone(),
                        })
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario SCENARIOS.md names, in catalog order.
    const CATALOG: &[(&str, &str)] = &[
        ("S1", "static-binding-selector"),
        ("S2", "static-binding-mismatch"),
        ("S3", "static-binding-subset-and-best-fit"),
        ("S4", "nginx-serves-nfs-content"),
        ("S5", "pvc-protection"),
        ("R1", "recycle-wipes-volume"),
        ("R2", "retain-keeps-data"),
        ("R3", "recycle-failure-surfaces"),
        ("R4", "delete-on-static-pv"),
        ("T1", "statefulset-stable-storage"),
        ("T2", "statefulset-without-storageclass"),
        ("T3", "statefulset-dynamic"),
        ("T4", "statefulset-claim-retention"),
        ("D1", "dynamic-provisioning-archive"),
        ("D2", "dynamic-provisioning-delete"),
        ("D3", "dynamic-provisioning-pathpattern"),
        ("D4", "pathpattern-shared-directory-hazard"),
        ("D5", "provisioner-rejects-selector"),
        ("X1", "nfs-export-roundtrip"),
        ("X2", "rwx-shared-deployment"),
        ("X3", "emptydir-lifecycle"),
        ("X4", "hostpath-persistence"),
        ("X5", "mount-options-applied"),
        ("X6", "access-modes-not-locks"),
        ("X7", "read-only-claim"),
        ("X8", "subpath-on-nfs"),
        ("F1", "server-restart-hard-vs-soft"),
    ];

    fn source_catalog() -> Catalog {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        Catalog::load(&dir).expect("the source tree has a scenarios directory")
    }

    #[test]
    fn every_catalog_file_parses_and_validates() {
        let catalog = source_catalog();
        let mut problems = Vec::new();
        for entry in &catalog.entries {
            if let Err(e) = &entry.scenario {
                problems.push(e.to_string());
            }
        }
        assert!(
            problems.is_empty(),
            "invalid scenario files:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn the_catalog_is_complete_and_in_order() {
        let catalog = source_catalog();
        let found: Vec<(String, String)> = catalog
            .entries
            .iter()
            .map(|e| {
                let code = e.scenario.as_ref().ok().and_then(|s| s.code.clone());
                (code.unwrap_or_default(), e.id.clone())
            })
            .collect();
        let expected: Vec<(String, String)> = CATALOG
            .iter()
            .map(|(c, i)| ((*c).to_owned(), (*i).to_owned()))
            .collect();
        assert_eq!(found, expected);
        for entry in &catalog.entries {
            let scenario = entry.scenario.as_ref().expect("valid");
            assert!(
                !scenario.description.is_empty(),
                "{} has no description",
                entry.id
            );
            assert!(!scenario.sources.is_empty(), "{} names no source", entry.id);
        }
    }

    #[test]
    fn the_readme_example_is_a_valid_scenario() {
        let readme = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/README.md"),
        )
        .expect("README");
        let start = readme.find("```yaml\n").expect("an example") + "```yaml\n".len();
        let end = start + readme[start..].find("```").expect("closed");
        let scenario = load::parse(&readme[start..end], Path::new("readme/pvc-protection.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.steps.len(), 9);
        assert_eq!(scenario.timeout, Some(std::time::Duration::from_secs(900)));
        assert!(!scenario.exclusive);
    }

    #[test]
    fn catalog_order_follows_the_families() {
        let mut keys = [
            order(Some("F1"), "f"),
            order(Some("D5"), "d5"),
            order(None, "mine"),
            order(Some("S10"), "s10"),
            order(Some("S2"), "s2"),
            order(Some("R1"), "r1"),
        ];
        keys.sort();
        let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        assert_eq!(ids, vec!["s2", "s10", "r1", "d5", "f", "mine"]);
    }

    #[test]
    fn unknown_directories_and_ids_say_what_to_do() {
        let err = Catalog::load(Path::new("/nonexistent/scenarios")).expect_err("no dir");
        assert!(err.to_string().contains("--scenarios DIR"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::load(dir.path()).expect("empty catalog");
        assert!(catalog.entries.is_empty());
        let err = catalog.select(&["nope".to_owned()]).expect_err("unknown");
        assert!(err.to_string().contains("nfslab scenarios list"), "{err}");
    }
}
