//! What `nfslab render` prints: the manifests nfslab would apply and the kind configuration
//! it would use, as YAML, without a cluster, for review and for schema validation.

use serde_json::Value;

use crate::cluster::kind::KindSpec;
use crate::config::Config;
use crate::k8s::ownership::RunId;
use crate::nfs::ServerFlavor;
use crate::nfs::provisioner;
use crate::nfs::server::{self, ServerSpec};

pub use crate::k8s::manifest::yaml_documents;
pub use crate::nfs::server::manifests_without_cluster as nfs_server;

/// The kind configuration `nfslab cluster up` would use.
#[must_use]
pub fn cluster_config(config: &Config) -> String {
    KindSpec {
        name: config.cluster.name.clone(),
        workers: config.cluster.workers,
        node_image: config.cluster.node_image.clone(),
        api_server_port: config.cluster.api_server_port,
    }
    .config_yaml()
}

/// What the preflight of an existing cluster creates or dry-runs for a server of `flavor`
/// on Kubernetes `version` (`1.33`): the probe namespace, then its pods
/// ([`crate::cluster::existing::Plan::pods`]), with a fixed run id.
#[must_use]
pub fn preflight(config: &Config, flavor: Option<ServerFlavor>, version: &str) -> Vec<Value> {
    let target = crate::cluster::existing::Target {
        kubeconfig: None,
        context: None,
        server: String::new(),
    };
    let flavor = flavor.unwrap_or(config.nfs.flavor);
    let mut plan = crate::environment::existing_plan(config, &[flavor], &target, Some(version));
    if let Some(run) = crate::k8s::ownership::RunId::parse("20260101-000000-000000") {
        plan.run = run;
    }
    let mut docs = vec![plan.namespace_manifest()];
    docs.extend(plan.pods());
    docs
}

/// The objects `nfslab nfs up` uses to prove clients can mount the export with NFSv4.2,
/// NFSv3 and the kernel's own negotiation, for a server at `address`.
#[must_use]
pub fn nfs_client_check(config: &Config, address: &str) -> Vec<Value> {
    let spec = ServerSpec::from_config(config, None, &server::default_kind_node(config));
    server::client_check_objects(&spec, address)
}

/// The provisioner objects a scenario would apply, for an example run, namespace and server.
#[must_use]
pub fn provisioner(
    config: &Config,
    run: &RunId,
    namespace: &str,
    server: &str,
    path: &str,
) -> Vec<Value> {
    provisioner::manifests(&provisioner::Params {
        run_prefix: run.prefix(),
        namespace: namespace.to_owned(),
        server: server.to_owned(),
        path: path.to_owned(),
        provisioner_name: provisioner::DEFAULT_PROVISIONER_NAME.to_owned(),
        image: config.images.provisioner.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_back_to_the_same_values() {
        let docs = nfs_server(&Config::default(), Some(ServerFlavor::Ganesha));
        let text = yaml_documents(&docs);
        let parsed: Vec<Value> = text
            .split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_saphyr::from_str(d).expect("yaml"))
            .collect();
        assert_eq!(parsed, docs);
    }

    #[test]
    fn the_cluster_config_follows_the_configuration() {
        let mut config = Config::default();
        config.cluster.workers = 3;
        let text = cluster_config(&config);
        let parsed: Value = serde_saphyr::from_str(&text).expect("yaml");
        assert_eq!(parsed["nodes"].as_array().map(Vec::len), Some(4));
        assert_eq!(
            parsed["nodes"][3]["image"],
            config.cluster.node_image.as_str()
        );
    }
}
