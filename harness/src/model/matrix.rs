//! Matrix expansion: a plan's selection as cells with stable ids, and the order they run in.
//!
//! A cell is one (server, workload, profile, clients) combination. Its id,
//! `server/workload/profile/kN`, depends only on those four names, never on what else the
//! plan selects, so `nfslab compare` can match cells across runs of different plans.
//!
//! Runs from the host (`nfslab bench --host`, [`crate::bench::host`]) measure each combination
//! along two access paths ([`AccessPath`]): through a kernel mount, under the id above, and
//! through the user-space NFSv3 client, under `server/workload/profile/kN/protocol`.
//!
//! Repetitions are interleaved: every cell's first repetition runs before any second one,
//! so a slow drift of the server or the cluster (caches warming, a noisy neighbour) spreads
//! over all profiles instead of favouring the ones that ran first.

use serde::{Deserialize, Serialize};

use crate::model::plan::Plan;

/// How a cell's clients reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPath {
    /// Through a kernel NFS mount carrying the profile's options (client pods, or a mount
    /// on the host).
    Mount,
    /// Through the user-space NFSv3 client of `nfslab-io` (no mount), with the profile's
    /// options mapped to its parameters.
    Protocol,
}

impl AccessPath {
    /// The name used in ids and reports (`mount`, `protocol`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Mount => "mount",
            Self::Protocol => "protocol",
        }
    }
}

/// One combination of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the matrix (0-based), used in object names.
    pub index: usize,
    /// Stable id: `server/workload/profile/kN`.
    pub id: String,
    /// Server name.
    pub server: String,
    /// Workload name.
    pub workload: String,
    /// Profile name.
    pub profile: String,
    /// Client pods.
    pub clients: u32,
    /// How the clients reach the server; absent for cluster runs (client pods mount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessPath>,
}

/// The stable id of a combination.
#[must_use]
pub(crate) fn cell_id(server: &str, workload: &str, profile: &str, clients: u32) -> String {
    format!("{server}/{workload}/{profile}/k{clients}")
}

/// The stable id of a combination measured along `access`: the mount path keeps the plain
/// id (what client pods measure), the protocol path appends `/protocol`.
#[must_use]
pub(crate) fn access_cell_id(
    server: &str,
    workload: &str,
    profile: &str,
    clients: u32,
    access: AccessPath,
) -> String {
    let id = cell_id(server, workload, profile, clients);
    match access {
        AccessPath::Mount => id,
        AccessPath::Protocol => format!("{id}/protocol"),
    }
}

/// One step of a run: a repetition of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Repetition, 1-based.
    pub repetition: u32,
    /// Index into [`Matrix::cells`].
    pub cell: usize,
}

/// The cells of a plan and their repetitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    /// Cells in matrix order: by server, workload, profile, then clients.
    pub cells: Vec<Cell>,
    /// Repetitions of each cell.
    pub repetitions: u32,
}

impl Matrix {
    /// Expands the plan's selection.
    #[must_use]
    pub fn expand(plan: &Plan) -> Self {
        let mut cells = Vec::new();
        for server in &plan.selected_servers {
            for workload in &plan.selected_workloads {
                for profile in &plan.selected_profiles {
                    for &clients in &plan.clients {
                        cells.push(Cell {
                            index: cells.len(),
                            id: cell_id(server, workload, profile, clients),
                            server: server.clone(),
                            workload: workload.clone(),
                            profile: profile.clone(),
                            clients,
                            access: None,
                        });
                    }
                }
            }
        }
        Self {
            cells,
            repetitions: plan.repetitions,
        }
    }

    /// The steps in run order: repetition 1 of every cell, then repetition 2...
    #[must_use]
    pub fn schedule(&self) -> Vec<Step> {
        (1..=self.repetitions)
            .flat_map(|repetition| (0..self.cells.len()).map(move |cell| Step { repetition, cell }))
            .collect()
    }

    /// The plan's cells measured along each of `paths`, in matrix order, the paths of one
    /// combination next to each other (for runs from the host).
    #[must_use]
    pub fn expand_access(plan: &Plan, paths: &[AccessPath]) -> Self {
        let base = Self::expand(plan);
        let mut cells = Vec::new();
        for cell in &base.cells {
            for &access in paths {
                cells.push(Cell {
                    index: cells.len(),
                    id: access_cell_id(
                        &cell.server,
                        &cell.workload,
                        &cell.profile,
                        cell.clients,
                        access,
                    ),
                    access: Some(access),
                    ..cell.clone()
                });
            }
        }
        Self {
            cells,
            repetitions: base.repetitions,
        }
    }

