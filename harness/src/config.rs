//! Tunables: timeouts and observation windows, with commented defaults.
//!
//! Every duration the harness waits for lives here, not in scattered constants. The defaults
//! are in `harness/default-config.yaml` (embedded in the binary and shown by
//! `nfslab config show`); a user file overrides any subset of them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The text of the default configuration, with comments explaining each value.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../default-config.yaml");

/// All tunables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// How long to wait for things to happen in the cluster.
    pub timeouts: Timeouts,
    /// How scenarios run.
    #[serde(default)]
    pub scenarios: ScenarioSettings,
}

/// How scenarios run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScenarioSettings {
    /// How many scenarios run at once (each in its own namespace).
    pub parallel: usize,
    /// Log lines kept per container in a failure's diagnosis.
    pub log_tail_lines: i64,
    /// Longest pause between two looks at what cannot be watched (events, pod lists).
    #[serde(with = "humantime_serde")]
    pub poll_max_interval: Duration,
}

impl Default for ScenarioSettings {
    fn default() -> Self {
        Self {
            parallel: 6,
            log_tail_lines: 20,
            poll_max_interval: Duration::from_secs(2),
        }
    }
}

/// How long the harness waits for each kind of event before it reports a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Timeouts {
    /// A single API request (apply, delete, get, exec start).
    #[serde(with = "humantime_serde")]
    pub request: Duration,
    /// A PVC binding or a PV changing phase.
    #[serde(with = "humantime_serde")]
    pub bind: Duration,
    /// A pod (or every pod of a workload) becoming Ready, images already loaded.
    #[serde(with = "humantime_serde")]
    pub pod_ready: Duration,
    /// A deleted object disappearing (finalizers included).
    #[serde(with = "humantime_serde")]
    pub delete: Duration,
    /// A Recycle-policy PV returning to Available (the recycler pod has a 60 s deadline of
    /// its own, plus scheduling and image pull).
    #[serde(with = "humantime_serde")]
    pub recycle: Duration,
    /// A dynamic provisioner creating or deleting a volume.
    #[serde(with = "humantime_serde")]
    pub provision: Duration,
    /// A command run in a container.
    #[serde(with = "humantime_serde")]
    pub exec: Duration,
    /// Default window for "stays true" checks (a PVC stays Pending, stays Terminating).
    #[serde(with = "humantime_serde")]
    pub observe: Duration,
    /// Removing everything a scenario or run created.
    #[serde(with = "humantime_serde")]
    pub cleanup: Duration,
    /// The in-cluster NFS server becoming usable by a client.
    #[serde(with = "humantime_serde")]
    pub server_ready: Duration,
    /// Creating a kind cluster.
    #[serde(with = "humantime_serde")]
    pub cluster_create: Duration,
}

impl Default for Config {
    fn default() -> Self {
        // The embedded default file is parsed in a unit test, so this cannot fail in a
        // released binary; fall back to the same values written out in code regardless.
        serde_saphyr::from_str(DEFAULT_CONFIG_YAML).unwrap_or(Self {
            timeouts: Timeouts {
                request: Duration::from_secs(30),
                bind: Duration::from_secs(60),
                pod_ready: Duration::from_secs(180),
                delete: Duration::from_secs(120),
                recycle: Duration::from_secs(180),
                provision: Duration::from_secs(120),
                exec: Duration::from_secs(60),
                observe: Duration::from_secs(15),
                cleanup: Duration::from_secs(300),
                server_ready: Duration::from_secs(180),
                cluster_create: Duration::from_secs(600),
            },
            scenarios: ScenarioSettings::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_config_parses_and_matches_the_fallback() {
        let parsed: Config = serde_saphyr::from_str(DEFAULT_CONFIG_YAML).expect("default parses");
        assert_eq!(parsed, Config::default());
        assert_eq!(parsed.timeouts.observe, Duration::from_secs(15));
        assert_eq!(parsed.scenarios, ScenarioSettings::default());
    }
}
