//! Matrix expansion: a plan's selection as cells with stable ids, and the order they run in.
//!
//! A cell is one (server, workload, profile, clients) combination. Its id,
//! `server/workload/profile/kN`, depends only on those four names, never on what else the
//! plan selects, so `nfslab compare` can match cells across runs of different plans.
//!
//! Repetitions are interleaved: every cell's first repetition runs before any second one,
//! so a slow drift of the server or the cluster (caches warming, a noisy neighbour) spreads
//! over all profiles instead of favouring the ones that ran first.

use serde::{Deserialize, Serialize};

use super::plan::Plan;

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
}

/// The stable id of a combination.
#[must_use]
pub fn cell_id(server: &str, workload: &str, profile: &str, clients: u32) -> String {
    format!("{server}/{workload}/{profile}/k{clients}")
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

    /// Client pods the whole run starts.
    #[must_use]
    pub fn pod_count(&self) -> u64 {
        self.cells.iter().map(|c| u64::from(c.clients)).sum::<u64>() * u64::from(self.repetitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::{Overrides, builtin_plan};

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