    /// Client pods the whole run starts.
    #[must_use]
    pub fn pod_count(&self) -> u64 {
        self.cells.iter().map(|c| u64::from(c.clients)).sum::<u64>() * u64::from(self.repetitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::plan::{Overrides, builtin_plan};

    #[test]
    fn expansion_is_the_product_in_a_fixed_order() {
        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                profiles: Some(vec!["doc-v3".into(), "k8s-default".into()]),
                workloads: Some(vec![
                    "seq-read-1m".into(),
                    "fsync-4k".into(),
                    "rand-read-4k".into(),
                ]),
                clients: Some(vec![1, 4]),
                repetitions: Some(2),
                ..Overrides::default()
            })
            .unwrap();
        let m = Matrix::expand(&plan);
        assert_eq!(m.cells.len(), 2 * 3 * 2);
        let ids: Vec<&str> = m.cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids[..4],
            [
                "in-cluster/seq-read-1m/doc-v3/k1",
                "in-cluster/seq-read-1m/doc-v3/k4",
                "in-cluster/seq-read-1m/k8s-default/k1",
                "in-cluster/seq-read-1m/k8s-default/k4",
            ]
        );
        assert!(m.cells.iter().enumerate().all(|(i, c)| c.index == i));
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_eq!(m.pod_count(), (6 + 6 * 4) * 2);
    }

    #[test]
    fn ids_do_not_depend_on_the_rest_of_the_selection() {
        let base = builtin_plan().unwrap();
        let one = base
            .clone()
            .apply(&Overrides {
                profiles: Some(vec!["doc-v4.1".into()]),
                workloads: Some(vec!["seq-write-1m".into()]),
                ..Overrides::default()
            })
            .unwrap();
        let all = Matrix::expand(&base);
        let single = Matrix::expand(&one);
        assert_eq!(single.cells.len(), 1);
        assert!(all.cells.iter().any(|c| c.id == single.cells[0].id));
        assert_eq!(single.cells[0].id, "in-cluster/seq-write-1m/doc-v4.1/k1");
    }

    #[test]
    fn access_paths_pair_up_with_distinct_ids() {
        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                profiles: Some(vec!["doc-v3".into(), "k8s-default".into()]),
                workloads: Some(vec!["seq-read-1m".into()]),
                ..Overrides::default()
            })
            .unwrap();
        let both = Matrix::expand_access(&plan, &[AccessPath::Mount, AccessPath::Protocol]);
        let ids: Vec<&str> = both.cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "in-cluster/seq-read-1m/doc-v3/k1",
                "in-cluster/seq-read-1m/doc-v3/k1/protocol",
                "in-cluster/seq-read-1m/k8s-default/k1",
                "in-cluster/seq-read-1m/k8s-default/k1/protocol",
            ]
        );
        assert!(both.cells.iter().enumerate().all(|(i, c)| c.index == i));
        assert_eq!(both.cells[1].access, Some(AccessPath::Protocol));
        assert_eq!(both.cells[1].profile, "doc-v3");
        let protocol_only = Matrix::expand_access(&plan, &[AccessPath::Protocol]);
        assert_eq!(protocol_only.cells.len(), 2);
        assert_eq!(protocol_only.cells[1].id, ids[3]);
        // Cluster cells carry no access path and serialise as before.
        let plain = Matrix::expand(&plan);
        assert!(plain.cells.iter().all(|c| c.access.is_none()));
        let json = serde_json::to_string(&plain.cells[0]).unwrap();
        assert!(!json.contains("access"), "{json}");
    }

    #[test]
    fn schedule_interleaves_repetitions() {
        let plan = builtin_plan()
            .unwrap()
            .apply(&Overrides {
                profiles: Some(vec!["doc-v3".into(), "doc-v4.1".into()]),
                workloads: Some(vec!["seq-read-1m".into()]),
                repetitions: Some(3),
                ..Overrides::default()
            })
            .unwrap();
        let steps = Matrix::expand(&plan).schedule();
        let pairs: Vec<(u32, usize)> = steps.iter().map(|s| (s.repetition, s.cell)).collect();
        assert_eq!(pairs, [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]);
    }
}
